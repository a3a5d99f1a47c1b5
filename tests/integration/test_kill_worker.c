/*
 * test_kill_worker.c - a registration worker killed with SIGKILL while 1,000
 * actor creates are in flight (issue 2 point 9).  The client keeps ~64
 * requests in flight, kills registration-1 after ~200 replies, and resends
 * any request not answered in time with the SAME idempotency key (client
 * retry; everything outstanding at the kill is also resent at once, racing
 * the broker's requeue).  Afterwards every acknowledged create is present exactly once,
 * with the id its reply carried, and the tenant holds exactly 1,000 new rows.
 * Then the killed worker is started again (same command line, environment
 * and working directory, read from /proc before the kill) so the suite has
 * two workers for the tests after this one.
 *
 * Tenant 851.
 */
#include "itest.h"
#include "reg_client.h"
#include "suite_proc.h"

#include <fcntl.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>

#define T "851"
#define TOTAL 1000
#define WINDOW 64
#define KILL_AFTER 200
#define RESEND_US (5 * 1000000LL)
#define GIVE_UP_US (60 * 1000000LL)

typedef struct {
    int64_t sent_at; /* 0: not sent yet */
    int sends;
    bool done;
    bool ok;
    char id[64];
} slot_t;

static slot_t slots[TOTAL];
static char names[TOTAL][64];
static char keys[TOTAL][64];

/* ---------------------------------------------------------------- the storm */

static void send_create(sp_client_t *client, int i)
{
    Samspil__V1__Actor a;
    rc_actor_init(&a, SAMSPIL__V1__ACTOR_KIND__ACTOR_KIND_CITIZEN, names[i]);
    Samspil__V1__ActorCreate op = SAMSPIL__V1__ACTOR_CREATE__INIT;
    op.actor = &a;
    rc_req_t req = SAMSPIL__V1__REGISTRATION_REQUEST__INIT;
    req.tenant = T;
    req.idempotency_key = keys[i];
    req.correlation_id = (uint64_t)i + 1;
    req.op_case = SAMSPIL__V1__REGISTRATION_REQUEST__OP_ACTOR_CREATE;
    req.actor_create = &op;
    if (rc_send(client, &req) != 0)
        fprintf(stderr, "itest: send %d failed\n", i);
    slots[i].sent_at = rc_now_us();
    slots[i].sends++;
}

