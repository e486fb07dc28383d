/* Unit tests of Pulsar framing, CRC32C and batch parsing: no I/O. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "pulsar/frame.h"

#define MAX_FRAME (PULSAR_DEFAULT_MAX_MESSAGE_SIZE + PULSAR_FRAME_MARGIN)

static void put_u32(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)(v >> 24);
    p[1] = (uint8_t)(v >> 16);
    p[2] = (uint8_t)(v >> 8);
    p[3] = (uint8_t)v;
}

/* The standard check value of CRC32C and the iSCSI test vector. */
static void crc32c_matches_known_vectors(void **state)
{
    (void)state;
    assert_int_equal(pulsar_crc32c(0, "123456789", 9), 0xE3069283u);
    uint8_t zeros[32] = {0};
    assert_int_equal(pulsar_crc32c(0, zeros, sizeof zeros), 0x8A9136AAu);
    uint8_t ones[32];
    memset(ones, 0xff, sizeof ones);
    assert_int_equal(pulsar_crc32c(0, ones, sizeof ones), 0x62A8AB43u);
    /* Continuing a CRC over two pieces equals one pass. */
    assert_int_equal(pulsar_crc32c(pulsar_crc32c(0, "1234", 4), "56789", 5), 0xE3069283u);
}

static void encode_ping(pulsar_buf *out)
{
    Pulsar__BaseCommand cmd = PULSAR__BASE_COMMAND__INIT;
    Pulsar__CommandPing ping = PULSAR__COMMAND_PING__INIT;
    cmd.type = PULSAR__BASE_COMMAND__TYPE__PING;
    cmd.ping = &ping;
    assert_int_equal(pulsar_frame_encode_command(out, &cmd), OMS_OK);
}

static void encode_send(pulsar_buf *out, const char *payload)
{
    Pulsar__BaseCommand cmd = PULSAR__BASE_COMMAND__INIT;
    Pulsar__CommandSend send = PULSAR__COMMAND_SEND__INIT;
    cmd.type = PULSAR__BASE_COMMAND__TYPE__SEND;
    cmd.send = &send;
    send.producer_id = 7;
    send.sequence_id = 42;
    Pulsar__MessageMetadata md = PULSAR__MESSAGE_METADATA__INIT;
    md.producer_name = "p";
    md.sequence_id = 42;
    md.publish_time = 1000;
    md.partition_key = "order-1";
    assert_int_equal(pulsar_frame_encode_message(out, &cmd, &md, payload, strlen(payload)), OMS_OK);
}

/* A simple command comes back as it went: sizes, command, no payload. */
static void simple_command_round_trips(void **state)
{
    (void)state;
    pulsar_buf b = {0};
    encode_ping(&b);
    pulsar_frame f;
    assert_int_equal(pulsar_frame_decode(b.data, b.len, MAX_FRAME, &f), PULSAR_FRAME_OK);
    assert_int_equal(f.frame_len, b.len);
    assert_false(f.has_payload);
    Pulsar__BaseCommand *cmd = pulsar__base_command__unpack(NULL, f.command_len, f.command);
    assert_non_null(cmd);
    assert_int_equal(cmd->type, PULSAR__BASE_COMMAND__TYPE__PING);
    pulsar__base_command__free_unpacked(cmd, NULL);
    pulsar_buf_free(&b);
}

/* A SEND frame carries the magic, a CRC32C that verifies, metadata and payload. */
static void message_frame_round_trips_with_checksum(void **state)
{
    (void)state;
    pulsar_buf b = {0};
    encode_send(&b, "{\"hello\":1}");
    pulsar_frame f;
    assert_int_equal(pulsar_frame_decode(b.data, b.len, MAX_FRAME, &f), PULSAR_FRAME_OK);
    assert_true(f.has_payload);
    assert_true(f.has_checksum);
    assert_true(f.checksum_ok);
    assert_int_equal(f.payload_len, 11);
    assert_memory_equal(f.payload, "{\"hello\":1}", 11);
    Pulsar__MessageMetadata *md = pulsar__message_metadata__unpack(NULL, f.metadata_len, f.metadata);
    assert_non_null(md);
    assert_string_equal(md->partition_key, "order-1");
    assert_int_equal(md->sequence_id, 42);
    assert_false(md->has_num_messages_in_batch);
    pulsar__message_metadata__free_unpacked(md, NULL);
    /* One flipped payload bit: still a frame, but the checksum says so. */
    b.data[b.len - 1] ^= 1;
    assert_int_equal(pulsar_frame_decode(b.data, b.len, MAX_FRAME, &f), PULSAR_FRAME_OK);
    assert_false(f.checksum_ok);
    pulsar_buf_free(&b);
}

