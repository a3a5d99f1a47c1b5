/*
 * registration_validate.c - the operation table and field validation for
 * registration requests (pure, no I/O).
 */
#include "registration_validate.h"

#include "sp_crypto.h"
#include "sp_pbenum.h"
#include "sp_valid.h"

#include <stdio.h>
#include <string.h>
#include <strings.h>

#define OP(x) SAMSPIL__V1__REGISTRATION_REQUEST__OP_##x

static const registration_op_t s_ops[] = {
    {OP(TENANT_CREATE), "tenant_create", false, true},
    {OP(TENANT_GET), "tenant_get", false, false},
    {OP(TENANT_LIST), "tenant_list", false, false},
    {OP(PARTNERSHIP_CREATE), "partnership_create", true, true},
    {OP(PARTNERSHIP_GET), "partnership_get", true, false},
    {OP(PARTNERSHIP_LIST), "partnership_list", true, false},
    {OP(PARTNERSHIP_UPDATE), "partnership_update", true, false},
    {OP(ACTOR_CREATE), "actor_create", true, true},
    {OP(ACTOR_GET), "actor_get", true, false},
    {OP(ACTOR_LIST), "actor_list", true, false},
    {OP(ACTOR_UPDATE), "actor_update", true, false},
    {OP(ACTOR_UPSERT), "actor_upsert", true, true},
    {OP(MEMBER_ADD), "member_add", true, true},
    {OP(MEMBER_LIST), "member_list", true, false},
    {OP(MEMBER_END), "member_end", true, false},
    {OP(RELATION_ADD), "relation_add", true, true},
    {OP(RELATION_LIST), "relation_list", true, false},
    {OP(CONSENT_RECORD), "consent_record", true, true},
    {OP(CONSENT_WITHDRAW), "consent_withdraw", true, false},
    {OP(CONSENT_LIST), "consent_list", true, false},
    {OP(PERSON_EXPORT), "person_export", true, false},
    {OP(PERSON_ERASE), "person_erase", true, false},
    {OP(DATA_KEY_ROTATE), "data_key_rotate", false, false},
};

const registration_op_t *registration_op_find(registration_opcase_t op)
{
    for (size_t i = 0; i < sizeof s_ops / sizeof s_ops[0]; i++)
        if (s_ops[i].op == op)
            return &s_ops[i];
    return NULL;
}

/* ------------------------------------------------------------------ helpers */

/* A field path: prefix + "." + name, in a caller's buffer. */
typedef struct {
    char text[64];
} s_path_t;

static const char *s_path(s_path_t *p, const char *prefix, const char *name)
{
    snprintf(p->text, sizeof p->text, "%s.%s", prefix, name);
    return p->text;
}

static bool s_empty(const char *s)
{
    return !s || !*s;
}

static int s_quote_fail(sp_error_t *err, sp_error_code_t code, const char *field, const char *fmt,
                        const char *value)
{
    char quoted[SP_VALID_QUOTE_MAX + 8];
    sp_error_quote(value ? value : "", SP_VALID_QUOTE_MAX, quoted, sizeof quoted);
    return sp_error_set(err, code, field, fmt, quoted);
}

/* An enum value: required (non-zero) or optional, and a known value.
 * `label` names it in messages ("kind", "role"). */
static int s_enum(const ProtobufCEnumDescriptor *desc, int value, bool required, const char *label,
                  const char *field, sp_error_t *err)
{
    char choices[256];
    if (value == 0) {
        if (!required)
            return 0;
        return sp_error_set(err, SP_INVALID_ARGUMENT, field, "%s is required (one of %s)", label,
                            sp_pbenum_choices(desc, choices, sizeof choices));
    }
    if (!sp_pbenum_is_valid(desc, value))
        return sp_error_set(err, SP_INVALID_ARGUMENT, field, "unknown %s %d (expected %s)", label,
                            value, sp_pbenum_choices(desc, choices, sizeof choices));
    return 0;
}

static int s_required(const void *msg, const char *field, sp_error_t *err)
{
    if (msg)
        return 0;
    return sp_error_set(err, SP_INVALID_ARGUMENT, field, "%s is required", sp_valid_label(field));
}

