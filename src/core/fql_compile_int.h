/*
 * The compiler's working state and the interfaces between its parts:
 * the SQL of a root field (fql_sql.c), CollectFields and projection
 * (fql_collect.c, which the introspection resolver in fql_introspect.c
 * shares), and the drivers (fql_compile.c).
 */

#ifndef FQL_COMPILE_INT_H
#define FQL_COMPILE_INT_H

#include "fql_compile.h"
#include "fql_validate.h"


#define FQL_MAX_PATH  16

/* how deep introspection's own selections may be (fraiseql_max_depth
 * does not count them) */
#define FQL_INTROSPECT_DEPTH  32

/* how deep in a selection a guarded field may be */
#define FQL_AUTH_DEPTH  64

/* nodes of the variables visited to find where parameters come from */
#define FQL_PATH_STEPS  100000

/* SQL text grows in the arena; a grown buffer leaves the old one behind */
typedef struct {
    char      *data;
    size_t     len;
    size_t     cap;
    unsigned   nomem:1;     /* a write failed: sticky, see fql_sql_put */
} fql_sql_t;

typedef struct fql_cfield_s  fql_cfield_t;
typedef struct fql_node_s    fql_node_t;

/* one field node of a merged response key */
struct fql_node_s {
    const fql_selection_t  *sel;
    fql_node_t             *next;
};

/* fields collected under one response key (CollectFields) */
struct fql_cfield_s {
    fql_str_t        key;
    fql_node_t      *nodes;
    fql_node_t     **tail;
    fql_cfield_t    *next;
};

/*
 * A parameter made from a variable's value: a variable used many times
 * (`in: $ids` in every arm of an OR) is converted once and bound once per
 * statement, not once per use.
 */
typedef struct {
    /* the key: the coerced value, where it goes, how it is written */
    const fql_jval_t    *src;
    const fql_field_t   *field;
    unsigned char        kind;      /* fql_slot_kind_t, then sc, wild */
    unsigned char        sc;
    unsigned char        wild;
    unsigned char        col;       /* f's column, not its JSON */
    const char          *val;
    fql_slot_t           slot;
    unsigned             stmt;      /* pnum is $pnum in statement stmt */
    unsigned             pnum;
} fql_vmemo_t;

/*
 * A row filter's $jwt placeholder (fql_auth.c): the coerced node's
 * var_src is mark, whose own var_src is &fql_claim_sentinel; arg's
 * from_claim is the claim's JSON pointer.
 */
typedef struct {
    fql_jval_t          mark;
    fql_arg_t           arg;
} fql_claim_src_t;

extern const fql_jval_t  fql_claim_sentinel;

#define fql_is_claim_src(j)                                                   \
    ((j) != NULL && (j)->var_src == &fql_claim_sentinel)

typedef struct {
    fql_vctx_t                   v;
    const fql_compile_limits_t  *limits;
    /* fragments being expanded, to refuse cycles */
    const fql_definition_t      *active[64];
    unsigned                     nactive;
    fql_sql_t                    sql;
    const char                 **params;
    unsigned                     nparams;
    unsigned                     params_cap;
    /* the object fields a nested filter or ordering goes through */
    const fql_field_t           *path[FQL_MAX_PATH];
    unsigned                     npath;
    unsigned                     uses_vector:1;
    unsigned                     uncacheable:1;
    unsigned                     row_filter:1;  /* writing the schema's */
    unsigned                     per_caller:1;  /* introspection, rules */
    unsigned                     introspecting:1;  /* not counted */
    /* what the static limits count (fql_c_count) */
    unsigned                     naliases;
    unsigned                     nfields;
    unsigned                     ndirectives;
    unsigned                     limits_passed;  /* 1 << FQL_COUNT_* */
    /* the root field being compiled, its slicing argument's parameter
     * (1-based) and the cost of the edges, nodes or groups it sizes */
    const fql_field_t           *cost_field;
    unsigned                     cost_param;
    uint64_t                     cost_sized;
    uint64_t                     cost_proj;    /* fql_project's last */
    uint64_t                     cost_row;     /* the root field's */
    /* where the next parameter comes from; parallel to params */
    fql_slot_t                   next_slot;
    fql_slot_t                  *slots;
    unsigned                     path_steps;   /* left for fql_var_path */
    /* parameters from variables, open addressing on src; see above */
    fql_vmemo_t                 *memo;
    unsigned                     memo_cap;     /* a power of two */
    unsigned                     nmemo;
    unsigned                     stmt;         /* statements begun */
    unsigned                     nconds;       /* in this statement's filter */
    size_t                       static_left;  /* bytes; see max_static */
    const fql_jval_t            *claims;       /* the request's, or NULL */
    const fql_caller_t          *caller;       /* ... NULL: anonymous */
    /* the rules met (fql_auth_need), and where the projection is */
    fql_need_t                  *needs;
    fql_need_t                 **needs_tail;
    unsigned                     aroot;        /* root field's index */
    fql_str_t                    aroot_key;
    fql_str_t                    akeys[FQL_AUTH_DEPTH];
    unsigned short               aidx[FQL_AUTH_DEPTH];
} fql_cctx_t;

