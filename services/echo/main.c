/*
 * samspil-echo - the samspil.echo service: answers each EchoRequest with
 * its payload and correlation id.  Used by `make bench` to measure the
 * broker's round trip, and as a health check.  Also the model of a
 * service's main(): options -> worker config -> sp_worker_main.
 */
#include "samspil/v1/broker.pb-c.h"
#include "sp_config.h"
#include "sp_error.h"
#include "sp_log.h"
#include "sp_service_options.h"
#include "sp_worker.h"

#include <stdlib.h>

static void s_handle(sp_request_t *request, void *arg)
{
    (void)arg;
    size_t len;
    const uint8_t *body = sp_request_body(request, &len);
    Samspil__V1__EchoRequest *in = samspil__v1__echo_request__unpack(NULL, len, body);
    Samspil__V1__EchoReply out = SAMSPIL__V1__ECHO_REPLY__INIT;
    Samspil__V1__Error error = SAMSPIL__V1__ERROR__INIT;
    sp_error_t err;
    if (in) {
        out.payload = in->payload;
        out.correlation_id = in->correlation_id;
    } else {
        sp_error_set(&err, SP_INVALID_ARGUMENT, "body", "could not decode echo request");
        sp_error_to_pb(&err, &error);
        out.error = &error;
    }
    size_t size = samspil__v1__echo_reply__get_packed_size(&out);
    uint8_t *packed = malloc(size ? size : 1);
    if (!packed)
        abort();
    samspil__v1__echo_reply__pack(&out, packed);
    sp_request_reply(&request, packed, size);
    free(packed);
    if (in)
        samspil__v1__echo_request__free_unpacked(in, NULL);
}

int main(int argc, char **argv)
{
    sp_log_init("echo");
    sp_option_t opts[] = {
        sp_service_opt_broker(),
        sp_service_opt_home(NULL),
        sp_service_opt_credit("SAMSPIL_ECHO_CREDIT", "32"),
        sp_service_opt_heartbeat(),
    };
    const sp_program_info_t info = {
        .program = "samspil-echo",
        .description = "Worker for the samspil.echo service: replies to each EchoRequest with "
                       "its payload and correlation id.",
    };
    size_t nopts = sizeof opts / sizeof opts[0];
    if (sp_config_parse(&info, opts, nopts, argc, argv, NULL, NULL) < 0)
        return 2;
    sp_service_options_t so;
    if (sp_service_options_resolve(opts, nopts, NULL, &so) != 0)
        return 2;
    sp_worker_config_t config = {
        .endpoint = so.endpoint,
        .service = "samspil.echo",
        .credit = so.credit,
        .heartbeat_ms = so.heartbeat_ms,
        .handler = s_handle,
    };
    return sp_worker_main(&config, NULL, NULL, NULL);
}
