/* sha256_fingerprint.h -- the fingerprint of an API key (its principal id,
 * "key:<fingerprint>"): the first 16 hex digits of its SHA-256, by OpenSSL.
 * Stable across restarts and configuration order; the key cannot be
 * recovered from it. */
#ifndef GATEWAY_SHA256_FINGERPRINT_H
#define GATEWAY_SHA256_FINGERPRINT_H

#include "../domain/api_keys.h"

/* An api_key_fingerprint_fn. */
bool sha256_fingerprint(const char *key, char out[API_KEY_FINGERPRINT_LEN + 1]);

#endif
