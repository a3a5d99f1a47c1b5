/*
 * test_ctl_args.c - unit tests of samspilctl's argument parsing and request
 * building (services/ctl/ctl_args.c): command lines in, RegistrationRequest
 * (packed and unpacked again, as the service would see it) out.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "../../services/ctl/ctl_args.h"

#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define ARGC(a) ((int)(sizeof(a) / sizeof((a)[0])))

static ctl_invocation_t s_inv;
static sp_buf_t s_err;

static int s_setup(void **state)
{
    (void)state;
    unsetenv("SAMSPIL_TENANT");
    unsetenv("SAMSPIL_BROKER");
    unsetenv("SAMSPIL_HOME");
    unsetenv("SAMSPIL_TIMEOUT_MS");
    unsetenv("SAMSPIL_EVENTS_OUT");
    unsetenv("SAMSPIL_KEY");
    sp_buf_init(&s_err);
    return 0;
}

static int s_teardown(void **state)
{
    (void)state;
    sp_buf_free(&s_err);
    return 0;
}

static ctl_parse_t s_parse(int argc, char **argv)
{
    sp_buf_reset(&s_err);
    return ctl_args_parse(&s_inv, argc, argv, &s_err);
}

/* Parse, build, pack and unpack: the request the service would receive.
 * Free with samspil__v1__registration_request__free_unpacked. */
static Samspil__V1__RegistrationRequest *s_request(int argc, char **argv, const char *key)
{
    assert_int_equal(s_parse(argc, argv), CTL_PARSE_OK);
    ctl_request_t *r = malloc(sizeof *r);
    assert_non_null(r);
    assert_int_equal(ctl_args_build(&s_inv, key, r, &s_err), 0);
    size_t len = samspil__v1__registration_request__get_packed_size(&r->req);
    uint8_t *buf = malloc(len ? len : 1);
    assert_non_null(buf);
    samspil__v1__registration_request__pack(&r->req, buf);
    Samspil__V1__RegistrationRequest *req =
        samspil__v1__registration_request__unpack(NULL, len, buf);
    assert_non_null(req);
    free(buf);
    free(r);
    return req;
}

/* Expect a usage error from parsing whose message contains `needle`. */
static void s_expect_parse_usage(int argc, char **argv, const char *needle)
{
    assert_int_equal(s_parse(argc, argv), CTL_PARSE_USAGE);
    if (needle) {
        if (!s_err.data || !strstr(s_err.data, needle))
            print_error("want \"%s\" in: %s\n", needle, s_err.data ? s_err.data : "(nothing)");
        assert_non_null(s_err.data);
        assert_non_null(strstr(s_err.data, needle));
        assert_non_null(strstr(s_err.data, "--help'"));
    }
}

/* Expect parsing to succeed and building to fail with `needle`. */
static void s_expect_build_usage(int argc, char **argv, const char *needle)
{
    assert_int_equal(s_parse(argc, argv), CTL_PARSE_OK);
    ctl_request_t *r = malloc(sizeof *r);
    assert_non_null(r);
    assert_int_equal(ctl_args_build(&s_inv, NULL, r, &s_err), -1);
    free(r);
    assert_non_null(strstr(s_err.data, needle));
}

static void test_member_add_roles(void **state)
{
    (void)state;
    char *argv[] = {"samspilctl",    "--tenant",  "751",     "member",      "add",
                    "--partnership", "p-1",       "--actor", "a-1",         "--role",
                    "initiator",     "--role",    "ACTIVE",  "--knowledge", "experiential",
                    "--joined",      "2026-02-01"};
    Samspil__V1__RegistrationRequest *req = s_request(ARGC(argv), argv, "k1");
    assert_string_equal(req->tenant, "751");
    assert_string_equal(req->idempotency_key, "k1");
    assert_int_equal(req->op_case, SAMSPIL__V1__REGISTRATION_REQUEST__OP_MEMBER_ADD);
    Samspil__V1__Membership *m = req->member_add->membership;
    assert_string_equal(m->partnership_id, "p-1");
    assert_string_equal(m->actor_id, "a-1");
    assert_int_equal(m->n_roles, 2);
    assert_int_equal(m->roles[0], 1);
    assert_int_equal(m->roles[1], 6);
    assert_int_equal(m->knowledge_basis,
                     SAMSPIL__V1__KNOWLEDGE_BASIS__KNOWLEDGE_BASIS_EXPERIENTIAL);
    assert_string_equal(m->joined_on, "2026-02-01");
    samspil__v1__registration_request__free_unpacked(req, NULL);

    /* dashes for underscores, as sp_pbenum accepts */
    char *argv2[] = {"samspilctl", "member",        "add",           "--tenant", "751",
                     "--role",     "needs-support", "--partnership", "p",        "--actor",
                     "a",          "--knowledge",   "both"};
    req = s_request(ARGC(argv2), argv2, NULL);
    assert_int_equal(req->member_add->membership->n_roles, 1);
    assert_int_equal(req->member_add->membership->roles[0], 7);
    assert_string_equal(req->idempotency_key, ""); /* none given: none sent */
    samspil__v1__registration_request__free_unpacked(req, NULL);
}

