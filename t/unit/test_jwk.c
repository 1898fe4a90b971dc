/*
 * JSON Web Key Sets in the core (jwk_tokens.h, written by jwk_tokens.py
 * from the test-only keys): a set's keys verify PyJWT's tokens through
 * fql_jwt_verify, each pinned to its alg and found by its kid; keys for
 * other uses are skipped and counted; each way a set is refused says why.
 */

#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include <openssl/evp.h>

#include "fql_jwk.h"
#include "fql_error.h"
#include "jwt_tokens.h"
#include "jwk_tokens.h"


typedef struct {
    fql_arena_t      *arena;
    fql_jwk_set_t     set;
    fql_jwt_conf_t    conf;
    fql_jwt_t         out;
    char              err[256];
} fx_t;


static int
setup(void **state)
{
    fx_t  *f;

    f = calloc(1, sizeof(fx_t));
    f->arena = fql_arena_heap_create();
    fql_jwt_conf_init(&f->conf);

    *state = f;

    return 0;
}


static int
teardown(void **state)
{
    fx_t  *f = *state;

    fql_jwk_set_free(&f->set);
    fql_arena_heap_destroy(f->arena);
    free(f);

    return 0;
}


static int
parse(fx_t *f, const char *text)
{
    int  rc;

    f->err[0] = '\0';
    rc = fql_jwk_set_parse(f->arena, f->arena, text, strlen(text), &f->set,
                           f->err, sizeof(f->err));

    f->conf.keys = f->set.keys;
    f->conf.nkeys = f->set.nkeys;

    return rc;
}


static fql_jwt_status_t
verify(fx_t *f, const char *token)
{
    return fql_jwt_verify(f->arena, &f->conf, token, strlen(token), NOW,
                          &f->out);
}


static const fql_jwt_key_t *
key_of(fx_t *f, const char *kid)
{
    unsigned  i;

    for (i = 0; i < f->set.nkeys; i++) {
        if (fql_str_eqz(f->set.keys[i].kid, kid)) {
            return &f->set.keys[i];
        }
    }

    return NULL;
}


static void
test_good_set_keys(void **state)
{
    fx_t  *f = *state;

    assert_int_equal(parse(f, JWKS_GOOD), 0);

    /* five kept, in order; enc-1, ed-1, ps-1, wrap-1 skipped */
    assert_int_equal(f->set.nkeys, 5);
    assert_int_equal(f->set.nskipped, 4);
    assert_non_null(strstr(f->set.skipped, "keys[4] (kid \"enc-1\")"));
    assert_non_null(strstr(f->set.skipped, "\"use\" is \"enc\""));

    assert_int_equal(key_of(f, "rsa-1")->alg, FQL_JWT_RS256);
    assert_int_equal(key_of(f, "ec-1")->alg, FQL_JWT_ES256);    /* crv */
    assert_int_equal(key_of(f, "ec-384")->alg, FQL_JWT_ES384);
    assert_int_equal(key_of(f, "rsa-2")->alg, FQL_JWT_RS256);   /* none */
    assert_int_equal(key_of(f, "ec-521")->alg, FQL_JWT_ES512);
    assert_null(key_of(f, "enc-1"));
    assert_null(key_of(f, "ed-1"));
    assert_null(key_of(f, "ps-1"));
    assert_null(key_of(f, "wrap-1"));
}


static void
test_tokens_verify_with_set_keys(void **state)
{
    fx_t  *f = *state;

    assert_int_equal(parse(f, JWKS_GOOD), 0);

    assert_int_equal(verify(f, JT_RS256_RSA1), FQL_JWT_OK);
    assert_ptr_equal(f->out.key, key_of(f, "rsa-1"));
    assert_int_equal(verify(f, JT_RS256_RSA2), FQL_JWT_OK);
    assert_ptr_equal(f->out.key, key_of(f, "rsa-2"));
    assert_int_equal(verify(f, JT_ES256_EC1), FQL_JWT_OK);
    assert_int_equal(verify(f, JT_ES384), FQL_JWT_OK);
    assert_int_equal(verify(f, JT_ES512), FQL_JWT_OK);
    assert_ptr_equal(f->out.key, key_of(f, "ec-521"));
}


static void
test_tokens_refused_by_set_keys(void **state)
{
    fx_t  *f = *state;

    assert_int_equal(parse(f, JWKS_GOOD), 0);

    /* a skipped key verifies nothing */
    assert_int_equal(verify(f, JT_RS256_ENC1), FQL_JWT_UNKNOWN_KID);
    assert_int_equal(verify(f, JT_PS256_PS1), FQL_JWT_UNSUPPORTED_ALG);
    /* each key is pinned to its alg */
    assert_int_equal(verify(f, JT_RS384_RSA1), FQL_JWT_BAD_ALG);
    /* two RS256 keys: a token without kid is not tried on both */
    assert_int_equal(verify(f, JT_RS256_NO_KID), FQL_JWT_AMBIGUOUS_KEY);
    assert_int_equal(verify(f, JT_RS256_RSA1_BY_RSA2),
                     FQL_JWT_BAD_SIGNATURE);
    /* a key of jwt_tokens.h's own that the set does not have */
    assert_int_equal(verify(f, T_KID_UNKNOWN), FQL_JWT_UNKNOWN_KID);
}


