/* gateway_config.c -- fuzz target: the gateway's parsers of outside text
 * (api-gateway/src/domain): the API key list (API_KEYS), the upstream URL
 * lists (*_SERVICE_URL) and the checks of every request's path and header
 * values.
 *
 * Input: four '\n'-separated parts -- key list, URL list, path, header value.
 * Properties: a failed parse leaves the output untouched (documented); an
 * accepted key set holds 0..API_KEYS_MAX entries whose keys are
 * 1..API_KEY_MAX_LEN printable characters without blank, ',' or ':', each
 * matching its own principal, a customer always with a subject; an accepted
 * pool holds 1..UPSTREAM_MAX_INSTANCES http(s):// URLs without a trailing
 * '/', and pick() returns a valid index; a canonical path has no empty, "."
 * or ".." segment; a safe header value has no control character but tab. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../../api-gateway/src/domain/api_keys.h"
#include "../../api-gateway/src/domain/request_checks.h"
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

static bool length_fingerprint(const char *key, char out[API_KEY_FINGERPRINT_LEN + 1])
{
    snprintf(out, API_KEY_FINGERPRINT_LEN + 1, "%016zx", strlen(key));
    return true;
}

static void check_keys(const char *list)
{
    static api_key_set set, before;
    memset(&set, 0x5a, sizeof set);
    before = set;
    oms_error err;
    oms_error_clear(&err);
    if (api_key_set_parse(&set, list, length_fingerprint, &err) != OMS_OK) {
        CHECK(err.code == OMS_EINVAL);
        CHECK(memcmp(&set, &before, sizeof set) == 0);
        return;
    }
    CHECK(set.count >= 0 && set.count <= API_KEYS_MAX);
    for (int i = 0; i < set.count; i++) {
        const api_key_entry *e = &set.entries[i];
        size_t n = strnlen(e->key, sizeof e->key);
        CHECK(n >= 1 && n <= API_KEY_MAX_LEN);
        for (size_t j = 0; j < n; j++)
            CHECK(e->key[j] > ' ' && e->key[j] < 0x7f && e->key[j] != ',' && e->key[j] != ':');
        CHECK(e->who.role >= ROLE_CUSTOMER && e->who.role < ROLE_COUNT);
        CHECK(e->who.role != ROLE_CUSTOMER || subject_is_valid(e->who.subject, strlen(e->who.subject)));
        CHECK(strncmp(e->who.id, "key:", 4) == 0);
        CHECK(api_key_set_match(&set, e->key) == &e->who);
    }
    CHECK(api_key_set_match(&set, NULL) == NULL);
}

static void check_request(const char *path, const char *header)
{
    if (request_path_is_canonical(path)) {
        CHECK(path[0] == '/');
        CHECK(!strstr(path, "//") && !strstr(path, "/./") && !strstr(path, "/../"));
        size_t n = strlen(path);
        CHECK(n == 1 || path[n - 1] != '/');
    }
    if (request_header_value_is_safe(header))
        CHECK(!strchr(header, '\r') && !strchr(header, '\n'));
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
        size_t scheme = strncmp(url, "https://", 8) == 0 ? 8 : strncmp(url, "http://", 7) == 0 ? 7 : 0;
        CHECK(scheme > 0 && n > scheme && url[n - 1] != '/');
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
    char *path = next_part(&p);
    char *header = next_part(&p);
    check_keys(keys);
    check_pool(urls);
    check_request(path, header);
    free(text);
    return 0;
}
