/* http_ops.c -- dead letters and jobs over HTTP (http_ops.h). Decodes
 * requests (400 naming the field), renders answers; the decisions are the
 * application's (application/jobs.c). */
#include "adapters/http_ops.h"

#include "adapters/http_api.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "oms/json.h"
#include "oms/service_auth.h"

#define FILTER_TEXT_MAX 128

static const char *query_param(const oms_http_request *req, const char *name)
{
    const char *v = oms_http_query(req, name);
    return v && v[0] ? v : NULL;
}

static json_t *time_or_null(int64_t ms)
{
    char text[40];
    return ms ? json_string(oms_time_format(ms, text, sizeof text)) : json_null();
}

static json_t *string_or_null(const char *s) { return s ? json_string(s) : json_null(); }

/* The bus answers OMS_EUNSUPPORTED when its transport has no dead-letter
 * operations: that is the server's lack (501), not the client's media type. */
static void respond_error(oms_http_request *req, oms_http_response *res, const oms_error *err)
{
    if (err->code == OMS_EUNSUPPORTED)
        oms_http_respond_error(req, res, 501, "not_implemented", err->message, NULL);
    else
        oms_http_respond_oms_error(req, res, err);
}

/* A positive decimal id (a dead letter's, a cursor); false otherwise. */
static bool parse_id(const char *text, int64_t *out)
{
    if (!text || !*text || strlen(text) > 18)
        return false;
    for (const char *p = text; *p; p++)
        if (*p < '0' || *p > '9')
            return false;
    errno = 0;
    long long v = strtoll(text, NULL, 10);
    *out = (int64_t)v;
    return errno == 0 && v > 0;
}

/* ---- rendering ------------------------------------------------------------ */

static json_t *dead_letter_json(const oms_dead_letter *d)
{
    json_t *doc = json_object();
    if (!doc)
        return NULL;
    int bad = 0;
    bad |= json_object_set_new(doc, "id", json_integer((json_int_t)d->id));
    bad |= json_object_set_new(doc, "topic", json_string(d->topic));
    bad |= json_object_set_new(doc, "subscription", json_string(d->subscription));
    bad |= json_object_set_new(doc, "key", json_string(d->key));
    bad |= json_object_set_new(doc, "event_id", string_or_null(d->event_id));
    bad |= json_object_set_new(doc, "event_type", string_or_null(d->event_type));
    bad |= json_object_set_new(doc, "saga_id", string_or_null(d->saga_id));
    bad |= json_object_set_new(doc, "order_id", string_or_null(d->order_id));
    bad |= json_object_set_new(doc, "payload", json_stringn(d->payload, d->payload_len));
    bad |= json_object_set_new(doc, "error", json_string(d->error ? d->error : ""));
    bad |= json_object_set_new(doc, "attempts", json_integer(d->attempts));
    bad |= json_object_set_new(doc, "first_failure_at", time_or_null(d->first_failure_ms));
    bad |= json_object_set_new(doc, "last_failure_at", time_or_null(d->last_failure_ms));
    bad |= json_object_set_new(doc, "fingerprint", json_string(d->fingerprint));
    bad |= json_object_set_new(doc, "status", json_string(oms_dead_letter_status_name(d->status)));
    bad |= json_object_set_new(doc, "settled_at", time_or_null(d->settled_ms));
    bad |= json_object_set_new(doc, "discard_reason", string_or_null(d->discard_reason));
    bad |= json_object_set_new(doc, "discarded_by", string_or_null(d->discarded_by));
    if (bad) {
        json_decref(doc);
        return NULL;
    }
    return doc;
}

static json_t *dead_letters_json(const oms_dead_letter *list, size_t n)
{
    json_t *arr = json_array();
    for (size_t i = 0; arr && i < n; i++) {
        if (json_array_append_new(arr, dead_letter_json(&list[i])) != 0) {
            json_decref(arr);
            return NULL;
        }
    }
    return arr;
}

