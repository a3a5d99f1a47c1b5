/*
 * sp_db.c - a pool of non-blocking libpq connections on a libuv loop.
 *
 * Each connection is in pipeline mode.  A transaction's statements (the
 * tenant's set_config first, if any) are sent followed by one Sync, so
 * PostgreSQL runs them as one implicit transaction and answers in one round
 * trip.  A transaction goes to the connection with the fewest transactions
 * in flight; when every connection is busy, up to SAMSPIL_DB_PIPELINE
 * (default 4) transactions are pipelined on one connection, each with its
 * own Sync and so its own implicit transaction, and beyond that they wait
 * in a FIFO queue.
 *
 * A statement is prepared on a connection the first time it is used there:
 * its Parse goes first in the transaction's pipeline segment (so no error
 * of another statement can skip it), then Bind/Execute by name; later runs
 * skip parsing and planning.  SAMSPIL_DB_PREPARE=0 sends statements unnamed.
 *
 * A lost connection fails the transactions in flight on it (SQLSTATE 08006)
 * and is re-established in the background with PQconnectStart/PQconnectPoll
 * (retries back off from 100 ms to 5 s).  Transactions queued meanwhile wait
 * for it, unless no connection can be established at all.
 *
 * Never logged: server messages (they can quote data values) and the
 * conninfo's password.
 */
#include "sp_db.h"
#include "sp_log.h"

#include <assert.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define S_INLINE_STMTS 4
#define S_INLINE_PARAMS 16
#define S_INLINE_ARENA 256
#define S_INLINE_ITEMS 8
#define S_DEPTH_DEFAULT 4
#define S_DEPTH_MAX 64
#define S_PREP_SLOTS 256 /* per connection, power of two */
#define S_PREP_MAX 128   /* statements prepared per connection at most */
#define S_BACKOFF_MIN_MS 100
#define S_BACKOFF_MAX_MS 5000
#define S_CONNECT_TIMEOUT_MS 10000
#define S_NO_PARAM UINT32_MAX

static const char *const s_tenant_sql = "SELECT set_config('samspil.tenant', $1, true)";

typedef enum { S_PREP_NONE = 0, S_PREP_PENDING, S_PREP_READY } s_prep_state_t;

typedef struct {
    char *sql; /* owned copy; NULL for an empty slot */
    uint64_t hash;
    s_prep_state_t state;
    char name[16];
} s_prep_t;

typedef enum { S_ITEM_TENANT, S_ITEM_PREPARE, S_ITEM_STMT } s_item_kind_t;

typedef struct {
    s_item_kind_t kind;
    int index;      /* statement index (PREPARE: the statement it is for) */
    s_prep_t *prep; /* PREPARE only */
} s_item_t;

/* --- transactions */

typedef struct {
    const char *sql;
    int nparams;
    uint32_t first_param; /* index into tx->param_off */
    PGresult *result;
} s_stmt_t;

struct sp_db_tx_t {
    sp_db_t *db;
    sp_db_tx_done_fn *done;
    void *arg;
    sp_db_tx_t *next; /* in the pool's wait queue, a connection's in-flight list or the
                         deferred list */

    s_stmt_t *stmts;
    int nstmts, stmts_cap;
    uint32_t *param_off; /* offset of each parameter in arena, or S_NO_PARAM */
    uint32_t nparams, params_cap;
    char *arena;
    size_t arena_len, arena_cap;
    uint32_t tenant_off; /* S_NO_PARAM: no tenant */

    bool ok, finished, connection_failed;
    int failed_index;
    char sqlstate[6];
    const char *constraint;
    const char *message;
    PGresult *error_result; /* error not tied to a statement (tenant, prepare, commit) */

    /* in flight: what the results answer, in wire order */
    s_item_t *items;
    int nitems, items_cap;
    int item;       /* item the next result belongs to */
    bool item_seen; /* a result for `item` arrived (a NULL then ends it) */

    s_stmt_t stmts_inline[S_INLINE_STMTS];
    s_item_t items_inline[S_INLINE_ITEMS];
    uint32_t params_inline[S_INLINE_PARAMS];
    char arena_inline[S_INLINE_ARENA];
};

/* --- connections */

typedef enum {
    S_NEW = 0,    /* never opened */
    S_DOWN,       /* waiting for the next reconnection attempt */
    S_CONNECTING, /* PQconnectPoll in progress */
    S_UP,         /* connected; `inflight` transactions sent */
} s_state_t;

typedef struct {
    sp_db_t *db;
    int id;
    s_state_t state;
    PGconn *pg;
    uv_poll_t *poll; /* allocated; freed in its close callback */
    int poll_fd;
    int poll_events;
    uv_timer_t timer; /* reconnect backoff, or connect timeout */
    int backoff_ms;
    bool was_lost;    /* log "restored" once it is back */
    bool lost_logged; /* a failed reconnection attempt was logged */

    sp_db_tx_t *head, *tail; /* in flight, oldest first */
    int inflight;
    bool after_sync; /* the last result was a Sync's */
    const char **values;
    int values_cap;
    s_prep_t **stmt_prep; /* per statement of the tx being sent */
    int stmt_prep_cap;

    s_prep_t *preps; /* S_PREP_SLOTS slots, allocated on first use */
    int nprep;
    unsigned prep_counter;
} s_conn_t;

