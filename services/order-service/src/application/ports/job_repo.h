/* job_repo.h -- bulk jobs and their items, durable (issue 12 item 5). Every
 * call runs inside the caller's unit of work and allocates in `a`; none
 * commits by itself. */
#ifndef ORDER_PORT_JOB_REPO_H
#define ORDER_PORT_JOB_REPO_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "domain/job.h"
#include "oms/arena.h"
#include "oms/principal.h"
#include "oms/tx.h"
#include "oms/util.h"

/* What a job's items were chosen by, kept to re-check each item when its
 * turn comes; NULL members match anything. */
typedef struct job_filter {
    const char *topic;      /* dead letters: the original topic */
    const char *event_type; /* dead letters: the envelope's type */
    const char *order_id;
    const char *since; /* dead letters, RFC 3339: failed at or after */
    /* sagas: GET /sagas' filters (queries.h saga_list_params) */
    const char *state, *step, *stuck_reason, *customer_id, *older_than, *stuck;
} job_filter;

typedef struct job {
    char id[OMS_UUID_LEN + 1];
    job_kind kind;
    job_state state;
    job_filter filter;
    int rate_per_s;
    int total, done, failed, skipped; /* pending = total - the rest */
    const char *reason;               /* the operator's why; may be NULL */
    const char *created_by;           /* the principal id */
    oms_role created_role;            /* its role: a saga action runs as that principal */
    int64_t created_ms, updated_ms;
    int64_t finished_ms; /* 0 while running */
    int64_t next_due_ms; /* when its next item may be acted on */
} job;

typedef struct job_item {
    int seq;            /* 1, 2, ... in the job */
    const char *target; /* a dead letter id, a saga's order id */
    job_item_outcome outcome;
    const char *reason;      /* NULL while pending or when done without remark */
    int64_t acted_ms;        /* 0 while pending */
    int64_t attempt_version; /* saga actions: the version it is about to act on; -1 when none yet */
} job_item;

typedef struct job_repo job_repo;
typedef struct job_repo_ops {
    /* Stores a new job (counts zero) with its n targets as items 1..n, all
     * pending; a job with none is stored done. */
    oms_err (*insert)(job_repo *r, oms_tx *tx, oms_arena *a, const job *j, const char *const *targets, size_t n,
                      oms_error *err);
    /* OMS_ENOTFOUND when unknown. */
    oms_err (*get)(job_repo *r, oms_tx *tx, oms_arena *a, const char *id, job *out, oms_error *err);
    /* Newest first, at most `limit`; state < 0: any. */
    oms_err (*list)(job_repo *r, oms_tx *tx, oms_arena *a, int state, int limit, job **out, size_t *count,
                    oms_error *err);
    /* Items after seq `after`, in order, at most `limit`. */
    oms_err (*items)(job_repo *r, oms_tx *tx, oms_arena *a, const char *id, int after, int limit, job_item **out,
                     size_t *count, oms_error *err);
    /* Locks one running job whose next item is due at now_ms, skipping jobs
     * another transaction holds (another process's runner, a stop in
     * progress); *found false when there is none. */
    oms_err (*lock_due)(job_repo *r, oms_tx *tx, oms_arena *a, int64_t now_ms, job *out, bool *found, oms_error *err);
    /* The first pending item of a job; *found false when none is left. */
    oms_err (*next_item)(job_repo *r, oms_tx *tx, oms_arena *a, const char *id, job_item *out, bool *found,
                         oms_error *err);
    /* Settles a pending item and counts it in its job; the job's next item
     * is due at next_due_ms, and the job is done when none is pending. */
    oms_err (*settle)(job_repo *r, oms_tx *tx, oms_arena *a, const char *id, int seq, job_item_outcome outcome,
                      const char *reason, int64_t now_ms, int64_t next_due_ms, oms_error *err);
    /* Records, in its own committed transaction (not the caller's), the
     * saga version item `seq` is about to act on. */
    oms_err (*mark_attempt)(job_repo *r, oms_arena *a, const char *id, int seq, int64_t version, oms_error *err);
    /* Stops a running job: OMS_ENOTFOUND, or OMS_ECONFLICT (reason
     * "job_ended") when it is not running. */
    oms_err (*stop)(job_repo *r, oms_tx *tx, oms_arena *a, const char *id, int64_t now_ms, oms_error *err);
} job_repo_ops;

struct job_repo {
    const job_repo_ops *ops;
    void *self;
};

#endif
