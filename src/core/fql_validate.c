/*
 * The validation rules of the spec's section 5, checked statically over
 * the whole document: every operation and every fragment, whichever one
 * is run, whatever the variables and @skip/@include will say.  Values are
 * checked by the coercion code in fql_coerce.c running in a mode where
 * variables have no values and their uses are recorded instead.
 */

#include <stdio.h>
#include <stdlib.h>

#include "fql_validate.h"
#include "fql_index.h"


/*
 * Fields gathered for the merging rule over the whole document: fragments
 * spread several times in several places multiply, so the work is capped
 * and a document past the cap is refused as too complex.
 */
#define FQL_FIELDS_MAX  50000
#define FQL_PAIRS_MAX   200000

/* fields of one selection set, fragments included; more is refused */
#define FQL_SELECTIONS_MAX  1000


typedef struct fql_usage_s {
    const fql_value_t     *var;
    const fql_tref_t      *type;
    struct fql_usage_s    *next;
} fql_usage_t;

typedef struct fql_spread_s  fql_spread_t;

/* what one operation or fragment uses */
typedef struct {
    const fql_definition_t  *def;
    fql_usage_t             *usages;
    fql_spread_t            *spreads;
    unsigned                 state;     /* DFS: 0 new, 1 open, 2 done */
    unsigned                 mark;      /* reached in round `mark` */
    unsigned                 used:1;
    unsigned                 dup:1;     /* an earlier one has its name */
    unsigned                 unchecked:1;   /* no root type to walk */
} fql_dinfo_t;

/* a fragment spread: the record of the fragment it names */
struct fql_spread_s {
    fql_dinfo_t             *frag;
    struct fql_spread_s     *next;
};

/* a record being walked by fql_check_cycles, and its next spread */
typedef struct {
    fql_dinfo_t   *d;
    fql_spread_t  *sp;
} fql_dframe_t;

typedef struct {
    fql_vctx_t    *v;
    fql_dinfo_t   *defs;
    unsigned       ndefs;
    fql_index_t    frags;       /* fragments by name: their fql_dinfo_t */
    fql_dinfo_t  **reached;     /* what an operation reaches, this round */
    fql_dframe_t  *stack;       /* fql_check_cycles' */
    unsigned       nreached;
    unsigned       round;
    fql_dinfo_t   *cur;
    unsigned       pairs;
    unsigned       fields;      /* gathered so far, up to FQL_FIELDS_MAX */
    unsigned       too_complex:1;
    /* fragments being expanded while gathering, to skip cycles */
    const fql_definition_t  *path[32];
    unsigned       npath;
} fql_rctx_t;

/* a field reached from a selection set, for the merging rule */
typedef struct fql_ofield_s {
    fql_str_t                key;
    const fql_type_t        *parent;
    const fql_selection_t   *sel;
    const fql_field_t       *def;      /* NULL: __typename or unknown */
    struct fql_ofield_s     *next;
    struct fql_ofield_s     *same;     /* the next one under its key */
} fql_ofield_t;


#define fql_err(r, loc, ...)                                                  \
    fql_error_add((r)->v->errs, loc, FQL_CODE_VALIDATION, __VA_ARGS__)


static int fql_walk_set(fql_rctx_t *r, const fql_type_t *parent,
    const fql_selection_t *sels);


/* the record of the (first) fragment of that name, or NULL */
static fql_dinfo_t *
fql_find_fragment(fql_rctx_t *r, fql_str_t name)
{
    const fql_ientry_t  *e;

    e = fql_index_find(&r->frags, name);

    return e ? (fql_dinfo_t *) e->item : NULL;
}


/* notes that the definition being checked spreads fragment f */
static int
fql_add_spread(fql_rctx_t *r, fql_dinfo_t *f)
{
    fql_spread_t  *sp;

    sp = fql_calloc(r->v->arena, sizeof(fql_spread_t));
    if (sp == NULL) {
        return -1;
    }

    sp->frag = f;
    sp->next = r->cur->spreads;
    r->cur->spreads = sp;

    return 0;
}


static int
fql_on_variable(fql_vctx_t *v, const fql_value_t *var,
    const fql_tref_t *type)
{
    fql_rctx_t   *r = v->data;
    fql_usage_t  *u;

    u = fql_calloc(v->arena, sizeof(fql_usage_t));
    if (u == NULL) {
        return fql_error_nomem(v->errs);
    }

    u->var = var;
    u->type = type;
    u->next = r->cur->usages;
    r->cur->usages = u;

    return 0;
}


/* a type reference of the document resolved against the schema */
static fql_tref_t *
fql_resolve_ref(fql_rctx_t *r, const fql_type_ref_t *ref)
{
    fql_tref_t  *t;

    t = fql_calloc(r->v->arena, sizeof(fql_tref_t));
    if (t == NULL) {
        return NULL;
    }

    t->kind = ref->kind;

    if (ref->kind != FQL_TYPE_NAMED) {
        t->of = fql_resolve_ref(r, ref->of);
        return t->of ? t : NULL;
    }

    t->type = fql_schema_type(r->v->schema, ref->name);

    return t->type ? t : NULL;
}


