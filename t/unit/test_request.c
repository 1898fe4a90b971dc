/*
 * GraphQL over HTTP in the core: media types of Content-Type and the
 * choice of the answer's type from Accept.
 */

#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "fql_request.h"


#define media(s, t)  fql_media_is(s, strlen(s), t)
#define prefers(s)   fql_accept_graphql_response(s, strlen(s))


static void
test_media_types(void **state)
{
    (void) state;

    assert_true(media("application/json", "application/json"));
    assert_true(media("Application/JSON", "application/json"));
    assert_true(media("application/json; charset=utf-8",
                      "application/json"));
    assert_true(media("application/json;charset=UTF-8",
                      "application/json"));
    assert_true(media("application/json ;x=y", "application/json"));

    /* a longer name is another type */
    assert_false(media("application/jsonx", "application/json"));
    assert_false(media("application/json-seq", "application/json"));
    assert_false(media("application/jso", "application/json"));
    assert_false(media("", "application/json"));
    assert_false(media("text/plain", "application/json"));
}


static void
test_accept(void **state)
{
    (void) state;

    /* no preference: the classic type */
    assert_false(prefers(""));
    assert_false(prefers("*/*"));
    assert_false(prefers("application/*"));
    assert_false(prefers("text/html"));
    assert_false(prefers("application/json"));

    assert_true(prefers("application/graphql-response+json"));
    assert_true(prefers("application/graphql-response+json, "
                        "application/json"));
    assert_false(prefers("application/json, "
                         "application/graphql-response+json"));

    /* q decides; 0 refuses */
    assert_false(prefers("application/graphql-response+json;q=0, "
                         "application/json"));
    assert_true(prefers("application/json;q=0.5, "
                        "application/graphql-response+json"));
    assert_true(prefers("application/json;q=0.9, "
                        "application/graphql-response+json;q=0.95"));
    assert_false(prefers("application/graphql-response+json;q=0.8, "
                         "application/*;q=0.9"));
    assert_true(prefers("application/graphql-response+json; q=1.0, "
                        "application/json; q=0.999"));

    /* the most specific range gives a type its q */
    assert_true(prefers("*/*;q=0.1, application/graphql-response+json"));
    assert_false(prefers("application/graphql-response+json;q=0"));

    /* malformed q values count as 1; nothing breaks on odd input */
    assert_true(prefers("application/graphql-response+json;q=x"));
    assert_false(prefers(",,,;;;q=,"));
    assert_false(prefers("application/graphql-response+jsonx"));
}


int
main(void)
{
    const struct CMUnitTest  tests[] = {
        cmocka_unit_test(test_media_types),
        cmocka_unit_test(test_accept),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
