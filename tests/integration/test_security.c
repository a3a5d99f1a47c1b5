/*
 * test_security.c - integration test of the broker's CurveZMQ security over
 * real sockets and real processes.  Starts its own brokers with private
 * homes under $SAMSPIL_HOME (keys from `samspil-broker --init-keys`):
 *
 *  - 10,000 connection attempts with unknown keys, no key (NULL), the
 *    wrong mechanism (PLAIN) and the wrong server key: none gets an answer,
 *    while a valid key in every batch does;
 *  - the libzmq pitfall next to our broker: a CURVE server with no ZAP
 *    handler accepts an unknown key, the broker does not;
 *  - the samspil.keys service: operators only, create/list/revoke, errors;
 *  - a revoked key loses access within seconds on a connection it already
 *    has open (revoked through the service, and by editing the registry
 *    file), and on the event bus;
 *  - integrators subscribe only to their tenants' events;
 *  - an unknown process cannot register as a service worker;
 *  - the ZAP handler killed (SAMSPIL_FAULT=zap-exit-after=N): no client is
 *    accepted, the broker exits non-zero;
 *  - plain text is refused on a non-loopback tcp bind, and marks every log
 *    line when it runs.
 */
#include "itest.h"
#include "sp_client.h"
#include "sp_curve.h"
#include "sp_log.h"
#include "sp_mdp.h"
#include "sp_zmsg.h"

#include "samspil/v1/common.pb-c.h"
#include "samspil/v1/keys.pb-c.h"

#include <errno.h>
#include <ftw.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <zmq.h>

#define ATTEMPTS 10000
#define BATCH 500
#define BATCH_WAIT_MS 400 /* after the control's answer, bad sockets get this long more */

static const char *g_bin;
static char g_home[512]; /* private home of the main broker */
static char g_ep[600], g_in[600], g_out[600];
static pid_t g_broker = -1;
static void *g_ctx;
static sp_curve_client_t g_operator, g_service;
static char g_broker_key[SP_CURVE_KEY_Z85];

static int64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static int remove_entry(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
    (void)sb;
    (void)flag;
    (void)ftw;
    remove(path);
    return 0;
}

/* --- processes */

/* Run samspil-broker with `args` (NULL-terminated, after the program) and
 * `env` ("NAME=value" or NULL) in the background, stderr to `log`. */
static pid_t spawn_broker(const char *log, const char *env, const char *const *args)
{
    char path[600];
    snprintf(path, sizeof path, "%s/samspil-broker", g_bin);
    pid_t pid = fork();
    if (pid == 0) {
        FILE *f = freopen(log, "a", stderr);
        (void)f;
        unsetenv("SAMSPIL_PLAINTEXT");
        unsetenv("SAMSPIL_FAULT");
        unsetenv("SAMSPIL_BROKER_BIND");
        unsetenv("SAMSPIL_EVENTS_IN_BIND");
        unsetenv("SAMSPIL_EVENTS_OUT_BIND");
        if (env)
            putenv((char *)env);
        char *argv[16];
        int n = 0;
        argv[n++] = path;
        for (int i = 0; args[i] && n < 15; i++)
            argv[n++] = (char *)args[i];
        argv[n] = NULL;
        execv(path, argv);
        _exit(127);
    }
    return pid;
}

/* Wait up to `timeout_ms` for `pid` to exit; its status, or -1 if it runs on. */
static int wait_exit(pid_t pid, int timeout_ms)
{
    int64_t deadline = now_ms() + timeout_ms;
    do {
        int status;
        pid_t r = waitpid(pid, &status, WNOHANG);
        if (r == pid)
            return status;
        usleep(20000);
    } while (now_ms() < deadline);
    return -1;
}

static void stop_broker(pid_t *pid)
{
    if (*pid <= 0)
        return;
    kill(*pid, SIGTERM);
    if (wait_exit(*pid, 5000) < 0) {
        kill(*pid, SIGKILL);
        waitpid(*pid, NULL, 0);
    }
    *pid = -1;
}

static int init_keys(const char *home)
{
    char log[600];
    snprintf(log, sizeof log, "%s/init-keys.log", home);
    const char *args[] = {"--home", home, "--init-keys", NULL};
    pid_t pid = spawn_broker(log, NULL, args);
    int status = wait_exit(pid, 10000);
    return status >= 0 && WIFEXITED(status) && WEXITSTATUS(status) == 0 ? 0 : -1;
}

static bool file_contains(const char *path, const char *needle)
{
    FILE *f = fopen(path, "r");
    if (!f)
        return false;
    char line[4096];
    bool found = false;
    while (!found && fgets(line, sizeof line, f))
        found = strstr(line, needle) != NULL;
    fclose(f);
    return found;
}

/* --- raw MDP over one socket */

static void *client_socket(const sp_curve_client_t *cert, const char *endpoint)
{
    void *s = zmq_socket(g_ctx, ZMQ_DEALER);
    int linger = 0;
    zmq_setsockopt(s, ZMQ_LINGER, &linger, sizeof linger);
    if (cert)
        sp_curve_client_apply(cert, s);
    zmq_connect(s, endpoint);
    return s;
}

