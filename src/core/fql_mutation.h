/*
 * Mutations: FraiseQL's status taxonomy and the shaping of a mutation
 * function's row for the Success or Error member of its result union.
 */

#ifndef FQL_MUTATION_H
#define FQL_MUTATION_H

#include "fql_compile.h"
#include "fql_json.h"


/*
 * 1 for a success status ("created", "ok"...), 0 for an error ("not_found:
 * user" ...) with its HTTP-like code and the reason after the colon.
 */
int fql_mutation_status(fql_str_t status, int *code, fql_str_t *identifier);

/*
 * The row (to_jsonb of the function's result: the mutation_response
 * composite or plain JSON; NULL for SQL NULL) as the object the chosen
 * projection reads;
 * *proj is rp->proj (Success) or rp->proj_error.  Returns 0, or -1 when
 * the row is not a JSON object (or out of memory).
 */
int fql_mutation_row(const fql_root_plan_t *rp, fql_arena_t *a,
    const char *row, size_t len, const fql_proj_t **proj,
    fql_heapbuf_t *out);

#endif /* FQL_MUTATION_H */
