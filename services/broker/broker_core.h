/*
 * broker_core.h - the broker's routing state without any I/O: services and
 * their FIFO queues of waiting requests, workers and their credit, requests
 * in flight, heartbeat expiry, requeue of a dead worker's requests, the
 * attempt limit and the unavailable timeout.
 *
 * The caller (main.c) feeds it parsed protocol events and the current time
 * in milliseconds; the core acts through the callbacks in broker_core_ops_t,
 * which do the actual sends.  A request's payload is opaque here: the core
 * owns it from broker_core_request until it either hands it back from
 * broker_core_reply or passes it to ops->release.  Callbacks must not call
 * back into the core.
 */
#ifndef BROKER_CORE_H
#define BROKER_CORE_H

#include "sp_error.h"
#include "sp_frame.h"
#include "sp_mdp.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct broker_core_t broker_core_t;

typedef struct {
    int heartbeat_ms;   /* heartbeat interval (> 0) */
    int liveness;       /* silent intervals after which a worker is dropped (> 0) */
    int unavailable_ms; /* how long a request waits for a worker to appear */
    size_t max_queue;   /* waiting requests per service; 0: BROKER_CORE_MAX_QUEUE */
    size_t max_bytes;   /* payload bytes held in all; 0: BROKER_CORE_MAX_BYTES */
    int max_attempts;   /* workers that may die holding a request; 0: BROKER_CORE_MAX_ATTEMPTS */
    uint64_t first_id;  /* first request id handed out (0 is never used) */
} broker_core_config_t;

#define BROKER_CORE_MAX_QUEUE 100000
#define BROKER_CORE_MAX_BYTES ((size_t)512 * 1024 * 1024)
#define BROKER_CORE_MAX_ATTEMPTS 3

typedef struct {
    /* Hand request `id` with `payload` (still owned by the core) to the
     * worker with routing identity `worker`.  Return 0, or -1 if it could
     * not be sent: the core then forgets that worker and requeues the
     * request without counting an attempt. */
    int (*send_request)(void *arg, sp_frame_t worker, uint64_t id, void *payload);
    /* Send the bodyless command SP_MDPW_HEARTBEAT or SP_MDPW_DISCONNECT.
     * Return 0, or -1 if the worker can't be reached (after a failed
     * HEARTBEAT the core drops the worker at once). */
    int (*send_command)(void *arg, sp_frame_t worker, int command);
    /* Answer the client of `payload` with an error the broker produced
     * (`message` is lower-case, no trailing period).  The core releases the
     * payload afterwards. */
    void (*send_error)(void *arg, void *payload, sp_error_code_t code, const char *message);
    /* Free a payload the core no longer needs. */
    void (*release)(void *arg, void *payload);
    /* Optional (may be NULL): worker `worker` of `service` was forgotten for
     * `reason` ("expired", "unreachable", "second ready", "disconnected",
     * "broker stopping"); `requeued` of its requests went back to the queue. */
    void (*worker_gone)(void *arg, sp_frame_t worker, sp_frame_t service, const char *reason,
                        size_t requeued);
} broker_core_ops_t;

/* What a worker can receive, and so the most a client request may carry:
 * the REQUEST a worker gets is BROKER_CORE_REQUEST_HEAD frames ("" | SPW01 |
 * 0x02 | request-id | principal) followed by the body frames, in a buffer of
 * SP_ZMSG_MAX_FRAMES (16) frames - broker_core.c asserts that sum at compile
 * time; a worker joins a multi-frame body into one buffer of at most
 * SP_MDP_MAX_FRAME_SIZE bytes. */
#define BROKER_CORE_REQUEST_HEAD 5
#define BROKER_CORE_MAX_BODY_FRAMES 11
#define BROKER_CORE_MAX_BODY_BYTES ((size_t)SP_MDP_MAX_FRAME_SIZE)

/* Check a client request's body frames `body[0..nbody-1]` against those
 * limits before the request is accepted.  `truncated`: the message had more
 * frames than the broker could receive, so `nbody` is only the count kept.
 * Returns 0, or -1 with `err` set to INVALID_ARGUMENT on field "body"
 * ("request has 12 body frames; at most 11", "request body is 1400000
 * bytes; at most 1048576"). */
