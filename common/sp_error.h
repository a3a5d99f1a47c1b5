/*
 * sp_error.h - the error a request ends in: a stable code, a message naming
 * the field and value, and the field's path.  Converts to the wire `Error`.
 */
#ifndef SP_ERROR_H
#define SP_ERROR_H

#include "samspil/v1/common.pb-c.h"

#include <stdbool.h>

typedef Samspil__V1__ErrorCode sp_error_code_t;

#define SP_OK SAMSPIL__V1__ERROR_CODE__ERROR_CODE_UNSPECIFIED
#define SP_INVALID_ARGUMENT SAMSPIL__V1__ERROR_CODE__ERROR_CODE_INVALID_ARGUMENT
#define SP_NOT_FOUND SAMSPIL__V1__ERROR_CODE__ERROR_CODE_NOT_FOUND
#define SP_ALREADY_EXISTS SAMSPIL__V1__ERROR_CODE__ERROR_CODE_ALREADY_EXISTS
#define SP_FAILED_PRECONDITION SAMSPIL__V1__ERROR_CODE__ERROR_CODE_FAILED_PRECONDITION
#define SP_PERMISSION_DENIED SAMSPIL__V1__ERROR_CODE__ERROR_CODE_PERMISSION_DENIED
#define SP_UNAVAILABLE SAMSPIL__V1__ERROR_CODE__ERROR_CODE_UNAVAILABLE
#define SP_INTERNAL SAMSPIL__V1__ERROR_CODE__ERROR_CODE_INTERNAL

/* An error held by value: no allocation, safe to copy. */
typedef struct {
    sp_error_code_t code; /* SP_OK when there is no error */
    char field[64];       /* dotted path of the field at fault, or "" */
    char message[320];    /* lower-case, no trailing period */
} sp_error_t;

/* Reset to "no error". */
void sp_error_clear(sp_error_t *err);

/* Set code, field and a printf-formatted message.  Returns -1 so validators
 * can write `return sp_error_set(...)`. */
int sp_error_set(sp_error_t *err, sp_error_code_t code, const char *field, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

/* True when `err` holds an error. */
bool sp_error_is_set(const sp_error_t *err);

/* Quote a user-supplied value for an error message: at most `max` bytes of it
 * (cut between characters, "..." appended when cut, also when `out` is too
 * small); invalid UTF-8 bytes, control characters (C0, DEL, C1) and
 * bidirectional overrides become '?'.  Writes into `out` (size `outlen`)
 * and returns it. */
const char *sp_error_quote(const char *value, size_t max, char *out, size_t outlen);

/* Fill a wire Error whose strings point into `err` (borrowed: `err` must
 * outlive `pb`'s use). */
void sp_error_to_pb(const sp_error_t *err, Samspil__V1__Error *pb);

/* Copy a wire Error into `err`. */
void sp_error_from_pb(const Samspil__V1__Error *pb, sp_error_t *err);

/* "invalid_argument", "not_found", ... ("ok" for SP_OK, "unknown" otherwise). */
const char *sp_error_code_name(sp_error_code_t code);

#endif