static int s_required_uuid(const char *value, const char *field, sp_error_t *err)
{
    if (s_empty(value))
        return sp_error_set(err, SP_INVALID_ARGUMENT, field, "%s is required",
                            sp_valid_label(field));
    return sp_valid_uuid(value, field, err);
}

static int s_optional_uuid(const char *value, const char *field, sp_error_t *err)
{
    return s_empty(value) ? 0 : sp_valid_uuid(value, field, err);
}

/* A list of tags: each valid, no duplicates, at most REGISTRATION_MAX_TAGS. */
static int s_tags(char **tags, size_t n, const char *field, sp_error_t *err)
{
    if (n > REGISTRATION_MAX_TAGS)
        return sp_error_set(err, SP_INVALID_ARGUMENT, field, "too many %s (%zu; at most %d)",
                            sp_valid_label(field), n, REGISTRATION_MAX_TAGS);
    for (size_t i = 0; i < n; i++) {
        if (sp_valid_tag(tags[i], field, err) != 0)
            return -1;
        for (size_t j = 0; j < i; j++)
            if (strcmp(tags[i], tags[j]) == 0) {
                char fmt[96];
                snprintf(fmt, sizeof fmt, "duplicate tag \"%%s\" in %s", sp_valid_label(field));
                return s_quote_fail(err, SP_INVALID_ARGUMENT, field, fmt, tags[i]);
            }
    }
    return 0;
}

static int s_contact_points(Samspil__V1__ContactPoint **cps, size_t n, const char *field,
                            sp_error_t *err)
{
    if (n > REGISTRATION_MAX_CONTACT_POINTS)
        return sp_error_set(err, SP_INVALID_ARGUMENT, field,
                            "too many contact_points (%zu; at most %d)", n,
                            REGISTRATION_MAX_CONTACT_POINTS);
    for (size_t i = 0; i < n; i++) {
        const Samspil__V1__ContactPoint *cp = cps[i];
        if (!cp)
            return sp_error_set(err, SP_INVALID_ARGUMENT, field, "contact point %zu is empty", i);
        if (s_enum(&samspil__v1__contact_kind__descriptor, cp->kind, true, "contact kind", field,
                   err) != 0)
            return -1;
        int rc = 0;
        switch (cp->kind) {
        case SAMSPIL__V1__CONTACT_KIND__CONTACT_KIND_EMAIL:
            rc = sp_valid_email(cp->value, field, err);
            break;
        case SAMSPIL__V1__CONTACT_KIND__CONTACT_KIND_PHONE:
            rc = sp_valid_phone(cp->value, field, err);
            break;
        default: /* postal: free text over a few lines */
            rc = sp_valid_text(cp->value, 1, REGISTRATION_POSTAL_MAX, SP_VALID_MULTILINE, field,
                               err);
            break;
        }
        if (rc != 0)
            return -1;
    }
    return 0;
}

/* Page request: limit and cursor (a UUID, or for tenants a code). */
static int s_page(const Samspil__V1__PageRequest *page, const char *op, bool code_cursor,
                  registration_checked_t *out, sp_error_t *err)
{
    s_path_t p;
    out->limit = REGISTRATION_PAGE_DEFAULT;
    out->cursor = NULL;
    if (!page)
        return 0;
    if (page->limit > REGISTRATION_PAGE_MAX)
        return sp_error_set(err, SP_INVALID_ARGUMENT, s_path(&p, op, "page.limit"),
                            "page limit %u is too large (at most %d)", page->limit,
                            REGISTRATION_PAGE_MAX);
    if (page->limit > 0)
        out->limit = page->limit;
    if (!s_empty(page->cursor)) {
        bool ok = code_cursor ? sp_valid_is_three_digits(page->cursor)
                              : sp_valid_uuid(page->cursor, NULL, NULL) == 0;
        if (!ok)
            return s_quote_fail(err, SP_INVALID_ARGUMENT, s_path(&p, op, "page.cursor"),
                                "invalid cursor \"%s\": pass back the \"next\" of the previous "
                                "page",
                                page->cursor);
        out->cursor = page->cursor;
    }
    return 0;
}

