/*
 * libFuzzer target: the JSON Web Key Set reader.  The input is a set's
 * text.  A set taken holds 1 to FQL_JWK_MAX_KEYS keys, each pinned to an
 * RS or ES algorithm with an OpenSSL key, no kid twice; a token of the
 * seeds' RSA key is verified with whatever was taken (a key OpenSSL
 * built from odd parameters must still only fail to verify); a refused
 * set says why and holds nothing.  No leak: keys are freed either way.
 */

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "fql_jwk.h"
#include "fql_error.h"
#include "../unit/jwt_tokens.h"
#include "../unit/jwk_tokens.h"


int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char             err[256];
    unsigned         i, j;
    fql_jwt_t        out;
    fql_arena_t     *a;
    fql_jwk_set_t    set;
    fql_jwt_conf_t   conf;

    if (size > FQL_JWK_MAX_SIZE + 1) {
        return 0;
    }

    a = fql_arena_heap_create();
    err[0] = '\0';

    if (fql_jwk_set_parse(a, a, (const char *) data, size, &set, err,
                          sizeof(err))
        != 0)
    {
        if (err[0] == '\0' || set.nkeys != 0 || set.keys != NULL) {
            abort();
        }

        fql_arena_heap_destroy(a);
        return 0;
    }

    if (set.nkeys == 0 || set.nkeys > FQL_JWK_MAX_KEYS) {
        abort();
    }

    for (i = 0; i < set.nkeys; i++) {
        if (set.keys[i].alg < FQL_JWT_RS256 || set.keys[i].pkey == NULL) {
            abort();
        }

        for (j = 0; j < i; j++) {
            if (set.keys[i].kid.len
                && fql_str_eq(set.keys[i].kid, set.keys[j].kid))
            {
                abort();
            }
        }
    }

    fql_jwt_conf_init(&conf);
    conf.keys = set.keys;
    conf.nkeys = set.nkeys;

    (void) fql_jwt_verify(a, &conf, JT_RS256_RSA1, strlen(JT_RS256_RSA1),
                          NOW, &out);
    (void) fql_jwt_verify(a, &conf, JT_ES256_EC1, strlen(JT_ES256_EC1),
                          NOW, &out);

    fql_jwk_set_free(&set);
    fql_arena_heap_destroy(a);

    return 0;
}
