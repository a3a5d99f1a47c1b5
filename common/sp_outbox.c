/*
 * sp_outbox.c - the outbox relay (leader election by advisory lock,
 * sequence assignment at publish time, publishing on a PUB socket, stream
 * heads) and the replay service.
 *
 * The relay is a small state machine driven by one timer on the loop:
 *   follower  - every 500 ms: ensure the outbox_stream row, try the lock;
 *   catch-up  - just became leader: republish published_seq+1..assigned_seq
 *               as it was when the lock was taken, a batch per round;
 *   leading   - each round: record what was published, assign and return
 *               the next batch, publish it in seq order.
 * Only one transaction of the relay is in flight at a time.  A round whose
 * statement finds the lock no longer held by this session (pg_locks), or a
 * lost connection, sends the relay back to follower.
 *
 * Replay requests run on a second connection, so a long replay never
 * delays the relay.  Events are stamped with stream and seq by appending
 * the two fields to the stored payload (sp_event_wire.h), and a ReplayReply
 * is built the same way, without unpacking a single event.
 */
#include "sp_outbox.h"
#include "sp_home.h"
#include "sp_buf.h"
#include "sp_db.h"
#include "sp_error.h"
#include "sp_event_wire.h"
#include "sp_log.h"
#include "sp_mdp.h"
#include "sp_principal.h"

#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <zmq.h>

#define S_BATCH_DEFAULT 1000
#define S_BATCH_MAX 10000
#define S_IDLE_MS_DEFAULT 20
#define S_HEAD_MS_DEFAULT 1000
#define S_FOLLOWER_MS 500
#define S_ERROR_RETRY_MS 500
#define S_SNDHWM 1000000
#define S_STATS_MS 60000
/* seqs a replay request examines at most (whatever its filters drop) */
#define S_REPLAY_WINDOW 100000
/* room kept in a reply for head_seq and scanned_to */
#define S_REPLY_CAP (SP_MDP_MAX_FRAME_SIZE - 64)

static const char *const S_RELAY_ON = "SELECT set_config('samspil.relay', 'on', true)";
/* A relay round's settings: the RLS flag, and no bitmap scans.  The round
 * takes the next unassigned rows from the partial index outbox_unassigned,
 * which holds an entry for every row numbered since the last vacuum; only
 * a plain index scan marks those dead entries (kill_prior_tuple), so each
 * is visited about once, where a bitmap scan (the planner's choice when it
 * expects few rows) visits the heap for every one of them in every round. */
static const char *const S_ROUND_ON = "SELECT set_config('samspil.relay', 'on', true), "
                                      "set_config('enable_bitmapscan', 'off', true)";

typedef enum { S_FOLLOWER, S_CATCHUP, S_LEADING } s_role_t;

struct sp_outbox_t {
    uv_loop_t *loop;
    void *ctx;
    char *stream;
    char *schema;
    char *conninfo;
    char *endpoint;
    unsigned batch;
    int idle_ms, head_ms;
    sp_curve_client_t curve;
    bool fault_exit_after_assign;
    long lock_key; /* second key of the advisory lock */

    /* SQL built once from the (checked) schema name and lock keys */
    char *sql_ensure, *sql_lock, *sql_state, *sql_record, *sql_round, *sql_catchup, *sql_replay;

    sp_db_t *db;        /* the relay's connection (holds the lock) */
    sp_db_t *replay_db; /* replay requests */
    void *pub;

    uv_timer_t round_timer;
    uv_timer_t head_timer;
    uv_timer_t stats_timer;
    int handles;
    bool started, closing, busy;

    s_role_t role;
    uint64_t catchup_to; /* assigned_seq when leadership was taken */
    uint64_t published;  /* last seq published by this relay */
    uint64_t recorded;   /* published_seq stored (as far as this relay knows) */
    uint64_t recording;  /* value being stored by the round in flight */
    uint64_t head_sent;  /* seq of the last stream.head sent */
    uint64_t published_count, send_failures, rounds, replays;
    uint64_t failures;        /* relay transactions failed in a row (not the connection) */
    uint64_t stats_published; /* published_count at the last stats line */

    sp_buf_t body;  /* scratch: a stamped event */
    sp_buf_t bytes; /* scratch: a decoded bytea */
};

static void s_schedule(sp_outbox_t *self, int ms);

static char *s_strdup(const char *s)
{
    char *copy = strdup(s ? s : "");
    if (!copy)
        abort();
    return copy;
}

