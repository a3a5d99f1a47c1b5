/*
 * sp_zpoll.c - a ZeroMQ socket on a libuv loop (edge-triggered ZMQ_FD).
 */
#include "sp_zpoll.h"
#include "sp_log.h"

#include <stdlib.h>
#include <zmq.h>

/* Messages handled per wake-up before yielding to the rest of the loop. */
#define SP_ZPOLL_BUDGET 64

struct sp_zpoll_t {
    uv_poll_t poll;
    uv_idle_t idle; /* runs a re-check on the next iteration (kick or budget spent) */
    void *socket;
    sp_zpoll_fn *on_readable;
    void *arg;
    int open_handles;
    int closing;
};

static void s_on_idle(uv_idle_t *idle);

static void
s_drain(sp_zpoll_t *self)
{
    for (int handled = 0; !self->closing; handled++) {
        int events = 0;
        size_t size = sizeof events;
        if (zmq_getsockopt(self->socket, ZMQ_EVENTS, &events, &size) < 0)
            return;
        if (!(events & ZMQ_POLLIN))
            return;
        if (handled == SP_ZPOLL_BUDGET) {
            uv_idle_start(&self->idle, s_on_idle); /* the rest on the next iteration */
            return;
        }
        self->on_readable(self->socket, self->arg);
    }
}

static void
s_on_idle(uv_idle_t *idle)
{
    sp_zpoll_t *self = idle->data;
    uv_idle_stop(idle);
    s_drain(self);
}

static void
s_on_poll(uv_poll_t *poll, int status, int events)
{
    sp_zpoll_t *self = poll->data;
    (void)status;
    (void)events;
    s_drain(self);
}

sp_zpoll_t *
sp_zpoll_new(uv_loop_t *loop, void *socket, sp_zpoll_fn *on_readable, void *arg)
{
    int fd;
    size_t size = sizeof fd;
    if (zmq_getsockopt(socket, ZMQ_FD, &fd, &size) < 0) {
        sp_log_error("could not get the socket's file descriptor",
                     SP_LOG_STR("error", zmq_strerror(zmq_errno())), SP_LOG_END);
        return NULL;
    }
    sp_zpoll_t *self = calloc(1, sizeof *self);
    if (!self)
        abort();
    self->socket = socket;
    self->on_readable = on_readable;
    self->arg = arg;
    if (uv_poll_init(loop, &self->poll, fd) < 0) {
        free(self);
        return NULL;
    }
    self->poll.data = self;
    uv_idle_init(loop, &self->idle);
    self->idle.data = self;
    self->open_handles = 2;
    uv_poll_start(&self->poll, UV_READABLE, s_on_poll);
    /* messages may already be waiting: their edge fired before we watched */
    sp_zpoll_kick(self);
    return self;
}

void
sp_zpoll_kick(sp_zpoll_t *self)
{
    if (self && !self->closing)
        uv_idle_start(&self->idle, s_on_idle);
}

static void
s_on_close(uv_handle_t *handle)
{
    sp_zpoll_t *self = handle->data;
    if (--self->open_handles == 0)
        free(self);
}

void
sp_zpoll_destroy(sp_zpoll_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    sp_zpoll_t *self = *self_p;
    self->closing = 1;
    uv_poll_stop(&self->poll);
    uv_idle_stop(&self->idle);
    uv_close((uv_handle_t *)&self->poll, s_on_close);
    uv_close((uv_handle_t *)&self->idle, s_on_close);
    *self_p = NULL;
}
