/*
 * test_broker_core.c - unit tests of the broker's pure dispatch state:
 * load spread, credit, FIFO order, requeue on worker expiry, the attempt
 * limit, the unavailable timeout, stray replies and the request body limits.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "../../services/broker/broker_core.h"
#include "sp_mdp.h"

#define F(str) sp_frame_str(str)
#define HB 1000
#define UNAVAILABLE_MS 3000
#define MAX_EVENTS 20000

/* A payload: which client request it stands for. */
typedef struct {
    int tag;
} payload_t;

typedef struct {
    char worker[16];
    uint64_t id;
    int tag;
} sent_t;

typedef struct {
    char worker[16];
    int command;
} command_t;

typedef struct {
    int tag;
    sp_error_code_t code;
    char message[128];
} error_t;

/* Everything the core asked for, in order. */
typedef struct {
    sent_t sent[MAX_EVENTS];
    size_t nsent;
    command_t commands[MAX_EVENTS];
    size_t ncommands;
    error_t errors[MAX_EVENTS];
    size_t nerrors;
    size_t released;
    size_t live_payloads;
    const char *unreachable; /* send_request to this worker fails */
} record_t;

static void s_copy_name(char *out, sp_frame_t frame)
{
    size_t n = frame.size < 15 ? frame.size : 15;
    memcpy(out, frame.data, n);
    out[n] = '\0';
}

static int s_send_request(void *arg, sp_frame_t worker, uint64_t id, void *payload)
{
    record_t *rec = arg;
    if (rec->unreachable && sp_frame_equals(worker, rec->unreachable))
        return -1;
    assert_true(rec->nsent < MAX_EVENTS);
    sent_t *s = &rec->sent[rec->nsent++];
    s_copy_name(s->worker, worker);
    s->id = id;
    s->tag = ((payload_t *)payload)->tag;
    return 0;
}

static int s_send_command(void *arg, sp_frame_t worker, int command)
{
    record_t *rec = arg;
    assert_true(rec->ncommands < MAX_EVENTS);
    command_t *c = &rec->commands[rec->ncommands++];
    s_copy_name(c->worker, worker);
    c->command = command;
    return rec->unreachable && sp_frame_equals(worker, rec->unreachable) ? -1 : 0;
}

static void s_send_error(void *arg, void *payload, sp_error_code_t code, const char *message)
{
    record_t *rec = arg;
    assert_true(rec->nerrors < MAX_EVENTS);
    error_t *e = &rec->errors[rec->nerrors++];
    e->tag = ((payload_t *)payload)->tag;
    e->code = code;
    snprintf(e->message, sizeof e->message, "%s", message);
}

static void s_release(void *arg, void *payload)
{
    record_t *rec = arg;
    rec->released++;
    rec->live_payloads--;
    free(payload);
}

static const broker_core_ops_t s_ops = {
    .send_request = s_send_request,
    .send_command = s_send_command,
    .send_error = s_send_error,
    .release = s_release,
};

typedef struct {
    record_t *rec;
    broker_core_t *core;
} fixture_t;

static int s_setup(void **state)
{
    fixture_t *fx = calloc(1, sizeof *fx);
    fx->rec = calloc(1, sizeof *fx->rec);
    broker_core_config_t config = {
        .heartbeat_ms = HB,
        .liveness = SP_MDP_LIVENESS,
        .unavailable_ms = UNAVAILABLE_MS,
        .max_queue = 10,
        .first_id = 1000,
    };
    fx->core = broker_core_new(&config, &s_ops, fx->rec);
    *state = fx;
    return 0;
}

static int s_teardown(void **state)
{
    fixture_t *fx = *state;
    broker_core_destroy(&fx->core);
    assert_null(fx->core);
    broker_core_destroy(&fx->core); /* idempotent */
    assert_int_equal(fx->rec->live_payloads, 0);
    free(fx->rec);
    free(fx);
    return 0;
}

