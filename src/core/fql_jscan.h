/*
 * JSON text scanning: validate and skip values in PostgreSQL's jsonb
 * output, number parsing.  Internal to the row transform.
 *
 * Validation is strict (RFC 8259, well-formed UTF-8, paired \u
 * surrogates) because valid text is later copied to the response as it
 * is; skipping trusts text already validated and only finds where a value
 * ends.  Text is [p, end): rows are not NUL-terminated.
 *
 * The small scanners run for nearly every token and are inline below: a
 * call into another file is not inlined and, in the module (PIC), goes
 * through the PLT, which cost 5% of the rows per second.
 */

#ifndef FQL_JSCAN_H
#define FQL_JSCAN_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <sys/types.h>

#include "fql_utf8.h"


/*
 * Objects the transform descends through, recursing for each: more than
 * a projection can have (fraiseql_max_depth stops at 1000), so that only
 * a projection that selects itself (built by hand) ever meets it.
 */
#define FQL_MAX_DEPTH    1024

/*
 * Containers a row's value may nest, the row's own object included:
 * validated without recursion, so that a deep value in a field nobody
 * selected does not spoil the row.
 */
#define FQL_MAX_NESTING  8192


/* a JSON number split up: value = 0.D[k0..k1) * 10^pos, D = int . frac */
typedef struct {
    const u_char  *ip;
    const u_char  *fp;
    size_t         il;
    size_t         fl;
    size_t         k0;
    size_t         k1;
    long           pos;
    int            neg;
} fql_num_t;


#define fql_is_ws(c)  ((c) == ' ' || (c) == '\n' || (c) == '\r' || (c) == '\t')
#define fql_is_digit(c)  ((u_char) ((c) - '0') < 10)

#define FQL_ONES  0x0101010101010101ULL
#define FQL_HIGH  0x8080808080808080ULL

/*
 * Flags (high bit) the bytes of v that end a run of plain string bytes:
 * '"', '\', < 0x20, >= 0x80.  A borrow can flag bytes after a flagged one,
 * never before: the first flag is exact.
 */
static inline uint64_t
fql_special8(uint64_t v)
{
    uint64_t  q, b;

    q = v ^ (FQL_ONES * '"');
    b = v ^ (FQL_ONES * '\\');

    return (((q - FQL_ONES) & ~q) | ((b - FQL_ONES) & ~b)
            | ((v - FQL_ONES * 0x20) & ~v) | v)
           & FQL_HIGH;
}


#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
/* the first flagged byte of an 8-byte word read with memcpy */
#define fql_first8(m)  ((unsigned) __builtin_ctzll(m) >> 3)
#endif


static inline const u_char *
fql_skip_ws(const u_char *p, const u_char *end)
{
    while (p < end && fql_is_ws(*p)) {
        p++;
    }

    return p;
}


/* 4 hex digits at p (the caller checked there are 4 bytes): value or -1 */
static inline int
fql_hex4(const u_char *p)
{
    int     v, i;
    u_char  c;

    v = 0;

    for (i = 0; i < 4; i++) {
        c = p[i];

        if (fql_is_digit(c)) {
            v = v * 16 + c - '0';

        } else if ((c | 0x20) >= 'a' && (c | 0x20) <= 'f') {
            v = v * 16 + (c | 0x20) - 'a' + 10;

        } else {
            return -1;
        }
    }

    return v;
}


/* -?(0|[1-9][0-9]*)(.[0-9]+)?([eE][+-]?[0-9]+)? at p < end, or NULL */
static inline const u_char *
fql_scan_number(const u_char *p, const u_char *end)
{
    if (*p == '-' && ++p == end) {
        return NULL;
    }

    if (*p == '0') {
        p++;

    } else if (fql_is_digit(*p)) {
        do {
            p++;
        } while (p < end && fql_is_digit(*p));

    } else {
        return NULL;
    }

    if (p < end && *p == '.') {
        if (++p == end || !fql_is_digit(*p)) {
            return NULL;
        }

        do {
            p++;
        } while (p < end && fql_is_digit(*p));
    }

    if (p < end && (*p | 0x20) == 'e') {
        if (++p < end && (*p == '+' || *p == '-')) {
            p++;
        }

        if (p == end || !fql_is_digit(*p)) {
            return NULL;
        }

        do {
            p++;
        } while (p < end && fql_is_digit(*p));
    }

    return p;
}


/*
 * From after the opening quote of a valid string to past its closing one;
 * *esc (if esc) is set when the string has escapes.
 */
static inline const u_char *
fql_skip_string(const u_char *p, const u_char *end, int *esc)
{
    uint64_t  v, q, b, m;

    for ( ;; ) {
        if (end - p >= 8) {
            memcpy(&v, p, 8);

            q = v ^ (FQL_ONES * '"');
            b = v ^ (FQL_ONES * '\\');
            m = (((q - FQL_ONES) & ~q) | ((b - FQL_ONES) & ~b)) & FQL_HIGH;

            if (m == 0) {
                p += 8;
                continue;
            }

#ifdef fql_first8
            p += fql_first8(m);
#else
            while (*p != '"' && *p != '\\') {
                p++;
            }
#endif

        } else {
            while (p < end && *p != '"' && *p != '\\') {
                p++;
            }

            if (p == end) {
                return end;
            }
        }

        if (*p == '"') {
            return p + 1;
        }

        if (esc) {
            *esc = 1;
        }

        p += 2;

        if (p > end) {
            return end;
        }
    }
}


/*
 * Validation: each returns the byte past a valid value, or NULL.
 */

/* a string from after its opening quote; *esc set when it has escapes */
const u_char *fql_scan_string(const u_char *p, const u_char *end, int *esc);

/* any value at p (not whitespace) nested in `depth` containers */
const u_char *fql_valid_value(const u_char *p, const u_char *end,
    unsigned depth);


/*
 * Skipping, of text already validated.
 */

/* the value at p < end (not whitespace) */
const u_char *fql_skip_value(const u_char *p, const u_char *end);


/*
 * Numbers: p..end is a valid JSON number.
 */

void fql_num_parse(fql_num_t *n, const u_char *p, const u_char *end);

/* the canonical integer into buf: length, 0 if not integral, -1 too long */
int fql_num_int(const fql_num_t *n, char *buf, size_t size);

/* whether a number is within the range of a double */
int fql_num_finite(const fql_num_t *n);

#endif /* FQL_JSCAN_H */
