/*
 * test_sp_error.c - sp_error: texts sent to clients are valid UTF-8 (invalid
 * bytes and, in quoted values, control characters become '?'), and are cut
 * only between characters, with "...".
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>

#include <cmocka.h>

#include "sp_error.h"
#include "sp_valid.h"

#include <string.h>

static bool s_valid(const char *s)
{
    return sp_utf8_valid(s, strlen(s), NULL);
}

static void test_quote_invalid_bytes_replaced(void **state)
{
    (void)state;
    char out[64];
    /* lone lead byte, stray continuation byte, invalid lead */
    assert_string_equal(sp_error_quote("a\xc3(b\x80"
                                       "c\xff",
                                       60, out, sizeof out),
                        "a?(b?c?");
    /* overlong '/', a UTF-16 surrogate, beyond U+10FFFF */
    assert_string_equal(
        sp_error_quote("\xc0\xaf|\xed\xa0\x80|\xf4\x90\x80\x80", 60, out, sizeof out),
        "??|???|????");
    /* a sequence cut short by the end of the string */
    assert_string_equal(sp_error_quote("x\xf0\x9f\x98", 60, out, sizeof out), "x???");
    assert_true(s_valid(out));
}

static void test_quote_valid_utf8_kept(void **state)
{
    (void)state;
    char out[64];
    const char *text =
        "\xc3\x85rhus \xc3\xb8 \xe2\x82\xac \xe6\x97\xa5\xe6\x9c\xac \xf0\x9f\x98\x80";
    assert_string_equal(sp_error_quote(text, 60, out, sizeof out), text);
    assert_string_equal(sp_error_quote("", 60, out, sizeof out), "");
    assert_string_equal(sp_error_quote(NULL, 60, out, sizeof out), "");
}

static void test_quote_cut_on_boundary(void **state)
{
    (void)state;
    char out[64];
    /* "æææ" is 6 bytes: 3 bytes take one character, not one and a half */
    assert_string_equal(sp_error_quote("\xc3\xa6\xc3\xa6\xc3\xa6", 3, out, sizeof out),
                        "\xc3\xa6...");
    /* a 4-byte character that does not fit is left out whole */
    assert_string_equal(sp_error_quote("ab\xf0\x9f\x98\x80z", 5, out, sizeof out), "ab...");
    /* exactly max bytes: nothing cut, no "..." */
    assert_string_equal(sp_error_quote("abc", 3, out, sizeof out), "abc");
    assert_string_equal(sp_error_quote("abcd", 3, out, sizeof out), "abc...");
    /* a small output buffer cuts too, still on a boundary and with "..." */
    char small[6];
    assert_string_equal(sp_error_quote("\xc3\xa6\xc3\xa6\xc3\xa6", 60, small, sizeof small),
                        "\xc3\xa6...");
}

static void test_quote_controls_replaced(void **state)
{
    (void)state;
    char out[64];
    assert_string_equal(sp_error_quote("a\tb\nc\rd\x7f"
                                       "e\x1b[0m",
                                       60, out, sizeof out),
                        "a?b?c?d?e?[0m");
    /* C1 (U+0085) and a right-to-left override (U+202E) */
    assert_string_equal(sp_error_quote("x\xc2\x85y\xe2\x80\xaez", 60, out, sizeof out), "x?y?z");
    /* U+00A0 is not a control character */
    assert_string_equal(sp_error_quote("x\xc2\xa0y", 60, out, sizeof out), "x\xc2\xa0y");
}

static void test_set_long_message_cut_on_boundary(void **state)
{
    (void)state;
    sp_error_t err;
    char text[1024];
    /* one ASCII byte, then 3-byte characters: every byte offset is tried by
     * shifting the start */
    for (int shift = 0; shift < 3; shift++) {
        size_t o = 0;
        for (int i = 0; i < shift; i++)
            text[o++] = 'x';
        while (o + 3 < sizeof text) {
            memcpy(text + o, "\xe2\x82\xac", 3);
            o += 3;
        }
        text[o] = '\0';
        assert_int_equal(sp_error_set(&err, SP_INVALID_ARGUMENT, "name", "value %s", text), -1);
        size_t len = strlen(err.message);
        assert_true(len < sizeof err.message);
        assert_true(len > sizeof err.message - 8);
        assert_true(s_valid(err.message));
        assert_string_equal(err.message + len - 3, "...");
        assert_int_equal(strncmp(err.message, "value ", 6), 0);
    }
    /* a message that fits exactly is kept whole */
    memset(text, 'a', sizeof err.message - 1);
    text[sizeof err.message - 1] = '\0';
    sp_error_set(&err, SP_INTERNAL, NULL, "%s", text);
    assert_string_equal(err.message, text);
    assert_string_equal(err.field, "");
}

static void test_set_and_from_pb_replace_invalid(void **state)
{
    (void)state;
    sp_error_t err;
    sp_error_set(&err, SP_NOT_FOUND, "actor.\xff", "no actor \"%s\"",
                 "b\xe9"
                 "d");
    assert_int_equal(err.code, SP_NOT_FOUND);
    assert_string_equal(err.message, "no actor \"b?d\"");
    assert_string_equal(err.field, "actor.?");

    /* what a server sent is made valid too, and cut on a boundary */
    char field[100];
    memset(field, 'f', sizeof field);
    memcpy(field + 60, "\xc3\xa6", 2);
    field[sizeof field - 1] = '\0';
    Samspil__V1__Error pb;
    samspil__v1__error__init(&pb);
    pb.code = SP_UNAVAILABLE;
    pb.message = "down \xc3";
    pb.field = field;
    sp_error_from_pb(&pb, &err);
    assert_int_equal(err.code, SP_UNAVAILABLE);
    assert_string_equal(err.message, "down ?");
    assert_true(s_valid(err.field));
    assert_int_equal(strlen(err.field), 60 + 3);
    assert_string_equal(err.field + 60, "...");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_quote_invalid_bytes_replaced),
        cmocka_unit_test(test_quote_valid_utf8_kept),
        cmocka_unit_test(test_quote_cut_on_boundary),
        cmocka_unit_test(test_quote_controls_replaced),
        cmocka_unit_test(test_set_long_message_cut_on_boundary),
        cmocka_unit_test(test_set_and_from_pb_replace_invalid),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
