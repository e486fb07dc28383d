/* oms-pulsar -- produce, consume and measure with the project's Pulsar
 * client; used by the interop tests (against the official Python client)
 * and the benchmarks.
 *
 *   oms-pulsar produce --url pulsar://H:P --topic T --count N [--key-prefix K --keys M]
 *                      [--payload-size B] [--prefix P]
 *   oms-pulsar consume --url pulsar://H:P --topic T --subscription S [--type shared|key_shared]
 *                      --count N [--timeout-s T]
 *   oms-pulsar perf    --url pulsar://H:P --topic T --count N [--payload-size B]
 *
 * --url may be pulsar+ssl://H:P. Credentials and trust come from the
 * environment, as for the services: PULSAR_AUTH_TOKEN_FILE or
 * PULSAR_AUTH_TOKEN, and PULSAR_TLS_CA_FILE.
 *
 * produce and perf batch like the official clients (up to --batch-max 1000
 * messages with one key per entry; --batch-max 1 sends one entry per
 * message). produce keeps the publish order across keys (a batch holds
 * consecutive messages of one key); perf batches per key. */
#include <getopt.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "oms/log.h"
#include "oms/util.h"
#include "pulsar/pulsar.h"

typedef struct tool_args {
    char host[256];
    int port;
    bool tls;
    const char *topic;
    const char *subscription;
    const char *key_prefix;
    const char *prefix;
    long keys;
    long count;
    long payload_size;
    long timeout_s;
    long batch_max;
    pulsar_subscription_type type;
} tool_args;

static void usage(void)
{
    fprintf(stderr, "usage:\n"
                    "  oms-pulsar produce --url pulsar://H:P --topic T --count N [--key-prefix K --keys M]"
                    " [--payload-size B] [--prefix P] [--batch-max N]\n"
                    "  oms-pulsar consume --url pulsar://H:P --topic T --subscription S"
                    " [--type shared|key_shared] --count N [--timeout-s T]\n"
                    "  oms-pulsar perf --url pulsar://H:P --topic T --count N [--payload-size B] [--batch-max N]\n");
    exit(2);
}

static long parse_long(const char *s, long min, long max)
{
    char *end = NULL;
    long v = strtol(s, &end, 10);
    if (!*s || *end || v < min || v > max) {
        fprintf(stderr, "oms-pulsar: bad number '%s'\n", s);
        exit(2);
    }
    return v;
}

static void parse_url(const char *url, tool_args *a)
{
    if (pulsar_parse_url(url, a->host, sizeof a->host, &a->port, &a->tls) != OMS_OK) {
        fprintf(stderr, "oms-pulsar: --url must look like pulsar://host:port or pulsar+ssl://host:port\n");
        exit(2);
    }
}

static const char *env_or_null(const char *name)
{
    const char *v = getenv(name);
    return v && *v ? v : NULL;
}

