/*
 * test_registration_idem.c - idempotent creates (issue 2 point 5): the same
 * create with the same idempotency key or external ref returns the same id
 * and leaves one row; the same key with another payload is refused; 50
 * identical creates in flight at once leave exactly one row.  Rows are
 * counted behind the service with the owner connection.
 *
 * Tenant 157.
 */
#include "itest.h"
#include "reg_client.h"

#define T "157"
#define CONCURRENT 50

static sp_client_t *client;
static PGconn *db;

static long long count_actors_named(const char *name)
{
    const char *params[] = {name};
    return rc_db_count(db, T, "SELECT count(*) FROM registration.actors WHERE name = $1", 1,
                       params);
}

static long long count_partnerships_named(const char *name)
{
    const char *params[] = {name};
    return rc_db_count(db, T, "SELECT count(*) FROM registration.partnerships WHERE name = $1", 1,
                       params);
}

static void test_actor_same_key(void)
{
    char name[96], key[96], id1[64], id2[64];
    snprintf(name, sizeof name, "Idem Actor %s", rc_nonce());
    snprintf(key, sizeof key, "idem-%s-a1", rc_nonce());
    Samspil__V1__Actor a;
    rc_actor_init(&a, SAMSPIL__V1__ACTOR_KIND__ACTOR_KIND_CITIZEN, name);
    char *interests[] = {"skole"};
    a.n_interests = 1;
    a.interests = interests;

    rc_reply_t *r = rc_actor_create(client, T, key, &a);
    ITEST_CHECKF(rc_is(r, SAMSPIL__V1__REGISTRATION_REPLY__RESULT_ACTOR) && r->created,
                 "actor create with an idempotency key", "%s", rc_describe(r));
    rc_id(r, id1, sizeof id1);
    rc_free(&r);
    r = rc_actor_create(client, T, key, &a);
    ITEST_CHECKF(rc_is(r, SAMSPIL__V1__REGISTRATION_REPLY__RESULT_ACTOR) && !r->created,
                 "actor create repeated with the same key answers created=false", "%s",
                 rc_describe(r));
    rc_id(r, id2, sizeof id2);
    rc_free(&r);
    ITEST_CHECKF(id1[0] && strcmp(id1, id2) == 0, "actor create repeated returns the same id",
                 "%s vs %s", id1, id2);
    long long n = count_actors_named(name);
    ITEST_CHECKF(n == 1, "actor create repeated leaves one row", "%lld rows", n);

    /* same key, different payload */
    char other[120];
    snprintf(other, sizeof other, "%s (changed)", name);
    a.name = other;
    r = rc_actor_create(client, T, key, &a);
    ITEST_CHECKF(rc_is_error(r, SP_FAILED_PRECONDITION, NULL, NULL),
                 "same idempotency key with another payload is failed_precondition", "%s",
                 rc_describe(r));
    ITEST_CHECKF(strstr(rc_err_field(r), "idempotency_key") != NULL,
                 "failed_precondition names idempotency_key", "%s", rc_describe(r));
    rc_free(&r);
    n = count_actors_named(other);
    long long n0 = count_actors_named(name);
    ITEST_CHECKF(n == 0 && n0 == 1, "refused payload wrote nothing", "%lld and %lld rows", n, n0);
}

static void test_actor_same_external_ref(void)
{
    char name[96], ref[96], id1[64], id2[64];
    snprintf(name, sizeof name, "Idem Ref %s", rc_nonce());
    snprintf(ref, sizeof ref, "sag:%s-ref", rc_nonce());
    Samspil__V1__Actor a;
    rc_actor_init(&a, SAMSPIL__V1__ACTOR_KIND__ACTOR_KIND_CITIZEN, name);
    a.external_ref = ref;
    rc_reply_t *r = rc_actor_create(client, T, NULL, &a);
    ITEST_CHECKF(rc_is(r, SAMSPIL__V1__REGISTRATION_REPLY__RESULT_ACTOR) && r->created,
                 "actor create with an external ref", "%s", rc_describe(r));
    rc_id(r, id1, sizeof id1);
    rc_free(&r);
    r = rc_actor_create(client, T, NULL, &a);
    ITEST_CHECKF(rc_is(r, SAMSPIL__V1__REGISTRATION_REPLY__RESULT_ACTOR) && !r->created,
                 "actor create with the same external ref answers created=false", "%s",
                 rc_describe(r));
    rc_id(r, id2, sizeof id2);
    rc_free(&r);
    ITEST_CHECKF(id1[0] && strcmp(id1, id2) == 0,
                 "actor create with the same external ref returns the same id", "%s vs %s", id1,
                 id2);
    const char *params[] = {ref};
    long long n = rc_db_count(
        db, T, "SELECT count(*) FROM registration.actors WHERE external_ref = $1", 1, params);
    ITEST_CHECKF(n == 1, "same external ref leaves one row", "%lld rows", n);
}

