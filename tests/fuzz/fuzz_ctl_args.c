/*
 * fuzz_ctl_args.c - libFuzzer target: samspilctl's command line
 * (services/ctl/ctl_args.c): parsing, help, and building the request.
 *
 * Input: frames (tests/fuzz/fuzz_input.h) of one message are argv[1..]
 * (at most 48; a NUL inside a frame ends that argument, as it would on a
 * real command line).  The SAMSPIL_* variables samspilctl reads are cleared
 * first, so only the input decides.
 *
 * Checked beyond memory safety: the parser neither exits nor prints help
 * by itself (sp_config_parse exits on --help, which ctl_args_parse must
 * catch first); a usage error comes with a message; a parsed command has a
 * name and its help; a built registration request packs and decodes again
 * to the same bytes.
 */
#include "ctl_args.h"
#include "fuzz_input.h"

#include "samspil/v1/registration.pb-c.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#define MAX_ARGS 48

static void s_check_request(const Samspil__V1__RegistrationRequest *req)
{
    size_t size = samspil__v1__registration_request__get_packed_size(req);
    uint8_t *packed = malloc(size ? size : 1);
    if (!packed)
        abort();
    FZ_CHECK(samspil__v1__registration_request__pack(req, packed) == size);
    Samspil__V1__RegistrationRequest *back =
        samspil__v1__registration_request__unpack(NULL, size, packed);
    FZ_CHECK(back != NULL);
    FZ_CHECK(back->op_case == req->op_case);
    size_t size2 = samspil__v1__registration_request__get_packed_size(back);
    uint8_t *again = malloc(size2 ? size2 : 1);
    if (!again)
        abort();
    samspil__v1__registration_request__pack(back, again);
    FZ_CHECK(size2 == size && memcmp(packed, again, size) == 0);
    free(again);
    free(packed);
    samspil__v1__registration_request__free_unpacked(back, NULL);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    fz_input_t in;
    fz_init(&in, data, size);
    fz_message_t msg;
    fz_message(&in, MAX_ARGS, &msg);
    char *argv[MAX_ARGS + 2];
    int argc = 0;
    argv[argc++] = strdup(CTL_PROGRAM);
    for (size_t i = 0; i < msg.count; i++) {
        char *arg = malloc(msg.frames[i].size + 1);
        if (!arg)
            abort();
        memcpy(arg, msg.frames[i].data, msg.frames[i].size);
        arg[msg.frames[i].size] = '\0';
        argv[argc++] = arg;
    }
    argv[argc] = NULL;
    fz_message_free(&msg);

    ctl_invocation_t *inv = calloc(1, sizeof *inv);
    ctl_request_t *r = calloc(1, sizeof *r);
    if (!inv || !r || !argv[0])
        abort();
    sp_buf_t err, out;
    sp_buf_init(&err);
    sp_buf_init(&out);
    ctl_parse_t rc = ctl_args_parse(inv, argc, argv, &err);
    FZ_TRACE("parse: %d %s\n", (int)rc, err.len ? err.data : "");
    switch (rc) {
    case CTL_PARSE_OK:
        FZ_CHECK(inv->cmd != NULL);
        break;
    case CTL_PARSE_HELP:
        ctl_args_help(inv, &out);
        FZ_CHECK(out.len > 0);
        break;
    case CTL_PARSE_VERSION:
        break;
    case CTL_PARSE_USAGE:
        break; /* the message is in err or went to stderr */
    default:
        FZ_CHECK(!"unknown parse result");
    }
    if (rc == CTL_PARSE_OK) {
        char name[64];
        FZ_CHECK(ctl_command_name(inv->cmd, name, sizeof name)[0] != '\0');
        FZ_CHECK(inv->nargs >= 0 && inv->nargs <= CTL_MAX_ARGS);
        ctl_args_help(inv, &out);
        FZ_CHECK(out.len > 0);
        ctl_action_t action = ctl_command_action(inv->cmd);
        if (action != CTL_ACT_STATUS && action != CTL_ACT_EVENTS_TAIL) {
            sp_buf_reset(&err);
            int brc = ctl_args_build(inv, "fuzz-idempotency-key", r, &err);
            FZ_TRACE("build: %d %s\n", brc, err.len ? err.data : "");
            if (brc == 0) {
                if (action == CTL_ACT_REGISTRATION || action == CTL_ACT_PERSON_EXPORT)
                    s_check_request(&r->req);
            } else {
                FZ_CHECK(err.len > 0);
            }
        }
    }
    sp_buf_free(&err);
    sp_buf_free(&out);
    free(r);
    free(inv);
    for (int i = 0; i < argc; i++)
        free(argv[i]);
    return 0;
}

