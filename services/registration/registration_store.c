/*
 * registration_store.c - SQL for each registration operation, and results
 * mapped to protobuf replies.
 *
 * Idempotency (what clients can rely on):
 *  - A create with request.idempotency_key stores the key and a SHA-256 of
 *    the normalised create message in the new row (unique per tenant and
 *    entity type).  Repeating it with the same key and the same request
 *    returns the row made the first time with created=false, even if it was
 *    updated since; the same key with a different request is refused with
 *    FAILED_PRECONDITION "idempotency_key".  actor_create and
 *    partnership_create without an external_ref, and consent_record,
 *    require the key (validation), so no create can be stored twice.
 *  - Actors and partnerships are also idempotent by external_ref: a create
 *    whose external_ref exists returns that entity (created=false) when its
 *    current content equals the request's (for actors: kind, name,
 *    organisation, sector, interests, language, accessibility needs; the
 *    restricted contact points and vulnerable flag are not compared, so the
 *    answer reveals nothing about them), and ALREADY_EXISTS naming
 *    external_ref otherwise.  actor_upsert creates or replaces by
 *    external_ref (created tells which); it cannot change an actor's kind,
 *    and for a principal that may not see the restricted fields it keeps
 *    the stored contact points and vulnerable flag.
 *  - member_add while the actor is an active member of the partnership
 *    returns that membership (created=false); relation_add of a tie already
 *    recorded returns it (created=false); tenant_create with an existing code
 *    returns the tenant when the name matches, ALREADY_EXISTS otherwise.
 *  - member_end and consent_withdraw set their date once; repeating them
 *    returns the record unchanged.
 * Concurrent identical creates leave one row: all but one INSERT meet the
 * unique index, wait for the winner to commit and do nothing (ON CONFLICT DO
 * NOTHING returns no row); only then does a second transaction read the
 * row that holds the key (the winner's, committed by now).  The common case,
 * no conflict, is one round trip: the tenant statement and the insert.
 *
 * Batches (registration_store_prepare_batch): calls of one tenant share a
 * transaction and its tenant statement, and their actor creates become one
 * multi-row INSERT whose rows are told apart by the ids the service chose.
 */
#include "registration_store.h"

#include "registration_cpr.h"
#include "registration_errors.h"
#include "registration_events.h"
#include "registration_ids.h"
#include "sp_buf.h"
#include "sp_log.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define OP(x) SAMSPIL__V1__REGISTRATION_REQUEST__OP_##x
#define RES(x) SAMSPIL__V1__REGISTRATION_REPLY__RESULT_##x

/* ---------------------------------------------------------------- SQL pieces */

#define TS(col) "to_char(" col " AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.US\"Z\"')"
#define TODAY "(now() AT TIME ZONE 'Europe/Copenhagen')::date"
#define ZERO_UUID "'00000000-0000-0000-0000-000000000000'::uuid"

static const char s_sql_tenant[] =
    "SELECT set_config('samspil.tenant', t.code, true) FROM registration.tenants t "
    "WHERE t.code = $1";

/* Events (registration_events.h): each change inserts its event in the
 * same statement, as a data-modifying CTE reading the rows the change
 * returned, so the event exists exactly when the change happened: an
 * insert that met an existing row (ON CONFLICT DO NOTHING) returns no row
 * and writes no event; an update writes one only when the row's content
 * differs from what it was (read FOR UPDATE in the same statement, so a
 * concurrent update cannot slip between), so a repeated update, a second
 * member_end or consent_withdraw, and an upsert of unchanged content write
 * none.  The event's header (and, where the request holds every fact, the
 * whole event) is a parameter packed by the service; the statement appends
 * the payload built from the stored row where the row holds the facts. */
#define OUTBOX_INSERT "INSERT INTO registration.outbox (tenant_id, event_type, entity_id, payload) "

/* tenants: code, name, created_at */
#define TENANT_COLS "t.code, t.name, " TS("t.created_at")

/* actors: 13 columns.  Column 8, the contact points: the sealed list
 * ("v1.<key>.<base64>", registration_contacts.h), or for rows written
 * before 003_privacy the plain-text jsonb list as the text of an array of
 * "kind:preferred:value" strings ("{}" when there are none). */
#define ACTOR_CONTACTS                                                                             \
    "ARRAY(SELECT (e.v->>'kind') || ':' || CASE WHEN (e.v->>'preferred')::boolean THEN '1' "       \
    "ELSE '0' END || ':' || (e.v->>'value') FROM jsonb_array_elements(a.contact_points) "          \
    "WITH ORDINALITY AS e(v, n) ORDER BY e.n)"
#define ACTOR_COLS                                                                                 \
    "a.id, a.kind, a.name, COALESCE(a.organisation_id::text, ''), COALESCE(a.sector, ''), "        \
    "a.interests, COALESCE(a.preferred_language, ''), a.accessibility_needs, "                     \
    "COALESCE(a.contacts, " ACTOR_CONTACTS                                                         \
    "::text), a.vulnerable, COALESCE(a.external_ref, ''), " TS("a.created_at") ", " TS(            \
        "a.updated_at")
#define ACTOR_NCOLS 13

/* partnerships: 9 columns */
#define PART_COLS                                                                                  \
    "p.id, p.name, p.purpose, p.burning_platform, p.status, "                                      \
    "COALESCE(p.backbone_organisation_id::text, ''), COALESCE(p.external_ref, ''), " TS(           \
        "p.created_at") ", " TS("p.updated_at")
#define PART_NCOLS 9

/* memberships: 8 columns */
#define MEMBER_COLS                                                                                \
    "m.id, m.partnership_id, m.actor_id, m.roles, m.knowledge_basis, "                             \
    "to_char(m.joined_on, 'YYYY-MM-DD'), COALESCE(to_char(m.ended_on, 'YYYY-MM-DD'), ''), " TS(    \
        "m.created_at")
#define MEMBER_NCOLS 8

/* relations: 6 columns */
#define REL_COLS                                                                                   \
    "r.id, r.from_actor_id, r.to_actor_id, r.kind, COALESCE(r.partnership_id::text, ''), " TS(     \
        "r.created_at")
#define REL_NCOLS 6

/* consents: 7 columns */
#define CONSENT_COLS                                                                               \
    "c.id, c.actor_id, c.purpose, c.channel, c.text_version, " TS("c.given_at") ", COALESCE(" TS(  \
        "c.withdrawn_at") ", '')"
#define CONSENT_NCOLS 7

/* ---------------------------------------------------------------- tenants */

/* the new tenant's event is a row of that tenant: the transaction claims it first */
static const char s_sql_tenant_claim[] = "SELECT set_config('samspil.tenant', $1, true)";
static const char s_sql_tenant_insert[] =
    "WITH ins AS (INSERT INTO registration.tenants AS t (code, name) VALUES ($1, $2) "
    "ON CONFLICT DO NOTHING RETURNING " TENANT_COLS "), "
    "ev AS (" OUTBOX_INSERT "SELECT ins.code, 'tenant.created', ins.code, $3::bytea FROM ins) "
    "SELECT * FROM ins";
static const char s_sql_tenant_get[] =
    "SELECT " TENANT_COLS " FROM registration.tenants t WHERE t.code = $1";
/* $1 cursor (or NULL), $2 the principal's tenants (NULL: all), $3 limit */
static const char s_sql_tenant_list[] =
    "SELECT " TENANT_COLS " FROM registration.tenants t "
    "WHERE t.code > COALESCE($1::text, '') AND ($2::text[] IS NULL OR t.code = ANY($2::text[])) "
    "ORDER BY t.code LIMIT $3::int";

/* ---------------------------------------------------------------- partnerships */

#define PART_INSERT                                                                                \
    "INSERT INTO registration.partnerships AS p (tenant_id, name, purpose, burning_platform, "     \
    "status, backbone_organisation_id, external_ref, idempotency_key, request_hash, id) "          \
    "VALUES ($1, $2, $3, $4, $5, $6::uuid, $7, $8, $9::bytea, $10::uuid) "
/* $11 the event */
static const char s_sql_part_insert[] =
    "WITH ins AS (" PART_INSERT "ON CONFLICT DO NOTHING RETURNING " PART_COLS "), "
    "ev AS (" OUTBOX_INSERT "SELECT $1, 'partnership.created', ins.id::text, $11::bytea FROM ins) "
    "SELECT * FROM ins";
/* the row holding the key ($2, hash $3) or the external ref ($4); content $5.. */
static const char s_sql_part_existing[] =
    "SELECT " PART_COLS ", COALESCE(p.idempotency_key = $2, false), "
    "COALESCE(p.request_hash = $3::bytea, false), "
    "ROW(p.name, p.purpose, p.burning_platform, p.status, p.backbone_organisation_id) "
    "IS NOT DISTINCT FROM ROW($5::text, $6::text, $7::text, $8::text, $9::uuid) "
    "FROM registration.partnerships p "
    "WHERE p.tenant_id = $1 AND (p.idempotency_key = $2 OR p.external_ref = $4) "
    "ORDER BY 10 DESC LIMIT 1";
static const char s_sql_part_get[] =
    "SELECT " PART_COLS " FROM registration.partnerships p WHERE p.tenant_id = $1 "
    "AND p.id = $2::uuid";
#define PART_LIST                                                                                  \
    "SELECT " PART_COLS " FROM registration.partnerships p WHERE p.tenant_id = $1 "                \
    "AND p.id > COALESCE($2::uuid, " ZERO_UUID ") "
static const char s_sql_part_list[] = PART_LIST "ORDER BY p.id LIMIT $3::int";
static const char s_sql_part_list_status[] =
    PART_LIST "AND p.status = $4 ORDER BY p.id LIMIT $3::int";
/* $3 mask bits (REGISTRATION_PARTNERSHIP_*), $4.. new values, $9 the event's header */
#define PART_CONTENT(p)                                                                            \
    "ROW(" p ".name, " p ".purpose, " p ".burning_platform, " p ".status, " p                      \
    ".backbone_organisation_id)"
static const char s_sql_part_update[] = "WITH old AS (SELECT p.id, " PART_CONTENT(
    "p") " AS content "
         "FROM registration.partnerships p WHERE p.tenant_id = $1 AND p.id = $2::uuid FOR UPDATE), "
         "upd AS (UPDATE registration.partnerships AS p SET "
         "name = CASE WHEN $3::int & 1 <> 0 THEN $4 ELSE p.name END, "
         "purpose = CASE WHEN $3::int & 2 <> 0 THEN $5 ELSE p.purpose END, "
         "burning_platform = CASE WHEN $3::int & 4 <> 0 THEN $6 ELSE p.burning_platform END, "
         "status = CASE WHEN $3::int & 8 <> 0 THEN $7 ELSE p.status END, "
         "backbone_organisation_id = CASE WHEN $3::int & 16 <> 0 THEN $8::uuid "
         "ELSE p.backbone_organisation_id END, updated_at = now() "
         "FROM old WHERE p.tenant_id = $1 AND p.id = old.id "
         "RETURNING p.*, old.content IS DISTINCT FROM " PART_CONTENT(
             "p") " AS changed), "
                  "ev AS (" OUTBOX_INSERT "SELECT $1, 'partnership.updated', upd.id::text, "
                  "$9::bytea || registration.partnership_event(upd.status) FROM upd WHERE "
                  "upd.changed) "
                  "SELECT " PART_COLS " FROM upd p";

/* ---------------------------------------------------------------- actors */

/* $9 the sealed contact points (NULL: none), `fp` their fingerprint */
#define ACTOR_INSERT(fp)                                                                           \
    "INSERT INTO registration.actors AS a (tenant_id, kind, name, organisation_id, sector, "       \
    "interests, preferred_language, accessibility_needs, contacts, vulnerable, "                   \
    "external_ref, idempotency_key, request_hash, id, contacts_fp) VALUES ($1, $2, $3, "           \
    "$4::uuid, $5, $6::text[], $7, $8::text[], $9, $10::boolean, $11, $12, $13::bytea, "           \
    "$14::uuid, " fp "::bytea) "
/* The hot path returns only what the server chose (id, time): the reply
 * takes the rest from the request, which is what was stored. */
#define ACTOR_NEW_COLS "a.id, " TS("a.created_at")
/* $15 the event, $16 the contact points' fingerprint */
static const char s_sql_actor_insert[] = "WITH ins AS (" ACTOR_INSERT(
    "$16") "ON CONFLICT DO NOTHING RETURNING " ACTOR_NEW_COLS "), "
           "ev AS (" OUTBOX_INSERT
           "SELECT $1, 'actor.registered', ins.id::text, $15::bytea FROM ins) "
           "SELECT * FROM ins";
