/* http_wait.c -- see http_wait.h. The list is taken whole under the lock at
 * each tick and checked unlocked, so a park never waits for a check; what
 * still waits goes back on the list. A parked request is touched only by
 * the thread that holds its entry (the tick, or nobody), and never after
 * oms_http_finish. */
#include "http_wait.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>

#include "log.h"
#include "metrics.h"
#include "ticker.h"
#include "util.h"

typedef struct wait_entry {
    oms_http_request *req;
    oms_http_response *res;
    oms_http_wait_check check;
    void *state;
    int64_t deadline_ms; /* monotonic */
    struct wait_entry *next;
} wait_entry;

struct oms_http_waits {
    pthread_mutex_t lock; /* head, stopping */
    wait_entry *head;
    bool stopping;
    _Atomic int count;
    oms_gauge *gauge;
    oms_ticker *ticker;
};

static void count_add(oms_http_waits *w, int delta)
{
    int now = atomic_fetch_add(&w->count, delta) + delta;
    oms_gauge_set(w->gauge, now);
}

/* Runs the check of one entry; true when it was answered and finished (the
 * entry, in the request's arena, is gone then). */
static bool settle(oms_http_waits *w, wait_entry *e, bool expired, oms_arena *scratch)
{
    oms_log_set_request_id(e->req->request_id);
    bool done = e->check(e->state, e->req, e->res, expired, scratch);
    oms_arena_reset(scratch);
    if (!done && expired) { /* a check that broke its contract still answers */
        oms_http_respond_error(e->req, e->res, 503, "service_unavailable", "the wait ended without an answer", NULL);
        done = true;
    }
    oms_log_set_request_id(NULL);
    if (done) {
        count_add(w, -1);
        oms_http_finish(e->req);
    }
    return done;
}

static void tick(void *ctx, oms_arena *scratch)
{
    oms_http_waits *w = ctx;
    pthread_mutex_lock(&w->lock);
    wait_entry *list = w->head;
    w->head = NULL;
    bool stopping = w->stopping;
    pthread_mutex_unlock(&w->lock);
    int64_t now = oms_monotonic_ms();
    wait_entry *keep = NULL, *keep_tail = NULL;
    while (list) {
        wait_entry *e = list;
        list = e->next;
        if (settle(w, e, stopping || now >= e->deadline_ms, scratch))
            continue;
        e->next = NULL;
        if (keep_tail)
            keep_tail->next = e;
        else
            keep = e;
        keep_tail = e;
    }
    if (!keep)
        return;
    pthread_mutex_lock(&w->lock);
    keep_tail->next = w->head; /* parked during this tick: after ours */
    w->head = keep;
    pthread_mutex_unlock(&w->lock);
}

oms_http_waits *oms_http_waits_start(int interval_ms, oms_error *err)
{
    oms_http_waits *w = calloc(1, sizeof *w);
    if (!w) {
        oms_error_set(err, OMS_ENOMEM, NULL, "out of memory");
        return NULL;
    }
    pthread_mutex_init(&w->lock, NULL);
    w->gauge = oms_metrics_gauge("http_waiting_requests", "Requests parked in a long poll or server-sent events wait.",
                                 NULL);
    w->ticker = oms_ticker_start(interval_ms, tick, w, err);
    if (!w->ticker) {
        pthread_mutex_destroy(&w->lock);
        free(w);
        return NULL;
    }
    return w;
}

void oms_http_waits_stop(oms_http_waits *w)
{
    if (!w)
        return;
    oms_ticker_stop(w->ticker);
    pthread_mutex_lock(&w->lock);
    w->stopping = true;
    pthread_mutex_unlock(&w->lock);
    /* Normally empty: the server's stop already had every wait answered. */
    oms_arena *scratch = oms_arena_create(4096);
    if (scratch) {
        tick(w, scratch);
        oms_arena_destroy(scratch);
    }
    pthread_mutex_destroy(&w->lock);
    free(w);
}

/* The server is stopping: the next tick answers every wait (expired). The
 * request itself is not looked at here (http.h: it may be gone). */
static void on_stop(void *ctx, oms_http_request *req)
{
    (void)req;
    oms_http_waits *w = ctx;
    pthread_mutex_lock(&w->lock);
    w->stopping = true;
    pthread_mutex_unlock(&w->lock);
}

void oms_http_wait(oms_http_waits *w, oms_http_request *req, oms_http_response *res, int timeout_ms,
                   oms_http_wait_check check, void *state)
{
    wait_entry *e = oms_arena_calloc(req->arena, 1, sizeof *e);
    pthread_mutex_lock(&w->lock);
    bool stopping = w->stopping;
    pthread_mutex_unlock(&w->lock);
    if (!e || stopping) {
        oms_http_add_header(req, res, "Retry-After", "1");
        oms_http_respond_error(req, res, 503, "service_unavailable",
                               stopping ? "the server is stopping" : "out of memory", NULL);
        return;
    }
    *e = (wait_entry){.req = req,
                      .res = res,
                      .check = check,
                      .state = state,
                      .deadline_ms = oms_monotonic_ms() + (timeout_ms > 0 ? timeout_ms : 0)};
    count_add(w, 1);
    /* Parked first: the tick may finish it as soon as it is on the list. */
    oms_http_park(req, on_stop, w);
    pthread_mutex_lock(&w->lock);
    e->next = w->head;
    w->head = e;
    pthread_mutex_unlock(&w->lock);
}

int oms_http_waits_count(oms_http_waits *w) { return atomic_load(&w->count); }
