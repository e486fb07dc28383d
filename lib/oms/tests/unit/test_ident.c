/* Unit tests of oms/ident.c: the identifiers clients choose (review L2);
 * and of oms_utf8_trim_cut (util.c), how such text is cut (review L9). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "oms/ident.h"
#include "oms/util.h"

static void plain_ids_are_valid(void **state)
{
    (void)state;
    const char *good[] = {"product-1", "customer_1", "tenant:42", "a.b", "...", "X", "2026-11-28T03:29:38Z"};
    for (size_t i = 0; i < sizeof good / sizeof good[0]; i++)
        assert_true(oms_ident_valid(good[i], 64));
    char longest[65];
    memset(longest, 'a', 64);
    longest[64] = '\0';
    assert_true(oms_ident_valid(longest, 64));
    assert_false(oms_ident_valid(longest, 63));
}

static void paths_spaces_controls_and_bidi_are_not(void **state)
{
    (void)state;
    const char *bad[] = {"",
                         ".",
                         "..",
                         "a/b",
                         "../x",
                         "a?b",
                         "a#b",
                         "a b",
                         " a",
                         "a\tb",
                         "a\x7f"
                         "",
                         "a%2fb",
                         "caf\xc3\xa9",
                         "a\xe2\x80\xae"
                         "b" /* U+202E */,
                         "a\\b",
                         "a'b",
                         "a\"b",
                         "a<b"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        assert_false(oms_ident_valid(bad[i], 64));
    assert_false(oms_ident_valid(NULL, 64));
}

static void the_error_names_the_field_and_the_rule(void **state)
{
    (void)state;
    oms_error err;
    oms_error_clear(&err);
    assert_int_equal(oms_ident_check("a/b", 64, "product_id", &err), OMS_EINVAL);
    assert_string_equal(err.field, "product_id");
    assert_non_null(strstr(err.message, "product_id must be 1 to 64 of letters, digits"));
    assert_int_equal(oms_ident_check("ok", 64, "product_id", &err), OMS_OK);
}

/* Review L9: a dead-letter reason cut at 256 bytes inside "é" or "€" was
 * refused by PostgreSQL and the message looped; the cut now ends before the
 * incomplete character, and whole characters stay. */
static void a_cut_never_leaves_half_a_character(void **state)
{
    (void)state;
    char two[] = "ab\xc3"; /* "é" cut after its first byte */
    assert_string_equal(oms_utf8_trim_cut(two), "ab");
    char three[] = "ab\xe2\x82"; /* "€" cut after two of three bytes */
    assert_string_equal(oms_utf8_trim_cut(three), "ab");
    char whole[] = "ab\xe2\x82\xac"; /* a whole "€" stays */
    assert_string_equal(oms_utf8_trim_cut(whole), "ab\xe2\x82\xac");
    char ascii[] = "plain";
    assert_string_equal(oms_utf8_trim_cut(ascii), "plain");
    static const char message[] = "refused: caf\xc3\xa9 \xe2\x82\xac\xe2\x82\xac";
    char reason[16];
    memcpy(reason, message, sizeof reason - 1); /* what a cut to 16 bytes keeps */
    reason[sizeof reason - 1] = '\0';
    oms_utf8_trim_cut(reason); /* "refused: café " + 1 of the 3 bytes of "€" */
    assert_string_equal(reason, "refused: caf\xc3\xa9 ");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(plain_ids_are_valid),
        cmocka_unit_test(paths_spaces_controls_and_bidi_are_not),
        cmocka_unit_test(the_error_names_the_field_and_the_rule),
        cmocka_unit_test(a_cut_never_leaves_half_a_character),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
