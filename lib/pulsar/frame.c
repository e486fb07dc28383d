/* frame.c -- Pulsar framing and CRC32C; see frame.h for the layout. */
#include "pulsar/frame.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

/* ---- CRC32C: the reflected Castagnoli polynomial 0x82F63B78, one table of
 * 256 entries built once. */
static uint32_t crc_table[256];

static void crc_table_build(void)
{
    for (uint32_t i = 0; i < 256; i++) {
        uint32_t c = i;
        for (int k = 0; k < 8; k++)
            c = (c & 1) ? (c >> 1) ^ 0x82F63B78u : c >> 1;
        crc_table[i] = c;
    }
}

uint32_t pulsar_crc32c(uint32_t crc, const void *data, size_t len)
{
    static pthread_once_t once = PTHREAD_ONCE_INIT;
    pthread_once(&once, crc_table_build);
    const uint8_t *p = data;
    crc = ~crc;
    for (size_t i = 0; i < len; i++)
        crc = crc_table[(crc ^ p[i]) & 0xff] ^ (crc >> 8);
    return ~crc;
}

/* ---- buffers */
oms_err pulsar_buf_reserve(pulsar_buf *b, size_t extra)
{
    if (extra > SIZE_MAX / 2 - b->len)
        return OMS_ENOMEM;
    size_t need = b->len + extra;
    if (need <= b->cap)
        return OMS_OK;
    size_t cap = b->cap ? b->cap : 256;
    while (cap < need)
        cap *= 2;
    uint8_t *data = realloc(b->data, cap);
    if (!data)
        return OMS_ENOMEM;
    b->data = data;
    b->cap = cap;
    return OMS_OK;
}

oms_err pulsar_buf_append(pulsar_buf *b, const void *data, size_t n)
{
    if (n == 0)
        return OMS_OK;
    if (pulsar_buf_reserve(b, n) != OMS_OK)
        return OMS_ENOMEM;
    memcpy(b->data + b->len, data, n);
    b->len += n;
    return OMS_OK;
}

void pulsar_buf_consume(pulsar_buf *b, size_t n)
{
    if (n >= b->len) {
        b->len = 0;
        return;
    }
    memmove(b->data, b->data + n, b->len - n);
    b->len -= n;
}

void pulsar_buf_free(pulsar_buf *b)
{
    free(b->data);
    b->data = NULL;
    b->len = b->cap = 0;
}

static void put_u32(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)(v >> 24);
    p[1] = (uint8_t)(v >> 16);
    p[2] = (uint8_t)(v >> 8);
    p[3] = (uint8_t)v;
}

static uint32_t get_u32(const uint8_t *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | (uint32_t)p[3];
}

static uint16_t get_u16(const uint8_t *p) { return (uint16_t)(p[0] << 8 | p[1]); }

/* ---- encoding */
oms_err pulsar_frame_encode_command(pulsar_buf *out, const Pulsar__BaseCommand *cmd)
{
    size_t command_len = pulsar__base_command__get_packed_size(cmd);
    if (command_len > UINT32_MAX - 8)
        return OMS_ETOOLARGE;
    if (pulsar_buf_reserve(out, 8 + command_len) != OMS_OK)
        return OMS_ENOMEM;
    uint8_t *p = out->data + out->len;
    put_u32(p, (uint32_t)(4 + command_len));
    put_u32(p + 4, (uint32_t)command_len);
    pulsar__base_command__pack(cmd, p + 8);
    out->len += 8 + command_len;
    return OMS_OK;
}

oms_err pulsar_frame_encode_message(pulsar_buf *out, const Pulsar__BaseCommand *cmd, const Pulsar__MessageMetadata *md,
                                    const void *payload, size_t payload_len)
{
    size_t command_len = pulsar__base_command__get_packed_size(cmd);
    size_t metadata_len = pulsar__message_metadata__get_packed_size(md);
    if (command_len > UINT32_MAX / 4 || metadata_len > UINT32_MAX / 4 || payload_len > UINT32_MAX / 4)
        return OMS_ETOOLARGE;
    /* totalSize counts everything after itself. */
    size_t total = 4 + command_len + 2 + 4 + 4 + metadata_len + payload_len;
    if (pulsar_buf_reserve(out, 4 + total) != OMS_OK)
        return OMS_ENOMEM;
    uint8_t *p = out->data + out->len;
    put_u32(p, (uint32_t)total);
    put_u32(p + 4, (uint32_t)command_len);
    pulsar__base_command__pack(cmd, p + 8);
    uint8_t *q = p + 8 + command_len;
    q[0] = PULSAR_MAGIC_CRC32C >> 8;
    q[1] = PULSAR_MAGIC_CRC32C & 0xff;
    uint8_t *checksum = q + 2;
    uint8_t *checked = q + 6;
    put_u32(checked, (uint32_t)metadata_len);
    pulsar__message_metadata__pack(md, checked + 4);
    if (payload_len)
        memcpy(checked + 4 + metadata_len, payload, payload_len);
    put_u32(checksum, pulsar_crc32c(0, checked, 4 + metadata_len + payload_len));
    out->len += 4 + total;
    return OMS_OK;
}

/* ---- decoding */

/* Parses what follows the command of a frame with a payload:
 * rest[0..n) = [0x0e02 ...]? [0x0e01 crc]? [metadataSize][metadata][payload]. */
