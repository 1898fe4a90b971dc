/*
 * Schema and compiler: the SQL text and parameters produced for every
 * operator and shape, and the errors for what must be refused.
 */

#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "fql_compile.h"


static const char  sdl[] =
    "enum Code { A B }\n"
    "type Author { firstName: String lastName: String }\n"
    "type Thing @view(name: \"v_thing\", schema: \"app\") {\n"
    "  id: ID!\n"
    "  name: String\n"
    "  score: Int\n"
    "  ratio: Float\n"
    "  flag: Boolean\n"
    "  code: Code\n"
    "  meta: JSON\n"
    "  when: DateTime\n"
    "  day: Date\n"
    "  uid: UUID\n"
    "  status: String @column\n"
    "  tenantId: UUID @column(name: \"tenant\")\n"
    "  author: Author\n"
    "  tags: [String!]\n"
    "}\n"
    "type Query {\n"
    "  thing(id: ID!): Thing\n"
    "  things(where: ThingWhereInput, orderBy: [ThingOrderByInput!],\n"
    "         limit: Int, offset: Int): [Thing!]!\n"
    "}\n";


typedef struct {
    fql_arena_t   *arena;
    fql_schema_t  *schema;
} fixture_t;


static int
setup(void **state)
{
    fixture_t          *f;
    fql_parse_error_t   err;

    f = calloc(1, sizeof(fixture_t));
    f->arena = fql_arena_heap_create();

    if (fql_schema_build(f->arena, sdl, sizeof(sdl) - 1, &f->schema, &err)
        != 0)
    {
        fprintf(stderr, "schema: %u:%u: %s\n", err.loc.line, err.loc.column,
                err.message);
        return -1;
    }

    *state = f;
    return 0;
}


static int
teardown(void **state)
{
    fixture_t  *f = *state;

    fql_arena_heap_destroy(f->arena);
    free(f);
    return 0;
}


/* compiles; on success returns the first root plan, else NULL + errs */
static fql_root_plan_t *
compile(fixture_t *f, const char *query, const char *vars,
    fql_errors_t *errs)
{
    fql_plan_t         *plan;
    fql_jval_t         *v = NULL;
    fql_document_t     *doc;
    fql_parse_error_t   perr;
    fql_str_t           op = { NULL, 0 };

    fql_errors_init(errs, f->arena);

    if (fql_parse_document(f->arena, query, strlen(query), NULL, &doc,
                           &perr) != 0)
    {
        fql_error_add(errs, &perr.loc, FQL_CODE_PARSE, "%s", perr.message);
        return NULL;
    }

    if (vars != NULL) {
        v = fql_json_parse(f->arena, vars, strlen(vars), errs);
        assert_non_null(v);
    }

    if (fql_compile(f->arena, f->schema, doc, op, v, NULL, &plan, errs)
        != 0)
    {
        return NULL;
    }

    return plan->roots;
}


static void
expect_sql(fixture_t *f, const char *query, const char *vars,
    const char *sql, ...)
{
    va_list           args;
    unsigned          i;
    const char       *p;
    fql_errors_t      errs;
    fql_root_plan_t  *rp;

    rp = compile(f, query, vars, &errs);
    if (rp == NULL) {
        fail_msg("%s: %s", query, errs.head ? errs.head->message : "?");
    }

    assert_string_equal(rp->sql, sql);

    va_start(args, sql);

    for (i = 0; (p = va_arg(args, const char *)) != NULL; i++) {
        assert_true(i < rp->nparams);
        if (strcmp(p, "<NULL>") == 0) {
            assert_null(rp->params[i]);
        } else {
            assert_string_equal(rp->params[i], p);
        }
    }

    va_end(args);

    assert_int_equal(i, rp->nparams);
}


static void
expect_error(fixture_t *f, const char *query, const char *vars,
    const char *fragment)
{
    fql_errors_t   errs;
    fql_error_t   *e;

    assert_null(compile(f, query, vars, &errs));
    assert_true(errs.count > 0);

    for (e = errs.head; e; e = e->next) {
        if (strstr(e->message, fragment) != NULL) {
            return;
        }
    }

    fail_msg("no error with \"%s\" for %s (first: %s)", fragment, query,
             errs.head->message);
}