static void test_unknown_role(void **state)
{
    (void)state;
    char *argv[] = {"samspilctl",    "--tenant", "751",     "member",      "add",
                    "--partnership", "p",        "--actor", "a",           "--role",
                    "initiator",     "--role",   "boss",    "--knowledge", "both"};
    s_expect_parse_usage(ARGC(argv), argv,
                         "invalid value \"boss\" for --role: expected one of "
                         "initiator, recipient, friend, volunteer, passive, "
                         "active, needs_support, facilitator");
    char *argv2[] = {"samspilctl",    "--tenant",    "751",     "member", "add",
                     "--partnership", "p",           "--actor", "a",      "--role",
                     "active",        "--knowledge", "wisdom"};
    s_expect_parse_usage(ARGC(argv2), argv2,
                         "\"wisdom\" for --knowledge: expected one of "
                         "experiential, professional, both");
    char *argv3[] = {"samspilctl", "--tenant", "751", "member",      "add", "--partnership",
                     "p",          "--actor",  "a",   "--knowledge", "both"};
    s_expect_parse_usage(ARGC(argv3), argv3, "missing required option --role");
}

static void test_global_options_anywhere(void **state)
{
    (void)state;
    char *argv[] = {"samspilctl", "actor",        "list",    "--kind",   "citizen",
                    "-o",         "json",         "--limit", "10",       "--tenant",
                    "101",        "--timeout-ms", "250",     "--broker", "tcp://127.0.0.1:5555",
                    "--all"};
    Samspil__V1__RegistrationRequest *req = s_request(ARGC(argv), argv, "ignored");
    assert_int_equal(s_inv.output, CTL_OUTPUT_JSON);
    assert_int_equal(s_inv.timeout_ms, 250);
    assert_string_equal(s_inv.broker, "tcp://127.0.0.1:5555");
    assert_true(s_inv.all);
    assert_string_equal(req->tenant, "101");
    assert_string_equal(req->idempotency_key, ""); /* reads carry no key */
    assert_int_equal(req->op_case, SAMSPIL__V1__REGISTRATION_REQUEST__OP_ACTOR_LIST);
    assert_int_equal(req->actor_list->kind, SAMSPIL__V1__ACTOR_KIND__ACTOR_KIND_CITIZEN);
    assert_int_equal(req->actor_list->page->limit, 10);
    samspil__v1__registration_request__free_unpacked(req, NULL);

    /* a global option's value that spells a noun is not taken for one */
    char *argv2[] = {"samspilctl",  "--tenant=751", "--output", "text",
                     "partnership", "create",       "--name",   "status"};
    req = s_request(ARGC(argv2), argv2, "k");
    assert_int_equal(req->op_case, SAMSPIL__V1__REGISTRATION_REQUEST__OP_PARTNERSHIP_CREATE);
    assert_string_equal(req->partnership_create->partnership->name, "status");
    assert_int_equal(s_inv.output, CTL_OUTPUT_TEXT);
    assert_int_equal(s_inv.timeout_ms, 5000);
    samspil__v1__registration_request__free_unpacked(req, NULL);
}

static void test_environment(void **state)
{
    (void)state;
    setenv("SAMSPIL_TENANT", "751", 1);
    setenv("SAMSPIL_HOME", "/srv/samspil", 1);
    setenv("SAMSPIL_TIMEOUT_MS", "1500", 1);
    char *argv[] = {"samspilctl", "partnership", "get", "id-1"};
    Samspil__V1__RegistrationRequest *req = s_request(ARGC(argv), argv, NULL);
    assert_string_equal(req->tenant, "751");
    assert_string_equal(req->partnership_get->id, "id-1");
    assert_string_equal(s_inv.broker, "ipc:///srv/samspil/run/broker.ipc");
    assert_int_equal(s_inv.timeout_ms, 1500);
    samspil__v1__registration_request__free_unpacked(req, NULL);

    /* flags override the environment */
    char *argv2[] = {"samspilctl", "--tenant",    "101", "--home",
                     "/opt/s",     "partnership", "get", "id-2"};
    req = s_request(ARGC(argv2), argv2, NULL);
    assert_string_equal(req->tenant, "101");
    assert_string_equal(s_inv.broker, "ipc:///opt/s/run/broker.ipc");
    samspil__v1__registration_request__free_unpacked(req, NULL);

    setenv("SAMSPIL_BROKER", "tcp://10.0.0.1:7000", 1);
    assert_int_equal(s_parse(ARGC(argv2), argv2), CTL_PARSE_OK);
    assert_string_equal(s_inv.broker, "tcp://10.0.0.1:7000");

    /* a relative home is made absolute */
    unsetenv("SAMSPIL_BROKER");
    unsetenv("SAMSPIL_HOME");
    assert_int_equal(s_parse(ARGC(argv), argv), CTL_PARSE_OK);
    char cwd[1024], want[1200];
    assert_non_null(getcwd(cwd, sizeof cwd));
    snprintf(want, sizeof want, "ipc://%s/var/run/broker.ipc", cwd);
    assert_string_equal(s_inv.broker, want);

    setenv("SAMSPIL_TIMEOUT_MS", "soon", 1);
    s_expect_parse_usage(ARGC(argv), argv, "\"soon\" for --timeout-ms");
    unsetenv("SAMSPIL_TIMEOUT_MS");
    unsetenv("SAMSPIL_TENANT");
    s_expect_parse_usage(ARGC(argv), argv, "no tenant: give --tenant CODE or set SAMSPIL_TENANT");
}

