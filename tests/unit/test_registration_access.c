/*
 * test_registration_access.c - unit tests for the roles per registration
 * operation: every operation of the proto has a rule; the whole role x
 * operation table as documented; a tenant outside the principal's set is
 * refused naming the tenant; tenant shape and existence; tenant operations
 * check the code they name; data_key_rotate needs a principal of all
 * tenants; messages name the op and the roles allowed.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "../../services/registration/registration_access.h"

#include <string.h>

#define OP(x) SAMSPIL__V1__REGISTRATION_REQUEST__OP_##x

typedef Samspil__V1__RegistrationRequest req_t;

static sp_error_t s_err;

static sp_error_code_t s_check(const req_t *req, Samspil__V1__Role role, const char *tenant,
                               bool all)
{
    Samspil__V1__Principal p = SAMSPIL__V1__PRINCIPAL__INIT;
    char *tenants[] = {(char *)tenant};
    p.client_id = "test";
    p.role = role;
    p.all_tenants = all;
    p.n_tenants = tenant ? 1 : 0;
    p.tenants = tenants;
    sp_error_clear(&s_err);
    int rc = registration_access_check(req, &p, &s_err);
    assert_int_equal(rc, s_err.code == SP_OK ? 0 : -1);
    return s_err.code;
}

static void test_every_op_has_a_rule(void **state)
{
    (void)state;
    const ProtobufCMessageDescriptor *d = &samspil__v1__registration_request__descriptor;
    int ops = 0;
    for (unsigned i = 0; i < d->n_fields; i++) {
        if (d->fields[i].id < 10)
            continue; /* tenant, idempotency_key, correlation_id */
        const registration_access_t *r =
            registration_access_find((Samspil__V1__RegistrationRequest__OpCase)d->fields[i].id);
        if (!r)
            fail_msg("op %s has no access rule", d->fields[i].name);
        assert_string_equal(r->name, d->fields[i].name);
        /* operators may call everything; service principals nothing */
        assert_true(r->roles & SP_ROLE_BIT(SP_ROLE_OPERATOR));
        assert_int_equal(r->roles & SP_ROLE_BIT(SAMSPIL__V1__ROLE__ROLE_SERVICE), 0);
        ops++;
    }
    assert_int_equal(ops, 23);
    assert_null(registration_access_find(SAMSPIL__V1__REGISTRATION_REQUEST__OP__NOT_SET));
    assert_null(registration_access_find((Samspil__V1__RegistrationRequest__OpCase)999));
}

/* The documented table (registration_access.h), row by row:
 * O operator, I integrator, F facilitator, R reader. */
static void test_role_table(void **state)
{
    (void)state;
    static const struct {
        const char *op;
        const char *roles;
    } table[] = {
        {"tenant_create", "O"},       {"tenant_get", "O"},         {"tenant_list", "O"},
        {"partnership_create", "OI"}, {"partnership_get", "OIFR"}, {"partnership_list", "OIFR"},
        {"partnership_update", "OI"}, {"actor_create", "OI"},      {"actor_get", "OIF"},
        {"actor_list", "OIF"},        {"actor_update", "OI"},      {"actor_upsert", "OI"},
        {"member_add", "OIF"},        {"member_list", "OIF"},      {"member_end", "OIF"},
        {"relation_add", "OIF"},      {"relation_list", "OIF"},    {"consent_record", "OIF"},
        {"consent_withdraw", "OIF"},  {"consent_list", "OIF"},     {"person_export", "OF"},
        {"person_erase", "O"},        {"data_key_rotate", "O"},
    };
    const ProtobufCMessageDescriptor *d = &samspil__v1__registration_request__descriptor;
    for (size_t i = 0; i < sizeof table / sizeof table[0]; i++) {
        const ProtobufCFieldDescriptor *f =
            protobuf_c_message_descriptor_get_field_by_name(d, table[i].op);
        assert_non_null(f);
        const registration_access_t *r =
            registration_access_find((Samspil__V1__RegistrationRequest__OpCase)f->id);
        assert_non_null(r);
        unsigned want = 0;
        for (const char *c = table[i].roles; *c; c++)
            want |= SP_ROLE_BIT(*c == 'O'   ? SP_ROLE_OPERATOR
                                : *c == 'I' ? SP_ROLE_INTEGRATOR
                                : *c == 'F' ? SP_ROLE_FACILITATOR
                                            : SP_ROLE_READER);
        if (r->roles != want)
            fail_msg("%s: roles 0x%x, documented 0x%x", table[i].op, r->roles, want);
    }
}

