/*
 * test_worker_client.c - the worker runtime and the client library against
 * a real broker and real samspil-echo processes, started by this test on an
 * endpoint of its own (home $SAMSPIL_HOME/itest-wc-<pid>, heartbeat 200 ms):
 * round trips, pipelining, malformed requests refused without costing
 * credit, a stopped worker dropped, a killed worker's requests requeued,
 * workers surviving a broker restart, SIGTERM exit 0.  The worker runtime's
 * own answers to requests it cannot take are checked against a fake broker
 * (a raw ROUTER socket), since the real broker refuses those first.
 * The home is removed after a clean run unless SAMSPIL_ITEST_KEEP is set.
 */
#include "itest.h"
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wcomment"
#include "sp_client.h"
#pragma GCC diagnostic pop
#include "samspil/v1/broker.pb-c.h"
#include "sp_log.h"
#include "sp_worker.h"

#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <limits.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <uv.h>
#include <zmq.h>

#define HEARTBEAT_MS "200"
#define PIPELINED 200
#define IN_FLIGHT_KILL 100
#define MAX_CHILDREN 16

static char s_home[PATH_MAX + 64];
static char s_endpoint[PATH_MAX + 128];
static const char *s_bin;
static pid_t s_children[MAX_CHILDREN];

static int64_t s_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void s_sleep_ms(int ms)
{
    struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
    while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
        ;
}

static void s_track(pid_t pid, bool add)
{
    for (int i = 0; i < MAX_CHILDREN; i++) {
        if (add && s_children[i] == 0) {
            s_children[i] = pid;
            return;
        }
        if (!add && s_children[i] == pid) {
            s_children[i] = 0;
            return;
        }
    }
}

/* Start $SAMSPIL_BIN/<program> with the test's environment, logging to
 * <home>/log/<name>.log.  Returns the pid, or -1. */
static pid_t s_spawn(const char *program, const char *name)
{
    char path[PATH_MAX], log[PATH_MAX + 160];
    snprintf(path, sizeof path, "%s/%s", s_bin, program);
    snprintf(log, sizeof log, "%s/log/%s.log", s_home, name);
    fflush(stdout);
    pid_t pid = fork();
    if (pid < 0)
        return -1;
    if (pid == 0) {
        int fd = open(log, O_WRONLY | O_CREAT | O_APPEND, 0600);
        if (fd >= 0) {
            dup2(fd, STDOUT_FILENO);
            dup2(fd, STDERR_FILENO);
            close(fd);
        }
        setenv("SAMSPIL_HOME", s_home, 1);
        setenv("SAMSPIL_BROKER", s_endpoint, 1);
        if (strncmp(s_endpoint, "ipc://", 6) != 0) /* else the broker's default is ours */
            setenv("SAMSPIL_BROKER_BIND", s_endpoint, 1);
        setenv("SAMSPIL_HEARTBEAT_MS", HEARTBEAT_MS, 1);
        setenv("SAMSPIL_LOG_LEVEL", "debug", 1);
        char *argv[] = {path, NULL};
        execv(path, argv);
        _exit(127);
    }
    s_track(pid, true);
    return pid;
}

/* Send `sig` and wait up to `timeout_ms` for the exit; SIGKILL after that.
 * Returns the wait status, or -1 if the process had to be killed. */
static int s_stop(pid_t pid, int sig, int timeout_ms)
{
    if (pid <= 0)
        return -1;
    kill(pid, sig);
    int status = 0;
    int64_t deadline = s_now_ms() + timeout_ms;
    for (;;) {
        pid_t got = waitpid(pid, &status, WNOHANG);
        if (got == pid) {
            s_track(pid, false);
            return status;
        }
        if (got < 0 || s_now_ms() > deadline)
            break;
        s_sleep_ms(10);
    }
    kill(pid, SIGKILL);
    waitpid(pid, &status, 0);
    s_track(pid, false);
    return -1;
}

static void s_cleanup_children(void)
{
    for (int i = 0; i < MAX_CHILDREN; i++) {
        if (s_children[i] > 0) {
            kill(s_children[i], SIGCONT);
            s_stop(s_children[i], SIGKILL, 2000);
        }
    }
}

static int s_rm(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    (void)st;
    (void)flag;
    (void)ftw;
    return remove(path);
}

/* Sanitizer reports (ASan, UBSan, LSan) in the logs of our processes:
 * tests/run-tests.sh scans only the suite's own logs. */
static int s_sanitizer_reports(void)
{
    static const char *const names[] = {"broker", "echo-a", "echo-b", "echo-c"};
    static const char *const markers[] = {"ERROR: AddressSanitizer",
                                          "runtime error:", "ERROR: LeakSanitizer"};
    int reports = 0;
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
        char path[PATH_MAX + 160], line[4096];
        snprintf(path, sizeof path, "%s/log/%s.log", s_home, names[i]);
        FILE *log = fopen(path, "r");
        if (!log)
            continue;
        while (fgets(line, sizeof line, log))
            for (size_t k = 0; k < sizeof markers / sizeof markers[0]; k++)
                if (strstr(line, markers[k])) {
                    printf("# sanitizer report in %s: %s", path, line);
                    reports++;
                }
        fclose(log);
    }
    return reports;
}

static sp_client_t *s_client(int timeout_ms, int retries)
{
    sp_client_t *client = sp_client_new(s_endpoint);
    if (!client) {
        fprintf(stderr, "itest: could not create a client on %s\n", s_endpoint);
        exit(2);
    }
    sp_client_set_timeout(client, timeout_ms);
    sp_client_set_retries(client, retries);
    return client;
}

