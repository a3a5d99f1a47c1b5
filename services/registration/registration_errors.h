/*
 * registration_errors.h - what a failed database transaction means for the
 * client: SQLSTATE and violated constraint mapped to an error code, the
 * request field at fault and a message quoting the value.
 *
 * Pure.  The server's own message is never used (it can quote stored data
 * of other rows); only the SQLSTATE and the constraint name are.
 */
#ifndef REGISTRATION_ERRORS_H
#define REGISTRATION_ERRORS_H

#include "sp_error.h"

#include <stdbool.h>
#include <stddef.h>

/* A request value the message may quote, by its path relative to the
 * operation ("membership.actor_id"), or "tenant" / "idempotency_key". */
typedef struct {
    const char *field;
    const char *value;
} registration_value_t;

/* Map a failure.  `op` is the operation's name (first component of field
 * paths); `values` lists the request values messages may quote.  Sets `err`
 * and returns its code. */
sp_error_code_t registration_db_error(const char *sqlstate, const char *constraint,
                                      bool connection_failed, const char *op,
                                      const registration_value_t *values, size_t nvalues,
                                      sp_error_t *err);

#endif
