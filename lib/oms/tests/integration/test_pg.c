/* Integration tests of the pg modules of lib/oms (pool, statements, tx,
 * migrations) against a real PostgreSQL (POSTGRES_*). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/stat.h>

#include <cmocka.h>

#include "it_common.h"
#include "oms/outbox.h"
#include "oms/util.h"

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
    assert_int_equal(oms_pg_migrate(&settings, oms_outbox_migrations, OMS_OUTBOX_MIGRATION_COUNT, dirs, &err), OMS_OK);
    PGconn *c = it_connect(&settings, dbname);
    /* The built-in migrations, then the two files. */
    assert_int_equal(it_long(c, "SELECT count(*) FROM schema_migrations"), OMS_OUTBOX_MIGRATION_COUNT + 2);
    assert_int_equal(it_long(c, "SELECT count(*) FROM schema_migrations WHERE name = '000_oms_outbox_inbox'"), 1);
    assert_int_equal(it_long(c, "SELECT count(*) FROM schema_migrations WHERE name = '001_oms_outbox_autovacuum'"), 1);
    assert_int_equal(it_long(c, "SELECT count(*) FROM information_schema.columns WHERE table_name = 'widget'"), 3);
    assert_int_equal(it_long(c, "SELECT count(*) FROM outbox"), 0);
    assert_int_equal(it_long(c, "SELECT count(*) FROM inbox"), 0);
    assert_int_equal(oms_pg_migrate(&settings, oms_outbox_migrations, OMS_OUTBOX_MIGRATION_COUNT, dirs, &err), OMS_OK);
    assert_int_equal(it_long(c, "SELECT count(*) FROM schema_migrations"), OMS_OUTBOX_MIGRATION_COUNT + 2);
    PQfinish(c);
}

/* oms_make_append_only (a built-in migration, for the ledgers): rows are
 * added, never changed or removed, by any role but a superuser, even one
 * granted every right on the table. */