/* Parse an update mask against `names` (bit i = names[i]). */
static int s_mask(char **mask, size_t n, const char *const *names, size_t nnames, const char *field,
                  unsigned *bits, sp_error_t *err)
{
    *bits = 0;
    if (n == 0)
        return sp_error_set(err, SP_INVALID_ARGUMENT, field,
                            "update_mask must name at least one field");
    for (size_t i = 0; i < n; i++) {
        size_t k = 0;
        while (k < nnames && !(mask[i] && strcmp(mask[i], names[k]) == 0))
            k++;
        if (k == nnames) {
            char choices[256] = "";
            size_t o = 0;
            for (size_t j = 0; j < nnames && o < sizeof choices; j++)
                o += (size_t)snprintf(choices + o, sizeof choices - o, "%s%s", j ? ", " : "",
                                      names[j]);
            char fmt[400];
            snprintf(fmt, sizeof fmt, "unknown field \"%%s\" in update_mask (expected %s)",
                     choices);
            return s_quote_fail(err, SP_INVALID_ARGUMENT, field, fmt, mask[i]);
        }
        *bits |= 1u << k;
    }
    return 0;
}

/* ------------------------------------------------------------------ entities */

/* Validate an actor.  `mask` selects the fields to check (all for creates);
 * `full` applies the rules that tie fields together (kind vs sector etc.),
 * which on updates the database checks against the stored kind. */
static int s_actor(const Samspil__V1__Actor *a, const char *prefix, unsigned mask, bool full,
                   sp_error_t *err)
{
    s_path_t p;
    if (full && s_enum(&samspil__v1__actor_kind__descriptor, a->kind, true, "kind",
                       s_path(&p, prefix, "kind"), err) != 0)
        return -1;
    if ((mask & REGISTRATION_ACTOR_NAME) && sp_valid_name(a->name, s_path(&p, prefix, "name"), err))
        return -1;
    if (mask & REGISTRATION_ACTOR_ORGANISATION_ID) {
        const char *f = s_path(&p, prefix, "organisation_id");
        if (s_optional_uuid(a->organisation_id, f, err) != 0)
            return -1;
        if (full && !s_empty(a->organisation_id) &&
            a->kind != SAMSPIL__V1__ACTOR_KIND__ACTOR_KIND_PROFESSIONAL)
            return sp_error_set(err, SP_INVALID_ARGUMENT, f,
                                "organisation_id is only allowed for professionals");
    }
    if (mask & REGISTRATION_ACTOR_SECTOR) {
        const char *f = s_path(&p, prefix, "sector");
        bool org = a->kind == SAMSPIL__V1__ACTOR_KIND__ACTOR_KIND_ORGANISATION;
        if (s_enum(&samspil__v1__sector__descriptor, a->sector, full && org, "sector", f, err))
            return -1;
        if (full && !org && a->sector != 0)
            return sp_error_set(err, SP_INVALID_ARGUMENT, f,
                                "sector is only allowed for organisations");
    }
    if ((mask & REGISTRATION_ACTOR_INTERESTS) &&
        s_tags(a->interests, a->n_interests, s_path(&p, prefix, "interests"), err) != 0)
        return -1;
    if ((mask & REGISTRATION_ACTOR_PREFERRED_LANGUAGE) && !s_empty(a->preferred_language) &&
        sp_valid_language(a->preferred_language, s_path(&p, prefix, "preferred_language"), err))
        return -1;
    if ((mask & REGISTRATION_ACTOR_ACCESSIBILITY_NEEDS) &&
        s_tags(a->accessibility_needs, a->n_accessibility_needs,
               s_path(&p, prefix, "accessibility_needs"), err) != 0)
        return -1;
    if ((mask & REGISTRATION_ACTOR_CONTACT_POINTS) &&
        s_contact_points(a->contact_points, a->n_contact_points,
                         s_path(&p, prefix, "contact_points"), err) != 0)
        return -1;
    if ((mask & REGISTRATION_ACTOR_VULNERABLE) && full && a->vulnerable &&
        a->kind != SAMSPIL__V1__ACTOR_KIND__ACTOR_KIND_CITIZEN)
        return sp_error_set(err, SP_INVALID_ARGUMENT, s_path(&p, prefix, "vulnerable"),
                            "vulnerable applies to citizens only");
    return 0;
}

/* The system part of a ref ("cpr" of "cpr:0101901234") equals `system`,
 * ignoring case (so "CPR:..." is treated, and masked, as a CPR too). */
