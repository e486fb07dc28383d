/* Unit tests of oms/config.c: `.env` and the settings table; exiting cases
 * run in a child process. */
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
#include <jansson.h>

#include "oms/config.h"

static char dotenv_path[64];

/* Writes `content` to /tmp/oms_config_test_<pid>.<suffix>, named in `path`. */
static void write_test_file(char path[64], const char *suffix, const char *content)
{
    snprintf(path, 64, "/tmp/oms_config_test_%d.%s", (int)getpid(), suffix);
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fputs(content, f);
    fclose(f);
}

static void write_dotenv(const char *content) { write_test_file(dotenv_path, "env", content); }

static char stderr_text[512];

/* Runs fn in a child; returns its exit status (or -1 when it did not exit)
 * and keeps what it wrote on stderr in stderr_text. */
static int exit_status_of(void (*fn)(void))
{
    char path[64];
    snprintf(path, sizeof path, "/tmp/oms_config_test_%d.err", (int)getpid());
    fflush(NULL);
    pid_t pid = fork();
    if (pid == 0) {
        if (!freopen(path, "w", stderr))
            _exit(99);
        fn();
        _exit(0);
    }
    int status = 0;
    waitpid(pid, &status, 0);
    stderr_text[0] = '\0';
    FILE *f = fopen(path, "r");
    if (f) {
        stderr_text[fread(stderr_text, 1, sizeof stderr_text - 1, f)] = '\0';
        fclose(f);
    }
    unlink(path);
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

static void load_malformed(void) { oms_config_load_dotenv(dotenv_path); }

static void a_malformed_dotenv_line_exits_with_status_two(void **state)
{
    (void)state;
    write_dotenv("GOOD=1\nthis line has no equals sign\n");
    assert_int_equal(exit_status_of(load_malformed), 2);
    unlink(dotenv_path);
}

/* ---- the settings table ---- */

static oms_settings table;
static int t_int;
static long t_long;
static const char *t_text, *t_enum, *t_port;
static int64_t t_money;
static const char *const buses[] = {"pg", "pulsar", NULL};

/* One row of each kind, the way a module contributes them. */
static void add_rows(void)
{
    const oms_setting rows[] = {
        {.name = "OMS_T_INT",
         .kind = OMS_SETTING_INT,
         .fallback = "42",
         .min = 1,
         .max = 65535,
         .target = &t_int,
         .doc = "an int"},
        {.name = "OMS_T_LONG",
         .kind = OMS_SETTING_LONG,
         .fallback = "0",
         .min = 0,
         .max = 1000000,
         .target = &t_long,
         .doc = "a long"},
        {.name = "OMS_T_TEXT", .kind = OMS_SETTING_TEXT, .target = &t_text, .doc = "a text"},
        {.name = "OMS_T_PORT",
         .kind = OMS_SETTING_INT_TEXT,
         .fallback = "5432",
         .min = 1,
         .max = 65535,
         .target = &t_port,
         .doc = "a port kept as text"},
        {.name = "OMS_T_BUS",
         .kind = OMS_SETTING_ENUM,
         .fallback = "pg",
         .allowed = buses,
         .target = &t_enum,
         .doc = "an enum"},
        {.name = "OMS_T_MONEY", .kind = OMS_SETTING_MONEY, .fallback = "1000.00", .target = &t_money, .doc = "money"},
    };
    oms_settings_init(&table, "test");
    oms_settings_add(&table, "test", rows, sizeof rows / sizeof rows[0]);
}

static void unset_rows(void)
{
    const char *names[] = {"OMS_T_INT",   "OMS_T_LONG",      "OMS_T_TEXT",   "OMS_T_PORT",    "OMS_T_BUS",
                           "OMS_T_MONEY", "OMS_T_READ_PORT", "OMS_T_SECRET", "OMS_T_REQUIRED"};
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++)
        unsetenv(names[i]);
}

