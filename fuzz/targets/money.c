/* money.c -- fuzz target: lib/oms/money.c (oms_money_parse, the decimal
 * parser of configuration money; oms_money_mul/add, the overflow checks).
 *
 * Properties: an accepted text formats back (oms_money_format) to a text that
 * parses to the same cents; the arithmetic agrees with the compiler's
 * overflow builtins. */
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "oms/money.h"
#include "fuzz_check.h"

static int64_t read_i64(const uint8_t *p)
{
    uint64_t v = 0;
    for (int i = 0; i < 8; i++)
        v = (v << 8) | p[i];
    return (int64_t)v;
}

static void check_arithmetic(const uint8_t *data, size_t size)
{
    if (size < 16)
        return;
    int64_t a = read_i64(data), b = read_i64(data + 8), out = 0, expected = 0;
    bool overflow = __builtin_mul_overflow(a, b, &expected);
    oms_err rc = oms_money_mul(a, b, &out);
    CHECK(overflow ? rc == OMS_EINVAL : (rc == OMS_OK && out == expected));
    overflow = __builtin_add_overflow(a, b, &expected);
    rc = oms_money_add(a, b, &out);
    CHECK(overflow ? rc == OMS_EINVAL : (rc == OMS_OK && out == expected));
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *text = malloc(size + 1);
    if (!text)
        return 0;
    memcpy(text, data, size);
    text[size] = '\0';
    int64_t cents = 0;
    if (oms_money_parse(text, &cents) == OMS_OK) {
        char buf[OMS_MONEY_TEXT_MAX];
        int64_t again = 0;
        CHECK(oms_money_format(cents, buf) == buf);
        CHECK(strlen(buf) < OMS_MONEY_TEXT_MAX);
        CHECK(oms_money_parse(buf, &again) == OMS_OK);
        CHECK(again == cents);
    }
    free(text);
    check_arithmetic(data, size);
    return 0;
}
