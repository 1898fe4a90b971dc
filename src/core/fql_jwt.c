/*
 * JSON Web Tokens verified in the order of SECURITY.md §1.4, each rule a
 * status of its own:
 *
 *   1. size, then form: three base64url segments, checked before any
 *      decoding;
 *   2. the header, parsed here: alg, crit, typ, then the key (kid);
 *   3. the signature, with the key's pinned algorithm only;
 *   4. the claims, read once from the verified payload.
 *
 * libjwt 1.10 verifies nothing of this itself (no claim checks, alg read
 * case-insensitively, no signature check without a key, an RSA PEM taken
 * as an HMAC secret, the token copied onto the stack) and parses a PEM key
 * on every call; so the signature is checked with OpenSSL directly, HS*
 * included: libjwt also refuses "typ":"at+jwt" (RFC 9068 access tokens),
 * re-parses header and payload with jansson, whose duplicate members mean
 * the last one (ours refuses them), and compares MACs in constant time only
 * with a Debian patch (CVE-2024-25189).  HMAC with OpenSSL and
 * CRYPTO_memcmp has none of these, and costs a microsecond or two.
 */

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/types.h>

#include <openssl/crypto.h>
#include <openssl/ecdsa.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/objects.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

#include "fql_jwt.h"
#include "fql_error.h"


typedef enum {
    FQL_JWT_HMAC,
    FQL_JWT_RSA,
    FQL_JWT_ECDSA
} fql_jwt_family_t;

typedef struct {
    const char         *name;
    fql_jwt_family_t    family;
    const EVP_MD     *(*md)(void);
    unsigned            size;       /* HMAC bytes; ES: bytes of R and of S */
    int                 curve;      /* ES: the curve's NID */
} fql_jwt_alg_info_t;

/* in the order of fql_jwt_alg_t */
static const fql_jwt_alg_info_t  fql_jwt_algs[] = {
    { "HS256", FQL_JWT_HMAC, EVP_sha256, 32, 0 },
    { "HS384", FQL_JWT_HMAC, EVP_sha384, 48, 0 },
    { "HS512", FQL_JWT_HMAC, EVP_sha512, 64, 0 },
    { "RS256", FQL_JWT_RSA, EVP_sha256, 0, 0 },
    { "RS384", FQL_JWT_RSA, EVP_sha384, 0, 0 },
    { "RS512", FQL_JWT_RSA, EVP_sha512, 0, 0 },
    { "ES256", FQL_JWT_ECDSA, EVP_sha256, 32, NID_X9_62_prime256v1 },
    { "ES384", FQL_JWT_ECDSA, EVP_sha384, 48, NID_secp384r1 },
    { "ES512", FQL_JWT_ECDSA, EVP_sha512, 66, NID_secp521r1 },
};

#define FQL_JWT_NALGS  (sizeof(fql_jwt_algs) / sizeof(fql_jwt_algs[0]))

/*
 * Registered JWS algorithms this build cannot verify (libjwt 1.10 has
 * none of them either): named as such rather than as a bad alg, so that
 * an operator sees why a provider's tokens fail.
 */
static const char  *fql_jwt_unsupported[] = {
    "PS256", "PS384", "PS512", "EdDSA", "ES256K", "Ed25519", "Ed448"
};

static const char  *fql_jwt_status_names[] = {
    "ok", "missing", "too_large", "malformed", "bad_header", "bad_alg",
    "unsupported_alg", "unknown_kid", "ambiguous_key", "bad_signature",
    "bad_claims", "expired", "not_yet_valid", "bad_iat", "bad_issuer",
    "bad_audience", "no_memory", "error"
};

/*
 * The latest NumericDate accepted, 9999-12-31T23:59:59Z: far from any
 * overflow of the arithmetic on dates, and low enough to refuse a date in
 * milliseconds (an issuer's mistake that makes a token live for ever).
 */
#define FQL_JWT_DATE_MAX  253402300799LL

/* the longest key text read: a certificate is a few KB */
#define FQL_JWT_KEY_MAX   65536

/* the longest DER ECDSA-Sig-Value of P-521: 2 x (67 + 2) + 3 */
#define FQL_JWT_DER_MAX   160


fql_jwt_alg_t
fql_jwt_alg_named(fql_str_t name)
{
    unsigned  i;

    for (i = 0; i < FQL_JWT_NALGS; i++) {
        if (fql_str_eqz(name, fql_jwt_algs[i].name)) {
            return (fql_jwt_alg_t) i;
        }
    }

    return FQL_JWT_ALG_UNKNOWN;
}


const char *
fql_jwt_alg_name(fql_jwt_alg_t alg)
{
    if (alg < 0 || (unsigned) alg >= FQL_JWT_NALGS) {
        return "unknown";
    }

    return fql_jwt_algs[alg].name;
}


const char *
fql_jwt_status_name(fql_jwt_status_t st)
{
    if ((unsigned) st >= sizeof(fql_jwt_status_names) / sizeof(char *)) {
        return "error";
    }

    return fql_jwt_status_names[st];
}


void
fql_jwt_conf_init(fql_jwt_conf_t *conf)
{
    memset(conf, 0, sizeof(fql_jwt_conf_t));

    conf->exp_required = 1;
    conf->leeway = FQL_JWT_DEFAULT_LEEWAY;
    conf->max_size = FQL_JWT_DEFAULT_MAX_SIZE;
}


