/*
 * sp_crypto.c - CPR numbers and pseudonyms, the data key ring and sealed
 * values (see sp_crypto.h).  libsodium does the cryptography.
 */
#include "sp_crypto.h"

#include "sp_log.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* ---------------------------------------------------------------- CPR numbers */

static bool s_digit(char c)
{
    return c >= '0' && c <= '9';
}

int sp_cpr_year(int yy, int d7)
{
    if (d7 <= 3)
        return 1900 + yy;
    if (d7 == 4 || d7 == 9)
        return yy <= 36 ? 2000 + yy : 1900 + yy;
    return yy <= 57 ? 2000 + yy : 1800 + yy; /* 5..8 */
}

static int s_days_in_month(int year, int month)
{
    static const int days[12] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    if (month == 2 && ((year % 4 == 0 && year % 100 != 0) || year % 400 == 0))
        return 29;
    return days[month - 1];
}

sp_cpr_status_t sp_cpr_parse(const char *text, char out[SP_CPR_SIZE])
{
    out[0] = '\0';
    if (!text)
        return SP_CPR_BAD_SHAPE;
    size_t len = strlen(text);
    char d[SP_CPR_SIZE];
    size_t n = 0;
    if (len == 11 && text[6] != '-')
        return SP_CPR_BAD_SHAPE;
    if (len != 10 && len != 11)
        return SP_CPR_BAD_SHAPE;
    for (size_t i = 0; i < len; i++) {
        if (len == 11 && i == 6)
            continue;
        if (!s_digit(text[i]))
            return SP_CPR_BAD_SHAPE;
        d[n++] = text[i];
    }
    d[n] = '\0';
    int day = (d[0] - '0') * 10 + (d[1] - '0');
    int month = (d[2] - '0') * 10 + (d[3] - '0');
    int yy = (d[4] - '0') * 10 + (d[5] - '0');
    int year = sp_cpr_year(yy, d[6] - '0');
    if (month < 1 || month > 12 || day < 1 || day > s_days_in_month(year, month)) {
        sodium_memzero(d, sizeof d);
        return SP_CPR_BAD_DATE;
    }
    memcpy(out, d, SP_CPR_SIZE);
    sodium_memzero(d, sizeof d);
    return SP_CPR_OK;
}

const char *sp_cpr_mask(const char *text, char *out, size_t outlen)
{
    if (!outlen)
        return out;
    const char *t = text ? text : "";
    size_t len = strlen(t), o = 0;
    for (size_t i = 0; i < len && i < 16 && o + 1 < outlen; i++)
        out[o++] = t[i] == '-' ? '-' : '*';
    if (len > 16)
        for (int k = 0; k < 3 && o + 1 < outlen; k++)
            out[o++] = '.';
    out[o] = '\0';
    return out;
}

/* ---------------------------------------------------------------- HMAC */

void sp_hmac_sha256(const uint8_t *key, size_t keylen, const void *msg, size_t len,
                    uint8_t out[SP_HMAC_SIZE])
{
    crypto_auth_hmacsha256_state st;
    crypto_auth_hmacsha256_init(&st, key, keylen);
    crypto_auth_hmacsha256_update(&st, msg, len);
    crypto_auth_hmacsha256_final(&st, out);
    sodium_memzero(&st, sizeof st);
}

void sp_cpr_pseudonym(const uint8_t key[SP_DATA_KEY_SIZE], const char *tenant,
                      const char cpr[SP_CPR_SIZE], char out[SP_PSEUDONYM_HEX])
{
    static const char prefix[] = "samspil-cpr-v1:";
    crypto_auth_hmacsha256_state st;
    uint8_t mac[SP_HMAC_SIZE];
    const char *t = tenant ? tenant : "";
    crypto_auth_hmacsha256_init(&st, key, SP_DATA_KEY_SIZE);
    crypto_auth_hmacsha256_update(&st, (const unsigned char *)prefix, sizeof prefix - 1);
    crypto_auth_hmacsha256_update(&st, (const unsigned char *)t, strlen(t));
    crypto_auth_hmacsha256_update(&st, (const unsigned char *)":", 1);
    crypto_auth_hmacsha256_update(&st, (const unsigned char *)cpr, strnlen(cpr, SP_CPR_DIGITS));
    crypto_auth_hmacsha256_final(&st, mac);
    sodium_bin2hex(out, SP_PSEUDONYM_HEX, mac, sizeof mac);
    sodium_memzero(&st, sizeof st);
    sodium_memzero(mac, sizeof mac);
}

