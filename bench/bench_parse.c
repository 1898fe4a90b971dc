/*
 * Parse + validate + compile time of GraphQL documents against the test
 * schema: a small query, a typical filtered list with fragments and
 * variables, a large 200-field document, and GraphiQL's introspection
 * query.  Reports the best mean over several rounds, in microseconds.
 *
 *   gcc -O2 -Isrc/core bench/bench_parse.c src/core/fql_*.c -lyajl -lm \
 *       -o build/bench_parse && build/bench_parse t/schema.graphql
 */

#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "fql_compile.h"
#include "bench.h"


/* one request's work: parse, validate and compile into a fresh arena */
static void
one(const fql_schema_t *schema, const char *doc, fql_jval_t *vars,
    double *parse_us, double *total_us)
{
    double                 t0, t1, t2;
    fql_arena_t           *a;
    fql_plan_t            *plan;
    fql_errors_t           errs;
    fql_document_t        *d;
    fql_parse_error_t      perr;
    fql_engine_t           eng = { .compile = { .max_depth = 30 } };
    fql_request_t          req = { .variables = vars };

    t0 = now_us();
    a = fql_arena_heap_create();
    fql_errors_init(&errs, a);

    if (fql_parse_document(a, doc, strlen(doc), NULL, &d, &perr) != 0) {
        fprintf(stderr, "parse: %s\n", perr.message);
        exit(1);
    }

    t1 = now_us();

    eng.schema = schema;

    if (fql_compile(a, &eng, d, &req, &plan, &errs) != 0) {
        fprintf(stderr, "compile: %s\n", errs.head->message);
        exit(1);
    }

    fql_arena_heap_destroy(a);
    t2 = now_us();

    *parse_us += t1 - t0;
    *total_us += t2 - t0;
}


int
main(int argc, char **argv)
{
    int                 i, k, r, n;
    size_t              len;
    char               *sdl, *intro, *large, *p;
    double              parse, total, bp, bt;
    fql_arena_t        *a;
    fql_schema_t       *schema;
    fql_jval_t         *vars;
    fql_errors_t        errs;
    fql_parse_error_t   err;

    struct {
        const char  *name;
        const char  *doc;
    } cases[4];

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

    /* 200 aliased fields over nested objects */
    large = malloc(64 * 1024);
    p = large + sprintf(large, "{ posts(limit: 10) {");
    for (i = 0; i < 200; i++) {
        p += sprintf(p, i % 4 == 3 ? " a%d: author { firstName }"
                                   : " f%d: title", i);
    }
    sprintf(p, " } }");

    cases[0].name = "small (by id, 4 fields)";
    cases[0].doc = "{ user(id: \"5b6e8c5e-5f27-4d52-9f0b-9f3b4d0c0a01\") "
                   "{ id firstName lastName email } }";
    cases[1].name = "typical (list, where, order, fragment, variables)";
    cases[1].doc = "query Posts($min: Float, $n: Int = 20) {"
                   " posts(where: {rating: {gte: $min},"
                   " OR: [{published: {eq: true}}, {title: {in: [\"a\","
                   " \"b\"]}}]}, orderBy: [{createdAt: DESC}], limit: $n)"
                   " { ...P author { ...U } } }"
                   " fragment P on Post { id title rating tags createdAt }"
                   " fragment U on User { id firstName lastName }";
    cases[2].name = "large (200 fields)";
    cases[2].doc = large;
    cases[3].name = "GraphiQL introspection query";
    cases[3].doc = intro;

    fql_errors_init(&errs, a);
    vars = fql_json_parse(a, "{\"min\": 2.5}", 12, &errs);

    printf("%-52s %12s %12s\n", "document", "parse us", "total us");

    for (k = 0; k < 4; k++) {
        n = k == 3 ? 200 : 20000;
        bp = 1e9;
        bt = 1e9;

        for (r = 0; r < 5; r++) {
            parse = 0;
            total = 0;

            for (i = 0; i < n; i++) {
                one(schema, cases[k].doc, vars, &parse, &total);
            }

            if (total / n < bt) {
                bt = total / n;
                bp = parse / n;
            }
        }

        printf("%-52s %12.2f %12.2f\n", cases[k].name, bp, bt);
    }

    fql_arena_heap_destroy(a);
    free(sdl);
    free(intro);
    free(large);

    return 0;
}
