/*
 * test_sp_event_wire.c - unit tests for the event bus's wire helpers:
 * bytea hex decoding, stamping stored events with stream and seq, building
 * a ReplayReply without unpacking events, topics and endpoints.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "sp_event_wire.h"
#include "sp_outbox.h"

#include <stdlib.h>
#include <string.h>

static void test_varint(void **state)
{
    (void)state;
    uint8_t v[10];
    assert_int_equal(sp_event_varint(0, v), 1);
    assert_int_equal(v[0], 0);
    assert_int_equal(sp_event_varint(127, v), 1);
    assert_int_equal(sp_event_varint(300, v), 2);
    assert_int_equal(v[0], 0xac);
    assert_int_equal(v[1], 0x02);
    assert_int_equal(sp_event_varint(UINT64_MAX, v), 10);
}

static void test_bytea_decode(void **state)
{
    (void)state;
    sp_buf_t out;
    sp_buf_init(&out);
    assert_int_equal(sp_event_bytea_decode("\\x0aFF10", 8, &out), 0);
    assert_int_equal(out.len, 3);
    assert_memory_equal(out.data, "\x0a\xff\x10", 3);
    assert_int_equal(sp_event_bytea_decode("\\x", 2, &out), 0);
    assert_int_equal(out.len, 0);
    assert_int_equal(sp_event_bytea_decode("\\x0", 3, &out), -1);
    assert_int_equal(sp_event_bytea_decode("\\x0g", 4, &out), -1);
    assert_int_equal(sp_event_bytea_decode("0a", 2, &out), -1);
    assert_int_equal(sp_event_bytea_decode(NULL, 0, &out), -1);
    /* longer than the decoder's chunk */
    char text[2 + 2 * 1000 + 1] = "\\x";
    for (int i = 0; i < 1000; i++)
        memcpy(text + 2 + 2 * i, "7f", 2);
    assert_int_equal(sp_event_bytea_decode(text, 2 + 2 * 1000, &out), 0);
    assert_int_equal(out.len, 1000);
    assert_int_equal((uint8_t)out.data[999], 0x7f);
    sp_buf_free(&out);
}

static Samspil__V1__Event *s_roundtrip_payload(const Samspil__V1__Event *event, const char *stream,
                                               uint64_t seq, sp_buf_t *stamped)
{
    char *hex = sp_outbox_payload_param(event);
    assert_non_null(hex);
    sp_buf_t raw;
    sp_buf_init(&raw);
    assert_int_equal(sp_event_bytea_decode(hex, strlen(hex), &raw), 0);
    free(hex);
    sp_buf_reset(stamped);
    sp_event_stamp(stamped, (const uint8_t *)raw.data, raw.len, stream, seq);
    assert_int_equal(stamped->len, raw.len + sp_event_stamp_size(stream, seq));
    sp_buf_free(&raw);
    return samspil__v1__event__unpack(NULL, stamped->len, (const uint8_t *)stamped->data);
}

static void test_stamp(void **state)
{
    (void)state;
    Samspil__V1__MembershipEvent m = SAMSPIL__V1__MEMBERSHIP_EVENT__INIT;
    m.partnership_id = "p-1";
    m.actor_id = "a-1";
    Samspil__V1__Event event = SAMSPIL__V1__EVENT__INIT;
    event.tenant = "751";
    event.type = "membership.added";
    event.entity_id = "e-1";
    event.occurred_at_us = 1700000000000000;
    event.payload_case = SAMSPIL__V1__EVENT__PAYLOAD_MEMBERSHIP;
    event.membership = &m;
    sp_buf_t stamped;
    sp_buf_init(&stamped);
    Samspil__V1__Event *got = s_roundtrip_payload(&event, "registration", 123456789, &stamped);
    assert_non_null(got);
    assert_string_equal(got->stream, "registration");
    assert_int_equal(got->seq, 123456789);
    assert_string_equal(got->tenant, "751");
    assert_string_equal(got->type, "membership.added");
    assert_string_equal(got->entity_id, "e-1");
    assert_int_equal(got->occurred_at_us, 1700000000000000);
    assert_int_equal(got->payload_case, SAMSPIL__V1__EVENT__PAYLOAD_MEMBERSHIP);
    assert_string_equal(got->membership->actor_id, "a-1");
    samspil__v1__event__free_unpacked(got, NULL);

    /* a payload that already had a stream and seq: the stamp wins */
    event.stream = "other";
    event.seq = 9;
    got = s_roundtrip_payload(&event, "registration", 1, &stamped);
    assert_non_null(got);
    assert_string_equal(got->stream, "registration");
    assert_int_equal(got->seq, 1);
    samspil__v1__event__free_unpacked(got, NULL);
    sp_buf_free(&stamped);
}

