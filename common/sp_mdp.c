/*
 * sp_mdp.c - codecs for the client protocol (MDP/0.1, RFC 7) and the worker
 * protocol (SPW01).  Pure: frames in, parsed views out; nothing is copied.
 */
#include "sp_mdp.h"

#include <string.h>

int sp_mdp_service_name_ok(sp_frame_t name)
{
    if (name.size == 0 || name.size > SP_MDP_MAX_SERVICE_NAME)
        return 0;
    const unsigned char *p = name.data;
    for (size_t i = 0; i < name.size; i++) {
        unsigned char c = p[i];
        if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '.' || c == '_' || c == '-'))
            return 0;
    }
    return 1;
}

void sp_mdp_request_id_encode(uint64_t id, uint8_t out[SP_MDP_REQUEST_ID_SIZE])
{
    for (int i = SP_MDP_REQUEST_ID_SIZE - 1; i >= 0; i--) {
        out[i] = (uint8_t)(id & 0xff);
        id >>= 8;
    }
}

int sp_mdp_request_id_decode(sp_frame_t frame, uint64_t *id)
{
    if (frame.size != SP_MDP_REQUEST_ID_SIZE)
        return -1;
    const uint8_t *p = frame.data;
    uint64_t value = 0;
    for (size_t i = 0; i < SP_MDP_REQUEST_ID_SIZE; i++)
        value = (value << 8) | p[i];
    *id = value;
    return 0;
}

/* Credit is ASCII decimal 1..SP_MDP_MAX_CREDIT without sign or leading zeros. */
static int s_parse_credit(sp_frame_t frame, uint32_t *credit)
{
    const char *p = frame.data;
    if (frame.size == 0 || frame.size > 4 || p[0] == '0')
        return -1;
    uint32_t value = 0;
    for (size_t i = 0; i < frame.size; i++) {
        if (p[i] < '0' || p[i] > '9')
            return -1;
        value = value * 10 + (uint32_t)(p[i] - '0');
    }
    if (value < 1 || value > SP_MDP_MAX_CREDIT)
        return -1;
    *credit = value;
    return 0;
}

static int s_fail(const char **why, const char *reason)
{
    if (why)
        *why = reason;
    return -1;
}

int sp_mdpc_parse(const sp_frame_t *frames, size_t count, sp_mdpc_t *out, const char **why)
{
    memset(out, 0, sizeof *out);
    if (count < 2)
        return s_fail(why, "message too short");
    if (frames[0].size != 0)
        return s_fail(why, "first frame is not empty");
    if (!sp_frame_equals(frames[1], SP_MDP_CLIENT))
        return s_fail(why, "missing MDPC01 header");
    if (count < 3)
        return s_fail(why, "missing service frame");
    if (!sp_mdp_service_name_ok(frames[2]))
        return s_fail(why, "bad service name");
    if (count < 4)
        return s_fail(why, "missing body frame");
    out->service = frames[2];
    out->body = &frames[3];
    out->nbody = count - 3;
    return 0;
}

int sp_mdpw_parse(const sp_frame_t *frames, size_t count, sp_mdpw_t *out, const char **why)
{
    memset(out, 0, sizeof *out);
    if (count < 2)
        return s_fail(why, "message too short");
    if (frames[0].size != 0)
        return s_fail(why, "first frame is not empty");
    if (!sp_frame_equals(frames[1], SP_MDP_WORKER))
        return s_fail(why, "missing SPW01 header");
    if (count < 3)
        return s_fail(why, "missing command frame");
    if (frames[2].size != 1)
        return s_fail(why, "command frame is not one byte");
    int command = ((const unsigned char *)frames[2].data)[0];
    out->command = command;
    switch (command) {
    case SP_MDPW_READY:
        if (count != 5)
            return s_fail(why, "READY must have 5 frames");
        if (!sp_mdp_service_name_ok(frames[3]))
            return s_fail(why, "bad service name");
        if (s_parse_credit(frames[4], &out->credit) < 0)
            return s_fail(why, "bad credit");
        out->service = frames[3];
        return 0;
    case SP_MDPW_REQUEST:
        if (count < 6)
            return s_fail(why, "REQUEST must have at least 6 frames");
        if (frames[3].size != SP_MDP_REQUEST_ID_SIZE)
            return s_fail(why, "bad request id");
        out->request_id = frames[3];
        out->principal = frames[4];
        out->body = &frames[5];
        out->nbody = count - 5;
        return 0;
    case SP_MDPW_REPLY:
        if (count < 6)
            return s_fail(why, "REPLY must have at least 6 frames");
        if (frames[3].size != SP_MDP_REQUEST_ID_SIZE)
            return s_fail(why, "bad request id");
        if (frames[4].size != 0)
            return s_fail(why, "REPLY separator frame is not empty");
        out->request_id = frames[3];
        out->body = &frames[5];
        out->nbody = count - 5;
        return 0;
    case SP_MDPW_HEARTBEAT:
        if (count != 3)
            return s_fail(why, "HEARTBEAT must have 3 frames");
        return 0;
    case SP_MDPW_DISCONNECT:
        if (count != 3)
            return s_fail(why, "DISCONNECT must have 3 frames");
        return 0;
    default:
        out->command = 0;
        return s_fail(why, "unknown command");
    }
}
