/*
 * ctl_client.h - what every samspilctl command that talks to the broker
 * shares: the exit statuses, connecting an sp_client with the chosen
 * certificate, and turning failed calls and error replies into a line on
 * stderr and an exit status.
 */
#ifndef CTL_CLIENT_H
#define CTL_CLIENT_H

#include "ctl_args.h"
#include "samspil/v1/common.pb-c.h"
#include "sp_buf.h"
#include "sp_client.h"
#include "sp_curve.h"

#include <stdio.h>

#define CTL_EXIT_OK 0
#define CTL_EXIT_REPLY 1       /* an error reply, or a reply samspilctl cannot use */
#define CTL_EXIT_USAGE 2       /* usage error */
#define CTL_EXIT_UNAVAILABLE 3 /* no broker, no reply in time, or an `unavailable` reply */

/* Write `buf` to `stream` and flush.  Returns 0 or -1 (errno). */
int ctl_write(FILE *stream, const sp_buf_t *buf);

/* Print `buf` on stdout; returns CTL_EXIT_OK, or CTL_EXIT_REPLY (reported)
 * when stdout cannot be written. */
int ctl_emit(const sp_buf_t *buf);

/* The certificate to act with (sp_curve_client_load): SAMSPIL_PLAINTEXT=1
 * -> plain text; else the file --key / SAMSPIL_KEY names, else
 * HOME/keys/operator.cert.  Returns 0, or -1 after a line on stderr naming
 * the file (never a key). */
int ctl_load_curve(const ctl_invocation_t *inv, sp_curve_client_t *out);

/* A client for inv->broker acting with `curve`, with the invocation's
 * timeout and retries.  NULL after reporting on stderr. */
sp_client_t *ctl_connect(const ctl_invocation_t *inv, const sp_curve_client_t *curve);

/* Report a failed sp_client call to `service` (errno set by it) on stderr;
 * returns the exit status. */
int ctl_call_failed(const ctl_invocation_t *inv, const char *service);

/* For an irreversible command: CTL_EXIT_OK with --yes, or when the user
 * types "yes" at the prompt on a terminal; else CTL_EXIT_USAGE (reported).
 * `what` completes "refusing to ...", e.g. "erase actor <id> of tenant 751". */
int ctl_confirm(const ctl_invocation_t *inv, const char *what);

/* Print an error reply on stderr; returns CTL_EXIT_UNAVAILABLE for
 * `unavailable`, else CTL_EXIT_REPLY. */
int ctl_error_reply(const Samspil__V1__Error *err);

#endif
