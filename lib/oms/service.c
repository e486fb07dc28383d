/* service.c -- the start/stop sequence of service.h. Every part is NULL (or
 * false) until started, so one stop function serves a clean stop and a start
 * that failed half-way. */
#include "service.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "audit_pg.h"
#include "config.h"
#include "inbox.h"
#include "log.h"
#include "inbox.h"
#include "outbox.h"
#include "process.h"
#include "service_auth.h"
#include "util.h"

#define DEFAULT_HTTP_GRACE_MS 10000
#define DEFAULT_HTTP_THREADS "16" /* as many as DB_POOL_SIZE's default: handlers wait on the pool */
#define DEFAULT_RELAY_GRACE_MS 5000
#define STARTUP_ATTEMPTS 30 /* one a second: see retry_while_unavailable */
#define MAX_POOLS 4
#define SERVICE_NAME_MAX 63 /* what a log line keeps of it */

typedef struct service_pool {
    oms_pg_pool *pool;
    const char *label; /* names it in a 503 from /ready */
} service_pool;

struct oms_service {
    const oms_service_def *def;
    oms_settings table;
    oms_service_settings settings;
    char port_default[16];
    char migrations_default[256];
    service_pool pools[MAX_POOLS]; /* [0] is the write pool */
    size_t pool_count;
    oms_bus *bus;
    bool consuming;
    oms_outbox_relay *relay;
    oms_retention *inbox_retention;
    bool own_started;
    oms_http_server *http;
    oms_http_server *metrics_http; /* METRICS_PORT's, or NULL */
    oms_http_route *routes;        /* the service's own, then the built-in ones */
};

/* The HTTP server hands /ready the handlers' context, which is the
 * service's own; /ready finds the runtime here (one service per process). */
static oms_service the_service;

/* ---- settings ---- */

static bool is_name_char(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' || c == '_' ||
           c == '-';
}

/* SERVICE_NAME goes into every log line: a plain, short name or a stop. */
static oms_err parse_service_name(const char *value, void *target, oms_error *err)
{
    size_t len = strlen(value);
    bool plain = len <= SERVICE_NAME_MAX;
    for (size_t i = 0; plain && i < len; i++)
        plain = is_name_char(value[i]);
    if (!plain)
        return oms_error_set(err, OMS_EINVAL, NULL, "must be 1 to 63 letters, digits, '.', '_' or '-'");
    *(const char **)target = value;
    return OMS_OK;
}

/* Who may call the service: only the gateway (service_auth.h). */
static void add_trust_settings(oms_settings *t, oms_service_settings *s)
{
    const oms_setting rows[] = {
        {.name = "OMS_LOCAL_RUN",
         .kind = OMS_SETTING_INT,
         .fallback = "0",
         .min = 0,
         .max = 1,
         .target = &s->local_run,
         .doc = "1 in a local run (scripts/oms.sh): INTERNAL_API_KEYS may be unset, and the service listens on "
                "127.0.0.1 unless BIND_ADDRESS says otherwise."},
        {.name = "INTERNAL_API_KEYS",
         .kind = OMS_SETTING_PARSED,
         .parse = oms_internal_keys_parse,
         .bounds = "1 or 2 comma-separated keys of 16 to 256 characters",
         .target = &s->internal_keys,
         .flags = OMS_SETTING_SECRET | OMS_SETTING_FILE | OMS_SETTING_NO_PLACEHOLDER,
         .doc = "Keys accepted in X-OMS-Internal-Key (the gateway's INTERNAL_API_KEY; two during a rotation); "
                "required outside a local run."},
        {.name = "BIND_ADDRESS",
         .kind = OMS_SETTING_TEXT,
         .bounds = "an IPv4 or IPv6 address",
         .target = &s->bind_address,
         .doc = "The address the HTTP server listens on; unset: 127.0.0.1 in a local run, else every interface."},
        {.name = "METRICS_PORT",
         .kind = OMS_SETTING_INT,
         .fallback = "0",
         .min = 0,
         .max = 65535,
         .target = &s->metrics_port,
         .doc = "A second port serving /health, /ready and /metrics only, so a network policy can open it to "
                "the monitoring namespaces without opening the API; 0: none."},
    };
    oms_settings_add(t, "service", rows, sizeof rows / sizeof rows[0]);
}

