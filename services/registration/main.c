/*
 * samspil-registration - the samspil.registration service: tenants,
 * partnerships, actors, memberships, relations and consent records in the
 * `registration` schema.  Options -> database pool -> worker; or, with
 * --migrate, apply the schema's migrations as the owner and exit.
 *
 * Beside the samspil.registration worker, on the same loop and ZeroMQ
 * context, the process runs the stream's outbox relay (sp_outbox: the
 * instance holding the stream's advisory lock publishes
 * registration.outbox in sequence order on the broker's events-in
 * endpoint) and a second worker for "samspil.events.registration", the
 * replay service.  SIGTERM/SIGINT: both workers stop taking work and finish
 * what they hold (grace 5 s), then the relay, the database pool and the
 * sockets close and the process exits 0.
 *
 * Data keys (docs/privacy.md): the key directory (--data-keys,
 * SAMSPIL_DATA_KEYS, default $SAMSPIL_HOME/keys/data) holds the CPR
 * pseudonym key and the data keys that seal contact points.  A worker
 * creates the keys that are missing when it starts (several at once agree
 * on one set), or --init-keys does only that and exits.  Every
 * --data-keys-reload-ms the worker reloads the directory if it changed, so
 * a key another worker created (data_key_rotate) is used for new values.
 */
#include "registration_handlers.h"
#include "sp_config.h"
#include "sp_crypto.h"
#include "sp_db.h"
#include "sp_log.h"
#include "sp_migrate.h"
#include "sp_outbox.h"
#include "sp_service_options.h"
#include "sp_worker.h"

#include <errno.h>
#include <libpq-fe.h>
#include <sodium.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zmq.h>

/* embedded from services/registration/sql/ by deploy/embed-sql.sh */
extern const sp_migration_t registration_migrations[];
extern const size_t registration_migrations_count;

#define S_SCHEMA "registration"
#define S_STREAM "registration"
#define S_GRACE_MS 5000

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
    sp_keyring_t *keys;
    uv_timer_t reload; /* of the key directory */
    bool reload_started;
    registration_handlers_t *handlers;
    sp_outbox_t *outbox;
    sp_worker_t *worker; /* samspil.registration */
    sp_worker_t *replay; /* samspil.events.registration */
    uv_signal_t sigterm, sigint;
    bool stopping;
    int stopped; /* workers that have finished stopping */
} s_service_t;

/* Release everything; the loop then runs out.  Safe on a partial start. */
static void s_shutdown(s_service_t *svc)
{
    if (svc->handlers)
        registration_handlers_stop(svc->handlers);
    if (svc->reload_started && !uv_is_closing((uv_handle_t *)&svc->reload))
        uv_close((uv_handle_t *)&svc->reload, NULL);
    sp_db_destroy(&svc->db);         /* transactions still running end as "unavailable" */
    sp_outbox_destroy(&svc->outbox); /* replays in flight are answered "unavailable" */
    sp_worker_destroy(&svc->worker);
    sp_worker_destroy(&svc->replay);
    if (!uv_is_closing((uv_handle_t *)&svc->sigterm))
        uv_close((uv_handle_t *)&svc->sigterm, NULL);
    if (!uv_is_closing((uv_handle_t *)&svc->sigint))
        uv_close((uv_handle_t *)&svc->sigint, NULL);
}

/* A worker has stopped taking work and answered what it held (or the grace
 * time ran out); once both have, shut down. */
static void s_worker_stopped(void *arg)
{
    s_service_t *svc = arg;
    if (++svc->stopped == 2)
        s_shutdown(svc);
}

static void s_on_signal(uv_signal_t *handle, int signum)
{
    s_service_t *svc = handle->data;
    if (svc->stopping) {
        sp_log_info("already stopping", SP_LOG_INT("signal", signum), SP_LOG_END);
        return;
    }
    svc->stopping = true;
    sp_log_info("stopping on signal", SP_LOG_INT("signal", signum), SP_LOG_END);
    sp_worker_stop(svc->worker, S_GRACE_MS, s_worker_stopped, svc);
    sp_worker_stop(svc->replay, S_GRACE_MS, s_worker_stopped, svc);
}

