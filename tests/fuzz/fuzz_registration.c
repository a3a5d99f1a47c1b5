/*
 * fuzz_registration.c - libFuzzer target: what samspil-registration does with
 * a REQUEST before any SQL (registration_handle in registration_handlers.c):
 * decode the principal frame and the RegistrationRequest body, find the
 * operation, check access, validate every field, check restricted writes;
 * and the redaction every reply passes through (registration_redact.c).
 *
 * Input: one control byte, then frames (tests/fuzz/fuzz_input.h):
 *   frame 0  packed samspil.v1.Principal; when empty, a principal built from
 *            the control byte (bits 0-2 role, bit 3 all tenants, bits 4-6
 *            tenants 101, 751, 147), so the fuzzer reaches past the checks
 *   frame 1  packed samspil.v1.RegistrationRequest
 *   frame 2  packed samspil.v1.RegistrationReply, redacted for that
 *            principal and the request's tenant (optional)
 *
 * Checked beyond memory safety: every refusal carries a code, a field and a
 * printable UTF-8 message; an accepted request's principal has a role the
 * operation allows and may act for its tenant; readers never reach
 * individual data; a request that passes sets contact points or the
 * vulnerable flag only for a principal that may write them (sees them, or
 * an integrator of the tenant); no error message
 * quotes a CPR number from an external ref; after redaction a principal
 * that may not see them gets no contact points and no vulnerable flag.
 */
#include "fuzz_input.h"
#include "registration_access.h"
#include "registration_cpr.h"
#include "registration_hash.h"
#include "registration_redact.h"
#include "registration_validate.h"
#include "sp_crypto.h"
#include "sp_error.h"
#include "sp_mdp.h"
#include "sp_principal.h"

#include "samspil/v1/registration.pb-c.h"

#include <stdint.h>
#include <string.h>
#include <strings.h>

#define OP(x) SAMSPIL__V1__REGISTRATION_REQUEST__OP_##x

/* True if `s` is valid UTF-8 without control characters. */
static bool s_printable_utf8(const char *s)
{
    const unsigned char *p = (const unsigned char *)s;
    while (*p) {
        unsigned char c = *p;
        size_t n = c < 0x80             ? 1
                   : (c & 0xe0) == 0xc0 ? 2
                   : (c & 0xf0) == 0xe0 ? 3
                   : (c & 0xf8) == 0xf0 ? 4
                                        : 0;
        if (n == 0 || (n == 1 && (c < 0x20 || c == 0x7f)))
            return false;
        for (size_t i = 1; i < n; i++)
            if ((p[i] & 0xc0) != 0x80)
                return false;
        p += n;
    }
    return true;
}

static void s_check_error(const sp_error_t *err)
{
    FZ_CHECK(sp_error_is_set(err));
    FZ_CHECK(err->message[0] != '\0');
    FZ_CHECK(s_printable_utf8(err->message));
    FZ_CHECK(s_printable_utf8(err->field));
    FZ_CHECK(strcmp(sp_error_code_name(err->code), "unknown") != 0);
}

/* The actor a create, upsert or update carries, or NULL. */
static const Samspil__V1__Actor *s_actor(const Samspil__V1__RegistrationRequest *req)
{
    switch (req->op_case) {
    case OP(ACTOR_CREATE):
        return req->actor_create ? req->actor_create->actor : NULL;
    case OP(ACTOR_UPSERT):
        return req->actor_upsert ? req->actor_upsert->actor : NULL;
    case OP(ACTOR_UPDATE):
        return req->actor_update ? req->actor_update->actor : NULL;
    default:
        return NULL;
    }
}

/* A CPR number some error message might echo: the number part of an
 * actor's "cpr:..." ref, when it has at least six digits. */
static const char *s_cpr_in_request(const Samspil__V1__RegistrationRequest *req)
{
    const char *ref = NULL;
    const Samspil__V1__Actor *a = s_actor(req);
    if (a)
        ref = a->external_ref;
    else if (req->op_case == OP(ACTOR_GET) && req->actor_get)
        ref = req->actor_get->external_ref;
    else if (req->op_case == OP(PARTNERSHIP_CREATE) && req->partnership_create &&
             req->partnership_create->partnership)
        ref = req->partnership_create->partnership->external_ref;
    if (!ref || strncasecmp(ref, "cpr:", 4) != 0)
        return NULL;
    int digits = 0;
    for (const char *p = ref + 4; *p; p++)
        digits += *p >= '0' && *p <= '9';
    return digits >= 6 ? ref + 4 : NULL;
}

