/*
 * sp_event_seq.c - the subscriber's sequencing state machine.
 */
#include "sp_event_seq.h"

void sp_event_seq_init(sp_event_seq_t *s, uint64_t position, bool from_head)
{
    s->position = position;
    s->accepted = position;
    s->head = position;
    s->replaying = true;
    s->from_head = from_head;
}

sp_seq_verdict_t sp_event_seq_live(sp_event_seq_t *s, uint64_t seq, bool queue_full)
{
    if (seq <= s->accepted)
        return SP_SEQ_DUPLICATE;
    if (seq > s->head)
        s->head = seq;
    if (s->replaying)
        return SP_SEQ_BEYOND;
    if (seq == s->accepted + 1 && !queue_full) {
        s->accepted = seq;
        return SP_SEQ_ACCEPT;
    }
    s->replaying = true;
    return SP_SEQ_BEYOND;
}

void sp_event_seq_head(sp_event_seq_t *s, uint64_t seq)
{
    if (seq > s->head)
        s->head = seq;
    if (seq > s->accepted)
        s->replaying = true;
}

bool sp_event_seq_want_replay(const sp_event_seq_t *s, uint64_t *from_seq)
{
    if (!s->replaying)
        return false;
    *from_seq = s->from_head ? SP_EVENT_SEQ_HEAD_PROBE : s->accepted + 1;
    return true;
}

sp_seq_verdict_t sp_event_seq_replay_event(sp_event_seq_t *s, uint64_t seq)
{
    if (s->from_head || seq <= s->accepted)
        return SP_SEQ_DUPLICATE;
    s->accepted = seq;
    if (seq > s->head)
        s->head = seq;
    return SP_SEQ_ACCEPT;
}

uint64_t sp_event_seq_replay_end(sp_event_seq_t *s, uint64_t head_seq, uint64_t scanned_to)
{
    uint64_t jump = 0;
    if (s->from_head) {
        /* the probe's scanned_to is the head: start after it */
        s->from_head = false;
        if (head_seq > s->head)
            s->head = head_seq;
        if (scanned_to > s->head)
            s->head = scanned_to;
        if (scanned_to > s->accepted) {
            s->accepted = scanned_to;
            jump = scanned_to;
        }
        if (s->accepted >= s->head)
            s->replaying = false;
        return jump;
    }
    if (head_seq > s->head)
        s->head = head_seq;
    if (scanned_to > s->accepted) {
        s->accepted = scanned_to;
        jump = scanned_to;
    }
    if (scanned_to > s->head)
        s->head = scanned_to;
    if (s->accepted >= s->head)
        s->replaying = false;
    return jump;
}

void sp_event_seq_done(sp_event_seq_t *s, uint64_t seq)
{
    if (seq > s->position)
        s->position = seq;
}
