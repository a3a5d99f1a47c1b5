/*
 * test_sp_crypto.c - unit tests for sp_crypto: CPR numbers (shapes, real
 * dates, the century table, no modulus-11), masking, HMAC-SHA-256 against
 * RFC 4231, the CPR pseudonym against an independently computed value,
 * sealed values (known XChaCha20-Poly1305 vector, round trip, tampering,
 * wrong associated data, wrong key, malformed text), and the key ring in a
 * temporary directory (creation, modes, rotation, reloading, refusing
 * unsafe or malformed key files, several processes initialising at once).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "sp_crypto.h"

#include <errno.h>
#include <fcntl.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

/* ---------------------------------------------------------------- CPR */

static void s_cpr_ok(const char *text, const char *want)
{
    char out[SP_CPR_SIZE];
    assert_int_equal(sp_cpr_parse(text, out), SP_CPR_OK);
    assert_string_equal(out, want);
}

static void s_cpr_bad(const char *text, sp_cpr_status_t want)
{
    char out[SP_CPR_SIZE] = "x";
    assert_int_equal(sp_cpr_parse(text, out), want);
    assert_string_equal(out, "");
}

static void test_cpr_shapes(void **state)
{
    (void)state;
    s_cpr_ok("010190-1234", "0101901234");
    s_cpr_ok("0101901234", "0101901234");
    s_cpr_bad("", SP_CPR_BAD_SHAPE);
    s_cpr_bad(NULL, SP_CPR_BAD_SHAPE);
    s_cpr_bad("010190-123", SP_CPR_BAD_SHAPE);
    s_cpr_bad("010190-12345", SP_CPR_BAD_SHAPE);
    s_cpr_bad("010190 1234", SP_CPR_BAD_SHAPE);
    s_cpr_bad("01019-01234", SP_CPR_BAD_SHAPE);
    s_cpr_bad("010190--1234", SP_CPR_BAD_SHAPE);
    s_cpr_bad("01019o1234", SP_CPR_BAD_SHAPE);
    s_cpr_bad("0101901234 ", SP_CPR_BAD_SHAPE);
    s_cpr_bad("+101901234", SP_CPR_BAD_SHAPE);
}

static void test_cpr_dates(void **state)
{
    (void)state;
    s_cpr_ok("310190-1234", "3101901234");
    s_cpr_bad("000190-1234", SP_CPR_BAD_DATE);
    s_cpr_bad("320190-1234", SP_CPR_BAD_DATE);
    s_cpr_bad("010090-1234", SP_CPR_BAD_DATE);
    s_cpr_bad("011390-1234", SP_CPR_BAD_DATE);
    s_cpr_bad("310490-1234", SP_CPR_BAD_DATE);
    /* 29 February: 1996 and 2000 are leap years, 1900 and 1858 are not */
    s_cpr_ok("290296-0123", "2902960123");
    s_cpr_ok("290200-4123", "2902004123");     /* 2000 */
    s_cpr_ok("290200-5123", "2902005123");     /* 2000 */
    s_cpr_bad("290200-1123", SP_CPR_BAD_DATE); /* 1900 */
    s_cpr_bad("290258-5123", SP_CPR_BAD_DATE); /* 1858 */
    s_cpr_bad("290297-0123", SP_CPR_BAD_DATE);
}

static void test_cpr_no_modulus_11(void **state)
{
    (void)state;
    /* 0101901234: weighted sum 84, not divisible by 11 - still valid */
    s_cpr_ok("010190-1234", "0101901234");
    /* and one that passes it (weighted sum 154) is as valid */
    s_cpr_ok("070761-4285", "0707614285");
}

static void test_cpr_century_table(void **state)
{
    (void)state;
    assert_int_equal(sp_cpr_year(0, 0), 1900);
    assert_int_equal(sp_cpr_year(99, 3), 1999);
    assert_int_equal(sp_cpr_year(36, 4), 2036);
    assert_int_equal(sp_cpr_year(37, 4), 1937);
    assert_int_equal(sp_cpr_year(0, 5), 2000);
    assert_int_equal(sp_cpr_year(57, 5), 2057);
    assert_int_equal(sp_cpr_year(58, 5), 1858);
    assert_int_equal(sp_cpr_year(99, 8), 1899);
    assert_int_equal(sp_cpr_year(36, 9), 2036);
    assert_int_equal(sp_cpr_year(37, 9), 1937);
}

