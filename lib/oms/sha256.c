/* sha256.c -- see sha256.h. */
#include "sha256.h"

#include <openssl/evp.h>

bool oms_sha256_hex(const void *data, size_t len, char out[OMS_SHA256_HEX_LEN + 1])
{
    static const char hex[] = "0123456789abcdef";
    unsigned char digest[EVP_MAX_MD_SIZE];
    unsigned int digest_len = 0;
    out[0] = '\0';
    if (EVP_Digest(data, len, digest, &digest_len, EVP_sha256(), NULL) != 1 || digest_len != OMS_SHA256_HEX_LEN / 2)
        return false;
    for (unsigned i = 0; i < digest_len; i++) {
        out[2 * i] = hex[digest[i] >> 4];
        out[2 * i + 1] = hex[digest[i] & 0xf];
    }
    out[OMS_SHA256_HEX_LEN] = '\0';
    return true;
}
