#include <stdlib.h>
#include <string.h>

#include "fql_arena.h"


/* chunks grow from the first to the last size: small plans stay small */
#define FQL_CHUNK_FIRST  1024
#define FQL_CHUNK_SIZE   16384
#define FQL_ALIGN        16

typedef struct fql_chunk_s  fql_chunk_t;

struct fql_chunk_s {
    fql_chunk_t  *next;
    size_t        used;
    size_t        size;
    /* data follows, aligned */
};

typedef struct {
    fql_arena_t   arena;
    fql_chunk_t  *chunks;
    size_t        next;       /* the size of the next chunk */
    size_t        size;       /* malloc'd, headers included */
} fql_heap_arena_t;


#define fql_chunk_hdr  \
    ((sizeof(fql_chunk_t) + FQL_ALIGN - 1) & ~(size_t) (FQL_ALIGN - 1))


static void *
fql_heap_alloc(void *ctx, size_t size)
{
    fql_heap_arena_t  *h = ctx;
    int                big;
    fql_chunk_t       *c;
    size_t             need, csize;
    char              *p;

    need = (size + FQL_ALIGN - 1) & ~(size_t) (FQL_ALIGN - 1);
    if (need < size) {
        return NULL;
    }

    c = h->chunks;

    if (c == NULL || c->size - c->used < need) {
        big = need > h->next;
        csize = big ? need : h->next;

        if (!big && h->next < FQL_CHUNK_SIZE) {
            h->next *= 2;
        }

        c = malloc(fql_chunk_hdr + csize);
        if (c == NULL) {
            return NULL;
        }

        c->used = 0;
        c->size = csize;
        h->size += fql_chunk_hdr + csize;

        /* a big allocation goes behind the current chunk so that the
         * current one keeps serving small requests */
        if (big && h->chunks != NULL) {
            c->next = h->chunks->next;
            h->chunks->next = c;

        } else {
            c->next = h->chunks;
            h->chunks = c;
        }
    }

    p = (char *) c + fql_chunk_hdr + c->used;
    c->used += need;

    return p;
}


fql_arena_t *
fql_arena_heap_create(void)
{
    fql_heap_arena_t  *h;

    h = calloc(1, sizeof(fql_heap_arena_t));
    if (h == NULL) {
        return NULL;
    }

    h->arena.alloc = fql_heap_alloc;
    h->arena.ctx = h;
    h->next = FQL_CHUNK_FIRST;
    h->size = sizeof(fql_heap_arena_t);

    return &h->arena;
}


size_t
fql_arena_heap_size(const fql_arena_t *a)
{
    return ((const fql_heap_arena_t *) a->ctx)->size;
}


void
fql_arena_heap_destroy(fql_arena_t *a)
{
    fql_heap_arena_t  *h;
    fql_chunk_t       *c, *next;

    if (a == NULL) {
        return;
    }

    h = a->ctx;

    for (c = h->chunks; c; c = next) {
        next = c->next;
        free(c);
    }

    free(h);
}


void *
fql_alloc(fql_arena_t *a, size_t size)
{
    return a->alloc(a->ctx, size ? size : 1);
}


void *
fql_calloc(fql_arena_t *a, size_t size)
{
    void  *p;

    p = fql_alloc(a, size);
    if (p != NULL) {
        memset(p, 0, size);
    }

    return p;
}

