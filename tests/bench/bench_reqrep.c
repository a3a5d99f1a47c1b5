/*
 * bench_reqrep.c - the baseline for bench_echo: a direct ZeroMQ REQ/REP
 * round trip over ipc between two processes (this one and a forked REP
 * server), one request in flight, with the same bytes bench_echo sends (a
 * packed EchoRequest with the same payload size).  The server echoes the
 * message back unchanged.
 *
 * Prints one line for tests/bench/run-bench.sh:
 *   rt_per_s=<v> p50_us=<v> p99_us=<v> count=<n> bytes=<request size>
 */
#include "bench_common.h"
#include "samspil/v1/broker.pb-c.h"

#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>
#include <zmq.h>

/* The REP side: echo every message until killed. */
static void s_server(const char *endpoint, int ready_fd)
{
    void *ctx = zmq_ctx_new();
    void *rep = zmq_socket(ctx, ZMQ_REP);
    if (zmq_bind(rep, endpoint) != 0) {
        fprintf(stderr, "bench_reqrep: could not bind %s: %s\n", endpoint,
                zmq_strerror(zmq_errno()));
        _exit(1);
    }
    if (write(ready_fd, "r", 1) != 1)
        _exit(1);
    close(ready_fd);
    zmq_msg_t msg;
    zmq_msg_init(&msg);
    for (;;) {
        if (zmq_msg_recv(&msg, rep, 0) < 0)
            break;
        if (zmq_msg_send(&msg, rep, 0) < 0)
            break;
    }
    _exit(0);
}

int main(int argc, char **argv)
{
    sp_option_t opts[] = {
        {.flag = "endpoint",
         .metavar = "ENDPOINT",
         .help = "ipc endpoint to bind the REP server on (required)"},
        bench_opt_seconds(),
        bench_opt_warmup("1"),
        bench_opt_size(),
    };
    const sp_program_info_t info = {
        .program = "bench_reqrep",
        .description = "Direct ZeroMQ REQ/REP round trips per second between two processes.",
    };
    size_t nopts = sizeof opts / sizeof opts[0];
    if (sp_config_parse(&info, opts, nopts, argc, argv, NULL, NULL) != 0)
        return 2;
    const char *endpoint = sp_config_find(opts, nopts, "endpoint")->value;
    int64_t seconds = sp_config_find(opts, nopts, "seconds")->int_value;
    int64_t warmup = sp_config_find(opts, nopts, "warmup")->int_value;
    long long size = sp_config_find(opts, nopts, "size")->int_value;
    if (!endpoint || seconds < 1 || size < 0 || size > 65536) {
        fprintf(stderr, "bench_reqrep: need --endpoint, seconds >= 1, size 0..65536\n");
        return 2;
    }

    int pipefd[2];
    if (pipe(pipefd) != 0)
        return 1;
    pid_t server = fork();
    if (server < 0)
        return 1;
    if (server == 0) {
        close(pipefd[0]);
        s_server(endpoint, pipefd[1]);
    }
    close(pipefd[1]);
    char ready;
    if (read(pipefd[0], &ready, 1) != 1) {
        fprintf(stderr, "bench_reqrep: server did not start\n");
        return 1;
    }
    close(pipefd[0]);

    void *ctx = zmq_ctx_new();
    void *req = zmq_socket(ctx, ZMQ_REQ);
    int linger = 0;
    zmq_setsockopt(req, ZMQ_LINGER, &linger, sizeof linger);
    int timeout = 5000;
    zmq_setsockopt(req, ZMQ_RCVTIMEO, &timeout, sizeof timeout);
    if (zmq_connect(req, endpoint) != 0) {
        fprintf(stderr, "bench_reqrep: could not connect %s\n", endpoint);
        kill(server, SIGTERM);
        return 1;
    }

    Samspil__V1__EchoRequest msg;
    uint8_t *payload = bench_echo_request_init(&msg, (size_t)size);
    static uint8_t buf[65600], in[65600];

    bench_lat_t lat;
    bench_lat_init(&lat);
    bench_window_t win = bench_window(warmup, seconds);
    size_t len = 0;
    uint64_t seq = 0;
    int failures = 0;
    for (;;) {
        int64_t sent = bench_now_us();
        if (sent >= win.t1)
            break;
        msg.correlation_id = ++seq;
        len = samspil__v1__echo_request__pack(&msg, buf);
        if (zmq_send(req, buf, len, 0) < 0) {
            failures++;
            break;
        }
        int got_len = zmq_recv(req, in, sizeof in, 0);
        int64_t got = bench_now_us();
        if (got_len != (int)len) {
            fprintf(stderr, "bench_reqrep: bad or missing reply\n");
            failures++;
            break;
        }
        if (sent >= win.t0)
            bench_lat_add(&lat, got - sent);
    }
    zmq_close(req);
    zmq_ctx_term(ctx);
    kill(server, SIGTERM);
    waitpid(server, NULL, 0);

    bench_print_round_trips(&lat, seconds, len);
    int rc = failures || !lat.n ? 1 : 0;
    bench_lat_free(&lat);
    free(payload);
    return rc;
}