static void test_cpr_mask(void **state)
{
    (void)state;
    char out[32];
    assert_string_equal(sp_cpr_mask("010190-1234", out, sizeof out), "******-****");
    assert_string_equal(sp_cpr_mask("0101901234", out, sizeof out), "**********");
    assert_string_equal(sp_cpr_mask("01019012345678901234", out, sizeof out),
                        "****************...");
    assert_string_equal(sp_cpr_mask(NULL, out, sizeof out), "");
    char tiny[4];
    assert_string_equal(sp_cpr_mask("0101901234", tiny, sizeof tiny), "***");
}

/* ---------------------------------------------------------------- HMAC */

static void s_hex(const uint8_t *bin, size_t len, char *out)
{
    sodium_bin2hex(out, 2 * len + 1, bin, len);
}

static void test_hmac_rfc4231(void **state)
{
    (void)state;
    uint8_t mac[SP_HMAC_SIZE];
    char hex[2 * SP_HMAC_SIZE + 1];
    uint8_t k1[20];
    memset(k1, 0x0b, sizeof k1);
    sp_hmac_sha256(k1, sizeof k1, "Hi There", 8, mac);
    s_hex(mac, sizeof mac, hex);
    assert_string_equal(hex, "b0344c61d8db38535ca8afceaf0bf12b881dc200c9833da726e9376c2e32cff7");

    const char *m2 = "what do ya want for nothing?";
    sp_hmac_sha256((const uint8_t *)"Jefe", 4, m2, strlen(m2), mac);
    s_hex(mac, sizeof mac, hex);
    assert_string_equal(hex, "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843");

    uint8_t k6[131];
    memset(k6, 0xaa, sizeof k6);
    const char *m6 = "Test Using Larger Than Block-Size Key - Hash Key First";
    sp_hmac_sha256(k6, sizeof k6, m6, strlen(m6), mac);
    s_hex(mac, sizeof mac, hex);
    assert_string_equal(hex, "60e431591ee0b67f0d8a26aacbf5b77f8e0bc6213728c5140546040f0ee37f54");
}

static void test_cpr_pseudonym(void **state)
{
    (void)state;
    uint8_t key[SP_DATA_KEY_SIZE];
    for (int i = 0; i < SP_DATA_KEY_SIZE; i++)
        key[i] = (uint8_t)i;
    char cpr[SP_CPR_SIZE], a[SP_PSEUDONYM_HEX], b[SP_PSEUDONYM_HEX], c[SP_PSEUDONYM_HEX];
    assert_int_equal(sp_cpr_parse("010190-1234", cpr), SP_CPR_OK);
    /* HMAC-SHA-256(key 00..1f, "samspil-cpr-v1:751:0101901234"), computed with Python's hmac */
    sp_cpr_pseudonym(key, "751", cpr, a);
    assert_string_equal(a, "66a0d798f0ec3d03f2bf419fb4b780f7f228c2818635407845f5df2bf4f87ccd");
    /* another tenant: another pseudonym */
    sp_cpr_pseudonym(key, "101", cpr, b);
    assert_string_equal(b, "5984b83bb9bf8b59ca7a07bc2475e15466bc407f66f77211e58eac60b656fd7b");
    /* another key: another pseudonym; both spellings of the number: the same */
    key[0] ^= 1;
    sp_cpr_pseudonym(key, "751", cpr, c);
    assert_string_not_equal(a, c);
    key[0] ^= 1;
    assert_int_equal(sp_cpr_parse("0101901234", cpr), SP_CPR_OK);
    sp_cpr_pseudonym(key, "751", cpr, c);
    assert_string_equal(a, c);
}

/* ---------------------------------------------------------------- sealing */

static void s_key(uint8_t key[SP_DATA_KEY_SIZE], uint8_t first)
{
    for (int i = 0; i < SP_DATA_KEY_SIZE; i++)
        key[i] = (uint8_t)(first + i);
}

