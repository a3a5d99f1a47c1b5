/*
 * test_events_broker.c - integration test of the broker's event bus (XSUB
 * in, XPUB out) over real ZeroMQ sockets.  Starts its own samspil-broker on
 * private endpoints under $SAMSPIL_HOME, plays a publisher (PUB connected to
 * events-in) and subscribers (SUB connected to events-out), and checks
 * subscription propagation, fan-out by topic prefix, that malformed event
 * messages are dropped and counted while the broker keeps forwarding and
 * answering, and that publishers and subscribers get going again after the
 * broker is killed and restarted.
 */
#include "itest.h"
#include "samspil/v1/broker.pb-c.h"
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

#define MAX_FRAMES 8
#define MAX_KEEP 256 /* bytes of each received frame kept for checks */
#define JOIN_MS 5000 /* bounded wait for a subscription to reach the publisher */

static void *g_ctx;
static char g_home[400];
static char g_broker_ep[512], g_in_ep[512], g_out_ep[512];
static pid_t g_broker = -1;
static const char *g_bin;

static int64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* --- messages */

typedef struct {
    size_t count;
    size_t size[MAX_FRAMES];
    char data[MAX_FRAMES][MAX_KEEP];
} msg_t;

static int send_parts(void *socket, const char *const *parts, const size_t *sizes, size_t count)
{
    for (size_t i = 0; i < count; i++)
        if (zmq_send(socket, parts[i], sizes[i], i + 1 < count ? ZMQ_SNDMORE : 0) < 0)
            return -1;
    return 0;
}

/* Publish [topic][body]. */
static int publish(void *pub, const char *topic, const char *body)
{
    const char *parts[] = {topic, body};
    size_t sizes[] = {strlen(topic), strlen(body)};
    return send_parts(pub, parts, sizes, 2);
}

/* Receive one whole message without waiting (frames cut to MAX_KEEP bytes). */
static int recv_msg(void *socket, msg_t *out)
{
    out->count = 0;
    for (;;) {
        zmq_msg_t part;
        zmq_msg_init(&part);
        if (zmq_msg_recv(&part, socket, out->count ? 0 : ZMQ_DONTWAIT) < 0) {
            zmq_msg_close(&part);
            return -1;
        }
        if (out->count < MAX_FRAMES) {
            size_t n = zmq_msg_size(&part);
            out->size[out->count] = n;
            memcpy(out->data[out->count], zmq_msg_data(&part), n < MAX_KEEP ? n : MAX_KEEP);
            out->count++;
        }
        int more = zmq_msg_more(&part);
        zmq_msg_close(&part);
        if (!more)
            return 0;
    }
}

static int wait_msg(void *socket, msg_t *out, int timeout_ms)
{
    int64_t deadline = now_ms() + timeout_ms;
    for (;;) {
        if (recv_msg(socket, out) == 0)
            return 0;
        int64_t left = deadline - now_ms();
        if (left <= 0)
            return -1;
        zmq_pollitem_t item = {socket, 0, ZMQ_POLLIN, 0};
        zmq_poll(&item, 1, left < 10 ? (long)left : 10);
    }
}

static bool frame_is(const msg_t *m, size_t i, const char *str)
{
    size_t n = strlen(str);
    return i < m->count && m->size[i] == n && memcmp(m->data[i], str, n) == 0;
}

/* True if `m` is exactly the event [topic][body]. */
static bool is_event(const msg_t *m, const char *topic, const char *body)
{
    return m->count == 2 && frame_is(m, 0, topic) && frame_is(m, 1, body);
}

/* --- sockets */

