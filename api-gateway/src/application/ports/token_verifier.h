/* token_verifier.h -- the signature check of a JWT, behind a port so that
 * the admission logic is tested without keys and the crypto stays in an
 * adapter (adapters/jwt_verifier.c, over libjwt and OpenSSL). */
#ifndef GATEWAY_TOKEN_VERIFIER_H
#define GATEWAY_TOKEN_VERIFIER_H

#include "../../domain/token_claims.h"
#include "oms/err.h"

typedef struct token_verifier token_verifier;
typedef struct token_verifier_ops {
    /* Checks the signature of `token` with the key configured for the
     * algorithm its header names (HS256, RS256 or ES256; any other, "none"
     * included, is refused) and fills `claims` from its payload, which it
     * does not judge (token_claims_check does). OMS_EINVAL with a message
     * for the client when the token is not a JWT, names another algorithm
     * or is badly signed; OMS_ENOMEM. Thread-safe. */
    oms_err (*verify)(token_verifier *v, const char *token, token_claims *claims, oms_error *err);
} token_verifier_ops;
struct token_verifier {
    const token_verifier_ops *ops;
    void *self;
};

static inline oms_err token_verifier_verify(token_verifier *v, const char *token, token_claims *claims, oms_error *err)
{
    return v->ops->verify(v, token, claims, err);
}

#endif
