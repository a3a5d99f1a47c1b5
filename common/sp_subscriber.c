/*
 * sp_subscriber.c - follow one event stream: a SUB socket on the broker's
 * events-out endpoint for live events, a DEALER socket speaking MDP/0.1 to
 * the broker for replay requests, and one apply at a time from a queue.
 *
 * The sequencing decisions (apply, drop, catch up) are sp_event_seq.c; this
 * file does the sockets, the queue and the timers.  Queue items are live
 * events (unpacked one by one), events of a replay reply (which share the
 * unpacked reply, freed with its last item), and jumps (the position moves
 * past events the publisher's filter left out).
 */
#include "sp_subscriber.h"
#include "sp_error.h"
#include "sp_event_seq.h"
#include "sp_event_wire.h"
#include "sp_log.h"
#include "sp_mdp.h"
#include "sp_outbox.h"
#include "sp_zmsg.h"
#include "sp_zpoll.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zmq.h>

#define S_REPLAY_BATCH_DEFAULT 500
#define S_REPLAY_TIMEOUT_DEFAULT 3000
#define S_LIVE_QUEUE_MAX 10000
#define S_RETRY_MS 200
#define S_NO_PROGRESS_MS 500
#define S_UNAVAILABLE_MS 1000
#define S_REFUSED_MS 5000
#define S_RCVHWM 1000000
#define S_STATS_MS 60000

typedef struct {
    Samspil__V1__ReplayReply *reply;
    size_t refs;
} s_batch_t;

typedef struct s_item {
    struct s_item *next;
    uint64_t seq;
    Samspil__V1__Event *event; /* NULL: a jump */
    s_batch_t *batch;          /* the reply `event` belongs to, or NULL (owned event) */
    bool apply;                /* the type matches the prefix */
} s_item_t;

struct sp_subscriber_t {
    uv_loop_t *loop;
    void *ctx;
    char *stream;
    char *prefix;
    size_t prefix_len;
    char *events_endpoint;
    char *broker_endpoint;
    char *service;        /* samspil.events.<stream> */
    char *topic;          /* <stream>/ */
    char **tenant_topics; /* <stream>/<tenant>/ each, then <stream>//; NULL: topic only */
    size_t ntopics;
    unsigned replay_batch;
    int replay_timeout_ms;
    sp_subscriber_apply_fn *apply;
    void *arg;
    sp_curve_client_t curve;

    sp_event_seq_t seq;
    void *sub;
    sp_zpoll_t *sub_poll;
    void *dealer;
    sp_zpoll_t *dealer_poll;

    uv_timer_t replay_timer; /* outstanding request's timeout, or the wait before the next */
    uv_timer_t retry_timer;  /* an apply that asked to be retried */
    uv_timer_t stats_timer;
    int handles;
    bool started, closing;

    bool outstanding; /* a replay request is waiting for its reply */
    bool waiting;     /* replay_timer is a wait before asking again */
    bool caught_up_logged;
    uint64_t asked_from;
    unsigned attempts; /* timed out in a row */
    unsigned refusals; /* answered with an error in a row */

    s_item_t *head, *tail;
    size_t queued;
    s_item_t *current; /* handed to apply, done not yet reported */
    bool pumping;
    bool retrying; /* retry_timer runs for `current` */

    uint64_t applied, duplicates, replays, dropped, skipped, applied_logged;
};

static void s_pump(sp_subscriber_t *self);

static char *s_strdup(const char *s)
{
    char *copy = strdup(s ? s : "");
    if (!copy)
        abort();
    return copy;
}

static void s_item_free(s_item_t *item)
{
    if (item->batch) {
        if (--item->batch->refs == 0) {
            samspil__v1__replay_reply__free_unpacked(item->batch->reply, NULL);
            free(item->batch);
        }
    } else if (item->event) {
        samspil__v1__event__free_unpacked(item->event, NULL);
    }
    free(item);
}

static void s_enqueue(sp_subscriber_t *self, uint64_t seq, Samspil__V1__Event *event,
                      s_batch_t *batch)
{
    s_item_t *item = calloc(1, sizeof *item);
    if (!item)
        abort();
    item->seq = seq;
    item->event = event;
    item->batch = batch;
    if (batch)
        batch->refs++;
    item->apply = event && event->type && strncmp(event->type, self->prefix, self->prefix_len) == 0;
    if (self->tail)
        self->tail->next = item;
    else
        self->head = item;
    self->tail = item;
    self->queued++;
}

