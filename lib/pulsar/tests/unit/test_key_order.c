/* Per-key order under failure (key_order.c, review M8), with no broker: the
 * consumer's actions are recorded as text ("ack:a1", "dead:a1", ...). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "pulsar/key_order.h"

#define MAX_EVENTS 128

static char events[MAX_EVENTS][32];
static size_t n_events;
static bool dead_letter_works = true;
static int released;

static void event(const char *what, const pulsar_message *m)
{
    if (n_events < MAX_EVENTS)
        snprintf(events[n_events++], sizeof events[0], "%s:%s", what, m->payload);
}

static void on_ack(void *ctx, pulsar_message *m)
{
    (void)ctx;
    event("ack", m);
}

static bool on_dead_letter(void *ctx, pulsar_message *m, const char *reason)
{
    (void)ctx;
    (void)reason;
    if (dead_letter_works)
        event("dead", m);
    return dead_letter_works;
}

static void on_give_back(void *ctx, pulsar_message *m, int delay_ms)
{
    (void)ctx;
    (void)delay_ms;
    event("back", m);
}

static void on_release(void *ctx, pulsar_message *m)
{
    (void)ctx;
    (void)m;
    released++;
}

static const key_order_ops ops = {
    .ack = on_ack, .dead_letter = on_dead_letter, .give_back = on_give_back, .release = on_release};

static const key_order_options options = {
    .max_redeliveries = 2, .retry_base_delay_ms = 100, .retry_max_delay_ms = 1000, .max_held = 8};

/* Messages named by payload: "a1" has key "a", ... */
static pulsar_message messages[16];
static char names[16][8];

static pulsar_message *msg(int i, const char *name)
{
    snprintf(names[i], sizeof names[i], "%s", name);
    messages[i] = (pulsar_message){.key = "", .payload = names[i], .session = 1};
    messages[i].key = name[0] == 'a' ? "a" : name[0] == 'b' ? "b" : "c";
    return &messages[i];
}

static int setup(void **state)
{
    n_events = 0;
    released = 0;
    dead_letter_works = true;
    key_order *o = key_order_create(&ops, NULL, &options);
    assert_non_null(o);
    key_order_new_session(o, 1);
    *state = o;
    return 0;
}

static int teardown(void **state)
{
    key_order_destroy(*state);
    return 0;
}

/* Settles a round of n messages with the given outcomes (all attempts at
 * their redelivery count unless given). */
static void settle(key_order *o, int64_t now, pulsar_message **ms, const uint32_t *attempts,
                   const oms_bus_disposition *d, size_t n)
{
    oms_bus_outcome out[16];
    uint32_t tries[16];
    for (size_t i = 0; i < n; i++) {
        out[i].disposition = d[i];
        out[i].reason[0] = '\0';
        tries[i] = attempts ? attempts[i] : ms[i]->redelivery_count;
    }
    key_order_settle(o, now, ms, tries, out, n);
}

/* The payloads taken, joined by spaces, and their attempt numbers. */
static size_t take(key_order *o, int64_t now, char *names_out, size_t len, uint32_t *attempts)
{
    pulsar_message *out[16];
    uint32_t tries[16];
    size_t n = key_order_take_due(o, now, out, tries, 16);
    names_out[0] = '\0';
    for (size_t i = 0; i < n; i++) {
        size_t used = strlen(names_out);
        snprintf(names_out + used, len - used, "%s%s", i ? " " : "", out[i]->payload);
        if (attempts)
            attempts[i] = tries[i];
    }
    return n;
}

static void assert_events(const char *const *expected, size_t n)
{
    for (size_t i = 0; i < n && i < n_events; i++)
        assert_string_equal(events[i], expected[i]);
    assert_int_equal(n_events, n);
}

/* [a1 fails, b1 ok, a2 held back]: b1 is acknowledged; a1 and a2 wait for
 * a1's delay and come back in their order, a1 as its second attempt, a2 as
 * its first. */
static void a_failed_head_holds_its_key_and_the_others_go_on(void **state)
{
    key_order *o = *state;
    pulsar_message *round[] = {msg(0, "a1"), msg(1, "b1"), msg(2, "a2")};
    settle(o, 1000, round, NULL, (oms_bus_disposition[]){OMS_BUS_RETRY, OMS_BUS_ACK, OMS_BUS_RETRY}, 3);
    assert_events((const char *[]){"ack:b1"}, 1);
    char taken[64];
    uint32_t attempts[16];
    assert_int_equal(take(o, 1099, taken, sizeof taken, attempts), 0);
    assert_int_equal(key_order_next_due_in(o, 1050), 50);
    assert_int_equal(take(o, 1100, taken, sizeof taken, attempts), 2);
    assert_string_equal(taken, "a1 a2");
    assert_int_equal(attempts[0], 1);
    assert_int_equal(attempts[1], 0);
    assert_int_equal(key_order_next_due_in(o, 1100), -1);
}

