/* pg_pool.c -- PostgreSQL connection settings and a lazy pool of
 * connections: opened on demand, checked before they are handed out,
 * replaced when the server ended them. */
#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"
#include "pg.h"
#include "pg_internal.h"
#include "wait.h"

#define PING_TIMEOUT_MS 2000

struct oms_pg_pool {
    char *name;
    oms_pg_settings settings; /* owned copies (oms_pg_settings_copy) */
    int size;
    int open; /* connections that exist, idle or borrowed */
    int idle_count;
    PGconn **idle; /* `size` slots */
    pthread_mutex_t lock;
    pthread_cond_t freed;
    oms_tx_manager tx_manager;
};

/* ---- settings ---- */

const char *const oms_pg_sslmodes[] = {"disable", "allow", "prefer", "require", "verify-ca", "verify-full", NULL};

oms_err oms_pg_parse_ca_file(const char *value, void *target, oms_error *err)
{
    if (value) {
        FILE *f = fopen(value, "r");
        if (!f)
            return oms_error_set(err, OMS_EINVAL, NULL, "cannot read the file: %s", strerror(errno));
        fclose(f);
    }
    *(const char **)target = value;
    return OMS_OK;
}

void oms_pg_settings_add(oms_settings *t, const char *db_var, const char *db_default, oms_pg_settings *s)
{
    const oms_setting rows[OMS_PG_SETTING_ROWS] = {
        {.name = "POSTGRES_HOST",
         .kind = OMS_SETTING_TEXT,
         .fallback = "localhost",
         .target = &s->host,
         .doc = "Host of the PostgreSQL server."},
        {.name = "POSTGRES_PORT",
         .kind = OMS_SETTING_INT_TEXT,
         .fallback = "5432",
         .min = 1,
         .max = 65535,
         .target = &s->port,
         .doc = "Port of the PostgreSQL server."},
        {.name = "POSTGRES_USER",
         .kind = OMS_SETTING_TEXT,
         .fallback = "postgres",
         .target = &s->user,
         .doc = "PostgreSQL user."},
        {.name = "POSTGRES_PASSWORD",
         .kind = OMS_SETTING_TEXT,
         .fallback = "",
         .target = &s->password,
         .flags = OMS_SETTING_SECRET | OMS_SETTING_FILE | OMS_SETTING_NO_PLACEHOLDER,
         .doc = "PostgreSQL password (empty: none, e.g. a PGPASSFILE); a published placeholder is refused."},
        {.name = db_var,
         .kind = OMS_SETTING_TEXT,
         .fallback = db_default,
         .target = &s->dbname,
         .flags = db_default ? 0 : OMS_SETTING_REQUIRED,
         .doc = "The database (created at start when missing)."},
        {.name = "POSTGRES_SSLMODE",
         .kind = OMS_SETTING_ENUM,
         .fallback = "prefer",
         .allowed = oms_pg_sslmodes,
         .target = &s->sslmode,
         .doc = "TLS to PostgreSQL (libpq's sslmode): verify-full checks the server's certificate and name."},
        {.name = "POSTGRES_SSLROOTCERT",
         .kind = OMS_SETTING_PARSED,
         .parse = oms_pg_parse_ca_file,
         .bounds = "a readable file",
         .target = &s->sslrootcert,
         .doc = "The CA certificate(s) that sign the PostgreSQL server's certificate (verify-ca, verify-full)."},
    };
    oms_settings_add(t, "pg", rows, OMS_PG_SETTING_ROWS);
}

oms_pg_settings oms_pg_settings_from_env(const char *db_var, const char *db_default)
{
    static oms_settings table; /* large; callers are single-threaded start-up code and tests */
    oms_pg_settings s = {0};
    oms_settings_init(&table, NULL);
    oms_pg_settings_add(&table, db_var, db_default, &s);
    oms_settings_load(&table, NULL);
    return s;
}

oms_err oms_pg_settings_copy(const oms_pg_settings *s, oms_pg_settings *out)
{
    const char *from[] = {s->host, s->port, s->user, s->password, s->dbname, s->sslmode, s->sslrootcert};
    enum { FIELDS = sizeof from / sizeof from[0] };
    size_t size = 0;
    for (size_t i = 0; i < FIELDS; i++)
        size += strlen(from[i] ? from[i] : "") + 1;
    char *block = malloc(size);
    if (!block) {
        *out = (oms_pg_settings){0};
        return OMS_ENOMEM;
    }
    const char **to[FIELDS] = {&out->host,   &out->port,    &out->user,       &out->password,
                               &out->dbname, &out->sslmode, &out->sslrootcert};
    char *w = block;
    for (size_t i = 0; i < FIELDS; i++) {
        size_t len = strlen(from[i] ? from[i] : "") + 1;
        memcpy(w, from[i] ? from[i] : "", len);
        *to[i] = w;
        w += len;
    }
    out->statement_timeout_ms = s->statement_timeout_ms;
    out->lock_timeout_ms = s->lock_timeout_ms;
    return OMS_OK;
}

