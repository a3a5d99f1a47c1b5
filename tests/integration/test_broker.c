/*
 * test_broker.c - integration test of samspil-broker over real ZeroMQ
 * sockets.  Starts its own broker ($SAMSPIL_BIN/samspil-broker) with a
 * private home under $SAMSPIL_HOME and a short heartbeat, plays workers
 * (raw DEALER sockets speaking SPW01) and clients (raw DEALER sockets
 * speaking MDP/0.1), and stops the broker with SIGTERM at the end.
 */
#include "itest.h"
#include "samspil/v1/broker.pb-c.h"
#include "samspil/v1/common.pb-c.h"
#include "sp_mdp.h"

#include <errno.h>
#include <ftw.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <zmq.h>

#define HEARTBEAT_MS 200
#define UNAVAILABLE_MS 500
#define MAX_WORKERS 8
#define MAX_PENDING 64
#define MAX_BODY 256

static void *g_ctx;
static char g_endpoint[512];
static char g_home[400];
static pid_t g_broker = -1;

static int64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* --- raw multipart helpers */

typedef struct {
    size_t count;
    size_t size[20];
    char data[20][MAX_BODY];
} frames_t;

static int send_frames(void *socket, const sp_frame_t *frames, size_t count)
{
    for (size_t i = 0; i < count; i++)
        if (zmq_send(socket, frames[i].data, frames[i].size, i + 1 < count ? ZMQ_SNDMORE : 0) < 0)
            return -1;
    return 0;
}

/* Receive one message without waiting; frames longer than MAX_BODY are cut. */
static int recv_frames(void *socket, frames_t *out)
{
    out->count = 0;
    for (;;) {
        zmq_msg_t part;
        zmq_msg_init(&part);
        if (zmq_msg_recv(&part, socket, out->count ? 0 : ZMQ_DONTWAIT) < 0) {
            zmq_msg_close(&part);
            return -1;
        }
        if (out->count < 20) {
            size_t n = zmq_msg_size(&part);
            out->size[out->count] = n;
            memcpy(out->data[out->count], zmq_msg_data(&part), n < MAX_BODY ? n : MAX_BODY);
            out->count++;
        }
        int more = zmq_msg_more(&part);
        zmq_msg_close(&part);
        if (!more)
            return 0;
    }
}

static bool frame_is(const frames_t *m, size_t i, const void *data, size_t size)
{
    return i < m->count && m->size[i] == size && memcmp(m->data[i], data, size) == 0;
}

static bool frame_is_str(const frames_t *m, size_t i, const char *str)
{
    return frame_is(m, i, str, strlen(str));
}

static void *new_dealer(void)
{
    void *s = zmq_socket(g_ctx, ZMQ_DEALER);
    int linger = 0;
    zmq_setsockopt(s, ZMQ_LINGER, &linger, sizeof linger);
    if (zmq_connect(s, g_endpoint) < 0) {
        fprintf(stderr, "test_broker: could not connect to %s: %s\n", g_endpoint,
                zmq_strerror(zmq_errno()));
        exit(2);
    }
    return s;
}

/* --- fake workers: heartbeats are kept by pump() during every wait */

typedef struct {
    uint8_t id[SP_MDP_REQUEST_ID_SIZE];
    frames_t msg;
} pending_t;

typedef struct {
    void *socket;
    bool beating; /* send HEARTBEATs */
    int64_t last_beat;
    int disconnects; /* DISCONNECTs received */
    int heartbeats;  /* HEARTBEATs received */
    pending_t pending[MAX_PENDING];
    size_t npending;
} worker_t;

static worker_t *g_workers[MAX_WORKERS];

static void worker_command(worker_t *w, int command)
{
    uint8_t byte = (uint8_t)command;
    sp_frame_t frames[] = {{"", 0}, sp_frame_str(SP_MDP_WORKER), {&byte, 1}};
    send_frames(w->socket, frames, 3);
}

static worker_t *worker_new(const char *service, const char *credit)
{
    worker_t *w = calloc(1, sizeof *w);
    w->socket = new_dealer();
    w->beating = true;
    w->last_beat = now_ms();
    uint8_t ready = SP_MDPW_READY;
    sp_frame_t frames[] = {{"", 0},
                           sp_frame_str(SP_MDP_WORKER),
                           {&ready, 1},
                           sp_frame_str(service),
                           sp_frame_str(credit)};
    send_frames(w->socket, frames, 5);
    for (int i = 0; i < MAX_WORKERS; i++)
        if (!g_workers[i]) {
            g_workers[i] = w;
            break;
        }
    return w;
}

static void worker_destroy(worker_t *w, bool say_goodbye)
{
    if (say_goodbye)
        worker_command(w, SP_MDPW_DISCONNECT);
    for (int i = 0; i < MAX_WORKERS; i++)
        if (g_workers[i] == w)
            g_workers[i] = NULL;
    zmq_close(w->socket);
    free(w);
}

