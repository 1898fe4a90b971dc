/*
 * JWT verification in the core against tokens PyJWT made (jwt_tokens.h,
 * written by jwt_tokens.py): each case of SECURITY.md §10 "Tokens" that
 * the core decides, each refusal by its own status; keys refused at load
 * time; RFC 6901 pointers.
 */

#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "fql_jwt.h"
#include "fql_error.h"
#include "jwt_tokens.h"


#define MAX_KEYS  16

typedef struct {
    fql_arena_t      *arena;
    fql_jwt_key_t     keys[MAX_KEYS];
    fql_jwt_conf_t    conf;
    fql_jwt_t         out;
} fx_t;


static int
setup(void **state)
{
    fx_t  *f;

    f = calloc(1, sizeof(fx_t));
    f->arena = fql_arena_heap_create();
    fql_jwt_conf_init(&f->conf);
    f->conf.keys = f->keys;

    *state = f;

    return 0;
}


static int
teardown(void **state)
{
    fx_t      *f = *state;
    unsigned   i;

    for (i = 0; i < f->conf.nkeys; i++) {
        fql_jwt_key_free(&f->keys[i]);
    }

    fql_arena_heap_destroy(f->arena);
    free(f);

    return 0;
}


static fql_str_t
str(const char *s)
{
    fql_str_t  r = { s, s ? strlen(s) : 0 };

    return r;
}


static void
add_key(fx_t *f, fql_jwt_alg_t alg, const char *kid, const char *text)
{
    char  err[256];

    assert_true(f->conf.nkeys < MAX_KEYS);

    if (fql_jwt_key_load(f->arena, alg, str(kid), text, strlen(text),
                         &f->keys[f->conf.nkeys], err, sizeof(err))
        != 0)
    {
        fail_msg("key %s: %s", fql_jwt_alg_name(alg), err);
    }

    f->conf.nkeys++;
}


/* one key per algorithm; HS256 and RS256 have a kid */
static void
all_keys(fx_t *f)
{
    add_key(f, FQL_JWT_HS256, "hs-1", HS256_SECRET);
    add_key(f, FQL_JWT_HS384, NULL, HS384_SECRET);
    add_key(f, FQL_JWT_HS512, NULL, HS512_SECRET);
    add_key(f, FQL_JWT_RS256, "rsa-1", RSA_PUB);
    add_key(f, FQL_JWT_RS384, NULL, RSA_PUB);
    add_key(f, FQL_JWT_RS512, NULL, RSA_PUB);
    add_key(f, FQL_JWT_ES256, NULL, EC256_PUB);
    add_key(f, FQL_JWT_ES384, NULL, EC384_PUB);
    add_key(f, FQL_JWT_ES512, NULL, EC521_PUB);
}


static fql_jwt_status_t
verify_len(fx_t *f, const char *token, size_t len)
{
    return fql_jwt_verify(f->arena, &f->conf, token, len, NOW, &f->out);
}


/*
 * Verifies token and checks the status; a refusal must say why without
 * quoting the token, and must not hand out claims.
 */
static void
expect_at(fx_t *f, const char *token, fql_jwt_status_t want,
    const char *name, int line)
{
    fql_jwt_status_t  st;

    st = verify_len(f, token, strlen(token));

    if (st != want || f->out.status != st) {
        fail_msg("line %d, %s: %s (%s), expected %s", line, name,
                 fql_jwt_status_name(st),
                 f->out.error ? f->out.error : "no message",
                 fql_jwt_status_name(want));
    }

    if (st == FQL_JWT_OK) {
        assert_non_null(f->out.claims);
        assert_non_null(f->out.key);
        assert_non_null(f->out.claims_json.data);
        assert_null(f->out.error);
        return;
    }

    assert_null(f->out.claims);
    assert_null(f->out.key);
    assert_non_null(f->out.error);

    if (strlen(token) >= 12) {
        assert_null(strstr(f->out.error, "eyJ"));
    }
}

#define expect(f, t, st)  expect_at(f, t, st, #t, __LINE__)


static const char *
claim(fx_t *f, const char *pointer)
{
    const fql_jval_t  *v;

    v = fql_json_pointer(f->out.claims, str(pointer));

    return v ? v->str.data : NULL;
}


