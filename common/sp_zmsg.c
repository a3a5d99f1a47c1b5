/*
 * sp_zmsg.c - whole multipart ZeroMQ messages.
 */
#include "sp_zmsg.h"

#include <errno.h>

int
sp_zmsg_recv(sp_zmsg_t *msg, void *socket, int flags)
{
    msg->count = 0;
    msg->too_many = false;
    for (;;) {
        zmq_msg_t part;
        zmq_msg_init(&part);
        if (zmq_msg_recv(&part, socket, msg->count ? 0 : flags) < 0) {
            int err = errno;
            zmq_msg_close(&part);
            if (msg->count == 0) {
                errno = err;
                return -1;
            }
            /* a multipart message arrives whole; a failure midway means the socket is closing */
            sp_zmsg_close(msg);
            errno = err;
            return -1;
        }
        int more = zmq_msg_more(&part);
        if (msg->count < SP_ZMSG_MAX_FRAMES) {
            msg->frames[msg->count++] = part;
        } else {
            msg->too_many = true;
            zmq_msg_close(&part);
        }
        if (!more)
            return 0;
    }
}

void
sp_zmsg_close(sp_zmsg_t *msg)
{
    for (size_t i = 0; i < msg->count; i++)
        zmq_msg_close(&msg->frames[i]);
    msg->count = 0;
}

sp_frame_t
sp_zmsg_frame(const sp_zmsg_t *msg, size_t index)
{
    sp_frame_t frame = {"", 0};
    if (index < msg->count) {
        zmq_msg_t *part = (zmq_msg_t *)&msg->frames[index];
        frame.data = zmq_msg_data(part);
        frame.size = zmq_msg_size(part);
    }
    return frame;
}

size_t
sp_zmsg_frames(const sp_zmsg_t *msg, sp_frame_t *out)
{
    for (size_t i = 0; i < msg->count; i++)
        out[i] = sp_zmsg_frame(msg, i);
    return msg->count;
}

int
sp_zsend(void *socket, const sp_frame_t *frames, size_t count, int flags)
{
    for (size_t i = 0; i < count; i++) {
        int more = i + 1 < count ? ZMQ_SNDMORE : 0;
        if (zmq_send(socket, frames[i].data, frames[i].size, flags | more) < 0)
            return -1;
    }
    return 0;
}

int
sp_zmsg_send_tail(sp_zmsg_t *msg, size_t first, void *socket, int flags)
{
    if (first >= msg->count)
        return zmq_send(socket, "", 0, flags) < 0 ? -1 : 0;
    for (size_t i = first; i < msg->count; i++) {
        int more = i + 1 < msg->count ? ZMQ_SNDMORE : 0;
        /* zmq_msg_send takes the content on success and leaves the part empty */
        if (zmq_msg_send(&msg->frames[i], socket, flags | more) < 0)
            return -1;
    }
    return 0;
}

int
sp_zsend_with_tail(void *socket, const sp_frame_t *head, size_t count, sp_zmsg_t *msg,
                   size_t first, int flags)
{
    for (size_t i = 0; i < count; i++)
        if (zmq_send(socket, head[i].data, head[i].size, flags | ZMQ_SNDMORE) < 0)
            return -1;
    return sp_zmsg_send_tail(msg, first, socket, flags);
}
