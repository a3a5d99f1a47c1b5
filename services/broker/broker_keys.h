/*
 * broker_keys.h - the broker's key registry: which CurveZMQ public keys may
 * connect, and the principal (name, role, tenants) each one acts as.
 *
 * The registry is a text file owned by the broker, $SAMSPIL_HOME/keys/registry
 * (mode 0600), one key per line, six fields separated by single spaces:
 *
 *   <public key, Z85> <name> <role> <tenants> <created> <revoked>
 *
 *   role     operator | integrator | facilitator | reader | service
 *   tenants  "*" (all tenants: operators and services) or comma-separated
 *            municipality codes ("101,751")
 *   created  RFC 3339 UTC to the second ("2026-11-27T07:00:00Z")
 *   revoked  the same, or "-" while the key is valid
 *
 * Lines that are empty or start with "# " (or are just "#") are comments: a
 * Z85 key may begin with '#', but never with "# ".  A line that does not
 * parse grants nothing: it is skipped with a logged error naming the line.
 *
 * Every change rewrites the whole file atomically (temporary file, fsync,
 * rename) under an flock on "<path>.lock", after rereading the file, so
 * `samspil-broker --init-keys` and a running broker never lose each other's
 * lines.  A key is never deleted: revoking stamps it, and a revoked public
 * key can never be registered again.
 *
 * Thread-safe: the ZAP handler thread and the broker loop share one
 * registry; every call takes an internal mutex and copies entries out.
 */
#ifndef BROKER_KEYS_H
#define BROKER_KEYS_H

#include "sp_buf.h"
#include "sp_curve.h"
#include "sp_error.h"

#include "samspil/v1/common.pb-c.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define BROKER_KEYS_NAME_MAX 64    /* name bytes with the NUL */
#define BROKER_KEYS_MAX_TENANTS 98 /* Denmark's municipalities */
#define BROKER_KEYS_TIME 21        /* "2026-11-27T07:00:00Z" and the NUL */
#define BROKER_KEYS_FILE "registry"

typedef struct {
    char public_key[SP_CURVE_KEY_Z85];
    char name[BROKER_KEYS_NAME_MAX];
    Samspil__V1__Role role;
    bool all_tenants;
    size_t ntenants;
    char tenants[BROKER_KEYS_MAX_TENANTS][4];
    char created[BROKER_KEYS_TIME];
    char revoked[BROKER_KEYS_TIME]; /* "" while valid */
} broker_key_t;

typedef enum {
    BROKER_KEYS_VALID = 0,
    BROKER_KEYS_UNKNOWN,
    BROKER_KEYS_REVOKED,
} broker_keys_status_t;

typedef struct broker_keys_t broker_keys_t;

/* --- pure parts */

/* Parse one registry line (without its newline).  Returns 1 and fills `out`
 * for a key line, 0 for a comment or blank line, -1 with a reason in `err`
 * (never the line itself). */
int broker_keys_parse_line(const char *line, broker_key_t *out, char *err, size_t errlen);

/* Append `key` as one registry line, with its newline, to `out`. */
void broker_keys_format_line(const broker_key_t *key, sp_buf_t *out);

/* True for 1..63 bytes of [A-Za-z0-9._-] not starting with '.' or '-'. */
bool broker_keys_name_valid(const char *name);

/* "operator", "integrator", "facilitator", "reader", "service" <-> role.
 * broker_keys_role_parse returns 0, or -1 for any other word. */
int broker_keys_role_parse(const char *word, Samspil__V1__Role *role);
const char *broker_keys_role_word(Samspil__V1__Role role);

/* Parse the tenants field ("*" or "101,751") into `out`.  Returns 0 or -1
 * with a reason in `err`. */
int broker_keys_tenants_parse(const char *text, broker_key_t *out, char *err, size_t errlen);

/* Check a key to be created (name, role, tenants, public key; `created` and
 * `revoked` are not looked at) and normalise it: operators and services act
 * for all tenants.  Returns 0, or -1 with INVALID_ARGUMENT in `err` naming
 * the KeyCreate field ("name", "role", "tenants", "all_tenants",
 * "public_key"). */
int broker_keys_check_new(broker_key_t *key, sp_error_t *err);

/* The current time as "YYYY-MM-DDTHH:MM:SSZ" into `out` (BROKER_KEYS_TIME). */
void broker_keys_now(char *out);

/* --- the registry */

/* Open the registry file at `path` (it need not exist yet: then the
 * registry is empty until keys are created).  Returns NULL when the file
 * exists but cannot be read (logged). */
broker_keys_t *broker_keys_new(const char *path);

/* Free.  Idempotent; nulls *self_p. */
void broker_keys_destroy(broker_keys_t **self_p);

/* Reread the file if it changed on disk (another inode, size or mtime).
 * Returns 1 when reloaded, 0 when unchanged, -1 when it could not be read
 * (the keys in memory stay; logged). */
int broker_keys_refresh(broker_keys_t *self);

/* Look up `public_key` (Z85).  Returns its status and, unless UNKNOWN,
 * copies the entry into `out` (may be NULL). */
broker_keys_status_t broker_keys_lookup(broker_keys_t *self, const char *public_key,
                                        broker_key_t *out);

/* Register `key` (checked with broker_keys_check_new; `created` is set to
 * now) and rewrite the file.  Returns 0 and the stored entry in `out` (may
 * be NULL), or -1 with `err`: INVALID_ARGUMENT, ALREADY_EXISTS (a valid
 * key has that name, or the public key was ever registered), or INTERNAL
 * (the file could not be written; nothing changed). */
int broker_keys_create(broker_keys_t *self, const broker_key_t *key, broker_key_t *out,
                       sp_error_t *err);

/* Revoke the valid key named `name`, or the key `public_key` (exactly one
 * of them non-NULL and non-empty) and rewrite the file.  Returns 0 and the
 * entry as now stored in `out` (may be NULL), or -1 with `err`:
 * INVALID_ARGUMENT, NOT_FOUND, FAILED_PRECONDITION (already revoked), or
 * INTERNAL. */
int broker_keys_revoke(broker_keys_t *self, const char *name, const char *public_key,
                       broker_key_t *out, sp_error_t *err);

/* Call `fn` for every key in creation order (revoked ones only when
 * `include_revoked`); `fn` must not call back into the registry.  Returns
 * the number of calls. */
size_t broker_keys_foreach(broker_keys_t *self, bool include_revoked,
                           void (*fn)(const broker_key_t *key, void *arg), void *arg);

/* How many times a key that was valid stopped being valid (revoked here,
 * or revoked or removed in the file and reloaded).  The broker compares it
 * to the last value it saw to know when to drop open event connections. */
uint64_t broker_keys_revocations(broker_keys_t *self);

/* Keys held (valid and revoked). */
size_t broker_keys_count(broker_keys_t *self);

/* The registry file's path (borrowed). */
const char *broker_keys_path(const broker_keys_t *self);

#endif
