/* pulsar_batch.c -- fuzz target: pulsar_batch_parse alone, with the count
 * and the ack set taken from the input (in a real frame they come from the
 * metadata and the MESSAGE command, which the pulsar_frame target reaches
 * only through two protobuf decodes).
 *
 * Input: u16 count (big endian), u8 ack words (0..4), that many 8-byte
 * words, then the batch payload.
 * Properties: on success every item's payload lies inside the buffer and
 * items follow each other; on failure nothing is left allocated (LeakSanitizer). */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include "pulsar/frame.h"
#include "fuzz_check.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 3)
        return 0;
    size_t count = (size_t)data[0] << 8 | data[1];
    size_t n_ack = data[2] % 5;
    if (size < 3 + 8 * n_ack)
        return 0;
    int64_t ack_set[4];
    for (size_t w = 0; w < n_ack; w++) {
        uint64_t v = 0;
        for (int i = 0; i < 8; i++)
            v = (v << 8) | data[3 + 8 * w + (size_t)i];
        ack_set[w] = (int64_t)v;
    }
    const uint8_t *payload = data + 3 + 8 * n_ack;
    size_t len = size - 3 - 8 * n_ack;
    pulsar_batch_item *items = calloc(count ? count : 1, sizeof *items);
    if (!items)
        return 0;
    if (pulsar_batch_parse(payload, len, count, ack_set, n_ack, items) == OMS_OK) {
        const uint8_t *prev_end = payload;
        for (size_t i = 0; i < count; i++) {
            CHECK(items[i].meta != NULL && items[i].index == (int32_t)i);
            CHECK(items[i].payload >= prev_end);
            CHECK(items[i].payload_len <= len && (size_t)(items[i].payload - payload) <= len - items[i].payload_len);
            prev_end = items[i].payload + items[i].payload_len;
        }
        pulsar_batch_free(items, count);
    }
    /* On failure nothing is left allocated (LeakSanitizer checks it); the item
     * that failed may keep a dangling meta pointer, so it is not looked at. */
    free(items);
    return 0;
}
