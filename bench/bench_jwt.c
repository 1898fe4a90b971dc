/*
 * A token's verification in the core, cold (no cache in front): size,
 * form, header, signature, claims and their JSON, for HS256, RS256 (2048
 * bits) and ES256 tokens PyJWT made (t/unit/jwt_tokens.h), keys loaded
 * once as the module loads them; and the price of refusing a forged RS256
 * token (a signature that does not verify) and a malformed one.  Best
 * mean of several rounds, in microseconds, each call with a fresh arena
 * as each request has its pool.
 *
 *   make bench   (or: gcc -O2 -Isrc/core bench/bench_jwt.c
 *                     src/core/fql_*.c -lyajl -lcrypto -lm
 *                     -o build/bench_jwt && build/bench_jwt)
 */

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fql_jwt.h"
#include "bench.h"
#include "../t/unit/jwt_tokens.h"


#define ROUNDS  5
#define CALLS   2000


typedef struct {
    const char         *name;
    const char         *token;
    fql_jwt_status_t    want;
} case_t;


static const case_t  cases[] = {
    { "HS256", T_HS256, FQL_JWT_OK },
    { "RS256", T_RS256, FQL_JWT_OK },
    { "ES256", T_ES256, FQL_JWT_OK },
    { "RS256 forged", T_RS256_OTHER_SIGNATURE, FQL_JWT_BAD_SIGNATURE },
    { "ES256 forged", T_ES256_FLIPPED, FQL_JWT_BAD_SIGNATURE },
    { "malformed", "eyJhbGciOiJIUzI1NiJ9.e30.x=", FQL_JWT_MALFORMED },
};


static void
load(fql_arena_t *a, fql_jwt_key_t *key, fql_jwt_alg_t alg,
    const char *text)
{
    char       err[256];
    fql_str_t  nokid = { NULL, 0 };

    if (fql_jwt_key_load(a, alg, nokid, text, strlen(text), key, err,
                         sizeof(err))
        != 0)
    {
        fprintf(stderr, "%s: %s\n", fql_jwt_alg_name(alg), err);
        exit(1);
    }
}


int
main(void)
{
    int              i, r;
    double           t0, dt, best;
    size_t           len;
    unsigned         k;
    fql_jwt_t        out;
    fql_arena_t     *keys_arena, *a;
    fql_jwt_key_t    keys[3];
    fql_jwt_conf_t   conf;

    keys_arena = fql_arena_heap_create();
    load(keys_arena, &keys[0], FQL_JWT_HS256, HS256_SECRET);
    load(keys_arena, &keys[1], FQL_JWT_RS256, RSA_PUB);
    load(keys_arena, &keys[2], FQL_JWT_ES256, EC256_PUB);

    fql_jwt_conf_init(&conf);
    conf.keys = keys;
    conf.nkeys = 3;

    printf("%-14s %10s\n", "token", "us/verify");

    for (k = 0; k < sizeof(cases) / sizeof(cases[0]); k++) {
        len = strlen(cases[k].token);
        best = 1e9;

        for (r = 0; r < ROUNDS; r++) {
            t0 = now_us();

            for (i = 0; i < CALLS; i++) {
                a = fql_arena_heap_create();

                if (fql_jwt_verify(a, &conf, cases[k].token, len, NOW, &out)
                    != cases[k].want)
                {
                    fprintf(stderr, "%s: %s\n", cases[k].name, out.error);
                    return 1;
                }

                fql_arena_heap_destroy(a);
            }

            dt = (now_us() - t0) / CALLS;
            if (dt < best) {
                best = dt;
            }
        }

        printf("%-14s %10.2f\n", cases[k].name, best);
    }

    for (k = 0; k < 3; k++) {
        fql_jwt_key_free(&keys[k]);
    }

    fql_arena_heap_destroy(keys_arena);

    return 0;
}
