/*
 * ev_test.h - helpers shared by the event bus tests and the events
 * benchmark: looking at registration.outbox with the owner connection (as
 * the relay does: samspil.relay = 'on'), waiting for the relay to publish,
 * decoding stored payloads, and restarting a suite process that a test
 * killed, exactly as it was started (command line, environment and
 * working directory read from /proc before the kill).
 *
 * Header-only (static inline), used together with itest.h and reg_client.h.
 * Waits are bounded and poll the database; none is an assertion by itself.
 */
#ifndef EV_TEST_H
#define EV_TEST_H

#include "itest.h"
#include "reg_client.h"
#include "samspil/v1/events.pb-c.h"

#include <fcntl.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>

/* ---------------------------------------------------------------- database */

/* Let the owner session read the outbox across tenants, as the relay does
 * (FORCE ROW LEVEL SECURITY applies to the owner too).  Exits 2 on failure. */
static inline void ev_db_relay(PGconn *db)
{
    PQclear(PQexec(db, "SET client_min_messages = warning"));
    PGresult *res = PQexec(db, "SELECT set_config('samspil.relay', 'on', false)");
    if (PQresultStatus(res) != PGRES_TUPLES_OK) {
        fprintf(stderr, "itest: could not set samspil.relay: %s", PQerrorMessage(db));
        exit(2);
    }
    PQclear(res);
}

/* A single integer from `sql` (owner connection with ev_db_relay), -1 on error. */
static inline long long ev_db_int(PGconn *db, const char *sql, int nparams,
                                  const char *const *params)
{
    return rc_db_count(db, NULL, sql, nparams, params);
}

/* Outbox rows of `tenant` with `type` (NULL: any) about `entity` (NULL:
 * any) whose id is above `after_id`. */
static inline long long ev_count_after(PGconn *db, long long after_id, const char *tenant,
                                       const char *type, const char *entity)
{
    char after[32];
    snprintf(after, sizeof after, "%lld", after_id);
    const char *p[4] = {tenant, type, entity, after};
    return ev_db_int(db,
                     "SELECT count(*) FROM registration.outbox WHERE tenant_id = $1 "
                     "AND ($2::text IS NULL OR event_type = $2) "
                     "AND ($3::text IS NULL OR entity_id = $3) AND id > $4::bigint",
                     4, p);
}

/* Highest outbox id so far (0: none). */
static inline long long ev_last_id(PGconn *db)
{
    return ev_db_int(db, "SELECT COALESCE(max(id), 0) FROM registration.outbox", 0, NULL);
}

/* The state of the stream's sequence, read in one statement. */
typedef struct {
    long long rows;      /* outbox rows */
    long long assigned;  /* rows with a seq */
    long long max_seq;   /* highest seq (0: none) */
    long long distinct;  /* distinct seqs */
    long long published; /* outbox_stream.published_seq */
    long long assigned_seq;
} ev_stream_t;

static inline int ev_stream(PGconn *db, ev_stream_t *s)
{
    PGresult *res = rc_db_query(
        db, NULL,
        "SELECT count(*), count(o.seq), COALESCE(max(o.seq), 0), count(DISTINCT o.seq), "
        "(SELECT published_seq FROM registration.outbox_stream WHERE stream = 'registration'), "
        "(SELECT assigned_seq FROM registration.outbox_stream WHERE stream = 'registration') "
        "FROM registration.outbox o",
        0, NULL);
    if (!res || PQntuples(res) != 1) {
        PQclear(res);
        return -1;
    }
    long long *out[] = {&s->rows,     &s->assigned,  &s->max_seq,
                        &s->distinct, &s->published, &s->assigned_seq};
    for (int i = 0; i < 6; i++)
        *out[i] = PQgetisnull(res, 0, i) ? -1 : strtoll(PQgetvalue(res, 0, i), NULL, 10);
    PQclear(res);
    return 0;
}

/* Wait up to `timeout_us` until every outbox row has its seq and the relay
 * has published them all.  Returns true when it did; *s is the last state. */
static inline bool ev_wait_published(PGconn *db, int64_t timeout_us, ev_stream_t *s)
{
    int64_t deadline = rc_now_us() + timeout_us;
    for (;;) {
        if (ev_stream(db, s) == 0 && s->rows == s->assigned && s->published == s->max_seq &&
            s->assigned_seq == s->max_seq)
            return true;
        if (rc_now_us() >= deadline)
            return false;
        usleep(50 * 1000);
    }
}

