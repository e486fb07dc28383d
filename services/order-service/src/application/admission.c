/* admission.c -- see admission.h. */
#include "application/admission.h"

#include <stdio.h>

#include "oms/metrics.h"

static oms_counter *refused_counter(void)
{
    static oms_counter *c;
    oms_counter *got = __atomic_load_n(&c, __ATOMIC_ACQUIRE);
    if (!got) {
        got = oms_metrics_counter("oms_orders_refused_total", "Orders refused before anything was written, by reason.",
                                  "reason=\"overload\"");
        __atomic_store_n(&c, got, __ATOMIC_RELEASE);
    }
    return got;
}

/* oms_sagas_in_flight follows every change of the estimate. */
static void publish(long in_flight)
{
    static oms_gauge *g;
    oms_gauge *got = __atomic_load_n(&g, __ATOMIC_ACQUIRE);
    if (!got) {
        got = oms_metrics_gauge("oms_sagas_in_flight",
                                "Sagas in flight as admission control counts them (this replica's estimate).", NULL);
        __atomic_store_n(&g, got, __ATOMIC_RELEASE);
    }
    if (got)
        oms_gauge_set(got, (double)in_flight);
}

static bool bounded(const saga_admission *adm) { return adm && adm->max_in_flight > 0; }

bool saga_admission_reserve(saga_admission *adm)
{
    if (!bounded(adm))
        return true;
    if (atomic_fetch_add(&adm->in_flight, 1) < adm->max_in_flight)
        return true;
    atomic_fetch_sub(&adm->in_flight, 1);
    oms_counter *c = refused_counter();
    if (c)
        oms_counter_add(c, 1);
    return false;
}

void saga_admission_release(saga_admission *adm)
{
    if (bounded(adm))
        saga_admission_add(adm, -1);
}

bool saga_admission_admits(saga_admission *adm)
{
    return !bounded(adm) || atomic_load(&adm->in_flight) < adm->max_in_flight;
}

void saga_admission_add(saga_admission *adm, long delta)
{
    if (!adm || delta == 0)
        return;
    long now = atomic_fetch_add(&adm->in_flight, delta) + delta;
    /* A saga another replica started may end here: never below 0 (the
     * next resync brings the estimate back to the database's count). */
    while (now < 0 && !atomic_compare_exchange_weak(&adm->in_flight, &now, 0))
        ;
    publish(now < 0 ? 0 : now);
}

void saga_admission_resync(saga_admission *adm, long counted)
{
    if (!adm)
        return;
    atomic_store(&adm->in_flight, counted < 0 ? 0 : counted);
    publish(counted < 0 ? 0 : counted);
}

long saga_admission_in_flight(saga_admission *adm) { return adm ? atomic_load(&adm->in_flight) : 0; }
