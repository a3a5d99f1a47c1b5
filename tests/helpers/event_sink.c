/*
 * event_sink - a real subscriber process for tests and the benchmark.
 *
 * Follows one stream through sp_subscriber and applies every matching event
 * exactly once into its own schema (default "eventsink"), as the owner role:
 * each apply is one transaction that inserts a row into <schema>.applied
 * and advances <schema>.event_cursor.  <schema>.applied has no unique key on
 * seq on purpose, so a test sees any duplicate.  The schema, tables and the
 * cursor's trigger are created at start if missing.
 *
 * Logs JSON lines with counts and seqs, never payload values.  Exits 0 on
 * SIGTERM/SIGINT (after the apply in progress), or once it has applied
 * --exit-after events.
 */
#include "sp_client.h"
#include "sp_config.h"
#include "sp_db.h"
#include "sp_log.h"
#include "sp_outbox.h"
#include "sp_subscriber.h"

#include <inttypes.h>
#include <libpq-fe.h>
#include <limits.h>
#include <stdarg.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zmq.h>

#define S_LOG_EVERY 1000

typedef struct {
    uv_loop_t *loop;
    void *ctx;
    sp_db_t *db;
    sp_subscriber_t *subscriber;
    uv_signal_t sigterm, sigint;
    const char *stream;
    char *sql_insert;
    char *sql_cursor;
    long long exit_after;
    uint64_t applied; /* applied by this process */
    uint64_t duplicates;
    uint64_t retries;
    bool applying;
    bool stopping;
    bool stopped;
    uint64_t last_seq;
} s_sink_t;

static bool s_identifier_ok(const char *name)
{
    if (!name || !*name || strlen(name) > 63 ||
        !((name[0] >= 'a' && name[0] <= 'z') || name[0] == '_'))
        return false;
    for (const char *p = name; *p; p++)
        if (!((*p >= 'a' && *p <= 'z') || (*p >= '0' && *p <= '9') || *p == '_'))
            return false;
    return true;
}

static char *s_printf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static char *s_printf(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    char *out = NULL;
    if (vasprintf(&out, fmt, ap) < 0)
        abort();
    va_end(ap);
    return out;
}

static void s_ignore_notice(void *arg, const char *message)
{
    (void)arg;
    (void)message;
}

/* Create the schema, tables and trigger if missing (blocking, as owner),
 * serialised by an advisory lock so several sinks may start at once. */
static int s_setup_schema(const char *conninfo, const char *schema)
{
    PGconn *pg = PQconnectdb(conninfo);
    if (!pg || PQstatus(pg) != CONNECTION_OK) {
        sp_log_error("could not connect to database", SP_LOG_STR("schema", schema),
                     SP_LOG_STR("error", pg ? PQerrorMessage(pg) : "out of memory"), SP_LOG_END);
        PQfinish(pg);
        return -1;
    }
    PQsetNoticeProcessor(pg, s_ignore_notice, NULL); /* "already exists, skipping" */
    const char *s = schema;
    char *ddl = s_printf(
        "BEGIN;"
        "SELECT pg_advisory_xact_lock(1397050955);"
        "CREATE SCHEMA IF NOT EXISTS %s;"
        "CREATE TABLE IF NOT EXISTS %s.applied ("
        " stream text NOT NULL, seq bigint NOT NULL, type text NOT NULL, tenant text NOT NULL,"
        " entity_id text NOT NULL, applied_at timestamptz NOT NULL DEFAULT clock_timestamp());"
        "CREATE TABLE IF NOT EXISTS %s.event_cursor (stream text PRIMARY KEY, last_seq bigint NOT "
        "NULL);"
        "CREATE OR REPLACE FUNCTION %s.event_cursor_forward() RETURNS trigger LANGUAGE plpgsql AS "
        "$$"
        " BEGIN"
        "  IF NEW.last_seq <= OLD.last_seq THEN"
        "   RAISE EXCEPTION 'event %% of stream %% already applied', NEW.last_seq, NEW.stream"
        "    USING ERRCODE = 'unique_violation', CONSTRAINT = 'event_cursor_forward';"
        "  END IF;"
        "  RETURN NEW;"
        " END $$;"
        "CREATE OR REPLACE TRIGGER event_cursor_forward BEFORE UPDATE ON %s.event_cursor"
        " FOR EACH ROW EXECUTE FUNCTION %s.event_cursor_forward();"
        "COMMIT;",
        s, s, s, s, s, s);
    PGresult *res = PQexec(pg, ddl);
    free(ddl);
    int rc = 0;
    if (PQresultStatus(res) != PGRES_COMMAND_OK) {
        sp_log_error("could not create the sink's schema", SP_LOG_STR("schema", schema),
                     SP_LOG_STR("sqlstate", PQresultErrorField(res, PG_DIAG_SQLSTATE)), SP_LOG_END);
        rc = -1;
    }
    PQclear(res);
    PQfinish(pg);
    return rc;
}

