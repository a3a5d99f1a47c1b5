/*
 * broker_principal.c - the principal of each message: a registry lookup per
 * message, and a cache of packed principals per key.
 *
 * Packed principals are never freed before the principal source: requests
 * held by the core point at them.  The cache grows only with keys that
 * were valid when seen, so it is bounded by the registry's size (plus one
 * entry each time a key's line is edited by hand).
 */
#include "broker_principal.h"
#include "broker_access.h"
#include "sp_principal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define CACHE_BUCKETS 1024

typedef struct cache_entry {
    broker_key_t key; /* as it was packed */
    uint8_t *packed;
    size_t packed_size;
    struct cache_entry *next;    /* in the bucket */
    struct cache_entry *retired; /* older packings of the same key */
} cache_entry_t;

struct broker_principal_t {
    bool development;
    broker_keys_t *keys; /* borrowed; NULL in development mode */
    uint8_t *dev_packed; /* the development principal, packed once */
    size_t dev_packed_size;
    cache_entry_t *buckets[CACHE_BUCKETS];
};

broker_principal_t *broker_principal_new_development(void)
{
    broker_principal_t *self = calloc(1, sizeof *self);
    if (!self)
        return NULL;
    Samspil__V1__Principal principal = SAMSPIL__V1__PRINCIPAL__INIT;
    principal.client_id = (char *)BROKER_PRINCIPAL_DEV_CLIENT;
    principal.role = SP_ROLE_OPERATOR;
    principal.all_tenants = true;
    self->dev_packed_size = samspil__v1__principal__get_packed_size(&principal);
    self->dev_packed = malloc(self->dev_packed_size ? self->dev_packed_size : 1);
    if (!self->dev_packed) {
        free(self);
        return NULL;
    }
    samspil__v1__principal__pack(&principal, self->dev_packed);
    self->development = true;
    return self;
}

broker_principal_t *broker_principal_new(broker_keys_t *keys)
{
    broker_principal_t *self = calloc(1, sizeof *self);
    if (!self)
        return NULL;
    self->keys = keys;
    return self;
}

static void s_entry_free(cache_entry_t *e)
{
    while (e) {
        cache_entry_t *older = e->retired;
        free(e->packed);
        free(e);
        e = older;
    }
}

void broker_principal_destroy(broker_principal_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    broker_principal_t *self = *self_p;
    for (size_t i = 0; i < CACHE_BUCKETS; i++) {
        cache_entry_t *e = self->buckets[i];
        while (e) {
            cache_entry_t *next = e->next;
            s_entry_free(e);
            e = next;
        }
    }
    free(self->dev_packed);
    free(self);
    *self_p = NULL;
}

bool broker_principal_development_mode(const broker_principal_t *self)
{
    return self->development;
}

static size_t s_hash(const char *s)
{
    uint32_t h = 2166136261u;
    for (; *s; s++)
        h = (h ^ (uint8_t)*s) * 16777619u;
    return h % CACHE_BUCKETS;
}

/* Same principal?  (revoked is not part of it) */
static bool s_same(const broker_key_t *a, const broker_key_t *b)
{
    if (strcmp(a->name, b->name) != 0 || a->role != b->role || a->all_tenants != b->all_tenants ||
        a->ntenants != b->ntenants)
        return false;
    for (size_t i = 0; i < a->ntenants; i++)
        if (strcmp(a->tenants[i], b->tenants[i]) != 0)
            return false;
    return true;
}

/* The cache entry for valid `key`, packing it if new or changed; NULL when
 * out of memory. */
static cache_entry_t *s_cached(broker_principal_t *self, const broker_key_t *key)
{
    size_t b = s_hash(key->public_key);
    cache_entry_t **link = &self->buckets[b];
    for (cache_entry_t *e = *link; e; link = &e->next, e = e->next) {
        if (strcmp(e->key.public_key, key->public_key) != 0)
            continue;
        if (s_same(&e->key, key))
            return e;
        break; /* edited by hand: pack again, keep the old bytes alive */
    }
    cache_entry_t *fresh = calloc(1, sizeof *fresh);
    if (!fresh)
        return NULL;
    fresh->key = *key;
    if (broker_access_pack_principal(key, &fresh->packed, &fresh->packed_size) != 0) {
        free(fresh);
        return NULL;
    }
    cache_entry_t *old = *link;
    if (old) { /* replace `old` in the chain, keep it as retired */
        fresh->next = old->next;
        old->next = NULL;
        fresh->retired = old;
    }
    *link = fresh;
    return fresh;
}

broker_keys_status_t broker_principal_lookup(broker_principal_t *self, const char *user_id,
                                             sp_frame_t *packed, Samspil__V1__Role *role)
{
    if (self->development) {
        packed->data = self->dev_packed;
        packed->size = self->dev_packed_size;
        if (role)
            *role = SP_ROLE_OPERATOR;
        return BROKER_KEYS_VALID;
    }
    if (!user_id || !*user_id)
        return BROKER_KEYS_UNKNOWN;
    broker_key_t key;
    broker_keys_status_t status = broker_keys_lookup(self->keys, user_id, &key);
    if (status != BROKER_KEYS_VALID)
        return status;
    cache_entry_t *e = s_cached(self, &key);
    if (!e)
        return BROKER_KEYS_UNKNOWN; /* out of memory: refuse rather than guess */
    packed->data = e->packed;
    packed->size = e->packed_size;
    if (role)
        *role = key.role;
    return BROKER_KEYS_VALID;
}

int broker_principal_for(broker_principal_t *self, const char *user_id, sp_frame_t *packed)
{
    return broker_principal_lookup(self, user_id, packed, NULL) == BROKER_KEYS_VALID ? 0 : -1;
}

int broker_principal_key(broker_principal_t *self, const char *user_id, broker_key_t *out)
{
    if (self->development) {
        memset(out, 0, sizeof *out);
        snprintf(out->name, sizeof out->name, "%s", BROKER_PRINCIPAL_DEV_CLIENT);
        out->role = SP_ROLE_OPERATOR;
        out->all_tenants = true;
        return 0;
    }
    if (!user_id || !*user_id)
        return -1;
    return broker_keys_lookup(self->keys, user_id, out) == BROKER_KEYS_VALID ? 0 : -1;
}
