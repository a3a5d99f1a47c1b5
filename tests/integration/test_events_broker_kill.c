/*
 * test_events_broker_kill.c - issue 3 point 5(b): the broker killed with
 * SIGKILL while 1,000 events flow, then restarted: nothing is lost.
 *
 * The event_sink helper (schema evtest_broker_kill) first catches up with
 * the registration stream.  Then 1,000 actor creates flow through the
 * broker; after a third of them are answered the suite's broker
 * ($SAMSPIL_HOME/run/broker.pid) is killed and started again with the same
 * command line, environment and working directory.  Creates lost with it
 * are resent with the same idempotency key; events published while it was
 * down are replayed by the subscriber.  Afterwards the sink holds each seq
 * 1..N exactly once, in order, and the suite has its broker and both
 * registration workers (and their replay workers) back for later tests.
 *
 * Tenant 183.
 */
#include "ev_fault.h"
#include "itest.h"

#define T "183"
#define SCHEMA "evtest_broker_kill"
#define TOTAL 1000
#define WAIT_US (90 * 1000000LL)

static suite_proc_t broker;
static bool have_broker, killed, restarted;
static int acks_at_kill;

static void tick(ev_storm_t *s, void *arg)
{
    const char *home = arg;
    if (killed || !have_broker || s->acked < TOTAL / 3)
        return;
    acks_at_kill = s->acked;
    killed = suite_proc_kill(&broker) == 0;
    fprintf(stderr, "itest: broker (pid %ld) killed after %d creates answered\n", (long)broker.pid,
            s->acked);
    usleep(300 * 1000); /* down for a moment while the client keeps sending */
    restarted = suite_proc_restart(&broker, home, NULL) > 0;
}

int main(void)
{
    static ev_storm_t storm;
    const char *home = itest_env("SAMSPIL_HOME");
    sp_client_t *client = rc_client();
    PGconn *db = rc_db_owner();
    ev_db_relay(db);
    ITEST_CHECK(rc_tenant_ensure(client, T, "Hvidovre Kommune") == 0, "tenant 183 exists");

    /* the sink catches up first, so the kill meets it following live */
    ev_stream_t st;
    ev_wait_published(db, WAIT_US, &st);
    static ev_sink_t sink;
    ev_sink_drop(db, SCHEMA);
    ITEST_CHECK(ev_sink_start(&sink, SCHEMA) == 0, "event_sink started");
    ev_applied_t a;
    bool caught_up = ev_sink_wait(db, SCHEMA, st.max_seq, WAIT_US, &a);
    ITEST_CHECKF(caught_up, "the sink caught up before the kill", "applied %lld of %lld",
                 a.distinct, st.max_seq);

    have_broker = suite_proc_read(&broker, home, "broker") == 0;
    ITEST_CHECKF(have_broker, "broker pid, command line and environment read",
                 "no live process in %s/run/broker.pid", home);

    ev_storm_run(client, &storm, T, "brokerkill", TOTAL, 64, WAIT_US, tick, (void *)home);
    ITEST_CHECKF(killed && restarted && acks_at_kill < TOTAL,
                 "the broker was killed while events flowed, and restarted",
                 "killed %d restarted %d after %d of %d creates", killed, restarted, acks_at_kill,
                 TOTAL);
    ev_check_storm_events(db, &storm, "broker kill");
    ev_check_delivered(db, SCHEMA, "broker kill", WAIT_US);

    /* the suite as it was, for the tests after this one */
    int workers = suite_wait_workers(client, RC_SERVICE, 2, 30 * 1000000LL);
    ITEST_CHECKF(workers == 2, "both registration workers are back on the restarted broker", "%d",
                 workers);
    workers = suite_wait_workers(client, "samspil.events.registration", 2, 30 * 1000000LL);
    ITEST_CHECKF(workers == 2, "both replay workers are back on the restarted broker", "%d",
                 workers);

    ITEST_CHECK(ev_sink_stop(&sink), "the sink stops on SIGTERM with status 0");
    ev_sink_drop(db, SCHEMA);
    suite_proc_free(&broker);
    PQfinish(db);
    sp_client_destroy(&client);
    suite_reap();
    return itest_done();
}
