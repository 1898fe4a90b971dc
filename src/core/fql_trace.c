/*
 * The W3C Trace Context, level 1, section 3.2: what is read of a
 * traceparent, and what is passed on (the module's span, a child of the
 * caller's).
 */

#include <string.h>

#include "fql_trace.h"


/* n lowercase hex digits; nonzero: and not all of them 0 */
static int
fql_hex(const char *p, size_t n, int nonzero)
{
    size_t  i;
    int     zero = 1;

    for (i = 0; i < n; i++) {
        if (!((p[i] >= '0' && p[i] <= '9') || (p[i] >= 'a' && p[i] <= 'f'))) {
            return 0;
        }

        zero &= (p[i] == '0');
    }

    return !(nonzero && zero);
}


int
fql_traceparent_valid(const char *s, size_t len)
{
    if (s == NULL || len < FQL_TRACEPARENT_LEN
        || s[2] != '-' || s[35] != '-' || s[52] != '-'
        || !fql_hex(s, 2, 0) || (s[0] == 'f' && s[1] == 'f')
        || !fql_hex(s + 3, 32, 1) || !fql_hex(s + 36, 16, 1)
        || !fql_hex(s + 53, 2, 0))
    {
        return 0;
    }

    /* version 00 has exactly these fields; later ones may add "-..." */
    if (s[0] == '0' && s[1] == '0') {
        return len == FQL_TRACEPARENT_LEN;
    }

    return len == FQL_TRACEPARENT_LEN || s[FQL_TRACEPARENT_LEN] == '-';
}


static void
fql_hex_put(char *out, const unsigned char *p, size_t n)
{
    static const char  hex[] = "0123456789abcdef";
    size_t             i;

    for (i = 0; i < n; i++) {
        out[2 * i] = hex[p[i] >> 4];
        out[2 * i + 1] = hex[p[i] & 0xf];
    }
}


int
fql_traceparent_child(const char *in, size_t len,
    const unsigned char rnd[24], char *out)
{
    int  continued;

    continued = fql_traceparent_valid(in, len);

    if (continued) {
        memcpy(out, in, FQL_TRACEPARENT_LEN);

    } else {
        memcpy(out, "00-", 3);
        fql_hex_put(out + 3, rnd, 16);
        memcpy(out + 35, "-0000000000000000-00", 20);
    }

    /* version 00 is what is passed on, whatever was read */
    out[0] = '0';
    out[1] = '0';
    fql_hex_put(out + 36, rnd + 16, 8);
    out[FQL_TRACEPARENT_LEN] = '\0';

    return continued;
}
