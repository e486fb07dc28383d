/* curl_upstream.c -- see curl_upstream.h. libcurl builds the URL (CURLU,
 * which encodes the path and the query), speaks HTTP and parses the answer;
 * this file only chooses options and classifies failures. */
#include "curl_upstream.h"

#include <curl/curl.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "oms/metrics.h"

#define MAX_RESPONSE_BYTES (16 * 1024 * 1024)
#define CONNECT_TIMEOUT_MAX_MS 1000

typedef struct curl_upstream {
    upstream_client port;
    pthread_mutex_t lock; /* guards idle */
    CURL **idle;
    int idle_count;
    int idle_max;
    atomic_uint_fast64_t connections_opened;
    oms_counter *connections_metric;
    char *ca_file; /* NULL: the system's CA certificates */
} curl_upstream;

/* A growing response body; freed by the caller after copying to the arena. */
typedef struct body_buffer {
    char *data;
    size_t len;
    size_t cap;
    bool too_large;
} body_buffer;

static size_t on_body(char *chunk, size_t size, size_t count, void *userdata)
{
    body_buffer *b = userdata;
    size_t n = size * count;
    if (n > MAX_RESPONSE_BYTES - b->len) {
        b->too_large = true;
        return 0; /* libcurl aborts with CURLE_WRITE_ERROR */
    }
    if (b->len + n + 1 > b->cap) {
        size_t cap = b->cap ? b->cap : 4096;
        while (cap < b->len + n + 1)
            cap *= 2;
        char *grown = realloc(b->data, cap);
        if (!grown)
            return 0;
        b->data = grown;
        b->cap = cap;
    }
    memcpy(b->data + b->len, chunk, n);
    b->len += n;
    return n;
}

static CURL *acquire_handle(curl_upstream *u)
{
    CURL *h = NULL;
    pthread_mutex_lock(&u->lock);
    if (u->idle_count > 0)
        h = u->idle[--u->idle_count];
    pthread_mutex_unlock(&u->lock);
    return h ? h : curl_easy_init();
}

/* Returns the handle (and its open connections) to the pool; the most
 * recently used handle is handed out first, so its connection is warm. */
static void release_handle(curl_upstream *u, CURL *h)
{
    curl_easy_reset(h);
    pthread_mutex_lock(&u->lock);
    bool kept = u->idle_count < u->idle_max;
    if (kept)
        u->idle[u->idle_count++] = h;
    pthread_mutex_unlock(&u->lock);
    if (!kept)
        curl_easy_cleanup(h);
}

/* Appends name=value; libcurl encodes the value (the names are ours). */
static bool append_query(CURLU *u, const upstream_query_param *param)
{
    char *pair = NULL;
    if (asprintf(&pair, "%s=%s", param->name, param->value) < 0)
        return false;
    bool ok = curl_url_set(u, CURLUPART_QUERY, pair, CURLU_APPENDQUERY | CURLU_URLENCODE) == CURLUE_OK;
    free(pair);
    return ok;
}

/* base_url + encoded path + encoded query, malloc'd by libcurl. */
static char *build_url(const char *base_url, const upstream_request *rq)
{
    CURLU *u = curl_url();
    char *url = NULL;
    char *base_path = NULL;
    if (!u || curl_url_set(u, CURLUPART_URL, base_url, 0) != CURLUE_OK)
        goto done;
    if (curl_url_get(u, CURLUPART_PATH, &base_path, 0) != CURLUE_OK)
        goto done;
    size_t base_len = strlen(base_path);
    if (base_len > 0 && base_path[base_len - 1] == '/')
        base_len--;
    size_t path_len = base_len + strlen(rq->path) + 1;
    char *path = malloc(path_len);
    if (!path)
        goto done;
    snprintf(path, path_len, "%.*s%s", (int)base_len, base_path, rq->path);
    CURLUcode rc = curl_url_set(u, CURLUPART_PATH, path, CURLU_URLENCODE);
    free(path);
    if (rc != CURLUE_OK)
        goto done;
    for (int i = 0; i < rq->query_count; i++) {
        if (!append_query(u, &rq->query[i]))
            goto done;
    }
    if (curl_url_get(u, CURLUPART_URL, &url, 0) != CURLUE_OK)
        url = NULL;
done:
    curl_free(base_path);
    curl_url_cleanup(u);
    return url;
}

static bool append_header(struct curl_slist **list, const char *name, const char *value)
{
    char *line = NULL;
    int n = value ? asprintf(&line, "%s: %s", name, value) : asprintf(&line, "%s:", name);
    if (n < 0)
        return false;
    struct curl_slist *grown = curl_slist_append(*list, line);
    free(line);
    if (!grown)
        return false;
    *list = grown;
    return true;
}

/* The headers passed on; "Expect:" and "Content-Type:" with no value stop
 * libcurl from adding its own. */
/* A header with an empty value is left out (libcurl would send none). */
static bool append_optional(struct curl_slist **list, const char *name, const char *value)
{
    return !value || !*value || append_header(list, name, value);
}