/* ---- keys ---- */


static int
fql_jwt_key_error(char *err, size_t errlen, const char *fmt, const char *arg)
{
    snprintf(err, errlen, fmt, arg);

    /* what OpenSSL queued about a refused key must not be reported later,
     * about something else */
    ERR_clear_error();

    return -1;
}


/* the first occurrence of s (NUL-ended) in data, or NULL */
static const char *
fql_jwt_find(const char *data, size_t len, const char *s)
{
    size_t       n = strlen(s);
    const char  *p, *end;

    end = data + len;

    for (p = data; (size_t) (end - p) >= n; p++) {
        p = memchr(p, s[0], end - p - n + 1);
        if (p == NULL) {
            return NULL;
        }

        if (memcmp(p, s, n) == 0) {
            return p;
        }
    }

    return NULL;
}


static int
fql_jwt_hs_load(fql_arena_t *a, const char *data, size_t len,
    fql_jwt_key_t *key, char *err, size_t errlen)
{
    size_t  i;
    char   *p;

    if (len < FQL_JWT_HS_MIN) {
        return fql_jwt_key_error(err, errlen,
                                 "an %s secret must be at least 32 bytes",
                                 fql_jwt_alg_name(key->alg));
    }

    for (i = 0; i < len && (data[i] == ' ' || data[i] == '\t'
                            || data[i] == '\r' || data[i] == '\n'); i++)
    {
        /* void */
    }

    /* a public key is public: as an HMAC secret, anyone can sign with it */
    if (fql_jwt_find(data, len, "-----BEGIN") != NULL
        || (i < len && data[i] == '{'))
    {
        return fql_jwt_key_error(err, errlen,
                                 "an %s secret that is a PEM or JSON key: "
                                 "a public key is no secret, pin it to an "
                                 "RS or ES algorithm",
                                 fql_jwt_alg_name(key->alg));
    }

    p = fql_alloc(a, len);
    if (p == NULL) {
        return fql_jwt_key_error(err, errlen, "%s", FQL_NOMEM);
    }

    memcpy(p, data, len);
    key->secret.data = p;
    key->secret.len = len;

    return 0;
}


/*
 * The PEM object's label decides the reader: one object only, so that
 * no one wonders which key of a bundle verifies tokens.
 */
static EVP_PKEY *
fql_jwt_pem_read(const char *data, size_t len, char *err, size_t errlen)
{
    BIO          *bio;
    X509         *x509;
    size_t        rest;
    EVP_PKEY     *pkey;
    const char   *begin, *label;

    /* the verifier needs no private key: it stays with the issuer */
    if (fql_jwt_find(data, len, "PRIVATE KEY-----") != NULL) {
        fql_jwt_key_error(err, errlen, "%s", "a private key: give the public "
                          "key (openssl pkey -pubout)");
        return NULL;
    }

    begin = fql_jwt_find(data, len, "-----BEGIN ");
    if (begin == NULL) {
        fql_jwt_key_error(err, errlen, "%s", "not a PEM public key or "
                          "certificate (no \"-----BEGIN\" line)");
        return NULL;
    }

    if (fql_jwt_find(begin + 1, data + len - begin - 1, "-----BEGIN ")
        != NULL)
    {
        fql_jwt_key_error(err, errlen, "%s", "several PEM objects: give "
                          "one public key or certificate");
        return NULL;
    }

    label = begin + sizeof("-----BEGIN ") - 1;
    rest = len - (size_t) (label - data);

    bio = BIO_new_mem_buf(data, (int) len);
    if (bio == NULL) {
        fql_jwt_key_error(err, errlen, "%s", FQL_NOMEM);
        return NULL;
    }

    pkey = NULL;

    if (rest >= 15 && memcmp(label, "PUBLIC KEY-----", 15) == 0) {
        pkey = PEM_read_bio_PUBKEY(bio, NULL, NULL, NULL);

    } else if (rest >= 16 && memcmp(label, "CERTIFICATE-----", 16) == 0) {
        x509 = PEM_read_bio_X509(bio, NULL, NULL, NULL);
        if (x509 != NULL) {
            pkey = X509_get_pubkey(x509);
            X509_free(x509);
        }

    } else {
        BIO_free(bio);
        fql_jwt_key_error(err, errlen, "%s", "not a \"PUBLIC KEY\" or "
                          "\"CERTIFICATE\" PEM object (an \"RSA PUBLIC "
                          "KEY\" converts with openssl rsa -RSAPublicKey_in "
                          "-pubout)");
        return NULL;
    }

    BIO_free(bio);

    if (pkey == NULL) {
        fql_jwt_key_error(err, errlen, "%s", "the PEM object does not parse");
    }

    return pkey;
}


