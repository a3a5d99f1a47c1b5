/*
 * sp_worker.c - the worker side of a service (SPW01, see sp_mdp.h): a DEALER
 * socket on the libuv loop, READY with credit, heartbeats both ways, and a
 * fresh socket when the broker goes silent or disconnects us (Paranoid
 * Pirate, backoff 250 ms doubling to 8 s, reset by the first message the
 * broker sends on the new socket).
 *
 * Every send uses ZMQ_DONTWAIT: while the broker is away the socket's queue
 * may fill, and the loop must never block on it (a message that cannot be
 * queued is dropped; the broker requeues or the client retries).
 *
 * Graceful stop (sp_worker_stop) relies on the broker's handling of a
 * worker's DISCONNECT: it gives that worker no new work, still takes its
 * replies to the requests it holds, and forgets it after the last one.  So
 * the worker sends DISCONNECT at once, then keeps heartbeating and answering
 * - including any REQUEST the broker sent before it read the DISCONNECT:
 * the broker counts that one as held by us, so it is handled, not dropped.
 * Once nothing is in flight the worker sends a HEARTBEAT as a probe; a
 * broker that has forgotten the worker answers it with DISCONNECT, and
 * since the broker's messages arrive in order, nothing is on its way to us
 * any more.  The stop is complete when nothing is in flight and either that
 * DISCONNECT came, or the broker is gone (silent for `liveness` intervals,
 * or the socket was being replaced: no reconnect is tried while stopping),
 * or `grace_ms` has passed.  done() is always called from a timer callback,
 * never from inside sp_worker_stop or sp_request_reply.
 */
#include "sp_worker.h"
#include "sp_error.h"
#include "sp_log.h"
#include "sp_mdp.h"
#include "sp_zmsg.h"
#include "sp_zpoll.h"

#include <errno.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zmq.h>

#define SP_WORKER_BACKOFF_MIN_MS 250
#define SP_WORKER_BACKOFF_MAX_MS 8000
#define SP_WORKER_LINGER_MS 1000
#define SP_WORKER_HWM 10000
#define SP_WORKER_MAIN_GRACE_MS 5000
/* A REQUEST's frames before the body: "" | SPW01 | 0x02 | request-id | principal. */
#define SP_WORKER_REQUEST_HEAD 5

typedef enum {
    SP_WORKER_IDLE,     /* created, not started */
    SP_WORKER_RUNNING,  /* taking work */
    SP_WORKER_STOPPING, /* sp_worker_stop called: DISCONNECT sent, draining */
    SP_WORKER_STOPPED,  /* done() called (or destroyed) */
} sp_worker_state_t;

struct sp_request_t {
    sp_worker_t *worker; /* NULL once the worker is destroyed */
    sp_request_t *prev, *next;
    uint8_t id[SP_MDP_REQUEST_ID_SIZE];
    Samspil__V1__Principal *principal;
    zmq_msg_t body_msg; /* the body frame, moved from the received message */
    bool has_msg;
    uint8_t *body_copy; /* when the body came in several frames: joined here */
    size_t body_len;
};

struct sp_worker_t {
    uv_loop_t *loop;
    void *ctx; /* not owned */
    char *endpoint;
    char *service;
    unsigned credit;
    int heartbeat_ms;
    int liveness;
    sp_worker_handler_fn *handler;
    void *handler_arg;
    sp_curve_client_t curve; /* applied to every socket opened */

    void *socket; /* NULL while waiting to reconnect */
    sp_zpoll_t *zpoll;
    uv_timer_t heartbeat_timer; /* repeating: send HEARTBEAT, check the broker's liveness */
    uv_timer_t retry_timer;     /* one-shot: reconnect after the backoff */
    uv_timer_t grace_timer;     /* one-shot: end of a graceful stop */
    int open_handles;

    sp_worker_state_t state;
    uint64_t last_recv; /* loop time of the last message from the broker */
    int backoff_ms;     /* delay before the next reconnect */
    bool announced;     /* "worker ready" logged once */
    bool reconnecting;  /* on a reopened socket, nothing heard from the broker yet */

    bool broker_done; /* stopping: the broker forgot us, or is gone */

    sp_request_t *requests; /* in flight, doubly linked */
    size_t in_flight;

    void (*done)(void *arg);
    void *done_arg;
};

static int s_connect(sp_worker_t *self);

