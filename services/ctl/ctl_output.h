/*
 * ctl_output.h - how samspilctl shows replies: JSON documents (through
 * sp_pbjson) and the text forms (an id alone, "field: value" lines, one
 * line per list item, the broker's service table, error lines), and the
 * JSON line of an event (events tail).  Pure:
 * everything is appended to an sp_buf_t the caller writes out.
 */
#ifndef CTL_OUTPUT_H
#define CTL_OUTPUT_H

#include "samspil/v1/broker.pb-c.h"
#include "samspil/v1/events.pb-c.h"
#include "samspil/v1/registration.pb-c.h"
#include "sp_buf.h"
#include "sp_pbjson.h"

#include <stddef.h>
#include <stdint.h>

/* The JSON style of the CLI: .proto field names, short enum words, every
 * field (defaults included), indented. */
#define CTL_JSON_FLAGS                                                                             \
    (SP_PBJSON_PROTO_NAMES | SP_PBJSON_SHORT_ENUMS | SP_PBJSON_EMIT_DEFAULTS | SP_PBJSON_PRETTY)

/* `msg` as one JSON document, newline-terminated. */
void ctl_output_json(sp_buf_t *out, const ProtobufCMessage *msg);

/* {"items": [...], "next": "..."} for `n` items; `next` NULL prints "". */
void ctl_output_list_json(sp_buf_t *out, ProtobufCMessage *const *items, size_t n,
                          const char *next);

/* The entity's id ("code" for a tenant) and a newline. */
void ctl_output_id(sp_buf_t *out, const ProtobufCMessage *entity);

/* One "field: value" line per field that is set; repeated scalars joined by
 * ", ", each element of a repeated message on its own line. */
void ctl_output_fields(sp_buf_t *out, const ProtobufCMessage *entity);

/* One line per item: the id, then the type's key columns, aligned, the
 * free-text column (a name) last; "-" for an empty cell. */
void ctl_output_list_text(sp_buf_t *out, ProtobufCMessage *const *items, size_t n);

/* SERVICE WORKERS CREDIT IN-FLIGHT QUEUED table, then the development-mode
 * notice when the broker runs without authentication. */
void ctl_output_status_text(sp_buf_t *out, const Samspil__V1__BrokerStatus *status);

/* "samspilctl: <code>: <message> (field <field>)" and a newline. */
void ctl_output_error(sp_buf_t *out, const Samspil__V1__Error *err);

/* The message set in the reply's `result` oneof, or NULL. */
const ProtobufCMessage *ctl_reply_result(const Samspil__V1__RegistrationReply *reply);

/* A page message's (TenantPage, ActorPage, ...) items and `next` cursor. */
size_t ctl_page_items(const ProtobufCMessage *page, ProtobufCMessage *const **items);
const char *ctl_page_next(const ProtobufCMessage *page);

/* ------------------------------------------------------------ events */

/* Envelope keys of a line, in order; no payload field may use one of these
 * names (tests/unit/test_ctl_output.c checks every payload of events.proto). */
extern const char *const ctl_output_event_keys[6];

/* `us` microseconds since the Unix epoch as RFC 3339 UTC with six decimals,
 * "2026-11-27T07:00:00.000123Z", into `out` (at least 28 bytes; years
 * before 0 or after 9999 are clamped to those).  Returns `out`. */
const char *ctl_output_time(int64_t us, char *out, size_t outlen);

/* Append `event` as one compact JSON object and a newline:
 *   {"stream":"registration","seq":12,"tenant":"101","type":"actor.registered",
 *    "entity_id":"...","occurred_at":"...Z","kind":"citizen",...}
 * seq is a JSON number; payload fields follow the CLI's JSON style
 * (.proto names, short enum words, defaults included, 64-bit as strings).
 * An event without a payload (or one this build does not know) has the
 * envelope only. */
void ctl_output_event_line(sp_buf_t *out, const Samspil__V1__Event *event);

/* The payload message of `event`, or NULL. */
const ProtobufCMessage *ctl_output_event_payload(const Samspil__V1__Event *event);

#endif
