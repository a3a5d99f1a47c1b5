/*
 * fuzz_events.c - libFuzzer target: the event bus's decode-and-dispatch on
 * the receiving side, and the byte-level event helpers.
 *
 * Input: one control byte (bit 0: the subscriber starts from the head; bits
 * 1-7: its stored position), then messages (tests/fuzz/fuzz_input.h), each
 * preceded by one byte (bit 0: apply everything queued afterwards; bit 1:
 * the live queue is full).  A message of
 *   2 frames          is a live event from the XPUB, [topic][Event], handled
 *                     as sp_subscriber.c's s_on_sub does;
 *   "" | MDPC01 | ... is a replay reply on the subscriber's DEALER, handled as
 *                     s_on_dealer and s_on_reply do (ReplayReply body);
 *   1 frame           is text from the outbox's bytea column: decoded with
 *                     sp_event_bytea_decode, stamped (sp_event_stamp) and put
 *                     in a ReplayReply (sp_event_reply_add/finish) as the
 *                     relay and the replay service do.
 * Every decoded Event is printed as `samspilctl events tail` prints it
 * (ctl_output_event_line) and through sp_pbjson with each flag set.
 *
 * Checked beyond memory safety: the sequencing state stays ordered
 * (position <= accepted <= head; not replaying means accepted == head), the
 * apply queue gets strictly increasing sequence numbers (no event applied
 * twice or out of order), every printed line is one valid JSON object, a
 * stamped event decodes with the stream and seq it was given, and a built
 * ReplayReply decodes with its events and counters.
 */
#include "ctl_output.h"
#include "fuzz_input.h"
#include "fuzz_json.h"
#include "sp_error.h"
#include "sp_event_seq.h"
#include "sp_event_wire.h"
#include "sp_mdp.h"
#include "sp_outbox.h"
#include "sp_pbjson.h"
#include "sp_zmsg.h"

#include "samspil/v1/events.pb-c.h"

#include <stdint.h>
#include <string.h>

#define STREAM "registration"
#define SERVICE "samspil.events.registration"
#define LIVE_QUEUE_MAX 64 /* stands in for sp_subscriber.c's S_LIVE_QUEUE_MAX */

typedef struct {
    sp_event_seq_t seq;
    uint64_t last_queued; /* seq of the last item queued (event or jump) */
    size_t queued;
    uint64_t queue[LIVE_QUEUE_MAX * 4];
    size_t nqueue;
    bool outstanding; /* a replay request is out */
} fz_sub_t;

static void s_check_seq(const fz_sub_t *s)
{
    FZ_TRACE("position %llu accepted %llu head %llu%s%s\n", (unsigned long long)s->seq.position,
             (unsigned long long)s->seq.accepted, (unsigned long long)s->seq.head,
             s->seq.replaying ? " replaying" : "", s->seq.from_head ? " from_head" : "");
    FZ_CHECK(s->seq.position <= s->seq.accepted);
    FZ_CHECK(s->seq.accepted <= s->seq.head);
    FZ_CHECK(s->seq.replaying || s->seq.accepted == s->seq.head);
}

static void s_enqueue(fz_sub_t *s, uint64_t seq)
{
    FZ_CHECK(seq > s->last_queued);
    FZ_CHECK(seq > s->seq.position);
    s->last_queued = seq;
    if (s->nqueue < sizeof s->queue / sizeof s->queue[0])
        s->queue[s->nqueue++] = seq;
    else
        sp_event_seq_done(&s->seq, seq); /* applied at once */
}

static void s_pump(fz_sub_t *s)
{
    for (size_t i = 0; i < s->nqueue; i++) {
        FZ_CHECK(s->queue[i] > s->seq.position);
        sp_event_seq_done(&s->seq, s->queue[i]);
        FZ_CHECK(s->seq.position == s->queue[i]);
    }
    s->nqueue = 0;
}

static void s_print(const Samspil__V1__Event *event)
{
    sp_buf_t out;
    sp_buf_init(&out);
    ctl_output_event_line(&out, event);
    FZ_CHECK(out.len > 0 && out.data[out.len - 1] == '\n');
    FZ_CHECK(memchr(out.data, '\n', out.len) == out.data + out.len - 1);
    FZ_CHECK(fz_json_valid(out.data, out.len));
    static const unsigned flags[] = {
        0, SP_PBJSON_SHORT_ENUMS, SP_PBJSON_PROTO_NAMES, SP_PBJSON_EMIT_DEFAULTS | SP_PBJSON_PRETTY,
        SP_PBJSON_SHORT_ENUMS | SP_PBJSON_PROTO_NAMES | SP_PBJSON_EMIT_DEFAULTS | SP_PBJSON_PRETTY};
    for (size_t i = 0; i < sizeof flags / sizeof flags[0]; i++) {
        sp_buf_reset(&out);
        sp_pbjson_append(&out, &event->base, flags[i], 0);
        FZ_CHECK(fz_json_valid(out.data, out.len));
    }
    char when[40];
    ctl_output_time(event->occurred_at_us, when, sizeof when);
    FZ_CHECK(strlen(when) == 27 && when[26] == 'Z');
    sp_buf_free(&out);
}

