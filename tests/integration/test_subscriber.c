/*
 * test_subscriber.c - the event bus's common modules end to end on the
 * suite's broker, with a stream of their own: a scratch schema with an
 * outbox (created as owner), a child process running the relay
 * (sp_outbox) and the replay service on the broker, and sp_subscriber in
 * this process.
 *
 * Checks: transactions committing out of id order still give seqs without
 * gaps; replay answers in order with the right head and scanned_to, filters
 * by type prefix, refuses a wrong stream and a too large limit, and answers
 * a probe beyond the head; a subscriber applies every event exactly once in
 * order while more are committed; a relay killed between commit and publish
 * (SAMSPIL_FAULT=relay-exit-after-assign) is replaced and nothing is lost.
 */
#include "itest.h"
#include "samspil/v1/events.pb-c.h"
#include "sp_client.h"
#include "sp_log.h"
#include "sp_outbox.h"
#include "sp_subscriber.h"
#include "sp_worker.h"

#include <inttypes.h>
#include <libpq-fe.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <zmq.h>

static char s_schema[64];
static char s_stream[64];
static char s_service[96];
static const char *s_owner;
static char s_self[4096]; /* this program, run again as the relay */
static char s_events_in[4096], s_events_out[4096];

static PGconn *s_connect(void)
{
    PGconn *pg = PQconnectdb(s_owner);
    if (PQstatus(pg) != CONNECTION_OK) {
        fprintf(stderr, "test_subscriber: could not connect: %s", PQerrorMessage(pg));
        exit(2);
    }
    return pg;
}

static int s_exec(PGconn *pg, const char *sql)
{
    PGresult *res = PQexec(pg, sql);
    ExecStatusType st = PQresultStatus(res);
    int ok = st == PGRES_COMMAND_OK || st == PGRES_TUPLES_OK;
    if (!ok)
        fprintf(stderr, "test_subscriber: %s\n", PQresultErrorMessage(res));
    PQclear(res);
    return ok ? 0 : -1;
}

