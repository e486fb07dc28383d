/* main.c -- order-service: reads its own settings, plugs the adapters into
 * the application's ports, runs the deadline scanner and the retention job;
 * the start/stop sequence around it is lib/oms/service.h. The only file that
 * knows every concrete adapter.
 *
 * Recovery after a crash needs no special start-up step: unfinished sagas are
 * rows with a deadline, which the deadline scanner picks up (see
 * adapters/deadline_scanner.c); committed outbox rows are published by the
 * relay; replies wait in the durable bus. */
#include <string.h>

#include "adapters/bus_consumers.h"
#include "adapters/admission_resync.h"
#include "adapters/deadline_scanner.h"
#include "adapters/http_api.h"
#include "adapters/order_waits.h"
#include "adapters/http_ops.h"
#include "adapters/pg_adapters.h"
#include "adapters/saga_metrics.h"
#include "adapters/pg_job_repo.h"
#include "adapters/uuid_generator.h"
#include "oms/audit_pg.h"
#include "oms/config.h"
#include "oms/log.h"
#include "oms/retention.h"
#include "oms/service.h"
#include "oms/ticker.h"

#define HTTP_GRACE_MS 5000
#define RELAY_GRACE_MS 3000
/* How often the job runner looks for due items, and how many it settles in
 * one pass at most (the rest wait for the next pass): a job's pace is its
 * own rate_per_s, up to JOB_RATE_MAX. */
#define JOB_TICK_MS 50
#define JOB_PASS_BUDGET 100
#define DEAD_LETTER_GAUGE_MS 5000
#define ROUTES_MAX 64

/* Everything of the process that is order-service's own. */
typedef struct order_service {
    saga_settings saga;
    oms_pg_settings read_db;
    oms_pg_pool *read_pool;
    deadline_scanner *scanner;
    saga_metrics *metrics;
    saga_admission admission; /* MAX_SAGAS_IN_FLIGHT and the count */
    admission_resync *resync;
    int idempotency_retention_h;
    int saga_log_retention_d;
    int retention_interval_s; /* the service's RETENTION_INTERVAL_S */
    oms_pg_pool *write_pool;
    oms_retention *retention;
    oms_http_waits *waits;
    http_api api; /* the HTTP handlers' ctx */
    order_repo orders;
    catalog catalog;
    saga_repo sagas;
    order_read_model read_model;
    order_outbox outbox;
    oms_clock clock;
    id_generator ids;
    oms_audit_log audit;
    order_app app;
    order_queries queries;
    oms_saga_consumer consumer;
    job_repo job_store;
    job_service jobs;
    oms_ticker *job_runner;
    int64_t dead_letter_gauge_ms; /* when oms_dead_letters was last set */
} order_service;

