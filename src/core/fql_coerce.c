#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>

#include "fql_coerce.h"
#include "fql_jscan.h"


static fql_jval_t *
fql_jnew(fql_vctx_t *v, fql_jkind_t kind)
{
    fql_jval_t  *j;

    j = fql_calloc(v->arena, sizeof(fql_jval_t));
    if (j != NULL) {
        j->kind = kind;
    }

    return j;
}


static void
fql_type_name(const fql_tref_t *t, char *buf, size_t size)
{
    fql_tref_print(t, buf, size);
}


const fql_definition_t *
fql_select_operation(const fql_document_t *doc, fql_str_t name,
    fql_errors_t *errs)
{
    unsigned                 n;
    const fql_definition_t  *d, *found;

    n = 0;
    found = NULL;

    for (d = doc->definitions; d; d = d->next) {
        if (d->kind != FQL_DEF_OPERATION) {
            continue;
        }

        n++;

        if (name.data == NULL) {
            found = d;

        } else if (fql_str_eq(d->name, name) && found == NULL) {
            found = d;
        }
    }

    if (name.data == NULL) {
        if (n == 0) {
            fql_error_add(errs, NULL, FQL_CODE_VALIDATION,
                          "The document has no operation.");
            return NULL;
        }

        if (n > 1) {
            fql_error_add(errs, NULL, FQL_CODE_VALIDATION,
                          "The document has several operations: "
                          "operationName must name the one to run.");
            return NULL;
        }

        return found;
    }

    if (found == NULL) {
        fql_error_add(errs, NULL, FQL_CODE_VALIDATION,
                      "Unknown operation named \"%.*s\".", fql_pstr(name));
    }

    return found;
}


/* integer lexeme or number -> checked int32, normalised text */
static int
fql_int32(const fql_str_t *lexeme, long *out)
{
    char    *end, buf[64];
    double   d;
    long     l;

    if (lexeme->len == 0 || lexeme->len >= sizeof(buf)) {
        return -1;
    }

    memcpy(buf, lexeme->data, lexeme->len);
    buf[lexeme->len] = '\0';

    errno = 0;
    l = strtol(buf, &end, 10);
    if (*end == '\0' && errno == 0) {
        if (l < -2147483648L || l > 2147483647L) {
            return -1;
        }

        *out = l;
        return 0;
    }

    /* 1.0 or 1e2 in JSON: an integer written as a float */
    d = strtod(buf, &end);
    if (*end != '\0' || !isfinite(d) || d != floor(d)
        || d < -2147483648.0 || d > 2147483647.0)
    {
        return -1;
    }

    *out = (long) d;
    return 0;
}


/*
 * An input field the type does not have; for a where filter, an operator
 * that does not fit the field's type says so.
 */
static void
fql_unknown_field(fql_vctx_t *v, const fql_type_t *t, fql_str_t name,
    char *why, size_t size)
{
    int               n;
    char              tn[128];
    const fql_arg_t  *in = v->in_arg;

    n = snprintf(why, size, "Field \"%.*s\" is not defined by type "
                 "\"%.*s\".", fql_pstr(name), fql_pstr(t->name));

    /* in_arg is the field whose value this is only if its type is t */
    if (!t->filter || in == NULL || in->filter_field == NULL
        || fql_tref_named(in->type) != t
        || fql_operator_named(name) == NULL || n < 0 || (size_t) n >= size)
    {
        return;
    }

    fql_tref_print(in->filter_field->type, tn, sizeof(tn));

    snprintf(why + n, size - n, " Operator \"%.*s\" does not apply to "
             "field \"%.*s\" of type %s.", fql_pstr(name),
             fql_pstr(in->name), tn);
}


#define FQL_VECTOR_WHY  "a vector is a non-empty list of numbers"

static int
fql_is_vector(const fql_jval_t *j)
{
    const fql_jval_t  *it;

    if (j->kind != FQL_J_ARRAY || j->items == NULL) {
        return 0;
    }

    for (it = j->items; it; it = it->next) {
        if (it->kind != FQL_J_NUMBER) {
            return 0;
        }
    }

    return 1;
}


/*
 * A numeric string PostgreSQL reads ("+2", ".5", "1.", "007") as a JSON
 * number ("2", "0.5", "1", "7"), for the JSON some operators send.
 */
static int
fql_decimal_json(fql_vctx_t *v, const fql_str_t *s, fql_str_t *out)
{
    char    *p, *o;
    size_t   i, mark;

    p = fql_alloc(v->arena, s->len + 3);
    if (p == NULL) {
        return -1;
    }

    o = p;
    i = 0;

    if (s->data[i] == '+' || s->data[i] == '-') {
        if (s->data[i++] == '-') {
            *o++ = '-';
        }
    }

    while (i + 1 < s->len && s->data[i] == '0' && fql_is_digit(s->data[i + 1]))
    {
        i++;
    }

    if (i == s->len || !fql_is_digit(s->data[i])) {
        *o++ = '0';
    }

    while (i < s->len && fql_is_digit(s->data[i])) {
        *o++ = s->data[i++];
    }

    if (i < s->len && s->data[i] == '.') {
        i++;
        mark = o - p;
        *o++ = '.';

        while (i < s->len && fql_is_digit(s->data[i])) {
            *o++ = s->data[i++];
        }

        if ((size_t) (o - p) == mark + 1) {
            o--;    /* "1." */
        }
    }

    /* the exponent, as it is: JSON reads e, E, signs and zeros alike */
    while (i < s->len) {
        *o++ = s->data[i++];
    }

    out->data = p;
    out->len = o - p;

    return 0;
}


/*
 * The coercion rules are the same for JSON variables and literals; this
 * describes the input whichever way it came.
 */
