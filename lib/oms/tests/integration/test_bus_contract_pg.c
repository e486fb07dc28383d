/* The bus contract (lib/oms/tests/support/bus_contract.h) against the pg
 * transport, on the PostgreSQL of POSTGRES_* (a database of its own). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "it_common.h"
#include "oms/bus.h"
#include "oms/log.h"
#include "oms/tests/support/bus_contract.h"

static char dbname[64];
static oms_pg_settings settings;

static oms_bus *create(const oms_bus_options *o, oms_error *err) { return oms_bus_pg_create(&settings, o, err); }

static void new_topic(const char *base, char *out, size_t len)
{
    static int next;
    snprintf(out, len, "%s-%d", base, ++next);
}

static bool dead_lettered(const char *topic, const char *payload, int timeout_ms)
{
    PGconn *c = it_connect(&settings, dbname);
    const char *params[] = {topic, payload};
    bool found = false;
    for (int waited = 0; !found && waited <= timeout_ms; waited += 20) {
        PGresult *r = PQexecParams(c,
                                   "SELECT count(*) FROM bus_dead_letter"
                                   " WHERE topic = $1 || '-DLQ' AND payload = $2",
                                   2, NULL, params, NULL, NULL, 0);
        found = PQresultStatus(r) == PGRES_TUPLES_OK && atol(PQgetvalue(r, 0, 0)) > 0;
        PQclear(r);
        if (!found)
            it_sleep_ms(20);
    }
    PQfinish(c);
    return found;
}

int main(void)
{
    oms_log_init("bus_contract_pg", OMS_LOG_ERROR);
    settings = it_settings(dbname, sizeof dbname, "oms_it_bus_contract");
    it_drop_database(&settings);
    const bus_contract_transport pg = {
        .name = "pg", .create = create, .new_topic = new_topic, .dead_lettered = dead_lettered};
    int failed = bus_contract_run(&pg);
    it_drop_database(&settings);
    return failed;
}
