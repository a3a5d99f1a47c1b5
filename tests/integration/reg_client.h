/*
 * reg_client.h - helpers shared by the registration integration tests and
 * benchmarks: building and sending samspil.registration requests through the
 * real broker, reading error replies, asking the broker's mmi.status, and
 * looking behind the service with libpq (owner connection, tenant set per
 * session) to count rows.
 *
 * Header-only (static inline), used together with itest.h.  Every function
 * that returns a reply returns it unpacked (free with rc_free) or NULL when no
 * reply came.
 */
#ifndef REG_CLIENT_H
#define REG_CLIENT_H

#include "samspil/v1/broker.pb-c.h"
#include "samspil/v1/registration.pb-c.h"
#include "sp_client.h"
#include "sp_error.h"

#include <errno.h>
#include <libpq-fe.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define RC_SERVICE "samspil.registration"

typedef Samspil__V1__RegistrationRequest rc_req_t;
typedef Samspil__V1__RegistrationReply rc_reply_t;

/* Monotonic clock in microseconds. */
static inline int64_t rc_now_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

/* A short string unique to this run ("<time hex><pid hex>"), used in
 * idempotency keys, external refs and names so a test can run again against
 * the same suite. */
static inline const char *rc_nonce(void)
{
    static char nonce[32];
    if (!nonce[0]) {
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        snprintf(nonce, sizeof nonce, "%lx%lx%x", (unsigned long)ts.tv_sec,
                 (unsigned long)(ts.tv_nsec / 1000) & 0xfffff, (unsigned)getpid());
    }
    return nonce;
}

/* A fresh idempotency key "<label>-<nonce>-<n>", unique to this run, for
 * creates that have no external ref (the service requires one of the two on
 * actor and partnership creates and a key on consent records).  The text
 * lives in one of 8 static buffers used in turn: send it before asking for
 * 8 more. */
static inline const char *rc_key(const char *label)
{
    static char keys[8][96];
    static unsigned n;
    char *key = keys[n % 8];
    n++;
    snprintf(key, sizeof keys[0], "%.40s-%s-%u", label, rc_nonce(), n);
    return key;
}

/* A client connected to $SAMSPIL_BROKER with a generous per-attempt timeout
 * (the sanitizer build is slow).  Exits 2 when it cannot be made. */
static inline sp_client_t *rc_client(void)
{
    const char *endpoint = getenv("SAMSPIL_BROKER");
    if (!endpoint || !*endpoint) {
        fprintf(stderr, "itest: SAMSPIL_BROKER is not set (run through tests/run-tests.sh)\n");
        exit(2);
    }
    sp_client_t *client = sp_client_new(endpoint);
    if (!client) {
        fprintf(stderr, "itest: could not create a client for \"%s\"\n", endpoint);
        exit(2);
    }
    sp_client_set_timeout(client, 10000);
    sp_client_set_retries(client, 2);
    return client;
}

/* Send one request and wait for its reply (Lazy Pirate retries inside). */
static inline rc_reply_t *rc_call(sp_client_t *client, rc_req_t *req)
{
    ProtobufCMessage *reply = NULL;
    if (sp_client_call_pb(client, RC_SERVICE, &req->base,
                          &samspil__v1__registration_reply__descriptor, &reply) != 0)
        return NULL;
    return (rc_reply_t *)reply;
}

/* Pipelining: pack and send without waiting.  Returns 0 or -1. */
static inline int rc_send(sp_client_t *client, rc_req_t *req)
{
    size_t len = samspil__v1__registration_request__get_packed_size(req);
    uint8_t *buf = malloc(len ? len : 1);
    if (!buf)
        return -1;
    samspil__v1__registration_request__pack(req, buf);
    int rc = sp_client_send(client, RC_SERVICE, buf, len);
    free(buf);
    return rc;
}

/* Pipelining: wait up to `timeout_ms` for any reply.  NULL on timeout (errno
 * ETIMEDOUT) or on a reply that does not unpack (errno EPROTO). */
