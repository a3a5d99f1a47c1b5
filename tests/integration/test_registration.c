/*
 * test_registration.c - create, read, list, update and upsert through the
 * real broker and registration workers: tenants, partnerships, actors of
 * every kind, memberships, relations and consent (issue 2 point 4).
 *
 * Tenants 751 and 101.  Names, refs and tags carry a per-run nonce so the
 * test can run again against the same suite.
 */
#include "itest.h"
#include "reg_client.h"

#define T "751"

static sp_client_t *client;

/* ---------------------------------------------------------------- id sets */

typedef struct {
    char ids[512][64];
    size_t count;
    int pages;
    int failed; /* a page request failed */
} idset_t;

static void idset_add(idset_t *set, const char *id)
{
    if (set->count < sizeof set->ids / sizeof set->ids[0])
        snprintf(set->ids[set->count++], sizeof set->ids[0], "%s", id ? id : "");
}

static int idset_occurrences(const idset_t *set, const char *id)
{
    int n = 0;
    for (size_t i = 0; i < set->count; i++)
        n += strcmp(set->ids[i], id) == 0;
    return n;
}

/* True if no id appears twice. */
static bool idset_unique(const idset_t *set)
{
    for (size_t i = 0; i < set->count; i++)
        for (size_t j = i + 1; j < set->count; j++)
            if (strcmp(set->ids[i], set->ids[j]) == 0)
                return false;
    return true;
}

static bool strv_has(char **v, size_t n, const char *s)
{
    for (size_t i = 0; i < n; i++)
        if (v[i] && strcmp(v[i], s) == 0)
            return true;
    return false;
}

static bool str_eq(const char *a, const char *b)
{
    return strcmp(a ? a : "", b ? b : "") == 0;
}

/* ---------------------------------------------------------------- tenants */

static void test_tenants(void)
{
    rc_reply_t *r = rc_tenant_create(client, T, "Aarhus Kommune");
    ITEST_CHECKF(rc_is(r, SAMSPIL__V1__REGISTRATION_REPLY__RESULT_TENANT) ||
                     rc_code(r) == SP_ALREADY_EXISTS,
                 "tenant create 751", "%s", rc_describe(r));
    if (rc_code(r) == SP_OK)
        ITEST_CHECKF(str_eq(r->tenant->code, T) && str_eq(r->tenant->name, "Aarhus Kommune") &&
                         r->tenant->created_at && *r->tenant->created_at,
                     "tenant create 751 returns the tenant", "code=%s", r->tenant->code);
    rc_free(&r);
    ITEST_CHECK(rc_tenant_ensure(client, "101", "Københavns Kommune") == 0, "tenant create 101");

    Samspil__V1__TenantGet get = SAMSPIL__V1__TENANT_GET__INIT;
    get.code = T;
    rc_req_t req = SAMSPIL__V1__REGISTRATION_REQUEST__INIT;
    req.op_case = SAMSPIL__V1__REGISTRATION_REQUEST__OP_TENANT_GET;
    req.tenant_get = &get;
    r = rc_call(client, &req);
    ITEST_CHECKF(rc_is(r, SAMSPIL__V1__REGISTRATION_REPLY__RESULT_TENANT) &&
                     str_eq(r->tenant->code, T) && str_eq(r->tenant->name, "Aarhus Kommune"),
                 "tenant get 751", "%s", rc_describe(r));
    rc_free(&r);

    /* list with limit 1: every tenant once, over several pages */
    static idset_t set;
    memset(&set, 0, sizeof set);
    char cursor[256] = "";
    for (int guard = 0; guard < 200; guard++) {
        Samspil__V1__PageRequest page = SAMSPIL__V1__PAGE_REQUEST__INIT;
        page.limit = 1;
        page.cursor = cursor;
        Samspil__V1__TenantList list = SAMSPIL__V1__TENANT_LIST__INIT;
        list.page = &page;
        rc_req_t lreq = SAMSPIL__V1__REGISTRATION_REQUEST__INIT;
        lreq.op_case = SAMSPIL__V1__REGISTRATION_REQUEST__OP_TENANT_LIST;
        lreq.tenant_list = &list;
        r = rc_call(client, &lreq);
        if (!rc_is(r, SAMSPIL__V1__REGISTRATION_REPLY__RESULT_TENANTS)) {
            itest_check(0, "tenant list page", "%s", rc_describe(r));
            set.failed = 1;
            rc_free(&r);
            break;
        }
        set.pages++;
        for (size_t i = 0; i < r->tenants->n_items; i++)
            idset_add(&set, r->tenants->items[i]->code);
        snprintf(cursor, sizeof cursor, "%s", r->tenants->next ? r->tenants->next : "");
        bool more = r->tenants->n_items > 0 && cursor[0];
        if (r->tenants->n_items > 1)
            set.failed = 1;
        rc_free(&r);
        if (!more)
            break;
    }
    ITEST_CHECKF(!set.failed && idset_occurrences(&set, T) == 1 &&
                     idset_occurrences(&set, "101") == 1 && idset_unique(&set) && set.pages >= 2,
                 "tenant list with limit 1 shows 751 and 101 exactly once over pages",
                 "pages=%d items=%zu failed=%d", set.pages, set.count, set.failed);
}

