/* jobs.c -- dead letters for operators and the bulk job runner (jobs.h). */
#include "application/jobs.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "oms/log.h"
#include "oms/metrics.h"
#include "oms/saga_messages.h"

static oms_err require_role(const oms_principal *who, oms_role role, const char *what, oms_error *err)
{
    if (!who || !oms_principal_is_at_least(who, role))
        return oms_error_set(err, OMS_EFORBIDDEN, NULL, "%s needs the %s role", what, oms_role_name(role));
    return OMS_OK;
}

oms_err jobs_dead_letters(job_service *s, oms_arena *a, const oms_principal *who, const oms_dead_letter_filter *f,
                          oms_dead_letter **out, size_t *count, oms_error *err)
{
    oms_err rc = require_role(who, OMS_ROLE_VIEWER, "reading dead letters", err);
    if (rc != OMS_OK)
        return rc;
    if (f->since && !job_time_valid(f->since))
        return oms_error_set(err, OMS_EINVAL, "since", "since must be an RFC 3339 time (2026-01-31T12:00:00Z)");
    return oms_bus_dead_letters(s->bus, f, a, out, count, err);
}

/* One audit row in `tx`: `action` on `target`, the states as given. */
static oms_err audit(job_service *s, oms_tx *tx, oms_arena *a, const oms_principal *who, const char *action,
                     const char *target, const char *reason, const oms_audit_state *before,
                     const oms_audit_state *after, oms_error *err)
{
    oms_audit_entry e = {
        .by = who, .action = action, .target = target, .reason = reason, .before = before, .after = after};
    return oms_audit_append(s->audit, tx, a, &e, err);
}

/* The dead letter lives in the bus database, the audit row in the orders
 * database: the row is written first and committed only when the discard
 * succeeded, so a refused discard leaves none. (A commit that fails after
 * the discard is logged: the one case of a discard without its row.) */
oms_err jobs_discard(job_service *s, oms_arena *a, const oms_principal *who, int64_t id, const char *reason,
                     oms_error *err)
{
    oms_err rc = require_role(who, OMS_ROLE_OPERATOR, "discarding a dead letter", err);
    if (rc != OMS_OK)
        return rc;
    if (!reason || !*reason)
        return oms_error_set(err, OMS_EINVAL, "reason", "a discard needs a reason");
    const char *target = oms_arena_sprintf(a, "dead_letter:%" PRId64, id);
    if (!target)
        return oms_error_set(err, OMS_ENOMEM, NULL, "out of memory");
    const oms_audit_field was_fields[] = {OMS_AUDIT_TEXT_FIELD("status", "dead")};
    const oms_audit_field is_fields[] = {OMS_AUDIT_TEXT_FIELD("status", "discarded")};
    const oms_audit_state was = {was_fields, 1}, is = {is_fields, 1};
    oms_tx *tx = NULL;
    rc = oms_tx_begin(s->tx, &tx, err);
    if (rc != OMS_OK)
        return rc;
    rc = audit(s, tx, a, who, "dead_letter.discard", target, reason, &was, &is, err);
    if (rc == OMS_OK)
        rc = oms_bus_discard(s->bus, id, reason, who->id, err);
    bool discarded = rc == OMS_OK;
    rc = oms_tx_finish(s->tx, tx, rc, err);
    if (discarded && rc != OMS_OK)
        oms_log(OMS_LOG_WARN, "dead_letter_discard_not_audited", "target", target, "error", err->message, NULL);
    if (discarded)
        oms_log(OMS_LOG_INFO, "dead_letter_discarded", "target", target, "by", who->id, "reason", reason, NULL);
    return discarded ? OMS_OK : rc;
}

/* The bus filter of a job's filter (status dead). */
static oms_dead_letter_filter dead_filter(const job_filter *f)
{
    return (oms_dead_letter_filter){.topic = f->topic,
                                    .event_type = f->event_type,
                                    .order_id = f->order_id,
                                    .since = f->since,
                                    .status = OMS_DEAD_LETTER_DEAD};
}

/* The dead letters a redrive acts on: the ids named, or every page the
 * filter matches, up to r->max, in id order. */
