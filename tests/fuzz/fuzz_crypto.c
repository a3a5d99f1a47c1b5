/*
 * fuzz_crypto.c - libFuzzer target: the parsers of common/sp_crypto.c that
 * see outside data: CPR numbers as clients send them (sp_cpr_parse,
 * sp_cpr_mask, registration_cpr_stored_ref) and sealed values as they come
 * back from the database (sp_seal_key_id, sp_open, and an actor's sealed
 * contact points: registration_contacts_open / _seal / _reseal with a real
 * key ring in a temporary directory).
 *
 * Input: one control byte (bits 0-1: 0 CPR text, 1 sealed text, 2 a value
 * to seal and tamper with, 3 a packed ContactPointList to seal for a row;
 * bits 2-7: which byte to flip), then the text.
 *
 * Checked beyond memory safety: a CPR number is accepted only in the shape
 * DDMMYY-SSSS or DDMMYYSSSS with a real date and normalised to ten digits;
 * its mask shows no character of it but '-'; its stored ref is the
 * pseudonym form and does not contain the digits; nothing but what sp_seal
 * made opens, and what it made opens to the same bytes under the same
 * associated data only; a flipped byte never opens; sealed contact points
 * open (also after a reseal) to the same list for the same row only, with
 * the same fingerprint each time.
 */
#include "fuzz_input.h"
#include "registration_contacts.h"
#include "registration_cpr.h"
#include "sp_crypto.h"

#include <dirent.h>
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define ACTOR "0190f5a4-7b7e-7c3a-9d2e-3f1a2b4c5d6e"
#define OTHER_ACTOR "0190f5a4-7b7e-7c3a-9d2e-3f1a2b4c5d6f"
#define NO_ACTOR "0190f5a4-7b7e-7c3a-9d2e-3f1a2b4c5d70"

/* A key ring in a temporary directory, made once (removed at exit). */
static sp_keyring_t *s_ring;
static char s_ring_dir[256];

static void s_ring_cleanup(void)
{
    sp_keyring_destroy(&s_ring);
    char dir[300], path[600];
    snprintf(dir, sizeof dir, "%s/ring", s_ring_dir);
    DIR *d = opendir(dir);
    for (struct dirent *e; d && (e = readdir(d));) {
        if (strcmp(e->d_name, ".") && strcmp(e->d_name, "..")) {
            snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
            unlink(path);
        }
    }
    if (d)
        closedir(d);
    rmdir(dir);
    rmdir(s_ring_dir);
}

static void s_ring_init(void)
{
    const char *tmp = getenv("TMPDIR");
    snprintf(s_ring_dir, sizeof s_ring_dir, "%s/samspil-fuzz-ring-XXXXXX",
             tmp && *tmp ? tmp : "/tmp");
    FZ_CHECK(mkdtemp(s_ring_dir) != NULL);
    char dir[300];
    snprintf(dir, sizeof dir, "%s/ring", s_ring_dir);
    s_ring = sp_keyring_new(dir);
    FZ_CHECK(s_ring != NULL && sp_keyring_init(s_ring) >= 0);
    FZ_CHECK(sp_keyring_current(s_ring) != 0);
    atexit(s_ring_cleanup);
}

static bool s_same_list(const Samspil__V1__ContactPointList *a,
                        const Samspil__V1__ContactPointList *b)
{
    if (a->n_items != b->n_items)
        return false;
    for (size_t i = 0; i < a->n_items; i++)
        if (a->items[i]->kind != b->items[i]->kind ||
            a->items[i]->preferred != b->items[i]->preferred ||
            strcmp(a->items[i]->value, b->items[i]->value) != 0)
            return false;
    return true;
}

