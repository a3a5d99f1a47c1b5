/*
 * broker_mmi.h - requests the broker answers itself: the Majordomo
 * Management Interface (ZeroMQ RFC 8) "mmi.service", our "mmi.status", and
 * the ErrorReply the broker sends when it must fail a request.  Pure: bodies
 * in, bodies out.
 */
#ifndef BROKER_MMI_H
#define BROKER_MMI_H

#include "broker_core.h"
#include "sp_buf.h"
#include "sp_error.h"
#include "sp_frame.h"

#include <stdbool.h>
#include <stddef.h>

/* True if `service` names the management namespace ("mmi." prefix). */
bool broker_mmi_is_mmi(sp_frame_t service);

/* Write into `out` the reply body for a request to `service` (an mmi.* name)
 * with body frames `body[0..nbody-1]`:
 *   mmi.service  "200" if a worker serves the service named by body[0], else "404"
 *   mmi.status   a packed samspil.v1.BrokerStatus
 *   other mmi.*  "501" */
void broker_mmi_answer(const broker_core_t *core, bool development_mode, sp_frame_t service,
                       const sp_frame_t *body, size_t nbody, sp_buf_t *out);

/* Write into `out` a packed samspil.v1.ErrorReply {code, message, field}
 * (`field` NULL for ""). */
void broker_mmi_error_reply(sp_error_code_t code, const char *field, const char *message,
                            sp_buf_t *out);

#endif