static void s_shutdown(s_sink_t *sink)
{
    if (sink->stopped)
        return;
    sink->stopped = true;
    sp_log_info("event sink stopped", SP_LOG_STR("stream", sink->stream),
                SP_LOG_INT("applied", sink->applied), SP_LOG_INT("duplicates", sink->duplicates),
                SP_LOG_INT("retries", sink->retries),
                SP_LOG_INT("position", sp_subscriber_position(sink->subscriber)),
                SP_LOG_INT("replays", sp_subscriber_replay_count(sink->subscriber)), SP_LOG_END);
    sp_subscriber_destroy(&sink->subscriber);
    sp_db_destroy(&sink->db);
    uv_close((uv_handle_t *)&sink->sigterm, NULL);
    uv_close((uv_handle_t *)&sink->sigint, NULL);
}

static void s_on_applied(sp_db_tx_t *tx, void *arg)
{
    s_sink_t *sink = arg;
    uint64_t seq = sink->last_seq;
    sink->applying = false;
    sp_apply_result_t result;
    if (sp_db_tx_ok(tx)) {
        result = SP_APPLY_OK;
        sink->applied++;
        if (sink->applied % S_LOG_EVERY == 0)
            sp_log_info("events applied", SP_LOG_STR("stream", sink->stream),
                        SP_LOG_INT("applied", sink->applied), SP_LOG_INT("seq", seq), SP_LOG_END);
    } else if (sp_subscriber_tx_duplicate(tx)) {
        result = SP_APPLY_DUPLICATE;
        sink->duplicates++;
        sp_log_info("event already applied", SP_LOG_STR("stream", sink->stream),
                    SP_LOG_INT("seq", seq), SP_LOG_END);
    } else {
        result = SP_APPLY_RETRY;
        sink->retries++;
        sp_log_warn("could not apply event; retrying", SP_LOG_STR("stream", sink->stream),
                    SP_LOG_INT("seq", seq), SP_LOG_STR("sqlstate", sp_db_tx_sqlstate(tx)),
                    SP_LOG_INT("connection", sp_db_tx_connection_failed(tx)), SP_LOG_END);
    }
    sp_db_tx_destroy(&tx);
    if (sink->stopped)
        return;
    sp_subscriber_done(sink->subscriber, seq, result);
    bool done = sink->exit_after > 0 && sink->applied >= (uint64_t)sink->exit_after;
    if (done)
        sp_log_info("applied the requested number of events", SP_LOG_STR("stream", sink->stream),
                    SP_LOG_INT("applied", sink->applied), SP_LOG_END);
    if (done || sink->stopping)
        s_shutdown(sink);
}