/* Builds [total][cmdlen][cmd] + tail bytes, for incoming-frame variants. */
static void build_message_frame(pulsar_buf *out, const uint8_t *tail, size_t tail_len)
{
    pulsar_buf cmdb = {0};
    encode_ping(&cmdb); /* reuse a small command body */
    size_t cmd_len = cmdb.len - 8;
    uint8_t head[8];
    put_u32(head, (uint32_t)(4 + cmd_len + tail_len));
    put_u32(head + 4, (uint32_t)cmd_len);
    pulsar_buf_append(out, head, 8);
    pulsar_buf_append(out, cmdb.data + 8, cmd_len);
    pulsar_buf_append(out, tail, tail_len);
    pulsar_buf_free(&cmdb);
}

/* Incoming MESSAGE frames may lack the checksum and may carry broker entry
 * metadata (0x0e02) first: both are read. */
static void incoming_frame_without_checksum_and_with_broker_metadata(void **state)
{
    (void)state;
    uint8_t tail[64];
    size_t n = 0;
    /* [0x0e02][size 3][3 bytes] [metadataSize 2][2 bytes] payload "ab" */
    tail[n++] = 0x0e;
    tail[n++] = 0x02;
    put_u32(tail + n, 3);
    n += 4;
    tail[n++] = 0x08;
    tail[n++] = 0x01;
    tail[n++] = 0x10;
    put_u32(tail + n, 2);
    n += 4;
    tail[n++] = 0x10;
    tail[n++] = 0x05;
    tail[n++] = 'a';
    tail[n++] = 'b';
    pulsar_buf b = {0};
    build_message_frame(&b, tail, n);
    pulsar_frame f;
    assert_int_equal(pulsar_frame_decode(b.data, b.len, MAX_FRAME, &f), PULSAR_FRAME_OK);
    assert_false(f.has_checksum);
    assert_true(f.checksum_ok);
    assert_int_equal(f.broker_entry_metadata_len, 3);
    assert_int_equal(f.metadata_len, 2);
    assert_int_equal(f.payload_len, 2);
    assert_memory_equal(f.payload, "ab", 2);
    pulsar_buf_free(&b);
}

/* Every prefix of a valid frame is "incomplete", never an error or a read past the end. */
static void truncated_frames_are_incomplete(void **state)
{
    (void)state;
    pulsar_buf b = {0};
    encode_send(&b, "payload");
    for (size_t len = 0; len < b.len; len++) {
        uint8_t *copy = malloc(len ? len : 1); /* exact size: ASan catches an overread */
        memcpy(copy, b.data, len);
        pulsar_frame f;
        assert_int_equal(pulsar_frame_decode(copy, len, MAX_FRAME, &f), PULSAR_FRAME_INCOMPLETE);
        free(copy);
    }
    pulsar_buf_free(&b);
}

static void totalsize_above_the_limit_is_refused(void **state)
{
    (void)state;
    uint8_t head[8];
    put_u32(head, MAX_FRAME + 1);
    put_u32(head + 4, 4);
    pulsar_frame f;
    assert_int_equal(pulsar_frame_decode(head, sizeof head, MAX_FRAME, &f), PULSAR_FRAME_TOO_LARGE);
    put_u32(head, 0xffffffffu);
    assert_int_equal(pulsar_frame_decode(head, sizeof head, MAX_FRAME, &f), PULSAR_FRAME_TOO_LARGE);
    /* A smaller broker limit (CONNECTED max_message_size) is applied too. */
    pulsar_buf b = {0};
    encode_send(&b, "0123456789");
    assert_int_equal(pulsar_frame_decode(b.data, b.len, 20, &f), PULSAR_FRAME_TOO_LARGE);
    pulsar_buf_free(&b);
}

