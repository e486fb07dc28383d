/* Service and broker URLs (pulsar_parse_url): what the settings and the
 * lookups may say, and everything else refused. */
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "pulsar/pulsar.h"

static void check_url(const char *url, const char *host, int port, bool tls)
{
    char h[64];
    int p = 0;
    bool t = !tls;
    assert_int_equal(pulsar_parse_url(url, h, sizeof h, &p, &t), OMS_OK);
    assert_string_equal(h, host);
    assert_int_equal(p, port);
    assert_int_equal(t, tls);
}

static void plain_and_tls_urls_give_host_port_and_tls(void **state)
{
    (void)state;
    check_url("pulsar://127.0.0.1:6650", "127.0.0.1", 6650, false);
    check_url("pulsar://broker.example:7000/", "broker.example", 7000, false);
    check_url("pulsar+ssl://localhost:6651", "localhost", 6651, true);
    check_url("pulsar+ssl://[::1]:6651", "::1", 6651, true);
}

static void a_missing_port_is_the_schemes_default(void **state)
{
    (void)state;
    check_url("pulsar://broker", "broker", 6650, false);
    check_url("pulsar+ssl://broker/", "broker", 6651, true);
}

static void anything_else_is_refused(void **state)
{
    (void)state;
    static const char *const bad[] = {
        NULL,
        "",
        "broker:6650",
        "http://broker:6650",
        "pulsar://",
        "pulsar://:6650",
        "pulsar://broker:0",
        "pulsar://broker:65536",
        "pulsar://broker:-1",
        "pulsar://broker:66x",
        "pulsar://broker:6650/x",
        "pulsar://user@broker:6650",
        "pulsar+ssl://[::1:6651",
        "pulsar://broker:",
        "pulsar://a-host-name-longer-than-the-sixty-four-bytes-the-caller-has-room-for.example:6650",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        char h[64];
        int p = 0;
        bool t = false;
        if (pulsar_parse_url(bad[i], h, sizeof h, &p, &t) != OMS_EINVAL)
            fail_msg("accepted: %s", bad[i] ? bad[i] : "(null)");
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(plain_and_tls_urls_give_host_port_and_tls),
        cmocka_unit_test(a_missing_port_is_the_schemes_default),
        cmocka_unit_test(anything_else_is_refused),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
