/*
 * registration_ids.h - ids for new rows: UUID version 7 (RFC 9562), whose
 * first 48 bits are the Unix time in milliseconds and the rest random.
 *
 * Time-ordered ids keep the primary-key indexes' inserts at their right
 * edge instead of at a random page, which matters once an index is larger
 * than PostgreSQL's buffer cache.  They reveal the creation time to the
 * millisecond, which every entity shows in created_at anyway.
 */
#ifndef REGISTRATION_IDS_H
#define REGISTRATION_IDS_H

#include <stdint.h>

#define REGISTRATION_UUID_SIZE 37 /* 36 characters and a NUL */

/* Format a UUIDv7 from `unix_ms` and 10 random bytes into `out`. */
void registration_uuid_v7_format(uint64_t unix_ms, const uint8_t random[10],
                                 char out[REGISTRATION_UUID_SIZE]);

/* A new UUIDv7 from the clock and libsodium's random generator. */
void registration_uuid_v7(char out[REGISTRATION_UUID_SIZE]);

#endif
