/* http_settings.c -- the HTTP server's rows of a process's settings table
 * (http.h: oms_http_limits and oms_http_tls). */
#include "config.h"
#include "http.h"

void oms_http_settings_add(oms_settings *t, oms_http_limits *limits, oms_http_tls *tls, const char *default_threads)
{
    const oms_setting rows[] = {
        {.name = "HTTP_THREADS", .kind = OMS_SETTING_INT, .fallback = default_threads, .min = 1, .max = 1024,
         .target = &limits->threads, .doc = "Threads running request handlers."},
        {.name = "HTTP_IO_THREADS", .kind = OMS_SETTING_INT, .fallback = "2", .min = 1, .max = 64,
         .target = &limits->io_threads, .doc = "Event loops reading requests and writing answers."},
        {.name = "HTTP_MAX_CONNECTIONS", .kind = OMS_SETTING_INT, .fallback = "16384", .min = 1, .max = 1000000,
         .target = &limits->max_connections,
         .doc = "Connections at once, in all (lowered to what the open-file limit allows)."},
        {.name = "HTTP_PER_IP_CONNECTIONS", .kind = OMS_SETTING_INT, .fallback = "256", .min = 0, .max = 1000000,
         .target = &limits->per_ip_connections,
         .doc = "Connections at once from one client address; 0: no cap (behind a proxy that hides them)."},
        {.name = "HTTP_HEADER_TIMEOUT_S", .kind = OMS_SETTING_INT, .fallback = "10", .min = 1, .max = 3600,
         .target = &limits->header_timeout_s,
         .doc = "Seconds for a request line and headers (also how long a kept-alive connection may idle)."},
        {.name = "HTTP_BODY_TIMEOUT_S", .kind = OMS_SETTING_INT, .fallback = "30", .min = 1, .max = 3600,
         .target = &limits->body_timeout_s, .doc = "Seconds for a request body, from the end of its headers."},
        {.name = "HTTP_SEND_TIMEOUT_S", .kind = OMS_SETTING_INT, .fallback = "30", .min = 1, .max = 3600,
         .target = &limits->send_timeout_s, .doc = "Seconds for a client to take the whole answer."},
        {.name = "HTTP_MAX_UPLOADS", .kind = OMS_SETTING_INT, .fallback = "1024", .min = 1, .max = 1000000,
         .target = &limits->max_uploads,
         .doc = "Requests whose body is still arriving, at once; one more is answered 503 at once."},
        {.name = "TLS_CERT_FILE", .kind = OMS_SETTING_TEXT, .target = &tls->cert_file,
         .doc = "PEM certificate chain: HTTPS when set (with TLS_KEY_FILE); read again on SIGHUP."},
        {.name = "TLS_KEY_FILE", .kind = OMS_SETTING_TEXT, .target = &tls->key_file,
         .doc = "PEM private key (unencrypted) of TLS_CERT_FILE's certificate."},
    };
    oms_settings_add(t, "http", rows, sizeof rows / sizeof rows[0]);
}
