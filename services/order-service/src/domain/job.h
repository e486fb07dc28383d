/* job.h -- a bulk operation as a durable job (issue 12 item 5): what it
 * does to each item, its states, each item's outcome, and its pace. Pure C.
 *
 * A job is made with its list of items (the targets its filter matched, at
 * most `max`) and then acts on them one by one, at most rate_per_s a
 * second, re-checking for each item at that moment that it still matches;
 * each item ends done, failed or skipped, with a reason. A job runs until
 * its items are all settled (done) or someone stops it (stopped); it
 * survives a crash of the process, being rows in PostgreSQL. */
#ifndef ORDER_JOB_H
#define ORDER_JOB_H

#include <stdbool.h>
#include <stdint.h>

/* What a job does to each item: a redrive, or one of the single-saga
 * actions (POST /sagas/{id}/actions), by the same name. */
typedef enum {
    JOB_REDRIVE = 0,     /* send dead letters back to their subscription */
    JOB_SAGA_COMPENSATE, /* give back what each saga took, as a client cancel does */
    JOB_SAGA_RETRY_NOW,  /* resend the pending command now, same ids */
    JOB_SAGA_PAUSE,
    JOB_SAGA_RESUME,
    JOB_SAGA_EXTEND_DEADLINE, /* by one step timeout */
    JOB_KIND_COUNT
} job_kind;

/* Whether the kind is a saga action (every kind but the redrive). */
bool job_kind_is_saga_action(job_kind k);

typedef enum {
    JOB_RUNNING = 0,
    JOB_STOPPED, /* stopped by an operator; its pending items stay pending */
    JOB_DONE,    /* every item settled */
    JOB_STATE_COUNT
} job_state;

typedef enum {
    JOB_ITEM_PENDING = 0,
    JOB_ITEM_DONE,
    JOB_ITEM_FAILED,  /* the action was refused or failed; the reason says why */
    JOB_ITEM_SKIPPED, /* no longer matched its filter when its turn came */
    JOB_ITEM_OUTCOME_COUNT
} job_item_outcome;

/* Names as the API and the database spell them ("redrive", "compensate",
 * "retry_now", "pause", "resume", "extend_deadline"; "running",
 * "stopped", "done"; "pending", "done", "failed", "skipped"); NULL for a
 * value out of range. The parsers return false for an unknown name. */
const char *job_kind_name(job_kind k);
const char *job_state_name(job_state s);
const char *job_item_outcome_name(job_item_outcome o);
bool job_kind_parse(const char *name, job_kind *out);
bool job_state_parse(const char *name, job_state *out);
bool job_item_outcome_parse(const char *name, job_item_outcome *out);

#define JOB_RATE_MAX 1000 /* items a second */
#define JOB_RATE_DEFAULT 10
#define JOB_MAX_ITEMS 10000 /* items one job may hold */
#define JOB_MAX_DEFAULT 1000
#define JOB_REASON_MAX 500

/* Whether `text` is an RFC 3339 time as the API takes it in `since`:
 * YYYY-MM-DDTHH:MM:SS, optional fraction, then Z or +HH:MM / -HH:MM. */
bool job_time_valid(const char *text);

/* When the item after one due at `due_ms` and acted on at `now_ms` is due:
 * one interval (1000 / rate_per_s ms) after it, but never in the past, so a
 * job that fell behind (a stop of its process) catches up with one item at
 * once and then keeps its pace instead of a burst. rate_per_s in
 * 1..JOB_RATE_MAX. */
int64_t job_next_due_ms(int64_t due_ms, int64_t now_ms, int rate_per_s);

#endif
