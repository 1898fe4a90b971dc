/*
 * Unit tests of the row transform and the JSON writer.
 */

#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>
#include <yajl/yajl_tree.h>

#include "fql_transform.h"
#include "fql_jscan.h"


#define SCALAR(out, key, sc, depth, mask)                                    \
    { FQL_PF_SCALAR, fql_str_lit(out), fql_str_lit(key), depth, mask, sc,    \
      NULL }
#define OBJECT(out, key, sub, depth, mask)                                   \
    { FQL_PF_OBJECT, fql_str_lit(out), fql_str_lit(key), depth, mask,        \
      FQL_SCALAR_STRING, sub }
#define TYPENAME(out)                                                        \
    { FQL_PF_TYPENAME, fql_str_lit(out), { NULL, 0 }, 0, 0,                  \
      FQL_SCALAR_STRING, NULL }
#define PROJ(name, fields)                                                   \
    { fql_str_lit(name), fields, sizeof(fields) / sizeof(fields[0]) }

#define S(out, sc)        SCALAR(out, out, sc, 0, 0)
#define STR(out, key)     SCALAR(out, key, FQL_SCALAR_STRING, 0, 0)
#define NN                1u


typedef struct {
    char  text[8192];       /* "path: message\n" per error */
    int   n;
    int   fail_at;          /* 1-based error that returns -1; 0: none */
} errs_t;


static int
on_error(void *ctx, const fql_path_t *path, const char *message)
{
    const fql_path_t  *nodes[64];
    errs_t            *e = ctx;
    char               line[1024];
    size_t             len, have;
    int                n, i;

    for (n = 0; path && n < 64; path = path->parent) {
        nodes[n++] = path;
    }

    len = 0;

    for (i = n - 1; i >= 0 && len < sizeof(line); i--) {
        if (nodes[i]->index < 0) {
            len += snprintf(line + len, sizeof(line) - len, "%s%.*s",
                            i == n - 1 ? "" : ".", (int) nodes[i]->key.len,
                            nodes[i]->key.data);

        } else {
            len += snprintf(line + len, sizeof(line) - len, "%s%ld",
                            i == n - 1 ? "" : ".", nodes[i]->index);
        }
    }

    if (len < sizeof(line)) {
        snprintf(line + len, sizeof(line) - len, ": %s\n", message);
    }

    /* kept while there is room: the deep tests only count */
    have = strlen(e->text);

    if (have + strlen(line) < sizeof(e->text)) {
        memcpy(e->text + have, line, strlen(line) + 1);
    }

    return ++e->n == e->fail_at ? -1 : 0;
}


static void
assert_valid_json(const char *s, size_t len)
{
    yajl_val   v;
    char      *z, err[256];

    z = malloc(len + 1);
    assert_non_null(z);
    memcpy(z, s, len);
    z[len] = '\0';

    v = yajl_tree_parse(z, err, sizeof(err));
    if (v == NULL) {
        fail_msg("invalid JSON output: %s (%s)", z, err);
    }

    yajl_tree_free(v);
    free(z);
}


/* transforms json with path root "u" / 0; output NUL-terminated */
static int
run_len(const fql_proj_t *proj, const char *json, size_t len, char **out,
    errs_t *e)
{
    fql_heapbuf_t  hb;
    fql_path_t     root, row;
    size_t         n;
    int            rc;

    root.parent = NULL;
    root.key.data = "u";
    root.key.len = 1;
    root.index = -1;

    row.parent = &root;
    row.key.data = NULL;
    row.key.len = 0;
    row.index = 0;

    fql_heapbuf_init(&hb);

    rc = fql_transform_row(proj, json, len, &hb.w, &row,
                           e ? on_error : NULL, e);

    n = fql_heapbuf_len(&hb);
    *out = malloc(n + 1);
    assert_non_null(*out);

    if (n) {
        memcpy(*out, hb.data, n);
    }

    (*out)[n] = '\0';

    fql_heapbuf_free(&hb);

    return rc;
}


static int
run(const fql_proj_t *proj, const char *json, char **out, errs_t *e)
{
    return run_len(proj, json, strlen(json), out, e);
}


#define check(proj, json, expected, errors)                                  \
    check_at(__LINE__, proj, json, expected, errors)

static void
check_at(int line, const fql_proj_t *proj, const char *json,
    const char *expected, const char *errors)
{
    errs_t   e;
    char    *out;
    int      rc;

    memset(&e, 0, sizeof(e));

    rc = run(proj, json, &out, &e);

    if (rc != 0) {
        fail_msg("line %d: rc %d for %s", line, rc, json);
    }

    if (strcmp(out, expected) != 0) {
        fail_msg("line %d:\n  got      %s\n  expected %s", line, out,
                 expected);
    }

    if (strcmp(e.text, errors ? errors : "") != 0) {
        fail_msg("line %d: errors:\n%s  expected:\n%s", line, e.text,
                 errors ? errors : "");
    }

    assert_valid_json(out, strlen(out));
    free(out);
}


#define check_invalid(proj, json, len)                                       \
    check_invalid_at(__LINE__, proj, json, len)

static void
check_invalid_at(int line, const fql_proj_t *proj, const char *json,
    size_t len)
{
    errs_t   e;
    char    *out;
    int      rc;

    memset(&e, 0, sizeof(e));

    rc = run_len(proj, json, len, &out, &e);

    if (rc != -1 || out[0] != '\0' || e.n != 0) {
        fail_msg("line %d: rc %d, output '%s' for invalid '%.*s'", line, rc,
                 out, (int) len, json);
    }

    free(out);
}


/* one field "v" of the given coercion, the row {"v": value} */
#define coerce(sc, value, expected, error)                                   \
    coerce_at(__LINE__, sc, 0, 0, value, expected, error)

static void
coerce_at(int line, fql_scalar_t sc, unsigned depth, unsigned mask,
    const char *value, const char *expected, const char *error)
{
    fql_proj_field_t  fields[1] = { SCALAR("v", "v", sc, 0, 0) };
    fql_proj_t        proj = PROJ("T", fields);
    char              json[1024], want[1024], errors[1024];
    errs_t            e;
    char             *out;
    int               rc;

    fields[0].list_depth = depth;
    fields[0].non_null_mask = mask;

    snprintf(json, sizeof(json), "{\"v\": %s}", value);
    snprintf(want, sizeof(want), "{\"v\":%s}", expected);

    /* an error starting with '.' names a path under the field */

    if (error && error[0] == '.') {
        snprintf(errors, sizeof(errors), "u.0.v%s\n", error);

    } else if (error) {
        snprintf(errors, sizeof(errors), "u.0.v: %s\n", error);

    } else {
        errors[0] = '\0';
    }

    memset(&e, 0, sizeof(e));
    rc = run(&proj, json, &out, &e);

    if (rc != 0 || strcmp(out, want) != 0 || strcmp(e.text, errors) != 0) {
        fail_msg("line %d: %s -> rc %d %s [%s], expected %s [%s]", line,
                 value, rc, out, e.text, want, errors);
    }

    assert_valid_json(out, strlen(out));
    free(out);
}


/*
 * Projection.
 */


static fql_proj_field_t  author_fields[] = {
    TYPENAME("__typename"),
    S("id", FQL_SCALAR_ID),
    SCALAR("name", "name", FQL_SCALAR_STRING, 0, NN),
};

static fql_proj_t  author_proj = PROJ("Author", author_fields);

static const char  user_row[] =
    "{\"id\": 1, \"age\": 34, \"tags\": [\"x\", \"y\"], \"email\": "
    "\"a@example.com\", \"score\": 87.5, \"author\": {\"id\": 7, \"name\": "
    "\"Bob\", \"extra\": [1, {\"k\": null}]}, \"is_active\": true, "
    "\"last_name\": \"Smith\", \"created_at\": \"2024-01-15T10:30:00+00:00\", "
    "\"first_name\": \"Alice\"}";


