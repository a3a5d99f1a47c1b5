/*
 * test_registration_validate.c - unit tests for the registration operation
 * table and request validation: for each operation, the code and field
 * path of each error, and that valid requests pass; CPR refs are checked
 * and never quoted.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "../../services/registration/registration_validate.h"

#include <stdio.h>
#include <string.h>

#define UUID1 "6f1d2c3b-5a4e-4d3c-9b2a-0123456789ab"
#define UUID2 "7f1d2c3b-5a4e-4d3c-9b2a-0123456789ab"
#define OP(x) SAMSPIL__V1__REGISTRATION_REQUEST__OP_##x

typedef Samspil__V1__RegistrationRequest req_t;

static sp_error_t s_err;
static registration_checked_t s_out;

/* Validate and expect success. */
static void s_ok(const req_t *req)
{
    sp_error_clear(&s_err);
    if (registration_validate(req, &s_out, &s_err) != 0)
        fail_msg("expected valid, got %s field=%s: %s", sp_error_code_name(s_err.code), s_err.field,
                 s_err.message);
}

/* Validate and expect INVALID_ARGUMENT on `field` with `text` in the message. */
static void s_bad(const req_t *req, const char *field, const char *text)
{
    sp_error_clear(&s_err);
    if (registration_validate(req, &s_out, &s_err) != -1)
        fail_msg("expected an error on %s", field);
    if (s_err.code != SP_INVALID_ARGUMENT || strcmp(s_err.field, field) != 0 ||
        (text && !strstr(s_err.message, text)))
        fail_msg("want invalid_argument %s ~ \"%s\"; got %s %s: %s", field, text ? text : "",
                 sp_error_code_name(s_err.code), s_err.field, s_err.message);
}

/* ---------------------------------------------------------------- op table */

static void test_op_table(void **state)
{
    (void)state;
    const registration_op_t *op = registration_op_find(OP(ACTOR_CREATE));
    assert_non_null(op);
    assert_string_equal(op->name, "actor_create");
    assert_true(op->tenant_scoped);
    assert_true(op->create);
    op = registration_op_find(OP(TENANT_LIST));
    assert_false(op->tenant_scoped);
    op = registration_op_find(OP(DATA_KEY_ROTATE));
    assert_false(op->tenant_scoped);
    assert_false(op->create);
    assert_true(registration_op_find(OP(PERSON_ERASE))->tenant_scoped);
    assert_null(registration_op_find(SAMSPIL__V1__REGISTRATION_REQUEST__OP__NOT_SET));
    assert_null(registration_op_find((registration_opcase_t)999));
    /* every op of the proto is in the table (roles: test_registration_access) */
    const ProtobufCMessageDescriptor *d = &samspil__v1__registration_request__descriptor;
    int ops = 0;
    for (unsigned i = 0; i < d->n_fields; i++) {
        if (d->fields[i].id < 10)
            continue;
        op = registration_op_find((registration_opcase_t)d->fields[i].id);
        if (!op)
            fail_msg("op %s missing", d->fields[i].name);
        assert_string_equal(op->name, d->fields[i].name);
        ops++;
    }
    assert_int_equal(ops, 23);
}

/* ---------------------------------------------------------------- tenants */

static void test_tenant_ops(void **state)
{
    (void)state;
    Samspil__V1__TenantCreate tc = SAMSPIL__V1__TENANT_CREATE__INIT;
    req_t req = SAMSPIL__V1__REGISTRATION_REQUEST__INIT;
    req.op_case = OP(TENANT_CREATE);
    req.tenant_create = &tc;
    tc.code = "751";
    tc.name = "Aarhus Kommune";
    s_ok(&req);
    tc.code = "07x1";
    s_bad(&req, "tenant_create.code",
          "invalid municipality code \"07x1\": expected one of Denmark's 3-digit municipality "
          "codes");
    tc.code = "999";
    s_bad(&req, "tenant_create.code", "\"999\"");
    tc.code = "751";
    tc.name = "";
    s_bad(&req, "tenant_create.name", "name must not be empty");
    req.tenant_create = NULL;
    s_bad(&req, "tenant_create", "is required");

    Samspil__V1__TenantList tl = SAMSPIL__V1__TENANT_LIST__INIT;
    Samspil__V1__PageRequest page = SAMSPIL__V1__PAGE_REQUEST__INIT;
    req.op_case = OP(TENANT_LIST);
    req.tenant_list = &tl;
    s_ok(&req);
    assert_int_equal(s_out.limit, REGISTRATION_PAGE_DEFAULT);
    assert_null(s_out.cursor);
    tl.page = &page;
    page.limit = 500;
    page.cursor = "751";
    s_ok(&req);
    assert_int_equal(s_out.limit, 500);
    assert_string_equal(s_out.cursor, "751");
    page.limit = 501;
    s_bad(&req, "tenant_list.page.limit", "501");
    page.limit = 1;
    page.cursor = UUID1;
    s_bad(&req, "tenant_list.page.cursor", "invalid cursor");
}

