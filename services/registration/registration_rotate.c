/*
 * registration_rotate.c - re-seal every actor's contact points under the
 * current data key, tenant by tenant, batch by batch (see
 * registration_rotate.h).
 */
#include "registration_rotate.h"

#include "registration_contacts.h"
#include "registration_pgtext.h"
#include "samspil/v1/registration.pb-c.h"
#include "sp_buf.h"
#include "sp_log.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define ZERO_UUID "'00000000-0000-0000-0000-000000000000'::uuid"

static const char s_sql_tenants[] = "SELECT t.code FROM registration.tenants t ORDER BY t.code";
static const char s_sql_tenant[] =
    "SELECT set_config('samspil.tenant', t.code, true) FROM registration.tenants t "
    "WHERE t.code = $1";
/* actors of the tenant after cursor $2 whose contact points are under a key
 * older than $3, or in plain text (before 003_privacy): id, what the row
 * holds now (compared when writing back), the sealed value, and the plain
 * list as "kind:preferred:value" strings */
static const char s_sql_batch[] =
    "SELECT a.id, COALESCE(a.contacts, a.contact_points::text), COALESCE(a.contacts, ''), "
    "ARRAY(SELECT (e.v->>'kind') || ':' || CASE WHEN (e.v->>'preferred')::boolean THEN '1' "
    "ELSE '0' END || ':' || (e.v->>'value') FROM jsonb_array_elements(a.contact_points) "
    "WITH ORDINALITY AS e(v, n) ORDER BY e.n) "
    "FROM registration.actors a WHERE a.tenant_id = $1 "
    "AND a.id > COALESCE($2::uuid, " ZERO_UUID ") "
    "AND ((a.contacts IS NOT NULL AND split_part(a.contacts, '.', 2)::bigint < $3::bigint) "
    "OR (a.contacts IS NULL AND a.contact_points <> '[]'::jsonb)) "
    "ORDER BY a.id LIMIT $4::int";
/* write back each row that still holds what was read */
static const char s_sql_write[] =
    "UPDATE registration.actors AS a SET contacts = v.sealed, "
    "contacts_fp = COALESCE(v.fp, a.contacts_fp), contact_points = '[]'::jsonb "
    "FROM unnest($2::uuid[], $3::text[], $4::text[], $5::bytea[]) AS v(id, old, sealed, fp) "
    "WHERE a.tenant_id = $1 AND a.id = v.id "
    "AND COALESCE(a.contacts, a.contact_points::text) = v.old";

static const char *const s_contact_kinds[] = {NULL, "email", "phone", "postal"};

typedef enum { S_IDLE, S_TENANTS, S_BATCH, S_WRITE, S_WAIT } s_state_t;

struct registration_rotate_t {
    uv_loop_t *loop;
    sp_db_t *db;
    sp_keyring_t *keys;
    int reload_ms;
    uv_timer_t timer;
    bool timer_open;
    s_state_t state;
    bool tx_running; /* a transaction's callback is still to come */
    bool orphan;     /* destroyed meanwhile: the callback frees */
    /* the rotation */
    sp_request_t *request;
    uint64_t correlation_id;
    unsigned batch;
    uint32_t key_id;
    bool key_created;
    uint64_t ready_ms;   /* a pass that finds nothing counts from then on */
    uint64_t started_ms; /* for the log */
    char **tenants;
    size_t ntenants, tenant; /* the tenant being scanned */
    char cursor[37];         /* last actor id of the tenant's previous batch */
    int passes;
    uint64_t resealed, found_in_pass, failed_in_pass, skipped_in_pass;
    uint64_t resealed_in_pass;
};

static void s_next_batch(registration_rotate_t *self);
static void s_pass(registration_rotate_t *self);

static uint64_t s_now_ms(const registration_rotate_t *self)
{
    return uv_now(self->loop);
}

