/*
 * registration_ids.c - UUID version 7 generation.
 */
#include "registration_ids.h"

#include <sodium.h>
#include <time.h>

void registration_uuid_v7_format(uint64_t unix_ms, const uint8_t random[10],
                                 char out[REGISTRATION_UUID_SIZE])
{
    uint8_t b[16];
    for (int i = 0; i < 6; i++)
        b[i] = (uint8_t)(unix_ms >> (40 - 8 * i));
    b[6] = (uint8_t)(0x70 | (random[0] & 0x0F)); /* version 7 */
    b[7] = random[1];
    b[8] = (uint8_t)(0x80 | (random[2] & 0x3F)); /* variant 10 */
    for (int i = 9; i < 16; i++)
        b[i] = random[i - 6];
    static const char hex[] = "0123456789abcdef";
    int o = 0;
    for (int i = 0; i < 16; i++) {
        if (i == 4 || i == 6 || i == 8 || i == 10)
            out[o++] = '-';
        out[o++] = hex[b[i] >> 4];
        out[o++] = hex[b[i] & 0x0F];
    }
    out[o] = '\0';
}

void registration_uuid_v7(char out[REGISTRATION_UUID_SIZE])
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    uint64_t ms = (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
    uint8_t random[10];
    randombytes_buf(random, sizeof random);
    registration_uuid_v7_format(ms, random, out);
}
