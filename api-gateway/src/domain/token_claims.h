/* token_claims.h -- the claims of a verified JWT and the checks that turn
 * them into a principal (SPEC 7). Pure C: the signature was checked by the
 * token verifier (application/ports/token_verifier.h) before this runs.
 *
 * `exp` is required; `nbf` is checked when present; `iss` and `aud` when the
 * gateway is configured with them (JWT_ISSUER, JWT_AUDIENCE); each time
 * check allows `leeway_s` of clock skew. `role` is required; `sub` is the
 * subject, required for a customer. */
#ifndef GATEWAY_TOKEN_CLAIMS_H
#define GATEWAY_TOKEN_CLAIMS_H

#include <stdbool.h>
#include <stdint.h>

#include "oms/err.h"
#include "principal.h"

#define TOKEN_CLAIM_MAX 256
#define TOKEN_AUDIENCES_MAX 8

typedef struct token_text_claim {
    bool present;
    bool too_long; /* longer than TOKEN_CLAIM_MAX: never equal to anything */
    char value[TOKEN_CLAIM_MAX + 1];
} token_text_claim;

typedef struct token_claims {
    bool malformed; /* a claim had the wrong JSON type */
    bool has_exp, has_nbf;
    int64_t exp, nbf; /* seconds since the epoch */
    token_text_claim iss, role, sub;
    token_text_claim aud[TOKEN_AUDIENCES_MAX]; /* "aud" as a string or an array */
    int aud_count;
    bool aud_overflow; /* more audiences than TOKEN_AUDIENCES_MAX */
} token_claims;

typedef struct token_policy {
    const char *issuer;   /* NULL: not checked */
    const char *audience; /* NULL: not checked */
    int64_t leeway_s;
} token_policy;

/* Copies `len` bytes of `text` into `claim` (marks it too long when it does
 * not fit). */
void token_text_claim_set(token_text_claim *claim, const char *text, size_t len);

/* Judges `claims` at `now_s`: on OMS_OK fills `out` (id "jwt:<sub>", or
 * "jwt-role:<role>" without a subject); else OMS_EINVAL with a message for
 * the client ("the token has expired", ...). */
oms_err token_claims_check(const token_claims *claims, const token_policy *policy, int64_t now_s, principal *out,
                           oms_error *err);

#endif