/* s_on_sub: a live [topic][Event] */
static void s_live(fz_sub_t *s, const fz_message_t *msg, bool queue_full)
{
    sp_frame_t body = msg->frames[1];
    Samspil__V1__Event *event = body.size <= SP_EVENT_MAX_SIZE
                                    ? samspil__v1__event__unpack(NULL, body.size, body.data)
                                    : NULL;
    if (!event)
        return;
    s_print(event);
    if (strcmp(event->stream, STREAM) == 0) {
        FZ_TRACE("live %s %llu\n", event->type, (unsigned long long)event->seq);
        if (strcmp(event->type, SP_EVENT_TYPE_HEAD) == 0) {
            sp_event_seq_head(&s->seq, event->seq);
        } else if (sp_event_seq_live(&s->seq, event->seq, queue_full) == SP_SEQ_ACCEPT) {
            FZ_CHECK(!queue_full);
            s_enqueue(s, event->seq);
        }
    }
    samspil__v1__event__free_unpacked(event, NULL);
}

/* s_on_dealer and s_on_reply: a replay reply */
static void s_reply(fz_sub_t *s, const fz_message_t *msg)
{
    sp_mdpc_t parsed;
    const char *why = NULL;
    if (msg->too_many || sp_mdpc_parse(msg->frames, msg->count, &parsed, &why) < 0 ||
        parsed.nbody != 1 || !sp_frame_equals(parsed.service, SERVICE))
        return;
    if (!s->outstanding)
        return;
    Samspil__V1__ReplayReply *reply =
        parsed.body[0].size <= SP_MDP_MAX_FRAME_SIZE
            ? samspil__v1__replay_reply__unpack(NULL, parsed.body[0].size, parsed.body[0].data)
            : NULL;
    if (!reply)
        return;
    s->outstanding = false;
    sp_buf_t out;
    sp_buf_init(&out);
    sp_pbjson_append(&out, &reply->base, SP_PBJSON_PRETTY, 0);
    FZ_CHECK(fz_json_valid(out.data, out.len));
    sp_buf_free(&out);
    if (reply->error && reply->error->code != SP_OK) {
        samspil__v1__replay_reply__free_unpacked(reply, NULL);
        return;
    }
    FZ_TRACE("replay reply: %zu events, head_seq %llu, scanned_to %llu\n", reply->n_events,
             (unsigned long long)reply->head_seq, (unsigned long long)reply->scanned_to);
    for (size_t i = 0; i < reply->n_events; i++) {
        Samspil__V1__Event *event = reply->events[i];
        if (!event || event->seq == 0 || strcmp(event->stream, STREAM) != 0)
            continue;
        if (i < 4)
            s_print(event);
        FZ_TRACE("replayed event %llu\n", (unsigned long long)event->seq);
        if (sp_event_seq_replay_event(&s->seq, event->seq) == SP_SEQ_ACCEPT)
            s_enqueue(s, event->seq);
    }
    uint64_t jump = sp_event_seq_replay_end(&s->seq, reply->head_seq, reply->scanned_to);
    if (jump)
        s_enqueue(s, jump);
    samspil__v1__replay_reply__free_unpacked(reply, NULL);
}

