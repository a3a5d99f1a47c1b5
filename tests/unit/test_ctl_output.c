/*
 * test_ctl_output.c - unit tests of samspilctl's output forms
 * (services/ctl/ctl_output.c): exact text and JSON for replies, and the
 * JSON lines of events tail (envelope, timestamps, flattened payloads, no
 * payload field colliding with an envelope key).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "../../services/ctl/ctl_output.h"

#include <string.h>

static sp_buf_t s_out;

static int s_setup(void **state)
{
    (void)state;
    sp_buf_init(&s_out);
    return 0;
}

static int s_teardown(void **state)
{
    (void)state;
    sp_buf_free(&s_out);
    return 0;
}

static void s_expect(const char *want)
{
    const char *got = s_out.data ? s_out.data : "";
    if (strcmp(got, want) != 0)
        print_error("want:\n%s\ngot:\n%s\n", want, got);
    assert_string_equal(got, want);
    sp_buf_reset(&s_out);
}

static void test_id(void **state)
{
    (void)state;
    Samspil__V1__Actor a = SAMSPIL__V1__ACTOR__INIT;
    a.id = "0b5e6a0e-8f0a-4a57-9d1c-6a1f0e2b7c11";
    a.name = "Jens";
    ctl_output_id(&s_out, &a.base);
    s_expect("0b5e6a0e-8f0a-4a57-9d1c-6a1f0e2b7c11\n");
    Samspil__V1__Tenant t = SAMSPIL__V1__TENANT__INIT;
    t.code = "751";
    t.name = "Aarhus Kommune";
    ctl_output_id(&s_out, &t.base);
    s_expect("751\n");
}

static void test_fields(void **state)
{
    (void)state;
    Samspil__V1__Actor a = SAMSPIL__V1__ACTOR__INIT;
    a.id = "a-1";
    a.kind = SAMSPIL__V1__ACTOR_KIND__ACTOR_KIND_CITIZEN;
    a.name = "Jens\x1b[31m Hansen"; /* a terminal escape in stored data is defused */
    char *interests[] = {"skole", "idraet"};
    a.interests = interests;
    a.n_interests = 2;
    Samspil__V1__ContactPoint c1 = SAMSPIL__V1__CONTACT_POINT__INIT, c2 = c1;
    c1.kind = SAMSPIL__V1__CONTACT_KIND__CONTACT_KIND_EMAIL;
    c1.value = "j@example.org";
    c2.kind = SAMSPIL__V1__CONTACT_KIND__CONTACT_KIND_PHONE;
    c2.value = "20304050";
    c2.preferred = 1;
    Samspil__V1__ContactPoint *cps[] = {&c1, &c2};
    a.contact_points = cps;
    a.n_contact_points = 2;
    a.vulnerable = 1;
    a.created_at = "2026-01-02T03:04:05Z";
    ctl_output_fields(&s_out, &a.base);
    s_expect("id: a-1\n"
             "kind: citizen\n"
             "name: Jens?[31m Hansen\n"
             "interests: skole, idraet\n"
             "contact_points: email j@example.org\n"
             "contact_points: phone 20304050 preferred\n"
             "vulnerable: true\n"
             "created_at: 2026-01-02T03:04:05Z\n");

    Samspil__V1__Membership m = SAMSPIL__V1__MEMBERSHIP__INIT;
    Samspil__V1__MemberRole roles[] = {SAMSPIL__V1__MEMBER_ROLE__MEMBER_ROLE_RECIPIENT,
                                       SAMSPIL__V1__MEMBER_ROLE__MEMBER_ROLE_NEEDS_SUPPORT};
    m.id = "m-1";
    m.roles = roles;
    m.n_roles = 2;
    m.knowledge_basis = SAMSPIL__V1__KNOWLEDGE_BASIS__KNOWLEDGE_BASIS_EXPERIENTIAL;
    m.joined_on = "2026-02-01";
    ctl_output_fields(&s_out, &m.base);
    s_expect("id: m-1\n"
             "roles: recipient, needs_support\n"
             "knowledge_basis: experiential\n"
             "joined_on: 2026-02-01\n");
}