static char *s_sql(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static char *s_sql(const char *fmt, ...)
{
    sp_buf_t buf;
    sp_buf_init(&buf);
    va_list ap;
    va_start(ap, fmt);
    sp_buf_vprintf(&buf, fmt, ap);
    va_end(ap);
    return sp_buf_take(&buf);
}

/* A plain lower-case SQL identifier: the schema name goes into SQL text. */
static bool s_identifier_ok(const char *name)
{
    if (!name || !*name || strlen(name) > 63 ||
        !((name[0] >= 'a' && name[0] <= 'z') || name[0] == '_'))
        return false;
    for (const char *p = name; *p; p++)
        if (!((*p >= 'a' && *p <= 'z') || (*p >= '0' && *p <= '9') || *p == '_'))
            return false;
    return true;
}

/* Second advisory lock key: FNV-1a of the stream, kept in 1..2^31-1 so it
 * compares equal to pg_locks.objid without sign trouble. */
static long s_lock_key(const char *stream)
{
    uint32_t h = 2166136261u;
    for (const unsigned char *p = (const unsigned char *)stream; *p; p++) {
        h ^= *p;
        h *= 16777619u;
    }
    h &= 0x7fffffffu;
    return h ? (long)h : 1;
}

int64_t sp_outbox_now_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

/* --- endpoints and topics */

/* an empty string when the endpoint does not fit (the contract in sp_outbox.h) */
static const char *s_events_default(const char *home, const char *file, char *out, size_t outlen)
{
    if (!sp_home_ipc_endpoint(home, file, out, outlen) && outlen)
        out[0] = '\0';
    return out;
}

const char *sp_events_in_default(const char *home, char *out, size_t outlen)
{
    return s_events_default(home, "events-in.ipc", out, outlen);
}

const char *sp_events_out_default(const char *home, char *out, size_t outlen)
{
    return s_events_default(home, "events-out.ipc", out, outlen);
}

int sp_event_topic(const char *stream, const char *tenant, const char *type, char *out,
                   size_t outlen)
{
    int n = snprintf(out, outlen, "%s/%s/%s", stream ? stream : "", tenant ? tenant : "",
                     type ? type : "");
    if (n < 0 || (size_t)n >= outlen)
        return -1;
    return n;
}

char *sp_outbox_payload_param(const Samspil__V1__Event *event)
{
    if (!event)
        return NULL;
    size_t len = samspil__v1__event__get_packed_size(event);
    uint8_t *packed = malloc(len ? len : 1);
    char *text = malloc(2 + 2 * len + 1);
    if (!packed || !text)
        abort();
    samspil__v1__event__pack(event, packed);
    static const char hex[] = "0123456789abcdef";
    text[0] = '\\';
    text[1] = 'x';
    for (size_t i = 0; i < len; i++) {
        text[2 + 2 * i] = hex[packed[i] >> 4];
        text[3 + 2 * i] = hex[packed[i] & 15];
    }
    text[2 + 2 * len] = '\0';
    free(packed);
    return text;
}

/* --- publishing */

static int s_send(sp_outbox_t *self, const char *topic, size_t topic_len, const void *body,
                  size_t len)
{
    if (zmq_send(self->pub, topic, topic_len, ZMQ_SNDMORE | ZMQ_DONTWAIT) < 0 ||
        zmq_send(self->pub, body, len, ZMQ_DONTWAIT) < 0) {
        self->send_failures++;
        return -1;
    }
    return 0;
}

/* Publish one stored row: topic, then the payload stamped with stream and seq. */
static void s_publish_row(sp_outbox_t *self, uint64_t seq, const char *tenant, const char *type,
                          const char *payload_hex, size_t hex_len)
{
    char topic[256];
    int tlen = sp_event_topic(self->stream, tenant, type, topic, sizeof topic);
    if (tlen < 0 || sp_event_bytea_decode(payload_hex, hex_len, &self->bytes) < 0) {
        /* still counts as published: a subscriber gets it by replay */
        sp_log_error("could not publish outbox row", SP_LOG_STR("stream", self->stream),
                     SP_LOG_INT("seq", seq),
                     SP_LOG_STR("reason", tlen < 0 ? "topic too long" : "bad payload"), SP_LOG_END);
        return;
    }
    sp_buf_reset(&self->body);
    sp_event_stamp(&self->body, (const uint8_t *)self->bytes.data, self->bytes.len, self->stream,
                   seq);
    if (s_send(self, topic, (size_t)tlen, self->body.data, self->body.len) == 0)
        self->published_count++;
}

static void s_send_head(sp_outbox_t *self)
{
    Samspil__V1__Event head = SAMSPIL__V1__EVENT__INIT;
    head.stream = self->stream;
    head.seq = self->published;
    head.tenant = "";
    head.type = SP_EVENT_TYPE_HEAD;
    head.occurred_at_us = sp_outbox_now_us();
    uint8_t packed[256];
    size_t len = samspil__v1__event__get_packed_size(&head);
    char topic[256];
    int tlen = sp_event_topic(self->stream, "", SP_EVENT_TYPE_HEAD, topic, sizeof topic);
    if (len > sizeof packed || tlen < 0)
        return;
    samspil__v1__event__pack(&head, packed);
    if (s_send(self, topic, (size_t)tlen, packed, len) == 0)
        self->head_sent = self->published;
}

/* Publish the rows of `res` (columns seq, tenant, type, payload starting at
 * `col`; rows whose seq is NULL are skipped) in order.  Returns rows published. */
static int s_publish_result(sp_outbox_t *self, const PGresult *res, int col)
{
    int n = 0;
    for (int i = 0; i < PQntuples(res); i++) {
        if (PQgetisnull(res, i, col))
            continue;
        uint64_t seq = strtoull(PQgetvalue(res, i, col), NULL, 10);
        s_publish_row(self, seq, PQgetvalue(res, i, col + 1), PQgetvalue(res, i, col + 2),
                      PQgetvalue(res, i, col + 3), (size_t)PQgetlength(res, i, col + 3));
        if (seq > self->published)
            self->published = seq;
        n++;
    }
    return n;
}

/* --- relay rounds */

static void s_lose(sp_outbox_t *self, const char *why)
{
    if (self->role != S_FOLLOWER)
        sp_log_warn("relay lost leadership", SP_LOG_STR("stream", self->stream),
                    SP_LOG_STR("reason", why), SP_LOG_INT("published_seq", self->published),
                    SP_LOG_END);
    self->role = S_FOLLOWER;
}

/* A failed relay transaction: log it (never the server's message: it can
 * quote values) and decide the role. */
static void s_round_failed(sp_outbox_t *self, sp_db_tx_t *tx, const char *what)
{
    if (sp_db_tx_connection_failed(tx)) {
        s_lose(self, "database connection lost");
    } else if (++self->failures == 1 || self->failures % 100 == 0) {
        /* retried every 500 ms: the first failure, then every 100th */
        sp_log_warn("relay transaction failed", SP_LOG_STR("stream", self->stream),
                    SP_LOG_STR("step", what), SP_LOG_STR("sqlstate", sp_db_tx_sqlstate(tx)),
                    SP_LOG_STR("constraint", sp_db_tx_constraint(tx)),
                    SP_LOG_INT("failures", self->failures), SP_LOG_END);
    }
}

static void s_on_acquire(sp_db_tx_t *tx, void *arg)
{
    sp_outbox_t *self = arg;
    self->busy = false;
    if (self->closing) {
        sp_db_tx_destroy(&tx);
        return;
    }
    if (!sp_db_tx_ok(tx)) {
        s_round_failed(self, tx, "acquire");
        sp_db_tx_destroy(&tx);
        s_schedule(self, S_FOLLOWER_MS);
        return;
    }
    self->failures = 0;
    const PGresult *lock = sp_db_tx_result(tx, 2);
    const PGresult *state = sp_db_tx_result(tx, 3);
    bool held = lock && PQntuples(lock) == 1 && strcmp(PQgetvalue(lock, 0, 0), "t") == 0;
    if (!held || !state || PQntuples(state) != 1) {
        sp_db_tx_destroy(&tx);
        s_schedule(self, S_FOLLOWER_MS);
        return;
    }
    uint64_t assigned = strtoull(PQgetvalue(state, 0, 0), NULL, 10);
    uint64_t published = strtoull(PQgetvalue(state, 0, 1), NULL, 10);
    sp_db_tx_destroy(&tx);
    self->role = S_CATCHUP;
    self->catchup_to = assigned;
    self->published = published;
    self->recorded = published;
    sp_log_info("relay leader", SP_LOG_STR("stream", self->stream),
                SP_LOG_INT("assigned_seq", assigned), SP_LOG_INT("published_seq", published),
                SP_LOG_END);
    s_schedule(self, 0);
}

static void s_on_catchup(sp_db_tx_t *tx, void *arg)
{
    sp_outbox_t *self = arg;
    self->busy = false;
    if (self->closing) {
        sp_db_tx_destroy(&tx);
        return;
    }
    if (!sp_db_tx_ok(tx)) {
        s_round_failed(self, tx, "republish");
        sp_db_tx_destroy(&tx);
        s_schedule(self, S_ERROR_RETRY_MS);
        return;
    }
    self->failures = 0;
    const PGresult *res = sp_db_tx_result(tx, 1);
    uint64_t from = self->published;
    int n = res ? s_publish_result(self, res, 0) : 0;
    sp_db_tx_destroy(&tx);
    if ((unsigned)n < self->batch)
        self->published = self->catchup_to; /* nothing more in the range */
    if (self->published >= self->catchup_to) {
        self->role = S_LEADING;
        if (self->catchup_to > from)
            sp_log_info("relay republished", SP_LOG_STR("stream", self->stream),
                        SP_LOG_INT("from_seq", from + 1), SP_LOG_INT("to_seq", self->catchup_to),
                        SP_LOG_END);
    }
    s_schedule(self, 0);
}

static void s_on_round(sp_db_tx_t *tx, void *arg)
{
    sp_outbox_t *self = arg;
    self->busy = false;
    if (self->closing) {
        sp_db_tx_destroy(&tx);
        return;
    }
    self->rounds++;
    if (!sp_db_tx_ok(tx)) {
        s_round_failed(self, tx, "assign");
        sp_db_tx_destroy(&tx);
        s_schedule(self, self->role == S_FOLLOWER ? S_FOLLOWER_MS : S_ERROR_RETRY_MS);
        return;
    }
    self->failures = 0;
    if (self->recording > self->recorded)
        self->recorded = self->recording;
    const PGresult *res = sp_db_tx_result(tx, 2);
    if (!res || PQntuples(res) < 1 || strcmp(PQgetvalue(res, 0, 0), "t") != 0) {
        sp_db_tx_destroy(&tx);
        s_lose(self, "advisory lock no longer held");
        s_schedule(self, S_FOLLOWER_MS);
        return;
    }
    int assigned = 0;
    for (int i = 0; i < PQntuples(res); i++)
        if (!PQgetisnull(res, i, 1))
            assigned++;
    if (assigned > 0 && self->fault_exit_after_assign) {
        sp_log_warn("fault injection: relay exits after assigning, before publishing",
                    SP_LOG_STR("stream", self->stream), SP_LOG_INT("assigned", assigned),
                    SP_LOG_END);
        _exit(3);
    }
    s_publish_result(self, res, 1);
    sp_db_tx_destroy(&tx);
    if (assigned > 0) {
        s_schedule(self, 0);
        return;
    }
    /* the burst is over: tell subscribers where it ended */
    if (self->published > self->head_sent)
        s_send_head(self);
    s_schedule(self, self->idle_ms);
}

static void s_round(sp_outbox_t *self)
{
    if (self->closing || self->busy || !self->db)
        return;
    char p_batch[24], p_a[24], p_b[24];
    snprintf(p_batch, sizeof p_batch, "%u", self->batch);
    sp_db_tx_t *tx = sp_db_tx_new(self->db);
    /* statement 0: the relay's RLS flag (and plan settings) for this transaction */
    sp_db_tx_add(tx, S_ROUND_ON, 0, NULL);
    self->busy = true;
    switch (self->role) {
    case S_FOLLOWER: {
        const char *p[] = {self->stream};
        sp_db_tx_add(tx, self->sql_ensure, 1, p);
        sp_db_tx_add(tx, self->sql_lock, 0, NULL);
        sp_db_tx_add(tx, self->sql_state, 1, p);
        sp_db_tx_run(tx, s_on_acquire, self);
        return;
    }
    case S_CATCHUP: {
        snprintf(p_a, sizeof p_a, "%" PRIu64, self->published);
        snprintf(p_b, sizeof p_b, "%" PRIu64, self->catchup_to);
        const char *p[] = {p_a, p_b, p_batch};
        sp_db_tx_add(tx, self->sql_catchup, 3, p);
        sp_db_tx_run(tx, s_on_catchup, self);
        return;
    }
    case S_LEADING: {
        self->recording = self->published;
        snprintf(p_a, sizeof p_a, "%" PRIu64, self->recording);
        const char *rec[] = {self->stream, p_a};
        const char *asg[] = {self->stream, p_batch};
        sp_db_tx_add(tx, self->sql_record, 2, rec);
        sp_db_tx_add(tx, self->sql_round, 2, asg);
        sp_db_tx_run(tx, s_on_round, self);
        return;
    }
    }
}

static void s_on_round_timer(uv_timer_t *timer)
{
    s_round(timer->data);
}

static void s_schedule(sp_outbox_t *self, int ms)
{
    if (self->closing)
        return;
    uv_timer_start(&self->round_timer, s_on_round_timer, (uint64_t)(ms > 0 ? ms : 0), 0);
}

static void s_on_head_timer(uv_timer_t *timer)
{
    sp_outbox_t *self = timer->data;
    if (!self->closing && self->role == S_LEADING)
        s_send_head(self);
}

static void s_on_stats_timer(uv_timer_t *timer)
{
    sp_outbox_t *self = timer->data;
    if (self->published_count == self->stats_published && !self->send_failures)
        return;
    sp_log_info("relay statistics", SP_LOG_STR("stream", self->stream),
                SP_LOG_INT("leader", self->role != S_FOLLOWER),
                SP_LOG_INT("published", self->published_count - self->stats_published),
                SP_LOG_INT("published_seq", self->published),
                SP_LOG_INT("send_failures", self->send_failures),
                SP_LOG_INT("replays", self->replays), SP_LOG_END);
    self->stats_published = self->published_count;
    self->send_failures = 0;
}

/* --- life cycle */

static void s_on_close(uv_handle_t *handle)
{
    sp_outbox_t *self = handle->data;
    if (--self->handles > 0)
        return;
    free(self->stream);
    free(self->schema);
    free(self->conninfo);
    free(self->endpoint);
    free(self->sql_ensure);
    free(self->sql_lock);
    free(self->sql_state);
    free(self->sql_record);
    free(self->sql_round);
    free(self->sql_catchup);
    free(self->sql_replay);
    sp_buf_free(&self->body);
    sp_buf_free(&self->bytes);
    memset(&self->curve, 0, sizeof self->curve);
    free(self);
}

static void s_build_sql(sp_outbox_t *self)
{
    const char *s = self->schema;
    self->sql_ensure = s_sql("INSERT INTO %s.outbox_stream (stream) VALUES ($1) "
                             "ON CONFLICT (stream) DO NOTHING",
                             s);
    self->sql_lock = s_sql("SELECT pg_catalog.pg_try_advisory_lock(%d, %ld)", SP_OUTBOX_LOCK_CLASS,
                           self->lock_key);
    self->sql_state = s_sql("SELECT assigned_seq, published_seq FROM %s.outbox_stream "
                            "WHERE stream = $1",
                            s);
    self->sql_record = s_sql("UPDATE %s.outbox_stream SET published_seq = $2::bigint "
                             "WHERE stream = $1 AND published_seq < $2::bigint",
                             s);
    /* One statement: check this session still holds the lock, lock the
     * stream row, number the next unassigned rows in id order after
     * assigned_seq, store both, return the rows in seq order (or one row
     * of NULLs after `held`). */
    self->sql_round = s_sql(
        "WITH lead AS ("
        " SELECT EXISTS (SELECT 1 FROM pg_catalog.pg_locks l"
        "  WHERE l.locktype = 'advisory' AND l.granted AND l.pid = pg_catalog.pg_backend_pid()"
        "   AND l.database = (SELECT d.oid FROM pg_catalog.pg_database d"
        "                      WHERE d.datname = pg_catalog.current_database())"
        "   AND l.classid = %d AND l.objid = %ld AND l.objsubid = 2) AS held),"
        " st AS (SELECT s.assigned_seq FROM %s.outbox_stream s, lead"
        "  WHERE s.stream = $1 AND lead.held FOR UPDATE OF s),"
        " pick AS (SELECT o.id, st.assigned_seq + row_number() OVER (ORDER BY o.id) AS seq"
        "  FROM st, (SELECT id FROM %s.outbox WHERE seq IS NULL ORDER BY id LIMIT $2::bigint) o),"
        " upd AS (UPDATE %s.outbox o SET seq = pick.seq FROM pick WHERE o.id = pick.id"
        "  RETURNING o.seq, o.tenant_id, o.event_type, o.payload),"
        " bump AS (UPDATE %s.outbox_stream s SET assigned_seq = (SELECT max(seq) FROM pick)"
        "  WHERE s.stream = $1 AND EXISTS (SELECT 1 FROM pick))"
        " SELECT lead.held, upd.seq, upd.tenant_id, upd.event_type, upd.payload"
        " FROM lead LEFT JOIN upd ON true ORDER BY upd.seq",
        SP_OUTBOX_LOCK_CLASS, self->lock_key, s, s, s, s);
    self->sql_catchup = s_sql("SELECT seq, tenant_id, event_type, payload FROM %s.outbox "
                              "WHERE seq > $1::bigint AND seq <= $2::bigint "
                              "ORDER BY seq LIMIT $3::bigint",
                              s);
    /* $1 stream, $2 from, $3 window end, $4 type prefix, $5 all tenants,
     * $6 tenants (text[] literal), $7 limit */
    self->sql_replay =
        s_sql("SELECT s.assigned_seq, o.seq, o.tenant_id, o.event_type, o.payload"
              " FROM %s.outbox_stream s LEFT JOIN LATERAL ("
              "  SELECT seq, tenant_id, event_type, payload FROM %s.outbox"
              "   WHERE seq >= $2::bigint AND seq <= s.assigned_seq AND seq <= $3::bigint"
              "    AND left(event_type, length($4::text)) = $4::text"
              "    AND ($5::boolean OR tenant_id = ANY ($6::text[]))"
              "   ORDER BY seq LIMIT $7::bigint) o ON true"
              " WHERE s.stream = $1 ORDER BY o.seq",
              s, s);
}

sp_outbox_t *sp_outbox_new(uv_loop_t *loop, void *zmq_context, const sp_outbox_config_t *config)
{
    if (!loop || !zmq_context || !config || !config->stream || !*config->stream ||
        !config->conninfo || !config->events_endpoint || !*config->events_endpoint) {
        sp_log_error("could not create outbox relay: incomplete configuration", SP_LOG_END);
        return NULL;
    }
    if (!s_identifier_ok(config->schema)) {
        sp_log_error("could not create outbox relay: schema is not a plain identifier", SP_LOG_END);
        return NULL;
    }
    if (strlen(config->stream) > 64 || strchr(config->stream, '/')) {
        sp_log_error("could not create outbox relay: invalid stream name", SP_LOG_END);
        return NULL;
    }
    sp_outbox_t *self = calloc(1, sizeof *self);
    if (!self)
        abort();
    if (sp_curve_client_resolve(config->curve, SP_CURVE_SERVICE_CERT, &self->curve) != 0) {
        sp_log_error("could not create outbox relay: no certificate",
                     SP_LOG_STR("stream", config->stream), SP_LOG_END);
        free(self);
        return NULL;
    }
    self->loop = loop;
    self->ctx = zmq_context;
    self->stream = s_strdup(config->stream);
    self->schema = s_strdup(config->schema);
    self->conninfo = s_strdup(config->conninfo);
    self->endpoint = s_strdup(config->events_endpoint);
    self->batch = config->batch ? config->batch : S_BATCH_DEFAULT;
    if (self->batch > S_BATCH_MAX)
        self->batch = S_BATCH_MAX;
    self->idle_ms = config->idle_ms > 0 ? config->idle_ms : S_IDLE_MS_DEFAULT;
    self->head_ms = config->head_ms > 0 ? config->head_ms : S_HEAD_MS_DEFAULT;
    self->lock_key = s_lock_key(self->stream);
    const char *fault = getenv("SAMSPIL_FAULT");
    self->fault_exit_after_assign = fault && strcmp(fault, "relay-exit-after-assign") == 0;
    if (self->fault_exit_after_assign)
        sp_log_warn("fault injection on: relay exits after assigning", SP_LOG_STR("fault", fault),
                    SP_LOG_END);
    sp_buf_init(&self->body);
    sp_buf_init(&self->bytes);
    s_build_sql(self);
    uv_timer_init(loop, &self->round_timer);
    uv_timer_init(loop, &self->head_timer);
    uv_timer_init(loop, &self->stats_timer);
    self->round_timer.data = self->head_timer.data = self->stats_timer.data = self;
    self->handles = 3;
    return self;
}

int sp_outbox_start(sp_outbox_t *self)
{
    if (!self || self->started || self->closing)
        return -1;
    self->db = sp_db_new(self->loop, self->conninfo, 1);
    self->replay_db = sp_db_new(self->loop, self->conninfo, 1);
    if (!self->db || !self->replay_db || sp_db_open(self->db) != 0 ||
        sp_db_open(self->replay_db) != 0) {
        sp_log_error("could not open the relay's database connections",
                     SP_LOG_STR("stream", self->stream), SP_LOG_END);
        sp_db_destroy(&self->db);
        sp_db_destroy(&self->replay_db);
        return -1;
    }
    self->pub = zmq_socket(self->ctx, ZMQ_PUB);
    if (!self->pub) {
        sp_log_error("could not create relay socket", SP_LOG_STR("error", zmq_strerror(errno)),
                     SP_LOG_END);
        goto fail;
    }
    int linger = 0, hwm = S_SNDHWM;
    zmq_setsockopt(self->pub, ZMQ_LINGER, &linger, sizeof linger);
    zmq_setsockopt(self->pub, ZMQ_SNDHWM, &hwm, sizeof hwm);
    if (sp_curve_client_apply(&self->curve, self->pub) != 0)
        goto fail;
    if (zmq_connect(self->pub, self->endpoint) < 0) {
        sp_log_error("could not connect relay socket", SP_LOG_STR("endpoint", self->endpoint),
                     SP_LOG_STR("error", zmq_strerror(errno)), SP_LOG_END);
        goto fail;
    }
    self->started = true;
    sp_log_info("relay started", SP_LOG_STR("stream", self->stream),
                SP_LOG_STR("endpoint", self->endpoint), SP_LOG_INT("batch", self->batch),
                SP_LOG_INT("idle_ms", self->idle_ms), SP_LOG_INT("head_ms", self->head_ms),
                SP_LOG_INT("plaintext", self->curve.plaintext), SP_LOG_END);
    uv_timer_start(&self->head_timer, s_on_head_timer, (uint64_t)self->head_ms,
                   (uint64_t)self->head_ms);
    uv_timer_start(&self->stats_timer, s_on_stats_timer, S_STATS_MS, S_STATS_MS);
    s_schedule(self, 0);
    return 0;
fail:
    if (self->pub)
        zmq_close(self->pub);
    self->pub = NULL;
    sp_db_destroy(&self->db);
    sp_db_destroy(&self->replay_db);
    return -1;
}

void sp_outbox_destroy(sp_outbox_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    sp_outbox_t *self = *self_p;
    *self_p = NULL;
    if (self->closing)
        return;
    self->closing = true;
    if (self->started)
        sp_log_info("relay stopped", SP_LOG_STR("stream", self->stream),
                    SP_LOG_INT("leader", self->role != S_FOLLOWER),
                    SP_LOG_INT("published_seq", self->published),
                    SP_LOG_INT("published", self->published_count), SP_LOG_END);
    uv_timer_stop(&self->round_timer);
    uv_timer_stop(&self->head_timer);
    uv_timer_stop(&self->stats_timer);
    /* transactions in flight complete (failed) inside these calls */
    sp_db_destroy(&self->db);
    sp_db_destroy(&self->replay_db);
    if (self->pub)
        zmq_close(self->pub);
    self->pub = NULL;
    uv_close((uv_handle_t *)&self->round_timer, s_on_close);
    uv_close((uv_handle_t *)&self->head_timer, s_on_close);
    uv_close((uv_handle_t *)&self->stats_timer, s_on_close);
}

bool sp_outbox_is_leader(const sp_outbox_t *self)
{
    return self && self->role != S_FOLLOWER;
}

uint64_t sp_outbox_published_seq(const sp_outbox_t *self)
{
    return self ? self->published : 0;
}

/* --- replay service */

/* Who may replay: everyone but readers (events are about single entities;
 * readers see aggregates only).  Services follow each other's streams. */
#define S_REPLAY_ROLES                                                                             \
    (SP_ROLE_BIT(SP_ROLE_OPERATOR) | SP_ROLE_BIT(SP_ROLE_INTEGRATOR) |                             \
     SP_ROLE_BIT(SP_ROLE_FACILITATOR) | SP_ROLE_BIT(SAMSPIL__V1__ROLE__ROLE_SERVICE))

typedef struct {
    sp_outbox_t *outbox;
    sp_request_t *request;
    uint64_t from;
    uint64_t window_end;
    unsigned limit;
} s_replay_t;

static void s_replay_error(sp_request_t **request, sp_error_code_t code, const char *field,
                           const char *fmt, ...) __attribute__((format(printf, 4, 5)));
static void s_replay_error(sp_request_t **request, sp_error_code_t code, const char *field,
                           const char *fmt, ...)
{
    sp_error_t err;
    sp_error_clear(&err);
    err.code = code;
    snprintf(err.field, sizeof err.field, "%s", field ? field : "");
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err.message, sizeof err.message, fmt, ap);
    va_end(ap);
    Samspil__V1__Error pb = SAMSPIL__V1__ERROR__INIT;
    sp_error_to_pb(&err, &pb);
    Samspil__V1__ReplayReply reply = SAMSPIL__V1__REPLAY_REPLY__INIT;
    reply.error = &pb;
    uint8_t packed[512];
    size_t len = samspil__v1__replay_reply__get_packed_size(&reply);
    if (len > sizeof packed)
        abort();
    samspil__v1__replay_reply__pack(&reply, packed);
    sp_log_warn("replay request refused", SP_LOG_STR("code", sp_error_code_name(code)),
                SP_LOG_STR("field", err.field), SP_LOG_STR("error", err.message), SP_LOG_END);
    sp_request_reply(request, packed, len);
}