static uint64_t s_request(fixture_t *fx, const char *service, int tag, uint64_t now)
{
    payload_t *p = malloc(sizeof *p);
    p->tag = tag;
    fx->rec->live_payloads++;
    return broker_core_request(fx->core, F(service), p, 100, now);
}

/* Reply as `worker` to `id`; returns the tag of the answered request or -1. */
static int s_reply(fixture_t *fx, const char *worker, uint64_t id, uint64_t now)
{
    void *payload = NULL;
    broker_core_result_t rc = broker_core_reply(fx->core, F(worker), id, now, &payload);
    if (rc != BROKER_CORE_OK) {
        assert_null(payload);
        return -1;
    }
    assert_non_null(payload);
    int tag = ((payload_t *)payload)->tag;
    free(payload);
    fx->rec->live_payloads--;
    return tag;
}

static void s_ready(fixture_t *fx, const char *worker, const char *service, uint32_t credit,
                    uint64_t now)
{
    assert_int_equal(broker_core_ready(fx->core, F(worker), F(service), credit, now),
                     BROKER_CORE_OK);
}

static size_t s_count_sent_to(const record_t *rec, const char *worker)
{
    size_t n = 0;
    for (size_t i = 0; i < rec->nsent; i++)
        n += strcmp(rec->sent[i].worker, worker) == 0;
    return n;
}

static size_t s_count_commands(const record_t *rec, const char *worker, int command)
{
    size_t n = 0;
    for (size_t i = 0; i < rec->ncommands; i++)
        n += strcmp(rec->commands[i].worker, worker) == 0 && rec->commands[i].command == command;
    return n;
}

static void test_dispatch_and_reply(void **state)
{
    fixture_t *fx = *state;
    s_ready(fx, "w1", "svc", 1, 0);
    uint64_t id = s_request(fx, "svc", 7, 10);
    assert_true(id == 1000);
    assert_int_equal(fx->rec->nsent, 1);
    assert_string_equal(fx->rec->sent[0].worker, "w1");
    assert_int_equal(fx->rec->sent[0].tag, 7);
    assert_true(fx->rec->sent[0].id == id);
    assert_int_equal(s_reply(fx, "w1", id, 20), 7);
    assert_int_equal(broker_core_request_count(fx->core), 0);
    /* ids are never reused */
    uint64_t id2 = s_request(fx, "svc", 8, 30);
    assert_true(id2 > id);
    assert_int_equal(s_reply(fx, "w1", id2, 40), 8);
}

static void test_load_spread_low_load(void **state)
{
    fixture_t *fx = *state;
    s_ready(fx, "w1", "svc", 8, 0);
    s_ready(fx, "w2", "svc", 8, 0);
    /* one request at a time: equal free credit, so round robin */
    for (int i = 0; i < 10; i++) {
        uint64_t id = s_request(fx, "svc", i, 1);
        const char *worker = fx->rec->sent[fx->rec->nsent - 1].worker;
        assert_int_equal(s_reply(fx, worker, id, 2), i);
    }
    assert_int_equal(s_count_sent_to(fx->rec, "w1"), 5);
    assert_int_equal(s_count_sent_to(fx->rec, "w2"), 5);
    for (size_t i = 1; i < fx->rec->nsent; i++)
        assert_string_not_equal(fx->rec->sent[i].worker, fx->rec->sent[i - 1].worker);
}

