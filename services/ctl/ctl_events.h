/*
 * ctl_events.h - how `samspilctl events tail` shows an event: one JSON
 * object per line with the envelope (stream, seq, tenant, type, entity_id,
 * occurred_at) followed by the fields of the payload, flattened.  Pure: no
 * sockets, no files.
 */
#ifndef CTL_EVENTS_H
#define CTL_EVENTS_H

#include "samspil/v1/events.pb-c.h"
#include "sp_buf.h"

#include <stddef.h>
#include <stdint.h>

/* Envelope keys of a line, in order; no payload field may use one of these
 * names (tests/unit/test_ctl_events.c checks every payload of events.proto). */
extern const char *const ctl_events_envelope_keys[6];

/* `us` microseconds since the Unix epoch as RFC 3339 UTC with six decimals,
 * "2026-11-27T07:00:00.000123Z", into `out` (at least 28 bytes; years
 * before 0 or after 9999 are clamped to those).  Returns `out`. */
const char *ctl_events_time(int64_t us, char *out, size_t outlen);

/* Append `event` as one compact JSON object and a newline:
 *   {"stream":"registration","seq":12,"tenant":"101","type":"actor.registered",
 *    "entity_id":"...","occurred_at":"...Z","kind":"citizen",...}
 * seq is a JSON number; payload fields follow the CLI's JSON style
 * (.proto names, short enum words, defaults included, 64-bit as strings).
 * An event without a payload (or one this build does not know) has the
 * envelope only. */
void ctl_events_line(sp_buf_t *out, const Samspil__V1__Event *event);

/* The payload message of `event`, or NULL. */
const ProtobufCMessage *ctl_events_payload(const Samspil__V1__Event *event);

#endif
