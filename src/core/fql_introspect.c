/*
 * Introspection (__schema, __type, __typename) answered at compile time:
 * the schema does not change while nginx runs, so the answer is JSON text
 * in the plan, written out like any root field but with no SQL.
 */

#include <stdio.h>

#include "fql_compile_int.h"


typedef enum {
    FQL_IO_SCHEMA = 0,
    FQL_IO_TYPE,          /* a named type */
    FQL_IO_WRAPPER,       /* a LIST or NON_NULL type */
    FQL_IO_FIELD,
    FQL_IO_INPUT,
    FQL_IO_ENUM_VALUE,
    FQL_IO_DIRECTIVE
} fql_io_kind_t;

/* an object of the introspection model */
typedef struct {
    fql_io_kind_t                kind;
    const fql_type_t            *type;    /* TYPE: a named type, or NULL */
    const fql_tref_t            *wrap;    /* TYPE: a LIST or NON_NULL */
    const fql_field_t           *field;
    const fql_arg_t             *input;
    const fql_enum_value_t      *value;
    const fql_directive_def_t   *dir;
} fql_io_t;

/* JSON text growing in the arena, up to max bytes */
typedef struct {
    fql_wbuf_t    w;
    fql_arena_t  *arena;
    char         *start;
    size_t        max;
    unsigned      over:1;       /* max was reached */
} fql_abuf_t;

typedef struct {
    fql_cctx_t   *c;
    fql_abuf_t    out;
} fql_ictx_t;

/* a field of an introspection object being answered */
typedef struct {
    fql_ictx_t       *ic;
    const fql_io_t   *o;
    fql_cfield_t     *cf;        /* its nodes, merged */
    unsigned          depth;
    int               dep;       /* includeDeprecated: true */
} fql_ifield_t;

typedef int (*fql_io_resolve_pt)(const fql_ifield_t *r);

typedef struct {
    fql_io_kind_t       kind;
    const char         *name;
    fql_io_resolve_pt   resolve;
} fql_io_resolver_t;


static int fql_io_object(fql_ictx_t *ic, const fql_io_t *o,
    const fql_type_t *otype, fql_cfield_t *fields, unsigned depth);


static int
fql_abuf_reserve(fql_wbuf_t *w, size_t need)
{
    fql_abuf_t  *b = (fql_abuf_t *) w;
    size_t       used, cap;
    char        *p;

    used = b->start ? (size_t) (w->pos - b->start) : 0;
    cap = b->start ? (size_t) (w->end - b->start) * 2 : 1024;

    if (used + need > b->max) {
        b->over = 1;
        return -1;
    }

    while (cap < used + need) {
        cap *= 2;
    }

    p = fql_alloc(b->arena, cap);
    if (p == NULL) {
        return -1;
    }

    if (used) {
        memcpy(p, b->start, used);
    }

    b->start = p;
    w->pos = p + used;
    w->end = p + cap;

    return 0;
}


static void
fql_abuf_init(fql_abuf_t *b, fql_arena_t *a)
{
    memset(b, 0, sizeof(fql_abuf_t));
    b->w.reserve = fql_abuf_reserve;
    b->w.ctx = b;
    b->arena = a;
    b->max = (size_t) -1;
}


static int
fql_io_str(fql_ictx_t *ic, fql_str_t s)
{
    if (s.data == NULL) {
        return fql_wbuf_lit(&ic->out.w, "null");
    }

    return fql_json_string(&ic->out.w, s.data, s.len);
}


static int
fql_io_strz(fql_ictx_t *ic, const char *z)
{
    return fql_json_string(&ic->out.w, z, strlen(z));
}


