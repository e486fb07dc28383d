/* pg_migrate.c -- migrations: the caller's built-in ones (the outbox's,
 * the pg bus's) and then a directory of *.sql files, each applied once, in
 * order, under an advisory lock. */
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "pg.h"
#include "pg_internal.h"

#define MIGRATION_LOCK_KEY "7243019845" /* pg_advisory_lock key for migrations */
#define MIGRATION_FILE_MAX (4 * 1024 * 1024)

/* Creates the database when missing. CREATE DATABASE takes no parameters, so
 * this is the one statement built as text: the name is quoted with
 * PQescapeIdentifier, and it comes from our own settings anyway. */
static oms_err ensure_database(const oms_pg_settings *s, oms_error *err)
{
    PGconn *c = oms_pg_connect(s, "postgres", "oms-migrate");
    if (!c || PQstatus(c) != CONNECTION_OK) {
        char why[200];
        oms_pg_first_line(c ? PQerrorMessage(c) : "out of memory", why, sizeof why);
        PQfinish(c);
        return oms_error_set(err, OMS_EUNAVAILABLE, NULL, "database server %s:%s: %s", s->host, s->port, why);
    }
    const char *params[] = {s->dbname};
    oms_err rc = OMS_OK;
    PGresult *r = oms_pg_exec(NULL, c, "SELECT 1 FROM pg_database WHERE datname = $1", 1, params, err);
    if (!r) {
        rc = err ? err->code : OMS_EINTERNAL;
    } else if (PQntuples(r) == 0) {
        char *ident = PQescapeIdentifier(c, s->dbname, strlen(s->dbname));
        char *sql = ident ? malloc(strlen(ident) + 32) : NULL;
        if (!sql) {
            rc = oms_error_set(err, OMS_ENOMEM, NULL, "out of memory");
        } else {
            sprintf(sql, "CREATE DATABASE %s", ident);
            PGresult *cr = PQexec(c, sql);
            const char *state = PQresultErrorField(cr, PG_DIAG_SQLSTATE);
            /* 42P04/23505: another process created it just now; that is fine. */
            bool raced = state && (strcmp(state, "42P04") == 0 || strcmp(state, "23505") == 0);
            if (PQresultStatus(cr) != PGRES_COMMAND_OK && !raced)
                rc = oms_pg_map_failure(c, cr, err);
            else if (!raced)
                oms_log(OMS_LOG_INFO, "database_created", "database", s->dbname, NULL);
            PQclear(cr);
        }
        free(sql);
        PQfreemem(ident);
    }
    PQclear(r);
    PQfinish(c);
    return rc;
}

static oms_err already_applied(PGconn *c, const char *name, bool *applied, oms_error *err)
{
    const char *params[] = {name};
    PGresult *r = oms_pg_exec(NULL, c, "SELECT 1 FROM schema_migrations WHERE name = $1", 1, params, err);
    if (!r)
        return err ? err->code : OMS_EINTERNAL;
    *applied = PQntuples(r) > 0;
    PQclear(r);
    return OMS_OK;
}

/* What the migrating role may do in the database (see migrate_locked). */
typedef struct migration_rights {
    bool may_change; /* the owner (or a member of its role) or a superuser */
    char role[64];
} migration_rights;

/* Applies one migration in its own transaction. PQexec runs the whole text,
 * several statements at once: migration files are ours, not outside input. */
static oms_err apply_migration(PGconn *c, const char *dbname, const migration_rights *rights, const char *name,
                               const char *sql, oms_error *err)
{
    bool applied = false;
    oms_err rc = already_applied(c, name, &applied, err);
    if (rc != OMS_OK || applied)
        return rc;
    if (!rights->may_change)
        return oms_error_set(err, OMS_EUNAVAILABLE, NULL,
                             "database %s is not set up yet: migration %s is not applied, and role %s may not "
                             "apply it (the database's owner does, at its start)",
                             dbname, name, rights->role);
    rc = oms_pg_run(c, "BEGIN", err);
    if (rc != OMS_OK)
        return rc;
    PGresult *r = PQexec(c, sql);
    if (PQresultStatus(r) != PGRES_COMMAND_OK && PQresultStatus(r) != PGRES_TUPLES_OK) {
        oms_pg_map_failure(c, r, err);
        PQclear(r);
        PGresult *rb = PQexec(c, "ROLLBACK");
        PQclear(rb);
        if (err) {
            char msg[sizeof err->message];
            snprintf(msg, sizeof msg, "%s", err->message);
            oms_error_set(err, err->code, NULL, "migration %s failed: %s", name, msg);
        }
        return err ? err->code : OMS_EINTERNAL;
    }
    PQclear(r);
    const char *params[] = {name};
    r = oms_pg_exec(NULL, c, "INSERT INTO schema_migrations (name) VALUES ($1)", 1, params, err);
    if (!r) {
        PGresult *rb = PQexec(c, "ROLLBACK");
        PQclear(rb);
        return err ? err->code : OMS_EINTERNAL;
    }
    PQclear(r);
    rc = oms_pg_run(c, "COMMIT", err);
    if (rc == OMS_OK)
        oms_log(OMS_LOG_INFO, "migration_applied", "database", dbname, "name", name, NULL);
    return rc;
}

