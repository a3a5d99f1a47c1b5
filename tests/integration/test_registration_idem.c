/*
 * test_registration_idem.c - idempotent creates (issue 2 point 5): the same
 * create with the same idempotency key or external ref returns the same id
 * and leaves one row; the same key with another payload is refused; 50
 * identical creates in flight at once leave exactly one row; a burst that
 * mixes repeated keys, fresh keys and fresh keys sent twice, batched by the
 * workers into multi-row inserts, answers each request with its own key's
 * row; two clients creating the same external refs with keys in crossing
 * orders get one row per ref and cause no deadlock between batches.  Rows
 * are counted behind the service with the owner connection.
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

/* ------------------------------------------------------------ batched burst
 *
 * Regression test for the workers' batching (registration_handlers.c,
 * registration_store_prepare_batch): a worker runs one transaction per
 * database connection (one by default) and, while it runs, the requests of
 * one tenant that arrive wait and then go together as one transaction whose
 * actor creates are a single multi-row INSERT ... ON CONFLICT DO NOTHING.
 * Members that met an existing key are then re-run alone to read the row
 * holding it.  A bug once gave such a member another member's id (when the
 * insert returned one row, every member took it).
 *
 * With BURST requests in flight, each of the two workers holds its credit
 * (16) at once: the first request runs alone and the rest wait, so the
 * next transaction is a batch of up to 15 that mixes (i) repeats of keys
 * created before the burst, (ii) fresh keys and (iii) a fresh key sent
 * twice.  The broker deals requests out alternately to the two workers, so
 * a pair at adjacent slots goes to different workers (the key races across
 * transactions) and a pair two slots apart usually to the same one (the
 * key is twice in one multi-row insert).  Rounds alternate between many
 * fresh keys and almost none (see b_plan).  The rows one transaction
 * inserted share their xmin, which shows the burst was really batched. */

#define BURST 64
#define BURST_ROUNDS 6
#define BURST_OLD 16 /* keys created before the bursts */
#define BURST_KEY 80

typedef enum { B_OLD, B_FRESH, B_PAIR } b_kind_t;

typedef struct {
    char key[BURST_KEY];
    b_kind_t kind;
    bool answered, ok, created;
    char id[64];
    char detail[160];
} b_req_t;

static char b_prefix[64]; /* names of this test's actors start with it */
static char b_old_keys[BURST_OLD][BURST_KEY];
static char b_old_ids[BURST_OLD][64];

/* One citizen per key; the name follows from the key, so a repeated key
 * repeats the same request (same hash). */
static void b_request(const char *key, uint64_t correlation_id, char *name, size_t namelen)
{
    snprintf(name, namelen, "%.63s %.79s", b_prefix, key);
    Samspil__V1__Actor a;
    rc_actor_init(&a, SAMSPIL__V1__ACTOR_KIND__ACTOR_KIND_CITIZEN, name);
    char *interests[] = {"burst"};
    a.n_interests = 1;
    a.interests = interests;
    Samspil__V1__ActorCreate op = SAMSPIL__V1__ACTOR_CREATE__INIT;
    op.actor = &a;
    rc_req_t req = SAMSPIL__V1__REGISTRATION_REQUEST__INIT;
    req.correlation_id = correlation_id;
    req.tenant = T;
    req.idempotency_key = (char *)key;
    req.op_case = SAMSPIL__V1__REGISTRATION_REQUEST__OP_ACTOR_CREATE;
    req.actor_create = &op;
    if (rc_send(client, &req) != 0)
        fprintf(stderr, "itest: burst send %llu failed\n", (unsigned long long)correlation_id);
}

/* The two pairs of slots sharing a fresh key in round `round`. */
static void b_pairs(int round, int pairs[2][2])
{
    static const int mixed[2][2] = {{1, 2}, {34, 36}}, sparse[2][2] = {{10, 12}, {43, 45}};
    memcpy(pairs, round % 2 ? sparse : mixed, sizeof mixed);
}

