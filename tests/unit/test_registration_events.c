/*
 * test_registration_events.c - unit tests for the events registration
 * changes write: type per operation, the facts each event carries, which
 * events leave their payload to the statement, that nothing sensitive
 * (names, contact points, vulnerable, external refs, free text) is ever
 * packed, and the bytea parameter form.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "../../services/registration/registration_events.h"

#include <stdlib.h>
#include <string.h>

#define OP(x) SAMSPIL__V1__REGISTRATION_REQUEST__OP_##x
#define ID_UPPER "0198C0DE-AAAA-7BBB-8CCC-0123456789AB"
#define ID_LOWER "0198c0de-aaaa-7bbb-8ccc-0123456789ab"
#define ORG "0198c0de-0000-7000-8000-00000000000f"
#define NOW 1767225600123456LL

/* Sensitive values every test request carries somewhere. */
static const char *const s_secrets[] = {
    "Karen Blixen",    "karen@example.dk", "+4512345678",
    "Strandvejen 111", "sag:secret-42",    "a very private purpose text",
};

/* Pack `ev`, check no secret appears in the bytes, and unpack it. */
static Samspil__V1__Event *s_roundtrip(const registration_event_t *ev)
{
    size_t size = samspil__v1__event__get_packed_size(&ev->event);
    uint8_t *buf = malloc(size + 1);
    assert_non_null(buf);
    samspil__v1__event__pack(&ev->event, buf);
    for (size_t i = 0; i < sizeof s_secrets / sizeof s_secrets[0]; i++) {
        size_t n = strlen(s_secrets[i]);
        for (size_t off = 0; off + n <= size; off++)
            assert_false(memcmp(buf + off, s_secrets[i], n) == 0);
    }
    Samspil__V1__Event *out = samspil__v1__event__unpack(NULL, size, buf);
    free(buf);
    assert_non_null(out);
    assert_string_equal(out->stream, ""); /* the relay sets stream and seq */
    assert_int_equal(out->seq, 0);
    return out;
}

/* A citizen with every sensitive field set. */
static void s_actor(Samspil__V1__Actor *a, Samspil__V1__ContactPoint *cp,
                    Samspil__V1__ContactPoint **cps)
{
    samspil__v1__actor__init(a);
    samspil__v1__contact_point__init(cp);
    cp->kind = SAMSPIL__V1__CONTACT_KIND__CONTACT_KIND_EMAIL;
    cp->value = (char *)"karen@example.dk";
    cps[0] = cp;
    a->kind = SAMSPIL__V1__ACTOR_KIND__ACTOR_KIND_PROFESSIONAL;
    a->name = (char *)"Karen Blixen";
    a->organisation_id = (char *)ORG;
    a->contact_points = cps;
    a->n_contact_points = 1;
    a->vulnerable = true;
    a->external_ref = (char *)"sag:secret-42";
    a->preferred_language = (char *)"da";
}

static void test_types(void **state)
{
    (void)state;
    Samspil__V1__RegistrationRequest req = SAMSPIL__V1__REGISTRATION_REQUEST__INIT;
    struct {
        int op;
        bool created;
        const char *type;
    } cases[] = {
        {OP(TENANT_CREATE), true, "tenant.created"},
        {OP(PARTNERSHIP_CREATE), true, "partnership.created"},
        {OP(PARTNERSHIP_UPDATE), false, "partnership.updated"},
        {OP(ACTOR_CREATE), true, "actor.registered"},
        {OP(ACTOR_UPSERT), true, "actor.registered"},
        {OP(ACTOR_UPSERT), false, "actor.updated"},
        {OP(ACTOR_UPDATE), false, "actor.updated"},
        {OP(MEMBER_ADD), true, "membership.added"},
        {OP(MEMBER_END), false, "membership.ended"},
        {OP(RELATION_ADD), true, "relation.added"},
        {OP(CONSENT_RECORD), true, "consent.given"},
        {OP(CONSENT_WITHDRAW), false, "consent.withdrawn"},
        {OP(TENANT_GET), false, NULL},
        {OP(TENANT_LIST), false, NULL},
        {OP(ACTOR_GET), false, NULL},
        {OP(ACTOR_LIST), false, NULL},
        {OP(PARTNERSHIP_GET), false, NULL},
        {OP(PARTNERSHIP_LIST), false, NULL},
        {OP(MEMBER_LIST), false, NULL},
        {OP(RELATION_LIST), false, NULL},
        {OP(CONSENT_LIST), false, NULL},
        {SAMSPIL__V1__REGISTRATION_REQUEST__OP__NOT_SET, false, NULL},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        req.op_case = cases[i].op;
        const char *type = registration_event_type(&req, cases[i].created);
        if (cases[i].type)
            assert_string_equal(type, cases[i].type);
        else
            assert_null(type);
    }
}

