/*
 * sp_curve.h - CurveZMQ for every socket that talks to the broker: the
 * certificate files clients and services act with, and applying them to a
 * socket.
 *
 * A certificate file is text, one "key = value" per line ('#' comments):
 *
 *   # Samspil client certificate: keep this file secret (mode 0600)
 *   name = alice
 *   role = integrator
 *   tenants = 101,147
 *   public-key = <40 Z85 characters>
 *   secret-key = <40 Z85 characters>
 *   broker-key = <40 Z85 characters: the broker's public key>
 *
 * name/role/tenants are informational (the broker's key registry decides).
 * A process acts with the file named by --key / SAMSPIL_KEY, else the
 * default its program documents (samspilctl: $SAMSPIL_HOME/keys/operator.cert;
 * services: $SAMSPIL_HOME/keys/service.cert).  Plain text is used only when
 * SAMSPIL_PLAINTEXT=1 (the broker allows it only on ipc/loopback).
 *
 * Modules that open broker sockets (sp_client, sp_worker, sp_outbox,
 * sp_subscriber) take a `const sp_curve_client_t *curve` in their config;
 * NULL means "from the environment": sp_curve_client_load(NULL, NULL,
 * SP_CURVE_SERVICE_CERT).
 */
#ifndef SP_CURVE_H
#define SP_CURVE_H

#include <stdbool.h>
#include <stddef.h>

#define SP_CURVE_KEY_Z85 41 /* 40 characters and the NUL */

typedef struct {
    bool plaintext;                    /* true: no CURVE (development mode, asked for) */
    char name[64];                     /* from the file; informational */
    char public_key[SP_CURVE_KEY_Z85]; /* this client's public key */
    char secret_key[SP_CURVE_KEY_Z85]; /* this client's secret key */
    char broker_key[SP_CURVE_KEY_Z85]; /* the broker's public key */
} sp_curve_client_t;

#define SP_CURVE_SERVICE_CERT "service.cert"
#define SP_CURVE_OPERATOR_CERT "operator.cert"

/* Fill `out` for a process under `home` (NULL: SAMSPIL_HOME, else "./var"):
 * SAMSPIL_PLAINTEXT=1 -> plaintext (logged once; from then on every log line
 * of the process carries "plaintext":true);
 * else the certificate file `key_path` if not NULL (from --key), else
 * SAMSPIL_KEY, else `<home>/keys/<default_file>`.  Returns 0, or -1 with a
 * logged reason naming the file (never the secret). */
int sp_curve_client_load(const char *home, const char *key_path, const char *default_file,
                         sp_curve_client_t *out);

/* The certificate a module's config names, or else the environment's:
 * copies *given into `out` when `given` is not NULL, otherwise
 * sp_curve_client_load(NULL, NULL, default_file, out).  Returns 0 or -1
 * (logged by the loader). */
int sp_curve_client_resolve(const sp_curve_client_t *given, const char *default_file,
                            sp_curve_client_t *out);

/* Read one certificate file into `out` (plaintext false).  Returns 0 or -1
 * (logged: which line or key is wrong). */
int sp_curve_cert_read(const char *path, sp_curve_client_t *out);

/* Write a certificate file (mode 0600, atomically via a temporary file and
 * rename) with `role` and `tenants` as informational lines.  Returns 0 or -1. */
int sp_curve_cert_write(const char *path, const sp_curve_client_t *cert, const char *role,
                        const char *tenants);

/* Generate a new key pair into cert->public_key / cert->secret_key.
 * Returns 0 or -1. */
int sp_curve_keypair(sp_curve_client_t *cert);

/* Make `socket` (before connect) a CURVE client with `cert`; nothing for
 * plaintext.  Returns 0 or -1. */
int sp_curve_client_apply(const sp_curve_client_t *cert, void *socket);

/* Make `socket` (before bind) a CURVE server with the Z85 `secret_key`,
 * authenticated through ZAP under `domain`.  The caller must have a ZAP
 * handler bound at inproc://zeromq.zap.01 already: without one libzmq lets
 * every client in.  Returns 0 or -1. */
int sp_curve_server_apply(void *socket, const char *secret_key, const char *domain);

/* Pure: parse certificate text (`len` bytes) into `out` (plaintext false).
 * public-key, secret-key and broker-key are required, valid Z85, and the
 * public key must belong to the secret key.  Returns 0, or -1 with a reason
 * in `err` (line number and key name, never a value); `out` is zeroed on
 * failure. */
int sp_curve_cert_parse(const char *text, size_t len, sp_curve_client_t *out, char *err,
                        size_t errlen);

/* True when `z85` is a 40-character Z85 text encoding 32 bytes. */
bool sp_curve_key_valid(const char *z85);

/* True when SAMSPIL_PLAINTEXT is "1", "true" or "yes". */
bool sp_curve_env_plaintext(void);

/* The suite home as given (`home`, else SAMSPIL_HOME, else "./var"), without
 * trailing slashes, into `out`.  Returns 0, or -1 when it does not fit. */
int sp_curve_home(const char *home, char *out, size_t outlen);

#endif
