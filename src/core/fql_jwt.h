/*
 * JSON Web Tokens (RFC 7519, compact JWS of RFC 7515) read and verified
 * without trusting anything the token says about how to verify it: each
 * key is pinned to one algorithm, the header is parsed here before any
 * cryptography, and the claims are read once from the verified payload.
 *
 * Keys are loaded once (configuration time in the module): HS secrets are
 * copied, RS and ES public keys parsed into OpenSSL EVP_PKEYs, which the
 * owner frees with fql_jwt_key_free (a pool cleanup in the module).
 */

#ifndef FQL_JWT_H
#define FQL_JWT_H

#include <stdint.h>

#include <openssl/types.h>

#include "fql_json.h"


typedef enum {
    FQL_JWT_HS256 = 0,
    FQL_JWT_HS384,
    FQL_JWT_HS512,
    FQL_JWT_RS256,
    FQL_JWT_RS384,
    FQL_JWT_RS512,
    FQL_JWT_ES256,
    FQL_JWT_ES384,
    FQL_JWT_ES512,
    FQL_JWT_ALG_UNKNOWN = -1
} fql_jwt_alg_t;

/* the algorithm named so, case-sensitively (RFC 7515 §4.1.1), or UNKNOWN */
fql_jwt_alg_t fql_jwt_alg_named(fql_str_t name);
const char *fql_jwt_alg_name(fql_jwt_alg_t alg);


/*
 * Why a token was refused; fql_jwt_status_name gives each a short stable
 * name for logs and variables.  MISSING is never returned by
 * fql_jwt_verify: it is there so that "no token" has its name in the same
 * list.  NOMEM and ERROR are the server's failures, not the token's.
 */
typedef enum {
    FQL_JWT_OK = 0,
    FQL_JWT_MISSING,            /* missing */
    FQL_JWT_TOO_LARGE,          /* too_large: longer than max_size */
    FQL_JWT_MALFORMED,          /* malformed: not 3 base64url segments */
    FQL_JWT_BAD_HEADER,         /* bad_header: not an object, crit, typ */
    FQL_JWT_BAD_ALG,            /* bad_alg: not the pinned alg of a key */
    FQL_JWT_UNSUPPORTED_ALG,    /* unsupported_alg: PS*, EdDSA */
    FQL_JWT_UNKNOWN_KID,        /* unknown_kid */
    FQL_JWT_AMBIGUOUS_KEY,      /* ambiguous_key: no kid, several keys */
    FQL_JWT_BAD_SIGNATURE,      /* bad_signature */
    FQL_JWT_BAD_CLAIMS,         /* bad_claims: not an object, bad dates */
    FQL_JWT_EXPIRED,            /* expired: exp + leeway passed */
    FQL_JWT_NOT_YET_VALID,      /* not_yet_valid: nbf - leeway to come */
    FQL_JWT_BAD_IAT,            /* bad_iat: issued in the future */
    FQL_JWT_BAD_ISSUER,         /* bad_issuer */
    FQL_JWT_BAD_AUDIENCE,       /* bad_audience */
    FQL_JWT_NOMEM,              /* no_memory */
    FQL_JWT_ERROR               /* error: OpenSSL failed */
} fql_jwt_status_t;

const char *fql_jwt_status_name(fql_jwt_status_t st);


/* HS secrets shorter than this are refused (PostgREST's and Hasura's 32) */
#define FQL_JWT_HS_MIN       32
#define FQL_JWT_RSA_MIN_BITS 2048

typedef struct {
    fql_jwt_alg_t   alg;        /* pinned: the only alg it verifies */
    fql_str_t       kid;        /* len 0: none */
    fql_str_t       secret;     /* HS* */
    EVP_PKEY       *pkey;       /* RS*, ES*: public key */
} fql_jwt_key_t;

/*
 * Loads a key pinned to alg into *key: for HS* the secret's bytes as
 * given, a file's last newline included if the caller leaves it (at least
 * FQL_JWT_HS_MIN, and neither PEM nor JSON text: such a "secret" is an
 * asymmetric key used as an HMAC key, the algorithm confusion attack);
 * for RS* and ES* a PEM public key ("PUBLIC KEY") or
 * certificate ("CERTIFICATE"), of the alg's type: RSA of at least 2048
 * bits for RS*, EC on P-256, P-384, P-521 for ES256, ES384, ES512.
 * kid may be empty.  Returns 0, or -1 with a message in err.
 */
int fql_jwt_key_load(fql_arena_t *a, fql_jwt_alg_t alg, fql_str_t kid,
    const char *data, size_t len, fql_jwt_key_t *key, char *err,
    size_t errlen);

/*
 * Pins pkey, a public key built elsewhere (from a JWK, fql_jwk.c), to an
 * RS or ES alg under fql_jwt_key_load's rules.  The key takes pkey; on
 * failure (-1, a message in err) pkey is freed.
 */
int fql_jwt_key_pin(fql_arena_t *a, fql_jwt_alg_t alg, fql_str_t kid,
    EVP_PKEY *pkey, fql_jwt_key_t *key, char *err, size_t errlen);

/* frees what OpenSSL holds for the key and wipes an HS secret */
void fql_jwt_key_free(fql_jwt_key_t *key);


#define FQL_JWT_DEFAULT_LEEWAY    30
#define FQL_JWT_DEFAULT_MAX_SIZE  8192

typedef struct {
    const fql_jwt_key_t  *keys;
    unsigned              nkeys;
    fql_str_t             issuer;       /* data NULL: not checked */
    const fql_str_t      *audiences;    /* the accepted ones */
    unsigned              naudiences;
    /* no audience configured: 1 accepts any aud, 0 refuses tokens with
     * one (RFC 7519 §4.1.3: a recipient must identify itself in aud) */
    unsigned              audience_any:1;
    unsigned              exp_required:1;
    int64_t               leeway;       /* seconds, for exp, nbf, iat */
    size_t                max_size;     /* bytes of the compact token */
    const fql_str_t      *typs;         /* NULL: "JWT" and "at+jwt" */
    unsigned              ntyps;
} fql_jwt_conf_t;

/* no keys, no issuer or audience, exp required, defaults above */
void fql_jwt_conf_init(fql_jwt_conf_t *conf);


typedef struct {
    fql_jwt_status_t       status;
    const char            *error;       /* why, briefly; no token text */
    const fql_jwt_key_t   *key;         /* the key that verified it */
    fql_jval_t            *header;
    fql_jval_t            *claims;      /* an OBJECT */
    /* the claims as compact JSON (members in the token's order, NUL-ended),
     * for request.jwt.claims */
    fql_str_t              claims_json;
    int64_t                exp;         /* INT64_MAX: no exp claim */
} fql_jwt_t;

/*
 * Verifies a compact token at time now (seconds since the epoch), every
 * rule in order: size, form, header, key, signature, claims.  Returns
 * FQL_JWT_OK and fills out, or the first rule broken (out->status and
 * out->error say which).  Everything comes from the arena.
 */
fql_jwt_status_t fql_jwt_verify(fql_arena_t *a, const fql_jwt_conf_t *conf,
    const char *token, size_t len, int64_t now, fql_jwt_t *out);

#endif /* FQL_JWT_H */
