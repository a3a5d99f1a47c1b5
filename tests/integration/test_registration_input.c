/*
 * test_registration_input.c - bad input (issue 2 point 6): bad municipality
 * codes, unknown role or knowledge basis, empty or over-long names (counted
 * in characters, not bytes), malformed ids and unknown tenants each get an
 * error reply with the expected code, naming the field, quoting the value;
 * creates that need an idempotency key and have none are refused; and
 * nothing is written (rows counted behind the service).
 *
 * Tenant 265; tenant 860 is a valid code this suite never creates.
 */
#include "itest.h"
#include "reg_client.h"

#define T "265"
#define UNKNOWN_TENANT "860"
#define UNKNOWN_UUID "6f1d2c3b-5a4e-4d3c-9b2a-0123456789ab"

static sp_client_t *client;
static PGconn *db;

static long long count_rows(const char *tenant, const char *table)
{
    char sql[128];
    snprintf(sql, sizeof sql, "SELECT count(*) FROM registration.%s", table);
    return rc_db_count(db, tenant, sql, 0, NULL);
}

static long long count_tenants(void)
{
    return rc_db_count(db, "", "SELECT count(*) FROM registration.tenants", 0, NULL);
}

/* Check an error reply: code, field, and the value quoted in the message. */
static void expect_error(rc_reply_t *r, int code, const char *field, const char *value,
                         const char *name)
{
    ITEST_CHECKF(rc_is_error(r, code, field, value), name,
                 "want %s field~\"%s\" value \"%.40s\"; got %s",
                 sp_error_code_name((sp_error_code_t)code), field ? field : "", value ? value : "",
                 rc_describe(r));
}

static void test_municipality_codes(void)
{
    long long before = count_tenants();
    const char *bad[] = {"07x1", "999", "1234", "75", ""};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        char name[96];
        snprintf(name, sizeof name, "tenant create with code \"%s\" is invalid_argument", bad[i]);
        rc_reply_t *r = rc_tenant_create(client, bad[i], "Ingen Kommune");
        expect_error(r, SP_INVALID_ARGUMENT, "code", bad[i][0] ? bad[i] : NULL, name);
        rc_free(&r);
    }
    long long after = count_tenants();
    ITEST_CHECKF(before >= 0 && after == before, "bad tenant creates wrote nothing",
                 "%lld -> %lld tenants", before, after);

    /* the tenant a request acts on */
    Samspil__V1__Actor a;
    rc_actor_init(&a, SAMSPIL__V1__ACTOR_KIND__ACTOR_KIND_CITIZEN, "Nobody");
    rc_reply_t *r = rc_actor_create(client, "07x1", rc_key("input"), &a);
    expect_error(r, SP_INVALID_ARGUMENT, "tenant", "07x1",
                 "actor create under tenant \"07x1\" is invalid_argument");
    rc_free(&r);
    r = rc_actor_create(client, "1234", rc_key("input"), &a);
    expect_error(r, SP_INVALID_ARGUMENT, "tenant", "1234",
                 "actor create under tenant \"1234\" is invalid_argument");
    rc_free(&r);
    r = rc_actor_create(client, "999", rc_key("input"), &a);
    ITEST_CHECKF(
        (rc_is_error(r, SP_INVALID_ARGUMENT, "tenant", "999") ||
         rc_is_error(r, SP_NOT_FOUND, "tenant", "999")),
        "actor create under tenant \"999\" (no such municipality) is refused naming tenant", "%s",
        rc_describe(r));
    rc_free(&r);
    r = rc_actor_create(client, "", rc_key("input"), &a);
    expect_error(r, SP_INVALID_ARGUMENT, "tenant", NULL,
                 "actor create without a tenant is invalid_argument");
    rc_free(&r);
    r = rc_actor_create(client, UNKNOWN_TENANT, rc_key("input"), &a);
    expect_error(r, SP_NOT_FOUND, "tenant", UNKNOWN_TENANT,
                 "actor create under a tenant never created is not_found");
    rc_free(&r);
    r = rc_actor_list(client, UNKNOWN_TENANT, 0, NULL, 0, NULL);
    expect_error(r, SP_NOT_FOUND, "tenant", UNKNOWN_TENANT,
                 "actor list under a tenant never created is not_found");
    rc_free(&r);
    long long n = count_rows(UNKNOWN_TENANT, "actors");
    ITEST_CHECKF(n == 0, "nothing written under the unknown tenant", "%lld rows", n);
    n = count_rows("999", "actors") + count_rows("07x1", "actors");
    ITEST_CHECKF(n == 0, "nothing written under bad tenant codes", "%lld rows", n);
}

