/*
 * The plan cache: normal forms, hits and misses, shapes of variables,
 * parameters refilled from new variables, eviction of plans in use.
 */

#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "fql_cache.h"


static const char  sdl[] =
    "enum Code { A B }\n"
    "type Thing @view(name: \"v_thing\") {\n"
    "  id: ID!\n"
    "  name: String\n"
    "  score: Int\n"
    "  code: Code\n"
    "  flag: Boolean\n"
    "}\n"
    "type Query {\n"
    "  thing(id: ID!): Thing\n"
    "  things(where: ThingWhereInput, orderBy: [ThingOrderByInput!],\n"
    "         limit: Int, offset: Int): [Thing!]!\n"
    "}\n";


#include "fixture.h"


/* the cache keys plans by their limits too: these are not the defaults */
static int
setup_limits(void **state)
{
    fixture_t  *f;

    if (setup(state) != 0) {
        return -1;
    }

    f = *state;
    f->eng.compile.max_limit = 100;

    return 0;
}


typedef struct {
    fql_arena_t         *arena;
    fql_plan_t          *plan;
    fql_errors_t         errs;
    fql_cache_result_t   res;
    int                  rc;
} run_t;


/* one request: its own arena, like an nginx request's pool */
static void
run(fixture_t *f, fql_cache_t *c, const char *query, const char *vars,
    const char *opname, run_t *r)
{
    fql_request_t  req;

    memset(r, 0, sizeof(run_t));
    memset(&req, 0, sizeof(req));
    r->arena = fql_arena_heap_create();
    fql_errors_init(&r->errs, r->arena);

    if (vars != NULL) {
        req.variables = fql_json_parse(r->arena, vars, strlen(vars),
                                       &r->errs);
        assert_non_null(req.variables);
    }

    if (opname != NULL) {
        req.operation_name.data = opname;
        req.operation_name.len = strlen(opname);
    }

    /* a copy, gone with the request: the cache must not keep pointers */
    req.query.data = fql_strndup(r->arena, query, strlen(query));
    req.query.len = strlen(query);

    r->rc = fql_cache_plan(c, r->arena, &f->eng, &req, &r->plan, &r->errs,
                           &r->res);
}


static void
done(run_t *r)
{
    fql_cache_release(r->res.entry);
    fql_arena_heap_destroy(r->arena);
}


static void
expect(fixture_t *f, fql_cache_t *c, const char *query, const char *vars,
    int hit, const char *sql, ...)
{
    va_list      args;
    unsigned     i;
    const char  *p;
    run_t        r;

    run(f, c, query, vars, NULL, &r);

    if (r.rc != 0) {
        fail_msg("%s: %s", query, r.errs.head ? r.errs.head->message : "?");
    }

    assert_int_equal(r.res.hit, hit);
    assert_string_equal(r.plan->roots->sql, sql);

    va_start(args, sql);

    for (i = 0; (p = va_arg(args, const char *)) != NULL; i++) {
        assert_true(i < r.plan->roots->nparams);
        assert_string_equal(r.plan->roots->params[i], p);
    }

    va_end(args);

    assert_int_equal(i, r.plan->roots->nparams);
    done(&r);
}


static void
test_normalize(void **state)
{
    char          out[256];
    size_t        n;
    unsigned      i;
    static const struct {
        const char  *in;
        const char  *out;
    } cases[] = {
        { "{ a  b }", "{a b}" },
        { "query Q($x: Int = 1, $y: [ID!]) { a(x: $x) }",
          "query Q($x:Int=1$y:[ID!]){a(x:$x)}" },
        { "{ a # comment\n b }", "{a b}" },
        { "{ a(s: \"x  y, # z\") }", "{a(s:\"x  y, # z\")}" },
        { "{ a(s: \"q\\\" r\") }", "{a(s:\"q\\\" r\")}" },
        { "{ a(s: \"\"\"b  \\\"\"\" c\"\"\") }",
          "{a(s:\"\"\"b  \\\"\"\" c\"\"\")}" },
        { "{ ... on T { a } ...F }", "{... on T{a}...F}" },
        { "{ a(n: -1.5e3, m: 2) }", "{a(n:-1.5e3 m:2)}" },
    };

    (void) state;

    for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        n = fql_normalize(cases[i].in, strlen(cases[i].in), out);
        out[n] = '\0';
        assert_string_equal(out, cases[i].out);
    }
}


#define FROM  "SELECT \"data\" FROM \"v_thing\""

