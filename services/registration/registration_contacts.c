/*
 * registration_contacts.c - contact points sealed at rest, with a keyed
 * fingerprint for change detection (see registration_contacts.h).
 */
#include "registration_contacts.h"

#include <errno.h>
#include <sodium.h>
#include <stdlib.h>
#include <string.h>

static const char s_fp_domain[] = "samspil-fp-v1";

int registration_contacts_fingerprint(sp_keyring_t *keys, const char *tenant, const char *actor_id,
                                      const uint8_t *packed, size_t len,
                                      char out[REGISTRATION_FP_SIZE])
{
    out[0] = '\0';
    const uint8_t *key = sp_keyring_cpr_key(keys);
    uint8_t ad[SP_SEAL_AD_MAX];
    size_t adlen = sp_seal_ad(ad, REGISTRATION_CONTACTS_PURPOSE, tenant, actor_id);
    if (!key || adlen == 0) {
        errno = ENOKEY;
        return -1;
    }
    /* "samspil-fp-v1" NUL <associated data> NUL <packed list> */
    size_t mlen = sizeof s_fp_domain + adlen + 1 + len;
    uint8_t *msg = malloc(mlen);
    if (!msg) {
        errno = ENOMEM;
        return -1;
    }
    memcpy(msg, s_fp_domain, sizeof s_fp_domain);
    memcpy(msg + sizeof s_fp_domain, ad, adlen);
    msg[sizeof s_fp_domain + adlen] = 0;
    if (len)
        memcpy(msg + sizeof s_fp_domain + adlen + 1, packed, len);
    uint8_t mac[SP_HMAC_SIZE];
    sp_hmac_sha256(key, SP_DATA_KEY_SIZE, msg, mlen, mac);
    sodium_memzero(msg, mlen);
    free(msg);
    out[0] = '\\';
    out[1] = 'x';
    sodium_bin2hex(out + 2, REGISTRATION_FP_SIZE - 2, mac, sizeof mac);
    return 0;
}

int registration_contacts_seal(sp_keyring_t *keys, const char *tenant, const char *actor_id,
                               Samspil__V1__ContactPoint *const *cps, size_t n,
                               registration_sealed_t *out)
{
    out->sealed = NULL;
    out->fp[0] = '\0';
    if (n == 0)
        return 0;
    /* Seal copies holding only the known fields: unknown fields a client
     * sent along must not be stored (one with field number 0 would pack but
     * never unpack again, making the actor unreadable). */
    Samspil__V1__ContactPoint *copies = calloc(n, sizeof *copies);
    Samspil__V1__ContactPoint **items = calloc(n, sizeof *items);
    if (!copies || !items) {
        free(copies);
        free(items);
        errno = ENOMEM;
        return -1;
    }
    for (size_t i = 0; i < n; i++) {
        samspil__v1__contact_point__init(&copies[i]);
        copies[i].kind = cps[i]->kind;
        copies[i].value = cps[i]->value;
        copies[i].preferred = cps[i]->preferred;
        items[i] = &copies[i];
    }
    Samspil__V1__ContactPointList list = SAMSPIL__V1__CONTACT_POINT_LIST__INIT;
    list.n_items = n;
    list.items = items;
    size_t len = samspil__v1__contact_point_list__get_packed_size(&list);
    uint8_t *packed = malloc(len ? len : 1);
    if (!packed) {
        free(copies);
        free(items);
        errno = ENOMEM;
        return -1;
    }
    samspil__v1__contact_point_list__pack(&list, packed);
    free(copies);
    free(items);
    uint8_t ad[SP_SEAL_AD_MAX];
    size_t adlen = sp_seal_ad(ad, REGISTRATION_CONTACTS_PURPOSE, tenant, actor_id);
    int rc = -1;
    if (adlen == 0)
        errno = EINVAL;
    else if (registration_contacts_fingerprint(keys, tenant, actor_id, packed, len, out->fp) == 0)
        rc = (out->sealed = sp_keyring_seal(keys, packed, len, ad, adlen)) ? 0 : -1;
    sodium_memzero(packed, len);
    free(packed);
    if (rc != 0)
        out->fp[0] = '\0';
    return rc;
}

void registration_sealed_clear(registration_sealed_t *s)
{
    free(s->sealed);
    s->sealed = NULL;
    s->fp[0] = '\0';
}

/* Open to the packed bytes (wipe and free with sp_crypto_free). */
static int s_open_packed(sp_keyring_t *keys, const char *tenant, const char *actor_id,
                         const char *sealed, uint8_t **plain, size_t *len)
{
    uint8_t ad[SP_SEAL_AD_MAX];
    size_t adlen = sp_seal_ad(ad, REGISTRATION_CONTACTS_PURPOSE, tenant, actor_id);
    if (adlen == 0) {
        errno = EINVAL;
        return -1;
    }
    return sp_keyring_open(keys, sealed, ad, adlen, plain, len);
}

int registration_contacts_open(sp_keyring_t *keys, const char *tenant, const char *actor_id,
                               const char *sealed, ProtobufCAllocator *allocator,
                               Samspil__V1__ContactPointList **out)
{
    *out = NULL;
    uint8_t *plain = NULL;
    size_t len = 0;
    if (s_open_packed(keys, tenant, actor_id, sealed, &plain, &len) != 0)
        return -1;
    *out = samspil__v1__contact_point_list__unpack(allocator, len, plain);
    sp_crypto_free(plain, len + 1);
    if (!*out) {
        errno = EINVAL;
        return -1;
    }
    return 0;
}

int registration_contacts_reseal(sp_keyring_t *keys, const char *tenant, const char *actor_id,
                                 const char *sealed, char **resealed)
{
    *resealed = NULL;
    uint8_t *plain = NULL;
    size_t len = 0;
    if (s_open_packed(keys, tenant, actor_id, sealed, &plain, &len) != 0)
        return -1;
    uint8_t ad[SP_SEAL_AD_MAX];
    size_t adlen = sp_seal_ad(ad, REGISTRATION_CONTACTS_PURPOSE, tenant, actor_id);
    *resealed = sp_keyring_seal(keys, plain, len, ad, adlen);
    sp_crypto_free(plain, len + 1);
    return *resealed ? 0 : -1;
}
