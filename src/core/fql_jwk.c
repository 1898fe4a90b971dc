/*
 * A JWKS document read with the JSON reader (yajl) and each public key
 * built with OpenSSL 3's EVP_PKEY_fromdata from its parameters: RSA's
 * modulus and exponent, EC's curve and point.  The key is then pinned by
 * fql_jwt_key_pin, which applies fql_jwt_key_load's rules, so that a key
 * from a set and one from a PEM file are held to the same ones.
 *
 * What refuses the whole set and what only skips a key: a set is the
 * issuer's public list, often shared with other services, so keys meant
 * for something else (encryption, an algorithm this module does not
 * verify) are left to them; but a secret in it, or a key this module
 * would verify with and cannot trust, is an operator's mistake that
 * nginx -t (or the worker re-reading the file) should stop at.
 */

#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/types.h>

#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/obj_mac.h>
#include <openssl/param_build.h>

#include "fql_jwk.h"
#include "fql_error.h"


/* the members of private keys (RFC 7518 §6.2.2, §6.3.2) */
static const char  *fql_jwk_private[] = {
    "d", "p", "q", "dp", "dq", "qi", "oth"
};

typedef struct {
    const char     *crv;        /* JWK's name (RFC 7518 §6.2.1.1) */
    const char     *group;      /* OpenSSL's */
    size_t          size;       /* bytes of a coordinate */
    fql_jwt_alg_t   alg;        /* the one it implies without "alg" */
} fql_jwk_curve_t;

static const fql_jwk_curve_t  fql_jwk_curves[] = {
    { "P-256", SN_X9_62_prime256v1, 32, FQL_JWT_ES256 },
    { "P-384", SN_secp384r1, 48, FQL_JWT_ES384 },
    { "P-521", SN_secp521r1, 66, FQL_JWT_ES512 },
};

/* OpenSSL verifies with RSA moduli of up to 16384 bits */
#define FQL_JWK_RSA_N_MAX  2048
/* and exponents of up to 64 bits past 3072-bit moduli */
#define FQL_JWK_RSA_E_MAX  8

/* what a key came to */
#define FQL_JWK_KEPT      1
#define FQL_JWK_SKIPPED   0
#define FQL_JWK_REFUSED  -1


typedef struct {
    fql_arena_t      *arena;
    fql_arena_t      *tmp;
    fql_jwk_set_t    *set;
    char             *err;
    size_t            errlen;
    unsigned          index;    /* of the key in "keys" */
    fql_str_t         kid;      /* len 0: none */
} fql_jwk_ctx_t;


/* "keys[2] (kid "a"): " before what is said of a key */
static void
fql_jwk_say(fql_jwk_ctx_t *c, char *buf, size_t size, const char *fmt,
    va_list args)
{
    int  n;

    if (c->kid.len) {
        n = snprintf(buf, size, "keys[%u] (kid \"%.*s\"): ", c->index,
                     (int) (c->kid.len > 64 ? 64 : c->kid.len),
                     c->kid.data);
    } else {
        n = snprintf(buf, size, "keys[%u]: ", c->index);
    }

    if (n > 0 && (size_t) n < size) {
        vsnprintf(buf + n, size - n, fmt, args);
    }
}


static int
fql_jwk_refuse(fql_jwk_ctx_t *c, const char *fmt, ...)
{
    va_list  args;

    va_start(args, fmt);
    fql_jwk_say(c, c->err, c->errlen, fmt, args);
    va_end(args);

    ERR_clear_error();

    return FQL_JWK_REFUSED;
}


static int
fql_jwk_skip(fql_jwk_ctx_t *c, const char *fmt, ...)
{
    va_list  args;

    if (c->set->nskipped++ == 0) {
        va_start(args, fmt);
        fql_jwk_say(c, c->set->skipped, sizeof(c->set->skipped), fmt, args);
        va_end(args);
    }

    return FQL_JWK_SKIPPED;
}


