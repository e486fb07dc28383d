/* jwt_verifier.h -- the token_verifier port over libjwt (signatures) and
 * OpenSSL (reading the public key once at start, to know its algorithm).
 *
 * The algorithm of a token is the one its header names, and it selects the
 * key: HS256 the shared secret, RS256 an RSA public key, ES256 a P-256
 * public key. A token naming an algorithm without a configured key ("none"
 * included) is refused, so an RSA public key is never taken for an HMAC
 * secret. */
#ifndef GATEWAY_JWT_VERIFIER_H
#define GATEWAY_JWT_VERIFIER_H

#include <stddef.h>

#include "../application/ports/token_verifier.h"
#include "oms/err.h"

#define JWT_HS256_SECRET_MIN 32 /* bytes: RFC 7518 3.2, a key as long as the hash */
#define JWT_TOKEN_MAX 8192

typedef struct jwt_keys {
    const char *hs256_secret; /* NULL: HS256 refused */
    size_t hs256_secret_len;
    const char *public_key_pem; /* NULL: RS256 and ES256 refused */
    size_t public_key_pem_len;
} jwt_keys;

/* A verifier of the given keys (copied). OMS_EINVAL naming the setting when
 * the secret is shorter than JWT_HS256_SECRET_MIN or the PEM is not an RSA
 * (2048 bits or more) or P-256 public key; NULL then. */
token_verifier *jwt_verifier_create(const jwt_keys *keys, oms_error *err);
void jwt_verifier_destroy(token_verifier *v);

#endif
