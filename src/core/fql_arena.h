/*
 * Region allocator interface of the nginx-free core.  The module backs it
 * with an ngx_pool_t; tests and fuzzers use the malloc-backed arena below.
 * Nothing allocated from an arena is freed individually.
 */

#ifndef FQL_ARENA_H
#define FQL_ARENA_H

#include <stddef.h>
#include <stdint.h>

typedef struct fql_arena_s  fql_arena_t;

struct fql_arena_s {
    /* returns memory aligned for any type, or NULL */
    void   *(*alloc)(void *ctx, size_t size);
    void    *ctx;
};

/* a byte string that is not necessarily NUL-terminated */
typedef struct {
    const char  *data;
    size_t       len;
} fql_str_t;

#define fql_str_lit(s)  { s, sizeof(s) - 1 }

void *fql_alloc(fql_arena_t *a, size_t size);
void *fql_calloc(fql_arena_t *a, size_t size);
char *fql_strndup(fql_arena_t *a, const char *s, size_t len);
int fql_str_eq(fql_str_t a, fql_str_t b);
int fql_str_eqz(fql_str_t a, const char *z);

/* FNV-1a, 64 bits */
uint64_t fql_hash(const char *s, size_t len);

/* malloc-backed arena: chunks freed together by fql_arena_heap_destroy */
fql_arena_t *fql_arena_heap_create(void);
void fql_arena_heap_destroy(fql_arena_t *a);

/* the memory a heap arena holds, in bytes */
size_t fql_arena_heap_size(const fql_arena_t *a);

#endif /* FQL_ARENA_H */
