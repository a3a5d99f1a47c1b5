/*
 * suite_proc.h - test helpers for killing and restarting processes of the
 * suite tests/run-tests.sh started: read how a process was started
 * (command line, environment, working directory from /proc, pid from
 * $SAMSPIL_HOME/run/<name>.pid), signal it and wait until it is gone, start
 * it again exactly as it was (detached, its log and pid file as
 * deploy/run-suite.sh keeps them), and wait for the broker to count its
 * workers.  Header-only (static inline), used with itest.h and reg_client.h.
 */
#ifndef SUITE_PROC_H
#define SUITE_PROC_H

#include "itest.h"
#include "reg_client.h"

#include <fcntl.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

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
} suite_proc_t;

static inline char *suite_slurp(const char *path, size_t *len)
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
static inline pid_t suite_pidfile(const char *home, const char *name)
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
static inline int suite_proc_read(suite_proc_t *p, const char *home, const char *name)
{
    memset(p, 0, sizeof *p);
    snprintf(p->name, sizeof p->name, "%s", name);
    p->pid = suite_pidfile(home, name);
    if (p->pid < 0 || kill(p->pid, 0) != 0)
        return -1;
    char path[256];
    snprintf(path, sizeof path, "/proc/%ld/cmdline", (long)p->pid);
    p->cmdline = suite_slurp(path, &p->cmdline_len);
    snprintf(path, sizeof path, "/proc/%ld/environ", (long)p->pid);
    p->env = suite_slurp(path, &p->env_len);
    snprintf(path, sizeof path, "/proc/%ld/exe", (long)p->pid);
    ssize_t n = readlink(path, p->exe, sizeof p->exe - 1);
    p->exe[n > 0 ? n : 0] = '\0';
    snprintf(path, sizeof path, "/proc/%ld/cwd", (long)p->pid);
    n = readlink(path, p->cwd, sizeof p->cwd - 1);
    p->cwd[n > 0 ? n : 0] = '\0';
    return p->cmdline && p->cmdline_len && p->env ? 0 : -1;
}

static inline void suite_proc_free(suite_proc_t *p)
{
    free(p->cmdline);
    free(p->env);
    p->cmdline = p->env = NULL;
}

/* A NUL-separated block as a NULL-terminated vector (pointing into it),
 * with room for `extra` more entries. */
static inline char **suite_split0(char *block, size_t len, size_t extra)
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
static inline bool suite_pid_gone(pid_t pid)
{
    char path[64];
    snprintf(path, sizeof path, "/proc/%ld/stat", (long)pid);
    size_t len = 0;
    char *stat = suite_slurp(path, &len);
    char *close_paren = stat ? strrchr(stat, ')') : NULL;
    bool gone = !stat || (close_paren && close_paren[1] == ' ' && close_paren[2] == 'Z');
    free(stat);
    return gone;
}

/* Send `signum` to `p` and wait up to `timeout_ms` until it is gone (it need
 * not be our child, so poll).  Returns 0 or -1. */
static inline int suite_proc_signal(const suite_proc_t *p, int signum, int timeout_ms)
{
    if (kill(p->pid, signum) != 0)
        return -1;
    for (int waited = 0; waited <= timeout_ms; waited += 10) {
        if (suite_pid_gone(p->pid))
            return 0;
        usleep(10 * 1000);
    }
    return -1;
}

/* Kill `p` with SIGKILL and wait until it is gone.  Returns 0 or -1. */
static inline int suite_proc_kill(const suite_proc_t *p)
{
    return suite_proc_signal(p, SIGKILL, 10000);
}

/* Stop `p` with SIGTERM (SIGKILL after 20 s) and wait until it is gone. */
static inline int suite_proc_term(const suite_proc_t *p)
{
    if (suite_proc_signal(p, SIGTERM, 20000) == 0)
        return 0;
    return suite_proc_kill(p);
}

/* Wait up to `timeout_us` until the broker reports `want` workers for
 * `service`.  Returns the last count seen. */
static inline int suite_wait_workers(sp_client_t *client, const char *service, int want,
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
static inline pid_t suite_proc_restart(suite_proc_t *p, const char *home, const char *extra_env)
{
    char **argv = suite_split0(p->cmdline, p->cmdline_len, 0);
    char **envp = suite_split0(p->env, p->env_len, 1);
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
static inline void suite_reap(void)
{
    while (waitpid(-1, NULL, WNOHANG) > 0) {
    }
}

#endif