static void test_reads_build_nothing(void **state)
{
    (void)state;
    Samspil__V1__RegistrationRequest req = SAMSPIL__V1__REGISTRATION_REQUEST__INIT;
    Samspil__V1__ActorGet get = SAMSPIL__V1__ACTOR_GET__INIT;
    req.op_case = OP(ACTOR_GET);
    req.actor_get = &get;
    registration_event_t ev;
    assert_int_equal(registration_event_build(&ev, &req, false, ID_LOWER, NOW), -1);
}

static void test_tenant_created(void **state)
{
    (void)state;
    Samspil__V1__RegistrationRequest req = SAMSPIL__V1__REGISTRATION_REQUEST__INIT;
    Samspil__V1__TenantCreate tc = SAMSPIL__V1__TENANT_CREATE__INIT;
    tc.code = (char *)"751";
    tc.name = (char *)"Karen Blixen"; /* a name never travels */
    req.op_case = OP(TENANT_CREATE);
    req.tenant_create = &tc;
    registration_event_t ev;
    assert_int_equal(registration_event_build(&ev, &req, true, "751", NOW), 1);
    Samspil__V1__Event *e = s_roundtrip(&ev);
    assert_string_equal(e->type, "tenant.created");
    assert_string_equal(e->tenant, "751");
    assert_string_equal(e->entity_id, "751");
    assert_int_equal(e->occurred_at_us, NOW);
    assert_int_equal(e->payload_case, SAMSPIL__V1__EVENT__PAYLOAD_TENANT_EVENT);
    assert_string_equal(e->tenant_event->code, "751");
    samspil__v1__event__free_unpacked(e, NULL);
}

static void test_actor_registered_without_sensitive_fields(void **state)
{
    (void)state;
    Samspil__V1__Actor a;
    Samspil__V1__ContactPoint cp, *cps[1];
    s_actor(&a, &cp, cps);
    Samspil__V1__ActorCreate ac = SAMSPIL__V1__ACTOR_CREATE__INIT;
    ac.actor = &a;
    Samspil__V1__RegistrationRequest req = SAMSPIL__V1__REGISTRATION_REQUEST__INIT;
    req.tenant = (char *)"751";
    req.op_case = OP(ACTOR_CREATE);
    req.actor_create = &ac;
    registration_event_t ev;
    assert_int_equal(registration_event_build(&ev, &req, true, ID_UPPER, NOW), 1);
    Samspil__V1__Event *e = s_roundtrip(&ev);
    assert_string_equal(e->type, "actor.registered");
    assert_string_equal(e->tenant, "751");
    assert_string_equal(e->entity_id, ID_LOWER); /* as PostgreSQL prints it */
    assert_int_equal(e->payload_case, SAMSPIL__V1__EVENT__PAYLOAD_ACTOR);
    assert_int_equal(e->actor->kind, SAMSPIL__V1__ACTOR_KIND__ACTOR_KIND_PROFESSIONAL);
    assert_string_equal(e->actor->organisation_id, ORG);
    assert_int_equal(e->actor->sector, 0);
    samspil__v1__event__free_unpacked(e, NULL);
}

static void test_upsert_update_leaves_entity_to_the_statement(void **state)
{
    (void)state;
    Samspil__V1__Actor a;
    Samspil__V1__ContactPoint cp, *cps[1];
    s_actor(&a, &cp, cps);
    Samspil__V1__ActorUpsert up = SAMSPIL__V1__ACTOR_UPSERT__INIT;
    up.actor = &a;
    Samspil__V1__RegistrationRequest req = SAMSPIL__V1__REGISTRATION_REQUEST__INIT;
    req.tenant = (char *)"751";
    req.op_case = OP(ACTOR_UPSERT);
    req.actor_upsert = &up;
    registration_event_t ev;
    assert_int_equal(registration_event_build(&ev, &req, false, NULL, NOW), 1);
    Samspil__V1__Event *e = s_roundtrip(&ev);
    assert_string_equal(e->type, "actor.updated");
    assert_string_equal(e->entity_id, "");
    assert_int_equal(e->actor->kind, SAMSPIL__V1__ACTOR_KIND__ACTOR_KIND_PROFESSIONAL);
    samspil__v1__event__free_unpacked(e, NULL);
}

