/* stream_tls.c -- TLS over a non-blocking socket with OpenSSL: the chain is
 * verified against the configured CAs and the certificate must name the
 * host the client dialled (DNS name or IP address); TLS 1.2 at least.
 *
 * OpenSSL's error queue is per thread; every call here clears it first so a
 * message describes this call's failure, not an older one. */
#include <arpa/inet.h>
#include <errno.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "pulsar/stream.h"

struct pulsar_tls_config {
    SSL_CTX *ctx;
};

typedef struct tls_stream {
    pulsar_stream base; /* first: a tls_stream is a stream */
    SSL *ssl;
    bool broken; /* a fatal error happened: no close_notify */
} tls_stream;

static void openssl_reason(char *why, size_t why_len, const char *what)
{
    unsigned long e = ERR_peek_last_error();
    char text[256] = "";
    if (e)
        ERR_error_string_n(e, text, sizeof text);
    snprintf(why, why_len, "%s%s%s", what, e ? ": " : "", text);
    ERR_clear_error();
}

pulsar_tls_config *pulsar_tls_config_create(const char *ca_file, oms_error *err)
{
    ERR_clear_error();
    pulsar_tls_config *t = calloc(1, sizeof *t);
    SSL_CTX *ctx = t ? SSL_CTX_new(TLS_client_method()) : NULL;
    if (!ctx) {
        free(t);
        oms_error_set(err, OMS_ENOMEM, NULL, "pulsar: cannot create a TLS context");
        return NULL;
    }
    SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
    SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, NULL);
    /* The write queue may grow (move) between a write that would block and
     * its retry; partial writes let the queue's offset follow what went. */
    SSL_CTX_set_mode(ctx, SSL_MODE_ENABLE_PARTIAL_WRITE | SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER);
    int loaded = ca_file ? SSL_CTX_load_verify_locations(ctx, ca_file, NULL) : SSL_CTX_set_default_verify_paths(ctx);
    if (loaded != 1) {
        char why[300];
        openssl_reason(why, sizeof why, "cannot load");
        oms_error_set(err, OMS_EINVAL, "tls_ca_file", "pulsar: TLS CA file %s: %s", ca_file ? ca_file : "(system)",
                      why);
        SSL_CTX_free(ctx);
        free(t);
        return NULL;
    }
    t->ctx = ctx;
    return t;
}

void pulsar_tls_config_free(pulsar_tls_config *t)
{
    if (!t)
        return;
    SSL_CTX_free(t->ctx);
    free(t);
}

static bool is_ip_address(const char *host)
{
    unsigned char addr[sizeof(struct in6_addr)];
    return inet_pton(AF_INET, host, addr) == 1 || inet_pton(AF_INET6, host, addr) == 1;
}

/* The name the certificate must carry; SNI only for DNS names. */
static bool expect_host(SSL *ssl, const char *host)
{
    if (is_ip_address(host))
        return X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(ssl), host) == 1;
    SSL_set_hostflags(ssl, X509_CHECK_FLAG_NO_PARTIAL_WILDCARDS);
    return SSL_set1_host(ssl, host) == 1 && SSL_set_tlsext_host_name(ssl, host) == 1;
}

static int64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Why a handshake failed: the certificate check first, it says the most. */
static void handshake_reason(SSL *ssl, int rc, char *why, size_t why_len)
{
    long verify = SSL_get_verify_result(ssl);
    if (verify != X509_V_OK) {
        snprintf(why, why_len, "TLS certificate verify failed: %s", X509_verify_cert_error_string(verify));
        ERR_clear_error();
    } else if (SSL_get_error(ssl, rc) == SSL_ERROR_SYSCALL && !ERR_peek_last_error()) {
        snprintf(why, why_len, "TLS handshake: connection closed (%s)", errno ? strerror(errno) : "end of stream");
    } else {
        openssl_reason(why, why_len, "TLS handshake failed");
    }
}

