/*
 * sp_migrate.h - schema migrations: plain SQL files applied in order, once,
 * under an advisory lock, and recorded in <schema>.schema_migrations.  Safe
 * to run from many instances at once.  Run as the schema's owner role.
 *
 * The build embeds services/<prog>/sql/NNN_description.sql into the program
 * as `const sp_migration_t <prog>_migrations[]` (see deploy/embed-sql.sh).
 */
#ifndef SP_MIGRATE_H
#define SP_MIGRATE_H

#include <libpq-fe.h>
#include <stddef.h>

typedef struct {
    const char *name; /* "001_init" */
    const char *sql;  /* the file's text */
} sp_migration_t;

/* Apply, in order, every migration of `schema` not yet recorded, each in its
 * own transaction, holding pg_advisory_lock for the schema meanwhile.
 * `conn` is a blocking connection as the owner.  Returns the number applied
 * (0 when up to date), or -1 after logging which migration failed and why. */
int sp_migrate_apply(PGconn *conn, const char *schema, const sp_migration_t *migrations,
                     size_t count);

/* Name of the latest migration recorded for `schema`, written into `out`
 * ("" if none or the schema does not exist).  Returns 0 or -1. */
int sp_migrate_current(PGconn *conn, const char *schema, char *out, size_t outlen);

#endif
