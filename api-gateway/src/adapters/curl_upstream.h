/* curl_upstream.h -- the upstream_client port over libcurl, with keep-alive.
 *
 * Easy handles are kept in a pool and reused: each keeps its connections
 * open between requests, so a steady stream of requests to a service runs
 * over a few long-lived TCP connections instead of one per request. */
#ifndef GATEWAY_CURL_UPSTREAM_H
#define GATEWAY_CURL_UPSTREAM_H

#include <stdint.h>

#include "../application/ports/upstream_client.h"
#include "oms/err.h"

/* Keeps at most `max_idle_handles` idle handles (the rest are closed when
 * returned). https instances are verified against the CA certificates of
 * `ca_file` (PEM; NULL: the system's). Call once at start: initialises
 * libcurl globally. NULL with err filled on failure. */
upstream_client *curl_upstream_create(int max_idle_handles, const char *ca_file, oms_error *err);
void curl_upstream_destroy(upstream_client *c);

/* TCP connections opened so far (libcurl's CURLINFO_NUM_CONNECTS summed):
 * stays flat while connections are reused. */
uint64_t curl_upstream_connections_opened(upstream_client *c);

#endif