struct sp_db_t {
    uv_loop_t *loop;
    char *conninfo;
    int nconns;
    s_conn_t *conns;
    int depth; /* transactions in flight per connection at most */
    bool prepare;
    bool opened, closing;
    int handles; /* open libuv handles; the struct is freed when the last closes */

    sp_db_tx_t *queue_head, *queue_tail;
    sp_db_tx_t *deferred_head, *deferred_tail; /* failed in sp_db_tx_run; done() on the loop */
    uv_idle_t deferred_idle; /* runs once per loop iteration while the list is not empty */
};

static void s_conn_process(s_conn_t *c);
static void s_conn_connect_start(s_conn_t *c);
static void s_conn_connect_step(s_conn_t *c, PostgresPollingStatusType st);
static void s_conn_lost(s_conn_t *c, const char *why, bool defer);
static void s_pool_dispatch(sp_db_t *db);

static void *s_alloc(size_t size)
{
    void *p = malloc(size);
    if (!p)
        abort();
    return p;
}

static void *s_realloc(void *old, size_t size)
{
    void *p = realloc(old, size);
    if (!p)
        abort();
    return p;
}

static char *s_strdup(const char *s)
{
    size_t len = strlen(s) + 1;
    char *copy = s_alloc(len);
    memcpy(copy, s, len);
    return copy;
}

/* --- handle bookkeeping */

static void s_db_free(sp_db_t *db)
{
    for (int i = 0; i < db->nconns; i++) {
        s_conn_t *c = &db->conns[i];
        if (c->preps) {
            for (int j = 0; j < S_PREP_SLOTS; j++)
                free(c->preps[j].sql);
            free(c->preps);
        }
        free(c->values);
        free(c->stmt_prep);
    }
    free(db->conns);
    free(db->conninfo);
    free(db);
}

static void s_handle_closed(sp_db_t *db)
{
    assert(db->handles > 0);
    if (--db->handles == 0 && db->closing)
        s_db_free(db);
}

static void s_on_handle_closed(uv_handle_t *handle)
{
    s_handle_closed(handle->data);
}

static void s_on_poll_closed(uv_handle_t *handle)
{
    sp_db_t *db = handle->data;
    free(handle);
    s_handle_closed(db);
}

static void s_conn_unwatch(s_conn_t *c)
{
    if (c->poll) {
        c->poll->data = c->db; /* the close callback needs only the pool */
        uv_close((uv_handle_t *)c->poll, s_on_poll_closed);
        c->poll = NULL;
        c->poll_fd = -1;
        c->poll_events = 0;
    }
}

static void s_on_poll(uv_poll_t *handle, int status, int events);

/* Watch the connection's current socket for `events`; a new poll handle is
 * made when the socket changed (or `fresh`: during connection set-up libpq
 * may close a socket and open another that reuses the number).  Returns 0
 * or -1. */
static int s_conn_watch(s_conn_t *c, int events, bool fresh)
{
    int fd = PQsocket(c->pg);
    if (fd < 0)
        return -1;
    if (c->poll && (fresh || c->poll_fd != fd))
        s_conn_unwatch(c);
    if (!c->poll) {
        uv_poll_t *poll = s_alloc(sizeof *poll);
        if (uv_poll_init(c->db->loop, poll, fd) != 0) {
            free(poll);
            return -1;
        }
        c->db->handles++;
        poll->data = c;
        c->poll = poll;
        c->poll_fd = fd;
        c->poll_events = 0;
    }
    if (c->poll_events != events) {
        if (uv_poll_start(c->poll, events, s_on_poll) != 0)
            return -1;
        c->poll_events = events;
    }
    return 0;
}

/* --- notices: never printed (they would break the JSON log); sqlstate at debug */

static void s_notice_receiver(void *arg, const PGresult *res)
{
    (void)arg;
    const char *state = PQresultErrorField(res, PG_DIAG_SQLSTATE);
    const char *severity = PQresultErrorField(res, PG_DIAG_SEVERITY_NONLOCALIZED);
    sp_log_debug("database notice", SP_LOG_STR("sqlstate", state ? state : ""),
                 SP_LOG_STR("severity", severity ? severity : ""), SP_LOG_END);
}

/* --- transactions: completion */

static void s_tx_set_connection_failed(sp_db_tx_t *tx)
{
    tx->ok = false;
    tx->connection_failed = true;
    tx->failed_index = -1;
    memcpy(tx->sqlstate, "08006", 6);
    tx->constraint = NULL;
    tx->message = "connection to the database failed";
}

/* Hand a finished transaction to its owner. */
static void s_tx_complete(sp_db_tx_t *tx)
{
    tx->finished = true;
    tx->next = NULL;
    tx->done(tx, tx->arg);
}

/* Complete the transactions deferred so far; those their owners run (and
 * that fail again) wait for the next loop iteration, so I/O and timers get
 * their turn. */