/* Several creates of one batch as one statement: each parameter an array
 * with one element per actor (text[] values as their text); the events of
 * the rows inserted ($15, in the order of the ids $2) as one multi-row
 * insert too; $16 the contact points' fingerprints. */
static const char s_sql_actor_insert_many[] =
    "WITH ins AS (INSERT INTO registration.actors AS a (tenant_id, id, kind, name, "
    "organisation_id, sector, "
    "interests, preferred_language, accessibility_needs, contacts, vulnerable, "
    "external_ref, idempotency_key, request_hash, contacts_fp) "
    "SELECT $1, x.id, x.kind, x.name, x.org, x.sector, x.interests::text[], x.lang, "
    "x.needs::text[], x.contacts, x.vulnerable, x.ref, x.key, x.hash, x.fp "
    "FROM unnest($2::uuid[], $3::text[], $4::text[], $5::uuid[], $6::text[], $7::text[], "
    "$8::text[], $9::text[], $10::text[], $11::boolean[], $12::text[], $13::text[], "
    "$14::bytea[], $16::bytea[]) AS x(id, kind, name, org, sector, interests, lang, needs, "
    "contacts, vulnerable, ref, key, hash, fp) "
    "ON CONFLICT DO NOTHING RETURNING " ACTOR_NEW_COLS "), "
    "ev AS (" OUTBOX_INSERT "SELECT $1, 'actor.registered', e.id::text, e.payload "
    "FROM unnest($2::uuid[], $15::bytea[]) WITH ORDINALITY AS e(id, payload, n) "
    "WHERE e.id IN (SELECT ins.id FROM ins) ORDER BY e.n) "
    "SELECT * FROM ins";
/* the row holding the key ($2, hash $3) or the external ref ($4); content $5.. */
static const char s_sql_actor_existing[] =
    "SELECT " ACTOR_COLS ", COALESCE(a.idempotency_key = $2, false), "
    "COALESCE(a.request_hash = $3::bytea, false), "
    "ROW(a.kind, a.name, a.organisation_id, a.sector, a.interests, a.preferred_language, "
    "a.accessibility_needs) IS NOT DISTINCT FROM ROW($5::text, $6::text, $7::uuid, $8::text, "
    "$9::text[], $10::text, $11::text[]) "
    "FROM registration.actors a "
    "WHERE a.tenant_id = $1 AND (a.idempotency_key = $2 OR a.external_ref = $4) "
    "ORDER BY 14 DESC LIMIT 1";
/* The same parameters as the insert ($18 the fingerprint), and the
 * restricted fields: $15 whether the upsert writes the contact points
 * (principals that see them always do, so sending none clears them;
 * integrators, who may set but not see them, only when they send some),
 * $19 the actor id they were sealed for (registration_contacts.h: an
 * existing actor's, read first), $20 whether the principal sees the
 * vulnerable flag (else it can only set it, never clear it).  A stored row
 * whose id is not $19 keeps its contact points unless the upsert clears
 * them (a concurrent create won: the returned sealed_ok is false and the
 * call seals again for that row).
 * Kind cannot change. */
#define UPSERT_SEALED_HERE "$15::boolean AND (EXCLUDED.contacts IS NULL OR a.id = $19::uuid)"
#define UPSERT_CONTACTS                                                                            \
    "CASE WHEN " UPSERT_SEALED_HERE " THEN EXCLUDED.contacts ELSE a.contacts END"
#define UPSERT_FP                                                                                  \
    "CASE WHEN " UPSERT_SEALED_HERE " THEN EXCLUDED.contacts_fp ELSE a.contacts_fp END"
#define UPSERT_VULNERABLE                                                                          \
    "CASE WHEN $20::boolean THEN EXCLUDED.vulnerable ELSE a.vulnerable OR EXCLUDED.vulnerable END"
/* the content an update compares (every stored field but kind and keys;
 * the contact points by their fingerprint) */
#define ACTOR_CONTENT(a)                                                                           \
    "ROW(" a ".name, " a ".organisation_id, " a ".sector, " a ".interests, " a                     \
    ".preferred_language, " a ".accessibility_needs, " a ".contacts_fp, " a ".vulnerable)"
/* $16 the event if it creates, $17 if it updates (without entity_id, field 5,
 * which the statement appends: the stored row's id); an update that changes
 * nothing (or a kind mismatch, which returns no row) writes none.  The
 * stored content is read and locked first: the insert selects from `locked`
 * so that `old` runs before it (a CTE runs when first read, and a row this
 * statement has already updated could no longer be locked). */
#define UPSERT_OLD                                                                                 \
    "WITH old AS (SELECT " ACTOR_CONTENT(                                                          \
        "a") " AS content FROM registration.actors a "                                             \
             "WHERE a.tenant_id = $1 AND a.external_ref = $11 FOR UPDATE), "
#define UPSERT_INSERT                                                                              \
    "INSERT INTO registration.actors AS a (tenant_id, kind, name, organisation_id, sector, "       \
    "interests, preferred_language, accessibility_needs, contacts, vulnerable, "                   \
    "external_ref, idempotency_key, request_hash, id, contacts_fp) SELECT $1, $2, $3, $4::uuid, "  \
    "$5, $6::text[], $7, $8::text[], $9, $10::boolean, $11, $12, $13::bytea, $14::uuid, "          \
    "$18::bytea FROM (SELECT count(*) FROM old) AS locked "
#define UPSERT_EVENT                                                                               \
    "ev AS (" OUTBOX_INSERT "SELECT $1, CASE WHEN up.created THEN 'actor.registered' "             \
    "ELSE 'actor.updated' END, up.id::text, CASE WHEN up.created THEN $16::bytea "                 \
    "ELSE $17::bytea || registration.pb_text(5, up.id::text) END FROM up "                         \
    "WHERE up.created OR NOT EXISTS (SELECT 1 FROM old) "                                          \
    "OR (SELECT old.content FROM old) IS DISTINCT FROM " ACTOR_CONTENT("up") ") "
static const char s_sql_actor_upsert[] = UPSERT_OLD
    "up AS (" UPSERT_INSERT "ON CONFLICT (tenant_id, external_ref) WHERE external_ref IS NOT NULL "
    "DO UPDATE SET name = EXCLUDED.name, organisation_id = EXCLUDED.organisation_id, "
    "sector = EXCLUDED.sector, interests = EXCLUDED.interests, "
    "preferred_language = EXCLUDED.preferred_language, "
    "accessibility_needs = EXCLUDED.accessibility_needs, "
    "contacts = " UPSERT_CONTACTS ", contacts_fp = " UPSERT_FP ", "
    "contact_points = CASE WHEN " UPSERT_SEALED_HERE " THEN '[]'::jsonb "
    "ELSE a.contact_points END, "
    "vulnerable = " UPSERT_VULNERABLE ", "
    "updated_at = CASE WHEN ROW(a.name, a.organisation_id, a.sector, a.interests, "
    "a.preferred_language, a.accessibility_needs, a.contacts_fp, a.vulnerable) "
    "IS DISTINCT FROM ROW(EXCLUDED.name, EXCLUDED.organisation_id, EXCLUDED.sector, "
    "EXCLUDED.interests, EXCLUDED.preferred_language, "
    "EXCLUDED.accessibility_needs, " UPSERT_FP ", " UPSERT_VULNERABLE
    ") THEN now() ELSE a.updated_at END "
    "WHERE a.kind = EXCLUDED.kind "
    "RETURNING a.*, a.xmax = 0 AS created, a.id = $19::uuid AS sealed_ok), " UPSERT_EVENT
    "SELECT " ACTOR_COLS ", a.created, a.sealed_ok FROM up a";
/* an upsert that writes contact points first reads the id they are for */
static const char s_sql_actor_ref_id[] =
    "SELECT a.id FROM registration.actors a WHERE a.tenant_id = $1 AND a.external_ref = $2";
static const char s_sql_actor_get[] =
    "SELECT " ACTOR_COLS " FROM registration.actors a WHERE a.tenant_id = $1 AND a.id = $2::uuid";
static const char s_sql_actor_get_ref[] =
    "SELECT " ACTOR_COLS " FROM registration.actors a WHERE a.tenant_id = $1 "
    "AND a.external_ref = $2";
/* $2 cursor, $3 limit, then the filters given (kind, interest): one
 * statement per combination, so each prepared statement has a plan that
 * fits it, and every parameter is used (PostgreSQL cannot type unused ones) */
#define ACTOR_LIST                                                                                 \
    "SELECT " ACTOR_COLS " FROM registration.actors a WHERE a.tenant_id = $1 "                     \
    "AND a.id > COALESCE($2::uuid, " ZERO_UUID ") "
#define ACTOR_LIST_END "ORDER BY a.id LIMIT $3::int"
static const char *const s_sql_actor_list[4] = {
    ACTOR_LIST ACTOR_LIST_END,
    ACTOR_LIST "AND a.kind = $4 " ACTOR_LIST_END,
    ACTOR_LIST "AND a.interests @> ARRAY[$4::text] " ACTOR_LIST_END,
    ACTOR_LIST "AND a.kind = $4 AND a.interests @> ARRAY[$5::text] " ACTOR_LIST_END,
};
/* $3 mask bits (REGISTRATION_ACTOR_*), $4.. new values ($10 the sealed
 * contact points), $12 the event's header, $13 the contact points'
 * fingerprint.  An erased actor's personal fields cannot be set again
 * (constraint actors_erased). */
static const char s_sql_actor_update[] = "WITH old AS (SELECT a.id, " ACTOR_CONTENT(
    "a") " AS content FROM registration.actors a "
         "WHERE a.tenant_id = $1 AND a.id = $2::uuid FOR UPDATE), "
         "upd AS (UPDATE registration.actors AS a SET "
         "name = CASE WHEN $3::int & 1 <> 0 THEN $4 ELSE a.name END, "
         "organisation_id = CASE WHEN $3::int & 2 <> 0 THEN $5::uuid ELSE a.organisation_id END, "
         "sector = CASE WHEN $3::int & 4 <> 0 THEN $6 ELSE a.sector END, "
         "interests = CASE WHEN $3::int & 8 <> 0 THEN $7::text[] ELSE a.interests END, "
         "preferred_language = CASE WHEN $3::int & 16 <> 0 THEN $8 ELSE a.preferred_language END, "
         "accessibility_needs = CASE WHEN $3::int & 32 <> 0 THEN $9::text[] "
         "ELSE a.accessibility_needs END, "
         "contacts = CASE WHEN $3::int & 64 <> 0 THEN $10 ELSE a.contacts END, "
         "contacts_fp = CASE WHEN $3::int & 64 <> 0 THEN $13::bytea ELSE a.contacts_fp END, "
         "contact_points = CASE WHEN $3::int & 64 <> 0 THEN '[]'::jsonb ELSE a.contact_points END, "
         "vulnerable = CASE WHEN $3::int & 128 <> 0 THEN $11::boolean ELSE a.vulnerable END, "
         "updated_at = now() FROM old WHERE a.tenant_id = $1 AND a.id = old.id "
         "RETURNING a.*, old.content IS DISTINCT FROM " ACTOR_CONTENT(
             "a") " AS changed), "
                  "ev AS (" OUTBOX_INSERT "SELECT $1, 'actor.updated', upd.id::text, $12::bytea || "
                  "registration.actor_event(upd.kind, upd.organisation_id, upd.sector) FROM upd "
                  "WHERE upd.changed) "
                  "SELECT " ACTOR_COLS " FROM upd a";

/* ---------------------------------------------------------------- memberships */

/* $10 the event's header; the payload names the actor's kind */
#define MEMBER_EVENT(m)                                                                            \
    "registration.membership_event(" m ".partnership_id, " m ".actor_id, " m ".roles, " m          \
    ".knowledge_basis, (SELECT a.kind FROM registration.actors a WHERE a.tenant_id = $1 "          \
    "AND a.id = " m ".actor_id))"
