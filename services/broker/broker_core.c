/*
 * broker_core.c - the broker's routing state: services, queues, workers,
 * credit, requests in flight, expiry and requeue.  No I/O (see broker_core.h).
 *
 * Lookups are O(1): workers by routing identity, requests by id and services
 * by name live in open-addressing hash tables.  A request is on exactly one
 * intrusive list at a time: its service's queue while waiting, or the list
 * of requests held by its worker while in flight.
 */
#include "broker_core.h"
#include "sp_mdp.h"
#include "sp_zmsg.h"

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct bc_request bc_request_t;
typedef struct bc_worker bc_worker_t;
typedef struct bc_service bc_service_t;

/* ---------------------------------------------------------------------------
 * Intrusive doubly-linked lists of requests
 */

typedef struct {
    bc_request_t *first;
    bc_request_t *last;
    size_t count;
} bc_list_t;

struct bc_request {
    uint64_t id;
    void *payload;
    size_t bytes;
    bc_service_t *service;
    bc_worker_t *worker; /* holder while in flight; NULL while queued */
    bc_request_t *prev;
    bc_request_t *next;
    uint64_t queued_at; /* when it (re)entered the queue */
    int deaths;         /* workers that died holding it */
};

struct bc_worker {
    bc_service_t *service;
    uint32_t credit;
    bool leaving;   /* sent DISCONNECT: takes no new work */
    size_t slot;    /* index in service->workers */
    bc_list_t held; /* requests in flight on this worker, in dispatch order */
    uint64_t last_seen;
    uint64_t last_heartbeat; /* when the broker last sent it a HEARTBEAT */
    bc_worker_t *prev;       /* all workers, in registration order */
    bc_worker_t *next;
    size_t identity_size;
    unsigned char identity[]; /* ROUTER routing id */
};

struct bc_service {
    bc_list_t queue;
    bc_worker_t **workers; /* every registered worker, leaving or not */
    size_t nworkers;
    size_t workers_cap;
    size_t available; /* workers not leaving */
    size_t rr;        /* round-robin start among equally free workers */
    size_t in_flight;
    uint64_t unserved_since; /* when `available` last dropped to 0 */
    bool had_worker;         /* kept for mmi.status once a worker has served it */
    bc_service_t *prev;      /* all services, in the order they became known */
    bc_service_t *next;
    size_t name_size;
    char name[]; /* NUL-terminated as well */
};

static void s_list_push_back(bc_list_t *list, bc_request_t *r)
{
    r->next = NULL;
    r->prev = list->last;
    if (list->last)
        list->last->next = r;
    else
        list->first = r;
    list->last = r;
    list->count++;
}

static void s_list_push_front(bc_list_t *list, bc_request_t *r)
{
    r->prev = NULL;
    r->next = list->first;
    if (list->first)
        list->first->prev = r;
    else
        list->last = r;
    list->first = r;
    list->count++;
}

static void s_list_remove(bc_list_t *list, bc_request_t *r)
{
    if (r->prev)
        r->prev->next = r->next;
    else
        list->first = r->next;
    if (r->next)
        r->next->prev = r->prev;
    else
        list->last = r->prev;
    r->prev = r->next = NULL;
    list->count--;
}

/* ---------------------------------------------------------------------------
 * Open-addressing hash table of item pointers (linear probing, backward-shift
 * deletion).  Items carry their own keys; lookups pass a match function.
 */

typedef struct {
    uint64_t hash;
    void *item; /* NULL: empty slot */
} bc_slot_t;

typedef struct {
    bc_slot_t *slots;
    size_t mask; /* capacity - 1 (capacity is a power of two) */
    size_t count;
} bc_table_t;

typedef bool(bc_match_fn)(const void *item, const void *key, size_t len);

static uint64_t s_hash_u64(uint64_t x)
{
    /* splitmix64 finaliser */
    x += 0x9e3779b97f4a7c15ULL;
    x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;
    x = (x ^ (x >> 27)) * 0x94d049bb133111ebULL;
    return x ^ (x >> 31);
}

static uint64_t s_hash_bytes(const void *data, size_t len)
{
    /* FNV-1a, then mixed so the low bits used as the index are good */
    const unsigned char *p = data;
    uint64_t h = 0xcbf29ce484222325ULL;
    for (size_t i = 0; i < len; i++) {
        h ^= p[i];
        h *= 0x100000001b3ULL;
    }
    return s_hash_u64(h);
}