/* What slot `slot` of round `round` sends.  Even rounds are mixed: 20
 * repeats of old keys, two pairs sharing a fresh key (adjacent slots 1+2,
 * and 34+36 two apart) and 40 fresh keys.  Odd rounds are sparse: two pairs
 * two slots apart, two fresh keys, and 58 repeats, so most batches insert
 * exactly one row while every other member meets an existing key (the case
 * the bug got wrong). */
static void b_plan(int round, int slot, b_req_t *r)
{
    int pairs[2][2];
    b_pairs(round, pairs);
    for (int p = 0; p < 2; p++) {
        if (slot == pairs[p][0] || slot == pairs[p][1]) {
            r->kind = B_PAIR;
            snprintf(r->key, sizeof r->key, "burst-%s-r%d-pair%d", rc_nonce(), round, p);
            return;
        }
    }
    bool fresh = round % 2 ? slot == 21 || slot == 50 : !(slot % 16 % 3 == 0 && slot % 16 <= 12);
    if (fresh) {
        r->kind = B_FRESH;
        snprintf(r->key, sizeof r->key, "burst-%s-r%d-s%d", rc_nonce(), round, slot);
    } else {
        r->kind = B_OLD;
        snprintf(r->key, sizeof r->key, "%s", b_old_keys[(round * 7 + slot) % BURST_OLD]);
    }
}

/* Send one round of BURST requests at once and collect every reply. */
static void b_round(int round, b_req_t *reqs)
{
    char name[160];
    for (int slot = 0; slot < BURST; slot++) {
        b_plan(round, slot, &reqs[slot]);
        b_request(reqs[slot].key, (uint64_t)(round * 1000 + slot + 1), name, sizeof name);
    }
    int replies = 0;
    int64_t deadline = rc_now_us() + 120 * 1000000LL;
    while (replies < BURST && rc_now_us() < deadline) {
        rc_reply_t *r = rc_recv(client, 1000);
        if (!r)
            continue;
        long long slot = (long long)r->correlation_id - round * 1000 - 1;
        if (slot >= 0 && slot < BURST && !reqs[slot].answered) {
            b_req_t *q = &reqs[slot];
            q->answered = true;
            replies++;
            q->ok = rc_is(r, SAMSPIL__V1__REGISTRATION_REPLY__RESULT_ACTOR);
            q->created = q->ok && r->created;
            rc_id(r, q->id, sizeof q->id);
            snprintf(q->detail, sizeof q->detail, "%.150s", rc_describe(r));
        }
        rc_free(&r);
    }
}

/* The stored id of `key` from the rows read behind the service, or NULL. */
static const char *b_stored(PGresult *rows, const char *key, int *nrows)
{
    const char *id = NULL;
    *nrows = 0;
    for (int i = 0; rows && i < PQntuples(rows); i++) {
        if (strcmp(PQgetvalue(rows, i, 0), key) == 0) {
            id = PQgetvalue(rows, i, 1);
            (*nrows)++;
        }
    }
    return id;
}