/* 1: each algorithm, its claims, its key */
static void
test_valid(void **state)
{
    fx_t      *f = *state;
    unsigned   i;

    static const struct {
        const char     *token;
        fql_jwt_alg_t   alg;
    } valid[] = {
        { T_HS256, FQL_JWT_HS256 }, { T_HS384, FQL_JWT_HS384 },
        { T_HS512, FQL_JWT_HS512 }, { T_RS256, FQL_JWT_RS256 },
        { T_RS384, FQL_JWT_RS384 }, { T_RS512, FQL_JWT_RS512 },
        { T_ES256, FQL_JWT_ES256 }, { T_ES384, FQL_JWT_ES384 },
        { T_ES512, FQL_JWT_ES512 }, { T_RS256_KID, FQL_JWT_RS256 },
        { T_HS256_KID, FQL_JWT_HS256 },
    };

    all_keys(f);

    for (i = 0; i < sizeof(valid) / sizeof(valid[0]); i++) {
        expect_at(f, valid[i].token, FQL_JWT_OK, fql_jwt_alg_name(
                  valid[i].alg), __LINE__);
        assert_int_equal(f->out.key->alg, valid[i].alg);
        assert_int_equal(f->out.exp, NOW + 3600);
        assert_string_equal(claim(f, "/sub"), "user-1");
        assert_string_equal(claim(f, "/role"), "editor");
        assert_string_equal(fql_jval_member(f->out.header, "alg")->str.data,
                            fql_jwt_alg_name(valid[i].alg));
    }

    expect(f, T_RS256_KID, FQL_JWT_OK);
    assert_ptr_equal(f->out.key, &f->keys[3]);

    /* typ: JWT, at+jwt (RFC 9068), with "application/", or none */
    expect(f, T_AT_JWT, FQL_JWT_OK);
    expect(f, T_APP_AT_JWT, FQL_JWT_OK);
    expect(f, T_NO_TYP, FQL_JWT_OK);
}


/* the same key given as a certificate */
static void
test_certificate(void **state)
{
    fx_t  *f = *state;

    add_key(f, FQL_JWT_RS256, NULL, RSA_CERT);

    expect(f, T_RS256, FQL_JWT_OK);
    expect(f, T_RS256_OTHER_KEY, FQL_JWT_BAD_SIGNATURE);
}


/* the claims' JSON: compact, rewritten from the tree, in token order */
static void
test_claims_json(void **state)
{
    fx_t               *f = *state;
    const fql_jval_t   *v;

    add_key(f, FQL_JWT_HS256, NULL, HS256_SECRET);

    expect(f, T_CLAIMS, FQL_JWT_OK);

    assert_string_equal(f->out.claims_json.data,
        "{\"sub\":\"user-1\",\"exp\":1800000060,"
        "\"name\":\"Ren\xc3\xa9 \\\"R\\\" / x\","
        "\"https://example.com/claims\":{\"role\":\"admin\","
        "\"tenants\":[7,8]},\"n\":1.5e3,\"ok\":true,\"nil\":null}");
    assert_int_equal(f->out.claims_json.len,
                     strlen(f->out.claims_json.data));
    assert_int_equal(f->out.exp, NOW + 60);

    /* the role claim of SECURITY.md §1.5, namespaced as Auth0 does */
    assert_string_equal(claim(f, "/https:~1~1example.com~1claims/role"),
                        "admin");
    v = fql_json_pointer(f->out.claims,
                         str("/https:~1~1example.com~1claims/tenants/1"));
    assert_non_null(v);
    assert_int_equal(v->kind, FQL_J_NUMBER);
    assert_string_equal(v->str.data, "8");
    assert_null(claim(f, "/role"));
}


/* 3: exp */
static void
test_exp(void **state)
{
    fx_t  *f = *state;

    add_key(f, FQL_JWT_HS256, NULL, HS256_SECRET);

    expect(f, T_EXP_PAST_BY_LEEWAY_PLUS_1, FQL_JWT_EXPIRED);
    expect(f, T_EXP_PAST_BY_LEEWAY_MINUS_1, FQL_JWT_OK);
    expect(f, T_EXP_MISSING, FQL_JWT_BAD_CLAIMS);
    expect(f, T_EXP_STRING, FQL_JWT_BAD_CLAIMS);
    expect(f, T_EXP_HUGE, FQL_JWT_BAD_CLAIMS);
    expect(f, T_EXP_MILLISECONDS, FQL_JWT_BAD_CLAIMS);
    expect(f, T_EXP_NEGATIVE, FQL_JWT_BAD_CLAIMS);
    expect(f, T_EXP_BOOL, FQL_JWT_BAD_CLAIMS);

    /* a real is a NumericDate, its fraction counted */
    expect(f, T_EXP_REAL, FQL_JWT_OK);
    assert_int_equal(f->out.exp, 1900000000);
    expect(f, T_EXP_REAL_EXPIRED, FQL_JWT_EXPIRED);
    expect(f, T_EXP_REAL_JUST_VALID, FQL_JWT_OK);

    /* without leeway, 29 s ago is past */
    f->conf.leeway = 0;
    expect(f, T_EXP_PAST_BY_LEEWAY_MINUS_1, FQL_JWT_EXPIRED);

    /* exp optional: absent is never, present still counts */
    f->conf.leeway = 30;
    f->conf.exp_required = 0;
    expect(f, T_EXP_MISSING, FQL_JWT_OK);
    assert_true(f->out.exp == INT64_MAX);
    expect(f, T_EXP_PAST_BY_LEEWAY_PLUS_1, FQL_JWT_EXPIRED);
    expect(f, T_EXP_STRING, FQL_JWT_BAD_CLAIMS);
}