static const char s_sql_member_insert[] =
    "WITH ins AS (INSERT INTO registration.memberships AS m (tenant_id, partnership_id, "
    "actor_id, roles, knowledge_basis, joined_on, idempotency_key, request_hash, id) "
    "VALUES ($1, $2::uuid, $3::uuid, $4::text[], $5, COALESCE($6::date, " TODAY "), $7, "
    "$8::bytea, $9::uuid) ON CONFLICT DO NOTHING RETURNING m.*), "
    "ev AS (" OUTBOX_INSERT "SELECT $1, 'membership.added', ins.id::text, "
    "$10::bytea || " MEMBER_EVENT("ins") " FROM ins) "
                                         "SELECT " MEMBER_COLS " FROM ins m";
/* the row holding the key ($4, hash $5), else the active membership */
static const char s_sql_member_existing[] =
    "SELECT " MEMBER_COLS ", COALESCE(m.idempotency_key = $4, false), "
    "COALESCE(m.request_hash = $5::bytea, false) FROM registration.memberships m "
    "WHERE m.tenant_id = $1 AND (m.idempotency_key = $4 OR (m.partnership_id = $2::uuid "
    "AND m.actor_id = $3::uuid AND m.ended_on IS NULL)) ORDER BY 9 DESC LIMIT 1";
/* $2 cursor, $3 limit, $4 include ended, then partnership and/or actor */
#define MEMBER_LIST                                                                                \
    "SELECT " MEMBER_COLS " FROM registration.memberships m WHERE m.tenant_id = $1 "               \
    "AND m.id > COALESCE($2::uuid, " ZERO_UUID ") AND ($4::boolean OR m.ended_on IS NULL) "
#define MEMBER_LIST_END "ORDER BY m.id LIMIT $3::int"
static const char *const s_sql_member_list[3] = {
    MEMBER_LIST "AND m.partnership_id = $5::uuid " MEMBER_LIST_END,
    MEMBER_LIST "AND m.actor_id = $5::uuid " MEMBER_LIST_END,
    MEMBER_LIST "AND m.partnership_id = $5::uuid AND m.actor_id = $6::uuid " MEMBER_LIST_END,
};
/* $4 the event's header: written only when this call ended it */
static const char s_sql_member_end[] =
    "WITH old AS (SELECT m.id, m.ended_on FROM registration.memberships m "
    "WHERE m.tenant_id = $1 AND m.id = $2::uuid FOR UPDATE), "
    "upd AS (UPDATE registration.memberships AS m SET ended_on = COALESCE(m.ended_on, "
    "$3::date, " TODAY ") FROM old WHERE m.tenant_id = $1 AND m.id = old.id "
    "RETURNING m.*, old.ended_on IS NULL AS changed), "
    "ev AS (" OUTBOX_INSERT "SELECT $1, 'membership.ended', upd.id::text, "
    "$4::bytea || " MEMBER_EVENT("upd") " FROM upd WHERE upd.changed) "
                                        "SELECT " MEMBER_COLS " FROM upd m";

/* ---------------------------------------------------------------- relations */

/* $9 the event */
static const char s_sql_rel_insert[] =
    "WITH ins AS (INSERT INTO registration.relations AS r (tenant_id, from_actor_id, "
    "to_actor_id, kind, partnership_id, idempotency_key, request_hash, id) "
    "VALUES ($1, $2::uuid, $3::uuid, $4, $5::uuid, $6, $7::bytea, $8::uuid) "
    "ON CONFLICT DO NOTHING RETURNING " REL_COLS "), "
    "ev AS (" OUTBOX_INSERT "SELECT $1, 'relation.added', ins.id::text, $9::bytea FROM ins) "
    "SELECT * FROM ins";
static const char s_sql_rel_existing[] =
    "SELECT " REL_COLS ", COALESCE(r.idempotency_key = $6, false), "
    "COALESCE(r.request_hash = $7::bytea, false) FROM registration.relations r "
    "WHERE r.tenant_id = $1 AND (r.idempotency_key = $6 OR (r.from_actor_id = $2::uuid "
    "AND r.to_actor_id = $3::uuid AND r.kind = $4 "
    "AND r.partnership_id IS NOT DISTINCT FROM $5::uuid)) ORDER BY 7 DESC LIMIT 1";
/* $2 cursor, $3 limit, then actor and/or partnership */
#define REL_LIST                                                                                   \
    "SELECT " REL_COLS " FROM registration.relations r WHERE r.tenant_id = $1 "                    \
    "AND r.id > COALESCE($2::uuid, " ZERO_UUID ") "
#define REL_LIST_END "ORDER BY r.id LIMIT $3::int"
#define REL_BY_ACTOR "AND (r.from_actor_id = $4::uuid OR r.to_actor_id = $4::uuid) "
static const char *const s_sql_rel_list[4] = {
    REL_LIST REL_LIST_END,
    REL_LIST REL_BY_ACTOR REL_LIST_END,
    REL_LIST "AND r.partnership_id = $4::uuid " REL_LIST_END,
    REL_LIST REL_BY_ACTOR "AND r.partnership_id = $5::uuid " REL_LIST_END,
};

/* ---------------------------------------------------------------- consents */

#define CONSENT_INSERT                                                                             \
    "INSERT INTO registration.consents AS c (tenant_id, actor_id, purpose, channel, "              \
    "text_version, given_at, idempotency_key, request_hash, id) "                                  \
    "VALUES ($1, $2::uuid, $3, $4, $5, COALESCE($6::timestamptz, now()), $7, $8::bytea, "          \
    "$9::uuid) "
/* $10 the event */
static const char s_sql_consent_insert[] =
    "WITH ins AS (" CONSENT_INSERT "ON CONFLICT DO NOTHING RETURNING " CONSENT_COLS "), "
    "ev AS (" OUTBOX_INSERT "SELECT $1, 'consent.given', ins.id::text, $10::bytea FROM ins) "
    "SELECT * FROM ins";
static const char s_sql_consent_existing[] =
    "SELECT " CONSENT_COLS ", true, COALESCE(c.request_hash = $3::bytea, false) "
    "FROM registration.consents c WHERE c.tenant_id = $1 AND c.idempotency_key = $2";
/* $3 the event's header: written only when this call withdrew it */
static const char s_sql_consent_withdraw[] =
    "WITH old AS (SELECT c.id, c.withdrawn_at FROM registration.consents c "
    "WHERE c.tenant_id = $1 AND c.id = $2::uuid FOR UPDATE), "
    "upd AS (UPDATE registration.consents AS c SET withdrawn_at = COALESCE(c.withdrawn_at, "
    "GREATEST(now(), c.given_at)) FROM old WHERE c.tenant_id = $1 AND c.id = old.id "
    "RETURNING c.*, old.withdrawn_at IS NULL AS changed), "
    "ev AS (" OUTBOX_INSERT "SELECT $1, 'consent.withdrawn', upd.id::text, "
    "$3::bytea || registration.consent_event(upd.actor_id, upd.purpose) FROM upd "
    "WHERE upd.changed) "
    "SELECT " CONSENT_COLS " FROM upd c";
static const char s_sql_consent_list[] =
    "SELECT " CONSENT_COLS " FROM registration.consents c WHERE c.tenant_id = $1 "
    "AND c.actor_id = $4::uuid AND c.id > COALESCE($2::uuid, " ZERO_UUID ") "
    "ORDER BY c.id LIMIT $3::int";

/* ---------------------------------------------------------------- persons (GDPR) */

/* The person of person_export and person_erase: $2 the actor id, or $3 its
 * external ref (a CPR ref already made a pseudonym). */
#define PERSON_WHERE(a) a ".tenant_id = $1 AND (" a ".id = $2::uuid OR " a ".external_ref = $3)"
#define PERSON_IDS "SELECT p.id FROM registration.actors p WHERE " PERSON_WHERE("p")

/* export: the actor with its erasure time, and everything about it */
static const char s_sql_export_actor[] =
    "SELECT " ACTOR_COLS
    ", COALESCE(" TS("a.erased_at") ", '') FROM registration.actors a WHERE " PERSON_WHERE("a");
static const char s_sql_export_members[] =
    "SELECT " MEMBER_COLS " FROM registration.memberships m WHERE m.tenant_id = $1 "
    "AND m.actor_id IN (" PERSON_IDS ") ORDER BY m.id";
static const char s_sql_export_relations[] =
    "SELECT " REL_COLS " FROM registration.relations r WHERE r.tenant_id = $1 "
    "AND (r.from_actor_id IN (" PERSON_IDS ") OR r.to_actor_id IN (" PERSON_IDS ")) "
    "ORDER BY r.id";
static const char s_sql_export_consents[] =
    "SELECT " CONSENT_COLS " FROM registration.consents c WHERE c.tenant_id = $1 "
    "AND c.actor_id IN (" PERSON_IDS ") ORDER BY c.id";
/* the outbox is readable only with samspil.relay on (002_outbox.sql): this
 * transaction reads, and only the tenant's events about the person's
 * entities */
static const char s_sql_relay_on[] = "SELECT set_config('samspil.relay', 'on', true)";
static const char s_sql_export_events[] =
    "WITH ids AS (" PERSON_IDS " UNION ALL "
    "SELECT m.id FROM registration.memberships m WHERE m.tenant_id = $1 AND m.actor_id IN "
    "(" PERSON_IDS ") UNION ALL "
    "SELECT r.id FROM registration.relations r WHERE r.tenant_id = $1 AND (r.from_actor_id IN "
    "(" PERSON_IDS ") OR r.to_actor_id IN (" PERSON_IDS ")) UNION ALL "
    "SELECT c.id FROM registration.consents c WHERE c.tenant_id = $1 AND c.actor_id IN "
    "(" PERSON_IDS ")) "
    "SELECT COALESCE(o.seq, 0), o.event_type, o.entity_id, "
    "(extract(epoch FROM o.created_at) * 1000000)::bigint, o.payload "
    "FROM registration.outbox o WHERE o.tenant_id = $1 "
    "AND o.entity_id IN (SELECT ids.id::text FROM ids) ORDER BY o.seq NULLS LAST, o.id";
#define EXPORT_NSTMTS 6

/* erase, one statement: the actor's personal fields, its consents (in
 * force ones withdrawn, the text version cleared) and the request hashes
 * of everything of the person (a hash of a request that held personal
 * data); events actor.erased and consent.withdrawn.  Organisations are
 * not erased (no row from `upd`).  $4 and $5 the events' headers (type,
 * tenant, time); the statement appends the entity id and the payload.
 * Returns the actor's id and kind, the erasure time, whether this call
 * erased it, and how many consents it withdrew. */
static const char s_sql_erase[] =
    "WITH old AS (SELECT a.id, a.kind, a.erased_at FROM registration.actors a "
    "WHERE " PERSON_WHERE(
        "a") " FOR UPDATE), "
             "oldc AS (SELECT c.id, c.withdrawn_at FROM registration.consents c, old "
             "WHERE c.tenant_id = $1 AND c.actor_id = old.id AND old.kind <> 'organisation' "
             "FOR UPDATE OF c), "
             "upd AS (UPDATE registration.actors AS a SET name = 'erased', interests = '{}', "
             "preferred_language = NULL, accessibility_needs = '{}', contacts = NULL, "
             "contacts_fp = NULL, contact_points = '[]', vulnerable = false, external_ref = NULL, "
             "request_hash = NULL, erased_at = COALESCE(a.erased_at, now()), "
             "updated_at = CASE WHEN a.erased_at IS NULL THEN now() ELSE a.updated_at END "
             "FROM old WHERE a.tenant_id = $1 AND a.id = old.id AND old.kind <> 'organisation' "
             "RETURNING a.id, a.kind, a.organisation_id, a.sector, a.erased_at, "
             "old.erased_at IS NULL AS changed), "
             "cons AS (UPDATE registration.consents AS c SET "
             "withdrawn_at = COALESCE(c.withdrawn_at, GREATEST(now(), c.given_at)), "
             "text_version = 'erased', request_hash = NULL FROM oldc "
             "WHERE c.tenant_id = $1 AND c.id = oldc.id "
             "RETURNING c.id, c.actor_id, c.purpose, oldc.withdrawn_at IS NULL AS withdrew), "
             "mem AS (UPDATE registration.memberships AS m SET request_hash = NULL FROM upd "
             "WHERE m.tenant_id = $1 AND m.actor_id = upd.id AND m.request_hash IS NOT NULL "
             "RETURNING m.id), "
             "rel AS (UPDATE registration.relations AS r SET request_hash = NULL FROM upd "
             "WHERE r.tenant_id = $1 AND (r.from_actor_id = upd.id OR r.to_actor_id = upd.id) "
             "AND r.request_hash IS NOT NULL RETURNING r.id), "
             "ev AS (" OUTBOX_INSERT "SELECT $1, 'actor.erased', upd.id::text, $4::bytea || "
             "registration.pb_text(5, upd.id::text) || "
             "registration.actor_event(upd.kind, upd.organisation_id, upd.sector) FROM upd "
             "WHERE upd.changed), "
             "evc AS (" OUTBOX_INSERT "SELECT $1, 'consent.withdrawn', cons.id::text, $5::bytea || "
             "registration.pb_text(5, cons.id::text) || "
             "registration.consent_event(cons.actor_id, cons.purpose) FROM cons WHERE "
             "cons.withdrew) "
             "SELECT old.id, old.kind, COALESCE(" TS(
                 "upd.erased_at") ", ''), "
                                  "COALESCE(upd.changed, false), (SELECT count(*) FROM cons WHERE "
                                  "cons.withdrew), "
                                  "(SELECT count(*) FROM mem) + (SELECT count(*) FROM rel) "
                                  "FROM old LEFT JOIN upd ON upd.id = old.id";