static char *s_strdup(const char *str)
{
    char *copy = strdup(str ? str : "");
    if (!copy)
        abort();
    return copy;
}

/* Send a command without body ("" | SPW01 | command), or READY with service
 * and credit.  Never blocks. */
static void s_send_command(sp_worker_t *self, uint8_t command)
{
    if (!self->socket)
        return;
    char credit[16];
    snprintf(credit, sizeof credit, "%u", self->credit);
    sp_frame_t frames[5] = {
        {"", 0},
        sp_frame_str(SP_MDP_WORKER),
        {&command, 1},
        sp_frame_str(self->service),
        sp_frame_str(credit),
    };
    size_t count = command == SP_MDPW_READY ? 5 : 3;
    if (sp_zsend(self->socket, frames, count, ZMQ_DONTWAIT) < 0)
        sp_log_debug("could not queue command for broker", SP_LOG_INT("command", command),
                     SP_LOG_STR("error", zmq_strerror(errno)), SP_LOG_END);
    sp_zpoll_kick(self->zpoll);
}

static void s_close_socket(sp_worker_t *self)
{
    sp_zpoll_destroy(&self->zpoll);
    if (self->socket) {
        zmq_close(self->socket);
        self->socket = NULL;
    }
}

static void s_on_retry(uv_timer_t *timer)
{
    sp_worker_t *self = timer->data;
    if (self->state != SP_WORKER_RUNNING || self->socket)
        return;
    if (s_connect(self) < 0) {
        uv_timer_start(&self->retry_timer, s_on_retry, (uint64_t)self->backoff_ms, 0);
        if ((self->backoff_ms *= 2) > SP_WORKER_BACKOFF_MAX_MS)
            self->backoff_ms = SP_WORKER_BACKOFF_MAX_MS;
    }
}

/* Drop the current socket and connect a fresh one after the backoff. */
static void s_reconnect_later(sp_worker_t *self, const char *why)
{
    s_close_socket(self);
    self->reconnecting = true;
    sp_log_warn("reconnecting to broker", SP_LOG_STR("reason", why),
                SP_LOG_STR("service", self->service), SP_LOG_STR("endpoint", self->endpoint),
                SP_LOG_INT("delay_ms", self->backoff_ms), SP_LOG_END);
    uv_timer_start(&self->retry_timer, s_on_retry, (uint64_t)self->backoff_ms, 0);
    if ((self->backoff_ms *= 2) > SP_WORKER_BACKOFF_MAX_MS)
        self->backoff_ms = SP_WORKER_BACKOFF_MAX_MS;
}

static void s_on_finish(uv_timer_t *timer);

/* While stopping: finish (on the next loop turn) once nothing is in flight
 * and the broker has let go of us; else probe it when nothing is in flight. */
static void s_stop_check(sp_worker_t *self)
{
    if (self->state != SP_WORKER_STOPPING || self->in_flight)
        return;
    if (self->broker_done)
        uv_timer_start(&self->grace_timer, s_on_finish, 0, 0);
    else
        s_send_command(self, SP_MDPW_HEARTBEAT);
}

/* Queue REPLY "" | SPW01 | 0x03 | id | "" | body for the broker.  Never blocks. */
static void s_send_reply(sp_worker_t *self, const uint8_t *id, const void *body, size_t len)
{
    if (!self->socket) {
        sp_log_debug("dropped reply while reconnecting to broker",
                     SP_LOG_STR("service", self->service), SP_LOG_END);
        return;
    }
    sp_frame_t frames[6] = {
        {"", 0},
        sp_frame_str(SP_MDP_WORKER),
        {(const uint8_t[]){SP_MDPW_REPLY}, 1},
        {id, SP_MDP_REQUEST_ID_SIZE},
        {"", 0},
        {body ? body : "", body ? len : 0},
    };
    if (sp_zsend(self->socket, frames, 6, ZMQ_DONTWAIT) < 0)
        sp_log_warn("could not queue reply for broker", SP_LOG_STR("service", self->service),
                    SP_LOG_STR("error", zmq_strerror(errno)), SP_LOG_END);
    sp_zpoll_kick(self->zpoll);
}

/* Answer request `id` with a packed ErrorReply {code, message, field}
 * instead of the service's reply, and log why at warn.  Every request whose
 * id is known is answered, even one the worker cannot take: else the broker
 * would count it in flight for good, holding a unit of this worker's credit,
 * and its client would never hear back. */
