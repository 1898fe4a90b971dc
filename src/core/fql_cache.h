/*
 * The plan cache: compiled plans per worker, least recently used first
 * out.  A document is keyed by a hash of its normalised text (comments,
 * commas and insignificant white space dropped), the schema and the
 * compile limits; under it, one plan per operation name and shape of the
 * variables (what decides the SQL text: which fields and operators are
 * given, null or not, list lengths of input objects, enum and Boolean
 * values).  A hit parses nothing, validates nothing and builds no SQL: it
 * coerces the variables and fills the plan's parameters from them.
 *
 * Plans are shared by the requests running them: an entry evicted while
 * in use is freed by its last user.
 *
 * The cache is bounded in entries and in bytes (the memory of the
 * documents and plans, as their arenas hold it); an entry that would take
 * more than FQL_CACHE_SHARE of the bytes is not kept: its request plans
 * with it and frees it when done.
 */

#ifndef FQL_CACHE_H
#define FQL_CACHE_H

#include "fql_compile.h"


typedef struct fql_cache_s        fql_cache_t;
typedef struct fql_cache_entry_s  fql_cache_entry_t;

typedef struct {
    unsigned             parse_failed:1;  /* the error is a syntax error */
    unsigned             hit:1;           /* no compile happened */
    unsigned             cached:1;        /* the cache was consulted */
    int                  op;              /* fql_op_type_t, -1: none */
    fql_cache_entry_t   *entry;           /* held: fql_cache_release */
} fql_cache_result_t;

typedef struct {
    unsigned   entries;         /* documents held */
    unsigned   plans;           /* variants held */
    size_t     bytes;           /* what they hold */
    uint64_t   hits;
    uint64_t   misses;
    uint64_t   evictions;
    uint64_t   too_large;       /* entries planned with, not kept */
} fql_cache_stats_t;


/* no entry may take more than 1/FQL_CACHE_SHARE of the bytes */
#define FQL_CACHE_SHARE  16


/* max documents and bytes; max 0 is a cache that holds nothing */
fql_cache_t *fql_cache_create(unsigned max, size_t max_bytes);

/* frees everything, in use or not: for the end of the process */
void fql_cache_destroy(fql_cache_t *cache);

/*
 * From the request's query, operation name and variables to a plan in
 * *plan (memory from a, or shared with the cache).  cache may be NULL:
 * then this is parse + compile.  Returns 0, or -1 with errors added;
 * res says what happened.  A held entry must be released when the
 * request no longer uses the plan.
 */
int fql_cache_plan(fql_cache_t *cache, fql_arena_t *a,
    const fql_engine_t *eng, const fql_request_t *req, fql_plan_t **plan,
    fql_errors_t *errs, fql_cache_result_t *res);

void fql_cache_release(fql_cache_entry_t *entry);

void fql_cache_get_stats(const fql_cache_t *cache, fql_cache_stats_t *st);

/* the normalised text of a document: out has room for len bytes */
size_t fql_normalize(const char *q, size_t len, char *out);

#endif /* FQL_CACHE_H */
