/* api_keys.c -- see api_keys.h. */
#include "api_keys.h"

#include <string.h>

static bool key_char(char c)
{
    return c > ' ' && c < 0x7f && c != ',';
}

static oms_err add_key(api_key_set *set, const char *item, size_t len, oms_error *err)
{
    while (len > 0 && (*item == ' ' || *item == '\t')) {
        item++;
        len--;
    }
    while (len > 0 && (item[len - 1] == ' ' || item[len - 1] == '\t'))
        len--;
    if (len == 0)
        return oms_error_set(err, OMS_EINVAL, NULL, "empty key in the list");
    if (len > API_KEY_MAX_LEN)
        return oms_error_set(err, OMS_EINVAL, NULL, "a key is longer than %d characters", API_KEY_MAX_LEN);
    for (size_t i = 0; i < len; i++)
        if (!key_char(item[i]))
            return oms_error_set(err, OMS_EINVAL, NULL, "keys are printable ASCII without blanks");
    if (set->count == API_KEYS_MAX)
        return oms_error_set(err, OMS_EINVAL, NULL, "more than %d keys", API_KEYS_MAX);
    memcpy(set->keys[set->count], item, len);
    set->count++;
    return OMS_OK;
}

oms_err api_key_set_parse(api_key_set *set, const char *list, oms_error *err)
{
    static api_key_set parsed; /* large; parse runs once at start */
    memset(&parsed, 0, sizeof parsed);
    if (list && *list) {
        const char *p = list;
        for (;;) {
            const char *comma = strchr(p, ',');
            size_t len = comma ? (size_t)(comma - p) : strlen(p);
            oms_err rc = add_key(&parsed, p, len, err);
            if (rc != OMS_OK)
                return rc;
            if (!comma)
                break;
            p = comma + 1;
        }
    }
    memcpy(set, &parsed, sizeof parsed);
    return OMS_OK;
}

/* Copies `presented` into a zero-padded buffer of the keys' size, so that
 * every comparison runs over the same number of bytes; a longer key cannot
 * match and is flagged instead of truncated into a false match. */
static bool pad_presented(const char *presented, unsigned char out[API_KEY_MAX_LEN + 1])
{
    memset(out, 0, API_KEY_MAX_LEN + 1);
    size_t len = strnlen(presented, API_KEY_MAX_LEN + 1);
    if (len > API_KEY_MAX_LEN)
        return false;
    memcpy(out, presented, len);
    return len > 0;
}

bool api_key_set_match(const api_key_set *set, const char *presented, int *index)
{
    unsigned char padded[API_KEY_MAX_LEN + 1];
    bool usable = presented && pad_presented(presented, padded);
    if (!presented)
        memset(padded, 0, sizeof padded);
    int found = -1;
    for (int k = 0; k < set->count; k++) {
        const unsigned char *key = (const unsigned char *)set->keys[k];
        unsigned diff = 0;
        for (size_t i = 0; i <= API_KEY_MAX_LEN; i++)
            diff |= (unsigned)(key[i] ^ padded[i]);
        /* branch-free select of the first match */
        int is_match = (int)(diff == 0) & (found < 0);
        found = is_match ? k : found;
    }
    if (!usable || found < 0)
        return false;
    if (index)
        *index = found;
    return true;
}
