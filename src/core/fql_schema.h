/*
 * The schema registry, built once at configuration time from GraphQL SDL
 * with FraiseQL's directives: object types bound to views (@view), fields
 * bound to real columns (@column), root query fields that fetch by id or
 * list with generated where/orderBy input types.
 */

#ifndef FQL_SCHEMA_H
#define FQL_SCHEMA_H

#include "fql_ast.h"
#include "fql_scalar.h"


typedef enum {
    FQL_T_SCALAR = 0,
    FQL_T_OBJECT,
    FQL_T_INTERFACE,
    FQL_T_UNION,
    FQL_T_ENUM,
    FQL_T_INPUT
} fql_type_kind_t;

typedef struct fql_type_s   fql_type_t;
typedef struct fql_field_s  fql_field_t;
typedef struct fql_arg_s    fql_arg_t;
typedef struct fql_tref_s   fql_tref_t;

/*
 * Authorization (fql_auth.c).  Roles (declared with @role), permissions
 * and scopes (named by the rules) are numbered, at most FQL_AUTH_MAX of
 * each, so that a rule is a few bitsets and a request's check a few bit
 * tests.
 */
#define FQL_AUTH_MAX  64

/* @authenticated and @auth(roles:, permissions:, scopes:) */
typedef struct {
    uint64_t         roles;          /* any of these (has_roles) */
    uint64_t         perms;          /* all of these */
    const uint64_t  *scopes;         /* any of these all-of sets */
    unsigned         nscopes;
    unsigned         has_roles:1;
    unsigned         authenticated:1;
} fql_rule_t;

/* @rowFilter(roles:, where:): the where input's coerced value, whose
 * $jwt placeholders become parameters bound from each request's claims */
typedef struct fql_row_filter_s {
    uint64_t                    roles;
    const struct fql_jval_s    *where;
    struct fql_row_filter_s    *next;
} fql_row_filter_t;

/* who asks, as the server found out (fql_request_t.caller) */
typedef struct fql_caller_s {
    uint64_t    roles;               /* with the roles they inherit */
    uint64_t    perms;
    uint64_t    scopes;
    unsigned    authenticated:1;     /* a verified token */
} fql_caller_t;

typedef struct {
    fql_str_t   names[FQL_AUTH_MAX];
    unsigned    n;
} fql_names_t;

typedef struct {
    fql_names_t   roles;
    fql_names_t   perms;
    fql_names_t   scopes;
    /* a role's bit and the bits of the roles it inherits, transitively:
     * a caller with the role has the grants of all of them */
    uint64_t      grants[FQL_AUTH_MAX];
    unsigned      rules;             /* rules and filters in the schema */
} fql_authz_t;

/* a resolved type reference */
struct fql_tref_s {
    fql_type_ref_kind_t   kind;
    fql_type_t           *type;     /* NAMED */
    fql_tref_t           *of;       /* LIST, NON_NULL */
};

/* field arguments and input object fields */
struct fql_arg_s {
    fql_str_t       name;
    fql_str_t       description;
    fql_tref_t     *type;
    fql_value_t    *default_value;    /* NULL: none */
    fql_str_t       json_key;         /* input fields: snake_case */
    /* generated filter inputs: the operator this field stands for */
    const struct fql_operator_s  *op;
    fql_field_t    *filter_field;     /* generated where/orderBy inputs */
    unsigned        fn_param:1;       /* a query function's own argument */
    /* @fromClaim(pointer:): bound from the verified token, never sent */
    fql_str_t       from_claim;
    uint32_t        cost;             /* @cost(weight:): when given */
    fql_arg_t      *next;
};

typedef enum {
    FQL_ROOT_NONE = 0,
    FQL_ROOT_BY_ID,
    FQL_ROOT_LIST,
    FQL_ROOT_FUNCTION,      /* a mutation: a call of a SQL function */
    FQL_ROOT_QUERY_FN,      /* rows of a set-returning SQL function */
    FQL_ROOT_CONNECTION,    /* a page of a view's rows, with cursors */
    FQL_ROOT_AGGREGATE      /* counts and aggregates of a view's rows */
} fql_root_kind_t;