/* ---------------------------------------------------------------- actors */

static char org_id[64], pro_id[64], cit_id[64], upsert_id[64];
static char tag[64];

static void check_actor_fields(const Samspil__V1__Actor *got, const Samspil__V1__Actor *want,
                               const char *name)
{
    bool ok = got && got->kind == want->kind && str_eq(got->name, want->name) &&
              got->sector == want->sector && str_eq(got->organisation_id, want->organisation_id) &&
              str_eq(got->preferred_language, want->preferred_language) &&
              got->vulnerable == want->vulnerable &&
              str_eq(got->external_ref, want->external_ref) &&
              got->n_interests == want->n_interests &&
              got->n_accessibility_needs == want->n_accessibility_needs &&
              got->n_contact_points == want->n_contact_points && got->created_at &&
              *got->created_at && got->id && *got->id;
    for (size_t i = 0; ok && i < want->n_interests; i++)
        ok = strv_has(got->interests, got->n_interests, want->interests[i]);
    for (size_t i = 0; ok && i < want->n_accessibility_needs; i++)
        ok = strv_has(got->accessibility_needs, got->n_accessibility_needs,
                      want->accessibility_needs[i]);
    for (size_t i = 0; ok && i < want->n_contact_points; i++) {
        bool found = false;
        for (size_t j = 0; j < got->n_contact_points; j++)
            if (got->contact_points[j]->kind == want->contact_points[i]->kind &&
                str_eq(got->contact_points[j]->value, want->contact_points[i]->value) &&
                got->contact_points[j]->preferred == want->contact_points[i]->preferred)
                found = true;
        ok = found;
    }
    itest_check(ok, name,
                "fields differ (kind %d/%d, name match %d, interests %zu/%zu, contacts %zu/%zu)",
                got ? (int)got->kind : -1, (int)want->kind, got ? str_eq(got->name, want->name) : 0,
                got ? got->n_interests : 0, want->n_interests, got ? got->n_contact_points : 0,
                want->n_contact_points);
}

/* Create `actor`, check the reply and a get by id against it, keep its id. */
static void create_and_get(Samspil__V1__Actor *actor, const char *what, char *id_out)
{
    char name[128], key[128];
    snprintf(key, sizeof key, "crud-%s-%s", rc_nonce(), what);
    rc_reply_t *r = rc_actor_create(client, T, key, actor);
    snprintf(name, sizeof name, "actor create %s", what);
    ITEST_CHECKF(rc_is(r, SAMSPIL__V1__REGISTRATION_REPLY__RESULT_ACTOR) && r->created, name, "%s",
                 rc_describe(r));
    rc_id(r, id_out, 64);
    if (rc_code(r) == SP_OK) {
        snprintf(name, sizeof name, "actor create %s returns every field", what);
        check_actor_fields(r->actor, actor, name);
    }
    rc_free(&r);

    r = rc_actor_get(client, T, id_out, NULL);
    snprintf(name, sizeof name, "actor get %s by id", what);
    ITEST_CHECKF(rc_is(r, SAMSPIL__V1__REGISTRATION_REPLY__RESULT_ACTOR) &&
                     str_eq(r->actor->id, id_out),
                 name, "%s", rc_describe(r));
    if (rc_code(r) == SP_OK) {
        snprintf(name, sizeof name, "actor get %s has every field", what);
        check_actor_fields(r->actor, actor, name);
    }
    rc_free(&r);
}

/* Page through actors (kind/interest filter) with `limit`, collecting ids. */
static void list_actors(idset_t *set, Samspil__V1__ActorKind kind, const char *interest,
                        unsigned limit, bool *kinds_ok)
{
    memset(set, 0, sizeof *set);
    *kinds_ok = true;
    char cursor[256] = "";
    for (int guard = 0; guard < 400; guard++) {
        rc_reply_t *r = rc_actor_list(client, T, kind, interest, limit, cursor);
        if (!rc_is(r, SAMSPIL__V1__REGISTRATION_REPLY__RESULT_ACTORS)) {
            itest_check(0, "actor list page", "%s", rc_describe(r));
            set->failed = 1;
            rc_free(&r);
            return;
        }
        set->pages++;
        if (limit && r->actors->n_items > limit)
            *kinds_ok = false;
        for (size_t i = 0; i < r->actors->n_items; i++) {
            const Samspil__V1__Actor *a = r->actors->items[i];
            idset_add(set, a->id);
            if (kind && a->kind != kind)
                *kinds_ok = false;
            if (interest && !strv_has(a->interests, a->n_interests, interest))
                *kinds_ok = false;
        }
        snprintf(cursor, sizeof cursor, "%s", r->actors->next ? r->actors->next : "");
        bool more = r->actors->n_items > 0 && cursor[0];
        rc_free(&r);
        if (!more)
            return;
    }
}