registration_rotate_t *registration_rotate_new(uv_loop_t *loop, sp_db_t *db, sp_keyring_t *keys,
                                               int reload_ms)
{
    registration_rotate_t *self = calloc(1, sizeof *self);
    if (!self)
        return NULL;
    self->loop = loop;
    self->db = db;
    self->keys = keys;
    self->reload_ms = reload_ms > 0 ? reload_ms : 0;
    uv_timer_init(loop, &self->timer);
    self->timer.data = self;
    self->timer_open = true;
    return self;
}

bool registration_rotate_running(const registration_rotate_t *self)
{
    return self->request != NULL;
}

static void s_free_tenants(registration_rotate_t *self)
{
    for (size_t i = 0; i < self->ntenants; i++)
        free(self->tenants[i]);
    free(self->tenants);
    self->tenants = NULL;
    self->ntenants = self->tenant = 0;
}

/* Send the reply (result or error) and end the rotation. */
static void s_reply(registration_rotate_t *self, const sp_error_t *err)
{
    Samspil__V1__RegistrationReply reply = SAMSPIL__V1__REGISTRATION_REPLY__INIT;
    Samspil__V1__DataKeyRotation out = SAMSPIL__V1__DATA_KEY_ROTATION__INIT;
    Samspil__V1__Error pb;
    reply.correlation_id = self->correlation_id;
    uint64_t remaining = self->found_in_pass - self->resealed_in_pass;
    if (err && sp_error_is_set(err)) {
        sp_error_to_pb(err, &pb);
        reply.result_case = SAMSPIL__V1__REGISTRATION_REPLY__RESULT_ERROR;
        reply.error = &pb;
    } else {
        out.key_id = self->key_id;
        out.key_created = self->key_created;
        out.rows_resealed = self->resealed;
        out.rows_remaining = remaining;
        out.tenants = (uint32_t)self->ntenants;
        out.passes = (uint32_t)self->passes;
        reply.result_case = SAMSPIL__V1__REGISTRATION_REPLY__RESULT_DATA_KEY_ROTATION;
        reply.data_key_rotation = &out;
    }
    size_t len = samspil__v1__registration_reply__get_packed_size(&reply);
    uint8_t *buf = malloc(len ? len : 1);
    if (!buf)
        abort();
    samspil__v1__registration_reply__pack(&reply, buf);
    sp_request_reply(&self->request, buf, len);
    free(buf);
    sp_log_info("data key rotation finished", SP_LOG_INT("key_id", self->key_id),
                SP_LOG_STR("outcome", err ? sp_error_code_name(err->code) : "ok"),
                SP_LOG_INT("rows_resealed", self->resealed),
                SP_LOG_INT("rows_remaining", remaining), SP_LOG_INT("tenants", self->ntenants),
                SP_LOG_INT("passes", self->passes),
                SP_LOG_INT("duration_ms", s_now_ms(self) - self->started_ms), SP_LOG_END);
    s_free_tenants(self);
    self->state = S_IDLE;
}

static void s_fail(registration_rotate_t *self, const sp_db_tx_t *tx)
{
    sp_error_t err;
    if (tx && sp_db_tx_connection_failed(tx))
        sp_error_set(&err, SP_UNAVAILABLE, "",
                     "database unavailable; run data_key_rotate again with reseal_only");
    else
        sp_error_set(&err, SP_INTERNAL, "", "data key rotation failed; the service has logged it");
    if (tx)
        sp_log_warn("data key rotation transaction failed",
                    SP_LOG_STR("sqlstate", sp_db_tx_sqlstate(tx)), SP_LOG_END);
    s_reply(self, &err);
}

/* After a transaction: false (and the rotator freed) when it was destroyed
 * meanwhile; the caller must not touch it then. */
static bool s_alive(registration_rotate_t *self)
{
    self->tx_running = false;
    if (self->orphan) {
        if (!self->timer_open)
            free(self);
        return false;
    }
    return true;
}