/* a default value in GraphQL syntax, for __InputValue.defaultValue */
static int
fql_print_value(fql_wbuf_t *w, const fql_value_t *v)
{
    const fql_value_t         *it;
    const fql_object_field_t  *f;

    switch (v->kind) {

    case FQL_VAL_VARIABLE:
        return fql_wbuf_putc(w, '$') || fql_wbuf_put(w, v->str.data,
                                                     v->str.len);

    case FQL_VAL_STRING:
        return fql_json_string(w, v->str.data, v->str.len);

    case FQL_VAL_BOOLEAN:
        return v->boolean ? fql_wbuf_lit(w, "true")
                          : fql_wbuf_lit(w, "false");

    case FQL_VAL_NULL:
        return fql_wbuf_lit(w, "null");

    case FQL_VAL_LIST:
        if (fql_wbuf_putc(w, '[') != 0) {
            return -1;
        }

        for (it = v->items; it; it = it->next) {
            if ((it != v->items && fql_wbuf_lit(w, ", ") != 0)
                || fql_print_value(w, it) != 0)
            {
                return -1;
            }
        }

        return fql_wbuf_putc(w, ']');

    case FQL_VAL_OBJECT:
        if (fql_wbuf_putc(w, '{') != 0) {
            return -1;
        }

        for (f = v->fields; f; f = f->next) {
            if ((f != v->fields && fql_wbuf_lit(w, ", ") != 0)
                || fql_wbuf_put(w, f->name.data, f->name.len) != 0
                || fql_wbuf_lit(w, ": ") != 0
                || fql_print_value(w, f->value) != 0)
            {
                return -1;
            }
        }

        return fql_wbuf_putc(w, '}');

    default: /* INT, FLOAT, ENUM: as written */
        return fql_wbuf_put(w, v->str.data, v->str.len);
    }
}


static const char *
fql_type_kind_name(const fql_io_t *o)
{
    if (o->wrap != NULL) {
        return o->wrap->kind == FQL_TYPE_LIST ? "LIST" : "NON_NULL";
    }

    switch (o->type->kind) {
    case FQL_T_SCALAR:    return "SCALAR";
    case FQL_T_OBJECT:    return "OBJECT";
    case FQL_T_INTERFACE: return "INTERFACE";
    case FQL_T_UNION:     return "UNION";
    case FQL_T_ENUM:      return "ENUM";
    default:              return "INPUT_OBJECT";
    }
}


/* the introspection object for a type reference (named or wrapper) */
static void
fql_io_tref(fql_io_t *o, const fql_tref_t *t)
{
    memset(o, 0, sizeof(fql_io_t));

    if (t->kind == FQL_TYPE_NAMED) {
        o->kind = FQL_IO_TYPE;
        o->type = t->type;

    } else {
        o->kind = FQL_IO_WRAPPER;
        o->wrap = t;
    }
}


static const fql_type_t *
fql_itype(fql_ictx_t *ic, const char *name)
{
    fql_str_t  s;

    s.data = name;
    s.len = strlen(name);

    return fql_schema_type(ic->c->v.schema, s);
}


/*
 * A list of introspection objects.  `next` steps through the source list
 * and `make` fills the object for one element; both are small switches
 * on the kind, which keeps every list in one place.
 */
typedef enum {
    FQL_IL_TYPES = 0,       /* fql_type_t via ->next */
    FQL_IL_TYPE_LIST,       /* fql_type_list_t */
    FQL_IL_IMPLEMENTORS,    /* object types implementing an interface */
    FQL_IL_FIELDS,          /* fql_field_t */
    FQL_IL_ARGS,            /* fql_arg_t */
    FQL_IL_ENUM_VALUES,     /* fql_enum_value_t */
    FQL_IL_DIRECTIVES       /* fql_directive_def_t */
} fql_il_kind_t;


static int
fql_implements(const fql_type_t *t, const fql_type_t *iface)
{
    const fql_type_list_t  *l;

    for (l = t->interfaces; l; l = l->next) {
        if (l->type == iface) {
            return 1;
        }
    }

    return 0;
}


/* deprecated: deprecated fields and enum values are listed too */
/*
 * What the caller may use is all there is, for it: a field whose rule it
 * breaks (or whose type's), a type it may not read, a filter or ordering
 * by a guarded field are left out, as if the schema had none.
 */
static int
fql_io_rule_ok(const fql_ictx_t *ic, const fql_rule_t *r)
{
    fql_caller_t  anon;

    if (r == NULL) {
        return 1;
    }

    if (ic->c->caller == NULL) {
        memset(&anon, 0, sizeof(anon));
        return fql_rule_allows(r, &anon);
    }

    return fql_rule_allows(r, ic->c->caller);
}


static int
fql_io_type_ok(const fql_ictx_t *ic, const fql_type_t *t)
{
    if (t->gen && t->view != NULL) {
        t = t->view;
    }

    return fql_io_rule_ok(ic, t->rule);
}


static int
fql_io_field_ok(const fql_ictx_t *ic, const fql_field_t *f)
{
    return fql_io_rule_ok(ic, f->rule)
           && fql_io_type_ok(ic, fql_tref_named(f->type));
}


