/*
 * GraphQL documents (executable and type system, October 2021 spec) as
 * parsed by fql_parse_document().  Every node lives in the arena passed to
 * the parser; lists are singly linked through `next`, in source order.
 */

#ifndef FQL_AST_H
#define FQL_AST_H

#include "fql_str.h"


typedef struct {
    uint32_t  line;       /* 1-based */
    uint32_t  column;     /* 1-based, in Unicode code points */
} fql_loc_t;


typedef struct {
    char       message[256];
    fql_loc_t  loc;
    unsigned   limit:1;     /* max_tokens reached, not a syntax error */
} fql_parse_error_t;


typedef enum {
    FQL_VAL_VARIABLE = 0,
    FQL_VAL_INT,
    FQL_VAL_FLOAT,
    FQL_VAL_STRING,
    FQL_VAL_BOOLEAN,
    FQL_VAL_NULL,
    FQL_VAL_ENUM,
    FQL_VAL_LIST,
    FQL_VAL_OBJECT
} fql_value_kind_t;

typedef struct fql_value_s         fql_value_t;
typedef struct fql_object_field_s  fql_object_field_t;

struct fql_value_s {
    fql_value_kind_t     kind;
    fql_loc_t            loc;
    /*
     * VARIABLE: name without '$'; INT, FLOAT: the lexeme; STRING: the
     * decoded value (escapes resolved, block strings dedented), UTF-8 and
     * NUL-terminated; ENUM: the name.
     */
    fql_str_t            str;
    int                  boolean;
    int                  block;      /* STRING written as """block""" */
    fql_value_t         *items;      /* LIST */
    fql_object_field_t  *fields;     /* OBJECT */
    fql_value_t         *next;       /* sibling in a list */
};

struct fql_object_field_s {
    fql_str_t            name;
    fql_loc_t            loc;
    fql_value_t         *value;
    fql_object_field_t  *next;
};


typedef enum {
    FQL_TYPE_NAMED = 0,
    FQL_TYPE_LIST,
    FQL_TYPE_NON_NULL
} fql_type_ref_kind_t;

typedef struct fql_type_ref_s  fql_type_ref_t;

struct fql_type_ref_s {
    fql_type_ref_kind_t  kind;
    fql_loc_t            loc;
    fql_str_t            name;       /* NAMED */
    fql_type_ref_t      *of;         /* LIST, NON_NULL */
};


typedef struct fql_argument_s {
    fql_str_t                 name;
    fql_loc_t                 loc;
    fql_value_t              *value;
    struct fql_argument_s    *next;
} fql_argument_t;

typedef struct fql_directive_s {
    fql_str_t                 name;
    fql_loc_t                 loc;
    fql_argument_t           *args;
    struct fql_directive_s   *next;
} fql_directive_t;


typedef enum {
    FQL_SEL_FIELD = 0,
    FQL_SEL_SPREAD,
    FQL_SEL_INLINE
} fql_selection_kind_t;

typedef struct fql_selection_s  fql_selection_t;

struct fql_selection_s {
    fql_selection_kind_t  kind;
    fql_loc_t             loc;
    fql_str_t             alias;           /* FIELD; len 0 when absent */
    fql_str_t             name;            /* FIELD name, SPREAD fragment */
    fql_argument_t       *args;            /* FIELD */
    fql_directive_t      *directives;
    fql_str_t             type_condition;  /* INLINE; len 0 when absent */
    /* FIELD (NULL when it has no selection set), INLINE */
    fql_selection_t      *selections;
    fql_selection_t      *next;
};


typedef struct fql_variable_def_s {
    fql_str_t                    name;       /* without '$' */
    fql_loc_t                    loc;
    fql_type_ref_t              *type;
    fql_value_t                 *default_value;  /* NULL when absent */
    fql_directive_t             *directives;
    struct fql_variable_def_s   *next;
} fql_variable_def_t;


/* arguments of fields and directives, fields of input objects */
typedef struct fql_input_value_def_s {
    fql_str_t                      description;   /* data NULL: none */
    fql_str_t                      name;
    fql_loc_t                      loc;
    fql_type_ref_t                *type;
    fql_value_t                   *default_value;
    fql_directive_t               *directives;
    struct fql_input_value_def_s  *next;
} fql_input_value_def_t;

