/*
 * sp_event_wire.h - pure byte-level helpers of the event bus: decode the
 * hex text form of a bytea column, stamp a stored event with its stream and
 * sequence number, and build a ReplayReply from stored events without
 * unpacking them.
 *
 * Protobuf merges concatenated messages field by field (for a scalar field
 * the last occurrence wins), so appending fields 1 (stream) and 2 (seq) to
 * a packed Event sets them, and a ReplayReply is the concatenation of its
 * length-delimited `events` fields and the two varint fields after them.
 * No I/O; unit-tested in tests/unit/test_sp_event_wire.c.
 */
#ifndef SP_EVENT_WIRE_H
#define SP_EVENT_WIRE_H

#include "sp_buf.h"

#include <stddef.h>
#include <stdint.h>

/* Largest packed Event the bus carries (checked before unpack). */
#define SP_EVENT_MAX_SIZE (64 * 1024)

/* Write `value` as a base-128 varint into `out`; returns its length (1..10). */
size_t sp_event_varint(uint64_t value, uint8_t out[10]);

/* Decode PostgreSQL's hex bytea text ("\x0a03...") into `out` (reset
 * first).  Returns 0, or -1 if `text` is not that form. */
int sp_event_bytea_decode(const char *text, size_t len, sp_buf_t *out);

/* Append to `out` the packed event `payload` followed by the fields
 * stream = `stream` and seq = `seq`. */
void sp_event_stamp(sp_buf_t *out, const uint8_t *payload, size_t len, const char *stream,
                    uint64_t seq);

/* Bytes sp_event_stamp adds to a payload for `stream` and `seq`. */
size_t sp_event_stamp_size(const char *stream, uint64_t seq);

/* ReplayReply building: append one packed Event as a `events` (field 2)
 * entry; returns the bytes added. */
size_t sp_event_reply_add(sp_buf_t *reply, const uint8_t *event, size_t len);

/* Bytes sp_event_reply_add adds for an event of `len` bytes. */
size_t sp_event_reply_entry_size(size_t len);

/* Append head_seq (field 3) and scanned_to (field 4); the reply is then
 * complete. */
void sp_event_reply_finish(sp_buf_t *reply, uint64_t head_seq, uint64_t scanned_to);

#endif
