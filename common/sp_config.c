/*
 * sp_config.c - options from the environment and the command line.
 */
#include "sp_config.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#ifndef SAMSPIL_VERSION
#define SAMSPIL_VERSION "0.0.0"
#endif

sp_option_t *
sp_config_find(sp_option_t *opts, size_t nopts, const char *flag)
{
    for (size_t i = 0; i < nopts; i++)
        if (opts[i].flag && strcmp(opts[i].flag, flag) == 0)
            return &opts[i];
    return NULL;
}

static int
s_set(const sp_program_info_t *info, sp_option_t *opt, const char *value, const char *source)
{
    if (opt->type == SP_OPT_FLAG) {
        bool on = !value || strcmp(value, "1") == 0 || strcmp(value, "true") == 0 ||
                  strcmp(value, "yes") == 0;
        opt->int_value = on;
        opt->value = on ? "1" : NULL;
        opt->set = on;
        return 0;
    }
    if (opt->type == SP_OPT_LIST) {
        if (opt->nvalues == SP_OPT_MAX_VALUES) {
            fprintf(stderr, "%s: too many values for %s (at most %d)\n", info->program, source,
                    SP_OPT_MAX_VALUES);
            return -1;
        }
        opt->values[opt->nvalues++] = value;
        opt->value = value;
        opt->set = true;
        return 0;
    }
    if (opt->type == SP_OPT_INT) {
        char *end;
        errno = 0;
        long long n = strtoll(value, &end, 10);
        if (errno || end == value || *end) {
            fprintf(stderr, "%s: invalid value \"%s\" for %s: not an integer\n", info->program,
                    value, source);
            return -1;
        }
        opt->int_value = n;
    }
    opt->value = value;
    opt->set = true;
    return 0;
}

/* Copies of comma-separated environment values that LIST options point
 * into: they live until exit, when they are freed. */
#define SP_CONFIG_MAX_COPIES 32
static char *s_copies[SP_CONFIG_MAX_COPIES];
static size_t s_ncopies;

static void
s_free_copies(void)
{
    for (size_t i = 0; i < s_ncopies; i++)
        free(s_copies[i]);
    s_ncopies = 0;
}

/* Split a comma-separated environment value into a LIST option. */
static int
s_set_list_from_env(const sp_program_info_t *info, sp_option_t *opt, const char *text)
{
    if (s_ncopies == SP_CONFIG_MAX_COPIES) {
        fprintf(stderr, "%s: too many list options in the environment\n", info->program);
        return -1;
    }
    char *copy = strdup(text);
    if (!copy)
        abort();
    if (s_ncopies == 0)
        atexit(s_free_copies);
    s_copies[s_ncopies++] = copy;
    for (char *save = NULL, *tok = strtok_r(copy, ",", &save); tok;
         tok = strtok_r(NULL, ",", &save))
        if (s_set(info, opt, tok, opt->env) < 0)
            return -1;
    return 0;
}

static int s_parse_argv(const sp_program_info_t *info, sp_option_t *opts, size_t nopts, int argc,
                        char **argv, const char **positional, int *npositional,
                        bool *list_from_flags);

int
sp_config_parse(const sp_program_info_t *info, sp_option_t *opts, size_t nopts, int argc,
                char **argv, const char **positional, int *npositional)
{
    if (npositional)
        *npositional = 0;
    for (size_t i = 0; i < nopts; i++) {
        sp_option_t *opt = &opts[i];
        opt->set = false;
        opt->nvalues = 0;
        opt->value = opt->default_value;
        opt->int_value = 0;
        if (opt->type == SP_OPT_INT && opt->default_value)
            opt->int_value = strtoll(opt->default_value, NULL, 10);
        const char *env = opt->env ? getenv(opt->env) : NULL;
        if (env && *env) {
            int rc = opt->type == SP_OPT_LIST ? s_set_list_from_env(info, opt, env)
                                              : s_set(info, opt, env, opt->env);
            if (rc < 0)
                return -1;
        }
    }
    /* flags given on the command line replace, not extend, a list from the environment */
    bool *list_from_flags = calloc(nopts ? nopts : 1, sizeof *list_from_flags);
    if (!list_from_flags)
        abort();
    int rc = s_parse_argv(info, opts, nopts, argc, argv, positional, npositional, list_from_flags);
    free(list_from_flags);
    return rc;
}