/* ---------------------------------------------------------------- sealed values */

#define S_NONCE crypto_aead_xchacha20poly1305_ietf_NPUBBYTES
#define S_TAG crypto_aead_xchacha20poly1305_ietf_ABYTES
#define S_B64 sodium_base64_VARIANT_ORIGINAL
#define S_VERSION "v1."

size_t sp_seal_ad(uint8_t out[SP_SEAL_AD_MAX], const char *purpose, const char *tenant,
                  const char *row_id)
{
    static const char domain[] = "samspil-seal-v1";
    const char *parts[4] = {domain, purpose ? purpose : "", tenant ? tenant : "",
                            row_id ? row_id : ""};
    size_t o = 0;
    for (int i = 0; i < 4; i++) {
        size_t len = strlen(parts[i]);
        if (o + len + 1 > SP_SEAL_AD_MAX)
            return 0;
        for (size_t k = 0; k < len; k++) {
            char c = parts[i][k];
            out[o++] = (uint8_t)(i == 3 && c >= 'A' && c <= 'Z' ? c - 'A' + 'a' : c);
        }
        if (i < 3)
            out[o++] = 0;
    }
    return o;
}

/* Parse "v1.<id>." at the start of `sealed`: the key id and where the
 * base64 starts.  Returns 0 or -1. */
static int s_header(const char *sealed, uint32_t *key_id, const char **b64)
{
    if (!sealed || strncmp(sealed, S_VERSION, sizeof S_VERSION - 1) != 0)
        return -1;
    const char *p = sealed + sizeof S_VERSION - 1;
    if (*p < '1' || *p > '9')
        return -1; /* no leading zeros, no 0 */
    uint64_t id = 0;
    int digits = 0;
    while (s_digit(*p) && digits < 11) {
        id = id * 10 + (uint64_t)(*p - '0');
        p++, digits++;
    }
    if (*p != '.' || id > UINT32_MAX)
        return -1;
    *key_id = (uint32_t)id;
    *b64 = p + 1;
    return 0;
}

int sp_seal_key_id(const char *sealed, uint32_t *key_id)
{
    const char *b64;
    return s_header(sealed, key_id, &b64);
}

char *sp_seal(const uint8_t key[SP_DATA_KEY_SIZE], uint32_t key_id, const void *plain, size_t len,
              const void *ad, size_t adlen)
{
    if (key_id == 0 || len > SP_SEAL_PLAIN_MAX || (!plain && len))
        return NULL;
    size_t binlen = S_NONCE + len + S_TAG;
    uint8_t *bin = malloc(binlen);
    if (!bin)
        return NULL;
    randombytes_buf(bin, S_NONCE);
    unsigned long long clen = 0;
    crypto_aead_xchacha20poly1305_ietf_encrypt(bin + S_NONCE, &clen, plain, len, ad, adlen, NULL,
                                               bin, key);
    char head[32];
    int hlen = snprintf(head, sizeof head, S_VERSION "%u.", key_id);
    size_t b64len = sodium_base64_encoded_len(binlen, S_B64); /* with the NUL */
    char *out = malloc((size_t)hlen + b64len);
    if (out) {
        memcpy(out, head, (size_t)hlen);
        sodium_bin2base64(out + hlen, b64len, bin, binlen, S_B64);
    }
    free(bin);
    return out;
}

