/* Unit tests of the saga's message table (oms/saga_messages.c), its codec
 * (oms/saga_codec.c), and of docs/architecture.md against the table. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "oms/saga_codec.h"
#include "oms/saga_messages.h"

#define ARCHITECTURE_DOC "docs/architecture.md"
#define ROW_MAX 512
#define PAYLOAD_MAX 256
#define DOC_ROWS_MAX 64

static oms_arena *arena;

static int setup(void **state)
{
    (void)state;
    arena = oms_arena_create(0);
    return arena ? 0 : -1;
}

static int teardown(void **state)
{
    (void)state;
    oms_arena_destroy(arena);
    return 0;
}

static void every_type_has_one_row_with_a_unique_name(void **state)
{
    (void)state;
    for (int t = 0; t < OMS_MSG_TYPE_COUNT; t++) {
        const oms_msg_def *def = oms_msg_def_of((oms_msg_type)t);
        assert_non_null(def);
        assert_int_equal(def->type, t);
        assert_non_null(def->topic);
        assert_non_null(def->producer);
        assert_true(def->field_count > 0);
        oms_msg_type back;
        assert_true(oms_msg_type_of(def->event_type, &back));
        assert_int_equal(back, t);
    }
    assert_null(oms_msg_def_of(OMS_MSG_TYPE_COUNT));
    oms_msg_type unused;
    assert_false(oms_msg_type_of("InventoryAudited", &unused));
    assert_string_equal(oms_msg_name(OMS_MSG_TYPE_COUNT), "Unknown");
}

/* The topology the pg transport seeds: each consumed topic once. */
static void subscriptions_follow_from_the_table(void **state)
{
    (void)state;
    oms_msg_subscription subs[8];
    size_t n = oms_msg_subscriptions(subs, 8);
    assert_int_equal(n, 5);
    const char *expected[][2] = {{"payment-commands", "payment-service"},
                                 {"payment-events", "order-service"},
                                 {"inventory-commands", "inventory-service"},
                                 {"inventory-events", "order-service"},
                                 {"product-events", "order-service"}};
    for (size_t i = 0; i < n; i++) {
        assert_string_equal(subs[i].topic, expected[i][0]);
        assert_string_equal(subs[i].subscription, expected[i][1]);
    }
    assert_int_equal(oms_msg_subscriptions(NULL, 0), 5);
}

/* ---- the codec ---- */

/* A message of type t with every member set, made from its field rows, so a
 * new type is covered without a new sample. */
static oms_msg filled(oms_msg_type t, json_t *object)
{
    static const oms_inventory_line lines[] = {{"sku-1", 2}, {"sku-\"2\"", 1}};
    const oms_msg_def *def = oms_msg_def_of(t);
    oms_msg m = {.type = t};
    for (size_t i = 0; i < def->field_count; i++) {
        const oms_msg_field *f = &def->fields[i];
        void *slot = (char *)&m + f->offset;
        switch (f->kind) {
        case OMS_FIELD_STRING: *(const char **)slot = f->name; break;
        case OMS_FIELD_INT: *(int64_t *)slot = 2199; break;
        case OMS_FIELD_BOOL: *(bool *)slot = true; break;
        case OMS_FIELD_LINES: *(oms_inventory_lines *)slot = (oms_inventory_lines){lines, 2}; break;
        case OMS_FIELD_OBJECT: *(json_t **)slot = object; break;
        }
    }
    return m;
}

static oms_msg sample(oms_msg_type t) { return filled(t, NULL); }

static void every_message_decodes_to_what_was_encoded(void **state)
{
    (void)state;
    json_t *doc = json_pack("{s:s}", "id", "order-1");
    for (int t = 0; t < OMS_MSG_TYPE_COUNT; t++) {
        oms_msg m = filled((oms_msg_type)t, doc), back;
        json_t *payload = NULL;
        oms_error err;
        assert_int_equal(oms_msg_encode(&m, &payload, &err), OMS_OK);
        assert_int_equal(json_object_size(payload), oms_msg_def_of(m.type)->field_count);
        assert_int_equal(oms_msg_decode(arena, m.type, payload, &back, &err), OMS_OK);
        /* Every member, compared by re-encoding the decoded message. */
        json_t *again = NULL;
        assert_int_equal(oms_msg_encode(&back, &again, &err), OMS_OK);
        assert_true(json_equal(payload, again));
        json_decref(again);
        json_decref(payload);
    }
    json_decref(doc);
}

static void payloads_carry_the_documented_members(void **state)
{
    (void)state;
    oms_msg m = sample(OMS_MSG_PAYMENT_PROCESSED);
    m.as.payment_processed.payment_id = NULL;
    json_t *payload = NULL;
    oms_error err;
    assert_int_equal(oms_msg_encode(&m, &payload, &err), OMS_OK);
    assert_true(json_is_null(json_object_get(payload, "payment_id"))); /* optional: null, not absent */
    assert_int_equal(json_integer_value(json_object_get(payload, "amount_cents")), 2199);
    assert_true(json_is_true(json_object_get(payload, "success")));
    json_decref(payload);
    m = sample(OMS_MSG_INVENTORY_REQUESTED);
    assert_int_equal(oms_msg_encode(&m, &payload, &err), OMS_OK);
    json_t *items = json_object_get(payload, "items");
    assert_int_equal(json_array_size(items), 2);
    assert_string_equal(json_string_value(json_object_get(json_array_get(items, 1), "product_id")), "sku-\"2\"");
    json_decref(payload);
}