static void test_roles_and_tenants(void **state)
{
    (void)state;
    Samspil__V1__ActorGet get = SAMSPIL__V1__ACTOR_GET__INIT;
    req_t req = SAMSPIL__V1__REGISTRATION_REQUEST__INIT;
    req.op_case = OP(ACTOR_GET);
    req.actor_get = &get;
    req.tenant = "751";

    assert_int_equal(s_check(&req, SP_ROLE_OPERATOR, NULL, true), SP_OK);
    assert_int_equal(s_check(&req, SP_ROLE_INTEGRATOR, "751", false), SP_OK);
    assert_int_equal(s_check(&req, SP_ROLE_FACILITATOR, "751", false), SP_OK);
    assert_int_equal(s_check(&req, SP_ROLE_READER, "751", false), SP_PERMISSION_DENIED);
    assert_string_equal(s_err.field, "op");
    assert_string_equal(s_err.message,
                        "role reader may not call actor_get (allowed: operator, integrator, "
                        "facilitator)");
    assert_int_equal(s_check(&req, SAMSPIL__V1__ROLE__ROLE_UNSPECIFIED, "751", true),
                     SP_PERMISSION_DENIED);
    assert_int_equal(s_check(&req, SAMSPIL__V1__ROLE__ROLE_SERVICE, NULL, true),
                     SP_PERMISSION_DENIED);
    assert_string_equal(s_err.field, "op");

    /* an integrator of tenant A on tenant B */
    assert_int_equal(s_check(&req, SP_ROLE_INTEGRATOR, "101", false), SP_PERMISSION_DENIED);
    assert_string_equal(s_err.field, "tenant");
    assert_string_equal(s_err.message, "principal may not act for tenant \"751\"");
    assert_int_equal(s_check(&req, SP_ROLE_FACILITATOR, NULL, false), SP_PERMISSION_DENIED);
    assert_string_equal(s_err.field, "tenant");
    /* an operator limited to some tenants is limited too */
    assert_int_equal(s_check(&req, SP_ROLE_OPERATOR, "101", false), SP_PERMISSION_DENIED);

    /* no principal at all */
    sp_error_clear(&s_err);
    assert_int_equal(registration_access_check(&req, NULL, &s_err), -1);
    assert_int_equal(s_err.code, SP_PERMISSION_DENIED);
    assert_non_null(strstr(s_err.message, "role unspecified"));

    /* a reader reads partnerships, nothing personal */
    Samspil__V1__PartnershipList pl = SAMSPIL__V1__PARTNERSHIP_LIST__INIT;
    req_t preq = SAMSPIL__V1__REGISTRATION_REQUEST__INIT;
    preq.op_case = OP(PARTNERSHIP_LIST);
    preq.partnership_list = &pl;
    preq.tenant = "751";
    assert_int_equal(s_check(&preq, SP_ROLE_READER, "751", false), SP_OK);
    assert_int_equal(s_check(&preq, SP_ROLE_READER, "101", false), SP_PERMISSION_DENIED);
}

static void test_tenant_shape(void **state)
{
    (void)state;
    Samspil__V1__ActorGet get = SAMSPIL__V1__ACTOR_GET__INIT;
    req_t req = SAMSPIL__V1__REGISTRATION_REQUEST__INIT;
    req.op_case = OP(ACTOR_GET);
    req.actor_get = &get;

    req.tenant = "07x1";
    assert_int_equal(s_check(&req, SP_ROLE_OPERATOR, NULL, true), SP_INVALID_ARGUMENT);
    assert_string_equal(s_err.field, "tenant");
    assert_non_null(strstr(s_err.message, "invalid municipality code \"07x1\""));
    req.tenant = "";
    assert_int_equal(s_check(&req, SP_ROLE_OPERATOR, NULL, true), SP_INVALID_ARGUMENT);
    assert_string_equal(s_err.field, "tenant");
    req.tenant = NULL;
    assert_int_equal(s_check(&req, SP_ROLE_OPERATOR, NULL, true), SP_INVALID_ARGUMENT);
    req.tenant = "999"; /* the shape of a code, but no municipality: no such tenant */
    assert_int_equal(s_check(&req, SP_ROLE_OPERATOR, NULL, true), SP_NOT_FOUND);
    assert_string_equal(s_err.field, "tenant");
    assert_string_equal(s_err.message, "unknown tenant \"999\"");
    /* the role is checked before the tenant */
    assert_int_equal(s_check(&req, SP_ROLE_READER, NULL, true), SP_PERMISSION_DENIED);
    assert_string_equal(s_err.field, "op");
}