static void test_load_spread_prefers_free_credit(void **state)
{
    fixture_t *fx = *state;
    s_ready(fx, "w1", "svc", 4, 0);
    s_ready(fx, "w2", "svc", 2, 0);
    for (int i = 0; i < 6; i++)
        s_request(fx, "svc", i, 1);
    /* 4 free vs 2 free: w1 first until equal, then alternate */
    assert_int_equal(fx->rec->nsent, 6);
    assert_int_equal(s_count_sent_to(fx->rec, "w1"), 4);
    assert_int_equal(s_count_sent_to(fx->rec, "w2"), 2);
    assert_string_equal(fx->rec->sent[0].worker, "w1");
    assert_string_equal(fx->rec->sent[1].worker, "w1");
    /* a third worker with the most free credit gets the next one */
    for (int i = 0; i < 6; i++)
        assert_int_equal(s_reply(fx, fx->rec->sent[i].worker, fx->rec->sent[i].id, 2), i);
    s_ready(fx, "w3", "svc", 10, 3);
    s_request(fx, "svc", 99, 4);
    assert_string_equal(fx->rec->sent[6].worker, "w3");
}

static void test_credit_limit_and_fifo(void **state)
{
    fixture_t *fx = *state;
    s_ready(fx, "w1", "svc", 2, 0);
    for (int i = 0; i < 5; i++)
        s_request(fx, "svc", i, 1);
    assert_int_equal(fx->rec->nsent, 2);
    assert_int_equal(fx->rec->sent[0].tag, 0);
    assert_int_equal(fx->rec->sent[1].tag, 1);
    /* each reply frees one credit: the oldest waiting request goes next */
    for (int i = 0; i < 5; i++) {
        assert_int_equal(s_reply(fx, "w1", fx->rec->sent[i].id, 2), i);
        if (i + 2 < 5) {
            assert_int_equal(fx->rec->nsent, (size_t)i + 3);
            assert_int_equal(fx->rec->sent[i + 2].tag, i + 2);
        }
    }
    assert_int_equal(fx->rec->nsent, 5);
    assert_int_equal(broker_core_request_count(fx->core), 0);
}

static void test_requeue_to_front_on_expiry(void **state)
{
    fixture_t *fx = *state;
    s_ready(fx, "w1", "svc", 2, 0);
    for (int i = 0; i < 4; i++)
        s_request(fx, "svc", i, 1);
    assert_int_equal(fx->rec->nsent, 2); /* 0, 1 in flight; 2, 3 queued */
    /* still alive at exactly 3 intervals */
    broker_core_tick(fx->core, 3 * HB);
    assert_int_equal(broker_core_worker_count(fx->core), 1);
    assert_int_equal(s_count_commands(fx->rec, "w1", SP_MDPW_HEARTBEAT), 1);
    broker_core_tick(fx->core, 3 * HB + 1);
    assert_int_equal(broker_core_worker_count(fx->core), 0);
    assert_int_equal(s_count_commands(fx->rec, "w1", SP_MDPW_DISCONNECT), 1);
    assert_int_equal(fx->rec->nerrors, 0);
    /* a new worker gets the dead worker's requests first, in order */
    s_ready(fx, "w2", "svc", 4, 3 * HB + 2);
    assert_int_equal(fx->rec->nsent, 6);
    for (int i = 0; i < 4; i++) {
        assert_string_equal(fx->rec->sent[2 + i].worker, "w2");
        assert_int_equal(fx->rec->sent[2 + i].tag, i);
    }
    /* the dead worker's late reply is refused: it is unknown now */
    assert_int_equal(s_reply(fx, "w1", fx->rec->sent[0].id, 3 * HB + 3), -1);
    assert_int_equal(s_count_commands(fx->rec, "w1", SP_MDPW_DISCONNECT), 2);
    for (int i = 0; i < 4; i++)
        assert_int_equal(s_reply(fx, "w2", fx->rec->sent[2 + i].id, 3 * HB + 4), i);
}