/* fql_auth.c: a rule met at depth of the projection (0: the root field,
 * with what names the element under it, such as "where.salary") */
int fql_auth_need(fql_cctx_t *c, const fql_rule_t *rule, unsigned depth,
    const char *what, const fql_loc_t *loc);

/* fql_auth.c: the rules a field of type ft meets: its own, its type's
 * (a generated type's: its view's) */
int fql_auth_field(fql_cctx_t *c, const fql_field_t *f, unsigned depth,
    const fql_loc_t *loc);

/* fql_sql.c: a type's row filters, "((flag AND (where)) OR ...)"; 0
 * written when it has none (*wrote 0) */
int fql_sql_row_filter(fql_cctx_t *c, const fql_type_t *t, int *wrote);

/* fql_sql.c: " WHERE <row filters> AND (<where>)", or less, or nothing */
int fql_sql_where_filtered(fql_cctx_t *c, const fql_type_t *t,
    const fql_jval_t *where, int paren, int *wrote);

/* fql_sql.c: the statement's text; writes need no check (fql_sql_end) */
void fql_sql_begin(fql_cctx_t *c);
int fql_sql_end(fql_cctx_t *c, fql_root_plan_t *rp);
void fql_sql_put(fql_cctx_t *c, const char *s, size_t n);
void fql_sql_z(fql_cctx_t *c, const char *s);
void fql_sql_quoted(fql_cctx_t *c, fql_str_t s, char q);
void fql_sql_call(fql_cctx_t *c, const fql_field_t *f);
void fql_sql_cut(fql_cctx_t *c, size_t mark);

#define fql_sql_lit(c, s)  fql_sql_put(c, s, sizeof(s) - 1)

/* fql_sql.c: bound parameters ($n) and where a cached plan finds them */
int fql_sql_param(fql_cctx_t *c, const char *value);
int fql_param_add(fql_cctx_t *c, const char *value);
void fql_sql_ref(fql_cctx_t *c, unsigned n);
int fql_slot_from(fql_cctx_t *c, const fql_jval_t *src,
    fql_slot_kind_t kind, fql_scalar_t sc, unsigned wild);
int fql_param_text(fql_cctx_t *c, fql_scalar_t sc, const fql_jval_t *j,
    const char **out);
int fql_offset_text(fql_cctx_t *c, const fql_loc_t *loc,
    const fql_jval_t *a, const char **out);
int fql_input_json(fql_cctx_t *c, const fql_tref_t *type,
    const fql_jval_t *j, const char **out);
int fql_input_slot(fql_cctx_t *c, const fql_jval_t *input,
    const fql_tref_t *type);
int fql_bind_slot(fql_cctx_t *c, const fql_root_plan_t *rp,
    const fql_slot_t *sl, const fql_jval_t *vars, const char **out);

/* marks the plan uncacheable when a value came from a variable */
void fql_c_static_value(fql_cctx_t *c, const fql_jval_t *j);

/* fql_sql.c: the keys of an orderBy list (a connection adds its id) */
#define FQL_ORDER_KEYS  64

typedef struct {
    const fql_field_t         *field;   /* NULL: the view's id column */
    const fql_field_t *const  *path;    /* the objects it is nested in */
    unsigned                   npath;
    fql_scalar_t               sc;
    unsigned                   desc:1;
} fql_okey_t;

typedef struct {
    fql_okey_t          *keys;        /* in the arena, grown by doubling */
    unsigned             nkeys;
    unsigned             cap;
} fql_order_t;

/* a key added to o (not filled in): NULL when out of memory */
fql_okey_t *fql_order_add(fql_cctx_t *c, fql_order_t *o);

int fql_order_keys(fql_cctx_t *c, const fql_type_t *order,
    const fql_jval_t *list, fql_order_t *o);
void fql_order_expr(fql_cctx_t *c, const fql_okey_t *k);
void fql_order_sql(fql_cctx_t *c, const fql_order_t *o, int reverse);

/* fql_sql.c: the clauses of a list's SELECT */
void fql_sql_from(fql_cctx_t *c, const fql_type_t *t);
void fql_sql_view(fql_cctx_t *c, const fql_type_t *t);
int fql_sql_fn_from(fql_cctx_t *c, const fql_field_t *f,
    const fql_jval_t *args);
int fql_sql_claim_args(fql_cctx_t *c, const fql_field_t *f, unsigned n);
int fql_claim_text(fql_cctx_t *c, const fql_loc_t *loc,
    const fql_arg_t *a, const char **out);
int fql_sql_where(fql_cctx_t *c, const fql_type_t *where,
    const fql_jval_t *obj, int *empty);