static const fql_type_ref_t *
fql_ref_named(const fql_type_ref_t *ref)
{
    while (ref->kind != FQL_TYPE_NAMED) {
        ref = ref->of;
    }

    return ref;
}


/* AreTypesCompatible: may a variable of type v go where type l goes */
static int
fql_types_compatible(const fql_tref_t *v, const fql_tref_t *l)
{
    if (l->kind == FQL_TYPE_NON_NULL) {
        return v->kind == FQL_TYPE_NON_NULL
               && fql_types_compatible(v->of, l->of);
    }

    if (v->kind == FQL_TYPE_NON_NULL) {
        return fql_types_compatible(v->of, l);
    }

    if (l->kind == FQL_TYPE_LIST) {
        return v->kind == FQL_TYPE_LIST
               && fql_types_compatible(v->of, l->of);
    }

    return v->kind == FQL_TYPE_NAMED && v->type == l->type;
}


static const char *
fql_location_name(fql_definition_kind_t kind, fql_op_type_t op)
{
    if (kind == FQL_DEF_FRAGMENT) {
        return "FRAGMENT_DEFINITION";
    }

    return op == FQL_OP_QUERY ? "QUERY"
           : op == FQL_OP_MUTATION ? "MUTATION" : "SUBSCRIPTION";
}


/* Directives Are Defined, In Valid Locations, Unique Per Location */
static int
fql_check_directives(fql_rctx_t *r, fql_directive_t *dirs,
    const char *location)
{
    fql_jval_t                 *args;
    fql_directive_t            *d, *e;
    fql_name_list_t            *l;
    const fql_directive_def_t  *def;

    for (d = dirs; d; d = d->next) {
        for (def = r->v->schema->directives; def; def = def->next) {
            if (fql_str_eq(def->name, d->name)) {
                break;
            }
        }

        if (def == NULL) {
            fql_err(r, &d->loc, "Unknown directive \"@%.*s\".",
                    fql_pstr(d->name));
            continue;
        }

        for (l = def->locations; l; l = l->next) {
            if (fql_str_eqz(l->name, location)) {
                break;
            }
        }

        if (l == NULL) {
            fql_err(r, &d->loc, "Directive \"@%.*s\" may not be used on %s.",
                    fql_pstr(d->name), location);
        }

        if (!def->repeatable) {
            for (e = d->next; e; e = e->next) {
                if (fql_str_eq(e->name, d->name)) {
                    fql_err(r, &e->loc, "The directive \"@%.*s\" can only "
                            "be used once at this location.",
                            fql_pstr(d->name));
                    break;
                }
            }
        }

        if (fql_coerce_arguments(r->v, def->args, d->args, &d->name, d->loc,
                                 &args) != 0
            && r->v->errs->count == 0)
        {
            return -1;
        }
    }

    return 0;
}


/* the object types a composite type may be at run time */
static int
fql_possible(const fql_type_t *t, const fql_type_t *obj)
{
    const fql_type_list_t  *l;

    if (t == obj) {
        return 1;
    }

    if (t->kind == FQL_T_UNION) {
        for (l = t->members; l; l = l->next) {
            if (l->type == obj) {
                return 1;
            }
        }
    }

    if (t->kind == FQL_T_INTERFACE && obj->kind == FQL_T_OBJECT) {
        for (l = obj->interfaces; l; l = l->next) {
            if (l->type == t) {
                return 1;
            }
        }
    }

    return 0;
}


/* Fragment Spread Is Possible: the two types' possible sets meet */
static int
fql_spread_possible(fql_rctx_t *r, const fql_type_t *a, const fql_type_t *b)
{
    const fql_type_t  *t;

    if (a == b) {
        return 1;
    }

    for (t = r->v->schema->types; t; t = t->next) {
        if (t->kind == FQL_T_OBJECT && fql_possible(a, t)
            && fql_possible(b, t))
        {
            return 1;
        }
    }

    return 0;
}


