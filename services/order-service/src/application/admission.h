/* admission.h -- admission control of POST /orders (issue 14): order-service
 * takes no more sagas than it can finish. Past `max_in_flight` sagas in
 * flight (a step sent and not yet answered for good: saga step != NONE), a
 * new order is refused at once (OMS_EUNAVAILABLE, reason
 * ORDER_REASON_OVERLOADED, HTTP 503 with Retry-After) before anything is
 * written, so the refusal loses nothing and a retry with the same
 * Idempotency-Key later is a new request.
 *
 * The count is kept in memory so that a POST costs two atomic adds (its
 * reservation, taken and given back): the saga runner adds +1/-1 at commit
 * when a saga enters or leaves flight, and
 * a job resyncs it from the database (saga_admission_resync) every second.
 * With several replicas, each holds its own estimate: the database's count
 * at the last resync plus what this replica started and finished since; so
 * the bound is on the whole database's sagas, and between two resyncs the
 * replicas together may overshoot it by what the others started meanwhile. */
#ifndef ORDER_ADMISSION_H
#define ORDER_ADMISSION_H

#include <stdatomic.h>
#include <stdbool.h>

#define ORDER_REASON_OVERLOADED "overloaded" /* too many sagas in flight: 503, retry later */
#define SAGA_ADMISSION_RETRY_AFTER_S 1       /* the Retry-After of a refusal */

typedef struct saga_admission {
    int max_in_flight;     /* MAX_SAGAS_IN_FLIGHT; 0: no bound */
    atomic_long in_flight; /* this replica's estimate; never below 0 */
} saga_admission;

/* Takes a place for a new saga if one is free (true), so that concurrent
 * POSTs cannot all pass the bound before their commits count them; else
 * counts a refusal in oms_orders_refused_total{reason="overload"} (false).
 * Every true is followed by one saga_admission_release once the create
 * ended, committed or not (its commit hook counted the saga itself). NULL,
 * or no bound, admits everything without counting. */
bool saga_admission_reserve(saga_admission *adm);
void saga_admission_release(saga_admission *adm);

/* Whether a place is free now (counts nothing). */
bool saga_admission_admits(saga_admission *adm);

/* +1 when a committed transaction put a saga in flight, -1 when it ended one
 * (the saga runner's commit hook). NULL: nothing. */
void saga_admission_add(saga_admission *adm, long delta);

/* Replaces the estimate with `counted`, the database's count. */
void saga_admission_resync(saga_admission *adm, long counted);

long saga_admission_in_flight(saga_admission *adm);

#endif
