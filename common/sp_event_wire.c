/*
 * sp_event_wire.c - bytea hex decoding, event stamping and ReplayReply
 * building at the protobuf wire level.
 */
#include "sp_event_wire.h"

#include <string.h>

size_t sp_event_varint(uint64_t value, uint8_t out[10])
{
    size_t n = 0;
    while (value >= 0x80) {
        out[n++] = (uint8_t)(value | 0x80);
        value >>= 7;
    }
    out[n++] = (uint8_t)value;
    return n;
}

static size_t s_varint_size(uint64_t value)
{
    size_t n = 1;
    while (value >= 0x80) {
        value >>= 7;
        n++;
    }
    return n;
}

static int s_hex(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

int sp_event_bytea_decode(const char *text, size_t len, sp_buf_t *out)
{
    sp_buf_reset(out);
    if (!text || len < 2 || text[0] != '\\' || text[1] != 'x' || (len - 2) % 2 != 0)
        return -1;
    uint8_t chunk[256];
    size_t used = 0;
    for (size_t i = 2; i < len; i += 2) {
        int hi = s_hex(text[i]), lo = s_hex(text[i + 1]);
        if (hi < 0 || lo < 0) {
            sp_buf_reset(out);
            return -1;
        }
        chunk[used++] = (uint8_t)(hi << 4 | lo);
        if (used == sizeof chunk) {
            sp_buf_append(out, chunk, used);
            used = 0;
        }
    }
    sp_buf_append(out, chunk, used);
    return 0;
}

size_t sp_event_stamp_size(const char *stream, uint64_t seq)
{
    size_t slen = strlen(stream);
    size_t n = 0;
    if (slen)
        n += 1 + s_varint_size(slen) + slen;
    if (seq)
        n += 1 + s_varint_size(seq);
    return n;
}

void sp_event_stamp(sp_buf_t *out, const uint8_t *payload, size_t len, const char *stream,
                    uint64_t seq)
{
    uint8_t v[10];
    sp_buf_append(out, payload, len);
    size_t slen = strlen(stream);
    if (slen) {
        uint8_t tag = (1 << 3) | 2; /* stream: length-delimited */
        sp_buf_append(out, &tag, 1);
        sp_buf_append(out, v, sp_event_varint(slen, v));
        sp_buf_append(out, stream, slen);
    }
    if (seq) {
        uint8_t tag = (2 << 3) | 0; /* seq: varint */
        sp_buf_append(out, &tag, 1);
        sp_buf_append(out, v, sp_event_varint(seq, v));
    }
}

size_t sp_event_reply_entry_size(size_t len)
{
    return 1 + s_varint_size(len) + len;
}

size_t sp_event_reply_add(sp_buf_t *reply, const uint8_t *event, size_t len)
{
    uint8_t v[10];
    uint8_t tag = (2 << 3) | 2; /* events: length-delimited */
    sp_buf_append(reply, &tag, 1);
    size_t n = sp_event_varint(len, v);
    sp_buf_append(reply, v, n);
    sp_buf_append(reply, event, len);
    return 1 + n + len;
}

void sp_event_reply_finish(sp_buf_t *reply, uint64_t head_seq, uint64_t scanned_to)
{
    uint8_t v[10];
    if (head_seq) {
        uint8_t tag = (3 << 3) | 0;
        sp_buf_append(reply, &tag, 1);
        sp_buf_append(reply, v, sp_event_varint(head_seq, v));
    }
    if (scanned_to) {
        uint8_t tag = (4 << 3) | 0;
        sp_buf_append(reply, &tag, 1);
        sp_buf_append(reply, v, sp_event_varint(scanned_to, v));
    }
}
