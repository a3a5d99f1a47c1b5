/*
 * sp_buf.c - growable byte buffer and JSON text helpers.
 */
#include "sp_buf.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void
s_reserve(sp_buf_t *buf, size_t extra)
{
    size_t need = buf->len + extra + 1;
    if (need <= buf->cap)
        return;
    size_t cap = buf->cap ? buf->cap : 64;
    while (cap < need)
        cap *= 2;
    char *data = realloc(buf->data, cap);
    if (!data)
        abort();
    buf->data = data;
    buf->cap = cap;
}

void
sp_buf_init(sp_buf_t *buf)
{
    buf->data = NULL;
    buf->len = 0;
    buf->cap = 0;
}

void
sp_buf_free(sp_buf_t *buf)
{
    free(buf->data);
    sp_buf_init(buf);
}

void
sp_buf_reset(sp_buf_t *buf)
{
    buf->len = 0;
    if (buf->data)
        buf->data[0] = '\0';
}

char *
sp_buf_take(sp_buf_t *buf)
{
    s_reserve(buf, 0);
    char *data = buf->data;
    sp_buf_init(buf);
    return data;
}

void
sp_buf_append(sp_buf_t *buf, const void *data, size_t len)
{
    s_reserve(buf, len);
    if (len)
        memcpy(buf->data + buf->len, data, len);
    buf->len += len;
    buf->data[buf->len] = '\0';
}

void
sp_buf_puts(sp_buf_t *buf, const char *str)
{
    sp_buf_append(buf, str, strlen(str));
}

void
sp_buf_vprintf(sp_buf_t *buf, const char *fmt, va_list ap)
{
    va_list copy;
    va_copy(copy, ap);
    int n = vsnprintf(NULL, 0, fmt, copy);
    va_end(copy);
    if (n < 0)
        return;
    s_reserve(buf, (size_t)n);
    vsnprintf(buf->data + buf->len, (size_t)n + 1, fmt, ap);
    buf->len += (size_t)n;
}

void
sp_buf_printf(sp_buf_t *buf, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    sp_buf_vprintf(buf, fmt, ap);
    va_end(ap);
}

/* Length of the valid UTF-8 sequence starting at s (at most `left` bytes), or 0. */
static size_t
s_utf8_len(const unsigned char *s, size_t left)
{
    size_t n;
    unsigned int cp;
    if (s[0] < 0x80)
        return 1;
    if ((s[0] & 0xE0) == 0xC0) {
        n = 2;
        cp = s[0] & 0x1F;
    } else if ((s[0] & 0xF0) == 0xE0) {
        n = 3;
        cp = s[0] & 0x0F;
    } else if ((s[0] & 0xF8) == 0xF0) {
        n = 4;
        cp = s[0] & 0x07;
    } else
        return 0;
    if (n > left)
        return 0;
    for (size_t i = 1; i < n; i++) {
        if ((s[i] & 0xC0) != 0x80)
            return 0;
        cp = (cp << 6) | (s[i] & 0x3F);
    }
    if ((n == 2 && cp < 0x80) || (n == 3 && cp < 0x800) || (n == 4 && cp < 0x10000) ||
        cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF))
        return 0;
    return n;
}

void
sp_buf_json_string(sp_buf_t *buf, const char *str, size_t len)
{
    const unsigned char *s = (const unsigned char *)str;
    sp_buf_append(buf, "\"", 1);
    size_t i = 0;
    while (i < len) {
        unsigned char c = s[i];
        if (c == '"' || c == '\\') {
            char esc[2] = {'\\', (char)c};
            sp_buf_append(buf, esc, 2);
            i++;
        } else if (c < 0x20 || c == 0x7F) {
            switch (c) {
            case '\n': sp_buf_append(buf, "\\n", 2); break;
            case '\r': sp_buf_append(buf, "\\r", 2); break;
            case '\t': sp_buf_append(buf, "\\t", 2); break;
            default: sp_buf_printf(buf, "\\u%04x", c); break;
            }
            i++;
        } else if (c < 0x80) {
            sp_buf_append(buf, &s[i], 1);
            i++;
        } else {
            size_t n = s_utf8_len(s + i, len - i);
            if (n == 0) {
                sp_buf_puts(buf, "\xEF\xBF\xBD");
                i++;
            } else {
                sp_buf_append(buf, s + i, n);
                i += n;
            }
        }
    }
    sp_buf_append(buf, "\"", 1);
}

void
sp_buf_json_base64(sp_buf_t *buf, const uint8_t *data, size_t len)
{
    static const char tab[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    sp_buf_append(buf, "\"", 1);
    for (size_t i = 0; i < len; i += 3) {
        uint32_t v = (uint32_t)data[i] << 16;
        if (i + 1 < len)
            v |= (uint32_t)data[i + 1] << 8;
        if (i + 2 < len)
            v |= data[i + 2];
        char out[4] = {tab[(v >> 18) & 63], tab[(v >> 12) & 63],
                       i + 1 < len ? tab[(v >> 6) & 63] : '=', i + 2 < len ? tab[v & 63] : '='};
        sp_buf_append(buf, out, 4);
    }
    sp_buf_append(buf, "\"", 1);
}
