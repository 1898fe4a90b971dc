/*
 * The cost of operations (fql_cost.c): the defaults, @cost and @listSize
 * as IBM's cost directives put them, slicing arguments from literals and
 * variables, through the plan cache, and fraiseql_max_cost's refusal.
 */

#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "fql_compile.h"
#include "fql_cache.h"


static const char  sdl[] =
    "scalar Blob @cost(weight: 4)\n"
    "enum Code { A B }\n"
    "type Child @cost(weight: 2) { n: Int }\n"
    "type Author { name: String }\n"
    "type Thing @view(name: \"v_thing\") {\n"
    "  id: ID!\n"
    "  name: String\n"
    "  code: Code\n"
    "  blob: Blob\n"
    "  score: Int @column\n"
    "  heavy: String @cost(weight: 7)\n"
    "  author: Author\n"
    "  children: [Child!] @listSize(assumedSize: 10)\n"
    "  others: [Child!]\n"
    "}\n"
    "type Dear @view(name: \"v_dear\") @cost(weight: 5) { id: ID! }\n"
    "type Query {\n"
    "  thing(id: ID!): Thing\n"
    "  things(where: ThingWhereInput, orderBy: [ThingOrderByInput!],\n"
    "         limit: Int, offset: Int): [Thing!]!\n"
    "  guessed(limit: Int): [Thing!]! @listSize(assumedSize: 40)\n"
    "  dears(limit: Int @cost(weight: 3)): [Dear!]! @cost(weight: 11)\n"
    "  top(n: Int, limit: Int): [Thing!]!\n"
    "    @function(name: \"fn_top\") @listSize(slicingArguments: [\"n\"])\n"
    "  thingsConnection(where: ThingWhereInput,\n"
    "                   orderBy: [ThingOrderByInput!], first: Int,\n"
    "                   after: String, last: Int,\n"
    "                   before: String): ThingConnection!\n"
    "  thingsAggregate(where: ThingWhereInput): ThingAggregate!\n"
    "}\n"
    "input MakeInput { name: String }\n"
    "type Mutation {\n"
    "  make(input: MakeInput!): Thing @function(name: \"fn_make\")\n"
    "}\n";


#include "fixture.h"


static uint64_t
cost_of(fixture_t *f, const fql_compile_limits_t *limits, const char *query,
    const char *vars)
{
    uint64_t            cost;
    fql_plan_t         *plan;
    fql_engine_t        eng;
    fql_errors_t        errs;
    fql_request_t       req;
    fql_document_t     *doc;
    fql_parse_error_t   perr;

    fql_errors_init(&errs, f->arena);
    eng = f->eng;
    if (limits != NULL) {
        eng.compile = *limits;
    }

    memset(&req, 0, sizeof(req));

    assert_int_equal(fql_parse_document(f->arena, query, strlen(query), NULL,
                                        &doc, &perr), 0);

    if (vars != NULL) {
        req.variables = fql_json_parse(f->arena, vars, strlen(vars), &errs);
        assert_non_null(req.variables);
    }

    if (fql_compile(f->arena, &eng, doc, &req, &plan, &errs) != 0) {
        fail_msg("%s: %s", query, errs.head ? errs.head->message : "?");
    }

    cost = fql_plan_cost(plan);
    assert_int_equal(fql_plan_check_cost(plan, 0, &cost, &errs), 0);

    return cost;
}


#define COST(q, v, n)  assert_int_equal(cost_of(*state, NULL, q, v), n)


static void
test_defaults(void **state)
{
    fql_compile_limits_t  l;

    /* a row: 1; scalars and plain objects inside it: 0 */
    COST("{ thing(id: 1) { id name code author { name } } }", NULL, 1);
    COST("{ __typename }", NULL, 0);

    /* a list: its limit, a literal or a variable */
    COST("{ things(limit: 5) { id } }", NULL, 5);
    COST("query ($n: Int) { things(limit: $n) { id } }", "{\"n\": 7}", 7);
    COST("{ things(limit: 0) { id } }", NULL, 0);

    /* without: nothing bounds it */
    COST("{ things { id } }", NULL, FQL_COST_LIST_SIZE);
    COST("query ($n: Int) { things(limit: $n) { id } }", "{}",
         FQL_COST_LIST_SIZE);

    /* ... but the location's default or maximum does */
    memset(&l, 0, sizeof(l));
    l.default_limit = 20;
    assert_int_equal(cost_of(*state, &l, "{ things { id } }", NULL), 20);
    l.default_limit = 0;
    l.max_limit = 50;
    assert_int_equal(cost_of(*state, &l, "{ things { id } }", NULL), 50);

    /* two root fields add up; an alias is a field of its own */
    COST("{ a: things(limit: 3) { id } b: things(limit: 4) { id }"
         " thing(id: 2) { id } }", NULL, 8);
}


