/*
 * ctl_args.c - samspilctl's command registry, command-line parsing and
 * request building (see ctl_args.h).
 *
 * Parsing happens in two passes.  The first walks argv knowing every
 * option of every command (so it can skip option values) to find NOUN and
 * VERB and any --help/--version; the second hands argv to sp_config_parse
 * with the global options plus that command's options, which also reads
 * SAMSPIL_* from the environment.  Only what the CLI itself parses is
 * checked here (required options, enum words, integers); everything else
 * is the service's to judge.
 */
#include "ctl_args.h"

#include "sp_client.h"
#include "sp_curve.h"
#include "sp_error.h"
#include "sp_outbox.h"
#include "sp_pbenum.h"

#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

/* ------------------------------------------------------------ registry */

#define CTL_TENANT 0x1u  /* acts on a tenant: --tenant required */
#define CTL_WRITE 0x2u   /* changes state: carries an idempotency key */
#define CTL_CONFIRM 0x4u /* irreversible: asks first on a terminal, needs --yes otherwise */
#define CTL_LONG 0x8u    /* may run for minutes: no retries, long default timeout */

/* An option of a command: the sp_config declaration plus what the CLI
 * checks itself. */
typedef struct {
    sp_option_t opt;
    const ProtobufCEnumDescriptor *choices; /* value(s) must be one of these words */
    bool required;
} ctl_opt_t;

typedef int (*ctl_build_fn)(const ctl_invocation_t *inv, ctl_request_t *r, sp_buf_t *err);

struct ctl_command_t {
    const char *noun;
    const char *verb; /* NULL: the noun is the whole command (status) */
    const char *args; /* positional arguments in the usage line, or NULL */
    int min_args, max_args;
    const char *summary;
    const char *example;
    const ctl_opt_t *opts;
    size_t nopts;
    ctl_show_t show;
    unsigned flags;
    Samspil__V1__RegistrationReply__ResultCase result;
    ctl_build_fn build;
    ctl_action_t action;
};

#define S(flag_, meta_, help_)                                                                     \
    {                                                                                              \
        .opt = {.flag = flag_, .metavar = meta_, .help = help_ }                                   \
    }
#define REQ(flag_, meta_, help_)                                                                   \
    {                                                                                              \
        .opt = {.flag = flag_, .metavar = meta_, .help = help_}, .required = true                  \
    }
#define ENUM(flag_, desc_, help_)                                                                  \
    {                                                                                              \
        .opt = {.flag = flag_, .metavar = "WORD", .help = help_}, .choices = desc_                 \
    }
#define REQ_ENUM(flag_, desc_, help_)                                                              \
    {                                                                                              \
        .opt = {.flag = flag_, .metavar = "WORD", .help = help_}, .choices = desc_,                \
        .required = true                                                                           \
    }
#define LIST(flag_, meta_, help_)                                                                  \
    {                                                                                              \
        .opt = {.flag = flag_, .type = SP_OPT_LIST, .metavar = meta_, .help = help_ }              \
    }
#define FLAG(flag_, help_)                                                                         \
    {                                                                                              \
        .opt = {.flag = flag_, .type = SP_OPT_FLAG, .help = help_ }                                \
    }
#define PAGE_OPTS                                                                                  \
    S("limit", "N", "items per page (default and maximum set by the service)"),                    \
        S("cursor", "CURSOR", "start at this page (the `next` of an earlier list)"),               \
        FLAG("all", "follow the pages to the end and print every item")
#define COUNT(a) (sizeof(a) / sizeof((a)[0]))

#define PARTNERSHIP_STATUS &samspil__v1__partnership_status__descriptor
#define ACTOR_KIND &samspil__v1__actor_kind__descriptor
#define SECTOR &samspil__v1__sector__descriptor
#define MEMBER_ROLE &samspil__v1__member_role__descriptor
#define KNOWLEDGE &samspil__v1__knowledge_basis__descriptor
#define RELATION_KIND &samspil__v1__relation_kind__descriptor
#define CHANNEL &samspil__v1__consent_channel__descriptor
#define ROLE &samspil__v1__role__descriptor

static const ctl_opt_t s_global_opts[] = {
    {.opt = {.flag = "tenant",
             .env = "SAMSPIL_TENANT",
             .metavar = "CODE",
             .help = "municipality code of the tenant acted on, e.g. 751"}},
    {.opt = {.flag = "broker",
             .env = "SAMSPIL_BROKER",
             .metavar = "ENDPOINT",
             .help = "broker endpoint (default: ipc://<absolute HOME>/run/broker.ipc)"}},
    {.opt = {.flag = "home",
             .env = "SAMSPIL_HOME",
             .metavar = "DIR",
             .default_value = "./var",
             .help = "the suite's home directory, where the default endpoint lives"}},
    {.opt = {.flag = "output",
             .short_flag = 'o',
             .metavar = "FORMAT",
             .default_value = "text",
             .help = "text, or json: one JSON document on stdout"}},
    {.opt = {.flag = "timeout-ms",
             .env = "SAMSPIL_TIMEOUT_MS",
             .metavar = "MS",
             .default_value = "5000",
             .help = "wait this long for a reply; 2 more attempts follow a timeout"}},
    {.opt = {.flag = "idempotency-key",
             .metavar = "KEY",
             .help = "key sent with a write (default: a random key per invocation)"}},
    {.opt = {.flag = "key",
             .env = "SAMSPIL_KEY",
             .metavar = "FILE",
             .help = "certificate to act with (default: HOME/keys/operator.cert; "
                     "SAMSPIL_PLAINTEXT=1: none)"}},
};

static const ctl_opt_t s_tenant_create[] = {
    REQ("code", "CODE", "3-digit municipality code, e.g. 751"),
    REQ("name", "NAME", "the municipality's name, e.g. \"Aarhus Kommune\""),
};
static const ctl_opt_t s_page_only[] = {PAGE_OPTS};

static const ctl_opt_t s_partnership_create[] = {
    REQ("name", "NAME", "the partnership's name"),
    S("purpose", "TEXT", "the shared purpose statement"),
    S("burning-platform", "TEXT", "why it matters now (braendende platform)"),
    ENUM("status", PARTNERSHIP_STATUS, "status (default: forming)"),
    S("backbone", "ACTOR-ID", "the backbone organisation (an organisation actor)"),
    S("external-ref", "SYSTEM:ID", "reference in another system, unique per tenant"),
};
static const ctl_opt_t s_partnership_list[] = {
    ENUM("status", PARTNERSHIP_STATUS, "only partnerships with this status"),
    PAGE_OPTS,
};
static const ctl_opt_t s_partnership_update[] = {
    S("name", "NAME", "new name"),
    S("purpose", "TEXT", "new purpose statement (\"\" clears it)"),
    S("burning-platform", "TEXT", "new burning platform (\"\" clears it)"),
    ENUM("status", PARTNERSHIP_STATUS, "new status"),
    S("backbone", "ACTOR-ID", "new backbone organisation (\"\" clears it)"),
};

#define ACTOR_COMMON_OPTS                                                                          \
    S("organisation", "ACTOR-ID", "professionals: the organisation they work for"),                \
        ENUM("sector", SECTOR, "organisations: their sector"),                                     \
        LIST("interest", "TAG", "an interest, e.g. skole"),                                        \
        S("language", "LANG", "preferred language, e.g. da, en, da-easy"),                         \
        LIST("accessibility", "TAG", "an accessibility need, e.g. easy_read, interpreter"),        \
        LIST("email", "ADDRESS", "an e-mail contact point"),                                       \
        LIST("phone", "NUMBER", "a phone contact point"),                                          \
        LIST("postal", "ADDRESS", "a postal contact point"),                                       \
        S("preferred", "VALUE", "mark the contact point with this value as preferred")

static const ctl_opt_t s_actor_create[] = {
    REQ_ENUM("kind", ACTOR_KIND, "kind of actor"),
    REQ("name", "NAME", "the actor's name"),
    ACTOR_COMMON_OPTS,
    FLAG("vulnerable", "mark as a citizen in a vulnerable position (restricted)"),
    S("external-ref", "SYSTEM:ID", "reference in another system, unique per tenant"),
};
static const ctl_opt_t s_actor_upsert[] = {
    REQ("external-ref", "SYSTEM:ID", "reference in another system: the key of the upsert"),
    REQ_ENUM("kind", ACTOR_KIND, "kind of actor"),
    REQ("name", "NAME", "the actor's name"),
    ACTOR_COMMON_OPTS,
    FLAG("vulnerable", "mark as a citizen in a vulnerable position (restricted)"),
};
static const ctl_opt_t s_actor_get[] = {
    S("external-ref", "SYSTEM:ID", "find the actor by its external reference instead of id"),
};
static const ctl_opt_t s_actor_list[] = {
    ENUM("kind", ACTOR_KIND, "only actors of this kind"),
    S("interest", "TAG", "only actors with this interest"),
    PAGE_OPTS,
};
static const ctl_opt_t s_actor_update[] = {
    S("name", "NAME", "new name"),
    ACTOR_COMMON_OPTS,
    FLAG("clear-interests", "remove every interest"),
    FLAG("clear-accessibility", "remove every accessibility need"),
    FLAG("clear-contacts", "remove every contact point"),
    FLAG("vulnerable", "mark as a citizen in a vulnerable position (restricted)"),
    FLAG("not-vulnerable", "remove the vulnerable mark"),
};

static const ctl_opt_t s_member_add[] = {
    REQ("partnership", "ID", "the partnership"),
    REQ("actor", "ID", "the actor joining it"),
    {.opt = {.flag = "role", .type = SP_OPT_LIST, .metavar = "WORD", .help = "a role"},
     .choices = MEMBER_ROLE,
     .required = true},
    REQ_ENUM("knowledge", KNOWLEDGE, "the knowledge the actor brings"),
    S("joined", "YYYY-MM-DD", "date joined (default: today)"),
};
static const ctl_opt_t s_member_list[] = {
    S("partnership", "ID", "memberships of this partnership"),
    S("actor", "ID", "memberships of this actor"),
    FLAG("include-ended", "include memberships that have ended"),
    PAGE_OPTS,
};
static const ctl_opt_t s_member_end[] = {
    S("date", "YYYY-MM-DD", "date it ended (default: today)"),
};

