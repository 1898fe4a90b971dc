/*
 * From a parsed document, an operation name and variables to a plan: one
 * parameterised SQL statement per root field plus the projection that
 * shapes its rows.  Validation and input coercion happen on the way; every
 * problem becomes a GraphQL error with a location.
 */

#ifndef FQL_COMPILE_H
#define FQL_COMPILE_H

#include "fql_schema.h"
#include "fql_request.h"
#include "fql_error.h"
#include "fql_transform.h"


typedef enum {
    FQL_RF_OBJECT = 0,    /* one row or null */
    FQL_RF_LIST,          /* a list of rows */
    FQL_RF_STATIC,        /* known at compile time: __typename, __schema */
    FQL_RF_MUTATION       /* a function's one row: Success or Error,
                             or (direct) the object or an error */
} fql_root_field_kind_t;

typedef struct fql_root_plan_s  fql_root_plan_t;

/* where a parameter's value comes from in a cached plan */
typedef enum {
    FQL_SLOT_LITERAL = 0,  /* the plan's own text */
    FQL_SLOT_TEXT,         /* a variable's value: its text */
    FQL_SLOT_ARRAY,        /* ... a PostgreSQL array of its items */
    FQL_SLOT_JSON,         /* ... its JSON text */
    FQL_SLOT_PATTERN,      /* ... a LIKE pattern, wildcards escaped */
    FQL_SLOT_LIMIT,        /* ... a page size, checked against the limits */
    FQL_SLOT_OFFSET,
    FQL_SLOT_INPUT,        /* ... a mutation's input: JSON, snake_case */
    FQL_SLOT_CURSOR,       /* ... a connection cursor's key, by index */
    FQL_SLOT_CLAIM,        /* the request's claim an argument names */
    FQL_SLOT_ROW_CLAIM,    /* ... a row filter's $jwt (key: the kind) */
    FQL_SLOT_ROW_ROLES     /* whether a row filter is the caller's */
} fql_slot_kind_t;

typedef struct {
    unsigned char          kind;
    unsigned char          sc;         /* fql_scalar_t of the value */
    unsigned char          wild;       /* PATTERN */
    unsigned short         npath;
    const unsigned short  *path;       /* member/item indexes in variables */
    const struct fql_tref_s  *type;    /* INPUT: the input's type */
    /* CURSOR: the key's index, how many keys, the ordering's print */
    unsigned short         key;
    unsigned short         nkeys;
    uint32_t               print;
    const struct fql_arg_s  *arg;      /* CLAIM: its @fromClaim */
    const fql_row_filter_t  *filter;   /* ROW_ROLES */
} fql_slot_t;

/*
 * What a root field costs (fql_cost.c): fixed + per_row * rows, where
 * rows is the value of parameter size_param (1-based; 0: none), or size
 * when it has none.
 */
typedef struct {
    uint64_t                fixed;
    uint64_t                per_row;
    uint64_t                size;
    unsigned                size_param;
} fql_cost_t;

/* points: a mutation's own, a list's rows when nothing bounds them, and
 * the most any sum reaches (sums saturate there) */
#define FQL_COST_MUTATION   10
#define FQL_COST_LIST_SIZE  100
#define FQL_COST_MAX        1000000000000000ULL

struct fql_root_plan_s {
    fql_root_field_kind_t   kind;
    fql_str_t               response_key;
    fql_str_t               value;           /* STATIC: JSON text */
    unsigned                non_null:1;      /* the field's type is T! */
    unsigned                items_non_null:1;
    unsigned                uses_vector:1;   /* needs pgvector */
    unsigned                direct:1;        /* MUTATION: returns T */
    const char             *sql;             /* NUL-terminated */
    size_t                  sql_len;
    unsigned                nparams;
    const char            **params;          /* text values, NULL: SQL null */
    const fql_slot_t       *slots;           /* nparams of them */
    uint64_t                sql_hash;        /* FNV-1a of sql */
    fql_proj_t             *proj;
    fql_proj_t             *proj_error;      /* MUTATION: the Error type's */
    fql_str_t               entity_key;      /* MUTATION: Success's entity */
    fql_cost_t              cost;
    fql_loc_t               loc;
    fql_root_plan_t        *next;
};

/*
 * An element of the operation that a rule guards, found at compile time:
 * a field (depth > 0: fidx are its indexes down the root's projection),
 * or a root field, its arguments, its filters and orderings (depth 0).
 */
typedef struct fql_need_s {
    const fql_rule_t       *rule;
    const char             *path;        /* "users.email", for messages */
    fql_loc_t               loc;
    unsigned                root;        /* the root field's index */
    unsigned                depth;
    const unsigned short   *fidx;
    struct fql_need_s      *next;
} fql_need_t;

