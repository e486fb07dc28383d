/* principal.h -- who a request comes from, as the gateway proved it (SPEC 7),
 * and what that lets it do where the data lives. Pure C.
 *
 * The gateway authenticates clients and passes the principal to the services
 * in headers (docs/architecture.md, "The gateway and the services"): a role,
 * a subject (a customer's customer_id) and a stable id that names the
 * principal without its secret. A service reads them (service_auth.h) only
 * from a request that carries the internal credential, and decides with the
 * functions below. Roles nest: viewer < operator < admin; a customer stands
 * apart and acts on its own data only. */
#ifndef OMS_PRINCIPAL_H
#define OMS_PRINCIPAL_H

#include <stdbool.h>
#include <stddef.h>

#include "err.h"

typedef enum oms_role {
    OMS_ROLE_CUSTOMER = 0,
    OMS_ROLE_VIEWER,
    OMS_ROLE_OPERATOR,
    OMS_ROLE_ADMIN,
} oms_role;

/* A subject is compared with ids of the API (at most 64 characters, SPEC 2);
 * a principal id is "key:<16 hex>", "jwt:<sub>", "jwt-role:<role>" or
 * "local". */
#define OMS_PRINCIPAL_SUBJECT_MAX 64
#define OMS_PRINCIPAL_ID_MAX 80

typedef struct oms_principal {
    oms_role role;
    const char *subject; /* NULL when none; always set for a customer */
    const char *id;      /* never NULL */
    /* The request it acted through (X-Request-Id), which the audit trail
     * records with its writes (audit.h); NULL outside a request. */
    const char *request_id;
} oms_principal;

/* "customer", "viewer", "operator", "admin". */
const char *oms_role_name(oms_role role);

/* The principal of the three header values (role, subject, id; the subject
 * may be NULL). The strings are borrowed, not copied. OMS_EINVAL naming the
 * header when the role is unknown, a customer has no subject, or a value is
 * empty, too long or has a character outside printable ASCII. */
oms_err oms_principal_parse(const char *role, const char *subject, const char *id, oms_principal *out, oms_error *err);

/* The principal of a local run whose gateway has no credential source:
 * every request is an admin's (SPEC 7). */
const oms_principal *oms_principal_local_admin(void);

/* Whether `p` has `role` or a role above it; a customer has only its own. */
bool oms_principal_is_at_least(const oms_principal *p, oms_role role);

static inline bool oms_principal_is_customer(const oms_principal *p) { return p->role == OMS_ROLE_CUSTOMER; }

/* Whether data of `customer_id` is `p`'s to see: any role but a customer
 * sees everyone's; a customer only its own. A customer asking for another's
 * order, account or payment gets 404, never 403 (SPEC 7: nothing to
 * enumerate). */
bool oms_principal_may_see(const oms_principal *p, const char *customer_id);

#endif