static int
s_parse_argv(const sp_program_info_t *info, sp_option_t *opts, size_t nopts, int argc, char **argv,
             const char **positional, int *npositional, bool *list_from_flags)
{

    bool options_done = false;
    for (int i = 1; i < argc; i++) {
        const char *arg = argv[i];
        if (options_done || arg[0] != '-' || arg[1] == '\0') {
            if (!positional) {
                fprintf(stderr, "%s: unexpected argument \"%s\"\nTry '%s --help'.\n",
                        info->program, arg, info->program);
                return -1;
            }
            positional[(*npositional)++] = arg;
            continue;
        }
        if (strcmp(arg, "--") == 0) {
            options_done = true;
            continue;
        }
        if (strcmp(arg, "--help") == 0 || strcmp(arg, "-h") == 0) {
            sp_config_print_help(info, opts, nopts, stdout);
            exit(0);
        }
        if (strcmp(arg, "--version") == 0) {
            printf("%s %s\n", info->program, SAMSPIL_VERSION);
            exit(0);
        }
        sp_option_t *opt = NULL;
        const char *inline_value = NULL;
        char name[128];
        if (arg[1] == '-') {
            const char *eq = strchr(arg + 2, '=');
            size_t len = eq ? (size_t)(eq - arg - 2) : strlen(arg + 2);
            if (len < sizeof name) {
                memcpy(name, arg + 2, len);
                name[len] = '\0';
                opt = sp_config_find(opts, nopts, name);
            }
            if (eq)
                inline_value = eq + 1;
        } else if (arg[2] == '\0') {
            for (size_t k = 0; k < nopts; k++)
                if (opts[k].short_flag && opts[k].short_flag == arg[1])
                    opt = &opts[k];
        }
        if (!opt) {
            fprintf(stderr, "%s: unknown option \"%s\"\nTry '%s --help'.\n", info->program, arg,
                    info->program);
            return -1;
        }
        const char *value = inline_value;
        if (opt->type != SP_OPT_FLAG && !value) {
            if (i + 1 >= argc) {
                fprintf(stderr, "%s: option \"%s\" needs a value\n", info->program, arg);
                return -1;
            }
            value = argv[++i];
        }
        size_t index = (size_t)(opt - opts);
        if (opt->type == SP_OPT_LIST && !list_from_flags[index]) {
            opt->nvalues = 0;
            list_from_flags[index] = true;
        }
        if (s_set(info, opt, value, arg) < 0)
            return -1;
    }
    return 0;
}

void
sp_config_print_help(const sp_program_info_t *info, const sp_option_t *opts, size_t nopts,
                     void *stream)
{
    FILE *out = stream;
    fprintf(out, "Usage: %s %s\n", info->program, info->usage ? info->usage : "[OPTIONS]");
    if (info->description)
        fprintf(out, "\n%s\n", info->description);
    fprintf(out, "\nOptions:\n");
    for (size_t i = 0; i < nopts; i++) {
        const sp_option_t *opt = &opts[i];
        char left[96];
        int n = 0;
        if (opt->short_flag)
            n = snprintf(left, sizeof left, "-%c, ", opt->short_flag);
        snprintf(left + n, sizeof left - (size_t)n, "--%s%s%s", opt->flag,
                 opt->type == SP_OPT_FLAG ? "" : " ",
                 opt->type == SP_OPT_FLAG ? "" : (opt->metavar ? opt->metavar : "VALUE"));
        fprintf(out, "  %-28s %s", left, opt->help ? opt->help : "");
        if (opt->type == SP_OPT_LIST)
            fprintf(out, " (repeatable)");
        if (opt->env || opt->default_value) {
            fprintf(out, " [");
            if (opt->env)
                fprintf(out, "env %s", opt->env);
            if (opt->env && opt->default_value)
                fprintf(out, ", ");
            if (opt->default_value)
                fprintf(out, "default %s", opt->default_value);
            fprintf(out, "]");
        }
        fprintf(out, "\n");
    }
    fprintf(out, "  %-28s %s\n  %-28s %s\n", "-h, --help", "show this help and exit",
                 "--version", "show the version and exit");
}
