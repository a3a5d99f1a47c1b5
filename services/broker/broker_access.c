/*
 * broker_access.c - who may connect, register, subscribe; the packed
 * principal of a key.  No I/O.
 */
#include "broker_access.h"

#include <stdlib.h>
#include <string.h>

bool broker_access_zap(const char *domain, broker_keys_status_t status, Samspil__V1__Role role,
                       const char **reason)
{
    const char *why = NULL;
    if (status == BROKER_KEYS_UNKNOWN)
        why = "unknown key";
    else if (status == BROKER_KEYS_REVOKED)
        why = "revoked key";
    else if (!domain)
        why = "unknown domain";
    else if (strcmp(domain, BROKER_ZAP_DOMAIN_BROKER) == 0)
        why = NULL;
    else if (strcmp(domain, BROKER_ZAP_DOMAIN_EVENTS_IN) == 0)
        why = role == SAMSPIL__V1__ROLE__ROLE_SERVICE ? NULL : "role may not publish events";
    else if (strcmp(domain, BROKER_ZAP_DOMAIN_EVENTS_OUT) == 0)
        why = role == SAMSPIL__V1__ROLE__ROLE_OPERATOR || role == SAMSPIL__V1__ROLE__ROLE_SERVICE ||
                      role == SAMSPIL__V1__ROLE__ROLE_INTEGRATOR
                  ? NULL
                  : "role may not subscribe to events";
    else
        why = "unknown domain";
    if (reason)
        *reason = why ? why : "ok";
    return why == NULL;
}

bool broker_access_may_register(Samspil__V1__Role role)
{
    return role == SAMSPIL__V1__ROLE__ROLE_SERVICE;
}

bool broker_access_may_subscribe(const broker_key_t *key, const void *prefix, size_t len)
{
    if (!key || key->revoked[0])
        return false;
    if (key->role == SAMSPIL__V1__ROLE__ROLE_OPERATOR ||
        key->role == SAMSPIL__V1__ROLE__ROLE_SERVICE)
        return true;
    if (key->role != SAMSPIL__V1__ROLE__ROLE_INTEGRATOR)
        return false;
    const char *p = prefix;
    const char *slash = len ? memchr(p, '/', len) : NULL;
    if (!slash || slash == p)
        return false; /* "" or "regis..." or "/..." would cover other tenants */
    size_t rest = len - (size_t)(slash - p) - 1;
    const char *tenant = slash + 1;
    if (rest >= 1 && tenant[0] == '/')
        return true; /* "<stream>//": stream heads, no tenant data */
    const char *end = rest ? memchr(tenant, '/', rest) : NULL;
    if (!end)
        return false; /* the tenant must be complete: "<stream>/<tenant>/" */
    size_t tlen = (size_t)(end - tenant);
    for (size_t i = 0; i < key->ntenants; i++)
        if (strlen(key->tenants[i]) == tlen && memcmp(key->tenants[i], tenant, tlen) == 0)
            return true;
    return false;
}

int broker_access_pack_principal(const broker_key_t *key, uint8_t **packed, size_t *size)
{
    Samspil__V1__Principal principal = SAMSPIL__V1__PRINCIPAL__INIT;
    char *tenants[BROKER_KEYS_MAX_TENANTS];
    principal.client_id = (char *)key->name;
    principal.role = key->role;
    principal.all_tenants = key->all_tenants;
    if (!key->all_tenants) {
        for (size_t i = 0; i < key->ntenants; i++)
            tenants[i] = (char *)key->tenants[i];
        principal.n_tenants = key->ntenants;
        principal.tenants = tenants;
    }
    *size = samspil__v1__principal__get_packed_size(&principal);
    *packed = malloc(*size ? *size : 1);
    if (!*packed)
        return -1;
    samspil__v1__principal__pack(&principal, *packed);
    return 0;
}

bool broker_access_local_endpoint(const char *endpoint)
{
    if (!endpoint)
        return false;
    if (strncmp(endpoint, "ipc://", 6) == 0)
        return endpoint[6] != '\0';
    if (strncmp(endpoint, "inproc://", 9) == 0)
        return endpoint[9] != '\0';
    if (strncmp(endpoint, "tcp://", 6) != 0)
        return false;
    const char *host = endpoint + 6;
    if (strchr(host, ';'))
        return false; /* "source;destination" */
    const char *colon = strrchr(host, ':');
    if (!colon || colon[1] == '\0')
        return false;
    size_t len = (size_t)(colon - host);
    if ((len == 9 && memcmp(host, "localhost", 9) == 0) ||
        (len == 5 && memcmp(host, "[::1]", 5) == 0))
        return true;
    /* 127.a.b.c, digits and dots only */
    if (len < 9 || len > 15 || memcmp(host, "127.", 4) != 0)
        return false;
    int dots = 0;
    for (size_t i = 0; i < len; i++) {
        if (host[i] == '.')
            dots++;
        else if (host[i] < '0' || host[i] > '9')
            return false;
    }
    return dots == 3;
}
