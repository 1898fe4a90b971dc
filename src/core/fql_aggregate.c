/*
 * Counts, aggregates and groups of a view's rows as one statement whose
 * one row is the answer in JSON, under the response keys:
 *
 *   SELECT json_build_object('count', count(*),
 *            'avg', json_build_object('age', avg(<age>)),
 *            'byRole', (SELECT COALESCE(json_agg("j" ORDER BY "k0"), '[]')
 *                       FROM (SELECT json_build_object(...) AS "j",
 *                                    <role> AS "k0"
 *                             FROM <view> WHERE <where>
 *                             GROUP BY <role> ORDER BY <role> LIMIT $n)
 *                       AS "g"))
 *   FROM <view> WHERE <where>
 *
 * A field's expression is the one filters use (its column, or its typed
 * JSON), so aggregates see the values `where` compares.  The filter's
 * text is written once and repeated for each group, its parameters the
 * same $n.
 */

#include <stdio.h>
#include <stdlib.h>

#include "fql_compile_int.h"


typedef struct {
    const fql_type_t   *view;
    const fql_jval_t   *where;
    fql_str_t           where_sql;     /* " WHERE (...)" or empty */
    unsigned            where_done:1;
} fql_agg_t;


/* FROM the view, filtered */
static int
fql_agg_from(fql_cctx_t *c, fql_agg_t *ag)
{
    int     wrote;
    size_t  mark;

    fql_sql_lit(c, " FROM ");
    fql_sql_view(c, ag->view);

    if (ag->where_done) {
        fql_sql_again(c, ag->where_sql);
        return 0;
    }

    ag->where_done = 1;

    /* the schema's row filters, then the client's where within them */
    mark = c->sql.len;

    if (fql_sql_where_filtered(c, ag->view, ag->where, 1, &wrote) != 0) {
        return -1;
    }

    if (!wrote) {
        return 0;
    }

    ag->where_sql = fql_sql_since(c, mark);

    return 0;
}


/* the view field a generated field stands for, as filters read it */
static void
fql_agg_expr(fql_cctx_t *c, const fql_agg_t *ag, fql_str_t name)
{
    const fql_field_t  *f;

    f = fql_type_field(ag->view, name);
    fql_sql_field(c, f, fql_tref_named(f->type)->scalar, 0);
}


static const fql_type_t *
fql_agg_field_type(const fql_type_t *t, fql_str_t name)
{
    return fql_tref_named(fql_type_field(t, name)->type);
}


/* what the values of an object are written from */
typedef struct {
    fql_agg_t          *ag;
    fql_str_t           fn;        /* sum { a }: sum(<a>) */
    const fql_str_t    *keys;      /* a group's: the fields grouped by */
    unsigned            nkeys;
} fql_agg_obj_t;


/* sum { a b }: fn(<a>), fn(<b>) */
static int
fql_agg_fn(fql_cctx_t *c, void *data, const fql_type_t *t, fql_cfield_t *x)
{
    fql_agg_obj_t  *o = data;

    (void) t;

    fql_sql_put(c, o->fn.data, o->fn.len);
    fql_sql_lit(c, "(");
    fql_agg_expr(c, o->ag, x->nodes->sel->name);
    fql_sql_lit(c, ")");

    return 0;
}


/* key { a }: only a field the group is made by */
static int
fql_agg_key(fql_cctx_t *c, void *data, const fql_type_t *t, fql_cfield_t *x)
{
    unsigned        i;
    fql_str_t       name = x->nodes->sel->name;
    fql_agg_obj_t  *o = data;

    (void) t;

    for (i = 0; i < o->nkeys && !fql_str_eq(o->keys[i], name); i++) {
        /* void */
    }

    if (i == o->nkeys) {
        fql_error_add(c->v.errs, &x->nodes->sel->loc, FQL_CODE_BAD_INPUT,
                      "\"%.*s\" is not a key of this group: "
                      "groupBy(fields:) does not name it.", fql_pstr(name));
        return -1;
    }

    fql_agg_expr(c, o->ag, name);

    return 0;
}


static int fql_agg_group(fql_cctx_t *c, fql_agg_t *ag, const fql_type_t *t,
    fql_cfield_t *cf);


/*
 * A field of an XAggregate (keys none) or of an XGroup: count, the
 * aggregates, a group's key, an aggregate's groups.
 */
static int
fql_agg_field(fql_cctx_t *c, void *data, const fql_type_t *t,
    fql_cfield_t *x)
{
    fql_str_t       name = x->nodes->sel->name;
    fql_agg_obj_t  *o = data, sub;

    if (fql_str_eqz(name, "count")) {
        fql_sql_lit(c, "count(*)");
        return 0;
    }

    if (fql_str_eqz(name, "groupBy")) {
        return fql_agg_group(c, o->ag, t, x);
    }

    /* the function's name is the schema's (sum, avg, min, max) */
    sub = *o;
    sub.fn = fql_type_field(t, name)->name;

    return fql_sql_object(c, fql_agg_field_type(t, name), x,
                          fql_str_eqz(name, "key") ? fql_agg_key
                                                   : fql_agg_fn, &sub);
}


