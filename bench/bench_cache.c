/*
 * The plan cache on the hot path: for each document, the time of a miss
 * (parse + validate + compile + store), of a hit (hash and find the
 * document, coerce the variables, refill the parameters, with the
 * request's arena and JSON variables) and of the key alone: hashing the
 * text as sent ("lookup") and, for a document sent with another layout,
 * normalising then hashing it ("normalised").  Best mean of several
 * rounds, in microseconds; and the memory the cache keeps for the
 * document and its plan ("kept KB", what fraiseql_plan_cache's size
 * counts).
 *
 *   make bench   (or: gcc -O2 -Isrc/core bench/bench_cache.c
 *                     src/core/fql_*.c -lyajl -lm -o build/bench_cache
 *                     && build/bench_cache t/schema.graphql)
 */

#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "fql_cache.h"
#include "bench.h"


typedef struct {
    const char  *name;
    const char  *doc;
    const char  *vars;
} case_t;


/* one request against the cache; returns 1 on a hit */
static int
one(fql_cache_t *c, const fql_schema_t *schema, const case_t *k)
{
    int                    hit;
    fql_arena_t           *a;
    fql_plan_t            *plan;
    fql_errors_t           errs;
    fql_engine_t           eng = { .compile = { .max_depth = 30 } };
    fql_request_t          req = { .variables = NULL };
    fql_cache_result_t     res;

    a = fql_arena_heap_create();
    fql_errors_init(&errs, a);
    eng.schema = schema;

    if (k->vars != NULL) {
        req.variables = fql_json_parse(a, k->vars, strlen(k->vars), &errs);
    }

    req.query.data = k->doc;
    req.query.len = strlen(k->doc);

    if (fql_cache_plan(c, a, &eng, &req, &plan, &errs, &res) != 0)
    {
        fprintf(stderr, "%s: %s\n", k->name, errs.head->message);
        exit(1);
    }

    hit = res.hit;
    fql_cache_release(res.entry);
    fql_arena_heap_destroy(a);

    return hit;
}


int
main(int argc, char **argv)
{
    int                 i, r, n;
    size_t              len, nl;
    char               *sdl, *intro, *norm;
    double              t0, dt, best_miss, best_hit, best_lookup,
                        best_norm, kept;
    unsigned            k;
    fql_cache_stats_t   st;
    uint64_t            h;
    fql_arena_t        *a;
    fql_cache_t        *c;
    fql_schema_t       *schema;
    fql_parse_error_t   err;
    case_t              cases[3];

    if (argc < 2) {
        fprintf(stderr, "usage: %s schema.graphql [introspection.graphql]"
                "\n", argv[0]);
        return 2;
    }

    sdl = slurp(argv[1], &len);
    a = fql_arena_heap_create();

    if (fql_schema_build(a, sdl, len, &schema, &err) != 0) {
        fprintf(stderr, "schema: %s\n", err.message);
        return 1;
    }

    intro = slurp(argc > 2 ? argv[2] : "t/introspection_query.graphql",
                  &len);

    cases[0].name = "by id (variable)";
    cases[0].doc = "query ($id: ID!) { user(id: $id) "
                   "{ id firstName lastName email } }";
    cases[0].vars = "{\"id\": \"5b6e8c5e-5f27-4d52-9f0b-9f3b4d0c0a01\"}";
    cases[1].name = "typical (list, where, order, fragments, vars)";
    cases[1].doc = "query Posts($min: Float, $n: Int = 20) {"
                   " posts(where: {rating: {gte: $min},"
                   " OR: [{published: {eq: true}}, {title: {in: [\"a\","
                   " \"b\"]}}]}, orderBy: [{createdAt: DESC}], limit: $n)"
                   " { ...P author { ...U } } }"
                   " fragment P on Post { id title rating tags createdAt }"
                   " fragment U on User { id firstName lastName }";
    cases[1].vars = "{\"min\": 2.5}";
    cases[2].name = "GraphiQL introspection query";
    cases[2].doc = intro;
    cases[2].vars = NULL;

    norm = malloc(len + 4096);

    printf("%-46s %9s %9s %9s %11s %8s\n", "document", "miss us",
           "hit us", "lookup us", "normal. us", "kept KB");

    for (k = 0; k < 3; k++) {
        n = k == 2 ? 200 : 20000;
        best_miss = best_hit = best_lookup = best_norm = 1e9;

        for (r = 0; r < 5; r++) {
            /* misses: a cache of one, two documents taking turns */
            c = fql_cache_create(1, 0);
            t0 = now_us();

            for (i = 0; i < (k == 2 ? 50 : 2000); i++) {
                if (one(c, schema, &cases[k])) {
                    fprintf(stderr, "unexpected hit\n");
                    return 1;
                }
                fql_cache_destroy(c);
                c = fql_cache_create(1, 0);
            }

            dt = (now_us() - t0) / (k == 2 ? 50 : 2000);
            fql_cache_destroy(c);

            if (dt < best_miss) {
                best_miss = dt;
            }

            c = fql_cache_create(64, 0);
            one(c, schema, &cases[k]);
            fql_cache_get_stats(c, &st);
            kept = st.bytes / 1024.0;
            t0 = now_us();

            for (i = 0; i < n; i++) {
                if (!one(c, schema, &cases[k])) {
                    fprintf(stderr, "unexpected miss\n");
                    return 1;
                }
            }

            dt = (now_us() - t0) / n;
            fql_cache_destroy(c);

            if (dt < best_hit) {
                best_hit = dt;
            }

            /* the key: the text's hash, or its normal form's */
            h = 0;
            t0 = now_us();

            for (i = 0; i < n; i++) {
                h += fql_hash(cases[k].doc, strlen(cases[k].doc));
            }

            dt = (now_us() - t0) / n;

            if (dt < best_lookup) {
                best_lookup = dt;
            }

            t0 = now_us();

            for (i = 0; i < n; i++) {
                nl = fql_normalize(cases[k].doc, strlen(cases[k].doc),
                                   norm);
                h += fql_hash(norm, nl);
            }

            dt = (now_us() - t0) / n;

            if (h == 42) {
                printf("!");
            }

            if (dt < best_norm) {
                best_norm = dt;
            }
        }

        printf("%-46s %9.2f %9.2f %9.2f %11.2f %8.1f\n", cases[k].name,
               best_miss, best_hit, best_lookup, best_norm, kept);
    }

    fql_arena_heap_destroy(a);
    free(norm);
    free(sdl);
    free(intro);

    return 0;
}