/* A message of a held key that arrives meanwhile waits behind; another
 * key's does not. */
static void a_new_message_of_a_held_key_waits_behind_it(void **state)
{
    key_order *o = *state;
    pulsar_message *round[] = {msg(0, "a1")};
    settle(o, 1000, round, NULL, (oms_bus_disposition[]){OMS_BUS_RETRY}, 1);
    assert_true(key_order_hold_if_waiting(o, msg(1, "a2")));
    assert_false(key_order_hold_if_waiting(o, msg(2, "b1")));
    char taken[64];
    assert_int_equal(take(o, 5000, taken, sizeof taken, NULL), 2);
    assert_string_equal(taken, "a1 a2");
}

/* The review's case: a1 fails on every attempt, a2 behind it is fine. a1 is
 * dead-lettered after its own attempts (0, 1, 2); a2 is never counted,
 * never dead-lettered, and is handled once, after a1 went, as attempt 0. */
static void a_held_back_message_is_never_counted_nor_dead_lettered(void **state)
{
    key_order *o = *state;
    pulsar_message *a1 = msg(0, "a1"), *a2 = msg(1, "a2");
    pulsar_message *round[] = {a1, a2};
    settle(o, 0, round, NULL, (oms_bus_disposition[]){OMS_BUS_RETRY, OMS_BUS_RETRY}, 2);
    int64_t now = 0;
    char taken[64];
    uint32_t attempts[16];
    for (uint32_t expected = 1; expected <= 2; expected++) {
        now += 10000;
        assert_int_equal(take(o, now, taken, sizeof taken, attempts), 2);
        assert_string_equal(taken, "a1 a2");
        assert_int_equal(attempts[0], expected);
        assert_int_equal(attempts[1], 0);
        settle(o, now, round, attempts, (oms_bus_disposition[]){OMS_BUS_RETRY, OMS_BUS_RETRY}, 2);
    }
    assert_events((const char *[]){"dead:a1"}, 1);
    /* a2 goes at once, alone, as its first attempt. */
    assert_int_equal(take(o, now, taken, sizeof taken, attempts), 1);
    assert_string_equal(taken, "a2");
    assert_int_equal(attempts[0], 0);
    pulsar_message *last[] = {a2};
    settle(o, now, last, attempts, (oms_bus_disposition[]){OMS_BUS_ACK}, 1);
    assert_events((const char *[]){"dead:a1", "ack:a2"}, 2);
    assert_int_equal(key_order_next_due_in(o, now), -1);
}

/* DEAD dead-letters at once; what was behind goes on at once. */
static void dead_is_dead_lettered_at_once_and_the_rest_follows(void **state)
{
    key_order *o = *state;
    pulsar_message *round[] = {msg(0, "a1"), msg(1, "a2")};
    settle(o, 1000, round, NULL, (oms_bus_disposition[]){OMS_BUS_DEAD, OMS_BUS_RETRY}, 2);
    assert_events((const char *[]){"dead:a1"}, 1);
    char taken[64];
    uint32_t attempts[16];
    assert_int_equal(take(o, 1000, taken, sizeof taken, attempts), 1);
    assert_string_equal(taken, "a2");
    assert_int_equal(attempts[0], 0);
}

/* A dead letter that cannot be stored keeps the head (and its key) for a
 * later try. */
static void a_failed_dead_letter_keeps_the_head(void **state)
{
    key_order *o = *state;
    dead_letter_works = false;
    pulsar_message *round[] = {msg(0, "a1"), msg(1, "a2")};
    settle(o, 1000, round, NULL, (oms_bus_disposition[]){OMS_BUS_DEAD, OMS_BUS_RETRY}, 2);
    assert_int_equal(n_events, 0);
    assert_true(key_order_hold_if_waiting(o, msg(2, "a3")));
    char taken[64];
    assert_int_equal(take(o, 1000 + 100, taken, sizeof taken, NULL), 3);
    assert_string_equal(taken, "a1 a2 a3");
}

