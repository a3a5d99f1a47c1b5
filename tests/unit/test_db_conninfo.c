/*
 * test_db_conninfo.c - sp_db_conninfo: which conninfo the owner and each
 * service get from SAMSPIL_HOME and the SAMSPIL_*_DATABASE_URL variables.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>

#include <cmocka.h>

#include "sp_db.h"
#include "sp_log.h"

#include <stdlib.h>
#include <string.h>

static int s_clear_env(void **state)
{
    (void)state;
    unsetenv("SAMSPIL_DATABASE_URL");
    unsetenv("SAMSPIL_REGISTRATION_DATABASE_URL");
    unsetenv("SAMSPIL_VOTING_DATABASE_URL");
    return 0;
}

/* The value of `key` in conninfo `ci` as libpq parses it (static), or NULL. */
static const char *s_parsed(const char *ci, const char *key)
{
    static char value[512];
    char *err = NULL;
    PQconninfoOption *opts = PQconninfoParse(ci, &err);
    assert_non_null(opts);
    const char *out = NULL;
    for (PQconninfoOption *o = opts; o->keyword; o++) {
        if (strcmp(o->keyword, key) == 0 && o->val) {
            strncpy(value, o->val, sizeof value - 1);
            value[sizeof value - 1] = '\0';
            out = value;
        }
    }
    PQconninfoFree(opts);
    return out;
}

static void test_embedded_owner(void **state)
{
    (void)state;
    char out[512];
    assert_int_equal(sp_db_conninfo("/srv/samspil/var", NULL, out, sizeof out), 0);
    assert_string_equal(out, "host='/srv/samspil/var/pg/run' port='5432' dbname='samspil' "
                             "user='samspil_owner'");
    assert_int_equal(sp_db_conninfo("/srv/samspil/var//", NULL, out, sizeof out), 0);
    assert_string_equal(out, "host='/srv/samspil/var/pg/run' port='5432' dbname='samspil' "
                             "user='samspil_owner'");
}

static void test_embedded_service(void **state)
{
    (void)state;
    char out[512];
    assert_int_equal(sp_db_conninfo("/srv/var", "registration", out, sizeof out), 0);
    assert_string_equal(out, "host='/srv/var/pg/run' port='5432' dbname='samspil' "
                             "user='samspil_registration'");
    assert_int_equal(sp_db_conninfo("/srv/var", "voting", out, sizeof out), 0);
    assert_string_equal(s_parsed(out, "user"), "samspil_voting");
}

static void test_embedded_quoting(void **state)
{
    (void)state;
    char out[512];
    assert_int_equal(sp_db_conninfo("/home/it's me\\x/var", "registration", out, sizeof out), 0);
    assert_string_equal(out, "host='/home/it\\'s me\\\\x/var/pg/run' port='5432' "
                             "dbname='samspil' user='samspil_registration'");
    assert_string_equal(s_parsed(out, "host"), "/home/it's me\\x/var/pg/run");
    assert_int_equal(sp_db_conninfo("/srv/my clone/var", NULL, out, sizeof out), 0);
    assert_string_equal(s_parsed(out, "host"), "/srv/my clone/var/pg/run");
    assert_string_equal(s_parsed(out, "user"), "samspil_owner");
}

/* PGHOST, PGPORT, PGDATABASE and PGUSER (common on CI images) cannot
 * redirect the embedded conninfo: it names all four. */
static void test_embedded_ignores_pg_env(void **state)
{
    (void)state;
    char out[512];
    setenv("PGHOST", "/var/run/postgresql", 1);
    setenv("PGPORT", "5499", 1);
    setenv("PGDATABASE", "postgres", 1);
    setenv("PGUSER", "postgres", 1);
    assert_int_equal(sp_db_conninfo("/srv/var", "registration", out, sizeof out), 0);
    unsetenv("PGHOST");
    unsetenv("PGPORT");
    unsetenv("PGDATABASE");
    unsetenv("PGUSER");
    assert_string_equal(s_parsed(out, "host"), "/srv/var/pg/run");
    assert_string_equal(s_parsed(out, "port"), "5432");
    assert_string_equal(s_parsed(out, "dbname"), "samspil");
    assert_string_equal(s_parsed(out, "user"), "samspil_registration");
}

