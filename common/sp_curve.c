/*
 * sp_curve.c - CurveZMQ certificate files and applying them to sockets.
 *
 * Secrets never reach a log line: errors name the file, the line number and
 * the key ("secret-key"), never a value.
 */
#include "sp_curve.h"
#include "sp_log.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zmq.h>

#define SP_CURVE_MAX_FILE 8192

bool sp_curve_key_valid(const char *z85)
{
    if (!z85 || strlen(z85) != SP_CURVE_KEY_Z85 - 1)
        return false;
    uint8_t raw[32];
    return zmq_z85_decode(raw, z85) != NULL;
}

bool sp_curve_env_plaintext(void)
{
    const char *v = getenv("SAMSPIL_PLAINTEXT");
    return v && (strcmp(v, "1") == 0 || strcmp(v, "true") == 0 || strcmp(v, "yes") == 0);
}

/* Strip leading and trailing blanks in place; returns the new start. */
static char *s_trim(char *s)
{
    while (*s == ' ' || *s == '\t')
        s++;
    size_t n = strlen(s);
    while (n > 0 && (s[n - 1] == ' ' || s[n - 1] == '\t' || s[n - 1] == '\r'))
        s[--n] = '\0';
    return s;
}

static int s_set_key(char *dst, const char *value, const char *key, int line, char *err,
                     size_t errlen)
{
    if (!sp_curve_key_valid(value)) {
        snprintf(err, errlen, "line %d: %s is not a 40-character Z85 key", line, key);
        return -1;
    }
    memcpy(dst, value, SP_CURVE_KEY_Z85);
    return 0;
}

int sp_curve_cert_parse(const char *text, size_t len, sp_curve_client_t *out, char *err,
                        size_t errlen)
{
    memset(out, 0, sizeof *out);
    if (errlen)
        err[0] = '\0';
    int lineno = 0;
    size_t pos = 0;
    int rc = 0;
    while (pos < len && rc == 0) {
        size_t end = pos;
        while (end < len && text[end] != '\n')
            end++;
        lineno++;
        char line[512];
        size_t n = end - pos;
        if (n >= sizeof line) {
            snprintf(err, errlen, "line %d: too long", lineno);
            rc = -1;
            break;
        }
        memcpy(line, text + pos, n);
        line[n] = '\0';
        pos = end + 1;
        if (memchr(line, '\0', n)) {
            snprintf(err, errlen, "line %d: contains a NUL byte", lineno);
            rc = -1;
            break;
        }
        char *s = s_trim(line);
        if (*s == '\0' || *s == '#')
            continue;
        char *eq = strchr(s, '=');
        if (!eq) {
            snprintf(err, errlen, "line %d: expected \"key = value\"", lineno);
            rc = -1;
            break;
        }
        *eq = '\0';
        char *key = s_trim(s);
        char *value = s_trim(eq + 1);
        if (strcmp(key, "public-key") == 0) {
            rc = s_set_key(out->public_key, value, key, lineno, err, errlen);
        } else if (strcmp(key, "secret-key") == 0) {
            rc = s_set_key(out->secret_key, value, key, lineno, err, errlen);
        } else if (strcmp(key, "broker-key") == 0) {
            rc = s_set_key(out->broker_key, value, key, lineno, err, errlen);
        } else if (strcmp(key, "name") == 0) {
            if (strlen(value) >= sizeof out->name) {
                snprintf(err, errlen, "line %d: name is longer than %zu bytes", lineno,
                         sizeof out->name - 1);
                rc = -1;
            } else {
                snprintf(out->name, sizeof out->name, "%s", value);
            }
        }
        /* role, tenants and unknown keys are informational */
    }
    if (rc == 0) {
        const char *missing = !out->public_key[0]   ? "public-key"
                              : !out->secret_key[0] ? "secret-key"
                              : !out->broker_key[0] ? "broker-key"
                                                    : NULL;
        if (missing) {
            snprintf(err, errlen, "%s is missing", missing);
            rc = -1;
        }
    }
    if (rc == 0) {
        char derived[SP_CURVE_KEY_Z85];
        if (zmq_curve_public(derived, out->secret_key) != 0 ||
            strcmp(derived, out->public_key) != 0) {
            snprintf(err, errlen, "public-key does not belong to secret-key");
            rc = -1;
        }
    }
    if (rc != 0) {
        /* leave no half-parsed secret behind */
        memset(out, 0, sizeof *out);
    }
    return rc;
}

