#include <stdlib.h>
#include <string.h>

#include "fql_index.h"


int
fql_index_init(fql_index_t *ix, fql_arena_t *a, unsigned n)
{
    ix->n = 0;
    ix->e = fql_alloc(a, (n ? n : 1) * sizeof(fql_ientry_t));

    return ix->e ? 0 : -1;
}


void
fql_index_add(fql_index_t *ix, fql_str_t key, const void *item)
{
    fql_ientry_t  *e = &ix->e[ix->n];

    e->key = key;
    e->pos = ix->n++;
    e->item = item;
}


/* any total order of keys does: length first is the cheapest */
static int
fql_key_cmp(fql_str_t a, fql_str_t b)
{
    if (a.len != b.len) {
        return a.len < b.len ? -1 : 1;
    }

    return a.len ? memcmp(a.data, b.data, a.len) : 0;
}


static int
fql_ientry_cmp(const void *x, const void *y)
{
    int                  rc;
    const fql_ientry_t  *a = x, *b = y;

    rc = fql_key_cmp(a->key, b->key);
    if (rc != 0) {
        return rc;
    }

    return a->pos < b->pos ? -1 : (a->pos > b->pos);
}


void
fql_index_sort(fql_index_t *ix)
{
    if (ix->n > 1) {
        qsort(ix->e, ix->n, sizeof(fql_ientry_t), fql_ientry_cmp);
    }
}


const fql_ientry_t *
fql_index_find(const fql_index_t *ix, fql_str_t key)
{
    int       rc;
    unsigned  lo, hi, mid;

    /* the lowest entry not below key */
    lo = 0;
    hi = ix->n;

    while (lo < hi) {
        mid = lo + (hi - lo) / 2;
        rc = fql_key_cmp(ix->e[mid].key, key);

        if (rc < 0) {
            lo = mid + 1;

        } else {
            hi = mid;
        }
    }

    if (lo < ix->n && fql_key_cmp(ix->e[lo].key, key) == 0) {
        return &ix->e[lo];
    }

    return NULL;
}
