/*
 * test_events.c - registration's transactional outbox end to end (issue 3
 * points 1 and 2), against the running suite: every kind of change writes
 * exactly its one event, an idempotent repeat writes none, the stored
 * events carry ids and non-sensitive facts only, the relay numbers them
 * without gaps and publishes them in order (a live SUB on events-out and
 * a replay through samspil.events.registration both see 1..N in order),
 * and row-level security keeps the outbox unreadable for the service role
 * unless it acts as the relay.
 *
 * Tenant 173.
 */
#include "ev_test.h"
#include "itest.h"
#include "sp_curve.h"
#include "sp_outbox.h"

#include <zmq.h>

#define T "173"
#define TENANT_NAME "Lyngby-Taarbaek Kommune"
#define WAIT_US (30 * 1000000LL)

#define OP(x) SAMSPIL__V1__REGISTRATION_REQUEST__OP_##x
#define RES(x) SAMSPIL__V1__REGISTRATION_REPLY__RESULT_##x

static sp_client_t *client;
static PGconn *db;
static long long base_id; /* outbox rows of earlier runs are not looked at */
static bool tenant_new;   /* this run created the tenant (else an earlier run did) */

static long long ev_count(PGconn *conn, const char *tenant, const char *type, const char *entity)
{
    return ev_count_after(conn, base_id, tenant, type, entity);
}

/* values that must never reach an event */
static char secret_names[4][96], secret_refs[4][96];
#define EMAIL "events-test@example.org"
#define PHONE "+4511223344"
#define POSTAL "Lundtoftevej 100, 2800 Kongens Lyngby"

static char org_id[64], pro_id[64], cit_id[64], up_id[64], part_id[64], member_id[64], rel_id[64],
    consent_id[64];

/* ---------------------------------------------------------------- changes */

/* Send `req`; it must succeed.  Then the tenant must hold exactly one more
 * outbox row, of `type`, about the entity the reply names (its id into
 * `id`, may be NULL).  With `repeat`, send it again: it must succeed and
 * add no row. */
static void change(const char *what, rc_req_t *req, const char *type, char *id, bool repeat)
{
    char name[160], eid[64];
    long long before = ev_count(db, T, NULL, NULL);
    rc_reply_t *r = rc_call(client, req);
    snprintf(name, sizeof name, "%s succeeds", what);
    ITEST_CHECKF(rc_code(r) == SP_OK, name, "%s", rc_describe(r));
    rc_id(r, eid, sizeof eid);
    if (id)
        snprintf(id, 64, "%s", eid);
    rc_free(&r);
    long long after = ev_count(db, T, NULL, NULL);
    long long mine = ev_count(db, T, type, eid);
    snprintf(name, sizeof name, "%s writes one %s event", what, type);
    ITEST_CHECKF(after == before + 1 && mine >= 1, name,
                 "rows before %lld after %lld, of this type about %s: %lld", before, after, eid,
                 mine);
    if (!repeat)
        return;
    r = rc_call(client, req);
    snprintf(name, sizeof name, "%s repeated succeeds", what);
    ITEST_CHECKF(rc_code(r) == SP_OK, name, "%s", rc_describe(r));
    rc_free(&r);
    long long again = ev_count(db, T, NULL, NULL);
    snprintf(name, sizeof name, "%s repeated writes no event", what);
    ITEST_CHECKF(again == after, name, "rows %lld, then %lld", after, again);
}

static rc_req_t req_of(int op)
{
    rc_req_t req = SAMSPIL__V1__REGISTRATION_REQUEST__INIT;
    req.tenant = (char *)T;
    req.op_case = op;
    return req;
}

