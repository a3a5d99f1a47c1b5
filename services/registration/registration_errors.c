/*
 * registration_errors.c - database failures mapped to client errors.
 */
#include "registration_errors.h"

#include "sp_valid.h"

#include <stdio.h>
#include <string.h>

typedef struct {
    const char *constraint;
    sp_error_code_t code;
    const char *field;   /* relative to the op, or "tenant" / "idempotency_key" */
    const char *message; /* may hold one %s: the quoted value of `field` */
} s_rule_t;

#define S_ORG_MISSING "unknown organisation \"%s\": no actor of kind organisation has this id"
#define S_KEY_REUSED "idempotency key \"%s\" was already used with a different request"

/* Every constraint of the migrations (sql/) a request can violate. */
static const s_rule_t s_rules[] = {
    {"tenants_pkey", SP_ALREADY_EXISTS, "code", "tenant \"%s\" already exists"},

    {"actors_organisation_fk", SP_NOT_FOUND, "actor.organisation_id", S_ORG_MISSING},
    {"actors_external_ref_key", SP_ALREADY_EXISTS, "actor.external_ref",
     "external ref \"%s\" is already taken by another actor"},
    {"actors_idempotency_key_key", SP_FAILED_PRECONDITION, "idempotency_key", S_KEY_REUSED},
    {"actors_organisation_only_professionals", SP_INVALID_ARGUMENT, "actor.organisation_id",
     "organisation_id is only allowed for professionals"},
    {"actors_sector_only_organisations", SP_INVALID_ARGUMENT, "actor.sector",
     "sector is required for organisations and not allowed for other kinds of actor"},
    {"actors_vulnerable_only_citizens", SP_INVALID_ARGUMENT, "actor.vulnerable",
     "vulnerable applies to citizens only"},
    {"actors_erased", SP_FAILED_PRECONDITION, "actor.id",
     "actor \"%s\" was erased: its personal fields cannot be set again"},

    {"partnerships_backbone_fk", SP_NOT_FOUND, "partnership.backbone_organisation_id",
     S_ORG_MISSING},
    {"partnerships_external_ref_key", SP_ALREADY_EXISTS, "partnership.external_ref",
     "external ref \"%s\" is already taken by another partnership"},
    {"partnerships_idempotency_key_key", SP_FAILED_PRECONDITION, "idempotency_key", S_KEY_REUSED},

    {"memberships_partnership_fk", SP_NOT_FOUND, "membership.partnership_id",
     "unknown partnership \"%s\""},
    {"memberships_actor_fk", SP_NOT_FOUND, "membership.actor_id", "unknown actor \"%s\""},
    {"memberships_ended_after_joined", SP_INVALID_ARGUMENT, "ended_on",
     "ended_on \"%s\" is before the membership's joined_on"},
    {"memberships_active_key", SP_ALREADY_EXISTS, "membership.actor_id",
     "actor \"%s\" is already an active member of this partnership"},
    {"memberships_idempotency_key_key", SP_FAILED_PRECONDITION, "idempotency_key", S_KEY_REUSED},

    {"relations_from_fk", SP_NOT_FOUND, "relation.from_actor_id", "unknown actor \"%s\""},
    {"relations_to_fk", SP_NOT_FOUND, "relation.to_actor_id", "unknown actor \"%s\""},
    {"relations_partnership_fk", SP_NOT_FOUND, "relation.partnership_id",
     "unknown partnership \"%s\""},
    {"relations_not_self", SP_INVALID_ARGUMENT, "relation.to_actor_id",
     "a relation needs two different actors"},
    {"relations_tie_key", SP_ALREADY_EXISTS, "relation", "this relation is already recorded"},
    {"relations_idempotency_key_key", SP_FAILED_PRECONDITION, "idempotency_key", S_KEY_REUSED},

    {"consents_actor_fk", SP_NOT_FOUND, "consent.actor_id", "unknown actor \"%s\""},
    {"consents_withdrawn_after_given", SP_INVALID_ARGUMENT, "consent.given_at",
     "given_at \"%s\" is after the consent's withdrawal"},
    {"consents_idempotency_key_key", SP_FAILED_PRECONDITION, "idempotency_key", S_KEY_REUSED},
};