static int send_mmi(void *s, const char *service)
{
    sp_frame_t frames[] = {
        {"", 0}, sp_frame_str(SP_MDP_CLIENT), sp_frame_str("mmi.service"), sp_frame_str(service)};
    return sp_zsend(s, frames, 4, ZMQ_DONTWAIT);
}

/* The mmi.service answer ("200"/"404") on `s` within `timeout_ms`, else "". */
static const char *recv_mmi(void *s, int timeout_ms, char *out, size_t outlen)
{
    out[0] = '\0';
    zmq_pollitem_t item = {s, 0, ZMQ_POLLIN, 0};
    if (zmq_poll(&item, 1, timeout_ms) <= 0)
        return out;
    sp_zmsg_t msg;
    if (sp_zmsg_recv(&msg, s, 0) < 0)
        return out;
    sp_frame_t body = sp_zmsg_frame(&msg, msg.count - 1);
    size_t n = body.size < outlen - 1 ? body.size : outlen - 1;
    memcpy(out, body.data, n);
    out[n] = '\0';
    sp_zmsg_close(&msg);
    return out;
}

static const char *mmi(const sp_curve_client_t *cert, const char *endpoint, const char *service,
                       int timeout_ms, char *out, size_t outlen)
{
    void *s = client_socket(cert, endpoint);
    send_mmi(s, service);
    recv_mmi(s, timeout_ms, out, outlen);
    zmq_close(s);
    return out;
}

/* --- the samspil.keys service through sp_client */

static Samspil__V1__KeyReply *keys_call(sp_client_t *client, const Samspil__V1__KeyRequest *req)
{
    ProtobufCMessage *reply = NULL;
    if (sp_client_call_pb(client, "samspil.keys", &req->base, &samspil__v1__key_reply__descriptor,
                          &reply) < 0)
        return NULL;
    return (Samspil__V1__KeyReply *)reply;
}

static sp_client_t *client_as(const sp_curve_client_t *cert)
{
    sp_client_t *c = sp_client_new_curve(g_ep, cert);
    if (c) {
        sp_client_set_timeout(c, 2000);
        sp_client_set_retries(c, 0);
    }
    return c;
}

/* Create a key pair and register it as `name` with `role` and `tenant`
 * (NULL: none) through `op`; fills `cert`.  Returns the reply's code. */
static int create_key(sp_client_t *op, const char *name, Samspil__V1__Role role, const char *tenant,
                      sp_curve_client_t *cert)
{
    memset(cert, 0, sizeof *cert);
    sp_curve_keypair(cert);
    memcpy(cert->broker_key, g_broker_key, SP_CURVE_KEY_Z85);
    snprintf(cert->name, sizeof cert->name, "%s", name);
    Samspil__V1__KeyCreate create = SAMSPIL__V1__KEY_CREATE__INIT;
    create.name = (char *)name;
    create.role = role;
    char *tenants[1] = {(char *)tenant};
    if (tenant) {
        create.n_tenants = 1;
        create.tenants = tenants;
    }
    create.public_key = cert->public_key;
    Samspil__V1__KeyRequest req = SAMSPIL__V1__KEY_REQUEST__INIT;
    req.op_case = SAMSPIL__V1__KEY_REQUEST__OP_CREATE;
    req.create = &create;
    Samspil__V1__KeyReply *reply = keys_call(op, &req);
    if (!reply)
        return -1;
    int code = reply->error ? (int)reply->error->code : 0;
    samspil__v1__key_reply__free_unpacked(reply, NULL);
    return code;
}

static int revoke_key(sp_client_t *op, const char *name)
{
    Samspil__V1__KeyRevoke revoke = SAMSPIL__V1__KEY_REVOKE__INIT;
    revoke.key_case = SAMSPIL__V1__KEY_REVOKE__KEY_NAME;
    revoke.name = (char *)name;
    Samspil__V1__KeyRequest req = SAMSPIL__V1__KEY_REQUEST__INIT;
    req.op_case = SAMSPIL__V1__KEY_REQUEST__OP_REVOKE;
    req.revoke = &revoke;
    Samspil__V1__KeyReply *reply = keys_call(op, &req);
    if (!reply)
        return -1;
    int code = reply->error ? (int)reply->error->code : 0;
    samspil__v1__key_reply__free_unpacked(reply, NULL);
    return code;
}

/* --- tests */

static void test_valid_keys(void)
{
    char answer[16];
    ITEST_CHECKF(strcmp(mmi(&g_operator, g_ep, "itest.none", 3000, answer, sizeof answer), "404") ==
                     0,
                 "the operator certificate from --init-keys is answered", "answer \"%s\"", answer);
    ITEST_CHECKF(strcmp(mmi(&g_service, g_ep, "itest.none", 3000, answer, sizeof answer), "404") ==
                     0,
                 "the service certificate from --init-keys is answered", "answer \"%s\"", answer);
    sp_client_t *c = sp_client_new(g_ep); /* from the environment: operator.cert */
    ITEST_CHECK(c != NULL, "sp_client finds the operator certificate under SAMSPIL_HOME");
    sp_client_destroy(&c);
}

