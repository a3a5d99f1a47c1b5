/*
 * test_db.c - sp_db (the pipelined connection pool) and sp_migrate against
 * the suite's real PostgreSQL, as the owner (SAMSPIL_OWNER_DB).  Works in
 * scratch schemas of its own, dropped at the end.
 */
#include "itest.h"
#include "sp_db.h"
#include "sp_log.h"
#include "sp_migrate.h"

#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>
#include <uv.h>

static uv_loop_t s_loop;
static uv_timer_t s_watchdog;
static bool s_timed_out;
static const char *s_conninfo;
static PGconn *s_admin;
static char s_schema[64];  /* for sp_db checks */
static char s_mschema[64]; /* for sp_migrate checks */

/* --- helpers */

typedef struct {
    sp_db_tx_t *tx;
    int done;
} s_slot_t;

static void s_on_done(sp_db_tx_t *tx, void *arg)
{
    s_slot_t *slot = arg;
    slot->tx = tx; /* the test takes ownership and destroys it */
    slot->done++;
}

static void s_on_watchdog(uv_timer_t *timer)
{
    (void)timer;
    s_timed_out = true;
}

/* Run the loop until `*flag` >= `want` or 10 s have passed. */
static bool s_wait(const int *flag, int want)
{
    s_timed_out = false;
    uv_timer_start(&s_watchdog, s_on_watchdog, 10000, 0);
    while (*flag < want && !s_timed_out)
        uv_run(&s_loop, UV_RUN_ONCE);
    uv_timer_stop(&s_watchdog);
    return *flag >= want;
}

/* Run `tx` and wait for it; returns it finished (caller destroys) or NULL. */
static sp_db_tx_t *s_run(sp_db_tx_t *tx)
{
    s_slot_t slot = {0};
    sp_db_tx_run(tx, s_on_done, &slot);
    if (!s_wait(&slot.done, 1))
        return NULL;
    return slot.tx;
}

static void s_on_sleep(uv_timer_t *timer)
{
    (*(int *)timer->data)++;
}

static void s_sleep_ms(int ms)
{
    int fired = 0;
    uv_timer_t t;
    uv_timer_init(&s_loop, &t);
    t.data = &fired;
    uv_timer_start(&t, s_on_sleep, (uint64_t)ms, 0);
    s_wait(&fired, 1);
    uv_close((uv_handle_t *)&t, NULL);
    uv_run(&s_loop, UV_RUN_NOWAIT); /* let the close complete: `t` is on the stack */
}

/* One value from the admin connection (static buffer), or NULL. */
static const char *s_admin_value(const char *sql)
{
    static char value[256];
    PGresult *res = PQexec(s_admin, sql);
    const char *out = NULL;
    if (PQresultStatus(res) == PGRES_TUPLES_OK && PQntuples(res) == 1 && !PQgetisnull(res, 0, 0)) {
        snprintf(value, sizeof value, "%s", PQgetvalue(res, 0, 0));
        out = value;
    } else if (PQresultStatus(res) != PGRES_TUPLES_OK) {
        fprintf(stderr, "admin query failed: %s", PQerrorMessage(s_admin));
    }
    PQclear(res);
    return out;
}

static bool s_admin_exec(const char *sql)
{
    PGresult *res = PQexec(s_admin, sql);
    bool ok = PQresultStatus(res) == PGRES_COMMAND_OK;
    if (!ok)
        fprintf(stderr, "admin command failed: %s", PQerrorMessage(s_admin));
    PQclear(res);
    return ok;
}

static long s_count(const char *where)
{
    char sql[256];
    snprintf(sql, sizeof sql, "SELECT count(*) FROM %s.t WHERE %s", s_schema, where);
    const char *v = s_admin_value(sql);
    return v ? atol(v) : -1;
}

static const char *s_value(const sp_db_tx_t *tx, int index)
{
    const PGresult *res = sp_db_tx_result(tx, index);
    if (!res || PQntuples(res) < 1 || PQgetisnull(res, 0, 0))
        return NULL;
    return PQgetvalue(res, 0, 0);
}

