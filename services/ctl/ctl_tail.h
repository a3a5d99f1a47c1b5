/*
 * ctl_tail.h - `samspilctl events tail`: follow one event stream with an
 * sp_subscriber on a libuv loop, keeping the position in memory only, and
 * print each event as a JSON line (ctl_output) as soon as it is applied.
 */
#ifndef CTL_TAIL_H
#define CTL_TAIL_H

#include "ctl_args.h"
#include "sp_curve.h"

/* Run the tail described by inv->events until SIGINT/SIGTERM or --count
 * events.  `curve` is the certificate to act with (sockets to the broker's
 * client and events endpoints).  Returns the exit status: 0 when stopped by
 * a signal or after --count events, 1 when stdout cannot be written, 3 when
 * the stream's replay service is not on the broker or the broker does not
 * answer. */
int ctl_tail_run(const ctl_invocation_t *inv, const sp_curve_client_t *curve);

#endif