static void
test_hits_share_plan(void **state)
{
    fixture_t    *f = *state;
    fql_cache_t  *c;
    fql_cache_stats_t  st;

    c = fql_cache_create(8, 0);

    expect(f, c, "query ($i: ID!) { thing(id: $i) { id } }", "{\"i\": 1}",
           0, FROM " WHERE \"id\" = $1", "1", NULL);
    expect(f, c, "query ($i: ID!) { thing(id: $i) { id } }", "{\"i\": \"b\"}",
           1, FROM " WHERE \"id\" = $1", "b", NULL);

    /* another layout of the same tokens */
    expect(f, c, "query($i:ID!){\n  thing(id:$i){id}  # x\n}",
           "{\"i\": 7}", 1, FROM " WHERE \"id\" = $1", "7", NULL);

    /* literals are part of the document */
    expect(f, c, "{ thing(id: 5) { id } }", NULL, 0,
           FROM " WHERE \"id\" = $1", "5", NULL);
    expect(f, c, "{ thing(id: 5) { id } }", NULL, 1,
           FROM " WHERE \"id\" = $1", "5", NULL);

    fql_cache_get_stats(c, &st);
    assert_int_equal(st.hits, 3);
    assert_int_equal(st.misses, 2);
    assert_int_equal(st.entries, 2);

    fql_cache_destroy(c);
}


static void
test_shapes(void **state)
{
    fixture_t    *f = *state;
    fql_cache_t  *c;
    const char   *q;

    c = fql_cache_create(8, 0);
    q = "query ($w: ThingWhereInput, $o: [ThingOrderByInput!], $n: Int) "
        "{ things(where: $w, orderBy: $o, limit: $n) { id } }";

    expect(f, c, q, "{\"w\": {\"name\": {\"eq\": \"a\"}}}", 0,
           FROM " WHERE ((\"data\"->>'name')) = $1 LIMIT $2::bigint",
           "a", "100", NULL);
    expect(f, c, q, "{\"w\": {\"name\": {\"eq\": \"b\"}}}", 1,
           FROM " WHERE ((\"data\"->>'name')) = $1 LIMIT $2::bigint",
           "b", "100", NULL);

    /* another operator: another SQL text */
    expect(f, c, q, "{\"w\": {\"name\": {\"contains\": \"%\"}}}", 0,
           FROM " WHERE ((\"data\"->>'name')) LIKE $1 LIMIT $2::bigint",
           "%\\%%", "100", NULL);
    expect(f, c, q, "{\"w\": {\"name\": {\"contains\": \"_x\"}}}", 1,
           FROM " WHERE ((\"data\"->>'name')) LIKE $1 LIMIT $2::bigint",
           "%\\_x%", "100", NULL);

    /* list lengths of values do not matter, of input objects they do */
    expect(f, c, q, "{\"w\": {\"score\": {\"in\": [1, 2]}}, \"n\": 3}", 0,
           FROM " WHERE (((\"data\"->>'score')::numeric) = "
           "ANY($1::numeric[])) LIMIT $2::bigint", "{\"1\",\"2\"}", "3",
           NULL);
    expect(f, c, q, "{\"w\": {\"score\": {\"in\": [4]}}, \"n\": 9}", 1,
           FROM " WHERE (((\"data\"->>'score')::numeric) = "
           "ANY($1::numeric[])) LIMIT $2::bigint", "{\"4\"}", "9", NULL);
    expect(f, c, q, "{\"w\": {\"OR\": [{\"name\": {\"eq\": \"a\"}}, "
           "{\"name\": {\"eq\": \"b\"}}]}}", 0,
           FROM " WHERE ((((\"data\"->>'name')) = $1) OR "
           "(((\"data\"->>'name')) = $2)) LIMIT $3::bigint",
           "a", "b", "100", NULL);
    expect(f, c, q, "{\"w\": {\"OR\": [{\"name\": {\"eq\": \"c\"}}, "
           "{\"name\": {\"eq\": \"d\"}}]}}", 1,
           FROM " WHERE ((((\"data\"->>'name')) = $1) OR "
           "(((\"data\"->>'name')) = $2)) LIMIT $3::bigint",
           "c", "d", "100", NULL);

    /* enum values are SQL text */
    expect(f, c, q, "{\"o\": [{\"score\": \"DESC\"}]}", 0,
           FROM " ORDER BY ((\"data\"->>'score')::numeric) DESC"
           " LIMIT $1::bigint", "100", NULL);
    expect(f, c, q, "{\"o\": [{\"score\": \"ASC\"}]}", 0,
           FROM " ORDER BY ((\"data\"->>'score')::numeric) ASC"
           " LIMIT $1::bigint", "100", NULL);

    /* null leaves an operator out */
    expect(f, c, q, "{\"w\": {\"name\": {\"eq\": null}}}", 0,
           FROM " LIMIT $1::bigint", "100", NULL);

    fql_cache_destroy(c);
}


