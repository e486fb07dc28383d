/* test_tx.h -- units of work for service tests: an in-memory transaction
 * manager for application tests without I/O, and running one command in a
 * transaction the way the inbox does (commit on success, else roll back).
 * Needs only lib/oms/err.c and tx_hooks.c: usable in oms_pure_test tests. */
#ifndef OMS_TEST_TX_H
#define OMS_TEST_TX_H

#include <stdbool.h>
#include <stddef.h>

#include "oms/tx.h"
#include "oms/tx_hooks.h"

/* An oms_tx_manager over a caller's state of `size` bytes: begin copies
 * `committed` into `working` and hands `working` out as the oms_tx (adapters
 * cast it back to their state type); commit copies it back and runs the
 * commit hooks; rollback drops both. A test thus sees exactly what a failed
 * command left behind: nothing.
 * Single-threaded; a nested begin fails with OMS_EINTERNAL. */
typedef struct memory_tx {
    oms_tx_manager manager; /* what the application gets */
    void *committed;
    void *working;
    size_t size;
    bool in_tx;
    oms_tx_hooks hooks;
} memory_tx;

void memory_tx_init(memory_tx *t, void *committed, void *working, size_t size);

/* Begins a transaction on `m`, failing the test when it cannot. */
oms_tx *test_tx_begin(oms_tx_manager *m);

/* Ends `tx` as the inbox does: commits when `rc` (the command's result) is
 * OMS_OK, else rolls back. Returns rc, or the commit's result. */
oms_err test_tx_end(oms_tx_manager *m, oms_tx *tx, oms_err rc);

/* One command, run by test_tx_run with the caller's `args`. */
typedef oms_err (*test_tx_fn)(void *args, oms_tx *tx, oms_error *err);

/* Runs `fn` in its own transaction, as above, and runs the whole unit again
 * (up to 20 times) while the database answers OMS_EBUSY (deadlock,
 * serialization). Thread-safe as far as `m` is; asserts nothing, so worker
 * threads may call it. Returns the last result. */
oms_err test_tx_run(oms_tx_manager *m, test_tx_fn fn, void *args);

#endif
