/*
 * GraphQL-over-HTTP request parameters and the JSON values they carry
 * (variables, extensions), read with yajl's event parser into arena trees
 * so that depth is bounded and nothing needs freeing.
 */

#ifndef FQL_REQUEST_H
#define FQL_REQUEST_H

#include "fql_error.h"


typedef enum {
    FQL_J_NULL = 0,
    FQL_J_BOOL,
    FQL_J_NUMBER,
    FQL_J_STRING,
    FQL_J_ARRAY,
    FQL_J_OBJECT
} fql_jkind_t;

typedef struct fql_jval_s  fql_jval_t;

struct fql_jval_s {
    fql_jkind_t    kind;
    int            boolean;
    fql_str_t      str;       /* NUMBER: lexeme; STRING: value (NUL-ended) */
    fql_str_t      key;       /* member name inside an OBJECT */
    fql_jval_t    *items;     /* ARRAY elements, OBJECT members */
    unsigned       count;
    fql_jval_t    *next;
    /* a use of a coerced variable's value (or one of its items): that
     * coerced node, for a cached plan's parameters (fql_var_ref) */
    const fql_jval_t  *var_src;
};


typedef struct {
    fql_str_t      query;           /* data NULL: absent */
    fql_str_t      operation_name;  /* data NULL: absent or null */
    fql_jval_t    *variables;       /* NULL: absent or null */
    fql_jval_t    *extensions;
} fql_request_t;


#define FQL_JSON_MAX_DEPTH  128

/* parses JSON text; returns NULL and adds a BAD_REQUEST error if invalid */
fql_jval_t *fql_json_parse(fql_arena_t *a, const char *text, size_t len,
    fql_errors_t *errs);

/* the request body: an object with query, operationName, variables... */
int fql_request_from_json(fql_arena_t *a, const char *body, size_t len,
    fql_request_t *req, fql_errors_t *errs);

/*
 * GET parameters, already percent-decoded; variables and extensions are
 * JSON text (data NULL when absent).
 */
int fql_request_from_params(fql_arena_t *a, fql_str_t query,
    fql_str_t operation_name, fql_str_t variables, fql_str_t extensions,
    fql_request_t *req, fql_errors_t *errs);

fql_jval_t *fql_jval_member(const fql_jval_t *obj, const char *name);

/*
 * Whether a Content-Type (or a media range of Accept) names type: the
 * whole type/subtype, case-insensitive, then nothing, white space or
 * parameters (application/jsonx is another type).
 */
int fql_media_is(const char *p, size_t len, const char *type);

/*
 * Whether an Accept header prefers application/graphql-response+json to
 * application/json (GraphQL over HTTP), read as RFC 9110 says: each type
 * takes the q of the most specific range that matches it, q=0 refuses
 * it; between equals, the one listed first; with only wildcards, the
 * classic type.
 */
int fql_accept_graphql_response(const char *p, size_t len);

#endif /* FQL_REQUEST_H */