static int
fql_walk_field(fql_rctx_t *r, const fql_type_t *parent,
    const fql_selection_t *s)
{
    fql_arg_t             *name_arg;
    fql_tref_t            *str, *nn;
    fql_jval_t            *args;
    fql_type_t            *ft;
    const fql_field_t     *f;
    const fql_schema_t    *schema = r->v->schema;
    fql_str_t              z;

    if (fql_str_eqz(s->name, "__typename")) {
        if (s->args != NULL) {
            fql_err(r, &s->args->loc, "Unknown argument \"%.*s\" on field "
                    "\"%.*s.__typename\".", fql_pstr(s->args->name),
                    fql_pstr(parent->name));
        }

        if (s->selections != NULL) {
            fql_err(r, &s->loc, "Field \"__typename\" must not have a "
                    "selection since type \"String!\" has no subfields.");
        }

        return 0;
    }

    if (parent == schema->query && (fql_str_eqz(s->name, "__schema")
                                    || fql_str_eqz(s->name, "__type")))
    {
        /* __type(name: String!); variable uses keep pointing at it */
        name_arg = fql_calloc(r->v->arena, sizeof(fql_arg_t));
        str = fql_calloc(r->v->arena, sizeof(fql_tref_t));
        nn = fql_calloc(r->v->arena, sizeof(fql_tref_t));

        if (name_arg == NULL || str == NULL || nn == NULL) {
            return -1;
        }

        str->kind = FQL_TYPE_NAMED;
        str->type = schema->scalars[FQL_SCALAR_STRING];
        nn->kind = FQL_TYPE_NON_NULL;
        nn->of = str;
        name_arg->name.data = "name";
        name_arg->name.len = 4;
        name_arg->type = nn;

        if (fql_coerce_arguments(r->v, s->name.data[2] == 's' ? NULL
                                                              : name_arg,
                                 s->args, &s->name, s->loc, &args) != 0
            && r->v->errs->count == 0)
        {
            return -1;
        }

        z.data = s->name.data[2] == 's' ? "__Schema" : "__Type";
        z.len = strlen(z.data);
        ft = fql_schema_type(schema, z);

        if (s->selections == NULL) {
            fql_err(r, &s->loc, "Field \"%.*s\" of type \"%.*s\" must have "
                    "a selection of subfields. Did you mean \"%.*s { ... }"
                    "\"?", fql_pstr(s->name), fql_pstr(ft->name),
                    fql_pstr(s->name));
            return 0;
        }

        return fql_walk_set(r, ft, s->selections);
    }

    f = (parent->kind == FQL_T_UNION) ? NULL : fql_type_field(parent, s->name);

    if (f == NULL) {
        fql_err(r, &s->loc, "Cannot query field \"%.*s\" on type \"%.*s\".",
                fql_pstr(s->name), fql_pstr(parent->name));
        return 0;
    }

    if (fql_coerce_arguments(r->v, f->args, s->args, &f->name, s->loc, &args)
        != 0 && r->v->errs->count == 0)
    {
        return -1;
    }

    ft = fql_tref_named(f->type);

    if (ft->kind == FQL_T_SCALAR || ft->kind == FQL_T_ENUM) {
        if (s->selections != NULL) {
            char  tn[128];

            fql_tref_print(f->type, tn, sizeof(tn));
            fql_err(r, &s->loc, "Field \"%.*s\" must not have a selection "
                    "since type \"%s\" has no subfields.",
                    fql_pstr(s->name), tn);
        }

        return 0;
    }

    if (s->selections == NULL) {
        char  tn[128];

        fql_tref_print(f->type, tn, sizeof(tn));
        fql_err(r, &s->loc, "Field \"%.*s\" of type \"%s\" must have a "
                "selection of subfields. Did you mean \"%.*s { ... }\"?",
                fql_pstr(s->name), tn, fql_pstr(s->name));
        return 0;
    }

    return fql_walk_set(r, ft, s->selections);
}


/* ---- Overlapping Fields Can Be Merged ---- */


static int
fql_collect_ofields(fql_rctx_t *r, const fql_type_t *parent,
    const fql_selection_t *sels, fql_ofield_t **list, unsigned depth)
{
    unsigned                  i;
    fql_dinfo_t              *f;
    fql_ofield_t             *o;
    const fql_type_t         *t;
    const fql_definition_t   *frag;
    const fql_selection_t    *s;

    if (depth > 32) {
        return 0;
    }

    for (s = sels; s; s = s->next) {
        if (++r->fields > FQL_FIELDS_MAX) {
            r->too_complex = 1;
            return 0;
        }

        switch (s->kind) {

        case FQL_SEL_FIELD:
            o = fql_calloc(r->v->arena, sizeof(fql_ofield_t));
            if (o == NULL) {
                return -1;
            }

            o->key = s->alias.len ? s->alias : s->name;
            o->parent = parent;
            o->sel = s;
            o->def = (parent->kind == FQL_T_OBJECT
                      || parent->kind == FQL_T_INTERFACE)
                     ? fql_type_field(parent, s->name) : NULL;
            o->next = *list;
            *list = o;
            break;

        case FQL_SEL_INLINE:
            t = s->type_condition.len
                ? fql_schema_type(r->v->schema, s->type_condition) : parent;

            if (t != NULL && fql_type_is_composite(t)
                && fql_collect_ofields(r, t, s->selections, list, depth + 1)
                   != 0)
            {
                return -1;
            }
            break;

        default: /* FQL_SEL_SPREAD */
            f = fql_find_fragment(r, s->name);
            if (f == NULL || r->npath == 32) {
                break;
            }

            frag = f->def;

            /* fragment cycles are reported elsewhere: do not follow them */
            for (i = 0; i < r->npath; i++) {
                if (r->path[i] == frag) {
                    break;
                }
            }

            if (i < r->npath) {
                break;
            }

            t = fql_schema_type(r->v->schema, frag->type_condition);

            if (t != NULL && fql_type_is_composite(t)) {
                r->path[r->npath++] = frag;

                if (fql_collect_ofields(r, t, frag->selections, list,
                                        depth + 1) != 0)
                {
                    return -1;
                }

                r->npath--;
            }
            break;
        }
    }

    return 0;
}


