/*
 * Names sorted for lookup: the lists a document brings (response keys of
 * a selection set, fragments, variables) can be tens of thousands long,
 * and a linear search per item makes them quadratic.  Sorting is
 * O(n log n) whatever the names are: no hash a client could flood.
 */

#ifndef FQL_INDEX_H
#define FQL_INDEX_H

#include "fql_str.h"


typedef struct {
    fql_str_t     key;
    unsigned      pos;      /* order of addition: ties keep it */
    const void   *item;
} fql_ientry_t;

typedef struct {
    fql_ientry_t  *e;
    unsigned       n;
} fql_index_t;


/* room for n entries; -1: no memory */
int fql_index_init(fql_index_t *ix, fql_arena_t *a, unsigned n);

/* adds an entry: within the room fql_index_init made */
void fql_index_add(fql_index_t *ix, fql_str_t key, const void *item);

/* by key, then by order of addition */
void fql_index_sort(fql_index_t *ix);

/* the first entry added under key (sorted index), or NULL */
const fql_ientry_t *fql_index_find(const fql_index_t *ix, fql_str_t key);

#endif /* FQL_INDEX_H */
