/*
 * sp_pbjson.h - print any protobuf-c message as JSON, by walking its
 * descriptor (no generated code per type).
 *
 * The output follows the proto3 JSON mapping unless a flag says otherwise:
 *  - field names in lowerCamelCase ("createdAt"); with SP_PBJSON_PROTO_NAMES
 *    as written in the .proto ("created_at");
 *  - enums as their value names ("ACTOR_KIND_CITIZEN"); with
 *    SP_PBJSON_SHORT_ENUMS as the short words of sp_pbenum ("citizen", and
 *    "" for the zero value); a value the descriptor does not know prints as
 *    its number;
 *  - 64-bit integers (int64, uint64, sint64, fixed64, sfixed64) as decimal
 *    strings, other integers as numbers; float and double as the shortest
 *    decimal that reads back to the same value, NaN and infinities as the
 *    strings "NaN", "Infinity", "-Infinity";
 *  - bytes as standard base64 in a string; strings escaped by sp_buf;
 *  - fields without presence (proto3 scalars, repeated) are left out while
 *    they hold their default (0, false, "", empty list, zero enum) unless
 *    SP_PBJSON_EMIT_DEFAULTS; fields with presence (messages, proto2
 *    optional, oneof members) appear exactly when set - of a oneof only the
 *    member that is set;
 *  - compact (no blanks) unless SP_PBJSON_PRETTY: two-space indentation,
 *    one member per line, empty objects and arrays as {} and [].
 * Map fields print as arrays of {"key": ..., "value": ...} entries.
 */
#ifndef SP_PBJSON_H
#define SP_PBJSON_H

#include "sp_buf.h"

#include <protobuf-c/protobuf-c.h>

#include <stdbool.h>
#include <stddef.h>

#define SP_PBJSON_SHORT_ENUMS 0x1u   /* enum values as sp_pbenum short words */
#define SP_PBJSON_PROTO_NAMES 0x2u   /* field names as in the .proto (snake_case) */
#define SP_PBJSON_EMIT_DEFAULTS 0x4u /* include fields that hold their default */
#define SP_PBJSON_PRETTY 0x8u        /* indented, one member per line */

/* Append `msg` as one JSON object to `buf`.  In pretty mode the object's
 * closing brace is indented by `indent` levels (for nesting the object in
 * other pretty JSON); pass 0 otherwise.  No trailing newline. */
void sp_pbjson_append(sp_buf_t *buf, const ProtobufCMessage *msg, unsigned flags, int indent);

/* `msg` as a JSON string (malloc'd, caller frees; never NULL). */
char *sp_pbjson_to_string(const ProtobufCMessage *msg, unsigned flags);

/* The JSON name of `field` under `flags` ("created_at" or "createdAt"),
 * written into `out` (truncated to `outlen`).  Returns `out`. */
const char *sp_pbjson_field_name(const ProtobufCFieldDescriptor *field, unsigned flags, char *out,
                                 size_t outlen);

/* The size of one element of a repeated field of `type` in its array (the
 * stride from one element to the next). */
size_t sp_pbjson_elem_size(ProtobufCType type);

/* True when the value of `field` stored at `p` (a singular member, or one
 * element) holds its type's default: 0, false, NULL or "" string, empty
 * bytes, NULL message - proto3's "not set" for a field without presence. */
bool sp_pbjson_is_default(const ProtobufCFieldDescriptor *field, const void *p);

#endif
