/*
 * test_sp_valid.c - unit tests for the request value validators and the
 * municipality table.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "sp_municipality.h"
#include "sp_valid.h"

#include <stdio.h>
#include <string.h>

typedef int(validator_fn)(const char *, const char *, sp_error_t *);

static void s_good(validator_fn *fn, const char *value)
{
    sp_error_t err;
    sp_error_clear(&err);
    if (fn(value, "x.f", &err) != 0)
        fail_msg("expected \"%s\" to pass, got: %s", value, err.message);
    assert_false(sp_error_is_set(&err));
}

static void s_bad(validator_fn *fn, const char *value, const char *want_in_message)
{
    sp_error_t err;
    sp_error_clear(&err);
    if (fn(value, "x.f", &err) != -1)
        fail_msg("expected \"%s\" to fail", value ? value : "(null)");
    assert_int_equal(err.code, SP_INVALID_ARGUMENT);
    assert_string_equal(err.field, "x.f");
    if (want_in_message && !strstr(err.message, want_in_message))
        fail_msg("message \"%s\" lacks \"%s\"", err.message, want_in_message);
    /* a NULL error pointer is allowed */
    assert_int_equal(fn(value, "x.f", NULL), -1);
}

static void test_municipality_table(void **state)
{
    (void)state;
    assert_int_equal(sp_municipality_count(), 98);
    for (size_t i = 1; i < sp_municipality_count(); i++)
        assert_true(strcmp(sp_municipality_at(i - 1)->code, sp_municipality_at(i)->code) < 0);
    assert_null(sp_municipality_at(98));
    assert_string_equal(sp_municipality_find("751")->name, "Aarhus");
    assert_string_equal(sp_municipality_find("101")->name, "København");
    assert_string_equal(sp_municipality_find("860")->name, "Hjørring");
    assert_non_null(sp_municipality_find("740"));
    assert_null(sp_municipality_find("411")); /* Christiansø: not a municipality */
    assert_null(sp_municipality_find("999"));
    assert_null(sp_municipality_find("0751"));
    assert_null(sp_municipality_find(""));
    assert_null(sp_municipality_find(NULL));
}

static void test_municipality(void **state)
{
    (void)state;
    s_good(sp_valid_municipality, "101");
    s_good(sp_valid_municipality, "751");
    s_good(sp_valid_municipality, "492");
    s_bad(sp_valid_municipality, "07x1",
          "invalid municipality code \"07x1\": expected one of Denmark's 3-digit municipality "
          "codes");
    s_bad(sp_valid_municipality, "999", "\"999\"");
    s_bad(sp_valid_municipality, "", "\"\"");
    s_bad(sp_valid_municipality, NULL, "\"\"");
    s_bad(sp_valid_municipality, "75", NULL);
    s_bad(sp_valid_municipality, "7511", NULL);
    s_bad(sp_valid_municipality, " 751", NULL);
    assert_true(sp_valid_is_three_digits("999"));
    assert_false(sp_valid_is_three_digits("99"));
    assert_false(sp_valid_is_three_digits("9a9"));
    assert_false(sp_valid_is_three_digits(NULL));
}

static void test_uuid(void **state)
{
    (void)state;
    s_good(sp_valid_uuid, "123e4567-e89b-12d3-a456-426614174000");
    s_good(sp_valid_uuid, "123E4567-E89B-12D3-A456-426614174000");
    s_bad(sp_valid_uuid, "abc", "invalid f \"abc\": expected a UUID");
    s_bad(sp_valid_uuid, "", NULL);
    s_bad(sp_valid_uuid, "123e4567e89b12d3a456426614174000", NULL);
    s_bad(sp_valid_uuid, "123e4567-e89b-12d3-a456-42661417400g", NULL);
    s_bad(sp_valid_uuid, "123e4567-e89b-12d3-a456-4266141740000", NULL);
    s_bad(sp_valid_uuid, "{123e4567-e89b-12d3-a456-426614174000}", NULL);
    sp_error_t err;
    sp_valid_uuid("abc", "actor_get.id", &err);
    assert_string_equal(err.message, "invalid id \"abc\": expected a UUID");
}

