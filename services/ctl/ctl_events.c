/*
 * ctl_events.c - JSON lines for `samspilctl events tail` (see ctl_events.h).
 */
#include "ctl_events.h"

#include "sp_pbjson.h"

#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

/* Compact form of the CLI's JSON style, for one line per event. */
#define CTL_EVENTS_JSON_FLAGS                                                                      \
    (SP_PBJSON_PROTO_NAMES | SP_PBJSON_SHORT_ENUMS | SP_PBJSON_EMIT_DEFAULTS)

const char *const ctl_events_envelope_keys[6] = {"stream", "seq",       "tenant",
                                                 "type",   "entity_id", "occurred_at"};

/* 0001-01-01T00:00:00Z and 9999-12-31T23:59:59.999999Z in microseconds. */
#define CTL_EVENTS_MIN_US (-62135596800LL * 1000000LL)
#define CTL_EVENTS_MAX_US (253402300799LL * 1000000LL + 999999LL)

const char *ctl_events_time(int64_t us, char *out, size_t outlen)
{
    if (us < CTL_EVENTS_MIN_US)
        us = CTL_EVENTS_MIN_US;
    if (us > CTL_EVENTS_MAX_US)
        us = CTL_EVENTS_MAX_US;
    int64_t secs = us / 1000000;
    int64_t frac = us % 1000000;
    if (frac < 0) { /* floor, so 1969-12-31T23:59:59.999999Z comes out right */
        frac += 1000000;
        secs -= 1;
    }
    time_t t = (time_t)secs;
    struct tm tm;
    if (!gmtime_r(&t, &tm)) {
        snprintf(out, outlen, "1970-01-01T00:00:00.000000Z");
        return out;
    }
    snprintf(out, outlen, "%04d-%02d-%02dT%02d:%02d:%02d.%06" PRId64 "Z", tm.tm_year + 1900,
             tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, frac);
    return out;
}

const ProtobufCMessage *ctl_events_payload(const Samspil__V1__Event *event)
{
    if (event->payload_case == SAMSPIL__V1__EVENT__PAYLOAD__NOT_SET)
        return NULL;
    const ProtobufCFieldDescriptor *f =
        protobuf_c_message_descriptor_get_field(event->base.descriptor, event->payload_case);
    if (!f || f->type != PROTOBUF_C_TYPE_MESSAGE)
        return NULL;
    return *(ProtobufCMessage *const *)((const char *)event + f->offset);
}

static void s_key_string(sp_buf_t *out, const char *key, const char *value, bool first)
{
    if (!first)
        sp_buf_puts(out, ",");
    sp_buf_json_string(out, key, strlen(key));
    sp_buf_puts(out, ":");
    sp_buf_json_string(out, value ? value : "", value ? strlen(value) : 0);
}

void ctl_events_line(sp_buf_t *out, const Samspil__V1__Event *event)
{
    char when[40];
    sp_buf_puts(out, "{");
    s_key_string(out, "stream", event->stream, true);
    sp_buf_printf(out, ",\"seq\":%" PRIu64, event->seq);
    s_key_string(out, "tenant", event->tenant, false);
    s_key_string(out, "type", event->type, false);
    s_key_string(out, "entity_id", event->entity_id, false);
    s_key_string(out, "occurred_at", ctl_events_time(event->occurred_at_us, when, sizeof when),
                 false);
    const ProtobufCMessage *payload = ctl_events_payload(event);
    if (payload) {
        /* the payload's own object without its braces, spliced in */
        sp_buf_t fields;
        sp_buf_init(&fields);
        sp_pbjson_append(&fields, payload, CTL_EVENTS_JSON_FLAGS, 0);
        if (fields.len > 2) {
            sp_buf_puts(out, ",");
            sp_buf_append(out, fields.data + 1, fields.len - 2);
        }
        sp_buf_free(&fields);
    }
    sp_buf_puts(out, "}\n");
}
