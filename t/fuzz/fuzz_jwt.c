/*
 * libFuzzer target: the token reader.  The first byte chooses:
 *
 *   bit 0   0: the rest is a compact token, verified as it is;
 *           1: the rest is header JSON, a NUL, payload JSON: encoded and
 *              signed here with the HS256 key, so that inputs get past the
 *              signature to the claims;
 *   bits 1-5  the configuration: an issuer, an audience, any audience,
 *           exp optional, typ "JWT" only.
 *
 * Keys: HS256 (no kid), HS384 (kid "k"), RS256 (kids "rsa-1", "rsa-2":
 * without a kid, ambiguous), ES256 (no kid), the test-only keys of
 * t/unit/keys.  No read past the token, no
 * leak, and a verified token's claims JSON reads back to itself.
 */

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>
#include <openssl/hmac.h>

#include "fql_jwt.h"
#include "fql_error.h"
#include "../unit/jwt_tokens.h"


static fql_arena_t     *key_arena;
static fql_jwt_key_t    keys[5];
static fql_jwt_conf_t   conf;


static void
load(unsigned i, fql_jwt_alg_t alg, const char *kid, const char *text)
{
    char       err[256];
    fql_str_t  k = { kid, kid ? strlen(kid) : 0 };

    if (fql_jwt_key_load(key_arena, alg, k, text, strlen(text), &keys[i],
                         err, sizeof(err))
        != 0)
    {
        abort();
    }
}


static void
init(void)
{
    key_arena = fql_arena_heap_create();

    load(0, FQL_JWT_HS256, NULL, HS256_SECRET);
    load(1, FQL_JWT_HS384, "k", HS384_SECRET);
    load(2, FQL_JWT_RS256, "rsa-1", RSA_PUB);
    load(3, FQL_JWT_ES256, NULL, EC256_PUB);
    load(4, FQL_JWT_RS256, "rsa-2", RSA_B_PUB);

    fql_jwt_conf_init(&conf);
    conf.keys = keys;
    conf.nkeys = 5;
}


static size_t
b64url(const uint8_t *in, size_t len, char *out)
{
    static const char  alpha[] =
        "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

    size_t    i, n;
    uint32_t  v;

    n = 0;

    for (i = 0; i + 2 < len; i += 3) {
        v = (uint32_t) in[i] << 16 | (uint32_t) in[i + 1] << 8 | in[i + 2];
        out[n++] = alpha[v >> 18];
        out[n++] = alpha[(v >> 12) & 63];
        out[n++] = alpha[(v >> 6) & 63];
        out[n++] = alpha[v & 63];
    }

    if (len - i == 1) {
        v = (uint32_t) in[i] << 16;
        out[n++] = alpha[v >> 18];
        out[n++] = alpha[(v >> 12) & 63];

    } else if (len - i == 2) {
        v = (uint32_t) in[i] << 16 | (uint32_t) in[i + 1] << 8;
        out[n++] = alpha[v >> 18];
        out[n++] = alpha[(v >> 12) & 63];
        out[n++] = alpha[(v >> 6) & 63];
    }

    return n;
}


/* header NUL payload → a token signed with the HS256 key, malloc'd */
static char *
sign(const uint8_t *data, size_t size, size_t *len)
{
    char           *tok;
    size_t          hlen, n;
    unsigned        maclen;
    const uint8_t  *nul;
    unsigned char   mac[EVP_MAX_MD_SIZE];

    nul = memchr(data, 0, size);
    hlen = nul ? (size_t) (nul - data) : size;

    tok = malloc(size / 3 * 4 + 8 + 1 + 86);
    if (tok == NULL) {
        return NULL;
    }

    n = b64url(data, hlen, tok);
    tok[n++] = '.';

    if (nul != NULL) {
        n += b64url(nul + 1, size - hlen - 1, tok + n);
    }

    HMAC(EVP_sha256(), HS256_SECRET, sizeof(HS256_SECRET) - 1,
         (unsigned char *) tok, n, mac, &maclen);

    tok[n++] = '.';
    n += b64url(mac, maclen, tok + n);

    *len = n;

    return tok;
}


/* the claims' JSON parses to a tree that writes the same text again */
static void
check_claims(fql_arena_t *a, const fql_jwt_t *jwt)
{
    fql_jval_t     *j;
    fql_errors_t    errs;
    fql_heapbuf_t   hb;
    fql_str_t       role = fql_str_lit("/role");

    fql_errors_init(&errs, a);

    j = fql_json_parse(a, jwt->claims_json.data, jwt->claims_json.len,
                       &errs);
    if (j == NULL || j->kind != FQL_J_OBJECT
        || fql_json_unique_keys(a, j) != 1)
    {
        abort();
    }

    fql_heapbuf_init(&hb);

    if (fql_jval_write(&hb.w, j) != 0
        || fql_heapbuf_len(&hb) != jwt->claims_json.len
        || memcmp(hb.data, jwt->claims_json.data, jwt->claims_json.len)
           != 0)
    {
        abort();
    }

    fql_heapbuf_free(&hb);

    if ((fql_json_pointer(jwt->claims, role) != NULL)
        != (fql_jval_member(jwt->claims, "role") != NULL))
    {
        abort();
    }
}


int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char                    *tok;
    size_t                   len;
    uint8_t                  mode;
    fql_jwt_t                jwt;
    fql_arena_t             *a;
    fql_jwt_status_t         st;
    static fql_str_t         aud = fql_str_lit("api");
    static fql_str_t         typ = fql_str_lit("JWT");

    if (key_arena == NULL) {
        init();
    }

    if (size == 0) {
        return 0;
    }

    mode = data[0];
    data++;
    size--;

    conf.issuer.data = (mode & 2) ? ISSUER : NULL;
    conf.issuer.len = (mode & 2) ? sizeof(ISSUER) - 1 : 0;
    conf.audiences = &aud;
    conf.naudiences = (mode & 4) ? 1 : 0;
    conf.audience_any = (mode & 8) ? 1 : 0;
    conf.exp_required = (mode & 16) ? 0 : 1;
    conf.typs = (mode & 32) ? &typ : NULL;
    conf.ntyps = 1;

    if (mode & 1) {
        tok = sign(data, size, &len);

    } else {
        /* exactly size bytes: ASan sees any read past them */
        tok = malloc(size ? size : 1);
        if (tok != NULL) {
            memcpy(tok, data, size);
        }

        len = size;
    }

    if (tok == NULL) {
        return 0;
    }

    a = fql_arena_heap_create();

    st = fql_jwt_verify(a, &conf, tok, len, NOW, &jwt);

    if (st != jwt.status || (st == FQL_JWT_OK) != (jwt.error == NULL)) {
        abort();
    }

    if (st == FQL_JWT_OK) {
        check_claims(a, &jwt);
    }

    fql_arena_heap_destroy(a);
    free(tok);

    return 0;
}
