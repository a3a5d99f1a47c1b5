/*
 * sp_pbjson.c - reflective protobuf-c to JSON printer (see sp_pbjson.h).
 */
#include "sp_pbjson.h"

#include "sp_pbenum.h"

#include <ctype.h>
#include <inttypes.h>
#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void s_message(sp_buf_t *buf, const ProtobufCMessage *msg, unsigned flags, int indent);

const char *sp_pbjson_field_name(const ProtobufCFieldDescriptor *field, unsigned flags, char *out,
                                 size_t outlen)
{
    if (outlen == 0)
        return out;
    const char *name = field->name;
    size_t o = 0;
    if (flags & SP_PBJSON_PROTO_NAMES) {
        for (; *name && o + 1 < outlen; name++)
            out[o++] = *name;
    } else {
        /* protoc's json_name rule: drop '_', upper-case the character after it */
        bool upper_next = false;
        for (; *name && o + 1 < outlen; name++) {
            if (*name == '_') {
                upper_next = true;
            } else if (upper_next) {
                out[o++] = (char)toupper((unsigned char)*name);
                upper_next = false;
            } else {
                out[o++] = *name;
            }
        }
    }
    out[o] = '\0';
    return out;
}

/* Newline plus `level` two-space indents in pretty mode; nothing otherwise. */
static void s_newline(sp_buf_t *buf, unsigned flags, int level)
{
    if (!(flags & SP_PBJSON_PRETTY))
        return;
    sp_buf_append(buf, "\n", 1);
    for (int i = 0; i < level; i++)
        sp_buf_append(buf, "  ", 2);
}

/* Shortest decimal with `max_digits` or fewer significant digits that reads
 * back as `v` (checked by `same`), in fixed notation for moderate exponents
 * and exponent notation otherwise (as JavaScript prints numbers). */
static void s_real(sp_buf_t *buf, double v, bool is_float)
{
    if (isnan(v)) {
        sp_buf_puts(buf, "\"NaN\"");
        return;
    }
    if (isinf(v)) {
        sp_buf_puts(buf, v > 0 ? "\"Infinity\"" : "\"-Infinity\"");
        return;
    }
    if (signbit(v)) {
        sp_buf_append(buf, "-", 1);
        v = -v;
    }
    if (v == 0) {
        sp_buf_append(buf, "0", 1);
        return;
    }
    int max_digits = is_float ? 9 : 17;
    char sci[48];
    for (int p = 1; p <= max_digits; p++) {
        snprintf(sci, sizeof sci, "%.*e", p - 1, v);
        if (is_float ? strtof(sci, NULL) == (float)v : strtod(sci, NULL) == v)
            break;
    }
    /* sci is "d.ddde[+-]XX" or "de[+-]XX": split into digits and exponent */
    char digits[24];
    size_t n = 0;
    const char *s = sci;
    for (; *s && *s != 'e'; s++)
        if (isdigit((unsigned char)*s) && n + 1 < sizeof digits)
            digits[n++] = *s;
    digits[n] = '\0';
    int exp = *s == 'e' ? atoi(s + 1) : 0;
    while (n > 1 && digits[n - 1] == '0')
        digits[--n] = '\0';
    if (exp >= 21 || exp <= -7) {
        sp_buf_append(buf, digits, 1);
        if (n > 1) {
            sp_buf_append(buf, ".", 1);
            sp_buf_append(buf, digits + 1, n - 1);
        }
        sp_buf_printf(buf, "e%c%d", exp < 0 ? '-' : '+', exp < 0 ? -exp : exp);
    } else if (exp < 0) {
        sp_buf_append(buf, "0.", 2);
        for (int i = 0; i < -exp - 1; i++)
            sp_buf_append(buf, "0", 1);
        sp_buf_append(buf, digits, n);
    } else if ((size_t)exp + 1 >= n) {
        sp_buf_append(buf, digits, n);
        for (size_t i = n; i < (size_t)exp + 1; i++)
            sp_buf_append(buf, "0", 1);
    } else {
        sp_buf_append(buf, digits, (size_t)exp + 1);
        sp_buf_append(buf, ".", 1);
        sp_buf_append(buf, digits + exp + 1, n - (size_t)exp - 1);
    }
}

static void s_enum(sp_buf_t *buf, const ProtobufCEnumDescriptor *desc, int value, unsigned flags)
{
    const ProtobufCEnumValue *v = desc ? protobuf_c_enum_descriptor_get_value(desc, value) : NULL;
    if (!v) {
        sp_buf_printf(buf, "%d", value);
        return;
    }
    if (flags & SP_PBJSON_SHORT_ENUMS) {
        char name[128];
        sp_pbenum_short_name(desc, value, name, sizeof name);
        sp_buf_json_string(buf, name, strlen(name));
    } else {
        sp_buf_json_string(buf, v->name, strlen(v->name));
    }
}

