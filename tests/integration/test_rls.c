/*
 * test_rls.c - tenant isolation (issue 2 point 7): through the service a
 * tenant cannot read, list, update or upsert another tenant's actor, even by
 * exact id; behind the service, the registration login role sees no rows
 * without a tenant and only that tenant's rows with one; every tenant-owned
 * table forces row-level security; the role is no superuser, cannot bypass
 * RLS and owns nothing.
 *
 * Tenants 461 (A) and 561 (B).
 */
#include "itest.h"
#include "reg_client.h"

#define A "461"
#define B "561"

static sp_client_t *client;
static PGconn *owner;

static void test_through_service(char *a_id, size_t a_id_len, char *a_ref, size_t a_ref_len,
                                 char *a_name, size_t a_name_len)
{
    snprintf(a_name, a_name_len, "Tenant A Citizen %s", rc_nonce());
    snprintf(a_ref, a_ref_len, "sag:%s-rls", rc_nonce());
    Samspil__V1__Actor a;
    rc_actor_init(&a, SAMSPIL__V1__ACTOR_KIND__ACTOR_KIND_CITIZEN, a_name);
    a.external_ref = a_ref;
    char *interests[] = {"skole"};
    a.n_interests = 1;
    a.interests = interests;
    rc_reply_t *r = rc_actor_create(client, A, NULL, &a);
    ITEST_CHECKF(rc_is(r, SAMSPIL__V1__REGISTRATION_REPLY__RESULT_ACTOR),
                 "tenant A creates an actor", "%s", rc_describe(r));
    rc_id(r, a_id, a_id_len);
    rc_free(&r);

    /* B gets it by exact id, by external ref */
    r = rc_actor_get(client, B, a_id, NULL);
    ITEST_CHECKF(rc_code(r) == SP_NOT_FOUND, "tenant B cannot get A's actor by exact id", "%s",
                 rc_describe(r));
    rc_free(&r);
    r = rc_actor_get(client, B, NULL, a_ref);
    ITEST_CHECKF(rc_code(r) == SP_NOT_FOUND, "tenant B cannot get A's actor by external ref", "%s",
                 rc_describe(r));
    rc_free(&r);

    /* B lists: A's actor is not there (follow every page) */
    bool seen = false;
    int pages = 0;
    char cursor[256] = "";
    for (; pages < 200; pages++) {
        r = rc_actor_list(client, B, 0, NULL, 100, cursor);
        if (!rc_is(r, SAMSPIL__V1__REGISTRATION_REPLY__RESULT_ACTORS)) {
            itest_check(0, "tenant B actor list", "%s", rc_describe(r));
            rc_free(&r);
            break;
        }
        for (size_t i = 0; i < r->actors->n_items; i++)
            if (strcmp(r->actors->items[i]->id, a_id) == 0)
                seen = true;
        snprintf(cursor, sizeof cursor, "%s", r->actors->next ? r->actors->next : "");
        bool more = r->actors->n_items > 0 && cursor[0];
        rc_free(&r);
        if (!more)
            break;
    }
    ITEST_CHECK(!seen, "tenant B's actor list does not show A's actor");
    r = rc_actor_list(client, B, 0, "skole", 0, NULL);
    bool any = rc_is(r, SAMSPIL__V1__REGISTRATION_REPLY__RESULT_ACTORS);
    for (size_t i = 0; any && i < r->actors->n_items; i++)
        if (strcmp(r->actors->items[i]->id, a_id) == 0)
            any = false;
    ITEST_CHECKF(any, "tenant B's filtered list does not show A's actor", "%s", rc_describe(r));
    rc_free(&r);

    /* B updates it by id: not found, and nothing changed */
    Samspil__V1__Actor u;
    rc_actor_init(&u, SAMSPIL__V1__ACTOR_KIND__ACTOR_KIND_CITIZEN, "Hijacked");
    u.id = a_id;
    const char *mask[] = {"name"};
    r = rc_actor_update(client, B, &u, mask, 1);
    ITEST_CHECKF(rc_code(r) == SP_NOT_FOUND, "tenant B cannot update A's actor", "%s",
                 rc_describe(r));
    rc_free(&r);
    r = rc_actor_get(client, A, a_id, NULL);
    ITEST_CHECKF(rc_is(r, SAMSPIL__V1__REGISTRATION_REPLY__RESULT_ACTOR) &&
                     strcmp(r->actor->name, a_name) == 0,
                 "A's actor is unchanged after B's update", "%s", rc_describe(r));
    rc_free(&r);

    /* B upserts with A's external ref: a separate B actor */
    char b_id[64];
    Samspil__V1__Actor up;
    rc_actor_init(&up, SAMSPIL__V1__ACTOR_KIND__ACTOR_KIND_CITIZEN, "Tenant B Citizen");
    up.external_ref = a_ref;
    r = rc_actor_upsert(client, B, &up);
    ITEST_CHECKF(rc_is(r, SAMSPIL__V1__REGISTRATION_REPLY__RESULT_ACTOR) && r->created &&
                     strcmp(r->actor->id, a_id) != 0,
                 "tenant B upsert with A's external ref creates B's own actor", "%s",
                 rc_describe(r));
    rc_id(r, b_id, sizeof b_id);
    rc_free(&r);
    r = rc_actor_get(client, A, NULL, a_ref);
    ITEST_CHECKF(rc_is(r, SAMSPIL__V1__REGISTRATION_REPLY__RESULT_ACTOR) &&
                     strcmp(r->actor->id, a_id) == 0 && strcmp(r->actor->name, a_name) == 0,
                 "A's actor is untouched by B's upsert", "%s", rc_describe(r));
    rc_free(&r);
    r = rc_actor_get(client, B, NULL, a_ref);
    ITEST_CHECKF(rc_is(r, SAMSPIL__V1__REGISTRATION_REPLY__RESULT_ACTOR) &&
                     strcmp(r->actor->id, b_id) == 0,
                 "B's get by that external ref finds B's actor", "%s", rc_describe(r));
    rc_free(&r);
}

