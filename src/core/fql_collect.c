/*
 * CollectFields and projection: the fields a selection set asks for on a
 * type, merged by response key, and the projection that shapes rows
 * into them.  Introspection walks selection sets through the same code.
 */

#include "fql_compile_int.h"


/*
 * CollectFields in two steps: the field nodes of the selections are
 * gathered in document order (skipped ones left out, fragments spread),
 * then grouped by response key through a sorted index: a selection set
 * of thousands of aliases costs n log n, not n squared.
 */
typedef struct {
    fql_str_t               key;
    const fql_selection_t  *sel;
} fql_gnode_t;

typedef struct {
    fql_gnode_t  *nodes;
    unsigned      n;
    unsigned      cap;
} fql_gather_t;


static int fql_gather(fql_cctx_t *c, const fql_type_t *type,
    const fql_selection_t *sels, fql_gather_t *g);


static int
fql_type_applies(fql_cctx_t *c, const fql_type_t *type, fql_str_t cond,
    fql_loc_t loc, int *applies)
{
    fql_type_t       *t;
    fql_type_list_t  *l;

    *applies = 1;

    if (cond.len == 0 || fql_str_eq(cond, type->name)) {
        return 0;
    }

    t = fql_schema_type(c->v.schema, cond);
    if (t == NULL) {
        fql_error_add(c->v.errs, &loc, FQL_CODE_VALIDATION,
                      "Unknown type \"%.*s\".", fql_pstr(cond));
        return -1;
    }

    if (!fql_type_is_composite(t)) {
        fql_error_add(c->v.errs, &loc, FQL_CODE_VALIDATION,
                      "Fragment cannot condition on non composite type "
                      "\"%.*s\".", fql_pstr(cond));
        return -1;
    }

    *applies = 0;

    for (l = type->interfaces; l; l = l->next) {
        if (l->type == t) {
            *applies = 1;
        }
    }

    for (l = t->members; l; l = l->next) {
        if (l->type == type) {
            *applies = 1;
        }
    }

    /*
     * Not this type: skipped.  Whether the fragment may be spread at all
     * was checked by the rules (on a union, it is for another member).
     */
    return 0;
}


static int
fql_gather_spread(fql_cctx_t *c, const fql_type_t *type,
    const fql_selection_t *s, fql_gather_t *g)
{
    int                      applies, rc;
    unsigned                 i;
    const fql_definition_t  *d;

    d = fql_find_fragment_def(&c->v, s->name);

    if (d == NULL) {
        fql_error_add(c->v.errs, &s->loc, FQL_CODE_VALIDATION,
                      "Unknown fragment \"%.*s\".", fql_pstr(s->name));
        return -1;
    }

    for (i = 0; i < c->nactive; i++) {
        if (c->active[i] == d) {
            fql_error_add(c->v.errs, &s->loc, FQL_CODE_VALIDATION,
                          "Cannot spread fragment \"%.*s\" within itself.",
                          fql_pstr(s->name));
            return -1;
        }
    }

    if (c->nactive == sizeof(c->active) / sizeof(c->active[0])) {
        fql_error_add(c->v.errs, &s->loc, FQL_CODE_VALIDATION,
                      "Fragments are nested too deeply.");
        return -1;
    }

    if (fql_type_applies(c, type, d->type_condition, d->loc, &applies)
        != 0)
    {
        return -1;
    }

    if (!applies) {
        return 0;
    }

    c->active[c->nactive++] = d;
    rc = fql_gather(c, type, d->selections, g);
    c->nactive--;

    return rc;
}