/* an optional string member: 0 absent, 1 there (in *out), -1 not a string */
static int
fql_jwk_string(fql_jwk_ctx_t *c, const fql_jval_t *jwk, const char *name,
    fql_str_t *out)
{
    const fql_jval_t  *v;

    v = fql_jval_member(jwk, name);
    if (v == NULL) {
        return 0;
    }

    if (v->kind != FQL_J_STRING) {
        return fql_jwk_refuse(c, "\"%s\" is not a string", name);
    }

    *out = v->str;

    return 1;
}


/*
 * A required base64url member (RFC 7518's Base64urlUInt and
 * coordinates): its bytes, at most max of them, into tmp.
 */
static int
fql_jwk_bytes(fql_jwk_ctx_t *c, const fql_jval_t *jwk, const char *name,
    size_t max, u_char **out, size_t *len)
{
    int        rc;
    char      *p;
    fql_str_t  s;

    rc = fql_jwk_string(c, jwk, name, &s);
    if (rc <= 0) {
        return rc < 0 ? rc : fql_jwk_refuse(c, "no \"%s\"", name);
    }

    /* the length is checked before decoding: 4 characters, 3 bytes */
    if (s.len == 0 || s.len / 4 * 3 > max + 3) {
        return fql_jwk_refuse(c, "\"%s\" is empty or too long", name);
    }

    p = fql_alloc(c->tmp, s.len / 4 * 3 + 3);
    if (p == NULL) {
        return fql_jwk_refuse(c, "%s", FQL_NOMEM);
    }

    if (fql_b64url_decode(s, p, len) != 0) {
        return fql_jwk_refuse(c, "\"%s\" is not base64url (without "
                              "padding)", name);
    }

    if (*len == 0 || *len > max) {
        return fql_jwk_refuse(c, "\"%s\" is empty or too long", name);
    }

    *out = (u_char *) p;

    return 1;
}


static EVP_PKEY *
fql_jwk_fromdata(const char *type, OSSL_PARAM_BLD *bld)
{
    EVP_PKEY      *pkey;
    OSSL_PARAM    *params;
    EVP_PKEY_CTX  *pctx;

    pkey = NULL;
    params = OSSL_PARAM_BLD_to_param(bld);
    pctx = EVP_PKEY_CTX_new_from_name(NULL, type, NULL);

    if (params == NULL || pctx == NULL
        || EVP_PKEY_fromdata_init(pctx) != 1
        || EVP_PKEY_fromdata(pctx, &pkey, EVP_PKEY_PUBLIC_KEY, params) != 1)
    {
        pkey = NULL;
    }

    EVP_PKEY_CTX_free(pctx);
    OSSL_PARAM_free(params);

    return pkey;
}


/* RSA from n and e (RFC 7518 §6.3.1), big-endian unsigned integers */
static int
fql_jwk_rsa(fql_jwk_ctx_t *c, const fql_jval_t *jwk, EVP_PKEY **pkey)
{
    int              rc;
    u_char          *n, *e;
    size_t           nlen, elen;
    BIGNUM          *bn, *be;
    OSSL_PARAM_BLD  *bld;

    rc = fql_jwk_bytes(c, jwk, "n", FQL_JWK_RSA_N_MAX, &n, &nlen);
    if (rc < 0) {
        return rc;
    }

    rc = fql_jwk_bytes(c, jwk, "e", FQL_JWK_RSA_E_MAX, &e, &elen);
    if (rc < 0) {
        return rc;
    }

    /*
     * An even modulus is no RSA modulus, and an exponent of 1 makes every
     * message its own signature: OpenSSL verifies with either.
     */
    if ((n[nlen - 1] & 1) == 0) {
        return fql_jwk_refuse(c, "%s", "\"n\" is even: not an RSA modulus");
    }

    if ((e[elen - 1] & 1) == 0 || (elen == 1 && e[0] == 1)) {
        return fql_jwk_refuse(c, "%s", "\"e\" is not an odd exponent above "
                              "1");
    }

    bn = BN_bin2bn(n, (int) nlen, NULL);
    be = BN_bin2bn(e, (int) elen, NULL);
    bld = OSSL_PARAM_BLD_new();

    *pkey = NULL;

    if (bn != NULL && be != NULL && bld != NULL
        && OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_N, bn)
        && OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_E, be))
    {
        *pkey = fql_jwk_fromdata("RSA", bld);
    }

    OSSL_PARAM_BLD_free(bld);
    BN_free(bn);
    BN_free(be);

    if (*pkey == NULL) {
        return fql_jwk_refuse(c, "%s", "OpenSSL did not take the RSA key");
    }

    return FQL_JWK_KEPT;
}


