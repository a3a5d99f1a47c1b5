/*
 * sp_client.h - an MDP/0.1 client (ZeroMQ RFC 7) for samspilctl, tests and
 * integrators written in C.
 *
 * Two ways to use it:
 *  - sp_client_call: one request, wait for its reply; on timeout the socket
 *    is replaced and the same request is sent again (Lazy Pirate), so
 *    requests must be idempotent (use an idempotency key on creates).
 *  - sp_client_send / sp_client_recv: many requests in flight on one
 *    socket; match replies by the correlation_id in the protobuf body.
 * Blocking; not for use on a libuv loop.
 */
#ifndef SP_CLIENT_H
#define SP_CLIENT_H

#include "sp_curve.h"

#include <protobuf-c/protobuf-c.h>
#include <stddef.h>
#include <stdint.h>

typedef struct sp_client_t sp_client_t;

/* Connect to a broker's client endpoint ("ipc://...", "tcp://host:port")
 * acting with certificate `curve` (copied; see sp_curve.h).  NULL means
 * "from the environment": SAMSPIL_PLAINTEXT=1 -> plain text, else the
 * file SAMSPIL_KEY, else $SAMSPIL_HOME/keys/operator.cert.  Returns NULL
 * on failure (bad endpoint: EINVAL; no usable certificate: ENOKEY, logged). */
sp_client_t *sp_client_new_curve(const char *endpoint, const sp_curve_client_t *curve);

/* sp_client_new_curve(endpoint, NULL). */
sp_client_t *sp_client_new(const char *endpoint);

/* Close the socket and free.  Idempotent; nulls *self_p. */
void sp_client_destroy(sp_client_t **self_p);

/* Per-attempt reply timeout (default 5000 ms) and extra attempts (default 2). */
void sp_client_set_timeout(sp_client_t *self, int timeout_ms);
void sp_client_set_retries(sp_client_t *self, int retries);

/* Send `request` to `service` and wait for the reply.  Returns 0 and sets
 * *reply (malloc'd, caller frees) and *reply_len; or -1 with errno
 * ETIMEDOUT when every attempt timed out, EPROTO for a malformed reply. */
int sp_client_call(sp_client_t *self, const char *service, const void *request, size_t len,
                   uint8_t **reply, size_t *reply_len);

/* Typed call: pack `request`, call, unpack the reply as `reply_desc` into
 * *reply (free with protobuf_c_message_free_unpacked).  Returns 0, or -1
 * with errno as for sp_client_call (EPROTO also when the reply won't unpack). */
int sp_client_call_pb(sp_client_t *self, const char *service, const ProtobufCMessage *request,
                      const ProtobufCMessageDescriptor *reply_desc, ProtobufCMessage **reply);

/* Pipelining: send one request without waiting.  Returns 0 or -1. */
int sp_client_send(sp_client_t *self, const char *service, const void *request, size_t len);

/* Pipelining: wait up to `timeout_ms` for any reply.  Returns 0 and sets
 * *reply and *reply_len (malloc'd), or -1 with errno ETIMEDOUT/EPROTO. */
int sp_client_recv(sp_client_t *self, int timeout_ms, uint8_t **reply, size_t *reply_len);

/* The endpoint a suite under `home` (SAMSPIL_HOME, default "./var") serves
 * clients on: "ipc://<absolute home>/run/broker.ipc".  Writes into `out`. */
const char *sp_client_default_endpoint(const char *home, char *out, size_t outlen);

#endif