typedef struct {
    fql_value_kind_t   kind;      /* as a literal kind */
    fql_str_t          str;
    int                boolean;
    int                json;      /* from a JSON variable, not a literal */
} fql_scalar_in_t;


/* a coerced value of that kind holding str */
static int
fql_coerced(fql_vctx_t *v, fql_jkind_t kind, fql_str_t str, fql_jval_t **out)
{
    fql_jval_t  *j;

    j = fql_jnew(v, kind);
    if (j == NULL) {
        return fql_error_nomem(v->errs);
    }

    j->str = str;
    *out = j;

    return 0;
}


static int
fql_coerce_enum(fql_vctx_t *v, const fql_type_t *t,
    const fql_scalar_in_t *in, fql_jval_t **out, const char **why)
{
    fql_enum_value_t  *ev;

    if (in->kind != FQL_VAL_ENUM) {
        *why = "an enum value is expected";
        return -1;
    }

    for (ev = t->values; ev; ev = ev->next) {
        if (fql_str_eq(ev->name, in->str)) {
            break;
        }
    }

    if (ev == NULL) {
        *why = "not a value of the enum";
        return -1;
    }

    return fql_coerced(v, FQL_J_STRING, ev->name, out);
}


static int
fql_coerce_int(fql_vctx_t *v, const fql_scalar_in_t *in, fql_jval_t **out,
    const char **why)
{
    long         l;
    char        *p;
    fql_jval_t  *j;

    /* JSON has one number type: 1.0 is an integer there, not here */
    if (in->kind != FQL_VAL_INT
        && !(in->json && in->kind == FQL_VAL_FLOAT))
    {
        *why = "Int cannot represent a non-integer value";
        return -1;
    }

    if (fql_int32(&in->str, &l) != 0) {
        *why = "Int cannot represent non-integer or non 32-bit signed "
               "integer value";
        return -1;
    }

    j = fql_jnew(v, FQL_J_NUMBER);
    p = fql_alloc(v->arena, 16);
    if (j == NULL || p == NULL) {
        return fql_error_nomem(v->errs);
    }

    j->str.len = snprintf(p, 16, "%ld", l);
    j->str.data = p;
    *out = j;

    return 0;
}


static int
fql_coerce_float(fql_vctx_t *v, const fql_scalar_in_t *in, fql_jval_t **out,
    const char **why)
{
    fql_num_t  num;

    if (in->kind != FQL_VAL_INT && in->kind != FQL_VAL_FLOAT) {
        *why = "Float cannot represent a non numeric value";
        return -1;
    }

    /* 1e400 is a valid lexeme, but no double: refused, not sent
     * (GraphQL's and JSON's number syntax are the same) */
    fql_num_parse(&num, (const u_char *) in->str.data,
                  (const u_char *) in->str.data + in->str.len);

    if (!fql_num_finite(&num)) {
        *why = "Float cannot represent a non-finite value";
        return -1;
    }

    return fql_coerced(v, FQL_J_NUMBER, in->str, out);
}


static int
fql_coerce_boolean(fql_vctx_t *v, const fql_scalar_in_t *in,
    fql_jval_t **out, const char **why)
{
    fql_jval_t  *j;

    if (in->kind != FQL_VAL_BOOLEAN) {
        *why = "Boolean cannot represent a non boolean value";
        return -1;
    }

    j = fql_jnew(v, FQL_J_BOOL);
    if (j == NULL) {
        return fql_error_nomem(v->errs);
    }

    j->boolean = in->boolean;
    *out = j;

    return 0;
}


static int
fql_coerce_decimal(fql_vctx_t *v, const fql_scalar_info_t *sc,
    const fql_scalar_in_t *in, fql_jval_t **out, const char **why)
{
    fql_jval_t  *j;

    if (in->kind == FQL_VAL_INT || in->kind == FQL_VAL_FLOAT) {
        return fql_coerced(v, FQL_J_NUMBER, in->str, out);
    }

    if (in->kind != FQL_VAL_STRING || sc->check(&in->str) != 0) {
        *why = "Decimal cannot represent a non numeric value";
        return -1;
    }

    j = fql_jnew(v, FQL_J_NUMBER);
    if (j == NULL || fql_decimal_json(v, &in->str, &j->str) != 0) {
        return fql_error_nomem(v->errs);
    }

    *out = j;

    return 0;
}


/* ID and the string scalars: text parameters end at NUL, refused */
static int
fql_coerce_string(fql_vctx_t *v, const fql_scalar_info_t *sc,
    const fql_scalar_in_t *in, fql_jval_t **out, const char **why)
{
    if (sc->in == FQL_SC_ID) {
        if (in->kind != FQL_VAL_STRING && in->kind != FQL_VAL_INT) {
            *why = "ID cannot represent a value that is not a string or "
                   "an integer";
            return -1;
        }

    } else if (in->kind != FQL_VAL_STRING) {
        *why = "String cannot represent a non string value";
        return -1;
    }

    if (memchr(in->str.data, '\0', in->str.len) != NULL) {
        *why = "strings must not contain NUL (\\u0000)";
        return -1;
    }

    if (sc->check != NULL && sc->check(&in->str) != 0) {
        *why = sc->input;
        return -1;
    }

    return fql_coerced(v, FQL_J_STRING, in->str, out);
}


