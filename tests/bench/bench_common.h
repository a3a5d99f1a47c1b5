/*
 * bench_common.h - what the benchmark programs in tests/bench share: their
 * common option rows, the monotonic clock, the measuring window after a
 * warm-up, latency samples with percentiles, and the EchoRequest and result
 * line of the two round-trip benchmarks (bench_echo, bench_reqrep).
 *
 * Header-only (static inline): the Makefile builds each .c file of
 * tests/bench as a program of its own.
 */
#ifndef BENCH_COMMON_H
#define BENCH_COMMON_H

#include "samspil/v1/broker.pb-c.h"
#include "sp_config.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* ------------------------------------------------------------ options */

/* --broker ENDPOINT (env SAMSPIL_BROKER); required, the program checks. */
static inline sp_option_t bench_opt_broker(void)
{
    return (sp_option_t){.flag = "broker",
                         .env = "SAMSPIL_BROKER",
                         .metavar = "ENDPOINT",
                         .help = "broker endpoint (required)"};
}

/* --seconds S, default 10: the measured duration. */
static inline sp_option_t bench_opt_seconds(void)
{
    return (sp_option_t){.flag = "seconds",
                         .type = SP_OPT_INT,
                         .metavar = "S",
                         .default_value = "10",
                         .help = "measured duration"};
}

/* --warmup S, default `default_value`: run before measuring. */
static inline sp_option_t bench_opt_warmup(const char *default_value)
{
    return (sp_option_t){.flag = "warmup",
                         .type = SP_OPT_INT,
                         .metavar = "S",
                         .default_value = default_value,
                         .help = "warm-up before measuring"};
}

/* --size BYTES, default 32: the payload size of an EchoRequest. */
static inline sp_option_t bench_opt_size(void)
{
    return (sp_option_t){.flag = "size",
                         .type = SP_OPT_INT,
                         .metavar = "BYTES",
                         .default_value = "32",
                         .help = "payload size"};
}

/* ------------------------------------------------------------ timing */

/* Monotonic clock in microseconds. */
static inline int64_t bench_now_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

/* The measured interval [t0, t1) on bench_now_us's clock. */
typedef struct {
    int64_t t0, t1;
} bench_window_t;

/* A window that opens `warmup` seconds from now and lasts `seconds`. */
static inline bench_window_t bench_window(int64_t warmup, int64_t seconds)
{
    bench_window_t w;
    w.t0 = bench_now_us() + warmup * 1000000;
    w.t1 = w.t0 + seconds * 1000000;
    return w;
}

/* ------------------------------------------------------------ latencies */

/* Latency samples in microseconds; a growable array. */
typedef struct {
    int64_t *v;
    size_t n, cap;
} bench_lat_t;

/* Start empty; aborts when out of memory. */
static inline void bench_lat_init(bench_lat_t *lat)
{
    lat->n = 0;
    lat->cap = 1 << 16;
    lat->v = malloc(lat->cap * sizeof *lat->v);
    if (!lat->v)
        abort();
}

/* Append one sample; aborts when out of memory. */
static inline void bench_lat_add(bench_lat_t *lat, int64_t us)
{
    if (lat->n == lat->cap) {
        lat->cap *= 2;
        lat->v = realloc(lat->v, lat->cap * sizeof *lat->v);
        if (!lat->v)
            abort();
    }
    lat->v[lat->n++] = us;
}

static inline int bench_lat_cmp(const void *a, const void *b)
{
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return x < y ? -1 : x > y;
}

/* Sort the samples; call once, before bench_lat_pct. */
static inline void bench_lat_sort(bench_lat_t *lat)
{
    qsort(lat->v, lat->n, sizeof *lat->v, bench_lat_cmp);
}

/* The `pct` percentile (0..100) of the sorted samples; 0 when there are none. */
static inline double bench_lat_pct(const bench_lat_t *lat, int pct)
{
    if (lat->n == 0)
        return 0;
    size_t i = lat->n * (size_t)pct / 100;
    return (double)lat->v[i < lat->n ? i : lat->n - 1];
}

static inline void bench_lat_free(bench_lat_t *lat)
{
    free(lat->v);
    lat->v = NULL;
    lat->n = lat->cap = 0;
}

/* ------------------------------------------------------------ round trips */

/* Set up `req` with a payload of `size` 'x' bytes (correlation id left 0).
 * Returns the payload (malloc'd; caller frees after the last pack). */
static inline uint8_t *bench_echo_request_init(Samspil__V1__EchoRequest *req, size_t size)
{
    uint8_t *payload = malloc(size + 1);
    if (!payload)
        abort();
    memset(payload, 'x', size);
    samspil__v1__echo_request__init(req);
    req->payload.data = payload;
    req->payload.len = size;
    return payload;
}

/* Sort `lat` and print the round-trip benchmarks' line for run-bench.sh:
 * rt_per_s=<v> p50_us=<v> p99_us=<v> count=<n> bytes=<request size>. */
static inline void bench_print_round_trips(bench_lat_t *lat, int64_t seconds, size_t bytes)
{
    bench_lat_sort(lat);
    printf("rt_per_s=%.1f p50_us=%.1f p99_us=%.1f count=%zu bytes=%zu\n",
           (double)lat->n / (double)seconds, bench_lat_pct(lat, 50), bench_lat_pct(lat, 99), lat->n,
           bytes);
}

#endif
