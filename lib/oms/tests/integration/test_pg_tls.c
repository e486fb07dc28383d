/* test_pg_tls.c -- TLS to PostgreSQL (review H6): POSTGRES_SSLMODE
 * verify-full with POSTGRES_SSLROOTCERT connects over TLS to a server whose
 * certificate the CA signed for its name, and refuses a server that shows a
 * certificate for another host or from another CA. The certificates are the
 * ones infrastructure/postgres/pg.sh makes for its cluster (PG_TLS_DIR:
 * ca.crt, server.crt for localhost and 127.0.0.1, other.crt for
 * db.invalid); the test has the server present other.crt for a moment
 * (ALTER SYSTEM, reload). Skipped without PG_TLS_DIR. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "it_common.h"
#include "oms/pg.h"

static const char *tls_dir;
static char ca_file[512], other_cert[512], other_key[512];
static oms_pg_settings server; /* the superuser's settings, database postgres */

static int setup(void **state)
{
    (void)state;
    tls_dir = getenv("PG_TLS_DIR");
    if (!tls_dir) {
        fprintf(stderr, "test_pg_tls: no PG_TLS_DIR (pg.sh tls-dir): skipped\n");
        return 0;
    }
    snprintf(ca_file, sizeof ca_file, "%s/ca.crt", tls_dir);
    snprintf(other_cert, sizeof other_cert, "%s/other.crt", tls_dir);
    snprintf(other_key, sizeof other_key, "%s/other.key", tls_dir);
    server = oms_pg_settings_from_env("OMS_IT_UNUSED_DB", "postgres");
    return 0;
}

/* Has the server present `cert`/`key` (NULL: its own again) to new
 * connections. */
static void serve_certificate(const char *cert, const char *key)
{
    PGconn *c = it_connect(&server, "postgres");
    const char *const names[] = {"ssl_cert_file", "ssl_key_file"};
    const char *const files[] = {cert, key};
    for (int i = 0; i < 2; i++) { /* ALTER SYSTEM runs alone, outside any transaction */
        char sql[600];
        if (cert)
            snprintf(sql, sizeof sql, "ALTER SYSTEM SET %s = '%s'", names[i], files[i]);
        else
            snprintf(sql, sizeof sql, "ALTER SYSTEM RESET %s", names[i]);
        PGresult *r = PQexec(c, sql);
        assert_int_equal(PQresultStatus(r), PGRES_COMMAND_OK);
        PQclear(r);
    }
    PQclear(PQexec(c, "SELECT pg_reload_conf()"));
    PQfinish(c);
    it_sleep_ms(500); /* the postmaster reloads on SIGHUP, a moment later */
}

static int teardown(void **state)
{
    (void)state;
    if (tls_dir)
        serve_certificate(NULL, NULL);
    return 0;
}

/* A pool over verify-full with `ca`; the outcome of borrowing a connection,
 * and whether it is encrypted. */
static oms_err borrow(const char *ca, bool *encrypted, oms_error *err)
{
    oms_pg_settings s = server;
    s.sslmode = "verify-full";
    s.sslrootcert = ca;
    oms_pg_pool *pool = oms_pg_pool_create("tls-test", &s, 1, err);
    assert_non_null(pool);
    PGconn *c = oms_pg_acquire(pool, 5000, err);
    oms_err rc = c ? OMS_OK : err->code;
    if (c) {
        *encrypted = it_long(c, "SELECT count(*) FROM pg_stat_ssl WHERE pid = pg_backend_pid() AND ssl") == 1;
        oms_pg_release(pool, c, false);
    }
    oms_pg_pool_destroy(pool);
    return rc;
}

static void verify_full_with_the_servers_ca_connects_over_tls(void **state)
{
    (void)state;
    IT_REQUIRE(tls_dir);
    oms_error err;
    oms_error_clear(&err);
    bool encrypted = false;
    oms_err rc = borrow(ca_file, &encrypted, &err);
    if (rc != OMS_OK)
        fprintf(stderr, "borrow: %s\n", err.message);
    assert_int_equal(rc, OMS_OK);
    assert_true(encrypted);
}

static void verify_full_refuses_a_certificate_made_for_another_host(void **state)
{
    (void)state;
    IT_REQUIRE(tls_dir);
    serve_certificate(other_cert, other_key);
    oms_error err;
    oms_error_clear(&err);
    bool encrypted = false;
    oms_err rc = borrow(ca_file, &encrypted, &err);
    serve_certificate(NULL, NULL);
    assert_int_equal(rc, OMS_EUNAVAILABLE);
    assert_non_null(strstr(err.message, "does not match host name"));
    /* and the server's own certificate is accepted again */
    assert_int_equal(borrow(ca_file, &encrypted, &err), OMS_OK);
}

/* The system's public CAs did not sign the cluster's certificate. */
static void verify_full_refuses_a_certificate_from_another_ca(void **state)
{
    (void)state;
    IT_REQUIRE(tls_dir);
    oms_error err;
    oms_error_clear(&err);
    bool encrypted = false;
    assert_int_equal(borrow("/etc/ssl/certs/ca-certificates.crt", &encrypted, &err), OMS_EUNAVAILABLE);
    assert_non_null(strstr(err.message, "certificate verify failed"));
}

static void a_ca_file_that_cannot_be_read_is_a_bad_setting(void **state)
{
    (void)state;
    const char *target = NULL;
    oms_error err;
    oms_error_clear(&err);
    assert_int_equal(oms_pg_parse_ca_file("/nonexistent/ca.crt", &target, &err), OMS_EINVAL);
    assert_non_null(strstr(err.message, "cannot read the file"));
    assert_int_equal(oms_pg_parse_ca_file(NULL, &target, &err), OMS_OK);
    assert_null(target);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(verify_full_with_the_servers_ca_connects_over_tls),
        cmocka_unit_test(verify_full_refuses_a_certificate_made_for_another_host),
        cmocka_unit_test(verify_full_refuses_a_certificate_from_another_ca),
        cmocka_unit_test(a_ca_file_that_cannot_be_read_is_a_bad_setting),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