int main(void)
{
    const char *home = itest_env("SAMSPIL_HOME");
    sp_client_t *ctl = rc_client();    /* calls: setup, status, checks */
    sp_client_t *client = rc_client(); /* the pipelined storm */
    PGconn *db = rc_db_owner();

    ITEST_CHECK(rc_tenant_ensure(ctl, T, "Aalborg Kommune") == 0, "tenant 851 exists");
    int workers = suite_wait_workers(ctl, RC_SERVICE, 2, 10 * 1000000LL);
    ITEST_CHECKF(workers == 2, "two registration workers before the kill", "%d", workers);

    static suite_proc_t victim;
    int have_victim = suite_proc_read(&victim, home, "registration-1") == 0;
    ITEST_CHECKF(have_victim, "registration-1 pid, command line and environment read",
                 "no live process from %s/run/registration-1.pid", home);

    long long baseline = rc_db_count(db, T, "SELECT count(*) FROM registration.actors", 0, NULL);
    for (int i = 0; i < TOTAL; i++) {
        snprintf(names[i], sizeof names[i], "Kill %s %04d", rc_nonce(), i);
        snprintf(keys[i], sizeof keys[i], "kill-%s-%04d", rc_nonce(), i);
    }

    int next = 0, in_flight = 0, acked = 0, errors = 0, resends = 0, stray = 0;
    int in_flight_at_kill = -1;
    bool killed = false;
    int64_t start = rc_now_us(), killed_at = 0;
    while (acked + errors < TOTAL && rc_now_us() - start < GIVE_UP_US) {
        while (in_flight < WINDOW && next < TOTAL) {
            send_create(client, next++);
            in_flight++;
        }
        rc_reply_t *r = rc_recv(client, 100);
        if (r) {
            uint64_t cid = r->correlation_id;
            if (cid < 1 || cid > TOTAL || slots[cid - 1].done) {
                stray++; /* a duplicate answer to a resent request, or a broker error */
            } else {
                slot_t *s = &slots[cid - 1];
                int code = rc_code(r);
                if (code == SP_OK && r->actor && r->actor->id) {
                    s->done = s->ok = true;
                    snprintf(s->id, sizeof s->id, "%s", r->actor->id);
                    acked++;
                    in_flight--;
                } else if (code == SP_UNAVAILABLE || code == SP_INTERNAL) {
                    s->sent_at = rc_now_us() - RESEND_US + 200000; /* resend soon */
                } else {
                    fprintf(stderr, "itest: create %llu: %s\n", (unsigned long long)cid,
                            rc_describe(r));
                    s->done = true;
                    errors++;
                    in_flight--;
                }
            }
            rc_free(&r);
        }
        if (!killed && have_victim && acked >= KILL_AFTER) {
            in_flight_at_kill = in_flight;
            kill(victim.pid, SIGKILL);
            killed = true;
            killed_at = rc_now_us();
            fprintf(stderr,
                    "itest: killed registration-1 (pid %ld) after %d replies, %d in flight\n",
                    (long)victim.pid, acked, in_flight);
            /* a client that saw its worker die retries what is outstanding at
             * once, racing the broker's requeue of the same requests */
            for (int i = 0; i < next; i++) {
                if (!slots[i].done) {
                    send_create(client, i);
                    resends++;
                }
            }
        }
        int64_t now = rc_now_us();
        for (int i = 0; i < next; i++) {
            if (!slots[i].done && now - slots[i].sent_at > RESEND_US) {
                send_create(client, i);
                resends++;
            }
        }
    }
    int64_t elapsed_ms = (rc_now_us() - start) / 1000;
    fprintf(stderr,
            "itest: %d acknowledged, %d errors, %d resends, %d stray replies in %lld ms (kill at "
            "%lld ms)\n",
            acked, errors, resends, stray, (long long)elapsed_ms,
            killed ? (long long)((killed_at - start) / 1000) : -1LL);
    ITEST_CHECKF(killed && in_flight_at_kill > 0, "registration-1 killed with requests in flight",
                 "killed %d, in flight %d", killed, in_flight_at_kill);
    ITEST_CHECKF(acked == TOTAL, "all 1000 creates acknowledged after client retries",
                 "%d acknowledged, %d errors", acked, errors);

    /* behind the service: every acknowledged create exactly once, with its id */
    char pattern[96];
    snprintf(pattern, sizeof pattern, "Kill %s %%", rc_nonce());
    const char *params[] = {pattern};
    PGresult *res = rc_db_query(db, T,
                                "SELECT name, count(*), min(id::text), max(id::text) "
                                "FROM registration.actors WHERE name LIKE $1 GROUP BY name",
                                1, params);
    int rows = res ? PQntuples(res) : 0;
    int dup = 0, mismatch = 0, missing = 0;
    static bool seen[TOTAL];
    for (int i = 0; i < rows; i++) {
        const char *name = PQgetvalue(res, i, 0);
        const char *num = strrchr(name, ' ');
        int idx = num ? atoi(num + 1) : -1;
        if (idx < 0 || idx >= TOTAL)
            continue;
        seen[idx] = true;
        if (strcmp(PQgetvalue(res, i, 1), "1") != 0)
            dup++;
        if (slots[idx].ok && strcmp(PQgetvalue(res, i, 2), slots[idx].id) != 0)
            mismatch++;
    }
    PQclear(res);
    for (int i = 0; i < TOTAL; i++)
        if (slots[i].ok && !seen[i])
            missing++;
    ITEST_CHECKF(missing == 0, "every acknowledged create is present", "%d missing", missing);
    ITEST_CHECKF(dup == 0 && rows == TOTAL, "every create is present exactly once",
                 "%d names with duplicates, %d names", dup, rows);
    ITEST_CHECKF(mismatch == 0, "every reply's id is the stored row's id", "%d mismatches",
                 mismatch);
    snprintf(pattern, sizeof pattern, "kill-%s-%%", rc_nonce());
    long long keyed = rc_db_count(db, T,
                                  "SELECT count(*) FROM (SELECT idempotency_key FROM "
                                  "registration.actors WHERE idempotency_key LIKE $1 "
                                  "GROUP BY idempotency_key HAVING count(*) = 1) k",
                                  1, params);
    ITEST_CHECKF(keyed == TOTAL, "each of the 1000 idempotency keys has exactly one row",
                 "%lld keys with one row", keyed);
    long long total = rc_db_count(db, T, "SELECT count(*) FROM registration.actors", 0, NULL);
    ITEST_CHECKF(total - baseline == TOTAL, "the tenant holds exactly 1000 new actors", "%lld new",
                 total - baseline);

    /* the suite again has two workers */
    if (have_victim) {
        int w = suite_wait_workers(ctl, RC_SERVICE, 1, 10 * 1000000LL);
        ITEST_CHECKF(w == 1, "the broker dropped the killed worker", "%d workers", w);
        int status = 0;
        waitpid(victim.pid, &status, WNOHANG); /* not our child: harmless */
        pid_t pid = suite_proc_restart(&victim, home, NULL);
        ITEST_CHECKF(pid > 0, "registration-1 restarted", "fork failed");
        w = suite_wait_workers(ctl, RC_SERVICE, 2, 30 * 1000000LL);
        ITEST_CHECKF(w == 2, "mmi.status shows two registration workers again", "%d workers", w);
    }
    suite_proc_free(&victim);

    /* and the service still answers */
    Samspil__V1__Actor a;
    char name[96];
    snprintf(name, sizeof name, "After Kill %s", rc_nonce());
    rc_actor_init(&a, SAMSPIL__V1__ACTOR_KIND__ACTOR_KIND_CITIZEN, name);
    rc_reply_t *r = rc_actor_create(ctl, T, rc_key("after-kill"), &a);
    ITEST_CHECKF(rc_is(r, SAMSPIL__V1__REGISTRATION_REPLY__RESULT_ACTOR),
                 "creates succeed after the restart", "%s", rc_describe(r));
    rc_free(&r);

    PQfinish(db);
    sp_client_destroy(&client);
    sp_client_destroy(&ctl);
    return itest_done();
}
