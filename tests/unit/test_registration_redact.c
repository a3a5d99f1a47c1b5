/*
 * test_registration_redact.c - unit tests for the restricted actor fields
 * (contact points, vulnerable): kept for operators and for facilitators of
 * the request's tenant, cleared for facilitators of another tenant,
 * integrators, readers and requests without a principal or tenant; every
 * item of an actor page is treated alike; nothing else is touched.  Writes
 * of them (creates and upserts carrying them, updates naming them) are
 * allowed to those who see them and to the tenant's integrators, refused
 * for everyone else.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "../../services/registration/registration_redact.h"
#include "../../services/registration/registration_validate.h"

#include <string.h>

#define T "157"
#define OTHER "101"

/* A principal of `role` acting for `tenant` (NULL: for all tenants). */
typedef struct {
    sp_principal_t p;
    char *tenants[1];
} s_principal_t;

static void s_principal(s_principal_t *sp, Samspil__V1__Role role, const char *tenant)
{
    samspil__v1__principal__init(&sp->p);
    sp->p.client_id = "test";
    sp->p.role = role;
    if (tenant) {
        sp->tenants[0] = (char *)tenant;
        sp->p.tenants = sp->tenants;
        sp->p.n_tenants = 1;
    } else {
        sp->p.all_tenants = true;
    }
}

/* An actor with every field set, restricted ones included. */
typedef struct {
    Samspil__V1__Actor a;
    Samspil__V1__ContactPoint cp[2];
    Samspil__V1__ContactPoint *cps[2];
    char *interests[1];
} s_actor_t;

static void s_actor(s_actor_t *sa, const char *id)
{
    samspil__v1__actor__init(&sa->a);
    sa->a.id = (char *)id;
    sa->a.kind = SAMSPIL__V1__ACTOR_KIND__ACTOR_KIND_CITIZEN;
    sa->a.name = "Test Borger";
    sa->interests[0] = "skole";
    sa->a.interests = sa->interests;
    sa->a.n_interests = 1;
    sa->a.preferred_language = "da";
    sa->a.external_ref = "sag:1";
    for (int i = 0; i < 2; i++) {
        samspil__v1__contact_point__init(&sa->cp[i]);
        sa->cps[i] = &sa->cp[i];
    }
    sa->cp[0].kind = SAMSPIL__V1__CONTACT_KIND__CONTACT_KIND_EMAIL;
    sa->cp[0].value = "borger@example.dk";
    sa->cp[0].preferred = true;
    sa->cp[1].kind = SAMSPIL__V1__CONTACT_KIND__CONTACT_KIND_PHONE;
    sa->cp[1].value = "+4512345678";
    sa->a.contact_points = sa->cps;
    sa->a.n_contact_points = 2;
    sa->a.vulnerable = true;
}

static void s_assert_kept(const s_actor_t *sa)
{
    assert_int_equal(sa->a.n_contact_points, 2);
    assert_ptr_equal(sa->a.contact_points, sa->cps);
    assert_string_equal(sa->a.contact_points[0]->value, "borger@example.dk");
    assert_true(sa->a.vulnerable);
}

static void s_assert_cleared(const s_actor_t *sa)
{
    assert_int_equal(sa->a.n_contact_points, 0);
    assert_null(sa->a.contact_points);
    assert_false(sa->a.vulnerable);
    /* the memory was only unlinked, and nothing else changed */
    assert_string_equal(sa->cp[0].value, "borger@example.dk");
    assert_string_equal(sa->a.name, "Test Borger");
    assert_int_equal(sa->a.n_interests, 1);
    assert_string_equal(sa->a.interests[0], "skole");
    assert_string_equal(sa->a.preferred_language, "da");
    assert_string_equal(sa->a.external_ref, "sag:1");
    assert_int_equal(sa->a.kind, SAMSPIL__V1__ACTOR_KIND__ACTOR_KIND_CITIZEN);
}

/* Redact one actor as `p` on tenant T and check the outcome. */
static void s_check_actor(const sp_principal_t *p, const char *tenant, bool sees)
{
    s_actor_t sa;
    s_actor(&sa, "0190f0a0-0000-7000-8000-000000000001");
    assert_int_equal(registration_redact_sees(p, tenant), sees);
    registration_redact_actor(p, tenant, &sa.a);
    if (sees)
        s_assert_kept(&sa);
    else
        s_assert_cleared(&sa);

    /* the same through a reply carrying one actor */
    s_actor(&sa, "0190f0a0-0000-7000-8000-000000000001");
    Samspil__V1__RegistrationReply reply = SAMSPIL__V1__REGISTRATION_REPLY__INIT;
    reply.result_case = SAMSPIL__V1__REGISTRATION_REPLY__RESULT_ACTOR;
    reply.actor = &sa.a;
    reply.created = true;
    registration_redact_reply(p, tenant, &reply);
    if (sees)
        s_assert_kept(&sa);
    else
        s_assert_cleared(&sa);
    assert_ptr_equal(reply.actor, &sa.a);
    assert_true(reply.created);
}