/* Checks across settings, after the load: outside a local run the service
 * answers the gateway only; in one it listens on loopback by default. */
static void check_trust_settings(oms_service_settings *s)
{
    if (!s->local_run && s->internal_keys.count == 0)
        oms_settings_fail("INTERNAL_API_KEYS", "must be set outside a local run (OMS_LOCAL_RUN=1): the service "
                                               "answers the gateway only");
    if (!s->bind_address && s->local_run)
        s->bind_address = "127.0.0.1";
}

/* A lock wait is one way a statement is slow: it must give up first, so
 * that a request behind a row lock is told "busy" (409), not "timeout". */
static void check_db_limits(const oms_service_settings *s)
{
    if (s->lock_timeout_ms >= s->statement_timeout_ms)
        oms_settings_fail("DB_LOCK_TIMEOUT_MS", "must be below DB_STATEMENT_TIMEOUT_MS");
}

/* The table: the common rows, the bus's, then the service's own. */
static void build_settings(oms_service *svc)
{
    const oms_service_def *def = svc->def;
    oms_service_settings *s = &svc->settings;
    snprintf(svc->port_default, sizeof svc->port_default, "%d", def->port);
    snprintf(svc->migrations_default, sizeof svc->migrations_default, "services/%s/migrations", def->name);
    oms_settings_init(&svc->table, def->name);
    const oms_setting name = {.name = "SERVICE_NAME",
                              .kind = OMS_SETTING_PARSED,
                              .fallback = def->name,
                              .parse = parse_service_name,
                              .bounds = "1 to 63 of [A-Za-z0-9._-]",
                              .target = &s->name,
                              .doc = "The name in log lines (subscriptions and inbox keep the built-in one)."};
    oms_settings_add(&svc->table, "service", &name, 1);
    oms_process_settings_add(&svc->table, &s->process);
    const oms_setting rows[] = {
        {.name = "PORT",
         .kind = OMS_SETTING_INT,
         .fallback = svc->port_default,
         .min = 1,
         .max = 65535,
         .target = &s->port,
         .doc = "Port of the HTTP server."},
        {.name = "DB_POOL_SIZE",
         .kind = OMS_SETTING_INT,
         .fallback = "16",
         .min = 1,
         .max = 1024,
         .target = &s->pool_size,
         .doc = "Connections per database pool (the outbox relay keeps one)."},
        /* Keep DB_COMMIT_DEADLINE_MS + DB_STATEMENT_TIMEOUT_MS below the
         * gateway's UPSTREAM_TIMEOUT_MS (5000): a request the gateway
         * answered 504 is then never applied afterwards (tests/deploy). */
        {.name = "DB_STATEMENT_TIMEOUT_MS",
         .kind = OMS_SETTING_INT,
         .fallback = "1500",
         .min = 100,
         .max = 600000,
         .target = &s->statement_timeout_ms,
         .doc = "statement_timeout of every connection but the migrations': a slower statement fails (504, "
                "nothing applied)."},
        {.name = "DB_LOCK_TIMEOUT_MS",
         .kind = OMS_SETTING_INT,
         .fallback = "1000",
         .min = 10,
         .max = 600000,
         .target = &s->lock_timeout_ms,
         .doc = "lock_timeout of the same connections, below DB_STATEMENT_TIMEOUT_MS: a request waiting longer "
                "for a row lock fails (409, nothing applied)."},
        {.name = "DB_COMMIT_DEADLINE_MS",
         .kind = OMS_SETTING_INT,
         .fallback = "3000",
         .min = 100,
         .max = 600000,
         .target = &s->commit_deadline_ms,
         .doc = "A request's transaction not committing within this after the request is admitted is rolled "
                "back (504, nothing applied)."},
        {.name = "INBOX_RETENTION_H",
         .kind = OMS_SETTING_INT,
         .fallback = "168",
         .min = 24,
         .max = 8760,
         .target = &s->inbox_retention_h,
         .doc = "Hours an inbox record (a handled message's id) is kept: longer than any redelivery (under 10 h)."},
        {.name = "RETENTION_INTERVAL_S",
         .kind = OMS_SETTING_INT,
         .fallback = "600",
         .min = 1,
         .max = 86400,
         .target = &s->retention_interval_s,
         .doc = "Seconds between two sweeps of the retention job."},
    };
    oms_settings_add(&svc->table, "service", rows, sizeof rows / sizeof rows[0]);
    oms_http_settings_add(&svc->table, &s->http, &s->tls, DEFAULT_HTTP_THREADS);
    oms_pg_settings_add(&svc->table, "POSTGRES_DB", def->database, &s->db);
    const oms_setting migrations = {.name = "MIGRATIONS_DIR",
                                    .kind = OMS_SETTING_TEXT,
                                    .fallback = svc->migrations_default,
                                    .target = &s->migrations_dir,
                                    .doc = "The directory of the service's *.sql migrations."};
    oms_settings_add(&svc->table, "service", &migrations, 1);
    add_trust_settings(&svc->table, s);
    if (def->add_settings)
        def->add_settings(def->ctx, &svc->table);
    oms_bus_settings_add(&svc->table, &s->bus);
}

