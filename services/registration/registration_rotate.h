/*
 * registration_rotate.h - data_key_rotate: create a new data key and
 * re-seal every actor's contact points under it, while the service keeps
 * serving.
 *
 * The rotation walks every tenant of the directory in batches of actors
 * (one transaction reads a batch whose contact points are under an older
 * key, or still in plain text from before 003_privacy; the next writes the
 * re-sealed values back, each only if the row still holds what was read,
 * so a concurrent change is never overwritten: a row that changed is
 * picked up again by the next pass).  Passes repeat until one finds
 * nothing left, and, after creating a key, until the other workers have
 * had the time to load it (their periodic reload, `reload_ms`): a worker
 * that had not seen the new key could still seal under the old one, so a
 * pass that finds nothing only counts after that.  At most 10 passes; the
 * reply says how many rows are left.  Re-sealing changes no content: it
 * writes no event and leaves updated_at alone.
 *
 * Other workers open values under a key they have not loaded by reloading
 * the key directory (sp_keyring_open), so nothing fails meanwhile.  The
 * key directory must be the same for every worker (one host, or a shared
 * volume).  One rotation at a time per worker.
 */
#ifndef REGISTRATION_ROTATE_H
#define REGISTRATION_ROTATE_H

#include "sp_crypto.h"
#include "sp_db.h"
#include "sp_error.h"
#include "sp_worker.h"

#include <stdbool.h>
#include <stdint.h>
#include <uv.h>

typedef struct registration_rotate_t registration_rotate_t;

#define REGISTRATION_ROTATE_MAX_PASSES 10

/* A rotator on `loop` using `db` and `keys` (borrowed; they must outlive
 * it); other workers reload the key directory every `reload_ms`. */
registration_rotate_t *registration_rotate_new(uv_loop_t *loop, sp_db_t *db, sp_keyring_t *keys,
                                               int reload_ms);

/* Start a rotation that answers `request` (taken over) with a
 * RegistrationReply carrying `correlation_id` once it is done:
 * `new_key` creates data key <current + 1> first; `batch` actors per
 * transaction.  Returns 0, or -1 with `err` set (a rotation is running:
 * FAILED_PRECONDITION; the key could not be created: INTERNAL) and
 * `request` not taken. */
int registration_rotate_start(registration_rotate_t *self, sp_request_t **request,
                              uint64_t correlation_id, bool new_key, unsigned batch,
                              sp_error_t *err);

/* True while a rotation runs. */
bool registration_rotate_running(const registration_rotate_t *self);

/* Stop: a running rotation is answered UNAVAILABLE now ("run again with
 * reseal_only"); what it re-sealed stays.  Closes the rotator's timer (the
 * loop must run once more). */
void registration_rotate_stop(registration_rotate_t *self);

/* Stop, and free once nothing of it is pending (a transaction in flight
 * or the timer's close keeps it until its callback).  Idempotent; nulls
 * *self_p. */
void registration_rotate_destroy(registration_rotate_t **self_p);

#endif
