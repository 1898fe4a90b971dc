/*
 * JSON text scanning: strict validation of PostgreSQL's jsonb output,
 * skipping of values already validated, and the splitting of numbers the
 * scalar coercions need; the small scanners are inline in fql_jscan.h.
 * Nothing is allocated or copied.
 */

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <math.h>
#include <sys/types.h>

#include "fql_jscan.h"


/* digit k of a number's digits, integer and fraction parts together */
#define fql_digit(n, k)  ((k) < (n)->il ? (n)->ip[k] : (n)->fp[(k) - (n)->il])

#define fql_is_plain(c)                                                      \
    ((c) >= 0x20 && (c) < 0x80 && (c) != '"' && (c) != '\\')


/*
 * Validation.
 */


/*
 * Validates a string from after its opening quote, returns the byte past
 * the closing quote, or NULL.  Escapes must be RFC 8259's, \u surrogates
 * paired (jsonb refuses lone ones too), and UTF-8 well formed: no
 * overlongs, no encoded surrogates, nothing past U+10FFFF.
 */
const u_char *
fql_scan_string(const u_char *p, const u_char *end, int *esc)
{
    uint64_t  v, m;
    u_char    c;
    int       cp, n;

    for ( ;; ) {

        /* plain bytes, 8 at a time */

        for ( ;; ) {
            if (end - p < 8) {
                while (p < end && fql_is_plain(*p)) {
                    p++;
                }

                break;
            }

            memcpy(&v, p, 8);
            m = fql_special8(v);

            if (m) {
#ifdef fql_first8
                p += fql_first8(m);
#else
                while (fql_is_plain(*p)) {
                    p++;
                }
#endif
                break;
            }

            p += 8;
        }

        if (p == end) {
            return NULL;
        }

        c = *p;

        if (c == '"') {
            return p + 1;
        }

        if (c == '\\') {
            *esc = 1;

            if (end - p < 2) {
                return NULL;
            }

            switch (p[1]) {
            case '"': case '\\': case '/': case 'b':
            case 'f': case 'n': case 'r': case 't':
                p += 2;
                continue;

            case 'u':
                if (end - p < 6 || (cp = fql_hex4(p + 2)) < 0) {
                    return NULL;
                }

                p += 6;

                if (cp < 0xd800 || cp > 0xdfff) {
                    continue;
                }

                if (cp >= 0xdc00 || end - p < 6 || p[0] != '\\'
                    || p[1] != 'u')
                {
                    return NULL;
                }

                cp = fql_hex4(p + 2);

                if (cp < 0xdc00 || cp > 0xdfff) {
                    return NULL;
                }

                p += 6;
                continue;

            default:
                return NULL;
            }
        }

        if (c < 0x20) {
            return NULL;
        }

        /* c >= 0x80: one well-formed UTF-8 sequence or nothing */
        n = fql_utf8_seq(p, end);
        if (n < 0) {
            return NULL;
        }

        p += n;
    }
}


static inline const u_char *
fql_scan_literal(const u_char *p, const u_char *end, const char *lit,
    size_t n)
{
    if ((size_t) (end - p) < n || memcmp(p, lit, n) != 0) {
        return NULL;
    }

    return p + n;
}


/*
 * Validates the value at p (not whitespace) nested in `depth` containers;
 * returns the byte past it, or NULL.  Iterative: a bit per open container
 * says object or array.
 */
const u_char *
fql_valid_value(const u_char *p, const u_char *end, unsigned depth)
{
    uint64_t  stack[FQL_MAX_NESTING / 64];
    unsigned  level, obj;
    int       esc;

    level = 0;

value:

    if (p == end) {
        return NULL;
    }

    switch (*p) {

    case '{':
        if (depth + level >= FQL_MAX_NESTING) {
            return NULL;
        }

        stack[level / 64] |= (uint64_t) 1 << (level % 64);
        level++;

        p = fql_skip_ws(p + 1, end);

        if (p < end && *p == '}') {
            p++;
            level--;
            goto close;
        }

        goto key;

    case '[':
        if (depth + level >= FQL_MAX_NESTING) {
            return NULL;
        }

        stack[level / 64] &= ~((uint64_t) 1 << (level % 64));
        level++;

        p = fql_skip_ws(p + 1, end);

        if (p < end && *p == ']') {
            p++;
            level--;
            goto close;
        }

        goto value;

    case '"':
        p = fql_scan_string(p + 1, end, &esc);
        break;

    case 't':
        p = fql_scan_literal(p, end, "true", 4);
        break;

    case 'f':
        p = fql_scan_literal(p, end, "false", 5);
        break;

    case 'n':
        p = fql_scan_literal(p, end, "null", 4);
        break;

    default:
        p = fql_scan_number(p, end);
        break;
    }

    if (p == NULL) {
        return NULL;
    }

close:

    if (level == 0) {
        return p;
    }

    p = fql_skip_ws(p, end);

    if (p == end) {
        return NULL;
    }

    obj = (stack[(level - 1) / 64] >> ((level - 1) % 64)) & 1;

    if (*p == ',') {
        p = fql_skip_ws(p + 1, end);

        if (obj) {
            goto key;
        }

        goto value;
    }

    if (*p != (obj ? '}' : ']')) {
        return NULL;
    }

    p++;
    level--;
    goto close;

key:

    if (p == end || *p != '"') {
        return NULL;
    }

    p = fql_scan_string(p + 1, end, &esc);
    if (p == NULL) {
        return NULL;
    }

    p = fql_skip_ws(p, end);

    if (p == end || *p != ':') {
        return NULL;
    }

    p = fql_skip_ws(p + 1, end);
    goto value;
}