static void worker_drain(worker_t *w)
{
    frames_t m;
    while (recv_frames(w->socket, &m) == 0) {
        if (m.count < 3 || m.size[0] != 0 || !frame_is_str(&m, 1, SP_MDP_WORKER) || m.size[2] != 1)
            continue;
        int command = (uint8_t)m.data[2][0];
        if (command == SP_MDPW_HEARTBEAT) {
            w->heartbeats++;
        } else if (command == SP_MDPW_DISCONNECT) {
            w->disconnects++;
        } else if (command == SP_MDPW_REQUEST && w->npending < MAX_PENDING) {
            pending_t *p = &w->pending[w->npending++];
            memcpy(p->id, m.data[3], SP_MDP_REQUEST_ID_SIZE);
            p->msg = m;
        }
    }
}

/* Keep every live fake worker beating and read what the broker sent them. */
static void pump(void)
{
    int64_t now = now_ms();
    for (int i = 0; i < MAX_WORKERS; i++) {
        worker_t *w = g_workers[i];
        if (!w)
            continue;
        worker_drain(w);
        if (w->beating && now - w->last_beat >= HEARTBEAT_MS / 2) {
            worker_command(w, SP_MDPW_HEARTBEAT);
            w->last_beat = now;
        }
    }
}

/* Wait up to `timeout_ms` (pumping) for a message on `socket`. */
static int wait_recv(void *socket, frames_t *out, int timeout_ms)
{
    int64_t deadline = now_ms() + timeout_ms;
    for (;;) {
        pump();
        if (recv_frames(socket, out) == 0)
            return 0;
        if (now_ms() >= deadline)
            return -1;
        zmq_pollitem_t item = {socket, 0, ZMQ_POLLIN, 0};
        zmq_poll(&item, 1, 10);
    }
}

static void sleep_pumping(int ms)
{
    int64_t deadline = now_ms() + ms;
    while (now_ms() < deadline) {
        pump();
        usleep(5000);
    }
}

/* Wait for a REQUEST on `w`; returns it (pointer valid until the next take). */
static pending_t *worker_take(worker_t *w, int timeout_ms, pending_t *out)
{
    int64_t deadline = now_ms() + timeout_ms;
    for (;;) {
        pump();
        if (w->npending) {
            *out = w->pending[0];
            memmove(&w->pending[0], &w->pending[1], (w->npending - 1) * sizeof w->pending[0]);
            w->npending--;
            return out;
        }
        if (now_ms() >= deadline)
            return NULL;
        usleep(2000);
    }
}

static void worker_reply(worker_t *w, const uint8_t id[SP_MDP_REQUEST_ID_SIZE], const void *body,
                         size_t size)
{
    uint8_t reply = SP_MDPW_REPLY;
    sp_frame_t frames[] = {{"", 0},     sp_frame_str(SP_MDP_WORKER),
                           {&reply, 1}, {id, SP_MDP_REQUEST_ID_SIZE},
                           {"", 0},     {body, size}};
    send_frames(w->socket, frames, 6);
}

/* --- clients */

static int client_send(void *socket, const char *service, const void *body, size_t size)
{
    sp_frame_t frames[] = {
        {"", 0}, sp_frame_str(SP_MDP_CLIENT), sp_frame_str(service), {body, size}};
    return send_frames(socket, frames, 4);
}

/* Receive a reply and check its envelope; returns 0 and the body in `out`. */
static int client_recv(void *socket, const char *service, frames_t *out, int timeout_ms)
{
    if (wait_recv(socket, out, timeout_ms) < 0)
        return -1;
    if (out->count != 4 || out->size[0] != 0 || !frame_is_str(out, 1, SP_MDP_CLIENT) ||
        !frame_is_str(out, 2, service))
        return -2;
    return 0;
}

/* One request on a fresh socket; the reply body is frame 3 of `out`. */
static int call(const char *service, const void *body, size_t size, frames_t *out, int timeout_ms)
{
    void *s = new_dealer();
    int rc = client_send(s, service, body, size);
    if (rc == 0)
        rc = client_recv(s, service, out, timeout_ms);
    zmq_close(s);
    return rc;
}

static const char *mmi_service(const char *name)
{
    static char answer[8];
    frames_t m;
    if (call("mmi.service", name, strlen(name), &m, 2000) < 0)
        return "none";
    size_t n = m.size[3] < 7 ? m.size[3] : 7;
    memcpy(answer, m.data[3], n);
    answer[n] = '\0';
    return answer;
}

/* Wait until mmi.service answers `want` for `name`. */
static bool wait_mmi(const char *name, const char *want, int timeout_ms)
{
    int64_t deadline = now_ms() + timeout_ms;
    do {
        if (strcmp(mmi_service(name), want) == 0)
            return true;
        sleep_pumping(20);
    } while (now_ms() < deadline);
    return false;
}