/* --- replay requests */

static void s_dealer_close(sp_subscriber_t *self)
{
    sp_zpoll_destroy(&self->dealer_poll);
    if (self->dealer)
        zmq_close(self->dealer);
    self->dealer = NULL;
}

static void s_on_dealer(void *socket, void *arg);

static int s_dealer_open(sp_subscriber_t *self)
{
    void *socket = zmq_socket(self->ctx, ZMQ_DEALER);
    if (!socket) {
        sp_log_error("could not create replay socket", SP_LOG_STR("error", zmq_strerror(errno)),
                     SP_LOG_END);
        return -1;
    }
    int linger = 0;
    int64_t maxmsg = SP_MDP_MAX_FRAME_SIZE + 4096;
    zmq_setsockopt(socket, ZMQ_LINGER, &linger, sizeof linger);
    zmq_setsockopt(socket, ZMQ_MAXMSGSIZE, &maxmsg, sizeof maxmsg);
    if (sp_curve_client_apply(&self->curve, socket) != 0 ||
        zmq_connect(socket, self->broker_endpoint) < 0) {
        sp_log_error("could not connect replay socket",
                     SP_LOG_STR("endpoint", self->broker_endpoint),
                     SP_LOG_STR("error", zmq_strerror(errno)), SP_LOG_END);
        zmq_close(socket);
        return -1;
    }
    self->dealer_poll = sp_zpoll_new(self->loop, socket, s_on_dealer, self);
    if (!self->dealer_poll) {
        zmq_close(socket);
        return -1;
    }
    self->dealer = socket;
    return 0;
}

static void s_on_replay_timer(uv_timer_t *timer);

static void s_wait_then_replay(sp_subscriber_t *self, int ms)
{
    self->waiting = true;
    uv_timer_start(&self->replay_timer, s_on_replay_timer, (uint64_t)ms, 0);
}

/* Send a replay request if the state machine wants one and nothing stops it. */
static void s_maybe_replay(sp_subscriber_t *self)
{
    uint64_t from;
    if (self->closing || !self->started || self->outstanding || self->waiting ||
        self->queued >= self->replay_batch || !sp_event_seq_want_replay(&self->seq, &from))
        return;
    if (!self->dealer && s_dealer_open(self) != 0) {
        s_wait_then_replay(self, S_UNAVAILABLE_MS);
        return;
    }
    Samspil__V1__ReplayRequest req = SAMSPIL__V1__REPLAY_REQUEST__INIT;
    req.stream = self->stream;
    req.from_seq = from;
    req.limit = from == SP_EVENT_SEQ_HEAD_PROBE ? 1 : self->replay_batch;
    req.type_prefix = self->prefix;
    uint8_t packed[512];
    size_t len = samspil__v1__replay_request__get_packed_size(&req);
    if (len > sizeof packed)
        abort(); /* stream and prefix lengths are checked in sp_subscriber_new */
    samspil__v1__replay_request__pack(&req, packed);
    sp_frame_t frames[4] = {
        {"", 0},
        sp_frame_str(SP_MDP_CLIENT),
        sp_frame_str(self->service),
        {packed, len},
    };
    if (sp_zsend(self->dealer, frames, 4, ZMQ_DONTWAIT) < 0) {
        sp_log_warn("could not send replay request", SP_LOG_STR("stream", self->stream),
                    SP_LOG_STR("error", zmq_strerror(errno)), SP_LOG_END);
        s_dealer_close(self);
        s_wait_then_replay(self, S_UNAVAILABLE_MS);
        return;
    }
    sp_zpoll_kick(self->dealer_poll);
    self->outstanding = true;
    self->asked_from = from;
    self->replays++;
    uv_timer_start(&self->replay_timer, s_on_replay_timer, (uint64_t)self->replay_timeout_ms, 0);
    if (from != SP_EVENT_SEQ_HEAD_PROBE)
        sp_log_debug("replay requested", SP_LOG_STR("stream", self->stream),
                     SP_LOG_INT("from_seq", from), SP_LOG_INT("head", self->seq.head), SP_LOG_END);
}