static bool s_ref_system(const char *value, const char *system)
{
    size_t n = strlen(system);
    return value && strncasecmp(value, system, n) == 0 && value[n] == ':';
}

/* An external ref; `actor`: it may name a CPR number ("cpr:..."), checked
 * here and never quoted in a message. */
static int s_ref(const char *value, bool actor, const char *field, sp_error_t *err)
{
    char masked[32];
    if (s_ref_system(value, SP_CPR_HMAC_SYSTEM))
        return sp_error_set(err, SP_INVALID_ARGUMENT, field,
                            "external ref system \"" SP_CPR_HMAC_SYSTEM "\" is reserved (send "
                            "\"" SP_CPR_REF_SYSTEM ":<number>\")");
    if (!s_ref_system(value, SP_CPR_REF_SYSTEM))
        return sp_valid_external_ref(value, field, err);
    const char *number = value + sizeof SP_CPR_REF_SYSTEM;
    sp_cpr_mask(number, masked, sizeof masked);
    if (!actor)
        return sp_error_set(err, SP_INVALID_ARGUMENT, field,
                            "a CPR number (\"cpr:%s\") may only identify an actor", masked);
    if (strncmp(value, SP_CPR_REF_SYSTEM ":", sizeof SP_CPR_REF_SYSTEM) != 0)
        return sp_error_set(err, SP_INVALID_ARGUMENT, field,
                            "invalid external ref \"cpr:%s\": write the system in lower case",
                            masked);
    char cpr[SP_CPR_SIZE];
    switch (sp_cpr_parse(number, cpr)) {
    case SP_CPR_OK:
        return 0;
    case SP_CPR_BAD_DATE:
        return sp_error_set(err, SP_INVALID_ARGUMENT, field,
                            "invalid CPR number \"cpr:%s\": the first six digits are not a real "
                            "date (DDMMYY)",
                            masked);
    default:
        return sp_error_set(err, SP_INVALID_ARGUMENT, field,
                            "invalid CPR number \"cpr:%s\": expected DDMMYY-SSSS or DDMMYYSSSS",
                            masked);
    }
}

static int s_external_ref(const char *value, bool required, bool actor, const char *field,
                          sp_error_t *err)
{
    if (s_empty(value)) {
        if (required)
            return sp_error_set(err, SP_INVALID_ARGUMENT, field, "external_ref is required");
        return 0;
    }
    return s_ref(value, actor, field, err);
}

/* person_export, person_erase: exactly one of an actor id and an external ref. */
static int s_person(const char *op, const char *actor_id, const char *external_ref, sp_error_t *err)
{
    s_path_t p;
    bool has_id = !s_empty(actor_id), has_ref = !s_empty(external_ref);
    if (has_id == has_ref)
        return sp_error_set(err, SP_INVALID_ARGUMENT, s_path(&p, op, "actor_id"),
                            "give exactly one of actor_id and external_ref");
    if (has_id)
        return sp_valid_uuid(actor_id, s_path(&p, op, "actor_id"), err);
    return s_ref(external_ref, true, s_path(&p, op, "external_ref"), err);
}

#define S_ACTOR_ALL 0xFFu
#define S_PARTNERSHIP_ALL 0x1Fu

static int s_partnership(const Samspil__V1__Partnership *pp, const char *prefix, unsigned mask,
                         sp_error_t *err)
{
    s_path_t p;
    if ((mask & REGISTRATION_PARTNERSHIP_NAME) &&
        sp_valid_name(pp->name, s_path(&p, prefix, "name"), err) != 0)
        return -1;
    if ((mask & REGISTRATION_PARTNERSHIP_PURPOSE) &&
        sp_valid_text(pp->purpose, 0, REGISTRATION_TEXT_MAX, SP_VALID_MULTILINE,
                      s_path(&p, prefix, "purpose"), err) != 0)
        return -1;
    if ((mask & REGISTRATION_PARTNERSHIP_BURNING_PLATFORM) &&
        sp_valid_text(pp->burning_platform, 0, REGISTRATION_TEXT_MAX, SP_VALID_MULTILINE,
                      s_path(&p, prefix, "burning_platform"), err) != 0)
        return -1;
    if ((mask & REGISTRATION_PARTNERSHIP_STATUS) &&
        s_enum(&samspil__v1__partnership_status__descriptor, pp->status, false, "status",
               s_path(&p, prefix, "status"), err) != 0)
        return -1;
    if ((mask & REGISTRATION_PARTNERSHIP_BACKBONE) &&
        s_optional_uuid(pp->backbone_organisation_id,
                        s_path(&p, prefix, "backbone_organisation_id"), err) != 0)
        return -1;
    return 0;
}

