/*
 * fuzz_ctl_reply.c - libFuzzer target: samspilctl's decoding and printing of
 * what the broker and the services answer (services/ctl/main.c with
 * ctl_output.c): RegistrationReply (entities, pages, errors, the person
 * export document), BrokerStatus (mmi.status) and KeyReply (samspil.keys).
 *
 * Input: one control byte (bits 0-1: which reply type; bit 2: JSON output),
 * then the reply body as the first frame (tests/fuzz/fuzz_input.h).
 *
 * Checked beyond memory safety: every JSON document is valid JSON; text
 * output carries no control characters (C0, DEL, C1) other than newlines
 * and tabs, so a stored value cannot drive the operator's terminal.
 */
#include "ctl_output.h"
#include "fuzz_input.h"
#include "fuzz_json.h"
#include "sp_error.h"

#include "samspil/v1/broker.pb-c.h"
#include "samspil/v1/keys.pb-c.h"
#include "samspil/v1/registration.pb-c.h"

#include <stdint.h>
#include <string.h>

static void s_json(const sp_buf_t *out)
{
    FZ_CHECK(out->len > 0 && out->data[out->len - 1] == '\n');
    FZ_CHECK(fz_json_valid(out->data, out->len));
}

/* Text for a terminal: no C0 but \n and \t, no DEL, no C1 (raw or UTF-8). */
static void s_text(const sp_buf_t *out)
{
    const unsigned char *p = (const unsigned char *)out->data;
    for (size_t i = 0; i < out->len; i++) {
        unsigned char c = p[i];
        FZ_CHECK(c >= 0x20 || c == '\n' || c == '\t');
        FZ_CHECK(c != 0x7f);
        FZ_CHECK(!(c == 0xc2 && i + 1 < out->len && p[i + 1] >= 0x80 && p[i + 1] <= 0x9f));
    }
}

static void s_registration(const Samspil__V1__RegistrationReply *reply, bool json)
{
    sp_buf_t out;
    sp_buf_init(&out);
    if (reply->result_case == SAMSPIL__V1__REGISTRATION_REPLY__RESULT_ERROR && reply->error) {
        ctl_output_error(&out, reply->error);
        s_text(&out);
        sp_buf_free(&out);
        return;
    }
    const ProtobufCMessage *result = ctl_reply_result(reply);
    if (!result) {
        sp_buf_free(&out);
        return;
    }
    ProtobufCMessage *const *items;
    size_t n = ctl_page_items(result, &items);
    const char *next = ctl_page_next(result);
    if (n > 0 || next) {
        if (json) {
            ctl_output_list_json(&out, items, n, next);
            s_json(&out);
        } else {
            ctl_output_list_text(&out, items, n);
            s_text(&out);
        }
    } else if (json) {
        ctl_output_json(&out, result);
        s_json(&out);
    } else {
        ctl_output_id(&out, result);
        s_text(&out);
        sp_buf_reset(&out);
        ctl_output_fields(&out, result);
        s_text(&out);
    }
    if (reply->result_case == SAMSPIL__V1__REGISTRATION_REPLY__RESULT_PERSON) {
        sp_buf_reset(&out);
        ctl_output_person_begin(&out, "0190f5a4-7b7e-7c3a-9d2e-3f1a2b4c5d6e", 1795000000000000);
        ctl_output_person_service(&out, "registration", result, true);
        ctl_output_person_service(&out, "other", &reply->base, false);
        ctl_output_person_end(&out);
        s_json(&out);
    }
    sp_buf_free(&out);
}

static void s_status(const Samspil__V1__BrokerStatus *status, bool json)
{
    sp_buf_t out;
    sp_buf_init(&out);
    if (status->error && status->error->code != SP_OK) {
        ctl_output_error(&out, status->error);
        s_text(&out);
    } else if (json) {
        ctl_output_json(&out, &status->base);
        s_json(&out);
    } else {
        ctl_output_status_text(&out, status);
        s_text(&out);
    }
    sp_buf_free(&out);
}

static void s_keys(const Samspil__V1__KeyReply *reply, bool json)
{
    sp_buf_t out;
    sp_buf_init(&out);
    if (reply->error && reply->error->code != SP_OK) {
        ctl_output_error(&out, reply->error);
        s_text(&out);
    } else if (json) {
        ctl_output_json(&out, &reply->base);
        s_json(&out);
    } else {
        ctl_output_keys_text(&out, reply->keys, reply->n_keys);
        s_text(&out);
        for (size_t i = 0; i < reply->n_keys; i++) {
            char tenants[512];
            ctl_output_key_tenants(reply->keys[i], tenants, sizeof tenants);
            FZ_CHECK(strlen(tenants) < sizeof tenants);
        }
    }
    sp_buf_free(&out);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    fz_input_t in;
    fz_init(&in, data, size);
    uint8_t control = fz_byte(&in);
    bool json = (control & 4) != 0;
    size_t len;
    uint8_t *body = fz_copy(&in, in.size - in.pos, &len);
    switch (control & 3) {
    case 0:
    case 3: {
        Samspil__V1__RegistrationReply *r =
            samspil__v1__registration_reply__unpack(NULL, len, body);
        if (r) {
            s_registration(r, json);
            samspil__v1__registration_reply__free_unpacked(r, NULL);
        }
        break;
    }
    case 1: {
        Samspil__V1__BrokerStatus *s = samspil__v1__broker_status__unpack(NULL, len, body);
        if (s) {
            s_status(s, json);
            samspil__v1__broker_status__free_unpacked(s, NULL);
        }
        break;
    }
    case 2: {
        Samspil__V1__KeyReply *k = samspil__v1__key_reply__unpack(NULL, len, body);
        if (k) {
            s_keys(k, json);
            samspil__v1__key_reply__free_unpacked(k, NULL);
        }
        break;
    }
    }
    free(body);
    return 0;
}