int fql_sql_order_list(fql_cctx_t *c, const fql_type_t *order,
    const fql_jval_t *list);
int fql_sql_limit(fql_cctx_t *c, const fql_selection_t *s,
    const fql_jval_t *a);

/* page sizes: the names errors give them (a LIMIT slot's wild); all but
 * a list's are at most FQL_PAGE_MAX, a list's streams row by row */
#define FQL_LIMIT_LIMIT   0
#define FQL_LIMIT_FIRST   1
#define FQL_LIMIT_LAST    2
#define FQL_LIMIT_GROUPS  3

#define FQL_PAGE_MAX  10000

int fql_limit_text(fql_cctx_t *c, const fql_loc_t *loc, unsigned name,
    const fql_jval_t *a, const char **out);

/* fql_sql.c: a field's expression (its column, or its typed JSON at
 * c->path) and the cast a parameter compared with it takes */
void fql_sql_field(fql_cctx_t *c, const fql_field_t *f, fql_scalar_t sc,
    int array);
void fql_sql_cast_suffix(fql_cctx_t *c, const fql_field_t *f,
    fql_scalar_t sc, int array);

/* fql_sql.c: a generated type's JSON object; text written again */
typedef int (*fql_sql_value_pt)(fql_cctx_t *c, void *data,
    const fql_type_t *t, fql_cfield_t *x);

int fql_sql_object(fql_cctx_t *c, const fql_type_t *t, fql_cfield_t *cf,
    fql_sql_value_pt value, void *data);
fql_str_t fql_sql_since(fql_cctx_t *c, size_t mark);

#define fql_sql_again(c, s)  fql_sql_put(c, (s).data, (s).len)

/* fql_connection.c: a page of a view's rows with cursors, as one JSON
 * row; a cursor's value for a cached plan's parameter */
int fql_compile_connection(fql_cctx_t *c, const fql_field_t *f,
    fql_cfield_t *cf, const fql_jval_t *args, fql_root_plan_t *rp);
int fql_cursor_param(fql_cctx_t *c, const fql_root_plan_t *rp,
    const fql_slot_t *sl, const fql_jval_t *j, const char **out);

/* fql_aggregate.c: counts, aggregates and groups, as one JSON row */
int fql_compile_aggregate(fql_cctx_t *c, const fql_field_t *f,
    fql_cfield_t *cf, const fql_jval_t *args, fql_root_plan_t *rp);

/* fql_cost.c: the weight of a type's values, of a field with its
 * arguments given, and of the fields of generated types */
uint32_t fql_type_weight(const fql_type_t *t);
uint64_t fql_cost_args(const fql_field_t *f, const fql_selection_t *s);
uint32_t fql_cost_gen_field(const fql_type_t *type, fql_str_t name);

/* fql_cost.c: whether the field of a generated type is what the root
 * field's slicing argument sizes (a page's edges and nodes, groups) */
int fql_cost_sized_field(const fql_type_t *type, fql_str_t name);

/* fql_cost.c: the parameter just added is the argument name's: the root
 * field's rows if name is a slicing argument of it */
void fql_cost_param(fql_cctx_t *c, fql_str_t name);
void fql_cost_paramz(fql_cctx_t *c, const char *name);  /* NULL: any */

/* fql_cost.c: rp->cost, once its statement and projection are made */
void fql_cost_root(fql_cctx_t *c, const fql_field_t *f,
    const fql_selection_t *s, const fql_type_t *t, fql_root_plan_t *rp);

/* fql_collect.c: the fields of sels on type, merged by response key */
int fql_collect(fql_cctx_t *c, const fql_type_t *type,
    const fql_selection_t *sels, fql_cfield_t **fields);

/* the merged sub-selections of all nodes of a response key, on type */
int fql_collect_sub(fql_cctx_t *c, const fql_type_t *type,
    fql_cfield_t *cf, fql_cfield_t **fields);

/* fql_collect.c: one more of what a static limit counts (FQL_COUNT_*):
 * 0, or -1 with LIMIT_EXCEEDED naming the limit once it is passed */
#define FQL_COUNT_ALIASES     0
#define FQL_COUNT_FIELDS      1
#define FQL_COUNT_DIRECTIVES  2

int fql_c_count(fql_cctx_t *c, unsigned what, unsigned n,
    const fql_loc_t *loc);

/* __typename takes no arguments and no selection: 0, or -1 with an error */
int fql_c_typename(fql_cctx_t *c, const fql_selection_t *s);

/* the projection of fields on type, at depth */
fql_proj_t *fql_project(fql_cctx_t *c, const fql_type_t *type,
    fql_cfield_t *fields, unsigned depth);

/* __typename, __schema or __type of the root: JSON text in *value */
int fql_introspect_root(fql_cctx_t *c, const fql_type_t *root,
    fql_cfield_t *cf, fql_str_t *value);

#endif /* FQL_COMPILE_INT_H */
