/* Unit tests of domain/job.c: names, the pace of a job, the since check. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "domain/job.h"

static void names_round_trip_and_unknown_ones_are_refused(void **state)
{
    (void)state;
    job_kind k;
    job_state s;
    job_item_outcome o;
    for (int i = 0; i < JOB_KIND_COUNT; i++) {
        assert_true(job_kind_parse(job_kind_name((job_kind)i), &k));
        assert_int_equal(k, i);
        assert_int_equal(job_kind_is_saga_action(k), k != JOB_REDRIVE);
    }
    assert_true(job_kind_parse("retry_now", &k) && k == JOB_SAGA_RETRY_NOW);
    assert_false(job_kind_parse("skip_payment", &k));
    for (int i = 0; i < JOB_STATE_COUNT; i++) {
        assert_true(job_state_parse(job_state_name((job_state)i), &s));
        assert_int_equal(s, i);
    }
    for (int i = 0; i < JOB_ITEM_OUTCOME_COUNT; i++) {
        assert_true(job_item_outcome_parse(job_item_outcome_name((job_item_outcome)i), &o));
        assert_int_equal(o, i);
    }
    assert_false(job_state_parse("RUNNING", &s));
    assert_false(job_kind_parse(NULL, &k));
    assert_null(job_state_name(JOB_STATE_COUNT));
    assert_null(job_item_outcome_name((job_item_outcome)-1));
}

/* On time: one interval after the last due; behind: now, once, then the
 * pace again (no burst to catch up). */
static void a_job_keeps_its_pace_and_does_not_burst_after_a_pause(void **state)
{
    (void)state;
    assert_int_equal(job_next_due_ms(1000, 1000, 5), 1200);
    assert_int_equal(job_next_due_ms(1000, 1150, 5), 1200);
    assert_int_equal(job_next_due_ms(1000, 60000, 5), 60000);
    assert_int_equal(job_next_due_ms(60000, 60001, 5), 60200);
    assert_int_equal(job_next_due_ms(0, 0, JOB_RATE_MAX), 1);
    assert_int_equal(job_next_due_ms(0, 0, 0), 1000); /* a rate below 1 is taken as 1 */
    /* 200 items at 5/s, acted on as soon as due, take 199 intervals. */
    int64_t due = 0;
    for (int i = 1; i < 200; i++)
        due = job_next_due_ms(due, due, 5);
    assert_int_equal(due, 199 * 200);
}

static void since_takes_rfc_3339_times_only(void **state)
{
    (void)state;
    const char *good[] = {"2026-12-08T04:00:00Z", "2026-12-08T04:00:00.123Z", "2026-12-08t04:00:00+01:00",
                          "2026-02-28T23:59:60-05:30"};
    for (size_t i = 0; i < sizeof good / sizeof good[0]; i++)
        assert_true(job_time_valid(good[i]));
    const char *bad[] = {NULL,
                         "",
                         "yesterday",
                         "2026-12-08",
                         "2026-12-08 04:00:00Z",
                         "2026-13-08T04:00:00Z",
                         "2026-12-08T24:00:00Z",
                         "2026-12-08T04:00:00",
                         "2026-12-08T04:00:00.Z",
                         "2026-12-08T04:00:00+0100",
                         "2026-12-08T04:00:00Zjunk",
                         "2026-12-08T04:00:00+01:00x"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        assert_false(job_time_valid(bad[i]));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(names_round_trip_and_unknown_ones_are_refused),
        cmocka_unit_test(a_job_keeps_its_pace_and_does_not_burst_after_a_pause),
        cmocka_unit_test(since_takes_rfc_3339_times_only),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