static void *new_socket(int type, const char *endpoint)
{
    void *s = zmq_socket(g_ctx, type);
    int linger = 0, ivl = 50, ivl_max = 500;
    zmq_setsockopt(s, ZMQ_LINGER, &linger, sizeof linger);
    zmq_setsockopt(s, ZMQ_RECONNECT_IVL, &ivl, sizeof ivl);
    zmq_setsockopt(s, ZMQ_RECONNECT_IVL_MAX, &ivl_max, sizeof ivl_max);
    if (zmq_connect(s, endpoint) < 0) {
        fprintf(stderr, "test_events_broker: could not connect to %s: %s\n", endpoint,
                zmq_strerror(zmq_errno()));
        exit(2);
    }
    return s;
}

static void *new_sub(const char *prefix)
{
    void *s = new_socket(ZMQ_SUB, g_out_ep);
    zmq_setsockopt(s, ZMQ_SUBSCRIBE, prefix, strlen(prefix));
    return s;
}

/* Publish probes on `topic` every 50 ms until `sub` receives one (the
 * subscription has reached the publisher through the broker), at most
 * `timeout_ms`; then read until a final marker so no probe is left queued. */
static bool join(void *pub, void *sub, const char *topic, int timeout_ms)
{
    int64_t deadline = now_ms() + timeout_ms;
    msg_t m;
    bool joined = false;
    while (!joined && now_ms() < deadline) {
        publish(pub, topic, "probe");
        joined = wait_msg(sub, &m, 50) == 0 && is_event(&m, topic, "probe");
    }
    if (!joined)
        return false;
    publish(pub, topic, "joined");
    while (wait_msg(sub, &m, 2000) == 0)
        if (is_event(&m, topic, "joined"))
            return true;
    return false;
}

/* Read everything `sub` receives until [topic]["end"] arrives (at most
 * `timeout_ms`); count the messages before it and whether they were
 * exactly `want[0..nwant-1]` bodies on topics starting with `prefix`. */
typedef struct {
    size_t received; /* messages before the end marker */
    bool in_order;   /* they were exactly the wanted bodies, in order */
    bool ended;      /* the end marker arrived */
} drain_t;

static drain_t drain_until_end(void *sub, const char *end_topic, const char *prefix,
                               const char *const *want, size_t nwant, int timeout_ms)
{
    drain_t d = {0, true, false};
    int64_t deadline = now_ms() + timeout_ms;
    msg_t m;
    while (now_ms() < deadline) {
        if (wait_msg(sub, &m, 50) < 0)
            continue;
        if (is_event(&m, end_topic, "end")) {
            d.ended = true;
            break;
        }
        size_t plen = strlen(prefix);
        bool ok = d.received < nwant && m.count == 2 && m.size[0] >= plen &&
                  memcmp(m.data[0], prefix, plen) == 0 && frame_is(&m, 1, want[d.received]);
        if (!ok)
            d.in_order = false;
        d.received++;
    }
    if (d.received != nwant)
        d.in_order = false;
    return d;
}

/* --- requests to the broker (MDP/0.1 client, raw DEALER) */

static int call(const char *service, const char *body, msg_t *out, int timeout_ms)
{
    void *s = new_socket(ZMQ_DEALER, g_broker_ep);
    const char *parts[] = {"", SP_MDP_CLIENT, service, body};
    size_t sizes[] = {0, strlen(SP_MDP_CLIENT), strlen(service), strlen(body)};
    int rc = send_parts(s, parts, sizes, 4);
    if (rc == 0)
        rc = wait_msg(s, out, timeout_ms);
    if (rc == 0 && (out->count != 4 || !frame_is(out, 1, SP_MDP_CLIENT)))
        rc = -2;
    zmq_close(s);
    return rc;
}

/* mmi.service's answer for `name` ("200"/"404"), or "none". */
static const char *mmi_service(const char *name)
{
    static char answer[8];
    msg_t m;
    if (call("mmi.service", name, &m, 2000) < 0)
        return "none";
    size_t n = m.size[3] < 7 ? m.size[3] : 7;
    memcpy(answer, m.data[3], n);
    answer[n] = '\0';
    return answer;
}

typedef struct {
    bool ok;
    uint64_t forwarded, dropped, subscriptions, refused;
} counters_t;