typedef enum { BAD_UNKNOWN, BAD_NULL, BAD_PLAIN, BAD_SERVER_KEY, BAD_KINDS } bad_kind_t;

static const char *const s_bad_names[] = {"unknown key", "no key (NULL)", "PLAIN mechanism",
                                          "wrong server key"};

static void *bad_socket(bad_kind_t kind)
{
    void *s = zmq_socket(g_ctx, ZMQ_DEALER);
    int linger = 0, ivl = 10000;
    zmq_setsockopt(s, ZMQ_LINGER, &linger, sizeof linger);
    zmq_setsockopt(s, ZMQ_RECONNECT_IVL, &ivl, sizeof ivl);
    sp_curve_client_t cert;
    memset(&cert, 0, sizeof cert);
    switch (kind) {
    case BAD_UNKNOWN:
        sp_curve_keypair(&cert);
        memcpy(cert.broker_key, g_broker_key, SP_CURVE_KEY_Z85);
        sp_curve_client_apply(&cert, s);
        break;
    case BAD_NULL:
        break;
    case BAD_PLAIN:
        zmq_setsockopt(s, ZMQ_PLAIN_USERNAME, "operator", 8);
        zmq_setsockopt(s, ZMQ_PLAIN_PASSWORD, "operator", 8);
        break;
    case BAD_SERVER_KEY: { /* a registered client key, but not the broker's key */
        sp_curve_client_t other;
        memset(&other, 0, sizeof other);
        sp_curve_keypair(&other);
        cert = g_operator;
        memcpy(cert.broker_key, other.public_key, SP_CURVE_KEY_Z85);
        sp_curve_client_apply(&cert, s);
        break;
    }
    default:
        break;
    }
    zmq_connect(s, g_ep);
    return s;
}

static void test_many_bad_attempts(void)
{
    static void *sockets[BATCH];
    size_t answered[BAD_KINDS] = {0}, tried[BAD_KINDS] = {0};
    int controls_ok = 0, batches = 0;
    int64_t start = now_ms();
    for (int done = 0; done < ATTEMPTS; done += BATCH) {
        int n = ATTEMPTS - done < BATCH ? ATTEMPTS - done : BATCH;
        for (int i = 0; i < n; i++) {
            bad_kind_t kind = (bad_kind_t)((done + i) % BAD_KINDS);
            sockets[i] = bad_socket(kind);
            send_mmi(sockets[i], "itest.none"); /* queued until a handshake succeeds */
            tried[kind]++;
        }
        /* a valid client in the same batch: the window is long enough */
        void *control = client_socket(&g_operator, g_ep);
        send_mmi(control, "itest.none");
        char answer[16];
        recv_mmi(control, 5000, answer, sizeof answer);
        controls_ok += strcmp(answer, "404") == 0;
        zmq_close(control);
        int64_t until = now_ms() + BATCH_WAIT_MS;
        for (int i = 0; i < n; i++) {
            int64_t left = until - now_ms();
            recv_mmi(sockets[i], left > 0 ? (int)left : 0, answer, sizeof answer);
            if (answer[0])
                answered[(done + i) % BAD_KINDS]++;
            zmq_close(sockets[i]);
        }
        batches++;
    }
    int64_t took = now_ms() - start;
    for (int k = 0; k < BAD_KINDS; k++) {
        char name[128];
        snprintf(name, sizeof name, "%zu connection attempts with %s: none answered", tried[k],
                 s_bad_names[k]);
        ITEST_CHECKF(answered[k] == 0, name, "%zu answered", answered[k]);
    }
    ITEST_CHECKF(controls_ok == batches, "a valid key is answered in every batch meanwhile",
                 "%d of %d", controls_ok, batches);
    ITEST_CHECKF(kill(g_broker, 0) == 0, "the broker is alive after 10,000 refused attempts",
                 "took %lld ms", (long long)took);
    printf("# %d attempts in %lld ms\n", ATTEMPTS, (long long)took);
}

/* The pitfall: a CURVE server with no ZAP handler in its context lets an
 * unknown key in; the broker (handler bound first) does not. */
