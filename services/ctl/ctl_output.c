/*
 * ctl_output.c - samspilctl's text and JSON output (see ctl_output.h).
 *
 * The text forms walk the message descriptors, so a field added to the
 * .proto shows up without a change here; only the list columns are chosen
 * per type.
 */
#include "ctl_output.h"

#include "sp_error.h"
#include "sp_pbenum.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define COUNT(a) (sizeof(a) / sizeof((a)[0]))

/* ------------------------------------------------------------ JSON */

void ctl_output_json(sp_buf_t *out, const ProtobufCMessage *msg)
{
    sp_pbjson_append(out, msg, CTL_JSON_FLAGS, 0);
    sp_buf_puts(out, "\n");
}

void ctl_output_list_json(sp_buf_t *out, ProtobufCMessage *const *items, size_t n, const char *next)
{
    sp_buf_puts(out, "{\n  \"items\": [");
    for (size_t i = 0; i < n; i++) {
        sp_buf_puts(out, i ? ",\n    " : "\n    ");
        sp_pbjson_append(out, items[i], CTL_JSON_FLAGS, 2);
    }
    sp_buf_puts(out, n ? "\n  ],\n  \"next\": " : "],\n  \"next\": ");
    sp_buf_json_string(out, next ? next : "", next ? strlen(next) : 0);
    sp_buf_puts(out, "\n}\n");
}

/* ------------------------------------------------------------ text values */

/* User data printed as text: control characters become '?', so a stored
 * value cannot drive the terminal. */
static void s_text(sp_buf_t *out, const char *s)
{
    if (!s)
        return;
    /* the same rule as error messages: control characters (C0, DEL, C1),
     * bidirectional overrides and invalid UTF-8 become '?', so a stored
     * value cannot drive the terminal */
    size_t len = strlen(s), cap = len + 8;
    char *safe = malloc(cap);
    if (!safe)
        abort();
    sp_error_quote(s, len, safe, cap);
    sp_buf_append(out, safe, strlen(safe));
    free(safe);
}

static const char *s_enum_word(const ProtobufCEnumDescriptor *desc, int value, char *out,
                               size_t outlen)
{
    if (!protobuf_c_enum_descriptor_get_value(desc, value)) {
        snprintf(out, outlen, "%d", value);
        return out;
    }
    return sp_pbenum_short_name(desc, value, out, outlen);
}

static void s_inline_message(sp_buf_t *out, const ProtobufCMessage *m);

/* One value (singular member or repeated element) at `p`. */
static void s_value(sp_buf_t *out, const ProtobufCFieldDescriptor *f, const void *p)
{
    switch (f->type) {
    case PROTOBUF_C_TYPE_INT32:
    case PROTOBUF_C_TYPE_SINT32:
    case PROTOBUF_C_TYPE_SFIXED32:
        sp_buf_printf(out, "%" PRId32, *(const int32_t *)p);
        break;
    case PROTOBUF_C_TYPE_UINT32:
    case PROTOBUF_C_TYPE_FIXED32:
        sp_buf_printf(out, "%" PRIu32, *(const uint32_t *)p);
        break;
    case PROTOBUF_C_TYPE_INT64:
    case PROTOBUF_C_TYPE_SINT64:
    case PROTOBUF_C_TYPE_SFIXED64:
        sp_buf_printf(out, "%" PRId64, *(const int64_t *)p);
        break;
    case PROTOBUF_C_TYPE_UINT64:
    case PROTOBUF_C_TYPE_FIXED64:
        sp_buf_printf(out, "%" PRIu64, *(const uint64_t *)p);
        break;
    case PROTOBUF_C_TYPE_FLOAT:
        sp_buf_printf(out, "%g", (double)*(const float *)p);
        break;
    case PROTOBUF_C_TYPE_DOUBLE:
        sp_buf_printf(out, "%g", *(const double *)p);
        break;
    case PROTOBUF_C_TYPE_BOOL:
        sp_buf_puts(out, *(const protobuf_c_boolean *)p ? "true" : "false");
        break;
    case PROTOBUF_C_TYPE_ENUM: {
        char word[96];
        sp_buf_puts(out, s_enum_word(f->descriptor, *(const int *)p, word, sizeof word));
        break;
    }
    case PROTOBUF_C_TYPE_STRING:
        s_text(out, *(char *const *)p);
        break;
    case PROTOBUF_C_TYPE_BYTES:
        sp_buf_printf(out, "(%zu bytes)", ((const ProtobufCBinaryData *)p)->len);
        break;
    case PROTOBUF_C_TYPE_MESSAGE: {
        const ProtobufCMessage *m = *(ProtobufCMessage *const *)p;
        if (m)
            s_inline_message(out, m);
        break;
    }
    }
}

