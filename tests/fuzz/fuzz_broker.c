/*
 * fuzz_broker.c - libFuzzer target: the broker's handling of every message
 * its ROUTER socket receives, from classification to routing state.
 *
 * The input starts with one byte (bit 0: development mode, no keys), then
 * a sequence of messages (tests/fuzz/fuzz_input.h), each preceded by two
 * bytes: a control byte (bits 0-6 advance the clock by that many 50 ms
 * steps, bit 7 runs broker_core_tick afterwards) and the sender (the ZAP
 * User-Id libzmq attaches: none, or the public key of an operator, an
 * integrator, a service, a revoked service key, an unknown key; from a real
 * key registry file written at start).  A message is what the ROUTER hands
 * services/broker/main.c: identity | "" | header | ... (at most
 * SP_ZMSG_MAX_FRAMES frames; more set `truncated`, as sp_zmsg_recv does).
 * It is classified and acted on the way main.c's s_on_readable, s_on_client
 * and s_on_worker do - sp_mdpc_parse / sp_mdpw_parse,
 * broker_core_check_body, broker_principal_lookup, broker_access_may_register,
 * broker_mmi_answer, broker_core_request / ready / heartbeat / disconnect /
 * reply - with the send callbacks recording instead of sending (the
 * samspil.keys service itself is in fuzz_keys.c).  A worker whose identity starts with 0xEE cannot
 * be sent a request, one starting with 0xEF cannot be sent a command (the core's "unreachable"
 * paths).  At the end the broker shuts down as on SIGTERM.
 *
 * Checked: only a valid key's messages reach the core, only a service key
 * (or development mode) registers a worker, and the principal frame a
 * request carries is its key's (name, role, tenants).  After every message:
 * the core holds exactly the payloads it was given and has not released or
 * returned (no leak, no double release, no
 * use after release: payloads carry a magic and are heap blocks);
 * queued + in flight over all services is the request count; no service
 * has waiting requests while one of its workers has free credit; packed
 * replies (ErrorReply, BrokerStatus) decode again.
 *
 * Keep in step with services/broker/main.c when its message handling
 * changes.
 */
#include "broker_access.h"
#include "broker_core.h"
#include "broker_keys.h"
#include "broker_mmi.h"
#include "broker_principal.h"
#include "fuzz_input.h"
#include "sp_mdp.h"
#include "sp_zmsg.h"

#include "samspil/v1/broker.pb-c.h"
#include "samspil/v1/common.pb-c.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define PAYLOAD_MAGIC 0x5350504cu /* "SPPL" */

#define WORKER_NO_REQUESTS 0xEE
#define WORKER_NO_COMMANDS 0xEF

/* The key registry every run looks keys up in (written once, at start). */
enum { WHO_NONE, WHO_OPERATOR, WHO_INTEGRATOR, WHO_SERVICE, WHO_REVOKED, WHO_UNKNOWN, WHO_COUNT };
static broker_keys_t *s_keys;
static broker_principal_t *s_keyed;
static broker_principal_t *s_development;
static broker_key_t s_who[WHO_COUNT];

/* A client request held by the core (main.c: broker_request_t). */
typedef struct {
    uint32_t magic;
    size_t identity_size;
    uint8_t *identity;
    char service[SP_MDP_MAX_SERVICE_NAME + 1];
} fz_payload_t;

typedef struct {
    broker_core_t *core;
    size_t live;      /* payloads handed to the core and not yet given back */
    size_t requests;  /* REQUESTs sent to workers */
    size_t errors;    /* errors sent to clients */
    sp_buf_t scratch; /* reply bodies */
} fz_broker_t;

static void s_check_error_reply(const sp_buf_t *buf)
{
    Samspil__V1__ErrorReply *reply =
        samspil__v1__error_reply__unpack(NULL, buf->len, (const uint8_t *)buf->data);
    FZ_CHECK(reply != NULL && reply->error != NULL);
    FZ_CHECK(reply->error->code != SAMSPIL__V1__ERROR_CODE__ERROR_CODE_UNSPECIFIED);
    FZ_CHECK(reply->error->message[0] != '\0');
    samspil__v1__error_reply__free_unpacked(reply, NULL);
}