static void test_no_handler_pitfall(void)
{
    void *ctx = zmq_ctx_new(); /* nothing bound at inproc://zeromq.zap.01 here */
    sp_curve_client_t server;
    memset(&server, 0, sizeof server);
    sp_curve_keypair(&server);
    void *router = zmq_socket(ctx, ZMQ_ROUTER);
    int one = 1, linger = 0;
    zmq_setsockopt(router, ZMQ_LINGER, &linger, sizeof linger);
    zmq_setsockopt(router, ZMQ_CURVE_SERVER, &one, sizeof one);
    zmq_setsockopt(router, ZMQ_CURVE_SECRETKEY, server.secret_key, 40);
    char ep[600];
    snprintf(ep, sizeof ep, "ipc://%s/run/raw-curve.ipc", g_home);
    int bound = zmq_bind(router, ep);

    sp_curve_client_t stranger;
    memset(&stranger, 0, sizeof stranger);
    sp_curve_keypair(&stranger);
    memcpy(stranger.broker_key, server.public_key, SP_CURVE_KEY_Z85);
    void *client = zmq_socket(ctx, ZMQ_DEALER);
    zmq_setsockopt(client, ZMQ_LINGER, &linger, sizeof linger);
    sp_curve_client_apply(&stranger, client);
    zmq_connect(client, ep);
    zmq_send(client, "hello", 5, 0);
    zmq_pollitem_t item = {router, 0, ZMQ_POLLIN, 0};
    bool received = bound == 0 && zmq_poll(&item, 1, 3000) == 1;
    ITEST_CHECK(received, "pitfall: a libzmq CURVE server without a ZAP handler accepts an "
                          "unknown key");
    zmq_close(client);
    zmq_close(router);
    zmq_ctx_term(ctx);

    /* the same kind of stranger against the broker */
    memcpy(stranger.broker_key, g_broker_key, SP_CURVE_KEY_Z85);
    char answer[16];
    mmi(&stranger, g_ep, "itest.none", 1500, answer, sizeof answer);
    ITEST_CHECKF(answer[0] == '\0', "the broker (ZAP handler bound first) refuses an unknown key",
                 "answer \"%s\"", answer);
}

static void test_keys_service(sp_client_t *op)
{
    sp_curve_client_t in;
    ITEST_CHECK(create_key(op, "itest-sec-int", SAMSPIL__V1__ROLE__ROLE_INTEGRATOR, "101", &in) ==
                    0,
                "an operator creates an integrator key");
    sp_curve_client_t bad;
    ITEST_CHECK(create_key(op, "itest-sec-int", SAMSPIL__V1__ROLE__ROLE_READER, "101", &bad) ==
                    SAMSPIL__V1__ERROR_CODE__ERROR_CODE_ALREADY_EXISTS,
                "a second valid key of the same name is already_exists");
    ITEST_CHECK(create_key(op, "itest-sec-bad", SAMSPIL__V1__ROLE__ROLE_INTEGRATOR, "999", &bad) ==
                    SAMSPIL__V1__ERROR_CODE__ERROR_CODE_INVALID_ARGUMENT,
                "a tenant that is not a municipality is invalid_argument");
    ITEST_CHECK(create_key(op, "itest-sec-bad", SAMSPIL__V1__ROLE__ROLE_INTEGRATOR, NULL, &bad) ==
                    SAMSPIL__V1__ERROR_CODE__ERROR_CODE_INVALID_ARGUMENT,
                "an integrator key without tenants is invalid_argument");

    /* list, as the operator: the new key is there with its tenant */
    Samspil__V1__KeyList list = SAMSPIL__V1__KEY_LIST__INIT;
    Samspil__V1__KeyRequest req = SAMSPIL__V1__KEY_REQUEST__INIT;
    req.op_case = SAMSPIL__V1__KEY_REQUEST__OP_LIST;
    req.list = &list;
    Samspil__V1__KeyReply *reply = keys_call(op, &req);
    bool listed = false;
    for (size_t i = 0; reply && i < reply->n_keys; i++)
        listed |= strcmp(reply->keys[i]->name, "itest-sec-int") == 0 &&
                  reply->keys[i]->n_tenants == 1 &&
                  strcmp(reply->keys[i]->tenants[0], "101") == 0 &&
                  strcmp(reply->keys[i]->public_key, in.public_key) == 0;
    ITEST_CHECKF(reply && !reply->error && listed && reply->broker_key &&
                     strcmp(reply->broker_key, g_broker_key) == 0,
                 "key list shows the new key and the broker's public key",
                 "reply %d error %s keys %zu listed %d", reply != NULL,
                 reply && reply->error ? reply->error->message : "-", reply ? reply->n_keys : 0,
                 listed);
    if (reply)
        samspil__v1__key_reply__free_unpacked(reply, NULL);

    /* the integrator may not use the key service */
    sp_client_t *ic = client_as(&in);
    reply = ic ? keys_call(ic, &req) : NULL;
    ITEST_CHECKF(reply && reply->error &&
                     reply->error->code == SAMSPIL__V1__ERROR_CODE__ERROR_CODE_PERMISSION_DENIED,
                 "an integrator gets permission_denied from samspil.keys", "client %d reply %d",
                 ic != NULL, reply != NULL);
    if (reply)
        samspil__v1__key_reply__free_unpacked(reply, NULL);
    sp_client_destroy(&ic);
}

/* A key revoked while its connection is open: the next request on that same
 * socket is refused within seconds. */
