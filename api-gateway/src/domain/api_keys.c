/* api_keys.c -- see api_keys.h. */
#include "api_keys.h"

#include <stdio.h>
#include <string.h>

static bool key_char(char c) { return c > ' ' && c < 0x7f && c != ',' && c != ':'; }

/* The item without the blanks around it. */
static void trim(const char **item, size_t *len)
{
    while (*len > 0 && (**item == ' ' || **item == '\t')) {
        (*item)++;
        (*len)--;
    }
    while (*len > 0 && ((*item)[*len - 1] == ' ' || (*item)[*len - 1] == '\t'))
        (*len)--;
}

static oms_err parse_key(const char *text, size_t len, int position, api_key_entry *out, oms_error *err)
{
    if (len == 0)
        return oms_error_set(err, OMS_EINVAL, NULL, "entry %d: empty key", position);
    if (len > API_KEY_MAX_LEN)
        return oms_error_set(err, OMS_EINVAL, NULL, "entry %d: the key is longer than %d characters", position,
                             API_KEY_MAX_LEN);
    for (size_t i = 0; i < len; i++)
        if (!key_char(text[i]))
            return oms_error_set(err, OMS_EINVAL, NULL, "entry %d: a key is printable ASCII without blanks, ',' or ':'",
                                 position);
    memcpy(out->key, text, len);
    return OMS_OK;
}

/* "role" or "role:subject" after the key's ':'; the subject is all the rest
 * (it may hold ':' itself). */
static oms_err parse_grant(const char *text, size_t len, int position, principal *who, oms_error *err)
{
    const char *colon = memchr(text, ':', len);
    size_t role_len = colon ? (size_t)(colon - text) : len;
    if (!role_parse(text, role_len, &who->role))
        return oms_error_set(err, OMS_EINVAL, NULL,
                             "entry %d: the role must be customer, viewer, operator or admin (key:role[:subject])",
                             position);
    if (!colon) {
        if (who->role == ROLE_CUSTOMER)
            return oms_error_set(err, OMS_EINVAL, NULL, "entry %d: a customer key needs a subject (key:customer:id)",
                                 position);
        return OMS_OK;
    }
    size_t subject_len = len - role_len - 1;
    if (!subject_is_valid(colon + 1, subject_len))
        return oms_error_set(err, OMS_EINVAL, NULL,
                             "entry %d: the subject must be 1..%d printable characters without blanks or ','", position,
                             PRINCIPAL_SUBJECT_MAX);
    memcpy(who->subject, colon + 1, subject_len);
    return OMS_OK;
}

static oms_err parse_entry(const char *item, size_t len, int position, api_key_entry *out, oms_error *err)
{
    trim(&item, &len);
    const char *colon = memchr(item, ':', len);
    if (!colon)
        return oms_error_set(err, OMS_EINVAL, NULL, "entry %d: expected key:role[:subject]", position);
    size_t key_len = (size_t)(colon - item);
    oms_err rc = parse_key(item, key_len, position, out, err);
    if (rc != OMS_OK)
        return rc;
    return parse_grant(colon + 1, len - key_len - 1, position, &out->who, err);
}

static bool already_listed(const api_key_set *set, const char *key)
{
    for (int i = 0; i < set->count; i++)
        if (strcmp(set->entries[i].key, key) == 0)
            return true;
    return false;
}

static oms_err add_entry(api_key_set *set, const char *item, size_t len, api_key_fingerprint_fn fingerprint,
                         oms_error *err)
{
    int position = set->count + 1;
    if (set->count == API_KEYS_MAX)
        return oms_error_set(err, OMS_EINVAL, NULL, "more than %d entries", API_KEYS_MAX);
    api_key_entry *e = &set->entries[set->count];
    memset(e, 0, sizeof *e);
    oms_err rc = parse_entry(item, len, position, e, err);
    if (rc != OMS_OK)
        return rc;
    if (already_listed(set, e->key))
        return oms_error_set(err, OMS_EINVAL, NULL, "entry %d: the same key is listed twice", position);
    char print[API_KEY_FINGERPRINT_LEN + 1];
    if (!fingerprint(e->key, print))
        return oms_error_set(err, OMS_EINTERNAL, NULL, "entry %d: the key's fingerprint failed", position);
    print[API_KEY_FINGERPRINT_LEN] = '\0';
    snprintf(e->who.id, sizeof e->who.id, "key:%s", print);
    set->count++;
    return OMS_OK;
}

oms_err api_key_set_parse(api_key_set *set, const char *list, api_key_fingerprint_fn fingerprint, oms_error *err)
{
    static api_key_set parsed; /* large; parse runs once at start */
    memset(&parsed, 0, sizeof parsed);
    for (const char *p = list; p && *p;) {
        const char *comma = strchr(p, ',');
        size_t len = comma ? (size_t)(comma - p) : strlen(p);
        oms_err rc = add_entry(&parsed, p, len, fingerprint, err);
        if (rc != OMS_OK)
            return rc;
        if (!comma)
            break;
        p = comma + 1;
        if (!*p)
            return oms_error_set(err, OMS_EINVAL, NULL, "entry %d: empty key", parsed.count + 1);
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
    if (!presented)
        return false;
    size_t len = strnlen(presented, API_KEY_MAX_LEN + 1);
    if (len > API_KEY_MAX_LEN)
        return false;
    memcpy(out, presented, len);
    return len > 0;
}

const principal *api_key_set_match(const api_key_set *set, const char *presented)
{
    unsigned char padded[API_KEY_MAX_LEN + 1];
    bool usable = pad_presented(presented, padded);
    int found = -1;
    for (int k = 0; k < set->count; k++) {
        const unsigned char *key = (const unsigned char *)set->entries[k].key;
        unsigned diff = 0;
        for (size_t i = 0; i <= API_KEY_MAX_LEN; i++)
            diff |= (unsigned)(key[i] ^ padded[i]);
        /* branch-free select of the first match */
        int is_match = (int)(diff == 0) & (found < 0);
        found = is_match ? k : found;
    }
    if (!usable || found < 0)
        return NULL;
    return &set->entries[found].who;
}
