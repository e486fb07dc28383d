/* upstream_pool.c -- URL list validation and round robin with mark-down. */
#include "upstream_pool.h"

#include <ctype.h>
#include <string.h>

static bool host_char(char c) { return isalnum((unsigned char)c) || c == '.' || c == '-'; }

static bool ipv6_char(char c) { return isxdigit((unsigned char)c) || c == ':' || c == '.'; }

/* Length of a valid host at the start of s, or 0. */
static size_t host_length(const char *s, size_t len)
{
    size_t i = 0;
    if (len > 0 && s[0] == '[') {
        for (i = 1; i < len && ipv6_char(s[i]); i++)
            ;
        return (i > 1 && i < len && s[i] == ']') ? i + 1 : 0;
    }
    while (i < len && host_char(s[i]))
        i++;
    return i;
}

/* Length of a valid ":port" at the start of s (0 when absent), or -1. */
static long port_length(const char *s, size_t len)
{
    if (len == 0 || s[0] != ':')
        return 0;
    size_t i = 1;
    long port = 0;
    while (i < len && isdigit((unsigned char)s[i]) && port <= 65535)
        port = port * 10 + (s[i++] - '0');
    if (i == 1 || port < 1 || port > 65535)
        return -1;
    return (long)i;
}

static bool path_ok(const char *s, size_t len)
{
    if (len == 0)
        return true;
    if (s[0] != '/')
        return false;
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c <= ' ' || c >= 0x7f || c == '?' || c == '#' || c == '%' || c == '@')
            return false;
    }
    return true;
}

/* Length of "http://" or "https://" at the start of url, or 0. */
static size_t scheme_length(const char *url, size_t len)
{
    static const char *const schemes[] = {"http://", "https://"};
    for (size_t i = 0; i < sizeof schemes / sizeof schemes[0]; i++) {
        size_t n = strlen(schemes[i]);
        if (len > n && strncmp(url, schemes[i], n) == 0)
            return n;
    }
    return 0;
}

static bool url_ok(const char *url, size_t len)
{
    size_t scheme = scheme_length(url, len);
    if (scheme == 0)
        return false;
    const char *rest = url + scheme;
    size_t rest_len = len - scheme;
    size_t host = host_length(rest, rest_len);
    if (host == 0)
        return false;
    long port = port_length(rest + host, rest_len - host);
    if (port < 0)
        return false;
    return path_ok(rest + host + port, rest_len - host - (size_t)port);
}

static oms_err add_instance(upstream_pool *pool, const char *item, size_t len, oms_error *err)
{
    while (len > 0 && isspace((unsigned char)*item)) {
        item++;
        len--;
    }
    while (len > 0 && isspace((unsigned char)item[len - 1]))
        len--;
    /* Paths are appended to the base URL: keep no trailing slash at all, so
     * "http://host//" cannot make "http://host//orders". */
    while (len > 0 && item[len - 1] == '/')
        len--;
    if (len == 0)
        return oms_error_set(err, OMS_EINVAL, NULL, "empty URL in the list");
    if (len >= UPSTREAM_URL_MAX)
        return oms_error_set(err, OMS_EINVAL, NULL, "URL longer than %d characters", UPSTREAM_URL_MAX - 1);
    if (!url_ok(item, len))
        return oms_error_set(err, OMS_EINVAL, NULL, "'%.*s' is not an http(s)://host[:port] URL", (int)len, item);
    if (pool->count == UPSTREAM_MAX_INSTANCES)
        return oms_error_set(err, OMS_EINVAL, NULL, "more than %d URLs", UPSTREAM_MAX_INSTANCES);
    upstream_instance *in = &pool->instances[pool->count++];
    memcpy(in->base_url, item, len);
    in->base_url[len] = '\0';
    in->down_until_ms = 0;
    return OMS_OK;
}

oms_err upstream_pool_parse(upstream_pool *pool, const char *list, oms_error *err)
{
    upstream_pool parsed = {0};
    const char *p = list ? list : "";
    for (;;) {
        const char *comma = strchr(p, ',');
        size_t len = comma ? (size_t)(comma - p) : strlen(p);
        oms_err rc = add_instance(&parsed, p, len, err);
        if (rc != OMS_OK)
            return rc;
        if (!comma)
            break;
        p = comma + 1;
    }
    *pool = parsed;
    return OMS_OK;
}

int upstream_pool_pick(upstream_pool *pool, int64_t now_ms, upstream_tried tried)
{
    unsigned start = pool->next;
    for (int i = 0; i < pool->count; i++) {
        int index = (int)((start + (unsigned)i) % (unsigned)pool->count);
        bool already_tried = (tried >> index) & 1u;
        if (already_tried || now_ms < pool->instances[index].down_until_ms)
            continue;
        pool->next = (unsigned)index + 1;
        return index;
    }
    return -1;
}

void upstream_pool_mark_down(upstream_pool *pool, int index, int64_t now_ms, int64_t for_ms)
{
    if (index >= 0 && index < pool->count)
        pool->instances[index].down_until_ms = now_ms + for_ms;
}