static void
test_order_and_aliases(void **state)
{
    fql_proj_field_t  fields[] = {
        STR("firstName", "first_name"),
        S("id", FQL_SCALAR_INT),
        STR("mail", "email"),
        STR("lastName", "last_name"),
        STR("also", "first_name"),
        SCALAR("active", "is_active", FQL_SCALAR_BOOLEAN, 0, 0),
    };
    fql_proj_t        proj = PROJ("User", fields);

    (void) state;

    check(&proj, user_row,
          "{\"firstName\":\"Alice\",\"id\":1,\"mail\":\"a@example.com\","
          "\"lastName\":\"Smith\",\"also\":\"Alice\",\"active\":true}",
          NULL);
}


static void
test_missing_and_null(void **state)
{
    fql_proj_field_t  fields[] = {
        STR("a", "a"),
        STR("missing", "missing"),
        S("n", FQL_SCALAR_INT),
        OBJECT("o", "o", &author_proj, 0, 0),
        SCALAR("l", "l", FQL_SCALAR_INT, 1, 0),
    };
    fql_proj_t        proj = PROJ("T", fields);

    (void) state;

    check(&proj, "{\"a\": \"x\", \"n\": null, \"o\": null, \"l\": null}",
          "{\"a\":\"x\",\"missing\":null,\"n\":null,\"o\":null,\"l\":null}",
          NULL);

    check(&proj, "{}",
          "{\"a\":null,\"missing\":null,\"n\":null,\"o\":null,\"l\":null}",
          NULL);
}


static void
test_non_null(void **state)
{
    fql_proj_field_t  fields[] = {
        SCALAR("name", "name", FQL_SCALAR_STRING, 0, NN),
        SCALAR("age", "age", FQL_SCALAR_INT, 0, NN),
        OBJECT("author", "author", &author_proj, 0, NN),
    };
    fql_proj_t        proj = PROJ("User", fields);

    (void) state;

    check(&proj, "{\"age\": null}",
          "{\"name\":null,\"age\":null,\"author\":null}",
          "u.0.name: Cannot return null for non-nullable field User.name.\n"
          "u.0.age: Cannot return null for non-nullable field User.age.\n"
          "u.0.author: Cannot return null for non-nullable field "
          "User.author.\n");

    /* the nested object's own non-null field */
    check(&proj, "{\"name\": \"n\", \"age\": 1, \"author\": {\"id\": 2}}",
          "{\"name\":\"n\",\"age\":1,\"author\":{\"__typename\":\"Author\","
          "\"id\":\"2\",\"name\":null}}",
          "u.0.author.name: Cannot return null for non-nullable field "
          "Author.name.\n");
}


static void
test_nested_objects(void **state)
{
    fql_proj_field_t  inner[] = {
        TYPENAME("t"),
        STR("c", "c"),
    };
    fql_proj_t        inner_proj = PROJ("Inner", inner);
    fql_proj_field_t  mid[] = {
        OBJECT("inner", "b", &inner_proj, 0, 0),
        STR("x", "x"),
    };
    fql_proj_t        mid_proj = PROJ("Mid", mid);
    fql_proj_field_t  fields[] = {
        OBJECT("author", "author", &author_proj, 0, 0),
        OBJECT("a", "a", &mid_proj, 0, 0),
        OBJECT("a2", "a", &author_proj, 0, 0),
    };
    fql_proj_t        proj = PROJ("T", fields);

    (void) state;

    check(&proj,
          "{\"a\": {\"x\": \"1\", \"b\": {\"c\": \"deep\", \"d\": [1]}, "
          "\"id\": \"q\", \"name\": \"r\"}, \"author\": {\"name\": \"Bob\", "
          "\"id\": 7}}",
          "{\"author\":{\"__typename\":\"Author\",\"id\":\"7\","
          "\"name\":\"Bob\"},\"a\":{\"inner\":{\"t\":\"Inner\","
          "\"c\":\"deep\"},\"x\":\"1\"},\"a2\":{\"__typename\":\"Author\","
          "\"id\":\"q\",\"name\":\"r\"}}",
          NULL);

    /* wrong types where objects are expected */
    check(&proj, "{\"author\": \"Bob\", \"a\": [1], \"a2\": 5}",
          "{\"author\":null,\"a\":null,\"a2\":null}",
          "u.0.author: Expected an object, found: \"Bob\"\n"
          "u.0.a: Expected an object, found: [1]\n"
          "u.0.a2: Expected an object, found: [1]\n");

    /* an empty nested object */
    check(&proj, "{\"a\": {}, \"author\": {}}",
          "{\"author\":{\"__typename\":\"Author\",\"id\":null,\"name\":null},"
          "\"a\":{\"inner\":null,\"x\":null},"
          "\"a2\":{\"__typename\":\"Author\",\"id\":null,\"name\":null}}",
          "u.0.author.name: Cannot return null for non-nullable field "
          "Author.name.\n"
          "u.0.a2.name: Cannot return null for non-nullable field "
          "Author.name.\n");
}


static void
test_list_of_objects(void **state)
{
    fql_proj_field_t  post[] = {
        TYPENAME("__typename"),
        SCALAR("title", "title", FQL_SCALAR_STRING, 0, NN),
    };
    fql_proj_t        post_proj = PROJ("Post", post);
    fql_proj_field_t  fields[] = {
        OBJECT("posts", "posts", &post_proj, 1, 0),
        OBJECT("strict", "posts", &post_proj, 1, 1u | 2u),
    };
    fql_proj_t        proj = PROJ("User", fields);

    (void) state;

    check(&proj,
          "{\"posts\": [{\"title\": \"a\", \"body\": \"..\"}, null, "
          "{\"body\": \"c\"}]}",
          "{\"posts\":[{\"__typename\":\"Post\",\"title\":\"a\"},null,"
          "{\"__typename\":\"Post\",\"title\":null}],"
          "\"strict\":[{\"__typename\":\"Post\",\"title\":\"a\"},null,"
          "{\"__typename\":\"Post\",\"title\":null}]}",
          "u.0.posts.2.title: Cannot return null for non-nullable field "
          "Post.title.\n"
          "u.0.strict.1: Cannot return null for non-nullable field "
          "User.strict.\n"
          "u.0.strict.2.title: Cannot return null for non-nullable field "
          "Post.title.\n");

    check(&proj, "{\"posts\": []}", "{\"posts\":[],\"strict\":[]}", NULL);

    check(&proj, "{\"posts\": {\"title\": \"a\"}}",
          "{\"posts\":null,\"strict\":null}",
          "u.0.posts: Expected Iterable, but did not find one for field "
          "User.posts.\n"
          "u.0.strict: Expected Iterable, but did not find one for field "
          "User.strict.\n");

    check(&proj, "{\"posts\": [1, \"x\", []]}",
          "{\"posts\":[null,null,null],\"strict\":[null,null,null]}",
          "u.0.posts.0: Expected an object, found: 1\n"
          "u.0.posts.1: Expected an object, found: \"x\"\n"
          "u.0.posts.2: Expected an object, found: []\n"
          "u.0.strict.0: Expected an object, found: 1\n"
          "u.0.strict.1: Expected an object, found: \"x\"\n"
          "u.0.strict.2: Expected an object, found: []\n");
}


