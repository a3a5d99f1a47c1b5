/*
 * fuzz_mdp.c - libFuzzer target: the MDP/0.1 client and SPW01 worker codecs
 * (common/sp_mdp.c) on frames split from the input (tests/fuzz/fuzz_input.h),
 * and the worker side of a REQUEST: the principal frame decoded as
 * sp_worker.c does it and checked with sp_principal.
 *
 * Beyond memory safety it checks what the parsers promise: a parsed view
 * points into the caller's frames and has the documented shape, every
 * failure has a reason, service names follow the rule, request ids round
 * trip, and a principal acts only for the tenants it lists.
 */
#include "fuzz_input.h"
#include "sp_mdp.h"
#include "sp_principal.h"
#include "sp_zmsg.h"

#include "samspil/v1/common.pb-c.h"

#include <stdint.h>
#include <string.h>

/* The service-name rule written out again, independently of sp_mdp.c. */
static int s_name_ok(sp_frame_t name)
{
    if (name.size < 1 || name.size > SP_MDP_MAX_SERVICE_NAME)
        return 0;
    for (size_t i = 0; i < name.size; i++)
        if (!strchr("abcdefghijklmnopqrstuvwxyz0123456789._-", ((const char *)name.data)[i]) ||
            ((const char *)name.data)[i] == '\0')
            return 0;
    return 1;
}

static void s_check_why(int rc, const char *why)
{
    if (rc == 0)
        return;
    FZ_CHECK(why != NULL && why[0] != '\0');
    for (const char *p = why; *p; p++)
        FZ_CHECK((unsigned char)*p >= 0x20 && (unsigned char)*p < 0x7f);
}

static void s_client(const sp_frame_t *frames, size_t count)
{
    sp_mdpc_t c;
    const char *why = NULL;
    int rc = sp_mdpc_parse(frames, count, &c, &why);
    s_check_why(rc, why);
    if (rc < 0)
        return;
    FZ_CHECK(count >= 4);
    FZ_CHECK(frames[0].size == 0);
    FZ_CHECK(sp_frame_equals(frames[1], SP_MDP_CLIENT));
    FZ_CHECK(s_name_ok(c.service));
    FZ_CHECK(c.body == &frames[3] && c.nbody == count - 3);
}

static void s_principal(sp_frame_t frame)
{
    if (frame.size > SP_MDP_MAX_FRAME_SIZE)
        return;
    Samspil__V1__Principal *p = samspil__v1__principal__unpack(NULL, frame.size, frame.data);
    if (!p)
        return;
    /* a tenant the principal does not list, unless it acts for all */
    static const char *const probes[] = {"101", "751", "", "*"};
    for (size_t k = 0; k < sizeof probes / sizeof probes[0]; k++) {
        bool listed = false;
        for (size_t i = 0; i < p->n_tenants; i++)
            if (p->tenants[i] && strcmp(p->tenants[i], probes[k]) == 0)
                listed = true;
        bool may = sp_principal_may_act_for(p, probes[k]);
        if (probes[k][0] == '\0')
            FZ_CHECK(!may);
        else
            FZ_CHECK(may == (p->all_tenants || listed));
        bool sees = sp_principal_sees_restricted(p, probes[k]);
        FZ_CHECK(!sees || (may && (p->role == SP_ROLE_OPERATOR || p->role == SP_ROLE_FACILITATOR)));
    }
    for (size_t i = 0; i < p->n_tenants; i++)
        FZ_CHECK(!p->tenants[i][0] || sp_principal_may_act_for(p, p->tenants[i]));
    FZ_CHECK(!sp_principal_has_role(p, 0));
    FZ_CHECK(sp_principal_has_role(p, SP_ROLES_ALL) ==
             (p->role >= SP_ROLE_OPERATOR && p->role <= SP_ROLE_READER));
    FZ_CHECK(sp_role_name(p->role) != NULL);
    samspil__v1__principal__free_unpacked(p, NULL);
}

