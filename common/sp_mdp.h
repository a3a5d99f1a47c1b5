/*
 * sp_mdp.h - the broker's wire protocols, as pure codecs over frames.
 *
 * Client side: Majordomo MDP/0.1 exactly (ZeroMQ RFC 7), plus RFC 8 MMI.
 *   request  (client -> broker): "" | "MDPC01" | service | body...
 *   reply    (broker -> client): "" | "MDPC01" | service | body...
 *
 * Worker side: "SPW01", MDP/0.1 worker framing extended with credit and a
 * principal frame (docs/protocol.md is the normative description):
 *   READY      (worker -> broker): "" | "SPW01" | 0x01 | service | credit (ASCII decimal 1..1000)
 *   REQUEST    (broker -> worker): "" | "SPW01" | 0x02 | request-id | principal | body...
 *   REPLY      (worker -> broker): "" | "SPW01" | 0x03 | request-id | "" | body...
 *   HEARTBEAT  (either way):       "" | "SPW01" | 0x04
 *   DISCONNECT (either way):       "" | "SPW01" | 0x05
 * request-id is an opaque 8-byte frame the worker copies back; principal is
 * a protobuf samspil.v1.Principal.  Frames here exclude the ROUTER identity.
 */
#ifndef SP_MDP_H
#define SP_MDP_H

#include "sp_frame.h"

#include <stddef.h>
#include <stdint.h>

#define SP_MDP_CLIENT "MDPC01"
#define SP_MDP_WORKER "SPW01"

#define SP_MDPW_READY 0x01
#define SP_MDPW_REQUEST 0x02
#define SP_MDPW_REPLY 0x03
#define SP_MDPW_HEARTBEAT 0x04
#define SP_MDPW_DISCONNECT 0x05

#define SP_MDP_REQUEST_ID_SIZE 8
#define SP_MDP_MAX_CREDIT 1000
#define SP_MDP_MAX_SERVICE_NAME 64
/* Largest frame accepted anywhere (ZMQ_MAXMSGSIZE and checks before unpack). */
#define SP_MDP_MAX_FRAME_SIZE (1024 * 1024)

/* Defaults shared by broker and workers (milliseconds). */
#define SP_MDP_HEARTBEAT_MS 1000
#define SP_MDP_LIVENESS 3

/* A client request or reply, parsed. */
typedef struct {
    sp_frame_t service;
    const sp_frame_t *body; /* points into the caller's frame array */
    size_t nbody;
} sp_mdpc_t;

/* A worker command, parsed. */
typedef struct {
    int command;                  /* SP_MDPW_* */
    sp_frame_t service;           /* READY */
    uint32_t credit;              /* READY */
    sp_frame_t request_id;        /* REQUEST, REPLY */
    sp_frame_t principal;         /* REQUEST */
    const sp_frame_t *body;       /* REQUEST, REPLY: points into the caller's frame array */
    size_t nbody;
} sp_mdpw_t;

/* Parse a client message (request or reply).  Returns 0, or -1 and sets
 * *why to a static lower-case reason ("missing MDPC01 header", ...). */
int sp_mdpc_parse(const sp_frame_t *frames, size_t count, sp_mdpc_t *out, const char **why);

/* Parse a worker command.  Returns 0, or -1 and sets *why. */
int sp_mdpw_parse(const sp_frame_t *frames, size_t count, sp_mdpw_t *out, const char **why);

/* True if `name` is an acceptable service name: 1..SP_MDP_MAX_SERVICE_NAME
 * bytes of [a-z0-9._-]. */
int sp_mdp_service_name_ok(sp_frame_t name);

/* Encode/decode the 8-byte big-endian request id. */
void sp_mdp_request_id_encode(uint64_t id, uint8_t out[SP_MDP_REQUEST_ID_SIZE]);
int sp_mdp_request_id_decode(sp_frame_t frame, uint64_t *id);

#endif