static void defaults_apply_when_unset_or_empty(void **state)
{
    (void)state;
    unset_rows();
    setenv("OMS_T_LONG", "", 1);
    add_rows();
    oms_settings_load(&table, NULL);
    assert_int_equal(t_int, 42);
    assert_int_equal(t_long, 0);
    assert_null(t_text);
    assert_string_equal(t_port, "5432");
    assert_string_equal(t_enum, "pg");
    assert_int_equal(t_money, 100000);
}

static void set_values_are_loaded_by_kind(void **state)
{
    (void)state;
    unset_rows();
    setenv("OMS_T_INT", "8080", 1);
    setenv("OMS_T_LONG", "1000000", 1);
    setenv("OMS_T_TEXT", "some text", 1);
    setenv("OMS_T_PORT", "6543", 1);
    setenv("OMS_T_BUS", "pulsar", 1);
    setenv("OMS_T_MONEY", "1000.5", 1);
    add_rows();
    oms_settings_load(&table, NULL);
    assert_int_equal(t_int, 8080);
    assert_int_equal(t_long, 1000000);
    assert_string_equal(t_text, "some text");
    assert_string_equal(t_port, "6543");
    assert_string_equal(t_enum, "pulsar");
    assert_int_equal(t_money, 100050);
    unset_rows();
}

static void load_with(const char *name, const char *value)
{
    unset_rows();
    setenv(name, value, 1);
    add_rows();
    oms_settings_load(&table, NULL);
}

static void load_bad_int(void) { load_with("OMS_T_INT", "abc"); }

static void load_int_out_of_range(void) { load_with("OMS_T_INT", "70000"); }

static void load_bad_port_text(void) { load_with("OMS_T_PORT", "0"); }

static void load_bad_enum(void) { load_with("OMS_T_BUS", "kafka"); }

static void load_bad_money(void) { load_with("OMS_T_MONEY", "10.001"); }

/* A bad value stops the process: exit 2 and one line naming the setting. */
static void a_bad_value_exits_with_status_two_and_one_line_naming_it(void **state)
{
    (void)state;
    assert_int_equal(exit_status_of(load_bad_int), 2);
    assert_string_equal(stderr_text, "config: OMS_T_INT=abc: must be an integer from 1 to 65535\n");
    assert_int_equal(exit_status_of(load_int_out_of_range), 2);
    assert_string_equal(stderr_text, "config: OMS_T_INT=70000: must be an integer from 1 to 65535\n");
    assert_int_equal(exit_status_of(load_bad_port_text), 2);
    assert_string_equal(stderr_text, "config: OMS_T_PORT=0: must be an integer from 1 to 65535\n");
    assert_int_equal(exit_status_of(load_bad_enum), 2);
    assert_string_equal(stderr_text, "config: OMS_T_BUS=kafka: must be one of pg, pulsar\n");
    assert_int_equal(exit_status_of(load_bad_money), 2);
    assert_string_equal(stderr_text,
                        "config: OMS_T_MONEY=10.001: must be a non-negative amount with at most two decimals\n");
}

static const char *t_read_port, *t_secret, *t_required;

static oms_err parse_secret(const char *value, void *target, oms_error *err)
{
    if (value && strchr(value, ' '))
        return oms_error_set(err, OMS_EINVAL, NULL, "must not contain a space");
    *(const char **)target = value;
    return OMS_OK;
}

/* The rows of add_rows, then one that defaults to OMS_T_PORT, a secret and
 * a required one. */
static void add_more_rows(void)
{
    add_rows();
    const oms_setting rows[] = {
        {.name = "OMS_T_READ_PORT",
         .kind = OMS_SETTING_INT_TEXT,
         .same_as = "OMS_T_PORT",
         .min = 1,
         .max = 65535,
         .target = &t_read_port,
         .doc = "the read port"},
        {.name = "OMS_T_SECRET",
         .kind = OMS_SETTING_PARSED,
         .parse = parse_secret,
         .target = &t_secret,
         .flags = OMS_SETTING_SECRET,
         .bounds = "no spaces",
         .doc = "a secret"},
        {.name = "OMS_T_REQUIRED",
         .kind = OMS_SETTING_TEXT,
         .target = &t_required,
         .flags = OMS_SETTING_REQUIRED,
         .doc = "must be given"},
    };
    oms_settings_add(&table, "more", rows, sizeof rows / sizeof rows[0]);
}

