/* Authentication, authorization and TLS of the Pulsar client against the
 * test broker that infrastructure/pulsar/pulsar.sh runs (tokens per service
 * role, per-topic permissions, a TLS port with its own CA), and TLS refusals
 * against `openssl s_server` with certificates this test makes.
 *
 * Environment (scripts/test.sh sets it): PULSAR_HOST, PULSAR_PORT,
 * PULSAR_TLS_PORT, PULSAR_DIR (the broker's tokens are in
 * $PULSAR_DIR/auth/tokens, its CA is $PULSAR_DIR/tls/ca.pem),
 * PULSAR_ADMIN_TOKEN_FILE, PULSAR_ADMIN_PORT. PULSAR_CTL: pulsar.sh. */
#include <fcntl.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include "broker_util.h"
#include "pulsar/pulsar.h"

static char host[256];
static int port;

static void sleep_ms(int ms)
{
    struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000};
    nanosleep(&ts, NULL);
}

static const char *broker_dir(void)
{
    const char *d = getenv("PULSAR_DIR");
    if (!d || !*d) {
        fprintf(stderr, "PULSAR_DIR is not set: the broker's tokens and CA are there, FAILING\n");
        exit(1);
    }
    return d;
}

static void role_token_file(const char *role, char *out, size_t len)
{
    snprintf(out, len, "%s/auth/tokens/%s.token", broker_dir(), role);
}

static pulsar_client *client_as(const char *role)
{
    char token[1024];
    role_token_file(role, token, sizeof token);
    pulsar_client_options o = {.auth_token_file = token};
    oms_error err;
    pulsar_client *c = pulsar_client_create(host, port, &o, &err);
    assert_non_null(c);
    return c;
}

static bool contains(const char *text, const char *part) { return strstr(text, part) != NULL; }

/* ---- authentication */

/* A client that presents no token is refused at CONNECT: nothing it asks
 * for is served, and the client says why. */
static void a_client_without_a_token_is_refused(void **state)
{
    (void)state;
    pulsar_client_options o = {.operation_timeout_ms = 3000};
    oms_error err;
    pulsar_client *c = pulsar_client_create(host, port, &o, &err);
    assert_non_null(c);
    char topic[128];
    test_unique_topic("sec-anonymous", topic, sizeof topic);
    pulsar_producer *p = pulsar_producer_create(c, topic, NULL, &err);
    assert_null(p);
    assert_false(pulsar_client_connected(c));
    char why[256];
    pulsar_client_last_error(c, why, sizeof why);
    assert_true(contains(why, "refused the connection"));
    assert_true(contains(err.message, "refused the connection"));
    pulsar_client_destroy(c);
}

/* The token file is read at every connect: a bad token is refused, the
 * same file holding a good one later lets the client in (rotation on disk
 * without a restart). */
static void a_token_file_is_read_again_at_each_connect(void **state)
{
    (void)state;
    char path[] = "/tmp/oms-pulsar-token-XXXXXX";
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    assert_true(write(fd, "not-a-token\n", 12) == 12);
    close(fd);
    pulsar_client_options o = {.auth_token_file = path};
    oms_error err;
    pulsar_client *c = pulsar_client_create(host, port, &o, &err);
    assert_non_null(c);
    char why[256] = "";
    for (int64_t deadline = test_now_ms() + 10000; !why[0] && test_now_ms() < deadline; sleep_ms(50))
        pulsar_client_last_error(c, why, sizeof why);
    assert_true(contains(why, "refused the connection"));
    assert_false(pulsar_client_connected(c));

    char good[1024];
    role_token_file("admin", good, sizeof good);
    char cmd[2200];
    snprintf(cmd, sizeof cmd, "cp '%s' '%s'", good, path);
    assert_int_equal(system(cmd), 0);
    /* The reconnect backoff is at most 10 s. */
    for (int64_t deadline = test_now_ms() + 20000; !pulsar_client_connected(c) && test_now_ms() < deadline;)
        sleep_ms(100);
    assert_true(pulsar_client_connected(c));
    pulsar_client_destroy(c);
    unlink(path);
}

