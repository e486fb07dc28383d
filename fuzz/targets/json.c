/* json.c -- fuzz target: lib/oms/json.c, the request-body parser every HTTP
 * body goes through (oms_json_parse_request, which keeps the text of real
 * numbers), and the field readers request validation uses.
 *
 * Properties checked besides "no crash, no leak, no undefined behaviour":
 *  - a parse failure is OMS_EINVAL (or OMS_ENOMEM) with a message;
 *  - whatever parses dumps (oms_json_dump) to text that parses again;
 *  - a value the money reader accepts is within its bounds, and its exact
 *    decimal form (oms_json_money_value) reads back as the same cents;
 *  - the string reader's result has 1..max_len bytes and no control char;
 *  - the integer reader's result is within its bounds. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "oms/json.h"
#include "oms/money.h"
#include "fuzz_check.h"

static void check_string(const json_t *obj, const char *key, size_t max_len, bool required)
{
    const char *s = NULL;
    oms_error err;
    oms_error_clear(&err);
    oms_err rc = oms_json_string(obj, key, key, max_len, required, &s, &err);
    if (rc != OMS_OK) {
        CHECK(rc == OMS_EINVAL || rc == OMS_ENOMEM);
        CHECK(err.message[0] != '\0');
        return;
    }
    if (!s) {
        CHECK(!required);
        return;
    }
    size_t n = strlen(s);
    CHECK(n >= 1 && n <= max_len);
    for (size_t i = 0; i < n; i++)
        CHECK((unsigned char)s[i] >= 0x20 && s[i] != 0x7f);
}

static void check_integer(const json_t *obj, const char *key, int64_t min, int64_t max)
{
    int64_t v = 0;
    oms_error err;
    oms_error_clear(&err);
    if (oms_json_integer(obj, key, key, min, max, &v, &err) == OMS_OK)
        CHECK(v >= min && v <= max);
    else
        CHECK(err.code == OMS_EINVAL && err.message[0] != '\0');
}

static void check_money(oms_arena *a, const json_t *obj, const char *key, int64_t min, int64_t max)
{
    int64_t cents = 0;
    oms_error err;
    oms_error_clear(&err);
    if (oms_json_money(obj, key, key, min, max, &cents, &err) != OMS_OK) {
        CHECK(err.code == OMS_EINVAL && err.message[0] != '\0');
        return;
    }
    CHECK(cents >= min && cents <= max);
    json_t *wrapped = json_pack("{s:o}", "v", oms_json_money_value(cents));
    CHECK(wrapped != NULL);
    size_t len = 0;
    char *text = oms_json_dump(a, wrapped, &len);
    json_decref(wrapped);
    CHECK(text != NULL);
    json_t *back = NULL;
    CHECK(oms_json_parse_request(a, text, len, &back, &err) == OMS_OK);
    int64_t again = 0;
    CHECK(oms_json_money(back, "v", "v", min, max, &again, &err) == OMS_OK);
    CHECK(again == cents);
}

static void check_members(oms_arena *a, const json_t *obj)
{
    const char *key;
    json_t *value;
    json_object_foreach((json_t *)obj, key, value)
    {
        (void)value;
        check_string(obj, key, 64, true);
        check_string(obj, key, 500, false);
        check_integer(obj, key, 1, 1000000);
        check_integer(obj, key, INT64_MIN, INT64_MAX);
        check_money(a, obj, key, 0, 100000000);
        check_money(a, obj, key, -100000000000LL, 100000000000LL);
        check_money(a, obj, key, INT64_MIN, INT64_MAX);
    }
    check_string(obj, "absent-member", 64, false);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static oms_arena *a;
    if (!a && !(a = oms_arena_create(0)))
        abort();
    json_t *doc = NULL;
    oms_error err;
    oms_error_clear(&err);
    oms_err rc = oms_json_parse_request(a, (const char *)data, size, &doc, &err);
    if (rc != OMS_OK) {
        CHECK(rc == OMS_EINVAL || rc == OMS_ENOMEM);
        CHECK(err.message[0] != '\0');
        CHECK(doc == NULL);
        oms_arena_reset(a);
        return 0;
    }
    CHECK(doc != NULL);
    /* oms_json_dump turns strings "oms-money:<per-process uuid>:<cents>" into
     * numbers, and the readers take "oms-number:<uuid>:<text>" for a number;
     * a client cannot know the uuid, but the fuzzer reads it from memory
     * comparisons. Such inputs fail the checks (see fuzz/README.md): leave
     * them out so the run goes on to other paths. */
    if (memmem(data, size, "oms-money:", 10) || memmem(data, size, "oms-number:", 11)) {
        oms_arena_reset(a);
        return 0;
    }
    size_t len = 0;
    char *text = oms_json_dump(a, doc, &len);
    CHECK(text != NULL);
    json_t *again = NULL;
    CHECK(oms_json_parse_request(a, text, len, &again, &err) == OMS_OK);
    if (json_is_object(doc))
        check_members(a, doc);
    if (json_is_array(doc)) {
        size_t i;
        json_t *item;
        json_array_foreach(doc, i, item)
        {
            if (json_is_object(item))
                check_members(a, item);
        }
    }
    oms_arena_reset(a);
    return 0;
}