/* --- the broker process */

static bool broker_alive(void)
{
    int status;
    return g_broker > 0 && waitpid(g_broker, &status, WNOHANG) == 0;
}

static void start_broker(const char *bin)
{
    char path[600], log[600], heartbeat[16], unavailable[16], bind_arg[600];
    snprintf(path, sizeof path, "%s/samspil-broker", bin);
    snprintf(log, sizeof log, "%s/broker.log", g_home);
    snprintf(heartbeat, sizeof heartbeat, "%d", HEARTBEAT_MS);
    snprintf(unavailable, sizeof unavailable, "%d", UNAVAILABLE_MS);
    snprintf(bind_arg, sizeof bind_arg, "--bind=%s", g_endpoint);
    g_broker = fork();
    if (g_broker == 0) {
        FILE *f = freopen(log, "w", stderr);
        (void)f;
        setenv("SAMSPIL_LOG_LEVEL", "debug", 1);
        setenv("SAMSPIL_PLAINTEXT", "1", 1); /* this test plays raw plain-text peers */
        execl(path, path, "--home", g_home, bind_arg, "--heartbeat-ms", heartbeat,
              "--unavailable-ms", unavailable, (char *)NULL);
        _exit(127);
    }
}

static int remove_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    (void)st;
    (void)flag;
    (void)ftw;
    return remove(path);
}

/* --- the checks */

static void test_mmi(void)
{
    ITEST_CHECK(strcmp(mmi_service("itest.nothing"), "404") == 0, "mmi.service 404 for no worker");
    frames_t m;
    int rc = call("mmi.nosuch", "x", 1, &m, 2000);
    ITEST_CHECK(rc == 0 && frame_is_str(&m, 3, "501"), "mmi.nosuch answers 501");
    worker_t *w = worker_new("itest.mmi", "1");
    ITEST_CHECK(wait_mmi("itest.mmi", "200", 3000), "mmi.service 200 once a worker is ready");
    worker_destroy(w, true);
    ITEST_CHECK(wait_mmi("itest.mmi", "404", 3000), "mmi.service 404 after the worker left");
}

static void test_route(void)
{
    worker_t *w = worker_new("itest.echo", "4");
    wait_mmi("itest.echo", "200", 3000);
    void *client = new_dealer();
    client_send(client, "itest.echo", "hello", 5);
    pending_t req;
    bool got = worker_take(w, 3000, &req) != NULL;
    ITEST_CHECK(got, "request reaches the worker");
    if (got) {
        const frames_t *m = &req.msg;
        ITEST_CHECKF(m->count == 6 && m->size[3] == SP_MDP_REQUEST_ID_SIZE &&
                         frame_is_str(m, 5, "hello"),
                     "REQUEST frames are \"\" SPW01 0x02 id principal body", "count %zu", m->count);
        Samspil__V1__Principal *p =
            m->count >= 5
                ? samspil__v1__principal__unpack(NULL, m->size[4], (const uint8_t *)m->data[4])
                : NULL;
        ITEST_CHECK(p && p->client_id && strcmp(p->client_id, "dev-operator") == 0 &&
                        p->role == SAMSPIL__V1__ROLE__ROLE_OPERATOR && p->all_tenants,
                    "principal frame is the development operator of all tenants");
        if (p)
            samspil__v1__principal__free_unpacked(p, NULL);
        worker_reply(w, req.id, "world", 5);
        frames_t reply;
        int rc = client_recv(client, "itest.echo", &reply, 3000);
        ITEST_CHECKF(rc == 0 && frame_is_str(&reply, 3, "world"),
                     "reply reaches the client with the service name", "rc %d", rc);
        /* a second reply to the same id is dropped */
        worker_reply(w, req.id, "again", 5);
        ITEST_CHECK(wait_recv(client, &reply, 300) < 0, "duplicate reply is dropped");
    }

    /* a REQ socket works too (RFC 7 clients often use one) */
    void *req_socket = zmq_socket(g_ctx, ZMQ_REQ);
    int linger = 0;
    zmq_setsockopt(req_socket, ZMQ_LINGER, &linger, sizeof linger);
    zmq_connect(req_socket, g_endpoint);
    sp_frame_t frames[] = {sp_frame_str(SP_MDP_CLIENT), sp_frame_str("itest.echo"),
                           sp_frame_str("ping")};
    send_frames(req_socket, frames, 3);
    if (worker_take(w, 3000, &req))
        worker_reply(w, req.id, "pong", 4);
    frames_t reply;
    int rc = wait_recv(req_socket, &reply, 3000);
    ITEST_CHECK(rc == 0 && reply.count == 3 && frame_is_str(&reply, 0, SP_MDP_CLIENT) &&
                    frame_is_str(&reply, 1, "itest.echo") && frame_is_str(&reply, 2, "pong"),
                "REQ client gets its reply");
    zmq_close(req_socket);

    /* mmi.status lists the service */
    frames_t st;
    rc = call("mmi.status", "", 0, &st, 2000);
    Samspil__V1__BrokerStatus *status =
        rc == 0 ? samspil__v1__broker_status__unpack(NULL, st.size[3], (const uint8_t *)st.data[3])
                : NULL;
    bool listed = false;
    if (status)
        for (size_t i = 0; i < status->n_services; i++)
            if (strcmp(status->services[i]->name, "itest.echo") == 0 &&
                status->services[i]->workers == 1 && status->services[i]->credit == 4)
                listed = true;
    ITEST_CHECK(status && status->development_mode && status->version && *status->version && listed,
                "mmi.status lists services, workers and credit");
    if (status)
        samspil__v1__broker_status__free_unpacked(status, NULL);
    zmq_close(client);
    worker_destroy(w, true);
}

