/*
 * test_registration_contacts.c - unit tests for contact points at rest:
 * sealed under the current data key, nothing readable in the sealed text,
 * opened only for the same tenant and actor (case of the id aside), the
 * fingerprint equal for equal lists of one actor and different otherwise,
 * empty lists stored as nothing, re-sealing under a new key keeps the
 * content and the fingerprint, and a ring without keys refuses.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "../../services/registration/registration_contacts.h"

#include <errno.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define ACTOR "0190a1b2-0000-7000-8000-00000000aaaa"
#define OTHER "0190a1b2-0000-7000-8000-00000000bbbb"

typedef struct {
    char dir[64];
    sp_keyring_t *keys;
    Samspil__V1__ContactPoint cp[3];
    Samspil__V1__ContactPoint *cps[3];
} s_fix_t;

static int s_setup(void **state)
{
    s_fix_t *f = calloc(1, sizeof *f);
    snprintf(f->dir, sizeof f->dir, "/tmp/sp-contacts-XXXXXX");
    if (!mkdtemp(f->dir))
        return -1;
    f->keys = sp_keyring_new(f->dir);
    if (!f->keys || sp_keyring_init(f->keys) < 0)
        return -1;
    const char *values[3] = {"borger@example.dk", "+4512345678", "Vestergade 1\n8000 Aarhus C"};
    for (int i = 0; i < 3; i++) {
        samspil__v1__contact_point__init(&f->cp[i]);
        f->cp[i].kind = (Samspil__V1__ContactKind)(i + 1);
        f->cp[i].value = (char *)values[i];
        f->cps[i] = &f->cp[i];
    }
    f->cp[1].preferred = true;
    *state = f;
    return 0;
}

static int s_teardown(void **state)
{
    s_fix_t *f = *state;
    sp_keyring_destroy(&f->keys);
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", f->dir);
    int rc = system(cmd);
    free(f);
    return rc == 0 ? 0 : -1;
}

static void test_round_trip(void **state)
{
    s_fix_t *f = *state;
    registration_sealed_t s;
    assert_int_equal(registration_contacts_seal(f->keys, "751", ACTOR, f->cps, 3, &s), 0);
    assert_non_null(s.sealed);
    assert_true(strncmp(s.sealed, "v1.1.", 5) == 0);
    assert_null(strstr(s.sealed, "borger"));
    assert_null(strstr(s.sealed, "4512345678"));
    assert_int_equal(strlen(s.fp), 66);
    assert_true(strncmp(s.fp, "\\x", 2) == 0);

    /* the row id in any case opens it */
    Samspil__V1__ContactPointList *list = NULL;
    assert_int_equal(registration_contacts_open(f->keys, "751",
                                                "0190A1B2-0000-7000-8000-00000000AAAA", s.sealed,
                                                NULL, &list),
                     0);
    assert_int_equal(list->n_items, 3);
    assert_string_equal(list->items[0]->value, "borger@example.dk");
    assert_int_equal(list->items[0]->kind, SAMSPIL__V1__CONTACT_KIND__CONTACT_KIND_EMAIL);
    assert_true(list->items[1]->preferred);
    assert_string_equal(list->items[2]->value, "Vestergade 1\n8000 Aarhus C");
    samspil__v1__contact_point_list__free_unpacked(list, NULL);

    /* another actor or tenant: refused */
    errno = 0;
    assert_int_equal(registration_contacts_open(f->keys, "751", OTHER, s.sealed, NULL, &list), -1);
    assert_int_equal(errno, EBADMSG);
    assert_null(list);
    assert_int_equal(registration_contacts_open(f->keys, "101", ACTOR, s.sealed, NULL, &list), -1);
    assert_int_equal(errno, EBADMSG);
    /* not a sealed value */
    assert_int_equal(
        registration_contacts_open(f->keys, "751", ACTOR, "borger@example.dk", NULL, &list), -1);
    assert_int_equal(errno, EINVAL);
    registration_sealed_clear(&s);
    assert_null(s.sealed);
    assert_string_equal(s.fp, "");
}

