/*
 * registration_access.h - who may call which registration operation: the
 * roles allowed per operation, and the tenant a request acts on checked
 * against the principal's tenants.
 *
 *   operation                          operator integrator facilitator reader
 *   tenant_create/get/list                 x
 *   partnership_get/list                   x        x          x         x
 *   partnership_create/update              x        x
 *   actor_get/list                         x        x          x
 *   actor_create/update/upsert             x        x
 *   member_list, relation_list,
 *   consent_list                           x        x          x
 *   member_add/end, relation_add,
 *   consent_record/withdraw                x        x          x
 *   person_export                          x                   x
 *   person_erase, data_key_rotate          x
 *
 * Integrators and facilitators act only for their tenants; operators for
 * theirs (usually all).  Readers see aggregates only: registration has no
 * aggregate operation, and they may read just partnerships (name, purpose,
 * status: no personal data), which they need to name the partnerships a
 * report is about.  Service principals (ROLE_SERVICE) call no registration
 * operation yet.  Which actor fields a role sees is decided apart from
 * this table (registration_redact.h): contact points and the vulnerable
 * flag only for operators and the tenant's facilitators.
 *
 * Pure: no I/O.  The caller logs refusals (op, tenant, role; never data).
 */
#ifndef REGISTRATION_ACCESS_H
#define REGISTRATION_ACCESS_H

#include "samspil/v1/registration.pb-c.h"
#include "sp_error.h"
#include "sp_principal.h"

#include <stdbool.h>

typedef enum {
    REGISTRATION_SCOPE_TENANT,    /* acts on request.tenant */
    REGISTRATION_SCOPE_DIRECTORY, /* tenant_*: the tenant directory (checks the code it names) */
    REGISTRATION_SCOPE_SERVICE,   /* data_key_rotate: the whole installation */
} registration_scope_t;

typedef struct {
    Samspil__V1__RegistrationRequest__OpCase op;
    const char *name; /* "actor_create" */
    unsigned roles;   /* SP_ROLE_BIT mask */
    registration_scope_t scope;
} registration_access_t;

/* The access rule of `op`, or NULL for an unknown or absent op. */
const registration_access_t *registration_access_find(Samspil__V1__RegistrationRequest__OpCase op);

/* The roles of `mask` as text ("operator, facilitator") into `out`. */
const char *registration_access_roles_text(unsigned mask, char *out, size_t outlen);

/* May `principal` run `req`?  In order: a known operation (INVALID_ARGUMENT
 * "op"); the role (PERMISSION_DENIED "op": "role reader may not call
 * actor_get (allowed: ...)"); for tenant-scoped operations the tenant's
 * presence and shape (INVALID_ARGUMENT "tenant"), the principal's tenants
 * (PERMISSION_DENIED "tenant": "principal may not act for tenant \"101\"")
 * and whether the code is a municipality at all (NOT_FOUND "tenant");
 * for tenant_create and tenant_get the principal's tenants against the
 * code (PERMISSION_DENIED "tenant_create.code"); data_key_rotate, which
 * acts on every tenant, only for a principal of all tenants
 * (PERMISSION_DENIED "op").  Returns 0, or -1 with
 * `err` set. */
int registration_access_check(const Samspil__V1__RegistrationRequest *req,
                              const sp_principal_t *principal, sp_error_t *err);

#endif