static void an_append_only_table_takes_inserts_only(void **state)
{
    (void)state;
    const char *dirs[] = {migrations_dir, NULL};
    oms_error err;
    assert_int_equal(oms_pg_migrate(&settings, oms_outbox_migrations, OMS_OUTBOX_MIGRATION_COUNT, dirs, &err), OMS_OK);
    PGconn *c = it_connect(&settings, dbname);
    assert_int_equal(it_long(c, "WITH t AS (SELECT oms_make_append_only('widget')) SELECT count(*) FROM t"), 1);
    assert_int_equal(it_long(c, "WITH r AS (INSERT INTO widget (id, name, size) VALUES (90, 'kept', 1) RETURNING 1)"
                                " SELECT count(*) FROM r"),
                     1);
    PGresult *r = PQexec(c, "DROP ROLE IF EXISTS it_appender; CREATE ROLE it_appender;"
                            " GRANT ALL ON widget TO it_appender; SET ROLE it_appender");
    assert_int_equal(PQresultStatus(r), PGRES_COMMAND_OK);
    PQclear(r);
    const char *refused[] = {"UPDATE widget SET name = 'changed'", "DELETE FROM widget", "TRUNCATE widget"};
    for (size_t i = 0; i < sizeof refused / sizeof refused[0]; i++) {
        r = PQexec(c, refused[i]);
        assert_int_equal(PQresultStatus(r), PGRES_FATAL_ERROR);
        assert_string_equal(PQresultErrorField(r, PG_DIAG_SQLSTATE), "42501");
        assert_non_null(strstr(PQresultErrorMessage(r), "append-only"));
        PQclear(r);
    }
    assert_int_equal(it_long(c, "WITH r AS (INSERT INTO widget (id, name, size) VALUES (91, 'added', 1) RETURNING 1)"
                                " SELECT count(*) FROM r"),
                     1);
    r = PQexec(c, "RESET ROLE; UPDATE widget SET name = 'repaired' WHERE id = 90; DELETE FROM widget WHERE id = 91;"
                  " DROP OWNED BY it_appender; DROP ROLE it_appender");
    assert_int_equal(PQresultStatus(r), PGRES_COMMAND_OK); /* a superuser repairs */
    PQclear(r);
    assert_int_equal(it_long(c, "SELECT count(*) FROM widget WHERE name = 'repaired'"), 1);
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
    assert_int_not_equal(oms_pg_migrate(&settings, oms_outbox_migrations, OMS_OUTBOX_MIGRATION_COUNT, dirs, &err),
                         OMS_OK);
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
    /* What reaches a client as 409 or 400 is a fixed sentence, never
     * PostgreSQL's, which names constraints and values (review L11). */
    assert_string_equal(err.message, "it conflicts with what is stored");
    const char *bad_int[] = {"abc", "x"};
    assert_null(oms_pg_exec(a, c, "INSERT INTO widget (id, name) VALUES ($1, $2)", 2, bad_int, &err));
    assert_int_equal(err.code, OMS_EINVAL);
    assert_string_equal(err.message, "a value is outside what the database accepts");
    const char *null_name[] = {"2", NULL};
    assert_null(oms_pg_exec(a, c, "INSERT INTO widget (id, name) VALUES ($1, $2)", 2, null_name, &err));
    assert_int_equal(err.code, OMS_EINVAL);
    assert_null(strstr(err.message, "widget"));
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

/* ---- time limits (review M3): a request blocked in the database fails with
 * nothing applied, before the gateway gives up on it ---- */

/* A pool whose connections carry the service's limits. */
static oms_pg_pool *limited_pool(int statement_ms, int lock_ms)
{
    oms_pg_settings limited = settings;
    limited.statement_timeout_ms = statement_ms;
    limited.lock_timeout_ms = lock_ms;
    oms_error err;
    oms_pg_pool *p = oms_pg_pool_create("limited", &limited, 1, &err);
    assert_non_null(p);
    return p;
}

static void a_write_behind_a_held_row_lock_fails_busy_within_the_lock_timeout(void **state)
{
    (void)state;
    PGconn *holder = it_connect(&settings, dbname);
    PQclear(PQexec(holder, "INSERT INTO widget (id, name) VALUES (40, 'before') ON CONFLICT DO NOTHING"));
    PGresult *r = PQexec(holder, "BEGIN; SELECT * FROM widget WHERE id = 40 FOR UPDATE");
    assert_int_equal(PQresultStatus(r), PGRES_TUPLES_OK);
    PQclear(r);

    oms_pg_pool *p = limited_pool(2000, 200);
    oms_tx_manager *tm = oms_pg_tx_manager(p);
    oms_arena *a = oms_arena_create(0);
    oms_error err;
    oms_tx *tx = NULL;
    int64_t started = oms_monotonic_ms();
    assert_int_equal(oms_tx_begin(tm, &tx, &err), OMS_OK);
    assert_null(oms_pg_tx_exec(a, tx, "UPDATE widget SET name = 'after' WHERE id = 40", 0, NULL, &err));
    int64_t waited = oms_monotonic_ms() - started;
    assert_int_equal(err.code, OMS_EBUSY);
    assert_string_equal(err.message,
                        "what it needs is locked by other work; nothing was applied, the request may be retried");
    oms_tx_rollback(tm, tx);
    assert_true(waited >= 150 && waited < 1500);

    /* Once the lock is gone the write is not there: it failed, it did not wait. */
    PQclear(PQexec(holder, "COMMIT"));
    assert_int_equal(it_long(holder, "SELECT count(*) FROM widget WHERE id = 40 AND name = 'before'"), 1);
    /* The same write again succeeds on the same (kept) connection. */
    assert_int_equal(oms_tx_begin(tm, &tx, &err), OMS_OK);
    assert_non_null(oms_pg_tx_exec(a, tx, "UPDATE widget SET name = 'after' WHERE id = 40", 0, NULL, &err));
    assert_int_equal(oms_tx_commit(tm, tx, &err), OMS_OK);
    assert_int_equal(it_long(holder, "SELECT count(*) FROM widget WHERE id = 40 AND name = 'after'"), 1);
    PQfinish(holder);
    oms_arena_destroy(a);
    oms_pg_pool_destroy(p);
}

static void a_statement_past_the_statement_timeout_fails_with_a_fixed_message(void **state)
{
    (void)state;
    oms_pg_pool *p = limited_pool(300, 100);
    oms_arena *a = oms_arena_create(0);
    oms_error err;
    PGconn *c = oms_pg_acquire(p, 1000, &err);
    assert_non_null(c);
    assert_int_equal(it_long(c, "SELECT setting::int FROM pg_settings WHERE name = 'statement_timeout'"), 300);
    assert_int_equal(it_long(c, "SELECT setting::int FROM pg_settings WHERE name = 'lock_timeout'"), 100);
    assert_null(oms_pg_exec(a, c, "SELECT pg_sleep(2)", 0, NULL, &err));
    assert_int_equal(err.code, OMS_ETIMEOUT);
    assert_string_equal(err.message,
                        "the database did not finish in time; nothing was applied, the request may be retried");
    oms_pg_release(p, c, false);
    oms_arena_destroy(a);
    oms_pg_pool_destroy(p);
}

static void a_transaction_past_its_commit_deadline_is_rolled_back(void **state)
{
    (void)state;
    oms_pg_pool *p = limited_pool(2000, 1000);
    oms_tx_manager *tm = oms_pg_tx_manager(p);
    oms_arena *a = oms_arena_create(0);
    oms_error err;
    oms_tx *tx = NULL;
    oms_pg_commit_deadline_set(oms_monotonic_ms() + 100);
    assert_int_equal(oms_tx_begin(tm, &tx, &err), OMS_OK);
    const char *late[] = {"41", "late"};
    assert_non_null(oms_pg_tx_exec(a, tx, "INSERT INTO widget (id, name) VALUES ($1, $2)", 2, late, &err));
    assert_int_equal(
        oms_pg_tx_exec_deferred(tx, "INSERT INTO widget (id, name) VALUES (42, 'deferred')", 0, NULL, &err), OMS_OK);
    usleep(200 * 1000);
    assert_int_equal(oms_tx_commit(tm, tx, &err), OMS_ETIMEOUT);
    assert_non_null(strstr(err.message, "nothing was applied"));

    /* Within the deadline, or with none, a commit is a commit. */
    oms_pg_commit_deadline_set(oms_monotonic_ms() + 5000);
    assert_int_equal(oms_tx_begin(tm, &tx, &err), OMS_OK);
    const char *in_time[] = {"43", "in time"};
    assert_non_null(oms_pg_tx_exec(a, tx, "INSERT INTO widget (id, name) VALUES ($1, $2)", 2, in_time, &err));
    assert_int_equal(oms_tx_commit(tm, tx, &err), OMS_OK);
    oms_pg_commit_deadline_set(0);
    PGconn *c = it_connect(&settings, dbname);
    assert_int_equal(it_long(c, "SELECT count(*) FROM widget WHERE id IN (41, 42)"), 0);
    assert_int_equal(it_long(c, "SELECT count(*) FROM widget WHERE id = 43"), 1);
    PQfinish(c);
    oms_arena_destroy(a);
    oms_pg_pool_destroy(p);
}

/* ---- deferred writes (libpq pipeline mode) ---- */

#define WIDGET_INSERT "INSERT INTO widget (id, name) VALUES ($1, $2)"

/* Deferred writes reach the server with the next statement that needs an
 * answer, which sees them; the commit carries the rest. */
static void deferred_writes_go_out_with_the_next_statement_and_the_commit(void **state)
{
    (void)state;
    oms_error err;
    oms_pg_pool *p = oms_pg_pool_create("test", &settings, 1, &err);
    oms_tx_manager *tm = oms_pg_tx_manager(p);
    oms_arena *a = oms_arena_create(0);
    oms_tx *tx = NULL;
    assert_int_equal(oms_tx_begin(tm, &tx, &err), OMS_OK);
    char id_text[3][16];
    for (int i = 0; i < 3; i++) {
        snprintf(id_text[i], sizeof id_text[i], "%d", 100 + i);
        const char *params[] = {id_text[i], "deferred"};
        assert_int_equal(oms_pg_tx_exec_deferred(tx, WIDGET_INSERT, 2, params, &err), OMS_OK);
    }
    PGresult *r = oms_pg_tx_exec(a, tx, "SELECT count(*) FROM widget WHERE id BETWEEN 100 AND 102", 0, NULL, &err);
    assert_non_null(r);
    assert_string_equal(PQgetvalue(r, 0, 0), "3");
    const char *last[] = {"103", "with the commit"};
    assert_int_equal(oms_pg_tx_exec_deferred(tx, WIDGET_INSERT, 2, last, &err), OMS_OK);
    assert_int_equal(oms_tx_commit(tm, tx, &err), OMS_OK);
    PGconn *c = it_connect(&settings, dbname);
    assert_int_equal(it_long(c, "SELECT count(*) FROM widget WHERE id BETWEEN 100 AND 103"), 4);
    /* A rolled-back transaction with deferred writes leaves nothing, and
     * the connection goes back to the pool in normal mode. */
    assert_int_equal(oms_tx_begin(tm, &tx, &err), OMS_OK);
    const char *gone[] = {"104", "rolled back"};
    assert_int_equal(oms_pg_tx_exec_deferred(tx, WIDGET_INSERT, 2, gone, &err), OMS_OK);
    oms_tx_rollback(tm, tx);
    assert_int_equal(it_long(c, "SELECT count(*) FROM widget WHERE id = 104"), 0);
    PGconn *back = oms_pg_acquire(p, 1000, &err);
    assert_non_null(back);
    assert_int_equal(PQpipelineStatus(back), PQ_PIPELINE_OFF);
    assert_non_null(oms_pg_exec(a, back, "SELECT 1", 0, NULL, &err));
    oms_pg_release(p, back, false);
    PQfinish(c);
    oms_arena_destroy(a);
    oms_pg_pool_destroy(p);
}

/* A deferred write that fails is reported by the next statement (with its
 * own SQLSTATE mapping) and by the commit; nothing of the transaction
 * stays, and the connection serves the next transaction. */
static void a_failing_deferred_write_fails_the_next_statement_and_the_commit(void **state)
{
    (void)state;
    oms_error err;
    oms_pg_pool *p = oms_pg_pool_create("test", &settings, 1, &err);
    oms_tx_manager *tm = oms_pg_tx_manager(p);
    oms_arena *a = oms_arena_create(0);
    oms_tx *tx = NULL;
    const char *first[] = {"110", "first"};
    const char *again[] = {"110", "the same id"};
    const char *after[] = {"111", "after the failure"};

    assert_int_equal(oms_tx_begin(tm, &tx, &err), OMS_OK);
    assert_int_equal(oms_pg_tx_exec_deferred(tx, WIDGET_INSERT, 2, first, &err), OMS_OK);
    assert_int_equal(oms_pg_tx_exec_deferred(tx, WIDGET_INSERT, 2, again, &err), OMS_OK);
    assert_int_equal(oms_pg_tx_exec_deferred(tx, WIDGET_INSERT, 2, after, &err), OMS_OK);
    oms_error_clear(&err);
    assert_null(oms_pg_tx_exec(a, tx, "SELECT 1", 0, NULL, &err));
    assert_int_equal(err.code, OMS_ECONFLICT);
    assert_int_not_equal(oms_tx_commit(tm, tx, &err), OMS_OK);

    /* Failing at the commit itself. */
    assert_int_equal(oms_tx_begin(tm, &tx, &err), OMS_OK);
    assert_int_equal(oms_pg_tx_exec_deferred(tx, WIDGET_INSERT, 2, first, &err), OMS_OK);
    assert_int_equal(oms_pg_tx_exec_deferred(tx, WIDGET_INSERT, 2, again, &err), OMS_OK);
    oms_error_clear(&err);
    assert_int_equal(oms_tx_commit(tm, tx, &err), OMS_ECONFLICT);

    PGconn *c = it_connect(&settings, dbname);
    assert_int_equal(it_long(c, "SELECT count(*) FROM widget WHERE id IN (110, 111)"), 0);
    /* The statements prepared in the failed pipelines were forgotten and
     * are prepared again: the same text works now. */
    assert_int_equal(oms_tx_begin(tm, &tx, &err), OMS_OK);
    assert_int_equal(oms_pg_tx_exec_deferred(tx, WIDGET_INSERT, 2, first, &err), OMS_OK);
    assert_int_equal(oms_tx_commit(tm, tx, &err), OMS_OK);
    assert_int_equal(it_long(c, "SELECT count(*) FROM widget WHERE id = 110"), 1);
    PQfinish(c);
    oms_arena_destroy(a);
    oms_pg_pool_destroy(p);
}

/* ---- commit hooks ---- */

/* What the hooks of one test saw. */
typedef struct hook_log {
    PGconn *observer; /* another session: sees only what is committed */
    char order[16];   /* one letter per hook call */
    size_t calls;
    long rows_seen; /* widget 120 as the observer saw it from the hook */
} hook_log;

static hook_log hooks_seen;

static void note_hook(char letter)
{
    if (hooks_seen.calls < sizeof hooks_seen.order - 1)
        hooks_seen.order[hooks_seen.calls] = letter;
    hooks_seen.calls++;
}

static void hook_a(void *ctx)
{
    hook_log *log = ctx;
    log->rows_seen = it_long(log->observer, "SELECT count(*) FROM widget WHERE id = 120");
    note_hook('a');
}

/* ctx is the tx's copy of a letter. */
static void hook_copied_letter(void *ctx) { note_hook(*(const char *)ctx); }

/* A pool of one connection for a hook test, with hooks_seen reset. */
static oms_pg_pool *hook_test_start(void)
{
    oms_error err;
    oms_pg_pool *p = oms_pg_pool_create("test", &settings, 1, &err);
    assert_non_null(p);
    memset(&hooks_seen, 0, sizeof hooks_seen);
    hooks_seen.observer = it_connect(&settings, dbname);
    hooks_seen.rows_seen = -1;
    return p;
}

static void hook_test_end(oms_pg_pool *p)
{
    PQfinish(hooks_seen.observer);
    oms_pg_pool_destroy(p);
}

/* Hooks run after the COMMIT (another session sees the row), in the order
 * recorded, once for a repeated fn and ctx; a copy is the tx's own. */
static void commit_hooks_run_after_the_commit_in_order_and_once_each(void **state)
{
    (void)state;
    oms_error err;
    oms_pg_pool *p = hook_test_start();
    oms_tx_manager *tm = oms_pg_tx_manager(p);
    oms_tx *tx = NULL;
    assert_int_equal(oms_tx_begin(tm, &tx, &err), OMS_OK);
    const char *row[] = {"120", "hooked"};
    assert_int_equal(oms_pg_tx_exec_deferred(tx, WIDGET_INSERT, 2, row, &err), OMS_OK);
    char letter = 'b';
    assert_int_equal(oms_tx_on_commit_copy(tm, tx, hook_copied_letter, &letter, 1, &err), OMS_OK);
    assert_int_equal(oms_tx_on_commit(tm, tx, hook_a, &hooks_seen, &err), OMS_OK);
    letter = 'c'; /* the first copy keeps its 'b' */
    assert_int_equal(oms_tx_on_commit_copy(tm, tx, hook_copied_letter, &letter, 1, &err), OMS_OK);
    assert_int_equal(oms_tx_on_commit(tm, tx, hook_a, &hooks_seen, &err), OMS_OK); /* merged */
    assert_int_equal(hooks_seen.calls, 0);
    assert_int_equal(oms_tx_commit(tm, tx, &err), OMS_OK);
    assert_string_equal(hooks_seen.order, "bac");
    assert_int_equal(hooks_seen.rows_seen, 1);
    hook_test_end(p);
}

/* A rollback, or a commit that fails, drops the hooks (and their copies)
 * without calling them. */
static void commit_hooks_are_dropped_on_rollback_and_on_a_failed_commit(void **state)
{
    (void)state;
    oms_error err;
    oms_pg_pool *p = hook_test_start();
    oms_tx_manager *tm = oms_pg_tx_manager(p);
    char letter = 'x';
    oms_tx *tx = NULL;
    assert_int_equal(oms_tx_begin(tm, &tx, &err), OMS_OK);
    assert_int_equal(oms_tx_on_commit(tm, tx, hook_a, &hooks_seen, &err), OMS_OK);
    assert_int_equal(oms_tx_on_commit_copy(tm, tx, hook_copied_letter, &letter, 1, &err), OMS_OK);
    oms_tx_rollback(tm, tx);
    assert_int_equal(hooks_seen.calls, 0);

    /* The same key twice: the commit fails (23505). */
    const char *row[] = {"121", "twice"};
    assert_int_equal(oms_tx_begin(tm, &tx, &err), OMS_OK);
    assert_int_equal(oms_pg_tx_exec_deferred(tx, WIDGET_INSERT, 2, row, &err), OMS_OK);
    assert_int_equal(oms_pg_tx_exec_deferred(tx, WIDGET_INSERT, 2, row, &err), OMS_OK);
    assert_int_equal(oms_tx_on_commit_copy(tm, tx, hook_copied_letter, &letter, 1, &err), OMS_OK);
    assert_int_equal(oms_tx_on_commit(tm, tx, hook_a, &hooks_seen, &err), OMS_OK);
    assert_int_equal(oms_tx_commit(tm, tx, &err), OMS_ECONFLICT);
    assert_int_equal(hooks_seen.calls, 0);

    /* The next transaction on the same connection starts with no hooks. */
    assert_int_equal(oms_tx_begin(tm, &tx, &err), OMS_OK);
    assert_int_equal(oms_tx_commit(tm, tx, &err), OMS_OK);
    assert_int_equal(hooks_seen.calls, 0);
    hook_test_end(p);
}

/* ---- the prepared-statement cache (pg_stmt.c) ---- */

#define STMT_SQL "SELECT $1::int + 1, $2::text"

/* Prepared statements of this session whose text is `sql` (asked unnamed,
 * so that asking does not prepare anything itself). */
static long prepared_count(PGconn *c, const char *sql)
{
    const char *params[] = {sql};
    PGresult *r = PQexecParams(c,
                               sql ? "SELECT count(*) FROM pg_prepared_statements WHERE statement = $1"
                                   : "SELECT count(*) FROM pg_prepared_statements",
                               sql ? 1 : 0, NULL, sql ? params : NULL, NULL, NULL, 0);
    long v = PQresultStatus(r) == PGRES_TUPLES_OK ? atol(PQgetvalue(r, 0, 0)) : -1;
    PQclear(r);
    return v;
}

/* Runs STMT_SQL with n and text, and checks the row it answers. */
static void run_stmt(oms_arena *a, PGconn *c, int n, const char *text)
{
    char number[16], expected[16];
    snprintf(number, sizeof number, "%d", n);
    snprintf(expected, sizeof expected, "%d", n + 1);
    const char *params[] = {number, text};
    oms_error err;
    oms_error_clear(&err);
    PGresult *r = oms_pg_exec(a, c, STMT_SQL, 2, params, &err);
    if (!r)
        fail_msg("%s: %s", STMT_SQL, err.message);
    assert_int_equal(PQntuples(r), 1);
    assert_string_equal(oms_pg_value(r, 0, 0), expected);
    if (text)
        assert_string_equal(oms_pg_value(r, 0, 1), text);
    else
        assert_null(oms_pg_value(r, 0, 1));
}

static void a_pooled_connection_prepares_a_statement_once_and_reruns_it_by_name(void **state)
{
    (void)state;
    oms_error err;
    oms_pg_pool *p = oms_pg_pool_create("test", &settings, 1, &err);
    assert_non_null(p);
    oms_arena *a = oms_arena_create(0);
    PGconn *c = oms_pg_acquire(p, 1000, &err);
    assert_non_null(c);
    assert_int_equal(prepared_count(c, NULL), 0);
    run_stmt(a, c, 1, "one");
    assert_int_equal(prepared_count(c, STMT_SQL), 1);
    run_stmt(a, c, 41, "forty-one");
    run_stmt(a, c, -7, NULL);
    /* Still one entry, under one of the cache's names, prepared by protocol. */
    assert_int_equal(prepared_count(c, STMT_SQL), 1);
    assert_int_equal(prepared_count(c, NULL), 1);
    assert_int_equal(it_long(c, "SELECT count(*) FROM pg_prepared_statements"
                                " WHERE name LIKE 'oms\\_%' AND NOT from_sql"),
                     1);

    /* A second text has its own entry; the first still runs. */
    const char *params[] = {"5"};
    PGresult *r = oms_pg_exec(a, c, "SELECT $1::int * 2", 1, params, &err);
    assert_non_null(r);
    assert_string_equal(oms_pg_value(r, 0, 0), "10");
    assert_int_equal(prepared_count(c, NULL), 2);
    run_stmt(a, c, 2, "two");
    assert_int_equal(prepared_count(c, NULL), 2);

    /* Given back and borrowed again: the same session, the same entries. */
    int pid = PQbackendPID(c);
    oms_pg_release(p, c, false);
    c = oms_pg_acquire(p, 1000, &err);
    assert_non_null(c);
    assert_int_equal(PQbackendPID(c), pid);
    run_stmt(a, c, 3, "three");
    assert_int_equal(prepared_count(c, STMT_SQL), 1);
    assert_int_equal(prepared_count(c, NULL), 2);
    oms_pg_release(p, c, false);
    oms_arena_destroy(a);
    oms_pg_pool_destroy(p);
}

static void a_reset_connection_prepares_its_statements_again(void **state)
{
    (void)state;
    oms_error err;
    oms_pg_pool *p = oms_pg_pool_create("test", &settings, 1, &err);
    assert_non_null(p);
    oms_arena *a = oms_arena_create(0);
    PGconn *c = oms_pg_acquire(p, 1000, &err);
    assert_non_null(c);
    run_stmt(a, c, 1, "before");
    assert_int_equal(prepared_count(c, STMT_SQL), 1);

    /* PQreset: a new server session, without the statement; the cache must
     * forget it too, or the next run asks for a statement that is gone. */
    int pid = PQbackendPID(c);
    PQreset(c);
    assert_int_equal(PQstatus(c), CONNECTION_OK);
    assert_int_not_equal(PQbackendPID(c), pid);
    assert_int_equal(prepared_count(c, NULL), 0);
    run_stmt(a, c, 2, "after reset");
    run_stmt(a, c, 3, "again");
    assert_int_equal(prepared_count(c, STMT_SQL), 1);
    assert_int_equal(prepared_count(c, NULL), 1);

    /* The pool's own reset: the server ends the session while the connection
     * is idle in the pool; acquire resets it in place. */
    pid = PQbackendPID(c);
    oms_pg_release(p, c, false);
    PGconn *killer = it_connect(&settings, "postgres");
    char sql[64];
    snprintf(sql, sizeof sql, "SELECT pg_terminate_backend(%d)", pid);
    PQclear(PQexec(killer, sql));
    PQfinish(killer);
    it_sleep_ms(200);
    c = oms_pg_acquire(p, 1000, &err);
    assert_non_null(c);
    assert_int_not_equal(PQbackendPID(c), pid);
    run_stmt(a, c, 4, "after the pool's reset");
    assert_int_equal(prepared_count(c, STMT_SQL), 1);
    oms_pg_release(p, c, false);
    oms_arena_destroy(a);
    oms_pg_pool_destroy(p);
}

static void a_statement_that_cannot_be_prepared_fails_and_leaves_the_connection_usable(void **state)
{
    (void)state;
    oms_error err;
    oms_pg_pool *p = oms_pg_pool_create("test", &settings, 1, &err);
    assert_non_null(p);
    oms_arena *a = oms_arena_create(0);
    PGconn *c = oms_pg_acquire(p, 1000, &err);
    assert_non_null(c);
    run_stmt(a, c, 1, "first");

    /* A syntax error: NULL with PostgreSQL's message, twice (nothing cached). */
    const char *params[] = {"1"};
    for (int i = 0; i < 2; i++) {
        oms_error_clear(&err);
        assert_null(oms_pg_exec(a, c, "SELEC $1::int", 1, params, &err));
        assert_int_equal(err.code, OMS_EINTERNAL);
        assert_non_null(strstr(err.message, "syntax error"));
        assert_int_equal(PQtransactionStatus(c), PQTRANS_IDLE);
    }
    assert_int_equal(prepared_count(c, "SELEC $1::int"), 0);
    run_stmt(a, c, 2, "after the syntax error");
    assert_int_equal(prepared_count(c, NULL), 1);

    /* A text whose table does not exist yet fails to prepare; once the table
     * exists the same text works (the failure was not remembered). */
    const char *count_sql = "SELECT count(*) FROM stmt_later WHERE id > $1::int";
    const char *zero[] = {"0"};
    assert_null(oms_pg_exec(a, c, count_sql, 1, zero, &err));
    assert_non_null(strstr(err.message, "stmt_later"));
    assert_non_null(oms_pg_exec(a, c, "CREATE TEMP TABLE stmt_later (id int)", 0, NULL, &err));
    assert_non_null(oms_pg_exec(a, c, "INSERT INTO stmt_later VALUES (1), (2)", 0, NULL, &err));
    PGresult *r = oms_pg_exec(a, c, count_sql, 1, zero, &err);
    assert_non_null(r);
    assert_string_equal(oms_pg_value(r, 0, 0), "2");

    /* Inside a transaction: the failure aborts it, a rollback recovers, and a
     * statement first prepared in a rolled-back transaction stays usable
     * (prepared statements are not transactional). */
    assert_non_null(oms_pg_exec(a, c, "BEGIN", 0, NULL, &err));
    const char *in_tx_sql = "SELECT $1::int - 1";
    const char *ten[] = {"10"};
    r = oms_pg_exec(a, c, in_tx_sql, 1, ten, &err);
    assert_non_null(r);
    assert_string_equal(oms_pg_value(r, 0, 0), "9");
    assert_null(oms_pg_exec(a, c, "SELEC $1::int", 1, params, &err));
    assert_int_equal(PQtransactionStatus(c), PQTRANS_INERROR);
    assert_null(oms_pg_exec(a, c, in_tx_sql, 1, ten, &err)); /* the transaction is aborted */
    assert_non_null(oms_pg_exec(a, c, "ROLLBACK", 0, NULL, &err));
    r = oms_pg_exec(a, c, in_tx_sql, 1, ten, &err);
    assert_non_null(r);
    assert_string_equal(oms_pg_value(r, 0, 0), "9");
    assert_int_equal(prepared_count(c, in_tx_sql), 1);
    run_stmt(a, c, 3, "after the rollback");

    oms_pg_release(p, c, false);
    oms_arena_destroy(a);
    oms_pg_pool_destroy(p);
}

static void past_the_cache_size_statements_still_run_unnamed(void **state)
{
    (void)state;
    oms_error err;
    oms_pg_pool *p = oms_pg_pool_create("test", &settings, 1, &err);
    assert_non_null(p);
    oms_arena *a = oms_arena_create(0);
    PGconn *c = oms_pg_acquire(p, 1000, &err);
    assert_non_null(c);
    /* 300 distinct texts, each run twice: every answer right, and the number
     * of prepared statements bounded by the cache. */
    for (int round = 0; round < 2; round++) {
        for (int i = 0; i < 300; i++) {
            char sql[64], expected[16];
            snprintf(sql, sizeof sql, "SELECT $1::int + %d", i);
            snprintf(expected, sizeof expected, "%d", 1000 + i);
            const char *params[] = {"1000"};
            PGresult *r = oms_pg_exec(a, c, sql, 1, params, &err);
            assert_non_null(r);
            assert_string_equal(oms_pg_value(r, 0, 0), expected);
        }
        oms_arena_reset(a);
    }
    long prepared = prepared_count(c, NULL);
    assert_true(prepared > 0);
    assert_true(prepared < 300);
    assert_int_equal(it_long(c, "SELECT count(*) FROM pg_prepared_statements WHERE statement = 'SELECT $1::int + 0'"),
                     1);
    oms_pg_release(p, c, false);
    oms_arena_destroy(a);
    oms_pg_pool_destroy(p);
}

static void a_connection_made_outside_a_pool_runs_statements_unnamed(void **state)
{
    (void)state;
    PGconn *c = it_connect(&settings, dbname);
    oms_arena *a = oms_arena_create(0);
    run_stmt(a, c, 1, "plain");
    run_stmt(a, c, 2, "plain again");
    assert_int_equal(prepared_count(c, NULL), 0);
    oms_error err;
    const char *params[] = {"1"};
    assert_null(oms_pg_exec(a, c, "SELEC $1::int", 1, params, &err));
    assert_non_null(strstr(err.message, "syntax error"));
    run_stmt(a, c, 3, NULL);
    PQreset(c);
    assert_int_equal(PQstatus(c), CONNECTION_OK);
    run_stmt(a, c, 4, "after reset");
    assert_int_equal(prepared_count(c, NULL), 0);
    oms_arena_destroy(a);
    PQfinish(c);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(migrate_creates_the_database_applies_files_in_order_and_twice_is_a_no_op),
        cmocka_unit_test(an_append_only_table_takes_inserts_only),
        cmocka_unit_test(a_failing_migration_is_rolled_back_and_reported),
        cmocka_unit_test(sqlstates_map_to_oms_errors),
        cmocka_unit_test(a_connection_killed_by_the_server_is_replaced_transparently),
        cmocka_unit_test(a_connection_killed_while_borrowed_fails_unavailable_then_recovers),
        cmocka_unit_test(a_full_pool_times_out_and_an_unreachable_server_is_unavailable),
        cmocka_unit_test(transactions_commit_or_roll_back_as_a_whole),
        cmocka_unit_test(a_write_behind_a_held_row_lock_fails_busy_within_the_lock_timeout),
        cmocka_unit_test(a_statement_past_the_statement_timeout_fails_with_a_fixed_message),
        cmocka_unit_test(a_transaction_past_its_commit_deadline_is_rolled_back),
        cmocka_unit_test(deferred_writes_go_out_with_the_next_statement_and_the_commit),
        cmocka_unit_test(a_failing_deferred_write_fails_the_next_statement_and_the_commit),
        cmocka_unit_test(commit_hooks_run_after_the_commit_in_order_and_once_each),
        cmocka_unit_test(commit_hooks_are_dropped_on_rollback_and_on_a_failed_commit),
        cmocka_unit_test(a_pooled_connection_prepares_a_statement_once_and_reruns_it_by_name),
        cmocka_unit_test(a_reset_connection_prepares_its_statements_again),
        cmocka_unit_test(a_statement_that_cannot_be_prepared_fails_and_leaves_the_connection_usable),
        cmocka_unit_test(past_the_cache_size_statements_still_run_unnamed),
        cmocka_unit_test(a_connection_made_outside_a_pool_runs_statements_unnamed),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
