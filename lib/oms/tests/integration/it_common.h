/* it_common.h -- helpers for lib/oms integration tests: a throwaway database
 * per test program on the PostgreSQL of POSTGRES_*. */
#ifndef OMS_IT_COMMON_H
#define OMS_IT_COMMON_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "oms/pg.h"

/* Settings for database `name` (kept in `buf`, which must outlive them). */
static inline oms_pg_settings it_settings(char *buf, size_t len, const char *name)
{
    snprintf(buf, len, "%s_%d", name, (int)getpid());
    return oms_pg_settings_from_env("OMS_IT_UNUSED_DB", buf);
}

static inline PGconn *it_connect(const oms_pg_settings *s, const char *dbname)
{
    const char *keys[] = {"host", "port", "user", "dbname", NULL};
    const char *values[] = {s->host, s->port, s->user, dbname, NULL};
    PGconn *c = PQconnectdbParams(keys, values, 0);
    if (PQstatus(c) != CONNECTION_OK) {
        fprintf(stderr, "it: cannot connect: %s", PQerrorMessage(c));
        exit(1);
    }
    return c;
}

/* Test code: the name is ours, so building the statement is fine here. */
static inline void it_drop_database(const oms_pg_settings *s)
{
    PGconn *c = it_connect(s, "postgres");
    char sql[256];
    snprintf(sql, sizeof sql, "DROP DATABASE IF EXISTS \"%s\" WITH (FORCE)", s->dbname);
    PQclear(PQexec(c, sql));
    PQfinish(c);
}

/* The single value of a query, as a long (-1 on failure). */
static inline long it_long(PGconn *c, const char *sql)
{
    PGresult *r = PQexec(c, sql);
    long v = PQresultStatus(r) == PGRES_TUPLES_OK && PQntuples(r) > 0 ? atol(PQgetvalue(r, 0, 0)) : -1;
    PQclear(r);
    return v;
}

/* Skips the test (cmocka's skip) unless `ready`: a precondition that the
 * environment gives or not (roles, certificates), said once by the setup. */
#define IT_REQUIRE(ready)                                                                                              \
    do {                                                                                                               \
        if (!(ready))                                                                                                  \
            skip();                                                                                                    \
    } while (0)

static inline void it_sleep_ms(int ms) { usleep((useconds_t)ms * 1000); }

#endif
