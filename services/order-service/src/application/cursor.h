/* cursor.h -- the opaque paging cursor of GET /orders: base64url (no
 * padding) of "<created_at_ms>:<order id>", the last order of a page. */
#ifndef ORDER_CURSOR_H
#define ORDER_CURSOR_H

#include <stdbool.h>
#include <stdint.h>

#include "oms/util.h"

#define ORDER_CURSOR_MAX 96

/* Writes the cursor into out[ORDER_CURSOR_MAX]. */
void order_cursor_encode(int64_t created_at_ms, const char *order_id, char out[ORDER_CURSOR_MAX]);

/* false when the text is not a cursor this service made. */
bool order_cursor_decode(const char *text, int64_t *created_at_ms, char order_id[OMS_UUID_LEN + 1]);

#endif