static void test_behind_service(const char *a_id)
{
    const char *conninfo = getenv("SAMSPIL_OWNER_DB");
    const char *svc_url = getenv("SAMSPIL_REGISTRATION_DATABASE_URL");
    PGconn *svc = svc_url && *svc_url ? rc_db_connect(svc_url, NULL)
                                      : rc_db_connect(conninfo, "samspil_registration");

    PGresult *who = rc_db_query(svc, NULL, "SELECT current_user", 0, NULL);
    ITEST_CHECKF(who && strcmp(PQgetvalue(who, 0, 0), "samspil_registration") == 0,
                 "connected as samspil_registration", "%s", who ? PQgetvalue(who, 0, 0) : "?");
    PQclear(who);

    long long n = rc_db_count(svc, "", "SELECT count(*) FROM registration.actors", 0, NULL);
    ITEST_CHECKF(n == 0, "service role with no tenant set sees no actors", "%lld rows", n);

    long long owner_b = rc_db_count(owner, B, "SELECT count(*) FROM registration.actors", 0, NULL);
    n = rc_db_count(svc, B, "SELECT count(*) FROM registration.actors", 0, NULL);
    long long foreign = rc_db_count(
        svc, B, "SELECT count(*) FROM registration.actors WHERE tenant_id <> '" B "'", 0, NULL);
    const char *params[] = {a_id};
    long long a_seen = rc_db_count(
        svc, B, "SELECT count(*) FROM registration.actors WHERE id::text = $1", 1, params);
    ITEST_CHECKF(n >= 1 && n == owner_b && foreign == 0 && a_seen == 0,
                 "service role with tenant B set sees B's actors only",
                 "%lld rows (owner sees %lld), %lld foreign, A's seen %lld", n, owner_b, foreign,
                 a_seen);
    long long a_as_a = rc_db_count(
        svc, A, "SELECT count(*) FROM registration.actors WHERE id::text = $1", 1, params);
    ITEST_CHECKF(a_as_a == 1, "service role with tenant A set sees A's actor", "%lld", a_as_a);

    /* writing into another tenant is refused by the policy's WITH CHECK */
    rc_db_set_tenant(svc, B);
    const char *wparams[] = {A, a_id};
    PGresult *res =
        PQexecParams(svc, "UPDATE registration.actors SET tenant_id = $1 WHERE id::text = $2", 2,
                     NULL, wparams, NULL, NULL, 0);
    const char *state = PQresultErrorField(res, PG_DIAG_SQLSTATE);
    ITEST_CHECKF((PQresultStatus(res) == PGRES_COMMAND_OK && strcmp(PQcmdTuples(res), "0") == 0) ||
                     (state && strcmp(state, "42501") == 0),
                 "service role with tenant B cannot touch A's row", "%s %s",
                 PQresStatus(PQresultStatus(res)), PQcmdTuples(res));
    PQclear(res);
    PQfinish(svc);

    /* catalog: every table with tenant_id forces RLS */
    res = rc_db_query(owner, NULL,
                      "SELECT c.relname, c.relrowsecurity, c.relforcerowsecurity, "
                      "  (SELECT count(*) FROM pg_policy p WHERE p.polrelid = c.oid) "
                      "FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
                      "WHERE n.nspname = 'registration' AND c.relkind IN ('r', 'p') "
                      "AND EXISTS (SELECT 1 FROM pg_attribute a WHERE a.attrelid = c.oid "
                      "  AND a.attname = 'tenant_id' AND NOT a.attisdropped) "
                      "ORDER BY 1",
                      0, NULL);
    int tables = res ? PQntuples(res) : 0;
    bool all = tables > 0;
    char bad[512] = "";
    for (int i = 0; i < tables; i++) {
        bool ok = strcmp(PQgetvalue(res, i, 1), "t") == 0 &&
                  strcmp(PQgetvalue(res, i, 2), "t") == 0 && strcmp(PQgetvalue(res, i, 3), "0");
        if (!ok) {
            all = false;
            size_t len = strlen(bad);
            snprintf(bad + len, sizeof bad - len, "%s ", PQgetvalue(res, i, 0));
        }
    }
    ITEST_CHECKF(all, "every registration table with tenant_id has ENABLE+FORCE RLS and a policy",
                 "%d tables; lacking: %s", tables, bad);
    PQclear(res);

    res = rc_db_query(owner, NULL,
                      "SELECT rolsuper, rolbypassrls FROM pg_roles "
                      "WHERE rolname = 'samspil_registration'",
                      0, NULL);
    ITEST_CHECKF(res && PQntuples(res) == 1 && strcmp(PQgetvalue(res, 0, 0), "f") == 0 &&
                     strcmp(PQgetvalue(res, 0, 1), "f") == 0,
                 "samspil_registration is NOSUPERUSER NOBYPASSRLS", "%d rows",
                 res ? PQntuples(res) : -1);
    PQclear(res);
    n = rc_db_count(owner, NULL,
                    "SELECT count(*) FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
                    "WHERE n.nspname = 'registration' "
                    "AND pg_get_userbyid(c.relowner) = 'samspil_registration'",
                    0, NULL);
    ITEST_CHECKF(n == 0, "samspil_registration owns no relation in schema registration",
                 "%lld owned", n);
    n = rc_db_count(owner, NULL,
                    "SELECT count(*) FROM pg_namespace "
                    "WHERE nspname = 'registration' "
                    "AND pg_get_userbyid(nspowner) = 'samspil_registration'",
                    0, NULL);
    ITEST_CHECKF(n == 0, "samspil_registration does not own the schema", "%lld", n);
}

int main(void)
{
    client = rc_client();
    owner = rc_db_owner();
    ITEST_CHECK(rc_tenant_ensure(client, A, "Odense Kommune") == 0, "tenant 461 exists");
    ITEST_CHECK(rc_tenant_ensure(client, B, "Esbjerg Kommune") == 0, "tenant 561 exists");
    /* B has an actor of its own, so "sees B's only" is not vacuous */
    Samspil__V1__Actor b;
    rc_actor_init(&b, SAMSPIL__V1__ACTOR_KIND__ACTOR_KIND_PROFESSIONAL, "Tenant B Professional");
    rc_reply_t *r = rc_actor_create(client, B, rc_key("rls"), &b);
    ITEST_CHECKF(rc_is(r, SAMSPIL__V1__REGISTRATION_REPLY__RESULT_ACTOR),
                 "tenant B creates an actor", "%s", rc_describe(r));
    rc_free(&r);

    char a_id[64] = "", a_ref[96], a_name[96];
    test_through_service(a_id, sizeof a_id, a_ref, sizeof a_ref, a_name, sizeof a_name);
    test_behind_service(a_id);
    PQfinish(owner);
    sp_client_destroy(&client);
    return itest_done();
}
