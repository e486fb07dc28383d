/* proxy.h -- forwarding a request to a healthy instance of its service.
 *
 * Balancing is round robin over the instances not marked down. A connect
 * failure marks the instance down for PROXY_MARK_DOWN_MS and tries the next
 * one (nothing was sent, so this is safe for every method). A timeout is
 * retried on another instance only for GET (a POST may have been applied).
 * Every upstream failure is logged with the instance's URL. */
#ifndef GATEWAY_PROXY_H
#define GATEWAY_PROXY_H

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>

#include "../domain/gateway_routes.h"
#include "../domain/upstream_pool.h"
#include "oms/arena.h"
#include "ports/clock.h"
#include "ports/upstream_client.h"

#define PROXY_MARK_DOWN_MS 1000

typedef enum {
    PROXY_OK = 0,
    PROXY_UNAVAILABLE, /* every instance is down: 503 */
    PROXY_TIMEOUT,     /* 504 */
    PROXY_BAD_GATEWAY, /* 502 */
    PROXY_NO_MEMORY
} proxy_outcome;

typedef struct proxy_service {
    pthread_mutex_t lock; /* guards pool */
    upstream_pool pool;
} proxy_service;

typedef struct proxy {
    proxy_service services[GATEWAY_SERVICE_COUNT];
    upstream_client *client; /* not owned */
    gateway_clock *clock;    /* not owned */
    int timeout_ms;
} proxy;

/* Sets up `p` over the given pools (copied); `client` and `clock` must
 * outlive it. */
void proxy_init(proxy *p, const upstream_pool pools[GATEWAY_SERVICE_COUNT], upstream_client *client,
                gateway_clock *clock, int timeout_ms);
void proxy_destroy(proxy *p);

/* Sends `rq` (its timeout is set here: the proxy's plus rq->wait_ms) to an instance of `service`; on
 * PROXY_OK `out` holds the answer, allocated in `arena`. */
proxy_outcome proxy_forward(proxy *p, gateway_service service, upstream_request *rq, oms_arena *arena,
                            upstream_response *out);

#endif
