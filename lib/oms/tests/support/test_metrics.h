/* test_metrics.h -- reading the process's metrics back in tests. Needs only
 * lib/oms/metrics.c (and what it needs): usable in oms_pure_test tests. */
#ifndef OMS_TEST_METRICS_H
#define OMS_TEST_METRICS_H

#include "oms/arena.h"

/* The sum of every series of the counter `name` (all its label sets), as
 * GET /metrics would show it now; 0 when there is none. Renders in `a`. */
long test_metric_sum(oms_arena *a, const char *name);

#endif