static void s_on_deferred(uv_idle_t *idle)
{
    sp_db_t *db = idle->data;
    sp_db_tx_t *list = db->deferred_head;
    db->deferred_head = db->deferred_tail = NULL;
    uv_idle_stop(idle);
    while (list) {
        sp_db_tx_t *tx = list;
        list = tx->next;
        s_tx_complete(tx);
    }
}

/* Fail `tx` as a connection failure; its done() runs from the loop, never
 * inside the caller's sp_db_tx_run. */
static void s_tx_fail_deferred(sp_db_t *db, sp_db_tx_t *tx)
{
    s_tx_set_connection_failed(tx);
    tx->next = NULL;
    if (db->deferred_tail)
        db->deferred_tail->next = tx;
    else
        db->deferred_head = tx;
    db->deferred_tail = tx;
    uv_idle_start(&db->deferred_idle, s_on_deferred);
}

static sp_db_tx_t *s_queue_pop(sp_db_t *db)
{
    sp_db_tx_t *tx = db->queue_head;
    if (tx) {
        db->queue_head = tx->next;
        if (!db->queue_head)
            db->queue_tail = NULL;
        tx->next = NULL;
    }
    return tx;
}

/* Fail every queued transaction when no connection is up or coming up.
 * Their done() runs from the loop: this is reached from sp_db_tx_run too
 * (a failed send drops the connection, whose reconnect can fail at once). */
static void s_pool_fail_queue_if_unreachable(sp_db_t *db)
{
    for (int i = 0; i < db->nconns; i++) {
        s_state_t st = db->conns[i].state;
        if (st == S_CONNECTING || st == S_UP)
            return;
    }
    sp_db_tx_t *tx;
    while (!db->closing && (tx = s_queue_pop(db)) != NULL)
        s_tx_fail_deferred(db, tx);
}

/* --- prepared statements, per connection */

static uint64_t s_hash(const char *s)
{
    uint64_t h = 1469598103934665603ULL; /* FNV-1a */
    for (; *s; s++) {
        h ^= (unsigned char)*s;
        h *= 1099511628211ULL;
    }
    return h;
}

/* The slot for `sql` on `c`, creating it if there is room; NULL when the
 * cache is full (the statement then runs unnamed). */
static s_prep_t *s_prep_lookup(s_conn_t *c, const char *sql)
{
    if (!c->preps) {
        c->preps = calloc(S_PREP_SLOTS, sizeof *c->preps);
        if (!c->preps)
            abort();
    }
    uint64_t h = s_hash(sql);
    for (unsigned i = 0; i < S_PREP_SLOTS; i++) {
        s_prep_t *p = &c->preps[(h + i) & (S_PREP_SLOTS - 1)];
        if (!p->sql) {
            if (c->nprep >= S_PREP_MAX)
                return NULL;
            p->sql = s_strdup(sql);
            p->hash = h;
            p->state = S_PREP_NONE;
            c->nprep++;
            return p;
        }
        if (p->hash == h && strcmp(p->sql, sql) == 0)
            return p;
    }
    return NULL;
}

static void s_prep_forget_all(s_conn_t *c)
{
    if (!c->preps)
        return;
    for (int j = 0; j < S_PREP_SLOTS; j++)
        c->preps[j].state = S_PREP_NONE; /* a new session knows none of them */
}

/* --- connections: sending */

static void s_tx_add_item(sp_db_tx_t *tx, s_item_kind_t kind, int index, s_prep_t *prep)
{
    if (tx->nitems == tx->items_cap) {
        int cap = tx->items_cap * 2;
        if (tx->items == tx->items_inline) {
            tx->items = s_alloc((size_t)cap * sizeof *tx->items);
            memcpy(tx->items, tx->items_inline, sizeof tx->items_inline);
        } else {
            tx->items = s_realloc(tx->items, (size_t)cap * sizeof *tx->items);
        }
        tx->items_cap = cap;
    }
    tx->items[tx->nitems++] = (s_item_t){.kind = kind, .index = index, .prep = prep};
}

/* The connection's prepared statement for `sql`, sending its Parse first
 * if the connection does not have it yet; NULL: run it unnamed. */
static s_prep_t *s_conn_parse(s_conn_t *c, sp_db_tx_t *tx, int index, const char *sql, int nparams,
                              bool *failed)
{
    s_prep_t *prep = s_prep_lookup(c, sql);
    if (prep && prep->state == S_PREP_NONE) {
        /* a fresh name on every attempt: a Parse that failed may still have
         * left a statement of the old name behind */
        snprintf(prep->name, sizeof prep->name, "sp%u", ++c->prep_counter);
        if (!PQsendPrepare(c->pg, prep->name, sql, nparams, NULL))
            *failed = true;
        prep->state = S_PREP_PENDING; /* usable by transactions sent after this one */
        s_tx_add_item(tx, S_ITEM_PREPARE, index, prep);
    }
    return prep;
}

static int s_conn_exec(s_conn_t *c, const s_prep_t *prep, const char *sql, int nparams,
                       const char *const *values)
{
    if (prep)
        return PQsendQueryPrepared(c->pg, prep->name, nparams, values, NULL, NULL, 0) ? 0 : -1;
    return PQsendQueryParams(c->pg, sql, nparams, NULL, values, NULL, NULL, 0) ? 0 : -1;
}