/* SSL_connect until done, failed, or the deadline. */
static bool run_handshake(SSL *ssl, int fd, int timeout_ms, char *why, size_t why_len)
{
    int64_t deadline = now_ms() + timeout_ms;
    for (;;) {
        ERR_clear_error();
        errno = 0;
        int rc = SSL_connect(ssl);
        if (rc == 1)
            return true;
        int e = SSL_get_error(ssl, rc);
        if (e != SSL_ERROR_WANT_READ && e != SSL_ERROR_WANT_WRITE) {
            handshake_reason(ssl, rc, why, why_len);
            return false;
        }
        int64_t left = deadline - now_ms();
        struct pollfd p = {.fd = fd, .events = e == SSL_ERROR_WANT_READ ? POLLIN : POLLOUT};
        if (left <= 0 || poll(&p, 1, (int)left) == 0) {
            snprintf(why, why_len, "TLS handshake timed out after %d ms", timeout_ms);
            return false;
        }
    }
}

static pulsar_io after_failure(tls_stream *s, int rc, short *wait, char *why, size_t why_len, const char *what)
{
    int e = SSL_get_error(s->ssl, rc);
    switch (e) {
    case SSL_ERROR_WANT_READ: *wait = POLLIN; return PULSAR_IO_AGAIN;
    case SSL_ERROR_WANT_WRITE: *wait = POLLOUT; return PULSAR_IO_AGAIN;
    case SSL_ERROR_ZERO_RETURN: return PULSAR_IO_CLOSED;
    default:
        s->broken = true;
        if (e == SSL_ERROR_SYSCALL && !ERR_peek_last_error()) {
            if (errno == 0)
                return PULSAR_IO_CLOSED;
            snprintf(why, why_len, "%s", strerror(errno));
        } else {
            openssl_reason(why, why_len, what);
        }
        return PULSAR_IO_ERROR;
    }
}

static pulsar_io tls_read(pulsar_stream *base, void *buf, size_t len, size_t *n, short *wait, char *why, size_t why_len)
{
    tls_stream *s = (tls_stream *)base;
    ERR_clear_error();
    errno = 0;
    int rc = SSL_read_ex(s->ssl, buf, len, n);
    if (rc == 1)
        return PULSAR_IO_DONE;
    return after_failure(s, rc, wait, why, why_len, "TLS read");
}

static pulsar_io tls_write(pulsar_stream *base, const void *buf, size_t len, size_t *n, short *wait, char *why,
                           size_t why_len)
{
    tls_stream *s = (tls_stream *)base;
    ERR_clear_error();
    errno = 0;
    int rc = SSL_write_ex(s->ssl, buf, len, n);
    if (rc == 1)
        return PULSAR_IO_DONE;
    return after_failure(s, rc, wait, why, why_len, "TLS write");
}

static bool tls_buffered(pulsar_stream *base) { return SSL_pending(((tls_stream *)base)->ssl) > 0; }

static void tls_close(pulsar_stream *base)
{
    tls_stream *s = (tls_stream *)base;
    if (!s->broken) {
        ERR_clear_error();
        SSL_shutdown(s->ssl); /* one try at close_notify; the socket is non-blocking */
    }
    SSL_free(s->ssl);
    ERR_clear_error();
    close(s->base.fd);
    free(s);
}

static const pulsar_stream_ops tls_ops = {
    .read = tls_read,
    .write = tls_write,
    .buffered = tls_buffered,
    .close = tls_close,
};

pulsar_stream *pulsar_stream_tls(pulsar_tls_config *t, int fd, const char *host, int timeout_ms, char *why,
                                 size_t why_len)
{
    ERR_clear_error();
    tls_stream *s = calloc(1, sizeof *s);
    SSL *ssl = s ? SSL_new(t->ctx) : NULL;
    if (!ssl || SSL_set_fd(ssl, fd) != 1 || !expect_host(ssl, host)) {
        openssl_reason(why, why_len, "cannot set up TLS");
        SSL_free(ssl);
        free(s);
        close(fd);
        return NULL;
    }
    if (!run_handshake(ssl, fd, timeout_ms, why, why_len)) {
        SSL_free(ssl);
        free(s);
        close(fd);
        return NULL;
    }
    s->base.ops = &tls_ops;
    s->base.fd = fd;
    s->ssl = ssl;
    return &s->base;
}
