/* token_claims.c -- see token_claims.h. */
#include "token_claims.h"

#include <stdio.h>
#include <string.h>

void token_text_claim_set(token_text_claim *claim, const char *text, size_t len)
{
    claim->present = true;
    claim->too_long = len > TOKEN_CLAIM_MAX;
    size_t n = claim->too_long ? TOKEN_CLAIM_MAX : len;
    memcpy(claim->value, text, n);
    claim->value[n] = '\0';
}

static bool claim_equals(const token_text_claim *claim, const char *expected)
{
    return claim->present && !claim->too_long && strcmp(claim->value, expected) == 0;
}

static bool audience_matches(const token_claims *c, const char *audience)
{
    for (int i = 0; i < c->aud_count; i++)
        if (claim_equals(&c->aud[i], audience))
            return true;
    return false;
}

static oms_err check_times(const token_claims *c, const token_policy *p, int64_t now_s, oms_error *err)
{
    if (!c->has_exp)
        return oms_error_set(err, OMS_EINVAL, NULL, "the token has no expiry (exp)");
    if (now_s - p->leeway_s >= c->exp)
        return oms_error_set(err, OMS_EINVAL, NULL, "the token has expired");
    if (c->has_nbf && now_s + p->leeway_s < c->nbf)
        return oms_error_set(err, OMS_EINVAL, NULL, "the token is not valid yet (nbf)");
    return OMS_OK;
}

static oms_err check_origin(const token_claims *c, const token_policy *p, oms_error *err)
{
    if (p->issuer && !claim_equals(&c->iss, p->issuer))
        return oms_error_set(err, OMS_EINVAL, NULL, "the token's issuer (iss) is not the expected one");
    if (p->audience && (c->aud_overflow || !audience_matches(c, p->audience)))
        return oms_error_set(err, OMS_EINVAL, NULL, "the token is not meant for this API (aud)");
    return OMS_OK;
}

static oms_err make_principal(const token_claims *c, principal *out, oms_error *err)
{
    memset(out, 0, sizeof *out);
    if (!c->role.present || c->role.too_long || !role_parse(c->role.value, strlen(c->role.value), &out->role))
        return oms_error_set(err, OMS_EINVAL, NULL, "the token's role must be customer, viewer, operator or admin");
    if (!c->sub.present) {
        if (out->role == ROLE_CUSTOMER)
            return oms_error_set(err, OMS_EINVAL, NULL, "a customer token needs a subject (sub)");
        snprintf(out->id, sizeof out->id, "jwt-role:%s", role_name(out->role));
        return OMS_OK;
    }
    if (c->sub.too_long || !subject_is_valid(c->sub.value, strlen(c->sub.value)))
        return oms_error_set(err, OMS_EINVAL, NULL,
                             "the token's subject (sub) must be 1..%d printable characters without blanks or ','",
                             PRINCIPAL_SUBJECT_MAX);
    snprintf(out->subject, sizeof out->subject, "%s", c->sub.value);
    snprintf(out->id, sizeof out->id, "jwt:%s", c->sub.value);
    return OMS_OK;
}

oms_err token_claims_check(const token_claims *claims, const token_policy *policy, int64_t now_s, principal *out,
                           oms_error *err)
{
    if (claims->malformed)
        return oms_error_set(err, OMS_EINVAL, NULL, "the token has a claim of the wrong type");
    oms_err rc = check_times(claims, policy, now_s, err);
    if (rc == OMS_OK)
        rc = check_origin(claims, policy, err);
    if (rc == OMS_OK)
        rc = make_principal(claims, out, err);
    return rc;
}
