/* broker_util.h -- what the tests against a real broker share. */
#ifndef PULSAR_TEST_BROKER_UTIL_H
#define PULSAR_TEST_BROKER_UTIL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "oms/bus.h"
#include "pulsar/pulsar.h"

/* PULSAR_HOST / PULSAR_PORT; exits 1 with a message when unset or when the
 * broker does not answer (the test runner starts it: a missing broker is a
 * failure, not a skip). */
void test_broker_address(char *host, size_t host_len, int *port);

/* The superuser's token file of the test broker (PULSAR_ADMIN_TOKEN_FILE),
 * or NULL when the broker runs without authentication. */
const char *test_admin_token_file(void);

/* Client options of the tests' own clients: the superuser's token, which
 * may use any topic. */
pulsar_client_options test_client_options(void);

/* The bus settings for the test broker at host:port with the superuser's
 * token; url_buf holds the URL. */
oms_bus_pulsar_settings test_bus_settings(const char *host, int port, char *url_buf, size_t url_len);

/* curl on the broker's admin API (PULSAR_ADMIN_PORT, default 8081) with the
 * superuser's token: `method` on /admin/v2/<path>, the body into `out` (may
 * be NULL). Returns curl's exit status (0: a 2xx answer). */
int test_admin_request(const char *method, const char *path, char *out, size_t out_len);

/* A topic name unique to this run: "<prefix>-<uuid>". */
void test_unique_topic(const char *prefix, char *out, size_t out_len);

/* A growable set of strings, for dedupe by payload id (thread-safe). */
typedef struct test_seen test_seen;
test_seen *test_seen_create(size_t capacity);
/* true when `s` is new. */
bool test_seen_add(test_seen *seen, const char *s);
size_t test_seen_count(test_seen *seen);
void test_seen_destroy(test_seen *seen);

int64_t test_now_ms(void);

#endif
