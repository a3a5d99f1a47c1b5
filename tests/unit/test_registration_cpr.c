/*
 * test_registration_cpr.c - unit tests for CPR refs in registration
 * requests: each operation that stores or looks up an actor by external
 * ref has its "cpr:" ref replaced by the tenant's pseudonym (the same for
 * both spellings, another for another tenant); other refs and operations
 * are left alone; without a key the request is refused; stored pseudonyms
 * are shown masked.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "../../services/registration/registration_cpr.h"
#include "sp_crypto.h"

#include <stdlib.h>
#include <string.h>

#define OP(x) SAMSPIL__V1__REGISTRATION_REQUEST__OP_##x

static uint8_t s_key[SP_DATA_KEY_SIZE];

/* An actor_create request as unpack makes it: every string malloc'd. */
static Samspil__V1__RegistrationRequest *s_unpacked(Samspil__V1__RegistrationRequest__OpCase op,
                                                    const char *tenant, const char *ref)
{
    Samspil__V1__Actor a = SAMSPIL__V1__ACTOR__INIT;
    Samspil__V1__ActorCreate ac = SAMSPIL__V1__ACTOR_CREATE__INIT;
    Samspil__V1__ActorUpsert au = SAMSPIL__V1__ACTOR_UPSERT__INIT;
    Samspil__V1__ActorGet ag = SAMSPIL__V1__ACTOR_GET__INIT;
    Samspil__V1__PersonExport pe = SAMSPIL__V1__PERSON_EXPORT__INIT;
    Samspil__V1__PersonErase pr = SAMSPIL__V1__PERSON_ERASE__INIT;
    Samspil__V1__RegistrationRequest req = SAMSPIL__V1__REGISTRATION_REQUEST__INIT;
    a.kind = SAMSPIL__V1__ACTOR_KIND__ACTOR_KIND_CITIZEN;
    a.name = "Borger";
    a.external_ref = (char *)ref;
    ac.actor = &a;
    au.actor = &a;
    ag.external_ref = (char *)ref;
    pe.external_ref = (char *)ref;
    pr.external_ref = (char *)ref;
    req.tenant = (char *)tenant;
    req.op_case = op;
    switch (op) {
    case OP(ACTOR_CREATE):
        req.actor_create = &ac;
        break;
    case OP(ACTOR_UPSERT):
        req.actor_upsert = &au;
        break;
    case OP(ACTOR_GET):
        req.actor_get = &ag;
        break;
    case OP(PERSON_EXPORT):
        req.person_export = &pe;
        break;
    case OP(PERSON_ERASE):
        req.person_erase = &pr;
        break;
    default:
        break;
    }
    size_t len = samspil__v1__registration_request__get_packed_size(&req);
    uint8_t *buf = malloc(len);
    samspil__v1__registration_request__pack(&req, buf);
    Samspil__V1__RegistrationRequest *out =
        samspil__v1__registration_request__unpack(NULL, len, buf);
    free(buf);
    return out;
}

static const char *s_ref_of(Samspil__V1__RegistrationRequest *req)
{
    char **slot = registration_cpr_ref_slot(req);
    return slot ? *slot : NULL;
}

static void test_each_op(void **state)
{
    (void)state;
    const Samspil__V1__RegistrationRequest__OpCase ops[] = {
        OP(ACTOR_CREATE), OP(ACTOR_UPSERT), OP(ACTOR_GET), OP(PERSON_EXPORT), OP(PERSON_ERASE)};
    char want[REGISTRATION_CPR_REF_SIZE];
    assert_int_equal(registration_cpr_stored_ref(s_key, "751", "cpr:010190-1234", want), 0);
    assert_true(strncmp(want, "cpr-hmac:", 9) == 0);
    assert_int_equal(strlen(want), 73);
    for (size_t i = 0; i < sizeof ops / sizeof ops[0]; i++) {
        Samspil__V1__RegistrationRequest *req = s_unpacked(ops[i], "751", "cpr:010190-1234");
        sp_error_t err;
        sp_error_clear(&err);
        assert_int_equal(registration_cpr_pseudonymise(req, s_key, &err), 0);
        assert_string_equal(s_ref_of(req), want);
        samspil__v1__registration_request__free_unpacked(req, NULL);
    }
}