/* ---------------------------------------------------------------- enum words */

/* The words stored in the database (and named in the CHECK constraints),
 * indexed by the protobuf enum value. */
static const char *const s_kinds[] = {NULL, "citizen", "professional", "organisation"};
static const char *const s_sectors[] = {NULL,       "public", "private", "civil_society",
                                        "research", "other"};
static const char *const s_contact_kinds[] = {NULL, "email", "phone", "postal"};
static const char *const s_statuses[] = {NULL, "forming", "active", "paused", "ended"};
static const char *const s_roles[] = {NULL,     "initiator",     "recipient",
                                      "friend", "volunteer",     "passive",
                                      "active", "needs_support", "facilitator"};
static const char *const s_bases[] = {NULL, "experiential", "professional", "both"};
static const char *const s_rel_kinds[] = {NULL, "knows", "trusts", "collaborates", "supports"};
static const char *const s_channels[] = {NULL,    "in_person", "paper", "web",
                                         "email", "sms",       "phone"};

#define S_WORDS(table) (table), (sizeof(table) / sizeof(table)[0])

/* Word for `value`, or NULL (SQL NULL) for 0 and unknown values. */
static const char *s_word(const char *const *table, size_t n, int value)
{
    return value > 0 && (size_t)value < n ? table[value] : NULL;
}

/* Enum value of a stored word (0 when unknown). */
static int s_value(const char *const *table, size_t n, const char *word)
{
    for (size_t i = 1; i < n; i++)
        if (strcmp(table[i], word) == 0)
            return (int)i;
    return 0;
}

/* ---------------------------------------------------------------- parameters */

static const char *s_null_if_empty(const char *s)
{
    return s && *s ? s : NULL;
}

/* A text[] literal: {"a","b"} with " and \ escaped. */
static const char *s_text_array(registration_arena_t *arena, char *const *items, size_t n)
{
    size_t len = 3;
    for (size_t i = 0; i < n; i++)
        len += 2 * strlen(items[i] ? items[i] : "") + 3;
    char *out = registration_arena_alloc(arena, len);
    size_t o = 0;
    out[o++] = '{';
    for (size_t i = 0; i < n; i++) {
        if (i)
            out[o++] = ',';
        out[o++] = '"';
        for (const char *s = items[i] ? items[i] : ""; *s; s++) {
            if (*s == '"' || *s == '\\')
                out[o++] = '\\';
            out[o++] = *s;
        }
        out[o++] = '"';
    }
    out[o++] = '}';
    out[o] = '\0';
    return out;
}

/* A text[] literal of enum words. */
static const char *s_word_array(registration_arena_t *arena, const int *values, size_t n,
                                const char *const *table, size_t ntable)
{
    char **words = registration_arena_alloc(arena, (n ? n : 1) * sizeof *words);
    for (size_t i = 0; i < n; i++) {
        const char *w = s_word(table, ntable, values[i]);
        words[i] = (char *)(w ? w : "");
    }
    return s_text_array(arena, words, n);
}

static const char *s_int(registration_arena_t *arena, long long v)
{
    char tmp[24];
    int n = snprintf(tmp, sizeof tmp, "%lld", v);
    return registration_arena_strndup(arena, tmp, (size_t)n);
}

/* ---------------------------------------------------------------- rows to messages */

static const char *s_get(const PGresult *r, int row, int col)
{
    return PQgetvalue(r, row, col);
}

/* A text[] column as a string vector (empty on a malformed value). */
static char **s_strv(registration_arena_t *arena, const PGresult *r, int row, int col, size_t *n)
{
    char **items;
    if (registration_pg_array(arena, s_get(r, row, col), &items, n) != 0) {
        *n = 0;
        return NULL;
    }
    return items;
}

static Samspil__V1__Tenant *s_tenant_row(registration_call_t *call, const PGresult *r, int row)
{
    Samspil__V1__Tenant *t = registration_arena_alloc(&call->arena, sizeof *t);
    samspil__v1__tenant__init(t);
    t->code = (char *)s_get(r, row, 0);
    t->name = (char *)s_get(r, row, 1);
    t->created_at = (char *)s_get(r, row, 2);
    return t;
}

static Samspil__V1__Partnership *s_part_row(registration_call_t *call, const PGresult *r, int row)
{
    Samspil__V1__Partnership *p = registration_arena_alloc(&call->arena, sizeof *p);
    samspil__v1__partnership__init(p);
    p->id = (char *)s_get(r, row, 0);
    p->name = (char *)s_get(r, row, 1);
    p->purpose = (char *)s_get(r, row, 2);
    p->burning_platform = (char *)s_get(r, row, 3);
    p->status = s_value(S_WORDS(s_statuses), s_get(r, row, 4));
    p->backbone_organisation_id = (char *)s_get(r, row, 5);
    p->external_ref = (char *)s_get(r, row, 6);
    p->created_at = (char *)s_get(r, row, 7);
    p->updated_at = (char *)s_get(r, row, 8);
    return p;
}

/* protobuf-c allocation from the call's arena (freed with it) */
static void *s_pb_alloc(void *arena, size_t size)
{
    return registration_arena_alloc(arena, size);
}

static void s_pb_free(void *arena, void *p)
{
    (void)arena;
    (void)p;
}

/* The contact points of actor `id`: the sealed list opened, or a legacy
 * plain-text array ("{kind:preferred:value,...}"). */
static void s_actor_contacts(registration_call_t *call, const char *id, const char *text,
                             Samspil__V1__Actor *a)
{
    registration_arena_t *arena = &call->arena;
    if (strncmp(text, "v1.", 3) == 0) {
        ProtobufCAllocator alloc = {s_pb_alloc, s_pb_free, arena};
        Samspil__V1__ContactPointList *list = NULL;
        if (registration_contacts_open(call->keys, call->req->tenant, id, text, &alloc, &list) !=
            0) {
            uint32_t key_id = 0;
            sp_seal_key_id(text, &key_id);
            sp_log_warn("could not open contact points", SP_LOG_STR("actor", id),
                        SP_LOG_INT("key_id", key_id), SP_LOG_STR("error", strerror(errno)),
                        SP_LOG_END);
            if (!call->open_errno) {
                call->open_errno = errno ? errno : EINVAL;
                snprintf(call->open_actor, sizeof call->open_actor, "%s", id);
            }
            return;
        }
        a->n_contact_points = list->n_items;
        a->contact_points = list->items;
        return;
    }
    char **cps;
    size_t n = 0;
    if (registration_pg_array(arena, text, &cps, &n) != 0)
        n = 0;
    a->contact_points = registration_arena_alloc(arena, (n ? n : 1) * sizeof *a->contact_points);
    for (size_t i = 0; i < n; i++) {
        /* "kind:preferred:value" */
        char *v = cps[i] ? cps[i] : (char *)"";
        char *c1 = strchr(v, ':');
        char *c2 = c1 ? strchr(c1 + 1, ':') : NULL;
        if (!c2)
            continue;
        *c1 = '\0';
        Samspil__V1__ContactPoint *cp = registration_arena_alloc(arena, sizeof *cp);
        samspil__v1__contact_point__init(cp);
        cp->kind = s_value(S_WORDS(s_contact_kinds), v);
        cp->preferred = c1[1] == '1';
        cp->value = c2 + 1;
        a->contact_points[a->n_contact_points++] = cp;
    }
}

static Samspil__V1__Actor *s_actor_row(registration_call_t *call, const PGresult *r, int row)
{
    registration_arena_t *arena = &call->arena;
    Samspil__V1__Actor *a = registration_arena_alloc(arena, sizeof *a);
    samspil__v1__actor__init(a);
    a->id = (char *)s_get(r, row, 0);
    a->kind = s_value(S_WORDS(s_kinds), s_get(r, row, 1));
    a->name = (char *)s_get(r, row, 2);
    a->organisation_id = (char *)s_get(r, row, 3);
    a->sector = *s_get(r, row, 4) ? s_value(S_WORDS(s_sectors), s_get(r, row, 4)) : 0;
    a->interests = s_strv(arena, r, row, 5, &a->n_interests);
    a->preferred_language = (char *)s_get(r, row, 6);
    a->accessibility_needs = s_strv(arena, r, row, 7, &a->n_accessibility_needs);
    if (call->restricted) {
        /* opened only for principals that see them */
        s_actor_contacts(call, a->id, s_get(r, row, 8), a);
        a->vulnerable = registration_pg_bool(s_get(r, row, 9));
    }
    a->external_ref = (char *)registration_cpr_display(s_get(r, row, 10));
    a->created_at = (char *)s_get(r, row, 11);
    a->updated_at = (char *)s_get(r, row, 12);
    return a;
}

/* A just-created actor: the request's fields as stored, with the id and
 * time the insert returned. */
static Samspil__V1__Actor *s_actor_new(registration_call_t *call, const PGresult *r, int row)
{
    const Samspil__V1__Actor *src = call->req->actor_create->actor;
    Samspil__V1__Actor *a = registration_arena_alloc(&call->arena, sizeof *a);
    *a = *src;
    a->base.unknown_fields = NULL; /* never echo fields this version does not know */
    a->base.n_unknown_fields = 0;
    a->id = (char *)s_get(r, row, 0);
    a->created_at = a->updated_at = (char *)s_get(r, row, 1);
    a->external_ref = (char *)registration_cpr_display(a->external_ref);
    if (a->organisation_id && *a->organisation_id) {
        /* as PostgreSQL prints a uuid: lower case */
        size_t len = strlen(a->organisation_id);
        a->organisation_id = registration_arena_strndup(&call->arena, a->organisation_id, len);
        for (size_t i = 0; i < len; i++)
            if (a->organisation_id[i] >= 'A' && a->organisation_id[i] <= 'F')
                a->organisation_id[i] = (char)(a->organisation_id[i] - 'A' + 'a');
    }
    if (!call->restricted) {
        a->n_contact_points = 0;
        a->contact_points = NULL;
        a->vulnerable = false;
    }
    return a;
}

static Samspil__V1__Membership *s_member_row(registration_call_t *call, const PGresult *r, int row)
{
    registration_arena_t *arena = &call->arena;
    Samspil__V1__Membership *m = registration_arena_alloc(arena, sizeof *m);
    samspil__v1__membership__init(m);
    m->id = (char *)s_get(r, row, 0);
    m->partnership_id = (char *)s_get(r, row, 1);
    m->actor_id = (char *)s_get(r, row, 2);
    size_t n = 0;
    char **roles = s_strv(arena, r, row, 3, &n);
    m->roles = registration_arena_alloc(arena, (n ? n : 1) * sizeof *m->roles);
    for (size_t i = 0; i < n; i++)
        m->roles[m->n_roles++] = s_value(S_WORDS(s_roles), roles[i] ? roles[i] : "");
    m->knowledge_basis = s_value(S_WORDS(s_bases), s_get(r, row, 4));
    m->joined_on = (char *)s_get(r, row, 5);
    m->ended_on = (char *)s_get(r, row, 6);
    m->created_at = (char *)s_get(r, row, 7);
    return m;
}

static Samspil__V1__Relation *s_rel_row(registration_call_t *call, const PGresult *r, int row)
{
    Samspil__V1__Relation *rel = registration_arena_alloc(&call->arena, sizeof *rel);
    samspil__v1__relation__init(rel);
    rel->id = (char *)s_get(r, row, 0);
    rel->from_actor_id = (char *)s_get(r, row, 1);
    rel->to_actor_id = (char *)s_get(r, row, 2);
    rel->kind = s_value(S_WORDS(s_rel_kinds), s_get(r, row, 3));
    rel->partnership_id = (char *)s_get(r, row, 4);
    rel->created_at = (char *)s_get(r, row, 5);
    return rel;
}