/* The relay's and the replay service's byte-level work on one stored row. */
static void s_wire(sp_frame_t text, uint8_t control)
{
    sp_buf_t payload, stamped, reply;
    sp_buf_init(&payload);
    sp_buf_init(&stamped);
    sp_buf_init(&reply);
    if (sp_event_bytea_decode(text.data, text.size, &payload) == 0) {
        /* decode(hex(x)) == x */
        sp_buf_t hex, again;
        sp_buf_init(&hex);
        sp_buf_init(&again);
        sp_buf_puts(&hex, "\\x");
        for (size_t i = 0; i < payload.len; i++)
            sp_buf_printf(&hex, "%02x", (unsigned char)payload.data[i]);
        FZ_CHECK(sp_event_bytea_decode(hex.data, hex.len, &again) == 0);
        FZ_CHECK(again.len == payload.len && memcmp(again.data, payload.data, payload.len) == 0);
        sp_buf_free(&hex);
        sp_buf_free(&again);
    } else {
        /* not bytea text: use the raw bytes as the stored event */
        sp_buf_reset(&payload);
        sp_buf_append(&payload, text.data, text.size);
    }
    uint64_t seq = ((uint64_t)control << 56) | (uint64_t)text.size * 7919u;
    Samspil__V1__Event *stored =
        samspil__v1__event__unpack(NULL, payload.len, (const uint8_t *)payload.data);
    sp_event_stamp(&stamped, (const uint8_t *)payload.data, payload.len, STREAM, seq);
    FZ_CHECK(stamped.len == payload.len + sp_event_stamp_size(STREAM, seq));
    Samspil__V1__Event *event =
        samspil__v1__event__unpack(NULL, stamped.len, (const uint8_t *)stamped.data);
    /* stamping keeps a decodable event decodable, with its stream and seq */
    FZ_CHECK(!stored || event);
    if (event) {
        /* (a stored row that is not an Event may swallow the stamp into a
         * field it leaves open: the relay only stamps what it packed) */
        if (stored)
            FZ_CHECK(strcmp(event->stream, STREAM) == 0 && event->seq == seq);
        s_print(event);
    }
    size_t entry = sp_event_reply_add(&reply, (const uint8_t *)stamped.data, stamped.len);
    FZ_CHECK(entry == sp_event_reply_entry_size(stamped.len) && entry == reply.len);
    sp_event_reply_add(&reply, (const uint8_t *)stamped.data, stamped.len);
    sp_event_reply_finish(&reply, seq, seq / 2);
    Samspil__V1__ReplayReply *decoded =
        samspil__v1__replay_reply__unpack(NULL, reply.len, (const uint8_t *)reply.data);
    FZ_CHECK(!event || decoded);
    if (decoded) {
        FZ_CHECK(decoded->n_events == 2 && decoded->head_seq == seq &&
                 decoded->scanned_to == seq / 2);
        if (stored)
            FZ_CHECK(decoded->events[0]->seq == seq &&
                     strcmp(decoded->events[1]->stream, STREAM) == 0);
        samspil__v1__replay_reply__free_unpacked(decoded, NULL);
    }
    if (event)
        samspil__v1__event__free_unpacked(event, NULL);
    if (stored)
        samspil__v1__event__free_unpacked(stored, NULL);
    sp_buf_free(&payload);
    sp_buf_free(&stamped);
    sp_buf_free(&reply);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    fz_input_t in;
    fz_init(&in, data, size);
    uint8_t control = fz_byte(&in);
    fz_sub_t s;
    memset(&s, 0, sizeof s);
    sp_event_seq_init(&s.seq, control >> 1, control & 1);
    s.last_queued = s.seq.position;
    s_check_seq(&s);
    while (!fz_done(&in)) {
        uint8_t step = fz_byte(&in);
        uint64_t from;
        if (!s.outstanding && sp_event_seq_want_replay(&s.seq, &from)) {
            FZ_CHECK(from == SP_EVENT_SEQ_HEAD_PROBE || from == s.seq.accepted + 1);
            FZ_TRACE("replay asked from %llu\n", (unsigned long long)from);
            s.outstanding = true;
        }
        fz_message_t msg;
        fz_message(&in, SP_ZMSG_MAX_FRAMES, &msg);
        if (msg.count == 2 && !msg.too_many)
            s_live(&s, &msg, (step & 2) != 0);
        else if (msg.count == 1)
            s_wire(msg.frames[0], step);
        else
            s_reply(&s, &msg);
        fz_message_free(&msg);
        s_check_seq(&s);
        if (step & 1)
            s_pump(&s);
        s_check_seq(&s);
    }
    s_pump(&s);
    FZ_CHECK(s.seq.position == s.last_queued);
    return 0;
}

/* --- seeds */

static void s_put_event(sp_buf_t *out, const Samspil__V1__Event *event)
{
    size_t size = samspil__v1__event__get_packed_size(event);
    uint8_t *packed = malloc(size ? size : 1);
    if (!packed)
        abort();
    samspil__v1__event__pack(event, packed);
    fz_put_frame(out, packed, size);
    free(packed);
}

static void s_put_live(sp_buf_t *out, uint8_t step, const Samspil__V1__Event *event)
{
    char topic[128];
    fz_put_byte(out, step);
    snprintf(topic, sizeof topic, "%s/%s/%s", event->stream, event->tenant, event->type);
    fz_put_str(out, topic);
    s_put_event(out, event);
    fz_put_end(out);
}