/* Ops whose replies carry individual data about people. */
static bool s_personal_op(registration_opcase_t op)
{
    switch (op) {
    case OP(ACTOR_CREATE):
    case OP(ACTOR_GET):
    case OP(ACTOR_LIST):
    case OP(ACTOR_UPDATE):
    case OP(ACTOR_UPSERT):
    case OP(MEMBER_ADD):
    case OP(MEMBER_LIST):
    case OP(MEMBER_END):
    case OP(RELATION_ADD):
    case OP(RELATION_LIST):
    case OP(CONSENT_RECORD):
    case OP(CONSENT_WITHDRAW):
    case OP(CONSENT_LIST):
    case OP(PERSON_EXPORT):
    case OP(PERSON_ERASE):
        return true;
    default:
        return false;
    }
}

static const uint8_t s_cpr_key[32] = "fuzz cpr key, 32 bytes long ...";

static void s_request(const sp_principal_t *principal, Samspil__V1__RegistrationRequest *req)
{
    sp_error_t err;
    sp_error_clear(&err);
    registration_checked_t checked;
    memset(&checked, 0, sizeof checked);
    const registration_op_t *op = registration_op_find(req->op_case);
    bool access = false, valid = false, writes = false;
    if (!op) {
        FZ_CHECK(req->op_case == SAMSPIL__V1__REGISTRATION_REQUEST__OP__NOT_SET ||
                 !registration_op_find(req->op_case));
        return;
    }
    FZ_CHECK(op->op == req->op_case && op->name && op->name[0]);
    const registration_access_t *rule = registration_access_find(req->op_case);
    FZ_CHECK(rule != NULL && rule->op == req->op_case);
    if (registration_access_check(req, principal, &err) == 0) {
        access = true;
        if (registration_validate(req, &checked, &err) == 0) {
            valid = true;
            if (registration_redact_check_write(principal, req, checked.update_mask, &err) == 0)
                writes = true;
        }
    }
    if (!writes)
        s_check_error(&err);
    else
        FZ_CHECK(!sp_error_is_set(&err));

    /* an error about the ref never quotes the CPR number in it */
    const char *cpr = s_cpr_in_request(req);
    if (cpr && sp_error_is_set(&err) && strstr(err.field, "external_ref"))
        FZ_CHECK(strstr(err.message, cpr) == NULL);

    if (access) {
        FZ_CHECK(sp_principal_has_role(principal, rule->roles));
        if (rule->scope == REGISTRATION_SCOPE_TENANT)
            FZ_CHECK(sp_principal_may_act_for(principal, req->tenant));
        if (rule->scope == REGISTRATION_SCOPE_SERVICE)
            FZ_CHECK(principal->all_tenants);
        if (principal->role == SP_ROLE_READER)
            FZ_CHECK(!s_personal_op(req->op_case));
    }
    if (valid) {
        FZ_CHECK(checked.limit <= REGISTRATION_PAGE_MAX);
        uint8_t h1[REGISTRATION_HASH_SIZE], h2[REGISTRATION_HASH_SIZE];
        registration_request_hash(req, h1);
        registration_request_hash(req, h2);
        FZ_CHECK(memcmp(h1, h2, sizeof h1) == 0);
    }
    /* restricted fields: written by those who see them and by the tenant's
     * integrators (case systems supplying them), by no one else */
    bool may_write = registration_redact_may_write(principal, req->tenant);
    FZ_CHECK(may_write == (registration_redact_sees(principal, req->tenant) ||
                           (principal->role == SP_ROLE_INTEGRATOR &&
                            sp_principal_may_act_for(principal, req->tenant))));
    if (writes && !may_write) {
        const Samspil__V1__Actor *a = s_actor(req);
        if (req->op_case == OP(ACTOR_UPDATE))
            FZ_CHECK(!(checked.update_mask &
                       (REGISTRATION_ACTOR_CONTACT_POINTS | REGISTRATION_ACTOR_VULNERABLE)));
        else if (a)
            FZ_CHECK(a->n_contact_points == 0 && !a->vulnerable);
    }
    if (writes) {
        /* a "cpr:" ref becomes its pseudonym before anything else sees it */
        sp_error_clear(&err);
        if (registration_cpr_pseudonymise(req, s_cpr_key, &err) == 0) {
            char **slot = registration_cpr_ref_slot(req);
            if (slot && *slot && **slot) {
                FZ_CHECK(strncasecmp(*slot, "cpr:", 4) != 0);
                if (cpr)
                    FZ_CHECK(registration_cpr_is_pseudonym(*slot) &&
                             strlen(*slot) == REGISTRATION_CPR_REF_SIZE - 1 &&
                             strcmp(registration_cpr_display(*slot), SP_CPR_REF_MASKED) == 0);
            }
        } else {
            s_check_error(&err);
        }
    }
}