int sp_open(const uint8_t key[SP_DATA_KEY_SIZE], const char *sealed, const void *ad, size_t adlen,
            uint8_t **plain, size_t *len)
{
    *plain = NULL;
    *len = 0;
    uint32_t key_id;
    const char *b64;
    if (s_header(sealed, &key_id, &b64) != 0) {
        errno = EINVAL;
        return -1;
    }
    size_t b64len = strlen(b64);
    size_t cap = b64len / 4 * 3 + 3;
    if (cap < S_NONCE + S_TAG || cap > SP_SEAL_PLAIN_MAX + S_NONCE + S_TAG + 3) {
        errno = EINVAL;
        return -1;
    }
    uint8_t *bin = malloc(cap);
    if (!bin) {
        errno = ENOMEM;
        return -1;
    }
    size_t binlen = 0;
    const char *end = NULL;
    if (sodium_base642bin(bin, cap, b64, b64len, NULL, &binlen, &end, S_B64) != 0 ||
        end != b64 + b64len || binlen < S_NONCE + S_TAG) {
        free(bin);
        errno = EINVAL;
        return -1;
    }
    size_t plen = binlen - S_NONCE - S_TAG;
    uint8_t *out = malloc(plen + 1);
    if (!out) {
        free(bin);
        errno = ENOMEM;
        return -1;
    }
    unsigned long long got = 0;
    int rc = crypto_aead_xchacha20poly1305_ietf_decrypt(out, &got, NULL, bin + S_NONCE,
                                                        binlen - S_NONCE, ad, adlen, bin, key);
    free(bin);
    if (rc != 0) {
        sp_crypto_free(out, plen + 1);
        errno = EBADMSG;
        return -1;
    }
    out[got] = '\0';
    *plain = out;
    *len = (size_t)got;
    return 0;
}

void sp_crypto_free(void *plain, size_t len)
{
    if (!plain)
        return;
    sodium_memzero(plain, len);
    free(plain);
}

/* ---------------------------------------------------------------- the key ring */

struct sp_keyring_t {
    char *dir;
    uint32_t *ids; /* ascending */
    uint8_t *keys; /* n * SP_DATA_KEY_SIZE, sodium_malloc'd */
    size_t n;
    uint8_t *cpr;          /* SP_DATA_KEY_SIZE, sodium_malloc'd, or NULL */
    struct timespec mtime; /* of the directory when last loaded */
    bool loaded;
};

const char *sp_keyring_default_dir(const char *home, char *out, size_t outlen)
{
    const char *env = getenv("SAMSPIL_DATA_KEYS");
    int n;
    if (env && *env) {
        n = snprintf(out, outlen, "%s", env);
        return n >= 0 && (size_t)n < outlen ? out : NULL;
    }
    const char *h = home && *home ? home : getenv("SAMSPIL_HOME");
    if (!h || !*h)
        h = "./var";
    char dir[PATH_MAX];
    if (snprintf(dir, sizeof dir, "%s/keys/data", h) >= (int)sizeof dir)
        return NULL;
    n = snprintf(out, outlen, "%s", dir);
    return n >= 0 && (size_t)n < outlen ? out : NULL;
}

sp_keyring_t *sp_keyring_new(const char *dir)
{
    if (!dir || !*dir || sodium_init() < 0)
        return NULL;
    sp_keyring_t *self = calloc(1, sizeof *self);
    if (!self)
        return NULL;
    self->dir = strdup(dir);
    if (!self->dir) {
        free(self);
        return NULL;
    }
    return self;
}

static void s_free_keys(uint32_t *ids, uint8_t *keys, uint8_t *cpr)
{
    free(ids);
    if (keys)
        sodium_free(keys); /* wipes */
    if (cpr)
        sodium_free(cpr);
}

void sp_keyring_destroy(sp_keyring_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    sp_keyring_t *self = *self_p;
    s_free_keys(self->ids, self->keys, self->cpr);
    free(self->dir);
    free(self);
    *self_p = NULL;
}