/* A token file that cannot be read is a bad setting, reported at once. */
static void an_unreadable_token_file_is_a_bad_setting(void **state)
{
    (void)state;
    pulsar_client_options o = {.auth_token_file = "/nonexistent/oms-token"};
    oms_error err;
    oms_error_clear(&err);
    assert_null(pulsar_client_create(host, port, &o, &err));
    assert_int_equal(err.code, OMS_EINVAL);
    assert_string_equal(err.field, "auth_token_file");
    assert_true(contains(err.message, "/nonexistent/oms-token"));
}

/* The publisher's connectedSince on the broker (admin API), "" if none. */
static void publisher_connected_since(const char *topic, char *out, size_t len)
{
    char path[512], body[8192];
    snprintf(path, sizeof path, "persistent/public/default/%s/stats", topic);
    out[0] = '\0';
    if (test_admin_request("GET", path, body, sizeof body) != 0)
        return;
    const char *at = strstr(body, "\"connectedSince\":\"");
    if (!at)
        return;
    at += strlen("\"connectedSince\":\"");
    size_t n = strcspn(at, "\"");
    snprintf(out, len, "%.*s", (int)(n < len ? n : len - 1), at);
}

/* A token about to expire: the broker asks for a fresh one (AUTH_CHALLENGE)
 * and the client answers with the token file's new content, so the
 * connection (and the producer on it) stays up past the first token's
 * expiry. The broker checks every 5 s (standalone.conf.template). */
static void an_expired_token_is_refreshed_from_the_file_without_reconnecting(void **state)
{
    (void)state;
    const char *ctl = getenv("PULSAR_CTL") ? getenv("PULSAR_CTL") : "infrastructure/pulsar/pulsar.sh";
    char path[] = "/tmp/oms-pulsar-token-XXXXXX";
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    close(fd);
    char cmd[2400];
    snprintf(cmd, sizeof cmd, "'%s' mint-token admin 15s > '%s'", ctl, path);
    assert_int_equal(system(cmd), 0);
    int64_t minted = test_now_ms();

    pulsar_client_options o = {.auth_token_file = path};
    oms_error err;
    pulsar_client *c = pulsar_client_create(host, port, &o, &err);
    assert_non_null(c);
    char topic[128];
    test_unique_topic("sec-refresh", topic, sizeof topic);
    pulsar_producer *p = pulsar_producer_create(c, topic, NULL, &err);
    assert_non_null(p);
    assert_int_equal(pulsar_producer_send(p, "k", "before", 6, NULL, 0, 10000, NULL, &err), OMS_OK);
    char since_before[128];
    publisher_connected_since(topic, since_before, sizeof since_before);
    assert_true(since_before[0] != '\0');

    char good[1024];
    role_token_file("admin", good, sizeof good);
    snprintf(cmd, sizeof cmd, "cp '%s' '%s'", good, path);
    assert_int_equal(system(cmd), 0);
    /* Past the expiry and two of the broker's checks. */
    while (test_now_ms() < minted + 15000 + 11000)
        sleep_ms(200);
    assert_int_equal(pulsar_producer_send(p, "k", "after", 5, NULL, 0, 10000, NULL, &err), OMS_OK);
    char since_after[128];
    publisher_connected_since(topic, since_after, sizeof since_after);
    assert_string_equal(since_after, since_before);
    pulsar_producer_close(p);
    pulsar_client_destroy(c);
    unlink(path);
}

/* ---- authorization: each service's role uses only its own topics */

typedef struct topic_right {
    const char *role;
    const char *topic;
    bool produce; /* else consume (with the service's subscription) */
    bool allowed;
} topic_right;

static const topic_right rights[] = {
    {"payment-service", "payment-events", true, true},
    {"order-service", "payment-events", false, true},
    {"order-service", "payment-events", true, false},
    {"payment-service", "payment-events", false, false},
    {"order-service", "payment-commands", true, true},
    {"payment-service", "payment-commands", false, true},
    {"payment-service", "payment-commands", true, false},
    {"inventory-service", "payment-commands", false, false},
    {"inventory-service", "inventory-events", true, true},
    {"order-service", "inventory-events", false, true},
    {"order-service", "inventory-events", true, false},
    {"order-service", "inventory-commands", true, true},
    {"inventory-service", "inventory-commands", false, true},
    {"payment-service", "inventory-commands", true, false},
    {"order-service", "order-events", true, true},
    {"payment-service", "order-events", true, false},
    {"order-service", "payment-events-DLQ", true, true},
    {"payment-service", "payment-commands-DLQ", true, true},
    {"inventory-service", "payment-commands-DLQ", true, false},
    {"inventory-service", "product-events", true, true},
    {"order-service", "product-events", false, true},
    {"payment-service", "product-events", true, false},
};