static int
fql_io_input_ok(const fql_ictx_t *ic, const fql_arg_t *a)
{
    return a->filter_field == NULL
           || fql_io_rule_ok(ic, a->filter_field->rule);
}


static int
fql_io_list(const fql_ifield_t *r, fql_il_kind_t kind, const void *first,
    const fql_type_t *iface, int deprecated, const char *otype_name)
{
    int                 n;
    fql_io_t            o;
    const void         *p;
    fql_cfield_t       *sub;
    fql_ictx_t         *ic = r->ic;
    const fql_type_t   *otype;

    otype = fql_itype(ic, otype_name);

    if (fql_collect_sub(ic->c, otype, r->cf, &sub) != 0
        || fql_wbuf_putc(&ic->out.w, '[') != 0)
    {
        return -1;
    }

    n = 0;

    for (p = first; p != NULL; /* below */ ) {
        memset(&o, 0, sizeof(fql_io_t));

        switch (kind) {

        case FQL_IL_TYPES:
        case FQL_IL_IMPLEMENTORS:
            o.kind = FQL_IO_TYPE;
            o.type = p;
            p = o.type->next;

            if (kind == FQL_IL_IMPLEMENTORS
                && (o.type->kind != FQL_T_OBJECT
                    || !fql_implements(o.type, iface)))
            {
                continue;
            }

            if (!fql_io_type_ok(ic, o.type)) {
                continue;
            }
            break;

        case FQL_IL_TYPE_LIST:
            o.kind = FQL_IO_TYPE;
            o.type = ((const fql_type_list_t *) p)->type;
            p = ((const fql_type_list_t *) p)->next;
            break;

        case FQL_IL_FIELDS:
            o.kind = FQL_IO_FIELD;
            o.field = p;
            p = o.field->next;

            if ((!deprecated && o.field->deprecation.data != NULL)
                || !fql_io_field_ok(ic, o.field))
            {
                continue;
            }
            break;

        case FQL_IL_ARGS:
            o.kind = FQL_IO_INPUT;
            o.input = p;
            p = o.input->next;

            if (!fql_io_input_ok(ic, o.input)) {
                continue;
            }
            break;

        case FQL_IL_ENUM_VALUES:
            o.kind = FQL_IO_ENUM_VALUE;
            o.value = p;
            p = o.value->next;

            if (!deprecated && o.value->deprecation.data != NULL) {
                continue;
            }
            break;

        default: /* FQL_IL_DIRECTIVES */
            o.kind = FQL_IO_DIRECTIVE;
            o.dir = p;
            p = o.dir->next;
            break;
        }

        if ((n++ && fql_wbuf_putc(&ic->out.w, ',') != 0)
            || fql_io_object(ic, &o, otype, sub, r->depth + 1) != 0)
        {
            return -1;
        }
    }

    return fql_wbuf_putc(&ic->out.w, ']');
}


/* a single object-valued field: o, or null when o is NULL */
static int
fql_io_one(const fql_ifield_t *r, const fql_io_t *o, const char *otype_name)
{
    fql_cfield_t      *sub;
    const fql_type_t  *otype;

    if (o == NULL) {
        return fql_wbuf_lit(&r->ic->out.w, "null");
    }

    otype = fql_itype(r->ic, otype_name);

    if (fql_collect_sub(r->ic->c, otype, r->cf, &sub) != 0) {
        return -1;
    }

    return fql_io_object(r->ic, o, otype, sub, r->depth + 1);
}


static int
fql_io_include_deprecated(fql_ictx_t *ic, const fql_field_t *f,
    const fql_selection_t *s, int *include)
{
    fql_jval_t  *args, *v;

    if (fql_coerce_arguments(&ic->c->v, f->args, s->args, &f->name, s->loc,
                             &args) != 0)
    {
        return -1;
    }

    v = fql_jval_member(args, "includeDeprecated");
    *include = v != NULL && v->kind == FQL_J_BOOL && v->boolean;

    return 0;
}


/* ---- the resolvers: one per field of each introspection type ---- */

static int
fql_io_null(const fql_ifield_t *r)
{
    return fql_wbuf_lit(&r->ic->out.w, "null");
}


static int
fql_io_bool(const fql_ifield_t *r, int b)
{
    return b ? fql_wbuf_lit(&r->ic->out.w, "true")
             : fql_wbuf_lit(&r->ic->out.w, "false");
}