static void test_spread(void)
{
    worker_t *a = worker_new("itest.spread", "4");
    worker_t *b = worker_new("itest.spread", "4");
    sleep_pumping(100);
    void *client = new_dealer();
    int count_a = 0, count_b = 0, answered = 0;
    for (int i = 0; i < 10; i++) {
        client_send(client, "itest.spread", "x", 1);
        pending_t req;
        int64_t deadline = now_ms() + 3000;
        while (now_ms() < deadline) {
            worker_t *got = NULL;
            if (worker_take(a, 5, &req))
                got = a;
            else if (worker_take(b, 5, &req))
                got = b;
            if (got) {
                *(got == a ? &count_a : &count_b) += 1;
                worker_reply(got, req.id, "y", 1);
                break;
            }
        }
        frames_t reply;
        if (client_recv(client, "itest.spread", &reply, 3000) == 0)
            answered++;
    }
    ITEST_CHECKF(answered == 10, "ten sequential requests answered", "answered %d", answered);
    ITEST_CHECKF(count_a > 0 && count_b > 0, "load spreads over two workers at low load",
                 "a %d b %d", count_a, count_b);
    zmq_close(client);
    worker_destroy(a, true);
    worker_destroy(b, true);
}

static void test_requeue(void)
{
    worker_t *a = worker_new("itest.requeue", "1");
    worker_t *b = worker_new("itest.requeue", "1");
    sleep_pumping(100);
    void *client = new_dealer();
    client_send(client, "itest.requeue", "job", 3);
    pending_t req;
    worker_t *holder = NULL, *other = NULL;
    int64_t deadline = now_ms() + 3000;
    while (!holder && now_ms() < deadline) {
        if (worker_take(a, 5, &req))
            holder = a, other = b;
        else if (worker_take(b, 5, &req))
            holder = b, other = a;
    }
    ITEST_CHECK(holder != NULL, "request reaches one of two workers");
    if (!holder) {
        zmq_close(client);
        worker_destroy(a, true);
        worker_destroy(b, true);
        return;
    }
    /* the holder falls silent without answering */
    holder->beating = false;
    int64_t silent_since = now_ms();
    pending_t again;
    bool moved = worker_take(other, 10 * 3 * HEARTBEAT_MS, &again) != NULL;
    int64_t took = now_ms() - silent_since;
    ITEST_CHECKF(moved && frame_is_str(&again.msg, 5, "job"),
                 "a silent worker's request is delivered to the other worker", "took %lld ms",
                 (long long)took);
    /* generous upper bound only: 10x the 3 intervals of liveness */
    ITEST_CHECKF(moved && took <= 10 * 3 * HEARTBEAT_MS,
                 "silent worker dropped within 10x its 3 heartbeat intervals", "took %lld ms",
                 (long long)took);
    ITEST_CHECK(holder->disconnects >= 1, "dropped worker is sent DISCONNECT");
    if (moved) {
        worker_reply(other, again.id, "done", 4);
        frames_t reply;
        int rc = client_recv(client, "itest.requeue", &reply, 3000);
        ITEST_CHECK(rc == 0 && frame_is_str(&reply, 3, "done"), "requeued request is answered");
        /* the dead worker's late reply is refused with DISCONNECT, not delivered */
        int before = holder->disconnects;
        worker_reply(holder, req.id, "late", 4);
        ITEST_CHECK(wait_recv(client, &reply, 300) < 0,
                    "late reply of a dropped worker is not delivered");
        sleep_pumping(100);
        ITEST_CHECK(holder->disconnects > before,
                    "unknown worker's reply is answered with DISCONNECT");
    }
    zmq_close(client);
    worker_destroy(a, true);
    worker_destroy(b, true);
}

