/*
 * test_events_sink_kill.c - issue 3 point 5(a): a subscriber killed with
 * SIGKILL mid-stream and restarted applies every event exactly once.
 *
 * The event_sink helper (its own schema, evtest_sink_kill) follows the
 * registration stream from seq 1 and first catches up with it.  Then 1,000
 * actor creates flow through the broker; once the sink has applied 100 of
 * their events live (or, bounded, once 90% of the creates are answered), it
 * is killed with SIGKILL and started again at once, while events are still
 * being written and published.
 * Afterwards it must hold each seq 1..N of the stream exactly once, in seq
 * order, each the event the outbox holds under that seq.
 *
 * Tenant 175.
 */
#include "ev_fault.h"
#include "itest.h"

#define T "175"
#define SCHEMA "evtest_sink_kill"
#define TOTAL 1000
#define WAIT_US (90 * 1000000LL)

static ev_sink_t sink;
static PGconn *db;
static long long start_seq; /* the stream's head before the creates */
static bool killed, restarted;
static long long killed_at_seq, killed_after_acks;

/* Kill the sink once it has applied 100 events of this run (or, bounded,
 * once 90% of the creates are answered), and start it again at once. */
static void tick(ev_storm_t *s, void *arg)
{
    (void)arg;
    if (killed)
        return;
    ev_applied_t a;
    ev_sink_applied(db, SCHEMA, &a);
    if (a.max_seq >= start_seq + 100 || s->acked >= TOTAL * 9 / 10) {
        ev_sink_kill(&sink);
        killed = true;
        killed_at_seq = a.max_seq;
        killed_after_acks = s->acked;
        fprintf(stderr, "itest: sink killed after applying up to seq %lld (%d creates answered)\n",
                a.max_seq, s->acked);
        restarted = ev_sink_start(&sink, SCHEMA) == 0;
    }
}

int main(void)
{
    static ev_storm_t storm;
    sp_client_t *client = rc_client();
    db = rc_db_owner();
    ev_db_relay(db);
    ITEST_CHECK(rc_tenant_ensure(client, T, "Roedovre Kommune") == 0, "tenant 175 exists");
    ev_stream_t st;
    ev_wait_published(db, WAIT_US, &st);
    start_seq = st.max_seq;

    ev_sink_drop(db, SCHEMA);
    ITEST_CHECK(ev_sink_start(&sink, SCHEMA) == 0, "event_sink started");
    ev_applied_t a;
    bool caught_up = ev_sink_wait(db, SCHEMA, start_seq, WAIT_US, &a);
    ITEST_CHECKF(caught_up, "the sink caught up with the stream", "applied %lld of %lld",
                 a.distinct, start_seq);

    ev_storm_run(client, &storm, T, "sinkkill", TOTAL, 16, WAIT_US, tick, NULL);
    ITEST_CHECKF(killed && restarted, "the sink was killed mid-stream and restarted",
                 "killed %d restarted %d", killed, restarted);
    ITEST_CHECKF(killed_at_seq > start_seq && killed_at_seq < start_seq + TOTAL &&
                     killed_after_acks < TOTAL,
                 "the kill came while the sink applied the creates' events live",
                 "applied up to %lld of %lld, %lld creates answered", killed_at_seq,
                 start_seq + TOTAL, killed_after_acks);
    ev_check_storm_events(db, &storm, "sink kill");
    ev_check_delivered(db, SCHEMA, "sink kill", WAIT_US);

    ITEST_CHECK(ev_sink_stop(&sink), "the sink stops on SIGTERM with status 0");
    ev_sink_drop(db, SCHEMA);
    PQfinish(db);
    sp_client_destroy(&client);
    return itest_done();
}