/* 4: nbf, iat */
static void
test_nbf_iat(void **state)
{
    fx_t  *f = *state;

    add_key(f, FQL_JWT_HS256, NULL, HS256_SECRET);

    expect(f, T_NBF_FUTURE_BY_LEEWAY_PLUS_1, FQL_JWT_NOT_YET_VALID);
    expect(f, T_NBF_FUTURE_BY_LEEWAY_MINUS_1, FQL_JWT_OK);
    /* libjwt 1.10 reads a real nbf as 0, which always passes */
    expect(f, T_NBF_REAL_FUTURE, FQL_JWT_NOT_YET_VALID);
    expect(f, T_NBF_REAL_JUST_VALID, FQL_JWT_OK);
    expect(f, T_NBF_STRING, FQL_JWT_BAD_CLAIMS);
    expect(f, T_IAT_FUTURE, FQL_JWT_BAD_IAT);
    expect(f, T_IAT_STRING, FQL_JWT_BAD_CLAIMS);
}


/* 5: iss, aud */
static void
test_issuer_audience(void **state)
{
    fx_t              *f = *state;
    static fql_str_t   api[] = { fql_str_lit("api") };

    add_key(f, FQL_JWT_HS256, NULL, HS256_SECRET);

    f->conf.issuer = str(ISSUER);
    f->conf.audiences = api;
    f->conf.naudiences = 1;

    expect(f, T_ISS_AUD, FQL_JWT_OK);
    expect(f, T_AUD_ARRAY, FQL_JWT_OK);
    expect(f, T_ISS_WRONG, FQL_JWT_BAD_ISSUER);
    expect(f, T_ISS_MISSING, FQL_JWT_BAD_ISSUER);
    expect(f, T_ISS_NOT_STRING, FQL_JWT_BAD_ISSUER);
    expect(f, T_AUD_WRONG, FQL_JWT_BAD_AUDIENCE);
    expect(f, T_AUD_ARRAY_WITHOUT, FQL_JWT_BAD_AUDIENCE);
    expect(f, T_AUD_ARRAY_NOT_STRINGS, FQL_JWT_BAD_AUDIENCE);
    /* PostgREST#2093: configured, so required */
    expect(f, T_AUD_MISSING, FQL_JWT_BAD_AUDIENCE);

    /* no issuer configured: iss is not looked at */
    f->conf.issuer.data = NULL;
    expect(f, T_ISS_WRONG, FQL_JWT_OK);
    expect(f, T_ISS_MISSING, FQL_JWT_OK);

    /* PostgREST#4134: a token for some audience, none configured */
    f->conf.naudiences = 0;
    expect(f, T_AUD_ONLY, FQL_JWT_BAD_AUDIENCE);
    expect(f, T_HS256, FQL_JWT_OK);
    f->conf.audience_any = 1;
    expect(f, T_AUD_ONLY, FQL_JWT_OK);
    expect(f, T_AUD_WRONG, FQL_JWT_OK);
}


/* 6: alg none, or not spelled as registered */
static void
test_alg(void **state)
{
    fx_t  *f = *state;

    all_keys(f);

    expect(f, T_NONE, FQL_JWT_BAD_ALG);
    expect(f, T_NONE_SIGNED, FQL_JWT_BAD_ALG);
    expect(f, T_NONE_CAPITAL, FQL_JWT_BAD_ALG);
    expect(f, T_HS256_LOWER, FQL_JWT_BAD_ALG);
    expect(f, T_ALG_MISSING, FQL_JWT_BAD_ALG);
    expect(f, T_ALG_NOT_STRING, FQL_JWT_BAD_ALG);
}