static void
test_values_checked_on_hit(void **state)
{
    fixture_t    *f = *state;
    fql_cache_t  *c;
    run_t         r;
    const char   *q;

    c = fql_cache_create(8, 0);
    q = "query ($n: Int, $o: Int) { things(limit: $n, offset: $o) { id } }";

    expect(f, c, q, "{\"n\": 5, \"o\": 1}", 0,
           FROM " LIMIT $1::bigint OFFSET $2::bigint", "5", "1", NULL);

    run(f, c, q, "{\"n\": 500, \"o\": 1}", NULL, &r);
    assert_int_equal(r.rc, -1);
    assert_non_null(strstr(r.errs.head->message, "over the maximum"));
    done(&r);

    run(f, c, q, "{\"n\": 5, \"o\": -1}", NULL, &r);
    assert_int_equal(r.rc, -1);
    assert_non_null(strstr(r.errs.head->message, "must not be negative"));
    done(&r);

    /* coercion runs on every request */
    run(f, c, q, "{\"n\": \"5\"}", NULL, &r);
    assert_int_equal(r.rc, -1);
    assert_true(r.res.cached);
    done(&r);

    fql_cache_destroy(c);
}


static void
test_not_cached(void **state)
{
    fixture_t    *f = *state;
    fql_cache_t  *c;
    run_t         r;
    const char   *q;

    c = fql_cache_create(8, 0);

    /* a literal list with a variable inside: compiled each time */
    q = "query ($a: String!) { things(where: {name: {in: [$a, \"z\"]}}) "
        "{ id } }";
    expect(f, c, q, "{\"a\": \"x\"}", 0,
           FROM " WHERE (((\"data\"->>'name')) = ANY($1::text[]))"
           " LIMIT $2::bigint", "{\"x\",\"z\"}", "100", NULL);
    expect(f, c, q, "{\"a\": \"y\"}", 0,
           FROM " WHERE (((\"data\"->>'name')) = ANY($1::text[]))"
           " LIMIT $2::bigint", "{\"y\",\"z\"}", "100", NULL);

    /* an answer computed from a string variable */
    q = "query ($t: String!) { __type(name: $t) { name } }";
    run(f, c, q, "{\"t\": \"Thing\"}", NULL, &r);
    assert_int_equal(r.rc, 0);
    assert_non_null(strstr(r.plan->roots->value.data, "\"Thing\""));
    done(&r);
    run(f, c, q, "{\"t\": \"Code\"}", NULL, &r);
    assert_int_equal(r.rc, 0);
    assert_int_equal(r.res.hit, 0);
    assert_non_null(strstr(r.plan->roots->value.data, "\"Code\""));
    done(&r);

    /* invalid documents are answered, never kept */
    run(f, c, "{ nope }", NULL, NULL, &r);
    assert_int_equal(r.rc, -1);
    assert_int_equal(r.res.parse_failed, 0);
    done(&r);
    run(f, c, "{ nope ", NULL, NULL, &r);
    assert_int_equal(r.rc, -1);
    assert_int_equal(r.res.parse_failed, 1);
    done(&r);

    fql_cache_destroy(c);
}


static void
test_skip_include_and_operations(void **state)
{
    fixture_t    *f = *state;
    fql_cache_t  *c;
    run_t         r;
    const char   *q;

    c = fql_cache_create(8, 0);
    q = "query A($b: Boolean!) { x: things { id name @include(if: $b) } }"
        " query B { thing(id: 1) { id } }";

    run(f, c, q, "{\"b\": true}", "A", &r);
    assert_int_equal(r.rc, 0);
    assert_int_equal(r.plan->roots->proj->nfields, 2);
    done(&r);

    run(f, c, q, "{\"b\": false}", "A", &r);
    assert_int_equal(r.rc, 0);
    assert_int_equal(r.res.hit, 0);
    assert_int_equal(r.plan->roots->proj->nfields, 1);
    done(&r);

    run(f, c, q, "{\"b\": true}", "A", &r);
    assert_int_equal(r.res.hit, 1);
    assert_int_equal(r.plan->roots->proj->nfields, 2);
    done(&r);

    run(f, c, q, NULL, "B", &r);
    assert_int_equal(r.rc, 0);
    assert_int_equal(r.res.hit, 0);
    assert_string_equal(r.plan->roots->sql, FROM " WHERE \"id\" = $1");
    done(&r);

    run(f, c, q, NULL, "C", &r);
    assert_int_equal(r.rc, -1);
    assert_int_equal(r.res.op, -1);
    done(&r);

    fql_cache_destroy(c);
}


