/*
 * sp_outbox.h - the publishing side of the event bus: the transactional
 * outbox a service writes its events into, the relay that publishes them
 * through the broker in sequence order, and the replay service.
 *
 * A service writes each event in the same transaction as the change it
 * describes, into <schema>.outbox (seq NULL).  Every instance of the
 * service runs a relay; exactly one of them (the one holding a session
 * advisory lock on its own connection) is the leader.  The leader assigns
 * the next per-stream sequence numbers to committed, unassigned rows in id
 * order (so a transaction that commits late simply gets a later number: no
 * gaps), commits that, then publishes the rows in seq order on a PUB socket
 * connected to the broker's events-in (XSUB) endpoint.  A new leader first
 * republishes what was assigned but maybe not published.  Subscribers drop
 * duplicates by seq and ask for a replay when they see a gap.
 *
 * Leadership: pg_try_advisory_lock(SP_OUTBOX_LOCK_CLASS, <hash of stream>)
 * on the relay's own connection; every round checks in the same statement
 * that this session still holds it (pg_locks), so a relay whose connection
 * was replaced stops assigning at once and competes again.  Non-leaders try
 * every 500 ms.
 *
 * Fault injection (tests only): SAMSPIL_FAULT=relay-exit-after-assign makes
 * the relay _exit(3) right after a round that assigned sequence numbers has
 * committed, before publishing them.  Read once, in sp_outbox_new.
 *
 * Tables every publishing service creates in its own schema (a migration;
 * the relay and replay use exactly these names and columns):
 *
 *   CREATE TABLE <schema>.outbox (
 *       id         bigserial PRIMARY KEY,
 *       tenant_id  text NOT NULL,
 *       event_type text NOT NULL,          -- "actor.registered"
 *       entity_id  text NOT NULL,
 *       payload    bytea NOT NULL,         -- packed samspil.v1.Event, seq 0, stream ""
 *       seq        bigint UNIQUE,          -- NULL until the relay assigns it
 *       created_at timestamptz NOT NULL DEFAULT now());
 *   CREATE INDEX outbox_unassigned ON <schema>.outbox (id) WHERE seq IS NULL;
 *   CREATE TABLE <schema>.outbox_stream (
 *       stream        text PRIMARY KEY,
 *       assigned_seq  bigint NOT NULL DEFAULT 0,
 *       published_seq bigint NOT NULL DEFAULT 0);
 *
 * Every event's row is updated once (seq), so the outbox should be vacuumed
 * after a fixed number of changes rather than a fraction of its size
 * (registration: sql/004_outbox_vacuum.sql); relay rounds read
 * outbox_unassigned with a plain index scan (enable_bitmapscan off for the
 * round's transaction) so dead index entries are marked and skipped.
 *
 * Row-level security on outbox: ENABLE + FORCE; a service inserts only rows
 * of the tenant its transaction set (policy FOR INSERT WITH CHECK on
 * samspil.tenant); the relay and replay read and update across tenants by
 * setting samspil.relay = 'on' for their transaction (policies FOR SELECT
 * and FOR UPDATE on that setting).  See docs/events.md.
 */
#ifndef SP_OUTBOX_H
#define SP_OUTBOX_H

#include "samspil/v1/events.pb-c.h"
#include "sp_curve.h"
#include "sp_worker.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <uv.h>

/* First key of the relay's advisory lock (the second is derived from the
 * stream name); documented so operators can see the leader in pg_locks. */
#define SP_OUTBOX_LOCK_CLASS 0x53504f58 /* "SPOX" */

/* Most events a ReplayRequest may ask for. */
#define SP_OUTBOX_REPLAY_MAX 5000
#define SP_OUTBOX_REPLAY_DEFAULT 500

typedef struct sp_outbox_t sp_outbox_t;