static void test_list_text(void **state)
{
    (void)state;
    Samspil__V1__Actor a1 = SAMSPIL__V1__ACTOR__INIT, a2 = a1;
    a1.id = "id-1";
    a1.kind = SAMSPIL__V1__ACTOR_KIND__ACTOR_KIND_ORGANISATION;
    a1.name = "Boligforeningen Æblehaven";
    a2.id = "id-22";
    a2.kind = SAMSPIL__V1__ACTOR_KIND__ACTOR_KIND_CITIZEN;
    a2.name = "Jens";
    ProtobufCMessage *items[] = {&a1.base, &a2.base};
    ctl_output_list_text(&s_out, items, 2);
    s_expect("id-1   organisation  Boligforeningen Æblehaven\n"
             "id-22  citizen       Jens\n");
    ctl_output_list_text(&s_out, items, 0);
    s_expect("");

    /* empty cells print "-"; repeated cells join with ","; width counts characters */
    Samspil__V1__Membership m = SAMSPIL__V1__MEMBERSHIP__INIT;
    Samspil__V1__MemberRole roles[] = {SAMSPIL__V1__MEMBER_ROLE__MEMBER_ROLE_INITIATOR,
                                       SAMSPIL__V1__MEMBER_ROLE__MEMBER_ROLE_ACTIVE};
    m.id = "m";
    m.partnership_id = "p";
    m.actor_id = "a";
    m.roles = roles;
    m.n_roles = 2;
    m.knowledge_basis = SAMSPIL__V1__KNOWLEDGE_BASIS__KNOWLEDGE_BASIS_BOTH;
    m.joined_on = "2026-02-01";
    ProtobufCMessage *ms[] = {&m.base};
    ctl_output_list_text(&s_out, ms, 1);
    s_expect("m  p  a  both  2026-02-01  -  initiator,active\n");

    Samspil__V1__Tenant t1 = SAMSPIL__V1__TENANT__INIT, t2 = t1;
    t1.code = "751";
    t1.name = "Aarhus Kommune";
    t2.code = "101";
    t2.name = "Københavns Kommune";
    ProtobufCMessage *ts[] = {&t1.base, &t2.base};
    ctl_output_list_text(&s_out, ts, 2);
    s_expect("751  Aarhus Kommune\n101  Københavns Kommune\n");
}

static void test_list_json(void **state)
{
    (void)state;
    Samspil__V1__Tenant t1 = SAMSPIL__V1__TENANT__INIT;
    t1.code = "751";
    t1.name = "Aarhus Kommune";
    ProtobufCMessage *ts[] = {&t1.base};
    ctl_output_list_json(&s_out, ts, 1, "c2");
    s_expect("{\n"
             "  \"items\": [\n"
             "    {\n"
             "      \"code\": \"751\",\n"
             "      \"name\": \"Aarhus Kommune\",\n"
             "      \"created_at\": \"\"\n"
             "    }\n"
             "  ],\n"
             "  \"next\": \"c2\"\n"
             "}\n");
    ctl_output_list_json(&s_out, ts, 0, NULL);
    s_expect("{\n  \"items\": [],\n  \"next\": \"\"\n}\n");

    Samspil__V1__Relation r = SAMSPIL__V1__RELATION__INIT;
    r.id = "r";
    r.kind = SAMSPIL__V1__RELATION_KIND__RELATION_KIND_TRUSTS;
    ctl_output_json(&s_out, &r.base);
    s_expect("{\n"
             "  \"id\": \"r\",\n"
             "  \"from_actor_id\": \"\",\n"
             "  \"to_actor_id\": \"\",\n"
             "  \"kind\": \"trusts\",\n"
             "  \"partnership_id\": \"\",\n"
             "  \"created_at\": \"\"\n"
             "}\n");
}

