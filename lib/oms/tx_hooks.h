/* tx_hooks.h -- the commit hooks of one transaction, for the adapters that
 * implement oms_tx_manager (the pg adapter, in-memory test managers); the
 * application records hooks through oms_tx_on_commit (tx.h), whose contract
 * this list keeps. Pure C: no I/O. */
#ifndef OMS_TX_HOOKS_H
#define OMS_TX_HOOKS_H

#include <stddef.h>

#include "err.h"
#include "tx.h"

typedef struct oms_tx_hook_entry oms_tx_hook_entry;

/* Zero-initialised is empty. Owned by one transaction: not thread-safe. */
typedef struct oms_tx_hooks {
    oms_tx_hook_entry *first, *last;
} oms_tx_hooks;

/* Appends fn(ctx): with ctx_size > 0 a copy of that many bytes of ctx, owned
 * by the list; with 0, ctx itself, and nothing is added when that fn and
 * ctx are already there. OMS_ENOMEM leaves the list as it was. */
oms_err oms_tx_hooks_add(oms_tx_hooks *h, oms_tx_hook fn, void *ctx, size_t ctx_size, oms_error *err);

/* After a commit: calls every hook in the order added, then empties the list. */
void oms_tx_hooks_run(oms_tx_hooks *h);

/* After a rollback or a failed commit: empties the list, calling nothing. */
void oms_tx_hooks_drop(oms_tx_hooks *h);

#endif