static void parse_args(int argc, char **argv, tool_args *a)
{
    static const struct option options[] = {
        {"url", required_argument, 0, 'u'},       {"topic", required_argument, 0, 't'},
        {"count", required_argument, 0, 'n'},     {"key-prefix", required_argument, 0, 'k'},
        {"keys", required_argument, 0, 'm'},      {"payload-size", required_argument, 0, 'b'},
        {"prefix", required_argument, 0, 'p'},    {"subscription", required_argument, 0, 's'},
        {"type", required_argument, 0, 'y'},      {"timeout-s", required_argument, 0, 'w'},
        {"batch-max", required_argument, 0, 'x'}, {0, 0, 0, 0}};
    *a = (tool_args){.port = 0, .keys = 16, .prefix = "", .timeout_s = 60, .batch_max = 1000, .type = PULSAR_SHARED};
    bool have_url = false;
    for (int opt = getopt_long(argc, argv, "", options, NULL); opt != -1;
         opt = getopt_long(argc, argv, "", options, NULL)) {
        switch (opt) {
        case 'u':
            parse_url(optarg, a);
            have_url = true;
            break;
        case 't': a->topic = optarg; break;
        case 'n': a->count = parse_long(optarg, 1, 1000000000L); break;
        case 'k': a->key_prefix = optarg; break;
        case 'm': a->keys = parse_long(optarg, 1, 1000000000L); break;
        case 'b': a->payload_size = parse_long(optarg, 0, 4 * 1024 * 1024); break;
        case 'p': a->prefix = optarg; break;
        case 's': a->subscription = optarg; break;
        case 'w': a->timeout_s = parse_long(optarg, 1, 86400); break;
        case 'x': a->batch_max = parse_long(optarg, 1, 100000); break;
        case 'y':
            if (strcmp(optarg, "shared") == 0)
                a->type = PULSAR_SHARED;
            else if (strcmp(optarg, "key_shared") == 0)
                a->type = PULSAR_KEY_SHARED;
            else
                usage();
            break;
        default: usage();
        }
    }
    if (!have_url || !a->topic || a->count <= 0)
        usage();
}

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static pulsar_client *connect_client(const tool_args *a)
{
    oms_error err;
    pulsar_client_options o = {.auth_token = env_or_null("PULSAR_AUTH_TOKEN"),
                               .auth_token_file = env_or_null("PULSAR_AUTH_TOKEN_FILE"),
                               .tls = a->tls,
                               .tls_ca_file = env_or_null("PULSAR_TLS_CA_FILE")};
    pulsar_client *c = pulsar_client_create(a->host, a->port, &o, &err);
    if (!c) {
        fprintf(stderr, "oms-pulsar: %s\n", err.message);
        exit(1);
    }
    return c;
}

/* "P<i>" padded with 'x' to payload_size bytes, into buf (big enough). */
static size_t make_payload(const tool_args *a, long i, char *buf, size_t cap)
{
    int n = snprintf(buf, cap, "%s%ld", a->prefix, i);
    size_t len = n < 0 ? 0 : (size_t)n >= cap ? cap - 1 : (size_t)n;
    while ((long)len < a->payload_size && len < cap - 1)
        buf[len++] = 'x';
    buf[len] = '\0';
    return len;
}

static int produce_all(const tool_args *a, pulsar_client *client, bool batch_by_key)
{
    oms_error err;
    pulsar_producer_options o = {.batch_max_messages = (size_t)a->batch_max, .batch_by_key = batch_by_key};
    pulsar_producer *p = pulsar_producer_create(client, a->topic, &o, &err);
    if (!p) {
        fprintf(stderr, "oms-pulsar: producer: %s\n", err.message);
        return 1;
    }
    size_t cap = (size_t)a->payload_size + strlen(a->prefix) + 32;
    char *buf = malloc(cap);
    int rc = buf ? 0 : 1;
    for (long i = 0; i < a->count && rc == 0; i++) {
        char key[300] = "";
        if (a->key_prefix)
            snprintf(key, sizeof key, "%.200s%ld", a->key_prefix, i % a->keys);
        size_t len = make_payload(a, i, buf, cap);
        if (pulsar_producer_send_async(p, a->key_prefix ? key : NULL, buf, len, NULL, 0, NULL, NULL, &err) != OMS_OK) {
            fprintf(stderr, "oms-pulsar: send: %s\n", err.message);
            rc = 1;
        }
    }
    if (rc == 0 && pulsar_producer_flush(p, 120000, &err) != OMS_OK) {
        fprintf(stderr, "oms-pulsar: %s\n", err.message);
        rc = 1;
    }
    free(buf);
    pulsar_producer_close(p);
    return rc;
}

static int cmd_produce(const tool_args *a)
{
    pulsar_client *client = connect_client(a);
    double start = now_s();
    int rc = produce_all(a, client, false);
    double secs = now_s() - start;
    if (rc == 0)
        fprintf(stderr, "produced %ld in %.3f s (%.0f msg/s)\n", a->count, secs, (double)a->count / secs);
    pulsar_client_destroy(client);
    return rc;
}