static void test_actors(void)
{
    snprintf(tag, sizeof tag, "tag%s", rc_nonce());
    char ref[3][96], nm[3][96];

    /* organisation */
    Samspil__V1__Actor org;
    snprintf(nm[0], sizeof nm[0], "Boligforeningen Gellerup %s", rc_nonce());
    rc_actor_init(&org, SAMSPIL__V1__ACTOR_KIND__ACTOR_KIND_ORGANISATION, nm[0]);
    org.sector = SAMSPIL__V1__SECTOR__SECTOR_CIVIL_SOCIETY;
    char *org_interests[] = {"boligomraade", tag};
    org.n_interests = 2;
    org.interests = org_interests;
    org.preferred_language = "da";
    snprintf(ref[0], sizeof ref[0], "cvr:%s-org", rc_nonce());
    org.external_ref = ref[0];
    create_and_get(&org, "organisation", org_id);

    /* professional working for the organisation */
    Samspil__V1__Actor pro;
    snprintf(nm[1], sizeof nm[1], "Karen Sørensen %s", rc_nonce());
    rc_actor_init(&pro, SAMSPIL__V1__ACTOR_KIND__ACTOR_KIND_PROFESSIONAL, nm[1]);
    pro.organisation_id = org_id;
    char *pro_interests[] = {tag, "skole"};
    pro.n_interests = 2;
    pro.interests = pro_interests;
    pro.preferred_language = "en";
    char *pro_needs[] = {"interpreter"};
    pro.n_accessibility_needs = 1;
    pro.accessibility_needs = pro_needs;
    Samspil__V1__ContactPoint email = SAMSPIL__V1__CONTACT_POINT__INIT;
    email.kind = SAMSPIL__V1__CONTACT_KIND__CONTACT_KIND_EMAIL;
    email.value = "karen@example.org";
    Samspil__V1__ContactPoint phone = SAMSPIL__V1__CONTACT_POINT__INIT;
    phone.kind = SAMSPIL__V1__CONTACT_KIND__CONTACT_KIND_PHONE;
    phone.value = "+4587654321";
    phone.preferred = 1;
    Samspil__V1__ContactPoint *pro_contacts[] = {&email, &phone};
    pro.n_contact_points = 2;
    pro.contact_points = pro_contacts;
    snprintf(ref[1], sizeof ref[1], "hr:%s-pro", rc_nonce());
    pro.external_ref = ref[1];
    create_and_get(&pro, "professional", pro_id);

    /* vulnerable citizen, easy-read Danish */
    Samspil__V1__Actor cit;
    snprintf(nm[2], sizeof nm[2], "Åse Ørnbøl %s", rc_nonce());
    rc_actor_init(&cit, SAMSPIL__V1__ACTOR_KIND__ACTOR_KIND_CITIZEN, nm[2]);
    char *cit_interests[] = {tag, "skole", "boligomraade"};
    cit.n_interests = 3;
    cit.interests = cit_interests;
    cit.preferred_language = "da-easy";
    char *cit_needs[] = {"easy_read", "step_free"};
    cit.n_accessibility_needs = 2;
    cit.accessibility_needs = cit_needs;
    Samspil__V1__ContactPoint postal = SAMSPIL__V1__CONTACT_POINT__INIT;
    postal.kind = SAMSPIL__V1__CONTACT_KIND__CONTACT_KIND_POSTAL;
    postal.value = "Gudrunsvej 1, 8220 Brabrand";
    postal.preferred = 1;
    Samspil__V1__ContactPoint *cit_contacts[] = {&postal};
    cit.n_contact_points = 1;
    cit.contact_points = cit_contacts;
    cit.vulnerable = 1;
    snprintf(ref[2], sizeof ref[2], "sag:%s-1", rc_nonce());
    cit.external_ref = ref[2];
    create_and_get(&cit, "citizen", cit_id);

    /* get by external ref */
    rc_reply_t *r = rc_actor_get(client, T, NULL, ref[2]);
    ITEST_CHECKF(rc_is(r, SAMSPIL__V1__REGISTRATION_REPLY__RESULT_ACTOR) &&
                     str_eq(r->actor->id, cit_id),
                 "actor get by external_ref", "%s", rc_describe(r));
    rc_free(&r);

    /* lists: interest filter, kind filter, paging with limit 1 */
    static idset_t set;
    bool filter_ok;
    list_actors(&set, 0, tag, 0, &filter_ok);
    ITEST_CHECKF(!set.failed && set.count == 3 && idset_occurrences(&set, org_id) == 1 &&
                     idset_occurrences(&set, pro_id) == 1 && idset_occurrences(&set, cit_id) == 1 &&
                     filter_ok,
                 "actor list by interest shows exactly the three", "items=%zu", set.count);
    list_actors(&set, SAMSPIL__V1__ACTOR_KIND__ACTOR_KIND_CITIZEN, tag, 0, &filter_ok);
    ITEST_CHECKF(!set.failed && set.count == 1 && idset_occurrences(&set, cit_id) == 1 && filter_ok,
                 "actor list by kind and interest", "items=%zu", set.count);
    list_actors(&set, SAMSPIL__V1__ACTOR_KIND__ACTOR_KIND_ORGANISATION, NULL, 2, &filter_ok);
    ITEST_CHECKF(!set.failed && idset_occurrences(&set, org_id) == 1 &&
                     idset_occurrences(&set, cit_id) == 0 && filter_ok && idset_unique(&set),
                 "actor list by kind pages over organisations only", "items=%zu", set.count);
    list_actors(&set, 0, tag, 1, &filter_ok);
    ITEST_CHECKF(!set.failed && set.count == 3 && set.pages >= 3 && idset_unique(&set) && filter_ok,
                 "actor list with limit 1 returns every actor once over pages",
                 "items=%zu pages=%d", set.count, set.pages);

    /* update: only the masked fields change */
    Samspil__V1__Actor upd;
    char newname[128];
    snprintf(newname, sizeof newname, "Åse Ørnbøl Jensen %s", rc_nonce());
    rc_actor_init(&upd, SAMSPIL__V1__ACTOR_KIND__ACTOR_KIND_CITIZEN, newname);
    upd.id = cit_id;
    char *upd_interests[] = {tag, "idraet"};
    upd.n_interests = 2;
    upd.interests = upd_interests;
    upd.preferred_language = "en"; /* not in the mask: must stay da-easy */
    const char *mask[] = {"name", "interests"};
    r = rc_actor_update(client, T, &upd, mask, 2);
    ITEST_CHECKF(rc_is(r, SAMSPIL__V1__REGISTRATION_REPLY__RESULT_ACTOR) &&
                     str_eq(r->actor->id, cit_id) && str_eq(r->actor->name, newname),
                 "actor update", "%s", rc_describe(r));
    rc_free(&r);
    r = rc_actor_get(client, T, cit_id, NULL);
    ITEST_CHECKF(rc_is(r, SAMSPIL__V1__REGISTRATION_REPLY__RESULT_ACTOR) &&
                     str_eq(r->actor->name, newname) && r->actor->n_interests == 2 &&
                     strv_has(r->actor->interests, 2, "idraet") &&
                     !strv_has(r->actor->interests, r->actor->n_interests, "skole") &&
                     str_eq(r->actor->preferred_language, "da-easy") && r->actor->vulnerable &&
                     str_eq(r->actor->external_ref, ref[2]),
                 "actor update changed the masked fields only", "%s", rc_describe(r));
    rc_free(&r);

    /* upsert: create, then update by the same external ref */
    char uref[96], uname[96];
    snprintf(uref, sizeof uref, "sag:%s-2", rc_nonce());
    Samspil__V1__Actor up;
    rc_actor_init(&up, SAMSPIL__V1__ACTOR_KIND__ACTOR_KIND_CITIZEN, "Bo");
    up.external_ref = uref;
    up.preferred_language = "da";
    r = rc_actor_upsert(client, T, &up);
    ITEST_CHECKF(rc_is(r, SAMSPIL__V1__REGISTRATION_REPLY__RESULT_ACTOR) && r->created,
                 "actor upsert creates", "%s", rc_describe(r));
    rc_id(r, upsert_id, sizeof upsert_id);
    rc_free(&r);
    snprintf(uname, sizeof uname, "Bo Hansen %s", rc_nonce());
    up.name = uname;
    r = rc_actor_upsert(client, T, &up);
    ITEST_CHECKF(rc_is(r, SAMSPIL__V1__REGISTRATION_REPLY__RESULT_ACTOR) && !r->created &&
                     str_eq(r->actor->id, upsert_id) && str_eq(r->actor->name, uname),
                 "actor upsert again updates the same actor", "%s", rc_describe(r));
    rc_free(&r);
    r = rc_actor_get(client, T, NULL, uref);
    ITEST_CHECKF(rc_is(r, SAMSPIL__V1__REGISTRATION_REPLY__RESULT_ACTOR) &&
                     str_eq(r->actor->id, upsert_id) && str_eq(r->actor->name, uname),
                 "actor get after upsert shows the new name", "%s", rc_describe(r));
    rc_free(&r);
}

