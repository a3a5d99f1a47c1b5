/*
 * samspil-registration - the samspil.registration service: tenants,
 * partnerships, actors, memberships, relations and consent records in the
 * `registration` schema.  Options -> database pool -> worker; or, with
 * --migrate, apply the schema's migrations as the owner and exit.
 */
#include "registration_handlers.h"
#include "sp_config.h"
#include "sp_db.h"
#include "sp_log.h"
#include "sp_migrate.h"
#include "sp_service_options.h"
#include "sp_worker.h"

#include <libpq-fe.h>
#include <sodium.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* embedded from services/registration/sql/ by deploy/embed-sql.sh */
extern const sp_migration_t registration_migrations[];
extern const size_t registration_migrations_count;

#define S_SCHEMA "registration"

/* A blocking connection for start-up work; NULL after logging why. */
static PGconn *s_connect(const char *conninfo, const char *as)
{
    PGconn *conn = PQconnectdb(conninfo);
    if (!conn || PQstatus(conn) != CONNECTION_OK) {
        /* libpq's message names host and user but never the password */
        char why[256] = "out of memory";
        if (conn) {
            snprintf(why, sizeof why, "%s", PQerrorMessage(conn));
            why[strcspn(why, "\n")] = '\0';
        }
        sp_log_error("could not connect to the database", SP_LOG_STR("as", as),
                     SP_LOG_STR("error", why), SP_LOG_END);
        PQfinish(conn);
        return NULL;
    }
    return conn;
}

/* --migrate: apply the embedded migrations as the owner.  Exit status. */
static int s_migrate(const char *home)
{
    char conninfo[4096];
    if (sp_db_conninfo(home, NULL, conninfo, sizeof conninfo) != 0)
        return 1;
    PGconn *conn = s_connect(conninfo, "owner");
    if (!conn)
        return 1;
    int n =
        sp_migrate_apply(conn, S_SCHEMA, registration_migrations, registration_migrations_count);
    PQfinish(conn);
    return n < 0 ? 1 : 0;
}

/* The schema must be at the latest embedded migration.  Returns 0 or -1. */
static int s_check_schema(const char *conninfo)
{
    PGconn *conn = s_connect(conninfo, "samspil_registration");
    if (!conn)
        return -1;
    char current[256];
    int rc = sp_migrate_current(conn, S_SCHEMA, current, sizeof current);
    PQfinish(conn);
    if (rc != 0)
        return -1;
    const char *want = registration_migrations[registration_migrations_count - 1].name;
    if (strcmp(current, want) != 0) {
        sp_log_error("schema \"registration\" is not migrated; run samspil-registration --migrate",
                     SP_LOG_STR("current", current), SP_LOG_STR("expected", want), SP_LOG_END);
        return -1;
    }
    return 0;
}

typedef struct {
    sp_db_t *db;
    registration_handlers_t *handlers;
} s_service_t;

/* Called by sp_worker_main once the worker has stopped taking work and the
 * requests in flight are answered (or the grace time ran out). */
static void s_on_stop(void *arg)
{
    s_service_t *svc = arg;
    registration_handlers_stop(svc->handlers);
    sp_db_destroy(&svc->db); /* transactions still running end as "unavailable" */
}

int main(int argc, char **argv)
{
    sp_log_init("registration");
    if (sodium_init() < 0) {
        sp_log_error("could not initialise libsodium", SP_LOG_END);
        return 1;
    }
    sp_option_t opts[] = {
        sp_service_opt_broker(),
        sp_service_opt_home("suite home directory (embedded database, sockets)"),
        sp_service_opt_credit("SAMSPIL_REGISTRATION_CREDIT", "16"),
        {.flag = "db-connections",
         .env = "SAMSPIL_REGISTRATION_DB_CONNECTIONS",
         .type = SP_OPT_INT,
         .metavar = "N",
         .default_value = "1",
         .help = "database connections, i.e. transactions at once; requests that wait are "
                 "batched per tenant into one transaction"},
        sp_service_opt_heartbeat(),
        {.flag = "migrate",
         .type = SP_OPT_FLAG,
         .help = "apply the schema's migrations as the database owner, then exit"},
    };
    const sp_program_info_t info = {
        .program = "samspil-registration",
        .description =
            "Worker for the samspil.registration service: tenants, partnerships, actors, "
            "memberships, relations and consent records.  Database: SAMSPIL_DATABASE_URL (owner) "
            "and SAMSPIL_REGISTRATION_DATABASE_URL, else the embedded cluster under "
            "$SAMSPIL_HOME/pg.",
    };
    size_t nopts = sizeof opts / sizeof opts[0];
    if (sp_config_parse(&info, opts, nopts, argc, argv, NULL, NULL) < 0)
        return 2;

    char abs_home[PATH_MAX];
    if (sp_service_options_home(opts, nopts, abs_home, sizeof abs_home) != 0)
        return 2;
    if (sp_config_find(opts, nopts, "migrate")->int_value)
        return s_migrate(abs_home);

    sp_service_options_t so;
    if (sp_service_options_resolve(opts, nopts, abs_home, &so) != 0)
        return 2;
    long long conns = sp_config_find(opts, nopts, "db-connections")->int_value;
    if (conns < 1 || conns > 1000) {
        sp_log_error("invalid option value", SP_LOG_INT("db_connections", conns), SP_LOG_END);
        return 2;
    }

    char conninfo[4096];
    if (sp_db_conninfo(abs_home, S_SCHEMA, conninfo, sizeof conninfo) != 0)
        return 1;
    if (s_check_schema(conninfo) != 0)
        return 1;

    uv_loop_t *loop = uv_default_loop();
    s_service_t svc = {0};
    svc.db = sp_db_new(loop, conninfo, (int)conns);
    if (!svc.db || sp_db_open(svc.db) != 0) {
        sp_db_destroy(&svc.db);
        uv_run(loop, UV_RUN_NOWAIT);
        uv_loop_close(loop);
        return 1;
    }
    svc.handlers = registration_handlers_new(svc.db, (int)conns);
    if (!svc.handlers)
        abort();
    sp_log_info("registration ready", SP_LOG_INT("credit", so.credit),
                SP_LOG_INT("db_connections", conns), SP_LOG_END);

    sp_worker_config_t config = {
        .endpoint = so.endpoint,
        .service = "samspil.registration",
        .credit = so.credit,
        .heartbeat_ms = so.heartbeat_ms,
        .handler = registration_handle,
        .handler_arg = svc.handlers,
    };
    int rc = sp_worker_main(&config, loop, s_on_stop, &svc);
    sp_db_destroy(&svc.db); /* if the worker never started */
    uv_run(loop, UV_RUN_DEFAULT);
    registration_handlers_destroy(&svc.handlers);
    uv_loop_close(loop);
    return rc;
}
