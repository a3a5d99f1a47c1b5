/*
 * bench_register.c - end-to-end actor registrations per second: client ->
 * broker -> registration worker -> PostgreSQL commit -> reply, with a fixed
 * number of requests in flight on one client socket (pipelined, matched by
 * correlation id).  Each create has its own idempotency key and name.
 *
 * After a warm-up, counts the replies that arrive within --seconds and
 * prints one line for tests/bench/run-bench.sh:
 *   creates_per_s=<v> p50_ms=<v> p99_ms=<v> count=<n> errors=<n>
 * Exits 1 if any create failed or none succeeded.
 */
#include "../integration/reg_client.h"
#include "bench_common.h"

#include <stdlib.h>

typedef struct {
    uint64_t cid; /* 0: free */
    int64_t sent_at;
} slot_t;

int main(int argc, char **argv)
{
    sp_option_t opts[] = {
        bench_opt_broker(),
        {.flag = "tenant", .metavar = "CODE", .default_value = "147", .help = "tenant to use"},
        {.flag = "inflight",
         .type = SP_OPT_INT,
         .metavar = "N",
         .default_value = "32",
         .help = "requests in flight"},
        bench_opt_seconds(),
        bench_opt_warmup("2"),
    };
    const sp_program_info_t info = {
        .program = "bench_register",
        .description = "Actor creates per second through the broker and registration workers.",
    };
    size_t nopts = sizeof opts / sizeof opts[0];
    if (sp_config_parse(&info, opts, nopts, argc, argv, NULL, NULL) != 0)
        return 2;
    const char *broker = sp_config_find(opts, nopts, "broker")->value;
    const char *tenant = sp_config_find(opts, nopts, "tenant")->value;
    int inflight = (int)sp_config_find(opts, nopts, "inflight")->int_value;
    int64_t seconds = sp_config_find(opts, nopts, "seconds")->int_value;
    int64_t warmup = sp_config_find(opts, nopts, "warmup")->int_value;
    if (!broker || inflight < 1 || inflight > 1000 || seconds < 1) {
        fprintf(stderr, "bench_register: need --broker, 1..1000 in flight, seconds >= 1\n");
        return 2;
    }
    setenv("SAMSPIL_BROKER", broker, 1);
    sp_client_t *client = rc_client();
    if (rc_tenant_ensure(client, tenant, "Bench Kommune") != 0)
        return 1;

    slot_t *slots = calloc((size_t)inflight, sizeof *slots);
    bench_lat_t lat;
    bench_lat_init(&lat);
    uint64_t seq = 0;
    long long errors = 0, count = 0;
    char name[96], key[96];
    bench_window_t win = bench_window(warmup, seconds);
    int outstanding = 0;

    for (;;) {
        int64_t now = bench_now_us();
        bool sending = now < win.t1;
        for (int i = 0; sending && i < inflight; i++) {
            if (slots[i].cid)
                continue;
            seq++;
            snprintf(name, sizeof name, "Bench %s %llu", rc_nonce(), (unsigned long long)seq);
            snprintf(key, sizeof key, "bench-%s-%llu", rc_nonce(), (unsigned long long)seq);
            Samspil__V1__Actor a;
            rc_actor_init(&a, SAMSPIL__V1__ACTOR_KIND__ACTOR_KIND_CITIZEN, name);
            char *interests[] = {"skole"};
            a.n_interests = 1;
            a.interests = interests;
            a.preferred_language = "da";
            Samspil__V1__ActorCreate op = SAMSPIL__V1__ACTOR_CREATE__INIT;
            op.actor = &a;
            rc_req_t req = SAMSPIL__V1__REGISTRATION_REQUEST__INIT;
            req.tenant = (char *)tenant;
            req.idempotency_key = key;
            req.correlation_id = seq;
            req.op_case = SAMSPIL__V1__REGISTRATION_REQUEST__OP_ACTOR_CREATE;
            req.actor_create = &op;
            if (rc_send(client, &req) != 0) {
                fprintf(stderr, "bench_register: send failed\n");
                return 1;
            }
            slots[i].cid = seq;
            slots[i].sent_at = bench_now_us();
            outstanding++;
        }
        if (!sending && outstanding == 0)
            break;
        if (!sending && now > win.t1 + 30 * 1000000LL) {
            fprintf(stderr, "bench_register: %d replies never came\n", outstanding);
            errors += outstanding;
            break;
        }
        rc_reply_t *r = rc_recv(client, 1000);
        if (!r)
            continue;
        now = bench_now_us();
        for (int i = 0; i < inflight; i++) {
            if (slots[i].cid != r->correlation_id || !slots[i].cid)
                continue;
            int64_t us = now - slots[i].sent_at;
            bool measured = now >= win.t0 && now <= win.t1;
            slots[i].cid = 0;
            outstanding--;
            if (rc_code(r) != SP_OK) {
                if (errors++ < 5)
                    fprintf(stderr, "bench_register: %s\n", rc_describe(r));
            } else if (measured) {
                count++;
                bench_lat_add(&lat, us);
            }
            break;
        }
        rc_free(&r);
    }
    bench_lat_sort(&lat);
    /* throughput: replies that arrived within [t0, t1], in steady state */
    printf("creates_per_s=%.1f p50_ms=%.2f p99_ms=%.2f count=%lld errors=%lld\n",
           (double)count / (double)seconds, bench_lat_pct(&lat, 50) / 1000.0,
           bench_lat_pct(&lat, 99) / 1000.0, count, errors);
    bench_lat_free(&lat);
    free(slots);
    sp_client_destroy(&client);
    return errors || !count ? 1 : 0;
}
