/*
 * sp_log.h - structured logging: one JSON object per line on stderr.
 *
 * Fields are typed and named, never interpolated into the message, so that a
 * log line carries only what the caller chose to put in it.  Never log names,
 * contact points, CPR numbers, free text or request bodies: log ids, codes
 * and counts.
 *
 *   sp_log_info("worker ready", SP_LOG_STR("service", name), SP_LOG_INT("credit", 8),
 *               SP_LOG_END);
 */
#ifndef SP_LOG_H
#define SP_LOG_H

typedef enum {
    SP_LOG_DEBUG = 0,
    SP_LOG_INFO = 1,
    SP_LOG_WARN = 2,
    SP_LOG_ERROR = 3,
} sp_log_level_t;

/* Field type tags; use the SP_LOG_* macros rather than these directly. */
enum { SP_LOG_F_END = 0, SP_LOG_F_STR = 1, SP_LOG_F_INT = 2, SP_LOG_F_DBL = 3 };

#define SP_LOG_END SP_LOG_F_END
#define SP_LOG_STR(key, value) SP_LOG_F_STR, (const char *)(key), (const char *)(value)
#define SP_LOG_INT(key, value) SP_LOG_F_INT, (const char *)(key), (long long)(value)
#define SP_LOG_DBL(key, value) SP_LOG_F_DBL, (const char *)(key), (double)(value)

/* Name the program in every line ("broker", "registration", ...) and take the
 * level from SAMSPIL_LOG_LEVEL (debug|info|warn|error; default info). */
void sp_log_init(const char *program);

/* Add a field written in every later line of this process, after "pid"
 * (e.g. the broker's "plaintext":true in development mode).  `raw_json` is
 * the value as JSON text ("true", "42", "\"x\""), copied.  Call from the
 * main thread before other threads log.  Returns 0, or -1 when the global
 * fields would exceed 256 bytes. */
int sp_log_add_global(const char *key, const char *raw_json);

/* Set the lowest level written. */
void sp_log_set_level(sp_log_level_t level);

/* Parse "debug", "info", "warn" or "error"; returns -1 for anything else. */
int sp_log_level_parse(const char *text, sp_log_level_t *level);

/* Write one line at `level` with message `msg` and fields terminated by SP_LOG_END. */
void sp_log(sp_log_level_t level, const char *msg, ...);

#define sp_log_debug(...) sp_log(SP_LOG_DEBUG, __VA_ARGS__)
#define sp_log_info(...) sp_log(SP_LOG_INFO, __VA_ARGS__)
#define sp_log_warn(...) sp_log(SP_LOG_WARN, __VA_ARGS__)
#define sp_log_error(...) sp_log(SP_LOG_ERROR, __VA_ARGS__)

#endif