static const ctl_opt_t s_relation_add[] = {
    REQ("from", "ACTOR-ID", "the actor the tie goes from"),
    REQ("to", "ACTOR-ID", "the actor the tie goes to"),
    REQ_ENUM("kind", RELATION_KIND, "kind of tie"),
    S("partnership", "ID", "the partnership the tie was recorded in"),
};
static const ctl_opt_t s_relation_list[] = {
    S("actor", "ID", "relations from or to this actor"),
    S("partnership", "ID", "relations recorded in this partnership"),
    PAGE_OPTS,
};

static const ctl_opt_t s_consent_record[] = {
    REQ("actor", "ID", "the actor giving consent"),
    REQ("purpose", "TAG", "what it is for, e.g. contact, outreach, research"),
    REQ_ENUM("channel", CHANNEL, "how it was given"),
    REQ("text-version", "VERSION", "version of the consent text shown, e.g. 2026-01"),
};
static const ctl_opt_t s_consent_list[] = {
    REQ("actor", "ID", "the actor"),
    PAGE_OPTS,
};

static const ctl_opt_t s_events_tail[] = {
    {.opt = {.flag = "stream",
             .metavar = "NAME",
             .default_value = "registration",
             .help = "the stream (publishing service) to follow"}},
    S("from", "SEQ", "first replay the stream from this sequence number, then follow it live"),
    S("type", "PREFIX", "only events whose type starts with this, e.g. membership."),
    S("count", "N", "exit 0 after printing N events"),
    {.opt = {.flag = "events",
             .env = "SAMSPIL_EVENTS_OUT",
             .metavar = "ENDPOINT",
             .help = "the broker's events-out endpoint (default: ipc://<absolute "
                     "HOME>/run/events-out.ipc)"}},
};

static const ctl_opt_t s_key_create[] = {
    REQ("name", "NAME", "the key's name, unique among valid keys (1..63 of A-Z a-z 0-9 . _ -)"),
    REQ_ENUM("role", ROLE, "the role it acts in"),
    LIST("tenant", "CODE[,CODE]", "a tenant (municipality code) it may act for"),
    FLAG("all-tenants", "it may act for every tenant (operator and service keys only)"),
    S("out", "FILE", "write the certificate here (default: HOME/keys/NAME.cert); never replaced"),
};
static const ctl_opt_t s_key_list[] = {
    FLAG("include-revoked", "list revoked keys too"),
};
static const ctl_opt_t s_key_revoke[] = {
    S("public-key", "KEY", "revoke the key with this public key (Z85) instead of by NAME"),
};
static const ctl_opt_t s_key_rotate[] = {
    FLAG("reseal-only", "make no new key: re-seal what is still under older keys (resume)"),
    S("batch", "N", "rows per transaction (the service's default: 200)"),
};
static const ctl_opt_t s_person_export[] = {
    S("external-ref", "SYSTEM:ID", "find the person by external reference (cpr:DDMMYY-SSSS too)"),
};
static const ctl_opt_t s_person_erase[] = {
    S("external-ref", "SYSTEM:ID", "find the person by external reference (cpr:DDMMYY-SSSS too)"),
    FLAG("yes", "erase without asking (required when stdin is not a terminal)"),
};

/* builders, defined below */
static int s_build_tenant_create(const ctl_invocation_t *, ctl_request_t *, sp_buf_t *);
static int s_build_tenant_get(const ctl_invocation_t *, ctl_request_t *, sp_buf_t *);
static int s_build_tenant_list(const ctl_invocation_t *, ctl_request_t *, sp_buf_t *);
static int s_build_partnership_create(const ctl_invocation_t *, ctl_request_t *, sp_buf_t *);
static int s_build_partnership_get(const ctl_invocation_t *, ctl_request_t *, sp_buf_t *);
static int s_build_partnership_list(const ctl_invocation_t *, ctl_request_t *, sp_buf_t *);
static int s_build_partnership_update(const ctl_invocation_t *, ctl_request_t *, sp_buf_t *);
static int s_build_actor_create(const ctl_invocation_t *, ctl_request_t *, sp_buf_t *);
static int s_build_actor_get(const ctl_invocation_t *, ctl_request_t *, sp_buf_t *);
static int s_build_actor_list(const ctl_invocation_t *, ctl_request_t *, sp_buf_t *);
static int s_build_actor_update(const ctl_invocation_t *, ctl_request_t *, sp_buf_t *);
static int s_build_actor_upsert(const ctl_invocation_t *, ctl_request_t *, sp_buf_t *);
static int s_build_member_add(const ctl_invocation_t *, ctl_request_t *, sp_buf_t *);
static int s_build_member_list(const ctl_invocation_t *, ctl_request_t *, sp_buf_t *);
static int s_build_member_end(const ctl_invocation_t *, ctl_request_t *, sp_buf_t *);
static int s_build_relation_add(const ctl_invocation_t *, ctl_request_t *, sp_buf_t *);
static int s_build_relation_list(const ctl_invocation_t *, ctl_request_t *, sp_buf_t *);
static int s_build_consent_record(const ctl_invocation_t *, ctl_request_t *, sp_buf_t *);
static int s_build_consent_withdraw(const ctl_invocation_t *, ctl_request_t *, sp_buf_t *);
static int s_build_consent_list(const ctl_invocation_t *, ctl_request_t *, sp_buf_t *);
static int s_build_person_export(const ctl_invocation_t *, ctl_request_t *, sp_buf_t *);
static int s_build_person_erase(const ctl_invocation_t *, ctl_request_t *, sp_buf_t *);
static int s_build_data_key_rotate(const ctl_invocation_t *, ctl_request_t *, sp_buf_t *);
static int s_build_key_create(const ctl_invocation_t *, ctl_request_t *, sp_buf_t *);
static int s_build_key_list(const ctl_invocation_t *, ctl_request_t *, sp_buf_t *);
static int s_build_key_revoke(const ctl_invocation_t *, ctl_request_t *, sp_buf_t *);

#define R(x) SAMSPIL__V1__REGISTRATION_REPLY__RESULT_##x
#define OPTS(a) a, COUNT(a)
#define NO_OPTS NULL, 0

