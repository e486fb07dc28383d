/* audit.c -- the audit trail's PostgreSQL adapter, its reading (GET /audit
 * of each service) and the merge of several services' pages (the gateway). */
#include "audit_pg.h"

#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "json.h"
#include "util.h"

#define AUDIT_ACQUIRE_TIMEOUT_MS 5000
#define AUDIT_NAME_MAX 64 /* a service name in a cursor */

/* ---- the PostgreSQL adapter ---- */

/* At most the first OMS_AUDIT_REASON_MAX bytes of a reason (NULL: none),
 * never cutting a UTF-8 character in two (PostgreSQL would refuse it). */
static const char *clipped_reason(oms_arena *a, const char *reason)
{
    size_t n = reason ? strnlen(reason, OMS_AUDIT_REASON_MAX + 1) : 0;
    if (n > OMS_AUDIT_REASON_MAX) {
        n = OMS_AUDIT_REASON_MAX;
        while (n > 0 && ((unsigned char)reason[n] & 0xC0) == 0x80)
            n--;
    }
    return oms_arena_strndup(a, reason, n);
}

/* A state as the JSON text of its object; *out NULL for no state. */
static oms_err state_json(oms_arena *a, const oms_audit_state *st, const char **out, oms_error *err)
{
    *out = NULL;
    if (!st)
        return OMS_OK;
    json_t *doc = json_object();
    for (size_t i = 0; doc && i < st->count; i++) {
        const oms_audit_field *f = &st->fields[i];
        json_t *v = f->kind == OMS_AUDIT_MONEY ? oms_json_money_value(f->value)
                    : f->kind == OMS_AUDIT_INT ? json_integer((json_int_t)f->value)
                    : f->text                  ? json_string(f->text)
                                               : json_null();
        if (!f->name || json_object_set_new(doc, f->name, v) != 0) {
            json_decref(doc);
            doc = NULL;
        }
    }
    *out = doc ? oms_json_dump(a, doc, NULL) : NULL;
    json_decref(doc);
    return *out ? OMS_OK : oms_error_set(err, OMS_ENOMEM, NULL, "an audit state could not be written");
}

static oms_err pg_append(oms_audit_log *l, oms_tx *tx, oms_arena *a, const oms_audit_entry *e, oms_error *err)
{
    (void)l;
    if (!e->by || !e->by->id || !e->action || !e->target)
        return oms_error_set(err, OMS_EINVAL, NULL, "an audit row needs a principal, an action and a target");
    if (e->saga_id && !oms_uuid_valid(e->saga_id))
        return oms_error_set(err, OMS_EINVAL, NULL, "an audit row's saga_id must be a UUID");
    const char *reason = clipped_reason(a, e->reason);
    if (e->reason && !reason)
        return oms_error_set(err, OMS_ENOMEM, NULL, "out of memory");
    const char *before, *after;
    if (state_json(a, e->before, &before, err) != OMS_OK || state_json(a, e->after, &after, err) != OMS_OK)
        return err->code;
    const char *params[] = {e->by->id, oms_role_name(e->by->role), e->action, e->target, e->saga_id, reason, before,
                            after,     e->by->request_id};
    return oms_pg_tx_exec_deferred(tx,
                                   "INSERT INTO audit_log (actor, role, action, target, saga_id, reason,"
                                   " state_before, state_after, request_id)"
                                   " VALUES ($1, $2, $3, $4, $5::uuid, $6, $7::jsonb, $8::jsonb, $9)",
                                   9, params, err);
}

oms_audit_log oms_pg_audit_log(void)
{
    static const oms_audit_log_ops ops = {.append = pg_append};
    return (oms_audit_log){.ops = &ops, .self = NULL};
}

/* ---- the filter of GET /audit ---- */

typedef struct audit_cursor {
    int64_t at_us;
    char service[AUDIT_NAME_MAX + 1];
    int64_t id;
} audit_cursor;

static bool parse_int(const char *s, size_t len, int64_t *out)
{
    if (len == 0 || len > 19)
        return false;
    int64_t v = 0;
    for (size_t i = 0; i < len; i++) {
        if (s[i] < '0' || s[i] > '9' || v > (INT64_MAX - (s[i] - '0')) / 10)
            return false;
        v = v * 10 + (s[i] - '0');
    }
    *out = v;
    return true;
}

/* "<at_us>:<service>:<id>". */
static bool parse_cursor(const char *text, audit_cursor *out)
{
    const char *first = strchr(text, ':');
    const char *last = strrchr(text, ':');
    if (!first || first == last)
        return false;
    size_t name_len = (size_t)(last - first - 1);
    if (name_len == 0 || name_len > AUDIT_NAME_MAX)
        return false;
    memcpy(out->service, first + 1, name_len);
    out->service[name_len] = '\0';
    return parse_int(text, (size_t)(first - text), &out->at_us) && parse_int(last + 1, strlen(last + 1), &out->id);
}