/* ---------------------------------------------------------------- partnerships */

static char part_id[64];

static rc_reply_t *partnership_get(const char *id)
{
    Samspil__V1__PartnershipGet op = SAMSPIL__V1__PARTNERSHIP_GET__INIT;
    op.id = (char *)id;
    rc_req_t req = SAMSPIL__V1__REGISTRATION_REQUEST__INIT;
    req.tenant = T;
    req.op_case = SAMSPIL__V1__REGISTRATION_REQUEST__OP_PARTNERSHIP_GET;
    req.partnership_get = &op;
    return rc_call(client, &req);
}

static void list_partnerships(idset_t *set, Samspil__V1__PartnershipStatus status, unsigned limit,
                              bool *status_ok)
{
    memset(set, 0, sizeof *set);
    *status_ok = true;
    char cursor[256] = "";
    for (int guard = 0; guard < 400; guard++) {
        Samspil__V1__PageRequest page = SAMSPIL__V1__PAGE_REQUEST__INIT;
        page.limit = limit;
        page.cursor = cursor;
        Samspil__V1__PartnershipList op = SAMSPIL__V1__PARTNERSHIP_LIST__INIT;
        op.page = &page;
        op.status = status;
        rc_req_t req = SAMSPIL__V1__REGISTRATION_REQUEST__INIT;
        req.tenant = T;
        req.op_case = SAMSPIL__V1__REGISTRATION_REQUEST__OP_PARTNERSHIP_LIST;
        req.partnership_list = &op;
        rc_reply_t *r = rc_call(client, &req);
        if (!rc_is(r, SAMSPIL__V1__REGISTRATION_REPLY__RESULT_PARTNERSHIPS)) {
            itest_check(0, "partnership list page", "%s", rc_describe(r));
            set->failed = 1;
            rc_free(&r);
            return;
        }
        set->pages++;
        if (limit && r->partnerships->n_items > limit)
            *status_ok = false;
        for (size_t i = 0; i < r->partnerships->n_items; i++) {
            idset_add(set, r->partnerships->items[i]->id);
            if (status && r->partnerships->items[i]->status != status)
                *status_ok = false;
        }
        snprintf(cursor, sizeof cursor, "%s", r->partnerships->next ? r->partnerships->next : "");
        bool more = r->partnerships->n_items > 0 && cursor[0];
        rc_free(&r);
        if (!more)
            return;
    }
}