/* "contact-<N>.key" with N in canonical decimal 1..UINT32_MAX: sets *id. */
static bool s_contact_name(const char *name, uint32_t *id)
{
    static const char pre[] = "contact-", suf[] = ".key";
    size_t len = strlen(name);
    if (len <= sizeof pre - 1 + sizeof suf - 1 || strncmp(name, pre, sizeof pre - 1) != 0 ||
        strcmp(name + len - (sizeof suf - 1), suf) != 0)
        return false;
    const char *p = name + sizeof pre - 1, *end = name + len - (sizeof suf - 1);
    if (*p < '1' || *p > '9' || end - p > 10)
        return false;
    uint64_t v = 0;
    for (; p < end; p++) {
        if (!s_digit(*p))
            return false;
        v = v * 10 + (uint64_t)(*p - '0');
    }
    if (v > UINT32_MAX)
        return false;
    *id = (uint32_t)v;
    return true;
}

/* Read key file `name` into key[32].  Returns 0 or -1 (logged). */
static int s_read_key(const sp_keyring_t *self, const char *name, uint8_t key[SP_DATA_KEY_SIZE])
{
    char path[PATH_MAX];
    if (snprintf(path, sizeof path, "%s/%s", self->dir, name) >= (int)sizeof path) {
        sp_log_error("data key path is too long", SP_LOG_STR("file", name), SP_LOG_END);
        return -1;
    }
    int fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
    if (fd < 0) {
        sp_log_error("could not open data key file", SP_LOG_STR("file", path),
                     SP_LOG_STR("error", strerror(errno)), SP_LOG_END);
        return -1;
    }
    struct stat st;
    if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
        sp_log_error("data key file is not a regular file", SP_LOG_STR("file", path), SP_LOG_END);
        close(fd);
        return -1;
    }
    if (st.st_mode & 077) {
        char mode[8];
        snprintf(mode, sizeof mode, "%04o", (unsigned)(st.st_mode & 07777));
        sp_log_error("data key file is accessible by group or others; chmod 600 it",
                     SP_LOG_STR("file", path), SP_LOG_STR("mode", mode), SP_LOG_END);
        close(fd);
        return -1;
    }
    char text[2 * SP_DATA_KEY_SIZE + 4];
    ssize_t got = read(fd, text, sizeof text);
    close(fd);
    size_t len = got > 0 ? (size_t)got : 0;
    if (len == 2 * SP_DATA_KEY_SIZE + 1 && text[len - 1] == '\n')
        len--;
    size_t binlen = 0;
    const char *end = NULL;
    int rc = -1;
    if (len == 2 * SP_DATA_KEY_SIZE &&
        sodium_hex2bin(key, SP_DATA_KEY_SIZE, text, len, NULL, &binlen, &end) == 0 &&
        binlen == SP_DATA_KEY_SIZE && end == text + len)
        rc = 0;
    sodium_memzero(text, sizeof text);
    if (rc != 0)
        sp_log_error("data key file must hold 64 hex digits and a newline",
                     SP_LOG_STR("file", path), SP_LOG_END);
    return rc;
}

static int s_cmp_id(const void *a, const void *b)
{
    uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
    return x < y ? -1 : x > y;
}

int sp_keyring_load(sp_keyring_t *self)
{
    struct stat dst;
    int st_rc = stat(self->dir, &dst);
    if (st_rc != 0 || !S_ISDIR(dst.st_mode)) {
        sp_log_error("could not read data key directory", SP_LOG_STR("dir", self->dir),
                     SP_LOG_STR("error", st_rc != 0 ? strerror(errno) : "not a directory"),
                     SP_LOG_END);
        return -1;
    }
    DIR *d = opendir(self->dir);
    if (!d) {
        sp_log_error("could not read data key directory", SP_LOG_STR("dir", self->dir),
                     SP_LOG_STR("error", strerror(errno)), SP_LOG_END);
        return -1;
    }
    uint32_t *ids = NULL;
    size_t n = 0, cap = 0;
    bool has_cpr = false;
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        uint32_t id;
        if (strcmp(e->d_name, SP_KEYRING_CPR_FILE) == 0) {
            has_cpr = true;
        } else if (s_contact_name(e->d_name, &id)) {
            if (n == cap) {
                cap = cap ? 2 * cap : 8;
                uint32_t *grown = realloc(ids, cap * sizeof *ids);
                if (!grown) {
                    free(ids);
                    closedir(d);
                    return -1;
                }
                ids = grown;
            }
            ids[n++] = id;
        }
    }
    closedir(d);
    if (n)
        qsort(ids, n, sizeof *ids, s_cmp_id);

    uint8_t *keys = n ? sodium_allocarray(n, SP_DATA_KEY_SIZE) : NULL;
    uint8_t *cpr = has_cpr ? sodium_malloc(SP_DATA_KEY_SIZE) : NULL;
    int rc = 0;
    if ((n && !keys) || (has_cpr && !cpr)) {
        sp_log_error("could not allocate memory for data keys", SP_LOG_END);
        rc = -1;
    }
    for (size_t i = 0; rc == 0 && i < n; i++) {
        char name[64];
        snprintf(name, sizeof name, "contact-%u.key", ids[i]);
        rc = s_read_key(self, name, keys + i * SP_DATA_KEY_SIZE);
    }
    if (rc == 0 && has_cpr)
        rc = s_read_key(self, SP_KEYRING_CPR_FILE, cpr);
    if (rc != 0) {
        s_free_keys(ids, keys, cpr);
        return -1;
    }
    s_free_keys(self->ids, self->keys, self->cpr);
    self->ids = ids;
    self->keys = keys;
    self->n = n;
    self->cpr = cpr;
    self->mtime = dst.st_mtim;
    self->loaded = true;
    return 0;
}