static void test_unavailable(void)
{
    void *client = new_dealer();
    int64_t start = now_ms();
    client_send(client, "itest.nobody", "x", 1);
    frames_t reply;
    int rc = client_recv(client, "itest.nobody", &reply, 10 * UNAVAILABLE_MS);
    int64_t took = now_ms() - start;
    Samspil__V1__ErrorReply *er =
        rc == 0
            ? samspil__v1__error_reply__unpack(NULL, reply.size[3], (const uint8_t *)reply.data[3])
            : NULL;
    ITEST_CHECKF(er && er->error &&
                     er->error->code == SAMSPIL__V1__ERROR_CODE__ERROR_CODE_UNAVAILABLE &&
                     strcmp(er->error->message, "no worker for service \"itest.nobody\"") == 0,
                 "no worker: ErrorReply unavailable within 10x the unavailable time",
                 "rc %d after %lld ms", rc, (long long)took);
    if (er)
        samspil__v1__error_reply__free_unpacked(er, NULL);
    /* and it decodes as any service's reply: field 1 is the Error */
    Samspil__V1__BrokerStatus *as_other =
        rc == 0 ? samspil__v1__broker_status__unpack(NULL, reply.size[3],
                                                     (const uint8_t *)reply.data[3])
                : NULL;
    ITEST_CHECK(as_other && as_other->error &&
                    as_other->error->code == SAMSPIL__V1__ERROR_CODE__ERROR_CODE_UNAVAILABLE,
                "ErrorReply decodes as another reply type's error field");
    if (as_other)
        samspil__v1__broker_status__free_unpacked(as_other, NULL);
    zmq_close(client);
}

static void test_worker_protocol_errors(void)
{
    /* a second READY gets DISCONNECT */
    worker_t *w = worker_new("itest.twice", "1");
    sleep_pumping(50);
    uint8_t ready = SP_MDPW_READY;
    sp_frame_t frames[] = {{"", 0},
                           sp_frame_str(SP_MDP_WORKER),
                           {&ready, 1},
                           sp_frame_str("itest.twice"),
                           sp_frame_str("1")};
    send_frames(w->socket, frames, 5);
    int64_t deadline = now_ms() + 2000;
    while (w->disconnects == 0 && now_ms() < deadline)
        sleep_pumping(10);
    ITEST_CHECK(w->disconnects == 1, "second READY is answered with DISCONNECT");
    w->beating = false;
    ITEST_CHECK(wait_mmi("itest.twice", "404", 2000), "worker with a second READY is forgotten");
    worker_destroy(w, false);

    /* a heartbeat from a worker that never said READY gets DISCONNECT */
    worker_t *ghost = calloc(1, sizeof *ghost);
    ghost->socket = new_dealer();
    for (int i = 0; i < MAX_WORKERS; i++)
        if (!g_workers[i]) {
            g_workers[i] = ghost;
            break;
        }
    worker_command(ghost, SP_MDPW_HEARTBEAT);
    deadline = now_ms() + 2000;
    while (ghost->disconnects == 0 && now_ms() < deadline)
        sleep_pumping(10);
    ITEST_CHECK(ghost->disconnects == 1, "HEARTBEAT from an unknown worker gets DISCONNECT");
    worker_destroy(ghost, false);
}