static fz_payload_t *s_payload(void *payload)
{
    fz_payload_t *p = payload;
    FZ_CHECK(p != NULL && p->magic == PAYLOAD_MAGIC);
    return p;
}

static void s_payload_free(fz_broker_t *b, fz_payload_t *p)
{
    FZ_CHECK(b->live > 0);
    b->live--;
    p->magic = 0;
    free(p->identity);
    free(p);
}

/* --- the core's callbacks */

static int s_send_request(void *arg, sp_frame_t worker, uint64_t id, void *payload)
{
    fz_broker_t *b = arg;
    s_payload(payload);
    FZ_CHECK(id != 0);
    if (worker.size > 0 && ((const uint8_t *)worker.data)[0] == WORKER_NO_REQUESTS)
        return -1;
    b->requests++;
    FZ_TRACE("request %llu sent\n", (unsigned long long)id);
    return 0;
}

static int s_send_command(void *arg, sp_frame_t worker, int command)
{
    (void)arg;
    FZ_CHECK(command == SP_MDPW_HEARTBEAT || command == SP_MDPW_DISCONNECT);
    if (worker.size > 0 && ((const uint8_t *)worker.data)[0] == WORKER_NO_COMMANDS)
        return -1;
    return 0;
}

static void s_send_error(void *arg, void *payload, sp_error_code_t code, const char *message)
{
    fz_broker_t *b = arg;
    s_payload(payload);
    FZ_CHECK(code != SP_OK && message && message[0]);
    broker_mmi_error_reply(code, NULL, message, &b->scratch);
    s_check_error_reply(&b->scratch);
    b->errors++;
    FZ_TRACE("error to client: %s\n", message);
}

static void s_release(void *arg, void *payload)
{
    s_payload_free(arg, s_payload(payload));
}

static void s_worker_gone(void *arg, sp_frame_t worker, sp_frame_t service, const char *reason,
                          size_t requeued)
{
    (void)arg;
    (void)worker;
    FZ_TRACE("worker gone (%s), %zu requeued\n", reason, requeued);
    FZ_CHECK(sp_mdp_service_name_ok(service));
    FZ_CHECK(reason && reason[0]);
}

static const broker_core_ops_t s_ops = {
    .send_request = s_send_request,
    .send_command = s_send_command,
    .send_error = s_send_error,
    .release = s_release,
    .worker_gone = s_worker_gone,
};

/* --- invariants */

typedef struct {
    size_t queued;
    size_t in_flight;
    size_t services;
} fz_totals_t;

static void s_stat(const broker_core_service_stat_t *stat, void *arg)
{
    fz_totals_t *t = arg;
    FZ_CHECK(sp_mdp_service_name_ok(stat->name));
    FZ_CHECK(stat->name.size < 4 || memcmp(stat->name.data, "mmi.", 4) != 0 || stat->workers == 0);
    /* dispatch leaves nothing waiting while a worker could take it */
    FZ_CHECK(stat->queued == 0 || stat->credit == 0);
    FZ_CHECK(stat->credit <= (uint64_t)stat->workers * SP_MDP_MAX_CREDIT);
    t->queued += stat->queued;
    t->in_flight += stat->in_flight;
    t->services++;
}

static void s_check(fz_broker_t *b)
{
    fz_totals_t t = {0};
    broker_core_foreach_service(b->core, s_stat, &t);
    FZ_CHECK(t.services == broker_core_service_count(b->core));
    FZ_CHECK(t.queued + t.in_flight == broker_core_request_count(b->core));
    FZ_CHECK(b->live == broker_core_request_count(b->core));
}

/* --- main.c's message handling */

