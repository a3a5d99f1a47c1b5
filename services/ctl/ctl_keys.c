/*
 * ctl_keys.c - key create, list and revoke against the broker's key
 * registry (see ctl_keys.h).
 *
 * key create sends the same fresh public key on every attempt, so when a
 * retry after a lost reply meets `already_exists`, a `key list` that shows
 * this very public key proves the first attempt registered it.  key revoke
 * is sent once (a repeat would find no valid key of that name).
 */
#include "ctl_keys.h"

#include "ctl_client.h"
#include "ctl_output.h"
#include "sp_pbenum.h"

#include <errno.h>
#include <libgen.h>
#include <sodium.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define CTL_KEYS_SERVICE "samspil.keys"

/* Send `req`; on success *reply is the KeyReply (caller frees).  Returns
 * CTL_EXIT_OK, or the exit status after reporting (an error reply is left
 * in *reply for the caller to inspect when `keep_error`). */
static int s_call(const ctl_invocation_t *inv, sp_client_t *client,
                  const Samspil__V1__KeyRequest *req, Samspil__V1__KeyReply **reply,
                  bool keep_error)
{
    ProtobufCMessage *msg = NULL;
    *reply = NULL;
    if (sp_client_call_pb(client, CTL_KEYS_SERVICE, &req->base, &samspil__v1__key_reply__descriptor,
                          &msg) < 0)
        return ctl_call_failed(inv, CTL_KEYS_SERVICE);
    Samspil__V1__KeyReply *r = (Samspil__V1__KeyReply *)msg;
    if (r->error && r->error->code != SAMSPIL__V1__ERROR_CODE__ERROR_CODE_UNSPECIFIED) {
        if (keep_error) {
            *reply = r;
            return CTL_EXIT_REPLY;
        }
        int exit_code = ctl_error_reply(r->error);
        samspil__v1__key_reply__free_unpacked(r, NULL);
        return exit_code;
    }
    *reply = r;
    return CTL_EXIT_OK;
}

/* After `already_exists` on create: is our public key registered under our
 * name?  Returns the matching KeyInfo's reply (caller frees), or NULL. */
static Samspil__V1__KeyReply *s_find_own(const ctl_invocation_t *inv, sp_client_t *client,
                                         const char *name, const char *public_key,
                                         const Samspil__V1__KeyInfo **found)
{
    Samspil__V1__KeyList list = SAMSPIL__V1__KEY_LIST__INIT;
    Samspil__V1__KeyRequest req = SAMSPIL__V1__KEY_REQUEST__INIT;
    req.op_case = SAMSPIL__V1__KEY_REQUEST__OP_LIST;
    req.list = &list;
    Samspil__V1__KeyReply *reply = NULL;
    if (s_call(inv, client, &req, &reply, false) != CTL_EXIT_OK)
        return NULL;
    for (size_t i = 0; i < reply->n_keys; i++) {
        const Samspil__V1__KeyInfo *k = reply->keys[i];
        if (k->public_key && strcmp(k->public_key, public_key) == 0 && k->name &&
            strcmp(k->name, name) == 0 && (!k->revoked || !*k->revoked)) {
            *found = k;
            return reply;
        }
    }
    samspil__v1__key_reply__free_unpacked(reply, NULL);
    return NULL;
}

/* Best effort: revoke the key just registered (its certificate could not be
 * written).  Returns 0 when the broker confirmed. */
static int s_undo(const ctl_invocation_t *inv, sp_client_t *client, const char *public_key)
{
    Samspil__V1__KeyRevoke revoke = SAMSPIL__V1__KEY_REVOKE__INIT;
    revoke.key_case = SAMSPIL__V1__KEY_REVOKE__KEY_PUBLIC_KEY;
    revoke.public_key = (char *)public_key;
    Samspil__V1__KeyRequest req = SAMSPIL__V1__KEY_REQUEST__INIT;
    req.op_case = SAMSPIL__V1__KEY_REQUEST__OP_REVOKE;
    req.revoke = &revoke;
    Samspil__V1__KeyReply *reply = NULL;
    int rc = s_call(inv, client, &req, &reply, false);
    if (reply)
        samspil__v1__key_reply__free_unpacked(reply, NULL);
    return rc == CTL_EXIT_OK ? 0 : -1;
}

/* Where the certificate goes: refuse an existing file, check that its
 * directory is writable (it is never made: the suite's keys directory is
 * made by the suite).  Returns 0, or
 * -1 after a line on stderr. */
static int s_check_out(const ctl_invocation_t *inv)
{
    const char *path = inv->key_out;
    if (access(path, F_OK) == 0) {
        fprintf(stderr,
                CTL_PROGRAM ": the certificate file %s exists; remove it or give another --out\n",
                path);
        return -1;
    }
    char *copy = strdup(path);
    if (!copy)
        abort();
    const char *dir = dirname(copy);
    if (access(dir, W_OK | X_OK) < 0) {
        fprintf(stderr, CTL_PROGRAM ": cannot write the certificate into %s: %s\n", dir,
                strerror(errno));
        free(copy);
        return -1;
    }
    free(copy);
    return 0;
}

