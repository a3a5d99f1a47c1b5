/*
 * test_broker_access.c - unit tests of the broker's access rules: ZAP
 * decisions per domain, worker registration, event subscriptions per role
 * and tenant, and the packed principal of a key.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "../../services/broker/broker_access.h"

#define OPERATOR SAMSPIL__V1__ROLE__ROLE_OPERATOR
#define INTEGRATOR SAMSPIL__V1__ROLE__ROLE_INTEGRATOR
#define FACILITATOR SAMSPIL__V1__ROLE__ROLE_FACILITATOR
#define READER SAMSPIL__V1__ROLE__ROLE_READER
#define SERVICE SAMSPIL__V1__ROLE__ROLE_SERVICE

static void test_zap(void **state)
{
    const char *why;
    Samspil__V1__Role roles[] = {OPERATOR, INTEGRATOR, FACILITATOR, READER, SERVICE};
    for (size_t i = 0; i < 5; i++) {
        assert_true(broker_access_zap(BROKER_ZAP_DOMAIN_BROKER, BROKER_KEYS_VALID, roles[i], &why));
        assert_false(
            broker_access_zap(BROKER_ZAP_DOMAIN_BROKER, BROKER_KEYS_UNKNOWN, roles[i], &why));
        assert_string_equal(why, "unknown key");
        assert_false(
            broker_access_zap(BROKER_ZAP_DOMAIN_BROKER, BROKER_KEYS_REVOKED, roles[i], &why));
        assert_string_equal(why, "revoked key");
        assert_false(broker_access_zap("", BROKER_KEYS_VALID, roles[i], &why));
        assert_false(broker_access_zap(NULL, BROKER_KEYS_VALID, roles[i], &why));
        assert_false(broker_access_zap("global", BROKER_KEYS_VALID, roles[i], &why));
        assert_string_equal(why, "unknown domain");
        /* publishers: services only */
        assert_int_equal(
            broker_access_zap(BROKER_ZAP_DOMAIN_EVENTS_IN, BROKER_KEYS_VALID, roles[i], &why),
            roles[i] == SERVICE);
        /* subscribers: operators, services, integrators */
        assert_int_equal(
            broker_access_zap(BROKER_ZAP_DOMAIN_EVENTS_OUT, BROKER_KEYS_VALID, roles[i], &why),
            roles[i] == SERVICE || roles[i] == OPERATOR || roles[i] == INTEGRATOR);
    }
    assert_false(
        broker_access_zap(BROKER_ZAP_DOMAIN_EVENTS_IN, BROKER_KEYS_REVOKED, SERVICE, NULL));
}

static void test_register(void **state)
{
    assert_true(broker_access_may_register(SERVICE));
    assert_false(broker_access_may_register(OPERATOR));
    assert_false(broker_access_may_register(INTEGRATOR));
    assert_false(broker_access_may_register(READER));
    assert_false(broker_access_may_register(FACILITATOR));
    assert_false(broker_access_may_register(SAMSPIL__V1__ROLE__ROLE_UNSPECIFIED));
}

static broker_key_t s_key(Samspil__V1__Role role)
{
    broker_key_t k = {0};
    strcpy(k.name, "k");
    k.role = role;
    if (role == OPERATOR || role == SERVICE) {
        k.all_tenants = true;
    } else {
        k.ntenants = 2;
        strcpy(k.tenants[0], "101");
        strcpy(k.tenants[1], "751");
    }
    return k;
}

static bool s_sub(const broker_key_t *k, const char *prefix)
{
    return broker_access_may_subscribe(k, prefix, strlen(prefix));
}

