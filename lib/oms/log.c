/* log.c -- one JSON object per line on stdout, written with one write(2). */
#include "log.h"

#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "util.h"

#define LOG_LINE_MAX 8192
#define LOG_VALUE_MAX 2048 /* bytes of one value; a longer one is cut */
#define REQUEST_ID_MAX 128

static char service[64] = "oms";
static oms_log_level min_level = OMS_LOG_INFO;
static _Thread_local char thread_request_id[REQUEST_ID_MAX + 1];

void oms_log_init(const char *service_name, oms_log_level level)
{
    snprintf(service, sizeof service, "%s", service_name ? service_name : "oms");
    min_level = level;
}

void oms_log_set_request_id(const char *request_id)
{
    snprintf(thread_request_id, sizeof thread_request_id, "%s", request_id ? request_id : "");
}

const char *oms_log_request_id(void) { return thread_request_id; }

typedef struct line_buf {
    char data[LOG_LINE_MAX];
    size_t len;
    bool full;      /* the field being written did not fit */
    bool truncated; /* a value was cut or a field left out */
} line_buf;

/* Room always kept for what ends a line, so that it is valid JSON whatever
 * came before it. */
static const char line_end_truncated[] = ",\"truncated\":true}\n";
#define LINE_END_ROOM (sizeof line_end_truncated - 1)

static void put_raw(line_buf *b, const char *s, size_t n)
{
    if (b->full || n > sizeof b->data - LINE_END_ROOM - b->len) {
        b->full = true;
        return;
    }
    memcpy(b->data + b->len, s, n);
    b->len += n;
}

static void put_str(line_buf *b, const char *s) { put_raw(b, s, strlen(s)); }

/* Length of the well-formed UTF-8 sequence starting at p (2 to 4 bytes), or
 * 0 when the bytes there are not one (a stray continuation byte, an overlong
 * form, a surrogate, a sequence cut by the end of the string). */
static size_t utf8_sequence(const unsigned char *p)
{
    static const uint32_t smallest[] = {0, 0, 0x80, 0x800, 0x10000};
    size_t n = p[0] >= 0xf0 ? 4 : p[0] >= 0xe0 ? 3 : p[0] >= 0xc0 ? 2 : 0;
    if (n == 0 || p[0] > 0xf4)
        return 0;
    uint32_t code = p[0] & (0x3fu >> (n - 1));
    for (size_t i = 1; i < n; i++) {
        if ((p[i] & 0xc0) != 0x80)
            return 0;
        code = (code << 6) | (p[i] & 0x3fu);
    }
    bool surrogate = code >= 0xd800 && code <= 0xdfff;
    return code < smallest[n] || code > 0x10ffff || surrogate ? 0 : n;
}

/* One character of s at *p, escaped for a JSON string; advances *p. Bytes
 * that are not UTF-8 become U+FFFD, so a line is always valid UTF-8. */
static void put_escaped_char(line_buf *b, const unsigned char **p)
{
    unsigned char c = **p;
    char esc[8];
    size_t seq = c >= 0x80 ? utf8_sequence(*p) : 1;
    if (seq == 0) {
        put_raw(b, "\\ufffd", 6);
        seq = 1;
    } else if (seq > 1) {
        put_raw(b, (const char *)*p, seq);
    } else if (c == '"' || c == '\\') {
        esc[0] = '\\';
        esc[1] = (char)c;
        put_raw(b, esc, 2);
    } else if (c == '\n') {
        put_raw(b, "\\n", 2);
    } else if (c == '\t') {
        put_raw(b, "\\t", 2);
    } else if (c == '\r') {
        put_raw(b, "\\r", 2);
    } else if (c < 0x20 || c == 0x7f) {
        snprintf(esc, sizeof esc, "\\u%04x", c);
        put_raw(b, esc, 6);
    } else {
        put_raw(b, (const char *)&c, 1);
    }
    *p += seq;
}

/* s as a JSON string of at most LOG_VALUE_MAX bytes of s, cut between two
 * characters (the line is then marked truncated). */
static void put_json_string(line_buf *b, const char *s)
{
    const unsigned char *start = (const unsigned char *)s;
    const unsigned char *p = start;
    put_raw(b, "\"", 1);
    while (*p && !b->full) {
        if ((size_t)(p - start) >= LOG_VALUE_MAX) {
            b->truncated = true;
            break;
        }
        put_escaped_char(b, &p);
    }
    put_raw(b, "\"", 1);
}

