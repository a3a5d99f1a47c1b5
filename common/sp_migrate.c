/*
 * sp_migrate.c - apply a service's embedded SQL migrations, in order and
 * once each, recorded in <schema>.schema_migrations.
 *
 * The whole run holds a session advisory lock keyed on the schema, so many
 * instances starting at once apply each migration exactly once: the others
 * wait, then find it recorded.  Each migration and its record row commit
 * together or not at all.  Migration files must not contain their own
 * BEGIN/COMMIT.
 */
#include "sp_migrate.h"
#include "sp_log.h"

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Notices ("schema ... already exists, skipping") would be printed raw on
 * stderr by libpq's default processor and break the JSON log. */
static void s_quiet_notice(void *arg, const char *message)
{
    (void)arg;
    (void)message;
}

/* Log a failed command: the SQLSTATE and constraint always; the server's
 * message only for class 42 (syntax error or access rule violation), whose
 * messages quote SQL text and object names, never row data. */
static void s_log_failure(const char *what, const char *schema, const char *migration,
                          const PGresult *res, PGconn *conn)
{
    const char *state = res ? PQresultErrorField(res, PG_DIAG_SQLSTATE) : NULL;
    const char *constraint = res ? PQresultErrorField(res, PG_DIAG_CONSTRAINT_NAME) : NULL;
    const char *position = res ? PQresultErrorField(res, PG_DIAG_STATEMENT_POSITION) : NULL;
    const char *message = NULL;
    if (state && strncmp(state, "42", 2) == 0)
        message = PQresultErrorField(res, PG_DIAG_MESSAGE_PRIMARY);
    if (PQstatus(conn) == CONNECTION_BAD)
        message = "connection to the database lost";
    sp_log_error(what, SP_LOG_STR("schema", schema), SP_LOG_STR("migration", migration),
                 SP_LOG_STR("sqlstate", state), SP_LOG_STR("constraint", constraint),
                 SP_LOG_STR("position", position), SP_LOG_STR("error", message), SP_LOG_END);
}

/* Run `sql` (no parameters); returns 0 if it ended in `want`. */
static int s_exec(PGconn *conn, const char *sql, ExecStatusType want, const char *what,
                  const char *schema, const char *migration)
{
    PGresult *res = PQexec(conn, sql);
    int rc = PQresultStatus(res) == want ? 0 : -1;
    if (rc != 0)
        s_log_failure(what, schema, migration, res, conn);
    PQclear(res);
    return rc;
}

static int s_lock(PGconn *conn, const char *schema, bool lock)
{
    const char *sql = lock ? "SELECT pg_advisory_lock(hashtext('samspil.migrate.' || $1))"
                           : "SELECT pg_advisory_unlock(hashtext('samspil.migrate.' || $1))";
    PGresult *res = PQexecParams(conn, sql, 1, NULL, &schema, NULL, NULL, 0);
    int rc = PQresultStatus(res) == PGRES_TUPLES_OK ? 0 : -1;
    if (rc != 0)
        s_log_failure(lock ? "could not take migration lock" : "could not release migration lock",
                      schema, NULL, res, conn);
    PQclear(res);
    return rc;
}

/* "<quoted schema>.schema_migrations" in a malloc'ed string, or NULL. */
static char *s_table(PGconn *conn, const char *schema)
{
    char *q = PQescapeIdentifier(conn, schema, strlen(schema));
    if (!q)
        return NULL;
    size_t n = strlen(q) + sizeof ".schema_migrations";
    char *table = malloc(n);
    if (table)
        snprintf(table, n, "%s.schema_migrations", q);
    PQfreemem(q);
    return table;
}

/* Apply migrations[i] in its own transaction with its record row. */
static int s_apply_one(PGconn *conn, const char *schema, const char *table, const sp_migration_t *m)
{
    if (s_exec(conn, "BEGIN", PGRES_COMMAND_OK, "could not begin migration", schema, m->name))
        return -1;
    PGresult *res = PQexec(conn, m->sql);
    ExecStatusType st = PQresultStatus(res);
    if (st != PGRES_COMMAND_OK && st != PGRES_TUPLES_OK && st != PGRES_EMPTY_QUERY) {
        s_log_failure("could not apply migration", schema, m->name, res, conn);
        PQclear(res);
        goto rollback;
    }
    PQclear(res);
    if (PQtransactionStatus(conn) != PQTRANS_INTRANS) {
        sp_log_error("migration ended its transaction itself (no BEGIN/COMMIT in migrations)",
                     SP_LOG_STR("schema", schema), SP_LOG_STR("migration", m->name), SP_LOG_END);
        goto rollback;
    }
    char sql[512];
    snprintf(sql, sizeof sql, "INSERT INTO %s (name) VALUES ($1)", table);
    res = PQexecParams(conn, sql, 1, NULL, &m->name, NULL, NULL, 0);
    if (PQresultStatus(res) != PGRES_COMMAND_OK) {
        s_log_failure("could not record migration", schema, m->name, res, conn);
        PQclear(res);
        goto rollback;
    }
    PQclear(res);
    if (s_exec(conn, "COMMIT", PGRES_COMMAND_OK, "could not commit migration", schema, m->name))
        return -1;
    sp_log_info("applied migration", SP_LOG_STR("schema", schema), SP_LOG_STR("migration", m->name),
                SP_LOG_END);
    return 0;
rollback:
    PQclear(PQexec(conn, "ROLLBACK"));
    return -1;
}