/* ---- /ready ---- */

static bool service_ready(void *http_ctx, char *why, size_t why_len)
{
    (void)http_ctx;
    oms_service *svc = &the_service;
    /* The answer names what is down, never where it is (hosts and ports stay
     * in the log line). */
    char detail[200];
    for (size_t i = 0; i < svc->pool_count; i++) {
        if (!oms_pg_ping(svc->pools[i].pool, detail, sizeof detail)) {
            snprintf(why, why_len, "%s unavailable", svc->pools[i].label);
            oms_log(OMS_LOG_WARN, "not_ready", "reason", why, "detail", detail, NULL);
            return false;
        }
    }
    if (!oms_bus_healthy(svc->bus, detail, sizeof detail)) {
        snprintf(why, why_len, "message bus unavailable");
        oms_log(OMS_LOG_WARN, "not_ready", "reason", why, "detail", detail, NULL);
        return false;
    }
    return true;
}

/* ---- start ---- */

typedef oms_err (*start_step)(oms_service *svc, oms_error *err);

/* Runs `step` again, once a second up to STARTUP_ATTEMPTS times, while it
 * answers OMS_EUNAVAILABLE: the database may still be starting (compose,
 * CI), or not be set up yet by its owner (a participant on the bus database
 * waits for order-service); any other failure stops at once. */
static oms_err retry_while_unavailable(oms_service *svc, start_step step, oms_error *err)
{
    oms_err rc = step(svc, err);
    for (int attempt = 1; rc == OMS_EUNAVAILABLE && attempt < STARTUP_ATTEMPTS; attempt++) {
        oms_log(OMS_LOG_WARN, "database_unavailable", "error", err->message, NULL);
        sleep(1);
        rc = step(svc, err);
    }
    return rc;
}

static oms_err migrate(oms_service *svc, oms_error *err)
{
    const char *dirs[] = {svc->settings.migrations_dir, NULL}; /* after the outbox/inbox tables */
    return oms_pg_migrate(&svc->settings.db, oms_outbox_migrations, OMS_OUTBOX_MIGRATION_COUNT, dirs, err);
}

static oms_err make_bus(oms_service *svc, oms_error *err)
{
    svc->bus = oms_bus_create(&svc->settings.bus, svc->def->name, &svc->settings.db, err);
    return svc->bus ? OMS_OK : err->code;
}

static oms_pg_pool *add_pool(oms_service *svc, const char *name, const oms_pg_settings *s, const char *label,
                             oms_error *err)
{
    if (svc->pool_count == MAX_POOLS) {
        oms_error_set(err, OMS_EINTERNAL, NULL, "a service has at most %d pools", MAX_POOLS);
        return NULL;
    }
    oms_pg_settings limited = *s;
    limited.statement_timeout_ms = svc->settings.statement_timeout_ms;
    limited.lock_timeout_ms = svc->settings.lock_timeout_ms;
    oms_pg_pool *pool = oms_pg_pool_create(name, &limited, svc->settings.pool_size, err);
    if (pool)
        svc->pools[svc->pool_count++] = (service_pool){.pool = pool, .label = label};
    return pool;
}