/* a named type as a __Type, or null */
static int
fql_io_named(const fql_ifield_t *r, const fql_type_t *t)
{
    fql_io_t  child;

    if (t == NULL) {
        return fql_io_one(r, NULL, "__Type");
    }

    memset(&child, 0, sizeof(fql_io_t));
    child.kind = FQL_IO_TYPE;
    child.type = t;

    return fql_io_one(r, &child, "__Type");
}


/* a type reference as a __Type */
static int
fql_io_type_ref(const fql_ifield_t *r, const fql_tref_t *t)
{
    fql_io_t  child;

    fql_io_tref(&child, t);

    return fql_io_one(r, &child, "__Type");
}


static int
fql_io_schema_types(const fql_ifield_t *r)
{
    return fql_io_list(r, FQL_IL_TYPES, r->ic->c->v.schema->types, NULL, 0,
                       "__Type");
}


static int
fql_io_schema_query(const fql_ifield_t *r)
{
    return fql_io_named(r, r->ic->c->v.schema->query);
}


static int
fql_io_schema_mutation(const fql_ifield_t *r)
{
    return fql_io_named(r, r->ic->c->v.schema->mutation);
}


static int
fql_io_schema_subscription(const fql_ifield_t *r)
{
    return fql_io_named(r, r->ic->c->v.schema->subscription);
}


static int
fql_io_schema_directives(const fql_ifield_t *r)
{
    return fql_io_list(r, FQL_IL_DIRECTIVES, r->ic->c->v.schema->directives,
                       NULL, 0, "__Directive");
}


static int
fql_io_type_kind(const fql_ifield_t *r)
{
    return fql_io_strz(r->ic, fql_type_kind_name(r->o));
}


static int
fql_io_type_name(const fql_ifield_t *r)
{
    return fql_io_str(r->ic, r->o->type->name);
}


static int
fql_io_type_description(const fql_ifield_t *r)
{
    fql_str_t  none = { NULL, 0 };

    return fql_io_str(r->ic, r->o->type->description.len
                             ? r->o->type->description : none);
}


static int
fql_io_type_fields(const fql_ifield_t *r)
{
    const fql_type_t  *t = r->o->type;

    if (t->kind != FQL_T_OBJECT && t->kind != FQL_T_INTERFACE) {
        return fql_io_null(r);
    }

    return fql_io_list(r, FQL_IL_FIELDS, t->fields, NULL, r->dep,
                       "__Field");
}


static int
fql_io_type_interfaces(const fql_ifield_t *r)
{
    const fql_type_t  *t = r->o->type;

    if (t->kind != FQL_T_OBJECT && t->kind != FQL_T_INTERFACE) {
        return fql_io_null(r);
    }

    return fql_io_list(r, FQL_IL_TYPE_LIST, t->interfaces, NULL, 0,
                       "__Type");
}


static int
fql_io_type_possible(const fql_ifield_t *r)
{
    const fql_type_t  *t = r->o->type;

    if (t->kind == FQL_T_UNION) {
        return fql_io_list(r, FQL_IL_TYPE_LIST, t->members, NULL, 0,
                           "__Type");
    }

    if (t->kind == FQL_T_INTERFACE) {
        return fql_io_list(r, FQL_IL_IMPLEMENTORS, r->ic->c->v.schema->types,
                           t, 0, "__Type");
    }

    return fql_io_null(r);
}


static int
fql_io_type_enum_values(const fql_ifield_t *r)
{
    const fql_type_t  *t = r->o->type;

    if (t->kind != FQL_T_ENUM) {
        return fql_io_null(r);
    }

    return fql_io_list(r, FQL_IL_ENUM_VALUES, t->values, NULL, r->dep,
                       "__EnumValue");
}


static int
fql_io_type_input_fields(const fql_ifield_t *r)
{
    const fql_type_t  *t = r->o->type;

    if (t->kind != FQL_T_INPUT) {
        return fql_io_null(r);
    }

    return fql_io_list(r, FQL_IL_ARGS, t->input_fields, NULL, r->dep,
                       "__InputValue");
}


static int
fql_io_wrapper_of(const fql_ifield_t *r)
{
    return fql_io_type_ref(r, r->o->wrap->of);
}


static int
fql_io_field_name(const fql_ifield_t *r)
{
    return fql_io_str(r->ic, r->o->field->name);
}