/* 7: HS/RS confusion, both ways */
static void
test_confusion(void **state)
{
    fx_t  *f = *state;

    add_key(f, FQL_JWT_RS256, "rsa-1", RSA_PUB);

    expect(f, T_RS256, FQL_JWT_OK);
    expect(f, T_HS256_WITH_RSA_PEM, FQL_JWT_BAD_ALG);
    expect(f, T_HS256_WITH_RSA_JWK, FQL_JWT_BAD_ALG);
    expect(f, T_HS256_WITH_RSA_PEM_KID, FQL_JWT_BAD_ALG);

    teardown(state);
    setup(state);
    f = *state;

    add_key(f, FQL_JWT_HS256, NULL, HS256_SECRET);

    expect(f, T_RS256, FQL_JWT_BAD_ALG);
    expect(f, T_RS256_KID, FQL_JWT_UNKNOWN_KID);
    expect(f, T_ES256, FQL_JWT_BAD_ALG);
}


/* 8: signatures */
static void
test_signature(void **state)
{
    fx_t  *f = *state;

    all_keys(f);

    expect(f, T_ES256_DER, FQL_JWT_BAD_SIGNATURE);
    expect(f, T_ES256_TRUNCATED, FQL_JWT_BAD_SIGNATURE);
    expect(f, T_ES256_FLIPPED, FQL_JWT_BAD_SIGNATURE);
    expect(f, T_ES256_ZERO, FQL_JWT_BAD_SIGNATURE);
    expect(f, T_ES256_BY_P384_KEY, FQL_JWT_BAD_SIGNATURE);
    expect(f, T_RS256_TRUNCATED, FQL_JWT_BAD_SIGNATURE);
    expect(f, T_RS256_OTHER_SIGNATURE, FQL_JWT_BAD_SIGNATURE);
    expect(f, T_RS256_OTHER_KEY, FQL_JWT_BAD_SIGNATURE);
    expect(f, T_RS256_EMPTY_SIGNATURE, FQL_JWT_BAD_SIGNATURE);
    expect(f, T_HS256_OTHER_SIGNATURE, FQL_JWT_BAD_SIGNATURE);
    expect(f, T_HS256_WRONG_SECRET, FQL_JWT_BAD_SIGNATURE);
    expect(f, T_HS256_SHORT_SIGNATURE, FQL_JWT_BAD_SIGNATURE);

    /* an ES384 token where ES256 is pinned never reaches a signature */
    teardown(state);
    setup(state);
    f = *state;

    add_key(f, FQL_JWT_ES256, NULL, EC256_PUB);
    expect(f, T_ES384, FQL_JWT_BAD_ALG);
    expect(f, T_ES256, FQL_JWT_OK);

    /* P-256 spelled out as explicit parameters is still P-256 */
    f->conf.nkeys = 0;
    fql_jwt_key_free(&f->keys[0]);
    add_key(f, FQL_JWT_ES256, NULL, EC256_EXPLICIT_PUB);
    expect(f, T_ES256, FQL_JWT_OK);
    expect(f, T_ES256_FLIPPED, FQL_JWT_BAD_SIGNATURE);
}


/* 9: kid */
static void
test_kid(void **state)
{
    fx_t  *f = *state;

    all_keys(f);

    expect(f, T_KID_UNKNOWN, FQL_JWT_UNKNOWN_KID);
    expect(f, T_KID_NOT_STRING, FQL_JWT_BAD_HEADER);
    expect(f, T_HS256_KID_OF_RSA_KEY, FQL_JWT_BAD_ALG);

    /* two RS256 keys: a kid picks one, no kid is ambiguous */
    teardown(state);
    setup(state);
    f = *state;

    add_key(f, FQL_JWT_RS256, "rsa-2", RSA_B_PUB);
    add_key(f, FQL_JWT_RS256, "rsa-1", RSA_PUB);

    expect(f, T_RS256_KID, FQL_JWT_OK);
    assert_ptr_equal(f->out.key, &f->keys[1]);
    expect(f, T_RS256, FQL_JWT_AMBIGUOUS_KEY);

    /* two keys under one kid */
    f->keys[0].kid = str("rsa-1");
    expect(f, T_RS256_KID, FQL_JWT_AMBIGUOUS_KEY);

    /* keys without a kid are not chosen by one */
    f->keys[0].kid = str(NULL);
    f->keys[1].kid = str(NULL);
    expect(f, T_RS256_KID, FQL_JWT_UNKNOWN_KID);
}