static void s_table_init(bc_table_t *t, size_t capacity)
{
    t->slots = calloc(capacity, sizeof *t->slots);
    if (!t->slots)
        abort();
    t->mask = capacity - 1;
    t->count = 0;
}

static void s_table_free(bc_table_t *t)
{
    free(t->slots);
    t->slots = NULL;
    t->count = 0;
}

static void *s_table_find(const bc_table_t *t, uint64_t hash, bc_match_fn *match, const void *key,
                          size_t len)
{
    for (size_t i = hash & t->mask;; i = (i + 1) & t->mask) {
        const bc_slot_t *slot = &t->slots[i];
        if (!slot->item)
            return NULL;
        if (slot->hash == hash && match(slot->item, key, len))
            return slot->item;
    }
}

static void s_table_insert(bc_table_t *t, uint64_t hash, void *item);

static void s_table_grow(bc_table_t *t)
{
    bc_table_t old = *t;
    s_table_init(t, (old.mask + 1) * 2);
    for (size_t i = 0; i <= old.mask; i++)
        if (old.slots[i].item)
            s_table_insert(t, old.slots[i].hash, old.slots[i].item);
    free(old.slots);
}

static void s_table_insert(bc_table_t *t, uint64_t hash, void *item)
{
    if ((t->count + 1) * 2 > t->mask + 1) /* keep the load at most 1/2 */
        s_table_grow(t);
    size_t i = hash & t->mask;
    while (t->slots[i].item)
        i = (i + 1) & t->mask;
    t->slots[i].hash = hash;
    t->slots[i].item = item;
    t->count++;
}

static void s_table_remove(bc_table_t *t, uint64_t hash, const void *item)
{
    size_t i = hash & t->mask;
    while (t->slots[i].item != item) {
        if (!t->slots[i].item)
            return; /* not present */
        i = (i + 1) & t->mask;
    }
    /* backward-shift: pull later members of the probe run into the hole */
    size_t hole = i;
    for (size_t j = (hole + 1) & t->mask; t->slots[j].item; j = (j + 1) & t->mask) {
        size_t home = t->slots[j].hash & t->mask;
        /* j may move to the hole if its home is not cyclically in (hole, j] */
        bool stays = hole <= j ? (home > hole && home <= j) : (home > hole || home <= j);
        if (!stays) {
            t->slots[hole] = t->slots[j];
            hole = j;
        }
    }
    t->slots[hole].item = NULL;
    t->slots[hole].hash = 0;
    t->count--;
}

static bool s_match_request(const void *item, const void *key, size_t len)
{
    (void)len;
    return ((const bc_request_t *)item)->id == *(const uint64_t *)key;
}

static bool s_match_worker(const void *item, const void *key, size_t len)
{
    const bc_worker_t *w = item;
    return w->identity_size == len && memcmp(w->identity, key, len) == 0;
}

static bool s_match_service(const void *item, const void *key, size_t len)
{
    const bc_service_t *s = item;
    return s->name_size == len && memcmp(s->name, key, len) == 0;
}

/* ---------------------------------------------------------------------------
 * The core
 */

struct broker_core_t {
    broker_core_config_t config;
    broker_core_ops_t ops;
    void *arg;
    uint64_t next_id;
    size_t bytes; /* payload bytes held */
    bc_table_t requests;
    bc_table_t workers;
    bc_table_t services;
    bc_worker_t *first_worker;
    bc_worker_t *last_worker;
    bc_service_t *first_service;
    bc_service_t *last_service;
};

static sp_frame_t s_worker_identity(const bc_worker_t *w)
{
    sp_frame_t frame = {w->identity, w->identity_size};
    return frame;
}

_Static_assert(BROKER_CORE_REQUEST_HEAD + BROKER_CORE_MAX_BODY_FRAMES == SP_ZMSG_MAX_FRAMES,
               "a REQUEST with the most body frames must fit a worker's receive buffer");

int broker_core_check_body(const sp_frame_t *body, size_t nbody, bool truncated, sp_error_t *err)
{
    sp_error_clear(err);
    if (truncated)
        return sp_error_set(err, SP_INVALID_ARGUMENT, "body",
                            "request has more than %zu body frames; at most %d", nbody,
                            BROKER_CORE_MAX_BODY_FRAMES);
    if (nbody > BROKER_CORE_MAX_BODY_FRAMES)
        return sp_error_set(err, SP_INVALID_ARGUMENT, "body",
                            "request has %zu body frames; at most %d", nbody,
                            BROKER_CORE_MAX_BODY_FRAMES);
    size_t bytes = 0;
    for (size_t i = 0; i < nbody; i++)
        bytes += body[i].size; /* frames are at most SP_MDP_MAX_FRAME_SIZE: no overflow */
    if (bytes > BROKER_CORE_MAX_BODY_BYTES)
        return sp_error_set(err, SP_INVALID_ARGUMENT, "body",
                            "request body is %zu bytes; at most %zu", bytes,
                            BROKER_CORE_MAX_BODY_BYTES);
    return 0;
}