/* RSA of at least 2048 bits for RS*; for ES*, EC on the alg's own curve */
static int
fql_jwt_pkey_check(const fql_jwt_alg_info_t *ai, EVP_PKEY *pkey, char *err,
    size_t errlen)
{
    char    group[64];
    size_t  glen;

    if (ai->family == FQL_JWT_RSA) {
        if (EVP_PKEY_get_base_id(pkey) != EVP_PKEY_RSA) {
            return fql_jwt_key_error(err, errlen, "%s needs an RSA key",
                                     ai->name);
        }

        if (EVP_PKEY_get_bits(pkey) < FQL_JWT_RSA_MIN_BITS) {
            return fql_jwt_key_error(err, errlen, "%s: an RSA key under "
                                     "2048 bits", ai->name);
        }

        return 0;
    }

    if (EVP_PKEY_get_base_id(pkey) != EVP_PKEY_EC) {
        return fql_jwt_key_error(err, errlen, "%s needs an EC key", ai->name);
    }

    /* explicit curve parameters are named when they are a named curve's */
    if (EVP_PKEY_get_group_name(pkey, group, sizeof(group), &glen) != 1
        || OBJ_sn2nid(group) != ai->curve)
    {
        return fql_jwt_key_error(err, errlen, "%s needs an EC key on its "
                                 "own curve (P-256, P-384, P-521 for ES256, "
                                 "ES384, ES512)", ai->name);
    }

    return 0;
}


int
fql_jwt_key_load(fql_arena_t *a, fql_jwt_alg_t alg, fql_str_t kid,
    const char *data, size_t len, fql_jwt_key_t *key, char *err,
    size_t errlen)
{
    EVP_PKEY                  *pkey;
    const fql_jwt_alg_info_t  *ai;

    memset(key, 0, sizeof(fql_jwt_key_t));

    if (alg < 0 || (unsigned) alg >= FQL_JWT_NALGS) {
        return fql_jwt_key_error(err, errlen, "%s", "unknown algorithm");
    }

    ai = &fql_jwt_algs[alg];
    key->alg = alg;

    if (len > FQL_JWT_KEY_MAX) {
        return fql_jwt_key_error(err, errlen, "%s", "a key of more than "
                                 "64 KB");
    }

    if (kid.len) {
        key->kid.data = fql_strndup(a, kid.data, kid.len);
        key->kid.len = kid.len;

        if (key->kid.data == NULL) {
            return fql_jwt_key_error(err, errlen, "%s", FQL_NOMEM);
        }
    }

    if (ai->family == FQL_JWT_HMAC) {
        return fql_jwt_hs_load(a, data, len, key, err, errlen);
    }

    pkey = fql_jwt_pem_read(data, len, err, errlen);
    if (pkey == NULL) {
        return -1;
    }

    if (fql_jwt_pkey_check(ai, pkey, err, errlen) != 0) {
        EVP_PKEY_free(pkey);
        return -1;
    }

    key->pkey = pkey;

    return 0;
}


int
fql_jwt_key_pin(fql_arena_t *a, fql_jwt_alg_t alg, fql_str_t kid,
    EVP_PKEY *pkey, fql_jwt_key_t *key, char *err, size_t errlen)
{
    memset(key, 0, sizeof(fql_jwt_key_t));

    if (alg < FQL_JWT_RS256 || (unsigned) alg >= FQL_JWT_NALGS) {
        EVP_PKEY_free(pkey);
        return fql_jwt_key_error(err, errlen, "%s", "not an RS or ES "
                                 "algorithm");
    }

    if (fql_jwt_pkey_check(&fql_jwt_algs[alg], pkey, err, errlen) != 0) {
        EVP_PKEY_free(pkey);
        return -1;
    }

    if (kid.len) {
        key->kid.data = fql_strndup(a, kid.data, kid.len);
        key->kid.len = kid.len;

        if (key->kid.data == NULL) {
            EVP_PKEY_free(pkey);
            return fql_jwt_key_error(err, errlen, "%s", FQL_NOMEM);
        }
    }

    key->alg = alg;
    key->pkey = pkey;

    return 0;
}


void
fql_jwt_key_free(fql_jwt_key_t *key)
{
    if (key->pkey != NULL) {
        EVP_PKEY_free(key->pkey);
        key->pkey = NULL;
    }

    if (key->secret.len) {
        OPENSSL_cleanse((void *) key->secret.data, key->secret.len);
        key->secret.len = 0;
    }
}


/* ---- verification ---- */


typedef struct {
    fql_arena_t             *arena;
    const fql_jwt_conf_t    *conf;
    fql_jwt_t               *out;
    fql_str_t                seg[3];    /* header, payload, signature */
    fql_str_t                signing;   /* header "." payload */
    int64_t                  now;
} fql_jwt_ctx_t;


static fql_jwt_status_t
fql_jwt_fail(fql_jwt_ctx_t *c, fql_jwt_status_t st, const char *why)
{
    c->out->status = st;
    c->out->error = why;

    return st;
}


/*
 * A segment's length and last character make it an encoding or not: a
 * length of 4n + 1 is never one, and the bits of the last character that
 * fall past the last byte must be zero (fql_b64url_decode's rule, checked
 * here for all three segments before any of them is decoded).
 */
static int
fql_jwt_segment_ok(fql_str_t s)
{
    unsigned  last, unused;

    if (s.len % 4 == 1) {
        return 0;
    }

    if (s.len == 0) {
        return 1;
    }

    last = fql_b64url_bits[(unsigned char) s.data[s.len - 1]];
    unused = (s.len % 4 == 2) ? 0x0f : (s.len % 4 == 3) ? 0x03 : 0;

    return (last & unused) == 0;
}


