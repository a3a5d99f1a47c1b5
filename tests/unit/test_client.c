/*
 * test_client.c - unit tests for the client's pure parts: the default
 * endpoint of a suite, and the errors of calls that never reach a broker.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wcomment"
#include "sp_client.h"
#pragma GCC diagnostic pop

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static char s_dir[PATH_MAX]; /* a fresh directory, made the cwd for each test */
static char s_old_cwd[PATH_MAX];

static int s_setup(void **state)
{
    (void)state;
    if (!getcwd(s_old_cwd, sizeof s_old_cwd))
        return -1;
    const char *tmp = getenv("TMPDIR");
    snprintf(s_dir, sizeof s_dir, "%s/sp-test-client-XXXXXX", tmp && *tmp ? tmp : "/tmp");
    if (!mkdtemp(s_dir) || chdir(s_dir) < 0)
        return -1;
    /* the temp dir may sit behind a symlink: compare against its real path */
    char real[PATH_MAX];
    if (!realpath(s_dir, real))
        return -1;
    snprintf(s_dir, sizeof s_dir, "%s", real);
    unsetenv("SAMSPIL_HOME");
    return 0;
}

static int s_teardown(void **state)
{
    (void)state;
    char path[PATH_MAX + 16];
    snprintf(path, sizeof path, "%s/var", s_dir);
    rmdir(path);
    if (chdir(s_old_cwd) < 0)
        return -1;
    rmdir(s_dir);
    return 0;
}

static void test_default_home_is_var_under_cwd(void **state)
{
    (void)state;
    char out[PATH_MAX + 64], want[PATH_MAX + 64];
    snprintf(want, sizeof want, "ipc://%s/var/run/broker.ipc", s_dir);
    assert_non_null(sp_client_default_endpoint(NULL, out, sizeof out));
    assert_string_equal(out, want);
    assert_non_null(sp_client_default_endpoint("", out, sizeof out));
    assert_string_equal(out, want);
    /* the same once the directory exists (realpath) */
    assert_int_equal(mkdir("var", 0700), 0);
    assert_non_null(sp_client_default_endpoint(NULL, out, sizeof out));
    assert_string_equal(out, want);
}

static void test_home_from_environment(void **state)
{
    (void)state;
    char out[PATH_MAX + 64];
    setenv("SAMSPIL_HOME", "/srv/samspil-a/", 1);
    assert_non_null(sp_client_default_endpoint(NULL, out, sizeof out));
    assert_string_equal(out, "ipc:///srv/samspil-a/run/broker.ipc");
    /* an explicit home wins over the environment */
    assert_non_null(sp_client_default_endpoint("/srv/b", out, sizeof out));
    assert_string_equal(out, "ipc:///srv/b/run/broker.ipc");
    unsetenv("SAMSPIL_HOME");
}

static void test_relative_home_is_made_absolute(void **state)
{
    (void)state;
    char out[PATH_MAX + 64], want[PATH_MAX + 64];
    snprintf(want, sizeof want, "ipc://%s/suite2/run/broker.ipc", s_dir);
    assert_non_null(sp_client_default_endpoint("./suite2", out, sizeof out));
    assert_string_equal(out, want);
    assert_non_null(sp_client_default_endpoint("suite2", out, sizeof out));
    assert_string_equal(out, want);
}

static void test_existing_home_resolves_dots(void **state)
{
    (void)state;
    char out[PATH_MAX + 64], want[PATH_MAX + 64];
    assert_int_equal(mkdir("var", 0700), 0);
    snprintf(want, sizeof want, "ipc://%s/var/run/broker.ipc", s_dir);
    assert_non_null(sp_client_default_endpoint("var/../var/.", out, sizeof out));
    assert_string_equal(out, want);
}

static void test_too_small_buffer(void **state)
{
    (void)state;
    char out[16];
    errno = 0;
    assert_null(sp_client_default_endpoint("/srv/samspil", out, sizeof out));
    assert_int_equal(errno, ENAMETOOLONG);
    assert_string_equal(out, "");
}

static void test_bad_endpoint_is_refused(void **state)
{
    (void)state;
    assert_null(sp_client_new("nonsense://nowhere"));
    assert_null(sp_client_new(""));
}

static void test_call_without_broker_times_out(void **state)
{
    (void)state;
    char endpoint[PATH_MAX + 64];
    snprintf(endpoint, sizeof endpoint, "ipc://%s/nobody.ipc", s_dir);
    sp_client_t *client = sp_client_new(endpoint);
    assert_non_null(client);
    sp_client_set_timeout(client, 50);
    sp_client_set_retries(client, 1);
    uint8_t *reply = NULL;
    size_t len = 0;
    errno = 0;
    assert_int_equal(sp_client_call(client, "samspil.echo", "x", 1, &reply, &len), -1);
    assert_int_equal(errno, ETIMEDOUT);
    assert_null(reply);
    errno = 0;
    assert_int_equal(sp_client_recv(client, 20, &reply, &len), -1);
    assert_int_equal(errno, ETIMEDOUT);
    sp_client_destroy(&client);
    assert_null(client);
    sp_client_destroy(&client); /* idempotent */
}

int main(void)
{
    /* these cases exercise the client without a broker or keys */
    setenv("SAMSPIL_PLAINTEXT", "1", 1);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_default_home_is_var_under_cwd, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown(test_home_from_environment, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown(test_relative_home_is_made_absolute, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown(test_existing_home_resolves_dots, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown(test_too_small_buffer, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown(test_bad_endpoint_is_refused, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown(test_call_without_broker_times_out, s_setup, s_teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