static void test_seal_known_vector(void **state)
{
    (void)state;
    /* draft-irtf-cfrg-xchacha-03 A.3.1: key 80..9f, nonce 40..57, AAD below */
    uint8_t key[SP_DATA_KEY_SIZE];
    s_key(key, 0x80);
    static const uint8_t aad[] = {0x50, 0x51, 0x52, 0x53, 0xc0, 0xc1,
                                  0xc2, 0xc3, 0xc4, 0xc5, 0xc6, 0xc7};
    const char *sealed =
        "v1.7.QEFCQ0RFRkdISUpLTE1OT1BRUlNUVVZXvW0XnT6D1DuVdleUk8DpOVcqFwAlK/rMvtKQLCE5bLtzHH8bC0qm"
        "RAvzqC9O2n45rmTGcIxUwhbLlrcuEhO0Ui+Mm6QNtdlFsRtpuYLBu54/P6wrw2lIj3ayODVl0//5IflmTJdjfal2"
        "iBL2FcaLE7UuwIdZJMHHmHlH3q/YeArPSQ==";
    uint8_t *plain = NULL;
    size_t len = 0;
    assert_int_equal(sp_open(key, sealed, aad, sizeof aad, &plain, &len), 0);
    const char *want = "Ladies and Gentlemen of the class of '99: If I could offer you only one "
                       "tip for the future, sunscreen would be it.";
    assert_int_equal(len, strlen(want));
    assert_memory_equal(plain, want, len);
    sp_crypto_free(plain, len);
    uint32_t id = 0;
    assert_int_equal(sp_seal_key_id(sealed, &id), 0);
    assert_int_equal(id, 7);
}

static void test_seal_round_trip(void **state)
{
    (void)state;
    uint8_t key[SP_DATA_KEY_SIZE], ad[SP_SEAL_AD_MAX];
    s_key(key, 1);
    size_t adlen = sp_seal_ad(ad, "contact_points", "751", "0190A1B2-0000-7000-8000-00000000AAAA");
    assert_true(adlen > 0);
    const char *value = "borger@example.dk";
    char *sealed = sp_seal(key, 3, value, strlen(value), ad, adlen);
    assert_non_null(sealed);
    assert_true(strncmp(sealed, "v1.3.", 5) == 0);
    assert_null(strstr(sealed, "borger"));
    /* a second seal of the same value differs (random nonce) */
    char *again = sp_seal(key, 3, value, strlen(value), ad, adlen);
    assert_string_not_equal(sealed, again);
    free(again);

    /* the row id is compared in lower case */
    uint8_t ad2[SP_SEAL_AD_MAX];
    size_t ad2len =
        sp_seal_ad(ad2, "contact_points", "751", "0190a1b2-0000-7000-8000-00000000aaaa");
    assert_int_equal(adlen, ad2len);
    assert_memory_equal(ad, ad2, adlen);
    uint8_t *plain = NULL;
    size_t len = 0;
    assert_int_equal(sp_open(key, sealed, ad2, ad2len, &plain, &len), 0);
    assert_int_equal(len, strlen(value));
    assert_string_equal((char *)plain, value);
    sp_crypto_free(plain, len);

    /* empty plaintext */
    char *empty = sp_seal(key, 1, NULL, 0, ad, adlen);
    assert_non_null(empty);
    assert_int_equal(sp_open(key, empty, ad, adlen, &plain, &len), 0);
    assert_int_equal(len, 0);
    sp_crypto_free(plain, 1);
    free(empty);

    /* key id 0 and over-long values are refused */
    assert_null(sp_seal(key, 0, value, strlen(value), ad, adlen));
    assert_null(sp_seal(key, 1, value, SP_SEAL_PLAIN_MAX + 1, ad, adlen));
    free(sealed);
}

static void s_expect_open_fails(const uint8_t *key, const char *sealed, const uint8_t *ad,
                                size_t adlen, int want_errno)
{
    uint8_t *plain = (uint8_t *)1;
    size_t len = 99;
    errno = 0;
    assert_int_equal(sp_open(key, sealed, ad, adlen, &plain, &len), -1);
    assert_int_equal(errno, want_errno);
    assert_null(plain);
    assert_int_equal(len, 0);
}

