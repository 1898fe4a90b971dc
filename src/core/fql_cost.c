/*
 * What an operation costs, in points, before it runs: IBM's cost
 * directives (@cost(weight:), @listSize(assumedSize:, slicingArguments:))
 * read once with the schema, a formula per root field made when the plan
 * is compiled, and its value for each request's variables.
 *
 * A root field costs its weight, the weights of the arguments it is
 * given, and rows times what a row costs: its type's weight (1 for an
 * @view type's row, a group of an aggregate, else 0) and the fields it
 * selects (their weights, nested values each their type's weight, a list
 * inside the row times its @listSize).  Rows are 1 for a field that reads
 * one; for a list, a page's edges and nodes, or the groups of an
 * aggregate, the value of its slicing argument (limit, first, last), else
 * @listSize(assumedSize), else the location's default or maximum limit,
 * else FQL_COST_LIST_SIZE.  A mutation adds FQL_COST_MUTATION.  The plan
 * keeps per root field {fixed, per_row, size or the parameter holding
 * it}, so a cached plan's cost is a few multiplications.
 */

#include <stdlib.h>
#include <string.h>

#include "fql_compile_int.h"
#include "fql_schema_int.h"


/* a weight or a size read from the schema: at most this */
#define FQL_COST_WEIGHT_MAX  1000000


uint64_t
fql_cost_add(uint64_t a, uint64_t b)
{
    return a + b < a || a + b > FQL_COST_MAX ? FQL_COST_MAX : a + b;
}


uint64_t
fql_cost_mul(uint64_t a, uint64_t b)
{
    if (a == 0 || b == 0) {
        return 0;
    }

    return a > FQL_COST_MAX / b ? FQL_COST_MAX : a * b;
}


uint32_t
fql_type_weight(const fql_type_t *t)
{
    if (t->cost_set) {
        return t->cost;
    }

    return (t->kind == FQL_T_OBJECT && t->view_name.len && !t->gen)
           || t->gen == FQL_GEN_GROUP;
}


/* ---- the schema ---- */


static int
fql_cost_int(fql_sb_t *sb, fql_directive_t *d, const char *name,
    uint32_t *out)
{
    long          n;
    fql_value_t  *v;

    v = fql_directive_arg(d, name);
    if (v == NULL || v->kind == FQL_VAL_NULL) {
        return 0;
    }

    n = v->kind == FQL_VAL_INT ? strtol(v->str.data, NULL, 10) : -1;

    if (n < 0 || n > FQL_COST_WEIGHT_MAX) {
        return fql_sb_error(sb, v->loc, "@%.*s(%s:) must be an integer "
                            "from 0 to %d", fql_pstr(d->name), name,
                            FQL_COST_WEIGHT_MAX);
    }

    *out = (uint32_t) n;

    return 0;
}


static int
fql_cost_weight(fql_sb_t *sb, fql_directive_t *dirs, uint32_t *out,
    unsigned *set)
{
    fql_directive_t  *d;

    d = fql_find_directive(dirs, "cost");
    if (d == NULL) {
        return 0;
    }

    if (set != NULL) {
        *set = 1;
    }

    return fql_cost_int(sb, d, "weight", out);
}


/* a list, or a page or aggregate a slicing argument sizes */
static int
fql_cost_sized(const fql_field_t *f)
{
    const fql_tref_t  *tr;
    const fql_type_t  *t;

    tr = f->type->kind == FQL_TYPE_NON_NULL ? f->type->of : f->type;
    t = fql_tref_named(tr);

    return tr->kind == FQL_TYPE_LIST || t->gen == FQL_GEN_CONNECTION;
}


