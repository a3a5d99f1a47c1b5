/*
 * ctl_client.c - samspilctl's shared calling and reporting (see
 * ctl_client.h).
 */
#include "ctl_client.h"

#include "ctl_output.h"
#include "sp_error.h"

#include <errno.h>
#include <string.h>
#include <unistd.h>

int ctl_write(FILE *stream, const sp_buf_t *buf)
{
    if (buf->len && fwrite(buf->data, 1, buf->len, stream) != buf->len)
        return -1;
    return fflush(stream);
}

int ctl_emit(const sp_buf_t *buf)
{
    if (ctl_write(stdout, buf) < 0) {
        fprintf(stderr, CTL_PROGRAM ": could not write the output: %s\n", strerror(errno));
        return CTL_EXIT_REPLY;
    }
    return CTL_EXIT_OK;
}

int ctl_load_curve(const ctl_invocation_t *inv, sp_curve_client_t *out)
{
    if (sp_curve_client_load(inv->home, inv->key_path, SP_CURVE_OPERATOR_CERT, out) == 0)
        return 0;
    char path[4200];
    if (inv->key_path) {
        snprintf(path, sizeof path, "%s", inv->key_path);
    } else {
        char home[4096];
        if (sp_curve_home(inv->home, home, sizeof home) < 0)
            snprintf(home, sizeof home, "%s", inv->home);
        snprintf(path, sizeof path, "%s/keys/" SP_CURVE_OPERATOR_CERT, home);
    }
    fprintf(stderr,
            CTL_PROGRAM ": could not use the certificate %s (give --key FILE or set SAMSPIL_KEY; "
                        "SAMSPIL_PLAINTEXT=1 for a development suite)\n",
            path);
    return -1;
}

sp_client_t *ctl_connect(const ctl_invocation_t *inv, const sp_curve_client_t *curve)
{
    sp_client_t *client = sp_client_new_curve(inv->broker, curve);
    if (!client) {
        fprintf(stderr, CTL_PROGRAM ": could not connect to the broker at %s: %s\n", inv->broker,
                strerror(errno));
        return NULL;
    }
    sp_client_set_timeout(client, inv->timeout_ms);
    sp_client_set_retries(client, inv->retries);
    return client;
}

int ctl_call_failed(const ctl_invocation_t *inv, const char *service)
{
    if (errno == ETIMEDOUT) {
        fprintf(stderr,
                CTL_PROGRAM ": no reply from %s at the broker %s within %d ms (3 attempts)\n",
                service, inv->broker, inv->timeout_ms);
        return CTL_EXIT_UNAVAILABLE;
    }
    if (errno == EPROTO) {
        fprintf(stderr, CTL_PROGRAM ": malformed reply from %s\n", service);
        return CTL_EXIT_REPLY;
    }
    fprintf(stderr, CTL_PROGRAM ": could not send to the broker at %s: %s\n", inv->broker,
            strerror(errno));
    return CTL_EXIT_UNAVAILABLE;
}

int ctl_confirm(const ctl_invocation_t *inv, const char *what)
{
    if (inv->yes)
        return CTL_EXIT_OK;
    char name[64];
    ctl_command_name(inv->cmd, name, sizeof name);
    if (!isatty(STDIN_FILENO)) {
        fprintf(stderr,
                CTL_PROGRAM " %s: refusing to %s without --yes (stdin is not a terminal)\n"
                            "Try '" CTL_PROGRAM " %s --help'.\n",
                name, what, name);
        return CTL_EXIT_USAGE;
    }
    fprintf(stderr, "%s? This cannot be undone. Type yes to go on: ", what);
    fflush(stderr);
    char line[16];
    if (!fgets(line, sizeof line, stdin) || strcmp(line, "yes\n") != 0) {
        fprintf(stderr, CTL_PROGRAM " %s: not confirmed; nothing was done\n", name);
        return CTL_EXIT_USAGE;
    }
    return CTL_EXIT_OK;
}

int ctl_error_reply(const Samspil__V1__Error *err)
{
    sp_buf_t buf;
    sp_buf_init(&buf);
    ctl_output_error(&buf, err);
    ctl_write(stderr, &buf);
    sp_buf_free(&buf);
    return err->code == SAMSPIL__V1__ERROR_CODE__ERROR_CODE_UNAVAILABLE ? CTL_EXIT_UNAVAILABLE
                                                                        : CTL_EXIT_REPLY;
}