static void test_partnerships(void)
{
    char name[128], ref[96], key[96];
    snprintf(name, sizeof name, "Skolevejen i Gellerup %s", rc_nonce());
    snprintf(ref, sizeof ref, "esdh:%s-p", rc_nonce());
    snprintf(key, sizeof key, "crud-%s-p", rc_nonce());
    Samspil__V1__Partnership p = SAMSPIL__V1__PARTNERSHIP__INIT;
    p.name = name;
    p.purpose = "Flere børn trives i skolen";
    p.burning_platform = "Fraværet er steget to år i træk";
    p.backbone_organisation_id = org_id;
    p.external_ref = ref;
    rc_reply_t *r = rc_partnership_create(client, T, key, &p);
    ITEST_CHECKF(rc_is(r, SAMSPIL__V1__REGISTRATION_REPLY__RESULT_PARTNERSHIP) && r->created &&
                     r->partnership->id && *r->partnership->id &&
                     r->partnership->status ==
                         SAMSPIL__V1__PARTNERSHIP_STATUS__PARTNERSHIP_STATUS_FORMING,
                 "partnership create (status forming)", "%s", rc_describe(r));
    rc_id(r, part_id, sizeof part_id);
    rc_free(&r);

    r = partnership_get(part_id);
    ITEST_CHECKF(rc_is(r, SAMSPIL__V1__REGISTRATION_REPLY__RESULT_PARTNERSHIP) &&
                     str_eq(r->partnership->id, part_id) && str_eq(r->partnership->name, name) &&
                     str_eq(r->partnership->purpose, p.purpose) &&
                     str_eq(r->partnership->burning_platform, p.burning_platform) &&
                     str_eq(r->partnership->backbone_organisation_id, org_id) &&
                     str_eq(r->partnership->external_ref, ref) && r->partnership->created_at &&
                     *r->partnership->created_at,
                 "partnership get", "%s", rc_describe(r));
    rc_free(&r);

    /* seven more, then page through with limit 3 */
    char more_ids[7][64];
    int created = 0;
    for (int i = 0; i < 7; i++) {
        char n[128];
        snprintf(n, sizeof n, "Paging %s %d", rc_nonce(), i);
        Samspil__V1__Partnership q = SAMSPIL__V1__PARTNERSHIP__INIT;
        q.name = n;
        q.purpose = "paging";
        r = rc_partnership_create(client, T, rc_key("paging"), &q);
        created += rc_is(r, SAMSPIL__V1__REGISTRATION_REPLY__RESULT_PARTNERSHIP);
        rc_id(r, more_ids[i], sizeof more_ids[i]);
        rc_free(&r);
    }
    ITEST_CHECKF(created == 7, "partnership create seven more", "%d created", created);
    static idset_t set;
    bool limit_ok;
    list_partnerships(&set, 0, 3, &limit_ok);
    bool each_once = idset_occurrences(&set, part_id) == 1;
    for (int i = 0; i < 7; i++)
        each_once = each_once && idset_occurrences(&set, more_ids[i]) == 1;
    ITEST_CHECKF(!set.failed && each_once && idset_unique(&set) && set.pages >= 3 && limit_ok,
                 "partnership list with limit 3 returns every item exactly once",
                 "items=%zu pages=%d", set.count, set.pages);

    /* update with a mask: status and purpose change, name does not */
    Samspil__V1__Partnership u = SAMSPIL__V1__PARTNERSHIP__INIT;
    u.id = part_id;
    u.name = "must not change";
    u.purpose = "Alle børn trives i skolen";
    u.status = SAMSPIL__V1__PARTNERSHIP_STATUS__PARTNERSHIP_STATUS_ACTIVE;
    Samspil__V1__PartnershipUpdate op = SAMSPIL__V1__PARTNERSHIP_UPDATE__INIT;
    op.partnership = &u;
    char *mask[] = {"status", "purpose"};
    op.n_update_mask = 2;
    op.update_mask = mask;
    rc_req_t req = SAMSPIL__V1__REGISTRATION_REQUEST__INIT;
    req.tenant = T;
    req.op_case = SAMSPIL__V1__REGISTRATION_REQUEST__OP_PARTNERSHIP_UPDATE;
    req.partnership_update = &op;
    r = rc_call(client, &req);
    ITEST_CHECKF(rc_is(r, SAMSPIL__V1__REGISTRATION_REPLY__RESULT_PARTNERSHIP) &&
                     r->partnership->status ==
                         SAMSPIL__V1__PARTNERSHIP_STATUS__PARTNERSHIP_STATUS_ACTIVE,
                 "partnership update", "%s", rc_describe(r));
    rc_free(&r);
    r = partnership_get(part_id);
    ITEST_CHECKF(
        rc_is(r, SAMSPIL__V1__REGISTRATION_REPLY__RESULT_PARTNERSHIP) &&
            str_eq(r->partnership->name, name) && str_eq(r->partnership->purpose, u.purpose) &&
            str_eq(r->partnership->burning_platform, p.burning_platform) &&
            r->partnership->status == SAMSPIL__V1__PARTNERSHIP_STATUS__PARTNERSHIP_STATUS_ACTIVE,
        "partnership update changed the masked fields only", "%s", rc_describe(r));
    rc_free(&r);

    list_partnerships(&set, SAMSPIL__V1__PARTNERSHIP_STATUS__PARTNERSHIP_STATUS_ACTIVE, 0,
                      &limit_ok);
    ITEST_CHECKF(!set.failed && idset_occurrences(&set, part_id) == 1 &&
                     idset_occurrences(&set, more_ids[0]) == 0 && limit_ok,
                 "partnership list by status", "items=%zu", set.count);
}