/*
 * EC from crv, x and y (RFC 7518 §6.2.1), each coordinate the curve's
 * full size: as an uncompressed point, which OpenSSL checks is on the
 * curve.
 */
static int
fql_jwk_ec(fql_jwk_ctx_t *c, const fql_jval_t *jwk,
    const fql_jwk_curve_t *curve, EVP_PKEY **pkey)
{
    int              rc;
    u_char          *x, *y, point[1 + 2 * 66];
    size_t           xlen, ylen;
    OSSL_PARAM_BLD  *bld;

    rc = fql_jwk_bytes(c, jwk, "x", curve->size, &x, &xlen);
    if (rc < 0) {
        return rc;
    }

    rc = fql_jwk_bytes(c, jwk, "y", curve->size, &y, &ylen);
    if (rc < 0) {
        return rc;
    }

    if (xlen != curve->size || ylen != curve->size) {
        return fql_jwk_refuse(c, "\"x\" and \"y\" must be %zu bytes each "
                              "on %s", curve->size, curve->crv);
    }

    point[0] = 0x04;
    memcpy(point + 1, x, xlen);
    memcpy(point + 1 + xlen, y, ylen);

    bld = OSSL_PARAM_BLD_new();
    *pkey = NULL;

    if (bld != NULL
        && OSSL_PARAM_BLD_push_utf8_string(bld, OSSL_PKEY_PARAM_GROUP_NAME,
                                           curve->group, 0)
        && OSSL_PARAM_BLD_push_octet_string(bld, OSSL_PKEY_PARAM_PUB_KEY,
                                            point, 1 + xlen + ylen))
    {
        *pkey = fql_jwk_fromdata("EC", bld);
    }

    OSSL_PARAM_BLD_free(bld);

    if (*pkey == NULL) {
        return fql_jwk_refuse(c, "the point (\"x\", \"y\") is not on %s",
                              curve->crv);
    }

    return FQL_JWK_KEPT;
}


/*
 * "use" (RFC 7517 §4.2) and "key_ops" (§4.3): a key for something else
 * than verifying signatures is skipped.
 */
static int
fql_jwk_purpose(fql_jwk_ctx_t *c, const fql_jval_t *jwk)
{
    int                rc;
    fql_str_t          use;
    const fql_jval_t  *ops, *op;

    rc = fql_jwk_string(c, jwk, "use", &use);
    if (rc < 0) {
        return rc;
    }

    if (rc == 1 && !fql_str_eqz(use, "sig")) {
        return fql_jwk_skip(c, "\"use\" is \"%.*s\", not \"sig\"",
                            (int) (use.len > 16 ? 16 : use.len), use.data);
    }

    ops = fql_jval_member(jwk, "key_ops");
    if (ops == NULL) {
        return FQL_JWK_KEPT;
    }

    if (ops->kind != FQL_J_ARRAY) {
        return fql_jwk_refuse(c, "%s", "\"key_ops\" is not an array");
    }

    rc = 0;

    for (op = ops->items; op; op = op->next) {
        if (op->kind != FQL_J_STRING) {
            return fql_jwk_refuse(c, "%s", "\"key_ops\" holds something "
                                  "else than strings");
        }

        rc |= fql_str_eqz(op->str, "verify");
    }

    return rc ? FQL_JWK_KEPT
              : fql_jwk_skip(c, "%s", "\"key_ops\" has no \"verify\"");
}