static void
test_list_of_lists(void **state)
{
    fql_proj_field_t  cell[] = {
        S("v", FQL_SCALAR_INT),
    };
    fql_proj_t        cell_proj = PROJ("Cell", cell);
    fql_proj_field_t  fields[] = {
        SCALAR("m", "m", FQL_SCALAR_INT, 2, 4u),
        OBJECT("g", "g", &cell_proj, 2, 2u),
        SCALAR("s", "s", FQL_SCALAR_STRING, 3, 0),
    };
    fql_proj_t        proj = PROJ("T", fields);

    (void) state;

    check(&proj,
          "{\"m\": [[1, 2], [], null, [3, null, \"4\"]], "
          "\"g\": [[{\"v\": 1}], null, [null, {\"v\": 2.0}]], "
          "\"s\": [[[\"a\"], []], [[1, true]]]}",
          "{\"m\":[[1,2],[],null,[3,null,4]],"
          "\"g\":[[{\"v\":1}],null,[null,{\"v\":2}]],"
          "\"s\":[[[\"a\"],[]],[[\"1\",\"true\"]]]}",
          "u.0.m.3.1: Cannot return null for non-nullable field T.m.\n"
          "u.0.g.1: Cannot return null for non-nullable field T.g.\n");

    check(&proj, "{\"m\": [1, [2]], \"g\": [{\"v\": 1}], \"s\": [\"a\"]}",
          "{\"m\":[null,[2]],\"g\":[null],\"s\":[null]}",
          "u.0.m.0: Expected Iterable, but did not find one for field T.m.\n"
          "u.0.g.0: Expected Iterable, but did not find one for field T.g.\n"
          "u.0.s.0: Expected Iterable, but did not find one for field T.s.\n");
}


static void
test_scalar_lists(void **state)
{
    (void) state;

    coerce_at(__LINE__, FQL_SCALAR_STRING, 1, 0, "[\"x\", \"y\"]",
              "[\"x\",\"y\"]", NULL);
    coerce_at(__LINE__, FQL_SCALAR_INT, 1, 0, "[1, \"2\", true, 3.0]",
              "[1,2,1,3]", NULL);
    coerce_at(__LINE__, FQL_SCALAR_INT, 1, 0, "[1, 2.5]", "[1,null]",
              ".1: Int cannot represent non-integer value: 2.5");
    coerce_at(__LINE__, FQL_SCALAR_INT, 1, 2u, "[1, null]", "[1,null]",
              ".1: Cannot return null for non-nullable field T.v.");
    coerce_at(__LINE__, FQL_SCALAR_INT, 1, 1u, "null", "null",
              "Cannot return null for non-nullable field T.v.");
    coerce_at(__LINE__, FQL_SCALAR_JSON, 1, 0, "[{\"a\": 1}, [2, 3], null]",
              "[{\"a\":1},[2,3],null]", NULL);
    coerce_at(__LINE__, FQL_SCALAR_STRING, 1, 0, "\"x\"", "null",
              "Expected Iterable, but did not find one for field T.v.");
    coerce_at(__LINE__, FQL_SCALAR_BOOLEAN, 1, 0, "[ true , 0 ,1 ]",
              "[true,false,true]", NULL);
}


/*
 * Scalar coercion.
 */


static void
test_int(void **state)
{
    (void) state;

    coerce(FQL_SCALAR_INT, "0", "0", NULL);
    coerce(FQL_SCALAR_INT, "-0", "0", NULL);
    coerce(FQL_SCALAR_INT, "42", "42", NULL);
    coerce(FQL_SCALAR_INT, "-7", "-7", NULL);
    coerce(FQL_SCALAR_INT, "2147483647", "2147483647", NULL);
    coerce(FQL_SCALAR_INT, "-2147483648", "-2147483648", NULL);
    coerce(FQL_SCALAR_INT, "999999999", "999999999", NULL);
    coerce(FQL_SCALAR_INT, "1000000000", "1000000000", NULL);
    coerce(FQL_SCALAR_INT, "2147483648", "null",
           "Int cannot represent non 32-bit signed integer value: "
           "2147483648");
    coerce(FQL_SCALAR_INT, "-2147483649", "null",
           "Int cannot represent non 32-bit signed integer value: "
           "-2147483649");
    coerce(FQL_SCALAR_INT, "9999999999", "null",
           "Int cannot represent non 32-bit signed integer value: "
           "9999999999");
    coerce(FQL_SCALAR_INT, "123456789012345678901234567890", "null",
           "Int cannot represent non 32-bit signed integer value: "
           "123456789012345678901234567890");
    coerce(FQL_SCALAR_INT, "1e400", "null",
           "Int cannot represent non 32-bit signed integer value: 1e400");
    coerce(FQL_SCALAR_INT, "1e99999999999999999999", "null",
           "Int cannot represent non 32-bit signed integer value: "
           "1e99999999999999999999");
    coerce(FQL_SCALAR_INT, "1e2", "100", NULL);
    coerce(FQL_SCALAR_INT, "1E+2", "100", NULL);
    coerce(FQL_SCALAR_INT, "3.0", "3", NULL);
    coerce(FQL_SCALAR_INT, "-3.000", "-3", NULL);
    coerce(FQL_SCALAR_INT, "0.5e1", "5", NULL);
    coerce(FQL_SCALAR_INT, "100e-2", "1", NULL);
    coerce(FQL_SCALAR_INT, "-1.5e1", "-15", NULL);
    coerce(FQL_SCALAR_INT, "21474836.47e2", "2147483647", NULL);
    coerce(FQL_SCALAR_INT, "-0.0e10", "0", NULL);
    coerce(FQL_SCALAR_INT, "0e-5", "0", NULL);
    coerce(FQL_SCALAR_INT, "3.5", "null",
           "Int cannot represent non-integer value: 3.5");
    coerce(FQL_SCALAR_INT, "1e-2", "null",
           "Int cannot represent non-integer value: 1e-2");
    coerce(FQL_SCALAR_INT, "1.0000000000000000000001", "null",
           "Int cannot represent non-integer value: "
           "1.0000000000000000000001");
    coerce(FQL_SCALAR_INT, "\"12\"", "12", NULL);
    coerce(FQL_SCALAR_INT, "\"-0\"", "0", NULL);
    coerce(FQL_SCALAR_INT, "\"1e3\"", "1000", NULL);
    coerce(FQL_SCALAR_INT, "\"2147483648\"", "null",
           "Int cannot represent non 32-bit signed integer value: "
           "\"2147483648\"");
    coerce(FQL_SCALAR_INT, "\"1.5\"", "null",
           "Int cannot represent non-integer value: \"1.5\"");
    coerce(FQL_SCALAR_INT, "\"abc\"", "null",
           "Int cannot represent non-integer value: \"abc\"");
    coerce(FQL_SCALAR_INT, "\"\"", "null",
           "Int cannot represent non-integer value: \"\"");
    coerce(FQL_SCALAR_INT, "\" 1\"", "null",
           "Int cannot represent non-integer value: \" 1\"");
    coerce(FQL_SCALAR_INT, "true", "1", NULL);
    coerce(FQL_SCALAR_INT, "false", "0", NULL);
    coerce(FQL_SCALAR_INT, "{\"a\": 1}", "null",
           "Int cannot represent non-integer value: {\"a\": 1}");
    coerce(FQL_SCALAR_INT, "[1]", "null",
           "Int cannot represent non-integer value: [1]");
}


