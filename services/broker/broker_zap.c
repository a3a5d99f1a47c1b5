/*
 * broker_zap.c - ZAP handler thread: one REP socket, one control pipe.
 */
#include "broker_zap.h"
#include "broker_access.h"
#include "sp_log.h"
#include "sp_zmsg.h"

#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <zmq.h>

#define REFUSED_LOG_PER_SECOND 10

struct broker_zap_t {
    void *rep;         /* bound at BROKER_ZAP_ENDPOINT; used by the thread */
    void *pipe_thread; /* the thread's end of the control pipe */
    void *pipe_main;   /* ours */
    pthread_t thread;
    bool started;
    broker_zap_config_t config;
    atomic_bool running;
    atomic_uint_fast64_t accepted;
    atomic_uint_fast64_t refused;
    /* refused-handshake log rate limit (thread only) */
    time_t log_second;
    unsigned logged;
    unsigned suppressed;
};

long broker_zap_fault_exit_after(const char *fault)
{
    static const char name[] = "zap-exit-after=";
    if (!fault)
        return 0;
    const char *p = fault;
    while ((p = strstr(p, name)) != NULL) {
        if (p == fault || p[-1] == ',') {
            char *end;
            long n = strtol(p + sizeof name - 1, &end, 10);
            if (end != p + sizeof name - 1 && (*end == '\0' || *end == ',') && n > 0)
                return n;
            return 0;
        }
        p += sizeof name - 1;
    }
    return 0;
}

/* A frame of the request as a NUL-terminated string, cut to `outlen`. */
static const char *s_text(sp_frame_t frame, char *out, size_t outlen)
{
    size_t n = frame.size < outlen - 1 ? frame.size : outlen - 1;
    memcpy(out, frame.data, n);
    out[n] = '\0';
    for (size_t i = 0; i < n; i++)
        if ((unsigned char)out[i] < 0x20 || (unsigned char)out[i] > 0x7e)
            out[i] = '?';
    return out;
}

static bool s_may_log(broker_zap_t *self)
{
    time_t now = time(NULL);
    if (now != self->log_second) {
        if (self->suppressed)
            sp_log_warn("more connections refused without logging them",
                        SP_LOG_INT("count", self->suppressed), SP_LOG_END);
        self->log_second = now;
        self->logged = 0;
        self->suppressed = 0;
    }
    if (self->logged >= REFUSED_LOG_PER_SECOND) {
        self->suppressed++;
        return false;
    }
    self->logged++;
    return true;
}

/* Answer one ZAP request.  Returns 0, or -1 when the socket failed. */
static int s_answer(broker_zap_t *self)
{
    sp_zmsg_t msg;
    if (sp_zmsg_recv(&msg, self->rep, ZMQ_DONTWAIT) < 0)
        return errno == EAGAIN || errno == EINTR ? 0 : -1;
    sp_frame_t f[SP_ZMSG_MAX_FRAMES];
    size_t n = sp_zmsg_frames(&msg, f);
    const char *code = "400", *text = "not authorized", *reason = "malformed request";
    char user_id[SP_CURVE_KEY_Z85] = "";
    char key_text[SP_CURVE_KEY_Z85] = "";
    char domain[64] = "", address[64] = "", mechanism[16] = "";
    sp_frame_t request_id = n > 1 ? f[1] : (sp_frame_t){"", 0};
    if (n < 6 || msg.too_many || !sp_frame_equals(f[0], "1.0")) {
        code = "500";
        text = "malformed zap request";
    } else {
        s_text(f[2], domain, sizeof domain);
        s_text(f[3], address, sizeof address);
        s_text(f[5], mechanism, sizeof mechanism);
        if (!sp_frame_equals(f[5], "CURVE")) {
            reason = "mechanism is not CURVE";
        } else if (n != 7 || f[6].size != 32) {
            reason = "malformed curve credentials";
        } else {
            zmq_z85_encode(key_text, f[6].data, 32);
            broker_keys_refresh(self->config.keys);
            broker_key_t key = {.role = SAMSPIL__V1__ROLE__ROLE_UNSPECIFIED};
            broker_keys_status_t status = broker_keys_lookup(self->config.keys, key_text, &key);
            if (broker_access_zap(domain, status, key.role, &reason)) {
                code = "200";
                text = "OK";
                memcpy(user_id, key_text, sizeof user_id);
                sp_log_debug("connection accepted", SP_LOG_STR("domain", domain),
                             SP_LOG_STR("address", address), SP_LOG_STR("key_name", key.name),
                             SP_LOG_STR("role", broker_keys_role_word(key.role)), SP_LOG_END);
            }
        }
    }
    /* a public key is not a secret: operators need it to register a client */
    if (code[0] != '2' && s_may_log(self))
        sp_log_info("connection refused", SP_LOG_STR("reason", reason),
                    SP_LOG_STR("domain", domain), SP_LOG_STR("address", address),
                    SP_LOG_STR("mechanism", mechanism),
                    SP_LOG_STR("public_key", key_text[0] ? key_text : NULL), SP_LOG_END);
    if (code[0] == '2')
        atomic_fetch_add(&self->accepted, 1);
    else
        atomic_fetch_add(&self->refused, 1);
    sp_frame_t reply[] = {
        {"1.0", 3}, request_id, sp_frame_str(code), sp_frame_str(text), sp_frame_str(user_id),
        {"", 0},
    };
    int rc = sp_zsend(self->rep, reply, sizeof reply / sizeof reply[0], 0);
    sp_zmsg_close(&msg);
    return rc < 0 && errno != EINTR ? -1 : 0;
}