static void test_actor_create(void **state)
{
    (void)state;
    char *argv[] = {"samspilctl",      "--tenant",       "751",
                    "actor",           "create",         "--kind",
                    "citizen",         "--name",         "Jens Hansen",
                    "--interest",      "skole",          "--interest",
                    "idraet",          "--language",     "da",
                    "--accessibility", "easy_read",      "--email",
                    "j@example.org",   "--phone",        "20304050",
                    "--email",         "j2@example.org", "--preferred",
                    "20304050",        "--vulnerable",   "--external-ref",
                    "sag:4711"};
    Samspil__V1__RegistrationRequest *req = s_request(ARGC(argv), argv, "abc");
    assert_int_equal(req->op_case, SAMSPIL__V1__REGISTRATION_REQUEST__OP_ACTOR_CREATE);
    assert_string_equal(req->idempotency_key, "abc");
    Samspil__V1__Actor *a = req->actor_create->actor;
    assert_int_equal(a->kind, SAMSPIL__V1__ACTOR_KIND__ACTOR_KIND_CITIZEN);
    assert_string_equal(a->name, "Jens Hansen");
    assert_int_equal(a->n_interests, 2);
    assert_string_equal(a->interests[0], "skole");
    assert_string_equal(a->interests[1], "idraet");
    assert_string_equal(a->preferred_language, "da");
    assert_int_equal(a->n_accessibility_needs, 1);
    assert_string_equal(a->accessibility_needs[0], "easy_read");
    assert_true(a->vulnerable);
    assert_string_equal(a->external_ref, "sag:4711");
    assert_int_equal(a->sector, 0);
    assert_string_equal(a->organisation_id, "");
    /* contact points: e-mails, then phones, then postal addresses */
    assert_int_equal(a->n_contact_points, 3);
    assert_int_equal(a->contact_points[0]->kind, SAMSPIL__V1__CONTACT_KIND__CONTACT_KIND_EMAIL);
    assert_string_equal(a->contact_points[0]->value, "j@example.org");
    assert_false(a->contact_points[0]->preferred);
    assert_string_equal(a->contact_points[1]->value, "j2@example.org");
    assert_int_equal(a->contact_points[2]->kind, SAMSPIL__V1__CONTACT_KIND__CONTACT_KIND_PHONE);
    assert_string_equal(a->contact_points[2]->value, "20304050");
    assert_true(a->contact_points[2]->preferred);
    samspil__v1__registration_request__free_unpacked(req, NULL);

    char *argv2[] = {"samspilctl",      "--tenant", "751",          "actor",
                     "create",          "--kind",   "organisation", "--name",
                     "Boligforeningen", "--sector", "civil-society"};
    req = s_request(ARGC(argv2), argv2, "k");
    assert_int_equal(req->actor_create->actor->sector, SAMSPIL__V1__SECTOR__SECTOR_CIVIL_SOCIETY);
    assert_int_equal(req->actor_create->actor->n_contact_points, 0);
    samspil__v1__registration_request__free_unpacked(req, NULL);

    char *argv3[] = {"samspilctl", "--tenant", "751", "actor",    "create", "--kind",
                     "citizen",    "--name",   "x",   "--sector", "church"};
    s_expect_parse_usage(ARGC(argv3), argv3,
                         "\"church\" for --sector: expected one of public, private, "
                         "civil_society, research, other");
    char *argv4[] = {"samspilctl", "--tenant", "751", "actor", "create", "--kind", "citizen"};
    s_expect_parse_usage(ARGC(argv4), argv4, "missing required option --name");
    char *argv5[] = {"samspilctl", "--tenant",    "751",    "actor", "create",
                     "--kind",     "citizen",     "--name", "x",     "--phone",
                     "1",          "--preferred", "2"};
    s_expect_build_usage(ARGC(argv5), argv5, "--preferred must repeat one of");
    /* the name's length, the tag words, the language are the service's to judge */
    char *argv6[] = {"samspilctl", "--tenant", "751", "actor",      "create", "--kind",
                     "citizen",    "--name",   "",    "--language", "klingon"};
    req = s_request(ARGC(argv6), argv6, "k");
    assert_string_equal(req->actor_create->actor->name, "");
    samspil__v1__registration_request__free_unpacked(req, NULL);
}

static void test_actor_update_mask(void **state)
{
    (void)state;
    char *argv[] = {"samspilctl",
                    "--tenant",
                    "751",
                    "actor",
                    "update",
                    "a-9",
                    "--name",
                    "Ny",
                    "--clear-interests",
                    "--not-vulnerable",
                    "--email",
                    "x@y.dk"};
    Samspil__V1__RegistrationRequest *req = s_request(ARGC(argv), argv, "k");
    assert_int_equal(req->op_case, SAMSPIL__V1__REGISTRATION_REQUEST__OP_ACTOR_UPDATE);
    Samspil__V1__ActorUpdate *u = req->actor_update;
    assert_string_equal(u->actor->id, "a-9");
    assert_string_equal(u->actor->name, "Ny");
    assert_int_equal(u->actor->n_interests, 0);
    assert_false(u->actor->vulnerable);
    assert_int_equal(u->actor->n_contact_points, 1);
    assert_int_equal(u->n_update_mask, 4);
    assert_string_equal(u->update_mask[0], "name");
    assert_string_equal(u->update_mask[1], "interests");
    assert_string_equal(u->update_mask[2], "contact_points");
    assert_string_equal(u->update_mask[3], "vulnerable");
    samspil__v1__registration_request__free_unpacked(req, NULL);

    char *argv2[] = {"samspilctl", "--tenant", "751", "actor", "update", "a-9"};
    s_expect_build_usage(ARGC(argv2), argv2, "nothing to update");
    char *argv3[] = {"samspilctl", "--tenant", "751",          "actor",
                     "update",     "a-9",      "--vulnerable", "--not-vulnerable"};
    s_expect_build_usage(ARGC(argv3), argv3, "contradict");
    char *argv4[] = {"samspilctl", "--tenant", "751", "actor", "update", "--name", "x"};
    s_expect_parse_usage(ARGC(argv4), argv4, "missing argument ID");
    char *argv5[] = {"samspilctl", "--tenant", "751",    "actor",
                     "update",     "a-9",      "--kind", "citizen"};
    assert_int_equal(s_parse(ARGC(argv5), argv5), CTL_PARSE_USAGE); /* kind cannot change */
}

