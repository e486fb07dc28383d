/* principal.c -- see principal.h. */
#include "principal.h"

#include <string.h>

static const char *const role_names[ROLE_COUNT] = {
    [ROLE_CUSTOMER] = "customer",
    [ROLE_VIEWER] = "viewer",
    [ROLE_OPERATOR] = "operator",
    [ROLE_ADMIN] = "admin",
};

const char *role_name(gateway_role role) { return (unsigned)role < ROLE_COUNT ? role_names[role] : "unknown"; }

bool role_parse(const char *text, size_t len, gateway_role *out)
{
    for (int r = 0; r < ROLE_COUNT; r++) {
        if (strlen(role_names[r]) == len && memcmp(role_names[r], text, len) == 0) {
            *out = (gateway_role)r;
            return true;
        }
    }
    return false;
}

bool subject_is_valid(const char *text, size_t len)
{
    if (len == 0 || len > PRINCIPAL_SUBJECT_MAX)
        return false;
    for (size_t i = 0; i < len; i++) {
        char c = text[i];
        if (c <= ' ' || c >= 0x7f || c == ',')
            return false;
    }
    return true;
}

bool principal_may(const principal *p, gateway_roles allowed) { return (allowed & ROLES_OF(p->role)) != 0; }

bool principal_is_other_customer(const principal *p, const char *customer_id)
{
    return p->role == ROLE_CUSTOMER && strcmp(p->subject, customer_id) != 0;
}