static void same_as_takes_the_other_settings_value_then_its_default(void **state)
{
    (void)state;
    unset_rows();
    setenv("OMS_T_REQUIRED", "here", 1);
    add_more_rows();
    oms_settings_load(&table, NULL);
    assert_string_equal(t_read_port, "5432"); /* OMS_T_PORT's default */
    assert_null(t_secret);                    /* the parser was told: unset */
    setenv("OMS_T_PORT", "6000", 1);
    oms_settings_load(&table, NULL);
    assert_string_equal(t_read_port, "6000");
    setenv("OMS_T_READ_PORT", "7000", 1);
    setenv("OMS_T_SECRET", "s3cret", 1);
    oms_settings_load(&table, NULL);
    assert_string_equal(t_read_port, "7000");
    assert_string_equal(t_secret, "s3cret");
    unset_rows();
}

static void load_bad_secret(void)
{
    unset_rows();
    setenv("OMS_T_REQUIRED", "here", 1);
    setenv("OMS_T_SECRET", "two words", 1);
    add_more_rows();
    oms_settings_load(&table, NULL);
}

static void load_without_required(void)
{
    unset_rows();
    add_more_rows();
    oms_settings_load(&table, NULL);
}

static void a_secret_is_never_echoed_and_a_required_one_must_be_set(void **state)
{
    (void)state;
    assert_int_equal(exit_status_of(load_bad_secret), 2);
    assert_string_equal(stderr_text, "config: OMS_T_SECRET: must not contain a space\n");
    assert_int_equal(exit_status_of(load_without_required), 2);
    assert_string_equal(stderr_text, "config: OMS_T_REQUIRED: must be set\n");
}

/* ---- secrets from files, placeholders ---- */

static const char *t_key;
static char key_file[64];

static void load_key(void)
{
    const oms_setting row = {.name = "OMS_T_KEY",
                             .kind = OMS_SETTING_TEXT,
                             .target = &t_key,
                             .flags = OMS_SETTING_SECRET | OMS_SETTING_FILE | OMS_SETTING_NO_PLACEHOLDER,
                             .doc = "a secret"};
    oms_settings_init(&table, "test");
    oms_settings_add(&table, "test", &row, 1);
    oms_settings_load(&table, NULL);
}

static void write_key_file(const char *content) { write_test_file(key_file, "key", content); }

/* A secret mount: OMS_T_KEY_FILE names the file; one trailing newline goes.
 * Both set, an unreadable file or a published placeholder stop the process
 * with one line that never shows the secret. */
static void a_secret_may_come_from_a_file_and_never_be_a_placeholder(void **state)
{
    (void)state;
    write_key_file("from-the-file\n");
    setenv("OMS_T_KEY_FILE", key_file, 1);
    load_key();
    assert_string_equal(t_key, "from-the-file");
    setenv("OMS_T_KEY", "from-the-env", 1);
    assert_int_equal(exit_status_of(load_key), 2);
    assert_string_equal(stderr_text, "config: OMS_T_KEY: set it or its _FILE, not both\n");
    unsetenv("OMS_T_KEY");
    write_key_file("change-me-please\n");
    assert_int_equal(exit_status_of(load_key), 2);
    assert_non_null(strstr(stderr_text, "config: OMS_T_KEY_FILE: is a published placeholder"));
    assert_null(strstr(stderr_text, "please"));
    unlink(key_file);
    assert_int_equal(exit_status_of(load_key), 2);
    assert_non_null(strstr(stderr_text, "cannot open the file"));
    unsetenv("OMS_T_KEY_FILE");
    setenv("OMS_T_KEY", "ChangeMe123", 1);
    assert_int_equal(exit_status_of(load_key), 2);
    assert_string_equal(stderr_text, "config: OMS_T_KEY: is a published placeholder: set a value of your own\n");
    setenv("OMS_T_KEY", "a-real-secret", 1);
    load_key();
    assert_string_equal(t_key, "a-real-secret");
    unsetenv("OMS_T_KEY");
}

