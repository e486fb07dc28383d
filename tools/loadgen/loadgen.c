/* loadgen -- the load generator of `make bench` and `make chaos`.
 *
 * Sends POST /orders through the gateway with libcurl's multi interface, in
 * one of two shapes:
 *   closed loop (--clients C): C requests always in flight, each answered
 *     request immediately replaced by a new one, for --duration seconds;
 *   open loop (--rate R): a new request every 1/R s whatever the answers,
 *     with at most --max-inflight outstanding.
 * A 503 is counted apart (refused_503, refused_per_s: order-service's admission
 * control) and its client waits the answer's Retry-After before its next
 * request, as a well-behaved client does; the POST latency percentiles are
 * those of accepted orders only.
 * It prints one JSON line with the counts and POST latency percentiles, and
 * writes the ids of accepted orders (one per line) to --ids-file so that the
 * caller can measure create-to-final latency from the stored timestamps.
 * In an open loop the latency of a request counts from when it was due, so
 * that a server which falls behind shows in the percentiles.
 * Requests, bytes and time are all bounded by the arguments. */
#include <curl/curl.h>
#include <getopt.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define RESPONSE_MAX 16384

typedef struct options {
    const char *url;
    int clients;
    double rate;
    int max_inflight;
    double duration_s;
    long max_requests;
    int customers;
    const char *customer_prefix;
    const char *products;
    const char *ids_file;
    const char *api_key;
} options;

typedef struct request {
    CURL *easy;
    struct curl_slist *headers;
    char body[512];
    char response[RESPONSE_MAX];
    size_t response_len;
    double started_s;
    double not_before_s; /* after a 503: now + its Retry-After */
    bool busy;
} request;

typedef struct stats {
    long sent, accepted, refused_503, rejected_4xx, failed_5xx, transport_errors;
    double *latencies_ms;
    long latency_count, latency_cap;
} stats;

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static size_t collect_body(char *data, size_t size, size_t count, void *userdata)
{
    request *r = userdata;
    size_t n = size * count;
    size_t room = RESPONSE_MAX - 1 - r->response_len;
    size_t take = n < room ? n : room;
    memcpy(r->response + r->response_len, data, take);
    r->response_len += take;
    r->response[r->response_len] = '\0';
    return n;
}

static void usage(void)
{
    fprintf(stderr, "usage: loadgen --url URL (--clients N | --rate R) [--duration S] [--max-requests N]\n"
                    "               [--max-inflight N] [--customers N] [--customer-prefix P]\n"
                    "               [--products p1,p2] [--ids-file PATH] [--api-key KEY]\n");
    exit(2);
}

static bool parse_options(int argc, char **argv, options *o)
{
    static const struct option longs[] = {
        {"url", required_argument, 0, 'u'},       {"clients", required_argument, 0, 'c'},
        {"rate", required_argument, 0, 'r'},      {"max-inflight", required_argument, 0, 'i'},
        {"duration", required_argument, 0, 'd'},  {"max-requests", required_argument, 0, 'n'},
        {"customers", required_argument, 0, 'k'}, {"customer-prefix", required_argument, 0, 'p'},
        {"products", required_argument, 0, 'P'},  {"ids-file", required_argument, 0, 'f'},
        {"api-key", required_argument, 0, 'a'},   {0, 0, 0, 0}};
    *o = (options){.duration_s = 10,
                   .max_requests = 10000000,
                   .customers = 1000,
                   .customer_prefix = "bench",
                   .products = "product-1,product-2",
                   .max_inflight = 512};
    int ch;
    while ((ch = getopt_long(argc, argv, "", longs, NULL)) != -1) {
        switch (ch) {
        case 'u': o->url = optarg; break;
        case 'c': o->clients = atoi(optarg); break;
        case 'r': o->rate = atof(optarg); break;
        case 'i': o->max_inflight = atoi(optarg); break;
        case 'd': o->duration_s = atof(optarg); break;
        case 'n': o->max_requests = atol(optarg); break;
        case 'k': o->customers = atoi(optarg); break;
        case 'p': o->customer_prefix = optarg; break;
        case 'P': o->products = optarg; break;
        case 'f': o->ids_file = optarg; break;
        case 'a': o->api_key = optarg; break;
        default: return false;
        }
    }
    if (!o->url || (o->clients <= 0) == (o->rate <= 0) || o->duration_s <= 0 || o->duration_s > 3600 ||
        o->customers <= 0 || o->max_inflight <= 0 || o->max_inflight > 4096 || o->clients > 4096)
        return false;
    return true;
}