static oms_err choose_dead_letters(job_service *s, oms_arena *a, const redrive_request *r, oms_dead_letter **out,
                                   size_t *count, oms_error *err)
{
    oms_dead_letter *all = oms_arena_calloc(a, (size_t)r->max, sizeof *all);
    if (!all)
        return oms_error_set(err, OMS_ENOMEM, NULL, "out of memory");
    size_t n = 0;
    oms_dead_letter_filter f = dead_filter(&r->filter);
    f.ids = r->ids;
    f.id_count = r->id_count;
    while (n < (size_t)r->max) {
        size_t want = (size_t)r->max - n;
        f.limit = want < OMS_DEAD_LETTER_PAGE_MAX ? (int)want : OMS_DEAD_LETTER_PAGE_MAX;
        oms_dead_letter *page = NULL;
        size_t got = 0;
        oms_err rc = oms_bus_dead_letters(s->bus, &f, a, &page, &got, err);
        if (rc != OMS_OK)
            return rc;
        memcpy(all + n, page, got * sizeof *page);
        n += got;
        if (got < (size_t)f.limit)
            break;
        f.after_id = page[got - 1].id;
    }
    *out = all;
    *count = n;
    return OMS_OK;
}

static oms_err validate_pace(int rate_per_s, int max, oms_error *err)
{
    if (rate_per_s < 1 || rate_per_s > JOB_RATE_MAX)
        return oms_error_set(err, OMS_EINVAL, "rate_per_s", "rate_per_s must be 1 to %d", JOB_RATE_MAX);
    if (max < 1 || max > JOB_MAX_ITEMS)
        return oms_error_set(err, OMS_EINVAL, "max", "max must be 1 to %d", JOB_MAX_ITEMS);
    return OMS_OK;
}

static oms_err validate_redrive(const redrive_request *r, oms_error *err)
{
    if (validate_pace(r->rate_per_s, r->max, err) != OMS_OK)
        return err->code;
    if (r->filter.since && !job_time_valid(r->filter.since))
        return oms_error_set(err, OMS_EINVAL, "filter.since", "since must be an RFC 3339 time (2026-01-31T12:00:00Z)");
    if (r->id_count > JOB_MAX_ITEMS)
        return oms_error_set(err, OMS_EINVAL, "ids", "at most %d ids", JOB_MAX_ITEMS);
    return OMS_OK;
}

static oms_err start_job(job_service *s, oms_arena *a, const oms_principal *who, job *j, const char *const *targets,
                         size_t n, oms_error *err)
{
    oms_tx *tx = NULL;
    oms_err rc = oms_tx_begin(s->tx, &tx, err);
    if (rc != OMS_OK)
        return rc;
    rc = s->jobs->ops->insert(s->jobs, tx, a, j, targets, n, err);
    if (rc == OMS_OK)
        rc = s->jobs->ops->get(s->jobs, tx, a, j->id, j, err);
    const oms_audit_field is_fields[] = {OMS_AUDIT_TEXT_FIELD("kind", job_kind_name(j->kind)),
                                         OMS_AUDIT_TEXT_FIELD("state", job_state_name(j->state)),
                                         OMS_AUDIT_INT_FIELD("items", (int64_t)n),
                                         OMS_AUDIT_INT_FIELD("rate_per_s", j->rate_per_s),
                                         OMS_AUDIT_TEXT_FIELD("topic", j->filter.topic),
                                         OMS_AUDIT_TEXT_FIELD("event_type", j->filter.event_type),
                                         OMS_AUDIT_TEXT_FIELD("order_id", j->filter.order_id),
                                         OMS_AUDIT_TEXT_FIELD("since", j->filter.since)};
    const oms_audit_state is = {is_fields, sizeof is_fields / sizeof is_fields[0]};
    const char *target = oms_arena_sprintf(a, "job:%s", j->id);
    if (rc == OMS_OK && !target)
        rc = oms_error_set(err, OMS_ENOMEM, NULL, "out of memory");
    if (rc == OMS_OK)
        rc = audit(s, tx, a, who, j->kind == JOB_REDRIVE ? "dead_letters.redrive" : "sagas.bulk", target, j->reason,
                   NULL, &is, err);
    rc = oms_tx_finish(s->tx, tx, rc, err);
    if (rc == OMS_OK) {
        char total[24]; /* a size_t in decimal: up to 20 digits */
        snprintf(total, sizeof total, "%zu", n);
        oms_log(OMS_LOG_INFO, "job_started", "job", j->id, "kind", job_kind_name(j->kind), "items", total, "by",
                who->id, NULL);
    }
    return rc;
}

