/*
 * test_mdp.c - unit tests of the MDP/0.1 client and SPW01 worker codecs.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "sp_mdp.h"

#define F(str) sp_frame_str(str)
#define COUNT(arr) (sizeof(arr) / sizeof((arr)[0]))

static const uint8_t s_id_bytes[8] = {0, 0, 0, 0, 0, 0, 1, 2};
static const sp_frame_t s_id = {s_id_bytes, 8};

static void s_expect_mdpc_fail(const sp_frame_t *frames, size_t count, const char *reason)
{
    sp_mdpc_t out;
    const char *why = NULL;
    assert_int_equal(sp_mdpc_parse(frames, count, &out, &why), -1);
    assert_non_null(why);
    assert_string_equal(why, reason);
}

static void s_expect_mdpw_fail(const sp_frame_t *frames, size_t count, const char *reason)
{
    sp_mdpw_t out;
    const char *why = NULL;
    assert_int_equal(sp_mdpw_parse(frames, count, &out, &why), -1);
    assert_non_null(why);
    assert_string_equal(why, reason);
}

static void test_service_names(void **state)
{
    (void)state;
    assert_true(sp_mdp_service_name_ok(F("samspil.registration")));
    assert_true(sp_mdp_service_name_ok(F("a")));
    assert_true(sp_mdp_service_name_ok(F("mmi.service")));
    assert_true(sp_mdp_service_name_ok(F("x_y-z.0")));
    assert_false(sp_mdp_service_name_ok(F("")));
    assert_false(sp_mdp_service_name_ok(F("Samspil")));
    assert_false(sp_mdp_service_name_ok(F("a b")));
    assert_false(sp_mdp_service_name_ok(F("a/b")));
    sp_frame_t nul = {"a\0b", 3};
    assert_false(sp_mdp_service_name_ok(nul));
    char name[SP_MDP_MAX_SERVICE_NAME + 2];
    memset(name, 'a', sizeof name);
    sp_frame_t longest = {name, SP_MDP_MAX_SERVICE_NAME};
    sp_frame_t too_long = {name, SP_MDP_MAX_SERVICE_NAME + 1};
    assert_true(sp_mdp_service_name_ok(longest));
    assert_false(sp_mdp_service_name_ok(too_long));
}

static void test_request_id(void **state)
{
    (void)state;
    uint8_t buf[SP_MDP_REQUEST_ID_SIZE];
    sp_mdp_request_id_encode(0x0102030405060708ULL, buf);
    const uint8_t expect[8] = {1, 2, 3, 4, 5, 6, 7, 8};
    assert_memory_equal(buf, expect, 8);
    uint64_t id = 0;
    sp_frame_t frame = {buf, sizeof buf};
    assert_int_equal(sp_mdp_request_id_decode(frame, &id), 0);
    assert_true(id == 0x0102030405060708ULL);
    sp_mdp_request_id_encode(UINT64_MAX, buf);
    assert_int_equal(sp_mdp_request_id_decode(frame, &id), 0);
    assert_true(id == UINT64_MAX);
    sp_frame_t short_frame = {buf, 7};
    sp_frame_t long_frame = {"123456789", 9};
    assert_int_equal(sp_mdp_request_id_decode(short_frame, &id), -1);
    assert_int_equal(sp_mdp_request_id_decode(long_frame, &id), -1);
}

static void test_mdpc_valid(void **state)
{
    (void)state;
    sp_frame_t frames[] = {F(""), F("MDPC01"), F("samspil.echo"), F("body1"), F("b2")};
    sp_mdpc_t out;
    const char *why = NULL;
    assert_int_equal(sp_mdpc_parse(frames, COUNT(frames), &out, &why), 0);
    assert_true(sp_frame_equals(out.service, "samspil.echo"));
    assert_int_equal(out.nbody, 2);
    assert_ptr_equal(out.body, &frames[3]);
    assert_true(sp_frame_equals(out.body[1], "b2"));

    /* an empty body frame is still a body */
    sp_frame_t empty_body[] = {F(""), F("MDPC01"), F("x"), F("")};
    assert_int_equal(sp_mdpc_parse(empty_body, COUNT(empty_body), &out, &why), 0);
    assert_int_equal(out.nbody, 1);
}

