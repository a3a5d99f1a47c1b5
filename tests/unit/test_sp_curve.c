/*
 * test_sp_curve.c - unit tests of certificate files: parsing (required
 * keys, Z85, the key pair matching, comments, errors that never show a
 * secret), writing (mode 0600, read back) and where a process finds its
 * certificate (SAMSPIL_PLAINTEXT, --key, SAMSPIL_KEY, the home default).
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

#include "sp_curve.h"
#include "sp_log.h"

static sp_curve_client_t s_cert;
static char s_broker_secret[SP_CURVE_KEY_Z85];
static char s_dir[256];

static int s_setup(void **state)
{
    memset(&s_cert, 0, sizeof s_cert);
    assert_int_equal(sp_curve_keypair(&s_cert), 0);
    sp_curve_client_t broker = {0};
    assert_int_equal(sp_curve_keypair(&broker), 0);
    memcpy(s_cert.broker_key, broker.public_key, SP_CURVE_KEY_Z85);
    memcpy(s_broker_secret, broker.secret_key, SP_CURVE_KEY_Z85);
    snprintf(s_cert.name, sizeof s_cert.name, "alice");
    snprintf(s_dir, sizeof s_dir, "%s/test_sp_curve.XXXXXX",
             getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp");
    assert_non_null(mkdtemp(s_dir));
    unsetenv("SAMSPIL_PLAINTEXT");
    unsetenv("SAMSPIL_KEY");
    return 0;
}

static int s_teardown(void **state)
{
    char cmd[400];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", s_dir);
    assert_int_equal(system(cmd), 0);
    return 0;
}

static void s_text(char *out, size_t outlen, const char *pub, const char *sec, const char *brk)
{
    snprintf(out, outlen,
             "# comment\n\n  name = alice  \nrole = integrator\ntenants = 101\n"
             "public-key = %s\nsecret-key=%s\r\nbroker-key =\t%s\nunknown = ignored\n",
             pub, sec, brk);
}

static void test_parse(void **state)
{
    char text[1024], err[128];
    sp_curve_client_t out;
    s_text(text, sizeof text, s_cert.public_key, s_cert.secret_key, s_cert.broker_key);
    assert_int_equal(sp_curve_cert_parse(text, strlen(text), &out, err, sizeof err), 0);
    assert_false(out.plaintext);
    assert_string_equal(out.name, "alice");
    assert_string_equal(out.public_key, s_cert.public_key);
    assert_string_equal(out.secret_key, s_cert.secret_key);
    assert_string_equal(out.broker_key, s_cert.broker_key);
}

static void test_parse_errors(void **state)
{
    char text[1024], err[128];
    sp_curve_client_t out;
    /* a public key that is not the secret key's */
    s_text(text, sizeof text, s_cert.broker_key, s_cert.secret_key, s_cert.broker_key);
    assert_int_equal(sp_curve_cert_parse(text, strlen(text), &out, err, sizeof err), -1);
    assert_string_equal(err, "public-key does not belong to secret-key");
    assert_string_equal(out.secret_key, ""); /* nothing left behind */
    /* a secret key with a bad character: the error names the key, not the value */
    char bad[SP_CURVE_KEY_Z85];
    memcpy(bad, s_cert.secret_key, sizeof bad);
    bad[3] = '"';
    s_text(text, sizeof text, s_cert.public_key, bad, s_cert.broker_key);
    assert_int_equal(sp_curve_cert_parse(text, strlen(text), &out, err, sizeof err), -1);
    assert_non_null(strstr(err, "secret-key"));
    assert_non_null(strstr(err, "line 7"));
    assert_null(strstr(err, bad));
    /* too short */
    s_text(text, sizeof text, s_cert.public_key, "abc", s_cert.broker_key);
    assert_int_equal(sp_curve_cert_parse(text, strlen(text), &out, err, sizeof err), -1);
    /* missing broker key */
    snprintf(text, sizeof text, "public-key = %s\nsecret-key = %s\n", s_cert.public_key,
             s_cert.secret_key);
    assert_int_equal(sp_curve_cert_parse(text, strlen(text), &out, err, sizeof err), -1);
    assert_string_equal(err, "broker-key is missing");
    /* no '=' */
    assert_int_equal(sp_curve_cert_parse("hello\n", 6, &out, err, sizeof err), -1);
    assert_string_equal(err, "line 1: expected \"key = value\"");
    /* an embedded NUL */
    assert_int_equal(sp_curve_cert_parse("a = b\0c\n", 8, &out, err, sizeof err), -1);
    assert_false(sp_curve_key_valid(NULL));
    assert_false(sp_curve_key_valid(""));
    assert_true(sp_curve_key_valid(s_cert.public_key));
}