/* 10: header tricks */
static void
test_header(void **state)
{
    fx_t              *f = *state;
    static fql_str_t   jwt_only[] = { fql_str_lit("JWT") };

    all_keys(f);

    expect(f, T_CRIT, FQL_JWT_BAD_HEADER);
    expect(f, T_CRIT_EXP, FQL_JWT_BAD_HEADER);
    expect(f, T_TYP_FOO, FQL_JWT_BAD_HEADER);
    expect(f, T_TYP_NOT_STRING, FQL_JWT_BAD_HEADER);
    expect(f, T_ALG_TWICE, FQL_JWT_BAD_HEADER);
    expect(f, T_ALG_TWICE_NONE, FQL_JWT_BAD_HEADER);
    expect(f, T_HEADER_ARRAY, FQL_JWT_BAD_HEADER);
    expect(f, T_HEADER_STRING, FQL_JWT_BAD_HEADER);
    expect(f, T_HEADER_NOT_JSON, FQL_JWT_BAD_HEADER);
    expect(f, T_B64_FALSE, FQL_JWT_BAD_HEADER);

    /* keys come from the configuration: jku, x5u, jwk, x5c ignored */
    expect(f, T_JKU_X5U_JWK, FQL_JWT_OK);

    /* typ values are configurable */
    f->conf.typs = jwt_only;
    f->conf.ntyps = 1;
    expect(f, T_AT_JWT, FQL_JWT_BAD_HEADER);
    expect(f, T_HS256, FQL_JWT_OK);
    expect(f, T_NO_TYP, FQL_JWT_OK);
}


/* 11: the payload, as the core sees it */
static void
test_payload(void **state)
{
    fx_t  *f = *state;

    add_key(f, FQL_JWT_HS256, NULL, HS256_SECRET);

    expect(f, T_ROLE_TWICE, FQL_JWT_BAD_CLAIMS);
    expect(f, T_NESTED_TWICE, FQL_JWT_BAD_CLAIMS);
    expect(f, T_PAYLOAD_ARRAY, FQL_JWT_BAD_CLAIMS);
    expect(f, T_PAYLOAD_NOT_JSON, FQL_JWT_BAD_CLAIMS);
    expect(f, T_PAYLOAD_BAD_UTF8, FQL_JWT_BAD_CLAIMS);
}


/* a copy of T_HS256 with bytes [at, at + cut) replaced by what */
static char *
edit(const char *tok, size_t at, size_t cut, const char *what)
{
    size_t   len, wl;
    char    *s;

    len = strlen(tok);
    wl = strlen(what);
    s = malloc(len + wl + 1);

    memcpy(s, tok, at);
    memcpy(s + at, what, wl);
    strcpy(s + at + wl, tok + at + cut);

    return s;
}


static void
expect_edit(fx_t *f, size_t at, size_t cut, const char *what,
    fql_jwt_status_t st, int line)
{
    char  *s;

    s = edit(T_HS256, at, cut, what);
    expect_at(f, s, st, what, line);
    free(s);
}


/* 12: not a compact JWS */
static void
test_malformed(void **state)
{
    fx_t        *f = *state;
    size_t       len, d1, d2;
    const char  *t = T_HS256;

    add_key(f, FQL_JWT_HS256, NULL, HS256_SECRET);

    len = strlen(t);
    d1 = strchr(t, '.') - t;
    d2 = strrchr(t, '.') - t;

    expect(f, t, FQL_JWT_OK);

#define malformed(at, cut, what) \
    expect_edit(f, at, cut, what, FQL_JWT_MALFORMED, __LINE__)

    malformed(d2, len - d2, "");                /* two segments */
    malformed(len, 0, ".AAAA");                 /* four */
    malformed(d2, 0, ".AAAA");
    malformed(len, 0, "=");                     /* padding */
    malformed(d1, 0, "==");
    malformed(d1 + 5, 1, "+");                  /* standard base64 */
    malformed(d1 + 5, 1, "/");
    malformed(d1 + 5, 0, " ");                  /* whitespace */
    malformed(d1 + 5, 0, "\n");
    malformed(d2 + 1, 0, "\t");
    malformed(0, 0, " ");
    malformed(len, 0, "\r\n");
    malformed(0, 0, "Bearer ");
    malformed(d1 + 5, 0, "\xc3\xa9");           /* non-ASCII */
    malformed(0, d1, "");                       /* empty header */
    malformed(d1 + 1, d2 - d1 - 1, "");         /* empty payload */
    malformed(d1 + 1, d2 - d1 - 1, "A");        /* a lone character */
    malformed(len - 1, 1, "B");                 /* leftover bits set */

#undef malformed

    expect(f, "", FQL_JWT_MALFORMED);
    expect(f, "..", FQL_JWT_MALFORMED);
    expect(f, "...", FQL_JWT_MALFORMED);

    /* a NUL inside: the length given is what counts */
    assert_int_equal(verify_len(f, "eyJh\0Ig.e30.AAAA", 16),
                     FQL_JWT_MALFORMED);
    assert_int_equal(verify_len(f, t, d2 + 1), FQL_JWT_BAD_SIGNATURE);
}


