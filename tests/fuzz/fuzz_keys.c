/*
 * fuzz_keys.c - libFuzzer target: the text formats keys live in and the
 * access decisions made from them:
 *   - lines of the broker's key registry (broker_keys_parse_line), their
 *     formatting back (broker_keys_format_line), and what a parsed key may
 *     do (broker_access_zap, _may_register, _may_subscribe,
 *     _pack_principal);
 *   - a new key as `samspil.keys` checks it (broker_keys_check_new);
 *   - certificate files (sp_curve_cert_parse).
 *
 * Input: one control byte (bits 0-1: what the rest is: 0 registry lines,
 * 1 a certificate file, 2 a key to create as text "name role tenants
 * public-key", 3 a packed samspil.v1.KeyRequest as the broker's
 * samspil.keys service decodes it (services/broker/main.c, s_keys_service
 * and s_keys_create up to the registry write); bits 2-7: pick a role, a
 * subscription), then the text or bytes (registry lines split at '\n').
 *
 * Checked beyond memory safety: format(parse(line)) parses to the same
 * key; unknown and revoked keys never pass ZAP; only services register
 * workers; an integrator's subscriptions stay inside its tenants (checked
 * against the topic rule written out here again); the packed principal
 * carries the key's name, role and tenants; check_new leaves every key
 * consistent (operators and services: all tenants and no list; others:
 * 1..98 distinct municipality codes); a refused certificate's reason never
 * contains its secret key, an accepted one holds three valid Z85 keys.
 */
#include "broker_access.h"
#include "broker_keys.h"
#include "fuzz_input.h"
#include "sp_curve.h"
#include "sp_municipality.h"

#include "samspil/v1/common.pb-c.h"
#include "samspil/v1/keys.pb-c.h"

#include <stdint.h>
#include <string.h>

static bool s_same_key(const broker_key_t *a, const broker_key_t *b)
{
    if (strcmp(a->public_key, b->public_key) || strcmp(a->name, b->name) || a->role != b->role ||
        a->all_tenants != b->all_tenants || a->ntenants != b->ntenants ||
        strcmp(a->created, b->created) || strcmp(a->revoked, b->revoked))
        return false;
    for (size_t i = 0; i < a->ntenants; i++)
        if (strcmp(a->tenants[i], b->tenants[i]))
            return false;
    return true;
}

/* The subscription rule for integrators, written out again: a prefix of
 * "<stream>//" (stream heads) or "<stream>/<tenant>/" for its tenant. */
static bool s_integrator_may(const broker_key_t *key, const char *p, size_t len)
{
    size_t s = 0;
    while (s < len && p[s] != '/')
        s++;
    if (s == 0 || s == len)
        return false;
    size_t t = s + 1;
    if (t < len && p[t] == '/')
        return true;
    size_t e = t;
    while (e < len && p[e] != '/')
        e++;
    if (e == len)
        return false;
    for (size_t i = 0; i < key->ntenants; i++)
        if (strlen(key->tenants[i]) == e - t && memcmp(key->tenants[i], p + t, e - t) == 0)
            return true;
    return false;
}