/* Whether a singular field of `m` is set (oneof members: the chosen one). */
static bool s_is_set(const ProtobufCMessage *m, const ProtobufCFieldDescriptor *f)
{
    const char *base = (const char *)m;
    if (f->flags & PROTOBUF_C_FIELD_FLAG_ONEOF)
        return *(const uint32_t *)(base + f->quantifier_offset) == f->id;
    return !sp_pbjson_is_default(f, base + f->offset);
}

/* A nested message on one line: the values of its set fields separated by
 * blanks, a true bool as its field name ("email a@b.dk preferred"). */
static void s_inline_message(sp_buf_t *out, const ProtobufCMessage *m)
{
    const ProtobufCMessageDescriptor *d = m->descriptor;
    bool first = true;
    for (unsigned i = 0; i < d->n_fields; i++) {
        const ProtobufCFieldDescriptor *f = &d->fields[i];
        if (f->label == PROTOBUF_C_LABEL_REPEATED || !s_is_set(m, f))
            continue;
        if (!first)
            sp_buf_puts(out, " ");
        first = false;
        if (f->type == PROTOBUF_C_TYPE_BOOL)
            sp_buf_puts(out, f->name);
        else
            s_value(out, f, (const char *)m + f->offset);
    }
}

/* A field's value as one cell/line: repeated elements joined by `sep`. */
static void s_field_text(sp_buf_t *out, const ProtobufCMessage *m,
                         const ProtobufCFieldDescriptor *f, const char *sep)
{
    const char *base = (const char *)m;
    if (f->label == PROTOBUF_C_LABEL_REPEATED) {
        size_t n = *(const size_t *)(base + f->quantifier_offset);
        const char *array = *(char *const *)(base + f->offset);
        for (size_t k = 0; k < n; k++) {
            if (k)
                sp_buf_puts(out, sep);
            s_value(out, f, array + k * sp_pbjson_elem_size(f->type));
        }
    } else if (s_is_set(m, f)) {
        s_value(out, f, base + f->offset);
    }
}

/* ------------------------------------------------------------ text forms */

void ctl_output_id(sp_buf_t *out, const ProtobufCMessage *entity)
{
    const ProtobufCFieldDescriptor *f =
        protobuf_c_message_descriptor_get_field_by_name(entity->descriptor, "id");
    if (!f)
        f = protobuf_c_message_descriptor_get_field_by_name(entity->descriptor, "code");
    if (f)
        s_field_text(out, entity, f, ",");
    sp_buf_puts(out, "\n");
}