static counters_t status(void)
{
    counters_t c = {0};
    msg_t m;
    if (call("mmi.status", "", &m, 2000) < 0 || m.size[3] > MAX_KEEP)
        return c;
    Samspil__V1__BrokerStatus *st =
        samspil__v1__broker_status__unpack(NULL, m.size[3], (const uint8_t *)m.data[3]);
    if (!st)
        return c;
    c.ok = true;
    c.forwarded = st->events_forwarded;
    c.dropped = st->events_dropped;
    c.subscriptions = st->event_subscriptions;
    c.refused = st->event_subscriptions_refused;
    samspil__v1__broker_status__free_unpacked(st, NULL);
    return c;
}

/* Wait until mmi.status shows at least `dropped` drops and `refused` refusals. */
static counters_t wait_counters(uint64_t dropped, uint64_t refused, int timeout_ms)
{
    int64_t deadline = now_ms() + timeout_ms;
    counters_t c;
    do {
        c = status();
        if (c.ok && c.dropped >= dropped && c.refused >= refused)
            break;
        usleep(20000);
    } while (now_ms() < deadline);
    return c;
}

/* --- the broker process */

static void start_broker(void)
{
    char path[600], log[600], bind[600], in[600], out[600];
    snprintf(path, sizeof path, "%s/samspil-broker", g_bin);
    snprintf(log, sizeof log, "%s/broker.log", g_home);
    snprintf(bind, sizeof bind, "--bind=%s", g_broker_ep);
    snprintf(in, sizeof in, "--events-in-bind=%s", g_in_ep);
    snprintf(out, sizeof out, "--events-out-bind=%s", g_out_ep);
    g_broker = fork();
    if (g_broker == 0) {
        FILE *f = freopen(log, "a", stderr);
        (void)f;
        setenv("SAMSPIL_PLAINTEXT", "1", 1); /* this test plays raw plain-text peers */
        execl(path, path, "--home", g_home, bind, in, out, (char *)NULL);
        _exit(127);
    }
}

static bool wait_broker_up(int timeout_ms)
{
    int64_t deadline = now_ms() + timeout_ms;
    do {
        if (strcmp(mmi_service("itest.nothing"), "404") == 0)
            return true;
        usleep(20000);
    } while (now_ms() < deadline);
    return false;
}

static int remove_entry(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
    (void)sb;
    (void)flag;
    (void)ftw;
    remove(path);
    return 0;
}

/* --- tests */

static void *g_pub, *g_sub_a, *g_sub_b;