static void bad_lengths_inside_a_frame_are_malformed(void **state)
{
    (void)state;
    pulsar_frame f;
    uint8_t small[8];
    put_u32(small, 3); /* totalSize must hold commandSize */
    put_u32(small + 4, 0);
    assert_int_equal(pulsar_frame_decode(small, 8, MAX_FRAME, &f), PULSAR_FRAME_MALFORMED);
    uint8_t over[12] = {0};
    put_u32(over, 8);
    put_u32(over + 4, 5); /* commandSize > totalSize - 4 */
    assert_int_equal(pulsar_frame_decode(over, 12, MAX_FRAME, &f), PULSAR_FRAME_MALFORMED);
    put_u32(over + 4, 0); /* empty command */
    assert_int_equal(pulsar_frame_decode(over, 12, MAX_FRAME, &f), PULSAR_FRAME_MALFORMED);

    pulsar_buf b = {0};
    uint8_t tail[16];
    /* metadataSize beyond the frame */
    put_u32(tail, 100);
    tail[4] = 1;
    build_message_frame(&b, tail, 5);
    assert_int_equal(pulsar_frame_decode(b.data, b.len, MAX_FRAME, &f), PULSAR_FRAME_MALFORMED);
    b.len = 0;
    /* magic with a cut checksum */
    tail[0] = 0x0e;
    tail[1] = 0x01;
    tail[2] = 0;
    build_message_frame(&b, tail, 3);
    assert_int_equal(pulsar_frame_decode(b.data, b.len, MAX_FRAME, &f), PULSAR_FRAME_MALFORMED);
    b.len = 0;
    /* broker entry metadata whose size runs past the end */
    tail[0] = 0x0e;
    tail[1] = 0x02;
    put_u32(tail + 2, 1000);
    build_message_frame(&b, tail, 8);
    assert_int_equal(pulsar_frame_decode(b.data, b.len, MAX_FRAME, &f), PULSAR_FRAME_MALFORMED);
    b.len = 0;
    /* payload part too short for metadataSize */
    tail[0] = 0;
    tail[1] = 0;
    build_message_frame(&b, tail, 2);
    assert_int_equal(pulsar_frame_decode(b.data, b.len, MAX_FRAME, &f), PULSAR_FRAME_MALFORMED);
    pulsar_buf_free(&b);
}

static void append_entry(pulsar_buf *b, const char *key, const char *payload)
{
    Pulsar__SingleMessageMetadata m = PULSAR__SINGLE_MESSAGE_METADATA__INIT;
    m.partition_key = (char *)key;
    m.payload_size = (int32_t)strlen(payload);
    assert_int_equal(pulsar_batch_append(b, &m, payload, strlen(payload)), OMS_OK);
}

/* A batch of three with ack_set 0b101: the middle one was acked already. */
static void batch_parses_and_honours_ack_set(void **state)
{
    (void)state;
    pulsar_buf b = {0};
    append_entry(&b, "k1", "one");
    append_entry(&b, "k2", "two");
    append_entry(&b, "k3", "three");
    pulsar_batch_item items[3];
    int64_t ack_set[1] = {0x5};
    assert_int_equal(pulsar_batch_parse(b.data, b.len, 3, ack_set, 1, items), OMS_OK);
    assert_false(items[0].acknowledged);
    assert_true(items[1].acknowledged);
    assert_false(items[2].acknowledged);
    assert_string_equal(items[2].meta->partition_key, "k3");
    assert_int_equal(items[2].payload_len, 5);
    assert_memory_equal(items[2].payload, "three", 5);
    assert_int_equal(items[1].index, 1);
    pulsar_batch_free(items, 3);
    /* No ack_set: every message is pending. */
    assert_int_equal(pulsar_batch_parse(b.data, b.len, 3, NULL, 0, items), OMS_OK);
    assert_false(items[1].acknowledged);
    pulsar_batch_free(items, 3);
    pulsar_buf_free(&b);
}

