/* metrics.c -- a process-wide registry of counters, gauges and histograms,
 * rendered in the Prometheus text format. Registration takes a mutex; updates
 * are lock-free atomics. */
#include "metrics.h"

#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "util.h"

static const double histogram_bounds[] = {0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05,
                                          0.1,    0.25,  0.5,    1.0,   2.5,  5.0,   10.0};
#define BUCKETS (sizeof histogram_bounds / sizeof histogram_bounds[0])

typedef enum { KIND_COUNTER, KIND_GAUGE, KIND_HISTOGRAM } metric_kind;

typedef struct metric {
    metric_kind kind;
    char *name;
    char *help;
    char *labels;                /* "" when none */
    _Atomic uint64_t count;      /* counter value, histogram count */
    _Atomic uint64_t gauge_bits; /* gauge value as double bits */
    _Atomic uint64_t sum_micro;  /* histogram sum in microseconds */
    _Atomic uint64_t buckets[BUCKETS];
    const double *bounds; /* histograms: histogram_bounds or the caller's */
    size_t nbounds;
    struct metric *next;
} metric;

struct oms_counter {
    metric m;
};
struct oms_gauge {
    metric m;
};
struct oms_histogram {
    metric m;
};

static pthread_mutex_t registry_lock = PTHREAD_MUTEX_INITIALIZER;
static metric *registry_head;
static metric *registry_tail;
static int64_t process_start_ms;

static metric *find_metric(metric_kind kind, const char *name, const char *labels)
{
    for (metric *m = registry_head; m; m = m->next) {
        if (m->kind == kind && strcmp(m->name, name) == 0 && strcmp(m->labels, labels) == 0)
            return m;
    }
    return NULL;
}

/* All three public types start with a metric, so one allocation fits all. */
static metric *register_metric(metric_kind kind, const char *name, const char *help, const char *labels)
{
    if (!name)
        return NULL;
    if (!labels)
        labels = "";
    pthread_mutex_lock(&registry_lock);
    if (!process_start_ms)
        process_start_ms = oms_now_ms();
    metric *m = find_metric(kind, name, labels);
    if (!m) {
        m = calloc(1, sizeof *m);
        if (m) {
            m->kind = kind;
            m->name = strdup(name);
            m->help = strdup(help ? help : name);
            m->labels = strdup(labels);
            m->bounds = histogram_bounds;
            m->nbounds = BUCKETS;
            if (!m->name || !m->help || !m->labels) {
                free(m->name);
                free(m->help);
                free(m->labels);
                free(m);
                m = NULL;
            }
        }
        if (m) {
            if (registry_tail)
                registry_tail->next = m;
            else
                registry_head = m;
            registry_tail = m;
        }
    }
    pthread_mutex_unlock(&registry_lock);
    return m;
}

oms_counter *oms_metrics_counter(const char *name, const char *help, const char *labels)
{
    return (oms_counter *)register_metric(KIND_COUNTER, name, help, labels);
}

oms_gauge *oms_metrics_gauge(const char *name, const char *help, const char *labels)
{
    return (oms_gauge *)register_metric(KIND_GAUGE, name, help, labels);
}

oms_histogram *oms_metrics_histogram(const char *name, const char *help, const char *labels)
{
    return (oms_histogram *)register_metric(KIND_HISTOGRAM, name, help, labels);
}

oms_histogram *oms_metrics_histogram_bounds(const char *name, const char *help, const char *labels,
                                            const double *bounds, size_t n)
{
    if (!bounds || n == 0 || n > BUCKETS)
        return NULL;
    metric *m = register_metric(KIND_HISTOGRAM, name, help, labels);
    if (!m)
        return NULL;
    pthread_mutex_lock(&registry_lock);
    if (m->bounds == histogram_bounds && atomic_load(&m->count) == 0) {
        m->bounds = bounds;
        m->nbounds = n;
    }
    pthread_mutex_unlock(&registry_lock);
    return (oms_histogram *)m;
}

void oms_counter_add(oms_counter *c, uint64_t n)
{
    if (c)
        atomic_fetch_add_explicit(&c->m.count, n, memory_order_relaxed);
}

void oms_gauge_set(oms_gauge *g, double v)
{
    if (!g)
        return;
    uint64_t bits;
    memcpy(&bits, &v, sizeof bits);
    atomic_store_explicit(&g->m.gauge_bits, bits, memory_order_relaxed);
}

void oms_histogram_observe(oms_histogram *h, double seconds)
{
    if (!h)
        return;
    if (!(seconds >= 0))
        seconds = 0;
    for (size_t i = 0; i < h->m.nbounds; i++) {
        if (seconds <= h->m.bounds[i])
            atomic_fetch_add_explicit(&h->m.buckets[i], 1, memory_order_relaxed);
    }
    atomic_fetch_add_explicit(&h->m.count, 1, memory_order_relaxed);
    double micro = seconds * 1e6;
    if (micro > 1e15)
        micro = 1e15;
    atomic_fetch_add_explicit(&h->m.sum_micro, (uint64_t)micro, memory_order_relaxed);
}

void oms_histogram_set(oms_histogram *h, const uint64_t *per_bucket, double sum)
{
    if (!h || !per_bucket)
        return;
    uint64_t below = 0;
    for (size_t i = 0; i < h->m.nbounds; i++) {
        below += per_bucket[i];
        atomic_store_explicit(&h->m.buckets[i], below, memory_order_relaxed);
    }
    atomic_store_explicit(&h->m.count, below + per_bucket[h->m.nbounds], memory_order_relaxed);
    double micro = sum > 0 ? sum * 1e6 : 0;
    atomic_store_explicit(&h->m.sum_micro, micro > 1e18 ? (uint64_t)1e18 : (uint64_t)micro, memory_order_relaxed);
}

