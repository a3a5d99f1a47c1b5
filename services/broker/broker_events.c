/*
 * broker_events.c - the broker's event bus: XSUB in, XPUB out, forwarded on
 * the libuv loop (see broker_events.h).
 */
#include "broker_events.h"
#include "sp_log.h"
#include "sp_zpoll.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#define DROP_LOG_PER_SECOND 20 /* warnings about dropped messages, then a count */

struct broker_events_t {
    uv_loop_t *loop;
    void *in;  /* XSUB */
    void *out; /* XPUB */
    sp_zpoll_t *in_poll;
    sp_zpoll_t *out_poll;
    size_t max_message;
    broker_events_allow_fn *allow;
    void *allow_arg;
    broker_events_stats_t stats;
    /* rate limit of warnings */
    uint64_t log_window;
    unsigned logged;
    unsigned suppressed;
};

/* True if one more warning may be logged: at most DROP_LOG_PER_SECOND a
 * second, then one line with the count of those not logged. */
static bool s_may_log(broker_events_t *self)
{
    uint64_t second = uv_now(self->loop) / 1000;
    if (second != self->log_window) {
        if (self->suppressed)
            sp_log_warn("more event bus messages dropped or refused without logging them",
                        SP_LOG_INT("count", self->suppressed), SP_LOG_END);
        self->log_window = second;
        self->logged = 0;
        self->suppressed = 0;
    }
    if (self->logged >= DROP_LOG_PER_SECOND) {
        self->suppressed++;
        return false;
    }
    self->logged++;
    return true;
}

static void s_recv_failed(const char *side)
{
    int err = zmq_errno();
    if (err != EAGAIN && err != ETERM && err != EINTR)
        sp_log_warn("could not receive", SP_LOG_STR("socket", side),
                    SP_LOG_STR("error", zmq_strerror(err)), SP_LOG_END);
}

/* Why an event message of `nframes` frames, a topic of `topic_size` bytes
 * and `bytes` in all is not forwarded, or NULL if it is well formed. */
static const char *s_check_event(size_t nframes, size_t topic_size, size_t bytes, size_t max)
{
    if (nframes != 2)
        return "event message is not two frames";
    if (topic_size == 0)
        return "event topic is empty";
    if (topic_size > BROKER_EVENTS_MAX_TOPIC)
        return "event topic is too long";
    if (bytes > max)
        return "event message is too large";
    return NULL;
}

/* --- events in: XSUB -> XPUB */

static void s_on_event(void *socket, void *arg)
{
    broker_events_t *self = arg;
    zmq_msg_t parts[2];
    zmq_msg_init(&parts[0]);
    if (zmq_msg_recv(&parts[0], socket, ZMQ_DONTWAIT) < 0) {
        zmq_msg_close(&parts[0]);
        s_recv_failed("events in");
        return;
    }
    size_t nframes = 1;
    size_t bytes = zmq_msg_size(&parts[0]);
    bool more = zmq_msg_more(&parts[0]);
    if (more) {
        zmq_msg_init(&parts[1]);
        if (zmq_msg_recv(&parts[1], socket, 0) < 0) { /* the rest of a message is there */
            zmq_msg_close(&parts[1]);
            zmq_msg_close(&parts[0]);
            s_recv_failed("events in");
            return;
        }
        nframes = 2;
        bytes += zmq_msg_size(&parts[1]);
        more = zmq_msg_more(&parts[1]);
    }
    while (more) { /* more than two frames: read and count the rest */
        zmq_msg_t extra;
        zmq_msg_init(&extra);
        if (zmq_msg_recv(&extra, socket, 0) < 0) {
            zmq_msg_close(&extra);
            break;
        }
        nframes++;
        bytes += zmq_msg_size(&extra);
        more = zmq_msg_more(&extra);
        zmq_msg_close(&extra);
    }

    const char *why = s_check_event(nframes, zmq_msg_size(&parts[0]), bytes, self->max_message);
    if (!why) {
        /* moved, not copied; a sent zmq_msg_t is left empty, so closing it below is harmless.
         * With ZMQ_XPUB_NODROP off these sends do not fail for a full subscriber. */
        if (zmq_msg_send(&parts[0], self->out, ZMQ_SNDMORE | ZMQ_DONTWAIT) < 0 ||
            zmq_msg_send(&parts[1], self->out, ZMQ_DONTWAIT) < 0)
            why = "could not send";
        else
            self->stats.forwarded++;
        sp_zpoll_kick(self->out_poll); /* a send may have consumed the XPUB's input edge */
    }
    if (why) {
        self->stats.dropped++;
        if (s_may_log(self))
            sp_log_warn("dropped event message", SP_LOG_STR("reason", why),
                        SP_LOG_INT("frames", nframes), SP_LOG_INT("bytes", bytes), SP_LOG_END);
    }
    zmq_msg_close(&parts[0]);
    if (nframes >= 2)
        zmq_msg_close(&parts[1]);
}

