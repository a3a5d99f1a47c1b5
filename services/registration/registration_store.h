/*
 * registration_store.h - the registration service's SQL: for each operation,
 * the statements of its one transaction (sent as one pipeline, so every
 * operation is one round trip and all-or-nothing), and the mapping of their
 * results to the reply.
 *
 * Every tenant-scoped transaction starts with
 *   SELECT set_config('samspil.tenant', code, true) FROM registration.tenants
 *    WHERE code = $1
 * which sets the tenant only when it is in the directory: for an unknown
 * tenant the setting stays empty, so row-level security hides every row
 * and refuses every insert, nothing is written, and the reply is NOT_FOUND
 * "tenant".
 *
 * Creates are idempotent: the INSERT uses ON CONFLICT DO NOTHING, and only
 * when it met an existing row does a second transaction read the row that
 * holds the idempotency key or natural key.  See registration_store.c for
 * the exact semantics.
 */
#ifndef REGISTRATION_STORE_H
#define REGISTRATION_STORE_H

#include "registration_contacts.h"
#include "registration_hash.h"
#include "registration_pgtext.h"
#include "registration_validate.h"
#include "samspil/v1/registration.pb-c.h"
#include "sp_db.h"
#include "sp_error.h"

#include <stdbool.h>

#define REGISTRATION_MAX_STMTS 8
#define REGISTRATION_BATCH_MAX 64 /* calls in one transaction at most */

/* One request on its way through the database. */
typedef struct {
    const Samspil__V1__RegistrationRequest *req; /* validated; CPR refs already pseudonyms */
    const registration_op_t *op;
    registration_checked_t checked;
    bool restricted; /* the principal sees contact points and the vulnerable flag */
    /* 0: the operation; 1: a create's read of the row it conflicted with,
     * or an upsert's write once the id its contact points are sealed for
     * is known (phase 0 read it) */
    int phase;
    sp_keyring_t *keys;           /* data keys (borrowed) */
    bool writes_contacts;         /* actor_upsert: replaces the stored contact points */
    registration_sealed_t sealed; /* the contact points this call writes, sealed */
    char sealed_for[37];          /* the actor id `sealed` is bound to */
    int reseals;                  /* upsert: times the row turned out to be another */
    int open_errno;               /* reading: contact points that did not open (errno) */
    char open_actor[37];          /* ... of this actor */
    char hash_hex[REGISTRATION_HASH_HEX_SIZE];
    char id[37];                      /* creates: the new row's id (UUIDv7) */
    const char *tenant_filter;        /* tenant_list: text[] of the tenants shown, NULL for all */
    int stmt[REGISTRATION_MAX_STMTS]; /* statement indexes in the transaction, -1 if unused */
    registration_arena_t arena;       /* the reply's memory */
} registration_call_t;

/* Set up `call` for a validated request: hashes creates, and seals the
 * contact points an actor_create or actor_update writes (actor_upsert
 * seals once it knows the actor's id) under `keys`.  `restricted`: the
 * principal sees contact points and the vulnerable flag.  Returns 0, or
 * -1 with INTERNAL in `err` (no data key); release the call either way. */
int registration_call_init(registration_call_t *call, const Samspil__V1__RegistrationRequest *req,
                           const registration_op_t *op, const registration_checked_t *checked,
                           bool restricted, sp_keyring_t *keys, sp_error_t *err);

/* Add the statements of `n` (<= REGISTRATION_BATCH_MAX) calls of one tenant
 * to `tx` (one transaction):
 * one tenant statement, and the actor creates among them as one multi-row
 * INSERT; each call then finishes as if it had run alone. */
void registration_store_prepare_batch(registration_call_t *const *calls, int n, sp_db_tx_t *tx);

/* After `tx` finished: true if its tenant statement found no such tenant
 * (then every call of the transaction is answered NOT_FOUND "tenant"). */
bool registration_store_unknown_tenant(const registration_call_t *call, const sp_db_tx_t *tx);

/* tenant_list: show only these tenants (for principals not acting for all). */
void registration_call_limit_tenants(registration_call_t *call, char *const *tenants, size_t n);

/* Release the reply's memory. */
void registration_call_release(registration_call_t *call);

/* Add the operation's statements to `tx`.  Tenant-scoped operations need
 * the tenant statement first: pass -1 to add it, or the index of the one
 * already in `tx` (calls of the same tenant batched into one transaction).
 * Returns the tenant statement's index, or -1 for tenant operations. */
int registration_store_prepare(registration_call_t *call, sp_db_tx_t *tx, int tenant_stmt);

/* After `tx` finished: fill `reply` with the result (and `created`), or set
 * `err`, and return false.  Reply memory is borrowed from `tx`'s results and
 * `call`'s arena: pack the reply before destroying either.  Returns true
 * when a create met an existing row: destroy `tx`, then prepare and run a
 * new transaction for the same call (it reads that row), and finish again. */
bool registration_store_finish(registration_call_t *call, const sp_db_tx_t *tx,
                               Samspil__V1__RegistrationReply *reply, sp_error_t *err);

#endif