static void test_partnership_created_defaults_to_forming(void **state)
{
    (void)state;
    Samspil__V1__Partnership p = SAMSPIL__V1__PARTNERSHIP__INIT;
    p.name = (char *)"Karen Blixen";
    p.purpose = (char *)"a very private purpose text";
    p.external_ref = (char *)"sag:secret-42";
    Samspil__V1__PartnershipCreate pc = SAMSPIL__V1__PARTNERSHIP_CREATE__INIT;
    pc.partnership = &p;
    Samspil__V1__RegistrationRequest req = SAMSPIL__V1__REGISTRATION_REQUEST__INIT;
    req.tenant = (char *)"101";
    req.op_case = OP(PARTNERSHIP_CREATE);
    req.partnership_create = &pc;
    registration_event_t ev;
    assert_int_equal(registration_event_build(&ev, &req, true, ID_LOWER, NOW), 1);
    Samspil__V1__Event *e = s_roundtrip(&ev);
    assert_string_equal(e->type, "partnership.created");
    assert_int_equal(e->partnership->status,
                     SAMSPIL__V1__PARTNERSHIP_STATUS__PARTNERSHIP_STATUS_FORMING);
    samspil__v1__event__free_unpacked(e, NULL);

    p.status = SAMSPIL__V1__PARTNERSHIP_STATUS__PARTNERSHIP_STATUS_ACTIVE;
    assert_int_equal(registration_event_build(&ev, &req, true, ID_LOWER, NOW), 1);
    e = s_roundtrip(&ev);
    assert_int_equal(e->partnership->status,
                     SAMSPIL__V1__PARTNERSHIP_STATUS__PARTNERSHIP_STATUS_ACTIVE);
    samspil__v1__event__free_unpacked(e, NULL);
}

static void test_relation_and_consent(void **state)
{
    (void)state;
    Samspil__V1__Relation r = SAMSPIL__V1__RELATION__INIT;
    r.from_actor_id = (char *)ID_UPPER;
    r.to_actor_id = (char *)ORG;
    r.kind = SAMSPIL__V1__RELATION_KIND__RELATION_KIND_TRUSTS;
    Samspil__V1__RelationAdd ra = SAMSPIL__V1__RELATION_ADD__INIT;
    ra.relation = &r;
    Samspil__V1__RegistrationRequest req = SAMSPIL__V1__REGISTRATION_REQUEST__INIT;
    req.tenant = (char *)"101";
    req.op_case = OP(RELATION_ADD);
    req.relation_add = &ra;
    registration_event_t ev;
    assert_int_equal(registration_event_build(&ev, &req, true, ID_LOWER, NOW), 1);
    Samspil__V1__Event *e = s_roundtrip(&ev);
    assert_string_equal(e->type, "relation.added");
    assert_string_equal(e->relation->from_actor_id, ID_LOWER);
    assert_string_equal(e->relation->to_actor_id, ORG);
    assert_int_equal(e->relation->kind, SAMSPIL__V1__RELATION_KIND__RELATION_KIND_TRUSTS);
    assert_string_equal(e->relation->partnership_id, "");
    samspil__v1__event__free_unpacked(e, NULL);

    Samspil__V1__Consent c = SAMSPIL__V1__CONSENT__INIT;
    c.actor_id = (char *)ID_LOWER;
    c.purpose = (char *)"contact";
    c.text_version = (char *)"a very private purpose text";
    c.channel = SAMSPIL__V1__CONSENT_CHANNEL__CONSENT_CHANNEL_PAPER;
    Samspil__V1__ConsentRecord cr = SAMSPIL__V1__CONSENT_RECORD__INIT;
    cr.consent = &c;
    req.op_case = OP(CONSENT_RECORD);
    req.consent_record = &cr;
    assert_int_equal(registration_event_build(&ev, &req, true, ORG, NOW), 1);
    e = s_roundtrip(&ev);
    assert_string_equal(e->type, "consent.given");
    assert_string_equal(e->entity_id, ORG);
    assert_string_equal(e->consent->actor_id, ID_LOWER);
    assert_string_equal(e->consent->purpose, "contact");
    samspil__v1__event__free_unpacked(e, NULL);
}