/* The principal of a message from `who`, as main.c looks it up. */
static broker_keys_status_t s_lookup(broker_principal_t *principal, int who, sp_frame_t *packed,
                                     Samspil__V1__Role *role)
{
    const char *user_id = who == WHO_NONE ? NULL : s_who[who].public_key;
    broker_keys_status_t status = broker_principal_lookup(principal, user_id, packed, role);
    if (broker_principal_development_mode(principal)) {
        FZ_CHECK(status == BROKER_KEYS_VALID);
    } else {
        FZ_CHECK(status == (who == WHO_REVOKED                      ? BROKER_KEYS_REVOKED
                            : who == WHO_UNKNOWN || who == WHO_NONE ? BROKER_KEYS_UNKNOWN
                                                                    : BROKER_KEYS_VALID));
    }
    if (status == BROKER_KEYS_VALID) {
        /* the principal frame a worker will get */
        Samspil__V1__Principal *p =
            samspil__v1__principal__unpack(NULL, packed->size, packed->data);
        FZ_CHECK(p != NULL);
        if (!broker_principal_development_mode(principal)) {
            const broker_key_t *k = &s_who[who];
            FZ_CHECK(strcmp(p->client_id, k->name) == 0 && p->role == k->role && *role == k->role);
            FZ_CHECK(p->all_tenants == k->all_tenants && p->n_tenants == k->ntenants);
            for (size_t i = 0; i < p->n_tenants; i++)
                FZ_CHECK(strcmp(p->tenants[i], k->tenants[i]) == 0);
        } else {
            FZ_CHECK(p->role == SAMSPIL__V1__ROLE__ROLE_OPERATOR && p->all_tenants);
        }
        samspil__v1__principal__free_unpacked(p, NULL);
    }
    return status;
}

static void s_on_client(fz_broker_t *b, broker_principal_t *principal, int who,
                        const sp_frame_t *frames, size_t count, bool truncated, uint64_t now)
{
    bool development_mode = broker_principal_development_mode(principal);
    sp_mdpc_t mdpc;
    const char *why = NULL;
    if (sp_mdpc_parse(frames + 1, count - 1, &mdpc, &why) < 0) {
        FZ_CHECK(why && why[0]);
        FZ_TRACE("client message dropped: %s\n", why);
        return; /* dropped and logged */
    }
    sp_error_t err;
    if (broker_core_check_body(mdpc.body, mdpc.nbody, truncated, &err) < 0) {
        FZ_CHECK(err.code == SP_INVALID_ARGUMENT && strcmp(err.field, "body") == 0);
        broker_mmi_error_reply(err.code, err.field, err.message, &b->scratch);
        s_check_error_reply(&b->scratch);
        return;
    }
    FZ_CHECK(!truncated && mdpc.nbody <= BROKER_CORE_MAX_BODY_FRAMES);
    /* who is asking: looked up for every message */
    sp_frame_t packed;
    Samspil__V1__Role role = SAMSPIL__V1__ROLE__ROLE_UNSPECIFIED;
    if (s_lookup(principal, who, &packed, &role) != BROKER_KEYS_VALID) {
        broker_mmi_error_reply(SP_PERMISSION_DENIED, NULL, "client is not authenticated",
                               &b->scratch);
        s_check_error_reply(&b->scratch);
        FZ_TRACE("client refused: key not valid\n");
        return;
    }
    if (sp_frame_equals(mdpc.service, "samspil.keys"))
        return; /* the key registry service: fuzz_keys.c */
    if (broker_mmi_is_mmi(mdpc.service)) {
        broker_mmi_answer(b->core, development_mode, mdpc.service, mdpc.body, mdpc.nbody,
                          &b->scratch);
        if (sp_frame_equals(mdpc.service, "mmi.status")) {
            Samspil__V1__BrokerStatus *status = samspil__v1__broker_status__unpack(
                NULL, b->scratch.len, (const uint8_t *)b->scratch.data);
            FZ_CHECK(status != NULL);
            FZ_CHECK(status->n_services == broker_core_service_count(b->core));
            FZ_CHECK(status->development_mode == development_mode);
            samspil__v1__broker_status__free_unpacked(status, NULL);
        } else if (sp_frame_equals(mdpc.service, "mmi.service")) {
            FZ_CHECK(strcmp(b->scratch.data, "200") == 0 || strcmp(b->scratch.data, "404") == 0);
        } else {
            FZ_CHECK(strcmp(b->scratch.data, "501") == 0);
        }
        return;
    }
    fz_payload_t *p = calloc(1, sizeof *p);
    if (!p)
        abort();
    p->magic = PAYLOAD_MAGIC;
    p->identity_size = frames[0].size;
    p->identity = malloc(frames[0].size ? frames[0].size : 1);
    if (!p->identity)
        abort();
    memcpy(p->identity, frames[0].data, frames[0].size);
    memcpy(p->service, mdpc.service.data, mdpc.service.size);
    size_t bytes = sizeof *p;
    for (size_t i = 0; i < mdpc.nbody; i++)
        bytes += mdpc.body[i].size;
    b->live++;
    uint64_t id = broker_core_request(b->core, mdpc.service, p, bytes, now);
    FZ_TRACE("client request: id %llu\n", (unsigned long long)id);
}