static void test_requeue_goes_to_other_worker(void **state)
{
    fixture_t *fx = *state;
    s_ready(fx, "w1", "svc", 1, 0);
    s_ready(fx, "w2", "svc", 1, 0);
    uint64_t a = s_request(fx, "svc", 1, 0);
    uint64_t b = s_request(fx, "svc", 2, 0);
    assert_string_equal(fx->rec->sent[0].worker, "w1");
    assert_string_equal(fx->rec->sent[1].worker, "w2");
    /* w2 keeps beating and answers b; w1 falls silent */
    broker_core_heartbeat(fx->core, F("w2"), 2 * HB);
    assert_int_equal(s_reply(fx, "w2", b, 2 * HB + 500), 2);
    broker_core_tick(fx->core, 3 * HB + 1);
    assert_int_equal(broker_core_worker_count(fx->core), 1);
    assert_int_equal(fx->rec->nsent, 3);
    assert_string_equal(fx->rec->sent[2].worker, "w2");
    assert_true(fx->rec->sent[2].id == a);
    assert_int_equal(s_reply(fx, "w2", a, 3 * HB + 2), 1);
}

static void test_attempt_limit(void **state)
{
    fixture_t *fx = *state;
    uint64_t now = 0;
    s_ready(fx, "w1", "svc", 1, now);
    s_request(fx, "svc", 42, now);
    const char *workers[] = {"w1", "w2", "w3"};
    for (int attempt = 0; attempt < 3; attempt++) {
        if (attempt > 0)
            s_ready(fx, workers[attempt], "svc", 1, now);
        assert_int_equal(fx->rec->nsent, (size_t)attempt + 1);
        assert_string_equal(fx->rec->sent[attempt].worker, workers[attempt]);
        now += 3 * HB + 1;
        broker_core_tick(fx->core, now);
    }
    assert_int_equal(fx->rec->nerrors, 1);
    assert_int_equal(fx->rec->errors[0].tag, 42);
    assert_int_equal(fx->rec->errors[0].code, SP_UNAVAILABLE);
    assert_string_equal(fx->rec->errors[0].message, "request abandoned by 3 workers");
    assert_int_equal(broker_core_request_count(fx->core), 0);
}

static void test_unavailable_timeout(void **state)
{
    fixture_t *fx = *state;
    s_request(fx, "nobody", 1, 100);
    s_request(fx, "nobody", 2, 600);
    assert_int_equal(broker_core_service_count(fx->core), 1);
    broker_core_tick(fx->core, 100 + UNAVAILABLE_MS - 1);
    assert_int_equal(fx->rec->nerrors, 0);
    broker_core_tick(fx->core, 100 + UNAVAILABLE_MS);
    assert_int_equal(fx->rec->nerrors, 1);
    assert_int_equal(fx->rec->errors[0].tag, 1);
    assert_int_equal(fx->rec->errors[0].code, SP_UNAVAILABLE);
    assert_string_equal(fx->rec->errors[0].message, "no worker for service \"nobody\"");
    broker_core_tick(fx->core, 600 + UNAVAILABLE_MS);
    assert_int_equal(fx->rec->nerrors, 2);
    assert_int_equal(fx->rec->errors[1].tag, 2);
    /* a name nobody ever served is forgotten */
    assert_int_equal(broker_core_service_count(fx->core), 0);
    assert_int_equal(broker_core_request_count(fx->core), 0);
}

static void test_worker_appears_in_time(void **state)
{
    fixture_t *fx = *state;
    s_request(fx, "late", 1, 0);
    broker_core_tick(fx->core, UNAVAILABLE_MS - 1);
    s_ready(fx, "w1", "late", 1, UNAVAILABLE_MS - 1);
    assert_int_equal(fx->rec->nsent, 1);
    /* in flight on a live worker: no broker timeout, however long */
    uint64_t t = UNAVAILABLE_MS;
    for (; t < 20 * UNAVAILABLE_MS; t += HB / 2) {
        broker_core_heartbeat(fx->core, F("w1"), t);
        broker_core_tick(fx->core, t);
    }
    assert_int_equal(fx->rec->nerrors, 0);
    /* the worker dies; the request waits again for a worker to appear */
    uint64_t died = t + 3 * HB;
    broker_core_tick(fx->core, died);
    assert_int_equal(broker_core_worker_count(fx->core), 0);
    assert_int_equal(broker_core_request_count(fx->core), 1);
    broker_core_tick(fx->core, died + UNAVAILABLE_MS - 1);
    assert_int_equal(fx->rec->nerrors, 0);
    broker_core_tick(fx->core, died + UNAVAILABLE_MS);
    assert_int_equal(fx->rec->nerrors, 1);
    assert_string_equal(fx->rec->errors[0].message, "no worker for service \"late\"");
}

