/*
 * sp_client.c - a blocking MDP/0.1 client over a DEALER socket (so several
 * requests may be in flight), with Lazy Pirate retries in sp_client_call.
 *
 * Each client owns its ZeroMQ context; sockets linger 0 so a replaced or
 * destroyed socket never delays the process.  Do not mix sp_client_call
 * with requests still outstanding from sp_client_send: the call takes the
 * first reply from its service.
 */
#include "sp_client.h"
#include "sp_home.h"
#include "sp_mdp.h"
#include "sp_zmsg.h"

#include <errno.h>
#include <limits.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <zmq.h>

#define SP_CLIENT_DEFAULT_TIMEOUT_MS 5000
#define SP_CLIENT_DEFAULT_RETRIES 2
#define SP_CLIENT_HWM 100000

struct sp_client_t {
    void *ctx;
    void *socket;
    char *endpoint;
    int timeout_ms;
    int retries;
    sp_curve_client_t curve; /* applied to every socket opened */
};

static int64_t s_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void *s_socket_open(void *ctx, const char *endpoint, const sp_curve_client_t *curve)
{
    void *socket = zmq_socket(ctx, ZMQ_DEALER);
    if (!socket)
        return NULL;
    if (sp_curve_client_apply(curve, socket) < 0) {
        zmq_close(socket);
        errno = EINVAL;
        return NULL;
    }
    int linger = 0, hwm = SP_CLIENT_HWM;
    int64_t maxmsg = SP_MDP_MAX_FRAME_SIZE;
    zmq_setsockopt(socket, ZMQ_LINGER, &linger, sizeof linger);
    zmq_setsockopt(socket, ZMQ_SNDHWM, &hwm, sizeof hwm);
    zmq_setsockopt(socket, ZMQ_RCVHWM, &hwm, sizeof hwm);
    zmq_setsockopt(socket, ZMQ_MAXMSGSIZE, &maxmsg, sizeof maxmsg);
    if (zmq_connect(socket, endpoint) < 0) {
        int err = errno;
        zmq_close(socket);
        errno = err;
        return NULL;
    }
    return socket;
}

/* Lazy Pirate: close the socket and open a fresh one, so that replies to
 * earlier attempts are lost with the old one.  Returns 0 or -1. */
static int s_socket_replace(sp_client_t *self)
{
    if (self->socket)
        zmq_close(self->socket);
    self->socket = s_socket_open(self->ctx, self->endpoint, &self->curve);
    return self->socket ? 0 : -1;
}

sp_client_t *sp_client_new(const char *endpoint)
{
    return sp_client_new_curve(endpoint, NULL);
}

sp_client_t *sp_client_new_curve(const char *endpoint, const sp_curve_client_t *curve)
{
    if (!endpoint || !*endpoint) {
        errno = EINVAL;
        return NULL;
    }
    sp_client_t *self = calloc(1, sizeof *self);
    if (!self)
        abort();
    if (sp_curve_client_resolve(curve, SP_CURVE_OPERATOR_CERT, &self->curve) != 0) {
        free(self);
        errno = ENOKEY;
        return NULL;
    }
    self->timeout_ms = SP_CLIENT_DEFAULT_TIMEOUT_MS;
    self->retries = SP_CLIENT_DEFAULT_RETRIES;
    self->endpoint = strdup(endpoint);
    self->ctx = zmq_ctx_new();
    if (!self->endpoint || !self->ctx)
        abort();
    self->socket = s_socket_open(self->ctx, endpoint, &self->curve);
    if (!self->socket) {
        int err = errno;
        sp_client_destroy(&self);
        errno = err;
        return NULL;
    }
    return self;
}

void sp_client_destroy(sp_client_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    sp_client_t *self = *self_p;
    if (self->socket)
        zmq_close(self->socket);
    if (self->ctx)
        zmq_ctx_term(self->ctx);
    free(self->endpoint);
    explicit_bzero(&self->curve, sizeof self->curve);
    free(self);
    *self_p = NULL;
}

void sp_client_set_timeout(sp_client_t *self, int timeout_ms)
{
    self->timeout_ms = timeout_ms > 0 ? timeout_ms : SP_CLIENT_DEFAULT_TIMEOUT_MS;
}

void sp_client_set_retries(sp_client_t *self, int retries)
{
    self->retries = retries >= 0 ? retries : 0;
}

int sp_client_send(sp_client_t *self, const char *service, const void *request, size_t len)
{
    if (!self || !self->socket || !service) {
        errno = EINVAL;
        return -1;
    }
    sp_frame_t frames[4] = {
        {"", 0},
        sp_frame_str(SP_MDP_CLIENT),
        sp_frame_str(service),
        {request ? request : "", request ? len : 0},
    };
    for (;;) {
        if (sp_zsend(self->socket, frames, 4, 0) == 0)
            return 0;
        if (errno != EINTR)
            return -1;
    }
}

