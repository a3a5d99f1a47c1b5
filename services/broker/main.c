/*
 * main.c - samspil-broker: one ROUTER socket on a libuv loop routing MDP/0.1
 * client requests to SPW01 workers (docs/protocol.md), and the event bus
 * (XSUB in, XPUB out: broker_events.c).  Routing decisions live in
 * broker_core.c; this file does sockets, timers, signals and logs.
 */
#include "broker_core.h"
#include "broker_events.h"
#include "broker_mmi.h"
#include "broker_principal.h"
#include "sp_buf.h"
#include "sp_config.h"
#include "sp_log.h"
#include "sp_mdp.h"
#include "sp_zmsg.h"
#include "sp_zpoll.h"

#include "samspil/v1/broker.pb-c.h"

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
    broker_events_stats_t stats;
    broker_events_stats(self->events, &stats);
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
    if (broker_mmi_is_mmi(mdpc.service)) {
        broker_mmi_answer(self->core, broker_principal_development_mode(self->principal),
                          mdpc.service, mdpc.body, mdpc.nbody, &self->scratch);
        if (sp_frame_equals(mdpc.service, "mmi.status"))
            s_status_events(self, &self->scratch);
        s_send_client(self, req, self->scratch.data, self->scratch.len);
        s_request_free(self, req);
        return;
    }
    if (broker_principal_for(self->principal, NULL, &req->principal) < 0) {
        s_send_error(self, req, SP_PERMISSION_DENIED, "client is not authenticated");
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

/* --- timers and signals */

static void s_on_tick(uv_timer_t *timer)
{
    broker_t *self = timer->data;
    broker_core_tick(self->core, uv_now(&self->loop));
    sp_zpoll_kick(self->zpoll); /* sends may have consumed the input edge */
}

static void s_on_signal(uv_signal_t *handle, int signum)
{
    broker_t *self = handle->data;
    if (self->stopping)
        return;
    self->stopping = true;
    sp_log_info("stopping", SP_LOG_STR("signal", signum == SIGTERM ? "SIGTERM" : "SIGINT"),
                SP_LOG_INT("workers", broker_core_worker_count(self->core)),
                SP_LOG_INT("requests", broker_core_request_count(self->core)), SP_LOG_END);
    broker_core_shutdown(self->core);
    uv_timer_stop(&self->tick);
    uv_close((uv_handle_t *)&self->tick, NULL);
    uv_close((uv_handle_t *)&self->sigterm, NULL);
    uv_close((uv_handle_t *)&self->sigint, NULL);
    sp_zpoll_destroy(&self->zpoll);
    broker_events_destroy(&self->events);
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

static int s_open_socket(broker_t *self, const char *const *endpoints, size_t nendpoints)
{
    self->ctx = zmq_ctx_new();
    if (!self->ctx)
        return -1;
    self->socket = zmq_socket(self->ctx, ZMQ_ROUTER);
    if (!self->socket)
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
    if (s_mkdir(home, 0755) < 0 || s_mkdir(run_dir.data, 0700) < 0)
        return 1;
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
    broker_t *self = &broker;
    sp_buf_init(&self->scratch);
    if (uv_loop_init(&self->loop) < 0)
        return 1;
    if (s_open_socket(self, endpoints, nendpoints) < 0) {
        if (self->socket)
            zmq_close(self->socket);
        if (self->ctx)
            zmq_ctx_term(self->ctx);
        return 1;
    }
    self->principal = broker_principal_new_development();
    if (!self->principal)
        return 1;
    broker_events_config_t events_config = {
        .in_endpoints = events_in,
        .nin = nevents_in,
        .out_endpoints = events_out,
        .nout = nevents_out,
    };
    self->events = broker_events_new(&self->loop, self->ctx, &events_config);
    if (!self->events) {
        zmq_close(self->socket);
        zmq_ctx_term(self->ctx);
        return 1;
    }
    broker_core_config_t config = {
        .heartbeat_ms = (int)o_heartbeat->int_value,
        .liveness = SP_MDP_LIVENESS,
        .unavailable_ms = (int)o_unavailable->int_value,
        .first_id = s_random_first_id(),
    };
    self->core = broker_core_new(&config, &s_ops, self);
    self->zpoll = sp_zpoll_new(&self->loop, self->socket, s_on_readable, self);
    if (!self->zpoll)
        return 1;

    /* a tenth of the shorter interval: expiry and the unavailable answer are
     * late by at most one tick */
    int shortest = config.heartbeat_ms;
    if (config.unavailable_ms > 0 && config.unavailable_ms < shortest)
        shortest = config.unavailable_ms;
    uint64_t tick_ms = (uint64_t)(shortest / 10 > 5 ? shortest / 10 : 5);
    if (tick_ms > 100)
        tick_ms = 100;
    uv_timer_init(&self->loop, &self->tick);
    self->tick.data = self;
    uv_timer_start(&self->tick, s_on_tick, tick_ms, tick_ms);
    uv_signal_init(&self->loop, &self->sigterm);
    uv_signal_init(&self->loop, &self->sigint);
    self->sigterm.data = self->sigint.data = self;
    uv_signal_start(&self->sigterm, s_on_signal, SIGTERM);
    uv_signal_start(&self->sigint, s_on_signal, SIGINT);
    signal(SIGPIPE, SIG_IGN);

    sp_log_warn("development mode: no client is authenticated; every request runs as "
                "operator of all tenants",
                SP_LOG_STR("client_id", BROKER_PRINCIPAL_DEV_CLIENT), SP_LOG_END);
    sp_log_info("broker started", SP_LOG_STR("version", SAMSPIL_VERSION), SP_LOG_STR("home", home),
                SP_LOG_INT("heartbeat_ms", config.heartbeat_ms),
                SP_LOG_INT("liveness", config.liveness),
                SP_LOG_INT("unavailable_ms", config.unavailable_ms), SP_LOG_END);

    uv_run(&self->loop, UV_RUN_DEFAULT);

    /* stopped by a signal: the core already answered everyone and sent DISCONNECTs */
    int linger = BROKER_STOP_LINGER_MS;
    zmq_setsockopt(self->socket, ZMQ_LINGER, &linger, sizeof linger);
    zmq_close(self->socket);
    zmq_ctx_term(self->ctx);
    broker_core_destroy(&self->core);
    broker_principal_destroy(&self->principal);
    uv_loop_close(&self->loop);
    while (self->spare) {
        broker_request_t *next = self->spare->next;
        free(self->spare);
        self->spare = next;
    }
    sp_buf_free(&self->scratch);
    sp_buf_free(&run_dir);
    sp_buf_free(&default_bind);
    sp_buf_free(&default_events_in);
    sp_buf_free(&default_events_out);
    free(home);
    sp_log_info("stopped", SP_LOG_END);
    return 0;
}