static void s_decisions(const broker_key_t *key, uint8_t control, const char *line)
{
    static const char *const domains[] = {BROKER_ZAP_DOMAIN_BROKER, BROKER_ZAP_DOMAIN_EVENTS_IN,
                                          BROKER_ZAP_DOMAIN_EVENTS_OUT, "other", NULL};
    for (size_t d = 0; d < sizeof domains / sizeof domains[0]; d++) {
        const char *reason = NULL;
        FZ_CHECK(!broker_access_zap(domains[d], BROKER_KEYS_UNKNOWN, key->role, &reason));
        FZ_CHECK(!broker_access_zap(domains[d], BROKER_KEYS_REVOKED, key->role, &reason));
        bool ok = broker_access_zap(domains[d], BROKER_KEYS_VALID, key->role, &reason);
        FZ_CHECK(reason != NULL);
        if (d == 1)
            FZ_CHECK(ok == (key->role == SAMSPIL__V1__ROLE__ROLE_SERVICE));
        if (d >= 3)
            FZ_CHECK(!ok);
    }
    FZ_CHECK(broker_access_may_register(key->role) ==
             (key->role == SAMSPIL__V1__ROLE__ROLE_SERVICE));

    /* subscriptions: the rest of the line after the sixth field as a prefix,
     * and a few made from the key's own tenants */
    char prefixes[4][64];
    snprintf(prefixes[0], sizeof prefixes[0], "registration/%s/",
             key->ntenants ? key->tenants[0] : "101");
    snprintf(prefixes[1], sizeof prefixes[1], "registration/%s",
             key->ntenants ? key->tenants[0] : "1");
    snprintf(prefixes[2], sizeof prefixes[2], "%c%s", (char)('a' + (control >> 3)), "//");
    snprintf(prefixes[3], sizeof prefixes[3], "%.*s", 40, line);
    for (size_t i = 0; i < 4; i++) {
        size_t len = strlen(prefixes[i]);
        bool may = broker_access_may_subscribe(key, prefixes[i], len);
        if (key->revoked[0])
            FZ_CHECK(!may);
        else if (key->role == SAMSPIL__V1__ROLE__ROLE_INTEGRATOR)
            FZ_CHECK(may == s_integrator_may(key, prefixes[i], len));
        else if (key->role != SAMSPIL__V1__ROLE__ROLE_OPERATOR &&
                 key->role != SAMSPIL__V1__ROLE__ROLE_SERVICE)
            FZ_CHECK(!may);
    }

    uint8_t *packed = NULL;
    size_t size = 0;
    FZ_CHECK(broker_access_pack_principal(key, &packed, &size) == 0);
    Samspil__V1__Principal *p = samspil__v1__principal__unpack(NULL, size, packed);
    FZ_CHECK(p != NULL);
    FZ_CHECK(strcmp(p->client_id, key->name) == 0 && p->role == key->role);
    FZ_CHECK(p->all_tenants == key->all_tenants);
    FZ_CHECK(p->n_tenants == (key->all_tenants ? 0 : key->ntenants));
    for (size_t i = 0; i < p->n_tenants; i++)
        FZ_CHECK(strcmp(p->tenants[i], key->tenants[i]) == 0);
    samspil__v1__principal__free_unpacked(p, NULL);
    free(packed);
}

static void s_registry(const char *text, size_t len, uint8_t control)
{
    size_t pos = 0;
    while (pos <= len) {
        size_t end = pos;
        while (end < len && text[end] != '\n')
            end++;
        char *line = strndup(text + pos, end - pos);
        if (!line)
            abort();
        broker_key_t key, again;
        char err[160];
        int rc = broker_keys_parse_line(line, &key, err, sizeof err);
        if (rc < 0) {
            FZ_CHECK(err[0] != '\0');
        } else if (rc == 1) {
            FZ_CHECK(sp_curve_key_valid(key.public_key));
            FZ_CHECK(broker_keys_name_valid(key.name));
            sp_buf_t out;
            sp_buf_init(&out);
            broker_keys_format_line(&key, &out);
            FZ_CHECK(out.len > 0 && out.data[out.len - 1] == '\n');
            out.data[--out.len] = '\0';
            FZ_CHECK(broker_keys_parse_line(out.data, &again, err, sizeof err) == 1);
            FZ_CHECK(s_same_key(&key, &again));
            sp_buf_free(&out);
            s_decisions(&key, control, line);
        }
        free(line);
        pos = end + 1;
    }
}

static void s_check_new(broker_key_t *key, uint8_t control, const char *text);

/* A KeyCreate as the broker checks it: "name role tenants public-key". */
static void s_create(const char *text, uint8_t control)
{
    broker_key_t key;
    memset(&key, 0, sizeof key);
    char name[80] = "", role[24] = "", tenants[600] = "", pub[48] = "";
    int n = sscanf(text, "%79s %23s %599s %47s", name, role, tenants, pub);
    (void)n;
    snprintf(key.name, sizeof key.name, "%s", name);
    if (broker_keys_role_parse(role, &key.role) != 0)
        key.role = (Samspil__V1__Role)(control >> 2);
    char err[160];
    if (strcmp(tenants, "*") == 0)
        key.all_tenants = true;
    else if (tenants[0] && broker_keys_tenants_parse(tenants, &key, err, sizeof err) != 0)
        FZ_CHECK(err[0] != '\0');
    if (control & 0x80)
        key.all_tenants = !key.all_tenants;
    snprintf(key.public_key, sizeof key.public_key, "%s", pub);
    s_check_new(&key, control, text);
}