/* ---------------------------------------------------------------- actors */

static void s_actor_req(req_t *req, Samspil__V1__ActorCreate *op, Samspil__V1__Actor *a)
{
    samspil__v1__registration_request__init(req);
    samspil__v1__actor_create__init(op);
    samspil__v1__actor__init(a);
    req->tenant = "751";
    req->op_case = OP(ACTOR_CREATE);
    req->actor_create = op;
    req->idempotency_key = "key-0";
    op->actor = a;
    a->kind = SAMSPIL__V1__ACTOR_KIND__ACTOR_KIND_CITIZEN;
    a->name = "Åse Ørnbøl";
}

static void test_actor_create(void **state)
{
    (void)state;
    req_t req;
    Samspil__V1__ActorCreate op;
    Samspil__V1__Actor a;
    s_actor_req(&req, &op, &a);
    s_ok(&req);

    char *interests[] = {"skole", "boligomraade"};
    char *needs[] = {"easy_read"};
    Samspil__V1__ContactPoint email = SAMSPIL__V1__CONTACT_POINT__INIT;
    email.kind = SAMSPIL__V1__CONTACT_KIND__CONTACT_KIND_EMAIL;
    email.value = "aase@example.dk";
    Samspil__V1__ContactPoint postal = SAMSPIL__V1__CONTACT_POINT__INIT;
    postal.kind = SAMSPIL__V1__CONTACT_KIND__CONTACT_KIND_POSTAL;
    postal.value = "Gudrunsvej 1\n8220 Brabrand";
    Samspil__V1__ContactPoint *cps[] = {&email, &postal};
    a.interests = interests;
    a.n_interests = 2;
    a.accessibility_needs = needs;
    a.n_accessibility_needs = 1;
    a.contact_points = cps;
    a.n_contact_points = 2;
    a.preferred_language = "da-easy";
    a.vulnerable = 1;
    a.external_ref = "sag:1";
    a.id = "ignored";
    req.idempotency_key = "key-1";
    s_ok(&req);

    req.idempotency_key = "tab\tkey";
    s_bad(&req, "idempotency_key", "invalid idempotency key");
    req.idempotency_key = ""; /* the external ref makes it idempotent */
    s_ok(&req);

    a.kind = 0;
    s_bad(&req, "actor_create.actor.kind", "kind is required");
    a.kind = 42;
    s_bad(&req, "actor_create.actor.kind",
          "unknown kind 42 (expected citizen, professional, "
          "organisation)");
    a.kind = SAMSPIL__V1__ACTOR_KIND__ACTOR_KIND_CITIZEN;

    a.name = "";
    s_bad(&req, "actor_create.actor.name", "name must not be empty");
    char long_name[260];
    memset(long_name, 'a', 250);
    long_name[250] = '\0';
    a.name = long_name;
    s_bad(&req, "actor_create.actor.name", "name is too long (250 characters; at most 200)");
    a.name = "Åse";

    a.organisation_id = UUID1;
    s_bad(&req, "actor_create.actor.organisation_id", "only allowed for professionals");
    a.kind = SAMSPIL__V1__ACTOR_KIND__ACTOR_KIND_PROFESSIONAL;
    a.vulnerable = 0;
    s_ok(&req);
    a.organisation_id = "abc";
    s_bad(&req, "actor_create.actor.organisation_id", "invalid organisation_id \"abc\"");
    a.organisation_id = "";

    a.vulnerable = 1;
    s_bad(&req, "actor_create.actor.vulnerable", "citizens only");
    a.vulnerable = 0;

    a.kind = SAMSPIL__V1__ACTOR_KIND__ACTOR_KIND_ORGANISATION;
    s_bad(&req, "actor_create.actor.sector", "sector is required");
    a.sector = SAMSPIL__V1__SECTOR__SECTOR_CIVIL_SOCIETY;
    s_ok(&req);
    a.sector = 9;
    s_bad(&req, "actor_create.actor.sector", "unknown sector 9");
    a.kind = SAMSPIL__V1__ACTOR_KIND__ACTOR_KIND_CITIZEN;
    a.sector = SAMSPIL__V1__SECTOR__SECTOR_PUBLIC;
    s_bad(&req, "actor_create.actor.sector", "only allowed for organisations");
    a.sector = 0;

    char *bad_tags[] = {"skole", "Skole"};
    a.interests = bad_tags;
    s_bad(&req, "actor_create.actor.interests", "invalid tag in interests \"Skole\"");
    char *dup_tags[] = {"skole", "skole"};
    a.interests = dup_tags;
    s_bad(&req, "actor_create.actor.interests", "duplicate tag \"skole\"");
    a.interests = interests;
    char *bad_needs[] = {"step free"};
    a.accessibility_needs = bad_needs;
    s_bad(&req, "actor_create.actor.accessibility_needs", "\"step free\"");
    a.accessibility_needs = needs;

    a.preferred_language = "Danish";
    s_bad(&req, "actor_create.actor.preferred_language", "invalid language tag \"Danish\"");
    a.preferred_language = "";
    s_ok(&req);

    email.value = "not-an-address";
    s_bad(&req, "actor_create.actor.contact_points", "invalid e-mail address");
    email.value = "aase@example.dk";
    email.kind = SAMSPIL__V1__CONTACT_KIND__CONTACT_KIND_PHONE;
    s_bad(&req, "actor_create.actor.contact_points", "invalid phone number");
    email.kind = 0;
    s_bad(&req, "actor_create.actor.contact_points", "contact kind is required");
    email.kind = SAMSPIL__V1__CONTACT_KIND__CONTACT_KIND_EMAIL;
    postal.value = "";
    s_bad(&req, "actor_create.actor.contact_points", "must not be empty");
    postal.value = "Gudrunsvej 1";

    a.external_ref = "no-colon";
    s_bad(&req, "actor_create.actor.external_ref", "invalid external ref \"no-colon\"");
    /* neither key nor external ref: a retry would create twice */
    a.external_ref = "";
    s_bad(&req, "idempotency_key", "idempotency_key is required when external_ref is empty");
    a.name = ""; /* the fields are checked first */
    s_bad(&req, "actor_create.actor.name", "must not be empty");
    a.name = "Åse";
    req.idempotency_key = "key-2";
    s_ok(&req);

    op.actor = NULL;
    s_bad(&req, "actor_create.actor", "actor is required");
    req.actor_create = NULL;
    s_bad(&req, "actor_create", "is required");
}