int sp_migrate_apply(PGconn *conn, const char *schema, const sp_migration_t *migrations,
                     size_t count)
{
    if (!conn || !schema || !*schema || (count > 0 && !migrations))
        return -1;
    PQnoticeProcessor old_notice = PQsetNoticeProcessor(conn, s_quiet_notice, NULL);
    char *table = s_table(conn, schema);
    char *qschema = PQescapeIdentifier(conn, schema, strlen(schema));
    bool *applied = calloc(count ? count : 1, sizeof *applied);
    bool locked = false;
    int n = -1;
    if (!table || !qschema || !applied) {
        sp_log_error("could not prepare migrations", SP_LOG_STR("schema", schema), SP_LOG_END);
        goto out;
    }
    if (s_lock(conn, schema, true) != 0)
        goto out;
    locked = true;

    char sql[1024];
    snprintf(sql, sizeof sql,
             "CREATE SCHEMA IF NOT EXISTS %s; "
             "CREATE TABLE IF NOT EXISTS %s (name text PRIMARY KEY, "
             "applied_at timestamptz NOT NULL DEFAULT now())",
             qschema, table);
    if (s_exec(conn, sql, PGRES_COMMAND_OK, "could not create migrations table", schema, NULL))
        goto out;

    snprintf(sql, sizeof sql, "SELECT name FROM %s", table);
    PGresult *res = PQexec(conn, sql);
    if (PQresultStatus(res) != PGRES_TUPLES_OK) {
        s_log_failure("could not read applied migrations", schema, NULL, res, conn);
        PQclear(res);
        goto out;
    }
    for (int r = 0; r < PQntuples(res); r++) {
        const char *name = PQgetvalue(res, r, 0);
        for (size_t i = 0; i < count; i++)
            if (strcmp(migrations[i].name, name) == 0)
                applied[i] = true;
    }
    PQclear(res);

    n = 0;
    for (size_t i = 0; i < count; i++) {
        if (applied[i])
            continue;
        if (s_apply_one(conn, schema, table, &migrations[i]) != 0) {
            n = -1;
            break;
        }
        n++;
    }
    if (n >= 0)
        sp_log_info("migrations up to date", SP_LOG_STR("schema", schema), SP_LOG_INT("applied", n),
                    SP_LOG_INT("total", (long long)count), SP_LOG_END);
out:
    if (locked && PQstatus(conn) == CONNECTION_OK && s_lock(conn, schema, false) != 0)
        n = -1;
    free(applied);
    PQfreemem(qschema);
    free(table);
    PQsetNoticeProcessor(conn, old_notice, NULL);
    return n;
}

int sp_migrate_current(PGconn *conn, const char *schema, char *out, size_t outlen)
{
    if (!conn || !schema || !out || outlen == 0)
        return -1;
    out[0] = '\0';
    char *table = s_table(conn, schema);
    if (!table)
        return -1;
    int rc = -1;
    const char *param = table;
    PGresult *res =
        PQexecParams(conn, "SELECT to_regclass($1) IS NOT NULL", 1, NULL, &param, NULL, NULL, 0);
    if (PQresultStatus(res) != PGRES_TUPLES_OK || PQntuples(res) != 1) {
        s_log_failure("could not look up migrations table", schema, NULL, res, conn);
        goto out;
    }
    if (strcmp(PQgetvalue(res, 0, 0), "t") != 0) {
        rc = 0; /* no schema or no table: nothing applied */
        goto out;
    }
    PQclear(res);
    char sql[512];
    snprintf(sql, sizeof sql, "SELECT name FROM %s ORDER BY name DESC LIMIT 1", table);
    res = PQexec(conn, sql);
    if (PQresultStatus(res) != PGRES_TUPLES_OK) {
        s_log_failure("could not read applied migrations", schema, NULL, res, conn);
        goto out;
    }
    if (PQntuples(res) == 1) {
        const char *name = PQgetvalue(res, 0, 0);
        if (strlen(name) >= outlen)
            goto out;
        memcpy(out, name, strlen(name) + 1);
    }
    rc = 0;
out:
    PQclear(res);
    free(table);
    return rc;
}