void oms_pg_settings_free(oms_pg_settings *s)
{
    free((char *)s->host); /* the block of oms_pg_settings_copy starts with the host */
    *s = (oms_pg_settings){0};
}

PGconn *oms_pg_connect(const oms_pg_settings *s, const char *dbname, const char *app_name)
{
    /* Only the settings that are there: a NULL value would end libpq's
     * list, and an empty one leaves libpq its default. */
    const char *const names[] = {"host", "port", "user", "password", "sslmode", "sslrootcert"};
    const char *const given[] = {s->host, s->port, s->user, s->password, s->sslmode, s->sslrootcert};
    enum { GIVEN = sizeof names / sizeof names[0] };
    const char *keys[GIVEN + 5], *values[GIVEN + 5];
    size_t n = 0;
    for (size_t i = 0; i < GIVEN; i++) {
        if (given[i] && *given[i]) {
            keys[n] = names[i];
            values[n++] = given[i];
        }
    }
    const char *const fixed[][2] = {{"dbname", dbname}, {"connect_timeout", "5"}, {"application_name", app_name}};
    for (size_t i = 0; i < 3; i++) {
        keys[n] = fixed[i][0];
        values[n++] = fixed[i][1];
    }
    /* The limits travel as startup options: set before the first statement,
     * and again by libpq on every reconnect. */
    char options[96];
    if (s->statement_timeout_ms > 0 || s->lock_timeout_ms > 0) {
        snprintf(options, sizeof options, "-c statement_timeout=%d -c lock_timeout=%d", s->statement_timeout_ms,
                 s->lock_timeout_ms);
        keys[n] = "options";
        values[n++] = options;
    }
    keys[n] = NULL;
    values[n] = NULL;
    return PQconnectdbParams(keys, values, 0);
}

void oms_pg_first_line(const char *text, char *out, size_t len)
{
    snprintf(out, len, "%s", text ? text : "");
    out[strcspn(out, "\n")] = '\0';
}

/* ---- the pool ---- */

oms_pg_pool *oms_pg_pool_create(const char *name, const oms_pg_settings *s, int size, oms_error *err)
{
    if (!s || size < 1) {
        oms_error_set(err, OMS_EINVAL, "DB_POOL_SIZE", "a pool needs settings and a size of at least 1");
        return NULL;
    }
    oms_pg_pool *p = calloc(1, sizeof *p);
    if (!p) {
        oms_error_set(err, OMS_ENOMEM, NULL, "out of memory");
        return NULL;
    }
    p->name = strdup(name ? name : "");
    p->idle = calloc((size_t)size, sizeof *p->idle);
    if (!p->name || !p->idle || oms_pg_settings_copy(s, &p->settings) != OMS_OK) {
        oms_pg_pool_destroy(p);
        oms_error_set(err, OMS_ENOMEM, NULL, "out of memory");
        return NULL;
    }
    p->size = size; /* from here on destroy may tear down the lock */
    p->tx_manager.ops = &oms_pg_tx_ops;
    p->tx_manager.self = p;
    pthread_mutex_init(&p->lock, NULL);
    oms_cond_init_monotonic(&p->freed);
    return p;
}

void oms_pg_pool_destroy(oms_pg_pool *p)
{
    if (!p)
        return;
    if (p->idle) {
        for (int i = 0; i < p->idle_count; i++)
            PQfinish(p->idle[i]);
        if (p->size > 0) {
            pthread_mutex_destroy(&p->lock);
            pthread_cond_destroy(&p->freed);
        }
    }
    free(p->idle);
    free(p->name);
    oms_pg_settings_free(&p->settings);
    free(p);
}

/* Whether an idle connection still works: a server that ended the session
 * (pg_terminate_backend, restart) has left its goodbye on the socket. */
static bool connection_alive(PGconn *c)
{
    if (PQstatus(c) != CONNECTION_OK)
        return false;
    struct pollfd pfd = {.fd = PQsocket(c), .events = POLLIN};
    if (pfd.fd < 0)
        return false;
    /* The goodbye (a FATAL message) and the end of the stream may need two
     * reads before libpq marks the connection bad. */
    for (int i = 0; i < 4 && poll(&pfd, 1, 0) > 0; i++) {
        if (!PQconsumeInput(c))
            return false;
        for (PGnotify *n = PQnotifies(c); n; n = PQnotifies(c))
            PQfreemem(n);
    }
    return PQstatus(c) == CONNECTION_OK && PQtransactionStatus(c) == PQTRANS_IDLE;
}