static int
fql_coerce_scalar(fql_vctx_t *v, const fql_type_t *t,
    const fql_scalar_in_t *in, fql_jval_t **out, const char **why)
{
    const fql_scalar_info_t  *sc;

    *why = NULL;

    if (t->kind == FQL_T_ENUM) {
        return fql_coerce_enum(v, t, in, out, why);
    }

    sc = &fql_scalars[t->scalar];

    switch (sc->in) {

    case FQL_SC_INT:
        return fql_coerce_int(v, in, out, why);

    case FQL_SC_FLOAT:
        return fql_coerce_float(v, in, out, why);

    case FQL_SC_BOOLEAN:
        return fql_coerce_boolean(v, in, out, why);

    case FQL_SC_DECIMAL:
        return fql_coerce_decimal(v, sc, in, out, why);

    case FQL_SC_RAW:
        /* handled by the caller, which keeps the structure */
        *why = "JSON";
        return -1;

    default:
        return fql_coerce_string(v, sc, in, out, why);
    }
}


/* a deep copy (var_src is not copied: the copy is a value of its own) */
static fql_jval_t *
fql_jval_copy(fql_vctx_t *v, const fql_jval_t *src)
{
    fql_jval_t        *j, **tail;
    const fql_jval_t  *it;

    j = fql_jnew(v, src->kind);
    if (j == NULL) {
        return NULL;
    }

    j->boolean = src->boolean;
    j->str = src->str;
    j->key = src->key;
    tail = &j->items;

    for (it = src->items; it; it = it->next) {
        *tail = fql_jval_copy(v, it);
        if (*tail == NULL) {
            return NULL;
        }

        j->count++;
        tail = &(*tail)->next;
    }

    return j;
}


/*
 * A use of a variable: a node of its own (a parent sets its key and
 * links it), over the variable's coerced items, which every use shares.
 * A deep copy per use let a large variable used many times cost its size
 * times the uses.  var_src leads back to the coerced value.
 */
static fql_jval_t *
fql_var_ref(fql_vctx_t *v, const fql_jval_t *var)
{
    fql_jval_t  *j;

    j = fql_jnew(v, var->kind);
    if (j == NULL) {
        return NULL;
    }

    j->boolean = var->boolean;
    j->str = var->str;
    j->key = var->key;
    j->items = var->items;
    j->count = var->count;
    j->var_src = var;

    return j;
}


/* the nodes of a coerced variable lead to themselves: see fql_var_ref */
static void
fql_mark_var_src(fql_jval_t *j)
{
    fql_jval_t  *it;

    j->var_src = j;

    for (it = j->items; it; it = it->next) {
        fql_mark_var_src(it);
    }
}


static int fql_coerce_json(fql_vctx_t *v, const fql_tref_t *type,
    const fql_jval_t *in, fql_jval_t **out, const char *var,
    char *path, size_t plen);


static int
fql_var_error(fql_vctx_t *v, const char *var, const char *path,
    const char *why)
{
    const fql_variable_def_t  *vd;
    const fql_loc_t           *loc = NULL;

    for (vd = v->op->variables; vd; vd = vd->next) {
        if (fql_str_eqz(vd->name, var)) {
            loc = &vd->loc;
            break;
        }
    }

    /* the path starts with the variable's name, as graphql-js has it */
    if (strcmp(path, var) == 0) {
        path = "";
    }

    fql_error_add(v->errs, loc, FQL_CODE_BAD_INPUT,
                  "Variable \"$%s\" got invalid value%s%s%s; %s", var,
                  *path ? " at \"" : "", path, *path ? "\"" : "", why);
    return -1;
}


static int
fql_coerce_input_json(fql_vctx_t *v, const fql_type_t *t,
    const fql_jval_t *in, fql_jval_t **out, const char *var, char *path,
    size_t plen)
{
    size_t             n;
    char               why[256];
    fql_arg_t         *f;
    fql_jval_t        *j, *fv, **tail;
    const fql_jval_t  *m;

    if (in->kind != FQL_J_OBJECT) {
        snprintf(why, sizeof(why), "Expected type \"%.*s\" to be an object.",
                 fql_pstr(t->name));
        return fql_var_error(v, var, path, why);
    }

    for (m = in->items; m; m = m->next) {
        if (fql_arg_find(t->input_fields, m->key) == NULL) {
            fql_unknown_field(v, t, m->key, why, sizeof(why));
            return fql_var_error(v, var, path, why);
        }
    }

    j = fql_jnew(v, FQL_J_OBJECT);
    if (j == NULL) {
        return fql_error_nomem(v->errs);
    }

    tail = &j->items;

    /* given members keep the client's order (orderBy), defaults follow */
    for (m = in->items; m; m = m->next) {
        const fql_jval_t  *d;

        /* a repeated JSON key: the first one counts */
        for (d = in->items; d != m && !fql_str_eq(d->key, m->key);
             d = d->next)
        { /* void */ }

        if (d != m) {
            continue;
        }

        f = fql_arg_find(t->input_fields, m->key);
        n = strlen(path);

        snprintf(path + n, plen - n, "%s%.*s", n ? "." : "",
                 fql_pstr(f->name));

        v->in_arg = f;
        fv = NULL;

        if (fql_coerce_json(v, f->type, m, &fv, var, path, plen) != 0) {
            return -1;
        }

        path[n] = '\0';

        if (fv == NULL) {
            continue;
        }

        fv->key = f->name;
        *tail = fv;
        tail = &fv->next;
        j->count++;
    }

    for (f = t->input_fields; f; f = f->next) {
        for (m = in->items; m; m = m->next) {
            if (fql_str_eq(m->key, f->name)) {
                break;
            }
        }

        fv = NULL;

        if (m != NULL) {
            continue;

        } else if (f->default_value != NULL) {
            if (fql_coerce_literal(v, f->type, f->default_value, &fv) != 0) {
                return -1;
            }

        } else if (f->type->kind == FQL_TYPE_NON_NULL) {
            char  tn[128];

            fql_type_name(f->type, tn, sizeof(tn));
            snprintf(why, sizeof(why),
                     "Field \"%.*s\" of required type \"%s\" was not "
                     "provided.", fql_pstr(f->name), tn);
            return fql_var_error(v, var, path, why);
        }

        if (fv == NULL) {
            continue;
        }

        fv->key = f->name;
        *tail = fv;
        tail = &fv->next;
        j->count++;
    }

    *out = j;

    return 0;
}