/* the same key from its PEM verifies the same tokens */
static void
test_set_key_is_the_pem_key(void **state)
{
    fx_t           *f = *state;
    char            err[256];
    fql_str_t       kid = fql_str_lit("rsa-1");
    fql_jwt_key_t   pem;

    assert_int_equal(parse(f, JWKS_GOOD), 0);
    assert_int_equal(fql_jwt_key_load(f->arena, FQL_JWT_RS256, kid, RSA_PUB,
                                      strlen(RSA_PUB), &pem, err,
                                      sizeof(err)), 0);

    assert_int_equal(EVP_PKEY_eq(pem.pkey, key_of(f, "rsa-1")->pkey), 1);

    fql_jwt_key_free(&pem);
}


typedef struct {
    const char  *name;
    const char  *text;
    const char  *why;
} bad_t;

static const bad_t  bad_sets[] = {
    JWKS_BAD_LIST
};


static void
test_bad_sets_are_refused(void **state)
{
    fx_t      *f = *state;
    unsigned   i;

    for (i = 0; i < sizeof(bad_sets) / sizeof(bad_sets[0]); i++) {
        if (parse(f, bad_sets[i].text) != -1) {
            fail_msg("%s: taken", bad_sets[i].name);
        }

        if (strstr(f->err, bad_sets[i].why) == NULL) {
            fail_msg("%s: \"%s\" does not say \"%s\"", bad_sets[i].name,
                     f->err, bad_sets[i].why);
        }

        /* one line in a log: yajl's own message ends with a line break */
        assert_true(strchr(f->err, '\n') == NULL);

        /* a refused set holds nothing, and nothing to free */
        assert_int_equal(f->set.nkeys, 0);
        assert_null(f->set.keys);
    }
}


/* the bounds: 64 keys, 1 MB */
static void
test_bounds(void **state)
{
    fx_t      *f = *state;
    char      *text, *p;
    size_t     len;
    unsigned   i;
    static const char  one[] =
        "{\"kty\":\"EC\",\"crv\":\"P-256\",\"use\":\"enc\",\"x\":\"\","
        "\"y\":\"\"}";

    text = malloc(FQL_JWK_MAX_SIZE + 2);
    assert_non_null(text);

    for (i = 64; i <= 65; i++) {
        p = text + sprintf(text, "{\"keys\":[");

        for (len = 0; len < i; len++) {
            p += sprintf(p, "%s%s", len ? "," : "", one);
        }

        sprintf(p, "]}");

        assert_int_equal(parse(f, text), -1);
        assert_string_equal(f->err, i == 64
                            ? "no key to verify tokens with (64 skipped; "
                              "keys[0]: \"use\" is \"enc\", not \"sig\")"
                            : "more than 64 keys");
    }

    memset(text, ' ', FQL_JWK_MAX_SIZE + 1);
    memcpy(text, JWKS_GOOD, strlen(JWKS_GOOD));

    assert_int_equal(fql_jwk_set_parse(f->arena, f->arena, text,
                                       FQL_JWK_MAX_SIZE, &f->set, f->err,
                                       sizeof(f->err)), 0);
    fql_jwk_set_free(&f->set);

    assert_int_equal(fql_jwk_set_parse(f->arena, f->arena, text,
                                       FQL_JWK_MAX_SIZE + 1, &f->set, f->err,
                                       sizeof(f->err)), -1);
    assert_string_equal(f->err, "a key set of more than 1 MB");

    free(text);
}


/* a kid shared by a kept key and a skipped one is no ambiguity */
static void
test_kid_of_a_skipped_key(void **state)
{
    fx_t  *f = *state;

    assert_int_equal(parse(f, "{\"keys\":[{\"kty\":\"OKP\",\"kid\":\"ec-1\"},"
                              "{\"kty\":\"EC\",\"crv\":\"P-256\",\"kid\":"
                              "\"ec-1\",\"use\":\"enc\"}, {\"kty\":\"EC\","
                              "\"crv\":\"secp256k1\",\"kid\":\"k1\"}]}"),
                     -1);
    assert_non_null(strstr(f->err, "3 skipped; keys[0] (kid \"ec-1\"): "
                           "\"kty\" \"OKP\" is not RSA or EC"));
}


int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_good_set_keys, setup, teardown),
        cmocka_unit_test_setup_teardown(test_tokens_verify_with_set_keys,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(test_tokens_refused_by_set_keys,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(test_set_key_is_the_pem_key, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_bad_sets_are_refused, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_bounds, setup, teardown),
        cmocka_unit_test_setup_teardown(test_kid_of_a_skipped_key, setup,
                                        teardown),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