/* SQL texts must outlive their transactions: build them once. */
static char s_sql_insert[256], s_sql_insert_ret[256], s_sql_count[256];

/* --- checks */

static void test_commit_all(sp_db_t *db)
{
    sp_db_tx_t *tx = sp_db_tx_new(db);
    const char *a[] = {"1", "one"}, *b[] = {"2", "two"}, *c[] = {"3", NULL};
    sp_db_tx_add(tx, s_sql_insert, 2, a);
    sp_db_tx_add(tx, s_sql_insert, 2, b);
    int ret = sp_db_tx_add(tx, s_sql_insert_ret, 2, c);
    tx = s_run(tx);
    ITEST_CHECK(tx && sp_db_tx_ok(tx), "a transaction of several statements commits");
    if (tx) {
        const char *id = s_value(tx, ret);
        ITEST_CHECKF(id && strcmp(id, "3") == 0, "RETURNING value is the statement's result",
                     "got %s", id ? id : "NULL");
        ITEST_CHECK(sp_db_tx_sqlstate(tx) == NULL && sp_db_tx_failed_index(tx) == -1,
                    "a committed transaction reports no error");
    }
    sp_db_tx_destroy(&tx);
    ITEST_CHECK(tx == NULL, "sp_db_tx_destroy nulls the pointer");
    long n = s_count("id IN (1, 2, 3)");
    ITEST_CHECKF(n == 3, "all three rows are there after commit", "count %ld", n);
    n = s_count("id = 3 AND v IS NULL");
    ITEST_CHECKF(n == 1, "a NULL parameter is SQL NULL", "count %ld", n);
}

static void test_rollback(sp_db_t *db)
{
    sp_db_tx_t *tx = sp_db_tx_new(db);
    const char *a[] = {"10", "ten"}, *dup[] = {"1", "again"};
    sp_db_tx_add(tx, s_sql_insert, 2, a);
    sp_db_tx_add(tx, s_sql_insert, 2, dup);
    sp_db_tx_add(tx, s_sql_insert, 2, (const char *[]){"11", "eleven"});
    tx = s_run(tx);
    ITEST_CHECK(tx && !sp_db_tx_ok(tx), "a transaction with a failing statement fails");
    if (tx) {
        ITEST_CHECKF(sp_db_tx_failed_index(tx) == 1, "the failing statement's index is reported",
                     "index %d", sp_db_tx_failed_index(tx));
        const char *st = sp_db_tx_sqlstate(tx);
        ITEST_CHECKF(st && strcmp(st, "23505") == 0, "unique violation reports SQLSTATE 23505",
                     "sqlstate %s", st ? st : "NULL");
        const char *con = sp_db_tx_constraint(tx);
        ITEST_CHECKF(con && strcmp(con, "t_pkey") == 0, "the violated constraint is named",
                     "constraint %s", con ? con : "NULL");
        ITEST_CHECK(sp_db_tx_message(tx) && *sp_db_tx_message(tx),
                    "the server's message is available");
        ITEST_CHECK(!sp_db_tx_connection_failed(tx), "a statement error is not a connection error");
        ITEST_CHECK(sp_db_tx_result(tx, 0) != NULL && sp_db_tx_result(tx, 2) == NULL,
                    "statements before the error ran, those after did not");
    }
    sp_db_tx_destroy(&tx);
    long n = s_count("id IN (10, 11)");
    ITEST_CHECKF(n == 0, "the earlier insert of a failed transaction is rolled back", "count %ld",
                 n);

    /* a unique key other than the primary key */
    tx = sp_db_tx_new(db);
    sp_db_tx_add(tx, s_sql_insert, 2, (const char *[]){"12", "one"});
    tx = s_run(tx);
    const char *con = tx ? sp_db_tx_constraint(tx) : NULL;
    ITEST_CHECKF(con && strcmp(con, "t_v_key") == 0, "a second unique constraint is named",
                 "constraint %s", con ? con : "NULL");
    sp_db_tx_destroy(&tx);

    /* the pool goes on after errors */
    tx = sp_db_tx_new(db);
    sp_db_tx_add(tx, s_sql_count, 0, NULL);
    tx = s_run(tx);
    const char *v = tx ? s_value(tx, 0) : NULL;
    ITEST_CHECKF(tx && sp_db_tx_ok(tx) && v && strcmp(v, "3") == 0,
                 "the next transaction works and sees committed rows only", "count %s",
                 v ? v : "NULL");
    sp_db_tx_destroy(&tx);

    /* a syntax error */
    tx = sp_db_tx_new(db);
    sp_db_tx_add(tx, "SELEC 1", 0, NULL);
    tx = s_run(tx);
    const char *st = tx ? sp_db_tx_sqlstate(tx) : NULL;
    ITEST_CHECKF(st && strcmp(st, "42601") == 0 && sp_db_tx_failed_index(tx) == 0,
                 "a syntax error fails its statement with 42601", "sqlstate %s", st ? st : "NULL");
    sp_db_tx_destroy(&tx);
}