static int
fql_values_equal(const fql_value_t *a, const fql_value_t *b)
{
    const fql_value_t         *x, *y;
    const fql_object_field_t  *f, *g;

    if (a->kind != b->kind) {
        return 0;
    }

    switch (a->kind) {

    case FQL_VAL_BOOLEAN:
        return a->boolean == b->boolean;

    case FQL_VAL_NULL:
        return 1;

    case FQL_VAL_LIST:
        for (x = a->items, y = b->items; x && y; x = x->next, y = y->next) {
            if (!fql_values_equal(x, y)) {
                return 0;
            }
        }

        return x == NULL && y == NULL;

    case FQL_VAL_OBJECT:
        /* field order does not matter: graphql-js compares them sorted */
        for (f = a->fields, g = b->fields; f && g; f = f->next, g = g->next)
        {
            /* void: count both */
        }

        if (f != NULL || g != NULL) {
            return 0;
        }

        for (f = a->fields; f; f = f->next) {
            for (g = b->fields; g; g = g->next) {
                if (fql_str_eq(f->name, g->name)) {
                    break;
                }
            }

            if (g == NULL || !fql_values_equal(f->value, g->value)) {
                return 0;
            }
        }

        return 1;

    default:
        /* a string and a block string with one value print the same */
        return fql_str_eq(a->str, b->str);
    }
}


static int
fql_same_arguments(const fql_argument_t *a, const fql_argument_t *b)
{
    unsigned               na, nb;
    const fql_argument_t  *x, *y;

    na = 0;
    nb = 0;

    for (x = a; x; x = x->next) {
        na++;
    }

    for (y = b; y; y = y->next) {
        nb++;
    }

    if (na != nb) {
        return 0;
    }

    for (x = a; x; x = x->next) {
        for (y = b; y; y = y->next) {
            if (fql_str_eq(x->name, y->name)) {
                break;
            }
        }

        if (y == NULL || !fql_values_equal(x->value, y->value)) {
            return 0;
        }
    }

    return 1;
}


static int
fql_types_conflict(const fql_tref_t *a, const fql_tref_t *b)
{
    if (a->kind == FQL_TYPE_LIST || b->kind == FQL_TYPE_LIST) {
        return a->kind != b->kind || fql_types_conflict(a->of, b->of);
    }

    if (a->kind == FQL_TYPE_NON_NULL || b->kind == FQL_TYPE_NON_NULL) {
        return a->kind != b->kind || fql_types_conflict(a->of, b->of);
    }

    if (!fql_type_is_composite(a->type) || !fql_type_is_composite(b->type)) {
        return a->type != b->type;
    }

    return 0;
}


static int fql_check_merge(fql_rctx_t *r, fql_ofield_t *list, int excl,
    unsigned depth);


/* why fields a and b under one response key cannot be merged, or NULL */
static const char *
fql_find_conflict(fql_rctx_t *r, fql_ofield_t *a, fql_ofield_t *b,
    int excl, unsigned depth)
{
    fql_ofield_t  *sub;

    excl = excl || (a->parent != b->parent && a->parent->kind == FQL_T_OBJECT
                    && b->parent->kind == FQL_T_OBJECT);

    if (!excl) {
        if (!fql_str_eq(a->sel->name, b->sel->name)) {
            return "they are different fields";
        }

        if (!fql_same_arguments(a->sel->args, b->sel->args)) {
            return "they have differing arguments";
        }
    }

    if (a->def != NULL && b->def != NULL
        && fql_types_conflict(a->def->type, b->def->type))
    {
        return "they return conflicting types";
    }

    if (a->sel->selections == NULL || b->sel->selections == NULL
        || a->def == NULL || b->def == NULL || depth > 32)
    {
        return NULL;
    }

    /* the two sub-selections are merged: check them as one set */
    sub = NULL;

    if (fql_collect_ofields(r, fql_tref_named(a->def->type),
                            a->sel->selections, &sub, 0) != 0
        || fql_collect_ofields(r, fql_tref_named(b->def->type),
                               b->sel->selections, &sub, 0) != 0)
    {
        return NULL;
    }

    if (fql_check_merge(r, sub, excl, depth + 1) != 0) {
        return "subfields are in conflict";
    }

    return NULL;
}


/*
 * Links the fields of a set that share a response key, each to the next
 * one in the set's order: only they are compared, in the order a pairwise
 * scan would meet them.
 */
static int
fql_link_same(fql_rctx_t *r, fql_ofield_t *list)
{
    unsigned       n, i;
    fql_index_t    ix;
    fql_ofield_t  *o, *a;

    n = 0;
    for (o = list; o; o = o->next) {
        o->same = NULL;
        n++;
    }

    if (n < 2) {
        return 0;
    }

    if (fql_index_init(&ix, r->v->arena, n) != 0) {
        return -1;
    }

    for (o = list; o; o = o->next) {
        fql_index_add(&ix, o->key, o);
    }

    fql_index_sort(&ix);

    for (i = 1; i < n; i++) {
        if (fql_str_eq(ix.e[i - 1].key, ix.e[i].key)) {
            a = (fql_ofield_t *) ix.e[i - 1].item;
            a->same = (fql_ofield_t *) ix.e[i].item;
        }
    }

    return 0;
}


