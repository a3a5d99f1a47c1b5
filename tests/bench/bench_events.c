/*
 * bench_events.c - events per second from commit to applied in a
 * subscriber, next to the raw rate of inserting the same rows into the
 * outbox table (issue 3 point 6).
 *
 * Both phases insert the same rows, one committed transaction per event
 * from one connection as samspil_registration (the tenant set in the same
 * statement, as the service does): an actor.registered Event packed as the
 * service packs it.
 *
 *  1. baseline: for --seconds, into bench_scratch.outbox, a table with the
 *     DDL of registration.outbox that no relay reads: M rows/s.
 *  2. events: for --seconds, into registration.outbox while the suite's
 *     relay publishes them through the broker and the event_sink helper
 *     (already running, schema --sink-schema) applies each in a transaction
 *     of its own; then wait until it has applied all of them.  Events/s =
 *     rows / (last applied - first committed), from the database's own
 *     clock (outbox.created_at, <sink>.applied.applied_at); latency per
 *     event = applied_at - created_at.
 *
 * Prints one line for tests/bench/run-bench.sh:
 *   events_per_s=<v> inserts_per_s=<v> p50_ms=<v> p99_ms=<v> count=<n> baseline_count=<n>
 * Exits 1 when the sink did not apply every event within --timeout.
 */
#include "../integration/reg_client.h"
#include "bench_common.h"
#include "samspil/v1/events.pb-c.h"

#include <stdlib.h>
#include <unistd.h>

/* One row as the service writes it: tenant, type, entity id, packed Event. */
static const char s_insert_outbox[] =
    "WITH t AS (SELECT set_config('samspil.tenant', $1, true)) "
    "INSERT INTO registration.outbox (tenant_id, event_type, entity_id, payload) "
    "SELECT $1, $2, $3, $4::bytea FROM t";
static const char s_insert_scratch[] =
    "WITH t AS (SELECT set_config('samspil.tenant', $1, true)) "
    "INSERT INTO bench_scratch.outbox (tenant_id, event_type, entity_id, payload) "
    "SELECT $1, $2, $3, $4::bytea FROM t";

/* The outbox DDL of common/sp_outbox.h, without row-level security. */
static const char s_scratch_ddl[] =
    "CREATE SCHEMA IF NOT EXISTS bench_scratch;"
    "DROP TABLE IF EXISTS bench_scratch.outbox;"
    "CREATE TABLE bench_scratch.outbox (id bigserial PRIMARY KEY, tenant_id text NOT NULL, "
    "event_type text NOT NULL, entity_id text NOT NULL, payload bytea NOT NULL, "
    "seq bigint UNIQUE, created_at timestamptz NOT NULL DEFAULT now());"
    "CREATE INDEX ON bench_scratch.outbox (id) WHERE seq IS NULL;"
    "GRANT USAGE ON SCHEMA bench_scratch TO samspil_registration;"
    "GRANT INSERT ON bench_scratch.outbox TO samspil_registration;"
    "GRANT USAGE ON SEQUENCE bench_scratch.outbox_id_seq TO samspil_registration;";