void ctl_output_fields(sp_buf_t *out, const ProtobufCMessage *entity)
{
    const ProtobufCMessageDescriptor *d = entity->descriptor;
    const char *base = (const char *)entity;
    for (unsigned i = 0; i < d->n_fields; i++) {
        const ProtobufCFieldDescriptor *f = &d->fields[i];
        if (f->label == PROTOBUF_C_LABEL_REPEATED) {
            size_t n = *(const size_t *)(base + f->quantifier_offset);
            if (n == 0)
                continue;
            if (f->type == PROTOBUF_C_TYPE_MESSAGE) {
                ProtobufCMessage *const *array =
                    *(ProtobufCMessage *const *const *)(base + f->offset);
                for (size_t k = 0; k < n; k++) {
                    sp_buf_printf(out, "%s: ", f->name);
                    s_inline_message(out, array[k]);
                    sp_buf_puts(out, "\n");
                }
                continue;
            }
        } else if (!s_is_set(entity, f)) {
            continue;
        }
        sp_buf_printf(out, "%s: ", f->name);
        s_field_text(out, entity, f, ", ");
        sp_buf_puts(out, "\n");
    }
}

/* The columns of a list line per type: id first, free text last. */
static const struct {
    const ProtobufCMessageDescriptor *desc;
    const char *columns[8];
} s_columns[] = {
    {&samspil__v1__tenant__descriptor, {"code", "name"}},
    {&samspil__v1__partnership__descriptor, {"id", "status", "name"}},
    {&samspil__v1__actor__descriptor, {"id", "kind", "name"}},
    {&samspil__v1__membership__descriptor,
     {"id", "partnership_id", "actor_id", "knowledge_basis", "joined_on", "ended_on", "roles"}},
    {&samspil__v1__relation__descriptor,
     {"id", "from_actor_id", "kind", "to_actor_id", "partnership_id"}},
    {&samspil__v1__consent__descriptor,
     {"id", "actor_id", "purpose", "channel", "text_version", "given_at", "withdrawn_at"}},
};

/* Display width of UTF-8 text: one per code point. */
static size_t s_width(const char *s)
{
    size_t w = 0;
    for (; *s; s++)
        if (((unsigned char)*s & 0xC0) != 0x80)
            w++;
    return w;
}

void ctl_output_list_text(sp_buf_t *out, ProtobufCMessage *const *items, size_t n)
{
    if (n == 0)
        return;
    const ProtobufCMessageDescriptor *d = items[0]->descriptor;
    const ProtobufCFieldDescriptor *cols[8];
    size_t ncols = 0;
    for (size_t t = 0; t < COUNT(s_columns); t++) {
        if (s_columns[t].desc != d)
            continue;
        for (size_t c = 0; c < 8 && s_columns[t].columns[c]; c++) {
            const ProtobufCFieldDescriptor *f =
                protobuf_c_message_descriptor_get_field_by_name(d, s_columns[t].columns[c]);
            if (f)
                cols[ncols++] = f;
        }
    }
    if (ncols == 0 && d->n_fields > 0)
        cols[ncols++] = &d->fields[0];
    char **cells = calloc(n * ncols, sizeof *cells);
    size_t width[8] = {0};
    if (!cells)
        abort();
    for (size_t i = 0; i < n; i++) {
        for (size_t c = 0; c < ncols; c++) {
            sp_buf_t cell;
            sp_buf_init(&cell);
            s_field_text(&cell, items[i], cols[c], ",");
            if (cell.len == 0)
                sp_buf_puts(&cell, "-");
            cells[i * ncols + c] = sp_buf_take(&cell);
            size_t w = s_width(cells[i * ncols + c]);
            if (w > width[c])
                width[c] = w;
        }
    }
    for (size_t i = 0; i < n; i++) {
        for (size_t c = 0; c < ncols; c++) {
            const char *cell = cells[i * ncols + c];
            sp_buf_puts(out, cell);
            if (c + 1 < ncols)
                sp_buf_printf(out, "%*s", (int)(width[c] - s_width(cell) + 2), "");
            free(cells[i * ncols + c]);
        }
        sp_buf_puts(out, "\n");
    }
    free(cells);
}