/* A string of `count` copies of `unit`. */
static char *repeat(const char *unit, size_t count)
{
    size_t ulen = strlen(unit);
    char *s = malloc(ulen * count + 1);
    if (!s)
        abort();
    for (size_t i = 0; i < count; i++)
        memcpy(s + i * ulen, unit, ulen);
    s[ulen * count] = '\0';
    return s;
}

static void test_names(void)
{
    long long before = count_rows(T, "actors");
    Samspil__V1__Actor a;
    rc_actor_init(&a, SAMSPIL__V1__ACTOR_KIND__ACTOR_KIND_CITIZEN, "");
    rc_reply_t *r = rc_actor_create(client, T, rc_key("input"), &a);
    expect_error(r, SP_INVALID_ARGUMENT, "name", NULL, "actor create with an empty name");
    rc_free(&r);

    struct {
        const char *unit;
        size_t count;
        const char *what;
    } longs[] = {
        {"a", 201, "201 ASCII characters"},
        {"b", 1000, "1000 ASCII characters"},
        {"ø", 201, "201 two-byte characters"},
        {"€", 201, "201 three-byte characters"},
    };
    for (size_t i = 0; i < sizeof longs / sizeof longs[0]; i++) {
        char *name = repeat(longs[i].unit, longs[i].count);
        char *prefix = repeat(longs[i].unit, 10); /* the message quotes at least this much */
        char label[128];
        a.name = name;
        r = rc_actor_create(client, T, rc_key("input"), &a);
        snprintf(label, sizeof label, "actor create with a name of %s is invalid_argument",
                 longs[i].what);
        expect_error(r, SP_INVALID_ARGUMENT, "name", prefix, label);
        rc_free(&r);
        free(prefix);
        free(name);
    }
    long long after = count_rows(T, "actors");
    ITEST_CHECKF(before >= 0 && after == before, "refused names wrote nothing",
                 "%lld -> %lld actors", before, after);

    /* the limit is 200 characters, however many bytes they take */
    const char *units[] = {"c", "ø", "€"};
    int ok = 0;
    for (size_t i = 0; i < 3; i++) {
        char *name = repeat(units[i], 200);
        a.name = name;
        r = rc_actor_create(client, T, rc_key("input"), &a);
        char label[128];
        snprintf(label, sizeof label, "actor create with a name of 200 %zu-byte characters",
                 strlen(units[i]));
        ok += ITEST_CHECKF(rc_is(r, SAMSPIL__V1__REGISTRATION_REPLY__RESULT_ACTOR) &&
                               strcmp(r->actor->name, name) == 0,
                           label, "%s", rc_describe(r));
        rc_free(&r);
        free(name);
    }
    after = count_rows(T, "actors");
    ITEST_CHECKF(after == before + ok, "the accepted names wrote one row each",
                 "%lld -> %lld actors, %d accepted", before, after, ok);

    /* kind and sector */
    before = after;
    rc_actor_init(&a, SAMSPIL__V1__ACTOR_KIND__ACTOR_KIND_UNSPECIFIED, "No Kind");
    r = rc_actor_create(client, T, rc_key("input"), &a);
    expect_error(r, SP_INVALID_ARGUMENT, "kind", NULL, "actor create without a kind");
    rc_free(&r);
    rc_actor_init(&a, (Samspil__V1__ActorKind)42, "Odd Kind");
    r = rc_actor_create(client, T, rc_key("input"), &a);
    expect_error(r, SP_INVALID_ARGUMENT, "kind", "42", "actor create with kind 42");
    rc_free(&r);
    rc_actor_init(&a, SAMSPIL__V1__ACTOR_KIND__ACTOR_KIND_ORGANISATION, "No Sector Forening");
    r = rc_actor_create(client, T, rc_key("input"), &a);
    expect_error(r, SP_INVALID_ARGUMENT, "sector", NULL, "organisation create without a sector");
    rc_free(&r);
    after = count_rows(T, "actors");
    ITEST_CHECKF(after == before, "refused kinds wrote nothing", "%lld -> %lld actors", before,
                 after);
}