static void batch_with_bad_sizes_is_refused(void **state)
{
    (void)state;
    pulsar_buf b = {0};
    append_entry(&b, "k1", "one");
    append_entry(&b, "k2", "two");
    pulsar_batch_item items[4];
    /* More messages announced than present. */
    assert_int_equal(pulsar_batch_parse(b.data, b.len, 3, NULL, 0, items), OMS_EINVAL);
    /* Every truncation fails cleanly (ASan checks nothing leaks or overreads). */
    for (size_t len = 0; len < b.len; len++)
        assert_int_equal(pulsar_batch_parse(b.data, len, 2, NULL, 0, items), OMS_EINVAL);
    /* A payload_size larger than what follows. */
    pulsar_buf bad = {0};
    Pulsar__SingleMessageMetadata m = PULSAR__SINGLE_MESSAGE_METADATA__INIT;
    m.payload_size = 1000;
    assert_int_equal(pulsar_batch_append(&bad, &m, "x", 1), OMS_OK);
    assert_int_equal(pulsar_batch_parse(bad.data, bad.len, 1, NULL, 0, items), OMS_EINVAL);
    /* Zero and absurd counts. */
    assert_int_equal(pulsar_batch_parse(b.data, b.len, 0, NULL, 0, items), OMS_EINVAL);
    assert_int_equal(pulsar_batch_parse(b.data, b.len, PULSAR_MAX_BATCH_MESSAGES + 1, NULL, 0, items), OMS_EINVAL);
    pulsar_buf_free(&bad);
    pulsar_buf_free(&b);
}

/* Random bytes, and valid frames with random bytes flipped, never crash the
 * decoder or the protobuf and batch parsers behind it. */
static void hostile_bytes_never_crash(void **state)
{
    (void)state;
    srand(12345);
    pulsar_buf valid = {0};
    encode_send(&valid, "some payload that is long enough");
    for (int round = 0; round < 20000; round++) {
        size_t len;
        uint8_t *buf;
        if (round % 2) {
            len = (size_t)(rand() % 200);
            buf = malloc(len ? len : 1);
            for (size_t i = 0; i < len; i++)
                buf[i] = (uint8_t)rand();
            if (len >= 4 && round % 4 == 1)
                put_u32(buf, (uint32_t)(len - 4)); /* plausible totalSize */
        } else {
            len = valid.len;
            buf = malloc(len);
            memcpy(buf, valid.data, len);
            for (int k = 0; k < 1 + rand() % 4; k++)
                buf[rand() % len] = (uint8_t)rand();
        }
        pulsar_frame f;
        if (pulsar_frame_decode(buf, len, MAX_FRAME, &f) == PULSAR_FRAME_OK) {
            assert_true(f.frame_len <= len);
            Pulsar__BaseCommand *cmd = pulsar__base_command__unpack(NULL, f.command_len, f.command);
            if (cmd)
                pulsar__base_command__free_unpacked(cmd, NULL);
            if (f.has_payload) {
                Pulsar__MessageMetadata *md = pulsar__message_metadata__unpack(NULL, f.metadata_len, f.metadata);
                if (md)
                    pulsar__message_metadata__free_unpacked(md, NULL);
                pulsar_batch_item items[8];
                size_t count = 1 + (size_t)(rand() % 8);
                if (pulsar_batch_parse(f.payload, f.payload_len, count, NULL, 0, items) == OMS_OK)
                    pulsar_batch_free(items, count);
            }
        }
        free(buf);
    }
    pulsar_buf_free(&valid);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(crc32c_matches_known_vectors),
        cmocka_unit_test(simple_command_round_trips),
        cmocka_unit_test(message_frame_round_trips_with_checksum),
        cmocka_unit_test(incoming_frame_without_checksum_and_with_broker_metadata),
        cmocka_unit_test(truncated_frames_are_incomplete),
        cmocka_unit_test(totalsize_above_the_limit_is_refused),
        cmocka_unit_test(bad_lengths_inside_a_frame_are_malformed),
        cmocka_unit_test(batch_parses_and_honours_ack_set),
        cmocka_unit_test(batch_with_bad_sizes_is_refused),
        cmocka_unit_test(hostile_bytes_never_crash),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