/* rule 1: exactly two dots, base64url between them, no padding */
static fql_jwt_status_t
fql_jwt_split(fql_jwt_ctx_t *c, const char *token, size_t len)
{
    size_t    i, start;
    unsigned  n;

    n = 0;
    start = 0;

    for (i = 0; i <= len; i++) {
        if (i < len && token[i] != '.') {
            if (fql_b64url_bits[(unsigned char) token[i]] == 64) {
                return fql_jwt_fail(c, FQL_JWT_MALFORMED, "not base64url "
                                    "(padding, whitespace or another "
                                    "character)");
            }

            continue;
        }

        if (n == 3) {
            return fql_jwt_fail(c, FQL_JWT_MALFORMED, "more than three "
                                "segments");
        }

        c->seg[n].data = token + start;
        c->seg[n].len = i - start;
        n++;
        start = i + 1;
    }

    if (n != 3) {
        return fql_jwt_fail(c, FQL_JWT_MALFORMED, "not three segments");
    }

    /*
     * An empty signature is well-formed ("alg":"none" tokens end so) and
     * is refused for its alg or as a bad signature; an empty header or
     * payload is not a JWS (an RFC 7797 detached payload is not accepted).
     */
    if (c->seg[0].len == 0 || c->seg[1].len == 0) {
        return fql_jwt_fail(c, FQL_JWT_MALFORMED, "an empty segment");
    }

    for (i = 0; i < 3; i++) {
        if (!fql_jwt_segment_ok(c->seg[i])) {
            return fql_jwt_fail(c, FQL_JWT_MALFORMED, "a segment that is "
                                "not base64url");
        }
    }

    c->signing.data = token;
    c->signing.len = c->seg[0].len + 1 + c->seg[1].len;

    return FQL_JWT_OK;
}


static char *
fql_jwt_decode(fql_jwt_ctx_t *c, fql_str_t seg, size_t *len)
{
    char  *p;

    p = fql_alloc(c->arena, seg.len / 4 * 3 + 3);
    if (p == NULL) {
        return NULL;
    }

    /* fql_jwt_split vouched for the encoding */
    (void) fql_b64url_decode(seg, p, len);

    return p;
}


/*
 * A JSON object with one member per name: header and claims alike, since
 * a reader that takes the first duplicate and one that takes the last
 * would disagree on who the token is for.  FQL_JWT_OK, NOMEM or `bad`.
 */
static fql_jwt_status_t
fql_jwt_json(fql_jwt_ctx_t *c, fql_str_t seg, fql_jwt_status_t bad,
    fql_jval_t **out)
{
    int            rc;
    char          *text;
    size_t         len;
    fql_jval_t    *j;
    fql_errors_t   errs;

    text = fql_jwt_decode(c, seg, &len);
    if (text == NULL) {
        return fql_jwt_fail(c, FQL_JWT_NOMEM, FQL_NOMEM);
    }

    fql_errors_init(&errs, c->arena);

    j = fql_json_parse(c->arena, text, len, &errs);
    if (j == NULL || j->kind != FQL_J_OBJECT) {
        return fql_jwt_fail(c, bad, bad == FQL_JWT_BAD_HEADER
                            ? "the header is not a JSON object"
                            : "the payload is not a JSON object");
    }

    rc = fql_json_unique_keys(c->arena, j);
    if (rc != 1) {
        return rc < 0 ? fql_jwt_fail(c, FQL_JWT_NOMEM, FQL_NOMEM)
                      : fql_jwt_fail(c, bad, bad == FQL_JWT_BAD_HEADER
                                     ? "a header member twice"
                                     : "a claim twice");
    }

    *out = j;

    return FQL_JWT_OK;
}


/* rule 2, alg: a string naming an algorithm this build verifies */
static fql_jwt_status_t
fql_jwt_header_alg(fql_jwt_ctx_t *c, const fql_jval_t *hdr,
    fql_jwt_alg_t *alg)
{
    unsigned           i;
    const fql_jval_t  *v;

    v = fql_jval_member(hdr, "alg");
    if (v == NULL || v->kind != FQL_J_STRING) {
        return fql_jwt_fail(c, FQL_JWT_BAD_ALG, "no \"alg\" string");
    }

    if (fql_str_eqz(v->str, "none")) {
        return fql_jwt_fail(c, FQL_JWT_BAD_ALG, "\"alg\" is \"none\"");
    }

    for (i = 0; i < sizeof(fql_jwt_unsupported) / sizeof(char *); i++) {
        if (fql_str_eqz(v->str, fql_jwt_unsupported[i])) {
            return fql_jwt_fail(c, FQL_JWT_UNSUPPORTED_ALG, "the algorithm "
                                "is not supported (PS*, EdDSA)");
        }
    }

    *alg = fql_jwt_alg_named(v->str);
    if (*alg == FQL_JWT_ALG_UNKNOWN) {
        return fql_jwt_fail(c, FQL_JWT_BAD_ALG, "\"alg\" names no algorithm "
                            "(names are case-sensitive)");
    }

    return FQL_JWT_OK;
}


