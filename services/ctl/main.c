/*
 * main.c - samspilctl, the command-line client of Samspil: parses the
 * command line (ctl_args), sends one request (or one per page with --all)
 * to the broker over MDP/0.1 (sp_client) and prints the reply (ctl_output).
 *
 * Exit status: 0 ok, 1 error reply (or a reply it cannot use), 2 usage
 * error, 3 broker unavailable, no reply in time, or an `unavailable` reply.
 * It writes no logs; stderr carries only error lines, and the `next` cursor
 * of a list that has more.
 */
#include "ctl_args.h"
#include "ctl_client.h"
#include "ctl_keys.h"
#include "ctl_output.h"
#include "ctl_person.h"
#include "ctl_tail.h"

#include "samspil/v1/broker.pb-c.h"
#include "samspil/v1/registration.pb-c.h"
#include "sp_client.h"
#include "sp_error.h"
#include "sp_log.h"

#include <errno.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define CTL_REGISTRATION_SERVICE "samspil.registration"
#define CTL_STATUS_SERVICE "mmi.status"

/* `status`: ask the broker itself (mmi.status). */
static int s_status(const ctl_invocation_t *inv, const sp_curve_client_t *curve)
{
    sp_client_t *client = ctl_connect(inv, curve);
    if (!client)
        return CTL_EXIT_UNAVAILABLE;
    uint8_t *body = NULL;
    size_t len = 0;
    int rc = sp_client_call(client, CTL_STATUS_SERVICE, "", 0, &body, &len);
    sp_client_destroy(&client);
    if (rc < 0)
        return ctl_call_failed(inv, CTL_STATUS_SERVICE);
    Samspil__V1__BrokerStatus *status = samspil__v1__broker_status__unpack(NULL, len, body);
    free(body);
    if (!status) {
        fprintf(stderr, CTL_PROGRAM ": malformed reply from " CTL_STATUS_SERVICE "\n");
        return CTL_EXIT_REPLY;
    }
    int exit_code;
    if (status->error && status->error->code != SP_OK) {
        exit_code = ctl_error_reply(status->error);
    } else {
        sp_buf_t out;
        sp_buf_init(&out);
        if (inv->output == CTL_OUTPUT_JSON)
            ctl_output_json(&out, &status->base);
        else
            ctl_output_status_text(&out, status);
        exit_code = ctl_emit(&out);
        sp_buf_free(&out);
    }
    samspil__v1__broker_status__free_unpacked(status, NULL);
    return exit_code;
}

/* A growable array of pointers. */
typedef struct {
    void **items;
    size_t len, cap;
} s_ptrs_t;

static void s_ptrs_push(s_ptrs_t *p, void *item)
{
    if (p->len == p->cap) {
        p->cap = p->cap ? 2 * p->cap : 16;
        p->items = realloc(p->items, p->cap * sizeof *p->items);
        if (!p->items)
            abort();
    }
    p->items[p->len++] = item;
}

/* Show a non-list result. */
static int s_show_one(const ctl_invocation_t *inv, const ProtobufCMessage *result)
{
    sp_buf_t out;
    sp_buf_init(&out);
    if (inv->output == CTL_OUTPUT_JSON)
        ctl_output_json(&out, result);
    else if (ctl_command_show(inv->cmd) == CTL_SHOW_ID)
        ctl_output_id(&out, result);
    else
        ctl_output_fields(&out, result);
    int rc = ctl_emit(&out);
    sp_buf_free(&out);
    return rc;
}

