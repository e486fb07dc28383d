/* cursor.c -- encoding of the paging cursor (base64url, RFC 4648 section 5). */
#include "application/cursor.h"

#include <inttypes.h>
#include <stdio.h>
#include <string.h>

static const char alphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

static int sextet(char c)
{
    const char *p = c ? strchr(alphabet, c) : NULL;
    return p ? (int)(p - alphabet) : -1;
}

void order_cursor_encode(int64_t created_at_ms, const char *order_id, char out[ORDER_CURSOR_MAX])
{
    char plain[64];
    int n = snprintf(plain, sizeof plain, "%" PRId64 ":%s", created_at_ms, order_id);
    size_t o = 0;
    for (int i = 0; i < n; i += 3) {
        uint32_t v = (uint32_t)(unsigned char)plain[i] << 16;
        int left = n - i;
        if (left > 1)
            v |= (uint32_t)(unsigned char)plain[i + 1] << 8;
        if (left > 2)
            v |= (uint32_t)(unsigned char)plain[i + 2];
        out[o++] = alphabet[(v >> 18) & 63];
        out[o++] = alphabet[(v >> 12) & 63];
        if (left > 1)
            out[o++] = alphabet[(v >> 6) & 63];
        if (left > 2)
            out[o++] = alphabet[v & 63];
    }
    out[o] = '\0';
}

/* Decodes base64url into plain (at most cap-1 bytes). -1 on bad input. */
static int decode(const char *text, char *plain, size_t cap)
{
    size_t len = strlen(text), o = 0;
    if (len % 4 == 1 || len == 0 || (len / 4) * 3 + 3 >= cap)
        return -1;
    for (size_t i = 0; i < len; i += 4) {
        uint32_t v = 0;
        size_t chunk = len - i < 4 ? len - i : 4;
        for (size_t j = 0; j < 4; j++) {
            int s = j < chunk ? sextet(text[i + j]) : 0;
            if (s < 0)
                return -1;
            v = (v << 6) | (uint32_t)s;
        }
        plain[o++] = (char)(v >> 16);
        if (chunk > 2)
            plain[o++] = (char)(v >> 8);
        if (chunk > 3)
            plain[o++] = (char)v;
    }
    plain[o] = '\0';
    return (int)o;
}

bool order_cursor_decode(const char *text, int64_t *created_at_ms, char order_id[OMS_UUID_LEN + 1])
{
    char plain[ORDER_CURSOR_MAX];
    if (!text || strlen(text) >= ORDER_CURSOR_MAX)
        return false;
    int n = decode(text, plain, sizeof plain);
    if (n <= 0 || memchr(plain, '\0', (size_t)n))
        return false;
    char *colon = strchr(plain, ':');
    if (!colon || colon == plain)
        return false;
    *colon = '\0';
    int64_t ms = 0;
    for (const char *p = plain; *p; p++) {
        if (*p < '0' || *p > '9' || ms > (INT64_MAX - 9) / 10)
            return false;
        ms = ms * 10 + (*p - '0');
    }
    if (!oms_uuid_valid(colon + 1))
        return false;
    *created_at_ms = ms;
    snprintf(order_id, OMS_UUID_LEN + 1, "%s", colon + 1);
    return true;
}