static void s_put_reply(sp_buf_t *out, uint8_t step, Samspil__V1__Event **events, size_t n,
                        uint64_t head, uint64_t scanned)
{
    Samspil__V1__ReplayReply reply = SAMSPIL__V1__REPLAY_REPLY__INIT;
    reply.events = events;
    reply.n_events = n;
    reply.head_seq = head;
    reply.scanned_to = scanned;
    size_t size = samspil__v1__replay_reply__get_packed_size(&reply);
    uint8_t *packed = malloc(size ? size : 1);
    if (!packed)
        abort();
    samspil__v1__replay_reply__pack(&reply, packed);
    fz_put_byte(out, step);
    fz_put_str(out, "");
    fz_put_str(out, SP_MDP_CLIENT);
    fz_put_str(out, SERVICE);
    fz_put_frame(out, packed, size);
    fz_put_end(out);
    free(packed);
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    fz_trace_init();
    const char *dir = fz_seed_dir();
    if (!dir)
        return 0;
    Samspil__V1__ActorEvent actor = SAMSPIL__V1__ACTOR_EVENT__INIT;
    actor.kind = SAMSPIL__V1__ACTOR_KIND__ACTOR_KIND_PROFESSIONAL;
    actor.organisation_id = "0190f5a4-7b7e-7c3a-9d2e-3f1a2b4c5d6e";
    Samspil__V1__Event e[4];
    for (int i = 0; i < 4; i++) {
        samspil__v1__event__init(&e[i]);
        e[i].stream = STREAM;
        e[i].seq = (uint64_t)i + 1;
        e[i].tenant = "101";
        e[i].type = "actor.registered";
        e[i].entity_id = "0190f5a4-7b7e-7c3a-9d2e-3f1a2b4c5d6f";
        e[i].occurred_at_us = 1795000000000000 + i;
        e[i].payload_case = SAMSPIL__V1__EVENT__PAYLOAD_ACTOR;
        e[i].actor = &actor;
    }
    Samspil__V1__MembershipEvent member = SAMSPIL__V1__MEMBERSHIP_EVENT__INIT;
    Samspil__V1__MemberRole roles[] = {SAMSPIL__V1__MEMBER_ROLE__MEMBER_ROLE_INITIATOR,
                                       SAMSPIL__V1__MEMBER_ROLE__MEMBER_ROLE_NEEDS_SUPPORT};
    member.partnership_id = "0190f5a4-7b7e-7c3a-9d2e-3f1a2b4c5d70";
    member.actor_id = "0190f5a4-7b7e-7c3a-9d2e-3f1a2b4c5d6f";
    member.roles = roles;
    member.n_roles = 2;
    e[2].type = "membership.added";
    e[2].payload_case = SAMSPIL__V1__EVENT__PAYLOAD_MEMBERSHIP;
    e[2].membership = &member;
    Samspil__V1__Event head = SAMSPIL__V1__EVENT__INIT;
    head.stream = STREAM;
    head.tenant = "";
    head.type = SP_EVENT_TYPE_HEAD;
    head.seq = 4;

    sp_buf_t s;
    sp_buf_init(&s);
    /* from position 0: replay 1-2, then live 3 and 4, a head */
    fz_put_byte(&s, 0);
    Samspil__V1__Event *first[] = {&e[0], &e[1]};
    s_put_reply(&s, 1, first, 2, 2, 2);
    s_put_live(&s, 1, &e[2]);
    s_put_live(&s, 1, &e[3]);
    s_put_live(&s, 1, &head);
    fz_write_seed(dir, "replay-then-live", &s);

    /* from the head: probe, then a gap in the live stream */
    sp_buf_reset(&s);
    fz_put_byte(&s, 1);
    s_put_reply(&s, 0, NULL, 0, 2, 2);
    s_put_live(&s, 0, &e[3]);
    s_put_live(&s, 3, &e[2]);
    Samspil__V1__Event *rest[] = {&e[2], &e[3]};
    s_put_reply(&s, 1, rest, 2, 4, 4);
    fz_write_seed(dir, "probe-and-gap", &s);

    /* a stored row as bytea text */
    sp_buf_reset(&s);
    fz_put_byte(&s, 6);
    size_t size = samspil__v1__event__get_packed_size(&e[2]);
    uint8_t *packed = malloc(size);
    if (!packed)
        abort();
    samspil__v1__event__pack(&e[2], packed);
    sp_buf_t hex;
    sp_buf_init(&hex);
    sp_buf_puts(&hex, "\\x");
    for (size_t i = 0; i < size; i++)
        sp_buf_printf(&hex, "%02x", packed[i]);
    fz_put_byte(&s, 0);
    fz_put_frame(&s, hex.data, hex.len);
    fz_put_end(&s);
    fz_write_seed(dir, "bytea-row", &s);
    free(packed);
    sp_buf_free(&hex);
    sp_buf_free(&s);
    exit(0);
}
