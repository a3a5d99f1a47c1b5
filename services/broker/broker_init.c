/*
 * broker_init.c - create and read the suite's key files (--init-keys).
 */
#include "broker_init.h"
#include "broker_keys.h"
#include "sp_buf.h"
#include "sp_log.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static int s_mkdir(const char *path, mode_t mode)
{
    if (mkdir(path, mode) == 0 || errno == EEXIST)
        return 0;
    sp_log_error("could not create directory", SP_LOG_STR("path", path),
                 SP_LOG_STR("error", strerror(errno)), SP_LOG_END);
    return -1;
}

static bool s_exists(const char *path)
{
    return access(path, F_OK) == 0;
}

/* Write the public key file (0644, atomically). */
static int s_write_public(const char *path, const char *public_key)
{
    char tmp[PATH_MAX];
    if (snprintf(tmp, sizeof tmp, "%s.XXXXXX", path) >= (int)sizeof tmp)
        return -1;
    int fd = mkstemp(tmp);
    if (fd < 0) {
        sp_log_error("could not create file", SP_LOG_STR("path", path),
                     SP_LOG_STR("error", strerror(errno)), SP_LOG_END);
        return -1;
    }
    char text[256];
    int n = snprintf(text, sizeof text,
                     "# Samspil broker public key: the broker-key of every client certificate\n"
                     "public-key = %s\n",
                     public_key);
    int rc = (write(fd, text, (size_t)n) == n && fchmod(fd, 0644) == 0 && fsync(fd) == 0) ? 0 : -1;
    if (close(fd) != 0)
        rc = -1;
    if (rc == 0 && rename(tmp, path) != 0)
        rc = -1;
    if (rc != 0) {
        sp_log_error("could not write file", SP_LOG_STR("path", path),
                     SP_LOG_STR("error", strerror(errno)), SP_LOG_END);
        unlink(tmp);
    }
    return rc;
}

static int s_keys_path(const char *home, const char *file, char *out, size_t outlen)
{
    char dir[PATH_MAX];
    if (sp_curve_home(home, dir, sizeof dir) != 0 ||
        snprintf(out, outlen, "%s/keys%s%s", dir, file ? "/" : "", file ? file : "") >=
            (int)outlen) {
        sp_log_error("key path is too long", SP_LOG_END);
        return -1;
    }
    return 0;
}

int broker_init_load_server(const char *home, sp_curve_client_t *out)
{
    char path[PATH_MAX];
    if (s_keys_path(home, BROKER_INIT_SECRET_FILE, path, sizeof path) != 0)
        return -1;
    if (!s_exists(path)) {
        sp_log_error("the broker has no key: run samspil-broker --init-keys (or set "
                     "SAMSPIL_PLAINTEXT=1 for a development suite on ipc or loopback)",
                     SP_LOG_STR("path", path), SP_LOG_END);
        return -1;
    }
    if (sp_curve_cert_read(path, out) != 0)
        return -1;
    if (strcmp(out->broker_key, out->public_key) != 0) {
        sp_log_error("broker.key is not the broker's certificate: its broker-key is not its "
                     "public-key",
                     SP_LOG_STR("path", path), SP_LOG_END);
        explicit_bzero(out, sizeof *out);
        return -1;
    }
    return 0;
}

/* Register `cert`'s public key as `base_name` (or base_name-2..9 when the
 * name is taken by another valid key) unless it is registered already. */
static int s_register(broker_keys_t *keys, sp_curve_client_t *cert, const char *base_name,
                      Samspil__V1__Role role, const char *path)
{
    broker_key_t found;
    broker_keys_status_t status = broker_keys_lookup(keys, cert->public_key, &found);
    if (status == BROKER_KEYS_VALID) {
        snprintf(cert->name, sizeof cert->name, "%s", found.name);
        return 0;
    }
    if (status == BROKER_KEYS_REVOKED) {
        sp_log_error("certificate holds a revoked key: remove it and run --init-keys again",
                     SP_LOG_STR("path", path), SP_LOG_STR("key_name", found.name), SP_LOG_END);
        return -1;
    }
    broker_key_t key;
    memset(&key, 0, sizeof key);
    memcpy(key.public_key, cert->public_key, SP_CURVE_KEY_Z85);
    key.role = role;
    key.all_tenants = true;
    sp_error_t err;
    for (int i = 1; i <= 9; i++) {
        if (i == 1)
            snprintf(key.name, sizeof key.name, "%s", base_name);
        else
            snprintf(key.name, sizeof key.name, "%s-%d", base_name, i);
        if (broker_keys_create(keys, &key, NULL, &err) == 0) {
            snprintf(cert->name, sizeof cert->name, "%s", key.name);
            sp_log_info("registered key", SP_LOG_STR("key_name", key.name),
                        SP_LOG_STR("role", broker_keys_role_word(role)),
                        SP_LOG_STR("public_key", key.public_key), SP_LOG_END);
            return 0;
        }
        if (err.code != SP_ALREADY_EXISTS || strcmp(err.field, "name") != 0)
            break;
    }
    sp_log_error("could not register key", SP_LOG_STR("path", path),
                 SP_LOG_STR("error", err.message), SP_LOG_END);
    return -1;
}