static void s_reply_error(sp_worker_t *self, const uint8_t *id, sp_error_code_t code,
                          const char *field, const char *fmt, ...)
    __attribute__((format(printf, 5, 6)));

static void s_reply_error(sp_worker_t *self, const uint8_t *id, sp_error_code_t code,
                          const char *field, const char *fmt, ...)
{
    char message[160];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(message, sizeof message, fmt, ap);
    va_end(ap);
    sp_log_warn("answered a request with an error", SP_LOG_STR("service", self->service),
                SP_LOG_STR("code", sp_error_code_name(code)), SP_LOG_STR("error", message),
                SP_LOG_END);
    Samspil__V1__Error error = SAMSPIL__V1__ERROR__INIT;
    error.code = code;
    error.message = message;
    error.field = (char *)(field ? field : "");
    Samspil__V1__ErrorReply reply = SAMSPIL__V1__ERROR_REPLY__INIT;
    reply.error = &error;
    uint8_t packed[256]; /* message and field are short */
    size_t len = samspil__v1__error_reply__get_packed_size(&reply);
    if (len > sizeof packed)
        abort();
    samspil__v1__error_reply__pack(&reply, packed);
    s_send_reply(self, id, packed, len);
}

/* The request id of a message whose head is a REQUEST's ("" | SPW01 | 0x02 |
 * 8-byte id ...), whatever follows; NULL if it is not one. */
static const uint8_t *s_request_id(const sp_frame_t *frames, size_t count)
{
    if (count < 4 || frames[0].size != 0 || !sp_frame_equals(frames[1], SP_MDP_WORKER) ||
        frames[2].size != 1 || ((const uint8_t *)frames[2].data)[0] != SP_MDPW_REQUEST ||
        frames[3].size != SP_MDP_REQUEST_ID_SIZE)
        return NULL;
    return frames[3].data;
}

static void s_request_free(sp_request_t *request)
{
    if (request->principal)
        samspil__v1__principal__free_unpacked(request->principal, NULL);
    if (request->has_msg)
        zmq_msg_close(&request->body_msg);
    free(request->body_copy);
    free(request);
}

/* Build a request from a parsed REQUEST (frames viewed from `msg`) and hand
 * it to the handler.  A request the worker cannot take is answered with an
 * ErrorReply (s_reply_error), never dropped: only one received after the
 * stop is, as the broker requeues it once this worker falls silent. */
static void s_on_request(sp_worker_t *self, sp_zmsg_t *msg, const sp_frame_t *frames,
                         const sp_mdpw_t *cmd)
{
    if (self->state == SP_WORKER_STOPPED || self->state == SP_WORKER_IDLE) {
        sp_log_warn("dropped request received after the worker stopped",
                    SP_LOG_STR("service", self->service), SP_LOG_END);
        return;
    }
    const uint8_t *id = cmd->request_id.data; /* 8 bytes: sp_mdpw_parse checked */
    if (cmd->principal.size > SP_MDP_MAX_FRAME_SIZE) {
        s_reply_error(self, id, SP_INTERNAL, NULL, "principal frame is %zu bytes; at most %d",
                      cmd->principal.size, SP_MDP_MAX_FRAME_SIZE);
        return;
    }
    size_t body_len = 0;
    for (size_t i = 0; i < cmd->nbody; i++)
        body_len += cmd->body[i].size;
    if (body_len > SP_MDP_MAX_FRAME_SIZE) {
        s_reply_error(self, id, SP_INVALID_ARGUMENT, "body",
                      "request body is %zu bytes; at most %d", body_len, SP_MDP_MAX_FRAME_SIZE);
        return;
    }
    Samspil__V1__Principal *principal =
        samspil__v1__principal__unpack(NULL, cmd->principal.size, cmd->principal.data);
    if (!principal) {
        s_reply_error(self, id, SP_INTERNAL, NULL,
                      "principal frame of %zu bytes could not be decoded", cmd->principal.size);
        return;
    }

    sp_request_t *request = calloc(1, sizeof *request);
    if (!request)
        abort();
    memcpy(request->id, cmd->request_id.data, SP_MDP_REQUEST_ID_SIZE);
    request->principal = principal;
    request->body_len = body_len;
    if (cmd->nbody == 1) {
        /* keep the received frame: no copy */
        size_t index = (size_t)(cmd->body - frames);
        zmq_msg_init(&request->body_msg);
        zmq_msg_move(&request->body_msg, &msg->frames[index]);
        request->has_msg = true;
    } else if (cmd->nbody > 1) {
        request->body_copy = malloc(body_len ? body_len : 1);
        if (!request->body_copy)
            abort();
        size_t at = 0;
        for (size_t i = 0; i < cmd->nbody; i++) {
            if (cmd->body[i].size)
                memcpy(request->body_copy + at, cmd->body[i].data, cmd->body[i].size);
            at += cmd->body[i].size;
        }
    }

    request->worker = self;
    request->next = self->requests;
    if (self->requests)
        self->requests->prev = request;
    self->requests = request;
    self->in_flight++;
    self->handler(request, self->handler_arg);
}