static void s_apply(sp_subscriber_t *subscriber, const Samspil__V1__Event *event, void *arg)
{
    (void)subscriber;
    s_sink_t *sink = arg;
    if (sink->stopping || (sink->exit_after > 0 && sink->applied >= (uint64_t)sink->exit_after))
        return; /* shutting down: left for the next run */
    char seq[24];
    snprintf(seq, sizeof seq, "%" PRIu64, event->seq);
    const char *row[] = {event->stream, seq, event->type, event->tenant, event->entity_id};
    const char *cursor[] = {event->stream, seq};
    sp_db_tx_t *tx = sp_db_tx_new(sink->db);
    sp_db_tx_add(tx, sink->sql_insert, 5, row);
    sp_db_tx_add(tx, sink->sql_cursor, 2, cursor);
    sink->applying = true;
    sink->last_seq = event->seq;
    sp_log_debug("applying event", SP_LOG_STR("stream", event->stream),
                 SP_LOG_INT("seq", event->seq), SP_LOG_STR("type", event->type), SP_LOG_END);
    sp_db_tx_run(tx, s_on_applied, sink);
}

static void s_on_signal(uv_signal_t *handle, int signum)
{
    s_sink_t *sink = handle->data;
    if (sink->stopping)
        return;
    sink->stopping = true;
    sp_log_info("stopping on signal", SP_LOG_INT("signal", signum), SP_LOG_END);
    if (!sink->applying)
        s_shutdown(sink);
}