static Samspil__V1__Consent *s_consent_row(registration_call_t *call, const PGresult *r, int row)
{
    Samspil__V1__Consent *c = registration_arena_alloc(&call->arena, sizeof *c);
    samspil__v1__consent__init(c);
    c->id = (char *)s_get(r, row, 0);
    c->actor_id = (char *)s_get(r, row, 1);
    c->purpose = (char *)s_get(r, row, 2);
    c->channel = s_value(S_WORDS(s_channels), s_get(r, row, 3));
    c->text_version = (char *)s_get(r, row, 4);
    c->given_at = (char *)s_get(r, row, 5);
    c->withdrawn_at = (char *)s_get(r, row, 6);
    return c;
}

/* ---------------------------------------------------------------- call set-up */

int registration_call_init(registration_call_t *call, const Samspil__V1__RegistrationRequest *req,
                           const registration_op_t *op, const registration_checked_t *checked,
                           bool restricted, sp_keyring_t *keys, sp_error_t *err)
{
    memset(call, 0, sizeof *call);
    call->req = req;
    call->op = op;
    call->checked = *checked;
    call->restricted = restricted;
    call->keys = keys;
    for (int i = 0; i < REGISTRATION_MAX_STMTS; i++)
        call->stmt[i] = -1;
    registration_arena_init(&call->arena);
    if (op->create || req->op_case == OP(ACTOR_UPSERT))
        registration_uuid_v7(call->id);
    if (op->create && req->idempotency_key && *req->idempotency_key) {
        uint8_t hash[REGISTRATION_HASH_SIZE];
        registration_request_hash(req, hash);
        registration_hash_hex(hash, call->hash_hex);
    }
    /* contact points are sealed for the actor they belong to */
    const Samspil__V1__Actor *a = NULL;
    const char *actor_id = NULL;
    if (req->op_case == OP(ACTOR_CREATE)) {
        a = req->actor_create->actor;
        actor_id = call->id;
    } else if (req->op_case == OP(ACTOR_UPDATE) &&
               (checked->update_mask & REGISTRATION_ACTOR_CONTACT_POINTS)) {
        a = req->actor_update->actor;
        actor_id = a->id;
    } else if (req->op_case == OP(ACTOR_UPSERT)) {
        /* sealed once the id is known (s_upsert_seal) */
        size_t n = req->actor_upsert->actor->n_contact_points;
        call->writes_contacts = restricted || n > 0;
        if (n > 0 && sp_keyring_current(keys) == 0)
            return sp_error_set(err, SP_INTERNAL, "",
                                "the service has no data key; the operator must create its data "
                                "keys");
    }
    if (a && a->n_contact_points > 0) {
        if (registration_contacts_seal(keys, req->tenant, actor_id, a->contact_points,
                                       a->n_contact_points, &call->sealed) != 0) {
            sp_log_error("could not seal contact points", SP_LOG_STR("op", op->name),
                         SP_LOG_STR("error", strerror(errno)), SP_LOG_END);
            return sp_error_set(err, SP_INTERNAL, "",
                                "could not seal contact points; the service has logged it");
        }
        snprintf(call->sealed_for, sizeof call->sealed_for, "%s", actor_id);
    }
    return 0;
}

void registration_call_limit_tenants(registration_call_t *call, char *const *tenants, size_t n)
{
    call->tenant_filter = s_text_array(&call->arena, tenants, n);
}

void registration_call_release(registration_call_t *call)
{
    registration_sealed_clear(&call->sealed);
    registration_arena_free(&call->arena);
}

/* ---------------------------------------------------------------- prepare */

/* The event of `call`'s change as a bytea parameter, in the call's arena:
 * the whole event, or its header where the statement appends the payload
 * (`created`: which one an upsert writes). */
static const char *s_event(registration_call_t *call, bool created, const char *entity_id)
{
    registration_event_t ev;
    if (registration_event_build(&ev, call->req, created, entity_id, registration_event_now_us()) <
        0)
        return NULL;
    sp_buf_t buf;
    sp_buf_init(&buf);
    registration_event_param(&ev.event, &buf);
    const char *out = registration_arena_strndup(&call->arena, buf.data, buf.len);
    sp_buf_free(&buf);
    return out;
}

/* The header of an event (tenant, type, time) whose entity id and payload
 * the statement appends, as a bytea parameter; for the changes
 * registration_events.h does not build (erasure). */
static const char *s_event_header(registration_call_t *call, const char *type)
{
    Samspil__V1__Event ev = SAMSPIL__V1__EVENT__INIT;
    ev.tenant = (char *)call->req->tenant;
    ev.type = (char *)type;
    ev.occurred_at_us = registration_event_now_us();
    sp_buf_t buf;
    sp_buf_init(&buf);
    registration_event_param(&ev, &buf);
    const char *out = registration_arena_strndup(&call->arena, buf.data, buf.len);
    sp_buf_free(&buf);
    return out;
}

/* The request's idempotency key and hash as parameters (NULL when absent). */
static const char *s_key(const registration_call_t *call)
{
    return s_null_if_empty(call->req->idempotency_key);
}

static const char *s_hash(const registration_call_t *call)
{
    return call->hash_hex[0] ? call->hash_hex : NULL;
}

/* The sealed contact points' fingerprint as a parameter (NULL: none). */
static const char *s_fp(const registration_call_t *call)
{
    return call->sealed.fp[0] ? call->sealed.fp : NULL;
}

/* An upsert that writes contact points seals them for actor `id` (the
 * stored actor with the external ref, or the new one).  Returns 0, or -1
 * with `err` set. */
static int s_upsert_seal(registration_call_t *call, const char *id, sp_error_t *err)
{
    const Samspil__V1__Actor *a = call->req->actor_upsert->actor;
    registration_sealed_clear(&call->sealed);
    snprintf(call->sealed_for, sizeof call->sealed_for, "%s", id);
    if (registration_contacts_seal(call->keys, call->req->tenant, id, a->contact_points,
                                   a->n_contact_points, &call->sealed) != 0) {
        sp_log_error("could not seal contact points", SP_LOG_STR("op", call->op->name),
                     SP_LOG_STR("error", strerror(errno)), SP_LOG_END);
        return sp_error_set(err, SP_INTERNAL, "",
                            "could not seal contact points; the service has logged it");
    }
    return 0;
}

/* An upsert reads the id of the actor with its external ref first when it
 * seals contact points (they are bound to that id). */
static bool s_upsert_needs_id(const registration_call_t *call)
{
    return call->writes_contacts && call->req->actor_upsert->actor->n_contact_points > 0;
}

/* Actor column values $2..$11 of the insert, in order ($10: the sealed
 * contact points, from call->sealed). */
static void s_actor_params(registration_call_t *call, const Samspil__V1__Actor *a, const char **p)
{
    registration_arena_t *arena = &call->arena;
    p[0] = s_word(S_WORDS(s_kinds), a->kind);
    p[1] = a->name;
    p[2] = s_null_if_empty(a->organisation_id);
    p[3] = s_word(S_WORDS(s_sectors), a->sector);
    p[4] = s_text_array(arena, a->interests, a->n_interests);
    p[5] = s_null_if_empty(a->preferred_language);
    p[6] = s_text_array(arena, a->accessibility_needs, a->n_accessibility_needs);
    p[7] = call->sealed.sealed;
    p[8] = a->vulnerable ? "t" : "f";
    p[9] = s_null_if_empty(a->external_ref);
}

static void s_prepare_actor_create(registration_call_t *call, sp_db_tx_t *tx,
                                   const Samspil__V1__Actor *a)
{
    const char *t = call->req->tenant;
    const char *ins[16];
    ins[0] = t;
    s_actor_params(call, a, ins + 1);
    ins[11] = s_key(call);
    ins[12] = s_hash(call);
    ins[13] = call->id;
    /* validation requires an external ref or an idempotency key */
    if (call->phase == 0) {
        ins[14] = s_event(call, true, call->id);
        ins[15] = s_fp(call);
        call->stmt[1] = sp_db_tx_add(tx, s_sql_actor_insert, 16, ins);
    } else {
        const char *ex[11] = {t,      ins[11], ins[12], ins[10], ins[1], ins[2],
                              ins[3], ins[4],  ins[5],  ins[6],  ins[7]};
        call->stmt[2] = sp_db_tx_add(tx, s_sql_actor_existing, 11, ex);
    }
}

/* Partnership column values $2..$7 of the insert, in order. */
static void s_part_params(const Samspil__V1__Partnership *p, const char **out)
{
    out[0] = p->name;
    out[1] = p->purpose ? p->purpose : "";
    out[2] = p->burning_platform ? p->burning_platform : "";
    out[3] = s_word(S_WORDS(s_statuses), p->status);
    if (!out[3])
        out[3] = "forming";
    out[4] = s_null_if_empty(p->backbone_organisation_id);
    out[5] = s_null_if_empty(p->external_ref);
}

static void s_prepare_part_create(registration_call_t *call, sp_db_tx_t *tx)
{
    const Samspil__V1__Partnership *p = call->req->partnership_create->partnership;
    const char *t = call->req->tenant;
    const char *ins[11];
    ins[0] = t;
    s_part_params(p, ins + 1);
    ins[7] = s_key(call);
    ins[8] = s_hash(call);
    ins[9] = call->id;
    /* validation requires an external ref or an idempotency key */
    if (call->phase == 0) {
        ins[10] = s_event(call, true, call->id);
        call->stmt[1] = sp_db_tx_add(tx, s_sql_part_insert, 11, ins);
    } else {
        const char *ex[9] = {t, ins[7], ins[8], ins[6], ins[1], ins[2], ins[3], ins[4], ins[5]};
        call->stmt[2] = sp_db_tx_add(tx, s_sql_part_existing, 9, ex);
    }
}

/* List parameters: $2 cursor, $3 limit + 1 (one more row says "there is a next page"). */
static void s_page_params(registration_call_t *call, const char **p)
{
    p[0] = call->checked.cursor;
    p[1] = s_int(&call->arena, (long long)call->checked.limit + 1);
}

