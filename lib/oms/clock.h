/* clock.h -- the clock port: where an application reads the time, so that
 * its tests can fix it (Redis-style ops table). Two adapters: the wall clock
 * (milliseconds since the Unix epoch: times that are stored or shown) and
 * the monotonic clock (milliseconds that never go backwards: intervals,
 * rates, mark-down periods). Pure C. */
#ifndef OMS_CLOCK_H
#define OMS_CLOCK_H

#include <stdint.h>

typedef struct oms_clock oms_clock;
typedef struct oms_clock_ops {
    /* Milliseconds on this clock. */
    int64_t (*now_ms)(oms_clock *c);
} oms_clock_ops;
struct oms_clock {
    const oms_clock_ops *ops;
    void *self;
};

static inline int64_t oms_clock_now_ms(oms_clock *c) { return c->ops->now_ms(c); }

/* The system's clocks (oms_now_ms, oms_monotonic_ms of util.h). Stateless:
 * any number of copies serve any number of threads. */
oms_clock oms_wall_clock(void);
oms_clock oms_monotonic_clock(void);

#endif
