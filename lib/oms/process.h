/* process.h -- the life of a service process: signals and graceful stop.
 *
 * main() starts its parts, then calls oms_process_wait(), which returns when
 * SIGTERM or SIGINT arrives; main then stops the parts in reverse order
 * (HTTP server finishing requests in flight, bus consumers, outbox relay
 * flush, pools). A second signal during the stop exits at once. */
#ifndef OMS_PROCESS_H
#define OMS_PROCESS_H

#include <stdbool.h>

/* Blocks SIGTERM/SIGINT/SIGPIPE in the calling thread (call first in main,
 * before any thread starts, so that threads inherit the mask) and loads
 * `.env` plus LOG_LEVEL, initialising logging for `service_name`. */
void oms_process_init(const char *service_name);

/* Waits for SIGTERM or SIGINT; returns the signal number. */
int oms_process_wait(void);

/* True once a stop signal arrived (for loops that poll). */
bool oms_process_stopping(void);

#endif