broker_core_t *broker_core_new(const broker_core_config_t *config, const broker_core_ops_t *ops,
                               void *arg)
{
    broker_core_t *self = calloc(1, sizeof *self);
    if (!self)
        abort();
    self->config = *config;
    if (self->config.heartbeat_ms <= 0)
        self->config.heartbeat_ms = SP_MDP_HEARTBEAT_MS;
    if (self->config.liveness <= 0)
        self->config.liveness = SP_MDP_LIVENESS;
    if (self->config.unavailable_ms < 0)
        self->config.unavailable_ms = 0;
    if (self->config.max_queue == 0)
        self->config.max_queue = BROKER_CORE_MAX_QUEUE;
    if (self->config.max_bytes == 0)
        self->config.max_bytes = BROKER_CORE_MAX_BYTES;
    if (self->config.max_attempts <= 0)
        self->config.max_attempts = BROKER_CORE_MAX_ATTEMPTS;
    self->next_id = config->first_id ? config->first_id : 1;
    self->ops = *ops;
    self->arg = arg;
    s_table_init(&self->requests, 1024);
    s_table_init(&self->workers, 64);
    s_table_init(&self->services, 64);
    return self;
}

/* --- services */

static bc_service_t *s_service_find(const broker_core_t *self, sp_frame_t name)
{
    return s_table_find(&self->services, s_hash_bytes(name.data, name.size), s_match_service,
                        name.data, name.size);
}

static bc_service_t *s_service_require(broker_core_t *self, sp_frame_t name, uint64_t now)
{
    bc_service_t *s = s_service_find(self, name);
    if (s)
        return s;
    s = calloc(1, sizeof *s + name.size + 1);
    if (!s)
        abort();
    memcpy(s->name, name.data, name.size);
    s->name[name.size] = '\0';
    s->name_size = name.size;
    s->unserved_since = now;
    s->prev = self->last_service;
    if (self->last_service)
        self->last_service->next = s;
    else
        self->first_service = s;
    self->last_service = s;
    s_table_insert(&self->services, s_hash_bytes(s->name, s->name_size), s);
    return s;
}

/* Forget a service nobody serves and nobody waits for, unless a worker has
 * served it (those stay listed in mmi.status).  Bounds the memory a client
 * can use by asking for made-up names. */
static void s_service_maybe_free(broker_core_t *self, bc_service_t *s)
{
    if (s->had_worker || s->nworkers || s->queue.count || s->in_flight)
        return;
    s_table_remove(&self->services, s_hash_bytes(s->name, s->name_size), s);
    if (s->prev)
        s->prev->next = s->next;
    else
        self->first_service = s->next;
    if (s->next)
        s->next->prev = s->prev;
    else
        self->last_service = s->prev;
    free(s->workers);
    free(s);
}

/* --- requests */

/* Forget a request that is on no list: drop it from the table and the
 * memory count, free it, and return its payload. */
static void *s_request_forget(broker_core_t *self, bc_request_t *r)
{
    void *payload = r->payload;
    s_table_remove(&self->requests, s_hash_u64(r->id), r);
    self->bytes -= r->bytes;
    free(r);
    return payload;
}

/* Answer a request (on no list) with an error and forget it. */
static void s_request_fail(broker_core_t *self, bc_request_t *r, sp_error_code_t code,
                           const char *message)
{
    void *payload = s_request_forget(self, r);
    self->ops.send_error(self->arg, payload, code, message);
    self->ops.release(self->arg, payload);
}

/* --- workers */

static bc_worker_t *s_worker_find(const broker_core_t *self, sp_frame_t identity)
{
    return s_table_find(&self->workers, s_hash_bytes(identity.data, identity.size), s_match_worker,
                        identity.data, identity.size);
}

/* The worker with the most free credit; among equals, the first after the
 * last one chosen (round robin).  NULL when none has free credit. */
