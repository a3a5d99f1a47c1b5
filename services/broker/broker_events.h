/*
 * broker_events.h - the broker's event bus: an XSUB socket that publishers'
 * PUB sockets connect to ("events in") and an XPUB socket that subscribers
 * connect to ("events out"), forwarded on the broker's libuv loop.
 *
 * Every well-formed event message, exactly two frames [topic][event] of at
 * most `max_message` bytes together, goes XSUB -> XPUB without copying;
 * anything else is dropped, counted and logged (reason, frames, bytes;
 * never contents).  Subscriptions go XPUB -> XSUB so publishers send only
 * what someone wants.  The XPUB drops for a subscriber whose queue is full
 * (ZMQ_XPUB_NODROP off): subscribers detect the gap and replay.
 *
 * Security hooks (CURVE, ZAP, subscription checks) plug in through the
 * config: `configure` runs on each socket after it is created and before
 * it binds; `allow_subscription`, when set, puts the XPUB in
 * ZMQ_XPUB_MANUAL mode and asks it about every subscription.
 */
#ifndef BROKER_EVENTS_H
#define BROKER_EVENTS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <uv.h>
#include <zmq.h>

/* Most bytes an event message (topic and event frames together) may have;
 * also ZMQ_MAXMSGSIZE of the XSUB, so a single larger frame makes libzmq
 * cut that publisher's connection (it reconnects). */
#define BROKER_EVENTS_MAX_MESSAGE ((size_t)1024 * 1024)
/* Most bytes of a topic, and of a subscription prefix. */
#define BROKER_EVENTS_MAX_TOPIC 1024
/* Messages queued per subscriber (XPUB ZMQ_SNDHWM) and from publishers
 * (XSUB ZMQ_RCVHWM). */
#define BROKER_EVENTS_HWM 100000

typedef enum {
    BROKER_EVENTS_IN,  /* the XSUB publishers connect to */
    BROKER_EVENTS_OUT, /* the XPUB subscribers connect to */
} broker_events_side_t;

/* Set options on `socket` (of `side`) before it binds, e.g. CURVE server
 * keys and a ZAP domain.  Return 0, or -1 (logged by the callee) to fail
 * broker_events_new. */
typedef int(broker_events_configure_fn)(void *arg, void *socket, broker_events_side_t side);

/* May the subscriber that sent `subscription` (its first frame, still
 * readable with zmq_msg_gets, e.g. "User-Id") receive topics starting with
 * `prefix` (`len` bytes, not NUL-terminated)?  Unsubscriptions are always
 * applied and not asked about. */
typedef bool(broker_events_allow_fn)(void *arg, zmq_msg_t *subscription, const void *prefix,
                                     size_t len);

typedef struct {
    const char *const *in_endpoints; /* XSUB binds every one (at least one) */
    size_t nin;
    const char *const *out_endpoints; /* XPUB binds every one (at least one) */
    size_t nout;
    size_t max_message; /* 0: BROKER_EVENTS_MAX_MESSAGE */
    int hwm;            /* 0: BROKER_EVENTS_HWM */
    /* optional: runs on each socket before its first bind */
    broker_events_configure_fn *configure;
    void *configure_arg;
    /* optional: if set, the XPUB is in ZMQ_XPUB_MANUAL mode, the XSUB
     * subscribes to everything upstream, and this decides per subscriber */
    broker_events_allow_fn *allow_subscription;
    void *allow_arg;
} broker_events_config_t;

typedef struct {
    uint64_t forwarded;     /* event messages sent on to subscribers */
    uint64_t dropped;       /* event messages dropped: malformed, too large, or not sendable */
    uint64_t subscriptions; /* (un)subscriptions applied */
    uint64_t refused;       /* subscriptions refused: malformed, or denied by allow_subscription */
} broker_events_stats_t;

typedef struct broker_events_t broker_events_t;

/* Create both sockets in `zmq_context`, configure and bind them, and start
 * forwarding on `loop`.  Returns NULL on failure (logged; nothing left open). */
broker_events_t *broker_events_new(uv_loop_t *loop, void *zmq_context,
                                   const broker_events_config_t *config);

/* Counters since broker_events_new. */
void broker_events_stats(const broker_events_t *self, broker_events_stats_t *out);

/* Stop forwarding, close both sockets (linger 0) and log the counters.  The
 * loop must run once more to release handles.  Idempotent; nulls *self_p. */
void broker_events_destroy(broker_events_t **self_p);

#endif
