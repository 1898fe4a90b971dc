/*
 * A token's verification in the core, cold (no cache in front): size,
 * form, header, signature, claims and their JSON, for HS256, RS256 (2048
 * bits) and ES256 tokens PyJWT made (t/unit/jwt_tokens.h), keys loaded
 * once as the module loads them; and the price of refusing a forged RS256
 * token (a signature that does not verify) and a malformed one.  Best
 * mean of several rounds, in microseconds, each call with a fresh arena
 * as each request has its pool.
 *
 * Then a hit of the verified-token cache (fraiseql_jwt_cache), as the
 * module's recall does it: the token's SHA-256, the lookup of that
 * digest among 1,024 kept ones, the kept claims copied into the request's
 * memory and parsed again.  The module keeps its digests in an nginx
 * red-black tree, which needs nginx; a binary search over a sorted array
 * of 1,024 digests stands in for it here (about ten comparisons of a
 * digest either way).
 *
 *   make bench   (or: gcc -O2 -Isrc/core bench/bench_jwt.c
 *                     src/core/fql_*.c -lyajl -lcrypto -lm
 *                     -o build/bench_jwt && build/bench_jwt)
 */

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/sha.h>

#include "fql_jwt.h"
#include "fql_error.h"
#include "fql_json.h"
#include "bench.h"
#include "../t/unit/jwt_tokens.h"


#define ROUNDS  5
#define CALLS   2000
#define KEPT    1024        /* fraiseql_jwt_cache's default */


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


static int
digest_cmp(const void *a, const void *b)
{
    return memcmp(a, b, SHA256_DIGEST_LENGTH);
}


/*
 * A cache hit of a token whose claims were kept: its digest, found among
 * the kept ones, the claims copied and parsed.  sha_only: the digest
 * alone.  Microseconds per call, best of the rounds.
 */
static double
cache_hit(const char *token, const char *claims, size_t claims_len,
    const unsigned char (*kept)[SHA256_DIGEST_LENGTH], int sha_only)
{
    int             i, r;
    char           *json;
    double          t0, dt, best;
    size_t          len;
    fql_jval_t     *j;
    fql_arena_t    *a;
    fql_errors_t    errs;
    unsigned char   digest[SHA256_DIGEST_LENGTH];

    len = strlen(token);
    best = 1e9;

    for (r = 0; r < ROUNDS; r++) {
        t0 = now_us();

        for (i = 0; i < CALLS; i++) {
            a = fql_arena_heap_create();

            SHA256((const unsigned char *) token, len, digest);

            if (!sha_only) {
                if (bsearch(digest, kept, KEPT, SHA256_DIGEST_LENGTH,
                            digest_cmp)
                    == NULL)
                {
                    fprintf(stderr, "cache hit: not found\n");
                    exit(1);
                }

                json = fql_alloc(a, claims_len + 1);
                if (json == NULL) {
                    exit(1);
                }

                memcpy(json, claims, claims_len + 1);
                fql_errors_init(&errs, a);

                j = fql_json_parse(a, json, claims_len, &errs);
                if (j == NULL || j->kind != FQL_J_OBJECT) {
                    fprintf(stderr, "cache hit: claims not parsed\n");
                    exit(1);
                }
            }

            fql_arena_heap_destroy(a);
        }

        dt = (now_us() - t0) / CALLS;
        if (dt < best) {
            best = dt;
        }
    }

    return best;
}


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

    /*
     * The cache: the digests of 1,023 other tokens and of this one; the
     * claims kept are those its cold verification gave.
     */
    {
        char            other[64];
        unsigned char (*kept)[SHA256_DIGEST_LENGTH];
        const char     *tokens[] = { T_HS256, T_RS256 };
        const char     *names[] = { "HS256", "RS256" };

        kept = malloc(KEPT * SHA256_DIGEST_LENGTH);
        if (kept == NULL) {
            return 1;
        }

        printf("\n%-32s %10s\n", "verified-token cache", "us/request");

        for (k = 0; k < 2; k++) {
            a = fql_arena_heap_create();
            len = strlen(tokens[k]);

            if (fql_jwt_verify(a, &conf, tokens[k], len, NOW, &out)
                != FQL_JWT_OK)
            {
                fprintf(stderr, "%s: %s\n", names[k], out.error);
                return 1;
            }

            for (i = 0; i < KEPT - 1; i++) {
                snprintf(other, sizeof(other), "another token %d", i);
                SHA256((const unsigned char *) other, strlen(other),
                       kept[i]);
            }

            SHA256((const unsigned char *) tokens[k], len, kept[KEPT - 1]);
            qsort(kept, KEPT, SHA256_DIGEST_LENGTH, digest_cmp);

            printf("%-32s %10.2f\n",
                   k == 0 ? "hit, HS256 token" : "hit, RS256 token",
                   cache_hit(tokens[k], out.claims_json.data,
                             out.claims_json.len,
                             (const unsigned char (*)[SHA256_DIGEST_LENGTH])
                             kept, 0));
            printf("%-32s %10.2f\n",
                   k == 0 ? "  SHA-256 alone, HS256 token"
                          : "  SHA-256 alone, RS256 token",
                   cache_hit(tokens[k], NULL, 0, NULL, 1));

            fql_arena_heap_destroy(a);
        }

        free(kept);
    }

    for (k = 0; k < 3; k++) {
        fql_jwt_key_free(&keys[k]);
    }

    fql_arena_heap_destroy(keys_arena);

    return 0;
}
