/*
 * bench_echo.c - broker round trips per second with one request in flight:
 * client -> broker -> samspil.echo worker -> broker -> client, over the
 * suite's ipc endpoint, with a small EchoRequest body.
 *
 * Prints one line for tests/bench/run-bench.sh:
 *   rt_per_s=<v> p50_us=<v> p99_us=<v> count=<n> bytes=<request size>
 */
#include "bench_common.h"
#include "samspil/v1/broker.pb-c.h"
#include "sp_client.h"

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>

int main(int argc, char **argv)
{
    sp_option_t opts[] = {
        bench_opt_broker(),
        bench_opt_seconds(),
        bench_opt_warmup("1"),
        bench_opt_size(),
    };
    const sp_program_info_t info = {
        .program = "bench_echo",
        .description = "Round trips per second through the broker to samspil.echo, one in flight.",
    };
    size_t nopts = sizeof opts / sizeof opts[0];
    if (sp_config_parse(&info, opts, nopts, argc, argv, NULL, NULL) != 0)
        return 2;
    const char *broker = sp_config_find(opts, nopts, "broker")->value;
    int64_t seconds = sp_config_find(opts, nopts, "seconds")->int_value;
    int64_t warmup = sp_config_find(opts, nopts, "warmup")->int_value;
    long long size = sp_config_find(opts, nopts, "size")->int_value;
    if (!broker || seconds < 1 || size < 0 || size > 65536) {
        fprintf(stderr, "bench_echo: need --broker, seconds >= 1, size 0..65536\n");
        return 2;
    }
    sp_client_t *client = sp_client_new(broker);
    if (!client) {
        fprintf(stderr, "bench_echo: could not connect to \"%s\"\n", broker);
        return 1;
    }
    Samspil__V1__EchoRequest req;
    uint8_t *payload = bench_echo_request_init(&req, (size_t)size);
    uint8_t buf[65600];

    bench_lat_t lat;
    bench_lat_init(&lat);
    bench_window_t win = bench_window(warmup, seconds);
    uint64_t seq = 0;
    size_t len = 0;
    int failures = 0;
    for (;;) {
        int64_t sent = bench_now_us();
        if (sent >= win.t1)
            break;
        req.correlation_id = ++seq;
        len = samspil__v1__echo_request__pack(&req, buf);
        if (sp_client_send(client, "samspil.echo", buf, len) != 0) {
            failures++;
            break;
        }
        uint8_t *reply = NULL;
        size_t reply_len = 0;
        if (sp_client_recv(client, 5000, &reply, &reply_len) != 0) {
            fprintf(stderr, "bench_echo: no reply within 5 s\n");
            failures++;
            break;
        }
        int64_t got = bench_now_us();
        Samspil__V1__EchoReply *r = samspil__v1__echo_reply__unpack(NULL, reply_len, reply);
        bool ok = r && !r->error && r->correlation_id == seq && r->payload.len == (size_t)size;
        if (r)
            samspil__v1__echo_reply__free_unpacked(r, NULL);
        free(reply);
        if (!ok) {
            fprintf(stderr, "bench_echo: bad reply to %llu\n", (unsigned long long)seq);
            failures++;
            break;
        }
        if (sent >= win.t0)
            bench_lat_add(&lat, got - sent);
    }
    bench_print_round_trips(&lat, seconds, len);
    int rc = failures || !lat.n ? 1 : 0;
    bench_lat_free(&lat);
    free(payload);
    sp_client_destroy(&client);
    return rc;
}
