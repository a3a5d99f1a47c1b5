/*
 * sp_valid.c - validators for request values (pure, no I/O).
 */
#include "sp_valid.h"

#include "sp_municipality.h"

#include <stdio.h>
#include <string.h>

const char *sp_valid_label(const char *field)
{
    if (!field)
        return "";
    const char *dot = strrchr(field, '.');
    return dot ? dot + 1 : field;
}

/* Set INVALID_ARGUMENT "<prefix> \"<quoted value>\"<suffix>" on `err`. */
static int s_fail(sp_error_t *err, const char *field, const char *prefix, const char *value,
                  const char *suffix)
{
    if (!err)
        return -1;
    char quoted[SP_VALID_QUOTE_MAX + 8];
    sp_error_quote(value ? value : "", SP_VALID_QUOTE_MAX, quoted, sizeof quoted);
    return sp_error_set(err, SP_INVALID_ARGUMENT, field, "%s \"%s\"%s", prefix, quoted, suffix);
}

/* ------------------------------------------------------------------ UTF-8 */

/* Decode one code point at s[*i] (len bytes in all); returns it and advances
 * *i, or returns -1 for a malformed sequence. */
static long s_utf8_next(const unsigned char *s, size_t len, size_t *i)
{
    unsigned char c = s[*i];
    if (c < 0x80) {
        (*i)++;
        return c;
    }
    size_t need;
    long cp, min;
    if (c >= 0xC2 && c <= 0xDF) {
        need = 1, cp = c & 0x1F, min = 0x80;
    } else if (c >= 0xE0 && c <= 0xEF) {
        need = 2, cp = c & 0x0F, min = 0x800;
    } else if (c >= 0xF0 && c <= 0xF4) {
        need = 3, cp = c & 0x07, min = 0x10000;
    } else {
        return -1; /* continuation byte, overlong 2-byte lead, or beyond U+10FFFF */
    }
    if (*i + need >= len)
        return -1;
    for (size_t k = 1; k <= need; k++) {
        unsigned char cc = s[*i + k];
        if ((cc & 0xC0) != 0x80)
            return -1;
        cp = (cp << 6) | (cc & 0x3F);
    }
    if (cp < min || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF))
        return -1;
    *i += need + 1;
    return cp;
}

bool sp_utf8_valid(const char *s, size_t len, size_t *nchars)
{
    size_t i = 0, n = 0;
    while (i < len) {
        if (s_utf8_next((const unsigned char *)s, len, &i) < 0)
            return false;
        n++;
    }
    if (nchars)
        *nchars = n;
    return true;
}

/* Control characters (C0, DEL, C1) and bidirectional overrides/isolates,
 * which can make text display other than it reads. */
static bool s_forbidden_cp(long cp, unsigned flags)
{
    if (cp == '\t' || cp == '\n' || cp == '\r')
        return !(flags & SP_VALID_MULTILINE);
    if (cp < 0x20 || (cp >= 0x7F && cp <= 0x9F))
        return true;
    if ((cp >= 0x202A && cp <= 0x202E) || (cp >= 0x2066 && cp <= 0x2069))
        return true;
    return false;
}

static bool s_is_space_cp(long cp)
{
    return cp == ' ' || cp == '\t' || cp == '\n' || cp == '\r' || cp == 0xA0 || cp == 0x3000 ||
           (cp >= 0x2000 && cp <= 0x200B);
}

int sp_valid_text(const char *value, size_t min_chars, size_t max_chars, unsigned flags,
                  const char *field, sp_error_t *err)
{
    const char *label = sp_valid_label(field);
    const unsigned char *s = (const unsigned char *)(value ? value : "");
    size_t len = strlen((const char *)s);
    size_t i = 0, n = 0;
    bool blank = true;
    while (i < len) {
        long cp = s_utf8_next(s, len, &i);
        if (cp < 0) {
            if (err)
                sp_error_set(err, SP_INVALID_ARGUMENT, field, "%s is not valid UTF-8", label);
            return -1;
        }
        if (s_forbidden_cp(cp, flags)) {
            if (err)
                sp_error_set(err, SP_INVALID_ARGUMENT, field,
                             "%s must not contain control characters (found U+%04lX)", label, cp);
            return -1;
        }
        if (!s_is_space_cp(cp))
            blank = false;
        n++;
    }
    if (min_chars > 0 && (n == 0 || blank)) {
        if (err)
            sp_error_set(err, SP_INVALID_ARGUMENT, field, "%s must not be empty", label);
        return -1;
    }
    if (n < min_chars) {
        if (err)
            sp_error_set(err, SP_INVALID_ARGUMENT, field,
                         "%s is too short (%zu characters; at least %zu)", label, n, min_chars);
        return -1;
    }
    if (n > max_chars) {
        if (err) {
            char quoted[SP_VALID_QUOTE_MAX + 8];
            sp_error_quote(value, SP_VALID_QUOTE_MAX, quoted, sizeof quoted);
            sp_error_set(err, SP_INVALID_ARGUMENT, field,
                         "%s is too long (%zu characters; at most %zu): \"%s\"", label, n,
                         max_chars, quoted);
        }
        return -1;
    }
    return 0;
}