static bc_worker_t *s_pick_worker(bc_service_t *s)
{
    size_t n = s->nworkers;
    bc_worker_t *best = NULL;
    uint32_t best_free = 0;
    for (size_t k = 0; k < n; k++) {
        bc_worker_t *w = s->workers[(s->rr + k) % n];
        if (w->leaving)
            continue;
        uint32_t free_credit = w->credit - (uint32_t)w->held.count;
        if (free_credit > best_free) {
            best = w;
            best_free = free_credit;
        }
    }
    if (best)
        s->rr = (best->slot + 1) % n;
    return best;
}

static void s_worker_drop(broker_core_t *self, bc_worker_t *w, uint64_t now, bool disconnect,
                          const char *reason);

/* Hand queued requests of `s` to workers with free credit, oldest first. */
static void s_dispatch(broker_core_t *self, bc_service_t *s, uint64_t now)
{
    while (s->queue.count) {
        bc_worker_t *w = s_pick_worker(s);
        if (!w)
            return;
        bc_request_t *r = s->queue.first;
        s_list_remove(&s->queue, r);
        r->worker = w;
        s_list_push_back(&w->held, r);
        s->in_flight++;
        if (self->ops.send_request(self->arg, s_worker_identity(w), r->id, r->payload) < 0) {
            /* the worker is gone: the request goes back untouched */
            s_list_remove(&w->held, r);
            s->in_flight--;
            r->worker = NULL;
            s_list_push_front(&s->queue, r);
            s_worker_drop(self, w, now, false, "unreachable");
        }
    }
}

/* Forget worker `w`.  Requests it held go back to the front of the queue in
 * their original order (each counts one death; at max_attempts deaths a
 * request is abandoned with UNAVAILABLE).  Does not dispatch. */
static void s_worker_drop(broker_core_t *self, bc_worker_t *w, uint64_t now, bool disconnect,
                          const char *reason)
{
    bc_service_t *s = w->service;
    if (disconnect)
        self->ops.send_command(self->arg, s_worker_identity(w), SP_MDPW_DISCONNECT);
    size_t requeued = 0;
    while (w->held.last) {
        bc_request_t *r = w->held.last;
        s_list_remove(&w->held, r);
        s->in_flight--;
        r->worker = NULL;
        if (++r->deaths >= self->config.max_attempts) {
            char message[96];
            snprintf(message, sizeof message, "request abandoned by %d workers", r->deaths);
            s_request_fail(self, r, SP_UNAVAILABLE, message);
        } else {
            r->queued_at = now;
            s_list_push_front(&s->queue, r);
            requeued++;
        }
    }
    if (self->ops.worker_gone) {
        sp_frame_t name = {s->name, s->name_size};
        self->ops.worker_gone(self->arg, s_worker_identity(w), name, reason, requeued);
    }
    /* out of the service's worker array, keeping the order of the rest */
    for (size_t i = w->slot + 1; i < s->nworkers; i++) {
        s->workers[i - 1] = s->workers[i];
        s->workers[i - 1]->slot = i - 1;
    }
    s->nworkers--;
    if (s->rr > w->slot)
        s->rr--;
    if (s->rr >= s->nworkers)
        s->rr = 0;
    if (!w->leaving && --s->available == 0)
        s->unserved_since = now;
    s_table_remove(&self->workers, s_hash_bytes(w->identity, w->identity_size), w);
    if (w->prev)
        w->prev->next = w->next;
    else
        self->first_worker = w->next;
    if (w->next)
        w->next->prev = w->prev;
    else
        self->last_worker = w->prev;
    free(w);
}

/* --- public */

void broker_core_destroy(broker_core_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    broker_core_t *self = *self_p;
    for (size_t i = 0; i <= self->requests.mask; i++) {
        bc_request_t *r = self->requests.slots[i].item;
        if (r) {
            self->ops.release(self->arg, r->payload);
            free(r);
        }
    }
    for (bc_worker_t *w = self->first_worker, *next; w; w = next) {
        next = w->next;
        free(w);
    }
    for (bc_service_t *s = self->first_service, *next; s; s = next) {
        next = s->next;
        free(s->workers);
        free(s);
    }
    s_table_free(&self->requests);
    s_table_free(&self->workers);
    s_table_free(&self->services);
    free(self);
    *self_p = NULL;
}