static void test_actor_get_list(void **state)
{
    (void)state;
    req_t req = SAMSPIL__V1__REGISTRATION_REQUEST__INIT;
    Samspil__V1__ActorGet get = SAMSPIL__V1__ACTOR_GET__INIT;
    req.tenant = "751";
    req.op_case = OP(ACTOR_GET);
    req.actor_get = &get;
    s_bad(&req, "actor_get.id", "exactly one of id and external_ref");
    get.id = "abc";
    s_bad(&req, "actor_get.id", "invalid id \"abc\": expected a UUID");
    get.id = UUID1;
    s_ok(&req);
    get.external_ref = "sag:1";
    s_bad(&req, "actor_get.id", "exactly one");
    get.id = "";
    s_ok(&req);
    get.external_ref = "sag";
    s_bad(&req, "actor_get.external_ref", "invalid external ref");

    Samspil__V1__ActorList list = SAMSPIL__V1__ACTOR_LIST__INIT;
    Samspil__V1__PageRequest page = SAMSPIL__V1__PAGE_REQUEST__INIT;
    req.op_case = OP(ACTOR_LIST);
    req.actor_list = &list;
    s_ok(&req);
    list.page = &page;
    page.cursor = UUID2;
    page.limit = 10;
    list.kind = SAMSPIL__V1__ACTOR_KIND__ACTOR_KIND_ORGANISATION;
    list.interest = "skole";
    s_ok(&req);
    assert_int_equal(s_out.limit, 10);
    assert_string_equal(s_out.cursor, UUID2);
    list.kind = 7;
    s_bad(&req, "actor_list.kind", "unknown kind 7");
    list.kind = 0;
    list.interest = "Skole";
    s_bad(&req, "actor_list.interest", "\"Skole\"");
    list.interest = "";
    page.cursor = "751";
    s_bad(&req, "actor_list.page.cursor", "invalid cursor \"751\"");
    page.cursor = "";
    page.limit = 100000;
    s_bad(&req, "actor_list.page.limit", "at most 500");
}

