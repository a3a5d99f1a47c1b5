/*
 * registration_access.c - the roles allowed per registration operation and
 * the tenant checks (pure; see registration_access.h for the table).
 */
#include "registration_access.h"

#include "sp_municipality.h"
#include "sp_valid.h"

#include <stdio.h>
#include <string.h>

#define OP(x) SAMSPIL__V1__REGISTRATION_REQUEST__OP_##x

#define S_OPERATOR SP_ROLE_BIT(SP_ROLE_OPERATOR)
#define S_INTEGRATOR SP_ROLE_BIT(SP_ROLE_INTEGRATOR)
#define S_FACILITATOR SP_ROLE_BIT(SP_ROLE_FACILITATOR)
#define S_READER SP_ROLE_BIT(SP_ROLE_READER)

/* writes of actors and partnerships: the case systems that supply them */
#define S_WRITE (S_OPERATOR | S_INTEGRATOR)
/* reads of individual data, and the ties facilitators record */
#define S_WORK (S_OPERATOR | S_INTEGRATOR | S_FACILITATOR)
/* partnerships hold no personal data */
#define S_ALL (S_WORK | S_READER)

#define T REGISTRATION_SCOPE_TENANT
#define D REGISTRATION_SCOPE_DIRECTORY
#define S REGISTRATION_SCOPE_SERVICE

static const registration_access_t s_rules[] = {
    {OP(TENANT_CREATE), "tenant_create", S_OPERATOR, D},
    {OP(TENANT_GET), "tenant_get", S_OPERATOR, D},
    {OP(TENANT_LIST), "tenant_list", S_OPERATOR, D},
    {OP(PARTNERSHIP_CREATE), "partnership_create", S_WRITE, T},
    {OP(PARTNERSHIP_GET), "partnership_get", S_ALL, T},
    {OP(PARTNERSHIP_LIST), "partnership_list", S_ALL, T},
    {OP(PARTNERSHIP_UPDATE), "partnership_update", S_WRITE, T},
    {OP(ACTOR_CREATE), "actor_create", S_WRITE, T},
    {OP(ACTOR_GET), "actor_get", S_WORK, T},
    {OP(ACTOR_LIST), "actor_list", S_WORK, T},
    {OP(ACTOR_UPDATE), "actor_update", S_WRITE, T},
    {OP(ACTOR_UPSERT), "actor_upsert", S_WRITE, T},
    {OP(MEMBER_ADD), "member_add", S_WORK, T},
    {OP(MEMBER_LIST), "member_list", S_WORK, T},
    {OP(MEMBER_END), "member_end", S_WORK, T},
    {OP(RELATION_ADD), "relation_add", S_WORK, T},
    {OP(RELATION_LIST), "relation_list", S_WORK, T},
    {OP(CONSENT_RECORD), "consent_record", S_WORK, T},
    {OP(CONSENT_WITHDRAW), "consent_withdraw", S_WORK, T},
    {OP(CONSENT_LIST), "consent_list", S_WORK, T},
    {OP(PERSON_EXPORT), "person_export", S_OPERATOR | S_FACILITATOR, T},
    {OP(PERSON_ERASE), "person_erase", S_OPERATOR, T},
    {OP(DATA_KEY_ROTATE), "data_key_rotate", S_OPERATOR, S},
};

const registration_access_t *registration_access_find(Samspil__V1__RegistrationRequest__OpCase op)
{
    for (size_t i = 0; i < sizeof s_rules / sizeof s_rules[0]; i++)
        if (s_rules[i].op == op)
            return &s_rules[i];
    return NULL;
}

const char *registration_access_roles_text(unsigned mask, char *out, size_t outlen)
{
    static const Samspil__V1__Role order[] = {SP_ROLE_OPERATOR, SP_ROLE_INTEGRATOR,
                                              SP_ROLE_FACILITATOR, SP_ROLE_READER};
    size_t o = 0;
    if (outlen)
        out[0] = '\0';
    for (size_t i = 0; i < sizeof order / sizeof order[0]; i++) {
        if (!(mask & SP_ROLE_BIT(order[i])) || o >= outlen)
            continue;
        int n = snprintf(out + o, outlen - o, "%s%s", o ? ", " : "", sp_role_name(order[i]));
        o = n < 0 ? outlen : o + (size_t)n;
    }
    return out;
}

/* Quote a client value for a message. */
static int s_quote_fail(sp_error_t *err, sp_error_code_t code, const char *field, const char *fmt,
                        const char *value)
{
    char quoted[SP_VALID_QUOTE_MAX + 8];
    sp_error_quote(value ? value : "", SP_VALID_QUOTE_MAX, quoted, sizeof quoted);
    return sp_error_set(err, code, field, fmt, quoted);
}

int registration_access_check(const Samspil__V1__RegistrationRequest *req,
                              const sp_principal_t *principal, sp_error_t *err)
{
    const registration_access_t *rule = registration_access_find(req->op_case);
    if (!rule)
        return sp_error_set(err, SP_INVALID_ARGUMENT, "op", "request names no known operation");
    if (!sp_principal_has_role(principal, rule->roles)) {
        char allowed[96];
        return sp_error_set(err, SP_PERMISSION_DENIED, "op",
                            "role %s may not call %s (allowed: %s)",
                            sp_role_name(principal ? principal->role : 0), rule->name,
                            registration_access_roles_text(rule->roles, allowed, sizeof allowed));
    }
    if (rule->scope == REGISTRATION_SCOPE_SERVICE && !principal->all_tenants)
        return sp_error_set(err, SP_PERMISSION_DENIED, "op",
                            "%s acts on every tenant: only a principal of all tenants may call it",
                            rule->name);
    if (rule->scope == REGISTRATION_SCOPE_TENANT) {
        const char *t = req->tenant;
        if (!t || !*t)
            return sp_error_set(err, SP_INVALID_ARGUMENT, "tenant",
                                "tenant is required (a 3-digit municipality code)");
        if (!sp_valid_is_three_digits(t))
            return sp_valid_municipality(t, "tenant", err);
        if (!sp_principal_may_act_for(principal, t))
            return s_quote_fail(err, SP_PERMISSION_DENIED, "tenant",
                                "principal may not act for tenant \"%s\"", t);
        if (!sp_municipality_find(t))
            return s_quote_fail(err, SP_NOT_FOUND, "tenant", "unknown tenant \"%s\"", t);
        return 0;
    }
    const char *code = NULL, *field = NULL;
    if (req->op_case == OP(TENANT_CREATE) && req->tenant_create)
        code = req->tenant_create->code, field = "tenant_create.code";
    if (req->op_case == OP(TENANT_GET) && req->tenant_get)
        code = req->tenant_get->code, field = "tenant_get.code";
    if (code && sp_valid_is_three_digits(code) && !sp_principal_may_act_for(principal, code))
        return s_quote_fail(err, SP_PERMISSION_DENIED, field,
                            "principal may not act for tenant \"%s\"", code);
    return 0;
}