static inline rc_reply_t *rc_recv(sp_client_t *client, int timeout_ms)
{
    uint8_t *data = NULL;
    size_t len = 0;
    if (sp_client_recv(client, timeout_ms, &data, &len) != 0)
        return NULL;
    rc_reply_t *reply = samspil__v1__registration_reply__unpack(NULL, len, data);
    free(data);
    if (!reply)
        errno = EPROTO;
    return reply;
}

/* Free a reply; idempotent, nulls the pointer. */
static inline void rc_free(rc_reply_t **reply_p)
{
    if (reply_p && *reply_p) {
        protobuf_c_message_free_unpacked(&(*reply_p)->base, NULL);
        *reply_p = NULL;
    }
}

/* The error code of a reply (SP_OK for a result), or -1 for no reply. */
static inline int rc_code(const rc_reply_t *reply)
{
    if (!reply)
        return -1;
    if (reply->result_case == SAMSPIL__V1__REGISTRATION_REPLY__RESULT_ERROR && reply->error)
        return (int)reply->error->code;
    if (reply->result_case == SAMSPIL__V1__REGISTRATION_REPLY__RESULT__NOT_SET)
        return -2; /* neither a result nor an error: a broken reply */
    return SP_OK;
}

static inline const char *rc_err_field(const rc_reply_t *reply)
{
    if (reply && reply->result_case == SAMSPIL__V1__REGISTRATION_REPLY__RESULT_ERROR &&
        reply->error && reply->error->field)
        return reply->error->field;
    return "";
}

static inline const char *rc_err_message(const rc_reply_t *reply)
{
    if (reply && reply->result_case == SAMSPIL__V1__REGISTRATION_REPLY__RESULT_ERROR &&
        reply->error && reply->error->message)
        return reply->error->message;
    return "";
}

/* A one-line description of a reply for a failed check's detail. */
static inline const char *rc_describe(const rc_reply_t *reply)
{
    static char text[600];
    int code = rc_code(reply);
    if (code == -1)
        snprintf(text, sizeof text, "no reply (%s)", strerror(errno));
    else if (code == -2)
        snprintf(text, sizeof text, "reply without result or error");
    else if (code == SP_OK)
        snprintf(text, sizeof text, "ok (result %d, created %d)", (int)reply->result_case,
                 (int)reply->created);
    else
        snprintf(text, sizeof text, "%s field=\"%s\" message=\"%s\"",
                 sp_error_code_name((sp_error_code_t)code), rc_err_field(reply),
                 rc_err_message(reply));
    return text;
}

/* True if `reply` is an error with `code` whose field names `field` (the
 * field path contains it, e.g. "name" matches "actor.name") and whose
 * message contains `value` (when not NULL). */
static inline bool rc_is_error(const rc_reply_t *reply, int code, const char *field,
                               const char *value)
{
    if (rc_code(reply) != code)
        return false;
    if (field && !strstr(rc_err_field(reply), field))
        return false;
    if (value && !strstr(rc_err_message(reply), value))
        return false;
    return true;
}

/* True if `reply` carries the result `result_case`. */
static inline bool rc_is(const rc_reply_t *reply, int result_case)
{
    return rc_code(reply) == SP_OK && (int)reply->result_case == result_case;
}

/* ---------------------------------------------------------------- requests */

/* Tenant create.  Returns the reply. */
static inline rc_reply_t *rc_tenant_create(sp_client_t *client, const char *code, const char *name)
{
    Samspil__V1__TenantCreate op = SAMSPIL__V1__TENANT_CREATE__INIT;
    op.code = (char *)code;
    op.name = (char *)name;
    rc_req_t req = SAMSPIL__V1__REGISTRATION_REQUEST__INIT;
    req.op_case = SAMSPIL__V1__REGISTRATION_REQUEST__OP_TENANT_CREATE;
    req.tenant_create = &op;
    return rc_call(client, &req);
}

/* Make sure tenant `code` exists (created now or earlier).  Returns 0 or -1. */
static inline int rc_tenant_ensure(sp_client_t *client, const char *code, const char *name)
{
    rc_reply_t *reply = rc_tenant_create(client, code, name);
    int code_ = rc_code(reply);
    if (code_ != SP_OK && code_ != SP_ALREADY_EXISTS)
        fprintf(stderr, "itest: tenant create %s: %s\n", code, rc_describe(reply));
    rc_free(&reply);
    return code_ == SP_OK || code_ == SP_ALREADY_EXISTS ? 0 : -1;
}