#define FROM  "SELECT \"data\" FROM \"app\".\"v_thing\""


static void
test_by_id(void **state)
{
    expect_sql(*state, "{ thing(id: \"x'1\") { id } }", NULL,
               FROM " WHERE \"id\" = $1", "x'1", NULL);
    expect_sql(*state, "{ thing(id: 42) { id } }", NULL,
               FROM " WHERE \"id\" = $1", "42", NULL);
    expect_sql(*state, "query ($i: ID!) { thing(id: $i) { id } }",
               "{\"i\": 7}", FROM " WHERE \"id\" = $1", "7", NULL);
}


static void
test_list_plain(void **state)
{
    expect_sql(*state, "{ things { id } }", NULL, FROM, NULL);
    expect_sql(*state, "{ things(limit: 10, offset: 5) { id } }", NULL,
               FROM " LIMIT $1::bigint OFFSET $2::bigint", "10", "5", NULL);
    expect_sql(*state, "{ things(where: {}) { id } }", NULL, FROM, NULL);
}


static void
test_operators_per_type(void **state)
{
    fixture_t  *f = *state;

    expect_sql(f, "{ things(where: {name: {eq: \"a\"}}) { id } }", NULL,
               FROM " WHERE ((\"data\"->>'name')) = $1", "a", NULL);
    expect_sql(f, "{ things(where: {name: {neq: \"a\"}}) { id } }", NULL,
               FROM " WHERE ((\"data\"->>'name')) <> $1", "a", NULL);
    expect_sql(f, "{ things(where: {name: {gt: \"a\", lte: \"z\"}}) "
               "{ id } }", NULL,
               FROM " WHERE ((\"data\"->>'name')) > $1 AND "
               "((\"data\"->>'name')) <= $2", "a", "z", NULL);
    expect_sql(f, "{ things(where: {score: {gte: 3, lt: 9}}) { id } }",
               NULL,
               FROM " WHERE ((\"data\"->>'score')::numeric) >= $1::numeric"
               " AND ((\"data\"->>'score')::numeric) < $2::numeric",
               "3", "9", NULL);
    expect_sql(f, "{ things(where: {ratio: {gt: 1.5e0}}) { id } }", NULL,
               FROM " WHERE ((\"data\"->>'ratio')::numeric) > $1::numeric",
               "1.5e0", NULL);
    expect_sql(f, "{ things(where: {flag: {eq: true}}) { id } }", NULL,
               FROM " WHERE ((\"data\"->>'flag')::boolean) = $1::boolean",
               "true", NULL);
    expect_sql(f, "{ things(where: {code: {eq: B}}) { id } }", NULL,
               FROM " WHERE ((\"data\"->>'code')) = $1", "B", NULL);
    expect_sql(f, "{ things(where: {meta: {eq: {a: [1, \"x\"]}}}) "
               "{ id } }", NULL,
               FROM " WHERE (\"data\"->'meta') = $1::jsonb",
               "{\"a\":[1,\"x\"]}", NULL);
    expect_sql(f, "{ things(where: {when: {lt: \"2024-01-01T00:00:00Z\"}})"
               " { id } }", NULL,
               FROM " WHERE ((\"data\"->>'when')::timestamptz) < "
               "$1::timestamptz", "2024-01-01T00:00:00Z", NULL);
    expect_sql(f, "{ things(where: {day: {gte: \"2024-01-01\"}}) { id } }",
               NULL,
               FROM " WHERE ((\"data\"->>'day')::date) >= $1::date",
               "2024-01-01", NULL);
    expect_sql(f, "{ things(where: {uid: {eq: "
               "\"5b6e8c5e-5f27-4d52-9f0b-9f3b4d0c0a01\"}}) { id } }", NULL,
               FROM " WHERE ((\"data\"->>'uid')::uuid) = $1::uuid",
               "5b6e8c5e-5f27-4d52-9f0b-9f3b4d0c0a01", NULL);
    expect_sql(f, "{ things(where: {id: {eq: 5}}) { id } }", NULL,
               FROM " WHERE ((\"data\"->>'id')) = $1", "5", NULL);
}


