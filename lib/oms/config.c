/* config.c -- the settings table of a process, loaded from the environment
 * and `.env`. Every failure is one line on stderr and exit(2): a process
 * never runs half-configured. */
#include "config.h"

#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "money.h"

#define DOTENV_LINE_MAX 4096
#define SAME_AS_DEPTH 8 /* a chain of same_as longer than this is a loop */
#define SETTING_FILE_MAX (64 * 1024)

static void config_fail(const char *name, const char *value, const char *why) __attribute__((noreturn));
static void config_fail(const char *name, const char *value, const char *why)
{
    if (value)
        fprintf(stderr, "config: %s=%s: %s\n", name, value, why);
    else
        fprintf(stderr, "config: %s: %s\n", name, why);
    fflush(stderr);
    exit(2);
}

static void dotenv_fail(const char *path, int line_no, const char *why)
{
    fprintf(stderr, "config: %s:%d: %s\n", path, line_no, why);
    fflush(stderr);
    exit(2);
}

static char *trim(char *s)
{
    while (*s == ' ' || *s == '\t')
        s++;
    size_t n = strlen(s);
    while (n > 0 && (s[n - 1] == ' ' || s[n - 1] == '\t' || s[n - 1] == '\r' || s[n - 1] == '\n'))
        s[--n] = '\0';
    return s;
}

static int valid_name(const char *s)
{
    if (!*s)
        return 0;
    for (const char *p = s; *p; p++) {
        char c = *p;
        int ok = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || c == '_' || (p != s && c >= '0' && c <= '9');
        if (!ok)
            return 0;
    }
    return 1;
}

/* Removes one pair of matching quotes around the value, or a trailing
 * " # comment" from an unquoted value. */
static char *unquote(char *v, const char *path, int line_no)
{
    size_t n = strlen(v);
    if (n > 0 && (v[0] == '"' || v[0] == '\'')) {
        if (n < 2 || v[n - 1] != v[0])
            dotenv_fail(path, line_no, "unterminated quote");
        v[n - 1] = '\0';
        return v + 1;
    }
    char *hash = strstr(v, " #");
    if (hash)
        *hash = '\0';
    return trim(v);
}

static void dotenv_line(char *line, const char *path, int line_no)
{
    char *s = trim(line);
    if (*s == '\0' || *s == '#')
        return;
    if (strncmp(s, "export ", 7) == 0)
        s = trim(s + 7);
    char *eq = strchr(s, '=');
    if (!eq)
        dotenv_fail(path, line_no, "expected KEY=VALUE");
    *eq = '\0';
    char *name = trim(s);
    if (!valid_name(name))
        dotenv_fail(path, line_no, "bad variable name");
    char *value = unquote(trim(eq + 1), path, line_no);
    setenv(name, value, 0); /* the environment wins */
}

int oms_config_load_dotenv(const char *path)
{
    FILE *f = fopen(path, "r");
    if (!f) {
        if (errno == ENOENT)
            return 0;
        fprintf(stderr, "config: %s: %s\n", path, strerror(errno));
        exit(2);
    }
    char line[DOTENV_LINE_MAX];
    int line_no = 0;
    while (fgets(line, sizeof line, f)) {
        line_no++;
        size_t n = strlen(line);
        if (n == sizeof line - 1 && line[n - 1] != '\n' && !feof(f))
            dotenv_fail(path, line_no, "line too long");
        dotenv_line(line, path, line_no);
    }
    int failed = ferror(f);
    fclose(f);
    if (failed)
        dotenv_fail(path, line_no, "read error");
    return 0;
}

const char *oms_config_str(const char *name, const char *fallback)
{
    const char *v = getenv(name);
    if (!v || !*v)
        return fallback;
    return v;
}

/* ---- the table ---- */

static void table_abort(const char *what, const char *name) __attribute__((noreturn));
static void table_abort(const char *what, const char *name)
{
    fprintf(stderr, "config: settings table: %s %s\n", what, name);
    fflush(stderr);
    abort();
}

void oms_settings_init(oms_settings *t, const char *process)
{
    memset(t, 0, sizeof *t);
    t->process = process;
}

void oms_settings_add(oms_settings *t, const char *module, const oms_setting *rows, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        if (oms_settings_find(t, rows[i].name))
            table_abort("a second row for", rows[i].name);
        if (t->count == OMS_SETTINGS_MAX)
            table_abort("no room for", rows[i].name);
        t->module[t->count] = module;
        t->rows[t->count++] = rows[i];
    }
}

const oms_setting *oms_settings_find(const oms_settings *t, const char *name)
{
    for (size_t i = 0; i < t->count; i++) {
        if (strcmp(t->rows[i].name, name) == 0)
            return &t->rows[i];
    }
    return NULL;
}

/* A row's text and the variable it came from (NULL: a default). */
typedef struct setting_value {
    const char *text;
    const char *from;
} setting_value;

/* Contents of the files settings were read from: kept for the process's
 * lifetime (targets point into them). */
static char *file_values[OMS_SETTINGS_MAX];
static size_t file_value_count;

/* The text of `path` without one trailing newline, or NULL with `why`. */
static char *read_setting_file(const char *path, const char **why)
{
    FILE *f = fopen(path, "rb");
    if (!f) {
        *why = "cannot open the file";
        return NULL;
    }
    char *buf = malloc(SETTING_FILE_MAX + 1);
    size_t n = buf ? fread(buf, 1, SETTING_FILE_MAX + 1, f) : 0;
    bool failed = !buf || ferror(f);
    fclose(f);
    *why = !buf                   ? "out of memory"
           : failed               ? "cannot read the file"
           : n > SETTING_FILE_MAX ? "the file is too large"
                                  : NULL;
    if (*why) {
        free(buf);
        return NULL;
    }
    if (n > 0 && buf[n - 1] == '\n')
        n--;
    if (n > 0 && buf[n - 1] == '\r')
        n--;
    buf[n] = '\0';
    return buf;
}