/* Workers (and in-flight count, free credit) the broker reports for `service`, or -1. */
static int s_service_status(const char *service, unsigned *in_flight, unsigned *credit)
{
    sp_client_t *client = s_client(1000, 0);
    uint8_t *reply = NULL;
    size_t len = 0;
    int workers = -1;
    if (sp_client_call(client, "mmi.status", "", 0, &reply, &len) == 0) {
        Samspil__V1__BrokerStatus *status = samspil__v1__broker_status__unpack(NULL, len, reply);
        if (status) {
            workers = 0;
            for (size_t i = 0; i < status->n_services; i++) {
                if (strcmp(status->services[i]->name, service) == 0) {
                    workers = (int)status->services[i]->workers;
                    if (in_flight)
                        *in_flight = status->services[i]->in_flight;
                    if (credit)
                        *credit = status->services[i]->credit;
                }
            }
            samspil__v1__broker_status__free_unpacked(status, NULL);
        }
        free(reply);
    }
    sp_client_destroy(&client);
    return workers;
}

static int s_service_workers(const char *service, unsigned *in_flight)
{
    return s_service_status(service, in_flight, NULL);
}

static int s_echo_workers(unsigned *in_flight)
{
    return s_service_workers("samspil.echo", in_flight);
}

/* Wait until the broker reports `want` echo workers.  Returns the ms it took, or -1. */
static int s_wait_workers(int want, int timeout_ms)
{
    int64_t start = s_now_ms();
    while (s_now_ms() - start < timeout_ms) {
        if (s_echo_workers(NULL) == want)
            return (int)(s_now_ms() - start);
        s_sleep_ms(50);
    }
    return -1;
}

static uint8_t *s_pack_echo(uint64_t correlation_id, const char *payload, size_t *len)
{
    Samspil__V1__EchoRequest request = SAMSPIL__V1__ECHO_REQUEST__INIT;
    request.correlation_id = correlation_id;
    request.payload.data = (uint8_t *)payload;
    request.payload.len = strlen(payload);
    *len = samspil__v1__echo_request__get_packed_size(&request);
    uint8_t *packed = malloc(*len ? *len : 1);
    if (!packed)
        abort();
    samspil__v1__echo_request__pack(&request, packed);
    return packed;
}

/* One echo through sp_client_call; returns 1 if the reply matches. */
static int s_echo_once(sp_client_t *client, uint64_t correlation_id)
{
    char payload[32];
    snprintf(payload, sizeof payload, "p-%llu", (unsigned long long)correlation_id);
    size_t len;
    uint8_t *packed = s_pack_echo(correlation_id, payload, &len);
    uint8_t *reply = NULL;
    size_t reply_len = 0;
    int ok = 0;
    if (sp_client_call(client, "samspil.echo", packed, len, &reply, &reply_len) == 0) {
        Samspil__V1__EchoReply *out = samspil__v1__echo_reply__unpack(NULL, reply_len, reply);
        ok = out && !out->error && out->correlation_id == correlation_id &&
             out->payload.len == strlen(payload) &&
             memcmp(out->payload.data, payload, out->payload.len) == 0;
        if (out)
            samspil__v1__echo_reply__free_unpacked(out, NULL);
        free(reply);
    }
    free(packed);
    return ok;
}

/* Send `count` echo requests with correlation ids first..first+count-1
 * without waiting.  Returns 0 or -1. */
static int s_pipeline_send(sp_client_t *client, uint64_t first, int count)
{
    for (int i = 0; i < count; i++) {
        char payload[32];
        snprintf(payload, sizeof payload, "p-%llu", (unsigned long long)(first + (uint64_t)i));
        size_t len;
        uint8_t *packed = s_pack_echo(first + (uint64_t)i, payload, &len);
        int rc = sp_client_send(client, "samspil.echo", packed, len);
        free(packed);
        if (rc < 0)
            return -1;
    }
    return 0;
}

/* Collect replies to s_pipeline_send for up to `timeout_ms`.  Returns how
 * many distinct ids came back with their payload; *dupes counts ids answered
 * twice, *wrong replies that match nothing sent. */
static int s_pipeline_collect(sp_client_t *client, uint64_t first, int count, int timeout_ms,
                              int *dupes, int *wrong)
{
    bool *seen = calloc((size_t)count, sizeof *seen);
    if (!seen)
        abort();
    int answered = 0;
    *dupes = *wrong = 0;
    int64_t deadline = s_now_ms() + timeout_ms;
    while (answered < count) {
        int left = (int)(deadline - s_now_ms());
        if (left <= 0)
            break;
        uint8_t *reply = NULL;
        size_t len = 0;
        if (sp_client_recv(client, left, &reply, &len) < 0)
            break;
        Samspil__V1__EchoReply *out = samspil__v1__echo_reply__unpack(NULL, len, reply);
        free(reply);
        if (!out || out->error || out->correlation_id < first ||
            out->correlation_id >= first + (uint64_t)count) {
            (*wrong)++;
        } else {
            char payload[32];
            snprintf(payload, sizeof payload, "p-%llu", (unsigned long long)out->correlation_id);
            size_t index = (size_t)(out->correlation_id - first);
            if (out->payload.len != strlen(payload) ||
                memcmp(out->payload.data, payload, out->payload.len) != 0) {
                (*wrong)++;
            } else if (seen[index]) {
                (*dupes)++;
            } else {
                seen[index] = true;
                answered++;
            }
        }
        if (out)
            samspil__v1__echo_reply__free_unpacked(out, NULL);
    }
    free(seen);
    return answered;
}

/* --- an in-process worker whose handler answers later (from a timer) --- */

#define SLOW_SERVICE "samspil.itest-slow"
#define SLOW_CREDIT 4
#define SLOW_DELAY_MS 300

typedef struct {
    uv_loop_t loop;
    uv_async_t stop;
    void *ctx;
    sp_worker_t *worker;
    pthread_t thread;
    atomic_int handled;
    atomic_int principal_ok;  /* every request carried the dev operator principal */
    atomic_int max_in_flight; /* seen by the handler */
    atomic_llong stopped_at;  /* monotonic ms when done() was called, 0 before */
} s_slow_t;