static void test_seal_wrong_ad_and_key(void **state)
{
    (void)state;
    uint8_t key[SP_DATA_KEY_SIZE], other[SP_DATA_KEY_SIZE];
    s_key(key, 1);
    s_key(other, 2);
    uint8_t ad[SP_SEAL_AD_MAX], bad[SP_SEAL_AD_MAX];
    const char *row = "0190a1b2-0000-7000-8000-00000000aaaa";
    size_t adlen = sp_seal_ad(ad, "contact_points", "751", row);
    char *sealed = sp_seal(key, 1, "+4512345678", 11, ad, adlen);
    assert_non_null(sealed);

    /* another row, another tenant, another purpose */
    size_t n = sp_seal_ad(bad, "contact_points", "751", "0190a1b2-0000-7000-8000-00000000aaab");
    s_expect_open_fails(key, sealed, bad, n, EBADMSG);
    n = sp_seal_ad(bad, "contact_points", "101", row);
    s_expect_open_fails(key, sealed, bad, n, EBADMSG);
    n = sp_seal_ad(bad, "name", "751", row);
    s_expect_open_fails(key, sealed, bad, n, EBADMSG);
    /* the parts are separated: "75" + "1row" is not "751" + "row" */
    n = sp_seal_ad(bad, "contact_points", "75", "10190a1b2-0000-7000-8000-00000000aaaa");
    s_expect_open_fails(key, sealed, bad, n, EBADMSG);
    /* the wrong key, even under the right id */
    s_expect_open_fails(other, sealed, ad, adlen, EBADMSG);
    free(sealed);
}

static void test_seal_tamper(void **state)
{
    (void)state;
    uint8_t key[SP_DATA_KEY_SIZE], ad[SP_SEAL_AD_MAX];
    s_key(key, 1);
    size_t adlen = sp_seal_ad(ad, "contact_points", "751", "row");
    char *sealed = sp_seal(key, 12, "Vestergade 1\n8000 Aarhus C", 26, ad, adlen);
    assert_non_null(sealed);
    size_t len = strlen(sealed);
    /* flip each base64 character to another base64 character: the nonce,
     * the ciphertext and the tag are all covered */
    size_t start = strlen("v1.12.");
    int refused = 0;
    for (size_t i = start; i < len && sealed[i] != '='; i++) {
        char *t = strdup(sealed);
        t[i] = t[i] == 'A' ? 'B' : 'A';
        uint8_t *plain = NULL;
        size_t plen = 0;
        if (sp_open(key, t, ad, adlen, &plain, &plen) != 0)
            refused++;
        else
            sp_crypto_free(plain, plen);
        free(t);
    }
    /* the last character before '=' may carry only padding bits that the
     * decoder ignores; every other change must be refused */
    size_t chars = 0;
    for (size_t i = start; i < len && sealed[i] != '='; i++)
        chars++;
    assert_true(refused >= (int)chars - 1);

    /* a different key id in the header: that key does not open it (here the
     * same key bytes stand in for "key 13": the id is not what protects it,
     * the key is; with the ring the other id selects another key) */
    char *t = strdup(sealed);
    t[4] = '3'; /* "v1.13." */
    uint32_t id = 0;
    assert_int_equal(sp_seal_key_id(t, &id), 0);
    assert_int_equal(id, 13);
    free(t);

    /* cut short, or extended */
    t = strdup(sealed);
    t[len - 4] = '\0'; /* still base64: a shorter ciphertext that fails authentication */
    s_expect_open_fails(key, t, ad, adlen, EBADMSG);
    t[start + 20] = '\0'; /* shorter than a nonce and a tag */
    s_expect_open_fails(key, t, ad, adlen, EINVAL);
    free(t);
    size_t big = len + 8;
    t = malloc(big);
    snprintf(t, big, "%sAAAA", sealed); /* decodes (66 bytes need no padding), fails the tag */
    s_expect_open_fails(key, t, ad, adlen, EBADMSG);
    snprintf(t, big, "%sA", sealed); /* not base64 */
    s_expect_open_fails(key, t, ad, adlen, EINVAL);
    free(t);
    free(sealed);
}

