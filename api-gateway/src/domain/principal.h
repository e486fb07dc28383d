/* principal.h -- who sends a request, as the gateway decided (SPEC 7).
 *
 * Pure C. A principal is a role, a subject (the customer_id for a customer)
 * and a stable id that names it without its secret: the services scope
 * idempotency keys by that id. Roles nest: viewer < operator < admin; a
 * customer is apart (it acts on its own data only). */
#ifndef GATEWAY_PRINCIPAL_H
#define GATEWAY_PRINCIPAL_H

#include <stdbool.h>
#include <stddef.h>

typedef enum { ROLE_CUSTOMER = 0, ROLE_VIEWER, ROLE_OPERATOR, ROLE_ADMIN, ROLE_COUNT } gateway_role;

/* A set of roles, one bit per role. */
typedef unsigned gateway_roles;
#define ROLES_OF(role) (1u << (role))
/* A role and every role above it (the customer role stands alone). */
#define ROLES_CUSTOMER ROLES_OF(ROLE_CUSTOMER)
#define ROLES_ADMIN ROLES_OF(ROLE_ADMIN)
#define ROLES_OPERATOR (ROLES_OF(ROLE_OPERATOR) | ROLES_ADMIN)
#define ROLES_VIEWER (ROLES_OF(ROLE_VIEWER) | ROLES_OPERATOR)

/* A subject travels in a header and is compared with ids of the API, which
 * are at most 64 characters (SPEC 2). */
#define PRINCIPAL_SUBJECT_MAX 64
#define PRINCIPAL_ID_MAX (16 + PRINCIPAL_SUBJECT_MAX)

typedef struct principal {
    gateway_role role;
    char subject[PRINCIPAL_SUBJECT_MAX + 1]; /* "" when none */
    char id[PRINCIPAL_ID_MAX + 1];           /* "key:<hex>", "jwt:<sub>", "local" */
} principal;

/* "customer", "viewer", "operator", "admin". */
const char *role_name(gateway_role role);

/* The role named by the `len` bytes at `text`; false when none is. */
bool role_parse(const char *text, size_t len, gateway_role *out);

/* Whether `len` bytes at `text` make a valid subject: 1..PRINCIPAL_SUBJECT_MAX
 * printable ASCII characters, no blank and no ',' (it separates the entries
 * of API_KEYS); ':' is allowed (ids such as "tenant:42"). */
bool subject_is_valid(const char *text, size_t len);

/* Whether `p` may use something open to `allowed`. */
bool principal_may(const principal *p, gateway_roles allowed);

/* Whether `p` is a customer whose subject is not `customer_id` (then the
 * resource is someone else's: SPEC 7 answers 404, not 403). */
bool principal_is_other_customer(const principal *p, const char *customer_id);

#endif
