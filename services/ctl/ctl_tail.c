/*
 * ctl_tail.c - `samspilctl events tail` (see ctl_tail.h).
 *
 * Before the loop starts, mmi.service and one blocking ReplayRequest
 * (limit 1) to "samspil.events.<stream>" check that a publisher serves the
 * stream and that this principal may read it, so a misspelt stream or a refused key
 * ends with an error line and exit status instead of waiting forever.
 * Then an sp_subscriber follows the stream: it replays from --from (or
 * starts after the current head) and continues live, delivering each
 * matching event once and in sequence order.  Its position lives in memory
 * only; a new tail starts afresh.
 *
 * The subscriber is destroyed from a zero-delay timer, never from inside
 * its own apply callback.
 */
#include "ctl_tail.h"

#include "ctl_client.h"
#include "ctl_output.h"
#include "sp_subscriber.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zmq.h>

#define CTL_EVENTS_SERVICE_PREFIX "samspil.events."

typedef struct {
    uv_loop_t loop;
    uv_signal_t sigint, sigterm;
    uv_timer_t stop_timer;
    sp_subscriber_t *subscriber;
    uint64_t printed;   /* events written to stdout */
    uint64_t count;     /* stop after this many; 0: never */
    const char *tenant; /* --tenant: only this tenant (borrowed from the invocation) */
    bool stopping;
    int exit_code;
    sp_buf_t line;
} s_tail_t;

static void s_closed(uv_handle_t *handle)
{
    (void)handle; /* the handles live in s_tail_t, freed after the loop ends */
}

static void s_stop_cb(uv_timer_t *timer)
{
    s_tail_t *t = timer->data;
    sp_subscriber_destroy(&t->subscriber);
    uv_close((uv_handle_t *)&t->stop_timer, s_closed);
}

/* Stop after the current callback: close the signal handles now, the
 * subscriber from the timer. */
static void s_stop(s_tail_t *t, int exit_code)
{
    if (t->stopping)
        return;
    t->stopping = true;
    t->exit_code = exit_code;
    uv_close((uv_handle_t *)&t->sigint, s_closed);
    uv_close((uv_handle_t *)&t->sigterm, s_closed);
    uv_timer_start(&t->stop_timer, s_stop_cb, 0, 0);
}

static void s_signal_cb(uv_signal_t *handle, int signum)
{
    (void)signum;
    s_stop(handle->data, CTL_EXIT_OK);
}

static void s_apply(sp_subscriber_t *subscriber, const Samspil__V1__Event *event, void *arg)
{
    s_tail_t *t = arg;
    /* --tenant: an operator's replay returns every tenant; print only that one */
    bool wanted = !t->tenant || strcmp(event->tenant, t->tenant) == 0;
    if (!t->stopping && wanted) {
        sp_buf_reset(&t->line);
        ctl_output_event_line(&t->line, event);
        if (ctl_write(stdout, &t->line) < 0) {
            fprintf(stderr, CTL_PROGRAM ": could not write the output: %s\n", strerror(errno));
            s_stop(t, CTL_EXIT_REPLY);
        } else if (t->count && ++t->printed >= t->count) {
            s_stop(t, CTL_EXIT_OK);
        }
    }
    sp_subscriber_done(subscriber, event->seq, SP_APPLY_OK);
}

/* One ReplayRequest for a single event: is the stream served, and may this
 * principal read it?  Returns CTL_EXIT_OK or the exit status (reported). */