/* the key's algorithm: its "alg", or the one its curve or RSA implies */
static int
fql_jwk_alg(fql_jwk_ctx_t *c, const fql_jval_t *jwk, int rsa,
    const fql_jwk_curve_t *curve, fql_jwt_alg_t *alg)
{
    int        rc;
    fql_str_t  name;

    rc = fql_jwk_string(c, jwk, "alg", &name);
    if (rc < 0) {
        return rc;
    }

    if (rc == 0) {
        /* RFC 7518 has no default: RS256 is what every issuer uses */
        *alg = rsa ? FQL_JWT_RS256 : curve->alg;
        return FQL_JWK_KEPT;
    }

    *alg = fql_jwt_alg_named(name);

    if (*alg == FQL_JWT_ALG_UNKNOWN) {
        return fql_jwk_skip(c, "\"alg\" \"%.*s\" is not an algorithm this "
                            "module verifies",
                            (int) (name.len > 16 ? 16 : name.len),
                            name.data);
    }

    /* an HMAC algorithm on a public key: the algorithm confusion */
    if (*alg < FQL_JWT_RS256) {
        return fql_jwk_refuse(c, "\"alg\" %s on an %s key",
                              fql_jwt_alg_name(*alg), rsa ? "RSA" : "EC");
    }

    return FQL_JWK_KEPT;
}


static int
fql_jwk_key(fql_jwk_ctx_t *c, const fql_jval_t *jwk, fql_jwt_key_t *key)
{
    int                     rc, rsa;
    char                    why[128];
    unsigned                i;
    fql_str_t               kty, crv;
    EVP_PKEY               *pkey;
    fql_jwt_alg_t           alg;
    const fql_jwk_curve_t  *curve;

    c->kid.len = 0;
    pkey = NULL;
    alg = FQL_JWT_ALG_UNKNOWN;

    if (jwk->kind != FQL_J_OBJECT) {
        return fql_jwk_refuse(c, "%s", "not a JSON object");
    }

    if (fql_jwk_string(c, jwk, "kid", &c->kid) < 0) {
        return FQL_JWK_REFUSED;
    }

    rc = fql_jwk_string(c, jwk, "kty", &kty);
    if (rc <= 0) {
        return rc < 0 ? rc : fql_jwk_refuse(c, "%s", "no \"kty\"");
    }

    /* a symmetric key in a public set is a secret no more */
    if (fql_str_eqz(kty, "oct")) {
        return fql_jwk_refuse(c, "%s", "a symmetric key (\"kty\":\"oct\"): "
                              "a key set is public, an HS secret does not "
                              "belong in it (fraiseql_jwt_key alg=HS256 "
                              "file=...)");
    }

    for (i = 0; i < sizeof(fql_jwk_private) / sizeof(char *); i++) {
        if (fql_jval_member(jwk, fql_jwk_private[i]) != NULL) {
            return fql_jwk_refuse(c, "a private key (member \"%s\"): a "
                                  "key set holds public keys only",
                                  fql_jwk_private[i]);
        }
    }

    rc = fql_jwk_purpose(c, jwk);
    if (rc != FQL_JWK_KEPT) {
        return rc;
    }

    rsa = fql_str_eqz(kty, "RSA");
    curve = NULL;

    if (!rsa) {
        if (!fql_str_eqz(kty, "EC")) {
            return fql_jwk_skip(c, "\"kty\" \"%.*s\" is not RSA or EC",
                                (int) (kty.len > 16 ? 16 : kty.len),
                                kty.data);
        }

        rc = fql_jwk_string(c, jwk, "crv", &crv);
        if (rc <= 0) {
            return rc < 0 ? rc : fql_jwk_refuse(c, "%s", "no \"crv\"");
        }

        for (i = 0; i < sizeof(fql_jwk_curves) / sizeof(fql_jwk_curves[0]);
             i++)
        {
            if (fql_str_eqz(crv, fql_jwk_curves[i].crv)) {
                curve = &fql_jwk_curves[i];
            }
        }

        if (curve == NULL) {
            return fql_jwk_skip(c, "\"crv\" \"%.*s\" is not P-256, P-384 or "
                                "P-521", (int) (crv.len > 16 ? 16 : crv.len),
                                crv.data);
        }
    }

    rc = fql_jwk_alg(c, jwk, rsa, curve, &alg);
    if (rc != FQL_JWK_KEPT) {
        return rc;
    }

    rc = rsa ? fql_jwk_rsa(c, jwk, &pkey) : fql_jwk_ec(c, jwk, curve, &pkey);
    if (rc != FQL_JWK_KEPT) {
        return rc;
    }

    if (fql_jwt_key_pin(c->arena, alg, c->kid, pkey, key, why, sizeof(why))
        != 0)
    {
        return fql_jwk_refuse(c, "%s", why);
    }

    return FQL_JWK_KEPT;
}