static void
test_in_nin_isnull(void **state)
{
    fixture_t  *f = *state;

    expect_sql(f, "{ things(where: {name: {in: [\"a\", \"b\\\"c\", "
               "\"d\\\\e\"]}}) { id } }", NULL,
               FROM " WHERE (((\"data\"->>'name')) = ANY($1::text[]))",
               "{\"a\",\"b\\\"c\",\"d\\\\e\"}", NULL);
    expect_sql(f, "{ things(where: {score: {nin: [1, 2]}}) { id } }", NULL,
               FROM " WHERE NOT (((\"data\"->>'score')::numeric) = "
               "ANY($1::numeric[]))", "{\"1\",\"2\"}", NULL);
    expect_sql(f, "{ things(where: {score: {in: 3}}) { id } }", NULL,
               FROM " WHERE (((\"data\"->>'score')::numeric) = "
               "ANY($1::numeric[]))", "{\"3\"}", NULL);
    expect_sql(f, "{ things(where: {name: {in: []}}) { id } }", NULL,
               FROM " WHERE (((\"data\"->>'name')) = ANY($1::text[]))",
               "{}", NULL);
    expect_sql(f, "{ things(where: {name: {isnull: true}}) { id } }", NULL,
               FROM " WHERE ((((\"data\"->>'name')) IS NULL) = "
               "$1::boolean)", "true", NULL);
    expect_sql(f, "{ things(where: {name: {isnull: false}}) { id } }", NULL,
               FROM " WHERE ((((\"data\"->>'name')) IS NULL) = "
               "$1::boolean)", "false", NULL);
}


static void
test_string_operators(void **state)
{
    fixture_t  *f = *state;

#define NAME  "((\"data\"->>'name'))"

    expect_sql(f, "{ things(where: {name: {contains: \"a%b_c\\\\d\"}}) "
               "{ id } }", NULL, FROM " WHERE " NAME " LIKE $1",
               "%a\\%b\\_c\\\\d%", NULL);
    expect_sql(f, "{ things(where: {name: {icontains: \"x\"}}) { id } }",
               NULL, FROM " WHERE " NAME " ILIKE $1", "%x%", NULL);
    expect_sql(f, "{ things(where: {name: {startswith: \"x\"}}) { id } }",
               NULL, FROM " WHERE " NAME " LIKE $1", "x%", NULL);
    expect_sql(f, "{ things(where: {name: {istartswith: \"x\"}}) { id } }",
               NULL, FROM " WHERE " NAME " ILIKE $1", "x%", NULL);
    expect_sql(f, "{ things(where: {name: {endswith: \"x\"}}) { id } }",
               NULL, FROM " WHERE " NAME " LIKE $1", "%x", NULL);
    expect_sql(f, "{ things(where: {name: {iendswith: \"_\"}}) { id } }",
               NULL, FROM " WHERE " NAME " ILIKE $1", "%\\_", NULL);
    expect_sql(f, "{ things(where: {name: {like: \"a%\"}}) { id } }",
               NULL, FROM " WHERE " NAME " LIKE $1", "a%", NULL);
    expect_sql(f, "{ things(where: {name: {ilike: \"a_\"}}) { id } }",
               NULL, FROM " WHERE " NAME " ILIKE $1", "a_", NULL);
    expect_sql(f, "{ things(where: {name: {matches: \"^a\"}}) { id } }",
               NULL, FROM " WHERE " NAME " ~ $1", "^a", NULL);
    expect_sql(f, "{ things(where: {name: {imatches: \"^a\"}}) { id } }",
               NULL, FROM " WHERE " NAME " ~* $1", "^a", NULL);
    expect_sql(f, "{ things(where: {name: {not_matches: \"^a\"}}) "
               "{ id } }", NULL, FROM " WHERE " NAME " !~ $1", "^a", NULL);
    expect_sql(f, "{ things(where: {name: {notin: [\"a\"]}}) { id } }",
               NULL, FROM " WHERE NOT (" NAME " = ANY($1::text[]))",
               "{\"a\"}", NULL);
    expect_sql(f, "{ things(where: {status: {contains: \"x\"}}) { id } }",
               NULL, FROM " WHERE \"status\" LIKE $1", "%x%", NULL);

#undef NAME

    /* string operators are for strings only */
    expect_error(f, "{ things(where: {score: {contains: 1}}) { id } }", NULL,
                 "\"contains\" is not defined by type \"IntFilter\"");
    expect_error(f, "{ things(where: {uid: {like: \"x\"}}) { id } }", NULL,
                 "\"like\" is not defined by type \"UUIDFilter\"");
    expect_error(f, "{ things(where: {code: {matches: \"A\"}}) { id } }",
                 NULL, "\"matches\" is not defined by type \"CodeFilter\"");
}