static void
test_float(void **state)
{
    (void) state;

    coerce(FQL_SCALAR_FLOAT, "3.5", "3.5", NULL);
    coerce(FQL_SCALAR_FLOAT, "-0", "-0", NULL);
    coerce(FQL_SCALAR_FLOAT, "10", "10", NULL);
    coerce(FQL_SCALAR_FLOAT, "1.25E-3", "1.25E-3", NULL);
    coerce(FQL_SCALAR_FLOAT, "1e-400", "1e-400", NULL);
    coerce(FQL_SCALAR_FLOAT, "1.7976931348623157e308",
           "1.7976931348623157e308", NULL);
    coerce(FQL_SCALAR_FLOAT, "0.00017976931348623157e312",
           "0.00017976931348623157e312", NULL);
    coerce(FQL_SCALAR_FLOAT, "1.8e308", "null",
           "Float cannot represent non numeric value: 1.8e308");
    coerce(FQL_SCALAR_FLOAT, "1e400", "null",
           "Float cannot represent non numeric value: 1e400");
    coerce(FQL_SCALAR_FLOAT, "\"2.5\"", "2.5", NULL);
    coerce(FQL_SCALAR_FLOAT, "true", "1", NULL);
    coerce(FQL_SCALAR_FLOAT, "false", "0", NULL);
    coerce(FQL_SCALAR_FLOAT, "\"x\"", "null",
           "Float cannot represent non numeric value: \"x\"");
    coerce(FQL_SCALAR_FLOAT, "{}", "null",
           "Float cannot represent non numeric value: {}");
}


static void
test_boolean(void **state)
{
    (void) state;

    coerce(FQL_SCALAR_BOOLEAN, "true", "true", NULL);
    coerce(FQL_SCALAR_BOOLEAN, "false", "false", NULL);
    coerce(FQL_SCALAR_BOOLEAN, "0", "false", NULL);
    coerce(FQL_SCALAR_BOOLEAN, "-0.0e5", "false", NULL);
    coerce(FQL_SCALAR_BOOLEAN, "2", "true", NULL);
    coerce(FQL_SCALAR_BOOLEAN, "-1", "true", NULL);
    coerce(FQL_SCALAR_BOOLEAN, "1e-300", "true", NULL);
    coerce(FQL_SCALAR_BOOLEAN, "\"true\"", "null",
           "Boolean cannot represent a non boolean value: \"true\"");
    coerce(FQL_SCALAR_BOOLEAN, "[]", "null",
           "Boolean cannot represent a non boolean value: []");
}


static void
test_id(void **state)
{
    (void) state;

    coerce(FQL_SCALAR_ID, "\"abc\"", "\"abc\"", NULL);
    coerce(FQL_SCALAR_ID, "\"5\"", "\"5\"", NULL);
    coerce(FQL_SCALAR_ID, "42", "\"42\"", NULL);
    coerce(FQL_SCALAR_ID, "-42", "\"-42\"", NULL);
    coerce(FQL_SCALAR_ID, "-0", "\"0\"", NULL);
    coerce(FQL_SCALAR_ID, "1e2", "\"100\"", NULL);
    coerce(FQL_SCALAR_ID, "9007199254740993", "\"9007199254740993\"", NULL);
    coerce(FQL_SCALAR_ID,
           "123456789012345678901234567890123456789012345678901234567890"
           "12345678901234567890",
           "\"123456789012345678901234567890123456789012345678901234567890"
           "12345678901234567890\"", NULL);
    coerce(FQL_SCALAR_ID, "1.5", "null", "ID cannot represent value: 1.5");
    coerce(FQL_SCALAR_ID, "1e100", "null",
           "ID cannot represent value: 1e100");
    coerce(FQL_SCALAR_ID, "true", "null", "ID cannot represent value: true");
    coerce(FQL_SCALAR_ID, "{}", "null", "ID cannot represent value: {}");
}


static void
test_strings(void **state)
{
    static const fql_scalar_t  kinds[] = {
        FQL_SCALAR_STRING, FQL_SCALAR_ENUM, FQL_SCALAR_DATETIME,
        FQL_SCALAR_DATE, FQL_SCALAR_UUID
    };
    static const char         *names[] = {
        "String", "Enum", "DateTime", "Date", "UUID"
    };

    char      msg[128];
    unsigned  i;

    (void) state;

    for (i = 0; i < 5; i++) {
        coerce_at(__LINE__, kinds[i], 0, 0, "\"x y\"", "\"x y\"", NULL);
        coerce_at(__LINE__, kinds[i], 0, 0, "5", "\"5\"", NULL);
        coerce_at(__LINE__, kinds[i], 0, 0, "-1.5e3", "\"-1.5e3\"", NULL);
        coerce_at(__LINE__, kinds[i], 0, 0, "true", "\"true\"", NULL);
        coerce_at(__LINE__, kinds[i], 0, 0, "false", "\"false\"", NULL);

        snprintf(msg, sizeof(msg), "%s cannot represent value: {}",
                 names[i]);
        coerce_at(__LINE__, kinds[i], 0, 0, "{}", "null", msg);

        snprintf(msg, sizeof(msg), "%s cannot represent value: [1, 2]",
                 names[i]);
        coerce_at(__LINE__, kinds[i], 0, 0, "[1, 2]", "null", msg);
    }

    coerce(FQL_SCALAR_UUID, "\"6f1c2a1e-8a53-4c1b-9a61-1f0a3b2c4d5e\"",
           "\"6f1c2a1e-8a53-4c1b-9a61-1f0a3b2c4d5e\"", NULL);
}


static void
test_json_scalar(void **state)
{
    (void) state;

    coerce(FQL_SCALAR_JSON, "{\"a\": [1, 2], \"b\": {\"c\": \"x y\", "
           "\"d\": \"q\\\" , \\\\\"}}",
           "{\"a\":[1,2],\"b\":{\"c\":\"x y\",\"d\":\"q\\\" , \\\\\"}}",
           NULL);
    coerce(FQL_SCALAR_JSON, "[ 1 ,\n\t2 , { } , [ ] ,\r\"a b\" ]",
           "[1,2,{},[],\"a b\"]", NULL);
    coerce(FQL_SCALAR_JSON, "\"  s  \"", "\"  s  \"", NULL);
    coerce(FQL_SCALAR_JSON, "-1.5e3", "-1.5e3", NULL);
    coerce(FQL_SCALAR_JSON, "true", "true", NULL);
    coerce(FQL_SCALAR_JSON, "{\"k\": null}", "{\"k\":null}", NULL);
    coerce(FQL_SCALAR_JSON, "null", "null", NULL);
}


/*
 * Text.
 */


static void
test_unicode_values(void **state)
{
    fql_proj_field_t  fields[] = {
        STR("a", "a"),
        STR("b", "b"),
        STR("c", "c"),
        STR("d", "d"),
    };
    fql_proj_t        proj = PROJ("T", fields);

    (void) state;

    /* copied as is: escapes, raw UTF-8 of 2, 3 and 4 bytes, DEL */
    check(&proj,
          "{\"a\": \"l\\u00e9a \\\"q\\\" \\\\ \\/ \\b\\f\\n\\r\\t\", "
          "\"b\": \"caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80\x7f\", "
          "\"c\": \"\\ud83d\\ude00\", \"d\": \"\\u0000\"}",
          "{\"a\":\"l\\u00e9a \\\"q\\\" \\\\ \\/ \\b\\f\\n\\r\\t\","
          "\"b\":\"caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80\x7f\","
          "\"c\":\"\\ud83d\\ude00\",\"d\":\"\\u0000\"}",
          NULL);
}