static int cmd_consume(const tool_args *a)
{
    if (!a->subscription)
        usage();
    pulsar_client *client = connect_client(a);
    oms_error err;
    pulsar_consumer_options o = {.type = a->type};
    pulsar_consumer *c = pulsar_consumer_create(client, a->topic, a->subscription, &o, &err);
    if (!c) {
        fprintf(stderr, "oms-pulsar: consumer: %s\n", err.message);
        pulsar_client_destroy(client);
        return 1;
    }
    double deadline = now_s() + (double)a->timeout_s;
    long got = 0;
    while (got < a->count && now_s() < deadline) {
        pulsar_message *m = NULL;
        int wait_ms = (int)((deadline - now_s()) * 1000) + 1;
        if (pulsar_consumer_receive(c, wait_ms, &m) != OMS_OK)
            continue;
        fwrite(m->key, 1, strlen(m->key), stdout);
        fputc('\t', stdout);
        fwrite(m->payload, 1, m->payload_len, stdout);
        fputc('\n', stdout);
        pulsar_consumer_ack(c, m);
        pulsar_message_free(m);
        got++;
    }
    fflush(stdout);
    pulsar_consumer_close(c);
    pulsar_client_destroy(client);
    if (got < a->count) {
        fprintf(stderr, "oms-pulsar: timeout after %ld of %ld messages\n", got, a->count);
        return 1;
    }
    return 0;
}

typedef struct perf_state {
    const tool_args *a;
    pulsar_client *client;
    int rc;
} perf_state;

static void *perf_producer(void *arg)
{
    perf_state *s = arg;
    s->rc = produce_all(s->a, s->client, true);
    return NULL;
}

static int cmd_perf(tool_args *a)
{
    if (a->payload_size == 0)
        a->payload_size = 100;
    pulsar_client *client = connect_client(a);
    char subscription[64];
    char uuid[OMS_UUID_LEN + 1];
    oms_uuid_new(uuid);
    snprintf(subscription, sizeof subscription, "perf-%s", uuid);
    oms_error err;
    pulsar_consumer_options o = {.type = PULSAR_SHARED};
    pulsar_consumer *c = pulsar_consumer_create(client, a->topic, subscription, &o, &err);
    if (!c) {
        fprintf(stderr, "oms-pulsar: consumer: %s\n", err.message);
        pulsar_client_destroy(client);
        return 1;
    }
    perf_state s = {.a = a, .client = client};
    double start = now_s();
    pthread_t t;
    if (pthread_create(&t, NULL, perf_producer, &s) != 0) {
        pulsar_consumer_close(c);
        pulsar_client_destroy(client);
        return 1;
    }
    long consumed = 0;
    double deadline = start + 300;
    while (consumed < a->count && now_s() < deadline) {
        pulsar_message *m = NULL;
        if (pulsar_consumer_receive(c, 1000, &m) != OMS_OK)
            continue;
        pulsar_consumer_ack(c, m);
        pulsar_message_free(m);
        consumed++;
    }
    pthread_join(t, NULL);
    double secs = now_s() - start;
    printf("{\"produced\":%ld,\"consumed\":%ld,\"seconds\":%.3f,\"msg_per_s\":%.0f}\n", s.rc == 0 ? a->count : 0,
           consumed, secs, (double)consumed / secs);
    fflush(stdout);
    pulsar_consumer_close(c);
    pulsar_client_destroy(client);
    return s.rc == 0 && consumed == a->count ? 0 : 1;
}

int main(int argc, char **argv)
{
    if (argc < 2)
        usage();
    oms_log_init("oms-pulsar",
                 getenv("LOG_LEVEL") && strcmp(getenv("LOG_LEVEL"), "debug") == 0 ? OMS_LOG_DEBUG : OMS_LOG_WARN);
    const char *command = argv[1];
    tool_args a;
    parse_args(argc - 1, argv + 1, &a);
    if (strcmp(command, "produce") == 0)
        return cmd_produce(&a);
    if (strcmp(command, "consume") == 0)
        return cmd_consume(&a);
    if (strcmp(command, "perf") == 0)
        return cmd_perf(&a);
    usage();
}
