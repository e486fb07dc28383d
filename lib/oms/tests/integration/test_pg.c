/* Integration tests of oms/pg.c against a real PostgreSQL (POSTGRES_*). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/stat.h>

#include <cmocka.h>

#include "it_common.h"

static char dbname[64];
static oms_pg_settings settings;
static char migrations_dir[64];

static void write_file(const char *path, const char *text)
{
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fputs(text, f);
    fclose(f);
}

static int setup(void **state)
{
    (void)state;
    settings = it_settings(dbname, sizeof dbname, "oms_it_pg");
    it_drop_database(&settings);
    snprintf(migrations_dir, sizeof migrations_dir, "/tmp/oms_it_pg_mig_%d", (int)getpid());
    mkdir(migrations_dir, 0700);
    char path[128];
    snprintf(path, sizeof path, "%s/002_second.sql", migrations_dir);
    write_file(path, "ALTER TABLE widget ADD COLUMN size int CHECK (size > 0);");
    snprintf(path, sizeof path, "%s/001_first.sql", migrations_dir);
    write_file(path, "CREATE TABLE widget (id int PRIMARY KEY, name text NOT NULL);");
    snprintf(path, sizeof path, "%s/README.txt", migrations_dir);
    write_file(path, "not a migration");
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    it_drop_database(&settings);
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf %s", migrations_dir);
    return system(cmd) == 0 ? 0 : -1;
}

static void migrate_creates_the_database_applies_files_in_order_and_twice_is_a_no_op(void **state)
{
    (void)state;
    const char *dirs[] = {migrations_dir, NULL};
    oms_error err;
    assert_int_equal(oms_pg_migrate(&settings, dirs, &err), OMS_OK);
    PGconn *c = it_connect(&settings, dbname);
    /* The two built-in outbox migrations, then the two files. */
    assert_int_equal(it_long(c, "SELECT count(*) FROM schema_migrations"), 4);
    assert_int_equal(it_long(c, "SELECT count(*) FROM schema_migrations WHERE name = '000_oms_outbox_inbox'"), 1);
    assert_int_equal(it_long(c, "SELECT count(*) FROM schema_migrations WHERE name = '001_oms_outbox_autovacuum'"), 1);
    assert_int_equal(it_long(c, "SELECT count(*) FROM information_schema.columns WHERE table_name = 'widget'"), 3);
    assert_int_equal(it_long(c, "SELECT count(*) FROM outbox"), 0);
    assert_int_equal(it_long(c, "SELECT count(*) FROM inbox"), 0);
    assert_int_equal(oms_pg_migrate(&settings, dirs, &err), OMS_OK);
    assert_int_equal(it_long(c, "SELECT count(*) FROM schema_migrations"), 4);
    PQfinish(c);
}

static void a_failing_migration_is_rolled_back_and_reported(void **state)
{
    (void)state;
    char dir[96], path[128];
    snprintf(dir, sizeof dir, "%s_bad", migrations_dir);
    mkdir(dir, 0700);
    snprintf(path, sizeof path, "%s/003_bad.sql", dir);
    write_file(path, "CREATE TABLE half_done (id int); SELECT no_such_function();");
    const char *dirs[] = {migrations_dir, dir, NULL};
    oms_error err;
    assert_int_not_equal(oms_pg_migrate(&settings, dirs, &err), OMS_OK);
    assert_non_null(strstr(err.message, "003_bad.sql"));
    PGconn *c = it_connect(&settings, dbname);
    assert_int_equal(it_long(c, "SELECT count(*) FROM pg_tables WHERE tablename = 'half_done'"), 0);
    PQfinish(c);
    unlink(path);
    rmdir(dir);
}

