/* json.c -- jansson helpers: parsing into an arena, validated field readers,
 * and exact money in and out.
 *
 * Money in: jansson reads a number with a fraction into a double, which
 * cannot tell 10.0000000000000001 from 10. So a request body is parsed with
 * the text of each such number kept: before jansson sees it, every real
 * number (and every integer beyond 64 bits) is written as the string
 * "<number marker><its text>", with a per-process random marker a client
 * cannot guess; oms_json_money reads that text exactly, and the other readers
 * treat it as the number it was.
 * Money out: jansson prints reals with %.17g, so a money value is a string
 * "<money marker><cents>" and oms_json_dump replaces each quoted marker
 * string by the exact decimal text. */
#include "json.h"

#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "money.h"
#include "util.h"

static void json_release(void *v) { json_decref((json_t *)v); }

json_t *oms_json_own(oms_arena *a, json_t *v)
{
    if (!v)
        return NULL;
    if (oms_arena_on_reset(a, json_release, v) != 0)
        return NULL; /* released by the arena already */
    return v;
}

/* ---- markers ---- */

static pthread_once_t marker_once = PTHREAD_ONCE_INIT;
static char money_marker[64];
static size_t money_marker_len;
static char number_marker[64];
static size_t number_marker_len;

static void make_markers(void)
{
    char uuid[OMS_UUID_LEN + 1];
    oms_uuid_new(uuid);
    snprintf(money_marker, sizeof money_marker, "oms-money:%s:", uuid);
    money_marker_len = strlen(money_marker);
    oms_uuid_new(uuid);
    snprintf(number_marker, sizeof number_marker, "oms-number:%s:", uuid);
    number_marker_len = strlen(number_marker);
}

/* ---- request bodies: numbers kept as text ---- */

static bool is_digit(char c) { return c >= '0' && c <= '9'; }

static size_t skip_digits(const char *s, size_t i, size_t len)
{
    while (i < len && is_digit(s[i]))
        i++;
    return i;
}

/* Whether s[0..len) is a number as JSON writes one:
 * -?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)? */
static bool is_json_number(const char *s, size_t len)
{
    size_t i = s[0] == '-';
    if (i >= len || !is_digit(s[i]))
        return false;
    size_t after = skip_digits(s, i, len);
    if (s[i] == '0' && after > i + 1)
        return false;
    i = after;
    if (i < len && s[i] == '.') {
        after = skip_digits(s, i + 1, len);
        if (after == i + 1)
            return false;
        i = after;
    }
    if (i < len && (s[i] == 'e' || s[i] == 'E')) {
        i += 1 + (i + 1 < len && (s[i + 1] == '+' || s[i + 1] == '-'));
        after = skip_digits(s, i, len);
        if (after == i)
            return false;
        i = after;
    }
    return i == len;
}

/* Whether jansson would read the number s[0..len) as something other than an
 * exact json_int_t: a real, or an integer beyond 64 bits. */
static bool needs_its_text_kept(const char *s, size_t len)
{
    if (!is_json_number(s, len))
        return false; /* not a number: jansson reports it */
    if (memchr(s, '.', len) || memchr(s, 'e', len) || memchr(s, 'E', len))
        return true;
    char digits[24];
    if (len >= sizeof digits)
        return true;
    memcpy(digits, s, len);
    digits[len] = '\0';
    errno = 0;
    (void)strtoll(digits, NULL, 10);
    return errno == ERANGE;
}

/* Output of the rewrite; counts only while out is NULL. */
typedef struct rewrite {
    char *out;
    size_t len;
} rewrite;

static void emit(rewrite *w, const char *s, size_t n)
{
    if (w->out)
        memcpy(w->out + w->len, s, n);
    w->len += n;
}

/* The index just past the string starting at s[i] (a quote), or len. */
static size_t string_end(const char *s, size_t i, size_t len)
{
    for (i++; i < len; i++) {
        if (s[i] == '\\')
            i++;
        else if (s[i] == '"')
            return i + 1;
    }
    return len;
}

static bool is_object_key(const char *s, size_t end, size_t len)
{
    while (end < len && (s[end] == ' ' || s[end] == '\t' || s[end] == '\n' || s[end] == '\r'))
        end++;
    return end < len && s[end] == ':';
}

/* Copies the string s[i..end); in an object key, \u0000 (which jansson
 * cannot hold in a key) becomes \ufffd. */
static void emit_string(rewrite *w, const char *s, size_t i, size_t end, bool key)
{
    while (i < end) {
        bool nul = key && s[i] == '\\' && end - i >= 6 && memcmp(s + i, "\\u0000", 6) == 0;
        if (nul) {
            emit(w, "\\ufffd", 6);
            i += 6;
        } else {
            size_t n = (s[i] == '\\' && i + 1 < end) ? 2 : 1;
            emit(w, s + i, n);
            i += n;
        }
    }
}

static size_t number_end(const char *s, size_t i, size_t len)
{
    while (i < len && (is_digit(s[i]) || strchr("+-.eE", s[i])))
        i++;
    return i;
}

static void rewrite_request(rewrite *w, const char *s, size_t len)
{
    size_t i = 0;
    while (i < len) {
        if (s[i] == '"') {
            size_t end = string_end(s, i, len);
            emit_string(w, s, i, end, is_object_key(s, end, len));
            i = end;
        } else if (s[i] == '-' || is_digit(s[i])) {
            size_t end = number_end(s, i, len);
            bool keep = needs_its_text_kept(s + i, end - i);
            if (keep) {
                emit(w, "\"", 1);
                emit(w, number_marker, number_marker_len);
            }
            emit(w, s + i, end - i);
            if (keep)
                emit(w, "\"", 1);
            i = end;
        } else {
            emit(w, s + i, 1);
            i++;
        }
    }
}

