/*
 * sp_crypto.h - personal data at rest: CPR numbers checked and turned into
 * keyed pseudonyms, the ring of data keys kept outside the database, and
 * sealed values (authenticated encryption bound to the row they belong to).
 *
 * CPR numbers (Danish personal identification numbers) are "DDMMYY-SSSS"
 * or "DDMMYYSSSS": a real calendar date, the century taken from the first
 * serial digit by the CPR office's table, no modulus-11 rule (numbers
 * without it have been issued since 2007).  A service never stores one: it
 * stores HMAC-SHA-256 of it under the ring's CPR key, scoped to the tenant
 * (sp_cpr_pseudonym), because the ~3.7e8 possible numbers can be hashed
 * and matched in minutes when no secret key is involved.
 *
 * The data key ring is a directory ($SAMSPIL_DATA_KEYS, else
 * $SAMSPIL_HOME/keys/data, see sp_keyring_default_dir; mode 0700) of key
 * files, each 64 hex digits and
 * a newline, mode 0600:
 *   cpr-hmac.key      the CPR pseudonym key (never rotated: a pseudonym
 *                     cannot be recomputed without the number)
 *   contact-<N>.key   data key N (N = 1, 2, ...); the highest is current:
 *                     new values are sealed under it, older ones stay
 *                     readable until re-sealed (rotation).
 * A file readable by group or others is refused.  Keys live in memory
 * allocated with sodium_malloc (guarded, not dumped in core files) and are
 * wiped when freed.  Nothing here logs a key or a plaintext.
 *
 * A sealed value is text "v1.<N>.<base64(nonce || ciphertext)>":
 * XChaCha20-Poly1305 (IETF) under data key N with a random 24-byte nonce,
 * and associated data naming the purpose, tenant and row
 * (sp_seal_ad), so a sealed value copied into another row, another tenant
 * or another column does not open.
 */
#ifndef SP_CRYPTO_H
#define SP_CRYPTO_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* ---------------------------------------------------------------- CPR numbers */

#define SP_CPR_DIGITS 10
#define SP_CPR_SIZE 11 /* ten digits and the NUL */

/* The system names of external refs: a client sends "cpr:<number>", a
 * service stores "cpr-hmac:<64 hex digits>". */
#define SP_CPR_REF_SYSTEM "cpr"
#define SP_CPR_HMAC_SYSTEM "cpr-hmac"

typedef enum {
    SP_CPR_OK = 0,
    SP_CPR_BAD_SHAPE, /* not DDMMYY-SSSS or DDMMYYSSSS */
    SP_CPR_BAD_DATE,  /* the first six digits are no real date */
} sp_cpr_status_t;

/* Check `text` as a CPR number and write its ten digits into `out`
 * (normalised: no hyphen).  Returns SP_CPR_OK, or why not (then `out` is ""). */
sp_cpr_status_t sp_cpr_parse(const char *text, char out[SP_CPR_SIZE]);

/* The full year of birth for two-digit year `yy` (0..99) and the first
 * serial digit `d7` (0..9), by the CPR office's table:
 *   0-3: 1900-1999;  4 and 9: 2000-2036 for 00-36, else 1937-1999;
 *   5-8: 2000-2057 for 00-57, else 1858-1899. */
int sp_cpr_year(int yy, int d7);

/* `text` with every character but '-' replaced by '*' (at most 16, then
 * "..."), for messages that must say which value was wrong without
 * echoing it.  Writes into `out`; returns it. */
const char *sp_cpr_mask(const char *text, char *out, size_t outlen);

/* What a reply shows instead of a stored "cpr-hmac:..." ref. */
#define SP_CPR_REF_MASKED "cpr:**********"

/* ---------------------------------------------------------------- HMAC and pseudonyms */

#define SP_HMAC_SIZE 32
#define SP_DATA_KEY_SIZE 32
#define SP_PSEUDONYM_HEX 65 /* 64 lower-case hex digits and the NUL */

/* HMAC-SHA-256 (RFC 2104) of msg[0..len) under key[0..keylen). */
void sp_hmac_sha256(const uint8_t *key, size_t keylen, const void *msg, size_t len,
                    uint8_t out[SP_HMAC_SIZE]);

/* The pseudonym of normalised CPR number `cpr` (from sp_cpr_parse) in
 * `tenant`: lower-case hex of HMAC-SHA-256 under `key` of the text
 * "samspil-cpr-v1:<tenant>:<ten digits>".  Scoped to the tenant so that
 * two municipalities' registers cannot be joined on it. */
void sp_cpr_pseudonym(const uint8_t key[SP_DATA_KEY_SIZE], const char *tenant,
                      const char cpr[SP_CPR_SIZE], char out[SP_PSEUDONYM_HEX]);