static void
test_columns(void **state)
{
    fixture_t  *f = *state;

    expect_sql(f, "{ things(where: {status: {eq: \"on\"}}) { id } }", NULL,
               FROM " WHERE \"status\" = $1", "on", NULL);
    expect_sql(f, "{ things(where: {status: {in: [\"a\"]}}) { id } }", NULL,
               FROM " WHERE (\"status\" = ANY($1::text[]))", "{\"a\"}",
               NULL);
    expect_sql(f, "{ things(where: {tenantId: {eq: "
               "\"5b6e8c5e-5f27-4d52-9f0b-9f3b4d0c0a01\"}},"
               " orderBy: [{tenantId: DESC}]) { id } }", NULL,
               FROM " WHERE \"tenant\" = $1 ORDER BY \"tenant\" DESC",
               "5b6e8c5e-5f27-4d52-9f0b-9f3b4d0c0a01", NULL);
}


static void
test_logic(void **state)
{
    fixture_t  *f = *state;

    expect_sql(f, "{ things(where: {OR: [{score: {eq: 1}}, "
               "{name: {eq: \"x\"}}], NOT: {flag: {eq: false}}}) { id } }",
               NULL,
               FROM " WHERE ((((\"data\"->>'score')::numeric) = "
               "$1::numeric) OR (((\"data\"->>'name')) = $2)) AND NOT "
               "(((\"data\"->>'flag')::boolean) = $3::boolean)",
               "1", "x", "false", NULL);
    expect_sql(f, "{ things(where: {AND: [{score: {eq: 1}}, {}]}) { id } }",
               NULL,
               FROM " WHERE ((((\"data\"->>'score')::numeric) = "
               "$1::numeric) AND (TRUE))", "1", NULL);
    expect_sql(f, "{ things(where: {OR: [], name: null, score: "
               "{eq: null}}) { id } }", NULL, FROM, NULL);
}


static void
test_order(void **state)
{
    expect_sql(*state, "{ things(orderBy: [{score: DESC}, {name: ASC}]) "
               "{ id } }", NULL,
               FROM " ORDER BY ((\"data\"->>'score')::numeric) DESC, "
               "((\"data\"->>'name')) ASC", NULL);
    expect_sql(*state, "{ things(orderBy: {when: ASC}) { id } }", NULL,
               FROM " ORDER BY ((\"data\"->>'when')::timestamptz) ASC",
               NULL);
}


static void
test_variables(void **state)
{
    fixture_t  *f = *state;

    expect_sql(f, "query ($w: ThingWhereInput, $n: Int = 3) "
               "{ things(where: $w, limit: $n) { id } }",
               "{\"w\": {\"name\": {\"in\": \"solo\"}}}",
               FROM " WHERE (((\"data\"->>'name')) = ANY($1::text[]))"
               " LIMIT $2::bigint", "{\"solo\"}", "3", NULL);
    expect_sql(f, "query ($n: Int) { things(limit: $n) { id } }",
               "{\"n\": 1.0}", FROM " LIMIT $1::bigint", "1", NULL);
    expect_sql(f, "query ($n: Int) { things(limit: $n) { id } }", "{}",
               FROM, NULL);
}


