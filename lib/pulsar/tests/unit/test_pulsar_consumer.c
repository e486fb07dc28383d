/* The consumer's handling of incoming entries (consumer.c) with no broker:
 * the connection and client functions it calls are replaced here by
 * doubles that record every command the consumer sends, and malloc is
 * wrapped (-Wl,--wrap=malloc) so that one allocation can be made to fail.
 *
 * Review L10: a batch entry with a message that could not be allocated is
 * redelivered, never acknowledged. */
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "oms/log.h"
#include "oms/util.h"
#include "pulsar/internal.h"

/* ---- malloc with one injected failure */
void *__real_malloc(size_t size);
void *__wrap_malloc(size_t size);

/* The next allocation of a size in [fail_min, fail_max] fails, once. */
static size_t fail_min, fail_max;
static int failures_left;

void *__wrap_malloc(size_t size)
{
    if (failures_left > 0 && size >= fail_min && size <= fail_max) {
        failures_left--;
        return NULL;
    }
    return __real_malloc(size);
}

/* ---- what the consumer sends, recorded */
#define MAX_SENT 64

typedef struct sent_id {
    Pulsar__BaseCommand__Type type;
    uint64_t ledger, entry;
} sent_id;

static sent_id sent[MAX_SENT];
static size_t n_sent;
static int64_t fake_now_ms = 1000000;
static int fake_conn_storage;
static pulsar_conn *const fake_conn = (pulsar_conn *)&fake_conn_storage;

static void record(Pulsar__BaseCommand__Type type, Pulsar__MessageIdData **ids, size_t n)
{
    for (size_t i = 0; i < (n ? n : 1) && n_sent < MAX_SENT; i++)
        sent[n_sent++] = (sent_id){type, n ? ids[i]->ledgerid : 0, n ? ids[i]->entryid : 0};
}

oms_err pulsar_conn_send_command(pulsar_conn *conn, uint64_t generation, const Pulsar__BaseCommand *cmd)
{
    (void)conn;
    (void)generation;
    if (cmd->type == PULSAR__BASE_COMMAND__TYPE__ACK)
        record(cmd->type, cmd->ack->message_id, cmd->ack->n_message_id);
    else if (cmd->type == PULSAR__BASE_COMMAND__TYPE__REDELIVER_UNACKNOWLEDGED_MESSAGES)
        record(cmd->type, cmd->redeliverunacknowledgedmessages->message_ids,
               cmd->redeliverunacknowledgedmessages->n_message_ids);
    else
        record(cmd->type, NULL, 0);
    return OMS_OK;
}

/* Every request (SUBSCRIBE, CLOSE_CONSUMER) succeeds. */
oms_err pulsar_conn_request(pulsar_conn *conn, uint64_t request_id, Pulsar__BaseCommand *cmd, int timeout_ms,
                            Pulsar__BaseCommand **response, oms_error *err)
{
    (void)conn;
    (void)timeout_ms;
    (void)err;
    record(cmd->type, NULL, 0);
    Pulsar__BaseCommand ok = PULSAR__BASE_COMMAND__INIT;
    Pulsar__CommandSuccess success = PULSAR__COMMAND_SUCCESS__INIT;
    ok.type = PULSAR__BASE_COMMAND__TYPE__SUCCESS;
    ok.success = &success;
    success.request_id = request_id;
    uint8_t packed[64];
    size_t len = pulsar__base_command__pack(&ok, packed);
    *response = pulsar__base_command__unpack(NULL, len, packed);
    return *response ? OMS_OK : OMS_ENOMEM;
}

uint64_t pulsar_conn_generation(pulsar_conn *conn) { return conn == fake_conn ? 1 : 0; }
void pulsar_conn_fail(pulsar_conn *conn, const char *why) { (void)conn, (void)why; }
uint64_t pulsar_client_next_id(pulsar_client *c) { return (void)c, 1; }
uint64_t pulsar_client_next_request_id(pulsar_client *c) { return (void)c, 1; }
int pulsar_client_operation_timeout(pulsar_client *c) { return (void)c, 1000; }

oms_err pulsar_handle_open(pulsar_client *c, pulsar_handle *h, oms_error *err)
{
    (void)err;
    h->client = c;
    return OMS_OK;
}

void pulsar_handle_unregister(pulsar_handle *h) { (void)h; }
int64_t pulsar_now_ms(void) { return fake_now_ms; }
void pulsar_cond_init(pthread_cond_t *cond) { pthread_cond_init(cond, NULL); }

bool pulsar_cond_wait_until(pthread_cond_t *cond, pthread_mutex_t *mu, int64_t deadline_ms)
{
    (void)cond, (void)mu, (void)deadline_ms;
    return false; /* receive(…, 0, …) only: nothing to wait for */
}