static void s_on_worker(fz_broker_t *b, broker_principal_t *principal, int who,
                        const sp_frame_t *frames, size_t count, bool truncated, uint64_t now)
{
    sp_mdpw_t cmd;
    const char *why = NULL;
    if (sp_mdpw_parse(frames + 1, count - 1, &cmd, &why) < 0) {
        FZ_CHECK(why && why[0]);
        FZ_TRACE("worker message dropped: %s\n", why);
        return;
    }
    if (truncated && cmd.command != SP_MDPW_REPLY)
        return;
    sp_frame_t worker = frames[0];
    /* workers authenticate too: only a valid service key may register */
    sp_frame_t packed;
    Samspil__V1__Role role = SAMSPIL__V1__ROLE__ROLE_UNSPECIFIED;
    if (s_lookup(principal, who, &packed, &role) != BROKER_KEYS_VALID) {
        FZ_TRACE("worker command refused: key not valid\n");
        return;
    }
    bool development_mode = broker_principal_development_mode(principal);
    if (cmd.command == SP_MDPW_READY && !development_mode && !broker_access_may_register(role)) {
        FZ_CHECK(who != WHO_SERVICE);
        FZ_TRACE("READY refused: not a service key\n");
        return;
    }
    if (cmd.command == SP_MDPW_READY)
        FZ_CHECK(development_mode || who == WHO_SERVICE);
    switch (cmd.command) {
    case SP_MDPW_READY:
        FZ_TRACE("ready: result %d\n",
                 (int)broker_core_ready(b->core, worker, cmd.service, cmd.credit, now));
        break;
    case SP_MDPW_HEARTBEAT:
        broker_core_heartbeat(b->core, worker, now);
        break;
    case SP_MDPW_DISCONNECT:
        broker_core_disconnect(b->core, worker, now);
        break;
    case SP_MDPW_REPLY: {
        uint64_t id = 0;
        void *payload = NULL;
        FZ_CHECK(sp_mdp_request_id_decode(cmd.request_id, &id) == 0);
        broker_core_result_t rc = broker_core_reply(b->core, worker, id, now, &payload);
        FZ_TRACE("reply %llu: result %d\n", (unsigned long long)id, (int)rc);
        if (rc == BROKER_CORE_OK) {
            fz_payload_t *p = s_payload(payload);
            FZ_CHECK(sp_mdp_service_name_ok(sp_frame_str(p->service)));
            if (truncated) { /* answered with an error in place of the reply */
                broker_mmi_error_reply(SP_INTERNAL, NULL, "worker reply has too many frames",
                                       &b->scratch);
                s_check_error_reply(&b->scratch);
            }
            s_payload_free(b, p);
        } else {
            FZ_CHECK(payload == NULL);
        }
        break;
    }
    default: /* REQUEST from a worker: dropped */
        FZ_CHECK(cmd.command == SP_MDPW_REQUEST);
        break;
    }
}