static void test_service_url(void **state)
{
    (void)state;
    char out[512];
    setenv("SAMSPIL_DATABASE_URL", "postgresql://samspil_owner:pw@db/samspil", 1);
    setenv("SAMSPIL_REGISTRATION_DATABASE_URL", "host=db user=reg password=regpw", 1);
    assert_int_equal(sp_db_conninfo("/srv/var", "registration", out, sizeof out), 0);
    assert_string_equal(out, "host=db user=reg password=regpw");
    /* another service is not affected */
    assert_int_equal(sp_db_conninfo("/srv/var", "voting", out, sizeof out), 0);
    assert_string_equal(s_parsed(out, "user"), "samspil_voting");
}

static void test_owner_url(void **state)
{
    (void)state;
    char out[512];
    const char *url = "postgresql://samspil_owner:s3cret@db.example:5433/samspil?sslmode=require";
    setenv("SAMSPIL_DATABASE_URL", url, 1);
    assert_int_equal(sp_db_conninfo(NULL, NULL, out, sizeof out), 0);
    assert_string_equal(out, url);

    assert_int_equal(sp_db_conninfo("/ignored", "registration", out, sizeof out), 0);
    assert_string_equal(s_parsed(out, "user"), "samspil_registration");
    assert_string_equal(s_parsed(out, "host"), "db.example");
    assert_string_equal(s_parsed(out, "port"), "5433");
    assert_string_equal(s_parsed(out, "dbname"), "samspil");
    assert_string_equal(s_parsed(out, "sslmode"), "require");
    assert_null(s_parsed(out, "password"));
    assert_null(strstr(out, "s3cret"));
}

static void test_owner_url_quoting(void **state)
{
    (void)state;
    char out[512];
    setenv("SAMSPIL_DATABASE_URL",
           "dbname=samspil host='/tmp/a b' application_name='it\\'s' user=owner", 1);
    assert_int_equal(sp_db_conninfo(NULL, "reporting", out, sizeof out), 0);
    assert_string_equal(s_parsed(out, "host"), "/tmp/a b");
    assert_string_equal(s_parsed(out, "application_name"), "it's");
    assert_string_equal(s_parsed(out, "user"), "samspil_reporting");
    /* no user in the URL: one is added */
    setenv("SAMSPIL_DATABASE_URL", "postgresql:///samspil?host=/run/pg", 1);
    assert_int_equal(sp_db_conninfo(NULL, "outreach", out, sizeof out), 0);
    assert_string_equal(s_parsed(out, "user"), "samspil_outreach");
    assert_string_equal(s_parsed(out, "host"), "/run/pg");
}

static void test_failures(void **state)
{
    (void)state;
    char out[512];
    char small[16];
    assert_int_equal(sp_db_conninfo(NULL, NULL, out, sizeof out), -1); /* no home, no URL */
    assert_int_equal(sp_db_conninfo("", "registration", out, sizeof out), -1);
    assert_int_equal(sp_db_conninfo("/srv/var", "Bad-Name", out, sizeof out), -1);
    assert_int_equal(sp_db_conninfo("/srv/var", "", out, sizeof out), -1);
    assert_int_equal(sp_db_conninfo("/srv/var", NULL, small, sizeof small), -1);
    assert_string_equal(small, "");
    setenv("SAMSPIL_DATABASE_URL", "host='unterminated", 1);
    assert_int_equal(sp_db_conninfo(NULL, NULL, out, sizeof out), -1);
    assert_int_equal(sp_db_conninfo(NULL, "registration", out, sizeof out), -1);
    setenv("SAMSPIL_DATABASE_URL", "postgresql://x/y?nosuchoption=1", 1);
    assert_int_equal(sp_db_conninfo(NULL, "registration", out, sizeof out), -1);
    /* an empty variable counts as unset */
    setenv("SAMSPIL_DATABASE_URL", "", 1);
    assert_int_equal(sp_db_conninfo("/srv/var", NULL, out, sizeof out), 0);
}

int main(void)
{
    sp_log_init("test_db_conninfo");
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup(test_embedded_owner, s_clear_env),
        cmocka_unit_test_setup(test_embedded_service, s_clear_env),
        cmocka_unit_test_setup(test_embedded_quoting, s_clear_env),
        cmocka_unit_test_setup(test_embedded_ignores_pg_env, s_clear_env),
        cmocka_unit_test_setup(test_service_url, s_clear_env),
        cmocka_unit_test_setup(test_owner_url, s_clear_env),
        cmocka_unit_test_setup(test_owner_url_quoting, s_clear_env),
        cmocka_unit_test_setup(test_failures, s_clear_env),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