/* 13: size, checked before anything else */
static void
test_size(void **state)
{
    fx_t    *f = *state;
    char    *big;
    size_t   n;

    add_key(f, FQL_JWT_HS256, NULL, HS256_SECRET);

    assert_int_equal(strlen(T_SIZE_8192), 8192);
    expect(f, T_SIZE_8192, FQL_JWT_OK);

    f->conf.max_size = 8191;
    expect(f, T_SIZE_8192, FQL_JWT_TOO_LARGE);
    f->conf.max_size = FQL_JWT_DEFAULT_MAX_SIZE;

    /* 9 MB, which libjwt 1.10 copies onto the stack */
    n = 9 * 1024 * 1024;
    big = malloc(n);
    memset(big, 'A', n);
    big[100] = '.';
    big[n - 100] = '.';

    assert_int_equal(verify_len(f, big, 8193), FQL_JWT_TOO_LARGE);
    assert_int_equal(verify_len(f, big, n), FQL_JWT_TOO_LARGE);

    /* not even its form is looked at */
    memset(big, ' ', 8193);
    assert_int_equal(verify_len(f, big, 8193), FQL_JWT_TOO_LARGE);

    free(big);
}


/* 14: registered algorithms this build does not verify */
static void
test_unsupported(void **state)
{
    fx_t  *f = *state;

    all_keys(f);

    expect(f, T_PS256, FQL_JWT_UNSUPPORTED_ALG);
    expect(f, T_EDDSA, FQL_JWT_UNSUPPORTED_ALG);
}


static void
refuse_key(fql_jwt_alg_t alg, const char *text, size_t len, const char *why)
{
    char            err[256];
    fql_arena_t    *a;
    fql_jwt_key_t   key;

    a = fql_arena_heap_create();
    err[0] = '\0';

    if (fql_jwt_key_load(a, alg, str(NULL), text, len, &key, err,
                         sizeof(err)) == 0)
    {
        fql_jwt_key_free(&key);
        fql_arena_heap_destroy(a);
        fail_msg("%s key accepted: %s", fql_jwt_alg_name(alg), why);
    }

    assert_null(key.pkey);

    if (strstr(err, why) == NULL) {
        fail_msg("%s: \"%s\" does not say \"%s\"", fql_jwt_alg_name(alg),
                 err, why);
    }

    fql_arena_heap_destroy(a);
}

#define refuse(alg, text, why)  refuse_key(alg, text, strlen(text), why)


/* keys refused at load time: the module's nginx -t errors */
static void
test_key_load(void **state)
{
    char   two[2048];

    (void) state;

    refuse(FQL_JWT_HS256, HS_SHORT_SECRET, "at least 32 bytes");
    refuse(FQL_JWT_HS256, "", "at least 32 bytes");
    refuse(FQL_JWT_HS256, RSA_PUB, "PEM or JSON");
    refuse(FQL_JWT_HS384, RSA_CERT, "PEM or JSON");
    refuse(FQL_JWT_HS256, "\n {\"kty\":\"RSA\",\"e\":\"AQAB\",\"n\":\"x\"}",
           "PEM or JSON");

    refuse(FQL_JWT_RS256, RSA1024_PUB, "under 2048 bits");
    refuse(FQL_JWT_RS256, EC256_PUB, "needs an RSA key");
    refuse(FQL_JWT_RS512, ED25519_PUB, "needs an RSA key");
    refuse(FQL_JWT_ES256, RSA_PUB, "needs an EC key");
    refuse(FQL_JWT_ES256, ED25519_PUB, "needs an EC key");
    refuse(FQL_JWT_ES256, EC384_PUB, "own curve");
    refuse(FQL_JWT_ES384, EC256_PUB, "own curve");
    refuse(FQL_JWT_ES512, EC384_PUB, "own curve");

    refuse(FQL_JWT_RS256, RSA_PRIVATE, "private key");
    refuse(FQL_JWT_RS256, RSA_PKCS1, "RSAPublicKey_in");
    refuse(FQL_JWT_RS256, HS256_SECRET, "not a PEM");
    refuse(FQL_JWT_RS256, "-----BEGIN PUBLIC KEY-----\nAAAA\n"
           "-----END PUBLIC KEY-----\n", "does not parse");
    refuse(FQL_JWT_RS256, "-----BEGIN PUBLIC KEY", "not a \"PUBLIC KEY\"");

    snprintf(two, sizeof(two), "%s%s", RSA_PUB, RSA_B_PUB);
    refuse(FQL_JWT_RS256, two, "several PEM objects");

    refuse(FQL_JWT_ALG_UNKNOWN, HS256_SECRET, "unknown algorithm");
}


