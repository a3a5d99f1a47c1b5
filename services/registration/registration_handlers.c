/*
 * registration_handlers.c - one registration request from frame to reply.
 *
 * Order of checks, so the first error a client sees is the most basic one:
 * size and decoding ("body"), the operation ("op"), the principal's role and
 * tenant ("op", "tenant"; registration_access.h, refusals logged at info),
 * the fields (validation, before any SQL), the restricted fields the
 * request would write (PERMISSION_DENIED for principals that may neither
 * see nor supply them), then the database (tenant existence, references,
 * uniqueness).  Between validation and the database an actor's
 * "cpr:<number>" ref is replaced by its pseudonym (registration_cpr.h), and
 * contact points are sealed (registration_contacts.h).
 *
 * Transactions and batching: at most `max_tx` transactions run at once.
 * Requests that arrive while all are busy wait in a FIFO queue, and when a
 * transaction finishes, the next one takes the first waiting request
 * together with the other waiting requests of the same tenant (up to
 * REGISTRATION_BATCH_MAX): their statements follow one tenant statement in
 * one pipeline and commit together, which shares the round trip, the
 * commit and the backend wake-ups between them.  All-or-nothing applies to
 * the batch, so when a batch of several fails, each member runs again
 * alone and gets its own answer: a request's outcome never depends on the
 * others.  Under light load every request runs at once, alone.
 *
 * Restricted fields: principals that see contact points and the vulnerable
 * flag (operators, the tenant's facilitators) and integrators, who supply
 * them, may set them; the store opens them only for those who see them;
 * every reply passes registration_redact_reply before it is packed.
 *
 * Logging: each request once at debug (op, tenant, outcome, duration);
 * failures of the service itself (internal, unavailable) at warn with the
 * SQLSTATE and constraint only: never names, values or bodies.  The tenant
 * is logged only when it is a municipality code ("invalid" otherwise): it
 * is client text until validated.
 */
#include "registration_handlers.h"

#include "registration_access.h"
#include "registration_cpr.h"
#include "registration_redact.h"
#include "registration_rotate.h"
#include "registration_store.h"
#include "registration_validate.h"
#include "samspil/v1/registration.pb-c.h"
#include "sp_error.h"
#include "sp_log.h"
#include "sp_mdp.h"
#include "sp_municipality.h"
#include "sp_principal.h"

#include <stdlib.h>
#include <string.h>

/* A request between its validation and its reply. */
typedef struct s_ctx_t s_ctx_t;
struct s_ctx_t {
    registration_handlers_t *h;
    sp_request_t *request;
    Samspil__V1__RegistrationRequest *msg;
    registration_call_t call;
    uint64_t started_ns;
    bool solo;     /* must run in a transaction of its own */
    s_ctx_t *next; /* in the wait queue */
};

/* One transaction's members, in statement order. */
typedef struct {
    registration_handlers_t *h;
    int n;
    s_ctx_t *members[];
} s_batch_t;

struct registration_handlers_t {
    sp_db_t *db;
    sp_keyring_t *keys;
    registration_rotate_t *rotate;
    int max_tx;  /* transactions at once */
    int running; /* transactions in flight */
    bool stopping;
    s_ctx_t *head, *tail;
    uint8_t *out; /* reply packing buffer, reused (all calls are on the loop thread) */
    size_t out_cap;
};

static void s_pump(registration_handlers_t *h);

registration_handlers_t *registration_handlers_new(uv_loop_t *loop, sp_db_t *db, int max_tx,
                                                   sp_keyring_t *keys, int reload_ms)
{
    registration_handlers_t *self = calloc(1, sizeof *self);
    if (!self)
        return NULL;
    self->db = db;
    self->keys = keys;
    self->max_tx = max_tx > 0 ? max_tx : 1;
    self->rotate = registration_rotate_new(loop, db, keys, reload_ms);
    if (!self->rotate) {
        free(self);
        return NULL;
    }
    return self;
}

void registration_handlers_stop(registration_handlers_t *self)
{
    self->stopping = true;
    registration_rotate_stop(self->rotate);
    s_pump(self);
}

void registration_handlers_destroy(registration_handlers_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    registration_rotate_destroy(&(*self_p)->rotate);
    free((*self_p)->out);
    free(*self_p);
    *self_p = NULL;
}

/* Pack `reply` and send it. */
static void s_send(registration_handlers_t *h, sp_request_t **request_p,
                   const Samspil__V1__RegistrationReply *reply)
{
    size_t size = samspil__v1__registration_reply__get_packed_size(reply);
    if (size > h->out_cap) {
        size_t cap = h->out_cap ? h->out_cap : 4096;
        while (cap < size)
            cap *= 2;
        uint8_t *out = realloc(h->out, cap);
        if (!out)
            abort();
        h->out = out;
        h->out_cap = cap;
    }
    samspil__v1__registration_reply__pack(reply, h->out);
    sp_request_reply(request_p, h->out, size);
}

