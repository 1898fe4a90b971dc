/*
 * The W3C trace context: which traceparent headers are continued, and
 * the one passed on (the caller's trace id and flags, the module's span).
 */

#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <string.h>
#include <cmocka.h>

#include "fql_trace.h"


#define TP  "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"

static const unsigned char  rnd[24] = {
    0x01, 0x23, 0x45, 0x67, 0x89, 0xab, 0xcd, 0xef,
    0x10, 0x32, 0x54, 0x76, 0x98, 0xba, 0xdc, 0xfe,
    0xaa, 0xbb, 0xcc, 0xdd, 0xee, 0xff, 0x00, 0x11
};


static int
valid(const char *s)
{
    return fql_traceparent_valid(s, strlen(s));
}


static void
test_valid(void **state)
{
    (void) state;

    assert_true(valid(TP));
    /* flags 00, and a later version with more fields */
    assert_true(valid("00-4bf92f3577b34da6a3ce929d0e0e4736-"
                      "00f067aa0ba902b7-00"));
    assert_true(valid("01-4bf92f3577b34da6a3ce929d0e0e4736-"
                      "00f067aa0ba902b7-01-what-comes-next"));
    assert_true(valid("cc-4bf92f3577b34da6a3ce929d0e0e4736-"
                      "00f067aa0ba902b7-01"));
}


static void
test_invalid(void **state)
{
    (void) state;

    assert_false(fql_traceparent_valid(NULL, 0));
    assert_false(valid(""));
    assert_false(valid("00"));
    /* version ff, upper case, zero ids, a 00 that goes on */
    assert_false(valid("ff-4bf92f3577b34da6a3ce929d0e0e4736-"
                       "00f067aa0ba902b7-01"));
    assert_false(valid("00-4BF92F3577B34DA6A3CE929D0E0E4736-"
                       "00f067aa0ba902b7-01"));
    assert_false(valid("00-00000000000000000000000000000000-"
                       "00f067aa0ba902b7-01"));
    assert_false(valid("00-4bf92f3577b34da6a3ce929d0e0e4736-"
                       "0000000000000000-01"));
    assert_false(valid(TP "-x"));
    assert_false(valid("01-4bf92f3577b34da6a3ce929d0e0e4736-"
                       "00f067aa0ba902b7-01x"));
    /* separators, short fields, not hex */
    assert_false(valid("00_4bf92f3577b34da6a3ce929d0e0e4736-"
                       "00f067aa0ba902b7-01"));
    assert_false(valid("00-4bf92f3577b34da6a3ce929d0e0e473-"
                       "600f067aa0ba902b7-01"));
    assert_false(valid("00-4bf92f3577b34da6a3ce929d0e0e4736-"
                       "00f067aa0ba902b7-0g"));
    assert_false(valid("' OR 1=1 -- 4bf92f3577b34da6a3ce929d0e0e4736-"
                       "00f067aa0ba902b7"));
}


static void
test_child(void **state)
{
    char  out[FQL_TRACEPARENT_LEN + 1];

    (void) state;

    /* the caller's trace id and flags, the module's span */
    assert_true(fql_traceparent_child(TP, strlen(TP), rnd, out));
    assert_string_equal(out, "00-4bf92f3577b34da6a3ce929d0e0e4736-"
                             "aabbccddeeff0011-01");

    /* a later version is passed on as 00, its extra fields dropped */
    assert_true(fql_traceparent_child("01-4bf92f3577b34da6a3ce929d0e0e4736-"
                                      "00f067aa0ba902b7-01-x", 58, rnd,
                                      out));
    assert_string_equal(out, "00-4bf92f3577b34da6a3ce929d0e0e4736-"
                             "aabbccddeeff0011-01");

    /* none, or an invalid one: a new trace */
    assert_false(fql_traceparent_child(NULL, 0, rnd, out));
    assert_string_equal(out, "00-0123456789abcdef1032547698badcfe-"
                             "aabbccddeeff0011-00");
    assert_false(fql_traceparent_child("junk", 4, rnd, out));
    assert_int_equal(strlen(out), FQL_TRACEPARENT_LEN);
    assert_true(valid(out));
}


int
main(void)
{
    const struct CMUnitTest  tests[] = {
        cmocka_unit_test(test_valid),
        cmocka_unit_test(test_invalid),
        cmocka_unit_test(test_child),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
