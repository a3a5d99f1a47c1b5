/*
 * broker_mmi.c - mmi.service, mmi.status and the broker's ErrorReply.
 */
#include "broker_mmi.h"
#include "samspil/v1/broker.pb-c.h"

#include <stdlib.h>
#include <string.h>

#ifndef SAMSPIL_VERSION
#define SAMSPIL_VERSION "0.0.0"
#endif

bool broker_mmi_is_mmi(sp_frame_t service)
{
    return service.size >= 4 && memcmp(service.data, "mmi.", 4) == 0;
}

typedef struct {
    Samspil__V1__ServiceStatus *items;
    Samspil__V1__ServiceStatus **ptrs;
    char *names; /* NUL-terminated copies, NAME_STRIDE bytes apart */
    size_t count;
    size_t cap;
} s_status_t;

#define NAME_STRIDE 72 /* > SP_MDP_MAX_SERVICE_NAME */

static void s_collect(const broker_core_service_stat_t *stat, void *arg)
{
    s_status_t *st = arg;
    if (st->count == st->cap)
        return;
    Samspil__V1__ServiceStatus *item = &st->items[st->count];
    samspil__v1__service_status__init(item);
    char *name = &st->names[st->count * NAME_STRIDE];
    size_t len = stat->name.size < NAME_STRIDE - 1 ? stat->name.size : NAME_STRIDE - 1;
    memcpy(name, stat->name.data, len);
    name[len] = '\0';
    item->name = name;
    item->workers = stat->workers;
    item->credit = stat->credit;
    item->in_flight = stat->in_flight;
    item->queued = stat->queued;
    st->ptrs[st->count++] = item;
}

static void s_status(const broker_core_t *core, bool development_mode, sp_buf_t *out)
{
    s_status_t st = {0};
    st.cap = broker_core_service_count(core);
    size_t cap = st.cap ? st.cap : 1;
    st.items = calloc(cap, sizeof *st.items);
    st.ptrs = calloc(cap, sizeof *st.ptrs);
    st.names = calloc(cap, NAME_STRIDE);
    if (!st.items || !st.ptrs || !st.names)
        abort();
    broker_core_foreach_service(core, s_collect, &st);

    Samspil__V1__BrokerStatus status = SAMSPIL__V1__BROKER_STATUS__INIT;
    status.services = st.ptrs;
    status.n_services = st.count;
    status.version = (char *)SAMSPIL_VERSION;
    status.development_mode = development_mode;
    size_t size = samspil__v1__broker_status__get_packed_size(&status);
    sp_buf_reset(out);
    uint8_t *data = malloc(size ? size : 1);
    if (!data)
        abort();
    samspil__v1__broker_status__pack(&status, data);
    sp_buf_append(out, data, size);
    free(data);
    free(st.items);
    free(st.ptrs);
    free(st.names);
}

void broker_mmi_answer(const broker_core_t *core, bool development_mode, sp_frame_t service,
                       const sp_frame_t *body, size_t nbody, sp_buf_t *out)
{
    sp_buf_reset(out);
    if (sp_frame_equals(service, "mmi.service")) {
        bool found = nbody > 0 && broker_core_service_workers(core, body[0]) > 0;
        sp_buf_puts(out, found ? "200" : "404");
    } else if (sp_frame_equals(service, "mmi.status")) {
        s_status(core, development_mode, out);
    } else {
        sp_buf_puts(out, "501");
    }
}

void broker_mmi_error_reply(sp_error_code_t code, const char *field, const char *message,
                            sp_buf_t *out)
{
    Samspil__V1__Error error = SAMSPIL__V1__ERROR__INIT;
    error.code = code;
    error.message = (char *)message;
    error.field = (char *)(field ? field : "");
    Samspil__V1__ErrorReply reply = SAMSPIL__V1__ERROR_REPLY__INIT;
    reply.error = &error;
    size_t size = samspil__v1__error_reply__get_packed_size(&reply);
    uint8_t stack[512];
    uint8_t *data = size <= sizeof stack ? stack : malloc(size);
    if (!data)
        abort();
    samspil__v1__error_reply__pack(&reply, data);
    sp_buf_reset(out);
    sp_buf_append(out, data, size);
    if (data != stack)
        free(data);
}
