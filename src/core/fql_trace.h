/*
 * The W3C Trace Context (level 1): a traceparent header read, and the
 * one passed on.
 */

#ifndef FQL_TRACE_H
#define FQL_TRACE_H

#include <stddef.h>


/* "00-" 32 hex "-" 16 hex "-" 2 hex */
#define FQL_TRACEPARENT_LEN  55

/*
 * Whether s is a traceparent to continue: version 00 exactly 55 bytes, a
 * later version (not ff) 55 or more with a '-' after the flags; lowercase
 * hex; neither the trace id nor the parent id all zeros.
 */
int fql_traceparent_valid(const char *s, size_t len);

/*
 * out (FQL_TRACEPARENT_LEN + 1 bytes, NUL-terminated): version 00, the
 * trace id and flags of in when it is valid, else rnd[0..15] as a new
 * trace id and flags 00; and rnd[16..23] as the span id, a child of the
 * caller's.  rnd: 24 random bytes.  Returns whether in was continued.
 */
int fql_traceparent_child(const char *in, size_t len,
    const unsigned char rnd[24], char *out);

#endif /* FQL_TRACE_H */
