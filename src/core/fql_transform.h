/*
 * Row transform: one row's JSON (PostgreSQL's jsonb text output of the
 * `data` column) in, the GraphQL response value out, in one pass: only the
 * selected fields, in selection order, under their response keys (aliases),
 * `__typename` added, nested objects and lists projected recursively and
 * leaf values coerced to their GraphQL scalar type.
 */

#ifndef FQL_TRANSFORM_H
#define FQL_TRANSFORM_H

#include "fql_json.h"
#include "fql_scalar.h"


typedef enum {
    FQL_PF_TYPENAME = 0,     /* the constant type_name of the enclosing proj */
    FQL_PF_SCALAR,
    FQL_PF_OBJECT
} fql_pf_kind_t;

typedef struct fql_proj_s  fql_proj_t;

typedef struct {
    fql_pf_kind_t   kind;
    fql_str_t       out_key;     /* response key: alias or field name */
    fql_str_t       json_key;    /* key in the row's JSON (snake_case) */
    /*
     * List wrapping of the field's type, outermost first: list_depth is the
     * number of list levels (0: not a list); bit i of non_null_mask says
     * level i is non-null, bit list_depth the innermost named type.
     */
    unsigned        list_depth;
    unsigned        non_null_mask;
    fql_scalar_t    scalar;      /* SCALAR */
    fql_proj_t     *sub;         /* OBJECT */
} fql_proj_field_t;

struct fql_proj_s {
    fql_str_t          type_name;    /* for __typename */
    fql_proj_field_t  *fields;       /* distinct response keys, in order */
    unsigned           nfields;
};


/* response path of a value, from the leaf up; index < 0 means key */
typedef struct fql_path_s  fql_path_t;

struct fql_path_s {
    const fql_path_t  *parent;
    fql_str_t          key;
    long               index;
};

/* called for each field error (value written as null); returns 0 or -1 */
typedef int (*fql_field_error_pt)(void *ctx, const fql_path_t *path,
    const char *message);


/*
 * Writes the projection of one row's JSON object.  `path` is the path of
 * the row itself (e.g. "users" / 3).  A row that is JSON null writes null.
 * Returns 0, or -1 when the input is not valid JSON, is not an object or
 * null, or is nested too deeply (nothing useful can be written: the caller
 * reports a field error for the row), or when the wbuf fails.
 */
int fql_transform_row(const fql_proj_t *proj, const char *json, size_t len,
    fql_wbuf_t *out, const fql_path_t *path, fql_field_error_pt on_error,
    void *ctx);

#endif /* FQL_TRANSFORM_H */
