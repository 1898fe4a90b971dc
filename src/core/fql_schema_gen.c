/*
 * The output types the schema generates for an @view type X when a field
 * names them: XConnection (with XEdge and the shared PageInfo) for cursor
 * pages, XAggregate (with XSumFields, XAvgFields, XMinFields, XMaxFields,
 * XGroup, XGroupKey and the enum XGroupField) for counts, aggregates and
 * groups.  A type is made as a shell when first named, since X's fields
 * may not be read yet, and filled once every definition is: its fields
 * are written as SDL and loaded like the user's, so that introspection,
 * validation and projection see ordinary types.
 */

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "fql_schema_int.h"


typedef struct {
    fql_sb_t   *sb;
    char       *data;
    size_t      len;
    size_t      cap;
    unsigned    nomem:1;
} fql_gtext_t;


static void
fql_gtext(fql_gtext_t *g, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 2, 3)))
#endif
    ;


static void
fql_gtext(fql_gtext_t *g, const char *fmt, ...)
{
    int       n;
    char     *p;
    size_t    cap;
    va_list   args;

    if (g->nomem) {
        return;
    }

    for ( ;; ) {
        va_start(args, fmt);
        n = vsnprintf(g->data ? g->data + g->len : NULL,
                      g->data ? g->cap - g->len : 0, fmt, args);
        va_end(args);

        if (n < 0) {
            g->nomem = 1;
            return;
        }

        if (g->data && g->len + n < g->cap) {
            g->len += n;
            return;
        }

        cap = g->cap ? g->cap * 2 : 1024;
        while (cap <= g->len + n) {
            cap *= 2;
        }

        p = fql_alloc(g->sb->arena, cap);
        if (p == NULL) {
            g->nomem = 1;
            return;
        }

        if (g->len) {
            memcpy(p, g->data, g->len);
        }

        g->data = p;
        g->cap = cap;
    }
}


static const struct {
    const char  *suffix;
    fql_gen_t    gen;
} fql_gen_roots[] = {
    { "Connection", FQL_GEN_CONNECTION },
    { "Aggregate", FQL_GEN_AGGREGATE },
    { NULL, FQL_GEN_NONE }
};


fql_type_t *
fql_sb_gen_shell(fql_sb_t *sb, fql_str_t name, fql_loc_t loc)
{
    size_t       n;
    unsigned     i;
    fql_str_t    prefix;
    fql_type_t  *t, *view;

    for (i = 0; fql_gen_roots[i].suffix; i++) {
        n = strlen(fql_gen_roots[i].suffix);

        if (name.len > n
            && memcmp(name.data + name.len - n, fql_gen_roots[i].suffix, n)
               == 0)
        {
            break;
        }
    }

    if (fql_gen_roots[i].suffix == NULL) {
        return NULL;
    }

    prefix.data = name.data;
    prefix.len = name.len - n;

    /* @view types have their where input from the first pass on */
    view = fql_schema_type(sb->schema, prefix);
    if (view == NULL || view->kind != FQL_T_OBJECT
        || view->where_input == NULL)
    {
        return NULL;
    }

    t = fql_sb_new_type(sb, FQL_T_OBJECT, name);
    if (t == NULL) {
        fql_sb_error(sb, loc, FQL_NOMEM);
        return NULL;
    }

    t->generated = 1;
    t->gen = fql_gen_roots[i].gen;
    t->view = view;
    t->loc = loc;

    return t;
}


/* X followed by suffix must be free, or be made here (shared) */
static int
fql_gen_free(fql_sb_t *sb, const fql_type_t *root, const char *suffix)
{
    fql_str_t    name;
    fql_type_t  *t;

    name = fql_sb_concat(sb, root->view->name, suffix);
    if (name.data == NULL) {
        return fql_sb_error(sb, root->loc, FQL_NOMEM);
    }

    t = fql_schema_type(sb->schema, name);
    if (t == NULL) {
        return 0;
    }

    return fql_sb_error(sb, root->loc, "\"%.*s\" is generated from \"%.*s\" "
                        "for \"%.*s\"; rename the type declared with that "
                        "name", fql_pstr(name), fql_pstr(root->view->name),
                        fql_pstr(root->name));
}


/* marks a loaded type as generated from view: what it is */
static void
fql_gen_mark(fql_sb_t *sb, const fql_type_t *view, const char *suffix,
    fql_gen_t gen)
{
    fql_str_t    name;
    fql_type_t  *t;

    name = fql_sb_concat(sb, view->name, suffix);
    t = name.data ? fql_schema_type(sb->schema, name) : NULL;

    if (t != NULL) {
        t->generated = 1;
        t->gen = gen;
        t->view = (fql_type_t *) view;
    }
}


