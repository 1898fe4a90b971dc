/*
 * libFuzzer target: a request body (JSON with query, variables,
 * operationName) through request parsing, GraphQL parsing, validation,
 * variable coercion and compilation against a fixed schema; then the
 * same request twice through the plan cache (a miss, then a hit), whose
 * plans must be the plain compile's to the byte.
 */

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include "fql_cache.h"
#include "fql_request.h"


static const char  sdl[] =
    "enum Code { A B }\n"
    "type Author @cost(weight: 2) { firstName: String tags: [String!]\n"
    "  @cost(weight: 1) @listSize(assumedSize: 4) }\n"
    "type Thing @view(name: \"v_thing\") {\n"
    "  id: ID! name: String score: Int ratio: Float flag: Boolean\n"
    "  code: Code meta: JSON when: DateTime day: Date uid: UUID\n"
    "  status: String @column author: Author list: [[Int]]\n"
    "  ip: IpAddress path: LTree period: DateRange doc: TSVector\n"
    "  price: Decimal mac: MacAddress emb: Vector place: Point\n"
    "  scores: [Int] codes: [Code!]\n"
    "}\n"
    "input Ex { sourceUrl: String n: [Int!] }\n"
    "input In { name: String! extra: Ex list: [Ex] code: Code }\n"
    "type Ok { message: String thing: Thing }\n"
    "type Bad { code: Int identifier: String }\n"
    "union Res = Ok | Bad\n"
    "type Mutation { m(input: In!): Res @function(name: \"f\")\n"
    "  n(input: In!): Res! @function(name: \"g\", schema: \"s\") }\n"
    "type Query {\n"
    "  thing(id: ID!): Thing\n"
    "  things(where: ThingWhereInput, orderBy: [ThingOrderByInput!],\n"
    "         limit: Int, offset: Int): [Thing!]!\n"
    "  search(q: String!, minScore: Int @cost(weight: 3), meta: JSON,\n"
    "         code: Code, where: ThingWhereInput,\n"
    "         orderBy: [ThingOrderByInput!], limit: Int): [Thing!]!\n"
    "    @function(name: \"fn\", schema: \"s\")\n"
    "    @listSize(slicingArguments: [\"minScore\"], assumedSize: 7)\n"
    "  byName(name: String): Thing @function(name: \"fn1\")\n"
    "  thingsConnection(where: ThingWhereInput,\n"
    "         orderBy: [ThingOrderByInput!], first: Int, after: String,\n"
    "         last: Int, before: String): ThingConnection!\n"
    "  thingsAggregate(where: ThingWhereInput): ThingAggregate!\n"
    "}\n";

static fql_arena_t   *schema_arena;
static fql_schema_t  *schema;
static fql_cache_t   *cache;


static void
same_plans(const fql_plan_t *p, const fql_plan_t *q)
{
    unsigned                i;
    const fql_root_plan_t  *a, *b;

    /* the cost too: a formula kept with the plan, for new variables */
    if (p->nroots != q->nroots || fql_plan_cost(p) != fql_plan_cost(q)) {
        abort();
    }

    for (a = p->roots, b = q->roots; a && b; a = a->next, b = b->next) {
        if (a->kind != b->kind || a->nparams != b->nparams
            || !fql_str_eq(a->response_key, b->response_key)
            || (a->sql == NULL) != (b->sql == NULL)
            || (a->sql && strcmp(a->sql, b->sql) != 0)
            || (a->kind == FQL_RF_STATIC && !fql_str_eq(a->value, b->value)))
        {
            abort();
        }

        for (i = 0; i < a->nparams; i++) {
            if ((a->params[i] == NULL) != (b->params[i] == NULL)
                || (a->params[i] && strcmp(a->params[i], b->params[i]) != 0))
            {
                abort();
            }
        }
    }
}


/* through the cache, in a request arena of its own */
static void
cached(const fql_engine_t *eng, const fql_request_t *req,
    const fql_plan_t *want)
{
    int                  rc;
    fql_arena_t         *a;
    fql_plan_t          *plan;
    fql_errors_t         errs;
    fql_cache_result_t   res;

    a = fql_arena_heap_create();
    fql_errors_init(&errs, a);

    rc = fql_cache_plan(cache, a, eng, req, &plan, &errs, &res);

    if ((rc == 0) != (want != NULL)) {
        abort();
    }

    if (rc == 0) {
        same_plans(want, plan);
    }

    fql_cache_release(res.entry);
    fql_arena_heap_destroy(a);
}


int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    fql_arena_t           *a;
    fql_plan_t            *plan;
    fql_errors_t           errs;
    fql_request_t          req;
    fql_document_t        *doc;
    fql_parse_error_t      perr;
    fql_engine_t           eng;

    if (schema == NULL) {
        schema_arena = fql_arena_heap_create();
        if (fql_schema_build(schema_arena, sdl, sizeof(sdl) - 1, &schema,
                             &perr) != 0)
        {
            fprintf(stderr, "schema: %s\n", perr.message);
            abort();
        }
    }

    if (cache == NULL) {
        cache = fql_cache_create(4, 0);
    }

    memset(&eng, 0, sizeof(eng));
    eng.schema = schema;
    eng.parse.max_depth = 64;
    eng.parse.max_tokens = 20000;
    eng.compile.max_depth = 20;

    a = fql_arena_heap_create();
    fql_errors_init(&errs, a);

    if (fql_request_from_json(a, (const char *) data, size, &req, &errs)
        == 0)
    {
        plan = NULL;

        if (fql_parse_document(a, req.query.data, req.query.len,
                               &eng.parse, &doc, &perr) == 0
            && fql_compile(a, &eng, doc, &req, &plan, &errs) != 0)
        {
            plan = NULL;
        }

        /* a miss (or a hit from an earlier input), then surely a hit */
        cached(&eng, &req, plan);
        cached(&eng, &req, plan);
    }

    fql_arena_heap_destroy(a);

    return 0;
}
