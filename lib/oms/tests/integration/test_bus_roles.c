/* test_bus_roles.c -- the pg bus's per-service rights (review H4, H5; bus
 * migration 004_oms_bus_roles): with the service roles infrastructure/
 * postgres/pg.sh makes (their passwords in OMS_PG_AUTH_DIR), a participant
 * publishes only to its own topics, cannot write the queue by itself, sees
 * and settles only its own subscription's rows, and waits for the owner to
 * set up a bus database. The bus is set up by the superuser of POSTGRES_*,
 * which is trusted like the owner. Skipped without OMS_PG_AUTH_DIR. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdatomic.h>

#include <cmocka.h>

#include "it_common.h"
#include "oms/bus.h"
#include "oms/saga_messages.h"

static char dbname[64], fresh_dbname[80];
static oms_pg_settings owner; /* the superuser: trusted */
static oms_bus *owner_bus;
static char passwords[2][128];

/* The password pg.sh made for `role`, into `out`; false when there is none. */
static bool read_password(const char *role, char *out, size_t len)
{
    const char *dir = getenv("OMS_PG_AUTH_DIR");
    if (!dir)
        return false;
    char path[512];
    snprintf(path, sizeof path, "%s/%s.password", dir, role);
    FILE *f = fopen(path, "r");
    if (!f)
        return false;
    bool ok = fgets(out, (int)len, f) != NULL;
    fclose(f);
    out[strcspn(out, "\r\n")] = '\0';
    return ok && out[0];
}

/* The settings of the bus database as service role `role`. */
static oms_pg_settings as_role(const char *role, char *password, const char *db)
{
    oms_pg_settings s = owner;
    s.user = role;
    s.password = password;
    s.dbname = db;
    return s;
}

static oms_bus *bus_as(const char *role, char *password, const char *db, oms_error *err)
{
    oms_pg_settings s = as_role(role, password, db);
    oms_bus_options o = {.service_name = role, .max_redeliveries = 3, .consumer_threads = 1, .retry_base_delay_ms = 10};
    return oms_bus_pg_create(&s, &o, err);
}

static oms_err publish(oms_bus *b, const char *topic, const char *key, const char *payload, oms_error *err)
{
    oms_bus_outgoing m = {.topic = topic, .key = key, .payload = payload, .payload_len = strlen(payload)};
    return oms_bus_publish(b, &m, 1, err);
}

/* Rows of the queue for `topic`, as the superuser sees them. */
static long queued(const char *topic)
{
    PGconn *c = it_connect(&owner, dbname);
    char sql[200];
    snprintf(sql, sizeof sql, "SELECT count(*) FROM bus_queue WHERE topic = '%s'", topic);
    long n = it_long(c, sql);
    PQfinish(c);
    return n;
}

/* A connection to the bus database as `role`. */
static PGconn *connect_as(const char *role, const char *password)
{
    const char *keys[] = {"host", "port", "user", "password", "dbname", NULL};
    const char *values[] = {owner.host, owner.port, role, password, dbname, NULL};
    PGconn *c = PQconnectdbParams(keys, values, 0);
    assert_int_equal(PQstatus(c), CONNECTION_OK);
    return c;
}

static const char *sqlstate_of(PGconn *c, const char *sql)
{
    static char state[8];
    PGresult *r = PQexec(c, sql);
    const char *s = PQresultErrorField(r, PG_DIAG_SQLSTATE);
    snprintf(state, sizeof state, "%s", s ? s : "00000");
    PQclear(r);
    return state;
}

static int setup(void **state)
{
    (void)state;
    if (!read_password("inventory-service", passwords[0], sizeof passwords[0]) ||
        !read_password("payment-service", passwords[1], sizeof passwords[1])) {
        fprintf(stderr, "test_bus_roles: no OMS_PG_AUTH_DIR with the service roles' passwords: skipped\n");
        return 0;
    }
    owner = it_settings(dbname, sizeof dbname, "oms_it_bus_roles");
    snprintf(fresh_dbname, sizeof fresh_dbname, "%s_fresh", dbname);
    it_drop_database(&owner);
    oms_error err;
    oms_bus_options o = {.service_name = "owner"};
    owner_bus = oms_bus_pg_create(&owner, &o, &err);
    if (!owner_bus) {
        fprintf(stderr, "test_bus_roles: cannot set the bus up: %s\n", err.message);
        return -1;
    }
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    if (!owner_bus)
        return 0;
    oms_bus_destroy(owner_bus);
    it_drop_database(&owner);
    oms_pg_settings fresh = owner;
    fresh.dbname = fresh_dbname;
    it_drop_database(&fresh);
    return 0;
}

/* inventory-service answers on inventory-events; a PaymentProcessed it
 * writes on payment-events (a forged payment reply) is refused and stored
 * nowhere. */
static void a_participant_publishes_to_its_own_topics_only(void **state)
{
    (void)state;
    IT_REQUIRE(owner_bus);
    oms_error err;
    oms_bus *b = bus_as("inventory-service", passwords[0], dbname, &err);
    assert_non_null(b);
    long before = queued(OMS_TOPIC_INVENTORY_EVENTS);
    assert_int_equal(publish(b, OMS_TOPIC_INVENTORY_EVENTS, "k1", "{\"event_type\":\"InventoryAllocated\"}", &err),
                     OMS_OK);
    assert_int_equal(queued(OMS_TOPIC_INVENTORY_EVENTS), before + 1);
    oms_error_clear(&err);
    assert_int_not_equal(publish(b, OMS_TOPIC_PAYMENT_EVENTS, "k1", "{\"event_type\":\"PaymentProcessed\"}", &err),
                         OMS_OK);
    assert_non_null(strstr(err.message, "may not publish to topic payment-events"));
    assert_int_equal(queued(OMS_TOPIC_PAYMENT_EVENTS), 0);
    oms_bus_destroy(b);
}