/* The members a job's filter has; the others are left out. */
static json_t *filter_json(const job_filter *f)
{
    const char *names[] = {"topic", "event_type",   "order_id",    "since",      "state",
                           "step",  "stuck_reason", "customer_id", "older_than", "stuck"};
    const char *values[] = {f->topic, f->event_type,   f->order_id,    f->since,      f->state,
                            f->step,  f->stuck_reason, f->customer_id, f->older_than, f->stuck};
    json_t *doc = json_object();
    for (size_t i = 0; doc && i < sizeof names / sizeof names[0]; i++) {
        if (values[i] && json_object_set_new(doc, names[i], json_string(values[i])) != 0) {
            json_decref(doc);
            return NULL;
        }
    }
    return doc;
}

static json_t *job_json(const job *j)
{
    int pending = j->total - j->done - j->failed - j->skipped;
    return json_pack("{s:s, s:s, s:s, s:o, s:i, s:i, s:i, s:i, s:i, s:i, s:o, s:s, s:o, s:o, s:o}", "id", j->id, "kind",
                     job_kind_name(j->kind), "state", job_state_name(j->state), "filter", filter_json(&j->filter),
                     "rate_per_s", j->rate_per_s, "total", j->total, "done", j->done, "failed", j->failed, "skipped",
                     j->skipped, "pending", pending < 0 ? 0 : pending, "reason", string_or_null(j->reason),
                     "created_by", j->created_by, "created_at", time_or_null(j->created_ms), "updated_at",
                     time_or_null(j->updated_ms), "finished_at", time_or_null(j->finished_ms));
}

static json_t *items_json(const job_item *items, size_t n)
{
    json_t *arr = json_array();
    for (size_t i = 0; arr && i < n; i++) {
        json_t *it = json_pack("{s:i, s:s, s:s, s:o, s:o}", "seq", items[i].seq, "target", items[i].target, "outcome",
                               job_item_outcome_name(items[i].outcome), "reason", string_or_null(items[i].reason),
                               "acted_at", time_or_null(items[i].acted_ms));
        if (!it || json_array_append_new(arr, it) != 0) {
            json_decref(arr);
            return NULL;
        }
    }
    return arr;
}

/* A dry run's answer (200: count and samples) or a started job's (202,
 * Location /jobs/{id}). Takes `samples`. */
static void respond_plan(oms_http_request *req, oms_http_response *res, bool started, size_t count, json_t *samples,
                         const job *j)
{
    if (!started) {
        oms_http_respond_doc(
            req, res, 200,
            samples ? json_pack("{s:b, s:I, s:o}", "dry_run", 1, "count", (json_int_t)count, "samples", samples)
                    : NULL);
        return;
    }
    oms_http_add_header(req, res, "Location", oms_arena_sprintf(req->arena, "/jobs/%s", j->id));
    json_t *doc = job_json(j);
    if (!samples || !doc) {
        json_decref(samples);
        json_decref(doc);
        oms_http_respond_doc(req, res, 202, NULL);
        return;
    }
    oms_http_respond_doc(req, res, 202,
                         json_pack("{s:b, s:s, s:I, s:o, s:o}", "dry_run", 0, "job_id", j->id, "count",
                                   (json_int_t)count, "samples", samples, "job", doc));
}

/* ---- GET /dead-letters -------------------------------------------------- */

static bool decode_list_query(oms_http_request *req, oms_dead_letter_filter *f, oms_error *err)
{
    memset(f, 0, sizeof *f);
    f->topic = query_param(req, "topic");
    f->event_type = query_param(req, "event_type");
    f->order_id = query_param(req, "order_id");
    f->since = query_param(req, "since");
    const char *status = query_param(req, "status");
    const char *limit = query_param(req, "limit");
    const char *cursor = query_param(req, "cursor");
    f->status = OMS_DEAD_LETTER_DEAD;
    if (status && strcmp(status, "any") == 0)
        f->any_status = true;
    else if (status && !oms_dead_letter_status_parse(status, &f->status))
        return oms_error_set(err, OMS_EINVAL, "status", "status must be dead, redriven, discarded or any"), false;
    f->limit = 100;
    int64_t v = 0;
    if (limit && (!parse_id(limit, &v) || v > OMS_DEAD_LETTER_PAGE_MAX))
        return oms_error_set(err, OMS_EINVAL, "limit", "limit must be 1 to %d", OMS_DEAD_LETTER_PAGE_MAX), false;
    if (limit)
        f->limit = (int)v;
    if (cursor && !parse_id(cursor, &f->after_id))
        return oms_error_set(err, OMS_EINVAL, "cursor", "cursor must be a next_cursor of an earlier page"), false;
    const char *texts[] = {f->topic, f->event_type, f->order_id, f->since};
    const char *names[] = {"topic", "event_type", "order_id", "since"};
    for (size_t i = 0; i < 4; i++)
        if (texts[i] && strlen(texts[i]) > FILTER_TEXT_MAX)
            return oms_error_set(err, OMS_EINVAL, names[i], "%s is at most %d characters", names[i], FILTER_TEXT_MAX),
                   false;
    return true;
}

