/* process.h -- the life of a service process: signals and graceful stop.
 *
 * main() starts its parts, then calls oms_process_wait(), which returns when
 * SIGTERM or SIGINT arrives; main then stops the parts in reverse order
 * (HTTP server finishing requests in flight, bus consumers, outbox relay
 * flush, pools). A second signal during the stop exits at once. */
#ifndef OMS_PROCESS_H
#define OMS_PROCESS_H

#include <stdbool.h>

#include "config.h"

/* What every process reads: LOG_LEVEL (debug|info|warn|error). */
typedef struct oms_process_settings {
    const char *log_level;
} oms_process_settings;

/* Contributes LOG_LEVEL to the process's table, loaded into `s`. */
void oms_process_settings_add(oms_settings *t, oms_process_settings *s);

/* Blocks SIGTERM/SIGINT/SIGPIPE/SIGHUP in the calling thread (call in main after
 * loading the settings, before any thread starts, so that threads inherit
 * the mask) and initialises logging for `service_name` at s's level. */
void oms_process_init(const char *service_name, const oms_process_settings *s);

/* Waits for SIGTERM or SIGINT; returns the signal number. A SIGHUP on the
 * way runs the reload hooks (on the calling thread) and goes on waiting. */
int oms_process_wait(void);

/* Adds fn(ctx) to what SIGHUP runs (e.g. the HTTP server reading its TLS
 * certificate again); false when the few places are all taken. The hook must
 * not call back into these two functions. */
bool oms_process_on_reload(void (*fn)(void *ctx), void *ctx);
/* Removes the hooks registered with ctx. */
void oms_process_forget_reload(void *ctx);

/* True once a stop signal arrived (for loops that poll). */
bool oms_process_stopping(void);

#endif
