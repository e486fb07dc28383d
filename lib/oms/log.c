/* log.c -- one JSON object per line on stdout, written with one write(2). */
#include "log.h"

#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "util.h"

#define LOG_LINE_MAX 8192
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

const char *oms_log_request_id(void)
{
    return thread_request_id;
}

typedef struct line_buf {
    char data[LOG_LINE_MAX];
    size_t len;
    bool truncated;
} line_buf;

static void put_raw(line_buf *b, const char *s, size_t n)
{
    /* Keep room for the closing "}\n". */
    if (b->len + n > sizeof b->data - 3) {
        b->truncated = true;
        return;
    }
    memcpy(b->data + b->len, s, n);
    b->len += n;
}

static void put_str(line_buf *b, const char *s)
{
    put_raw(b, s, strlen(s));
}

static void put_json_string(line_buf *b, const char *s)
{
    put_raw(b, "\"", 1);
    for (const unsigned char *p = (const unsigned char *)s; *p && !b->truncated; p++) {
        char esc[8];
        if (*p == '"' || *p == '\\') {
            esc[0] = '\\';
            esc[1] = (char)*p;
            put_raw(b, esc, 2);
        } else if (*p == '\n') {
            put_raw(b, "\\n", 2);
        } else if (*p == '\t') {
            put_raw(b, "\\t", 2);
        } else if (*p == '\r') {
            put_raw(b, "\\r", 2);
        } else if (*p < 0x20 || *p == 0x7f) {
            snprintf(esc, sizeof esc, "\\u%04x", *p);
            put_raw(b, esc, 6);
        } else {
            put_raw(b, (const char *)p, 1);
        }
    }
    put_raw(b, "\"", 1);
}

static void put_field(line_buf *b, const char *key, const char *value)
{
    put_raw(b, ",", 1);
    put_json_string(b, key);
    put_raw(b, ":", 1);
    if (value)
        put_json_string(b, value);
    else
        put_str(b, "null");
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
    put_field(b, "level", level_name(level));
    put_field(b, "service", service);
    put_field(b, "event", event);
    if (thread_request_id[0])
        put_field(b, "request_id", thread_request_id);
}

static void put_pairs(line_buf *b, va_list ap)
{
    for (;;) {
        const char *key = va_arg(ap, const char *);
        if (!key)
            break;
        const char *value = va_arg(ap, const char *);
        put_field(b, key, value);
    }
}

static void emit(line_buf *b)
{
    if (b->truncated) {
        const char *mark = ",\"truncated\":true";
        size_t n = strlen(mark);
        if (b->len + n <= sizeof b->data - 3) {
            memcpy(b->data + b->len, mark, n);
            b->len += n;
        }
    }
    b->data[b->len++] = '}';
    b->data[b->len++] = '\n';
    ssize_t ignored = write(STDOUT_FILENO, b->data, b->len);
    (void)ignored;
}

void oms_log(oms_log_level level, const char *event, ...)
{
    if (level < min_level)
        return;
    line_buf b = {.len = 0, .truncated = false};
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
    line_buf b = {.len = 0, .truncated = false};
    put_header(&b, level, event);
    char num[64];
    if (num_value != num_value || num_value > 1e300 || num_value < -1e300)
        snprintf(num, sizeof num, "null");
    else if (num_value == (double)(long long)num_value && num_value < 1e15 && num_value > -1e15)
        snprintf(num, sizeof num, "%lld", (long long)num_value);
    else
        snprintf(num, sizeof num, "%.3f", num_value);
    put_raw(&b, ",", 1);
    put_json_string(&b, num_key);
    put_raw(&b, ":", 1);
    put_str(&b, num);
    va_list ap;
    va_start(ap, num_value);
    put_pairs(&b, ap);
    va_end(ap);
    emit(&b);
}
