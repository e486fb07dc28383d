/* stream.h -- the byte stream under a broker connection: a plain TCP socket
 * or TLS over one (Redis's ConnectionType). The connection's I/O thread is
 * the only user of a stream; the socket is non-blocking throughout.
 *
 * A read or write that cannot go on now returns PULSAR_IO_AGAIN and says in
 * `*wait` which poll event to wait for (POLLIN or POLLOUT): TLS may need to
 * write to read (a key update) or to read to write. */
#ifndef PULSAR_STREAM_H
#define PULSAR_STREAM_H

#include <stdbool.h>
#include <stddef.h>

#include "oms/err.h"

typedef enum {
    PULSAR_IO_DONE,   /* *n > 0 bytes moved */
    PULSAR_IO_AGAIN,  /* nothing now: poll for *wait, then call again */
    PULSAR_IO_CLOSED, /* the peer closed the stream */
    PULSAR_IO_ERROR   /* broken: `why` says how */
} pulsar_io;

typedef struct pulsar_stream pulsar_stream;

typedef struct pulsar_stream_ops {
    /* Reads up to len (> 0) bytes into buf. */
    pulsar_io (*read)(pulsar_stream *s, void *buf, size_t len, size_t *n, short *wait, char *why, size_t why_len);
    /* Writes up to len (> 0) bytes of buf; a write retried after AGAIN
     * passes the same bytes again (more may follow them, and they may have
     * moved in memory). */
    pulsar_io (*write)(pulsar_stream *s, const void *buf, size_t len, size_t *n, short *wait, char *why,
                       size_t why_len);
    /* Whether bytes already received wait inside the stream (decrypted TLS
     * records), so that poll would not announce them. */
    bool (*buffered)(pulsar_stream *s);
    /* Closes the socket and frees the stream. */
    void (*close)(pulsar_stream *s);
} pulsar_stream_ops;

struct pulsar_stream {
    const pulsar_stream_ops *ops;
    int fd; /* for poll and shutdown; owned by the stream */
};

static inline pulsar_io pulsar_stream_read(pulsar_stream *s, void *buf, size_t len, size_t *n, short *wait, char *why,
                                           size_t why_len)
{
    return s->ops->read(s, buf, len, n, wait, why, why_len);
}
static inline pulsar_io pulsar_stream_write(pulsar_stream *s, const void *buf, size_t len, size_t *n, short *wait,
                                            char *why, size_t why_len)
{
    return s->ops->write(s, buf, len, n, wait, why, why_len);
}
static inline bool pulsar_stream_buffered(pulsar_stream *s) { return s->ops->buffered(s); }
static inline void pulsar_stream_close(pulsar_stream *s)
{
    if (s)
        s->ops->close(s);
}

/* Connects to host:port (every address the name resolves to, in turn) within
 * timeout_ms: a connected non-blocking socket, or -1 with `why`. */
int pulsar_socket_connect(const char *host, int port, int timeout_ms, char *why, size_t why_len);

/* A plain stream over a connected socket (taken over, also on failure);
 * NULL only when out of memory. */
pulsar_stream *pulsar_stream_plain(int fd);

/* ---- TLS (stream_tls.c, OpenSSL) */
typedef struct pulsar_tls_config pulsar_tls_config;

/* What a client trusts: the CA certificates of ca_file (PEM), or the
 * system's when ca_file is NULL. Verification of the chain and of the
 * broker's host name is always on. NULL with err when the file cannot be
 * loaded. Shared by every connection of a client; thread-safe. */
pulsar_tls_config *pulsar_tls_config_create(const char *ca_file, oms_error *err);
void pulsar_tls_config_free(pulsar_tls_config *t);

/* Runs the TLS handshake over a connected socket (taken over, also on
 * failure) within timeout_ms, checking that the certificate chains to a
 * trusted CA and names `host` (a DNS name or an IP address). NULL with `why`
 * ("certificate verify failed: ...") when it does not. */
pulsar_stream *pulsar_stream_tls(pulsar_tls_config *t, int fd, const char *host, int timeout_ms, char *why,
                                 size_t why_len);

#endif
