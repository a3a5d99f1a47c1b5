/*
 * broker_init.h - the key files of a suite under <home>/keys, written by
 * `samspil-broker --init-keys` and read by the broker at start:
 *
 *   broker.key     the broker's certificate: its key pair (secret, 0600)
 *   broker.pub     the broker's public key, for clients' certificates
 *   registry       the key registry (broker_keys.h)
 *   operator.cert  the local operator (all tenants), samspilctl's default
 *   service.cert   the suite's service workers (ROLE_SERVICE)
 *
 * Everything that exists is kept: only what is missing is created, and a
 * default certificate whose key is not in the registry is registered again.
 */
#ifndef BROKER_INIT_H
#define BROKER_INIT_H

#include "sp_curve.h"

#define BROKER_INIT_SECRET_FILE "broker.key"
#define BROKER_INIT_PUBLIC_FILE "broker.pub"

/* Create what is missing under `home`/keys (see above).  Returns 0, or -1
 * after logging what failed. */
int broker_init_keys(const char *home);

/* The broker's key pair from `home`/keys/broker.key into `out` (public_key
 * and secret_key).  Returns 0, or -1 after logging (with a hint to run
 * --init-keys when the file is missing). */
int broker_init_load_server(const char *home, sp_curve_client_t *out);

#endif