/* returns -1 after reporting the first conflict of the set */
static int
fql_check_merge(fql_rctx_t *r, fql_ofield_t *list, int excl, unsigned depth)
{
    const char    *why;
    fql_ofield_t  *a, *b;

    if (fql_link_same(r, list) != 0) {
        r->too_complex = 1;
        return 0;
    }

    for (a = list; a; a = a->next) {
        for (b = a->same; b; b = b->same) {
            if (++r->pairs > FQL_PAIRS_MAX) {
                r->too_complex = 1;
            }

            if (r->too_complex) {
                return 0;
            }

            why = fql_find_conflict(r, a, b, excl, depth);
            if (why == NULL) {
                continue;
            }

            /* the deepest conflict was reported already */
            if (why[0] == 's') {
                return -1;
            }

            fql_err(r, &b->sel->loc, "Fields \"%.*s\" conflict because %s. "
                    "Use different aliases on the fields to fetch both if "
                    "this was intentional.", fql_pstr(a->key), why);
            return -1;
        }
    }

    return 0;
}


/* a selection set too wide to check in reasonable time is refused */
static int
fql_too_wide(fql_rctx_t *r, const fql_selection_t *sels, unsigned n)
{
    if (n <= FQL_SELECTIONS_MAX) {
        return 0;
    }

    fql_error_add(r->v->errs, &sels->loc, FQL_CODE_LIMIT,
                  "The selection set has more than %d fields.",
                  FQL_SELECTIONS_MAX);
    return 1;
}


static int
fql_walk_set(fql_rctx_t *r, const fql_type_t *parent,
    const fql_selection_t *sels)
{
    unsigned                 n;
    fql_dinfo_t             *f;
    fql_ofield_t            *list, *o;
    const fql_type_t        *t;
    const fql_selection_t   *s;

    n = 0;
    for (s = sels; s; s = s->next) {
        n++;
    }

    if (fql_too_wide(r, sels, n)) {
        return 0;
    }

    for (s = sels; s; s = s->next) {

        /* enough errors for one answer: the rest is not looked at */
        if (fql_errors_full(r->v->errs)) {
            return -1;
        }

        if (fql_check_directives(r, s->directives,
                                 s->kind == FQL_SEL_FIELD ? "FIELD"
                                 : s->kind == FQL_SEL_SPREAD
                                   ? "FRAGMENT_SPREAD" : "INLINE_FRAGMENT")
            != 0)
        {
            return -1;
        }

        switch (s->kind) {

        case FQL_SEL_FIELD:
            if (fql_walk_field(r, parent, s) != 0) {
                return -1;
            }
            break;

        case FQL_SEL_INLINE:
            t = parent;

            if (s->type_condition.len) {
                t = fql_schema_type(r->v->schema, s->type_condition);

                if (t == NULL) {
                    fql_err(r, &s->loc, "Unknown type \"%.*s\".",
                            fql_pstr(s->type_condition));
                    break;
                }

                if (!fql_type_is_composite(t)) {
                    fql_err(r, &s->loc, "Fragment cannot condition on non "
                            "composite type \"%.*s\".", fql_pstr(t->name));
                    break;
                }

                if (!fql_spread_possible(r, parent, t)) {
                    fql_err(r, &s->loc, "Fragment cannot be spread here as "
                            "objects of type \"%.*s\" can never be of type "
                            "\"%.*s\".", fql_pstr(parent->name),
                            fql_pstr(t->name));
                    break;
                }
            }

            if (fql_walk_set(r, t, s->selections) != 0) {
                return -1;
            }
            break;

        default: /* FQL_SEL_SPREAD */
            f = fql_find_fragment(r, s->name);

            if (f == NULL) {
                fql_err(r, &s->loc, "Unknown fragment \"%.*s\".",
                        fql_pstr(s->name));
                break;
            }

            if (fql_add_spread(r, f) != 0) {
                return -1;
            }

            t = fql_schema_type(r->v->schema, f->def->type_condition);

            if (t != NULL && fql_type_is_composite(t)
                && !fql_spread_possible(r, parent, t))
            {
                fql_err(r, &s->loc, "Fragment \"%.*s\" cannot be spread "
                        "here as objects of type \"%.*s\" can never be of "
                        "type \"%.*s\".", fql_pstr(s->name),
                        fql_pstr(parent->name), fql_pstr(t->name));
            }
            break;
        }
    }

    list = NULL;

    if (fql_collect_ofields(r, parent, sels, &list, 0) != 0) {
        return -1;
    }

    n = 0;
    for (o = list; o; o = o->next) {
        n++;
    }

    /* the same, with the fields its fragments bring */
    if (fql_too_wide(r, sels, n)) {
        return 0;
    }

    (void) fql_check_merge(r, list, 0, 0);

    return 0;
}


/* ---- per definition ---- */