static int
fql_coerce_json(fql_vctx_t *v, const fql_tref_t *type, const fql_jval_t *in,
    fql_jval_t **out, const char *var, char *path, size_t plen)
{
    size_t             n;
    char               tn[128], why[300];
    const char        *reason;
    fql_type_t        *t;
    fql_jval_t        *j, *item, **tail;
    fql_scalar_in_t    si;
    const fql_jval_t  *it;

    if (type->kind == FQL_TYPE_NON_NULL) {
        if (in->kind == FQL_J_NULL) {
            fql_type_name(type, tn, sizeof(tn));
            snprintf(why, sizeof(why),
                     "Expected non-nullable type \"%s\" not to be null.", tn);
            return fql_var_error(v, var, path, why);
        }

        return fql_coerce_json(v, type->of, in, out, var, path, plen);
    }

    if (in->kind == FQL_J_NULL) {
        *out = fql_jnew(v, FQL_J_NULL);
        return *out ? 0 : fql_error_nomem(v->errs);
    }

    if (type->kind == FQL_TYPE_LIST) {
        j = fql_jnew(v, FQL_J_ARRAY);
        if (j == NULL) {
            return fql_error_nomem(v->errs);
        }

        if (in->kind != FQL_J_ARRAY) {
            /* a single value where a list is expected: a list of one */
            if (fql_coerce_json(v, type->of, in, &item, var, path, plen)
                != 0)
            {
                return -1;
            }

            j->items = item;
            j->count = 1;
            *out = j;
            return 0;
        }

        tail = &j->items;
        n = strlen(path);

        for (it = in->items; it; it = it->next) {
            snprintf(path + n, plen - n, "[%u]", j->count);

            if (fql_coerce_json(v, type->of, it, &item, var, path, plen)
                != 0)
            {
                return -1;
            }

            *tail = item;
            tail = &item->next;
            j->count++;
        }

        path[n] = '\0';
        *out = j;
        return 0;
    }

    t = type->type;

    if (t->kind == FQL_T_INPUT) {
        return fql_coerce_input_json(v, t, in, out, var, path, plen);
    }

    if (t->kind == FQL_T_SCALAR && t->scalar == FQL_SCALAR_JSON) {
        *out = fql_jval_copy(v, in);
        return *out ? 0 : fql_error_nomem(v->errs);
    }

    if (t->kind == FQL_T_SCALAR && t->scalar == FQL_SCALAR_VECTOR) {
        if (!fql_is_vector(in)) {
            snprintf(why, sizeof(why), "expected type \"%.*s\": %s",
                     fql_pstr(t->name), FQL_VECTOR_WHY);
            return fql_var_error(v, var, path, why);
        }

        *out = fql_jval_copy(v, in);
        return *out ? 0 : fql_error_nomem(v->errs);
    }

    memset(&si, 0, sizeof(si));
    si.str = in->str;
    si.json = 1;

    switch (in->kind) {
    case FQL_J_BOOL:
        si.kind = FQL_VAL_BOOLEAN;
        si.boolean = in->boolean;
        break;
    case FQL_J_NUMBER:
        si.kind = memchr(in->str.data, '.', in->str.len)
                  || memchr(in->str.data, 'e', in->str.len)
                  || memchr(in->str.data, 'E', in->str.len)
                  ? FQL_VAL_FLOAT : FQL_VAL_INT;
        break;
    case FQL_J_STRING:
        si.kind = t->kind == FQL_T_ENUM ? FQL_VAL_ENUM : FQL_VAL_STRING;
        break;
    default:
        si.kind = FQL_VAL_OBJECT;
        break;
    }

    /* an ID given as a number in JSON must be an integer */
    if (t->kind == FQL_T_SCALAR && t->scalar == FQL_SCALAR_ID
        && si.kind == FQL_VAL_FLOAT)
    {
        si.kind = FQL_VAL_OBJECT;
    }

    if (fql_coerce_scalar(v, t, &si, out, &reason) == 0) {
        return 0;
    }

    if (reason == NULL) {
        return -1;
    }

    snprintf(why, sizeof(why), "expected type \"%.*s\": %s",
             fql_pstr(t->name), reason);
    return fql_var_error(v, var, path, why);
}


/* an index over a jval object's members, by key */
static int
fql_index_members(fql_vctx_t *v, const fql_jval_t *obj, fql_index_t *ix)
{
    const fql_jval_t  *it;

    if (fql_index_init(ix, v->arena, obj->count) != 0) {
        return -1;
    }

    for (it = obj->items; it && ix->n < obj->count; it = it->next) {
        fql_index_add(ix, it->key, it);
    }

    fql_index_sort(ix);

    return 0;
}


const fql_definition_t *
fql_find_fragment_def(fql_vctx_t *v, fql_str_t name)
{
    unsigned                 n;
    const fql_ientry_t      *e;
    const fql_definition_t  *d;

    if (v->frags_of != v->doc) {
        n = 0;
        for (d = v->doc->definitions; d; d = d->next) {
            n += d->kind == FQL_DEF_FRAGMENT;
        }

        if (fql_index_init(&v->frags, v->arena, n) != 0) {
            /* no memory for the index: the slow way */
            for (d = v->doc->definitions; d; d = d->next) {
                if (d->kind == FQL_DEF_FRAGMENT && fql_str_eq(d->name, name))
                {
                    return d;
                }
            }

            return NULL;
        }

        for (d = v->doc->definitions; d; d = d->next) {
            if (d->kind == FQL_DEF_FRAGMENT) {
                fql_index_add(&v->frags, d->name, d);
            }
        }

        fql_index_sort(&v->frags);
        v->frags_of = v->doc;
    }

    e = fql_index_find(&v->frags, name);

    return e ? e->item : NULL;
}