static void add_a_second_row_of_one_name(void)
{
    add_rows();
    const oms_setting again = {
        .name = "OMS_T_INT", .kind = OMS_SETTING_INT, .fallback = "1", .min = 1, .max = 2, .target = &t_int};
    oms_settings_add(&table, "again", &again, 1);
}

static void a_name_is_in_the_table_once(void **state)
{
    (void)state;
    assert_int_equal(exit_status_of(add_a_second_row_of_one_name), -1); /* aborted */
    assert_non_null(strstr(stderr_text, "a second row for OMS_T_INT"));
}

/* --print-settings: every row, with its default, bounds and doc. */
static void the_table_prints_as_text_and_as_json(void **state)
{
    (void)state;
    add_more_rows();
    char *text = NULL;
    size_t len = 0;
    FILE *out = open_memstream(&text, &len);
    oms_settings_print(&table, out, false);
    fclose(out);
    assert_non_null(strstr(text, "OMS_T_INT\n    default: 42\n    integer: 1..65535 (test)\n    an int\n"));
    assert_non_null(strstr(text, "OMS_T_READ_PORT\n    default: OMS_T_PORT's value\n"));
    assert_non_null(strstr(text, "OMS_T_REQUIRED\n    default: none (required)\n"));
    free(text);

    out = open_memstream(&text, &len);
    oms_settings_print(&table, out, true);
    fclose(out);
    json_error_t error;
    json_t *doc = json_loads(text, 0, &error);
    free(text);
    assert_non_null(doc);
    assert_string_equal(json_string_value(json_object_get(doc, "process")), "test");
    json_t *rows = json_object_get(doc, "settings");
    assert_int_equal(json_array_size(rows), table.count);
    json_t *bus = json_array_get(rows, 4);
    assert_string_equal(json_string_value(json_object_get(bus, "name")), "OMS_T_BUS");
    assert_string_equal(json_string_value(json_object_get(bus, "kind")), "enum");
    assert_string_equal(json_string_value(json_object_get(bus, "default")), "pg");
    assert_string_equal(json_string_value(json_array_get(json_object_get(bus, "allowed"), 1)), "pulsar");
    json_t *port = json_array_get(rows, 3);
    assert_int_equal(json_integer_value(json_object_get(port, "max")), 65535);
    json_t *secret = json_array_get(rows, 7);
    assert_true(json_is_true(json_object_get(secret, "secret")));
    assert_string_equal(json_string_value(json_object_get(secret, "module")), "more");
    json_t *read_port = json_array_get(rows, 6);
    assert_string_equal(json_string_value(json_object_get(read_port, "same_as")), "OMS_T_PORT");
    assert_true(json_is_null(json_object_get(read_port, "default")) || !json_object_get(read_port, "default"));
    json_decref(doc);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(dotenv_values_load_but_the_environment_wins),
        cmocka_unit_test(a_missing_dotenv_file_is_fine),
        cmocka_unit_test(a_malformed_dotenv_line_exits_with_status_two),
        cmocka_unit_test(defaults_apply_when_unset_or_empty),
        cmocka_unit_test(set_values_are_loaded_by_kind),
        cmocka_unit_test(a_bad_value_exits_with_status_two_and_one_line_naming_it),
        cmocka_unit_test(same_as_takes_the_other_settings_value_then_its_default),
        cmocka_unit_test(a_secret_is_never_echoed_and_a_required_one_must_be_set),
        cmocka_unit_test(a_secret_may_come_from_a_file_and_never_be_a_placeholder),
        cmocka_unit_test(a_name_is_in_the_table_once),
        cmocka_unit_test(the_table_prints_as_text_and_as_json),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
