/*
 * main.c - samspil-broker: one ROUTER socket on a libuv loop routing MDP/0.1
 * client requests to SPW01 workers (docs/protocol.md), and the event bus
 * (XSUB in, XPUB out: broker_events.c).  Routing decisions live in
 * broker_core.c; this file does sockets, timers, signals and logs.
 *
 * Security (docs/security.md): every socket is a CURVE server whose
 * handshakes the ZAP handler (broker_zap.c) decides from the key registry
 * (broker_keys.c); each message's principal is looked up again from its
 * User-Id (broker_principal.c); the registry is the "samspil.keys" service
 * answered here.  SAMSPIL_PLAINTEXT=1 runs without CURVE, only on ipc or
 * loopback endpoints, and says "plaintext":true in every log line.
 */
#include "broker_access.h"
#include "broker_core.h"
#include "broker_events.h"
#include "broker_init.h"
#include "broker_keys.h"
#include "broker_mmi.h"
#include "broker_principal.h"
#include "broker_zap.h"
#include "sp_buf.h"
#include "sp_config.h"
#include "sp_curve.h"
#include "sp_log.h"
#include "sp_mdp.h"
#include "sp_zmsg.h"
#include "sp_zpoll.h"

#include "samspil/v1/broker.pb-c.h"
#include "samspil/v1/keys.pb-c.h"

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include <uv.h>
#include <zmq.h>

#define BROKER_HWM 100000
#define BROKER_STOP_LINGER_MS 500 /* lets DISCONNECTs out at a graceful stop */
#define DROP_LOG_PER_SECOND 20    /* malformed-message warnings, then a count */
#define SPARE_MESSAGES 256        /* freed message buffers kept for reuse */
#define KEYS_REFRESH_MS 1000      /* reread the key registry if it changed on disk */
#define EVENTS_REBIND_MS 200      /* after a revocation: pause before reopening the event bus */
#define EVENTS_REBIND_TRIES 50    /* then give up (exit 1) */
#define KEYS_SERVICE "samspil.keys"

/* Frame positions in received messages (the ROUTER prepends the identity):
 *   client request: identity | "" | MDPC01 | service | body...
 *   worker reply:   identity | "" | SPW01 | 0x03 | request-id | "" | body... */
#define AT_IDENTITY 0
#define AT_SERVICE 3
#define AT_REQUEST_BODY 4
#define AT_REPLY_BODY 6

/* A client request held by the core: the whole received message
 * (identity | "" | MDPC01 | service | body...) and its principal. */
typedef struct broker_request {
    sp_zmsg_t msg;
    sp_frame_t principal;        /* packed, owned by the principal module */
    struct broker_request *next; /* in the spare list */
} broker_request_t;

typedef struct {
    uv_loop_t loop;
    void *ctx;
    void *socket;
    sp_zpoll_t *zpoll;
    uv_timer_t tick;
    uv_signal_t sigterm;
    uv_signal_t sigint;
    broker_core_t *core;
    broker_principal_t *principal;
    broker_events_t *events;
    broker_events_config_t events_config; /* to reopen the event bus */
    broker_events_stats_t events_before;  /* counters of event buses closed before */
    /* security */
    bool plaintext;
    broker_keys_t *keys;
    broker_zap_t *zap;
    sp_curve_client_t server; /* the broker's key pair (CURVE mode) */
    uv_async_t zap_gone;      /* the ZAP thread ended on its own */
    uv_timer_t rebind;        /* reopen the event bus after a revocation */
    int rebind_tries;
    uint64_t revocations_seen;
    uint64_t last_refresh;
    int exit_code;
    broker_request_t *spare;
    size_t nspare;
    sp_buf_t scratch;
    bool stopping;
    /* rate limit of "dropped message" warnings */
    uint64_t drop_window;
    unsigned drop_logged;
    unsigned drop_suppressed;
} broker_t;

/* --- message buffers */

static broker_request_t *s_request_alloc(broker_t *self)
{
    broker_request_t *req = self->spare;
    if (req) {
        self->spare = req->next;
        self->nspare--;
    } else {
        req = malloc(sizeof *req);
        if (!req)
            abort();
    }
    req->msg.count = 0;
    req->msg.too_many = false;
    req->principal.data = "";
    req->principal.size = 0;
    req->next = NULL;
    return req;
}

static void s_request_free(broker_t *self, broker_request_t *req)
{
    sp_zmsg_close(&req->msg);
    if (self->nspare < SPARE_MESSAGES) {
        req->next = self->spare;
        self->spare = req;
        self->nspare++;
    } else {
        free(req);
    }
}

/* --- logging helpers */

/* Routing ids are opaque bytes; log them as hex (at most 16 bytes). */
static const char *s_hex(sp_frame_t id, char *out, size_t outlen)
{
    static const char digits[] = "0123456789abcdef";
    const unsigned char *p = id.data;
    size_t n = id.size < 16 ? id.size : 16;
    size_t k = 0;
    for (size_t i = 0; i < n && k + 2 < outlen; i++) {
        out[k++] = digits[p[i] >> 4];
        out[k++] = digits[p[i] & 15];
    }
    out[k] = '\0';
    return out;
}

/* A service name is validated text; copy it for a log field. */
static const char *s_name(sp_frame_t name, char *out, size_t outlen)
{
    size_t n = name.size < outlen - 1 ? name.size : outlen - 1;
    memcpy(out, name.data, n);
    out[n] = '\0';
    return out;
}

/* True if one more line about a malformed message (dropped, or a refused
 * request) may be logged: at most DROP_LOG_PER_SECOND a second, then a count. */
static bool s_may_log_malformed(broker_t *self)
{
    uint64_t second = uv_now(&self->loop) / 1000;
    if (second != self->drop_window) {
        if (self->drop_suppressed)
            sp_log_warn("more malformed messages dropped or refused without logging them",
                        SP_LOG_INT("count", self->drop_suppressed), SP_LOG_END);
        self->drop_window = second;
        self->drop_logged = 0;
        self->drop_suppressed = 0;
    }
    if (self->drop_logged >= DROP_LOG_PER_SECOND) {
        self->drop_suppressed++;
        return false;
    }
    self->drop_logged++;
    return true;
}

/* Warn about a dropped message (rate limited).  Never logs frame contents:
 * only the reason, the frame count and size. */
static void s_dropped(broker_t *self, const char *reason, const sp_zmsg_t *msg)
{
    if (!s_may_log_malformed(self))
        return;
    size_t bytes = 0;
    for (size_t i = 0; i < msg->count; i++)
        bytes += zmq_msg_size((zmq_msg_t *)&msg->frames[i]);
    char peer[40];
    sp_log_warn("dropped malformed message", SP_LOG_STR("reason", reason),
                SP_LOG_STR("peer", s_hex(sp_zmsg_frame(msg, 0), peer, sizeof peer)),
                SP_LOG_INT("frames", msg->count), SP_LOG_INT("bytes", bytes), SP_LOG_END);
}

/* --- sends (all non-blocking; ROUTER_MANDATORY reports vanished peers) */

static void s_send_failed(const char *what, sp_frame_t peer)
{
    int err = zmq_errno();
    char hex[40];
    if (err == EHOSTUNREACH)
        sp_log_debug("peer is gone", SP_LOG_STR("sending", what),
                     SP_LOG_STR("peer", s_hex(peer, hex, sizeof hex)), SP_LOG_END);
    else
        sp_log_warn("could not send", SP_LOG_STR("sending", what),
                    SP_LOG_STR("peer", s_hex(peer, hex, sizeof hex)),
                    SP_LOG_STR("error", zmq_strerror(err)), SP_LOG_END);
}