/* A header the client sent goes on even when empty ("Name;" is libcurl's
 * form for that): an empty Idempotency-Key is the service's to refuse (400),
 * not the gateway's to drop. */
static bool append_present(struct curl_slist **list, const char *name, const char *value)
{
    if (!value)
        return true;
    if (*value)
        return append_header(list, name, value);
    char line[64];
    snprintf(line, sizeof line, "%s;", name);
    struct curl_slist *grown = curl_slist_append(*list, line);
    if (!grown)
        return false;
    *list = grown;
    return true;
}

static bool append_identity(struct curl_slist **list, const upstream_request *rq)
{
    return append_optional(list, "X-OMS-Internal-Key", rq->internal_key) &&
           append_optional(list, "X-OMS-Role", rq->role) && append_optional(list, "X-OMS-Subject", rq->subject) &&
           append_optional(list, "X-OMS-Principal", rq->principal_id);
}

static struct curl_slist *request_headers(const upstream_request *rq, bool *ok)
{
    struct curl_slist *list = NULL;
    *ok = append_header(&list, "Expect", NULL) && append_header(&list, "Content-Type", rq->content_type) &&
          append_present(&list, "Idempotency-Key", rq->idempotency_key) &&
          append_optional(&list, "If-Match", rq->if_match) && append_optional(&list, "Accept", rq->accept) &&
          append_optional(&list, "Last-Event-ID", rq->last_event_id) &&
          append_optional(&list, "X-Request-Id", rq->request_id) &&
          append_optional(&list, "X-Forwarded-For", rq->forwarded_for) && append_identity(&list, rq);
    return list;
}

static void set_method_and_body(CURL *h, const upstream_request *rq)
{
    if (strcmp(rq->method, "GET") == 0) {
        curl_easy_setopt(h, CURLOPT_HTTPGET, 1L);
        return;
    }
    if (strcmp(rq->method, "POST") != 0)
        curl_easy_setopt(h, CURLOPT_CUSTOMREQUEST, rq->method);
    curl_easy_setopt(h, CURLOPT_POST, 1L);
    curl_easy_setopt(h, CURLOPT_POSTFIELDS, rq->body ? rq->body : "");
    curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)rq->body_len);
}

/* The path is sent as the gateway matched it (PATH_AS_IS: libcurl would
 * otherwise remove dot-segments; the gateway refuses them anyway). An https
 * instance must present a certificate valid for its host name, signed by a
 * CA of `ca_file` (libcurl's defaults verify both). */
static void set_options(curl_upstream *u, CURL *h, const char *url, const upstream_request *rq,
                        struct curl_slist *headers, body_buffer *body)
{
    long timeout = rq->timeout_ms > 0 ? rq->timeout_ms : 5000;
    curl_easy_setopt(h, CURLOPT_URL, url);
    curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(h, CURLOPT_PATH_AS_IS, 1L);
    if (u->ca_file)
        curl_easy_setopt(h, CURLOPT_CAINFO, u->ca_file);
    curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, timeout);
    curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT_MS, timeout < CONNECT_TIMEOUT_MAX_MS ? timeout : CONNECT_TIMEOUT_MAX_MS);
    curl_easy_setopt(h, CURLOPT_TCP_KEEPALIVE, 1L);
    curl_easy_setopt(h, CURLOPT_HTTP_VERSION, (long)CURL_HTTP_VERSION_1_1);
    curl_easy_setopt(h, CURLOPT_HTTPHEADER, headers);
    curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(h, CURLOPT_WRITEDATA, body);
    set_method_and_body(h, rq);
}

/* A timeout before anything was sent (connect phase), or a TLS handshake
 * that failed (the instance's certificate is not trusted), is as safe to
 * retry elsewhere as a refused connection. */
static upstream_outcome classify_failure(CURL *h, CURLcode rc, const body_buffer *body)
{
    curl_off_t sent = 0;
    curl_easy_getinfo(h, CURLINFO_REQUEST_SIZE, &sent);
    switch (rc) {
    case CURLE_COULDNT_CONNECT:
    case CURLE_COULDNT_RESOLVE_HOST:
    case CURLE_SSL_CONNECT_ERROR:
    case CURLE_PEER_FAILED_VERIFICATION:
    case CURLE_SSL_CACERT_BADFILE: return UPSTREAM_CONNECT_FAILED;
    case CURLE_OPERATION_TIMEDOUT: return sent == 0 ? UPSTREAM_CONNECT_FAILED : UPSTREAM_TIMEOUT;
    case CURLE_OUT_OF_MEMORY: return UPSTREAM_NO_MEMORY;
    case CURLE_WRITE_ERROR: return body->too_large ? UPSTREAM_BAD_ANSWER : UPSTREAM_NO_MEMORY;
    default: return UPSTREAM_BAD_ANSWER;
    }
}

static const char *header_value(CURL *h, const char *name, oms_arena *arena)
{
    struct curl_header *hdr = NULL;
    if (curl_easy_header(h, name, 0, CURLH_HEADER, -1, &hdr) != CURLHE_OK || !hdr)
        return NULL;
    return oms_arena_strdup(arena, hdr->value);
}

