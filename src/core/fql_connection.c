/*
 * Cursor pages of a view (Relay connections) as one statement whose one
 * row is the whole page in JSON, under the response keys:
 *
 *   WITH "p" AS (SELECT "data", <cursor> AS "c",
 *                       row_number() OVER (ORDER BY <keys>) AS "i"
 *                FROM <view> WHERE <where> AND <after> AND <before>
 *                ORDER BY <keys> LIMIT $n + 1)
 *   SELECT json_build_object('edges', ..., 'pageInfo', ..., ...)
 *
 * The order is the orderBy keys then the id column; after and before are
 * keyset conditions on those keys (never OFFSET, so page 1,000 costs
 * what page 1 costs), one row more than the page says whether more
 * follow.  `last` reads the keys reversed.  A cursor is the row's key
 * values with a print of the ordering, as JSON in base64url: decoded, it
 * gives bound parameters only, and a cursor of another ordering or
 * anything else is refused.
 */

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>

#include "fql_compile_int.h"


#define FQL_CURSOR_MAX   4096    /* characters of a cursor */

typedef struct {
    const fql_type_t   *view;
    fql_order_t         order;      /* the keys, the id last */
    uint32_t            print;      /* of the ordering, in its cursors */
    unsigned            limit;      /* $n of the page size; 0: none */
    unsigned            back:1;     /* last: the page before */
    unsigned            cursor:1;   /* cursors are selected */
    fql_str_t           where;      /* " WHERE (...)" or empty */
    fql_str_t           seek[2];    /* after, before: their conditions */
    fql_loc_t           loc;
} fql_conn_t;

static const char  *fql_cursor_names[2] = { "after", "before" };


/* the keys, the id last unless a key is the id column already */
static int
fql_conn_order(fql_cctx_t *c, fql_conn_t *cn, const fql_jval_t *list)
{
    unsigned      i, j;
    uint64_t      h;
    fql_okey_t   *k;
    fql_order_t  *o = &cn->order;

    if (fql_order_keys(c, cn->view->order_input, list, o) != 0) {
        return -1;
    }

    /*
     * The id column is unique and never null: the keys after it change
     * nothing, and its conditions need no care for nulls, which keeps
     * them index conditions ("id" > $n).
     */
    for (i = 0; i < o->nkeys; i++) {
        k = &o->keys[i];

        if (k->npath == 0 && fql_str_eqz(k->field->column, "id")) {
            k->field = NULL;
            o->nkeys = i + 1;
            break;
        }
    }

    if (i == o->nkeys) {
        k = fql_order_add(c, o);
        if (k == NULL) {
            return fql_error_nomem(c->v.errs);
        }

        k->field = NULL;
        k->path = NULL;
        k->npath = 0;
        k->sc = FQL_SCALAR_ID;
        k->desc = 0;
    }

    /* the print: the type, each key's JSON path and direction */
    h = fql_hash(cn->view->name.data, cn->view->name.len);

    for (i = 0; i < o->nkeys; i++) {
        k = &o->keys[i];
        h = h * 31 + (k->desc ? 'D' : 'A');

        for (j = 0; j < k->npath; j++) {
            h = h * 31 + fql_hash(k->path[j]->json_key.data,
                                  k->path[j]->json_key.len);
        }

        h = h * 31 + (k->field ? fql_hash(k->field->json_key.data,
                                          k->field->json_key.len)
                               : 1);
    }

    cn->print = (uint32_t) (h ^ (h >> 32));

    return 0;
}


/* $n, cast as the key's expression is (a column's type is inferred) */
static void
fql_conn_value(fql_cctx_t *c, const fql_okey_t *k, unsigned n)
{
    fql_sql_ref(c, n);

    if (k->field != NULL) {
        if (k->npath) {
            memcpy(c->path, k->path, k->npath * sizeof(k->path[0]));
        }

        c->npath = k->npath;
        fql_sql_cast_suffix(c, k->field, k->sc, 0);
        c->npath = 0;
    }
}


/*
 * Rows strictly after the position $pn[0..] in the order (reversed:
 * strictly before): A0 OR (E0 AND (A1 OR (E1 AND ... An))), where Ai is
 * "after on key i" and Ei "equal on key i".  ASC puts nulls last and
 * DESC first, so a null is after every value: the conditions say so,
 * and are never NULL themselves (NOT of them is their complement).
 */
