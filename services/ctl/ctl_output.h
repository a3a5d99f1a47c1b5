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
#include "samspil/v1/keys.pb-c.h"
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
 * "2026-11-27T07:00:00.000123Z", into `out` (at least 28 bytes; times
 * before year 1 or after year 9999 are clamped to those).  Returns `out`. */
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

/* The same line without its newline (for embedding in a document). */
void ctl_output_event_object(sp_buf_t *out, const Samspil__V1__Event *event);

/* ------------------------------------------------------------ keys */

/* One line per key: name, role, tenants ("*" for all, else "101,147"),
 * created, revoked ("-" while valid), public key; columns aligned. */
void ctl_output_keys_text(sp_buf_t *out, Samspil__V1__KeyInfo *const *keys, size_t n);

/* The tenants of a key as a certificate file states them: "*" for all,
 * else the codes joined by ",".  Writes into `out`; returns `out`. */
const char *ctl_output_key_tenants(const Samspil__V1__KeyInfo *key, char *out, size_t outlen);

/* ------------------------------------------------------------ person export */

/* The art. 15 document, built in three steps:
 *   {"actor_id": ..., "exported_at": ..., "services": {"<name>": {...}, ...}}
 * begin, one ctl_output_person_service per service (`first` for the first),
 * end (which adds the newline).  `exported_at_us`: when it was asked. */
void ctl_output_person_begin(sp_buf_t *out, const char *actor_id, int64_t exported_at_us);

/* One service's reply message under its name.  For registration's Person,
 * each stored event (PersonEvent.event, packed protobuf) is decoded and
 * shown as an events-tail object (with its seq, stream `name`); one that
 * does not decode keeps seq, type, entity_id, occurred_at and the bytes as
 * "event_base64". */
void ctl_output_person_service(sp_buf_t *out, const char *name, const ProtobufCMessage *msg,
                               bool first);

void ctl_output_person_end(sp_buf_t *out);

#endif
