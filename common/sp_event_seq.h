/*
 * sp_event_seq.h - the subscriber's sequencing decisions as a pure state
 * machine: given what it has accepted and what arrives (a live event, a
 * stream head, a replay reply), apply it, drop it, or catch up by replay.
 *
 * Terms: `position` is the last seq applied or skipped; `accepted` is the
 * last seq handed to the apply queue (>= position: the queue holds
 * position+1 .. accepted, in order); `head` is the highest seq known to
 * exist.  In catch-up mode (`replaying`) live events are never queued, they
 * only raise the head; replay replies fill the queue instead, until
 * `accepted` reaches the head.  No I/O; the subscriber (sp_subscriber.c)
 * does the sockets, queue and timers.
 */
#ifndef SP_EVENT_SEQ_H
#define SP_EVENT_SEQ_H

#include <stdbool.h>
#include <stdint.h>

/* from_seq of the replay request that learns the head (no events come back,
 * scanned_to = head). */
#define SP_EVENT_SEQ_HEAD_PROBE ((uint64_t)INT64_MAX)

typedef struct {
    uint64_t position;
    uint64_t accepted;
    uint64_t head;
    bool replaying; /* catching up: live events are dropped */
    bool from_head; /* the head must be learnt first (then position = head) */
} sp_event_seq_t;

typedef enum {
    SP_SEQ_ACCEPT,    /* queue it (accepted is now its seq) */
    SP_SEQ_DUPLICATE, /* at or below accepted: drop */
    SP_SEQ_BEYOND,    /* a gap, a full queue, or catching up: drop; head raised */
} sp_seq_verdict_t;

/* Start at `position` (last seq applied before), in catch-up mode: a
 * subscriber replays from its position before applying anything live.
 * With `from_head` the first replay only learns the head. */
void sp_event_seq_init(sp_event_seq_t *s, uint64_t position, bool from_head);

/* A live event with `seq` arrived; `queue_full` if it could not be queued.
 * A gap (or a full queue) switches to catch-up mode. */
sp_seq_verdict_t sp_event_seq_live(sp_event_seq_t *s, uint64_t seq, bool queue_full);

/* A "stream.head" with `seq` arrived: beyond `accepted` means events were
 * missed, so catch up. */
void sp_event_seq_head(sp_event_seq_t *s, uint64_t seq);

/* True if a replay request should be sent now (the caller also checks it
 * has none outstanding and room in its queue); sets *from_seq. */
bool sp_event_seq_want_replay(const sp_event_seq_t *s, uint64_t *from_seq);

/* One event of a replay reply, in reply order. */
sp_seq_verdict_t sp_event_seq_replay_event(sp_event_seq_t *s, uint64_t seq);

/* The end of a replay reply (after its events went through
 * sp_event_seq_replay_event).  Returns a seq the position must jump to
 * once the queue before it is done (events up to it were filtered out by
 * the publisher), or 0.  Leaves catch-up mode when `accepted` reached the
 * head.  (A reply that left `accepted` below the from_seq it answered
 * while still catching up moved nothing: the caller waits before asking
 * again.) */
uint64_t sp_event_seq_replay_end(sp_event_seq_t *s, uint64_t head_seq, uint64_t scanned_to);

/* The queued event (or jump) with `seq` is done: applied, a duplicate, or
 * skipped by the type filter. */
void sp_event_seq_done(sp_event_seq_t *s, uint64_t seq);

#endif