static void
test_eviction_while_in_use(void **state)
{
    fixture_t          *f = *state;
    fql_cache_t        *c;
    run_t               held, r;
    fql_cache_stats_t   st;

    c = fql_cache_create(2, 0);

    run(f, c, "{ thing(id: 1) { id } }", NULL, NULL, &held);
    assert_int_equal(held.rc, 0);

    run(f, c, "{ thing(id: 2) { id } }", NULL, NULL, &r);
    done(&r);
    run(f, c, "{ thing(id: 3) { id } }", NULL, NULL, &r);
    done(&r);

    fql_cache_get_stats(c, &st);
    assert_int_equal(st.evictions, 1);
    assert_int_equal(st.entries, 2);

    /* evicted, still in use: its plan is intact until released */
    assert_string_equal(held.plan->roots->sql, FROM " WHERE \"id\" = $1");
    assert_string_equal(held.plan->roots->params[0], "1");

    run(f, c, "{ thing(id: 1) { id } }", NULL, NULL, &r);
    assert_int_equal(r.res.hit, 0);
    done(&r);

    /* the most recently used stays: 1 and 3 now, 2 is out */
    run(f, c, "{ thing(id: 3) { id } }", NULL, NULL, &r);
    assert_int_equal(r.res.hit, 1);
    done(&r);
    run(f, c, "{ thing(id: 2) { id } }", NULL, NULL, &r);
    assert_int_equal(r.res.hit, 0);
    done(&r);

    done(&held);

    /* destroyed with plans in use (the end of a process) */
    run(f, c, "{ thing(id: 2) { id } }", NULL, NULL, &held);
    assert_int_equal(held.res.hit, 1);
    fql_cache_destroy(c);
    fql_arena_heap_destroy(held.arena);
}


/* plans of the common shapes stay small: the cache's unit of memory */
static void
test_bytes(void **state)
{
    fixture_t          *f = *state;
    fql_cache_t        *c;
    run_t               r;
    fql_cache_stats_t   st;
    char                doc[64000];
    size_t              n, one;
    unsigned            i, k;

    c = fql_cache_create(1000, 16 * 1024 * 16);

    run(f, c, "{ thing(id: 1) { id } }", NULL, NULL, &r);
    done(&r);
    fql_cache_get_stats(c, &st);
    one = st.bytes;
    assert_true(one > 0);
    assert_true(one < 20 * 1024);

    /* many distinct documents: the bytes stay under the bound */
    for (i = 0; i < 400; i++) {
        snprintf(doc, sizeof(doc), "{ t%u: things(limit: %u) { id name } }",
                 i, i % 100 + 1);
        run(f, c, doc, NULL, NULL, &r);
        assert_int_equal(r.rc, 0);
        done(&r);

        fql_cache_get_stats(c, &st);
        assert_true(st.bytes <= 16 * 1024 * 16);
    }

    assert_true(st.evictions > 0);
    assert_true(st.entries < 400);

    /* larger than its share (16k): planned, answered, not kept */
    n = snprintf(doc, sizeof(doc), "{ things(limit: 1) {");
    for (k = 0; k < 900; k++) {
        n += snprintf(doc + n, sizeof(doc) - n, " a%u: id", k);
    }
    snprintf(doc + n, sizeof(doc) - n, " } }");

    run(f, c, doc, NULL, NULL, &r);
    assert_int_equal(r.rc, 0);
    assert_int_equal(r.plan->nroots, 1);
    done(&r);

    fql_cache_get_stats(c, &st);
    assert_int_equal(st.too_large, 1);

    run(f, c, doc, NULL, NULL, &r);
    assert_int_equal(r.rc, 0);
    assert_int_equal(r.res.hit, 0);
    done(&r);

    fql_cache_destroy(c);
}


static void
test_no_cache(void **state)
{
    fixture_t  *f = *state;
    run_t       r;

    run(f, NULL, "{ thing(id: 1) { id } }", NULL, NULL, &r);
    assert_int_equal(r.rc, 0);
    assert_int_equal(r.res.cached, 0);
    assert_null(r.res.entry);
    done(&r);
}


int
main(void)
{
    const struct CMUnitTest  tests[] = {
        cmocka_unit_test(test_normalize),
        cmocka_unit_test(test_hits_share_plan),
        cmocka_unit_test(test_shapes),
        cmocka_unit_test(test_values_checked_on_hit),
        cmocka_unit_test(test_not_cached),
        cmocka_unit_test(test_skip_include_and_operations),
        cmocka_unit_test(test_eviction_while_in_use),
        cmocka_unit_test(test_bytes),
        cmocka_unit_test(test_no_cache),
    };

    return cmocka_run_group_tests(tests, setup_limits, teardown);
}
