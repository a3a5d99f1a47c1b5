/*
 * ev_fault.h - what the event bus fault tests share: a stream of actor
 * creates kept in flight through the broker (resent with the same
 * idempotency key when unanswered, so a dead broker or worker only delays
 * them), the event_sink subscriber as a child process with its own schema,
 * and the check that the sink applied every seq of the stream exactly once
 * and in order, with the type, tenant and entity of the outbox row.
 *
 * Header-only, used together with itest.h, reg_client.h and ev_test.h.
 */
#ifndef EV_FAULT_H
#define EV_FAULT_H

#include "ev_test.h"

#include <libgen.h>

/* ---------------------------------------------------------------- creates */

#define EV_STORM_MAX 2000

typedef struct ev_storm_t ev_storm_t;

/* Called after every receive (about every 100 ms at most). */
typedef void(ev_storm_tick_fn)(ev_storm_t *storm, void *arg);

struct ev_storm_t {
    const char *tenant;
    int total, window;
    int64_t resend_us; /* an unanswered create is sent again after this */
    int next, in_flight, acked, errors, resends, stray;
    int64_t sent_at[EV_STORM_MAX];
    bool done[EV_STORM_MAX], ok[EV_STORM_MAX];
    char key[EV_STORM_MAX][64], name[EV_STORM_MAX][64], id[EV_STORM_MAX][40];
};

static inline void ev_storm_send(sp_client_t *client, ev_storm_t *s, int i)
{
    Samspil__V1__Actor a;
    rc_actor_init(&a, SAMSPIL__V1__ACTOR_KIND__ACTOR_KIND_CITIZEN, s->name[i]);
    Samspil__V1__ActorCreate op = SAMSPIL__V1__ACTOR_CREATE__INIT;
    op.actor = &a;
    rc_req_t req = SAMSPIL__V1__REGISTRATION_REQUEST__INIT;
    req.tenant = (char *)s->tenant;
    req.idempotency_key = s->key[i];
    req.correlation_id = (uint64_t)i + 1;
    req.op_case = SAMSPIL__V1__REGISTRATION_REQUEST__OP_ACTOR_CREATE;
    req.actor_create = &op;
    if (rc_send(client, &req) != 0)
        fprintf(stderr, "itest: send %d failed\n", i);
    s->sent_at[i] = rc_now_us();
}

/* Send `total` creates in `tenant` (labels make names and keys unique to
 * the run), `window` in flight, until all are answered or `give_up_us`
 * passed; `tick` runs after every receive.  Returns the acknowledged count. */
static inline int ev_storm_run(sp_client_t *client, ev_storm_t *s, const char *tenant,
                               const char *label, int total, int window, int64_t give_up_us,
                               ev_storm_tick_fn *tick, void *arg)
{
    memset(s, 0, sizeof *s);
    s->tenant = tenant;
    s->total = total < EV_STORM_MAX ? total : EV_STORM_MAX;
    s->window = window;
    s->resend_us = 5 * 1000000LL;
    for (int i = 0; i < s->total; i++) {
        snprintf(s->name[i], sizeof s->name[i], "%s %s %04d", label, rc_nonce(), i);
        snprintf(s->key[i], sizeof s->key[i], "%s-%s-%04d", label, rc_nonce(), i);
    }
    int64_t start = rc_now_us();
    while (s->acked + s->errors < s->total && rc_now_us() - start < give_up_us) {
        while (s->in_flight < s->window && s->next < s->total) {
            ev_storm_send(client, s, s->next++);
            s->in_flight++;
        }
        rc_reply_t *r = rc_recv(client, 100);
        if (r) {
            uint64_t cid = r->correlation_id;
            if (cid < 1 || cid > (uint64_t)s->total || s->done[cid - 1]) {
                s->stray++; /* an answer to a resent request, or a broker error */
            } else {
                int i = (int)cid - 1;
                int code = rc_code(r);
                if (code == SP_OK && r->actor && r->actor->id) {
                    s->done[i] = s->ok[i] = true;
                    snprintf(s->id[i], sizeof s->id[i], "%s", r->actor->id);
                    s->acked++;
                    s->in_flight--;
                } else if (code == SP_UNAVAILABLE || code == SP_INTERNAL) {
                    s->sent_at[i] = rc_now_us() - s->resend_us + 200000; /* again soon */
                } else {
                    fprintf(stderr, "itest: create %d: %s\n", i, rc_describe(r));
                    s->done[i] = true;
                    s->errors++;
                    s->in_flight--;
                }
            }
            rc_free(&r);
        }
        if (tick)
            tick(s, arg);
        int64_t now = rc_now_us();
        for (int i = 0; i < s->next; i++) {
            if (!s->done[i] && now - s->sent_at[i] > s->resend_us) {
                ev_storm_send(client, s, i);
                s->resends++;
            }
        }
    }
    fprintf(stderr, "itest: %d creates acknowledged, %d errors, %d resends, %d stray in %lld ms\n",
            s->acked, s->errors, s->resends, s->stray, (long long)((rc_now_us() - start) / 1000));
    return s->acked;
}