/* The request's tenant as logs may show it: a municipality code, "" when
 * absent, else "invalid" (the field is client text until validated). */
static const char *s_log_tenant(const char *tenant)
{
    if (!tenant || !*tenant)
        return "";
    return sp_municipality_find(tenant) ? tenant : "invalid";
}

/* Log the outcome of one request. */
static void s_log(const char *op, const char *request_tenant, const sp_error_t *err,
                  uint64_t started_ns, const char *sqlstate, const char *constraint)
{
    long long us = (long long)((uv_hrtime() - started_ns) / 1000);
    const char *tenant = s_log_tenant(request_tenant);
    const char *outcome = sp_error_code_name(err->code);
    if (err->code == SP_INTERNAL || err->code == SP_UNAVAILABLE)
        sp_log_warn("request failed", SP_LOG_STR("op", op), SP_LOG_STR("tenant", tenant),
                    SP_LOG_STR("outcome", outcome), SP_LOG_STR("sqlstate", sqlstate),
                    SP_LOG_STR("constraint", constraint), SP_LOG_INT("duration_us", us),
                    SP_LOG_END);
    else
        sp_log_debug("request", SP_LOG_STR("op", op), SP_LOG_STR("tenant", tenant),
                     SP_LOG_STR("outcome", outcome), SP_LOG_STR("field", err->field),
                     SP_LOG_INT("duration_us", us), SP_LOG_END);
}

/* A refused request, at info: who (client id and role), which operation,
 * which tenant and the field refused; never the request's data. */
static void s_log_denied(const char *op, const char *tenant, const sp_principal_t *principal,
                         const sp_error_t *err)
{
    sp_log_info("permission denied", SP_LOG_STR("op", op),
                SP_LOG_STR("tenant", s_log_tenant(tenant)),
                SP_LOG_STR("client", principal && principal->client_id ? principal->client_id : ""),
                SP_LOG_STR("role", sp_role_name(principal ? principal->role : 0)),
                SP_LOG_STR("field", err->field), SP_LOG_END);
}

/* Reply with an error before any transaction ran. */
static void s_reply_error(registration_handlers_t *h, sp_request_t **request_p,
                          uint64_t correlation_id, const sp_error_t *err, const char *op,
                          const char *tenant, uint64_t started_ns)
{
    Samspil__V1__RegistrationReply reply = SAMSPIL__V1__REGISTRATION_REPLY__INIT;
    Samspil__V1__Error pb;
    sp_error_to_pb(err, &pb);
    reply.correlation_id = correlation_id;
    reply.result_case = SAMSPIL__V1__REGISTRATION_REPLY__RESULT_ERROR;
    reply.error = &pb;
    s_send(h, request_p, &reply);
    s_log(op, tenant, err, started_ns, NULL, NULL);
}

/* ---------------------------------------------------------------- the queue */

static void s_push(registration_handlers_t *h, s_ctx_t *ctx)
{
    ctx->next = NULL;
    if (h->tail)
        h->tail->next = ctx;
    else
        h->head = ctx;
    h->tail = ctx;
}

static void s_push_front(registration_handlers_t *h, s_ctx_t *ctx)
{
    ctx->next = h->head;
    h->head = ctx;
    if (!h->tail)
        h->tail = ctx;
}

/* Requests that may share a transaction: same tenant, neither solo. */
static bool s_joins(const s_ctx_t *first, const s_ctx_t *other)
{
    return !first->solo && !other->solo && first->call.op->tenant_scoped &&
           other->call.op->tenant_scoped && strcmp(first->msg->tenant, other->msg->tenant) == 0;
}

/* Take the first waiting request and those that can join it. */
static s_batch_t *s_take(registration_handlers_t *h)
{
    s_batch_t *b = malloc(sizeof *b + REGISTRATION_BATCH_MAX * sizeof b->members[0]);
    if (!b)
        abort();
    b->h = h;
    b->n = 0;
    s_ctx_t *first = h->head;
    h->head = first->next;
    if (!h->head)
        h->tail = NULL;
    b->members[b->n++] = first;
    s_ctx_t *prev = NULL, *c = h->head;
    while (c && b->n < REGISTRATION_BATCH_MAX) {
        s_ctx_t *next = c->next;
        if (s_joins(first, c)) {
            if (prev)
                prev->next = next;
            else
                h->head = next;
            if (h->tail == c)
                h->tail = prev;
            b->members[b->n++] = c;
        } else {
            prev = c;
        }
        c = next;
    }
    return b;
}