/* what a type generated for an @view type's pages and aggregates is */
typedef enum {
    FQL_GEN_NONE = 0,
    FQL_GEN_CONNECTION,     /* XConnection: edges, nodes, pageInfo, ... */
    FQL_GEN_EDGE,           /* XEdge: cursor, node */
    FQL_GEN_PAGE_INFO,      /* PageInfo, shared by all connections */
    FQL_GEN_AGGREGATE,      /* XAggregate: count, sum... groupBy */
    FQL_GEN_AGG_FIELDS,     /* XSumFields...: one field per view field */
    FQL_GEN_GROUP,          /* XGroup: key and the aggregates of a group */
    FQL_GEN_GROUP_KEY       /* XGroupKey: the grouped fields' values */
} fql_gen_t;

struct fql_field_s {
    fql_str_t        name;
    fql_str_t        description;
    fql_str_t        json_key;        /* snake_case key inside `data` */
    fql_str_t        column;          /* @column: real column; len 0: none */
    fql_str_t        deprecation;     /* data NULL: not deprecated */
    fql_tref_t      *type;
    fql_arg_t       *args;
    fql_root_kind_t  root;            /* fields of the root types */
    fql_loc_t        loc;
    /* @function(name:, schema:) of a mutation or a query function */
    fql_str_t        fn_schema;       /* len 0: search_path */
    fql_str_t        fn_name;
    fql_type_t      *success;         /* members of its result union; */
    fql_type_t      *failure;         /* NULL: returns success directly */
    fql_field_t     *entity;          /* success's object field, or NULL */
    /* @fromClaim arguments: not among args, so no client sees or sets
     * them; the function receives each by name */
    fql_arg_t       *claim_args;
    const fql_rule_t  *rule;          /* @auth, @authenticated; NULL */
    uint32_t         cost;            /* @cost(weight:), per value */
    /* @listSize: a list's assumed length (0: none), and the arguments
     * that give it (a list's limit, a page's first and last if none) */
    uint32_t         list_size;
    const fql_str_t *slicing;
    unsigned         nslicing;
    fql_field_t     *next;
};

typedef struct fql_enum_value_s {
    fql_str_t                  name;
    fql_str_t                  description;
    fql_str_t                  deprecation;
    struct fql_enum_value_s   *next;
} fql_enum_value_t;

typedef struct fql_type_list_s {
    fql_type_t               *type;
    struct fql_type_list_s   *next;
} fql_type_list_t;

struct fql_type_s {
    fql_type_kind_t    kind;
    fql_str_t          name;
    fql_str_t          description;
    fql_scalar_t       scalar;        /* SCALAR; ENUM uses FQL_SCALAR_ENUM */
    unsigned           builtin:1;
    unsigned           generated:1;   /* where/orderBy/filter inputs */
    unsigned           filter:1;      /* generated operators of a scalar */
    unsigned           where_done:1;  /* where/orderBy inputs filled */
    unsigned           gen:4;         /* fql_gen_t: an output type made */
    fql_type_t        *view;          /* GEN: the @view type it is for */
    fql_loc_t          loc;           /* GEN: where it was first named */
    fql_field_t       *fields;        /* OBJECT, INTERFACE */
    fql_arg_t         *input_fields;  /* INPUT */
    fql_enum_value_t  *values;        /* ENUM */
    fql_type_list_t   *interfaces;    /* OBJECT, INTERFACE */
    fql_type_list_t   *members;       /* UNION */
    fql_str_t          view_schema;   /* @view; len 0: search_path */
    fql_str_t          view_name;     /* len 0: not bound to a view */
    fql_type_t        *where_input;   /* OBJECT with a view */
    fql_type_t        *order_input;
    const fql_rule_t  *rule;          /* @auth, @authenticated; NULL */
    fql_row_filter_t  *filters;       /* @rowFilter; NULL: none */
    uint32_t           cost;          /* @cost(weight:) of each value */
    unsigned           cost_set:1;    /* ... else fql_type_weight's */
    fql_type_t        *next;
};


/* where operators: one row each in fql_operators[] */
typedef enum {
    FQL_OPV_SAME = 0,     /* the field's type (a list field's: its items') */
    FQL_OPV_LIST,         /* [T!] */
    FQL_OPV_BOOLEAN,      /* a flag */
    FQL_OPV_INT,
    FQL_OPV_STRING,
    FQL_OPV_STRING_LIST,
    FQL_OPV_DATE,
    FQL_OPV_INPUT         /* the generated input object named by input */
} fql_op_value_t;

/* how the value becomes parameters */
typedef enum {
    FQL_OPX_TEXT = 0,     /* its text */
    FQL_OPX_ARRAY,        /* a PostgreSQL array literal of its items */
    FQL_OPX_JSON,         /* its JSON text */
    FQL_OPX_PATTERN,      /* a LIKE pattern, its wildcards escaped */
    FQL_OPX_MEMBERS       /* an input object: one parameter per member */
} fql_op_xf_t;

