/*
 * sp_db_conninfo.c - which database a program connects to, and as whom
 * (sp_db_conninfo, declared in sp_db.h).  Pure: reads only the environment
 * and its arguments; PQconninfoParse does no I/O.
 *
 *   SAMSPIL_<SERVICE>_DATABASE_URL   a service's own conninfo, used as is
 *   SAMSPIL_DATABASE_URL             the owner's; services get it with
 *                                    user=samspil_<service> (password dropped)
 *   neither                          the embedded cluster: a Unix socket in
 *                                    <home>/pg/run, port 5432, database samspil
 *
 * Every value this writes is quoted, and the embedded conninfo names host,
 * port, database and user, so PGHOST, PGPORT, PGDATABASE and PGUSER in the
 * environment cannot redirect it.
 */
#include "sp_db.h"
#include "sp_log.h"

#include <ctype.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* The embedded cluster's port (deploy/pg.sh): it listens on no TCP port,
 * but the number names its socket, <home>/pg/run/.s.PGSQL.5432. */
#define S_EMBEDDED_PORT "5432"

/* A small writer that fails (and stays failed) when `out` is full. */
typedef struct {
    char *out;
    size_t cap, len;
    bool overflow;
} s_writer_t;

static void s_put(s_writer_t *w, const char *s, size_t n)
{
    if (w->overflow || w->len + n >= w->cap) {
        w->overflow = true;
        return;
    }
    memcpy(w->out + w->len, s, n);
    w->len += n;
    w->out[w->len] = '\0';
}

static void s_puts(s_writer_t *w, const char *s)
{
    s_put(w, s, strlen(s));
}

/* Append `key='value'`, with \' and \\ inside the quotes, as libpq reads it. */
static void s_put_pair(s_writer_t *w, const char *key, const char *value)
{
    if (w->len > 0)
        s_puts(w, " ");
    s_puts(w, key);
    s_puts(w, "='");
    for (const char *p = value; *p; p++) {
        if (*p == '\'' || *p == '\\')
            s_puts(w, "\\");
        s_put(w, p, 1);
    }
    s_puts(w, "'");
}

static bool s_service_name_ok(const char *service)
{
    size_t n = strlen(service);
    if (n == 0 || n > 32)
        return false;
    for (const char *p = service; *p; p++)
        if (!(islower((unsigned char)*p) || isdigit((unsigned char)*p) || *p == '_'))
            return false;
    return true;
}

static const char *s_getenv(const char *name)
{
    const char *v = getenv(name);
    return v && *v ? v : NULL;
}

int sp_db_conninfo(const char *home, const char *service, char *out, size_t outlen)
{
    if (!out || outlen == 0)
        return -1;
    out[0] = '\0';
    s_writer_t w = {.out = out, .cap = outlen};
    char user[48] = "samspil_owner";

    if (service) {
        if (!s_service_name_ok(service)) {
            sp_log_error("invalid service name for database connection",
                         SP_LOG_STR("service", service), SP_LOG_END);
            return -1;
        }
        char var[80];
        size_t n = (size_t)snprintf(var, sizeof var, "SAMSPIL_%s_DATABASE_URL", service);
        for (size_t i = 0; i < n; i++)
            var[i] = (char)toupper((unsigned char)var[i]);
        const char *own = s_getenv(var);
        if (own) {
            s_puts(&w, own);
            goto done;
        }
        snprintf(user, sizeof user, "samspil_%s", service);
    }

    const char *url = s_getenv("SAMSPIL_DATABASE_URL");
    if (url) {
        char *err = NULL;
        PQconninfoOption *opts = PQconninfoParse(url, &err);
        if (!opts) {
            /* libpq's message may quote parts of the URL, password included */
            sp_log_error("could not parse SAMSPIL_DATABASE_URL", SP_LOG_END);
            PQfreemem(err);
            return -1;
        }
        if (!service) {
            s_puts(&w, url);
        } else {
            for (PQconninfoOption *o = opts; o->keyword; o++) {
                if (!o->val || strcmp(o->keyword, "user") == 0 ||
                    strcmp(o->keyword, "password") == 0)
                    continue;
                s_put_pair(&w, o->keyword, o->val);
            }
            s_put_pair(&w, "user", user);
        }
        PQconninfoFree(opts);
        goto done;
    }

    if (!home || !*home) {
        sp_log_error("no database configured: SAMSPIL_HOME is not set", SP_LOG_END);
        return -1;
    }
    size_t hl = strlen(home);
    while (hl > 1 && home[hl - 1] == '/')
        hl--;
    char host[4096];
    if (hl + sizeof "/pg/run" > sizeof host) {
        sp_log_error("SAMSPIL_HOME is too long", SP_LOG_END);
        return -1;
    }
    memcpy(host, home, hl);
    memcpy(host + hl, "/pg/run", sizeof "/pg/run");
    s_put_pair(&w, "host", host);
    s_put_pair(&w, "port", S_EMBEDDED_PORT);
    s_put_pair(&w, "dbname", "samspil");
    s_put_pair(&w, "user", user);

done:
    if (w.overflow) {
        out[0] = '\0';
        sp_log_error("database conninfo does not fit", SP_LOG_INT("size", (long long)outlen),
                     SP_LOG_END);
        return -1;
    }
    return 0;
}