static void test_batched_burst(void)
{
    snprintf(b_prefix, sizeof b_prefix, "Burst %s", rc_nonce());
    char name[160];

    /* (i) keys that exist before the bursts */
    int made = 0;
    for (int k = 0; k < BURST_OLD; k++) {
        snprintf(b_old_keys[k], sizeof b_old_keys[k], "burst-%s-old%02d", rc_nonce(), k);
        snprintf(name, sizeof name, "%.63s %.79s", b_prefix, b_old_keys[k]);
        Samspil__V1__Actor a;
        rc_actor_init(&a, SAMSPIL__V1__ACTOR_KIND__ACTOR_KIND_CITIZEN, name);
        char *interests[] = {"burst"};
        a.n_interests = 1;
        a.interests = interests;
        rc_reply_t *r = rc_actor_create(client, T, b_old_keys[k], &a);
        if (rc_is(r, SAMSPIL__V1__REGISTRATION_REPLY__RESULT_ACTOR) && r->created)
            made++;
        else
            fprintf(stderr, "itest: burst setup %d: %s\n", k, rc_describe(r));
        rc_id(r, b_old_ids[k], sizeof b_old_ids[k]);
        rc_free(&r);
    }
    ITEST_CHECKF(made == BURST_OLD, "burst: keys created before the bursts", "%d of %d", made,
                 BURST_OLD);

    static b_req_t reqs[BURST_ROUNDS][BURST];
    memset(reqs, 0, sizeof reqs);
    for (int round = 0; round < BURST_ROUNDS; round++)
        b_round(round, reqs[round]);

    /* every key's rows, behind the service */
    char like[80];
    snprintf(like, sizeof like, "%s %%", b_prefix);
    const char *params[] = {like};
    PGresult *rows = rc_db_query(
        db, T, "SELECT idempotency_key, id::text FROM registration.actors WHERE name LIKE $1", 1,
        params);
    ITEST_CHECK(rows != NULL, "burst: stored rows read with the owner connection");

    int answered = 0, ok = 0, total = BURST_ROUNDS * BURST;
    int wrong_id = 0, wrong_created = 0, old_moved = 0, not_one_row = 0, new_keys = 0;
    char first_bad[400] = "";
    for (int round = 0; round < BURST_ROUNDS; round++) {
        for (int slot = 0; slot < BURST; slot++) {
            b_req_t *q = &reqs[round][slot];
            answered += q->answered;
            new_keys += q->kind == B_FRESH;
            if (!q->ok) {
                if (!first_bad[0])
                    snprintf(first_bad, sizeof first_bad, "round %d slot %d: %s", round, slot,
                             q->answered ? q->detail : "no reply");
                continue;
            }
            ok++;
            int n = 0;
            const char *stored = b_stored(rows, q->key, &n);
            if (n != 1)
                not_one_row++;
            if (!stored || strcmp(stored, q->id) != 0) {
                wrong_id++;
                if (!first_bad[0])
                    snprintf(first_bad, sizeof first_bad,
                             "round %d slot %d key %s: reply id %s, stored %s", round, slot, q->key,
                             q->id, stored ? stored : "(none)");
            }
            if (q->kind == B_OLD) {
                for (int k = 0; k < BURST_OLD; k++)
                    if (strcmp(q->key, b_old_keys[k]) == 0 && strcmp(q->id, b_old_ids[k]) != 0)
                        old_moved++;
            }
            /* created: never for a repeat, always for a fresh key; a pair is
             * checked below */
            if ((q->kind == B_OLD && q->created) || (q->kind == B_FRESH && !q->created))
                wrong_created++;
        }
        /* each pair: exactly one of its two requests created the row */
        int pairs[2][2];
        b_pairs(round, pairs);
        for (int p = 0; p < 2; p++) {
            b_req_t *a = &reqs[round][pairs[p][0]], *b = &reqs[round][pairs[p][1]];
            if (a->ok && b->ok && (a->created + b->created != 1 || strcmp(a->id, b->id) != 0)) {
                wrong_created++;
                if (!first_bad[0])
                    snprintf(first_bad, sizeof first_bad,
                             "round %d pair %d: created %d/%d, ids %s / %s", round, p, a->created,
                             b->created, a->id, b->id);
            }
        }
    }
    ITEST_CHECKF(answered == total && ok == total, "burst: every request answered with an actor",
                 "%d answered, %d ok of %d; %s", answered, ok, total, first_bad);
    ITEST_CHECKF(wrong_id == 0 && not_one_row == 0 && old_moved == 0,
                 "burst: every reply carries the stored id of its own key",
                 "%d wrong ids, %d keys without exactly one row, %d old keys answered with "
                 "another id; %s",
                 wrong_id, not_one_row, old_moved, first_bad);
    ITEST_CHECKF(wrong_created == 0,
                 "burst: created only for the first request of each key (repeats and the second "
                 "of a pair say false)",
                 "%d wrong; %s", wrong_created, first_bad);

    /* exact row counts: one per key, no more */
    long long want = BURST_OLD + new_keys + 2 * BURST_ROUNDS; /* + the pairs' keys */
    long long n = rows ? PQntuples(rows) : -1;
    long long keys = rc_db_count(db, T,
                                 "SELECT count(DISTINCT idempotency_key) FROM registration.actors "
                                 "WHERE name LIKE $1",
                                 1, params);
    ITEST_CHECKF(n == want && keys == want, "burst: exactly one row per key",
                 "%lld rows, %lld keys, want %lld", n, keys, want);
    PQclear(rows);

    /* the bursts were batched: some transaction inserted several rows */
    long long batched = rc_db_count(db, T,
                                    "SELECT count(*) FROM (SELECT xmin::text FROM "
                                    "registration.actors WHERE name LIKE $1 GROUP BY 1 "
                                    "HAVING count(*) > 1) AS b",
                                    1, params);
    ITEST_CHECKF(batched > 0, "burst: workers batched creates into multi-row inserts",
                 "%lld transactions inserted more than one row", batched);
}

