/*
 * sp_service_options.c - the options every service worker takes (see
 * sp_service_options.h).
 */
#include "sp_service_options.h"

#include "sp_client.h"
#include "sp_log.h"
#include "sp_mdp.h"

#include <limits.h>
#include <stdlib.h>
#include <string.h>

sp_option_t sp_service_opt_broker(void)
{
    return (sp_option_t){.flag = "broker",
                         .env = "SAMSPIL_BROKER",
                         .metavar = "ENDPOINT",
                         .help = "broker endpoint (default: ipc://$SAMSPIL_HOME/run/broker.ipc)"};
}

sp_option_t sp_service_opt_home(const char *help)
{
    return (sp_option_t){.flag = "home",
                         .env = "SAMSPIL_HOME",
                         .metavar = "DIR",
                         .default_value = "./var",
                         .help = help ? help : "suite home directory"};
}

sp_option_t sp_service_opt_credit(const char *env, const char *default_value)
{
    return (sp_option_t){.flag = "credit",
                         .env = env,
                         .type = SP_OPT_INT,
                         .metavar = "N",
                         .default_value = default_value,
                         .help = "requests held at once (1..1000)"};
}

sp_option_t sp_service_opt_heartbeat(void)
{
    return (sp_option_t){.flag = "heartbeat-ms",
                         .env = "SAMSPIL_HEARTBEAT_MS",
                         .type = SP_OPT_INT,
                         .metavar = "MS",
                         .default_value = "1000",
                         .help = "heartbeat interval"};
}

/* A row the program must have declared; a missing one is a bug. */
static sp_option_t *s_row(sp_option_t *opts, size_t nopts, const char *flag)
{
    sp_option_t *opt = sp_config_find(opts, nopts, flag);
    if (!opt) {
        sp_log_error("service option not declared", SP_LOG_STR("flag", flag), SP_LOG_END);
        abort();
    }
    return opt;
}

int sp_service_options_home(sp_option_t *opts, size_t nopts, char *out, size_t outlen)
{
    const char *home = s_row(opts, nopts, "home")->value;
    char resolved[PATH_MAX];
    if (!home || !realpath(home, resolved)) {
        sp_log_error("suite home does not exist", SP_LOG_STR("home", home), SP_LOG_END);
        return -1;
    }
    size_t len = strlen(resolved);
    if (len >= outlen) {
        sp_log_error("suite home path too long", SP_LOG_INT("length", len), SP_LOG_END);
        return -1;
    }
    memcpy(out, resolved, len + 1);
    return 0;
}

int sp_service_options_resolve(sp_option_t *opts, size_t nopts, const char *home,
                               sp_service_options_t *out)
{
    long long credit = s_row(opts, nopts, "credit")->int_value;
    long long heartbeat_ms = s_row(opts, nopts, "heartbeat-ms")->int_value;
    if (credit < 1 || credit > SP_MDP_MAX_CREDIT || heartbeat_ms < 10 || heartbeat_ms > 60000) {
        sp_log_error("invalid option value", SP_LOG_INT("credit", credit),
                     SP_LOG_INT("heartbeat_ms", heartbeat_ms), SP_LOG_END);
        return -1;
    }
    out->credit = (unsigned)credit;
    out->heartbeat_ms = (int)heartbeat_ms;

    const char *endpoint = s_row(opts, nopts, "broker")->value;
    if (endpoint && *endpoint) {
        size_t len = strlen(endpoint);
        if (len >= sizeof out->endpoint) {
            sp_log_error("broker endpoint too long", SP_LOG_INT("length", len), SP_LOG_END);
            return -1;
        }
        memcpy(out->endpoint, endpoint, len + 1);
        return 0;
    }
    if (!home)
        home = s_row(opts, nopts, "home")->value;
    if (!sp_client_default_endpoint(home, out->endpoint, sizeof out->endpoint)) {
        sp_log_error("could not compute the broker endpoint", SP_LOG_END);
        return -1;
    }
    return 0;
}