static void s_on_replay_timer(uv_timer_t *timer)
{
    sp_subscriber_t *self = timer->data;
    if (self->closing)
        return;
    if (self->waiting) {
        self->waiting = false;
        s_maybe_replay(self);
        return;
    }
    if (!self->outstanding)
        return;
    /* Lazy Pirate: a fresh socket, so a late reply cannot be mistaken */
    self->outstanding = false;
    self->attempts++;
    if (self->attempts == 1 || self->attempts % 10 == 0)
        sp_log_warn("replay request timed out; retrying", SP_LOG_STR("stream", self->stream),
                    SP_LOG_STR("service", self->service), SP_LOG_INT("attempts", self->attempts),
                    SP_LOG_INT("timeout_ms", self->replay_timeout_ms), SP_LOG_END);
    s_dealer_close(self);
    s_maybe_replay(self);
}

static void s_on_reply(sp_subscriber_t *self, Samspil__V1__ReplayReply *reply)
{
    self->outstanding = false;
    uv_timer_stop(&self->replay_timer);
    if (self->attempts) {
        sp_log_info("replay answered again", SP_LOG_STR("stream", self->stream),
                    SP_LOG_INT("attempts", self->attempts), SP_LOG_END);
        self->attempts = 0;
    }
    if (reply->error && reply->error->code != SP_OK) {
        sp_error_code_t code = reply->error->code;
        if (++self->refusals == 1 || self->refusals % 60 == 0)
            sp_log_warn("replay refused; asking again later", SP_LOG_STR("stream", self->stream),
                        SP_LOG_STR("code", sp_error_code_name(code)),
                        SP_LOG_STR("field", reply->error->field),
                        SP_LOG_INT("refusals", self->refusals), SP_LOG_END);
        samspil__v1__replay_reply__free_unpacked(reply, NULL);
        s_wait_then_replay(self, code == SP_UNAVAILABLE ? S_UNAVAILABLE_MS : S_REFUSED_MS);
        return;
    }
    if (self->refusals) {
        sp_log_info("replay answered after refusals", SP_LOG_STR("stream", self->stream),
                    SP_LOG_INT("refusals", self->refusals), SP_LOG_END);
        self->refusals = 0;
    }
    s_batch_t *batch = calloc(1, sizeof *batch);
    if (!batch)
        abort();
    batch->reply = reply;
    batch->refs = 1; /* held until the end of this function */
    size_t accepted = 0;
    for (size_t i = 0; i < reply->n_events; i++) {
        Samspil__V1__Event *event = reply->events[i];
        if (!event || event->seq == 0 || strcmp(event->stream, self->stream) != 0)
            continue;
        if (sp_event_seq_replay_event(&self->seq, event->seq) == SP_SEQ_ACCEPT) {
            s_enqueue(self, event->seq, event, batch);
            accepted++;
        } else {
            self->duplicates++;
        }
    }
    bool probe = self->asked_from == SP_EVENT_SEQ_HEAD_PROBE;
    uint64_t jump = sp_event_seq_replay_end(&self->seq, reply->head_seq, reply->scanned_to);
    if (jump)
        s_enqueue(self, jump, NULL, NULL);
    if (--batch->refs == 0) {
        samspil__v1__replay_reply__free_unpacked(reply, NULL);
        free(batch);
    }
    if (probe)
        sp_log_info("subscriber starts after the head", SP_LOG_STR("stream", self->stream),
                    SP_LOG_INT("head", self->seq.head), SP_LOG_END);
    sp_log_debug("replay received", SP_LOG_STR("stream", self->stream),
                 SP_LOG_INT("events", accepted), SP_LOG_INT("accepted_to", self->seq.accepted),
                 SP_LOG_INT("head", self->seq.head), SP_LOG_END);
    if (self->seq.replaying && !probe && self->seq.accepted < self->asked_from)
        s_wait_then_replay(self, S_NO_PROGRESS_MS); /* nothing new yet: do not spin */
    s_pump(self);
}

