/* clock.h -- where the gateway reads time, so that rate limits, mark-down
 * periods and token expiry can be tested with a fake clock. */
#ifndef GATEWAY_CLOCK_H
#define GATEWAY_CLOCK_H

#include <stdint.h>

typedef struct gateway_clock gateway_clock;
typedef struct gateway_clock_ops {
    /* Milliseconds on a clock that never goes backwards. */
    int64_t (*now_ms)(gateway_clock *c);
    /* Seconds since the epoch (the time a token's exp and nbf are read on). */
    int64_t (*wall_s)(gateway_clock *c);
} gateway_clock_ops;
struct gateway_clock {
    const gateway_clock_ops *ops;
    void *self;
};

static inline int64_t gateway_clock_now_ms(gateway_clock *c) { return c->ops->now_ms(c); }

static inline int64_t gateway_clock_wall_s(gateway_clock *c) { return c->ops->wall_s(c); }

#endif