static int s_membership(const Samspil__V1__Membership *m, const char *prefix, sp_error_t *err)
{
    s_path_t p;
    if (s_required_uuid(m->partnership_id, s_path(&p, prefix, "partnership_id"), err) ||
        s_required_uuid(m->actor_id, s_path(&p, prefix, "actor_id"), err))
        return -1;
    const char *f = s_path(&p, prefix, "roles");
    if (m->n_roles == 0)
        return sp_error_set(err, SP_INVALID_ARGUMENT, f, "roles must name at least one role");
    for (size_t i = 0; i < m->n_roles; i++) {
        if (s_enum(&samspil__v1__member_role__descriptor, m->roles[i], true, "role", f, err))
            return -1;
        for (size_t j = 0; j < i; j++)
            if (m->roles[j] == m->roles[i]) {
                char name[64];
                return sp_error_set(err, SP_INVALID_ARGUMENT, f, "duplicate role \"%s\" in roles",
                                    sp_pbenum_short_name(&samspil__v1__member_role__descriptor,
                                                         m->roles[i], name, sizeof name));
            }
    }
    if (s_enum(&samspil__v1__knowledge_basis__descriptor, m->knowledge_basis, true,
               "knowledge basis", s_path(&p, prefix, "knowledge_basis"), err))
        return -1;
    if (!s_empty(m->joined_on) && sp_valid_date(m->joined_on, s_path(&p, prefix, "joined_on"), err))
        return -1;
    if (!s_empty(m->ended_on))
        return sp_error_set(err, SP_INVALID_ARGUMENT, s_path(&p, prefix, "ended_on"),
                            "ended_on must be empty when adding a member (use member_end)");
    return 0;
}

static int s_relation(const Samspil__V1__Relation *r, const char *prefix, sp_error_t *err)
{
    s_path_t p;
    if (s_required_uuid(r->from_actor_id, s_path(&p, prefix, "from_actor_id"), err) ||
        s_required_uuid(r->to_actor_id, s_path(&p, prefix, "to_actor_id"), err))
        return -1;
    if (strcasecmp(r->from_actor_id, r->to_actor_id) == 0)
        return sp_error_set(err, SP_INVALID_ARGUMENT, s_path(&p, prefix, "to_actor_id"),
                            "a relation needs two different actors");
    if (s_enum(&samspil__v1__relation_kind__descriptor, r->kind, true, "relation kind",
               s_path(&p, prefix, "kind"), err))
        return -1;
    return s_optional_uuid(r->partnership_id, s_path(&p, prefix, "partnership_id"), err);
}

static int s_consent(const Samspil__V1__Consent *c, const char *prefix, sp_error_t *err)
{
    s_path_t p;
    if (s_required_uuid(c->actor_id, s_path(&p, prefix, "actor_id"), err))
        return -1;
    const char *f = s_path(&p, prefix, "purpose");
    if (s_empty(c->purpose))
        return sp_error_set(err, SP_INVALID_ARGUMENT, f, "purpose is required (a tag)");
    if (sp_valid_tag(c->purpose, f, err))
        return -1;
    if (s_enum(&samspil__v1__consent_channel__descriptor, c->channel, true, "channel",
               s_path(&p, prefix, "channel"), err))
        return -1;
    if (sp_valid_text(c->text_version, 1, REGISTRATION_VERSION_MAX, 0,
                      s_path(&p, prefix, "text_version"), err))
        return -1;
    if (!s_empty(c->given_at) &&
        sp_valid_timestamp(c->given_at, s_path(&p, prefix, "given_at"), err))
        return -1;
    if (!s_empty(c->withdrawn_at))
        return sp_error_set(err, SP_INVALID_ARGUMENT, s_path(&p, prefix, "withdrawn_at"),
                            "withdrawn_at must be empty when recording consent (use "
                            "consent_withdraw)");
    return 0;
}