/* The queue is written only through oms_bus_publish: an INSERT, or a new
 * producer or subscription of its own making, is refused. */
static void a_participant_cannot_write_the_queue_or_the_topology_itself(void **state)
{
    (void)state;
    IT_REQUIRE(owner_bus);
    PGconn *c = connect_as("inventory-service", passwords[0]);
    assert_string_equal(sqlstate_of(c, "INSERT INTO bus_queue (topic, subscription, key, payload)"
                                       " VALUES ('payment-events', 'order-service', 'k', '{}')"),
                        "42501");
    assert_string_equal(sqlstate_of(c, "INSERT INTO bus_producer VALUES ('payment-events', 'inventory-service')"),
                        "42501");
    assert_string_equal(sqlstate_of(c, "INSERT INTO bus_subscription VALUES ('payment-events', 'inventory-service')"),
                        "42501");
    PQfinish(c);
    assert_int_equal(queued(OMS_TOPIC_PAYMENT_EVENTS), 0);
}

/* payment-service sees, settles and dead-letters the rows of its own
 * subscription only: order-service's replies and inventory's commands are
 * out of its reach. */
static void a_participant_sees_and_settles_only_its_own_subscription(void **state)
{
    (void)state;
    IT_REQUIRE(owner_bus);
    oms_error err;
    assert_int_equal(publish(owner_bus, OMS_TOPIC_INVENTORY_COMMANDS, "k2", "{\"x\":1}", &err), OMS_OK);
    assert_int_equal(publish(owner_bus, OMS_TOPIC_PAYMENT_COMMANDS, "k2", "{\"x\":2}", &err), OMS_OK);
    long inventory_rows = queued(OMS_TOPIC_INVENTORY_COMMANDS);
    assert_true(inventory_rows >= 1);
    PGconn *c = connect_as("payment-service", passwords[1]);
    assert_int_equal(it_long(c, "SELECT count(*) FROM bus_queue WHERE topic = 'inventory-commands'"), 0);
    assert_true(it_long(c, "SELECT count(*) FROM bus_queue WHERE topic = 'payment-commands'") >= 1);
    PQclear(PQexec(c, "DELETE FROM bus_queue WHERE topic <> 'payment-commands'"));
    assert_int_equal(queued(OMS_TOPIC_INVENTORY_COMMANDS), inventory_rows);
    assert_string_equal(sqlstate_of(c, "INSERT INTO bus_dead_letter (topic, subscription, key, payload)"
                                       " VALUES ('inventory-commands-DLQ', 'inventory-service', 'k', '{}')"),
                        "42501");
    PQclear(PQexec(c, "DELETE FROM bus_queue"));
    PQfinish(c);
    assert_int_equal(queued(OMS_TOPIC_PAYMENT_COMMANDS), 0);
}

static _Atomic int delivered;

static void count_deliveries(void *ctx, const oms_bus_message *msgs, size_t n, oms_arena *a, oms_bus_outcome *out)
{
    (void)ctx, (void)msgs, (void)a;
    for (size_t i = 0; i < n; i++)
        out[i].disposition = OMS_BUS_ACK;
    atomic_fetch_add(&delivered, (int)n);
}

/* The rights leave the participant's own work possible: it leases, handles
 * and acknowledges what is published for it. */
static void a_participant_consumes_its_own_messages(void **state)
{
    (void)state;
    IT_REQUIRE(owner_bus);
    oms_error err;
    oms_bus *b = bus_as("payment-service", passwords[1], dbname, &err);
    assert_non_null(b);
    atomic_store(&delivered, 0);
    assert_int_equal(oms_bus_subscribe(b, OMS_TOPIC_PAYMENT_COMMANDS, "payment-service", count_deliveries, NULL, &err),
                     OMS_OK);
    assert_int_equal(oms_bus_start(b, &err), OMS_OK);
    assert_int_equal(publish(owner_bus, OMS_TOPIC_PAYMENT_COMMANDS, "k3", "{\"x\":3}", &err), OMS_OK);
    for (int i = 0; i < 200 && (atomic_load(&delivered) < 1 || queued(OMS_TOPIC_PAYMENT_COMMANDS) > 0); i++)
        it_sleep_ms(50);
    assert_int_equal(atomic_load(&delivered), 1);
    assert_int_equal(queued(OMS_TOPIC_PAYMENT_COMMANDS), 0);
    oms_bus_destroy(b);
}

/* A bus database nobody has set up: a participant may not, so it is told
 * to wait (the service retries) instead of failing for good. */
static void a_participant_waits_for_the_owner_to_set_up_the_bus(void **state)
{
    (void)state;
    IT_REQUIRE(owner_bus);
    PGconn *c = it_connect(&owner, "postgres");
    char sql[160];
    snprintf(sql, sizeof sql, "CREATE DATABASE \"%s\"", fresh_dbname);
    PQclear(PQexec(c, sql));
    PQfinish(c);
    oms_error err;
    oms_error_clear(&err);
    assert_null(bus_as("inventory-service", passwords[0], fresh_dbname, &err));
    assert_int_equal(err.code, OMS_EUNAVAILABLE);
    assert_non_null(strstr(err.message, "not set up yet"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(a_participant_publishes_to_its_own_topics_only),
        cmocka_unit_test(a_participant_cannot_write_the_queue_or_the_topology_itself),
        cmocka_unit_test(a_participant_sees_and_settles_only_its_own_subscription),
        cmocka_unit_test(a_participant_consumes_its_own_messages),
        cmocka_unit_test(a_participant_waits_for_the_owner_to_set_up_the_bus),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
