/*
 * JSON Web Key Sets (RFC 7517 §5) read into keys fql_jwt_verify uses:
 * RSA and EC public keys (RFC 7518 §6.2, §6.3) built into OpenSSL
 * EVP_PKEYs, each pinned to one algorithm, as fql_jwt_key_load pins a PEM
 * key.  A set is public by nature: anything secret in it (a private
 * member, a symmetric key) refuses the whole set, as does any key this
 * module would verify with that breaks a rule; keys it would never verify
 * with (another use, another algorithm family) are skipped, and counted.
 */

#ifndef FQL_JWK_H
#define FQL_JWK_H

#include "fql_jwt.h"


/* what a set may hold: bounds on the work a file or a fuzzer can cause */
#define FQL_JWK_MAX_KEYS  64
#define FQL_JWK_MAX_SIZE  (1024 * 1024)

typedef struct {
    fql_jwt_key_t  *keys;       /* RS* and ES* keys, in the set's order */
    unsigned        nkeys;
    unsigned        nskipped;   /* keys not for verifying with this module */
    char            skipped[160];   /* why the first one skipped was */
} fql_jwk_set_t;

/*
 * Reads the JWKS text into set: keys, their EVP_PKEYs and kids from a,
 * the document's tree from tmp (which may be a).  Every key kept has an
 * alg: the JWK's, or for a JWK without one, ES256/384/512 after its curve
 * and RS256 for RSA.  Skipped: "use" other than "sig", "key_ops" without
 * "verify", kty other than RSA, EC and oct, curves other than P-256,
 * P-384, P-521, algorithms this module does not verify (PS*, EdDSA, and
 * the encryption ones).  Refused (-1, a message in err, the set empty):
 * not a JSON object with a "keys" array, more than FQL_JWK_MAX_SIZE bytes
 * or FQL_JWK_MAX_KEYS keys, a member twice, a private key member, kty
 * "oct", a key fql_jwt_key_pin refuses (RSA under 2048 bits, a curve not
 * the alg's), two keys kept with one kid, no key kept.
 */
int fql_jwk_set_parse(fql_arena_t *a, fql_arena_t *tmp, const char *text,
    size_t len, fql_jwk_set_t *set, char *err, size_t errlen);

/* frees the keys' EVP_PKEYs; the arena keeps the rest */
void fql_jwk_set_free(fql_jwk_set_t *set);

#endif /* FQL_JWK_H */
