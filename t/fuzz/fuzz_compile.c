/*
 * libFuzzer target: a request body (JSON with query, variables,
 * operationName) through request parsing, GraphQL parsing, validation,
 * variable coercion and compilation against a fixed schema.
 */

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include "fql_compile.h"


static const char  sdl[] =
    "enum Code { A B }\n"
    "type Author { firstName: String tags: [String!] }\n"
    "type Thing @view(name: \"v_thing\") {\n"
    "  id: ID! name: String score: Int ratio: Float flag: Boolean\n"
    "  code: Code meta: JSON when: DateTime day: Date uid: UUID\n"
    "  status: String @column author: Author list: [[Int]]\n"
    "}\n"
    "type Query {\n"
    "  thing(id: ID!): Thing\n"
    "  things(where: ThingWhereInput, orderBy: [ThingOrderByInput!],\n"
    "         limit: Int, offset: Int): [Thing!]!\n"
    "}\n";

static fql_arena_t   *schema_arena;
static fql_schema_t  *schema;


int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    fql_arena_t           *a;
    fql_plan_t            *plan;
    fql_errors_t           errs;
    fql_request_t          req;
    fql_document_t        *doc;
    fql_parse_error_t      perr;
    fql_parse_limits_t     limits = { 64, 20000 };
    fql_compile_limits_t   climits = { 20 };

    if (schema == NULL) {
        schema_arena = fql_arena_heap_create();
        if (fql_schema_build(schema_arena, sdl, sizeof(sdl) - 1, &schema,
                             &perr) != 0)
        {
            fprintf(stderr, "schema: %s\n", perr.message);
            abort();
        }
    }

    a = fql_arena_heap_create();
    fql_errors_init(&errs, a);

    if (fql_request_from_json(a, (const char *) data, size, &req, &errs)
        == 0
        && fql_parse_document(a, req.query.data, req.query.len, &limits,
                              &doc, &perr) == 0)
    {
        (void) fql_compile(a, schema, doc, req.operation_name,
                           req.variables, &climits, &plan, &errs);
    }

    fql_arena_heap_destroy(a);

    return 0;
}
