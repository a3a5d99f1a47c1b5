/*
 * ctl_keys.h - samspilctl's key commands on the broker's key registry
 * ("samspil.keys", keys.proto): key create (a key pair made here, the
 * public key registered, the certificate file written), key list and key
 * revoke.
 */
#ifndef CTL_KEYS_H
#define CTL_KEYS_H

#include "ctl_args.h"
#include "sp_curve.h"

/* key create: refuse an existing certificate file, make a key pair,
 * register the public key, write the certificate (mode 0600) with the
 * broker key from the reply (or from `curve`), print its path (-o json:
 * the KeyInfo).  When the file cannot be written after the key was
 * registered, the key is revoked again.  Returns the exit status. */
int ctl_keys_create(const ctl_invocation_t *inv, const sp_curve_client_t *curve);

/* key list and key revoke: one KeyRequest, the reply printed.  Returns
 * the exit status. */
int ctl_keys_call(const ctl_invocation_t *inv, const sp_curve_client_t *curve);

#endif
