/*
 * test_ctl_events.c - unit tests of the JSON lines `samspilctl events tail`
 * prints (services/ctl/ctl_events.c): envelope, timestamps, flattened
 * payloads, escaping, and that no payload field can collide with an
 * envelope key.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "../../services/ctl/ctl_events.h"

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

static void s_time(int64_t us, const char *want)
{
    char got[40];
    ctl_events_time(us, got, sizeof got);
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
    ctl_events_line(&s_out, &ev);
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
    ctl_events_line(&s_out, &ev);
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
    ctl_events_line(&s_out, &ev);
    s_expect("{\"stream\":\"x\\\"y\",\"seq\":3,\"tenant\":\"\",\"type\":\"odd\\n.type\","
             "\"entity_id\":\"\",\"occurred_at\":\"1970-01-01T00:00:00.000000Z\"}\n");
    assert_null(ctl_events_payload(&ev));

    /* a payload message with every field at its default adds nothing but defaults */
    Samspil__V1__TenantEvent t = SAMSPIL__V1__TENANT_EVENT__INIT;
    ev.payload_case = SAMSPIL__V1__EVENT__PAYLOAD_TENANT_EVENT;
    ev.tenant_event = &t;
    ev.stream = "registration";
    ev.type = "tenant.created";
    ctl_events_line(&s_out, &ev);
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
                if (strcmp(p->fields[k].name, ctl_events_envelope_keys[e]) == 0) {
                    print_error("%s.%s collides with the envelope\n", p->name, p->fields[k].name);
                    fail();
                }
    }
    assert_true(payloads >= 6);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_time),
        cmocka_unit_test_setup_teardown(test_actor_line, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown(test_membership_line, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown(test_no_payload_and_escaping, s_setup, s_teardown),
        cmocka_unit_test(test_no_collisions),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