static void test_utf8(void **state)
{
    (void)state;
    size_t n = 0;
    assert_true(sp_utf8_valid("Søren Æbelø", strlen("Søren Æbelø"), &n));
    assert_int_equal(n, 11);
    assert_true(sp_utf8_valid("\xF0\x9F\x98\x80", 4, &n)); /* U+1F600 */
    assert_int_equal(n, 1);
    assert_true(sp_utf8_valid("\xF4\x8F\xBF\xBF", 4, NULL));  /* U+10FFFF */
    assert_false(sp_utf8_valid("\xF4\x90\x80\x80", 4, NULL)); /* > U+10FFFF */
    assert_false(sp_utf8_valid("\xC0\xAF", 2, NULL));         /* overlong '/' */
    assert_false(sp_utf8_valid("\xE0\x80\xAF", 3, NULL));     /* overlong */
    assert_false(sp_utf8_valid("\xED\xA0\x80", 3, NULL));     /* surrogate */
    assert_false(sp_utf8_valid("\x80", 1, NULL));             /* lone continuation */
    assert_false(sp_utf8_valid("\xC3", 1, NULL));             /* truncated */
    assert_false(sp_utf8_valid("\xE2\x82", 2, NULL));         /* truncated */
    assert_false(sp_utf8_valid("\xFF", 1, NULL));
    assert_true(sp_utf8_valid("", 0, &n));
    assert_int_equal(n, 0);
}

static void test_name(void **state)
{
    (void)state;
    char buf[1024];
    s_good(sp_valid_name, "Ida");
    s_good(sp_valid_name, "Søren Ærø-Kierkegård");
    s_good(sp_valid_name, "a");
    s_bad(sp_valid_name, "", "f must not be empty");
    s_bad(sp_valid_name, NULL, "must not be empty");
    s_bad(sp_valid_name, "   ", "must not be empty");
    s_bad(sp_valid_name, "a\nb", "control characters");
    s_bad(sp_valid_name, "a\tb", "control characters");
    s_bad(sp_valid_name, "a\x7f", "control characters");
    s_bad(sp_valid_name, "a\xC2\x85", "control characters");     /* C1 NEL */
    s_bad(sp_valid_name, "a\xE2\x80\xAE", "control characters"); /* RLO */
    s_bad(sp_valid_name, "a\xC3", "not valid UTF-8");
    /* 200 two-byte characters pass, 201 fail; counts are characters, not bytes */
    buf[0] = '\0';
    for (int i = 0; i < 200; i++)
        strcat(buf, "ø");
    s_good(sp_valid_name, buf);
    strcat(buf, "ø");
    s_bad(sp_valid_name, buf, "f is too long (201 characters; at most 200)");
    memset(buf, 'a', 250);
    buf[250] = '\0';
    sp_error_t err;
    sp_valid_name(buf, "actor_create.actor.name", &err);
    assert_non_null(strstr(err.message, "name is too long (250 characters; at most 200): \"aaaa"));
    assert_non_null(strstr(err.message, "...\""));
    assert_string_equal(err.field, "actor_create.actor.name");
    assert_null(strstr(err.message, buf)); /* never echoed whole */
}

static int s_text_multiline(const char *v, const char *f, sp_error_t *e)
{
    return sp_valid_text(v, 0, 10, SP_VALID_MULTILINE, f, e);
}

static void test_text(void **state)
{
    (void)state;
    s_good(s_text_multiline, "");
    s_good(s_text_multiline, "a\nb\tc\r\n");
    s_good(s_text_multiline, "ååååååååøø");
    s_bad(s_text_multiline, "ååååååååøøæ", "too long (11 characters; at most 10)");
    s_bad(s_text_multiline, "a\x01", "U+0001");
}