int ctl_keys_create(const ctl_invocation_t *inv, const sp_curve_client_t *curve)
{
    ctl_request_t *r = malloc(sizeof *r);
    sp_curve_client_t *cert = sodium_malloc(sizeof *cert);
    if (!r || !cert)
        abort();
    memset(cert, 0, sizeof *cert);
    int exit_code = CTL_EXIT_OK;
    sp_client_t *client = NULL;
    Samspil__V1__KeyReply *reply = NULL;
    sp_buf_t err;
    sp_buf_init(&err);
    if (ctl_args_build(inv, NULL, r, &err) < 0) {
        ctl_write(stderr, &err);
        exit_code = CTL_EXIT_USAGE;
        goto done;
    }
    Samspil__V1__KeyCreate *create = r->key_req.create;
    if (s_check_out(inv) < 0) {
        exit_code = CTL_EXIT_REPLY;
        goto done;
    }
    if (sp_curve_keypair(cert) < 0) {
        fprintf(stderr, CTL_PROGRAM ": could not generate a key pair\n");
        exit_code = CTL_EXIT_REPLY;
        goto done;
    }
    snprintf(cert->name, sizeof cert->name, "%s", create->name);
    create->public_key = cert->public_key;
    client = ctl_connect(inv, curve);
    if (!client) {
        exit_code = CTL_EXIT_UNAVAILABLE;
        goto done;
    }

    const Samspil__V1__KeyInfo *key = NULL;
    exit_code = s_call(inv, client, &r->key_req, &reply, true);
    if (exit_code == CTL_EXIT_REPLY && reply && reply->error &&
        reply->error->code == SAMSPIL__V1__ERROR_CODE__ERROR_CODE_ALREADY_EXISTS) {
        /* taken by another key, or our own first attempt whose reply was lost */
        Samspil__V1__KeyReply *own = s_find_own(inv, client, create->name, cert->public_key, &key);
        if (own) {
            samspil__v1__key_reply__free_unpacked(reply, NULL);
            reply = own;
            exit_code = CTL_EXIT_OK;
        }
    }
    if (exit_code != CTL_EXIT_OK) {
        if (reply && reply->error)
            exit_code = ctl_error_reply(reply->error);
        goto done;
    }
    if (!key)
        key = reply->key;
    if (!key) {
        fprintf(stderr, CTL_PROGRAM ": unexpected reply from " CTL_KEYS_SERVICE ": no key\n");
        exit_code = CTL_EXIT_REPLY;
        s_undo(inv, client, cert->public_key);
        goto done;
    }

    /* the broker key: from the reply, else from the certificate acted with */
    if (reply->broker_key && sp_curve_key_valid(reply->broker_key))
        snprintf(cert->broker_key, sizeof cert->broker_key, "%s", reply->broker_key);
    else if (!curve->plaintext && sp_curve_key_valid(curve->broker_key))
        snprintf(cert->broker_key, sizeof cert->broker_key, "%s", curve->broker_key);
    char role[32], tenants[512];
    sp_pbenum_short_name(&samspil__v1__role__descriptor, key->role, role, sizeof role);
    ctl_output_key_tenants(key, tenants, sizeof tenants);
    if (!sp_curve_key_valid(cert->broker_key) ||
        sp_curve_cert_write(inv->key_out, cert, role, tenants) < 0) {
        bool undone = s_undo(inv, client, cert->public_key) == 0;
        fprintf(stderr, CTL_PROGRAM ": could not write the certificate %s%s; the key %s\n",
                inv->key_out,
                sp_curve_key_valid(cert->broker_key) ? "" : " (the broker's public key is unknown)",
                undone ? "was revoked again" : "is registered: revoke it with 'key revoke'");
        exit_code = CTL_EXIT_REPLY;
        goto done;
    }

    sp_buf_t out;
    sp_buf_init(&out);
    if (inv->output == CTL_OUTPUT_JSON)
        ctl_output_json(&out, &key->base);
    else
        sp_buf_printf(&out, "%s\n", inv->key_out);
    exit_code = ctl_emit(&out);
    sp_buf_free(&out);

done:
    if (reply)
        samspil__v1__key_reply__free_unpacked(reply, NULL);
    sp_client_destroy(&client);
    sp_buf_free(&err);
    sodium_free(cert); /* zeroes the secret key */
    free(r);
    return exit_code;
}

int ctl_keys_call(const ctl_invocation_t *inv, const sp_curve_client_t *curve)
{
    ctl_request_t *r = malloc(sizeof *r);
    if (!r)
        abort();
    sp_buf_t err;
    sp_buf_init(&err);
    if (ctl_args_build(inv, NULL, r, &err) < 0) {
        ctl_write(stderr, &err);
        sp_buf_free(&err);
        free(r);
        return CTL_EXIT_USAGE;
    }
    sp_buf_free(&err);
    sp_client_t *client = ctl_connect(inv, curve);
    if (!client) {
        free(r);
        return CTL_EXIT_UNAVAILABLE;
    }
    bool list = r->key_req.op_case == SAMSPIL__V1__KEY_REQUEST__OP_LIST;
    if (!list)
        sp_client_set_retries(client, 0);
    Samspil__V1__KeyReply *reply = NULL;
    int exit_code = s_call(inv, client, &r->key_req, &reply, false);
    if (exit_code == CTL_EXIT_OK) {
        sp_buf_t out;
        sp_buf_init(&out);
        if (list && inv->output == CTL_OUTPUT_JSON)
            ctl_output_list_json(&out, (ProtobufCMessage *const *)reply->keys, reply->n_keys, "");
        else if (list)
            ctl_output_keys_text(&out, reply->keys, reply->n_keys);
        else if (!reply->key)
            fprintf(stderr, CTL_PROGRAM ": unexpected reply from " CTL_KEYS_SERVICE ": no key\n");
        else if (inv->output == CTL_OUTPUT_JSON)
            ctl_output_json(&out, &reply->key->base);
        else
            ctl_output_fields(&out, &reply->key->base);
        exit_code = !list && !reply->key ? CTL_EXIT_REPLY : ctl_emit(&out);
        sp_buf_free(&out);
    }
    if (reply)
        samspil__v1__key_reply__free_unpacked(reply, NULL);
    sp_client_destroy(&client);
    free(r);
    return exit_code;
}