static void s_slow_timer_closed(uv_handle_t *handle)
{
    free(handle);
}

#define SLOW_OVERSIZE_BODY "reply-oversize" /* asks for a reply larger than a frame may be */

static void s_slow_answer(uv_timer_t *timer)
{
    sp_request_t *request = timer->data;
    size_t len;
    const uint8_t *body = sp_request_body(request, &len);
    if (len == strlen(SLOW_OVERSIZE_BODY) && memcmp(body, SLOW_OVERSIZE_BODY, len) == 0) {
        size_t big = 2 * 1024 * 1024;
        uint8_t *data = calloc(1, big);
        if (!data)
            abort();
        sp_request_reply(&request, data, big);
        free(data);
        uv_close((uv_handle_t *)timer, s_slow_timer_closed);
        return;
    }
    uint8_t copy[64];
    if (len > sizeof copy)
        len = sizeof copy;
    memcpy(copy, body, len);
    sp_request_reply(&request, copy, len);
    uv_close((uv_handle_t *)timer, s_slow_timer_closed);
}

static void s_slow_handle(sp_request_t *request, void *arg)
{
    s_slow_t *slow = arg;
    const Samspil__V1__Principal *principal = sp_request_principal(request);
    if (!principal || !principal->all_tenants ||
        principal->role != SAMSPIL__V1__ROLE__ROLE_OPERATOR)
        atomic_store(&slow->principal_ok, 0);
    atomic_fetch_add(&slow->handled, 1);
    int in_flight = (int)sp_worker_in_flight(slow->worker);
    if (in_flight > atomic_load(&slow->max_in_flight))
        atomic_store(&slow->max_in_flight, in_flight);
    uv_timer_t *timer = malloc(sizeof *timer);
    if (!timer)
        abort();
    uv_timer_init(&slow->loop, timer);
    timer->data = request;
    uv_timer_start(timer, s_slow_answer, SLOW_DELAY_MS, 0);
}

static void s_slow_stopped(void *arg)
{
    s_slow_t *slow = arg;
    atomic_store(&slow->stopped_at, (long long)s_now_ms());
    uv_close((uv_handle_t *)&slow->stop, NULL);
    sp_worker_destroy(&slow->worker);
}

static void s_slow_on_stop(uv_async_t *async)
{
    s_slow_t *slow = async->data;
    sp_worker_stop(slow->worker, 5000, s_slow_stopped, slow);
}

static void *s_slow_thread(void *arg)
{
    s_slow_t *slow = arg;
    uv_run(&slow->loop, UV_RUN_DEFAULT);
    return NULL;
}

/* Start the worker on its own loop and thread (the socket stays on that
 * thread), connected to `endpoint`. */
static int s_slow_start(s_slow_t *slow, const char *endpoint)
{
    memset(slow, 0, sizeof *slow);
    atomic_store(&slow->principal_ok, 1);
    uv_loop_init(&slow->loop);
    uv_async_init(&slow->loop, &slow->stop, s_slow_on_stop);
    slow->stop.data = slow;
    slow->ctx = zmq_ctx_new();
    sp_worker_config_t config = {
        .endpoint = endpoint,
        .service = SLOW_SERVICE,
        .credit = SLOW_CREDIT,
        .heartbeat_ms = atoi(HEARTBEAT_MS),
        .handler = s_slow_handle,
        .handler_arg = slow,
    };
    slow->worker = sp_worker_new(&slow->loop, slow->ctx, &config);
    if (!slow->worker || sp_worker_start(slow->worker) < 0)
        return -1;
    return pthread_create(&slow->thread, NULL, s_slow_thread, slow) == 0 ? 0 : -1;
}

static void s_slow_join(s_slow_t *slow)
{
    pthread_join(slow->thread, NULL);
    uv_loop_close(&slow->loop);
    zmq_ctx_term(slow->ctx);
}

/* Requests in flight when the worker is told to stop are still answered,
 * the stop completes right after the last reply, and the broker then
 * forgets the worker. */
