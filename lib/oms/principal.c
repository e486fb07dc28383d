/* principal.c -- see principal.h. */
#include "principal.h"

#include <string.h>

static const char *const role_names[] = {
    [OMS_ROLE_CUSTOMER] = "customer",
    [OMS_ROLE_VIEWER] = "viewer",
    [OMS_ROLE_OPERATOR] = "operator",
    [OMS_ROLE_ADMIN] = "admin",
};

const char *oms_role_name(oms_role role)
{
    return (unsigned)role < sizeof role_names / sizeof role_names[0] ? role_names[role] : "unknown";
}

/* 1..max printable ASCII characters: what the gateway writes (a header value
 * that a proxy would not split or rewrite). */
static bool printable(const char *s, size_t max)
{
    size_t len = s ? strnlen(s, max + 1) : 0;
    if (len == 0 || len > max)
        return false;
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c < 0x21 || c > 0x7e)
            return false;
    }
    return true;
}

oms_err oms_principal_parse(const char *role, const char *subject, const char *id, oms_principal *out, oms_error *err)
{
    size_t n = sizeof role_names / sizeof role_names[0];
    size_t r = 0;
    while (r < n && !(role && strcmp(role, role_names[r]) == 0))
        r++;
    if (r == n)
        return oms_error_set(err, OMS_EINVAL, "X-OMS-Role", "the principal's role is not one of SPEC 7's");
    if (subject && !printable(subject, OMS_PRINCIPAL_SUBJECT_MAX))
        return oms_error_set(err, OMS_EINVAL, "X-OMS-Subject", "the principal's subject is not a valid id");
    if (r == OMS_ROLE_CUSTOMER && !subject)
        return oms_error_set(err, OMS_EINVAL, "X-OMS-Subject", "a customer principal needs a subject");
    if (!printable(id, OMS_PRINCIPAL_ID_MAX))
        return oms_error_set(err, OMS_EINVAL, "X-OMS-Principal", "the principal's id is missing or not valid");
    *out = (oms_principal){.role = (oms_role)r, .subject = subject, .id = id};
    return OMS_OK;
}

const oms_principal *oms_principal_local_admin(void)
{
    static const oms_principal local = {.role = OMS_ROLE_ADMIN, .subject = NULL, .id = "local"};
    return &local;
}

bool oms_principal_is_at_least(const oms_principal *p, oms_role role)
{
    if (p->role == OMS_ROLE_CUSTOMER || role == OMS_ROLE_CUSTOMER)
        return p->role == role;
    return p->role >= role;
}

bool oms_principal_may_see(const oms_principal *p, const char *customer_id)
{
    if (!oms_principal_is_customer(p))
        return true;
    return customer_id && strcmp(p->subject, customer_id) == 0;
}
