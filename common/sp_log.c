/*
 * sp_log.c - one JSON object per line on stderr.
 */
#include "sp_log.h"
#include "sp_buf.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static const char *s_program = "samspil";
static sp_log_level_t s_level = SP_LOG_INFO;
static const char *const s_level_names[] = {"debug", "info", "warn", "error"};
static char s_global[256]; /* ",\"key\":value" for each global field */
static size_t s_global_len;

int
sp_log_level_parse(const char *text, sp_log_level_t *level)
{
    for (int i = 0; i < 4; i++) {
        if (text && strcmp(text, s_level_names[i]) == 0) {
            *level = (sp_log_level_t)i;
            return 0;
        }
    }
    return -1;
}

void
sp_log_init(const char *program)
{
    s_program = program;
    sp_log_level_t level;
    if (sp_log_level_parse(getenv("SAMSPIL_LOG_LEVEL"), &level) == 0)
        s_level = level;
}

int
sp_log_add_global(const char *key, const char *raw_json)
{
    sp_buf_t field;
    sp_buf_init(&field);
    sp_buf_puts(&field, ",");
    sp_buf_json_string(&field, key, strlen(key));
    sp_buf_printf(&field, ":%s", raw_json);
    int rc = -1;
    if (s_global_len + field.len < sizeof s_global) {
        memcpy(s_global + s_global_len, field.data, field.len + 1);
        s_global_len += field.len;
        rc = 0;
    }
    sp_buf_free(&field);
    return rc;
}

void
sp_log_set_level(sp_log_level_t level)
{
    s_level = level;
}

void
sp_log(sp_log_level_t level, const char *msg, ...)
{
    if (level < s_level)
        return;
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    struct tm tm;
    gmtime_r(&ts.tv_sec, &tm);
    char stamp[32];
    strftime(stamp, sizeof stamp, "%Y-%m-%dT%H:%M:%S", &tm);

    sp_buf_t line;
    sp_buf_init(&line);
    sp_buf_printf(&line, "{\"ts\":\"%s.%03ldZ\",\"level\":\"%s\",\"prog\":", stamp,
                  ts.tv_nsec / 1000000, s_level_names[level]);
    sp_buf_json_string(&line, s_program, strlen(s_program));
    sp_buf_printf(&line, ",\"pid\":%ld", (long)getpid());
    sp_buf_append(&line, s_global, s_global_len);
    sp_buf_puts(&line, ",\"msg\":");
    sp_buf_json_string(&line, msg, strlen(msg));

    va_list ap;
    va_start(ap, msg);
    for (;;) {
        int type = va_arg(ap, int);
        if (type == SP_LOG_F_END)
            break;
        const char *key = va_arg(ap, const char *);
        sp_buf_puts(&line, ",");
        sp_buf_json_string(&line, key, strlen(key));
        sp_buf_puts(&line, ":");
        if (type == SP_LOG_F_STR) {
            const char *value = va_arg(ap, const char *);
            if (value)
                sp_buf_json_string(&line, value, strlen(value));
            else
                sp_buf_puts(&line, "null");
        } else if (type == SP_LOG_F_INT) {
            sp_buf_printf(&line, "%lld", va_arg(ap, long long));
        } else {
            sp_buf_printf(&line, "%.6g", va_arg(ap, double));
        }
    }
    va_end(ap);
    sp_buf_puts(&line, "}\n");
    /* one write per line so lines from concurrent processes never interleave */
    ssize_t ignored = write(STDERR_FILENO, line.data, line.len);
    (void)ignored;
    sp_buf_free(&line);
}