static void test_fanout(void)
{
    bool a = join(g_pub, g_sub_a, "reg/101/probe", JOIN_MS);
    ITEST_CHECK(a, "subscription of A reaches the publisher through the broker");
    bool b = join(g_pub, g_sub_b, "reg/147/probe", JOIN_MS);
    ITEST_CHECK(b, "subscription of B reaches the publisher through the broker");
    if (!a || !b)
        return;

    /* A follows reg/101/, B follows reg/147/; nobody follows reg/999/ */
    static const char *const bodies_a[] = {"a1", "a2", "a3", "a4", "a5"};
    static const char *const bodies_b[] = {"b1", "b2", "b3", "b4", "b5"};
    counters_t before = status();
    for (int i = 0; i < 5; i++) {
        publish(g_pub, "reg/101/actor.registered", bodies_a[i]);
        publish(g_pub, "reg/147/actor.updated", bodies_b[i]);
        publish(g_pub, "reg/999/actor.registered", "nobody");
    }
    publish(g_pub, "reg/101/end", "end");
    publish(g_pub, "reg/147/end", "end");
    drain_t da = drain_until_end(g_sub_a, "reg/101/end", "reg/101/", bodies_a, 5, 3000);
    drain_t db = drain_until_end(g_sub_b, "reg/147/end", "reg/147/", bodies_b, 5, 3000);
    ITEST_CHECKF(da.ended && da.in_order, "A receives exactly its 5 events, in order",
                 "ended %d received %zu in_order %d", da.ended, da.received, da.in_order);
    ITEST_CHECKF(db.ended && db.in_order, "B receives exactly its 5 events, in order",
                 "ended %d received %zu in_order %d", db.ended, db.received, db.in_order);
    counters_t after = status();
    ITEST_CHECKF(before.ok && after.ok && after.forwarded - before.forwarded >= 12 &&
                     after.dropped == before.dropped,
                 "mmi.status counts forwarded events",
                 "ok %d/%d forwarded %llu -> %llu dropped %llu -> %llu", before.ok, after.ok,
                 (unsigned long long)before.forwarded, (unsigned long long)after.forwarded,
                 (unsigned long long)before.dropped, (unsigned long long)after.dropped);

    /* a third subscriber on a prefix that covers both gets both */
    void *c = new_sub("reg/1");
    bool joined = join(g_pub, c, "reg/1/probe", JOIN_MS);
    static const char *const bodies_c[] = {"c101", "c147"};
    publish(g_pub, "reg/101/x", "c101");
    publish(g_pub, "reg/147/x", "c147");
    publish(g_pub, "reg/1/end", "end");
    drain_t dc = drain_until_end(c, "reg/1/end", "reg/1", bodies_c, 2, 3000);
    ITEST_CHECKF(joined && dc.ended && dc.in_order, "a wider prefix receives both tenants",
                 "joined %d ended %d received %zu", joined, dc.ended, dc.received);
    /* unsubscribe before closing, so later counts are exact */
    counters_t subs = status();
    zmq_setsockopt(c, ZMQ_UNSUBSCRIBE, "reg/1", 5);
    counters_t unsubs = subs;
    int64_t deadline = now_ms() + 3000;
    while (now_ms() < deadline && unsubs.subscriptions < subs.subscriptions + 1) {
        usleep(20000);
        unsubs = status();
    }
    ITEST_CHECKF(unsubs.subscriptions == subs.subscriptions + 1,
                 "the unsubscription of a prefix nobody else has is forwarded", "%llu -> %llu",
                 (unsigned long long)subs.subscriptions, (unsigned long long)unsubs.subscriptions);
    zmq_close(c);
    /* A and B got one event each from that too */
    msg_t m;
    bool a_ok = wait_msg(g_sub_a, &m, 1000) == 0 && is_event(&m, "reg/101/x", "c101");
    bool b_ok = wait_msg(g_sub_b, &m, 1000) == 0 && is_event(&m, "reg/147/x", "c147");
    ITEST_CHECK(a_ok && b_ok, "narrower subscribers still receive their own topics");
}

static void test_subscriptions_counted(void)
{
    counters_t before = status();
    void *s = new_sub("reg/555/");
    int64_t deadline = now_ms() + 3000;
    counters_t mid = before;
    while (now_ms() < deadline && mid.subscriptions < before.subscriptions + 1) {
        usleep(20000);
        mid = status();
    }
    zmq_setsockopt(s, ZMQ_UNSUBSCRIBE, "reg/555/", 8);
    counters_t after = mid;
    deadline = now_ms() + 3000;
    while (now_ms() < deadline && after.subscriptions < mid.subscriptions + 1) {
        usleep(20000);
        after = status();
    }
    ITEST_CHECKF(mid.subscriptions == before.subscriptions + 1 &&
                     after.subscriptions == mid.subscriptions + 1,
                 "a new subscription and its unsubscription are forwarded and counted",
                 "%llu -> %llu -> %llu", (unsigned long long)before.subscriptions,
                 (unsigned long long)mid.subscriptions, (unsigned long long)after.subscriptions);
    zmq_close(s);

    /* a peer that sends the XPUB something that is not a subscription */
    void *x = new_socket(ZMQ_XSUB, g_out_ep);
    const char junk[] = "\x02junk";
    zmq_send(x, junk, sizeof junk - 1, 0);
    zmq_send(x, "", 0, 0);
    counters_t c = wait_counters(after.dropped, after.refused + 2, 3000);
    ITEST_CHECKF(c.refused == after.refused + 2,
                 "a message that is not a subscription is refused and counted", "refused %llu",
                 (unsigned long long)c.refused);
    zmq_close(x);
}