static int
fql_io_field_description(const fql_ifield_t *r)
{
    return fql_io_str(r->ic, r->o->field->description);
}


static int
fql_io_field_args(const fql_ifield_t *r)
{
    return fql_io_list(r, FQL_IL_ARGS, r->o->field->args, NULL, r->dep,
                       "__InputValue");
}


static int
fql_io_field_type(const fql_ifield_t *r)
{
    return fql_io_type_ref(r, r->o->field->type);
}


static int
fql_io_field_deprecated(const fql_ifield_t *r)
{
    return fql_io_bool(r, r->o->field->deprecation.data != NULL);
}


static int
fql_io_field_reason(const fql_ifield_t *r)
{
    return fql_io_str(r->ic, r->o->field->deprecation);
}


static int
fql_io_input_name(const fql_ifield_t *r)
{
    return fql_io_str(r->ic, r->o->input->name);
}


static int
fql_io_input_description(const fql_ifield_t *r)
{
    return fql_io_str(r->ic, r->o->input->description);
}


static int
fql_io_input_type(const fql_ifield_t *r)
{
    return fql_io_type_ref(r, r->o->input->type);
}


/* the default value in GraphQL syntax, as a string */
static int
fql_io_input_default(const fql_ifield_t *r)
{
    fql_abuf_t  tmp;

    if (r->o->input->default_value == NULL) {
        return fql_io_null(r);
    }

    fql_abuf_init(&tmp, r->ic->c->v.arena);

    if (fql_print_value(&tmp.w, r->o->input->default_value) != 0) {
        return -1;
    }

    return fql_json_string(&r->ic->out.w, tmp.start, tmp.w.pos - tmp.start);
}


static int
fql_io_false(const fql_ifield_t *r)
{
    return fql_io_bool(r, 0);
}


static int
fql_io_value_name(const fql_ifield_t *r)
{
    return fql_io_str(r->ic, r->o->value->name);
}


static int
fql_io_value_description(const fql_ifield_t *r)
{
    return fql_io_str(r->ic, r->o->value->description);
}


static int
fql_io_value_deprecated(const fql_ifield_t *r)
{
    return fql_io_bool(r, r->o->value->deprecation.data != NULL);
}


static int
fql_io_value_reason(const fql_ifield_t *r)
{
    return fql_io_str(r->ic, r->o->value->deprecation);
}


static int
fql_io_dir_name(const fql_ifield_t *r)
{
    return fql_io_str(r->ic, r->o->dir->name);
}


static int
fql_io_dir_description(const fql_ifield_t *r)
{
    return fql_io_str(r->ic, r->o->dir->description);
}


static int
fql_io_dir_locations(const fql_ifield_t *r)
{
    fql_wbuf_t              *w = &r->ic->out.w;
    const fql_name_list_t   *l;

    if (fql_wbuf_putc(w, '[') != 0) {
        return -1;
    }

    for (l = r->o->dir->locations; l; l = l->next) {
        if ((l != r->o->dir->locations && fql_wbuf_putc(w, ',') != 0)
            || fql_io_str(r->ic, l->name) != 0)
        {
            return -1;
        }
    }

    return fql_wbuf_putc(w, ']');
}


static int
fql_io_dir_args(const fql_ifield_t *r)
{
    return fql_io_list(r, FQL_IL_ARGS, r->o->dir->args, NULL, r->dep,
                       "__InputValue");
}


static int
fql_io_dir_repeatable(const fql_ifield_t *r)
{
    return fql_io_bool(r, r->o->dir->repeatable);
}


/*
 * The fields of the spec's introspection types (fql_builtin_sdl), which
 * the selection is validated against.  A field with no row here is null:
 * a wrapper type's name, fields...; ofType of a named type;
 * specifiedByURL.
 */