/* ---------------------------------------------------------------- memberships */

static rc_reply_t *member_list(const char *partnership_id, const char *actor_id, bool include_ended)
{
    Samspil__V1__MemberList op = SAMSPIL__V1__MEMBER_LIST__INIT;
    if (partnership_id)
        op.partnership_id = (char *)partnership_id;
    if (actor_id)
        op.actor_id = (char *)actor_id;
    op.include_ended = include_ended;
    rc_req_t req = SAMSPIL__V1__REGISTRATION_REQUEST__INIT;
    req.tenant = T;
    req.op_case = SAMSPIL__V1__REGISTRATION_REQUEST__OP_MEMBER_LIST;
    req.member_list = &op;
    return rc_call(client, &req);
}

static const Samspil__V1__Membership *find_membership(const rc_reply_t *r, const char *id)
{
    if (!rc_is(r, SAMSPIL__V1__REGISTRATION_REPLY__RESULT_MEMBERSHIPS))
        return NULL;
    for (size_t i = 0; i < r->memberships->n_items; i++)
        if (str_eq(r->memberships->items[i]->id, id))
            return r->memberships->items[i];
    return NULL;
}

static void test_members(void)
{
    char cit_m[64], pro_m[64], org_m[64];
    const Samspil__V1__MemberRole cit_roles[] = {
        SAMSPIL__V1__MEMBER_ROLE__MEMBER_ROLE_RECIPIENT,
        SAMSPIL__V1__MEMBER_ROLE__MEMBER_ROLE_NEEDS_SUPPORT,
        SAMSPIL__V1__MEMBER_ROLE__MEMBER_ROLE_ACTIVE};
    rc_reply_t *r = rc_member_add(client, T, NULL, part_id, cit_id, cit_roles, 3,
                                  SAMSPIL__V1__KNOWLEDGE_BASIS__KNOWLEDGE_BASIS_EXPERIENTIAL);
    ITEST_CHECKF(rc_is(r, SAMSPIL__V1__REGISTRATION_REPLY__RESULT_MEMBERSHIP) &&
                     r->membership->n_roles == 3 && r->membership->joined_on &&
                     strlen(r->membership->joined_on) == 10 &&
                     (!r->membership->ended_on || !*r->membership->ended_on),
                 "member add citizen with three roles", "%s", rc_describe(r));
    rc_id(r, cit_m, sizeof cit_m);
    rc_free(&r);

    const Samspil__V1__MemberRole pro_roles[] = {SAMSPIL__V1__MEMBER_ROLE__MEMBER_ROLE_FACILITATOR};
    r = rc_member_add(client, T, NULL, part_id, pro_id, pro_roles, 1,
                      SAMSPIL__V1__KNOWLEDGE_BASIS__KNOWLEDGE_BASIS_PROFESSIONAL);
    ITEST_CHECKF(rc_is(r, SAMSPIL__V1__REGISTRATION_REPLY__RESULT_MEMBERSHIP),
                 "member add professional as facilitator", "%s", rc_describe(r));
    rc_id(r, pro_m, sizeof pro_m);
    rc_free(&r);

    const Samspil__V1__MemberRole org_roles[] = {SAMSPIL__V1__MEMBER_ROLE__MEMBER_ROLE_INITIATOR,
                                                 SAMSPIL__V1__MEMBER_ROLE__MEMBER_ROLE_VOLUNTEER};
    r = rc_member_add(client, T, NULL, part_id, org_id, org_roles, 2,
                      SAMSPIL__V1__KNOWLEDGE_BASIS__KNOWLEDGE_BASIS_BOTH);
    ITEST_CHECKF(rc_is(r, SAMSPIL__V1__REGISTRATION_REPLY__RESULT_MEMBERSHIP),
                 "member add organisation", "%s", rc_describe(r));
    rc_id(r, org_m, sizeof org_m);
    rc_free(&r);

    r = member_list(part_id, NULL, false);
    const Samspil__V1__Membership *m = find_membership(r, cit_m);
    bool roles_ok = m && m->n_roles == 3;
    for (size_t i = 0; roles_ok && i < 3; i++) {
        bool found = false;
        for (size_t j = 0; j < m->n_roles; j++)
            found = found || m->roles[j] == cit_roles[i];
        roles_ok = found;
    }
    ITEST_CHECKF(rc_is(r, SAMSPIL__V1__REGISTRATION_REPLY__RESULT_MEMBERSHIPS) &&
                     r->memberships->n_items == 3 && roles_ok && find_membership(r, pro_m) &&
                     find_membership(r, org_m) && str_eq(m->actor_id, cit_id) &&
                     m->knowledge_basis ==
                         SAMSPIL__V1__KNOWLEDGE_BASIS__KNOWLEDGE_BASIS_EXPERIENTIAL,
                 "member list by partnership", "%s", rc_describe(r));
    rc_free(&r);

    r = member_list(NULL, cit_id, false);
    ITEST_CHECKF(rc_is(r, SAMSPIL__V1__REGISTRATION_REPLY__RESULT_MEMBERSHIPS) &&
                     r->memberships->n_items == 1 && find_membership(r, cit_m),
                 "member list by actor", "%s", rc_describe(r));
    rc_free(&r);

    Samspil__V1__MemberEnd end = SAMSPIL__V1__MEMBER_END__INIT;
    end.id = pro_m;
    rc_req_t req = SAMSPIL__V1__REGISTRATION_REQUEST__INIT;
    req.tenant = T;
    req.op_case = SAMSPIL__V1__REGISTRATION_REQUEST__OP_MEMBER_END;
    req.member_end = &end;
    r = rc_call(client, &req);
    ITEST_CHECKF(rc_is(r, SAMSPIL__V1__REGISTRATION_REPLY__RESULT_MEMBERSHIP) &&
                     r->membership->ended_on && strlen(r->membership->ended_on) == 10,
                 "member end sets ended_on", "%s", rc_describe(r));
    rc_free(&r);

    r = member_list(part_id, NULL, false);
    ITEST_CHECKF(rc_is(r, SAMSPIL__V1__REGISTRATION_REPLY__RESULT_MEMBERSHIPS) &&
                     r->memberships->n_items == 2 && !find_membership(r, pro_m),
                 "member list hides ended memberships", "%s", rc_describe(r));
    rc_free(&r);
    r = member_list(part_id, NULL, true);
    m = find_membership(r, pro_m);
    ITEST_CHECKF(rc_is(r, SAMSPIL__V1__REGISTRATION_REPLY__RESULT_MEMBERSHIPS) &&
                     r->memberships->n_items == 3 && m && m->ended_on && *m->ended_on,
                 "member list include_ended shows the ended one", "%s", rc_describe(r));
    rc_free(&r);
}

