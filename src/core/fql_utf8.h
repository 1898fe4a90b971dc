/*
 * The one UTF-8 well-formedness check, shared by the GraphQL lexer, the
 * JSON scanner and the JSON writer.
 */

#ifndef FQL_UTF8_H
#define FQL_UTF8_H

#include <sys/types.h>


/*
 * Length of the well-formed UTF-8 sequence at p (lead byte >= 0x80), or,
 * negated, the length of its maximal ill-formed subpart (at least 1): the
 * unit replaced by one U+FFFD, as Unicode recommends.
 */
static inline int
fql_utf8_seq(const u_char *p, const u_char *end)
{
    u_char  c, lo, hi;
    int     n, i;

    c = p[0];

    if (c >= 0xc2 && c <= 0xdf) {
        n = 2;

    } else if (c >= 0xe0 && c <= 0xef) {
        n = 3;

    } else if (c >= 0xf0 && c <= 0xf4) {
        n = 4;

    } else {
        return -1;
    }

    /* the second byte's range excludes overlongs, surrogates, > U+10FFFF */
    lo = (c == 0xe0) ? 0xa0 : (c == 0xf0) ? 0x90 : 0x80;
    hi = (c == 0xed) ? 0x9f : (c == 0xf4) ? 0x8f : 0xbf;

    for (i = 1; i < n; i++) {
        if (p + i == end || p[i] < lo || p[i] > hi) {
            return -i;
        }

        lo = 0x80;
        hi = 0xbf;
    }

    return n;
}

#endif /* FQL_UTF8_H */
