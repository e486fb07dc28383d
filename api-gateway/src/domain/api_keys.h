/* api_keys.h -- the configured API keys and the constant-time check of a
 * presented one. Pure C. */
#ifndef GATEWAY_API_KEYS_H
#define GATEWAY_API_KEYS_H

#include <stdbool.h>

#include "oms/err.h"

#define API_KEYS_MAX 64
#define API_KEY_MAX_LEN 256

typedef struct api_key_set {
    char keys[API_KEYS_MAX][API_KEY_MAX_LEN + 1]; /* zero-padded */
    int count; /* 0: authentication is off */
} api_key_set;

/* Parses a comma-separated list (blanks around items ignored). Each key is
 * 1..API_KEY_MAX_LEN printable ASCII characters without blanks; at most
 * API_KEYS_MAX keys. A NULL or empty list gives an empty set (off).
 * OMS_EINVAL naming the problem; `set` is untouched then. */
oms_err api_key_set_parse(api_key_set *set, const char *list, oms_error *err);

/* Whether `presented` (may be NULL) equals one of the keys. Takes the same
 * time whichever key matches, or none, for a given set: every key is
 * compared over its full padded length without an early exit. *index
 * (optional) receives the index of the matching key. */
bool api_key_set_match(const api_key_set *set, const char *presented, int *index);

#endif