static void s_on_message(fz_broker_t *b, const fz_message_t *msg, broker_principal_t *principal,
                         int who, uint64_t now)
{
    const sp_frame_t *frames = msg->frames;
    size_t count = msg->count;
    if (count < 3)
        return; /* "message too short" */
    if (sp_frame_equals(frames[2], SP_MDP_CLIENT))
        s_on_client(b, principal, who, frames, count, msg->too_many, now);
    else if (sp_frame_equals(frames[2], SP_MDP_WORKER))
        s_on_worker(b, principal, who, frames, count, msg->too_many, now);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    fz_input_t in;
    fz_init(&in, data, size);
    fz_broker_t b = {0};
    sp_buf_init(&b.scratch);
    /* small limits, so that the fuzzer reaches the refusals */
    broker_core_config_t config = {
        .heartbeat_ms = 1000,
        .liveness = 3,
        .unavailable_ms = 3000,
        .max_queue = 6,
        .max_bytes = 4096,
        .max_attempts = 2,
        .first_id = 1,
    };
    b.core = broker_core_new(&config, &s_ops, &b);
    FZ_CHECK(b.core != NULL);
    broker_principal_t *principal = (fz_byte(&in) & 1) ? s_development : s_keyed;
    uint64_t now = 1000;
    while (!fz_done(&in)) {
        uint8_t control = fz_byte(&in);
        int who = fz_byte(&in) % WHO_COUNT;
        now += (uint64_t)(control & 0x7f) * 50;
        fz_message_t msg;
        fz_message(&in, SP_ZMSG_MAX_FRAMES, &msg);
        s_on_message(&b, &msg, principal, who, now);
        fz_message_free(&msg);
        s_check(&b);
        if (control & 0x80) {
            FZ_TRACE("tick at %llu\n", (unsigned long long)now);
            broker_core_tick(b.core, now);
            s_check(&b);
        }
    }
    broker_core_shutdown(b.core);
    FZ_CHECK(broker_core_request_count(b.core) == 0 && b.live == 0);
    FZ_CHECK(broker_core_worker_count(b.core) == 0);
    broker_core_destroy(&b.core);
    FZ_CHECK(b.core == NULL && b.live == 0);
    sp_buf_free(&b.scratch);
    return 0;
}

/* --- the key registry */

static void s_add_key(int who, const char *name, Samspil__V1__Role role, const char *tenant)
{
    broker_key_t *k = &s_who[who];
    sp_curve_client_t pair;
    memset(&pair, 0, sizeof pair);
    FZ_CHECK(sp_curve_keypair(&pair) == 0);
    memset(k, 0, sizeof *k);
    memcpy(k->public_key, pair.public_key, SP_CURVE_KEY_Z85);
    snprintf(k->name, sizeof k->name, "%s", name);
    k->role = role;
    if (tenant) {
        snprintf(k->tenants[0], sizeof k->tenants[0], "%s", tenant);
        k->ntenants = 1;
    }
    if (who == WHO_UNKNOWN)
        return; /* never registered */
    sp_error_t err;
    FZ_CHECK(broker_keys_create(s_keys, k, k, &err) == 0);
    if (who == WHO_REVOKED)
        FZ_CHECK(broker_keys_revoke(s_keys, k->name, NULL, k, &err) == 0);
}

/* A registry file in a fresh temporary directory (removed at exit), with
 * one key of each kind the messages come from. */
static char s_registry_dir[256];