static void
test_directives(void **state)
{
    /* a field's weight; a scalar's per value; an object type's per row */
    COST("{ thing(id: 1) { heavy } }", NULL, 8);
    COST("{ thing(id: 1) { blob } }", NULL, 5);
    COST("{ things(limit: 2) { heavy blob } }", NULL, 2 * (1 + 7 + 4));

    /* a list inside the row: @listSize, else 1 */
    COST("{ thing(id: 1) { children { n } } }", NULL, 1 + 10 * 2);
    COST("{ thing(id: 1) { others { n } } }", NULL, 1 + 2);
    COST("{ things(limit: 5) { children { n } } }", NULL, 5 * (1 + 20));

    /* the field's weight once, its argument's when given, Dear's per row */
    COST("{ dears(limit: 2) { id } }", NULL, 11 + 3 + 2 * 5);
    COST("{ dears { id } }", NULL, 11 + FQL_COST_LIST_SIZE * 5);

    /* assumedSize when no slicing argument is given */
    COST("{ guessed { id } }", NULL, 40);
    COST("{ guessed(limit: 3) { id } }", NULL, 3);

    /* slicingArguments: the function's own argument, not limit */
    COST("{ top(n: 6, limit: 2) { id } }", NULL, 6);
    COST("query ($n: Int) { top(n: $n) { id } }", "{\"n\": 9}", 9);
}


static void
test_pages_aggregates_mutations(void **state)
{
    /* a page: edges and nodes per row asked, its count a scan */
    COST("{ thingsConnection(first: 10) { edges { cursor node { id } } } }",
         NULL, 10);
    COST("{ thingsConnection(last: 4) { nodes { heavy } totalCount"
         " pageInfo { hasNextPage } } }", NULL, 1 + 4 * 8);
    COST("query ($f: Int) { thingsConnection(first: $f) { edges { node {"
         " id } } nodes { id } } }", "{\"f\": 3}", 3 * 2);

    /* an aggregate reads the view; each group is a row */
    COST("{ thingsAggregate { count } }", NULL, 1);
    COST("{ thingsAggregate { groupBy(fields: [code], limit: 6) { count"
         " } } }", NULL, 1 + 6);

    /* a mutation: its own, and the object it answers with */
    COST("mutation { make(input: {name: \"x\"}) { id } }", NULL,
         FQL_COST_MUTATION + 1);
}


/* a cached plan's cost is the fresh one's for the new variables */
static void
test_cached(void **state)
{
    unsigned             i;
    uint64_t             cost;
    fql_cache_t         *c;
    fql_plan_t          *plan;
    fql_arena_t         *a;
    fql_errors_t         errs;
    fql_request_t        req;
    fql_cache_result_t   res;
    fixture_t           *f = *state;
    const char          *q = "query ($n: Int, $f: Int) { things(limit: $n)"
                             " { children { n } } thingsConnection(first:"
                             " $f) { nodes { id } } }";
    static const char   *vars[] = { "{\"n\": 1, \"f\": 2}",
                                    "{\"n\": 30, \"f\": 4}",
                                    "{\"n\": 0, \"f\": 0}" };
    static const uint64_t  want[] = { 21 + 2, 630 + 4, 0 };

    c = fql_cache_create(8, 0);
    assert_non_null(c);

    for (i = 0; i < 3; i++) {
        a = fql_arena_heap_create();
        fql_errors_init(&errs, a);
        memset(&req, 0, sizeof(req));
        req.variables = fql_json_parse(a, vars[i], strlen(vars[i]), &errs);
        req.query.data = q;
        req.query.len = strlen(q);

        assert_int_equal(fql_cache_plan(c, a, &f->eng, &req, &plan, &errs,
                                        &res), 0);
        assert_int_equal(res.hit, i > 0);
        assert_int_equal(fql_plan_cost(plan), want[i]);

        /* over the maximum: refused with the cost and the maximum */
        assert_int_equal(fql_plan_check_cost(plan, want[i], &cost, &errs),
                         0);
        if (want[i]) {
            assert_int_equal(fql_plan_check_cost(plan, want[i] - 1, &cost,
                                                 &errs), -1);
            assert_string_equal(errs.head->code, "COST_LIMIT_EXCEEDED");
            assert_non_null(strstr(errs.head->message, "fraiseql_max_cost"));
        }

        fql_cache_release(res.entry);
        fql_arena_heap_destroy(a);
    }

    fql_cache_destroy(c);
}