static json_t *load(const char *text, size_t len, size_t flags, json_error_t *jerr)
{
    return json_loadb(text ? text : "", text ? len : 0, JSON_REJECT_DUPLICATES | JSON_DECODE_ANY | flags, jerr);
}

static oms_err parse_failed(const json_error_t *jerr, oms_error *err)
{
    if (json_error_code(jerr) == json_error_out_of_memory)
        return oms_error_set(err, OMS_ENOMEM, NULL, "out of memory parsing JSON");
    return oms_error_set(err, OMS_EINVAL, NULL, "invalid JSON at line %d, column %d: %s", jerr->line, jerr->column,
                         jerr->text);
}

static bool worth_a_rewrite(const json_error_t *jerr)
{
    enum json_error_code code = json_error_code(jerr);
    return code == json_error_numeric_overflow || code == json_error_null_byte_in_key;
}

oms_err oms_json_parse(oms_arena *a, const char *text, size_t len, json_t **out, oms_error *err)
{
    json_error_t jerr;
    json_t *v = load(text, len, 0, &jerr);
    if (!v)
        return parse_failed(&jerr, err);
    if (!oms_json_own(a, v))
        return oms_error_set(err, OMS_ENOMEM, NULL, "out of memory");
    *out = v;
    return OMS_OK;
}

oms_err oms_json_parse_request(oms_arena *a, const char *text, size_t len, json_t **out, oms_error *err)
{
    pthread_once(&marker_once, make_markers);
    const char *src = text ? text : "";
    size_t n = text ? len : 0;
    json_error_t jerr;
    json_t *v = load(src, n, JSON_ALLOW_NUL, &jerr);
    if (!v && !worth_a_rewrite(&jerr))
        return parse_failed(&jerr, err);
    rewrite w = {.out = NULL, .len = 0};
    rewrite_request(&w, src, n);
    if (!v || w.len != n) {
        /* Some number's text must be kept (or a key holds a NUL): parse the
         * rewritten text; when even that fails, the first error says why. */
        json_decref(v);
        w.out = oms_arena_alloc(a, w.len + 1);
        if (!w.out)
            return oms_error_set(err, OMS_ENOMEM, NULL, "out of memory");
        w.len = 0;
        rewrite_request(&w, src, n);
        json_error_t again;
        v = load(w.out, w.len, JSON_ALLOW_NUL, &again);
        if (!v)
            return parse_failed(json_error_code(&again) == json_error_out_of_memory ? &again : &jerr, err);
    }
    if (!oms_json_own(a, v))
        return oms_error_set(err, OMS_ENOMEM, NULL, "out of memory");
    *out = v;
    return OMS_OK;
}

/* The text of a number oms_json_parse_request kept, or NULL when v is not
 * one. */
static const char *kept_number(const json_t *v)
{
    if (!json_is_string(v) || !number_marker_len)
        return NULL;
    const char *s = json_string_value(v);
    return strncmp(s, number_marker, number_marker_len) == 0 ? s + number_marker_len : NULL;
}

/* ---- field readers ---- */

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
    if (!json_is_string(v) || kept_number(v))
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

oms_err oms_json_integer(const json_t *obj, const char *key, const char *path, int64_t min, int64_t max, int64_t *out,
                         oms_error *err)
{
    json_t *v = member(obj, key);
    if (!v || json_is_null(v))
        return oms_error_set(err, OMS_EINVAL, path, "%s is required", path);
    const char *text = kept_number(v);
    bool beyond_64_bits = text && !strpbrk(text, ".eE");
    if (!json_is_integer(v) && !beyond_64_bits)
        return oms_error_set(err, OMS_EINVAL, path, "%s must be a whole number", path);
    json_int_t n = beyond_64_bits ? 0 : json_integer_value(v);
    if (beyond_64_bits || n < min || n > max)
        return oms_error_set(err, OMS_EINVAL, path, "%s must be from %" PRId64 " to %" PRId64, path, min, max);
    *out = (int64_t)n;
    return OMS_OK;
}

static oms_err money_out_of_range(oms_error *err, const char *path, int64_t min_cents, int64_t max_cents)
{
    char lo[OMS_MONEY_TEXT_MAX], hi[OMS_MONEY_TEXT_MAX];
    return oms_error_set(err, OMS_EINVAL, path, "%s must be from %s to %s", path, oms_money_format(min_cents, lo),
                         oms_money_format(max_cents, hi));
}

oms_err oms_json_money(const json_t *obj, const char *key, const char *path, int64_t min_cents, int64_t max_cents,
                       int64_t *out, oms_error *err)
{
    json_t *v = member(obj, key);
    if (!v || json_is_null(v))
        return oms_error_set(err, OMS_EINVAL, path, "%s is required", path);
    const char *text = kept_number(v);
    int64_t cents = 0;
    oms_err rc = OMS_OK;
    if (json_is_integer(v))
        rc = oms_money_mul(json_integer_value(v), 100, &cents) == OMS_OK ? OMS_OK : OMS_ETOOLARGE;
    else if (text)
        rc = oms_money_parse_number(text, strlen(text), &cents);
    else
        return oms_error_set(err, OMS_EINVAL, path, "%s must be a number", path);
    if (rc == OMS_EINVAL)
        return oms_error_set(err, OMS_EINVAL, path, "%s must be an amount with at most two decimals", path);
    if (rc != OMS_OK || cents < min_cents || cents > max_cents)
        return money_out_of_range(err, path, min_cents, max_cents);
    *out = cents;
    return OMS_OK;
}

/* ---- exact money out ---- */

json_t *oms_json_money_value(int64_t cents)
{
    pthread_once(&marker_once, make_markers);
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
