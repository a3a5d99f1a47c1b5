/*
 * ev_test.h - helpers shared by the event bus tests and the events
 * benchmark: looking at registration.outbox with the owner connection (as
 * the relay does: samspil.relay = 'on'), waiting for the relay to publish,
 * and decoding stored payloads.  Killing and restarting suite processes:
 * suite_proc.h.
 *
 * Header-only (static inline), used together with itest.h and reg_client.h.
 * Waits are bounded and poll the database; none is an assertion by itself.
 */
#ifndef EV_TEST_H
#define EV_TEST_H

#include "itest.h"
#include "reg_client.h"
#include "suite_proc.h"
#include "samspil/v1/events.pb-c.h"

#include <fcntl.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>

/* ---------------------------------------------------------------- database */

/* Let the owner session read the outbox across tenants, as the relay does
 * (FORCE ROW LEVEL SECURITY applies to the owner too).  Exits 2 on failure. */
static inline void ev_db_relay(PGconn *db)
{
    PQclear(PQexec(db, "SET client_min_messages = warning"));
    PGresult *res = PQexec(db, "SELECT set_config('samspil.relay', 'on', false)");
    if (PQresultStatus(res) != PGRES_TUPLES_OK) {
        fprintf(stderr, "itest: could not set samspil.relay: %s", PQerrorMessage(db));
        exit(2);
    }
    PQclear(res);
}

/* A single integer from `sql` (owner connection with ev_db_relay), -1 on error. */
static inline long long ev_db_int(PGconn *db, const char *sql, int nparams,
                                  const char *const *params)
{
    return rc_db_count(db, NULL, sql, nparams, params);
}

/* Outbox rows of `tenant` with `type` (NULL: any) about `entity` (NULL:
 * any) whose id is above `after_id`. */
static inline long long ev_count_after(PGconn *db, long long after_id, const char *tenant,
                                       const char *type, const char *entity)
{
    char after[32];
    snprintf(after, sizeof after, "%lld", after_id);
    const char *p[4] = {tenant, type, entity, after};
    return ev_db_int(db,
                     "SELECT count(*) FROM registration.outbox WHERE tenant_id = $1 "
                     "AND ($2::text IS NULL OR event_type = $2) "
                     "AND ($3::text IS NULL OR entity_id = $3) AND id > $4::bigint",
                     4, p);
}

/* Highest outbox id so far (0: none). */
static inline long long ev_last_id(PGconn *db)
{
    return ev_db_int(db, "SELECT COALESCE(max(id), 0) FROM registration.outbox", 0, NULL);
}

/* The state of the stream's sequence, read in one statement. */
typedef struct {
    long long rows;      /* outbox rows */
    long long assigned;  /* rows with a seq */
    long long max_seq;   /* highest seq (0: none) */
    long long distinct;  /* distinct seqs */
    long long published; /* outbox_stream.published_seq */
    long long assigned_seq;
} ev_stream_t;

static inline int ev_stream(PGconn *db, ev_stream_t *s)
{
    PGresult *res = rc_db_query(
        db, NULL,
        "SELECT count(*), count(o.seq), COALESCE(max(o.seq), 0), count(DISTINCT o.seq), "
        "(SELECT published_seq FROM registration.outbox_stream WHERE stream = 'registration'), "
        "(SELECT assigned_seq FROM registration.outbox_stream WHERE stream = 'registration') "
        "FROM registration.outbox o",
        0, NULL);
    if (!res || PQntuples(res) != 1) {
        PQclear(res);
        return -1;
    }
    long long *out[] = {&s->rows,     &s->assigned,  &s->max_seq,
                        &s->distinct, &s->published, &s->assigned_seq};
    for (int i = 0; i < 6; i++)
        *out[i] = PQgetisnull(res, 0, i) ? -1 : strtoll(PQgetvalue(res, 0, i), NULL, 10);
    PQclear(res);
    return 0;
}

/* Wait up to `timeout_us` until every outbox row has its seq and the relay
 * has published them all.  Returns true when it did; *s is the last state. */
static inline bool ev_wait_published(PGconn *db, int64_t timeout_us, ev_stream_t *s)
{
    int64_t deadline = rc_now_us() + timeout_us;
    for (;;) {
        if (ev_stream(db, s) == 0 && s->rows == s->assigned && s->published == s->max_seq &&
            s->assigned_seq == s->max_seq)
            return true;
        if (rc_now_us() >= deadline)
            return false;
        usleep(50 * 1000);
    }
}

/* "\x0a03..." (bytea text) into bytes; returns a malloc'd buffer, NULL on error. */
static inline uint8_t *ev_unhex(const char *text, size_t *len)
{
    if (text[0] != '\\' || text[1] != 'x')
        return NULL;
    text += 2;
    size_t n = strlen(text) / 2;
    uint8_t *out = malloc(n ? n : 1);
    for (size_t i = 0; i < n; i++) {
        unsigned v;
        if (sscanf(text + 2 * i, "%2x", &v) != 1) {
            free(out);
            return NULL;
        }
        out[i] = (uint8_t)v;
    }
    *len = n;
    return out;
}

/* True if `needle` occurs in `hay` (`len` bytes). */
static inline bool ev_contains(const uint8_t *hay, size_t len, const char *needle)
{
    size_t n = strlen(needle);
    for (size_t i = 0; n && i + n <= len; i++)
        if (memcmp(hay + i, needle, n) == 0)
            return true;
    return false;
}

#endif