static void test_seal_malformed(void **state)
{
    (void)state;
    uint8_t key[SP_DATA_KEY_SIZE];
    s_key(key, 1);
    uint32_t id;
    const char *bad[] = {
        "",
        "v1",
        "v1.",
        "v1.1",
        "v2.1.AAAA",
        "v1.0.AAAA",
        "v1.01.AA",
        "v1.-1.AA",
        "v1.x.AA",
        "v1.4294967296.AAAA",
        "v1.1.!!!",
        "v1.1.AAAA",
        "v1.1.QUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFB====",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        s_expect_open_fails(key, bad[i], NULL, 0, EINVAL);
    assert_int_equal(sp_seal_key_id("v1.4294967295.AAAA", &id), 0);
    assert_int_equal(id, 4294967295u);
    assert_int_equal(sp_seal_key_id("v1.4294967296.AAAA", &id), -1);
    assert_int_equal(sp_seal_key_id("v1.0.AAAA", &id), -1);
    assert_int_equal(sp_seal_key_id(NULL, &id), -1);
}

/* ---------------------------------------------------------------- the key ring */

typedef struct {
    char dir[256];
    char keys[300];
} s_tmp_t;

static int s_setup(void **state)
{
    s_tmp_t *t = calloc(1, sizeof *t);
    snprintf(t->dir, sizeof t->dir, "/tmp/sp-crypto-XXXXXX");
    if (!mkdtemp(t->dir))
        return -1;
    snprintf(t->keys, sizeof t->keys, "%s/keys/data", t->dir);
    *state = t;
    return 0;
}

static int s_teardown(void **state)
{
    s_tmp_t *t = *state;
    char cmd[300];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", t->dir);
    int rc = system(cmd);
    free(t);
    return rc == 0 ? 0 : -1;
}

static unsigned s_mode(const char *dir, const char *name)
{
    char path[512];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    struct stat st;
    if (stat(path, &st) != 0)
        return 0xFFFFu;
    return (unsigned)(st.st_mode & 07777);
}

static void s_write(const char *dir, const char *name, const char *text, mode_t mode)
{
    char path[512];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, mode);
    assert_true(fd >= 0);
    assert_int_equal(write(fd, text, strlen(text)), (ssize_t)strlen(text));
    fchmod(fd, mode);
    close(fd);
}

static void test_keyring_init(void **state)
{
    s_tmp_t *t = *state;
    sp_keyring_t *ring = sp_keyring_new(t->keys);
    assert_non_null(ring);
    assert_int_equal(sp_keyring_current(ring), 0);
    assert_null(sp_keyring_cpr_key(ring));
    assert_int_equal(sp_keyring_init(ring), 2); /* cpr-hmac.key and contact-1.key */
    assert_int_equal(sp_keyring_current(ring), 1);
    assert_int_equal(sp_keyring_count(ring), 1);
    assert_non_null(sp_keyring_cpr_key(ring));
    assert_non_null(sp_keyring_key(ring, 1));
    assert_null(sp_keyring_key(ring, 2));
    assert_int_equal(s_mode(t->keys, ""), 0700);
    assert_int_equal(s_mode(t->keys, SP_KEYRING_CPR_FILE), 0600);
    assert_int_equal(s_mode(t->keys, "contact-1.key"), 0600);
    /* the keys differ, and a second init creates nothing and keeps them */
    assert_memory_not_equal(sp_keyring_cpr_key(ring), sp_keyring_key(ring, 1), SP_DATA_KEY_SIZE);
    uint8_t before[SP_DATA_KEY_SIZE];
    memcpy(before, sp_keyring_key(ring, 1), sizeof before);
    assert_int_equal(sp_keyring_init(ring), 0);
    assert_memory_equal(before, sp_keyring_key(ring, 1), sizeof before);
    /* the file is 64 hex digits and a newline */
    char path[512], text[80] = "";
    snprintf(path, sizeof path, "%s/contact-1.key", t->keys);
    FILE *f = fopen(path, "r");
    assert_non_null(f);
    size_t got = fread(text, 1, sizeof text - 1, f);
    fclose(f);
    assert_int_equal(got, 65);
    assert_int_equal(text[64], '\n');
    assert_int_equal(strspn(text, "0123456789abcdef"), 64);
    sp_keyring_destroy(&ring);
    assert_null(ring);
    sp_keyring_destroy(&ring);
}