static const char *s_value(const registration_value_t *values, size_t n, const char *field)
{
    for (size_t i = 0; i < n; i++)
        if (values[i].field && strcmp(values[i].field, field) == 0)
            return values[i].value ? values[i].value : "";
    return "";
}

static bool s_top_level(const char *field)
{
    return strcmp(field, "tenant") == 0 || strcmp(field, "idempotency_key") == 0;
}

static bool s_ends_with(const char *s, const char *suffix)
{
    size_t n = strlen(s), m = strlen(suffix);
    return n >= m && strcmp(s + n - m, suffix) == 0;
}

/* Set `err` from a rule: full field path and the message with the value. */
static void s_apply(const char *code_field, sp_error_code_t code, const char *fmt, const char *op,
                    const registration_value_t *values, size_t nvalues, sp_error_t *err)
{
    char field[64];
    if (s_top_level(code_field) || !op || !*op)
        snprintf(field, sizeof field, "%s", code_field);
    else
        snprintf(field, sizeof field, "%s.%s", op, code_field);
    char quoted[SP_VALID_QUOTE_MAX + 8];
    sp_error_quote(s_value(values, nvalues, code_field), SP_VALID_QUOTE_MAX, quoted, sizeof quoted);
    /* the format comes from the table above: at most one %s */
    if (strstr(fmt, "%s"))
        sp_error_set(err, code, field, fmt, quoted);
    else
        sp_error_set(err, code, field, "%s", fmt);
}

static bool s_class(const char *sqlstate, const char *prefix)
{
    return strncmp(sqlstate, prefix, strlen(prefix)) == 0;
}

sp_error_code_t registration_db_error(const char *sqlstate, const char *constraint,
                                      bool connection_failed, const char *op,
                                      const registration_value_t *values, size_t nvalues,
                                      sp_error_t *err)
{
    const char *state = sqlstate ? sqlstate : "";
    if (connection_failed || s_class(state, "08") || s_class(state, "53") ||
        s_class(state, "57P") || strcmp(state, "57014") == 0 || strcmp(state, "40001") == 0 ||
        strcmp(state, "40P01") == 0 || strcmp(state, "55P03") == 0) {
        sp_error_set(err, SP_UNAVAILABLE, "", "database unavailable; retry later");
        return err->code;
    }
    /* 42501 (insufficient privilege, or a row-level security WITH CHECK
     * failure) falls through to INTERNAL: an unknown tenant never gets this
     * far (the tenant statement finds no row and the call is answered
     * NOT_FOUND "tenant" before any error is mapped), so it is a fault of
     * the service's grants or policies, logged at warn by the caller */
    if (s_class(state, "23")) {
        if (constraint && s_ends_with(constraint, "_tenant_fk")) {
            s_apply("tenant", SP_NOT_FOUND, "unknown tenant \"%s\"", op, values, nvalues, err);
            return err->code;
        }
        for (size_t i = 0; constraint && i < sizeof s_rules / sizeof s_rules[0]; i++)
            if (strcmp(s_rules[i].constraint, constraint) == 0) {
                s_apply(s_rules[i].field, s_rules[i].code, s_rules[i].message, op, values, nvalues,
                        err);
                return err->code;
            }
        char quoted[80];
        sp_error_quote(constraint ? constraint : "", 60, quoted, sizeof quoted);
        if (strcmp(state, "23505") == 0)
            sp_error_set(err, SP_ALREADY_EXISTS, "", "already exists (constraint \"%s\")", quoted);
        else if (strcmp(state, "23503") == 0)
            sp_error_set(err, SP_NOT_FOUND, "",
                         "a referenced entity does not exist (constraint \"%s\")", quoted);
        else
            sp_error_set(err, SP_INVALID_ARGUMENT, "", "request violates rule \"%s\"", quoted);
        return err->code;
    }
    if (s_class(state, "22")) {
        sp_error_set(err, SP_INVALID_ARGUMENT, "",
                     "a value is out of range or malformed (sqlstate %.5s)", state);
        return err->code;
    }
    sp_error_set(err, SP_INTERNAL, "", "internal error; the service has logged it");
    return err->code;
}