static void a_command_without_its_required_members_is_not_encoded(void **state)
{
    (void)state;
    oms_msg m = sample(OMS_MSG_PAYMENT_REQUESTED);
    m.command_id = NULL;
    json_t *payload = NULL;
    oms_error err;
    assert_int_equal(oms_msg_encode(&m, &payload, &err), OMS_EINVAL);
    assert_null(payload);
    assert_string_equal(err.field, "command_id");
    m = sample(OMS_MSG_ORDER_CREATED);
    assert_int_equal(oms_msg_encode(&m, &payload, &err), OMS_EINVAL);
}

static oms_err decode_text(oms_msg_type t, const char *text, oms_msg *out, oms_error *err)
{
    json_t *payload = json_loads(text, 0, NULL);
    assert_non_null(payload);
    oms_err rc = oms_msg_decode(arena, t, payload, out, err);
    /* Decoded strings point into the payload: keep it as long as the arena. */
    oms_arena_on_reset(arena, (void (*)(void *))json_decref, payload);
    return rc;
}

static void commands_refuse_a_missing_or_overlong_command_id(void **state)
{
    (void)state;
    oms_msg m;
    oms_error err;
    assert_int_equal(decode_text(OMS_MSG_PAYMENT_REQUESTED, "{\"customer_id\":\"c\",\"amount_cents\":1}", &m, &err),
                     OMS_EINVAL);
    assert_string_equal(err.field, "payload.command_id");
    char text[256];
    snprintf(text, sizeof text, "{\"command_id\":\"%065d\",\"customer_id\":\"c\",\"amount_cents\":1}", 0);
    assert_int_equal(decode_text(OMS_MSG_PAYMENT_REQUESTED, text, &m, &err), OMS_EINVAL);
    snprintf(text, sizeof text, "{\"command_id\":\"%064d\",\"customer_id\":\"c\",\"amount_cents\":1}", 0);
    assert_int_equal(decode_text(OMS_MSG_PAYMENT_REQUESTED, text, &m, &err), OMS_OK);
    assert_int_equal(strlen(m.command_id), OMS_MSG_COMMAND_ID_MAX);
    assert_string_equal(m.as.payment_requested.customer_id, "c");
}

/* The same bound on the orchestrator's side, for the replies. */
static void replies_may_omit_the_command_id_but_not_exceed_it(void **state)
{
    (void)state;
    oms_msg m;
    oms_error err;
    assert_int_equal(decode_text(OMS_MSG_PAYMENT_PROCESSED, "{\"success\":false}", &m, &err), OMS_OK);
    assert_null(m.command_id);
    assert_false(m.as.payment_processed.success);
    assert_null(m.as.payment_processed.reason);
    assert_int_equal(m.as.payment_processed.amount_cents, 0);
    char text[256];
    snprintf(text, sizeof text, "{\"command_id\":\"%065d\",\"success\":true}", 0);
    assert_int_equal(decode_text(OMS_MSG_PAYMENT_PROCESSED, text, &m, &err), OMS_EINVAL);
    assert_string_equal(err.field, "payload.command_id");
}

static void wrong_types_are_refused_with_the_member_named(void **state)
{
    (void)state;
    oms_msg m;
    oms_error err;
    assert_int_equal(decode_text(OMS_MSG_INVENTORY_ALLOCATED, "{\"success\":\"yes\"}", &m, &err), OMS_EINVAL);
    assert_string_equal(err.field, "payload.success");
    assert_int_equal(decode_text(OMS_MSG_PAYMENT_REQUESTED,
                                 "{\"command_id\":\"c\",\"customer_id\":\"c\",\"amount_cents\":1.5}", &m, &err),
                     OMS_EINVAL);
    assert_string_equal(err.field, "payload.amount_cents");
    assert_int_equal(
        decode_text(OMS_MSG_PAYMENT_REQUESTED, "{\"command_id\":\"c\",\"customer_id\":7,\"amount_cents\":1}", &m, &err),
        OMS_EINVAL);
    assert_int_equal(
        decode_text(OMS_MSG_INVENTORY_REQUESTED, "{\"command_id\":\"c\",\"items\":[{\"quantity\":1}]}", &m, &err),
        OMS_EINVAL);
    assert_string_equal(err.field, "payload.items");
    assert_int_equal(decode_text(OMS_MSG_INVENTORY_REQUESTED, "{\"command_id\":\"c\",\"items\":{}}", &m, &err),
                     OMS_EINVAL);
    assert_int_equal(decode_text(OMS_MSG_REFUND_REQUESTED,
                                 "{\"command_id\":\"c\",\"customer_id\":\"c\","
                                 "\"reason\":3}",
                                 &m, &err),
                     OMS_EINVAL);
}