static int
fql_gen_connection(fql_sb_t *sb, fql_type_t *t, fql_gtext_t *g)
{
    fql_str_t    pi = fql_str_lit("PageInfo");
    fql_type_t  *p;
    const char  *x = t->view->name.data;
    int          n = (int) t->view->name.len;

    if (fql_gen_free(sb, t, "Edge") != 0) {
        return -1;
    }

    p = fql_schema_type(sb->schema, pi);
    if (p != NULL && p->gen != FQL_GEN_PAGE_INFO) {
        return fql_sb_error(sb, t->loc, "\"PageInfo\" is generated for "
                            "connections; rename the type declared with "
                            "that name");
    }

    t->description = fql_sb_concat(sb, t->view->name, ": a page of rows, "
                                   "as the Relay Cursor Connections "
                                   "specification describes.");

    fql_gtext(g, "extend type %.*sConnection {\n"
              "  \"The page's rows, each with its cursor.\"\n"
              "  edges: [%.*sEdge!]!\n"
              "  \"The page's rows, without cursors.\"\n"
              "  nodes: [%.*s!]!\n"
              "  \"Where the page stands in the whole list.\"\n"
              "  pageInfo: PageInfo!\n"
              "  \"How many rows the filter matches, cursors aside.\"\n"
              "  totalCount: Int!\n}\n"
              "\"A row of a page of %.*s, and its cursor.\"\n"
              "type %.*sEdge {\n"
              "  \"The row's position: pass it as after or before.\"\n"
              "  cursor: String!\n"
              "  node: %.*s!\n}\n",
              n, x, n, x, n, x, n, x, n, x, n, x);

    if (p == NULL) {
        fql_gtext(g, "\"Where a page stands in the whole list (Relay Cursor "
                  "Connections).\"\n"
                  "type PageInfo {\n"
                  "  \"Rows follow the page.\"\n"
                  "  hasNextPage: Boolean!\n"
                  "  \"Rows come before the page.\"\n"
                  "  hasPreviousPage: Boolean!\n"
                  "  \"The first edge's cursor; null for an empty page.\"\n"
                  "  startCursor: String\n"
                  "  \"The last edge's cursor; null for an empty page.\"\n"
                  "  endCursor: String\n}\n");
    }

    return 0;
}


/* what a field of the view can be aggregated or grouped as */
#define FQL_AGG_SUM    1      /* numbers: sum, avg */
#define FQL_AGG_MIN    2      /* numbers, times: min, max */
#define FQL_AGG_GROUP  4      /* strings, enums, booleans */

static unsigned
fql_gen_field_use(const fql_field_t *f)
{
    const fql_tref_t  *tr;
    const fql_type_t  *ft;

    tr = f->type->kind == FQL_TYPE_NON_NULL ? f->type->of : f->type;
    if (tr->kind != FQL_TYPE_NAMED || fql_str_eqz(f->name, "id")) {
        return 0;
    }

    ft = tr->type;

    if (ft->kind == FQL_T_ENUM) {
        /* the field's name is an enum value of XGroupField */
        return fql_str_eqz(f->name, "true") || fql_str_eqz(f->name, "false")
               || fql_str_eqz(f->name, "null") ? 0 : FQL_AGG_GROUP;
    }

    if (ft->kind != FQL_T_SCALAR) {
        return 0;
    }

    switch (ft->scalar) {
    case FQL_SCALAR_INT:
    case FQL_SCALAR_FLOAT:
    case FQL_SCALAR_DECIMAL:
        return FQL_AGG_SUM | FQL_AGG_MIN;
    case FQL_SCALAR_DATETIME:
    case FQL_SCALAR_DATE:
        return FQL_AGG_MIN;
    case FQL_SCALAR_STRING:
    case FQL_SCALAR_BOOLEAN:
        return fql_str_eqz(f->name, "true") || fql_str_eqz(f->name, "false")
               || fql_str_eqz(f->name, "null") ? 0 : FQL_AGG_GROUP;
    default:
        return 0;
    }
}