static void test_unknown_reply_dropped(void **state)
{
    fixture_t *fx = *state;
    s_ready(fx, "w1", "svc", 2, 0);
    s_ready(fx, "w2", "svc", 2, 0);
    uint64_t id = s_request(fx, "svc", 1, 0);
    const char *holder = fx->rec->sent[0].worker;
    const char *other = strcmp(holder, "w1") == 0 ? "w2" : "w1";
    void *payload = (void *)1;
    assert_int_equal(broker_core_reply(fx->core, F(holder), id + 99, 1, &payload),
                     BROKER_CORE_UNKNOWN_REQUEST);
    assert_null(payload);
    /* another worker answering it is ignored too */
    assert_int_equal(broker_core_reply(fx->core, F(other), id, 1, &payload),
                     BROKER_CORE_UNKNOWN_REQUEST);
    assert_int_equal(fx->rec->ncommands, 0);
    assert_int_equal(s_reply(fx, holder, id, 2), 1);
    /* answered already: a duplicate is dropped */
    assert_int_equal(broker_core_reply(fx->core, F(holder), id, 3, &payload),
                     BROKER_CORE_UNKNOWN_REQUEST);
    assert_int_equal(broker_core_worker_count(fx->core), 2);
}

static void test_unknown_worker_commands(void **state)
{
    fixture_t *fx = *state;
    void *payload;
    assert_int_equal(broker_core_heartbeat(fx->core, F("ghost"), 0), BROKER_CORE_UNKNOWN_WORKER);
    assert_int_equal(broker_core_reply(fx->core, F("ghost"), 5, 0, &payload),
                     BROKER_CORE_UNKNOWN_WORKER);
    assert_int_equal(s_count_commands(fx->rec, "ghost", SP_MDPW_DISCONNECT), 2);
    /* a DISCONNECT is never answered with one */
    assert_int_equal(broker_core_disconnect(fx->core, F("ghost"), 0), BROKER_CORE_UNKNOWN_WORKER);
    assert_int_equal(fx->rec->ncommands, 2);
}

static void test_second_ready(void **state)
{
    fixture_t *fx = *state;
    s_ready(fx, "w1", "svc", 1, 0);
    s_ready(fx, "w2", "svc", 1, 0);
    s_request(fx, "svc", 1, 0);
    assert_string_equal(fx->rec->sent[0].worker, "w1");
    assert_int_equal(broker_core_ready(fx->core, F("w1"), F("other"), 1, 1),
                     BROKER_CORE_PROTOCOL_ERROR);
    assert_int_equal(s_count_commands(fx->rec, "w1", SP_MDPW_DISCONNECT), 1);
    assert_int_equal(broker_core_worker_count(fx->core), 1);
    /* its request moved to w2 */
    assert_int_equal(fx->rec->nsent, 2);
    assert_string_equal(fx->rec->sent[1].worker, "w2");
    assert_int_equal(s_reply(fx, "w2", fx->rec->sent[1].id, 2), 1);
}