static void test_revoke_open_connection(sp_client_t *op)
{
    sp_curve_client_t k;
    ITEST_CHECK(create_key(op, "itest-sec-rev", SAMSPIL__V1__ROLE__ROLE_INTEGRATOR, "147", &k) == 0,
                "create a key to revoke");
    void *s = client_socket(&k, g_ep);
    char answer[16];
    send_mmi(s, "itest.none");
    recv_mmi(s, 3000, answer, sizeof answer);
    ITEST_CHECKF(strcmp(answer, "404") == 0, "the new key is answered on its connection",
                 "answer \"%s\"", answer);
    int64_t t0 = now_ms();
    ITEST_CHECK(revoke_key(op, "itest-sec-rev") == 0, "the operator revokes it");
    /* same socket, same connection: poll until refused (at most 5 s) */
    bool refused = false;
    int64_t took = 0;
    while (!refused && now_ms() - t0 < 5000) {
        send_mmi(s, "itest.none");
        recv_mmi(s, 1000, answer, sizeof answer);
        /* a refusal is an ErrorReply (protobuf), not "404" */
        refused = strcmp(answer, "404") != 0;
        took = now_ms() - t0;
    }
    ITEST_CHECKF(refused && took < 5000,
                 "a revoked key loses access on its open connection within seconds", "took %lld ms",
                 (long long)took);
    printf("# revoked key refused on its open connection after %lld ms\n", (long long)took);
    zmq_close(s);
    mmi(&k, g_ep, "itest.none", 1500, answer, sizeof answer);
    ITEST_CHECKF(answer[0] == '\0', "a revoked key gets no new connection", "answer \"%s\"",
                 answer);
    ITEST_CHECK(revoke_key(op, "itest-sec-rev") == SAMSPIL__V1__ERROR_CODE__ERROR_CODE_NOT_FOUND,
                "revoking it again by name is not_found (no valid key has that name)");
}

/* Revoked by editing the registry file (no service involved): the broker
 * rereads it within seconds. */
static void test_revoke_in_file(sp_client_t *op)
{
    sp_curve_client_t k;
    ITEST_CHECK(create_key(op, "itest-sec-file", SAMSPIL__V1__ROLE__ROLE_READER, "751", &k) == 0,
                "create a key to revoke in the registry file");
    void *s = client_socket(&k, g_ep);
    char answer[16];
    send_mmi(s, "itest.none");
    recv_mmi(s, 3000, answer, sizeof answer);
    ITEST_CHECK(strcmp(answer, "404") == 0, "the key is answered before the edit");

    /* rewrite the file with that line's revoked field set, then rename */
    char path[700], tmp[720], line[1024];
    snprintf(path, sizeof path, "%s/keys/registry", g_home);
    snprintf(tmp, sizeof tmp, "%s.itest", path);
    FILE *in = fopen(path, "r"), *out = fopen(tmp, "w");
    bool edited = false;
    while (in && out && fgets(line, sizeof line, in)) {
        size_t n = strlen(line);
        if (strncmp(line, k.public_key, 40) == 0 && n > 2 && line[n - 2] == '-') {
            line[n - 2] = '\0';
            fprintf(out, "%s2026-01-01T00:00:00Z\n", line);
            edited = true;
        } else {
            fputs(line, out);
        }
    }
    if (in)
        fclose(in);
    if (out)
        fclose(out);
    chmod(tmp, 0600);
    rename(tmp, path);
    ITEST_CHECK(edited, "the key's line is marked revoked in the registry file");
    int64_t t0 = now_ms();
    bool refused = false;
    while (!refused && now_ms() - t0 < 5000) {
        send_mmi(s, "itest.none");
        recv_mmi(s, 1000, answer, sizeof answer);
        refused = strcmp(answer, "404") != 0;
        if (!refused)
            usleep(100000);
    }
    ITEST_CHECKF(refused, "a key revoked in the registry file loses access within seconds",
                 "after %lld ms", (long long)(now_ms() - t0));
    zmq_close(s);
}

/* --- the event bus */

static void *sub_socket(const sp_curve_client_t *cert, const char *prefix)
{
    void *s = zmq_socket(g_ctx, ZMQ_SUB);
    int linger = 0, ivl = 100;
    zmq_setsockopt(s, ZMQ_LINGER, &linger, sizeof linger);
    zmq_setsockopt(s, ZMQ_RECONNECT_IVL, &ivl, sizeof ivl);
    sp_curve_client_apply(cert, s);
    zmq_setsockopt(s, ZMQ_SUBSCRIBE, prefix, strlen(prefix));
    zmq_connect(s, g_out);
    return s;
}

static void publish(void *pub, const char *topic, const char *body)
{
    zmq_send(pub, topic, strlen(topic), ZMQ_SNDMORE | ZMQ_DONTWAIT);
    zmq_send(pub, body, strlen(body), ZMQ_DONTWAIT);
}

/* Count messages on `s` for `ms`. */
static int drain(void *s, int ms)
{
    int count = 0;
    int64_t until = now_ms() + ms;
    for (;;) {
        int64_t left = until - now_ms();
        if (left <= 0)
            break;
        zmq_pollitem_t item = {s, 0, ZMQ_POLLIN, 0};
        if (zmq_poll(&item, 1, (long)left) <= 0)
            break;
        sp_zmsg_t msg;
        if (sp_zmsg_recv(&msg, s, 0) == 0) {
            count++;
            sp_zmsg_close(&msg);
        }
    }
    return count;
}

/* Publish on topics `t101` and `t147` every 20 ms for `ms`, counting what
 * each subscriber gets. */