static void test_garbage(void)
{
    void *s = new_dealer();
    char big_service[80];
    memset(big_service, 'a', sizeof big_service);
    sp_frame_t m1[] = {sp_frame_str("junk")};
    sp_frame_t m2[] = {{"", 0}};
    sp_frame_t m3[] = {{"", 0}, sp_frame_str("MDPC99"), sp_frame_str("x"), sp_frame_str("y")};
    sp_frame_t m4[] = {{"", 0}, sp_frame_str(SP_MDP_CLIENT)};
    sp_frame_t m5[] = {
        {"", 0}, sp_frame_str(SP_MDP_CLIENT), sp_frame_str("Bad Name"), sp_frame_str("b")};
    sp_frame_t m6[] = {
        {"", 0}, sp_frame_str(SP_MDP_CLIENT), {big_service, sizeof big_service}, sp_frame_str("b")};
    sp_frame_t m7[] = {{"", 0}, sp_frame_str(SP_MDP_WORKER), sp_frame_str("\x09")};
    sp_frame_t m8[] = {{"", 0},
                       sp_frame_str(SP_MDP_WORKER),
                       sp_frame_str("\x01"),
                       sp_frame_str("svc"),
                       sp_frame_str("0")};
    sp_frame_t m9[] = {{"", 0},
                       sp_frame_str(SP_MDP_WORKER),
                       sp_frame_str("\x03"),
                       sp_frame_str("short"),
                       {"", 0},
                       sp_frame_str("b")};
    sp_frame_t m10[] = {{"", 0}, sp_frame_str(SP_MDP_CLIENT), sp_frame_str("itest.echo")};
    send_frames(s, m1, 1);
    send_frames(s, m2, 1);
    send_frames(s, m3, 4);
    send_frames(s, m4, 2);
    send_frames(s, m5, 4);
    send_frames(s, m6, 4);
    send_frames(s, m7, 3);
    send_frames(s, m8, 5);
    send_frames(s, m9, 6);
    send_frames(s, m10, 3);
    /* too many frames */
    sp_frame_t many[40];
    many[0] = (sp_frame_t){"", 0};
    many[1] = sp_frame_str(SP_MDP_CLIENT);
    many[2] = sp_frame_str("itest.echo");
    for (int i = 3; i < 40; i++)
        many[i] = sp_frame_str("b");
    send_frames(s, many, 40);
    sleep_pumping(200);
    ITEST_CHECK(broker_alive(), "broker survives malformed messages");
    ITEST_CHECK(strcmp(mmi_service("itest.nothing"), "404") == 0,
                "broker answers mmi.service after malformed messages");

    /* a 2 MiB frame: libzmq cuts that peer off (ZMQ_MAXMSGSIZE) */
    size_t big = 2 * 1024 * 1024;
    char *data = calloc(1, big);
    sp_frame_t huge[] = {
        {"", 0}, sp_frame_str(SP_MDP_CLIENT), sp_frame_str("itest.echo"), {data, big}};
    send_frames(s, huge, 4);
    free(data);
    sleep_pumping(300);
    ITEST_CHECK(broker_alive(), "broker survives a 2 MiB frame");
    ITEST_CHECK(strcmp(mmi_service("itest.nothing"), "404") == 0,
                "broker answers mmi.service after a 2 MiB frame");
    zmq_close(s);
}

/* mmi.status numbers for `service`; false if it is not listed. */
static bool service_status(const char *service, unsigned *workers, unsigned *credit,
                           unsigned *in_flight, unsigned *queued)
{
    frames_t st;
    if (call("mmi.status", "", 0, &st, 2000) < 0 || st.size[3] > MAX_BODY)
        return false;
    Samspil__V1__BrokerStatus *status =
        samspil__v1__broker_status__unpack(NULL, st.size[3], (const uint8_t *)st.data[3]);
    bool found = false;
    for (size_t i = 0; status && i < status->n_services; i++) {
        const Samspil__V1__ServiceStatus *s = status->services[i];
        if (strcmp(s->name, service) == 0) {
            *workers = s->workers;
            *credit = s->credit;
            *in_flight = s->in_flight;
            *queued = s->queued;
            found = true;
        }
    }
    if (status)
        samspil__v1__broker_status__free_unpacked(status, NULL);
    return found;
}

/* Send "" | MDPC01 | service | body[0..nbody-1] on `client` and expect an
 * ErrorReply INVALID_ARGUMENT on field "body" with `message`. */
static bool refused_with(void *client, const char *service, const sp_frame_t *body, size_t nbody,
                         const char *message)
{
    sp_frame_t frames[64];
    frames[0] = (sp_frame_t){"", 0};
    frames[1] = sp_frame_str(SP_MDP_CLIENT);
    frames[2] = sp_frame_str(service);
    for (size_t i = 0; i < nbody && i + 3 < 64; i++)
        frames[3 + i] = body[i];
    if (send_frames(client, frames, 3 + nbody) < 0)
        return false;
    frames_t reply;
    if (client_recv(client, service, &reply, 3000) < 0)
        return false;
    Samspil__V1__ErrorReply *er =
        samspil__v1__error_reply__unpack(NULL, reply.size[3], (const uint8_t *)reply.data[3]);
    bool ok = er && er->error &&
              er->error->code == SAMSPIL__V1__ERROR_CODE__ERROR_CODE_INVALID_ARGUMENT &&
              strcmp(er->error->field, "body") == 0 && strcmp(er->error->message, message) == 0;
    if (!ok)
        printf("# got %s / %s\n", er && er->error ? er->error->message : "(no ErrorReply)",
               er && er->error ? er->error->field : "");
    if (er)
        samspil__v1__error_reply__free_unpacked(er, NULL);
    return ok;
}

/* Requests a worker could not receive whole (more than 11 body frames: the
 * REQUEST's 5 head frames + body must fit 16; more than 1 MiB of body in all)
 * are refused by the broker, so they never take a unit of credit. */