/* The checks of a key to create once it is a broker_key_t. */
static void s_check_new(broker_key_t *key, uint8_t control, const char *text)
{
    sp_error_t e;
    sp_error_clear(&e);
    if (broker_keys_check_new(key, &e) != 0) {
        FZ_CHECK(sp_error_is_set(&e) && e.message[0] && e.field[0]);
        return;
    }
    FZ_CHECK(broker_keys_name_valid(key->name));
    FZ_CHECK(sp_curve_key_valid(key->public_key));
    bool all = key->role == SAMSPIL__V1__ROLE__ROLE_OPERATOR ||
               key->role == SAMSPIL__V1__ROLE__ROLE_SERVICE;
    FZ_CHECK(key->all_tenants == all);
    if (all) {
        FZ_CHECK(key->ntenants == 0);
    } else {
        FZ_CHECK(key->ntenants >= 1 && key->ntenants <= BROKER_KEYS_MAX_TENANTS);
        for (size_t i = 0; i < key->ntenants; i++) {
            FZ_CHECK(sp_municipality_find(key->tenants[i]) != NULL);
            for (size_t j = 0; j < i; j++)
                FZ_CHECK(strcmp(key->tenants[i], key->tenants[j]) != 0);
        }
    }
    broker_keys_now(key->created);
    s_decisions(key, control, text);
}

/* samspil.keys: decode a KeyRequest and, for a create, build and check the
 * key as s_keys_create in services/broker/main.c does (keep in step). */
static void s_key_request(const uint8_t *data, size_t len, uint8_t control)
{
    Samspil__V1__KeyRequest *request = samspil__v1__key_request__unpack(NULL, len, data);
    if (!request)
        return;
    if (request->op_case == SAMSPIL__V1__KEY_REQUEST__OP_CREATE) {
        const Samspil__V1__KeyCreate *create = request->create;
        broker_key_t key;
        memset(&key, 0, sizeof key);
        bool ok = create->name && strlen(create->name) < sizeof key.name &&
                  create->n_tenants <= BROKER_KEYS_MAX_TENANTS && create->public_key &&
                  strlen(create->public_key) == SP_CURVE_KEY_Z85 - 1;
        for (size_t i = 0; ok && i < create->n_tenants; i++)
            ok = create->tenants[i] && strlen(create->tenants[i]) == 3;
        if (ok) {
            snprintf(key.name, sizeof key.name, "%s", create->name);
            key.role = create->role;
            key.all_tenants = create->all_tenants;
            for (size_t i = 0; i < create->n_tenants; i++)
                memcpy(key.tenants[i], create->tenants[i], 4);
            key.ntenants = create->n_tenants;
            memcpy(key.public_key, create->public_key, SP_CURVE_KEY_Z85);
            s_check_new(&key, control, create->name);
        }
    } else if (request->op_case == SAMSPIL__V1__KEY_REQUEST__OP_REVOKE) {
        const Samspil__V1__KeyRevoke *r = request->revoke;
        FZ_CHECK(r != NULL);
        if (r->key_case == SAMSPIL__V1__KEY_REVOKE__KEY_NAME)
            (void)broker_keys_name_valid(r->name);
        else if (r->key_case == SAMSPIL__V1__KEY_REVOKE__KEY_PUBLIC_KEY)
            (void)sp_curve_key_valid(r->public_key);
    } else if (request->op_case == SAMSPIL__V1__KEY_REQUEST__OP_LIST) {
        FZ_CHECK(request->list != NULL);
    }
    samspil__v1__key_request__free_unpacked(request, NULL);
}

