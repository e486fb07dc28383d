/* http_driver.c -- see http_driver.h. */
#include "http_driver.h"

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fake_http.h"
#include "oms/json.h"
#include "oms/principal.h"

/* The next '\n'-terminated line of [*p, end) as an arena string (NUL bytes
 * end it early, as they would in a decoded C string); the rest when no '\n'. */
static char *next_line(oms_arena *a, const char **p, const char *end)
{
    const char *start = *p;
    const char *nl = memchr(start, '\n', (size_t)(end - start));
    const char *stop = nl ? nl : end;
    *p = nl ? nl + 1 : end;
    return oms_arena_strndup(a, start, (size_t)(stop - start));
}

/* Whether s is valid UTF-8 (RFC 3629: no overlongs, no surrogates, at most
 * U+10FFFF). */
static bool utf8_valid(const char *s)
{
    const unsigned char *p = (const unsigned char *)s;
    while (*p) {
        int n = *p < 0x80 ? 0 : (*p & 0xe0) == 0xc0 ? 1 : (*p & 0xf0) == 0xe0 ? 2 : (*p & 0xf8) == 0xf0 ? 3 : -1;
        if (n < 0 || (n == 1 && *p < 0xc2) || (n == 3 && *p > 0xf4))
            return false;
        unsigned cp = n == 0 ? *p : *p & (0x3fu >> n);
        for (int i = 1; i <= n; i++) {
            if ((p[i] & 0xc0) != 0x80)
                return false;
            cp = cp << 6 | (p[i] & 0x3fu);
        }
        if ((n == 2 && cp < 0x800) || (n == 3 && (cp < 0x10000 || cp > 0x10ffff)) || (cp >= 0xd800 && cp <= 0xdfff))
            return false;
        p += n + 1;
    }
    return true;
}

static void parse_query(oms_arena *a, char *text, fake_http_state *st)
{
    char *save = NULL;
    for (char *pair = strtok_r(text, "&", &save); pair && st->query_count < FAKE_HTTP_MAX_FIELDS;
         pair = strtok_r(NULL, "&", &save)) {
        char *eq = strchr(pair, '=');
        if (eq)
            *eq = '\0';
        st->query[st->query_count].name = pair;
        st->query[st->query_count].value = eq ? eq + 1 : oms_arena_strdup(a, "");
        st->query_count++;
    }
}

/* "/orders/{}/cancel" with {} replaced by `param`. */
static char *fill_pattern(oms_arena *a, const char *pattern, const char *param, int *param_count)
{
    const char *hole = strstr(pattern, "{}");
    *param_count = hole ? 1 : 0;
    if (!hole)
        return oms_arena_strdup(a, pattern);
    return oms_arena_sprintf(a, "%.*s%s%s", (int)(hole - pattern), pattern, param, hole + 2);
}

static void fail(const oms_http_route *route, const oms_http_response *res, const char *why)
{
    fprintf(stderr, "http_driver: %s %s (%s): %s: status %d body %.*s\n", route->method, route->pattern, route->name,
            why, res->status, (int)(res->body ? res->body_len : 0), res->body ? res->body : "");
    abort();
}

static void check_error_body(const oms_http_route *route, const oms_http_response *res, const json_t *doc)
{
    const json_t *error = json_object_get(doc, "error");
    const json_t *field = json_object_get(error, "field");
    if (!json_is_object(error) || !json_is_string(json_object_get(error, "code")) ||
        !json_is_string(json_object_get(error, "message")) || !(json_is_string(field) || json_is_null(field)))
        fail(route, res, "an error answer without the SPEC error body");
}

/* A route that needs a server or a database answers 501 not_in_fuzz_build in
 * this build (fuzz/support/order_parked_routes.c): not a finding. */
static bool not_in_the_fuzz_build(const oms_http_response *res)
{
    static const char code[] = "\"code\":\"not_in_fuzz_build\"";
    return res->status == 501 && res->body && memmem(res->body, res->body_len, code, sizeof code - 1);
}

static void check_response(oms_arena *a, const oms_http_route *route, const oms_http_response *res)
{
    if (res->status == 0)
        fail(route, res, "the handler gave no answer");
    if (res->status >= 500 && !not_in_the_fuzz_build(res))
        fail(route, res, "a server error for client input");
    if (res->status < 200)
        fail(route, res, "an impossible status");
    if (res->content_type && strcmp(res->content_type, "application/json") != 0)
        fail(route, res, "a content type other than application/json");
    json_t *doc = NULL;
    oms_error err;
    oms_error_clear(&err);
    if (!res->body || oms_json_parse(a, res->body, res->body_len, &doc, &err) != OMS_OK)
        fail(route, res, "a body that is not JSON");
    if (res->status >= 400)
        check_error_body(route, res, doc);
}

void http_drive(const oms_http_route *routes, size_t route_count, void *ctx, const uint8_t *data, size_t size)
{
    static oms_arena *arena;
    if (!arena && !(arena = oms_arena_create(0)))
        abort();
    if (size < 1 || route_count == 0)
        return;
    /* oms_json_dump turns a string "oms-money:<per-process uuid>:..." into a
     * number (or fails): a client cannot know the uuid, but the fuzzer reads
     * it from memory comparisons. Known (fuzz/README.md): left out. */
    if (memmem(data, size, "oms-money:", 10))
        return;
    const oms_http_route *route = &routes[data[0] % route_count];
    const char *p = (const char *)data + 1, *end = (const char *)data + size;
    char *param = next_line(arena, &p, end);
    char *query = next_line(arena, &p, end);
    char *key = next_line(arena, &p, end);
    size_t body_len = (size_t)(end - p);
    if (!param || !query || !key || body_len > OMS_HTTP_MAX_BODY || strchr(param, '/')) {
        oms_arena_reset(arena); /* the server never hands such a request over */
        return;
    }
    /* Path segments and query values that are not UTF-8 are left out: in the
     * services they reach PostgreSQL, which refuses them (400 "invalid byte
     * sequence"), while the in-memory adapters here would put them into an
     * error message that then cannot be encoded (see fuzz/README.md). */
    if (!utf8_valid(param) || !utf8_valid(query) || !utf8_valid(key)) {
        oms_arena_reset(arena);
        return;
    }
    fake_http_state st = {0};
    parse_query(arena, query, &st);
    if (key[0])
        st.headers[st.header_count++] = (fake_http_field){"Idempotency-Key", key};
    char *body = oms_arena_alloc(arena, body_len + 1); /* a copy like the server's, NUL bytes kept */
    if (!body)
        abort();
    memcpy(body, p, body_len);
    body[body_len] = '\0';
    oms_http_request req = {
        .method = route->method,
        .body = body,
        .body_len = body_len,
        .request_id = "fuzz-request-id",
        .client_ip = "127.0.0.1",
        .arena = arena,
        .internal = &st,
    };
    /* What the services' admission gives a request of the local run's
     * gateway: an admin, who reaches every route's code. */
    req.auth = oms_principal_local_admin();
    req.path = fill_pattern(arena, route->pattern, param[0] ? param : "x", &req.param_count);
    req.params[0] = param[0] ? param : "x";
    if (!req.path)
        abort();
    oms_http_response res = {0};
    route->handler(ctx, &req, &res);
    check_response(arena, route, &res);
    oms_arena_reset(arena);
}
