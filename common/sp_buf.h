/*
 * sp_buf.h - a growable byte buffer with helpers for writing JSON text.
 *
 * Used by the logger, the protobuf-to-JSON printer and anything that builds
 * text.  Allocation failure aborts (there is no sane recovery in a service).
 */
#ifndef SP_BUF_H
#define SP_BUF_H

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

typedef struct {
    char *data; /* always NUL-terminated after any append; owned by the buffer */
    size_t len;
    size_t cap;
} sp_buf_t;

/* Initialise an empty buffer (no allocation until the first append). */
void sp_buf_init(sp_buf_t *buf);

/* Free the buffer's memory and reset it to empty. */
void sp_buf_free(sp_buf_t *buf);

/* Forget the contents but keep the memory for reuse. */
void sp_buf_reset(sp_buf_t *buf);

/* Take ownership of the contents as a NUL-terminated string (never NULL);
 * the buffer is left empty.  The caller frees the result. */
char *sp_buf_take(sp_buf_t *buf);

/* Append raw bytes. */
void sp_buf_append(sp_buf_t *buf, const void *data, size_t len);

/* Append a NUL-terminated string. */
void sp_buf_puts(sp_buf_t *buf, const char *str);

/* Append printf-formatted text. */
void sp_buf_printf(sp_buf_t *buf, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void sp_buf_vprintf(sp_buf_t *buf, const char *fmt, va_list ap);

/* Append `len` bytes as a JSON string literal, quotes included.  Control
 * characters are escaped; invalid UTF-8 bytes become U+FFFD. */
void sp_buf_json_string(sp_buf_t *buf, const char *str, size_t len);

/* Append bytes as a JSON string holding their standard base64 encoding. */
void sp_buf_json_base64(sp_buf_t *buf, const uint8_t *data, size_t len);

#endif