static void s_on_readable(void *socket, void *arg)
{
    sp_worker_t *self = arg;
    sp_zmsg_t msg;
    if (sp_zmsg_recv(&msg, socket, ZMQ_DONTWAIT) < 0)
        return;
    self->last_recv = uv_now(self->loop);
    if (self->reconnecting) {
        self->reconnecting = false;
        sp_log_info("reconnected to broker", SP_LOG_STR("service", self->service),
                    SP_LOG_STR("endpoint", self->endpoint), SP_LOG_END);
    }
    sp_frame_t frames[SP_ZMSG_MAX_FRAMES];
    size_t count = sp_zmsg_frames(&msg, frames);
    /* a REQUEST that can't be taken but whose id can be read is answered */
    const uint8_t *id = s_request_id(frames, count);
    if (msg.too_many) {
        if (id)
            s_reply_error(self, id, SP_INVALID_ARGUMENT, "body",
                          "request has more than %d body frames; at most %d",
                          SP_ZMSG_MAX_FRAMES - SP_WORKER_REQUEST_HEAD,
                          SP_ZMSG_MAX_FRAMES - SP_WORKER_REQUEST_HEAD);
        else
            sp_log_warn("dropped message from broker with too many frames",
                        SP_LOG_INT("max_frames", SP_ZMSG_MAX_FRAMES), SP_LOG_END);
        sp_zmsg_close(&msg);
        return;
    }
    sp_mdpw_t cmd;
    const char *why = NULL;
    if (sp_mdpw_parse(frames, count, &cmd, &why) < 0) {
        if (id)
            s_reply_error(self, id, SP_INVALID_ARGUMENT, "body", "malformed request: %s", why);
        else
            sp_log_warn("dropped malformed message from broker", SP_LOG_STR("reason", why),
                        SP_LOG_INT("frames", count), SP_LOG_END);
        sp_zmsg_close(&msg);
        return;
    }
    switch (cmd.command) {
    case SP_MDPW_HEARTBEAT:
        self->backoff_ms = SP_WORKER_BACKOFF_MIN_MS;
        break;
    case SP_MDPW_REQUEST:
        self->backoff_ms = SP_WORKER_BACKOFF_MIN_MS;
        s_on_request(self, &msg, frames, &cmd);
        break;
    case SP_MDPW_DISCONNECT:
        sp_zmsg_close(&msg);
        if (self->state == SP_WORKER_STOPPING) {
            self->broker_done = true;
            s_stop_check(self);
            return;
        }
        if (self->state == SP_WORKER_RUNNING)
            s_reconnect_later(self, "broker sent disconnect");
        return; /* the socket is closed: nothing more to read from it */
    default:
        sp_log_warn("dropped unexpected command from broker", SP_LOG_INT("command", cmd.command),
                    SP_LOG_END);
        break;
    }
    sp_zmsg_close(&msg);
}