static int
fql_gather(fql_cctx_t *c, const fql_type_t *type,
    const fql_selection_t *sels, fql_gather_t *g)
{
    int                     skip, applies;
    unsigned                cap, nd;
    fql_gnode_t            *nodes;
    fql_directive_t        *d;
    const fql_selection_t  *s;

    for (s = sels; s; s = s->next) {
        for (nd = 0, d = s->directives; d; d = d->next) {
            nd++;
        }

        if (fql_c_count(c, FQL_COUNT_DIRECTIVES, nd, &s->loc) != 0
            || fql_skip_node(&c->v, s->directives, &skip) != 0)
        {
            return -1;
        }

        if (skip) {
            continue;
        }

        if (s->kind == FQL_SEL_SPREAD) {
            if (fql_gather_spread(c, type, s, g) != 0) {
                return -1;
            }
            continue;
        }

        if (s->kind == FQL_SEL_INLINE) {
            if (fql_type_applies(c, type, s->type_condition, s->loc,
                                 &applies) != 0)
            {
                return -1;
            }

            if (applies && fql_gather(c, type, s->selections, g) != 0) {
                return -1;
            }
            continue;
        }

        if (g->n == g->cap) {
            cap = g->cap ? g->cap * 2 : 16;

            nodes = fql_alloc(c->v.arena, cap * sizeof(fql_gnode_t));
            if (nodes == NULL) {
                return fql_error_nomem(c->v.errs);
            }

            if (g->n) {
                memcpy(nodes, g->nodes, g->n * sizeof(fql_gnode_t));
            }

            g->nodes = nodes;
            g->cap = cap;
        }

        g->nodes[g->n].key = s->alias.len ? s->alias : s->name;
        g->nodes[g->n].sel = s;
        g->n++;
    }

    return 0;
}


/* the gathered nodes merged by response key, in first-appearance order */
static int
fql_group(fql_cctx_t *c, const fql_gather_t *g, fql_cfield_t **fields)
{
    unsigned                i, j;
    fql_node_t             *n;
    fql_index_t             ix;
    fql_cfield_t           *cf, **owner, **tail;
    const fql_selection_t  *s;

    *fields = NULL;

    if (g->n == 0) {
        return 0;
    }

    owner = fql_alloc(c->v.arena, g->n * sizeof(fql_cfield_t *));
    if (owner == NULL || fql_index_init(&ix, c->v.arena, g->n) != 0) {
        return fql_error_nomem(c->v.errs);
    }

    for (i = 0; i < g->n; i++) {
        fql_index_add(&ix, g->nodes[i].key, &g->nodes[i]);
    }

    fql_index_sort(&ix);

    for (i = 0; i < ix.n; i = j) {
        cf = fql_calloc(c->v.arena, sizeof(fql_cfield_t));
        if (cf == NULL) {
            return fql_error_nomem(c->v.errs);
        }

        cf->key = ix.e[i].key;
        cf->tail = &cf->nodes;

        for (j = i; j < ix.n && fql_str_eq(ix.e[j].key, cf->key); j++) {
            owner[ix.e[j].pos] = cf;
        }
    }

    tail = fields;

    for (i = 0; i < g->n; i++) {
        s = g->nodes[i].sel;
        cf = owner[i];

        if (cf->nodes == NULL) {
            *tail = cf;
            tail = &cf->next;

        } else if (!fql_str_eq(cf->nodes->sel->name, s->name)) {
            fql_error_add(c->v.errs, &s->loc, FQL_CODE_VALIDATION,
                          "Fields \"%.*s\" conflict because \"%.*s\" and "
                          "\"%.*s\" are different fields. Use different "
                          "aliases on the fields to fetch both if this was "
                          "intentional.", fql_pstr(cf->key),
                          fql_pstr(cf->nodes->sel->name), fql_pstr(s->name));
            return -1;
        }

        n = fql_calloc(c->v.arena, sizeof(fql_node_t));
        if (n == NULL) {
            return fql_error_nomem(c->v.errs);
        }

        n->sel = s;
        *cf->tail = n;
        cf->tail = &n->next;
    }

    return 0;
}


int
fql_collect(fql_cctx_t *c, const fql_type_t *type,
    const fql_selection_t *sels, fql_cfield_t **fields)
{
    fql_gather_t  g;

    memset(&g, 0, sizeof(g));

    if (fql_gather(c, type, sels, &g) != 0) {
        return -1;
    }

    return fql_group(c, &g, fields);
}


/* the merged sub-selections of all nodes of a response key */
int
fql_collect_sub(fql_cctx_t *c, const fql_type_t *type, fql_cfield_t *cf,
    fql_cfield_t **fields)
{
    fql_node_t    *n;
    fql_gather_t   g;

    memset(&g, 0, sizeof(g));
    *fields = NULL;

    for (n = cf->nodes; n; n = n->next) {
        if (fql_gather(c, type, n->sel->selections, &g) != 0) {
            return -1;
        }
    }

    return fql_group(c, &g, fields);
}


