/*
 * broker_keys.c - the key registry file: parsing, atomic rewrites, reload on
 * change, lookups by public key.
 */
#include "broker_keys.h"
#include "sp_log.h"
#include "sp_municipality.h"

#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <limits.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define BROKER_KEYS_MAX_FILE ((size_t)64 * 1024 * 1024)
#define BROKER_KEYS_MAX_LINE 2048

struct broker_keys_t {
    pthread_mutex_t lock;
    char *path;
    char *lock_path;
    broker_key_t *keys; /* in file (creation) order */
    size_t count;
    size_t cap;
    size_t *by_key; /* indexes into keys, sorted by public key */
    uint64_t revocations;
    /* identity of the file last read; exists false when it was missing */
    bool exists;
    dev_t dev;
    ino_t ino;
    off_t size;
    struct timespec mtim;
};

/* --- pure parts */

static const char *const s_roles[] = {
    [SAMSPIL__V1__ROLE__ROLE_OPERATOR] = "operator",
    [SAMSPIL__V1__ROLE__ROLE_INTEGRATOR] = "integrator",
    [SAMSPIL__V1__ROLE__ROLE_FACILITATOR] = "facilitator",
    [SAMSPIL__V1__ROLE__ROLE_READER] = "reader",
    [SAMSPIL__V1__ROLE__ROLE_SERVICE] = "service",
};

int broker_keys_role_parse(const char *word, Samspil__V1__Role *role)
{
    for (size_t i = 1; i < sizeof s_roles / sizeof s_roles[0]; i++) {
        if (s_roles[i] && word && strcmp(word, s_roles[i]) == 0) {
            *role = (Samspil__V1__Role)i;
            return 0;
        }
    }
    return -1;
}

const char *broker_keys_role_word(Samspil__V1__Role role)
{
    if ((size_t)role < sizeof s_roles / sizeof s_roles[0] && s_roles[role])
        return s_roles[role];
    return "unspecified";
}

/* Operators and services act for every tenant; every other role for a list. */
static bool s_role_all_tenants(Samspil__V1__Role role)
{
    return role == SAMSPIL__V1__ROLE__ROLE_OPERATOR || role == SAMSPIL__V1__ROLE__ROLE_SERVICE;
}

bool broker_keys_name_valid(const char *name)
{
    size_t n = name ? strlen(name) : 0;
    if (n == 0 || n >= BROKER_KEYS_NAME_MAX || name[0] == '.' || name[0] == '-')
        return false;
    for (size_t i = 0; i < n; i++) {
        char c = name[i];
        bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                  c == '.' || c == '_' || c == '-';
        if (!ok)
            return false;
    }
    return true;
}

static bool s_time_valid(const char *t)
{
    static const char pattern[] = "dddd-dd-ddTdd:dd:ddZ";
    if (strlen(t) != sizeof pattern - 1)
        return false;
    for (size_t i = 0; i < sizeof pattern - 1; i++) {
        if (pattern[i] == 'd' ? (t[i] < '0' || t[i] > '9') : t[i] != pattern[i])
            return false;
    }
    return true;
}

