/*
 * registration_redact.h - restricted personal fields in registration
 * replies: an actor's contact points and its vulnerable flag reach only
 * principals for which sp_principal_sees_restricted() holds for the
 * request's tenant (operators, and facilitators of that tenant); for
 * everyone else (integrators, readers, facilitators of other tenants, no
 * principal) they are cleared before the reply is packed.
 *
 * Pure: no I/O.  Clearing never frees: a reply's memory belongs to the
 * request and the call's arena, so the cleared fields are only unlinked.
 */
#ifndef REGISTRATION_REDACT_H
#define REGISTRATION_REDACT_H

#include "samspil/v1/registration.pb-c.h"
#include "sp_principal.h"

#include <stdbool.h>

/* True if `principal` may see the restricted fields of actors of `tenant`
 * (NULL or "" tenant: false). */
bool registration_redact_sees(const sp_principal_t *principal, const char *tenant);

/* Clear `actor`'s contact points and vulnerable flag unless `principal`
 * sees restricted fields of `tenant`.  NULL actor: nothing to do. */
void registration_redact_actor(const sp_principal_t *principal, const char *tenant,
                               Samspil__V1__Actor *actor);

/* The same for every actor `reply` carries (an actor result, or each item
 * of an actor page); other results are left alone. */
void registration_redact_reply(const sp_principal_t *principal, const char *tenant,
                               Samspil__V1__RegistrationReply *reply);

#endif
