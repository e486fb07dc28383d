/* gateway_config.c -- fuzz target: the gateway's parsers of outside text
 * (api-gateway/src/domain): the API key list (API_KEYS), the upstream URL
 * lists (*_SERVICE_URL) and the route lookup of every request's method and
 * path.
 *
 * Input: four '\n'-separated parts -- key list, URL list, method, path.
 * Properties: a failed parse leaves the output untouched (documented); an
 * accepted key set holds 0..API_KEYS_MAX keys of 1..API_KEY_MAX_LEN
 * printable non-blank characters, each of which matches itself; an accepted
 * pool holds 1..UPSTREAM_MAX_INSTANCES "http://" URLs without a trailing '/',
 * and pick() returns a valid index. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../../api-gateway/src/domain/api_keys.h"
#include "../../api-gateway/src/domain/gateway_routes.h"
#include "../../api-gateway/src/domain/upstream_pool.h"
#include "fuzz_check.h"

static char *next_part(char **p)
{
    char *start = *p;
    char *nl = strchr(start, '\n');
    if (nl) {
        *nl = '\0';
        *p = nl + 1;
    } else {
        *p = start + strlen(start);
    }
    return start;
}

static void check_keys(const char *list)
{
    static api_key_set set, before;
    memset(&set, 0x5a, sizeof set);
    before = set;
    oms_error err;
    oms_error_clear(&err);
    if (api_key_set_parse(&set, list, &err) != OMS_OK) {
        CHECK(err.code == OMS_EINVAL);
        CHECK(memcmp(&set, &before, sizeof set) == 0);
        return;
    }
    CHECK(set.count >= 0 && set.count <= API_KEYS_MAX);
    for (int i = 0; i < set.count; i++) {
        size_t n = strnlen(set.keys[i], sizeof set.keys[i]);
        CHECK(n >= 1 && n <= API_KEY_MAX_LEN);
        for (size_t j = 0; j < n; j++)
            CHECK(set.keys[i][j] > ' ' && set.keys[i][j] < 0x7f);
        int index = -1;
        CHECK(api_key_set_match(&set, set.keys[i], &index));
        CHECK(index >= 0 && index < set.count && strcmp(set.keys[index], set.keys[i]) == 0);
    }
    CHECK(!api_key_set_match(&set, NULL, NULL));
}

static void check_pool(const char *list)
{
    static upstream_pool pool, before;
    memset(&pool, 0x5a, sizeof pool);
    before = pool;
    oms_error err;
    oms_error_clear(&err);
    if (upstream_pool_parse(&pool, list, &err) != OMS_OK) {
        CHECK(err.code == OMS_EINVAL);
        CHECK(memcmp(&pool, &before, sizeof pool) == 0);
        return;
    }
    CHECK(pool.count >= 1 && pool.count <= UPSTREAM_MAX_INSTANCES);
    for (int i = 0; i < pool.count; i++) {
        const char *url = pool.instances[i].base_url;
        size_t n = strnlen(url, UPSTREAM_URL_MAX);
        CHECK(n < UPSTREAM_URL_MAX);
        CHECK(strncmp(url, "http://", 7) == 0 && n > 7 && url[n - 1] != '/');
    }
    int index = upstream_pool_pick(&pool, 0, 0);
    CHECK(index >= 0 && index < pool.count);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *text = malloc(size + 1);
    if (!text)
        return 0;
    memcpy(text, data, size);
    text[size] = '\0';
    char *p = text;
    char *keys = next_part(&p);
    char *urls = next_part(&p);
    char *method = next_part(&p);
    char *path = next_part(&p);
    check_keys(keys);
    check_pool(urls);
    const gateway_route *route = NULL;
    gateway_route_lookup(method, path, &route);
    free(text);
    return 0;
}
