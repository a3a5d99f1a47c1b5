/*
 * broker_zap.h - the broker's ZAP handler (ZeroMQ RFC 27), in its own
 * thread: a REP socket bound at inproc://zeromq.zap.01 that libzmq asks
 * about every CURVE handshake on the broker's sockets.
 *
 * It answers 200 with User-Id = the client's public key (Z85) when the
 * mechanism is CURVE and broker_access_zap accepts the key for the socket's
 * domain; 400 for everything else (500 for a malformed request).
 *
 * Fail closed: libzmq 4.3 lets every client in when nothing is bound at the
 * ZAP endpoint.  So
 *  - broker_zap_new binds before it returns: call it before any CURVE
 *    socket exists;
 *  - close every CURVE socket before broker_zap_destroy;
 *  - if the thread ends on its own (a receive error, or the test fault
 *    `exit_after`), it leaves its socket bound and unanswered - handshakes
 *    then wait instead of succeeding - and calls `on_exit`, from which the
 *    broker closes its CURVE sockets and exits non-zero.
 */
#ifndef BROKER_ZAP_H
#define BROKER_ZAP_H

#include "broker_keys.h"

#include <stdbool.h>
#include <stdint.h>

#define BROKER_ZAP_ENDPOINT "inproc://zeromq.zap.01"

typedef struct broker_zap_t broker_zap_t;

typedef struct {
    broker_keys_t *keys; /* borrowed; refreshed from disk before each answer */
    /* Called on the handler thread when it ends without broker_zap_destroy
     * (must only wake the main loop, e.g. uv_async_send). */
    void (*on_exit)(void *arg);
    void *arg;
    /* Test fault (SAMSPIL_FAULT=zap-exit-after=N): end after answering N
     * requests, as if the handler had died.  0: never. */
    long exit_after;
} broker_zap_config_t;

typedef struct {
    uint64_t accepted; /* 200 answers */
    uint64_t refused;  /* 400 and 500 answers */
} broker_zap_stats_t;

/* Bind the ZAP endpoint in `zmq_context` and start the handler thread.
 * Returns NULL on failure (logged; e.g. the endpoint is bound already). */
broker_zap_t *broker_zap_new(void *zmq_context, const broker_zap_config_t *config);

/* Stop the thread (if it still runs), join it and close its sockets.
 * Idempotent; nulls *self_p. */
void broker_zap_destroy(broker_zap_t **self_p);

/* False once the thread has ended on its own. */
bool broker_zap_running(const broker_zap_t *self);

/* Answers so far. */
void broker_zap_stats(const broker_zap_t *self, broker_zap_stats_t *out);

/* The value of "zap-exit-after=N" in a SAMSPIL_FAULT value (comma-separated
 * faults), or 0 when absent or malformed. */
long broker_zap_fault_exit_after(const char *fault);

#endif