int sp_valid_name(const char *value, const char *field, sp_error_t *err)
{
    return sp_valid_text(value, 1, SP_VALID_NAME_MAX, 0, field, err);
}

/* ------------------------------------------------------------ identifiers */

static bool s_is_digit(char c)
{
    return c >= '0' && c <= '9';
}

static bool s_is_lower(char c)
{
    return c >= 'a' && c <= 'z';
}

static bool s_is_hex(char c)
{
    return s_is_digit(c) || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
}

bool sp_valid_is_three_digits(const char *value)
{
    return value && s_is_digit(value[0]) && s_is_digit(value[1]) && s_is_digit(value[2]) &&
           value[3] == '\0';
}

int sp_valid_municipality(const char *value, const char *field, sp_error_t *err)
{
    if (sp_valid_is_three_digits(value) && sp_municipality_find(value))
        return 0;
    return s_fail(err, field, "invalid municipality code", value,
                  ": expected one of Denmark's 3-digit municipality codes");
}

int sp_valid_uuid(const char *value, const char *field, sp_error_t *err)
{
    static const char shape[] = "xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx";
    const char *v = value ? value : "";
    bool ok = strlen(v) == sizeof shape - 1;
    for (size_t i = 0; ok && i < sizeof shape - 1; i++)
        ok = shape[i] == '-' ? v[i] == '-' : s_is_hex(v[i]);
    if (ok)
        return 0;
    if (!err)
        return -1;
    char prefix[96];
    snprintf(prefix, sizeof prefix, "invalid %s", sp_valid_label(field));
    return s_fail(err, field, prefix, v, ": expected a UUID");
}

int sp_valid_tag(const char *value, const char *field, sp_error_t *err)
{
    const char *v = value ? value : "";
    size_t len = strlen(v);
    bool ok = len >= 1 && len <= SP_VALID_TAG_MAX;
    for (size_t i = 0; ok && i < len; i++)
        ok = s_is_lower(v[i]) || s_is_digit(v[i]) || v[i] == '_' || v[i] == '-';
    if (ok)
        return 0;
    if (!err)
        return -1;
    char prefix[96];
    snprintf(prefix, sizeof prefix, "invalid tag in %s", sp_valid_label(field));
    return s_fail(err, field, prefix, v,
                  ": expected 1..40 characters of a-z, 0-9, '_' and '-' (write æ, ø, å as ae, "
                  "oe, aa)");
}

int sp_valid_external_ref(const char *value, const char *field, sp_error_t *err)
{
    const char *v = value ? value : "";
    const char *colon = strchr(v, ':');
    bool ok = colon != NULL;
    size_t syslen = ok ? (size_t)(colon - v) : 0;
    ok = ok && syslen >= 1 && syslen <= SP_VALID_REF_SYSTEM_MAX;
    for (size_t i = 0; ok && i < syslen; i++)
        ok = s_is_lower(v[i]) || s_is_digit(v[i]) || v[i] == '_' || v[i] == '.' || v[i] == '-';
    if (ok) {
        const char *id = colon + 1;
        size_t idlen = strlen(id);
        ok = idlen >= 1 && idlen <= SP_VALID_REF_ID_MAX;
        for (size_t i = 0; ok && i < idlen; i++)
            ok = id[i] > 0x20 && id[i] < 0x7F;
    }
    if (ok)
        return 0;
    return s_fail(err, field, "invalid external ref", v,
                  ": expected \"system:id\" (system: 1..40 of a-z, 0-9, '.', '_', '-'; id: "
                  "1..100 printable characters without spaces)");
}

/* ------------------------------------------------------------ dates, times */

static int s_num(const char *s, size_t n)
{
    int v = 0;
    for (size_t i = 0; i < n; i++) {
        if (!s_is_digit(s[i]))
            return -1;
        v = v * 10 + (s[i] - '0');
    }
    return v;
}

static bool s_leap(int y)
{
    return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
}

