/*
 * sp_valid.h - validators for the values requests carry: municipality codes,
 * UUIDs, names and free text, tags, external refs, dates and timestamps,
 * language tags, e-mail addresses, phone numbers and idempotency keys.
 *
 * Pure functions.  Each sp_valid_X(value, field, err) returns 0 when `value`
 * is acceptable, or -1 after setting `err` (which may be NULL) to
 * INVALID_ARGUMENT with `field` and a message that names what was wrong and
 * quotes the value (cut with sp_error_quote so over-long values are never
 * echoed whole).  NULL counts as "".  The label in a message is the last
 * component of `field` ("actor_create.actor.name" -> "name").
 *
 * Decisions (documented here because clients see them):
 *  - tags are ASCII: 1..40 of [a-z0-9_-].  Upper case and Danish letters are
 *    refused, not folded, so a tag is stored exactly as sent; write
 *    æ, ø, å as ae, oe, aa ("boligomraade").
 *  - names and free text are valid UTF-8 without control characters (C0, DEL,
 *    C1) or bidirectional-override characters; length is counted in Unicode
 *    code points.  Only free text (sp_valid_text with SP_VALID_MULTILINE)
 *    may contain tab and line breaks.
 *  - external refs are "system:id": system 1..40 of [a-z0-9_.-], id 1..100
 *    printable ASCII characters without spaces (the id may contain ':').
 *  - phone numbers: E.164 ("+" then 8..15 digits, no leading 0) or a Danish
 *    8-digit number; no spaces or punctuation.
 *  - e-mail: pragmatic: local@domain, at most 254 bytes, local part 1..64 of
 *    printable characters other than space and ()<>[]\,;:@", a domain of at
 *    least two dot-separated labels of letters, digits and '-' (UTF-8 letters
 *    allowed for internationalised domains).
 */
#ifndef SP_VALID_H
#define SP_VALID_H

#include "sp_error.h"

#include <stdbool.h>
#include <stddef.h>

#define SP_VALID_NAME_MAX 200      /* characters */
#define SP_VALID_TAG_MAX 40        /* bytes */
#define SP_VALID_REF_SYSTEM_MAX 40 /* bytes */
#define SP_VALID_REF_ID_MAX 100    /* bytes */
#define SP_VALID_LANGUAGE_MAX 35   /* bytes */
#define SP_VALID_EMAIL_MAX 254     /* bytes */
#define SP_VALID_IDEMPOTENCY_MAX 100
#define SP_VALID_QUOTE_MAX 60 /* bytes of a value quoted in a message */

/* Flags for sp_valid_text. */
#define SP_VALID_MULTILINE 1u /* allow \t, \n and \r */

/* Decode UTF-8: true if `s[0..len)` is well-formed (no overlong forms, no
 * surrogates, nothing above U+10FFFF); *nchars (may be NULL) gets the number
 * of code points. */
bool sp_utf8_valid(const char *s, size_t len, size_t *nchars);

/* Exactly three digits that are one of Denmark's 98 municipality codes. */
int sp_valid_municipality(const char *value, const char *field, sp_error_t *err);

/* Exactly three ASCII digits (the shape of a municipality code). */
bool sp_valid_is_three_digits(const char *value);

/* A UUID in its canonical text form, 8-4-4-4-12 hex digits (either case). */
int sp_valid_uuid(const char *value, const char *field, sp_error_t *err);

/* A name: 1..SP_VALID_NAME_MAX characters, not only white space. */
int sp_valid_name(const char *value, const char *field, sp_error_t *err);

/* Free text of min_chars..max_chars characters (flags: SP_VALID_MULTILINE). */
int sp_valid_text(const char *value, size_t min_chars, size_t max_chars, unsigned flags,
                  const char *field, sp_error_t *err);

/* A tag: 1..40 of [a-z0-9_-]. */
int sp_valid_tag(const char *value, const char *field, sp_error_t *err);

/* An external reference "system:id". */
int sp_valid_external_ref(const char *value, const char *field, sp_error_t *err);

/* A calendar date YYYY-MM-DD (year 0001..9999, real month and day). */
int sp_valid_date(const char *value, const char *field, sp_error_t *err);

/* An RFC 3339 timestamp: YYYY-MM-DDTHH:MM:SS[.fraction](Z|+HH:MM|-HH:MM). */
int sp_valid_timestamp(const char *value, const char *field, sp_error_t *err);

/* A language tag such as "da", "en", "da-easy": [a-z]{2,3}(-[a-z0-9]{2,8})*. */
int sp_valid_language(const char *value, const char *field, sp_error_t *err);

/* An e-mail address (see the decisions above). */
int sp_valid_email(const char *value, const char *field, sp_error_t *err);

/* A phone number: E.164 or Danish 8 digits. */
int sp_valid_phone(const char *value, const char *field, sp_error_t *err);

/* An idempotency key: 1..100 printable ASCII characters (space included). */
int sp_valid_idempotency_key(const char *value, const char *field, sp_error_t *err);

/* The last dot-separated component of a field path ("a.b.name" -> "name"). */
const char *sp_valid_label(const char *field);

#endif