int broker_core_check_body(const sp_frame_t *body, size_t nbody, bool truncated, sp_error_t *err);

/* Outcome of a worker command. */
typedef enum {
    BROKER_CORE_OK = 0,
    BROKER_CORE_UNKNOWN_WORKER,  /* not registered: DISCONNECT sent (except for a DISCONNECT) */
    BROKER_CORE_PROTOCOL_ERROR,  /* e.g. a second READY: DISCONNECT sent, worker forgotten */
    BROKER_CORE_UNKNOWN_REQUEST, /* reply for an id this worker does not hold: dropped */
} broker_core_result_t;

/* One service as mmi.status shows it. */
typedef struct {
    sp_frame_t name;    /* borrowed, valid during the callback */
    uint32_t workers;   /* registered, alive and not leaving */
    uint32_t credit;    /* requests those workers can take now */
    uint32_t in_flight; /* handed to workers, not yet answered */
    uint32_t queued;    /* waiting for a worker */
} broker_core_service_stat_t;

/* Create the core.  `ops` is copied; `arg` is passed to every callback. */
broker_core_t *broker_core_new(const broker_core_config_t *config, const broker_core_ops_t *ops,
                               void *arg);

/* Release every payload (no answers are sent) and free.  Idempotent; nulls *self_p. */
void broker_core_destroy(broker_core_t **self_p);

/* A client request for `service` (a valid, non-mmi name).  The core takes
 * `payload` (`bytes` long, for the memory cap), queues it at the back and
 * dispatches what it can.  Returns the request id, or 0 when it was refused
 * (queue full, memory cap): then the client has been answered UNAVAILABLE
 * and the payload released. */
uint64_t broker_core_request(broker_core_t *self, sp_frame_t service, void *payload, size_t bytes,
                             uint64_t now);

/* READY from `worker` for `service` with `credit` (1..SP_MDP_MAX_CREDIT). */
broker_core_result_t broker_core_ready(broker_core_t *self, sp_frame_t worker, sp_frame_t service,
                                       uint32_t credit, uint64_t now);

/* HEARTBEAT from `worker`. */
broker_core_result_t broker_core_heartbeat(broker_core_t *self, sp_frame_t worker, uint64_t now);

/* DISCONNECT from `worker`: it takes no more work; requests it holds stay
 * with it until it answers them or expires. */
broker_core_result_t broker_core_disconnect(broker_core_t *self, sp_frame_t worker, uint64_t now);

/* REPLY from `worker` for request `id`.  On BROKER_CORE_OK, *payload is
 * the answered request's payload, now owned by the caller (who forwards
 * the reply to that client and frees it); otherwise *payload is NULL. */
broker_core_result_t broker_core_reply(broker_core_t *self, sp_frame_t worker, uint64_t id,
                                       uint64_t now, void **payload);

/* Periodic work, to be called several times per heartbeat interval: drop
 * workers silent for `liveness` intervals (their requests go back to the
 * front of the queue, or are abandoned after max_attempts), send due
 * heartbeats, answer UNAVAILABLE to requests that waited unavailable_ms for
 * a service without workers. */
void broker_core_tick(broker_core_t *self, uint64_t now);

/* Stop: answer every request UNAVAILABLE, send DISCONNECT to every worker
 * and forget them all. */
void broker_core_shutdown(broker_core_t *self);

/* Workers able to take work for `service` (0 if the service is unknown). */
size_t broker_core_service_workers(const broker_core_t *self, sp_frame_t service);

/* Call `fn` for every known service, in the order they became known. */
void broker_core_foreach_service(const broker_core_t *self,
                                 void (*fn)(const broker_core_service_stat_t *stat, void *arg),
                                 void *arg);

/* Counts, for tests and logs. */
size_t broker_core_worker_count(const broker_core_t *self);
size_t broker_core_request_count(const broker_core_t *self);
size_t broker_core_service_count(const broker_core_t *self);

#endif
