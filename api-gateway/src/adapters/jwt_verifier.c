/* jwt_verifier.c -- see jwt_verifier.h. libjwt checks the signature (and
 * compares HMACs in constant time); this file picks the key, reads the
 * claims out of the verified payload (jansson) and never judges them. */
#include "jwt_verifier.h"

#include <errno.h>
#include <jansson.h>
#include <jwt.h>
#include <openssl/bio.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <stdlib.h>
#include <string.h>

#define RSA_MIN_BITS 2048

typedef struct jwt_verifier {
    token_verifier port;
    unsigned char *secret; /* HS256, or NULL */
    int secret_len;
    unsigned char *pem; /* RS256 or ES256, or NULL */
    int pem_len;
    jwt_alg_t pem_alg; /* JWT_ALG_RS256 or JWT_ALG_ES256 */
} jwt_verifier;

/* ---- the claims ---- */

static void read_text(const json_t *claims, const char *name, token_text_claim *out, bool *malformed)
{
    const json_t *v = json_object_get(claims, name);
    if (!v)
        return;
    if (!json_is_string(v)) {
        *malformed = true;
        return;
    }
    token_text_claim_set(out, json_string_value(v), json_string_length(v));
}

/* A NumericDate: seconds, possibly with a fraction (RFC 7519 2). */
static void read_time(const json_t *claims, const char *name, bool *has, int64_t *out, bool *malformed)
{
    const json_t *v = json_object_get(claims, name);
    if (!v)
        return;
    if (json_is_integer(v)) {
        *out = (int64_t)json_integer_value(v);
    } else if (json_is_real(v) && json_real_value(v) > -9e15 && json_real_value(v) < 9e15) {
        *out = (int64_t)json_real_value(v);
    } else {
        *malformed = true;
        return;
    }
    *has = true;
}

static void read_audiences(const json_t *claims, token_claims *c)
{
    const json_t *v = json_object_get(claims, "aud");
    if (!v)
        return;
    if (json_is_string(v)) {
        token_text_claim_set(&c->aud[c->aud_count++], json_string_value(v), json_string_length(v));
        return;
    }
    if (!json_is_array(v)) {
        c->malformed = true;
        return;
    }
    size_t i;
    const json_t *item;
    json_array_foreach(v, i, item)
    {
        if (!json_is_string(item)) {
            c->malformed = true;
            return;
        }
        if (c->aud_count == TOKEN_AUDIENCES_MAX) {
            c->aud_overflow = true;
            return;
        }
        token_text_claim_set(&c->aud[c->aud_count++], json_string_value(item), json_string_length(item));
    }
}

static oms_err read_claims(jwt_t *jwt, token_claims *c, oms_error *err)
{
    char *text = jwt_get_grants_json(jwt, NULL);
    if (!text)
        return oms_error_set(err, OMS_EINVAL, NULL, "the token has no claims");
    json_t *claims = json_loads(text, JSON_REJECT_DUPLICATES, NULL);
    free(text);
    if (!json_is_object(claims)) {
        json_decref(claims);
        return oms_error_set(err, OMS_EINVAL, NULL, "the token's claims are not a JSON object");
    }
    read_time(claims, "exp", &c->has_exp, &c->exp, &c->malformed);
    read_time(claims, "nbf", &c->has_nbf, &c->nbf, &c->malformed);
    read_text(claims, "iss", &c->iss, &c->malformed);
    read_text(claims, "role", &c->role, &c->malformed);
    read_text(claims, "sub", &c->sub, &c->malformed);
    read_audiences(claims, c);
    json_decref(claims);
    return OMS_OK;
}

/* ---- the signature ---- */

/* The algorithm the token's header names, read without verifying anything
 * (to choose the key); JWT_ALG_INVAL when it is not a JWT. *critical turns
 * true when the header lists extensions that must be understood ("crit",
 * RFC 7515 4.1.11): the gateway understands none. */
static jwt_alg_t named_algorithm(const char *token, bool *critical)
{
    jwt_t *unverified = NULL;
    if (jwt_decode(&unverified, token, NULL, 0) != 0 || !unverified)
        return JWT_ALG_INVAL;
    const char *alg = jwt_get_header(unverified, "alg");
    jwt_alg_t named = alg ? jwt_str_alg(alg) : JWT_ALG_INVAL;
    char *crit = jwt_get_headers_json(unverified, "crit");
    *critical = crit != NULL;
    free(crit);
    jwt_free(unverified);
    return named;
}

static bool key_for(const jwt_verifier *v, jwt_alg_t alg, const unsigned char **key, int *len)
{
    if (alg == JWT_ALG_HS256 && v->secret) {
        *key = v->secret;
        *len = v->secret_len;
        return true;
    }
    if (alg == v->pem_alg && v->pem) {
        *key = v->pem;
        *len = v->pem_len;
        return true;
    }
    return false;
}

