/*
 * registration_handlers.h - the samspil.registration request handler: decode,
 * check the principal's role and tenant, validate, run the operation's one
 * transaction, and reply with a RegistrationReply (result or error).
 */
#ifndef REGISTRATION_HANDLERS_H
#define REGISTRATION_HANDLERS_H

#include "sp_db.h"
#include "sp_worker.h"

typedef struct registration_handlers_t registration_handlers_t;

/* Handlers running their transactions on `db` (borrowed; must outlive the
 * handlers and every request in flight). */
registration_handlers_t *registration_handlers_new(sp_db_t *db);

/* Free.  Every request must have been answered.  Idempotent; nulls *self_p. */
void registration_handlers_destroy(registration_handlers_t **self_p);

/* The sp_worker handler; `arg` is the registration_handlers_t. */
void registration_handle(sp_request_t *request, void *arg);

#endif