/* a typ as RFC 7515 §4.1.9 compares it: no case, "application/" optional */
static int
fql_jwt_typ_is(fql_str_t typ, fql_str_t want)
{
    static const char  app[] = "application/";

    if (typ.len > sizeof(app) - 1
        && strncasecmp(typ.data, app, sizeof(app) - 1) == 0)
    {
        typ.data += sizeof(app) - 1;
        typ.len -= sizeof(app) - 1;
    }

    return typ.len == want.len && strncasecmp(typ.data, want.data, typ.len)
                                  == 0;
}


static int
fql_jwt_typ_ok(const fql_jwt_conf_t *conf, const fql_jval_t *typ)
{
    static const fql_str_t  deflt[] = {
        fql_str_lit("JWT"), fql_str_lit("at+jwt")
    };

    unsigned          i, n;
    const fql_str_t  *list;

    if (typ->kind != FQL_J_STRING) {
        return 0;
    }

    list = conf->typs ? conf->typs : deflt;
    n = conf->typs ? conf->ntyps : 2;

    for (i = 0; i < n; i++) {
        if (fql_jwt_typ_is(typ->str, list[i])) {
            return 1;
        }
    }

    return 0;
}


/*
 * rule 2, the rest: extensions this reader does not implement refuse the
 * token (RFC 7515 §4.1.11); jku, x5u, jwk and x5c are not looked at: keys
 * come from the configuration only.
 */
static fql_jwt_status_t
fql_jwt_header_rest(fql_jwt_ctx_t *c, const fql_jval_t *hdr)
{
    const fql_jval_t  *v;

    if (fql_jval_member(hdr, "crit") != NULL) {
        return fql_jwt_fail(c, FQL_JWT_BAD_HEADER, "\"crit\" in the header: "
                            "no extension is understood");
    }

    /* RFC 7797's unencoded payload: signed over other bytes than ours */
    v = fql_jval_member(hdr, "b64");
    if (v != NULL && !(v->kind == FQL_J_BOOL && v->boolean)) {
        return fql_jwt_fail(c, FQL_JWT_BAD_HEADER, "\"b64\" in the header: "
                            "unencoded payloads are not understood");
    }

    v = fql_jval_member(hdr, "typ");
    if (v != NULL && !fql_jwt_typ_ok(c->conf, v)) {
        return fql_jwt_fail(c, FQL_JWT_BAD_HEADER, "\"typ\" is not an "
                            "accepted type");
    }

    v = fql_jval_member(hdr, "kid");
    if (v != NULL && v->kind != FQL_J_STRING) {
        return fql_jwt_fail(c, FQL_JWT_BAD_HEADER, "\"kid\" is not a string");
    }

    return FQL_JWT_OK;
}


/*
 * rule 2, the key: kid names it, or, without a kid, the one key pinned to
 * the alg.  Never every key in turn: a forged token would cost as many
 * verifications as there are keys.
 */
static fql_jwt_status_t
fql_jwt_select_key(fql_jwt_ctx_t *c, const fql_jval_t *hdr,
    fql_jwt_alg_t alg, const fql_jwt_key_t **key)
{
    unsigned               i, n;
    const fql_jval_t      *kid;
    const fql_jwt_key_t   *k, *found;

    kid = fql_jval_member(hdr, "kid");
    found = NULL;
    n = 0;

    for (i = 0; i < c->conf->nkeys; i++) {
        k = &c->conf->keys[i];

        if (kid != NULL ? (k->kid.len && fql_str_eq(k->kid, kid->str))
                        : k->alg == alg)
        {
            found = k;
            n++;
        }
    }

    if (n == 0) {
        return kid != NULL
               ? fql_jwt_fail(c, FQL_JWT_UNKNOWN_KID, "no key has the "
                              "token's \"kid\"")
               : fql_jwt_fail(c, FQL_JWT_BAD_ALG, "no key is pinned to the "
                              "token's \"alg\"");
    }

    if (n > 1) {
        return fql_jwt_fail(c, FQL_JWT_AMBIGUOUS_KEY, kid != NULL
                            ? "several keys have the token's \"kid\""
                            : "no \"kid\", and several keys are pinned to "
                              "the token's \"alg\"");
    }

    if (found->alg != alg) {
        return fql_jwt_fail(c, FQL_JWT_BAD_ALG, "\"alg\" is not the "
                            "algorithm the key is pinned to");
    }

    *key = found;

    return FQL_JWT_OK;
}


static fql_jwt_status_t
fql_jwt_header(fql_jwt_ctx_t *c, const fql_jwt_key_t **key)
{
    fql_jwt_alg_t     alg;
    fql_jwt_status_t  st;

    st = fql_jwt_json(c, c->seg[0], FQL_JWT_BAD_HEADER, &c->out->header);
    if (st != FQL_JWT_OK) {
        return st;
    }

    st = fql_jwt_header_alg(c, c->out->header, &alg);
    if (st != FQL_JWT_OK) {
        return st;
    }

    st = fql_jwt_header_rest(c, c->out->header);
    if (st != FQL_JWT_OK) {
        return st;
    }

    return fql_jwt_select_key(c, c->out->header, alg, key);
}


/* ---- signatures ---- */


