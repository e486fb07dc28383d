/* admission.h -- who sends a request, and whether it may send it now:
 * authentication (API keys, JWTs) and the per-client rate limit (SPEC 7).
 *
 * A request to a public path (gateway_path_is_public) needs no credential.
 * Any other needs a valid one: X-API-Key, or Authorization: Bearer with an
 * API key or a JWT; the principal it stands for comes back. With no
 * credential source at all (`open`, a local run only: gateway.c refuses it
 * elsewhere) every request is the local admin.
 *
 * The rate limit, when on, applies to every request, public paths and
 * refused credentials included, before any other answer: a client is its
 * principal when it proved one, else its IP address, so clients behind one
 * address with their own credentials do not share a bucket, and guessing
 * keys costs the guesser's address its bucket. Thread-safe. */
#ifndef GATEWAY_ADMISSION_H
#define GATEWAY_ADMISSION_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#include "../domain/api_keys.h"
#include "../domain/principal.h"
#include "../domain/rate_limiter.h"
#include "../domain/token_claims.h"
#include "oms/err.h"
#include "ports/clock.h"
#include "ports/token_verifier.h"

#define ADMISSION_MAX_CLIENTS 12288

typedef struct admission_config {
    const api_key_set *keys; /* not owned; count 0: no API key */
    token_verifier *tokens;  /* not owned; NULL: no JWT accepted */
    token_policy policy;     /* its strings not owned */
    bool open;               /* no credential source: everyone is the local admin */
    long rate_per_s;         /* 0: off */
} admission_config;

typedef struct admission {
    admission_config cfg;
    pthread_mutex_t lock; /* guards limiter */
    rate_limiter limiter;
    gateway_clock *clock; /* not owned */
} admission;

typedef struct admission_request {
    const char *path;
    const char *api_key;   /* the X-API-Key header, or NULL */
    const char *bearer;    /* the token of "Authorization: Bearer", or NULL */
    const char *client_ip; /* the peer address */
} admission_request;

typedef enum {
    ADMIT_OK = 0,
    ADMIT_UNAUTHORIZED, /* 401 */
    ADMIT_RATE_LIMITED, /* 429 */
    ADMIT_NO_MEMORY     /* the credential could not be checked: 503 */
} admission_verdict;

typedef struct admission_result {
    bool authenticated;    /* ADMIT_OK on a path that is not public */
    principal who;         /* when authenticated */
    int64_t retry_after_s; /* ADMIT_RATE_LIMITED: whole seconds to wait, >= 1 */
    oms_error why;         /* ADMIT_UNAUTHORIZED: a message for the client */
} admission_result;

/* OMS_ENOMEM when the rate table cannot be allocated; nothing to destroy then. */
oms_err admission_init(admission *a, const admission_config *cfg, gateway_clock *clock);
void admission_destroy(admission *a);

/* Decides on one request (X-API-Key wins over Authorization when both are
 * sent). */
admission_verdict admission_decide(admission *a, const admission_request *rq, admission_result *out);

#endif