typedef struct {
    fql_op_type_t       op;
    fql_str_t           name;        /* the operation's (len 0: none) */
    fql_root_plan_t    *roots;       /* in document order, keys merged */
    const fql_need_t   *needs;       /* rules to check for each request */
    unsigned            nroots;
    unsigned            nqueries;    /* roots that run SQL */
    unsigned            uncacheable:1;  /* values shaped more than SQL */
    unsigned            per_caller:1;   /* introspection under rules */
} fql_plan_t;

typedef struct {
    unsigned   max_depth;            /* selection depth; 0: unlimited */
    unsigned   default_limit;        /* list pages without limit; 0: all */
    unsigned   max_limit;            /* larger limits refused; 0: none */
    unsigned   max_root_fields;      /* per operation; 0: unlimited */
    /* of the operation with its fragments spread, introspection's
     * __schema and __type aside; 0: unlimited */
    unsigned   max_aliases;          /* response keys not the name */
    unsigned   max_fields;           /* distinct response keys */
    unsigned   max_directives;       /* on fields and fragments */
    unsigned   max_conditions;       /* per filter; 0: unlimited */
    size_t     max_static;           /* bytes answered at compile time */
    unsigned   no_introspection:1;   /* __schema and __type refused */
} fql_compile_limits_t;

/*
 * The engine as a location configures it: built once (in nginx, when
 * the configuration is merged), then only read by requests.
 */
typedef struct {
    const fql_schema_t     *schema;
    fql_parse_limits_t      parse;
    fql_compile_limits_t    compile;
} fql_engine_t;


/*
 * The request's operation (operation_name) of doc with its variables.
 * Returns 0 with *plan set, or -1 with errors added (validation, coercion
 * or out of memory).  The document must come from fql_parse_document;
 * req->query is not read.
 */
int fql_compile(fql_arena_t *a, const fql_engine_t *eng,
    const fql_document_t *doc, const fql_request_t *req, fql_plan_t **plan,
    fql_errors_t *errs);

/*
 * fql_compile on a document that fql_validate_document has accepted
 * (a cached one): the rules are not run again.
 */
int fql_compile_validated(fql_arena_t *a, const fql_engine_t *eng,
    const fql_document_t *doc, const fql_request_t *req, fql_plan_t **plan,
    fql_errors_t *errs);

/*
 * A cached plan for new variables, already coerced (vars as fql_vctx_t
 * holds them): the parameters that come from variables are computed
 * again, the rest is shared with tmpl.
 */
int fql_plan_bind(fql_arena_t *a, const fql_plan_t *tmpl,
    const fql_jval_t *vars, const fql_request_t *req,
    const fql_compile_limits_t *limits, fql_plan_t **plan,
    fql_errors_t *errs);

/*
 * The plan's rules for the caller (NULL: an anonymous one).  Returns 0
 * when the operation may run: every rule holds, or (null_mode) the
 * elements that break one are answered null, each with a FORBIDDEN error
 * and *plan then a copy of the plan that says so.  Returns -1 with a
 * FORBIDDEN error per element denied (the operation is refused), or when
 * out of memory.
 */
int fql_plan_authorize(fql_arena_t *a, fql_plan_t **plan,
    const fql_caller_t *caller, int null_mode, fql_errors_t *errs);

/*
 * What the plan's operation costs for its bound variables: the sum of its
 * root fields' and a mutation's own (fql_cost.c).
 */
uint64_t fql_plan_cost(const fql_plan_t *plan);

/* a root field's rows as its parameters say, and its cost for rows */
uint64_t fql_root_rows(const fql_root_plan_t *rp);
uint64_t fql_root_cost(const fql_root_plan_t *rp, uint64_t rows);

/*
 * fql_plan_cost in *cost; -1 with COST_LIMIT_EXCEEDED when it is over max
 * (0: no maximum).
 */
int fql_plan_check_cost(const fql_plan_t *plan, uint64_t max,
    uint64_t *cost, fql_errors_t *errs);

/* sums that stop at FQL_COST_MAX */
uint64_t fql_cost_add(uint64_t a, uint64_t b);
uint64_t fql_cost_mul(uint64_t a, uint64_t b);

/*
 * The length of the answer to GraphiQL's introspection query on the
 * schema (0 if it cannot be planned): introspection beyond a few times
 * that is aliases multiplying it.
 */
size_t fql_introspection_size(const fql_schema_t *schema);

/*
 * What the plan holds, copied into a: strings of the schema and of the
 * document (which must outlive the copy) are shared, the rest is copied,
 * so that a plan compiled in a request's memory can be kept compact.
 */
int fql_plan_copy(fql_arena_t *a, const fql_plan_t *src, fql_plan_t **plan);

#endif /* FQL_COMPILE_H */