/* True if s[0..10) is a real YYYY-MM-DD date. */
static bool s_date_ok(const char *s)
{
    if (s[4] != '-' || s[7] != '-')
        return false;
    int y = s_num(s, 4), m = s_num(s + 5, 2), d = s_num(s + 8, 2);
    static const int days[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    if (y < 1 || m < 1 || m > 12 || d < 1)
        return false;
    int max = days[m - 1] + (m == 2 && s_leap(y) ? 1 : 0);
    return d <= max;
}

int sp_valid_date(const char *value, const char *field, sp_error_t *err)
{
    const char *v = value ? value : "";
    if (strlen(v) == 10 && s_date_ok(v))
        return 0;
    char prefix[96];
    snprintf(prefix, sizeof prefix, "invalid %s", sp_valid_label(field));
    return s_fail(err, field, prefix, v, ": expected a calendar date YYYY-MM-DD");
}

int sp_valid_timestamp(const char *value, const char *field, sp_error_t *err)
{
    const char *v = value ? value : "";
    size_t len = strlen(v);
    bool ok = len >= 20 && len <= 40 && s_date_ok(v) && (v[10] == 'T' || v[10] == 't') &&
              v[13] == ':' && v[16] == ':';
    if (ok) {
        int h = s_num(v + 11, 2), mi = s_num(v + 14, 2), sec = s_num(v + 17, 2);
        ok = h >= 0 && h <= 23 && mi >= 0 && mi <= 59 && sec >= 0 && sec <= 60;
    }
    size_t i = 19;
    if (ok && v[i] == '.') {
        size_t start = ++i;
        while (i < len && s_is_digit(v[i]))
            i++;
        ok = i > start && i - start <= 9;
    }
    if (ok) {
        if (v[i] == 'Z' || v[i] == 'z') {
            ok = i + 1 == len;
        } else if (v[i] == '+' || v[i] == '-') {
            int oh = i + 6 == len && v[i + 3] == ':' ? s_num(v + i + 1, 2) : -1;
            int om = oh >= 0 ? s_num(v + i + 4, 2) : -1;
            ok = oh >= 0 && oh <= 23 && om >= 0 && om <= 59;
        } else {
            ok = false;
        }
    }
    if (ok)
        return 0;
    char prefix[96];
    snprintf(prefix, sizeof prefix, "invalid %s", sp_valid_label(field));
    return s_fail(err, field, prefix, v,
                  ": expected an RFC 3339 timestamp such as \"2026-01-31T12:00:00Z\"");
}

/* --------------------------------------------------------- language, contact */

int sp_valid_language(const char *value, const char *field, sp_error_t *err)
{
    const char *v = value ? value : "";
    size_t len = strlen(v), i = 0;
    bool ok = len <= SP_VALID_LANGUAGE_MAX;
    while (ok && i < len && s_is_lower(v[i]))
        i++;
    ok = ok && i >= 2 && i <= 3;
    while (ok && i < len) {
        if (v[i] != '-') {
            ok = false;
            break;
        }
        size_t start = ++i;
        while (i < len && (s_is_lower(v[i]) || s_is_digit(v[i])))
            i++;
        ok = i - start >= 2 && i - start <= 8;
    }
    if (ok)
        return 0;
    return s_fail(err, field, "invalid language tag", v,
                  ": expected a lower-case tag such as \"da\", \"en\" or \"da-easy\"");
}

/* A domain: >= 2 labels of letters/digits/'-' (or UTF-8 bytes), 1..63 bytes
 * each, not starting or ending with '-'. */
static bool s_domain_ok(const char *d, size_t len)
{
    size_t labels = 0, i = 0;
    while (i <= len) {
        size_t start = i;
        while (i < len && d[i] != '.') {
            unsigned char c = (unsigned char)d[i];
            if (!(c >= 0x80 || s_is_lower((char)c) || (c >= 'A' && c <= 'Z') ||
                  s_is_digit((char)c) || c == '-'))
                return false;
            i++;
        }
        size_t n = i - start;
        if (n < 1 || n > 63 || d[start] == '-' || d[i - 1] == '-')
            return false;
        labels++;
        i++; /* skip '.', or step past the end */
    }
    return labels >= 2;
}

int sp_valid_email(const char *value, const char *field, sp_error_t *err)
{
    const char *v = value ? value : "";
    size_t len = strlen(v);
    const char *at = strrchr(v, '@');
    bool ok = at && len <= SP_VALID_EMAIL_MAX && sp_utf8_valid(v, len, NULL);
    size_t local = ok ? (size_t)(at - v) : 0;
    ok = ok && local >= 1 && local <= 64 && v[0] != '.' && v[local - 1] != '.';
    for (size_t i = 0; ok && i < local; i++) {
        unsigned char c = (unsigned char)v[i];
        ok =
            c > 0x20 && c != 0x7F && !strchr("()<>[]\\,;:@\"", c) && !(c == '.' && v[i + 1] == '.');
    }
    ok = ok && s_domain_ok(at + 1, len - local - 1);
    if (ok)
        return 0;
    return s_fail(err, field, "invalid e-mail address", v, ": expected local@domain");
}

int sp_valid_phone(const char *value, const char *field, sp_error_t *err)
{
    const char *v = value ? value : "";
    size_t len = strlen(v);
    bool ok;
    if (v[0] == '+') {
        ok = len >= 9 && len <= 16 && v[1] != '0';
        for (size_t i = 1; ok && i < len; i++)
            ok = s_is_digit(v[i]);
    } else {
        ok = len == 8;
        for (size_t i = 0; ok && i < len; i++)
            ok = s_is_digit(v[i]);
    }
    if (ok)
        return 0;
    return s_fail(err, field, "invalid phone number", v,
                  ": expected E.164 (\"+4512345678\") or 8 digits");
}

int sp_valid_idempotency_key(const char *value, const char *field, sp_error_t *err)
{
    const char *v = value ? value : "";
    size_t len = strlen(v);
    bool ok = len >= 1 && len <= SP_VALID_IDEMPOTENCY_MAX;
    for (size_t i = 0; ok && i < len; i++)
        ok = v[i] >= 0x20 && v[i] < 0x7F;
    if (ok)
        return 0;
    return s_fail(err, field, "invalid idempotency key", v,
                  ": expected 1..100 printable ASCII characters");
}