/* one object type of the view's fields that have the use */
static void
fql_gen_fields(fql_gtext_t *g, const fql_type_t *view, const char *name,
    const char *what, unsigned use, int sum)
{
    const char         *tn;
    const fql_field_t  *f;
    const fql_type_t   *ft;
    int                 n = (int) view->name.len;

    fql_gtext(g, "\"%s %.*s's rows (null when none has a value).\"\n"
              "type %.*s%s {\n", what, n, view->name.data, n,
              view->name.data, name);

    for (f = view->fields; f; f = f->next) {
        if (!(fql_gen_field_use(f) & use)) {
            continue;
        }

        ft = fql_tref_named(f->type);
        tn = NULL;

        /* sums and averages of integers are not integers */
        if (sum && ft->scalar != FQL_SCALAR_DECIMAL) {
            tn = "Float";
        }

        if (tn != NULL) {
            fql_gtext(g, "  %.*s: %s\n", fql_pstr(f->name), tn);
        } else {
            fql_gtext(g, "  %.*s: %.*s\n", fql_pstr(f->name),
                      fql_pstr(ft->name));
        }
    }

    fql_gtext(g, "}\n");
}


/* count, sum, avg, min, max: of the whole set (XAggregate) or a group */
static void
fql_gen_aggregates(fql_gtext_t *g, const fql_type_t *view, unsigned uses)
{
    const char  *x = view->name.data;
    int          n = (int) view->name.len;

    fql_gtext(g, "  \"How many rows.\"\n  count: Int!\n");

    if (uses & FQL_AGG_SUM) {
        fql_gtext(g, "  sum: %.*sSumFields\n  avg: %.*sAvgFields\n",
                  n, x, n, x);
    }

    if (uses & FQL_AGG_MIN) {
        fql_gtext(g, "  min: %.*sMinFields\n  max: %.*sMaxFields\n",
                  n, x, n, x);
    }
}


static int
fql_gen_aggregate(fql_sb_t *sb, fql_type_t *t, fql_gtext_t *g)
{
    unsigned            uses, i;
    const fql_field_t  *f;
    const fql_type_t   *view = t->view;
    const char         *x = view->name.data;
    int                 n = (int) view->name.len;
    static const char  *suffix[] = { "SumFields", "AvgFields", "MinFields",
                                     "MaxFields", "Group", "GroupKey",
                                     "GroupField", NULL };

    for (i = 0; suffix[i]; i++) {
        if (fql_gen_free(sb, t, suffix[i]) != 0) {
            return -1;
        }
    }

    uses = 0;
    for (f = view->fields; f; f = f->next) {
        uses |= fql_gen_field_use(f);
    }

    t->description = fql_sb_concat(sb, view->name, ": counts and "
                                   "aggregates of the rows a filter "
                                   "matches.");

    fql_gtext(g, "extend type %.*sAggregate {\n", n, x);
    fql_gen_aggregates(g, view, uses);

    if (uses & FQL_AGG_GROUP) {
        fql_gtext(g, "  \"One group per distinct value of the fields, "
                  "ordered by them (nulls last).\"\n"
                  "  groupBy(fields: [%.*sGroupField!]!, limit: Int): "
                  "[%.*sGroup!]!\n", n, x, n, x);
    }

    fql_gtext(g, "}\n");

    if (uses & FQL_AGG_SUM) {
        fql_gen_fields(g, view, "SumFields", "Sums of", FQL_AGG_SUM, 1);
        fql_gen_fields(g, view, "AvgFields", "Averages of", FQL_AGG_SUM, 1);
    }

    if (uses & FQL_AGG_MIN) {
        fql_gen_fields(g, view, "MinFields", "Least values of",
                       FQL_AGG_MIN, 0);
        fql_gen_fields(g, view, "MaxFields", "Greatest values of",
                       FQL_AGG_MIN, 0);
    }

    if (!(uses & FQL_AGG_GROUP)) {
        return 0;
    }

    fql_gtext(g, "\"The fields %.*s's rows can be grouped by.\"\n"
              "enum %.*sGroupField {\n", n, x, n, x);

    for (f = view->fields; f; f = f->next) {
        if (fql_gen_field_use(f) & FQL_AGG_GROUP) {
            fql_gtext(g, "  %.*s\n", fql_pstr(f->name));
        }
    }

    fql_gtext(g, "}\n");
    fql_gen_fields(g, view, "GroupKey", "The grouped fields' values (only "
                   "those grouped by may be selected) of",
                   FQL_AGG_GROUP, 0);

    fql_gtext(g, "\"A group of %.*s's rows and its aggregates.\"\n"
              "type %.*sGroup {\n  key: %.*sGroupKey!\n", n, x, n, x, n, x);
    fql_gen_aggregates(g, view, uses);
    fql_gtext(g, "}\n");

    return 0;
}


