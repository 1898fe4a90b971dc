/*
 * Mutations: the schema's rules, the statement and its JSON input, the
 * status taxonomy and the shaping of a function's row.
 */

#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "fql_mutation.h"
#include "fql_transform.h"


static const char  sdl[] =
    "type User @view(name: \"v_user\") { id: ID! firstName: String }\n"
    "input Extra { sourceUrl: String tries: [Int!] }\n"
    "input CreateUserInput { firstName: String! extraInfo: Extra\n"
    "  list: [Extra!] }\n"
    "type FieldError { field: String message: String }\n"
    "type CreateUserSuccess { message: String user: User\n"
    "  updatedFields: [String] }\n"
    "type CreateUserError { message: String code: Int identifier: String\n"
    "  errors: [FieldError] }\n"
    "union CreateUserResult = CreateUserSuccess | CreateUserError\n"
    "type Query { user(id: ID!): User }\n"
    "type Mutation {\n"
    "  createUser(input: CreateUserInput!): CreateUserResult\n"
    "    @function(name: \"fn_create_user\", schema: \"app\")\n"
    "  plain(input: CreateUserInput!): CreateUserResult!\n"
    "    @function(name: \"fn_plain\")\n"
    "  updateUser(input: CreateUserInput!): User\n"
    "    @function(name: \"fn_update_user\", schema: \"app\")\n"
    "  note(input: CreateUserInput!): FieldError @function(name: \"fn_n\")\n"
    "}\n";


#include "fixture.h"


static fql_plan_t *
compile(fixture_t *f, const char *q, const char *vars, fql_errors_t *errs)
{
    fql_plan_t         *plan;
    fql_engine_t        eng;
    fql_request_t       req;
    fql_document_t     *doc;
    fql_parse_error_t   perr;

    fql_errors_init(errs, f->arena);
    eng = f->eng;
    memset(&req, 0, sizeof(req));

    assert_int_equal(fql_parse_document(f->arena, q, strlen(q), NULL, &doc,
                                        &perr), 0);

    if (vars != NULL) {
        req.variables = fql_json_parse(f->arena, vars, strlen(vars), errs);
    }

    if (fql_compile(f->arena, &eng, doc, &req, &plan, errs) != 0) {
        return NULL;
    }

    return plan;
}


static void
test_statement_and_input(void **state)
{
    fixture_t     *f = *state;
    fql_plan_t    *p;
    fql_errors_t   errs;

    p = compile(f, "mutation ($i: CreateUserInput!) { a: createUser(input: "
                "$i) { __typename } b: plain(input: {firstName: \"x'\\\"\", "
                "extraInfo: {sourceUrl: \"u\"}}) { __typename } }",
                "{\"i\": {\"firstName\": \"Ada\", \"extraInfo\": "
                "{\"tries\": [1, 2], \"sourceUrl\": null}, \"list\": "
                "[{\"sourceUrl\": \"s\"}]}}", &errs);

    if (p == NULL) {
        fail_msg("%s", errs.head->message);
    }

    assert_int_equal(p->op, FQL_OP_MUTATION);
    assert_int_equal(p->roots->kind, FQL_RF_MUTATION);
    assert_string_equal(p->roots->sql, "SELECT to_jsonb(r) FROM \"app\"."
                        "\"fn_create_user\"($1::jsonb) AS r");
    assert_int_equal(p->roots->nparams, 1);
    assert_string_equal(p->roots->params[0],
                        "{\"first_name\":\"Ada\",\"extra_info\":{\"tries\":"
                        "[1,2],\"source_url\":null},\"list\":[{\"source_url\""
                        ":\"s\"}]}");
    assert_true(fql_str_eqz(p->roots->entity_key, "user"));
    /* the input variable is a slot, the literal input a literal */
    assert_false(p->uncacheable);
    assert_int_equal(p->roots->slots[0].kind, FQL_SLOT_INPUT);
    assert_int_equal(p->roots->next->slots[0].kind, FQL_SLOT_LITERAL);

    assert_string_equal(p->roots->next->sql, "SELECT to_jsonb(r) FROM "
                        "\"fn_plain\"($1::jsonb) AS r");
    assert_string_equal(p->roots->next->params[0],
                        "{\"first_name\":\"x'\\\"\",\"extra_info\":"
                        "{\"source_url\":\"u\"}}");
    assert_true(p->roots->next->non_null);
}