int main(int argc, char **argv)
{
    sp_log_init("event-sink");
    sp_option_t opts[] = {
        {.flag = "stream",
         .env = "SAMSPIL_SINK_STREAM",
         .metavar = "NAME",
         .default_value = "registration",
         .help = "stream to follow"},
        {.flag = "type-prefix",
         .env = "SAMSPIL_SINK_TYPE_PREFIX",
         .metavar = "PREFIX",
         .default_value = "",
         .help = "apply only events whose type starts with this"},
        {.flag = "schema",
         .env = "SAMSPIL_SINK_SCHEMA",
         .metavar = "NAME",
         .default_value = "eventsink",
         .help = "schema of the applied and event_cursor tables"},
        {.flag = "home",
         .env = "SAMSPIL_HOME",
         .metavar = "DIR",
         .default_value = "./var",
         .help = "suite home directory"},
        {.flag = "broker",
         .env = "SAMSPIL_BROKER",
         .metavar = "ENDPOINT",
         .help =
             "broker client endpoint for replays (default: ipc://$SAMSPIL_HOME/run/broker.ipc)"},
        {.flag = "events",
         .env = "SAMSPIL_EVENTS_OUT",
         .metavar = "ENDPOINT",
         .help = "broker events-out endpoint (default: ipc://$SAMSPIL_HOME/run/events-out.ipc)"},
        {.flag = "database",
         .env = "SAMSPIL_SINK_DATABASE",
         .metavar = "CONNINFO",
         .help = "owner conninfo (default: the suite's owner conninfo)"},
        {.flag = "exit-after",
         .type = SP_OPT_INT,
         .metavar = "N",
         .default_value = "0",
         .help = "exit 0 after applying N events (0: run until SIGTERM)"},
        {.flag = "replay-batch",
         .type = SP_OPT_INT,
         .metavar = "N",
         .default_value = "500",
         .help = "events per replay request (1..5000)"},
        {.flag = "replay-timeout-ms",
         .type = SP_OPT_INT,
         .metavar = "MS",
         .default_value = "3000",
         .help = "per replay attempt"},
        {.flag = "from-head",
         .type = SP_OPT_FLAG,
         .help = "ignore the stored position and start after the current head"},
    };
    const sp_program_info_t info = {
        .program = "event_sink",
        .description = "Test subscriber: applies each event of a stream exactly once into "
                       "<schema>.applied, with the position in <schema>.event_cursor.",
    };
    size_t nopts = sizeof opts / sizeof opts[0];
    if (sp_config_parse(&info, opts, nopts, argc, argv, NULL, NULL) < 0)
        return 2;
    const char *stream = opts[0].value;
    const char *prefix = opts[1].value;
    const char *schema = opts[2].value;
    const char *home_opt = opts[3].value;
    long long exit_after = opts[7].int_value;
    long long replay_batch = opts[8].int_value;
    long long replay_timeout = opts[9].int_value;
    if (!s_identifier_ok(schema)) {
        fprintf(stderr, "event_sink: --schema must be a lower-case SQL identifier\n");
        return 2;
    }
    if (exit_after < 0 || replay_batch < 1 || replay_batch > SP_OUTBOX_REPLAY_MAX ||
        replay_timeout < 1 || replay_timeout > 600000) {
        fprintf(stderr, "event_sink: --exit-after, --replay-batch or --replay-timeout-ms out of "
                        "range\n");
        return 2;
    }
    char home[PATH_MAX];
    if (!realpath(home_opt, home)) {
        sp_log_error("home directory does not exist", SP_LOG_STR("home", home_opt), SP_LOG_END);
        return 2;
    }
    char broker[PATH_MAX + 32], events[PATH_MAX + 32], conninfo[4096];
    if (opts[4].value && *opts[4].value)
        snprintf(broker, sizeof broker, "%s", opts[4].value);
    else
        sp_client_default_endpoint(home, broker, sizeof broker);
    if (opts[5].value && *opts[5].value)
        snprintf(events, sizeof events, "%s", opts[5].value);
    else
        sp_events_out_default(home, events, sizeof events);
    if (opts[6].value && *opts[6].value)
        snprintf(conninfo, sizeof conninfo, "%s", opts[6].value);
    else if (sp_db_conninfo(home, NULL, conninfo, sizeof conninfo) != 0)
        return 2;

    if (s_setup_schema(conninfo, schema) != 0)
        return 1;
    uint64_t position = 0;
    if (sp_subscriber_load_position(conninfo, schema, stream, &position) != 0)
        return 1;

    s_sink_t sink = {.stream = stream, .exit_after = exit_after};
    sink.sql_insert = s_printf("INSERT INTO %s.applied (stream, seq, type, tenant, entity_id) "
                               "VALUES ($1, $2::bigint, $3, $4, $5)",
                               schema);
    sink.sql_cursor = s_printf("INSERT INTO %s.event_cursor (stream, last_seq) VALUES ($1, "
                               "$2::bigint) ON CONFLICT (stream) DO UPDATE SET last_seq = "
                               "EXCLUDED.last_seq",
                               schema);
    sink.loop = uv_default_loop();
    sink.ctx = zmq_ctx_new();
    sink.db = sp_db_new(sink.loop, conninfo, 1);
    if (!sink.ctx || !sink.db || sp_db_open(sink.db) != 0)
        return 1;
    sp_subscriber_config_t config = {
        .stream = stream,
        .type_prefix = prefix,
        .events_endpoint = events,
        .broker_endpoint = broker,
        .position = position,
        .from_head = opts[10].int_value != 0,
        .replay_batch = (unsigned)replay_batch,
        .replay_timeout_ms = (int)replay_timeout,
        .apply = s_apply,
        .arg = &sink,
    };
    sink.subscriber = sp_subscriber_new(sink.loop, sink.ctx, &config);
    if (!sink.subscriber || sp_subscriber_start(sink.subscriber) != 0) {
        sp_subscriber_destroy(&sink.subscriber);
        sp_db_destroy(&sink.db);
        uv_run(sink.loop, UV_RUN_NOWAIT);
        zmq_ctx_term(sink.ctx);
        return 1;
    }
    sp_log_info("event sink started", SP_LOG_STR("stream", stream), SP_LOG_STR("schema", schema),
                SP_LOG_INT("position", position), SP_LOG_INT("exit_after", exit_after), SP_LOG_END);
    uv_signal_init(sink.loop, &sink.sigterm);
    uv_signal_init(sink.loop, &sink.sigint);
    sink.sigterm.data = sink.sigint.data = &sink;
    uv_signal_start(&sink.sigterm, s_on_signal, SIGTERM);
    uv_signal_start(&sink.sigint, s_on_signal, SIGINT);
    uv_run(sink.loop, UV_RUN_DEFAULT);
    zmq_ctx_term(sink.ctx);
    uv_loop_close(sink.loop);
    free(sink.sql_insert);
    free(sink.sql_cursor);
    return 0;
}
