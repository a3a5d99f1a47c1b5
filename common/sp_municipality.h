/*
 * sp_municipality.h - Denmark's 98 municipalities (kommuner) by their
 * official 3-digit code, as used for tenants: "101" København, "751" Aarhus.
 *
 * The list is the one in force since the 2007 structural reform.  Codes not
 * in it (e.g. "411" Christiansø, which is not a municipality) are refused.
 */
#ifndef SP_MUNICIPALITY_H
#define SP_MUNICIPALITY_H

#include <stddef.h>

typedef struct {
    const char *code; /* "751" */
    const char *name; /* "Aarhus" (without "Kommune") */
} sp_municipality_t;

/* Number of municipalities in the table (98). */
size_t sp_municipality_count(void);

/* The i-th municipality in ascending code order, or NULL when i is out of range. */
const sp_municipality_t *sp_municipality_at(size_t i);

/* The municipality with this code, or NULL.  `code` must be exactly the
 * 3-digit code ("751"; not "0751" or " 751"). */
const sp_municipality_t *sp_municipality_find(const char *code);

#endif