static int s_execf(PGconn *pg, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static int s_execf(PGconn *pg, const char *fmt, ...)
{
    char sql[4096];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(sql, sizeof sql, fmt, ap);
    va_end(ap);
    return s_exec(pg, sql);
}

static void s_ignore_notice(void *arg, const char *message)
{
    (void)arg;
    (void)message;
}

static int s_setup(void)
{
    PGconn *pg = s_connect();
    PQsetNoticeProcessor(pg, s_ignore_notice, NULL);
    const char *s = s_schema;
    int rc = s_execf(pg,
                     "CREATE SCHEMA %s;"
                     "CREATE TABLE %s.outbox (id bigserial PRIMARY KEY, tenant_id text NOT NULL,"
                     " event_type text NOT NULL, entity_id text NOT NULL, payload bytea NOT NULL,"
                     " seq bigint UNIQUE, created_at timestamptz NOT NULL DEFAULT now());"
                     "CREATE INDEX ON %s.outbox (id) WHERE seq IS NULL;"
                     "CREATE TABLE %s.outbox_stream (stream text PRIMARY KEY,"
                     " assigned_seq bigint NOT NULL DEFAULT 0,"
                     " published_seq bigint NOT NULL DEFAULT 0);"
                     "ALTER TABLE %s.outbox ENABLE ROW LEVEL SECURITY;"
                     "ALTER TABLE %s.outbox FORCE ROW LEVEL SECURITY;"
                     "CREATE POLICY ins ON %s.outbox FOR INSERT WITH CHECK"
                     " (tenant_id = NULLIF(current_setting('samspil.tenant', true), ''));"
                     "CREATE POLICY sel ON %s.outbox FOR SELECT"
                     " USING (current_setting('samspil.relay', true) = 'on');"
                     "CREATE POLICY upd ON %s.outbox FOR UPDATE"
                     " USING (current_setting('samspil.relay', true) = 'on')"
                     " WITH CHECK (current_setting('samspil.relay', true) = 'on');",
                     s, s, s, s, s, s, s, s, s);
    PQfinish(pg);
    return rc;
}

static void s_teardown(void)
{
    PGconn *pg = s_connect();
    PQsetNoticeProcessor(pg, s_ignore_notice, NULL);
    s_execf(pg, "DROP SCHEMA IF EXISTS %s CASCADE", s_schema);
    PQfinish(pg);
}

/* INSERT statement of `n` events of `type` for tenant `tenant` (in a
 * transaction that set the tenant). */
static int s_insert(PGconn *pg, const char *tenant, const char *type, int n)
{
    char sql[2048];
    snprintf(sql, sizeof sql,
             "INSERT INTO %s.outbox (tenant_id, event_type, entity_id, payload) "
             "SELECT $1, $2, 'e' || g, '\\x1a'::bytea || set_byte('\\x00'::bytea, 0, length($1)) "
             "|| convert_to($1, 'UTF8') || '\\x22'::bytea || set_byte('\\x00'::bytea, 0, "
             "length($2)) || convert_to($2, 'UTF8') FROM generate_series(1, $3::int) g",
             s_schema);
    char count[16];
    snprintf(count, sizeof count, "%d", n);
    const char *params[] = {tenant, type, count};
    PGresult *res = PQexecParams(pg, sql, 3, NULL, params, NULL, NULL, 0);
    int ok = PQresultStatus(res) == PGRES_COMMAND_OK;
    if (!ok)
        fprintf(stderr, "test_subscriber: insert: %s\n", PQresultErrorMessage(res));
    PQclear(res);
    return ok ? 0 : -1;
}

/* One committed transaction of `n` events. */
static int s_commit_events(const char *tenant, const char *type, int n)
{
    PGconn *pg = s_connect();
    char set[64];
    snprintf(set, sizeof set, "SELECT set_config('samspil.tenant', '%s', true)", tenant);
    int rc = s_exec(pg, "BEGIN") == 0 && s_exec(pg, set) == 0 &&
                     s_insert(pg, tenant, type, n) == 0 && s_exec(pg, "COMMIT") == 0
                 ? 0
                 : -1;
    PQfinish(pg);
    return rc;
}

/* --- the relay process */

static void s_on_child_signal(uv_signal_t *handle, int signum)
{
    (void)signum;
    uv_stop(handle->loop);
}

/* The relay process's main: `test_subscriber relay SCHEMA STREAM`. */
static int s_relay_main(void)
{
    sp_log_init("test-relay");
    uv_loop_t loop;
    uv_loop_init(&loop);
    void *ctx = zmq_ctx_new();
    sp_outbox_config_t oc = {.stream = s_stream,
                             .schema = s_schema,
                             .conninfo = s_owner,
                             .events_endpoint = s_events_in,
                             .head_ms = 200};
    sp_outbox_t *outbox = sp_outbox_new(&loop, ctx, &oc);
    if (!outbox || sp_outbox_start(outbox) != 0)
        return 1;
    sp_worker_config_t wc = {.endpoint = getenv("SAMSPIL_BROKER"),
                             .service = s_service,
                             .credit = 4,
                             .handler = sp_outbox_replay_handler,
                             .handler_arg = outbox};
    sp_worker_t *worker = sp_worker_new(&loop, ctx, &wc);
    if (!worker || sp_worker_start(worker) != 0)
        return 1;
    uv_signal_t sig;
    uv_signal_init(&loop, &sig);
    uv_signal_start(&sig, s_on_child_signal, SIGTERM);
    uv_run(&loop, UV_RUN_DEFAULT);
    sp_outbox_destroy(&outbox);
    sp_worker_destroy(&worker);
    uv_close((uv_handle_t *)&sig, NULL);
    uv_run(&loop, UV_RUN_DEFAULT);
    uv_loop_close(&loop);
    zmq_ctx_term(ctx);
    return 0;
}

/* Start this program again as the relay process (a fresh process, not a
 * fork of one with ZeroMQ threads). */
static pid_t s_start_relay(bool fault)
{
    fflush(stdout);
    pid_t pid = fork();
    if (pid != 0)
        return pid;
    prctl(PR_SET_PDEATHSIG, SIGTERM); /* never outlive the test */
    if (fault)
        setenv("SAMSPIL_FAULT", "relay-exit-after-assign", 1);
    execl(s_self, s_self, "relay", s_schema, s_stream, (char *)NULL);
    _exit(127);
}

static void s_stop_relay(pid_t pid)
{
    kill(pid, SIGTERM);
    int status;
    waitpid(pid, &status, 0);
}

/* --- replay by a blocking client */

static Samspil__V1__ReplayReply *s_replay(sp_client_t *client, const char *stream, uint64_t from,
                                          uint32_t limit, const char *prefix)
{
    Samspil__V1__ReplayRequest req = SAMSPIL__V1__REPLAY_REQUEST__INIT;
    req.stream = (char *)stream;
    req.from_seq = from;
    req.limit = limit;
    req.type_prefix = (char *)(prefix ? prefix : "");
    ProtobufCMessage *reply = NULL;
    if (sp_client_call_pb(client, s_service, &req.base, &samspil__v1__replay_reply__descriptor,
                          &reply) != 0)
        return NULL;
    return (Samspil__V1__ReplayReply *)reply;
}

/* Wait until the stream's assigned_seq reaches `want` (the relay numbered
 * every committed row).  Returns the last value seen. */
static uint64_t s_wait_assigned(uint64_t want, int timeout_ms)
{
    PGconn *pg = s_connect();
    char sql[256];
    snprintf(sql, sizeof sql, "SELECT assigned_seq FROM %s.outbox_stream", s_schema);
    uint64_t got = 0;
    for (int waited = 0; waited <= timeout_ms; waited += 20) {
        PGresult *res = PQexec(pg, sql);
        if (PQresultStatus(res) == PGRES_TUPLES_OK && PQntuples(res) == 1)
            got = strtoull(PQgetvalue(res, 0, 0), NULL, 10);
        PQclear(res);
        if (got >= want)
            break;
        usleep(20000);
    }
    PQfinish(pg);
    return got;
}

/* --- subscriber in this process */

typedef struct {
    uint64_t *seqs;
    size_t n, cap;
    uint64_t want;
    int bad_order;
} s_applied_t;

static void s_apply(sp_subscriber_t *sub, const Samspil__V1__Event *event, void *arg)
{
    s_applied_t *a = arg;
    if (a->n && event->seq <= a->seqs[a->n - 1])
        a->bad_order++;
    if (a->n == a->cap) {
        a->cap = a->cap ? a->cap * 2 : 1024;
        a->seqs = realloc(a->seqs, a->cap * sizeof *a->seqs);
        if (!a->seqs)
            abort();
    }
    a->seqs[a->n++] = event->seq;
    sp_subscriber_done(sub, event->seq, SP_APPLY_OK);
}

typedef struct {
    sp_subscriber_t *sub;
    s_applied_t *applied;
    int phase;
    int ticks;
    pid_t relay;
} s_run_t;

static void s_on_tick(uv_timer_t *timer)
{
    s_run_t *run = timer->data;
    run->ticks++;
    /* more events arrive while the subscriber follows the stream */
    if (run->phase < 5) {
        s_commit_events("751", "live.added", 200);
        run->phase++;
    }
    if (sp_subscriber_position(run->sub) >= run->applied->want || run->ticks > 1500)
        uv_stop(timer->loop);
}

int main(int argc, char **argv)
{
    s_owner = itest_env("SAMSPIL_OWNER_DB");
    const char *home = itest_env("SAMSPIL_HOME");
    itest_env("SAMSPIL_BROKER");
    if (!realpath(argv[0], s_self)) {
        fprintf(stderr, "test_subscriber: cannot resolve %s\n", argv[0]);
        return 2;
    }
    bool relay_process = argc == 4 && strcmp(argv[1], "relay") == 0;
    sp_log_init("test-subscriber");
    snprintf(s_schema, sizeof s_schema, "%s", relay_process ? argv[2] : "");
    snprintf(s_stream, sizeof s_stream, "%s", relay_process ? argv[3] : "");
    if (!relay_process) {
        snprintf(s_schema, sizeof s_schema, "evtest_%d", (int)getpid());
        snprintf(s_stream, sizeof s_stream, "evtest%d", (int)getpid());
    }
    snprintf(s_service, sizeof s_service, "samspil.events.%s", s_stream);
    const char *in = getenv("SAMSPIL_EVENTS_IN"), *out = getenv("SAMSPIL_EVENTS_OUT");
    if (in && *in)
        snprintf(s_events_in, sizeof s_events_in, "%s", in);
    else
        sp_events_in_default(home, s_events_in, sizeof s_events_in);
    if (out && *out)
        snprintf(s_events_out, sizeof s_events_out, "%s", out);
    else
        sp_events_out_default(home, s_events_out, sizeof s_events_out);
    if (relay_process)
        return s_relay_main();
    if (!ITEST_CHECK(s_setup() == 0, "scratch outbox schema created"))
        return itest_done();

    /* out-of-order commits: A inserts first (lower ids) but commits last */
    PGconn *a = s_connect(), *b = s_connect();
    s_exec(a, "BEGIN");
    s_exec(a, "SELECT set_config('samspil.tenant', '751', true)");
    s_insert(a, "751", "alpha.made", 50);
    pid_t relay = s_start_relay(false);
    s_exec(b, "BEGIN");
    s_exec(b, "SELECT set_config('samspil.tenant', '101', true)");
    s_insert(b, "101", "beta.made", 30);
    s_exec(b, "COMMIT");
    ITEST_CHECKF(s_wait_assigned(30, 5000) == 30,
                 "committed rows numbered while an earlier one is open", "assigned %" PRIu64,
                 s_wait_assigned(0, 0));
    s_exec(a, "COMMIT");
    ITEST_CHECK(s_wait_assigned(80, 5000) == 80, "the late commit gets the next numbers");
    PQfinish(a);
    PQfinish(b);

    sp_client_t *client = sp_client_new(getenv("SAMSPIL_BROKER"));
    sp_client_set_timeout(client, 3000);
    Samspil__V1__ReplayReply *r = NULL;
    for (int i = 0; i < 50 && !r; i++) { /* the worker may still be registering */
        r = s_replay(client, s_stream, 1, 1000, "");
        if (r && r->error && r->error->code == SAMSPIL__V1__ERROR_CODE__ERROR_CODE_UNAVAILABLE) {
            samspil__v1__replay_reply__free_unpacked(r, NULL);
            r = NULL;
            usleep(100000);
        }
    }
    if (ITEST_CHECK(r && !r->error, "replay from the beginning answers")) {
        bool in_order = r->n_events == 80;
        for (size_t i = 0; in_order && i < r->n_events; i++)
            in_order = r->events[i]->seq == i + 1 && strcmp(r->events[i]->stream, s_stream) == 0;
        ITEST_CHECKF(in_order, "replay returns seqs 1..80 without gaps, stamped with the stream",
                     "%zu events", r->n_events);
        ITEST_CHECK(r->n_events == 80 && strcmp(r->events[0]->type, "beta.made") == 0 &&
                        strcmp(r->events[0]->tenant, "101") == 0 &&
                        strcmp(r->events[30]->type, "alpha.made") == 0,
                    "the first committed transaction has the first numbers");
        ITEST_CHECK(r->head_seq == 80 && r->scanned_to == 80, "head_seq and scanned_to are 80");
    }
    if (r)
        samspil__v1__replay_reply__free_unpacked(r, NULL);

    r = s_replay(client, s_stream, 5, 10, "");
    ITEST_CHECK(r && !r->error && r->n_events == 10 && r->events[0]->seq == 5 &&
                    r->scanned_to == 14 && r->head_seq == 80,
                "a limited replay ends at its last event");
    if (r)
        samspil__v1__replay_reply__free_unpacked(r, NULL);
    r = s_replay(client, s_stream, 1, 5, "alpha.");
    ITEST_CHECK(r && !r->error && r->n_events == 5 && r->events[0]->seq == 31 &&
                    r->scanned_to == 35,
                "type prefix filter skips other types and says how far it scanned");
    if (r)
        samspil__v1__replay_reply__free_unpacked(r, NULL);
    r = s_replay(client, s_stream, 1, 100, "nothing.");
    ITEST_CHECK(r && !r->error && r->n_events == 0 && r->scanned_to == 80,
                "a filter matching nothing scans to the head");
    if (r)
        samspil__v1__replay_reply__free_unpacked(r, NULL);
    r = s_replay(client, s_stream, (uint64_t)INT64_MAX, 1, "");
    ITEST_CHECK(r && !r->error && r->n_events == 0 && r->scanned_to == 80 && r->head_seq == 80,
                "a probe beyond the head learns the head");
    if (r)
        samspil__v1__replay_reply__free_unpacked(r, NULL);
    r = s_replay(client, "registration-x", 1, 10, "");
    ITEST_CHECK(r && r->error &&
                    r->error->code == SAMSPIL__V1__ERROR_CODE__ERROR_CODE_INVALID_ARGUMENT &&
                    strcmp(r->error->field, "stream") == 0,
                "a wrong stream is invalid_argument on field stream");
    if (r)
        samspil__v1__replay_reply__free_unpacked(r, NULL);
    r = s_replay(client, s_stream, 1, 5001, "");
    ITEST_CHECK(r && r->error &&
                    r->error->code == SAMSPIL__V1__ERROR_CODE__ERROR_CODE_INVALID_ARGUMENT &&
                    strcmp(r->error->field, "limit") == 0,
                "a limit above 5000 is invalid_argument on field limit");
    if (r)
        samspil__v1__replay_reply__free_unpacked(r, NULL);

    /* a subscriber from the beginning while 1000 more events are committed */
    uv_loop_t loop;
    uv_loop_init(&loop);
    void *ctx = zmq_ctx_new();
    s_applied_t applied = {.want = 80 + 1000};
    char broker[4096];
    snprintf(broker, sizeof broker, "%s", getenv("SAMSPIL_BROKER"));
    sp_subscriber_config_t sc = {.stream = s_stream,
                                 .events_endpoint = s_events_out,
                                 .broker_endpoint = broker,
                                 .replay_batch = 100,
                                 .apply = s_apply,
                                 .arg = &applied};
    sp_subscriber_t *sub = sp_subscriber_new(&loop, ctx, &sc);
    ITEST_CHECK(sub && sp_subscriber_start(sub) == 0, "subscriber starts");
    s_run_t run = {.sub = sub, .applied = &applied, .relay = relay};
    uv_timer_t tick;
    uv_timer_init(&loop, &tick);
    tick.data = &run;
    uv_timer_start(&tick, s_on_tick, 10, 10);
    uv_run(&loop, UV_RUN_DEFAULT);
    bool contiguous = applied.n == applied.want;
    for (size_t i = 0; contiguous && i < applied.n; i++)
        contiguous = applied.seqs[i] == i + 1;
    ITEST_CHECKF(contiguous && applied.bad_order == 0,
                 "subscriber applies every event once, in order, while more are committed",
                 "applied %zu of %" PRIu64 ", position %" PRIu64, applied.n, applied.want,
                 sp_subscriber_position(sub));

    /* the relay dies between commit and publish; another takes over */
    s_stop_relay(relay);
    pid_t faulty = s_start_relay(true);
    usleep(300000);
    s_commit_events("751", "after.fault", 20);
    int status = 0;
    for (int i = 0; i < 100 && waitpid(faulty, &status, WNOHANG) == 0; i++)
        usleep(50000);
    ITEST_CHECKF(WIFEXITED(status) && WEXITSTATUS(status) == 3,
                 "fault injection: relay exits 3 after assigning", "status %d", status);
    ITEST_CHECK(s_wait_assigned(1100, 3000) == 1100, "the numbers were committed before the exit");
    relay = s_start_relay(false);
    applied.want = 1100;
    run.phase = 5;
    run.ticks = 0;
    uv_run(&loop, UV_RUN_DEFAULT);
    contiguous = applied.n == applied.want;
    for (size_t i = 0; contiguous && i < applied.n; i++)
        contiguous = applied.seqs[i] == i + 1;
    ITEST_CHECKF(contiguous, "events committed before a relay died are delivered after it",
                 "applied %zu of %" PRIu64, applied.n, applied.want);

    sp_subscriber_destroy(&sub);
    uv_close((uv_handle_t *)&tick, NULL);
    uv_run(&loop, UV_RUN_DEFAULT);
    uv_loop_close(&loop);
    zmq_ctx_term(ctx);
    free(applied.seqs);
    sp_client_destroy(&client);
    s_stop_relay(relay);
    s_teardown();
    return itest_done();
}