static void
test_escaped_keys(void **state)
{
    fql_proj_field_t  fields[] = {
        STR("name", "name"),
        STR("cafe", "caf\xc3\xa9"),
        STR("smile", "\xf0\x9f\x98\x80"),
        STR("quote", "a\"b"),
        STR("nl", "x\ny"),
        STR("plain", "caf\xc3\xa9s"),
    };
    fql_proj_t        proj = PROJ("T", fields);
    fql_proj_field_t  nested[] = {
        OBJECT("o", "o", &proj, 0, 0),
    };
    fql_proj_t        outer = PROJ("O", nested);

    (void) state;

    check(&proj,
          "{\"na\\u006De\": \"1\", \"caf\\u00e9\": \"2\", "
          "\"\\ud83d\\ude00\": \"3\", \"a\\\"b\": \"4\", \"x\\ny\": \"5\", "
          "\"caf\xc3\xa9s\": \"6\"}",
          "{\"name\":\"1\",\"cafe\":\"2\",\"smile\":\"3\",\"quote\":\"4\","
          "\"nl\":\"5\",\"plain\":\"6\"}",
          NULL);

    /* near misses */
    check(&proj,
          "{\"na\\\\me\": \"1\", \"caf\\u00e8\": \"2\", \"nam\\u0065s\": 3, "
          "\"a\\\\\\\"b\": \"4\", \"x\\ty\": 5, \"caf\\u00e9\\u0000\": 6}",
          "{\"name\":null,\"cafe\":null,\"smile\":null,\"quote\":null,"
          "\"nl\":null,\"plain\":null}",
          NULL);

    /* in a nested object, found by the trusted scan */
    check(&outer,
          "{\"o\": {\"na\\u006de\": \"1\", \"a\\\"b\": \"4\", "
          "\"\\ud83d\\ude00\": \"3\"}}",
          "{\"o\":{\"name\":\"1\",\"cafe\":null,\"smile\":\"3\","
          "\"quote\":\"4\",\"nl\":null,\"plain\":null}}",
          NULL);
}


static void
test_typename(void **state)
{
    fql_proj_field_t  only[] = {
        TYPENAME("__typename"),
    };
    fql_proj_t        only_proj = PROJ("Only", only);
    fql_proj_field_t  fields[] = {
        S("id", FQL_SCALAR_ID),
        TYPENAME("kind"),
        OBJECT("o", "o", &only_proj, 0, 0),
        OBJECT("l", "l", &only_proj, 1, 0),
        TYPENAME("__typename"),
    };
    fql_proj_t        proj = PROJ("User", fields);
    fql_proj_t        empty = { fql_str_lit("E"), NULL, 0 };

    (void) state;

    check(&proj, "{\"id\": \"1\", \"o\": {\"x\": 1}, \"l\": [{}, {}]}",
          "{\"id\":\"1\",\"kind\":\"User\",\"o\":{\"__typename\":\"Only\"},"
          "\"l\":[{\"__typename\":\"Only\"},{\"__typename\":\"Only\"}],"
          "\"__typename\":\"User\"}",
          NULL);

    check(&only_proj, "{\"__typename\": \"Other\"}",
          "{\"__typename\":\"Only\"}", NULL);

    check(&empty, "{\"a\": 1}", "{}", NULL);
}


static void
test_null_row(void **state)
{
    fql_proj_t  proj = PROJ("Author", author_fields);

    (void) state;

    check(&proj, "null", "null", NULL);
    check(&proj, " \n\tnull\r\n ", "null", NULL);
    check_invalid(&proj, "nul", 3);
    check_invalid(&proj, "null x", 6);
    check_invalid(&proj, "nullnull", 8);
    check_invalid(&proj, "null", 3);
}


static void
test_whitespace(void **state)
{
    fql_proj_field_t  fields[] = {
        S("a", FQL_SCALAR_INT),
        OBJECT("o", "o", &author_proj, 0, 0),
        SCALAR("l", "l", FQL_SCALAR_STRING, 1, 0),
    };
    fql_proj_t        proj = PROJ("T", fields);
    const char       *expected;

    (void) state;

    expected = "{\"a\":1,\"o\":{\"__typename\":\"Author\",\"id\":\"x\","
               "\"name\":\"y\"},\"l\":[\"p\",\"q\"]}";

    check(&proj,
          "{\"a\":1,\"o\":{\"id\":\"x\",\"name\":\"y\"},\"l\":[\"p\",\"q\"]}",
          expected, NULL);
    check(&proj,
          " \r\n{ \"a\" :\t1 ,\n \"o\" : { \"id\" : \"x\" , \"name\" :"
          " \"y\" } , \"l\" : [ \"p\" , \"q\" ] }\n ",
          expected, NULL);
}


static void
test_duplicate_keys(void **state)
{
    fql_proj_field_t  fields[] = {
        S("a", FQL_SCALAR_INT),
        OBJECT("o", "o", &author_proj, 0, 0),
    };
    fql_proj_t        proj = PROJ("T", fields);

    (void) state;

    /* jsonb has none; the first one wins */
    check(&proj,
          "{\"a\": 1, \"a\": 2, \"o\": {\"name\": \"x\", \"name\": \"y\"}}",
          "{\"a\":1,\"o\":{\"__typename\":\"Author\",\"id\":null,"
          "\"name\":\"x\"}}",
          NULL);
}


static void
test_many_fields(void **state)
{
    fql_proj_field_t   fields[80], sub_fields[40];
    fql_proj_t         proj, sub;
    static char        keys[80][8], outs[80][8];
    char               json[16384], expected[16384];
    size_t             jl, el;
    unsigned           i;

    (void) state;

    /* 70 fields: three windows, read in reverse order of the row */

    for (i = 0; i < 70; i++) {
        snprintf(keys[i], sizeof(keys[i]), "k%u", i);
        snprintf(outs[i], sizeof(outs[i]), "K%u", i);
    }

    for (i = 0; i < 70; i++) {
        memset(&fields[i], 0, sizeof(fields[i]));
        fields[i].kind = FQL_PF_SCALAR;
        fields[i].out_key.data = outs[i];
        fields[i].out_key.len = strlen(outs[i]);
        fields[i].json_key.data = keys[69 - i];
        fields[i].json_key.len = strlen(keys[69 - i]);
        fields[i].scalar = FQL_SCALAR_INT;
    }

    /* a nested proj of 40 fields, listed */
    for (i = 0; i < 40; i++) {
        sub_fields[i] = fields[i];
    }

    sub.type_name.data = "S";
    sub.type_name.len = 1;
    sub.fields = sub_fields;
    sub.nfields = 40;

    memset(&fields[70], 0, sizeof(fields[70]));
    fields[70].kind = FQL_PF_OBJECT;
    fields[70].out_key.data = "sub";
    fields[70].out_key.len = 3;
    fields[70].json_key.data = "sub";
    fields[70].json_key.len = 3;
    fields[70].list_depth = 1;
    fields[70].sub = &sub;

    proj.type_name.data = "T";
    proj.type_name.len = 1;
    proj.fields = fields;
    proj.nfields = 71;

    /* a row of 100 keys, k0..k99 */
    jl = snprintf(json, sizeof(json), "{");

    for (i = 0; i < 100; i++) {
        jl += snprintf(json + jl, sizeof(json) - jl, "\"k%u\": %u, ", i, i);
    }

    jl += snprintf(json + jl, sizeof(json) - jl, "\"sub\": [{");

    for (i = 0; i < 100; i++) {
        jl += snprintf(json + jl, sizeof(json) - jl, "%s\"k%u\": %u",
                       i ? ", " : "", i, i * 2);
    }

    snprintf(json + jl, sizeof(json) - jl, "}]}");

    el = snprintf(expected, sizeof(expected), "{");

    for (i = 0; i < 70; i++) {
        el += snprintf(expected + el, sizeof(expected) - el, "\"K%u\":%u,",
                       i, 69 - i);
    }

    el += snprintf(expected + el, sizeof(expected) - el, "\"sub\":[{");

    for (i = 0; i < 40; i++) {
        el += snprintf(expected + el, sizeof(expected) - el, "%s\"K%u\":%u",
                       i ? "," : "", i, (69 - i) * 2);
    }

    snprintf(expected + el, sizeof(expected) - el, "}]}");

    check(&proj, json, expected, NULL);
}


