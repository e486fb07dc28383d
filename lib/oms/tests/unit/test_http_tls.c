/* Unit tests of the TLS listener (lib/oms/http_tls.c): certificates made by
 * the openssl command line in a temporary directory, a real handshake with
 * libcurl trusting the test CA, a reload, and the refusals at start. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <arpa/inet.h>
#include <curl/curl.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cmocka.h>

#include "oms/http.h"

static char dir[] = "/tmp/oms-tls-XXXXXX";
static char path_buf[8][512];

static const char *in_dir(int slot_index, const char *name)
{
    snprintf(path_buf[slot_index], sizeof path_buf[slot_index], "%s/%s", dir, name);
    return path_buf[slot_index];
}

static int sh(const char *fmt, ...)
{
    char cmd[2048];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(cmd, sizeof cmd, fmt, ap);
    va_end(ap);
    return system(cmd);
}

/* A CA and two server certificates it signed ("first", "second"), both for
 * 127.0.0.1; and another CA. */
static int make_pki(void **state)
{
    (void)state;
    if (!mkdtemp(dir))
        return -1;
    const char *ec = "-newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes";
    int rc = sh("cd %s && openssl req -x509 %s -days 2 -subj /CN=test-ca -keyout ca.key -out ca.pem 2>/dev/null && "
                "openssl req -x509 %s -days 2 -subj /CN=other-ca -keyout other-ca.key -out other-ca.pem 2>/dev/null",
                dir, ec, ec);
    for (int i = 0; rc == 0 && i < 2; i++) {
        const char *name = i == 0 ? "first" : "second";
        rc = sh("cd %s && openssl req %s -subj /CN=%s -keyout %s.key -out %s.csr 2>/dev/null && "
                "printf 'subjectAltName=IP:127.0.0.1\\n' > %s.ext && "
                "openssl x509 -req -in %s.csr -CA ca.pem -CAkey ca.key -CAcreateserial -days 2 -extfile %s.ext "
                "-out %s.pem 2>/dev/null",
                dir, ec, name, name, name, name, name, name, name);
    }
    curl_global_init(CURL_GLOBAL_DEFAULT);
    return rc == 0 ? 0 : -1;
}

static int remove_pki(void **state)
{
    (void)state;
    sh("rm -rf %s", dir);
    curl_global_cleanup();
    return 0;
}

static int free_port(void)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in addr = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    bind(fd, (struct sockaddr *)&addr, sizeof addr);
    socklen_t len = sizeof addr;
    getsockname(fd, (struct sockaddr *)&addr, &len);
    close(fd);
    return ntohs(addr.sin_port);
}

static void hello(void *ctx, oms_http_request *req, oms_http_response *res)
{
    (void)ctx;
    oms_http_respond_text(req, res, 200, "application/json", "{\"hello\":1}", 11);
}

static const oms_http_route routes[] = {{"GET", "/hello", hello, "hello", NULL}};

static char headers[4096];
static size_t headers_len;

static size_t keep_header(char *data, size_t size, size_t n, void *user)
{
    (void)user;
    size_t len = size * n;
    if (headers_len + len < sizeof headers) {
        memcpy(headers + headers_len, data, len);
        headers_len += len;
        headers[headers_len] = '\0';
    }
    return len;
}

static size_t discard(char *data, size_t size, size_t n, void *user)
{
    (void)data;
    (void)user;
    return size * n;
}

/* GET /hello over TLS trusting `ca`; returns curl's result, fills the
 * status and the subject of the server's certificate. */
static CURLcode get_tls(int port, const char *ca, long *status, char *subject, size_t subject_len)
{
    CURL *curl = curl_easy_init();
    char url[128];
    snprintf(url, sizeof url, "https://127.0.0.1:%d/hello", port);
    curl_easy_setopt(curl, CURLOPT_URL, url);
    curl_easy_setopt(curl, CURLOPT_CAINFO, ca);
    curl_easy_setopt(curl, CURLOPT_CERTINFO, 1L);
    curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, discard);
    curl_easy_setopt(curl, CURLOPT_HEADERFUNCTION, keep_header);
    headers_len = 0;
    headers[0] = '\0';
    CURLcode rc = curl_easy_perform(curl);
    *status = 0;
    subject[0] = '\0';
    if (rc == CURLE_OK) {
        curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, status);
        struct curl_certinfo *info = NULL;
        curl_easy_getinfo(curl, CURLINFO_CERTINFO, &info);
        for (struct curl_slist *f = info && info->num_of_certs > 0 ? info->certinfo[0] : NULL; f; f = f->next) {
            if (strncmp(f->data, "Subject:", 8) == 0)
                snprintf(subject, subject_len, "%s", f->data + 8);
        }
    }
    curl_easy_cleanup(curl);
    return rc;
}