/* The admission of every request: the HTTP server hands it the handlers'
 * context, so it finds the runtime here, as /ready does. */
static bool service_admit(void *http_ctx, oms_http_request *req, oms_http_response *res)
{
    (void)http_ctx;
    /* Every transaction the request's handler begins on this thread commits
     * by then or not at all; the next request sets its own. */
    oms_pg_commit_deadline_set(oms_monotonic_ms() + the_service.settings.commit_deadline_ms);
    return oms_service_admit(&the_service.settings.internal_keys, req, res);
}

/* GET /audit: this service's audit rows (audit.h), for a viewer or above;
 * the gateway merges the services' pages. */
static void audit_route(void *ctx, oms_http_request *req, oms_http_response *res)
{
    (void)ctx;
    const oms_principal *who = oms_request_principal(req, res);
    if (!who || !oms_principal_require(who, OMS_ROLE_VIEWER, "read the audit trail", req, res))
        return;
    oms_audit_filter filter;
    if (!oms_audit_filter_parse(req, res, &filter))
        return;
    oms_error err;
    oms_error_clear(&err);
    json_t *rows;
    if (oms_audit_list(oms_service_pool(&the_service), req->arena, the_service.def->name, &filter, &rows, &err) !=
        OMS_OK) {
        oms_http_respond_oms_error(req, res, &err);
        return;
    }
    oms_http_respond_doc(req, res, 200, json_pack("{s:O}", "entries", rows));
}

/* POST /internal/reconciliation/{name}: one of the service's reconciliation
 * queries (reconcile.h), for a viewer or above: the gateway's run. */
static void reconcile_route(void *ctx, oms_http_request *req, oms_http_response *res)
{
    (void)ctx;
    const oms_principal *who = oms_request_principal(req, res);
    if (!who || !oms_principal_require(who, OMS_ROLE_VIEWER, "read reconciliation facts", req, res))
        return;
    const oms_service_def *def = the_service.def;
    oms_reconcile_answer(oms_service_pool(&the_service), def->reconcile_queries, def->reconcile_query_count, req, res);
}

/* Splits "a,b,c" into the arena; NULL when out of memory or over `max`. */
static const char **split_ids(oms_arena *a, const char *text, size_t max, size_t *n)
{
    char *copy = oms_arena_strdup(a, text);
    const char **ids = oms_arena_calloc(a, max + 1, sizeof *ids);
    *n = 0;
    if (!copy || !ids)
        return NULL;
    for (char *save = NULL, *id = strtok_r(copy, ",", &save); id; id = strtok_r(NULL, ",", &save)) {
        if (*n == max + 1)
            break;
        ids[(*n)++] = id;
    }
    return ids;
}

/* GET /internal/inbox?event_ids=<uuid>,...: which of these messages this
 * service handled, and when (its inbox rows): the participants' side of the
 * order timeline, which the gateway reads (docs/architecture.md, "The order
 * timeline"). Viewer and above; at most OMS_INBOX_LOOKUP_MAX ids. */
