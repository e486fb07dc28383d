/* test_audit.c -- see test_audit.h. */
#include "test_audit.h"

#include <inttypes.h>
#include <stdio.h>
#include <string.h>

static void copy(char *out, size_t size, const char *s) { snprintf(out, size, "%s", s ? s : ""); }

/* "name=value,..." of a state; money as cents. */
static void state_text(char *out, size_t size, const oms_audit_state *st)
{
    out[0] = '\0';
    size_t used = 0;
    for (size_t i = 0; st && i < st->count && used < size; i++) {
        const oms_audit_field *f = &st->fields[i];
        int n = f->kind == OMS_AUDIT_TEXT
                    ? snprintf(out + used, size - used, "%s%s=%s", i ? "," : "", f->name, f->text ? f->text : "null")
                    : snprintf(out + used, size - used, "%s%s=%" PRId64, i ? "," : "", f->name, f->value);
        used += n > 0 ? (size_t)n : 0;
    }
}

static oms_err append(oms_audit_log *port, oms_tx *tx, oms_arena *a, const oms_audit_entry *e, oms_error *err)
{
    (void)a;
    test_audit_log *l = port->self;
    test_audit_rows *rows = (test_audit_rows *)((char *)tx + l->rows_offset);
    if (!e->by || !e->by->id || !e->action || !e->target)
        return oms_error_set(err, OMS_EINVAL, NULL, "an audit row needs a principal, an action and a target");
    if (rows->count == TEST_AUDIT_MAX)
        return oms_error_set(err, OMS_EINTERNAL, NULL, "memory audit log full");
    test_audit_row *r = &rows->rows[rows->count++];
    copy(r->actor, sizeof r->actor, e->by->id);
    copy(r->role, sizeof r->role, oms_role_name(e->by->role));
    copy(r->action, sizeof r->action, e->action);
    copy(r->target, sizeof r->target, e->target);
    copy(r->saga_id, sizeof r->saga_id, e->saga_id);
    copy(r->reason, sizeof r->reason, e->reason);
    copy(r->request_id, sizeof r->request_id, e->by->request_id);
    state_text(r->before, sizeof r->before, e->before);
    state_text(r->after, sizeof r->after, e->after);
    return OMS_OK;
}

static const oms_audit_log_ops ops = {.append = append};

void test_audit_log_init(test_audit_log *l, size_t rows_offset)
{
    *l = (test_audit_log){.port = {&ops, l}, .rows_offset = rows_offset};
}
