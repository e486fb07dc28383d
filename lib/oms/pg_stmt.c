/* pg_stmt.c -- a prepared-statement cache per connection.
 *
 * Every statement of the services is a fixed SQL text with parameters, run
 * thousands of times per second. Sent unnamed, PostgreSQL parses, analyses
 * and plans each one every time: about half of its CPU under load (perf:
 * base_yyparse, copyObjectImpl, the catalog hash lookups). Here each text is
 * prepared once per connection under a name and executed by that name after.
 *
 * The cache hangs on the PGconn through libpq's event system (libpq-events):
 * PQinstanceData gives it back, PGEVT_CONNRESET empties it (a reset opens a
 * new server session, which has no prepared statements) and PGEVT_CONNDESTROY
 * frees it. A connection made elsewhere (tests) has no cache and runs its
 * statements unnamed, as does a text once the cache is full. Prepared
 * statements outlive a rolled-back transaction, so an entry stays valid for
 * the life of the session (a pipeline that fails forgets them all: its
 * queued prepares may not have run; the names are never reused, so what the
 * server still holds is only unused). A server behind a transaction-pooling proxy that
 * does not track prepared statements (PgBouncer before 1.21) cannot serve
 * this; point POSTGRES_HOST at PostgreSQL itself. */
#include <libpq-events.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pg_internal.h"

#define STMT_SLOTS 256      /* open addressing; a power of two */
#define STMT_MAX_CACHED 192 /* keeps probes short */
#define STMT_NAME_MAX 24

typedef struct stmt_entry {
    char *sql; /* NULL: free slot */
    uint32_t hash;
    char name[STMT_NAME_MAX];
} stmt_entry;

typedef struct stmt_cache {
    stmt_entry slots[STMT_SLOTS];
    int count;
    unsigned next_id;
} stmt_cache;

static void cache_clear(stmt_cache *c)
{
    for (int i = 0; i < STMT_SLOTS; i++) {
        free(c->slots[i].sql);
        c->slots[i].sql = NULL;
    }
    c->count = 0;
}

static int stmt_event(PGEventId id, void *info, void *pass_through)
{
    (void)pass_through;
    if (id == PGEVT_CONNRESET) {
        PGEventConnReset *e = info;
        stmt_cache *c = PQinstanceData(e->conn, stmt_event);
        if (c)
            cache_clear(c);
    } else if (id == PGEVT_CONNDESTROY) {
        PGEventConnDestroy *e = info;
        stmt_cache *c = PQinstanceData(e->conn, stmt_event);
        if (c) {
            cache_clear(c);
            free(c);
        }
    }
    return 1;
}

bool oms_pg_stmt_cache_attach(PGconn *conn)
{
    stmt_cache *c = calloc(1, sizeof *c);
    if (!c)
        return false;
    if (!PQregisterEventProc(conn, stmt_event, "oms_pg_stmt", NULL) || !PQsetInstanceData(conn, stmt_event, c)) {
        free(c);
        return false;
    }
    return true;
}

/* FNV-1a: the texts are short and fixed, this is only for the slot. */
static uint32_t hash_text(const char *s)
{
    uint32_t h = 2166136261u;
    for (; *s; s++)
        h = (h ^ (unsigned char)*s) * 16777619u;
    return h;
}

/* The slot holding `sql`, or the free slot where it would go. */
static stmt_entry *find_slot(stmt_cache *c, const char *sql, uint32_t hash)
{
    for (uint32_t i = 0; i < STMT_SLOTS; i++) {
        stmt_entry *e = &c->slots[(hash + i) & (STMT_SLOTS - 1)];
        if (!e->sql || (e->hash == hash && strcmp(e->sql, sql) == 0))
            return e;
    }
    return NULL; /* unreachable while count < STMT_SLOTS */
}

/* The entry for `sql`: the cached one (*fresh false), or one reserved now
 * under a new name (*fresh true: the caller prepares it, and forgets it if
 * that fails); NULL without a cache, when it is full or out of memory: run
 * the text unnamed. */
static stmt_entry *entry_for(PGconn *conn, const char *sql, bool *fresh)
{
    *fresh = false;
    stmt_cache *c = PQinstanceData(conn, stmt_event);
    if (!c)
        return NULL;
    uint32_t hash = hash_text(sql);
    stmt_entry *e = find_slot(c, sql, hash);
    if (!e || e->sql)
        return e;
    if (c->count >= STMT_MAX_CACHED)
        return NULL;
    char *copy = strdup(sql);
    if (!copy)
        return NULL;
    e->sql = copy;
    e->hash = hash;
    snprintf(e->name, sizeof e->name, "oms_%u", c->next_id++);
    c->count++;
    *fresh = true;
    return e;
}

/* Undoes entry_for's reservation of `e` (its prepare failed). Safe for
 * open addressing: nothing was placed after `e` in between. */
static void forget_entry(PGconn *conn, stmt_entry *e)
{
    stmt_cache *c = PQinstanceData(conn, stmt_event);
    free(e->sql);
    e->sql = NULL;
    c->count--;
}

const char *oms_pg_stmt_name(PGconn *conn, const char *sql, bool *must_prepare)
{
    /* Reserved now; the caller queues the prepare ahead of the execution,
     * and calls oms_pg_stmt_forget_all if the pipeline fails. */
    stmt_entry *e = entry_for(conn, sql, must_prepare);
    return e ? e->name : NULL;
}

void oms_pg_stmt_forget_all(PGconn *conn)
{
    stmt_cache *c = PQinstanceData(conn, stmt_event);
    if (c)
        cache_clear(c);
}

PGresult *oms_pg_stmt_exec(PGconn *conn, const char *sql, int nparams, const char *const *params)
{
    bool fresh;
    stmt_entry *e = entry_for(conn, sql, &fresh);
    if (e && fresh) {
        PGresult *r = PQprepare(conn, e->name, sql, nparams, NULL);
        if (PQresultStatus(r) != PGRES_COMMAND_OK) {
            forget_entry(conn, e);
            if (r)
                return r; /* a syntax error, an aborted transaction, a lost connection */
            e = NULL;     /* out of memory in libpq: try it unnamed */
        } else {
            PQclear(r);
        }
    }
    if (!e)
        return PQexecParams(conn, sql, nparams, NULL, params, NULL, NULL, 0);
    return PQexecPrepared(conn, e->name, nparams, params, NULL, NULL, 0);
}