/* The read model's pool defaults to the write settings, one by one. */
static void add_settings(void *ctx, oms_settings *t)
{
    order_service *o = ctx;
    const oms_setting rows[] = {
        {.name = "SAGA_STEP_TIMEOUT_S",
         .kind = OMS_SETTING_INT,
         .fallback = "30",
         .min = 1,
         .max = 3600,
         .target = &o->saga.step_timeout_s,
         .doc = "How long a saga step waits for its reply before it is sent again."},
        /* Little's law: sagas in flight = completed/s x time to final. 688
         * sagas/s (the lowest of issue 14's quiet 32-client runs) x 0.5 s
         * (half the 1 s p99 target, leaving the other half to the tail)
         * = 344, rounded down. A slower machine sets it lower (about half
         * its completed/s; docs/architecture.md "Admission control"). */
        {.name = "MAX_SAGAS_IN_FLIGHT",
         .kind = OMS_SETTING_INT,
         .fallback = "320",
         .min = 0,
         .max = 1000000,
         .target = &o->admission.max_in_flight,
         .doc = "Sagas in flight past which POST /orders answers 503 with Retry-After (0: no bound)."},
        {.name = "SAGA_MAX_ATTEMPTS",
         .kind = OMS_SETTING_INT,
         .fallback = "5",
         .min = 1,
         .max = 100,
         .target = &o->saga.max_attempts,
         .doc = "Sends of a forward step's command before the saga compensates."},
        {.name = "SAGA_COMPENSATION_MAX_ATTEMPTS",
         .kind = OMS_SETTING_INT,
         .fallback = "5",
         .min = 1,
         .max = 1000,
         .target = &o->saga.compensation_max_attempts,
         .doc = "Sends of a compensation's command after which the saga shows compensation_blocked (it is still "
                "retried)."},
        {.name = "IDEMPOTENCY_KEY_RETENTION_H",
         .kind = OMS_SETTING_INT,
         .fallback = "24",
         .min = 24,
         .max = 8760,
         .target = &o->idempotency_retention_h,
         .doc = "Hours an Idempotency-Key is kept (SPEC 7: at least 24) before the retention job removes it."},
        {.name = "SAGA_LOG_RETENTION_D",
         .kind = OMS_SETTING_INT,
         .fallback = "90",
         .min = 1,
         .max = 3650,
         .target = &o->saga_log_retention_d,
         .doc = "Days the step log of a FAILED or CANCELLED saga is kept after its steps, then removed."},
        {.name = "READ_POSTGRES_HOST",
         .kind = OMS_SETTING_TEXT,
         .same_as = "POSTGRES_HOST",
         .target = &o->read_db.host,
         .doc = "Read model pool: host of the PostgreSQL server."},
        {.name = "READ_POSTGRES_PORT",
         .kind = OMS_SETTING_INT_TEXT,
         .same_as = "POSTGRES_PORT",
         .min = 1,
         .max = 65535,
         .target = &o->read_db.port,
         .doc = "Read model pool: port of the PostgreSQL server."},
        {.name = "READ_POSTGRES_USER",
         .kind = OMS_SETTING_TEXT,
         .same_as = "POSTGRES_USER",
         .target = &o->read_db.user,
         .doc = "Read model pool: PostgreSQL user."},
        {.name = "READ_POSTGRES_PASSWORD",
         .kind = OMS_SETTING_TEXT,
         .same_as = "POSTGRES_PASSWORD",
         .target = &o->read_db.password,
         .flags = OMS_SETTING_SECRET | OMS_SETTING_FILE | OMS_SETTING_NO_PLACEHOLDER,
         .doc = "Read model pool: password."},
        {.name = "READ_POSTGRES_DB",
         .kind = OMS_SETTING_TEXT,
         .same_as = "POSTGRES_DB",
         .target = &o->read_db.dbname,
         .doc = "Read model pool: the database."},
        {.name = "READ_POSTGRES_SSLMODE",
         .kind = OMS_SETTING_ENUM,
         .same_as = "POSTGRES_SSLMODE",
         .allowed = oms_pg_sslmodes,
         .target = &o->read_db.sslmode,
         .doc = "Read model pool: TLS (sslmode)."},
        {.name = "READ_POSTGRES_SSLROOTCERT",
         .kind = OMS_SETTING_PARSED,
         .same_as = "POSTGRES_SSLROOTCERT",
         .parse = oms_pg_parse_ca_file,
         .bounds = "a readable file",
         .target = &o->read_db.sslrootcert,
         .doc = "Read model pool: the CA file of the server's certificate."},
    };
    oms_settings_add(t, "order-service", rows, sizeof rows / sizeof rows[0]);
}

/* Plugs the adapters into the application's ports; queries read the read
 * pool, everything else the write pool. */
static oms_err wire(void *ctx, oms_service *svc, oms_error *err)
{
    order_service *o = ctx;
    o->retention_interval_s = oms_service_settings_of(svc)->retention_interval_s;
    oms_pg_pool *write_pool = oms_service_pool(svc);
    o->write_pool = write_pool;
    o->read_pool = oms_service_add_pool(svc, "orders-read", &o->read_db, "read database", err);
    if (!o->read_pool)
        return err->code;
    o->orders = pg_order_repo();
    o->catalog = pg_catalog();
    o->sagas = pg_saga_repo();
    o->read_model = pg_read_model(o->read_pool);
    o->outbox = pg_order_outbox();
    o->clock = oms_wall_clock();
    o->ids = uuid_generator();
    o->audit = oms_pg_audit_log();
    o->app = (order_app){.tx = oms_pg_tx_manager(write_pool),
                         .orders = &o->orders,
                         .sagas = &o->sagas,
                         .read_model = &o->read_model,
                         .outbox = &o->outbox,
                         .clock = &o->clock,
                         .ids = &o->ids,
                         .saga = o->saga,
                         .catalog = &o->catalog,
                         .audit = &o->audit,
                         .admission = &o->admission};
    o->queries = (order_queries){.read_model = &o->read_model, .clock = &o->clock, .saga = &o->app.saga};
    o->consumer = order_consumer(write_pool, &o->app);
    o->job_store = pg_job_repo(write_pool);
    o->jobs = (job_service){.tx = o->app.tx,
                            .jobs = &o->job_store,
                            .clock = &o->clock,
                            .ids = &o->ids,
                            .audit = &o->audit,
                            .app = &o->app,
                            .queries = &o->queries};
    o->api = (http_api){.app = &o->app,
                        .queries = &o->queries,
                        .jobs = &o->jobs,
                        .timeline = {.queries = &o->queries, .read_pool = o->read_pool}};
    return OMS_OK;
}

static oms_err subscribe(void *ctx, oms_bus *bus, oms_error *err)
{
    order_service *o = ctx;
    o->jobs.bus = bus;         /* dead letters and redrives go through the bus port */
    o->api.timeline.bus = bus; /* the order's dead letters on its timeline */
    return oms_saga_subscribe(bus, &o->consumer, err);
}