/* ---------------------------------------------------------------- the sink */

typedef struct {
    pid_t pid;
    char schema[64];
    char path[4200];
    char log[4200];
    int starts;
} ev_sink_t;

/* Start tests/helpers/event_sink (next to $SAMSPIL_BIN's build tree) with
 * its own `schema`, logging to $SAMSPIL_HOME/log/event_sink-<schema>.log.
 * Returns 0 or -1. */
static inline int ev_sink_start(ev_sink_t *s, const char *schema)
{
    if (!s->path[0]) {
        char bin[4096];
        snprintf(bin, sizeof bin, "%s", itest_env("SAMSPIL_BIN"));
        snprintf(s->path, sizeof s->path, "%s/tests/helpers/event_sink", dirname(bin));
        snprintf(s->log, sizeof s->log, "%s/log/event_sink-%s.log", itest_env("SAMSPIL_HOME"),
                 schema);
        snprintf(s->schema, sizeof s->schema, "%s", schema);
    }
    pid_t pid = fork();
    if (pid == 0) {
        int out = open(s->log, O_WRONLY | O_CREAT | O_APPEND, 0644);
        int in = open("/dev/null", O_RDONLY);
        if (out < 0 || in < 0)
            _exit(126);
        dup2(in, 0);
        dup2(out, 1);
        dup2(out, 2);
        close_range(3, ~0U, 0);
        execl(s->path, s->path, "--schema", s->schema, (char *)NULL);
        _exit(127);
    }
    if (pid < 0)
        return -1;
    s->pid = pid;
    s->starts++;
    return 0;
}

/* Wait up to `timeout_ms` for the sink to exit; returns its wait status or -1. */
static inline int ev_sink_wait_exit(ev_sink_t *s, int timeout_ms)
{
    for (int waited = 0; waited <= timeout_ms; waited += 10) {
        int status = 0;
        pid_t got = waitpid(s->pid, &status, WNOHANG);
        if (got == s->pid) {
            s->pid = -1;
            return status;
        }
        usleep(10 * 1000);
    }
    return -1;
}

/* SIGKILL the sink and reap it. */
static inline void ev_sink_kill(ev_sink_t *s)
{
    if (s->pid > 0) {
        kill(s->pid, SIGKILL);
        ev_sink_wait_exit(s, 10000);
    }
}

/* SIGTERM the sink and reap it (SIGKILL after 10 s).  True when it exited 0. */
static inline bool ev_sink_stop(ev_sink_t *s)
{
    if (s->pid <= 0)
        return false;
    kill(s->pid, SIGTERM);
    int status = ev_sink_wait_exit(s, 10000);
    if (status < 0) {
        ev_sink_kill(s);
        return false;
    }
    return WIFEXITED(status) && WEXITSTATUS(status) == 0;
}

/* Drop the sink's schema (before a run, and after it). */
static inline void ev_sink_drop(PGconn *db, const char *schema)
{
    char sql[256];
    snprintf(sql, sizeof sql, "DROP SCHEMA IF EXISTS %s CASCADE", schema);
    PQclear(PQexec(db, sql));
}

/* What the sink applied: rows, distinct seqs, highest seq (0 when none or
 * the table does not exist yet). */
typedef struct {
    long long rows, distinct, min_seq, max_seq;
} ev_applied_t;

static inline void ev_sink_applied(PGconn *db, const char *schema, ev_applied_t *a)
{
    char sql[512];
    snprintf(sql, sizeof sql,
             "SELECT count(*), count(DISTINCT seq), COALESCE(min(seq), 0), "
             "COALESCE(max(seq), 0) FROM %s.applied WHERE stream = 'registration'",
             schema);
    memset(a, 0, sizeof *a);
    PGresult *res = PQexec(db, sql);
    if (PQresultStatus(res) == PGRES_TUPLES_OK && PQntuples(res) == 1) {
        a->rows = strtoll(PQgetvalue(res, 0, 0), NULL, 10);
        a->distinct = strtoll(PQgetvalue(res, 0, 1), NULL, 10);
        a->min_seq = strtoll(PQgetvalue(res, 0, 2), NULL, 10);
        a->max_seq = strtoll(PQgetvalue(res, 0, 3), NULL, 10);
    }
    PQclear(res);
}