int registration_store_prepare(registration_call_t *call, sp_db_tx_t *tx, int tenant_stmt)
{
    const Samspil__V1__RegistrationRequest *req = call->req;
    const char *t = req->tenant;
    registration_arena_t *arena = &call->arena;
    for (int i = 0; i < REGISTRATION_MAX_STMTS; i++)
        call->stmt[i] = -1;
    if (call->op->tenant_scoped) {
        const char *p[1] = {t};
        call->stmt[0] = tenant_stmt >= 0 ? tenant_stmt : sp_db_tx_add(tx, s_sql_tenant, 1, p);
    }

    switch (req->op_case) {
    case OP(TENANT_CREATE): {
        const char *p[3] = {req->tenant_create->code, req->tenant_create->name,
                            s_event(call, true, req->tenant_create->code)};
        if (call->phase == 0) {
            sp_db_tx_add(tx, s_sql_tenant_claim, 1, p);
            call->stmt[1] = sp_db_tx_add(tx, s_sql_tenant_insert, 3, p);
        } else
            call->stmt[2] = sp_db_tx_add(tx, s_sql_tenant_get, 1, p);
        break;
    }
    case OP(TENANT_GET): {
        const char *p[1] = {req->tenant_get->code};
        call->stmt[1] = sp_db_tx_add(tx, s_sql_tenant_get, 1, p);
        break;
    }
    case OP(TENANT_LIST): {
        /* only the principal's tenants, unless it may act for all */
        const char *p[3] = {call->checked.cursor, call->tenant_filter,
                            s_int(arena, (long long)call->checked.limit + 1)};
        call->stmt[1] = sp_db_tx_add(tx, s_sql_tenant_list, 3, p);
        break;
    }

    case OP(PARTNERSHIP_CREATE):
        s_prepare_part_create(call, tx);
        break;
    case OP(PARTNERSHIP_GET): {
        const char *p[2] = {t, req->partnership_get->id};
        call->stmt[1] = sp_db_tx_add(tx, s_sql_part_get, 2, p);
        break;
    }
    case OP(PARTNERSHIP_LIST): {
        const char *p[4] = {t};
        s_page_params(call, p + 1);
        p[3] = s_word(S_WORDS(s_statuses), req->partnership_list->status);
        call->stmt[1] =
            sp_db_tx_add(tx, p[3] ? s_sql_part_list_status : s_sql_part_list, p[3] ? 4 : 3, p);
        break;
    }
    case OP(PARTNERSHIP_UPDATE): {
        const Samspil__V1__Partnership *pp = req->partnership_update->partnership;
        const char *p[9] = {t, pp->id, s_int(arena, call->checked.update_mask)};
        const char *cols[6];
        s_part_params(pp, cols);
        memcpy(p + 3, cols, 5 * sizeof *p);
        p[8] = s_event(call, false, pp->id);
        call->stmt[1] = sp_db_tx_add(tx, s_sql_part_update, 9, p);
        break;
    }

    case OP(ACTOR_CREATE):
        s_prepare_actor_create(call, tx, req->actor_create->actor);
        break;
    case OP(ACTOR_UPSERT): {
        const Samspil__V1__Actor *a = req->actor_upsert->actor;
        if (call->phase == 0 && s_upsert_needs_id(call)) {
            const char *p[2] = {t, a->external_ref};
            call->stmt[1] = sp_db_tx_add(tx, s_sql_actor_ref_id, 2, p);
            break;
        }
        /* a new actor takes the id the contact points were sealed for */
        const char *id = call->sealed_for[0] ? call->sealed_for : call->id;
        const char *p[20];
        p[0] = t;
        s_actor_params(call, a, p + 1);
        p[11] = NULL; /* an upsert is idempotent by its external ref; no key stored */
        p[12] = NULL;
        p[13] = id;
        p[14] = call->writes_contacts ? "t" : "f";
        /* an update's entity id is the stored row's: the statement appends it */
        p[15] = s_event(call, true, id);
        p[16] = s_event(call, false, NULL);
        p[17] = s_fp(call);
        p[18] = id;
        p[19] = call->restricted ? "t" : "f";
        call->stmt[2] = sp_db_tx_add(tx, s_sql_actor_upsert, 20, p);
        break;
    }
    case OP(ACTOR_GET): {
        const Samspil__V1__ActorGet *g = req->actor_get;
        bool by_id = g->id && *g->id;
        const char *p[2] = {t, by_id ? g->id : g->external_ref};
        call->stmt[1] = sp_db_tx_add(tx, by_id ? s_sql_actor_get : s_sql_actor_get_ref, 2, p);
        break;
    }
    case OP(ACTOR_LIST): {
        const Samspil__V1__ActorList *l = req->actor_list;
        const char *p[5] = {t};
        s_page_params(call, p + 1);
        const char *kind = s_word(S_WORDS(s_kinds), l->kind);
        const char *interest = s_null_if_empty(l->interest);
        int nparams = 3;
        if (kind)
            p[nparams++] = kind;
        if (interest)
            p[nparams++] = interest;
        int variant = (kind ? 1 : 0) | (interest ? 2 : 0);
        call->stmt[1] = sp_db_tx_add(tx, s_sql_actor_list[variant], nparams, p);
        break;
    }
    case OP(ACTOR_UPDATE): {
        const Samspil__V1__Actor *a = req->actor_update->actor;
        const char *cols[10];
        s_actor_params(call, a, cols);
        const char *p[13] = {t, a->id, s_int(arena, call->checked.update_mask)};
        memcpy(p + 3, cols + 1, 8 * sizeof *p); /* name .. vulnerable */
        p[11] = s_event(call, false, a->id);
        p[12] = s_fp(call);
        call->stmt[1] = sp_db_tx_add(tx, s_sql_actor_update, 13, p);
        break;
    }

    case OP(MEMBER_ADD): {
        const Samspil__V1__Membership *m = req->member_add->membership;
        const char *p[10] = {
            t,
            m->partnership_id,
            m->actor_id,
            s_word_array(arena, (const int *)m->roles, m->n_roles, S_WORDS(s_roles)),
            s_word(S_WORDS(s_bases), m->knowledge_basis),
            s_null_if_empty(m->joined_on),
            s_key(call),
            s_hash(call),
            call->id,
            NULL};
        const char *ex[5] = {t, m->partnership_id, m->actor_id, p[6], p[7]};
        if (call->phase == 0) {
            p[9] = s_event(call, true, call->id);
            call->stmt[1] = sp_db_tx_add(tx, s_sql_member_insert, 10, p);
        } else
            call->stmt[2] = sp_db_tx_add(tx, s_sql_member_existing, 5, ex);
        break;
    }
    case OP(MEMBER_LIST): {
        const Samspil__V1__MemberList *l = req->member_list;
        const char *p[6] = {t};
        s_page_params(call, p + 1);
        p[3] = l->include_ended ? "t" : "f";
        const char *part = s_null_if_empty(l->partnership_id);
        const char *actor = s_null_if_empty(l->actor_id);
        int nparams = 4;
        if (part)
            p[nparams++] = part;
        if (actor)
            p[nparams++] = actor;
        int variant = part && actor ? 2 : actor ? 1 : 0;
        call->stmt[1] = sp_db_tx_add(tx, s_sql_member_list[variant], nparams, p);
        break;
    }
    case OP(MEMBER_END): {
        const char *p[4] = {t, req->member_end->id, s_null_if_empty(req->member_end->ended_on),
                            s_event(call, false, req->member_end->id)};
        call->stmt[1] = sp_db_tx_add(tx, s_sql_member_end, 4, p);
        break;
    }

    case OP(RELATION_ADD): {
        const Samspil__V1__Relation *r = req->relation_add->relation;
        const char *p[9] = {t,
                            r->from_actor_id,
                            r->to_actor_id,
                            s_word(S_WORDS(s_rel_kinds), r->kind),
                            s_null_if_empty(r->partnership_id),
                            s_key(call),
                            s_hash(call),
                            call->id,
                            NULL};
        if (call->phase == 0) {
            p[8] = s_event(call, true, call->id);
            call->stmt[1] = sp_db_tx_add(tx, s_sql_rel_insert, 9, p);
        } else
            call->stmt[2] = sp_db_tx_add(tx, s_sql_rel_existing, 7, p);
        break;
    }
    case OP(RELATION_LIST): {
        const Samspil__V1__RelationList *l = req->relation_list;
        const char *p[5] = {t};
        s_page_params(call, p + 1);
        const char *actor = s_null_if_empty(l->actor_id);
        const char *part = s_null_if_empty(l->partnership_id);
        int nparams = 3;
        if (actor)
            p[nparams++] = actor;
        if (part)
            p[nparams++] = part;
        int variant = (actor ? 1 : 0) | (part ? 2 : 0);
        call->stmt[1] = sp_db_tx_add(tx, s_sql_rel_list[variant], nparams, p);
        break;
    }

    case OP(CONSENT_RECORD): {
        const Samspil__V1__Consent *c = req->consent_record->consent;
        const char *p[10] = {t,
                             c->actor_id,
                             c->purpose,
                             s_word(S_WORDS(s_channels), c->channel),
                             c->text_version,
                             s_null_if_empty(c->given_at),
                             s_key(call),
                             s_hash(call),
                             call->id,
                             NULL};
        const char *ex[3] = {t, p[6], p[7]};
        if (call->phase == 0) { /* validation requires the idempotency key */
            p[9] = s_event(call, true, call->id);
            call->stmt[1] = sp_db_tx_add(tx, s_sql_consent_insert, 10, p);
        } else
            call->stmt[2] = sp_db_tx_add(tx, s_sql_consent_existing, 3, ex);
        break;
    }
    case OP(CONSENT_WITHDRAW): {
        const char *p[3] = {t, req->consent_withdraw->id,
                            s_event(call, false, req->consent_withdraw->id)};
        call->stmt[1] = sp_db_tx_add(tx, s_sql_consent_withdraw, 3, p);
        break;
    }
    case OP(CONSENT_LIST): {
        const char *p[4] = {t};
        s_page_params(call, p + 1);
        p[3] = req->consent_list->actor_id;
        call->stmt[1] = sp_db_tx_add(tx, s_sql_consent_list, 4, p);
        break;
    }

    case OP(PERSON_EXPORT): {
        const Samspil__V1__PersonExport *e = req->person_export;
        const char *p[3] = {t, s_null_if_empty(e->actor_id), s_null_if_empty(e->external_ref)};
        static const char *const sql[EXPORT_NSTMTS - 1] = {
            s_sql_export_actor, s_sql_export_members, s_sql_export_relations, s_sql_export_consents,
            s_sql_export_events};
        for (int i = 0; i < EXPORT_NSTMTS - 1; i++) {
            if (sql[i] == s_sql_export_events)
                sp_db_tx_add(tx, s_sql_relay_on, 0, NULL);
            call->stmt[1 + i] = sp_db_tx_add(tx, sql[i], 3, p);
        }
        break;
    }
    case OP(PERSON_ERASE): {
        const Samspil__V1__PersonErase *e = req->person_erase;
        const char *p[5] = {t, s_null_if_empty(e->actor_id), s_null_if_empty(e->external_ref),
                            s_event_header(call, "actor.erased"),
                            s_event_header(call, "consent.withdrawn")};
        call->stmt[1] = sp_db_tx_add(tx, s_sql_erase, 5, p);
        break;
    }
    default:
        break;
    }
    return call->stmt[0];
}

/* Append `value` to an array literal being built in `buf` (NULL: SQL NULL). */
static void s_array_elem(sp_buf_t *buf, const char *value)
{
    sp_buf_puts(buf, buf->len > 1 ? "," : "");
    if (!value) {
        sp_buf_puts(buf, "NULL");
        return;
    }
    sp_buf_append(buf, "\"", 1);
    for (const char *c = value; *c; c++) {
        if (*c == '"' || *c == '\\')
            sp_buf_append(buf, "\\", 1);
        sp_buf_append(buf, c, 1);
    }
    sp_buf_append(buf, "\"", 1);
}

/* Order of rows in a multi-row insert: by external ref, then idempotency
 * key (absent last in both).  A row waits for another transaction's row
 * only when they share an external ref or a key, and a key repeated with the
 * same request repeats its external ref too (the request hash covers it),
 * so in every batch the rows two batches can wait on come in the same
 * order: they cannot deadlock.  Ordering by key first did not hold this:
 * two batches with different keys for the same refs could cross on the
 * ref index (40P01 after deadlock_timeout, then each member rerun alone).
 * Only a key reused with another external ref, which is refused anyway,
 * can still cross. */
static int s_ref_key_order(const void *pa, const void *pb)
{
    const registration_call_t *a = *(registration_call_t *const *)pa;
    const registration_call_t *b = *(registration_call_t *const *)pb;
    const char *ra = s_null_if_empty(a->req->actor_create->actor->external_ref);
    const char *rb = s_null_if_empty(b->req->actor_create->actor->external_ref);
    if (!ra != !rb)
        return ra ? -1 : 1;
    if (ra && strcmp(ra, rb) != 0)
        return strcmp(ra, rb);
    const char *ka = s_key(a), *kb = s_key(b);
    if (!ka != !kb)
        return ka ? -1 : 1;
    return ka ? strcmp(ka, kb) : 0;
}

/* One statement inserting the actor_create calls among `calls`; returns its index. */
static int s_add_actor_insert_many(registration_call_t *const *calls, int n, sp_db_tx_t *tx)
{
    enum { NCOL = 15 }; /* 13 actor columns, the event, the contact points' fingerprint */
    registration_call_t *rows[REGISTRATION_BATCH_MAX];
    int nrows = 0;
    for (int i = 0; i < n && nrows < REGISTRATION_BATCH_MAX; i++)
        if (calls[i]->phase == 0 && calls[i]->req->op_case == OP(ACTOR_CREATE))
            rows[nrows++] = calls[i];
    qsort(rows, (size_t)nrows, sizeof rows[0], s_ref_key_order);
    sp_buf_t cols[NCOL];
    for (int k = 0; k < NCOL; k++) {
        sp_buf_init(&cols[k]);
        sp_buf_puts(&cols[k], "{");
    }
    for (int i = 0; i < nrows; i++) {
        registration_call_t *c = rows[i];
        const char *v[NCOL];
        v[0] = c->id;
        s_actor_params(c, c->req->actor_create->actor, v + 1); /* kind .. external_ref */
        v[11] = s_key(c);
        v[12] = s_hash(c);
        v[13] = s_event(c, true, c->id);
        v[14] = s_fp(c);
        for (int k = 0; k < NCOL; k++)
            s_array_elem(&cols[k], v[k]);
    }
    const char *params[NCOL + 1];
    params[0] = calls[0]->req->tenant;
    for (int k = 0; k < NCOL; k++) {
        sp_buf_puts(&cols[k], "}");
        params[k + 1] = cols[k].data;
    }
    int index = sp_db_tx_add(tx, s_sql_actor_insert_many, NCOL + 1, params); /* copies */
    for (int k = 0; k < NCOL; k++)
        sp_buf_free(&cols[k]);
    return index;
}

