/*
 * registration_cpr.c - "cpr:" external refs replaced by keyed pseudonyms,
 * and pseudonyms masked for display (see registration_cpr.h).
 */
#include "registration_cpr.h"

#include "sp_crypto.h"

#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define OP(x) SAMSPIL__V1__REGISTRATION_REQUEST__OP_##x

char **registration_cpr_ref_slot(Samspil__V1__RegistrationRequest *req)
{
    switch (req->op_case) {
    case OP(ACTOR_CREATE):
        return req->actor_create && req->actor_create->actor
                   ? &req->actor_create->actor->external_ref
                   : NULL;
    case OP(ACTOR_UPSERT):
        return req->actor_upsert && req->actor_upsert->actor
                   ? &req->actor_upsert->actor->external_ref
                   : NULL;
    case OP(ACTOR_GET):
        return req->actor_get ? &req->actor_get->external_ref : NULL;
    case OP(PERSON_EXPORT):
        return req->person_export ? &req->person_export->external_ref : NULL;
    case OP(PERSON_ERASE):
        return req->person_erase ? &req->person_erase->external_ref : NULL;
    default:
        return NULL;
    }
}

static bool s_is_cpr_ref(const char *ref)
{
    return ref && strncmp(ref, SP_CPR_REF_SYSTEM ":", sizeof SP_CPR_REF_SYSTEM) == 0;
}

int registration_cpr_stored_ref(const uint8_t *key, const char *tenant, const char *ref,
                                char out[REGISTRATION_CPR_REF_SIZE])
{
    char cpr[SP_CPR_SIZE], hex[SP_PSEUDONYM_HEX];
    out[0] = '\0';
    if (!key || !s_is_cpr_ref(ref) ||
        sp_cpr_parse(ref + sizeof SP_CPR_REF_SYSTEM, cpr) != SP_CPR_OK)
        return -1;
    sp_cpr_pseudonym(key, tenant, cpr, hex);
    sodium_memzero(cpr, sizeof cpr);
    snprintf(out, REGISTRATION_CPR_REF_SIZE, SP_CPR_HMAC_SYSTEM ":%s", hex);
    return 0;
}

int registration_cpr_pseudonymise(Samspil__V1__RegistrationRequest *req, const uint8_t *key,
                                  sp_error_t *err)
{
    char **slot = registration_cpr_ref_slot(req);
    if (!slot || !s_is_cpr_ref(*slot))
        return 0;
    if (!key)
        return sp_error_set(err, SP_INTERNAL, "",
                            "the service has no CPR key; the operator must create its data keys");
    char stored[REGISTRATION_CPR_REF_SIZE];
    if (registration_cpr_stored_ref(key, req->tenant, *slot, stored) != 0)
        return sp_error_set(err, SP_INVALID_ARGUMENT, "", "invalid CPR number");
    char *copy = strdup(stored);
    if (!copy)
        abort();
    sodium_memzero(*slot, strlen(*slot));
    free(*slot);
    *slot = copy;
    return 0;
}

bool registration_cpr_is_pseudonym(const char *ref)
{
    return ref && strncmp(ref, SP_CPR_HMAC_SYSTEM ":", sizeof SP_CPR_HMAC_SYSTEM) == 0;
}

const char *registration_cpr_display(const char *ref)
{
    if (!ref)
        return "";
    return registration_cpr_is_pseudonym(ref) ? SP_CPR_REF_MASKED : ref;
}
