/* money.c -- decimal text <-> int64 cents, with overflow checks. Pure C. */
#include "money.h"

#include <stdbool.h>
#include <stdio.h>
#include <string.h>

static bool is_digit(char c) { return c >= '0' && c <= '9'; }

/* Accumulates the magnitude as a negative number so INT64_MIN parses too. */
static oms_err accumulate(int64_t *acc, int digit)
{
    if (*acc < (INT64_MIN + digit) / 10)
        return OMS_EINVAL;
    *acc = *acc * 10 - digit;
    return OMS_OK;
}

/* The digits of a number's text, integer part then fraction, as one run. */
typedef struct digit_run {
    const char *whole, *fraction;
    size_t whole_len, fraction_len;
} digit_run;

static char digit_at(const digit_run *d, size_t i)
{
    return i < d->whole_len ? d->whole[i] : d->fraction[i - d->whole_len];
}

/* Reads the optional exponent at p ("e-3"); a huge one is capped, which
 * changes nothing: no amount has a million digits. */
static const char *read_exponent(const char *p, const char *end, long *exponent, bool *ok)
{
    *exponent = 0;
    *ok = true;
    if (p == end || (*p != 'e' && *p != 'E'))
        return p;
    p++;
    bool negative = p < end && *p == '-';
    if (p < end && (*p == '-' || *p == '+'))
        p++;
    *ok = p < end && is_digit(*p);
    for (; p < end && is_digit(*p); p++) {
        if (*exponent < 1000000)
            *exponent = *exponent * 10 + (*p - '0');
    }
    if (negative)
        *exponent = -*exponent;
    return p;
}

/* Splits "-12.340e2" into sign, digits and exponent; false when it is not a
 * number of that shape. */
static bool split_number(const char *text, size_t len, bool *negative, digit_run *d, long *exponent)
{
    const char *p = text, *end = text + len;
    *negative = p < end && *p == '-';
    p += *negative;
    d->whole = p;
    while (p < end && is_digit(*p))
        p++;
    d->whole_len = (size_t)(p - d->whole);
    d->fraction = p;
    d->fraction_len = 0;
    if (p < end && *p == '.') {
        d->fraction = ++p;
        while (p < end && is_digit(*p))
            p++;
        d->fraction_len = (size_t)(p - d->fraction);
        if (d->fraction_len == 0)
            return false;
    }
    bool exponent_ok = true;
    p = read_exponent(p, end, exponent, &exponent_ok);
    return d->whole_len > 0 && exponent_ok && p == end;
}

oms_err oms_money_parse_number(const char *text, size_t len, int64_t *cents)
{
    bool negative = false;
    digit_run d;
    long exponent = 0;
    if (!text || !cents || !split_number(text, len, &negative, &d, &exponent))
        return OMS_EINVAL;
    /* value = digits x 10^(exponent - fraction digits), so in cents the
     * digits are scaled by 10^shift; when shift is negative, the last
     * -shift digits must be zeros for the amount to be whole cents. */
    long shift = exponent - (long)d.fraction_len + 2;
    size_t n = d.whole_len + d.fraction_len;
    long counted = (long)n + (shift < 0 ? shift : 0);
    int64_t acc = 0; /* minus the magnitude in cents */
    for (size_t i = 0; i < n; i++) {
        char c = digit_at(&d, i);
        if ((long)i >= counted) {
            if (c != '0')
                return OMS_EINVAL; /* a non-zero digit below a cent */
        } else if (accumulate(&acc, c - '0') != OMS_OK) {
            return OMS_ETOOLARGE;
        }
    }
    for (long i = 0; i < shift && acc != 0; i++) {
        if (accumulate(&acc, 0) != OMS_OK)
            return OMS_ETOOLARGE;
    }
    if (!negative) {
        if (acc == INT64_MIN)
            return OMS_ETOOLARGE;
        acc = -acc;
    }
    *cents = acc;
    return OMS_OK;
}

oms_err oms_money_parse(const char *text, int64_t *cents)
{
    if (!text || strpbrk(text, "eE"))
        return OMS_EINVAL;
    return oms_money_parse_number(text, strlen(text), cents) == OMS_OK ? OMS_OK : OMS_EINVAL;
}

char *oms_money_format(int64_t cents, char *buf)
{
    /* Work on the magnitude as unsigned so INT64_MIN formats too. */
    uint64_t magnitude = cents < 0 ? (uint64_t)0 - (uint64_t)cents : (uint64_t)cents;
    snprintf(buf, OMS_MONEY_TEXT_MAX, "%s%llu.%02llu", cents < 0 ? "-" : "", (unsigned long long)(magnitude / 100),
             (unsigned long long)(magnitude % 100));
    return buf;
}

oms_err oms_money_mul(int64_t cents, int64_t quantity, int64_t *out)
{
    int64_t r;
    if (__builtin_mul_overflow(cents, quantity, &r))
        return OMS_EINVAL;
    *out = r;
    return OMS_OK;
}

oms_err oms_money_add(int64_t a, int64_t b, int64_t *out)
{
    int64_t r;
    if (__builtin_add_overflow(a, b, &r))
        return OMS_EINVAL;
    *out = r;
    return OMS_OK;
}
