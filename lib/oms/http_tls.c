/* http_tls.c -- the certificate of a TLS listener, read from files and read
 * again on demand (SIGHUP) without touching the listener.
 *
 * libmicrohttpd speaks TLS through GnuTLS; instead of a fixed certificate it
 * is given a callback (MHD_OPTION_HTTPS_CERT_CALLBACK) that GnuTLS calls in
 * each handshake, which hands out the certificate set current at that moment.
 * A reload makes a new set and makes it current; an older set stays alive
 * until the server stops, because a handshake that began with it may still be
 * using it (reloads are rare: a certificate renewal). */
#include "http_internal.h"

#include <gnutls/abstract.h>
#include <gnutls/gnutls.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#define CHAIN_MAX 8
/* TLS 1.2 and 1.3 only, GnuTLS's default ciphers for those. */
#define TLS_PRIORITIES "NORMAL:-VERS-ALL:+VERS-TLS1.3:+VERS-TLS1.2"

typedef struct cert_set {
    gnutls_pcert_st chain[CHAIN_MAX];
    unsigned int chain_len;
    gnutls_privkey_t key;
    struct cert_set *older;
} cert_set;

struct http_tls {
    char *cert_file;
    char *key_file;
    pthread_mutex_t lock; /* one reload at a time; guards `sets` */
    cert_set *sets;       /* every set loaded, newest first */
    _Atomic(cert_set *) current;
};

static void free_set(cert_set *c)
{
    for (unsigned int i = 0; i < c->chain_len; i++)
        gnutls_pcert_deinit(&c->chain[i]);
    if (c->key)
        gnutls_privkey_deinit(c->key);
    free(c);
}

static oms_err file_error(oms_error *err, const char *setting, const char *path, const char *why)
{
    return oms_error_set(err, OMS_EINVAL, setting, "%s=%s: %s", setting, path, why);
}

/* Whether the key is the one the chain's first certificate was made for. */
static bool key_matches(const cert_set *c)
{
    gnutls_pubkey_t from_key = NULL;
    gnutls_datum_t a = {NULL, 0}, b = {NULL, 0};
    bool same = gnutls_pubkey_init(&from_key) == 0 && gnutls_pubkey_import_privkey(from_key, c->key, 0, 0) == 0 &&
                gnutls_pubkey_export2(from_key, GNUTLS_X509_FMT_DER, &a) == 0 &&
                gnutls_pubkey_export2(c->chain[0].pubkey, GNUTLS_X509_FMT_DER, &b) == 0 && a.size == b.size &&
                memcmp(a.data, b.data, a.size) == 0;
    gnutls_free(a.data);
    gnutls_free(b.data);
    if (from_key)
        gnutls_pubkey_deinit(from_key);
    return same;
}

static oms_err load_chain(cert_set *c, const char *path, oms_error *err)
{
    gnutls_datum_t pem = {NULL, 0};
    if (gnutls_load_file(path, &pem) < 0)
        return file_error(err, "TLS_CERT_FILE", path, "cannot be read");
    c->chain_len = CHAIN_MAX;
    int rc = gnutls_pcert_list_import_x509_raw(c->chain, &c->chain_len, &pem, GNUTLS_X509_FMT_PEM, 0);
    gnutls_free(pem.data);
    if (rc < 0 || c->chain_len == 0) {
        c->chain_len = 0;
        return file_error(err, "TLS_CERT_FILE", path, "holds no PEM certificate chain (at most 8) GnuTLS accepts");
    }
    return OMS_OK;
}

static oms_err load_key(cert_set *c, const char *path, oms_error *err)
{
    gnutls_datum_t pem = {NULL, 0};
    if (gnutls_load_file(path, &pem) < 0)
        return file_error(err, "TLS_KEY_FILE", path, "cannot be read");
    int rc = gnutls_privkey_init(&c->key);
    if (rc == 0)
        rc = gnutls_privkey_import_x509_raw(c->key, &pem, GNUTLS_X509_FMT_PEM, NULL, 0);
    gnutls_free(pem.data);
    if (rc < 0)
        return file_error(err, "TLS_KEY_FILE", path, "holds no unencrypted PEM private key");
    return OMS_OK;
}

static cert_set *load_set(const http_tls *t, oms_error *err)
{
    cert_set *c = calloc(1, sizeof *c);
    if (!c) {
        oms_error_set(err, OMS_ENOMEM, NULL, "out of memory");
        return NULL;
    }
    if (load_chain(c, t->cert_file, err) != OMS_OK || load_key(c, t->key_file, err) != OMS_OK) {
        free_set(c);
        return NULL;
    }
    if (!key_matches(c)) {
        oms_error_set(err, OMS_EINVAL, "TLS_KEY_FILE", "the key in %s is not the key of the certificate in %s",
                      t->key_file, t->cert_file);
        free_set(c);
        return NULL;
    }
    return c;
}

http_tls *http_tls_load(const oms_http_tls *files, oms_error *err)
{
    http_tls *t = calloc(1, sizeof *t);
    if (t) {
        t->cert_file = strdup(files->cert_file);
        t->key_file = strdup(files->key_file);
    }
    if (!t || !t->cert_file || !t->key_file) {
        http_tls_free(t);
        oms_error_set(err, OMS_ENOMEM, NULL, "out of memory");
        return NULL;
    }
    pthread_mutex_init(&t->lock, NULL);
    if (http_tls_reload(t, err) != OMS_OK) {
        http_tls_free(t);
        return NULL;
    }
    return t;
}

oms_err http_tls_reload(http_tls *t, oms_error *err)
{
    pthread_mutex_lock(&t->lock);
    cert_set *c = load_set(t, err);
    if (c) {
        c->older = t->sets;
        t->sets = c;
        atomic_store(&t->current, c);
    }
    pthread_mutex_unlock(&t->lock);
    return c ? OMS_OK : err->code;
}

void http_tls_free(http_tls *t)
{
    if (!t)
        return;
    while (t->sets) {
        cert_set *c = t->sets;
        t->sets = c->older;
        free_set(c);
    }
    pthread_mutex_destroy(&t->lock);
    free(t->cert_file);
    free(t->key_file);
    free(t);
}

/* GnuTLS's certificate callback (gnutls_certificate_retrieve_function2):
 * libmicrohttpd sets the session's pointer to its connection. */
static int current_certificate(gnutls_session_t session, const gnutls_datum_t *req_ca_rdn, int nreqs,
                               const gnutls_pk_algorithm_t *pk_algos, int pk_algos_length, gnutls_pcert_st **pcert,
                               unsigned int *pcert_length, gnutls_privkey_t *pkey)
{
    (void)req_ca_rdn;
    (void)nreqs;
    (void)pk_algos;
    (void)pk_algos_length;
    struct MHD_Connection *conn = gnutls_session_get_ptr(session);
    http_tls *t = conn ? http_server_tls_of(conn) : NULL;
    cert_set *c = t ? atomic_load(&t->current) : NULL;
    if (!c)
        return -1;
    *pcert = c->chain;
    *pcert_length = c->chain_len;
    *pkey = c->key;
    return 0;
}

size_t http_tls_options(struct MHD_OptionItem *out)
{
    gnutls_certificate_retrieve_function2 *callback = current_certificate;
    out[0] = (struct MHD_OptionItem){MHD_OPTION_HTTPS_CERT_CALLBACK, 0, (void *)callback};
    out[1] = (struct MHD_OptionItem){MHD_OPTION_HTTPS_PRIORITIES, 0, (void *)TLS_PRIORITIES};
    return HTTP_TLS_OPTIONS;
}