static int
fql_cost_list_size(fql_sb_t *sb, fql_field_t *f, fql_directive_t *dirs)
{
    unsigned          n;
    fql_str_t        *names;
    fql_arg_t        *a;
    fql_value_t      *v, *it;
    fql_directive_t  *d;

    d = fql_find_directive(dirs, "listSize");
    if (d == NULL) {
        return 0;
    }

    if (!fql_cost_sized(f)) {
        return fql_sb_error(sb, d->loc, "@listSize on \"%.*s\", which is "
                            "neither a list nor a connection",
                            fql_pstr(f->name));
    }

    if (fql_cost_int(sb, d, "assumedSize", &f->list_size) != 0) {
        return -1;
    }

    v = fql_directive_arg(d, "slicingArguments");
    if (v == NULL || v->kind != FQL_VAL_LIST) {
        return 0;
    }

    n = 0;
    for (it = v->items; it; it = it->next) {
        n++;
    }

    names = fql_alloc(sb->arena, (n ? n : 1) * sizeof(fql_str_t));
    if (names == NULL) {
        return fql_sb_error(sb, d->loc, "out of memory");
    }

    n = 0;
    for (it = v->items; it; it = it->next) {
        for (a = f->args; a; a = a->next) {
            if (fql_str_eq(a->name, it->str)) {
                break;
            }
        }

        if (a == NULL || fql_tref_named(a->type)->kind != FQL_T_SCALAR
            || fql_tref_named(a->type)->scalar != FQL_SCALAR_INT
            || a->type->kind == FQL_TYPE_LIST
            || (a->type->kind == FQL_TYPE_NON_NULL
                && a->type->of->kind == FQL_TYPE_LIST))
        {
            return fql_sb_error(sb, it->loc, "@listSize(slicingArguments:)"
                                " of \"%.*s\": \"%.*s\" is not an Int "
                                "argument of it", fql_pstr(f->name),
                                fql_pstr(it->str));
        }

        names[n++] = it->str;
    }

    f->slicing = names;
    f->nslicing = n;

    return 0;
}


int
fql_sb_cost(fql_sb_t *sb, fql_document_t *doc)
{
    fql_type_t             *t;
    fql_field_t            *f;
    fql_arg_t              *a;
    fql_field_def_t        *fd;
    fql_definition_t       *def;
    fql_input_value_def_t  *ad;
    unsigned                set;

    for (def = doc->definitions; def; def = def->next) {
        if (def->kind != FQL_DEF_OBJECT && def->kind != FQL_DEF_SCALAR
            && def->kind != FQL_DEF_ENUM)
        {
            continue;
        }

        t = fql_schema_type(sb->schema, def->name);
        if (t == NULL) {
            continue;
        }

        set = 0;
        if (fql_cost_weight(sb, def->directives, &t->cost, &set) != 0) {
            return -1;
        }

        if (set) {
            t->cost_set = 1;
        }

        for (fd = def->fields; fd; fd = fd->next) {
            f = fql_type_field(t, fd->name);
            if (f == NULL) {
                continue;
            }

            if (fql_cost_weight(sb, fd->directives, &f->cost, NULL) != 0
                || fql_cost_list_size(sb, f, fd->directives) != 0)
            {
                return -1;
            }

            for (ad = fd->args; ad; ad = ad->next) {
                for (a = f->args; a; a = a->next) {
                    if (fql_str_eq(a->name, ad->name)) {
                        break;
                    }
                }

                if (a != NULL
                    && fql_cost_weight(sb, ad->directives, &a->cost, NULL)
                       != 0)
                {
                    return -1;
                }
            }
        }
    }

    return 0;
}


/* ---- the compiler ---- */


uint64_t
fql_cost_args(const fql_field_t *f, const fql_selection_t *s)
{
    uint64_t              w;
    const fql_arg_t      *a;
    const fql_argument_t *sa;

    w = f->cost;

    for (sa = s->args; sa; sa = sa->next) {
        for (a = f->args; a; a = a->next) {
            if (fql_str_eq(a->name, sa->name)) {
                w = fql_cost_add(w, a->cost);
                break;
            }
        }
    }

    return w;
}


/* is the argument name one that sizes the root field's rows? */
static int
fql_cost_slicing(const fql_field_t *f, fql_str_t name)
{
    unsigned  i;

    if (f == NULL) {
        return 0;
    }

    if (f->nslicing == 0) {
        return fql_str_eqz(name, "limit") || fql_str_eqz(name, "first")
               || fql_str_eqz(name, "last");
    }

    for (i = 0; i < f->nslicing; i++) {
        if (fql_str_eq(f->slicing[i], name)) {
            return 1;
        }
    }

    return 0;
}


void
fql_cost_param(fql_cctx_t *c, fql_str_t name)
{
    if (c->cost_param == 0 && fql_cost_slicing(c->cost_field, name)) {
        /* the parameter just added */
        c->cost_param = c->nparams;
    }
}


void
fql_cost_paramz(fql_cctx_t *c, const char *name)
{
    fql_str_t  s;

    if (name == NULL) {
        /* what sizes the rows whatever it is called: groups' limit */
        if (c->cost_param == 0) {
            c->cost_param = c->nparams;
        }

        return;
    }

    s.data = (char *) name;
    s.len = strlen(name);

    fql_cost_param(c, s);
}