const fql_index_t *
fql_var_defs(fql_vctx_t *v, const fql_definition_t *op)
{
    unsigned             n;
    fql_variable_def_t  *vd;

    if (v->var_defs_of == op) {
        return &v->var_defs;
    }

    n = 0;
    for (vd = op->variables; vd; vd = vd->next) {
        n++;
    }

    if (fql_index_init(&v->var_defs, v->arena, n) != 0) {
        v->var_defs_of = NULL;
        return NULL;
    }

    for (vd = op->variables; vd; vd = vd->next) {
        fql_index_add(&v->var_defs, vd->name, vd);
    }

    fql_index_sort(&v->var_defs);
    v->var_defs_of = op;

    return &v->var_defs;
}


/* op's definition of the variable (the first) and its position, or NULL */
static const fql_variable_def_t *
fql_var_def_at(fql_vctx_t *v, fql_str_t name, unsigned *pos)
{
    const fql_index_t         *ix;
    const fql_ientry_t        *e;
    const fql_variable_def_t  *vd;

    ix = fql_var_defs(v, v->op);

    if (ix == NULL) {
        /* no memory for the index: the slow way */
        for (*pos = 0, vd = v->op->variables; vd; vd = vd->next, (*pos)++) {
            if (fql_str_eq(vd->name, name)) {
                return vd;
            }
        }

        return NULL;
    }

    e = fql_index_find(ix, name);
    if (e == NULL) {
        return NULL;
    }

    *pos = e->pos;

    return e->item;
}


const fql_variable_def_t *
fql_find_var_def(fql_vctx_t *v, fql_str_t name)
{
    unsigned  pos;

    return fql_var_def_at(v, name, &pos);
}


const fql_jval_t *
fql_find_var_value(fql_vctx_t *v, fql_str_t name)
{
    unsigned  pos;

    if (v->var_vals == NULL || fql_var_def_at(v, name, &pos) == NULL) {
        return NULL;
    }

    return v->var_vals[pos];
}


int
fql_coerce_variables(fql_vctx_t *v, const fql_jval_t *given)
{
    char                       path[256], tn[128];
    char                       name[128];
    fql_type_t                *t;
    fql_tref_t                *type;
    fql_jval_t                *vars, *val, **tail;
    const fql_jval_t          *in;
    fql_variable_def_t        *vd;
    fql_index_t                members;
    const fql_ientry_t        *e;
    unsigned                   i;
    int                        rc;

    i = 0;
    for (vd = v->op->variables; vd; vd = vd->next) {
        i++;
    }

    vars = fql_jnew(v, FQL_J_OBJECT);
    v->var_vals = fql_calloc(v->arena, (i + 1) * sizeof(fql_jval_t *));
    if (vars == NULL || v->var_vals == NULL) {
        return fql_error_nomem(v->errs);
    }

    v->vars = vars;
    tail = &vars->items;
    rc = 0;

    members.n = 0;
    if (given != NULL && fql_index_members(v, given, &members) != 0) {
        return fql_error_nomem(v->errs);
    }

    /* (the document is valid: one definition per name) */
    for (i = 0, vd = v->op->variables; vd; vd = vd->next, i++) {
        type = fql_calloc(v->arena, sizeof(fql_tref_t));
        if (type == NULL) {
            return fql_error_nomem(v->errs);
        }

        /* resolve the AST type reference against the schema */
        {
        const fql_type_ref_t  *r;
        fql_tref_t            *cur = type;

        for (r = vd->type; ; r = r->of) {
            cur->kind = r->kind;

            if (r->kind == FQL_TYPE_NAMED) {
                t = fql_schema_type(v->schema, r->name);
                if (t == NULL || !fql_type_is_input(t)) {
                    fql_error_add(v->errs, &r->loc, FQL_CODE_VALIDATION,
                                  t ? "Variable \"$%.*s\" cannot be "
                                      "non-input type \"%.*s\"."
                                    : "Variable \"$%.*s\": unknown type "
                                      "\"%.*s\".",
                                  fql_pstr(vd->name), fql_pstr(r->name));
                    return -1;
                }

                cur->type = t;
                break;
            }

            cur->of = fql_calloc(v->arena, sizeof(fql_tref_t));
            if (cur->of == NULL) {
                return fql_error_nomem(v->errs);
            }

            cur = cur->of;
        }
        }

        snprintf(name, sizeof(name), "%.*s", fql_pstr(vd->name));

        e = fql_index_find(&members, vd->name);
        in = e ? e->item : NULL;

        val = NULL;

        if (in != NULL) {
            snprintf(path, sizeof(path), "%s", name);
            if (fql_coerce_json(v, type, in, &val, name, path, sizeof(path))
                != 0)
            {
                rc = -1;
                continue;
            }

        } else if (vd->default_value != NULL) {
            if (fql_coerce_literal(v, type, vd->default_value, &val) != 0) {
                rc = -1;
                continue;
            }

        } else if (type->kind == FQL_TYPE_NON_NULL) {
            fql_type_name(type, tn, sizeof(tn));
            fql_error_add(v->errs, &vd->loc, FQL_CODE_BAD_INPUT,
                          "Variable \"$%s\" of required type \"%s\" was not "
                          "provided.", name, tn);
            rc = -1;
            continue;
        }

        if (val == NULL) {
            continue;
        }

        val->key = vd->name;
        fql_mark_var_src(val);
        *tail = val;
        tail = &val->next;
        vars->count++;
        v->var_vals[i] = val;
    }

    return rc;
}