static int s_send_request(void *arg, sp_frame_t worker, uint64_t id, void *payload)
{
    broker_t *self = arg;
    broker_request_t *req = payload;
    uint8_t id_bytes[SP_MDP_REQUEST_ID_SIZE];
    sp_mdp_request_id_encode(id, id_bytes);
    const uint8_t command = SP_MDPW_REQUEST;
    sp_frame_t head[] = {
        worker,
        {"", 0},
        sp_frame_str(SP_MDP_WORKER),
        {&command, 1},
        {id_bytes, sizeof id_bytes},
        req->principal,
    };
    for (size_t i = 0; i < sizeof head / sizeof head[0]; i++) {
        if (zmq_send(self->socket, head[i].data, head[i].size, ZMQ_SNDMORE | ZMQ_DONTWAIT) < 0) {
            s_send_failed("request", worker);
            return -1; /* only the routing frame can fail on a ROUTER */
        }
    }
    /* body frames: shared, not copied (zmq_msg_copy counts references), so
     * the request can be sent again if this worker dies */
    for (size_t i = AT_REQUEST_BODY; i < req->msg.count; i++) {
        zmq_msg_t part;
        zmq_msg_init(&part);
        zmq_msg_copy(&part, &req->msg.frames[i]);
        int more = i + 1 < req->msg.count ? ZMQ_SNDMORE : 0;
        if (zmq_msg_send(&part, self->socket, more | ZMQ_DONTWAIT) < 0)
            zmq_msg_close(&part);
    }
    return 0;
}

static int s_send_command(void *arg, sp_frame_t worker, int command)
{
    broker_t *self = arg;
    const uint8_t byte = (uint8_t)command;
    sp_frame_t frames[] = {worker, {"", 0}, sp_frame_str(SP_MDP_WORKER), {&byte, 1}};
    if (sp_zsend(self->socket, frames, 4, ZMQ_DONTWAIT) == 0)
        return 0;
    s_send_failed(command == SP_MDPW_HEARTBEAT ? "heartbeat" : "disconnect", worker);
    return -1;
}

/* Reply to a client: identity | "" | MDPC01 | service | body. */
static void s_send_client(broker_t *self, broker_request_t *req, const void *body, size_t size)
{
    sp_frame_t frames[] = {sp_zmsg_frame(&req->msg, AT_IDENTITY),
                           {"", 0},
                           sp_frame_str(SP_MDP_CLIENT),
                           sp_zmsg_frame(&req->msg, AT_SERVICE),
                           {body ? body : "", size}};
    if (sp_zsend(self->socket, frames, 5, ZMQ_DONTWAIT) < 0)
        s_send_failed("reply", frames[0]);
}

static void s_send_error(void *arg, void *payload, sp_error_code_t code, const char *message)
{
    broker_t *self = arg;
    broker_request_t *req = payload;
    char service[SP_MDP_MAX_SERVICE_NAME + 1];
    /* a missing worker is routine (debug); a poison request or a full queue is not */
    bool routine = strncmp(message, "no worker", 9) == 0 || self->stopping;
    sp_log(routine ? SP_LOG_DEBUG : SP_LOG_WARN, "answering a request with an error",
           SP_LOG_STR("service",
                      s_name(sp_zmsg_frame(&req->msg, AT_SERVICE), service, sizeof service)),
           SP_LOG_STR("code", sp_error_code_name(code)), SP_LOG_STR("error", message), SP_LOG_END);
    broker_mmi_error_reply(code, NULL, message, &self->scratch);
    s_send_client(self, req, self->scratch.data, self->scratch.len);
}

/* Refuse a client request before it is queued: answer `err`.  The client's
 * mistake, so logged at info (rate limited) with counts only, never the body. */
static void s_refuse(broker_t *self, broker_request_t *req, const sp_error_t *err, size_t nbody)
{
    char service[SP_MDP_MAX_SERVICE_NAME + 1];
    if (s_may_log_malformed(self))
        sp_log_info("refused a request", SP_LOG_STR("code", sp_error_code_name(err->code)),
                    SP_LOG_STR("service", s_name(sp_zmsg_frame(&req->msg, AT_SERVICE), service,
                                                 sizeof service)),
                    SP_LOG_STR("field", err->field), SP_LOG_STR("error", err->message),
                    SP_LOG_INT("body_frames", nbody), SP_LOG_END);
    broker_mmi_error_reply(err->code, err->field, err->message, &self->scratch);
    s_send_client(self, req, self->scratch.data, self->scratch.len);
}

static void s_release(void *arg, void *payload)
{
    s_request_free(arg, payload);
}

static void s_worker_gone(void *arg, sp_frame_t worker, sp_frame_t service, const char *reason,
                          size_t requeued)
{
    broker_t *self = arg;
    char hex[40], name[SP_MDP_MAX_SERVICE_NAME + 1];
    bool quiet = strcmp(reason, "disconnected") == 0 || self->stopping;
    sp_log(quiet ? SP_LOG_INFO : SP_LOG_WARN, "worker removed", SP_LOG_STR("reason", reason),
           SP_LOG_STR("service", s_name(service, name, sizeof name)),
           SP_LOG_STR("worker", s_hex(worker, hex, sizeof hex)), SP_LOG_INT("requeued", requeued),
           SP_LOG_END);
}

static const broker_core_ops_t s_ops = {
    .send_request = s_send_request,
    .send_command = s_send_command,
    .send_error = s_send_error,
    .release = s_release,
    .worker_gone = s_worker_gone,
};

/* --- the event bus in mmi.status */

/* Append the event bus counters to a packed BrokerStatus in `out`: protobuf
 * parses concatenated messages as one merged message, so broker_mmi's
 * encoding stays as it is. */
static void s_status_events(broker_t *self, sp_buf_t *out)
{
    broker_events_stats_t stats = {0};
    if (self->events) /* NULL while the bus reopens after a revocation */
        broker_events_stats(self->events, &stats);
    stats.forwarded += self->events_before.forwarded;
    stats.dropped += self->events_before.dropped;
    stats.subscriptions += self->events_before.subscriptions;
    stats.refused += self->events_before.refused;
    Samspil__V1__BrokerStatus status = SAMSPIL__V1__BROKER_STATUS__INIT;
    status.events_forwarded = stats.forwarded;
    status.events_dropped = stats.dropped;
    status.event_subscriptions = stats.subscriptions;
    status.event_subscriptions_refused = stats.refused;
    uint8_t data[64]; /* four varint fields: at most 4 * 11 bytes */
    size_t size = samspil__v1__broker_status__get_packed_size(&status);
    if (size > sizeof data)
        return;
    samspil__v1__broker_status__pack(&status, data);
    sp_buf_append(out, data, size);
}

/* --- principals */

/* The ZAP User-Id of the connection a message came on (the client's public
 * key), or NULL (plain text).  Any frame carries the connection's metadata. */
static const char *s_user_id(sp_zmsg_t *msg)
{
    if (msg->count == 0)
        return NULL;
    const char *user = zmq_msg_gets(&msg->frames[msg->count - 1], "User-Id");
    return user && *user ? user : NULL;
}