static void
test_many_keys(void **state)
{
    fql_proj_field_t  fields[] = {
        S("k5", FQL_SCALAR_INT),
        S("k2999", FQL_SCALAR_INT),
        S("k17", FQL_SCALAR_INT),
    };
    fql_proj_t        proj = PROJ("T", fields);
    char             *json;
    size_t            jl, cap;
    unsigned          i;

    (void) state;

    cap = 3000 * 32;
    json = malloc(cap);
    assert_non_null(json);

    jl = snprintf(json, cap, "{");

    for (i = 0; i < 3000; i++) {
        jl += snprintf(json + jl, cap - jl, "%s\"k%u\": %u", i ? ", " : "",
                       i, i);
    }

    snprintf(json + jl, cap - jl, "}");

    check(&proj, json, "{\"k5\":5,\"k2999\":2999,\"k17\":17}", NULL);

    free(json);
}


/*
 * Invalid rows: -1, nothing written, no errors reported.
 */


static void
test_invalid(void **state)
{
    static const char  *bad[] = {
        "", " ", "{", "}", "{\"a\"", "{\"a\":", "{\"a\":1", "{\"a\":1,",
        "{\"a\":1,}", "{,}", "{\"a\":1}x", "{\"a\":1}}", "{\"a\":1} {}",
        "[1]", "[]", "1", "\"s\"", "true", "{a:1}", "{'a':1}", "{\"a\" 1}",
        "{\"a\"::1}", "{\"a\":1 \"b\":2}", "{\"a\":01}", "{\"a\":1.}",
        "{\"a\":.5}", "{\"a\":-}", "{\"a\":1e}", "{\"a\":1e+}", "{\"a\":+1}",
        "{\"a\":0x1}", "{\"a\":NaN}", "{\"a\":Infinity}", "{\"a\":-Infinity}",
        "{\"a\":tru}", "{\"a\":nulls}", "{\"a\":True}", "{\"a\":[1,]}",
        "{\"a\":[1 2]}", "{\"a\":[,1]}", "{\"a\":{\"b\"}}",
        "{\"a\":{\"b\":1,}}", "{\"a\":[}", "{\"a\":[1}]}",
        "{\"a\":{\"b\":1]}", "{\"a\":\"x}", "{\"a\":\"\\x\"}",
        "{\"a\":\"\\u12\"}", "{\"a\":\"\\u12g4\"}", "{\"a\":\"\\\"}",
        "{\"a\":\"\\ud800\"}", "{\"a\":\"\\udc00\"}",
        "{\"a\":\"\\ud800\\u0041\"}", "{\"a\":\"\\ud800\\ud800\"}",
        "{\"a\":\"\\ud800x\"}", "{\"a\":\"\\U0041\"}", "{\"a\":\"\xff\"}",
        "{\"a\":\"\xc0\xaf\"}", "{\"a\":\"\xc1\xbf\"}",
        "{\"a\":\"\xe0\x80\xaf\"}", "{\"a\":\"\xed\xa0\x80\"}",
        "{\"a\":\"\xf0\x80\x80\xaf\"}", "{\"a\":\"\xf4\x90\x80\x80\"}",
        "{\"a\":\"\xf5\x80\x80\x80\"}", "{\"a\":\"\xe2\x82\"}",
        "{\"a\":\"\xe2\x82", "{\"a\":\"\x80\"}", "{\"a\":\"\x01\"}",
        "{\"a\":\"\t\"}", "{\"a\":\"\n\"}", "{\"\xff\":1}",
        "{\"a\":1,\"\\q\":2}", "\xef\xbb\xbf{}", "{\"a\":1}\x0b",
        "{\"a\":\f1}", "{\"z\":[1,{\"y\":\"\xc3\"}]}",
        "{\"a\": 1, \"unused\": {\"deep\": [1, 2, {\"x\": tru}]}}",
        "{\"a\": 1, \"unused\": \"\\ud83d\"}",
        "/* c */ {}", "{\"a\":1 // c\n}",
    };

    fql_proj_field_t  fields[] = {
        S("a", FQL_SCALAR_JSON),
        OBJECT("o", "o", &author_proj, 0, 0),
    };
    fql_proj_t        proj = PROJ("T", fields);
    unsigned          i;

    (void) state;

    for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        check_invalid_at(i, &proj, bad[i], strlen(bad[i]));
    }

    /* an embedded NUL */
    check_invalid(&proj, "{\"a\":\"x\0y\"}", 11);
    check_invalid(&proj, "{\"a\":1}\0", 8);
    check_invalid(&proj, "{\"a\":1\0}", 8);

    /* truncated at every length */
    for (i = 0; i < sizeof(user_row) - 2; i++) {
        check_invalid_at(1000 + i, &proj, user_row, i);
    }
}


static void
test_depth(void **state)
{
    fql_proj_field_t  fields[] = {
        S("a", FQL_SCALAR_JSON),
    };
    fql_proj_t        proj = PROJ("T", fields);
    char             *json, *expected, *out;
    size_t            n, i, k, size;
    errs_t            e;
    int               rc;

    (void) state;

    size = 6 * FQL_MAX_NESTING + 64;
    json = malloc(size);
    expected = malloc(size);
    assert_non_null(json);
    assert_non_null(expected);

    /* the row object plus arrays: FQL_MAX_NESTING containers, the limit */

    for (k = 0; k < 2; k++) {
        n = FQL_MAX_NESTING - 1 + k;

        memcpy(json, "{\"a\":", 5);
        memset(json + 5, '[', n);
        memset(json + 5 + n, ']', n);
        memcpy(json + 5 + 2 * n, "}", 2);

        memcpy(expected, "{\"a\":", 5);
        memset(expected + 5, '[', n);
        memset(expected + 5 + n, ']', n);
        memcpy(expected + 5 + 2 * n, "}", 2);

        if (k == 0) {
            check(&proj, json, expected, NULL);

        } else {
            check_invalid(&proj, json, strlen(json));
        }
    }

    /* objects too, in an unselected key: deep is fine, too deep is not */
    for (k = 0; k < 2; k++) {
        n = 0;
        n += snprintf(json, size, "{\"a\":1,\"b\":");

        for (i = 0; i < FQL_MAX_NESTING - 1 + k; i++) {
            n += snprintf(json + n, size - n, "{\"b\":");
        }

        json[n++] = '1';

        for (i = 0; i < FQL_MAX_NESTING + k; i++) {
            json[n++] = '}';
        }

        json[n] = '\0';

        if (k == 0) {
            check(&proj, json, "{\"a\":1}", NULL);

        } else {
            check_invalid(&proj, json, n);
        }
    }

    /* a very deep array of nothing but brackets */
    memset(&e, 0, sizeof(e));
    free(json);
    json = malloc(200001);
    assert_non_null(json);
    json[0] = '{';
    memcpy(json + 1, "\"a\":", 4);
    memset(json + 5, '[', 199996);
    rc = run_len(&proj, json, 200001, &out, &e);
    assert_int_equal(rc, -1);
    assert_string_equal(out, "");
    free(out);

    free(json);
    free(expected);
}


static fql_proj_t        node_proj;

static fql_proj_field_t  node_fields[] = {
    OBJECT("next", "n", &node_proj, 0, 0),
    OBJECT("all", "n", &node_proj, 1, 0),
    SCALAR("v", "v", FQL_SCALAR_INT, 0, NN),
};

static fql_proj_t        node_proj = PROJ("Node", node_fields);


