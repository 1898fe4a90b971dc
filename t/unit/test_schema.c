/*
 * The directives of a schema file (issue 14, items 6 and 7): unknown,
 * misplaced, repeated or ill-argued ones refused with their line and
 * column in graphql-js's words, declared ones kept; @json(key:) naming
 * the JSON key everywhere SQL and projections use it.
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
    "directive @owner(role: String!) on FIELD_DEFINITION | OBJECT\n"
    "directive @tag(name: String) repeatable on FIELD_DEFINITION\n"
    "type Address { zipCode: String @json(key: \"ZIP\") }\n"
    "type Legacy @view(name: \"v_legacy\") @owner(role: \"r\") {\n"
    "  id: ID!\n"
    "  email: String @json(key: \"e-Mail\")\n"
    "  fullName: String @json(key: \"it's \\\"odd\\\"\") @tag @tag\n"
    "  status: String @column @json(key: \"statusCode\")\n"
    "  kind: String @column(name: \"kind_col\") @json(key: \"Kind\")\n"
    "  address: Address @json(key: \"homeAddress\")\n"
    "  plain: Int\n"
    "}\n"
    "input LegacyInput { eMail: String @json(key: \"E_MAIL\")\n"
    "  firstName: String }\n"
    "type LegacySuccess { message: String legacy: Legacy }\n"
    "type LegacyError { message: String code: Int }\n"
    "union LegacyResult = LegacySuccess | LegacyError\n"
    "type Query {\n"
    "  legacies(where: LegacyWhereInput, orderBy: [LegacyOrderByInput!],\n"
    "           limit: Int, offset: Int): [Legacy!]!\n"
    "}\n"
    "type Mutation {\n"
    "  saveLegacy(input: LegacyInput!): LegacyResult\n"
    "    @function(name: \"fn_save_legacy\")\n"
    "}\n";


#include "fixture.h"


#define FROM  "SELECT \"data\" FROM \"v_legacy\""


static fql_root_plan_t *
compile(fixture_t *f, const char *query, const char *vars)
{
    fql_plan_t         *plan;
    fql_errors_t        errs;
    fql_request_t       req;
    fql_document_t     *doc;
    fql_parse_error_t   perr;

    fql_errors_init(&errs, f->arena);
    memset(&req, 0, sizeof(req));

    assert_int_equal(fql_parse_document(f->arena, query, strlen(query), NULL,
                                        &doc, &perr), 0);

    if (vars != NULL) {
        req.variables = fql_json_parse(f->arena, vars, strlen(vars), &errs);
        assert_non_null(req.variables);
    }

    if (fql_compile(f->arena, &f->eng, doc, &req, &plan, &errs) != 0) {
        fail_msg("%s: %s", query, errs.head ? errs.head->message : "?");
    }

    return plan->roots;
}


static void
expect_sql(fixture_t *f, const char *query, const char *sql,
    const char *param)
{
    fql_root_plan_t  *rp;

    rp = compile(f, query, NULL);

    assert_string_equal(rp->sql, sql);

    if (param == NULL) {
        assert_int_equal(rp->nparams, 0);
        return;
    }

    assert_int_equal(rp->nparams, 1);
    assert_string_equal(rp->params[0], param);
}


/* the file, line and column of the first error, and its message */
static void
schema_error_at(int line, const char *text, unsigned eline,
    unsigned ecolumn, const char *message)
{
    fql_arena_t        *a;
    fql_schema_t       *s;
    fql_parse_error_t   err;

    a = fql_arena_heap_create();

    if (fql_schema_build(a, text, strlen(text), &s, &err) != -1) {
        fail_msg("line %d: schema accepted", line);
    }

    if (strcmp(err.message, message) != 0
        || err.loc.line != eline || err.loc.column != ecolumn)
    {
        fail_msg("line %d: got %u:%u: %s", line, err.loc.line,
                 err.loc.column, err.message);
    }

    fql_arena_heap_destroy(a);
}

#define schema_error(text, l, c, message)                                    \
    schema_error_at(__LINE__, text, l, c, message)


static int
schema_ok(const char *text)
{
    int                 rc;
    fql_arena_t        *a;
    fql_schema_t       *s;
    fql_parse_error_t   err;

    a = fql_arena_heap_create();

    rc = fql_schema_build(a, text, strlen(text), &s, &err);
    if (rc != 0) {
        print_error("%u:%u: %s\n", err.loc.line, err.loc.column,
                    err.message);
    }

    fql_arena_heap_destroy(a);

    return rc;
}


#define Q  "type Query { a: [T] }\n"
#define T  "type T @view(name: \"v\") { id: ID! "