static void s_on_dealer(void *socket, void *arg)
{
    sp_subscriber_t *self = arg;
    sp_zmsg_t msg;
    if (sp_zmsg_recv(&msg, socket, ZMQ_DONTWAIT) < 0)
        return;
    sp_frame_t frames[SP_ZMSG_MAX_FRAMES];
    size_t count = sp_zmsg_frames(&msg, frames);
    sp_mdpc_t parsed;
    const char *why = NULL;
    if (msg.too_many)
        why = "too many frames";
    else if (sp_mdpc_parse(frames, count, &parsed, &why) < 0)
        ; /* why is set */
    else if (parsed.nbody != 1)
        why = "not one body frame";
    else if (!sp_frame_equals(parsed.service, self->service))
        why = "reply from another service";
    if (why) {
        sp_log_warn("dropped malformed replay reply", SP_LOG_STR("stream", self->stream),
                    SP_LOG_STR("reason", why), SP_LOG_END);
        sp_zmsg_close(&msg);
        return;
    }
    if (!self->outstanding) {
        sp_zmsg_close(&msg); /* a reply nobody waits for any more */
        return;
    }
    Samspil__V1__ReplayReply *reply =
        parsed.body[0].size <= SP_MDP_MAX_FRAME_SIZE
            ? samspil__v1__replay_reply__unpack(NULL, parsed.body[0].size, parsed.body[0].data)
            : NULL;
    sp_zmsg_close(&msg);
    if (!reply) {
        sp_log_warn("could not decode replay reply", SP_LOG_STR("stream", self->stream),
                    SP_LOG_END);
        return; /* the timeout asks again */
    }
    s_on_reply(self, reply);
}

/* --- live events */

static void s_on_sub(void *socket, void *arg)
{
    sp_subscriber_t *self = arg;
    sp_zmsg_t msg;
    if (sp_zmsg_recv(&msg, socket, ZMQ_DONTWAIT) < 0)
        return;
    sp_frame_t body = sp_zmsg_frame(&msg, 1);
    Samspil__V1__Event *event = msg.count == 2 && body.size <= SP_EVENT_MAX_SIZE
                                    ? samspil__v1__event__unpack(NULL, body.size, body.data)
                                    : NULL;
    sp_zmsg_close(&msg);
    if (!event) {
        sp_log_warn("dropped malformed live event", SP_LOG_STR("stream", self->stream), SP_LOG_END);
        return;
    }
    if (strcmp(event->stream, self->stream) != 0) {
        samspil__v1__event__free_unpacked(event, NULL);
        return;
    }
    bool was = self->seq.replaying;
    if (strcmp(event->type, SP_EVENT_TYPE_HEAD) == 0) {
        sp_event_seq_head(&self->seq, event->seq);
        if (!was && self->seq.replaying) {
            self->caught_up_logged = false;
            sp_log_info("events missed at the head; replaying", SP_LOG_STR("stream", self->stream),
                        SP_LOG_INT("position", self->seq.position), SP_LOG_INT("head", event->seq),
                        SP_LOG_END);
        }
        samspil__v1__event__free_unpacked(event, NULL);
        s_pump(self);
        return;
    }
    bool full = self->queued >= S_LIVE_QUEUE_MAX;
    uint64_t expected = self->seq.accepted + 1;
    switch (sp_event_seq_live(&self->seq, event->seq, full)) {
    case SP_SEQ_ACCEPT:
        s_enqueue(self, event->seq, event, NULL);
        break;
    case SP_SEQ_DUPLICATE:
        self->duplicates++;
        samspil__v1__event__free_unpacked(event, NULL);
        break;
    case SP_SEQ_BEYOND:
        self->dropped++;
        if (!was) {
            self->caught_up_logged = false;
            sp_log_info(event->seq == expected ? "apply queue full; replaying"
                                               : "gap in live events; replaying",
                        SP_LOG_STR("stream", self->stream), SP_LOG_INT("expected_seq", expected),
                        SP_LOG_INT("seq", event->seq), SP_LOG_INT("queued", self->queued),
                        SP_LOG_END);
        }
        samspil__v1__event__free_unpacked(event, NULL);
        break;
    }
    s_pump(self);
}

/* --- applying */

/* Hand queued events to the apply callback, one at a time.  done() called
 * from inside apply lands here in the same loop rather than recursing. */
static void s_pump(sp_subscriber_t *self)
{
    if (self->pumping)
        return;
    self->pumping = true;
    while (!self->closing && !self->current && self->head) {
        s_item_t *item = self->head;
        self->head = item->next;
        if (!self->head)
            self->tail = NULL;
        self->queued--;
        if (!item->event || !item->apply) {
            if (item->event)
                self->skipped++;
            sp_event_seq_done(&self->seq, item->seq);
            s_item_free(item);
            continue;
        }
        self->current = item;
        self->apply(self, item->event, self->arg);
    }
    self->pumping = false;
    if (self->closing)
        return;
    if (!self->seq.replaying && !self->current && !self->head && !self->caught_up_logged) {
        self->caught_up_logged = true;
        sp_log_info("subscriber caught up", SP_LOG_STR("stream", self->stream),
                    SP_LOG_INT("position", self->seq.position),
                    SP_LOG_INT("applied", self->applied), SP_LOG_END);
    }
    s_maybe_replay(self);
}