static void s_worker(const sp_frame_t *frames, size_t count)
{
    sp_mdpw_t w;
    const char *why = NULL;
    int rc = sp_mdpw_parse(frames, count, &w, &why);
    s_check_why(rc, why);
    if (rc < 0)
        return;
    FZ_CHECK(count >= 3 && frames[0].size == 0 && sp_frame_equals(frames[1], SP_MDP_WORKER));
    uint64_t id = 0;
    uint8_t again[SP_MDP_REQUEST_ID_SIZE];
    switch (w.command) {
    case SP_MDPW_READY:
        FZ_CHECK(count == 5);
        FZ_CHECK(w.credit >= 1 && w.credit <= SP_MDP_MAX_CREDIT);
        FZ_CHECK(s_name_ok(w.service));
        break;
    case SP_MDPW_REQUEST:
    case SP_MDPW_REPLY:
        FZ_CHECK(count >= 6);
        FZ_CHECK(w.request_id.size == SP_MDP_REQUEST_ID_SIZE);
        FZ_CHECK(sp_mdp_request_id_decode(w.request_id, &id) == 0);
        sp_mdp_request_id_encode(id, again);
        FZ_CHECK(memcmp(again, w.request_id.data, SP_MDP_REQUEST_ID_SIZE) == 0);
        FZ_CHECK(w.body == &frames[5] && w.nbody == count - 5);
        if (w.command == SP_MDPW_REQUEST)
            s_principal(w.principal);
        else
            FZ_CHECK(frames[4].size == 0);
        break;
    case SP_MDPW_HEARTBEAT:
    case SP_MDPW_DISCONNECT:
        FZ_CHECK(count == 3);
        break;
    default:
        FZ_CHECK(!"parsed an unknown command");
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    fz_input_t in;
    fz_init(&in, data, size);
    fz_message_t msg;
    while (fz_message(&in, SP_ZMSG_MAX_FRAMES, &msg)) {
        for (size_t i = 0; i < msg.count; i++) {
            FZ_CHECK(sp_mdp_service_name_ok(msg.frames[i]) == s_name_ok(msg.frames[i]));
            uint64_t id;
            if (sp_mdp_request_id_decode(msg.frames[i], &id) == 0)
                FZ_CHECK(msg.frames[i].size == SP_MDP_REQUEST_ID_SIZE);
        }
        /* as the broker sees them (after the ROUTER identity) and as a
         * DEALER worker or client sees them */
        s_client(msg.frames, msg.count);
        s_worker(msg.frames, msg.count);
        if (msg.count > 0) {
            s_client(msg.frames + 1, msg.count - 1);
            s_worker(msg.frames + 1, msg.count - 1);
        }
        fz_message_free(&msg);
    }
    fz_message_free(&msg);
    return 0;
}

/* --- seeds */

static void s_seed(const char *dir, const char *name, const char *const *frames, size_t n)
{
    sp_buf_t buf;
    sp_buf_init(&buf);
    for (size_t i = 0; i < n; i++)
        fz_put_str(&buf, frames[i]);
    fz_write_seed(dir, name, &buf);
    sp_buf_free(&buf);
}

static void s_seed_request(const char *dir)
{
    Samspil__V1__Principal p = SAMSPIL__V1__PRINCIPAL__INIT;
    char *tenants[] = {"101", "751"};
    p.client_id = "fuzz";
    p.role = SP_ROLE_FACILITATOR;
    p.tenants = tenants;
    p.n_tenants = 2;
    uint8_t packed[128];
    size_t len = samspil__v1__principal__pack(&p, packed);
    sp_buf_t buf;
    sp_buf_init(&buf);
    fz_put_str(&buf, "");
    fz_put_str(&buf, SP_MDP_WORKER);
    fz_put_frame(&buf, "\x02", 1);
    fz_put_frame(&buf, "\0\0\0\0\0\0\0\x07", 8);
    fz_put_frame(&buf, packed, len);
    fz_put_str(&buf, "body");
    fz_write_seed(dir, "worker-request", &buf);
    sp_buf_free(&buf);
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    const char *dir = fz_seed_dir();
    if (!dir)
        return 0;
    const char *client[] = {"", SP_MDP_CLIENT, "samspil.registration", "body"};
    s_seed(dir, "client-request", client, 4);
    const char *mmi[] = {"id", "", SP_MDP_CLIENT, "mmi.service", "samspil.echo"};
    s_seed(dir, "client-mmi-routed", mmi, 5);
    const char *ready[] = {"", SP_MDP_WORKER, "\x01", "samspil.echo", "100"};
    s_seed(dir, "worker-ready", ready, 5);
    const char *hb[] = {"", SP_MDP_WORKER, "\x04"};
    s_seed(dir, "worker-heartbeat", hb, 3);
    const char *bye[] = {"wid", "", SP_MDP_WORKER, "\x05"};
    s_seed(dir, "worker-disconnect-routed", bye, 4);
    sp_buf_t buf;
    sp_buf_init(&buf);
    fz_put_str(&buf, "");
    fz_put_str(&buf, SP_MDP_WORKER);
    fz_put_frame(&buf, "\x03", 1);
    fz_put_frame(&buf, "\0\0\0\0\0\0\0\x01", 8);
    fz_put_str(&buf, "");
    fz_put_str(&buf, "reply");
    fz_write_seed(dir, "worker-reply", &buf);
    sp_buf_free(&buf);
    s_seed_request(dir);
    exit(0);
}