static const fql_io_resolver_t  fql_io_fields[] = {
    { FQL_IO_SCHEMA, "description", fql_io_null },
    { FQL_IO_SCHEMA, "types", fql_io_schema_types },
    { FQL_IO_SCHEMA, "queryType", fql_io_schema_query },
    { FQL_IO_SCHEMA, "mutationType", fql_io_schema_mutation },
    { FQL_IO_SCHEMA, "subscriptionType", fql_io_schema_subscription },
    { FQL_IO_SCHEMA, "directives", fql_io_schema_directives },

    { FQL_IO_TYPE, "kind", fql_io_type_kind },
    { FQL_IO_TYPE, "name", fql_io_type_name },
    { FQL_IO_TYPE, "description", fql_io_type_description },
    { FQL_IO_TYPE, "fields", fql_io_type_fields },
    { FQL_IO_TYPE, "interfaces", fql_io_type_interfaces },
    { FQL_IO_TYPE, "possibleTypes", fql_io_type_possible },
    { FQL_IO_TYPE, "enumValues", fql_io_type_enum_values },
    { FQL_IO_TYPE, "inputFields", fql_io_type_input_fields },

    { FQL_IO_WRAPPER, "kind", fql_io_type_kind },
    { FQL_IO_WRAPPER, "ofType", fql_io_wrapper_of },

    { FQL_IO_FIELD, "name", fql_io_field_name },
    { FQL_IO_FIELD, "description", fql_io_field_description },
    { FQL_IO_FIELD, "args", fql_io_field_args },
    { FQL_IO_FIELD, "type", fql_io_field_type },
    { FQL_IO_FIELD, "isDeprecated", fql_io_field_deprecated },
    { FQL_IO_FIELD, "deprecationReason", fql_io_field_reason },

    { FQL_IO_INPUT, "name", fql_io_input_name },
    { FQL_IO_INPUT, "description", fql_io_input_description },
    { FQL_IO_INPUT, "type", fql_io_input_type },
    { FQL_IO_INPUT, "defaultValue", fql_io_input_default },
    { FQL_IO_INPUT, "isDeprecated", fql_io_false },
    { FQL_IO_INPUT, "deprecationReason", fql_io_null },

    { FQL_IO_ENUM_VALUE, "name", fql_io_value_name },
    { FQL_IO_ENUM_VALUE, "description", fql_io_value_description },
    { FQL_IO_ENUM_VALUE, "isDeprecated", fql_io_value_deprecated },
    { FQL_IO_ENUM_VALUE, "deprecationReason", fql_io_value_reason },

    { FQL_IO_DIRECTIVE, "name", fql_io_dir_name },
    { FQL_IO_DIRECTIVE, "description", fql_io_dir_description },
    { FQL_IO_DIRECTIVE, "locations", fql_io_dir_locations },
    { FQL_IO_DIRECTIVE, "args", fql_io_dir_args },
    { FQL_IO_DIRECTIVE, "isRepeatable", fql_io_dir_repeatable }
};


/* one field of an introspection object */
static int
fql_io_field(fql_ictx_t *ic, const fql_io_t *o, fql_cfield_t *cf,
    const fql_field_t *f, unsigned depth)
{
    size_t        i;
    fql_ifield_t  r;

    r.ic = ic;
    r.o = o;
    r.cf = cf;
    r.depth = depth;
    r.dep = 0;

    if (f->args != NULL
        && fql_io_include_deprecated(ic, f, cf->nodes->sel, &r.dep) != 0)
    {
        return -1;
    }

    for (i = 0; i < sizeof(fql_io_fields) / sizeof(fql_io_fields[0]); i++) {
        if (fql_io_fields[i].kind == o->kind
            && fql_str_eqz(f->name, fql_io_fields[i].name))
        {
            return fql_io_fields[i].resolve(&r);
        }
    }

    return fql_io_null(&r);
}


