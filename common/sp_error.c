/*
 * sp_error.c - errors with a stable code, a message and a field path.
 */
#include "sp_error.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

void
sp_error_clear(sp_error_t *err)
{
    err->code = SP_OK;
    err->field[0] = '\0';
    err->message[0] = '\0';
}

int
sp_error_set(sp_error_t *err, sp_error_code_t code, const char *field, const char *fmt, ...)
{
    err->code = code;
    snprintf(err->field, sizeof err->field, "%s", field ? field : "");
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err->message, sizeof err->message, fmt, ap);
    va_end(ap);
    return -1;
}

bool
sp_error_is_set(const sp_error_t *err)
{
    return err->code != SP_OK;
}

const char *
sp_error_quote(const char *value, size_t max, char *out, size_t outlen)
{
    size_t len = value ? strlen(value) : 0;
    bool cut = len > max;
    size_t take = cut ? max : len;
    /* never split a UTF-8 sequence: back up over continuation bytes */
    while (cut && take > 0 && ((unsigned char)value[take] & 0xC0) == 0x80)
        take--;
    if (take + 4 > outlen)
        take = outlen > 4 ? outlen - 4 : 0;
    size_t o = 0;
    for (size_t i = 0; i < take; i++) {
        unsigned char c = (unsigned char)value[i];
        out[o++] = (c < 0x20 || c == 0x7F) ? '?' : (char)c;
    }
    if (cut && o + 3 < outlen) {
        memcpy(out + o, "...", 3);
        o += 3;
    }
    out[o] = '\0';
    return out;
}

void
sp_error_to_pb(const sp_error_t *err, Samspil__V1__Error *pb)
{
    samspil__v1__error__init(pb);
    pb->code = err->code;
    pb->message = (char *)err->message;
    pb->field = (char *)err->field;
}

void
sp_error_from_pb(const Samspil__V1__Error *pb, sp_error_t *err)
{
    sp_error_clear(err);
    if (!pb)
        return;
    err->code = pb->code;
    snprintf(err->field, sizeof err->field, "%s", pb->field ? pb->field : "");
    snprintf(err->message, sizeof err->message, "%s", pb->message ? pb->message : "");
}

const char *
sp_error_code_name(sp_error_code_t code)
{
    switch (code) {
    case SP_OK: return "ok";
    case SP_INVALID_ARGUMENT: return "invalid_argument";
    case SP_NOT_FOUND: return "not_found";
    case SP_ALREADY_EXISTS: return "already_exists";
    case SP_FAILED_PRECONDITION: return "failed_precondition";
    case SP_PERMISSION_DENIED: return "permission_denied";
    case SP_UNAVAILABLE: return "unavailable";
    case SP_INTERNAL: return "internal";
    default: return "unknown";
    }
}