/* --- subscriptions: XPUB -> XSUB */

static void s_refuse(broker_events_t *self, const char *why, size_t frames, size_t bytes)
{
    self->stats.refused++;
    if (s_may_log(self))
        sp_log_warn("refused subscription message", SP_LOG_STR("reason", why),
                    SP_LOG_INT("frames", frames), SP_LOG_INT("bytes", bytes), SP_LOG_END);
}

static void s_on_subscription(void *socket, void *arg)
{
    broker_events_t *self = arg;
    zmq_msg_t msg;
    zmq_msg_init(&msg);
    if (zmq_msg_recv(&msg, socket, ZMQ_DONTWAIT) < 0) {
        zmq_msg_close(&msg);
        s_recv_failed("events out");
        return;
    }
    size_t frames = 1;
    size_t bytes = zmq_msg_size(&msg);
    bool more = zmq_msg_more(&msg);
    while (more) {
        zmq_msg_t extra;
        zmq_msg_init(&extra);
        if (zmq_msg_recv(&extra, socket, 0) < 0) {
            zmq_msg_close(&extra);
            break;
        }
        frames++;
        bytes += zmq_msg_size(&extra);
        more = zmq_msg_more(&extra);
        zmq_msg_close(&extra);
    }
    const unsigned char *data = zmq_msg_data(&msg);
    size_t size = zmq_msg_size(&msg);
    if (frames != 1 || size == 0 || (data[0] != 0 && data[0] != 1)) {
        s_refuse(self, "not a subscription", frames, bytes);
        zmq_msg_close(&msg);
        return;
    }
    if (size - 1 > BROKER_EVENTS_MAX_TOPIC) {
        s_refuse(self, "subscription prefix is too long", frames, bytes);
        zmq_msg_close(&msg);
        return;
    }
    bool subscribe = data[0] == 1;
    sp_log_debug(subscribe ? "subscription" : "unsubscription",
                 SP_LOG_INT("prefix_bytes", size - 1), SP_LOG_END);
    if (self->allow) {
        /* manual mode: apply it to this subscriber only; the XSUB already
         * takes everything from the publishers */
        if (subscribe && !self->allow(self->allow_arg, &msg, data + 1, size - 1)) {
            s_refuse(self, "subscription denied", frames, bytes);
            zmq_msg_close(&msg);
            return;
        }
        if (zmq_setsockopt(socket, subscribe ? ZMQ_SUBSCRIBE : ZMQ_UNSUBSCRIBE, data + 1,
                           size - 1) < 0)
            sp_log_warn("could not apply a subscription",
                        SP_LOG_STR("error", zmq_strerror(zmq_errno())), SP_LOG_END);
        else
            self->stats.subscriptions++;
        zmq_msg_close(&msg);
        sp_zpoll_kick(self->out_poll);
        return;
    }
    if (zmq_msg_send(&msg, self->in, ZMQ_DONTWAIT) < 0) {
        sp_log_warn("could not forward a subscription",
                    SP_LOG_STR("error", zmq_strerror(zmq_errno())), SP_LOG_END);
        zmq_msg_close(&msg);
    } else {
        self->stats.subscriptions++;
    }
    sp_zpoll_kick(self->in_poll); /* the send may have consumed its input edge */
}

/* --- setup */

static int s_setopt_int(void *socket, int option, int value, const char *name)
{
    if (zmq_setsockopt(socket, option, &value, sizeof value) == 0)
        return 0;
    sp_log_error("could not set socket option", SP_LOG_STR("option", name),
                 SP_LOG_STR("error", zmq_strerror(zmq_errno())), SP_LOG_END);
    return -1;
}

static int s_setopt_i64(void *socket, int option, int64_t value, const char *name)
{
    if (zmq_setsockopt(socket, option, &value, sizeof value) == 0)
        return 0;
    sp_log_error("could not set socket option", SP_LOG_STR("option", name),
                 SP_LOG_STR("error", zmq_strerror(zmq_errno())), SP_LOG_END);
    return -1;
}