static void
test_projection(void **state)
{
    fql_errors_t      errs;
    fql_root_plan_t  *rp;
    fql_proj_t       *p;

    rp = compile(*state, "{ things { x: id author { lastName __typename } "
                 "...F ... on Thing { name } id } } "
                 "fragment F on Thing { tags name }", NULL, &errs);
    assert_non_null(rp);

    p = rp->proj;
    assert_int_equal(p->nfields, 5);
    assert_true(fql_str_eqz(p->fields[0].out_key, "x"));
    assert_true(fql_str_eqz(p->fields[0].json_key, "id"));
    assert_int_equal(p->fields[0].scalar, FQL_SCALAR_ID);
    assert_int_equal(p->fields[0].non_null_mask, 1);
    assert_true(fql_str_eqz(p->fields[1].out_key, "author"));
    assert_int_equal(p->fields[1].kind, FQL_PF_OBJECT);
    assert_true(fql_str_eqz(p->fields[1].sub->fields[0].json_key,
                            "last_name"));
    assert_int_equal(p->fields[1].sub->fields[1].kind, FQL_PF_TYPENAME);
    assert_true(fql_str_eqz(p->fields[1].sub->type_name, "Author"));
    assert_true(fql_str_eqz(p->fields[2].out_key, "tags"));
    assert_int_equal(p->fields[2].list_depth, 1);
    assert_int_equal(p->fields[2].non_null_mask, 2);
    assert_true(fql_str_eqz(p->fields[3].out_key, "name"));
    assert_true(fql_str_eqz(p->fields[4].out_key, "id"));
}