/*
 * Skipping values already validated.
 */


const u_char *
fql_skip_value(const u_char *p, const u_char *end)
{
    unsigned  depth;
    u_char    c;

    switch (*p) {

    case '"':
        return fql_skip_string(p + 1, end, NULL);

    case '{':
    case '[':
        depth = 0;

        while (p < end) {
            c = *p++;

            if (c == '"') {
                p = fql_skip_string(p, end, NULL);

            } else if (c == '{' || c == '[') {
                depth++;

            } else if ((c == '}' || c == ']') && --depth == 0) {
                break;
            }
        }

        return p;

    default:
        while (p < end && *p != ',' && *p != '}' && *p != ']'
               && !fql_is_ws(*p))
        {
            p++;
        }

        return p;
    }
}


/*
 * Numbers.
 */


/* p..end is a valid JSON number */
void
fql_num_parse(fql_num_t *n, const u_char *p, const u_char *end)
{
    size_t  total;
    long    exp;
    int     eneg;

    n->neg = (*p == '-');
    p += n->neg;

    n->ip = p;

    while (p < end && fql_is_digit(*p)) {
        p++;
    }

    n->il = p - n->ip;
    n->fp = p;
    n->fl = 0;

    if (p < end && *p == '.') {
        n->fp = ++p;

        while (p < end && fql_is_digit(*p)) {
            p++;
        }

        n->fl = p - n->fp;
    }

    exp = 0;
    eneg = 0;

    if (p < end) {
        p++;

        if (*p == '+' || *p == '-') {
            eneg = (*p++ == '-');
        }

        /* saturated: 10^100000000 is past anything we can represent */
        for ( /* void */ ; p < end; p++) {
            if (exp < 100000000) {
                exp = exp * 10 + *p - '0';
            }
        }
    }

    total = n->il + n->fl;

    for (n->k0 = 0; n->k0 < total && fql_digit(n, n->k0) == '0'; n->k0++) {
        /* void */
    }

    for (n->k1 = total; n->k1 > n->k0 && fql_digit(n, n->k1 - 1) == '0';
         n->k1--)
    {
        /* void */
    }

    n->pos = (long) n->il - (long) n->k0 + (eneg ? -exp : exp);
}


/*
 * Writes the canonical decimal integer of a number ("-0" is "0"); returns
 * its length, 0 when the number is not an integer, -1 when it needs more
 * than `size` bytes.
 */
int
fql_num_int(const fql_num_t *n, char *buf, size_t size)
{
    size_t  m, k, i, len;

    if (n->k0 == n->k1) {
        buf[0] = '0';
        return 1;
    }

    m = n->k1 - n->k0;

    if (n->pos < (long) m) {
        return 0;
    }

    if ((unsigned long) n->pos > size - 1) {
        return -1;
    }

    len = n->neg + (size_t) n->pos;
    i = 0;

    if (n->neg) {
        buf[i++] = '-';
    }

    for (k = n->k0; k < n->k1; k++) {
        buf[i++] = fql_digit(n, k);
    }

    while (i < len) {
        buf[i++] = '0';
    }

    return (int) len;
}


/* whether a number is within the range of a double (JavaScript's number) */
int
fql_num_finite(const fql_num_t *n)
{
    char    buf[64];
    size_t  k, i;

    /* DBL_MAX is 0.17976931348623157e309 */

    if (n->k0 == n->k1 || n->pos < 309) {
        return 1;
    }

    if (n->pos > 309) {
        return 0;
    }

    /* the edge: let strtod round; a mantissa of 40 digits is plenty */

    i = 0;

    for (k = n->k0; k < n->k1 && i < 40; k++) {
        buf[i++] = fql_digit(n, k);
    }

    snprintf(buf + i, sizeof(buf) - i, "e%d", (int) (309 - i));

    return !isinf(strtod(buf, NULL));
}