static int
fql_note_spreads(fql_rctx_t *r, const fql_selection_t *sels, unsigned depth)
{
    fql_dinfo_t              *f;
    const fql_selection_t    *s;

    for (s = sels; s && depth < 64; s = s->next) {
        if (s->kind != FQL_SEL_SPREAD) {
            if (fql_note_spreads(r, s->selections, depth + 1) != 0) {
                return -1;
            }
            continue;
        }

        f = fql_find_fragment(r, s->name);
        if (f != NULL && fql_add_spread(r, f) != 0) {
            return -1;
        }
    }

    return 0;
}


static int
fql_walk_operation(fql_rctx_t *r, const fql_definition_t *op)
{
    fql_jval_t                *val;
    fql_tref_t                *type;
    const fql_type_t          *root, *t;
    const fql_type_ref_t      *named;
    const fql_index_t         *ix;
    fql_variable_def_t        *vd;
    const fql_schema_t        *s = r->v->schema;

    if (fql_check_directives(r, op->directives,
                             fql_location_name(op->kind, op->op)) != 0)
    {
        return -1;
    }

    ix = fql_var_defs(r->v, op);
    if (ix == NULL) {
        return -1;
    }

    for (vd = op->variables; vd; vd = vd->next) {
        /* a definition after the first of its name is a duplicate */
        if (fql_index_find(ix, vd->name)->item != vd) {
            fql_err(r, &vd->loc, "There can be only one variable named "
                    "\"$%.*s\".", fql_pstr(vd->name));
        }

        if (fql_check_directives(r, vd->directives, "VARIABLE_DEFINITION")
            != 0)
        {
            return -1;
        }

        named = fql_ref_named(vd->type);
        t = fql_schema_type(s, named->name);

        if (t == NULL) {
            fql_err(r, &named->loc, "Unknown type \"%.*s\".",
                    fql_pstr(named->name));
            continue;
        }

        if (!fql_type_is_input(t)) {
            char  tn[128];

            type = fql_resolve_ref(r, vd->type);
            if (type == NULL) {
                return -1;
            }

            fql_tref_print(type, tn, sizeof(tn));
            fql_err(r, &vd->loc, "Variable \"$%.*s\" cannot be non-input "
                    "type \"%s\".", fql_pstr(vd->name), tn);
            continue;
        }

        if (vd->default_value != NULL) {
            type = fql_resolve_ref(r, vd->type);
            if (type == NULL) {
                return -1;
            }

            if (fql_coerce_literal(r->v, type, vd->default_value, &val) != 0
                && r->v->errs->count == 0)
            {
                return -1;
            }
        }
    }

    root = op->op == FQL_OP_QUERY ? s->query
           : op->op == FQL_OP_MUTATION ? s->mutation : s->subscription;

    /*
     * No such root type: refused when run, as graphql-js does; the
     * fragments it spreads still count as used.
     */
    if (root == NULL) {
        r->cur->unchecked = 1;
        return fql_note_spreads(r, op->selections, 0);
    }

    return fql_walk_set(r, root, op->selections);
}


/*
 * The fragments an operation reaches, marked with a new round and listed
 * in r->reached (the operation first), breadth first: a chain of
 * fragments as long as the document allows takes no stack.
 */
static void
fql_mark_reached(fql_rctx_t *r, fql_dinfo_t *op)
{
    unsigned       i;
    fql_spread_t  *sp;
    fql_dinfo_t   *f;

    r->round++;
    r->nreached = 0;

    op->mark = r->round;
    r->reached[r->nreached++] = op;

    for (i = 0; i < r->nreached; i++) {
        for (sp = r->reached[i]->spreads; sp; sp = sp->next) {
            f = sp->frag;

            if (f->mark != r->round) {
                f->mark = r->round;
                f->used = 1;
                r->reached[r->nreached++] = f;
            }
        }
    }
}


/* records lie in r->defs in the document's order */
static int
fql_dinfo_cmp(const void *x, const void *y)
{
    const fql_dinfo_t  *a = *(fql_dinfo_t * const *) x;
    const fql_dinfo_t  *b = *(fql_dinfo_t * const *) y;

    return a < b ? -1 : (a > b);
}