static void test_partnership(void **state)
{
    (void)state;
    char *argv[] = {"samspilctl", "--tenant", "751",    "partnership", "update",
                    "p-1",        "--status", "paused", "--purpose",   ""};
    Samspil__V1__RegistrationRequest *req = s_request(ARGC(argv), argv, "k");
    Samspil__V1__PartnershipUpdate *u = req->partnership_update;
    assert_string_equal(u->partnership->id, "p-1");
    assert_int_equal(u->partnership->status,
                     SAMSPIL__V1__PARTNERSHIP_STATUS__PARTNERSHIP_STATUS_PAUSED);
    assert_int_equal(u->n_update_mask, 2);
    assert_string_equal(u->update_mask[0], "purpose");
    assert_string_equal(u->update_mask[1], "status");
    samspil__v1__registration_request__free_unpacked(req, NULL);

    char *argv2[] = {
        "samspilctl", "--tenant",   "751",       "partnership",    "create",
        "--name",     "P",          "--purpose", "Formaal",        "--burning-platform",
        "nu",         "--backbone", "o-1",       "--external-ref", "esdh:9"};
    req = s_request(ARGC(argv2), argv2, "key-2");
    Samspil__V1__Partnership *p = req->partnership_create->partnership;
    assert_string_equal(p->name, "P");
    assert_string_equal(p->purpose, "Formaal");
    assert_string_equal(p->burning_platform, "nu");
    assert_string_equal(p->backbone_organisation_id, "o-1");
    assert_string_equal(p->external_ref, "esdh:9");
    assert_int_equal(p->status, 0); /* the service's default: forming */
    samspil__v1__registration_request__free_unpacked(req, NULL);

    char *argv3[] = {"samspilctl", "--tenant", "751",      "partnership", "list",
                     "--status",   "active",   "--cursor", "abc"};
    req = s_request(ARGC(argv3), argv3, "k");
    assert_int_equal(req->partnership_list->status,
                     SAMSPIL__V1__PARTNERSHIP_STATUS__PARTNERSHIP_STATUS_ACTIVE);
    assert_string_equal(req->partnership_list->page->cursor, "abc");
    assert_int_equal(req->partnership_list->page->limit, 0);
    assert_false(s_inv.all);
    samspil__v1__registration_request__free_unpacked(req, NULL);

    char *argv4[] = {"samspilctl", "--tenant", "751", "partnership", "list", "--limit", "ten"};
    s_expect_build_usage(ARGC(argv4), argv4, "invalid value \"ten\" for --limit");
    char *argv5[] = {"samspilctl", "--tenant", "751",       "partnership",
                     "list",       "--limit",  "4294967296"};
    s_expect_build_usage(ARGC(argv5), argv5, "for --limit");
}

static void test_actor_get(void **state)
{
    (void)state;
    char *argv[] = {"samspilctl", "--tenant", "751", "actor", "get", "--external-ref", "sag:1"};
    Samspil__V1__RegistrationRequest *req = s_request(ARGC(argv), argv, "k");
    assert_string_equal(req->actor_get->external_ref, "sag:1");
    assert_string_equal(req->actor_get->id, "");
    samspil__v1__registration_request__free_unpacked(req, NULL);

    /* "--" ends the options: an id may start with a dash */
    char *argv2[] = {"samspilctl", "--tenant", "751", "actor", "get", "--", "-odd"};
    req = s_request(ARGC(argv2), argv2, "k");
    assert_string_equal(req->actor_get->id, "-odd");
    samspil__v1__registration_request__free_unpacked(req, NULL);

    char *argv3[] = {"samspilctl", "--tenant",       "751",  "actor", "get",
                     "x",          "--external-ref", "sag:1"};
    s_expect_build_usage(ARGC(argv3), argv3, "not both");
    char *argv4[] = {"samspilctl", "--tenant", "751", "actor", "get"};
    s_expect_build_usage(ARGC(argv4), argv4, "give an actor ID or --external-ref");
}