/* "\x0a03..." (bytea text) into bytes; returns a malloc'd buffer, NULL on error. */
static inline uint8_t *ev_unhex(const char *text, size_t *len)
{
    if (text[0] != '\\' || text[1] != 'x')
        return NULL;
    text += 2;
    size_t n = strlen(text) / 2;
    uint8_t *out = malloc(n ? n : 1);
    for (size_t i = 0; i < n; i++) {
        unsigned v;
        if (sscanf(text + 2 * i, "%2x", &v) != 1) {
            free(out);
            return NULL;
        }
        out[i] = (uint8_t)v;
    }
    *len = n;
    return out;
}

/* True if `needle` occurs in `hay` (`len` bytes). */
static inline bool ev_contains(const uint8_t *hay, size_t len, const char *needle)
{
    size_t n = strlen(needle);
    for (size_t i = 0; n && i + n <= len; i++)
        if (memcmp(hay + i, needle, n) == 0)
            return true;
    return false;
}

/* ---------------------------------------------------------------- processes */

/* A suite process as it was started. */
typedef struct {
    char name[64]; /* "broker", "registration-1" */
    pid_t pid;
    char exe[4096];
    char cwd[4096];
    char *cmdline; /* NUL-separated */
    size_t cmdline_len;
    char *env; /* NUL-separated */
    size_t env_len;
} ev_proc_t;

static inline char *ev_slurp(const char *path, size_t *len)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return NULL;
    size_t cap = 4096, n = 0;
    char *buf = malloc(cap + 1);
    for (;;) {
        if (n == cap) {
            cap *= 2;
            buf = realloc(buf, cap + 1);
        }
        ssize_t got = read(fd, buf + n, cap - n);
        if (got <= 0)
            break;
        n += (size_t)got;
    }
    close(fd);
    buf[n] = '\0';
    *len = n;
    return buf;
}

/* The pid in $SAMSPIL_HOME/run/<name>.pid, or -1. */
static inline pid_t ev_pidfile(const char *home, const char *name)
{
    char path[4200];
    snprintf(path, sizeof path, "%s/run/%s.pid", home, name);
    FILE *f = fopen(path, "r");
    if (!f)
        return -1;
    long pid = 0;
    int got = fscanf(f, "%ld", &pid);
    fclose(f);
    return got == 1 && pid > 1 ? (pid_t)pid : -1;
}

/* Read how the suite's process `name` was started.  Returns 0 or -1. */
static inline int ev_proc_read(ev_proc_t *p, const char *home, const char *name)
{
    memset(p, 0, sizeof *p);
    snprintf(p->name, sizeof p->name, "%s", name);
    p->pid = ev_pidfile(home, name);
    if (p->pid < 0 || kill(p->pid, 0) != 0)
        return -1;
    char path[256];
    snprintf(path, sizeof path, "/proc/%ld/cmdline", (long)p->pid);
    p->cmdline = ev_slurp(path, &p->cmdline_len);
    snprintf(path, sizeof path, "/proc/%ld/environ", (long)p->pid);
    p->env = ev_slurp(path, &p->env_len);
    snprintf(path, sizeof path, "/proc/%ld/exe", (long)p->pid);
    ssize_t n = readlink(path, p->exe, sizeof p->exe - 1);
    p->exe[n > 0 ? n : 0] = '\0';
    snprintf(path, sizeof path, "/proc/%ld/cwd", (long)p->pid);
    n = readlink(path, p->cwd, sizeof p->cwd - 1);
    p->cwd[n > 0 ? n : 0] = '\0';
    return p->cmdline && p->cmdline_len && p->env ? 0 : -1;
}

static inline void ev_proc_free(ev_proc_t *p)
{
    free(p->cmdline);
    free(p->env);
    p->cmdline = p->env = NULL;
}

/* A NUL-separated block as a NULL-terminated vector (pointing into it),
 * with room for `extra` more entries. */
static inline char **ev_split0(char *block, size_t len, size_t extra)
{
    size_t count = 0;
    for (size_t i = 0; i < len; i++)
        count += block[i] == '\0';
    char **v = calloc(count + extra + 2, sizeof *v);
    size_t k = 0;
    for (size_t i = 0; i < len; i += strlen(block + i) + 1)
        v[k++] = block + i;
    v[k] = NULL;
    return v;
}

