/*
 * libFuzzer target: a mutation function's row (to_jsonb of its answer)
 * through the status taxonomy and the shaping for Success or Error, then
 * the chosen projection, as the module does for each mutation field; and
 * through the shaping of a mutation that returns its object directly.
 */

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include "fql_mutation.h"


static const char  sdl[] =
    "type User @view(name: \"v_user\") { id: ID! name: String age: Int\n"
    "  tags: [String!] }\n"
    "input In { name: String! }\n"
    "type FieldError { field: String message: String }\n"
    "type Ok { message: String status: String user: User\n"
    "  updatedFields: [String!] cascade: JSON }\n"
    "type Bad { message: String code: Int! identifier: String\n"
    "  errors: [FieldError!]! }\n"
    "union Res = Ok | Bad\n"
    "type Query { user(id: ID!): User }\n"
    "type Mutation { m(input: In!): Res @function(name: \"f\")\n"
    "  d(input: In!): User @function(name: \"g\") }\n";

static const char  query[] =
    "mutation { m(input: {name: \"x\"}) { __typename ... on Ok { message "
    "status user { id name age tags __typename } updatedFields cascade } "
    "... on Bad { message code identifier errors { field message } } }\n"
    "  d(input: {name: \"y\"}) { id name age tags __typename } }";

static fql_arena_t      *arena;
static fql_root_plan_t  *rp, *rp_direct;


static int
init(void)
{
    fql_plan_t         *plan;
    fql_schema_t       *schema;
    fql_errors_t        errs;
    fql_document_t     *doc;
    fql_parse_error_t   perr;
    fql_engine_t        eng;
    fql_request_t       req;

    arena = fql_arena_heap_create();
    fql_errors_init(&errs, arena);
    memset(&eng, 0, sizeof(eng));
    memset(&req, 0, sizeof(req));

    if (fql_schema_build(arena, sdl, sizeof(sdl) - 1, &schema, &perr) != 0
        || fql_parse_document(arena, query, sizeof(query) - 1, NULL, &doc,
                              &perr) != 0)
    {
        return -1;
    }

    eng.schema = schema;

    if (fql_compile(arena, &eng, doc, &req, &plan, &errs) != 0) {
        return -1;
    }

    rp = plan->roots;
    rp_direct = rp->next;

    return rp_direct != NULL && rp_direct->direct ? 0 : -1;
}


int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    fql_arena_t            *a;
    fql_heapbuf_t           hb, out;
    const fql_proj_t       *proj;
    fql_mutation_result_t   res;

    if (rp == NULL && init() != 0) {
        abort();
    }

    a = fql_arena_heap_create();
    fql_heapbuf_init(&hb);
    fql_heapbuf_init(&out);

    if (fql_mutation_row(rp, a, (const char *) data, size, &proj, &hb) == 0
        && fql_transform_row(proj, hb.data, fql_heapbuf_len(&hb), &out.w,
                             NULL, NULL, NULL) != 0)
    {
        /* what the shaping writes is always an object the transform reads */
        abort();
    }

    fql_heapbuf_free(&hb);
    fql_heapbuf_free(&out);
    fql_heapbuf_init(&hb);
    fql_heapbuf_init(&out);

    if (fql_mutation_object(a, (const char *) data, size, &res, &hb) == 0) {
        /* an error has a code and a message; a success is null or reads */
        if ((res.code != NULL && res.message.len == 0)
            || (res.code == NULL && fql_heapbuf_len(&hb)
                && fql_transform_row(rp_direct->proj, hb.data,
                                     fql_heapbuf_len(&hb), &out.w, NULL,
                                     NULL, NULL) != 0))
        {
            abort();
        }
    }

    fql_heapbuf_free(&hb);
    fql_heapbuf_free(&out);
    fql_arena_heap_destroy(a);

    return 0;
}
