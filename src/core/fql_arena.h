/*
 * Region allocator interface of the nginx-free core.  The module backs it
 * with an ngx_pool_t; tests and fuzzers use the malloc-backed arena below.
 * Nothing allocated from an arena is freed individually.
 */

#ifndef FQL_ARENA_H
#define FQL_ARENA_H

#include <stddef.h>

typedef struct fql_arena_s  fql_arena_t;

struct fql_arena_s {
    /* returns memory aligned for any type, or NULL */
    void   *(*alloc)(void *ctx, size_t size);
    void    *ctx;
};

/* what a failed allocation is reported as */
#define FQL_NOMEM  "Out of memory"

void *fql_alloc(fql_arena_t *a, size_t size);
void *fql_calloc(fql_arena_t *a, size_t size);

/* malloc-backed arena: chunks freed together by fql_arena_heap_destroy */
fql_arena_t *fql_arena_heap_create(void);
void fql_arena_heap_destroy(fql_arena_t *a);

/* the memory a heap arena holds, in bytes */
size_t fql_arena_heap_size(const fql_arena_t *a);

#endif /* FQL_ARENA_H */