static void s_run(registration_rotate_t *self, sp_db_tx_t *tx, sp_db_tx_done_fn *done)
{
    self->tx_running = true;
    sp_db_tx_run(tx, done, self);
}

/* ---------------------------------------------------------------- one pass */

static void s_on_tenants(sp_db_tx_t *tx, void *arg)
{
    registration_rotate_t *self = arg;
    if (!s_alive(self) || !self->request) {
        sp_db_tx_destroy(&tx);
        return;
    }
    if (!sp_db_tx_ok(tx)) {
        s_fail(self, tx);
        sp_db_tx_destroy(&tx);
        return;
    }
    const PGresult *r = sp_db_tx_result(tx, 0);
    s_free_tenants(self);
    int n = PQntuples(r);
    self->tenants = calloc((size_t)n + 1, sizeof *self->tenants);
    if (!self->tenants)
        abort();
    for (int i = 0; i < n; i++) {
        self->tenants[i] = strdup(PQgetvalue(r, i, 0));
        if (!self->tenants[i])
            abort();
    }
    self->ntenants = (size_t)n;
    self->tenant = 0;
    self->cursor[0] = '\0';
    sp_db_tx_destroy(&tx);
    s_next_batch(self);
}

/* Contact points from a legacy plain-text list, re-sealed with a
 * fingerprint.  Returns 0 or -1. */
static int s_seal_legacy(registration_rotate_t *self, const char *tenant, const char *id,
                         const char *array, registration_sealed_t *out)
{
    registration_arena_t arena;
    registration_arena_init(&arena);
    char **items = NULL;
    size_t n = 0;
    int rc = -1;
    if (registration_pg_array(&arena, array, &items, &n) == 0) {
        Samspil__V1__ContactPoint **cps =
            registration_arena_alloc(&arena, (n ? n : 1) * sizeof *cps);
        size_t k = 0;
        for (size_t i = 0; i < n; i++) {
            char *v = items[i] ? items[i] : (char *)"";
            char *c1 = strchr(v, ':');
            char *c2 = c1 ? strchr(c1 + 1, ':') : NULL;
            if (!c2)
                continue;
            *c1 = '\0';
            Samspil__V1__ContactPoint *cp = registration_arena_alloc(&arena, sizeof *cp);
            samspil__v1__contact_point__init(cp);
            for (int w = 1; w < 4; w++)
                if (strcmp(s_contact_kinds[w], v) == 0)
                    cp->kind = (Samspil__V1__ContactKind)w;
            cp->preferred = c1[1] == '1';
            cp->value = c2 + 1;
            cps[k++] = cp;
        }
        rc = registration_contacts_seal(self->keys, tenant, id, cps, k, out);
        if (rc == 0 && !out->sealed)
            rc = -1; /* an empty list is not written back as "none" here */
    }
    registration_arena_free(&arena);
    return rc;
}

static void s_on_write(sp_db_tx_t *tx, void *arg)
{
    registration_rotate_t *self = arg;
    if (!s_alive(self) || !self->request) {
        sp_db_tx_destroy(&tx);
        return;
    }
    if (!sp_db_tx_ok(tx)) {
        s_fail(self, tx);
        sp_db_tx_destroy(&tx);
        return;
    }
    const PGresult *r = sp_db_tx_result(tx, 1);
    uint64_t written = r ? strtoull(PQcmdTuples((PGresult *)r), NULL, 10) : 0;
    self->resealed += written;
    self->resealed_in_pass += written;
    sp_db_tx_destroy(&tx);
    s_next_batch(self);
}