static char *read_file(const char *path, oms_error *err)
{
    FILE *f = fopen(path, "rb");
    if (!f) {
        oms_error_set(err, OMS_EINVAL, NULL, "cannot open migration %s: %s", path, strerror(errno));
        return NULL;
    }
    char *buf = malloc(MIGRATION_FILE_MAX + 1);
    size_t n = buf ? fread(buf, 1, MIGRATION_FILE_MAX + 1, f) : 0;
    bool failed = ferror(f);
    fclose(f);
    if (!buf) {
        oms_error_set(err, OMS_ENOMEM, NULL, "out of memory");
        return NULL;
    }
    if (failed || n > MIGRATION_FILE_MAX) {
        free(buf);
        oms_error_set(err, OMS_EINVAL, NULL, "migration %s is unreadable or over 4 MiB", path);
        return NULL;
    }
    buf[n] = '\0';
    return buf;
}

static int is_sql_file(const struct dirent *d)
{
    size_t n = strlen(d->d_name);
    return d->d_name[0] != '.' && n > 4 && strcmp(d->d_name + n - 4, ".sql") == 0;
}

static oms_err apply_directory(PGconn *c, const char *dbname, const migration_rights *rights, const char *dir,
                               oms_error *err)
{
    struct dirent **names = NULL;
    int count = scandir(dir, &names, is_sql_file, alphasort);
    if (count < 0)
        return oms_error_set(err, OMS_EINVAL, "MIGRATIONS_DIR", "cannot read migrations directory %s: %s", dir,
                             strerror(errno));
    oms_err rc = OMS_OK;
    for (int i = 0; i < count; i++) {
        if (rc == OMS_OK) {
            char path[4096];
            snprintf(path, sizeof path, "%s/%s", dir, names[i]->d_name);
            char *sql = read_file(path, err);
            rc = sql ? apply_migration(c, dbname, rights, names[i]->d_name, sql, err) : (err ? err->code : OMS_EINVAL);
            free(sql);
        }
        free(names[i]);
    }
    free(names);
    return rc;
}

/* Whether the connected role may change the database's schema, and
 * whether schema_migrations is there. */
static oms_err read_rights(PGconn *c, migration_rights *rights, bool *has_table, oms_error *err)
{
    PGresult *r = oms_pg_exec(NULL, c,
                              "SELECT r.rolsuper OR pg_has_role(r.oid, d.datdba, 'USAGE'), r.rolname,"
                              " to_regclass('schema_migrations') IS NOT NULL"
                              " FROM pg_roles r, pg_database d"
                              " WHERE r.rolname = current_user AND d.datname = current_database()",
                              0, NULL, err);
    if (!r)
        return err ? err->code : OMS_EINTERNAL;
    bool found = PQntuples(r) == 1;
    rights->may_change = found && strcmp(PQgetvalue(r, 0, 0), "t") == 0;
    snprintf(rights->role, sizeof rights->role, "%s", found ? PQgetvalue(r, 0, 1) : "?");
    *has_table = found && strcmp(PQgetvalue(r, 0, 2), "t") == 0;
    PQclear(r);
    return OMS_OK;
}

/* A role that may not change the schema (a participant on the bus database,
 * a service whose migrations a separate job runs) passes when every
 * migration is applied already, and waits (OMS_EUNAVAILABLE) otherwise. */
static oms_err migrate_locked(PGconn *c, const char *dbname, const oms_pg_migration *builtins, size_t n,
                              const char *const *dirs, oms_error *err)
{
    migration_rights rights;
    bool has_table = false;
    oms_err rc = read_rights(c, &rights, &has_table, err);
    if (rc == OMS_OK && !has_table && !rights.may_change)
        return oms_error_set(err, OMS_EUNAVAILABLE, NULL,
                             "database %s is not set up yet, and role %s may not set it up (its owner does)", dbname,
                             rights.role);
    if (rc == OMS_OK && !has_table)
        rc = oms_pg_run(c,
                        "CREATE TABLE IF NOT EXISTS schema_migrations ("
                        " name text PRIMARY KEY, applied_at timestamptz NOT NULL DEFAULT now())",
                        err);
    for (size_t i = 0; rc == OMS_OK && i < n; i++)
        rc = apply_migration(c, dbname, &rights, builtins[i].name, builtins[i].sql, err);
    for (size_t i = 0; rc == OMS_OK && dirs && dirs[i]; i++)
        rc = apply_directory(c, dbname, &rights, dirs[i], err);
    return rc;
}

oms_err oms_pg_migrate(const oms_pg_settings *s, const oms_pg_migration *builtins, size_t builtin_count,
                       const char *const *dirs, oms_error *err)
{
    oms_err rc = ensure_database(s, err);
    if (rc != OMS_OK)
        return rc;
    PGconn *c = oms_pg_connect(s, s->dbname, "oms-migrate");
    if (!c || PQstatus(c) != CONNECTION_OK) {
        char why[200];
        oms_pg_first_line(c ? PQerrorMessage(c) : "out of memory", why, sizeof why);
        PQfinish(c);
        return oms_error_set(err, OMS_EUNAVAILABLE, NULL, "database %s: %s", s->dbname, why);
    }
    PGresult *quiet = PQexec(c, "SET client_min_messages = warning");
    PQclear(quiet);
    rc = oms_pg_run(c, "SELECT pg_advisory_lock(" MIGRATION_LOCK_KEY ")", err);
    if (rc == OMS_OK) {
        rc = migrate_locked(c, s->dbname, builtins, builtin_count, dirs, err);
        PGresult *r = PQexec(c, "SELECT pg_advisory_unlock(" MIGRATION_LOCK_KEY ")");
        PQclear(r);
    }
    PQfinish(c);
    return rc;
}