void registration_store_prepare_batch(registration_call_t *const *calls, int n, sp_db_tx_t *tx)
{
    int creates = 0;
    for (int i = 0; i < n; i++)
        creates += calls[i]->phase == 0 && calls[i]->req->op_case == OP(ACTOR_CREATE);
    int tenant = -1, insert = -1;
    for (int i = 0; i < n; i++) {
        registration_call_t *c = calls[i];
        if (creates >= 2 && c->phase == 0 && c->req->op_case == OP(ACTOR_CREATE)) {
            if (insert < 0) {
                if (tenant < 0) {
                    const char *p[1] = {c->req->tenant};
                    tenant = sp_db_tx_add(tx, s_sql_tenant, 1, p);
                }
                insert = s_add_actor_insert_many(calls, n, tx);
            }
            for (int k = 0; k < REGISTRATION_MAX_STMTS; k++)
                c->stmt[k] = -1;
            c->stmt[0] = tenant;
            c->stmt[1] = insert;
            continue;
        }
        tenant = registration_store_prepare(c, tx, tenant);
    }
}

/* ---------------------------------------------------------------- finish */

/* Result of statement slot `i`, or NULL. */
static const PGresult *s_result(const registration_call_t *call, const sp_db_tx_t *tx, int i)
{
    return call->stmt[i] >= 0 ? sp_db_tx_result(tx, call->stmt[i]) : NULL;
}

static int s_rows(const PGresult *r)
{
    return r && PQresultStatus(r) == PGRES_TUPLES_OK ? PQntuples(r) : 0;
}

static int s_not_found(sp_error_t *err, const char *field, const char *what, const char *value)
{
    char quoted[80];
    sp_error_quote(value ? value : "", 60, quoted, sizeof quoted);
    return sp_error_set(err, SP_NOT_FOUND, field, "unknown %s \"%s\"", what, quoted);
}

/* The request values error messages may quote (see registration_errors.h). */
static size_t s_error_values(const registration_call_t *call, registration_value_t *v, size_t cap)
{
    const Samspil__V1__RegistrationRequest *req = call->req;
    size_t n = 0;
#define ADD(f, val)                                                                                \
    do {                                                                                           \
        if (n < cap)                                                                               \
            v[n++] = (registration_value_t){(f), (val)};                                           \
    } while (0)
    ADD("tenant", req->tenant);
    ADD("idempotency_key", req->idempotency_key);
    const Samspil__V1__Actor *a = NULL;
    const Samspil__V1__Partnership *p = NULL;
    switch (req->op_case) {
    case OP(TENANT_CREATE):
        ADD("code", req->tenant_create->code);
        break;
    case OP(ACTOR_CREATE):
        a = req->actor_create->actor;
        break;
    case OP(ACTOR_UPDATE):
        a = req->actor_update->actor;
        break;
    case OP(ACTOR_UPSERT):
        a = req->actor_upsert->actor;
        break;
    case OP(PARTNERSHIP_CREATE):
        p = req->partnership_create->partnership;
        break;
    case OP(PARTNERSHIP_UPDATE):
        p = req->partnership_update->partnership;
        break;
    case OP(MEMBER_ADD):
        ADD("membership.actor_id", req->member_add->membership->actor_id);
        ADD("membership.partnership_id", req->member_add->membership->partnership_id);
        break;
    case OP(MEMBER_END):
        ADD("ended_on", req->member_end->ended_on);
        break;
    case OP(RELATION_ADD):
        ADD("relation.from_actor_id", req->relation_add->relation->from_actor_id);
        ADD("relation.to_actor_id", req->relation_add->relation->to_actor_id);
        ADD("relation.partnership_id", req->relation_add->relation->partnership_id);
        break;
    case OP(CONSENT_RECORD):
        ADD("consent.actor_id", req->consent_record->consent->actor_id);
        ADD("consent.given_at", req->consent_record->consent->given_at);
        break;
    default:
        break;
    }
    if (a) {
        ADD("actor.id", a->id);
        ADD("actor.organisation_id", a->organisation_id);
        ADD("actor.external_ref", registration_cpr_display(a->external_ref));
    }
    if (p) {
        ADD("partnership.backbone_organisation_id", p->backbone_organisation_id);
        ADD("partnership.external_ref", p->external_ref);
    }
#undef ADD
    return n;
}

/* A create's outcome from its insert (slot 1) and existing-row (slot 2)
 * results: the row to return and whether it was created, or an error.
 * `ncols` is the entity's column count; the existing-row statement adds
 * key_match, same_request and (actors, partnerships) same_content after it. */
typedef struct {
    const PGresult *res;
    int row;
    bool created;
} s_outcome_t;

#define S_AGAIN 1 /* s_create_outcome: read the existing row in a second transaction */

/* Returns 0 with *out set, S_AGAIN, or -1 with `err` set. */
static int s_create_outcome(registration_call_t *call, const sp_db_tx_t *tx, int ncols,
                            const char *ref_field, const char *noun, s_outcome_t *out,
                            sp_error_t *err)
{
    if (call->phase == 0) {
        /* the insert's row: this call's id (a batch's statement returns one per actor) */
        const PGresult *ins = s_result(call, tx, 1);
        int rows = s_rows(ins);
        for (int row = 0; row < rows; row++) {
            if (strcmp(s_get(ins, row, 0), call->id) == 0) {
                *out = (s_outcome_t){ins, row, true};
                return 0;
            }
        }
        call->phase = 1; /* ON CONFLICT DO NOTHING met the row holding a key */
        return S_AGAIN;
    }
    const PGresult *ex = s_result(call, tx, 2);
    if (s_rows(ex) != 1) {
        /* the conflicting row vanished: cannot happen without deletes; retry */
        sp_log_warn("create conflicted but found no existing row", SP_LOG_STR("op", call->op->name),
                    SP_LOG_END);
        sp_error_set(err, SP_UNAVAILABLE, "", "conflicting concurrent request; retry");
        return -1;
    }
    bool key_match = registration_pg_bool(s_get(ex, 0, ncols));
    bool same_request = registration_pg_bool(s_get(ex, 0, ncols + 1));
    bool has_content = PQnfields(ex) > ncols + 2;
    bool same_content = has_content && registration_pg_bool(s_get(ex, 0, ncols + 2));
    if (key_match) {
        if (same_request) {
            *out = (s_outcome_t){ex, 0, false};
            return 0;
        }
        char quoted[80];
        sp_error_quote(call->req->idempotency_key, 60, quoted, sizeof quoted);
        sp_error_set(err, SP_FAILED_PRECONDITION, "idempotency_key",
                     "idempotency key \"%s\" was already used with a different request (%s %s)",
                     quoted, noun, s_get(ex, 0, 0));
        return -1;
    }
    if (!has_content || same_content) {
        /* same natural key: an active membership, a recorded relation, or an
         * entity with this external ref and the same content */
        *out = (s_outcome_t){ex, 0, false};
        return 0;
    }
    char field[64], quoted[80];
    snprintf(field, sizeof field, "%s.%s", call->op->name, ref_field);
    sp_error_quote(registration_cpr_display(s_get(ex, 0, ncols == ACTOR_NCOLS ? 10 : 6)), 60,
                   quoted, sizeof quoted);
    sp_error_set(err, SP_ALREADY_EXISTS, field,
                 "external ref \"%s\" is already taken by %s %s with different content", quoted,
                 noun, s_get(ex, 0, 0));
    return -1;
}

/* Page bookkeeping: how many rows to return, and the next cursor. */
static size_t s_page(const registration_call_t *call, const PGresult *r, char **next)
{
    size_t rows = (size_t)s_rows(r);
    *next = (char *)"";
    if (rows > call->checked.limit) {
        rows = call->checked.limit;
        *next = (char *)s_get(r, (int)rows - 1, 0);
    }
    return rows;
}

#define S_LIST(type, page_type, init, rowfn, field_items)                                          \
    do {                                                                                           \
        page_type *pg = registration_arena_alloc(&call->arena, sizeof *pg);                        \
        init(pg);                                                                                  \
        size_t rows = s_page(call, r, &pg->next);                                                  \
        pg->items = registration_arena_alloc(&call->arena, (rows ? rows : 1) * sizeof(type *));    \
        for (size_t i = 0; i < rows; i++)                                                          \
            pg->items[i] = rowfn(call, r, (int)i);                                                 \
        pg->n_items = rows;                                                                        \
        reply->field_items = pg;                                                                   \
    } while (0)

bool registration_store_unknown_tenant(const registration_call_t *call, const sp_db_tx_t *tx)
{
    const PGresult *tenant = s_result(call, tx, 0);
    return call->op->tenant_scoped && tenant && PQresultStatus(tenant) == PGRES_TUPLES_OK &&
           PQntuples(tenant) == 0;
}

/* A person op's actor was not found: name the field it was asked by. */
static void s_person_not_found(const registration_call_t *call, const char *actor_id,
                               const char *external_ref, sp_error_t *err)
{
    char field[64];
    bool by_id = actor_id && *actor_id;
    snprintf(field, sizeof field, "%s.%s", call->op->name, by_id ? "actor_id" : "external_ref");
    s_not_found(err, field, "actor", by_id ? actor_id : registration_cpr_display(external_ref));
}

/* A bytea column's text form ("\x0a03...") as bytes in the arena. */
static ProtobufCBinaryData s_bytea(registration_call_t *call, const char *text)
{
    ProtobufCBinaryData out = {0, NULL};
    size_t len = strlen(text);
    if (len < 2 || text[0] != '\\' || text[1] != 'x' || len % 2)
        return out;
    out.data = registration_arena_alloc(&call->arena, len / 2);
    for (size_t i = 2; i + 1 < len; i += 2) {
        unsigned v = 0;
        for (int k = 0; k < 2; k++) {
            char c = text[i + (size_t)k];
            v = v * 16 + (unsigned)(c >= 'a' ? c - 'a' + 10 : c >= 'A' ? c - 'A' + 10 : c - '0');
        }
        out.data[out.len++] = (uint8_t)v;
    }
    return out;
}

/* person_export: the actor and everything about it. */
static void s_finish_export(registration_call_t *call, const sp_db_tx_t *tx,
                            Samspil__V1__RegistrationReply *reply, sp_error_t *err)
{
    const Samspil__V1__PersonExport *e = call->req->person_export;
    const PGresult *r = s_result(call, tx, 1);
    if (s_rows(r) != 1) {
        s_person_not_found(call, e->actor_id, e->external_ref, err);
        return;
    }
    registration_arena_t *arena = &call->arena;
    Samspil__V1__Person *p = registration_arena_alloc(arena, sizeof *p);
    samspil__v1__person__init(p);
    p->actor = s_actor_row(call, r, 0);
    p->erased_at = (char *)s_get(r, 0, ACTOR_NCOLS);

    const PGresult *m = s_result(call, tx, 2), *rel = s_result(call, tx, 3),
                   *c = s_result(call, tx, 4), *ev = s_result(call, tx, 5);
    p->n_memberships = (size_t)s_rows(m);
    p->memberships = registration_arena_alloc(arena, (p->n_memberships + 1) * sizeof(void *));
    for (size_t i = 0; i < p->n_memberships; i++)
        p->memberships[i] = s_member_row(call, m, (int)i);
    p->n_relations = (size_t)s_rows(rel);
    p->relations = registration_arena_alloc(arena, (p->n_relations + 1) * sizeof(void *));
    for (size_t i = 0; i < p->n_relations; i++)
        p->relations[i] = s_rel_row(call, rel, (int)i);
    p->n_consents = (size_t)s_rows(c);
    p->consents = registration_arena_alloc(arena, (p->n_consents + 1) * sizeof(void *));
    for (size_t i = 0; i < p->n_consents; i++)
        p->consents[i] = s_consent_row(call, c, (int)i);
    p->n_events = (size_t)s_rows(ev);
    p->events = registration_arena_alloc(arena, (p->n_events + 1) * sizeof(void *));
    for (size_t i = 0; i < p->n_events; i++) {
        Samspil__V1__PersonEvent *pe = registration_arena_alloc(arena, sizeof *pe);
        samspil__v1__person_event__init(pe);
        pe->seq = strtoull(s_get(ev, (int)i, 0), NULL, 10);
        pe->type = (char *)s_get(ev, (int)i, 1);
        pe->entity_id = (char *)s_get(ev, (int)i, 2);
        pe->occurred_at_us = strtoll(s_get(ev, (int)i, 3), NULL, 10);
        pe->event = s_bytea(call, s_get(ev, (int)i, 4));
        p->events[i] = pe;
    }
    char *now = registration_arena_alloc(arena, 32);
    time_t t = time(NULL);
    struct tm tm;
    gmtime_r(&t, &tm);
    strftime(now, 32, "%Y-%m-%dT%H:%M:%SZ", &tm);
    p->exported_at = now;
    reply->person = p;
    reply->result_case = RES(PERSON);
}