static void
test_names(void **state)
{
    unsigned     i, j;
    const char  *a, *b;

    (void) state;

    assert_int_equal(fql_jwt_alg_named(str("HS256")), FQL_JWT_HS256);
    assert_int_equal(fql_jwt_alg_named(str("ES512")), FQL_JWT_ES512);
    assert_int_equal(fql_jwt_alg_named(str("hs256")), FQL_JWT_ALG_UNKNOWN);
    assert_int_equal(fql_jwt_alg_named(str("HS256 ")), FQL_JWT_ALG_UNKNOWN);
    assert_int_equal(fql_jwt_alg_named(str("none")), FQL_JWT_ALG_UNKNOWN);
    assert_int_equal(fql_jwt_alg_named(str("PS256")), FQL_JWT_ALG_UNKNOWN);
    assert_int_equal(fql_jwt_alg_named(str("")), FQL_JWT_ALG_UNKNOWN);

    for (i = FQL_JWT_HS256; i <= FQL_JWT_ES512; i++) {
        assert_int_equal(fql_jwt_alg_named(str(fql_jwt_alg_name(i))), i);
    }

    /* one name per status, none repeated */
    for (i = FQL_JWT_OK; i <= FQL_JWT_ERROR; i++) {
        a = fql_jwt_status_name(i);

        for (j = FQL_JWT_OK; j < i; j++) {
            b = fql_jwt_status_name(j);
            assert_string_not_equal(a, b);
        }
    }

    assert_string_equal(fql_jwt_status_name(FQL_JWT_OK), "ok");
    assert_string_equal(fql_jwt_status_name(FQL_JWT_EXPIRED), "expired");
    assert_string_equal(fql_jwt_status_name(FQL_JWT_ERROR), "error");
    assert_string_equal(fql_jwt_status_name(FQL_JWT_ERROR + 1), "error");
}


static const fql_jval_t *
ptr(const fql_jval_t *root, const char *p)
{
    return fql_json_pointer(root, str(p));
}


/* RFC 6901 §5's examples, and what selects nothing */
static void
test_json_pointer(void **state)
{
    fql_arena_t        *a;
    fql_errors_t        errs;
    const fql_jval_t   *doc;

    static const char  text[] =
        "{\"foo\": [\"bar\", \"baz\"], \"\": 0, \"a/b\": 1, \"c%d\": 2,"
        " \"e^f\": 3, \"g|h\": 4, \"i\\\\j\": 5, \"k\\\"l\": 6, \" \": 7,"
        " \"m~n\": 8, \"~1\": 9, \"x\": {\"y\": [[10]]}}";

    (void) state;

    a = fql_arena_heap_create();
    fql_errors_init(&errs, a);

    doc = fql_json_parse(a, text, sizeof(text) - 1, &errs);
    assert_non_null(doc);

    assert_ptr_equal(ptr(doc, ""), doc);
    assert_int_equal(ptr(doc, "/foo")->kind, FQL_J_ARRAY);
    assert_string_equal(ptr(doc, "/foo/0")->str.data, "bar");
    assert_string_equal(ptr(doc, "/foo/1")->str.data, "baz");
    assert_string_equal(ptr(doc, "/")->str.data, "0");
    assert_string_equal(ptr(doc, "/a~1b")->str.data, "1");
    assert_string_equal(ptr(doc, "/c%d")->str.data, "2");
    assert_string_equal(ptr(doc, "/e^f")->str.data, "3");
    assert_string_equal(ptr(doc, "/g|h")->str.data, "4");
    assert_string_equal(ptr(doc, "/i\\j")->str.data, "5");
    assert_string_equal(ptr(doc, "/k\"l")->str.data, "6");
    assert_string_equal(ptr(doc, "/ ")->str.data, "7");
    assert_string_equal(ptr(doc, "/m~0n")->str.data, "8");
    /* ~01 is "~1", not "/" */
    assert_string_equal(ptr(doc, "/~01")->str.data, "9");
    assert_string_equal(ptr(doc, "/x/y/0/0")->str.data, "10");

    assert_null(ptr(doc, "/foo/2"));
    assert_null(ptr(doc, "/foo/01"));
    assert_null(ptr(doc, "/foo/-"));
    assert_null(ptr(doc, "/foo/"));
    assert_null(ptr(doc, "/foo/x"));
    assert_null(ptr(doc, "/foo/+1"));
    assert_null(ptr(doc, "/foo/18446744073709551617"));
    assert_null(ptr(doc, "/foo/0/0"));
    assert_null(ptr(doc, "/bar"));
    assert_null(ptr(doc, "/m~n"));
    assert_null(ptr(doc, "/a/b"));
    assert_null(ptr(doc, "/x/y/1"));

    /* not pointers */
    assert_null(ptr(doc, "foo"));
    assert_null(ptr(doc, "/m~2n"));
    assert_null(ptr(doc, "/m~"));
    assert_false(fql_json_pointer_valid(str("role")));
    assert_false(fql_json_pointer_valid(str("/a~")));
    assert_true(fql_json_pointer_valid(str("")));
    assert_true(fql_json_pointer_valid(str("/https:~1~1x.com~1c/role")));

    fql_arena_heap_destroy(a);
}