void broker_keys_now(char *out)
{
    time_t now = time(NULL);
    struct tm tm;
    gmtime_r(&now, &tm);
    strftime(out, BROKER_KEYS_TIME, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

int broker_keys_tenants_parse(const char *text, broker_key_t *out, char *err, size_t errlen)
{
    out->all_tenants = false;
    out->ntenants = 0;
    if (strcmp(text, "*") == 0) {
        out->all_tenants = true;
        return 0;
    }
    const char *p = text;
    for (;;) {
        const char *comma = strchr(p, ',');
        size_t n = comma ? (size_t)(comma - p) : strlen(p);
        char code[8];
        if (n == 0 || n >= sizeof code) {
            snprintf(err, errlen, "tenant %zu is not a municipality code", out->ntenants + 1);
            return -1;
        }
        memcpy(code, p, n);
        code[n] = '\0';
        if (!sp_municipality_find(code)) {
            snprintf(err, errlen, "tenant %zu is not a municipality code", out->ntenants + 1);
            return -1;
        }
        for (size_t i = 0; i < out->ntenants; i++) {
            if (strcmp(out->tenants[i], code) == 0) {
                snprintf(err, errlen, "tenant %s is listed twice", code);
                return -1;
            }
        }
        if (out->ntenants == BROKER_KEYS_MAX_TENANTS) {
            snprintf(err, errlen, "more than %d tenants", BROKER_KEYS_MAX_TENANTS);
            return -1;
        }
        memcpy(out->tenants[out->ntenants++], code, 4);
        if (!comma)
            break;
        p = comma + 1;
    }
    return 0;
}

/* The next blank-separated field of *p, NUL-terminated in place, or NULL. */
static char *s_field(char **p)
{
    char *s = *p;
    while (*s == ' ' || *s == '\t')
        s++;
    if (*s == '\0')
        return NULL;
    char *start = s;
    while (*s && *s != ' ' && *s != '\t')
        s++;
    if (*s)
        *s++ = '\0';
    *p = s;
    return start;
}

int broker_keys_parse_line(const char *line, broker_key_t *out, char *err, size_t errlen)
{
    memset(out, 0, sizeof *out);
    if (errlen)
        err[0] = '\0';
    size_t len = strlen(line);
    if (len > 0 && line[len - 1] == '\r')
        len--;
    if (len == 0 || (line[0] == '#' && (len == 1 || line[1] == ' ' || line[1] == '\t')))
        return 0;
    if (len >= BROKER_KEYS_MAX_LINE) {
        snprintf(err, errlen, "line is too long");
        return -1;
    }
    char copy[BROKER_KEYS_MAX_LINE];
    memcpy(copy, line, len);
    copy[len] = '\0';
    char *p = copy;
    char *fields[7];
    size_t n = 0;
    char *f;
    while (n < 7 && (f = s_field(&p)))
        fields[n++] = f;
    if (n != 6) {
        snprintf(err, errlen, "expected 6 fields, found %s", n > 6 ? "more" : "fewer");
        return -1;
    }
    if (!sp_curve_key_valid(fields[0])) {
        snprintf(err, errlen, "public key is not a 40-character Z85 key");
        return -1;
    }
    memcpy(out->public_key, fields[0], SP_CURVE_KEY_Z85);
    if (!broker_keys_name_valid(fields[1])) {
        snprintf(err, errlen, "name is not 1..63 of [A-Za-z0-9._-]");
        return -1;
    }
    snprintf(out->name, sizeof out->name, "%s", fields[1]);
    if (broker_keys_role_parse(fields[2], &out->role) != 0) {
        snprintf(err, errlen, "unknown role");
        return -1;
    }
    if (broker_keys_tenants_parse(fields[3], out, err, errlen) != 0)
        return -1;
    if (out->all_tenants != s_role_all_tenants(out->role)) {
        snprintf(err, errlen, "%s",
                 out->all_tenants ? "only operators and services act for \"*\""
                                  : "operators and services need \"*\"");
        return -1;
    }
    if (!s_time_valid(fields[4])) {
        snprintf(err, errlen, "created is not a UTC time like 2026-11-27T07:00:00Z");
        return -1;
    }
    memcpy(out->created, fields[4], BROKER_KEYS_TIME);
    if (strcmp(fields[5], "-") != 0) {
        if (!s_time_valid(fields[5])) {
            snprintf(err, errlen, "revoked is neither \"-\" nor a UTC time");
            return -1;
        }
        memcpy(out->revoked, fields[5], BROKER_KEYS_TIME);
    }
    return 1;
}

void broker_keys_format_line(const broker_key_t *key, sp_buf_t *out)
{
    sp_buf_printf(out, "%s %s %s ", key->public_key, key->name, broker_keys_role_word(key->role));
    if (key->all_tenants) {
        sp_buf_puts(out, "*");
    } else {
        for (size_t i = 0; i < key->ntenants; i++)
            sp_buf_printf(out, "%s%s", i ? "," : "", key->tenants[i]);
    }
    sp_buf_printf(out, " %s %s\n", key->created, key->revoked[0] ? key->revoked : "-");
}

int broker_keys_check_new(broker_key_t *key, sp_error_t *err)
{
    if (!broker_keys_name_valid(key->name))
        return sp_error_set(err, SP_INVALID_ARGUMENT, "name",
                            "name must be 1 to 63 of A-Z a-z 0-9 . _ - and not start with . or -");
    if (broker_keys_role_parse(broker_keys_role_word(key->role), &key->role) != 0)
        return sp_error_set(err, SP_INVALID_ARGUMENT, "role", "role is missing or unknown");
    if (s_role_all_tenants(key->role)) {
        if (key->ntenants > 0)
            return sp_error_set(err, SP_INVALID_ARGUMENT, "tenants",
                                "%ss act for every tenant: give no tenants",
                                broker_keys_role_word(key->role));
        key->all_tenants = true;
    } else {
        if (key->all_tenants)
            return sp_error_set(err, SP_INVALID_ARGUMENT, "all_tenants",
                                "only operators and services act for every tenant");
        if (key->ntenants == 0)
            return sp_error_set(err, SP_INVALID_ARGUMENT, "tenants",
                                "a %s key needs at least one tenant",
                                broker_keys_role_word(key->role));
        for (size_t i = 0; i < key->ntenants; i++) {
            if (!sp_municipality_find(key->tenants[i]))
                return sp_error_set(err, SP_INVALID_ARGUMENT, "tenants",
                                    "tenant %zu is not a municipality code", i + 1);
            for (size_t j = 0; j < i; j++)
                if (strcmp(key->tenants[i], key->tenants[j]) == 0)
                    return sp_error_set(err, SP_INVALID_ARGUMENT, "tenants",
                                        "tenant %s is listed twice", key->tenants[i]);
        }
    }
    if (!sp_curve_key_valid(key->public_key))
        return sp_error_set(err, SP_INVALID_ARGUMENT, "public_key",
                            "public key must be 40 characters of Z85");
    return 0;
}

/* --- the registry */

static int s_cmp_index(const void *a, const void *b, void *arg)
{
    const broker_key_t *keys = arg;
    return strcmp(keys[*(const size_t *)a].public_key, keys[*(const size_t *)b].public_key);
}

/* Find `public_key` in keys[0..count-1] through the sorted index, or -1. */
static long s_find(const broker_key_t *keys, const size_t *by_key, size_t count,
                   const char *public_key)
{
    size_t lo = 0, hi = count;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        int c = strcmp(keys[by_key[mid]].public_key, public_key);
        if (c == 0)
            return (long)by_key[mid];
        if (c < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    return -1;
}

static int s_reindex(broker_keys_t *self)
{
    size_t *index = malloc((self->count ? self->count : 1) * sizeof *index);
    if (!index)
        return -1;
    for (size_t i = 0; i < self->count; i++)
        index[i] = i;
    qsort_r(index, self->count, sizeof *index, s_cmp_index, self->keys);
    free(self->by_key);
    self->by_key = index;
    return 0;
}

static int s_append(broker_key_t **keys, size_t *count, size_t *cap, const broker_key_t *key)
{
    if (*count == *cap) {
        size_t ncap = *cap ? *cap * 2 : 16;
        broker_key_t *grown = realloc(*keys, ncap * sizeof *grown);
        if (!grown)
            return -1;
        *keys = grown;
        *cap = ncap;
    }
    (*keys)[(*count)++] = *key;
    return 0;
}

/* Read the whole file into a malloc'd NUL-terminated buffer.  Returns 0, 1
 * when the file does not exist, -1 on failure (logged). */
static int s_read_file(const char *path, char **text, size_t *len, struct stat *st)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0 && errno == ENOENT)
        return 1;
    if (fd < 0 || fstat(fd, st) != 0) {
        sp_log_error("could not open key registry", SP_LOG_STR("path", path),
                     SP_LOG_STR("error", strerror(errno)), SP_LOG_END);
        if (fd >= 0)
            close(fd);
        return -1;
    }
    if ((size_t)st->st_size > BROKER_KEYS_MAX_FILE) {
        sp_log_error("key registry is too large", SP_LOG_STR("path", path),
                     SP_LOG_INT("bytes", st->st_size), SP_LOG_END);
        close(fd);
        return -1;
    }
    size_t cap = (size_t)st->st_size + 1;
    char *buf = malloc(cap + 1);
    if (!buf) {
        close(fd);
        return -1;
    }
    size_t n = 0;
    for (;;) {
        ssize_t r = read(fd, buf + n, cap - n);
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0) {
            sp_log_error("could not read key registry", SP_LOG_STR("path", path),
                         SP_LOG_STR("error", strerror(errno)), SP_LOG_END);
            close(fd);
            free(buf);
            return -1;
        }
        if (r == 0)
            break;
        n += (size_t)r;
        if (n == cap) { /* grew while we read: a rewrite replaces, never appends */
            break;
        }
    }
    close(fd);
    buf[n] = '\0';
    *text = buf;
    *len = n;
    return 0;
}