static void test_keyring_rotate_and_reload(void **state)
{
    s_tmp_t *t = *state;
    sp_keyring_t *a = sp_keyring_new(t->keys), *b = sp_keyring_new(t->keys);
    assert_int_equal(sp_keyring_init(a), 2);
    assert_int_equal(sp_keyring_init(b), 0); /* "another process" */
    uint8_t ad[SP_SEAL_AD_MAX];
    size_t adlen = sp_seal_ad(ad, "contact_points", "751", "row-1");
    char *old = sp_keyring_seal(a, "old", 3, ad, adlen);
    assert_true(strncmp(old, "v1.1.", 5) == 0);

    assert_false(sp_keyring_stale(b));
    uint32_t id = 0;
    assert_int_equal(sp_keyring_rotate(a, &id), 0);
    assert_int_equal(id, 2);
    assert_int_equal(sp_keyring_current(a), 2);
    assert_int_equal(s_mode(t->keys, "contact-2.key"), 0600);
    char *fresh = sp_keyring_seal(a, "new", 3, ad, adlen);
    assert_true(strncmp(fresh, "v1.2.", 5) == 0);

    /* b has not seen key 2: the directory looks changed, and opening a
     * value under key 2 loads it */
    assert_true(sp_keyring_stale(b));
    assert_int_equal(sp_keyring_current(b), 1);
    uint8_t *plain = NULL;
    size_t len = 0;
    assert_int_equal(sp_keyring_open(b, fresh, ad, adlen, &plain, &len), 0);
    assert_string_equal((char *)plain, "new");
    sp_crypto_free(plain, len);
    assert_int_equal(sp_keyring_current(b), 2);
    assert_false(sp_keyring_stale(b));
    /* values under the old key still open */
    assert_int_equal(sp_keyring_open(b, old, ad, adlen, &plain, &len), 0);
    assert_string_equal((char *)plain, "old");
    sp_crypto_free(plain, len);

    /* a value whose header names another key that exists: that key does
     * not open it */
    char *moved = strdup(old);
    moved[3] = '2'; /* "v1.1." -> "v1.2." */
    errno = 0;
    assert_int_equal(sp_keyring_open(b, moved, ad, adlen, &plain, &len), -1);
    assert_int_equal(errno, EBADMSG);
    free(moved);

    /* an id no file has: ENOKEY; another rotation: 3 */
    const char *comma = strchr(fresh + 3, '.');
    char unknown[512];
    snprintf(unknown, sizeof unknown, "v1.9%s", comma);
    errno = 0;
    assert_int_equal(sp_keyring_open(b, unknown, ad, adlen, &plain, &len), -1);
    assert_int_equal(errno, ENOKEY);
    assert_int_equal(sp_keyring_rotate(b, &id), 0);
    assert_int_equal(id, 3);
    free(old);
    free(fresh);
    sp_keyring_destroy(&a);
    sp_keyring_destroy(&b);
}

static void test_keyring_refuses_bad_files(void **state)
{
    s_tmp_t *t = *state;
    sp_keyring_t *ring = sp_keyring_new(t->keys);
    assert_int_equal(sp_keyring_init(ring), 2);
    uint8_t key1[SP_DATA_KEY_SIZE];
    memcpy(key1, sp_keyring_key(ring, 1), sizeof key1);

    /* readable by others: refused, the keys loaded before stay */
    const char *hex = "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f\n";
    s_write(t->keys, "contact-2.key", hex, 0644);
    assert_int_equal(sp_keyring_load(ring), -1);
    assert_int_equal(sp_keyring_current(ring), 1);
    assert_memory_equal(sp_keyring_key(ring, 1), key1, sizeof key1);
    /* fixed: loaded */
    char path[512];
    snprintf(path, sizeof path, "%s/contact-2.key", t->keys);
    chmod(path, 0600);
    assert_int_equal(sp_keyring_load(ring), 0);
    assert_int_equal(sp_keyring_current(ring), 2);
    assert_int_equal(sp_keyring_key(ring, 2)[31], 0x1f);

    /* not hex, too short, raw bytes: refused */
    s_write(t->keys, "contact-3.key",
            "zz0102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f\n", 0600);
    assert_int_equal(sp_keyring_load(ring), -1);
    s_write(t->keys, "contact-3.key", "0001020304\n", 0600);
    assert_int_equal(sp_keyring_load(ring), -1);
    s_write(t->keys, "contact-3.key", "0123456789abcdef0123456789abcdef", 0600);
    assert_int_equal(sp_keyring_load(ring), -1);
    assert_int_equal(sp_keyring_current(ring), 2);
    unlink(strcat(strcpy(path, t->keys), "/contact-3.key"));

    /* names that are not canonical key names are ignored */
    s_write(t->keys, "contact-04.key", hex, 0600);
    s_write(t->keys, "contact-0.key", hex, 0600);
    s_write(t->keys, "contact-5.key.bak", hex, 0600);
    s_write(t->keys, "README", "keys", 0644);
    assert_int_equal(sp_keyring_load(ring), 0);
    assert_int_equal(sp_keyring_current(ring), 2);
    assert_int_equal(sp_keyring_count(ring), 2);
    sp_keyring_destroy(&ring);

    /* a directory that does not exist */
    sp_keyring_t *none = sp_keyring_new("/nonexistent/samspil/keys");
    assert_int_equal(sp_keyring_load(none), -1);
    assert_null(sp_keyring_seal(none, "x", 1, NULL, 0));
    assert_int_equal(errno, ENOKEY);
    sp_keyring_destroy(&none);
    assert_null(sp_keyring_new(""));
}