/* Redaction unlinks without freeing: remember what to link back before
 * free_unpacked. */
typedef struct {
    Samspil__V1__Actor *actor;
    Samspil__V1__ContactPoint **cps;
    size_t n;
    protobuf_c_boolean vulnerable;
} s_saved_t;

static void s_reply(const sp_principal_t *principal, const char *tenant, sp_frame_t body)
{
    Samspil__V1__RegistrationReply *reply =
        samspil__v1__registration_reply__unpack(NULL, body.size, body.data);
    if (!reply)
        return;
    Samspil__V1__Actor **actors = NULL;
    size_t n = 0;
    if (reply->result_case == SAMSPIL__V1__REGISTRATION_REPLY__RESULT_ACTOR && reply->actor) {
        actors = &reply->actor;
        n = 1;
    } else if (reply->result_case == SAMSPIL__V1__REGISTRATION_REPLY__RESULT_ACTORS &&
               reply->actors) {
        actors = reply->actors->items;
        n = reply->actors->n_items;
    }
    s_saved_t *saved = calloc(n ? n : 1, sizeof *saved);
    if (!saved)
        abort();
    for (size_t i = 0; i < n; i++)
        saved[i] = (s_saved_t){actors[i], actors[i]->contact_points, actors[i]->n_contact_points,
                               actors[i]->vulnerable};

    registration_redact_reply(principal, tenant, reply);
    bool sees = registration_redact_sees(principal, tenant);
    for (size_t i = 0; i < n; i++) {
        if (!sees)
            FZ_CHECK(actors[i]->n_contact_points == 0 && !actors[i]->vulnerable);
        else
            FZ_CHECK(actors[i]->n_contact_points == saved[i].n &&
                     actors[i]->vulnerable == saved[i].vulnerable);
    }
    /* the redacted reply still packs */
    size_t size = samspil__v1__registration_reply__get_packed_size(reply);
    uint8_t *packed = malloc(size ? size : 1);
    if (!packed)
        abort();
    FZ_CHECK(samspil__v1__registration_reply__pack(reply, packed) == size);
    free(packed);

    for (size_t i = 0; i < n; i++) {
        saved[i].actor->contact_points = saved[i].cps;
        saved[i].actor->n_contact_points = saved[i].n;
        saved[i].actor->vulnerable = saved[i].vulnerable;
    }
    free(saved);
    samspil__v1__registration_reply__free_unpacked(reply, NULL);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    fz_input_t in;
    fz_init(&in, data, size);
    uint8_t control = fz_byte(&in);
    fz_message_t msg;
    fz_message(&in, 3, &msg);

    Samspil__V1__Principal *decoded = NULL;
    Samspil__V1__Principal synthetic = SAMSPIL__V1__PRINCIPAL__INIT;
    char *tenants[3];
    static char *const codes[3] = {"101", "751", "147"};
    const sp_principal_t *principal = &synthetic;
    if (msg.count > 0 && msg.frames[0].size > 0) {
        if (msg.frames[0].size > SP_MDP_MAX_FRAME_SIZE)
            goto done;
        decoded = samspil__v1__principal__unpack(NULL, msg.frames[0].size, msg.frames[0].data);
        if (!decoded)
            goto done; /* sp_worker answers "internal" */
        principal = decoded;
    } else {
        synthetic.client_id = "fuzz";
        synthetic.role = (Samspil__V1__Role)(control & 7);
        synthetic.all_tenants = (control & 8) != 0;
        for (int i = 0; i < 3; i++)
            if (control & (0x10 << i))
                tenants[synthetic.n_tenants++] = codes[i];
        synthetic.tenants = tenants;
    }

    Samspil__V1__RegistrationRequest *req = NULL;
    if (msg.count > 1 && msg.frames[1].size <= SP_MDP_MAX_FRAME_SIZE)
        req =
            samspil__v1__registration_request__unpack(NULL, msg.frames[1].size, msg.frames[1].data);
    if (req)
        s_request(principal, req);
    if (msg.count > 2)
        s_reply(principal, req ? req->tenant : "101", msg.frames[2]);
    if (req)
        samspil__v1__registration_request__free_unpacked(req, NULL);
done:
    if (decoded)
        samspil__v1__principal__free_unpacked(decoded, NULL);
    fz_message_free(&msg);
    return 0;
}