static const ctl_command_t s_commands[] = {
    {"status", NULL, NULL, 0, 0, "show the services on the broker and their workers",
     "samspilctl status", NO_OPTS, CTL_SHOW_STATUS, 0, R(_NOT_SET), NULL, CTL_ACT_STATUS},

    {"tenant", "create", NULL, 0, 0, "register a tenant (a municipality); operators only",
     "samspilctl tenant create --code 751 --name \"Aarhus Kommune\"", OPTS(s_tenant_create),
     CTL_SHOW_ID, CTL_WRITE, R(TENANT), s_build_tenant_create, CTL_ACT_REGISTRATION},
    {"tenant", "get", "CODE", 1, 1, "show one tenant", "samspilctl tenant get 751", NO_OPTS,
     CTL_SHOW_ENTITY, 0, R(TENANT), s_build_tenant_get, CTL_ACT_REGISTRATION},
    {"tenant", "list", NULL, 0, 0, "list the tenants", "samspilctl tenant list --all",
     OPTS(s_page_only), CTL_SHOW_LIST, 0, R(TENANTS), s_build_tenant_list, CTL_ACT_REGISTRATION},

    {"partnership", "create", NULL, 0, 0, "register a partnership",
     "samspilctl --tenant 751 partnership create --name \"Tryg i Gellerup\" \\\n"
     "      --purpose \"children thrive in school\" --status active",
     OPTS(s_partnership_create), CTL_SHOW_ID, CTL_TENANT | CTL_WRITE, R(PARTNERSHIP),
     s_build_partnership_create, CTL_ACT_REGISTRATION},
    {"partnership", "get", "ID", 1, 1, "show one partnership",
     "samspilctl --tenant 751 partnership get 6f1c2d3e-0000-4000-8000-000000000001", NO_OPTS,
     CTL_SHOW_ENTITY, CTL_TENANT, R(PARTNERSHIP), s_build_partnership_get, CTL_ACT_REGISTRATION},
    {"partnership", "list", NULL, 0, 0, "list partnerships",
     "samspilctl --tenant 751 partnership list --status active -o json", OPTS(s_partnership_list),
     CTL_SHOW_LIST, CTL_TENANT, R(PARTNERSHIPS), s_build_partnership_list, CTL_ACT_REGISTRATION},
    {"partnership", "update", "ID", 1, 1, "change the fields given as options",
     "samspilctl --tenant 751 partnership update 6f1c2d3e-0000-4000-8000-000000000001 "
     "--status paused",
     OPTS(s_partnership_update), CTL_SHOW_ENTITY, CTL_TENANT | CTL_WRITE, R(PARTNERSHIP),
     s_build_partnership_update, CTL_ACT_REGISTRATION},

    {"actor", "create", NULL, 0, 0, "register an actor: a citizen, professional or organisation",
     "id=$(samspilctl --tenant 751 actor create --kind citizen --name \"Jens Hansen\" \\\n"
     "      --interest skole --language da --phone 20304050 --external-ref sag:4711)",
     OPTS(s_actor_create), CTL_SHOW_ID, CTL_TENANT | CTL_WRITE, R(ACTOR), s_build_actor_create,
     CTL_ACT_REGISTRATION},
    {"actor", "get", "[ID]", 0, 1, "show one actor, by id or by --external-ref",
     "samspilctl --tenant 751 actor get --external-ref sag:4711", OPTS(s_actor_get),
     CTL_SHOW_ENTITY, CTL_TENANT, R(ACTOR), s_build_actor_get, CTL_ACT_REGISTRATION},
    {"actor", "list", NULL, 0, 0, "list actors",
     "samspilctl --tenant 751 actor list --kind citizen --interest skole --all", OPTS(s_actor_list),
     CTL_SHOW_LIST, CTL_TENANT, R(ACTORS), s_build_actor_list, CTL_ACT_REGISTRATION},
    {"actor", "update", "ID", 1, 1, "change the fields given as options",
     "samspilctl --tenant 751 actor update \"$id\" --interest skole --interest idraet",
     OPTS(s_actor_update), CTL_SHOW_ENTITY, CTL_TENANT | CTL_WRITE, R(ACTOR), s_build_actor_update,
     CTL_ACT_REGISTRATION},
    {"actor", "upsert", NULL, 0, 0,
     "create the actor with this external reference, or replace its fields",
     "samspilctl --tenant 751 actor upsert --external-ref sag:4711 --kind citizen \\\n"
     "      --name \"Jens Hansen\" --language da",
     OPTS(s_actor_upsert), CTL_SHOW_ID, CTL_TENANT | CTL_WRITE, R(ACTOR), s_build_actor_upsert,
     CTL_ACT_REGISTRATION},

    {"member", "add", NULL, 0, 0, "add an actor to a partnership",
     "samspilctl --tenant 751 member add --partnership \"$p\" --actor \"$id\" \\\n"
     "      --role initiator --role active --knowledge experiential",
     OPTS(s_member_add), CTL_SHOW_ID, CTL_TENANT | CTL_WRITE, R(MEMBERSHIP), s_build_member_add,
     CTL_ACT_REGISTRATION},
    {"member", "list", NULL, 0, 0, "list the memberships of a partnership or of an actor",
     "samspilctl --tenant 751 member list --partnership \"$p\" --include-ended",
     OPTS(s_member_list), CTL_SHOW_LIST, CTL_TENANT, R(MEMBERSHIPS), s_build_member_list,
     CTL_ACT_REGISTRATION},
    {"member", "end", "ID", 1, 1, "end a membership",
     "samspilctl --tenant 751 member end \"$m\" --date 2026-06-30", OPTS(s_member_end),
     CTL_SHOW_ENTITY, CTL_TENANT | CTL_WRITE, R(MEMBERSHIP), s_build_member_end,
     CTL_ACT_REGISTRATION},

    {"relation", "add", NULL, 0, 0, "record a tie between two actors",
     "samspilctl --tenant 751 relation add --from \"$a\" --to \"$b\" --kind trusts",
     OPTS(s_relation_add), CTL_SHOW_ID, CTL_TENANT | CTL_WRITE, R(RELATION), s_build_relation_add,
     CTL_ACT_REGISTRATION},
    {"relation", "list", NULL, 0, 0, "list the ties of an actor or recorded in a partnership",
     "samspilctl --tenant 751 relation list --actor \"$a\"", OPTS(s_relation_list), CTL_SHOW_LIST,
     CTL_TENANT, R(RELATIONS), s_build_relation_list, CTL_ACT_REGISTRATION},

    {"consent", "record", NULL, 0, 0, "record a consent an actor gave",
     "samspilctl --tenant 751 consent record --actor \"$id\" --purpose contact \\\n"
     "      --channel paper --text-version 2026-01",
     OPTS(s_consent_record), CTL_SHOW_ID, CTL_TENANT | CTL_WRITE, R(CONSENT),
     s_build_consent_record, CTL_ACT_REGISTRATION},
    {"consent", "withdraw", "ID", 1, 1, "record that a consent was withdrawn",
     "samspilctl --tenant 751 consent withdraw \"$c\"", NO_OPTS, CTL_SHOW_ENTITY,
     CTL_TENANT | CTL_WRITE, R(CONSENT), s_build_consent_withdraw, CTL_ACT_REGISTRATION},
    {"consent", "list", NULL, 0, 0, "list an actor's consents",
     "samspilctl --tenant 751 consent list --actor \"$id\"", OPTS(s_consent_list), CTL_SHOW_LIST,
     CTL_TENANT, R(CONSENTS), s_build_consent_list, CTL_ACT_REGISTRATION},

    {"person", "export", "[ID]", 0, 1,
     "everything Samspil holds about a person, from every service, as one JSON document",
     "samspilctl --tenant 751 person export \"$id\" > person.json", OPTS(s_person_export),
     CTL_SHOW_ENTITY, CTL_TENANT, R(PERSON), s_build_person_export, CTL_ACT_PERSON_EXPORT},
    {"person", "erase", "[ID]", 0, 1,
     "remove or pseudonymise every personal field of a person (keeps anonymous facts)",
     "samspilctl --tenant 751 person erase \"$id\" --yes", OPTS(s_person_erase), CTL_SHOW_ENTITY,
     CTL_TENANT | CTL_WRITE | CTL_CONFIRM, R(PERSON_ERASED), s_build_person_erase,
     CTL_ACT_REGISTRATION},

    {"key", "create", NULL, 0, 0,
     "make a key pair, register its public key and write the certificate file",
     "samspilctl key create --name sag-aarhus --role integrator --tenant 751 \\\n"
     "      --out sag-aarhus.cert",
     OPTS(s_key_create), CTL_SHOW_ID, 0, R(_NOT_SET), s_build_key_create, CTL_ACT_KEY_CREATE},
    {"key", "list", NULL, 0, 0, "list the registered keys", "samspilctl key list --include-revoked",
     OPTS(s_key_list), CTL_SHOW_LIST, 0, R(_NOT_SET), s_build_key_list, CTL_ACT_KEYS},
    {"key", "revoke", "[NAME]", 0, 1, "shut a key out, also on connections already open",
     "samspilctl key revoke sag-aarhus", OPTS(s_key_revoke), CTL_SHOW_ENTITY, 0, R(_NOT_SET),
     s_build_key_revoke, CTL_ACT_KEYS},
    {"key", "rotate-data", NULL, 0, 0,
     "new data key; re-seal every stored contact point under it, while serving",
     "samspilctl key rotate-data", OPTS(s_key_rotate), CTL_SHOW_ENTITY, CTL_LONG,
     R(DATA_KEY_ROTATION), s_build_data_key_rotate, CTL_ACT_REGISTRATION},

    {"events", "tail", NULL, 0, 0, "print a stream's events as JSON lines, live",
     "samspilctl events tail --from 1 --type membership. --count 10", OPTS(s_events_tail),
     CTL_SHOW_LINES, 0, R(_NOT_SET), NULL, CTL_ACT_EVENTS_TAIL},
};

ctl_show_t ctl_command_show(const ctl_command_t *cmd)
{
    return cmd->show;
}

bool ctl_command_confirms(const ctl_command_t *cmd)
{
    return (cmd->flags & CTL_CONFIRM) != 0;
}

ctl_action_t ctl_command_action(const ctl_command_t *cmd)
{
    return cmd->action;
}

bool ctl_command_writes(const ctl_command_t *cmd)
{
    return (cmd->flags & CTL_WRITE) != 0;
}

Samspil__V1__RegistrationReply__ResultCase ctl_command_result(const ctl_command_t *cmd)
{
    return cmd->result;
}

const char *ctl_command_name(const ctl_command_t *cmd, char *out, size_t outlen)
{
    snprintf(out, outlen, "%s%s%s", cmd->noun, cmd->verb ? " " : "", cmd->verb ? cmd->verb : "");
    return out;
}

static bool s_noun_exists(const char *noun)
{
    for (size_t i = 0; i < COUNT(s_commands); i++)
        if (strcmp(s_commands[i].noun, noun) == 0)
            return true;
    return false;
}

/* The command for `noun` and `verb` (verb ignored for a verb-less noun). */
static const ctl_command_t *s_find_command(const char *noun, const char *verb)
{
    for (size_t i = 0; i < COUNT(s_commands); i++) {
        const ctl_command_t *c = &s_commands[i];
        if (strcmp(c->noun, noun) != 0)
            continue;
        if (!c->verb || (verb && strcmp(c->verb, verb) == 0))
            return c;
    }
    return NULL;
}

/* "create, get, list" for a noun. */
static void s_verbs(sp_buf_t *out, const char *noun)
{
    bool first = true;
    for (size_t i = 0; i < COUNT(s_commands); i++) {
        if (strcmp(s_commands[i].noun, noun) != 0 || !s_commands[i].verb)
            continue;
        sp_buf_printf(out, "%s%s", first ? "" : ", ", s_commands[i].verb);
        first = false;
    }
}

/* ------------------------------------------------------------ help */

static void s_help_option(sp_buf_t *out, const ctl_opt_t *o)
{
    char left[96];
    int n = 0;
    if (o->opt.short_flag)
        n = snprintf(left, sizeof left, "-%c, ", o->opt.short_flag);
    snprintf(left + n, sizeof left - (size_t)n, "--%s%s%s", o->opt.flag,
             o->opt.type == SP_OPT_FLAG ? "" : " ",
             o->opt.type == SP_OPT_FLAG ? "" : o->opt.metavar);
    sp_buf_printf(out, "  %-26s %s", left, o->opt.help);
    if (o->choices) {
        char words[256];
        sp_buf_printf(out, ": %s", sp_pbenum_choices(o->choices, words, sizeof words));
    }
    if (o->required)
        sp_buf_puts(out, " (required)");
    if (o->opt.type == SP_OPT_LIST)
        sp_buf_puts(out, " (repeatable)");
    if (o->opt.env || o->opt.default_value) {
        sp_buf_puts(out, " [");
        if (o->opt.env)
            sp_buf_printf(out, "env %s", o->opt.env);
        if (o->opt.env && o->opt.default_value)
            sp_buf_puts(out, ", ");
        if (o->opt.default_value)
            sp_buf_printf(out, "default %s", o->opt.default_value);
        sp_buf_puts(out, "]");
    }
    sp_buf_puts(out, "\n");
}

static void s_help_program(sp_buf_t *out)
{
    sp_buf_puts(out, "Usage: " CTL_PROGRAM " [GLOBAL OPTIONS] NOUN VERB [ARGS] [OPTIONS]\n"
                     "\n"
                     "Command-line client of Samspil: register partnerships, actors, memberships,\n"
                     "relations and consent through the broker, and follow the event streams.\n"
                     "Global options may appear anywhere on the line.\n"
                     "\n"
                     "Commands:\n");
    for (size_t i = 0; i < COUNT(s_commands); i++) {
        const ctl_command_t *c = &s_commands[i];
        char left[64];
        snprintf(left, sizeof left, "%s%s%s%s%s", c->noun, c->verb ? " " : "",
                 c->verb ? c->verb : "", c->args ? " " : "", c->args ? c->args : "");
        sp_buf_printf(out, "  %-26s %s\n", left, c->summary);
    }
    sp_buf_puts(out, "\nGlobal options:\n");
    for (size_t i = 0; i < COUNT(s_global_opts); i++)
        s_help_option(out, &s_global_opts[i]);
    sp_buf_printf(out, "  %-26s %s\n  %-26s %s\n", "-h, --help",
                  "show help (after a command: that command's help)", "--version",
                  "show the version and exit");
    sp_buf_puts(out,
                "\nOutput: without -o json a create prints the new id alone on stdout, a get\n"
                "prints \"field: value\" lines and a list one line per item (\"next: CURSOR\"\n"
                "on stderr when there are more).\n"
                "Exit status: 0 ok, 1 error reply, 2 usage error, 3 broker unavailable or\n"
                "no reply in time.\n"
                "\nRun '" CTL_PROGRAM " NOUN VERB --help' for a command's options.\n");
}