void pulsar_topic_full_name(const char *name, char *out, size_t out_len) { snprintf(out, out_len, "%s", name); }

pulsar_producer *pulsar_producer_create(pulsar_client *c, const char *topic, const pulsar_producer_options *o,
                                        oms_error *err)
{
    (void)c, (void)topic, (void)o;
    oms_error_set(err, OMS_EUNAVAILABLE, NULL, "no dead-letter topic in this test");
    return NULL;
}

oms_err pulsar_producer_send(pulsar_producer *p, const char *key, const void *payload, size_t len,
                             const pulsar_property *props, size_t n_props, int timeout_ms, pulsar_message_id *id,
                             oms_error *err)
{
    (void)p, (void)key, (void)payload, (void)len, (void)props, (void)n_props, (void)timeout_ms, (void)id, (void)err;
    return OMS_EUNAVAILABLE;
}

void pulsar_producer_close(pulsar_producer *p) { (void)p; }
void oms_log(oms_log_level level, const char *event, ...) { (void)level, (void)event; }
void oms_uuid_new(char out[OMS_UUID_LEN + 1]) { snprintf(out, OMS_UUID_LEN + 1, "%036d", 0); }

/* ---- helpers */
#define LEDGER 7
#define ENTRY 9

static pulsar_consumer *attached_consumer(void)
{
    n_sent = 0;
    oms_error err;
    pulsar_consumer *c = pulsar_consumer_create((pulsar_client *)&fake_conn_storage, "t", "s", NULL, &err);
    assert_non_null(c);
    assert_int_equal(pulsar_consumer_attach((pulsar_handle *)c, fake_conn, 1, &err), OMS_OK);
    n_sent = 0; /* SUBSCRIBE and FLOW are not what the tests look at */
    return c;
}

/* Hands the consumer one entry (ledger 7, entry 9) holding `payloads`: a
 * batch when n > 1 or as_batch, else a single message. */
static void deliver(pulsar_consumer *c, const char *const *payloads, size_t n, bool as_batch)
{
    pulsar_buf body = {0};
    for (size_t i = 0; as_batch && i < n; i++) {
        Pulsar__SingleMessageMetadata meta = PULSAR__SINGLE_MESSAGE_METADATA__INIT;
        meta.partition_key = "k";
        meta.payload_size = (int32_t)strlen(payloads[i]);
        assert_int_equal(pulsar_batch_append(&body, &meta, payloads[i], strlen(payloads[i])), OMS_OK);
    }
    if (!as_batch)
        assert_int_equal(pulsar_buf_append(&body, payloads[0], strlen(payloads[0])), OMS_OK);
    Pulsar__MessageMetadata md = PULSAR__MESSAGE_METADATA__INIT;
    md.producer_name = "p";
    md.publish_time = 1;
    md.partition_key = "k";
    if (as_batch) {
        md.has_num_messages_in_batch = true;
        md.num_messages_in_batch = (int32_t)n;
    }
    Pulsar__BaseCommand cmd = PULSAR__BASE_COMMAND__INIT;
    Pulsar__CommandMessage message = PULSAR__COMMAND_MESSAGE__INIT;
    Pulsar__MessageIdData id = PULSAR__MESSAGE_ID_DATA__INIT;
    cmd.type = PULSAR__BASE_COMMAND__TYPE__MESSAGE;
    cmd.message = &message;
    message.consumer_id = 1;
    message.message_id = &id;
    id.ledgerid = LEDGER;
    id.entryid = ENTRY;
    pulsar_buf frame_bytes = {0};
    assert_int_equal(pulsar_frame_encode_message(&frame_bytes, &cmd, &md, body.data, body.len), OMS_OK);
    pulsar_frame frame;
    assert_int_equal(pulsar_frame_decode(frame_bytes.data, frame_bytes.len, 1 << 24, &frame), PULSAR_FRAME_OK);
    Pulsar__BaseCommand *decoded = pulsar__base_command__unpack(NULL, frame.command_len, frame.command);
    assert_non_null(decoded);
    pulsar_consumer_on_message((pulsar_handle *)c, fake_conn, decoded->message, &frame);
    pulsar__base_command__free_unpacked(decoded, NULL);
    pulsar_buf_free(&frame_bytes);
    pulsar_buf_free(&body);
}

/* Receives every message the consumer holds and acknowledges it; returns
 * how many there were. */
static size_t ack_everything(pulsar_consumer *c)
{
    size_t n = 0;
    pulsar_message *m = NULL;
    while (pulsar_consumer_receive(c, 0, &m) == OMS_OK) {
        assert_int_equal(pulsar_consumer_ack(c, m), OMS_OK);
        pulsar_message_free(m);
        n++;
    }
    return n;
}