static void test_subscribe(void **state)
{
    broker_key_t op = s_key(OPERATOR), svc = s_key(SERVICE), in = s_key(INTEGRATOR);
    broker_key_t rd = s_key(READER), fa = s_key(FACILITATOR);
    assert_true(s_sub(&op, ""));
    assert_true(s_sub(&svc, "registration/"));
    assert_true(s_sub(&in, "registration/101/"));
    assert_true(s_sub(&in, "registration/751/actor."));
    assert_true(s_sub(&in, "registration//"));
    assert_true(s_sub(&in, "registration//stream.head"));
    assert_false(s_sub(&in, ""));
    assert_false(s_sub(&in, "registration"));
    assert_false(s_sub(&in, "registration/"));
    assert_false(s_sub(&in, "registration/1"));
    assert_false(s_sub(&in, "registration/101")); /* tenant not closed by '/' */
    assert_false(s_sub(&in, "registration/147/"));
    assert_false(s_sub(&in, "/101/"));
    assert_false(s_sub(&in, "registration/1010/"));
    assert_false(s_sub(&rd, "registration/101/"));
    assert_false(s_sub(&fa, "registration/101/"));
    assert_false(s_sub(NULL, ""));
    /* a revoked entry subscribes to nothing */
    strcpy(op.revoked, "2026-11-27T07:00:00Z");
    assert_false(s_sub(&op, ""));
    /* prefix bytes need not be NUL-terminated */
    assert_true(broker_access_may_subscribe(&in, "registration/101/XXXX", 17));
    assert_false(broker_access_may_subscribe(&in, "registration/101/XXXX", 16));
}

static void test_pack(void **state)
{
    broker_key_t in = s_key(INTEGRATOR);
    strcpy(in.name, "case-system");
    uint8_t *packed;
    size_t size;
    assert_int_equal(broker_access_pack_principal(&in, &packed, &size), 0);
    Samspil__V1__Principal *p = samspil__v1__principal__unpack(NULL, size, packed);
    assert_non_null(p);
    assert_string_equal(p->client_id, "case-system");
    assert_int_equal(p->role, INTEGRATOR);
    assert_false(p->all_tenants);
    assert_int_equal(p->n_tenants, 2);
    assert_string_equal(p->tenants[1], "751");
    samspil__v1__principal__free_unpacked(p, NULL);
    free(packed);

    broker_key_t svc = s_key(SERVICE);
    assert_int_equal(broker_access_pack_principal(&svc, &packed, &size), 0);
    p = samspil__v1__principal__unpack(NULL, size, packed);
    assert_non_null(p);
    assert_int_equal(p->role, SERVICE);
    assert_true(p->all_tenants);
    assert_int_equal(p->n_tenants, 0);
    samspil__v1__principal__free_unpacked(p, NULL);
    free(packed);
}

static void test_local_endpoint(void **state)
{
    assert_true(broker_access_local_endpoint("ipc:///x/run/broker.ipc"));
    assert_true(broker_access_local_endpoint("ipc://@abstract"));
    assert_true(broker_access_local_endpoint("inproc://x"));
    assert_true(broker_access_local_endpoint("tcp://127.0.0.1:5555"));
    assert_true(broker_access_local_endpoint("tcp://127.1.2.3:1"));
    assert_true(broker_access_local_endpoint("tcp://localhost:5555"));
    assert_true(broker_access_local_endpoint("tcp://[::1]:5555"));
    assert_false(broker_access_local_endpoint("ipc://"));
    assert_false(broker_access_local_endpoint("tcp://*:5555"));
    assert_false(broker_access_local_endpoint("tcp://0.0.0.0:5555"));
    assert_false(broker_access_local_endpoint("tcp://10.0.0.1:5555"));
    assert_false(broker_access_local_endpoint("tcp://127.0.0.1.evil.example:5555"));
    assert_false(broker_access_local_endpoint("tcp://127.0.0.1"));
    assert_false(broker_access_local_endpoint("tcp://127.0.0.1:"));
    assert_false(broker_access_local_endpoint("tcp://eth0:5555"));
    assert_false(broker_access_local_endpoint("tcp://lo:5555"));
    assert_false(broker_access_local_endpoint("tcp://[::]:5555"));
    assert_false(broker_access_local_endpoint("tcp://127.0.0.1:1;10.0.0.1:2"));
    assert_false(broker_access_local_endpoint("pgm://127.0.0.1:5555"));
    assert_false(broker_access_local_endpoint(NULL));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_zap),
        cmocka_unit_test(test_register),
        cmocka_unit_test(test_subscribe),
        cmocka_unit_test(test_pack),
        cmocka_unit_test(test_local_endpoint),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