/* An actor of `kind` named `name`, every other field empty. */
static inline void rc_actor_init(Samspil__V1__Actor *actor, Samspil__V1__ActorKind kind,
                                 const char *name)
{
    samspil__v1__actor__init(actor);
    actor->kind = kind;
    actor->name = (char *)name;
}

/* Actor create under `tenant` with idempotency key `key` (NULL: none, which
 * the service accepts only when the actor has an external ref). */
static inline rc_reply_t *rc_actor_create(sp_client_t *client, const char *tenant, const char *key,
                                          Samspil__V1__Actor *actor)
{
    Samspil__V1__ActorCreate op = SAMSPIL__V1__ACTOR_CREATE__INIT;
    op.actor = actor;
    rc_req_t req = SAMSPIL__V1__REGISTRATION_REQUEST__INIT;
    req.tenant = (char *)tenant;
    if (key)
        req.idempotency_key = (char *)key;
    req.op_case = SAMSPIL__V1__REGISTRATION_REQUEST__OP_ACTOR_CREATE;
    req.actor_create = &op;
    return rc_call(client, &req);
}

/* Actor get by id (or, with id NULL, by external ref). */
static inline rc_reply_t *rc_actor_get(sp_client_t *client, const char *tenant, const char *id,
                                       const char *external_ref)
{
    Samspil__V1__ActorGet op = SAMSPIL__V1__ACTOR_GET__INIT;
    if (id)
        op.id = (char *)id;
    if (external_ref)
        op.external_ref = (char *)external_ref;
    rc_req_t req = SAMSPIL__V1__REGISTRATION_REQUEST__INIT;
    req.tenant = (char *)tenant;
    req.op_case = SAMSPIL__V1__REGISTRATION_REQUEST__OP_ACTOR_GET;
    req.actor_get = &op;
    return rc_call(client, &req);
}

/* One page of actors. */
static inline rc_reply_t *rc_actor_list(sp_client_t *client, const char *tenant,
                                        Samspil__V1__ActorKind kind, const char *interest,
                                        unsigned limit, const char *cursor)
{
    Samspil__V1__PageRequest page = SAMSPIL__V1__PAGE_REQUEST__INIT;
    page.limit = limit;
    if (cursor)
        page.cursor = (char *)cursor;
    Samspil__V1__ActorList op = SAMSPIL__V1__ACTOR_LIST__INIT;
    op.page = &page;
    op.kind = kind;
    if (interest)
        op.interest = (char *)interest;
    rc_req_t req = SAMSPIL__V1__REGISTRATION_REQUEST__INIT;
    req.tenant = (char *)tenant;
    req.op_case = SAMSPIL__V1__REGISTRATION_REQUEST__OP_ACTOR_LIST;
    req.actor_list = &op;
    return rc_call(client, &req);
}

/* Actor update of the fields named in `mask` (nmask entries). */
static inline rc_reply_t *rc_actor_update(sp_client_t *client, const char *tenant,
                                          Samspil__V1__Actor *actor, const char **mask,
                                          size_t nmask)
{
    Samspil__V1__ActorUpdate op = SAMSPIL__V1__ACTOR_UPDATE__INIT;
    op.actor = actor;
    op.n_update_mask = nmask;
    op.update_mask = (char **)mask;
    rc_req_t req = SAMSPIL__V1__REGISTRATION_REQUEST__INIT;
    req.tenant = (char *)tenant;
    req.op_case = SAMSPIL__V1__REGISTRATION_REQUEST__OP_ACTOR_UPDATE;
    req.actor_update = &op;
    return rc_call(client, &req);
}

/* Actor upsert by actor->external_ref. */
static inline rc_reply_t *rc_actor_upsert(sp_client_t *client, const char *tenant,
                                          Samspil__V1__Actor *actor)
{
    Samspil__V1__ActorUpsert op = SAMSPIL__V1__ACTOR_UPSERT__INIT;
    op.actor = actor;
    rc_req_t req = SAMSPIL__V1__REGISTRATION_REQUEST__INIT;
    req.tenant = (char *)tenant;
    req.op_case = SAMSPIL__V1__REGISTRATION_REQUEST__OP_ACTOR_UPSERT;
    req.actor_upsert = &op;
    return rc_call(client, &req);
}