uint64_t broker_core_request(broker_core_t *self, sp_frame_t service, void *payload, size_t bytes,
                             uint64_t now)
{
    bc_service_t *s = s_service_find(self, service);
    if (s && s->queue.count >= self->config.max_queue) {
        char message[128];
        snprintf(message, sizeof message, "queue full for service \"%s\"", s->name);
        self->ops.send_error(self->arg, payload, SP_UNAVAILABLE, message);
        self->ops.release(self->arg, payload);
        return 0;
    }
    if (self->bytes + bytes > self->config.max_bytes) {
        self->ops.send_error(self->arg, payload, SP_UNAVAILABLE,
                             "broker is holding too much request data");
        self->ops.release(self->arg, payload);
        return 0;
    }
    if (!s)
        s = s_service_require(self, service, now);
    bc_request_t *r = calloc(1, sizeof *r);
    if (!r)
        abort();
    r->id = self->next_id++;
    if (self->next_id == 0)
        self->next_id = 1;
    r->payload = payload;
    r->bytes = bytes;
    r->service = s;
    r->queued_at = now;
    self->bytes += bytes;
    s_table_insert(&self->requests, s_hash_u64(r->id), r);
    s_list_push_back(&s->queue, r);
    uint64_t id = r->id;
    s_dispatch(self, s, now);
    return id;
}

broker_core_result_t broker_core_ready(broker_core_t *self, sp_frame_t worker, sp_frame_t service,
                                       uint32_t credit, uint64_t now)
{
    bc_worker_t *w = s_worker_find(self, worker);
    if (w) {
        /* a second READY: the worker is confused; make it start over */
        bc_service_t *s = w->service;
        s_worker_drop(self, w, now, true, "second ready");
        s_dispatch(self, s, now);
        return BROKER_CORE_PROTOCOL_ERROR;
    }
    if (credit < 1 || credit > SP_MDP_MAX_CREDIT || !sp_mdp_service_name_ok(service) ||
        (service.size >= 4 && memcmp(service.data, "mmi.", 4) == 0)) {
        self->ops.send_command(self->arg, worker, SP_MDPW_DISCONNECT);
        return BROKER_CORE_PROTOCOL_ERROR;
    }
    bc_service_t *s = s_service_require(self, service, now);
    w = calloc(1, sizeof *w + worker.size);
    if (!w)
        abort();
    memcpy(w->identity, worker.data, worker.size);
    w->identity_size = worker.size;
    w->service = s;
    w->credit = credit;
    w->last_seen = now;
    w->last_heartbeat = now;
    if (s->nworkers == s->workers_cap) {
        s->workers_cap = s->workers_cap ? s->workers_cap * 2 : 4;
        s->workers = realloc(s->workers, s->workers_cap * sizeof *s->workers);
        if (!s->workers)
            abort();
    }
    w->slot = s->nworkers;
    s->workers[s->nworkers++] = w;
    s->available++;
    s->had_worker = true;
    w->prev = self->last_worker;
    if (self->last_worker)
        self->last_worker->next = w;
    else
        self->first_worker = w;
    self->last_worker = w;
    s_table_insert(&self->workers, s_hash_bytes(w->identity, w->identity_size), w);
    s_dispatch(self, s, now);
    return BROKER_CORE_OK;
}

broker_core_result_t broker_core_heartbeat(broker_core_t *self, sp_frame_t worker, uint64_t now)
{
    bc_worker_t *w = s_worker_find(self, worker);
    if (!w) {
        self->ops.send_command(self->arg, worker, SP_MDPW_DISCONNECT);
        return BROKER_CORE_UNKNOWN_WORKER;
    }
    w->last_seen = now;
    return BROKER_CORE_OK;
}

broker_core_result_t broker_core_disconnect(broker_core_t *self, sp_frame_t worker, uint64_t now)
{
    bc_worker_t *w = s_worker_find(self, worker);
    if (!w)
        return BROKER_CORE_UNKNOWN_WORKER; /* never answer a DISCONNECT with one */
    w->last_seen = now;
    if (w->held.count == 0) {
        s_worker_drop(self, w, now, false, "disconnected");
        return BROKER_CORE_OK;
    }
    if (!w->leaving) {
        w->leaving = true;
        if (--w->service->available == 0)
            w->service->unserved_since = now;
    }
    return BROKER_CORE_OK;
}

