/*
 * sp_frame.h - a borrowed view of one message frame: bytes and a length.
 * Pure data; used by the protocol codecs and by the ZeroMQ send helpers.
 */
#ifndef SP_FRAME_H
#define SP_FRAME_H

#include <stdbool.h>
#include <stddef.h>
#include <string.h>

typedef struct {
    const void *data; /* not owned */
    size_t size;
} sp_frame_t;

/* A frame over a NUL-terminated string (without the NUL). */
static inline sp_frame_t
sp_frame_str(const char *str)
{
    sp_frame_t frame = {str, strlen(str)};
    return frame;
}

/* True if `frame` holds exactly the bytes of `str`. */
static inline bool
sp_frame_equals(sp_frame_t frame, const char *str)
{
    size_t len = strlen(str);
    return frame.size == len && (len == 0 || memcmp(frame.data, str, len) == 0);
}

#endif