static void test_tenant(sp_db_t *db)
{
    static const char *const sql =
        "SELECT coalesce(current_setting('samspil.tenant', true), '<null>'), pg_backend_pid()";
    sp_db_tx_t *tx = sp_db_tx_new(db);
    int i0 = sp_db_tx_add(tx, sql, 0, NULL);
    sp_db_tx_set_tenant(tx, "751");
    int i1 = sp_db_tx_add(tx, sql, 0, NULL);
    tx = s_run(tx);
    ITEST_CHECKF(i0 == 0 && i1 == 1, "set_tenant takes no statement index", "%d %d", i0, i1);
    const char *v = tx ? s_value(tx, 0) : NULL;
    ITEST_CHECKF(tx && sp_db_tx_ok(tx) && v && strcmp(v, "751") == 0,
                 "the tenant is set within the transaction, before every statement", "value %s",
                 v ? v : "NULL");
    char pid[32] = "";
    if (tx && sp_db_tx_result(tx, 0))
        snprintf(pid, sizeof pid, "%s", PQgetvalue(sp_db_tx_result(tx, 0), 0, 1));
    sp_db_tx_destroy(&tx);

    /* the next transaction on the same connection does not see it */
    bool same = false, clean = true;
    for (int attempt = 0; attempt < 8 && !same; attempt++) {
        tx = sp_db_tx_new(db);
        sp_db_tx_add(tx, sql, 0, NULL);
        tx = s_run(tx);
        if (tx && sp_db_tx_ok(tx)) {
            const PGresult *res = sp_db_tx_result(tx, 0);
            same = strcmp(PQgetvalue(res, 0, 1), pid) == 0;
            const char *t = PQgetvalue(res, 0, 0);
            if (strcmp(t, "") != 0 && strcmp(t, "<null>") != 0)
                clean = false;
        } else {
            clean = false;
        }
        sp_db_tx_destroy(&tx);
    }
    ITEST_CHECK(same && clean, "the next transaction on the same connection has no tenant");

    tx = sp_db_tx_new(db);
    sp_db_tx_set_tenant(tx, "101");
    sp_db_tx_add(tx, "SELECT current_setting('samspil.tenant')", 0, NULL);
    sp_db_tx_set_tenant(tx, "147"); /* the last one counts */
    tx = s_run(tx);
    v = tx ? s_value(tx, 0) : NULL;
    ITEST_CHECKF(v && strcmp(v, "147") == 0, "set_tenant called twice keeps the last tenant",
                 "value %s", v ? v : "NULL");
    sp_db_tx_destroy(&tx);
}

typedef struct {
    int done, ok;
} s_many_t;

static void s_on_many(sp_db_tx_t *tx, void *arg)
{
    s_many_t *m = arg;
    if (sp_db_tx_ok(tx))
        m->ok++;
    m->done++;
    sp_db_tx_destroy(&tx);
}