/* True once `pid` has exited (gone, or a zombie waiting for its parent). */
static inline bool ev_pid_gone(pid_t pid)
{
    char path[64];
    snprintf(path, sizeof path, "/proc/%ld/stat", (long)pid);
    size_t len = 0;
    char *stat = ev_slurp(path, &len);
    char *close_paren = stat ? strrchr(stat, ')') : NULL;
    bool gone = !stat || (close_paren && close_paren[1] == ' ' && close_paren[2] == 'Z');
    free(stat);
    return gone;
}

/* Send `signum` to `p` and wait up to `timeout_ms` until it is gone (it need
 * not be our child, so poll).  Returns 0 or -1. */
static inline int ev_proc_signal(const ev_proc_t *p, int signum, int timeout_ms)
{
    if (kill(p->pid, signum) != 0)
        return -1;
    for (int waited = 0; waited <= timeout_ms; waited += 10) {
        if (ev_pid_gone(p->pid))
            return 0;
        usleep(10 * 1000);
    }
    return -1;
}

/* Kill `p` with SIGKILL and wait until it is gone.  Returns 0 or -1. */
static inline int ev_proc_kill(const ev_proc_t *p)
{
    return ev_proc_signal(p, SIGKILL, 10000);
}

/* Stop `p` with SIGTERM (SIGKILL after 20 s) and wait until it is gone. */
static inline int ev_proc_term(const ev_proc_t *p)
{
    if (ev_proc_signal(p, SIGTERM, 20000) == 0)
        return 0;
    return ev_proc_kill(p);
}

/* Wait up to `timeout_us` until the broker reports `want` workers for
 * `service`.  Returns the last count seen. */
static inline int ev_wait_workers(sp_client_t *client, const char *service, int want,
                                  int64_t timeout_us)
{
    int64_t deadline = rc_now_us() + timeout_us;
    int n = -1;
    do {
        n = rc_service_workers(client, service);
        if (n == want)
            return n;
        usleep(200 * 1000);
    } while (rc_now_us() < deadline);
    return n;
}

/* Start `p` again as it was, detached into its own session, logging to
 * $SAMSPIL_HOME/log/<name>.log and with its pid file rewritten; `extra_env`
 * (NULL or "NAME=value") is added to its environment.  Returns the pid or -1. */
static inline pid_t ev_proc_restart(ev_proc_t *p, const char *home, const char *extra_env)
{
    char **argv = ev_split0(p->cmdline, p->cmdline_len, 0);
    char **envp = ev_split0(p->env, p->env_len, 1);
    if (extra_env) {
        size_t k = 0;
        while (envp[k])
            k++;
        envp[k] = (char *)extra_env;
        envp[k + 1] = NULL;
    }
    char exe[4200];
    if (!p->exe[0] || strstr(p->exe, " (deleted)")) {
        const char *base = strrchr(argv[0], '/');
        snprintf(exe, sizeof exe, "%s/%s", itest_env("SAMSPIL_BIN"), base ? base + 1 : argv[0]);
    } else {
        snprintf(exe, sizeof exe, "%s", p->exe);
    }
    char log[4200];
    snprintf(log, sizeof log, "%s/log/%s.log", home, p->name);

    pid_t pid = fork();
    if (pid == 0) {
        setsid();
        if (p->cwd[0] && chdir(p->cwd) != 0)
            _exit(126);
        int out = open(log, O_WRONLY | O_CREAT | O_APPEND, 0644);
        int in = open("/dev/null", O_RDONLY);
        if (out < 0 || in < 0)
            _exit(126);
        dup2(in, 0);
        dup2(out, 1);
        dup2(out, 2);
        close_range(3, ~0U, 0);
        execve(exe, argv, envp);
        _exit(127);
    }
    free(argv);
    free(envp);
    if (pid < 0)
        return -1;
    p->pid = pid;
    char path[4200], tmp[4300];
    snprintf(path, sizeof path, "%s/run/%s.pid", home, p->name);
    snprintf(tmp, sizeof tmp, "%s.tmp", path);
    FILE *f = fopen(tmp, "w");
    if (f) {
        fprintf(f, "%ld\n", (long)pid);
        fclose(f);
        rename(tmp, path);
    }
    return pid;
}

/* Reap children that have exited (the restarted processes are ours). */
static inline void ev_reap(void)
{
    while (waitpid(-1, NULL, WNOHANG) > 0) {
    }
}

#endif
