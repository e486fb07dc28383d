/* admission.c -- see admission.h. */
#include "admission.h"

#include <stdio.h>
#include <string.h>

#include "../domain/gateway_routes.h"

_Static_assert(RATE_LIMITER_ID_MAX > PRINCIPAL_ID_MAX, "a principal id must fit a rate limiter id");

oms_err admission_init(admission *a, const admission_config *cfg, gateway_clock *clock)
{
    a->cfg = *cfg;
    a->clock = clock;
    memset(&a->limiter, 0, sizeof a->limiter);
    if (cfg->rate_per_s > 0) {
        oms_err rc = rate_limiter_init(&a->limiter, cfg->rate_per_s, ADMISSION_MAX_CLIENTS);
        if (rc != OMS_OK)
            return rc;
    }
    pthread_mutex_init(&a->lock, NULL);
    return OMS_OK;
}

void admission_destroy(admission *a)
{
    if (a->cfg.rate_per_s > 0)
        rate_limiter_destroy(&a->limiter);
    pthread_mutex_destroy(&a->lock);
}

static bool within_rate(admission *a, const char *client, int64_t *retry_after_s)
{
    if (a->cfg.rate_per_s <= 0)
        return true;
    int64_t wait_ms = 0;
    int64_t now = gateway_clock_now_ms(a->clock);
    pthread_mutex_lock(&a->lock);
    bool ok = rate_limiter_admit(&a->limiter, client, now, &wait_ms);
    pthread_mutex_unlock(&a->lock);
    if (!ok)
        *retry_after_s = (wait_ms + 999) / 1000;
    return ok;
}

/* A JWT is three base64url parts: what has no '.' is taken for a key. */
static bool looks_like_jwt(const char *token) { return strchr(token, '.') != NULL; }

static oms_err verify_jwt(admission *a, const char *token, principal *who, oms_error *why)
{
    static const token_claims empty;
    token_claims claims = empty;
    oms_err rc = token_verifier_verify(a->cfg.tokens, token, &claims, why);
    if (rc != OMS_OK)
        return rc;
    return token_claims_check(&claims, &a->cfg.policy, gateway_clock_wall_s(a->clock), who, why);
}

/* The principal of the request's credential; OMS_EINVAL with the reason. */
static oms_err authenticate(admission *a, const admission_request *rq, principal *who, oms_error *why)
{
    const char *credential = rq->api_key ? rq->api_key : rq->bearer;
    if (!credential)
        return oms_error_set(why, OMS_EINVAL, NULL, "a credential is required: X-API-Key or Authorization: Bearer");
    const principal *known = api_key_set_match(a->cfg.keys, credential);
    if (known) {
        *who = *known;
        return OMS_OK;
    }
    if (!rq->api_key && a->cfg.tokens && looks_like_jwt(credential))
        return verify_jwt(a, credential, who, why);
    return oms_error_set(why, OMS_EINVAL, NULL, "unknown API key");
}

static void local_admin(principal *who)
{
    memset(who, 0, sizeof *who);
    who->role = ROLE_ADMIN;
    snprintf(who->id, sizeof who->id, "local");
}

admission_verdict admission_decide(admission *a, const admission_request *rq, admission_result *out)
{
    memset(out, 0, sizeof *out);
    char client[RATE_LIMITER_ID_MAX];
    snprintf(client, sizeof client, "ip:%s", rq->client_ip ? rq->client_ip : "");
    if (gateway_path_is_public(rq->path))
        return within_rate(a, client, &out->retry_after_s) ? ADMIT_OK : ADMIT_RATE_LIMITED;
    if (a->cfg.open) {
        local_admin(&out->who);
        out->authenticated = true;
        return within_rate(a, client, &out->retry_after_s) ? ADMIT_OK : ADMIT_RATE_LIMITED;
    }
    oms_err rc = authenticate(a, rq, &out->who, &out->why);
    if (rc == OMS_ENOMEM)
        return ADMIT_NO_MEMORY;
    if (rc != OMS_OK)
        return within_rate(a, client, &out->retry_after_s) ? ADMIT_UNAUTHORIZED : ADMIT_RATE_LIMITED;
    snprintf(client, sizeof client, "%s", out->who.id);
    if (!within_rate(a, client, &out->retry_after_s))
        return ADMIT_RATE_LIMITED;
    out->authenticated = true;
    return ADMIT_OK;
}