static void list_dead_letters(void *ctx, oms_http_request *req, oms_http_response *res)
{
    job_service *s = ((http_api *)ctx)->jobs;
    const oms_principal *who = oms_request_principal(req, res);
    if (!who)
        return;
    oms_error err;
    oms_error_clear(&err);
    oms_dead_letter_filter f;
    oms_dead_letter *list = NULL;
    size_t n = 0;
    if (!decode_list_query(req, &f, &err) || jobs_dead_letters(s, req->arena, who, &f, &list, &n, &err) != OMS_OK) {
        respond_error(req, res, &err);
        return;
    }
    json_t *arr = dead_letters_json(list, n);
    char next[24] = "";
    if (n == (size_t)f.limit && n > 0)
        snprintf(next, sizeof next, "%" PRId64, list[n - 1].id);
    oms_http_respond_doc(
        req, res, 200,
        arr ? json_pack("{s:o, s:o}", "dead_letters", arr, "next_cursor", next[0] ? json_string(next) : json_null())
            : NULL);
}

/* ---- POST /dead-letters/{id}/discard ----------------------------------------- */

static void discard_dead_letter(void *ctx, oms_http_request *req, oms_http_response *res)
{
    job_service *s = ((http_api *)ctx)->jobs;
    const oms_principal *who = oms_request_principal(req, res);
    if (!who)
        return;
    int64_t id = 0;
    if (!parse_id(req->params[0], &id)) {
        oms_http_respond_error(req, res, 404, "not_found", "dead letter not found", NULL);
        return;
    }
    json_t *body = oms_http_json_body(req, res);
    if (!body)
        return;
    oms_error err;
    oms_error_clear(&err);
    const char *reason = NULL;
    if (!json_is_object(body))
        oms_error_set(&err, OMS_EINVAL, NULL, "the body must be a JSON object");
    else if (oms_json_string(body, "reason", "reason", JOB_REASON_MAX, true, &reason, &err) == OMS_OK)
        jobs_discard(s, req->arena, who, id, reason, &err);
    if (err.code != OMS_OK) {
        respond_error(req, res, &err);
        return;
    }
    oms_dead_letter_filter by_id = {.ids = &id, .id_count = 1, .any_status = true, .limit = 1};
    oms_dead_letter *list = NULL;
    size_t n = 0;
    if (jobs_dead_letters(s, req->arena, who, &by_id, &list, &n, &err) != OMS_OK || n != 1) {
        oms_http_respond_doc(req, res, 200, json_pack("{s:I, s:s}", "id", (json_int_t)id, "status", "discarded"));
        return;
    }
    oms_http_respond_doc(req, res, 200, dead_letter_json(&list[0]));
}

/* ---- POST /dead-letters/redrive ----------------------------------------------- */

