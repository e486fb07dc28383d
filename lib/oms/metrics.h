/* metrics.h -- process-wide Prometheus metrics. Thread-safe; registration is
 * idempotent (the same name and labels return the same metric), so callers
 * may look metrics up lazily. Rendering happens for GET /metrics. */
#ifndef OMS_METRICS_H
#define OMS_METRICS_H

#include <stdint.h>

#include "arena.h"

typedef struct oms_counter oms_counter;
typedef struct oms_gauge oms_gauge;
typedef struct oms_histogram oms_histogram;

/* `labels` is the Prometheus label text without braces, e.g.
 * "route=\"get_order\",status=\"200\"", or NULL. Returns NULL only when memory
 * is exhausted; the update functions accept NULL and do nothing. */
oms_counter *oms_metrics_counter(const char *name, const char *help, const char *labels);
oms_gauge *oms_metrics_gauge(const char *name, const char *help, const char *labels);
/* Latency histogram in seconds with fixed buckets from 0.5 ms to 10 s. */
oms_histogram *oms_metrics_histogram(const char *name, const char *help, const char *labels);

/* A histogram with the caller's bucket bounds (ascending, at most
 * OMS_HISTOGRAM_MAX_BOUNDS, static: the registry keeps the pointer), for a
 * snapshot that is set as a whole (oms_histogram_set), such as the ages of
 * the sagas open now. The first registration's bounds stay. */
#define OMS_HISTOGRAM_MAX_BOUNDS 14
oms_histogram *oms_metrics_histogram_bounds(const char *name, const char *help, const char *labels,
                                            const double *bounds, size_t n);

void oms_counter_add(oms_counter *c, uint64_t n);
void oms_gauge_set(oms_gauge *g, double v);
void oms_histogram_observe(oms_histogram *h, double seconds);
/* Replaces the histogram's content: per_bucket[i] observations in bucket i
 * (not cumulative; n bounds + 1, the last past every bound) and their sum. */
void oms_histogram_set(oms_histogram *h, const uint64_t *per_bucket, double sum);

/* The whole registry in Prometheus text format (with process_resident_memory_bytes
 * and process_start_time_seconds), allocated in `a`; NULL on exhaustion. */
char *oms_metrics_render(oms_arena *a, size_t *len_out);

#endif
