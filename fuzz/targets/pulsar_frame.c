/* pulsar_frame.c -- fuzz target: the Pulsar wire decoder as a connection
 * runs it over the bytes a broker sends (lib/pulsar/connection.c and
 * consumer.c): frames one after another (pulsar_frame_decode), each command
 * unpacked (protobuf-c), the metadata of a message unpacked, and a batch
 * split (pulsar_batch_parse) with the MESSAGE command's ack set.
 *
 * Properties: a decoded frame's parts lie inside the frame, in order; the
 * decoder consumes at least 8 bytes per frame and never more than it has;
 * every batch item's payload lies inside the message payload. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include "pulsar/frame.h"
#include "fuzz_check.h"

#define MAX_FRAME (PULSAR_DEFAULT_MAX_MESSAGE_SIZE + PULSAR_FRAME_MARGIN)

static bool inside(const uint8_t *part, size_t part_len, const uint8_t *start, size_t len)
{
    return part_len == 0 || (part >= start && part_len <= len && (size_t)(part - start) <= len - part_len);
}

static void split_batch(const Pulsar__BaseCommand *cmd, const Pulsar__MessageMetadata *md, const pulsar_frame *f)
{
    if (!md->has_num_messages_in_batch || (md->has_compression && md->compression != PULSAR__COMPRESSION_TYPE__NONE))
        return;
    size_t count = (size_t)(md->num_messages_in_batch > 0 ? md->num_messages_in_batch : 0);
    if (count == 0 || count > PULSAR_MAX_BATCH_MESSAGES)
        return;
    const int64_t *ack_set = NULL;
    size_t n_ack_set = 0;
    if (cmd && cmd->message) {
        ack_set = cmd->message->ack_set;
        n_ack_set = cmd->message->n_ack_set;
    }
    pulsar_batch_item *items = calloc(count, sizeof *items);
    if (!items)
        return;
    if (pulsar_batch_parse(f->payload, f->payload_len, count, ack_set, n_ack_set, items) == OMS_OK) {
        for (size_t i = 0; i < count; i++) {
            CHECK(items[i].meta != NULL);
            CHECK(inside(items[i].payload, items[i].payload_len, f->payload, f->payload_len));
            CHECK(items[i].index == (int32_t)i);
        }
        pulsar_batch_free(items, count);
    }
    /* On failure nothing is left allocated (LeakSanitizer checks it); the item
     * that failed may keep a dangling meta pointer, so it is not looked at. */
    free(items);
}

static void handle(const pulsar_frame *f, const uint8_t *frame_start)
{
    CHECK(inside(f->command, f->command_len, frame_start, f->frame_len));
    CHECK(inside(f->broker_entry_metadata, f->broker_entry_metadata_len, frame_start, f->frame_len));
    CHECK(inside(f->metadata, f->metadata_len, frame_start, f->frame_len));
    CHECK(inside(f->payload, f->payload_len, frame_start, f->frame_len));
    Pulsar__BaseCommand *cmd = pulsar__base_command__unpack(NULL, f->command_len, f->command);
    if (f->has_payload && f->metadata_len > 0) {
        Pulsar__MessageMetadata *md = pulsar__message_metadata__unpack(NULL, f->metadata_len, f->metadata);
        if (md) {
            split_batch(cmd, md, f);
            pulsar__message_metadata__free_unpacked(md, NULL);
        }
    }
    if (cmd)
        pulsar__base_command__free_unpacked(cmd, NULL);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    size_t pos = 0;
    while (pos < size) {
        pulsar_frame f;
        pulsar_frame_result r = pulsar_frame_decode(data + pos, size - pos, MAX_FRAME, &f);
        if (r != PULSAR_FRAME_OK)
            break; /* the connection reads more, or closes */
        CHECK(f.frame_len >= 8 && f.frame_len <= size - pos);
        handle(&f, data + pos);
        pos += f.frame_len;
    }
    return 0;
}