static oms_err verify(token_verifier *port, const char *token, token_claims *claims, oms_error *err)
{
    jwt_verifier *v = port->self;
    if (strnlen(token, JWT_TOKEN_MAX + 1) > JWT_TOKEN_MAX)
        return oms_error_set(err, OMS_EINVAL, NULL, "the token is longer than %d bytes", JWT_TOKEN_MAX);
    bool critical = false;
    jwt_alg_t alg = named_algorithm(token, &critical);
    if (alg == JWT_ALG_INVAL)
        return oms_error_set(err, OMS_EINVAL, NULL, "the token is not a valid JWT");
    if (critical)
        return oms_error_set(err, OMS_EINVAL, NULL, "the token names critical header extensions (crit)");
    const unsigned char *key = NULL;
    int key_len = 0;
    if (!key_for(v, alg, &key, &key_len))
        return oms_error_set(err, OMS_EINVAL, NULL, "the token's algorithm (%s) is not accepted",
                             alg == JWT_ALG_NONE ? "none" : jwt_alg_str(alg));
    jwt_t *jwt = NULL;
    int rc = jwt_decode(&jwt, token, key, key_len);
    if (rc == ENOMEM)
        return oms_error_set(err, OMS_ENOMEM, NULL, "out of memory");
    if (rc != 0 || !jwt || jwt_get_alg(jwt) != alg) {
        jwt_free(jwt);
        return oms_error_set(err, OMS_EINVAL, NULL, "the token's signature is not valid");
    }
    oms_err result = read_claims(jwt, claims, err);
    jwt_free(jwt);
    return result;
}

static const token_verifier_ops jwt_verifier_ops = {.verify = verify};

/* ---- the keys ---- */

/* RS256 for an RSA key of 2048 bits or more, ES256 for a P-256 key. */
static jwt_alg_t algorithm_of_key(const char *pem, size_t len, oms_error *err)
{
    BIO *bio = BIO_new_mem_buf(pem, (int)len);
    EVP_PKEY *pkey = bio ? PEM_read_bio_PUBKEY(bio, NULL, NULL, NULL) : NULL;
    BIO_free(bio);
    jwt_alg_t alg = JWT_ALG_INVAL;
    char group[64] = "";
    size_t group_len = 0;
    if (!pkey)
        oms_error_set(err, OMS_EINVAL, "JWT_PUBLIC_KEY_FILE", "not a PEM public key (BEGIN PUBLIC KEY)");
    else if (EVP_PKEY_get_base_id(pkey) == EVP_PKEY_RSA && EVP_PKEY_get_bits(pkey) >= RSA_MIN_BITS)
        alg = JWT_ALG_RS256;
    else if (EVP_PKEY_get_base_id(pkey) == EVP_PKEY_EC &&
             EVP_PKEY_get_group_name(pkey, group, sizeof group, &group_len) == 1 && strcmp(group, "prime256v1") == 0)
        alg = JWT_ALG_ES256;
    else
        oms_error_set(err, OMS_EINVAL, "JWT_PUBLIC_KEY_FILE",
                      "the key must be RSA of %d bits or more (RS256) or EC P-256 (ES256)", RSA_MIN_BITS);
    EVP_PKEY_free(pkey);
    return alg;
}

static unsigned char *copy_bytes(const char *bytes, size_t len)
{
    unsigned char *copy = malloc(len + 1);
    if (copy) {
        memcpy(copy, bytes, len);
        copy[len] = '\0';
    }
    return copy;
}

static oms_err load_keys(jwt_verifier *v, const jwt_keys *keys, oms_error *err)
{
    if (keys->hs256_secret) {
        if (keys->hs256_secret_len < JWT_HS256_SECRET_MIN)
            return oms_error_set(err, OMS_EINVAL, "JWT_HS256_SECRET", "must be at least %d bytes",
                                 JWT_HS256_SECRET_MIN);
        v->secret = copy_bytes(keys->hs256_secret, keys->hs256_secret_len);
        v->secret_len = (int)keys->hs256_secret_len;
        if (!v->secret)
            return oms_error_set(err, OMS_ENOMEM, NULL, "out of memory");
    }
    if (keys->public_key_pem) {
        v->pem_alg = algorithm_of_key(keys->public_key_pem, keys->public_key_pem_len, err);
        if (v->pem_alg == JWT_ALG_INVAL)
            return OMS_EINVAL;
        v->pem = copy_bytes(keys->public_key_pem, keys->public_key_pem_len);
        v->pem_len = (int)keys->public_key_pem_len;
        if (!v->pem)
            return oms_error_set(err, OMS_ENOMEM, NULL, "out of memory");
    }
    return OMS_OK;
}

token_verifier *jwt_verifier_create(const jwt_keys *keys, oms_error *err)
{
    jwt_verifier *v = calloc(1, sizeof *v);
    if (!v) {
        oms_error_set(err, OMS_ENOMEM, NULL, "out of memory");
        return NULL;
    }
    v->pem_alg = JWT_ALG_INVAL;
    v->port = (token_verifier){.ops = &jwt_verifier_ops, .self = v};
    if (load_keys(v, keys, err) != OMS_OK) {
        jwt_verifier_destroy(&v->port);
        return NULL;
    }
    return &v->port;
}

void jwt_verifier_destroy(token_verifier *port)
{
    if (!port)
        return;
    jwt_verifier *v = port->self;
    if (v->secret)
        OPENSSL_cleanse(v->secret, (size_t)v->secret_len);
    free(v->secret);
    free(v->pem);
    free(v);
}