static void test_operator_sees(void **state)
{
    (void)state;
    s_principal_t op;
    s_principal(&op, SP_ROLE_OPERATOR, NULL);
    s_check_actor(&op.p, T, true);
    s_check_actor(&op.p, OTHER, true);
}

static void test_facilitator_of_tenant_sees(void **state)
{
    (void)state;
    s_principal_t f;
    s_principal(&f, SP_ROLE_FACILITATOR, T);
    s_check_actor(&f.p, T, true);
}

static void test_facilitator_of_other_tenant_cleared(void **state)
{
    (void)state;
    s_principal_t f;
    s_principal(&f, SP_ROLE_FACILITATOR, OTHER);
    s_check_actor(&f.p, T, false);
}

static void test_integrator_cleared(void **state)
{
    (void)state;
    s_principal_t i;
    s_principal(&i, SP_ROLE_INTEGRATOR, T);
    s_check_actor(&i.p, T, false);
    s_principal(&i, SP_ROLE_INTEGRATOR, NULL); /* even acting for every tenant */
    s_check_actor(&i.p, T, false);
}

static void test_reader_cleared(void **state)
{
    (void)state;
    s_principal_t r;
    s_principal(&r, SP_ROLE_READER, T);
    s_check_actor(&r.p, T, false);
}

/* Fail closed: no principal, no role, no tenant, or an operator of other tenants. */
static void test_fail_closed(void **state)
{
    (void)state;
    s_check_actor(NULL, T, false);
    s_principal_t p;
    s_principal(&p, SAMSPIL__V1__ROLE__ROLE_UNSPECIFIED, NULL);
    s_check_actor(&p.p, T, false);
    s_principal(&p, SP_ROLE_OPERATOR, NULL);
    s_check_actor(&p.p, "", false);
    s_check_actor(&p.p, NULL, false);
    s_principal(&p, SP_ROLE_OPERATOR, OTHER);
    s_check_actor(&p.p, T, false);
    registration_redact_actor(&p.p, T, NULL); /* no actor: nothing to do */
}

/* An actor page: every item cleared, or every item kept. */
static void s_check_list(const sp_principal_t *p, bool sees)
{
    enum { N = 3 };
    s_actor_t sa[N];
    Samspil__V1__Actor *items[N];
    for (int i = 0; i < N; i++) {
        s_actor(&sa[i], "0190f0a0-0000-7000-8000-00000000000a");
        items[i] = &sa[i].a;
    }
    sa[1].a.vulnerable = false; /* items differ; all are treated alike */
    sa[1].a.n_contact_points = 1;
    Samspil__V1__ActorPage page = SAMSPIL__V1__ACTOR_PAGE__INIT;
    page.items = items;
    page.n_items = N;
    page.next = "0190f0a0-0000-7000-8000-00000000000c";
    Samspil__V1__RegistrationReply reply = SAMSPIL__V1__REGISTRATION_REPLY__INIT;
    reply.result_case = SAMSPIL__V1__REGISTRATION_REPLY__RESULT_ACTORS;
    reply.actors = &page;
    registration_redact_reply(p, T, &reply);
    assert_int_equal(page.n_items, N);
    assert_string_equal(page.next, "0190f0a0-0000-7000-8000-00000000000c");
    for (int i = 0; i < N; i++) {
        assert_ptr_equal(page.items[i], &sa[i].a);
        if (!sees) {
            s_assert_cleared(&sa[i]);
        } else if (i != 1) {
            s_assert_kept(&sa[i]);
        } else {
            assert_int_equal(sa[i].a.n_contact_points, 1);
            assert_false(sa[i].a.vulnerable);
        }
    }
}