static void test_actor_update_upsert(void **state)
{
    (void)state;
    req_t req = SAMSPIL__V1__REGISTRATION_REQUEST__INIT;
    Samspil__V1__ActorUpdate upd = SAMSPIL__V1__ACTOR_UPDATE__INIT;
    Samspil__V1__Actor a = SAMSPIL__V1__ACTOR__INIT;
    req.tenant = "751";
    req.op_case = OP(ACTOR_UPDATE);
    req.actor_update = &upd;
    upd.actor = &a;
    char *mask[] = {"name", "interests"};
    upd.update_mask = mask;
    upd.n_update_mask = 2;
    a.name = "New Name";
    s_bad(&req, "actor_update.actor.id", "id is required");
    a.id = "abc";
    s_bad(&req, "actor_update.actor.id", "invalid id \"abc\"");
    a.id = UUID1;
    s_ok(&req);
    assert_int_equal(s_out.update_mask, REGISTRATION_ACTOR_NAME | REGISTRATION_ACTOR_INTERESTS);
    /* fields outside the mask are not looked at */
    a.preferred_language = "NOT A TAG";
    s_ok(&req);
    a.name = "";
    s_bad(&req, "actor_update.actor.name", "must not be empty");
    a.name = "x";
    char *bad_mask[] = {"shoe_size"};
    upd.update_mask = bad_mask;
    upd.n_update_mask = 1;
    s_bad(&req, "actor_update.update_mask", "unknown field \"shoe_size\" in update_mask");
    char *kind_mask[] = {"kind"};
    upd.update_mask = kind_mask;
    s_bad(&req, "actor_update.update_mask", "\"kind\"");
    upd.n_update_mask = 0;
    s_bad(&req, "actor_update.update_mask", "at least one field");
    char *all[] = {"name",           "organisation_id",    "sector",
                   "interests",      "preferred_language", "accessibility_needs",
                   "contact_points", "vulnerable"};
    upd.update_mask = all;
    upd.n_update_mask = 8;
    a.preferred_language = "da";
    s_ok(&req);
    assert_int_equal(s_out.update_mask, 0xFF);
    a.sector = 12;
    s_bad(&req, "actor_update.actor.sector", "unknown sector 12");

    Samspil__V1__ActorUpsert ups = SAMSPIL__V1__ACTOR_UPSERT__INIT;
    Samspil__V1__Actor b = SAMSPIL__V1__ACTOR__INIT;
    req.op_case = OP(ACTOR_UPSERT);
    req.actor_upsert = &ups;
    ups.actor = &b;
    b.kind = SAMSPIL__V1__ACTOR_KIND__ACTOR_KIND_CITIZEN;
    b.name = "Bo";
    s_bad(&req, "actor_upsert.actor.external_ref", "external_ref is required");
    b.external_ref = "sag:2";
    s_ok(&req);
    b.kind = 0;
    s_bad(&req, "actor_upsert.actor.kind", "kind is required");
}

/* ---------------------------------------------------------------- partnerships */

