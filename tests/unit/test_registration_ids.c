/*
 * test_registration_ids.c - unit tests for UUIDv7 ids.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "../../services/registration/registration_ids.h"
#include "sp_valid.h"

#include <string.h>

static void test_format(void **state)
{
    (void)state;
    /* RFC 9562 appendix A.6: 2022-02-22 19:22:22 UTC */
    const uint8_t rnd[10] = {0x0C, 0xC3, 0x18, 0xC4, 0xDC, 0x0C, 0x0C, 0x07, 0x39, 0x8F};
    char out[REGISTRATION_UUID_SIZE];
    registration_uuid_v7_format(0x017F22E279B0ULL, rnd, out);
    assert_string_equal(out, "017f22e2-79b0-7cc3-98c4-dc0c0c07398f");
}

static void test_generate(void **state)
{
    (void)state;
    char a[REGISTRATION_UUID_SIZE], b[REGISTRATION_UUID_SIZE];
    registration_uuid_v7(a);
    registration_uuid_v7(b);
    assert_int_equal(sp_valid_uuid(a, "id", NULL), 0);
    assert_int_equal(a[14], '7');
    assert_true(strchr("89ab", a[19]) != NULL);
    assert_string_not_equal(a, b);
    /* time-ordered: the first 48 bits never go backwards */
    assert_true(memcmp(a, b, 13) <= 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_format),
        cmocka_unit_test(test_generate),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