/* A text filter: at most 200 printable characters. */
static bool text_param(oms_http_request *req, oms_http_response *res, const char *name, const char **out)
{
    const char *v = oms_http_query(req, name);
    *out = v;
    if (!v)
        return true;
    size_t len = strlen(v);
    bool ok = len > 0 && len <= 200;
    for (size_t i = 0; ok && i < len; i++)
        ok = (unsigned char)v[i] >= 0x20 && v[i] != 0x7f;
    if (!ok) {
        char message[96];
        snprintf(message, sizeof message, "%s must be 1 to 200 printable characters", name);
        oms_http_respond_error(req, res, 400, "invalid_argument", message, name);
    }
    return ok;
}

static bool limit_param(oms_http_request *req, oms_http_response *res, size_t *out)
{
    const char *v = oms_http_query(req, "limit");
    int64_t n = OMS_AUDIT_LIMIT_DEFAULT;
    if (v && (!parse_int(v, strlen(v), &n) || n < 1 || n > OMS_AUDIT_LIMIT_MAX)) {
        oms_http_respond_error(req, res, 400, "invalid_argument", "limit must be an integer from 1 to 1000", "limit");
        return false;
    }
    *out = (size_t)n;
    return true;
}

bool oms_audit_filter_parse(oms_http_request *req, oms_http_response *res, oms_audit_filter *out)
{
    *out = (oms_audit_filter){0};
    if (!text_param(req, res, "actor", &out->actor) || !text_param(req, res, "target", &out->target) ||
        !text_param(req, res, "since", &out->since) || !text_param(req, res, "cursor", &out->cursor) ||
        !limit_param(req, res, &out->limit))
        return false;
    out->saga_id = oms_http_query(req, "saga_id");
    if (out->saga_id && !oms_uuid_valid(out->saga_id)) {
        oms_http_respond_error(req, res, 400, "invalid_argument", "saga_id must be a UUID", "saga_id");
        return false;
    }
    audit_cursor c;
    if (out->cursor && !parse_cursor(out->cursor, &c)) {
        oms_http_respond_error(req, res, 400, "invalid_argument", "cursor is not one this API gave", "cursor");
        return false;
    }
    return true;
}

/* ---- reading one database ---- */

static json_t *nullable_string(const PGresult *r, int row, int col)
{
    const char *v = oms_pg_value(r, row, col);
    return v ? json_string(v) : json_null();
}

void oms_audit_exact_money(json_t *state)
{
    const char *key;
    json_t *value;
    json_object_foreach(state, key, value)
    {
        if (json_is_real(value))
            json_object_set_new(state, key, oms_json_money_value(llround(json_real_value(value) * 100.0)));
    }
}

/* A state column (jsonb) as its value, money exact (null when NULL or
 * unreadable). */
static json_t *json_column(const PGresult *r, int row, int col)
{
    const char *v = oms_pg_value(r, row, col);
    json_t *doc = v ? json_loads(v, JSON_DECODE_ANY, NULL) : NULL;
    if (!doc)
        return json_null();
    oms_audit_exact_money(doc);
    return doc;
}

static json_t *row_json(const PGresult *r, int row, const char *service, oms_error *err)
{
    int64_t id, at_us;
    if (oms_pg_int_value(r, row, 0, &id, err) != OMS_OK || oms_pg_int_value(r, row, 1, &at_us, err) != OMS_OK)
        return NULL;
    json_t *o = json_pack(
        "{s:I, s:s, s:o, s:I, s:o, s:o, s:o, s:o, s:o, s:o, s:o, s:o, s:o}", "id", (json_int_t)id, "service", service,
        "at", nullable_string(r, row, 2), "at_us", (json_int_t)at_us, "actor", nullable_string(r, row, 3), "role",
        nullable_string(r, row, 4), "action", nullable_string(r, row, 5), "target", nullable_string(r, row, 6),
        "saga_id", nullable_string(r, row, 7), "reason", nullable_string(r, row, 8), "before", json_column(r, row, 9),
        "after", json_column(r, row, 10), "request_id", nullable_string(r, row, 11));
    if (!o)
        oms_error_set(err, OMS_ENOMEM, NULL, "out of memory");
    return o;
}

/* The cursor as this service's bounds: rows after (at_us, tie_id), where a
 * row at the cursor's very time follows it when this service sorts after
 * the cursor's (any id: 0), is the same (a greater id) or never (NULL). */
static void cursor_bounds(oms_arena *a, const char *service, const char *text, const char **at_us, const char **tie_id)
{
    audit_cursor c;
    *at_us = NULL;
    *tie_id = NULL;
    if (!text || !parse_cursor(text, &c))
        return;
    *at_us = oms_pg_int_param(a, c.at_us);
    int order = strcmp(service, c.service);
    if (order == 0)
        *tie_id = oms_pg_int_param(a, c.id);
    else if (order > 0)
        *tie_id = "0";
}