static upstream_outcome read_answer(CURL *h, const body_buffer *body, oms_arena *arena, upstream_response *out,
                                    char *detail, size_t detail_len)
{
    long status = 0;
    char *content_type = NULL;
    curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &status);
    curl_easy_getinfo(h, CURLINFO_CONTENT_TYPE, &content_type);
    if (status < 100 || status > 599) {
        snprintf(detail, detail_len, "invalid status %ld", status);
        return UPSTREAM_BAD_ANSWER;
    }
    char *copy = oms_arena_alloc(arena, body->len + 1);
    if (!copy)
        return UPSTREAM_NO_MEMORY;
    if (body->len)
        memcpy(copy, body->data, body->len);
    copy[body->len] = '\0';
    out->status = (int)status;
    out->body = copy;
    out->body_len = body->len;
    out->content_type = content_type ? oms_arena_strdup(arena, content_type) : NULL;
    out->location = header_value(h, "Location", arena);
    out->retry_after = header_value(h, "Retry-After", arena);
    out->etag = header_value(h, "ETag", arena);
    return UPSTREAM_OK;
}

static void count_connections(curl_upstream *u, CURL *h)
{
    long opened = 0;
    curl_easy_getinfo(h, CURLINFO_NUM_CONNECTS, &opened);
    if (opened > 0) {
        atomic_fetch_add(&u->connections_opened, (uint_fast64_t)opened);
        oms_counter_add(u->connections_metric, (uint64_t)opened);
    }
}

static upstream_outcome exchange(curl_upstream *u, CURL *h, const char *url, const upstream_request *rq,
                                 oms_arena *arena, upstream_response *out, char *detail, size_t detail_len)
{
    bool headers_ok = false;
    struct curl_slist *headers = request_headers(rq, &headers_ok);
    if (!headers_ok) {
        curl_slist_free_all(headers);
        return UPSTREAM_NO_MEMORY;
    }
    body_buffer body = {0};
    set_options(u, h, url, rq, headers, &body);
    CURLcode rc = curl_easy_perform(h);
    count_connections(u, h);
    upstream_outcome result;
    if (rc == CURLE_OK) {
        result = read_answer(h, &body, arena, out, detail, detail_len);
    } else {
        result = classify_failure(h, rc, &body);
        snprintf(detail, detail_len, "%s", body.too_large ? "response too large" : curl_easy_strerror(rc));
    }
    free(body.data);
    curl_slist_free_all(headers);
    return result;
}

static upstream_outcome curl_send(upstream_client *c, const char *base_url, const upstream_request *rq,
                                  oms_arena *arena, upstream_response *out, char *detail, size_t detail_len)
{
    curl_upstream *u = c->self;
    char *url = build_url(base_url, rq);
    if (!url) {
        snprintf(detail, detail_len, "cannot build the URL");
        return UPSTREAM_BAD_ANSWER;
    }
    CURL *h = acquire_handle(u);
    if (!h) {
        curl_free(url);
        return UPSTREAM_NO_MEMORY;
    }
    upstream_outcome result = exchange(u, h, url, rq, arena, out, detail, detail_len);
    release_handle(u, h);
    curl_free(url);
    return result;
}

static const upstream_client_ops curl_upstream_ops = {.send = curl_send};

upstream_client *curl_upstream_create(int max_idle_handles, const char *ca_file, oms_error *err)
{
    if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) {
        oms_error_set(err, OMS_EINTERNAL, NULL, "libcurl failed to initialise");
        return NULL;
    }
    curl_upstream *u = calloc(1, sizeof *u);
    CURL **idle = calloc((size_t)(max_idle_handles > 0 ? max_idle_handles : 1), sizeof *idle);
    char *ca_copy = ca_file ? strdup(ca_file) : NULL;
    if (!u || !idle || (ca_file && !ca_copy)) {
        free(u);
        free(idle);
        free(ca_copy);
        curl_global_cleanup();
        oms_error_set(err, OMS_ENOMEM, NULL, "out of memory for the upstream client");
        return NULL;
    }
    pthread_mutex_init(&u->lock, NULL);
    u->idle = idle;
    u->idle_max = max_idle_handles > 0 ? max_idle_handles : 1;
    u->ca_file = ca_copy;
    atomic_init(&u->connections_opened, 0);
    u->connections_metric = oms_metrics_counter("gateway_upstream_connections_opened_total",
                                                "TCP connections opened to the services", NULL);
    u->port.ops = &curl_upstream_ops;
    u->port.self = u;
    return &u->port;
}

void curl_upstream_destroy(upstream_client *c)
{
    if (!c)
        return;
    curl_upstream *u = c->self;
    for (int i = 0; i < u->idle_count; i++)
        curl_easy_cleanup(u->idle[i]);
    free(u->idle);
    free(u->ca_file);
    pthread_mutex_destroy(&u->lock);
    free(u);
    curl_global_cleanup();
}

uint64_t curl_upstream_connections_opened(upstream_client *c)
{
    curl_upstream *u = c->self;
    return (uint64_t)atomic_load(&u->connections_opened);
}
