/* config.h -- settings from the environment, with a `.env` file as fallback.
 *
 * Read once at start. A bad or missing setting stops the process with exactly
 * one line on stderr naming the setting ("config: PORT=abc: must be an integer
 * from 1 to 65535") and exit status 2: a process never runs half-configured. */
#ifndef OMS_CONFIG_H
#define OMS_CONFIG_H

#include <stdint.h>

/* Loads KEY=VALUE lines of `path` (comments '#', blank lines, optional quotes)
 * into the environment without overriding variables already set. A missing
 * file is fine (returns 0); an unreadable or malformed one exits(2) naming the
 * line. Call it first, before any getter. */
int oms_config_load_dotenv(const char *path);

/* The variable, or `fallback` when unset. An empty value counts as unset. */
const char *oms_config_str(const char *name, const char *fallback);

/* The variable; exits(2) when it is unset or empty. */
const char *oms_config_required(const char *name);

/* An integer in [min, max], or `fallback` when unset; exits(2) on anything
 * else. */
long oms_config_long(const char *name, long fallback, long min, long max);

/* One of `allowed` (a NULL-terminated list), or `fallback` when unset;
 * exits(2) naming the allowed values otherwise. */
const char *oms_config_enum(const char *name, const char *fallback, const char *const *allowed);

/* Money ("1000.00"), in cents, or `fallback_cents` when unset; exits(2) when it
 * is not a decimal with at most two fraction digits or is negative. */
int64_t oms_config_money(const char *name, int64_t fallback_cents);

/* Reports a bad setting found by the caller's own checks, the same way, and
 * exits(2). */
void oms_config_fail(const char *name, const char *value, const char *why) __attribute__((noreturn));

#endif