static int s_connect(sp_worker_t *self)
{
    void *socket = zmq_socket(self->ctx, ZMQ_DEALER);
    if (!socket) {
        sp_log_error("could not create worker socket", SP_LOG_STR("error", zmq_strerror(errno)),
                     SP_LOG_END);
        return -1;
    }
    if (sp_curve_client_apply(&self->curve, socket) < 0) {
        zmq_close(socket);
        return -1;
    }
    int linger = SP_WORKER_LINGER_MS, hwm = SP_WORKER_HWM;
    int64_t maxmsg = SP_MDP_MAX_FRAME_SIZE;
    zmq_setsockopt(socket, ZMQ_LINGER, &linger, sizeof linger);
    zmq_setsockopt(socket, ZMQ_SNDHWM, &hwm, sizeof hwm);
    zmq_setsockopt(socket, ZMQ_RCVHWM, &hwm, sizeof hwm);
    zmq_setsockopt(socket, ZMQ_MAXMSGSIZE, &maxmsg, sizeof maxmsg);
    if (zmq_connect(socket, self->endpoint) < 0) {
        sp_log_error("could not connect to broker", SP_LOG_STR("endpoint", self->endpoint),
                     SP_LOG_STR("error", zmq_strerror(errno)), SP_LOG_END);
        zmq_close(socket);
        return -1;
    }
    self->zpoll = sp_zpoll_new(self->loop, socket, s_on_readable, self);
    if (!self->zpoll) {
        zmq_close(socket);
        return -1;
    }
    self->socket = socket;
    self->last_recv = uv_now(self->loop);
    s_send_command(self, SP_MDPW_READY);
    if (!self->announced) {
        self->announced = true;
        sp_log_info("worker ready", SP_LOG_STR("service", self->service),
                    SP_LOG_INT("credit", self->credit), SP_LOG_STR("endpoint", self->endpoint),
                    SP_LOG_INT("heartbeat_ms", self->heartbeat_ms), SP_LOG_END);
    } else {
        sp_log_debug("worker socket reopened", SP_LOG_STR("service", self->service),
                     SP_LOG_STR("endpoint", self->endpoint), SP_LOG_END);
    }
    return 0;
}

static void s_on_heartbeat(uv_timer_t *timer)
{
    sp_worker_t *self = timer->data;
    if (!self->socket || self->state == SP_WORKER_STOPPED)
        return;
    uint64_t silent = uv_now(self->loop) - self->last_recv;
    if (silent >= (uint64_t)self->liveness * (uint64_t)self->heartbeat_ms) {
        if (self->state == SP_WORKER_STOPPING) {
            s_close_socket(self);
            self->broker_done = true;
            s_stop_check(self);
            return;
        }
        s_reconnect_later(self, "broker silent");
        return;
    }
    s_send_command(self, SP_MDPW_HEARTBEAT);
}

/* The stop is complete (or the grace period is over): report done. */
static void s_on_finish(uv_timer_t *timer)
{
    sp_worker_t *self = timer->data;
    if (self->state != SP_WORKER_STOPPING)
        return;
    if (self->in_flight)
        sp_log_warn("grace period over with requests unanswered",
                    SP_LOG_STR("service", self->service), SP_LOG_INT("in_flight", self->in_flight),
                    SP_LOG_END);
    else if (!self->broker_done)
        sp_log_warn("grace period over before the broker confirmed the disconnect",
                    SP_LOG_STR("service", self->service), SP_LOG_END);
    self->state = SP_WORKER_STOPPED;
    uv_timer_stop(&self->heartbeat_timer);
    uv_timer_stop(&self->retry_timer);
    sp_log_info("worker stopped", SP_LOG_STR("service", self->service), SP_LOG_END);
    if (self->done)
        self->done(self->done_arg);
}

static void s_on_close(uv_handle_t *handle)
{
    sp_worker_t *self = handle->data;
    if (--self->open_handles == 0) {
        explicit_bzero(&self->curve, sizeof self->curve);
        free(self->endpoint);
        free(self->service);
        free(self);
    }
}