static void
test_recursive_depth(void **state)
{
    errs_t     e;
    char      *json, *expected, *out;
    size_t     n, i, jl, el;
    int        rc;

    (void) state;

    /*
     * FQL_MAX_DEPTH nested objects through a cyclic projection: the
     * deepest the transform descends
     */

    n = FQL_MAX_DEPTH;
    json = malloc(n * 8 + 16);
    expected = malloc(n * 32 + 16);
    assert_non_null(json);
    assert_non_null(expected);

    jl = 0;
    el = 0;

    for (i = 0; i < n - 1; i++) {
        memcpy(json + jl, "{\"n\": ", 6);
        jl += 6;
        memcpy(expected + el, "{\"next\":", 8);
        el += 8;
    }

    memcpy(json + jl, "{\"v\": 1}", 8);
    jl += 8;
    memcpy(expected + el, "{\"next\":null,\"all\":null,\"v\":1}", 30);
    el += 30;

    for (i = 0; i < n - 1; i++) {
        json[jl++] = '}';
        memcpy(expected + el, ",\"all\":null,\"v\":null}", 21);
        el += 21;
    }

    json[jl] = '\0';
    expected[el] = '\0';

    memset(&e, 0, sizeof(e));
    rc = run(&node_proj, json, &out, &e);

    assert_int_equal(rc, 0);
    assert_string_equal(out, expected);

    /* at each outer level: "all" is no list, "v" is null */
    assert_int_equal(e.n, 2 * (FQL_MAX_DEPTH - 1));

    assert_valid_json(out, strlen(out));
    free(out);

    /* one more is too deep: refused, with part of it written */
    memmove(json + 6, json, jl + 1);
    memcpy(json, "{\"n\": ", 6);
    strcat(json, "}");
    memset(&e, 0, sizeof(e));
    rc = run(&node_proj, json, &out, &e);
    assert_int_equal(rc, -1);
    free(out);

    free(json);
    free(expected);
}


/* escapes and multibyte characters at every offset around 8-byte strides */
static void
test_string_positions(void **state)
{
    static const char  *good[] = {
        "\\\"", "\\\\", "\\u00e9", "\\ud83d\\ude00", "\xc3\xa9",
        "\xf0\x9f\x98\x80", "\x7f"
    };
    static const char  *bad[] = {
        "\x01", "\x1f", "\xff", "\xc3", "\xed\xa0\x80", "\\x", "\\u00g0",
        "\\ud83d"
    };

    fql_proj_field_t  sub[] = {
        S("id", FQL_SCALAR_ID),
    };
    fql_proj_t        sub_proj = PROJ("S", sub);
    fql_proj_field_t  fields[] = {
        S("a", FQL_SCALAR_STRING),
        OBJECT("o", "o", &sub_proj, 0, 0),
    };
    fql_proj_t        proj = PROJ("T", fields);
    char              str[64], json[512], want[512];
    size_t            len, pos, k, sl;

    (void) state;

    for (k = 0; k < sizeof(good) / sizeof(good[0]); k++) {
        sl = strlen(good[k]);

        for (len = sl; len < 26; len++) {
            for (pos = 0; pos + sl <= len; pos++) {
                memset(str, 'x', len);
                memcpy(str + pos, good[k], sl);
                str[len] = '\0';

                snprintf(json, sizeof(json), "{\"a\": \"%s\", \"o\": "
                         "{\"%s\": \"%s\", \"id\": \"%s\"}}", str, str, str,
                         str);
                snprintf(want, sizeof(want),
                         "{\"a\":\"%s\",\"o\":{\"id\":\"%s\"}}", str, str);

                check(&proj, json, want, NULL);
            }
        }
    }

    for (k = 0; k < sizeof(bad) / sizeof(bad[0]); k++) {
        sl = strlen(bad[k]);

        for (len = sl; len < 26; len++) {
            for (pos = 0; pos + sl <= len; pos++) {
                memset(str, 'x', len);
                memcpy(str + pos, bad[k], sl);
                str[len] = '\0';

                /* in a selected value, then in an unselected nested key */
                snprintf(json, sizeof(json), "{\"a\": \"%s\"}", str);
                check_invalid(&proj, json, strlen(json));

                snprintf(json, sizeof(json), "{\"o\": {\"%s\": 1}}", str);
                check_invalid(&proj, json, strlen(json));
            }
        }
    }
}


/*
 * Errors and writers.
 */


static void
test_error_callback(void **state)
{
    fql_proj_field_t  fields[] = {
        SCALAR("a", "a", FQL_SCALAR_INT, 0, NN),
        S("b", FQL_SCALAR_INT),
        S("c", FQL_SCALAR_INT),
    };
    fql_proj_t        proj = PROJ("T", fields);
    errs_t            e;
    char             *out;
    int               rc;

    (void) state;

    /* no callback: errors ignored, nulls written */
    rc = run(&proj, "{\"b\": 1.5, \"c\": 2}", &out, NULL);
    assert_int_equal(rc, 0);
    assert_string_equal(out, "{\"a\":null,\"b\":null,\"c\":2}");
    free(out);

    /* a callback that gives up aborts the row */
    memset(&e, 0, sizeof(e));
    e.fail_at = 2;
    rc = run(&proj, "{\"b\": 1.5, \"c\": \"x\"}", &out, &e);
    assert_int_equal(rc, -1);
    assert_int_equal(e.n, 2);

    free(out);
}


static void
test_error_message_cut(void **state)
{
    char  value[256], msg[256];

    (void) state;

    /* 77 'x' then a 3-byte character straddling the 80-byte cut */
    memset(value, 0, sizeof(value));
    value[0] = '"';
    memset(value + 1, 'x', 77);
    memcpy(value + 78, "\xe2\x82\xac\xe2\x82\xac\"", 7);

    snprintf(msg, sizeof(msg), "Int cannot represent non-integer value: "
             "\"%.77s...", value + 1);

    coerce_at(__LINE__, FQL_SCALAR_INT, 0, 0, value, "null", msg);

    /* the message quotes the value's text as it is in the row */
    coerce(FQL_SCALAR_ID, "{\"k\": [1, 2]}", "null",
           "ID cannot represent value: {\"k\": [1, 2]}");
}


typedef struct {
    fql_wbuf_t  w;
    char        buf[32];
    char        all[1024];
    size_t      total;
    size_t      limit;
} chunk_wbuf_t;


/* hands each 32-byte chunk off to `all`, fails past `limit` bytes */
static int
chunk_reserve(fql_wbuf_t *w, size_t need)
{
    chunk_wbuf_t  *c = (chunk_wbuf_t *) w;
    size_t         n;

    n = w->pos - c->buf;
    memcpy(c->all + c->total, c->buf, n);
    c->total += n;

    if (need > sizeof(c->buf) || c->total + need > c->limit) {
        return -1;
    }

    w->pos = c->buf;
    w->end = c->buf + sizeof(c->buf);

    return 0;
}


static void
test_wbuf_chunks(void **state)
{
    fql_proj_field_t  fields[] = {
        STR("firstName", "first_name"),
        OBJECT("author", "author", &author_proj, 0, 0),
        SCALAR("tags", "tags", FQL_SCALAR_STRING, 1, 0),
        S("score", FQL_SCALAR_FLOAT),
    };
    fql_proj_t        proj = PROJ("User", fields);
    static const char expected[] =
        "{\"firstName\":\"Alice\",\"author\":{\"__typename\":\"Author\","
        "\"id\":\"7\",\"name\":\"Bob\"},\"tags\":[\"x\",\"y\"],"
        "\"score\":87.5}";
    chunk_wbuf_t      c;
    size_t            limit;
    int               rc;

    (void) state;

    /* every failure of the wbuf fails the row, until there is room */

    for (limit = 0; limit < 1024; limit++) {
        memset(&c, 0, sizeof(c));
        c.w.pos = c.buf;
        c.w.end = c.buf;
        c.w.reserve = chunk_reserve;
        c.limit = limit;

        rc = fql_transform_row(&proj, user_row, strlen(user_row), &c.w,
                               NULL, NULL, NULL);

        if (rc == 0) {
            break;
        }

        assert_int_equal(rc, -1);
    }

    assert_int_equal(rc, 0);
    assert_true(limit > 32);

    memcpy(c.all + c.total, c.buf, c.w.pos - c.buf);
    c.total += c.w.pos - c.buf;

    assert_int_equal(c.total, sizeof(expected) - 1);
    assert_memory_equal(c.all, expected, c.total);
}