typedef struct fql_field_def_s {
    fql_str_t                 description;
    fql_str_t                 name;
    fql_loc_t                 loc;
    fql_input_value_def_t    *args;
    fql_type_ref_t           *type;
    fql_directive_t          *directives;
    struct fql_field_def_s   *next;
} fql_field_def_t;

typedef struct fql_enum_value_def_s {
    fql_str_t                     description;
    fql_str_t                     name;
    fql_loc_t                     loc;
    fql_directive_t              *directives;
    struct fql_enum_value_def_s  *next;
} fql_enum_value_def_t;

/* implements lists, union members, directive locations */
typedef struct fql_name_list_s {
    fql_str_t                 name;
    fql_loc_t                 loc;
    struct fql_name_list_s   *next;
} fql_name_list_t;


typedef enum {
    FQL_OP_QUERY = 0,
    FQL_OP_MUTATION,
    FQL_OP_SUBSCRIPTION
} fql_op_type_t;

/* schema { query: Q } entries */
typedef struct fql_root_op_s {
    fql_op_type_t           op;
    fql_str_t               type_name;
    fql_loc_t               loc;
    struct fql_root_op_s   *next;
} fql_root_op_t;


typedef enum {
    FQL_DEF_OPERATION = 0,
    FQL_DEF_FRAGMENT,
    FQL_DEF_SCHEMA,
    FQL_DEF_SCALAR,
    FQL_DEF_OBJECT,
    FQL_DEF_INTERFACE,
    FQL_DEF_UNION,
    FQL_DEF_ENUM,
    FQL_DEF_INPUT_OBJECT,
    FQL_DEF_DIRECTIVE
} fql_definition_kind_t;

typedef struct fql_definition_s  fql_definition_t;

struct fql_definition_s {
    fql_definition_kind_t    kind;
    fql_loc_t                loc;
    unsigned                 extension:1;   /* `extend ...` */
    unsigned                 repeatable:1;  /* DIRECTIVE */
    unsigned                 shorthand:1;   /* OPERATION written as { ... } */
    fql_str_t                description;   /* data NULL: none */
    /* operation (len 0: anonymous), fragment, type or directive name */
    fql_str_t                name;
    fql_op_type_t            op;            /* OPERATION */
    fql_variable_def_t      *variables;     /* OPERATION */
    fql_str_t                type_condition;  /* FRAGMENT */
    fql_directive_t         *directives;
    fql_selection_t         *selections;    /* OPERATION, FRAGMENT */
    fql_name_list_t         *interfaces;    /* OBJECT, INTERFACE */
    fql_field_def_t         *fields;        /* OBJECT, INTERFACE */
    /* INPUT_OBJECT fields; DIRECTIVE arguments */
    fql_input_value_def_t   *input_fields;
    fql_name_list_t         *members;       /* UNION */
    fql_enum_value_def_t    *values;        /* ENUM */
    fql_root_op_t           *root_ops;      /* SCHEMA */
    fql_name_list_t         *locations;     /* DIRECTIVE */
    fql_definition_t        *next;
};


typedef struct {
    fql_definition_t  *definitions;
} fql_document_t;


typedef struct {
    /* nesting of selection sets, lists, objects and type wrappers */
    unsigned  max_depth;     /* 0: the default, 128 */
    unsigned  max_tokens;    /* 0: unlimited */
} fql_parse_limits_t;

/* the tokens a request's document may have (a worker lexes them all) */
#define FQL_PARSE_MAX_TOKENS  100000


/*
 * Parses a whole GraphQL document (any mix of executable and type system
 * definitions; deciding which are allowed is validation's job).
 * Returns 0 and sets *doc, or -1 with err filled (message and location of
 * the offending token).  Out of memory is reported as an error too.
 */
/* one GraphQL value (variables allowed), the whole of src */
int fql_parse_value_text(fql_arena_t *a, const char *src, size_t len,
    fql_value_t **out, fql_parse_error_t *err);

int fql_parse_document(fql_arena_t *a, const char *src, size_t len,
    const fql_parse_limits_t *limits, fql_document_t **doc,
    fql_parse_error_t *err);

#endif /* FQL_AST_H */
