/*
 * sp_worker.h - the worker side of a service: connects to the broker,
 * announces READY with its credit, keeps heartbeats, reconnects when the
 * broker goes silent, and hands each REQUEST to the service's handler.
 *
 * Handlers may answer later (after a database round trip): the request
 * object is the reply context, and the handler owns it until it calls
 * sp_request_reply.  All calls happen on the loop thread.
 */
#ifndef SP_WORKER_H
#define SP_WORKER_H

#include "sp_curve.h"

#include "samspil/v1/common.pb-c.h"

#include <stddef.h>
#include <stdint.h>
#include <uv.h>

typedef struct sp_worker_t sp_worker_t;
typedef struct sp_request_t sp_request_t;

/* Called for each request.  The handler owns `request` and must eventually
 * pass it to sp_request_reply (exactly once), now or from a later callback. */
typedef void(sp_worker_handler_fn)(sp_request_t *request, void *arg);

typedef struct {
    const char *endpoint; /* broker's worker endpoint, e.g. "ipc:///.../broker-workers.ipc" */
    const char *service;  /* e.g. "samspil.registration" */
    unsigned credit;      /* requests held at once (1..1000) */
    int heartbeat_ms;     /* 0: SP_MDP_HEARTBEAT_MS */
    int liveness;         /* 0: SP_MDP_LIVENESS */
    sp_worker_handler_fn *handler;
    void *handler_arg;
    /* the certificate to act with (copied); NULL: from the environment,
     * sp_curve_client_load(NULL, NULL, SP_CURVE_SERVICE_CERT) - SAMSPIL_KEY,
     * else $SAMSPIL_HOME/keys/service.cert; SAMSPIL_PLAINTEXT=1: none */
    const sp_curve_client_t *curve;
} sp_worker_config_t;

/* Create a worker on `loop` (config strings and the certificate are
 * copied).  Returns NULL on failure (logged), also when no certificate can
 * be loaded. */
sp_worker_t *sp_worker_new(uv_loop_t *loop, void *zmq_context, const sp_worker_config_t *config);

/* Connect and announce READY.  Returns 0 or -1. */
int sp_worker_start(sp_worker_t *self);

/* Stop taking work: tell the broker (DISCONNECT), let requests in flight be
 * answered (up to `grace_ms`), then call `done(arg)`. */
void sp_worker_stop(sp_worker_t *self, int grace_ms, void (*done)(void *arg), void *arg);

/* Release everything (handles are closed; the loop must run once more to
 * free them).  Requests still held by handlers must be answered first.
 * Idempotent; nulls *self_p. */
void sp_worker_destroy(sp_worker_t **self_p);

/* Requests in flight (handed to the handler, not yet replied). */
size_t sp_worker_in_flight(const sp_worker_t *self);

/* The principal the broker authenticated for this request (borrowed). */
const Samspil__V1__Principal *sp_request_principal(const sp_request_t *request);

/* The request body (borrowed; valid until the reply). */
const uint8_t *sp_request_body(const sp_request_t *request, size_t *len);

/* Send `body` (copied) as the reply and free the request; nulls *request_p.
 * If the worker reconnected meanwhile the reply is still sent: the broker
 * drops replies to requests it no longer tracks. */
void sp_request_reply(sp_request_t **request_p, const void *body, size_t len);

/* Run a worker process until SIGTERM/SIGINT: creates the loop and context,
 * starts `config`, and on a signal stops gracefully and returns 0 (or 1 on
 * a startup failure).  `on_stop` (may be NULL) is called before the loop
 * ends so the service can release its own handles. */
int sp_worker_main(const sp_worker_config_t *config, uv_loop_t *loop, void (*on_stop)(void *arg),
                   void *arg);

#endif