/* Send CONCURRENT copies of `req` at once on one socket (correlation ids
 * 1..CONCURRENT) and collect the ids of the replies.  Returns how many
 * replies carried a result; *same is true when they all carry one id. */
static int send_concurrent(rc_req_t *req, char ids[CONCURRENT][64], int *created)
{
    bool answered[CONCURRENT + 1] = {false};
    int results = 0, replies = 0;
    *created = 0;
    for (int i = 0; i < CONCURRENT; i++) {
        req->correlation_id = (uint64_t)i + 1;
        if (rc_send(client, req) != 0)
            fprintf(stderr, "itest: send %d failed\n", i);
    }
    int64_t deadline = rc_now_us() + 60 * 1000000LL;
    while (replies < CONCURRENT && rc_now_us() < deadline) {
        rc_reply_t *r = rc_recv(client, 1000);
        if (!r)
            continue;
        uint64_t cid = r->correlation_id;
        if (cid >= 1 && cid <= CONCURRENT && !answered[cid]) {
            answered[cid] = true;
            replies++;
            rc_id(r, ids[cid - 1], 64);
            if (rc_code(r) == SP_OK) {
                results++;
                *created += r->created ? 1 : 0;
            } else {
                fprintf(stderr, "itest: concurrent reply %llu: %s\n", (unsigned long long)cid,
                        rc_describe(r));
            }
        }
        rc_free(&r);
    }
    return results;
}

static bool all_same(char ids[CONCURRENT][64])
{
    for (int i = 0; i < CONCURRENT; i++)
        if (!ids[i][0] || strcmp(ids[i], ids[0]) != 0)
            return false;
    return true;
}

static void test_actor_concurrent(bool by_key)
{
    static char ids[CONCURRENT][64];
    memset(ids, 0, sizeof ids);
    char name[96], key[96], ref[96], label[160];
    snprintf(name, sizeof name, "Idem Concurrent %s %s", by_key ? "key" : "ref", rc_nonce());
    snprintf(key, sizeof key, "idem-%s-c", rc_nonce());
    snprintf(ref, sizeof ref, "sag:%s-c", rc_nonce());
    Samspil__V1__Actor a;
    rc_actor_init(&a, SAMSPIL__V1__ACTOR_KIND__ACTOR_KIND_CITIZEN, name);
    if (!by_key)
        a.external_ref = ref;
    Samspil__V1__ActorCreate op = SAMSPIL__V1__ACTOR_CREATE__INIT;
    op.actor = &a;
    rc_req_t req = SAMSPIL__V1__REGISTRATION_REQUEST__INIT;
    req.tenant = T;
    if (by_key)
        req.idempotency_key = key;
    req.op_case = SAMSPIL__V1__REGISTRATION_REQUEST__OP_ACTOR_CREATE;
    req.actor_create = &op;

    int created = 0;
    int results = send_concurrent(&req, ids, &created);
    const char *what = by_key ? "idempotency key" : "external ref";
    snprintf(label, sizeof label, "50 concurrent actor creates (same %s) all succeed", what);
    ITEST_CHECKF(results == CONCURRENT, label, "%d of %d", results, CONCURRENT);
    snprintf(label, sizeof label, "50 concurrent actor creates (same %s) return one id", what);
    ITEST_CHECKF(all_same(ids), label, "first %s", ids[0]);
    snprintf(label, sizeof label, "50 concurrent actor creates (same %s): one says created", what);
    ITEST_CHECKF(created == 1, label, "%d said created", created);
    long long n = count_actors_named(name);
    snprintf(label, sizeof label, "50 concurrent actor creates (same %s) leave one row", what);
    ITEST_CHECKF(n == 1, label, "%lld rows", n);
}

