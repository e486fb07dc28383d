/* err.h -- the one error enum of the project, and the error detail a caller
 * passes down so a callee can say which field or which product failed.
 *
 * Pure C, no I/O: the domain layer may include it. HTTP status mapping lives
 * once, in the HTTP adapter (oms_err_http_status in http.h). */
#ifndef OMS_ERR_H
#define OMS_ERR_H

#include <stdarg.h>

typedef enum {
    OMS_OK = 0,
    OMS_EINVAL,       /* bad input: a field is missing, malformed or out of range (400) */
    OMS_ENOTFOUND,    /* the thing asked for does not exist (404) */
    OMS_EFORBIDDEN,   /* the principal's role may not do it (403) */
    OMS_ECONFLICT,    /* it exists already, or its state forbids the change (409) */
    OMS_EBUSY,        /* a concurrent holder: retry later (409 for clients, retry for messages) */
    OMS_ETOOLARGE,    /* a length from outside exceeds its bound (413) */
    OMS_EUNSUPPORTED, /* wrong media type or method (415/405) */
    OMS_EUNAVAILABLE, /* a dependency (database, broker, service) is unreachable (503) */
    OMS_ETIMEOUT,     /* a dependency did not answer in time (504) */
    OMS_ENOMEM,       /* an allocation failed */
    OMS_EINTERNAL     /* a bug or an impossible state; never caused by client input */
} oms_err;

/* Detail of a failure. `field` names the offending input field ("items[2].quantity")
 * or is empty; `message` is one human sentence; `reason` is a stable machine
 * name that refines `code` where a client must tell failures apart
 * ("idempotency_key_reused", "order_ended"), or empty. All are always
 * NUL-terminated. */
typedef struct oms_error {
    oms_err code;
    char field[96];
    char message[256];
    char reason[48];
} oms_error;

/* A stable lowercase name for the code: "invalid_argument", "not_found", ... */
const char *oms_err_name(oms_err code);

/* Fills `e` (when not NULL) and returns `code`, so a callee can write
 * `return oms_error_set(err, OMS_EINVAL, "quantity", "must be at least %d", 1);`.
 * `field` may be NULL. */
oms_err oms_error_set(oms_error *e, oms_err code, const char *field, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

/* Sets e->reason (when e is not NULL) after oms_error_set, which empties it;
 * returns e's code (`code` when e is NULL), so a callee can write
 * `return oms_error_reason(err, oms_error_set(err, OMS_ECONFLICT, ...), "order_ended");`. */
oms_err oms_error_reason(oms_error *e, oms_err code, const char *reason);

/* Clears `e` to OMS_OK with empty strings. */
void oms_error_clear(oms_error *e);

#endif
