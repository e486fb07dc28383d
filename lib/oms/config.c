/* config.c -- settings from the environment and `.env`. Every failure is one
 * line on stderr and exit(2): a process never runs half-configured. */
#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "money.h"

#define DOTENV_LINE_MAX 4096

void oms_config_fail(const char *name, const char *value, const char *why)
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

const char *oms_config_required(const char *name)
{
    const char *v = oms_config_str(name, NULL);
    if (!v)
        oms_config_fail(name, NULL, "must be set");
    return v;
}

long oms_config_long(const char *name, long fallback, long min, long max)
{
    const char *v = oms_config_str(name, NULL);
    if (!v)
        return fallback;
    char *end = NULL;
    errno = 0;
    long n = strtol(v, &end, 10);
    if (errno || end == v || *end != '\0' || n < min || n > max) {
        char why[128];
        snprintf(why, sizeof why, "must be an integer from %ld to %ld", min, max);
        oms_config_fail(name, v, why);
    }
    return n;
}

const char *oms_config_enum(const char *name, const char *fallback, const char *const *allowed)
{
    const char *v = oms_config_str(name, NULL);
    if (!v)
        return fallback;
    for (const char *const *a = allowed; *a; a++) {
        if (strcmp(*a, v) == 0)
            return *a;
    }
    char why[256] = "must be one of";
    size_t used = strlen(why);
    for (const char *const *a = allowed; *a && used < sizeof why; a++) {
        int n = snprintf(why + used, sizeof why - used, "%s %s", a == allowed ? "" : ",", *a);
        if (n < 0)
            break;
        used += (size_t)n;
    }
    oms_config_fail(name, v, why);
}

int64_t oms_config_money(const char *name, int64_t fallback_cents)
{
    const char *v = oms_config_str(name, NULL);
    if (!v)
        return fallback_cents;
    int64_t cents = 0;
    if (oms_money_parse(v, &cents) != OMS_OK || cents < 0)
        oms_config_fail(name, v, "must be a non-negative amount with at most two decimals");
    return cents;
}