/* Updates and membership changes: the header only; the payload comes from
 * the stored row. */
static void test_header_only(void **state)
{
    (void)state;
    Samspil__V1__Actor a;
    Samspil__V1__ContactPoint cp, *cps[1];
    s_actor(&a, &cp, cps);
    a.id = (char *)ID_UPPER;
    Samspil__V1__ActorUpdate au = SAMSPIL__V1__ACTOR_UPDATE__INIT;
    au.actor = &a;
    Samspil__V1__MemberEnd me = SAMSPIL__V1__MEMBER_END__INIT;
    me.id = (char *)ID_LOWER;
    Samspil__V1__Membership m = SAMSPIL__V1__MEMBERSHIP__INIT;
    m.actor_id = (char *)ORG;
    Samspil__V1__MemberAdd ma = SAMSPIL__V1__MEMBER_ADD__INIT;
    ma.membership = &m;
    Samspil__V1__RegistrationRequest req = SAMSPIL__V1__REGISTRATION_REQUEST__INIT;
    req.tenant = (char *)"101";

    req.op_case = OP(ACTOR_UPDATE);
    req.actor_update = &au;
    registration_event_t ev;
    assert_int_equal(registration_event_build(&ev, &req, false, ID_UPPER, NOW), 0);
    Samspil__V1__Event *e = s_roundtrip(&ev);
    assert_string_equal(e->type, "actor.updated");
    assert_string_equal(e->tenant, "101");
    assert_string_equal(e->entity_id, ID_LOWER);
    assert_int_equal(e->occurred_at_us, NOW);
    assert_int_equal(e->payload_case, SAMSPIL__V1__EVENT__PAYLOAD__NOT_SET);
    samspil__v1__event__free_unpacked(e, NULL);

    req.op_case = OP(MEMBER_END);
    req.member_end = &me;
    assert_int_equal(registration_event_build(&ev, &req, false, ID_LOWER, NOW), 0);
    e = s_roundtrip(&ev);
    assert_string_equal(e->type, "membership.ended");
    assert_int_equal(e->payload_case, SAMSPIL__V1__EVENT__PAYLOAD__NOT_SET);
    samspil__v1__event__free_unpacked(e, NULL);

    req.op_case = OP(MEMBER_ADD);
    req.member_add = &ma;
    assert_int_equal(registration_event_build(&ev, &req, true, ID_LOWER, NOW), 0);
    e = s_roundtrip(&ev);
    assert_string_equal(e->type, "membership.added");
    assert_int_equal(e->payload_case, SAMSPIL__V1__EVENT__PAYLOAD__NOT_SET);
    samspil__v1__event__free_unpacked(e, NULL);
}

static void test_param(void **state)
{
    (void)state;
    registration_event_t ev;
    Samspil__V1__RegistrationRequest req = SAMSPIL__V1__REGISTRATION_REQUEST__INIT;
    Samspil__V1__TenantCreate tc = SAMSPIL__V1__TENANT_CREATE__INIT;
    tc.code = (char *)"751";
    req.op_case = OP(TENANT_CREATE);
    req.tenant_create = &tc;
    assert_int_equal(registration_event_build(&ev, &req, true, "751", 0), 1);
    sp_buf_t buf;
    sp_buf_init(&buf);
    registration_event_param(&ev.event, &buf);
    /* tenant "751" (field 3), type (4), entity "751" (5), tenant_event {code} (10) */
    assert_string_equal(buf.data, "\\x1a03373531220e74656e616e742e637265617465642a03373531"
                                  "52050a03373531");
    sp_buf_free(&buf);

    assert_true(registration_event_now_us() > NOW - 1000000LL * 86400 * 365);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_types),
        cmocka_unit_test(test_reads_build_nothing),
        cmocka_unit_test(test_tenant_created),
        cmocka_unit_test(test_actor_registered_without_sensitive_fields),
        cmocka_unit_test(test_upsert_update_leaves_entity_to_the_statement),
        cmocka_unit_test(test_partnership_created_defaults_to_forming),
        cmocka_unit_test(test_relation_and_consent),
        cmocka_unit_test(test_header_only),
        cmocka_unit_test(test_param),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