static int
fql_lit_error(fql_vctx_t *v, const fql_value_t *value, const fql_tref_t *t,
    const char *why)
{
    char  tn[128];

    fql_type_name(t, tn, sizeof(tn));

    fql_error_add(v->errs, &value->loc, FQL_CODE_VALIDATION,
                  "Expected value of type \"%s\"%s%s.", tn,
                  why ? ": " : "", why ? why : "");
    return -1;
}


/* a literal as JSON, for the JSON scalar */
static int
fql_literal_json(fql_vctx_t *v, const fql_value_t *value, fql_jval_t **out)
{
    fql_jval_t                *j, *item, **tail;
    const fql_value_t         *it;
    const fql_object_field_t  *f;
    const fql_jval_t          *var;

    switch (value->kind) {

    case FQL_VAL_VARIABLE:
        if (v->on_variable != NULL) {
            /* inside a JSON value a variable may be of any type */
            j = fql_jnew(v, FQL_J_NULL);
            v->placeholder = j;
            if (j != NULL && v->on_variable(v, value, NULL) != 0) {
                return -1;
            }
            break;
        }

        var = fql_find_var_value(v, value->str);

        if (var == NULL) {
            j = fql_jnew(v, FQL_J_NULL);
        } else {
            j = fql_var_ref(v, var);
        }

        break;

    case FQL_VAL_INT:
    case FQL_VAL_FLOAT:
        j = fql_jnew(v, FQL_J_NUMBER);
        if (j) {
            j->str = value->str;
        }
        break;

    case FQL_VAL_STRING:
    case FQL_VAL_ENUM:
        j = fql_jnew(v, FQL_J_STRING);
        if (j) {
            j->str = value->str;
        }
        break;

    case FQL_VAL_BOOLEAN:
        j = fql_jnew(v, FQL_J_BOOL);
        if (j) {
            j->boolean = value->boolean;
        }
        break;

    case FQL_VAL_NULL:
        j = fql_jnew(v, FQL_J_NULL);
        break;

    case FQL_VAL_LIST:
        j = fql_jnew(v, FQL_J_ARRAY);
        if (j == NULL) {
            break;
        }

        tail = &j->items;
        for (it = value->items; it; it = it->next) {
            if (fql_literal_json(v, it, &item) != 0) {
                return -1;
            }

            *tail = item;
            tail = &item->next;
            j->count++;
        }
        break;

    default: /* FQL_VAL_OBJECT */
        j = fql_jnew(v, FQL_J_OBJECT);
        if (j == NULL) {
            break;
        }

        tail = &j->items;
        for (f = value->fields; f; f = f->next) {
            if (fql_literal_json(v, f->value, &item) != 0) {
                return -1;
            }

            item->key = f->name;
            *tail = item;
            tail = &item->next;
            j->count++;
        }
        break;
    }

    if (j == NULL) {
        return fql_error_nomem(v->errs);
    }

    *out = j;

    return 0;
}


/* a variable's coerced value, shared (a placeholder while validating) */
static int
fql_literal_variable(fql_vctx_t *v, const fql_tref_t *type,
    const fql_value_t *value, fql_jval_t **out)
{
    fql_jval_t        *j;
    const fql_jval_t  *var;

    if (v->on_variable != NULL) {
        /* no values yet: a placeholder stands for the variable */
        *out = fql_jnew(v, FQL_J_NULL);
        if (*out == NULL) {
            return fql_error_nomem(v->errs);
        }

        v->placeholder = *out;

        return v->on_variable(v, value, type);
    }

    if (fql_find_var_def(v, value->str) == NULL) {
        fql_error_add(v->errs, &value->loc, FQL_CODE_VALIDATION,
                      "Variable \"$%.*s\" is not defined%s%.*s.",
                      fql_pstr(value->str),
                      v->op->name.len ? " by operation " : "",
                      fql_pstr(v->op->name));
        return -1;
    }

    var = fql_find_var_value(v, value->str);

    if (var == NULL) {
        return 0;
    }

    if (var->kind == FQL_J_NULL && type->kind == FQL_TYPE_NON_NULL) {
        fql_error_add(v->errs, &value->loc, FQL_CODE_BAD_INPUT,
                      "Variable \"$%.*s\" is null where a non-null "
                      "value is required.", fql_pstr(value->str));
        return -1;
    }

    j = fql_var_ref(v, var);
    if (j == NULL) {
        return fql_error_nomem(v->errs);
    }

    j->next = NULL;
    *out = j;

    return 0;
}


static int
fql_literal_non_null(fql_vctx_t *v, const fql_tref_t *type,
    const fql_value_t *value, fql_jval_t **out)
{
    char  tn[128];

    if (value->kind == FQL_VAL_NULL) {
        return fql_lit_error(v, value, type, "null is not allowed");
    }

    if (fql_coerce_literal(v, type->of, value, out) != 0) {
        return -1;
    }

    if (*out == NULL) {
        fql_type_name(type, tn, sizeof(tn));
        fql_error_add(v->errs, &value->loc, FQL_CODE_BAD_INPUT,
                      "Variable \"$%.*s\" of required type \"%s\" was "
                      "not provided.", fql_pstr(value->str), tn);
        return -1;
    }

    return 0;
}