static void changes(void)
{
    /* tenant */
    Samspil__V1__TenantCreate tc = SAMSPIL__V1__TENANT_CREATE__INIT;
    tc.code = (char *)T;
    tc.name = (char *)TENANT_NAME;
    rc_req_t req = SAMSPIL__V1__REGISTRATION_REQUEST__INIT;
    req.op_case = OP(TENANT_CREATE);
    req.tenant_create = &tc;
    rc_reply_t *r = rc_call(client, &req);
    tenant_new = r && r->created;
    ITEST_CHECKF(rc_code(r) == SP_OK, "tenant create", "%s", rc_describe(r));
    rc_free(&r);
    long long want = tenant_new ? 1 : 0;
    ITEST_CHECKF(ev_count(db, T, "tenant.created", T) == want,
                 "tenant create writes one event (none if it existed)", "created %d, events %lld",
                 tenant_new, ev_count(db, T, "tenant.created", T));
    r = rc_call(client, &req);
    rc_free(&r);
    ITEST_CHECK(ev_count(db, T, "tenant.created", T) == want, "tenant create repeated writes none");

    for (int i = 0; i < 4; i++) {
        snprintf(secret_names[i], sizeof secret_names[i], "Navn%d Efternavn %s", i, rc_nonce());
        snprintf(secret_refs[i], sizeof secret_refs[i], "sag:ev%d-%s", i, rc_nonce());
    }

    /* actors: organisation, professional with contacts, vulnerable citizen */
    Samspil__V1__Actor org;
    rc_actor_init(&org, SAMSPIL__V1__ACTOR_KIND__ACTOR_KIND_ORGANISATION, secret_names[0]);
    org.sector = SAMSPIL__V1__SECTOR__SECTOR_PUBLIC;
    org.external_ref = secret_refs[0];
    Samspil__V1__ActorCreate ac = SAMSPIL__V1__ACTOR_CREATE__INIT;
    ac.actor = &org;
    req = req_of(OP(ACTOR_CREATE));
    req.actor_create = &ac;
    req.idempotency_key = (char *)rc_key("ev-org");
    change("organisation create", &req, "actor.registered", org_id, true);

    Samspil__V1__Actor pro;
    rc_actor_init(&pro, SAMSPIL__V1__ACTOR_KIND__ACTOR_KIND_PROFESSIONAL, secret_names[1]);
    pro.organisation_id = org_id;
    Samspil__V1__ContactPoint email = SAMSPIL__V1__CONTACT_POINT__INIT;
    email.kind = SAMSPIL__V1__CONTACT_KIND__CONTACT_KIND_EMAIL;
    email.value = (char *)EMAIL;
    Samspil__V1__ContactPoint *pro_cps[] = {&email};
    pro.contact_points = pro_cps;
    pro.n_contact_points = 1;
    pro.external_ref = secret_refs[1];
    ac.actor = &pro;
    req.idempotency_key = (char *)rc_key("ev-pro");
    change("professional create", &req, "actor.registered", pro_id, true);

    Samspil__V1__Actor cit;
    rc_actor_init(&cit, SAMSPIL__V1__ACTOR_KIND__ACTOR_KIND_CITIZEN, secret_names[2]);
    Samspil__V1__ContactPoint phone = SAMSPIL__V1__CONTACT_POINT__INIT;
    phone.kind = SAMSPIL__V1__CONTACT_KIND__CONTACT_KIND_PHONE;
    phone.value = (char *)PHONE;
    Samspil__V1__ContactPoint postal = SAMSPIL__V1__CONTACT_POINT__INIT;
    postal.kind = SAMSPIL__V1__CONTACT_KIND__CONTACT_KIND_POSTAL;
    postal.value = (char *)POSTAL;
    postal.preferred = 1;
    Samspil__V1__ContactPoint *cit_cps[] = {&phone, &postal};
    cit.contact_points = cit_cps;
    cit.n_contact_points = 2;
    cit.vulnerable = 1;
    cit.external_ref = secret_refs[2];
    ac.actor = &cit;
    req.idempotency_key = (char *)rc_key("ev-cit");
    change("citizen create", &req, "actor.registered", cit_id, true);

    /* actor update: a new name; the same update again changes nothing */
    Samspil__V1__Actor upd;
    char newname[120];
    snprintf(newname, sizeof newname, "%s Nyt", secret_names[2]);
    rc_actor_init(&upd, SAMSPIL__V1__ACTOR_KIND__ACTOR_KIND_UNSPECIFIED, newname);
    upd.id = cit_id;
    char *mask[] = {"name"};
    Samspil__V1__ActorUpdate au = SAMSPIL__V1__ACTOR_UPDATE__INIT;
    au.actor = &upd;
    au.update_mask = mask;
    au.n_update_mask = 1;
    req = req_of(OP(ACTOR_UPDATE));
    req.actor_update = &au;
    change("actor update", &req, "actor.updated", NULL, true);

    /* upsert: creates, repeats, then changes */
    Samspil__V1__Actor ups;
    rc_actor_init(&ups, SAMSPIL__V1__ACTOR_KIND__ACTOR_KIND_CITIZEN, secret_names[3]);
    ups.external_ref = secret_refs[3];
    Samspil__V1__ActorUpsert uo = SAMSPIL__V1__ACTOR_UPSERT__INIT;
    uo.actor = &ups;
    req = req_of(OP(ACTOR_UPSERT));
    req.actor_upsert = &uo;
    change("upsert of a new ref", &req, "actor.registered", up_id, true);
    char *interests[] = {"skole"};
    ups.interests = interests;
    ups.n_interests = 1;
    change("upsert with new content", &req, "actor.updated", NULL, true);
    ITEST_CHECK(ev_count(db, T, "actor.updated", up_id) == 1,
                "upsert update event names the stored actor");

    /* partnership create and update */
    Samspil__V1__Partnership p = SAMSPIL__V1__PARTNERSHIP__INIT;
    p.name = (char *)"Partnerskab for events";
    p.purpose = (char *)"Fri tekst som aldrig maa sendes";
    Samspil__V1__PartnershipCreate pc = SAMSPIL__V1__PARTNERSHIP_CREATE__INIT;
    pc.partnership = &p;
    req = req_of(OP(PARTNERSHIP_CREATE));
    req.partnership_create = &pc;
    req.idempotency_key = (char *)rc_key("ev-part");
    change("partnership create", &req, "partnership.created", part_id, true);

    Samspil__V1__Partnership pu = SAMSPIL__V1__PARTNERSHIP__INIT;
    pu.id = part_id;
    pu.status = SAMSPIL__V1__PARTNERSHIP_STATUS__PARTNERSHIP_STATUS_ACTIVE;
    char *pmask[] = {"status"};
    Samspil__V1__PartnershipUpdate puo = SAMSPIL__V1__PARTNERSHIP_UPDATE__INIT;
    puo.partnership = &pu;
    puo.update_mask = pmask;
    puo.n_update_mask = 1;
    req = req_of(OP(PARTNERSHIP_UPDATE));
    req.partnership_update = &puo;
    change("partnership update", &req, "partnership.updated", NULL, true);

    /* membership add and end */
    Samspil__V1__MemberRole roles[] = {SAMSPIL__V1__MEMBER_ROLE__MEMBER_ROLE_RECIPIENT,
                                       SAMSPIL__V1__MEMBER_ROLE__MEMBER_ROLE_NEEDS_SUPPORT};
    Samspil__V1__Membership m = SAMSPIL__V1__MEMBERSHIP__INIT;
    m.partnership_id = part_id;
    m.actor_id = cit_id;
    m.roles = roles;
    m.n_roles = 2;
    m.knowledge_basis = SAMSPIL__V1__KNOWLEDGE_BASIS__KNOWLEDGE_BASIS_EXPERIENTIAL;
    Samspil__V1__MemberAdd ma = SAMSPIL__V1__MEMBER_ADD__INIT;
    ma.membership = &m;
    req = req_of(OP(MEMBER_ADD));
    req.member_add = &ma;
    req.idempotency_key = (char *)rc_key("ev-member");
    change("member add", &req, "membership.added", member_id, true);

    Samspil__V1__MemberEnd me = SAMSPIL__V1__MEMBER_END__INIT;
    me.id = member_id;
    req = req_of(OP(MEMBER_END));
    req.member_end = &me;
    change("member end", &req, "membership.ended", NULL, true);

    /* relation */
    Samspil__V1__Relation rel = SAMSPIL__V1__RELATION__INIT;
    rel.from_actor_id = pro_id;
    rel.to_actor_id = cit_id;
    rel.kind = SAMSPIL__V1__RELATION_KIND__RELATION_KIND_TRUSTS;
    rel.partnership_id = part_id;
    Samspil__V1__RelationAdd ra = SAMSPIL__V1__RELATION_ADD__INIT;
    ra.relation = &rel;
    req = req_of(OP(RELATION_ADD));
    req.relation_add = &ra;
    req.idempotency_key = (char *)rc_key("ev-rel");
    change("relation add", &req, "relation.added", rel_id, true);

    /* consent given and withdrawn */
    Samspil__V1__Consent c = SAMSPIL__V1__CONSENT__INIT;
    c.actor_id = cit_id;
    c.purpose = (char *)"contact";
    c.channel = SAMSPIL__V1__CONSENT_CHANNEL__CONSENT_CHANNEL_PAPER;
    c.text_version = (char *)"2026-01";
    Samspil__V1__ConsentRecord cr = SAMSPIL__V1__CONSENT_RECORD__INIT;
    cr.consent = &c;
    req = req_of(OP(CONSENT_RECORD));
    req.consent_record = &cr;
    req.idempotency_key = (char *)rc_key("ev-consent");
    change("consent record", &req, "consent.given", consent_id, true);

    Samspil__V1__ConsentWithdraw cw = SAMSPIL__V1__CONSENT_WITHDRAW__INIT;
    cw.id = consent_id;
    req = req_of(OP(CONSENT_WITHDRAW));
    req.consent_withdraw = &cw;
    change("consent withdraw", &req, "consent.withdrawn", NULL, true);

    /* reads write nothing */
    long long before = ev_count(db, T, NULL, NULL);
    r = rc_actor_get(client, T, cit_id, NULL);
    rc_free(&r);
    r = rc_actor_list(client, T, 0, NULL, 10, NULL);
    rc_free(&r);
    ITEST_CHECK(ev_count(db, T, NULL, NULL) == before, "reads write no event");
}

