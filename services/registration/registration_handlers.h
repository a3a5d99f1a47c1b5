/*
 * registration_handlers.h - the samspil.registration request handler: decode,
 * check the principal's role and tenant, validate, turn a CPR ref into its
 * pseudonym, run the operation's one transaction (data_key_rotate: the
 * rotator's many), and reply with a RegistrationReply (result or error).
 */
#ifndef REGISTRATION_HANDLERS_H
#define REGISTRATION_HANDLERS_H

#include "sp_crypto.h"
#include "sp_db.h"
#include "sp_worker.h"

#include <uv.h>

typedef struct registration_handlers_t registration_handlers_t;

/* Handlers running at most `max_tx` transactions at once on `db` (borrowed;
 * must outlive the handlers and every request in flight).  Requests that
 * arrive while all are busy wait, and are batched per tenant.  `keys`
 * (borrowed) seals contact points and makes CPR pseudonyms; the other
 * workers reload the key directory every `reload_ms` (data_key_rotate
 * waits for that after creating a key). */
registration_handlers_t *registration_handlers_new(uv_loop_t *loop, sp_db_t *db, int max_tx,
                                                   sp_keyring_t *keys, int reload_ms);

/* Stop: answer waiting requests "unavailable" now and every later one too
 * (call before destroying the database pool, which fails the running
 * transactions; their requests are answered "unavailable" as well). */
void registration_handlers_stop(registration_handlers_t *self);

/* Free.  Every request must have been answered.  Idempotent; nulls *self_p. */
void registration_handlers_destroy(registration_handlers_t **self_p);

/* The sp_worker handler; `arg` is the registration_handlers_t. */
void registration_handle(sp_request_t *request, void *arg);

#endif