/* Load the key directory again when it changed (another worker rotated). */
static void s_on_reload(uv_timer_t *timer)
{
    s_service_t *svc = timer->data;
    if (!sp_keyring_stale(svc->keys))
        return;
    uint32_t before = sp_keyring_current(svc->keys);
    if (sp_keyring_load(svc->keys) == 0 && sp_keyring_current(svc->keys) != before)
        sp_log_info("data keys reloaded", SP_LOG_INT("keys", sp_keyring_count(svc->keys)),
                    SP_LOG_INT("current", sp_keyring_current(svc->keys)), SP_LOG_END);
}

/* The key ring of `dir` with every missing key created; NULL after logging. */
static sp_keyring_t *s_keys(const char *dir)
{
    sp_keyring_t *keys = sp_keyring_new(dir);
    if (!keys || sp_keyring_init(keys) < 0) {
        sp_log_error("could not set up the data keys", SP_LOG_STR("dir", dir), SP_LOG_END);
        sp_keyring_destroy(&keys);
        return NULL;
    }
    return keys;
}

static void s_close_leftover(uv_handle_t *handle, void *arg)
{
    (void)arg;
    if (!uv_is_closing(handle))
        uv_close(handle, NULL);
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
        {.flag = "events-in",
         .env = "SAMSPIL_EVENTS_IN",
         .type = SP_OPT_STRING,
         .metavar = "ENDPOINT",
         .help = "broker's events-in (XSUB) endpoint the outbox relay publishes to "
                 "(default ipc://$SAMSPIL_HOME/run/events-in.ipc)"},
        {.flag = "data-keys",
         .env = "SAMSPIL_DATA_KEYS",
         .type = SP_OPT_STRING,
         .metavar = "DIR",
         .help = "directory of the data keys: CPR pseudonym key and contact point keys "
                 "(default $SAMSPIL_HOME/keys/data)"},
        {.flag = "data-keys-reload-ms",
         .env = "SAMSPIL_DATA_KEYS_RELOAD_MS",
         .type = SP_OPT_INT,
         .metavar = "MS",
         .default_value = "2000",
         .help = "how often to look for data keys other workers created"},
        {.flag = "init-keys",
         .type = SP_OPT_FLAG,
         .help = "create the data keys that are missing, then exit"},
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

    const sp_option_t *keys_opt = sp_config_find(opts, nopts, "data-keys");
    char keys_dir[PATH_MAX];
    if (keys_opt->value && *keys_opt->value)
        snprintf(keys_dir, sizeof keys_dir, "%s", keys_opt->value);
    else if (!sp_keyring_default_dir(abs_home, keys_dir, sizeof keys_dir)) {
        sp_log_error("data key directory path is too long", SP_LOG_END);
        return 2;
    }
    long long reload_ms = sp_config_find(opts, nopts, "data-keys-reload-ms")->int_value;
    if (reload_ms < 10 || reload_ms > 3600000) {
        sp_log_error("invalid option value", SP_LOG_INT("data_keys_reload_ms", reload_ms),
                     SP_LOG_END);
        return 2;
    }
    if (sp_config_find(opts, nopts, "init-keys")->int_value) {
        sp_keyring_t *keys = s_keys(keys_dir);
        if (!keys)
            return 1;
        sp_log_info("data keys ready", SP_LOG_STR("dir", keys_dir),
                    SP_LOG_INT("current", sp_keyring_current(keys)), SP_LOG_END);
        sp_keyring_destroy(&keys);
        return 0;
    }

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

    const sp_option_t *events_opt = sp_config_find(opts, nopts, "events-in");
    char events_in[PATH_MAX + 32];
    if (events_opt->value && *events_opt->value)
        snprintf(events_in, sizeof events_in, "%s", events_opt->value);
    else
        sp_events_in_default(abs_home, events_in, sizeof events_in);

    uv_loop_t *loop = uv_default_loop();
    void *zctx = zmq_ctx_new();
    if (!zctx) {
        sp_log_error("could not create zeromq context", SP_LOG_STR("error", zmq_strerror(errno)),
                     SP_LOG_END);
        return 1;
    }
    s_service_t svc = {0};
    svc.keys = s_keys(keys_dir);
    if (!svc.keys) {
        zmq_ctx_term(zctx);
        return 1;
    }
    uv_signal_init(loop, &svc.sigterm);
    uv_signal_init(loop, &svc.sigint);
    svc.sigterm.data = svc.sigint.data = &svc;
    int rc = 0;
    svc.db = sp_db_new(loop, conninfo, (int)conns);
    if (!svc.db || sp_db_open(svc.db) != 0) {
        rc = 1;
        goto done;
    }
    svc.handlers = registration_handlers_new(loop, svc.db, (int)conns, svc.keys, (int)reload_ms);
    if (!svc.handlers)
        abort();
    uv_timer_init(loop, &svc.reload);
    svc.reload.data = &svc;
    svc.reload_started = true;
    uv_timer_start(&svc.reload, s_on_reload, (uint64_t)reload_ms, (uint64_t)reload_ms);

    const sp_outbox_config_t oc = {
        .stream = S_STREAM,
        .schema = S_SCHEMA,
        .conninfo = conninfo,
        .events_endpoint = events_in,
    };
    svc.outbox = sp_outbox_new(loop, zctx, &oc);
    if (!svc.outbox || sp_outbox_start(svc.outbox) != 0) {
        sp_log_error("could not start the outbox relay", SP_LOG_STR("stream", S_STREAM),
                     SP_LOG_END);
        rc = 1;
        goto done;
    }

    const sp_worker_config_t config = {
        .endpoint = so.endpoint,
        .service = "samspil.registration",
        .credit = so.credit,
        .heartbeat_ms = so.heartbeat_ms,
        .handler = registration_handle,
        .handler_arg = svc.handlers,
    };
    const sp_worker_config_t replay_config = {
        .endpoint = so.endpoint,
        .service = "samspil.events." S_STREAM,
        .credit = so.credit,
        .heartbeat_ms = so.heartbeat_ms,
        .handler = sp_outbox_replay_handler,
        .handler_arg = svc.outbox,
    };
    svc.worker = sp_worker_new(loop, zctx, &config);
    svc.replay = sp_worker_new(loop, zctx, &replay_config);
    if (!svc.worker || !svc.replay || sp_worker_start(svc.worker) < 0 ||
        sp_worker_start(svc.replay) < 0) {
        sp_log_error("could not start worker", SP_LOG_STR("service", "samspil.registration"),
                     SP_LOG_END);
        rc = 1;
        goto done;
    }
    uv_signal_start(&svc.sigterm, s_on_signal, SIGTERM);
    uv_signal_start(&svc.sigint, s_on_signal, SIGINT);
    sp_log_info("registration ready", SP_LOG_INT("credit", so.credit),
                SP_LOG_INT("db_connections", conns), SP_LOG_STR("events_in", events_in),
                SP_LOG_INT("data_key", sp_keyring_current(svc.keys)), SP_LOG_END);
    uv_run(loop, UV_RUN_DEFAULT);

done:
    s_shutdown(&svc); /* after a stop: nothing left to do */
    uv_run(loop, UV_RUN_DEFAULT);
    uv_walk(loop, s_close_leftover, NULL); /* anything left behind (unreferenced handles) */
    uv_run(loop, UV_RUN_DEFAULT);
    registration_handlers_destroy(&svc.handlers);
    sp_keyring_destroy(&svc.keys);
    zmq_ctx_term(zctx);
    uv_loop_close(loop);
    return rc;
}