static const char **s_conn_values(s_conn_t *c, const sp_db_tx_t *tx, const s_stmt_t *st)
{
    if (st->nparams > c->values_cap) {
        c->values_cap = st->nparams > 16 ? st->nparams : 16;
        c->values = s_realloc(c->values, (size_t)c->values_cap * sizeof *c->values);
    }
    for (int i = 0; i < st->nparams; i++) {
        uint32_t off = tx->param_off[st->first_param + (uint32_t)i];
        c->values[i] = off == S_NO_PARAM ? NULL : tx->arena + off;
    }
    return c->values;
}

/* Send `tx` on the connected connection `c` and add it to the connection's
 * in-flight list.  Returns 0, or -1 when the connection failed (the caller
 * drops the connection and fails `tx`). */
static int s_conn_send(s_conn_t *c, sp_db_tx_t *tx)
{
    assert(c->state == S_UP && c->inflight < c->db->depth);
    tx->nitems = 0;
    tx->item = 0;
    tx->item_seen = false;
    tx->next = NULL;

    /* Parses first: nothing earlier in this Sync segment can make the
     * server skip them */
    s_prep_t *tenant_prep = NULL;
    bool failed = false;
    if (c->db->prepare) {
        if (tx->nstmts > c->stmt_prep_cap) {
            c->stmt_prep_cap = tx->nstmts > 8 ? tx->nstmts : 8;
            c->stmt_prep = s_realloc(c->stmt_prep, (size_t)c->stmt_prep_cap * sizeof *c->stmt_prep);
        }
        if (tx->tenant_off != S_NO_PARAM)
            tenant_prep = s_conn_parse(c, tx, -1, s_tenant_sql, 1, &failed);
        for (int i = 0; i < tx->nstmts; i++)
            c->stmt_prep[i] =
                s_conn_parse(c, tx, i, tx->stmts[i].sql, tx->stmts[i].nparams, &failed);
        if (failed)
            return -1;
    }
    if (tx->tenant_off != S_NO_PARAM) {
        const char *tenant = tx->arena + tx->tenant_off;
        if (s_conn_exec(c, tenant_prep, s_tenant_sql, 1, &tenant) != 0)
            return -1;
        s_tx_add_item(tx, S_ITEM_TENANT, -1, NULL);
    }
    for (int i = 0; i < tx->nstmts; i++) {
        const s_stmt_t *st = &tx->stmts[i];
        const s_prep_t *prep = c->db->prepare ? c->stmt_prep[i] : NULL;
        if (s_conn_exec(c, prep, st->sql, st->nparams, s_conn_values(c, tx, st)) != 0)
            return -1;
        s_tx_add_item(tx, S_ITEM_STMT, i, NULL);
    }
    if (!PQpipelineSync(c->pg))
        return -1;
    int flushed = PQflush(c->pg);
    if (flushed < 0)
        return -1;
    if (s_conn_watch(c, flushed ? UV_READABLE | UV_WRITABLE : UV_READABLE, false) != 0)
        return -1;
    if (c->tail)
        c->tail->next = tx;
    else
        c->head = tx;
    c->tail = tx;
    c->inflight++;
    return 0;
}

/* Send `tx` on `c`; if that fails, drop the connection and fail `tx` (its
 * done() runs later, from the loop, like those of the connection's other
 * transactions). */
static void s_conn_start(s_conn_t *c, sp_db_tx_t *tx)
{
    if (s_conn_send(c, tx) != 0) {
        s_conn_lost(c, "could not send to database", true);
        s_tx_fail_deferred(c->db, tx);
    }
}

/* --- connections: receiving */

static void s_tx_record_error(sp_db_tx_t *tx, int index, const PGresult *res)
{
    if (!tx->ok && tx->sqlstate[0])
        return; /* keep the first error */
    tx->ok = false;
    tx->failed_index = index;
    const char *state = PQresultErrorField(res, PG_DIAG_SQLSTATE);
    snprintf(tx->sqlstate, sizeof tx->sqlstate, "%s", state ? state : "XX000");
    tx->constraint = PQresultErrorField(res, PG_DIAG_CONSTRAINT_NAME);
    tx->message = PQresultErrorField(res, PG_DIAG_MESSAGE_PRIMARY);
    if (!tx->message)
        tx->message = "";
}

/* Take one result for the current item of the oldest transaction in flight. */
static void s_tx_take_result(sp_db_tx_t *tx, PGresult *res)
{
    ExecStatusType status = PQresultStatus(res);
    bool error = status == PGRES_FATAL_ERROR || status == PGRES_BAD_RESPONSE;
    s_item_t *item = tx->item < tx->nitems ? &tx->items[tx->item] : NULL;
    tx->item_seen = true;

    if (item && item->kind == S_ITEM_PREPARE)
        item->prep->state = status == PGRES_COMMAND_OK ? S_PREP_READY : S_PREP_NONE;

    if (status == PGRES_PIPELINE_ABORTED) {
        PQclear(res);
        return;
    }
    if (item && item->kind == S_ITEM_STMT) {
        s_stmt_t *st = &tx->stmts[item->index];
        PQclear(st->result);
        st->result = res;
        if (error)
            s_tx_record_error(tx, item->index, res);
        return;
    }
    if (error) {
        /* tenant statement, a Parse, or the commit at the Sync */
        if (!tx->error_result) {
            tx->error_result = res;
            s_tx_record_error(tx, item && item->kind == S_ITEM_PREPARE ? item->index : -1, res);
            return;
        }
    }
    PQclear(res);
}

