/* proxy.c -- see proxy.h. The pool of a service is locked only to choose or
 * mark an instance, never during the exchange itself. */
#include "proxy.h"

#include <stdio.h>
#include <string.h>

#include "oms/log.h"
#include "oms/metrics.h"

#define DETAIL_MAX 256

void proxy_init(proxy *p, const upstream_pool pools[GATEWAY_SERVICE_COUNT], upstream_client *client,
                gateway_clock *clock, int timeout_ms)
{
    for (int s = 0; s < GATEWAY_SERVICE_COUNT; s++) {
        pthread_mutex_init(&p->services[s].lock, NULL);
        p->services[s].pool = pools[s];
    }
    p->client = client;
    p->clock = clock;
    p->timeout_ms = timeout_ms;
}

void proxy_destroy(proxy *p)
{
    for (int s = 0; s < GATEWAY_SERVICE_COUNT; s++)
        pthread_mutex_destroy(&p->services[s].lock);
}

/* Picks an instance and copies its URL out, so the exchange runs unlocked. */
static int pick_instance(proxy *p, proxy_service *svc, upstream_tried tried, char url[UPSTREAM_URL_MAX])
{
    int64_t now = gateway_clock_now_ms(p->clock);
    pthread_mutex_lock(&svc->lock);
    int index = upstream_pool_pick(&svc->pool, now, tried);
    if (index >= 0)
        memcpy(url, svc->pool.instances[index].base_url, UPSTREAM_URL_MAX);
    pthread_mutex_unlock(&svc->lock);
    return index;
}

static void mark_down(proxy *p, proxy_service *svc, int index)
{
    int64_t now = gateway_clock_now_ms(p->clock);
    pthread_mutex_lock(&svc->lock);
    upstream_pool_mark_down(&svc->pool, index, now, PROXY_MARK_DOWN_MS);
    pthread_mutex_unlock(&svc->lock);
}

static const char *outcome_name(upstream_outcome o)
{
    switch (o) {
    case UPSTREAM_OK: return "ok";
    case UPSTREAM_CONNECT_FAILED: return "connect_failed";
    case UPSTREAM_TIMEOUT: return "timeout";
    case UPSTREAM_BAD_ANSWER: return "bad_answer";
    case UPSTREAM_NO_MEMORY: return "no_memory";
    }
    return "unknown";
}

/* Logs the failure with the instance's URL and counts it per service and
 * outcome (the registry returns the same counter for the same labels). */
static void log_failure(gateway_service service, const char *url, const upstream_request *rq, upstream_outcome o,
                        const char *detail)
{
    char labels[128];
    snprintf(labels, sizeof labels, "service=\"%s\",outcome=\"%s\"", gateway_service_name(service), outcome_name(o));
    oms_counter *failures = oms_metrics_counter("gateway_upstream_failures_total",
                                                "Failed exchanges with a service instance", labels);
    oms_counter_add(failures, 1);
    oms_log(OMS_LOG_WARN, "upstream_failure", "upstream_service", gateway_service_name(service), "upstream", url,
            "method", rq->method, "path", rq->path, "outcome", outcome_name(o), "detail", detail, NULL);
}

static proxy_outcome outcome_to_proxy(upstream_outcome o)
{
    switch (o) {
    case UPSTREAM_OK: return PROXY_OK;
    case UPSTREAM_CONNECT_FAILED: return PROXY_UNAVAILABLE;
    case UPSTREAM_TIMEOUT: return PROXY_TIMEOUT;
    case UPSTREAM_NO_MEMORY: return PROXY_NO_MEMORY;
    case UPSTREAM_BAD_ANSWER: break;
    }
    return PROXY_BAD_GATEWAY;
}

/* Whether a failure may be retried on another instance: a connect failure
 * always (nothing was sent), a timeout only for GET (reads are safe to repeat). */
static bool may_try_another(upstream_outcome o, const upstream_request *rq)
{
    if (o == UPSTREAM_CONNECT_FAILED)
        return true;
    return o == UPSTREAM_TIMEOUT && strcmp(rq->method, "GET") == 0;
}

proxy_outcome proxy_forward(proxy *p, gateway_service service, upstream_request *rq, oms_arena *arena,
                            upstream_response *out)
{
    proxy_service *svc = &p->services[service];
    upstream_tried tried = 0;
    upstream_outcome last = UPSTREAM_CONNECT_FAILED; /* no instance left at all: unavailable */
    char url[UPSTREAM_URL_MAX];
    char detail[DETAIL_MAX];
    rq->timeout_ms = p->timeout_ms + rq->wait_ms;
    for (;;) {
        int index = pick_instance(p, svc, tried, url);
        if (index < 0)
            break;
        tried |= (upstream_tried)1 << index;
        detail[0] = '\0';
        last = upstream_client_send(p->client, url, rq, arena, out, detail, sizeof detail);
        if (last == UPSTREAM_OK || last == UPSTREAM_NO_MEMORY)
            break;
        log_failure(service, url, rq, last, detail);
        if (last == UPSTREAM_CONNECT_FAILED)
            mark_down(p, svc, index);
        if (!may_try_another(last, rq))
            break;
    }
    if (tried == 0)
        oms_log(OMS_LOG_WARN, "upstream_failure", "upstream_service", gateway_service_name(service), "outcome",
                "all_instances_marked_down", NULL);
    return outcome_to_proxy(last);
}
