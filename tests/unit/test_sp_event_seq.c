/*
 * test_sp_event_seq.c - unit tests for the subscriber's sequencing state
 * machine: in-order live events, duplicates, gaps, heads, replay replies
 * with filtered events, the head probe, and queue limits.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "sp_event_seq.h"

/* Finish the start-up replay of a subscriber at `position` on a stream whose head is `head`. */
static void s_caught_up(sp_event_seq_t *s, uint64_t position, uint64_t head)
{
    sp_event_seq_init(s, position, false);
    uint64_t from = 0;
    assert_true(sp_event_seq_want_replay(s, &from));
    assert_int_equal(from, position + 1);
    for (uint64_t seq = position + 1; seq <= head; seq++)
        assert_int_equal(sp_event_seq_replay_event(s, seq), SP_SEQ_ACCEPT);
    assert_int_equal(sp_event_seq_replay_end(s, head, head), 0);
    for (uint64_t seq = position + 1; seq <= head; seq++)
        sp_event_seq_done(s, seq);
    assert_false(s->replaying);
    assert_false(sp_event_seq_want_replay(s, &from));
}

static void test_start_replays_first(void **state)
{
    (void)state;
    sp_event_seq_t s;
    sp_event_seq_init(&s, 41, false);
    assert_true(s.replaying);
    /* live events during the start-up replay only raise the head */
    assert_int_equal(sp_event_seq_live(&s, 50, false), SP_SEQ_BEYOND);
    assert_int_equal(s.head, 50);
    assert_int_equal(sp_event_seq_live(&s, 41, false), SP_SEQ_DUPLICATE);
    uint64_t from = 0;
    assert_true(sp_event_seq_want_replay(&s, &from));
    assert_int_equal(from, 42);
    /* an empty stream: the reply says head 41, scanned 41 */
    sp_event_seq_t e;
    sp_event_seq_init(&e, 0, false);
    assert_int_equal(sp_event_seq_replay_end(&e, 0, 0), 0);
    assert_false(e.replaying);
}

static void test_live_in_order_and_duplicates(void **state)
{
    (void)state;
    sp_event_seq_t s;
    s_caught_up(&s, 0, 3);
    assert_int_equal(s.position, 3);
    assert_int_equal(sp_event_seq_live(&s, 4, false), SP_SEQ_ACCEPT);
    assert_int_equal(sp_event_seq_live(&s, 5, false), SP_SEQ_ACCEPT);
    assert_int_equal(s.accepted, 5);
    assert_int_equal(s.position, 3); /* nothing applied yet */
    assert_int_equal(sp_event_seq_live(&s, 5, false), SP_SEQ_DUPLICATE);
    assert_int_equal(sp_event_seq_live(&s, 2, false), SP_SEQ_DUPLICATE);
    sp_event_seq_done(&s, 4);
    sp_event_seq_done(&s, 5);
    assert_int_equal(s.position, 5);
    /* a head at the position means nothing is missing */
    sp_event_seq_head(&s, 5);
    assert_false(s.replaying);
    sp_event_seq_head(&s, 3);
    assert_false(s.replaying);
}

static void test_gap_replays_from_accepted(void **state)
{
    (void)state;
    sp_event_seq_t s;
    s_caught_up(&s, 0, 10);
    assert_int_equal(sp_event_seq_live(&s, 11, false), SP_SEQ_ACCEPT);
    /* 12 and 13 are lost */
    assert_int_equal(sp_event_seq_live(&s, 14, false), SP_SEQ_BEYOND);
    assert_true(s.replaying);
    assert_int_equal(s.head, 14);
    /* buffer nothing while catching up, even the next in order */
    assert_int_equal(sp_event_seq_live(&s, 15, false), SP_SEQ_BEYOND);
    assert_int_equal(s.head, 15);
    uint64_t from = 0;
    assert_true(sp_event_seq_want_replay(&s, &from));
    assert_int_equal(from, 12); /* 11 is queued: not asked again */
    for (uint64_t seq = 12; seq <= 15; seq++)
        assert_int_equal(sp_event_seq_replay_event(&s, seq), SP_SEQ_ACCEPT);
    assert_int_equal(sp_event_seq_replay_end(&s, 15, 15), 0);
    assert_false(s.replaying);
    /* back to live */
    assert_int_equal(sp_event_seq_live(&s, 16, false), SP_SEQ_ACCEPT);
}

static void test_head_beyond_position(void **state)
{
    (void)state;
    sp_event_seq_t s;
    s_caught_up(&s, 0, 5);
    /* the tail of a burst was lost: only the head tells */
    sp_event_seq_head(&s, 8);
    assert_true(s.replaying);
    uint64_t from = 0;
    assert_true(sp_event_seq_want_replay(&s, &from));
    assert_int_equal(from, 6);
    /* the reply ends below the head: keep asking */
    assert_int_equal(sp_event_seq_replay_event(&s, 6), SP_SEQ_ACCEPT);
    assert_int_equal(sp_event_seq_replay_end(&s, 8, 6), 0);
    assert_true(s.replaying);
    assert_true(sp_event_seq_want_replay(&s, &from));
    assert_int_equal(from, 7);
    assert_int_equal(sp_event_seq_replay_event(&s, 7), SP_SEQ_ACCEPT);
    assert_int_equal(sp_event_seq_replay_event(&s, 8), SP_SEQ_ACCEPT);
    assert_int_equal(sp_event_seq_replay_end(&s, 8, 8), 0);
    assert_false(s.replaying);
}