static void test_ready_refused(void **state)
{
    fixture_t *fx = *state;
    assert_int_equal(broker_core_ready(fx->core, F("w1"), F("mmi.service"), 1, 0),
                     BROKER_CORE_PROTOCOL_ERROR);
    assert_int_equal(broker_core_ready(fx->core, F("w2"), F("svc"), 0, 0),
                     BROKER_CORE_PROTOCOL_ERROR);
    assert_int_equal(broker_core_ready(fx->core, F("w3"), F("svc"), SP_MDP_MAX_CREDIT + 1, 0),
                     BROKER_CORE_PROTOCOL_ERROR);
    assert_int_equal(broker_core_worker_count(fx->core), 0);
    assert_int_equal(fx->rec->ncommands, 3);
}

static void test_heartbeats_sent(void **state)
{
    fixture_t *fx = *state;
    s_ready(fx, "w1", "svc", 1, 0);
    broker_core_tick(fx->core, HB - 1);
    assert_int_equal(fx->rec->ncommands, 0);
    for (uint64_t t = HB; t <= 10 * HB; t += HB / 4) {
        broker_core_heartbeat(fx->core, F("w1"), t);
        broker_core_tick(fx->core, t);
    }
    assert_int_equal(s_count_commands(fx->rec, "w1", SP_MDPW_HEARTBEAT), 10);
    assert_int_equal(broker_core_worker_count(fx->core), 1);
}

static void test_worker_disconnect_drains(void **state)
{
    fixture_t *fx = *state;
    s_ready(fx, "w1", "svc", 2, 0);
    uint64_t id = s_request(fx, "svc", 1, 0);
    assert_int_equal(broker_core_disconnect(fx->core, F("w1"), 1), BROKER_CORE_OK);
    assert_int_equal(broker_core_service_workers(fx->core, F("svc")), 0);
    s_request(fx, "svc", 2, 2); /* not given to a leaving worker */
    assert_int_equal(fx->rec->nsent, 1);
    assert_int_equal(s_reply(fx, "w1", id, 3), 1);
    assert_int_equal(broker_core_worker_count(fx->core), 0);
    s_ready(fx, "w2", "svc", 1, 4);
    assert_int_equal(fx->rec->nsent, 2);
    assert_int_equal(fx->rec->sent[1].tag, 2);
    assert_int_equal(broker_core_disconnect(fx->core, F("w2"), 5), BROKER_CORE_OK);
    assert_int_equal(broker_core_worker_count(fx->core), 1); /* still holds one */
    broker_core_tick(fx->core, 5 + 3 * HB + 1);              /* and then dies */
    assert_int_equal(broker_core_worker_count(fx->core), 0);
    assert_int_equal(broker_core_request_count(fx->core), 1);
}

static void test_send_failure_drops_worker(void **state)
{
    fixture_t *fx = *state;
    s_ready(fx, "w1", "svc", 5, 0);
    s_ready(fx, "w2", "svc", 1, 0);
    fx->rec->unreachable = "w1";
    s_request(fx, "svc", 1, 1);
    assert_int_equal(broker_core_worker_count(fx->core), 1);
    assert_int_equal(fx->rec->nsent, 1);
    assert_string_equal(fx->rec->sent[0].worker, "w2");
    assert_int_equal(fx->rec->nerrors, 0);
}

static void test_heartbeat_failure_drops_worker(void **state)
{
    fixture_t *fx = *state;
    s_ready(fx, "w1", "svc", 1, 0);
    s_ready(fx, "w2", "svc", 1, 0);
    s_request(fx, "svc", 1, 0);
    assert_string_equal(fx->rec->sent[0].worker, "w1");
    broker_core_heartbeat(fx->core, F("w2"), HB);
    fx->rec->unreachable = "w1";
    broker_core_tick(fx->core, HB); /* the HEARTBEAT to w1 fails: gone before expiry */
    assert_int_equal(broker_core_worker_count(fx->core), 1);
    assert_int_equal(fx->rec->nsent, 2);
    assert_string_equal(fx->rec->sent[1].worker, "w2");
    assert_int_equal(fx->rec->sent[1].tag, 1);
}