/* An actor's contact points sealed, opened, resealed. */
static void s_contacts(const uint8_t *data, size_t len)
{
    Samspil__V1__ContactPointList *list = samspil__v1__contact_point_list__unpack(NULL, len, data);
    if (!list)
        return;
    registration_sealed_t a = {0}, b = {0};
    FZ_CHECK(registration_contacts_seal(s_ring, "101", ACTOR, list->items, list->n_items, &a) == 0);
    FZ_CHECK(registration_contacts_seal(s_ring, "101", ACTOR, list->items, list->n_items, &b) == 0);
    if (list->n_items == 0) {
        FZ_CHECK(a.sealed == NULL && a.fp[0] == '\0');
    } else {
        FZ_CHECK(a.sealed && b.sealed && strcmp(a.sealed, b.sealed) != 0); /* fresh nonce */
        FZ_CHECK(strcmp(a.fp, b.fp) == 0 && strlen(a.fp) == REGISTRATION_FP_SIZE - 1);
        Samspil__V1__ContactPointList *back = NULL;
        FZ_CHECK(registration_contacts_open(s_ring, "101", ACTOR, a.sealed, NULL, &back) == 0);
        FZ_CHECK(s_same_list(list, back));
        samspil__v1__contact_point_list__free_unpacked(back, NULL);
        /* bound to the row: another actor or tenant does not open it */
        back = NULL;
        FZ_CHECK(registration_contacts_open(s_ring, "101", OTHER_ACTOR, a.sealed, NULL, &back) !=
                     0 &&
                 back == NULL);
        FZ_CHECK(registration_contacts_open(s_ring, "751", ACTOR, a.sealed, NULL, &back) != 0);
        char *resealed = NULL;
        FZ_CHECK(registration_contacts_reseal(s_ring, "101", ACTOR, a.sealed, &resealed) == 0);
        FZ_CHECK(registration_contacts_open(s_ring, "101", ACTOR, resealed, NULL, &back) == 0);
        FZ_CHECK(s_same_list(list, back));
        samspil__v1__contact_point_list__free_unpacked(back, NULL);
        free(resealed);
    }
    registration_sealed_clear(&a);
    registration_sealed_clear(&b);
    samspil__v1__contact_point_list__free_unpacked(list, NULL);
}

static const uint8_t s_key[SP_DATA_KEY_SIZE] = "fuzz data key, 32 bytes long ..";