static void test_reply(void **state)
{
    (void)state;
    sp_buf_t reply, ev;
    sp_buf_init(&reply);
    sp_buf_init(&ev);
    Samspil__V1__Event event = SAMSPIL__V1__EVENT__INIT;
    event.tenant = "101";
    event.type = "actor.registered";
    for (uint64_t seq = 1; seq <= 3; seq++) {
        size_t len = samspil__v1__event__get_packed_size(&event);
        uint8_t packed[128];
        samspil__v1__event__pack(&event, packed);
        sp_buf_reset(&ev);
        sp_event_stamp(&ev, packed, len, "registration", seq * 100);
        size_t before = reply.len;
        assert_int_equal(sp_event_reply_add(&reply, (const uint8_t *)ev.data, ev.len),
                         sp_event_reply_entry_size(ev.len));
        assert_int_equal(reply.len - before, sp_event_reply_entry_size(ev.len));
    }
    sp_event_reply_finish(&reply, 1000, 300);
    Samspil__V1__ReplayReply *got =
        samspil__v1__replay_reply__unpack(NULL, reply.len, (const uint8_t *)reply.data);
    assert_non_null(got);
    assert_null(got->error);
    assert_int_equal(got->n_events, 3);
    assert_int_equal(got->events[2]->seq, 300);
    assert_string_equal(got->events[0]->type, "actor.registered");
    assert_int_equal(got->head_seq, 1000);
    assert_int_equal(got->scanned_to, 300);
    samspil__v1__replay_reply__free_unpacked(got, NULL);

    /* an empty reply on an empty stream */
    sp_buf_reset(&reply);
    sp_event_reply_finish(&reply, 0, 0);
    got = samspil__v1__replay_reply__unpack(NULL, reply.len, (const uint8_t *)reply.data);
    assert_non_null(got);
    assert_int_equal(got->n_events, 0);
    assert_int_equal(got->head_seq, 0);
    samspil__v1__replay_reply__free_unpacked(got, NULL);
    sp_buf_free(&reply);
    sp_buf_free(&ev);
}

static void test_topic_and_endpoints(void **state)
{
    (void)state;
    char out[64];
    assert_int_equal(sp_event_topic("registration", "751", "actor.registered", out, sizeof out),
                     (int)strlen("registration/751/actor.registered"));
    assert_string_equal(out, "registration/751/actor.registered");
    assert_int_equal(sp_event_topic("registration", "", SP_EVENT_TYPE_HEAD, out, sizeof out),
                     (int)strlen("registration//stream.head"));
    assert_int_equal(sp_event_topic("registration", "751", "actor.registered", out, 10), -1);
    char ep[256];
    assert_string_equal(sp_events_in_default("/srv/samspil/", ep, sizeof ep),
                        "ipc:///srv/samspil/run/events-in.ipc");
    assert_string_equal(sp_events_out_default("/srv/samspil", ep, sizeof ep),
                        "ipc:///srv/samspil/run/events-out.ipc");
    assert_string_equal(sp_events_out_default("/x", ep, 10), "");
    sp_events_in_default("relative-home", ep, sizeof ep);
    assert_true(strncmp(ep, "ipc:///", 7) == 0);
    assert_non_null(strstr(ep, "/relative-home/run/events-in.ipc"));
}

static void test_now(void **state)
{
    (void)state;
    int64_t a = sp_outbox_now_us();
    assert_true(a > 1600000000LL * 1000000);
    assert_true(sp_outbox_now_us() >= a);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_varint),
        cmocka_unit_test(test_bytea_decode),
        cmocka_unit_test(test_stamp),
        cmocka_unit_test(test_reply),
        cmocka_unit_test(test_topic_and_endpoints),
        cmocka_unit_test(test_now),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