static void s_help_noun(sp_buf_t *out, const char *noun)
{
    sp_buf_printf(
        out, "Usage: " CTL_PROGRAM " [GLOBAL OPTIONS] %s VERB [ARGS] [OPTIONS]\n\nVerbs:\n", noun);
    for (size_t i = 0; i < COUNT(s_commands); i++) {
        const ctl_command_t *c = &s_commands[i];
        if (strcmp(c->noun, noun) != 0)
            continue;
        char left[64];
        snprintf(left, sizeof left, "%s%s%s", c->verb ? c->verb : "", c->args ? " " : "",
                 c->args ? c->args : "");
        sp_buf_printf(out, "  %-26s %s\n", left, c->summary);
    }
    sp_buf_printf(out, "\nRun '" CTL_PROGRAM " %s VERB --help' for a verb's options.\n", noun);
}

/* What a command prints, by its output form. */
static void s_help_shows(sp_buf_t *out, const ctl_command_t *c)
{
    switch (c->show) {
    case CTL_SHOW_ID:
        sp_buf_printf(out,
                      "Prints the %s alone (the existing one's when the idempotency key\n"
                      "or external reference was seen before); with -o json the whole "
                      "entity.\n",
                      strcmp(c->noun, "tenant") == 0 ? "code" : "id");
        break;
    case CTL_SHOW_ENTITY:
        sp_buf_puts(out, "Prints \"field: value\" lines; with -o json the entity.\n");
        break;
    case CTL_SHOW_LIST:
        sp_buf_puts(out, "Prints one line per item, id first; \"next: CURSOR\" on stderr when\n"
                         "there are more.  With -o json: {\"items\": [...], \"next\": \"...\"}, "
                         "next \"\" at the end.\n");
        break;
    case CTL_SHOW_STATUS:
        sp_buf_puts(out, "Prints SERVICE WORKERS CREDIT IN-FLIGHT QUEUED per service; with -o "
                         "json the\nBrokerStatus.  Exits 3 when the broker does not answer.\n");
        break;
    case CTL_SHOW_LINES:
        sp_buf_puts(out,
                    "Prints one JSON object per event and line: stream, seq, tenant, type,\n"
                    "entity_id, occurred_at (RFC 3339 UTC, microseconds) and the payload's\n"
                    "fields.  Without --from it starts at the stream's current head; with\n"
                    "--from it replays from that sequence number first and then follows the\n"
                    "stream live, without gaps or duplicates.  Runs until interrupted (SIGINT\n"
                    "or SIGTERM: exit 0) or until --count events were printed.\n");
        break;
    }
}

static void s_help_command(sp_buf_t *out, const ctl_command_t *c)
{
    char name[64];
    ctl_command_name(c, name, sizeof name);
    sp_buf_printf(out, "Usage: " CTL_PROGRAM " [GLOBAL OPTIONS] %s%s%s%s\n\n", name,
                  c->args ? " " : "", c->args ? c->args : "", c->nopts ? " [OPTIONS]" : "");
    sp_buf_printf(out, "%c%s.\n", c->summary[0] - 'a' + 'A', c->summary + 1);
    if (c->flags & CTL_TENANT)
        sp_buf_puts(out, "Acts on the tenant named by --tenant or SAMSPIL_TENANT.\n");
    if (c->flags & CTL_CONFIRM)
        sp_buf_puts(out,
                    "It cannot be undone: on a terminal it asks first; otherwise give --yes.\n");
    if (c->flags & CTL_LONG)
        sp_buf_puts(out, "It may take minutes: the default timeout is 10 minutes and the request\n"
                         "is not repeated after a timeout.\n");
    switch (c->action) {
    case CTL_ACT_KEY_CREATE:
        sp_buf_puts(out,
                    "The secret key never leaves this machine: only the public key is sent to\n"
                    "the broker's key registry.  The certificate file (mode 0600) is written\n"
                    "only after the registry accepted the key; an existing file is never\n"
                    "replaced.  Prints the certificate's path; with -o json the key as\n"
                    "registered.  Operators only.\n");
        break;
    case CTL_ACT_PERSON_EXPORT:
        sp_buf_puts(out, "Asks every service that holds personal data and prints one JSON\n"
                         "document: {\"actor_id\": ..., \"exported_at\": ..., \"services\":\n"
                         "{\"registration\": {...}}}, also without -o json.  Operators, and\n"
                         "facilitators of the tenant.\n");
        break;
    case CTL_ACT_KEYS:
        if (c->show == CTL_SHOW_LIST)
            sp_buf_puts(out, "Prints NAME ROLE TENANTS CREATED REVOKED PUBLIC-KEY, one key per "
                             "line; with\n-o json: {\"items\": [...], \"next\": \"\"}.  "
                             "Operators only.\n");
        else
            sp_buf_puts(out, "Prints the key's \"field: value\" lines; with -o json the key.  "
                             "Operators only.\n");
        break;
    default:
        s_help_shows(out, c);
        break;
    }
    if (c->nopts) {
        sp_buf_puts(out, "\nOptions:\n");
        for (size_t i = 0; i < c->nopts; i++)
            s_help_option(out, &c->opts[i]);
    }
    sp_buf_puts(out, "\nGlobal options (anywhere on the line; see '" CTL_PROGRAM " --help'):\n"
                     "  --tenant CODE, --broker ENDPOINT, --home DIR, -o/--output text|json,\n"
                     "  --timeout-ms MS, --idempotency-key KEY, --key FILE, --help, --version\n");
    sp_buf_printf(out, "\nExample:\n  %s\n", c->example);
}

void ctl_args_help(const ctl_invocation_t *inv, sp_buf_t *out)
{
    if (inv->cmd)
        s_help_command(out, inv->cmd);
    else if (inv->noun)
        s_help_noun(out, inv->noun);
    else
        s_help_program(out);
}

/* ------------------------------------------------------------ parsing */

/* Any option of the program by its command-line spelling ("--name",
 * "--name=value", "-o"); sets *has_value when the value is inline. */
static const ctl_opt_t *s_lookup_any(const char *arg, bool *inline_value)
{
    *inline_value = false;
    char name[64];
    if (arg[1] == '-') {
        const char *eq = strchr(arg + 2, '=');
        size_t len = eq ? (size_t)(eq - arg - 2) : strlen(arg + 2);
        if (len >= sizeof name)
            return NULL;
        memcpy(name, arg + 2, len);
        name[len] = '\0';
        *inline_value = eq != NULL;
    } else if (arg[2] == '\0') {
        for (size_t i = 0; i < COUNT(s_global_opts); i++)
            if (s_global_opts[i].opt.short_flag == arg[1])
                return &s_global_opts[i];
        return NULL;
    } else {
        return NULL;
    }
    for (size_t i = 0; i < COUNT(s_global_opts); i++)
        if (strcmp(s_global_opts[i].opt.flag, name) == 0)
            return &s_global_opts[i];
    for (size_t i = 0; i < COUNT(s_commands); i++)
        for (size_t k = 0; k < s_commands[i].nopts; k++)
            if (strcmp(s_commands[i].opts[k].opt.flag, name) == 0)
                return &s_commands[i].opts[k];
    return NULL;
}

/* Append a usage error for `inv` to `err`, with the hint. */
static ctl_parse_t s_usage(const ctl_invocation_t *inv, sp_buf_t *err, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static ctl_parse_t s_usage(const ctl_invocation_t *inv, sp_buf_t *err, const char *fmt, ...)
{
    char name[64] = "";
    if (inv->cmd)
        ctl_command_name(inv->cmd, name, sizeof name);
    else if (inv->noun)
        snprintf(name, sizeof name, "%s", inv->noun);
    sp_buf_printf(err, CTL_PROGRAM "%s%s: ", name[0] ? " " : "", name);
    va_list ap;
    va_start(ap, fmt);
    sp_buf_vprintf(err, fmt, ap);
    va_end(ap);
    sp_buf_printf(err, "\nTry '" CTL_PROGRAM "%s%s --help'.\n", name[0] ? " " : "", name);
    return CTL_PARSE_USAGE;
}

static const ctl_opt_t *s_command_opt(const ctl_command_t *cmd, const char *flag)
{
    for (size_t i = 0; i < cmd->nopts; i++)
        if (strcmp(cmd->opts[i].opt.flag, flag) == 0)
            return &cmd->opts[i];
    return NULL;
}

static const sp_option_t *s_opt(const ctl_invocation_t *inv, const char *flag)
{
    for (size_t i = 0; i < inv->nopts; i++)
        if (strcmp(inv->opts[i].flag, flag) == 0)
            return &inv->opts[i];
    return NULL;
}

static bool s_isset(const ctl_invocation_t *inv, const char *flag)
{
    const sp_option_t *o = s_opt(inv, flag);
    return o && o->set;
}

/* The option's value when given, else NULL.  protobuf-c strings are char *;
 * the request never frees or changes them. */
static char *s_val(const ctl_invocation_t *inv, const char *flag)
{
    const sp_option_t *o = s_opt(inv, flag);
    return o && o->set ? (char *)o->value : NULL;
}

/* Parse a decimal integer in [min, max]; -1 when it is not one. */
static int s_parse_int(const char *text, long long min, long long max, long long *out)
{
    if (!text || !*text)
        return -1;
    for (const char *p = text; *p; p++)
        if (!((*p >= '0' && *p <= '9') || (p == text && *p == '-')))
            return -1;
    errno = 0;
    char *end;
    long long v = strtoll(text, &end, 10);
    if (errno || *end || v < min || v > max)
        return -1;
    *out = v;
    return 0;
}

/* Check what the CLI parses itself: required options, enum words. */
static ctl_parse_t s_check_options(ctl_invocation_t *inv, sp_buf_t *err)
{
    const ctl_command_t *cmd = inv->cmd;
    for (size_t i = 0; i < cmd->nopts; i++) {
        const ctl_opt_t *o = &cmd->opts[i];
        const sp_option_t *got = s_opt(inv, o->opt.flag);
        if (o->required && !got->set)
            return s_usage(inv, err, "missing required option --%s", o->opt.flag);
        if (!o->choices || !got->set)
            continue;
        size_t n = got->type == SP_OPT_LIST ? got->nvalues : 1;
        for (size_t k = 0; k < n; k++) {
            const char *text = got->type == SP_OPT_LIST ? got->values[k] : got->value;
            int value;
            if (sp_pbenum_parse(o->choices, text, &value) < 0) {
                char quoted[96], words[256];
                return s_usage(inv, err, "invalid value \"%s\" for --%s: expected one of %s",
                               sp_error_quote(text, 48, quoted, sizeof quoted), o->opt.flag,
                               sp_pbenum_choices(o->choices, words, sizeof words));
            }
        }
    }
    return CTL_PARSE_OK;
}

/* Parse an unsigned decimal integer (digits only); -1 when it is not one
 * or does not fit in 64 bits. */
static int s_parse_u64(const char *text, uint64_t *out)
{
    if (!text || !*text)
        return -1;
    uint64_t v = 0;
    for (const char *p = text; *p; p++) {
        if (*p < '0' || *p > '9')
            return -1;
        unsigned d = (unsigned)(*p - '0');
        if (v > (UINT64_MAX - d) / 10)
            return -1;
        v = v * 10 + d;
    }
    *out = v;
    return 0;
}

/* The suite home as an absolute path (what sp_client_default_endpoint
 * resolves it to), into `out`.  Returns 0, or -1 when it does not fit. */
static int s_absolute_home(const char *home, char *out, size_t outlen)
{
    static const char prefix[] = "ipc://", suffix[] = "/run/broker.ipc";
    char endpoint[4200];
    if (!sp_client_default_endpoint(home, endpoint, sizeof endpoint))
        return -1;
    size_t len = strlen(endpoint);
    if (len < sizeof prefix - 1 + sizeof suffix - 1 ||
        strncmp(endpoint, prefix, sizeof prefix - 1) != 0 ||
        strcmp(endpoint + len - (sizeof suffix - 1), suffix) != 0)
        return -1;
    size_t n = len - (sizeof prefix - 1) - (sizeof suffix - 1);
    if (n >= outlen)
        return -1;
    memcpy(out, endpoint + sizeof prefix - 1, n);
    out[n] = '\0';
    return 0;
}

/* A stream name: 1..63 of [A-Za-z0-9._-] (it is the first part of a topic
 * and of the replay service's name). */
static bool s_stream_valid(const char *stream)
{
    size_t n = strlen(stream);
    if (n == 0 || n > 63)
        return false;
    for (const char *p = stream; *p; p++)
        if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') ||
              *p == '.' || *p == '_' || *p == '-'))
            return false;
    return true;
}

