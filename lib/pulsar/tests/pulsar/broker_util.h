/* broker_util.h -- what the tests against a real broker share. */
#ifndef PULSAR_TEST_BROKER_UTIL_H
#define PULSAR_TEST_BROKER_UTIL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* PULSAR_HOST / PULSAR_PORT; exits 1 with a message when unset or when the
 * broker does not answer (the test runner starts it: a missing broker is a
 * failure, not a skip). */
void test_broker_address(char *host, size_t host_len, int *port);

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
