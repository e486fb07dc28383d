/* json.c -- jansson helpers: parsing into an arena, validated field readers,
 * and exact money in and out.
 *
 * Money in: jansson parses numbers with a fraction into doubles, so a real is
 * read back from its shortest decimal text that round-trips (10.1 is "10.1",
 * not 10.0999...), converted to plain decimal, and oms_money_parse decides.
 * Money out: jansson prints reals with %.17g, so a money value is a string
 * "<marker><cents>" with a per-process random marker, and oms_json_dump
 * replaces each quoted marker string by the exact decimal text. */
#include "json.h"

#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "money.h"
#include "util.h"

#define PLAIN_DECIMAL_MAX 64

static void json_release(void *v)
{
    json_decref((json_t *)v);
}

json_t *oms_json_own(oms_arena *a, json_t *v)
{
    if (!v)
        return NULL;
    if (oms_arena_on_reset(a, json_release, v) != 0)
        return NULL; /* released by the arena already */
    return v;
}

oms_err oms_json_parse(oms_arena *a, const char *text, size_t len, json_t **out, oms_error *err)
{
    json_error_t jerr;
    json_t *v = json_loadb(text ? text : "", text ? len : 0, JSON_REJECT_DUPLICATES | JSON_DECODE_ANY, &jerr);
    if (!v) {
        if (json_error_code(&jerr) == json_error_out_of_memory)
            return oms_error_set(err, OMS_ENOMEM, NULL, "out of memory parsing JSON");
        return oms_error_set(err, OMS_EINVAL, NULL, "invalid JSON at line %d, column %d: %s", jerr.line,
                             jerr.column, jerr.text);
    }
    if (!oms_json_own(a, v))
        return oms_error_set(err, OMS_ENOMEM, NULL, "out of memory");
    *out = v;
    return OMS_OK;
}

/* The member, or NULL when obj is not an object or lacks it. */
static json_t *member(const json_t *obj, const char *key)
{
    if (!json_is_object(obj))
        return NULL;
    return json_object_get(obj, key);
}

static bool has_control_character(const char *s, size_t len)
{
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c < 0x20 || c == 0x7f)
            return true;
    }
    return false;
}

oms_err oms_json_string(const json_t *obj, const char *key, const char *path, size_t max_len, bool required,
                        const char **out, oms_error *err)
{
    json_t *v = member(obj, key);
    if (!v || json_is_null(v)) {
        *out = NULL;
        if (required)
            return oms_error_set(err, OMS_EINVAL, path, "%s is required", path);
        return OMS_OK;
    }
    if (!json_is_string(v))
        return oms_error_set(err, OMS_EINVAL, path, "%s must be a string", path);
    const char *s = json_string_value(v);
    size_t len = json_string_length(v);
    if (len == 0)
        return oms_error_set(err, OMS_EINVAL, path, "%s must not be empty", path);
    if (len > max_len)
        return oms_error_set(err, OMS_EINVAL, path, "%s must be at most %zu characters", path, max_len);
    if (strlen(s) != len || has_control_character(s, len))
        return oms_error_set(err, OMS_EINVAL, path, "%s must not contain control characters", path);
    *out = s;
    return OMS_OK;
}

oms_err oms_json_integer(const json_t *obj, const char *key, const char *path, int64_t min, int64_t max,
                         int64_t *out, oms_error *err)
{
    json_t *v = member(obj, key);
    if (!v || json_is_null(v))
        return oms_error_set(err, OMS_EINVAL, path, "%s is required", path);
    if (!json_is_integer(v))
        return oms_error_set(err, OMS_EINVAL, path, "%s must be a whole number", path);
    json_int_t n = json_integer_value(v);
    if (n < min || n > max)
        return oms_error_set(err, OMS_EINVAL, path, "%s must be from %" PRId64 " to %" PRId64, path, min, max);
    *out = (int64_t)n;
    return OMS_OK;
}

/* The shortest %.Ng text of d that reads back as d. */
static void shortest_decimal(double d, char *buf, size_t len)
{
    for (int precision = 15; precision <= 17; precision++) {
        snprintf(buf, len, "%.*g", precision, d);
        if (strtod(buf, NULL) == d)
            return;
    }
}

/* Rewrites "1.5e+02" as "150" (plain decimal) into out; false when the
 * result would be absurdly long (it cannot be money then). */
static bool to_plain_decimal(const char *text, char *out, size_t out_len)
{
    const char *e = strpbrk(text, "eE");
    if (!e) {
        snprintf(out, out_len, "%s", text);
        return true;
    }
    long exponent = strtol(e + 1, NULL, 10);
    if (exponent > 30 || exponent < -30)
        return false;
    const char *p = text;
    size_t o = 0;
    if (*p == '-')
        out[o++] = *p++;
    char digits[40];
    size_t nd = 0;
    long point = -1; /* digits before the decimal point */
    for (; p < e; p++) {
        if (*p == '.') {
            point = (long)nd;
        } else if (nd < sizeof digits) {
            digits[nd++] = *p;
        }
    }
    if (point < 0)
        point = (long)nd;
    point += exponent;
    if (point <= 0) {
        out[o++] = '0';
        out[o++] = '.';
        for (long i = 0; i < -point; i++)
            out[o++] = '0';
        for (size_t i = 0; i < nd; i++)
            out[o++] = digits[i];
    } else {
        for (long i = 0; i < point || i < (long)nd; i++) {
            if (i == point)
                out[o++] = '.';
            out[o++] = i < (long)nd ? digits[i] : '0';
        }
    }
    if (o >= out_len)
        return false;
    out[o] = '\0';
    return true;
}