/* rows when no slicing argument says */
static uint64_t
fql_cost_assumed(fql_cctx_t *c, const fql_field_t *f)
{
    if (f != NULL && f->list_size) {
        return f->list_size;
    }

    if (c->limits && c->limits->default_limit) {
        return c->limits->default_limit;
    }

    if (c->limits && c->limits->max_limit) {
        return c->limits->max_limit;
    }

    return FQL_COST_LIST_SIZE;
}


int
fql_cost_sized_field(const fql_type_t *type, fql_str_t name)
{
    return (type->gen == FQL_GEN_CONNECTION
            && (fql_str_eqz(name, "edges") || fql_str_eqz(name, "nodes")))
           || (type->gen == FQL_GEN_AGGREGATE && fql_str_eqz(name, "groupBy"));
}


uint32_t
fql_cost_gen_field(const fql_type_t *type, fql_str_t name)
{
    /* a page's count is a count of the filtered rows: a scan */
    return type->gen == FQL_GEN_CONNECTION && fql_str_eqz(name, "totalCount");
}


void
fql_cost_root(fql_cctx_t *c, const fql_field_t *f, const fql_selection_t *s,
    const fql_type_t *t, fql_root_plan_t *rp)
{
    uint64_t      row;
    fql_cost_t   *k = &rp->cost;

    k->fixed = fql_cost_args(f, s);
    k->size = fql_cost_assumed(c, f);
    k->size_param = c->cost_param;

    if (f->root == FQL_ROOT_FUNCTION) {
        /* the object a mutation answers with */
        k->fixed = fql_cost_add(k->fixed,
                                fql_cost_add(fql_type_weight(f->success),
                                             c->cost_row));
        return;
    }

    row = fql_cost_add(fql_type_weight(t), c->cost_row);

    if (f->root == FQL_ROOT_CONNECTION || f->root == FQL_ROOT_AGGREGATE) {
        /* the page's or the aggregate's own fields once, its edges,
         * nodes or groups per row; an aggregate reads the view */
        k->fixed = fql_cost_add(k->fixed, row);
        if (f->root == FQL_ROOT_AGGREGATE) {
            k->fixed = fql_cost_add(k->fixed, fql_type_weight(t->view));
        }

        k->per_row = c->cost_sized;
        return;
    }

    if (rp->kind == FQL_RF_LIST) {
        k->per_row = row;
        return;
    }

    k->fixed = fql_cost_add(k->fixed, row);
}


/* ---- requests ---- */


uint64_t
fql_root_rows(const fql_root_plan_t *rp)
{
    const char  *p;
    uint64_t     n;

    if (rp->cost.size_param == 0 || rp->cost.size_param > rp->nparams) {
        return rp->cost.size;
    }

    p = rp->params[rp->cost.size_param - 1];

    /* no value: the list is not limited */
    if (p == NULL || *p < '0' || *p > '9') {
        return rp->cost.size;
    }

    for (n = 0; *p >= '0' && *p <= '9'; p++) {
        n = fql_cost_add(fql_cost_mul(n, 10), (uint64_t) (*p - '0'));
    }

    return n;
}


uint64_t
fql_root_cost(const fql_root_plan_t *rp, uint64_t rows)
{
    return fql_cost_add(rp->cost.fixed, fql_cost_mul(rp->cost.per_row, rows));
}


uint64_t
fql_plan_cost(const fql_plan_t *plan)
{
    uint64_t                cost;
    const fql_root_plan_t  *rp;

    cost = plan->op == FQL_OP_MUTATION ? FQL_COST_MUTATION : 0;

    for (rp = plan->roots; rp; rp = rp->next) {
        cost = fql_cost_add(cost, fql_root_cost(rp, fql_root_rows(rp)));
    }

    return cost;
}


int
fql_plan_check_cost(const fql_plan_t *plan, uint64_t max, uint64_t *cost,
    fql_errors_t *errs)
{
    *cost = fql_plan_cost(plan);

    if (max == 0 || *cost <= max) {
        return 0;
    }

    fql_error_add(errs, NULL, FQL_CODE_COST_LIMIT, "The operation costs "
                  "%llu points, more than %llu (fraiseql_max_cost).",
                  (unsigned long long) *cost, (unsigned long long) max);

    return -1;
}