/* PATTERN: where the value may sit inside the text */
#define FQL_OP_PREFIX   1     /* "%value": the text ends with it */
#define FQL_OP_SUFFIX   2     /* "value%": the text starts with it */

/* scalars: bit (1 << fql_scalar_t) per type, or this for list fields */
#define FQL_OP_ARRAYS   0x80000000u

/*
 * sql is a template: %e is the field's expression, %v the value as a
 * parameter cast to the field's type, %a the value as an array of it,
 * %1..%3 the value's parameters as they are (the same $n each time).
 */
typedef struct fql_operator_s {
    const char       *name;
    unsigned          scalars;
    fql_op_value_t    value;
    fql_op_xf_t       xf;
    const char       *sql;
    unsigned          wild;      /* PATTERN: FQL_OP_PREFIX | FQL_OP_SUFFIX */
    const char       *input;     /* INPUT: the input object's name */
} fql_operator_t;

extern const fql_operator_t  fql_operators[];


/* a directive definition (built-in or declared in the SDL) */
typedef struct fql_directive_def_s {
    fql_str_t                     name;
    fql_str_t                     description;
    fql_arg_t                    *args;
    fql_name_list_t              *locations;
    unsigned                      repeatable:1;
    unsigned                      builtin:1;
    struct fql_directive_def_s   *next;
} fql_directive_def_t;


typedef struct {
    fql_arena_t   *arena;
    fql_type_t    *types;          /* all named types, builtins included */
    fql_directive_def_t  *directives;
    fql_type_t    *query;
    fql_type_t    *mutation;
    fql_type_t    *subscription;
    /* the built-in scalar types; NULL for FQL_SCALAR_ENUM */
    fql_type_t    *scalars[FQL_SCALAR_N];
    fql_type_t    *order_direction;
    /* bytes of the answer to GraphiQL's whole introspection query */
    size_t         introspection_size;
    fql_authz_t    authz;
} fql_schema_t;


/*
 * Builds the schema from SDL text.  On error returns -1 and fills err with
 * the location and reason (parse errors and schema errors alike).
 */
int fql_schema_build(fql_arena_t *a, const char *sdl, size_t len,
    fql_schema_t **schema, fql_parse_error_t *err);

/*
 * The directives a schema file uses, checked against those built in and
 * those it declares (fql_sdl.c): -1 with err filled on the first error.
 */
int fql_sdl_check_directives(const fql_schema_t *s,
    const fql_document_t *doc, fql_parse_error_t *err);

fql_type_t *fql_schema_type(const fql_schema_t *s, fql_str_t name);
fql_field_t *fql_type_field(const fql_type_t *t, fql_str_t name);
fql_arg_t *fql_arg_find(fql_arg_t *args, fql_str_t name);

/* innermost named type of a reference */
fql_type_t *fql_tref_named(const fql_tref_t *t);

/* a list of scalars or enums, as where: filters it (or NULL) */
fql_type_t *fql_tref_scalar_list(const fql_tref_t *t);

/* the operator called name in any row, or NULL */
const fql_operator_t *fql_operator_named(fql_str_t name);

/* writes the GraphQL notation of a type reference, e.g. "[User!]!" */
size_t fql_tref_print(const fql_tref_t *t, char *buf, size_t size);

/* camelCase -> snake_case as FraiseQL does it ("firstName" -> first_name) */
fql_str_t fql_snake_case(fql_arena_t *a, fql_str_t name);

/* fql_auth.c: a rule holds for the caller */
int fql_rule_allows(const fql_rule_t *r, const fql_caller_t *caller);

/* fql_auth.c: a role's grants (0: no such role), a permission's or a
 * scope's bit (0: the schema names none such) */
uint64_t fql_auth_role(const fql_authz_t *az, const char *name, size_t len);
uint64_t fql_auth_bit(const fql_names_t *names, const char *name,
    size_t len);

/* a composite type is an output type with fields (object, interface) */
#define fql_type_is_composite(t)                                              \
    ((t)->kind == FQL_T_OBJECT || (t)->kind == FQL_T_INTERFACE                \
     || (t)->kind == FQL_T_UNION)

#define fql_type_is_input(t)                                                  \
    ((t)->kind == FQL_T_SCALAR || (t)->kind == FQL_T_ENUM                     \
     || (t)->kind == FQL_T_INPUT)

#endif /* FQL_SCHEMA_H */