static void test_tag(void **state)
{
    (void)state;
    s_good(sp_valid_tag, "skole");
    s_good(sp_valid_tag, "easy_read");
    s_good(sp_valid_tag, "step-free");
    s_good(sp_valid_tag, "a");
    s_good(sp_valid_tag, "0123456789012345678901234567890123456789"); /* 40 */
    s_bad(sp_valid_tag, "01234567890123456789012345678901234567890", NULL);
    s_bad(sp_valid_tag, "", NULL);
    s_bad(sp_valid_tag, "Skole", "invalid tag in f \"Skole\"");
    s_bad(sp_valid_tag, "boligområde", "ae, oe, aa");
    s_bad(sp_valid_tag, "two words", NULL);
    s_bad(sp_valid_tag, "a,b", NULL);
}

static void test_external_ref(void **state)
{
    (void)state;
    s_good(sp_valid_external_ref, "sbsys:12345");
    s_good(sp_valid_external_ref, "kmd.nexus:A-1:2"); /* the id may contain ':' */
    s_good(sp_valid_external_ref, "a:b");
    s_bad(sp_valid_external_ref, "nocolon", "invalid external ref \"nocolon\"");
    s_bad(sp_valid_external_ref, ":123", NULL);
    s_bad(sp_valid_external_ref, "sys:", NULL);
    s_bad(sp_valid_external_ref, "Sys:1", NULL);
    s_bad(sp_valid_external_ref, "sys:a b", NULL);
    s_bad(sp_valid_external_ref, "sys:æ", NULL);
    s_bad(sp_valid_external_ref, "", NULL);
    char buf[200];
    memset(buf, 's', 40);
    buf[40] = ':';
    memset(buf + 41, 'i', 100);
    buf[141] = '\0';
    s_good(sp_valid_external_ref, buf);
    buf[141] = 'i';
    buf[142] = '\0';
    s_bad(sp_valid_external_ref, buf, NULL);
    memset(buf, 's', 41);
    buf[41] = ':';
    buf[42] = '1';
    buf[43] = '\0';
    s_bad(sp_valid_external_ref, buf, NULL);
}

static void test_date(void **state)
{
    (void)state;
    s_good(sp_valid_date, "2026-01-31");
    s_good(sp_valid_date, "2024-02-29");
    s_good(sp_valid_date, "2000-02-29");
    s_good(sp_valid_date, "0001-01-01");
    s_bad(sp_valid_date, "2025-02-29", "invalid f \"2025-02-29\": expected a calendar date");
    s_bad(sp_valid_date, "1900-02-29", NULL);
    s_bad(sp_valid_date, "2026-04-31", NULL);
    s_bad(sp_valid_date, "2026-13-01", NULL);
    s_bad(sp_valid_date, "2026-00-10", NULL);
    s_bad(sp_valid_date, "2026-01-00", NULL);
    s_bad(sp_valid_date, "0000-01-01", NULL);
    s_bad(sp_valid_date, "2026-1-01", NULL);
    s_bad(sp_valid_date, "2026/01/01", NULL);
    s_bad(sp_valid_date, "2026-01-011", NULL);
    s_bad(sp_valid_date, "", NULL);
}

static void test_timestamp(void **state)
{
    (void)state;
    s_good(sp_valid_timestamp, "2026-01-31T12:00:00Z");
    s_good(sp_valid_timestamp, "2026-01-31t12:00:00.123456z");
    s_good(sp_valid_timestamp, "2026-01-31T23:59:59+01:00");
    s_good(sp_valid_timestamp, "2026-01-31T00:00:00.1-05:30");
    s_bad(sp_valid_timestamp, "2026-01-31T24:00:00Z", NULL);
    s_bad(sp_valid_timestamp, "2026-01-31T12:00:00", NULL);
    s_bad(sp_valid_timestamp, "2026-01-31 12:00:00Z", NULL);
    s_bad(sp_valid_timestamp, "2026-01-31T12:00:00.Z", NULL);
    s_bad(sp_valid_timestamp, "2026-01-31T12:00:00+0100", NULL);
    s_bad(sp_valid_timestamp, "2026-02-30T12:00:00Z", NULL);
    s_bad(sp_valid_timestamp, "2026-01-31T12:00:00Zjunk", NULL);
}