/* a list, or one value where a list goes (a list of one) */
static int
fql_literal_list(fql_vctx_t *v, const fql_tref_t *type,
    const fql_value_t *value, fql_jval_t **out)
{
    fql_jval_t         *j, *item, **tail;
    const fql_value_t  *it;

    j = fql_jnew(v, FQL_J_ARRAY);
    if (j == NULL) {
        return fql_error_nomem(v->errs);
    }

    if (value->kind != FQL_VAL_LIST) {
        if (fql_coerce_literal(v, type->of, value, &item) != 0) {
            return -1;
        }

        if (item != NULL) {
            j->items = item;
            j->count = 1;
        }

        *out = j;
        return 0;
    }

    tail = &j->items;

    for (it = value->items; it; it = it->next) {
        if (fql_coerce_literal(v, type->of, it, &item) != 0) {
            return -1;
        }

        if (item == NULL) {
            /* an unset variable inside a list is null */
            item = fql_jnew(v, FQL_J_NULL);
            if (item == NULL) {
                return fql_error_nomem(v->errs);
            }
        }

        *tail = item;
        tail = &item->next;
        j->count++;
    }

    *out = j;

    return 0;
}


/* every field given is one of t's, and given once */
static int
fql_literal_fields_known(fql_vctx_t *v, const fql_type_t *t,
    const fql_value_t *value)
{
    char                       why[256];
    const fql_object_field_t  *of, *of2;

    for (of = value->fields; of; of = of->next) {
        if (fql_arg_find(t->input_fields, of->name) == NULL) {
            fql_unknown_field(v, t, of->name, why, sizeof(why));
            fql_error_add(v->errs, &of->loc, FQL_CODE_VALIDATION, "%s",
                          why);
            return -1;
        }

        for (of2 = of->next; of2; of2 = of2->next) {
            if (fql_str_eq(of->name, of2->name)) {
                fql_error_add(v->errs, &of2->loc, FQL_CODE_VALIDATION,
                              "There can be only one input field named "
                              "\"%.*s\".", fql_pstr(of->name));
                return -1;
            }
        }
    }

    return 0;
}


/* the fields not given: their defaults, or an error if required */
static int
fql_literal_defaults(fql_vctx_t *v, const fql_type_t *t,
    const fql_value_t *value, fql_jval_t *j, fql_jval_t **tail)
{
    char                       tn[128];
    fql_arg_t                 *f;
    fql_jval_t                *item;
    const fql_object_field_t  *of;

    for (f = t->input_fields; f; f = f->next) {
        for (of = value->fields; of; of = of->next) {
            if (fql_str_eq(of->name, f->name)) {
                break;
            }
        }

        if (of != NULL) {
            continue;
        }

        if (f->default_value != NULL) {
            if (fql_coerce_literal(v, f->type, f->default_value, &item)
                != 0)
            {
                return -1;
            }

            item->key = f->name;
            *tail = item;
            tail = &item->next;
            j->count++;

        } else if (f->type->kind == FQL_TYPE_NON_NULL) {
            fql_type_name(f->type, tn, sizeof(tn));
            fql_error_add(v->errs, &value->loc, FQL_CODE_VALIDATION,
                          "Field \"%.*s.%.*s\" of required type \"%s\" "
                          "was not provided.", fql_pstr(t->name),
                          fql_pstr(f->name), tn);
            return -1;
        }
    }

    return 0;
}


static int
fql_literal_object(fql_vctx_t *v, const fql_tref_t *type,
    const fql_value_t *value, fql_jval_t **out)
{
    fql_arg_t                 *f;
    fql_jval_t                *j, *item, **tail;
    const fql_type_t          *t = type->type;
    const fql_object_field_t  *of;

    if (value->kind != FQL_VAL_OBJECT) {
        return fql_lit_error(v, value, type, "an object is expected");
    }

    if (fql_literal_fields_known(v, t, value) != 0) {
        return -1;
    }

    j = fql_jnew(v, FQL_J_OBJECT);
    if (j == NULL) {
        return fql_error_nomem(v->errs);
    }

    tail = &j->items;

    /* members keep the order the client wrote them in (orderBy) */
    for (of = value->fields; of; of = of->next) {
        f = fql_arg_find(t->input_fields, of->name);
        v->in_arg = f;

        if (fql_coerce_literal(v, f->type, of->value, &item) != 0) {
            return -1;
        }

        if (item == NULL && f->default_value != NULL
            && fql_coerce_literal(v, f->type, f->default_value, &item)
               != 0)
        {
            return -1;
        }

        if (item == NULL) {
            if (f->type->kind == FQL_TYPE_NON_NULL) {
                return fql_lit_error(v, of->value, f->type,
                                     "a required variable is unset");
            }
            continue;
        }

        item->key = f->name;
        *tail = item;
        tail = &item->next;
        j->count++;
    }

    if (fql_literal_defaults(v, t, value, j, tail) != 0) {
        return -1;
    }

    *out = j;

    return 0;
}


/* JSON, a vector or another scalar (or enum) */
static int
fql_literal_leaf(fql_vctx_t *v, const fql_tref_t *type,
    const fql_value_t *value, fql_jval_t **out)
{
    char                why[256];
    const char         *reason;
    fql_scalar_in_t     si;
    const fql_type_t   *t = type->type;

    if (t->kind == FQL_T_SCALAR && t->scalar == FQL_SCALAR_JSON) {
        return fql_literal_json(v, value, out);
    }

    if (t->kind == FQL_T_SCALAR && t->scalar == FQL_SCALAR_VECTOR) {
        if (fql_literal_json(v, value, out) != 0) {
            return -1;
        }

        if (*out != NULL && !fql_is_vector(*out)) {
            return fql_lit_error(v, value, type, FQL_VECTOR_WHY);
        }

        return 0;
    }

    memset(&si, 0, sizeof(si));
    si.kind = value->kind;
    si.str = value->str;
    si.boolean = value->boolean;

    if (fql_coerce_scalar(v, t, &si, out, &reason) == 0) {
        return 0;
    }

    if (reason == NULL) {
        return -1;
    }

    snprintf(why, sizeof(why), "%s", reason);
    return fql_lit_error(v, value, type, why);
}