/* GDPR access and erasure are audited at info: who, which tenant, which
 * actor (its id), and for an erasure whether it changed anything. */
static void s_log_person(s_ctx_t *ctx, const Samspil__V1__RegistrationReply *reply)
{
    const sp_principal_t *p = sp_request_principal(ctx->request);
    const char *client = p && p->client_id ? p->client_id : "";
    if (reply->result_case == SAMSPIL__V1__REGISTRATION_REPLY__RESULT_PERSON && reply->person &&
        reply->person->actor)
        sp_log_info("person exported", SP_LOG_STR("tenant", ctx->msg->tenant),
                    SP_LOG_STR("actor", reply->person->actor->id), SP_LOG_STR("client", client),
                    SP_LOG_INT("events", reply->person->n_events), SP_LOG_END);
    else if (reply->result_case == SAMSPIL__V1__REGISTRATION_REPLY__RESULT_PERSON_ERASED &&
             reply->person_erased)
        sp_log_info(
            "person erased", SP_LOG_STR("tenant", ctx->msg->tenant),
            SP_LOG_STR("actor", reply->person_erased->actor_id), SP_LOG_STR("client", client),
            SP_LOG_INT("changed", reply->person_erased->erased),
            SP_LOG_INT("consents_withdrawn", reply->person_erased->consents_withdrawn), SP_LOG_END);
}

/* Reply to a member and free it. */
static void s_finish_member(s_ctx_t *ctx, const sp_db_tx_t *tx)
{
    Samspil__V1__RegistrationReply reply = SAMSPIL__V1__REGISTRATION_REPLY__INIT;
    Samspil__V1__Error pb;
    sp_error_t err;
    sp_error_clear(&err);
    reply.correlation_id = ctx->msg->correlation_id;
    if (registration_store_finish(&ctx->call, tx, &reply, &err)) {
        /* a create met an existing row: read it in a transaction of its own */
        ctx->solo = true;
        s_push(ctx->h, ctx);
        return;
    }
    if (sp_error_is_set(&err)) {
        sp_error_to_pb(&err, &pb);
        reply.result_case = SAMSPIL__V1__REGISTRATION_REPLY__RESULT_ERROR;
        reply.error = &pb;
        reply.created = false;
    }
    /* contact points and the vulnerable flag only for those who may see them */
    registration_redact_reply(sp_request_principal(ctx->request), ctx->msg->tenant, &reply);
    s_log_person(ctx, &reply);
    s_send(ctx->h, &ctx->request, &reply);
    bool failed = !sp_db_tx_ok(tx);
    s_log(ctx->call.op->name, ctx->msg->tenant, &err, ctx->started_ns,
          failed ? sp_db_tx_sqlstate(tx) : NULL, failed ? sp_db_tx_constraint(tx) : NULL);
    registration_call_release(&ctx->call);
    samspil__v1__registration_request__free_unpacked(ctx->msg, NULL);
    free(ctx);
}

static void s_on_done(sp_db_tx_t *tx, void *arg)
{
    s_batch_t *b = arg;
    registration_handlers_t *h = b->h;
    h->running--;
    if (b->n > 1 && !sp_db_tx_ok(tx) && !sp_db_tx_connection_failed(tx) &&
        !registration_store_unknown_tenant(&b->members[0]->call, tx)) {
        /* nothing of the batch was written: run each member alone, first in line */
        sp_log_debug("batch failed; members run alone", SP_LOG_INT("members", b->n),
                     SP_LOG_STR("sqlstate", sp_db_tx_sqlstate(tx)), SP_LOG_END);
        for (int i = b->n - 1; i >= 0; i--) {
            b->members[i]->solo = true;
            s_push_front(h, b->members[i]);
        }
    } else {
        for (int i = 0; i < b->n; i++)
            s_finish_member(b->members[i], tx);
    }
    sp_db_tx_destroy(&tx);
    free(b);
    s_pump(h);
}

/* Answer a waiting request UNAVAILABLE (the service is stopping) and free it. */
static void s_refuse(s_ctx_t *ctx)
{
    sp_error_t err;
    sp_error_set(&err, SP_UNAVAILABLE, "", "service is stopping; retry");
    s_reply_error(ctx->h, &ctx->request, ctx->msg->correlation_id, &err, ctx->call.op->name,
                  ctx->msg->tenant, ctx->started_ns);
    registration_call_release(&ctx->call);
    samspil__v1__registration_request__free_unpacked(ctx->msg, NULL);
    free(ctx);
}