static void test_partnerships(void **state)
{
    (void)state;
    req_t req = SAMSPIL__V1__REGISTRATION_REQUEST__INIT;
    Samspil__V1__PartnershipCreate pc = SAMSPIL__V1__PARTNERSHIP_CREATE__INIT;
    Samspil__V1__Partnership p = SAMSPIL__V1__PARTNERSHIP__INIT;
    req.tenant = "751";
    req.op_case = OP(PARTNERSHIP_CREATE);
    req.partnership_create = &pc;
    pc.partnership = &p;
    s_bad(&req, "partnership_create.partnership.name", "must not be empty");
    p.name = "Skolen i Gellerup";
    s_bad(&req, "idempotency_key", "idempotency_key is required when external_ref is empty");
    req.idempotency_key = "key-p";
    s_ok(&req);
    req.idempotency_key = "";
    p.purpose = "Alle børn trives\nog lærer";
    p.burning_platform = "Fravær";
    p.status = SAMSPIL__V1__PARTNERSHIP_STATUS__PARTNERSHIP_STATUS_ACTIVE;
    p.backbone_organisation_id = UUID1;
    p.external_ref = "esdh:7";
    s_ok(&req); /* by external ref, without a key */
    req.idempotency_key = "key-p";
    s_ok(&req);
    p.status = 17;
    s_bad(&req, "partnership_create.partnership.status", "unknown status 17");
    p.status = 0;
    p.backbone_organisation_id = "x";
    s_bad(&req, "partnership_create.partnership.backbone_organisation_id", "\"x\"");
    p.backbone_organisation_id = "";
    p.purpose = "a\x01";
    s_bad(&req, "partnership_create.partnership.purpose", "control characters");
    p.purpose = "";
    p.external_ref = "ESDH:7";
    s_bad(&req, "partnership_create.partnership.external_ref", "\"ESDH:7\"");

    Samspil__V1__PartnershipUpdate pu = SAMSPIL__V1__PARTNERSHIP_UPDATE__INIT;
    Samspil__V1__Partnership q = SAMSPIL__V1__PARTNERSHIP__INIT;
    req.op_case = OP(PARTNERSHIP_UPDATE);
    req.partnership_update = &pu;
    pu.partnership = &q;
    q.id = UUID1;
    char *mask[] = {"status", "purpose"};
    pu.update_mask = mask;
    pu.n_update_mask = 2;
    q.status = SAMSPIL__V1__PARTNERSHIP_STATUS__PARTNERSHIP_STATUS_ENDED;
    s_ok(&req);
    assert_int_equal(s_out.update_mask,
                     REGISTRATION_PARTNERSHIP_STATUS | REGISTRATION_PARTNERSHIP_PURPOSE);
    q.status = 0;
    s_bad(&req, "partnership_update.partnership.status", "status is required");
    q.status = SAMSPIL__V1__PARTNERSHIP_STATUS__PARTNERSHIP_STATUS_PAUSED;
    char *bad[] = {"external_ref"};
    pu.update_mask = bad;
    pu.n_update_mask = 1;
    s_bad(&req, "partnership_update.update_mask", "\"external_ref\"");

    Samspil__V1__PartnershipList pl = SAMSPIL__V1__PARTNERSHIP_LIST__INIT;
    req.op_case = OP(PARTNERSHIP_LIST);
    req.partnership_list = &pl;
    s_ok(&req);
    pl.status = 5;
    s_bad(&req, "partnership_list.status", "unknown status 5");

    Samspil__V1__PartnershipGet pg = SAMSPIL__V1__PARTNERSHIP_GET__INIT;
    req.op_case = OP(PARTNERSHIP_GET);
    req.partnership_get = &pg;
    s_bad(&req, "partnership_get.id", "id is required");
    pg.id = UUID1;
    s_ok(&req);
}

/* ---------------------------------------------------------------- memberships */

