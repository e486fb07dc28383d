/* service.h -- the life of a service process, the same for order-,
 * inventory- and payment-service: settings, start, run until SIGTERM/SIGINT,
 * stop in reverse order.
 *
 * A service's main() describes itself in an oms_service_def (its built-in
 * name, defaults, routes and a few hooks for what is its own) and hands it to
 * oms_service_main, which does, in this order:
 *   the settings table: the common rows, the bus's, the service's own (hook
 *   add_settings); --print-settings answered from it; `.env` and the whole
 *   table loaded (a bad value exits 2 naming it);
 *   signals and logging under SERVICE_NAME (oms_process_init);
 *   migrations, retried while the database is unreachable;
 *   the write pool; the bus (oms_bus_create); hook wire (adapters into the
 *   application's ports, extra pools); the outbox relay; hook subscribe;
 *   bus start; hook start (the service's own threads); the HTTP server, whose
 *   /ready pings every pool and asks the bus, and which admits only requests
 *   from the gateway (service_auth.h: the internal credential, required
 *   outside a local run, and the principal each request speaks for);
 *   oms_process_wait;
 *   the stop in reverse: HTTP (requests in flight finish), bus consumers,
 *   hook stop, relay flush, bus, pools (last made, first freed).
 *
 * The built-in name, not SERVICE_NAME, names the bus's consumers and
 * producers; subscriptions and inbox consumer names are the service's own
 * constants: renaming a deployment changes its logs, never which messages it
 * receives. One service per process. */
#ifndef OMS_SERVICE_H
#define OMS_SERVICE_H
#include <stdbool.h>
#include <stddef.h>

#include "bus.h"
#include "config.h"
#include "err.h"
#include "http.h"
#include "pg.h"
#include "process.h"
#include "reconcile.h"
#include "service_auth.h"

/* The settings every service reads (docs/architecture.md, "Settings"). */
typedef struct oms_service_settings {
    const char *name;                /* SERVICE_NAME (the built-in name): the name in logs */
    oms_process_settings process;    /* LOG_LEVEL */
    int port;                        /* PORT (the def's port), 1..65535 */
    oms_http_limits http;            /* HTTP_* (oms_http_settings_add) */
    oms_http_tls tls;                /* TLS_CERT_FILE, TLS_KEY_FILE: HTTPS when set */
    int pool_size;                   /* DB_POOL_SIZE (16), 1..1024, for every pool */
    int statement_timeout_ms;        /* DB_STATEMENT_TIMEOUT_MS (1500), every pool's connections */
    int lock_timeout_ms;             /* DB_LOCK_TIMEOUT_MS (1000), below the statement timeout */
    int commit_deadline_ms;          /* DB_COMMIT_DEADLINE_MS (3000): a request's transaction commits
                                   * within it after the request is admitted, or is rolled back */
    int inbox_retention_h;           /* INBOX_RETENTION_H (168), 24..8760: inbox records kept */
    int retention_interval_s;        /* RETENTION_INTERVAL_S (600): between two retention sweeps */
    oms_pg_settings db;              /* POSTGRES_*, POSTGRES_DB defaulting to the def's database */
    const char *migrations_dir;      /* MIGRATIONS_DIR (services/<built-in name>/migrations) */
    oms_bus_settings bus;            /* MESSAGE_BUS, BUS_*, PULSAR_* */
    int local_run;                   /* OMS_LOCAL_RUN (0): 1 in a local run (scripts/oms.sh) */
    oms_internal_keys internal_keys; /* INTERNAL_API_KEYS[_FILE]: required unless local_run */
    const char *bind_address;        /* BIND_ADDRESS; unset: 127.0.0.1 in a local run, else every interface */
    int metrics_port;                /* METRICS_PORT (0: none): /health, /ready and /metrics only, no credential */
} oms_service_settings;

typedef struct oms_service oms_service;

/* What a service is. Every hook gets `ctx`; hooks marked optional may be
 * NULL. A hook that fails returns the error with err filled, and the service
 * then stops what had started and exits 1. */
typedef struct oms_service_def {
    const char *name;      /* built-in name, e.g. "order-service" */
    int port;              /* PORT's default (SPEC section 1) */
    const char *database;  /* POSTGRES_DB's default, e.g. "orders" */
    const char *pool_name; /* labels the write pool in logs and metrics; NULL: `database` */
    int http_grace_ms;     /* how long requests in flight may finish at stop; 0: 10000 */
    int relay_grace_ms;    /* how long the outbox relay may flush at stop; 0: 5000 */
    const oms_http_route *routes;
    size_t route_count;
    void *http_ctx; /* handed to the HTTP handlers */
    void *ctx;      /* handed to the hooks */
    /* The read-only queries the gateway's reconciliation asks this service
     * for (reconcile.h), served on POST /internal/reconciliation/{name};
     * none: 404. */
    const oms_reconcile_query *reconcile_queries;
    size_t reconcile_query_count;
    /* Optional: contributes the service's own rows to the settings table
     * (after the common ones; a row may default to a common setting with
     * same_as). They are loaded with the rest, before anything starts. */
    void (*add_settings)(void *ctx, oms_settings *t);
    /* Plugs the adapters into the application's ports; the write pool
     * (oms_service_pool) and the bus exist; may add pools. */
    oms_err (*wire)(void *ctx, oms_service *svc, oms_error *err);
    /* Registers the service's message handlers on `bus` (before it starts). */
    oms_err (*subscribe)(void *ctx, oms_bus *bus, oms_error *err);
    /* Optional: starts the service's own threads, once messages flow. */
    oms_err (*start)(void *ctx, oms_error *err);
    /* Optional: stops them; called only after start succeeded, after the bus
     * stopped consuming and before the outbox relay flushes. */
    void (*stop)(void *ctx);
} oms_service_def;

/* Runs the service from start to stop: the whole of main() but the service's
 * own settings and wiring; main's arguments answer --print-settings (see
 * oms_settings_handle_args). Returns the exit status: 0 after a clean stop,
 * 1 when a step failed to start (logged as "start_failed" with the step, and
 * one line on stderr). A bad setting exits 2 with one line naming it. */
int oms_service_main(const oms_service_def *def, int argc, char **argv);

/* The common settings as loaded, for hook wire and later. */
const oms_service_settings *oms_service_settings_of(oms_service *svc);

/* The write pool (POSTGRES_*), for hook wire and later. */
oms_pg_pool *oms_service_pool(oms_service *svc);

/* Makes one more pool of DB_POOL_SIZE connections over `s` (copied),
 * checked by /ready under `label` ("read database"; a static string), freed
 * at stop before the pools made earlier. For hook wire. NULL with err when it
 * cannot be made. */
oms_pg_pool *oms_service_add_pool(oms_service *svc, const char *name, const oms_pg_settings *s, const char *label,
                                  oms_error *err);

#endif