/* The delay doubles per attempt up to its cap. */
static void the_retry_delay_doubles_up_to_its_cap(void **state)
{
    (void)state;
    assert_int_equal(key_order_retry_delay(&options, 0), 100);
    assert_int_equal(key_order_retry_delay(&options, 1), 200);
    assert_int_equal(key_order_retry_delay(&options, 3), 800);
    assert_int_equal(key_order_retry_delay(&options, 4), 1000);
    assert_int_equal(key_order_retry_delay(&options, 4000000000u), 1000);
}

/* After the consumer subscribed again, what it held from before is let go
 * (the broker delivers it again); an outcome of an old message that is
 * not an acknowledgement lets it go too. */
static void messages_of_an_earlier_session_are_let_go(void **state)
{
    key_order *o = *state;
    pulsar_message *round[] = {msg(0, "a1"), msg(1, "a2")};
    settle(o, 1000, round, NULL, (oms_bus_disposition[]){OMS_BUS_RETRY, OMS_BUS_RETRY}, 2);
    pulsar_message *fresh = msg(2, "a3");
    fresh->session = 2;
    assert_true(key_order_hold_if_waiting(o, fresh));
    key_order_new_session(o, 2);
    assert_int_equal(released, 2);
    char taken[64];
    assert_int_equal(take(o, 1000, taken, sizeof taken, NULL), 1);
    assert_string_equal(taken, "a3");
    pulsar_message *old[] = {msg(3, "b1")};
    settle(o, 1000, old, NULL, (oms_bus_disposition[]){OMS_BUS_RETRY}, 1);
    assert_int_equal(released, 3);
    assert_false(key_order_hold_if_waiting(o, msg(4, "b2")));
}

/* A held key taken only in part (the round was full) keeps the rest ahead
 * of newer messages; if the part taken fails, it goes back in front. */
static void what_did_not_fit_in_a_round_keeps_its_place(void **state)
{
    key_order *o = *state;
    pulsar_message *round[] = {msg(0, "a1"), msg(1, "a2"), msg(2, "a3"), msg(3, "a4")};
    settle(o, 0, round, NULL, (oms_bus_disposition[]){OMS_BUS_RETRY, OMS_BUS_RETRY, OMS_BUS_RETRY, OMS_BUS_RETRY}, 4);
    pulsar_message *part[2];
    uint32_t attempts[16];
    assert_int_equal(key_order_take_due(o, 10000, part, attempts, 2), 2);
    assert_string_equal(part[0]->payload, "a1");
    assert_string_equal(part[1]->payload, "a2");
    assert_true(key_order_hold_if_waiting(o, msg(4, "a5")));
    settle(o, 10000, part, attempts, (oms_bus_disposition[]){OMS_BUS_RETRY, OMS_BUS_RETRY}, 2);
    char taken[64];
    assert_int_equal(take(o, 20000, taken, sizeof taken, attempts), 5);
    assert_string_equal(taken, "a1 a2 a3 a4 a5");
    assert_int_equal(attempts[0], 2);
}

/* max_held messages held: full, until some go. */
static void it_is_full_at_max_held(void **state)
{
    key_order *o = *state;
    pulsar_message *round[8];
    oms_bus_disposition d[8];
    for (int i = 0; i < 8; i++) {
        char name[4] = {'a', (char)('0' + i), 0};
        round[i] = msg(i, name);
        d[i] = OMS_BUS_RETRY;
    }
    settle(o, 0, round, NULL, d, 7);
    assert_false(key_order_full(o));
    assert_true(key_order_hold_if_waiting(o, round[7]));
    assert_true(key_order_full(o));
    char taken[64];
    take(o, 10000, taken, sizeof taken, NULL);
    assert_false(key_order_full(o));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(a_failed_head_holds_its_key_and_the_others_go_on, setup, teardown),
        cmocka_unit_test_setup_teardown(a_new_message_of_a_held_key_waits_behind_it, setup, teardown),
        cmocka_unit_test_setup_teardown(a_held_back_message_is_never_counted_nor_dead_lettered, setup, teardown),
        cmocka_unit_test_setup_teardown(dead_is_dead_lettered_at_once_and_the_rest_follows, setup, teardown),
        cmocka_unit_test_setup_teardown(a_failed_dead_letter_keeps_the_head, setup, teardown),
        cmocka_unit_test(the_retry_delay_doubles_up_to_its_cap),
        cmocka_unit_test_setup_teardown(messages_of_an_earlier_session_are_let_go, setup, teardown),
        cmocka_unit_test_setup_teardown(what_did_not_fit_in_a_round_keeps_its_place, setup, teardown),
        cmocka_unit_test_setup_teardown(it_is_full_at_max_held, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
