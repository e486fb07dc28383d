/* clock.c -- the system clocks behind the clock port (see clock.h). */
#include "clock.h"

#include "util.h"

static int64_t wall_now_ms(oms_clock *c)
{
    (void)c;
    return oms_now_ms();
}

static int64_t monotonic_now_ms(oms_clock *c)
{
    (void)c;
    return oms_monotonic_ms();
}

static const oms_clock_ops wall_ops = {.now_ms = wall_now_ms};
static const oms_clock_ops monotonic_ops = {.now_ms = monotonic_now_ms};

oms_clock oms_wall_clock(void) { return (oms_clock){.ops = &wall_ops, .self = NULL}; }

oms_clock oms_monotonic_clock(void) { return (oms_clock){.ops = &monotonic_ops, .self = NULL}; }
