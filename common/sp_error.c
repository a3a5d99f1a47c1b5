/*
 * sp_error.c - errors with a stable code, a message and a field path.
 *
 * Messages and fields go to clients in proto3 `string` fields, which must be
 * valid UTF-8 (Go, Java and Python clients refuse to parse a message that is
 * not), so every text stored here is made valid: a byte that starts no
 * well-formed UTF-8 sequence becomes '?', and a text is cut only between
 * characters.
 */
#include "sp_error.h"
#include "sp_valid.h"

#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

/* Bytes of the character at s[0..avail): a well-formed UTF-8 sequence, or 1
 * with *bad set when s[0] starts none (stray continuation byte, overlong form,
 * surrogate, beyond U+10FFFF, or cut short). */
static size_t s_char_len(const unsigned char *s, size_t avail, bool *bad)
{
    size_t n;
    if (s[0] < 0x80)
        n = 1;
    else if (s[0] >= 0xC2 && s[0] <= 0xDF)
        n = 2;
    else if (s[0] >= 0xE0 && s[0] <= 0xEF)
        n = 3;
    else if (s[0] >= 0xF0 && s[0] <= 0xF4)
        n = 4;
    else
        n = 0;
    *bad = n == 0 || n > avail || (n > 1 && !sp_utf8_valid((const char *)s, n, NULL));
    return *bad ? 1 : n;
}

/* True for the character s[0..n): a control character (C0, DEL, C1) or a
 * bidirectional override or isolate (U+202A..U+202E, U+2066..U+2069), which
 * can make a message display other than it reads. */
static bool s_is_control(const unsigned char *s, size_t n)
{
    if (n == 1)
        return s[0] < 0x20 || s[0] == 0x7F;
    if (n == 2)
        return s[0] == 0xC2 && s[1] < 0xA0;
    if (n == 3 && s[0] == 0xE2)
        return (s[1] == 0x80 && s[2] >= 0xAA && s[2] <= 0xAE) ||
               (s[1] == 0x81 && s[2] >= 0xA6 && s[2] <= 0xA9);
    return false;
}

/* Copy in[0..inlen) into out (cap bytes with the NUL; out may be in) as
 * valid UTF-8: bytes that start no well-formed sequence become '?', and so
 * do control characters when `controls`.  At most `max` bytes of the input
 * are taken, whole characters only; when not all of it fits (or `more`: the
 * input was already cut), "..." follows.  Returns out. */
static char *s_clean(char *out, size_t cap, const char *in, size_t inlen, size_t max, bool more,
                     bool controls)
{
    if (cap == 0)
        return out;
    size_t room = cap - 1;
    bool cut = more || inlen > max || inlen > room;
    size_t limit = inlen;
    if (cut) {
        limit = room >= 3 ? room - 3 : 0;
        if (limit > max)
            limit = max;
    }
    const unsigned char *u = (const unsigned char *)in;
    size_t i = 0, o = 0;
    while (i < inlen) {
        bool bad;
        size_t n = s_char_len(u + i, inlen - i, &bad);
        if (i + n > limit)
            break;
        if (bad || (controls && s_is_control(u + i, n))) {
            out[o++] = '?';
        } else {
            memmove(out + o, in + i, n); /* o <= i: never ahead of the input */
            o += n;
        }
        i += n;
    }
    if (cut && o + 3 <= room) {
        memcpy(out + o, "...", 3);
        o += 3;
    }
    out[o] = '\0';
    return out;
}

/* Make the text vsnprintf/snprintf left in buf (cap bytes) valid UTF-8;
 * `n` is what it returned. */
static void s_fix_printed(char *buf, size_t cap, int n)
{
    if (n < 0) {
        buf[0] = '\0';
        return;
    }
    bool more = (size_t)n >= cap;
    s_clean(buf, cap, buf, more ? cap - 1 : (size_t)n, SIZE_MAX, more, false);
}

void sp_error_clear(sp_error_t *err)
{
    err->code = SP_OK;
    err->field[0] = '\0';
    err->message[0] = '\0';
}

int sp_error_set(sp_error_t *err, sp_error_code_t code, const char *field, const char *fmt, ...)
{
    err->code = code;
    const char *f = field ? field : "";
    s_clean(err->field, sizeof err->field, f, strlen(f), SIZE_MAX, false, false);
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(err->message, sizeof err->message, fmt, ap);
    va_end(ap);
    s_fix_printed(err->message, sizeof err->message, n);
    return -1;
}

bool sp_error_is_set(const sp_error_t *err)
{
    return err->code != SP_OK;
}

const char *sp_error_quote(const char *value, size_t max, char *out, size_t outlen)
{
    const char *v = value ? value : "";
    return s_clean(out, outlen, v, strlen(v), max, false, true);
}

void sp_error_to_pb(const sp_error_t *err, Samspil__V1__Error *pb)
{
    samspil__v1__error__init(pb);
    pb->code = err->code;
    pb->message = (char *)err->message;
    pb->field = (char *)err->field;
}

void sp_error_from_pb(const Samspil__V1__Error *pb, sp_error_t *err)
{
    sp_error_clear(err);
    if (!pb)
        return;
    err->code = pb->code;
    const char *field = pb->field ? pb->field : "";
    const char *message = pb->message ? pb->message : "";
    s_clean(err->field, sizeof err->field, field, strlen(field), SIZE_MAX, false, false);
    s_clean(err->message, sizeof err->message, message, strlen(message), SIZE_MAX, false, false);
}

const char *sp_error_code_name(sp_error_code_t code)
{
    switch (code) {
    case SP_OK:
        return "ok";
    case SP_INVALID_ARGUMENT:
        return "invalid_argument";
    case SP_NOT_FOUND:
        return "not_found";
    case SP_ALREADY_EXISTS:
        return "already_exists";
    case SP_FAILED_PRECONDITION:
        return "failed_precondition";
    case SP_PERMISSION_DENIED:
        return "permission_denied";
    case SP_UNAVAILABLE:
        return "unavailable";
    case SP_INTERNAL:
        return "internal";
    default:
        return "unknown";
    }
}