static void s_on_retry(uv_timer_t *timer)
{
    sp_subscriber_t *self = timer->data;
    self->retrying = false;
    if (self->closing || !self->current)
        return;
    self->apply(self, self->current->event, self->arg);
}

void sp_subscriber_done(sp_subscriber_t *self, uint64_t seq, sp_apply_result_t result)
{
    if (!self || self->closing)
        return;
    if (!self->current || self->current->seq != seq) {
        sp_log_error("apply reported done for an event not in progress",
                     SP_LOG_STR("stream", self->stream), SP_LOG_INT("seq", seq), SP_LOG_END);
        return;
    }
    if (result == SP_APPLY_RETRY) {
        self->retrying = true;
        uv_timer_start(&self->retry_timer, s_on_retry, S_RETRY_MS, 0);
        return;
    }
    if (result == SP_APPLY_DUPLICATE)
        self->duplicates++;
    else
        self->applied++;
    sp_event_seq_done(&self->seq, seq);
    s_item_free(self->current);
    self->current = NULL;
    if (!self->pumping)
        s_pump(self);
}

/* --- life cycle */

static void s_on_stats(uv_timer_t *timer)
{
    sp_subscriber_t *self = timer->data;
    if (self->applied == self->applied_logged)
        return;
    sp_log_info("subscriber statistics", SP_LOG_STR("stream", self->stream),
                SP_LOG_INT("applied", self->applied - self->applied_logged),
                SP_LOG_INT("position", self->seq.position), SP_LOG_INT("head", self->seq.head),
                SP_LOG_INT("duplicates", self->duplicates), SP_LOG_INT("dropped", self->dropped),
                SP_LOG_INT("replays", self->replays), SP_LOG_END);
    self->applied_logged = self->applied;
}

sp_subscriber_t *sp_subscriber_new(uv_loop_t *loop, void *zmq_context,
                                   const sp_subscriber_config_t *config)
{
    if (!loop || !zmq_context || !config || !config->stream || !*config->stream ||
        !config->events_endpoint || !config->broker_endpoint || !config->apply) {
        sp_log_error("could not create subscriber: incomplete configuration", SP_LOG_END);
        return NULL;
    }
    const char *prefix = config->type_prefix ? config->type_prefix : "";
    char service[SP_MDP_MAX_SERVICE_NAME + 2];
    int n = snprintf(service, sizeof service, "samspil.events.%s", config->stream);
    if (n < 0 || (size_t)n >= sizeof service || !sp_mdp_service_name_ok(sp_frame_str(service)) ||
        strchr(config->stream, '/')) {
        sp_log_error("could not create subscriber: invalid stream name", SP_LOG_END);
        return NULL;
    }
    if (strlen(prefix) > 128) {
        sp_log_error("could not create subscriber: type prefix longer than 128 bytes", SP_LOG_END);
        return NULL;
    }
    sp_subscriber_t *self = calloc(1, sizeof *self);
    if (!self)
        abort();
    if (sp_curve_client_resolve(config->curve, SP_CURVE_SERVICE_CERT, &self->curve) != 0) {
        sp_log_error("could not create subscriber: no certificate",
                     SP_LOG_STR("stream", config->stream), SP_LOG_END);
        free(self);
        return NULL;
    }
    self->loop = loop;
    self->ctx = zmq_context;
    self->stream = s_strdup(config->stream);
    self->prefix = s_strdup(prefix);
    self->prefix_len = strlen(prefix);
    self->events_endpoint = s_strdup(config->events_endpoint);
    self->broker_endpoint = s_strdup(config->broker_endpoint);
    self->service = s_strdup(service);
    size_t tlen = strlen(config->stream) + 2;
    self->topic = malloc(tlen);
    if (!self->topic)
        abort();
    snprintf(self->topic, tlen, "%s/", config->stream);
    if (config->ntenants > 0) {
        self->ntopics = config->ntenants + 1;
        self->tenant_topics = calloc(self->ntopics, sizeof *self->tenant_topics);
        if (!self->tenant_topics)
            abort();
        for (size_t i = 0; i <= config->ntenants; i++) {
            const char *tenant = i < config->ntenants ? config->tenants[i] : "";
            size_t len = strlen(config->stream) + strlen(tenant) + 3;
            self->tenant_topics[i] = malloc(len);
            if (!self->tenant_topics[i])
                abort();
            snprintf(self->tenant_topics[i], len, "%s/%s/", config->stream, tenant);
        }
    }
    self->replay_batch = config->replay_batch ? config->replay_batch : S_REPLAY_BATCH_DEFAULT;
    if (self->replay_batch > SP_OUTBOX_REPLAY_MAX)
        self->replay_batch = SP_OUTBOX_REPLAY_MAX;
    self->replay_timeout_ms =
        config->replay_timeout_ms > 0 ? config->replay_timeout_ms : S_REPLAY_TIMEOUT_DEFAULT;
    self->apply = config->apply;
    self->arg = config->arg;
    sp_event_seq_init(&self->seq, config->from_head ? 0 : config->position, config->from_head);
    uv_timer_init(loop, &self->replay_timer);
    uv_timer_init(loop, &self->retry_timer);
    uv_timer_init(loop, &self->stats_timer);
    self->replay_timer.data = self->retry_timer.data = self->stats_timer.data = self;
    self->handles = 3;
    return self;
}