/* rate_per_s, max and dry_run of a job request, with their defaults. */
static oms_err decode_pace(const json_t *body, int *rate_per_s, int *max_items, bool *dry_run, oms_error *err)
{
    int64_t rate = JOB_RATE_DEFAULT, max = JOB_MAX_DEFAULT;
    oms_err rc = OMS_OK;
    if (json_object_get(body, "rate_per_s"))
        rc = oms_json_integer(body, "rate_per_s", "rate_per_s", 1, JOB_RATE_MAX, &rate, err);
    if (rc == OMS_OK && json_object_get(body, "max"))
        rc = oms_json_integer(body, "max", "max", 1, JOB_MAX_ITEMS, &max, err);
    const json_t *dry = json_object_get(body, "dry_run");
    if (rc == OMS_OK && dry && !json_is_boolean(dry))
        rc = oms_error_set(err, OMS_EINVAL, "dry_run", "dry_run must be true or false");
    *rate_per_s = (int)rate;
    *max_items = (int)max;
    *dry_run = json_is_true(dry);
    return rc;
}

static oms_err decode_ids(oms_arena *a, const json_t *ids, redrive_request *r, oms_error *err)
{
    if (!json_is_array(ids) || json_array_size(ids) == 0 || json_array_size(ids) > JOB_MAX_ITEMS)
        return oms_error_set(err, OMS_EINVAL, "ids", "ids must be an array of 1 to %d dead letter ids", JOB_MAX_ITEMS);
    int64_t *out = oms_arena_calloc(a, json_array_size(ids), sizeof *out);
    if (!out)
        return oms_error_set(err, OMS_ENOMEM, NULL, "out of memory");
    for (size_t i = 0; i < json_array_size(ids); i++) {
        const json_t *v = json_array_get(ids, i);
        if (!json_is_integer(v) || json_integer_value(v) < 1)
            return oms_error_set(err, OMS_EINVAL, "ids", "ids[%zu] must be a positive integer", i);
        out[i] = (int64_t)json_integer_value(v);
    }
    r->ids = out;
    r->id_count = json_array_size(ids);
    return OMS_OK;
}

static oms_err decode_filter(const json_t *f, job_filter *out, oms_error *err)
{
    if (!json_is_object(f))
        return oms_error_set(err, OMS_EINVAL, "filter", "filter must be an object");
    oms_err rc = oms_json_string(f, "topic", "filter.topic", FILTER_TEXT_MAX, false, &out->topic, err);
    if (rc == OMS_OK)
        rc = oms_json_string(f, "event_type", "filter.event_type", FILTER_TEXT_MAX, false, &out->event_type, err);
    if (rc == OMS_OK)
        rc = oms_json_string(f, "order_id", "filter.order_id", FILTER_TEXT_MAX, false, &out->order_id, err);
    if (rc == OMS_OK)
        rc = oms_json_string(f, "since", "filter.since", FILTER_TEXT_MAX, false, &out->since, err);
    return rc;
}

static oms_err decode_redrive(oms_arena *a, const json_t *body, redrive_request *r, oms_error *err)
{
    memset(r, 0, sizeof *r);
    if (!json_is_object(body))
        return oms_error_set(err, OMS_EINVAL, NULL, "the body must be a JSON object");
    const json_t *ids = json_object_get(body, "ids");
    const json_t *filter = json_object_get(body, "filter");
    if ((ids != NULL) == (filter != NULL))
        return oms_error_set(err, OMS_EINVAL, "ids", "give either ids or a filter");
    oms_err rc = ids ? decode_ids(a, ids, r, err) : decode_filter(filter, &r->filter, err);
    if (rc == OMS_OK)
        rc = oms_json_string(body, "reason", "reason", JOB_REASON_MAX, false, &r->reason, err);
    return rc == OMS_OK ? decode_pace(body, &r->rate_per_s, &r->max, &r->dry_run, err) : rc;
}

static void redrive_dead_letters(void *ctx, oms_http_request *req, oms_http_response *res)
{
    job_service *s = ((http_api *)ctx)->jobs;
    const oms_principal *who = oms_request_principal(req, res);
    if (!who)
        return;
    json_t *body = oms_http_json_body(req, res);
    if (!body)
        return;
    oms_error err;
    oms_error_clear(&err);
    redrive_request r;
    redrive_plan plan;
    if (decode_redrive(req->arena, body, &r, &err) != OMS_OK) {
        oms_http_respond_oms_error(req, res, &err);
        return;
    }
    r.request_id = req->request_id;
    if (jobs_redrive(s, req->arena, who, &r, &plan, &err) != OMS_OK) {
        respond_error(req, res, &err);
        return;
    }
    respond_plan(req, res, plan.started, plan.count, dead_letters_json(plan.samples, plan.sample_count), &plan.job);
}

