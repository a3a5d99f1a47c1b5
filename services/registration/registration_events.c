/*
 * registration_events.c - the event of each registration change, built from
 * the request (see registration_events.h for which facts come from where).
 */
#include "registration_events.h"

#include <stdlib.h>
#include <string.h>
#include <time.h>

#define OP(x) SAMSPIL__V1__REGISTRATION_REQUEST__OP_##x

const char *registration_event_type(const Samspil__V1__RegistrationRequest *req, bool created)
{
    switch (req->op_case) {
    case OP(TENANT_CREATE):
        return REGISTRATION_EV_TENANT_CREATED;
    case OP(PARTNERSHIP_CREATE):
        return REGISTRATION_EV_PARTNERSHIP_CREATED;
    case OP(PARTNERSHIP_UPDATE):
        return REGISTRATION_EV_PARTNERSHIP_UPDATED;
    case OP(ACTOR_CREATE):
        return REGISTRATION_EV_ACTOR_REGISTERED;
    case OP(ACTOR_UPSERT):
        return created ? REGISTRATION_EV_ACTOR_REGISTERED : REGISTRATION_EV_ACTOR_UPDATED;
    case OP(ACTOR_UPDATE):
        return REGISTRATION_EV_ACTOR_UPDATED;
    case OP(MEMBER_ADD):
        return REGISTRATION_EV_MEMBERSHIP_ADDED;
    case OP(MEMBER_END):
        return REGISTRATION_EV_MEMBERSHIP_ENDED;
    case OP(RELATION_ADD):
        return REGISTRATION_EV_RELATION_ADDED;
    case OP(CONSENT_RECORD):
        return REGISTRATION_EV_CONSENT_GIVEN;
    case OP(CONSENT_WITHDRAW):
        return REGISTRATION_EV_CONSENT_WITHDRAWN;
    default:
        return NULL;
    }
}

/* `id` as PostgreSQL prints a uuid (lower case), kept in `ev`; "" stays "". */
static char *s_id(registration_event_t *ev, const char *id)
{
    if (!id || !*id)
        return (char *)"";
    if (ev->n_ids >= (int)(sizeof ev->ids / sizeof ev->ids[0]))
        abort(); /* more ids than any event has: a bug here */
    char *out = ev->ids[ev->n_ids++];
    size_t i = 0;
    for (; id[i] && i < sizeof ev->ids[0] - 1; i++)
        out[i] = (id[i] >= 'A' && id[i] <= 'Z') ? (char)(id[i] - 'A' + 'a') : id[i];
    out[i] = '\0';
    return out;
}

int registration_event_build(registration_event_t *ev, const Samspil__V1__RegistrationRequest *req,
                             bool created, const char *entity_id, int64_t occurred_at_us)
{
    memset(ev, 0, sizeof *ev);
    const char *type = registration_event_type(req, created);
    if (!type)
        return -1;
    samspil__v1__event__init(&ev->event);
    Samspil__V1__Event *e = &ev->event;
    e->type = (char *)type;
    e->tenant = req->op_case == OP(TENANT_CREATE) ? req->tenant_create->code : req->tenant;
    e->entity_id = req->op_case == OP(TENANT_CREATE) ? e->tenant : s_id(ev, entity_id);
    e->occurred_at_us = occurred_at_us;

    const Samspil__V1__Actor *a = NULL;
    switch (req->op_case) {
    case OP(TENANT_CREATE):
        samspil__v1__tenant_event__init(&ev->u.tenant);
        ev->u.tenant.code = req->tenant_create->code;
        e->payload_case = SAMSPIL__V1__EVENT__PAYLOAD_TENANT_EVENT;
        e->tenant_event = &ev->u.tenant;
        return 1;
    case OP(PARTNERSHIP_CREATE): {
        Samspil__V1__PartnershipStatus status = req->partnership_create->partnership->status;
        samspil__v1__partnership_event__init(&ev->u.partnership);
        ev->u.partnership.status =
            status ? status : SAMSPIL__V1__PARTNERSHIP_STATUS__PARTNERSHIP_STATUS_FORMING;
        e->payload_case = SAMSPIL__V1__EVENT__PAYLOAD_PARTNERSHIP;
        e->partnership = &ev->u.partnership;
        return 1;
    }
    case OP(ACTOR_CREATE):
        a = req->actor_create->actor;
        break;
    case OP(ACTOR_UPSERT):
        a = req->actor_upsert->actor; /* replaces every field it holds */
        break;
    case OP(RELATION_ADD): {
        const Samspil__V1__Relation *r = req->relation_add->relation;
        Samspil__V1__RelationEvent *re = &ev->u.relation;
        samspil__v1__relation_event__init(re);
        re->from_actor_id = s_id(ev, r->from_actor_id);
        re->to_actor_id = s_id(ev, r->to_actor_id);
        re->kind = r->kind;
        re->partnership_id = s_id(ev, r->partnership_id);
        e->payload_case = SAMSPIL__V1__EVENT__PAYLOAD_RELATION;
        e->relation = re;
        return 1;
    }
    case OP(CONSENT_RECORD): {
        const Samspil__V1__Consent *c = req->consent_record->consent;
        samspil__v1__consent_event__init(&ev->u.consent);
        ev->u.consent.actor_id = s_id(ev, c->actor_id);
        ev->u.consent.purpose = c->purpose; /* a validated tag */
        e->payload_case = SAMSPIL__V1__EVENT__PAYLOAD_CONSENT;
        e->consent = &ev->u.consent;
        return 1;
    }
    default:
        /* partnership.updated, actor.updated (actor_update), membership.added,
         * membership.ended, consent.withdrawn: the statement appends the
         * payload from the stored row */
        return 0;
    }

    Samspil__V1__ActorEvent *ae = &ev->u.actor;
    samspil__v1__actor_event__init(ae);
    ae->kind = a->kind;
    ae->organisation_id = s_id(ev, a->organisation_id);
    ae->sector = a->sector;
    e->payload_case = SAMSPIL__V1__EVENT__PAYLOAD_ACTOR;
    e->actor = ae;
    return 1;
}

void registration_event_param(const Samspil__V1__Event *event, sp_buf_t *out)
{
    static const char hex[] = "0123456789abcdef";
    uint8_t stack[512];
    size_t size = samspil__v1__event__get_packed_size(event);
    uint8_t *packed = size <= sizeof stack ? stack : malloc(size);
    if (!packed)
        abort();
    samspil__v1__event__pack(event, packed);
    sp_buf_puts(out, "\\x");
    char pair[2];
    for (size_t i = 0; i < size; i++) {
        pair[0] = hex[packed[i] >> 4];
        pair[1] = hex[packed[i] & 15];
        sp_buf_append(out, pair, 2);
    }
    if (packed != stack)
        free(packed);
}

int64_t registration_event_now_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}
