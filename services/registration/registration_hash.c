/*
 * registration_hash.c - SHA-256 fingerprints of normalised create requests.
 */
#include "registration_hash.h"

#include <sodium.h>
#include <string.h>

/* A protobuf-c output buffer that feeds a SHA-256 state (no allocation). */
typedef struct {
    ProtobufCBuffer base;
    crypto_hash_sha256_state state;
} s_hasher_t;

static void s_append(ProtobufCBuffer *buffer, size_t len, const uint8_t *data)
{
    s_hasher_t *h = (s_hasher_t *)buffer;
    crypto_hash_sha256_update(&h->state, data, len);
}

#define OP(x) SAMSPIL__V1__REGISTRATION_REQUEST__OP_##x

void registration_request_hash(const Samspil__V1__RegistrationRequest *req,
                               uint8_t out[REGISTRATION_HASH_SIZE])
{
    s_hasher_t h;
    h.base.append = s_append;
    crypto_hash_sha256_init(&h.state);
    uint8_t op[4] = {(uint8_t)(req->op_case >> 24), (uint8_t)(req->op_case >> 16),
                     (uint8_t)(req->op_case >> 8), (uint8_t)req->op_case};
    crypto_hash_sha256_update(&h.state, op, sizeof op);

    /* shallow copies with the server-assigned fields cleared */
    switch (req->op_case) {
    case OP(ACTOR_CREATE):
    case OP(ACTOR_UPSERT): {
        const Samspil__V1__Actor *src = req->op_case == OP(ACTOR_CREATE)
                                            ? (req->actor_create ? req->actor_create->actor : NULL)
                                            : (req->actor_upsert ? req->actor_upsert->actor : NULL);
        if (src) {
            Samspil__V1__Actor a = *src;
            a.id = a.created_at = a.updated_at = (char *)"";
            protobuf_c_message_pack_to_buffer(&a.base, &h.base);
        }
        break;
    }
    case OP(PARTNERSHIP_CREATE):
        if (req->partnership_create && req->partnership_create->partnership) {
            Samspil__V1__Partnership p = *req->partnership_create->partnership;
            p.id = p.created_at = p.updated_at = (char *)"";
            protobuf_c_message_pack_to_buffer(&p.base, &h.base);
        }
        break;
    case OP(MEMBER_ADD):
        if (req->member_add && req->member_add->membership) {
            Samspil__V1__Membership m = *req->member_add->membership;
            m.id = m.created_at = (char *)"";
            protobuf_c_message_pack_to_buffer(&m.base, &h.base);
        }
        break;
    case OP(RELATION_ADD):
        if (req->relation_add && req->relation_add->relation) {
            Samspil__V1__Relation r = *req->relation_add->relation;
            r.id = r.created_at = (char *)"";
            protobuf_c_message_pack_to_buffer(&r.base, &h.base);
        }
        break;
    case OP(CONSENT_RECORD):
        if (req->consent_record && req->consent_record->consent) {
            Samspil__V1__Consent c = *req->consent_record->consent;
            c.id = (char *)"";
            protobuf_c_message_pack_to_buffer(&c.base, &h.base);
        }
        break;
    default: {
        /* any other op: the whole request minus envelope fields */
        Samspil__V1__RegistrationRequest copy = *req;
        copy.tenant = copy.idempotency_key = (char *)"";
        copy.correlation_id = 0;
        protobuf_c_message_pack_to_buffer(&copy.base, &h.base);
        break;
    }
    }
    crypto_hash_sha256_final(&h.state, out);
}

void registration_hash_hex(const uint8_t hash[REGISTRATION_HASH_SIZE],
                           char out[REGISTRATION_HASH_HEX_SIZE])
{
    static const char digits[] = "0123456789abcdef";
    out[0] = '\\';
    out[1] = 'x';
    for (size_t i = 0; i < REGISTRATION_HASH_SIZE; i++) {
        out[2 + 2 * i] = digits[hash[i] >> 4];
        out[3 + 2 * i] = digits[hash[i] & 0xF];
    }
    out[REGISTRATION_HASH_HEX_SIZE - 1] = '\0';
}