static fql_jwt_status_t
fql_jwt_hmac(fql_jwt_ctx_t *c, const fql_jwt_key_t *key,
    const fql_jwt_alg_info_t *ai, const u_char *sig, size_t siglen)
{
    u_char    mac[EVP_MAX_MD_SIZE];
    unsigned  maclen;

    if (HMAC(ai->md(), key->secret.data, (int) key->secret.len,
             (const u_char *) c->signing.data, c->signing.len, mac, &maclen)
        == NULL)
    {
        ERR_clear_error();
        return fql_jwt_fail(c, FQL_JWT_ERROR, "HMAC failed");
    }

    /* the length is public; the bytes are compared in constant time */
    if (siglen != maclen || CRYPTO_memcmp(sig, mac, maclen) != 0) {
        return fql_jwt_fail(c, FQL_JWT_BAD_SIGNATURE, "the signature does "
                            "not verify");
    }

    return FQL_JWT_OK;
}


/* 1: verified; 0: not; -1: OpenSSL could not try */
static int
fql_jwt_digest_verify(EVP_PKEY *pkey, const EVP_MD *md, const u_char *sig,
    size_t siglen, fql_str_t data)
{
    int          rc;
    EVP_MD_CTX  *mctx;

    mctx = EVP_MD_CTX_new();
    if (mctx == NULL) {
        return -1;
    }

    rc = -1;

    /* an RSA key verifies PKCS #1 v1.5 signatures by default, as RS* are */
    if (EVP_DigestVerifyInit(mctx, NULL, md, NULL, pkey) == 1) {
        rc = EVP_DigestVerify(mctx, sig, siglen, (const u_char *) data.data,
                              data.len) == 1;
    }

    EVP_MD_CTX_free(mctx);

    /* a signature that does not verify leaves errors queued */
    ERR_clear_error();

    return rc;
}


/*
 * JWS carries ECDSA signatures as R || S, each as long as the curve's
 * order (RFC 7518 §3.4); OpenSSL verifies the DER ECDSA-Sig-Value.  A DER
 * signature in the token is refused by its length, as is one of another
 * curve.
 */
static int
fql_jwt_ecdsa_der(const fql_jwt_alg_info_t *ai, const u_char *sig,
    size_t siglen, u_char *der, int *derlen)
{
    int         n;
    BIGNUM     *r, *s;
    u_char     *p;
    ECDSA_SIG  *es;

    if (siglen != 2 * ai->size) {
        return 0;
    }

    es = ECDSA_SIG_new();
    r = BN_bin2bn(sig, ai->size, NULL);
    s = BN_bin2bn(sig + ai->size, ai->size, NULL);

    if (es == NULL || r == NULL || s == NULL || !ECDSA_SIG_set0(es, r, s)) {
        ECDSA_SIG_free(es);
        BN_free(r);
        BN_free(s);
        return -1;
    }

    n = i2d_ECDSA_SIG(es, NULL);

    if (n > 0 && n <= FQL_JWT_DER_MAX) {
        p = der;
        n = i2d_ECDSA_SIG(es, &p);
    }

    ECDSA_SIG_free(es);

    if (n <= 0 || n > FQL_JWT_DER_MAX) {
        return -1;
    }

    *derlen = n;

    return 1;
}


static fql_jwt_status_t
fql_jwt_pkey_verify(fql_jwt_ctx_t *c, const fql_jwt_key_t *key,
    const fql_jwt_alg_info_t *ai, const u_char *sig, size_t siglen)
{
    int     rc, derlen;
    u_char  der[FQL_JWT_DER_MAX];

    if (ai->family == FQL_JWT_ECDSA) {
        rc = fql_jwt_ecdsa_der(ai, sig, siglen, der, &derlen);

        if (rc == 1) {
            sig = der;
            siglen = (size_t) derlen;
            rc = fql_jwt_digest_verify(key->pkey, ai->md(), sig, siglen,
                                       c->signing);
        }

    } else {
        rc = (int) siglen == EVP_PKEY_get_size(key->pkey)
             ? fql_jwt_digest_verify(key->pkey, ai->md(), sig, siglen,
                                     c->signing)
             : 0;
    }

    if (rc < 0) {
        ERR_clear_error();
        return fql_jwt_fail(c, FQL_JWT_ERROR, "the signature could not be "
                            "checked (OpenSSL)");
    }

    if (rc == 0) {
        return fql_jwt_fail(c, FQL_JWT_BAD_SIGNATURE, "the signature does "
                            "not verify");
    }

    return FQL_JWT_OK;
}


/* rule 3: with the selected key's pinned algorithm, whatever alg says */
static fql_jwt_status_t
fql_jwt_signature(fql_jwt_ctx_t *c, const fql_jwt_key_t *key)
{
    char                      *sig;
    size_t                     siglen;
    const fql_jwt_alg_info_t  *ai;

    ai = &fql_jwt_algs[key->alg];

    sig = fql_jwt_decode(c, c->seg[2], &siglen);
    if (sig == NULL) {
        return fql_jwt_fail(c, FQL_JWT_NOMEM, FQL_NOMEM);
    }

    if (ai->family == FQL_JWT_HMAC) {
        return fql_jwt_hmac(c, key, ai, (u_char *) sig, siglen);
    }

    return fql_jwt_pkey_verify(c, key, ai, (u_char *) sig, siglen);
}


/* ---- claims ---- */