static void s_cert(const char *text, size_t len)
{
    sp_curve_client_t cert;
    char err[128];
    if (sp_curve_cert_parse(text, len, &cert, err, sizeof err) == 0) {
        FZ_CHECK(!cert.plaintext);
        FZ_CHECK(sp_curve_key_valid(cert.public_key) && sp_curve_key_valid(cert.secret_key) &&
                 sp_curve_key_valid(cert.broker_key));
        return;
    }
    FZ_CHECK(err[0] != '\0');
    FZ_CHECK(!cert.secret_key[0] && !cert.public_key[0]);
    /* the reason names lines and keys, never a secret-key value: look at
     * every "secret-key = VALUE" line with a value of 16 bytes or more */
    for (size_t pos = 0; pos < len;) {
        size_t end = pos;
        while (end < len && text[end] != '\n')
            end++;
        const char *p = text + pos, *stop = text + end;
        while (p < stop && (*p == ' ' || *p == '\t'))
            p++;
        if (stop - p > 10 && memcmp(p, "secret-key", 10) == 0) {
            p += 10;
            while (p < stop && (*p == ' ' || *p == '\t'))
                p++;
            if (p < stop && *p == '=') {
                p++;
                while (p < stop && (*p == ' ' || *p == '\t'))
                    p++;
                size_t vlen = (size_t)(stop - p);
                if (vlen >= 16 && !memchr(p, '\0', vlen)) {
                    char value[64];
                    snprintf(value, sizeof value, "%.*s", 16, p);
                    FZ_CHECK(strstr(err, value) == NULL);
                }
            }
        }
        pos = end + 1;
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    fz_input_t in;
    fz_init(&in, data, size);
    uint8_t control = fz_byte(&in);
    size_t len;
    char *text = fz_rest_string(&in, &len);
    switch (control & 3) {
    case 0:
        s_registry(text, len, control);
        break;
    case 1:
        s_cert(text, len);
        break;
    case 2:
        s_create(text, control);
        break;
    case 3:
        s_key_request((const uint8_t *)text, len, control);
        break;
    }
    free(text);
    return 0;
}

/* --- seeds */

static void s_seed(const char *dir, const char *name, uint8_t control, const char *text)
{
    sp_buf_t buf;
    sp_buf_init(&buf);
    fz_put_byte(&buf, control);
    sp_buf_puts(&buf, text);
    fz_write_seed(dir, name, &buf);
    sp_buf_free(&buf);
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    fz_trace_init();
    const char *dir = fz_seed_dir();
    if (!dir)
        return 0;
    sp_curve_client_t a, b;
    memset(&a, 0, sizeof a);
    memset(&b, 0, sizeof b);
    if (sp_curve_keypair(&a) != 0 || sp_curve_keypair(&b) != 0)
        exit(1);
    char text[2048];
    snprintf(text, sizeof text,
             "# Samspil registry\n"
             "%s alice integrator 101,751 2026-11-27T07:00:00Z -\n"
             "%s ops operator * 2026-11-27T07:00:00Z -\n"
             "%s relay service * 2026-11-27T07:00:00Z 2026-11-28T07:00:00Z\n"
             "%s bob facilitator 147 2026-11-27T07:00:00Z -\n"
             "%s carol reader 101 2026-11-27T07:00:00Z -\r\n",
             a.public_key, b.public_key, a.public_key, b.public_key, a.public_key);
    s_seed(dir, "registry", 0, text);
    snprintf(text, sizeof text,
             "# Samspil client certificate: keep this file secret (mode 0600)\n"
             "name = alice\nrole = integrator\ntenants = 101,147\n"
             "public-key = %s\nsecret-key = %s\nbroker-key = %s\n",
             a.public_key, a.secret_key, b.public_key);
    s_seed(dir, "certificate", 1, text);
    snprintf(text, sizeof text, "public-key = %s\nsecret-key = %s\nbroker-key = %s\n", a.public_key,
             b.secret_key, b.public_key);
    s_seed(dir, "certificate-mismatch", 1, text);
    snprintf(text, sizeof text, "alice integrator 101,751 %s", a.public_key);
    s_seed(dir, "create-integrator", 2, text);
    snprintf(text, sizeof text, "ops operator * %s", b.public_key);
    s_seed(dir, "create-operator", 2, text);

    char *tenants[] = {"101", "751"};
    Samspil__V1__KeyCreate create = SAMSPIL__V1__KEY_CREATE__INIT;
    create.name = "alice";
    create.role = SAMSPIL__V1__ROLE__ROLE_INTEGRATOR;
    create.tenants = tenants;
    create.n_tenants = 2;
    create.public_key = a.public_key;
    Samspil__V1__KeyRequest request = SAMSPIL__V1__KEY_REQUEST__INIT;
    request.op_case = SAMSPIL__V1__KEY_REQUEST__OP_CREATE;
    request.create = &create;
    uint8_t packed[512];
    size_t size = samspil__v1__key_request__pack(&request, packed);
    sp_buf_t buf;
    sp_buf_init(&buf);
    fz_put_byte(&buf, 3);
    sp_buf_append(&buf, packed, size);
    fz_write_seed(dir, "key-request-create", &buf);
    sp_buf_reset(&buf);
    Samspil__V1__KeyRevoke revoke = SAMSPIL__V1__KEY_REVOKE__INIT;
    revoke.key_case = SAMSPIL__V1__KEY_REVOKE__KEY_NAME;
    revoke.name = "alice";
    request.op_case = SAMSPIL__V1__KEY_REQUEST__OP_REVOKE;
    request.revoke = &revoke;
    size = samspil__v1__key_request__pack(&request, packed);
    fz_put_byte(&buf, 3);
    sp_buf_append(&buf, packed, size);
    fz_write_seed(dir, "key-request-revoke", &buf);
    sp_buf_free(&buf);
    exit(0);
}
