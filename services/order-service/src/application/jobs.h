/* jobs.h -- dead letters for operators and bulk jobs (issue 12 items 4, 5).
 *
 * Dead letters are read and settled through the bus port (lib/oms/bus.h),
 * whichever transport runs. A redrive of several is a job: its items are
 * the dead letters the request named or its filter matched (at most `max`),
 * stored in PostgreSQL with the job; the runner (jobs_run_due, on a timer
 * in main.c) acts on them at the job's rate, re-checking each one when its
 * turn comes, and records each outcome with a reason. A stop of the
 * process leaves the job where it was: the next start carries on. */
#ifndef ORDER_JOBS_H
#define ORDER_JOBS_H

#include <stdbool.h>
#include <stddef.h>

#include "application/commands.h"
#include "application/ports/id_generator.h"
#include "application/queries.h"
#include "application/ports/job_repo.h"
#include "oms/audit.h"
#include "oms/bus.h"
#include "oms/clock.h"
#include "oms/principal.h"
#include "oms/tx.h"

typedef struct job_service {
    oms_tx_manager *tx;
    job_repo *jobs;
    oms_bus *bus; /* set once the bus exists (the service's subscribe hook) */
    oms_clock *clock;
    id_generator *ids;
    oms_audit_log *audit;   /* one row per request: a discard, a redrive job, a stop */
    order_app *app;         /* the single-saga actions a bulk job calls */
    order_queries *queries; /* GET /sagas' filter, to choose and re-check sagas */
} job_service;

#define JOB_SAMPLES 10
#define JOB_LIST_MAX 100
#define JOB_ITEMS_PAGE 1000

/* GET /dead-letters: viewer or above (else OMS_EFORBIDDEN). */
oms_err jobs_dead_letters(job_service *s, oms_arena *a, const oms_principal *who, const oms_dead_letter_filter *f,
                          oms_dead_letter **out, size_t *count, oms_error *err);

/* POST /dead-letters/{id}/discard: operator or above; reason required. */
oms_err jobs_discard(job_service *s, oms_arena *a, const oms_principal *who, int64_t id, const char *reason,
                     oms_error *err);

typedef struct redrive_request {
    const int64_t *ids; /* by ids, or (id_count 0) by filter */
    size_t id_count;
    job_filter filter;
    int rate_per_s; /* 1..JOB_RATE_MAX */
    int max;        /* 1..JOB_MAX_ITEMS */
    bool dry_run;
    const char *reason; /* may be NULL */
    const char *request_id;
} redrive_request;

typedef struct redrive_plan {
    size_t count;             /* dead letters it acts (or would act) on */
    oms_dead_letter *samples; /* the first JOB_SAMPLES of them */
    size_t sample_count;
    bool started; /* false on a dry run */
    job job;      /* the job, when started */
} redrive_plan;

/* POST /dead-letters/redrive: operator or above. Chooses the dead letters
 * (status dead, matching ids or filter, at most max); a dry run only
 * reports them, else a job is made with them as items. */
oms_err jobs_redrive(job_service *s, oms_arena *a, const oms_principal *who, const redrive_request *r,
                     redrive_plan *out, oms_error *err);

typedef struct saga_bulk_request {
    job_kind action;   /* a saga action (job_kind_is_saga_action) */
    job_filter filter; /* GET /sagas' filters (state, step, stuck_reason, customer_id, order_id, older_than, stuck) */
    int rate_per_s;
    int max;
    bool dry_run;
    const char *reason; /* required: it goes to each saga's action */
} saga_bulk_request;

typedef struct saga_bulk_plan {
    size_t count;
    saga *samples; /* the first JOB_SAMPLES sagas */
    size_t sample_count;
    bool started;
    job job;
} saga_bulk_plan;

/* POST /sagas/bulk: operator or above. Chooses the sagas GET /sagas would
 * list with the filter (at most max, oldest first); a dry run reports them,
 * else a job acts on each as its single-saga action would, as `who`. */
oms_err jobs_saga_bulk(job_service *s, oms_arena *a, const oms_principal *who, const saga_bulk_request *r,
                       saga_bulk_plan *out, oms_error *err);

/* GET /jobs/{id} (viewer or above): the job and its items after seq
 * `after` (at most JOB_ITEMS_PAGE). */
oms_err jobs_get(job_service *s, oms_arena *a, const oms_principal *who, const char *id, int after, job *out,
                 job_item **items, size_t *item_count, oms_error *err);

/* GET /jobs (viewer or above): the newest JOB_LIST_MAX, state < 0: any. */
oms_err jobs_list(job_service *s, oms_arena *a, const oms_principal *who, int state, job **out, size_t *count,
                  oms_error *err);

/* POST /jobs/{id}/stop (operator or above): after the item in progress. */
oms_err jobs_stop(job_service *s, oms_arena *a, const oms_principal *who, const char *id, job *out, oms_error *err);

/* Sets oms_dead_letters{topic} to the dead letters waiting on each topic
 * of the system (0 for one with none, so an alert's series stays). */
oms_err jobs_dead_letter_gauges(job_service *s, oms_arena *a, oms_error *err);

/* The runner's pass: acts on at most `budget` due items of the running
 * jobs, one transaction per item; returns how many it settled. */
int jobs_run_due(job_service *s, oms_arena *a, int budget);

#endif