static void test_list_items(void **state)
{
    (void)state;
    s_principal_t p;
    s_principal(&p, SP_ROLE_INTEGRATOR, T);
    s_check_list(&p.p, false);
    s_principal(&p, SP_ROLE_READER, T);
    s_check_list(&p.p, false);
    s_principal(&p, SP_ROLE_FACILITATOR, OTHER);
    s_check_list(&p.p, false);
    s_principal(&p, SP_ROLE_FACILITATOR, T);
    s_check_list(&p.p, true);
    s_principal(&p, SP_ROLE_OPERATOR, NULL);
    s_check_list(&p.p, true);

    /* an empty page and a page without items are fine */
    Samspil__V1__ActorPage page = SAMSPIL__V1__ACTOR_PAGE__INIT;
    Samspil__V1__RegistrationReply reply = SAMSPIL__V1__REGISTRATION_REPLY__INIT;
    reply.result_case = SAMSPIL__V1__REGISTRATION_REPLY__RESULT_ACTORS;
    reply.actors = &page;
    s_principal(&p, SP_ROLE_INTEGRATOR, T);
    registration_redact_reply(&p.p, T, &reply);
    assert_int_equal(page.n_items, 0);
    reply.actors = NULL;
    registration_redact_reply(&p.p, T, &reply);
}

/* Replies without actors (errors, other entities) are left as they are. */
static void test_other_results_untouched(void **state)
{
    (void)state;
    s_principal_t p;
    s_principal(&p, SP_ROLE_INTEGRATOR, T);
    Samspil__V1__Partnership part = SAMSPIL__V1__PARTNERSHIP__INIT;
    part.id = "0190f0a0-0000-7000-8000-0000000000ff";
    part.name = "Samspil om skolen";
    Samspil__V1__RegistrationReply reply = SAMSPIL__V1__REGISTRATION_REPLY__INIT;
    reply.result_case = SAMSPIL__V1__REGISTRATION_REPLY__RESULT_PARTNERSHIP;
    reply.partnership = &part;
    reply.created = true;
    registration_redact_reply(&p.p, T, &reply);
    assert_int_equal(reply.result_case, SAMSPIL__V1__REGISTRATION_REPLY__RESULT_PARTNERSHIP);
    assert_ptr_equal(reply.partnership, &part);
    assert_string_equal(part.name, "Samspil om skolen");
    assert_true(reply.created);

    Samspil__V1__Error err = SAMSPIL__V1__ERROR__INIT;
    err.code = SAMSPIL__V1__ERROR_CODE__ERROR_CODE_NOT_FOUND;
    reply = (Samspil__V1__RegistrationReply)SAMSPIL__V1__REGISTRATION_REPLY__INIT;
    reply.result_case = SAMSPIL__V1__REGISTRATION_REPLY__RESULT_ERROR;
    reply.error = &err;
    registration_redact_reply(&p.p, T, &reply);
    assert_ptr_equal(reply.error, &err);
    registration_redact_reply(&p.p, T, NULL);
}

/* What a cleared actor looks like on the wire: no contact point, no flag. */
static void test_packed_reply_has_no_restricted_fields(void **state)
{
    (void)state;
    s_principal_t p;
    s_principal(&p, SP_ROLE_INTEGRATOR, T);
    s_actor_t sa;
    s_actor(&sa, "0190f0a0-0000-7000-8000-000000000001");
    Samspil__V1__RegistrationReply reply = SAMSPIL__V1__REGISTRATION_REPLY__INIT;
    reply.result_case = SAMSPIL__V1__REGISTRATION_REPLY__RESULT_ACTOR;
    reply.actor = &sa.a;
    registration_redact_reply(&p.p, T, &reply);
    uint8_t buf[1024];
    size_t len = samspil__v1__registration_reply__get_packed_size(&reply);
    assert_true(len <= sizeof buf);
    samspil__v1__registration_reply__pack(&reply, buf);
    Samspil__V1__RegistrationReply *back = samspil__v1__registration_reply__unpack(NULL, len, buf);
    assert_non_null(back);
    assert_non_null(back->actor);
    assert_string_equal(back->actor->name, "Test Borger");
    assert_int_equal(back->actor->n_contact_points, 0);
    assert_false(back->actor->vulnerable);
    assert_null(memmem(buf, len, "borger@example.dk", strlen("borger@example.dk")));
    samspil__v1__registration_reply__free_unpacked(back, NULL);
}

/* ------------------------------------------------------------ writes */

#define S_CREATE SAMSPIL__V1__REGISTRATION_REQUEST__OP_ACTOR_CREATE
#define S_UPSERT SAMSPIL__V1__REGISTRATION_REQUEST__OP_ACTOR_UPSERT
#define S_UPDATE SAMSPIL__V1__REGISTRATION_REQUEST__OP_ACTOR_UPDATE

/* A request of `op_case` on tenant T carrying `sa`'s actor (update: `mask`
 * is what validation derived from its update_mask). */
