/* clock.h -- the time, so tests can fix it. */
#ifndef ORDER_PORT_CLOCK_H
#define ORDER_PORT_CLOCK_H

#include <stdint.h>

#include "oms/util.h"

typedef struct clock_port clock_port;
typedef struct clock_port_ops {
    /* Milliseconds since the Unix epoch. */
    int64_t (*now_ms)(clock_port *c);
} clock_port_ops;
struct clock_port {
    const clock_port_ops *ops;
    void *self;
};
static inline int64_t clock_now_ms(clock_port *c)
{
    return c->ops->now_ms(c);
}

#endif