static void pump(void *pub, void **subs, int nsubs, int *counts, int ms)
{
    int64_t until = now_ms() + ms;
    while (now_ms() < until) {
        publish(pub, "itest/101/probe", "x");
        publish(pub, "itest/147/probe", "x");
        for (int i = 0; i < nsubs; i++)
            counts[i] += drain(subs[i], 0);
        usleep(20000);
    }
    for (int i = 0; i < nsubs; i++)
        counts[i] += drain(subs[i], 100);
}

static void test_events(sp_client_t *op)
{
    sp_curve_client_t in, in2;
    ITEST_CHECK(create_key(op, "itest-sec-sub", SAMSPIL__V1__ROLE__ROLE_INTEGRATOR, "101", &in) ==
                    0,
                "create an integrator key for tenant 101");
    ITEST_CHECK(create_key(op, "itest-sec-sub2", SAMSPIL__V1__ROLE__ROLE_INTEGRATOR, "101", &in2) ==
                    0,
                "create a second integrator key for tenant 101");
    /* publishers must be services: an operator's PUB gets nowhere */
    void *bad_pub = zmq_socket(g_ctx, ZMQ_PUB);
    void *pub = zmq_socket(g_ctx, ZMQ_PUB);
    int linger = 0;
    zmq_setsockopt(bad_pub, ZMQ_LINGER, &linger, sizeof linger);
    zmq_setsockopt(pub, ZMQ_LINGER, &linger, sizeof linger);
    sp_curve_client_apply(&g_operator, bad_pub);
    sp_curve_client_apply(&g_service, pub);
    zmq_connect(bad_pub, g_in);
    zmq_connect(pub, g_in);

    void *subs[4] = {
        sub_socket(&g_operator, "itest/"), /* 0: operator, everything */
        sub_socket(&in, "itest/101/"),     /* 1: integrator, own tenant */
        sub_socket(&in, "itest/147/"),     /* 2: integrator, another tenant: refused */
        sub_socket(&in2, "itest/101/"),    /* 3: to be revoked */
    };
    int counts[4] = {0};
    pump(pub, subs, 4, counts, 1500); /* joins, then flows */
    ITEST_CHECKF(counts[0] > 0 && counts[1] > 0 && counts[3] > 0,
                 "operator and integrators receive events through CURVE",
                 "operator %d integrator %d second %d", counts[0], counts[1], counts[3]);
    ITEST_CHECKF(counts[2] == 0, "an integrator's subscription to another tenant is refused",
                 "received %d", counts[2]);
    /* an operator's PUB is refused at the handshake: nothing it sends arrives */
    for (int i = 0; i < 20; i++) {
        publish(bad_pub, "itest/101/forged", "x");
        usleep(10000);
    }
    int forged = 0;
    for (int i = 0; i < 4; i++)
        forged += drain(subs[i], 100);
    ITEST_CHECKF(forged == 0, "events from a non-service publisher never arrive", "%d arrived",
                 forged);

    ITEST_CHECK(revoke_key(op, "itest-sec-sub2") == 0, "revoke the second integrator's key");
    /* the event bus is reopened: give it time, then the revoked subscriber
     * gets nothing more while the others resume */
    memset(counts, 0, sizeof counts);
    pump(pub, subs, 4, counts, 1500);
    memset(counts, 0, sizeof counts);
    pump(pub, subs, 4, counts, 1500);
    ITEST_CHECKF(counts[3] == 0, "a revoked subscriber receives no more events", "received %d",
                 counts[3]);
    ITEST_CHECKF(counts[0] > 0 && counts[1] > 0,
                 "valid subscribers resume after the event bus reopens",
                 "operator %d integrator %d", counts[0], counts[1]);
    for (int i = 0; i < 4; i++)
        zmq_close(subs[i]);
    zmq_close(pub);
    zmq_close(bad_pub);

    /* an operator's PUB never reached anyone: check in the broker's log */
    char log[600];
    snprintf(log, sizeof log, "%s/broker.log", g_home);
    ITEST_CHECK(file_contains(log, "role may not publish events"),
                "a non-service publisher is refused at the events-in handshake");
}

/* --- workers */

static void *worker_socket(const sp_curve_client_t *cert, const char *service)
{
    void *s = client_socket(cert, g_ep);
    uint8_t ready = SP_MDPW_READY;
    sp_frame_t frames[] = {{"", 0},
                           sp_frame_str(SP_MDP_WORKER),
                           {&ready, 1},
                           sp_frame_str(service),
                           sp_frame_str("1")};
    sp_zsend(s, frames, 5, ZMQ_DONTWAIT);
    return s;
}

static bool service_listed(const char *service, int timeout_ms)
{
    int64_t deadline = now_ms() + timeout_ms;
    char answer[16];
    do {
        mmi(&g_operator, g_ep, service, 1000, answer, sizeof answer);
        if (strcmp(answer, "200") == 0)
            return true;
        usleep(50000);
    } while (now_ms() < deadline);
    return false;
}