/* The Sync's result for the oldest transaction in flight arrived: it is over. */
static void s_conn_finish_tx(s_conn_t *c)
{
    sp_db_tx_t *tx = c->head;
    c->head = tx->next;
    if (!c->head)
        c->tail = NULL;
    c->inflight--;
    tx->next = NULL;
    if (!tx->sqlstate[0]) {
        tx->ok = true;
        /* every statement must have answered; anything else is a protocol surprise */
        for (int i = 0; i < tx->nstmts; i++) {
            if (!tx->stmts[i].result) {
                tx->ok = false;
                tx->failed_index = i;
                memcpy(tx->sqlstate, "XX000", 6);
                tx->message = "statement returned no result";
                break;
            }
        }
    }
    /* queued transactions take the free place first, then the owner hears */
    s_pool_dispatch(c->db);
    s_tx_complete(tx);
}

/* Read whatever results are complete.  May run done() callbacks (which may
 * destroy the pool: the caller must not touch `c` afterwards unless the pool
 * is still open). */
static void s_conn_process(s_conn_t *c)
{
    sp_db_t *db = c->db;
    while (!db->closing && c->state == S_UP && c->head) {
        if (PQisBusy(c->pg))
            break;
        PGresult *res = PQgetResult(c->pg);
        sp_db_tx_t *tx = c->head;
        if (!res) {
            if (tx->item_seen) {
                tx->item++;
                tx->item_seen = false;
                continue;
            }
            if (c->after_sync) { /* libpq 15 sends none after a Sync; tolerate one */
                c->after_sync = false;
                continue;
            }
            break; /* nothing more for now */
        }
        c->after_sync = false;
        if (PQresultStatus(res) == PGRES_PIPELINE_SYNC) {
            PQclear(res);
            c->after_sync = true;
            s_conn_finish_tx(c);
            continue;
        }
        s_tx_take_result(tx, res);
    }
}

static void s_conn_log_lost(s_conn_t *c, const char *why)
{
    sp_log_warn(why, SP_LOG_INT("connection", c->id), SP_LOG_STR("host", PQhost(c->pg)),
                SP_LOG_STR("dbname", PQdb(c->pg)), SP_LOG_STR("user", PQuser(c->pg)), SP_LOG_END);
}

/* Drop the connection: fail its transactions in flight (now, or from the
 * loop when `defer`) and start reconnecting. */
static void s_conn_lost(s_conn_t *c, const char *why, bool defer)
{
    sp_db_t *db = c->db;
    s_conn_log_lost(c, why);
    sp_db_tx_t *list = c->head;
    c->head = c->tail = NULL;
    c->inflight = 0;
    c->after_sync = false;
    s_conn_unwatch(c);
    PQfinish(c->pg);
    c->pg = NULL;
    s_prep_forget_all(c);
    c->state = S_DOWN;
    c->backoff_ms = 0;
    c->was_lost = true;
    s_conn_connect_start(c);
    while (list) {
        sp_db_tx_t *tx = list;
        list = tx->next;
        if (defer) {
            s_tx_fail_deferred(db, tx);
        } else {
            s_tx_set_connection_failed(tx);
            s_tx_complete(tx);
        }
    }
}

static void s_on_poll(uv_poll_t *handle, int status, int events)
{
    s_conn_t *c = handle->data;
    if (c->poll != handle)
        return;
    sp_db_t *db = c->db;

    if (c->state == S_CONNECTING) {
        PostgresPollingStatusType st = status < 0 ? PGRES_POLLING_FAILED : PQconnectPoll(c->pg);
        s_conn_connect_step(c, st);
        return;
    }
    if (c->state != S_UP)
        return;
    if (status < 0) {
        s_conn_lost(c, "database connection failed", false);
        return;
    }
    if (events & UV_READABLE) {
        if (!PQconsumeInput(c->pg)) {
            s_conn_lost(c, "database connection lost", false);
            return;
        }
        PGnotify *n;
        while ((n = PQnotifies(c->pg)) != NULL)
            PQfreemem(n);
    }
    if (c->poll_events & UV_WRITABLE) {
        int flushed = PQflush(c->pg);
        if (flushed < 0) {
            s_conn_lost(c, "database connection lost", false);
            return;
        }
        if (!flushed && s_conn_watch(c, UV_READABLE, false) != 0) {
            s_conn_lost(c, "database connection failed", false);
            return;
        }
    }
    s_conn_process(c);
    if (db->closing)
        return;
    if (c->state == S_UP && PQstatus(c->pg) == CONNECTION_BAD)
        s_conn_lost(c, "database connection lost", false);
}

/* --- connections: (re)connecting */

static void s_on_conn_timer(uv_timer_t *timer);

