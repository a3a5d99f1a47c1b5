/*
 * sp_zmsg.h - whole multipart ZeroMQ messages: receive all parts at once
 * (bounded), send a list of frames, forward received frames without copying.
 */
#ifndef SP_ZMSG_H
#define SP_ZMSG_H

#include "sp_frame.h"

#include <stdbool.h>
#include <stddef.h>
#include <zmq.h>

#define SP_ZMSG_MAX_FRAMES 16

typedef struct {
    zmq_msg_t frames[SP_ZMSG_MAX_FRAMES];
    size_t count;  /* frames held */
    bool too_many; /* the message had more than SP_ZMSG_MAX_FRAMES parts; the rest were dropped */
} sp_zmsg_t;

/* Receive one whole multipart message from `socket` into `msg` (which the
 * caller provides and must release with sp_zmsg_close after a 0 return).
 * `flags` is 0 or ZMQ_DONTWAIT.  Returns 0, or -1 with errno (EAGAIN when
 * nothing is waiting). */
int sp_zmsg_recv(sp_zmsg_t *msg, void *socket, int flags);

/* Release every frame still held. */
void sp_zmsg_close(sp_zmsg_t *msg);

/* View of frame `index` (borrowed from `msg`); an empty frame when out of range. */
sp_frame_t sp_zmsg_frame(const sp_zmsg_t *msg, size_t index);

/* Fill `out` (room for SP_ZMSG_MAX_FRAMES) with views of every frame; returns the count. */
size_t sp_zmsg_frames(const sp_zmsg_t *msg, sp_frame_t *out);

/* Send `count` frames as one multipart message; `flags` may add ZMQ_DONTWAIT
 * (ZMQ_SNDMORE is managed here).  Data is copied.  Returns 0 or -1 with errno. */
int sp_zsend(void *socket, const sp_frame_t *frames, size_t count, int flags);

/* Send frames `first`..`msg->count-1` of `msg` as the tail of a message whose
 * head the caller already sent with ZMQ_SNDMORE; the frames are moved (no
 * copy) and emptied in `msg`.  Returns 0 or -1 with errno. */
int sp_zmsg_send_tail(sp_zmsg_t *msg, size_t first, void *socket, int flags);

/* Send `count` head frames (copied) followed by frames `first`.. of `msg` (moved). */
int sp_zsend_with_tail(void *socket, const sp_frame_t *head, size_t count, sp_zmsg_t *msg,
                       size_t first, int flags);

#endif