/* --- seeds */

static void s_seed(const char *dir, const char *name, uint8_t control, const ProtobufCMessage *msg)
{
    size_t size = protobuf_c_message_get_packed_size(msg);
    uint8_t *packed = malloc(size ? size : 1);
    if (!packed)
        abort();
    protobuf_c_message_pack(msg, packed);
    sp_buf_t buf;
    sp_buf_init(&buf);
    fz_put_byte(&buf, control);
    sp_buf_append(&buf, packed, size);
    fz_write_seed(dir, name, &buf);
    sp_buf_free(&buf);
    free(packed);
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    fz_trace_init();
    const char *dir = fz_seed_dir();
    if (!dir)
        return 0;
    Samspil__V1__ContactPoint cp = SAMSPIL__V1__CONTACT_POINT__INIT;
    cp.kind = SAMSPIL__V1__CONTACT_KIND__CONTACT_KIND_EMAIL;
    cp.value = "someone@example.org";
    Samspil__V1__ContactPoint *cps[] = {&cp};
    char *interests[] = {"skole"};
    Samspil__V1__Actor actor = SAMSPIL__V1__ACTOR__INIT;
    actor.id = "0190f5a4-7b7e-7c3a-9d2e-3f1a2b4c5d6e";
    actor.kind = SAMSPIL__V1__ACTOR_KIND__ACTOR_KIND_CITIZEN;
    actor.name = "Fuzz Person";
    actor.interests = interests;
    actor.n_interests = 1;
    actor.contact_points = cps;
    actor.n_contact_points = 1;
    actor.created_at = "2026-11-27T07:00:00Z";
    Samspil__V1__RegistrationReply reply = SAMSPIL__V1__REGISTRATION_REPLY__INIT;
    reply.result_case = SAMSPIL__V1__REGISTRATION_REPLY__RESULT_ACTOR;
    reply.actor = &actor;
    s_seed(dir, "actor-text", 0, &reply.base);
    s_seed(dir, "actor-json", 4, &reply.base);

    Samspil__V1__Actor *items[] = {&actor, &actor};
    Samspil__V1__ActorPage page = SAMSPIL__V1__ACTOR_PAGE__INIT;
    page.items = items;
    page.n_items = 2;
    page.next = "0190f5a4-7b7e-7c3a-9d2e-3f1a2b4c5d6f";
    reply.result_case = SAMSPIL__V1__REGISTRATION_REPLY__RESULT_ACTORS;
    reply.actors = &page;
    s_seed(dir, "actor-page-text", 0, &reply.base);
    s_seed(dir, "actor-page-json", 4, &reply.base);

    Samspil__V1__Error err = SAMSPIL__V1__ERROR__INIT;
    err.code = SP_INVALID_ARGUMENT;
    err.field = "actor_create.actor.name";
    err.message = "name is required";
    reply.result_case = SAMSPIL__V1__REGISTRATION_REPLY__RESULT_ERROR;
    reply.error = &err;
    s_seed(dir, "error", 0, &reply.base);

    Samspil__V1__PersonEvent pe = SAMSPIL__V1__PERSON_EVENT__INIT;
    pe.seq = 3;
    pe.type = "actor.registered";
    pe.entity_id = actor.id;
    pe.occurred_at_us = 1795000000000000;
    uint8_t event_bytes[] = {0x0a, 0x0c, 'r', 'e', 'g', 'i', 's',  't',
                             'r',  'a',  't', 'i', 'o', 'n', 0x10, 0x03};
    pe.event.data = event_bytes;
    pe.event.len = sizeof event_bytes;
    Samspil__V1__PersonEvent *pes[] = {&pe};
    Samspil__V1__Person person = SAMSPIL__V1__PERSON__INIT;
    person.actor = &actor;
    person.events = pes;
    person.n_events = 1;
    person.exported_at = "2026-11-27T07:00:00Z";
    reply.result_case = SAMSPIL__V1__REGISTRATION_REPLY__RESULT_PERSON;
    reply.person = &person;
    s_seed(dir, "person", 4, &reply.base);

    Samspil__V1__ServiceStatus svc = SAMSPIL__V1__SERVICE_STATUS__INIT;
    svc.name = "samspil.registration";
    svc.workers = 2;
    svc.credit = 20;
    Samspil__V1__ServiceStatus *svcs[] = {&svc};
    Samspil__V1__BrokerStatus status = SAMSPIL__V1__BROKER_STATUS__INIT;
    status.services = svcs;
    status.n_services = 1;
    status.version = "0.1.0";
    status.development_mode = true;
    s_seed(dir, "status-text", 1, &status.base);

    char *tenants[] = {"101", "751"};
    Samspil__V1__KeyInfo key = SAMSPIL__V1__KEY_INFO__INIT;
    key.name = "alice";
    key.role = SAMSPIL__V1__ROLE__ROLE_INTEGRATOR;
    key.tenants = tenants;
    key.n_tenants = 2;
    key.public_key = "rq:rM>}U?@Lns47E1%kR.o@n%FcmmsL/@{H8]yf7";
    key.created = "2026-11-27T07:00:00Z";
    Samspil__V1__KeyInfo *keys[] = {&key};
    Samspil__V1__KeyReply kr = SAMSPIL__V1__KEY_REPLY__INIT;
    kr.keys = keys;
    kr.n_keys = 1;
    s_seed(dir, "keys-text", 2, &kr.base);
    exit(0);
}