/* A field is written whole or not at all: when it does not fit, the line is
 * as it was before it and is marked truncated, and later (shorter) fields
 * may still fit. */
static void put_field(line_buf *b, const char *key, const char *value, const char *raw_value)
{
    size_t before = b->len;
    put_raw(b, ",", 1);
    put_json_string(b, key);
    put_raw(b, ":", 1);
    if (raw_value)
        put_str(b, raw_value);
    else if (value)
        put_json_string(b, value);
    else
        put_str(b, "null");
    if (b->full) {
        b->len = before;
        b->full = false;
        b->truncated = true;
    }
}

static const char *level_name(oms_log_level level)
{
    switch (level) {
    case OMS_LOG_DEBUG: return "debug";
    case OMS_LOG_INFO: return "info";
    case OMS_LOG_WARN: return "warn";
    default: return "error";
    }
}

static void put_header(line_buf *b, oms_log_level level, const char *event)
{
    char ts[32];
    oms_time_format(oms_now_ms(), ts, sizeof ts);
    put_str(b, "{\"ts\":\"");
    put_str(b, ts);
    put_str(b, "\"");
    put_field(b, "level", level_name(level), NULL);
    put_field(b, "service", service, NULL);
    put_field(b, "event", event, NULL);
    if (thread_request_id[0])
        put_field(b, "request_id", thread_request_id, NULL);
}

static void put_pairs(line_buf *b, va_list ap)
{
    for (;;) {
        const char *key = va_arg(ap, const char *);
        if (!key)
            break;
        const char *value = va_arg(ap, const char *);
        put_field(b, key, value, NULL);
    }
}

/* A JSON number: an integer when it is one, else three decimals; null for
 * what JSON cannot hold. */
static void put_number(line_buf *b, const char *key, double value)
{
    char num[64];
    if (value != value || value > 1e300 || value < -1e300)
        snprintf(num, sizeof num, "null");
    else if (value == (double)(long long)value && value < 1e15 && value > -1e15)
        snprintf(num, sizeof num, "%lld", (long long)value);
    else
        snprintf(num, sizeof num, "%.3f", value);
    put_field(b, key, NULL, num);
}

static void emit(line_buf *b)
{
    if (b->truncated) {
        memcpy(b->data + b->len, line_end_truncated, LINE_END_ROOM);
        b->len += LINE_END_ROOM;
    } else {
        b->data[b->len++] = '}';
        b->data[b->len++] = '\n';
    }
    ssize_t ignored = write(STDOUT_FILENO, b->data, b->len);
    (void)ignored;
}

void oms_log(oms_log_level level, const char *event, ...)
{
    if (level < min_level)
        return;
    line_buf b = {.len = 0};
    put_header(&b, level, event);
    va_list ap;
    va_start(ap, event);
    put_pairs(&b, ap);
    va_end(ap);
    emit(&b);
}

void oms_log_num(oms_log_level level, const char *event, const char *num_key, double num_value, ...)
{
    if (level < min_level)
        return;
    line_buf b = {.len = 0};
    put_header(&b, level, event);
    put_number(&b, num_key, num_value);
    va_list ap;
    va_start(ap, num_value);
    put_pairs(&b, ap);
    va_end(ap);
    emit(&b);
}

void oms_log_access(const oms_log_access_line *a)
{
    if (OMS_LOG_INFO < min_level)
        return;
    line_buf b = {.len = 0};
    put_header(&b, OMS_LOG_INFO, "http_request");
    put_number(&b, "status", a->status);
    put_field(&b, "client_ip", a->client_ip, NULL);
    put_field(&b, "method", a->method, NULL);
    put_field(&b, "route", a->route, NULL);
    put_number(&b, "duration_ms", a->duration_ms);
    if (a->client_request_id)
        put_field(&b, "client_request_id", a->client_request_id, NULL);
    const char *path = a->path ? a->path : "";
    size_t path_len = strlen(path);
    if (path_len > OMS_LOG_ACCESS_PATH_MAX) {
        char kept[OMS_LOG_ACCESS_PATH_MAX + 1];
        memcpy(kept, path, OMS_LOG_ACCESS_PATH_MAX);
        kept[OMS_LOG_ACCESS_PATH_MAX] = '\0';
        put_number(&b, "path_length", (double)path_len);
        put_field(&b, "path", kept, NULL);
    } else {
        put_field(&b, "path", path, NULL);
    }
    emit(&b);
}