/* ---------------------------------------------------------------- payloads */

static bool no_unknown(const ProtobufCMessage *m)
{
    return !m || m->n_unknown_fields == 0;
}

/* Every stored event of the tenant decodes, matches its row, carries the
 * facts of its type and nothing sensitive. */
static void payloads(void)
{
    char after[32];
    snprintf(after, sizeof after, "%lld", base_id);
    const char *p[2] = {T, after};
    PGresult *res = rc_db_query(db, NULL,
                                "SELECT event_type, entity_id, payload FROM registration.outbox "
                                "WHERE tenant_id = $1 AND id > $2::bigint ORDER BY id",
                                2, p);
    int n = res ? PQntuples(res) : 0;
    int want = tenant_new ? 14 : 13;
    ITEST_CHECKF(n == want, "the changes wrote 14 events (13 without the tenant's)", "%d", n);
    int bad_decode = 0, bad_header = 0, bad_facts = 0, leaks = 0;
    char detail[256] = "";
    for (int i = 0; i < n; i++) {
        const char *type = PQgetvalue(res, i, 0), *entity = PQgetvalue(res, i, 1);
        size_t len = 0;
        uint8_t *bytes = ev_unhex(PQgetvalue(res, i, 2), &len);
        Samspil__V1__Event *e = bytes ? samspil__v1__event__unpack(NULL, len, bytes) : NULL;
        if (!e) {
            bad_decode++;
            free(bytes);
            continue;
        }
        const char *secrets[] = {secret_names[0], secret_names[1], secret_names[2], secret_names[3],
                                 secret_refs[0],  secret_refs[1],  secret_refs[2],  secret_refs[3],
                                 EMAIL,           PHONE,           POSTAL,          TENANT_NAME,
                                 "Partnerskab",   "Fri tekst",     "2026-01"};
        for (size_t k = 0; k < sizeof secrets / sizeof secrets[0]; k++)
            if (ev_contains(bytes, len, secrets[k])) {
                leaks++;
                snprintf(detail, sizeof detail, "%s carries a sensitive value", type);
            }
        if (strcmp(e->type, type) != 0 || strcmp(e->tenant, T) != 0 ||
            strcmp(e->entity_id, entity) != 0 || e->seq != 0 || *e->stream ||
            e->occurred_at_us < 1700000000000000LL || !no_unknown(&e->base))
            bad_header++;
        bool ok = false;
        if (!strcmp(type, "tenant.created"))
            ok = e->tenant_event && !strcmp(e->tenant_event->code, T);
        else if (!strcmp(type, "actor.registered") || !strcmp(type, "actor.updated")) {
            const Samspil__V1__ActorEvent *a = e->actor;
            ok = a && no_unknown(&a->base);
            if (ok && !strcmp(entity, org_id))
                ok = a->kind == SAMSPIL__V1__ACTOR_KIND__ACTOR_KIND_ORGANISATION &&
                     a->sector == SAMSPIL__V1__SECTOR__SECTOR_PUBLIC && !*a->organisation_id;
            else if (ok && !strcmp(entity, pro_id))
                ok = a->kind == SAMSPIL__V1__ACTOR_KIND__ACTOR_KIND_PROFESSIONAL &&
                     !strcmp(a->organisation_id, org_id) && a->sector == 0;
            else if (ok)
                ok = a->kind == SAMSPIL__V1__ACTOR_KIND__ACTOR_KIND_CITIZEN &&
                     !*a->organisation_id && a->sector == 0;
        } else if (!strcmp(type, "partnership.created"))
            ok = e->partnership && e->partnership->status ==
                                       SAMSPIL__V1__PARTNERSHIP_STATUS__PARTNERSHIP_STATUS_FORMING;
        else if (!strcmp(type, "partnership.updated"))
            ok = e->partnership && e->partnership->status ==
                                       SAMSPIL__V1__PARTNERSHIP_STATUS__PARTNERSHIP_STATUS_ACTIVE;
        else if (!strcmp(type, "membership.added") || !strcmp(type, "membership.ended")) {
            const Samspil__V1__MembershipEvent *m = e->membership;
            ok = m && no_unknown(&m->base) && !strcmp(m->partnership_id, part_id) &&
                 !strcmp(m->actor_id, cit_id) && m->n_roles == 2 &&
                 m->roles[0] == SAMSPIL__V1__MEMBER_ROLE__MEMBER_ROLE_RECIPIENT &&
                 m->roles[1] == SAMSPIL__V1__MEMBER_ROLE__MEMBER_ROLE_NEEDS_SUPPORT &&
                 m->knowledge_basis == SAMSPIL__V1__KNOWLEDGE_BASIS__KNOWLEDGE_BASIS_EXPERIENTIAL &&
                 m->actor_kind == SAMSPIL__V1__ACTOR_KIND__ACTOR_KIND_CITIZEN;
        } else if (!strcmp(type, "relation.added"))
            ok = e->relation && !strcmp(e->relation->from_actor_id, pro_id) &&
                 !strcmp(e->relation->to_actor_id, cit_id) &&
                 e->relation->kind == SAMSPIL__V1__RELATION_KIND__RELATION_KIND_TRUSTS &&
                 !strcmp(e->relation->partnership_id, part_id);
        else if (!strcmp(type, "consent.given") || !strcmp(type, "consent.withdrawn"))
            ok = e->consent && !strcmp(e->consent->actor_id, cit_id) &&
                 !strcmp(e->consent->purpose, "contact") && !strcmp(entity, consent_id);
        if (!ok) {
            bad_facts++;
            snprintf(detail, sizeof detail, "%s about %s has the wrong facts", type, entity);
        }
        samspil__v1__event__free_unpacked(e, NULL);
        free(bytes);
    }
    PQclear(res);
    ITEST_CHECKF(bad_decode == 0, "every stored payload is a samspil.v1.Event", "%d do not decode",
                 bad_decode);
    ITEST_CHECKF(bad_header == 0, "every event's type, tenant, entity and time match its row",
                 "%d differ", bad_header);
    ITEST_CHECKF(bad_facts == 0, "every event carries the facts of its type", "%d: %s", bad_facts,
                 detail);
    ITEST_CHECKF(leaks == 0, "no event carries a name, contact point, external ref or free text",
                 "%d: %s", leaks, detail);

    const char *types[][2] = {
        {"tenant.created", tenant_new ? "1" : "0"},
        {"actor.registered", "4"},
        {"actor.updated", "2"},
        {"partnership.created", "1"},
        {"partnership.updated", "1"},
        {"membership.added", "1"},
        {"membership.ended", "1"},
        {"relation.added", "1"},
        {"consent.given", "1"},
        {"consent.withdrawn", "1"},
    };
    for (size_t i = 0; i < sizeof types / sizeof types[0]; i++) {
        char name[96];
        snprintf(name, sizeof name, "%s events: %s", types[i][0], types[i][1]);
        long long got = ev_count(db, T, types[i][0], NULL);
        ITEST_CHECKF(got == atoll(types[i][1]), name, "%lld", got);
    }
}

