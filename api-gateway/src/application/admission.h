/* admission.h -- who may send a request: API keys and per-client rate limit.
 *
 * Both are off unless configured. The client of a request is its API key
 * when it presents a valid one, else its IP address, so that clients behind
 * one address with their own keys do not share a bucket. Thread-safe. */
#ifndef GATEWAY_ADMISSION_H
#define GATEWAY_ADMISSION_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#include "../domain/api_keys.h"
#include "../domain/rate_limiter.h"
#include "oms/err.h"
#include "ports/clock.h"

#define ADMISSION_MAX_CLIENTS 16384

typedef enum { ADMIT_OK = 0, ADMIT_UNAUTHORIZED, ADMIT_RATE_LIMITED } admission_verdict;

typedef struct admission {
    const api_key_set *keys; /* not owned; count 0: off */
    long rate_per_s;         /* 0: off */
    pthread_mutex_t lock;    /* guards limiter */
    rate_limiter limiter;
    gateway_clock *clock; /* not owned */
} admission;

/* OMS_ENOMEM when the rate table cannot be allocated; nothing to destroy then. */
oms_err admission_init(admission *a, const api_key_set *keys, long rate_per_s, gateway_clock *clock);
void admission_destroy(admission *a);

/* Whether `path` needs no API key (the documentation of the API). */
bool admission_path_is_public(const char *path);

/* Decides on one request. `presented_key` is the X-API-Key header or the
 * Bearer token (NULL when none); `client_ip` the peer address. On
 * ADMIT_RATE_LIMITED *retry_after_s is the whole seconds to wait (>= 1). */
admission_verdict admission_decide(admission *a, const char *path, const char *presented_key, const char *client_ip,
                                   int64_t *retry_after_s);

#endif