int
fql_sb_gen_fill(fql_sb_t *sb)
{
    int           rc;
    fql_str_t     pi = fql_str_lit("PageInfo");
    fql_type_t   *t, *p;
    fql_gtext_t   g;

    for (t = sb->schema->types; t; t = t->next) {
        if ((t->gen != FQL_GEN_CONNECTION && t->gen != FQL_GEN_AGGREGATE)
            || t->fields != NULL)
        {
            continue;
        }

        if (t->view->view_name.len == 0) {
            return fql_sb_error(sb, t->loc, "\"%.*s\" is generated for "
                                "types bound to a view with @view; \"%.*s\" "
                                "is not", fql_pstr(t->name),
                                fql_pstr(t->view->name));
        }

        memset(&g, 0, sizeof(g));
        g.sb = sb;

        rc = t->gen == FQL_GEN_CONNECTION ? fql_gen_connection(sb, t, &g)
                                          : fql_gen_aggregate(sb, t, &g);

        if (rc != 0) {
            return -1;
        }

        if (g.nomem || g.data == NULL) {
            return fql_sb_error(sb, t->loc, FQL_NOMEM);
        }

        if (fql_sb_load_text(sb, g.data, g.len) != 0) {
            return -1;
        }

        if (t->gen == FQL_GEN_CONNECTION) {
            fql_gen_mark(sb, t->view, "Edge", FQL_GEN_EDGE);
            p = fql_schema_type(sb->schema, pi);
            p->generated = 1;
            p->gen = FQL_GEN_PAGE_INFO;
            continue;
        }

        fql_gen_mark(sb, t->view, "SumFields", FQL_GEN_AGG_FIELDS);
        fql_gen_mark(sb, t->view, "AvgFields", FQL_GEN_AGG_FIELDS);
        fql_gen_mark(sb, t->view, "MinFields", FQL_GEN_AGG_FIELDS);
        fql_gen_mark(sb, t->view, "MaxFields", FQL_GEN_AGG_FIELDS);
        fql_gen_mark(sb, t->view, "Group", FQL_GEN_GROUP);
        fql_gen_mark(sb, t->view, "GroupKey", FQL_GEN_GROUP_KEY);
        fql_gen_mark(sb, t->view, "GroupField", FQL_GEN_NONE);
    }

    return 0;
}


/*
 * A Query field returning XConnection or XAggregate: one object (not a
 * list), arguments of their own with their own types.
 */
int
fql_sb_gen_root(fql_sb_t *sb, fql_field_t *f, fql_type_t *t)
{
    fql_tref_t        *tr;
    fql_arg_t         *a;
    fql_type_t        *at, *x = t->view;
    int                ok;

    tr = f->type->kind == FQL_TYPE_NON_NULL ? f->type->of : f->type;

    if (tr->kind != FQL_TYPE_NAMED || f->fn_name.len) {
        return fql_sb_error(sb, f->loc, "Query field \"%.*s\": \"%.*s\" "
                            "is returned by a field of its own, not in a "
                            "list nor by a query function",
                            fql_pstr(f->name), fql_pstr(t->name));
    }

    for (a = f->args; a; a = a->next) {
        at = fql_tref_named(a->type);

        if (fql_str_eqz(a->name, "where")) {
            ok = fql_sb_list_control(sb, x, a);

        } else if (t->gen == FQL_GEN_AGGREGATE) {
            ok = 0;

        } else if (fql_str_eqz(a->name, "orderBy")) {
            ok = fql_sb_list_control(sb, x, a);

        } else if (fql_str_eqz(a->name, "first")
                   || fql_str_eqz(a->name, "last"))
        {
            ok = a->type->kind == FQL_TYPE_NAMED
                 && at == sb->schema->scalars[FQL_SCALAR_INT];

        } else if (fql_str_eqz(a->name, "after")
                   || fql_str_eqz(a->name, "before"))
        {
            ok = a->type->kind == FQL_TYPE_NAMED
                 && at == sb->schema->scalars[FQL_SCALAR_STRING];

        } else {
            ok = 0;
        }

        if (ok) {
            continue;
        }

        if (t->gen == FQL_GEN_AGGREGATE) {
            return fql_sb_error(sb, f->loc, "Aggregate field \"%.*s\" takes "
                                "where: %.*s; not \"%.*s\"",
                                fql_pstr(f->name),
                                fql_pstr(x->where_input->name),
                                fql_pstr(a->name));
        }

        return fql_sb_error(sb, f->loc, "Connection field \"%.*s\" takes "
                            "where: %.*s, orderBy: [%.*s!], first: Int, "
                            "after: String, last: Int, before: String; not "
                            "\"%.*s\"", fql_pstr(f->name),
                            fql_pstr(x->where_input->name),
                            fql_pstr(x->order_input->name),
                            fql_pstr(a->name));
    }

    f->root = t->gen == FQL_GEN_CONNECTION ? FQL_ROOT_CONNECTION
                                           : FQL_ROOT_AGGREGATE;

    return 0;
}