/* ---------------------------------------------------------------- publishing */

typedef struct {
    uint64_t seq;
    char type[48];
    char tenant[8];
} seen_t;

#define MAX_SEEN 200000
static seen_t *seen;
static size_t nseen;
static uint64_t heads;

/* Read every message waiting on the SUB socket. */
static void drain(void *sub)
{
    for (;;) {
        zmq_msg_t topic, body;
        zmq_msg_init(&topic);
        if (zmq_msg_recv(&topic, sub, ZMQ_DONTWAIT) < 0) {
            zmq_msg_close(&topic);
            return;
        }
        zmq_msg_init(&body);
        int more = zmq_msg_more(&topic);
        if (more && zmq_msg_recv(&body, sub, 0) >= 0) {
            Samspil__V1__Event *e =
                samspil__v1__event__unpack(NULL, zmq_msg_size(&body), zmq_msg_data(&body));
            if (e && !strcmp(e->type, SP_EVENT_TYPE_HEAD))
                heads++;
            else if (e && nseen < MAX_SEEN) {
                seen[nseen].seq = e->seq;
                snprintf(seen[nseen].type, sizeof seen[nseen].type, "%s", e->type);
                snprintf(seen[nseen].tenant, sizeof seen[nseen].tenant, "%s", e->tenant);
                nseen++;
            }
            if (e)
                samspil__v1__event__free_unpacked(e, NULL);
        }
        zmq_msg_close(&body);
        zmq_msg_close(&topic);
    }
}