/* One value of `field` stored at `p` (an element of a repeated field, or the
 * member itself). */
static void s_value(sp_buf_t *buf, const ProtobufCFieldDescriptor *field, const void *p,
                    unsigned flags, int indent)
{
    switch (field->type) {
    case PROTOBUF_C_TYPE_INT32:
    case PROTOBUF_C_TYPE_SINT32:
    case PROTOBUF_C_TYPE_SFIXED32:
        sp_buf_printf(buf, "%" PRId32, *(const int32_t *)p);
        break;
    case PROTOBUF_C_TYPE_UINT32:
    case PROTOBUF_C_TYPE_FIXED32:
        sp_buf_printf(buf, "%" PRIu32, *(const uint32_t *)p);
        break;
    case PROTOBUF_C_TYPE_INT64:
    case PROTOBUF_C_TYPE_SINT64:
    case PROTOBUF_C_TYPE_SFIXED64:
        sp_buf_printf(buf, "\"%" PRId64 "\"", *(const int64_t *)p);
        break;
    case PROTOBUF_C_TYPE_UINT64:
    case PROTOBUF_C_TYPE_FIXED64:
        sp_buf_printf(buf, "\"%" PRIu64 "\"", *(const uint64_t *)p);
        break;
    case PROTOBUF_C_TYPE_FLOAT:
        s_real(buf, *(const float *)p, true);
        break;
    case PROTOBUF_C_TYPE_DOUBLE:
        s_real(buf, *(const double *)p, false);
        break;
    case PROTOBUF_C_TYPE_BOOL:
        sp_buf_puts(buf, *(const protobuf_c_boolean *)p ? "true" : "false");
        break;
    case PROTOBUF_C_TYPE_ENUM:
        s_enum(buf, field->descriptor, *(const int *)p, flags);
        break;
    case PROTOBUF_C_TYPE_STRING: {
        const char *s = *(char *const *)p;
        sp_buf_json_string(buf, s ? s : "", s ? strlen(s) : 0);
        break;
    }
    case PROTOBUF_C_TYPE_BYTES: {
        const ProtobufCBinaryData *b = p;
        sp_buf_json_base64(buf, b->data, b->len);
        break;
    }
    case PROTOBUF_C_TYPE_MESSAGE: {
        const ProtobufCMessage *m = *(ProtobufCMessage *const *)p;
        if (m)
            s_message(buf, m, flags, indent);
        else
            sp_buf_puts(buf, "null");
        break;
    }
    }
}

size_t sp_pbjson_elem_size(ProtobufCType type)
{
    switch (type) {
    case PROTOBUF_C_TYPE_INT32:
    case PROTOBUF_C_TYPE_SINT32:
    case PROTOBUF_C_TYPE_SFIXED32:
    case PROTOBUF_C_TYPE_UINT32:
    case PROTOBUF_C_TYPE_FIXED32:
        return sizeof(int32_t);
    case PROTOBUF_C_TYPE_INT64:
    case PROTOBUF_C_TYPE_SINT64:
    case PROTOBUF_C_TYPE_SFIXED64:
    case PROTOBUF_C_TYPE_UINT64:
    case PROTOBUF_C_TYPE_FIXED64:
        return sizeof(int64_t);
    case PROTOBUF_C_TYPE_FLOAT:
        return sizeof(float);
    case PROTOBUF_C_TYPE_DOUBLE:
        return sizeof(double);
    case PROTOBUF_C_TYPE_BOOL:
        return sizeof(protobuf_c_boolean);
    case PROTOBUF_C_TYPE_ENUM:
        return sizeof(int);
    case PROTOBUF_C_TYPE_STRING:
        return sizeof(char *);
    case PROTOBUF_C_TYPE_BYTES:
        return sizeof(ProtobufCBinaryData);
    case PROTOBUF_C_TYPE_MESSAGE:
        return sizeof(ProtobufCMessage *);
    }
    return 0;
}

