/* audit.h -- the audit trail (issue 12 item 7): one row per write that a
 * person or a tool asked for, appended in that write's own transaction.
 *
 * Who calls it: every application command that changes state on request
 * (products, stock, prices, accounts, order cancel; saga actions, dead-letter
 * redrive and discard, bulk jobs). A message handler of the saga does not:
 * the saga log is its record. The contract for a caller is only this:
 *
 *   - build an oms_audit_entry (the principal of the request, an action
 *     name "<thing>.<verb>", a target "<kind>:<id>", the reason the client
 *     gave, the state before and after as a few named fields, which the
 *     adapter stores as JSON objects);
 *   - call oms_audit_append(port, tx, arena, &entry, err) with the write's
 *     own tx, after the change succeeded and before the commit;
 *   - fail the write when it fails (a write without its row must not
 *     commit), which oms_tx_finish does with the returned error.
 *
 * Nothing else is needed: the table `audit_log` is a built-in migration of
 * every service database (outbox.c, 003_oms_audit_log, append-only through
 * oms_make_append_only), main.c plugs in oms_pg_audit_log() (audit_pg.h),
 * and every service serves its own rows on GET /audit (service.c; the
 * gateway merges the three, docs/architecture.md "Audit trail"). A
 * rolled-back write leaves no row, since the row is in its tx. Pure C: the
 * application layer includes it; tests plug in an in-memory log
 * (lib/oms/tests/support/test_audit.h). */
#ifndef OMS_AUDIT_H
#define OMS_AUDIT_H

#include <stddef.h>
#include <stdint.h>

#include "arena.h"
#include "err.h"
#include "principal.h"
#include "tx.h"

#define OMS_AUDIT_REASON_MAX 500 /* bytes kept of a reason */

/* One member of a state: a string, an integer or an amount of money (cents,
 * stored as the decimal number). */
typedef enum oms_audit_kind { OMS_AUDIT_TEXT = 0, OMS_AUDIT_INT, OMS_AUDIT_MONEY } oms_audit_kind;
typedef struct oms_audit_field {
    const char *name;
    oms_audit_kind kind;
    const char *text; /* OMS_AUDIT_TEXT; NULL: JSON null */
    int64_t value;    /* OMS_AUDIT_INT, OMS_AUDIT_MONEY */
} oms_audit_field;

#define OMS_AUDIT_TEXT_FIELD(n, s) ((oms_audit_field){.name = (n), .kind = OMS_AUDIT_TEXT, .text = (s)})
#define OMS_AUDIT_INT_FIELD(n, v) ((oms_audit_field){.name = (n), .kind = OMS_AUDIT_INT, .value = (v)})
#define OMS_AUDIT_MONEY_FIELD(n, c) ((oms_audit_field){.name = (n), .kind = OMS_AUDIT_MONEY, .value = (c)})

/* A state: a JSON object of these members. */
typedef struct oms_audit_state {
    const oms_audit_field *fields;
    size_t count;
} oms_audit_state;

typedef struct oms_audit_entry {
    const oms_principal *by;       /* actor = by->id, role, request_id = by->request_id */
    const char *action;            /* "product.restock", "order.cancel", "saga.pause", ... */
    const char *target;            /* "product:product-1", "order:<uuid>", "account:<customer>" */
    const char *saga_id;           /* a UUID when the write is about a saga; else NULL */
    const char *reason;            /* the client's words (first 500 bytes kept); NULL when none */
    const oms_audit_state *before; /* NULL: nothing before (a creation) */
    const oms_audit_state *after;  /* NULL: nothing after (a removal) */
} oms_audit_entry;

/* The port: where audit rows go. Runs inside the caller's tx. */
typedef struct oms_audit_log oms_audit_log;
typedef struct oms_audit_log_ops {
    oms_err (*append)(oms_audit_log *l, oms_tx *tx, oms_arena *a, const oms_audit_entry *e, oms_error *err);
} oms_audit_log_ops;
struct oms_audit_log {
    const oms_audit_log_ops *ops;
    void *self;
};

/* Appends `e` in `tx`. OMS_EINVAL when by, action or target is missing, or
 * when saga_id is not a UUID; OMS_ENOMEM; or the store's error (the caller
 * then rolls its write back). */
static inline oms_err oms_audit_append(oms_audit_log *l, oms_tx *tx, oms_arena *a, const oms_audit_entry *e,
                                       oms_error *err)
{
    return l->ops->append(l, tx, a, e, err);
}

#endif