static void
test_coercion_before_sql(void **state)
{
    fixture_t     *f = *state;
    fql_errors_t   errs;

    assert_null(compile(f, "mutation { createUser(input: {}) { __typename } "
                        "}", NULL, &errs));
    assert_non_null(strstr(errs.head->message, "firstName"));

    assert_null(compile(f, "mutation ($i: CreateUserInput!) { createUser("
                        "input: $i) { __typename } }",
                        "{\"i\": {\"firstName\": 1}}", &errs));
    assert_non_null(strstr(errs.head->message, "String cannot represent"));
}


#define Q                                                                     \
    "type V @view(name: \"v\") { id: ID! } type Query { v(id: ID!): V }\n"

static void
test_schema_rules(void **state)
{
    unsigned            i;
    fql_arena_t        *a;
    fql_schema_t       *s;
    fql_parse_error_t   err;
    static const struct {
        const char  *sdl;
        const char  *message;
    } cases[] = {
        { Q "input I { a: Int }\n"
          "type S { m: String } type E { code: Int } union R = S | E\n"
          "type Mutation { m(input: I!): R }", "needs @function" },
        { Q "input I { a: Int }\n"
          "type S { m: String } type E { code: Int } union R = S | E\n"
          "type Mutation { m(input: I): R @function(name: \"f\") }",
          "exactly one argument" },
        { Q "input I { a: Int }\n"
          "type S { m: String }\n"
          "type Mutation { m(input: I!): S! @function(name: \"f\") }",
          "it must be nullable (\"S\", not \"S!\")" },
        { Q "input I { a: Int }\n"
          "type S { m: String }\n"
          "type Mutation { m(input: I!): [S] @function(name: \"f\") }",
          "must return an object type (e.g. User) or a union" },
        { Q "input I { a: Int }\n"
          "type Mutation { m(input: I!): String @function(name: \"f\") }",
          "must return an object type (e.g. User) or a union" },
        { Q "input I { a: Int }\n"
          "interface N { m: String }\n"
          "type Mutation { m(input: I!): N @function(name: \"f\") }",
          "must return an object type (e.g. User) or a union" },
        { Q "input I { a: Int }\n"
          "type Mutation { m(input: I!): I @function(name: \"f\") }",
          "must be an output type" },
        { Q "input I { a: Int }\n"
          "type S { m: String } type T { n: Int } union R = S | T\n"
          "type Mutation { m(input: I!): R @function(name: \"f\") }",
          "must be the Error type" },
        { Q "input I { a: Int }\n"
          "type S { m: String } type E { code: Int } union R = S | E\n"
          "type Mutation { m(input: I!): R @function(name: \"f\\\"\") }",
          "not a valid SQL identifier" },
    };

    (void) state;

    for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        a = fql_arena_heap_create();
        assert_int_equal(fql_schema_build(a, cases[i].sdl,
                                          strlen(cases[i].sdl), &s, &err),
                         -1);
        if (strstr(err.message, cases[i].message) == NULL) {
            fail_msg("case %u: %s", i, err.message);
        }
        fql_arena_heap_destroy(a);
    }
}


static void
test_status_taxonomy(void **state)
{
    int        code;
    unsigned   i;
    fql_str_t  id, st;
    static const struct {
        const char  *status;
        int          success;
        int          code;
        const char  *identifier;
    } cases[] = {
        { "success", 1, 200, NULL }, { "created", 1, 200, NULL },
        { "new", 1, 200, NULL }, { "updated", 1, 200, NULL },
        { "deleted", 1, 200, NULL }, { "completed", 1, 200, NULL },
        { "OK", 1, 200, NULL }, { "created:user", 1, 200, "user" },
        { "validation:email", 0, 422, "email" },
        { "noop:same", 0, 422, "same" },
        { "not_found:user", 0, 404, "user" },
        { "conflict:x:y", 0, 409, "x:y" },
        { "unauthorized", 0, 401, NULL }, { "forbidden:r", 0, 403, "r" },
        { "timeout:", 0, 408, NULL }, { "failed:io", 0, 500, "io" },
        { "weird", 0, 500, "weird" }, { "", 0, 500, "" },
    };

    (void) state;

    for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        st.data = cases[i].status;
        st.len = strlen(cases[i].status);

        assert_int_equal(fql_mutation_status(st, &code, &id),
                         cases[i].success);
        assert_int_equal(code, cases[i].code);

        if (cases[i].identifier == NULL) {
            assert_null(id.data);
        } else {
            assert_int_equal(id.len, strlen(cases[i].identifier));
            assert_memory_equal(id.data, cases[i].identifier, id.len);
        }
    }
}