void ctl_output_status_text(sp_buf_t *out, const Samspil__V1__BrokerStatus *status)
{
    int wname = (int)strlen("SERVICE");
    for (size_t i = 0; i < status->n_services; i++) {
        const char *name = status->services[i]->name ? status->services[i]->name : "";
        if ((int)strlen(name) > wname)
            wname = (int)strlen(name);
    }
    sp_buf_printf(out, "%-*s  WORKERS  CREDIT  IN-FLIGHT  QUEUED\n", wname, "SERVICE");
    for (size_t i = 0; i < status->n_services; i++) {
        const Samspil__V1__ServiceStatus *s = status->services[i];
        sp_buf_t name;
        sp_buf_init(&name);
        s_text(&name, s->name ? s->name : "");
        sp_buf_printf(out, "%-*s  %7" PRIu32 "  %6" PRIu32 "  %9" PRIu32 "  %6" PRIu32 "\n", wname,
                      name.data ? name.data : "", s->workers, s->credit, s->in_flight, s->queued);
        sp_buf_free(&name);
    }
    if (status->development_mode)
        sp_buf_puts(out, "development mode: no authentication\n");
}

void ctl_output_error(sp_buf_t *out, const Samspil__V1__Error *err)
{
    sp_buf_printf(out, "samspilctl: %s: ", sp_error_code_name(err->code));
    s_text(out, err->message && *err->message ? err->message : "(no message)");
    if (err->field && *err->field) {
        sp_buf_puts(out, " (field ");
        s_text(out, err->field);
        sp_buf_puts(out, ")");
    }
    sp_buf_puts(out, "\n");
}

/* ------------------------------------------------------------ replies */

const ProtobufCMessage *ctl_reply_result(const Samspil__V1__RegistrationReply *reply)
{
    if (reply->result_case == SAMSPIL__V1__REGISTRATION_REPLY__RESULT__NOT_SET)
        return NULL;
    const ProtobufCFieldDescriptor *f =
        protobuf_c_message_descriptor_get_field(reply->base.descriptor, reply->result_case);
    if (!f || f->type != PROTOBUF_C_TYPE_MESSAGE)
        return NULL;
    return *(ProtobufCMessage *const *)((const char *)reply + f->offset);
}

size_t ctl_page_items(const ProtobufCMessage *page, ProtobufCMessage *const **items)
{
    const ProtobufCFieldDescriptor *f =
        protobuf_c_message_descriptor_get_field_by_name(page->descriptor, "items");
    *items = NULL;
    if (!f || f->label != PROTOBUF_C_LABEL_REPEATED || f->type != PROTOBUF_C_TYPE_MESSAGE)
        return 0;
    const char *base = (const char *)page;
    *items = *(ProtobufCMessage *const *const *)(base + f->offset);
    return *(const size_t *)(base + f->quantifier_offset);
}

const char *ctl_page_next(const ProtobufCMessage *page)
{
    const ProtobufCFieldDescriptor *f =
        protobuf_c_message_descriptor_get_field_by_name(page->descriptor, "next");
    if (!f || f->type != PROTOBUF_C_TYPE_STRING)
        return "";
    const char *next = *(char *const *)((const char *)page + f->offset);
    return next ? next : "";
}

/* ------------------------------------------------------------ events */

/* Compact form of the CLI's JSON style, for one line per event. */
#define CTL_EV_JSON_FLAGS (SP_PBJSON_PROTO_NAMES | SP_PBJSON_SHORT_ENUMS | SP_PBJSON_EMIT_DEFAULTS)

const char *const ctl_output_event_keys[6] = {"stream", "seq",       "tenant",
                                              "type",   "entity_id", "occurred_at"};

/* 0001-01-01T00:00:00Z and 9999-12-31T23:59:59.999999Z in microseconds. */
#define CTL_EV_MIN_US (-62135596800LL * 1000000LL)
#define CTL_EV_MAX_US (253402300799LL * 1000000LL + 999999LL)