/* Parse registry text into a new key array; bad lines are skipped (logged). */
static int s_parse_all(const char *path, char *text, size_t len, broker_key_t **keys_out,
                       size_t *count_out, size_t *cap_out)
{
    broker_key_t *keys = NULL;
    size_t count = 0, cap = 0;
    size_t pos = 0;
    int lineno = 0;
    broker_key_t *key = malloc(sizeof *key);
    if (!key)
        return -1;
    while (pos < len) {
        char *line = text + pos;
        char *nl = memchr(line, '\n', len - pos);
        size_t n = nl ? (size_t)(nl - line) : len - pos;
        line[n] = '\0';
        pos += n + 1;
        lineno++;
        char err[160];
        if (strlen(line) != n) {
            sp_log_error("skipped a key registry line", SP_LOG_STR("path", path),
                         SP_LOG_INT("line", lineno), SP_LOG_STR("reason", "contains a NUL byte"),
                         SP_LOG_END);
            continue;
        }
        int rc = broker_keys_parse_line(line, key, err, sizeof err);
        if (rc == 0)
            continue;
        if (rc < 0) {
            sp_log_error("skipped a key registry line", SP_LOG_STR("path", path),
                         SP_LOG_INT("line", lineno), SP_LOG_STR("reason", err), SP_LOG_END);
            continue;
        }
        /* a public key listed twice: keep the first, revoked if either is */
        bool dup = false;
        for (size_t i = 0; i < count && !dup; i++) {
            if (strcmp(keys[i].public_key, key->public_key) == 0) {
                dup = true;
                if (!keys[i].revoked[0] && key->revoked[0])
                    memcpy(keys[i].revoked, key->revoked, BROKER_KEYS_TIME);
            }
        }
        if (dup) {
            sp_log_error("skipped a key registry line", SP_LOG_STR("path", path),
                         SP_LOG_INT("line", lineno),
                         SP_LOG_STR("reason", "public key is listed before"), SP_LOG_END);
            continue;
        }
        if (s_append(&keys, &count, &cap, key) != 0) {
            free(key);
            free(keys);
            return -1;
        }
    }
    free(key);
    *keys_out = keys;
    *count_out = count;
    *cap_out = cap;
    return 0;
}

