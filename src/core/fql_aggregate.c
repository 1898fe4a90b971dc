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
    int     empty;
    size_t  mark;

    fql_sql_lit(c, " FROM ");
    fql_sql_view(c, ag->view);

    if (ag->where_done) {
        fql_sql_again(c, ag->where_sql);
        return 0;
    }

    ag->where_done = 1;

    if (ag->where == NULL || ag->where->kind != FQL_J_OBJECT) {
        return 0;
    }

    mark = c->sql.len;
    fql_sql_lit(c, " WHERE (");

    if (fql_sql_where(c, ag->view->where_input, ag->where, &empty) != 0) {
        return -1;
    }

    if (empty) {
        fql_sql_cut(c, mark);
        return 0;
    }

    fql_sql_lit(c, ")");
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


/* sum { a b }: an object of fn(<a>), fn(<b>) */
static int
fql_agg_fields(fql_cctx_t *c, const fql_agg_t *ag, const fql_type_t *t,
    fql_cfield_t *cf, fql_str_t fn)
{
    unsigned       n;
    fql_str_t      name;
    fql_cfield_t  *sub, *x;

    if (fql_collect_sub(c, fql_agg_field_type(t, fn), cf, &sub) != 0) {
        return -1;
    }

    fql_sql_obj_begin(c, &n);

    for (x = sub; x; x = x->next) {
        name = x->nodes->sel->name;

        if (fql_str_eqz(name, "__typename")) {
            continue;
        }

        fql_sql_obj_key(c, &n, x->key);
        fql_sql_put(c, fn.data, fn.len);
        fql_sql_lit(c, "(");
        fql_agg_expr(c, ag, name);
        fql_sql_lit(c, ")");
    }

    fql_sql_obj_end(c);

    return 0;
}


/* a group's key { ... }: only fields it is grouped by */
static int
fql_agg_key(fql_cctx_t *c, const fql_agg_t *ag, const fql_type_t *t,
    fql_cfield_t *cf, const fql_str_t *keys, unsigned nkeys)
{
    unsigned       n, i;
    fql_str_t      name;
    fql_cfield_t  *sub, *x;

    if (fql_collect_sub(c, fql_agg_field_type(t, cf->nodes->sel->name), cf,
                        &sub) != 0)
    {
        return -1;
    }

    fql_sql_obj_begin(c, &n);

    for (x = sub; x; x = x->next) {
        name = x->nodes->sel->name;

        if (fql_str_eqz(name, "__typename")) {
            continue;
        }

        for (i = 0; i < nkeys && !fql_str_eq(keys[i], name); i++) {
            /* void */
        }

        if (i == nkeys) {
            fql_error_add(c->v.errs, &x->nodes->sel->loc, FQL_CODE_BAD_INPUT,
                          "\"%.*s\" is not a key of this group: "
                          "groupBy(fields:) does not name it.",
                          fql_pstr(name));
            return -1;
        }

        fql_sql_obj_key(c, &n, x->key);
        fql_agg_expr(c, ag, name);
    }

    fql_sql_obj_end(c);

    return 0;
}


static int fql_agg_group(fql_cctx_t *c, fql_agg_t *ag, const fql_type_t *t,
    fql_cfield_t *cf);


/*
 * The object of an XAggregate (keys NULL) or of an XGroup: count and
 * the aggregates, a group's key, an aggregate's groups.
 */
static int
fql_agg_values(fql_cctx_t *c, fql_agg_t *ag, const fql_type_t *t,
    fql_cfield_t *cf, const fql_str_t *keys, unsigned nkeys)
{
    unsigned       n;
    fql_str_t      name;
    fql_cfield_t  *sub, *x;

    if (fql_collect_sub(c, t, cf, &sub) != 0) {
        return -1;
    }

    fql_sql_obj_begin(c, &n);

    for (x = sub; x; x = x->next) {
        name = x->nodes->sel->name;

        if (fql_str_eqz(name, "__typename")) {
            continue;
        }

        fql_sql_obj_key(c, &n, x->key);

        if (fql_str_eqz(name, "count")) {
            fql_sql_lit(c, "count(*)");

        } else if (fql_str_eqz(name, "key")) {
            if (fql_agg_key(c, ag, t, x, keys, nkeys) != 0) {
                return -1;
            }

        } else if (fql_str_eqz(name, "groupBy")) {
            if (fql_agg_group(c, ag, t, x) != 0) {
                return -1;
            }

        } else if (fql_agg_fields(c, ag, t, x, name) != 0) {
            return -1;
        }
    }

    fql_sql_obj_end(c);

    return 0;
}


/* the groups, by the keys fields names, ordered by them */
static int
fql_agg_group(fql_cctx_t *c, fql_agg_t *ag, const fql_type_t *t,
    fql_cfield_t *cf)
{
    char                    buf[32];
    unsigned                nkeys, i, k;
    fql_str_t              *keys;
    const char             *p;
    fql_jval_t             *args;
    const fql_jval_t       *list, *it, *limit;
    const fql_field_t      *f;
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
        }
    }

    limit = fql_jval_member(args, "limit");

    if (fql_limit_text(c, &s->loc, FQL_LIMIT_LIMIT, limit, &p) != 0) {
        return -1;
    }

    fql_sql_lit(c, "(SELECT COALESCE(json_agg(\"j\"");

    for (i = 0; i < nkeys; i++) {
        fql_sql_z(c, i ? ", " : " ORDER BY ");
        fql_sql_put(c, buf, snprintf(buf, sizeof(buf), "\"k%u\"", i));
    }

    fql_sql_lit(c, "), '[]') FROM (SELECT ");

    if (fql_agg_values(c, ag, fql_tref_named(f->type), cf, keys, nkeys)
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
                             FQL_LIMIT_LIMIT) != 0)
        {
            return -1;
        }

        fql_sql_lit(c, " LIMIT ");

        if (fql_sql_param(c, p) != 0) {
            return -1;
        }

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

    if (fql_agg_values(c, &ag, t, cf, NULL, 0) != 0) {
        return -1;
    }

    return whole ? fql_agg_from(c, &ag) : 0;
}
