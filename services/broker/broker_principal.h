/*
 * broker_principal.h - who a request comes from: the samspil.v1.Principal the
 * broker hands to the worker in the principal frame of each REQUEST.
 *
 * Development mode (the only mode until CurveZMQ and ZAP land): no client is
 * authenticated and every request runs as {client_id "dev-operator", role
 * operator, all tenants}.  The ZAP-based version will look the principal up
 * by the connection's ZAP user id; callers already pass it.
 */
#ifndef BROKER_PRINCIPAL_H
#define BROKER_PRINCIPAL_H

#include "sp_frame.h"

#include <stdbool.h>

typedef struct broker_principal_t broker_principal_t;

/* The client id every request carries in development mode. */
#define BROKER_PRINCIPAL_DEV_CLIENT "dev-operator"

/* Create the principal source for development mode.  Returns NULL on failure. */
broker_principal_t *broker_principal_new_development(void);

/* Free.  Idempotent; nulls *self_p. */
void broker_principal_destroy(broker_principal_t **self_p);

/* True while no client is authenticated. */
bool broker_principal_development_mode(const broker_principal_t *self);

/* The packed Principal for a request from the connection whose ZAP user id
 * is `user_id` (NULL when the connection was not authenticated).  Sets
 * *packed to bytes owned by `self`, valid until it is destroyed.  Returns 0,
 * or -1 when the connection has no principal (the request must be refused). */
int broker_principal_for(const broker_principal_t *self, const char *user_id, sp_frame_t *packed);

#endif