/* The finding's own case: inventory-service cannot publish a payment
 * event (which would move an order on without a payment). */
static void a_producer_with_inventory_services_token_on_payment_events_is_refused(void **state)
{
    (void)state;
    pulsar_client *c = client_as("inventory-service");
    oms_error err;
    oms_error_clear(&err);
    assert_null(pulsar_producer_create(c, "payment-events", NULL, &err));
    assert_int_equal(err.code, OMS_EINVAL);
    assert_true(contains(err.message, "not authorized"));
    assert_true(pulsar_client_connected(c)); /* authenticated, just not allowed */
    pulsar_client_destroy(c);
}

/* Nothing is published on the services' topics here (the black-box suite
 * uses the same broker later): creating the producer is what the broker
 * authorizes; a consumer joins the service's own subscription and leaves. */
static void each_service_role_may_use_only_its_own_topics(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof rights / sizeof rights[0]; i++) {
        const topic_right *r = &rights[i];
        pulsar_client *c = client_as(r->role);
        oms_error err;
        oms_error_clear(&err);
        bool created;
        if (r->produce) {
            pulsar_producer *p = pulsar_producer_create(c, r->topic, NULL, &err);
            created = p != NULL;
            pulsar_producer_close(p);
        } else {
            pulsar_consumer_options o = {.type = PULSAR_KEY_SHARED, .receiver_queue_size = 2};
            pulsar_consumer *consumer = pulsar_consumer_create(c, r->topic, r->role, &o, &err);
            created = consumer != NULL;
            pulsar_consumer_close(consumer);
        }
        if (created != r->allowed)
            fail_msg("%s %s %s: expected %s, got %s (%s)", r->role, r->produce ? "producing on" : "consuming", r->topic,
                     r->allowed ? "allowed" : "refused", created ? "allowed" : "refused", err.message);
        if (!created)
            assert_true(contains(err.message, "not authorized"));
        pulsar_client_destroy(c);
    }
}

/* ---- TLS against the broker */

static int tls_port(void)
{
    const char *p = getenv("PULSAR_TLS_PORT");
    return p && *p ? atoi(p) : port + 1;
}

static void round_trip_over_tls(const char *tls_host)
{
    char ca[1024];
    snprintf(ca, sizeof ca, "%s/tls/ca.pem", broker_dir());
    pulsar_client_options o = test_client_options();
    o.tls = true;
    o.tls_ca_file = ca;
    oms_error err;
    pulsar_client *c = pulsar_client_create(tls_host, tls_port(), &o, &err);
    assert_non_null(c);
    char topic[128];
    test_unique_topic("sec-tls", topic, sizeof topic);
    pulsar_producer *p = pulsar_producer_create(c, topic, NULL, &err);
    if (!p)
        fail_msg("producer over TLS to %s: %s", tls_host, err.message);
    /* Large enough to span several TLS records each way. */
    static char payload[200000];
    memset(payload, 'x', sizeof payload - 1);
    assert_int_equal(pulsar_producer_send(p, "k", payload, sizeof payload - 1, NULL, 0, 10000, NULL, &err), OMS_OK);
    pulsar_consumer *consumer = pulsar_consumer_create(c, topic, "tls", NULL, &err);
    assert_non_null(consumer);
    pulsar_message *m = NULL;
    assert_int_equal(pulsar_consumer_receive(consumer, 10000, &m), OMS_OK);
    assert_int_equal(m->payload_len, sizeof payload - 1);
    assert_memory_equal(m->payload, payload, sizeof payload - 1);
    pulsar_consumer_ack(consumer, m);
    pulsar_message_free(m);
    pulsar_consumer_close(consumer);
    pulsar_producer_close(p);
    pulsar_client_destroy(c);
}

/* pulsar+ssl:// with the broker's CA: by name and by IP address (both are
 * in the broker's certificate); the lookup follows the TLS URL. */