typedef struct {
    const char *stream;   /* "registration": the Event.stream and the outbox_stream key */
    const char *schema;   /* SQL identifier of the service's schema, e.g. "registration" */
    const char *conninfo; /* the service's database login; the relay opens its own connection */
    const char
        *events_endpoint; /* broker's events-in (XSUB) endpoint the relay's PUB connects to */
    unsigned batch;       /* rows assigned and published per round; 0: 1000 */
    int idle_ms;          /* wait between rounds that found nothing; 0: 20 */
    int head_ms;          /* interval of "stream.head" messages; 0: 1000 */
    const sp_curve_client_t
        *curve; /* NULL: sp_curve_client_load(NULL, NULL, SP_CURVE_SERVICE_CERT) */
} sp_outbox_config_t;

/* A relay (and replay server) on `loop`; config strings are copied.  Nothing
 * connects until sp_outbox_start.  Returns NULL on failure (logged). */
sp_outbox_t *sp_outbox_new(uv_loop_t *loop, void *zmq_context, const sp_outbox_config_t *config);

/* Open the relay's database connection (and one more for replay requests)
 * and PUB socket and start competing for leadership.  Returns 0 or -1
 * (logged). */
int sp_outbox_start(sp_outbox_t *self);

/* Stop relaying and close the socket and connections.  A round in flight is
 * abandoned: whatever it committed is published by the next leader, which
 * republishes from published_seq.  Replay requests in flight are answered
 * `unavailable`; destroy the replay worker after this.  The loop must run
 * once more to release handles.  Idempotent; nulls *self_p. */
void sp_outbox_destroy(sp_outbox_t **self_p);

/* True while this instance is the stream's relay leader. */
bool sp_outbox_is_leader(const sp_outbox_t *self);

/* Last sequence number this relay published (0 if it never led). */
uint64_t sp_outbox_published_seq(const sp_outbox_t *self);

/* Request handler for the service "samspil.events.<stream>" (pass the
 * sp_outbox_t as handler_arg of a second sp_worker): decodes a
 * ReplayRequest and answers a ReplayReply with the committed, sequenced
 * events from `from_seq`, filtered by type prefix and by the tenants the
 * request's principal may act for (all_tenants: all).  Roles operator,
 * integrator, facilitator and service may replay; readers are refused
 * (events are per entity, not aggregates).
 *
 * head_seq is the stream's assigned_seq: every event up to it is committed
 * and can be replayed (it may run a moment ahead of the live stream).
 * scanned_to is the last seq considered, also when filters dropped events;
 * a subscriber asks again from scanned_to + 1 until scanned_to >= the head
 * it wants.  A from_seq beyond the head returns no events and scanned_to =
 * head_seq (how a subscriber learns the head).  Errors: invalid_argument
 * (field "stream" when it is not this outbox's stream, "limit" above
 * SP_OUTBOX_REPLAY_MAX), permission_denied, unavailable (database). */
void sp_outbox_replay_handler(sp_request_t *request, void *arg);

/* Pack `event` (seq and stream left 0/empty: the relay sets them) as the
 * text form of a bytea parameter ("\\x0a03..."), for an INSERT into
 * <schema>.outbox.  Returns a malloc'd string the caller frees, or NULL. */
char *sp_outbox_payload_param(const Samspil__V1__Event *event);

/* Microseconds since the Unix epoch now (CLOCK_REALTIME), for
 * Event.occurred_at_us. */
int64_t sp_outbox_now_us(void);

/* The events endpoints of a suite under `home` (SAMSPIL_HOME, absolute):
 * "ipc://<home>/run/events-in.ipc" (publishers connect, the broker's XSUB
 * binds) and "ipc://<home>/run/events-out.ipc" (subscribers connect, XPUB
 * binds).  Writes into `out`; returns `out`. */
const char *sp_events_in_default(const char *home, char *out, size_t outlen);
const char *sp_events_out_default(const char *home, char *out, size_t outlen);

/* Topic frame of an event: "<stream>/<tenant>/<type>" into `out`.
 * Returns the length, or -1 if it does not fit. */
int sp_event_topic(const char *stream, const char *tenant, const char *type, char *out,
                   size_t outlen);

#define SP_EVENT_TYPE_HEAD "stream.head"

#endif
