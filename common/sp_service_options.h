/*
 * sp_service_options.h - the options every service worker takes: the broker
 * endpoint, the suite home, the credit and the heartbeat interval.  Rows for
 * the program's sp_option_t table (flags, environment variables, defaults and
 * help text the same in every service), and their values checked and
 * resolved once sp_config_parse has run:
 *
 *   sp_option_t opts[] = {
 *       sp_service_opt_broker(),
 *       sp_service_opt_home(NULL),
 *       sp_service_opt_credit("SAMSPIL_ECHO_CREDIT", "32"),
 *       sp_service_opt_heartbeat(),
 *       ... the service's own rows, in the order --help shows them ...
 *   };
 *   if (sp_config_parse(&info, opts, nopts, argc, argv, NULL, NULL) < 0)
 *       return 2;
 *   sp_service_options_t so;
 *   if (sp_service_options_resolve(opts, nopts, NULL, &so) != 0)
 *       return 2;
 */
#ifndef SP_SERVICE_OPTIONS_H
#define SP_SERVICE_OPTIONS_H

#include "sp_config.h"

#include <stddef.h>

/* --broker ENDPOINT (SAMSPIL_BROKER); unset: the suite home's ipc endpoint. */
sp_option_t sp_service_opt_broker(void);

/* --home DIR (SAMSPIL_HOME, default "./var"); `help` NULL: "suite home
 * directory". */
sp_option_t sp_service_opt_home(const char *help);

/* --credit N from `env` (e.g. "SAMSPIL_ECHO_CREDIT"), default
 * `default_value`: requests the worker holds at once. */
sp_option_t sp_service_opt_credit(const char *env, const char *default_value);

/* --heartbeat-ms MS (SAMSPIL_HEARTBEAT_MS, default 1000). */
sp_option_t sp_service_opt_heartbeat(void);

/* The checked values of the rows above. */
typedef struct {
    unsigned credit;     /* 1..SP_MDP_MAX_CREDIT */
    int heartbeat_ms;    /* 10..60000 */
    char endpoint[4096]; /* --broker, else ipc://<absolute home>/run/broker.ipc */
} sp_service_options_t;

/* The --home directory as an absolute path with links resolved, into `out`
 * (`outlen` bytes).  Returns 0, or -1 after logging when the directory does
 * not exist or the path does not fit. */
int sp_service_options_home(sp_option_t *opts, size_t nopts, char *out, size_t outlen);

/* Check --credit and --heartbeat-ms and work out the broker endpoint into
 * *out; the default endpoint is computed from `home` (an absolute home from
 * sp_service_options_home), or from the --home value when `home` is NULL.
 * `opts` must hold the four rows above.  Returns 0, or -1 after logging
 * (callers exit 2). */
int sp_service_options_resolve(sp_option_t *opts, size_t nopts, const char *home,
                               sp_service_options_t *out);

#endif