static void s_test_graceful_stop(void)
{
    s_slow_t slow;
    if (!ITEST_CHECK(s_slow_start(&slow, s_endpoint) == 0,
                     "in-process worker with async replies starts"))
        return;
    int64_t start = s_now_ms();
    int workers = 0;
    while ((workers = s_service_workers(SLOW_SERVICE, NULL)) != 1 && s_now_ms() - start < 5000)
        s_sleep_ms(20);
    ITEST_CHECKF(workers == 1, "in-process worker registers", "workers %d", workers);

    /* a raw MDP client sending a body in two frames: the worker joins them */
    void *ctx = zmq_ctx_new();
    void *raw = zmq_socket(ctx, ZMQ_DEALER);
    int linger = 0, timeout = 3000;
    zmq_setsockopt(raw, ZMQ_LINGER, &linger, sizeof linger);
    zmq_setsockopt(raw, ZMQ_RCVTIMEO, &timeout, sizeof timeout);
    zmq_connect(raw, s_endpoint);
    zmq_send(raw, "", 0, ZMQ_SNDMORE);
    zmq_send(raw, "MDPC01", 6, ZMQ_SNDMORE);
    zmq_send(raw, SLOW_SERVICE, strlen(SLOW_SERVICE), ZMQ_SNDMORE);
    zmq_send(raw, "two-", 4, ZMQ_SNDMORE);
    zmq_send(raw, "frames", 6, 0);
    char frames[4][32];
    int sizes[4] = {-1, -1, -1, -1}, nframes = 0, more = 1;
    while (more && nframes < 4) {
        sizes[nframes] = zmq_recv(raw, frames[nframes], sizeof frames[nframes], 0);
        size_t more_size = sizeof more;
        if (sizes[nframes] < 0 || zmq_getsockopt(raw, ZMQ_RCVMORE, &more, &more_size) < 0)
            break;
        nframes++;
    }
    ITEST_CHECKF(nframes == 4 && sizes[3] == 10 && memcmp(frames[3], "two-frames", 10) == 0,
                 "a body sent in two frames reaches the handler joined", "frames %d, body size %d",
                 nframes, sizes[3]);
    zmq_close(raw);
    zmq_ctx_term(ctx);

    sp_client_t *client = s_client(3000, 0);
    char body[SLOW_CREDIT][24];
    for (int i = 0; i < SLOW_CREDIT; i++) {
        snprintf(body[i], sizeof body[i], "slow-%d", i);
        sp_client_send(client, SLOW_SERVICE, body[i], strlen(body[i]));
    }
    while (atomic_load(&slow.handled) < SLOW_CREDIT + 1 && s_now_ms() - start < 5000)
        s_sleep_ms(5);
    int64_t stop_at = s_now_ms();
    uv_async_send(&slow.stop);
    int answered = 0;
    for (int i = 0; i < SLOW_CREDIT; i++) {
        uint8_t *reply = NULL;
        size_t len = 0;
        if (sp_client_recv(client, 3000, &reply, &len) < 0)
            break;
        for (int k = 0; k < SLOW_CREDIT; k++)
            if (len == strlen(body[k]) && memcmp(reply, body[k], len) == 0)
                answered++;
        free(reply);
    }
    s_slow_join(&slow);
    long long stopped = atomic_load(&slow.stopped_at) - stop_at;
    ITEST_CHECKF(answered == SLOW_CREDIT && atomic_load(&slow.max_in_flight) == SLOW_CREDIT,
                 "requests in flight at stop are answered (async replies)",
                 "answered %d of %d, max in flight %d", answered, SLOW_CREDIT,
                 atomic_load(&slow.max_in_flight));
    ITEST_CHECKF(atomic_load(&slow.stopped_at) > 0 && stopped < SLOW_DELAY_MS + 1000,
                 "stop completes right after the last reply", "took %lld ms", stopped);
    printf("# graceful stop with %d in flight took %lld ms (replies due after %d ms)\n",
           SLOW_CREDIT, stopped, SLOW_DELAY_MS);
    ITEST_CHECK(atomic_load(&slow.principal_ok), "requests carry the broker's principal");
    workers = s_service_workers(SLOW_SERVICE, NULL);
    ITEST_CHECKF(workers <= 0, "broker forgets the stopped worker", "workers %d", workers);
    sp_client_destroy(&client);
}

/* --- malformed requests through the real broker --- */

/* Requests no worker could receive whole, sent raw (sp_client sends one
 * body frame): every one is answered invalid_argument on field "body", and
 * afterwards echoes work and the broker shows nothing in flight and the
 * credit it showed before. */
static void s_test_malformed_requests(void)
{
    unsigned credit_before = 0, in_flight = 9, credit_after = 0;
    int workers = s_service_status("samspil.echo", &in_flight, &credit_before);
    ITEST_CHECKF(workers == 2 && in_flight == 0 && credit_before > 0,
                 "before malformed requests: two idle echo workers", "workers %d in_flight %u",
                 workers, in_flight);

    void *ctx = zmq_ctx_new();
    void *raw = zmq_socket(ctx, ZMQ_DEALER);
    int linger = 0, timeout = 5000;
    zmq_setsockopt(raw, ZMQ_LINGER, &linger, sizeof linger);
    zmq_setsockopt(raw, ZMQ_RCVTIMEO, &timeout, sizeof timeout);
    zmq_connect(raw, s_endpoint);
    const int count = 40;
    size_t part = 700000;
    char *big = calloc(1, part);
    if (!big)
        abort();
    for (int i = 0; i < count; i++) {
        zmq_send(raw, "", 0, ZMQ_SNDMORE);
        zmq_send(raw, "MDPC01", 6, ZMQ_SNDMORE);
        zmq_send(raw, "samspil.echo", 12, ZMQ_SNDMORE);
        if (i % 3 == 0) { /* 12 body frames: one more than a worker receives */
            for (int k = 0; k < 12; k++)
                zmq_send(raw, "b", 1, k + 1 < 12 ? ZMQ_SNDMORE : 0);
        } else if (i % 3 == 1) { /* 30 body frames: more than the broker receives */
            for (int k = 0; k < 30; k++)
                zmq_send(raw, "b", 1, k + 1 < 30 ? ZMQ_SNDMORE : 0);
        } else { /* 1.4 MB of body in two frames */
            zmq_send(raw, big, part, ZMQ_SNDMORE);
            zmq_send(raw, big, part, 0);
        }
    }
    free(big);
    int refused = 0, other = 0;
    for (int i = 0; i < count; i++) {
        zmq_msg_t frames[5];
        int n = 0, more = 1;
        while (more) {
            zmq_msg_t part_msg;
            zmq_msg_init(&part_msg);
            if (zmq_msg_recv(&part_msg, raw, 0) < 0) {
                zmq_msg_close(&part_msg);
                break;
            }
            more = zmq_msg_more(&part_msg);
            if (n < 5)
                frames[n++] = part_msg;
            else
                zmq_msg_close(&part_msg);
        }
        if (n == 0)
            break; /* timed out */
        Samspil__V1__EchoReply *out =
            n == 4 ? samspil__v1__echo_reply__unpack(NULL, zmq_msg_size(&frames[3]),
                                                     zmq_msg_data(&frames[3]))
                   : NULL;
        if (out && out->error &&
            out->error->code == SAMSPIL__V1__ERROR_CODE__ERROR_CODE_INVALID_ARGUMENT &&
            strcmp(out->error->field, "body") == 0)
            refused++;
        else
            other++;
        if (out)
            samspil__v1__echo_reply__free_unpacked(out, NULL);
        for (int k = 0; k < n; k++)
            zmq_msg_close(&frames[k]);
    }
    zmq_close(raw);
    zmq_ctx_term(ctx);
    ITEST_CHECKF(refused == count && other == 0,
                 "40 malformed requests (too many frames, oversize) answered invalid_argument "
                 "on field body",
                 "refused %d other %d of %d", refused, other, count);

    sp_client_t *client = s_client(3000, 0);
    int ok = 0;
    for (int i = 0; i < 10; i++)
        ok += s_echo_once(client, 3000 + (uint64_t)i);
    sp_client_destroy(&client);
    ITEST_CHECKF(ok == 10, "echo requests succeed after malformed requests", "%d of 10", ok);
    in_flight = 9;
    workers = s_service_status("samspil.echo", &in_flight, &credit_after);
    ITEST_CHECKF(workers == 2 && in_flight == 0 && credit_after == credit_before,
                 "after malformed requests mmi.status shows in_flight 0 and the full credit",
                 "workers %d in_flight %u credit %u (before %u)", workers, in_flight, credit_after,
                 credit_before);
}

