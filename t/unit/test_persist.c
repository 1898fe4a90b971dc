/*
 * Persisted documents in the core: the ids requests name documents by
 * (documentId, APQ hashes), the request parameters that carry them, and
 * manifests of trusted documents, read and validated.
 */

#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "fql_persist.h"


static const char  sdl[] =
    "type Thing @view(name: \"v_thing\") { id: ID! name: String }\n"
    "type Query { thing(id: ID!): Thing }\n";


#include "fixture.h"


/* the SHA-256 of "{ thing(id: 1) { id } }" */
#define Q     "{ thing(id: 1) { id } }"
#define QSHA  "3b5a2e2fa8b4b3b6d0d1f5f1c6b87f3d0d5b4a3c6d2a7c61f0b5c2e6c3a1f9e0"


static void
hex_of(const char *text, char *hex)
{
    unsigned char  h[FQL_SHA256_LEN];

    fql_sha256(text, strlen(text), h);
    fql_sha256_hex(h, hex);
}


static void
test_document_ids(void **state)
{
    int            sha;
    char           out[257], hex[65];
    size_t         len;
    fql_str_t      id;
    unsigned char  h[FQL_SHA256_LEN];

    (void) state;

    /* the SHA-256 of the empty string, as everyone knows it */
    hex_of("", hex);
    assert_string_equal(hex, "e3b0c44298fc1c149afbf4c8996fb924"
                             "27ae41e4649b934ca495991b7852b855");

    /* prefixed, bare, upper case: one lower-case form */
    id.data = "sha256:E3B0C44298FC1C149AFBF4C8996FB924"
              "27AE41E4649B934CA495991B7852B855";
    id.len = strlen(id.data);
    assert_int_equal(fql_document_id(id, out, sizeof(out), &len, h, &sha),
                     0);
    assert_true(sha);
    assert_int_equal(len, 64);
    assert_string_equal(out, hex);

    /* another kind of id (Relay's MD5) stays as it is */
    id.data = "0123456789ABCDEF0123456789abcdef";
    id.len = strlen(id.data);
    assert_int_equal(fql_document_id(id, out, sizeof(out), &len, h, &sha),
                     0);
    assert_false(sha);
    assert_string_equal(out, id.data);

    /* 64 characters that are not all hex: an id of another kind */
    id.data = "sha256:g3b0c44298fc1c149afbf4c8996fb924"
              "27ae41e4649b934ca495991b7852b855";
    id.len = strlen(id.data);
    assert_int_equal(fql_document_id(id, out, sizeof(out), &len, h, &sha),
                     0);
    assert_false(sha);

    /* empty and over-long ids are nobody's */
    id.data = "";
    id.len = 0;
    assert_int_equal(fql_document_id(id, out, sizeof(out), &len, h, &sha),
                     -1);
    memset(out, 'a', 256);
    id.data = out;
    id.len = 257;
    assert_int_equal(fql_document_id(id, hex, 65, &len, h, &sha), -1);
}


static void
test_request_parameters(void **state)
{
    fixture_t      *f = *state;
    fql_errors_t    errs;
    fql_request_t   req;
    const char     *body;

    body = "{\"extensions\": {\"persistedQuery\": {\"version\": 1,"
           " \"sha256Hash\": \"E3B0C44298FC1C149AFBF4C8996FB924"
           "27AE41E4649B934CA495991B7852B855\"}}}";
    fql_errors_init(&errs, f->arena);
    assert_int_equal(fql_request_from_json(f->arena, body, strlen(body),
                                           &req, &errs), 0);
    assert_true(req.has_hash);
    assert_null(req.query.data);
    assert_int_equal(req.hash[0], 0xe3);
    assert_int_equal(req.hash[31], 0x55);

    body = "{\"documentId\": \"sha256:abc\", \"variables\": {\"a\": 1}}";
    assert_int_equal(fql_request_from_json(f->arena, body, strlen(body),
                                           &req, &errs), 0);
    assert_string_equal(req.document_id.data, "sha256:abc");
    assert_false(req.has_hash);

    /* neither a query nor a name: missing */
    body = "{\"variables\": {}}";
    assert_int_equal(fql_request_from_json(f->arena, body, strlen(body),
                                           &req, &errs), -1);
    assert_non_null(strstr(errs.head->message, "Missing query"));

    /* what the protocol refuses */
    fql_errors_init(&errs, f->arena);
    body = "{\"extensions\": {\"persistedQuery\": {\"version\": 2,"
           " \"sha256Hash\": \"00\"}}}";
    assert_int_equal(fql_request_from_json(f->arena, body, strlen(body),
                                           &req, &errs), -1);
    fql_errors_init(&errs, f->arena);
    body = "{\"documentId\": 7}";
    assert_int_equal(fql_request_from_json(f->arena, body, strlen(body),
                                           &req, &errs), -1);
    assert_string_equal(errs.head->code, "BAD_REQUEST");
}