static void test_queue_full(void **state)
{
    fixture_t *fx = *state; /* max_queue is 10 */
    for (int i = 0; i < 12; i++)
        s_request(fx, "svc", i, 0);
    assert_int_equal(fx->rec->nerrors, 2);
    assert_int_equal(fx->rec->errors[0].tag, 10);
    assert_string_equal(fx->rec->errors[0].message, "queue full for service \"svc\"");
    assert_int_equal(broker_core_request_count(fx->core), 10);
}

static void test_shutdown(void **state)
{
    fixture_t *fx = *state;
    s_ready(fx, "w1", "svc", 1, 0);
    s_request(fx, "svc", 1, 0);
    s_request(fx, "svc", 2, 0);
    s_request(fx, "other", 3, 0);
    broker_core_shutdown(fx->core);
    assert_int_equal(fx->rec->nerrors, 3);
    for (size_t i = 0; i < 3; i++)
        assert_string_equal(fx->rec->errors[i].message, "broker is shutting down");
    assert_int_equal(s_count_commands(fx->rec, "w1", SP_MDPW_DISCONNECT), 1);
    assert_int_equal(broker_core_worker_count(fx->core), 0);
    assert_int_equal(broker_core_request_count(fx->core), 0);
}

typedef struct {
    size_t n;
    broker_core_service_stat_t stats[4];
    char names[4][16];
} stats_t;

static void s_collect(const broker_core_service_stat_t *stat, void *arg)
{
    stats_t *st = arg;
    if (st->n < 4) {
        s_copy_name(st->names[st->n], stat->name);
        st->stats[st->n++] = *stat;
    }
}

static void test_stats(void **state)
{
    fixture_t *fx = *state;
    s_ready(fx, "w1", "svc", 3, 0);
    s_ready(fx, "w2", "svc", 2, 0);
    s_ready(fx, "w3", "echo", 1, 0);
    for (int i = 0; i < 7; i++)
        s_request(fx, "svc", i, 0);
    stats_t st = {0};
    broker_core_foreach_service(fx->core, s_collect, &st);
    assert_int_equal(st.n, 2);
    assert_string_equal(st.names[0], "svc");
    assert_int_equal(st.stats[0].workers, 2);
    assert_int_equal(st.stats[0].credit, 0);
    assert_int_equal(st.stats[0].in_flight, 5);
    assert_int_equal(st.stats[0].queued, 2);
    assert_string_equal(st.names[1], "echo");
    assert_int_equal(st.stats[1].workers, 1);
    assert_int_equal(st.stats[1].credit, 1);
    assert_int_equal(broker_core_service_workers(fx->core, F("echo")), 1);
    assert_int_equal(broker_core_service_workers(fx->core, F("nope")), 0);
}

/* Many requests answered in a scrambled order: exercises the hash tables'
 * growth and deletion. */
static void test_many_requests(void **state)
{
    fixture_t *fx = *state;
    enum { CREDIT = 1000, ROUNDS = 10 };
    s_ready(fx, "w1", "svc", CREDIT, 0);
    s_ready(fx, "w2", "svc", CREDIT, 0);
    size_t *held = calloc(2 * CREDIT, sizeof *held); /* indices into rec->sent */
    size_t nheld = 0;
    int tag = 0;
    for (int round = 0; round < ROUNDS; round++) {
        size_t start = fx->rec->nsent;
        while (nheld + (fx->rec->nsent - start) < 2 * CREDIT)
            s_request(fx, "svc", tag++, 0);
        for (size_t i = start; i < fx->rec->nsent; i++)
            held[nheld++] = i;
        assert_int_equal(nheld, 2 * CREDIT);
        size_t kept = 0;
        for (size_t i = 0; i < nheld; i++) {
            const sent_t *s = &fx->rec->sent[held[i]];
            if (((i + (size_t)round) * 2654435761u >> 7) % 2 == 0)
                assert_int_equal(s_reply(fx, s->worker, s->id, 1), s->tag);
            else
                held[kept++] = held[i];
        }
        nheld = kept;
        assert_int_equal(broker_core_request_count(fx->core), nheld);
    }
    for (size_t i = nheld; i-- > 0;) {
        const sent_t *s = &fx->rec->sent[held[i]];
        assert_int_equal(s_reply(fx, s->worker, s->id, 2), s->tag);
    }
    assert_int_equal(broker_core_request_count(fx->core), 0);
    assert_int_equal(fx->rec->nerrors, 0);
    free(held);
}