static void test_concurrent(sp_db_t *db)
{
    enum { N = 200 };
    s_many_t m = {0};
    for (int i = 0; i < N; i++) {
        char id[16], v[32];
        snprintf(id, sizeof id, "%d", 1000 + i);
        snprintf(v, sizeof v, "value-%d", i);
        sp_db_tx_t *tx = sp_db_tx_new(db);
        sp_db_tx_set_tenant(tx, "751");
        sp_db_tx_add(tx, s_sql_insert, 2, (const char *[]){id, v});
        sp_db_tx_add(tx, s_sql_count, 0, NULL);
        sp_db_tx_run(tx, s_on_many, &m);
    }
    ITEST_CHECKF(m.done == 0, "sp_db_tx_run never calls back before returning", "done %d", m.done);
    s_wait(&m.done, N);
    ITEST_CHECKF(m.done == N && m.ok == N, "200 concurrent transactions on a pool of 4 complete",
                 "done %d ok %d", m.done, m.ok);
    long n = s_count("id >= 1000");
    ITEST_CHECKF(n == N, "every concurrent insert committed", "count %ld", n);
}

/* A statement prepared in a transaction that then failed is still usable. */
static void test_prepared_after_failure(void)
{
    static char sql[256];
    snprintf(sql, sizeof sql, "INSERT INTO %s.t (id, v) VALUES ($1::int + 0, $2)", s_schema);
    sp_db_t *one = sp_db_new(&s_loop, s_conninfo, 1);
    ITEST_CHECK(one && sp_db_open(one) == 0, "a pool of one opens");
    sp_db_tx_t *tx = sp_db_tx_new(one);
    sp_db_tx_add(tx, sql, 2, (const char *[]){"20", "twenty"});
    sp_db_tx_add(tx, "SELECT 1/0", 0, NULL);
    tx = s_run(tx);
    const char *st = tx ? sp_db_tx_sqlstate(tx) : NULL;
    ITEST_CHECKF(st && strcmp(st, "22012") == 0, "division by zero fails the transaction",
                 "sqlstate %s", st ? st : "NULL");
    sp_db_tx_destroy(&tx);
    for (int i = 0; i < 2; i++) {
        tx = sp_db_tx_new(one);
        sp_db_tx_add(tx, sql, 2, (const char *[]){i ? "22" : "21", i ? "tt" : "to"});
        tx = s_run(tx);
        ITEST_CHECKF(tx && sp_db_tx_ok(tx), "a statement first used in a failed transaction runs",
                     "sqlstate %s", tx && sp_db_tx_sqlstate(tx) ? sp_db_tx_sqlstate(tx) : "-");
        sp_db_tx_destroy(&tx);
    }
    ITEST_CHECK(s_count("id IN (20, 21, 22)") == 2, "only the committed rows are there");

    /* statements are prepared once per connection, not once per use */
    long before = -1, after = -1;
    for (int i = 0; i < 12; i++) {
        tx = sp_db_tx_new(one);
        sp_db_tx_set_tenant(tx, "751");
        sp_db_tx_add(tx, s_sql_count, 0, NULL);
        sp_db_tx_add(tx, "SELECT count(*) FROM pg_prepared_statements", 0, NULL);
        tx = s_run(tx);
        const char *v = tx && sp_db_tx_ok(tx) ? s_value(tx, 1) : NULL;
        if (i == 1)
            before = v ? atol(v) : -1;
        if (i == 11)
            after = v ? atol(v) : -1;
        sp_db_tx_destroy(&tx);
    }
    ITEST_CHECKF(before > 0 && after == before,
                 "repeated transactions prepare nothing new on their connection",
                 "prepared %ld then %ld", before, after);
    sp_db_destroy(&one);
    ITEST_CHECK(one == NULL, "sp_db_destroy nulls the pointer");
}