/* `events tail`: check and resolve its options into inv->events. */
static ctl_parse_t s_resolve_events(ctl_invocation_t *inv, sp_buf_t *err)
{
    ctl_events_opts_t *ev = &inv->events;
    char quoted[96];
    ev->stream = s_opt(inv, "stream")->value;
    if (!ev->stream || !s_stream_valid(ev->stream))
        return s_usage(inv, err,
                       "invalid value \"%s\" for --stream: expected a service name such as "
                       "registration",
                       sp_error_quote(ev->stream ? ev->stream : "", 48, quoted, sizeof quoted));
    ev->type_prefix = s_val(inv, "type") ? s_val(inv, "type") : "";
    if (s_isset(inv, "from")) {
        if (s_parse_u64(s_val(inv, "from"), &ev->from) < 0)
            return s_usage(inv, err,
                           "invalid value \"%s\" for --from: expected a sequence number, 1 or "
                           "more",
                           sp_error_quote(s_val(inv, "from"), 48, quoted, sizeof quoted));
        ev->has_from = true;
    }
    if (s_isset(inv, "count")) {
        if (s_parse_u64(s_val(inv, "count"), &ev->count) < 0 || ev->count == 0)
            return s_usage(inv, err,
                           "invalid value \"%s\" for --count: expected a number of events, 1 or "
                           "more",
                           sp_error_quote(s_val(inv, "count"), 48, quoted, sizeof quoted));
    }
    if (s_val(inv, "events") && *s_val(inv, "events")) {
        ev->endpoint = s_val(inv, "events");
        return CTL_PARSE_OK;
    }
    char home[4096];
    if (s_absolute_home(inv->home, home, sizeof home) < 0)
        return s_usage(inv, err, "could not resolve the home directory \"%s\"",
                       sp_error_quote(inv->home, 48, quoted, sizeof quoted));
    ev->endpoint = sp_events_out_default(home, ev->endpoint_buf, sizeof ev->endpoint_buf);
    return CTL_PARSE_OK;
}

/* A key name that can also be a file name: 1..63 of [A-Za-z0-9._-], not
 * starting with '.' or '-' (the registry's own rule). */
static bool s_key_name_valid(const char *name)
{
    size_t n = strlen(name);
    if (n == 0 || n > 63 || name[0] == '.' || name[0] == '-')
        return false;
    for (const char *p = name; *p; p++)
        if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') ||
              *p == '.' || *p == '_' || *p == '-'))
            return false;
    return true;
}

/* key create: --out, or HOME/keys/NAME.cert. */
static ctl_parse_t s_resolve_key_out(ctl_invocation_t *inv, sp_buf_t *err)
{
    char quoted[96];
    const char *name = s_val(inv, "name");
    if (!s_key_name_valid(name))
        return s_usage(inv, err,
                       "invalid value \"%s\" for --name: expected 1 to 63 of A-Z a-z 0-9 . _ -, "
                       "not starting with . or -",
                       sp_error_quote(name, 48, quoted, sizeof quoted));
    if (s_val(inv, "out") && *s_val(inv, "out")) {
        inv->key_out = s_val(inv, "out");
        return CTL_PARSE_OK;
    }
    char home[4096];
    if (sp_curve_home(inv->home, home, sizeof home) < 0 ||
        snprintf(inv->key_out_buf, sizeof inv->key_out_buf, "%s/keys/%s.cert", home, name) >=
            (int)sizeof inv->key_out_buf)
        return s_usage(inv, err, "the home directory path is too long");
    inv->key_out = inv->key_out_buf;
    inv->key_out_default = true;
    return CTL_PARSE_OK;
}

/* Resolve the global options into the invocation's fields. */
static ctl_parse_t s_resolve_globals(ctl_invocation_t *inv, sp_buf_t *err)
{
    const char *output = s_opt(inv, "output")->value;
    if (strcmp(output, "text") == 0)
        inv->output = CTL_OUTPUT_TEXT;
    else if (strcmp(output, "json") == 0)
        inv->output = CTL_OUTPUT_JSON;
    else {
        char quoted[96];
        return s_usage(inv, err, "invalid value \"%s\" for --output: expected text or json",
                       sp_error_quote(output, 48, quoted, sizeof quoted));
    }
    long long timeout;
    const char *ttext = s_opt(inv, "timeout-ms")->value;
    if (s_parse_int(ttext, 1, INT_MAX, &timeout) < 0) {
        char quoted[96];
        return s_usage(inv, err,
                       "invalid value \"%s\" for --timeout-ms: expected a number of "
                       "milliseconds, at least 1",
                       sp_error_quote(ttext, 48, quoted, sizeof quoted));
    }
    inv->timeout_ms = (int)timeout;
    inv->retries = 2;
    if (inv->cmd->flags & CTL_LONG) {
        inv->retries = 0; /* a repeat would redo the work; the operation says how to resume */
        if (!s_isset(inv, "timeout-ms"))
            inv->timeout_ms = CTL_LONG_TIMEOUT_MS;
    }
    inv->yes = s_isset(inv, "yes");
    inv->tenant = s_val(inv, "tenant");
    inv->idempotency_key = s_val(inv, "idempotency-key");
    inv->all = s_isset(inv, "all");
    if (s_isset(inv, "broker") && *s_val(inv, "broker")) {
        inv->broker = s_val(inv, "broker");
    } else {
        const char *home = s_opt(inv, "home")->value;
        inv->broker = sp_client_default_endpoint(home && *home ? home : "./var", inv->broker_buf,
                                                 sizeof inv->broker_buf);
    }
    inv->home = s_opt(inv, "home")->value;
    if (!inv->home || !*inv->home)
        inv->home = "./var";
    inv->key_path = s_val(inv, "key") && *s_val(inv, "key") ? s_val(inv, "key") : NULL;
    if ((inv->cmd->flags & CTL_TENANT) && (!inv->tenant || !*inv->tenant))
        return s_usage(inv, err, "no tenant: give --tenant CODE or set SAMSPIL_TENANT");
    if (inv->cmd->action == CTL_ACT_EVENTS_TAIL)
        return s_resolve_events(inv, err);
    if (inv->cmd->action == CTL_ACT_KEY_CREATE)
        return s_resolve_key_out(inv, err);
    return CTL_PARSE_OK;
}