static void test_malformed(void)
{
    counters_t before = status();
    ITEST_CHECK(before.ok, "mmi.status answers before the malformed messages");

    /* one frame */
    const char *one[] = {"reg/101/one"};
    size_t one_size[] = {11};
    send_parts(g_pub, one, one_size, 1);
    /* three frames */
    const char *three[] = {"reg/101/three", "event", "extra"};
    size_t three_size[] = {13, 5, 5};
    send_parts(g_pub, three, three_size, 3);
    /* too large: every frame within ZMQ_MAXMSGSIZE, the message over 1 MiB */
    size_t big_size = 1024 * 1024;
    char *big = malloc(big_size);
    memset(big, 'x', big_size);
    const char *large[] = {"reg/101/large", big};
    size_t large_size[] = {13, big_size};
    send_parts(g_pub, large, large_size, 2);
    publish(g_pub, "reg/101/after", "fine");

    msg_t m;
    bool fine = false, leaked = false;
    int64_t deadline = now_ms() + 3000;
    while (!fine && now_ms() < deadline) {
        if (wait_msg(g_sub_a, &m, 50) < 0)
            continue;
        if (is_event(&m, "reg/101/after", "fine"))
            fine = true;
        else
            leaked = true;
    }
    ITEST_CHECK(!leaked, "malformed event messages are not forwarded");
    ITEST_CHECK(fine, "the event after them is forwarded");
    counters_t c = wait_counters(before.dropped + 3, 0, 3000);
    ITEST_CHECKF(c.ok && c.dropped == before.dropped + 3,
                 "one-frame, three-frame and oversized messages are counted as dropped",
                 "dropped %llu -> %llu", (unsigned long long)before.dropped,
                 (unsigned long long)c.dropped);

    /* one frame over ZMQ_MAXMSGSIZE: libzmq cuts the publisher's connection;
     * the publisher reconnects and its events flow again */
    char *huge = malloc(2 * big_size);
    memset(huge, 'y', 2 * big_size);
    const char *over[] = {"reg/101/huge", huge};
    size_t over_size[] = {12, 2 * big_size};
    send_parts(g_pub, over, over_size, 2);
    bool again = false;
    leaked = false;
    deadline = now_ms() + 5000;
    while (!again && now_ms() < deadline) {
        publish(g_pub, "reg/101/again", "fine");
        if (wait_msg(g_sub_a, &m, 50) < 0)
            continue;
        if (is_event(&m, "reg/101/again", "fine"))
            again = true;
        else
            leaked = true;
    }
    ITEST_CHECK(again && !leaked, "after a frame over the size cap events flow again");
    while (wait_msg(g_sub_a, &m, 200) == 0) /* the other "again" copies */
        ;
    ITEST_CHECK(strcmp(mmi_service("itest.nothing"), "404") == 0,
                "the broker still answers mmi.service");
    free(big);
    free(huge);
}