static void test_body_limits(void)
{
    worker_t *w = worker_new("itest.limits", "2");
    wait_mmi("itest.limits", "200", 3000);
    void *client = new_dealer();
    sp_frame_t body[40];
    for (int i = 0; i < 40; i++)
        body[i] = sp_frame_str("b");
    ITEST_CHECK(
        refused_with(client, "itest.limits", body, 12, "request has 12 body frames; at most 11"),
        "12 body frames: ErrorReply invalid_argument on field body");
    ITEST_CHECK(refused_with(client, "itest.limits", body, 37,
                             "request has more than 12 body frames; at most 11"),
                "37 body frames (more than the broker receives): ErrorReply invalid_argument");
    size_t part = 700000;
    char *data = calloc(1, 2 * part);
    sp_frame_t two[] = {{data, part}, {data + part, part}};
    ITEST_CHECK(refused_with(client, "itest.limits", two, 2,
                             "request body is 1400000 bytes; at most 1048576"),
                "two 700 kB body frames: ErrorReply invalid_argument on field body");
    /* the refusal comes before the mmi.* answer too */
    ITEST_CHECK(
        refused_with(client, "mmi.status", body, 12, "request has 12 body frames; at most 11"),
        "mmi request with 12 body frames is refused too");
    sleep_pumping(100);
    ITEST_CHECKF(w->npending == 0, "refused requests never reach the worker", "%zu reached it",
                 w->npending);
    unsigned workers = 0, credit = 0, in_flight = 9, queued = 9;
    bool listed = service_status("itest.limits", &workers, &credit, &in_flight, &queued);
    ITEST_CHECKF(listed && workers == 1 && credit == 2 && in_flight == 0 && queued == 0,
                 "after refused requests mmi.status shows in_flight 0 and the full credit",
                 "listed %d workers %u credit %u in_flight %u queued %u", listed, workers, credit,
                 in_flight, queued);

    /* at the limits: 11 frames, and 1 MiB in two frames, reach the worker whole */
    sp_frame_t eleven[11];
    for (int i = 0; i < 11; i++)
        eleven[i] = sp_frame_str("b");
    sp_frame_t frames[3 + 11] = {
        {"", 0}, sp_frame_str(SP_MDP_CLIENT), sp_frame_str("itest.limits")};
    memcpy(&frames[3], eleven, sizeof eleven);
    send_frames(client, frames, 3 + 11);
    pending_t req;
    bool got = worker_take(w, 3000, &req) != NULL;
    ITEST_CHECKF(got && req.msg.count == 5 + 11, "a request with 11 body frames reaches the worker",
                 "got %d frames %zu", got, got ? req.msg.count : 0);
    if (got)
        worker_reply(w, req.id, "ok11", 4);
    frames_t reply;
    int rc = client_recv(client, "itest.limits", &reply, 3000);
    ITEST_CHECK(rc == 0 && frame_is_str(&reply, 3, "ok11"), "and is answered");
    size_t half = SP_MDP_MAX_FRAME_SIZE / 2;
    sp_frame_t mib[] = {{"", 0},
                        sp_frame_str(SP_MDP_CLIENT),
                        sp_frame_str("itest.limits"),
                        {data, half},
                        {data + half, half}};
    send_frames(client, mib, 5);
    got = worker_take(w, 3000, &req) != NULL;
    ITEST_CHECKF(got && req.msg.count == 7 && req.msg.size[5] == half && req.msg.size[6] == half,
                 "a 1 MiB body in two frames reaches the worker", "got %d", got);
    if (got)
        worker_reply(w, req.id, "okmib", 5);
    rc = client_recv(client, "itest.limits", &reply, 3000);
    ITEST_CHECK(rc == 0 && frame_is_str(&reply, 3, "okmib"), "and is answered");
    free(data);
    listed = service_status("itest.limits", &workers, &credit, &in_flight, &queued);
    ITEST_CHECKF(listed && credit == 2 && in_flight == 0,
                 "after answered requests mmi.status shows in_flight 0 and the full credit",
                 "credit %u in_flight %u", credit, in_flight);
    zmq_close(client);
    worker_destroy(w, true);
}

/* A worker REPLY with more frames than the broker's receive buffer (16)
 * still completes its request: the client gets ErrorReply INTERNAL and the
 * worker's unit of credit comes back. */