static void test_tenant_ops(void **state)
{
    (void)state;
    Samspil__V1__TenantCreate tc = SAMSPIL__V1__TENANT_CREATE__INIT;
    tc.code = "751";
    tc.name = "Aarhus Kommune";
    req_t req = SAMSPIL__V1__REGISTRATION_REQUEST__INIT;
    req.op_case = OP(TENANT_CREATE);
    req.tenant_create = &tc;
    assert_int_equal(s_check(&req, SP_ROLE_OPERATOR, NULL, true), SP_OK);
    assert_int_equal(s_check(&req, SP_ROLE_INTEGRATOR, "751", false), SP_PERMISSION_DENIED);
    assert_string_equal(s_err.field, "op");
    assert_int_equal(s_check(&req, SP_ROLE_OPERATOR, "101", false), SP_PERMISSION_DENIED);
    assert_string_equal(s_err.field, "tenant_create.code");
    assert_int_equal(s_check(&req, SP_ROLE_OPERATOR, "751", false), SP_OK);

    Samspil__V1__TenantGet tg = SAMSPIL__V1__TENANT_GET__INIT;
    tg.code = "101";
    req_t g = SAMSPIL__V1__REGISTRATION_REQUEST__INIT;
    g.op_case = OP(TENANT_GET);
    g.tenant_get = &tg;
    assert_int_equal(s_check(&g, SP_ROLE_OPERATOR, "751", false), SP_PERMISSION_DENIED);
    assert_string_equal(s_err.field, "tenant_get.code");
    /* the request's tenant field plays no part in tenant operations */
    g.tenant = "751";
    assert_int_equal(s_check(&g, SP_ROLE_OPERATOR, "101", false), SP_OK);
}

static void test_person_and_key_ops(void **state)
{
    (void)state;
    Samspil__V1__PersonExport pe = SAMSPIL__V1__PERSON_EXPORT__INIT;
    req_t req = SAMSPIL__V1__REGISTRATION_REQUEST__INIT;
    req.op_case = OP(PERSON_EXPORT);
    req.person_export = &pe;
    req.tenant = "751";
    assert_int_equal(s_check(&req, SP_ROLE_OPERATOR, NULL, true), SP_OK);
    assert_int_equal(s_check(&req, SP_ROLE_FACILITATOR, "751", false), SP_OK);
    assert_int_equal(s_check(&req, SP_ROLE_FACILITATOR, "101", false), SP_PERMISSION_DENIED);
    assert_string_equal(s_err.field, "tenant");
    assert_int_equal(s_check(&req, SP_ROLE_INTEGRATOR, "751", false), SP_PERMISSION_DENIED);
    assert_string_equal(s_err.field, "op");

    Samspil__V1__PersonErase er = SAMSPIL__V1__PERSON_ERASE__INIT;
    req.op_case = OP(PERSON_ERASE);
    req.person_erase = &er;
    assert_int_equal(s_check(&req, SP_ROLE_OPERATOR, "751", false), SP_OK);
    assert_int_equal(s_check(&req, SP_ROLE_FACILITATOR, "751", false), SP_PERMISSION_DENIED);
    assert_string_equal(s_err.message,
                        "role facilitator may not call person_erase (allowed: operator)");

    Samspil__V1__DataKeyRotate rot = SAMSPIL__V1__DATA_KEY_ROTATE__INIT;
    req_t k = SAMSPIL__V1__REGISTRATION_REQUEST__INIT;
    k.op_case = OP(DATA_KEY_ROTATE);
    k.data_key_rotate = &rot;
    assert_int_equal(s_check(&k, SP_ROLE_OPERATOR, NULL, true), SP_OK);
    /* not tenant-scoped: an empty or odd tenant field does not matter */
    k.tenant = "xyz";
    assert_int_equal(s_check(&k, SP_ROLE_OPERATOR, NULL, true), SP_OK);
    /* ... but it acts on every tenant */
    assert_int_equal(s_check(&k, SP_ROLE_OPERATOR, "751", false), SP_PERMISSION_DENIED);
    assert_string_equal(s_err.field, "op");
    assert_int_equal(s_check(&k, SP_ROLE_INTEGRATOR, NULL, true), SP_PERMISSION_DENIED);
}

static void test_unknown_op(void **state)
{
    (void)state;
    req_t req = SAMSPIL__V1__REGISTRATION_REQUEST__INIT;
    assert_int_equal(s_check(&req, SP_ROLE_OPERATOR, NULL, true), SP_INVALID_ARGUMENT);
    assert_string_equal(s_err.field, "op");
    char text[96];
    assert_string_equal(registration_access_roles_text(SP_ROLES_ALL, text, sizeof text),
                        "operator, integrator, facilitator, reader");
    assert_string_equal(registration_access_roles_text(0, text, sizeof text), "");
    char tiny[5];
    registration_access_roles_text(SP_ROLES_ALL, tiny, sizeof tiny);
    assert_true(strlen(tiny) < sizeof tiny);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_every_op_has_a_rule), cmocka_unit_test(test_role_table),
        cmocka_unit_test(test_roles_and_tenants),   cmocka_unit_test(test_tenant_shape),
        cmocka_unit_test(test_tenant_ops),          cmocka_unit_test(test_person_and_key_ops),
        cmocka_unit_test(test_unknown_op),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