/* Wait until `deadline` (monotonic ms) for one message and parse it.
 * Returns 1 with *reply set (malloc'd) and *service_ok telling whether the
 * service frame equals `service` (always true when `service` is NULL);
 * 0 on timeout; -1 with errno (EPROTO for a malformed reply). */
static int s_recv_until(sp_client_t *self, int64_t deadline, const char *service, uint8_t **reply,
                        size_t *reply_len, bool *service_ok)
{
    for (;;) {
        int64_t left = deadline - s_now_ms();
        if (left < 0)
            left = 0;
        zmq_pollitem_t item = {.socket = self->socket, .events = ZMQ_POLLIN};
        int rc = zmq_poll(&item, 1, (long)left);
        if (rc < 0) {
            if (errno == EINTR)
                continue;
            return -1;
        }
        if (rc == 0 || !(item.revents & ZMQ_POLLIN)) {
            if (s_now_ms() >= deadline)
                return 0;
            continue;
        }
        sp_zmsg_t msg;
        if (sp_zmsg_recv(&msg, self->socket, ZMQ_DONTWAIT) < 0) {
            if (errno == EAGAIN || errno == EINTR)
                continue;
            return -1;
        }
        sp_frame_t frames[SP_ZMSG_MAX_FRAMES];
        size_t count = sp_zmsg_frames(&msg, frames);
        sp_mdpc_t parsed;
        const char *why = NULL;
        if (msg.too_many || sp_mdpc_parse(frames, count, &parsed, &why) < 0 || parsed.nbody != 1) {
            sp_zmsg_close(&msg);
            errno = EPROTO;
            return -1;
        }
        *service_ok = !service || sp_frame_equals(parsed.service, service);
        *reply_len = parsed.body[0].size;
        *reply = malloc(*reply_len ? *reply_len : 1);
        if (!*reply)
            abort();
        if (*reply_len)
            memcpy(*reply, parsed.body[0].data, *reply_len);
        sp_zmsg_close(&msg);
        return 1;
    }
}

int sp_client_recv(sp_client_t *self, int timeout_ms, uint8_t **reply, size_t *reply_len)
{
    if (!self || !self->socket) {
        errno = EINVAL;
        return -1;
    }
    bool service_ok;
    int rc = s_recv_until(self, s_now_ms() + (timeout_ms > 0 ? timeout_ms : 0), NULL, reply,
                          reply_len, &service_ok);
    if (rc == 0) {
        errno = ETIMEDOUT;
        return -1;
    }
    return rc < 0 ? -1 : 0;
}

int sp_client_call(sp_client_t *self, const char *service, const void *request, size_t len,
                   uint8_t **reply, size_t *reply_len)
{
    if (!self || !service || !reply || !reply_len) {
        errno = EINVAL;
        return -1;
    }
    *reply = NULL;
    *reply_len = 0;
    if (!self->socket && s_socket_replace(self) < 0)
        return -1;
    for (int attempt = 0; attempt <= self->retries; attempt++) {
        if (attempt > 0 && s_socket_replace(self) < 0)
            return -1;
        if (sp_client_send(self, service, request, len) < 0)
            return -1;
        int64_t deadline = s_now_ms() + self->timeout_ms;
        for (;;) {
            bool service_ok = false;
            int rc = s_recv_until(self, deadline, service, reply, reply_len, &service_ok);
            if (rc < 0) {
                int err = errno;
                s_socket_replace(self); /* drop whatever else the bad peer sent */
                errno = err;
                return -1;
            }
            if (rc == 0)
                break; /* timed out: next attempt */
            if (service_ok)
                return 0;
            free(*reply); /* a reply for another service: not ours */
            *reply = NULL;
        }
    }
    /* a fresh socket, so a late reply cannot be taken for the next call's */
    s_socket_replace(self);
    errno = ETIMEDOUT;
    return -1;
}

int sp_client_call_pb(sp_client_t *self, const char *service, const ProtobufCMessage *request,
                      const ProtobufCMessageDescriptor *reply_desc, ProtobufCMessage **reply)
{
    if (!request || !reply_desc || !reply) {
        errno = EINVAL;
        return -1;
    }
    size_t len = protobuf_c_message_get_packed_size(request);
    uint8_t *packed = malloc(len ? len : 1);
    if (!packed)
        abort();
    protobuf_c_message_pack(request, packed);
    uint8_t *body = NULL;
    size_t body_len = 0;
    int rc = sp_client_call(self, service, packed, len, &body, &body_len);
    int err = errno;
    free(packed);
    if (rc < 0) {
        errno = err;
        return -1;
    }
    *reply = body_len <= SP_MDP_MAX_FRAME_SIZE
                 ? protobuf_c_message_unpack(reply_desc, NULL, body_len, body)
                 : NULL;
    free(body);
    if (!*reply) {
        errno = EPROTO;
        return -1;
    }
    return 0;
}

const char *sp_client_default_endpoint(const char *home, char *out, size_t outlen)
{
    return sp_home_ipc_endpoint(home, "broker.ipc", out, outlen);
}