static void test_fingerprint(void **state)
{
    s_fix_t *f = *state;
    registration_sealed_t a, b, c, d;
    assert_int_equal(registration_contacts_seal(f->keys, "751", ACTOR, f->cps, 3, &a), 0);
    assert_int_equal(registration_contacts_seal(f->keys, "751", ACTOR, f->cps, 3, &b), 0);
    /* same list, same actor: same fingerprint, different seal */
    assert_string_equal(a.fp, b.fp);
    assert_string_not_equal(a.sealed, b.sealed);
    /* same list, another actor: another fingerprint (no linking across rows) */
    assert_int_equal(registration_contacts_seal(f->keys, "751", OTHER, f->cps, 3, &c), 0);
    assert_string_not_equal(a.fp, c.fp);
    /* a changed flag: another fingerprint */
    f->cp[0].preferred = true;
    assert_int_equal(registration_contacts_seal(f->keys, "751", ACTOR, f->cps, 3, &d), 0);
    assert_string_not_equal(a.fp, d.fp);
    f->cp[0].preferred = false;
    registration_sealed_clear(&a);
    registration_sealed_clear(&b);
    registration_sealed_clear(&c);
    registration_sealed_clear(&d);

    /* no contact points: nothing stored */
    registration_sealed_t e;
    assert_int_equal(registration_contacts_seal(f->keys, "751", ACTOR, NULL, 0, &e), 0);
    assert_null(e.sealed);
    assert_string_equal(e.fp, "");
}

static void test_reseal_after_rotation(void **state)
{
    s_fix_t *f = *state;
    registration_sealed_t s;
    assert_int_equal(registration_contacts_seal(f->keys, "751", ACTOR, f->cps, 2, &s), 0);
    uint32_t id = 0;
    assert_int_equal(sp_keyring_rotate(f->keys, &id), 0);
    assert_int_equal(id, 2);
    char *again = NULL;
    assert_int_equal(registration_contacts_reseal(f->keys, "751", ACTOR, s.sealed, &again), 0);
    assert_true(strncmp(again, "v1.2.", 5) == 0);
    Samspil__V1__ContactPointList *list = NULL;
    assert_int_equal(registration_contacts_open(f->keys, "751", ACTOR, again, NULL, &list), 0);
    assert_int_equal(list->n_items, 2);
    assert_string_equal(list->items[1]->value, "+4512345678");
    /* the fingerprint of the re-sealed content is the stored one */
    size_t len = samspil__v1__contact_point_list__get_packed_size(list);
    uint8_t *packed = malloc(len);
    samspil__v1__contact_point_list__pack(list, packed);
    char fp[REGISTRATION_FP_SIZE];
    assert_int_equal(registration_contacts_fingerprint(f->keys, "751", ACTOR, packed, len, fp), 0);
    assert_string_equal(fp, s.fp);
    free(packed);
    samspil__v1__contact_point_list__free_unpacked(list, NULL);
    /* re-sealing for another row does not work: the row is bound */
    char *moved = NULL;
    assert_int_equal(registration_contacts_reseal(f->keys, "751", OTHER, s.sealed, &moved), -1);
    assert_null(moved);
    free(again);
    registration_sealed_clear(&s);
}

static void test_no_keys(void **state)
{
    s_fix_t *f = *state;
    sp_keyring_t *empty = sp_keyring_new("/nonexistent/keys");
    registration_sealed_t s;
    errno = 0;
    assert_int_equal(registration_contacts_seal(empty, "751", ACTOR, f->cps, 1, &s), -1);
    assert_int_equal(errno, ENOKEY);
    assert_null(s.sealed);
    sp_keyring_destroy(&empty);
}

int main(void)
{
    if (sodium_init() < 0)
        return 1;
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_round_trip, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown(test_fingerprint, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown(test_reseal_after_rotation, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown(test_no_keys, s_setup, s_teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