static void s_registry_cleanup(void)
{
    char path[320];
    broker_principal_destroy(&s_keyed);
    broker_principal_destroy(&s_development);
    broker_keys_destroy(&s_keys);
    snprintf(path, sizeof path, "%s/%s", s_registry_dir, BROKER_KEYS_FILE);
    unlink(path);
    snprintf(path, sizeof path, "%s/%s.lock", s_registry_dir, BROKER_KEYS_FILE);
    unlink(path);
    rmdir(s_registry_dir);
}

static void s_registry_init(void)
{
    const char *tmp = getenv("TMPDIR");
    snprintf(s_registry_dir, sizeof s_registry_dir, "%s/samspil-fuzz-keys-XXXXXX",
             tmp && *tmp ? tmp : "/tmp");
    FZ_CHECK(mkdtemp(s_registry_dir) != NULL);
    char path[320];
    snprintf(path, sizeof path, "%s/%s", s_registry_dir, BROKER_KEYS_FILE);
    s_keys = broker_keys_new(path);
    FZ_CHECK(s_keys != NULL);
    s_add_key(WHO_OPERATOR, "fuzz-operator", SAMSPIL__V1__ROLE__ROLE_OPERATOR, NULL);
    s_add_key(WHO_INTEGRATOR, "fuzz-integrator", SAMSPIL__V1__ROLE__ROLE_INTEGRATOR, "101");
    s_add_key(WHO_SERVICE, "fuzz-service", SAMSPIL__V1__ROLE__ROLE_SERVICE, NULL);
    s_add_key(WHO_REVOKED, "fuzz-revoked", SAMSPIL__V1__ROLE__ROLE_SERVICE, NULL);
    s_add_key(WHO_UNKNOWN, "fuzz-unknown", SAMSPIL__V1__ROLE__ROLE_SERVICE, NULL);
    s_keyed = broker_principal_new(s_keys);
    s_development = broker_principal_new_development();
    FZ_CHECK(s_keyed && s_development);
    atexit(s_registry_cleanup);
}

/* --- seeds */

static void s_put_client(sp_buf_t *out, uint8_t control, const char *identity, const char *service,
                         const char *body)
{
    fz_put_byte(out, control);
    fz_put_byte(out, WHO_INTEGRATOR);
    fz_put_str(out, identity);
    fz_put_str(out, "");
    fz_put_str(out, SP_MDP_CLIENT);
    fz_put_str(out, service);
    fz_put_str(out, body);
    fz_put_end(out);
}