/* The job runner's pass, and every DEAD_LETTER_GAUGE_MS the dead letters
 * gauge (one grouped count in the bus database). */
static void run_jobs(void *ctx, oms_arena *a)
{
    order_service *o = ctx;
    jobs_run_due(&o->jobs, a, JOB_PASS_BUDGET);
    int64_t now = oms_clock_now_ms(&o->clock);
    if (now - o->dead_letter_gauge_ms < DEAD_LETTER_GAUGE_MS)
        return;
    o->dead_letter_gauge_ms = now;
    oms_error err;
    oms_error_clear(&err);
    if (jobs_dead_letter_gauges(&o->jobs, a, &err) != OMS_OK && err.code != OMS_EUNSUPPORTED)
        oms_log(OMS_LOG_WARN, "dead_letter_gauge_failed", "error", err.message, NULL);
}

/* The background jobs: the deadline scanner, the bulk job runner, the
 * retention of idempotency keys and of ended sagas' logs
 * (oms_retention_removed_total{table="idempotency_keys"|"saga_step_log"};
 * the inbox's is the service's), the sagas' gauges (oms_sagas_stuck,
 * oms_saga_age_seconds), admission control's count of sagas in flight
 * (oms_sagas_in_flight) and the waiting room of long polls and server-sent
 * events (stopped after the HTTP server, which has it answer every wait
 * first). Each stop takes NULL. */
static void stop_jobs(void *ctx)
{
    order_service *o = ctx;
    admission_resync_stop(o->resync);
    saga_metrics_stop(o->metrics);
    oms_ticker_stop(o->job_runner);
    oms_retention_stop(o->retention);
    deadline_scanner_stop(o->scanner);
    oms_http_waits_stop(o->waits);
    o->resync = NULL;
    o->metrics = NULL;
    o->job_runner = NULL;
    o->retention = NULL;
    o->scanner = NULL;
    o->waits = NULL;
}

static oms_err start_jobs(void *ctx, oms_error *err)
{
    order_service *o = ctx;
    const oms_retention_rule rules[] = {
        {.table = "idempotency_keys",
         .time_column = "created_at",
         .keep_s = (int64_t)o->idempotency_retention_h * 3600},
        pg_saga_log_retention_rule((int64_t)o->saga_log_retention_d * 86400),
    };
    o->waits = oms_http_waits_start(ORDER_WAIT_INTERVAL_MS, err);
    o->api.waits = o->waits;
    if (o->waits)
        o->scanner = deadline_scanner_start(&o->app, DEADLINE_SCAN_INTERVAL_MS, err);
    if (o->scanner)
        o->retention = oms_retention_start(o->write_pool, rules, sizeof rules / sizeof rules[0],
                                           o->retention_interval_s, err);
    if (o->retention)
        o->job_runner = oms_ticker_start(JOB_TICK_MS, run_jobs, o, err);
    if (o->job_runner)
        o->metrics = saga_metrics_start(&o->queries, &o->app, &o->jobs.bus, SAGA_METRICS_INTERVAL_MS, err);
    if (o->metrics)
        o->resync = admission_resync_start(&o->admission, o->write_pool, ADMISSION_RESYNC_INTERVAL_MS, err);
    if (o->resync)
        return OMS_OK;
    stop_jobs(o);
    return err->code;
}

int main(int argc, char **argv)
{
    static order_service o;
    static oms_http_route routes[ROUTES_MAX];
    size_t api_count = 0, ops_count = 0;
    const oms_http_route *api = http_api_routes(&api_count);
    const oms_http_route *ops = http_ops_routes(&ops_count);
    if (api_count + ops_count > ROUTES_MAX)
        return 1; /* a build that grew past the table: caught by every test */
    memcpy(routes, api, api_count * sizeof *api);
    memcpy(routes + api_count, ops, ops_count * sizeof *ops);
    size_t route_count = api_count + ops_count;
    const oms_service_def def = {.name = "order-service",
                                 .port = 8001,
                                 .database = "orders",
                                 .pool_name = "orders-write",
                                 .http_grace_ms = HTTP_GRACE_MS,
                                 .relay_grace_ms = RELAY_GRACE_MS,
                                 .routes = routes,
                                 .reconcile_queries = order_reconcile_queries,
                                 .reconcile_query_count = order_reconcile_query_count,
                                 .route_count = route_count,
                                 .http_ctx = &o.api,
                                 .ctx = &o,
                                 .add_settings = add_settings,
                                 .wire = wire,
                                 .subscribe = subscribe,
                                 .start = start_jobs,
                                 .stop = stop_jobs};
    return oms_service_main(&def, argc, argv);
}