/* Log (rate limited) a message refused for its principal. */
static void s_refuse_principal(broker_t *self, broker_request_t *req, broker_keys_status_t who,
                               const char *what)
{
    if (!s_may_log_malformed(self))
        return;
    char peer[40];
    const char *user = s_user_id(&req->msg);
    sp_log_warn("refused a message from a key that is not valid", SP_LOG_STR("message", what),
                SP_LOG_STR("reason", who == BROKER_KEYS_REVOKED ? "revoked" : "unknown"),
                SP_LOG_STR("public_key", user),
                SP_LOG_STR("peer", s_hex(sp_zmsg_frame(&req->msg, AT_IDENTITY), peer, sizeof peer)),
                SP_LOG_END);
}

/* --- the samspil.keys service (operators only) */

static void s_key_info(const broker_key_t *key, Samspil__V1__KeyInfo *info, char **tenants)
{
    samspil__v1__key_info__init(info);
    info->name = (char *)key->name;
    info->role = key->role;
    info->all_tenants = key->all_tenants;
    info->public_key = (char *)key->public_key;
    info->created = (char *)key->created;
    info->revoked = (char *)key->revoked;
    for (size_t i = 0; i < key->ntenants; i++)
        tenants[i] = (char *)key->tenants[i];
    info->n_tenants = key->ntenants;
    info->tenants = key->ntenants ? tenants : NULL;
}

typedef struct {
    broker_key_t *keys;
    size_t count;
    size_t cap;
} key_list_t;

static void s_collect_key(const broker_key_t *key, void *arg)
{
    key_list_t *list = arg;
    if (list->count == list->cap) {
        size_t cap = list->cap ? list->cap * 2 : 16;
        broker_key_t *grown = realloc(list->keys, cap * sizeof *grown);
        if (!grown)
            abort();
        list->keys = grown;
        list->cap = cap;
    }
    list->keys[list->count++] = *key;
}

/* Pack a KeyReply with `err` (may be NULL), one `key` (may be NULL) and a
 * list (may be NULL) into self->scratch. */
static void s_key_reply(broker_t *self, const sp_error_t *err, const broker_key_t *key,
                        const key_list_t *list)
{
    Samspil__V1__KeyReply reply = SAMSPIL__V1__KEY_REPLY__INIT;
    Samspil__V1__Error error = SAMSPIL__V1__ERROR__INIT;
    Samspil__V1__KeyInfo one;
    char *one_tenants[BROKER_KEYS_MAX_TENANTS];
    Samspil__V1__KeyInfo *infos = NULL;
    Samspil__V1__KeyInfo **ptrs = NULL;
    char **tenants = NULL;
    if (err && sp_error_is_set(err)) {
        sp_error_to_pb(err, &error);
        reply.error = &error;
    }
    if (key) {
        s_key_info(key, &one, one_tenants);
        reply.key = &one;
    }
    if (list && list->count) {
        infos = calloc(list->count, sizeof *infos);
        ptrs = calloc(list->count, sizeof *ptrs);
        tenants = calloc(list->count * BROKER_KEYS_MAX_TENANTS, sizeof *tenants);
        if (!infos || !ptrs || !tenants)
            abort();
        for (size_t i = 0; i < list->count; i++) {
            s_key_info(&list->keys[i], &infos[i], tenants + i * BROKER_KEYS_MAX_TENANTS);
            ptrs[i] = &infos[i];
        }
        reply.n_keys = list->count;
        reply.keys = ptrs;
    }
    if (!self->plaintext)
        reply.broker_key = self->server.public_key;
    size_t size = samspil__v1__key_reply__get_packed_size(&reply);
    sp_buf_reset(&self->scratch);
    uint8_t *data = malloc(size ? size : 1);
    if (!data)
        abort();
    samspil__v1__key_reply__pack(&reply, data);
    sp_buf_append(&self->scratch, data, size);
    free(data);
    free(infos);
    free(ptrs);
    free(tenants);
}

/* Prefix the field of `err` (e.g. "create." + "name"). */
static void s_qualify(sp_error_t *err, const char *prefix)
{
    char field[sizeof err->field + 16];
    int n = snprintf(field, sizeof field, "%s%s", prefix, err->field);
    if (err->field[0] && n > 0 && (size_t)n < sizeof err->field)
        memcpy(err->field, field, (size_t)n + 1);
}

static void s_keys_create(broker_t *self, const Samspil__V1__KeyCreate *create, sp_error_t *err,
                          broker_key_t *out)
{
    broker_key_t key;
    memset(&key, 0, sizeof key);
    if (!create->name || strlen(create->name) >= sizeof key.name) {
        sp_error_set(err, SP_INVALID_ARGUMENT, "create.name",
                     "name must be 1 to 63 of A-Z a-z 0-9 . _ -");
        return;
    }
    snprintf(key.name, sizeof key.name, "%s", create->name);
    key.role = create->role;
    key.all_tenants = create->all_tenants;
    if (create->n_tenants > BROKER_KEYS_MAX_TENANTS) {
        sp_error_set(err, SP_INVALID_ARGUMENT, "create.tenants", "more than %d tenants",
                     BROKER_KEYS_MAX_TENANTS);
        return;
    }
    for (size_t i = 0; i < create->n_tenants; i++) {
        const char *t = create->tenants[i] ? create->tenants[i] : "";
        if (strlen(t) != 3) {
            sp_error_set(err, SP_INVALID_ARGUMENT, "create.tenants",
                         "tenant %zu is not a municipality code", i + 1);
            return;
        }
        memcpy(key.tenants[i], t, 4);
    }
    key.ntenants = create->n_tenants;
    if (!create->public_key || strlen(create->public_key) != SP_CURVE_KEY_Z85 - 1) {
        sp_error_set(err, SP_INVALID_ARGUMENT, "create.public_key",
                     "public key must be 40 characters of Z85");
        return;
    }
    memcpy(key.public_key, create->public_key, SP_CURVE_KEY_Z85);
    if (broker_keys_create(self->keys, &key, out, err) != 0)
        s_qualify(err, "create."); /* broker_keys names the KeyCreate field */
}

static void s_keys_service(broker_t *self, broker_request_t *req, const sp_mdpc_t *mdpc,
                           Samspil__V1__Role role, const char *user_id)
{
    sp_error_t err;
    sp_error_clear(&err);
    broker_key_t key;
    bool have_key = false;
    key_list_t list = {0};
    const char *op = "unknown";
    Samspil__V1__KeyRequest *request = NULL;
    if (self->plaintext || !self->keys) {
        sp_error_set(&err, SP_FAILED_PRECONDITION, NULL,
                     "the broker runs in plain text: there is no key registry");
    } else if (role != SAMSPIL__V1__ROLE__ROLE_OPERATOR) {
        sp_error_set(&err, SP_PERMISSION_DENIED, NULL, "only operators may manage keys");
    } else if (mdpc->nbody != 1 || !(request = samspil__v1__key_request__unpack(
                                         NULL, mdpc->body[0].size, mdpc->body[0].data))) {
        sp_error_set(&err, SP_INVALID_ARGUMENT, NULL, "request is not a samspil.v1.KeyRequest");
    } else if (request->op_case == SAMSPIL__V1__KEY_REQUEST__OP_CREATE) {
        op = "create";
        s_keys_create(self, request->create, &err, &key);
        have_key = !sp_error_is_set(&err);
    } else if (request->op_case == SAMSPIL__V1__KEY_REQUEST__OP_LIST) {
        op = "list";
        broker_keys_foreach(self->keys, request->list->include_revoked, s_collect_key, &list);
    } else if (request->op_case == SAMSPIL__V1__KEY_REQUEST__OP_REVOKE) {
        op = "revoke";
        const Samspil__V1__KeyRevoke *r = request->revoke;
        const char *name = r->key_case == SAMSPIL__V1__KEY_REVOKE__KEY_NAME ? r->name : NULL;
        const char *pub =
            r->key_case == SAMSPIL__V1__KEY_REVOKE__KEY_PUBLIC_KEY ? r->public_key : NULL;
        if (broker_keys_revoke(self->keys, name, pub, &key, &err) == 0)
            have_key = true;
        else
            s_qualify(&err, "revoke.");
    } else {
        sp_error_set(&err, SP_INVALID_ARGUMENT, "op", "request names no operation");
    }
    broker_key_t caller;
    const char *caller_name =
        broker_principal_key(self->principal, user_id, &caller) == 0 ? caller.name : NULL;
    if (sp_error_is_set(&err))
        sp_log_info("key request refused", SP_LOG_STR("op", op), SP_LOG_STR("client", caller_name),
                    SP_LOG_STR("code", sp_error_code_name(err.code)),
                    SP_LOG_STR("field", err.field), SP_LOG_STR("error", err.message), SP_LOG_END);
    else if (have_key)
        sp_log_info(strcmp(op, "create") == 0 ? "key created" : "key revoked",
                    SP_LOG_STR("client", caller_name), SP_LOG_STR("key_name", key.name),
                    SP_LOG_STR("role", broker_keys_role_word(key.role)),
                    SP_LOG_STR("public_key", key.public_key), SP_LOG_END);
    s_key_reply(self, &err, have_key ? &key : NULL, &list);
    s_send_client(self, req, self->scratch.data, self->scratch.len);
    free(list.keys);
    if (request)
        samspil__v1__key_request__free_unpacked(request, NULL);
}