static void
test_unknown_directives(void **state)
{
    (void) state;

    schema_error(Q T "a: Int @colum }", 2, 42,
                 "Unknown directive \"@colum\".");
    schema_error(Q "type T @veiw(name: \"v\") { a: Int }", 2, 8,
                 "Unknown directive \"@veiw\".");
    schema_error(Q T "a(x: Int @nope): Int }", 2, 44,
                 "Unknown directive \"@nope\".");
    schema_error(Q T "a: Int }\nenum E { A\n  B @nope }", 4, 5,
                 "Unknown directive \"@nope\".");
    schema_error(Q T "a: Int }\ninput I { x: Int @nope }", 3, 18,
                 "Unknown directive \"@nope\".");
    schema_error(Q T "a: Int }\nscalar S @nope", 3, 10,
                 "Unknown directive \"@nope\".");
    schema_error(Q T "a: Int }\nschema @nope { query: Query }", 3, 8,
                 "Unknown directive \"@nope\".");
    schema_error(Q T "a: Int }\nunion U @nope = T", 3, 9,
                 "Unknown directive \"@nope\".");
    schema_error(Q T "a: Int }\nextend type T @nope", 3, 15,
                 "Unknown directive \"@nope\".");
    schema_error(Q T "a: Int }\ndirective @d(x: Int @nope) on FIELD", 3, 21,
                 "Unknown directive \"@nope\".");
    /* executable directives are not for a schema file either */
    schema_error(Q T "a: Int @skip(if: true) }", 2, 42,
                 "Directive \"@skip\" may not be used on FIELD_DEFINITION.");
}


static void
test_declared_directives(void **state)
{
    fixture_t            *f = *state;
    unsigned              n;
    fql_directive_def_t  *d;

    /* declared anywhere in the file, before or after its use */
    assert_int_equal(schema_ok(Q T "a: Int @x }\n"
                               "directive @x on FIELD_DEFINITION"), 0);
    assert_int_equal(schema_ok(Q T "a: Int @x(n: 1) @x }\n"
                               "directive @x(n: Int) repeatable on "
                               "FIELD_DEFINITION"), 0);
    /* the module's own may be declared for tools, and are then its own */
    assert_int_equal(schema_ok("directive @view(name: String!, "
                               "schema: String) on OBJECT\n" Q T "a: Int }"),
                     0);

    schema_error(Q T "a: Int @x }\ndirective @x on OBJECT", 2, 42,
                 "Directive \"@x\" may not be used on FIELD_DEFINITION.");
    schema_error(Q T "a: Int @x(m: 1) }\ndirective @x(n: Int) on "
                 "FIELD_DEFINITION", 2, 45,
                 "Unknown argument \"m\" on directive \"@x\". Did you mean "
                 "\"n\"?");
    schema_error(Q T "a: Int @x(n: 1, n: 2) }\ndirective @x(n: Int) on "
                 "FIELD_DEFINITION", 2, 51,
                 "There can be only one argument named \"n\".");
    schema_error(Q T "a: Int @x }\ndirective @x(n: Int!) on "
                 "FIELD_DEFINITION", 2, 42,
                 "Directive \"@x\" argument \"n\" of type \"Int!\" is "
                 "required, but it was not provided.");
    assert_int_equal(schema_ok(Q T "a: Int @x }\ndirective @x(n: Int! = 1)"
                               " on FIELD_DEFINITION"), 0);

    /* introspection lists the declared ones with the built-in ones */
    n = 0;

    for (d = f->schema->directives; d; d = d->next) {
        if (fql_str_eqz(d->name, "owner")) {
            assert_false(d->builtin);
            assert_true(fql_str_eqz(d->locations->name,
                                    "FIELD_DEFINITION"));
            assert_true(fql_str_eqz(d->locations->next->name, "OBJECT"));
        }

        n += fql_str_eqz(d->name, "json") || fql_str_eqz(d->name, "owner")
             || fql_str_eqz(d->name, "tag") || fql_str_eqz(d->name, "view");
    }

    assert_int_equal(n, 4);
}


static void
test_misplaced_and_repeated(void **state)
{
    (void) state;

    schema_error(Q T "a: Int @view(name: \"v\") }", 2, 42,
                 "Directive \"@view\" may not be used on FIELD_DEFINITION.");
    schema_error(Q "type T @column { a: Int }", 2, 8,
                 "Directive \"@column\" may not be used on OBJECT.");
    schema_error(Q T "a(x: Int @json(key: \"k\")): Int }", 2, 44,
                 "Directive \"@json\" may not be used on "
                 "ARGUMENT_DEFINITION.");
    schema_error(Q T "a: Int @column @column }", 2, 50,
                 "The directive \"@column\" can only be used once at this "
                 "location.");
    schema_error(Q T "a: Int @deprecated @deprecated }", 2, 54,
                 "The directive \"@deprecated\" can only be used once at "
                 "this location.");
    schema_error(Q T "a: Int }\nextend type T @view(name: \"w\")", 3, 15,
                 "The directive \"@view\" can only be used once at this "
                 "location.");
    schema_error(Q T "a: Int @column(nme: \"c\") }", 2, 50,
                 "Unknown argument \"nme\" on directive \"@column\". Did "
                 "you mean \"name\"?");
    schema_error(Q T "a: Int @json }", 2, 42,
                 "Directive \"@json\" argument \"key\" of type \"String!\" "
                 "is required, but it was not provided.");
    schema_error(Q "type T @view(schema: \"s\") { a: Int }", 2, 8,
                 "Directive \"@view\" argument \"name\" of type \"String!\" "
                 "is required, but it was not provided.");
}


