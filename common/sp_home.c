/*
 * sp_home.c - endpoints under a suite's home directory.
 */
#include "sp_home.h"

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

const char *sp_home_ipc_endpoint(const char *home, const char *file, char *out, size_t outlen)
{
    if (!home || !*home)
        home = getenv("SAMSPIL_HOME");
    if (!home || !*home)
        home = "./var";
    char resolved[PATH_MAX];
    char absolute[PATH_MAX + 1];
    if (realpath(home, resolved)) {
        snprintf(absolute, sizeof absolute, "%s", resolved);
    } else if (home[0] == '/') {
        snprintf(absolute, sizeof absolute, "%s", home);
    } else {
        char cwd[PATH_MAX];
        if (!getcwd(cwd, sizeof cwd)) {
            if (outlen)
                out[0] = '\0';
            return NULL;
        }
        while (home[0] == '.' && home[1] == '/') /* "./var" -> "var" */
            for (home += 2; *home == '/'; home++)
                ;
        int n = snprintf(absolute, sizeof absolute, "%s%s%s", cwd, strcmp(cwd, "/") == 0 ? "" : "/",
                         home);
        if (n < 0 || (size_t)n >= sizeof absolute) {
            if (outlen)
                out[0] = '\0';
            errno = ENAMETOOLONG;
            return NULL;
        }
    }
    size_t alen = strlen(absolute);
    while (alen > 1 && absolute[alen - 1] == '/') /* "/x/var/" -> "/x/var" */
        absolute[--alen] = '\0';
    int n = snprintf(out, outlen, "ipc://%s%srun/%s", absolute,
                     strcmp(absolute, "/") == 0 ? "" : "/", file);
    if (n < 0 || (size_t)n >= outlen) {
        if (outlen)
            out[0] = '\0';
        errno = ENAMETOOLONG;
        return NULL;
    }
    return out;
}