static void test_members(void **state)
{
    (void)state;
    req_t req = SAMSPIL__V1__REGISTRATION_REQUEST__INIT;
    Samspil__V1__MemberAdd ma = SAMSPIL__V1__MEMBER_ADD__INIT;
    Samspil__V1__Membership m = SAMSPIL__V1__MEMBERSHIP__INIT;
    req.tenant = "751";
    req.op_case = OP(MEMBER_ADD);
    req.member_add = &ma;
    ma.membership = &m;
    Samspil__V1__MemberRole roles[] = {SAMSPIL__V1__MEMBER_ROLE__MEMBER_ROLE_RECIPIENT,
                                       SAMSPIL__V1__MEMBER_ROLE__MEMBER_ROLE_NEEDS_SUPPORT};
    m.partnership_id = UUID1;
    m.actor_id = UUID2;
    m.roles = roles;
    m.n_roles = 2;
    m.knowledge_basis = SAMSPIL__V1__KNOWLEDGE_BASIS__KNOWLEDGE_BASIS_EXPERIENTIAL;
    s_ok(&req);
    m.joined_on = "2026-01-31";
    s_ok(&req);
    m.joined_on = "2026-02-30";
    s_bad(&req, "member_add.membership.joined_on", "\"2026-02-30\"");
    m.joined_on = "";
    m.ended_on = "2026-03-01";
    s_bad(&req, "member_add.membership.ended_on", "member_end");
    m.ended_on = "";

    m.n_roles = 0;
    s_bad(&req, "member_add.membership.roles", "at least one role");
    m.n_roles = 2;
    roles[1] = 99;
    s_bad(&req, "member_add.membership.roles",
          "unknown role 99 (expected initiator, recipient, friend, volunteer, passive, active, "
          "needs_support, facilitator)");
    roles[1] = SAMSPIL__V1__MEMBER_ROLE__MEMBER_ROLE_RECIPIENT;
    s_bad(&req, "member_add.membership.roles", "duplicate role \"recipient\"");
    roles[1] = 0;
    s_bad(&req, "member_add.membership.roles", "role is required");
    roles[1] = SAMSPIL__V1__MEMBER_ROLE__MEMBER_ROLE_FACILITATOR;
    s_ok(&req);

    m.knowledge_basis = 99;
    s_bad(&req, "member_add.membership.knowledge_basis", "unknown knowledge basis 99");
    m.knowledge_basis = 0;
    s_bad(&req, "member_add.membership.knowledge_basis", "knowledge basis is required");
    m.knowledge_basis = SAMSPIL__V1__KNOWLEDGE_BASIS__KNOWLEDGE_BASIS_BOTH;

    m.actor_id = "abc";
    s_bad(&req, "member_add.membership.actor_id", "invalid actor_id \"abc\": expected a UUID");
    m.actor_id = "";
    s_bad(&req, "member_add.membership.actor_id", "actor_id is required");
    m.actor_id = UUID2;
    m.partnership_id = "abc";
    s_bad(&req, "member_add.membership.partnership_id", "\"abc\"");
    m.partnership_id = UUID1;

    Samspil__V1__MemberList ml = SAMSPIL__V1__MEMBER_LIST__INIT;
    req.op_case = OP(MEMBER_LIST);
    req.member_list = &ml;
    s_bad(&req, "member_list.partnership_id", "partnership_id or actor_id");
    ml.actor_id = UUID2;
    s_ok(&req);
    ml.partnership_id = "nope";
    s_bad(&req, "member_list.partnership_id", "\"nope\"");

    Samspil__V1__MemberEnd me = SAMSPIL__V1__MEMBER_END__INIT;
    req.op_case = OP(MEMBER_END);
    req.member_end = &me;
    s_bad(&req, "member_end.id", "id is required");
    me.id = UUID1;
    s_ok(&req);
    me.ended_on = "2026-13-01";
    s_bad(&req, "member_end.ended_on", "\"2026-13-01\"");
    me.ended_on = "2026-12-01";
    s_ok(&req);
}

/* ---------------------------------------------------------------- relations, consent */

static void test_relations(void **state)
{
    (void)state;
    req_t req = SAMSPIL__V1__REGISTRATION_REQUEST__INIT;
    Samspil__V1__RelationAdd ra = SAMSPIL__V1__RELATION_ADD__INIT;
    Samspil__V1__Relation r = SAMSPIL__V1__RELATION__INIT;
    req.tenant = "751";
    req.op_case = OP(RELATION_ADD);
    req.relation_add = &ra;
    ra.relation = &r;
    r.from_actor_id = UUID1;
    r.to_actor_id = UUID2;
    r.kind = SAMSPIL__V1__RELATION_KIND__RELATION_KIND_TRUSTS;
    s_ok(&req);
    r.partnership_id = UUID1;
    s_ok(&req);
    r.to_actor_id = UUID1;
    s_bad(&req, "relation_add.relation.to_actor_id", "two different actors");
    r.to_actor_id = UUID2;
    r.kind = 0;
    s_bad(&req, "relation_add.relation.kind", "relation kind is required");
    r.kind = 5;
    s_bad(&req, "relation_add.relation.kind", "unknown relation kind 5");
    r.kind = SAMSPIL__V1__RELATION_KIND__RELATION_KIND_KNOWS;
    r.from_actor_id = "";
    s_bad(&req, "relation_add.relation.from_actor_id", "from_actor_id is required");

    Samspil__V1__RelationList rl = SAMSPIL__V1__RELATION_LIST__INIT;
    req.op_case = OP(RELATION_LIST);
    req.relation_list = &rl;
    s_ok(&req);
    rl.actor_id = "x";
    s_bad(&req, "relation_list.actor_id", "\"x\"");
}