/* The seq of every event of the tenant, in id order, and their count. */
static long long tenant_seqs(uint64_t *out, long long cap)
{
    char after[32];
    snprintf(after, sizeof after, "%lld", base_id);
    const char *p[2] = {T, after};
    PGresult *res = rc_db_query(db, NULL,
                                "SELECT seq FROM registration.outbox WHERE tenant_id = $1 "
                                "AND seq IS NOT NULL AND id > $2::bigint ORDER BY seq",
                                2, p);
    long long n = res ? PQntuples(res) : 0;
    for (long long i = 0; i < n && i < cap; i++)
        out[i] = strtoull(PQgetvalue(res, (int)i, 0), NULL, 10);
    PQclear(res);
    return n;
}

static void publishing(void *sub)
{
    ev_stream_t s;
    bool done = ev_wait_published(db, WAIT_US, &s);
    ITEST_CHECKF(done, "the relay numbers and publishes every outbox row",
                 "rows %lld assigned %lld max %lld published %lld assigned_seq %lld", s.rows,
                 s.assigned, s.max_seq, s.published, s.assigned_seq);
    ITEST_CHECKF(s.max_seq == s.assigned && s.distinct == s.assigned, "sequence 1..N without gaps",
                 "assigned %lld, max seq %lld, distinct %lld", s.assigned, s.max_seq, s.distinct);

    /* the live stream: what arrived is in order, without gaps, and holds the
     * tenant's events */
    uint64_t mine[64];
    long long nmine = tenant_seqs(mine, 64);
    int64_t deadline = rc_now_us() + WAIT_US;
    bool have_all = false;
    while (!have_all && rc_now_us() < deadline) {
        drain(sub);
        have_all = nseen > 0 && seen[nseen - 1].seq >= (uint64_t)s.max_seq;
        if (!have_all)
            usleep(20 * 1000);
    }
    size_t disorder = 0;
    for (size_t i = 1; i < nseen; i++)
        disorder += seen[i].seq != seen[i - 1].seq + 1;
    ITEST_CHECKF(nseen > 0 && have_all, "a live subscriber receives the stream up to its head",
                 "received %zu, last %llu, head %lld", nseen,
                 nseen ? (unsigned long long)seen[nseen - 1].seq : 0ULL, s.max_seq);
    ITEST_CHECKF(disorder == 0, "the live stream is in seq order without gaps",
                 "%zu breaks in %zu events", disorder, nseen);
    long long found = 0;
    for (long long k = 0; k < nmine; k++)
        for (size_t i = 0; i < nseen; i++)
            if (seen[i].seq == mine[k] && !strcmp(seen[i].tenant, T)) {
                found++;
                break;
            }
    ITEST_CHECKF(nmine == (tenant_new ? 14 : 13) && found == nmine,
                 "every event of the tenant was published with its seq", "%lld of %lld", found,
                 nmine);

    /* replay from 1: the whole stream, in order, once each */
    uint64_t next = 1, last = 0;
    bool ordered = true, ok = true;
    long long events = 0;
    for (int round = 0; round < 1000 && ok; round++) {
        Samspil__V1__ReplayRequest rq = SAMSPIL__V1__REPLAY_REQUEST__INIT;
        rq.stream = (char *)"registration";
        rq.from_seq = next;
        rq.limit = 1000;
        ProtobufCMessage *msg = NULL;
        if (sp_client_call_pb(client, "samspil.events.registration", &rq.base,
                              &samspil__v1__replay_reply__descriptor, &msg) != 0) {
            ok = false;
            break;
        }
        Samspil__V1__ReplayReply *rr = (Samspil__V1__ReplayReply *)msg;
        if (rr->error && rr->error->code) {
            ok = false;
        } else {
            for (size_t i = 0; i < rr->n_events; i++) {
                if (rr->events[i]->seq != last + 1 || strcmp(rr->events[i]->stream, "registration"))
                    ordered = false;
                last = rr->events[i]->seq;
                events++;
            }
            bool end = rr->scanned_to >= rr->head_seq || rr->scanned_to < next;
            next = rr->scanned_to + 1;
            if (end) {
                protobuf_c_message_free_unpacked(msg, NULL);
                break;
            }
        }
        protobuf_c_message_free_unpacked(msg, NULL);
    }
    ITEST_CHECKF(ok && events == s.max_seq, "replay from 1 returns every event",
                 "ok %d, %lld events, head %lld", ok, events, s.max_seq);
    ITEST_CHECK(ordered, "replay returns events in seq order without gaps");
}

