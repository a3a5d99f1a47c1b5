/*
 * sp_home.h - where a suite's sockets live: endpoints under SAMSPIL_HOME.
 */
#ifndef SP_HOME_H
#define SP_HOME_H

#include <stddef.h>

/* "ipc://<absolute home>/run/<file>" into `out` (`outlen` bytes).  `home`
 * NULL or empty: SAMSPIL_HOME, else "./var"; a relative home is made
 * absolute (links resolved when it exists, trailing slashes dropped).
 * Returns `out`, or NULL with `out` emptied and errno set when it does not
 * fit or the working directory is unknown. */
const char *sp_home_ipc_endpoint(const char *home, const char *file, char *out, size_t outlen);

#endif