/* A new job of `kind` over the n targets, as `who` asked, stored with its
 * audit row; *j is the job as stored. */
static oms_err launch(job_service *s, oms_arena *a, const oms_principal *who, job_kind kind, const job_filter *f,
                      int rate_per_s, const char *reason, const char *const *targets, size_t n, job *j, oms_error *err)
{
    memset(j, 0, sizeof *j);
    id_generator_new(s->ids, j->id);
    j->kind = kind;
    j->state = n ? JOB_RUNNING : JOB_DONE;
    j->filter = *f;
    j->rate_per_s = rate_per_s;
    j->total = (int)n;
    j->reason = reason;
    j->created_by = who->id;
    j->created_role = who->role;
    j->next_due_ms = oms_clock_now_ms(s->clock);
    return start_job(s, a, who, j, targets, n, err);
}

oms_err jobs_redrive(job_service *s, oms_arena *a, const oms_principal *who, const redrive_request *r,
                     redrive_plan *out, oms_error *err)
{
    memset(out, 0, sizeof *out);
    oms_err rc = require_role(who, OMS_ROLE_OPERATOR, "a redrive", err);
    if (rc == OMS_OK)
        rc = validate_redrive(r, err);
    oms_dead_letter *chosen = NULL;
    if (rc == OMS_OK)
        rc = choose_dead_letters(s, a, r, &chosen, &out->count, err);
    if (rc != OMS_OK)
        return rc;
    out->samples = chosen;
    out->sample_count = out->count < JOB_SAMPLES ? out->count : JOB_SAMPLES;
    if (r->dry_run)
        return OMS_OK;
    const char **targets = oms_arena_calloc(a, out->count ? out->count : 1, sizeof *targets);
    if (!targets)
        return oms_error_set(err, OMS_ENOMEM, NULL, "out of memory");
    for (size_t i = 0; i < out->count; i++) {
        targets[i] = oms_arena_sprintf(a, "%" PRId64, chosen[i].id);
        if (!targets[i])
            return oms_error_set(err, OMS_ENOMEM, NULL, "out of memory");
    }
    rc = launch(s, a, who, JOB_REDRIVE, &r->filter, r->rate_per_s, r->reason, targets, out->count, &out->job, err);
    out->started = rc == OMS_OK;
    return rc;
}

/* ---- bulk saga actions ---------------------------------------------------- */

/* GET /sagas' parameters of a job's filter, oldest first. */
static saga_list_params saga_params(const job_filter *f)
{
    return (saga_list_params){.state = f->state,
                              .step = f->step,
                              .stuck_reason = f->stuck_reason,
                              .customer_id = f->customer_id,
                              .order_id = f->order_id,
                              .older_than = f->older_than,
                              .stuck = f->stuck,
                              .sort = "age"};
}

/* The sagas a bulk request acts on, page by page, up to r->max. */
static oms_err choose_sagas(job_service *s, oms_arena *a, const oms_principal *who, const saga_bulk_request *r,
                            saga **out, size_t *count, oms_error *err)
{
    saga *all = oms_arena_calloc(a, (size_t)r->max, sizeof *all);
    if (!all)
        return oms_error_set(err, OMS_ENOMEM, NULL, "out of memory");
    size_t n = 0;
    saga_list_params p = saga_params(&r->filter);
    char cursor[ORDER_CURSOR_MAX] = "";
    while (n < (size_t)r->max) {
        p.cursor = cursor[0] ? cursor : NULL;
        saga_page page;
        oms_err rc = order_query_sagas(s->queries, a, who, &p, &page, err);
        if (rc != OMS_OK)
            return rc;
        size_t take = page.count < (size_t)r->max - n ? page.count : (size_t)r->max - n;
        memcpy(all + n, page.sagas, take * sizeof *all);
        n += take;
        if (!page.next_cursor[0])
            break;
        snprintf(cursor, sizeof cursor, "%s", page.next_cursor);
    }
    *out = all;
    *count = n;
    return OMS_OK;
}

