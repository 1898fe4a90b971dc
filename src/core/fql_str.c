#include <string.h>

#include "fql_str.h"


char *
fql_strndup(fql_arena_t *a, const char *s, size_t len)
{
    char  *p;

    p = fql_alloc(a, len + 1);
    if (p == NULL) {
        return NULL;
    }

    if (len) {
        memcpy(p, s, len);
    }

    p[len] = '\0';

    return p;
}


int
fql_str_eq(fql_str_t a, fql_str_t b)
{
    return a.len == b.len
           && (a.len == 0 || memcmp(a.data, b.data, a.len) == 0);
}


int
fql_str_eqz(fql_str_t a, const char *z)
{
    size_t  n = strlen(z);

    return a.len == n && (n == 0 || memcmp(a.data, z, n) == 0);
}


/*
 * Eight bytes a step: the texts hashed on every request (a document for
 * the plan cache, a statement's SQL) are hundreds of bytes long.  The
 * last step's mix makes the low bits, which the tables index with,
 * depend on every byte.  Hashes live in one process: the byte order of
 * the machine does not matter.
 */
uint64_t
fql_hash(const char *s, size_t len)
{
    uint64_t  h, w;

    h = 0x9e3779b97f4a7c15ULL ^ len;

    for ( /* void */ ; len >= 8; s += 8, len -= 8) {
        memcpy(&w, s, 8);
        h = (h ^ w) * 0xff51afd7ed558ccdULL;
        h ^= h >> 29;
    }

    if (len) {
        w = 0;
        memcpy(&w, s, len);
        h = (h ^ w) * 0xff51afd7ed558ccdULL;
    }

    /* splitmix64's finalizer */
    h ^= h >> 30;
    h *= 0xbf58476d1ce4e5b9ULL;
    h ^= h >> 27;
    h *= 0x94d049bb133111ebULL;
    h ^= h >> 31;

    return h;
}


/* a base64url character's six bits, or 64: not one of the alphabet */
const unsigned char  fql_b64url_bits[256] = {
    64, 64, 64, 64, 64, 64, 64, 64, 64, 64, 64, 64, 64, 64, 64, 64,
    64, 64, 64, 64, 64, 64, 64, 64, 64, 64, 64, 64, 64, 64, 64, 64,
    64, 64, 64, 64, 64, 64, 64, 64, 64, 64, 64, 64, 64, 62, 64, 64,
    52, 53, 54, 55, 56, 57, 58, 59, 60, 61, 64, 64, 64, 64, 64, 64,
    64,  0,  1,  2,  3,  4,  5,  6,  7,  8,  9, 10, 11, 12, 13, 14,
    15, 16, 17, 18, 19, 20, 21, 22, 23, 24, 25, 64, 64, 64, 64, 63,
    64, 26, 27, 28, 29, 30, 31, 32, 33, 34, 35, 36, 37, 38, 39, 40,
    41, 42, 43, 44, 45, 46, 47, 48, 49, 50, 51, 64, 64, 64, 64, 64,
    64, 64, 64, 64, 64, 64, 64, 64, 64, 64, 64, 64, 64, 64, 64, 64,
    64, 64, 64, 64, 64, 64, 64, 64, 64, 64, 64, 64, 64, 64, 64, 64,
    64, 64, 64, 64, 64, 64, 64, 64, 64, 64, 64, 64, 64, 64, 64, 64,
    64, 64, 64, 64, 64, 64, 64, 64, 64, 64, 64, 64, 64, 64, 64, 64,
    64, 64, 64, 64, 64, 64, 64, 64, 64, 64, 64, 64, 64, 64, 64, 64,
    64, 64, 64, 64, 64, 64, 64, 64, 64, 64, 64, 64, 64, 64, 64, 64,
    64, 64, 64, 64, 64, 64, 64, 64, 64, 64, 64, 64, 64, 64, 64, 64,
    64, 64, 64, 64, 64, 64, 64, 64, 64, 64, 64, 64, 64, 64, 64, 64
};


/*
 * Bits left over at the end must be zero: each byte string then has one
 * encoding, so two different texts never decode to the same bytes (a
 * cursor or a token segment is compared, hashed or signed as text).
 */
int
fql_b64url_decode(fql_str_t in, char *out, size_t *len)
{
    size_t    i, n;
    unsigned  v, acc, bits;

    n = 0;
    acc = 0;
    bits = 0;

    for (i = 0; i < in.len; i++) {
        v = fql_b64url_bits[(unsigned char) in.data[i]];
        if (v == 64) {
            return -1;
        }

        acc = (acc << 6) | v;
        bits += 6;

        if (bits >= 8) {
            bits -= 8;
            out[n++] = (char) ((acc >> bits) & 0xff);
        }
    }

    /* a lone character, or bits left that are not zero: not an encoding */
    if (bits >= 6 || (acc & ((1u << bits) - 1)) != 0) {
        return -1;
    }

    out[n] = '\0';
    *len = n;

    return 0;
}
