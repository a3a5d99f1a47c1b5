/*
 * fuzz_input.h - how the libFuzzer targets in tests/fuzz/ read their input:
 * a byte cursor, and multipart messages split into frames.
 *
 * Frame encoding (also used by the seed writers):
 *   0x00..0xFD  a frame of that many bytes follows
 *   0xFE        a frame whose length is the next two bytes (big-endian)
 *   0xFF        end of the current message
 * A message also ends with the input.  Every frame is copied into its own
 * heap block of exactly its size, so AddressSanitizer sees a read past the
 * end of any one frame (slices of the fuzz input would hide it).
 *
 * Header-only (static functions): each target is one program.
 */
#ifndef FUZZ_INPUT_H
#define FUZZ_INPUT_H

#include "sp_buf.h"
#include "sp_frame.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define FZ_END_MESSAGE 0xFF
#define FZ_LONG_FRAME 0xFE

typedef struct {
    const uint8_t *data;
    size_t size;
    size_t pos;
} fz_input_t;

/* Frames of one message, each in its own heap block. */
typedef struct {
    sp_frame_t *frames;
    size_t count;
    bool too_many; /* the message had more than `max` frames; the rest were dropped */
} fz_message_t;

static inline void fz_init(fz_input_t *in, const uint8_t *data, size_t size)
{
    in->data = data;
    in->size = size;
    in->pos = 0;
}

static inline bool fz_done(const fz_input_t *in)
{
    return in->pos >= in->size;
}

/* The next byte, or 0 once the input is used up. */
static inline uint8_t fz_byte(fz_input_t *in)
{
    return in->pos < in->size ? in->data[in->pos++] : 0;
}

/* A fresh heap copy of `len` bytes at the cursor (fewer if the input ends
 * first; the count is stored in *got).  Never NULL. */
static inline void *fz_copy(fz_input_t *in, size_t len, size_t *got)
{
    size_t left = in->size - in->pos;
    size_t n = len < left ? len : left;
    void *copy = malloc(n ? n : 1);
    if (!copy)
        abort();
    if (n)
        memcpy(copy, in->data + in->pos, n);
    in->pos += n;
    *got = n;
    return copy;
}

/* The rest of the input as a NUL-terminated heap string (embedded NULs
 * stay: C string functions see a prefix). */
static inline char *fz_rest_string(fz_input_t *in, size_t *len)
{
    size_t left = in->size - in->pos;
    char *s = malloc(left + 1);
    if (!s)
        abort();
    if (left)
        memcpy(s, in->data + in->pos, left);
    s[left] = '\0';
    in->pos = in->size;
    if (len)
        *len = left;
    return s;
}

/* Read one message of at most `max` frames (like sp_zmsg_recv: the frames
 * after `max` are read and dropped, and too_many is set).  Returns false
 * when the input was already used up. */
static inline bool fz_message(fz_input_t *in, size_t max, fz_message_t *msg)
{
    msg->count = 0;
    msg->too_many = false;
    msg->frames = calloc(max ? max : 1, sizeof *msg->frames);
    if (!msg->frames)
        abort();
    if (fz_done(in))
        return false;
    while (!fz_done(in)) {
        uint8_t tag = fz_byte(in);
        if (tag == FZ_END_MESSAGE)
            break;
        size_t len = tag;
        if (tag == FZ_LONG_FRAME) {
            len = (size_t)fz_byte(in) << 8;
            len |= fz_byte(in);
        }
        size_t got;
        void *copy = fz_copy(in, len, &got);
        if (msg->count == max) {
            msg->too_many = true;
            free(copy);
            continue;
        }
        msg->frames[msg->count].data = copy;
        msg->frames[msg->count].size = got;
        msg->count++;
    }
    return true;
}

static inline void fz_message_free(fz_message_t *msg)
{
    for (size_t i = 0; i < msg->count; i++)
        free((void *)msg->frames[i].data);
    free(msg->frames);
    msg->frames = NULL;
    msg->count = 0;
}

/* --- writing inputs (seed corpora) */

static inline void fz_put_frame(sp_buf_t *out, const void *data, size_t len)
{
    uint8_t head[3];
    if (len < FZ_LONG_FRAME) {
        head[0] = (uint8_t)len;
        sp_buf_append(out, head, 1);
    } else {
        if (len > 0xFFFF)
            len = 0xFFFF;
        head[0] = FZ_LONG_FRAME;
        head[1] = (uint8_t)(len >> 8);
        head[2] = (uint8_t)len;
        sp_buf_append(out, head, 3);
    }
    sp_buf_append(out, data, len);
}

static inline void fz_put_str(sp_buf_t *out, const char *str)
{
    fz_put_frame(out, str, strlen(str));
}

static inline void fz_put_end(sp_buf_t *out)
{
    uint8_t end = FZ_END_MESSAGE;
    sp_buf_append(out, &end, 1);
}

static inline void fz_put_byte(sp_buf_t *out, uint8_t byte)
{
    sp_buf_append(out, &byte, 1);
}

/* Write `buf` as file `name` in directory `dir`; exit(1) on failure. */
static inline void fz_write_seed(const char *dir, const char *name, const sp_buf_t *buf)
{
    char path[4096];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    FILE *f = fopen(path, "wb");
    if (!f || (buf->len && fwrite(buf->data, 1, buf->len, f) != buf->len) || fclose(f) != 0) {
        fprintf(stderr, "fuzz: could not write seed \"%s\"\n", path);
        exit(1);
    }
}

/* Stop the run with a message: a violated invariant is a finding, like a
 * sanitizer report (libFuzzer saves the input that led here). */
#define FZ_CHECK(cond)                                                                             \
    do {                                                                                           \
        if (!(cond)) {                                                                             \
            fprintf(stderr, "fuzz: invariant failed at %s:%d: %s\n", __FILE__, __LINE__, #cond);   \
            abort();                                                                               \
        }                                                                                          \
    } while (0)

/* SAMSPIL_FUZZ_TRACE set: targets describe each step on stderr (FZ_TRACE),
 * for reading a reproducer.  Read once, by fz_trace_init. */
static bool fz_tracing;

static inline void fz_trace_init(void)
{
    fz_tracing = getenv("SAMSPIL_FUZZ_TRACE") != NULL;
}

#define FZ_TRACE(...)                                                                              \
    do {                                                                                           \
        if (fz_tracing)                                                                            \
            fprintf(stderr, "trace: " __VA_ARGS__);                                                \
    } while (0)

/* Seed mode: when SAMSPIL_FUZZ_SEEDS names a directory, a target's
 * LLVMFuzzerInitialize writes its seed inputs there and exits (see
 * tests/fuzz/fuzz.mk, `make fuzz-seeds`). */
static inline const char *fz_seed_dir(void)
{
    const char *dir = getenv("SAMSPIL_FUZZ_SEEDS");
    return dir && *dir ? dir : NULL;
}

#endif