/* --- seeds */

static void s_seed(const char *dir, const char *name, const char *const *args)
{
    sp_buf_t buf;
    sp_buf_init(&buf);
    for (size_t i = 0; args[i]; i++)
        fz_put_str(&buf, args[i]);
    fz_write_seed(dir, name, &buf);
    sp_buf_free(&buf);
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    fz_trace_init();
    static const char *const vars[] = {
        "SAMSPIL_TENANT", "SAMSPIL_BROKER",     "SAMSPIL_HOME",   "SAMSPIL_TIMEOUT_MS",
        "SAMSPIL_KEY",    "SAMSPIL_EVENTS_OUT", "SAMSPIL_OUTPUT", "SAMSPIL_PLAINTEXT"};
    for (size_t i = 0; i < sizeof vars / sizeof vars[0]; i++)
        unsetenv(vars[i]);
    const char *dir = fz_seed_dir();
    if (!dir)
        return 0;
    s_seed(dir, "actor-create",
           (const char *const[]){"actor", "create", "--tenant", "101", "--kind", "citizen",
                                 "--name", "Fuzz Person", "--email", "someone@example.org",
                                 "--phone", "+4512345678", "--interest", "skole", NULL});
    s_seed(dir, "actor-list",
           (const char *const[]){"--output", "json", "actor", "list", "--tenant=751", "--limit",
                                 "20", "--all", NULL});
    s_seed(dir, "actor-update",
           (const char *const[]){"actor", "update", "0190f5a4-7b7e-7c3a-9d2e-3f1a2b4c5d6e",
                                 "--tenant", "101", "--name", "New Name", "--vulnerable", NULL});
    s_seed(dir, "member-add",
           (const char *const[]){"member", "add", "--tenant", "101", "--partnership",
                                 "0190f5a4-7b7e-7c3a-9d2e-3f1a2b4c5d6e", "--actor",
                                 "0190f5a4-7b7e-7c3a-9d2e-3f1a2b4c5d6f", "--role", "initiator",
                                 "--role", "needs_support", "--knowledge", "experiential", NULL});
    s_seed(dir, "consent-record",
           (const char *const[]){"consent", "record", "--tenant", "101", "--actor",
                                 "0190f5a4-7b7e-7c3a-9d2e-3f1a2b4c5d6f", "--purpose", "contact",
                                 "--channel", "paper", "--text-version", "2026-01", NULL});
    s_seed(dir, "events-tail",
           (const char *const[]){"events", "tail", "--stream", "registration", "--from", "12",
                                 "--type", "membership.", NULL});
    s_seed(dir, "key-create",
           (const char *const[]){"key", "create", "--name", "alice", "--role", "integrator",
                                 "--tenant", "101", NULL});
    s_seed(dir, "help", (const char *const[]){"partnership", "--help", NULL});
    s_seed(dir, "status", (const char *const[]){"status", "--broker", "ipc://x", NULL});
    s_seed(dir, "tenant-create",
           (const char *const[]){"tenant", "create", "--code", "751", "--name", "Aarhus Kommune",
                                 "--", NULL});
    exit(0);
}
