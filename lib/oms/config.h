/* config.h -- settings from the environment, with a `.env` file as fallback:
 * one table per process (Redis's static_configs[], PostgreSQL's GUC tables).
 *
 * Each module that has settings contributes rows (name, kind, bounds,
 * default, doc, where the value goes) to the process's oms_settings; main()
 * answers --print-settings from that table, then loads it once, at start.
 * A bad or missing setting stops the process with exactly one line on stderr
 * naming the setting ("config: PORT=abc: must be an integer from 1 to
 * 65535") and exit status 2: a process never runs half-configured. */
#ifndef OMS_CONFIG_H
#define OMS_CONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "err.h"

typedef enum oms_setting_kind {
    OMS_SETTING_TEXT,     /* const char *target: the value as given (NULL when unset without default) */
    OMS_SETTING_INT,      /* int *target: an integer in [min, max] */
    OMS_SETTING_LONG,     /* long *target: an integer in [min, max] */
    OMS_SETTING_INT_TEXT, /* const char *target: an integer in [min, max], kept as text (libpq's port) */
    OMS_SETTING_ENUM,     /* const char *target: one of `allowed` (the table's own string) */
    OMS_SETTING_MONEY,    /* int64_t *target: a non-negative amount ("1000.00") in cents */
    OMS_SETTING_PARSED,   /* parse(value, target, err) turns the text into whatever target is */
} oms_setting_kind;

#define OMS_SETTING_SECRET 1u   /* the value is never echoed (API keys) */
#define OMS_SETTING_REQUIRED 2u /* unset (and no same_as value) stops the process */
/* The value may instead be the contents of the file named by <NAME>_FILE (a
 * secret mount; one trailing newline dropped); setting both stops the
 * process. */
#define OMS_SETTING_FILE 4u
/* A value starting with a placeholder this repository ships ("change-me",
 * "changeme") stops the process: a secret of one's own is required. */
#define OMS_SETTING_NO_PLACEHOLDER 8u

/* Parses `value` (NULL when unset without default) into `target`; on a bad
 * value returns OMS_EINVAL with err's message saying why, for the one line. */
typedef oms_err (*oms_setting_parse)(const char *value, void *target, oms_error *err);

typedef struct oms_setting {
    const char *name; /* the environment variable */
    oms_setting_kind kind;
    const char *fallback;       /* the default as text; NULL: none */
    const char *same_as;        /* unset: the value of this setting of the table, before `fallback` */
    long min, max;              /* INT, LONG, INT_TEXT */
    const char *const *allowed; /* ENUM: NULL-terminated */
    oms_setting_parse parse;    /* PARSED */
    const char *bounds;         /* PARSED, TEXT: what is accepted, in words (optional) */
    const char *doc;            /* one line: what it does */
    void *target;               /* where the value goes, typed by kind */
    unsigned flags;             /* OMS_SETTING_SECRET, OMS_SETTING_REQUIRED */
} oms_setting;

#define OMS_SETTINGS_MAX 64

/* The settings of one process, in load order. Rows are copied in; the
 * strings and targets they point to belong to the contributor and must
 * outlive the load. */
typedef struct oms_settings {
    const char *process; /* names the table in --print-settings */
    oms_setting rows[OMS_SETTINGS_MAX];
    const char *module[OMS_SETTINGS_MAX]; /* who contributed each row ("pg", "bus", ...) */
    size_t count;
} oms_settings;

void oms_settings_init(oms_settings *t, const char *process);

/* Appends rows from `module`. A row whose name is already in the table, or
 * a full table, is a programming error: it aborts with a line on stderr. */
void oms_settings_add(oms_settings *t, const char *module, const oms_setting *rows, size_t n);

/* The row named `name`, or NULL. */
const oms_setting *oms_settings_find(const oms_settings *t, const char *name);

/* Handles main()'s arguments: with none returns; --print-settings prints the
 * table as text, --print-settings=json as JSON, to stdout, and exits 0;
 * anything else prints the usage on stderr and exits 2. */
void oms_settings_handle_args(const oms_settings *t, int argc, char **argv);

/* Prints the table: text (one block per setting) or JSON (an object with
 * "process" and "settings", one object per row: name, module, kind,
 * default, same_as, min, max, allowed, bounds, required, secret, doc). */
void oms_settings_print(const oms_settings *t, FILE *out, bool json);

/* Loads `.env` (see oms_config_load_dotenv), then every row in table order
 * into its target; exits(2) with one line at the first bad value. */
void oms_settings_load(const oms_settings *t, const char *dotenv_path);

/* For a check across settings after the load (e.g. "one of these must be
 * set"): the same one line, "config: <name>: <why>", and exit(2). */
void oms_settings_fail(const char *name, const char *why) __attribute__((noreturn));

/* Loads KEY=VALUE lines of `path` (comments '#', blank lines, optional quotes)
 * into the environment without overriding variables already set. A missing
 * file is fine (returns 0); an unreadable or malformed one exits(2) naming the
 * line. */
int oms_config_load_dotenv(const char *path);

/* The variable, or `fallback` when unset. An empty value counts as unset.
 * For tools and tests; a process reads its settings through its table. */
const char *oms_config_str(const char *name, const char *fallback);

#endif