static void internal_inbox(void *ctx, oms_http_request *req, oms_http_response *res)
{
    (void)ctx;
    const oms_principal *who = oms_request_principal(req, res);
    if (!who || !oms_principal_require(who, OMS_ROLE_VIEWER, "read the inbox", req, res))
        return;
    const char *text = oms_http_query(req, "event_ids");
    size_t n = 0;
    const char **ids = text ? split_ids(req->arena, text, OMS_INBOX_LOOKUP_MAX, &n) : NULL;
    if (text && !ids) {
        oms_http_respond_error(req, res, 503, "service_unavailable", "out of memory", NULL);
        return;
    }
    oms_error err;
    oms_error_clear(&err);
    oms_inbox_row *rows = NULL;
    size_t count = 0;
    if (oms_inbox_lookup(oms_service_pool(&the_service), req->arena, ids, n, &rows, &count, &err) != OMS_OK) {
        oms_http_respond_oms_error(req, res, &err);
        return;
    }
    json_t *list = json_array();
    for (size_t i = 0; list && i < count; i++) {
        char at[40];
        json_t *row = json_pack("{s:s, s:s, s:s, s:I}", "consumer", rows[i].consumer, "event_id", rows[i].event_id,
                                "handled_at", oms_time_format(rows[i].handled_at_ms, at, sizeof at), "handled_at_ms",
                                (json_int_t)rows[i].handled_at_ms);
        if (!row || json_array_append_new(list, row) != 0) {
            json_decref(row);
            json_decref(list);
            list = NULL;
        }
    }
    oms_http_respond_doc(req, res, 200,
                         list ? json_pack("{s:s, s:o}", "service", the_service.settings.name, "handled", list) : NULL);
}

static const oms_http_route builtin_routes[] = {
    {"GET", "/audit", audit_route, "list_audit", NULL},
    {"POST", "/internal/reconciliation/{}", reconcile_route, "reconciliation_facts", NULL},
    {"GET", "/internal/inbox", internal_inbox, "internal_inbox", NULL},
};
#define BUILTIN_ROUTE_COUNT (sizeof builtin_routes / sizeof builtin_routes[0])

/* The service's routes followed by the built-in ones, in svc->routes. */
static oms_err make_routes(oms_service *svc, oms_error *err)
{
    size_t own = svc->def->route_count;
    svc->routes = calloc(own + BUILTIN_ROUTE_COUNT, sizeof *svc->routes);
    if (!svc->routes)
        return oms_error_set(err, OMS_ENOMEM, NULL, "out of memory");
    if (own > 0)
        memcpy(svc->routes, svc->def->routes, own * sizeof *svc->routes);
    memcpy(svc->routes + own, builtin_routes, sizeof builtin_routes);
    return OMS_OK;
}

static oms_err start_http(oms_service *svc, oms_error *err)
{
    if (make_routes(svc, err) != OMS_OK)
        return err->code;
    const oms_http_config http = {.bind_address = svc->settings.bind_address,
                                  .port = svc->settings.port,
                                  .admit = service_admit,
                                  .limits = svc->settings.http,
                                  .tls = svc->settings.tls,
                                  .routes = svc->routes,
                                  .route_count = svc->def->route_count + BUILTIN_ROUTE_COUNT,
                                  .ctx = svc->def->http_ctx,
                                  .ready = service_ready};
    svc->http = oms_http_server_start(&http, err);
    if (!svc->http)
        return err->code;
    if (svc->settings.metrics_port == 0)
        return OMS_OK;
    /* The management listener: the built-ins only (no route), no credential. */
    oms_http_limits limits = svc->settings.http;
    limits.threads = 2;
    const oms_http_config metrics = {.bind_address = svc->settings.bind_address,
                                     .port = svc->settings.metrics_port,
                                     .limits = limits,
                                     .ctx = svc->def->http_ctx,
                                     .ready = service_ready};
    svc->metrics_http = oms_http_server_start(&metrics, err);
    return svc->metrics_http ? OMS_OK : err->code;
}

/* Starts the database side; returns the step that failed, or NULL. */
static const char *start_storage(oms_service *svc, oms_error *err)
{
    const oms_service_def *def = svc->def;
    if (retry_while_unavailable(svc, migrate, err) != OMS_OK)
        return "migrate";
    if (!add_pool(svc, def->pool_name ? def->pool_name : def->database, &svc->settings.db, "database", err))
        return "database pool";
    if (retry_while_unavailable(svc, make_bus, err) != OMS_OK)
        return "message bus";
    if (def->wire(def->ctx, svc, err) != OMS_OK)
        return "wire";
    svc->relay = oms_outbox_relay_start(oms_service_pool(svc), svc->bus, err);
    if (!svc->relay)
        return "outbox relay";
    const oms_retention_rule inbox = oms_inbox_retention_rule((int64_t)svc->settings.inbox_retention_h * 3600);
    svc->inbox_retention = oms_retention_start(oms_service_pool(svc), &inbox, 1, svc->settings.retention_interval_s,
                                               err);
    return svc->inbox_retention ? NULL : "inbox retention";
}