/* --- seeds */

static void s_put_msg(sp_buf_t *out, const ProtobufCMessage *msg)
{
    size_t size = protobuf_c_message_get_packed_size(msg);
    uint8_t *packed = malloc(size ? size : 1);
    if (!packed)
        abort();
    protobuf_c_message_pack(msg, packed);
    fz_put_frame(out, packed, size);
    free(packed);
}

/* control: facilitator (3) of 101 (0x10); the principal frame is empty */
static void s_seed(const char *dir, const char *name, uint8_t control,
                   const Samspil__V1__RegistrationRequest *req,
                   const Samspil__V1__RegistrationReply *reply)
{
    sp_buf_t out;
    sp_buf_init(&out);
    fz_put_byte(&out, control);
    fz_put_frame(&out, "", 0);
    s_put_msg(&out, &req->base);
    if (reply)
        s_put_msg(&out, &reply->base);
    fz_write_seed(dir, name, &out);
    sp_buf_free(&out);
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    const char *dir = fz_seed_dir();
    if (!dir)
        return 0;
    const uint8_t facilitator_101 = 3 | 0x10, integrator_101 = 2 | 0x10, operator_all = 1 | 8,
                  reader_101 = 4 | 0x10;

    Samspil__V1__ContactPoint cp1 = SAMSPIL__V1__CONTACT_POINT__INIT;
    cp1.kind = SAMSPIL__V1__CONTACT_KIND__CONTACT_KIND_EMAIL;
    cp1.value = "someone@example.org";
    Samspil__V1__ContactPoint cp2 = SAMSPIL__V1__CONTACT_POINT__INIT;
    cp2.kind = SAMSPIL__V1__CONTACT_KIND__CONTACT_KIND_PHONE;
    cp2.value = "+4512345678";
    Samspil__V1__ContactPoint *cps[] = {&cp1, &cp2};
    char *interests[] = {"skole", "idraet"};
    Samspil__V1__Actor actor = SAMSPIL__V1__ACTOR__INIT;
    actor.kind = SAMSPIL__V1__ACTOR_KIND__ACTOR_KIND_CITIZEN;
    actor.name = "Fuzz Person";
    actor.interests = interests;
    actor.n_interests = 2;
    actor.preferred_language = "da";
    actor.contact_points = cps;
    actor.n_contact_points = 2;
    actor.vulnerable = true;

    Samspil__V1__ActorCreate create = SAMSPIL__V1__ACTOR_CREATE__INIT;
    create.actor = &actor;
    Samspil__V1__RegistrationRequest req = SAMSPIL__V1__REGISTRATION_REQUEST__INIT;
    req.tenant = "101";
    req.idempotency_key = "fuzz-key-1";
    req.op_case = OP(ACTOR_CREATE);
    req.actor_create = &create;
    Samspil__V1__RegistrationReply reply = SAMSPIL__V1__REGISTRATION_REPLY__INIT;
    reply.result_case = SAMSPIL__V1__REGISTRATION_REPLY__RESULT_ACTOR;
    reply.actor = &actor;
    s_seed(dir, "actor-create-facilitator", facilitator_101, &req, &reply);
    s_seed(dir, "actor-create-integrator", integrator_101, &req, &reply);

    actor.external_ref = "cpr:010190-1234";
    Samspil__V1__ActorUpsert upsert = SAMSPIL__V1__ACTOR_UPSERT__INIT;
    upsert.actor = &actor;
    req.op_case = OP(ACTOR_UPSERT);
    req.actor_upsert = &upsert;
    s_seed(dir, "actor-upsert-cpr", operator_all, &req, NULL);
    actor.external_ref = "cpr:320190-1234";
    s_seed(dir, "actor-upsert-bad-cpr", operator_all, &req, NULL);
    actor.external_ref = "";

    char *mask[] = {"name", "contact_points"};
    Samspil__V1__ActorUpdate update = SAMSPIL__V1__ACTOR_UPDATE__INIT;
    actor.id = "0190f5a4-7b7e-7c3a-9d2e-3f1a2b4c5d6e";
    update.actor = &actor;
    update.update_mask = mask;
    update.n_update_mask = 2;
    req.op_case = OP(ACTOR_UPDATE);
    req.actor_update = &update;
    s_seed(dir, "actor-update-integrator", integrator_101, &req, NULL);

    Samspil__V1__PageRequest page = SAMSPIL__V1__PAGE_REQUEST__INIT;
    page.limit = 20;
    page.cursor = "0190f5a4-7b7e-7c3a-9d2e-3f1a2b4c5d6e";
    Samspil__V1__ActorList list = SAMSPIL__V1__ACTOR_LIST__INIT;
    list.page = &page;
    list.interest = "skole";
    req.op_case = OP(ACTOR_LIST);
    req.actor_list = &list;
    Samspil__V1__Actor *items[] = {&actor, &actor};
    Samspil__V1__ActorPage apage = SAMSPIL__V1__ACTOR_PAGE__INIT;
    apage.items = items;
    apage.n_items = 2;
    apage.next = "0190f5a4-7b7e-7c3a-9d2e-3f1a2b4c5d6f";
    reply.result_case = SAMSPIL__V1__REGISTRATION_REPLY__RESULT_ACTORS;
    reply.actors = &apage;
    s_seed(dir, "actor-list-integrator", integrator_101, &req, &reply);
    s_seed(dir, "actor-list-reader", reader_101, &req, &reply);

    Samspil__V1__Partnership partnership = SAMSPIL__V1__PARTNERSHIP__INIT;
    partnership.name = "Fuzz partnership";
    partnership.purpose = "a shared purpose";
    partnership.external_ref = "case:77";
    Samspil__V1__PartnershipCreate pcreate = SAMSPIL__V1__PARTNERSHIP_CREATE__INIT;
    pcreate.partnership = &partnership;
    req.op_case = OP(PARTNERSHIP_CREATE);
    req.partnership_create = &pcreate;
    s_seed(dir, "partnership-create", facilitator_101, &req, NULL);

    Samspil__V1__MemberRole roles[] = {SAMSPIL__V1__MEMBER_ROLE__MEMBER_ROLE_INITIATOR};
    Samspil__V1__Membership membership = SAMSPIL__V1__MEMBERSHIP__INIT;
    membership.partnership_id = "0190f5a4-7b7e-7c3a-9d2e-3f1a2b4c5d6e";
    membership.actor_id = "0190f5a4-7b7e-7c3a-9d2e-3f1a2b4c5d6f";
    membership.roles = roles;
    membership.n_roles = 1;
    membership.knowledge_basis = SAMSPIL__V1__KNOWLEDGE_BASIS__KNOWLEDGE_BASIS_EXPERIENTIAL;
    membership.joined_on = "2026-01-31";
    Samspil__V1__MemberAdd madd = SAMSPIL__V1__MEMBER_ADD__INIT;
    madd.membership = &membership;
    req.op_case = OP(MEMBER_ADD);
    req.member_add = &madd;
    s_seed(dir, "member-add", integrator_101, &req, NULL);

    Samspil__V1__Consent consent = SAMSPIL__V1__CONSENT__INIT;
    consent.actor_id = "0190f5a4-7b7e-7c3a-9d2e-3f1a2b4c5d6f";
    consent.purpose = "contact";
    consent.channel = SAMSPIL__V1__CONSENT_CHANNEL__CONSENT_CHANNEL_PAPER;
    consent.text_version = "2026-01";
    Samspil__V1__ConsentRecord crec = SAMSPIL__V1__CONSENT_RECORD__INIT;
    crec.consent = &consent;
    req.op_case = OP(CONSENT_RECORD);
    req.consent_record = &crec;
    s_seed(dir, "consent-record", facilitator_101, &req, NULL);

    Samspil__V1__TenantCreate tcreate = SAMSPIL__V1__TENANT_CREATE__INIT;
    tcreate.code = "751";
    tcreate.name = "Aarhus Kommune";
    req.op_case = OP(TENANT_CREATE);
    req.tenant_create = &tcreate;
    req.tenant = "";
    s_seed(dir, "tenant-create", operator_all, &req, NULL);
    exit(0);
}