static void test_consent(void **state)
{
    (void)state;
    req_t req = SAMSPIL__V1__REGISTRATION_REQUEST__INIT;
    Samspil__V1__ConsentRecord cr = SAMSPIL__V1__CONSENT_RECORD__INIT;
    Samspil__V1__Consent c = SAMSPIL__V1__CONSENT__INIT;
    req.tenant = "751";
    req.op_case = OP(CONSENT_RECORD);
    req.consent_record = &cr;
    cr.consent = &c;
    s_bad(&req, "consent_record.consent.actor_id", "actor_id is required");
    c.actor_id = UUID1;
    s_bad(&req, "consent_record.consent.purpose", "purpose is required");
    c.purpose = "Contact";
    s_bad(&req, "consent_record.consent.purpose", "\"Contact\"");
    c.purpose = "contact";
    s_bad(&req, "consent_record.consent.channel", "channel is required");
    c.channel = 99;
    s_bad(&req, "consent_record.consent.channel", "unknown channel 99");
    c.channel = SAMSPIL__V1__CONSENT_CHANNEL__CONSENT_CHANNEL_PAPER;
    s_bad(&req, "consent_record.consent.text_version", "must not be empty");
    c.text_version = "2026-01";
    s_bad(&req, "idempotency_key", "idempotency_key is required for consent_record");
    req.idempotency_key = "key-c";
    s_ok(&req);
    c.given_at = "2026-01-31T10:00:00+01:00";
    s_ok(&req);
    c.given_at = "yesterday";
    s_bad(&req, "consent_record.consent.given_at", "\"yesterday\"");
    c.given_at = "";
    c.withdrawn_at = "2026-01-31T10:00:00Z";
    s_bad(&req, "consent_record.consent.withdrawn_at", "consent_withdraw");

    Samspil__V1__ConsentWithdraw cw = SAMSPIL__V1__CONSENT_WITHDRAW__INIT;
    req.op_case = OP(CONSENT_WITHDRAW);
    req.consent_withdraw = &cw;
    s_bad(&req, "consent_withdraw.id", "id is required");
    cw.id = UUID1;
    s_ok(&req);

    Samspil__V1__ConsentList cl = SAMSPIL__V1__CONSENT_LIST__INIT;
    req.op_case = OP(CONSENT_LIST);
    req.consent_list = &cl;
    s_bad(&req, "consent_list.actor_id", "actor_id is required");
    cl.actor_id = UUID2;
    s_ok(&req);
}

/* A message must not contain any digit of a CPR number that was sent. */
static void s_no_digits(const char *message)
{
    if (strpbrk(message, "0123456789"))
        fail_msg("message quotes digits: %s", message);
}

static void test_cpr_refs(void **state)
{
    (void)state;
    req_t req;
    Samspil__V1__ActorCreate op;
    Samspil__V1__Actor a;
    s_actor_req(&req, &op, &a);
    a.external_ref = "cpr:010190-1234";
    s_ok(&req);
    a.external_ref = "cpr:0101901234";
    s_ok(&req);
    /* not a real date: the message masks the number */
    a.external_ref = "cpr:310490-1234";
    s_bad(&req, "actor_create.actor.external_ref",
          "invalid CPR number \"cpr:******-****\": the first six digits are not a real date");
    s_no_digits(s_err.message);
    a.external_ref = "cpr:290200-1234"; /* 1900 was no leap year */
    s_bad(&req, "actor_create.actor.external_ref", "not a real date");
    a.external_ref = "cpr:290200-4234"; /* 2000 was */
    s_ok(&req);
    a.external_ref = "cpr:0101-901234";
    s_bad(&req, "actor_create.actor.external_ref", "expected DDMMYY-SSSS or DDMMYYSSSS");
    s_no_digits(s_err.message);
    a.external_ref = "cpr:010190 1234 with spaces";
    s_bad(&req, "actor_create.actor.external_ref", "invalid CPR number");
    s_no_digits(s_err.message);
    a.external_ref = "CPR:010190-1234";
    s_bad(&req, "actor_create.actor.external_ref", "lower case");
    s_no_digits(s_err.message);
    /* the stored form may not be sent */
    a.external_ref = "cpr-hmac:66a0d798f0ec3d03f2bf419fb4b780f7f228c2818635407845f5df2bf4f87ccd";
    s_bad(&req, "actor_create.actor.external_ref", "is reserved");
    a.external_ref = "Cpr-Hmac:abc";
    s_bad(&req, "actor_create.actor.external_ref", "is reserved");

    /* upsert and get take them too */
    Samspil__V1__ActorUpsert up = SAMSPIL__V1__ACTOR_UPSERT__INIT;
    up.actor = &a;
    req.op_case = OP(ACTOR_UPSERT);
    req.actor_upsert = &up;
    a.external_ref = "cpr:010190-1234";
    s_ok(&req);
    a.external_ref = "cpr:320190-1234";
    s_bad(&req, "actor_upsert.actor.external_ref", "not a real date");
    s_no_digits(s_err.message);
    Samspil__V1__ActorGet get = SAMSPIL__V1__ACTOR_GET__INIT;
    req.op_case = OP(ACTOR_GET);
    req.actor_get = &get;
    get.external_ref = "cpr:010190-1234";
    s_ok(&req);
    get.external_ref = "cpr:01019";
    s_bad(&req, "actor_get.external_ref", "invalid CPR number");
    s_no_digits(s_err.message);

    /* partnerships never take one */
    Samspil__V1__PartnershipCreate pc = SAMSPIL__V1__PARTNERSHIP_CREATE__INIT;
    Samspil__V1__Partnership p = SAMSPIL__V1__PARTNERSHIP__INIT;
    pc.partnership = &p;
    p.name = "Naboskab";
    p.external_ref = "cpr:010190-1234";
    req.op_case = OP(PARTNERSHIP_CREATE);
    req.partnership_create = &pc;
    s_bad(&req, "partnership_create.partnership.external_ref", "may only identify an actor");
    s_no_digits(s_err.message);
}