/* --- the worker runtime against a fake broker --- */

/* Receive one message on the fake broker's ROUTER (identity first) within
 * `timeout_ms`; frames beyond `max` are dropped.  Returns the count, or 0. */
static int s_fake_recv(void *router, zmq_msg_t *frames, int max, int timeout_ms)
{
    zmq_pollitem_t item = {router, 0, ZMQ_POLLIN, 0};
    if (zmq_poll(&item, 1, timeout_ms) <= 0)
        return 0;
    int n = 0, more = 1;
    while (more) {
        zmq_msg_t part;
        zmq_msg_init(&part);
        if (zmq_msg_recv(&part, router, 0) < 0) {
            zmq_msg_close(&part);
            break;
        }
        more = zmq_msg_more(&part);
        if (n < max)
            frames[n++] = part;
        else
            zmq_msg_close(&part);
    }
    return n;
}

static void s_fake_close(zmq_msg_t *frames, int n)
{
    for (int i = 0; i < n; i++)
        zmq_msg_close(&frames[i]);
}

static int s_fake_command(const zmq_msg_t *frames, int n)
{
    if (n < 4 || zmq_msg_size((zmq_msg_t *)&frames[3]) != 1)
        return -1;
    return ((const uint8_t *)zmq_msg_data((zmq_msg_t *)&frames[3]))[0];
}

static void s_fake_send_command(void *router, const void *identity, size_t identity_size,
                                uint8_t command)
{
    zmq_send(router, identity, identity_size, ZMQ_SNDMORE);
    zmq_send(router, "", 0, ZMQ_SNDMORE);
    zmq_send(router, "SPW01", 5, ZMQ_SNDMORE);
    zmq_send(router, &command, 1, 0);
}

/* Send REQUEST id | principal | body[0..nbody-1] (sizes[]; bytes from `data`). */
static void s_fake_request(void *router, const void *identity, size_t identity_size, uint8_t id,
                           const void *principal, size_t principal_size, const char *data,
                           const size_t *sizes, int nbody)
{
    uint8_t command = 0x02;
    uint8_t request_id[8] = {0, 0, 0, 0, 0, 0, 0, id};
    zmq_send(router, identity, identity_size, ZMQ_SNDMORE);
    zmq_send(router, "", 0, ZMQ_SNDMORE);
    zmq_send(router, "SPW01", 5, ZMQ_SNDMORE);
    zmq_send(router, &command, 1, ZMQ_SNDMORE);
    zmq_send(router, request_id, sizeof request_id, ZMQ_SNDMORE);
    zmq_send(router, principal, principal_size, nbody ? ZMQ_SNDMORE : 0);
    for (int i = 0; i < nbody; i++)
        zmq_send(router, data, sizes[i], i + 1 < nbody ? ZMQ_SNDMORE : 0);
}

typedef struct {
    int id;   /* last byte of the request id, -1 if no REPLY came */
    int code; /* ErrorReply code, -1 if the body is not one with an error */
    char field[16];
    char message[96];
    char body[32]; /* the body, when short */
    size_t size;
} s_fake_reply_t;

/* Wait for the worker's next REPLY, keeping it alive with HEARTBEATs. */
static void s_fake_reply(void *router, const void *identity, size_t identity_size, int timeout_ms,
                         s_fake_reply_t *out)
{
    memset(out, 0, sizeof *out);
    out->id = out->code = -1;
    int64_t deadline = s_now_ms() + timeout_ms, beat = 0;
    while (s_now_ms() < deadline) {
        if (s_now_ms() - beat >= 100) {
            s_fake_send_command(router, identity, identity_size, 0x04);
            beat = s_now_ms();
        }
        zmq_msg_t frames[8];
        int n = s_fake_recv(router, frames, 8, 50);
        if (n == 7 && s_fake_command(frames, n) == 0x03 && zmq_msg_size(&frames[4]) == 8) {
            out->id = ((const uint8_t *)zmq_msg_data(&frames[4]))[7];
            out->size = zmq_msg_size(&frames[6]);
            memcpy(out->body, zmq_msg_data(&frames[6]),
                   out->size < sizeof out->body - 1 ? out->size : sizeof out->body - 1);
            Samspil__V1__ErrorReply *er =
                samspil__v1__error_reply__unpack(NULL, out->size, zmq_msg_data(&frames[6]));
            if (er && er->error) {
                out->code = er->error->code;
                snprintf(out->field, sizeof out->field, "%s", er->error->field);
                snprintf(out->message, sizeof out->message, "%s", er->error->message);
            }
            if (er)
                samspil__v1__error_reply__free_unpacked(er, NULL);
            s_fake_close(frames, n);
            return;
        }
        s_fake_close(frames, n);
    }
}

