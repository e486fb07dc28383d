/* Unit tests of oms/log.c, oms/util.c and oms/process.c (stdout captured
 * through a pipe; signals in a child process). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>
#include <jansson.h>

#include "oms/log.h"
#include "oms/process.h"
#include "oms/util.h"

/* Runs fn with stdout redirected; returns what it wrote (static buffer). */
static const char *captured(void (*fn)(void))
{
    static char buf[16384];
    int fds[2];
    assert_int_equal(pipe(fds), 0);
    fflush(stdout);
    int saved = dup(STDOUT_FILENO);
    dup2(fds[1], STDOUT_FILENO);
    fn();
    dup2(saved, STDOUT_FILENO);
    close(saved);
    close(fds[1]);
    ssize_t n = read(fds[0], buf, sizeof buf - 1);
    close(fds[0]);
    buf[n > 0 ? n : 0] = '\0';
    return buf;
}

static void log_with_escapes(void)
{
    oms_log_init("order-service", OMS_LOG_INFO);
    oms_log_set_request_id("req-1");
    oms_log(OMS_LOG_INFO, "saga_step", "order_id", "o\"1\n", "note", NULL, NULL);
    oms_log_set_request_id(NULL);
}

static void each_line_is_one_json_object_with_the_request_id_and_escaped_values(void **state)
{
    (void)state;
    const char *out = captured(log_with_escapes);
    assert_int_equal(strchr(out, '\n') - out + 1, (long)strlen(out));
    json_error_t e;
    json_t *doc = json_loads(out, 0, &e);
    assert_non_null(doc);
    assert_string_equal(json_string_value(json_object_get(doc, "service")), "order-service");
    assert_string_equal(json_string_value(json_object_get(doc, "level")), "info");
    assert_string_equal(json_string_value(json_object_get(doc, "event")), "saga_step");
    assert_string_equal(json_string_value(json_object_get(doc, "request_id")), "req-1");
    assert_string_equal(json_string_value(json_object_get(doc, "order_id")), "o\"1\n");
    assert_true(json_is_null(json_object_get(doc, "note")));
    assert_int_equal(strlen(json_string_value(json_object_get(doc, "ts"))), 24);
    json_decref(doc);
}

static void log_below_level_and_numbers(void)
{
    oms_log_init("svc", OMS_LOG_WARN);
    oms_log(OMS_LOG_INFO, "hidden", NULL);
    oms_log_num(OMS_LOG_ERROR, "shown", "duration_ms", 3.25, "path", "/x", NULL);
    oms_log_init("svc", OMS_LOG_INFO);
}

static void lines_below_the_level_are_dropped_and_numbers_are_numbers(void **state)
{
    (void)state;
    const char *out = captured(log_below_level_and_numbers);
    assert_null(strstr(out, "hidden"));
    json_error_t e;
    json_t *doc = json_loads(out, 0, &e);
    assert_non_null(doc);
    assert_true(json_is_number(json_object_get(doc, "duration_ms")));
    assert_true(json_number_value(json_object_get(doc, "duration_ms")) == 3.25);
    assert_string_equal(json_string_value(json_object_get(doc, "path")), "/x");
    json_decref(doc);
}

static char long_text[8200];

static void log_long_values(void)
{
    memset(long_text, 'A', 8100);
    long_text[8100] = '\0';
    oms_log_init("svc", OMS_LOG_INFO);
    oms_log(OMS_LOG_INFO, "long", "first", long_text, "second", long_text, "third", long_text, "fourth", long_text,
            "short", "kept", NULL);
}

/* The review's M9: a long value used to cut the line inside a string. */
static void a_line_with_long_values_stays_one_valid_json_object(void **state)
{
    (void)state;
    const char *out = captured(log_long_values);
    size_t len = strlen(out);
    assert_true(len <= 8192);
    assert_int_equal(out[len - 1], '\n');
    json_error_t e;
    json_t *doc = json_loads(out, 0, &e);
    assert_non_null(doc);
    assert_int_equal(json_string_length(json_object_get(doc, "first")), 2048);
    assert_string_equal(json_string_value(json_object_get(doc, "short")), "kept");
    assert_true(json_is_true(json_object_get(doc, "truncated")));
    assert_string_equal(json_string_value(json_object_get(doc, "event")), "long");
    json_decref(doc);
}

static void log_bad_utf8(void)
{
    oms_log_init("svc", OMS_LOG_INFO);
    /* a stray continuation byte, an overlong '/', a surrogate, a cut sequence, then good UTF-8 */
    oms_log(OMS_LOG_INFO, "bytes", "value",
            "a\x80"
            "b\xc0\xaf"
            "c\xed\xa0\x80"
            "d\xe2\x82"
            "\xc3\xa9",
            NULL);
}