static int s_conn_setup(s_conn_t *c)
{
    if (PQsetnonblocking(c->pg, 1) != 0 || !PQenterPipelineMode(c->pg))
        return -1;
    PQsetNoticeReceiver(c->pg, s_notice_receiver, NULL);
    return s_conn_watch(c, UV_READABLE, true);
}

static void s_conn_attempt_failed(s_conn_t *c)
{
    sp_db_t *db = c->db;
    if (!c->lost_logged || c->backoff_ms >= S_BACKOFF_MAX_MS) {
        /* first failure and then once per maximal backoff, not every 100 ms */
        const char *err = c->pg ? PQerrorMessage(c->pg) : "out of memory";
        sp_log_warn("could not reconnect to database", SP_LOG_INT("connection", c->id),
                    SP_LOG_STR("host", c->pg ? PQhost(c->pg) : NULL),
                    SP_LOG_STR("user", c->pg ? PQuser(c->pg) : NULL), SP_LOG_STR("error", err),
                    SP_LOG_END);
        c->lost_logged = true;
    }
    s_conn_unwatch(c);
    PQfinish(c->pg);
    c->pg = NULL;
    c->state = S_DOWN;
    c->backoff_ms = c->backoff_ms ? c->backoff_ms * 2 : S_BACKOFF_MIN_MS;
    if (c->backoff_ms > S_BACKOFF_MAX_MS)
        c->backoff_ms = S_BACKOFF_MAX_MS;
    uv_timer_start(&c->timer, s_on_conn_timer, (uint64_t)c->backoff_ms, 0);
    s_pool_fail_queue_if_unreachable(db);
}

static void s_conn_connect_step(s_conn_t *c, PostgresPollingStatusType st)
{
    switch (st) {
    case PGRES_POLLING_READING:
        if (s_conn_watch(c, UV_READABLE, true) == 0)
            return;
        break;
    case PGRES_POLLING_WRITING:
        if (s_conn_watch(c, UV_WRITABLE, true) == 0)
            return;
        break;
    case PGRES_POLLING_OK:
        uv_timer_stop(&c->timer);
        if (s_conn_setup(c) != 0)
            break;
        c->state = S_UP;
        c->backoff_ms = 0;
        if (c->was_lost)
            sp_log_info("database connection restored", SP_LOG_INT("connection", c->id),
                        SP_LOG_END);
        c->was_lost = false;
        c->lost_logged = false;
        s_pool_dispatch(c->db);
        return;
    default:
        break;
    }
    s_conn_attempt_failed(c);
}

static void s_conn_connect_start(s_conn_t *c)
{
    sp_db_t *db = c->db;
    c->pg = PQconnectStart(db->conninfo);
    if (!c->pg || PQstatus(c->pg) == CONNECTION_BAD) {
        s_conn_attempt_failed(c);
        return;
    }
    c->state = S_CONNECTING;
    uv_timer_start(&c->timer, s_on_conn_timer, S_CONNECT_TIMEOUT_MS, 0);
    /* libpq: start as if PQconnectPoll had returned PGRES_POLLING_WRITING */
    s_conn_connect_step(c, PGRES_POLLING_WRITING);
}

static void s_on_conn_timer(uv_timer_t *timer)
{
    s_conn_t *c = timer->data;
    if (c->db->closing)
        return;
    if (c->state == S_DOWN)
        s_conn_connect_start(c);
    else if (c->state == S_CONNECTING)
        s_conn_attempt_failed(c); /* timed out */
}

/* --- pool */

/* The connected connection with the fewest transactions in flight, if one
 * has room for another. */
static s_conn_t *s_pool_pick(sp_db_t *db)
{
    s_conn_t *best = NULL;
    for (int i = 0; i < db->nconns; i++) {
        s_conn_t *c = &db->conns[i];
        if (c->state == S_UP && c->inflight < db->depth &&
            (!best || c->inflight < best->inflight)) {
            best = c;
            if (c->inflight == 0)
                break;
        }
    }
    return best;
}

/* Send queued transactions while there is room. */
static void s_pool_dispatch(sp_db_t *db)
{
    s_conn_t *c;
    while (db->queue_head && !db->closing && (c = s_pool_pick(db)) != NULL)
        s_conn_start(c, s_queue_pop(db));
}

sp_db_t *sp_db_new(uv_loop_t *loop, const char *conninfo, int connections)
{
    assert(loop && conninfo);
    if (connections < 1)
        connections = 1;
    sp_db_t *db = calloc(1, sizeof *db);
    if (!db)
        abort();
    db->loop = loop;
    db->conninfo = s_strdup(conninfo);
    db->nconns = connections;
    db->conns = calloc((size_t)connections, sizeof *db->conns);
    if (!db->conns)
        abort();
    const char *depth = getenv("SAMSPIL_DB_PIPELINE");
    db->depth = depth && *depth ? atoi(depth) : S_DEPTH_DEFAULT;
    if (db->depth < 1 || db->depth > S_DEPTH_MAX)
        db->depth = db->depth < 1 ? 1 : S_DEPTH_MAX;
    const char *prepare = getenv("SAMSPIL_DB_PREPARE");
    db->prepare = !(prepare && (strcmp(prepare, "0") == 0 || strcmp(prepare, "false") == 0 ||
                                strcmp(prepare, "no") == 0));
    uv_idle_init(loop, &db->deferred_idle);
    db->deferred_idle.data = db;
    db->handles++;
    for (int i = 0; i < connections; i++) {
        s_conn_t *c = &db->conns[i];
        c->db = db;
        c->id = i;
        c->poll_fd = -1;
        uv_timer_init(loop, &c->timer);
        c->timer.data = c;
        db->handles++;
    }
    return db;
}