broker_core_result_t broker_core_reply(broker_core_t *self, sp_frame_t worker, uint64_t id,
                                       uint64_t now, void **payload)
{
    *payload = NULL;
    bc_worker_t *w = s_worker_find(self, worker);
    if (!w) {
        self->ops.send_command(self->arg, worker, SP_MDPW_DISCONNECT);
        return BROKER_CORE_UNKNOWN_WORKER;
    }
    w->last_seen = now;
    bc_request_t *r = s_table_find(&self->requests, s_hash_u64(id), s_match_request, &id, 0);
    if (!r || r->worker != w)
        return BROKER_CORE_UNKNOWN_REQUEST;
    bc_service_t *s = w->service;
    s_list_remove(&w->held, r);
    s->in_flight--;
    *payload = s_request_forget(self, r);
    if (w->leaving && w->held.count == 0)
        s_worker_drop(self, w, now, false, "disconnected");
    s_dispatch(self, s, now);
    return BROKER_CORE_OK;
}

/* Answer UNAVAILABLE to every request of `s` that has waited unavailable_ms
 * for a worker to appear (since it was queued or since the service lost its
 * last worker, whichever is later).  Only called while `s` has no worker to take work;
 * the queue is then short-lived, so a full walk is fine. */
static void s_expire_waiting(broker_core_t *self, bc_service_t *s, uint64_t now)
{
    uint64_t limit = (uint64_t)self->config.unavailable_ms;
    char message[128];
    message[0] = '\0';
    for (bc_request_t *r = s->queue.first, *next; r; r = next) {
        next = r->next;
        uint64_t since = r->queued_at > s->unserved_since ? r->queued_at : s->unserved_since;
        if (now - since < limit)
            continue;
        if (!message[0])
            snprintf(message, sizeof message, "no worker for service \"%s\"", s->name);
        s_list_remove(&s->queue, r);
        s_request_fail(self, r, SP_UNAVAILABLE, message);
    }
}

void broker_core_tick(broker_core_t *self, uint64_t now)
{
    uint64_t interval = (uint64_t)self->config.heartbeat_ms;
    uint64_t expiry = interval * (uint64_t)self->config.liveness;
    for (bc_worker_t *w = self->first_worker, *next; w; w = next) {
        next = w->next;
        if (now - w->last_seen > expiry) {
            s_worker_drop(self, w, now, true, "expired");
        } else if (now - w->last_heartbeat >= interval) {
            w->last_heartbeat = now;
            if (self->ops.send_command(self->arg, s_worker_identity(w), SP_MDPW_HEARTBEAT) < 0)
                s_worker_drop(self, w, now, false, "unreachable"); /* its connection is gone */
        }
    }
    for (bc_service_t *s = self->first_service, *next; s; s = next) {
        next = s->next;
        if (s->queue.count && s->available)
            s_dispatch(self, s, now); /* requests requeued by the drops above */
        if (s->queue.count && !s->available)
            s_expire_waiting(self, s, now);
        s_service_maybe_free(self, s);
    }
}

void broker_core_shutdown(broker_core_t *self)
{
    for (bc_service_t *s = self->first_service; s; s = s->next) {
        while (s->queue.first) {
            bc_request_t *r = s->queue.first;
            s_list_remove(&s->queue, r);
            s_request_fail(self, r, SP_UNAVAILABLE, "broker is shutting down");
        }
    }
    while (self->first_worker) {
        bc_worker_t *w = self->first_worker;
        while (w->held.first) {
            bc_request_t *r = w->held.first;
            s_list_remove(&w->held, r);
            w->service->in_flight--;
            s_request_fail(self, r, SP_UNAVAILABLE, "broker is shutting down");
        }
        s_worker_drop(self, w, 0, true, "broker stopping");
    }
}

size_t broker_core_service_workers(const broker_core_t *self, sp_frame_t service)
{
    const bc_service_t *s = s_service_find(self, service);
    return s ? s->available : 0;
}

void broker_core_foreach_service(const broker_core_t *self,
                                 void (*fn)(const broker_core_service_stat_t *stat, void *arg),
                                 void *arg)
{
    for (const bc_service_t *s = self->first_service; s; s = s->next) {
        broker_core_service_stat_t stat = {
            .name = {s->name, s->name_size},
            .workers = (uint32_t)s->available,
            .in_flight = (uint32_t)s->in_flight,
            .queued = (uint32_t)s->queue.count,
        };
        for (size_t i = 0; i < s->nworkers; i++) {
            const bc_worker_t *w = s->workers[i];
            if (!w->leaving)
                stat.credit += w->credit - (uint32_t)w->held.count;
        }
        fn(&stat, arg);
    }
}

size_t broker_core_worker_count(const broker_core_t *self)
{
    return self->workers.count;
}

size_t broker_core_request_count(const broker_core_t *self)
{
    return self->requests.count;
}

size_t broker_core_service_count(const broker_core_t *self)
{
    return self->services.count;
}
