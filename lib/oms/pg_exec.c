/* pg_exec.c -- running statements: parameters as text, SQLSTATE mapped to
 * oms_err, results owned by an arena, and the small conversions every pg
 * adapter needs (integers and arrays as parameters, values read back). */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "pg.h"
#include "pg_internal.h"

static bool starts_with(const char *s, const char *prefix) { return strncmp(s, prefix, strlen(prefix)) == 0; }

static oms_err code_of_sqlstate(const char *state)
{
    if (strcmp(state, "23505") == 0 || strcmp(state, "23P01") == 0)
        return OMS_ECONFLICT;
    if (strcmp(state, "40001") == 0 || strcmp(state, "40P01") == 0 || strcmp(state, "55P03") == 0)
        return OMS_EBUSY;
    if (starts_with(state, "08") || strcmp(state, "57P01") == 0 || strcmp(state, "57P02") == 0 ||
        strcmp(state, "57P03") == 0)
        return OMS_EUNAVAILABLE;
    if (strcmp(state, "57014") == 0)
        return OMS_ETIMEOUT;
    if (starts_with(state, "22") || starts_with(state, "23"))
        return OMS_EINVAL;
    return OMS_EINTERNAL;
}

oms_err oms_pg_map_failure(PGconn *c, const PGresult *r, oms_error *err)
{
    const char *state = r ? PQresultErrorField(r, PG_DIAG_SQLSTATE) : NULL;
    const char *primary = r ? PQresultErrorField(r, PG_DIAG_MESSAGE_PRIMARY) : NULL;
    char line[200];
    oms_pg_first_line(primary ? primary : PQerrorMessage(c), line, sizeof line);
    oms_err code;
    if (state)
        code = code_of_sqlstate(state);
    else if (PQstatus(c) != CONNECTION_OK)
        code = OMS_EUNAVAILABLE;
    else if (!r)
        code = OMS_ENOMEM;
    else
        code = OMS_EINTERNAL;
    if (code == OMS_EUNAVAILABLE && !line[0])
        snprintf(line, sizeof line, "connection to the database lost");
    /* What may reach a client is a fixed sentence per code, not PostgreSQL's
     * text (which names constraints, columns, values, hosts and ports); the
     * text goes to the log line. An internal error keeps it: a 500 never
     * shows its message (oms_http_respond_oms_error), and an operator reading
     * a failed migration needs it. */
    if (code == OMS_EINTERNAL)
        return oms_error_set(err, code, NULL, "%s", line);
    const char *fixed;
    switch (code) {
    case OMS_EINVAL: fixed = "a value is outside what the database accepts"; break;
    case OMS_ECONFLICT: fixed = "it conflicts with what is stored"; break;
    case OMS_EBUSY:
        fixed = "what it needs is locked by other work; nothing was applied, the request may be retried";
        break;
    case OMS_ETIMEOUT: fixed = OMS_PG_TIMEOUT_MESSAGE; break;
    case OMS_EUNAVAILABLE: fixed = "the database is unavailable"; break;
    default: fixed = "out of memory"; break;
    }
    bool expected = code == OMS_EINVAL || code == OMS_ECONFLICT || code == OMS_EBUSY || code == OMS_ETIMEOUT;
    oms_log(expected ? OMS_LOG_INFO : OMS_LOG_WARN, expected ? "database_refused" : "database_failed", "sqlstate",
            state, "message", line, NULL);
    return oms_error_set(err, code, NULL, "%s", fixed);
}

static void clear_result(void *r) { PQclear(r); }

PGresult *oms_pg_own_result(oms_arena *a, PGresult *r, oms_error *err)
{
    if (a && oms_arena_on_reset(a, clear_result, r) != 0) {
        oms_error_set(err, OMS_ENOMEM, NULL, "out of memory");
        return NULL; /* r was cleared by the arena */
    }
    return r;
}

PGresult *oms_pg_exec(oms_arena *a, PGconn *c, const char *sql, int nparams, const char *const *params, oms_error *err)
{
    PGresult *r = oms_pg_stmt_exec(c, sql, nparams, params);
    ExecStatusType st = PQresultStatus(r);
    if (r && (st == PGRES_COMMAND_OK || st == PGRES_TUPLES_OK))
        return oms_pg_own_result(a, r, err);
    oms_pg_map_failure(c, r, err);
    PQclear(r);
    return NULL;
}

const char *oms_pg_value(const PGresult *r, int row, int col)
{
    if (!r || row < 0 || row >= PQntuples(r) || col < 0 || col >= PQnfields(r) || PQgetisnull(r, row, col))
        return NULL;
    return PQgetvalue(r, row, col);
}

oms_err oms_pg_run(PGconn *c, const char *sql, oms_error *err)
{
    PGresult *r = PQexec(c, sql);
    ExecStatusType st = PQresultStatus(r);
    oms_err rc = OMS_OK;
    if (st != PGRES_COMMAND_OK && st != PGRES_TUPLES_OK)
        rc = oms_pg_map_failure(c, r, err);
    PQclear(r);
    return rc;
}

/* ---- parameters and values ---- */

const char *oms_pg_int_param(oms_arena *a, int64_t v) { return oms_arena_sprintf(a, "%" PRId64, v); }

const char *oms_pg_array_param(oms_arena *a, const char *const *items, const size_t *lens, size_t n)
{
    size_t size = 3; /* braces and NUL */
    for (size_t i = 0; i < n; i++)
        size += 2 * (lens ? lens[i] : strlen(items[i])) + 3; /* quotes, comma, every byte escaped */
    char *out = oms_arena_alloc(a, size);
    if (!out)
        return NULL;
    char *w = out;
    *w++ = '{';
    for (size_t i = 0; i < n; i++) {
        size_t len = lens ? lens[i] : strlen(items[i]);
        if (i > 0)
            *w++ = ',';
        *w++ = '"';
        for (size_t j = 0; j < len; j++) {
            if (items[i][j] == '"' || items[i][j] == '\\')
                *w++ = '\\';
            *w++ = items[i][j];
        }
        *w++ = '"';
    }
    *w++ = '}';
    *w = '\0';
    return out;
}

oms_err oms_pg_int_value(const PGresult *r, int row, int col, int64_t *out, oms_error *err)
{
    const char *text = oms_pg_value(r, row, col);
    if (!text)
        return oms_error_set(err, OMS_EINTERNAL, NULL, "unexpected NULL in column %d", col);
    char *end = NULL;
    long long v = strtoll(text, &end, 10);
    if (end == text || *end)
        return oms_error_set(err, OMS_EINTERNAL, NULL, "column %d is not an integer", col);
    *out = (int64_t)v;
    return OMS_OK;
}

const char *oms_pg_text_value(oms_arena *a, const PGresult *r, int row, int col)
{
    const char *v = oms_pg_value(r, row, col);
    return v ? oms_arena_strdup(a, v) : NULL;
}