/* ------------------------------------------------------------------ operations */

static const char *const s_actor_fields[] = {
    "name",           "organisation_id",    "sector",
    "interests",      "preferred_language", "accessibility_needs",
    "contact_points", "vulnerable",
};
static const char *const s_partnership_fields[] = {
    "name", "purpose", "burning_platform", "status", "backbone_organisation_id",
};

/* The external ref of a create that has one (actor_create,
 * partnership_create; NULL for the others). */
static const char *s_create_external_ref(const Samspil__V1__RegistrationRequest *req)
{
    switch (req->op_case) {
    case OP(ACTOR_CREATE):
        return req->actor_create->actor->external_ref;
    case OP(PARTNERSHIP_CREATE):
        return req->partnership_create->partnership->external_ref;
    default:
        return NULL;
    }
}

/* Creates that nothing in their content makes unique need a key: without
 * one, a retry (the client's, or the broker's requeue of a dead worker's
 * requests) would store the entity twice.  Members (one active membership
 * per actor and partnership), relations (one per tie), tenants (by code)
 * and upserts (by external ref) are unique by their content. */
static int s_key_required(const Samspil__V1__RegistrationRequest *req, sp_error_t *err)
{
    bool needs_key = req->op_case == OP(ACTOR_CREATE) || req->op_case == OP(PARTNERSHIP_CREATE) ||
                     req->op_case == OP(CONSENT_RECORD);
    if (!needs_key || !s_empty(req->idempotency_key) || !s_empty(s_create_external_ref(req)))
        return 0;
    if (req->op_case == OP(CONSENT_RECORD)) /* consents have no external ref */
        return sp_error_set(err, SP_INVALID_ARGUMENT, "idempotency_key",
                            "idempotency_key is required for consent_record");
    return sp_error_set(err, SP_INVALID_ARGUMENT, "idempotency_key",
                        "idempotency_key is required when external_ref is empty");
}