/* Gives the slot of a connection that could not be had back to the pool. */
static void forget_connection(oms_pg_pool *p)
{
    pthread_mutex_lock(&p->lock);
    p->open--;
    pthread_cond_signal(&p->freed);
    pthread_mutex_unlock(&p->lock);
}

static PGconn *open_connection(oms_pg_pool *p, oms_error *err)
{
    PGconn *c = oms_pg_connect(&p->settings, p->settings.dbname, p->name);
    if (!c) {
        oms_error_set(err, OMS_ENOMEM, NULL, "out of memory connecting to the database");
        return NULL;
    }
    if (PQstatus(c) != CONNECTION_OK) {
        char why[200];
        oms_pg_first_line(PQerrorMessage(c), why, sizeof why);
        oms_error_set(err, OMS_EUNAVAILABLE, NULL, "database %s: %s", p->settings.dbname, why);
        PQfinish(c);
        return NULL;
    }
    /* Without a cache (out of memory) statements still run, unnamed. */
    (void)oms_pg_stmt_cache_attach(c);
    return c;
}

static PGconn *open_connection_or_forget(oms_pg_pool *p, oms_error *err)
{
    PGconn *c = open_connection(p, err);
    if (!c)
        forget_connection(p);
    return c;
}

PGconn *oms_pg_acquire(oms_pg_pool *p, int timeout_ms, oms_error *err)
{
    struct timespec deadline = oms_deadline_in(timeout_ms);
    pthread_mutex_lock(&p->lock);
    for (;;) {
        if (p->idle_count > 0) {
            PGconn *c = p->idle[--p->idle_count];
            pthread_mutex_unlock(&p->lock);
            if (connection_alive(c))
                return c;
            /* Broken while idle: reset it in place (the slot stays ours). */
            PQreset(c);
            if (PQstatus(c) == CONNECTION_OK)
                return c;
            PQfinish(c);
            return open_connection_or_forget(p, err);
        }
        if (p->open < p->size) {
            p->open++;
            pthread_mutex_unlock(&p->lock);
            return open_connection_or_forget(p, err);
        }
        if (pthread_cond_timedwait(&p->freed, &p->lock, &deadline) == ETIMEDOUT) {
            pthread_mutex_unlock(&p->lock);
            oms_error_set(err, OMS_ETIMEOUT, NULL, "no free database connection in %d ms (pool %s)", timeout_ms,
                          p->name);
            return NULL;
        }
    }
}

void oms_pg_release(oms_pg_pool *p, PGconn *c, bool broken)
{
    if (!c)
        return;
    if (!broken && PQstatus(c) == CONNECTION_OK) {
        PGTransactionStatusType ts = PQtransactionStatus(c);
        if (ts == PQTRANS_INTRANS || ts == PQTRANS_INERROR) {
            /* Never hand out a connection inside somebody's transaction. */
            PGresult *r = PQexec(c, "ROLLBACK");
            PQclear(r);
            ts = PQtransactionStatus(c);
        }
        broken = ts != PQTRANS_IDLE;
    } else {
        broken = true;
    }
    if (broken)
        PQfinish(c);
    pthread_mutex_lock(&p->lock);
    if (broken)
        p->open--;
    else
        p->idle[p->idle_count++] = c;
    pthread_cond_signal(&p->freed);
    pthread_mutex_unlock(&p->lock);
}

bool oms_pg_ping(oms_pg_pool *p, char *why, size_t why_len)
{
    oms_error err;
    oms_error_clear(&err);
    PGconn *c = oms_pg_acquire(p, PING_TIMEOUT_MS, &err);
    if (!c) {
        snprintf(why, why_len, "%s", err.message); /* acquire names the database already */
        return false;
    }
    PGresult *r = PQexec(c, "SELECT 1");
    bool ok = PQresultStatus(r) == PGRES_TUPLES_OK;
    if (!ok) {
        char line[200];
        oms_pg_first_line(PQerrorMessage(c), line, sizeof line);
        snprintf(why, why_len, "database %s: %s", p->settings.dbname, line);
    }
    PQclear(r);
    oms_pg_release(p, c, !ok);
    return ok;
}

oms_tx_manager *oms_pg_tx_manager(oms_pg_pool *p) { return &p->tx_manager; }