/* ---- rendering ---- */

typedef struct text_buf {
    char *data;
    size_t len, cap;
    bool failed;
} text_buf;

static void appendf(text_buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void appendf(text_buf *b, const char *fmt, ...)
{
    if (b->failed)
        return;
    for (;;) {
        va_list ap;
        va_start(ap, fmt);
        int n = vsnprintf(b->data + b->len, b->cap - b->len, fmt, ap);
        va_end(ap);
        if (n < 0) {
            b->failed = true;
            return;
        }
        if ((size_t)n < b->cap - b->len) {
            b->len += (size_t)n;
            return;
        }
        size_t cap = b->cap * 2 + (size_t)n;
        char *d = realloc(b->data, cap);
        if (!d) {
            b->failed = true;
            return;
        }
        b->data = d;
        b->cap = cap;
    }
}

static const char *type_name(metric_kind k)
{
    return k == KIND_COUNTER ? "counter" : k == KIND_GAUGE ? "gauge" : "histogram";
}

/* "{labels}" or "" into out. */
static void braces(const char *labels, const char *extra, char *out, size_t len)
{
    if (labels[0] && extra)
        snprintf(out, len, "{%s,%s}", labels, extra);
    else if (labels[0])
        snprintf(out, len, "{%s}", labels);
    else if (extra)
        snprintf(out, len, "{%s}", extra);
    else
        out[0] = '\0';
}

static void render_histogram(text_buf *b, const metric *m)
{
    char lab[512];
    for (size_t i = 0; i < m->nbounds; i++) {
        char le[32];
        snprintf(le, sizeof le, "le=\"%g\"", m->bounds[i]);
        braces(m->labels, le, lab, sizeof lab);
        appendf(b, "%s_bucket%s %llu\n", m->name, lab, (unsigned long long)atomic_load(&m->buckets[i]));
    }
    unsigned long long count = atomic_load(&m->count);
    braces(m->labels, "le=\"+Inf\"", lab, sizeof lab);
    appendf(b, "%s_bucket%s %llu\n", m->name, lab, count);
    braces(m->labels, NULL, lab, sizeof lab);
    appendf(b, "%s_sum%s %.6f\n", m->name, lab, (double)atomic_load(&m->sum_micro) / 1e6);
    appendf(b, "%s_count%s %llu\n", m->name, lab, count);
}

static void render_metric(text_buf *b, const metric *m)
{
    char lab[512];
    braces(m->labels, NULL, lab, sizeof lab);
    if (m->kind == KIND_COUNTER) {
        appendf(b, "%s%s %llu\n", m->name, lab, (unsigned long long)atomic_load(&m->count));
    } else if (m->kind == KIND_GAUGE) {
        uint64_t bits = atomic_load(&m->gauge_bits);
        double v;
        memcpy(&v, &bits, sizeof v);
        appendf(b, "%s%s %.17g\n", m->name, lab, v);
    } else {
        render_histogram(b, m);
    }
}

/* Whether an earlier metric has the same name (HELP/TYPE are written once per name). */
static bool name_seen_before(const metric *m)
{
    for (const metric *o = registry_head; o != m; o = o->next) {
        if (strcmp(o->name, m->name) == 0)
            return true;
    }
    return false;
}

static long resident_bytes(void)
{
    FILE *f = fopen("/proc/self/statm", "r");
    if (!f)
        return 0;
    long size = 0, resident = 0;
    int n = fscanf(f, "%ld %ld", &size, &resident);
    fclose(f);
    if (n != 2)
        return 0;
    return resident * sysconf(_SC_PAGESIZE);
}

char *oms_metrics_render(oms_arena *a, size_t *len_out)
{
    text_buf b = {.data = malloc(4096), .len = 0, .cap = 4096, .failed = false};
    if (!b.data)
        return NULL;
    b.data[0] = '\0';
    pthread_mutex_lock(&registry_lock);
    if (!process_start_ms)
        process_start_ms = oms_now_ms();
    /* Grouped by name: each distinct name is written with all its label sets. */
    for (const metric *m = registry_head; m; m = m->next) {
        if (name_seen_before(m))
            continue;
        appendf(&b, "# HELP %s %s\n# TYPE %s %s\n", m->name, m->help, m->name, type_name(m->kind));
        for (const metric *o = m; o; o = o->next) {
            if (strcmp(o->name, m->name) == 0)
                render_metric(&b, o);
        }
    }
    double start_s = (double)process_start_ms / 1000.0;
    pthread_mutex_unlock(&registry_lock);
    appendf(&b,
            "# HELP process_resident_memory_bytes Resident memory size in bytes.\n"
            "# TYPE process_resident_memory_bytes gauge\nprocess_resident_memory_bytes %ld\n",
            resident_bytes());
    appendf(&b,
            "# HELP process_start_time_seconds Start time of the process since unix epoch in seconds.\n"
            "# TYPE process_start_time_seconds gauge\nprocess_start_time_seconds %.3f\n",
            start_s);
    char *out = NULL;
    if (!b.failed) {
        out = oms_arena_strndup(a, b.data, b.len);
        if (out && len_out)
            *len_out = b.len;
    }
    free(b.data);
    return out;
}
