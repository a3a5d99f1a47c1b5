/*
 * fuzz_json.h - a strict JSON syntax check (RFC 8259) for the fuzz targets
 * that print protobuf messages as JSON: one value, then only whitespace;
 * strings valid UTF-8 without raw control characters, with known escapes.
 * Header-only; written for these checks, not as a parser.
 */
#ifndef FUZZ_JSON_H
#define FUZZ_JSON_H

#include <stdbool.h>
#include <stddef.h>
#include <string.h>

typedef struct {
    const unsigned char *p;
    const unsigned char *end;
    int depth;
} fz_json_t;

static bool fz_json_value(fz_json_t *j);

static void fz_json_ws(fz_json_t *j)
{
    while (j->p < j->end && (*j->p == ' ' || *j->p == '\t' || *j->p == '\n' || *j->p == '\r'))
        j->p++;
}

static bool fz_json_lit(fz_json_t *j, const char *word)
{
    size_t n = strlen(word);
    if ((size_t)(j->end - j->p) < n || memcmp(j->p, word, n) != 0)
        return false;
    j->p += n;
    return true;
}

static bool fz_json_hex4(fz_json_t *j)
{
    for (int i = 0; i < 4; i++, j->p++)
        if (j->p >= j->end || !strchr("0123456789abcdefABCDEF", *j->p) || *j->p == '\0')
            return false;
    return true;
}

static bool fz_json_string(fz_json_t *j)
{
    if (j->p >= j->end || *j->p != '"')
        return false;
    j->p++;
    while (j->p < j->end) {
        unsigned char c = *j->p;
        if (c == '"') {
            j->p++;
            return true;
        }
        if (c < 0x20)
            return false;
        if (c == '\\') {
            j->p++;
            if (j->p >= j->end)
                return false;
            unsigned char e = *j->p++;
            if (e == 'u') {
                if (!fz_json_hex4(j))
                    return false;
            } else if (!strchr("\"\\/bfnrt", e) || e == '\0') {
                return false;
            }
            continue;
        }
        size_t n = c < 0x80             ? 1
                   : (c & 0xe0) == 0xc0 ? 2
                   : (c & 0xf0) == 0xe0 ? 3
                   : (c & 0xf8) == 0xf0 ? 4
                                        : 0;
        if (n == 0 || (size_t)(j->end - j->p) < n)
            return false;
        if (n == 2 && c < 0xc2)
            return false; /* overlong */
        for (size_t i = 1; i < n; i++)
            if ((j->p[i] & 0xc0) != 0x80)
                return false;
        j->p += n;
    }
    return false;
}

static bool fz_json_number(fz_json_t *j)
{
    const unsigned char *start = j->p;
    if (j->p < j->end && *j->p == '-')
        j->p++;
    if (j->p >= j->end)
        return false;
    if (*j->p == '0') {
        j->p++;
    } else if (*j->p >= '1' && *j->p <= '9') {
        while (j->p < j->end && *j->p >= '0' && *j->p <= '9')
            j->p++;
    } else {
        return false;
    }
    if (j->p < j->end && *j->p == '.') {
        j->p++;
        if (j->p >= j->end || *j->p < '0' || *j->p > '9')
            return false;
        while (j->p < j->end && *j->p >= '0' && *j->p <= '9')
            j->p++;
    }
    if (j->p < j->end && (*j->p == 'e' || *j->p == 'E')) {
        j->p++;
        if (j->p < j->end && (*j->p == '+' || *j->p == '-'))
            j->p++;
        if (j->p >= j->end || *j->p < '0' || *j->p > '9')
            return false;
        while (j->p < j->end && *j->p >= '0' && *j->p <= '9')
            j->p++;
    }
    return j->p > start;
}

static bool fz_json_container(fz_json_t *j, unsigned char open, unsigned char close, bool object)
{
    if (j->p >= j->end || *j->p != open || ++j->depth > 200)
        return false;
    j->p++;
    fz_json_ws(j);
    if (j->p < j->end && *j->p == close) {
        j->p++;
        j->depth--;
        return true;
    }
    for (;;) {
        fz_json_ws(j);
        if (object) {
            if (!fz_json_string(j))
                return false;
            fz_json_ws(j);
            if (j->p >= j->end || *j->p != ':')
                return false;
            j->p++;
        }
        if (!fz_json_value(j))
            return false;
        fz_json_ws(j);
        if (j->p < j->end && *j->p == ',') {
            j->p++;
            continue;
        }
        if (j->p < j->end && *j->p == close) {
            j->p++;
            j->depth--;
            return true;
        }
        return false;
    }
}

static bool fz_json_value(fz_json_t *j)
{
    fz_json_ws(j);
    if (j->p >= j->end)
        return false;
    switch (*j->p) {
    case '{':
        return fz_json_container(j, '{', '}', true);
    case '[':
        return fz_json_container(j, '[', ']', false);
    case '"':
        return fz_json_string(j);
    case 't':
        return fz_json_lit(j, "true");
    case 'f':
        return fz_json_lit(j, "false");
    case 'n':
        return fz_json_lit(j, "null");
    default:
        return fz_json_number(j);
    }
}

/* True if text[0..len) is exactly one JSON value (surrounding whitespace
 * allowed). */
static inline bool fz_json_valid(const char *text, size_t len)
{
    fz_json_t j = {(const unsigned char *)text, (const unsigned char *)text + len, 0};
    if (!fz_json_value(&j))
        return false;
    fz_json_ws(&j);
    return j.p == j.end;
}

#endif
