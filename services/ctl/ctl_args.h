/*
 * ctl_args.h - samspilctl's command registry and argument handling: which
 * nouns and verbs exist, their options and help, parsing a command line
 * (global options anywhere) and building the RegistrationRequest it asks
 * for.  Pure: no sockets, no files; usage errors come back as text.
 */
#ifndef CTL_ARGS_H
#define CTL_ARGS_H

#include "samspil/v1/keys.pb-c.h"
#include "samspil/v1/registration.pb-c.h"
#include "sp_buf.h"
#include "sp_config.h"

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#define CTL_PROGRAM "samspilctl"
#define CTL_MAX_OPTS 40 /* global plus command options */
#define CTL_MAX_ARGS 4  /* positional arguments after NOUN VERB */
#define CTL_MAX_CONTACTS 3 * SP_OPT_MAX_VALUES
#define CTL_MAX_MASK 16
#define CTL_MAX_TENANTS 100        /* key create: tenants of a key (Denmark has 98) */
#define CTL_LONG_TIMEOUT_MS 600000 /* key rotate-data without --timeout-ms */

/* How a command shows its result. */
typedef enum {
    CTL_SHOW_ID,     /* create/add/record/upsert: the id alone; json: the entity */
    CTL_SHOW_ENTITY, /* get/update/end/withdraw: "field: value" lines; json: the entity */
    CTL_SHOW_LIST,   /* list: one line per item; json: {"items": [...], "next": "..."} */
    CTL_SHOW_STATUS, /* status: the broker's service table; json: BrokerStatus */
    CTL_SHOW_LINES,  /* events tail: one JSON object per line, as they come */
} ctl_show_t;

/* What a command does (main.c dispatches on it). */
typedef enum {
    CTL_ACT_REGISTRATION = 0, /* one RegistrationRequest (per page with --all) */
    CTL_ACT_STATUS,           /* mmi.status on the broker */
    CTL_ACT_EVENTS_TAIL,      /* follow an event stream (ctl_tail.c) */
    CTL_ACT_KEY_CREATE,       /* key pair, KeyRequest create, certificate file (ctl_keys.c) */
    CTL_ACT_KEYS,             /* another KeyRequest to the broker's samspil.keys */
    CTL_ACT_PERSON_EXPORT,    /* person_export of every service, one document (ctl_person.c) */
} ctl_action_t;

typedef enum { CTL_OUTPUT_TEXT = 0, CTL_OUTPUT_JSON } ctl_output_t;

typedef struct ctl_command_t ctl_command_t;

/* `events tail` options, resolved and checked. */
typedef struct {
    const char *stream;      /* "registration" unless --stream */
    const char *type_prefix; /* "" when --type is not given: every type */
    const char *endpoint;    /* --events, SAMSPIL_EVENTS_OUT, or under --home */
    bool has_from;           /* --from given: replay from `from` first */
    uint64_t from;           /* first seq to print (0 and 1: the beginning) */
    uint64_t count;          /* exit after this many events; 0: never */
    char endpoint_buf[4200];
} ctl_events_opts_t;

/* One parsed command line. */
typedef struct {
    const ctl_command_t *cmd;       /* NULL until a command is known */
    const char *noun;               /* for help: the noun asked about, or NULL */
    sp_option_t opts[CTL_MAX_OPTS]; /* global options, then the command's */
    size_t nopts;
    const char *args[CTL_MAX_ARGS]; /* positional arguments after NOUN [VERB] */
    int nargs;
    /* global options, resolved */
    const char *tenant;          /* NULL when not given */
    const char *broker;          /* endpoint: --broker, or derived from --home */
    const char *idempotency_key; /* NULL when not given */
    const char *home;            /* --home / SAMSPIL_HOME as given (default "./var") */
    const char *key_path;        /* --key / SAMSPIL_KEY, or NULL: the default certificate */
    ctl_output_t output;
    int timeout_ms;
    int retries; /* extra attempts after a timeout: 2, or 0 for a long operation */
    bool all;    /* list --all: follow `next` to the end */
    bool yes;    /* --yes: confirmed on the command line */
    char broker_buf[4200];
    ctl_events_opts_t events; /* events tail */
    const char *key_out;      /* key create: the certificate file to write */
    bool key_out_default;     /* key_out is HOME/keys/NAME.cert (no --out) */
    char key_out_buf[4200];
} ctl_invocation_t;

typedef enum {
    CTL_PARSE_OK = 0,
    CTL_PARSE_HELP,    /* print ctl_args_help(inv) on stdout, exit 0 */
    CTL_PARSE_VERSION, /* print the version on stdout, exit 0 */
    CTL_PARSE_USAGE,   /* a usage error: the message is in `err` (or already printed), exit 2 */
} ctl_parse_t;