static void test_same_number_same_pseudonym(void **state)
{
    (void)state;
    char a[REGISTRATION_CPR_REF_SIZE], b[REGISTRATION_CPR_REF_SIZE], c[REGISTRATION_CPR_REF_SIZE];
    assert_int_equal(registration_cpr_stored_ref(s_key, "751", "cpr:010190-1234", a), 0);
    assert_int_equal(registration_cpr_stored_ref(s_key, "751", "cpr:0101901234", b), 0);
    assert_string_equal(a, b);
    assert_int_equal(registration_cpr_stored_ref(s_key, "101", "cpr:010190-1234", c), 0);
    assert_string_not_equal(a, c);
    /* the pseudonym is sp_cpr_pseudonym's */
    char cpr[SP_CPR_SIZE], hex[SP_PSEUDONYM_HEX];
    sp_cpr_parse("010190-1234", cpr);
    sp_cpr_pseudonym(s_key, "751", cpr, hex);
    assert_string_equal(a + 9, hex);
    /* not a CPR ref, or not a valid one */
    assert_int_equal(registration_cpr_stored_ref(s_key, "751", "sag:1", a), -1);
    assert_string_equal(a, "");
    assert_int_equal(registration_cpr_stored_ref(s_key, "751", "cpr:320190-1234", a), -1);
    assert_int_equal(registration_cpr_stored_ref(NULL, "751", "cpr:010190-1234", a), -1);
}

static void test_other_refs_untouched(void **state)
{
    (void)state;
    sp_error_t err;
    Samspil__V1__RegistrationRequest *req = s_unpacked(OP(ACTOR_CREATE), "751", "sag:0101901234");
    assert_int_equal(registration_cpr_pseudonymise(req, s_key, &err), 0);
    assert_string_equal(s_ref_of(req), "sag:0101901234");
    samspil__v1__registration_request__free_unpacked(req, NULL);
    req = s_unpacked(OP(ACTOR_CREATE), "751", "");
    assert_int_equal(registration_cpr_pseudonymise(req, s_key, &err), 0);
    assert_string_equal(s_ref_of(req), "");
    samspil__v1__registration_request__free_unpacked(req, NULL);
    /* an operation without an actor ref */
    Samspil__V1__RegistrationRequest list = SAMSPIL__V1__REGISTRATION_REQUEST__INIT;
    Samspil__V1__ActorList al = SAMSPIL__V1__ACTOR_LIST__INIT;
    list.op_case = OP(ACTOR_LIST);
    list.actor_list = &al;
    assert_null(registration_cpr_ref_slot(&list));
    assert_int_equal(registration_cpr_pseudonymise(&list, s_key, &err), 0);
}

static void test_no_key(void **state)
{
    (void)state;
    sp_error_t err;
    sp_error_clear(&err);
    Samspil__V1__RegistrationRequest *req = s_unpacked(OP(ACTOR_UPSERT), "751", "cpr:010190-1234");
    assert_int_equal(registration_cpr_pseudonymise(req, NULL, &err), -1);
    assert_int_equal(err.code, SP_INTERNAL);
    assert_null(strstr(err.message, "0101"));
    samspil__v1__registration_request__free_unpacked(req, NULL);
}

static void test_display(void **state)
{
    (void)state;
    assert_string_equal(registration_cpr_display("cpr-hmac:abc"), "cpr:**********");
    assert_string_equal(registration_cpr_display("sag:1"), "sag:1");
    assert_string_equal(registration_cpr_display(""), "");
    assert_string_equal(registration_cpr_display(NULL), "");
    assert_true(registration_cpr_is_pseudonym("cpr-hmac:abc"));
    assert_false(registration_cpr_is_pseudonym("cpr:010190-1234"));
    assert_false(registration_cpr_is_pseudonym(NULL));
}

int main(void)
{
    for (int i = 0; i < SP_DATA_KEY_SIZE; i++)
        s_key[i] = (uint8_t)(0x40 + i);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_each_op),
        cmocka_unit_test(test_same_number_same_pseudonym),
        cmocka_unit_test(test_other_refs_untouched),
        cmocka_unit_test(test_no_key),
        cmocka_unit_test(test_display),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
