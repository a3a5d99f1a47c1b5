/*
 * sp_pbenum.c - protobuf enum values as short lower-case words.
 */
#include "sp_pbenum.h"

#include <ctype.h>
#include <stdio.h>
#include <string.h>

/* Length of the value-name prefix derived from the enum type name:
 * "ActorKind" -> "ACTOR_KIND_" (11). */
static size_t
s_prefix(const ProtobufCEnumDescriptor *desc, char *out, size_t outlen)
{
    const char *name = desc->short_name; /* desc->name is package-qualified */
    size_t o = 0;
    for (size_t i = 0; name[i] && o + 2 < outlen; i++) {
        if (i > 0 && isupper((unsigned char)name[i]) && !isupper((unsigned char)name[i - 1]))
            out[o++] = '_';
        out[o++] = (char)toupper((unsigned char)name[i]);
    }
    out[o++] = '_';
    out[o] = '\0';
    return o;
}

const char *
sp_pbenum_short_name(const ProtobufCEnumDescriptor *desc, int value, char *out, size_t outlen)
{
    out[0] = '\0';
    if (value == 0)
        return out;
    const ProtobufCEnumValue *v = protobuf_c_enum_descriptor_get_value(desc, value);
    if (!v)
        return out;
    char prefix[96];
    size_t plen = s_prefix(desc, prefix, sizeof prefix);
    const char *name = v->name;
    if (strncmp(name, prefix, plen) == 0)
        name += plen;
    size_t o = 0;
    for (; *name && o + 1 < outlen; name++)
        out[o++] = (char)tolower((unsigned char)*name);
    out[o] = '\0';
    return out;
}

int
sp_pbenum_parse(const ProtobufCEnumDescriptor *desc, const char *text, int *value)
{
    if (!text || !*text)
        return -1;
    char want[96];
    size_t o = 0;
    for (; *text && o + 1 < sizeof want; text++)
        want[o++] = *text == '-' ? '_' : (char)tolower((unsigned char)*text);
    want[o] = '\0';
    if (*text)
        return -1;
    char name[96];
    for (unsigned i = 0; i < desc->n_values; i++) {
        int v = desc->values[i].value;
        if (v == 0)
            continue;
        if (strcmp(sp_pbenum_short_name(desc, v, name, sizeof name), want) == 0) {
            *value = v;
            return 0;
        }
    }
    return -1;
}

int
sp_pbenum_is_valid(const ProtobufCEnumDescriptor *desc, int value)
{
    return value != 0 && protobuf_c_enum_descriptor_get_value(desc, value) != NULL;
}

const char *
sp_pbenum_choices(const ProtobufCEnumDescriptor *desc, char *out, size_t outlen)
{
    size_t o = 0;
    out[0] = '\0';
    char name[96];
    for (unsigned i = 0; i < desc->n_values; i++) {
        int v = desc->values[i].value;
        if (v == 0)
            continue;
        int n = snprintf(out + o, outlen - o, "%s%s", o ? ", " : "",
                         sp_pbenum_short_name(desc, v, name, sizeof name));
        if (n < 0 || (size_t)n >= outlen - o)
            break;
        o += (size_t)n;
    }
    return out;
}