/* Make sure `file` (a default certificate) exists, holds a registered key
 * and names the broker's current public key. */
static int s_default_cert(const char *home, broker_keys_t *keys, const sp_curve_client_t *server,
                          const char *file, const char *base_name, Samspil__V1__Role role)
{
    char path[PATH_MAX];
    if (s_keys_path(home, file, path, sizeof path) != 0)
        return -1;
    sp_curve_client_t *cert = calloc(1, sizeof *cert);
    if (!cert)
        return -1;
    int rc = -1;
    bool write = false;
    if (s_exists(path)) {
        if (sp_curve_cert_read(path, cert) != 0)
            goto done;
        if (strcmp(cert->broker_key, server->public_key) != 0) {
            sp_log_warn("certificate named an old broker key; updated", SP_LOG_STR("path", path),
                        SP_LOG_END);
            write = true;
        }
    } else {
        if (sp_curve_keypair(cert) != 0)
            goto done;
        write = true;
    }
    memcpy(cert->broker_key, server->public_key, SP_CURVE_KEY_Z85);
    if (s_register(keys, cert, base_name, role, path) != 0)
        goto done;
    if (write) {
        if (sp_curve_cert_write(path, cert, broker_keys_role_word(role), "*") != 0)
            goto done;
        sp_log_info("wrote certificate", SP_LOG_STR("path", path),
                    SP_LOG_STR("key_name", cert->name), SP_LOG_END);
    }
    rc = 0;
done:
    explicit_bzero(cert, sizeof *cert);
    free(cert);
    return rc;
}

int broker_init_keys(const char *home)
{
    char dir[PATH_MAX], keys_dir[PATH_MAX], path[PATH_MAX], pub[PATH_MAX], reg[PATH_MAX];
    if (sp_curve_home(home, dir, sizeof dir) != 0 ||
        s_keys_path(home, NULL, keys_dir, sizeof keys_dir) != 0 ||
        s_keys_path(home, BROKER_INIT_SECRET_FILE, path, sizeof path) != 0 ||
        s_keys_path(home, BROKER_INIT_PUBLIC_FILE, pub, sizeof pub) != 0 ||
        s_keys_path(home, BROKER_KEYS_FILE, reg, sizeof reg) != 0)
        return -1;
    if (s_mkdir(dir, 0755) != 0 || s_mkdir(keys_dir, 0700) != 0)
        return -1;
    chmod(keys_dir, 0700);
    sp_curve_client_t *server = calloc(1, sizeof *server);
    if (!server)
        return -1;
    int rc = -1;
    broker_keys_t *keys = NULL;
    if (s_exists(path)) {
        if (broker_init_load_server(home, server) != 0)
            goto done;
    } else {
        if (sp_curve_keypair(server) != 0)
            goto done;
        memcpy(server->broker_key, server->public_key, SP_CURVE_KEY_Z85);
        snprintf(server->name, sizeof server->name, "broker");
        if (sp_curve_cert_write(path, server, "broker", "") != 0)
            goto done;
        sp_log_info("wrote the broker's key pair", SP_LOG_STR("path", path),
                    SP_LOG_STR("public_key", server->public_key), SP_LOG_END);
    }
    if (s_write_public(pub, server->public_key) != 0)
        goto done;
    keys = broker_keys_new(reg);
    if (!keys)
        goto done;
    if (s_default_cert(home, keys, server, SP_CURVE_OPERATOR_CERT, "operator",
                       SAMSPIL__V1__ROLE__ROLE_OPERATOR) != 0 ||
        s_default_cert(home, keys, server, SP_CURVE_SERVICE_CERT, "service",
                       SAMSPIL__V1__ROLE__ROLE_SERVICE) != 0)
        goto done;
    rc = 0;
done:
    broker_keys_destroy(&keys);
    explicit_bzero(server, sizeof *server);
    free(server);
    return rc;
}
