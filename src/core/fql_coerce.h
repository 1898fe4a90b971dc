/*
 * Input coercion shared by validation and the compiler: the operation to
 * run, variables coerced against their definitions, argument values
 * coerced against argument types.  Coerced values are fql_jval_t trees:
 * numbers keep a normalised lexeme, enums and IDs are strings.
 */

#ifndef FQL_COERCE_H
#define FQL_COERCE_H

#include "fql_schema.h"
#include "fql_json.h"
#include "fql_error.h"
#include "fql_index.h"


typedef struct fql_vctx_s  fql_vctx_t;

/*
 * Static validation: a variable used where a value of `type` goes (NULL:
 * anywhere, inside a JSON literal).
 */
typedef int (*fql_var_usage_pt)(fql_vctx_t *v, const fql_value_t *var,
    const fql_tref_t *type);

struct fql_vctx_s {
    fql_arena_t              *arena;
    const fql_schema_t       *schema;
    const fql_document_t     *doc;
    const fql_definition_t   *op;
    fql_jval_t               *vars;     /* coerced: an OBJECT */
    /* the same values by op's definition order, NULL for the absent */
    const fql_jval_t        **var_vals;
    fql_errors_t             *errs;
    /*
     * Set while validating the document statically: variables have no
     * values yet, their uses are reported here instead.
     */
    fql_var_usage_pt          on_variable;
    void                     *data;
    /* ... and the value that stands for the variable reported */
    fql_jval_t               *placeholder;
    /* the input field whose value is being coerced, for messages */
    const fql_arg_t          *in_arg;
    /* lookups by name, each built on first use for its list */
    fql_index_t               frags;
    const fql_document_t     *frags_of;
    fql_index_t               var_defs;
    const fql_definition_t   *var_defs_of;
};


/* the operation chosen by name (or the lone one), or NULL with an error */
const fql_definition_t *fql_select_operation(const fql_document_t *doc,
    fql_str_t name, fql_errors_t *errs);

/*
 * Coerces the request's variables against op's definitions into v->vars
 * and v->var_vals.
 */
int fql_coerce_variables(fql_vctx_t *v, const fql_jval_t *given);

/*
 * Coerces a literal (or variable) against an input type.  Returns 0 and
 * sets *out (NULL when the value is absent: an unset variable), or -1.
 */
int fql_coerce_literal(fql_vctx_t *v, const fql_tref_t *type,
    const fql_value_t *value, fql_jval_t **out);

/* coerces the arguments of a field: an OBJECT of name -> value */
int fql_coerce_arguments(fql_vctx_t *v, fql_arg_t *defs,
    fql_argument_t *given, const fql_str_t *field, fql_loc_t loc,
    fql_jval_t **out);

/* doc's fragment of that name (the first), or NULL */
const fql_definition_t *fql_find_fragment_def(fql_vctx_t *v, fql_str_t name);

/* op's variable definitions by name (built once); NULL: no memory */
const fql_index_t *fql_var_defs(fql_vctx_t *v, const fql_definition_t *op);

/* op's definition of the variable (the first), or NULL */
const fql_variable_def_t *fql_find_var_def(fql_vctx_t *v, fql_str_t name);

/* the coerced value of the variable, or NULL when it has none */
const fql_jval_t *fql_find_var_value(fql_vctx_t *v, fql_str_t name);

/* the value of @skip/@include: 1 when the node must be left out */
int fql_skip_node(fql_vctx_t *v, fql_directive_t *dirs, int *skip);

#endif /* FQL_COERCE_H */