static void sqlstates_map_to_oms_errors(void **state)
{
    (void)state;
    oms_error err;
    oms_pg_pool *p = oms_pg_pool_create("test", &settings, 2, &err);
    assert_non_null(p);
    oms_arena *a = oms_arena_create(0);
    PGconn *c = oms_pg_acquire(p, 1000, &err);
    assert_non_null(c);
    const char *params[] = {"1", "one"};
    assert_non_null(oms_pg_exec(a, c, "INSERT INTO widget (id, name) VALUES ($1, $2)", 2, params, &err));
    assert_null(oms_pg_exec(a, c, "INSERT INTO widget (id, name) VALUES ($1, $2)", 2, params, &err));
    assert_int_equal(err.code, OMS_ECONFLICT);
    const char *bad_int[] = {"abc", "x"};
    assert_null(oms_pg_exec(a, c, "INSERT INTO widget (id, name) VALUES ($1, $2)", 2, bad_int, &err));
    assert_int_equal(err.code, OMS_EINVAL);
    const char *null_name[] = {"2", NULL};
    assert_null(oms_pg_exec(a, c, "INSERT INTO widget (id, name) VALUES ($1, $2)", 2, null_name, &err));
    assert_int_equal(err.code, OMS_EINVAL);
    assert_null(oms_pg_exec(a, c, "SELECT * FROM no_such_table", 0, NULL, &err));
    assert_int_equal(err.code, OMS_EINTERNAL);
    assert_null(oms_pg_exec(a, c, "SET statement_timeout = 50; SELECT pg_sleep(1)", 0, NULL, &err));
    PGresult *r = oms_pg_exec(a, c, "SELECT name, NULL FROM widget WHERE id = 1", 0, NULL, &err);
    assert_non_null(r);
    assert_string_equal(oms_pg_value(r, 0, 0), "one");
    assert_null(oms_pg_value(r, 0, 1));
    assert_null(oms_pg_value(r, 5, 0));
    PQclear(PQexec(c, "SET statement_timeout = 50"));
    assert_null(oms_pg_exec(a, c, "SELECT pg_sleep(1)", 0, NULL, &err));
    assert_int_equal(err.code, OMS_ETIMEOUT);
    PQclear(PQexec(c, "RESET statement_timeout"));
    oms_pg_release(p, c, false);
    oms_arena_destroy(a);
    oms_pg_pool_destroy(p);
}

static void a_connection_killed_by_the_server_is_replaced_transparently(void **state)
{
    (void)state;
    oms_error err;
    oms_pg_pool *p = oms_pg_pool_create("test", &settings, 1, &err);
    PGconn *c = oms_pg_acquire(p, 1000, &err);
    assert_non_null(c);
    int first_pid = PQbackendPID(c);
    oms_pg_release(p, c, false);

    PGconn *killer = it_connect(&settings, "postgres");
    char sql[64];
    snprintf(sql, sizeof sql, "SELECT pg_terminate_backend(%d)", first_pid);
    PQclear(PQexec(killer, sql));
    PQfinish(killer);
    it_sleep_ms(200);

    c = oms_pg_acquire(p, 1000, &err);
    assert_non_null(c);
    assert_int_not_equal(PQbackendPID(c), first_pid);
    oms_arena *a = oms_arena_create(0);
    assert_non_null(oms_pg_exec(a, c, "SELECT 1", 0, NULL, &err));
    oms_arena_destroy(a);
    oms_pg_release(p, c, false);
    char why[256];
    assert_true(oms_pg_ping(p, why, sizeof why));
    oms_pg_pool_destroy(p);
}

static void a_connection_killed_while_borrowed_fails_unavailable_then_recovers(void **state)
{
    (void)state;
    oms_error err;
    oms_pg_pool *p = oms_pg_pool_create("test", &settings, 1, &err);
    PGconn *c = oms_pg_acquire(p, 1000, &err);
    PGconn *killer = it_connect(&settings, "postgres");
    char sql[64];
    snprintf(sql, sizeof sql, "SELECT pg_terminate_backend(%d)", PQbackendPID(c));
    PQclear(PQexec(killer, sql));
    PQfinish(killer);
    it_sleep_ms(100);
    oms_arena *a = oms_arena_create(0);
    assert_null(oms_pg_exec(a, c, "SELECT 1", 0, NULL, &err));
    assert_int_equal(err.code, OMS_EUNAVAILABLE);
    oms_pg_release(p, c, true);
    c = oms_pg_acquire(p, 1000, &err);
    assert_non_null(c);
    assert_non_null(oms_pg_exec(a, c, "SELECT 1", 0, NULL, &err));
    oms_pg_release(p, c, false);
    oms_arena_destroy(a);
    oms_pg_pool_destroy(p);
}

