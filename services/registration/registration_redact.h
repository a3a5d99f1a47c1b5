/*
 * registration_redact.h - restricted personal fields in registration
 * replies: an actor's contact points and its vulnerable flag reach only
 * principals for which sp_principal_sees_restricted() holds for the
 * request's tenant (operators, and facilitators of that tenant); for
 * everyone else (integrators, readers, facilitators of other tenants, no
 * principal) they are cleared before the reply is packed.
 *
 * Integrators of the tenant may write them without seeing them: the case
 * systems that supply a citizen's contact points and needs.  Their upserts
 * replace the stored contact points only when they send some, and set the
 * vulnerable flag but never clear it (the store), so a caller that cannot
 * see the fields never erases what someone who can see them entered
 * unless it names them in an actor_update's mask.  Every other principal
 * that may not see them may not write them either
 * (registration_redact_check_write).
 *
 * Pure: no I/O.  Clearing never frees: a reply's memory belongs to the
 * request and the call's arena, so the cleared fields are only unlinked.
 */
#ifndef REGISTRATION_REDACT_H
#define REGISTRATION_REDACT_H

#include "samspil/v1/registration.pb-c.h"
#include "sp_error.h"
#include "sp_principal.h"

#include <stdbool.h>

/* True if `principal` may see the restricted fields of actors of `tenant`
 * (NULL or "" tenant: false). */
bool registration_redact_sees(const sp_principal_t *principal, const char *tenant);

/* True if `principal` may write the restricted fields of actors of
 * `tenant`: it sees them, or it is an integrator acting for the tenant. */
bool registration_redact_may_write(const sp_principal_t *principal, const char *tenant);

/* May `principal` write the restricted fields `req` sets?  Unless it may
 * write them for the request's tenant, an actor_create or actor_upsert with any
 * contact point or with vulnerable set, or an actor_update whose
 * `update_mask` (REGISTRATION_ACTOR_* bits from validation) names
 * contact_points or vulnerable, is refused with PERMISSION_DENIED naming
 * the field ("actor_create.actor.contact_points").  Every other request
 * passes.  Returns 0, or -1 with `err` set. */
int registration_redact_check_write(const sp_principal_t *principal,
                                    const Samspil__V1__RegistrationRequest *req,
                                    unsigned update_mask, sp_error_t *err);

/* Clear `actor`'s contact points and vulnerable flag unless `principal`
 * sees restricted fields of `tenant`.  NULL actor: nothing to do. */
void registration_redact_actor(const sp_principal_t *principal, const char *tenant,
                               Samspil__V1__Actor *actor);

/* The same for every actor `reply` carries (an actor result, or each item
 * of an actor page); other results are left alone. */
void registration_redact_reply(const sp_principal_t *principal, const char *tenant,
                               Samspil__V1__RegistrationReply *reply);

#endif