/* the row shaped, then projected by the chosen member's projection */
static void
expect_row(fixture_t *f, const fql_root_plan_t *rp, const char *row,
    const char *want)
{
    fql_heapbuf_t      hb, out;
    const fql_proj_t  *proj;

    fql_heapbuf_init(&hb);
    fql_heapbuf_init(&out);

    assert_int_equal(fql_mutation_row(rp, f->arena, row, strlen(row), &proj,
                                      &hb), 0);
    assert_int_equal(fql_transform_row(proj, hb.data, fql_heapbuf_len(&hb),
                                       &out.w, NULL, NULL, NULL), 0);
    assert_int_equal(fql_heapbuf_len(&out), strlen(want));
    assert_memory_equal(out.data, want, strlen(want));

    fql_heapbuf_free(&hb);
    fql_heapbuf_free(&out);
}


static void
test_rows(void **state)
{
    fixture_t         *f = *state;
    fql_plan_t        *p;
    fql_errors_t       errs;
    fql_heapbuf_t      hb;
    const fql_proj_t  *proj;

    p = compile(f, "mutation { createUser(input: {firstName: \"a\"}) { "
                "__typename ... on CreateUserSuccess { message user { id "
                "firstName } updatedFields } ... on CreateUserError { "
                "message code identifier errors { field message } } } }",
                NULL, &errs);
    assert_non_null(p);

    expect_row(f, p->roots,
               "{\"status\": \"created\", \"message\": \"ok\", \"entity\": "
               "{\"id\": 7, \"first_name\": \"A\"}, \"updated_fields\": "
               "[\"first_name\"], \"metadata\": null}",
               "{\"__typename\":\"CreateUserSuccess\",\"message\":\"ok\","
               "\"user\":{\"id\":\"7\",\"firstName\":\"A\"},"
               "\"updatedFields\":[\"first_name\"]}");

    expect_row(f, p->roots,
               "{\"status\": \"validation:first_name\", \"message\": \"m\", "
               "\"entity\": null, \"code\": \"spoofed\", \"metadata\": "
               "{\"errors\": [{\"field\": \"first_name\", \"message\": "
               "\"empty\"}]}}",
               "{\"__typename\":\"CreateUserError\",\"message\":\"m\","
               "\"code\":422,\"identifier\":\"first_name\",\"errors\":"
               "[{\"field\":\"first_name\",\"message\":\"empty\"}]}");

    expect_row(f, p->roots, "{\"status\": \"not_found\", \"message\": null}",
               "{\"__typename\":\"CreateUserError\",\"message\":null,"
               "\"code\":404,\"identifier\":null,\"errors\":[]}");

    /* plain JSON: the object is the entity */
    expect_row(f, p->roots, "{\"id\": 3, \"first_name\": \"P\"}",
               "{\"__typename\":\"CreateUserSuccess\",\"message\":null,"
               "\"user\":{\"id\":\"3\",\"firstName\":\"P\"},"
               "\"updatedFields\":null}");

    /* a NULL composite or status: it did not do what it was asked */
    expect_row(f, p->roots, "{\"status\": null, \"entity\": null}",
               "{\"__typename\":\"CreateUserError\",\"message\":null,"
               "\"code\":500,\"identifier\":null,\"errors\":[]}");
    expect_row(f, p->roots, "{\"status\": 7, \"message\": \"m\"}",
               "{\"__typename\":\"CreateUserError\",\"message\":\"m\","
               "\"code\":500,\"identifier\":null,\"errors\":[]}");

    fql_heapbuf_init(&hb);
    assert_int_equal(fql_mutation_row(p->roots, f->arena, "[1]", 3, &proj,
                                      &hb), -1);
    assert_int_equal(fql_mutation_row(p->roots, f->arena, "{\"a\"", 4,
                                      &proj, &hb), -1);
    fql_heapbuf_free(&hb);
}