static void test_replay_filtered_jump(void **state)
{
    (void)state;
    sp_event_seq_t s;
    sp_event_seq_init(&s, 0, false);
    /* the publisher filtered: events 3 and 7 match, scanned to 20 of head 20 */
    assert_int_equal(sp_event_seq_replay_event(&s, 3), SP_SEQ_ACCEPT);
    assert_int_equal(sp_event_seq_replay_event(&s, 7), SP_SEQ_ACCEPT);
    assert_int_equal(sp_event_seq_replay_end(&s, 20, 20), 20);
    assert_false(s.replaying);
    sp_event_seq_done(&s, 3);
    assert_int_equal(s.position, 3);
    sp_event_seq_done(&s, 7);
    sp_event_seq_done(&s, 20); /* the jump */
    assert_int_equal(s.position, 20);
    assert_int_equal(sp_event_seq_live(&s, 21, false), SP_SEQ_ACCEPT);
    /* done() never moves the position back */
    sp_event_seq_done(&s, 5);
    assert_int_equal(s.position, 20);
}

static void test_replay_duplicates_and_stale(void **state)
{
    (void)state;
    sp_event_seq_t s;
    s_caught_up(&s, 0, 4);
    sp_event_seq_head(&s, 6);
    uint64_t from = 0;
    assert_true(sp_event_seq_want_replay(&s, &from));
    assert_int_equal(from, 5);
    /* an old event in the reply is dropped */
    assert_int_equal(sp_event_seq_replay_event(&s, 4), SP_SEQ_DUPLICATE);
    assert_int_equal(sp_event_seq_replay_event(&s, 5), SP_SEQ_ACCEPT);
    assert_int_equal(sp_event_seq_replay_event(&s, 5), SP_SEQ_DUPLICATE);
    /* scanned_to below accepted moves nothing back */
    assert_int_equal(sp_event_seq_replay_end(&s, 6, 3), 0);
    assert_int_equal(s.accepted, 5);
    assert_true(s.replaying);
    /* a reply with nothing new: accepted stays below the from it answered */
    assert_true(sp_event_seq_want_replay(&s, &from));
    assert_int_equal(from, 6);
    assert_int_equal(sp_event_seq_replay_end(&s, 6, 5), 0);
    assert_true(s.accepted < from);
    assert_true(s.replaying);
}

static void test_from_head_probe(void **state)
{
    (void)state;
    sp_event_seq_t s;
    sp_event_seq_init(&s, 0, true);
    uint64_t from = 0;
    assert_true(sp_event_seq_want_replay(&s, &from));
    assert_int_equal(from, SP_EVENT_SEQ_HEAD_PROBE);
    assert_int_equal(sp_event_seq_live(&s, 90, false), SP_SEQ_BEYOND);
    /* the probe returns no events; any that came would be ignored */
    assert_int_equal(sp_event_seq_replay_event(&s, 1), SP_SEQ_DUPLICATE);
    assert_int_equal(sp_event_seq_replay_end(&s, 100, 100), 100);
    assert_false(s.from_head);
    sp_event_seq_done(&s, 100);
    assert_int_equal(s.position, 100);
    /* head 100 but a live 90 was seen before: head stays max */
    assert_int_equal(s.head, 100);
    assert_false(s.replaying);
    assert_int_equal(sp_event_seq_live(&s, 101, false), SP_SEQ_ACCEPT);

    /* a live event newer than the probe's head: catch up to it */
    sp_event_seq_init(&s, 0, true);
    assert_int_equal(sp_event_seq_live(&s, 105, false), SP_SEQ_BEYOND);
    assert_int_equal(sp_event_seq_replay_end(&s, 100, 100), 100);
    assert_true(s.replaying);
    assert_true(sp_event_seq_want_replay(&s, &from));
    assert_int_equal(from, 101);

    /* an empty stream */
    sp_event_seq_init(&s, 0, true);
    assert_int_equal(sp_event_seq_replay_end(&s, 0, 0), 0);
    assert_false(s.replaying);
    assert_int_equal(sp_event_seq_live(&s, 1, false), SP_SEQ_ACCEPT);
}

static void test_full_queue_is_a_gap(void **state)
{
    (void)state;
    sp_event_seq_t s;
    s_caught_up(&s, 0, 0);
    assert_int_equal(sp_event_seq_live(&s, 1, false), SP_SEQ_ACCEPT);
    assert_int_equal(sp_event_seq_live(&s, 2, true), SP_SEQ_BEYOND);
    assert_true(s.replaying);
    uint64_t from = 0;
    assert_true(sp_event_seq_want_replay(&s, &from));
    assert_int_equal(from, 2);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_start_replays_first),
        cmocka_unit_test(test_live_in_order_and_duplicates),
        cmocka_unit_test(test_gap_replays_from_accepted),
        cmocka_unit_test(test_head_beyond_position),
        cmocka_unit_test(test_replay_filtered_jump),
        cmocka_unit_test(test_replay_duplicates_and_stale),
        cmocka_unit_test(test_from_head_probe),
        cmocka_unit_test(test_full_queue_is_a_gap),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
