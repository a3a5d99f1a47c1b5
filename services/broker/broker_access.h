/*
 * broker_access.h - the broker's access rules, pure: which keys the ZAP
 * handler lets connect to which socket, who may register a worker, which
 * event subscriptions a principal may hold, and the Principal a key
 * becomes in the principal frame of a REQUEST.
 *
 * ZAP domains (set on each CURVE server socket, see docs/security.md):
 *   samspil.broker      the ROUTER for clients and workers: every valid key
 *   samspil.events-in   the XSUB publishers connect to: services only
 *   samspil.events-out  the XPUB subscribers connect to: operators,
 *                       services and integrators
 */
#ifndef BROKER_ACCESS_H
#define BROKER_ACCESS_H

#include "broker_keys.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define BROKER_ZAP_DOMAIN_BROKER "samspil.broker"
#define BROKER_ZAP_DOMAIN_EVENTS_IN "samspil.events-in"
#define BROKER_ZAP_DOMAIN_EVENTS_OUT "samspil.events-out"

/* May a key with `status` and `role` connect to the socket of ZAP `domain`?
 * On false, *reason says why ("unknown key", "revoked key", "role may not
 * publish events", ...). */
bool broker_access_zap(const char *domain, broker_keys_status_t status, Samspil__V1__Role role,
                       const char **reason);

/* May a principal of `role` announce READY for a service?  Only services. */
bool broker_access_may_register(Samspil__V1__Role role);

/* May `key` subscribe to topics starting with `prefix` (`len` bytes; topics
 * are "<stream>/<tenant>/<type>")?  Operators and services: anything.
 * Integrators: "<stream>/<tenant>/..." for one of their tenants, or the
 * stream heads "<stream>//...".  Everyone else: nothing. */
bool broker_access_may_subscribe(const broker_key_t *key, const void *prefix, size_t len);

/* True when `endpoint` can only be reached from this machine: ipc://,
 * inproc://, or tcp:// on 127.0.0.0/8, ::1 or "localhost".  Plain-text
 * mode is allowed only when every bind endpoint is one of these. */
bool broker_access_local_endpoint(const char *endpoint);

/* Pack the samspil.v1.Principal of `key` (client_id = the key's name) into
 * a malloc'd buffer *packed of *size bytes.  Returns 0 or -1 (no memory). */
int broker_access_pack_principal(const broker_key_t *key, uint8_t **packed, size_t *size);

#endif