static void tls_to_the_broker_with_its_ca_works(void **state)
{
    (void)state;
    round_trip_over_tls("localhost");
    round_trip_over_tls("127.0.0.1");
}

/* Without the broker's CA (the system's CAs do not know it) the handshake
 * fails: nothing falls back to trusting the certificate. */
static void tls_without_the_brokers_ca_is_refused(void **state)
{
    (void)state;
    pulsar_client_options o = test_client_options();
    o.tls = true;
    o.operation_timeout_ms = 3000;
    oms_error err;
    pulsar_client *c = pulsar_client_create("localhost", tls_port(), &o, &err);
    assert_non_null(c);
    assert_null(pulsar_producer_create(c, "sec-tls-untrusted", NULL, &err));
    char why[256];
    pulsar_client_last_error(c, why, sizeof why);
    assert_true(contains(why, "TLS certificate verify failed"));
    pulsar_client_destroy(c);
}

/* ---- TLS refusals against openssl s_server, with certificates made here */

static char cert_dir[] = "/tmp/oms-pulsar-tls-XXXXXX";

static void run_or_fail(const char *cmd)
{
    if (system(cmd) != 0)
        fail_msg("failed: %s", cmd);
}

/* A CA ("test"), another CA ("other"), and three server certificates:
 * localhost by test, other.example by test, localhost by other. */
static int make_certificates(void **state)
{
    (void)state;
    assert_non_null(mkdtemp(cert_dir));
    char cmd[4096];
    snprintf(cmd, sizeof cmd,
             "set -e; cd '%s'; exec > openssl.log 2>&1;"
             "for ca in test other; do"
             "  openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 2"
             "    -subj \"/CN=$ca CA\" -keyout $ca-ca.key -out $ca-ca.pem; done;"
             "make() { openssl req -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -subj \"/CN=$2\""
             "    -keyout $1.key -out $1.csr;"
             "  printf 'subjectAltName=DNS:%%s\\n' \"$2\" > $1.ext;"
             "  openssl x509 -req -in $1.csr -CA $3-ca.pem -CAkey $3-ca.key -CAcreateserial -days 2"
             "    -extfile $1.ext -out $1.pem; };"
             "make good localhost test; make wrong-host other.example test; make wrong-ca localhost other",
             cert_dir);
    run_or_fail(cmd);
    return 0;
}

static int remove_certificates(void **state)
{
    (void)state;
    char cmd[512];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", cert_dir);
    run_or_fail(cmd);
    return 0;
}

static int free_port(void)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in addr = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t len = sizeof addr;
    assert_int_equal(bind(fd, (struct sockaddr *)&addr, sizeof addr), 0);
    assert_int_equal(getsockname(fd, (struct sockaddr *)&addr, &len), 0);
    close(fd);
    return ntohs(addr.sin_port);
}

/* openssl s_server on 127.0.0.1:<port> with certificate `name`. */
static pid_t start_tls_server(const char *name, int server_port)
{
    char cert[600], key[600], accept_at[64];
    snprintf(cert, sizeof cert, "%s/%s.pem", cert_dir, name);
    snprintf(key, sizeof key, "%s/%s.key", cert_dir, name);
    snprintf(accept_at, sizeof accept_at, "127.0.0.1:%d", server_port);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        int null_fd = open("/dev/null", O_RDWR);
        if (null_fd < 0 || dup2(null_fd, 0) < 0 || dup2(null_fd, 1) < 0 || dup2(null_fd, 2) < 0)
            _exit(127);
        execlp("openssl", "openssl", "s_server", "-quiet", "-accept", accept_at, "-cert", cert, "-key", key,
               (char *)NULL);
        _exit(127);
    }
    for (int64_t deadline = test_now_ms() + 10000; test_now_ms() < deadline; sleep_ms(50)) {
        int fd = socket(AF_INET, SOCK_STREAM, 0);
        struct sockaddr_in addr = {
            .sin_family = AF_INET, .sin_port = htons((uint16_t)server_port), .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
        bool up = connect(fd, (struct sockaddr *)&addr, sizeof addr) == 0;
        close(fd);
        if (up)
            return pid;
    }
    fail_msg("openssl s_server did not listen on %s", accept_at);
    return pid;
}