static void bytes_that_are_not_utf8_become_replacement_characters(void **state)
{
    (void)state;
    const char *out = captured(log_bad_utf8);
    json_error_t e;
    json_t *doc = json_loads(out, 0, &e); /* jansson refuses invalid UTF-8 */
    assert_non_null(doc);
    const char *value = json_string_value(json_object_get(doc, "value"));
    assert_non_null(strstr(value, "a\xef\xbf\xbd"
                                  "b"));
    assert_non_null(strstr(value, "\xc3\xa9"));
    assert_null(strstr(value, "\xc0"));
    json_decref(doc);
}

static void log_access_with_a_long_path(void)
{
    static char path[8200];
    path[0] = '/';
    memset(path + 1, 'A', 8100);
    path[8101] = '\0';
    oms_log_init("api-gateway", OMS_LOG_INFO);
    oms_log_access(&(oms_log_access_line){.status = 404,
                                          .client_ip = "203.0.113.7",
                                          .method = "GET",
                                          .route = "not_found",
                                          .path = path,
                                          .duration_ms = 0.25,
                                          .client_request_id = "forged-id-123"});
}

static void an_access_line_keeps_status_and_client_whatever_the_path(void **state)
{
    (void)state;
    const char *out = captured(log_access_with_a_long_path);
    json_error_t e;
    json_t *doc = json_loads(out, 0, &e);
    assert_non_null(doc);
    assert_string_equal(json_string_value(json_object_get(doc, "event")), "http_request");
    assert_int_equal(json_integer_value(json_object_get(doc, "status")), 404);
    assert_string_equal(json_string_value(json_object_get(doc, "client_ip")), "203.0.113.7");
    assert_string_equal(json_string_value(json_object_get(doc, "route")), "not_found");
    assert_string_equal(json_string_value(json_object_get(doc, "client_request_id")), "forged-id-123");
    assert_int_equal(json_string_length(json_object_get(doc, "path")), OMS_LOG_ACCESS_PATH_MAX);
    assert_int_equal(json_integer_value(json_object_get(doc, "path_length")), 8101);
    assert_true(strstr(out, "\"status\"") < strstr(out, "\"path\""));
    json_decref(doc);
}

static void uuids_are_v4_and_validated(void **state)
{
    (void)state;
    char a[OMS_UUID_LEN + 1], b[OMS_UUID_LEN + 1];
    oms_uuid_new(a);
    oms_uuid_new(b);
    assert_true(oms_uuid_valid(a));
    assert_string_not_equal(a, b);
    assert_int_equal(a[14], '4');
    assert_true(oms_uuid_valid("0B8F5A9E-2C1D-4E5F-8A7B-6C5D4E3F2A1B"));
    assert_false(oms_uuid_valid("0b8f5a9e-2c1d-4e5f-8a7b-6c5d4e3f2a1"));
    assert_false(oms_uuid_valid("0b8f5a9e+2c1d-4e5f-8a7b-6c5d4e3f2a1b"));
    assert_false(oms_uuid_valid("0b8f5a9e-2c1d-4e5f-8a7b-6c5d4e3f2a1g"));
    assert_false(oms_uuid_valid(NULL));
}

static void times_format_as_rfc3339_utc_with_milliseconds(void **state)
{
    (void)state;
    char out[32];
    assert_string_equal(oms_time_format(1795836578123LL, out, sizeof out), "2026-11-28T03:29:38.123Z");
    assert_string_equal(oms_time_format(0, out, sizeof out), "1970-01-01T00:00:00.000Z");
    int64_t m1 = oms_monotonic_ms();
    usleep(20000);
    assert_true(oms_monotonic_ms() - m1 >= 19);
}

static void a_stop_signal_ends_the_wait_with_its_number(void **state)
{
    (void)state;
    fflush(NULL);
    pid_t pid = fork();
    if (pid == 0) {
        oms_process_init("test", NULL);
        if (oms_process_stopping())
            _exit(10);
        kill(getpid(), SIGTERM); /* blocked: stays pending until sigwait */
        int sig = oms_process_wait();
        _exit(sig == SIGTERM && oms_process_stopping() ? 0 : 11);
    }
    int status = 0;
    waitpid(pid, &status, 0);
    assert_true(WIFEXITED(status));
    assert_int_equal(WEXITSTATUS(status), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(each_line_is_one_json_object_with_the_request_id_and_escaped_values),
        cmocka_unit_test(lines_below_the_level_are_dropped_and_numbers_are_numbers),
        cmocka_unit_test(a_line_with_long_values_stays_one_valid_json_object),
        cmocka_unit_test(bytes_that_are_not_utf8_become_replacement_characters),
        cmocka_unit_test(an_access_line_keeps_status_and_client_whatever_the_path),
        cmocka_unit_test(uuids_are_v4_and_validated),
        cmocka_unit_test(times_format_as_rfc3339_utc_with_milliseconds),
        cmocka_unit_test(a_stop_signal_ends_the_wait_with_its_number),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
