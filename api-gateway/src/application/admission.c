/* admission.c -- see admission.h. The rate limit is checked before the key
 * is judged, so guessing keys is rate-limited like everything else. */
#include "admission.h"

#include <stdio.h>
#include <string.h>

oms_err admission_init(admission *a, const api_key_set *keys, long rate_per_s, gateway_clock *clock)
{
    a->keys = keys;
    a->rate_per_s = rate_per_s;
    a->clock = clock;
    memset(&a->limiter, 0, sizeof a->limiter);
    if (rate_per_s > 0) {
        oms_err rc = rate_limiter_init(&a->limiter, rate_per_s, ADMISSION_MAX_CLIENTS);
        if (rc != OMS_OK)
            return rc;
    }
    pthread_mutex_init(&a->lock, NULL);
    return OMS_OK;
}

void admission_destroy(admission *a)
{
    rate_limiter_destroy(&a->limiter);
    pthread_mutex_destroy(&a->lock);
}

bool admission_path_is_public(const char *path)
{
    return strcmp(path, "/openapi.yaml") == 0;
}

static bool within_rate(admission *a, const char *client, int64_t *retry_after_s)
{
    int64_t wait_ms = 0;
    int64_t now = gateway_clock_now_ms(a->clock);
    pthread_mutex_lock(&a->lock);
    bool ok = rate_limiter_admit(&a->limiter, client, now, &wait_ms);
    pthread_mutex_unlock(&a->lock);
    if (!ok)
        *retry_after_s = (wait_ms + 999) / 1000;
    return ok;
}

admission_verdict admission_decide(admission *a, const char *path, const char *presented_key, const char *client_ip,
                                   int64_t *retry_after_s)
{
    int key_index = -1;
    bool key_valid = a->keys->count > 0 && api_key_set_match(a->keys, presented_key, &key_index);
    if (a->rate_per_s > 0) {
        char client[RATE_LIMITER_ID_MAX];
        if (key_valid)
            snprintf(client, sizeof client, "key:%d", key_index);
        else
            snprintf(client, sizeof client, "ip:%s", client_ip ? client_ip : "");
        if (!within_rate(a, client, retry_after_s))
            return ADMIT_RATE_LIMITED;
    }
    if (a->keys->count > 0 && !key_valid && !admission_path_is_public(path))
        return ADMIT_UNAUTHORIZED;
    return ADMIT_OK;
}