static void
check_string_at(int line, const char *in, size_t len, const char *expected)
{
    fql_heapbuf_t  hb;

    fql_heapbuf_init(&hb);

    assert_int_equal(fql_json_string(&hb.w, in, len), 0);

    if (fql_heapbuf_len(&hb) != strlen(expected)
        || memcmp(hb.data, expected, strlen(expected)) != 0)
    {
        fail_msg("line %d: got '%.*s', expected '%s'", line,
                 (int) fql_heapbuf_len(&hb), hb.data, expected);
    }

    assert_valid_json(hb.data, fql_heapbuf_len(&hb));
    fql_heapbuf_free(&hb);
}

#define check_string(in, expected)                                           \
    check_string_at(__LINE__, in, sizeof(in) - 1, expected)


static void
test_json_string(void **state)
{
    (void) state;

    check_string("", "\"\"");
    check_string("plain text, 0123456789 ~!", "\"plain text, 0123456789 ~!\"");
    check_string("a\"b\\c/d", "\"a\\\"b\\\\c/d\"");
    check_string("\b\f\n\r\t", "\"\\b\\f\\n\\r\\t\"");
    check_string("\x01\x1f\x7f", "\"\\u0001\\u001f\x7f\"");
    check_string("x\0y", "\"x\\u0000y\"");
    check_string("caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80 \xf4\x8f\xbf\xbf",
                 "\"caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80 "
                 "\xf4\x8f\xbf\xbf\"");

    /* ill-formed UTF-8: U+FFFD per maximal subpart */
    check_string("\xff", "\"\xef\xbf\xbd\"");
    check_string("a\x80z", "\"a\xef\xbf\xbdz\"");
    check_string("\xc0\xaf", "\"\xef\xbf\xbd\xef\xbf\xbd\"");
    check_string("\xe2\x82", "\"\xef\xbf\xbd\"");
    check_string("\xe2\x82z", "\"\xef\xbf\xbdz\"");
    check_string("\xed\xa0\x80",
                 "\"\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd\"");
    check_string("\xf4\x90\x80\x80",
                 "\"\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd\"");
    check_string("\xf0\x9f\x98", "\"\xef\xbf\xbd\"");
    check_string("\xf0\x9f\x98\"", "\"\xef\xbf\xbd\\\"\"");
    check_string("\xe0\x80\x80", "\"\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd\"");
}


/* a special byte at every offset of strings around the 8-byte strides */
static void
test_json_string_positions(void **state)
{
    static const char  *specials[] = {
        "\"", "\\", "\n", "\x01", "\xc3\xa9", "\xf0\x9f\x98\x80", "\xff"
    };

    fql_heapbuf_t   hb;
    yajl_val        v;
    char            in[64], want[64], *z, err[128];
    size_t          len, pos, k, sl;

    (void) state;

    for (k = 0; k < sizeof(specials) / sizeof(specials[0]); k++) {
        sl = strlen(specials[k]);

        for (len = 1; len < 24; len++) {
            for (pos = 0; pos + sl <= len; pos++) {
                memset(in, 'a', len);
                memcpy(in + pos, specials[k], sl);
                in[len] = '\0';

                /* what decoding the output must give back */
                memcpy(want, in, len + 1);

                if (specials[k][0] == '\xff') {
                    memset(want, 'a', len + 2);
                    memcpy(want + pos, "\xef\xbf\xbd", 3);
                    want[len + 2] = '\0';
                }

                fql_heapbuf_init(&hb);
                assert_int_equal(fql_json_string(&hb.w, in, len), 0);
                assert_int_equal(fql_wbuf_putc(&hb.w, '\0'), 0);

                z = hb.data;
                v = yajl_tree_parse(z, err, sizeof(err));

                if (v == NULL || !YAJL_IS_STRING(v)
                    || strcmp(v->u.string, want) != 0)
                {
                    fail_msg("special %zu at %zu of %zu: %s", k, pos, len,
                             z);
                }

                yajl_tree_free(v);
                fql_heapbuf_free(&hb);
            }
        }
    }
}


static void
test_heapbuf(void **state)
{
    fql_heapbuf_t  hb;
    char           big[5000];
    unsigned       i;

    (void) state;

    fql_heapbuf_init(&hb);
    assert_int_equal(fql_heapbuf_len(&hb), 0);

    for (i = 0; i < 1000; i++) {
        assert_int_equal(fql_wbuf_putc(&hb.w, (char) ('a' + i % 26)), 0);
    }

    memset(big, 'z', sizeof(big));
    assert_int_equal(fql_wbuf_put(&hb.w, big, sizeof(big)), 0);
    assert_int_equal(fql_wbuf_lit(&hb.w, "end"), 0);

    assert_int_equal(fql_heapbuf_len(&hb), 1000 + sizeof(big) + 3);
    assert_true(hb.cap >= fql_heapbuf_len(&hb));
    assert_int_equal(hb.data[26], 'a');
    assert_int_equal(hb.data[999], 'a' + 999 % 26);
    assert_int_equal(hb.data[1000 + sizeof(big) - 1], 'z');
    assert_memory_equal(hb.data + 1000 + sizeof(big), "end", 3);

    fql_heapbuf_free(&hb);
    assert_int_equal(fql_heapbuf_len(&hb), 0);
    assert_null(hb.data);

    /* usable again after free */
    assert_int_equal(fql_wbuf_lit(&hb.w, "x"), 0);
    assert_int_equal(fql_heapbuf_len(&hb), 1);
    fql_heapbuf_free(&hb);
}


int
main(void)
{
    const struct CMUnitTest  tests[] = {
        cmocka_unit_test(test_order_and_aliases),
        cmocka_unit_test(test_missing_and_null),
        cmocka_unit_test(test_non_null),
        cmocka_unit_test(test_nested_objects),
        cmocka_unit_test(test_list_of_objects),
        cmocka_unit_test(test_list_of_lists),
        cmocka_unit_test(test_scalar_lists),
        cmocka_unit_test(test_int),
        cmocka_unit_test(test_float),
        cmocka_unit_test(test_boolean),
        cmocka_unit_test(test_id),
        cmocka_unit_test(test_strings),
        cmocka_unit_test(test_json_scalar),
        cmocka_unit_test(test_unicode_values),
        cmocka_unit_test(test_escaped_keys),
        cmocka_unit_test(test_typename),
        cmocka_unit_test(test_null_row),
        cmocka_unit_test(test_whitespace),
        cmocka_unit_test(test_duplicate_keys),
        cmocka_unit_test(test_many_fields),
        cmocka_unit_test(test_many_keys),
        cmocka_unit_test(test_invalid),
        cmocka_unit_test(test_depth),
        cmocka_unit_test(test_recursive_depth),
        cmocka_unit_test(test_string_positions),
        cmocka_unit_test(test_error_callback),
        cmocka_unit_test(test_error_message_cut),
        cmocka_unit_test(test_wbuf_chunks),
        cmocka_unit_test(test_json_string),
        cmocka_unit_test(test_json_string_positions),
        cmocka_unit_test(test_heapbuf),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