static void test_status(void **state)
{
    (void)state;
    Samspil__V1__BrokerStatus st = SAMSPIL__V1__BROKER_STATUS__INIT;
    Samspil__V1__ServiceStatus s1 = SAMSPIL__V1__SERVICE_STATUS__INIT, s2 = s1;
    s1.name = "samspil.echo";
    s1.workers = 1;
    s1.credit = 32;
    s2.name = "samspil.registration";
    s2.workers = 2;
    s2.credit = 14;
    s2.in_flight = 2;
    s2.queued = 123;
    Samspil__V1__ServiceStatus *ss[] = {&s1, &s2};
    st.services = ss;
    st.n_services = 2;
    st.development_mode = 1;
    ctl_output_status_text(&s_out, &st);
    s_expect("SERVICE               WORKERS  CREDIT  IN-FLIGHT  QUEUED\n"
             "samspil.echo                1      32          0       0\n"
             "samspil.registration        2      14          2     123\n"
             "development mode: no authentication\n");
    st.n_services = 0;
    st.development_mode = 0;
    ctl_output_status_text(&s_out, &st);
    s_expect("SERVICE  WORKERS  CREDIT  IN-FLIGHT  QUEUED\n");
}

static void test_error_and_reply(void **state)
{
    (void)state;
    Samspil__V1__Error e = SAMSPIL__V1__ERROR__INIT;
    e.code = SAMSPIL__V1__ERROR_CODE__ERROR_CODE_INVALID_ARGUMENT;
    e.message = "could not parse municipality code \"07x1\"";
    e.field = "tenant";
    ctl_output_error(&s_out, &e);
    s_expect("samspilctl: invalid_argument: could not parse municipality code \"07x1\" (field "
             "tenant)\n");
    e.code = SAMSPIL__V1__ERROR_CODE__ERROR_CODE_UNAVAILABLE;
    e.message = "no worker for service \"samspil.registration\"";
    e.field = "";
    ctl_output_error(&s_out, &e);
    s_expect("samspilctl: unavailable: no worker for service \"samspil.registration\"\n");

    Samspil__V1__RegistrationReply reply = SAMSPIL__V1__REGISTRATION_REPLY__INIT;
    assert_null(ctl_reply_result(&reply));
    Samspil__V1__ActorPage page = SAMSPIL__V1__ACTOR_PAGE__INIT;
    Samspil__V1__Actor a = SAMSPIL__V1__ACTOR__INIT;
    Samspil__V1__Actor *as[] = {&a};
    page.items = as;
    page.n_items = 1;
    page.next = "n1";
    reply.result_case = SAMSPIL__V1__REGISTRATION_REPLY__RESULT_ACTORS;
    reply.actors = &page;
    const ProtobufCMessage *result = ctl_reply_result(&reply);
    assert_ptr_equal(result, &page.base);
    ProtobufCMessage *const *items;
    assert_int_equal(ctl_page_items(result, &items), 1);
    assert_ptr_equal(items[0], &a.base);
    assert_string_equal(ctl_page_next(result), "n1");
}

static void s_time(int64_t us, const char *want)
{
    char got[40];
    ctl_output_time(us, got, sizeof got);
    if (strcmp(got, want) != 0)
        print_error("%lld: want %s got %s\n", (long long)us, want, got);
    assert_string_equal(got, want);
}

static void test_time(void **state)
{
    (void)state;
    s_time(0, "1970-01-01T00:00:00.000000Z");
    s_time(1, "1970-01-01T00:00:00.000001Z");
    s_time(-1, "1969-12-31T23:59:59.999999Z");
    s_time(-1000000, "1969-12-31T23:59:59.000000Z");
    s_time(1795158000123456LL, "2026-11-20T07:00:00.123456Z");
    s_time(951782400000000LL, "2000-02-29T00:00:00.000000Z"); /* leap day */
    s_time(INT64_MAX, "9999-12-31T23:59:59.999999Z");
    s_time(INT64_MIN, "0001-01-01T00:00:00.000000Z");
}