oms_err jobs_saga_bulk(job_service *s, oms_arena *a, const oms_principal *who, const saga_bulk_request *r,
                       saga_bulk_plan *out, oms_error *err)
{
    memset(out, 0, sizeof *out);
    oms_err rc = require_role(who, OMS_ROLE_OPERATOR, "a bulk saga action", err);
    if (rc != OMS_OK)
        return rc;
    if (!job_kind_is_saga_action(r->action))
        return oms_error_set(err, OMS_EINVAL, "action",
                             "action must be retry_now, pause, resume, compensate or extend_deadline");
    if (validate_pace(r->rate_per_s, r->max, err) != OMS_OK)
        return err->code;
    if (!r->reason || !*r->reason)
        return oms_error_set(err, OMS_EINVAL, "reason", "a bulk saga action needs a reason");
    saga *chosen = NULL;
    rc = choose_sagas(s, a, who, r, &chosen, &out->count, err);
    if (rc != OMS_OK)
        return rc;
    out->samples = chosen;
    out->sample_count = out->count < JOB_SAMPLES ? out->count : JOB_SAMPLES;
    if (r->dry_run)
        return OMS_OK;
    const char **targets = oms_arena_calloc(a, out->count ? out->count : 1, sizeof *targets);
    if (!targets)
        return oms_error_set(err, OMS_ENOMEM, NULL, "out of memory");
    for (size_t i = 0; i < out->count; i++)
        targets[i] = chosen[i].order_id;
    rc = launch(s, a, who, r->action, &r->filter, r->rate_per_s, r->reason, targets, out->count, &out->job, err);
    out->started = rc == OMS_OK;
    return rc;
}

oms_err jobs_get(job_service *s, oms_arena *a, const oms_principal *who, const char *id, int after, job *out,
                 job_item **items, size_t *item_count, oms_error *err)
{
    oms_err rc = require_role(who, OMS_ROLE_VIEWER, "reading jobs", err);
    if (rc != OMS_OK)
        return rc;
    if (!oms_uuid_valid(id))
        return oms_error_set(err, OMS_ENOTFOUND, NULL, "job not found");
    oms_tx *tx = NULL;
    rc = oms_tx_begin(s->tx, &tx, err);
    if (rc != OMS_OK)
        return rc;
    rc = s->jobs->ops->get(s->jobs, tx, a, id, out, err);
    if (rc == OMS_OK)
        rc = s->jobs->ops->items(s->jobs, tx, a, id, after, JOB_ITEMS_PAGE, items, item_count, err);
    return oms_tx_finish(s->tx, tx, rc, err);
}

oms_err jobs_list(job_service *s, oms_arena *a, const oms_principal *who, int state, job **out, size_t *count,
                  oms_error *err)
{
    oms_err rc = require_role(who, OMS_ROLE_VIEWER, "reading jobs", err);
    if (rc != OMS_OK)
        return rc;
    oms_tx *tx = NULL;
    rc = oms_tx_begin(s->tx, &tx, err);
    if (rc != OMS_OK)
        return rc;
    rc = s->jobs->ops->list(s->jobs, tx, a, state, JOB_LIST_MAX, out, count, err);
    return oms_tx_finish(s->tx, tx, rc, err);
}