static void
fql_conn_seek(fql_cctx_t *c, const fql_conn_t *cn, const unsigned *pn,
    int reverse)
{
    unsigned           i, desc, more;
    const fql_okey_t  *k;

    for (i = 0; i < cn->order.nkeys; i++) {
        k = &cn->order.keys[i];
        desc = k->desc ^ reverse;
        more = i + 1 < cn->order.nkeys;

        if (more) {
            fql_sql_lit(c, "(");
        }

        if (k->field == NULL) {
            fql_order_expr(c, k);
            fql_sql_z(c, desc ? " < " : " > ");
            fql_conn_value(c, k, pn[i]);

        } else {
            fql_sql_lit(c, "(COALESCE(");
            fql_order_expr(c, k);
            fql_sql_z(c, desc ? " < " : " > ");
            fql_conn_value(c, k, pn[i]);
            fql_sql_lit(c, ", false) OR (");
            fql_order_expr(c, k);
            fql_sql_z(c, desc ? " IS NOT NULL AND " : " IS NULL AND ");
            fql_conn_value(c, k, pn[i]);
            fql_sql_z(c, desc ? " IS NULL))" : " IS NOT NULL))");
        }

        if (more) {
            fql_sql_lit(c, " OR (");
            fql_order_expr(c, k);
            fql_sql_z(c, k->field ? " IS NOT DISTINCT FROM " : " = ");
            fql_conn_value(c, k, pn[i]);
            fql_sql_lit(c, " AND ");
        }
    }

    for (i = 1; i < cn->order.nkeys; i++) {
        fql_sql_lit(c, "))");
    }
}


/* ---- cursors ---- */


static int
fql_cursor_invalid(fql_cctx_t *c, const fql_loc_t *loc, unsigned which)
{
    fql_error_add(c->v.errs, loc, FQL_CODE_BAD_INPUT,
                  "Invalid cursor \"%s\": it is not a cursor of this "
                  "connection with this orderBy.", fql_cursor_names[which]);
    return -1;
}


/* the key values of a cursor of this ordering, or -1 (BAD_USER_INPUT) */
static int
fql_cursor_decode(fql_cctx_t *c, const fql_loc_t *loc, unsigned which,
    const fql_jval_t *cur, uint32_t print, unsigned nkeys,
    const fql_jval_t **keys)
{
    char              *buf, *end;
    size_t             len;
    unsigned long      p;
    fql_jval_t        *j;
    fql_errors_t       errs;

    if (cur->kind != FQL_J_STRING || cur->str.len > FQL_CURSOR_MAX) {
        return fql_cursor_invalid(c, loc, which);
    }

    buf = fql_alloc(c->v.arena, cur->str.len + 1);
    if (buf == NULL) {
        return fql_error_nomem(c->v.errs);
    }

    if (fql_b64url_decode(cur->str, buf, &len) != 0) {
        return fql_cursor_invalid(c, loc, which);
    }

    /* the parser's own error is about JSON, not about the cursor */
    fql_errors_init(&errs, c->v.arena);

    j = fql_json_parse(c->v.arena, buf, len, &errs);

    if (j == NULL || j->kind != FQL_J_ARRAY || j->count != nkeys + 1
        || j->items->kind != FQL_J_NUMBER)
    {
        return fql_cursor_invalid(c, loc, which);
    }

    errno = 0;
    p = strtoul(j->items->str.data, &end, 10);

    if (errno || end != j->items->str.data + j->items->str.len
        || p != print)
    {
        return fql_cursor_invalid(c, loc, which);
    }

    *keys = j->items->next;

    return 0;
}


/*
 * A key's value as its parameter's text; -1 if it cannot be one: each
 * key has the JSON type the statement gives its values (numbers for
 * numbers, strings of their format, booleans), a column's or the id's
 * any scalar (their SQL type is not known here), JSON anything.
 */
static int
fql_cursor_text(fql_cctx_t *c, const fql_loc_t *loc, unsigned which,
    fql_scalar_t sc, const fql_jval_t *v, const char **out)
{
    int  ok;

    if (v->kind == FQL_J_NULL) {
        *out = NULL;
        return 0;
    }

    /* parameters are C strings: a NUL would cut the value short */
    if (v->kind == FQL_J_STRING
        && memchr(v->str.data, '\0', v->str.len) != NULL)
    {
        return fql_cursor_invalid(c, loc, which);
    }

    switch (fql_scalars[sc].in) {
    case FQL_SC_RAW:
        ok = 1;
        break;
    case FQL_SC_INT:
    case FQL_SC_FLOAT:
    case FQL_SC_DECIMAL:
        ok = v->kind == FQL_J_NUMBER;
        break;
    case FQL_SC_BOOLEAN:
        ok = v->kind == FQL_J_BOOL;
        break;
    case FQL_SC_ID:
        ok = v->kind == FQL_J_STRING || v->kind == FQL_J_NUMBER
             || v->kind == FQL_J_BOOL;
        break;
    default:
        ok = v->kind == FQL_J_STRING
             && (fql_scalars[sc].check == NULL
                 || fql_scalars[sc].check(&v->str) == 0);
        break;
    }

    if (!ok) {
        return fql_cursor_invalid(c, loc, which);
    }

    return fql_param_text(c, sc, v, out);
}