static int s_probe(const ctl_invocation_t *inv, const sp_curve_client_t *curve, const char *service)
{
    sp_client_t *client = ctl_connect(inv, curve);
    if (!client)
        return CTL_EXIT_UNAVAILABLE;
    uint8_t *answer = NULL;
    size_t len = 0;
    if (sp_client_call(client, "mmi.service", service, strlen(service), &answer, &len) < 0) {
        sp_client_destroy(&client);
        return ctl_call_failed(inv, "mmi.service");
    }
    bool served = len == 3 && memcmp(answer, "200", 3) == 0;
    free(answer);
    if (!served) {
        fprintf(stderr,
                CTL_PROGRAM ": no publisher of the stream %s is on the broker (no worker serves "
                            "%s)\n",
                inv->events.stream, service);
        sp_client_destroy(&client);
        return CTL_EXIT_UNAVAILABLE;
    }
    Samspil__V1__ReplayRequest req = SAMSPIL__V1__REPLAY_REQUEST__INIT;
    req.stream = (char *)inv->events.stream;
    req.from_seq = 1;
    req.limit = 1;
    req.type_prefix = (char *)inv->events.type_prefix;
    ProtobufCMessage *msg = NULL;
    int exit_code = CTL_EXIT_OK;
    if (sp_client_call_pb(client, service, &req.base, &samspil__v1__replay_reply__descriptor,
                          &msg) < 0) {
        exit_code = ctl_call_failed(inv, service);
    } else {
        const Samspil__V1__ReplayReply *reply = (const Samspil__V1__ReplayReply *)msg;
        if (reply->error && reply->error->code != SAMSPIL__V1__ERROR_CODE__ERROR_CODE_UNSPECIFIED)
            exit_code = ctl_error_reply(reply->error);
        protobuf_c_message_free_unpacked(msg, NULL);
    }
    sp_client_destroy(&client);
    return exit_code;
}

int ctl_tail_run(const ctl_invocation_t *inv, const sp_curve_client_t *curve)
{
    const ctl_events_opts_t *opts = &inv->events;
    char service[128];
    snprintf(service, sizeof service, CTL_EVENTS_SERVICE_PREFIX "%s", opts->stream);
    int probe = s_probe(inv, curve, service);
    if (probe != CTL_EXIT_OK)
        return probe;

    s_tail_t *t = calloc(1, sizeof *t);
    void *zctx = zmq_ctx_new();
    if (!t || !zctx)
        abort();
    sp_buf_init(&t->line);
    t->count = opts->count;
    t->tenant = inv->tenant;
    t->exit_code = CTL_EXIT_OK;
    uv_loop_init(&t->loop);
    uv_signal_init(&t->loop, &t->sigint);
    uv_signal_init(&t->loop, &t->sigterm);
    uv_timer_init(&t->loop, &t->stop_timer);
    t->sigint.data = t->sigterm.data = t->stop_timer.data = t;
    uv_signal_start(&t->sigint, s_signal_cb, SIGINT);
    uv_signal_start(&t->sigterm, s_signal_cb, SIGTERM);

    sp_subscriber_config_t config = {
        .stream = opts->stream,
        .type_prefix = opts->type_prefix,
        .events_endpoint = opts->endpoint,
        .broker_endpoint = inv->broker,
        .position = opts->has_from && opts->from > 0 ? opts->from - 1 : 0,
        .from_head = !opts->has_from,
        .replay_timeout_ms = inv->timeout_ms,
        .tenants = inv->tenant ? &inv->tenant : NULL,
        .ntenants = inv->tenant ? 1 : 0,
        .apply = s_apply,
        .arg = t,
        .curve = curve,
    };
    t->subscriber = sp_subscriber_new(&t->loop, zctx, &config);
    if (!t->subscriber || sp_subscriber_start(t->subscriber) < 0) {
        fprintf(stderr, CTL_PROGRAM ": could not follow the stream %s at %s\n", opts->stream,
                opts->endpoint);
        s_stop(t, CTL_EXIT_UNAVAILABLE);
    }
    uv_run(&t->loop, UV_RUN_DEFAULT);
    int exit_code = t->exit_code;
    if (uv_loop_close(&t->loop) != 0)
        fprintf(stderr, CTL_PROGRAM ": handles left open at exit\n");
    zmq_ctx_term(zctx);
    sp_buf_free(&t->line);
    free(t);
    return exit_code;
}
