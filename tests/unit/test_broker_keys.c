/*
 * test_broker_keys.c - unit tests of the key registry: line parsing and
 * formatting, names, roles and tenants, checks on new keys, and the
 * registry file (create, revoke, lookup, reload after a change on disk,
 * lines that do not parse grant nothing).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>
#include <zmq.h>

#include "../../services/broker/broker_keys.h"
#include "sp_log.h"

/* Two fixed, valid Z85 keys (from zmq_curve_keypair). */
static char s_k1[SP_CURVE_KEY_Z85];
static char s_k2[SP_CURVE_KEY_Z85];
static char s_dir[256];
static char s_path[300];

static int s_setup(void **state)
{
    char secret[SP_CURVE_KEY_Z85];
    assert_int_equal(zmq_curve_keypair(s_k1, secret), 0);
    assert_int_equal(zmq_curve_keypair(s_k2, secret), 0);
    snprintf(s_dir, sizeof s_dir, "%s/test_broker_keys.XXXXXX",
             getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp");
    assert_non_null(mkdtemp(s_dir));
    snprintf(s_path, sizeof s_path, "%s/registry", s_dir);
    return 0;
}

static int s_teardown(void **state)
{
    char p[400];
    unlink(s_path);
    snprintf(p, sizeof p, "%s.lock", s_path);
    unlink(p);
    rmdir(s_dir);
    return 0;
}

static void s_write(const char *text)
{
    char tmp[320];
    snprintf(tmp, sizeof tmp, "%s.new", s_path);
    FILE *f = fopen(tmp, "w");
    assert_non_null(f);
    fputs(text, f);
    fclose(f);
    assert_int_equal(rename(tmp, s_path), 0);
}

static void test_parse_line(void **state)
{
    broker_key_t k;
    char err[160], line[256];
    snprintf(line, sizeof line, "%s alice integrator 101,751 2026-11-27T07:00:00Z -", s_k1);
    assert_int_equal(broker_keys_parse_line(line, &k, err, sizeof err), 1);
    assert_string_equal(k.public_key, s_k1);
    assert_string_equal(k.name, "alice");
    assert_int_equal(k.role, SAMSPIL__V1__ROLE__ROLE_INTEGRATOR);
    assert_false(k.all_tenants);
    assert_int_equal(k.ntenants, 2);
    assert_string_equal(k.tenants[0], "101");
    assert_string_equal(k.tenants[1], "751");
    assert_string_equal(k.created, "2026-11-27T07:00:00Z");
    assert_string_equal(k.revoked, "");

    snprintf(line, sizeof line, "%s ops operator * 2026-11-27T07:00:00Z 2026-11-28T08:00:00Z\r",
             s_k1);
    assert_int_equal(broker_keys_parse_line(line, &k, err, sizeof err), 1);
    assert_true(k.all_tenants);
    assert_string_equal(k.revoked, "2026-11-28T08:00:00Z");

    assert_int_equal(broker_keys_parse_line("", &k, err, sizeof err), 0);
    assert_int_equal(broker_keys_parse_line("#", &k, err, sizeof err), 0);
    assert_int_equal(broker_keys_parse_line("# comment", &k, err, sizeof err), 0);
}

static void test_parse_line_errors(void **state)
{
    broker_key_t k;
    char err[160], line[300];
    const char *bad[] = {
        "%s alice integrator 101 2026-11-27T07:00:00Z",         /* 5 fields */
        "%s alice integrator 101 2026-11-27T07:00:00Z - extra", /* 7 fields */
        "%s al/ce integrator 101 2026-11-27T07:00:00Z -",       /* name */
        "%s alice boss 101 2026-11-27T07:00:00Z -",             /* role */
        "%s alice integrator 999 2026-11-27T07:00:00Z -",       /* tenant */
        "%s alice integrator 101,101 2026-11-27T07:00:00Z -",   /* duplicate tenant */
        "%s alice integrator 101, 2026-11-27T07:00:00Z -",      /* empty tenant */
        "%s alice integrator * 2026-11-27T07:00:00Z -",         /* * for integrator */
        "%s alice operator 101 2026-11-27T07:00:00Z -",         /* list for operator */
        "%s alice service 101 2026-11-27T07:00:00Z -",          /* list for service */
        "%s alice reader 101 2026-11-27 -",                     /* created */
        "%s alice reader 101 2026-11-27T07:00:00Z yesterday",   /* revoked */
        "%s alice unspecified 101 2026-11-27T07:00:00Z -",      /* role 0 */
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        snprintf(line, sizeof line, bad[i], s_k1);
        assert_int_equal(broker_keys_parse_line(line, &k, err, sizeof err), -1);
        assert_true(strlen(err) > 0);
        assert_null(strstr(err, s_k1)); /* never echoes the line */
    }
    assert_int_equal(broker_keys_parse_line("short alice reader 101 2026-11-27T07:00:00Z -", &k,
                                            err, sizeof err),
                     -1);
    /* a key beginning with '#' is a key, not a comment */
    char hashkey[SP_CURVE_KEY_Z85];
    memcpy(hashkey, s_k1, sizeof hashkey);
    hashkey[0] = '#';
    snprintf(line, sizeof line, "%s x reader 101 2026-11-27T07:00:00Z -", hashkey);
    assert_int_not_equal(broker_keys_parse_line(line, &k, err, sizeof err), 0);
}

static void test_format_roundtrip(void **state)
{
    broker_key_t k = {0}, back;
    memcpy(k.public_key, s_k2, sizeof k.public_key);
    strcpy(k.name, "case-system.101");
    k.role = SAMSPIL__V1__ROLE__ROLE_FACILITATOR;
    k.ntenants = 3;
    strcpy(k.tenants[0], "101");
    strcpy(k.tenants[1], "147");
    strcpy(k.tenants[2], "751");
    strcpy(k.created, "2026-01-02T03:04:05Z");
    sp_buf_t buf;
    sp_buf_init(&buf);
    broker_keys_format_line(&k, &buf);
    assert_int_equal(buf.data[buf.len - 1], '\n');
    buf.data[--buf.len] = '\0';
    char err[160];
    assert_int_equal(broker_keys_parse_line(buf.data, &back, err, sizeof err), 1);
    assert_memory_equal(&k, &back, sizeof k);
    assert_non_null(strstr(buf.data, " 101,147,751 "));
    assert_non_null(strstr(buf.data, "Z -"));
    sp_buf_free(&buf);
}

static void test_names_and_roles(void **state)
{
    assert_true(broker_keys_name_valid("a"));
    assert_true(broker_keys_name_valid("Case_System-1.prod"));
    assert_false(broker_keys_name_valid(""));
    assert_false(broker_keys_name_valid(NULL));
    assert_false(broker_keys_name_valid(".hidden"));
    assert_false(broker_keys_name_valid("-flag"));
    assert_false(broker_keys_name_valid("with space"));
    assert_false(broker_keys_name_valid("æøå"));
    char longname[80];
    memset(longname, 'a', sizeof longname);
    longname[63] = '\0';
    assert_true(broker_keys_name_valid(longname));
    longname[63] = 'a';
    longname[64] = '\0';
    assert_false(broker_keys_name_valid(longname));

    Samspil__V1__Role role;
    assert_int_equal(broker_keys_role_parse("service", &role), 0);
    assert_int_equal(role, SAMSPIL__V1__ROLE__ROLE_SERVICE);
    assert_int_equal(broker_keys_role_parse("Operator", &role), -1);
    assert_int_equal(broker_keys_role_parse("unspecified", &role), -1);
    assert_string_equal(broker_keys_role_word(SAMSPIL__V1__ROLE__ROLE_READER), "reader");
    assert_string_equal(broker_keys_role_word((Samspil__V1__Role)77), "unspecified");
}

static void test_check_new(void **state)
{
    broker_key_t k = {0};
    sp_error_t err;
    memcpy(k.public_key, s_k1, sizeof k.public_key);
    strcpy(k.name, "ops");
    k.role = SAMSPIL__V1__ROLE__ROLE_OPERATOR;
    assert_int_equal(broker_keys_check_new(&k, &err), 0);
    assert_true(k.all_tenants);

    k.ntenants = 1;
    strcpy(k.tenants[0], "101");
    assert_int_equal(broker_keys_check_new(&k, &err), -1);
    assert_string_equal(err.field, "tenants");

    k.role = SAMSPIL__V1__ROLE__ROLE_INTEGRATOR;
    k.all_tenants = true;
    assert_int_equal(broker_keys_check_new(&k, &err), -1);
    assert_string_equal(err.field, "all_tenants");
    k.all_tenants = false;
    assert_int_equal(broker_keys_check_new(&k, &err), 0);

    k.ntenants = 0;
    assert_int_equal(broker_keys_check_new(&k, &err), -1);
    assert_string_equal(err.field, "tenants");
    k.ntenants = 2;
    strcpy(k.tenants[1], "101");
    assert_int_equal(broker_keys_check_new(&k, &err), -1);
    strcpy(k.tenants[1], "411"); /* Christiansø is no municipality */
    assert_int_equal(broker_keys_check_new(&k, &err), -1);
    strcpy(k.tenants[1], "147");
    assert_int_equal(broker_keys_check_new(&k, &err), 0);

    k.role = SAMSPIL__V1__ROLE__ROLE_UNSPECIFIED;
    assert_int_equal(broker_keys_check_new(&k, &err), -1);
    assert_string_equal(err.field, "role");
    k.role = SAMSPIL__V1__ROLE__ROLE_READER;
    strcpy(k.name, "no/slash");
    assert_int_equal(broker_keys_check_new(&k, &err), -1);
    assert_string_equal(err.field, "name");
    strcpy(k.name, "ok");
    k.public_key[5] = ' ';
    assert_int_equal(broker_keys_check_new(&k, &err), -1);
    assert_string_equal(err.field, "public_key");
    assert_int_equal(err.code, SP_INVALID_ARGUMENT);
}

static broker_key_t s_key(const char *pub, const char *name, Samspil__V1__Role role,
                          const char *tenant)
{
    broker_key_t k = {0};
    memcpy(k.public_key, pub, SP_CURVE_KEY_Z85);
    snprintf(k.name, sizeof k.name, "%s", name);
    k.role = role;
    if (tenant) {
        k.ntenants = 1;
        snprintf(k.tenants[0], sizeof k.tenants[0], "%s", tenant);
    }
    return k;
}

static void test_registry_create_revoke(void **state)
{
    broker_keys_t *keys = broker_keys_new(s_path); /* no file yet */
    assert_non_null(keys);
    assert_int_equal(broker_keys_count(keys), 0);
    assert_int_equal(broker_keys_lookup(keys, s_k1, NULL), BROKER_KEYS_UNKNOWN);

    sp_error_t err;
    broker_key_t out;
    broker_key_t a = s_key(s_k1, "alice", SAMSPIL__V1__ROLE__ROLE_INTEGRATOR, "101");
    assert_int_equal(broker_keys_create(keys, &a, &out, &err), 0);
    assert_int_equal(strlen(out.created), 20);
    assert_int_equal(broker_keys_lookup(keys, s_k1, &out), BROKER_KEYS_VALID);
    assert_string_equal(out.name, "alice");

    struct stat st;
    assert_int_equal(stat(s_path, &st), 0);
    assert_int_equal(st.st_mode & 0777, 0600);

    /* the same name while alice is valid; the same key again */
    broker_key_t b = s_key(s_k2, "alice", SAMSPIL__V1__ROLE__ROLE_READER, "751");
    assert_int_equal(broker_keys_create(keys, &b, NULL, &err), -1);
    assert_int_equal(err.code, SP_ALREADY_EXISTS);
    assert_string_equal(err.field, "name");
    broker_key_t c = s_key(s_k1, "carol", SAMSPIL__V1__ROLE__ROLE_READER, "751");
    assert_int_equal(broker_keys_create(keys, &c, NULL, &err), -1);
    assert_int_equal(err.code, SP_ALREADY_EXISTS);
    assert_string_equal(err.field, "public_key");

    /* revoke by name; then again: failed precondition / not found */
    assert_int_equal(broker_keys_revoke(keys, "alice", NULL, &out, &err), 0);
    assert_int_equal(strlen(out.revoked), 20);
    assert_int_equal(broker_keys_lookup(keys, s_k1, NULL), BROKER_KEYS_REVOKED);
    assert_int_equal(broker_keys_revoke(keys, "alice", NULL, NULL, &err), -1);
    assert_int_equal(err.code, SP_NOT_FOUND);
    assert_int_equal(broker_keys_revoke(keys, NULL, s_k1, NULL, &err), -1);
    assert_int_equal(err.code, SP_FAILED_PRECONDITION);
    assert_int_equal(broker_keys_revoke(keys, "x", s_k1, NULL, &err), -1);
    assert_int_equal(err.code, SP_INVALID_ARGUMENT);
    assert_int_equal(broker_keys_revoke(keys, NULL, NULL, NULL, &err), -1);
    assert_int_equal(err.code, SP_INVALID_ARGUMENT);

    /* a revoked key can never come back; its name can be reused */
    assert_int_equal(broker_keys_create(keys, &c, NULL, &err), -1);
    assert_string_equal(err.message, "public key was registered before and revoked");
    assert_int_equal(broker_keys_create(keys, &b, NULL, &err), 0);
    assert_int_equal(broker_keys_lookup(keys, s_k2, &out), BROKER_KEYS_VALID);
    assert_string_equal(out.name, "alice");

    /* a second registry on the same file (another process) sees it all */
    broker_keys_t *other = broker_keys_new(s_path);
    assert_non_null(other);
    assert_int_equal(broker_keys_count(other), 2);
    assert_int_equal(broker_keys_lookup(other, s_k1, NULL), BROKER_KEYS_REVOKED);
    assert_int_equal(broker_keys_lookup(other, s_k2, NULL), BROKER_KEYS_VALID);
    /* ...and its revoke reaches the first one on refresh */
    uint64_t before = broker_keys_revocations(keys);
    assert_int_equal(before, 1); /* alice */
    assert_int_equal(broker_keys_revoke(other, NULL, s_k2, NULL, &err), 0);
    assert_int_equal(broker_keys_refresh(keys), 1);
    assert_int_equal(broker_keys_revocations(keys), before + 1);
    assert_int_equal(broker_keys_lookup(keys, s_k2, NULL), BROKER_KEYS_REVOKED);
    assert_int_equal(broker_keys_refresh(keys), 0);
    broker_keys_destroy(&other);
    broker_keys_destroy(&keys);
    assert_null(keys);
    broker_keys_destroy(&keys);
}

static void s_count(const broker_key_t *key, void *arg)
{
    (*(int *)arg)++;
}

static void test_registry_reload_and_bad_lines(void **state)
{
    char text[1024];
    snprintf(text, sizeof text,
             "# header\n"
             "%s svc service * 2026-11-27T07:00:00Z -\n"
             "garbage line that does not parse\n"
             "%s dup reader 101 2026-11-27T07:00:00Z 2026-11-27T08:00:00Z\n"
             "%s bad integrator 999 2026-11-27T07:00:00Z -\n",
             s_k1, s_k1, s_k2);
    s_write(text);
    broker_keys_t *keys = broker_keys_new(s_path);
    assert_non_null(keys);
    /* the duplicate of k1 is revoked, so k1 is revoked; k2's line is bad */
    assert_int_equal(broker_keys_count(keys), 1);
    assert_int_equal(broker_keys_lookup(keys, s_k1, NULL), BROKER_KEYS_REVOKED);
    assert_int_equal(broker_keys_lookup(keys, s_k2, NULL), BROKER_KEYS_UNKNOWN);
    int n = 0;
    assert_int_equal(broker_keys_foreach(keys, false, s_count, &n), 0);
    assert_int_equal(broker_keys_foreach(keys, true, s_count, &n), 1);

    /* k1 was not valid, so nothing valid is lost */
    assert_int_equal(broker_keys_revocations(keys), 0);
    snprintf(text, sizeof text, "%s svc service * 2026-11-27T07:00:00Z -\n", s_k2);
    s_write(text);
    assert_int_equal(broker_keys_refresh(keys), 1);
    assert_int_equal(broker_keys_revocations(keys), 0);
    assert_int_equal(broker_keys_lookup(keys, s_k1, NULL), BROKER_KEYS_UNKNOWN);
    assert_int_equal(broker_keys_lookup(keys, s_k2, NULL), BROKER_KEYS_VALID);

    /* the file removed: nothing is valid any more */
    uint64_t lost = broker_keys_revocations(keys);
    unlink(s_path);
    assert_int_equal(broker_keys_refresh(keys), 1);
    assert_int_equal(broker_keys_revocations(keys), lost + 1);
    assert_int_equal(broker_keys_lookup(keys, s_k2, NULL), BROKER_KEYS_UNKNOWN);
    broker_keys_destroy(&keys);
}

static void test_many_keys_lookup(void **state)
{
    broker_keys_t *keys = broker_keys_new(s_path);
    assert_non_null(keys);
    enum { N = 200 };
    static char pubs[N][SP_CURVE_KEY_Z85];
    sp_error_t err;
    for (int i = 0; i < N; i++) {
        char secret[SP_CURVE_KEY_Z85], name[32];
        assert_int_equal(zmq_curve_keypair(pubs[i], secret), 0);
        snprintf(name, sizeof name, "k%d", i);
        broker_key_t k = s_key(pubs[i], name, SAMSPIL__V1__ROLE__ROLE_READER, "751");
        assert_int_equal(broker_keys_create(keys, &k, NULL, &err), 0);
    }
    for (int i = 0; i < N; i++) {
        broker_key_t out;
        char name[32];
        snprintf(name, sizeof name, "k%d", i);
        assert_int_equal(broker_keys_lookup(keys, pubs[i], &out), BROKER_KEYS_VALID);
        assert_string_equal(out.name, name);
    }
    assert_int_equal(broker_keys_lookup(keys, s_k1, NULL), BROKER_KEYS_UNKNOWN);
    broker_keys_destroy(&keys);
}

int main(void)
{
    sp_log_init("test_broker_keys");
    sp_log_set_level((sp_log_level_t)(SP_LOG_ERROR + 1)); /* quiet: bad lines are expected */
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_parse_line, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown(test_parse_line_errors, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown(test_format_roundtrip, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown(test_names_and_roles, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown(test_check_new, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown(test_registry_create_revoke, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown(test_registry_reload_and_bad_lines, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown(test_many_keys_lookup, s_setup, s_teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