/* --- incoming messages */

/* A client request; `truncated` when it had more frames than were received
 * (sp_zmsg keeps the first SP_ZMSG_MAX_FRAMES, so its head is still here). */
static void s_on_client(broker_t *self, broker_request_t *req, const sp_frame_t *frames,
                        size_t count, bool truncated)
{
    sp_mdpc_t mdpc;
    const char *why;
    if (sp_mdpc_parse(frames + 1, count - 1, &mdpc, &why) < 0) {
        s_dropped(self, why, &req->msg);
        s_request_free(self, req);
        return;
    }
    /* a request no worker could receive whole would be dropped there and
     * hold a unit of its credit for good: refuse it here */
    sp_error_t err;
    if (broker_core_check_body(mdpc.body, mdpc.nbody, truncated, &err) < 0) {
        s_refuse(self, req, &err, mdpc.nbody);
        s_request_free(self, req);
        return;
    }
    /* who is asking: looked up again for every message, so a revoked key
     * is shut out also on a connection opened before */
    Samspil__V1__Role role = SAMSPIL__V1__ROLE__ROLE_UNSPECIFIED;
    const char *user_id = s_user_id(&req->msg);
    broker_keys_status_t who =
        broker_principal_lookup(self->principal, user_id, &req->principal, &role);
    if (who != BROKER_KEYS_VALID) {
        s_refuse_principal(self, req, who, "request");
        sp_error_set(&err, SP_PERMISSION_DENIED, NULL, "%s",
                     who == BROKER_KEYS_REVOKED ? "key is revoked" : "client is not authenticated");
        broker_mmi_error_reply(err.code, NULL, err.message, &self->scratch);
        s_send_client(self, req, self->scratch.data, self->scratch.len);
        s_request_free(self, req);
        return;
    }
    if (sp_frame_equals(mdpc.service, KEYS_SERVICE)) {
        s_keys_service(self, req, &mdpc, role, user_id);
        s_request_free(self, req);
        return;
    }
    if (broker_mmi_is_mmi(mdpc.service)) {
        broker_mmi_answer(self->core, broker_principal_development_mode(self->principal),
                          mdpc.service, mdpc.body, mdpc.nbody, &self->scratch);
        if (sp_frame_equals(mdpc.service, "mmi.status"))
            s_status_events(self, &self->scratch);
        s_send_client(self, req, self->scratch.data, self->scratch.len);
        s_request_free(self, req);
        return;
    }
    size_t bytes = sizeof *req;
    for (size_t i = 0; i < mdpc.nbody; i++)
        bytes += mdpc.body[i].size;
    broker_core_request(self->core, mdpc.service, req, bytes, uv_now(&self->loop));
}

/* Answer the client of `req` in place of a worker REPLY the broker received
 * only in part (more than SP_ZMSG_MAX_FRAMES frames): forwarding the head of
 * a reply would hand the client a wrong answer, dropping it would leave the
 * client waiting.  Logs sizes only, never contents. */
static void s_truncated_reply(broker_t *self, broker_request_t *req, const broker_request_t *msg,
                              sp_frame_t worker)
{
    size_t bytes = 0;
    for (size_t i = 0; i < msg->msg.count; i++)
        bytes += zmq_msg_size((zmq_msg_t *)&msg->msg.frames[i]);
    char service[SP_MDP_MAX_SERVICE_NAME + 1], hex[40];
    sp_log_warn("worker reply has too many frames; answered the client with an error",
                SP_LOG_STR("service",
                           s_name(sp_zmsg_frame(&req->msg, AT_SERVICE), service, sizeof service)),
                SP_LOG_STR("worker", s_hex(worker, hex, sizeof hex)),
                SP_LOG_INT("frames_received", msg->msg.count),
                SP_LOG_INT("max_frames", SP_ZMSG_MAX_FRAMES), SP_LOG_INT("bytes_received", bytes),
                SP_LOG_END);
    broker_mmi_error_reply(SP_INTERNAL, NULL, "worker reply has too many frames", &self->scratch);
    s_send_client(self, req, self->scratch.data, self->scratch.len);
}

/* A worker message; `truncated` when it had more frames than were received
 * (only a REPLY is acted on then: its head frames are still here). */
