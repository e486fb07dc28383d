/* broker_util.c -- see broker_util.h. */
#include "broker_util.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>

#include "oms/util.h"
#include "pulsar/pulsar.h"

void test_broker_address(char *host, size_t host_len, int *port)
{
    const char *h = getenv("PULSAR_HOST");
    const char *p = getenv("PULSAR_PORT");
    if (!h || !*h) {
        fprintf(stderr, "PULSAR_HOST is not set: these tests need a running broker"
                        " (infrastructure/pulsar/pulsar.sh start), FAILING\n");
        exit(1);
    }
    snprintf(host, host_len, "%s", h);
    *port = p && *p ? atoi(p) : 6650;
    oms_error err;
    pulsar_client_options o = test_client_options();
    o.connect_timeout_ms = 5000;
    pulsar_client *c = pulsar_client_create(host, *port, &o, &err);
    if (!c) {
        fprintf(stderr, "cannot make a client for %s:%d: %s, FAILING\n", host, *port, err.message);
        exit(1);
    }
    int64_t deadline = test_now_ms() + 15000;
    while (c && !pulsar_client_connected(c) && test_now_ms() < deadline) {
        struct timespec ts = {0, 100000000};
        nanosleep(&ts, NULL);
    }
    bool up = c && pulsar_client_connected(c);
    pulsar_client_destroy(c);
    if (!up) {
        fprintf(stderr, "no Pulsar broker answers at %s:%d, FAILING\n", host, *port);
        exit(1);
    }
}

const char *test_admin_token_file(void)
{
    const char *f = getenv("PULSAR_ADMIN_TOKEN_FILE");
    return f && *f ? f : NULL;
}

pulsar_client_options test_client_options(void)
{
    return (pulsar_client_options){.auth_token_file = test_admin_token_file()};
}

oms_bus_pulsar_settings test_bus_settings(const char *host, int port, char *url_buf, size_t url_len)
{
    snprintf(url_buf, url_len, "pulsar://%s:%d", host, port);
    return (oms_bus_pulsar_settings){.url = url_buf, .auth_token_file = test_admin_token_file()};
}

int test_admin_request(const char *method, const char *path, char *out, size_t out_len)
{
    const char *admin = getenv("PULSAR_ADMIN_PORT") ? getenv("PULSAR_ADMIN_PORT") : "8081";
    const char *token = test_admin_token_file();
    char header[600] = "";
    if (token)
        snprintf(header, sizeof header, "-H \"Authorization: Bearer $(cat '%s')\"", token);
    char cmd[2048];
    snprintf(cmd, sizeof cmd, "curl -sf --max-time 30 %s -X %s 'http://127.0.0.1:%.16s/admin/v2/%s'", header, method,
             admin, path);
    FILE *p = popen(cmd, "r");
    if (!p)
        return -1;
    size_t n = 0;
    char sink[4096];
    for (size_t got = 1; got > 0;) {
        char *dst = out && n + 1 < out_len ? out + n : sink;
        size_t room = out && n + 1 < out_len ? out_len - n - 1 : sizeof sink;
        got = fread(dst, 1, room, p);
        if (dst != sink)
            n += got;
    }
    if (out && out_len)
        out[n] = '\0';
    int status = pclose(p);
    return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

void test_unique_topic(const char *prefix, char *out, size_t out_len)
{
    char uuid[OMS_UUID_LEN + 1];
    oms_uuid_new(uuid);
    snprintf(out, out_len, "%s-%s", prefix, uuid);
}

int64_t test_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Open addressing over string copies. */
struct test_seen {
    pthread_mutex_t mu;
    char **slots;
    size_t capacity;
    size_t count;
};

test_seen *test_seen_create(size_t capacity)
{
    test_seen *s = calloc(1, sizeof *s);
    s->capacity = capacity * 2 + 1;
    s->slots = calloc(s->capacity, sizeof *s->slots);
    pthread_mutex_init(&s->mu, NULL);
    return s;
}

static size_t hash(const char *s)
{
    size_t h = 1469598103934665603u;
    for (; *s; s++)
        h = (h ^ (unsigned char)*s) * 1099511628211u;
    return h;
}

bool test_seen_add(test_seen *seen, const char *s)
{
    pthread_mutex_lock(&seen->mu);
    size_t i = hash(s) % seen->capacity;
    bool added = false;
    while (seen->slots[i] && strcmp(seen->slots[i], s) != 0)
        i = (i + 1) % seen->capacity;
    if (!seen->slots[i] && seen->count + 1 < seen->capacity) {
        seen->slots[i] = strdup(s);
        seen->count++;
        added = true;
    }
    pthread_mutex_unlock(&seen->mu);
    return added;
}

size_t test_seen_count(test_seen *seen)
{
    pthread_mutex_lock(&seen->mu);
    size_t n = seen->count;
    pthread_mutex_unlock(&seen->mu);
    return n;
}

void test_seen_destroy(test_seen *seen)
{
    for (size_t i = 0; i < seen->capacity; i++)
        free(seen->slots[i]);
    free(seen->slots);
    pthread_mutex_destroy(&seen->mu);
    free(seen);
}