void
fql_jwk_set_free(fql_jwk_set_t *set)
{
    unsigned  i;

    for (i = 0; i < set->nkeys; i++) {
        fql_jwt_key_free(&set->keys[i]);
    }

    set->keys = NULL;
    set->nkeys = 0;
}


static int
fql_jwk_fail(fql_jwk_set_t *set, char *err, size_t errlen, const char *msg)
{
    if (msg != NULL) {
        snprintf(err, errlen, "%s", msg);
    }

    fql_jwk_set_free(set);

    return -1;
}


int
fql_jwk_set_parse(fql_arena_t *a, fql_arena_t *tmp, const char *text,
    size_t len, fql_jwk_set_t *set, char *err, size_t errlen)
{
    int                rc;
    unsigned           i;
    fql_jval_t        *doc;
    fql_errors_t       errs;
    fql_jwk_ctx_t      c;
    fql_jwt_key_t     *k;
    const fql_jval_t  *keys, *jwk;

    memset(set, 0, sizeof(fql_jwk_set_t));

    if (len > FQL_JWK_MAX_SIZE) {
        return fql_jwk_fail(set, err, errlen, "a key set of more than 1 MB");
    }

    fql_errors_init(&errs, tmp);

    doc = fql_json_parse(tmp, text, len, &errs);
    if (doc == NULL) {
        snprintf(err, errlen, "%s", errs.head != NULL
                 ? errs.head->message : "not JSON");

        /* yajl's message ends with a line break: a log line must not */
        for (i = strlen(err); i > 0 && (unsigned char) err[i - 1] <= ' '; i--)
        {
            err[i - 1] = '\0';
        }

        return -1;
    }

    rc = fql_json_unique_keys(tmp, doc);
    if (rc != 1) {
        return fql_jwk_fail(set, err, errlen, rc < 0 ? FQL_NOMEM
                            : "a member twice in one object");
    }

    keys = fql_jval_member(doc, "keys");

    if (doc->kind != FQL_J_OBJECT || keys == NULL
        || keys->kind != FQL_J_ARRAY)
    {
        return fql_jwk_fail(set, err, errlen, "not a JSON Web Key Set: "
                            "{\"keys\": [...]}");
    }

    if (keys->count > FQL_JWK_MAX_KEYS) {
        return fql_jwk_fail(set, err, errlen, "more than 64 keys");
    }

    set->keys = keys->count ? fql_calloc(a, keys->count
                                            * sizeof(fql_jwt_key_t))
                            : NULL;
    if (keys->count && set->keys == NULL) {
        return fql_jwk_fail(set, err, errlen, FQL_NOMEM);
    }

    c.arena = a;
    c.tmp = tmp;
    c.set = set;
    c.err = err;
    c.errlen = errlen;
    c.index = 0;

    for (jwk = keys->items; jwk; jwk = jwk->next, c.index++) {
        rc = fql_jwk_key(&c, jwk, &set->keys[set->nkeys]);

        if (rc == FQL_JWK_REFUSED) {
            return fql_jwk_fail(set, err, errlen, NULL);
        }

        if (rc == FQL_JWK_SKIPPED) {
            continue;
        }

        /* a kid names one key: which of two would verify is a guess */
        for (i = 0; c.kid.len && i < set->nkeys; i++) {
            k = &set->keys[i];

            if (fql_str_eq(k->kid, c.kid)) {
                fql_jwt_key_free(&set->keys[set->nkeys]);
                fql_jwk_refuse(&c, "%s", "a second key with this kid");
                return fql_jwk_fail(set, err, errlen, NULL);
            }
        }

        set->nkeys++;
    }

    if (set->nkeys == 0) {
        if (set->nskipped) {
            snprintf(err, errlen, "no key to verify tokens with (%u "
                     "skipped; %s)", set->nskipped, set->skipped);
        } else {
            snprintf(err, errlen, "no key to verify tokens with");
        }

        return fql_jwk_fail(set, err, errlen, NULL);
    }

    return 0;
}