oms_err oms_json_money(const json_t *obj, const char *key, const char *path, int64_t min_cents, int64_t max_cents,
                       int64_t *out, oms_error *err)
{
    json_t *v = member(obj, key);
    if (!v || json_is_null(v))
        return oms_error_set(err, OMS_EINVAL, path, "%s is required", path);
    int64_t cents = 0;
    if (json_is_integer(v)) {
        if (oms_money_mul(json_integer_value(v), 100, &cents) != OMS_OK)
            return oms_error_set(err, OMS_EINVAL, path, "%s is out of range", path);
    } else if (json_is_real(v)) {
        char text[40], plain[PLAIN_DECIMAL_MAX];
        shortest_decimal(json_real_value(v), text, sizeof text);
        if (!to_plain_decimal(text, plain, sizeof plain) || oms_money_parse(plain, &cents) != OMS_OK)
            return oms_error_set(err, OMS_EINVAL, path, "%s must be an amount with at most two decimals", path);
    } else {
        return oms_error_set(err, OMS_EINVAL, path, "%s must be a number", path);
    }
    if (cents < min_cents || cents > max_cents) {
        char lo[OMS_MONEY_TEXT_MAX], hi[OMS_MONEY_TEXT_MAX];
        return oms_error_set(err, OMS_EINVAL, path, "%s must be from %s to %s", path, oms_money_format(min_cents, lo),
                             oms_money_format(max_cents, hi));
    }
    *out = cents;
    return OMS_OK;
}

/* ---- exact money out ---- */

static pthread_once_t marker_once = PTHREAD_ONCE_INIT;
static char money_marker[48];
static size_t money_marker_len;

static void make_marker(void)
{
    char uuid[OMS_UUID_LEN + 1];
    oms_uuid_new(uuid);
    snprintf(money_marker, sizeof money_marker, "oms-money:%s:", uuid);
    money_marker_len = strlen(money_marker);
}

json_t *oms_json_money_value(int64_t cents)
{
    pthread_once(&marker_once, make_marker);
    char text[sizeof money_marker + 32];
    snprintf(text, sizeof text, "%s%" PRId64, money_marker, cents);
    return json_string(text);
}

/* Copies `s` into the arena, replacing each "\"<marker><cents>\"" by the decimal. */
/* Whether the marker found at `hit` is a whole money value that
 * oms_json_money_value wrote: `"<marker><digits>"` standing where a value
 * stands in compact JSON (after ':', '[' or ',', or alone), and not an
 * object key. A client's string that happens to hold the marker text (it
 * would have to guess the per-process random part) is copied as it is. On
 * success *cents and *after (the byte past the closing quote) are set. */
static bool is_money_value(const char *s, const char *hit, const char *end, long long *cents, const char **after)
{
    if (hit - s < 1 || hit[-1] != '"')
        return false;
    const char *open = hit - 1;
    if (open > s && open[-1] != ':' && open[-1] != '[' && open[-1] != ',')
        return false;
    const char *digits = hit + money_marker_len;
    const char *p = digits + (digits < end && *digits == '-');
    const char *first_digit = p;
    while (p < end && *p >= '0' && *p <= '9')
        p++;
    if (p == first_digit || p - first_digit > 19 || p >= end || *p != '"')
        return false;
    if (p + 1 < end && p[1] == ':')
        return false;
    char *num_end = NULL;
    *cents = strtoll(digits, &num_end, 10);
    if (num_end != p)
        return false;
    *after = p + 1;
    return true;
}

static char *replace_markers(oms_arena *a, const char *s, size_t len, size_t *len_out)
{
    /* A decimal is never longer than its quoted marker string, so len + 1 fits. */
    char *out = oms_arena_alloc(a, len + 1);
    if (!out)
        return NULL;
    size_t o = 0;
    const char *p = s;
    const char *end = s + len;
    while (p < end) {
        const char *hit = money_marker_len ? strstr(p, money_marker) : NULL;
        long long cents = 0;
        const char *after = NULL;
        if (!hit) {
            memcpy(out + o, p, (size_t)(end - p));
            o += (size_t)(end - p);
            break;
        }
        if (!is_money_value(s, hit, end, &cents, &after)) {
            size_t n = (size_t)(hit - p) + 1;
            memcpy(out + o, p, n);
            o += n;
            p += n;
            continue;
        }
        /* Copy up to (not including) the opening quote, then the decimal. */
        size_t n = (size_t)(hit - 1 - p);
        memcpy(out + o, p, n);
        o += n;
        char decimal[OMS_MONEY_TEXT_MAX];
        oms_money_format((int64_t)cents, decimal);
        size_t dn = strlen(decimal);
        memcpy(out + o, decimal, dn);
        o += dn;
        p = after;
    }
    out[o] = '\0';
    if (len_out)
        *len_out = o;
    return out;
}

char *oms_json_dump(oms_arena *a, const json_t *v, size_t *len_out)
{
    char *text = json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY);
    if (!text)
        return NULL;
    char *out = replace_markers(a, text, strlen(text), len_out);
    free(text);
    return out;
}
