/* test_replies.c -- see test_replies.h. */
#include "test_replies.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stdio.h>

#include <cmocka.h>

static void copy(char *out, size_t size, const char *s) { snprintf(out, size, "%s", s ? s : ""); }

/* The members a test looks at, whatever the reply's type. */
static void record(test_reply *r, const oms_command_origin *origin, const oms_msg *m)
{
    *r = (test_reply){.type = m->type};
    copy(r->order_id, sizeof r->order_id, origin->order_id);
    copy(r->command_id, sizeof r->command_id, origin->command_id);
    switch (m->type) {
    case OMS_MSG_PAYMENT_PROCESSED:
        r->success = m->as.payment_processed.success;
        copy(r->payment_id, sizeof r->payment_id, m->as.payment_processed.payment_id);
        r->amount_cents = m->as.payment_processed.amount_cents;
        copy(r->reason, sizeof r->reason, m->as.payment_processed.reason);
        break;
    case OMS_MSG_PAYMENT_REFUNDED:
        copy(r->payment_id, sizeof r->payment_id, m->as.payment_refunded.payment_id);
        r->amount_cents = m->as.payment_refunded.amount_cents;
        break;
    case OMS_MSG_INVENTORY_ALLOCATED:
        r->success = m->as.inventory_allocated.success;
        copy(r->reason, sizeof r->reason, m->as.inventory_allocated.reason);
        break;
    case OMS_MSG_INVENTORY_RELEASED: r->released = m->as.inventory_released.released; break;
    default: break;
    }
}

static oms_err append(oms_reply_outbox *port, oms_tx *tx, oms_arena *a, const oms_command_origin *origin,
                      const oms_msg *reply, oms_error *err)
{
    (void)a;
    test_reply_outbox *o = port->self;
    test_reply_log *log = (test_reply_log *)((char *)tx + o->log_offset);
    if (o->fail && *o->fail)
        return oms_error_set(err, OMS_EUNAVAILABLE, NULL, "outbox unavailable");
    if (log->count == TEST_REPLIES_MAX)
        return oms_error_set(err, OMS_EINTERNAL, NULL, "memory replies full");
    record(&log->replies[log->count++], origin, reply);
    return OMS_OK;
}

static const oms_reply_outbox_ops ops = {.append = append};

void test_reply_outbox_init(test_reply_outbox *o, size_t log_offset, const bool *fail)
{
    *o = (test_reply_outbox){.port = {.ops = &ops, .self = o}, .log_offset = log_offset, .fail = fail};
}

const test_reply *test_reply_last(const test_reply_log *log)
{
    assert_true(log->count > 0);
    return &log->replies[log->count - 1];
}