/* Wait up to `timeout_us` until the sink has applied every seq up to
 * `seq`.  Returns true when it has. */
static inline bool ev_sink_wait(PGconn *db, const char *schema, long long seq, int64_t timeout_us,
                                ev_applied_t *a)
{
    int64_t deadline = rc_now_us() + timeout_us;
    for (;;) {
        ev_sink_applied(db, schema, a);
        if (a->distinct >= seq && a->max_seq >= seq)
            return true;
        if (rc_now_us() >= deadline)
            return false;
        usleep(50 * 1000);
    }
}

/* The checks every fault test ends with: the relay published the whole
 * outbox, the sink applied each seq 1..N exactly once, in seq order, each
 * as the event the outbox row holds under that seq.  `what` prefixes the
 * check names. */
static inline void ev_check_delivered(PGconn *db, const char *schema, const char *what,
                                      int64_t timeout_us)
{
    char name[200];
    ev_stream_t st;
    bool published = ev_wait_published(db, timeout_us, &st);
    snprintf(name, sizeof name, "%s: the relay numbered and published every outbox row", what);
    ITEST_CHECKF(published, name, "rows %lld assigned %lld max %lld published %lld", st.rows,
                 st.assigned, st.max_seq, st.published);
    snprintf(name, sizeof name, "%s: outbox sequence 1..N without gaps", what);
    ITEST_CHECKF(st.max_seq == st.assigned && st.distinct == st.assigned, name,
                 "assigned %lld max %lld distinct %lld", st.assigned, st.max_seq, st.distinct);

    ev_applied_t a;
    bool caught_up = ev_sink_wait(db, schema, st.max_seq, timeout_us, &a);
    snprintf(name, sizeof name, "%s: the sink applied the stream up to its head", what);
    ITEST_CHECKF(caught_up, name, "applied %lld distinct up to %lld of %lld", a.distinct, a.max_seq,
                 st.max_seq);
    snprintf(name, sizeof name, "%s: every seq 1..%lld applied exactly once", what, st.max_seq);
    ITEST_CHECKF(a.rows == st.max_seq && a.distinct == st.max_seq && a.min_seq == 1 &&
                     a.max_seq == st.max_seq,
                 name, "rows %lld distinct %lld min %lld max %lld", a.rows, a.distinct, a.min_seq,
                 a.max_seq);

    char sql[1024];
    snprintf(sql, sizeof sql,
             "SELECT count(*) FROM %s.applied a JOIN registration.outbox o ON o.seq = a.seq "
             "WHERE a.stream = 'registration' AND o.event_type = a.type "
             "AND o.tenant_id = a.tenant AND o.entity_id = a.entity_id",
             schema);
    long long same = ev_db_int(db, sql, 0, NULL);
    snprintf(name, sizeof name, "%s: each applied event is the outbox row of its seq", what);
    ITEST_CHECKF(same == st.max_seq, name, "%lld of %lld match", same, st.max_seq);

    snprintf(sql, sizeof sql,
             "SELECT count(*) FROM (SELECT seq, lag(seq) OVER (ORDER BY applied_at, seq) AS prev "
             "FROM %s.applied WHERE stream = 'registration') x "
             "WHERE prev IS NOT NULL AND seq <> prev + 1",
             schema);
    long long breaks = ev_db_int(db, sql, 0, NULL);
    snprintf(name, sizeof name, "%s: the sink applied the events in seq order", what);
    ITEST_CHECKF(breaks == 0, name, "%lld breaks", breaks);
}

/* The storm's acknowledged creates each have their one actor.registered
 * event, about the id the reply carried. */
static inline void ev_check_storm_events(PGconn *db, const ev_storm_t *s, const char *what)
{
    int missing = 0, dup = 0;
    for (int i = 0; i < s->total; i++) {
        if (!s->ok[i])
            continue;
        long long n = ev_count_after(db, 0, s->tenant, "actor.registered", s->id[i]);
        missing += n == 0;
        dup += n > 1;
    }
    char name[200];
    snprintf(name, sizeof name, "%s: %d creates acknowledged", what, s->total);
    ITEST_CHECKF(s->acked == s->total, name, "%d acknowledged, %d errors", s->acked, s->errors);
    snprintf(name, sizeof name, "%s: each acknowledged create has exactly one event", what);
    ITEST_CHECKF(missing == 0 && dup == 0, name, "%d missing, %d doubled", missing, dup);
}

#endif