/* Several transactions pipelined on one connection stay independent. */
static void test_pipelined(void)
{
    setenv("SAMSPIL_DB_PIPELINE", "4", 1);
    sp_db_t *one = sp_db_new(&s_loop, s_conninfo, 1);
    unsetenv("SAMSPIL_DB_PIPELINE");
    if (sp_db_open(one) != 0) {
        ITEST_CHECK(0, "a pool of one opens");
        return;
    }
    static const char *const tenant_sql =
        "SELECT coalesce(current_setting('samspil.tenant', true), ''), pg_backend_pid()";
    s_slot_t slot[4] = {{0}};
    sp_db_tx_t *tx = sp_db_tx_new(one);
    sp_db_tx_set_tenant(tx, "751");
    sp_db_tx_add(tx, s_sql_insert, 2, (const char *[]){"30", "thirty"});
    sp_db_tx_add(tx, tenant_sql, 0, NULL);
    sp_db_tx_run(tx, s_on_done, &slot[0]);
    tx = sp_db_tx_new(one);
    sp_db_tx_add(tx, s_sql_insert, 2, (const char *[]){"31", "thirty-one"});
    sp_db_tx_add(tx, s_sql_insert, 2, (const char *[]){"30", "dup"});
    sp_db_tx_run(tx, s_on_done, &slot[1]);
    tx = sp_db_tx_new(one);
    sp_db_tx_add(tx, s_sql_insert, 2, (const char *[]){"32", "thirty-two"});
    sp_db_tx_add(tx, tenant_sql, 0, NULL);
    sp_db_tx_run(tx, s_on_done, &slot[2]);
    int done = 0;
    for (int i = 0; i < 3; i++) {
        s_wait(&slot[i].done, 1);
        done += slot[i].done;
    }
    const char *t0 = slot[0].tx ? s_value(slot[0].tx, 1) : NULL;
    const char *t2 = slot[2].tx ? s_value(slot[2].tx, 1) : NULL;
    const PGresult *r0 = slot[0].tx ? sp_db_tx_result(slot[0].tx, 1) : NULL;
    const PGresult *r2 = slot[2].tx ? sp_db_tx_result(slot[2].tx, 1) : NULL;
    ITEST_CHECKF(done == 3 && sp_db_tx_ok(slot[0].tx) && !sp_db_tx_ok(slot[1].tx) &&
                     sp_db_tx_ok(slot[2].tx),
                 "pipelined transactions succeed or fail on their own", "done %d", done);
    ITEST_CHECK(r0 && r2 && strcmp(PQgetvalue(r0, 0, 1), PQgetvalue(r2, 0, 1)) == 0,
                "they ran on the same connection");
    ITEST_CHECKF(t0 && strcmp(t0, "751") == 0 && t2 && strcmp(t2, "") == 0,
                 "the tenant of one pipelined transaction does not reach the next", "%s / %s",
                 t0 ? t0 : "NULL", t2 ? t2 : "NULL");
    const char *st = slot[1].tx ? sp_db_tx_sqlstate(slot[1].tx) : NULL;
    ITEST_CHECKF(st && strcmp(st, "23505") == 0 && sp_db_tx_failed_index(slot[1].tx) == 1,
                 "the failing one reports its own error", "sqlstate %s", st ? st : "NULL");
    ITEST_CHECK(s_count("id IN (30, 32)") == 2 && s_count("id = 31") == 0,
                "a failed pipelined transaction is rolled back alone");
    for (int i = 0; i < 3; i++)
        sp_db_tx_destroy(&slot[i].tx);
    sp_db_destroy(&one);
}

