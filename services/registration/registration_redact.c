/*
 * registration_redact.c - clearing restricted actor fields for principals
 * that may not see them (pure; see registration_redact.h).
 */
#include "registration_redact.h"

#include <stddef.h>

bool registration_redact_sees(const sp_principal_t *principal, const char *tenant)
{
    return tenant && *tenant && sp_principal_sees_restricted(principal, tenant);
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