oms_err jobs_stop(job_service *s, oms_arena *a, const oms_principal *who, const char *id, job *out, oms_error *err)
{
    oms_err rc = require_role(who, OMS_ROLE_OPERATOR, "stopping a job", err);
    if (rc != OMS_OK)
        return rc;
    if (!oms_uuid_valid(id))
        return oms_error_set(err, OMS_ENOTFOUND, NULL, "job not found");
    oms_tx *tx = NULL;
    rc = oms_tx_begin(s->tx, &tx, err);
    if (rc != OMS_OK)
        return rc;
    /* Waits for the runner's item in progress: it holds the job's row. */
    rc = s->jobs->ops->stop(s->jobs, tx, a, id, oms_clock_now_ms(s->clock), err);
    if (rc == OMS_OK)
        rc = s->jobs->ops->get(s->jobs, tx, a, id, out, err);
    if (rc == OMS_OK) {
        int pending = out->total - out->done - out->failed - out->skipped;
        const oms_audit_field was_fields[] = {OMS_AUDIT_TEXT_FIELD("state", "running"),
                                              OMS_AUDIT_INT_FIELD("pending", pending)};
        const oms_audit_field is_fields[] = {OMS_AUDIT_TEXT_FIELD("state", job_state_name(out->state)),
                                             OMS_AUDIT_INT_FIELD("pending", pending)};
        const oms_audit_state was = {was_fields, 2}, is = {is_fields, 2};
        const char *target = oms_arena_sprintf(a, "job:%s", id);
        rc = target ? audit(s, tx, a, who, "job.stop", target, NULL, &was, &is, err)
                    : oms_error_set(err, OMS_ENOMEM, NULL, "out of memory");
    }
    rc = oms_tx_finish(s->tx, tx, rc, err);
    if (rc == OMS_OK)
        oms_log(OMS_LOG_INFO, "job_stopped", "job", id, "by", who->id, NULL);
    return rc;
}

/* ---- the dead letters gauge ---------------------------------------------------- */

static void set_dead_letter_gauge(const char *topic, int64_t count)
{
    char labels[96];
    snprintf(labels, sizeof labels, "topic=\"%s\"", topic);
    oms_gauge_set(
        oms_metrics_gauge("oms_dead_letters", "Dead letters waiting for an operator, by original topic.", labels),
        (double)count);
}

oms_err jobs_dead_letter_gauges(job_service *s, oms_arena *a, oms_error *err)
{
    oms_dead_letter_count *counts = NULL;
    size_t n = 0;
    oms_err rc = oms_bus_count_dead_letters(s->bus, a, &counts, &n, err);
    if (rc != OMS_OK)
        return rc;
    oms_msg_subscription known[OMS_MSG_TYPE_COUNT];
    size_t k = oms_msg_subscriptions(known, OMS_MSG_TYPE_COUNT);
    for (size_t i = 0; i < k && i < OMS_MSG_TYPE_COUNT; i++)
        set_dead_letter_gauge(known[i].topic, 0);
    for (size_t i = 0; i < n; i++)
        set_dead_letter_gauge(counts[i].topic, counts[i].count);
    return OMS_OK;
}

/* ---- the runner ------------------------------------------------------------ */

/* What became of one item: its outcome and reason, or `retry` when it could
 * not be decided now (the bus unreachable): it stays pending. */
typedef struct item_result {
    job_item_outcome outcome;
    const char *reason;
    bool retry;
} item_result;

/* Why dead letter `id` is not redriven by this job: it is gone, settled by
 * someone (or by this job before a restart cut it short), or no longer
 * matches the filter. */
static item_result why_not_dead(job_service *s, oms_arena *a, int64_t id)
{
    oms_error err;
    oms_error_clear(&err);
    oms_dead_letter_filter by_id = {.ids = &id, .id_count = 1, .any_status = true, .limit = 1};
    oms_dead_letter *found = NULL;
    size_t n = 0;
    if (oms_bus_dead_letters(s->bus, &by_id, a, &found, &n, &err) != OMS_OK)
        return (item_result){.retry = true};
    if (n == 0)
        return (item_result){JOB_ITEM_SKIPPED, "no such dead letter", false};
    if (found[0].status == OMS_DEAD_LETTER_REDRIVEN)
        return (item_result){JOB_ITEM_SKIPPED, "redriven already", false};
    if (found[0].status == OMS_DEAD_LETTER_DISCARDED)
        return (item_result){JOB_ITEM_SKIPPED, "discarded meanwhile", false};
    return (item_result){JOB_ITEM_SKIPPED, "no longer matches the filter", false};
}