int sp_db_open(sp_db_t *self)
{
    assert(self && !self->opened);
    for (int i = 0; i < self->nconns; i++) {
        s_conn_t *c = &self->conns[i];
        c->pg = PQconnectdb(self->conninfo);
        if (!c->pg || PQstatus(c->pg) != CONNECTION_OK) {
            sp_log_error("could not connect to database", SP_LOG_INT("connection", i),
                         SP_LOG_STR("host", c->pg ? PQhost(c->pg) : NULL),
                         SP_LOG_STR("dbname", c->pg ? PQdb(c->pg) : NULL),
                         SP_LOG_STR("user", c->pg ? PQuser(c->pg) : NULL),
                         SP_LOG_STR("error", c->pg ? PQerrorMessage(c->pg) : "out of memory"),
                         SP_LOG_END);
            goto failed;
        }
        if (s_conn_setup(c) != 0) {
            sp_log_error("could not set up database connection", SP_LOG_INT("connection", i),
                         SP_LOG_END);
            goto failed;
        }
        c->state = S_UP;
    }
    self->opened = true;
    sp_log_info("database pool open", SP_LOG_INT("connections", self->nconns),
                SP_LOG_STR("host", PQhost(self->conns[0].pg)),
                SP_LOG_STR("dbname", PQdb(self->conns[0].pg)),
                SP_LOG_STR("user", PQuser(self->conns[0].pg)), SP_LOG_INT("prepare", self->prepare),
                SP_LOG_INT("pipeline", self->depth), SP_LOG_END);
    return 0;
failed:
    for (int i = 0; i < self->nconns; i++) {
        s_conn_t *c = &self->conns[i];
        s_conn_unwatch(c);
        PQfinish(c->pg);
        c->pg = NULL;
        c->state = S_NEW;
    }
    return -1;
}

void sp_db_destroy(sp_db_t **self_p)
{
    assert(self_p);
    sp_db_t *db = *self_p;
    if (!db)
        return;
    *self_p = NULL;
    if (db->closing)
        return;
    db->closing = true;

    /* owners first hear that their transactions failed */
    sp_db_tx_t *tx;
    for (int i = 0; i < db->nconns; i++) {
        s_conn_t *c = &db->conns[i];
        while ((tx = c->head) != NULL) {
            c->head = tx->next;
            s_tx_set_connection_failed(tx);
            s_tx_complete(tx);
        }
        c->tail = NULL;
        c->inflight = 0;
    }
    while ((tx = s_queue_pop(db)) != NULL) {
        s_tx_set_connection_failed(tx);
        s_tx_complete(tx);
    }
    /* a done() above or here may run another transaction: it is failed
     * onto this list and completed here too */
    while ((tx = db->deferred_head) != NULL) {
        db->deferred_head = tx->next;
        if (!db->deferred_head)
            db->deferred_tail = NULL;
        s_tx_complete(tx);
    }

    for (int i = 0; i < db->nconns; i++) {
        s_conn_t *c = &db->conns[i];
        s_conn_unwatch(c);
        PQfinish(c->pg);
        c->pg = NULL;
        c->state = S_NEW;
        c->timer.data = db; /* the close callback needs only the pool */
        uv_close((uv_handle_t *)&c->timer, s_on_handle_closed);
    }
    uv_close((uv_handle_t *)&db->deferred_idle, s_on_handle_closed);
}

int sp_db_connections_ready(const sp_db_t *self)
{
    int n = 0;
    for (int i = 0; i < self->nconns; i++)
        if (self->conns[i].state == S_UP)
            n++;
    return n;
}

/* --- transactions: building */

sp_db_tx_t *sp_db_tx_new(sp_db_t *db)
{
    assert(db);
    sp_db_tx_t *tx = s_alloc(sizeof *tx);
    memset(tx, 0, offsetof(sp_db_tx_t, stmts_inline));
    tx->db = db;
    tx->stmts = tx->stmts_inline;
    tx->stmts_cap = S_INLINE_STMTS;
    tx->param_off = tx->params_inline;
    tx->params_cap = S_INLINE_PARAMS;
    tx->arena = tx->arena_inline;
    tx->arena_cap = S_INLINE_ARENA;
    tx->items = tx->items_inline;
    tx->items_cap = S_INLINE_ITEMS;
    tx->tenant_off = S_NO_PARAM;
    tx->failed_index = -1;
    return tx;
}

