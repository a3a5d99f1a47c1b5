/*
 * registration_validate.h - whether a registration request is well-formed:
 * the table of operations (name, whether it acts on a tenant, whether it
 * creates) and validation of every field before any SQL runs.  Who may
 * call an operation is registration_access.h.
 *
 * External refs of actors may name a CPR number, "cpr:DDMMYY-SSSS" (or
 * without the hyphen): it must be a real date (sp_crypto.h); messages
 * about it never quote the number (it is masked: "cpr:******-****").  The
 * system "cpr-hmac" is the stored form and may not be sent; partnerships
 * take neither.
 *
 * Pure: no I/O.  Errors name the field by its dotted path in the request
 * ("actor_create.actor.name", "tenant") and quote the value.
 */
#ifndef REGISTRATION_VALIDATE_H
#define REGISTRATION_VALIDATE_H

#include "samspil/v1/registration.pb-c.h"
#include "sp_error.h"

#include <stdbool.h>

typedef Samspil__V1__RegistrationRequest__OpCase registration_opcase_t;

typedef struct {
    registration_opcase_t op;
    const char *name;   /* "actor_create": also the first component of field paths */
    bool tenant_scoped; /* acts on request.tenant (all but tenant_* and data_key_rotate) */
    bool create;        /* a create: request.idempotency_key applies */
} registration_op_t;

/* The operation's entry, or NULL for an unknown or absent op. */
const registration_op_t *registration_op_find(registration_opcase_t op);

/* Page sizes. */
#define REGISTRATION_PAGE_DEFAULT 50
#define REGISTRATION_PAGE_MAX 500

/* Limits on repeated fields. */
#define REGISTRATION_MAX_TAGS 50
#define REGISTRATION_MAX_CONTACT_POINTS 20
#define REGISTRATION_TEXT_MAX 4000   /* purpose, burning platform */
#define REGISTRATION_POSTAL_MAX 500  /* a postal address */
#define REGISTRATION_VERSION_MAX 100 /* a consent text version */
#define REGISTRATION_ROTATE_BATCH_DEFAULT 200
#define REGISTRATION_ROTATE_BATCH_MAX 5000

/* update_mask bits: actor fields ... */
#define REGISTRATION_ACTOR_NAME (1u << 0)
#define REGISTRATION_ACTOR_ORGANISATION_ID (1u << 1)
#define REGISTRATION_ACTOR_SECTOR (1u << 2)
#define REGISTRATION_ACTOR_INTERESTS (1u << 3)
#define REGISTRATION_ACTOR_PREFERRED_LANGUAGE (1u << 4)
#define REGISTRATION_ACTOR_ACCESSIBILITY_NEEDS (1u << 5)
#define REGISTRATION_ACTOR_CONTACT_POINTS (1u << 6)
#define REGISTRATION_ACTOR_VULNERABLE (1u << 7)
/* ... and partnership fields */
#define REGISTRATION_PARTNERSHIP_NAME (1u << 0)
#define REGISTRATION_PARTNERSHIP_PURPOSE (1u << 1)
#define REGISTRATION_PARTNERSHIP_BURNING_PLATFORM (1u << 2)
#define REGISTRATION_PARTNERSHIP_STATUS (1u << 3)
#define REGISTRATION_PARTNERSHIP_BACKBONE (1u << 4)

/* What validation derived from a valid request. */
typedef struct {
    unsigned update_mask; /* *_update: REGISTRATION_ACTOR_* or REGISTRATION_PARTNERSHIP_* bits */
    unsigned limit;       /* lists: page size; data_key_rotate: batch (defaults applied) */
    const char *cursor;   /* lists: the page cursor, or NULL for the first page */
} registration_checked_t;

/* Validate every field of the request's operation and its idempotency key
 * (required, so that a retry cannot create twice, on actor_create and
 * partnership_create without an external_ref and on every consent_record;
 * checked after the operation's fields) and fill `out`.  Returns 0, or -1 with INVALID_ARGUMENT in
 * `err`. */
int registration_validate(const Samspil__V1__RegistrationRequest *req, registration_checked_t *out,
                          sp_error_t *err);

#endif