static void test_actor_line(void **state)
{
    (void)state;
    Samspil__V1__Event ev = SAMSPIL__V1__EVENT__INIT;
    Samspil__V1__ActorEvent a = SAMSPIL__V1__ACTOR_EVENT__INIT;
    ev.stream = "registration";
    ev.seq = 12;
    ev.tenant = "101";
    ev.type = "actor.registered";
    ev.entity_id = "0b5e6a0e-8f0a-4a57-9d1c-6a1f0e2b7c11";
    ev.occurred_at_us = 1795158000123456LL;
    a.kind = SAMSPIL__V1__ACTOR_KIND__ACTOR_KIND_CITIZEN;
    ev.payload_case = SAMSPIL__V1__EVENT__PAYLOAD_ACTOR;
    ev.actor = &a;
    ctl_output_event_line(&s_out, &ev);
    s_expect("{\"stream\":\"registration\",\"seq\":12,\"tenant\":\"101\","
             "\"type\":\"actor.registered\",\"entity_id\":\"0b5e6a0e-8f0a-4a57-9d1c-6a1f0e2b7c11\","
             "\"occurred_at\":\"2026-11-20T07:00:00.123456Z\",\"kind\":\"citizen\","
             "\"organisation_id\":\"\",\"sector\":\"\"}\n");
}

static void test_membership_line(void **state)
{
    (void)state;
    Samspil__V1__Event ev = SAMSPIL__V1__EVENT__INIT;
    Samspil__V1__MembershipEvent m = SAMSPIL__V1__MEMBERSHIP_EVENT__INIT;
    Samspil__V1__MemberRole roles[] = {SAMSPIL__V1__MEMBER_ROLE__MEMBER_ROLE_INITIATOR,
                                       SAMSPIL__V1__MEMBER_ROLE__MEMBER_ROLE_NEEDS_SUPPORT};
    ev.stream = "registration";
    ev.seq = 18446744073709551615ULL;
    ev.tenant = "751";
    ev.type = "membership.added";
    ev.entity_id = "m-1";
    m.partnership_id = "p-1";
    m.actor_id = "a-1";
    m.roles = roles;
    m.n_roles = 2;
    m.knowledge_basis = SAMSPIL__V1__KNOWLEDGE_BASIS__KNOWLEDGE_BASIS_BOTH;
    m.actor_kind = SAMSPIL__V1__ACTOR_KIND__ACTOR_KIND_PROFESSIONAL;
    ev.payload_case = SAMSPIL__V1__EVENT__PAYLOAD_MEMBERSHIP;
    ev.membership = &m;
    ctl_output_event_line(&s_out, &ev);
    s_expect("{\"stream\":\"registration\",\"seq\":18446744073709551615,\"tenant\":\"751\","
             "\"type\":\"membership.added\",\"entity_id\":\"m-1\","
             "\"occurred_at\":\"1970-01-01T00:00:00.000000Z\",\"partnership_id\":\"p-1\","
             "\"actor_id\":\"a-1\",\"roles\":[\"initiator\",\"needs_support\"],"
             "\"knowledge_basis\":\"both\",\"actor_kind\":\"professional\"}\n");
}

static void test_no_payload_and_escaping(void **state)
{
    (void)state;
    Samspil__V1__Event ev = SAMSPIL__V1__EVENT__INIT;
    ev.stream = "x\"y";
    ev.seq = 3;
    ev.type = "odd\n.type";
    ctl_output_event_line(&s_out, &ev);
    s_expect("{\"stream\":\"x\\\"y\",\"seq\":3,\"tenant\":\"\",\"type\":\"odd\\n.type\","
             "\"entity_id\":\"\",\"occurred_at\":\"1970-01-01T00:00:00.000000Z\"}\n");
    assert_null(ctl_output_event_payload(&ev));

    /* a payload message with every field at its default adds nothing but defaults */
    Samspil__V1__TenantEvent t = SAMSPIL__V1__TENANT_EVENT__INIT;
    ev.payload_case = SAMSPIL__V1__EVENT__PAYLOAD_TENANT_EVENT;
    ev.tenant_event = &t;
    ev.stream = "registration";
    ev.type = "tenant.created";
    ctl_output_event_line(&s_out, &ev);
    s_expect("{\"stream\":\"registration\",\"seq\":3,\"tenant\":\"\",\"type\":\"tenant.created\","
             "\"entity_id\":\"\",\"occurred_at\":\"1970-01-01T00:00:00.000000Z\",\"code\":\"\"}\n");
}

