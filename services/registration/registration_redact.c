/*
 * registration_redact.c - restricted actor fields: cleared from replies to,
 * and refused in writes from, principals that may not see them (pure; see
 * registration_redact.h).
 */
#include "registration_redact.h"

#include "registration_validate.h"

#include <stddef.h>
#include <stdio.h>

bool registration_redact_sees(const sp_principal_t *principal, const char *tenant)
{
    return tenant && *tenant && sp_principal_sees_restricted(principal, tenant);
}

bool registration_redact_may_write(const sp_principal_t *principal, const char *tenant)
{
    if (registration_redact_sees(principal, tenant))
        return true;
    return tenant && *tenant && principal && principal->role == SP_ROLE_INTEGRATOR &&
           sp_principal_may_act_for(principal, tenant);
}

int registration_redact_check_write(const sp_principal_t *principal,
                                    const Samspil__V1__RegistrationRequest *req,
                                    unsigned update_mask, sp_error_t *err)
{
    const char *op = NULL;
    const Samspil__V1__Actor *a = NULL;
    bool contacts = false, vulnerable = false;
    switch (req->op_case) {
    case SAMSPIL__V1__REGISTRATION_REQUEST__OP_ACTOR_CREATE:
        op = "actor_create";
        a = req->actor_create ? req->actor_create->actor : NULL;
        break;
    case SAMSPIL__V1__REGISTRATION_REQUEST__OP_ACTOR_UPSERT:
        op = "actor_upsert";
        a = req->actor_upsert ? req->actor_upsert->actor : NULL;
        break;
    case SAMSPIL__V1__REGISTRATION_REQUEST__OP_ACTOR_UPDATE:
        /* naming a field in the mask writes it, even to empty or false */
        op = "actor_update";
        contacts = (update_mask & REGISTRATION_ACTOR_CONTACT_POINTS) != 0;
        vulnerable = (update_mask & REGISTRATION_ACTOR_VULNERABLE) != 0;
        break;
    default:
        return 0;
    }
    if (a) {
        contacts = a->n_contact_points > 0;
        vulnerable = a->vulnerable;
    }
    if (!(contacts || vulnerable) || registration_redact_may_write(principal, req->tenant))
        return 0;
    const char *name = contacts ? "contact_points" : "vulnerable";
    char field[64];
    snprintf(field, sizeof field, "%s.actor.%s", op, name);
    return sp_error_set(err, SP_PERMISSION_DENIED, field,
                        "role %s may not set %s: restricted to operators, the tenant's "
                        "facilitators and its integrators",
                        sp_role_name(principal ? principal->role : 0), name);
}

/* Unlink the restricted fields (the memory stays with its owner). */
static void s_clear(Samspil__V1__Actor *actor)
{
    actor->n_contact_points = 0;
    actor->contact_points = NULL;
    actor->vulnerable = false;
}

void registration_redact_actor(const sp_principal_t *principal, const char *tenant,
                               Samspil__V1__Actor *actor)
{
    if (actor && !registration_redact_sees(principal, tenant))
        s_clear(actor);
}

void registration_redact_reply(const sp_principal_t *principal, const char *tenant,
                               Samspil__V1__RegistrationReply *reply)
{
    if (!reply || registration_redact_sees(principal, tenant))
        return;
    switch (reply->result_case) {
    case SAMSPIL__V1__REGISTRATION_REPLY__RESULT_ACTOR:
        if (reply->actor)
            s_clear(reply->actor);
        break;
    case SAMSPIL__V1__REGISTRATION_REPLY__RESULT_ACTORS:
        if (reply->actors)
            for (size_t i = 0; i < reply->actors->n_items; i++)
                if (reply->actors->items[i])
                    s_clear(reply->actors->items[i]);
        break;
    default:
        break;
    }
}