int
fql_cursor_param(fql_cctx_t *c, const fql_root_plan_t *rp,
    const fql_slot_t *sl, const fql_jval_t *j, const char **out)
{
    unsigned           i, which;
    const fql_jval_t  *v;

    which = sl->wild;

    if (fql_cursor_decode(c, &rp->loc, which, j, sl->print, sl->nkeys, &v)
        != 0)
    {
        return -1;
    }

    for (i = 0; i < sl->key; i++) {
        v = v->next;
    }

    return fql_cursor_text(c, &rp->loc, which, sl->sc, v, out);
}


/* after (which 0) or before (1): the condition, its values bound */
static int
fql_conn_cursor(fql_cctx_t *c, fql_conn_t *cn, unsigned which,
    const fql_jval_t *cur)
{
    int                n;
    size_t             mark;
    unsigned           i, *pn;
    const char        *p;
    fql_scalar_t       sc;
    const fql_jval_t  *v;

    if (fql_cursor_decode(c, &cn->loc, which, cur, cn->print, cn->order.nkeys,
                          &v) != 0)
    {
        return -1;
    }

    pn = fql_alloc(c->v.arena, cn->order.nkeys * sizeof(unsigned));
    if (pn == NULL) {
        return fql_error_nomem(c->v.errs);
    }

    for (i = 0; i < cn->order.nkeys; i++, v = v->next) {
        sc = cn->order.keys[i].sc;

        if (fql_cursor_text(c, &cn->loc, which, sc, v, &p) != 0
            || fql_slot_from(c, cur, FQL_SLOT_CURSOR, sc, which) != 0)
        {
            return -1;
        }

        c->next_slot.key = (unsigned short) i;
        c->next_slot.nkeys = (unsigned short) cn->order.nkeys;
        c->next_slot.print = cn->print;

        n = fql_param_add(c, p);
        if (n < 0) {
            return -1;
        }

        pn[i] = (unsigned) n;
    }

    mark = c->sql.len;
    fql_conn_seek(c, cn, pn, which);
    cn->seek[which] = fql_sql_since(c, mark);

    return 0;
}


/* ---- the answer ---- */


static const fql_type_t *
fql_conn_field_type(const fql_type_t *t, const char *name)
{
    fql_str_t  s;

    s.data = name;
    s.len = strlen(name);

    return fql_tref_named(fql_type_field(t, s)->type);
}


/* are cursors selected: edges' cursor, pageInfo's start and end? */
static int
fql_conn_cursors(fql_cctx_t *c, const fql_type_t *t, fql_cfield_t *cf,
    unsigned *yes)
{
    fql_str_t      name;
    fql_cfield_t  *sub, *e, *esub, *x;

    if (fql_collect_sub(c, t, cf, &sub) != 0) {
        return -1;
    }

    for (e = sub; e; e = e->next) {
        name = e->nodes->sel->name;

        if (!fql_str_eqz(name, "edges") && !fql_str_eqz(name, "pageInfo")) {
            continue;
        }

        if (fql_collect_sub(c, fql_conn_field_type(t, name.data[0] == 'e'
                                                      ? "edges"
                                                      : "pageInfo"),
                            e, &esub) != 0)
        {
            return -1;
        }

        for (x = esub; x; x = x->next) {
            name = x->nodes->sel->name;

            if (fql_str_eqz(name, "cursor")
                || fql_str_eqz(name, "startCursor")
                || fql_str_eqz(name, "endCursor"))
            {
                *yes = 1;
            }
        }
    }

    return 0;
}


/* an edge's field: its cursor, or its node */
static int
fql_conn_edge(fql_cctx_t *c, void *data, const fql_type_t *t,
    fql_cfield_t *x)
{
    (void) data;
    (void) t;

    fql_sql_z(c, fql_str_eqz(x->nodes->sel->name, "cursor") ? "\"c\""
                                                          : "\"data\"");
    return 0;
}