static void test_other_commands(void **state)
{
    (void)state;
    /* tenant operations act on the directory: no tenant sent even if set */
    char *t1[] = {"samspilctl", "--tenant", "751",    "tenant",        "create",
                  "--code",     "751",      "--name", "Aarhus Kommune"};
    Samspil__V1__RegistrationRequest *req = s_request(ARGC(t1), t1, "k");
    assert_string_equal(req->tenant, "");
    assert_string_equal(req->idempotency_key, "k");
    assert_string_equal(req->tenant_create->code, "751");
    assert_string_equal(req->tenant_create->name, "Aarhus Kommune");
    samspil__v1__registration_request__free_unpacked(req, NULL);
    char *t2[] = {"samspilctl", "tenant", "get", "101"};
    req = s_request(ARGC(t2), t2, "k");
    assert_string_equal(req->tenant_get->code, "101");
    samspil__v1__registration_request__free_unpacked(req, NULL);
    char *t3[] = {"samspilctl", "tenant", "list", "--limit", "2"};
    req = s_request(ARGC(t3), t3, NULL);
    assert_int_equal(req->tenant_list->page->limit, 2);
    samspil__v1__registration_request__free_unpacked(req, NULL);

    char *m1[] = {"samspilctl", "--tenant", "751", "member",
                  "list",       "--actor",  "a",   "--include-ended"};
    req = s_request(ARGC(m1), m1, NULL);
    assert_string_equal(req->member_list->actor_id, "a");
    assert_string_equal(req->member_list->partnership_id, "");
    assert_true(req->member_list->include_ended);
    samspil__v1__registration_request__free_unpacked(req, NULL);
    char *m2[] = {"samspilctl", "--tenant", "751", "member", "list"};
    s_expect_build_usage(ARGC(m2), m2, "give --partnership ID or --actor ID");
    char *m3[] = {"samspilctl", "--tenant", "751", "member", "end", "m-1", "--date", "2026-06-30"};
    req = s_request(ARGC(m3), m3, "k");
    assert_string_equal(req->member_end->id, "m-1");
    assert_string_equal(req->member_end->ended_on, "2026-06-30");
    samspil__v1__registration_request__free_unpacked(req, NULL);

    char *r1[] = {"samspilctl", "--tenant", "751", "relation", "add",          "--from",
                  "a",          "--to",     "b",   "--kind",   "collaborates", "--partnership",
                  "p"};
    req = s_request(ARGC(r1), r1, "k");
    Samspil__V1__Relation *rel = req->relation_add->relation;
    assert_string_equal(rel->from_actor_id, "a");
    assert_string_equal(rel->to_actor_id, "b");
    assert_int_equal(rel->kind, SAMSPIL__V1__RELATION_KIND__RELATION_KIND_COLLABORATES);
    assert_string_equal(rel->partnership_id, "p");
    samspil__v1__registration_request__free_unpacked(req, NULL);
    char *r2[] = {"samspilctl", "--tenant", "751", "relation", "list", "--partnership", "p"};
    req = s_request(ARGC(r2), r2, NULL);
    assert_string_equal(req->relation_list->partnership_id, "p");
    samspil__v1__registration_request__free_unpacked(req, NULL);
    char *r3[] = {"samspilctl", "--tenant", "751", "relation", "add",  "--from",
                  "a",          "--to",     "b",   "--kind",   "loves"};
    s_expect_parse_usage(ARGC(r3), r3, "knows, trusts, collaborates, supports");

    char *c1[] = {"samspilctl", "--tenant",  "751",     "consent",   "record",    "--actor",
                  "a",          "--purpose", "contact", "--channel", "in-person", "--text-version",
                  "2026-01"};
    req = s_request(ARGC(c1), c1, "k");
    Samspil__V1__Consent *c = req->consent_record->consent;
    assert_string_equal(c->actor_id, "a");
    assert_string_equal(c->purpose, "contact");
    assert_int_equal(c->channel, SAMSPIL__V1__CONSENT_CHANNEL__CONSENT_CHANNEL_IN_PERSON);
    assert_string_equal(c->text_version, "2026-01");
    samspil__v1__registration_request__free_unpacked(req, NULL);
    char *c2[] = {"samspilctl", "--tenant", "751", "consent", "withdraw", "c-1"};
    req = s_request(ARGC(c2), c2, "k");
    assert_string_equal(req->consent_withdraw->id, "c-1");
    assert_string_equal(req->idempotency_key, "k");
    samspil__v1__registration_request__free_unpacked(req, NULL);
    char *c3[] = {"samspilctl", "--tenant", "751", "consent", "list"};
    s_expect_parse_usage(ARGC(c3), c3, "missing required option --actor");

    char *s1[] = {"samspilctl", "status", "-o", "json"};
    assert_int_equal(s_parse(ARGC(s1), s1), CTL_PARSE_OK);
    assert_int_equal(ctl_command_show(s_inv.cmd), CTL_SHOW_STATUS);
    char *s2[] = {"samspilctl", "status", "extra"};
    s_expect_parse_usage(ARGC(s2), s2, "unexpected argument \"extra\"");
}