static void s_on_batch(sp_db_tx_t *tx, void *arg)
{
    registration_rotate_t *self = arg;
    if (!s_alive(self) || !self->request) {
        sp_db_tx_destroy(&tx);
        return;
    }
    if (!sp_db_tx_ok(tx)) {
        s_fail(self, tx);
        sp_db_tx_destroy(&tx);
        return;
    }
    const char *tenant = self->tenants[self->tenant];
    const PGresult *r = sp_db_tx_result(tx, 1);
    int rows = r ? PQntuples(r) : 0;
    self->found_in_pass += (uint64_t)rows;
    if (rows < (int)self->batch) {
        self->tenant++; /* this tenant is done after this batch */
        self->cursor[0] = '\0';
    } else {
        snprintf(self->cursor, sizeof self->cursor, "%s", PQgetvalue(r, rows - 1, 0));
    }
    sp_buf_t ids, olds, sealed, fps;
    sp_buf_init(&ids);
    sp_buf_init(&olds);
    sp_buf_init(&sealed);
    sp_buf_init(&fps);
    int n = 0;
    for (int i = 0; i < rows; i++) {
        const char *id = PQgetvalue(r, i, 0);
        const char *old = PQgetvalue(r, i, 1);
        const char *value = PQgetvalue(r, i, 2);
        char *resealed = NULL;
        registration_sealed_t legacy = {0};
        int rc;
        if (*value)
            rc = registration_contacts_reseal(self->keys, tenant, id, value, &resealed);
        else
            rc = s_seal_legacy(self, tenant, id, PQgetvalue(r, i, 3), &legacy);
        if (rc != 0) {
            uint32_t key_id = 0;
            sp_seal_key_id(value, &key_id);
            sp_log_warn("could not re-seal contact points", SP_LOG_STR("tenant", tenant),
                        SP_LOG_STR("actor", id), SP_LOG_INT("key_id", key_id),
                        SP_LOG_STR("error", strerror(errno)), SP_LOG_END);
            self->failed_in_pass++;
            registration_sealed_clear(&legacy);
            continue;
        }
        registration_pg_array_append(&ids, id);
        registration_pg_array_append(&olds, old);
        registration_pg_array_append(&sealed, resealed ? resealed : legacy.sealed);
        registration_pg_array_append(&fps, legacy.fp[0] ? legacy.fp : NULL);
        free(resealed);
        registration_sealed_clear(&legacy);
        n++;
    }
    sp_db_tx_destroy(&tx);
    if (n == 0) {
        sp_buf_free(&ids);
        sp_buf_free(&olds);
        sp_buf_free(&sealed);
        sp_buf_free(&fps);
        s_next_batch(self);
        return;
    }
    sp_db_tx_t *wtx = sp_db_tx_new(self->db);
    const char *tp[1] = {tenant};
    sp_db_tx_add(wtx, s_sql_tenant, 1, tp);
    const char *p[5] = {tenant, registration_pg_array_end(&ids), registration_pg_array_end(&olds),
                        registration_pg_array_end(&sealed), registration_pg_array_end(&fps)};
    sp_db_tx_add(wtx, s_sql_write, 5, p); /* copies */
    sp_buf_free(&ids);
    sp_buf_free(&olds);
    sp_buf_free(&sealed);
    sp_buf_free(&fps);
    self->state = S_WRITE;
    s_run(self, wtx, s_on_write);
}

static void s_on_timer(uv_timer_t *timer)
{
    registration_rotate_t *self = timer->data;
    if (self->request)
        s_pass(self);
}

/* The pass is over: done, or another one (at once, or once the other
 * workers have had the time to load the key). */
static void s_end_of_pass(registration_rotate_t *self)
{
    bool clean = self->found_in_pass == 0;
    uint64_t now = s_now_ms(self);
    if ((clean && now >= self->ready_ms) || self->passes >= REGISTRATION_ROTATE_MAX_PASSES) {
        s_reply(self, NULL);
        return;
    }
    if (clean) {
        self->state = S_WAIT;
        uv_timer_start(&self->timer, s_on_timer, self->ready_ms - now, 0);
        return;
    }
    s_pass(self);
}