static void s_on_worker(broker_t *self, broker_request_t *msg, const sp_frame_t *frames,
                        size_t count, bool truncated)
{
    sp_mdpw_t cmd;
    const char *why;
    if (sp_mdpw_parse(frames + 1, count - 1, &cmd, &why) < 0) {
        s_dropped(self, why, &msg->msg);
        s_request_free(self, msg);
        return;
    }
    if (truncated && cmd.command != SP_MDPW_REPLY) {
        s_dropped(self, "too many frames", &msg->msg);
        s_request_free(self, msg);
        return;
    }
    sp_frame_t worker = frames[0];
    uint64_t now = uv_now(&self->loop);
    char hex[40], name[SP_MDP_MAX_SERVICE_NAME + 1];
    broker_core_result_t rc;
    /* workers authenticate too: only a valid service key may register, and
     * a revoked one is not heard any more (its worker expires) */
    sp_frame_t unused;
    Samspil__V1__Role role = SAMSPIL__V1__ROLE__ROLE_UNSPECIFIED;
    broker_keys_status_t who =
        broker_principal_lookup(self->principal, s_user_id(&msg->msg), &unused, &role);
    if (who != BROKER_KEYS_VALID) {
        s_refuse_principal(self, msg, who, "worker command");
        if (cmd.command == SP_MDPW_READY)
            s_send_command(self, worker, SP_MDPW_DISCONNECT);
        s_request_free(self, msg);
        return;
    }
    if (cmd.command == SP_MDPW_READY && !broker_principal_development_mode(self->principal) &&
        !broker_access_may_register(role)) {
        sp_log_warn("READY refused: the key is not a service key; sent DISCONNECT",
                    SP_LOG_STR("service", s_name(cmd.service, name, sizeof name)),
                    SP_LOG_STR("worker", s_hex(worker, hex, sizeof hex)),
                    SP_LOG_STR("role", broker_keys_role_word(role)), SP_LOG_END);
        s_send_command(self, worker, SP_MDPW_DISCONNECT);
        s_request_free(self, msg);
        return;
    }
    switch (cmd.command) {
    case SP_MDPW_READY:
        rc = broker_core_ready(self->core, worker, cmd.service, cmd.credit, now);
        if (rc == BROKER_CORE_OK)
            sp_log_info("worker ready",
                        SP_LOG_STR("service", s_name(cmd.service, name, sizeof name)),
                        SP_LOG_STR("worker", s_hex(worker, hex, sizeof hex)),
                        SP_LOG_INT("credit", cmd.credit), SP_LOG_END);
        else
            sp_log_warn("READY refused; sent DISCONNECT",
                        SP_LOG_STR("service", s_name(cmd.service, name, sizeof name)),
                        SP_LOG_STR("worker", s_hex(worker, hex, sizeof hex)), SP_LOG_END);
        break;
    case SP_MDPW_HEARTBEAT:
        if (broker_core_heartbeat(self->core, worker, now) != BROKER_CORE_OK)
            sp_log_debug("heartbeat from an unknown worker; sent DISCONNECT",
                         SP_LOG_STR("worker", s_hex(worker, hex, sizeof hex)), SP_LOG_END);
        break;
    case SP_MDPW_DISCONNECT:
        broker_core_disconnect(self->core, worker, now);
        break;
    case SP_MDPW_REPLY: {
        uint64_t id = 0;
        void *payload = NULL;
        sp_mdp_request_id_decode(cmd.request_id, &id);
        rc = broker_core_reply(self->core, worker, id, now, &payload);
        if (rc == BROKER_CORE_OK && truncated) {
            s_truncated_reply(self, payload, msg, worker);
            s_request_free(self, payload);
        } else if (rc == BROKER_CORE_OK) {
            broker_request_t *req = payload;
            /* client identity | "" | MDPC01 | service, then the reply body moved over */
            sp_frame_t head[] = {sp_zmsg_frame(&req->msg, AT_IDENTITY),
                                 {"", 0},
                                 sp_frame_str(SP_MDP_CLIENT),
                                 sp_zmsg_frame(&req->msg, AT_SERVICE)};
            if (sp_zsend_with_tail(self->socket, head, 4, &msg->msg, AT_REPLY_BODY, ZMQ_DONTWAIT) <
                0)
                s_send_failed("reply", head[0]);
            s_request_free(self, req);
        } else if (rc == BROKER_CORE_UNKNOWN_REQUEST) {
            sp_log_debug("dropped reply to a request not held by this worker",
                         SP_LOG_STR("worker", s_hex(worker, hex, sizeof hex)), SP_LOG_END);
        } else {
            sp_log_debug("reply from an unknown worker; sent DISCONNECT",
                         SP_LOG_STR("worker", s_hex(worker, hex, sizeof hex)), SP_LOG_END);
        }
        break;
    }
    default:
        s_dropped(self, "unexpected command from a worker", &msg->msg);
        break;
    }
    s_request_free(self, msg);
}

static void s_on_readable(void *socket, void *arg)
{
    broker_t *self = arg;
    broker_request_t *req = s_request_alloc(self);
    if (sp_zmsg_recv(&req->msg, socket, ZMQ_DONTWAIT) < 0) {
        if (zmq_errno() != EAGAIN && zmq_errno() != ETERM && zmq_errno() != EINTR)
            sp_log_warn("could not receive", SP_LOG_STR("error", zmq_strerror(zmq_errno())),
                        SP_LOG_END);
        s_request_free(self, req);
        return;
    }
    sp_frame_t frames[SP_ZMSG_MAX_FRAMES];
    size_t count = sp_zmsg_frames(&req->msg, frames);
    bool client = count >= 3 && sp_frame_equals(frames[2], SP_MDP_CLIENT);
    if (count < 3) {
        s_dropped(self, "message too short", &req->msg);
        s_request_free(self, req);
    } else if (client) {
        s_on_client(self, req, frames, count, req->msg.too_many);
    } else if (sp_frame_equals(frames[2], SP_MDP_WORKER)) {
        s_on_worker(self, req, frames, count, req->msg.too_many);
    } else if (req->msg.too_many) {
        s_dropped(self, "too many frames", &req->msg);
        s_request_free(self, req);
    } else {
        s_dropped(self, "unknown protocol header", &req->msg);
        s_request_free(self, req);
    }
}

/* --- the event bus, and reopening it after a revocation */

static void s_events_add_stats(broker_t *self)
{
    if (!self->events)
        return;
    broker_events_stats_t stats;
    broker_events_stats(self->events, &stats);
    self->events_before.forwarded += stats.forwarded;
    self->events_before.dropped += stats.dropped;
    self->events_before.subscriptions += stats.subscriptions;
    self->events_before.refused += stats.refused;
}

static void s_stop(broker_t *self, const char *why, int exit_code);

static void s_on_rebind(uv_timer_t *timer)
{
    broker_t *self = timer->data;
    if (self->stopping || self->events)
        return;
    self->events = broker_events_new(&self->loop, self->ctx, &self->events_config);
    if (self->events) {
        sp_log_info("event bus reopened: subscribers and publishers authenticate again",
                    SP_LOG_INT("tries", self->rebind_tries + 1), SP_LOG_END);
        self->rebind_tries = 0;
        return;
    }
    if (++self->rebind_tries >= EVENTS_REBIND_TRIES) {
        s_stop(self, "could not reopen the event bus", 1);
        return;
    }
    uv_timer_start(&self->rebind, s_on_rebind, EVENTS_REBIND_MS, 0);
}

/* A key that was valid is not any more: close the event bus, whose
 * connections are not checked per message, and reopen it shortly, so
 * every publisher and subscriber goes through ZAP again.  (Closing is
 * asynchronous in libzmq: binding the same endpoints at once could race
 * the old listener's cleanup, hence the pause.)  Subscribers notice the
 * gap and replay. */
static void s_events_reopen(broker_t *self)
{
    if (!self->events)
        return; /* already reopening */
    sp_log_info("a key was revoked: closing the event bus to drop its connections", SP_LOG_END);
    s_events_add_stats(self);
    broker_events_destroy(&self->events);
    self->rebind_tries = 0;
    uv_timer_start(&self->rebind, s_on_rebind, EVENTS_REBIND_MS, 0);
}

/* --- timers and signals */

static void s_on_tick(uv_timer_t *timer)
{
    broker_t *self = timer->data;
    uint64_t now = uv_now(&self->loop);
    broker_core_tick(self->core, now);
    if (self->keys) {
        if (now - self->last_refresh >= KEYS_REFRESH_MS) {
            self->last_refresh = now;
            broker_keys_refresh(self->keys);
        }
        uint64_t revocations = broker_keys_revocations(self->keys);
        if (revocations != self->revocations_seen) {
            self->revocations_seen = revocations;
            s_events_reopen(self);
        }
    }
    sp_zpoll_kick(self->zpoll); /* sends may have consumed the input edge */
}

/* Stop taking work: answer every request UNAVAILABLE, tell workers, close
 * the handles; main() then closes the sockets and returns `exit_code`. */
