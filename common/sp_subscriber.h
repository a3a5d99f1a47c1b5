/*
 * sp_subscriber.h - the consuming side of the event bus: follow one stream
 * live from the broker's events-out (XPUB) endpoint, and apply every event
 * whose type starts with a prefix exactly once, in sequence order.
 *
 * The subscriber keeps its position: the last sequence number it applied
 * (or skipped because the type did not match).  An event with seq <=
 * position is a duplicate and dropped; seq > position + 1 (or a
 * "stream.head" beyond the position) means events were missed, so it stops
 * applying live events and asks the publishing service
 * ("samspil.events.<stream>" on the broker) for a replay from position + 1
 * until it has caught up.  On start it replays from its stored position
 * before applying anything live.  While it replays, live events are not
 * buffered (they only raise the head it replays up to); in live mode a
 * bounded queue holds contiguous events while an apply is in progress.
 * Events whose type does not match the prefix advance the position without
 * an apply call.  Replay requests go over the broker's MDP client protocol
 * (a DEALER socket; on timeout the socket is replaced and the request sent
 * again, until it is answered).  Logs carry counts, seqs and the stream,
 * never payload values.
 *
 * Exactly once across crashes needs the position stored with the effect: the
 * apply callback writes its effect and advances <schema>.event_cursor in the
 * same transaction (SP_EVENT_CURSOR_ADVANCE_SQL).  The cursor refuses to move
 * backwards or stay put, so a second delivery of an applied event fails the
 * transaction (sp_subscriber_tx_duplicate) and its effect is not repeated,
 * even with two subscriber processes.  DDL each subscribing service creates:
 *
 *   CREATE TABLE <schema>.event_cursor (
 *       stream   text PRIMARY KEY,
 *       last_seq bigint NOT NULL);
 *   CREATE FUNCTION <schema>.event_cursor_forward() RETURNS trigger
 *   LANGUAGE plpgsql AS $$
 *   BEGIN
 *       IF NEW.last_seq <= OLD.last_seq THEN
 *           RAISE EXCEPTION 'event % of stream % already applied', NEW.last_seq, NEW.stream
 *               USING ERRCODE = 'unique_violation', CONSTRAINT = 'event_cursor_forward';
 *       END IF;
 *       RETURN NEW;
 *   END $$;
 *   CREATE TRIGGER event_cursor_forward BEFORE UPDATE ON <schema>.event_cursor
 *       FOR EACH ROW EXECUTE FUNCTION <schema>.event_cursor_forward();
 *
 * All calls happen on the loop thread.
 */
#ifndef SP_SUBSCRIBER_H
#define SP_SUBSCRIBER_H

#include "samspil/v1/events.pb-c.h"
#include "sp_curve.h"
#include "sp_db.h"

#include <stdbool.h>
#include <stdint.h>
#include <uv.h>

typedef struct sp_subscriber_t sp_subscriber_t;

typedef enum {
    SP_APPLY_OK,        /* applied and the position stored */
    SP_APPLY_DUPLICATE, /* was already applied (cursor refused): treated as applied */
    SP_APPLY_RETRY,     /* transient failure (database down): the same event again after a delay */
} sp_apply_result_t;

/* Called for each matching event, in seq order, one at a time: the next
 * call comes only after sp_subscriber_done for this one (which may be
 * called from inside the callback).  `event` is borrowed until then. */
typedef void(sp_subscriber_apply_fn)(sp_subscriber_t *subscriber, const Samspil__V1__Event *event,
                                     void *arg);

typedef struct {
    const char *stream;          /* "registration" */
    const char *type_prefix;     /* "" or NULL: every type; "membership.": those */
    const char *events_endpoint; /* broker's events-out (XPUB) endpoint */
    const char *broker_endpoint; /* broker's client endpoint, for replay requests */
    uint64_t position;           /* last seq applied before (0: from the beginning) */
    bool from_head;              /* true: ignore `position`, start after the current head
                                    (learnt by a replay request from beyond the head) */
    unsigned replay_batch;       /* events per replay request; 0: 500 */
    int replay_timeout_ms;       /* per replay attempt; 0: 3000 (retried until it works) */
    /* Tenants to follow (copied).  0: the whole stream (subscription
     * "<stream>/", for operators and services).  Otherwise one subscription
     * "<stream>/<tenant>/" per tenant plus "<stream>//" for heads, which is
     * all the broker lets an integrator have; events of other tenants then
     * show up as gaps, which the tenant-filtered replay fills. */
    const char *const *tenants;
    size_t ntenants;
    sp_subscriber_apply_fn *apply;
    void *arg;
    const sp_curve_client_t
        *curve; /* NULL: sp_curve_client_load(NULL, NULL, SP_CURVE_SERVICE_CERT) */
} sp_subscriber_config_t;

/* A subscriber on `loop` (config strings copied).  Returns NULL on failure. */
sp_subscriber_t *sp_subscriber_new(uv_loop_t *loop, void *zmq_context,
                                   const sp_subscriber_config_t *config);

/* Connect, subscribe to "<stream>/" and catch up from the position.
 * Returns 0 or -1 (logged). */
int sp_subscriber_start(sp_subscriber_t *self);

/* Report the outcome of the apply call for the event with `seq`. */
void sp_subscriber_done(sp_subscriber_t *self, uint64_t seq, sp_apply_result_t result);

/* Last seq applied or skipped. */
uint64_t sp_subscriber_position(const sp_subscriber_t *self);

/* Events applied, duplicates dropped, replays requested (for logs and tests). */
uint64_t sp_subscriber_applied_count(const sp_subscriber_t *self);
uint64_t sp_subscriber_replay_count(const sp_subscriber_t *self);
uint64_t sp_subscriber_duplicate_count(const sp_subscriber_t *self);

/* Highest seq known to exist on the stream (live events, heads, replays). */
uint64_t sp_subscriber_head(const sp_subscriber_t *self);

/* Close sockets and timers (the loop must run once more); an apply in
 * progress must have been reported done first.  Idempotent; nulls *self_p. */
void sp_subscriber_destroy(sp_subscriber_t **self_p);

/* Statement advancing the cursor: parameters $1 stream, $2 seq.  `schema`
 * must be a string literal. */
#define SP_EVENT_CURSOR_ADVANCE_SQL(schema)                                                        \
    "INSERT INTO " schema ".event_cursor (stream, last_seq) VALUES ($1, $2::bigint) "              \
    "ON CONFLICT (stream) DO UPDATE SET last_seq = EXCLUDED.last_seq"

/* After a failed transaction: true if it failed because the cursor refused
 * (the event was already applied). */
bool sp_subscriber_tx_duplicate(const sp_db_tx_t *tx);

/* Read the stored position of `stream` from <schema>.event_cursor with a
 * short blocking connection (for start-up).  0 if there is no row.
 * Returns 0, or -1 (logged). */
int sp_subscriber_load_position(const char *conninfo, const char *schema, const char *stream,
                                uint64_t *position);

#endif
