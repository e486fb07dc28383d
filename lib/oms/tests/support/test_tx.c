/* test_tx.c -- see test_tx.h. */
#include "test_tx.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#define BUSY_ATTEMPTS 20

static memory_tx *memory_of(oms_tx_manager *m) { return m->self; }

static oms_err memory_begin(oms_tx_manager *m, oms_tx **out, oms_error *err)
{
    memory_tx *t = memory_of(m);
    if (t->in_tx)
        return oms_error_set(err, OMS_EINTERNAL, NULL, "nested transaction");
    memcpy(t->working, t->committed, t->size);
    t->in_tx = true;
    *out = (oms_tx *)t->working;
    return OMS_OK;
}

static oms_err memory_commit(oms_tx_manager *m, oms_tx *tx, oms_error *err)
{
    (void)tx;
    (void)err;
    memory_tx *t = memory_of(m);
    memcpy(t->committed, t->working, t->size);
    t->in_tx = false;
    oms_tx_hooks_run(&t->hooks);
    return OMS_OK;
}

static void memory_rollback(oms_tx_manager *m, oms_tx *tx)
{
    (void)tx;
    memory_tx *t = memory_of(m);
    t->in_tx = false;
    oms_tx_hooks_drop(&t->hooks);
}

static oms_err memory_on_commit(oms_tx_manager *m, oms_tx *tx, oms_tx_hook fn, void *ctx, size_t ctx_size,
                                oms_error *err)
{
    (void)tx;
    return oms_tx_hooks_add(&memory_of(m)->hooks, fn, ctx, ctx_size, err);
}

static const oms_tx_manager_ops memory_ops = {
    .begin = memory_begin, .commit = memory_commit, .rollback = memory_rollback, .on_commit = memory_on_commit};

void memory_tx_init(memory_tx *t, void *committed, void *working, size_t size)
{
    *t = (memory_tx){
        .manager = {.ops = &memory_ops, .self = t}, .committed = committed, .working = working, .size = size};
}

oms_tx *test_tx_begin(oms_tx_manager *m)
{
    oms_tx *tx = NULL;
    oms_error err;
    assert_int_equal(oms_tx_begin(m, &tx, &err), OMS_OK);
    return tx;
}

oms_err test_tx_end(oms_tx_manager *m, oms_tx *tx, oms_err rc)
{
    if (rc != OMS_OK) {
        oms_tx_rollback(m, tx);
        return rc;
    }
    oms_error err;
    return oms_tx_commit(m, tx, &err);
}

oms_err test_tx_run(oms_tx_manager *m, test_tx_fn fn, void *args)
{
    oms_err rc = OMS_EBUSY;
    for (int attempt = 0; attempt < BUSY_ATTEMPTS && rc == OMS_EBUSY; attempt++) {
        oms_error err;
        oms_tx *tx;
        rc = oms_tx_begin(m, &tx, &err);
        if (rc != OMS_OK)
            return rc;
        rc = test_tx_end(m, tx, fn(args, tx, &err));
    }
    return rc;
}