typedef struct {
    Samspil__V1__RegistrationRequest req;
    Samspil__V1__ActorCreate create;
    Samspil__V1__ActorUpsert upsert;
    Samspil__V1__ActorUpdate update;
} s_write_t;

static Samspil__V1__RegistrationRequest *s_write(s_write_t *w, int op_case, s_actor_t *sa)
{
    samspil__v1__registration_request__init(&w->req);
    samspil__v1__actor_create__init(&w->create);
    samspil__v1__actor_upsert__init(&w->upsert);
    samspil__v1__actor_update__init(&w->update);
    w->req.tenant = T;
    w->req.op_case = op_case;
    w->create.actor = w->upsert.actor = w->update.actor = &sa->a;
    /* the operations are a oneof: one union member */
    if (op_case == S_CREATE)
        w->req.actor_create = &w->create;
    else if (op_case == S_UPSERT)
        w->req.actor_upsert = &w->upsert;
    else
        w->req.actor_update = &w->update;
    return &w->req;
}

/* Check a write: allowed (field NULL) or PERMISSION_DENIED on `field`. */
static void s_check_write(const sp_principal_t *p, const Samspil__V1__RegistrationRequest *req,
                          unsigned mask, const char *field)
{
    sp_error_t err;
    sp_error_clear(&err);
    int rc = registration_redact_check_write(p, req, mask, &err);
    if (!field) {
        assert_int_equal(rc, 0);
        assert_false(sp_error_is_set(&err));
        return;
    }
    assert_int_equal(rc, -1);
    assert_int_equal(err.code, SP_PERMISSION_DENIED);
    assert_string_equal(err.field, field);
    /* the message names the field, never a value */
    assert_null(strstr(err.message, "borger@example.dk"));
    const char *last = strrchr(field, '.');
    assert_non_null(strstr(err.message, last ? last + 1 : field));
}

/* Readers, facilitators and integrators of other tenants: creates and
 * upserts that carry contact points or vulnerable=true are refused. */
static void test_write_refused_for_non_seers(void **state)
{
    (void)state;
    s_principal_t ps[3];
    s_principal(&ps[0], SP_ROLE_READER, T);
    s_principal(&ps[1], SP_ROLE_FACILITATOR, OTHER);
    s_principal(&ps[2], SP_ROLE_INTEGRATOR, OTHER);
    for (int i = 0; i < 3; i++) {
        const sp_principal_t *p = &ps[i].p;
        s_actor_t sa;
        s_write_t w;
        s_actor(&sa, "");
        s_check_write(p, s_write(&w, S_CREATE, &sa), 0, "actor_create.actor.contact_points");
        s_check_write(p, s_write(&w, S_UPSERT, &sa), 0, "actor_upsert.actor.contact_points");
        sa.a.n_contact_points = 0; /* vulnerable alone */
        s_check_write(p, s_write(&w, S_CREATE, &sa), 0, "actor_create.actor.vulnerable");
        s_check_write(p, s_write(&w, S_UPSERT, &sa), 0, "actor_upsert.actor.vulnerable");
        sa.a.vulnerable = false;
        sa.a.n_contact_points = 1; /* one contact point is enough */
        s_check_write(p, s_write(&w, S_CREATE, &sa), 0, "actor_create.actor.contact_points");
        s_check_write(p, s_write(&w, S_UPSERT, &sa), 0, "actor_upsert.actor.contact_points");
    }
    s_actor_t sa;
    s_write_t w;
    s_actor(&sa, "");
    s_check_write(NULL, s_write(&w, S_CREATE, &sa), 0, "actor_create.actor.contact_points");
}

/* The same principals may create and upsert actors without them: the
 * upsert then keeps what is stored (the store's part). */
static void test_write_without_restricted_fields_allowed(void **state)
{
    (void)state;
    s_principal_t p;
    s_principal(&p, SP_ROLE_INTEGRATOR, T);
    s_actor_t sa;
    s_write_t w;
    s_actor(&sa, "");
    sa.a.n_contact_points = 0;
    sa.a.contact_points = NULL;
    sa.a.vulnerable = false;
    s_check_write(&p.p, s_write(&w, S_CREATE, &sa), 0, NULL);
    s_check_write(&p.p, s_write(&w, S_UPSERT, &sa), 0, NULL);
    /* other operations are not this check's business */
    s_actor(&sa, "");
    Samspil__V1__RegistrationRequest *req = s_write(&w, S_CREATE, &sa);
    req->op_case = SAMSPIL__V1__REGISTRATION_REQUEST__OP_ACTOR_GET;
    s_check_write(&p.p, req, 0, NULL);
    req->op_case = SAMSPIL__V1__REGISTRATION_REQUEST__OP_PARTNERSHIP_CREATE;
    s_check_write(&p.p, req, REGISTRATION_ACTOR_CONTACT_POINTS, NULL);
    /* a create with no actor (refused by validation) passes here */
    req = s_write(&w, S_CREATE, &sa);
    w.create.actor = NULL;
    s_check_write(&p.p, req, 0, NULL);
}