static void test_partnership_idempotent(void)
{
    char name[96], key[96], ref[96], id1[64], id2[64];
    snprintf(name, sizeof name, "Idem Partnership %s", rc_nonce());
    snprintf(key, sizeof key, "idem-%s-p1", rc_nonce());
    Samspil__V1__Partnership p = SAMSPIL__V1__PARTNERSHIP__INIT;
    p.name = name;
    p.purpose = "idempotency";
    rc_reply_t *r = rc_partnership_create(client, T, key, &p);
    ITEST_CHECKF(rc_is(r, SAMSPIL__V1__REGISTRATION_REPLY__RESULT_PARTNERSHIP) && r->created,
                 "partnership create with an idempotency key", "%s", rc_describe(r));
    rc_id(r, id1, sizeof id1);
    rc_free(&r);
    r = rc_partnership_create(client, T, key, &p);
    rc_id(r, id2, sizeof id2);
    ITEST_CHECKF(id1[0] && strcmp(id1, id2) == 0 && !r->created,
                 "partnership create repeated returns the same id", "%s", rc_describe(r));
    rc_free(&r);
    long long n = count_partnerships_named(name);
    ITEST_CHECKF(n == 1, "partnership create repeated leaves one row", "%lld rows", n);

    p.purpose = "another purpose";
    r = rc_partnership_create(client, T, key, &p);
    ITEST_CHECKF(rc_is_error(r, SP_FAILED_PRECONDITION, "idempotency_key", NULL),
                 "partnership: same key with another payload is failed_precondition", "%s",
                 rc_describe(r));
    rc_free(&r);

    /* same external ref, no key */
    char name2[120];
    snprintf(name2, sizeof name2, "%s by ref", name);
    snprintf(ref, sizeof ref, "esdh:%s-p", rc_nonce());
    p.name = name2;
    p.purpose = "idempotency";
    p.external_ref = ref;
    r = rc_partnership_create(client, T, NULL, &p);
    rc_id(r, id1, sizeof id1);
    rc_free(&r);
    r = rc_partnership_create(client, T, NULL, &p);
    rc_id(r, id2, sizeof id2);
    rc_free(&r);
    n = count_partnerships_named(name2);
    ITEST_CHECKF(id1[0] && strcmp(id1, id2) == 0 && n == 1,
                 "partnership create with the same external ref returns the same id",
                 "%s vs %s, %lld rows", id1, id2, n);

    /* 50 in flight with one key */
    static char ids[CONCURRENT][64];
    memset(ids, 0, sizeof ids);
    char name3[120], key3[96];
    snprintf(name3, sizeof name3, "%s concurrent", name);
    snprintf(key3, sizeof key3, "idem-%s-pc", rc_nonce());
    Samspil__V1__Partnership q = SAMSPIL__V1__PARTNERSHIP__INIT;
    q.name = name3;
    q.purpose = "concurrency";
    Samspil__V1__PartnershipCreate op = SAMSPIL__V1__PARTNERSHIP_CREATE__INIT;
    op.partnership = &q;
    rc_req_t req = SAMSPIL__V1__REGISTRATION_REQUEST__INIT;
    req.tenant = T;
    req.idempotency_key = key3;
    req.op_case = SAMSPIL__V1__REGISTRATION_REQUEST__OP_PARTNERSHIP_CREATE;
    req.partnership_create = &op;
    int created = 0;
    int results = send_concurrent(&req, ids, &created);
    ITEST_CHECKF(results == CONCURRENT, "50 concurrent partnership creates all succeed", "%d of %d",
                 results, CONCURRENT);
    ITEST_CHECKF(all_same(ids), "50 concurrent partnership creates return one id", "first %s",
                 ids[0]);
    ITEST_CHECKF(created == 1, "50 concurrent partnership creates: one says created",
                 "%d said created", created);
    n = count_partnerships_named(name3);
    ITEST_CHECKF(n == 1, "50 concurrent partnership creates leave one row", "%lld rows", n);
}

int main(void)
{
    client = rc_client();
    db = rc_db_owner();
    ITEST_CHECK(rc_tenant_ensure(client, T, "Gentofte Kommune") == 0, "tenant 157 exists");
    test_actor_same_key();
    test_actor_same_external_ref();
    test_actor_concurrent(true);
    test_actor_concurrent(false);
    test_partnership_idempotent();
    PQfinish(db);
    sp_client_destroy(&client);
    return itest_done();
}
