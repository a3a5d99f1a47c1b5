/*
 * sp_pbenum.h - protobuf enum values as the short lower-case words people
 * type and read: ACTOR_KIND_CITIZEN <-> "citizen", MEMBER_ROLE_NEEDS_SUPPORT
 * <-> "needs_support".  The short word is the value name without its
 * type prefix (the enum's name in UPPER_SNAKE_CASE plus '_'), lower-cased.
 */
#ifndef SP_PBENUM_H
#define SP_PBENUM_H

#include <protobuf-c/protobuf-c.h>

#include <stddef.h>

/* Short name of `value` in `desc`, written into `out`; "" for the zero value
 * ("..._UNSPECIFIED") and for unknown values.  Returns `out`. */
const char *sp_pbenum_short_name(const ProtobufCEnumDescriptor *desc, int value, char *out,
                                 size_t outlen);

/* Parse a short name (case-insensitive, '-' accepted for '_').  Returns 0 and
 * sets *value, or -1 when the name is unknown or names the zero value. */
int sp_pbenum_parse(const ProtobufCEnumDescriptor *desc, const char *text, int *value);

/* True if `value` is a defined, non-zero value of `desc`. */
int sp_pbenum_is_valid(const ProtobufCEnumDescriptor *desc, int value);

/* Write the accepted short names, comma-separated ("citizen, professional,
 * organisation"), into `out`.  Returns `out`. */
const char *sp_pbenum_choices(const ProtobufCEnumDescriptor *desc, char *out, size_t outlen);

#endif