const char *ctl_output_time(int64_t us, char *out, size_t outlen)
{
    if (us < CTL_EV_MIN_US)
        us = CTL_EV_MIN_US;
    if (us > CTL_EV_MAX_US)
        us = CTL_EV_MAX_US;
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

const ProtobufCMessage *ctl_output_event_payload(const Samspil__V1__Event *event)
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

void ctl_output_event_line(sp_buf_t *out, const Samspil__V1__Event *event)
{
    ctl_output_event_object(out, event);
    sp_buf_puts(out, "\n");
}

void ctl_output_event_object(sp_buf_t *out, const Samspil__V1__Event *event)
{
    char when[40];
    sp_buf_puts(out, "{");
    s_key_string(out, "stream", event->stream, true);
    sp_buf_printf(out, ",\"seq\":%" PRIu64, event->seq);
    s_key_string(out, "tenant", event->tenant, false);
    s_key_string(out, "type", event->type, false);
    s_key_string(out, "entity_id", event->entity_id, false);
    s_key_string(out, "occurred_at", ctl_output_time(event->occurred_at_us, when, sizeof when),
                 false);
    const ProtobufCMessage *payload = ctl_output_event_payload(event);
    if (payload) {
        /* the payload's own object without its braces, spliced in */
        sp_buf_t fields;
        sp_buf_init(&fields);
        sp_pbjson_append(&fields, payload, CTL_EV_JSON_FLAGS, 0);
        if (fields.len > 2) {
            sp_buf_puts(out, ",");
            sp_buf_append(out, fields.data + 1, fields.len - 2);
        }
        sp_buf_free(&fields);
    }
    sp_buf_puts(out, "}");
}

/* ------------------------------------------------------------ keys */

const char *ctl_output_key_tenants(const Samspil__V1__KeyInfo *key, char *out, size_t outlen)
{
    if (outlen == 0)
        return out;
    out[0] = '\0';
    if (key->all_tenants) {
        snprintf(out, outlen, "*");
        return out;
    }
    size_t used = 0;
    for (size_t i = 0; i < key->n_tenants; i++) {
        int n = snprintf(out + used, outlen - used, "%s%s", i ? "," : "",
                         key->tenants[i] ? key->tenants[i] : "");
        if (n < 0 || (size_t)n >= outlen - used)
            break;
        used += (size_t)n;
    }
    return out;
}

void ctl_output_keys_text(sp_buf_t *out, Samspil__V1__KeyInfo *const *keys, size_t n)
{
    enum { NCOLS = 6 };
    char **cells = calloc(n * NCOLS + 1, sizeof *cells);
    size_t width[NCOLS] = {0};
    if (!cells)
        abort();
    for (size_t i = 0; i < n; i++) {
        const Samspil__V1__KeyInfo *k = keys[i];
        char role[64], tenants[512];
        const char *text[NCOLS] = {
            k->name,
            s_enum_word(&samspil__v1__role__descriptor, k->role, role, sizeof role),
            ctl_output_key_tenants(k, tenants, sizeof tenants),
            k->created,
            k->revoked,
            k->public_key,
        };
        for (size_t c = 0; c < NCOLS; c++) {
            sp_buf_t cell;
            sp_buf_init(&cell);
            s_text(&cell, text[c]);
            if (cell.len == 0)
                sp_buf_puts(&cell, "-");
            cells[i * NCOLS + c] = sp_buf_take(&cell);
            size_t w = s_width(cells[i * NCOLS + c]);
            if (w > width[c])
                width[c] = w;
        }
    }
    for (size_t i = 0; i < n; i++) {
        for (size_t c = 0; c < NCOLS; c++) {
            const char *cell = cells[i * NCOLS + c];
            sp_buf_puts(out, cell);
            if (c + 1 < NCOLS)
                sp_buf_printf(out, "%*s", (int)(width[c] - s_width(cell) + 2), "");
            free(cells[i * NCOLS + c]);
        }
        sp_buf_puts(out, "\n");
    }
    free(cells);
}

/* ------------------------------------------------------------ person export */

void ctl_output_person_begin(sp_buf_t *out, const char *actor_id, int64_t exported_at_us)
{
    char when[40];
    sp_buf_puts(out, "{\n  \"actor_id\": ");
    sp_buf_json_string(out, actor_id ? actor_id : "", actor_id ? strlen(actor_id) : 0);
    sp_buf_puts(out, ",\n  \"exported_at\": ");
    ctl_output_time(exported_at_us, when, sizeof when);
    sp_buf_json_string(out, when, strlen(when));
    sp_buf_puts(out, ",\n  \"services\": {");
}

/* One PersonEvent as an events-tail object. */
static void s_person_event(sp_buf_t *out, const Samspil__V1__PersonEvent *pe, const char *stream)
{
    Samspil__V1__Event *ev = samspil__v1__event__unpack(
        NULL, pe->event.len, pe->event.data ? pe->event.data : (const uint8_t *)"");
    if (ev) {
        char *saved_stream = ev->stream;
        uint64_t saved_seq = ev->seq;
        if (!ev->stream || !*ev->stream)
            ev->stream = (char *)stream;
        if (ev->seq == 0)
            ev->seq = pe->seq;
        ctl_output_event_object(out, ev);
        ev->stream = saved_stream;
        ev->seq = saved_seq;
        samspil__v1__event__free_unpacked(ev, NULL);
        return;
    }
    char when[40];
    sp_buf_printf(out, "{\"seq\":%" PRIu64 ",\"type\":", pe->seq);
    sp_buf_json_string(out, pe->type ? pe->type : "", pe->type ? strlen(pe->type) : 0);
    sp_buf_puts(out, ",\"entity_id\":");
    sp_buf_json_string(out, pe->entity_id ? pe->entity_id : "",
                       pe->entity_id ? strlen(pe->entity_id) : 0);
    sp_buf_puts(out, ",\"occurred_at\":");
    ctl_output_time(pe->occurred_at_us, when, sizeof when);
    sp_buf_json_string(out, when, strlen(when));
    sp_buf_puts(out, ",\"event_base64\":");
    sp_buf_json_base64(out, pe->event.data, pe->event.len);
    sp_buf_puts(out, "}");
}

void ctl_output_person_service(sp_buf_t *out, const char *name, const ProtobufCMessage *msg,
                               bool first)
{
    sp_buf_puts(out, first ? "\n    " : ",\n    ");
    sp_buf_json_string(out, name, strlen(name));
    sp_buf_puts(out, ": ");
    if (msg->descriptor != &samspil__v1__person__descriptor) {
        sp_pbjson_append(out, msg, CTL_JSON_FLAGS, 2);
        return;
    }
    /* registration's Person: print it without its events, then put the
     * decoded events where the empty list stands */
    const Samspil__V1__Person *person = (const Samspil__V1__Person *)msg;
    Samspil__V1__Person copy = *person;
    copy.n_events = 0;
    copy.events = NULL;
    sp_buf_t doc;
    sp_buf_init(&doc);
    sp_pbjson_append(&doc, &copy.base, CTL_JSON_FLAGS, 2);
    static const char empty[] = "\n      \"events\": []";
    const char *at = doc.data ? strstr(doc.data, empty) : NULL;
    if (!at || person->n_events == 0) {
        sp_buf_append(out, doc.data, doc.len);
        sp_buf_free(&doc);
        return;
    }
    size_t head = (size_t)(at - doc.data);
    sp_buf_append(out, doc.data, head);
    sp_buf_puts(out, "\n      \"events\": [");
    for (size_t i = 0; i < person->n_events; i++) {
        sp_buf_puts(out, i ? ",\n        " : "\n        ");
        s_person_event(out, person->events[i], name);
    }
    sp_buf_puts(out, "\n      ]");
    sp_buf_puts(out, at + sizeof empty - 1);
    sp_buf_free(&doc);
}

void ctl_output_person_end(sp_buf_t *out)
{
    sp_buf_puts(out, "\n  }\n}\n");
}