/* Partnership create with idempotency key `key` (NULL: none, which the
 * service accepts only when the partnership has an external ref). */
static inline rc_reply_t *rc_partnership_create(sp_client_t *client, const char *tenant,
                                                const char *key,
                                                Samspil__V1__Partnership *partnership)
{
    Samspil__V1__PartnershipCreate op = SAMSPIL__V1__PARTNERSHIP_CREATE__INIT;
    op.partnership = partnership;
    rc_req_t req = SAMSPIL__V1__REGISTRATION_REQUEST__INIT;
    req.tenant = (char *)tenant;
    if (key)
        req.idempotency_key = (char *)key;
    req.op_case = SAMSPIL__V1__REGISTRATION_REQUEST__OP_PARTNERSHIP_CREATE;
    req.partnership_create = &op;
    return rc_call(client, &req);
}

/* Membership add. */
static inline rc_reply_t *rc_member_add(sp_client_t *client, const char *tenant, const char *key,
                                        const char *partnership_id, const char *actor_id,
                                        const Samspil__V1__MemberRole *roles, size_t nroles,
                                        Samspil__V1__KnowledgeBasis basis)
{
    Samspil__V1__Membership m = SAMSPIL__V1__MEMBERSHIP__INIT;
    m.partnership_id = (char *)partnership_id;
    m.actor_id = (char *)actor_id;
    m.n_roles = nroles;
    m.roles = (Samspil__V1__MemberRole *)roles;
    m.knowledge_basis = basis;
    Samspil__V1__MemberAdd op = SAMSPIL__V1__MEMBER_ADD__INIT;
    op.membership = &m;
    rc_req_t req = SAMSPIL__V1__REGISTRATION_REQUEST__INIT;
    req.tenant = (char *)tenant;
    if (key)
        req.idempotency_key = (char *)key;
    req.op_case = SAMSPIL__V1__REGISTRATION_REQUEST__OP_MEMBER_ADD;
    req.member_add = &op;
    return rc_call(client, &req);
}

/* Copy the id of the entity in `reply` (actor, partnership, membership,
 * relation, consent; tenant: its code) into `out`; "" when there is none. */
static inline const char *rc_id(const rc_reply_t *reply, char *out, size_t outlen)
{
    const char *id = NULL;
    if (rc_code(reply) == SP_OK) {
        switch (reply->result_case) {
        case SAMSPIL__V1__REGISTRATION_REPLY__RESULT_TENANT:
            id = reply->tenant ? reply->tenant->code : NULL;
            break;
        case SAMSPIL__V1__REGISTRATION_REPLY__RESULT_PARTNERSHIP:
            id = reply->partnership ? reply->partnership->id : NULL;
            break;
        case SAMSPIL__V1__REGISTRATION_REPLY__RESULT_ACTOR:
            id = reply->actor ? reply->actor->id : NULL;
            break;
        case SAMSPIL__V1__REGISTRATION_REPLY__RESULT_MEMBERSHIP:
            id = reply->membership ? reply->membership->id : NULL;
            break;
        case SAMSPIL__V1__REGISTRATION_REPLY__RESULT_RELATION:
            id = reply->relation ? reply->relation->id : NULL;
            break;
        case SAMSPIL__V1__REGISTRATION_REPLY__RESULT_CONSENT:
            id = reply->consent ? reply->consent->id : NULL;
            break;
        default:
            break;
        }
    }
    snprintf(out, outlen, "%s", id ? id : "");
    return out;
}

/* ---------------------------------------------------------------- broker */

/* Workers the broker reports for `service` (mmi.status), 0 when it is not
 * listed, -1 when the broker did not answer. */