/* the groups, by the fields named, ordered by them */
static int
fql_agg_group(fql_cctx_t *c, fql_agg_t *ag, const fql_type_t *t,
    fql_cfield_t *cf)
{
    char                    buf[32];
    unsigned                nkeys, i, k;
    fql_str_t              *keys;
    const char             *p;
    fql_jval_t             *args;
    fql_agg_obj_t           o;
    const fql_jval_t       *list, *it, *limit;
    const fql_field_t      *f, *vf;
    const fql_selection_t  *s = cf->nodes->sel;

    f = fql_type_field(t, s->name);

    if (fql_coerce_arguments(&c->v, f->args, s->args, &f->name, s->loc,
                             &args) != 0)
    {
        return -1;
    }

    /* the enum values are the view's field names; the same one once */
    list = fql_jval_member(args, "fields");
    keys = fql_alloc(c->v.arena, (list->count + 1) * sizeof(fql_str_t));
    if (keys == NULL) {
        return fql_error_nomem(c->v.errs);
    }

    nkeys = 0;

    for (it = list->items; it; it = it->next) {
        for (k = 0; k < nkeys && !fql_str_eq(keys[k], it->str); k++) {
            /* void */
        }

        if (k == nkeys) {
            keys[nkeys++] = it->str;

            /* grouping by a guarded field tells of its values */
            vf = fql_type_field(ag->view, it->str);
            if (vf != NULL && vf->rule != NULL
                && fql_auth_need(c, vf->rule, 0, "groupBy", &s->loc) != 0)
            {
                return -1;
            }
        }
    }

    limit = fql_jval_member(args, "limit");

    if (fql_limit_text(c, &s->loc, FQL_LIMIT_GROUPS, limit, &p) != 0) {
        return -1;
    }

    fql_sql_lit(c, "(SELECT COALESCE(json_agg(\"j\"");

    for (i = 0; i < nkeys; i++) {
        fql_sql_z(c, i ? ", " : " ORDER BY ");
        fql_sql_put(c, buf, snprintf(buf, sizeof(buf), "\"k%u\"", i));
    }

    fql_sql_lit(c, "), '[]') FROM (SELECT ");

    o.ag = ag;
    o.keys = keys;
    o.nkeys = nkeys;

    if (fql_sql_object(c, fql_tref_named(f->type), cf, fql_agg_field, &o)
        != 0)
    {
        return -1;
    }

    fql_sql_lit(c, " AS \"j\"");

    for (i = 0; i < nkeys; i++) {
        fql_sql_lit(c, ", ");
        fql_agg_expr(c, ag, keys[i]);
        fql_sql_put(c, buf, snprintf(buf, sizeof(buf), " AS \"k%u\"", i));
    }

    if (fql_agg_from(c, ag) != 0) {
        return -1;
    }

    fql_sql_lit(c, " GROUP BY ");

    if (nkeys == 0) {
        fql_sql_lit(c, "()");
    }

    for (i = 0; i < nkeys; i++) {
        if (i) {
            fql_sql_lit(c, ", ");
        }

        fql_agg_expr(c, ag, keys[i]);
    }

    for (i = 0; i < nkeys; i++) {
        fql_sql_z(c, i ? ", " : " ORDER BY ");
        fql_agg_expr(c, ag, keys[i]);
    }

    if (p != NULL) {
        if (limit != NULL && limit->kind == FQL_J_NUMBER
            && fql_slot_from(c, limit, FQL_SLOT_LIMIT, FQL_SCALAR_INT,
                             FQL_LIMIT_GROUPS) != 0)
        {
            return -1;
        }

        fql_sql_lit(c, " LIMIT ");

        if (fql_sql_param(c, p) != 0) {
            return -1;
        }

        fql_cost_paramz(c, NULL);
        fql_sql_lit(c, "::bigint");
    }

    fql_sql_lit(c, ") AS \"g\")");

    return 0;
}


int
fql_compile_aggregate(fql_cctx_t *c, const fql_field_t *f,
    fql_cfield_t *cf, const fql_jval_t *args, fql_root_plan_t *rp)
{
    int                  whole;
    fql_str_t            name;
    fql_agg_t            ag;
    fql_agg_obj_t        o;
    fql_cfield_t        *sub, *x;
    const fql_type_t    *t;

    (void) rp;

    t = fql_tref_named(f->type);

    ag.view = t->view;
    ag.where = fql_jval_member(args, "where");
    ag.where_sql.data = "";
    ag.where_sql.len = 0;
    ag.where_done = 0;

    if (fql_collect_sub(c, t, cf, &sub) != 0) {
        return -1;
    }

    /* groups alone: no aggregate of the whole set, no FROM of its own */
    whole = 0;

    for (x = sub; x; x = x->next) {
        name = x->nodes->sel->name;

        if (!fql_str_eqz(name, "__typename")
            && !fql_str_eqz(name, "groupBy"))
        {
            whole = 1;
        }
    }

    fql_sql_lit(c, "SELECT ");

    o.ag = &ag;
    o.keys = NULL;
    o.nkeys = 0;

    if (fql_sql_object(c, t, cf, fql_agg_field, &o) != 0) {
        return -1;
    }

    return whole ? fql_agg_from(c, &ag) : 0;
}