static uint32_t s_tx_copy(sp_db_tx_t *tx, const char *value)
{
    size_t len = strlen(value) + 1;
    if (tx->arena_len + len > tx->arena_cap) {
        size_t cap = tx->arena_cap * 2;
        while (cap < tx->arena_len + len)
            cap *= 2;
        if (cap >= S_NO_PARAM)
            abort();
        if (tx->arena == tx->arena_inline) {
            tx->arena = s_alloc(cap);
            memcpy(tx->arena, tx->arena_inline, tx->arena_len);
        } else {
            tx->arena = s_realloc(tx->arena, cap);
        }
        tx->arena_cap = cap;
    }
    uint32_t off = (uint32_t)tx->arena_len;
    memcpy(tx->arena + off, value, len);
    tx->arena_len += len;
    return off;
}

void sp_db_tx_set_tenant(sp_db_tx_t *tx, const char *tenant)
{
    assert(tx && tenant && !tx->done);
    tx->tenant_off = s_tx_copy(tx, tenant);
}

int sp_db_tx_add(sp_db_tx_t *tx, const char *sql, int nparams, const char *const *params)
{
    assert(tx && sql && !tx->done);
    if (nparams < 0 || (nparams > 0 && !params) || nparams > 65535)
        return -1;
    if (tx->nstmts == tx->stmts_cap) {
        int cap = tx->stmts_cap * 2;
        if (tx->stmts == tx->stmts_inline) {
            tx->stmts = s_alloc((size_t)cap * sizeof *tx->stmts);
            memcpy(tx->stmts, tx->stmts_inline, sizeof tx->stmts_inline);
        } else {
            tx->stmts = s_realloc(tx->stmts, (size_t)cap * sizeof *tx->stmts);
        }
        tx->stmts_cap = cap;
    }
    if (tx->nparams + (uint32_t)nparams > tx->params_cap) {
        uint32_t cap = tx->params_cap * 2;
        while (cap < tx->nparams + (uint32_t)nparams)
            cap *= 2;
        if (tx->param_off == tx->params_inline) {
            tx->param_off = s_alloc(cap * sizeof *tx->param_off);
            memcpy(tx->param_off, tx->params_inline, sizeof tx->params_inline);
        } else {
            tx->param_off = s_realloc(tx->param_off, cap * sizeof *tx->param_off);
        }
        tx->params_cap = cap;
    }
    s_stmt_t *st = &tx->stmts[tx->nstmts];
    st->sql = sql;
    st->nparams = nparams;
    st->first_param = tx->nparams;
    st->result = NULL;
    for (int i = 0; i < nparams; i++)
        tx->param_off[tx->nparams++] = params[i] ? s_tx_copy(tx, params[i]) : S_NO_PARAM;
    return tx->nstmts++;
}

void sp_db_tx_run(sp_db_tx_t *tx, sp_db_tx_done_fn *done, void *arg)
{
    assert(tx && done && !tx->done);
    sp_db_t *db = tx->db;
    tx->done = done;
    tx->arg = arg;
    tx->next = NULL;
    if (db->closing) {
        /* run from a done() inside sp_db_destroy, which completes it */
        s_tx_fail_deferred(db, tx);
        return;
    }
    s_conn_t *c = db->queue_head ? NULL : s_pool_pick(db);
    if (c) {
        s_conn_start(c, tx);
        return;
    }
    bool coming = false;
    for (int i = 0; i < db->nconns; i++)
        if (db->conns[i].state == S_UP || db->conns[i].state == S_CONNECTING)
            coming = true;
    if (!coming) {
        s_tx_fail_deferred(db, tx);
        return;
    }
    if (db->queue_tail)
        db->queue_tail->next = tx;
    else
        db->queue_head = tx;
    db->queue_tail = tx;
}

/* --- transactions: results */

bool sp_db_tx_ok(const sp_db_tx_t *tx)
{
    return tx->finished && tx->ok;
}

const PGresult *sp_db_tx_result(const sp_db_tx_t *tx, int index)
{
    if (index < 0 || index >= tx->nstmts)
        return NULL;
    return tx->stmts[index].result;
}

int sp_db_tx_failed_index(const sp_db_tx_t *tx)
{
    return tx->ok ? -1 : tx->failed_index;
}

const char *sp_db_tx_sqlstate(const sp_db_tx_t *tx)
{
    return tx->ok || !tx->sqlstate[0] ? NULL : tx->sqlstate;
}

const char *sp_db_tx_constraint(const sp_db_tx_t *tx)
{
    return tx->ok ? NULL : tx->constraint;
}

const char *sp_db_tx_message(const sp_db_tx_t *tx)
{
    return tx->ok ? NULL : tx->message;
}

bool sp_db_tx_connection_failed(const sp_db_tx_t *tx)
{
    return tx->connection_failed;
}

void sp_db_tx_destroy(sp_db_tx_t **tx_p)
{
    assert(tx_p);
    sp_db_tx_t *tx = *tx_p;
    if (!tx)
        return;
    *tx_p = NULL;
    for (int i = 0; i < tx->nstmts; i++)
        PQclear(tx->stmts[i].result);
    PQclear(tx->error_result);
    if (tx->stmts != tx->stmts_inline)
        free(tx->stmts);
    if (tx->param_off != tx->params_inline)
        free(tx->param_off);
    if (tx->arena != tx->arena_inline)
        free(tx->arena);
    if (tx->items != tx->items_inline)
        free(tx->items);
    free(tx);
}
