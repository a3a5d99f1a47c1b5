/*
 * registration_hash.h - the fingerprint of a create request, stored beside
 * its idempotency key: a repeat with the same key must carry the same
 * request, or it is refused.
 *
 * Pure: SHA-256 over the operation's protobuf encoding with the fields the
 * server assigns (id, created_at, updated_at) cleared, so two requests that
 * ask for the same thing hash alike whatever those fields carried.  protobuf-c encodes fields in
 * number order, so the encoding of a message is stable.
 */
#ifndef REGISTRATION_HASH_H
#define REGISTRATION_HASH_H

#include "samspil/v1/registration.pb-c.h"

#include <stdint.h>

#define REGISTRATION_HASH_SIZE 32
/* "\x" + 64 hex digits + NUL: PostgreSQL's bytea input form */
#define REGISTRATION_HASH_HEX_SIZE 67

/* Hash the request's operation (any op; the op number is part of the hash). */
void registration_request_hash(const Samspil__V1__RegistrationRequest *req,
                               uint8_t out[REGISTRATION_HASH_SIZE]);

/* Write `hash` as bytea hex input ("\x0a1b...") into `out`. */
void registration_hash_hex(const uint8_t hash[REGISTRATION_HASH_SIZE],
                           char out[REGISTRATION_HASH_HEX_SIZE]);

#endif