static void
test_json_key_values(void **state)
{
    (void) state;

    schema_error(Q T "a: Int @json(key: \"\") }", 2, 53,
                 "@json(key:) must be a non-empty string");
    schema_error(Q T "a: Int @json(key: 5) }", 2, 53,
                 "@json(key:) must be a non-empty string");
    schema_error(Q T "a: Int @json(key: \"a\\\\b\") }", 2, 53,
                 "@json(key:) must not hold a control character or a "
                 "backslash");
    schema_error(Q T "a: Int @json(key: \"a\\nb\") }", 2, 53,
                 "@json(key:) must not hold a control character or a "
                 "backslash");
    schema_error(Q T "a: Int @column @json(key: \"a\\\"b\") }", 2, 42,
                 "@column on \"a\" needs a name: its JSON key is not a "
                 "valid SQL identifier");
    assert_int_equal(schema_ok(Q T "a: Int @column(name: \"a\") "
                               "@json(key: \"a\\\"b\") }"), 0);
}


/* the JSON key in filters, orderings, nested paths and columns */
static void
test_json_key_sql(void **state)
{
    fixture_t  *f = *state;

    expect_sql(f, "{ legacies(where: {email: {eq: \"x\"}}) { id } }",
               FROM " WHERE ((\"data\"->>'e-Mail')) = $1", "x");
    expect_sql(f, "{ legacies(orderBy: [{fullName: DESC}]) { id } }",
               FROM " ORDER BY ((\"data\"->>'it''s \"odd\"')) DESC", NULL);
    expect_sql(f, "{ legacies(where: {address: {zipCode: {eq: \"1\"}}}) "
               "{ id } }",
               FROM " WHERE (((\"data\"->'homeAddress'->>'ZIP')) = $1)",
               "1");
    expect_sql(f, "{ legacies(orderBy: [{address: {zipCode: ASC}}]) "
               "{ id } }",
               FROM " ORDER BY ((\"data\"->'homeAddress'->>'ZIP')) ASC",
               NULL);
    /* @column: its name, else the JSON key */
    expect_sql(f, "{ legacies(where: {status: {eq: \"on\"}}) { id } }",
               FROM " WHERE \"statusCode\" = $1", "on");
    expect_sql(f, "{ legacies(where: {kind: {eq: \"k\"}}) { id } }",
               FROM " WHERE \"kind_col\" = $1", "k");
    expect_sql(f, "{ legacies(where: {plain: {eq: 1}}) { id } }",
               FROM " WHERE ((\"data\"->>'plain')::numeric) = $1::numeric",
               "1");
}


/* the keys the row transform reads, and a mutation's input JSON */
static void
test_json_key_projection_and_input(void **state)
{
    fixture_t         *f = *state;
    unsigned           i;
    fql_root_plan_t   *rp;
    fql_proj_field_t  *pf;

    rp = compile(f, "{ legacies { email fullName plain address { zipCode }"
                 " } }", NULL);

    pf = rp->proj->fields;
    assert_int_equal(rp->proj->nfields, 4);

    for (i = 0; i < rp->proj->nfields; i++) {
        assert_non_null(pf[i].json_key.data);
    }

    assert_true(fql_str_eqz(pf[0].json_key, "e-Mail"));
    assert_true(fql_str_eqz(pf[1].json_key, "it's \"odd\""));
    assert_true(fql_str_eqz(pf[2].json_key, "plain"));
    assert_true(fql_str_eqz(pf[3].json_key, "homeAddress"));

    rp = compile(f, "mutation ($i: LegacyInput!) { saveLegacy(input: $i) "
                 "{ __typename } }",
                 "{\"i\": {\"eMail\": \"a@b\", \"firstName\": \"A\"}}");

    assert_int_equal(rp->nparams, 1);
    assert_string_equal(rp->params[0],
                        "{\"E_MAIL\":\"a@b\",\"first_name\":\"A\"}");
}


int
main(void)
{
    const struct CMUnitTest  tests[] = {
        cmocka_unit_test(test_unknown_directives),
        cmocka_unit_test(test_declared_directives),
        cmocka_unit_test(test_misplaced_and_repeated),
        cmocka_unit_test(test_json_key_values),
        cmocka_unit_test(test_json_key_sql),
        cmocka_unit_test(test_json_key_projection_and_input),
    };

    return cmocka_run_group_tests(tests, setup, teardown);
}