/* ---------------------------------------------------------------- relations */

static rc_reply_t *relation_add(const char *from, const char *to, Samspil__V1__RelationKind kind)
{
    Samspil__V1__Relation rel = SAMSPIL__V1__RELATION__INIT;
    rel.from_actor_id = (char *)from;
    rel.to_actor_id = (char *)to;
    rel.kind = kind;
    rel.partnership_id = part_id;
    Samspil__V1__RelationAdd op = SAMSPIL__V1__RELATION_ADD__INIT;
    op.relation = &rel;
    rc_req_t req = SAMSPIL__V1__REGISTRATION_REQUEST__INIT;
    req.tenant = T;
    req.op_case = SAMSPIL__V1__REGISTRATION_REQUEST__OP_RELATION_ADD;
    req.relation_add = &op;
    return rc_call(client, &req);
}

static int relation_count(const rc_reply_t *r, const char *id)
{
    int n = 0;
    if (rc_is(r, SAMSPIL__V1__REGISTRATION_REPLY__RESULT_RELATIONS))
        for (size_t i = 0; i < r->relations->n_items; i++)
            n += str_eq(r->relations->items[i]->id, id);
    return n;
}

static void test_relations(void)
{
    char r1[64], r2[64];
    rc_reply_t *r = relation_add(cit_id, pro_id, SAMSPIL__V1__RELATION_KIND__RELATION_KIND_TRUSTS);
    ITEST_CHECKF(rc_is(r, SAMSPIL__V1__REGISTRATION_REPLY__RESULT_RELATION) &&
                     str_eq(r->relation->from_actor_id, cit_id) &&
                     str_eq(r->relation->to_actor_id, pro_id) &&
                     r->relation->kind == SAMSPIL__V1__RELATION_KIND__RELATION_KIND_TRUSTS,
                 "relation add citizen trusts professional", "%s", rc_describe(r));
    rc_id(r, r1, sizeof r1);
    rc_free(&r);
    r = relation_add(pro_id, org_id, SAMSPIL__V1__RELATION_KIND__RELATION_KIND_COLLABORATES);
    ITEST_CHECKF(rc_is(r, SAMSPIL__V1__REGISTRATION_REPLY__RESULT_RELATION),
                 "relation add professional collaborates with organisation", "%s", rc_describe(r));
    rc_id(r, r2, sizeof r2);
    rc_free(&r);

    Samspil__V1__RelationList op = SAMSPIL__V1__RELATION_LIST__INIT;
    op.actor_id = pro_id;
    rc_req_t req = SAMSPIL__V1__REGISTRATION_REQUEST__INIT;
    req.tenant = T;
    req.op_case = SAMSPIL__V1__REGISTRATION_REQUEST__OP_RELATION_LIST;
    req.relation_list = &op;
    r = rc_call(client, &req);
    ITEST_CHECKF(relation_count(r, r1) == 1 && relation_count(r, r2) == 1 &&
                     r->relations->n_items == 2,
                 "relation list by actor (from and to)", "%s", rc_describe(r));
    rc_free(&r);
    op.actor_id = cit_id;
    r = rc_call(client, &req);
    ITEST_CHECKF(relation_count(r, r1) == 1 && relation_count(r, r2) == 0,
                 "relation list by the other actor", "%s", rc_describe(r));
    rc_free(&r);
    op.actor_id = "";
    op.partnership_id = part_id;
    r = rc_call(client, &req);
    ITEST_CHECKF(relation_count(r, r1) == 1 && relation_count(r, r2) == 1,
                 "relation list by partnership", "%s", rc_describe(r));
    rc_free(&r);
}