/* Parse argv (argv[0] is the program).  Fills `inv`; on CTL_PARSE_USAGE
 * appends the message and a "Try ... --help" hint to `err` (messages from
 * sp_config_parse itself go straight to stderr). */
ctl_parse_t ctl_args_parse(ctl_invocation_t *inv, int argc, char **argv, sp_buf_t *err);

/* Append the help for what `inv` names (a command, a noun, or the whole
 * program when both are NULL) to `out`. */
void ctl_args_help(const ctl_invocation_t *inv, sp_buf_t *out);

/* Facts about the parsed command. */
ctl_show_t ctl_command_show(const ctl_command_t *cmd);
ctl_action_t ctl_command_action(const ctl_command_t *cmd);
bool ctl_command_writes(const ctl_command_t *cmd);   /* sends an idempotency key */
bool ctl_command_confirms(const ctl_command_t *cmd); /* asks before it acts, unless --yes */
const char *ctl_command_name(const ctl_command_t *cmd, char *out,
                             size_t outlen); /* "actor create" */
/* The reply result the command expects (e.g. ..._RESULT_ACTOR). */
Samspil__V1__RegistrationReply__ResultCase ctl_command_result(const ctl_command_t *cmd);

/* A request and every sub-message it points to, held by value; strings
 * point into argv.  Never free it with protobuf_c_message_free_unpacked. */
typedef struct {
    Samspil__V1__RegistrationRequest req;
    Samspil__V1__PageRequest page; /* list commands: the page asked for */
    union {
        Samspil__V1__TenantCreate tenant_create;
        Samspil__V1__TenantGet tenant_get;
        Samspil__V1__TenantList tenant_list;
        Samspil__V1__PartnershipCreate partnership_create;
        Samspil__V1__PartnershipGet partnership_get;
        Samspil__V1__PartnershipList partnership_list;
        Samspil__V1__PartnershipUpdate partnership_update;
        Samspil__V1__ActorCreate actor_create;
        Samspil__V1__ActorGet actor_get;
        Samspil__V1__ActorList actor_list;
        Samspil__V1__ActorUpdate actor_update;
        Samspil__V1__ActorUpsert actor_upsert;
        Samspil__V1__MemberAdd member_add;
        Samspil__V1__MemberList member_list;
        Samspil__V1__MemberEnd member_end;
        Samspil__V1__RelationAdd relation_add;
        Samspil__V1__RelationList relation_list;
        Samspil__V1__ConsentRecord consent_record;
        Samspil__V1__ConsentWithdraw consent_withdraw;
        Samspil__V1__ConsentList consent_list;
        Samspil__V1__PersonExport person_export;
        Samspil__V1__PersonErase person_erase;
        Samspil__V1__DataKeyRotate data_key_rotate;
    } op;
    /* key create, list, revoke: the broker's samspil.keys request (the
     * caller sets key_op.create.public_key) */
    Samspil__V1__KeyRequest key_req;
    union {
        Samspil__V1__KeyCreate create;
        Samspil__V1__KeyList list;
        Samspil__V1__KeyRevoke revoke;
    } key_op;
    char *tenants[CTL_MAX_TENANTS];
    char tenant_text[CTL_MAX_TENANTS * 4 + 1]; /* the codes, NUL-separated */
    union {
        Samspil__V1__Partnership partnership;
        Samspil__V1__Actor actor;
        Samspil__V1__Membership membership;
        Samspil__V1__Relation relation;
        Samspil__V1__Consent consent;
    } entity;
    Samspil__V1__ContactPoint contacts[CTL_MAX_CONTACTS];
    Samspil__V1__ContactPoint *contact_ptrs[CTL_MAX_CONTACTS];
    char *interests[SP_OPT_MAX_VALUES];
    char *accessibility[SP_OPT_MAX_VALUES];
    Samspil__V1__MemberRole roles[SP_OPT_MAX_VALUES];
    char *mask[CTL_MAX_MASK];
} ctl_request_t;

/* Build the request for a parsed command into `r`: r->req for a
 * registration command, r->key_req for key create/list/revoke (nothing for
 * status and events tail).  `idempotency_key` is sent with writes when non-NULL (the caller
 * passes --idempotency-key or a fresh random key).  Returns 0, or -1 with a
 * usage error appended to `err`. */
int ctl_args_build(const ctl_invocation_t *inv, const char *idempotency_key, ctl_request_t *r,
                   sp_buf_t *err);

#endif