ctl_parse_t ctl_args_parse(ctl_invocation_t *inv, int argc, char **argv, sp_buf_t *err)
{
    memset(inv, 0, sizeof *inv);

    /* pass 1: find NOUN [VERB], --help and --version */
    const char *words[3];
    int nwords = 0;
    bool help = false, version = false, done = false;
    const char *unknown = NULL;
    for (int i = 1; i < argc; i++) {
        const char *arg = argv[i];
        if (done || arg[0] != '-' || arg[1] == '\0') {
            if (nwords < 3)
                words[nwords++] = arg;
            continue;
        }
        if (strcmp(arg, "--") == 0) {
            done = true;
        } else if (strcmp(arg, "--help") == 0 || strcmp(arg, "-h") == 0) {
            help = true;
        } else if (strcmp(arg, "--version") == 0) {
            version = true;
        } else {
            bool inline_value;
            const ctl_opt_t *o = s_lookup_any(arg, &inline_value);
            if (!o) {
                if (!unknown)
                    unknown = arg;
            } else if (o->opt.type != SP_OPT_FLAG && !inline_value) {
                i++; /* its value */
            }
        }
    }
    int w = 0;
    if (nwords > 0 && strcmp(words[0], "help") == 0) {
        help = true;
        w = 1;
    }
    if (w >= nwords) {
        if (help)
            return CTL_PARSE_HELP;
        if (version)
            return CTL_PARSE_VERSION;
        if (unknown) {
            char quoted[96];
            return s_usage(inv, err, "unknown option \"%s\"",
                           sp_error_quote(unknown, 48, quoted, sizeof quoted));
        }
        s_help_program(err);
        return CTL_PARSE_USAGE;
    }
    if (!s_noun_exists(words[w])) {
        char quoted[96];
        return s_usage(inv, err, "unknown command \"%s\"",
                       sp_error_quote(words[w], 48, quoted, sizeof quoted));
    }
    inv->noun = words[w];
    inv->cmd = s_find_command(words[w], w + 1 < nwords ? words[w + 1] : NULL);
    if (!inv->cmd) {
        if (help)
            return CTL_PARSE_HELP;
        sp_buf_t verbs;
        sp_buf_init(&verbs);
        s_verbs(&verbs, inv->noun);
        ctl_parse_t rc;
        if (w + 1 >= nwords) {
            rc = s_usage(inv, err, "missing verb: one of %s", verbs.data);
        } else {
            char quoted[96];
            rc = s_usage(inv, err, "unknown verb \"%s\": expected one of %s",
                         sp_error_quote(words[w + 1], 48, quoted, sizeof quoted), verbs.data);
        }
        sp_buf_free(&verbs);
        return rc;
    }
    if (help)
        return CTL_PARSE_HELP;
    if (version)
        return CTL_PARSE_VERSION;

    /* pass 2: sp_config_parse with the global and this command's options */
    const ctl_command_t *cmd = inv->cmd;
    for (size_t i = 0; i < COUNT(s_global_opts); i++)
        if (!s_command_opt(cmd, s_global_opts[i].opt.flag)) /* key create --tenant is its own */
            inv->opts[inv->nopts++] = s_global_opts[i].opt;
    for (size_t i = 0; i < cmd->nopts && inv->nopts < CTL_MAX_OPTS; i++)
        inv->opts[inv->nopts++] = cmd->opts[i].opt;
    char program[64];
    snprintf(program, sizeof program, CTL_PROGRAM " ");
    ctl_command_name(cmd, program + strlen(program), sizeof program - strlen(program));
    sp_program_info_t info = {.program = program, .usage = "[OPTIONS]", .description = NULL};
    const char **positional = calloc((size_t)argc + 1, sizeof *positional);
    if (!positional)
        abort();
    int npositional = 0;
    int rc = sp_config_parse(&info, inv->opts, inv->nopts, argc, argv, positional, &npositional);
    if (rc < 0) {
        free(positional);
        return CTL_PARSE_USAGE; /* sp_config_parse printed why */
    }
    int skip = cmd->verb ? 2 : 1;
    int nargs = npositional - skip;
    if (nargs > cmd->max_args) {
        char quoted[96];
        ctl_parse_t urc =
            s_usage(inv, err, "unexpected argument \"%s\"",
                    sp_error_quote(positional[skip + cmd->max_args], 48, quoted, sizeof quoted));
        free(positional);
        return urc;
    }
    for (int i = 0; i < nargs; i++)
        inv->args[inv->nargs++] = positional[skip + i];
    free(positional);
    if (nargs < cmd->min_args)
        return s_usage(inv, err, "missing argument %s", cmd->args);

    ctl_parse_t prc = s_check_options(inv, err);
    if (prc != CTL_PARSE_OK)
        return prc;
    return s_resolve_globals(inv, err);
}

/* ------------------------------------------------------------ building */