/* Requests the worker cannot take are answered with an ErrorReply (so the
 * broker frees the credit and the client hears back), never dropped; the
 * handler never sees them, and the worker goes on serving. */
static void s_test_worker_refusals(void)
{
    char endpoint[PATH_MAX + 128];
    if (strncmp(s_endpoint, "ipc://", 6) == 0)
        snprintf(endpoint, sizeof endpoint, "ipc://%s/run/fake-broker.ipc", s_home);
    else
        snprintf(endpoint, sizeof endpoint, "tcp://127.0.0.1:%ld",
                 20000 + ((long)getpid() + 1) % 20000);
    void *ctx = zmq_ctx_new();
    void *router = zmq_socket(ctx, ZMQ_ROUTER);
    int linger = 0;
    zmq_setsockopt(router, ZMQ_LINGER, &linger, sizeof linger);
    if (!ITEST_CHECKF(zmq_bind(router, endpoint) == 0, "fake broker binds", "%s: %s", endpoint,
                      zmq_strerror(zmq_errno()))) {
        zmq_close(router);
        zmq_ctx_term(ctx);
        return;
    }
    sp_log_set_level(SP_LOG_ERROR); /* the refusals below are logged at warn */
    s_slow_t slow;
    if (!ITEST_CHECK(s_slow_start(&slow, endpoint) == 0, "in-process worker starts on a fake "
                                                         "broker")) {
        zmq_close(router);
        zmq_ctx_term(ctx);
        return;
    }
    /* READY */
    uint8_t identity[256];
    size_t identity_size = 0;
    int64_t deadline = s_now_ms() + 5000;
    while (!identity_size && s_now_ms() < deadline) {
        zmq_msg_t frames[8];
        int n = s_fake_recv(router, frames, 8, 100);
        if (n == 6 && s_fake_command(frames, n) == 0x01 && zmq_msg_size(&frames[0]) <= 256) {
            identity_size = zmq_msg_size(&frames[0]);
            memcpy(identity, zmq_msg_data(&frames[0]), identity_size);
        }
        s_fake_close(frames, n);
    }
    if (ITEST_CHECK(identity_size > 0, "worker sends READY to the fake broker")) {
        Samspil__V1__Principal principal = SAMSPIL__V1__PRINCIPAL__INIT;
        principal.client_id = (char *)"dev-operator";
        principal.role = SAMSPIL__V1__ROLE__ROLE_OPERATOR;
        principal.all_tenants = true;
        uint8_t packed[64];
        size_t packed_size = samspil__v1__principal__get_packed_size(&principal);
        samspil__v1__principal__pack(&principal, packed);
        size_t part = 700000;
        char *data = calloc(1, part);
        if (!data)
            abort();
        size_t ones[20], halves[2] = {part, part};
        for (int i = 0; i < 20; i++)
            ones[i] = 1;
        s_fake_reply_t r;

        s_fake_request(router, identity, identity_size, 1, packed, packed_size, data, ones, 20);
        s_fake_reply(router, identity, identity_size, 3000, &r);
        ITEST_CHECKF(r.id == 1 && r.code == SAMSPIL__V1__ERROR_CODE__ERROR_CODE_INVALID_ARGUMENT &&
                         strcmp(r.field, "body") == 0 &&
                         strcmp(r.message, "request has more than 11 body frames; at most 11") == 0,
                     "worker answers a REQUEST with too many frames invalid_argument",
                     "id %d code %d field %s message %s", r.id, r.code, r.field, r.message);

        s_fake_request(router, identity, identity_size, 2, packed, packed_size, data, halves, 2);
        s_fake_reply(router, identity, identity_size, 3000, &r);
        ITEST_CHECKF(r.id == 2 && r.code == SAMSPIL__V1__ERROR_CODE__ERROR_CODE_INVALID_ARGUMENT &&
                         strcmp(r.field, "body") == 0 &&
                         strcmp(r.message, "request body is 1400000 bytes; at most 1048576") == 0,
                     "worker answers a REQUEST with an oversize body invalid_argument",
                     "id %d code %d field %s message %s", r.id, r.code, r.field, r.message);

        s_fake_request(router, identity, identity_size, 3, packed, packed_size, data, ones, 0);
        s_fake_reply(router, identity, identity_size, 3000, &r);
        ITEST_CHECKF(r.id == 3 && r.code == SAMSPIL__V1__ERROR_CODE__ERROR_CODE_INVALID_ARGUMENT &&
                         strcmp(r.field, "body") == 0,
                     "worker answers a REQUEST without a body frame invalid_argument",
                     "id %d code %d field %s message %s", r.id, r.code, r.field, r.message);

        s_fake_request(router, identity, identity_size, 4, "\xff", 1, data, ones, 1);
        s_fake_reply(router, identity, identity_size, 3000, &r);
        ITEST_CHECKF(r.id == 4 && r.code == SAMSPIL__V1__ERROR_CODE__ERROR_CODE_INTERNAL,
                     "worker answers a REQUEST with an undecodable principal internal",
                     "id %d code %d message %s", r.id, r.code, r.message);
        ITEST_CHECKF(atomic_load(&slow.handled) == 0,
                     "the handler never sees a request the worker refused", "handled %d",
                     atomic_load(&slow.handled));

        size_t oversize_len = strlen(SLOW_OVERSIZE_BODY);
        s_fake_request(router, identity, identity_size, 5, packed, packed_size, SLOW_OVERSIZE_BODY,
                       &oversize_len, 1);
        s_fake_reply(router, identity, identity_size, 3000, &r);
        ITEST_CHECKF(r.id == 5 && r.code == SAMSPIL__V1__ERROR_CODE__ERROR_CODE_INTERNAL &&
                         strcmp(r.message, "reply is 2097152 bytes; at most 1048576") == 0,
                     "a reply larger than a frame may be is sent as an internal ErrorReply",
                     "id %d code %d message %s", r.id, r.code, r.message);

        size_t fine_len = 4;
        s_fake_request(router, identity, identity_size, 6, packed, packed_size, "fine", &fine_len,
                       1);
        s_fake_reply(router, identity, identity_size, 3000, &r);
        ITEST_CHECKF(r.id == 6 && r.size == 4 && memcmp(r.body, "fine", 4) == 0,
                     "the worker goes on serving after refusing requests", "id %d size %zu", r.id,
                     r.size);
        free(data);
    }
    /* stop: answer the worker's DISCONNECT (and probe) with DISCONNECT */
    uv_async_send(&slow.stop);
    deadline = s_now_ms() + 5000;
    while (atomic_load(&slow.stopped_at) == 0 && s_now_ms() < deadline) {
        zmq_msg_t frames[8];
        int n = s_fake_recv(router, frames, 8, 20);
        int command = s_fake_command(frames, n);
        if (command == 0x04 || command == 0x05)
            s_fake_send_command(router, zmq_msg_data(&frames[0]), zmq_msg_size(&frames[0]), 0x05);
        s_fake_close(frames, n);
    }
    s_slow_join(&slow);
    ITEST_CHECK(atomic_load(&slow.stopped_at) > 0, "worker on the fake broker stops");
    sp_log_set_level(SP_LOG_WARN);
    zmq_close(router);
    zmq_ctx_term(ctx);
}