static pulsar_frame_result decode_payload_part(const uint8_t *rest, size_t n, pulsar_frame *out)
{
    size_t pos = 0;
    if (n - pos >= 2 && get_u16(rest + pos) == PULSAR_MAGIC_BROKER_ENTRY_METADATA) {
        if (n - pos < 6)
            return PULSAR_FRAME_MALFORMED;
        uint32_t size = get_u32(rest + pos + 2);
        if (size > n - pos - 6)
            return PULSAR_FRAME_MALFORMED;
        out->broker_entry_metadata = rest + pos + 6;
        out->broker_entry_metadata_len = size;
        pos += 6 + (size_t)size;
    }
    if (n - pos >= 2 && get_u16(rest + pos) == PULSAR_MAGIC_CRC32C) {
        if (n - pos < 6)
            return PULSAR_FRAME_MALFORMED;
        uint32_t expected = get_u32(rest + pos + 2);
        pos += 6;
        out->has_checksum = true;
        out->checksum_ok = pulsar_crc32c(0, rest + pos, n - pos) == expected;
    }
    if (n - pos < 4)
        return PULSAR_FRAME_MALFORMED;
    uint32_t metadata_len = get_u32(rest + pos);
    pos += 4;
    if (metadata_len == 0 || metadata_len > n - pos)
        return PULSAR_FRAME_MALFORMED;
    out->metadata = rest + pos;
    out->metadata_len = metadata_len;
    pos += metadata_len;
    out->payload = rest + pos;
    out->payload_len = n - pos;
    return PULSAR_FRAME_OK;
}

pulsar_frame_result pulsar_frame_decode(const uint8_t *buf, size_t len, size_t max_frame, pulsar_frame *out)
{
    memset(out, 0, sizeof *out);
    out->checksum_ok = true;
    if (len < 4)
        return PULSAR_FRAME_INCOMPLETE;
    uint32_t total = get_u32(buf);
    if (total > max_frame)
        return PULSAR_FRAME_TOO_LARGE;
    if (total < 4)
        return PULSAR_FRAME_MALFORMED;
    if (len - 4 < total)
        return PULSAR_FRAME_INCOMPLETE;
    uint32_t command_len = get_u32(buf + 4);
    if (command_len == 0 || command_len > total - 4)
        return PULSAR_FRAME_MALFORMED;
    out->frame_len = 4 + (size_t)total;
    out->command = buf + 8;
    out->command_len = command_len;
    size_t rest_len = total - 4 - command_len;
    if (rest_len == 0)
        return PULSAR_FRAME_OK;
    out->has_payload = true;
    return decode_payload_part(buf + 8 + command_len, rest_len, out);
}

/* ---- batches */
static bool ack_set_says_acknowledged(const int64_t *ack_set, size_t n_ack_set, size_t index)
{
    if (n_ack_set == 0)
        return false;
    size_t word = index / 64;
    if (word >= n_ack_set)
        return true; /* beyond the set: no bit 1 says it is pending */
    return ((uint64_t)ack_set[word] >> (index % 64) & 1u) == 0;
}

oms_err pulsar_batch_parse(const uint8_t *payload, size_t len, size_t count, const int64_t *ack_set, size_t n_ack_set,
                           pulsar_batch_item *items)
{
    if (count == 0 || count > PULSAR_MAX_BATCH_MESSAGES)
        return OMS_EINVAL;
    size_t pos = 0;
    for (size_t i = 0; i < count; i++) {
        items[i].meta = NULL;
        oms_err rc = OMS_EINVAL;
        if (len - pos >= 4) {
            uint32_t meta_len = get_u32(payload + pos);
            pos += 4;
            if (meta_len <= len - pos) {
                items[i].meta = pulsar__single_message_metadata__unpack(NULL, meta_len, payload + pos);
                pos += meta_len;
            }
            if (items[i].meta && items[i].meta->payload_size >= 0 && (size_t)items[i].meta->payload_size <= len - pos) {
                items[i].payload = payload + pos;
                items[i].payload_len = (size_t)items[i].meta->payload_size;
                items[i].index = (int32_t)i;
                items[i].acknowledged = ack_set_says_acknowledged(ack_set, n_ack_set, i);
                pos += items[i].payload_len;
                rc = OMS_OK;
            }
        }
        if (rc != OMS_OK) {
            /* Free this item too, and leave every entry NULL so that a caller
             * calling pulsar_batch_free again frees nothing twice. */
            pulsar_batch_free(items, i + 1);
            return rc;
        }
    }
    return OMS_OK;
}

void pulsar_batch_free(pulsar_batch_item *items, size_t count)
{
    for (size_t i = 0; i < count; i++) {
        if (items[i].meta)
            pulsar__single_message_metadata__free_unpacked(items[i].meta, NULL);
        items[i].meta = NULL;
    }
}

oms_err pulsar_batch_append(pulsar_buf *out, const Pulsar__SingleMessageMetadata *meta, const void *payload,
                            size_t payload_len)
{
    size_t meta_len = pulsar__single_message_metadata__get_packed_size(meta);
    if (meta_len > UINT32_MAX / 2)
        return OMS_ETOOLARGE;
    if (pulsar_buf_reserve(out, 4 + meta_len + payload_len) != OMS_OK)
        return OMS_ENOMEM;
    uint8_t *p = out->data + out->len;
    put_u32(p, (uint32_t)meta_len);
    pulsar__single_message_metadata__pack(meta, p + 4);
    if (payload_len)
        memcpy(p + 4 + meta_len, payload, payload_len);
    out->len += 4 + meta_len + payload_len;
    return OMS_OK;
}