int sp_subscriber_start(sp_subscriber_t *self)
{
    if (!self || self->started || self->closing)
        return -1;
    void *socket = zmq_socket(self->ctx, ZMQ_SUB);
    if (!socket) {
        sp_log_error("could not create subscriber socket", SP_LOG_STR("error", zmq_strerror(errno)),
                     SP_LOG_END);
        return -1;
    }
    int linger = 0, hwm = S_RCVHWM;
    int64_t maxmsg = SP_EVENT_MAX_SIZE + 1024;
    zmq_setsockopt(socket, ZMQ_LINGER, &linger, sizeof linger);
    zmq_setsockopt(socket, ZMQ_RCVHWM, &hwm, sizeof hwm);
    zmq_setsockopt(socket, ZMQ_MAXMSGSIZE, &maxmsg, sizeof maxmsg);
    int subscribed = 0;
    if (self->ntopics == 0)
        subscribed = zmq_setsockopt(socket, ZMQ_SUBSCRIBE, self->topic, strlen(self->topic));
    for (size_t i = 0; i < self->ntopics && subscribed == 0; i++)
        subscribed = zmq_setsockopt(socket, ZMQ_SUBSCRIBE, self->tenant_topics[i],
                                    strlen(self->tenant_topics[i]));
    if (sp_curve_client_apply(&self->curve, socket) != 0 || subscribed != 0 ||
        zmq_connect(socket, self->events_endpoint) != 0) {
        sp_log_error("could not connect subscriber socket",
                     SP_LOG_STR("endpoint", self->events_endpoint),
                     SP_LOG_STR("error", zmq_strerror(errno)), SP_LOG_END);
        zmq_close(socket);
        return -1;
    }
    self->sub_poll = sp_zpoll_new(self->loop, socket, s_on_sub, self);
    if (!self->sub_poll) {
        zmq_close(socket);
        return -1;
    }
    self->sub = socket;
    self->started = true;
    sp_log_info("subscriber started", SP_LOG_STR("stream", self->stream),
                SP_LOG_STR("type_prefix", self->prefix), SP_LOG_INT("position", self->seq.position),
                SP_LOG_INT("from_head", self->seq.from_head),
                SP_LOG_STR("events_endpoint", self->events_endpoint),
                SP_LOG_INT("plaintext", self->curve.plaintext), SP_LOG_END);
    uv_timer_start(&self->stats_timer, s_on_stats, S_STATS_MS, S_STATS_MS);
    s_maybe_replay(self);
    return 0;
}

uint64_t sp_subscriber_position(const sp_subscriber_t *self)
{
    return self ? self->seq.position : 0;
}

uint64_t sp_subscriber_applied_count(const sp_subscriber_t *self)
{
    return self ? self->applied : 0;
}

uint64_t sp_subscriber_replay_count(const sp_subscriber_t *self)
{
    return self ? self->replays : 0;
}

