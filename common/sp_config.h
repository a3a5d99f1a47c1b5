/*
 * sp_config.h - program options from SAMSPIL_* environment variables and
 * command-line flags (flags override the environment), with generated
 * --help and --version.
 *
 * A program declares a table of sp_option_t and calls sp_config_parse once:
 *
 *   sp_option_t opts[] = {
 *       {.flag = "broker", .env = "SAMSPIL_BROKER", .metavar = "ENDPOINT",
 *        .help = "broker endpoint", .default_value = "ipc://var/run/broker.ipc"},
 *       {.flag = "workers", .type = SP_OPT_INT, .default_value = "2", .help = "..."},
 *   };
 */
#ifndef SP_CONFIG_H
#define SP_CONFIG_H

#include <stdbool.h>
#include <stddef.h>

#define SP_OPT_MAX_VALUES 64

typedef enum {
    SP_OPT_STRING = 0, /* --name VALUE or --name=VALUE */
    SP_OPT_INT,        /* like STRING, value must be a decimal integer */
    SP_OPT_FLAG,       /* --name (no value); env value "1"/"true"/"yes" sets it */
    SP_OPT_LIST,       /* may repeat; each occurrence adds a value (env: comma-separated) */
} sp_opt_type_t;

typedef struct {
    /* declared by the program */
    const char *flag;          /* long flag without dashes, e.g. "broker" */
    char short_flag;           /* e.g. 'o', or 0 */
    const char *env;           /* e.g. "SAMSPIL_BROKER", or NULL */
    sp_opt_type_t type;
    const char *default_value; /* textual default, or NULL */
    const char *metavar;       /* shown in --help, e.g. "ENDPOINT" */
    const char *help;          /* one line */
    /* filled in by sp_config_parse; strings point into argv/environ/defaults */
    const char *value;         /* final value, or NULL (for FLAG: "1" when set) */
    long long int_value;       /* for INT, and 1/0 for FLAG */
    bool set;                  /* given by a flag or the environment */
    const char *values[SP_OPT_MAX_VALUES]; /* for LIST: every value, in order */
    size_t nvalues;
} sp_option_t;

typedef struct {
    const char *program;     /* e.g. "samspil-broker" */
    const char *usage;       /* e.g. "[OPTIONS]", shown after the program name */
    const char *description; /* one paragraph, shown under the usage line */
} sp_program_info_t;

/* Parse the environment, then argv[1..argc-1], into `opts`.  Arguments that
 * are not options are stored in order in `positional` (which must have room
 * for argc pointers) and counted in *npositional; pass NULL to refuse them.
 * "--" ends option parsing.
 *
 * --help prints the generated help to stdout and exits 0; --version prints
 * "<program> <version>" and exits 0.  Returns 0, or -1 after printing a
 * usage error naming the option and value to stderr (callers exit 2). */
int sp_config_parse(const sp_program_info_t *info, sp_option_t *opts, size_t nopts, int argc,
                    char **argv, const char **positional, int *npositional);

/* Print the generated help for `opts` to `out` (a FILE *). */
void sp_config_print_help(const sp_program_info_t *info, const sp_option_t *opts, size_t nopts,
                          void *out);

/* Find an option by flag name, or NULL. */
sp_option_t *sp_config_find(sp_option_t *opts, size_t nopts, const char *flag);

#endif