int sp_curve_cert_read(const char *path, sp_curve_client_t *out)
{
    memset(out, 0, sizeof *out);
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        sp_log_error("could not open certificate file", SP_LOG_STR("path", path),
                     SP_LOG_STR("error", strerror(errno)), SP_LOG_END);
        return -1;
    }
    struct stat st;
    if (fstat(fd, &st) == 0 && (st.st_mode & 0077))
        sp_log_warn("certificate file is readable by others; it should be mode 0600",
                    SP_LOG_STR("path", path), SP_LOG_END);
    char *text = malloc(SP_CURVE_MAX_FILE + 1);
    if (!text) {
        close(fd);
        return -1;
    }
    size_t len = 0;
    for (;;) {
        ssize_t n = read(fd, text + len, SP_CURVE_MAX_FILE + 1 - len);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0) {
            sp_log_error("could not read certificate file", SP_LOG_STR("path", path),
                         SP_LOG_STR("error", strerror(errno)), SP_LOG_END);
            close(fd);
            free(text);
            return -1;
        }
        if (n == 0)
            break;
        len += (size_t)n;
        if (len > SP_CURVE_MAX_FILE)
            break;
    }
    close(fd);
    int rc = -1;
    char err[128];
    if (len > SP_CURVE_MAX_FILE)
        sp_log_error("certificate file is too large", SP_LOG_STR("path", path), SP_LOG_END);
    else if (sp_curve_cert_parse(text, len, out, err, sizeof err) != 0)
        sp_log_error("could not parse certificate file", SP_LOG_STR("path", path),
                     SP_LOG_STR("reason", err), SP_LOG_END);
    else
        rc = 0;
    memset(text, 0, len < SP_CURVE_MAX_FILE ? len : SP_CURVE_MAX_FILE);
    free(text);
    return rc;
}

int sp_curve_home(const char *home, char *out, size_t outlen)
{
    if (!home || !*home)
        home = getenv("SAMSPIL_HOME");
    if (!home || !*home)
        home = "./var";
    int n = snprintf(out, outlen, "%s", home);
    if (n < 0 || (size_t)n >= outlen)
        return -1;
    while (n > 1 && out[n - 1] == '/')
        out[--n] = '\0';
    return 0;
}

int sp_curve_client_resolve(const sp_curve_client_t *given, const char *default_file,
                            sp_curve_client_t *out)
{
    if (given) {
        *out = *given;
        return 0;
    }
    return sp_curve_client_load(NULL, NULL, default_file, out) == 0 ? 0 : -1;
}

int sp_curve_client_load(const char *home, const char *key_path, const char *default_file,
                         sp_curve_client_t *out)
{
    memset(out, 0, sizeof *out);
    if (sp_curve_env_plaintext()) {
        /* a process talking plain text says so on every log line */
        static bool marked;
        if (!marked) {
            marked = true;
            sp_log_add_global("plaintext", "true");
            sp_log_warn("SAMSPIL_PLAINTEXT is set: talking to the broker without CURVE "
                        "(development only)",
                        SP_LOG_END);
        }
        out->plaintext = true;
        return 0;
    }
    char path[PATH_MAX];
    if (!key_path || !*key_path)
        key_path = getenv("SAMSPIL_KEY");
    if (key_path && *key_path) {
        if (snprintf(path, sizeof path, "%s", key_path) >= (int)sizeof path) {
            sp_log_error("certificate path is too long", SP_LOG_END);
            return -1;
        }
    } else {
        char dir[PATH_MAX];
        if (!default_file)
            default_file = SP_CURVE_SERVICE_CERT;
        if (sp_curve_home(home, dir, sizeof dir) != 0 ||
            snprintf(path, sizeof path, "%s/keys/%s", dir, default_file) >= (int)sizeof path) {
            sp_log_error("certificate path is too long", SP_LOG_END);
            return -1;
        }
    }
    return sp_curve_cert_read(path, out);
}