/* Starts everything in order; returns the step that failed, or NULL, and
 * leaves whatever started for stop_service. */
static const char *start_service(oms_service *svc, oms_error *err)
{
    const oms_service_def *def = svc->def;
    const char *failed = start_storage(svc, err);
    if (failed)
        return failed;
    if (def->subscribe(def->ctx, svc->bus, err) != OMS_OK)
        return "subscribe";
    if (oms_bus_start(svc->bus, err) != OMS_OK)
        return "bus start";
    svc->consuming = true;
    if (def->start && def->start(def->ctx, err) != OMS_OK)
        return "start";
    svc->own_started = def->start != NULL;
    return start_http(svc, err) == OMS_OK ? NULL : "http server";
}

/* ---- stop ---- */

/* Reverse order: no new requests, no new messages, the service's own
 * threads, then flush what was committed to the outbox while the bus can
 * still publish. */
static void stop_service(oms_service *svc)
{
    const oms_service_def *def = svc->def;
    if (svc->metrics_http)
        oms_http_server_stop(svc->metrics_http, 1000);
    if (svc->http)
        oms_http_server_stop(svc->http, def->http_grace_ms ? def->http_grace_ms : DEFAULT_HTTP_GRACE_MS);
    if (svc->consuming)
        oms_bus_stop(svc->bus);
    if (svc->own_started)
        def->stop(def->ctx);
    oms_retention_stop(svc->inbox_retention);
    if (svc->relay)
        oms_outbox_relay_stop(svc->relay, def->relay_grace_ms ? def->relay_grace_ms : DEFAULT_RELAY_GRACE_MS);
    oms_bus_destroy(svc->bus);
    while (svc->pool_count > 0)
        oms_pg_pool_destroy(svc->pools[--svc->pool_count].pool);
    free(svc->routes);
    svc->routes = NULL;
}

static int start_failed(const oms_service *svc, const char *step, const oms_error *err)
{
    oms_log(OMS_LOG_ERROR, "start_failed", "step", step, "error", err->message, NULL);
    fprintf(stderr, "%s: cannot start (%s): %s\n", svc->settings.name, step, err->message);
    return 1;
}

/* ---- the life ---- */

int oms_service_main(const oms_service_def *def, int argc, char **argv)
{
    oms_service *svc = &the_service;
    *svc = (oms_service){.def = def};
    build_settings(svc);
    oms_settings_handle_args(&svc->table, argc, argv);
    oms_settings_load(&svc->table, ".env");
    check_trust_settings(&svc->settings);
    check_db_limits(&svc->settings);
    oms_process_init(svc->settings.name, &svc->settings.process);
    if (svc->settings.internal_keys.count == 0)
        oms_log(OMS_LOG_WARN, "no_internal_credential", "detail",
                "INTERNAL_API_KEYS is unset (a local run): requests are not authenticated", NULL);
    oms_error err;
    oms_error_clear(&err);
    const char *failed = start_service(svc, &err);
    if (failed) {
        stop_service(svc);
        return start_failed(svc, failed, &err);
    }
    oms_log_num(OMS_LOG_INFO, "started", "port", (double)svc->settings.port, NULL);
    oms_process_wait();
    stop_service(svc);
    oms_log(OMS_LOG_INFO, "stopped", NULL);
    return 0;
}

const oms_service_settings *oms_service_settings_of(oms_service *svc) { return &svc->settings; }

oms_pg_pool *oms_service_pool(oms_service *svc) { return svc->pools[0].pool; }

oms_pg_pool *oms_service_add_pool(oms_service *svc, const char *name, const oms_pg_settings *s, const char *label,
                                  oms_error *err)
{
    return add_pool(svc, name, s, label, err);
}