static void test_restart(void)
{
    kill(g_broker, SIGKILL);
    waitpid(g_broker, NULL, 0);
    g_broker = -1;
    start_broker();
    ITEST_CHECK(wait_broker_up(5000), "restarted broker answers mmi.service");

    /* the publisher and both subscribers reconnect on their own */
    bool a = join(g_pub, g_sub_a, "reg/101/probe", 10000);
    bool b = join(g_pub, g_sub_b, "reg/147/probe", 10000);
    ITEST_CHECK(a && b, "after the restart subscriptions reach the publisher again");
    static const char *const bodies[] = {"r1", "r2", "r3"};
    for (int i = 0; i < 3; i++)
        publish(g_pub, "reg/101/actor.registered", bodies[i]);
    publish(g_pub, "reg/101/end", "end");
    publish(g_pub, "reg/147/end", "end");
    drain_t da = drain_until_end(g_sub_a, "reg/101/end", "reg/101/", bodies, 3, 3000);
    drain_t db = drain_until_end(g_sub_b, "reg/147/end", "reg/147/", NULL, 0, 3000);
    ITEST_CHECKF(da.ended && da.in_order && db.ended && db.in_order,
                 "after the restart events flow to the matching subscriber only",
                 "A ended %d received %zu; B ended %d received %zu", da.ended, da.received,
                 db.ended, db.received);
}

static void test_sigterm(void)
{
    kill(g_broker, SIGTERM);
    int st = 0;
    pid_t rc = 0;
    int64_t deadline = now_ms() + 10000;
    while (now_ms() < deadline && (rc = waitpid(g_broker, &st, WNOHANG)) == 0)
        usleep(10000);
    ITEST_CHECKF(rc == g_broker && WIFEXITED(st) && WEXITSTATUS(st) == 0,
                 "SIGTERM: broker with event bus exits with status 0", "rc %d status %d", (int)rc,
                 st);
    if (rc == g_broker)
        g_broker = -1;
}

int main(void)
{
    const char *home = itest_env("SAMSPIL_HOME");
    g_bin = itest_env("SAMSPIL_BIN");
    signal(SIGPIPE, SIG_IGN);
    snprintf(g_home, sizeof g_home, "%s/itest-events-%ld", home, (long)getpid());
    mkdir(home, 0755);
    if (mkdir(g_home, 0700) < 0 && errno != EEXIST) {
        fprintf(stderr, "test_events_broker: could not create %s: %s\n", g_home, strerror(errno));
        return 2;
    }
    /* ipc paths are limited to 107 bytes; use abstract sockets if the home is deep */
    if (strlen(g_home) + strlen("ipc:///run/events-out.ipc") < 100) {
        snprintf(g_broker_ep, sizeof g_broker_ep, "ipc://%s/b.ipc", g_home);
        snprintf(g_in_ep, sizeof g_in_ep, "ipc://%s/ei.ipc", g_home);
        snprintf(g_out_ep, sizeof g_out_ep, "ipc://%s/eo.ipc", g_home);
    } else {
        long pid = (long)getpid();
        snprintf(g_broker_ep, sizeof g_broker_ep, "ipc://@samspil-itest-ev-%ld-b", pid);
        snprintf(g_in_ep, sizeof g_in_ep, "ipc://@samspil-itest-ev-%ld-in", pid);
        snprintf(g_out_ep, sizeof g_out_ep, "ipc://@samspil-itest-ev-%ld-out", pid);
    }
    g_ctx = zmq_ctx_new();
    start_broker();
    bool up = wait_broker_up(5000);
    ITEST_CHECK(up, "broker starts with the event bus and answers mmi.service");
    if (up) {
        g_pub = new_socket(ZMQ_PUB, g_in_ep);
        int hwm = 100000;
        zmq_setsockopt(g_pub, ZMQ_SNDHWM, &hwm, sizeof hwm);
        g_sub_a = new_sub("reg/101/");
        g_sub_b = new_sub("reg/147/");
        test_fanout();
        test_subscriptions_counted();
        test_malformed();
        test_restart();
        test_sigterm();
        zmq_close(g_pub);
        zmq_close(g_sub_a);
        zmq_close(g_sub_b);
    }
    if (g_broker > 0) {
        kill(g_broker, SIGKILL);
        waitpid(g_broker, NULL, 0);
    }
    zmq_ctx_term(g_ctx);
    if (itest_failed_count) {
        char log[600];
        snprintf(log, sizeof log, "%s/broker.log", g_home);
        fprintf(stderr, "test_events_broker: broker log follows (%s)\n", log);
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
