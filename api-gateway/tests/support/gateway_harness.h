/* gateway_harness.h -- what the in-process gateway tests share: fake
 * services on loopback (lib/oms HTTP servers that echo what reached them),
 * free ports, a libcurl client that collects an answer, and the world of a
 * test (the fakes, the gateway under test, the client). */
#ifndef GATEWAY_HARNESS_H
#define GATEWAY_HARNESS_H

#include <curl/curl.h>
#include <jansson.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stddef.h>

#include "../../src/gateway.h"
#include "oms/http.h"

#define HARNESS_SLOW_MS 1500

/* A service on 127.0.0.1 with canned routes: "echo" routes answer 200
 * (201 for POST, with a Location) with a JSON object of what arrived --
 * server, method, path, body, the query parameters customer_id, limit and
 * unknown, and the headers Content-Type, Idempotency-Key, Accept,
 * X-Request-Id, X-OMS-Internal-Key, X-OMS-Role, X-OMS-Subject,
 * X-OMS-Principal and X-OMS-Injected (as content_type, idempotency_key,
 * accept, request_id, internal_key, role, subject, principal, injected;
 * absent when not sent). POST /orders/slow/cancel and GET /orders/slow/saga
 * answer after HARNESS_SLOW_MS. */
typedef struct fake_service {
    const char *name;
    int port;
    atomic_int requests;
    oms_http_server *server;
} fake_service;

/* A port nobody listens on right now (bound then released). */
int harness_free_port(void);
void fake_start(fake_service *f, const char *name);
void fake_stop(fake_service *f);

/* "http://127.0.0.1:<port>" in a thread-local buffer. */
const char *harness_url_of(int port);

typedef struct reply {
    long status;
    char body[65536];
    size_t len;
    char request_id[160];
    char location[160];
    char content_type[160];
    char retry_after[32];
    char allow[160];
    char www_authenticate[160];
    json_t *json; /* parsed body, or NULL */
} reply;

/* One request to 127.0.0.1:`port` (the target sent as it is, dot-segments
 * included); `headers` is a NULL-terminated list of "Name: value" lines.
 * Fails the test when no answer comes. */
reply *harness_call(CURL *h, int port, const char *method, const char *target, const char *body, va_list headers);
void reply_free(reply *r);

/* A string member of the answer's JSON, or NULL. */
const char *reply_field(const reply *r, const char *name);

/* error.code of a SPEC error body, or "(no error body)". */
const char *reply_error_code(const reply *r);

/* ---- the world of one test ---- */

typedef struct world {
    fake_service order_a, order_b, inventory, payment;
    int dead_port; /* nobody listens there */
    gateway *gw;
    int gw_port;
    CURL *client;
} world;

/* cmocka setup and teardown: the four fakes and a client; teardown stops the
 * gateway too (and payment, unless a test stopped it). */
int world_setup(void **state);
int world_teardown(void **state);

/* Settings of a gateway on a free port of 127.0.0.1 in front of order-service
 * at `order_urls` and the fakes for the others: a local run without
 * credentials, 4 threads, an upstream timeout of 400 ms. */
void world_settings(world *w, gateway_settings *s, const char *order_urls);

/* Starts the gateway of `s`; fails the test when it does not start. */
void world_start(world *w, const gateway_settings *s);

/* One request to the gateway; the headers end with NULL. */
reply *call(world *w, const char *method, const char *target, const char *body, ...);

/* Requests the fake services have answered so far. */
int world_served(world *w);

#endif