/* The body limits: what a worker can receive (5 head frames + body in 16). */
static void test_check_body(void **state)
{
    (void)state;
    assert_int_equal(BROKER_CORE_MAX_BODY_FRAMES, 11);
    sp_frame_t body[16];
    for (size_t i = 0; i < 16; i++)
        body[i] = F("b");
    sp_error_t err;

    assert_int_equal(broker_core_check_body(body, 1, false, &err), 0);
    assert_false(sp_error_is_set(&err));
    assert_int_equal(broker_core_check_body(body, BROKER_CORE_MAX_BODY_FRAMES, false, &err), 0);

    assert_int_equal(broker_core_check_body(body, 12, false, &err), -1);
    assert_int_equal(err.code, SP_INVALID_ARGUMENT);
    assert_string_equal(err.field, "body");
    assert_string_equal(err.message, "request has 12 body frames; at most 11");

    /* more frames than the broker received: only a lower bound is known */
    assert_int_equal(broker_core_check_body(body, 12, true, &err), -1);
    assert_int_equal(err.code, SP_INVALID_ARGUMENT);
    assert_string_equal(err.field, "body");
    assert_string_equal(err.message, "request has more than 12 body frames; at most 11");

    /* total size: at the limit passes, one byte over fails (sizes only are read) */
    static char big[SP_MDP_MAX_FRAME_SIZE];
    sp_frame_t halves[] = {{big, SP_MDP_MAX_FRAME_SIZE / 2}, {big, SP_MDP_MAX_FRAME_SIZE / 2}};
    assert_int_equal(broker_core_check_body(halves, 2, false, &err), 0);
    sp_frame_t whole[] = {{big, SP_MDP_MAX_FRAME_SIZE}};
    assert_int_equal(broker_core_check_body(whole, 1, false, &err), 0);
    halves[1].size++;
    assert_int_equal(broker_core_check_body(halves, 2, false, &err), -1);
    assert_int_equal(err.code, SP_INVALID_ARGUMENT);
    assert_string_equal(err.field, "body");
    assert_string_equal(err.message, "request body is 1048577 bytes; at most 1048576");
    sp_frame_t two[] = {{big, 700000}, {big, 700000}};
    assert_int_equal(broker_core_check_body(two, 2, false, &err), -1);
    assert_string_equal(err.message, "request body is 1400000 bytes; at most 1048576");

    /* a clean check clears an earlier error */
    assert_int_equal(broker_core_check_body(body, 1, false, &err), 0);
    assert_false(sp_error_is_set(&err));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_dispatch_and_reply, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown(test_load_spread_low_load, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown(test_load_spread_prefers_free_credit, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown(test_credit_limit_and_fifo, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown(test_requeue_to_front_on_expiry, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown(test_requeue_goes_to_other_worker, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown(test_attempt_limit, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown(test_unavailable_timeout, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown(test_worker_appears_in_time, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown(test_unknown_reply_dropped, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown(test_unknown_worker_commands, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown(test_second_ready, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown(test_ready_refused, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown(test_heartbeats_sent, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown(test_worker_disconnect_drains, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown(test_send_failure_drops_worker, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown(test_heartbeat_failure_drops_worker, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown(test_queue_full, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown(test_shutdown, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown(test_stats, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown(test_many_requests, s_setup, s_teardown),
        cmocka_unit_test(test_check_body),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
