/* sha256.h -- SHA-256 digests in hex, by OpenSSL (libcrypto). */
#ifndef OMS_SHA256_H
#define OMS_SHA256_H

#include <stdbool.h>
#include <stddef.h>

#define OMS_SHA256_HEX_LEN 64

/* The SHA-256 of `len` bytes at `data` as 64 lowercase hex digits into out.
 * false only when libcrypto fails (out is then empty). */
bool oms_sha256_hex(const void *data, size_t len, char out[OMS_SHA256_HEX_LEN + 1]);

#endif