/*
 * A NumericDate (RFC 7519 §2): a JSON number, integer or not, of seconds
 * since the epoch; strings, negative numbers and dates past
 * FQL_JWT_DATE_MAX are refused.  A fraction is rounded up: against whole
 * seconds, "now < exp" and "nbf > now" then decide as with the fraction.
 * 0, or -1: not a NumericDate.
 */
static int
fql_jwt_date(const fql_jval_t *v, int64_t *out)
{
    size_t   i;
    double   d;
    int64_t  n;

    if (v->kind != FQL_J_NUMBER || v->str.len == 0 || v->str.data[0] == '-')
    {
        return -1;
    }

    /* integers of up to 12 digits, the common case, without strtod */
    for (i = 0, n = 0; i < v->str.len && i < 13; i++) {
        if (v->str.data[i] < '0' || v->str.data[i] > '9') {
            break;
        }

        n = n * 10 + (v->str.data[i] - '0');
    }

    if (i == v->str.len && i <= 12) {
        *out = n;
        return n <= FQL_JWT_DATE_MAX ? 0 : -1;
    }

    /* the lexeme is JSON's number grammar (yajl checked it), which strtod
     * reads alike in the C locale nginx runs in; too large is infinite */
    d = ceil(strtod(v->str.data, NULL));

    if (!isfinite(d) || d < 0 || d > (double) FQL_JWT_DATE_MAX) {
        return -1;
    }

    *out = (int64_t) d;

    return 0;
}


/* a date claim: absent (0, *present = 0), a date, or -1 */
static int
fql_jwt_claim_date(const fql_jval_t *claims, const char *name, int64_t *out,
    int *present)
{
    const fql_jval_t  *v;

    v = fql_jval_member(claims, name);
    *present = v != NULL;

    return v == NULL ? 0 : fql_jwt_date(v, out);
}


static fql_jwt_status_t
fql_jwt_dates(fql_jwt_ctx_t *c, const fql_jval_t *claims)
{
    int      has;
    int64_t  t, now, leeway;

    now = c->now;
    leeway = c->conf->leeway;

    if (fql_jwt_claim_date(claims, "exp", &t, &has) != 0) {
        return fql_jwt_fail(c, FQL_JWT_BAD_CLAIMS, "\"exp\" is not a "
                            "NumericDate");
    }

    if (!has && c->conf->exp_required) {
        return fql_jwt_fail(c, FQL_JWT_BAD_CLAIMS, "no \"exp\" claim");
    }

    /* valid while now < exp + leeway */
    if (has && now - leeway >= t) {
        return fql_jwt_fail(c, FQL_JWT_EXPIRED, "the token has expired");
    }

    c->out->exp = has ? t : INT64_MAX;

    if (fql_jwt_claim_date(claims, "nbf", &t, &has) != 0) {
        return fql_jwt_fail(c, FQL_JWT_BAD_CLAIMS, "\"nbf\" is not a "
                            "NumericDate");
    }

    if (has && t > now + leeway) {
        return fql_jwt_fail(c, FQL_JWT_NOT_YET_VALID, "the token is not "
                            "valid yet (\"nbf\")");
    }

    if (fql_jwt_claim_date(claims, "iat", &t, &has) != 0) {
        return fql_jwt_fail(c, FQL_JWT_BAD_CLAIMS, "\"iat\" is not a "
                            "NumericDate");
    }

    if (has && t > now + leeway) {
        return fql_jwt_fail(c, FQL_JWT_BAD_IAT, "the token was issued in "
                            "the future (\"iat\")");
    }

    return FQL_JWT_OK;
}


/* configured: required and equal; not configured: not looked at */
static fql_jwt_status_t
fql_jwt_issuer(fql_jwt_ctx_t *c, const fql_jval_t *claims)
{
    const fql_jval_t  *v;

    if (c->conf->issuer.data == NULL) {
        return FQL_JWT_OK;
    }

    v = fql_jval_member(claims, "iss");

    if (v == NULL || v->kind != FQL_J_STRING
        || !fql_str_eq(v->str, c->conf->issuer))
    {
        return fql_jwt_fail(c, FQL_JWT_BAD_ISSUER, v == NULL
                            ? "no \"iss\" claim"
                            : "\"iss\" is not the issuer configured");
    }

    return FQL_JWT_OK;
}


static int
fql_jwt_audience_ok(const fql_jwt_conf_t *conf, const fql_jval_t *v)
{
    unsigned  i;

    if (v->kind != FQL_J_STRING) {
        return 0;
    }

    for (i = 0; i < conf->naudiences; i++) {
        if (fql_str_eq(v->str, conf->audiences[i])) {
            return 1;
        }
    }

    return 0;
}


/*
 * aud (RFC 7519 §4.1.3), a string or an array of strings: configured
 * audiences require it and one of them in it; with none configured, a
 * token meant for some audience is not meant for us, unless any is.
 */
