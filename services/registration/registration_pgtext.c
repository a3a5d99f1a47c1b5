/*
 * registration_pgtext.c - a request arena and PostgreSQL array text parsing.
 */
#include "registration_pgtext.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define S_BLOCK_MIN 8192
#define S_ALIGN 16

struct registration_arena_block_t {
    registration_arena_block_t *next;
    size_t used, cap;
    /* data follows, aligned */
    _Alignas(S_ALIGN) unsigned char data[];
};

void registration_arena_init(registration_arena_t *arena)
{
    arena->head = NULL;
}

void *registration_arena_alloc(registration_arena_t *arena, size_t size)
{
    size = (size + S_ALIGN - 1) & ~(size_t)(S_ALIGN - 1);
    if (size == 0)
        size = S_ALIGN;
    registration_arena_block_t *b = arena->head;
    if (!b || b->cap - b->used < size) {
        size_t cap = size > S_BLOCK_MIN ? size : S_BLOCK_MIN;
        b = malloc(sizeof *b + cap);
        if (!b)
            abort();
        b->used = 0;
        b->cap = cap;
        b->next = arena->head;
        arena->head = b;
    }
    void *p = b->data + b->used;
    b->used += size;
    memset(p, 0, size);
    return p;
}

char *registration_arena_strndup(registration_arena_t *arena, const char *s, size_t len)
{
    char *copy = registration_arena_alloc(arena, len + 1);
    memcpy(copy, s, len);
    copy[len] = '\0';
    return copy;
}

void registration_arena_free(registration_arena_t *arena)
{
    registration_arena_block_t *b = arena->head;
    while (b) {
        registration_arena_block_t *next = b->next;
        explicit_bzero(b->data, b->used); /* replies can hold opened contact points */
        free(b);
        b = next;
    }
    arena->head = NULL;
}

static bool s_space(char c)
{
    return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\v' || c == '\f';
}

/* Scan one element starting at *p; writes its unescaped text into `out`
 * (room for the rest of the input) and returns its length, -1 on a syntax
 * error, -2 for an unquoted NULL.  Leaves *p after the element. */
static long s_element(const char **p, char *out)
{
    const char *s = *p;
    size_t o = 0;
    while (s_space(*s))
        s++;
    if (*s == '"') {
        s++;
        for (;;) {
            if (*s == '\0')
                return -1;
            if (*s == '"') {
                s++;
                break;
            }
            if (*s == '\\') {
                s++;
                if (*s == '\0')
                    return -1;
            }
            out[o++] = *s++;
        }
        while (s_space(*s))
            s++;
        *p = s;
        return (long)o;
    }
    const char *start = s;
    while (*s && *s != ',' && *s != '}') {
        if (*s == '"' || *s == '{')
            return -1;
        if (*s == '\\') {
            s++;
            if (*s == '\0')
                return -1;
        }
        out[o++] = *s++;
    }
    /* trailing white space of an unquoted element is not part of it */
    while (o > 0 && s_space(out[o - 1]) && s > start && s[-1] != '\\')
        o--;
    if (o == 0)
        return -1;
    *p = s;
    if (o == 4 && (s - start) == 4 && strncasecmp(start, "NULL", 4) == 0)
        return -2;
    return (long)o;
}

int registration_pg_array(registration_arena_t *arena, const char *text, char ***items, size_t *n)
{
    *items = NULL;
    *n = 0;
    if (!text)
        return -1;
    const char *p = text;
    while (s_space(*p))
        p++;
    if (*p++ != '{')
        return -1;
    size_t len = strlen(p);
    /* count elements (an upper bound: commas outside quotes + 1) */
    size_t cap = 1;
    bool quoted = false;
    for (const char *q = p; *q; q++) {
        if (*q == '\\' && q[1])
            q++;
        else if (*q == '"')
            quoted = !quoted;
        else if (*q == ',' && !quoted)
            cap++;
    }
    char **out = registration_arena_alloc(arena, cap * sizeof *out);
    char *scratch = registration_arena_alloc(arena, len + 1);
    size_t count = 0;
    while (s_space(*p))
        p++;
    if (*p == '}') {
        p++;
    } else {
        for (;;) {
            long r = s_element(&p, scratch);
            if (r == -1 || count == cap)
                return -1;
            out[count++] = r == -2 ? NULL : registration_arena_strndup(arena, scratch, (size_t)r);
            if (*p == ',') {
                p++;
                continue;
            }
            if (*p == '}') {
                p++;
                break;
            }
            return -1;
        }
    }
    while (s_space(*p))
        p++;
    if (*p != '\0')
        return -1;
    *items = out;
    *n = count;
    return 0;
}

bool registration_pg_bool(const char *text)
{
    return text && (strcmp(text, "t") == 0 || strcmp(text, "true") == 0);
}

void registration_pg_array_append(sp_buf_t *buf, const char *value)
{
    if (buf->len == 0)
        sp_buf_puts(buf, "{");
    else if (buf->data[buf->len - 1] != '{')
        sp_buf_puts(buf, ",");
    if (!value) {
        sp_buf_puts(buf, "NULL");
        return;
    }
    sp_buf_append(buf, "\"", 1);
    for (const char *c = value; *c; c++) {
        if (*c == '"' || *c == '\\')
            sp_buf_append(buf, "\\", 1);
        sp_buf_append(buf, c, 1);
    }
    sp_buf_append(buf, "\"", 1);
}

const char *registration_pg_array_end(sp_buf_t *buf)
{
    if (buf->len == 0)
        sp_buf_puts(buf, "{");
    sp_buf_puts(buf, "}");
    return buf->data;
}