/* ---------------------------------------------------------------- row-level security */

static void rls(void)
{
    const char *owner = itest_env("SAMSPIL_OWNER_DB");
    PGconn *svc = rc_db_connect(owner, "samspil_registration");
    long long all = ev_db_int(db, "SELECT count(*) FROM registration.outbox", 0, NULL);
    long long none = rc_db_count(svc, "", "SELECT count(*) FROM registration.outbox", 0, NULL);
    ITEST_CHECKF(none == 0 && all > 0, "service role without samspil.relay reads no outbox row",
                 "sees %lld of %lld", none, all);
    long long as_tenant = rc_db_count(svc, T, "SELECT count(*) FROM registration.outbox", 0, NULL);
    ITEST_CHECKF(as_tenant == 0, "service role acting for a tenant reads no outbox row",
                 "sees %lld", as_tenant);
    PGresult *res = PQexec(svc, "UPDATE registration.outbox SET seq = seq");
    ITEST_CHECKF(PQresultStatus(res) == PGRES_COMMAND_OK && !strcmp(PQcmdTuples(res), "0"),
                 "service role without samspil.relay updates no outbox row", "%s %s",
                 PQresStatus(PQresultStatus(res)), PQcmdTuples(res));
    PQclear(res);
    res = PQexec(svc, "INSERT INTO registration.outbox (tenant_id, event_type, entity_id, "
                      "payload) VALUES ('101', 'x.y', 'z', '\\x')");
    const char *state = PQresultErrorField(res, PG_DIAG_SQLSTATE);
    ITEST_CHECKF(PQresultStatus(res) == PGRES_FATAL_ERROR && state && !strcmp(state, "42501"),
                 "service role cannot insert an event of another tenant", "%s",
                 state ? state : PQresStatus(PQresultStatus(res)));
    PQclear(res);
    ev_db_relay(svc);
    long long relay = rc_db_count(svc, "", "SELECT count(*) FROM registration.outbox", 0, NULL);
    ITEST_CHECKF(relay >= all && all > 0, "service role acting as the relay reads every row",
                 "sees %lld of %lld", relay, all);
    PQfinish(svc);
}