static int
fql_check_variables(fql_rctx_t *r, fql_dinfo_t *op)
{
    char                  vt[128], lt[128];
    unsigned              i, k;
    fql_tref_t           *type;
    fql_usage_t          *u;
    fql_dinfo_t          *d;
    unsigned char        *used;
    fql_variable_def_t   *vd;
    const fql_index_t    *ix;
    const fql_ientry_t   *e;
    const fql_definition_t  *o = op->def;

    fql_mark_reached(r, op);

    ix = fql_var_defs(r->v, o);
    if (ix == NULL) {
        return -1;
    }

    /* by position of definition: some use of its name was seen */
    used = fql_calloc(r->v->arena, ix->n ? ix->n : 1);
    if (used == NULL) {
        return -1;
    }

    /* in the document's order, as the errors are listed */
    qsort(r->reached, r->nreached, sizeof(fql_dinfo_t *), fql_dinfo_cmp);

    /* All Variable Uses Defined, All Variable Usages Are Allowed */
    for (i = 0; i < r->nreached; i++) {
        d = r->reached[i];

        for (u = d->usages; u; u = u->next) {
            e = fql_index_find(ix, u->var->str);

            if (e == NULL) {
                if (o->name.len) {
                    fql_err(r, &u->var->loc, "Variable \"$%.*s\" is not "
                            "defined by operation \"%.*s\".",
                            fql_pstr(u->var->str), fql_pstr(o->name));
                } else {
                    fql_err(r, &u->var->loc, "Variable \"$%.*s\" is not "
                            "defined.", fql_pstr(u->var->str));
                }
                continue;
            }

            /* every definition of the name counts as used */
            for (k = e - ix->e; k < ix->n && fql_str_eq(ix->e[k].key, e->key);
                 k++)
            {
                used[ix->e[k].pos] = 1;
            }

            vd = (fql_variable_def_t *) e->item;

            type = fql_resolve_ref(r, vd->type);
            if (type == NULL || !fql_type_is_input(fql_tref_named(type))
                || u->type == NULL)
            {
                continue;
            }

            /* a nullable variable with a default may fill a non-null spot */
            if (u->type->kind == FQL_TYPE_NON_NULL
                && type->kind != FQL_TYPE_NON_NULL
                && vd->default_value != NULL
                && vd->default_value->kind != FQL_VAL_NULL
                && fql_types_compatible(type, u->type->of))
            {
                continue;
            }

            if (!fql_types_compatible(type, u->type)) {
                fql_tref_print(type, vt, sizeof(vt));
                fql_tref_print(u->type, lt, sizeof(lt));
                fql_err(r, &u->var->loc, "Variable \"$%.*s\" of type \"%s\" "
                        "used in position expecting type \"%s\".",
                        fql_pstr(u->var->str), vt, lt);
            }
        }
    }

    /* All Variables Used */
    for (i = 0, vd = o->variables; vd; vd = vd->next, i++) {
        if (used[i]) {
            continue;
        }

        if (o->name.len) {
            fql_err(r, &vd->loc, "Variable \"$%.*s\" is never used in "
                    "operation \"%.*s\".", fql_pstr(vd->name),
                    fql_pstr(o->name));
        } else {
            fql_err(r, &vd->loc, "Variable \"$%.*s\" is never used.",
                    fql_pstr(vd->name));
        }
    }

    return 0;
}


/*
 * Fragment spreads must not form cycles: a depth-first walk from d, with
 * its own stack (a record is on it at most once, while open).
 */
static void
fql_check_cycles(fql_rctx_t *r, fql_dinfo_t *d)
{
    unsigned       top;
    fql_dinfo_t   *f;
    fql_spread_t  *sp;
    fql_dframe_t  *fr;

    top = 0;
    d->state = 1;
    r->stack[top].d = d;
    r->stack[top++].sp = d->spreads;

    while (top) {
        fr = &r->stack[top - 1];

        if (fr->sp == NULL) {
            fr->d->state = 2;
            top--;
            continue;
        }

        sp = fr->sp;
        fr->sp = sp->next;

        f = sp->frag;

        if (f->state == 1) {
            fql_err(r, &f->def->loc, "Cannot spread fragment \"%.*s\" "
                    "within itself.", fql_pstr(f->def->name));
            continue;
        }

        if (f->state == 0) {
            f->state = 1;
            r->stack[top].d = f;
            r->stack[top++].sp = f->spreads;
        }
    }
}


/* in a sorted index of records, marks each after the first of its name */
static void
fql_mark_dups(const fql_index_t *ix)
{
    unsigned  i;

    for (i = 1; i < ix->n; i++) {
        if (fql_str_eq(ix->e[i - 1].key, ix->e[i].key)) {
            ((fql_dinfo_t *) ix->e[i].item)->dup = 1;
        }
    }
}


/* the executable definitions, fragments and operations indexed by name */
static int
fql_index_definitions(fql_rctx_t *r)
{
    unsigned                 n, i;
    fql_index_t              names;
    fql_dinfo_t             *d;
    fql_vctx_t              *v = r->v;
    const fql_definition_t  *def;

    n = 0;

    for (def = v->doc->definitions; def; def = def->next) {
        n++;
    }

    r->defs = fql_calloc(v->arena, (n ? n : 1) * sizeof(fql_dinfo_t));
    if (r->defs == NULL) {
        return -1;
    }

    for (def = v->doc->definitions; def; def = def->next) {
        if (def->kind == FQL_DEF_OPERATION || def->kind == FQL_DEF_FRAGMENT) {
            r->defs[r->ndefs++].def = def;
        }
    }

    r->reached = fql_alloc(v->arena, (r->ndefs ? r->ndefs : 1)
                                     * sizeof(fql_dinfo_t *));
    r->stack = fql_alloc(v->arena, (r->ndefs ? r->ndefs : 1)
                                   * sizeof(fql_dframe_t));

    /* names of each kind, sorted: a duplicate follows the first */
    if (r->reached == NULL || r->stack == NULL
        || fql_index_init(&r->frags, v->arena, r->ndefs) != 0
        || fql_index_init(&names, v->arena, r->ndefs) != 0)
    {
        return -1;
    }

    for (i = 0; i < r->ndefs; i++) {
        d = &r->defs[i];

        if (d->def->kind == FQL_DEF_FRAGMENT) {
            fql_index_add(&r->frags, d->def->name, d);

        } else if (d->def->name.len) {
            fql_index_add(&names, d->def->name, d);
        }
    }

    fql_index_sort(&r->frags);
    fql_index_sort(&names);

    fql_mark_dups(&r->frags);
    fql_mark_dups(&names);

    return 0;
}


