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


uint64_t
fql_hash(const char *s, size_t len)
{
    size_t    i;
    uint64_t  h = 14695981039346656037ULL;

    for (i = 0; i < len; i++) {
        h ^= (unsigned char) s[i];
        h *= 1099511628211ULL;
    }

    return h;
}