static int
fql_io_object(fql_ictx_t *ic, const fql_io_t *o, const fql_type_t *otype,
    fql_cfield_t *fields, unsigned depth)
{
    fql_cfield_t           *cf;
    const fql_field_t      *f;
    const fql_type_t       *ft;
    const fql_selection_t  *s;

    /*
     * Introspection is exempt from fraiseql_max_depth, as from the other
     * static limits (GraphiQL's query is 13 deep); its own bound keeps
     * the resolver's recursion short.
     */
    if (depth > FQL_INTROSPECT_DEPTH) {
        fql_error_add(ic->c->v.errs,
                      fields ? &fields->nodes->sel->loc : NULL,
                      FQL_CODE_LIMIT,
                      "Introspection is nested deeper than %d levels.",
                      FQL_INTROSPECT_DEPTH);
        return -1;
    }

    if (fql_wbuf_putc(&ic->out.w, '{') != 0) {
        return -1;
    }

    for (cf = fields; cf; cf = cf->next) {
        s = cf->nodes->sel;

        if ((cf != fields && fql_wbuf_putc(&ic->out.w, ',') != 0)
            || fql_json_string(&ic->out.w, cf->key.data, cf->key.len) != 0
            || fql_wbuf_putc(&ic->out.w, ':') != 0)
        {
            return -1;
        }

        if (fql_str_eqz(s->name, "__typename")) {
            if (fql_io_str(ic, otype->name) != 0) {
                return -1;
            }
            continue;
        }

        f = fql_type_field(otype, s->name);
        if (f == NULL) {
            fql_error_add(ic->c->v.errs, &s->loc, FQL_CODE_VALIDATION,
                          "Cannot query field \"%.*s\" on type \"%.*s\".",
                          fql_pstr(s->name), fql_pstr(otype->name));
            return -1;
        }

        ft = fql_tref_named(f->type);

        if (ft->kind == FQL_T_OBJECT && s->selections == NULL) {
            fql_error_add(ic->c->v.errs, &s->loc, FQL_CODE_VALIDATION,
                          "Field \"%.*s\" of type \"%.*s\" must have a "
                          "selection of subfields.", fql_pstr(s->name),
                          fql_pstr(ft->name));
            return -1;
        }

        if (ft->kind != FQL_T_OBJECT && s->selections != NULL) {
            fql_error_add(ic->c->v.errs, &s->loc, FQL_CODE_VALIDATION,
                          "Field \"%.*s\" must not have a selection since "
                          "type \"%.*s\" has no subfields.",
                          fql_pstr(s->name), fql_pstr(ft->name));
            return -1;
        }

        if (f->args == NULL && s->args != NULL) {
            fql_error_add(ic->c->v.errs, &s->args->loc, FQL_CODE_VALIDATION,
                          "Unknown argument \"%.*s\" on field "
                          "\"%.*s.%.*s\".", fql_pstr(s->args->name),
                          fql_pstr(otype->name), fql_pstr(f->name));
            return -1;
        }

        if (fql_io_field(ic, o, cf, f, depth) != 0) {
            return -1;
        }
    }

    return fql_wbuf_putc(&ic->out.w, '}');
}


static int
fql_introspect_answer(fql_cctx_t *c, const fql_type_t *root, fql_cfield_t *cf,
    fql_str_t *value)
{
    fql_io_t                o;
    fql_ictx_t              ic;
    fql_jval_t             *args, *name;
    fql_type_t             *t;
    const fql_type_t       *otype;
    fql_cfield_t           *sub;
    const fql_selection_t  *s = cf->nodes->sel;
    fql_arg_t               name_arg;
    fql_tref_t              string_tref, name_tref;

    memset(&ic, 0, sizeof(fql_ictx_t));
    ic.c = c;
    fql_abuf_init(&ic.out, c->v.arena);
    ic.out.max = c->static_left;

    if (fql_str_eqz(s->name, "__typename")) {
        if (fql_c_typename(c, s) != 0) {
            return -1;
        }

        if (fql_json_string(&ic.out.w, root->name.data, root->name.len)
            != 0)
        {
            return fql_error_nomem(c->v.errs);
        }

        goto done;
    }

    if (c->limits != NULL && c->limits->no_introspection) {
        fql_error_add(c->v.errs, &s->loc, FQL_CODE_VALIDATION,
                      "GraphQL introspection is not allowed here, but the "
                      "query contained \"%.*s\".", fql_pstr(s->name));
        return -1;
    }

    if (s->selections == NULL) {
        fql_error_add(c->v.errs, &s->loc, FQL_CODE_VALIDATION,
                      "Field \"%.*s\" must have a selection of subfields.",
                      fql_pstr(s->name));
        return -1;
    }

    memset(&o, 0, sizeof(fql_io_t));

    /* each caller sees what it may use: one answer per caller's rights */
    if (c->v.schema->authz.rules) {
        c->per_caller = 1;
    }

    if (fql_str_eqz(s->name, "__schema")) {
        if (s->args != NULL) {
            fql_error_add(c->v.errs, &s->args->loc, FQL_CODE_VALIDATION,
                          "Unknown argument \"%.*s\" on field "
                          "\"Query.__schema\".", fql_pstr(s->args->name));
            return -1;
        }

        o.kind = FQL_IO_SCHEMA;
        otype = fql_itype(&ic, "__Schema");

    } else {
        /* __type(name: String!): __Type */
        memset(&name_arg, 0, sizeof(fql_arg_t));
        memset(&string_tref, 0, sizeof(fql_tref_t));
        memset(&name_tref, 0, sizeof(fql_tref_t));

        string_tref.kind = FQL_TYPE_NAMED;
        string_tref.type = c->v.schema->scalars[FQL_SCALAR_STRING];
        name_tref.kind = FQL_TYPE_NON_NULL;
        name_tref.of = &string_tref;
        name_arg.name.data = "name";
        name_arg.name.len = 4;
        name_arg.type = &name_tref;

        if (fql_coerce_arguments(&c->v, &name_arg, s->args, &s->name, s->loc,
                                 &args) != 0)
        {
            return -1;
        }

        name = fql_jval_member(args, "name");
        t = fql_schema_type(c->v.schema, name->str);

        if (t != NULL && !fql_io_type_ok(&ic, t)) {
            t = NULL;
        }

        /* the answer depends on the name: a plan per name is no plan */
        fql_c_static_value(c, name);

        o.kind = FQL_IO_TYPE;
        o.type = t;
        otype = fql_itype(&ic, "__Type");

        if (t == NULL) {
            /* still validate the selection against __Type */
            if (fql_collect_sub(c, otype, cf, &sub) != 0) {
                return -1;
            }

            if (fql_wbuf_lit(&ic.out.w, "null") != 0) {
                return fql_error_nomem(c->v.errs);
            }

            goto done;
        }
    }

    if (fql_collect_sub(c, otype, cf, &sub) != 0
        || fql_io_object(&ic, &o, otype, sub, 1) != 0)
    {
        if (ic.out.over) {
            /* aliases can ask for the schema many times over */
            fql_error_add(c->v.errs, &s->loc, FQL_CODE_LIMIT,
                          "The introspection answer would be larger than "
                          "%zu bytes: several times the whole schema.",
                          c->limits->max_static);
            return -1;
        }

        return c->v.errs->count ? -1 : fql_error_nomem(c->v.errs);
    }

done:

    value->data = ic.out.start;
    value->len = ic.out.w.pos - ic.out.start;

    if (c->static_left != (size_t) -1) {
        c->static_left -= value->len;
    }

    return 0;
}