static void test_reconnect(sp_db_t *db)
{
    /* four transactions at once take the four connections: learn their backends */
    s_slot_t slots[4] = {{0}};
    int done = 0;
    for (int i = 0; i < 4; i++) {
        sp_db_tx_t *tx = sp_db_tx_new(db);
        sp_db_tx_add(tx, "SELECT pg_backend_pid()", 0, NULL);
        sp_db_tx_run(tx, s_on_done, &slots[i]);
    }
    for (int i = 0; i < 4; i++) {
        s_wait(&slots[i].done, 1);
        done += slots[i].done;
    }
    char sql[512] = "SELECT count(*) FILTER (WHERE pg_terminate_backend(pid, 5000)) "
                    "FROM pg_stat_activity WHERE pid IN (0";
    for (int i = 0; i < 4; i++) {
        const char *pid = slots[i].tx ? s_value(slots[i].tx, 0) : NULL;
        if (pid) {
            strcat(sql, ",");
            strcat(sql, pid);
        }
        sp_db_tx_destroy(&slots[i].tx);
    }
    strcat(sql, ")");
    const char *killed = s_admin_value(sql);
    ITEST_CHECKF(done == 4 && killed && strcmp(killed, "4") == 0,
                 "the pool's four backends are terminated", "killed %s", killed ? killed : "NULL");

    sp_db_tx_t *tx = sp_db_tx_new(db);
    sp_db_tx_add(tx, s_sql_count, 0, NULL);
    tx = s_run(tx);
    const char *st = tx ? sp_db_tx_sqlstate(tx) : NULL;
    ITEST_CHECKF(tx && !sp_db_tx_ok(tx) && sp_db_tx_connection_failed(tx) && st &&
                     strcmp(st, "08006") == 0 && sp_db_tx_failed_index(tx) == -1,
                 "a transaction on a lost connection fails with connection_failed (08006)",
                 "ok %d sqlstate %s", tx ? sp_db_tx_ok(tx) : -1, st ? st : "NULL");
    sp_db_tx_destroy(&tx);

    bool ok = false;
    for (int attempt = 0; attempt < 100 && !ok; attempt++) {
        tx = sp_db_tx_new(db);
        sp_db_tx_add(tx, s_sql_count, 0, NULL);
        tx = s_run(tx);
        ok = tx && sp_db_tx_ok(tx);
        sp_db_tx_destroy(&tx);
        if (!ok)
            s_sleep_ms(50);
    }
    ITEST_CHECK(ok, "a later transaction succeeds after reconnection");
    for (int i = 0; i < 100 && sp_db_connections_ready(db) < 4; i++)
        s_sleep_ms(50);
    ITEST_CHECKF(sp_db_connections_ready(db) == 4, "every connection comes back", "ready %d",
                 sp_db_connections_ready(db));

    /* the pool still works at full concurrency after reconnecting */
    s_many_t m = {0};
    for (int i = 0; i < 20; i++) {
        tx = sp_db_tx_new(db);
        sp_db_tx_set_tenant(tx, "751");
        sp_db_tx_add(tx, s_sql_count, 0, NULL);
        sp_db_tx_run(tx, s_on_many, &m);
    }
    s_wait(&m.done, 20);
    ITEST_CHECKF(m.ok == 20, "reconnected connections run prepared statements again", "ok %d",
                 m.ok);
}

static void test_pool_edges(void)
{
    /* a pool that cannot connect */
    sp_db_t *bad =
        sp_db_new(&s_loop, "host=/nonexistent-samspil dbname=samspil connect_timeout=2", 2);
    ITEST_CHECK(sp_db_open(bad) == -1, "sp_db_open fails when the server cannot be reached");
    ITEST_CHECK(sp_db_connections_ready(bad) == 0, "a failed pool has no ready connection");
    s_slot_t slot = {0};
    sp_db_tx_t *tx = sp_db_tx_new(bad);
    sp_db_tx_add(tx, "SELECT 1", 0, NULL);
    sp_db_tx_run(tx, s_on_done, &slot);
    ITEST_CHECK(slot.done == 0,
                "a transaction on a pool without connections fails later, not inside run");
    s_wait(&slot.done, 1);
    ITEST_CHECK(slot.done == 1 && sp_db_tx_connection_failed(slot.tx),
                "...and then as a connection failure");
    sp_db_tx_destroy(&slot.tx);
    sp_db_destroy(&bad);

    /* destroying a pool fails what is queued */
    sp_db_t *one = sp_db_new(&s_loop, s_conninfo, 1);
    if (sp_db_open(one) != 0) {
        ITEST_CHECK(0, "a pool of one opens");
        return;
    }
    s_many_t m = {0};
    int failed = 0;
    for (int i = 0; i < 5; i++) {
        tx = sp_db_tx_new(one);
        sp_db_tx_add(tx, "SELECT pg_sleep(0.01)", 0, NULL);
        sp_db_tx_run(tx, s_on_many, &m);
    }
    sp_db_destroy(&one);
    failed = m.done - m.ok;
    ITEST_CHECKF(m.done == 5 && failed == 5,
                 "sp_db_destroy completes running and queued transactions as failed",
                 "done %d failed %d", m.done, failed);
    sp_db_destroy(&one); /* idempotent */
}

