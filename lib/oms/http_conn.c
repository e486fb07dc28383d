/* http_conn.c -- the connections of a server and their deadlines.
 *
 * libmicrohttpd's own timeout is one of inactivity: a client that sends a
 * byte every few seconds keeps its connection for ever. Here each connection
 * carries the phase it is in and since when; a thread looks once a second and
 * shuts down the socket of a connection past its phase's deadline
 * (libmicrohttpd then reads the end of the stream and closes the connection
 * on its own thread). The shutdown happens under the list's lock, and a
 * connection leaves the list (libmicrohttpd's close notification) under the
 * same lock before libmicrohttpd closes its descriptor, so a shutdown never
 * reaches a descriptor that another connection has reused. */
#include "http_internal.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/socket.h>

#include "log.h"
#include "metrics.h"
#include "util.h"
#include "wait.h"

#define SWEEP_MS 1000
#define PHASES 4

struct http_conn {
    http_conns *owner;
    MHD_socket fd;
    /* (since_ms << 2) | phase in one word, so that the sweep never pairs a
     * phase with another phase's start */
    _Atomic uint64_t state;
    bool shut; /* guarded by owner->lock */
    http_conn *prev, *next;
};

struct http_conns {
    oms_http_server *owner;
    int64_t deadline_ms[PHASES]; /* 0: none */
    pthread_mutex_t lock;
    pthread_cond_t wake;
    http_conn *head;
    bool stopping;
    pthread_t sweeper;
    oms_counter *closed[PHASES];
};

static const char *const phase_names[PHASES] = {"headers", "body", "working", "sending"};

static uint64_t pack(http_conn_phase phase) { return ((uint64_t)oms_monotonic_ms() << 2) | (uint64_t)phase; }

/* Shuts down what is past its deadline; counts per phase. Lock held. */
static void sweep(http_conns *c, int64_t now, int closed[PHASES])
{
    for (http_conn *h = c->head; h; h = h->next) {
        uint64_t state = atomic_load_explicit(&h->state, memory_order_acquire);
        int phase = (int)(state & 3);
        int64_t since = (int64_t)(state >> 2);
        int64_t limit = c->deadline_ms[phase];
        if (h->shut || limit == 0 || now - since < limit)
            continue;
        shutdown(h->fd, SHUT_RDWR);
        h->shut = true;
        closed[phase]++;
    }
}

static void report(http_conns *c, const int closed[PHASES])
{
    for (int p = 0; p < PHASES; p++) {
        if (closed[p] == 0)
            continue;
        oms_counter_add(c->closed[p], (uint64_t)closed[p]);
        char count[16];
        snprintf(count, sizeof count, "%d", closed[p]);
        oms_log(OMS_LOG_WARN, "http_deadline_passed", "phase", phase_names[p], "connections_closed", count, NULL);
    }
}

static void *sweeper_main(void *arg)
{
    http_conns *c = arg;
    pthread_mutex_lock(&c->lock);
    while (!c->stopping) {
        struct timespec until = oms_deadline_in(SWEEP_MS);
        pthread_cond_timedwait(&c->wake, &c->lock, &until);
        int closed[PHASES] = {0};
        sweep(c, oms_monotonic_ms(), closed);
        pthread_mutex_unlock(&c->lock);
        report(c, closed);
        pthread_mutex_lock(&c->lock);
    }
    pthread_mutex_unlock(&c->lock);
    return NULL;
}

http_conns *http_conns_start(oms_http_server *owner, int header_timeout_s, int body_timeout_s, int send_timeout_s)
{
    http_conns *c = calloc(1, sizeof *c);
    if (!c)
        return NULL;
    c->owner = owner;
    c->deadline_ms[HTTP_CONN_HEADERS] = (int64_t)header_timeout_s * 1000;
    c->deadline_ms[HTTP_CONN_BODY] = (int64_t)body_timeout_s * 1000;
    c->deadline_ms[HTTP_CONN_SENDING] = (int64_t)send_timeout_s * 1000;
    for (int p = 0; p < PHASES; p++) {
        char labels[64];
        snprintf(labels, sizeof labels, "phase=\"%s\"", phase_names[p]);
        c->closed[p] = oms_metrics_counter("http_deadline_closes_total",
                                           "Connections closed for passing a deadline, by phase.", labels);
    }
    pthread_mutex_init(&c->lock, NULL);
    oms_cond_init_monotonic(&c->wake);
    if (pthread_create(&c->sweeper, NULL, sweeper_main, c) != 0) {
        pthread_cond_destroy(&c->wake);
        pthread_mutex_destroy(&c->lock);
        free(c);
        return NULL;
    }
    return c;
}

void http_conns_stop(http_conns *c)
{
    if (!c)
        return;
    pthread_mutex_lock(&c->lock);
    c->stopping = true;
    pthread_cond_signal(&c->wake);
    pthread_mutex_unlock(&c->lock);
    pthread_join(c->sweeper, NULL);
    while (c->head) {
        http_conn *h = c->head;
        c->head = h->next;
        free(h);
    }
    pthread_cond_destroy(&c->wake);
    pthread_mutex_destroy(&c->lock);
    free(c);
}

http_conn *http_conn_opened(http_conns *c, struct MHD_Connection *conn)
{
    const union MHD_ConnectionInfo *info = MHD_get_connection_info(conn, MHD_CONNECTION_INFO_CONNECTION_FD);
    http_conn *h = info ? calloc(1, sizeof *h) : NULL;
    if (!h)
        return NULL;
    h->owner = c;
    h->fd = info->connect_fd;
    atomic_init(&h->state, pack(HTTP_CONN_HEADERS));
    pthread_mutex_lock(&c->lock);
    h->next = c->head;
    if (c->head)
        c->head->prev = h;
    c->head = h;
    pthread_mutex_unlock(&c->lock);
    return h;
}

void http_conn_closed(http_conns *c, http_conn *h)
{
    if (!h)
        return;
    pthread_mutex_lock(&c->lock);
    if (h->prev)
        h->prev->next = h->next;
    else
        c->head = h->next;
    if (h->next)
        h->next->prev = h->prev;
    pthread_mutex_unlock(&c->lock);
    free(h);
}

oms_http_server *http_conn_owner(const http_conn *h) { return h->owner->owner; }

void http_conn_enter(http_conn *h, http_conn_phase phase)
{
    if (h)
        atomic_store_explicit(&h->state, pack(phase), memory_order_release);
}
