/*
 * registration_pgtext.h - reading PostgreSQL's text output into reply
 * memory: a bump arena that lives as long as one request, and a parser for
 * the text form of one-dimensional arrays ('{a,"b c",NULL}').
 *
 * Pure: no I/O.  The arena aborts on allocation failure, like sp_buf.
 */
#ifndef REGISTRATION_PGTEXT_H
#define REGISTRATION_PGTEXT_H

#include "sp_buf.h"

#include <stdbool.h>
#include <stddef.h>

typedef struct registration_arena_block_t registration_arena_block_t;

/* Memory for one request's reply; free everything at once. */
typedef struct {
    registration_arena_block_t *head;
} registration_arena_t;

/* An empty arena (no allocation until the first use). */
void registration_arena_init(registration_arena_t *arena);

/* `size` bytes aligned for any type, zeroed; never NULL. */
void *registration_arena_alloc(registration_arena_t *arena, size_t size);

/* A copy of `len` bytes of `s` plus a NUL. */
char *registration_arena_strndup(registration_arena_t *arena, const char *s, size_t len);

/* Free every block; the arena is empty again. */
void registration_arena_free(registration_arena_t *arena);

/* Parse the text form of a one-dimensional array.  On success returns 0 and
 * sets *items to an arena array of *n strings (unquoted, unescaped; a NULL
 * element becomes NULL).  Returns -1 for text that is not an array literal. */
int registration_pg_array(registration_arena_t *arena, const char *text, char ***items, size_t *n);

/* PostgreSQL's boolean output: true for "t" (and "true"), false otherwise. */
bool registration_pg_bool(const char *text);

/* Build the text of a one-dimensional array parameter: append `value`
 * (NULL: an SQL NULL element) quoted and escaped to `buf` (start with an
 * empty buffer), then registration_pg_array_end closes it ("{}" when
 * nothing was appended) and returns its text. */
void registration_pg_array_append(sp_buf_t *buf, const char *value);
const char *registration_pg_array_end(sp_buf_t *buf);

#endif