static void test_language(void **state)
{
    (void)state;
    s_good(sp_valid_language, "da");
    s_good(sp_valid_language, "en");
    s_good(sp_valid_language, "da-easy");
    s_good(sp_valid_language, "ara");
    s_good(sp_valid_language, "zh-hant-tw");
    s_bad(sp_valid_language, "", NULL);
    s_bad(sp_valid_language, "d", NULL);
    s_bad(sp_valid_language, "dansk", NULL);
    s_bad(sp_valid_language, "DA", "invalid language tag \"DA\"");
    s_bad(sp_valid_language, "da-", NULL);
    s_bad(sp_valid_language, "da-x", NULL);
    s_bad(sp_valid_language, "da-easyreads", NULL);
    s_bad(sp_valid_language, "da_easy", NULL);
}

static void test_email(void **state)
{
    (void)state;
    s_good(sp_valid_email, "ida@example.dk");
    s_good(sp_valid_email, "ida.hansen+samspil@aarhus.dk");
    s_good(sp_valid_email, "søren@ærø.dk");
    s_bad(sp_valid_email, "", NULL);
    s_bad(sp_valid_email, "ida", "invalid e-mail address \"ida\"");
    s_bad(sp_valid_email, "ida@", NULL);
    s_bad(sp_valid_email, "@example.dk", NULL);
    s_bad(sp_valid_email, "ida@localhost", NULL);
    s_bad(sp_valid_email, "ida hansen@example.dk", NULL);
    s_bad(sp_valid_email, "ida@example..dk", NULL);
    s_bad(sp_valid_email, "ida@-example.dk", NULL);
    s_bad(sp_valid_email, "ida..h@example.dk", NULL);
    s_bad(sp_valid_email, ".ida@example.dk", NULL);
    s_bad(sp_valid_email, "ida@exa_mple.dk", NULL);
}

static void test_phone(void **state)
{
    (void)state;
    s_good(sp_valid_phone, "+4512345678");
    s_good(sp_valid_phone, "12345678");
    s_good(sp_valid_phone, "+123456789012345");
    s_bad(sp_valid_phone, "+1234567890123456", NULL); /* 16 digits */
    s_bad(sp_valid_phone, "+1234567", NULL);          /* 7 digits */
    s_bad(sp_valid_phone, "+0512345678", NULL);
    s_bad(sp_valid_phone, "1234567", NULL);
    s_bad(sp_valid_phone, "123456789", NULL);
    s_bad(sp_valid_phone, "12 34 56 78", "invalid phone number \"12 34 56 78\"");
    s_bad(sp_valid_phone, "", NULL);
}

static void test_idempotency_key(void **state)
{
    (void)state;
    char buf[128];
    s_good(sp_valid_idempotency_key, "k1");
    s_good(sp_valid_idempotency_key, "req 2026-01-31/001");
    memset(buf, 'k', 100);
    buf[100] = '\0';
    s_good(sp_valid_idempotency_key, buf);
    buf[100] = 'k';
    buf[101] = '\0';
    s_bad(sp_valid_idempotency_key, buf, NULL);
    s_bad(sp_valid_idempotency_key, "", NULL);
    s_bad(sp_valid_idempotency_key, "æ", NULL);
    s_bad(sp_valid_idempotency_key, "a\tb", NULL);
}

static void test_label(void **state)
{
    (void)state;
    assert_string_equal(sp_valid_label("a.b.name"), "name");
    assert_string_equal(sp_valid_label("tenant"), "tenant");
    assert_string_equal(sp_valid_label(NULL), "");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_municipality_table),
        cmocka_unit_test(test_municipality),
        cmocka_unit_test(test_uuid),
        cmocka_unit_test(test_utf8),
        cmocka_unit_test(test_name),
        cmocka_unit_test(test_text),
        cmocka_unit_test(test_tag),
        cmocka_unit_test(test_external_ref),
        cmocka_unit_test(test_date),
        cmocka_unit_test(test_timestamp),
        cmocka_unit_test(test_language),
        cmocka_unit_test(test_email),
        cmocka_unit_test(test_phone),
        cmocka_unit_test(test_idempotency_key),
        cmocka_unit_test(test_label),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
