/*
 * The schema fixture of the unit suites: the suite defines its SDL as
 * `static const char sdl[]` before including this file; setup builds the
 * schema and an engine without limits over it, teardown frees them.
 */

#ifndef FIXTURE_H
#define FIXTURE_H

#include <stdio.h>
#include <stdlib.h>

#include "fql_compile.h"


typedef struct {
    fql_arena_t    *arena;      /* the schema's */
    fql_schema_t   *schema;
    fql_engine_t    eng;
} fixture_t;


static int
setup(void **state)
{
    fixture_t          *f;
    fql_parse_error_t   err;

    f = calloc(1, sizeof(fixture_t));
    f->arena = fql_arena_heap_create();

    if (fql_schema_build(f->arena, sdl, sizeof(sdl) - 1, &f->schema, &err)
        != 0)
    {
        fprintf(stderr, "schema: %u:%u: %s\n", err.loc.line, err.loc.column,
                err.message);
        return -1;
    }

    f->eng.schema = f->schema;
    *state = f;

    return 0;
}


static int
teardown(void **state)
{
    fixture_t  *f = *state;

    fql_arena_heap_destroy(f->arena);
    free(f);

    return 0;
}

#endif /* FIXTURE_H */
