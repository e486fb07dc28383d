/* http_wait.h -- a waiting room for parked requests (http.h, oms_http_park):
 * a long poll or the next server-sent events of a resource.
 *
 * One thread looks at every waiting request each `interval_ms` (its check
 * reads what the request waits for, typically one indexed row) and answers
 * those whose wait is over; a waiting request holds no thread, only its
 * connection and its arena. The check runs on that thread, one request at a
 * time, so it may block briefly (a database read) but should be cheap: with
 * W waiting requests it runs W times per interval. */
#ifndef OMS_HTTP_WAIT_H
#define OMS_HTTP_WAIT_H

#include <stdbool.h>

#include "arena.h"
#include "err.h"
#include "http.h"

/* Looks once at what `req` waits for. Returns true after answering `res`
 * (the wait is over), false to go on waiting. When `expired` (its deadline
 * passed, or the server is stopping) it must answer. `scratch` is the
 * thread's arena, reset after each call: what the answer keeps must be
 * copied into req->arena (the oms_http_respond_* builders do). `state` is
 * the caller's, kept in req->arena for the wait. */
typedef bool (*oms_http_wait_check)(void *state, oms_http_request *req, oms_http_response *res, bool expired,
                                    oms_arena *scratch);

typedef struct oms_http_waits oms_http_waits;

/* Starts the thread; NULL with err filled when it cannot. */
oms_http_waits *oms_http_waits_start(int interval_ms, oms_error *err);

/* Ends the thread after answering whoever still waits (their checks run
 * with expired set). Call it after the HTTP server stopped (its stop tells
 * the room through on_stop and waits for the answers). NULL allowed. */
void oms_http_waits_stop(oms_http_waits *w);

/* Called by a handler that found the wait not over yet: parks `req` for at
 * most `timeout_ms` and returns; the handler must then return without
 * touching req or res (http.h). The room answers through `check`. When the
 * room cannot take it (out of memory, stopping) it answers 503 at once. */
void oms_http_wait(oms_http_waits *w, oms_http_request *req, oms_http_response *res, int timeout_ms,
                   oms_http_wait_check check, void *state);

/* Requests waiting now (the gauge http_waiting_requests too). */
int oms_http_waits_count(oms_http_waits *w);

#endif
