/*
 * bench_echo.c - broker round trips per second with one request in flight:
 * client -> broker -> samspil.echo worker -> broker -> client, over the
 * suite's ipc endpoint, with a small EchoRequest body.
 *
 * Prints one line for tests/bench/run-bench.sh:
 *   rt_per_s=<v> p50_us=<v> p99_us=<v> count=<n> bytes=<request size>
 */
#include "sp_client.h"
#include "samspil/v1/broker.pb-c.h"
#include "sp_config.h"

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static int64_t s_now_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

static int s_cmp(const void *a, const void *b)
{
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return x < y ? -1 : x > y;
}

static double s_pct(const int64_t *v, size_t n, int pct)
{
    if (n == 0)
        return 0;
    size_t i = n * (size_t)pct / 100;
    return (double)v[i < n ? i : n - 1];
}

int main(int argc, char **argv)
{
    sp_option_t opts[] = {
        {.flag = "broker",
         .env = "SAMSPIL_BROKER",
         .metavar = "ENDPOINT",
         .help = "broker endpoint (required)"},
        {.flag = "seconds",
         .type = SP_OPT_INT,
         .metavar = "S",
         .default_value = "10",
         .help = "measured duration"},
        {.flag = "warmup",
         .type = SP_OPT_INT,
         .metavar = "S",
         .default_value = "1",
         .help = "warm-up before measuring"},
        {.flag = "size",
         .type = SP_OPT_INT,
         .metavar = "BYTES",
         .default_value = "32",
         .help = "payload size"},
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
    uint8_t *payload = malloc((size_t)size + 1);
    memset(payload, 'x', (size_t)size);
    Samspil__V1__EchoRequest req = SAMSPIL__V1__ECHO_REQUEST__INIT;
    req.payload.data = payload;
    req.payload.len = (size_t)size;
    uint8_t buf[65600];

    size_t cap = 1 << 18, n = 0;
    int64_t *lat = malloc(cap * sizeof *lat);
    int64_t t0 = s_now_us() + warmup * 1000000, t1 = t0 + seconds * 1000000;
    uint64_t seq = 0;
    size_t len = 0;
    int failures = 0;
    for (;;) {
        int64_t sent = s_now_us();
        if (sent >= t1)
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
        int64_t got = s_now_us();
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
        if (sent >= t0) {
            if (n == cap) {
                cap *= 2;
                lat = realloc(lat, cap * sizeof *lat);
            }
            lat[n++] = got - sent;
        }
    }
    qsort(lat, n, sizeof *lat, s_cmp);
    printf("rt_per_s=%.1f p50_us=%.1f p99_us=%.1f count=%zu bytes=%zu\n",
           (double)n / (double)seconds, s_pct(lat, n, 50), s_pct(lat, n, 99), n, len);
    free(lat);
    free(payload);
    sp_client_destroy(&client);
    return failures || !n ? 1 : 0;
}