static oms_http_server *start_tls(int port, const char *cert, const char *key, oms_error *err)
{
    oms_http_config cfg = {.bind_address = "127.0.0.1",
                           .port = port,
                           .routes = routes,
                           .route_count = 1,
                           .tls = {.cert_file = cert, .key_file = key}};
    oms_error_clear(err);
    return oms_http_server_start(&cfg, err);
}

static void a_client_trusting_the_ca_is_served_with_hsts_and_a_reload_changes_the_certificate(void **state)
{
    (void)state;
    int port = free_port();
    sh("cp %s/first.pem %s/server.pem && cp %s/first.key %s/server.key", dir, dir, dir, dir);
    oms_error err;
    oms_http_server *s = start_tls(port, in_dir(0, "server.pem"), in_dir(1, "server.key"), &err);
    assert_non_null(s);
    long status = 0;
    char subject[256];
    assert_int_equal(get_tls(port, in_dir(2, "ca.pem"), &status, subject, sizeof subject), CURLE_OK);
    assert_int_equal(status, 200);
    assert_non_null(strstr(subject, "first"));
    assert_non_null(strcasestr(headers, "Strict-Transport-Security: max-age="));

    sh("cp %s/second.pem %s/server.pem && cp %s/second.key %s/server.key", dir, dir, dir, dir);
    assert_int_equal(oms_http_server_reload_tls(s, &err), OMS_OK);
    assert_int_equal(get_tls(port, in_dir(2, "ca.pem"), &status, subject, sizeof subject), CURLE_OK);
    assert_non_null(strstr(subject, "second"));

    sh("echo garbage > %s/server.key", dir);
    assert_int_equal(oms_http_server_reload_tls(s, &err), OMS_EINVAL);
    assert_string_equal(err.field, "TLS_KEY_FILE");
    assert_int_equal(get_tls(port, in_dir(2, "ca.pem"), &status, subject, sizeof subject), CURLE_OK);
    assert_non_null(strstr(subject, "second"));
    oms_http_server_stop(s, 1000);
}

static void a_client_trusting_another_ca_fails(void **state)
{
    (void)state;
    int port = free_port();
    oms_error err;
    oms_http_server *s = start_tls(port, in_dir(0, "first.pem"), in_dir(1, "first.key"), &err);
    assert_non_null(s);
    long status = 0;
    char subject[256];
    CURLcode rc = get_tls(port, in_dir(2, "other-ca.pem"), &status, subject, sizeof subject);
    assert_int_not_equal(rc, CURLE_OK);
    oms_http_server_stop(s, 1000);
}

static void bad_files_stop_the_start_naming_the_setting(void **state)
{
    (void)state;
    oms_error err;
    int port = free_port();
    assert_null(start_tls(port, in_dir(0, "missing.pem"), in_dir(1, "first.key"), &err));
    assert_string_equal(err.field, "TLS_CERT_FILE");
    assert_null(start_tls(port, in_dir(0, "first.pem"), in_dir(1, "second.key"), &err));
    assert_string_equal(err.field, "TLS_KEY_FILE");
    assert_non_null(strstr(err.message, "is not the key of the certificate"));
    assert_null(start_tls(port, in_dir(0, "first.key"), in_dir(1, "first.key"), &err));
    assert_string_equal(err.field, "TLS_CERT_FILE");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(a_client_trusting_the_ca_is_served_with_hsts_and_a_reload_changes_the_certificate),
        cmocka_unit_test(a_client_trusting_another_ca_fails),
        cmocka_unit_test(bad_files_stop_the_start_naming_the_setting),
    };
    return cmocka_run_group_tests(tests, make_pki, remove_pki);
}