/* --- migrations */

static const sp_migration_t s_migrations[] = {
    {"001_init", "CREATE SCHEMA IF NOT EXISTS __S__;\n"
                 "CREATE TABLE __S__.thing (id int PRIMARY KEY, name text NOT NULL);\n"},
    {"002_more", "ALTER TABLE __S__.thing ADD COLUMN note text;\n"
                 "INSERT INTO __S__.thing (id, name) VALUES (1, 'a');\n"},
    {"003_broken", "INSERT INTO __S__.thing (id, name) VALUES (2, 'b');\n"
                   "INSERT INTO __S__.thing (id, name) VALUES (1, 'dup');\n"},
};

/* The migrations with __S__ replaced by the scratch schema (static storage). */
static sp_migration_t s_mig[3];
static char s_mig_sql[3][512];

static void s_prepare_migrations(void)
{
    for (int i = 0; i < 3; i++) {
        const char *in = s_migrations[i].sql;
        char *out = s_mig_sql[i];
        size_t o = 0;
        while (*in && o + 64 < sizeof s_mig_sql[i]) {
            if (strncmp(in, "__S__", 5) == 0) {
                o += (size_t)snprintf(out + o, sizeof s_mig_sql[i] - o, "%s", s_mschema);
                in += 5;
            } else {
                out[o++] = *in++;
            }
        }
        out[o] = '\0';
        s_mig[i].name = s_migrations[i].name;
        s_mig[i].sql = out;
    }
}

static int s_migrate_in_child(size_t count)
{
    PGconn *conn = PQconnectdb(s_conninfo);
    int n = PQstatus(conn) == CONNECTION_OK ? sp_migrate_apply(conn, s_mschema, s_mig, count) : -1;
    PQfinish(conn);
    return n;
}

static void test_migrate(void)
{
    s_prepare_migrations();
    char cur[64] = "x";
    ITEST_CHECK(sp_migrate_current(s_admin, s_mschema, cur, sizeof cur) == 0 && cur[0] == '\0',
                "no migrations recorded for a schema that does not exist");

    /* three processes migrate the same schema at once: each migration applies once */
    enum { KIDS = 3 };
    pid_t kids[KIDS];
    for (int i = 0; i < KIDS; i++) {
        fflush(NULL);
        kids[i] = fork();
        if (kids[i] == 0)
            _exit(s_migrate_in_child(2) + 10);
    }
    int total = 0, failures = 0;
    for (int i = 0; i < KIDS; i++) {
        int status = 0;
        waitpid(kids[i], &status, 0);
        int n = WIFEXITED(status) ? WEXITSTATUS(status) - 10 : -1;
        if (n < 0)
            failures++;
        else
            total += n;
    }
    ITEST_CHECKF(failures == 0 && total == 2,
                 "concurrent migrators apply each migration exactly once", "applied %d, failed %d",
                 total, failures);
    ITEST_CHECK(sp_migrate_current(s_admin, s_mschema, cur, sizeof cur) == 0 &&
                    strcmp(cur, "002_more") == 0,
                "the latest recorded migration is reported");
    ITEST_CHECK(sp_migrate_apply(s_admin, s_mschema, s_mig, 2) == 0, "applying again is a no-op");

    int n = sp_migrate_apply(s_admin, s_mschema, s_mig, 3);
    ITEST_CHECKF(n == -1, "a failing migration fails the run", "returned %d", n);
    char sql[256];
    snprintf(sql, sizeof sql, "SELECT count(*) FROM %s.thing", s_mschema);
    const char *v = s_admin_value(sql);
    char rows[32];
    snprintf(rows, sizeof rows, "%s", v ? v : "NULL");
    snprintf(sql, sizeof sql, "SELECT count(*) FROM %s.schema_migrations", s_mschema);
    v = s_admin_value(sql);
    char recorded[32];
    snprintf(recorded, sizeof recorded, "%s", v ? v : "NULL");
    ITEST_CHECKF(strcmp(rows, "1") == 0 && strcmp(recorded, "2") == 0,
                 "a failed migration leaves neither its changes nor its record",
                 "rows %s recorded %s", rows, recorded);
    ITEST_CHECK(PQtransactionStatus(s_admin) == PQTRANS_IDLE,
                "the connection is usable after a failed migration");
    snprintf(
        sql, sizeof sql,
        "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND pid = pg_backend_pid()");
    v = s_admin_value(sql);
    ITEST_CHECK(v && strcmp(v, "0") == 0, "the migration lock is released after a failure");
}