static void stop_tls_server(pid_t pid)
{
    kill(pid, SIGTERM);
    waitpid(pid, NULL, 0);
}

/* Connects to localhost:<server> trusting the test CA only; returns the
 * client's reason once the first attempt ended. */
static void first_failure_against(const char *certificate, char *why, size_t why_len)
{
    int server_port = free_port();
    pid_t server = start_tls_server(certificate, server_port);
    char ca[600];
    snprintf(ca, sizeof ca, "%s/test-ca.pem", cert_dir);
    pulsar_client_options o = {.tls = true, .tls_ca_file = ca, .connect_timeout_ms = 2000};
    oms_error err;
    pulsar_client *c = pulsar_client_create("localhost", server_port, &o, &err);
    assert_non_null(c);
    why[0] = '\0';
    for (int64_t deadline = test_now_ms() + 10000; !why[0] && test_now_ms() < deadline; sleep_ms(50))
        pulsar_client_last_error(c, why, why_len);
    assert_false(pulsar_client_connected(c));
    pulsar_client_destroy(c);
    stop_tls_server(server);
}

static void a_certificate_for_another_host_is_refused(void **state)
{
    (void)state;
    char why[256];
    first_failure_against("wrong-host", why, sizeof why);
    if (!contains(why, "TLS certificate verify failed") || !contains(why, "hostname mismatch"))
        fail_msg("unexpected reason: %s", why);
}

static void a_certificate_from_another_ca_is_refused(void **state)
{
    (void)state;
    char why[256];
    first_failure_against("wrong-ca", why, sizeof why);
    if (!contains(why, "TLS certificate verify failed"))
        fail_msg("unexpected reason: %s", why);
}

/* The control: the same server with a good certificate passes TLS (what
 * then fails is the Pulsar handshake, s_server not being a broker). */
static void a_good_certificate_passes_the_tls_handshake(void **state)
{
    (void)state;
    char why[256];
    first_failure_against("good", why, sizeof why);
    if (contains(why, "TLS"))
        fail_msg("TLS failed with a good certificate: %s", why);
}

/* A CA file without a certificate is a bad setting, reported at once. */
static void a_ca_file_without_certificates_is_a_bad_setting(void **state)
{
    (void)state;
    pulsar_client_options o = {.tls = true, .tls_ca_file = "/dev/null"};
    oms_error err;
    oms_error_clear(&err);
    assert_null(pulsar_client_create("localhost", 1, &o, &err));
    assert_int_equal(err.code, OMS_EINVAL);
    assert_string_equal(err.field, "tls_ca_file");
}

int main(void)
{
    test_broker_address(host, sizeof host, &port);
    const struct CMUnitTest broker_tests[] = {
        cmocka_unit_test(a_client_without_a_token_is_refused),
        cmocka_unit_test(an_unreadable_token_file_is_a_bad_setting),
        cmocka_unit_test(a_producer_with_inventory_services_token_on_payment_events_is_refused),
        cmocka_unit_test(each_service_role_may_use_only_its_own_topics),
        cmocka_unit_test(a_token_file_is_read_again_at_each_connect),
        cmocka_unit_test(an_expired_token_is_refreshed_from_the_file_without_reconnecting),
        cmocka_unit_test(tls_to_the_broker_with_its_ca_works),
        cmocka_unit_test(tls_without_the_brokers_ca_is_refused),
    };
    const struct CMUnitTest tls_server_tests[] = {
        cmocka_unit_test(a_certificate_for_another_host_is_refused),
        cmocka_unit_test(a_certificate_from_another_ca_is_refused),
        cmocka_unit_test(a_good_certificate_passes_the_tls_handshake),
        cmocka_unit_test(a_ca_file_without_certificates_is_a_bad_setting),
    };
    if (getenv("PULSAR_TEST_FILTER"))
        cmocka_set_test_filter(getenv("PULSAR_TEST_FILTER"));
    int failed = cmocka_run_group_tests_name("broker security", broker_tests, NULL, NULL);
    failed += cmocka_run_group_tests_name("TLS certificates", tls_server_tests, make_certificates, remove_certificates);
    return failed ? 1 : 0;
}