sp_worker_t *sp_worker_new(uv_loop_t *loop, void *zmq_context, const sp_worker_config_t *config)
{
    if (!loop || !zmq_context || !config || !config->endpoint || !config->service ||
        !config->handler) {
        sp_log_error("could not create worker: incomplete configuration", SP_LOG_END);
        return NULL;
    }
    if (!sp_mdp_service_name_ok(sp_frame_str(config->service))) {
        sp_log_error("invalid service name", SP_LOG_STR("service", config->service), SP_LOG_END);
        return NULL;
    }
    if (config->credit < 1 || config->credit > SP_MDP_MAX_CREDIT) {
        sp_log_error("credit out of range", SP_LOG_INT("credit", config->credit),
                     SP_LOG_INT("max", SP_MDP_MAX_CREDIT), SP_LOG_END);
        return NULL;
    }
    if (config->heartbeat_ms < 0 || config->liveness < 0) {
        sp_log_error("invalid heartbeat settings", SP_LOG_INT("heartbeat_ms", config->heartbeat_ms),
                     SP_LOG_INT("liveness", config->liveness), SP_LOG_END);
        return NULL;
    }
    sp_worker_t *self = calloc(1, sizeof *self);
    if (!self)
        abort();
    if (sp_curve_client_resolve(config->curve, SP_CURVE_SERVICE_CERT, &self->curve) != 0) {
        sp_log_error("could not create worker: no certificate",
                     SP_LOG_STR("service", config->service), SP_LOG_END);
        free(self);
        return NULL;
    }
    self->loop = loop;
    self->ctx = zmq_context;
    self->endpoint = s_strdup(config->endpoint);
    self->service = s_strdup(config->service);
    self->credit = config->credit;
    self->heartbeat_ms = config->heartbeat_ms ? config->heartbeat_ms : SP_MDP_HEARTBEAT_MS;
    self->liveness = config->liveness ? config->liveness : SP_MDP_LIVENESS;
    self->handler = config->handler;
    self->handler_arg = config->handler_arg;
    self->backoff_ms = SP_WORKER_BACKOFF_MIN_MS;
    self->state = SP_WORKER_IDLE;
    uv_timer_init(loop, &self->heartbeat_timer);
    uv_timer_init(loop, &self->retry_timer);
    uv_timer_init(loop, &self->grace_timer);
    self->heartbeat_timer.data = self->retry_timer.data = self->grace_timer.data = self;
    self->open_handles = 3;
    return self;
}

int sp_worker_start(sp_worker_t *self)
{
    if (!self || self->state != SP_WORKER_IDLE)
        return -1;
    if (s_connect(self) < 0)
        return -1;
    self->state = SP_WORKER_RUNNING;
    uv_timer_start(&self->heartbeat_timer, s_on_heartbeat, (uint64_t)self->heartbeat_ms,
                   (uint64_t)self->heartbeat_ms);
    return 0;
}

void sp_worker_stop(sp_worker_t *self, int grace_ms, void (*done)(void *arg), void *arg)
{
    if (!self || self->state == SP_WORKER_STOPPING || self->state == SP_WORKER_STOPPED)
        return;
    self->done = done;
    self->done_arg = arg;
    bool started = self->state == SP_WORKER_RUNNING;
    self->state = SP_WORKER_STOPPING;
    uv_timer_stop(&self->retry_timer); /* no reconnect while stopping */
    if (!started || !self->socket) {
        /* never started, or between sockets: no broker holds us */
        self->broker_done = true;
    } else {
        sp_log_info("worker stopping", SP_LOG_STR("service", self->service),
                    SP_LOG_INT("in_flight", self->in_flight), SP_LOG_INT("grace_ms", grace_ms),
                    SP_LOG_END);
        s_send_command(self, SP_MDPW_DISCONNECT);
    }
    uv_timer_start(&self->grace_timer, s_on_finish, grace_ms > 0 ? (uint64_t)grace_ms : 0, 0);
    s_stop_check(self);
}

void sp_worker_destroy(sp_worker_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    sp_worker_t *self = *self_p;
    *self_p = NULL;
    if (self->in_flight)
        sp_log_warn("worker destroyed with requests unanswered",
                    SP_LOG_STR("service", self->service), SP_LOG_INT("in_flight", self->in_flight),
                    SP_LOG_END);
    /* requests still held by handlers are detached: replying then only frees them */
    for (sp_request_t *request = self->requests; request; request = request->next)
        request->worker = NULL;
    self->requests = NULL;
    self->in_flight = 0;
    self->state = SP_WORKER_STOPPED;
    s_close_socket(self);
    uv_close((uv_handle_t *)&self->heartbeat_timer, s_on_close);
    uv_close((uv_handle_t *)&self->retry_timer, s_on_close);
    uv_close((uv_handle_t *)&self->grace_timer, s_on_close);
}

size_t sp_worker_in_flight(const sp_worker_t *self)
{
    return self ? self->in_flight : 0;
}

const Samspil__V1__Principal *sp_request_principal(const sp_request_t *request)
{
    return request->principal;
}

const uint8_t *sp_request_body(const sp_request_t *request, size_t *len)
{
    *len = request->body_len;
    if (request->has_msg)
        return zmq_msg_data((zmq_msg_t *)&request->body_msg);
    if (request->body_copy)
        return request->body_copy;
    return (const uint8_t *)"";
}

