/* ticker.h -- a background thread that runs one job at a fixed interval
 * (the deadline scanner, the retention sweep), waiting on the monotonic
 * clock, and stops promptly. */
#ifndef OMS_TICKER_H
#define OMS_TICKER_H

#include "arena.h"
#include "err.h"

/* One run of the job. `a` is the thread's arena, reset after each run. */
typedef void (*oms_tick_fn)(void *ctx, oms_arena *a);

typedef struct oms_ticker oms_ticker;

/* Starts a thread that waits interval_ms, runs fn, and again, until
 * stopped. NULL with err when it cannot start. */
oms_ticker *oms_ticker_start(int interval_ms, oms_tick_fn fn, void *ctx, oms_error *err);

/* Stops the thread (after the run in progress) and frees. NULL allowed. */
void oms_ticker_stop(oms_ticker *t);

#endif