/* The value of <NAME>_FILE's file, or `from_env` when that is not set. */
static setting_value value_from_file(const oms_setting *row, setting_value from_env)
{
    static char names[OMS_SETTINGS_MAX][96];
    if (file_value_count == OMS_SETTINGS_MAX)
        table_abort("too many settings read from files, at", row->name);
    char *name = names[file_value_count];
    snprintf(name, sizeof names[0], "%s_FILE", row->name);
    const char *path = oms_config_str(name, NULL);
    if (!path)
        return from_env;
    if (from_env.text)
        config_fail(row->name, NULL, "set it or its _FILE, not both");
    const char *why = NULL;
    char *text = read_setting_file(path, &why);
    if (!text)
        config_fail(name, path, why);
    file_values[file_value_count++] = text;
    return (setting_value){*text ? text : NULL, name};
}

static setting_value value_of(const oms_settings *t, const oms_setting *row, int depth)
{
    setting_value v = {oms_config_str(row->name, NULL), row->name};
    if (row->flags & OMS_SETTING_FILE)
        v = value_from_file(row, v);
    if (!v.text && row->same_as) {
        const oms_setting *other = oms_settings_find(t, row->same_as);
        if (!other || depth == SAME_AS_DEPTH)
            table_abort("a same_as that leads nowhere:", row->name);
        v = value_of(t, other, depth + 1);
    }
    if (!v.text)
        v = (setting_value){row->fallback, NULL};
    return v;
}

static void fail_on(const oms_setting *row, setting_value v, const char *why) __attribute__((noreturn));
static void fail_on(const oms_setting *row, setting_value v, const char *why)
{
    const char *name = v.from ? v.from : row->name;
    config_fail(name, row->flags & OMS_SETTING_SECRET ? NULL : v.text, why);
}

static long integer_of(const oms_setting *row, setting_value v)
{
    char *end = NULL;
    errno = 0;
    long n = strtol(v.text, &end, 10);
    if (errno || end == v.text || *end != '\0' || n < row->min || n > row->max) {
        char why[128];
        snprintf(why, sizeof why, "must be an integer from %ld to %ld", row->min, row->max);
        fail_on(row, v, why);
    }
    return n;
}

static const char *enum_of(const oms_setting *row, setting_value v)
{
    for (const char *const *a = row->allowed; *a; a++) {
        if (strcmp(*a, v.text) == 0)
            return *a;
    }
    char why[256] = "must be one of";
    size_t used = strlen(why);
    for (const char *const *a = row->allowed; *a && used < sizeof why; a++) {
        int n = snprintf(why + used, sizeof why - used, "%s %s", a == row->allowed ? "" : ",", *a);
        if (n < 0)
            break;
        used += (size_t)n;
    }
    fail_on(row, v, why);
}

static int64_t money_of(const oms_setting *row, setting_value v)
{
    int64_t cents = 0;
    if (oms_money_parse(v.text, &cents) != OMS_OK || cents < 0)
        fail_on(row, v, "must be a non-negative amount with at most two decimals");
    return cents;
}

static void parse_into(const oms_setting *row, setting_value v)
{
    oms_error err;
    oms_error_clear(&err);
    if (row->parse(v.text, row->target, &err) != OMS_OK)
        fail_on(row, v, err.message[0] ? err.message : "is not valid");
}

/* Stores a present value (v.text != NULL) by the row's kind. */
static void store(const oms_setting *row, setting_value v)
{
    switch (row->kind) {
    case OMS_SETTING_TEXT: *(const char **)row->target = v.text; break;
    case OMS_SETTING_INT: *(int *)row->target = (int)integer_of(row, v); break;
    case OMS_SETTING_LONG: *(long *)row->target = integer_of(row, v); break;
    case OMS_SETTING_INT_TEXT:
        integer_of(row, v);
        *(const char **)row->target = v.text;
        break;
    case OMS_SETTING_ENUM: *(const char **)row->target = enum_of(row, v); break;
    case OMS_SETTING_MONEY: *(int64_t *)row->target = money_of(row, v); break;
    case OMS_SETTING_PARSED: parse_into(row, v); break;
    }
}

static bool is_placeholder(const char *text)
{
    return strncasecmp(text, "change-me", 9) == 0 || strncasecmp(text, "changeme", 8) == 0;
}

static void load_row(const oms_settings *t, const oms_setting *row)
{
    setting_value v = value_of(t, row, 0);
    if (!v.text && (row->flags & OMS_SETTING_REQUIRED))
        config_fail(row->name, NULL, "must be set");
    if (v.text && (row->flags & OMS_SETTING_NO_PLACEHOLDER) && is_placeholder(v.text))
        fail_on(row, v, "is a published placeholder: set a value of your own");
    if (v.text)
        store(row, v);
    else if (row->kind == OMS_SETTING_PARSED)
        parse_into(row, v); /* unset: the parser says what that means */
    else if (row->kind == OMS_SETTING_TEXT || row->kind == OMS_SETTING_INT_TEXT || row->kind == OMS_SETTING_ENUM)
        *(const char **)row->target = NULL;
}

void oms_settings_load(const oms_settings *t, const char *dotenv_path)
{
    if (dotenv_path)
        oms_config_load_dotenv(dotenv_path);
    for (size_t i = 0; i < t->count; i++)
        load_row(t, &t->rows[i]);
}

void oms_settings_fail(const char *name, const char *why) { config_fail(name, NULL, why); }