/* Updates: the mask decides, whatever the values (clearing is writing). */
static void test_update_mask(void **state)
{
    (void)state;
    s_principal_t p;
    s_principal(&p, SP_ROLE_READER, T);
    s_actor_t sa;
    s_write_t w;
    s_actor(&sa, "0190f0a0-0000-7000-8000-000000000001");
    Samspil__V1__RegistrationRequest *req = s_write(&w, S_UPDATE, &sa);
    /* values present but not in the mask: nothing restricted is written */
    s_check_write(&p.p, req, REGISTRATION_ACTOR_NAME | REGISTRATION_ACTOR_INTERESTS, NULL);
    s_check_write(&p.p, req, REGISTRATION_ACTOR_CONTACT_POINTS,
                  "actor_update.actor.contact_points");
    s_check_write(&p.p, req, REGISTRATION_ACTOR_NAME | REGISTRATION_ACTOR_VULNERABLE,
                  "actor_update.actor.vulnerable");
    sa.a.n_contact_points = 0;
    sa.a.vulnerable = false;
    s_check_write(&p.p, req, REGISTRATION_ACTOR_CONTACT_POINTS,
                  "actor_update.actor.contact_points");
    s_check_write(&p.p, req, REGISTRATION_ACTOR_VULNERABLE, "actor_update.actor.vulnerable");
}

/* Operators and the tenant's facilitators may set them everywhere, and
 * the tenant's integrators (who supply them but never see them). */
static void test_write_allowed_for_seers(void **state)
{
    (void)state;
    s_principal_t ps[5];
    s_principal(&ps[0], SP_ROLE_OPERATOR, NULL);
    s_principal(&ps[1], SP_ROLE_OPERATOR, T);
    s_principal(&ps[2], SP_ROLE_FACILITATOR, T);
    s_principal(&ps[3], SP_ROLE_INTEGRATOR, T);
    s_principal(&ps[4], SP_ROLE_INTEGRATOR, NULL); /* acting for every tenant */
    assert_true(registration_redact_may_write(&ps[3].p, T));
    assert_false(registration_redact_sees(&ps[3].p, T));
    assert_false(registration_redact_may_write(&ps[3].p, OTHER));
    assert_false(registration_redact_may_write(&ps[3].p, ""));
    assert_false(registration_redact_may_write(NULL, T));
    for (int i = 0; i < 5; i++) {
        s_actor_t sa;
        s_write_t w;
        s_actor(&sa, "");
        s_check_write(&ps[i].p, s_write(&w, S_CREATE, &sa), 0, NULL);
        s_check_write(&ps[i].p, s_write(&w, S_UPSERT, &sa), 0, NULL);
        s_check_write(&ps[i].p, s_write(&w, S_UPDATE, &sa),
                      REGISTRATION_ACTOR_CONTACT_POINTS | REGISTRATION_ACTOR_VULNERABLE, NULL);
    }
    /* but an operator of other tenants is not one of them */
    s_principal_t o;
    s_principal(&o, SP_ROLE_OPERATOR, OTHER);
    s_actor_t sa;
    s_write_t w;
    s_actor(&sa, "");
    s_check_write(&o.p, s_write(&w, S_UPDATE, &sa), REGISTRATION_ACTOR_VULNERABLE,
                  "actor_update.actor.vulnerable");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_operator_sees),
        cmocka_unit_test(test_facilitator_of_tenant_sees),
        cmocka_unit_test(test_facilitator_of_other_tenant_cleared),
        cmocka_unit_test(test_integrator_cleared),
        cmocka_unit_test(test_reader_cleared),
        cmocka_unit_test(test_fail_closed),
        cmocka_unit_test(test_list_items),
        cmocka_unit_test(test_other_results_untouched),
        cmocka_unit_test(test_packed_reply_has_no_restricted_fields),
        cmocka_unit_test(test_write_refused_for_non_seers),
        cmocka_unit_test(test_write_without_restricted_fields_allowed),
        cmocka_unit_test(test_update_mask),
        cmocka_unit_test(test_write_allowed_for_seers),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
