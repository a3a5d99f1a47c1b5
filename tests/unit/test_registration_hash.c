/*
 * test_registration_hash.c - unit tests for create-request fingerprints.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "../../services/registration/registration_hash.h"

#include <string.h>

static void s_hash(const Samspil__V1__RegistrationRequest *req, uint8_t out[REGISTRATION_HASH_SIZE])
{
    registration_request_hash(req, out);
}

static void test_actor(void **state)
{
    (void)state;
    Samspil__V1__Actor a = SAMSPIL__V1__ACTOR__INIT;
    a.kind = SAMSPIL__V1__ACTOR_KIND__ACTOR_KIND_CITIZEN;
    a.name = "Åse";
    Samspil__V1__ActorCreate op = SAMSPIL__V1__ACTOR_CREATE__INIT;
    op.actor = &a;
    Samspil__V1__RegistrationRequest req = SAMSPIL__V1__REGISTRATION_REQUEST__INIT;
    req.op_case = SAMSPIL__V1__REGISTRATION_REQUEST__OP_ACTOR_CREATE;
    req.actor_create = &op;
    req.tenant = "751";
    req.idempotency_key = "k";

    uint8_t h1[32], h2[32];
    s_hash(&req, h1);
    /* fields the server sets, and the envelope, do not count */
    a.id = "6f1d2c3b-5a4e-4d3c-9b2a-0123456789ab";
    a.created_at = "2026-01-01T00:00:00Z";
    req.correlation_id = 99;
    req.tenant = "101";
    req.idempotency_key = "other";
    s_hash(&req, h2);
    assert_memory_equal(h1, h2, 32);
    /* content does */
    a.name = "Åse B";
    s_hash(&req, h2);
    assert_memory_not_equal(h1, h2, 32);
    a.name = "Åse";
    a.vulnerable = 1;
    s_hash(&req, h2);
    assert_memory_not_equal(h1, h2, 32);
    a.vulnerable = 0;
    s_hash(&req, h2);
    assert_memory_equal(h1, h2, 32);

    /* the same actor as another operation hashes differently */
    Samspil__V1__ActorUpsert up = SAMSPIL__V1__ACTOR_UPSERT__INIT;
    up.actor = &a;
    req.op_case = SAMSPIL__V1__REGISTRATION_REQUEST__OP_ACTOR_UPSERT;
    req.actor_upsert = &up;
    s_hash(&req, h2);
    assert_memory_not_equal(h1, h2, 32);
}

static void test_hex(void **state)
{
    (void)state;
    uint8_t h[32];
    for (int i = 0; i < 32; i++)
        h[i] = (uint8_t)(i * 8 + 1);
    char hex[REGISTRATION_HASH_HEX_SIZE];
    registration_hash_hex(h, hex);
    assert_int_equal(strlen(hex), 66);
    assert_memory_equal(hex, "\\x01091119", 10);
    assert_string_equal(hex + 62, "f1f9");
}

static void test_other_ops(void **state)
{
    (void)state;
    Samspil__V1__Membership m = SAMSPIL__V1__MEMBERSHIP__INIT;
    m.actor_id = "a";
    Samspil__V1__MemberAdd op = SAMSPIL__V1__MEMBER_ADD__INIT;
    op.membership = &m;
    Samspil__V1__RegistrationRequest req = SAMSPIL__V1__REGISTRATION_REQUEST__INIT;
    req.op_case = SAMSPIL__V1__REGISTRATION_REQUEST__OP_MEMBER_ADD;
    req.member_add = &op;
    uint8_t h1[32], h2[32];
    s_hash(&req, h1);
    m.id = "x";
    s_hash(&req, h2);
    assert_memory_equal(h1, h2, 32);
    m.actor_id = "b";
    s_hash(&req, h2);
    assert_memory_not_equal(h1, h2, 32);
    /* a missing body hashes without crashing */
    req.member_add = NULL;
    s_hash(&req, h2);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_actor),
        cmocka_unit_test(test_hex),
        cmocka_unit_test(test_other_ops),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