static void test_workers(void)
{
    /* an unregistered key: the handshake fails, READY never arrives */
    sp_curve_client_t stranger;
    memset(&stranger, 0, sizeof stranger);
    sp_curve_keypair(&stranger);
    memcpy(stranger.broker_key, g_broker_key, SP_CURVE_KEY_Z85);
    void *w1 = worker_socket(&stranger, "itest.sec.a");
    /* a registered key that is not a service key: READY refused */
    void *w2 = worker_socket(&g_operator, "itest.sec.b");
    ITEST_CHECK(!service_listed("itest.sec.a", 1000),
                "a worker with an unknown key cannot register a service");
    ITEST_CHECK(!service_listed("itest.sec.b", 1000),
                "a worker with an operator key cannot register a service");
    /* the operator's worker was told to go away */
    zmq_pollitem_t item = {w2, 0, ZMQ_POLLIN, 0};
    bool disconnect = false;
    if (zmq_poll(&item, 1, 1000) == 1) {
        sp_zmsg_t msg;
        if (sp_zmsg_recv(&msg, w2, 0) == 0) {
            sp_frame_t cmd = sp_zmsg_frame(&msg, 2);
            disconnect = cmd.size == 1 && ((const uint8_t *)cmd.data)[0] == SP_MDPW_DISCONNECT;
            sp_zmsg_close(&msg);
        }
    }
    ITEST_CHECK(disconnect, "the broker answers a non-service READY with DISCONNECT");
    void *w3 = worker_socket(&g_service, "itest.sec.c");
    ITEST_CHECK(service_listed("itest.sec.c", 3000), "a worker with the service key registers");
    zmq_close(w1);
    zmq_close(w2);
    zmq_close(w3);
}

/* --- the ZAP handler dies */

static void test_zap_dies(void)
{
    char home[600], ep[700], in[700], out[700], log[700];
    snprintf(home, sizeof home, "%s/zapdie", g_home);
    mkdir(home, 0755);
    ITEST_CHECK(init_keys(home) == 0, "init keys for the broker whose zap handler dies");
    sp_curve_client_t op;
    char path[700];
    snprintf(path, sizeof path, "%s/keys/operator.cert", home);
    if (sp_curve_cert_read(path, &op) != 0)
        return;
    snprintf(ep, sizeof ep, "--bind=ipc://%s/b.ipc", home);
    snprintf(in, sizeof in, "--events-in-bind=ipc://%s/i.ipc", home);
    snprintf(out, sizeof out, "--events-out-bind=ipc://%s/o.ipc", home);
    snprintf(log, sizeof log, "%s/broker.log", home);
    const char *args[] = {"--home", home, ep, in, out, NULL};
    pid_t pid = spawn_broker(log, "SAMSPIL_FAULT=zap-exit-after=2", args);
    char endpoint[700], answer[16];
    snprintf(endpoint, sizeof endpoint, "ipc://%s/b.ipc", home);
    /* two handshakes are answered... */
    int64_t deadline = now_ms() + 5000;
    do {
        mmi(&op, endpoint, "itest.none", 500, answer, sizeof answer);
    } while (strcmp(answer, "404") != 0 && now_ms() < deadline);
    ITEST_CHECK(strcmp(answer, "404") == 0, "before the fault, the operator is answered");
    mmi(&op, endpoint, "itest.none", 1000, answer, sizeof answer);
    /* ...then the handler has ended: no client gets in */
    int refused = 0;
    for (int i = 0; i < 5; i++)
        refused += mmi(&op, endpoint, "itest.none", 300, answer, sizeof answer)[0] == '\0';
    ITEST_CHECKF(refused == 5, "after the zap handler died, no client is accepted",
                 "%d of 5 refused", refused);
    int status = wait_exit(pid, 5000);
    ITEST_CHECKF(status >= 0 && WIFEXITED(status) && WEXITSTATUS(status) != 0,
                 "the broker exits non-zero when its zap handler dies", "status %d", status);
    if (status < 0)
        stop_broker(&pid);
    ITEST_CHECK(file_contains(log, "zap handler stopped"), "the broker logs why it stopped");
}

/* --- plain text */