static void test_ids_roles_basis(void)
{
    /* a valid partnership and actor to attach memberships to */
    char part_id[64] = "", actor_id[64] = "", label[128];
    snprintf(label, sizeof label, "Input Partnership %s", rc_nonce());
    Samspil__V1__Partnership p = SAMSPIL__V1__PARTNERSHIP__INIT;
    p.name = label;
    p.purpose = "bad input";
    rc_reply_t *r = rc_partnership_create(client, T, rc_key("input"), &p);
    rc_id(r, part_id, sizeof part_id);
    ITEST_CHECKF(part_id[0], "setup: partnership", "%s", rc_describe(r));
    rc_free(&r);
    Samspil__V1__Actor a;
    rc_actor_init(&a, SAMSPIL__V1__ACTOR_KIND__ACTOR_KIND_CITIZEN, "Input Citizen");
    r = rc_actor_create(client, T, rc_key("input"), &a);
    rc_id(r, actor_id, sizeof actor_id);
    ITEST_CHECKF(actor_id[0], "setup: actor", "%s", rc_describe(r));
    rc_free(&r);

    long long members = count_rows(T, "memberships");
    long long actors = count_rows(T, "actors");

    r = rc_actor_get(client, T, "abc", NULL);
    expect_error(r, SP_INVALID_ARGUMENT, "id", "abc", "actor get with id \"abc\"");
    rc_free(&r);
    r = rc_actor_get(client, T, UNKNOWN_UUID, NULL);
    expect_error(r, SP_NOT_FOUND, "id", UNKNOWN_UUID, "actor get with an unknown id");
    rc_free(&r);

    Samspil__V1__Actor u;
    rc_actor_init(&u, SAMSPIL__V1__ACTOR_KIND__ACTOR_KIND_CITIZEN, "Changed");
    u.id = "abc";
    const char *mask[] = {"name"};
    r = rc_actor_update(client, T, &u, mask, 1);
    expect_error(r, SP_INVALID_ARGUMENT, "id", "abc", "actor update with id \"abc\"");
    rc_free(&r);
    u.id = actor_id;
    const char *bad_mask[] = {"shoe_size"};
    r = rc_actor_update(client, T, &u, bad_mask, 1);
    expect_error(r, SP_INVALID_ARGUMENT, "update_mask", "shoe_size",
                 "actor update with an unknown mask field");
    rc_free(&r);

    const Samspil__V1__MemberRole good[] = {SAMSPIL__V1__MEMBER_ROLE__MEMBER_ROLE_ACTIVE};
    const Samspil__V1__MemberRole bad[] = {SAMSPIL__V1__MEMBER_ROLE__MEMBER_ROLE_ACTIVE,
                                           (Samspil__V1__MemberRole)99};
    r = rc_member_add(client, T, NULL, part_id, actor_id, bad, 2,
                      SAMSPIL__V1__KNOWLEDGE_BASIS__KNOWLEDGE_BASIS_EXPERIENTIAL);
    expect_error(r, SP_INVALID_ARGUMENT, "roles", "99", "member add with role 99");
    rc_free(&r);
    r = rc_member_add(client, T, NULL, part_id, actor_id, good, 0,
                      SAMSPIL__V1__KNOWLEDGE_BASIS__KNOWLEDGE_BASIS_EXPERIENTIAL);
    expect_error(r, SP_INVALID_ARGUMENT, "roles", NULL, "member add without roles");
    rc_free(&r);
    r = rc_member_add(client, T, NULL, part_id, actor_id, good, 1, (Samspil__V1__KnowledgeBasis)99);
    expect_error(r, SP_INVALID_ARGUMENT, "knowledge_basis", "99",
                 "member add with knowledge basis 99");
    rc_free(&r);
    r = rc_member_add(client, T, NULL, part_id, UNKNOWN_UUID, good, 1,
                      SAMSPIL__V1__KNOWLEDGE_BASIS__KNOWLEDGE_BASIS_EXPERIENTIAL);
    expect_error(r, SP_NOT_FOUND, "actor_id", UNKNOWN_UUID, "member add with an unknown actor");
    rc_free(&r);
    r = rc_member_add(client, T, NULL, UNKNOWN_UUID, actor_id, good, 1,
                      SAMSPIL__V1__KNOWLEDGE_BASIS__KNOWLEDGE_BASIS_EXPERIENTIAL);
    expect_error(r, SP_NOT_FOUND, "partnership_id", UNKNOWN_UUID,
                 "member add with an unknown partnership");
    rc_free(&r);
    r = rc_member_add(client, T, NULL, "abc", actor_id, good, 1,
                      SAMSPIL__V1__KNOWLEDGE_BASIS__KNOWLEDGE_BASIS_EXPERIENTIAL);
    expect_error(r, SP_INVALID_ARGUMENT, "partnership_id", "abc",
                 "member add with partnership id \"abc\"");
    rc_free(&r);

    long long members_after = count_rows(T, "memberships");
    long long actors_after = count_rows(T, "actors");
    ITEST_CHECKF(members >= 0 && members_after == members && actors_after == actors,
                 "refused ids, roles and bases wrote nothing",
                 "memberships %lld -> %lld, actors %lld -> %lld", members, members_after, actors,
                 actors_after);

    /* and the same membership, valid, is accepted */
    r = rc_member_add(client, T, NULL, part_id, actor_id, good, 1,
                      SAMSPIL__V1__KNOWLEDGE_BASIS__KNOWLEDGE_BASIS_EXPERIENTIAL);
    ITEST_CHECKF(rc_is(r, SAMSPIL__V1__REGISTRATION_REPLY__RESULT_MEMBERSHIP),
                 "member add with valid input succeeds", "%s", rc_describe(r));
    rc_free(&r);
}