void sp_request_reply(sp_request_t **request_p, const void *body, size_t len)
{
    if (!request_p || !*request_p)
        return;
    sp_request_t *request = *request_p;
    *request_p = NULL;
    sp_worker_t *self = request->worker;
    if (self) {
        if (request->prev)
            request->prev->next = request->next;
        else
            self->requests = request->next;
        if (request->next)
            request->next->prev = request->prev;
        self->in_flight--;
        size_t size = body ? len : 0;
        /* the broker cuts off a peer that sends a larger frame */
        if (size > SP_MDP_MAX_FRAME_SIZE)
            s_reply_error(self, request->id, SP_INTERNAL, NULL, "reply is %zu bytes; at most %d",
                          size, SP_MDP_MAX_FRAME_SIZE);
        else
            s_send_reply(self, request->id, body, size);
        s_stop_check(self);
    }
    s_request_free(request);
}

/* --- sp_worker_main: a whole worker process --- */

typedef struct {
    sp_worker_t *worker;
    uv_signal_t sigterm;
    uv_signal_t sigint;
    void (*on_stop)(void *arg);
    void *arg;
    bool stopping;
} s_main_t;

static void s_main_stopped(void *arg)
{
    s_main_t *run = arg;
    if (run->on_stop)
        run->on_stop(run->arg);
    uv_close((uv_handle_t *)&run->sigterm, NULL);
    uv_close((uv_handle_t *)&run->sigint, NULL);
    sp_worker_destroy(&run->worker);
}

static void s_main_on_signal(uv_signal_t *handle, int signum)
{
    s_main_t *run = handle->data;
    if (run->stopping) {
        sp_log_info("already stopping", SP_LOG_INT("signal", signum), SP_LOG_END);
        return;
    }
    run->stopping = true;
    sp_log_info("stopping on signal", SP_LOG_INT("signal", signum), SP_LOG_END);
    sp_worker_stop(run->worker, SP_WORKER_MAIN_GRACE_MS, s_main_stopped, run);
}

static void s_main_close_leftover(uv_handle_t *handle, void *arg)
{
    (void)arg;
    if (!uv_is_closing(handle))
        uv_close(handle, NULL);
}

/* The process owns one ZeroMQ context, created and terminated here.  A
 * `loop` passed in stays open for the caller to close (uv_loop_close); with
 * NULL the default loop is used and closed here.  `on_stop` is also called
 * when the start fails, so the service can release what it created.  The
 * first SIGTERM/SIGINT starts a graceful stop (grace 5 s); later ones are
 * logged and ignored. */
int sp_worker_main(const sp_worker_config_t *config, uv_loop_t *loop, void (*on_stop)(void *arg),
                   void *arg)
{
    bool own_loop = loop == NULL;
    if (own_loop)
        loop = uv_default_loop();
    void *ctx = zmq_ctx_new();
    if (!ctx) {
        sp_log_error("could not create zeromq context", SP_LOG_STR("error", zmq_strerror(errno)),
                     SP_LOG_END);
        return 1;
    }
    s_main_t run = {.on_stop = on_stop, .arg = arg};
    run.worker = sp_worker_new(loop, ctx, config);
    int rc = 0;
    if (!run.worker || sp_worker_start(run.worker) < 0) {
        sp_log_error("could not start worker", SP_LOG_STR("service", config ? config->service : ""),
                     SP_LOG_END);
        if (on_stop)
            on_stop(arg);
        sp_worker_destroy(&run.worker);
        uv_run(loop, UV_RUN_NOWAIT); /* runs the close callbacks */
        rc = 1;
    } else {
        uv_signal_init(loop, &run.sigterm);
        uv_signal_init(loop, &run.sigint);
        run.sigterm.data = run.sigint.data = &run;
        uv_signal_start(&run.sigterm, s_main_on_signal, SIGTERM);
        uv_signal_start(&run.sigint, s_main_on_signal, SIGINT);
        uv_run(loop, UV_RUN_DEFAULT);
        /* anything the service left behind (unreferenced handles) */
        uv_walk(loop, s_main_close_leftover, NULL);
        uv_run(loop, UV_RUN_DEFAULT);
    }
    zmq_ctx_term(ctx);
    if (own_loop)
        uv_loop_close(loop);
    return rc;
}
