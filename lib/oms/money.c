/* money.c -- decimal text <-> int64 cents, with overflow checks. Pure C. */
#include "money.h"

#include <stdbool.h>
#include <stdio.h>
#include <string.h>

static bool is_digit(char c)
{
    return c >= '0' && c <= '9';
}

/* Accumulates the magnitude as a negative number so INT64_MIN parses too. */
static oms_err accumulate(int64_t *acc, int digit)
{
    if (*acc < (INT64_MIN + digit) / 10)
        return OMS_EINVAL;
    *acc = *acc * 10 - digit;
    return OMS_OK;
}

oms_err oms_money_parse(const char *text, int64_t *cents)
{
    if (!text || !cents)
        return OMS_EINVAL;
    const char *p = text;
    bool negative = false;
    if (*p == '-') {
        negative = true;
        p++;
    }
    if (!is_digit(*p))
        return OMS_EINVAL;
    int64_t acc = 0; /* minus the magnitude in cents */
    for (; is_digit(*p); p++) {
        if (accumulate(&acc, *p - '0') != OMS_OK)
            return OMS_EINVAL;
    }
    int fraction_digits = 0;
    if (*p == '.') {
        p++;
        if (!is_digit(*p))
            return OMS_EINVAL;
        for (; is_digit(*p); p++) {
            if (fraction_digits < 2) {
                if (accumulate(&acc, *p - '0') != OMS_OK)
                    return OMS_EINVAL;
            } else if (*p != '0') {
                return OMS_EINVAL; /* a third non-zero fraction digit: not exact in cents */
            }
            fraction_digits++;
        }
    }
    if (*p != '\0')
        return OMS_EINVAL;
    for (int i = fraction_digits < 2 ? fraction_digits : 2; i < 2; i++) {
        if (accumulate(&acc, 0) != OMS_OK)
            return OMS_EINVAL;
    }
    if (!negative) {
        if (acc == INT64_MIN)
            return OMS_EINVAL;
        acc = -acc;
    }
    *cents = acc;
    return OMS_OK;
}

char *oms_money_format(int64_t cents, char *buf)
{
    /* Work on the magnitude as unsigned so INT64_MIN formats too. */
    uint64_t magnitude = cents < 0 ? (uint64_t)0 - (uint64_t)cents : (uint64_t)cents;
    snprintf(buf, OMS_MONEY_TEXT_MAX, "%s%llu.%02llu", cents < 0 ? "-" : "",
             (unsigned long long)(magnitude / 100), (unsigned long long)(magnitude % 100));
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