static void
test_error_codes(void **state)
{
    int          code;
    unsigned     i;
    fql_str_t    id, st;
    const char  *name;
    static const struct {
        const char  *status;
        const char  *name;
    } cases[] = {
        { "created", NULL }, { "updated:name", NULL }, { "OK", NULL },
        { "validation:email", "VALIDATION" }, { "noop:same", "NOOP" },
        { "not_found:user", "NOT_FOUND" }, { "NOT_FOUND", "NOT_FOUND" },
        { "conflict:email_taken", "CONFLICT" },
        { "unauthorized", "UNAUTHORIZED" }, { "forbidden:r", "FORBIDDEN" },
        { "timeout:lock", "TIMEOUT" }, { "failed:io", "FAILED" },
        /* a status nobody knows is a failure, as for the union */
        { "gone:away", "FAILED" }, { "", "FAILED" },
    };

    (void) state;

    for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        st.data = cases[i].status;
        st.len = strlen(cases[i].status);

        assert_int_equal(fql_mutation_class(st, &code, &id, &name),
                         cases[i].name == NULL);

        if (cases[i].name == NULL) {
            assert_null(name);
        } else {
            assert_string_equal(name, cases[i].name);
        }
    }
}


/* a direct mutation's row: the object projected, or the error's code */
static void
expect_object(fixture_t *f, const fql_root_plan_t *rp, const char *row,
    const char *code, const char *want)
{
    fql_heapbuf_t          hb, out;
    fql_mutation_result_t  res;

    fql_heapbuf_init(&hb);
    fql_heapbuf_init(&out);

    assert_int_equal(fql_mutation_object(f->arena, row,
                                         row ? strlen(row) : 0, &res, &hb),
                     0);

    if (code != NULL) {
        /* an error: its message, nothing to project */
        assert_non_null(res.code);
        assert_string_equal(res.code, code);
        assert_int_equal(res.message.len, strlen(want));
        assert_memory_equal(res.message.data, want, res.message.len);
        assert_int_equal(fql_heapbuf_len(&hb), 0);

    } else if (want == NULL) {
        /* a success without an entity: null */
        assert_null(res.code);
        assert_int_equal(fql_heapbuf_len(&hb), 0);

    } else {
        assert_null(res.code);
        assert_int_equal(fql_transform_row(rp->proj, hb.data,
                                           fql_heapbuf_len(&hb), &out.w,
                                           NULL, NULL, NULL), 0);
        assert_int_equal(fql_heapbuf_len(&out), strlen(want));
        assert_memory_equal(out.data, want, strlen(want));
    }

    fql_heapbuf_free(&hb);
    fql_heapbuf_free(&out);
}


