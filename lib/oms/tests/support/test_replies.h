/* test_replies.h -- a participant's reply port (oms_reply_outbox) in memory,
 * for application tests: each reply is recorded, strings copied, in a log
 * that lives inside the state a memory_tx (test_tx.h) snapshots, so a
 * rolled-back command leaves no reply behind, as with the real outbox.
 * Needs only lib/oms/err.c: usable in oms_pure_test tests. */
#ifndef OMS_TEST_REPLIES_H
#define OMS_TEST_REPLIES_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "oms/saga_messages.h"

#define TEST_REPLIES_MAX 32
#define TEST_REPLY_TEXT 512

/* A reply as the outbox would have queued it. */
typedef struct test_reply {
    oms_msg_type type;
    char order_id[64];
    char command_id[OMS_MSG_COMMAND_ID_MAX + 1];
    bool success;  /* PaymentProcessed, InventoryAllocated */
    bool released; /* InventoryReleased */
    char payment_id[64];
    int64_t amount_cents; /* PaymentProcessed, PaymentRefunded */
    char reason[TEST_REPLY_TEXT];
} test_reply;

typedef struct test_reply_log {
    test_reply replies[TEST_REPLIES_MAX];
    size_t count;
} test_reply_log;

/* The port. Each oms_tx it is handed is a memory_tx working state whose
 * test_reply_log lies `log_offset` bytes in; while *fail is true, append
 * fails with OMS_EUNAVAILABLE (the outbox is down). */
typedef struct test_reply_outbox {
    oms_reply_outbox port;
    size_t log_offset;
    const bool *fail;
} test_reply_outbox;

void test_reply_outbox_init(test_reply_outbox *o, size_t log_offset, const bool *fail);

/* The last reply of the log; fails the test when there is none. */
const test_reply *test_reply_last(const test_reply_log *log);

#endif
