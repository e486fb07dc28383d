/* api_keys.h -- the configured API keys, each with the principal it stands
 * for, and the constant-time check of a presented key. Pure C.
 *
 * API_KEYS lists entries `key:role[:subject]`, comma-separated (SPEC 7),
 * e.g. "k1:customer:customer-1,k2:admin". */
#ifndef GATEWAY_API_KEYS_H
#define GATEWAY_API_KEYS_H

#include <stdbool.h>

#include "oms/err.h"
#include "principal.h"

#define API_KEYS_MAX 64
#define API_KEY_MAX_LEN 256
#define API_KEY_FINGERPRINT_LEN 16

/* Writes a fingerprint of `key` into `out`: API_KEY_FINGERPRINT_LEN
 * lowercase hex digits and a NUL, the same for the same key, from which the
 * key cannot be found (the gateway uses SHA-256; tests may use anything).
 * False when it cannot be computed. */
typedef bool (*api_key_fingerprint_fn)(const char *key, char out[API_KEY_FINGERPRINT_LEN + 1]);

typedef struct api_key_entry {
    char key[API_KEY_MAX_LEN + 1]; /* zero-padded */
    principal who;                 /* its id is "key:<fingerprint>" */
} api_key_entry;

typedef struct api_key_set {
    api_key_entry entries[API_KEYS_MAX];
    int count; /* 0: no key configured */
} api_key_set;

/* Parses a comma-separated list of `key:role[:subject]` (blanks around
 * entries ignored). A key is 1..API_KEY_MAX_LEN printable ASCII characters
 * without blanks, ',' or ':'; the role is customer, viewer, operator or
 * admin; a customer needs a subject (its customer_id, see
 * subject_is_valid; everything after the role's ':', so it may hold ':'). At most API_KEYS_MAX entries, no key twice. A NULL or
 * empty list gives an empty set. OMS_EINVAL naming the problem (never the
 * key), OMS_EINTERNAL when a fingerprint fails; `set` is untouched then. */
oms_err api_key_set_parse(api_key_set *set, const char *list, api_key_fingerprint_fn fingerprint, oms_error *err);

/* The principal of `presented` (may be NULL), or NULL when it is none of the
 * keys. Takes the same time whichever key matches, or none, for a given
 * set: every key is compared over its full padded length without an early
 * exit. */
const principal *api_key_set_match(const api_key_set *set, const char *presented);

#endif
