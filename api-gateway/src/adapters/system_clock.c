/* system_clock.c -- see system_clock.h. */
#include "system_clock.h"

#include <time.h>

#include "oms/util.h"

static int64_t monotonic_now(gateway_clock *c)
{
    (void)c;
    return oms_monotonic_ms();
}

static int64_t wall_now(gateway_clock *c)
{
    (void)c;
    return (int64_t)time(NULL);
}

static const gateway_clock_ops system_clock_ops = {.now_ms = monotonic_now, .wall_s = wall_now};
static gateway_clock the_clock = {.ops = &system_clock_ops, .self = NULL};

gateway_clock *system_clock(void) { return &the_clock; }