static void *s_run(void *arg)
{
    broker_zap_t *self = arg;
    bool stopped = false;
    long answered = 0;
    const char *why = "receive failed";
    for (;;) {
        zmq_pollitem_t items[] = {
            {self->rep, 0, ZMQ_POLLIN, 0},
            {self->pipe_thread, 0, ZMQ_POLLIN, 0},
        };
        if (zmq_poll(items, 2, -1) < 0) {
            if (errno == EINTR)
                continue;
            why = zmq_strerror(errno);
            break;
        }
        if (items[1].revents & ZMQ_POLLIN) {
            stopped = true;
            break;
        }
        if (items[0].revents & ZMQ_POLLIN) {
            if (s_answer(self) < 0) {
                why = zmq_strerror(errno);
                break;
            }
            answered++;
            if (self->config.exit_after > 0 && answered >= self->config.exit_after) {
                why = "fault injection: zap-exit-after";
                break;
            }
        }
    }
    if (!stopped) {
        /* leave the REP bound and unanswered: handshakes wait, none succeeds */
        atomic_store(&self->running, false);
        sp_log_error("zap handler stopped; no connection can be authenticated",
                     SP_LOG_STR("reason", why), SP_LOG_INT("answered", answered), SP_LOG_END);
        if (self->config.on_exit)
            self->config.on_exit(self->config.arg);
    }
    return NULL;
}

broker_zap_t *broker_zap_new(void *zmq_context, const broker_zap_config_t *config)
{
    broker_zap_t *self = calloc(1, sizeof *self);
    if (!self)
        return NULL;
    self->config = *config;
    atomic_init(&self->running, true);
    atomic_init(&self->accepted, 0);
    atomic_init(&self->refused, 0);
    char pipe_endpoint[64];
    snprintf(pipe_endpoint, sizeof pipe_endpoint, "inproc://samspil.zap.pipe.%p", (void *)self);
    int linger = 0;
    self->rep = zmq_socket(zmq_context, ZMQ_REP);
    self->pipe_thread = zmq_socket(zmq_context, ZMQ_PAIR);
    self->pipe_main = zmq_socket(zmq_context, ZMQ_PAIR);
    if (!self->rep || !self->pipe_thread || !self->pipe_main) {
        sp_log_error("could not create zap sockets", SP_LOG_STR("error", zmq_strerror(errno)),
                     SP_LOG_END);
        goto fail;
    }
    zmq_setsockopt(self->rep, ZMQ_LINGER, &linger, sizeof linger);
    zmq_setsockopt(self->pipe_thread, ZMQ_LINGER, &linger, sizeof linger);
    zmq_setsockopt(self->pipe_main, ZMQ_LINGER, &linger, sizeof linger);
    if (zmq_bind(self->rep, BROKER_ZAP_ENDPOINT) != 0) {
        sp_log_error("could not bind the zap handler", SP_LOG_STR("endpoint", BROKER_ZAP_ENDPOINT),
                     SP_LOG_STR("error", zmq_strerror(errno)), SP_LOG_END);
        goto fail;
    }
    if (zmq_bind(self->pipe_thread, pipe_endpoint) != 0 ||
        zmq_connect(self->pipe_main, pipe_endpoint) != 0) {
        sp_log_error("could not connect the zap control pipe",
                     SP_LOG_STR("error", zmq_strerror(errno)), SP_LOG_END);
        goto fail;
    }
    if (pthread_create(&self->thread, NULL, s_run, self) != 0) {
        sp_log_error("could not start the zap handler thread", SP_LOG_END);
        goto fail;
    }
    self->started = true;
    return self;
fail:
    if (self->rep)
        zmq_close(self->rep);
    if (self->pipe_thread)
        zmq_close(self->pipe_thread);
    if (self->pipe_main)
        zmq_close(self->pipe_main);
    free(self);
    return NULL;
}

void broker_zap_destroy(broker_zap_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    broker_zap_t *self = *self_p;
    if (self->started) {
        if (atomic_load(&self->running))
            zmq_send(self->pipe_main, "STOP", 4, 0);
        pthread_join(self->thread, NULL);
    }
    zmq_close(self->rep);
    zmq_close(self->pipe_thread);
    zmq_close(self->pipe_main);
    free(self);
    *self_p = NULL;
}

bool broker_zap_running(const broker_zap_t *self)
{
    return atomic_load(&((broker_zap_t *)self)->running);
}

void broker_zap_stats(const broker_zap_t *self, broker_zap_stats_t *out)
{
    broker_zap_t *s = (broker_zap_t *)self;
    out->accepted = atomic_load(&s->accepted);
    out->refused = atomic_load(&s->refused);
}