/* person_erase: what the erasure did. */
static void s_finish_erase(registration_call_t *call, const sp_db_tx_t *tx,
                           Samspil__V1__RegistrationReply *reply, sp_error_t *err)
{
    const Samspil__V1__PersonErase *e = call->req->person_erase;
    const PGresult *r = s_result(call, tx, 1);
    if (s_rows(r) != 1) {
        s_person_not_found(call, e->actor_id, e->external_ref, err);
        return;
    }
    if (strcmp(s_get(r, 0, 1), "organisation") == 0) {
        sp_error_set(err, SP_FAILED_PRECONDITION,
                     e->actor_id && *e->actor_id ? "person_erase.actor_id"
                                                 : "person_erase.external_ref",
                     "actor %s is an organisation: only persons (citizens, professionals) are "
                     "erased",
                     s_get(r, 0, 0));
        return;
    }
    Samspil__V1__PersonErased *out = registration_arena_alloc(&call->arena, sizeof *out);
    samspil__v1__person_erased__init(out);
    out->actor_id = (char *)s_get(r, 0, 0);
    out->erased_at = (char *)s_get(r, 0, 2);
    out->erased = registration_pg_bool(s_get(r, 0, 3));
    out->consents_withdrawn = (uint32_t)strtoul(s_get(r, 0, 4), NULL, 10);
    reply->person_erased = out;
    reply->result_case = RES(PERSON_ERASED);
}

static bool s_finish(registration_call_t *call, const sp_db_tx_t *tx,
                     Samspil__V1__RegistrationReply *reply, sp_error_t *err)
{
    const Samspil__V1__RegistrationRequest *req = call->req;
    const char *op = call->op->name;
    int rc;

    /* the tenant check ran first: no row means no such tenant */
    if (registration_store_unknown_tenant(call, tx)) {
        s_not_found(err, "tenant", "tenant", req->tenant);
        return false;
    }
    if (!sp_db_tx_ok(tx)) {
        registration_value_t values[8];
        size_t n = s_error_values(call, values, 8);
        registration_db_error(sp_db_tx_sqlstate(tx), sp_db_tx_constraint(tx),
                              sp_db_tx_connection_failed(tx), op, values, n, err);
        return false;
    }

    const PGresult *r = s_result(call, tx, 1);
    char field[64];
    s_outcome_t oc;
    switch (req->op_case) {
    case OP(TENANT_CREATE): {
        if (call->phase == 0 && s_rows(r) == 1) {
            reply->tenant = s_tenant_row(call, r, 0);
            reply->created = true;
        } else if (call->phase == 0) {
            call->phase = 1; /* the code exists: read it in a second transaction */
            return true;
        } else {
            const PGresult *ex = s_result(call, tx, 2);
            if (s_rows(ex) != 1) {
                sp_error_set(err, SP_UNAVAILABLE, "", "conflicting concurrent request; retry");
                return false;
            }
            if (strcmp(s_get(ex, 0, 1), req->tenant_create->name) != 0) {
                char quoted[80];
                sp_error_quote(req->tenant_create->code, 60, quoted, sizeof quoted);
                sp_error_set(err, SP_ALREADY_EXISTS, "tenant_create.code",
                             "tenant \"%s\" already exists with another name", quoted);
                return false;
            }
            reply->tenant = s_tenant_row(call, ex, 0);
        }
        reply->result_case = RES(TENANT);
        return false;
    }
    case OP(TENANT_GET):
        if (s_rows(r) != 1) {
            s_not_found(err, "tenant_get.code", "tenant", req->tenant_get->code);
            return false;
        }
        reply->tenant = s_tenant_row(call, r, 0);
        reply->result_case = RES(TENANT);
        return false;
    case OP(TENANT_LIST):
        S_LIST(Samspil__V1__Tenant, Samspil__V1__TenantPage, samspil__v1__tenant_page__init,
               s_tenant_row, tenants);
        reply->result_case = RES(TENANTS);
        return false;

    case OP(PARTNERSHIP_CREATE):
        if ((rc = s_create_outcome(call, tx, PART_NCOLS, "partnership.external_ref", "partnership",
                                   &oc, err)) != 0)
            return rc == S_AGAIN;
        reply->partnership = s_part_row(call, oc.res, oc.row);
        reply->created = oc.created;
        reply->result_case = RES(PARTNERSHIP);
        return false;
    case OP(PARTNERSHIP_GET):
    case OP(PARTNERSHIP_UPDATE):
        if (s_rows(r) != 1) {
            bool get = req->op_case == OP(PARTNERSHIP_GET);
            snprintf(field, sizeof field, "%s.%s", op, get ? "id" : "partnership.id");
            s_not_found(err, field, "partnership",
                        get ? req->partnership_get->id : req->partnership_update->partnership->id);
            return false;
        }
        reply->partnership = s_part_row(call, r, 0);
        reply->result_case = RES(PARTNERSHIP);
        return false;
    case OP(PARTNERSHIP_LIST):
        S_LIST(Samspil__V1__Partnership, Samspil__V1__PartnershipPage,
               samspil__v1__partnership_page__init, s_part_row, partnerships);
        reply->result_case = RES(PARTNERSHIPS);
        return false;

    case OP(ACTOR_CREATE):
        if ((rc = s_create_outcome(call, tx, ACTOR_NCOLS, "actor.external_ref", "actor", &oc,
                                   err)) != 0)
            return rc == S_AGAIN;
        reply->actor =
            oc.created ? s_actor_new(call, oc.res, oc.row) : s_actor_row(call, oc.res, oc.row);
        reply->created = oc.created;
        reply->result_case = RES(ACTOR);
        return false;
    case OP(ACTOR_UPSERT):
        if (call->phase == 0 && s_upsert_needs_id(call)) {
            /* the stored actor's id, or the new one's: seal for it, then write */
            if (s_upsert_seal(call, s_rows(r) == 1 ? s_get(r, 0, 0) : call->id, err) != 0)
                return false;
            call->phase = 1;
            return true;
        }
        r = s_result(call, tx, 2);
        if (s_rows(r) == 1 && s_upsert_needs_id(call) &&
            !registration_pg_bool(s_get(r, 0, ACTOR_NCOLS + 1))) {
            /* another request created the actor meanwhile: seal for its id */
            if (++call->reseals > 3) {
                sp_error_set(err, SP_UNAVAILABLE, "", "conflicting concurrent request; retry");
                return false;
            }
            if (s_upsert_seal(call, s_get(r, 0, 0), err) != 0)
                return false;
            return true;
        }
        if (s_rows(r) != 1) {
            char quoted[80];
            sp_error_quote(registration_cpr_display(req->actor_upsert->actor->external_ref), 60,
                           quoted, sizeof quoted);
            sp_error_set(err, SP_FAILED_PRECONDITION, "actor_upsert.actor.kind",
                         "the actor with external ref \"%s\" is of another kind (kind cannot "
                         "change)",
                         quoted);
            return false;
        }
        reply->actor = s_actor_row(call, r, 0);
        reply->created = registration_pg_bool(s_get(r, 0, ACTOR_NCOLS));
        reply->result_case = RES(ACTOR);
        return false;
    case OP(ACTOR_GET):
    case OP(ACTOR_UPDATE):
        if (s_rows(r) != 1) {
            if (req->op_case == OP(ACTOR_UPDATE))
                s_not_found(err, "actor_update.actor.id", "actor", req->actor_update->actor->id);
            else if (req->actor_get->id && *req->actor_get->id)
                s_not_found(err, "actor_get.id", "actor", req->actor_get->id);
            else
                s_not_found(err, "actor_get.external_ref", "actor",
                            registration_cpr_display(req->actor_get->external_ref));
            return false;
        }
        reply->actor = s_actor_row(call, r, 0);
        reply->result_case = RES(ACTOR);
        return false;
    case OP(ACTOR_LIST):
        S_LIST(Samspil__V1__Actor, Samspil__V1__ActorPage, samspil__v1__actor_page__init,
               s_actor_row, actors);
        reply->result_case = RES(ACTORS);
        return false;

    case OP(MEMBER_ADD):
        if ((rc = s_create_outcome(call, tx, MEMBER_NCOLS, "", "membership", &oc, err)) != 0)
            return rc == S_AGAIN;
        reply->membership = s_member_row(call, oc.res, oc.row);
        reply->created = oc.created;
        reply->result_case = RES(MEMBERSHIP);
        return false;
    case OP(MEMBER_END):
        if (s_rows(r) != 1) {
            s_not_found(err, "member_end.id", "membership", req->member_end->id);
            return false;
        }
        reply->membership = s_member_row(call, r, 0);
        reply->result_case = RES(MEMBERSHIP);
        return false;
    case OP(MEMBER_LIST):
        S_LIST(Samspil__V1__Membership, Samspil__V1__MembershipPage,
               samspil__v1__membership_page__init, s_member_row, memberships);
        reply->result_case = RES(MEMBERSHIPS);
        return false;

    case OP(RELATION_ADD):
        if ((rc = s_create_outcome(call, tx, REL_NCOLS, "", "relation", &oc, err)) != 0)
            return rc == S_AGAIN;
        reply->relation = s_rel_row(call, oc.res, oc.row);
        reply->created = oc.created;
        reply->result_case = RES(RELATION);
        return false;
    case OP(RELATION_LIST):
        S_LIST(Samspil__V1__Relation, Samspil__V1__RelationPage, samspil__v1__relation_page__init,
               s_rel_row, relations);
        reply->result_case = RES(RELATIONS);
        return false;

    case OP(CONSENT_RECORD):
        if ((rc = s_create_outcome(call, tx, CONSENT_NCOLS, "", "consent", &oc, err)) != 0)
            return rc == S_AGAIN;
        reply->consent = s_consent_row(call, oc.res, oc.row);
        reply->created = oc.created;
        reply->result_case = RES(CONSENT);
        return false;
    case OP(CONSENT_WITHDRAW):
        if (s_rows(r) != 1) {
            s_not_found(err, "consent_withdraw.id", "consent", req->consent_withdraw->id);
            return false;
        }
        reply->consent = s_consent_row(call, r, 0);
        reply->result_case = RES(CONSENT);
        return false;
    case OP(CONSENT_LIST):
        S_LIST(Samspil__V1__Consent, Samspil__V1__ConsentPage, samspil__v1__consent_page__init,
               s_consent_row, consents);
        reply->result_case = RES(CONSENTS);
        return false;

    case OP(PERSON_EXPORT):
        s_finish_export(call, tx, reply, err);
        return false;
    case OP(PERSON_ERASE):
        s_finish_erase(call, tx, reply, err);
        return false;
    default:
        sp_error_set(err, SP_INVALID_ARGUMENT, "op", "request names no known operation");
        return false;
    }
}

bool registration_store_finish(registration_call_t *call, const sp_db_tx_t *tx,
                               Samspil__V1__RegistrationReply *reply, sp_error_t *err)
{
    if (s_finish(call, tx, reply, err))
        return true;
    if (!sp_error_is_set(err) && call->open_errno) {
        /* a reply without the contact points someone may rely on: refuse it */
        sp_error_set(err, SP_INTERNAL, "",
                     "could not open the contact points of actor %s (%s); the service has logged "
                     "it",
                     call->open_actor,
                     call->open_errno == ENOKEY ? "its data key is missing" : "they do not open");
    }
    return false;
}