/* Lets every timer of the consumer run (nacks due, grouped acks out). */
static void run_timers(pulsar_consumer *c)
{
    fake_now_ms += 60000;
    pulsar_consumer_tick((pulsar_handle *)c, fake_now_ms);
}

static size_t count_sent(Pulsar__BaseCommand__Type type)
{
    size_t n = 0;
    for (size_t i = 0; i < n_sent; i++)
        n += sent[i].type == type && sent[i].ledger == LEDGER && sent[i].entry == ENTRY;
    return n;
}

static void fail_next_allocation_near(size_t payload_len)
{
    fail_min = payload_len;
    fail_max = payload_len + 1024;
    failures_left = 1;
}

static char big_payload[5000];

/* ---- tests */

/* The control: three messages of a batch, all acknowledged, acknowledge
 * the entry once. */
static void a_batch_whose_messages_are_all_acked_is_acked_once(void **state)
{
    (void)state;
    pulsar_consumer *c = attached_consumer();
    const char *payloads[] = {"one", big_payload, "three"};
    deliver(c, payloads, 3, true);
    assert_int_equal(ack_everything(c), 3);
    run_timers(c);
    assert_int_equal(count_sent(PULSAR__BASE_COMMAND__TYPE__ACK), 1);
    assert_int_equal(count_sent(PULSAR__BASE_COMMAND__TYPE__REDELIVER_UNACKNOWLEDGED_MESSAGES), 0);
    pulsar_consumer_close(c);
}

/* Message 2 of 3 cannot be allocated: 1 and 3 are delivered and acked, and
 * the entry is redelivered (message 2 comes back), never acknowledged. */
static void a_batch_with_a_message_that_could_not_be_allocated_is_redelivered(void **state)
{
    (void)state;
    pulsar_consumer *c = attached_consumer();
    const char *payloads[] = {"one", big_payload, "three"};
    fail_next_allocation_near(sizeof big_payload - 1);
    deliver(c, payloads, 3, true);
    assert_int_equal(failures_left, 0); /* the failure did happen */
    pulsar_message *m = NULL;
    assert_int_equal(pulsar_consumer_receive(c, 0, &m), OMS_OK);
    assert_string_equal(m->payload, "one");
    pulsar_consumer_ack(c, m);
    pulsar_message_free(m);
    assert_int_equal(pulsar_consumer_receive(c, 0, &m), OMS_OK);
    assert_string_equal(m->payload, "three");
    pulsar_consumer_ack(c, m);
    pulsar_message_free(m);
    assert_int_equal(pulsar_consumer_receive(c, 0, &m), OMS_ETIMEOUT);
    run_timers(c);
    assert_int_equal(count_sent(PULSAR__BASE_COMMAND__TYPE__ACK), 0);
    assert_int_equal(count_sent(PULSAR__BASE_COMMAND__TYPE__REDELIVER_UNACKNOWLEDGED_MESSAGES), 1);
    pulsar_consumer_close(c);
}

/* The entry's only message cannot be allocated: nothing is delivered, and
 * the entry is redelivered. */
static void check_an_entry_with_nothing_kept_is_redelivered(bool as_batch)
{
    pulsar_consumer *c = attached_consumer();
    const char *payloads[] = {big_payload};
    fail_next_allocation_near(sizeof big_payload - 1);
    deliver(c, payloads, 1, as_batch);
    assert_int_equal(failures_left, 0);
    assert_int_equal(ack_everything(c), 0);
    run_timers(c);
    assert_int_equal(count_sent(PULSAR__BASE_COMMAND__TYPE__ACK), 0);
    assert_int_equal(count_sent(PULSAR__BASE_COMMAND__TYPE__REDELIVER_UNACKNOWLEDGED_MESSAGES), 1);
    pulsar_consumer_close(c);
}

static void a_batch_with_no_message_kept_is_redelivered(void **state)
{
    (void)state;
    check_an_entry_with_nothing_kept_is_redelivered(true);
}

static void a_single_message_that_could_not_be_allocated_is_redelivered(void **state)
{
    (void)state;
    check_an_entry_with_nothing_kept_is_redelivered(false);
}

int main(void)
{
    memset(big_payload, 'B', sizeof big_payload - 1);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(a_batch_whose_messages_are_all_acked_is_acked_once),
        cmocka_unit_test(a_batch_with_a_message_that_could_not_be_allocated_is_redelivered),
        cmocka_unit_test(a_batch_with_no_message_kept_is_redelivered),
        cmocka_unit_test(a_single_message_that_could_not_be_allocated_is_redelivered),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