/* ---- POST /sagas/bulk ------------------------------------------------------------- */

static oms_err decode_saga_filter(const json_t *f, job_filter *out, oms_error *err)
{
    if (!json_is_object(f))
        return oms_error_set(err, OMS_EINVAL, "filter", "filter must be an object");
    const char *names[] = {"state", "step", "stuck_reason", "customer_id", "order_id", "older_than"};
    const char **targets[] = {&out->state,       &out->step,     &out->stuck_reason,
                              &out->customer_id, &out->order_id, &out->older_than};
    oms_err rc = OMS_OK;
    for (size_t i = 0; rc == OMS_OK && i < sizeof names / sizeof names[0]; i++) {
        char path[40];
        snprintf(path, sizeof path, "filter.%s", names[i]);
        rc = oms_json_string(f, names[i], path, FILTER_TEXT_MAX, false, targets[i], err);
    }
    const json_t *stuck = json_object_get(f, "stuck");
    if (rc == OMS_OK && stuck && !json_is_boolean(stuck))
        rc = oms_error_set(err, OMS_EINVAL, "filter.stuck", "filter.stuck must be true or false");
    if (stuck && json_is_boolean(stuck))
        out->stuck = json_is_true(stuck) ? "true" : "false";
    return rc;
}

static oms_err decode_saga_bulk(const json_t *body, saga_bulk_request *r, oms_error *err)
{
    memset(r, 0, sizeof *r);
    if (!json_is_object(body))
        return oms_error_set(err, OMS_EINVAL, NULL, "the body must be a JSON object");
    const char *action = NULL;
    oms_err rc = oms_json_string(body, "action", "action", 32, true, &action, err);
    if (rc == OMS_OK && (!job_kind_parse(action, &r->action) || !job_kind_is_saga_action(r->action)))
        rc = oms_error_set(err, OMS_EINVAL, "action",
                           "action must be retry_now, pause, resume, compensate or extend_deadline");
    const json_t *filter = json_object_get(body, "filter");
    if (rc == OMS_OK && !filter)
        rc = oms_error_set(err, OMS_EINVAL, "filter", "a bulk action needs a filter ({} for every saga)");
    if (rc == OMS_OK)
        rc = decode_saga_filter(filter, &r->filter, err);
    if (rc == OMS_OK)
        rc = oms_json_string(body, "reason", "reason", JOB_REASON_MAX, true, &r->reason, err);
    return rc == OMS_OK ? decode_pace(body, &r->rate_per_s, &r->max, &r->dry_run, err) : rc;
}

static json_t *saga_samples_json(const saga *sagas, size_t n)
{
    json_t *arr = json_array();
    for (size_t i = 0; arr && i < n; i++) {
        json_t *doc = json_pack("{s:s, s:s, s:s, s:s}", "order_id", sagas[i].order_id, "saga_id", sagas[i].id, "state",
                                order_status_name(sagas[i].state), "current_step", saga_step_name(sagas[i].step));
        if (!doc || json_array_append_new(arr, doc) != 0) {
            json_decref(arr);
            return NULL;
        }
    }
    return arr;
}

static void bulk_sagas(void *ctx, oms_http_request *req, oms_http_response *res)
{
    job_service *s = ((http_api *)ctx)->jobs;
    const oms_principal *who = oms_request_principal(req, res);
    if (!who)
        return;
    json_t *body = oms_http_json_body(req, res);
    if (!body)
        return;
    oms_error err;
    oms_error_clear(&err);
    saga_bulk_request r;
    saga_bulk_plan plan;
    if (decode_saga_bulk(body, &r, &err) != OMS_OK || jobs_saga_bulk(s, req->arena, who, &r, &plan, &err) != OMS_OK) {
        respond_error(req, res, &err);
        return;
    }
    respond_plan(req, res, plan.started, plan.count, saga_samples_json(plan.samples, plan.sample_count), &plan.job);
}