/* ------------------------------------------------------------ crossing batches
 *
 * Regression test for the order of rows in a batch's multi-row insert
 * (registration_store.c, s_ref_key_order): two clients create the same
 * external refs at once, each with keys of its own, whose order runs
 * against the refs' order for one client and with it for the other.  The
 * workers batch both streams; when the rows were sorted by key the two
 * batches took the ref index in opposite orders and deadlocked (PostgreSQL
 * breaks that after deadlock_timeout; the members then ran alone, so the
 * replies were right but late).  Checked: every ref has one row and both
 * of its creates answer its id, exactly one with created; and the
 * database counted no deadlock meanwhile. */

#define CROSS 48
#define CROSS_ROUNDS 10

static long long deadlocks(void)
{
    return rc_db_count(db, NULL,
                       "SELECT deadlocks FROM pg_stat_database WHERE datname = current_database()",
                       0, NULL);
}

static void test_crossing_batches(void)
{
    sp_client_t *other = rc_client();
    sp_client_t *clients[2] = {client, other};
    long long deadlocks_before = deadlocks();
    static char names[CROSS][96], refs[CROSS][96], keys[2][CROSS][96], ids[2][CROSS][64];
    static bool created[2][CROSS];
    int answered = 0, ok = 0, same_id = 0, one_created = 0, total = 2 * CROSS * CROSS_ROUNDS;
    char first_bad[300] = "";
    char prefix[64];
    snprintf(prefix, sizeof prefix, "Cross %s", rc_nonce());
    for (int round = 0; round < CROSS_ROUNDS; round++) {
        memset(ids, 0, sizeof ids);
        memset(created, 0, sizeof created);
        for (int i = 0; i < CROSS; i++) {
            snprintf(names[i], sizeof names[i], "%s %d %02d", prefix, round, i);
            snprintf(refs[i], sizeof refs[i], "cross:%s-%d-%02d", rc_nonce(), round, i);
            /* client 0's keys sort against the refs, client 1's with them */
            snprintf(keys[0][i], sizeof keys[0][i], "cross-a-%s-%d-%02d", rc_nonce(), round,
                     CROSS - 1 - i);
            snprintf(keys[1][i], sizeof keys[1][i], "cross-b-%s-%d-%02d", rc_nonce(), round, i);
        }
        for (int i = 0; i < CROSS; i++) {
            for (int c = 0; c < 2; c++) {
                Samspil__V1__Actor a;
                rc_actor_init(&a, SAMSPIL__V1__ACTOR_KIND__ACTOR_KIND_CITIZEN, names[i]);
                a.external_ref = refs[i];
                Samspil__V1__ActorCreate op = SAMSPIL__V1__ACTOR_CREATE__INIT;
                op.actor = &a;
                rc_req_t req = SAMSPIL__V1__REGISTRATION_REQUEST__INIT;
                req.tenant = T;
                req.idempotency_key = keys[c][i];
                req.correlation_id = (uint64_t)i + 1;
                req.op_case = SAMSPIL__V1__REGISTRATION_REQUEST__OP_ACTOR_CREATE;
                req.actor_create = &op;
                if (rc_send(clients[c], &req) != 0)
                    fprintf(stderr, "itest: cross send %d/%d failed\n", c, i);
            }
        }
        for (int c = 0; c < 2; c++) {
            int64_t deadline = rc_now_us() + 60 * 1000000LL;
            for (int got = 0; got < CROSS && rc_now_us() < deadline;) {
                rc_reply_t *r = rc_recv(clients[c], 1000);
                if (!r)
                    continue;
                uint64_t i = r->correlation_id - 1;
                if (i < CROSS && !ids[c][i][0]) {
                    got++;
                    answered++;
                    if (rc_is(r, SAMSPIL__V1__REGISTRATION_REPLY__RESULT_ACTOR)) {
                        ok++;
                        created[c][i] = r->created;
                        rc_id(r, ids[c][i], sizeof ids[c][i]);
                    } else {
                        snprintf(ids[c][i], sizeof ids[c][i], "-");
                        if (!first_bad[0])
                            snprintf(first_bad, sizeof first_bad, "client %d ref %d: %.200s", c,
                                     (int)i, rc_describe(r));
                    }
                }
                rc_free(&r);
            }
        }
        for (int i = 0; i < CROSS; i++) {
            same_id += ids[0][i][0] && ids[0][i][0] != '-' && strcmp(ids[0][i], ids[1][i]) == 0;
            one_created += created[0][i] + created[1][i] == 1;
        }
    }
    ITEST_CHECKF(answered == total && ok == total,
                 "crossing batches: every create answered with an actor",
                 "%d answered, %d ok of %d; %s", answered, ok, total, first_bad);
    ITEST_CHECKF(same_id == CROSS * CROSS_ROUNDS && one_created == CROSS * CROSS_ROUNDS,
                 "crossing batches: both creates of a ref answer its one id, one says created",
                 "%d same ids, %d created once, of %d refs", same_id, one_created,
                 CROSS * CROSS_ROUNDS);
    char like[80];
    snprintf(like, sizeof like, "%s %%", prefix);
    const char *params[] = {like};
    long long rows = rc_db_count(
        db, T, "SELECT count(*) FROM registration.actors WHERE name LIKE $1", 1, params);
    ITEST_CHECKF(rows == CROSS * CROSS_ROUNDS, "crossing batches: one row per external ref",
                 "%lld rows for %d refs", rows, CROSS * CROSS_ROUNDS);
    long long batched = rc_db_count(db, T,
                                    "SELECT count(*) FROM (SELECT xmin::text FROM "
                                    "registration.actors WHERE name LIKE $1 GROUP BY 1 "
                                    "HAVING count(*) > 1) AS b",
                                    1, params);
    ITEST_CHECKF(batched > 0, "crossing batches: the creates were batched",
                 "%lld transactions inserted more than one row", batched);
    /* a backend reports its statistics at most once a second */
    usleep(1200 * 1000);
    long long deadlocks_after = deadlocks();
    ITEST_CHECKF(deadlocks_before >= 0 && deadlocks_after == deadlocks_before,
                 "crossing batches: no deadlock between batches",
                 "pg_stat_database.deadlocks %lld -> %lld", deadlocks_before, deadlocks_after);
    sp_client_destroy(&other);
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
    test_batched_burst();
    test_crossing_batches();
    PQfinish(db);
    sp_client_destroy(&client);
    return itest_done();
}
