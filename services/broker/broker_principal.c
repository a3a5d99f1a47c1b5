/*
 * broker_principal.c - the principal of each request (development mode).
 */
#include "broker_principal.h"
#include "sp_principal.h"

#include <stdlib.h>

struct broker_principal_t {
    bool development;
    uint8_t *packed; /* the development principal, packed once */
    size_t packed_size;
};

broker_principal_t *broker_principal_new_development(void)
{
    broker_principal_t *self = calloc(1, sizeof *self);
    if (!self)
        return NULL;
    Samspil__V1__Principal principal = SAMSPIL__V1__PRINCIPAL__INIT;
    principal.client_id = (char *)BROKER_PRINCIPAL_DEV_CLIENT;
    principal.role = SP_ROLE_OPERATOR;
    principal.all_tenants = true;
    self->packed_size = samspil__v1__principal__get_packed_size(&principal);
    self->packed = malloc(self->packed_size ? self->packed_size : 1);
    if (!self->packed) {
        free(self);
        return NULL;
    }
    samspil__v1__principal__pack(&principal, self->packed);
    self->development = true;
    return self;
}

void broker_principal_destroy(broker_principal_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    free((*self_p)->packed);
    free(*self_p);
    *self_p = NULL;
}

bool broker_principal_development_mode(const broker_principal_t *self)
{
    return self->development;
}

int broker_principal_for(const broker_principal_t *self, const char *user_id, sp_frame_t *packed)
{
    (void)user_id; /* development mode: the same operator for every connection */
    if (!self->development)
        return -1;
    packed->data = self->packed;
    packed->size = self->packed_size;
    return 0;
}