static void test_person_and_key_ops(void **state)
{
    (void)state;
    req_t req = SAMSPIL__V1__REGISTRATION_REQUEST__INIT;
    Samspil__V1__PersonExport ex = SAMSPIL__V1__PERSON_EXPORT__INIT;
    req.tenant = "751";
    req.op_case = OP(PERSON_EXPORT);
    s_bad(&req, "person_export", "is required");
    req.person_export = &ex;
    s_bad(&req, "person_export.actor_id", "exactly one of actor_id and external_ref");
    ex.actor_id = "nope";
    s_bad(&req, "person_export.actor_id", "expected a UUID");
    ex.actor_id = UUID1;
    s_ok(&req);
    ex.external_ref = "sag:1";
    s_bad(&req, "person_export.actor_id", "exactly one");
    ex.actor_id = "";
    s_ok(&req);
    ex.external_ref = "cpr:010190-1234";
    s_ok(&req);
    ex.external_ref = "cpr:999999-9999";
    s_bad(&req, "person_export.external_ref", "invalid CPR number");
    s_no_digits(s_err.message);

    Samspil__V1__PersonErase er = SAMSPIL__V1__PERSON_ERASE__INIT;
    req.op_case = OP(PERSON_ERASE);
    req.person_erase = &er;
    s_bad(&req, "person_erase.actor_id", "exactly one");
    er.actor_id = UUID2;
    s_ok(&req);

    Samspil__V1__DataKeyRotate rot = SAMSPIL__V1__DATA_KEY_ROTATE__INIT;
    req.op_case = OP(DATA_KEY_ROTATE);
    req.data_key_rotate = &rot;
    s_ok(&req);
    assert_int_equal(s_out.limit, REGISTRATION_ROTATE_BATCH_DEFAULT);
    rot.batch = REGISTRATION_ROTATE_BATCH_MAX;
    s_ok(&req);
    assert_int_equal(s_out.limit, REGISTRATION_ROTATE_BATCH_MAX);
    rot.batch = REGISTRATION_ROTATE_BATCH_MAX + 1;
    s_bad(&req, "data_key_rotate.batch", "too large");
}

static void test_no_op(void **state)
{
    (void)state;
    req_t req = SAMSPIL__V1__REGISTRATION_REQUEST__INIT;
    req.tenant = "751";
    s_bad(&req, "op", "no known operation");
    req.op_case = (registration_opcase_t)77;
    s_bad(&req, "op", "no known operation");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_op_table),
        cmocka_unit_test(test_tenant_ops),
        cmocka_unit_test(test_actor_create),
        cmocka_unit_test(test_actor_get_list),
        cmocka_unit_test(test_actor_update_upsert),
        cmocka_unit_test(test_partnerships),
        cmocka_unit_test(test_members),
        cmocka_unit_test(test_relations),
        cmocka_unit_test(test_consent),
        cmocka_unit_test(test_cpr_refs),
        cmocka_unit_test(test_person_and_key_ops),
        cmocka_unit_test(test_no_op),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
