/*
 * sp_principal.c - role and tenant checks on the authenticated principal.
 */
#include "sp_principal.h"

#include <string.h>

bool
sp_principal_has_role(const sp_principal_t *principal, unsigned role_mask)
{
    /* the role came off the wire: an unknown value must not reach the shift */
    if (!principal || principal->role <= SAMSPIL__V1__ROLE__ROLE_UNSPECIFIED ||
        principal->role > SAMSPIL__V1__ROLE__ROLE_SERVICE)
        return false;
    return (SP_ROLE_BIT(principal->role) & role_mask) != 0;
}

bool
sp_principal_may_act_for(const sp_principal_t *principal, const char *tenant)
{
    if (!principal || !tenant || !*tenant)
        return false;
    if (principal->all_tenants)
        return true;
    for (size_t i = 0; i < principal->n_tenants; i++)
        if (principal->tenants[i] && strcmp(principal->tenants[i], tenant) == 0)
            return true;
    return false;
}

bool
sp_principal_sees_restricted(const sp_principal_t *principal, const char *tenant)
{
    if (!sp_principal_may_act_for(principal, tenant))
        return false;
    return principal->role == SP_ROLE_OPERATOR || principal->role == SP_ROLE_FACILITATOR;
}

const char *
sp_role_name(Samspil__V1__Role role)
{
    switch (role) {
    case SP_ROLE_OPERATOR: return "operator";
    case SP_ROLE_INTEGRATOR: return "integrator";
    case SP_ROLE_FACILITATOR: return "facilitator";
    case SP_ROLE_READER: return "reader";
    default: return "unspecified";
    }
}
