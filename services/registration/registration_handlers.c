/*
 * registration_handlers.c - one registration request from frame to reply.
 *
 * Order of checks, so the first error a client sees is the most basic one:
 * size and decoding ("body"), the operation ("op"), the principal's role and
 * tenant ("op", "tenant"), the fields (validation, before any SQL), then the
 * database (tenant existence, references, uniqueness).  Each request is
 * logged once at debug (op, tenant, outcome, duration); failures of the
 * service itself (internal, unavailable) at warn with the SQLSTATE and
 * constraint only: never names, values or bodies.
 */
#include "registration_handlers.h"

#include "registration_store.h"
#include "registration_validate.h"
#include "samspil/v1/registration.pb-c.h"
#include "sp_error.h"
#include "sp_log.h"
#include "sp_mdp.h"
#include "sp_principal.h"

#include <stdlib.h>
#include <string.h>

struct registration_handlers_t {
    sp_db_t *db;
    uint8_t *out; /* reply packing buffer, reused (all calls are on the loop thread) */
    size_t out_cap;
};

/* A request between its transaction's start and its reply. */
typedef struct {
    registration_handlers_t *h;
    sp_request_t *request;
    Samspil__V1__RegistrationRequest *msg;
    registration_call_t call;
    uint64_t started_ns;
} s_ctx_t;

registration_handlers_t *registration_handlers_new(sp_db_t *db)
{
    registration_handlers_t *self = calloc(1, sizeof *self);
    if (!self)
        return NULL;
    self->db = db;
    return self;
}

void registration_handlers_destroy(registration_handlers_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    free((*self_p)->out);
    free(*self_p);
    *self_p = NULL;
}

/* Pack `reply` and send it; frees nothing else. */
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

/* Log the outcome of one request. */
static void s_log(const char *op, const char *tenant, const sp_error_t *err, uint64_t started_ns,
                  const char *sqlstate, const char *constraint)
{
    long long us = (long long)((uv_hrtime() - started_ns) / 1000);
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

static void s_on_done(sp_db_tx_t *tx, void *arg)
{
    s_ctx_t *ctx = arg;
    Samspil__V1__RegistrationReply reply = SAMSPIL__V1__REGISTRATION_REPLY__INIT;
    Samspil__V1__Error pb;
    sp_error_t err;
    sp_error_clear(&err);
    reply.correlation_id = ctx->msg->correlation_id;
    registration_store_finish(&ctx->call, tx, &reply, &err);
    if (sp_error_is_set(&err)) {
        sp_error_to_pb(&err, &pb);
        reply.result_case = SAMSPIL__V1__REGISTRATION_REPLY__RESULT_ERROR;
        reply.error = &pb;
        reply.created = false;
    }
    s_send(ctx->h, &ctx->request, &reply);
    bool failed = !sp_db_tx_ok(tx);
    s_log(ctx->call.op->name, ctx->msg->tenant, &err, ctx->started_ns,
          failed ? sp_db_tx_sqlstate(tx) : NULL, failed ? sp_db_tx_constraint(tx) : NULL);
    sp_db_tx_destroy(&tx);
    registration_call_release(&ctx->call);
    samspil__v1__registration_request__free_unpacked(ctx->msg, NULL);
    free(ctx);
}

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
    } else if (registration_check_access(msg, op, principal, &err) == 0) {
        registration_validate(msg, &checked, &err);
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
    bool restricted = op->tenant_scoped && sp_principal_sees_restricted(principal, msg->tenant);
    registration_call_init(&ctx->call, msg, op, &checked, restricted);
    if (msg->op_case == SAMSPIL__V1__REGISTRATION_REQUEST__OP_TENANT_LIST &&
        !principal->all_tenants)
        registration_call_limit_tenants(&ctx->call, principal->tenants, principal->n_tenants);

    sp_db_tx_t *tx = sp_db_tx_new(h->db);
    registration_store_prepare(&ctx->call, tx);
    sp_db_tx_run(tx, s_on_done, ctx);
}