/* Days in month, written out again (Gregorian). */
static int s_days(int year, int month)
{
    static const int days[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    bool leap = (year % 4 == 0 && year % 100 != 0) || year % 400 == 0;
    return month == 2 && leap ? 29 : days[month - 1];
}

static void s_cpr(const char *text)
{
    char out[SP_CPR_SIZE];
    sp_cpr_status_t st = sp_cpr_parse(text, out);
    size_t len = strlen(text);
    bool shape = (len == 10 || (len == 11 && text[6] == '-'));
    for (size_t i = 0; shape && i < len; i++)
        if (!(len == 11 && i == 6) && (text[i] < '0' || text[i] > '9'))
            shape = false;
    if (st == SP_CPR_OK) {
        FZ_CHECK(shape);
        FZ_CHECK(strlen(out) == SP_CPR_DIGITS);
        char digits[SP_CPR_SIZE];
        size_t n = 0;
        for (size_t i = 0; i < len; i++)
            if (text[i] != '-')
                digits[n++] = text[i];
        digits[n] = '\0';
        FZ_CHECK(strcmp(out, digits) == 0);
        int day = (out[0] - '0') * 10 + (out[1] - '0');
        int month = (out[2] - '0') * 10 + (out[3] - '0');
        int year = sp_cpr_year((out[4] - '0') * 10 + (out[5] - '0'), out[6] - '0');
        FZ_CHECK(year >= 1858 && year <= 2057);
        FZ_CHECK(month >= 1 && month <= 12 && day >= 1 && day <= s_days(year, month));

        char ref[40], stored[REGISTRATION_CPR_REF_SIZE];
        snprintf(ref, sizeof ref, "cpr:%s", text);
        FZ_CHECK(registration_cpr_stored_ref(s_key, "101", ref, stored) == 0);
        FZ_CHECK(registration_cpr_is_pseudonym(stored));
        FZ_CHECK(strcmp(registration_cpr_display(stored), SP_CPR_REF_MASKED) == 0);
        char other[REGISTRATION_CPR_REF_SIZE];
        FZ_CHECK(registration_cpr_stored_ref(s_key, "751", ref, other) == 0);
        FZ_CHECK(strcmp(stored, other) != 0); /* scoped to the tenant */
    } else {
        FZ_CHECK(out[0] == '\0');
        FZ_CHECK(st == SP_CPR_BAD_SHAPE ? !shape : shape);
    }
    char mask[32];
    sp_cpr_mask(text, mask, sizeof mask);
    for (const char *p = mask; *p; p++)
        FZ_CHECK(*p == '*' || *p == '-' || *p == '.');
}

static void s_open(const char *text)
{
    uint32_t id = 0;
    int rc = sp_seal_key_id(text, &id);
    uint8_t *plain = NULL;
    size_t len = 0;
    errno = 0;
    int orc = sp_open(s_key, text, "ad", 2, &plain, &len);
    /* a forgery would have to beat Poly1305 */
    FZ_CHECK(orc != 0);
    FZ_CHECK(plain == NULL && len == 0);
    FZ_CHECK(errno == EINVAL || errno == EBADMSG);
    if (rc != 0)
        FZ_CHECK(errno == EINVAL);
    sp_crypto_free(plain, len);
    /* the same text as the stored contact points of a row nothing is ever
     * sealed for here (the fuzzer sees the harness compare real seals of
     * ACTOR's row and may replay them: those open, rightly) */
    Samspil__V1__ContactPointList *list = NULL;
    errno = 0;
    FZ_CHECK(registration_contacts_open(s_ring, "147", NO_ACTOR, text, NULL, &list) != 0);
    FZ_CHECK(list == NULL);
    FZ_CHECK(errno == EINVAL || errno == EBADMSG || errno == ENOKEY);
}

static void s_roundtrip(const uint8_t *value, size_t len, uint8_t control)
{
    uint8_t ad[SP_SEAL_AD_MAX];
    size_t adlen = sp_seal_ad(ad, "contact_points", "101", "0190F5A4-7B7E-7C3A-9D2E-3F1A2B4C5D6E");
    FZ_CHECK(adlen > 0);
    uint32_t key_id = 1u + control;
    char *sealed = sp_seal(s_key, key_id, value, len, ad, adlen);
    FZ_CHECK(sealed != NULL);
    uint32_t id = 0;
    FZ_CHECK(sp_seal_key_id(sealed, &id) == 0 && id == key_id);
    uint8_t *plain = NULL;
    size_t plen = 0;
    FZ_CHECK(sp_open(s_key, sealed, ad, adlen, &plain, &plen) == 0);
    FZ_CHECK(plen == len && (len == 0 || memcmp(plain, value, len) == 0));
    FZ_CHECK(plain[plen] == '\0');
    sp_crypto_free(plain, plen);
    /* other associated data (another row) does not open it */
    uint8_t ad2[SP_SEAL_AD_MAX];
    size_t ad2len =
        sp_seal_ad(ad2, "contact_points", "101", "0190f5a4-7b7e-7c3a-9d2e-3f1a2b4c5d6f");
    FZ_CHECK(sp_open(s_key, sealed, ad2, ad2len, &plain, &plen) != 0 && errno == EBADMSG);
    /* one changed character does not open it */
    size_t slen = strlen(sealed);
    size_t at = ((size_t)control * 2654435761u) % slen;
    sealed[at] = sealed[at] == 'A' ? 'B' : 'A';
    FZ_CHECK(sp_open(s_key, sealed, ad, adlen, &plain, &plen) != 0);
    free(sealed);
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
        s_cpr(text);
        break;
    case 3:
        s_contacts((const uint8_t *)text, len);
        break;
    case 1:
        s_open(text);
        break;
    case 2:
        s_roundtrip((const uint8_t *)text, len, control >> 2);
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
    s_ring_init();
    const char *dir = fz_seed_dir();
    if (!dir)
        return 0;
    s_seed(dir, "cpr-hyphen", 0, "010190-1234");
    s_seed(dir, "cpr-plain", 0, "2902204321");
    s_seed(dir, "cpr-bad-date", 0, "300290-1234");
    s_seed(dir, "value", 2, "someone@example.org");
    uint8_t ad[SP_SEAL_AD_MAX];
    size_t adlen = sp_seal_ad(ad, "contact_points", "101", "x");
    char *sealed = sp_seal(s_key, 7, "hello", 5, ad, adlen);
    if (!sealed)
        exit(1);
    s_seed(dir, "sealed", 1, sealed);
    free(sealed);
    Samspil__V1__ContactPoint cp1 = SAMSPIL__V1__CONTACT_POINT__INIT;
    cp1.kind = SAMSPIL__V1__CONTACT_KIND__CONTACT_KIND_EMAIL;
    cp1.value = "someone@example.org";
    cp1.preferred = true;
    Samspil__V1__ContactPoint cp2 = SAMSPIL__V1__CONTACT_POINT__INIT;
    cp2.kind = SAMSPIL__V1__CONTACT_KIND__CONTACT_KIND_POSTAL;
    cp2.value = "Skolevej 1\n8000 Aarhus C";
    Samspil__V1__ContactPoint *cps[] = {&cp1, &cp2};
    Samspil__V1__ContactPointList list = SAMSPIL__V1__CONTACT_POINT_LIST__INIT;
    list.items = cps;
    list.n_items = 2;
    uint8_t packed[256];
    size_t size = samspil__v1__contact_point_list__pack(&list, packed);
    sp_buf_t buf;
    sp_buf_init(&buf);
    fz_put_byte(&buf, 3);
    sp_buf_append(&buf, packed, size);
    fz_write_seed(dir, "contacts", &buf);
    sp_buf_free(&buf);
    exit(0);
}
