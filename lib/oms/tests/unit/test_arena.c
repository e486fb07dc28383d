/* Unit tests of oms/arena.c. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "oms/arena.h"

static void allocations_are_aligned_to_sixteen_bytes(void **state)
{
    (void)state;
    oms_arena *a = oms_arena_create(0);
    for (size_t n = 1; n < 100; n += 7) {
        void *p = oms_arena_alloc(a, n);
        assert_non_null(p);
        assert_int_equal((uintptr_t)p % 16, 0);
    }
    oms_arena_destroy(a);
}

static void allocations_larger_than_a_block_succeed_and_stay_usable(void **state)
{
    (void)state;
    oms_arena *a = oms_arena_create(64);
    char *small = oms_arena_strdup(a, "before");
    char *big = oms_arena_alloc(a, 100000);
    assert_non_null(big);
    memset(big, 'x', 100000);
    char *after = oms_arena_strdup(a, "after");
    assert_string_equal(small, "before");
    assert_string_equal(after, "after");
    oms_arena_destroy(a);
}

static void absurd_sizes_are_refused(void **state)
{
    (void)state;
    oms_arena *a = oms_arena_create(0);
    assert_null(oms_arena_alloc(a, ((size_t)1 << 30) + 1));
    assert_null(oms_arena_calloc(a, SIZE_MAX / 2, 4));
    oms_arena_destroy(a);
}

static void calloc_zeroes_and_strings_are_copied(void **state)
{
    (void)state;
    oms_arena *a = oms_arena_create(0);
    unsigned char *z = oms_arena_calloc(a, 10, 10);
    for (int i = 0; i < 100; i++)
        assert_int_equal(z[i], 0);
    assert_string_equal(oms_arena_strndup(a, "abcdef", 3), "abc");
    assert_string_equal(oms_arena_sprintf(a, "%d-%s", 42, "x"), "42-x");
    assert_null(oms_arena_strdup(a, NULL));
    oms_arena_destroy(a);
}

static int cleanup_order[4];
static int cleanup_count;
static void note_cleanup(void *data) { cleanup_order[cleanup_count++] = (int)(intptr_t)data; }

static void reset_runs_cleanups_newest_first_and_only_once(void **state)
{
    (void)state;
    cleanup_count = 0;
    oms_arena *a = oms_arena_create(0);
    assert_int_equal(oms_arena_on_reset(a, note_cleanup, (void *)1), 0);
    assert_int_equal(oms_arena_on_reset(a, note_cleanup, (void *)2), 0);
    oms_arena_reset(a);
    assert_int_equal(cleanup_count, 2);
    assert_int_equal(cleanup_order[0], 2);
    assert_int_equal(cleanup_order[1], 1);
    oms_arena_reset(a);
    assert_int_equal(cleanup_count, 2);
    oms_arena_on_reset(a, note_cleanup, (void *)3);
    oms_arena_destroy(a);
    assert_int_equal(cleanup_count, 3);
}

static void memory_is_reused_after_reset(void **state)
{
    (void)state;
    oms_arena *a = oms_arena_create(0);
    for (int round = 0; round < 1000; round++) {
        for (int i = 0; i < 50; i++)
            assert_non_null(oms_arena_alloc(a, 1000));
        oms_arena_reset(a);
    }
    oms_arena_destroy(a);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(allocations_are_aligned_to_sixteen_bytes),
        cmocka_unit_test(allocations_larger_than_a_block_succeed_and_stay_usable),
        cmocka_unit_test(absurd_sizes_are_refused),
        cmocka_unit_test(calloc_zeroes_and_strings_are_copied),
        cmocka_unit_test(reset_runs_cleanups_newest_first_and_only_once),
        cmocka_unit_test(memory_is_reused_after_reset),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