static fql_jwt_status_t
fql_jwt_audience(fql_jwt_ctx_t *c, const fql_jval_t *claims)
{
    const fql_jval_t  *aud, *it;

    aud = fql_jval_member(claims, "aud");

    if (c->conf->naudiences == 0) {
        if (aud != NULL && !c->conf->audience_any) {
            return fql_jwt_fail(c, FQL_JWT_BAD_AUDIENCE, "an \"aud\" claim, "
                                "and no audience is configured");
        }

        return FQL_JWT_OK;
    }

    if (aud == NULL) {
        return fql_jwt_fail(c, FQL_JWT_BAD_AUDIENCE, "no \"aud\" claim");
    }

    if (aud->kind == FQL_J_ARRAY) {
        for (it = aud->items; it; it = it->next) {
            if (it->kind != FQL_J_STRING) {
                return fql_jwt_fail(c, FQL_JWT_BAD_AUDIENCE, "\"aud\" holds "
                                    "something else than strings");
            }
        }

        for (it = aud->items; it; it = it->next) {
            if (fql_jwt_audience_ok(c->conf, it)) {
                return FQL_JWT_OK;
            }
        }

    } else if (fql_jwt_audience_ok(c->conf, aud)) {
        return FQL_JWT_OK;
    }

    return fql_jwt_fail(c, FQL_JWT_BAD_AUDIENCE, "\"aud\" names none of the "
                        "audiences configured");
}


/* an arena-backed write buffer for the claims' JSON: it only grows */
typedef struct {
    fql_wbuf_t     w;
    fql_arena_t   *arena;
    char          *start;
} fql_jwt_buf_t;


static int
fql_jwt_buf_reserve(fql_wbuf_t *w, size_t need)
{
    fql_jwt_buf_t  *b = w->ctx;
    size_t          used, cap;
    char           *p;

    used = (size_t) (w->pos - b->start);
    cap = (size_t) (w->end - b->start) * 2;

    while (cap < used + need) {
        cap *= 2;
    }

    p = fql_alloc(b->arena, cap);
    if (p == NULL) {
        return -1;
    }

    memcpy(p, b->start, used);
    b->start = p;
    w->pos = p + used;
    w->end = p + cap;

    return 0;
}


/*
 * The claims rewritten from the tree, not the payload's own text: what
 * reaches SQL is then exactly what was checked, compact, with no byte
 * that did not go through the parser.  The payload's length is a close
 * guess of the size (whitespace and escapes only shrink it).
 */
static fql_jwt_status_t
fql_jwt_claims_json(fql_jwt_ctx_t *c, const fql_jval_t *claims)
{
    size_t          cap;
    fql_jwt_buf_t   b;

    cap = c->seg[1].len / 4 * 3 + 16;

    b.arena = c->arena;
    b.start = fql_alloc(c->arena, cap);
    if (b.start == NULL) {
        return fql_jwt_fail(c, FQL_JWT_NOMEM, FQL_NOMEM);
    }

    b.w.pos = b.start;
    b.w.end = b.start + cap;
    b.w.reserve = fql_jwt_buf_reserve;
    b.w.ctx = &b;

    if (fql_jval_write(&b.w, claims) != 0 || fql_wbuf_putc(&b.w, '\0') != 0)
    {
        return fql_jwt_fail(c, FQL_JWT_NOMEM, FQL_NOMEM);
    }

    c->out->claims_json.data = b.start;
    c->out->claims_json.len = (size_t) (b.w.pos - b.start) - 1;

    return FQL_JWT_OK;
}


/* rule 4: one parse of the verified payload, then dates, iss, aud */
static fql_jwt_status_t
fql_jwt_claims(fql_jwt_ctx_t *c)
{
    fql_jval_t        *claims;
    fql_jwt_status_t   st;

    st = fql_jwt_json(c, c->seg[1], FQL_JWT_BAD_CLAIMS, &claims);
    if (st != FQL_JWT_OK) {
        return st;
    }

    st = fql_jwt_dates(c, claims);
    if (st != FQL_JWT_OK) {
        return st;
    }

    st = fql_jwt_issuer(c, claims);
    if (st != FQL_JWT_OK) {
        return st;
    }

    st = fql_jwt_audience(c, claims);
    if (st != FQL_JWT_OK) {
        return st;
    }

    c->out->claims = claims;

    return fql_jwt_claims_json(c, claims);
}


fql_jwt_status_t
fql_jwt_verify(fql_arena_t *a, const fql_jwt_conf_t *conf,
    const char *token, size_t len, int64_t now, fql_jwt_t *out)
{
    fql_jwt_ctx_t          c;
    fql_jwt_status_t       st;
    const fql_jwt_key_t   *key;

    memset(out, 0, sizeof(fql_jwt_t));
    out->exp = INT64_MAX;

    c.arena = a;
    c.conf = conf;
    c.out = out;
    c.now = now;

    /* before anything reads the token: its size bounds all that follows */
    if (len > conf->max_size) {
        return fql_jwt_fail(&c, FQL_JWT_TOO_LARGE, "the token is larger "
                            "than the maximum size");
    }

    st = fql_jwt_split(&c, token, len);
    if (st != FQL_JWT_OK) {
        return st;
    }

    st = fql_jwt_header(&c, &key);
    if (st != FQL_JWT_OK) {
        return st;
    }

    st = fql_jwt_signature(&c, key);
    if (st != FQL_JWT_OK) {
        return st;
    }

    st = fql_jwt_claims(&c);
    if (st != FQL_JWT_OK) {
        out->claims = NULL;
        return st;
    }

    out->key = key;

    return fql_jwt_fail(&c, FQL_JWT_OK, NULL);
}
