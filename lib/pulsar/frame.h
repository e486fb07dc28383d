/* frame.h -- Pulsar's binary framing, pure bytes in and out (no I/O).
 *
 *   simple:  [totalSize][commandSize][BaseCommand]
 *   payload: [totalSize][commandSize][BaseCommand]
 *            [0x0e02][u32 size][BrokerEntryMetadata]   (incoming only, optional)
 *            [0x0e01][CRC32C]                          (optional on incoming)
 *            [metadataSize][MessageMetadata][payload]
 *
 * Every length read from the wire is checked against what is there and
 * against the frame limit; a frame that breaks a rule is reported, and the
 * caller closes the connection. Nothing here allocates except the encoders
 * (into a pulsar_buf) and the batch parser (SingleMessageMetadata). */
#ifndef PULSAR_FRAME_H
#define PULSAR_FRAME_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "oms/err.h"
#include "pulsar/pulsar_api.pb-c.h"

#define PULSAR_MAGIC_CRC32C 0x0e01
#define PULSAR_MAGIC_BROKER_ENTRY_METADATA 0x0e02
/* The broker's default max_message_size (CONNECTED field 3 overrides it). */
#define PULSAR_DEFAULT_MAX_MESSAGE_SIZE (5 * 1024 * 1024)
/* Room for command and metadata above max_message_size (the Java client's
 * padding is 10 KiB; a little more does no harm). */
#define PULSAR_FRAME_MARGIN (64 * 1024)
/* Upper bound on messages in one batch, against absurd counts. */
#define PULSAR_MAX_BATCH_MESSAGES 100000

/* CRC32C (Castagnoli), continued from `crc` (0 to start). */
uint32_t pulsar_crc32c(uint32_t crc, const void *data, size_t len);

/* A growable byte buffer (the write queue of a connection, encoded frames). */
typedef struct pulsar_buf {
    uint8_t *data;
    size_t len;
    size_t cap;
} pulsar_buf;

/* Appends n bytes; OMS_ENOMEM leaves the buffer as it was. */
oms_err pulsar_buf_append(pulsar_buf *b, const void *data, size_t n);
/* Makes room for `extra` more bytes past len. */
oms_err pulsar_buf_reserve(pulsar_buf *b, size_t extra);
/* Drops the first n bytes (n <= len). */
void pulsar_buf_consume(pulsar_buf *b, size_t n);
void pulsar_buf_free(pulsar_buf *b);

/* Appends a simple command frame. */
oms_err pulsar_frame_encode_command(pulsar_buf *out, const Pulsar__BaseCommand *cmd);

/* Appends a command-with-payload frame (SEND), with magic and CRC32C. */
oms_err pulsar_frame_encode_message(pulsar_buf *out, const Pulsar__BaseCommand *cmd, const Pulsar__MessageMetadata *md,
                                    const void *payload, size_t payload_len);

typedef enum {
    PULSAR_FRAME_OK = 0,
    PULSAR_FRAME_INCOMPLETE, /* more bytes needed: read and call again */
    PULSAR_FRAME_MALFORMED,  /* a length or marker breaks the format */
    PULSAR_FRAME_TOO_LARGE   /* totalSize above the limit */
} pulsar_frame_result;

/* One decoded frame; pointers into the caller's buffer. */
typedef struct pulsar_frame {
    size_t frame_len; /* bytes consumed, 4 + totalSize */
    const uint8_t *command;
    size_t command_len;
    bool has_payload;
    bool has_checksum;
    bool checksum_ok; /* true when has_checksum and it matched, or no checksum */
    const uint8_t *broker_entry_metadata;
    size_t broker_entry_metadata_len;
    const uint8_t *metadata;
    size_t metadata_len;
    const uint8_t *payload;
    size_t payload_len;
} pulsar_frame;

/* Decodes the frame at the start of buf[0..len). max_frame bounds totalSize.
 * A checksum mismatch is not an error here (checksum_ok = false): the
 * consumer drops that message and asks for it again. */
pulsar_frame_result pulsar_frame_decode(const uint8_t *buf, size_t len, size_t max_frame, pulsar_frame *out);

/* One message of a batch. `meta` is owned by the item (pulsar_batch_free). */
typedef struct pulsar_batch_item {
    Pulsar__SingleMessageMetadata *meta;
    const uint8_t *payload;
    size_t payload_len;
    int32_t index;
    bool acknowledged; /* the broker's ack_set says it was acked already: skip */
} pulsar_batch_item;

/* Splits a batch payload of `count` messages ([u32 size][SingleMessageMetadata]
 * [payload_size bytes] repeated) into items[count] (caller-allocated).
 * ack_set (n_ack_set words, bit i of word i/64) marks with 1 the messages not
 * yet acknowledged; an empty ack_set means none is. OMS_EINVAL on any length
 * that does not fit; then nothing is left allocated. */
oms_err pulsar_batch_parse(const uint8_t *payload, size_t len, size_t count, const int64_t *ack_set, size_t n_ack_set,
                           pulsar_batch_item *items);
void pulsar_batch_free(pulsar_batch_item *items, size_t count);

/* Appends one batch entry ([u32 size][SingleMessageMetadata][payload]); used
 * by tests (and a future batching producer). */
oms_err pulsar_batch_append(pulsar_buf *out, const Pulsar__SingleMessageMetadata *meta, const void *payload,
                            size_t payload_len);

#endif