static bool s_same_file(const broker_keys_t *self, const struct stat *st)
{
    return self->exists && self->dev == st->st_dev && self->ino == st->st_ino &&
           self->size == st->st_size && self->mtim.tv_sec == st->st_mtim.tv_sec &&
           self->mtim.tv_nsec == st->st_mtim.tv_nsec;
}

static void s_remember(broker_keys_t *self, const struct stat *st)
{
    self->exists = st != NULL;
    if (st) {
        self->dev = st->st_dev;
        self->ino = st->st_ino;
        self->size = st->st_size;
        self->mtim = st->st_mtim;
    }
}

/* Count the keys valid now that are not valid in keys[0..count-1]. */
static void s_count_lost(broker_keys_t *self, const broker_key_t *keys, size_t count)
{
    size_t *index = NULL;
    if (count) {
        index = malloc(count * sizeof *index);
        if (!index) { /* cannot tell: assume something was lost */
            self->revocations++;
            return;
        }
        for (size_t i = 0; i < count; i++)
            index[i] = i;
        qsort_r(index, count, sizeof *index, s_cmp_index, (void *)keys);
    }
    for (size_t i = 0; i < self->count; i++) {
        if (self->keys[i].revoked[0])
            continue;
        long j = s_find(keys, index, count, self->keys[i].public_key);
        if (j < 0 || keys[j].revoked[0])
            self->revocations++;
    }
    free(index);
}

/* Reread the file (caller holds the mutex).  `force`: even when unchanged.
 * Returns 1 reloaded, 0 unchanged, -1 failed. */