static const char list_sql
    [] = "SELECT id, at_us, to_char(at AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.US\"Z\"'), actor, role, action,"
         " target, saga_id::text, reason, state_before::text, state_after::text, request_id"
         " FROM (SELECT *, (extract(epoch FROM at) * 1000000)::bigint AS at_us FROM audit_log"
         "       WHERE ($1::text IS NULL OR actor = $1) AND ($2::uuid IS NULL OR saga_id = $2::uuid)"
         "         AND ($3::text IS NULL OR target = $3) AND ($4::timestamptz IS NULL OR at >= $4::timestamptz)) r"
         " WHERE ($5::bigint IS NULL OR r.at_us > $5::bigint OR (r.at_us = $5::bigint AND r.id > $6::bigint))"
         " ORDER BY r.at_us, r.id LIMIT $7::bigint";

oms_err oms_audit_list(oms_pg_pool *pool, oms_arena *a, const char *service, const oms_audit_filter *f, json_t **out,
                       oms_error *err)
{
    const char *at_us, *tie_id;
    cursor_bounds(a, service, f->cursor, &at_us, &tie_id);
    if (f->cursor && !at_us)
        return oms_error_set(err, OMS_EINVAL, "cursor", "cursor is not one this API gave");
    const char *limit = oms_pg_int_param(a, (int64_t)(f->limit ? f->limit : OMS_AUDIT_LIMIT_DEFAULT));
    if (!limit)
        return oms_error_set(err, OMS_ENOMEM, NULL, "out of memory");
    const char *params[] = {f->actor, f->saga_id, f->target, f->since, at_us, tie_id, limit};
    PGconn *c = oms_pg_acquire(pool, AUDIT_ACQUIRE_TIMEOUT_MS, err);
    if (!c)
        return err->code;
    PGresult *r = oms_pg_exec(a, c, list_sql, 7, params, err);
    oms_pg_release(pool, c, !r && err->code == OMS_EUNAVAILABLE);
    if (!r)
        return err->code == OMS_EINVAL ? oms_error_set(err, OMS_EINVAL, "since", "since must be an RFC 3339 time")
                                       : err->code;
    json_t *rows = oms_json_own(a, json_array());
    if (!rows)
        return oms_error_set(err, OMS_ENOMEM, NULL, "out of memory");
    for (int i = 0; i < PQntuples(r); i++) {
        json_t *row = row_json(r, i, service, err);
        if (!row || json_array_append_new(rows, row) != 0)
            return row ? oms_error_set(err, OMS_ENOMEM, NULL, "out of memory") : err->code;
    }
    *out = rows;
    return OMS_OK;
}

/* ---- merging the services' pages ---- */

typedef struct merge_row {
    json_t *row;
    int64_t at_us, id;
    const char *service;
} merge_row;

static int merge_row_cmp(const void *x, const void *y)
{
    const merge_row *a = x, *b = y;
    if (a->at_us != b->at_us)
        return a->at_us < b->at_us ? -1 : 1;
    int order = strcmp(a->service, b->service);
    if (order != 0)
        return order;
    return a->id < b->id ? -1 : a->id > b->id;
}

/* The rows of every page that carry the keys the order needs. */
static merge_row *collect(json_t *const *pages, size_t page_count, size_t limit, size_t *n, bool *maybe_more)
{
    size_t total = 0;
    for (size_t p = 0; p < page_count; p++)
        total += json_array_size(pages[p]);
    merge_row *rows = calloc(total ? total : 1, sizeof *rows);
    if (!rows)
        return NULL;
    *n = 0;
    *maybe_more = false;
    for (size_t p = 0; p < page_count; p++) {
        size_t i;
        json_t *row;
        if (json_array_size(pages[p]) >= limit)
            *maybe_more = true;
        json_array_foreach(pages[p], i, row)
        {
            json_t *service = json_object_get(row, "service");
            if (!json_is_integer(json_object_get(row, "at_us")) || !json_is_integer(json_object_get(row, "id")) ||
                !json_is_string(service))
                continue;
            oms_audit_exact_money(json_object_get(row, "before"));
            oms_audit_exact_money(json_object_get(row, "after"));
            rows[(*n)++] = (merge_row){.row = row,
                                       .at_us = json_integer_value(json_object_get(row, "at_us")),
                                       .id = json_integer_value(json_object_get(row, "id")),
                                       .service = json_string_value(service)};
        }
    }
    return rows;
}

json_t *oms_audit_merge(json_t *const *pages, size_t page_count, size_t limit, oms_arena *a, const char **next_cursor)
{
    size_t n = 0;
    bool maybe_more = false;
    *next_cursor = NULL;
    merge_row *rows = collect(pages, page_count, limit, &n, &maybe_more);
    json_t *merged = rows ? json_array() : NULL;
    if (!merged) {
        free(rows);
        return NULL;
    }
    qsort(rows, n, sizeof *rows, merge_row_cmp);
    size_t take = n < limit ? n : limit;
    for (size_t i = 0; i < take; i++) {
        if (json_array_append(merged, rows[i].row) != 0) {
            json_decref(merged);
            free(rows);
            return NULL;
        }
    }
    if (take > 0 && (maybe_more || n > take)) {
        const merge_row *last = &rows[take - 1];
        *next_cursor = oms_arena_sprintf(a, "%" PRId64 ":%s:%" PRId64, last->at_us, last->service, last->id);
        if (!*next_cursor) {
            json_decref(merged);
            merged = NULL;
        }
    }
    free(rows);
    return merged;
}