static void
test_errors(void **state)
{
    fixture_t  *f = *state;

    expect_error(f, "{ nope }", NULL, "Cannot query field \"nope\"");
    expect_error(f, "{ things { nope } }", NULL,
                 "Cannot query field \"nope\" on type \"Thing\"");
    expect_error(f, "{ things }", NULL, "must have a selection");
    expect_error(f, "{ things { id { a } } }", NULL, "must not have");
    expect_error(f, "{ things(where: {score: {eq: \"x\"}}) { id } }", NULL,
                 "Expected value of type \"Int\"");
    expect_error(f, "{ things(where: {score: {eq: 2147483648}}) { id } }",
                 NULL, "32-bit");
    expect_error(f, "{ things(where: {flag: {lt: true}}) { id } }", NULL,
                 "\"lt\" is not defined by type \"BooleanFilter\"");
    expect_error(f, "{ things(where: {uid: {eq: \"nope\"}}) { id } }", NULL,
                 "a UUID");
    expect_error(f, "{ things(where: {day: {eq: \"2024-1-1\"}}) { id } }",
                 NULL, "a date");
    expect_error(f, "{ things(where: {author: {eq: 1}}) { id } }", NULL,
                 "\"author\" is not defined");
    expect_error(f, "{ thing { id } }", NULL, "is required");
    expect_error(f, "{ thing(id: null) { id } }", NULL, "null");
    expect_error(f, "query ($x: Int) { things(limit: $x) { id } }",
                 "{\"x\": \"1\"}", "Int cannot represent");
    expect_error(f, "query ($x: Code) { things(where: {code: {eq: $x}})"
                 " { id } }", "{\"x\": \"Z\"}", "not a value of the enum");
    expect_error(f, "query ($x: ThingWhereInput) { things(where: $x) "
                 "{ id } }", "{\"x\": {\"zz\": 1}}",
                 "\"zz\" is not defined");
    expect_error(f, "query ($x: Int) { __typename }", NULL,
                 "Variable \"$x\" is never used.");
    expect_error(f, "query ($x: Int) { thing(id: $x) { id } }", NULL,
                 "of type \"Int\" used in position expecting type "
                 "\"ID!\"");
    expect_error(f, "{ things { id @skip(if: true) @skip(if: false) } }",
                 NULL, "can only be used once");
    expect_error(f, "query @skip(if: true) { __typename }", NULL,
                 "may not be used on QUERY");
    expect_error(f, "{ a: things(limit: 1) { id } a: things(limit: 2) "
                 "{ id } }", NULL, "differing arguments");
    expect_error(f, "{ things { id } } fragment U on Thing { id }", NULL,
                 "Fragment \"U\" is never used.");
    expect_error(f, "query A { __typename } { __typename }", NULL,
                 "anonymous operation must be the only");
    expect_error(f, "query A { things { nope } } query B { __typename }",
                 NULL, "Cannot query field \"nope\"");
    expect_error(f, "{ things { nope @skip(if: true) } }", NULL,
                 "Cannot query field \"nope\"");
    expect_error(f, "query A { __typename } query A { __typename }", NULL,
                 "only one operation named \"A\"");
    expect_error(f, "{ things(limit: -2) { id } }", NULL, "negative");
    expect_error(f, "{ a: things { id } a: thing(id: 1) { id } }", NULL,
                 "conflict");
    expect_error(f, "{ things { ...A } } fragment A on Thing { ...B } "
                 "fragment B on Thing { ...A }", NULL, "within itself");
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

    schema_error("type Query { a: Nope }", "Unknown type \"Nope\"");
    schema_error("type Query { a: Int }", "must return an object type");
    schema_error("type T { a: Int } type Query { t: T }",
                 "bound to a view");
    schema_error("type T @view(name: \"v\") { a: Int } "
                 "type Query { t: T }", "exactly one argument");
    schema_error("type T @view(name: \"v\") { a: Int } "
                 "type Query { t(x: Int): [T] }", "not \"x\"");
    schema_error("type T @view(name: \"v\\\"x\") { a: Int } "
                 "type Query { t: [T] }", "not a valid SQL identifier");
    schema_error("type T @view { a: Int } type Query { t: [T] }",
                 "needs a name");
    schema_error("type T { a: Int a: Int } type Query { t: T }",
                 "only be defined once");
    schema_error("type T { a: Int } type T { b: Int }",
                 "only one type named");
    schema_error("input TWhereInput { a: Int } "
                 "type T @view(name: \"v\") { a: Int } "
                 "type Query { t: [T] }", "is generated");
    schema_error("type Query { a: Int", "Expected");
    schema_error("type A { a: Int }", "no Query type");
    schema_error("query { a }", "type definitions only");
}


static void
test_snake_case(void **state)
{
    fql_arena_t  *a = fql_arena_heap_create();
    fql_str_t     in, out;

    (void) state;

#define SNAKE(from, to)                                                       \
    in.data = from; in.len = strlen(from);                                    \
    out = fql_snake_case(a, in);                                              \
    assert_string_equal(out.data, to)

    SNAKE("firstName", "first_name");
    SNAKE("ipAddressV4", "ip_address_v4");
    SNAKE("id", "id");
    SNAKE("_private", "_private");
    SNAKE("Name", "name");
    SNAKE("already_snake", "already_snake");

    fql_arena_heap_destroy(a);
}


int
main(void)
{
    const struct CMUnitTest  tests[] = {
        cmocka_unit_test(test_by_id),
        cmocka_unit_test(test_list_plain),
        cmocka_unit_test(test_operators_per_type),
        cmocka_unit_test(test_in_nin_isnull),
        cmocka_unit_test(test_string_operators),
        cmocka_unit_test(test_columns),
        cmocka_unit_test(test_logic),
        cmocka_unit_test(test_order),
        cmocka_unit_test(test_variables),
        cmocka_unit_test(test_projection),
        cmocka_unit_test(test_errors),
        cmocka_unit_test(test_schema_errors),
        cmocka_unit_test(test_snake_case),
    };

    return cmocka_run_group_tests(tests, setup, teardown);
}