static int s_build_usage(const ctl_invocation_t *inv, sp_buf_t *err, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static int s_build_usage(const ctl_invocation_t *inv, sp_buf_t *err, const char *fmt, ...)
{
    char name[64];
    ctl_command_name(inv->cmd, name, sizeof name);
    sp_buf_printf(err, CTL_PROGRAM " %s: ", name);
    va_list ap;
    va_start(ap, fmt);
    sp_buf_vprintf(err, fmt, ap);
    va_end(ap);
    sp_buf_printf(err, "\nTry '" CTL_PROGRAM " %s --help'.\n", name);
    return -1;
}

/* An enum option's value (already checked), or 0 when not given. */
static int s_enum_val(const ctl_invocation_t *inv, const char *flag)
{
    const ctl_opt_t *o = s_command_opt(inv->cmd, flag);
    const char *text = s_val(inv, flag);
    int value = 0;
    if (o && o->choices && text && sp_pbenum_parse(o->choices, text, &value) < 0)
        value = 0;
    return value;
}

/* --limit, --cursor into r->page and *page. */
static int s_page(const ctl_invocation_t *inv, ctl_request_t *r, Samspil__V1__PageRequest **page,
                  sp_buf_t *err)
{
    samspil__v1__page_request__init(&r->page);
    const char *limit = s_val(inv, "limit");
    if (limit) {
        long long n;
        if (s_parse_int(limit, 0, UINT32_MAX, &n) < 0) {
            char quoted[96];
            return s_build_usage(inv, err,
                                 "invalid value \"%s\" for --limit: expected a whole number, 0 "
                                 "or more",
                                 sp_error_quote(limit, 48, quoted, sizeof quoted));
        }
        r->page.limit = (uint32_t)n;
    }
    if (s_val(inv, "cursor"))
        r->page.cursor = s_val(inv, "cursor");
    *page = &r->page;
    return 0;
}

/* Add `name` to the update mask. */
static void s_mask(ctl_request_t *r, size_t *n, const char *name)
{
    if (*n < CTL_MAX_MASK)
        r->mask[(*n)++] = (char *)name;
}

static int s_build_tenant_create(const ctl_invocation_t *inv, ctl_request_t *r, sp_buf_t *err)
{
    Samspil__V1__TenantCreate *op = &r->op.tenant_create;
    samspil__v1__tenant_create__init(op);
    op->code = s_val(inv, "code");
    op->name = s_val(inv, "name");
    r->req.op_case = SAMSPIL__V1__REGISTRATION_REQUEST__OP_TENANT_CREATE;
    r->req.tenant_create = op;
    return 0;
}

static int s_build_tenant_get(const ctl_invocation_t *inv, ctl_request_t *r, sp_buf_t *err)
{
    Samspil__V1__TenantGet *op = &r->op.tenant_get;
    samspil__v1__tenant_get__init(op);
    op->code = (char *)inv->args[0];
    r->req.op_case = SAMSPIL__V1__REGISTRATION_REQUEST__OP_TENANT_GET;
    r->req.tenant_get = op;
    return 0;
}

static int s_build_tenant_list(const ctl_invocation_t *inv, ctl_request_t *r, sp_buf_t *err)
{
    Samspil__V1__TenantList *op = &r->op.tenant_list;
    samspil__v1__tenant_list__init(op);
    r->req.op_case = SAMSPIL__V1__REGISTRATION_REQUEST__OP_TENANT_LIST;
    r->req.tenant_list = op;
    return s_page(inv, r, &op->page, err);
}

static int s_build_partnership_create(const ctl_invocation_t *inv, ctl_request_t *r, sp_buf_t *err)
{
    Samspil__V1__Partnership *p = &r->entity.partnership;
    samspil__v1__partnership__init(p);
    p->name = s_val(inv, "name");
    if (s_val(inv, "purpose"))
        p->purpose = s_val(inv, "purpose");
    if (s_val(inv, "burning-platform"))
        p->burning_platform = s_val(inv, "burning-platform");
    p->status = s_enum_val(inv, "status");
    if (s_val(inv, "backbone"))
        p->backbone_organisation_id = s_val(inv, "backbone");
    if (s_val(inv, "external-ref"))
        p->external_ref = s_val(inv, "external-ref");
    Samspil__V1__PartnershipCreate *op = &r->op.partnership_create;
    samspil__v1__partnership_create__init(op);
    op->partnership = p;
    r->req.op_case = SAMSPIL__V1__REGISTRATION_REQUEST__OP_PARTNERSHIP_CREATE;
    r->req.partnership_create = op;
    return 0;
}

static int s_build_partnership_get(const ctl_invocation_t *inv, ctl_request_t *r, sp_buf_t *err)
{
    Samspil__V1__PartnershipGet *op = &r->op.partnership_get;
    samspil__v1__partnership_get__init(op);
    op->id = (char *)inv->args[0];
    r->req.op_case = SAMSPIL__V1__REGISTRATION_REQUEST__OP_PARTNERSHIP_GET;
    r->req.partnership_get = op;
    return 0;
}

static int s_build_partnership_list(const ctl_invocation_t *inv, ctl_request_t *r, sp_buf_t *err)
{
    Samspil__V1__PartnershipList *op = &r->op.partnership_list;
    samspil__v1__partnership_list__init(op);
    op->status = s_enum_val(inv, "status");
    r->req.op_case = SAMSPIL__V1__REGISTRATION_REQUEST__OP_PARTNERSHIP_LIST;
    r->req.partnership_list = op;
    return s_page(inv, r, &op->page, err);
}

static int s_build_partnership_update(const ctl_invocation_t *inv, ctl_request_t *r, sp_buf_t *err)
{
    Samspil__V1__Partnership *p = &r->entity.partnership;
    samspil__v1__partnership__init(p);
    p->id = (char *)inv->args[0];
    size_t n = 0;
    if (s_isset(inv, "name")) {
        p->name = s_val(inv, "name");
        s_mask(r, &n, "name");
    }
    if (s_isset(inv, "purpose")) {
        p->purpose = s_val(inv, "purpose");
        s_mask(r, &n, "purpose");
    }
    if (s_isset(inv, "burning-platform")) {
        p->burning_platform = s_val(inv, "burning-platform");
        s_mask(r, &n, "burning_platform");
    }
    if (s_isset(inv, "status")) {
        p->status = s_enum_val(inv, "status");
        s_mask(r, &n, "status");
    }
    if (s_isset(inv, "backbone")) {
        p->backbone_organisation_id = s_val(inv, "backbone");
        s_mask(r, &n, "backbone_organisation_id");
    }
    if (n == 0)
        return s_build_usage(inv, err,
                             "nothing to update: give at least one of --name, --purpose, "
                             "--burning-platform, --status, --backbone");
    Samspil__V1__PartnershipUpdate *op = &r->op.partnership_update;
    samspil__v1__partnership_update__init(op);
    op->partnership = p;
    op->update_mask = r->mask;
    op->n_update_mask = n;
    r->req.op_case = SAMSPIL__V1__REGISTRATION_REQUEST__OP_PARTNERSHIP_UPDATE;
    r->req.partnership_update = op;
    return 0;
}

/* Copy a LIST option's values into `out` (room for SP_OPT_MAX_VALUES). */
static size_t s_list(const ctl_invocation_t *inv, const char *flag, char **out)
{
    const sp_option_t *o = s_opt(inv, flag);
    if (!o || !o->set)
        return 0;
    for (size_t i = 0; i < o->nvalues; i++)
        out[i] = (char *)o->values[i];
    return o->nvalues;
}

/* --email/--phone/--postal and --preferred into a->contact_points.
 * Returns the number of contact points, or -1 after a usage error. */
static int s_contacts(const ctl_invocation_t *inv, ctl_request_t *r, Samspil__V1__Actor *a,
                      sp_buf_t *err)
{
    static const struct {
        const char *flag;
        Samspil__V1__ContactKind kind;
    } kinds[] = {
        {"email", SAMSPIL__V1__CONTACT_KIND__CONTACT_KIND_EMAIL},
        {"phone", SAMSPIL__V1__CONTACT_KIND__CONTACT_KIND_PHONE},
        {"postal", SAMSPIL__V1__CONTACT_KIND__CONTACT_KIND_POSTAL},
    };
    const char *preferred = s_val(inv, "preferred");
    bool preferred_found = false;
    size_t n = 0;
    for (size_t k = 0; k < COUNT(kinds); k++) {
        const sp_option_t *o = s_opt(inv, kinds[k].flag);
        if (!o || !o->set)
            continue;
        for (size_t i = 0; i < o->nvalues && n < CTL_MAX_CONTACTS; i++) {
            Samspil__V1__ContactPoint *cp = &r->contacts[n];
            samspil__v1__contact_point__init(cp);
            cp->kind = kinds[k].kind;
            cp->value = (char *)o->values[i];
            if (preferred && !preferred_found && strcmp(preferred, cp->value) == 0) {
                cp->preferred = 1;
                preferred_found = true;
            }
            r->contact_ptrs[n++] = cp;
        }
    }
    if (preferred && !preferred_found)
        return s_build_usage(inv, err,
                             "--preferred must repeat one of the --email, --phone or --postal "
                             "values");
    a->contact_points = r->contact_ptrs;
    a->n_contact_points = n;
    return (int)n;
}

/* The actor fields of create, upsert and update; for update (mask != NULL)
 * only the options given, each named in the mask. */
static int s_actor_fields(const ctl_invocation_t *inv, ctl_request_t *r, Samspil__V1__Actor *a,
                          size_t *mask, sp_buf_t *err)
{
    bool update = mask != NULL;
    size_t unused = 0;
    if (!mask)
        mask = &unused;
    if (s_isset(inv, "name")) {
        a->name = s_val(inv, "name");
        s_mask(r, mask, "name");
    }
    if (s_isset(inv, "organisation")) {
        a->organisation_id = s_val(inv, "organisation");
        s_mask(r, mask, "organisation_id");
    }
    if (s_isset(inv, "sector")) {
        a->sector = s_enum_val(inv, "sector");
        s_mask(r, mask, "sector");
    }
    if (s_isset(inv, "interest") || s_isset(inv, "clear-interests")) {
        a->interests = r->interests;
        a->n_interests = s_list(inv, "interest", r->interests);
        s_mask(r, mask, "interests");
    }
    if (s_isset(inv, "language")) {
        a->preferred_language = s_val(inv, "language");
        s_mask(r, mask, "preferred_language");
    }
    if (s_isset(inv, "accessibility") || s_isset(inv, "clear-accessibility")) {
        a->accessibility_needs = r->accessibility;
        a->n_accessibility_needs = s_list(inv, "accessibility", r->accessibility);
        s_mask(r, mask, "accessibility_needs");
    }
    if (s_isset(inv, "email") || s_isset(inv, "phone") || s_isset(inv, "postal") ||
        s_isset(inv, "clear-contacts") || s_isset(inv, "preferred")) {
        if (s_contacts(inv, r, a, err) < 0)
            return -1;
        s_mask(r, mask, "contact_points");
    }
    if (s_isset(inv, "vulnerable") && s_isset(inv, "not-vulnerable"))
        return s_build_usage(inv, err, "--vulnerable and --not-vulnerable contradict each other");
    if (s_isset(inv, "vulnerable") || s_isset(inv, "not-vulnerable")) {
        a->vulnerable = s_isset(inv, "vulnerable");
        s_mask(r, mask, "vulnerable");
    }
    if (update && *mask == 0)
        return s_build_usage(inv, err, "nothing to update: give at least one field option");
    return 0;
}

static int s_build_actor_create(const ctl_invocation_t *inv, ctl_request_t *r, sp_buf_t *err)
{
    Samspil__V1__Actor *a = &r->entity.actor;
    samspil__v1__actor__init(a);
    a->kind = s_enum_val(inv, "kind");
    if (s_val(inv, "external-ref"))
        a->external_ref = s_val(inv, "external-ref");
    if (s_actor_fields(inv, r, a, NULL, err) < 0)
        return -1;
    Samspil__V1__ActorCreate *op = &r->op.actor_create;
    samspil__v1__actor_create__init(op);
    op->actor = a;
    r->req.op_case = SAMSPIL__V1__REGISTRATION_REQUEST__OP_ACTOR_CREATE;
    r->req.actor_create = op;
    return 0;
}

static int s_build_actor_upsert(const ctl_invocation_t *inv, ctl_request_t *r, sp_buf_t *err)
{
    Samspil__V1__Actor *a = &r->entity.actor;
    samspil__v1__actor__init(a);
    a->kind = s_enum_val(inv, "kind");
    a->external_ref = s_val(inv, "external-ref");
    if (s_actor_fields(inv, r, a, NULL, err) < 0)
        return -1;
    Samspil__V1__ActorUpsert *op = &r->op.actor_upsert;
    samspil__v1__actor_upsert__init(op);
    op->actor = a;
    r->req.op_case = SAMSPIL__V1__REGISTRATION_REQUEST__OP_ACTOR_UPSERT;
    r->req.actor_upsert = op;
    return 0;
}

static int s_build_actor_get(const ctl_invocation_t *inv, ctl_request_t *r, sp_buf_t *err)
{
    const char *ref = s_val(inv, "external-ref");
    if (inv->nargs == 0 && !ref)
        return s_build_usage(inv, err, "give an actor ID or --external-ref SYSTEM:ID");
    if (inv->nargs > 0 && ref)
        return s_build_usage(inv, err, "give an actor ID or --external-ref, not both");
    Samspil__V1__ActorGet *op = &r->op.actor_get;
    samspil__v1__actor_get__init(op);
    if (inv->nargs > 0)
        op->id = (char *)inv->args[0];
    else
        op->external_ref = (char *)ref;
    r->req.op_case = SAMSPIL__V1__REGISTRATION_REQUEST__OP_ACTOR_GET;
    r->req.actor_get = op;
    return 0;
}

static int s_build_actor_list(const ctl_invocation_t *inv, ctl_request_t *r, sp_buf_t *err)
{
    Samspil__V1__ActorList *op = &r->op.actor_list;
    samspil__v1__actor_list__init(op);
    op->kind = s_enum_val(inv, "kind");
    if (s_val(inv, "interest"))
        op->interest = s_val(inv, "interest");
    r->req.op_case = SAMSPIL__V1__REGISTRATION_REQUEST__OP_ACTOR_LIST;
    r->req.actor_list = op;
    return s_page(inv, r, &op->page, err);
}

static int s_build_actor_update(const ctl_invocation_t *inv, ctl_request_t *r, sp_buf_t *err)
{
    Samspil__V1__Actor *a = &r->entity.actor;
    samspil__v1__actor__init(a);
    a->id = (char *)inv->args[0];
    size_t n = 0;
    if (s_actor_fields(inv, r, a, &n, err) < 0)
        return -1;
    Samspil__V1__ActorUpdate *op = &r->op.actor_update;
    samspil__v1__actor_update__init(op);
    op->actor = a;
    op->update_mask = r->mask;
    op->n_update_mask = n;
    r->req.op_case = SAMSPIL__V1__REGISTRATION_REQUEST__OP_ACTOR_UPDATE;
    r->req.actor_update = op;
    return 0;
}

static int s_build_member_add(const ctl_invocation_t *inv, ctl_request_t *r, sp_buf_t *err)
{
    Samspil__V1__Membership *m = &r->entity.membership;
    samspil__v1__membership__init(m);
    m->partnership_id = s_val(inv, "partnership");
    m->actor_id = s_val(inv, "actor");
    const sp_option_t *roles = s_opt(inv, "role");
    for (size_t i = 0; i < roles->nvalues; i++) {
        int value = 0;
        sp_pbenum_parse(MEMBER_ROLE, roles->values[i], &value); /* checked in parsing */
        r->roles[i] = (Samspil__V1__MemberRole)value;
    }
    m->roles = r->roles;
    m->n_roles = roles->nvalues;
    m->knowledge_basis = s_enum_val(inv, "knowledge");
    if (s_val(inv, "joined"))
        m->joined_on = s_val(inv, "joined");
    Samspil__V1__MemberAdd *op = &r->op.member_add;
    samspil__v1__member_add__init(op);
    op->membership = m;
    r->req.op_case = SAMSPIL__V1__REGISTRATION_REQUEST__OP_MEMBER_ADD;
    r->req.member_add = op;
    return 0;
}

static int s_build_member_list(const ctl_invocation_t *inv, ctl_request_t *r, sp_buf_t *err)
{
    if (!s_isset(inv, "partnership") && !s_isset(inv, "actor"))
        return s_build_usage(inv, err, "give --partnership ID or --actor ID");
    Samspil__V1__MemberList *op = &r->op.member_list;
    samspil__v1__member_list__init(op);
    if (s_val(inv, "partnership"))
        op->partnership_id = s_val(inv, "partnership");
    if (s_val(inv, "actor"))
        op->actor_id = s_val(inv, "actor");
    op->include_ended = s_isset(inv, "include-ended");
    r->req.op_case = SAMSPIL__V1__REGISTRATION_REQUEST__OP_MEMBER_LIST;
    r->req.member_list = op;
    return s_page(inv, r, &op->page, err);
}

static int s_build_member_end(const ctl_invocation_t *inv, ctl_request_t *r, sp_buf_t *err)
{
    Samspil__V1__MemberEnd *op = &r->op.member_end;
    samspil__v1__member_end__init(op);
    op->id = (char *)inv->args[0];
    if (s_val(inv, "date"))
        op->ended_on = s_val(inv, "date");
    r->req.op_case = SAMSPIL__V1__REGISTRATION_REQUEST__OP_MEMBER_END;
    r->req.member_end = op;
    return 0;
}

static int s_build_relation_add(const ctl_invocation_t *inv, ctl_request_t *r, sp_buf_t *err)
{
    Samspil__V1__Relation *rel = &r->entity.relation;
    samspil__v1__relation__init(rel);
    rel->from_actor_id = s_val(inv, "from");
    rel->to_actor_id = s_val(inv, "to");
    rel->kind = s_enum_val(inv, "kind");
    if (s_val(inv, "partnership"))
        rel->partnership_id = s_val(inv, "partnership");
    Samspil__V1__RelationAdd *op = &r->op.relation_add;
    samspil__v1__relation_add__init(op);
    op->relation = rel;
    r->req.op_case = SAMSPIL__V1__REGISTRATION_REQUEST__OP_RELATION_ADD;
    r->req.relation_add = op;
    return 0;
}

static int s_build_relation_list(const ctl_invocation_t *inv, ctl_request_t *r, sp_buf_t *err)
{
    if (!s_isset(inv, "partnership") && !s_isset(inv, "actor"))
        return s_build_usage(inv, err, "give --actor ID or --partnership ID");
    Samspil__V1__RelationList *op = &r->op.relation_list;
    samspil__v1__relation_list__init(op);
    if (s_val(inv, "actor"))
        op->actor_id = s_val(inv, "actor");
    if (s_val(inv, "partnership"))
        op->partnership_id = s_val(inv, "partnership");
    r->req.op_case = SAMSPIL__V1__REGISTRATION_REQUEST__OP_RELATION_LIST;
    r->req.relation_list = op;
    return s_page(inv, r, &op->page, err);
}

static int s_build_consent_record(const ctl_invocation_t *inv, ctl_request_t *r, sp_buf_t *err)
{
    Samspil__V1__Consent *c = &r->entity.consent;
    samspil__v1__consent__init(c);
    c->actor_id = s_val(inv, "actor");
    c->purpose = s_val(inv, "purpose");
    c->channel = s_enum_val(inv, "channel");
    c->text_version = s_val(inv, "text-version");
    Samspil__V1__ConsentRecord *op = &r->op.consent_record;
    samspil__v1__consent_record__init(op);
    op->consent = c;
    r->req.op_case = SAMSPIL__V1__REGISTRATION_REQUEST__OP_CONSENT_RECORD;
    r->req.consent_record = op;
    return 0;
}

static int s_build_consent_withdraw(const ctl_invocation_t *inv, ctl_request_t *r, sp_buf_t *err)
{
    Samspil__V1__ConsentWithdraw *op = &r->op.consent_withdraw;
    samspil__v1__consent_withdraw__init(op);
    op->id = (char *)inv->args[0];
    r->req.op_case = SAMSPIL__V1__REGISTRATION_REQUEST__OP_CONSENT_WITHDRAW;
    r->req.consent_withdraw = op;
    return 0;
}

static int s_build_consent_list(const ctl_invocation_t *inv, ctl_request_t *r, sp_buf_t *err)
{
    Samspil__V1__ConsentList *op = &r->op.consent_list;
    samspil__v1__consent_list__init(op);
    op->actor_id = s_val(inv, "actor");
    r->req.op_case = SAMSPIL__V1__REGISTRATION_REQUEST__OP_CONSENT_LIST;
    r->req.consent_list = op;
    return s_page(inv, r, &op->page, err);
}

/* person export/erase: an ID argument or --external-ref, not both.  Sets
 * *id or *ref; returns 0 or -1 after a usage error. */
static int s_person_key(const ctl_invocation_t *inv, char **id, char **ref, sp_buf_t *err)
{
    char *external_ref = s_val(inv, "external-ref");
    if (inv->nargs == 0 && !external_ref)
        return s_build_usage(inv, err, "give the person's actor ID or --external-ref SYSTEM:ID");
    if (inv->nargs > 0 && external_ref)
        return s_build_usage(inv, err, "give an actor ID or --external-ref, not both");
    if (inv->nargs > 0)
        *id = (char *)inv->args[0];
    else
        *ref = external_ref;
    return 0;
}

static int s_build_person_export(const ctl_invocation_t *inv, ctl_request_t *r, sp_buf_t *err)
{
    Samspil__V1__PersonExport *op = &r->op.person_export;
    samspil__v1__person_export__init(op);
    if (s_person_key(inv, &op->actor_id, &op->external_ref, err) < 0)
        return -1;
    r->req.op_case = SAMSPIL__V1__REGISTRATION_REQUEST__OP_PERSON_EXPORT;
    r->req.person_export = op;
    return 0;
}

static int s_build_person_erase(const ctl_invocation_t *inv, ctl_request_t *r, sp_buf_t *err)
{
    Samspil__V1__PersonErase *op = &r->op.person_erase;
    samspil__v1__person_erase__init(op);
    if (s_person_key(inv, &op->actor_id, &op->external_ref, err) < 0)
        return -1;
    r->req.op_case = SAMSPIL__V1__REGISTRATION_REQUEST__OP_PERSON_ERASE;
    r->req.person_erase = op;
    return 0;
}

static int s_build_data_key_rotate(const ctl_invocation_t *inv, ctl_request_t *r, sp_buf_t *err)
{
    Samspil__V1__DataKeyRotate *op = &r->op.data_key_rotate;
    samspil__v1__data_key_rotate__init(op);
    op->reseal_only = s_isset(inv, "reseal-only");
    const char *batch = s_val(inv, "batch");
    if (batch) {
        long long n;
        if (s_parse_int(batch, 1, UINT32_MAX, &n) < 0) {
            char quoted[96];
            return s_build_usage(inv, err,
                                 "invalid value \"%s\" for --batch: expected a number of rows, 1 "
                                 "or more",
                                 sp_error_quote(batch, 48, quoted, sizeof quoted));
        }
        op->batch = (uint32_t)n;
    }
    r->req.op_case = SAMSPIL__V1__REGISTRATION_REQUEST__OP_DATA_KEY_ROTATE;
    r->req.data_key_rotate = op;
    return 0;
}

/* The --tenant values of key create, each possibly "101,147", into
 * r->tenants.  Returns the count, or -1 after a usage error. */
static int s_key_tenants(const ctl_invocation_t *inv, ctl_request_t *r, sp_buf_t *err)
{
    const sp_option_t *o = s_opt(inv, "tenant");
    size_t n = 0, used = 0;
    for (size_t i = 0; o && o->set && i < o->nvalues; i++) {
        const char *p = o->values[i];
        while (*p) {
            while (*p == ',' || *p == ' ')
                p++;
            size_t len = strcspn(p, ", ");
            if (len == 0)
                break;
            if (n == CTL_MAX_TENANTS || used + len + 1 > sizeof r->tenant_text)
                return s_build_usage(inv, err, "too many tenants: at most %d", CTL_MAX_TENANTS);
            char *code = r->tenant_text + used;
            memcpy(code, p, len);
            code[len] = '\0';
            used += len + 1;
            r->tenants[n++] = code;
            p += len;
        }
    }
    return (int)n;
}

static int s_build_key_create(const ctl_invocation_t *inv, ctl_request_t *r, sp_buf_t *err)
{
    Samspil__V1__KeyCreate *op = &r->key_op.create;
    samspil__v1__key_create__init(op);
    op->name = s_val(inv, "name");
    op->role = s_enum_val(inv, "role");
    int n = s_key_tenants(inv, r, err);
    if (n < 0)
        return -1;
    op->all_tenants = s_isset(inv, "all-tenants");
    if (op->all_tenants && n > 0)
        return s_build_usage(inv, err, "give --tenant CODE or --all-tenants, not both");
    op->tenants = r->tenants;
    op->n_tenants = (size_t)n;
    r->key_req.op_case = SAMSPIL__V1__KEY_REQUEST__OP_CREATE;
    r->key_req.create = op;
    return 0;
}

static int s_build_key_list(const ctl_invocation_t *inv, ctl_request_t *r, sp_buf_t *err)
{
    Samspil__V1__KeyList *op = &r->key_op.list;
    samspil__v1__key_list__init(op);
    op->include_revoked = s_isset(inv, "include-revoked");
    r->key_req.op_case = SAMSPIL__V1__KEY_REQUEST__OP_LIST;
    r->key_req.list = op;
    return 0;
}

static int s_build_key_revoke(const ctl_invocation_t *inv, ctl_request_t *r, sp_buf_t *err)
{
    char *public_key = s_val(inv, "public-key");
    if (inv->nargs == 0 && !public_key)
        return s_build_usage(inv, err, "give the key's NAME or --public-key KEY");
    if (inv->nargs > 0 && public_key)
        return s_build_usage(inv, err, "give a NAME or --public-key, not both");
    Samspil__V1__KeyRevoke *op = &r->key_op.revoke;
    samspil__v1__key_revoke__init(op);
    if (inv->nargs > 0) {
        op->key_case = SAMSPIL__V1__KEY_REVOKE__KEY_NAME;
        op->name = (char *)inv->args[0];
    } else {
        op->key_case = SAMSPIL__V1__KEY_REVOKE__KEY_PUBLIC_KEY;
        op->public_key = public_key;
    }
    r->key_req.op_case = SAMSPIL__V1__KEY_REQUEST__OP_REVOKE;
    r->key_req.revoke = op;
    return 0;
}

int ctl_args_build(const ctl_invocation_t *inv, const char *idempotency_key, ctl_request_t *r,
                   sp_buf_t *err)
{
    memset(r, 0, sizeof *r);
    samspil__v1__registration_request__init(&r->req);
    samspil__v1__key_request__init(&r->key_req);
    if (!inv->cmd || !inv->cmd->build)
        return -1;
    if ((inv->cmd->flags & CTL_TENANT) && inv->tenant)
        r->req.tenant = (char *)inv->tenant;
    if ((inv->cmd->flags & CTL_WRITE) && idempotency_key && *idempotency_key)
        r->req.idempotency_key = (char *)idempotency_key;
    return inv->cmd->build(inv, r, err);
}