/* A text[] literal of the principal's tenants: {"101","147"}. */
static char *s_tenant_array(const Samspil__V1__Principal *principal)
{
    sp_buf_t buf;
    sp_buf_init(&buf);
    sp_buf_puts(&buf, "{");
    for (size_t i = 0; i < principal->n_tenants; i++) {
        if (i)
            sp_buf_puts(&buf, ",");
        sp_buf_puts(&buf, "\"");
        for (const char *p = principal->tenants[i] ? principal->tenants[i] : ""; *p; p++) {
            if (*p == '"' || *p == '\\')
                sp_buf_append(&buf, "\\", 1);
            sp_buf_append(&buf, p, 1);
        }
        sp_buf_puts(&buf, "\"");
    }
    sp_buf_puts(&buf, "}");
    return sp_buf_take(&buf);
}

static void s_on_replay(sp_db_tx_t *tx, void *arg)
{
    s_replay_t *r = arg;
    sp_outbox_t *self = r->outbox;
    if (!sp_db_tx_ok(tx)) {
        if (!sp_db_tx_connection_failed(tx))
            sp_log_warn("replay query failed", SP_LOG_STR("stream", self->stream),
                        SP_LOG_STR("sqlstate", sp_db_tx_sqlstate(tx)), SP_LOG_END);
        sp_db_tx_destroy(&tx);
        s_replay_error(&r->request, SP_UNAVAILABLE, NULL, "events of stream %s are unavailable",
                       self->stream);
        free(r);
        return;
    }
    const PGresult *res = sp_db_tx_result(tx, 1);
    int rows = res ? PQntuples(res) : 0;
    uint64_t head = rows ? strtoull(PQgetvalue(res, 0, 0), NULL, 10) : 0;
    sp_buf_t reply, ev, bytes;
    sp_buf_init(&reply);
    sp_buf_init(&ev);
    sp_buf_init(&bytes);
    unsigned included = 0, examined = 0;
    uint64_t last = 0;
    bool cut = false;
    for (int i = 0; i < rows; i++) {
        if (PQgetisnull(res, i, 1))
            continue;
        uint64_t seq = strtoull(PQgetvalue(res, i, 1), NULL, 10);
        examined++;
        if (sp_event_bytea_decode(PQgetvalue(res, i, 4), (size_t)PQgetlength(res, i, 4), &bytes) <
            0) {
            sp_log_error("outbox row has a malformed payload", SP_LOG_STR("stream", self->stream),
                         SP_LOG_INT("seq", seq), SP_LOG_END);
            last = seq; /* skipped: it cannot be decoded by anyone */
            continue;
        }
        sp_buf_reset(&ev);
        sp_event_stamp(&ev, (const uint8_t *)bytes.data, bytes.len, self->stream, seq);
        if (reply.len + sp_event_reply_entry_size(ev.len) > S_REPLY_CAP) {
            cut = true;
            break;
        }
        sp_event_reply_add(&reply, (const uint8_t *)ev.data, ev.len);
        included++;
        last = seq;
    }
    /* everything up to scanned_to was considered */
    uint64_t scanned;
    if (cut || examined >= r->limit)
        scanned = last;
    else
        scanned = r->window_end < head ? r->window_end : head;
    sp_event_reply_finish(&reply, head, scanned);
    sp_db_tx_destroy(&tx);
    self->replays++;
    sp_log_debug("replay answered", SP_LOG_STR("stream", self->stream),
                 SP_LOG_INT("from_seq", r->from), SP_LOG_INT("events", included),
                 SP_LOG_INT("scanned_to", scanned), SP_LOG_INT("head_seq", head), SP_LOG_END);
    sp_request_reply(&r->request, reply.data, reply.len);
    sp_buf_free(&reply);
    sp_buf_free(&ev);
    sp_buf_free(&bytes);
    free(r);
}

