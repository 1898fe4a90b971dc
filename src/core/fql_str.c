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
