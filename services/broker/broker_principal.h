/*
 * broker_principal.h - who a message comes from: the samspil.v1.Principal
 * the broker hands to the worker in the principal frame of each REQUEST.
 *
 * With CurveZMQ (the default) the ZAP handler (broker_zap.c) answers each
 * handshake with User-Id = the client's public key (Z85), which libzmq
 * attaches to every message of that connection.  For each message the
 * broker looks that key up in the key registry again, so a key revoked
 * while its connection is open loses access at its next message.
 *
 * Development mode (SAMSPIL_PLAINTEXT=1, ipc/loopback only): no client is
 * authenticated and every message runs as {client_id "dev-operator", role
 * operator, all tenants}; workers may register.
 */
#ifndef BROKER_PRINCIPAL_H
#define BROKER_PRINCIPAL_H

#include "broker_keys.h"
#include "sp_frame.h"

#include <stdbool.h>

typedef struct broker_principal_t broker_principal_t;

/* The client id every request carries in development mode. */
#define BROKER_PRINCIPAL_DEV_CLIENT "dev-operator"

/* Create the principal source for development mode.  Returns NULL on failure. */
broker_principal_t *broker_principal_new_development(void);

/* Create the principal source that looks keys up in `keys` (borrowed: it
 * must outlive the principal source).  Returns NULL on failure. */
broker_principal_t *broker_principal_new(broker_keys_t *keys);

/* Free.  Idempotent; nulls *self_p. */
void broker_principal_destroy(broker_principal_t **self_p);

/* True while no client is authenticated. */
bool broker_principal_development_mode(const broker_principal_t *self);

/* The principal of a message whose ZAP User-Id is `user_id` (NULL when the
 * connection was not authenticated).  On BROKER_KEYS_VALID sets *packed to
 * bytes owned by `self` (valid until it is destroyed, also after the key is
 * revoked) and *role (may be NULL); in development mode every message is
 * VALID.  Otherwise the message must be refused. */
broker_keys_status_t broker_principal_lookup(broker_principal_t *self, const char *user_id,
                                             sp_frame_t *packed, Samspil__V1__Role *role);

/* The same as broker_principal_lookup; returns 0 for VALID, else -1. */
int broker_principal_for(broker_principal_t *self, const char *user_id, sp_frame_t *packed);

/* The key entry behind `user_id` if it is valid (copied into `out`).
 * Returns 0, or -1 when unknown, revoked, or in development mode (then
 * `out` is an operator of all tenants and 0 is returned). */
int broker_principal_key(broker_principal_t *self, const char *user_id, broker_key_t *out);

#endif
