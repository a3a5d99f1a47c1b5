/*
 * sp_principal.h - who is asking: checks on the principal the broker
 * authenticated and passed to the worker with each request.
 */
#ifndef SP_PRINCIPAL_H
#define SP_PRINCIPAL_H

#include "samspil/v1/common.pb-c.h"

#include <stdbool.h>

typedef Samspil__V1__Principal sp_principal_t;

#define SP_ROLE_OPERATOR SAMSPIL__V1__ROLE__ROLE_OPERATOR
#define SP_ROLE_INTEGRATOR SAMSPIL__V1__ROLE__ROLE_INTEGRATOR
#define SP_ROLE_FACILITATOR SAMSPIL__V1__ROLE__ROLE_FACILITATOR
#define SP_ROLE_READER SAMSPIL__V1__ROLE__ROLE_READER

/* Bit for a role in a role mask, e.g. SP_ROLES(OPERATOR) | SP_ROLES(INTEGRATOR). */
#define SP_ROLE_BIT(role) (1u << (unsigned)(role))
#define SP_ROLES_ALL                                                                               \
    (SP_ROLE_BIT(SP_ROLE_OPERATOR) | SP_ROLE_BIT(SP_ROLE_INTEGRATOR) |                             \
     SP_ROLE_BIT(SP_ROLE_FACILITATOR) | SP_ROLE_BIT(SP_ROLE_READER))

/* True if the principal's role is in `role_mask`. */
bool sp_principal_has_role(const sp_principal_t *principal, unsigned role_mask);

/* True if the principal may act for `tenant` (a municipality code). */
bool sp_principal_may_act_for(const sp_principal_t *principal, const char *tenant);

/* True if the principal may see restricted personal fields (contact points,
 * the vulnerable flag) of `tenant`: operators, and facilitators of it. */
bool sp_principal_sees_restricted(const sp_principal_t *principal, const char *tenant);

/* "operator", "integrator", "facilitator", "reader" or "unspecified". */
const char *sp_role_name(Samspil__V1__Role role);

#endif