static void test_write_read(void **state)
{
    char path[400];
    snprintf(path, sizeof path, "%s/alice.cert", s_dir);
    assert_int_equal(sp_curve_cert_write(path, &s_cert, "integrator", "101,147"), 0);
    struct stat st;
    assert_int_equal(stat(path, &st), 0);
    assert_int_equal(st.st_mode & 0777, 0600);
    sp_curve_client_t back;
    assert_int_equal(sp_curve_cert_read(path, &back), 0);
    assert_string_equal(back.public_key, s_cert.public_key);
    assert_string_equal(back.secret_key, s_cert.secret_key);
    assert_string_equal(back.broker_key, s_cert.broker_key);
    assert_string_equal(back.name, "alice");
    /* overwrite atomically */
    snprintf(s_cert.name, sizeof s_cert.name, "alice2");
    assert_int_equal(sp_curve_cert_write(path, &s_cert, "integrator", "101"), 0);
    assert_int_equal(sp_curve_cert_read(path, &back), 0);
    assert_string_equal(back.name, "alice2");
    /* invalid keys are refused */
    sp_curve_client_t bad = s_cert;
    bad.broker_key[0] = '\0';
    assert_int_equal(sp_curve_cert_write(path, &bad, "x", "y"), -1);
    char missing[400];
    snprintf(missing, sizeof missing, "%s/none.cert", s_dir);
    assert_int_equal(sp_curve_cert_read(missing, &back), -1);
}

static void test_load(void **state)
{
    char keys[300], path[400], other[400];
    snprintf(keys, sizeof keys, "%s/keys", s_dir);
    assert_int_equal(mkdir(keys, 0700), 0);
    snprintf(path, sizeof path, "%s/" SP_CURVE_SERVICE_CERT, keys);
    assert_int_equal(sp_curve_cert_write(path, &s_cert, "service", "*"), 0);
    sp_curve_client_t out;
    /* the default file under the home */
    assert_int_equal(sp_curve_client_load(s_dir, NULL, SP_CURVE_SERVICE_CERT, &out), 0);
    assert_string_equal(out.public_key, s_cert.public_key);
    /* SAMSPIL_HOME when home is NULL */
    setenv("SAMSPIL_HOME", s_dir, 1);
    assert_int_equal(sp_curve_client_load(NULL, NULL, SP_CURVE_SERVICE_CERT, &out), 0);
    assert_int_equal(sp_curve_client_load(NULL, NULL, SP_CURVE_OPERATOR_CERT, &out), -1);
    /* SAMSPIL_KEY, and --key over it */
    snprintf(other, sizeof other, "%s/other.cert", s_dir);
    sp_curve_client_t o = s_cert;
    assert_int_equal(sp_curve_keypair(&o), 0);
    assert_int_equal(sp_curve_cert_write(other, &o, "reader", "101"), 0);
    setenv("SAMSPIL_KEY", other, 1);
    assert_int_equal(sp_curve_client_load(NULL, NULL, SP_CURVE_SERVICE_CERT, &out), 0);
    assert_string_equal(out.public_key, o.public_key);
    assert_int_equal(sp_curve_client_load(NULL, path, SP_CURVE_SERVICE_CERT, &out), 0);
    assert_string_equal(out.public_key, s_cert.public_key);
    /* plain text only when asked for */
    setenv("SAMSPIL_PLAINTEXT", "0", 1);
    assert_int_equal(sp_curve_client_load(NULL, NULL, SP_CURVE_SERVICE_CERT, &out), 0);
    assert_false(out.plaintext);
    setenv("SAMSPIL_PLAINTEXT", "1", 1);
    assert_int_equal(sp_curve_client_load(NULL, "/nonexistent", SP_CURVE_SERVICE_CERT, &out), 0);
    assert_true(out.plaintext);
    unsetenv("SAMSPIL_PLAINTEXT");
    unsetenv("SAMSPIL_KEY");
    unsetenv("SAMSPIL_HOME");
    char home[300];
    assert_int_equal(sp_curve_home("/x/y//", home, sizeof home), 0);
    assert_string_equal(home, "/x/y");
    assert_int_equal(sp_curve_home(NULL, home, sizeof home), 0);
    assert_string_equal(home, "./var");
}

int main(void)
{
    sp_log_init("test_sp_curve");
    sp_log_set_level((sp_log_level_t)(SP_LOG_ERROR + 1)); /* quiet: errors are expected */
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_parse, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown(test_parse_errors, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown(test_write_read, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown(test_load, s_setup, s_teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
