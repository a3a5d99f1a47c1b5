/*
 * ctl_person.h - `samspilctl person export`: ask every service that holds
 * personal data for what it holds about one person and print it as one
 * JSON document (GDPR art. 15).  Today that is registration's
 * person_export; a service that comes later adds one row to the table in
 * ctl_person.c.
 */
#ifndef CTL_PERSON_H
#define CTL_PERSON_H

#include "ctl_args.h"
#include "sp_curve.h"

/* Returns the exit status; prints nothing on stdout unless every service
 * answered (a partial export would look complete). */
int ctl_person_export(const ctl_invocation_t *inv, const sp_curve_client_t *curve);

#endif