/* Re-checks the dead letter against the job's filter now, then redrives it. */
static item_result redrive_item(job_service *s, oms_arena *a, const job *j, const job_item *item)
{
    char *end = NULL;
    int64_t id = strtoll(item->target, &end, 10);
    if (!end || *end || id <= 0)
        return (item_result){JOB_ITEM_FAILED, "not a dead letter id", false};
    oms_error err;
    oms_error_clear(&err);
    oms_dead_letter_filter f = dead_filter(&j->filter);
    f.ids = &id;
    f.id_count = 1;
    f.limit = 1;
    oms_dead_letter *found = NULL;
    size_t n = 0;
    if (oms_bus_dead_letters(s->bus, &f, a, &found, &n, &err) != OMS_OK)
        return (item_result){.retry = true};
    if (n == 0)
        return why_not_dead(s, a, id);
    oms_err rc = oms_bus_redrive(s->bus, id, &err);
    if (rc == OMS_OK)
        return (item_result){JOB_ITEM_DONE, NULL, false};
    if (rc == OMS_EUNAVAILABLE || rc == OMS_ETIMEOUT)
        return (item_result){.retry = true};
    if (rc == OMS_ECONFLICT || rc == OMS_ENOTFOUND)
        return why_not_dead(s, a, id);
    return (item_result){JOB_ITEM_FAILED, oms_arena_strdup(a, err.message), false};
}

/* The saga of item `target` if it still matches the job's filter; the
 * item's result when it does not or cannot be told now. */
static bool recheck_saga(job_service *s, oms_arena *a, const job *j, const oms_principal *who, const char *target,
                         saga *out, item_result *why)
{
    oms_error err;
    oms_error_clear(&err);
    saga_list_params p = saga_params(&j->filter);
    p.order_id = target;
    p.limit = "1";
    saga_page page;
    oms_err rc = order_query_sagas(s->queries, a, who, &p, &page, &err);
    if (rc == OMS_EUNAVAILABLE || rc == OMS_ETIMEOUT)
        *why = (item_result){.retry = true};
    else if (rc != OMS_OK)
        *why = (item_result){JOB_ITEM_FAILED, oms_arena_strdup(a, err.message), false};
    else if (page.count == 0)
        *why = (item_result){JOB_ITEM_SKIPPED, "no longer matches the filter", false};
    else
        *out = page.sagas[0];
    return rc == OMS_OK && page.count == 1;
}

/* Re-checks the saga against the job's filter now, then applies the
 * single-saga action (order_saga_action) as the principal who asked (its
 * id and role; the request id names the job), so the action's rules and
 * its audit row are the same as for one saga. The version it acts on is
 * committed with the item first and the action carries it as If-Match: an
 * item cut by a kill between its action and its record finds the saga
 * moved past that version when the job resumes, and is not acted on twice. */
/* Tries of an item whose saga moved between its re-check and its action
 * (a deadline's resend, a reply): the action was refused (412) and did
 * nothing, so it is safe to look again. */
#define SAGA_ACTION_TRIES 3

