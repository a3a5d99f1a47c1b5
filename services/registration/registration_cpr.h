/*
 * registration_cpr.h - CPR numbers in actor external refs: a request's
 * "cpr:<number>" (already validated) is replaced, before anything else
 * sees it, by the stored form "cpr-hmac:<pseudonym>" (sp_cpr_pseudonym
 * under the ring's CPR key, scoped to the request's tenant), so lookups,
 * upserts and the unique index work on the pseudonym and the number itself
 * is never stored, logged or returned.  Replies and messages show a stored
 * pseudonym as "cpr:**********".
 *
 * Pure apart from wiping and freeing the replaced string.
 */
#ifndef REGISTRATION_CPR_H
#define REGISTRATION_CPR_H

#include "samspil/v1/registration.pb-c.h"
#include "sp_error.h"

#include <stdbool.h>
#include <stdint.h>

/* "cpr-hmac:" + 64 hex digits + NUL */
#define REGISTRATION_CPR_REF_SIZE 74

/* The slot of the actor external ref `req` stores or looks up by
 * (actor_create.actor, actor_upsert.actor, actor_get, person_export,
 * person_erase), or NULL for other operations. */
char **registration_cpr_ref_slot(Samspil__V1__RegistrationRequest *req);

/* Write the stored form of CPR ref `ref` ("cpr:DDMMYY-SSSS") for `tenant`
 * under `key` into `out`.  Returns 0, or -1 if `ref` is no valid CPR ref. */
int registration_cpr_stored_ref(const uint8_t *key, const char *tenant, const char *ref,
                                char out[REGISTRATION_CPR_REF_SIZE]);

/* Replace a "cpr:" ref of `req` by its stored form; the old string is
 * wiped and freed (`req` must come from protobuf-c's unpack with the
 * default allocator).  Nothing to do: 0.  No `key`: -1 with INTERNAL in
 * `err` (the service has no CPR key). */
int registration_cpr_pseudonymise(Samspil__V1__RegistrationRequest *req, const uint8_t *key,
                                  sp_error_t *err);

/* True for a stored pseudonym ref ("cpr-hmac:..."). */
bool registration_cpr_is_pseudonym(const char *ref);

/* What a reply or message may show of a stored ref: SP_CPR_REF_MASKED for
 * a pseudonym, else `ref` itself (NULL: ""). */
const char *registration_cpr_display(const char *ref);

#endif