static int s_load(broker_keys_t *self, bool force)
{
    struct stat st;
    if (stat(self->path, &st) != 0) {
        if (errno != ENOENT) {
            sp_log_error("could not stat key registry", SP_LOG_STR("path", self->path),
                         SP_LOG_STR("error", strerror(errno)), SP_LOG_END);
            return -1;
        }
        if (!self->exists && !force)
            return 0;
        /* removed: no key is valid any more */
        s_count_lost(self, NULL, 0);
        self->count = 0;
        s_remember(self, NULL);
        s_reindex(self);
        return 1;
    }
    if (!force && s_same_file(self, &st))
        return 0;
    char *text = NULL;
    size_t len = 0;
    int rc = s_read_file(self->path, &text, &len, &st);
    if (rc < 0)
        return -1;
    broker_key_t *keys = NULL;
    size_t count = 0, cap = 0;
    if (rc == 0 && s_parse_all(self->path, text, len, &keys, &count, &cap) != 0) {
        free(text);
        return -1;
    }
    free(text);
    s_count_lost(self, keys, count);
    free(self->keys);
    self->keys = keys;
    self->count = count;
    self->cap = cap;
    s_remember(self, rc == 0 ? &st : NULL);
    if (s_reindex(self) != 0)
        return -1;
    return 1;
}

broker_keys_t *broker_keys_new(const char *path)
{
    broker_keys_t *self = calloc(1, sizeof *self);
    if (!self)
        return NULL;
    pthread_mutex_init(&self->lock, NULL);
    self->path = strdup(path);
    size_t n = strlen(path) + sizeof ".lock";
    self->lock_path = malloc(n);
    if (!self->path || !self->lock_path) {
        broker_keys_destroy(&self);
        return NULL;
    }
    snprintf(self->lock_path, n, "%s.lock", path);
    if (s_load(self, true) < 0) {
        broker_keys_destroy(&self);
        return NULL;
    }
    return self;
}

void broker_keys_destroy(broker_keys_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    broker_keys_t *self = *self_p;
    pthread_mutex_destroy(&self->lock);
    free(self->keys);
    free(self->by_key);
    free(self->path);
    free(self->lock_path);
    free(self);
    *self_p = NULL;
}

int broker_keys_refresh(broker_keys_t *self)
{
    pthread_mutex_lock(&self->lock);
    int rc = s_load(self, false);
    if (rc == 1)
        sp_log_info("key registry reloaded", SP_LOG_STR("path", self->path),
                    SP_LOG_INT("keys", self->count), SP_LOG_END);
    pthread_mutex_unlock(&self->lock);
    return rc;
}

broker_keys_status_t broker_keys_lookup(broker_keys_t *self, const char *public_key,
                                        broker_key_t *out)
{
    broker_keys_status_t status = BROKER_KEYS_UNKNOWN;
    if (!public_key)
        return status;
    pthread_mutex_lock(&self->lock);
    long i = s_find(self->keys, self->by_key, self->count, public_key);
    if (i >= 0) {
        status = self->keys[i].revoked[0] ? BROKER_KEYS_REVOKED : BROKER_KEYS_VALID;
        if (out)
            *out = self->keys[i];
    }
    pthread_mutex_unlock(&self->lock);
    return status;
}

