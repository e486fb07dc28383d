/* url.c -- service and broker URLs (pulsar_parse_url in pulsar.h). */
#include <stdlib.h>
#include <string.h>

#include "pulsar/pulsar.h"

#define PLAIN_SCHEME "pulsar://"
#define TLS_SCHEME "pulsar+ssl://"
#define PLAIN_DEFAULT_PORT 6650
#define TLS_DEFAULT_PORT 6651

/* host ("name", "1.2.3.4" or "[::1]") up to ':' or '/' or the end; the
 * brackets of an IPv6 address are not part of the host. */
static const char *split_host(const char *h, const char **host, size_t *len)
{
    if (*h == '[') {
        const char *close = strchr(h, ']');
        if (!close)
            return NULL;
        *host = h + 1;
        *len = (size_t)(close - h - 1);
        return close + 1;
    }
    *host = h;
    *len = strcspn(h, ":/");
    return h + *len;
}

static bool parse_port(const char *p, int *port)
{
    char *end = NULL;
    if (*p < '0' || *p > '9')
        return false;
    long value = strtol(p, &end, 10);
    if (value <= 0 || value > 65535 || (*end && strcmp(end, "/") != 0))
        return false;
    *port = (int)value;
    return true;
}

oms_err pulsar_parse_url(const char *url, char *host, size_t host_len, int *port, bool *tls)
{
    if (!url)
        return OMS_EINVAL;
    const char *rest;
    if (strncmp(url, TLS_SCHEME, strlen(TLS_SCHEME)) == 0) {
        *tls = true;
        rest = url + strlen(TLS_SCHEME);
    } else if (strncmp(url, PLAIN_SCHEME, strlen(PLAIN_SCHEME)) == 0) {
        *tls = false;
        rest = url + strlen(PLAIN_SCHEME);
    } else {
        return OMS_EINVAL;
    }
    const char *name;
    size_t name_len;
    const char *after = split_host(rest, &name, &name_len);
    if (!after || name_len == 0 || name_len >= host_len || memchr(name, '@', name_len))
        return OMS_EINVAL;
    int value = *tls ? TLS_DEFAULT_PORT : PLAIN_DEFAULT_PORT;
    if (*after == ':' && !parse_port(after + 1, &value))
        return OMS_EINVAL;
    if (*after && *after != ':' && strcmp(after, "/") != 0)
        return OMS_EINVAL;
    memcpy(host, name, name_len);
    host[name_len] = '\0';
    *port = value;
    return OMS_OK;
}