/*
 * The static limits, counted on the operation as it runs: fragments
 * spread wherever they are, so that a fragment used a hundred times
 * counts a hundred times; introspection's own selections aside.
 */
int
fql_c_count(fql_cctx_t *c, unsigned what, unsigned n, const fql_loc_t *loc)
{
    unsigned           *count, max;
    static const char  *names[] = { "aliases", "fields", "directives" };

    if (c->limits == NULL || c->introspecting || n == 0) {
        return 0;
    }

    switch (what) {
    case FQL_COUNT_ALIASES:
        count = &c->naliases;
        max = c->limits->max_aliases;
        break;
    case FQL_COUNT_FIELDS:
        count = &c->nfields;
        max = c->limits->max_fields;
        break;
    default:
        count = &c->ndirectives;
        max = c->limits->max_directives;
    }

    *count += n;

    if (max == 0 || *count <= max) {
        return 0;
    }

    /* once, however many root fields go on to pass it */
    if (!(c->limits_passed & (1u << what))) {
        c->limits_passed |= 1u << what;
        fql_error_add(c->v.errs, loc, FQL_CODE_LIMIT, "The operation has "
                      "more than %u %s (fraiseql_max_%s).", max,
                      names[what], names[what]);
    }

    return -1;
}


int
fql_c_typename(fql_cctx_t *c, const fql_selection_t *s)
{
    if (s->selections != NULL || s->args != NULL) {
        fql_error_add(c->v.errs, &s->loc, FQL_CODE_VALIDATION,
                      "Field \"__typename\" takes no arguments and no "
                      "selection.");
        return -1;
    }

    return 0;
}


