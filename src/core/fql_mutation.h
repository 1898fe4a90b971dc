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
 * fql_mutation_status, and *name the error's extensions.code for a field
 * that returns its object directly ("NOT_FOUND"...; NULL: a success).
 */
int fql_mutation_class(fql_str_t status, int *code, fql_str_t *identifier,
    const char **name);

/* what a mutation returning its object type directly made of its row */
typedef struct {
    const char  *code;      /* NULL: a success; else extensions.code */
    fql_str_t    message;   /* an error's: the function's, or its status */
} fql_mutation_result_t;

/*
 * The row of a mutation that returns its object type directly: on a
 * success out holds the entity's JSON object (nothing: a null entity);
 * on an error res->code is the taxonomy's name (NOT_FOUND, CONFLICT...,
 * INTERNAL_SERVER_ERROR for SQL NULL or a NULL status).  Returns 0, or -1
 * when the row or its entity is not a JSON object (or out of memory).
 */
int fql_mutation_object(fql_arena_t *a, const char *row, size_t len,
    fql_mutation_result_t *res, fql_heapbuf_t *out);

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
