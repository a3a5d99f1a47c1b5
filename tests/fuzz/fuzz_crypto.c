/*
 * fuzz_crypto.c - libFuzzer target: the parsers of common/sp_crypto.c that
 * see outside data: CPR numbers as clients send them (sp_cpr_parse,
 * sp_cpr_mask, registration_cpr_stored_ref) and sealed values as they come
 * back from the database (sp_seal_key_id, sp_open).
 *
 * Input: one control byte (bits 0-1: 0 CPR text, 1 sealed text, 2 a value
 * to seal and tamper with; bits 2-7: which byte to flip), then the text.
 *
 * Checked beyond memory safety: a CPR number is accepted only in the shape
 * DDMMYY-SSSS or DDMMYYSSSS with a real date and normalised to ten digits;
 * its mask shows no character of it but '-'; its stored ref is the
 * pseudonym form and does not contain the digits; nothing but what sp_seal
 * made opens, and what it made opens to the same bytes under the same
 * associated data only; a flipped byte never opens.
 */
#include "fuzz_input.h"
#include "registration_cpr.h"
#include "sp_crypto.h"

#include <errno.h>
#include <stdint.h>
#include <string.h>

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
    case 3:
        s_cpr(text);
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
    exit(0);
}