/* Create, configure and bind one side; NULL on failure (logged). */
static void *s_open(void *ctx, const broker_events_config_t *config, broker_events_side_t side,
                    int hwm, size_t max_message)
{
    bool in = side == BROKER_EVENTS_IN;
    const char *name = in ? "events in" : "events out";
    void *socket = zmq_socket(ctx, in ? ZMQ_XSUB : ZMQ_XPUB);
    if (!socket) {
        sp_log_error("could not create socket", SP_LOG_STR("socket", name),
                     SP_LOG_STR("error", zmq_strerror(zmq_errno())), SP_LOG_END);
        return NULL;
    }
    int rc = s_setopt_int(socket, ZMQ_LINGER, 0, "ZMQ_LINGER");
    if (in) {
        if (rc == 0)
            rc = s_setopt_int(socket, ZMQ_RCVHWM, hwm, "ZMQ_RCVHWM");
        if (rc == 0)
            rc = s_setopt_i64(socket, ZMQ_MAXMSGSIZE, (int64_t)max_message, "ZMQ_MAXMSGSIZE");
    } else {
        if (rc == 0)
            rc = s_setopt_int(socket, ZMQ_SNDHWM, hwm, "ZMQ_SNDHWM");
        if (rc == 0)
            rc = s_setopt_int(socket, ZMQ_XPUB_NODROP, 0, "ZMQ_XPUB_NODROP");
        /* a subscription is one byte and a prefix */
        if (rc == 0)
            rc =
                s_setopt_i64(socket, ZMQ_MAXMSGSIZE, BROKER_EVENTS_MAX_TOPIC + 1, "ZMQ_MAXMSGSIZE");
        if (rc == 0 && config->allow_subscription)
            rc = s_setopt_int(socket, ZMQ_XPUB_MANUAL, 1, "ZMQ_XPUB_MANUAL");
    }
    if (rc == 0 && config->configure && config->configure(config->configure_arg, socket, side) < 0)
        rc = -1;
    const char *const *endpoints = in ? config->in_endpoints : config->out_endpoints;
    size_t n = in ? config->nin : config->nout;
    for (size_t i = 0; rc == 0 && i < n; i++) {
        if (zmq_bind(socket, endpoints[i]) < 0) {
            sp_log_error("could not bind", SP_LOG_STR("socket", name),
                         SP_LOG_STR("endpoint", endpoints[i]),
                         SP_LOG_STR("error", zmq_strerror(zmq_errno())), SP_LOG_END);
            rc = -1;
        } else {
            sp_log_info("listening", SP_LOG_STR("socket", name),
                        SP_LOG_STR("endpoint", endpoints[i]), SP_LOG_END);
        }
    }
    if (rc < 0) {
        zmq_close(socket);
        return NULL;
    }
    return socket;
}

broker_events_t *broker_events_new(uv_loop_t *loop, void *zmq_context,
                                   const broker_events_config_t *config)
{
    if (config->nin == 0 || config->nout == 0) {
        sp_log_error("event bus needs an events-in and an events-out endpoint", SP_LOG_END);
        return NULL;
    }
    broker_events_t *self = calloc(1, sizeof *self);
    if (!self)
        abort();
    self->loop = loop;
    self->max_message = config->max_message ? config->max_message : BROKER_EVENTS_MAX_MESSAGE;
    self->allow = config->allow_subscription;
    self->allow_arg = config->allow_arg;
    int hwm = config->hwm > 0 ? config->hwm : BROKER_EVENTS_HWM;
    self->in = s_open(zmq_context, config, BROKER_EVENTS_IN, hwm, self->max_message);
    if (self->in)
        self->out = s_open(zmq_context, config, BROKER_EVENTS_OUT, hwm, self->max_message);
    if (self->out && self->allow) {
        /* subscriptions are checked per subscriber on the XPUB: take everything upstream */
        static const unsigned char all = 1;
        if (zmq_send(self->in, &all, 1, ZMQ_DONTWAIT) < 0) {
            sp_log_error("could not subscribe the events-in socket",
                         SP_LOG_STR("error", zmq_strerror(zmq_errno())), SP_LOG_END);
            zmq_close(self->out);
            self->out = NULL;
        }
    }
    if (self->out) {
        self->in_poll = sp_zpoll_new(loop, self->in, s_on_event, self);
        self->out_poll =
            self->in_poll ? sp_zpoll_new(loop, self->out, s_on_subscription, self) : NULL;
    }
    if (!self->out_poll) {
        sp_zpoll_destroy(&self->in_poll);
        if (self->out)
            zmq_close(self->out);
        if (self->in)
            zmq_close(self->in);
        free(self);
        return NULL;
    }
    return self;
}

void broker_events_stats(const broker_events_t *self, broker_events_stats_t *out)
{
    if (self)
        *out = self->stats;
    else
        memset(out, 0, sizeof *out);
}

void broker_events_destroy(broker_events_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    broker_events_t *self = *self_p;
    sp_zpoll_destroy(&self->in_poll);
    sp_zpoll_destroy(&self->out_poll);
    zmq_close(self->in);
    zmq_close(self->out);
    sp_log_info("event bus stopped", SP_LOG_INT("forwarded", self->stats.forwarded),
                SP_LOG_INT("dropped", self->stats.dropped),
                SP_LOG_INT("subscriptions", self->stats.subscriptions),
                SP_LOG_INT("refused", self->stats.refused), SP_LOG_END);
    free(self);
    *self_p = NULL;
}
