/* upstream_pool.h -- the instances of one service and which one to ask next.
 *
 * Pure C, not thread-safe (the caller holds a lock); time is passed in, so
 * tests drive it with a fake clock. Selection is round robin over the
 * instances that are not marked down; an instance is marked down for a short
 * time after a connect failure so that the next requests skip it instead of
 * paying the failed connect again. */
#ifndef GATEWAY_UPSTREAM_POOL_H
#define GATEWAY_UPSTREAM_POOL_H

#include <stdbool.h>
#include <stdint.h>

#include "oms/err.h"

#define UPSTREAM_MAX_INSTANCES 16
#define UPSTREAM_URL_MAX 256

typedef struct upstream_instance {
    char base_url[UPSTREAM_URL_MAX]; /* "http[s]://host:port[/prefix]", no trailing '/' */
    int64_t down_until_ms;           /* skipped while now < down_until_ms */
} upstream_instance;

typedef struct upstream_pool {
    upstream_instance instances[UPSTREAM_MAX_INSTANCES];
    int count;     /* 1..UPSTREAM_MAX_INSTANCES */
    unsigned next; /* round-robin cursor */
} upstream_pool;

/* Bit set of instance indexes already tried for one request. */
typedef uint32_t upstream_tried;

/* Fills `pool` from a comma-separated list of base URLs ("http://a:8001,
 * http://b:8001"; blanks around items are ignored, one trailing '/' is
 * dropped). Each must be http[s]://host[:port][/path] with a host of letters,
 * digits, '.', '-' or a bracketed IPv6 address, a port of 1..65535 and no
 * query, fragment, user info, '%' or blank. OMS_EINVAL with a message naming
 * the bad item; `pool` is untouched then. */
oms_err upstream_pool_parse(upstream_pool *pool, const char *list, oms_error *err);

/* The index of the instance to ask next, skipping those in `tried` and those
 * marked down at `now_ms`; -1 when none is left. Advances the cursor so that
 * successive requests spread evenly over the healthy instances. */
int upstream_pool_pick(upstream_pool *pool, int64_t now_ms, upstream_tried tried);

/* Marks instance `index` down until now_ms + for_ms. */
void upstream_pool_mark_down(upstream_pool *pool, int index, int64_t now_ms, int64_t for_ms);

#endif