bool sp_keyring_stale(const sp_keyring_t *self)
{
    struct stat st;
    if (!self->loaded || stat(self->dir, &st) != 0)
        return true;
    return st.st_mtim.tv_sec != self->mtime.tv_sec || st.st_mtim.tv_nsec != self->mtime.tv_nsec;
}

/* mkdir -p with mode 0700 for the components that are missing. */
static int s_mkdirs(const char *dir)
{
    char path[PATH_MAX];
    if (snprintf(path, sizeof path, "%s", dir) >= (int)sizeof path)
        return -1;
    for (char *p = path + 1;; p++) {
        if (*p == '/' || *p == '\0') {
            char c = *p;
            *p = '\0';
            if (mkdir(path, 0700) != 0 && errno != EEXIST) {
                sp_log_error("could not create data key directory", SP_LOG_STR("dir", path),
                             SP_LOG_STR("error", strerror(errno)), SP_LOG_END);
                return -1;
            }
            *p = c;
            if (c == '\0')
                break;
        }
    }
    struct stat st;
    if (stat(dir, &st) != 0 || !S_ISDIR(st.st_mode)) {
        sp_log_error("data key path is not a directory", SP_LOG_STR("dir", dir), SP_LOG_END);
        return -1;
    }
    if (st.st_mode & 077)
        sp_log_warn("data key directory is accessible by group or others; chmod 700 it",
                    SP_LOG_STR("dir", dir), SP_LOG_END);
    return 0;
}

/* Write a new random key to `name` unless it exists: the file appears whole
 * (written under a temporary name, then linked), and when two processes
 * race exactly one link succeeds.  Returns 1 created, 0 existed, -1 error. */