/* ---- jobs ---------------------------------------------------------------- */

static void get_job(void *ctx, oms_http_request *req, oms_http_response *res)
{
    job_service *s = ((http_api *)ctx)->jobs;
    const oms_principal *who = oms_request_principal(req, res);
    if (!who)
        return;
    oms_error err;
    oms_error_clear(&err);
    int64_t after = 0;
    const char *after_text = query_param(req, "items_after");
    if (after_text && (!parse_id(after_text, &after) || after > JOB_MAX_ITEMS)) {
        oms_http_respond_error(req, res, 400, "invalid_argument", "items_after must be an item's seq", "items_after");
        return;
    }
    job j;
    job_item *items = NULL;
    size_t n = 0;
    if (jobs_get(s, req->arena, who, req->params[0], (int)after, &j, &items, &n, &err) != OMS_OK) {
        respond_error(req, res, &err);
        return;
    }
    json_t *doc = job_json(&j);
    json_t *list = items_json(items, n);
    char next[16] = "";
    if (n == JOB_ITEMS_PAGE)
        snprintf(next, sizeof next, "%d", items[n - 1].seq);
    if (doc && list &&
        (json_object_set_new(doc, "items", list) != 0 ||
         json_object_set_new(doc, "next_items_after", next[0] ? json_string(next) : json_null()) != 0)) {
        json_decref(doc);
        doc = NULL;
    } else if (!list) {
        json_decref(doc);
        doc = NULL;
    }
    oms_http_respond_doc(req, res, 200, doc);
}

static void list_jobs(void *ctx, oms_http_request *req, oms_http_response *res)
{
    job_service *s = ((http_api *)ctx)->jobs;
    const oms_principal *who = oms_request_principal(req, res);
    if (!who)
        return;
    oms_error err;
    oms_error_clear(&err);
    const char *state_text = query_param(req, "state");
    job_state state = JOB_RUNNING;
    if (state_text && !job_state_parse(state_text, &state)) {
        oms_http_respond_error(req, res, 400, "invalid_argument", "state must be running, stopped or done", "state");
        return;
    }
    job *list = NULL;
    size_t n = 0;
    if (jobs_list(s, req->arena, who, state_text ? (int)state : -1, &list, &n, &err) != OMS_OK) {
        respond_error(req, res, &err);
        return;
    }
    json_t *arr = json_array();
    for (size_t i = 0; arr && i < n; i++) {
        if (json_array_append_new(arr, job_json(&list[i])) != 0) {
            json_decref(arr);
            arr = NULL;
        }
    }
    oms_http_respond_doc(req, res, 200, arr ? json_pack("{s:o}", "jobs", arr) : NULL);
}

static void stop_job(void *ctx, oms_http_request *req, oms_http_response *res)
{
    job_service *s = ((http_api *)ctx)->jobs;
    const oms_principal *who = oms_request_principal(req, res);
    if (!who)
        return;
    oms_error err;
    oms_error_clear(&err);
    job j;
    if (jobs_stop(s, req->arena, who, req->params[0], &j, &err) != OMS_OK) {
        respond_error(req, res, &err);
        return;
    }
    oms_http_respond_doc(req, res, 200, job_json(&j));
}

static const oms_http_route routes[] = {
    {"GET", "/dead-letters", list_dead_letters, "list_dead_letters", NULL},
    {"POST", "/dead-letters/redrive", redrive_dead_letters, "redrive_dead_letters", NULL},
    {"POST", "/dead-letters/{}/discard", discard_dead_letter, "discard_dead_letter", NULL},
    {"POST", "/sagas/bulk", bulk_sagas, "bulk_sagas", NULL},
    {"GET", "/jobs", list_jobs, "list_jobs", NULL},
    {"GET", "/jobs/{}", get_job, "get_job", NULL},
    {"POST", "/jobs/{}/stop", stop_job, "stop_job", NULL},
};

const oms_http_route *http_ops_routes(size_t *count)
{
    *count = sizeof routes / sizeof routes[0];
    return routes;
}
