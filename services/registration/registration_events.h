/*
 * registration_events.h - the samspil.v1.Event each registration change
 * writes into registration.outbox (pure: no I/O).
 *
 * Types: tenant.created, partnership.created, partnership.updated,
 * actor.registered, actor.updated (actor_update, and actor_upsert of an
 * existing actor), membership.added, membership.ended, relation.added,
 * consent.given, consent.withdrawn.  An event carries ids and
 * non-sensitive facts only: never names, contact points, the vulnerable
 * flag, external refs or free text.
 *
 * Where the request holds every fact of the event (the creates, relations,
 * consents given, upserts) the whole event is built here.  Where the facts
 * are in the stored row (updates, ended memberships, withdrawn consents,
 * and membership.added, which names the actor's kind) only the header is
 * built here (tenant, type, entity id, time; no payload) and the statement
 * appends the payload field from the row it changed, with the functions of
 * services/registration/sql/002_outbox.sql.  Stream and seq stay unset:
 * the relay sets them.
 */
#ifndef REGISTRATION_EVENTS_H
#define REGISTRATION_EVENTS_H

#include "samspil/v1/events.pb-c.h"
#include "samspil/v1/registration.pb-c.h"
#include "sp_buf.h"

#include <stdbool.h>
#include <stdint.h>

#define REGISTRATION_EV_TENANT_CREATED "tenant.created"
#define REGISTRATION_EV_PARTNERSHIP_CREATED "partnership.created"
#define REGISTRATION_EV_PARTNERSHIP_UPDATED "partnership.updated"
#define REGISTRATION_EV_ACTOR_REGISTERED "actor.registered"
#define REGISTRATION_EV_ACTOR_UPDATED "actor.updated"
#define REGISTRATION_EV_MEMBERSHIP_ADDED "membership.added"
#define REGISTRATION_EV_MEMBERSHIP_ENDED "membership.ended"
#define REGISTRATION_EV_RELATION_ADDED "relation.added"
#define REGISTRATION_EV_CONSENT_GIVEN "consent.given"
#define REGISTRATION_EV_CONSENT_WITHDRAWN "consent.withdrawn"

/* An event and the memory of its parts. */
typedef struct {
    Samspil__V1__Event event;
    union {
        Samspil__V1__TenantEvent tenant;
        Samspil__V1__PartnershipEvent partnership;
        Samspil__V1__ActorEvent actor;
        Samspil__V1__MembershipEvent membership;
        Samspil__V1__RelationEvent relation;
        Samspil__V1__ConsentEvent consent;
    } u;
    char ids[4][37]; /* UUIDs lower-cased, as PostgreSQL prints them */
    int n_ids;
} registration_event_t;

/* The event type of the change `req` makes: for actor_upsert `created`
 * tells which (registered or updated).  NULL for reads (no event). */
const char *registration_event_type(const Samspil__V1__RegistrationRequest *req, bool created);

/* Build into `ev` the event of the change `req` made to the entity
 * `entity_id` (the tenant code for tenant_create) at `occurred_at_us`;
 * `created` as for registration_event_type.  `ev` borrows strings of `req`
 * (keep `req` alive while `ev` is used).  Returns 1 when the event is
 * whole, 0 when only its header was built (the statement appends the
 * payload), or -1 for a request that changes nothing. */
int registration_event_build(registration_event_t *ev, const Samspil__V1__RegistrationRequest *req,
                             bool created, const char *entity_id, int64_t occurred_at_us);

/* Append `event` packed, as the text form of a bytea parameter
 * ("\\x0a03...") to `out`. */
void registration_event_param(const Samspil__V1__Event *event, sp_buf_t *out);

/* Microseconds since the Unix epoch (CLOCK_REALTIME). */
int64_t registration_event_now_us(void);

#endif