static void s_stop(broker_t *self, const char *why, int exit_code)
{
    if (self->stopping)
        return;
    self->stopping = true;
    self->exit_code = exit_code;
    sp_log(exit_code ? SP_LOG_ERROR : SP_LOG_INFO, "stopping", SP_LOG_STR("reason", why),
           SP_LOG_INT("workers", broker_core_worker_count(self->core)),
           SP_LOG_INT("requests", broker_core_request_count(self->core)), SP_LOG_END);
    broker_core_shutdown(self->core);
    uv_timer_stop(&self->tick);
    uv_timer_stop(&self->rebind);
    uv_close((uv_handle_t *)&self->tick, NULL);
    uv_close((uv_handle_t *)&self->rebind, NULL);
    uv_close((uv_handle_t *)&self->sigterm, NULL);
    uv_close((uv_handle_t *)&self->sigint, NULL);
    uv_close((uv_handle_t *)&self->zap_gone, NULL);
    sp_zpoll_destroy(&self->zpoll);
    broker_events_destroy(&self->events);
}

static void s_on_signal(uv_signal_t *handle, int signum)
{
    s_stop(handle->data, signum == SIGTERM ? "SIGTERM" : "SIGINT", 0);
}

/* The ZAP handler thread ended on its own (broker_zap.c): its socket stays
 * bound and unanswered, so no handshake completes; stop, and exit 1, so a
 * supervisor restarts a broker that authenticates again.  Never fail open. */
static void s_on_zap_gone(uv_async_t *handle)
{
    broker_t *self = handle->data;
    sp_log_error("the zap handler stopped: closing every socket and exiting", SP_LOG_END);
    s_stop(self, "zap handler stopped", 1);
}

/* Runs on the ZAP thread: only wake the loop. */
static void s_zap_exit(void *arg)
{
    broker_t *self = arg;
    uv_async_send(&self->zap_gone);
}

/* --- security hooks of the event bus */

static int s_events_configure(void *arg, void *socket, broker_events_side_t side)
{
    broker_t *self = arg;
    if (self->plaintext)
        return 0;
    return sp_curve_server_apply(socket, self->server.secret_key,
                                 side == BROKER_EVENTS_IN ? BROKER_ZAP_DOMAIN_EVENTS_IN
                                                          : BROKER_ZAP_DOMAIN_EVENTS_OUT);
}

static bool s_events_allow(void *arg, zmq_msg_t *subscription, const void *prefix, size_t len)
{
    broker_t *self = arg;
    const char *user = zmq_msg_gets(subscription, "User-Id");
    broker_key_t key;
    if (broker_principal_key(self->principal, user, &key) != 0)
        return false;
    bool ok = broker_access_may_subscribe(&key, prefix, len);
    if (!ok && s_may_log_malformed(self))
        sp_log_info("subscription refused", SP_LOG_STR("client", key.name),
                    SP_LOG_STR("role", broker_keys_role_word(key.role)),
                    SP_LOG_INT("prefix_bytes", len), SP_LOG_END);
    return ok;
}

/* --- setup */

static int s_mkdir(const char *path, mode_t mode)
{
    if (mkdir(path, mode) == 0 || errno == EEXIST)
        return 0;
    sp_log_error("could not create directory", SP_LOG_STR("path", path),
                 SP_LOG_STR("error", strerror(errno)), SP_LOG_END);
    return -1;
}

/* Make `home` absolute (relative to the working directory). */
static char *s_absolute(const char *home)
{
    sp_buf_t buf;
    sp_buf_init(&buf);
    if (home[0] != '/') {
        char cwd[PATH_MAX];
        if (!getcwd(cwd, sizeof cwd))
            return NULL;
        sp_buf_puts(&buf, cwd);
        sp_buf_puts(&buf, "/");
        if (home[0] == '.' && home[1] == '/')
            home += 2;
    }
    sp_buf_puts(&buf, home);
    while (buf.len > 1 && buf.data[buf.len - 1] == '/')
        buf.data[--buf.len] = '\0';
    return sp_buf_take(&buf);
}

static uint64_t s_random_first_id(void)
{
    uint64_t value = 0;
    if (getrandom(&value, sizeof value, GRND_NONBLOCK) != (ssize_t)sizeof value) {
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        value = (uint64_t)ts.tv_sec * 1000000007ULL ^ (uint64_t)ts.tv_nsec ^ (uint64_t)getpid();
    }
    /* leave room below 2^64 so ids never wrap in practice */
    return (value >> 2) | 1;
}

static int s_setopt_int(void *socket, int option, int value, const char *name)
{
    if (zmq_setsockopt(socket, option, &value, sizeof value) == 0)
        return 0;
    sp_log_error("could not set socket option", SP_LOG_STR("option", name),
                 SP_LOG_STR("error", zmq_strerror(zmq_errno())), SP_LOG_END);
    return -1;
}

/* The ROUTER for clients and workers, in self->ctx; a CURVE server unless
 * plain text (the ZAP handler must be bound already). */
static int s_open_socket(broker_t *self, const char *const *endpoints, size_t nendpoints)
{
    self->socket = zmq_socket(self->ctx, ZMQ_ROUTER);
    if (!self->socket)
        return -1;
    if (!self->plaintext &&
        sp_curve_server_apply(self->socket, self->server.secret_key, BROKER_ZAP_DOMAIN_BROKER) < 0)
        return -1;
    int64_t maxmsg = SP_MDP_MAX_FRAME_SIZE;
    if (zmq_setsockopt(self->socket, ZMQ_MAXMSGSIZE, &maxmsg, sizeof maxmsg) < 0 ||
        s_setopt_int(self->socket, ZMQ_ROUTER_MANDATORY, 1, "ZMQ_ROUTER_MANDATORY") < 0 ||
        s_setopt_int(self->socket, ZMQ_LINGER, 0, "ZMQ_LINGER") < 0 ||
        s_setopt_int(self->socket, ZMQ_SNDHWM, BROKER_HWM, "ZMQ_SNDHWM") < 0 ||
        s_setopt_int(self->socket, ZMQ_RCVHWM, BROKER_HWM, "ZMQ_RCVHWM") < 0)
        return -1;
    for (size_t i = 0; i < nendpoints; i++) {
        if (zmq_bind(self->socket, endpoints[i]) < 0) {
            sp_log_error("could not bind", SP_LOG_STR("endpoint", endpoints[i]),
                         SP_LOG_STR("error", zmq_strerror(zmq_errno())), SP_LOG_END);
            return -1;
        }
        sp_log_info("listening", SP_LOG_STR("endpoint", endpoints[i]), SP_LOG_END);
    }
    return 0;
}

/* The non-empty values of list option `opt` into `out` (room for
 * SP_OPT_MAX_VALUES), or `fallback` if there are none; returns the count. */
static size_t s_endpoints(const sp_option_t *opt, const char *fallback, const char **out)
{
    size_t n = 0;
    for (size_t i = 0; i < opt->nvalues; i++)
        if (opt->values[i] && *opt->values[i])
            out[n++] = opt->values[i];
    if (n == 0)
        out[n++] = fallback;
    return n;
}

/* Plain text: mark every log line from now on, and allow it only when
 * every endpoint in `lists` is ipc/inproc or loopback tcp.  Returns 0, or
 * -1 after logging the endpoint that is not. */
static int s_plaintext_allowed(const char *const *const *lists, const size_t *counts, size_t nlists)
{
    sp_log_add_global("plaintext", "true");
    for (size_t l = 0; l < nlists; l++) {
        for (size_t i = 0; i < counts[l]; i++) {
            if (!broker_access_local_endpoint(lists[l][i])) {
                sp_log_error("refusing plain text on an endpoint other machines may reach: use "
                             "ipc:// or a loopback tcp address, or CURVE",
                             SP_LOG_STR("endpoint", lists[l][i]), SP_LOG_END);
                return -1;
            }
        }
    }
    return 0;
}