static void test_mdpc_malformed(void **state)
{
    (void)state;
    sp_frame_t none[] = {F("")};
    s_expect_mdpc_fail(none, 0, "message too short");
    s_expect_mdpc_fail(none, 1, "message too short");

    sp_frame_t not_empty[] = {F("x"), F("MDPC01"), F("svc"), F("b")};
    s_expect_mdpc_fail(not_empty, COUNT(not_empty), "first frame is not empty");

    sp_frame_t bad_header[] = {F(""), F("MDPC02"), F("svc"), F("b")};
    s_expect_mdpc_fail(bad_header, COUNT(bad_header), "missing MDPC01 header");
    sp_frame_t worker_header[] = {F(""), F("SPW01"), F("svc"), F("b")};
    s_expect_mdpc_fail(worker_header, COUNT(worker_header), "missing MDPC01 header");

    sp_frame_t no_service[] = {F(""), F("MDPC01")};
    s_expect_mdpc_fail(no_service, COUNT(no_service), "missing service frame");

    sp_frame_t bad_service[] = {F(""), F("MDPC01"), F("Bad Name"), F("b")};
    s_expect_mdpc_fail(bad_service, COUNT(bad_service), "bad service name");
    sp_frame_t empty_service[] = {F(""), F("MDPC01"), F(""), F("b")};
    s_expect_mdpc_fail(empty_service, COUNT(empty_service), "bad service name");

    sp_frame_t no_body[] = {F(""), F("MDPC01"), F("svc")};
    s_expect_mdpc_fail(no_body, COUNT(no_body), "missing body frame");

    /* a NULL reason pointer is allowed */
    sp_mdpc_t out;
    assert_int_equal(sp_mdpc_parse(no_body, COUNT(no_body), &out, NULL), -1);
}

static void test_mdpw_ready(void **state)
{
    (void)state;
    sp_frame_t frames[] = {F(""), F("SPW01"), F("\x01"), F("samspil.registration"), F("8")};
    sp_mdpw_t out;
    const char *why = NULL;
    assert_int_equal(sp_mdpw_parse(frames, COUNT(frames), &out, &why), 0);
    assert_int_equal(out.command, SP_MDPW_READY);
    assert_true(sp_frame_equals(out.service, "samspil.registration"));
    assert_int_equal(out.credit, 8);

    sp_frame_t max[] = {F(""), F("SPW01"), F("\x01"), F("s"), F("1000")};
    assert_int_equal(sp_mdpw_parse(max, COUNT(max), &out, &why), 0);
    assert_int_equal(out.credit, 1000);
    sp_frame_t one[] = {F(""), F("SPW01"), F("\x01"), F("s"), F("1")};
    assert_int_equal(sp_mdpw_parse(one, COUNT(one), &out, &why), 0);
    assert_int_equal(out.credit, 1);
}

static void test_mdpw_ready_malformed(void **state)
{
    (void)state;
    const char *bad_credits[] = {"0", "1001", "9999", "", "-1", "+5", "08", "1a", " 1", "10000"};
    for (size_t i = 0; i < COUNT(bad_credits); i++) {
        sp_frame_t frames[] = {F(""), F("SPW01"), F("\x01"), F("svc"), F(bad_credits[i])};
        s_expect_mdpw_fail(frames, COUNT(frames), "bad credit");
    }
    sp_frame_t bad_service[] = {F(""), F("SPW01"), F("\x01"), F("SVC"), F("1")};
    s_expect_mdpw_fail(bad_service, COUNT(bad_service), "bad service name");
    sp_frame_t no_credit[] = {F(""), F("SPW01"), F("\x01"), F("svc")};
    s_expect_mdpw_fail(no_credit, COUNT(no_credit), "READY must have 5 frames");
    sp_frame_t extra[] = {F(""), F("SPW01"), F("\x01"), F("svc"), F("1"), F("x")};
    s_expect_mdpw_fail(extra, COUNT(extra), "READY must have 5 frames");
}

static void test_mdpw_request(void **state)
{
    (void)state;
    sp_frame_t frames[] = {F(""), F("SPW01"), F("\x02"), s_id, F("principal"), F("body")};
    sp_mdpw_t out;
    const char *why = NULL;
    assert_int_equal(sp_mdpw_parse(frames, COUNT(frames), &out, &why), 0);
    assert_int_equal(out.command, SP_MDPW_REQUEST);
    assert_int_equal(out.request_id.size, 8);
    assert_true(sp_frame_equals(out.principal, "principal"));
    assert_int_equal(out.nbody, 1);
    assert_true(sp_frame_equals(out.body[0], "body"));
    uint64_t id;
    assert_int_equal(sp_mdp_request_id_decode(out.request_id, &id), 0);
    assert_true(id == 0x102);

    sp_frame_t short_msg[] = {F(""), F("SPW01"), F("\x02"), s_id, F("principal")};
    s_expect_mdpw_fail(short_msg, COUNT(short_msg), "REQUEST must have at least 6 frames");
    sp_frame_t bad_id[] = {F(""), F("SPW01"), F("\x02"), F("1234567"), F("p"), F("b")};
    s_expect_mdpw_fail(bad_id, COUNT(bad_id), "bad request id");
}

