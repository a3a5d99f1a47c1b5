/*
 * test_registration_pgtext.c - unit tests for the request arena and the
 * PostgreSQL array text parser.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "../../services/registration/registration_pgtext.h"

#include <string.h>

static void test_arena(void **state)
{
    (void)state;
    registration_arena_t a;
    registration_arena_init(&a);
    char *p = registration_arena_alloc(&a, 10);
    assert_non_null(p);
    assert_int_equal(((uintptr_t)p) % 16, 0);
    for (int i = 0; i < 10; i++)
        assert_int_equal(p[i], 0);
    void *big = registration_arena_alloc(&a, 100000); /* larger than a block */
    memset(big, 1, 100000);
    for (int i = 0; i < 2000; i++)
        registration_arena_alloc(&a, 33);
    assert_string_equal(registration_arena_strndup(&a, "hello world", 5), "hello");
    registration_arena_free(&a);
    assert_null(a.head);
    registration_arena_free(&a); /* idempotent */
}

static void s_expect(const char *text, size_t n, const char *const *want)
{
    registration_arena_t a;
    registration_arena_init(&a);
    char **items;
    size_t got;
    if (registration_pg_array(&a, text, &items, &got) != 0)
        fail_msg("parse failed: %s", text);
    assert_int_equal(got, n);
    for (size_t i = 0; i < n; i++) {
        if (!want[i])
            assert_null(items[i]);
        else
            assert_string_equal(items[i], want[i]);
    }
    registration_arena_free(&a);
}

static void test_arrays(void **state)
{
    (void)state;
    s_expect("{}", 0, NULL);
    s_expect("{skole}", 1, (const char *[]){"skole"});
    s_expect("{skole,boligomraade,easy_read}", 3,
             (const char *[]){"skole", "boligomraade", "easy_read"});
    s_expect("{\"a b\",\"c,d\",\"e\\\"f\",\"g\\\\h\"}", 4,
             (const char *[]){"a b", "c,d", "e\"f", "g\\h"});
    s_expect("{NULL,\"NULL\",null}", 3, (const char *[]){NULL, "NULL", NULL});
    s_expect("{\"\"}", 1, (const char *[]){""});
    s_expect("{\"email:1:ida@example.dk\",\"postal:0:Gudrunsvej 1,\n8220 Brabrand\"}", 2,
             (const char *[]){"email:1:ida@example.dk", "postal:0:Gudrunsvej 1,\n8220 Brabrand"});
    s_expect("{ø,Åse}", 2, (const char *[]){"ø", "Åse"});
}

static void test_bad_arrays(void **state)
{
    (void)state;
    const char *bad[] = {"",     "skole", "{",    "{a",     "{a,}",
                         "{,a}", "{\"a}", "{a}x", "{a\"b}", "{{a}}"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        registration_arena_t a;
        registration_arena_init(&a);
        char **items;
        size_t n;
        if (registration_pg_array(&a, bad[i], &items, &n) != -1)
            fail_msg("accepted: %s", bad[i]);
        registration_arena_free(&a);
    }
    registration_arena_t a;
    registration_arena_init(&a);
    char **items;
    size_t n;
    assert_int_equal(registration_pg_array(&a, NULL, &items, &n), -1);
    registration_arena_free(&a);
}

static void test_bool(void **state)
{
    (void)state;
    assert_true(registration_pg_bool("t"));
    assert_true(registration_pg_bool("true"));
    assert_false(registration_pg_bool("f"));
    assert_false(registration_pg_bool(""));
    assert_false(registration_pg_bool(NULL));
}

/* Array parameters built element by element read back the same. */
static void test_array_builder(void **state)
{
    (void)state;
    sp_buf_t b;
    sp_buf_init(&b);
    assert_string_equal(registration_pg_array_end(&b), "{}");
    sp_buf_free(&b);
    sp_buf_init(&b);
    registration_pg_array_append(&b, "v1.2.AB+/=");
    registration_pg_array_append(&b, NULL);
    registration_pg_array_append(&b, "a \"quoted\" \\x0a, {b}");
    registration_pg_array_append(&b, "");
    const char *text = registration_pg_array_end(&b);
    assert_string_equal(text, "{\"v1.2.AB+/=\",NULL,\"a \\\"quoted\\\" \\\\x0a, {b}\",\"\"}");
    registration_arena_t a;
    registration_arena_init(&a);
    char **items;
    size_t n;
    assert_int_equal(registration_pg_array(&a, text, &items, &n), 0);
    assert_int_equal(n, 4);
    assert_string_equal(items[0], "v1.2.AB+/=");
    assert_null(items[1]);
    assert_string_equal(items[2], "a \"quoted\" \\x0a, {b}");
    assert_string_equal(items[3], "");
    registration_arena_free(&a);
    sp_buf_free(&b);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_arena),         cmocka_unit_test(test_arrays),
        cmocka_unit_test(test_bad_arrays),    cmocka_unit_test(test_bool),
        cmocka_unit_test(test_array_builder),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
