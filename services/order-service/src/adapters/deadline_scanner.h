/* deadline_scanner.h -- the thread that resends or compensates saga steps
 * whose reply did not come in time (SPEC section 3). */
#ifndef ORDER_DEADLINE_SCANNER_H
#define ORDER_DEADLINE_SCANNER_H

#include "application/commands.h"

#define DEADLINE_SCAN_INTERVAL_MS 500
#define DEADLINE_SCAN_BATCH 50

typedef struct deadline_scanner deadline_scanner;

/* Starts the thread: every interval_ms it runs order_on_step_deadlines until
 * none is due. NULL with err when the thread cannot start. */
deadline_scanner *deadline_scanner_start(order_app *app, int interval_ms, oms_error *err);

/* Stops the thread (waits for the scan in progress) and frees. NULL allowed. */
void deadline_scanner_stop(deadline_scanner *s);

#endif