/* Start transactions while there are waiting requests and room. */
static void s_pump(registration_handlers_t *h)
{
    while (h->stopping && h->head) {
        s_ctx_t *ctx = h->head;
        h->head = ctx->next;
        if (!h->head)
            h->tail = NULL;
        s_refuse(ctx);
    }
    while (h->head && h->running < h->max_tx) {
        s_batch_t *b = s_take(h);
        sp_db_tx_t *tx = sp_db_tx_new(h->db);
        registration_call_t *calls[REGISTRATION_BATCH_MAX];
        for (int i = 0; i < b->n; i++) {
            b->members[i]->solo = false; /* a retry runs alone once */
            calls[i] = &b->members[i]->call;
        }
        registration_store_prepare_batch(calls, b->n, tx);
        h->running++;
        sp_db_tx_run(tx, s_on_done, b);
    }
}

/* ---------------------------------------------------------------- requests */

void registration_handle(sp_request_t *request, void *arg)
{
    registration_handlers_t *h = arg;
    uint64_t started = uv_hrtime();
    sp_error_t err;
    sp_error_clear(&err);

    size_t len = 0;
    const uint8_t *body = sp_request_body(request, &len);
    if (len > SP_MDP_MAX_FRAME_SIZE) {
        sp_error_set(&err, SP_INVALID_ARGUMENT, "body",
                     "request is too large (%zu bytes; at most %d)", len, SP_MDP_MAX_FRAME_SIZE);
        s_reply_error(h, &request, 0, &err, "", "", started);
        return;
    }
    Samspil__V1__RegistrationRequest *msg =
        samspil__v1__registration_request__unpack(NULL, len, body);
    if (!msg) {
        sp_error_set(&err, SP_INVALID_ARGUMENT, "body",
                     "request body is not a samspil.v1.RegistrationRequest");
        s_reply_error(h, &request, 0, &err, "", "", started);
        return;
    }

    const registration_op_t *op = registration_op_find(msg->op_case);
    const sp_principal_t *principal = sp_request_principal(request);
    registration_checked_t checked;
    if (!op) {
        sp_error_set(&err, SP_INVALID_ARGUMENT, "op", "request names no known operation");
    } else if (registration_access_check(msg, principal, &err) != 0) {
        if (err.code == SP_PERMISSION_DENIED)
            s_log_denied(op->name, msg->tenant, principal, &err);
    } else if (registration_validate(msg, &checked, &err) == 0 &&
               registration_redact_check_write(principal, msg, checked.update_mask, &err) == 0) {
        /* a CPR number becomes the tenant's pseudonym before anything else sees it */
        registration_cpr_pseudonymise(msg, sp_keyring_cpr_key(h->keys), &err);
    }
    if (!sp_error_is_set(&err) && h->stopping)
        sp_error_set(&err, SP_UNAVAILABLE, "", "service is stopping; retry");
    if (!sp_error_is_set(&err) &&
        msg->op_case == SAMSPIL__V1__REGISTRATION_REQUEST__OP_DATA_KEY_ROTATE) {
        /* not a transaction of the queue: the rotator answers when it is done */
        const Samspil__V1__DataKeyRotate *o = msg->data_key_rotate;
        uint64_t correlation_id = msg->correlation_id;
        if (registration_rotate_start(h->rotate, &request, correlation_id, !o->reseal_only,
                                      checked.limit, &err) == 0) {
            samspil__v1__registration_request__free_unpacked(msg, NULL);
            return;
        }
    }
    if (sp_error_is_set(&err)) {
        s_reply_error(h, &request, msg->correlation_id, &err, op ? op->name : "", msg->tenant,
                      started);
        samspil__v1__registration_request__free_unpacked(msg, NULL);
        return;
    }

    s_ctx_t *ctx = malloc(sizeof *ctx);
    if (!ctx)
        abort();
    ctx->h = h;
    ctx->request = request;
    ctx->msg = msg;
    ctx->started_ns = started;
    /* a person's export or erasure runs in a transaction of its own */
    ctx->solo = msg->op_case == SAMSPIL__V1__REGISTRATION_REQUEST__OP_PERSON_EXPORT ||
                msg->op_case == SAMSPIL__V1__REGISTRATION_REQUEST__OP_PERSON_ERASE;
    bool restricted = op->tenant_scoped && registration_redact_sees(principal, msg->tenant);
    if (registration_call_init(&ctx->call, msg, op, &checked, restricted, h->keys, &err) != 0) {
        s_reply_error(h, &ctx->request, msg->correlation_id, &err, op->name, msg->tenant, started);
        registration_call_release(&ctx->call);
        samspil__v1__registration_request__free_unpacked(msg, NULL);
        free(ctx);
        return;
    }
    if (msg->op_case == SAMSPIL__V1__REGISTRATION_REQUEST__OP_TENANT_LIST &&
        !principal->all_tenants)
        registration_call_limit_tenants(&ctx->call, principal->tenants, principal->n_tenants);
    s_push(h, ctx);
    s_pump(h);
}
