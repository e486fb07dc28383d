/* service_auth.h -- a service trusts only the gateway (SPEC 7; review H3).
 *
 * Every request but GET /health, /ready and /metrics (probes and scraping)
 * must carry the internal credential in X-OMS-Internal-Key: one of the
 * service's INTERNAL_API_KEYS, compared in constant time. Two keys may be
 * accepted at once, so that a key is rotated without a refused request: add
 * the new key to the services, switch the gateway's INTERNAL_API_KEY, drop
 * the old one. Such a request's principal is what the gateway proved
 * (principal.h): X-OMS-Role, X-OMS-Subject, X-OMS-Principal.
 *
 * Without keys (a local run only: OMS_LOCAL_RUN=1, the services listening on
 * 127.0.0.1) nothing is asked; a request then speaks for the principal in
 * its headers, or for the local admin when it has none. */
#ifndef OMS_SERVICE_AUTH_H
#define OMS_SERVICE_AUTH_H

#include <stdbool.h>
#include <stddef.h>

#include "err.h"
#include "http.h"
#include "principal.h"

#define OMS_INTERNAL_KEYS_MAX 2
#define OMS_INTERNAL_KEY_MIN 16 /* the gateway's INTERNAL_API_KEY bound */
#define OMS_INTERNAL_KEY_MAX 256

/* The accepted keys; count 0: none asked. */
typedef struct oms_internal_keys {
    size_t count;
    char keys[OMS_INTERNAL_KEYS_MAX][OMS_INTERNAL_KEY_MAX + 1];
} oms_internal_keys;

/* A settings row's parser (config.h, OMS_SETTING_PARSED) for
 * INTERNAL_API_KEYS: 1 or 2 comma-separated keys of 16 to 256 printable
 * characters, into an oms_internal_keys; unset: count 0. OMS_EINVAL
 * saying why (never echoing a key). */
oms_err oms_internal_keys_parse(const char *value, void *target, oms_error *err);

/* Whether `presented` (may be NULL) is one of the keys. Every key is
 * compared whole, whatever matched: the time taken says nothing about how
 * much of a key was right. */
bool oms_internal_keys_match(const oms_internal_keys *keys, const char *presented);

/* The admission of a service's requests (oms_http_config.admit, through
 * service.c): a built-in path passes; a request without a valid internal
 * credential (when keys are set) gets 401, one whose principal headers are
 * not valid (or absent while keys are set) 401 too; else req->auth is set
 * to its principal (in the request's arena) and the request goes on. */
bool oms_service_admit(const oms_internal_keys *keys, oms_http_request *req, oms_http_response *res);

/* The request's principal, as admission set it; when there is none (a
 * server without this admission) answers 401 and returns NULL. */
const oms_principal *oms_request_principal(oms_http_request *req, oms_http_response *res);

/* Answers 403 `forbidden` ("<role> may not <what>") and returns false
 * unless `p` has `role` or one above it (a customer: exactly it). */
bool oms_principal_require(const oms_principal *p, oms_role role, const char *what, oms_http_request *req,
                           oms_http_response *res);

#endif