/* ---------------------------------------------------------------- consent */

static void test_consent(void)
{
    char cid[64];
    Samspil__V1__Consent c = SAMSPIL__V1__CONSENT__INIT;
    c.actor_id = cit_id;
    c.purpose = "contact";
    c.channel = SAMSPIL__V1__CONSENT_CHANNEL__CONSENT_CHANNEL_PAPER;
    c.text_version = "2026-01";
    Samspil__V1__ConsentRecord rec = SAMSPIL__V1__CONSENT_RECORD__INIT;
    rec.consent = &c;
    rc_req_t req = SAMSPIL__V1__REGISTRATION_REQUEST__INIT;
    req.tenant = T;
    req.idempotency_key = (char *)rc_key("consent");
    req.op_case = SAMSPIL__V1__REGISTRATION_REQUEST__OP_CONSENT_RECORD;
    req.consent_record = &rec;
    rc_reply_t *r = rc_call(client, &req);
    ITEST_CHECKF(
        rc_is(r, SAMSPIL__V1__REGISTRATION_REPLY__RESULT_CONSENT) &&
            str_eq(r->consent->actor_id, cit_id) && str_eq(r->consent->purpose, "contact") &&
            r->consent->channel == SAMSPIL__V1__CONSENT_CHANNEL__CONSENT_CHANNEL_PAPER &&
            str_eq(r->consent->text_version, "2026-01") && r->consent->given_at &&
            *r->consent->given_at && (!r->consent->withdrawn_at || !*r->consent->withdrawn_at),
        "consent record", "%s", rc_describe(r));
    rc_id(r, cid, sizeof cid);
    rc_free(&r);

    Samspil__V1__ConsentWithdraw wd = SAMSPIL__V1__CONSENT_WITHDRAW__INIT;
    wd.id = cid;
    rc_req_t wreq = SAMSPIL__V1__REGISTRATION_REQUEST__INIT;
    wreq.tenant = T;
    wreq.op_case = SAMSPIL__V1__REGISTRATION_REQUEST__OP_CONSENT_WITHDRAW;
    wreq.consent_withdraw = &wd;
    r = rc_call(client, &wreq);
    ITEST_CHECKF(rc_is(r, SAMSPIL__V1__REGISTRATION_REPLY__RESULT_CONSENT) &&
                     str_eq(r->consent->id, cid) && r->consent->withdrawn_at &&
                     *r->consent->withdrawn_at,
                 "consent withdraw sets withdrawn_at", "%s", rc_describe(r));
    rc_free(&r);

    Samspil__V1__ConsentList list = SAMSPIL__V1__CONSENT_LIST__INIT;
    list.actor_id = cit_id;
    rc_req_t lreq = SAMSPIL__V1__REGISTRATION_REQUEST__INIT;
    lreq.tenant = T;
    lreq.op_case = SAMSPIL__V1__REGISTRATION_REQUEST__OP_CONSENT_LIST;
    lreq.consent_list = &list;
    r = rc_call(client, &lreq);
    ITEST_CHECKF(rc_is(r, SAMSPIL__V1__REGISTRATION_REPLY__RESULT_CONSENTS) &&
                     r->consents->n_items == 1 && str_eq(r->consents->items[0]->id, cid) &&
                     r->consents->items[0]->withdrawn_at && *r->consents->items[0]->withdrawn_at,
                 "consent list shows the withdrawn consent", "%s", rc_describe(r));
    rc_free(&r);
}

int main(void)
{
    client = rc_client();
    test_tenants();
    test_actors();
    test_partnerships();
    test_members();
    test_relations();
    test_consent();
    sp_client_destroy(&client);
    return itest_done();
}