int main(void)
{
    const char *home = itest_env("SAMSPIL_HOME");
    client = rc_client();
    db = rc_db_owner();
    ev_db_relay(db);
    base_id = ev_last_id(db);
    seen = calloc(MAX_SEEN, sizeof *seen);

    /* a live subscriber from the start; wait for a stream head so we know
     * the subscription reached the relay's publisher */
    void *zctx = zmq_ctx_new();
    void *sub = zmq_socket(zctx, ZMQ_SUB);
    char out_ep[4200];
    const char *env_out = getenv("SAMSPIL_EVENTS_OUT");
    if (env_out && *env_out)
        snprintf(out_ep, sizeof out_ep, "%s", env_out);
    else
        sp_events_out_default(home, out_ep, sizeof out_ep);
    /* as the suite's operator (plain text only when the suite runs so) */
    sp_curve_client_t cert;
    if (sp_curve_client_load(home, NULL, SP_CURVE_OPERATOR_CERT, &cert) != 0 ||
        sp_curve_client_apply(&cert, sub) != 0) {
        fprintf(stderr, "itest: could not set up CURVE for the events subscriber\n");
        return 2;
    }
    int hwm = 0;
    zmq_setsockopt(sub, ZMQ_RCVHWM, &hwm, sizeof hwm);
    zmq_setsockopt(sub, ZMQ_SUBSCRIBE, "registration/", strlen("registration/"));
    zmq_connect(sub, out_ep);
    int64_t deadline = rc_now_us() + WAIT_US;
    while (heads == 0 && rc_now_us() < deadline) {
        drain(sub);
        usleep(20 * 1000);
    }
    ITEST_CHECKF(heads > 0, "a live subscriber receives stream heads", "none within %lld s",
                 (long long)(WAIT_US / 1000000));
    nseen = 0; /* what came before the first head may have missed its start */

    changes();
    payloads();
    publishing(sub);
    rls();

    zmq_close(sub);
    zmq_ctx_term(zctx);
    free(seen);
    PQfinish(db);
    sp_client_destroy(&client);
    return itest_done();
}