/* Run the broker until it stops; returns the exit code.  Everything it
 * opened is released, also when it fails to start. */
static int s_serve(broker_t *self, const char *home, int heartbeat_ms, int unavailable_ms,
                   bool plaintext, const char **endpoints, size_t nendpoints,
                   const char **events_in, size_t nevents_in, const char **events_out,
                   size_t nevents_out)
{
    int rc = 1;
    bool loop_ready = false;
    sp_buf_init(&self->scratch);

    /* plain text only when asked for, and only where nobody else can reach */
    const char *const *lists[] = {endpoints, events_in, events_out};
    size_t counts[] = {nendpoints, nevents_in, nevents_out};
    self->plaintext = plaintext;
    if (self->plaintext) {
        if (s_plaintext_allowed(lists, counts, 3) != 0) {
            rc = 2;
            goto out;
        }
    }
    if (!self->plaintext) {
        char registry[PATH_MAX];
        snprintf(registry, sizeof registry, "%s/keys/%s", home, BROKER_KEYS_FILE);
        if (broker_init_load_server(home, &self->server) != 0)
            goto out;
        self->keys = broker_keys_new(registry);
        if (!self->keys)
            goto out;
        self->revocations_seen = broker_keys_revocations(self->keys);
        if (broker_keys_count(self->keys) == 0)
            sp_log_warn("the key registry is empty: no client can connect (run "
                        "samspil-broker --init-keys)",
                        SP_LOG_STR("path", registry), SP_LOG_END);
    }

    if (uv_loop_init(&self->loop) < 0)
        goto out;
    loop_ready = true;
    uv_async_init(&self->loop, &self->zap_gone, s_on_zap_gone);
    self->zap_gone.data = self;
    uv_timer_init(&self->loop, &self->tick);
    uv_timer_init(&self->loop, &self->rebind);
    uv_signal_init(&self->loop, &self->sigterm);
    uv_signal_init(&self->loop, &self->sigint);
    self->tick.data = self->rebind.data = self;
    self->sigterm.data = self->sigint.data = self;
    self->ctx = zmq_ctx_new();
    if (!self->ctx)
        goto out;
    if (!self->plaintext) {
        /* the ZAP handler is bound before any CURVE socket exists: libzmq
         * lets every client in while nothing is bound there */
        broker_zap_config_t zap_config = {
            .keys = self->keys,
            .on_exit = s_zap_exit,
            .arg = self,
            .exit_after = broker_zap_fault_exit_after(getenv("SAMSPIL_FAULT")),
        };
        if (zap_config.exit_after > 0)
            sp_log_warn("fault injection: the zap handler ends after answering N requests",
                        SP_LOG_INT("n", zap_config.exit_after), SP_LOG_END);
        self->zap = broker_zap_new(self->ctx, &zap_config);
        if (!self->zap)
            goto out;
        self->principal = broker_principal_new(self->keys);
    } else {
        self->principal = broker_principal_new_development();
    }
    if (!self->principal || s_open_socket(self, endpoints, nendpoints) < 0)
        goto out;
    self->events_config = (broker_events_config_t){
        .in_endpoints = events_in,
        .nin = nevents_in,
        .out_endpoints = events_out,
        .nout = nevents_out,
        .configure = s_events_configure,
        .configure_arg = self,
        .allow_subscription = self->plaintext ? NULL : s_events_allow,
        .allow_arg = self,
    };
    self->events = broker_events_new(&self->loop, self->ctx, &self->events_config);
    if (!self->events)
        goto out;
    broker_core_config_t config = {
        .heartbeat_ms = heartbeat_ms,
        .liveness = SP_MDP_LIVENESS,
        .unavailable_ms = unavailable_ms,
        .first_id = s_random_first_id(),
    };
    self->core = broker_core_new(&config, &s_ops, self);
    self->zpoll = sp_zpoll_new(&self->loop, self->socket, s_on_readable, self);
    if (!self->core || !self->zpoll)
        goto out;

    /* a tenth of the shorter interval: expiry and the unavailable answer are
     * late by at most one tick */
    int shortest = config.heartbeat_ms;
    if (config.unavailable_ms > 0 && config.unavailable_ms < shortest)
        shortest = config.unavailable_ms;
    uint64_t tick_ms = (uint64_t)(shortest / 10 > 5 ? shortest / 10 : 5);
    if (tick_ms > 100)
        tick_ms = 100;
    uv_timer_start(&self->tick, s_on_tick, tick_ms, tick_ms);
    uv_signal_start(&self->sigterm, s_on_signal, SIGTERM);
    uv_signal_start(&self->sigint, s_on_signal, SIGINT);
    signal(SIGPIPE, SIG_IGN);

    if (self->plaintext)
        sp_log_warn("development mode (plain text): no client is authenticated; every request "
                    "runs as operator of all tenants",
                    SP_LOG_STR("client_id", BROKER_PRINCIPAL_DEV_CLIENT), SP_LOG_END);
    sp_log_info("broker started", SP_LOG_STR("version", SAMSPIL_VERSION), SP_LOG_STR("home", home),
                SP_LOG_STR("security", self->plaintext ? "plaintext" : "curve"),
                SP_LOG_STR("broker_key", self->plaintext ? NULL : self->server.public_key),
                SP_LOG_INT("keys", self->keys ? broker_keys_count(self->keys) : 0),
                SP_LOG_INT("heartbeat_ms", config.heartbeat_ms),
                SP_LOG_INT("liveness", config.liveness),
                SP_LOG_INT("unavailable_ms", config.unavailable_ms), SP_LOG_END);

    uv_run(&self->loop, UV_RUN_DEFAULT);
    rc = self->exit_code;

out:
    /* stopped (the core already answered everyone and sent DISCONNECTs), or
     * failed to start.  Close the CURVE sockets before the ZAP handler,
     * never after. */
    if (!self->stopping && loop_ready) {
        self->stopping = true;
        uv_close((uv_handle_t *)&self->tick, NULL);
        uv_close((uv_handle_t *)&self->rebind, NULL);
        uv_close((uv_handle_t *)&self->sigterm, NULL);
        uv_close((uv_handle_t *)&self->sigint, NULL);
        uv_close((uv_handle_t *)&self->zap_gone, NULL);
        sp_zpoll_destroy(&self->zpoll);
        broker_events_destroy(&self->events);
        uv_run(&self->loop, UV_RUN_DEFAULT); /* close callbacks */
    }
    if (self->socket) {
        int linger = rc ? 0 : BROKER_STOP_LINGER_MS;
        zmq_setsockopt(self->socket, ZMQ_LINGER, &linger, sizeof linger);
        zmq_close(self->socket);
    }
    broker_zap_stats_t zap_stats = {0};
    if (self->zap)
        broker_zap_stats(self->zap, &zap_stats);
    broker_zap_destroy(&self->zap);
    if (self->ctx)
        zmq_ctx_term(self->ctx);
    broker_core_destroy(&self->core);
    broker_principal_destroy(&self->principal);
    broker_keys_destroy(&self->keys);
    explicit_bzero(&self->server, sizeof self->server);
    if (loop_ready)
        uv_loop_close(&self->loop);
    while (self->spare) {
        broker_request_t *next = self->spare->next;
        free(self->spare);
        self->spare = next;
    }
    sp_buf_free(&self->scratch);
    if (loop_ready)
        sp_log(rc ? SP_LOG_ERROR : SP_LOG_INFO, "stopped", SP_LOG_INT("exit_code", rc),
               SP_LOG_INT("connections_accepted", zap_stats.accepted),
               SP_LOG_INT("connections_refused", zap_stats.refused), SP_LOG_END);
    return rc;
}