/* Every payload of Event: none of its fields is named like an envelope key,
 * so flattening never yields a duplicate key. */
static void test_no_collisions(void **state)
{
    (void)state;
    const ProtobufCMessageDescriptor *d = &samspil__v1__event__descriptor;
    size_t payloads = 0;
    for (unsigned i = 0; i < d->n_fields; i++) {
        const ProtobufCFieldDescriptor *f = &d->fields[i];
        if (!(f->flags & PROTOBUF_C_FIELD_FLAG_ONEOF) || f->type != PROTOBUF_C_TYPE_MESSAGE)
            continue;
        payloads++;
        const ProtobufCMessageDescriptor *p = f->descriptor;
        for (unsigned k = 0; k < p->n_fields; k++)
            for (size_t e = 0; e < 6; e++)
                if (strcmp(p->fields[k].name, ctl_output_event_keys[e]) == 0) {
                    print_error("%s.%s collides with the envelope\n", p->name, p->fields[k].name);
                    fail();
                }
    }
    assert_true(payloads >= 6);
}

static void test_keys_text(void **state)
{
    (void)state;
    Samspil__V1__KeyInfo a = SAMSPIL__V1__KEY_INFO__INIT, b = SAMSPIL__V1__KEY_INFO__INIT;
    char *tenants[] = {"101", "147"};
    a.name = "operator";
    a.role = SAMSPIL__V1__ROLE__ROLE_OPERATOR;
    a.all_tenants = 1;
    a.public_key = "Yne@$w-vo<fVvi]a<NY6T1ed:M$fCG*[IaLV{hID";
    a.created = "2026-11-27T07:00:00Z";
    b.name = "sag-aarhus";
    b.role = SAMSPIL__V1__ROLE__ROLE_INTEGRATOR;
    b.tenants = tenants;
    b.n_tenants = 2;
    b.public_key = "rq:rM>}U?@Lns47E1%kR.o@n%FcmmsL/@{H8]yf7";
    b.created = "2026-11-27T07:01:00Z";
    b.revoked = "2026-11-27T08:00:00Z";
    Samspil__V1__KeyInfo *keys[] = {&a, &b};
    ctl_output_keys_text(&s_out, keys, 2);
    s_expect("operator    operator    *        2026-11-27T07:00:00Z  -                     "
             "Yne@$w-vo<fVvi]a<NY6T1ed:M$fCG*[IaLV{hID\n"
             "sag-aarhus  integrator  101,147  2026-11-27T07:01:00Z  2026-11-27T08:00:00Z  "
             "rq:rM>}U?@Lns47E1%kR.o@n%FcmmsL/@{H8]yf7\n");
    char text[16];
    assert_string_equal(ctl_output_key_tenants(&b, text, sizeof text), "101,147");
    assert_string_equal(ctl_output_key_tenants(&a, text, sizeof text), "*");
    b.n_tenants = 0;
    assert_string_equal(ctl_output_key_tenants(&b, text, sizeof text), "");
}