static void test_help_and_usage(void **state)
{
    (void)state;
    char *h1[] = {"samspilctl", "--help"};
    assert_int_equal(s_parse(ARGC(h1), h1), CTL_PARSE_HELP);
    assert_null(s_inv.cmd);
    sp_buf_t help;
    sp_buf_init(&help);
    ctl_args_help(&s_inv, &help);
    assert_non_null(strstr(help.data, "consent withdraw ID"));
    sp_buf_reset(&help);

    char *h2[] = {"samspilctl", "--tenant", "751", "actor", "create", "--name", "x", "-h"};
    assert_int_equal(s_parse(ARGC(h2), h2), CTL_PARSE_HELP);
    assert_non_null(s_inv.cmd);
    ctl_args_help(&s_inv, &help);
    assert_non_null(strstr(help.data, "Usage: samspilctl [GLOBAL OPTIONS] actor create"));
    assert_non_null(strstr(help.data, "citizen, professional, organisation (required)"));
    assert_non_null(strstr(help.data, "Example:\n  id=$(samspilctl"));
    sp_buf_reset(&help);

    char *h3[] = {"samspilctl", "help", "member"};
    assert_int_equal(s_parse(ARGC(h3), h3), CTL_PARSE_HELP);
    assert_null(s_inv.cmd);
    ctl_args_help(&s_inv, &help);
    assert_non_null(strstr(help.data, "add"));
    assert_non_null(strstr(help.data, "end ID"));
    sp_buf_free(&help);

    /* a value "--help" belongs to its option */
    char *h4[] = {"samspilctl", "--tenant", "751",    "actor", "create",
                  "--kind",     "citizen",  "--name", "--help"};
    assert_int_equal(s_parse(ARGC(h4), h4), CTL_PARSE_OK);

    char *v1[] = {"samspilctl", "actor", "list", "--version"};
    assert_int_equal(s_parse(ARGC(v1), v1), CTL_PARSE_VERSION);

    char *u1[] = {"samspilctl"};
    s_expect_parse_usage(ARGC(u1), u1, NULL);
    assert_non_null(strstr(s_err.data, "Usage:"));
    char *u2[] = {"samspilctl", "--tenant", "751", "actors", "list"};
    s_expect_parse_usage(ARGC(u2), u2, "unknown command \"actors\"");
    char *u3[] = {"samspilctl", "--tenant", "751", "actor", "delete", "x"};
    s_expect_parse_usage(ARGC(u3), u3,
                         "unknown verb \"delete\": expected one of create, get, list, update, "
                         "upsert");
    char *u4[] = {"samspilctl", "--tenant", "751", "actor"};
    s_expect_parse_usage(ARGC(u4), u4, "missing verb");
    char *u5[] = {"samspilctl", "--bogus"};
    s_expect_parse_usage(ARGC(u5), u5, "unknown option \"--bogus\"");
    char *u6[] = {"samspilctl", "-o", "xml", "status"};
    s_expect_parse_usage(ARGC(u6), u6, "\"xml\" for --output: expected text or json");
    /* an option of another command is unknown here (sp_config_parse reports it) */
    char *u7[] = {"samspilctl", "--tenant", "751", "actor", "list", "--role", "active"};
    assert_int_equal(s_parse(ARGC(u7), u7), CTL_PARSE_USAGE);
}

static void test_events_tail(void **state)
{
    (void)state;
    setenv("SAMSPIL_HOME", "/srv/samspil/", 1);
    setenv("SAMSPIL_TENANT", "751", 1); /* ignored: the tail is not per tenant */
    char *a1[] = {"samspilctl", "events", "tail"};
    assert_int_equal(s_parse(ARGC(a1), a1), CTL_PARSE_OK);
    assert_int_equal(ctl_command_action(s_inv.cmd), CTL_ACT_EVENTS_TAIL);
    assert_int_equal(ctl_command_show(s_inv.cmd), CTL_SHOW_LINES);
    assert_string_equal(s_inv.events.stream, "registration");
    assert_string_equal(s_inv.events.type_prefix, "");
    assert_false(s_inv.events.has_from);
    assert_int_equal(s_inv.events.count, 0);
    assert_string_equal(s_inv.events.endpoint, "ipc:///srv/samspil/run/events-out.ipc");
    assert_string_equal(s_inv.broker, "ipc:///srv/samspil/run/broker.ipc");
    assert_null(s_inv.key_path);

    char *a2[] = {"samspilctl", "events",   "tail",      "--from", "18446744073709551615",
                  "--type",     "member",   "--count",   "3",      "--stream",
                  "voting",     "--events", "tcp://h:5", "--key",  "/k/alice.cert"};
    assert_int_equal(s_parse(ARGC(a2), a2), CTL_PARSE_OK);
    assert_true(s_inv.events.has_from);
    assert_true(s_inv.events.from == UINT64_MAX);
    assert_string_equal(s_inv.events.type_prefix, "member");
    assert_int_equal(s_inv.events.count, 3);
    assert_string_equal(s_inv.events.stream, "voting");
    assert_string_equal(s_inv.events.endpoint, "tcp://h:5");
    assert_string_equal(s_inv.key_path, "/k/alice.cert");

    setenv("SAMSPIL_EVENTS_OUT", "ipc:///x/out.ipc", 1);
    setenv("SAMSPIL_KEY", "/k/env.cert", 1);
    char *a3[] = {"samspilctl", "events", "tail", "--from", "0"};
    assert_int_equal(s_parse(ARGC(a3), a3), CTL_PARSE_OK);
    assert_true(s_inv.events.has_from);
    assert_true(s_inv.events.from == 0);
    assert_string_equal(s_inv.events.endpoint, "ipc:///x/out.ipc");
    assert_string_equal(s_inv.key_path, "/k/env.cert");

    char *b1[] = {"samspilctl", "events", "tail", "--from", "-1"};
    s_expect_parse_usage(ARGC(b1), b1, "\"-1\" for --from");
    char *b2[] = {"samspilctl", "events", "tail", "--from", "18446744073709551616"};
    s_expect_parse_usage(ARGC(b2), b2, "for --from: expected a sequence number");
    char *b3[] = {"samspilctl", "events", "tail", "--count", "0"};
    s_expect_parse_usage(ARGC(b3), b3, "\"0\" for --count");
    char *b4[] = {"samspilctl", "events", "tail", "--stream", "a/b"};
    s_expect_parse_usage(ARGC(b4), b4, "\"a/b\" for --stream");
    char *b5[] = {"samspilctl", "events", "tail", "--stream", ""};
    s_expect_parse_usage(ARGC(b5), b5, "for --stream");
    char *b6[] = {"samspilctl", "events", "follow"};
    s_expect_parse_usage(ARGC(b6), b6, "unknown verb \"follow\": expected one of tail");

    sp_buf_t help;
    sp_buf_init(&help);
    char *h1[] = {"samspilctl", "events", "tail", "--help"};
    assert_int_equal(s_parse(ARGC(h1), h1), CTL_PARSE_HELP);
    ctl_args_help(&s_inv, &help);
    assert_non_null(strstr(help.data, "--from SEQ"));
    assert_non_null(strstr(help.data, "SAMSPIL_EVENTS_OUT"));
    assert_non_null(strstr(help.data, "JSON"));
    sp_buf_free(&help);
}