static void
test_refund_rows(void **state)
{
    fql_plan_t         *plan;
    fql_engine_t        eng;
    fql_errors_t        errs;
    fql_request_t       req;
    fql_document_t     *doc;
    fql_parse_error_t   perr;
    fixture_t          *f = *state;
    const char         *q = "{ things(limit: 50) { heavy } }";

    fql_errors_init(&errs, f->arena);
    eng = f->eng;
    memset(&req, 0, sizeof(req));
    assert_int_equal(fql_parse_document(f->arena, q, strlen(q), NULL, &doc,
                                        &perr), 0);
    assert_int_equal(fql_compile(f->arena, &eng, doc, &req, &plan, &errs),
                     0);

    assert_int_equal(fql_root_rows(plan->roots), 50);
    assert_int_equal(fql_root_cost(plan->roots, 50), 400);
    /* what three rows cost: what the refund leaves */
    assert_int_equal(fql_root_cost(plan->roots, 3), 24);

    /* sums stop at the maximum rather than wrap */
    assert_int_equal(fql_cost_mul(FQL_COST_MAX, 3), FQL_COST_MAX);
    assert_int_equal(fql_cost_add(FQL_COST_MAX, FQL_COST_MAX), FQL_COST_MAX);
}


static void
schema_error(const char *text, const char *fragment)
{
    fql_arena_t        *a;
    fql_schema_t       *s;
    fql_parse_error_t   err;

    a = fql_arena_heap_create();

    assert_int_equal(fql_schema_build(a, text, strlen(text), &s, &err), -1);
    if (strstr(err.message, fragment) == NULL) {
        fail_msg("\"%s\" not in \"%s\"", fragment, err.message);
    }

    fql_arena_heap_destroy(a);
}


static void
test_schema_errors(void **state)
{
    (void) state;

    schema_error("type T @view(name: \"v\") { id: ID! }"
                 " type Query { t(id: ID!): T @listSize(assumedSize: 3) }",
                 "neither a list nor a connection");
    schema_error("type T @view(name: \"v\") { id: ID! }"
                 " type Query { ts(limit: Int): [T!]!"
                 " @listSize(slicingArguments: [\"first\"]) }",
                 "is not an Int argument");
    schema_error("type T @view(name: \"v\") { id: ID! }"
                 " type Query { ts(q: String): [T!]!"
                 " @listSize(slicingArguments: [\"q\"]) }",
                 "is not an Int argument");
    schema_error("type T @view(name: \"v\") { id: ID! @cost(weight: -1) }"
                 " type Query { t(id: ID!): T }", "from 0 to");
    schema_error("type T @view(name: \"v\") { id: ID! @cost(weight: 2000000)"
                 " } type Query { t(id: ID!): T }", "from 0 to");
    schema_error("type T @view(name: \"v\") { id: ID! @cost }"
                 " type Query { t(id: ID!): T }", "weight");
    schema_error("type T @view(name: \"v\") @cost(weight: 1) @cost(weight: 2)"
                 " { id: ID! } type Query { t(id: ID!): T }", "only be used "
                 "once");
}


int
main(void)
{
    const struct CMUnitTest  tests[] = {
        cmocka_unit_test(test_defaults),
        cmocka_unit_test(test_directives),
        cmocka_unit_test(test_pages_aggregates_mutations),
        cmocka_unit_test(test_cached),
        cmocka_unit_test(test_refund_rows),
        cmocka_unit_test(test_schema_errors),
    };

    return cmocka_run_group_tests(tests, setup, teardown);
}
