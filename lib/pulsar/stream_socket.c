/* stream_socket.c -- TCP connect with a timeout, and the plain stream. */
#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "pulsar/stream.h"

int pulsar_socket_connect(const char *host, int port, int timeout_ms, char *why, size_t why_len)
{
    struct addrinfo hints = {.ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM};
    struct addrinfo *res = NULL;
    char service[16];
    snprintf(service, sizeof service, "%d", port);
    int gai = getaddrinfo(host, service, &hints, &res);
    if (gai != 0) {
        snprintf(why, why_len, "resolve %.200s: %s", host, gai_strerror(gai));
        return -1;
    }
    int fd = -1;
    for (struct addrinfo *ai = res; ai && fd < 0; ai = ai->ai_next) {
        fd = socket(ai->ai_family, ai->ai_socktype | SOCK_NONBLOCK | SOCK_CLOEXEC, ai->ai_protocol);
        if (fd < 0)
            continue;
        int rc = connect(fd, ai->ai_addr, ai->ai_addrlen);
        if (rc < 0 && errno == EINPROGRESS) {
            struct pollfd p = {.fd = fd, .events = POLLOUT};
            int so_error = ETIMEDOUT;
            socklen_t len = sizeof so_error;
            if (poll(&p, 1, timeout_ms) == 1)
                getsockopt(fd, SOL_SOCKET, SO_ERROR, &so_error, &len);
            rc = so_error == 0 ? 0 : -1;
            errno = so_error;
        }
        if (rc < 0) {
            snprintf(why, why_len, "connect %.200s:%d: %s", host, port, strerror(errno));
            close(fd);
            fd = -1;
        }
    }
    freeaddrinfo(res);
    if (fd >= 0) {
        int one = 1;
        setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    }
    return fd;
}

static pulsar_io plain_read(pulsar_stream *s, void *buf, size_t len, size_t *n, short *wait, char *why, size_t why_len)
{
    ssize_t r = read(s->fd, buf, len);
    if (r > 0) {
        *n = (size_t)r;
        return PULSAR_IO_DONE;
    }
    if (r == 0)
        return PULSAR_IO_CLOSED;
    if (errno == EAGAIN || errno == EINTR) {
        *wait = POLLIN;
        return PULSAR_IO_AGAIN;
    }
    snprintf(why, why_len, "%s", strerror(errno));
    return PULSAR_IO_ERROR;
}

static pulsar_io plain_write(pulsar_stream *s, const void *buf, size_t len, size_t *n, short *wait, char *why,
                             size_t why_len)
{
    ssize_t r = send(s->fd, buf, len, MSG_NOSIGNAL);
    if (r > 0) {
        *n = (size_t)r;
        return PULSAR_IO_DONE;
    }
    if (r < 0 && errno != EAGAIN && errno != EINTR) {
        snprintf(why, why_len, "%s", strerror(errno));
        return PULSAR_IO_ERROR;
    }
    *wait = POLLOUT;
    return PULSAR_IO_AGAIN;
}

static bool plain_buffered(pulsar_stream *s)
{
    (void)s;
    return false;
}

static void plain_close(pulsar_stream *s)
{
    close(s->fd);
    free(s);
}

static const pulsar_stream_ops plain_ops = {
    .read = plain_read,
    .write = plain_write,
    .buffered = plain_buffered,
    .close = plain_close,
};

pulsar_stream *pulsar_stream_plain(int fd)
{
    pulsar_stream *s = malloc(sizeof *s);
    if (!s) {
        close(fd);
        return NULL;
    }
    s->ops = &plain_ops;
    s->fd = fd;
    return s;
}