int main(int argc, char **argv)
{
    sp_log_init("broker");
    sp_option_t opts[] = {
        {.flag = "bind",
         .env = "SAMSPIL_BROKER_BIND",
         .type = SP_OPT_LIST,
         .metavar = "ENDPOINT",
         .help = "endpoint for clients and workers (env: comma-separated list; default "
                 "ipc://DIR/run/broker.ipc)"},
        {.flag = "events-in-bind",
         .env = "SAMSPIL_EVENTS_IN_BIND",
         .type = SP_OPT_LIST,
         .metavar = "ENDPOINT",
         .help = "event bus endpoint publishers connect to (env: comma-separated list; default "
                 "ipc://DIR/run/events-in.ipc)"},
        {.flag = "events-out-bind",
         .env = "SAMSPIL_EVENTS_OUT_BIND",
         .type = SP_OPT_LIST,
         .metavar = "ENDPOINT",
         .help = "event bus endpoint subscribers connect to (env: comma-separated list; "
                 "default ipc://DIR/run/events-out.ipc)"},
        {.flag = "home",
         .env = "SAMSPIL_HOME",
         .default_value = "./var",
         .metavar = "DIR",
         .help = "suite home: sockets go in DIR/run"},
        {.flag = "heartbeat-ms",
         .env = "SAMSPIL_HEARTBEAT_MS",
         .type = SP_OPT_INT,
         .default_value = "1000",
         .metavar = "MS",
         .help = "heartbeat interval; a worker silent for 3 intervals is dropped"},
        {.flag = "unavailable-ms",
         .env = "SAMSPIL_UNAVAILABLE_MS",
         .type = SP_OPT_INT,
         .default_value = "3000",
         .metavar = "MS",
         .help = "how long a request waits for a worker before it fails with unavailable"},
        {.flag = "log-level",
         .env = "SAMSPIL_LOG_LEVEL",
         .default_value = "info",
         .metavar = "LEVEL",
         .help = "debug, info, warn or error"},
        {.flag = "init-keys",
         .type = SP_OPT_FLAG,
         .help = "create what is missing under DIR/keys (the broker's key pair, the key "
                 "registry,\noperator.cert and service.cert) and exit"},
        {.flag = "plaintext",
         .env = "SAMSPIL_PLAINTEXT",
         .type = SP_OPT_FLAG,
         .help = "development mode: no CURVE, every client is an operator of all tenants; "
                 "only\nwith ipc or loopback endpoints, and said in every log line"},
    };
    const size_t nopts = sizeof opts / sizeof opts[0];
    sp_program_info_t info = {
        .program = "samspil-broker",
        .usage = "[OPTIONS]",
        .description = "Routes MDP/0.1 client requests to Samspil service workers (SPW01 "
                       "protocol), balancing\nover every worker of a service, with heartbeats, "
                       "requeue of a dead worker's requests\nand mmi.service / mmi.status. "
                       "Forwards events from publishers to subscribers\n(XSUB in, XPUB out). "
                       "See docs/protocol.md.",
    };
    if (sp_config_parse(&info, opts, nopts, argc, argv, NULL, NULL) < 0)
        return 2;
    sp_option_t *o_bind = sp_config_find(opts, nopts, "bind");
    sp_option_t *o_home = sp_config_find(opts, nopts, "home");
    sp_option_t *o_events_in = sp_config_find(opts, nopts, "events-in-bind");
    sp_option_t *o_events_out = sp_config_find(opts, nopts, "events-out-bind");
    sp_option_t *o_heartbeat = sp_config_find(opts, nopts, "heartbeat-ms");
    sp_option_t *o_unavailable = sp_config_find(opts, nopts, "unavailable-ms");
    sp_option_t *o_level = sp_config_find(opts, nopts, "log-level");
    sp_option_t *o_init = sp_config_find(opts, nopts, "init-keys");
    sp_option_t *o_plaintext = sp_config_find(opts, nopts, "plaintext");

    sp_log_level_t level;
    if (sp_log_level_parse(o_level->value, &level) < 0) {
        fprintf(stderr, "samspil-broker: invalid value \"%s\" for --log-level\n", o_level->value);
        return 2;
    }
    sp_log_set_level(level);
    if (o_heartbeat->int_value < 10 || o_heartbeat->int_value > 600000) {
        fprintf(stderr,
                "samspil-broker: invalid value \"%s\" for --heartbeat-ms: not in 10..600000\n",
                o_heartbeat->value);
        return 2;
    }
    if (o_unavailable->int_value < 0 || o_unavailable->int_value > 3600000) {
        fprintf(stderr,
                "samspil-broker: invalid value \"%s\" for --unavailable-ms: not in 0..3600000\n",
                o_unavailable->value);
        return 2;
    }

    char *home = s_absolute(o_home->value);
    if (!home)
        return 1;
    if (o_init->int_value) {
        int rc = broker_init_keys(home);
        free(home);
        return rc == 0 ? 0 : 1;
    }
    sp_buf_t run_dir, default_bind, default_events_in, default_events_out;
    sp_buf_init(&run_dir);
    sp_buf_init(&default_bind);
    sp_buf_init(&default_events_in);
    sp_buf_init(&default_events_out);
    sp_buf_printf(&run_dir, "%s/run", home);
    sp_buf_printf(&default_bind, "ipc://%s/broker.ipc", run_dir.data);
    /* the same strings as sp_events_in_default / sp_events_out_default */
    sp_buf_printf(&default_events_in, "ipc://%s/events-in.ipc", run_dir.data);
    sp_buf_printf(&default_events_out, "ipc://%s/events-out.ipc", run_dir.data);
    if (s_mkdir(home, 0755) < 0 || s_mkdir(run_dir.data, 0700) < 0) {
        sp_buf_free(&run_dir);
        sp_buf_free(&default_bind);
        sp_buf_free(&default_events_in);
        sp_buf_free(&default_events_out);
        free(home);
        return 1;
    }
    const char *endpoints[SP_OPT_MAX_VALUES];
    size_t nendpoints = 0;
    for (size_t i = 0; i < o_bind->nvalues; i++)
        if (o_bind->values[i] && *o_bind->values[i])
            endpoints[nendpoints++] = o_bind->values[i];
    if (nendpoints == 0)
        endpoints[nendpoints++] = default_bind.data;
    const char *events_in[SP_OPT_MAX_VALUES], *events_out[SP_OPT_MAX_VALUES];
    size_t nevents_in = s_endpoints(o_events_in, default_events_in.data, events_in);
    size_t nevents_out = s_endpoints(o_events_out, default_events_out.data, events_out);

    static broker_t broker; /* zeroed */
    int exit_code = s_serve(&broker, home, (int)o_heartbeat->int_value,
                            (int)o_unavailable->int_value, o_plaintext->int_value != 0, endpoints,
                            nendpoints, events_in, nevents_in, events_out, nevents_out);
    sp_buf_free(&run_dir);
    sp_buf_free(&default_bind);
    sp_buf_free(&default_events_in);
    sp_buf_free(&default_events_out);
    free(home);
    return exit_code;
}