/* A registration command: one request, or one per page with --all. */
static int s_registration(const ctl_invocation_t *inv, const sp_curve_client_t *curve)
{
    char key[2 * 16 + 1];
    const char *idempotency_key = inv->idempotency_key;
    if (!idempotency_key && ctl_command_writes(inv->cmd)) {
        unsigned char raw[16];
        randombytes_buf(raw, sizeof raw);
        sodium_bin2hex(key, sizeof key, raw, sizeof raw);
        idempotency_key = key;
    }
    ctl_request_t *r = malloc(sizeof *r);
    if (!r)
        abort();
    sp_buf_t err;
    sp_buf_init(&err);
    if (ctl_args_build(inv, idempotency_key, r, &err) < 0) {
        ctl_write(stderr, &err);
        sp_buf_free(&err);
        free(r);
        return CTL_EXIT_USAGE;
    }
    sp_buf_free(&err);
    if (ctl_command_confirms(inv->cmd)) {
        char what[256]; /* person erase is the one command that confirms */
        const char *ref = r->req.op_case == SAMSPIL__V1__REGISTRATION_REQUEST__OP_PERSON_ERASE &&
                                  r->req.person_erase->actor_id && *r->req.person_erase->actor_id
                              ? r->req.person_erase->actor_id
                              : "found by the external reference";
        snprintf(what, sizeof what, "erase every personal field of the person %s in tenant %s", ref,
                 inv->tenant ? inv->tenant : "");
        int rc = ctl_confirm(inv, what);
        if (rc != CTL_EXIT_OK) {
            free(r);
            return rc;
        }
    }
    sp_client_t *client = ctl_connect(inv, curve);
    if (!client) {
        free(r);
        return CTL_EXIT_UNAVAILABLE;
    }

    s_ptrs_t replies = {0}, items = {0};
    const char *next = "";
    int exit_code = CTL_EXIT_OK;
    bool done = false;
    while (!done) {
        ProtobufCMessage *msg = NULL;
        if (sp_client_call_pb(client, CTL_REGISTRATION_SERVICE, &r->req.base,
                              &samspil__v1__registration_reply__descriptor, &msg) < 0) {
            exit_code = ctl_call_failed(inv, CTL_REGISTRATION_SERVICE);
            break;
        }
        s_ptrs_push(&replies, msg);
        const Samspil__V1__RegistrationReply *reply = (const Samspil__V1__RegistrationReply *)msg;
        if (reply->result_case == SAMSPIL__V1__REGISTRATION_REPLY__RESULT_ERROR && reply->error) {
            exit_code = ctl_error_reply(reply->error);
            break;
        }
        const ProtobufCMessage *result = ctl_reply_result(reply);
        if (reply->result_case != ctl_command_result(inv->cmd) || !result) {
            fprintf(stderr, CTL_PROGRAM ": unexpected reply from " CTL_REGISTRATION_SERVICE "\n");
            exit_code = CTL_EXIT_REPLY;
            break;
        }
        if (ctl_command_show(inv->cmd) != CTL_SHOW_LIST) {
            exit_code = s_show_one(inv, result);
            break;
        }
        ProtobufCMessage *const *page_items;
        size_t n = ctl_page_items(result, &page_items);
        for (size_t i = 0; i < n; i++)
            s_ptrs_push(&items, page_items[i]);
        const char *asked = r->page.cursor ? r->page.cursor : "";
        next = ctl_page_next(result);
        if (!inv->all || !*next) {
            done = true;
        } else if (strcmp(next, asked) == 0) {
            fprintf(stderr, CTL_PROGRAM ": the service returned the same page cursor again\n");
            exit_code = CTL_EXIT_REPLY;
            break;
        } else {
            r->page.cursor = (char *)next; /* points into a reply kept until the end */
        }
    }
    if (done) {
        sp_buf_t out;
        sp_buf_init(&out);
        ProtobufCMessage *const *list = (ProtobufCMessage *const *)items.items;
        if (inv->output == CTL_OUTPUT_JSON)
            ctl_output_list_json(&out, list, items.len, next);
        else
            ctl_output_list_text(&out, list, items.len);
        exit_code = ctl_emit(&out);
        sp_buf_free(&out);
        if (exit_code == CTL_EXIT_OK && inv->output == CTL_OUTPUT_TEXT && *next)
            fprintf(stderr, "next: %s\n", next);
    }
    for (size_t i = 0; i < replies.len; i++)
        protobuf_c_message_free_unpacked(replies.items[i], NULL);
    free(replies.items);
    free(items.items);
    sp_client_destroy(&client);
    free(r);
    return exit_code;
}

/* Run a parsed command. */
static int s_run(const ctl_invocation_t *inv)
{
    sp_curve_client_t *curve = malloc(sizeof *curve);
    if (!curve)
        abort();
    int exit_code;
    if (ctl_load_curve(inv, curve) < 0) {
        exit_code = CTL_EXIT_USAGE;
    } else {
        switch (ctl_command_action(inv->cmd)) {
        case CTL_ACT_STATUS:
            exit_code = s_status(inv, curve);
            break;
        case CTL_ACT_EVENTS_TAIL:
            exit_code = ctl_tail_run(inv, curve);
            break;
        case CTL_ACT_KEY_CREATE:
            exit_code = ctl_keys_create(inv, curve);
            break;
        case CTL_ACT_KEYS:
            exit_code = ctl_keys_call(inv, curve);
            break;
        case CTL_ACT_PERSON_EXPORT:
            exit_code = ctl_person_export(inv, curve);
            break;
        case CTL_ACT_REGISTRATION:
        default:
            exit_code = s_registration(inv, curve);
            break;
        }
    }
    sodium_memzero(curve, sizeof *curve);
    free(curve);
    return exit_code;
}

int main(int argc, char **argv)
{
    if (sodium_init() < 0) {
        fprintf(stderr, CTL_PROGRAM ": could not initialise libsodium\n");
        return CTL_EXIT_REPLY;
    }
    /* the modules samspilctl uses log JSON lines on stderr: only warnings and
     * errors unless SAMSPIL_LOG_LEVEL asks for more */
    sp_log_set_level(SP_LOG_WARN);
    sp_log_init(CTL_PROGRAM);
    ctl_invocation_t *inv = malloc(sizeof *inv);
    if (!inv)
        abort();
    sp_buf_t text;
    sp_buf_init(&text);
    int exit_code;
    switch (ctl_args_parse(inv, argc, argv, &text)) {
    case CTL_PARSE_HELP:
        ctl_args_help(inv, &text);
        exit_code = ctl_emit(&text);
        break;
    case CTL_PARSE_VERSION:
        printf(CTL_PROGRAM " %s\n", SAMSPIL_VERSION);
        exit_code = CTL_EXIT_OK;
        break;
    case CTL_PARSE_USAGE:
        ctl_write(stderr, &text);
        exit_code = CTL_EXIT_USAGE;
        break;
    default:
        exit_code = s_run(inv);
        break;
    }
    sp_buf_free(&text);
    free(inv);
    return exit_code;
}