static inline int rc_service_workers(sp_client_t *client, const char *service)
{
    ProtobufCMessage *msg = NULL;
    Samspil__V1__EchoRequest empty = SAMSPIL__V1__ECHO_REQUEST__INIT; /* any body will do */
    if (sp_client_call_pb(client, "mmi.status", &empty.base,
                          &samspil__v1__broker_status__descriptor, &msg) != 0)
        return -1;
    Samspil__V1__BrokerStatus *status = (Samspil__V1__BrokerStatus *)msg;
    int workers = 0;
    for (size_t i = 0; i < status->n_services; i++)
        if (status->services[i]->name && strcmp(status->services[i]->name, service) == 0)
            workers = (int)status->services[i]->workers;
    protobuf_c_message_free_unpacked(msg, NULL);
    return workers;
}

/* ---------------------------------------------------------------- database */

/* Connect with `conninfo` (URL or key=value), optionally as another `user`.
 * Exits 2 on failure: a test that cannot look behind the service is broken. */
static inline PGconn *rc_db_connect(const char *conninfo, const char *user)
{
    const char *keys[] = {"dbname", user ? "user" : NULL, NULL};
    const char *values[] = {conninfo, user, NULL};
    PGconn *db = PQconnectdbParams(keys, values, 1);
    if (!db || PQstatus(db) != CONNECTION_OK) {
        fprintf(stderr, "itest: could not connect to the database as %s: %s\n",
                user ? user : "owner", db ? PQerrorMessage(db) : "out of memory");
        PQfinish(db);
        exit(2);
    }
    return db;
}

/* The owner connection from $SAMSPIL_OWNER_DB. */
static inline PGconn *rc_db_owner(void)
{
    const char *conninfo = getenv("SAMSPIL_OWNER_DB");
    if (!conninfo || !*conninfo) {
        fprintf(stderr, "itest: SAMSPIL_OWNER_DB is not set (run through tests/run-tests.sh)\n");
        exit(2);
    }
    return rc_db_connect(conninfo, NULL);
}

/* Set (or with "" clear) the session's tenant: FORCE ROW LEVEL SECURITY
 * applies to the owner too, so checks behind the service name the tenant
 * they look at.  Returns 0 or -1. */
static inline int rc_db_set_tenant(PGconn *db, const char *tenant)
{
    const char *params[] = {tenant ? tenant : ""};
    PGresult *res = PQexecParams(db, "SELECT set_config('samspil.tenant', $1, false)", 1, NULL,
                                 params, NULL, NULL, 0);
    int ok = PQresultStatus(res) == PGRES_TUPLES_OK;
    if (!ok)
        fprintf(stderr, "itest: set tenant failed: %s", PQerrorMessage(db));
    PQclear(res);
    return ok ? 0 : -1;
}

/* Run `sql` with text parameters as tenant `tenant` (NULL: leave the
 * session's tenant alone) and return the first column of the first row as an
 * integer, or -1 on error (printed to stderr). */
static inline long long rc_db_count(PGconn *db, const char *tenant, const char *sql, int nparams,
                                    const char *const *params)
{
    if (tenant && rc_db_set_tenant(db, tenant) != 0)
        return -1;
    PGresult *res = PQexecParams(db, sql, nparams, NULL, params, NULL, NULL, 0);
    long long value = -1;
    if (PQresultStatus(res) == PGRES_TUPLES_OK && PQntuples(res) > 0 && !PQgetisnull(res, 0, 0))
        value = strtoll(PQgetvalue(res, 0, 0), NULL, 10);
    else
        fprintf(stderr, "itest: query failed: %s: %s", sql,
                PQresultStatus(res) == PGRES_TUPLES_OK ? "no row\n" : PQerrorMessage(db));
    PQclear(res);
    return value;
}

/* Like rc_db_count but returns the PGresult (caller PQclears), NULL on error. */
static inline PGresult *rc_db_query(PGconn *db, const char *tenant, const char *sql, int nparams,
                                    const char *const *params)
{
    if (tenant && rc_db_set_tenant(db, tenant) != 0)
        return NULL;
    PGresult *res = PQexecParams(db, sql, nparams, NULL, params, NULL, NULL, 0);
    if (PQresultStatus(res) != PGRES_TUPLES_OK) {
        fprintf(stderr, "itest: query failed: %s: %s", sql, PQerrorMessage(db));
        PQclear(res);
        return NULL;
    }
    return res;
}

#endif