static void s_next_batch(registration_rotate_t *self)
{
    if (self->tenant >= self->ntenants) {
        s_end_of_pass(self);
        return;
    }
    const char *tenant = self->tenants[self->tenant];
    char key[16], limit[16];
    snprintf(key, sizeof key, "%u", self->key_id);
    snprintf(limit, sizeof limit, "%u", self->batch);
    sp_db_tx_t *tx = sp_db_tx_new(self->db);
    const char *tp[1] = {tenant};
    sp_db_tx_add(tx, s_sql_tenant, 1, tp);
    const char *p[4] = {tenant, self->cursor[0] ? self->cursor : NULL, key, limit};
    sp_db_tx_add(tx, s_sql_batch, 4, p);
    self->state = S_BATCH;
    s_run(self, tx, s_on_batch);
}

/* One scan over every tenant, under the current key. */
static void s_pass(registration_rotate_t *self)
{
    if (sp_keyring_stale(self->keys))
        (void)sp_keyring_load(self->keys); /* another worker may have rotated further */
    self->key_id = sp_keyring_current(self->keys);
    self->passes++;
    self->found_in_pass = self->failed_in_pass = self->resealed_in_pass = 0;
    sp_db_tx_t *tx = sp_db_tx_new(self->db);
    sp_db_tx_add(tx, s_sql_tenants, 0, NULL);
    self->state = S_TENANTS;
    s_run(self, tx, s_on_tenants);
}

int registration_rotate_start(registration_rotate_t *self, sp_request_t **request,
                              uint64_t correlation_id, bool new_key, unsigned batch,
                              sp_error_t *err)
{
    if (self->request || self->state != S_IDLE || self->tx_running)
        return sp_error_set(err, SP_FAILED_PRECONDITION, "op",
                            "a data key rotation is already running on this worker");
    uint32_t id = 0;
    if (new_key) {
        if (sp_keyring_rotate(self->keys, &id) != 0)
            return sp_error_set(err, SP_INTERNAL, "",
                                "could not create a data key; the service has logged it");
    } else {
        (void)sp_keyring_load(self->keys);
        id = sp_keyring_current(self->keys);
    }
    if (id == 0)
        return sp_error_set(err, SP_INTERNAL, "", "the service has no data key");
    self->request = *request;
    *request = NULL;
    self->correlation_id = correlation_id;
    self->batch = batch ? batch : 200;
    self->key_id = id;
    self->key_created = new_key;
    self->started_ms = s_now_ms(self);
    /* the other workers load a new key within reload_ms (and a margin) */
    self->ready_ms = self->started_ms + (new_key ? (uint64_t)self->reload_ms + 500 : 0);
    self->passes = 0;
    self->resealed = 0;
    sp_log_info("data key rotation started", SP_LOG_INT("key_id", id),
                SP_LOG_INT("key_created", new_key), SP_LOG_INT("batch", self->batch), SP_LOG_END);
    s_pass(self);
    return 0;
}

static void s_on_timer_closed(uv_handle_t *handle)
{
    registration_rotate_t *self = handle->data;
    self->timer_open = false;
    if (self->orphan && !self->tx_running)
        free(self);
}

void registration_rotate_stop(registration_rotate_t *self)
{
    if (!self)
        return;
    if (self->request) {
        sp_error_t err;
        sp_error_set(&err, SP_UNAVAILABLE, "",
                     "service is stopping; run data_key_rotate again with reseal_only");
        s_reply(self, &err);
    }
    if (self->timer_open && !uv_is_closing((uv_handle_t *)&self->timer))
        uv_close((uv_handle_t *)&self->timer, s_on_timer_closed);
}

void registration_rotate_destroy(registration_rotate_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    registration_rotate_t *self = *self_p;
    *self_p = NULL;
    registration_rotate_stop(self);
    self->orphan = true;
    /* freed now, or by the timer's close callback or the transaction's */
    if (!self->tx_running && !self->timer_open)
        free(self);
}