static void test_reply_too_many_frames(void)
{
    worker_t *w = worker_new("itest.bigreply", "2");
    wait_mmi("itest.bigreply", "200", 3000);
    void *client = new_dealer();
    client_send(client, "itest.bigreply", "q", 1);
    pending_t req;
    bool got = worker_take(w, 3000, &req) != NULL;
    ITEST_CHECK(got, "request reaches the worker that will answer with 20 frames");
    if (got) {
        uint8_t reply = SP_MDPW_REPLY;
        sp_frame_t frames[20] = {{"", 0},
                                 sp_frame_str(SP_MDP_WORKER),
                                 {&reply, 1},
                                 {req.id, SP_MDP_REQUEST_ID_SIZE},
                                 {"", 0}};
        for (size_t i = 5; i < 20; i++)
            frames[i] = sp_frame_str("part");
        send_frames(w->socket, frames, 20);
    }
    frames_t answer;
    int rc = client_recv(client, "itest.bigreply", &answer, 3000);
    Samspil__V1__ErrorReply *er =
        rc == 0 ? samspil__v1__error_reply__unpack(NULL, answer.size[3],
                                                   (const uint8_t *)answer.data[3])
                : NULL;
    bool ok = er && er->error && er->error->code == SAMSPIL__V1__ERROR_CODE__ERROR_CODE_INTERNAL &&
              strcmp(er->error->message, "worker reply has too many frames") == 0 &&
              strcmp(er->error->field, "") == 0;
    ITEST_CHECKF(ok, "a 20-frame worker REPLY: client gets ErrorReply internal", "rc %d message %s",
                 rc, er && er->error ? er->error->message : "(none)");
    if (er)
        samspil__v1__error_reply__free_unpacked(er, NULL);
    unsigned workers = 0, credit = 0, in_flight = 9, queued = 9;
    bool listed = service_status("itest.bigreply", &workers, &credit, &in_flight, &queued);
    ITEST_CHECKF(listed && workers == 1 && credit == 2 && in_flight == 0 && queued == 0,
                 "after a 20-frame REPLY mmi.status shows in_flight 0 and the full credit",
                 "listed %d workers %u credit %u in_flight %u queued %u", listed, workers, credit,
                 in_flight, queued);
    client_send(client, "itest.bigreply", "q2", 2);
    got = worker_take(w, 3000, &req) != NULL;
    if (got)
        worker_reply(w, req.id, "fine", 4);
    rc = client_recv(client, "itest.bigreply", &answer, 3000);
    ITEST_CHECK(got && rc == 0 && frame_is_str(&answer, 3, "fine"),
                "the next request to that worker is served");
    zmq_close(client);
    worker_destroy(w, true);
}

static void test_sigterm(void)
{
    worker_t *w = worker_new("itest.stop", "1");
    wait_mmi("itest.stop", "200", 3000);
    kill(g_broker, SIGTERM);
    int status = 0;
    pid_t rc = -1;
    int64_t deadline = now_ms() + 10000;
    while (now_ms() < deadline) {
        rc = waitpid(g_broker, &status, WNOHANG);
        if (rc != 0)
            break;
        sleep_pumping(10);
    }
    ITEST_CHECKF(rc == g_broker && WIFEXITED(status) && WEXITSTATUS(status) == 0,
                 "SIGTERM: broker exits with status 0", "rc %d status %d", (int)rc, status);
    if (rc == g_broker)
        g_broker = -1;
    sleep_pumping(50);
    ITEST_CHECK(w->disconnects >= 1, "SIGTERM: workers are sent DISCONNECT");
    worker_destroy(w, false);
}

int main(void)
{
    const char *home = itest_env("SAMSPIL_HOME");
    const char *bin = itest_env("SAMSPIL_BIN");
    signal(SIGPIPE, SIG_IGN);
    snprintf(g_home, sizeof g_home, "%s/itest-broker-%ld", home, (long)getpid());
    mkdir(home, 0755);
    if (mkdir(g_home, 0700) < 0 && errno != EEXIST) {
        fprintf(stderr, "test_broker: could not create %s: %s\n", g_home, strerror(errno));
        return 2;
    }
    /* ipc paths are limited to 107 bytes; use an abstract socket if the home is deep */
    if (strlen(g_home) + strlen("ipc:///run/broker.ipc") < 100)
        snprintf(g_endpoint, sizeof g_endpoint, "ipc://%s/run/broker.ipc", g_home);
    else
        snprintf(g_endpoint, sizeof g_endpoint, "ipc://@samspil-itest-broker-%ld", (long)getpid());
    g_ctx = zmq_ctx_new();
    start_broker(bin);
    bool up = wait_mmi("itest.nothing", "404", 5000);
    ITEST_CHECK(up, "broker starts and answers mmi.service");
    if (up) {
        test_mmi();
        test_route();
        test_spread();
        test_requeue();
        test_unavailable();
        test_worker_protocol_errors();
        test_garbage();
        test_body_limits();
        test_reply_too_many_frames();
        test_sigterm();
    }
    if (g_broker > 0) {
        kill(g_broker, SIGKILL);
        waitpid(g_broker, NULL, 0);
    }
    for (int i = 0; i < MAX_WORKERS; i++)
        if (g_workers[i])
            worker_destroy(g_workers[i], false);
    zmq_ctx_term(g_ctx);
    if (itest_failed_count) {
        char log[600];
        snprintf(log, sizeof log, "%s/broker.log", g_home);
        fprintf(stderr, "test_broker: broker log follows (%s)\n", log);
        FILE *f = fopen(log, "r");
        char line[1024];
        while (f && fgets(line, sizeof line, f))
            fputs(line, stderr);
        if (f)
            fclose(f);
    }
    nftw(g_home, remove_entry, 16, FTW_DEPTH | FTW_PHYS);
    return itest_done();
}