/* The bytea text of an actor.registered event about `entity`. */
static void s_payload(const char *tenant, const char *entity, char *out, size_t outlen)
{
    Samspil__V1__ActorEvent ae = SAMSPIL__V1__ACTOR_EVENT__INIT;
    ae.kind = SAMSPIL__V1__ACTOR_KIND__ACTOR_KIND_CITIZEN;
    Samspil__V1__Event ev = SAMSPIL__V1__EVENT__INIT;
    ev.tenant = (char *)tenant;
    ev.type = (char *)"actor.registered";
    ev.entity_id = (char *)entity;
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    ev.occurred_at_us = (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
    ev.payload_case = SAMSPIL__V1__EVENT__PAYLOAD_ACTOR;
    ev.actor = &ae;
    uint8_t buf[256];
    size_t n = samspil__v1__event__get_packed_size(&ev);
    if (n > sizeof buf || 2 * n + 3 > outlen)
        abort();
    samspil__v1__event__pack(&ev, buf);
    static const char hex[] = "0123456789abcdef";
    out[0] = '\\';
    out[1] = 'x';
    for (size_t i = 0; i < n; i++) {
        out[2 + 2 * i] = hex[buf[i] >> 4];
        out[3 + 2 * i] = hex[buf[i] & 15];
    }
    out[2 + 2 * n] = '\0';
}

/* Insert rows with `sql` for `seconds` (0: one row); entity ids "<prefix>-<n>".
 * Returns the count, or -1 on an error. */
static long long s_insert_for(PGconn *conn, const char *sql, const char *tenant, const char *prefix,
                              int64_t seconds)
{
    long long n = 0;
    char entity[96], payload[600];
    int64_t end = bench_now_us() + seconds * 1000000;
    do { /* at least one row (seconds 0: exactly one) */
        snprintf(entity, sizeof entity, "%s-%lld", prefix, n);
        s_payload(tenant, entity, payload, sizeof payload);
        const char *params[4] = {tenant, "actor.registered", entity, payload};
        PGresult *res = PQexecParams(conn, sql, 4, NULL, params, NULL, NULL, 0);
        if (PQresultStatus(res) != PGRES_COMMAND_OK) {
            fprintf(stderr, "bench_events: insert failed: %s", PQerrorMessage(conn));
            PQclear(res);
            return -1;
        }
        PQclear(res);
        n++;
    } while (bench_now_us() < end);
    return n;
}

static bool s_exec(PGconn *conn, const char *sql)
{
    PGresult *res = PQexec(conn, sql);
    bool ok = PQresultStatus(res) == PGRES_COMMAND_OK || PQresultStatus(res) == PGRES_TUPLES_OK;
    if (!ok)
        fprintf(stderr, "bench_events: %s", PQerrorMessage(conn));
    PQclear(res);
    return ok;
}

/* Applied rows of this run's events in the sink, or -1. */
static long long s_applied(PGconn *owner, const char *count_sql, const char *pattern)
{
    const char *p[1] = {pattern};
    return rc_db_count(owner, NULL, count_sql, 1, p);
}

int main(int argc, char **argv)
{
    sp_option_t opts[] = {
        {.flag = "database",
         .env = "SAMSPIL_OWNER_DB",
         .metavar = "CONNINFO",
         .help = "owner conninfo of the suite's database (required)"},
        {.flag = "sink-schema",
         .metavar = "NAME",
         .default_value = "bench_eventsink",
         .help = "schema of the running event_sink"},
        {.flag = "tenant", .metavar = "CODE", .default_value = "147", .help = "tenant of the rows"},
        bench_opt_seconds(),
        {.flag = "timeout",
         .type = SP_OPT_INT,
         .metavar = "S",
         .default_value = "120",
         .help = "wait at most this long for the sink to apply every event"},
    };
    const sp_program_info_t info = {
        .program = "bench_events",
        .description = "Outbox events per second from commit to applied in event_sink, next to "
                       "the raw rate of inserting the same rows into an outbox table.",
    };
    size_t nopts = sizeof opts / sizeof opts[0];
    if (sp_config_parse(&info, opts, nopts, argc, argv, NULL, NULL) != 0)
        return 2;
    const char *database = sp_config_find(opts, nopts, "database")->value;
    const char *schema = sp_config_find(opts, nopts, "sink-schema")->value;
    const char *tenant = sp_config_find(opts, nopts, "tenant")->value;
    int64_t seconds = sp_config_find(opts, nopts, "seconds")->int_value;
    int64_t timeout = sp_config_find(opts, nopts, "timeout")->int_value;
    if (!database || !*database || seconds < 1 || timeout < 1) {
        fprintf(stderr, "bench_events: need --database, seconds >= 1, timeout >= 1\n");
        return 2;
    }
    for (const char *c = schema; *c; c++)
        if (!((*c >= 'a' && *c <= 'z') || *c == '_')) {
            fprintf(stderr, "bench_events: --sink-schema must be a plain identifier\n");
            return 2;
        }

    PGconn *owner = rc_db_connect(database, NULL);
    PGconn *svc = rc_db_connect(database, "samspil_registration");
    if (!s_exec(owner, "SET client_min_messages = warning") || !s_exec(owner, s_scratch_ddl) ||
        !s_exec(owner, "SELECT set_config('samspil.relay', 'on', false)"))
        return 1;

    char prefix[64], pattern[80], count_sql[256];
    snprintf(prefix, sizeof prefix, "bench-%s", rc_nonce());
    snprintf(pattern, sizeof pattern, "%s-%%", prefix);
    snprintf(count_sql, sizeof count_sql, "SELECT count(*) FROM %s.applied WHERE entity_id LIKE $1",
             schema);

    /* 0. the pipeline is live: one event of a warm-up prefix gets applied */
    char warm[80], warm_pattern[96];
    snprintf(warm, sizeof warm, "warm-%s", rc_nonce());
    snprintf(warm_pattern, sizeof warm_pattern, "%s-%%", warm);
    /* The sink starts after the head it finds first, which may already
     * include a warm-up row committed before it asked: add one a second
     * until one gets through. */
    int64_t deadline = bench_now_us() + timeout * 1000000;
    while (s_applied(owner, count_sql, warm_pattern) < 1 && bench_now_us() < deadline) {
        if (s_insert_for(svc, s_insert_outbox, tenant, warm, 0) < 0)
            return 1;
        int64_t next = bench_now_us() + 1000000;
        while (s_applied(owner, count_sql, warm_pattern) < 1 && bench_now_us() < next)
            usleep(50 * 1000);
    }
    if (s_applied(owner, count_sql, warm_pattern) < 1) {
        fprintf(stderr, "bench_events: the sink did not apply a warm-up event within %lld s\n",
                (long long)timeout);
        return 1;
    }

    /* 1. the same rows into a table no relay reads */
    long long base = s_insert_for(svc, s_insert_scratch, tenant, prefix, seconds);
    if (base <= 0)
        return 1;
    double inserts_per_s = (double)base / (double)seconds;

    /* 2. into the outbox, relayed, published and applied */
    char stats_sql[1024];
    snprintf(stats_sql, sizeof stats_sql,
             "SELECT count(*), "
             "extract(epoch FROM max(a.applied_at) - min(o.created_at)), "
             "percentile_cont(0.5) WITHIN GROUP (ORDER BY extract(epoch FROM a.applied_at - "
             "o.created_at)), "
             "percentile_cont(0.99) WITHIN GROUP (ORDER BY extract(epoch FROM a.applied_at - "
             "o.created_at)) "
             "FROM %s.applied a JOIN registration.outbox o ON o.seq = a.seq "
             "WHERE a.stream = 'registration' AND a.entity_id LIKE $1",
             schema);
    long long n = s_insert_for(svc, s_insert_outbox, tenant, prefix, seconds);
    if (n <= 0)
        return 1;
    deadline = bench_now_us() + timeout * 1000000;
    long long applied = 0;
    while ((applied = s_applied(owner, count_sql, pattern)) < n && bench_now_us() < deadline)
        usleep(50 * 1000);
    if (applied != n) {
        fprintf(stderr, "bench_events: the sink applied %lld of %lld events within %lld s\n",
                applied, n, (long long)timeout);
        return 1;
    }
    const char *p[1] = {pattern};
    PGresult *res = rc_db_query(owner, NULL, stats_sql, 1, p);
    if (!res || PQntuples(res) != 1)
        return 1;
    long long joined = strtoll(PQgetvalue(res, 0, 0), NULL, 10);
    double span = strtod(PQgetvalue(res, 0, 1), NULL);
    double p50 = strtod(PQgetvalue(res, 0, 2), NULL) * 1000.0;
    double p99 = strtod(PQgetvalue(res, 0, 3), NULL) * 1000.0;
    PQclear(res);
    if (joined != n || span <= 0) {
        fprintf(stderr, "bench_events: %lld of %lld applied events match their outbox rows\n",
                joined, n);
        return 1;
    }
    printf("events_per_s=%.1f inserts_per_s=%.1f p50_ms=%.2f p99_ms=%.2f count=%lld "
           "baseline_count=%lld\n",
           (double)n / span, inserts_per_s, p50, p99, n, base);
    PQfinish(svc);
    PQfinish(owner);
    return 0;
}