/* Parse and build a key command; returns the KeyRequest packed and unpacked
 * (free with samspil__v1__key_request__free_unpacked). */
static Samspil__V1__KeyRequest *s_key_request(int argc, char **argv)
{
    assert_int_equal(s_parse(argc, argv), CTL_PARSE_OK);
    ctl_request_t *r = malloc(sizeof *r);
    assert_non_null(r);
    assert_int_equal(ctl_args_build(&s_inv, "ignored", r, &s_err), 0);
    if (r->key_req.op_case == SAMSPIL__V1__KEY_REQUEST__OP_CREATE)
        r->key_req.create->public_key = "Yne@$w-vo<fVvi]a<NY6T1ed:M$fCG*[IaLV{hID";
    size_t len = samspil__v1__key_request__get_packed_size(&r->key_req);
    uint8_t *buf = malloc(len ? len : 1);
    assert_non_null(buf);
    samspil__v1__key_request__pack(&r->key_req, buf);
    Samspil__V1__KeyRequest *req = samspil__v1__key_request__unpack(NULL, len, buf);
    assert_non_null(req);
    free(buf);
    free(r);
    return req;
}

static void test_key_commands(void **state)
{
    (void)state;
    setenv("SAMSPIL_HOME", "/srv/samspil", 1);
    setenv("SAMSPIL_TENANT", "751", 1); /* never a key's tenant */
    char *c1[] = {"samspilctl", "key",      "create",  "--name",   "sag-aarhus", "--role",
                  "integrator", "--tenant", "101,147", "--tenant", "751"};
    Samspil__V1__KeyRequest *req = s_key_request(ARGC(c1), c1);
    assert_int_equal(ctl_command_action(s_inv.cmd), CTL_ACT_KEY_CREATE);
    assert_int_equal(req->op_case, SAMSPIL__V1__KEY_REQUEST__OP_CREATE);
    assert_string_equal(req->create->name, "sag-aarhus");
    assert_int_equal(req->create->role, SAMSPIL__V1__ROLE__ROLE_INTEGRATOR);
    assert_int_equal(req->create->n_tenants, 3);
    assert_string_equal(req->create->tenants[0], "101");
    assert_string_equal(req->create->tenants[1], "147");
    assert_string_equal(req->create->tenants[2], "751");
    assert_false(req->create->all_tenants);
    assert_string_equal(s_inv.key_out, "/srv/samspil/keys/sag-aarhus.cert");
    assert_true(s_inv.key_out_default);
    samspil__v1__key_request__free_unpacked(req, NULL);

    char *c2[] = {"samspilctl", "key",      "create",        "--name", "ops2",
                  "--role",     "operator", "--all-tenants", "--out",  "/tmp/o.cert"};
    req = s_key_request(ARGC(c2), c2);
    assert_true(req->create->all_tenants);
    assert_int_equal(req->create->n_tenants, 0); /* SAMSPIL_TENANT is not taken */
    assert_string_equal(s_inv.key_out, "/tmp/o.cert");
    assert_false(s_inv.key_out_default);
    samspil__v1__key_request__free_unpacked(req, NULL);

    char *c3[] = {"samspilctl", "key",      "create",   "--name", "x",
                  "--role",     "operator", "--tenant", "101",    "--all-tenants"};
    assert_int_equal(s_parse(ARGC(c3), c3), CTL_PARSE_OK);
    ctl_request_t *r = malloc(sizeof *r);
    assert_non_null(r);
    sp_buf_reset(&s_err);
    assert_int_equal(ctl_args_build(&s_inv, NULL, r, &s_err), -1);
    assert_non_null(strstr(s_err.data, "--tenant CODE or --all-tenants, not both"));
    free(r);
    char *c4[] = {"samspilctl", "key", "create", "--name", "a/b", "--role", "reader"};
    s_expect_parse_usage(ARGC(c4), c4, "\"a/b\" for --name");
    char *c5[] = {"samspilctl", "key", "create", "--name", "a", "--role", "ROLE_OPERATOR!"};
    s_expect_parse_usage(ARGC(c5), c5, "for --role: expected one of operator, integrator");
    char *c6[] = {"samspilctl", "key", "create", "--role", "reader"};
    s_expect_parse_usage(ARGC(c6), c6, "missing required option --name");

    char *l1[] = {"samspilctl", "key", "list", "--include-revoked", "-o", "json"};
    req = s_key_request(ARGC(l1), l1);
    assert_int_equal(ctl_command_action(s_inv.cmd), CTL_ACT_KEYS);
    assert_int_equal(req->op_case, SAMSPIL__V1__KEY_REQUEST__OP_LIST);
    assert_true(req->list->include_revoked);
    samspil__v1__key_request__free_unpacked(req, NULL);

    char *v1[] = {"samspilctl", "key", "revoke", "sag-aarhus"};
    req = s_key_request(ARGC(v1), v1);
    assert_int_equal(req->revoke->key_case, SAMSPIL__V1__KEY_REVOKE__KEY_NAME);
    assert_string_equal(req->revoke->name, "sag-aarhus");
    samspil__v1__key_request__free_unpacked(req, NULL);
    char *v2[] = {"samspilctl", "key", "revoke", "--public-key", "abc"};
    req = s_key_request(ARGC(v2), v2);
    assert_int_equal(req->revoke->key_case, SAMSPIL__V1__KEY_REVOKE__KEY_PUBLIC_KEY);
    assert_string_equal(req->revoke->public_key, "abc");
    samspil__v1__key_request__free_unpacked(req, NULL);

    /* --key chooses the certificate for any command */
    char *k1[] = {"samspilctl", "--key", "/k/ops.cert", "key", "list"};
    assert_int_equal(s_parse(ARGC(k1), k1), CTL_PARSE_OK);
    assert_string_equal(s_inv.key_path, "/k/ops.cert");
}