static void test_plaintext(void)
{
    char home[600], log[700], in[700], out[700], ep[700];
    snprintf(home, sizeof home, "%s/plain", g_home);
    mkdir(home, 0755);
    snprintf(log, sizeof log, "%s/refused.log", home);
    snprintf(in, sizeof in, "--events-in-bind=ipc://%s/i.ipc", home);
    snprintf(out, sizeof out, "--events-out-bind=ipc://%s/o.ipc", home);
    const char *tcp_args[] = {"--home", home, "--bind=tcp://0.0.0.0:0", in, out, NULL};
    pid_t pid = spawn_broker(log, "SAMSPIL_PLAINTEXT=1", tcp_args);
    int status = wait_exit(pid, 5000);
    ITEST_CHECKF(status >= 0 && WIFEXITED(status) && WEXITSTATUS(status) == 2,
                 "plain text on a non-loopback tcp bind is refused (exit 2)", "status %d", status);
    if (status < 0)
        stop_broker(&pid);
    ITEST_CHECK(file_contains(log, "refusing plain text"), "the refusal says why");

    /* on ipc it runs, and says so in every line */
    snprintf(log, sizeof log, "%s/plain.log", home);
    snprintf(ep, sizeof ep, "--bind=ipc://%s/b.ipc", home);
    const char *ipc_args[] = {"--home", home, ep, in, out, NULL};
    pid = spawn_broker(log, "SAMSPIL_PLAINTEXT=1", ipc_args);
    char endpoint[700], answer[16];
    snprintf(endpoint, sizeof endpoint, "ipc://%s/b.ipc", home);
    int64_t deadline = now_ms() + 5000;
    do {
        mmi(NULL, endpoint, "itest.none", 300, answer, sizeof answer);
    } while (strcmp(answer, "404") != 0 && now_ms() < deadline);
    ITEST_CHECK(strcmp(answer, "404") == 0, "plain text on ipc runs when asked for");
    stop_broker(&pid);
    FILE *f = fopen(log, "r");
    int lines = 0, marked = 0;
    char line[4096];
    while (f && fgets(line, sizeof line, f)) {
        lines++;
        marked += strstr(line, "\"plaintext\":true") != NULL;
    }
    if (f)
        fclose(f);
    ITEST_CHECKF(lines > 0 && marked == lines, "every log line of a plain-text broker says so",
                 "%d of %d lines", marked, lines);
}

int main(void)
{
    sp_log_init("test_security");
    setvbuf(stdout, NULL, _IOLBF, 0);
    g_bin = itest_env("SAMSPIL_BIN");
    const char *base = itest_env("SAMSPIL_HOME");
    snprintf(g_home, sizeof g_home, "%s/itest-sec-%d", base, (int)getpid());
    if (mkdir(g_home, 0755) != 0) {
        fprintf(stderr, "itest: could not create %s: %s\n", g_home, strerror(errno));
        return 2;
    }
    /* this test makes its own keys: ignore any certificate of the suite */
    unsetenv("SAMSPIL_KEY");
    unsetenv("SAMSPIL_PLAINTEXT");
    setenv("SAMSPIL_HOME", g_home, 1);
    g_ctx = zmq_ctx_new();
    int max_sockets = BATCH * 2 + 100;
    zmq_ctx_set(g_ctx, ZMQ_MAX_SOCKETS, max_sockets);

    ITEST_CHECK(init_keys(g_home) == 0, "samspil-broker --init-keys writes the suite's keys");
    char path[700];
    snprintf(path, sizeof path, "%s/keys/operator.cert", g_home);
    bool op_ok = sp_curve_cert_read(path, &g_operator) == 0;
    snprintf(path, sizeof path, "%s/keys/service.cert", g_home);
    bool svc_ok = sp_curve_cert_read(path, &g_service) == 0;
    struct stat st;
    snprintf(path, sizeof path, "%s/keys/broker.key", g_home);
    bool mode_ok = stat(path, &st) == 0 && (st.st_mode & 0777) == 0600;
    ITEST_CHECK(op_ok && svc_ok && mode_ok,
                "operator.cert and service.cert are readable; broker.key is mode 0600");
    if (!op_ok || !svc_ok)
        return itest_done();
    memcpy(g_broker_key, g_operator.broker_key, SP_CURVE_KEY_Z85);

    snprintf(g_ep, sizeof g_ep, "ipc://%s/run/broker.ipc", g_home);
    snprintf(g_in, sizeof g_in, "ipc://%s/run/events-in.ipc", g_home);
    snprintf(g_out, sizeof g_out, "ipc://%s/run/events-out.ipc", g_home);
    char log[600];
    snprintf(log, sizeof log, "%s/broker.log", g_home);
    const char *args[] = {"--home", g_home, NULL};
    g_broker = spawn_broker(log, "SAMSPIL_LOG_LEVEL=info", args);
    char answer[16];
    int64_t deadline = now_ms() + 10000;
    do {
        mmi(&g_operator, g_ep, "itest.none", 300, answer, sizeof answer);
    } while (strcmp(answer, "404") != 0 && now_ms() < deadline);
    ITEST_CHECK(strcmp(answer, "404") == 0, "the broker starts with CURVE");
    if (strcmp(answer, "404") == 0) {
        test_valid_keys();
        test_no_handler_pitfall();
        test_many_bad_attempts();
        sp_client_t *op = client_as(&g_operator);
        if (op) {
            test_keys_service(op);
            test_revoke_open_connection(op);
            test_revoke_in_file(op);
            test_events(op);
            sp_client_destroy(&op);
        }
        test_workers();
    }
    kill(g_broker, SIGTERM);
    int status = wait_exit(g_broker, 10000);
    ITEST_CHECKF(status >= 0 && WIFEXITED(status) && WEXITSTATUS(status) == 0,
                 "the broker stops cleanly on SIGTERM", "status %d", status);
    if (status < 0)
        stop_broker(&g_broker);
    g_broker = -1;
    test_zap_dies();
    test_plaintext();
    zmq_ctx_term(g_ctx);
    if (!itest_failed_count)
        nftw(g_home, remove_entry, 16, FTW_DEPTH | FTW_PHYS);
    return itest_done();
}