static fql_manifest_t *
read_ok(fixture_t *f, const char *text)
{
    char             err[512];
    fql_manifest_t  *m;

    if (fql_manifest_read(f->arena, text, strlen(text), &m, err,
                          sizeof(err)) != 0)
    {
        fail_msg("%s: %s", text, err);
    }

    return m;
}


static void
read_fails(fixture_t *f, const char *text, const char *want)
{
    char             err[512];
    fql_manifest_t  *m;

    assert_int_equal(fql_manifest_read(f->arena, text, strlen(text), &m,
                                       err, sizeof(err)), -1);
    if (strstr(err, want) == NULL) {
        fail_msg("\"%s\" not in \"%s\"", want, err);
    }
}


static void
test_manifests(void **state)
{
    char                       hex[65], text[1024], err[512];
    fixture_t                 *f = *state;
    fql_engine_t               eng;
    fql_manifest_t            *m;
    const fql_manifest_doc_t  *d;

    hex_of(Q, hex);

    snprintf(text, sizeof(text), "{\"format\": "
             "\"apollo-persisted-query-manifest\", \"version\": 1, "
             "\"operations\": [{\"id\": \"%s\", \"body\": \"%s\", "
             "\"name\": \"One\", \"type\": \"query\"}]}", hex, Q);
    m = read_ok(f, text);
    assert_int_equal(m->n, 1);
    d = fql_manifest_find(m, hex, 64);
    assert_non_null(d);
    assert_true(fql_str_eqz(d->name, "One"));
    assert_null(fql_manifest_find(m, "nope", 4));

    memset(&eng, 0, sizeof(eng));
    eng.schema = f->schema;
    assert_int_equal(fql_manifest_check(m, &eng, err, sizeof(err)), 0);

    /* a flat map, ids of both kinds */
    snprintf(text, sizeof(text), "{\"sha256:%s\": \"%s\", "
             "\"relay-md5\": \"{ thing(id: 2) { name } }\"}", hex, Q);
    m = read_ok(f, text);
    assert_int_equal(m->n, 2);
    assert_non_null(fql_manifest_find(m, "relay-md5", 9));
    assert_non_null(fql_manifest_find(m, hex, 64));
    assert_int_equal(fql_manifest_check(m, &eng, err, sizeof(err)), 0);

    /* a document the schema does not answer, named with its error */
    m = read_ok(f, "{\"old\": \"{ things { id } }\"}");
    assert_int_equal(fql_manifest_check(m, &eng, err, sizeof(err)), -1);
    assert_non_null(strstr(err, "document \"old\""));
    assert_non_null(strstr(err, "Cannot query field \"things\""));
    m = read_ok(f, "{\"broken\": \"{ thing(id: 1) {\"}");
    assert_int_equal(fql_manifest_check(m, &eng, err, sizeof(err)), -1);
    assert_non_null(strstr(err, "document \"broken\""));

    read_fails(f, "[]", "not a JSON object");
    read_fails(f, "{\"format\": \"other\"}", "apollo-persisted-query");
    read_fails(f, "{\"format\": \"apollo-persisted-query-manifest\", "
               "\"version\": 2, \"operations\": []}", "\"version\" is not 1");
    read_fails(f, "{\"format\": \"apollo-persisted-query-manifest\", "
               "\"version\": 1, \"operations\": [{\"body\": \"{ a }\"}]}",
               "no \"id\"");
    read_fails(f, "{\"sha256:" QSHA "\": \"" Q "\"}",
               "is not the SHA-256 of its document");
    read_fails(f, "{\"x\": 1}", "no document");
    read_fails(f, "{\"x\": \"{ a }\", \"x\": \"{ b }\"}", "there twice");
}


int
main(void)
{
    const struct CMUnitTest  tests[] = {
        cmocka_unit_test(test_document_ids),
        cmocka_unit_test(test_request_parameters),
        cmocka_unit_test(test_manifests),
    };

    return cmocka_run_group_tests(tests, setup, teardown);
}