/* only executable definitions, named uniquely, one if anonymous */
static void
fql_check_definitions(fql_rctx_t *r)
{
    unsigned                 ops;
    fql_dinfo_t             *d;
    const fql_definition_t  *def;
    static const char       *what[] = {
        "operation", "fragment", "schema", "scalar", "type", "interface",
        "union", "enum", "input", "directive"
    };

    ops = 0;

    for (def = r->v->doc->definitions; def; def = def->next) {
        ops += def->kind == FQL_DEF_OPERATION;
    }

    d = r->defs;

    for (def = r->v->doc->definitions; def; def = def->next) {
        if (def->kind != FQL_DEF_OPERATION && def->kind != FQL_DEF_FRAGMENT) {
            fql_err(r, &def->loc, "The \"%s\" definition is not "
                    "executable.", what[def->kind]);
            continue;
        }

        if (def->kind == FQL_DEF_OPERATION && def->name.len == 0
            && ops > 1)
        {
            fql_err(r, &def->loc, "This anonymous operation must be the "
                    "only defined operation.");
        }

        if ((d++)->dup) {
            fql_err(r, &def->loc, def->kind == FQL_DEF_OPERATION
                    ? "There can be only one operation named \"%.*s\"."
                    : "There can be only one fragment named \"%.*s\".",
                    fql_pstr(def->name));
        }
    }
}


/* a fragment definition: its directives, type condition and selections */
static int
fql_walk_fragment(fql_rctx_t *r, const fql_definition_t *def)
{
    const fql_type_t  *t;

    if (fql_check_directives(r, def->directives, "FRAGMENT_DEFINITION")
        != 0)
    {
        return -1;
    }

    t = fql_schema_type(r->v->schema, def->type_condition);

    if (t == NULL) {
        fql_err(r, &def->loc, "Unknown type \"%.*s\".",
                fql_pstr(def->type_condition));
        return 0;
    }

    if (!fql_type_is_composite(t)) {
        fql_err(r, &def->loc, "Fragment \"%.*s\" cannot condition on "
                "non composite type \"%.*s\".", fql_pstr(def->name),
                fql_pstr(t->name));
        return 0;
    }

    return fql_walk_set(r, t, def->selections);
}


/* every operation and fragment, then the operations' variables */
static int
fql_walk_definitions(fql_rctx_t *r)
{
    unsigned      i;
    fql_dinfo_t  *d;

    for (i = 0; i < r->ndefs; i++) {
        d = &r->defs[i];
        r->cur = d;

        if (d->def->kind == FQL_DEF_OPERATION) {
            r->v->op = d->def;

            if (fql_walk_operation(r, d->def) != 0) {
                return -1;
            }

            continue;
        }

        r->v->op = NULL;

        if (fql_walk_fragment(r, d->def) != 0) {
            return -1;
        }
    }

    for (i = 0; i < r->ndefs; i++) {
        d = &r->defs[i];

        if (d->def->kind != FQL_DEF_OPERATION) {
            continue;
        }

        if (d->unchecked) {
            /* its fragments are used; its variables were not walked */
            fql_mark_reached(r, d);
            continue;
        }

        if (fql_check_variables(r, d) != 0) {
            return -1;
        }
    }

    return 0;
}


/* fragments: no cycles, each one used */
static void
fql_check_fragments(fql_rctx_t *r)
{
    unsigned      i;
    fql_dinfo_t  *d;

    for (i = 0; i < r->ndefs; i++) {
        d = &r->defs[i];

        if (d->def->kind == FQL_DEF_FRAGMENT) {
            if (d->state == 0) {
                fql_check_cycles(r, d);
            }

            if (!d->used) {
                fql_err(r, &d->def->loc, "Fragment \"%.*s\" is never used.",
                        fql_pstr(d->def->name));
            }
        }
    }
}


int
fql_validate_document(fql_vctx_t *v)
{
    int         rc;
    fql_rctx_t  r;

    memset(&r, 0, sizeof(fql_rctx_t));
    r.v = v;

    if (fql_index_definitions(&r) != 0) {
        return fql_error_nomem(v->errs);
    }

    fql_check_definitions(&r);

    v->on_variable = fql_on_variable;
    v->data = &r;

    rc = fql_walk_definitions(&r);

    if (rc == 0) {
        fql_check_fragments(&r);

        if (r.too_complex) {
            fql_err(&r, NULL, "The document is too complex to validate.");
        }
    }

    v->on_variable = NULL;
    v->data = NULL;
    v->op = NULL;

    if (rc != 0) {
        /* a walk stops on no memory, or on an error it added */
        return v->errs->count ? -1 : fql_error_nomem(v->errs);
    }

    return v->errs->count ? -1 : 0;
}