int sp_curve_cert_write(const char *path, const sp_curve_client_t *cert, const char *role,
                        const char *tenants)
{
    if (!sp_curve_key_valid(cert->public_key) || !sp_curve_key_valid(cert->secret_key) ||
        !sp_curve_key_valid(cert->broker_key)) {
        sp_log_error("refusing to write a certificate with an invalid key",
                     SP_LOG_STR("path", path), SP_LOG_END);
        return -1;
    }
    char tmp[PATH_MAX];
    if (snprintf(tmp, sizeof tmp, "%s.XXXXXX", path) >= (int)sizeof tmp) {
        sp_log_error("certificate path is too long", SP_LOG_END);
        return -1;
    }
    int fd = mkstemp(tmp); /* mode 0600 */
    if (fd < 0) {
        sp_log_error("could not create certificate file", SP_LOG_STR("path", path),
                     SP_LOG_STR("error", strerror(errno)), SP_LOG_END);
        return -1;
    }
    if (fchmod(fd, 0600) != 0) {
        sp_log_error("could not set the mode of a certificate file", SP_LOG_STR("path", tmp),
                     SP_LOG_STR("error", strerror(errno)), SP_LOG_END);
        close(fd);
        unlink(tmp);
        return -1;
    }
    char text[1024];
    int n = snprintf(text, sizeof text,
                     "# Samspil client certificate: keep this file secret (mode 0600)\n"
                     "name = %s\n"
                     "role = %s\n"
                     "tenants = %s\n"
                     "public-key = %s\n"
                     "secret-key = %s\n"
                     "broker-key = %s\n",
                     cert->name, role ? role : "", tenants ? tenants : "", cert->public_key,
                     cert->secret_key, cert->broker_key);
    int rc = -1;
    if (n > 0 && (size_t)n < sizeof text) {
        size_t off = 0;
        while (off < (size_t)n) {
            ssize_t w = write(fd, text + off, (size_t)n - off);
            if (w < 0 && errno == EINTR)
                continue;
            if (w <= 0)
                break;
            off += (size_t)w;
        }
        if (off == (size_t)n && fsync(fd) == 0)
            rc = 0;
    }
    memset(text, 0, sizeof text);
    if (close(fd) != 0)
        rc = -1;
    if (rc == 0 && rename(tmp, path) != 0)
        rc = -1;
    if (rc != 0) {
        sp_log_error("could not write certificate file", SP_LOG_STR("path", path),
                     SP_LOG_STR("error", strerror(errno)), SP_LOG_END);
        unlink(tmp);
    }
    return rc;
}

int sp_curve_keypair(sp_curve_client_t *cert)
{
    if (zmq_curve_keypair(cert->public_key, cert->secret_key) != 0) {
        sp_log_error("could not generate a curve key pair",
                     SP_LOG_STR("error", zmq_strerror(errno)), SP_LOG_END);
        return -1;
    }
    return 0;
}

int sp_curve_client_apply(const sp_curve_client_t *cert, void *socket)
{
    if (!cert || cert->plaintext)
        return 0;
    if (zmq_setsockopt(socket, ZMQ_CURVE_SERVERKEY, cert->broker_key, SP_CURVE_KEY_Z85 - 1) != 0 ||
        zmq_setsockopt(socket, ZMQ_CURVE_PUBLICKEY, cert->public_key, SP_CURVE_KEY_Z85 - 1) != 0 ||
        zmq_setsockopt(socket, ZMQ_CURVE_SECRETKEY, cert->secret_key, SP_CURVE_KEY_Z85 - 1) != 0) {
        sp_log_error("could not set curve keys on a socket",
                     SP_LOG_STR("error", zmq_strerror(errno)), SP_LOG_END);
        return -1;
    }
    return 0;
}

int sp_curve_server_apply(void *socket, const char *secret_key, const char *domain)
{
    int one = 1;
    if (zmq_setsockopt(socket, ZMQ_ZAP_DOMAIN, domain, strlen(domain)) != 0 ||
        zmq_setsockopt(socket, ZMQ_CURVE_SERVER, &one, sizeof one) != 0 ||
        zmq_setsockopt(socket, ZMQ_CURVE_SECRETKEY, secret_key, SP_CURVE_KEY_Z85 - 1) != 0) {
        sp_log_error("could not make a socket a curve server",
                     SP_LOG_STR("error", zmq_strerror(errno)), SP_LOG_END);
        return -1;
    }
    return 0;
}