static void
test_unique_keys(void **state)
{
    fql_arena_t        *a;
    fql_errors_t        errs;
    const fql_jval_t   *j;

    static const char  big[] =
        "{\"a\":1,\"b\":2,\"c\":3,\"d\":4,\"e\":5,\"f\":6,\"g\":7,\"h\":8,"
        "\"i\":9,\"j\":10}";
    static const char  big_dup[] =
        "{\"a\":1,\"b\":2,\"c\":3,\"d\":4,\"e\":5,\"f\":6,\"g\":7,\"h\":8,"
        "\"i\":9,\"a\":10}";
    static const char  deep_dup[] = "[{\"x\":[{\"k\":1,\"k\":2}]}]";
    static const char  nul[] = "{\"a\":1,\"a\\u0000\":2}";

    (void) state;

    a = fql_arena_heap_create();
    fql_errors_init(&errs, a);

    j = fql_json_parse(a, big, sizeof(big) - 1, &errs);
    assert_int_equal(fql_json_unique_keys(a, j), 1);
    j = fql_json_parse(a, big_dup, sizeof(big_dup) - 1, &errs);
    assert_int_equal(fql_json_unique_keys(a, j), 0);
    j = fql_json_parse(a, deep_dup, sizeof(deep_dup) - 1, &errs);
    assert_int_equal(fql_json_unique_keys(a, j), 0);
    j = fql_json_parse(a, nul, sizeof(nul) - 1, &errs);
    assert_int_equal(fql_json_unique_keys(a, j), 1);

    fql_arena_heap_destroy(a);
}


int
main(void)
{
    const struct CMUnitTest  tests[] = {
        cmocka_unit_test_setup_teardown(test_valid, setup, teardown),
        cmocka_unit_test_setup_teardown(test_certificate, setup, teardown),
        cmocka_unit_test_setup_teardown(test_claims_json, setup, teardown),
        cmocka_unit_test_setup_teardown(test_exp, setup, teardown),
        cmocka_unit_test_setup_teardown(test_nbf_iat, setup, teardown),
        cmocka_unit_test_setup_teardown(test_issuer_audience, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_alg, setup, teardown),
        cmocka_unit_test_setup_teardown(test_confusion, setup, teardown),
        cmocka_unit_test_setup_teardown(test_signature, setup, teardown),
        cmocka_unit_test_setup_teardown(test_kid, setup, teardown),
        cmocka_unit_test_setup_teardown(test_header, setup, teardown),
        cmocka_unit_test_setup_teardown(test_payload, setup, teardown),
        cmocka_unit_test_setup_teardown(test_malformed, setup, teardown),
        cmocka_unit_test_setup_teardown(test_size, setup, teardown),
        cmocka_unit_test_setup_teardown(test_unsupported, setup, teardown),
        cmocka_unit_test(test_key_load),
        cmocka_unit_test(test_names),
        cmocka_unit_test(test_json_pointer),
        cmocka_unit_test(test_unique_keys),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