/* introspection's own selections are not what static limits count */
int
fql_introspect_root(fql_cctx_t *c, const fql_type_t *root, fql_cfield_t *cf,
    fql_str_t *value)
{
    int       rc;
    unsigned  was = c->introspecting;

    c->introspecting = 1;
    rc = fql_introspect_answer(c, root, cf, value);
    c->introspecting = was;

    return rc;
}


/* GraphiQL's introspection query, whole: what tools ask for at most */
static const char  fql_full_introspection[] =
    "query{__schema{description queryType{name}mutationType{name}"
    "subscriptionType{name}types{...T}directives{name description "
    "isRepeatable locations args(includeDeprecated:true){...I}}}}"
    "fragment T on __Type{kind name description specifiedByURL "
    "fields(includeDeprecated:true){name description "
    "args(includeDeprecated:true){...I}type{...R}isDeprecated "
    "deprecationReason}inputFields(includeDeprecated:true){...I}"
    "interfaces{...R}enumValues(includeDeprecated:true){name description "
    "isDeprecated deprecationReason}possibleTypes{...R}}"
    "fragment I on __InputValue{name description type{...R}defaultValue "
    "isDeprecated deprecationReason}"
    "fragment R on __Type{kind name ofType{kind name ofType{kind name "
    "ofType{kind name ofType{kind name ofType{kind name ofType{kind name "
    "ofType{kind name}}}}}}}}";


size_t
fql_introspection_size(const fql_schema_t *schema)
{
    size_t              size;
    fql_arena_t        *a;
    fql_plan_t         *plan;
    fql_engine_t        eng;
    fql_errors_t        errs;
    fql_request_t       req;
    fql_document_t     *doc;
    fql_parse_error_t   perr;

    a = fql_arena_heap_create();
    if (a == NULL) {
        return 0;
    }

    fql_errors_init(&errs, a);
    memset(&eng, 0, sizeof(eng));
    eng.schema = schema;
    memset(&req, 0, sizeof(req));
    size = 0;

    if (fql_parse_document(a, fql_full_introspection,
                           sizeof(fql_full_introspection) - 1, NULL, &doc,
                           &perr) == 0
        && fql_compile(a, &eng, doc, &req, &plan, &errs) == 0
        && plan->roots != NULL)
    {
        size = plan->roots->value.len;
    }

    fql_arena_heap_destroy(a);

    return size;
}
