/* Unit tests of oms/config.c; exiting cases run in a child process. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "oms/config.h"

static char dotenv_path[64];

static void write_dotenv(const char *content)
{
    snprintf(dotenv_path, sizeof dotenv_path, "/tmp/oms_config_test_%d.env", (int)getpid());
    FILE *f = fopen(dotenv_path, "w");
    assert_non_null(f);
    fputs(content, f);
    fclose(f);
}

/* Runs fn in a child; returns its exit status (or -1 when it did not exit). */
static int exit_status_of(void (*fn)(void))
{
    fflush(NULL);
    pid_t pid = fork();
    if (pid == 0) {
        freopen("/dev/null", "w", stderr);
        fn();
        _exit(0);
    }
    int status = 0;
    waitpid(pid, &status, 0);
    return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

static void dotenv_values_load_but_the_environment_wins(void **state)
{
    (void)state;
    setenv("OMS_T_ENV_WINS", "from-env", 1);
    unsetenv("OMS_T_A");
    unsetenv("OMS_T_B");
    unsetenv("OMS_T_C");
    write_dotenv("# comment\n\nOMS_T_A=plain\nOMS_T_B=\"quoted value\"\nexport OMS_T_C='single' \n"
                 "OMS_T_ENV_WINS=from-file\n");
    assert_int_equal(oms_config_load_dotenv(dotenv_path), 0);
    assert_string_equal(oms_config_str("OMS_T_A", NULL), "plain");
    assert_string_equal(oms_config_str("OMS_T_B", NULL), "quoted value");
    assert_string_equal(oms_config_str("OMS_T_C", NULL), "single");
    assert_string_equal(oms_config_str("OMS_T_ENV_WINS", NULL), "from-env");
    unlink(dotenv_path);
}

static void a_missing_dotenv_file_is_fine(void **state)
{
    (void)state;
    assert_int_equal(oms_config_load_dotenv("/nonexistent/dir/.env"), 0);
}

static void load_malformed(void)
{
    oms_config_load_dotenv(dotenv_path);
}

static void a_malformed_dotenv_line_exits_with_status_two(void **state)
{
    (void)state;
    write_dotenv("GOOD=1\nthis line has no equals sign\n");
    assert_int_equal(exit_status_of(load_malformed), 2);
    unlink(dotenv_path);
}

static void integers_in_range_and_fallbacks(void **state)
{
    (void)state;
    setenv("OMS_T_PORT", "8080", 1);
    assert_int_equal(oms_config_long("OMS_T_PORT", 1, 1, 65535), 8080);
    unsetenv("OMS_T_UNSET");
    assert_int_equal(oms_config_long("OMS_T_UNSET", 42, 1, 65535), 42);
    setenv("OMS_T_EMPTY", "", 1);
    assert_int_equal(oms_config_long("OMS_T_EMPTY", 7, 1, 65535), 7);
    assert_string_equal(oms_config_str("OMS_T_EMPTY", "fb"), "fb");
}

static void read_bad_port(void)
{
    setenv("OMS_T_BAD", "abc", 1);
    oms_config_long("OMS_T_BAD", 1, 1, 65535);
}

static void read_out_of_range(void)
{
    setenv("OMS_T_BAD", "70000", 1);
    oms_config_long("OMS_T_BAD", 1, 1, 65535);
}

static void read_missing_required(void)
{
    unsetenv("OMS_T_REQUIRED");
    oms_config_required("OMS_T_REQUIRED");
}

static void read_bad_enum(void)
{
    static const char *const allowed[] = {"pg", "pulsar", NULL};
    setenv("OMS_T_BUS", "kafka", 1);
    oms_config_enum("OMS_T_BUS", "pg", allowed);
}

static void read_bad_money(void)
{
    setenv("OMS_T_MONEY", "10.001", 1);
    oms_config_money("OMS_T_MONEY", 0);
}

static void a_bad_integer_enum_money_or_missing_setting_exits_with_status_two(void **state)
{
    (void)state;
    assert_int_equal(exit_status_of(read_bad_port), 2);
    assert_int_equal(exit_status_of(read_out_of_range), 2);
    assert_int_equal(exit_status_of(read_missing_required), 2);
    assert_int_equal(exit_status_of(read_bad_enum), 2);
    assert_int_equal(exit_status_of(read_bad_money), 2);
}

static void enum_and_money_settings_are_read(void **state)
{
    (void)state;
    static const char *const allowed[] = {"pg", "pulsar", NULL};
    setenv("OMS_T_BUS", "pulsar", 1);
    assert_string_equal(oms_config_enum("OMS_T_BUS", "pg", allowed), "pulsar");
    setenv("OMS_T_MONEY", "1000.5", 1);
    assert_int_equal(oms_config_money("OMS_T_MONEY", 0), 100050);
    unsetenv("OMS_T_MONEY");
    assert_int_equal(oms_config_money("OMS_T_MONEY", 100000), 100000);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(dotenv_values_load_but_the_environment_wins),
        cmocka_unit_test(a_missing_dotenv_file_is_fine),
        cmocka_unit_test(a_malformed_dotenv_line_exits_with_status_two),
        cmocka_unit_test(integers_in_range_and_fallbacks),
        cmocka_unit_test(a_bad_integer_enum_money_or_missing_setting_exits_with_status_two),
        cmocka_unit_test(enum_and_money_settings_are_read),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