/* Ranges are the participant's domain's (answered with a failure reply),
 * not the message's: a negative quantity or a long customer id decodes. */
static void values_out_of_the_domain_range_still_decode(void **state)
{
    (void)state;
    oms_msg m;
    oms_error err;
    assert_int_equal(decode_text(OMS_MSG_INVENTORY_REQUESTED,
                                 "{\"command_id\":\"c\",\"items\":[{\"product_id\":\"a\",\"quantity\":-3}]}", &m, &err),
                     OMS_OK);
    assert_int_equal(m.as.inventory_requested.items.count, 1);
    assert_int_equal(m.as.inventory_requested.items.lines[0].quantity, -3);
    char text[512];
    snprintf(text, sizeof text, "{\"command_id\":\"c\",\"customer_id\":\"%0200d\",\"amount_cents\":-1}", 0);
    assert_int_equal(decode_text(OMS_MSG_PAYMENT_REQUESTED, text, &m, &err), OMS_OK);
    assert_int_equal(strlen(m.as.payment_requested.customer_id), 200);
}

/* ---- docs/architecture.md ---- */

static void payload_text(const oms_msg_def *def, char *out, size_t len)
{
    size_t used = (size_t)snprintf(out, len, "`{");
    for (size_t i = 0; i < def->field_count && used < len; i++) {
        const oms_msg_field *f = &def->fields[i];
        const char *shape = f->kind == OMS_FIELD_LINES ? ": [{product_id, quantity}]" : "";
        used += (size_t)snprintf(out + used, len - used, "%s%s%s", i ? ", " : "", f->name, shape);
    }
    if (used < len)
        snprintf(out + used, len - used, "}`");
}

static void expected_row(const oms_msg_def *def, char *out, size_t len)
{
    char payload[PAYLOAD_MAX];
    payload_text(def, payload, sizeof payload);
    snprintf(out, len, "| %s | %s | %s | %s | %s%s%s%s |", def->event_type, def->topic, def->producer,
             def->consumer ? def->consumer : "-", payload, def->note ? " (" : "", def->note ? def->note : "",
             def->note ? ")" : "");
}

/* The rows of the table whose header starts "| event_type | topic |". */
static size_t documented_rows(char rows[][ROW_MAX], size_t max)
{
    FILE *f = fopen(ARCHITECTURE_DOC, "r");
    if (!f)
        fail_msg("cannot open %s (run the test from the repository root)", ARCHITECTURE_DOC);
    char line[ROW_MAX];
    size_t n = 0;
    int state = 0; /* 0 before the header, 1 at the separator, 2 in the rows */
    while (fgets(line, sizeof line, f)) {
        line[strcspn(line, "\n")] = '\0';
        if (state == 0 && strncmp(line, "| event_type | topic |", 22) == 0) {
            state = 1;
        } else if (state == 1) {
            state = 2;
        } else if (state == 2 && line[0] == '|' && n < max) {
            snprintf(rows[n++], ROW_MAX, "%s", line);
        } else if (state == 2) {
            break;
        }
    }
    fclose(f);
    return n;
}

static void the_documented_message_table_matches_the_code(void **state)
{
    (void)state;
    static char rows[DOC_ROWS_MAX][ROW_MAX];
    size_t n = documented_rows(rows, DOC_ROWS_MAX);
    bool same = n == OMS_MSG_TYPE_COUNT;
    for (int t = 0; t < OMS_MSG_TYPE_COUNT; t++) {
        char expected[ROW_MAX];
        expected_row(oms_msg_def_of((oms_msg_type)t), expected, sizeof expected);
        same = same && strcmp(rows[t], expected) == 0;
    }
    if (same)
        return;
    fprintf(stderr, "%s: the message table should read:\n", ARCHITECTURE_DOC);
    for (int t = 0; t < OMS_MSG_TYPE_COUNT; t++) {
        char expected[ROW_MAX];
        expected_row(oms_msg_def_of((oms_msg_type)t), expected, sizeof expected);
        fprintf(stderr, "%s\n", expected);
    }
    fail_msg("%s does not match lib/oms/saga_messages.c", ARCHITECTURE_DOC);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(every_type_has_one_row_with_a_unique_name),
        cmocka_unit_test(subscriptions_follow_from_the_table),
        cmocka_unit_test(every_message_decodes_to_what_was_encoded),
        cmocka_unit_test(payloads_carry_the_documented_members),
        cmocka_unit_test(a_command_without_its_required_members_is_not_encoded),
        cmocka_unit_test(commands_refuse_a_missing_or_overlong_command_id),
        cmocka_unit_test(replies_may_omit_the_command_id_but_not_exceed_it),
        cmocka_unit_test(wrong_types_are_refused_with_the_member_named),
        cmocka_unit_test(values_out_of_the_domain_range_still_decode),
        cmocka_unit_test(the_documented_message_table_matches_the_code),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