/* the page's rows, in the page's order: edges or nodes */
static int
fql_conn_rows(fql_cctx_t *c, const fql_conn_t *cn, const fql_type_t *t,
    fql_cfield_t *e, int edges)
{
    fql_sql_lit(c, "(SELECT COALESCE(json_agg(");

    if (!edges) {
        fql_sql_lit(c, "\"data\"");

    } else if (fql_sql_object(c, fql_conn_field_type(t, "edges"), e,
                              fql_conn_edge, NULL) != 0)
    {
        return -1;
    }

    fql_sql_z(c, cn->back ? " ORDER BY \"i\" DESC), '[]') FROM \"p\""
                          : " ORDER BY \"i\"), '[]') FROM \"p\"");

    if (cn->limit) {
        fql_sql_lit(c, " WHERE \"i\" <= ");
        fql_sql_ref(c, cn->limit);
        fql_sql_lit(c, "::bigint");
    }

    fql_sql_lit(c, ")");

    return 0;
}


/* rows at or before the cursor (which: after), at or after (before) */
static void
fql_conn_beyond(fql_cctx_t *c, const fql_conn_t *cn, unsigned which)
{
    if (cn->seek[which].len == 0) {
        fql_sql_lit(c, "false");
        return;
    }

    fql_sql_lit(c, "EXISTS (SELECT 1 FROM ");
    fql_sql_view(c, cn->view);
    fql_sql_again(c, cn->where);
    fql_sql_z(c, cn->where.len ? " AND NOT " : " WHERE NOT ");
    fql_sql_again(c, cn->seek[which]);
    fql_sql_lit(c, ")");
}


/* the page holds fewer rows than "p": more follow it in its order */
static void
fql_conn_more(fql_cctx_t *c, const fql_conn_t *cn)
{
    if (cn->limit == 0) {
        fql_sql_lit(c, "false");
        return;
    }

    fql_sql_lit(c, "((SELECT count(*) FROM \"p\") > ");
    fql_sql_ref(c, cn->limit);
    fql_sql_lit(c, "::bigint)");
}


/* the cursor of the page's first edge (or last): null when empty */
static void
fql_conn_edge_cursor(fql_cctx_t *c, const fql_conn_t *cn, int last)
{
    fql_sql_lit(c, "(SELECT \"c\" FROM \"p\"");

    if (cn->limit) {
        fql_sql_lit(c, " WHERE \"i\" <= ");
        fql_sql_ref(c, cn->limit);
        fql_sql_lit(c, "::bigint");
    }

    /* "i" counts from the page's start, or from its end going back */
    fql_sql_z(c, last ^ cn->back ? " ORDER BY \"i\" DESC LIMIT 1)"
                                 : " ORDER BY \"i\" LIMIT 1)");
}


/* a field of pageInfo */
static int
fql_conn_info(fql_cctx_t *c, void *data, const fql_type_t *t,
    fql_cfield_t *x)
{
    fql_str_t          name = x->nodes->sel->name;
    const fql_conn_t  *cn = data;

    (void) t;

    if (fql_str_eqz(name, "hasNextPage")) {
        if (cn->back) {
            fql_conn_beyond(c, cn, 1);
        } else {
            fql_conn_more(c, cn);
        }

    } else if (fql_str_eqz(name, "hasPreviousPage")) {
        if (cn->back) {
            fql_conn_more(c, cn);
        } else {
            fql_conn_beyond(c, cn, 0);
        }

    } else {
        fql_conn_edge_cursor(c, cn, fql_str_eqz(name, "endCursor"));
    }

    return 0;
}


/* a field of the connection */
static int
fql_conn_field(fql_cctx_t *c, void *data, const fql_type_t *t,
    fql_cfield_t *x)
{
    fql_str_t          name = x->nodes->sel->name;
    const fql_conn_t  *cn = data;

    if (fql_str_eqz(name, "edges") || fql_str_eqz(name, "nodes")) {
        return fql_conn_rows(c, cn, t, x, name.data[0] == 'e');
    }

    if (fql_str_eqz(name, "pageInfo")) {
        return fql_sql_object(c, fql_conn_field_type(t, "pageInfo"), x,
                              fql_conn_info, data);
    }

    /* totalCount: the filter's rows, cursors aside */
    fql_sql_lit(c, "(SELECT count(*) FROM ");
    fql_sql_view(c, cn->view);
    fql_sql_again(c, cn->where);
    fql_sql_lit(c, ")");

    return 0;
}