/* Several processes initialise the same empty directory at once: one key
 * of each kind appears, and all of them load the same keys. */
static void test_keyring_concurrent_init(void **state)
{
    s_tmp_t *t = *state;
    enum { N = 6 };
    int fds[N][2];
    pid_t pids[N];
    for (int i = 0; i < N; i++) {
        assert_int_equal(pipe(fds[i]), 0);
        pids[i] = fork();
        assert_true(pids[i] >= 0);
        if (pids[i] == 0) {
            close(fds[i][0]);
            sp_keyring_t *ring = sp_keyring_new(t->keys);
            char out[2 * SP_DATA_KEY_SIZE * 2 + 2] = "";
            if (ring && sp_keyring_init(ring) >= 0 && sp_keyring_current(ring) == 1) {
                sodium_bin2hex(out, 2 * SP_DATA_KEY_SIZE + 1, sp_keyring_cpr_key(ring),
                               SP_DATA_KEY_SIZE);
                sodium_bin2hex(out + 2 * SP_DATA_KEY_SIZE, 2 * SP_DATA_KEY_SIZE + 1,
                               sp_keyring_key(ring, 1), SP_DATA_KEY_SIZE);
            }
            ssize_t w = write(fds[i][1], out, sizeof out);
            _exit(w == (ssize_t)sizeof out ? 0 : 1);
        }
        close(fds[i][1]);
    }
    char first[4 * SP_DATA_KEY_SIZE + 2] = "";
    for (int i = 0; i < N; i++) {
        char got[4 * SP_DATA_KEY_SIZE + 2] = "";
        assert_int_equal(read(fds[i][0], got, sizeof got), (ssize_t)sizeof got);
        close(fds[i][0]);
        int status = 0;
        waitpid(pids[i], &status, 0);
        assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
        assert_int_equal(strlen(got), 4 * SP_DATA_KEY_SIZE);
        if (i == 0)
            memcpy(first, got, sizeof got);
        else
            assert_string_equal(first, got);
    }
    sp_keyring_t *ring = sp_keyring_new(t->keys);
    assert_int_equal(sp_keyring_load(ring), 0);
    assert_int_equal(sp_keyring_count(ring), 1);
    sp_keyring_destroy(&ring);
}

static void test_keyring_default_dir(void **state)
{
    s_tmp_t *t = *state;
    char out[512];
    unsetenv("SAMSPIL_DATA_KEYS");
    /* <home>/keys/data, whether or not it exists yet */
    assert_string_equal(sp_keyring_default_dir(t->dir, out, sizeof out), t->keys);
    setenv("SAMSPIL_DATA_KEYS", "/etc/samspil/data-keys", 1);
    assert_string_equal(sp_keyring_default_dir(t->dir, out, sizeof out), "/etc/samspil/data-keys");
    unsetenv("SAMSPIL_DATA_KEYS");
    char tiny[8];
    assert_null(sp_keyring_default_dir(t->dir, tiny, sizeof tiny));
}

int main(void)
{
    if (sodium_init() < 0)
        return 1;
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_cpr_shapes),
        cmocka_unit_test(test_cpr_dates),
        cmocka_unit_test(test_cpr_no_modulus_11),
        cmocka_unit_test(test_cpr_century_table),
        cmocka_unit_test(test_cpr_mask),
        cmocka_unit_test(test_hmac_rfc4231),
        cmocka_unit_test(test_cpr_pseudonym),
        cmocka_unit_test(test_seal_known_vector),
        cmocka_unit_test(test_seal_round_trip),
        cmocka_unit_test(test_seal_wrong_ad_and_key),
        cmocka_unit_test(test_seal_tamper),
        cmocka_unit_test(test_seal_malformed),
        cmocka_unit_test_setup_teardown(test_keyring_init, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown(test_keyring_rotate_and_reload, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown(test_keyring_refuses_bad_files, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown(test_keyring_concurrent_init, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown(test_keyring_default_dir, s_setup, s_teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
