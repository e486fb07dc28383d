/* test_audit.h -- the audit port (oms_audit_log) in memory, for application
 * tests: each row is recorded, strings copied, in a log that lives inside
 * the state a memory_tx (test_tx.h) snapshots, so a rolled-back write leaves
 * no row behind, as with audit_log in the write's transaction. Needs only
 * lib/oms/err.c and principal.c: usable in oms_pure_test tests. */
#ifndef OMS_TEST_AUDIT_H
#define OMS_TEST_AUDIT_H

#include <stdbool.h>
#include <stddef.h>

#include "oms/audit.h"

#define TEST_AUDIT_MAX 32
#define TEST_AUDIT_TEXT 256

typedef struct test_audit_row {
    char actor[TEST_AUDIT_TEXT], role[16], action[64], target[TEST_AUDIT_TEXT], saga_id[40];
    char reason[TEST_AUDIT_TEXT], request_id[TEST_AUDIT_TEXT];
    char before[TEST_AUDIT_TEXT], after[TEST_AUDIT_TEXT]; /* "name=value,..." ("" : none) */
} test_audit_row;

typedef struct test_audit_rows {
    test_audit_row rows[TEST_AUDIT_MAX];
    size_t count;
} test_audit_rows;

/* The port. Each oms_tx it is handed is a memory_tx working state whose
 * test_audit_rows lie `rows_offset` bytes in. */
typedef struct test_audit_log {
    oms_audit_log port;
    size_t rows_offset;
} test_audit_log;

void test_audit_log_init(test_audit_log *l, size_t rows_offset);

#endif
