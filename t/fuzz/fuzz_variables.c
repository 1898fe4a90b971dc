/*
 * libFuzzer target: variable values (the request's "variables" JSON)
 * coerced against definitions of every kind of input type — scalars,
 * enums, lists, input objects, defaults — and then
 * compiled, so that coerced values also become SQL parameters.
 */

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include "fql_compile.h"


static const char  sdl[] =
    "enum Code { A B }\n"
    "type Thing @view(name: \"v_thing\") {\n"
    "  id: ID! name: String score: Int ratio: Float flag: Boolean\n"
    "  code: Code meta: JSON when: DateTime day: Date uid: UUID\n"
    "}\n"
    "type Query {\n"
    "  thing(id: ID!): Thing\n"
    "  things(where: ThingWhereInput, orderBy: [ThingOrderByInput!],\n"
    "         limit: Int, offset: Int): [Thing!]!\n"
    "}\n";

static const char  query[] =
    "query Q($id: ID!, $s: String, $i: Int = 3, $f: Float, $b: Boolean,"
    " $c: Code, $j: JSON, $t: DateTime, $d: Date, $u: UUID,"
    " $ss: [String!], $ii: [Int!], $w: ThingWhereInput!,"
    " $o: [ThingOrderByInput!] = [{id: ASC}]) {\n"
    "  a: thing(id: $id) { id }\n"
    "  b: things(where: {name: {eq: $s}, score: {in: $ii, gt: $i},"
    " ratio: {lt: $f}, flag: {eq: $b}, code: {eq: $c}, meta: {eq: $j},"
    " when: {gte: $t}, day: {lte: $d}, uid: {eq: $u},"
    " OR: [$w, {name: {nin: $ss}}]}, orderBy: $o, limit: $i) { id }\n"
    "}\n";

static fql_arena_t     *schema_arena;
static fql_schema_t    *schema;
static fql_document_t  *doc;


int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    fql_arena_t        *a;
    fql_plan_t         *plan;
    fql_jval_t         *vars;
    fql_errors_t        errs;
    fql_parse_error_t   perr;
    fql_engine_t        eng;
    fql_request_t       req;

    if (schema == NULL) {
        schema_arena = fql_arena_heap_create();

        if (fql_schema_build(schema_arena, sdl, sizeof(sdl) - 1, &schema,
                             &perr) != 0
            || fql_parse_document(schema_arena, query, sizeof(query) - 1,
                                  NULL, &doc, &perr) != 0)
        {
            fprintf(stderr, "setup: %s\n", perr.message);
            abort();
        }
    }

    a = fql_arena_heap_create();
    fql_errors_init(&errs, a);

    vars = fql_json_parse(a, (const char *) data, size, &errs);

    if (vars != NULL && vars->kind == FQL_J_OBJECT) {
        memset(&eng, 0, sizeof(eng));
        eng.schema = schema;
        memset(&req, 0, sizeof(req));
        req.operation_name.data = "Q";
        req.operation_name.len = 1;
        req.variables = vars;

        (void) fql_compile(a, &eng, doc, &req, &plan, &errs);
    }

    fql_arena_heap_destroy(a);

    return 0;
}
