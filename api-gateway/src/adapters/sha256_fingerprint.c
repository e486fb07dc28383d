/* sha256_fingerprint.c -- see sha256_fingerprint.h. */
#include "sha256_fingerprint.h"

#include <openssl/evp.h>
#include <stdio.h>
#include <string.h>

bool sha256_fingerprint(const char *key, char out[API_KEY_FINGERPRINT_LEN + 1])
{
    unsigned char digest[EVP_MAX_MD_SIZE];
    unsigned int len = 0;
    if (EVP_Digest(key, strlen(key), digest, &len, EVP_sha256(), NULL) != 1 || len < API_KEY_FINGERPRINT_LEN / 2)
        return false;
    for (int i = 0; i < API_KEY_FINGERPRINT_LEN / 2; i++)
        snprintf(out + 2 * i, 3, "%02x", digest[i]);
    out[API_KEY_FINGERPRINT_LEN] = '\0';
    return true;
}
