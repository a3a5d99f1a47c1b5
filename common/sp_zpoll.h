/*
 * sp_zpoll.h - a ZeroMQ socket on a libuv loop.
 *
 * ZMQ_FD is edge-triggered and says only "look at ZMQ_EVENTS".  This module
 * polls it for readability, then calls `on_readable` once per waiting
 * message while ZMQ_EVENTS shows ZMQ_POLLIN, at most a fixed budget per loop
 * iteration so timers and other handles get their turn.  Any code that sends
 * on the socket outside `on_readable` must call sp_zpoll_kick afterwards: a
 * send can consume the edge that announced waiting input.
 */
#ifndef SP_ZPOLL_H
#define SP_ZPOLL_H

#include <uv.h>

typedef struct sp_zpoll_t sp_zpoll_t;

/* Called with the socket when a message is waiting: receive at most one
 * message with ZMQ_DONTWAIT (EAGAIN is harmless). */
typedef void(sp_zpoll_fn)(void *socket, void *arg);

/* Watch `socket` (not owned) on `loop`.  Returns NULL and logs on failure. */
sp_zpoll_t *sp_zpoll_new(uv_loop_t *loop, void *socket, sp_zpoll_fn *on_readable, void *arg);

/* Re-check the socket for waiting input on the next loop iteration. */
void sp_zpoll_kick(sp_zpoll_t *self);

/* Stop watching and release the handles (memory is freed in libuv's close
 * callbacks, so the loop must run once more).  Idempotent; nulls *self_p.
 * Does not close the socket. */
void sp_zpoll_destroy(sp_zpoll_t **self_p);

#endif