uint64_t sp_subscriber_duplicate_count(const sp_subscriber_t *self)
{
    return self ? self->duplicates : 0;
}

uint64_t sp_subscriber_head(const sp_subscriber_t *self)
{
    return self ? self->seq.head : 0;
}

static void s_on_close(uv_handle_t *handle)
{
    sp_subscriber_t *self = handle->data;
    if (--self->handles > 0)
        return;
    free(self->stream);
    free(self->prefix);
    free(self->events_endpoint);
    free(self->broker_endpoint);
    free(self->service);
    free(self->topic);
    for (size_t i = 0; i < self->ntopics; i++)
        free(self->tenant_topics[i]);
    free(self->tenant_topics);
    memset(&self->curve, 0, sizeof self->curve);
    free(self);
}

void sp_subscriber_destroy(sp_subscriber_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    sp_subscriber_t *self = *self_p;
    *self_p = NULL;
    if (self->closing)
        return;
    self->closing = true;
    if (self->current) {
        sp_log_info("subscriber destroyed with an apply in progress; its event is left to the "
                    "next start",
                    SP_LOG_STR("stream", self->stream), SP_LOG_INT("seq", self->current->seq),
                    SP_LOG_END);
        s_item_free(self->current);
        self->current = NULL;
    }
    while (self->head) {
        s_item_t *item = self->head;
        self->head = item->next;
        s_item_free(item);
    }
    self->tail = NULL;
    self->queued = 0;
    if (self->started)
        sp_log_info("subscriber stopped", SP_LOG_STR("stream", self->stream),
                    SP_LOG_INT("position", self->seq.position),
                    SP_LOG_INT("applied", self->applied),
                    SP_LOG_INT("duplicates", self->duplicates),
                    SP_LOG_INT("replays", self->replays), SP_LOG_END);
    s_dealer_close(self);
    sp_zpoll_destroy(&self->sub_poll);
    if (self->sub)
        zmq_close(self->sub);
    self->sub = NULL;
    uv_close((uv_handle_t *)&self->replay_timer, s_on_close);
    uv_close((uv_handle_t *)&self->retry_timer, s_on_close);
    uv_close((uv_handle_t *)&self->stats_timer, s_on_close);
}

/* --- the cursor */

bool sp_subscriber_tx_duplicate(const sp_db_tx_t *tx)
{
    if (!tx || sp_db_tx_ok(tx))
        return false;
    const char *state = sp_db_tx_sqlstate(tx);
    const char *constraint = sp_db_tx_constraint(tx);
    return state && strcmp(state, "23505") == 0 && constraint &&
           strcmp(constraint, "event_cursor_forward") == 0;
}

int sp_subscriber_load_position(const char *conninfo, const char *schema, const char *stream,
                                uint64_t *position)
{
    *position = 0;
    if (!conninfo || !schema || !stream)
        return -1;
    for (const char *p = schema; *p; p++)
        if (!((*p >= 'a' && *p <= 'z') || (*p >= '0' && *p <= '9') || *p == '_')) {
            sp_log_error("schema is not a plain identifier", SP_LOG_END);
            return -1;
        }
    PGconn *pg = PQconnectdb(conninfo);
    if (!pg || PQstatus(pg) != CONNECTION_OK) {
        sp_log_error("could not connect to database to load the event position",
                     SP_LOG_STR("stream", stream),
                     SP_LOG_STR("error", pg ? PQerrorMessage(pg) : "out of memory"), SP_LOG_END);
        PQfinish(pg);
        return -1;
    }
    char sql[256];
    snprintf(sql, sizeof sql, "SELECT last_seq FROM %s.event_cursor WHERE stream = $1", schema);
    const char *params[] = {stream};
    PGresult *res = PQexecParams(pg, sql, 1, NULL, params, NULL, NULL, 0);
    int rc = 0;
    if (PQresultStatus(res) != PGRES_TUPLES_OK) {
        sp_log_error("could not load the event position", SP_LOG_STR("stream", stream),
                     SP_LOG_STR("schema", schema),
                     SP_LOG_STR("sqlstate", PQresultErrorField(res, PG_DIAG_SQLSTATE)), SP_LOG_END);
        rc = -1;
    } else if (PQntuples(res) == 1) {
        *position = strtoull(PQgetvalue(res, 0, 0), NULL, 10);
    }
    PQclear(res);
    PQfinish(pg);
    return rc;
}
