/* upstream_client.h -- one HTTP exchange with one instance of a service.
 *
 * The proxy decides which instance and whether to try another; the client
 * only reports what happened, distinguishing the failures where nothing
 * reached the instance (safe to send elsewhere) from those where something
 * may have. Thread-safe: called from every worker thread at once. */
#ifndef GATEWAY_UPSTREAM_CLIENT_H
#define GATEWAY_UPSTREAM_CLIENT_H

#include <stddef.h>

#include "oms/arena.h"

#define UPSTREAM_MAX_QUERY 32

typedef struct upstream_query_param {
    const char *name;  /* decoded */
    const char *value; /* decoded */
} upstream_query_param;

typedef struct upstream_request {
    const char *method;
    const char *path; /* decoded; the client encodes it */
    upstream_query_param query[UPSTREAM_MAX_QUERY];
    int query_count;
    const char *body; /* may be NULL when body_len is 0 */
    size_t body_len;
    /* Headers passed on; NULL when the client sent none. */
    const char *content_type;
    const char *idempotency_key;
    const char *if_match; /* a saga action's expected version (issue 12) */
    const char *accept;
    const char *last_event_id; /* server-sent events: where the client's stream resumes */
    const char *request_id;
    const char *forwarded_for;
    /* Who sent it, as the gateway verified it (docs/architecture.md, "The
     * gateway and the services"): X-OMS-Internal-Key (NULL: none),
     * X-OMS-Role, X-OMS-Subject ("": not sent), X-OMS-Principal. Never a
     * client's header: those are not forwarded. */
    const char *internal_key;
    const char *role;
    const char *subject;
    const char *principal_id;
    int wait_ms;    /* how long the service may hold the answer back (a long poll), on top of the timeout */
    int timeout_ms; /* set by the proxy */
} upstream_request;

typedef struct upstream_response {
    int status;               /* 100..599 */
    const char *content_type; /* NULL when the instance sent none */
    const char *location;     /* NULL when none */
    const char *retry_after;  /* NULL when none */
    const char *etag;         /* NULL when none */
    const char *body;         /* NUL-terminated, in the caller's arena */
    size_t body_len;
} upstream_response;

typedef enum {
    UPSTREAM_OK = 0,
    UPSTREAM_CONNECT_FAILED, /* nothing was sent: the instance is down or unreachable */
    UPSTREAM_TIMEOUT,        /* sent, no complete answer in time */
    UPSTREAM_BAD_ANSWER,     /* the answer was not valid HTTP, was cut off or too large */
    UPSTREAM_NO_MEMORY
} upstream_outcome;

typedef struct upstream_client upstream_client;
typedef struct upstream_client_ops {
    /* Sends `rq` to `base_url` and, on UPSTREAM_OK, fills `out` with strings
     * allocated in `arena`. On failure writes a short reason into `detail`. */
    upstream_outcome (*send)(upstream_client *c, const char *base_url, const upstream_request *rq, oms_arena *arena,
                             upstream_response *out, char *detail, size_t detail_len);
} upstream_client_ops;
struct upstream_client {
    const upstream_client_ops *ops;
    void *self;
};

static inline upstream_outcome upstream_client_send(upstream_client *c, const char *base_url,
                                                    const upstream_request *rq, oms_arena *arena,
                                                    upstream_response *out, char *detail, size_t detail_len)
{
    return c->ops->send(c, base_url, rq, arena, out, detail, detail_len);
}

#endif