static void s_setup(void)
{
    const char *base = itest_env("SAMSPIL_HOME");
    s_bin = itest_env("SAMSPIL_BIN");
    char real[PATH_MAX];
    if (!realpath(base, real)) {
        fprintf(stderr, "itest: SAMSPIL_HOME %s: %s\n", base, strerror(errno));
        exit(2);
    }
    snprintf(s_home, sizeof s_home, "%s/itest-wc-%ld", real, (long)getpid());
    char dir[PATH_MAX + 80];
    mkdir(s_home, 0700);
    snprintf(dir, sizeof dir, "%s/run", s_home);
    mkdir(dir, 0700);
    snprintf(dir, sizeof dir, "%s/log", s_home);
    mkdir(dir, 0700);
    /* a unix socket path must fit in sun_path (108 bytes): fall back to tcp */
    if (strlen(s_home) + strlen("/run/broker.ipc") < 100)
        snprintf(s_endpoint, sizeof s_endpoint, "ipc://%s/run/broker.ipc", s_home);
    else
        snprintf(s_endpoint, sizeof s_endpoint, "tcp://127.0.0.1:%ld",
                 20000 + (long)getpid() % 20000);
    atexit(s_cleanup_children);
}

int main(void)
{
    setvbuf(stdout, NULL, _IOLBF, 0);
    sp_log_init("itest-wc");
    sp_log_set_level(SP_LOG_WARN); /* the in-process worker's info lines are noise here */
    /* a private broker in plain text: it, its echo workers and this
     * process's clients and worker play raw plain-text peers too */
    setenv("SAMSPIL_PLAINTEXT", "1", 1);
    s_setup();
    pid_t broker = s_spawn("samspil-broker", "broker");
    pid_t echo_a = s_spawn("samspil-echo", "echo-a");
    pid_t echo_b = s_spawn("samspil-echo", "echo-b");
    itest_check(broker > 0 && echo_a > 0 && echo_b > 0, "broker and two echo workers started",
                NULL);

    int waited = s_wait_workers(2, 10000);
    if (!ITEST_CHECKF(waited >= 0, "mmi.status shows two echo workers", "after 10 s: %d",
                      s_echo_workers(NULL)))
        goto done;

    sp_client_t *client = s_client(3000, 2);

    /* mmi.service: RFC 8 text answers */
    uint8_t *reply = NULL;
    size_t len = 0;
    int rc = sp_client_call(client, "mmi.service", "samspil.echo", 12, &reply, &len);
    ITEST_CHECKF(rc == 0 && len == 3 && memcmp(reply, "200", 3) == 0,
                 "mmi.service knows samspil.echo", "rc %d len %zu", rc, len);
    free(reply);
    reply = NULL;

    /* raw round trip */
    ITEST_CHECK(s_echo_once(client, 42), "echo round trip through sp_client_call");

    /* typed round trip */
    Samspil__V1__EchoRequest request = SAMSPIL__V1__ECHO_REQUEST__INIT;
    request.correlation_id = 43;
    request.payload.data = (uint8_t *)"typed";
    request.payload.len = 5;
    ProtobufCMessage *typed = NULL;
    rc = sp_client_call_pb(client, "samspil.echo", &request.base,
                           &samspil__v1__echo_reply__descriptor, &typed);
    Samspil__V1__EchoReply *echo = (Samspil__V1__EchoReply *)typed;
    ITEST_CHECKF(rc == 0 && echo && !echo->error && echo->correlation_id == 43 &&
                     echo->payload.len == 5 && memcmp(echo->payload.data, "typed", 5) == 0,
                 "echo round trip through sp_client_call_pb", "rc %d errno %d", rc, errno);
    if (typed)
        protobuf_c_message_free_unpacked(typed, NULL);

    /* a body that is not an EchoRequest: invalid_argument on field "body" */
    rc = sp_client_call(client, "samspil.echo", "\xff\xff\xff", 3, &reply, &len);
    echo = rc == 0 ? samspil__v1__echo_reply__unpack(NULL, len, reply) : NULL;
    ITEST_CHECKF(echo && echo->error &&
                     echo->error->code == SAMSPIL__V1__ERROR_CODE__ERROR_CODE_INVALID_ARGUMENT &&
                     strcmp(echo->error->field, "body") == 0,
                 "undecodable body gets invalid_argument on field body", "rc %d", rc);
    if (echo)
        samspil__v1__echo_reply__free_unpacked(echo, NULL);
    free(reply);
    reply = NULL;

    s_test_malformed_requests();

    /* pipelining */
    int dupes, wrong;
    int64_t start = s_now_ms();
    rc = s_pipeline_send(client, 1000, PIPELINED);
    int answered = s_pipeline_collect(client, 1000, PIPELINED, 10000, &dupes, &wrong);
    ITEST_CHECKF(rc == 0 && answered == PIPELINED && dupes == 0 && wrong == 0,
                 "200 pipelined requests all answered with matching correlation ids",
                 "answered %d dupes %d wrong %d", answered, dupes, wrong);
    printf("# %d pipelined echoes in %lld ms\n", PIPELINED, (long long)(s_now_ms() - start));

    /* a stopped worker is dropped; the other one serves everything */
    kill(echo_a, SIGSTOP);
    waited = s_wait_workers(1, 5000);
    ITEST_CHECKF(waited >= 0, "broker drops a stopped worker", "workers %d", s_echo_workers(NULL));
    printf("# stopped worker dropped after %d ms\n", waited);
    int ok = 0;
    for (int i = 0; i < 20; i++)
        ok += s_echo_once(client, 2000 + (uint64_t)i);
    ITEST_CHECKF(ok == 20, "requests answered by the remaining worker", "%d of 20", ok);
    kill(echo_a, SIGCONT);
    waited = s_wait_workers(2, 10000);
    ITEST_CHECKF(waited >= 0, "a resumed worker registers again", "workers %d",
                 s_echo_workers(NULL));
    printf("# resumed worker back after %d ms\n", waited);

    /* kill -9 a worker holding requests: the broker requeues them */
    kill(echo_a, SIGSTOP);
    sp_client_t *batch = s_client(3000, 0);
    rc = s_pipeline_send(batch, 5000, IN_FLIGHT_KILL);
    s_sleep_ms(100);
    unsigned in_flight = 0;
    s_echo_workers(&in_flight);
    printf("# broker reports %u echo requests in flight before kill -9\n", in_flight);
    s_stop(echo_a, SIGKILL, 2000);
    echo_a = 0;
    answered = s_pipeline_collect(batch, 5000, IN_FLIGHT_KILL, 15000, &dupes, &wrong);
    ITEST_CHECKF(rc == 0 && in_flight > 0 && answered == IN_FLIGHT_KILL && wrong == 0,
                 "every request answered after kill -9 of a worker holding some",
                 "in flight %u answered %d of %d dupes %d wrong %d", in_flight, answered,
                 IN_FLIGHT_KILL, dupes, wrong);
    sp_client_destroy(&batch);
    pid_t echo_c = s_spawn("samspil-echo", "echo-c");
    ITEST_CHECK(s_wait_workers(2, 10000) >= 0, "a replacement worker registers");

    /* broker restart on the same endpoint: workers come back by themselves */
    s_stop(broker, SIGKILL, 2000);
    broker = s_spawn("samspil-broker", "broker");
    start = s_now_ms();
    sp_client_t *retry = s_client(500, 0);
    ok = 0;
    while (!ok && s_now_ms() - start < 20000) {
        ok = s_echo_once(retry, 7000);
        if (!ok) {
            sp_client_destroy(&retry);
            retry = s_client(500, 0);
            s_sleep_ms(100);
        }
    }
    sp_client_destroy(&retry);
    int64_t took = s_now_ms() - start;
    ITEST_CHECKF(ok && took < 10000, "requests work again after a broker restart",
                 "ok %d after %lld ms", ok, (long long)took);
    printf("# first echo after broker restart: %lld ms\n", (long long)took);
    waited = s_wait_workers(2, 10000);
    ITEST_CHECKF(waited >= 0, "both workers registered with the new broker", "workers %d",
                 s_echo_workers(NULL));
    ok = 0;
    for (int i = 0; i < 20; i++)
        ok += s_echo_once(client, 8000 + (uint64_t)i);
    ITEST_CHECKF(ok == 20, "the old client works with the new broker", "%d of 20", ok);
    sp_client_destroy(&client);

    s_test_graceful_stop();
    s_test_worker_refusals();

    /* SIGTERM: graceful exit 0 */
    int status = s_stop(echo_b, SIGTERM, 7000);
    ITEST_CHECKF(status >= 0 && WIFEXITED(status) && WEXITSTATUS(status) == 0,
                 "echo exits 0 on SIGTERM", "status %d", status);
    echo_b = 0;
    status = s_stop(echo_c, SIGINT, 7000);
    ITEST_CHECKF(status >= 0 && WIFEXITED(status) && WEXITSTATUS(status) == 0,
                 "echo exits 0 on SIGINT", "status %d", status);
    ITEST_CHECK(s_wait_workers(0, 5000) >= 0, "broker forgets workers that disconnected");

done:
    if (echo_a > 0)
        s_stop(echo_a, SIGKILL, 2000);
    if (echo_b > 0)
        s_stop(echo_b, SIGKILL, 2000);
    int broker_status = s_stop(broker, SIGTERM, 5000);
    ITEST_CHECKF(broker_status >= 0 && WIFEXITED(broker_status) && WEXITSTATUS(broker_status) == 0,
                 "broker exits 0 on SIGTERM", "status %d", broker_status);
    s_cleanup_children();
    int reports = s_sanitizer_reports();
    ITEST_CHECKF(reports == 0, "no sanitizer report in the logs of the processes started here",
                 "%d report(s) in %s/log", reports, s_home);
    const char *keep = getenv("SAMSPIL_ITEST_KEEP");
    if (itest_failed_count == 0 && !(keep && *keep))
        nftw(s_home, s_rm, 16, FTW_DEPTH | FTW_PHYS);
    else
        printf("# logs kept in %s/log\n", s_home);
    return itest_done();
}
