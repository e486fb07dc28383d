/* system_clock.h -- the clock port over the monotonic system clock. */
#ifndef GATEWAY_SYSTEM_CLOCK_H
#define GATEWAY_SYSTEM_CLOCK_H

#include "../application/ports/clock.h"

/* A process-wide clock; never freed. */
gateway_clock *system_clock(void);

#endif