static void test_mdpw_reply(void **state)
{
    (void)state;
    sp_frame_t frames[] = {F(""), F("SPW01"), F("\x03"), s_id, F(""), F("b1"), F("b2")};
    sp_mdpw_t out;
    const char *why = NULL;
    assert_int_equal(sp_mdpw_parse(frames, COUNT(frames), &out, &why), 0);
    assert_int_equal(out.command, SP_MDPW_REPLY);
    assert_int_equal(out.nbody, 2);
    assert_ptr_equal(out.body, &frames[5]);

    sp_frame_t short_msg[] = {F(""), F("SPW01"), F("\x03"), s_id, F("")};
    s_expect_mdpw_fail(short_msg, COUNT(short_msg), "REPLY must have at least 6 frames");
    sp_frame_t bad_id[] = {F(""), F("SPW01"), F("\x03"), F("123456789"), F(""), F("b")};
    s_expect_mdpw_fail(bad_id, COUNT(bad_id), "bad request id");
    sp_frame_t no_sep[] = {F(""), F("SPW01"), F("\x03"), s_id, F("x"), F("b")};
    s_expect_mdpw_fail(no_sep, COUNT(no_sep), "REPLY separator frame is not empty");
}

static void test_mdpw_heartbeat_disconnect(void **state)
{
    (void)state;
    sp_mdpw_t out;
    const char *why = NULL;
    sp_frame_t hb[] = {F(""), F("SPW01"), F("\x04")};
    assert_int_equal(sp_mdpw_parse(hb, COUNT(hb), &out, &why), 0);
    assert_int_equal(out.command, SP_MDPW_HEARTBEAT);
    sp_frame_t dc[] = {F(""), F("SPW01"), F("\x05")};
    assert_int_equal(sp_mdpw_parse(dc, COUNT(dc), &out, &why), 0);
    assert_int_equal(out.command, SP_MDPW_DISCONNECT);

    sp_frame_t hb_extra[] = {F(""), F("SPW01"), F("\x04"), F("x")};
    s_expect_mdpw_fail(hb_extra, COUNT(hb_extra), "HEARTBEAT must have 3 frames");
    sp_frame_t dc_extra[] = {F(""), F("SPW01"), F("\x05"), F("x")};
    s_expect_mdpw_fail(dc_extra, COUNT(dc_extra), "DISCONNECT must have 3 frames");
}

static void test_mdpw_malformed_header(void **state)
{
    (void)state;
    sp_frame_t none[] = {F("")};
    s_expect_mdpw_fail(none, 1, "message too short");
    sp_frame_t not_empty[] = {F("x"), F("SPW01"), F("\x04")};
    s_expect_mdpw_fail(not_empty, COUNT(not_empty), "first frame is not empty");
    sp_frame_t bad_header[] = {F(""), F("MDPW01"), F("\x04")};
    s_expect_mdpw_fail(bad_header, COUNT(bad_header), "missing SPW01 header");
    sp_frame_t no_command[] = {F(""), F("SPW01")};
    s_expect_mdpw_fail(no_command, COUNT(no_command), "missing command frame");
    sp_frame_t long_command[] = {F(""), F("SPW01"), F("\x04\x04")};
    s_expect_mdpw_fail(long_command, COUNT(long_command), "command frame is not one byte");
    sp_frame_t empty_command[] = {F(""), F("SPW01"), F("")};
    s_expect_mdpw_fail(empty_command, COUNT(empty_command), "command frame is not one byte");
    const char *unknown[] = {"\x06", "\x7f", "\xff"};
    for (size_t i = 0; i < COUNT(unknown); i++) {
        sp_frame_t frames[] = {F(""), F("SPW01"), F(unknown[i])};
        s_expect_mdpw_fail(frames, COUNT(frames), "unknown command");
    }
    sp_frame_t zero[] = {F(""), F("SPW01"), {"\0", 1}};
    s_expect_mdpw_fail(zero, COUNT(zero), "unknown command");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_service_names),
        cmocka_unit_test(test_request_id),
        cmocka_unit_test(test_mdpc_valid),
        cmocka_unit_test(test_mdpc_malformed),
        cmocka_unit_test(test_mdpw_ready),
        cmocka_unit_test(test_mdpw_ready_malformed),
        cmocka_unit_test(test_mdpw_request),
        cmocka_unit_test(test_mdpw_reply),
        cmocka_unit_test(test_mdpw_heartbeat_disconnect),
        cmocka_unit_test(test_mdpw_malformed_header),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
