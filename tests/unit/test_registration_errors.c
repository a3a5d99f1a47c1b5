/*
 * test_registration_errors.c - unit tests for mapping database failures
 * (SQLSTATE + constraint) to client errors.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "../../services/registration/registration_errors.h"

#include <string.h>

#define UUID "6f1d2c3b-5a4e-4d3c-9b2a-0123456789ab"

static const registration_value_t s_values[] = {
    {"tenant", "751"},
    {"idempotency_key", "k-1"},
    {"membership.actor_id", UUID},
    {"membership.partnership_id", "11111111-1111-1111-1111-111111111111"},
    {"actor.organisation_id", "22222222-2222-2222-2222-222222222222"},
    {"actor.external_ref", "sag:42"},
    {"actor.id", UUID},
    {"ended_on", "2020-01-01"},
};
#define NV (sizeof s_values / sizeof s_values[0])

static sp_error_t s_map(const char *state, const char *constraint, bool conn, const char *op)
{
    sp_error_t err;
    sp_error_clear(&err);
    sp_error_code_t code = registration_db_error(state, constraint, conn, op, s_values, NV, &err);
    assert_int_equal(code, err.code);
    return err;
}

/* An erased actor's personal fields cannot be set again (003_privacy). */
static void test_erased(void **state)
{
    (void)state;
    sp_error_t e = s_map("23514", "actors_erased", false, "actor_update");
    assert_int_equal(e.code, SP_FAILED_PRECONDITION);
    assert_string_equal(e.field, "actor_update.actor.id");
    assert_string_equal(e.message, "actor \"" UUID "\" was erased: its personal fields cannot be "
                                   "set again");
}

static void test_foreign_keys(void **state)
{
    (void)state;
    sp_error_t e = s_map("23503", "memberships_actor_fk", false, "member_add");
    assert_int_equal(e.code, SP_NOT_FOUND);
    assert_string_equal(e.field, "member_add.membership.actor_id");
    assert_string_equal(e.message, "unknown actor \"" UUID "\"");

    e = s_map("23503", "memberships_partnership_fk", false, "member_add");
    assert_int_equal(e.code, SP_NOT_FOUND);
    assert_string_equal(e.field, "member_add.membership.partnership_id");
    assert_non_null(strstr(e.message, "unknown partnership \"1111"));

    e = s_map("23503", "actors_organisation_fk", false, "actor_create");
    assert_int_equal(e.code, SP_NOT_FOUND);
    assert_string_equal(e.field, "actor_create.actor.organisation_id");
    assert_non_null(strstr(e.message, "unknown organisation \"2222"));

    e = s_map("23503", "consents_tenant_fk", false, "consent_record");
    assert_int_equal(e.code, SP_NOT_FOUND);
    assert_string_equal(e.field, "tenant");
    assert_string_equal(e.message, "unknown tenant \"751\"");

    e = s_map("23503", "some_new_fk", false, "actor_create");
    assert_int_equal(e.code, SP_NOT_FOUND);
    assert_string_equal(e.field, "");
}

static void test_unique_and_checks(void **state)
{
    (void)state;
    sp_error_t e = s_map("23505", "actors_external_ref_key", false, "actor_update");
    assert_int_equal(e.code, SP_ALREADY_EXISTS);
    assert_string_equal(e.field, "actor_update.actor.external_ref");
    assert_non_null(strstr(e.message, "\"sag:42\""));

    e = s_map("23505", "actors_idempotency_key_key", false, "actor_create");
    assert_int_equal(e.code, SP_FAILED_PRECONDITION);
    assert_string_equal(e.field, "idempotency_key");
    assert_non_null(strstr(e.message, "\"k-1\""));

    e = s_map("23505", "unknown_key", false, "actor_create");
    assert_int_equal(e.code, SP_ALREADY_EXISTS);
    assert_non_null(strstr(e.message, "unknown_key"));

    e = s_map("23514", "memberships_ended_after_joined", false, "member_end");
    assert_int_equal(e.code, SP_INVALID_ARGUMENT);
    assert_string_equal(e.field, "member_end.ended_on");
    assert_non_null(strstr(e.message, "\"2020-01-01\""));

    e = s_map("23514", "actors_sector_only_organisations", false, "actor_update");
    assert_int_equal(e.code, SP_INVALID_ARGUMENT);
    assert_string_equal(e.field, "actor_update.actor.sector");

    e = s_map("23514", "actors_name_length", false, "actor_update");
    assert_int_equal(e.code, SP_INVALID_ARGUMENT);
    assert_non_null(strstr(e.message, "actors_name_length"));

    e = s_map("23502", NULL, false, "actor_update");
    assert_int_equal(e.code, SP_INVALID_ARGUMENT);
}

static void test_classes(void **state)
{
    (void)state;
    /* a privilege or row-level security fault of the service itself (unknown
     * tenants are answered before errors are mapped): internal, no field,
     * and nothing of the request or the server's message in the text */
    sp_error_t e = s_map("42501", NULL, false, "actor_create");
    assert_int_equal(e.code, SP_INTERNAL);
    assert_string_equal(e.field, "");
    assert_null(strstr(e.message, "751"));
    assert_null(strstr(e.message, "tenant"));
    e = s_map("42501", "actors_pkey", false, "actor_create");
    assert_int_equal(e.code, SP_INTERNAL);

    const char *unavailable[] = {"08006", "08001", "57P01", "57P03", "53300",
                                 "40001", "40P01", "57014", "55P03"};
    for (size_t i = 0; i < sizeof unavailable / sizeof unavailable[0]; i++) {
        e = s_map(unavailable[i], NULL, false, "actor_get");
        assert_int_equal(e.code, SP_UNAVAILABLE);
    }
    e = s_map("XX000", NULL, true, "actor_get");
    assert_int_equal(e.code, SP_UNAVAILABLE);

    e = s_map("22008", NULL, false, "member_end");
    assert_int_equal(e.code, SP_INVALID_ARGUMENT);

    e = s_map("42P01", NULL, false, "actor_get"); /* undefined table: a bug or no migration */
    assert_int_equal(e.code, SP_INTERNAL);
    assert_null(strstr(e.message, "42P01"));
    e = s_map(NULL, NULL, false, "actor_get");
    assert_int_equal(e.code, SP_INTERNAL);
}

static void test_missing_value(void **state)
{
    (void)state;
    sp_error_t err;
    sp_error_clear(&err);
    registration_db_error("23503", "relations_from_fk", false, "relation_add", NULL, 0, &err);
    assert_int_equal(err.code, SP_NOT_FOUND);
    assert_string_equal(err.field, "relation_add.relation.from_actor_id");
    assert_string_equal(err.message, "unknown actor \"\"");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_foreign_keys),      cmocka_unit_test(test_erased),
        cmocka_unit_test(test_unique_and_checks), cmocka_unit_test(test_classes),
        cmocka_unit_test(test_missing_value),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