static void a_full_pool_times_out_and_an_unreachable_server_is_unavailable(void **state)
{
    (void)state;
    oms_error err;
    oms_pg_pool *p = oms_pg_pool_create("test", &settings, 1, &err);
    PGconn *held = oms_pg_acquire(p, 1000, &err);
    assert_non_null(held);
    assert_null(oms_pg_acquire(p, 100, &err));
    assert_int_equal(err.code, OMS_ETIMEOUT);
    oms_pg_release(p, held, false);
    oms_pg_pool_destroy(p);

    oms_pg_settings nowhere = settings;
    nowhere.port = "1";
    p = oms_pg_pool_create("nowhere", &nowhere, 1, &err);
    assert_non_null(p); /* creating does not connect */
    assert_null(oms_pg_acquire(p, 1000, &err));
    assert_int_equal(err.code, OMS_EUNAVAILABLE);
    char why[256];
    assert_false(oms_pg_ping(p, why, sizeof why));
    assert_non_null(strstr(why, dbname));
    oms_pg_pool_destroy(p);
}

static void transactions_commit_or_roll_back_as_a_whole(void **state)
{
    (void)state;
    oms_error err;
    oms_pg_pool *p = oms_pg_pool_create("test", &settings, 2, &err);
    oms_tx_manager *tm = oms_pg_tx_manager(p);
    oms_arena *a = oms_arena_create(0);
    oms_tx *tx = NULL;
    assert_int_equal(oms_tx_begin(tm, &tx, &err), OMS_OK);
    const char *p10[] = {"10", "rolled back"};
    assert_non_null(oms_pg_tx_exec(a, tx, "INSERT INTO widget (id, name) VALUES ($1, $2)", 2, p10, &err));
    oms_tx_rollback(tm, tx);

    assert_int_equal(oms_tx_begin(tm, &tx, &err), OMS_OK);
    const char *p11[] = {"11", "committed"};
    assert_non_null(oms_pg_tx_exec(a, tx, "INSERT INTO widget (id, name) VALUES ($1, $2)", 2, p11, &err));
    assert_int_equal(oms_tx_commit(tm, tx, &err), OMS_OK);

    /* A commit after a failed statement does not pretend to succeed. */
    assert_int_equal(oms_tx_begin(tm, &tx, &err), OMS_OK);
    const char *p12[] = {"12", "never"};
    assert_non_null(oms_pg_tx_exec(a, tx, "INSERT INTO widget (id, name) VALUES ($1, $2)", 2, p12, &err));
    assert_null(oms_pg_tx_exec(a, tx, "INSERT INTO widget (id, name) VALUES ($1, $2)", 2, p11, &err));
    assert_int_equal(err.code, OMS_ECONFLICT);
    assert_int_not_equal(oms_tx_commit(tm, tx, &err), OMS_OK);

    PGconn *c = it_connect(&settings, dbname);
    assert_int_equal(it_long(c, "SELECT count(*) FROM widget WHERE id IN (10, 12)"), 0);
    assert_int_equal(it_long(c, "SELECT count(*) FROM widget WHERE id = 11"), 1);
    PQfinish(c);
    oms_arena_destroy(a);
    oms_pg_pool_destroy(p);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(migrate_creates_the_database_applies_files_in_order_and_twice_is_a_no_op),
        cmocka_unit_test(a_failing_migration_is_rolled_back_and_reported),
        cmocka_unit_test(sqlstates_map_to_oms_errors),
        cmocka_unit_test(a_connection_killed_by_the_server_is_replaced_transparently),
        cmocka_unit_test(a_connection_killed_while_borrowed_fails_unavailable_then_recovers),
        cmocka_unit_test(a_full_pool_times_out_and_an_unreachable_server_is_unavailable),
        cmocka_unit_test(transactions_commit_or_roll_back_as_a_whole),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