static int
fql_project_field(fql_cctx_t *c, const fql_type_t *type, fql_cfield_t *cf,
    fql_proj_field_t *pf, unsigned depth, uint64_t *cost)
{
    uint64_t                w, n, v;
    unsigned                bit;
    fql_field_t            *f;
    fql_type_t             *ft;
    fql_tref_t             *tr;
    fql_cfield_t           *sub;
    const fql_selection_t  *s;

    s = cf->nodes->sel;
    pf->out_key = cf->key;

    if (fql_str_eqz(s->name, "__typename")) {
        if (fql_c_typename(c, s) != 0) {
            return -1;
        }

        pf->kind = FQL_PF_TYPENAME;
        return 0;
    }

    if (fql_c_count(c, FQL_COUNT_FIELDS, 1, &s->loc) != 0
        || fql_c_count(c, FQL_COUNT_ALIASES, !fql_str_eq(cf->key, s->name),
                       &s->loc) != 0)
    {
        return -1;
    }

    f = fql_type_field(type, s->name);
    if (f == NULL) {
        fql_error_add(c->v.errs, &s->loc, FQL_CODE_VALIDATION,
                      "Cannot query field \"%.*s\" on type \"%.*s\".",
                      fql_pstr(s->name), fql_pstr(type->name));
        return -1;
    }

    /* rules of the field and of its type, checked for each request */
    if (fql_auth_field(c, f, depth, &s->loc) != 0) {
        return -1;
    }

    /* groupBy of an aggregate has arguments; the SQL reads them */
    if (s->args != NULL && f->args == NULL) {
        fql_error_add(c->v.errs, &s->args->loc, FQL_CODE_VALIDATION,
                      "Unknown argument \"%.*s\" on field \"%.*s.%.*s\".",
                      fql_pstr(s->args->name), fql_pstr(type->name),
                      fql_pstr(f->name));
        return -1;
    }

    /* a generated type's JSON is written by its SQL under response keys */
    pf->json_key = type->gen ? cf->key : f->json_key;

    /* list wrapping and nullability, outermost first */
    bit = 0;
    for (tr = f->type; tr->kind != FQL_TYPE_NAMED; tr = tr->of) {
        if (tr->kind == FQL_TYPE_NON_NULL) {
            pf->non_null_mask |= 1u << bit;
        } else {
            pf->list_depth++;
            bit++;
        }
    }

    ft = tr->type;

    /* what the field adds to the cost: its weight and its arguments',
     * and each value's, a list inside the row @listSize times */
    w = fql_cost_add(fql_cost_args(f, s), fql_cost_gen_field(type, f->name));
    n = pf->list_depth && f->list_size ? f->list_size : 1;
    *cost = fql_cost_add(w, fql_cost_mul(n, fql_type_weight(ft)));

    if (ft->kind == FQL_T_SCALAR || ft->kind == FQL_T_ENUM) {
        if (s->selections != NULL) {
            fql_error_add(c->v.errs, &s->loc, FQL_CODE_VALIDATION,
                          "Field \"%.*s\" must not have a selection since "
                          "type \"%.*s\" has no subfields.",
                          fql_pstr(s->name), fql_pstr(ft->name));
            return -1;
        }

        pf->kind = FQL_PF_SCALAR;
        pf->scalar = ft->kind == FQL_T_ENUM ? FQL_SCALAR_ENUM : ft->scalar;
        return 0;
    }

    if (s->selections == NULL) {
        fql_error_add(c->v.errs, &s->loc, FQL_CODE_VALIDATION,
                      "Field \"%.*s\" of type \"%.*s\" must have a "
                      "selection of subfields. Did you mean \"%.*s { ... "
                      "}\"?", fql_pstr(s->name), fql_pstr(ft->name),
                      fql_pstr(s->name));
        return -1;
    }

    if (ft->kind != FQL_T_OBJECT) {
        fql_error_add(c->v.errs, &s->loc, FQL_CODE_VALIDATION,
                      "Field \"%.*s\": fields of interface or union type "
                      "are not supported yet.", fql_pstr(s->name));
        return -1;
    }

    if (fql_collect_sub(c, ft, cf, &sub) != 0) {
        return -1;
    }

    pf->kind = FQL_PF_OBJECT;
    pf->sub = fql_project(c, ft, sub, depth + 1);
    if (pf->sub == NULL) {
        return -1;
    }

    v = fql_cost_add(fql_type_weight(ft), c->cost_proj);

    if (fql_cost_sized_field(type, f->name)) {
        /* each of the rows the root field's slicing argument asks for */
        c->cost_sized = fql_cost_add(c->cost_sized, v);
        *cost = w;

    } else {
        *cost = fql_cost_add(w, fql_cost_mul(n, v));
    }

    return 0;
}


fql_proj_t *
fql_project(fql_cctx_t *c, const fql_type_t *type, fql_cfield_t *fields,
    unsigned depth)
{
    unsigned       n, i;
    uint64_t       cost, total;
    fql_proj_t    *p;
    fql_cfield_t  *cf;

    if (c->limits && c->limits->max_depth && depth > c->limits->max_depth) {
        fql_error_add(c->v.errs,
                      fields ? &fields->nodes->sel->loc : NULL,
                      FQL_CODE_LIMIT,
                      "The operation is nested deeper than %u levels "
                      "(fraiseql_max_depth).",
                      c->limits->max_depth);
        return NULL;
    }

    n = 0;
    for (cf = fields; cf; cf = cf->next) {
        n++;
    }

    p = fql_calloc(c->v.arena, sizeof(fql_proj_t));
    if (p == NULL) {
        fql_error_nomem(c->v.errs);
        return NULL;
    }

    p->type_name = type->name;
    p->nfields = n;
    p->fields = fql_calloc(c->v.arena, (n ? n : 1) * sizeof(fql_proj_field_t));
    if (p->fields == NULL) {
        fql_error_nomem(c->v.errs);
        return NULL;
    }

    total = 0;

    for (i = 0, cf = fields; cf; cf = cf->next, i++) {
        /* where a rule met below is, for fql_auth_need */
        if (depth >= 1 && depth <= FQL_AUTH_DEPTH) {
            c->akeys[depth - 1] = cf->key;
            c->aidx[depth - 1] = (unsigned short) i;
        }

        cost = 0;

        if (fql_project_field(c, type, cf, &p->fields[i], depth, &cost)
            != 0)
        {
            return NULL;
        }

        total = fql_cost_add(total, cost);
    }

    c->cost_proj = total;

    return p;
}
