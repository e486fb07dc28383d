/* Unit tests of oms/sha256.c: the FIPS 180-2 examples. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "oms/sha256.h"

static void digests_are_the_standard_ones_in_lowercase_hex(void **state)
{
    (void)state;
    char out[OMS_SHA256_HEX_LEN + 1];
    assert_true(oms_sha256_hex("", 0, out));
    assert_string_equal(out, "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
    assert_true(oms_sha256_hex("abc", 3, out));
    assert_string_equal(out, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
    const char *two_blocks = "abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq";
    assert_true(oms_sha256_hex(two_blocks, strlen(two_blocks), out));
    assert_string_equal(out, "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1");
    /* bytes, not a string: a NUL inside counts */
    char a[OMS_SHA256_HEX_LEN + 1];
    assert_true(oms_sha256_hex("a\0b", 3, a));
    assert_true(oms_sha256_hex("a", 1, out));
    assert_string_not_equal(a, out);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(digests_are_the_standard_ones_in_lowercase_hex),
    };
    return cmocka_run_group_tests_name("oms_sha256", tests, NULL, NULL);
}