/* Splits "p1,p2" into at most 16 product ids. */
static int split_products(const char *list, char products[16][65])
{
    int n = 0;
    const char *p = list;
    while (*p && n < 16) {
        size_t len = strcspn(p, ",");
        if (len == 0 || len > 64)
            break;
        memcpy(products[n], p, len);
        products[n][len] = '\0';
        n++;
        p += len;
        if (*p == ',')
            p++;
    }
    return n;
}

static void record_latency(stats *s, double ms)
{
    if (s->latency_count == s->latency_cap) {
        long cap = s->latency_cap ? s->latency_cap * 2 : 65536;
        double *grown = realloc(s->latencies_ms, (size_t)cap * sizeof *grown);
        if (!grown)
            return; /* keep counting, lose this sample */
        s->latencies_ms = grown;
        s->latency_cap = cap;
    }
    s->latencies_ms[s->latency_count++] = ms;
}

static int compare_doubles(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static double percentile(const stats *s, double p)
{
    if (s->latency_count == 0)
        return 0;
    long idx = (long)(p * (double)(s->latency_count - 1) + 0.5);
    return s->latencies_ms[idx];
}

/* The order id of a 201/200 answer: the value of the first "id" member. */
static bool extract_id(const char *json, char out[64])
{
    const char *p = strstr(json, "\"id\":\"");
    if (!p)
        return false;
    p += 6;
    size_t len = strcspn(p, "\"");
    if (len == 0 || len >= 64)
        return false;
    memcpy(out, p, len);
    out[len] = '\0';
    return true;
}

/* `started_s` is when the request was due: now in a closed loop, its slot in
 * the schedule in an open loop, so that a request that had to wait for a free
 * slot counts its wait (no coordinated omission). */
static void start_request(CURLM *multi, request *r, const options *o, char products[16][65], int product_count,
                          long seq, double started_s)
{
    const char *product = products[seq % product_count];
    snprintf(r->body, sizeof r->body,
             "{\"customer_id\":\"%s-%ld\",\"items\":[{\"product_id\":\"%s\",\"quantity\":1,\"unit_price\":1.00}]}",
             o->customer_prefix, seq % o->customers, product);
    curl_easy_setopt(r->easy, CURLOPT_POSTFIELDS, r->body);
    r->response_len = 0;
    r->response[0] = '\0';
    r->started_s = started_s;
    r->busy = true;
    curl_multi_add_handle(multi, r->easy);
}

static request *make_requests(int count, const options *o, char *url)
{
    request *reqs = calloc((size_t)count, sizeof *reqs);
    if (!reqs)
        return NULL;
    for (int i = 0; i < count; i++) {
        request *r = &reqs[i];
        r->easy = curl_easy_init();
        if (!r->easy)
            return NULL;
        r->headers = curl_slist_append(NULL, "Content-Type: application/json");
        if (o->api_key) {
            char h[300];
            snprintf(h, sizeof h, "X-API-Key: %s", o->api_key);
            r->headers = curl_slist_append(r->headers, h);
        }
        curl_easy_setopt(r->easy, CURLOPT_URL, url);
        curl_easy_setopt(r->easy, CURLOPT_HTTPHEADER, r->headers);
        curl_easy_setopt(r->easy, CURLOPT_WRITEFUNCTION, collect_body);
        curl_easy_setopt(r->easy, CURLOPT_WRITEDATA, r);
        curl_easy_setopt(r->easy, CURLOPT_PRIVATE, r);
        curl_easy_setopt(r->easy, CURLOPT_TIMEOUT_MS, 30000L);
        curl_easy_setopt(r->easy, CURLOPT_NOSIGNAL, 1L);
    }
    return reqs;
}

/* The Retry-After of a 503 in whole seconds (1 when absent or not a
 * number, at most 60). */
static double retry_after_s(CURL *easy)
{
    struct curl_header *h = NULL;
    if (curl_easy_header(easy, "Retry-After", 0, CURLH_HEADER, -1, &h) != CURLHE_OK || !h)
        return 1.0;
    long seconds = strtol(h->value, NULL, 10);
    return seconds < 1 ? 1.0 : seconds > 60 ? 60.0 : (double)seconds;
}

static void finish_request(CURLMsg *msg, CURLM *multi, stats *s, FILE *ids)
{
    request *r = NULL;
    curl_easy_getinfo(msg->easy_handle, CURLINFO_PRIVATE, (char **)&r);
    curl_multi_remove_handle(multi, msg->easy_handle);
    r->busy = false;
    if (msg->data.result != CURLE_OK) {
        s->transport_errors++;
        return;
    }
    long status = 0;
    curl_easy_getinfo(msg->easy_handle, CURLINFO_RESPONSE_CODE, &status);
    if (status == 201 || status == 200) {
        record_latency(s, (now_s() - r->started_s) * 1000.0);
        s->accepted++;
        char id[64];
        if (ids && extract_id(r->response, id))
            fprintf(ids, "%s\n", id);
    } else if (status == 503) {
        s->refused_503++;
        r->not_before_s = now_s() + retry_after_s(msg->easy_handle);
    } else if (status >= 500) {
        s->failed_5xx++;
    } else {
        s->rejected_4xx++;
    }
}

int main(int argc, char **argv)
{
    options o;
    if (!parse_options(argc, argv, &o))
        usage();
    char products[16][65];
    int product_count = split_products(o.products, products);
    if (product_count == 0)
        usage();
    char url[1024];
    snprintf(url, sizeof url, "%s/orders", o.url);
    FILE *ids = NULL;
    if (o.ids_file) {
        ids = fopen(o.ids_file, "w");
        if (!ids) {
            perror(o.ids_file);
            return 1;
        }
    }
    curl_global_init(CURL_GLOBAL_DEFAULT);
    int slots = o.clients > 0 ? o.clients : o.max_inflight;
    request *reqs = make_requests(slots, &o, url);
    CURLM *multi = curl_multi_init();
    if (!reqs || !multi) {
        fprintf(stderr, "loadgen: out of memory\n");
        return 1;
    }
    curl_multi_setopt(multi, CURLMOPT_MAX_HOST_CONNECTIONS, (long)slots);
    stats s = {0};
    double start = now_s(), end = start + o.duration_s, next_open = start;
    int running = 0;
    for (;;) {
        double t = now_s();
        bool sending = t < end && s.sent < o.max_requests;
        for (int i = 0; sending && i < slots; i++) {
            if (reqs[i].busy || t < reqs[i].not_before_s)
                continue;
            if (o.rate > 0 && t < next_open)
                break;
            start_request(multi, &reqs[i], &o, products, product_count, s.sent++, o.rate > 0 ? next_open : t);
            if (o.rate > 0)
                next_open += 1.0 / o.rate;
            if (s.sent >= o.max_requests)
                break;
        }
        curl_multi_perform(multi, &running);
        CURLMsg *msg;
        int left;
        while ((msg = curl_multi_info_read(multi, &left)) != NULL)
            if (msg->msg == CURLMSG_DONE)
                finish_request(msg, multi, &s, ids);
        if (!sending && running == 0)
            break;
        curl_multi_poll(multi, NULL, 0, o.rate > 0 ? 1 : 10, NULL);
    }
    double elapsed = now_s() - start;
    if (ids)
        fclose(ids);
    qsort(s.latencies_ms, (size_t)s.latency_count, sizeof(double), compare_doubles);
    printf("{\"mode\":\"%s\",\"clients\":%d,\"rate\":%.1f,\"seconds\":%.3f,\"sent\":%ld,\"accepted\":%ld,"
           "\"refused_503\":%ld,\"rejected_4xx\":%ld,\"failed_5xx\":%ld,\"transport_errors\":%ld,"
           "\"accepted_per_s\":%.1f,\"refused_per_s\":%.1f,"
           "\"post_p50_ms\":%.2f,\"post_p99_ms\":%.2f,\"post_max_ms\":%.2f}\n",
           o.rate > 0 ? "open" : "closed", o.clients, o.rate, elapsed, s.sent, s.accepted, s.refused_503,
           s.rejected_4xx, s.failed_5xx, s.transport_errors, (double)s.accepted / elapsed,
           (double)s.refused_503 / elapsed, percentile(&s, 0.50), percentile(&s, 0.99), percentile(&s, 1.0));
    for (int i = 0; i < slots; i++) {
        curl_slist_free_all(reqs[i].headers);
        curl_easy_cleanup(reqs[i].easy);
    }
    free(reqs);
    free(s.latencies_ms);
    curl_multi_cleanup(multi);
    curl_global_cleanup();
    return 0;
}