bool sp_pbjson_is_default(const ProtobufCFieldDescriptor *field, const void *p)
{
    switch (field->type) {
    case PROTOBUF_C_TYPE_INT32:
    case PROTOBUF_C_TYPE_SINT32:
    case PROTOBUF_C_TYPE_SFIXED32:
    case PROTOBUF_C_TYPE_UINT32:
    case PROTOBUF_C_TYPE_FIXED32:
        return *(const int32_t *)p == 0;
    case PROTOBUF_C_TYPE_INT64:
    case PROTOBUF_C_TYPE_SINT64:
    case PROTOBUF_C_TYPE_SFIXED64:
    case PROTOBUF_C_TYPE_UINT64:
    case PROTOBUF_C_TYPE_FIXED64:
        return *(const int64_t *)p == 0;
    case PROTOBUF_C_TYPE_FLOAT:
        return *(const float *)p == 0;
    case PROTOBUF_C_TYPE_DOUBLE:
        return *(const double *)p == 0;
    case PROTOBUF_C_TYPE_BOOL:
        return !*(const protobuf_c_boolean *)p;
    case PROTOBUF_C_TYPE_ENUM:
        return *(const int *)p == 0;
    case PROTOBUF_C_TYPE_STRING: {
        const char *s = *(char *const *)p;
        return !s || !*s;
    }
    case PROTOBUF_C_TYPE_BYTES:
        return ((const ProtobufCBinaryData *)p)->len == 0;
    case PROTOBUF_C_TYPE_MESSAGE:
        return *(ProtobufCMessage *const *)p == NULL;
    }
    return true;
}

/* Whether a singular field is printed. */
static bool s_present(const ProtobufCMessage *msg, const ProtobufCFieldDescriptor *field,
                      unsigned flags)
{
    const char *base = (const char *)msg;
    const void *p = base + field->offset;
    bool pointer_type =
        field->type == PROTOBUF_C_TYPE_MESSAGE || field->type == PROTOBUF_C_TYPE_STRING;
    if (field->flags & PROTOBUF_C_FIELD_FLAG_ONEOF) {
        if (*(const uint32_t *)(base + field->quantifier_offset) != field->id)
            return false;
        return !(field->type == PROTOBUF_C_TYPE_MESSAGE && *(ProtobufCMessage *const *)p == NULL);
    }
    switch (field->label) {
    case PROTOBUF_C_LABEL_REQUIRED:
        return !(field->type == PROTOBUF_C_TYPE_MESSAGE && *(ProtobufCMessage *const *)p == NULL);
    case PROTOBUF_C_LABEL_OPTIONAL:
        if (pointer_type) {
            const void *ptr = *(const void *const *)p;
            return ptr != NULL && ptr != field->default_value;
        }
        return *(const protobuf_c_boolean *)(base + field->quantifier_offset);
    case PROTOBUF_C_LABEL_NONE:
        if (field->type == PROTOBUF_C_TYPE_MESSAGE)
            return *(ProtobufCMessage *const *)p != NULL;
        return (flags & SP_PBJSON_EMIT_DEFAULTS) || !sp_pbjson_is_default(field, p);
    case PROTOBUF_C_LABEL_REPEATED:
        return (flags & SP_PBJSON_EMIT_DEFAULTS) ||
               *(const size_t *)(base + field->quantifier_offset) > 0;
    }
    return false;
}

static void s_message(sp_buf_t *buf, const ProtobufCMessage *msg, unsigned flags, int indent)
{
    const ProtobufCMessageDescriptor *desc = msg->descriptor;
    const char *base = (const char *)msg;
    const char *colon = (flags & SP_PBJSON_PRETTY) ? ": " : ":";
    bool first = true;
    sp_buf_append(buf, "{", 1);
    for (unsigned i = 0; i < desc->n_fields; i++) {
        const ProtobufCFieldDescriptor *field = &desc->fields[i];
        if (!s_present(msg, field, flags))
            continue;
        if (!first)
            sp_buf_append(buf, ",", 1);
        first = false;
        s_newline(buf, flags, indent + 1);
        char name[128];
        sp_pbjson_field_name(field, flags, name, sizeof name);
        sp_buf_json_string(buf, name, strlen(name));
        sp_buf_puts(buf, colon);
        if (field->label == PROTOBUF_C_LABEL_REPEATED) {
            size_t count = *(const size_t *)(base + field->quantifier_offset);
            const char *array = *(char *const *)(base + field->offset);
            size_t size = sp_pbjson_elem_size(field->type);
            sp_buf_append(buf, "[", 1);
            for (size_t k = 0; k < count; k++) {
                if (k)
                    sp_buf_append(buf, ",", 1);
                s_newline(buf, flags, indent + 2);
                s_value(buf, field, array + k * size, flags, indent + 2);
            }
            if (count)
                s_newline(buf, flags, indent + 1);
            sp_buf_append(buf, "]", 1);
        } else {
            s_value(buf, field, base + field->offset, flags, indent + 1);
        }
    }
    if (!first)
        s_newline(buf, flags, indent);
    sp_buf_append(buf, "}", 1);
}

void sp_pbjson_append(sp_buf_t *buf, const ProtobufCMessage *msg, unsigned flags, int indent)
{
    s_message(buf, msg, flags, indent);
}

char *sp_pbjson_to_string(const ProtobufCMessage *msg, unsigned flags)
{
    sp_buf_t buf;
    sp_buf_init(&buf);
    s_message(&buf, msg, flags, 0);
    return sp_buf_take(&buf);
}