/* ---------------------------------------------------------------- sealed values */

#define SP_SEAL_AD_MAX 256
#define SP_SEAL_PLAIN_MAX (1u << 20) /* larger values are refused */

/* Associated data for a value of `purpose` ("contact_points") in row
 * `row_id` (compared case-insensitively: written in lower case) of
 * `tenant`.  Returns its length in `out`, or 0 if it does not fit. */
size_t sp_seal_ad(uint8_t out[SP_SEAL_AD_MAX], const char *purpose, const char *tenant,
                  const char *row_id);

/* Seal plain[0..len) under `key` (data key `key_id`, 1..UINT32_MAX) with
 * associated data ad[0..adlen).  Returns the text (malloc'd, caller frees)
 * or NULL (len too large, key_id 0, no memory). */
char *sp_seal(const uint8_t key[SP_DATA_KEY_SIZE], uint32_t key_id, const void *plain, size_t len,
              const void *ad, size_t adlen);

/* The key id a sealed text names.  Returns 0, or -1 if it is not a sealed
 * value of this version. */
int sp_seal_key_id(const char *sealed, uint32_t *key_id);

/* Open `sealed` with `key` (which must be the key its id names) and the
 * same associated data it was sealed with.  Returns 0 with *plain
 * (malloc'd, NUL-terminated for convenience; free with sp_crypto_free) and
 * *len, or -1 with errno EINVAL (not a sealed value) or EBADMSG (wrong key,
 * wrong associated data, or altered). */
int sp_open(const uint8_t key[SP_DATA_KEY_SIZE], const char *sealed, const void *ad, size_t adlen,
            uint8_t **plain, size_t *len);

/* Wipe and free a plaintext from sp_open (NULL: nothing). */
void sp_crypto_free(void *plain, size_t len);

/* ---------------------------------------------------------------- the data key ring */

typedef struct sp_keyring_t sp_keyring_t;

#define SP_KEYRING_CPR_FILE "cpr-hmac.key"

/* The key directory of a suite under `home` (NULL: SAMSPIL_HOME, else
 * "./var"): SAMSPIL_DATA_KEYS if set, else "<home>/keys/data".
 * Writes into `out`; returns it, or NULL if it does not fit. */
const char *sp_keyring_default_dir(const char *home, char *out, size_t outlen);

/* A ring for directory `dir` (copied).  Nothing is read until a load. */
sp_keyring_t *sp_keyring_new(const char *dir);

/* Wipe and free every key.  Idempotent; nulls *self_p. */
void sp_keyring_destroy(sp_keyring_t **self_p);

/* Create the directory (and missing parents, mode 0700) and the keys that
 * are missing: cpr-hmac.key, and contact-1.key when there is no data key.
 * Safe when several processes do it at once (a key file appears whole,
 * and only once).  Then load.  Returns the number of keys created, or -1
 * (logged). */
int sp_keyring_init(sp_keyring_t *self);

/* (Re)read the directory.  On failure (logged: which file and why, never a
 * key) the keys loaded before stay.  Returns 0 or -1.  Key pointers from
 * the ring are valid only until the next load. */
int sp_keyring_load(sp_keyring_t *self);

/* True if the directory changed since the last load (a key was added). */
bool sp_keyring_stale(const sp_keyring_t *self);

/* Create data key <current + 1> (or higher, if another process created
 * that one meanwhile), load, and set *key_id to it.  Returns 0 or -1. */
int sp_keyring_rotate(sp_keyring_t *self, uint32_t *key_id);

/* The current (highest) data key id, 0 when there is none. */
uint32_t sp_keyring_current(const sp_keyring_t *self);

/* Number of data keys loaded. */
size_t sp_keyring_count(const sp_keyring_t *self);

/* Data key `key_id`, or NULL when not loaded. */
const uint8_t *sp_keyring_key(const sp_keyring_t *self, uint32_t key_id);

/* The CPR pseudonym key, or NULL when not loaded. */
const uint8_t *sp_keyring_cpr_key(const sp_keyring_t *self);

/* The directory. */
const char *sp_keyring_dir(const sp_keyring_t *self);

/* Seal under the current data key.  NULL when there is none (errno
 * ENOKEY) or sp_seal fails. */
char *sp_keyring_seal(sp_keyring_t *self, const void *plain, size_t len, const void *ad,
                      size_t adlen);

/* Open with the key the text names; when the ring does not have it, load
 * the directory once and try again (another process may have rotated).
 * Returns 0, or -1 with errno EINVAL, EBADMSG, or ENOKEY (no such key). */
int sp_keyring_open(sp_keyring_t *self, const char *sealed, const void *ad, size_t adlen,
                    uint8_t **plain, size_t *len);

#endif