static void s_quiet(void *arg, const char *message)
{
    (void)arg;
    (void)message;
}

int main(void)
{
    sp_log_init("test_db");
    alarm(300);
    signal(SIGPIPE, SIG_IGN);
    s_conninfo = itest_env("SAMSPIL_OWNER_DB");
    s_admin = PQconnectdb(s_conninfo);
    if (PQstatus(s_admin) != CONNECTION_OK) {
        itest_check(0, "connect as the owner", "%s", PQerrorMessage(s_admin));
        return itest_done();
    }
    PQsetNoticeProcessor(s_admin, s_quiet, NULL);
    snprintf(s_schema, sizeof s_schema, "test_db_%ld", (long)getpid());
    snprintf(s_mschema, sizeof s_mschema, "test_migrate_%ld", (long)getpid());
    char sql[512];
    snprintf(sql, sizeof sql,
             "CREATE SCHEMA %s; CREATE TABLE %s.t (id int PRIMARY KEY, v text, "
             "CONSTRAINT t_v_key UNIQUE (v))",
             s_schema, s_schema);
    if (!itest_check(s_admin_exec(sql), "create a scratch table", NULL))
        return itest_done();
    snprintf(s_sql_insert, sizeof s_sql_insert, "INSERT INTO %s.t (id, v) VALUES ($1, $2)",
             s_schema);
    snprintf(s_sql_insert_ret, sizeof s_sql_insert_ret,
             "INSERT INTO %s.t (id, v) VALUES ($1, $2) RETURNING id", s_schema);
    snprintf(s_sql_count, sizeof s_sql_count, "SELECT count(*) FROM %s.t", s_schema);

    uv_loop_init(&s_loop);
    uv_timer_init(&s_loop, &s_watchdog);

    sp_db_t *db = sp_db_new(&s_loop, s_conninfo, 4);
    ITEST_CHECK(db && sp_db_open(db) == 0, "a pool of 4 connects");
    ITEST_CHECK(sp_db_connections_ready(db) == 4, "all 4 connections are ready");

    test_commit_all(db);
    test_rollback(db);
    test_tenant(db);
    test_concurrent(db);
    test_prepared_after_failure();
    test_pipelined();
    test_reconnect(db);
    sp_db_destroy(&db);
    test_pool_edges();
    test_migrate();

    uv_close((uv_handle_t *)&s_watchdog, NULL);
    uv_run(&s_loop, UV_RUN_DEFAULT);
    ITEST_CHECK(uv_loop_close(&s_loop) == 0, "every libuv handle was released");

    snprintf(sql, sizeof sql, "DROP SCHEMA %s CASCADE; DROP SCHEMA IF EXISTS %s CASCADE", s_schema,
             s_mschema);
    if (!getenv("TEST_DB_KEEP"))
        itest_check(s_admin_exec(sql), "drop the scratch schemas", NULL);
    PQfinish(s_admin);
    return itest_done();
}