static void s_put_worker(sp_buf_t *out, uint8_t control, const char *identity, uint8_t command,
                         const char *arg1, const char *arg2)
{
    fz_put_byte(out, control);
    fz_put_byte(out, WHO_SERVICE);
    fz_put_str(out, identity);
    fz_put_str(out, "");
    fz_put_str(out, SP_MDP_WORKER);
    fz_put_frame(out, &command, 1);
    if (command == SP_MDPW_READY) {
        fz_put_str(out, arg1);
        fz_put_str(out, arg2);
    } else if (command == SP_MDPW_REPLY) {
        uint8_t id[SP_MDP_REQUEST_ID_SIZE];
        sp_mdp_request_id_encode(strtoull(arg1, NULL, 10), id);
        fz_put_frame(out, id, sizeof id);
        fz_put_str(out, "");
        fz_put_str(out, arg2);
    }
    fz_put_end(out);
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    fz_trace_init();
    s_registry_init();
    const char *dir = fz_seed_dir();
    if (!dir)
        return 0;
    sp_buf_t s;
    sp_buf_init(&s);

    /* a worker serves two requests, one waits, the worker leaves */
    fz_put_byte(&s, 1);
    s_put_worker(&s, 0, "w1", SP_MDPW_READY, "samspil.echo", "2");
    s_put_client(&s, 0, "c1", "samspil.echo", "one");
    s_put_client(&s, 0, "c2", "samspil.echo", "two");
    s_put_client(&s, 0, "c3", "samspil.echo", "three");
    s_put_worker(&s, 1, "w1", SP_MDPW_REPLY, "1", "one back");
    s_put_worker(&s, 0, "w1", SP_MDPW_HEARTBEAT, NULL, NULL);
    s_put_worker(&s, 0, "w1", SP_MDPW_DISCONNECT, NULL, NULL);
    s_put_worker(&s, 0, "w1", SP_MDPW_REPLY, "2", "two back");
    s_put_worker(&s, 0x85, "w1", SP_MDPW_REPLY, "3", "three back");
    fz_write_seed(dir, "serve-and-leave", &s);

    /* a request waits for a worker that never comes; mmi answers */
    sp_buf_reset(&s);
    fz_put_byte(&s, 0);
    s_put_client(&s, 0, "c1", "samspil.registration", "x");
    s_put_client(&s, 0, "c1", "mmi.service", "samspil.registration");
    s_put_client(&s, 0, "c1", "mmi.status", "");
    s_put_client(&s, 0, "c1", "mmi.nothing", "");
    s_put_client(&s, 0xff, "c1", "mmi.status", "");
    fz_write_seed(dir, "unavailable-and-mmi", &s);

    /* a worker dies holding requests: requeue to the second, then abandon */
    sp_buf_reset(&s);
    fz_put_byte(&s, 1);
    s_put_worker(&s, 0, "w1", SP_MDPW_READY, "samspil.registration", "5");
    s_put_worker(&s, 0, "w2", SP_MDPW_READY, "samspil.registration", "1");
    s_put_client(&s, 0, "c1", "samspil.registration", "a");
    s_put_client(&s, 0, "c2", "samspil.registration", "b");
    s_put_worker(&s, 0, "w2", SP_MDPW_READY, "samspil.registration", "1");
    for (int i = 0; i < 4; i++)
        s_put_worker(&s, 0xa0, "w1", SP_MDPW_HEARTBEAT, NULL, NULL);
    s_put_client(&s, 0xff, "c3", "mmi.status", "");
    fz_write_seed(dir, "requeue-and-expire", &s);

    /* unreachable workers, a full queue, too many frames */
    sp_buf_reset(&s);
    fz_put_byte(&s, 0);
    s_put_worker(&s, 0,
                 "\xee"
                 "dead",
                 SP_MDPW_READY, "samspil.echo", "3");
    s_put_worker(&s, 0,
                 "\xef"
                 "mute",
                 SP_MDPW_READY, "samspil.echo", "1");
    for (int i = 0; i < 8; i++)
        s_put_client(&s, 0, "c1", "samspil.echo", "queued");
    fz_put_byte(&s, 0);
    fz_put_byte(&s, WHO_OPERATOR);
    fz_put_str(&s, "c9");
    fz_put_str(&s, "");
    fz_put_str(&s, SP_MDP_CLIENT);
    fz_put_str(&s, "samspil.echo");
    for (int i = 0; i < 14; i++)
        fz_put_str(&s, "f");
    fz_put_end(&s);
    s_put_worker(&s, 0xa0,
                 "\xef"
                 "mute",
                 SP_MDPW_HEARTBEAT, NULL, NULL);
    fz_write_seed(dir, "unreachable-and-full", &s);

    /* malformed messages */
    sp_buf_reset(&s);
    fz_put_byte(&s, 0);
    s_put_worker(&s, 0, "w1", SP_MDPW_READY, "mmi.service", "1");
    s_put_worker(&s, 0, "w1", SP_MDPW_READY, "Bad Name", "1");
    s_put_worker(&s, 0, "w1", SP_MDPW_READY, "samspil.echo", "0");
    s_put_worker(&s, 0, "w9", SP_MDPW_REPLY, "1", "x");
    s_put_client(&s, 0, "c1", "", "x");
    fz_put_byte(&s, 0);
    fz_put_byte(&s, WHO_UNKNOWN);
    fz_put_str(&s, "c1");
    fz_put_end(&s);
    fz_write_seed(dir, "malformed", &s);

    sp_buf_free(&s);
    exit(0);
}