static void test_person_document(void **state)
{
    (void)state;
    /* a stored event: packed, seq and stream unset as in the outbox */
    Samspil__V1__Event ev = SAMSPIL__V1__EVENT__INIT;
    Samspil__V1__ActorEvent ae = SAMSPIL__V1__ACTOR_EVENT__INIT;
    ev.tenant = "751";
    ev.type = "actor.registered";
    ev.entity_id = "a-1";
    ev.occurred_at_us = 1000001;
    ae.kind = SAMSPIL__V1__ACTOR_KIND__ACTOR_KIND_CITIZEN;
    ev.payload_case = SAMSPIL__V1__EVENT__PAYLOAD_ACTOR;
    ev.actor = &ae;
    uint8_t packed[256];
    size_t plen = samspil__v1__event__pack(&ev, packed);

    Samspil__V1__PersonEvent pe1 = SAMSPIL__V1__PERSON_EVENT__INIT;
    pe1.seq = 7;
    pe1.type = "actor.registered";
    pe1.entity_id = "a-1";
    pe1.event.data = packed;
    pe1.event.len = plen;
    Samspil__V1__PersonEvent pe2 = SAMSPIL__V1__PERSON_EVENT__INIT;
    uint8_t junk[] = {0xff, 0xff, 0xff};
    pe2.type = "actor.updated";
    pe2.entity_id = "a-1";
    pe2.event.data = junk;
    pe2.event.len = sizeof junk;
    Samspil__V1__PersonEvent *events[] = {&pe1, &pe2};

    Samspil__V1__Actor actor = SAMSPIL__V1__ACTOR__INIT;
    actor.id = "a-1";
    actor.kind = SAMSPIL__V1__ACTOR_KIND__ACTOR_KIND_CITIZEN;
    actor.name = "Jens";
    Samspil__V1__Person person = SAMSPIL__V1__PERSON__INIT;
    person.actor = &actor;
    person.events = events;
    person.n_events = 2;
    person.exported_at = "2026-11-27T07:00:00Z";

    ctl_output_person_begin(&s_out, "a-1", 0);
    ctl_output_person_service(&s_out, "registration", &person.base, true);
    ctl_output_person_end(&s_out);
    s_expect("{\n"
             "  \"actor_id\": \"a-1\",\n"
             "  \"exported_at\": \"1970-01-01T00:00:00.000000Z\",\n"
             "  \"services\": {\n"
             "    \"registration\": {\n"
             "      \"actor\": {\n"
             "        \"id\": \"a-1\",\n"
             "        \"kind\": \"citizen\",\n"
             "        \"name\": \"Jens\",\n"
             "        \"organisation_id\": \"\",\n"
             "        \"sector\": \"\",\n"
             "        \"interests\": [],\n"
             "        \"preferred_language\": \"\",\n"
             "        \"accessibility_needs\": [],\n"
             "        \"contact_points\": [],\n"
             "        \"vulnerable\": false,\n"
             "        \"external_ref\": \"\",\n"
             "        \"created_at\": \"\",\n"
             "        \"updated_at\": \"\"\n"
             "      },\n"
             "      \"memberships\": [],\n"
             "      \"relations\": [],\n"
             "      \"consents\": [],\n"
             "      \"events\": [\n"
             "        {\"stream\":\"registration\",\"seq\":7,\"tenant\":\"751\","
             "\"type\":\"actor.registered\",\"entity_id\":\"a-1\","
             "\"occurred_at\":\"1970-01-01T00:00:01.000001Z\",\"kind\":\"citizen\","
             "\"organisation_id\":\"\",\"sector\":\"\"},\n"
             "        {\"seq\":0,\"type\":\"actor.updated\",\"entity_id\":\"a-1\","
             "\"occurred_at\":\"1970-01-01T00:00:00.000000Z\",\"event_base64\":\"////\"}\n"
             "      ],\n"
             "      \"erased_at\": \"\",\n"
             "      \"exported_at\": \"2026-11-27T07:00:00Z\"\n"
             "    }\n"
             "  }\n"
             "}\n");

    /* no events: the empty list stays; another message prints as it is */
    person.n_events = 0;
    Samspil__V1__Tenant t = SAMSPIL__V1__TENANT__INIT;
    t.code = "751";
    ctl_output_person_begin(&s_out, "a-1", 0);
    ctl_output_person_service(&s_out, "registration", &person.base, true);
    ctl_output_person_service(&s_out, "other", &t.base, false);
    ctl_output_person_end(&s_out);
    const char *doc = s_out.data;
    assert_non_null(strstr(doc, "\"events\": [],\n"));
    assert_non_null(strstr(doc, "    },\n    \"other\": {\n      \"code\": \"751\",\n"));
    sp_buf_reset(&s_out);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_id, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown(test_fields, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown(test_list_text, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown(test_list_json, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown(test_status, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown(test_error_and_reply, s_setup, s_teardown),
        cmocka_unit_test(test_time),
        cmocka_unit_test_setup_teardown(test_actor_line, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown(test_membership_line, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown(test_no_payload_and_escaping, s_setup, s_teardown),
        cmocka_unit_test(test_no_collisions),
        cmocka_unit_test_setup_teardown(test_keys_text, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown(test_person_document, s_setup, s_teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
