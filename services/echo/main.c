/*
 * samspil-echo - the samspil.echo service: answers each EchoRequest with
 * its payload and correlation id.  Used by `make bench` to measure the
 * broker's round trip, and as a health check.  Also the model of a
 * service's main(): options -> worker config -> sp_worker_main.
 */
#include "samspil/v1/broker.pb-c.h"
#include "sp_client.h"
#include "sp_config.h"
#include "sp_error.h"
#include "sp_log.h"
#include "sp_mdp.h"
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
        {.flag = "broker",
         .env = "SAMSPIL_BROKER",
         .metavar = "ENDPOINT",
         .help = "broker endpoint (default: ipc://$SAMSPIL_HOME/run/broker.ipc)"},
        {.flag = "home",
         .env = "SAMSPIL_HOME",
         .metavar = "DIR",
         .default_value = "./var",
         .help = "suite home directory"},
        {.flag = "credit",
         .env = "SAMSPIL_ECHO_CREDIT",
         .type = SP_OPT_INT,
         .metavar = "N",
         .default_value = "32",
         .help = "requests held at once (1..1000)"},
        {.flag = "heartbeat-ms",
         .env = "SAMSPIL_HEARTBEAT_MS",
         .type = SP_OPT_INT,
         .metavar = "MS",
         .default_value = "1000",
         .help = "heartbeat interval"},
    };
    const sp_program_info_t info = {
        .program = "samspil-echo",
        .description = "Worker for the samspil.echo service: replies to each EchoRequest with "
                       "its payload and correlation id.",
    };
    size_t nopts = sizeof opts / sizeof opts[0];
    if (sp_config_parse(&info, opts, nopts, argc, argv, NULL, NULL) < 0)
        return 2;
    long long credit = sp_config_find(opts, nopts, "credit")->int_value;
    long long heartbeat_ms = sp_config_find(opts, nopts, "heartbeat-ms")->int_value;
    if (credit < 1 || credit > SP_MDP_MAX_CREDIT || heartbeat_ms < 10 || heartbeat_ms > 60000) {
        sp_log_error("invalid option value", SP_LOG_INT("credit", credit),
                     SP_LOG_INT("heartbeat_ms", heartbeat_ms), SP_LOG_END);
        return 2;
    }
    const char *endpoint = sp_config_find(opts, nopts, "broker")->value;
    char default_endpoint[4096];
    if (!endpoint || !*endpoint)
        endpoint = sp_client_default_endpoint(sp_config_find(opts, nopts, "home")->value,
                                              default_endpoint, sizeof default_endpoint);
    if (!endpoint) {
        sp_log_error("could not compute the broker endpoint", SP_LOG_END);
        return 2;
    }
    sp_worker_config_t config = {
        .endpoint = endpoint,
        .service = "samspil.echo",
        .credit = (unsigned)credit,
        .heartbeat_ms = (int)heartbeat_ms,
        .handler = s_handle,
    };
    return sp_worker_main(&config, NULL, NULL, NULL);
}