static void
test_direct_object(void **state)
{
    fixture_t         *f = *state;
    fql_plan_t        *p;
    fql_errors_t       errs;
    fql_heapbuf_t      hb;
    fql_root_plan_t   *rp;
    fql_mutation_result_t  res;

    p = compile(f, "mutation { u: updateUser(input: {firstName: \"a\"}) { "
                "__typename id firstName } n: note(input: {firstName: "
                "\"b\"}) { field } }", NULL, &errs);
    assert_non_null(p);

    rp = p->roots;
    assert_int_equal(rp->kind, FQL_RF_MUTATION);
    assert_true(rp->direct);
    assert_false(rp->non_null);
    assert_null(rp->proj_error);
    assert_string_equal(rp->sql, "SELECT to_jsonb(r) FROM \"app\"."
                        "\"fn_update_user\"($1::jsonb) AS r");
    assert_string_equal(rp->params[0], "{\"first_name\":\"a\"}");

    /* any object type the schema knows, @view or not */
    assert_true(rp->next->direct);

    /* a success: the entity, projected as a view's data */
    expect_object(f, rp,
                  "{\"status\": \"updated\", \"message\": \"ok\", "
                  "\"entity\": {\"id\": 7, \"first_name\": \"A\", "
                  "\"secret\": 1}, \"updated_fields\": [\"first_name\"]}",
                  NULL,
                  "{\"__typename\":\"User\",\"id\":\"7\","
                  "\"firstName\":\"A\"}");

    /* plain JSON: the object is the entity */
    expect_object(f, rp, "{\"id\": 3, \"first_name\": \"P\"}", NULL,
                  "{\"__typename\":\"User\",\"id\":\"3\","
                  "\"firstName\":\"P\"}");

    /* a success without an entity (a delete): null, no error */
    expect_object(f, rp, "{\"status\": \"deleted\", \"entity\": null}",
                  NULL, NULL);
    expect_object(f, rp, "{\"status\": \"ok\"}", NULL, NULL);

    /* errors: the taxonomy's code and the function's message */
    expect_object(f, rp,
                  "{\"status\": \"not_found:user\", \"message\": "
                  "\"No user 7\", \"entity\": {\"id\": 7}}",
                  "NOT_FOUND", "No user 7");
    expect_object(f, rp, "{\"status\": \"conflict:email\", \"message\": "
                  "\"Taken\"}", "CONFLICT", "Taken");
    expect_object(f, rp, "{\"status\": \"validation:age\", \"message\": "
                  "\"Too old\"}", "VALIDATION", "Too old");
    expect_object(f, rp, "{\"status\": \"noop:same\", \"message\": "
                  "\"Same\"}", "NOOP", "Same");

    /* without a message, the status says what failed */
    expect_object(f, rp, "{\"status\": \"forbidden:role\", \"message\": "
                  "null}", "FORBIDDEN", "forbidden:role");
    expect_object(f, rp, "{\"status\": \"gone\", \"message\": \"\"}",
                  "FAILED", "gone");
    expect_object(f, rp, "{\"status\": \"\"}", "FAILED",
                  "The mutation's function answered an empty status");

    /* SQL NULL, a NULL or non-string status: an internal error */
    expect_object(f, rp, NULL, "INTERNAL_SERVER_ERROR",
                  "The mutation's function answered NULL");
    expect_object(f, rp, "{\"status\": null, \"message\": \"m\"}",
                  "INTERNAL_SERVER_ERROR",
                  "The mutation's function answered no status");
    expect_object(f, rp, "{\"status\": 7}", "INTERNAL_SERVER_ERROR",
                  "The mutation's function answered no status");

    /* not an object, or an entity that is not one */
    fql_heapbuf_init(&hb);
    assert_int_equal(fql_mutation_object(f->arena, "[1]", 3, &res, &hb), -1);
    assert_int_equal(fql_mutation_object(f->arena, "{\"a\"", 4, &res, &hb),
                     -1);
    assert_int_equal(fql_mutation_object(f->arena, "{\"status\": \"ok\", "
                                         "\"entity\": 5}", 29, &res, &hb),
                     -1);
    fql_heapbuf_free(&hb);
}


static void
test_direct_coercion_before_sql(void **state)
{
    fixture_t     *f = *state;
    fql_errors_t   errs;

    assert_null(compile(f, "mutation { updateUser(input: {}) { id } }", NULL,
                        &errs));
    assert_non_null(strstr(errs.head->message, "firstName"));

    /* an object: a selection is required, Error fragments do not apply */
    assert_null(compile(f, "mutation { updateUser(input: {firstName: "
                        "\"a\"}) }", NULL, &errs));
    assert_non_null(strstr(errs.head->message, "selection of subfields"));
}


int
main(void)
{
    const struct CMUnitTest  tests[] = {
        cmocka_unit_test(test_statement_and_input),
        cmocka_unit_test(test_coercion_before_sql),
        cmocka_unit_test(test_schema_rules),
        cmocka_unit_test(test_status_taxonomy),
        cmocka_unit_test(test_rows),
        cmocka_unit_test(test_error_codes),
        cmocka_unit_test(test_direct_object),
        cmocka_unit_test(test_direct_coercion_before_sql),
    };

    return cmocka_run_group_tests(tests, setup, teardown);
}