/* Creates that nothing makes unique need an idempotency key: without one
 * (and without an external ref) a resend or the broker's requeue would
 * store them twice, so they are refused and nothing is written. */
static void test_key_required(void)
{
    long long actors = count_rows(T, "actors");
    long long parts = count_rows(T, "partnerships");
    long long consents = count_rows(T, "consents");
    const char *want = "idempotency_key is required";

    Samspil__V1__Actor a;
    rc_actor_init(&a, SAMSPIL__V1__ACTOR_KIND__ACTOR_KIND_CITIZEN, "Keyless Citizen");
    rc_reply_t *r = rc_actor_create(client, T, NULL, &a);
    expect_error(r, SP_INVALID_ARGUMENT, "idempotency_key", want,
                 "actor create without key or external ref is invalid_argument");
    char actor_id[64] = "";
    rc_free(&r);

    Samspil__V1__Partnership p = SAMSPIL__V1__PARTNERSHIP__INIT;
    p.name = "Keyless Partnership";
    r = rc_partnership_create(client, T, NULL, &p);
    expect_error(r, SP_INVALID_ARGUMENT, "idempotency_key", want,
                 "partnership create without key or external ref is invalid_argument");
    rc_free(&r);

    /* a consent needs an actor to be about */
    r = rc_actor_create(client, T, rc_key("input"), &a);
    rc_id(r, actor_id, sizeof actor_id);
    ITEST_CHECKF(actor_id[0], "setup: actor for consent", "%s", rc_describe(r));
    rc_free(&r);
    actors += actor_id[0] ? 1 : 0;
    Samspil__V1__Consent c = SAMSPIL__V1__CONSENT__INIT;
    c.actor_id = actor_id;
    c.purpose = "contact";
    c.channel = SAMSPIL__V1__CONSENT_CHANNEL__CONSENT_CHANNEL_PAPER;
    c.text_version = "2026-01";
    Samspil__V1__ConsentRecord rec = SAMSPIL__V1__CONSENT_RECORD__INIT;
    rec.consent = &c;
    rc_req_t req = SAMSPIL__V1__REGISTRATION_REQUEST__INIT;
    req.tenant = T;
    req.op_case = SAMSPIL__V1__REGISTRATION_REQUEST__OP_CONSENT_RECORD;
    req.consent_record = &rec;
    r = rc_call(client, &req);
    expect_error(r, SP_INVALID_ARGUMENT, "idempotency_key", want,
                 "consent record without a key is invalid_argument");
    rc_free(&r);

    long long actors_after = count_rows(T, "actors");
    long long parts_after = count_rows(T, "partnerships");
    long long consents_after = count_rows(T, "consents");
    ITEST_CHECKF(actors >= 0 && actors_after == actors && parts_after == parts &&
                     consents_after == consents,
                 "keyless creates wrote nothing",
                 "actors %lld -> %lld, partnerships %lld -> "
                 "%lld, consents %lld -> %lld",
                 actors, actors_after, parts, parts_after, consents, consents_after);
}

int main(void)
{
    client = rc_client();
    db = rc_db_owner();
    ITEST_CHECK(rc_tenant_ensure(client, T, "Roskilde Kommune") == 0, "tenant 265 exists");
    test_municipality_codes();
    test_names();
    test_ids_roles_basis();
    test_key_required();
    PQfinish(db);
    sp_client_destroy(&client);
    return itest_done();
}