void sp_outbox_replay_handler(sp_request_t *request, void *arg)
{
    sp_outbox_t *self = arg;
    if (!self || self->closing || !self->replay_db) {
        s_replay_error(&request, SP_UNAVAILABLE, NULL, "the relay is not running");
        return;
    }
    const Samspil__V1__Principal *principal = sp_request_principal(request);
    if (!sp_principal_has_role(principal, S_REPLAY_ROLES)) {
        s_replay_error(&request, SP_PERMISSION_DENIED, NULL, "role %s may not read events",
                       sp_role_name(principal ? principal->role : 0));
        return;
    }
    size_t len = 0;
    const uint8_t *body = sp_request_body(request, &len);
    if (len > SP_MDP_MAX_FRAME_SIZE) {
        s_replay_error(&request, SP_INVALID_ARGUMENT, "body", "request is %zu bytes; at most %d",
                       len, SP_MDP_MAX_FRAME_SIZE);
        return;
    }
    Samspil__V1__ReplayRequest *req = samspil__v1__replay_request__unpack(NULL, len, body);
    if (!req) {
        s_replay_error(&request, SP_INVALID_ARGUMENT, "body",
                       "could not decode ReplayRequest of %zu bytes", len);
        return;
    }
    char quoted[96];
    if (strcmp(req->stream, self->stream) != 0) {
        s_replay_error(&request, SP_INVALID_ARGUMENT, "stream",
                       "stream %s is not served here; this is %s",
                       sp_error_quote(req->stream, 64, quoted, sizeof quoted), self->stream);
        samspil__v1__replay_request__free_unpacked(req, NULL);
        return;
    }
    if (req->limit > SP_OUTBOX_REPLAY_MAX) {
        s_replay_error(&request, SP_INVALID_ARGUMENT, "limit", "limit %u is above %d", req->limit,
                       SP_OUTBOX_REPLAY_MAX);
        samspil__v1__replay_request__free_unpacked(req, NULL);
        return;
    }
    if (strlen(req->type_prefix) > 128) {
        s_replay_error(&request, SP_INVALID_ARGUMENT, "type_prefix",
                       "type_prefix is %zu bytes; at most 128", strlen(req->type_prefix));
        samspil__v1__replay_request__free_unpacked(req, NULL);
        return;
    }
    s_replay_t *r = calloc(1, sizeof *r);
    if (!r)
        abort();
    r->outbox = self;
    r->request = request;
    r->limit = req->limit ? req->limit : SP_OUTBOX_REPLAY_DEFAULT;
    r->from = req->from_seq ? req->from_seq : 1;
    if (r->from > (uint64_t)INT64_MAX)
        r->from = (uint64_t)INT64_MAX;
    r->window_end = r->from > (uint64_t)INT64_MAX - S_REPLAY_WINDOW ? (uint64_t)INT64_MAX
                                                                    : r->from + S_REPLAY_WINDOW - 1;
    char p_from[24], p_end[24], p_limit[24];
    snprintf(p_from, sizeof p_from, "%" PRIu64, r->from);
    snprintf(p_end, sizeof p_end, "%" PRIu64, r->window_end);
    snprintf(p_limit, sizeof p_limit, "%u", r->limit);
    char *tenants = s_tenant_array(principal);
    const char *params[] = {
        self->stream, p_from, p_end, req->type_prefix, principal->all_tenants ? "t" : "f",
        tenants,      p_limit};
    sp_db_tx_t *tx = sp_db_tx_new(self->replay_db);
    sp_db_tx_add(tx, S_RELAY_ON, 0, NULL);
    sp_db_tx_add(tx, self->sql_replay, 7, params);
    free(tenants);
    samspil__v1__replay_request__free_unpacked(req, NULL);
    sp_db_tx_run(tx, s_on_replay, r);
}
