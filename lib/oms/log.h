/* log.h -- one JSON object per line on stdout, greppable:
 *   {"ts":"2026-11-28T03:29:38.123Z","level":"info","service":"order-service",
 *    "event":"http_request","request_id":"...","method":"POST",...}
 *
 * Thread-safe: a line is written with one write(2). The request id of the
 * current thread (set by the HTTP server and the message consumer) is added
 * to every line automatically.
 *
 * A line is always one valid JSON object in valid UTF-8, at most 8 KiB: a
 * value is cut after 2 KiB (between two characters), a field that does not
 * fit whole is left out, bytes that are not UTF-8 become U+FFFD, and a line
 * that lost anything ends with "truncated":true. */
#ifndef OMS_LOG_H
#define OMS_LOG_H

typedef enum { OMS_LOG_DEBUG, OMS_LOG_INFO, OMS_LOG_WARN, OMS_LOG_ERROR } oms_log_level;

/* Names the service in every line and sets the minimum level ("debug",
 * "info", "warn", "error"; read by the caller from LOG_LEVEL). */
void oms_log_init(const char *service_name, oms_log_level min_level);

/* Sets (or clears with NULL) the request id of the calling thread. The string
 * is copied (at most 128 bytes). */
void oms_log_set_request_id(const char *request_id);
const char *oms_log_request_id(void); /* "" when none */

/* Logs `event` with string fields given as key, value pairs ending in NULL:
 *   oms_log(OMS_LOG_INFO, "saga_step", "order_id", id, "step", "payment", NULL);
 * A NULL value is written as JSON null. Values are JSON-escaped. */
void oms_log(oms_log_level level, const char *event, ...) __attribute__((sentinel));

/* The same with one extra numeric field, the common case of a duration or a
 * status: oms_log_num(OMS_LOG_INFO, "http_request", "duration_ms", 3.2, "path", p, NULL) */
void oms_log_num(oms_log_level level, const char *event, const char *num_key, double num_value, ...)
    __attribute__((sentinel));

/* The access line of one HTTP request (the HTTP server writes it, event
 * "http_request"). status and client_ip come right after the common fields,
 * so that no path, however long, pushes them out of the line; a path longer
 * than OMS_LOG_ACCESS_PATH_MAX bytes is cut there (maybe inside a character,
 * which then shows as U+FFFD) and "path_length" gives its full length.
 * client_request_id (NULL: left out) is the X-Request-Id a client sent to a
 * listener that makes its own request ids. */
#define OMS_LOG_ACCESS_PATH_MAX 512
typedef struct oms_log_access_line {
    int status;
    const char *client_ip;
    const char *method;
    const char *route;
    const char *path;
    double duration_ms;
    const char *client_request_id;
} oms_log_access_line;
void oms_log_access(const oms_log_access_line *line);

#endif