int
fql_coerce_literal(fql_vctx_t *v, const fql_tref_t *type,
    const fql_value_t *value, fql_jval_t **out)
{
    *out = NULL;

    if (value->kind == FQL_VAL_VARIABLE) {
        return fql_literal_variable(v, type, value, out);
    }

    if (type->kind == FQL_TYPE_NON_NULL) {
        return fql_literal_non_null(v, type, value, out);
    }

    if (value->kind == FQL_VAL_NULL) {
        *out = fql_jnew(v, FQL_J_NULL);
        return *out ? 0 : fql_error_nomem(v->errs);
    }

    if (type->kind == FQL_TYPE_LIST) {
        return fql_literal_list(v, type, value, out);
    }

    if (type->type->kind == FQL_T_INPUT) {
        return fql_literal_object(v, type, value, out);
    }

    return fql_literal_leaf(v, type, value, out);
}


int
fql_coerce_arguments(fql_vctx_t *v, fql_arg_t *defs, fql_argument_t *given,
    const fql_str_t *field, fql_loc_t loc, fql_jval_t **out)
{
    char             tn[128];
    fql_arg_t       *d;
    fql_jval_t      *j, *item, **tail;
    fql_argument_t  *a, *b;

    for (a = given; a; a = a->next) {
        if (fql_arg_find(defs, a->name) == NULL) {
            fql_error_add(v->errs, &a->loc, FQL_CODE_VALIDATION,
                          "Unknown argument \"%.*s\" on field \"%.*s\".",
                          fql_pstr(a->name), fql_pstr(*field));
            return -1;
        }

        for (b = a->next; b; b = b->next) {
            if (fql_str_eq(a->name, b->name)) {
                fql_error_add(v->errs, &b->loc, FQL_CODE_VALIDATION,
                              "There can be only one argument named "
                              "\"%.*s\".", fql_pstr(a->name));
                return -1;
            }
        }
    }

    j = fql_jnew(v, FQL_J_OBJECT);
    if (j == NULL) {
        return fql_error_nomem(v->errs);
    }

    tail = &j->items;

    for (d = defs; d; d = d->next) {
        for (a = given; a; a = a->next) {
            if (fql_str_eq(a->name, d->name)) {
                break;
            }
        }

        item = NULL;

        if (a != NULL && fql_coerce_literal(v, d->type, a->value, &item)
                         != 0)
        {
            return -1;
        }

        if (item == NULL && d->default_value != NULL
            && fql_coerce_literal(v, d->type, d->default_value, &item) != 0)
        {
            return -1;
        }

        if (item == NULL) {
            if (d->type->kind == FQL_TYPE_NON_NULL) {
                fql_type_name(d->type, tn, sizeof(tn));
                fql_error_add(v->errs, &loc, FQL_CODE_VALIDATION,
                              "Field \"%.*s\" argument \"%.*s\" of type "
                              "\"%s\" is required, but it was not "
                              "provided.", fql_pstr(*field),
                              fql_pstr(d->name), tn);
                return -1;
            }

            continue;
        }

        item->key = d->name;
        *tail = item;
        tail = &item->next;
        j->count++;
    }

    *out = j;

    return 0;
}


int
fql_skip_node(fql_vctx_t *v, fql_directive_t *dirs, int *skip)
{
    int               include;
    fql_jval_t       *val;
    fql_argument_t   *a;
    fql_directive_t  *d;
    fql_tref_t        bt, nn;

    *skip = 0;

    memset(&bt, 0, sizeof(bt));
    memset(&nn, 0, sizeof(nn));
    bt.kind = FQL_TYPE_NAMED;
    bt.type = v->schema->scalars[FQL_SCALAR_BOOLEAN];
    nn.kind = FQL_TYPE_NON_NULL;
    nn.of = &bt;

    for (d = dirs; d; d = d->next) {
        include = fql_str_eqz(d->name, "include");

        if (!include && !fql_str_eqz(d->name, "skip")) {
            if (fql_str_eqz(d->name, "deprecated")
                || fql_str_eqz(d->name, "specifiedBy"))
            {
                fql_error_add(v->errs, &d->loc, FQL_CODE_VALIDATION,
                              "Directive \"@%.*s\" may not be used on "
                              "this location.", fql_pstr(d->name));
            } else {
                fql_error_add(v->errs, &d->loc, FQL_CODE_VALIDATION,
                              "Unknown directive \"@%.*s\".",
                              fql_pstr(d->name));
            }
            return -1;
        }

        a = d->args;
        if (a == NULL || a->next != NULL || !fql_str_eqz(a->name, "if")) {
            fql_error_add(v->errs, &d->loc, FQL_CODE_VALIDATION,
                          "Directive \"@%.*s\" takes exactly one argument, "
                          "\"if: Boolean!\".", fql_pstr(d->name));
            return -1;
        }

        if (fql_coerce_literal(v, &nn, a->value, &val) != 0) {
            return -1;
        }

        if (val == NULL || val->kind != FQL_J_BOOL) {
            fql_error_add(v->errs, &a->loc, FQL_CODE_BAD_INPUT,
                          "Directive \"@%.*s\" needs a Boolean value.",
                          fql_pstr(d->name));
            return -1;
        }

        if (include ? !val->boolean : val->boolean) {
            *skip = 1;
        }
    }

    return 0;
}