static const fql_jval_t *
fql_conn_arg(const fql_jval_t *args, const char *name)
{
    const fql_jval_t  *a;

    a = fql_jval_member(args, name);

    return a != NULL && a->kind != FQL_J_NULL ? a : NULL;
}


int
fql_compile_connection(fql_cctx_t *c, const fql_field_t *f,
    fql_cfield_t *cf, const fql_jval_t *args, fql_root_plan_t *rp)
{
    int                 n, wrote;
    size_t              mark;
    unsigned            i, name;
    fql_conn_t         *cn;
    const char         *p;
    const fql_type_t   *t;
    const fql_jval_t   *first, *last, *a, *cur[2];

    cn = fql_calloc(c->v.arena, sizeof(fql_conn_t));
    if (cn == NULL) {
        return fql_error_nomem(c->v.errs);
    }

    t = fql_tref_named(f->type);
    cn->view = t->view;
    cn->loc = rp->loc;

    first = fql_conn_arg(args, "first");
    last = fql_conn_arg(args, "last");
    cur[0] = fql_conn_arg(args, "after");
    cur[1] = fql_conn_arg(args, "before");

    if (first != NULL && last != NULL) {
        /* the spec discourages it; GitHub's API refuses it too */
        fql_error_add(c->v.errs, &cn->loc, FQL_CODE_BAD_INPUT,
                      "Passing both \"first\" and \"last\" to a connection "
                      "is not supported.");
        return -1;
    }

    cn->back = last != NULL;

    i = 0;

    if (fql_conn_order(c, cn, fql_conn_arg(args, "orderBy")) != 0
        || fql_conn_cursors(c, t, cf, &i) != 0)
    {
        return -1;
    }

    cn->cursor = i;

    /* the page size: first, last, or the lists' default */
    a = cn->back ? last : first;
    name = cn->back ? FQL_LIMIT_LAST : FQL_LIMIT_FIRST;

    if (fql_limit_text(c, &cn->loc, name, a, &p) != 0
        || (a != NULL
            && fql_slot_from(c, a, FQL_SLOT_LIMIT, FQL_SCALAR_INT, name)
               != 0))
    {
        return -1;
    }

    if (p != NULL) {
        n = fql_param_add(c, p);
        if (n < 0) {
            return -1;
        }

        cn->limit = (unsigned) n;
        fql_cost_paramz(c, cn->back ? "last" : "first");
    }

    fql_sql_lit(c, "WITH \"p\" AS (SELECT \"data\"");

    if (cn->cursor) {
        char  buf[16];

        fql_sql_lit(c, ", translate(encode(convert_to(jsonb_build_array(");
        fql_sql_put(c, buf, snprintf(buf, sizeof(buf), "%u",
                                     (unsigned) cn->print));

        for (i = 0; i < cn->order.nkeys; i++) {
            fql_sql_lit(c, ", ");
            fql_order_expr(c, &cn->order.keys[i]);
        }

        /* base64 breaks lines; base64url has neither +/ nor padding */
        fql_sql_lit(c, ")::text, 'UTF8'), 'base64'), '+/=' || chr(10), "
                    "'-_') AS \"c\"");
    }

    fql_sql_lit(c, ", row_number() OVER (ORDER BY ");
    fql_order_sql(c, &cn->order, cn->back);
    fql_sql_lit(c, ") AS \"i\" FROM ");
    fql_sql_view(c, cn->view);

    a = fql_conn_arg(args, "where");

    /* the schema's row filters, then the client's where within them */
    mark = c->sql.len;

    if (fql_sql_where_filtered(c, cn->view, a, 1, &wrote) != 0) {
        return -1;
    }

    if (wrote) {
        cn->where = fql_sql_since(c, mark);
    }

    for (i = 0; i < 2; i++) {
        if (cur[i] == NULL) {
            continue;
        }

        fql_sql_z(c, cn->where.len || (i == 1 && cur[0]) ? " AND "
                                                         : " WHERE ");

        if (fql_conn_cursor(c, cn, i, cur[i]) != 0) {
            return -1;
        }
    }

    fql_sql_lit(c, " ORDER BY ");
    fql_order_sql(c, &cn->order, cn->back);

    if (cn->limit) {
        fql_sql_lit(c, " LIMIT ");
        fql_sql_ref(c, cn->limit);
        fql_sql_lit(c, "::bigint + 1");
    }

    fql_sql_lit(c, ") SELECT ");

    return fql_sql_object(c, t, cf, fql_conn_field, cn);
}