/* The operation's own fields. */
static int s_validate_op(const registration_op_t *op, const Samspil__V1__RegistrationRequest *req,
                         registration_checked_t *out, sp_error_t *err)
{
    s_path_t p;
    const char *n = op->name;

    switch (req->op_case) {
    case OP(TENANT_CREATE): {
        const Samspil__V1__TenantCreate *o = req->tenant_create;
        if (s_required(o, "tenant_create", err))
            return -1;
        if (sp_valid_municipality(o->code, s_path(&p, n, "code"), err))
            return -1;
        return sp_valid_name(o->name, s_path(&p, n, "name"), err);
    }
    case OP(TENANT_GET): {
        const Samspil__V1__TenantGet *o = req->tenant_get;
        if (s_required(o, "tenant_get", err))
            return -1;
        if (!sp_valid_is_three_digits(o->code))
            return sp_valid_municipality(o->code, s_path(&p, n, "code"), err);
        return 0;
    }
    case OP(TENANT_LIST):
        return (s_required(req->tenant_list, n, err) ||
                s_page(req->tenant_list->page, n, true, out, err))
                   ? -1
                   : 0;

    case OP(PARTNERSHIP_CREATE): {
        const Samspil__V1__PartnershipCreate *o = req->partnership_create;
        if (s_required(o, n, err) || s_required(o->partnership, s_path(&p, n, "partnership"), err))
            return -1;
        if (s_partnership(o->partnership, "partnership_create.partnership", S_PARTNERSHIP_ALL, err))
            return -1;
        return s_external_ref(o->partnership->external_ref, false, false,
                              "partnership_create.partnership.external_ref", err);
    }
    case OP(PARTNERSHIP_GET): {
        const Samspil__V1__PartnershipGet *o = req->partnership_get;
        return (s_required(o, n, err) || s_required_uuid(o->id, s_path(&p, n, "id"), err)) ? -1 : 0;
    }
    case OP(PARTNERSHIP_LIST): {
        const Samspil__V1__PartnershipList *o = req->partnership_list;
        if (s_required(o, n, err) || s_page(o->page, n, false, out, err))
            return -1;
        return s_enum(&samspil__v1__partnership_status__descriptor, o->status, false, "status",
                      s_path(&p, n, "status"), err);
    }
    case OP(PARTNERSHIP_UPDATE): {
        const Samspil__V1__PartnershipUpdate *o = req->partnership_update;
        if (s_required(o, n, err) || s_required(o->partnership, s_path(&p, n, "partnership"), err))
            return -1;
        if (s_required_uuid(o->partnership->id, "partnership_update.partnership.id", err))
            return -1;
        if (s_mask(o->update_mask, o->n_update_mask, s_partnership_fields,
                   sizeof s_partnership_fields / sizeof s_partnership_fields[0],
                   s_path(&p, n, "update_mask"), &out->update_mask, err))
            return -1;
        if ((out->update_mask & REGISTRATION_PARTNERSHIP_STATUS) && o->partnership->status == 0)
            return sp_error_set(err, SP_INVALID_ARGUMENT, "partnership_update.partnership.status",
                                "status is required when update_mask names it");
        return s_partnership(o->partnership, "partnership_update.partnership", out->update_mask,
                             err);
    }

    case OP(ACTOR_CREATE): {
        const Samspil__V1__ActorCreate *o = req->actor_create;
        if (s_required(o, n, err) || s_required(o->actor, s_path(&p, n, "actor"), err))
            return -1;
        if (s_actor(o->actor, "actor_create.actor", S_ACTOR_ALL, true, err))
            return -1;
        return s_external_ref(o->actor->external_ref, false, true,
                              "actor_create.actor.external_ref", err);
    }
    case OP(ACTOR_GET): {
        const Samspil__V1__ActorGet *o = req->actor_get;
        if (s_required(o, n, err))
            return -1;
        bool has_id = !s_empty(o->id), has_ref = !s_empty(o->external_ref);
        if (has_id == has_ref)
            return sp_error_set(err, SP_INVALID_ARGUMENT, s_path(&p, n, "id"),
                                "give exactly one of id and external_ref");
        if (has_id)
            return sp_valid_uuid(o->id, s_path(&p, n, "id"), err);
        return s_ref(o->external_ref, true, s_path(&p, n, "external_ref"), err);
    }
    case OP(ACTOR_LIST): {
        const Samspil__V1__ActorList *o = req->actor_list;
        if (s_required(o, n, err) || s_page(o->page, n, false, out, err))
            return -1;
        if (s_enum(&samspil__v1__actor_kind__descriptor, o->kind, false, "kind",
                   s_path(&p, n, "kind"), err))
            return -1;
        if (!s_empty(o->interest) && sp_valid_tag(o->interest, s_path(&p, n, "interest"), err))
            return -1;
        return 0;
    }
    case OP(ACTOR_UPDATE): {
        const Samspil__V1__ActorUpdate *o = req->actor_update;
        if (s_required(o, n, err) || s_required(o->actor, s_path(&p, n, "actor"), err))
            return -1;
        if (s_required_uuid(o->actor->id, "actor_update.actor.id", err))
            return -1;
        if (s_mask(o->update_mask, o->n_update_mask, s_actor_fields,
                   sizeof s_actor_fields / sizeof s_actor_fields[0], s_path(&p, n, "update_mask"),
                   &out->update_mask, err))
            return -1;
        return s_actor(o->actor, "actor_update.actor", out->update_mask, false, err);
    }
    case OP(ACTOR_UPSERT): {
        const Samspil__V1__ActorUpsert *o = req->actor_upsert;
        if (s_required(o, n, err) || s_required(o->actor, s_path(&p, n, "actor"), err))
            return -1;
        if (s_external_ref(o->actor->external_ref, true, true, "actor_upsert.actor.external_ref",
                           err))
            return -1;
        return s_actor(o->actor, "actor_upsert.actor", S_ACTOR_ALL, true, err);
    }

    case OP(MEMBER_ADD): {
        const Samspil__V1__MemberAdd *o = req->member_add;
        if (s_required(o, n, err) || s_required(o->membership, s_path(&p, n, "membership"), err))
            return -1;
        return s_membership(o->membership, "member_add.membership", err);
    }
    case OP(MEMBER_LIST): {
        const Samspil__V1__MemberList *o = req->member_list;
        if (s_required(o, n, err) || s_page(o->page, n, false, out, err))
            return -1;
        if (s_empty(o->partnership_id) && s_empty(o->actor_id))
            return sp_error_set(err, SP_INVALID_ARGUMENT, s_path(&p, n, "partnership_id"),
                                "give partnership_id or actor_id (or both)");
        if (s_optional_uuid(o->partnership_id, s_path(&p, n, "partnership_id"), err))
            return -1;
        return s_optional_uuid(o->actor_id, s_path(&p, n, "actor_id"), err);
    }
    case OP(MEMBER_END): {
        const Samspil__V1__MemberEnd *o = req->member_end;
        if (s_required(o, n, err) || s_required_uuid(o->id, s_path(&p, n, "id"), err))
            return -1;
        if (!s_empty(o->ended_on) && sp_valid_date(o->ended_on, s_path(&p, n, "ended_on"), err))
            return -1;
        return 0;
    }

    case OP(RELATION_ADD): {
        const Samspil__V1__RelationAdd *o = req->relation_add;
        if (s_required(o, n, err) || s_required(o->relation, s_path(&p, n, "relation"), err))
            return -1;
        return s_relation(o->relation, "relation_add.relation", err);
    }
    case OP(RELATION_LIST): {
        const Samspil__V1__RelationList *o = req->relation_list;
        if (s_required(o, n, err) || s_page(o->page, n, false, out, err))
            return -1;
        if (s_optional_uuid(o->actor_id, s_path(&p, n, "actor_id"), err))
            return -1;
        return s_optional_uuid(o->partnership_id, s_path(&p, n, "partnership_id"), err);
    }

    case OP(CONSENT_RECORD): {
        const Samspil__V1__ConsentRecord *o = req->consent_record;
        if (s_required(o, n, err) || s_required(o->consent, s_path(&p, n, "consent"), err))
            return -1;
        return s_consent(o->consent, "consent_record.consent", err);
    }
    case OP(CONSENT_WITHDRAW): {
        const Samspil__V1__ConsentWithdraw *o = req->consent_withdraw;
        return (s_required(o, n, err) || s_required_uuid(o->id, s_path(&p, n, "id"), err)) ? -1 : 0;
    }
    case OP(CONSENT_LIST): {
        const Samspil__V1__ConsentList *o = req->consent_list;
        if (s_required(o, n, err) || s_page(o->page, n, false, out, err))
            return -1;
        return s_required_uuid(o->actor_id, s_path(&p, n, "actor_id"), err);
    }

    case OP(PERSON_EXPORT): {
        const Samspil__V1__PersonExport *o = req->person_export;
        if (s_required(o, n, err))
            return -1;
        return s_person(n, o->actor_id, o->external_ref, err);
    }
    case OP(PERSON_ERASE): {
        const Samspil__V1__PersonErase *o = req->person_erase;
        if (s_required(o, n, err))
            return -1;
        return s_person(n, o->actor_id, o->external_ref, err);
    }
    case OP(DATA_KEY_ROTATE): {
        const Samspil__V1__DataKeyRotate *o = req->data_key_rotate;
        if (s_required(o, n, err))
            return -1;
        if (o->batch > REGISTRATION_ROTATE_BATCH_MAX)
            return sp_error_set(err, SP_INVALID_ARGUMENT, s_path(&p, n, "batch"),
                                "batch %u is too large (at most %d)", o->batch,
                                REGISTRATION_ROTATE_BATCH_MAX);
        out->limit = o->batch ? o->batch : REGISTRATION_ROTATE_BATCH_DEFAULT;
        return 0;
    }
    default:
        return sp_error_set(err, SP_INVALID_ARGUMENT, "op", "request names no known operation");
    }
}

int registration_validate(const Samspil__V1__RegistrationRequest *req, registration_checked_t *out,
                          sp_error_t *err)
{
    memset(out, 0, sizeof *out);
    const registration_op_t *op = registration_op_find(req->op_case);
    if (!op)
        return sp_error_set(err, SP_INVALID_ARGUMENT, "op", "request names no known operation");
    if (!s_empty(req->idempotency_key) &&
        sp_valid_idempotency_key(req->idempotency_key, "idempotency_key", err) != 0)
        return -1;
    if (s_validate_op(op, req, out, err) != 0)
        return -1;
    return s_key_required(req, err);
}
