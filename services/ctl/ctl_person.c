/*
 * ctl_person.c - person export across services (see ctl_person.h).
 */
#include "ctl_person.h"

#include "ctl_client.h"
#include "ctl_output.h"
#include "sp_outbox.h"

#include <stdlib.h>
#include <string.h>

/* A service that holds personal data: the name its part of the document
 * has, and how to ask it (a reply message the caller frees, the person's
 * actor id inside it).  Returns CTL_EXIT_OK or the exit status. */
typedef int (*s_fetch_fn)(const ctl_invocation_t *inv, sp_client_t *client, ProtobufCMessage **out,
                          const char **actor_id);

typedef struct {
    const char *name;
    s_fetch_fn fetch;
} s_source_t;

#define CTL_REGISTRATION_SERVICE "samspil.registration"

static int s_fetch_registration(const ctl_invocation_t *inv, sp_client_t *client,
                                ProtobufCMessage **out, const char **actor_id)
{
    ctl_request_t *r = malloc(sizeof *r);
    if (!r)
        abort();
    sp_buf_t err;
    sp_buf_init(&err);
    int exit_code = CTL_EXIT_OK;
    ProtobufCMessage *msg = NULL;
    if (ctl_args_build(inv, NULL, r, &err) < 0) {
        ctl_write(stderr, &err);
        exit_code = CTL_EXIT_USAGE;
    } else if (sp_client_call_pb(client, CTL_REGISTRATION_SERVICE, &r->req.base,
                                 &samspil__v1__registration_reply__descriptor, &msg) < 0) {
        exit_code = ctl_call_failed(inv, CTL_REGISTRATION_SERVICE);
    } else {
        Samspil__V1__RegistrationReply *reply = (Samspil__V1__RegistrationReply *)msg;
        if (reply->result_case == SAMSPIL__V1__REGISTRATION_REPLY__RESULT_ERROR && reply->error) {
            exit_code = ctl_error_reply(reply->error);
        } else if (reply->result_case != SAMSPIL__V1__REGISTRATION_REPLY__RESULT_PERSON ||
                   !reply->person) {
            fprintf(stderr, CTL_PROGRAM ": unexpected reply from " CTL_REGISTRATION_SERVICE "\n");
            exit_code = CTL_EXIT_REPLY;
        } else {
            /* hand out the Person, keep the reply around it until the end */
            *out = msg;
            msg = NULL;
            if (reply->person->actor && reply->person->actor->id && *reply->person->actor->id)
                *actor_id = reply->person->actor->id;
        }
    }
    if (msg)
        protobuf_c_message_free_unpacked(msg, NULL);
    sp_buf_free(&err);
    free(r);
    return exit_code;
}

/* The part of the document a fetched reply contributes. */
static const ProtobufCMessage *s_part(const ProtobufCMessage *reply)
{
    if (reply->descriptor == &samspil__v1__registration_reply__descriptor)
        return &((const Samspil__V1__RegistrationReply *)reply)->person->base;
    return reply;
}

static const s_source_t s_sources[] = {
    {"registration", s_fetch_registration},
};
#define NSOURCES (sizeof s_sources / sizeof s_sources[0])

int ctl_person_export(const ctl_invocation_t *inv, const sp_curve_client_t *curve)
{
    int64_t asked_at = sp_outbox_now_us();
    sp_client_t *client = ctl_connect(inv, curve);
    if (!client)
        return CTL_EXIT_UNAVAILABLE;
    ProtobufCMessage *replies[NSOURCES] = {0};
    const char *actor_id = inv->nargs > 0 ? inv->args[0] : NULL;
    int exit_code = CTL_EXIT_OK;
    for (size_t i = 0; i < NSOURCES && exit_code == CTL_EXIT_OK; i++) {
        const char *id = NULL;
        exit_code = s_sources[i].fetch(inv, client, &replies[i], &id);
        if (id && !actor_id)
            actor_id = id; /* found by --external-ref */
    }
    if (exit_code == CTL_EXIT_OK) {
        sp_buf_t out;
        sp_buf_init(&out);
        ctl_output_person_begin(&out, actor_id, asked_at);
        for (size_t i = 0; i < NSOURCES; i++)
            ctl_output_person_service(&out, s_sources[i].name, s_part(replies[i]), i == 0);
        ctl_output_person_end(&out);
        exit_code = ctl_emit(&out);
        sp_buf_free(&out);
    }
    for (size_t i = 0; i < NSOURCES; i++)
        if (replies[i])
            protobuf_c_message_free_unpacked(replies[i], NULL);
    sp_client_destroy(&client);
    return exit_code;
}
