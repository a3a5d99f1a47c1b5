/*
 * registration_contacts.h - an actor's contact points at rest.
 *
 * The list is packed as samspil.v1.ContactPointList and sealed under the
 * ring's current data key (sp_crypto.h) with associated data binding it to
 * the tenant and the actor's id, so a sealed list copied to another row
 * does not open.  Beside it the row keeps a fingerprint: HMAC-SHA-256,
 * under the ring's keyed-hash key, of the same binding and the packed
 * list, so a statement can tell whether the contact points changed (a new
 * seal differs every time: random nonce) without opening anything.  An
 * empty list is stored as nothing (NULL sealed value and fingerprint).
 *
 * No logging; plaintext buffers are wiped before they are freed.
 */
#ifndef REGISTRATION_CONTACTS_H
#define REGISTRATION_CONTACTS_H

#include "samspil/v1/registration.pb-c.h"
#include "sp_crypto.h"

#include <stddef.h>

#define REGISTRATION_CONTACTS_PURPOSE "contact_points"
/* a fingerprint as PostgreSQL bytea input: "\x" + 64 hex digits + NUL */
#define REGISTRATION_FP_SIZE 67

typedef struct {
    char *sealed;                  /* "v1.<key>.<base64>" (malloc'd), NULL for no contact points */
    char fp[REGISTRATION_FP_SIZE]; /* "" for no contact points */
} registration_sealed_t;

/* Seal `n` contact points of actor `actor_id` in `tenant` into `out`
 * (which the caller clears with registration_sealed_clear).  Returns 0,
 * or -1 with errno ENOKEY (the ring has no data key or no keyed-hash key)
 * or ENOMEM. */
int registration_contacts_seal(sp_keyring_t *keys, const char *tenant, const char *actor_id,
                               Samspil__V1__ContactPoint *const *cps, size_t n,
                               registration_sealed_t *out);

/* The fingerprint of an already packed list `packed[0..len)` (rotation
 * computes it for lists sealed before fingerprints existed).  Returns 0,
 * or -1 with errno ENOKEY. */
int registration_contacts_fingerprint(sp_keyring_t *keys, const char *tenant, const char *actor_id,
                                      const uint8_t *packed, size_t len,
                                      char out[REGISTRATION_FP_SIZE]);

/* Free what `s` holds; it is empty again. */
void registration_sealed_clear(registration_sealed_t *s);

/* Open the sealed list of actor `actor_id` in `tenant` and unpack it with
 * `allocator` (NULL: malloc; free with
 * samspil__v1__contact_point_list__free_unpacked).  Returns 0 with *out
 * set, or -1 with errno ENOKEY (no such key, even after reloading the
 * ring), EBADMSG (wrong row, altered, wrong key), EINVAL (not a sealed
 * value, or not a packed list). */
int registration_contacts_open(sp_keyring_t *keys, const char *tenant, const char *actor_id,
                               const char *sealed, ProtobufCAllocator *allocator,
                               Samspil__V1__ContactPointList **out);

/* Re-seal `sealed` (any key) under the ring's current key for the same
 * row: *resealed is malloc'd.  Returns 0, or -1 with errno as for
 * registration_contacts_open. */
int registration_contacts_reseal(sp_keyring_t *keys, const char *tenant, const char *actor_id,
                                 const char *sealed, char **resealed);

#endif