static void test_person_and_rotate(void **state)
{
    (void)state;
    char *e1[] = {"samspilctl", "--tenant", "751", "person", "export", "a-1"};
    Samspil__V1__RegistrationRequest *req = s_request(ARGC(e1), e1, "k");
    assert_int_equal(ctl_command_action(s_inv.cmd), CTL_ACT_PERSON_EXPORT);
    assert_int_equal(req->op_case, SAMSPIL__V1__REGISTRATION_REQUEST__OP_PERSON_EXPORT);
    assert_string_equal(req->tenant, "751");
    assert_string_equal(req->person_export->actor_id, "a-1");
    assert_string_equal(req->idempotency_key, ""); /* a read */
    samspil__v1__registration_request__free_unpacked(req, NULL);

    char *e2[] = {"samspilctl",     "--tenant",       "751", "person", "export",
                  "--external-ref", "cpr:010203-1234"};
    req = s_request(ARGC(e2), e2, NULL);
    assert_string_equal(req->person_export->actor_id, "");
    assert_string_equal(req->person_export->external_ref, "cpr:010203-1234");
    samspil__v1__registration_request__free_unpacked(req, NULL);

    char *x1[] = {"samspilctl", "--tenant", "751", "person", "erase", "a-1", "--yes"};
    req = s_request(ARGC(x1), x1, "k1");
    assert_true(ctl_command_confirms(s_inv.cmd));
    assert_true(s_inv.yes);
    assert_int_equal(req->op_case, SAMSPIL__V1__REGISTRATION_REQUEST__OP_PERSON_ERASE);
    assert_string_equal(req->person_erase->actor_id, "a-1");
    assert_string_equal(req->idempotency_key, "k1");
    samspil__v1__registration_request__free_unpacked(req, NULL);
    char *x2[] = {"samspilctl", "--tenant", "751", "person", "erase", "a-1"};
    assert_int_equal(s_parse(ARGC(x2), x2), CTL_PARSE_OK);
    assert_false(s_inv.yes);
    char *x3[] = {"samspilctl", "person", "erase", "a-1", "--yes"};
    s_expect_parse_usage(ARGC(x3), x3, "no tenant");

    char *b1[] = {"samspilctl", "--tenant", "751", "person", "export"};
    assert_int_equal(s_parse(ARGC(b1), b1), CTL_PARSE_OK);
    ctl_request_t *r = malloc(sizeof *r);
    assert_non_null(r);
    sp_buf_reset(&s_err);
    assert_int_equal(ctl_args_build(&s_inv, NULL, r, &s_err), -1);
    assert_non_null(strstr(s_err.data, "give the person's actor ID or --external-ref"));
    free(r);

    char *k1[] = {"samspilctl", "key", "rotate-data"};
    req = s_request(ARGC(k1), k1, NULL);
    assert_int_equal(req->op_case, SAMSPIL__V1__REGISTRATION_REQUEST__OP_DATA_KEY_ROTATE);
    assert_false(req->data_key_rotate->reseal_only);
    assert_int_equal(s_inv.retries, 0);
    assert_int_equal(s_inv.timeout_ms, CTL_LONG_TIMEOUT_MS);
    samspil__v1__registration_request__free_unpacked(req, NULL);
    char *k2[] = {"samspilctl", "key",  "rotate-data",  "--reseal-only",
                  "--batch",    "1000", "--timeout-ms", "9000"};
    req = s_request(ARGC(k2), k2, NULL);
    assert_true(req->data_key_rotate->reseal_only);
    assert_int_equal(req->data_key_rotate->batch, 1000);
    assert_int_equal(s_inv.timeout_ms, 9000);
    samspil__v1__registration_request__free_unpacked(req, NULL);
    char *o1[] = {"samspilctl", "status"};
    assert_int_equal(s_parse(ARGC(o1), o1), CTL_PARSE_OK);
    assert_int_equal(s_inv.retries, 2);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_member_add_roles, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown(test_unknown_role, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown(test_global_options_anywhere, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown(test_environment, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown(test_actor_create, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown(test_actor_update_mask, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown(test_partnership, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown(test_actor_get, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown(test_other_commands, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown(test_help_and_usage, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown(test_events_tail, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown(test_key_commands, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown(test_person_and_rotate, s_setup, s_teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
