/*
 * test_events_relay_fault.c - issue 3 point 5(c): a publishing worker that
 * dies between committing the sequence numbers and publishing them; the
 * events are still delivered once another instance takes over.
 *
 * Both suite registration workers are stopped (SIGTERM), and registration-1
 * is started again alone with SAMSPIL_FAULT=relay-exit-after-assign: it
 * becomes the relay leader, and its relay _exits right after the first
 * round that assigned sequence numbers has committed, before publishing
 * them (the whole worker process goes with it).  Then registration-2 is
 * started normally (another instance takes over the relay: it republishes
 * from published_seq) and registration-1 normally as well, so the suite has
 * its two workers back.  Creates left unanswered by the dead worker are
 * resent with the same idempotency key.  The event_sink helper (schema
 * evtest_relay_fault) must end with each seq 1..N exactly once, in order,
 * including those the dead relay numbered but never sent.
 *
 * Tenant 185.
 */
#include "ev_fault.h"
#include "itest.h"

#define T "185"
#define SCHEMA "evtest_relay_fault"
#define TOTAL 200
#define WAIT_US (90 * 1000000LL)

static suite_proc_t reg[2];
static PGconn *db;
static const char *home;
static bool fault_exited, taken_over;
static int fault_status = -1;
static long long assigned_at_exit = -1, published_at_exit = -1;

static long long stream_value(const char *column)
{
    char sql[160];
    snprintf(sql, sizeof sql,
             "SELECT %s FROM registration.outbox_stream WHERE stream = 'registration'", column);
    return ev_db_int(db, sql, 0, NULL);
}

/* Once the faulty worker is gone, start registration-2, then registration-1,
 * both without the fault. */
static void tick(ev_storm_t *s, void *arg)
{
    (void)s;
    (void)arg;
    if (taken_over)
        return;
    int status = 0;
    if (waitpid(reg[0].pid, &status, WNOHANG) != reg[0].pid)
        return;
    fault_exited = true;
    fault_status = status;
    assigned_at_exit = stream_value("assigned_seq");
    published_at_exit = stream_value("published_seq");
    fprintf(stderr, "itest: faulty worker exited (status %d), assigned %lld, published %lld\n",
            WIFEXITED(status) ? WEXITSTATUS(status) : -1, assigned_at_exit, published_at_exit);
    taken_over = suite_proc_restart(&reg[1], home, NULL) > 0;
    taken_over = suite_proc_restart(&reg[0], home, NULL) > 0 && taken_over;
}

int main(void)
{
    static ev_storm_t storm;
    home = itest_env("SAMSPIL_HOME");
    sp_client_t *client = rc_client();
    db = rc_db_owner();
    ev_db_relay(db);
    ITEST_CHECK(rc_tenant_ensure(client, T, "Ishoej Kommune") == 0, "tenant 185 exists");

    ev_stream_t st;
    ev_wait_published(db, WAIT_US, &st);
    static ev_sink_t sink;
    ev_sink_drop(db, SCHEMA);
    ITEST_CHECK(ev_sink_start(&sink, SCHEMA) == 0, "event_sink started");
    ev_applied_t a;
    bool caught_up = ev_sink_wait(db, SCHEMA, st.max_seq, WAIT_US, &a);
    ITEST_CHECKF(caught_up, "the sink caught up before the fault", "applied %lld of %lld",
                 a.distinct, st.max_seq);

    bool have = suite_proc_read(&reg[0], home, "registration-1") == 0 &&
                suite_proc_read(&reg[1], home, "registration-2") == 0;
    ITEST_CHECK(have, "both registration workers' command lines and environments read");
    if (!have)
        return itest_done();

    /* registration-1 alone, with the fault: it leads the relay */
    bool stopped = suite_proc_term(&reg[0]) == 0 && suite_proc_term(&reg[1]) == 0;
    ITEST_CHECK(stopped, "both registration workers stopped");
    int workers = suite_wait_workers(client, RC_SERVICE, 0, 30 * 1000000LL);
    ITEST_CHECKF(workers == 0, "the broker lists no registration worker", "%d", workers);
    pid_t faulty = suite_proc_restart(&reg[0], home, "SAMSPIL_FAULT=relay-exit-after-assign");
    ITEST_CHECK(faulty > 0, "registration-1 started with SAMSPIL_FAULT=relay-exit-after-assign");
    workers = suite_wait_workers(client, RC_SERVICE, 1, 30 * 1000000LL);
    ITEST_CHECKF(workers == 1, "the faulty worker is ready", "%d", workers);

    ev_storm_run(client, &storm, T, "relayfault", TOTAL, 16, WAIT_US, tick, NULL);
    /* the creates may all be answered before the relay's round: wait for the
     * exit (and the take-over) here too */
    int64_t deadline = rc_now_us() + 30 * 1000000LL;
    while (!taken_over && rc_now_us() < deadline) {
        tick(&storm, NULL);
        usleep(20 * 1000);
    }
    if (!taken_over) {
        /* restore the suite anyway, so the tests after this one have workers */
        suite_proc_kill(&reg[0]);
        suite_reap();
        suite_proc_restart(&reg[1], home, NULL);
        suite_proc_restart(&reg[0], home, NULL);
    }
    ITEST_CHECKF(fault_exited && WIFEXITED(fault_status) && WEXITSTATUS(fault_status) == 3,
                 "the faulty relay exited (status 3) after a round assigned seqs",
                 "exited %d status %d", fault_exited, fault_status);
    ITEST_CHECKF(assigned_at_exit > published_at_exit && published_at_exit >= 0,
                 "it died with events numbered but not published", "assigned %lld published %lld",
                 assigned_at_exit, published_at_exit);
    ITEST_CHECK(taken_over, "registration-2 and registration-1 started again without the fault");
    ev_check_storm_events(db, &storm, "relay fault");
    ev_check_delivered(db, SCHEMA, "relay fault", WAIT_US);

    workers = suite_wait_workers(client, RC_SERVICE, 2, 30 * 1000000LL);
    ITEST_CHECKF(workers == 2, "both registration workers are back", "%d", workers);

    ITEST_CHECK(ev_sink_stop(&sink), "the sink stops on SIGTERM with status 0");
    ev_sink_drop(db, SCHEMA);
    suite_proc_free(&reg[0]);
    suite_proc_free(&reg[1]);
    PQfinish(db);
    sp_client_destroy(&client);
    suite_reap();
    return itest_done();
}