static item_result saga_action_item(job_service *s, oms_arena *a, const job *j, const job_item *item)
{
    oms_principal who = {
        .role = j->created_role, .id = j->created_by, .request_id = oms_arena_sprintf(a, "job:%s", j->id)};
    int64_t attempt = item->attempt_version;
    for (int tries = 0;; tries++) {
        oms_error err;
        oms_error_clear(&err);
        saga sg;
        item_result why;
        if (!recheck_saga(s, a, j, &who, item->target, &sg, &why))
            return why;
        if (attempt >= 0 && attempt != sg.version && tries == 0)
            return (item_result){JOB_ITEM_SKIPPED,
                                 oms_arena_sprintf(a,
                                                   "the saga moved past version %lld, which this job was acting "
                                                   "on when it stopped (acted on then, or changed by another)",
                                                   (long long)attempt),
                                 false};
        if (attempt != sg.version &&
            s->jobs->ops->mark_attempt(s->jobs, a, j->id, item->seq, sg.version, &err) != OMS_OK)
            return (item_result){.retry = true};
        attempt = sg.version;
        char if_match[24];
        snprintf(if_match, sizeof if_match, "%lld", (long long)sg.version);
        saga_action_request req = {.action = job_kind_name(j->kind), .reason = j->reason, .if_match = if_match};
        saga_outcome out;
        oms_err rc = order_saga_action(s->app, a, &who, sg.id, &req, who.request_id, &out, &err);
        if (rc == OMS_OK)
            return (item_result){JOB_ITEM_DONE, NULL, false};
        if (rc == OMS_EUNAVAILABLE || rc == OMS_ETIMEOUT || rc == OMS_EBUSY)
            return (item_result){.retry = true};
        bool moved = rc == OMS_ECONFLICT && strcmp(err.reason, ORDER_REASON_VERSION_MISMATCH) == 0;
        if (moved && tries + 1 < SAGA_ACTION_TRIES)
            continue;
        /* Ended, paused, or not an action its state allows. */
        if (rc == OMS_ECONFLICT)
            return (item_result){JOB_ITEM_SKIPPED, oms_arena_strdup(a, err.message), false};
        return (item_result){JOB_ITEM_FAILED, oms_arena_strdup(a, err.message), false};
    }
}

static item_result act(job_service *s, oms_arena *a, const job *j, const job_item *item)
{
    switch (j->kind) {
    case JOB_REDRIVE: return redrive_item(s, a, j, item);
    case JOB_SAGA_COMPENSATE:
    case JOB_SAGA_RETRY_NOW:
    case JOB_SAGA_PAUSE:
    case JOB_SAGA_RESUME:
    case JOB_SAGA_EXTEND_DEADLINE: return saga_action_item(s, a, j, item);
    default: return (item_result){JOB_ITEM_FAILED, "unknown job kind", false};
    }
}

/* One item of one due job, in one transaction that holds the job's row:
 * a stop waits for it, and another process's runner skips the job. Returns
 * 1 when an item was settled, 0 when nothing was due, -1 when it must wait. */
static int run_one(job_service *s, oms_arena *a)
{
    oms_error err;
    oms_error_clear(&err);
    oms_tx *tx = NULL;
    if (oms_tx_begin(s->tx, &tx, &err) != OMS_OK)
        return -1;
    int64_t now = oms_clock_now_ms(s->clock);
    job j;
    job_item item;
    bool found = false, has_item = false;
    oms_err rc = s->jobs->ops->lock_due(s->jobs, tx, a, now, &j, &found, &err);
    if (rc == OMS_OK && found)
        rc = s->jobs->ops->next_item(s->jobs, tx, a, j.id, &item, &has_item, &err);
    if (rc != OMS_OK || !found) {
        oms_tx_rollback(s->tx, tx);
        return rc == OMS_OK ? 0 : -1;
    }
    item_result r = has_item ? act(s, a, &j, &item) : (item_result){0};
    if (r.retry) {
        oms_tx_rollback(s->tx, tx);
        return -1;
    }
    /* A job with nothing pending (its items settled before a restart) is
     * closed by settling nothing: seq 0 matches no item. */
    int64_t next = job_next_due_ms(j.next_due_ms, oms_clock_now_ms(s->clock), j.rate_per_s);
    rc = s->jobs->ops->settle(s->jobs, tx, a, j.id, has_item ? item.seq : 0, r.outcome, r.reason,
                              oms_clock_now_ms(s->clock), next, &err);
    rc = oms_tx_finish(s->tx, tx, rc, &err);
    if (rc != OMS_OK) {
        oms_log(OMS_LOG_WARN, "job_item_not_recorded", "job", j.id, "error", err.message, NULL);
        return -1;
    }
    if (has_item && r.outcome == JOB_ITEM_FAILED)
        oms_log(OMS_LOG_WARN, "job_item_failed", "job", j.id, "target", item.target, "reason", r.reason, NULL);
    return has_item ? 1 : 0;
}

int jobs_run_due(job_service *s, oms_arena *a, int budget)
{
    int settled = 0;
    if (!s->bus)
        return 0;
    while (settled < budget) {
        int r = run_one(s, a);
        if (r <= 0)
            break;
        settled++;
    }
    return settled;
}