static int s_create_key(const sp_keyring_t *self, const char *name)
{
    char path[PATH_MAX], tmp[PATH_MAX];
    uint32_t salt = randombytes_random();
    if (snprintf(path, sizeof path, "%s/%s", self->dir, name) >= (int)sizeof path ||
        snprintf(tmp, sizeof tmp, "%s/.%s.%ld.%08x.tmp", self->dir, name, (long)getpid(), salt) >=
            (int)sizeof tmp)
        return -1;
    if (access(path, F_OK) == 0)
        return 0;
    uint8_t key[SP_DATA_KEY_SIZE];
    char text[2 * SP_DATA_KEY_SIZE + 2];
    randombytes_buf(key, sizeof key);
    sodium_bin2hex(text, sizeof text, key, sizeof key);
    sodium_memzero(key, sizeof key);
    size_t len = strlen(text);
    text[len++] = '\n';
    int fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
    int rc = fd < 0 ? -1 : 0;
    if (rc == 0 &&
        (fchmod(fd, 0600) != 0 || write(fd, text, len) != (ssize_t)len || fsync(fd) != 0))
        rc = -1;
    sodium_memzero(text, sizeof text);
    if (fd >= 0 && close(fd) != 0)
        rc = -1;
    if (rc != 0) {
        sp_log_error("could not write data key file", SP_LOG_STR("file", tmp),
                     SP_LOG_STR("error", strerror(errno)), SP_LOG_END);
        unlink(tmp);
        return -1;
    }
    int created = 1;
    if (link(tmp, path) != 0) {
        if (errno == EEXIST) {
            created = 0;
        } else {
            sp_log_error("could not create data key file", SP_LOG_STR("file", path),
                         SP_LOG_STR("error", strerror(errno)), SP_LOG_END);
            created = -1;
        }
    }
    unlink(tmp);
    int dfd = open(self->dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (dfd >= 0) {
        (void)fsync(dfd);
        close(dfd);
    }
    if (created == 1)
        sp_log_info("created data key", SP_LOG_STR("file", path), SP_LOG_END);
    return created;
}

int sp_keyring_init(sp_keyring_t *self)
{
    if (s_mkdirs(self->dir) != 0)
        return -1;
    int created = 0, rc = s_create_key(self, SP_KEYRING_CPR_FILE);
    if (rc < 0)
        return -1;
    created += rc;
    if (sp_keyring_load(self) != 0)
        return -1;
    if (self->n == 0) {
        if ((rc = s_create_key(self, "contact-1.key")) < 0)
            return -1;
        created += rc;
        if (sp_keyring_load(self) != 0)
            return -1;
    }
    return created;
}

int sp_keyring_rotate(sp_keyring_t *self, uint32_t *key_id)
{
    if (sp_keyring_load(self) != 0)
        return -1;
    uint32_t id = sp_keyring_current(self);
    for (int attempt = 0; attempt < 100; attempt++) {
        if (id == UINT32_MAX)
            break;
        id++;
        char name[64];
        snprintf(name, sizeof name, "contact-%u.key", id);
        int rc = s_create_key(self, name);
        if (rc < 0)
            return -1;
        if (rc == 1) {
            if (sp_keyring_load(self) != 0)
                return -1;
            *key_id = id;
            return 0;
        }
    }
    sp_log_error("could not find a free data key id", SP_LOG_STR("dir", self->dir), SP_LOG_END);
    return -1;
}

uint32_t sp_keyring_current(const sp_keyring_t *self)
{
    return self->n ? self->ids[self->n - 1] : 0;
}

size_t sp_keyring_count(const sp_keyring_t *self)
{
    return self->n;
}

const uint8_t *sp_keyring_key(const sp_keyring_t *self, uint32_t key_id)
{
    uint32_t *hit =
        self->n ? bsearch(&key_id, self->ids, self->n, sizeof *self->ids, s_cmp_id) : NULL;
    return hit ? self->keys + (size_t)(hit - self->ids) * SP_DATA_KEY_SIZE : NULL;
}

const uint8_t *sp_keyring_cpr_key(const sp_keyring_t *self)
{
    return self->cpr;
}

const char *sp_keyring_dir(const sp_keyring_t *self)
{
    return self->dir;
}

char *sp_keyring_seal(sp_keyring_t *self, const void *plain, size_t len, const void *ad,
                      size_t adlen)
{
    uint32_t id = sp_keyring_current(self);
    if (id == 0) {
        errno = ENOKEY;
        return NULL;
    }
    return sp_seal(sp_keyring_key(self, id), id, plain, len, ad, adlen);
}

int sp_keyring_open(sp_keyring_t *self, const char *sealed, const void *ad, size_t adlen,
                    uint8_t **plain, size_t *len)
{
    *plain = NULL;
    *len = 0;
    uint32_t id;
    if (sp_seal_key_id(sealed, &id) != 0) {
        errno = EINVAL;
        return -1;
    }
    const uint8_t *key = sp_keyring_key(self, id);
    if (!key) {
        (void)sp_keyring_load(self); /* another process may have added it */
        key = sp_keyring_key(self, id);
    }
    if (!key) {
        errno = ENOKEY;
        return -1;
    }
    return sp_open(key, sealed, ad, adlen, plain, len);
}
