/*
 * sp_db.h - PostgreSQL for services: a pool of non-blocking libpq
 * connections on the libuv loop, and transactions sent as one pipeline.
 *
 * A transaction is a list of parameterised statements.  sp_db_tx_run sends
 * them all in pipeline mode followed by one Sync, so they run as a single
 * implicit transaction in one round trip: if any statement fails, none of
 * them takes effect.  The tenant is set per transaction with
 * set_config('samspil.tenant', $1, true), never per session.
 *
 *   sp_db_tx_t *tx = sp_db_tx_new(db);
 *   sp_db_tx_set_tenant(tx, "751");
 *   int ins = sp_db_tx_add(tx, "INSERT ... RETURNING id", 3, params);
 *   sp_db_tx_run(tx, on_done, ctx);    // on_done(tx, ctx) later; it destroys tx
 */
#ifndef SP_DB_H
#define SP_DB_H

#include <libpq-fe.h>
#include <stdbool.h>
#include <uv.h>

typedef struct sp_db_t sp_db_t;
typedef struct sp_db_tx_t sp_db_tx_t;

/* Called once when the transaction has finished (committed or failed).  The
 * callback owns `tx` and must sp_db_tx_destroy it. */
typedef void(sp_db_tx_done_fn)(sp_db_tx_t *tx, void *arg);

/* Compute the libpq conninfo a program uses, into `out`:
 *  - `service` NULL: the owner (migrations, test checks): SAMSPIL_DATABASE_URL if
 *    set, else the embedded cluster under `home` ("host='<home>/pg/run'
 *    port='5432' dbname='samspil' user='samspil_owner'", every value quoted);
 *  - `service` "registration" (etc.): SAMSPIL_REGISTRATION_DATABASE_URL if set,
 *    else the owner conninfo with user=samspil_registration.
 * `home` is SAMSPIL_HOME made absolute.  Returns 0, or -1 if it does not fit
 * or SAMSPIL_DATABASE_URL cannot be parsed (logged). */
int sp_db_conninfo(const char *home, const char *service, char *out, size_t outlen);

/* A pool of `connections` connections to `conninfo` (a libpq URL or
 * key=value string; copied) on `loop`.  Nothing connects until sp_db_open. */
sp_db_t *sp_db_new(uv_loop_t *loop, const char *conninfo, int connections);

/* Connect every connection (blocking; for start-up).  Returns 0, or -1
 * after logging why (without the password). */
int sp_db_open(sp_db_t *self);

/* Close every connection; transactions not yet finished complete with a
 * connection error first.  Idempotent; nulls *self_p.  The loop must run
 * once more to release handles. */
void sp_db_destroy(sp_db_t **self_p);

/* Connections currently usable. */
int sp_db_connections_ready(const sp_db_t *self);

/* A new, empty transaction on `db`. */
sp_db_tx_t *sp_db_tx_new(sp_db_t *db);

/* Prepend set_config('samspil.tenant', tenant, true) (tenant copied). */
void sp_db_tx_set_tenant(sp_db_tx_t *tx, const char *tenant);

/* Append a statement with text parameters (NULL entries are SQL NULL);
 * `sql` must be a string literal or otherwise outlive the transaction;
 * parameters are copied.  Returns the statement's index for
 * sp_db_tx_result (set_tenant's statement does not take an index). */
int sp_db_tx_add(sp_db_tx_t *tx, const char *sql, int nparams, const char *const *params);

/* Run the transaction on a free connection (it waits in a queue when all
 * are busy) and call `done(tx, arg)` when it has finished. */
void sp_db_tx_run(sp_db_tx_t *tx, sp_db_tx_done_fn *done, void *arg);

/* After done: true if every statement succeeded and the transaction committed. */
bool sp_db_tx_ok(const sp_db_tx_t *tx);

/* Result of statement `index` (borrowed; NULL if it did not run). */
const PGresult *sp_db_tx_result(const sp_db_tx_t *tx, int index);

/* After a failure: the index of the failing statement (-1 for the tenant
 * statement or a connection failure), its SQLSTATE ("23505", ...; "08006"
 * for a lost connection), the violated constraint's name (or NULL), and the
 * server's primary message (may contain data values: never log it). */
int sp_db_tx_failed_index(const sp_db_tx_t *tx);
const char *sp_db_tx_sqlstate(const sp_db_tx_t *tx);
const char *sp_db_tx_constraint(const sp_db_tx_t *tx);
const char *sp_db_tx_message(const sp_db_tx_t *tx);

/* True if the failure was the connection (retry later: `unavailable`). */
bool sp_db_tx_connection_failed(const sp_db_tx_t *tx);

/* Free the transaction and its results.  Idempotent; nulls *tx_p. */
void sp_db_tx_destroy(sp_db_tx_t **tx_p);

#endif