/* Take the cross-process write lock.  Returns the lock fd, or -1. */
static int s_lock_file(broker_keys_t *self)
{
    int fd = open(self->lock_path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
    if (fd < 0) {
        sp_log_error("could not open key registry lock", SP_LOG_STR("path", self->lock_path),
                     SP_LOG_STR("error", strerror(errno)), SP_LOG_END);
        return -1;
    }
    while (flock(fd, LOCK_EX) != 0) {
        if (errno != EINTR) {
            sp_log_error("could not lock key registry", SP_LOG_STR("path", self->lock_path),
                         SP_LOG_STR("error", strerror(errno)), SP_LOG_END);
            close(fd);
            return -1;
        }
    }
    return fd;
}

/* Write keys[0..count-1] to the registry atomically (caller holds both
 * locks) and remember the new file.  Returns 0 or -1 (logged). */
static int s_save(broker_keys_t *self, const broker_key_t *keys, size_t count)
{
    sp_buf_t text;
    sp_buf_init(&text);
    sp_buf_puts(&text, "# samspil key registry: public-key name role tenants created revoked\n"
                       "# written by samspil-broker; revoke keys with samspilctl key revoke\n");
    for (size_t i = 0; i < count; i++)
        broker_keys_format_line(&keys[i], &text);
    size_t n = strlen(self->path) + sizeof ".XXXXXX";
    char *tmp = malloc(n);
    int rc = -1;
    int fd = -1;
    if (!tmp)
        goto done;
    snprintf(tmp, n, "%s.XXXXXX", self->path);
    fd = mkstemp(tmp);
    if (fd < 0) {
        sp_log_error("could not create key registry", SP_LOG_STR("path", tmp),
                     SP_LOG_STR("error", strerror(errno)), SP_LOG_END);
        goto done;
    }
    size_t off = 0;
    while (off < text.len) {
        ssize_t w = write(fd, text.data + off, text.len - off);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            break;
        off += (size_t)w;
    }
    if (off != text.len || fchmod(fd, 0600) != 0 || fsync(fd) != 0) {
        sp_log_error("could not write key registry", SP_LOG_STR("path", tmp),
                     SP_LOG_STR("error", strerror(errno)), SP_LOG_END);
        goto done;
    }
    if (close(fd) != 0) {
        fd = -1;
        goto done;
    }
    fd = -1;
    if (rename(tmp, self->path) != 0) {
        sp_log_error("could not replace key registry", SP_LOG_STR("path", self->path),
                     SP_LOG_STR("error", strerror(errno)), SP_LOG_END);
        goto done;
    }
    /* make the rename durable */
    char *dircopy = strdup(self->path);
    if (dircopy) {
        int dfd = open(dirname(dircopy), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (dfd >= 0) {
            fsync(dfd);
            close(dfd);
        }
        free(dircopy);
    }
    rc = 0;
done:
    if (fd >= 0) {
        close(fd);
        unlink(tmp);
    } else if (rc != 0 && tmp) {
        unlink(tmp);
    }
    free(tmp);
    sp_buf_free(&text);
    return rc;
}

/* Reread, apply `change` to a copy, write, adopt.  Caller holds the mutex. */
typedef int(s_change_fn)(broker_keys_t *self, broker_key_t **keys, size_t *count, size_t *cap,
                         void *arg, sp_error_t *err);

static int s_update(broker_keys_t *self, s_change_fn *change, void *arg, sp_error_t *err)
{
    int lock = s_lock_file(self);
    if (lock < 0)
        return sp_error_set(err, SP_INTERNAL, NULL, "could not lock the key registry");
    int rc = -1;
    if (s_load(self, false) < 0) {
        sp_error_set(err, SP_INTERNAL, NULL, "could not read the key registry");
        goto done;
    }
    size_t count = self->count, cap = self->count + 1;
    broker_key_t *keys = malloc(cap * sizeof *keys);
    if (!keys) {
        sp_error_set(err, SP_INTERNAL, NULL, "out of memory");
        goto done;
    }
    if (count)
        memcpy(keys, self->keys, count * sizeof *keys);
    if (change(self, &keys, &count, &cap, arg, err) != 0 || s_save(self, keys, count) != 0) {
        if (!sp_error_is_set(err))
            sp_error_set(err, SP_INTERNAL, NULL, "could not write the key registry");
        free(keys);
        goto done;
    }
    free(self->keys);
    self->keys = keys;
    self->count = count;
    self->cap = cap;
    s_reindex(self);
    struct stat st;
    if (stat(self->path, &st) == 0)
        s_remember(self, &st);
    rc = 0;
done:
    close(lock);
    return rc;
}

static int s_change_create(broker_keys_t *self, broker_key_t **keys, size_t *count, size_t *cap,
                           void *arg, sp_error_t *err)
{
    broker_key_t *key = arg;
    for (size_t i = 0; i < *count; i++) {
        const broker_key_t *k = &(*keys)[i];
        if (strcmp(k->public_key, key->public_key) == 0)
            return sp_error_set(err, SP_ALREADY_EXISTS, "public_key",
                                k->revoked[0] ? "public key was registered before and revoked"
                                              : "public key is registered already");
        if (!k->revoked[0] && strcmp(k->name, key->name) == 0)
            return sp_error_set(err, SP_ALREADY_EXISTS, "name",
                                "a valid key named \"%s\" exists already", key->name);
    }
    return s_append(keys, count, cap, key) == 0
               ? 0
               : sp_error_set(err, SP_INTERNAL, NULL, "out of memory");
}

int broker_keys_create(broker_keys_t *self, const broker_key_t *key, broker_key_t *out,
                       sp_error_t *err)
{
    sp_error_clear(err);
    broker_key_t *copy = malloc(sizeof *copy);
    if (!copy)
        return sp_error_set(err, SP_INTERNAL, NULL, "out of memory");
    *copy = *key;
    if (broker_keys_check_new(copy, err) != 0) {
        free(copy);
        return -1;
    }
    broker_keys_now(copy->created);
    copy->revoked[0] = '\0';
    pthread_mutex_lock(&self->lock);
    int rc = s_update(self, s_change_create, copy, err);
    pthread_mutex_unlock(&self->lock);
    if (rc == 0 && out)
        *out = *copy;
    free(copy);
    return rc;
}

typedef struct {
    const char *name;
    const char *public_key;
    broker_key_t *out;
} s_revoke_t;

static int s_change_revoke(broker_keys_t *self, broker_key_t **keys, size_t *count, size_t *cap,
                           void *arg, sp_error_t *err)
{
    s_revoke_t *r = arg;
    broker_key_t *found = NULL;
    for (size_t i = 0; i < *count && !found; i++) {
        broker_key_t *k = &(*keys)[i];
        if (r->public_key ? strcmp(k->public_key, r->public_key) == 0
                          : !k->revoked[0] && strcmp(k->name, r->name) == 0)
            found = k;
    }
    if (!found)
        return sp_error_set(err, SP_NOT_FOUND, r->public_key ? "public_key" : "name",
                            r->public_key ? "no key has this public key"
                                          : "no valid key has this name");
    if (found->revoked[0])
        return sp_error_set(err, SP_FAILED_PRECONDITION, "public_key", "key is revoked already");
    broker_keys_now(found->revoked);
    self->revocations++;
    if (r->out)
        *r->out = *found;
    return 0;
}

int broker_keys_revoke(broker_keys_t *self, const char *name, const char *public_key,
                       broker_key_t *out, sp_error_t *err)
{
    sp_error_clear(err);
    bool by_name = name && *name;
    bool by_key = public_key && *public_key;
    if (by_name == by_key)
        return sp_error_set(err, SP_INVALID_ARGUMENT, "key", "give either a name or a public key");
    if (by_key && !sp_curve_key_valid(public_key))
        return sp_error_set(err, SP_INVALID_ARGUMENT, "public_key",
                            "public key must be 40 characters of Z85");
    if (by_name && !broker_keys_name_valid(name))
        return sp_error_set(err, SP_INVALID_ARGUMENT, "name", "name is not a valid key name");
    s_revoke_t r = {by_name ? name : NULL, by_key ? public_key : NULL, out};
    pthread_mutex_lock(&self->lock);
    int rc = s_update(self, s_change_revoke, &r, err);
    pthread_mutex_unlock(&self->lock);
    return rc;
}

size_t broker_keys_foreach(broker_keys_t *self, bool include_revoked,
                           void (*fn)(const broker_key_t *key, void *arg), void *arg)
{
    size_t calls = 0;
    pthread_mutex_lock(&self->lock);
    for (size_t i = 0; i < self->count; i++) {
        if (!include_revoked && self->keys[i].revoked[0])
            continue;
        fn(&self->keys[i], arg);
        calls++;
    }
    pthread_mutex_unlock(&self->lock);
    return calls;
}

uint64_t broker_keys_revocations(broker_keys_t *self)
{
    pthread_mutex_lock(&self->lock);
    uint64_t n = self->revocations;
    pthread_mutex_unlock(&self->lock);
    return n;
}

size_t broker_keys_count(broker_keys_t *self)
{
    pthread_mutex_lock(&self->lock);
    size_t n = self->count;
    pthread_mutex_unlock(&self->lock);
    return n;
}

const char *broker_keys_path(const broker_keys_t *self)
{
    return self->path;
}
