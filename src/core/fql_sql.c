/*
 * The SQL of a root field: the writer (text growing in the arena, its
 * error sticky), bound parameters and where they come from in a cached
 * plan, WHERE and ORDER BY from filter and ordering inputs, pages.
 */

#include <stdio.h>
#include <stdlib.h>

#include "fql_compile_int.h"


#define FQL_MAX_PARAMS  65535


/*
 * The SQL writer's error is sticky (sqlite's accError): a write that runs
 * out of memory marks the text, later writes do nothing, and fql_sql_end
 * reports it once.  Writer calls need no check of their own.
 */
void
fql_sql_put(fql_cctx_t *c, const char *s, size_t n)
{
    char    *p;
    size_t   cap;

    /* an empty piece may have no text at all (a clause not written) */
    if (c->sql.nomem || n == 0) {
        return;
    }

    if (c->sql.len + n + 1 > c->sql.cap) {
        cap = c->sql.cap ? c->sql.cap * 2 : 256;
        while (cap < c->sql.len + n + 1) {
            cap *= 2;
        }

        p = fql_alloc(c->v.arena, cap);
        if (p == NULL) {
            c->sql.nomem = 1;
            return;
        }

        if (c->sql.len) {
            memcpy(p, c->sql.data, c->sql.len);
        }

        c->sql.data = p;
        c->sql.cap = cap;
    }

    memcpy(c->sql.data + c->sql.len, s, n);
    c->sql.len += n;
    c->sql.data[c->sql.len] = '\0';
}


void
fql_sql_z(fql_cctx_t *c, const char *s)
{
    fql_sql_put(c, s, strlen(s));
}


/*
 * s between quotes q, embedded ones doubled: "ident" (the schema refuses
 * quotes in names anyway) or 'literal' for JSON keys from schema names
 */
void
fql_sql_quoted(fql_cctx_t *c, fql_str_t s, char q)
{
    size_t  i;

    fql_sql_put(c, &q, 1);

    for (i = 0; i < s.len; i++) {
        fql_sql_put(c, &s.data[i], 1);

        if (s.data[i] == q) {
            fql_sql_put(c, &q, 1);
        }
    }

    fql_sql_put(c, &q, 1);
}


/* back to the text written before mark (what a branch added was empty) */
void
fql_sql_cut(fql_cctx_t *c, size_t mark)
{
    c->sql.len = mark;

    if (c->sql.data != NULL) {
        c->sql.data[mark] = '\0';
    }
}


/* adds a bound parameter and writes its placeholder, $n */
int
fql_sql_param(fql_cctx_t *c, const char *value)
{
    int  n;

    n = fql_param_add(c, value);
    if (n < 0) {
        return -1;
    }

    fql_sql_ref(c, n);

    return 0;
}


/* $n again: a parameter used in several places of the statement */
void
fql_sql_ref(fql_cctx_t *c, unsigned n)
{
    char  buf[16];
    int   len;

    len = snprintf(buf, sizeof(buf), "$%u", n);
    fql_sql_put(c, buf, len);
}


/* adds a bound parameter: its number n for $n, or -1 */
int
fql_param_add(fql_cctx_t *c, const char *value)
{
    const char  **p;
    fql_slot_t   *sl;

    if (c->nparams == FQL_MAX_PARAMS) {
        fql_error_add(c->v.errs, NULL, FQL_CODE_BAD_INPUT,
                      "The query needs more than %d parameters",
                      FQL_MAX_PARAMS);
        return -1;
    }

    if (c->nparams == c->params_cap) {
        c->params_cap = c->params_cap ? c->params_cap * 2 : 8;

        p = fql_alloc(c->v.arena, c->params_cap * sizeof(char *));
        sl = fql_alloc(c->v.arena, c->params_cap * sizeof(fql_slot_t));
        if (p == NULL || sl == NULL) {
            return fql_error_nomem(c->v.errs);
        }

        if (c->nparams) {
            memcpy(p, c->params, c->nparams * sizeof(char *));
            memcpy(sl, c->slots, c->nparams * sizeof(fql_slot_t));
        }

        c->params = p;
        c->slots = sl;
    }

    c->slots[c->nparams] = c->next_slot;
    c->next_slot.kind = FQL_SLOT_LITERAL;
    c->params[c->nparams++] = value;

    return (int) c->nparams;
}


/* does a value hold a part copied from a variable? */
static int
fql_has_var(const fql_jval_t *j)
{
    const fql_jval_t  *it;

    if (j->var_src != NULL) {
        return 1;
    }

    for (it = j->items; it; it = it->next) {
        if (fql_has_var(it)) {
            return 1;
        }
    }

    return 0;
}


void
fql_c_static_value(fql_cctx_t *c, const fql_jval_t *j)
{
    if (j != NULL && fql_has_var(j)) {
        c->uncacheable = 1;
    }
}


/*
 * The indexes that lead from the variables object to node.  A search of
 * the variables per parameter is bounded over the whole plan by *steps:
 * past it, parameters stay literal and the plan is not cached.
 */
static int
fql_var_path(const fql_jval_t *from, const fql_jval_t *node,
    unsigned short *path, unsigned depth, unsigned *n, unsigned *steps)
{
    unsigned           i;
    const fql_jval_t  *it;

    if (from == node) {
        *n = depth;
        return 1;
    }

    if (depth == FQL_JSON_MAX_DEPTH + 2 || *steps == 0) {
        return 0;
    }

    for (i = 0, it = from->items; it && *steps; it = it->next, i++) {
        path[depth] = (unsigned short) i;
        (*steps)--;

        if (fql_var_path(it, node, path, depth + 1, n, steps)) {
            return 1;
        }
    }

    return 0;
}


/*
 * The next parameter is computed from src as kind says: a value copied
 * from a variable becomes a slot the plan fills again for new variables;
 * a literal stays as it is.  A literal with variables inside (a list
 * [$a, "b"]) cannot be refilled: such a plan is not cached.
 */
int
fql_slot_from(fql_cctx_t *c, const fql_jval_t *src, fql_slot_kind_t kind,
    fql_scalar_t sc, unsigned wild)
{
    unsigned         n;
    unsigned short   path[FQL_JSON_MAX_DEPTH + 2], *p;
    fql_slot_t      *sl = &c->next_slot;

    sl->kind = FQL_SLOT_LITERAL;

    if (src == NULL) {
        return 0;
    }

    if (src->var_src == NULL) {
        fql_c_static_value(c, src);
        return 0;
    }

    if (c->v.vars == NULL
        || !fql_var_path(c->v.vars, src->var_src, path, 0, &n,
                         &c->path_steps))
    {
        c->uncacheable = 1;
        return 0;
    }

    p = fql_alloc(c->v.arena, (n ? n : 1) * sizeof(unsigned short));
    if (p == NULL) {
        return fql_error_nomem(c->v.errs);
    }

    memcpy(p, path, n * sizeof(unsigned short));

    sl->kind = (unsigned char) kind;
    sl->sc = (unsigned char) sc;
    sl->wild = (unsigned char) wild;
    sl->npath = (unsigned short) n;
    sl->path = p;

    return 0;
}


/* text growing in the arena, for parameter values */
typedef struct {
    fql_cctx_t  *c;
    fql_sql_t    b;
} fql_text_t;


static int
fql_text_put(fql_text_t *t, const char *s, size_t n)
{
    fql_sql_t   save;

    /* reuse the SQL builder's growth on a separate buffer */
    save = t->c->sql;
    t->c->sql = t->b;
    fql_sql_put(t->c, s, n);
    t->b = t->c->sql;
    t->c->sql = save;

    return t->b.nomem ? fql_error_nomem(t->c->v.errs) : 0;
}


/* JSON text of a coerced value (for JSON scalars) */
static int
fql_text_json(fql_text_t *t, const fql_jval_t *j)
{
    size_t             i;
    char               esc[8];
    const fql_jval_t  *it;

    switch (j->kind) {

    case FQL_J_NULL:
        return fql_text_put(t, "null", 4);

    case FQL_J_BOOL:
        return j->boolean ? fql_text_put(t, "true", 4)
                          : fql_text_put(t, "false", 5);

    case FQL_J_NUMBER:
        return fql_text_put(t, j->str.data, j->str.len);

    case FQL_J_STRING:
        if (fql_text_put(t, "\"", 1) != 0) {
            return -1;
        }

        for (i = 0; i < j->str.len; i++) {
            unsigned char  ch = j->str.data[i];

            if (ch == '"' || ch == '\\') {
                esc[0] = '\\';
                esc[1] = ch;
                if (fql_text_put(t, esc, 2) != 0) {
                    return -1;
                }

            } else if (ch < 0x20) {
                snprintf(esc, sizeof(esc), "\\u%04x", ch);
                if (fql_text_put(t, esc, 6) != 0) {
                    return -1;
                }

            } else if (fql_text_put(t, (char *) &ch, 1) != 0) {
                return -1;
            }
        }

        return fql_text_put(t, "\"", 1);

    case FQL_J_ARRAY:
        if (fql_text_put(t, "[", 1) != 0) {
            return -1;
        }

        for (it = j->items; it; it = it->next) {
            if ((it != j->items && fql_text_put(t, ",", 1) != 0)
                || fql_text_json(t, it) != 0)
            {
                return -1;
            }
        }

        return fql_text_put(t, "]", 1);

    default: /* FQL_J_OBJECT */
        if (fql_text_put(t, "{", 1) != 0) {
            return -1;
        }

        for (it = j->items; it; it = it->next) {
            fql_jval_t  k;

            memset(&k, 0, sizeof(k));
            k.kind = FQL_J_STRING;
            k.str = it->key;

            if ((it != j->items && fql_text_put(t, ",", 1) != 0)
                || fql_text_json(t, &k) != 0
                || fql_text_put(t, ":", 1) != 0
                || fql_text_json(t, it) != 0)
            {
                return -1;
            }
        }

        return fql_text_put(t, "}", 1);
    }
}


/* the text form of a scalar value for a parameter; NULL for SQL null */
int
fql_param_text(fql_cctx_t *c, fql_scalar_t sc, const fql_jval_t *j,
    const char **out)
{
    fql_text_t  t;

    if (j->kind == FQL_J_NULL && sc != FQL_SCALAR_JSON) {
        *out = NULL;
        return 0;
    }

    if (sc == FQL_SCALAR_JSON || sc == FQL_SCALAR_VECTOR) {
        memset(&t, 0, sizeof(t));
        t.c = c;

        if (fql_text_json(&t, j) != 0 || fql_text_put(&t, "", 0) != 0) {
            return -1;
        }

        *out = t.b.data;
        return 0;
    }

    switch (j->kind) {
    case FQL_J_BOOL:
        *out = j->boolean ? "true" : "false";
        return 0;
    default:
        /* names and lexemes may point into a source: copy them out */
        *out = fql_strndup(c->v.arena, j->str.data, j->str.len);
        return *out ? 0 : fql_error_nomem(c->v.errs);
    }
}


/* the JSON text of a value */
static int
fql_param_json(fql_cctx_t *c, const fql_jval_t *j, const char **out)
{
    fql_text_t  t;

    memset(&t, 0, sizeof(t));
    t.c = c;

    if (fql_text_json(&t, j) != 0 || fql_text_put(&t, "", 0) != 0) {
        return -1;
    }

    *out = t.b.data;

    return 0;
}


/*
 * A mutation's input as the function receives it: JSON with the input
 * types' field names in snake_case, at every level.
 */
static int
fql_text_input(fql_text_t *t, const fql_tref_t *type, const fql_jval_t *j)
{
    fql_arg_t         *f;
    fql_type_t        *named;
    fql_jval_t         k;
    const fql_jval_t  *it;

    if (type->kind == FQL_TYPE_NON_NULL) {
        type = type->of;
    }

    named = fql_tref_named(type);

    if (j->kind == FQL_J_ARRAY && type->kind == FQL_TYPE_LIST) {
        if (fql_text_put(t, "[", 1) != 0) {
            return -1;
        }

        for (it = j->items; it; it = it->next) {
            if ((it != j->items && fql_text_put(t, ",", 1) != 0)
                || fql_text_input(t, type->of, it) != 0)
            {
                return -1;
            }
        }

        return fql_text_put(t, "]", 1);
    }

    if (j->kind != FQL_J_OBJECT || named->kind != FQL_T_INPUT) {
        return fql_text_json(t, j);
    }

    if (fql_text_put(t, "{", 1) != 0) {
        return -1;
    }

    for (it = j->items; it; it = it->next) {
        f = fql_arg_find(named->input_fields, it->key);

        memset(&k, 0, sizeof(k));
        k.kind = FQL_J_STRING;
        k.str = f ? f->json_key : it->key;

        if ((it != j->items && fql_text_put(t, ",", 1) != 0)
            || fql_text_json(t, &k) != 0
            || fql_text_put(t, ":", 1) != 0
            || (f ? fql_text_input(t, f->type, it) : fql_text_json(t, it))
               != 0)
        {
            return -1;
        }
    }

    return fql_text_put(t, "}", 1);
}


/* a PostgreSQL array literal: {"a","b\"c",NULL} */
static int
fql_param_array(fql_cctx_t *c, fql_scalar_t sc, const fql_jval_t *list,
    const char **out)
{
    size_t             i;
    const char        *s;
    fql_text_t         t;
    const fql_jval_t  *it;

    memset(&t, 0, sizeof(t));
    t.c = c;

    if (fql_text_put(&t, "{", 1) != 0) {
        return -1;
    }

    for (it = list->items; it; it = it->next) {
        if (it != list->items && fql_text_put(&t, ",", 1) != 0) {
            return -1;
        }

        if (fql_param_text(c, sc, it, &s) != 0) {
            return -1;
        }

        if (s == NULL) {
            if (fql_text_put(&t, "NULL", 4) != 0) {
                return -1;
            }
            continue;
        }

        if (fql_text_put(&t, "\"", 1) != 0) {
            return -1;
        }

        for (i = 0; s[i]; i++) {
            if ((s[i] == '"' || s[i] == '\\')
                && fql_text_put(&t, "\\", 1) != 0)
            {
                return -1;
            }

            if (fql_text_put(&t, &s[i], 1) != 0) {
                return -1;
            }
        }

        if (fql_text_put(&t, "\"", 1) != 0) {
            return -1;
        }
    }

    if (fql_text_put(&t, "}", 1) != 0) {
        return -1;
    }

    *out = t.b.data;

    return 0;
}


/*
 * A LIKE pattern that matches the value as text: %, _ and the escape
 * character \ are escaped, then % added where the value may sit.
 */
static int
fql_param_pattern(fql_cctx_t *c, const fql_jval_t *v, unsigned wild,
    const char **out)
{
    size_t      i;
    fql_text_t  t;
    char        esc[2];

    memset(&t, 0, sizeof(t));
    t.c = c;

    if ((wild & FQL_OP_PREFIX) && fql_text_put(&t, "%", 1) != 0) {
        return -1;
    }

    for (i = 0; i < v->str.len; i++) {
        esc[0] = '\\';
        esc[1] = v->str.data[i];

        if (esc[1] == '%' || esc[1] == '_' || esc[1] == '\\') {
            if (fql_text_put(&t, esc, 2) != 0) {
                return -1;
            }

        } else if (fql_text_put(&t, &esc[1], 1) != 0) {
            return -1;
        }
    }

    if (((wild & FQL_OP_SUFFIX) && fql_text_put(&t, "%", 1) != 0)
        || fql_text_put(&t, "", 0) != 0)
    {
        return -1;
    }

    *out = t.b.data;

    return 0;
}


/* JSON values keep their structure in the JSON column (no ->> and cast) */
#define fql_scalar_is_json(sc)                                                \
    ((sc) == FQL_SCALAR_JSON)


/*
 * The SQL expression of a filterable field: its real column at the top
 * level, else its JSON path through the enclosing objects (c->path).
 */
void
fql_sql_field(fql_cctx_t *c, const fql_field_t *f, fql_scalar_t sc,
    int array)
{
    unsigned     i;
    const char  *cast;

    if (f->column.len && c->npath == 0) {
        fql_sql_quoted(c, f->column, '"');
        return;
    }

    /*
     * JSON stays jsonb: NULLIF("data"->'a'->'k', 'null');
     * the rest is text cast to its type: (("data"->>'k')::t)
     */
    if (array || fql_scalar_is_json(sc)) {
        fql_sql_lit(c, "NULLIF(\"data\"");

    } else {
        fql_sql_lit(c, "((\"data\"");
    }

    for (i = 0; i < c->npath; i++) {
        fql_sql_lit(c, "->");
        fql_sql_quoted(c, c->path[i]->json_key, '\'');
    }

    if (array || fql_scalar_is_json(sc)) {
        /* a JSON null is SQL's NULL, as ->> makes it for the others */
        fql_sql_lit(c, "->");
        fql_sql_quoted(c, f->json_key, '\'');
        fql_sql_lit(c, ", 'null')");
        return;
    }

    fql_sql_lit(c, "->>");
    fql_sql_quoted(c, f->json_key, '\'');
    fql_sql_lit(c, ")");

    cast = fql_scalars[sc].cast;

    if (cast != NULL) {
        fql_sql_lit(c, "::");
        fql_sql_z(c, cast);
    }

    fql_sql_lit(c, ")");
}


void
fql_sql_cast_suffix(fql_cctx_t *c, const fql_field_t *f, fql_scalar_t sc,
    int array)
{
    const char  *cast;

    cast = fql_scalars[sc].cast;

    if (cast == NULL) {
        if (!array) {
            return;
        }
        cast = "text";
    }

    /* a real column gives the parameter its type, lists' too */
    if (f->column.len && c->npath == 0) {
        return;
    }

    fql_sql_lit(c, "::");
    fql_sql_z(c, cast);

    if (array) {
        fql_sql_lit(c, "[]");
    }
}


/* the scalar of an operator's value, for its text */
static fql_scalar_t
fql_op_value_scalar(const fql_operator_t *o, fql_scalar_t field)
{
    switch (o->value) {
    case FQL_OPV_BOOLEAN:      return FQL_SCALAR_BOOLEAN;
    case FQL_OPV_INT:          return FQL_SCALAR_INT;
    case FQL_OPV_STRING:
    case FQL_OPV_STRING_LIST:  return FQL_SCALAR_STRING;
    case FQL_OPV_DATE:         return FQL_SCALAR_DATE;
    default:                   return field;
    }
}


/* records where val[k] comes from in sl[k] */
static int
fql_op_slot(fql_cctx_t *c, const fql_jval_t *src, fql_slot_kind_t kind,
    fql_scalar_t sc, unsigned wild, fql_slot_t *sl)
{
    if (fql_slot_from(c, src, kind, sc, wild) != 0) {
        return -1;
    }

    *sl = c->next_slot;
    c->next_slot.kind = FQL_SLOT_LITERAL;

    return 0;
}


/*
 * A row filter's claim as the parameter its operator takes, from the
 * request's verified claims: NULL (no row matches) when there is no such
 * claim, or when it is not a value of that kind.
 */
static int
fql_row_claim_text(fql_cctx_t *c, const fql_slot_t *sl, const char **out)
{
    const fql_jval_t  *v, *it;

    *out = NULL;

    v = c->claims ? fql_json_pointer(c->claims, sl->arg->from_claim) : NULL;

    if (v == NULL || v->kind == FQL_J_NULL) {
        return 0;
    }

    if (v->kind == FQL_J_STRING && memchr(v->str.data, '\0', v->str.len)) {
        return 0;
    }

    switch (sl->key) {

    case FQL_SLOT_ARRAY:
        if (v->kind != FQL_J_ARRAY) {
            return 0;
        }

        for (it = v->items; it; it = it->next) {
            if ((it->kind != FQL_J_STRING && it->kind != FQL_J_NUMBER)
                || (it->kind == FQL_J_STRING
                    && memchr(it->str.data, '\0', it->str.len)))
            {
                return 0;
            }
        }

        return fql_param_array(c, sl->sc, v, out);

    case FQL_SLOT_JSON:
        return fql_param_json(c, v, out);

    case FQL_SLOT_PATTERN:
        return v->kind == FQL_J_STRING
               ? fql_param_pattern(c, v, sl->wild, out) : 0;

    default:
        switch (sl->sc) {
        case FQL_SCALAR_INT:
        case FQL_SCALAR_FLOAT:
            if (v->kind != FQL_J_NUMBER) {
                return 0;
            }
            break;
        case FQL_SCALAR_BOOLEAN:
            if (v->kind != FQL_J_BOOL) {
                return 0;
            }
            break;
        default:
            if (v->kind != FQL_J_STRING && v->kind != FQL_J_NUMBER) {
                return 0;
            }
        }

        return fql_param_text(c, sl->sc, v, out);
    }
}


/*
 * The memo's place for a value and where it goes, free or taken: the
 * same variable compared with another field (a column, or JSON text with
 * another cast) is another parameter, since PostgreSQL gives an untyped
 * $n the type of its first use.
 */
static fql_vmemo_t *
fql_memo_slot(fql_cctx_t *c, const fql_vmemo_t *key)
{
    uintptr_t     h;
    fql_vmemo_t  *m;

    /* addresses are the arena's, not the client's: a plain mix will do */
    h = ((uintptr_t) key->src >> 4) * (uintptr_t) 0x9E3779B97F4A7C15ULL;
    h ^= ((uintptr_t) key->field >> 4) * (uintptr_t) 0xC2B2AE3D27D4EB4FULL;
    h = (h >> 16) ^ (key->kind * 31 + key->sc * 7 + key->wild * 3
                     + key->col);

    for ( ;; ) {
        m = &c->memo[h & (c->memo_cap - 1)];

        if (m->src == NULL
            || (m->src == key->src && m->field == key->field
                && m->kind == key->kind && m->sc == key->sc
                && m->wild == key->wild && m->col == key->col))
        {
            return m;
        }

        h++;
    }
}


/*
 * A parameter made before from the same variable value, or NULL (and a
 * new one is made: fql_memo_add).
 */
static fql_vmemo_t *
fql_memo_find(fql_cctx_t *c, const fql_vmemo_t *key)
{
    fql_vmemo_t  *m;

    if (key->src == NULL || c->memo == NULL) {
        return NULL;
    }

    m = fql_memo_slot(c, key);

    return m->src ? m : NULL;
}


static fql_vmemo_t *
fql_memo_add(fql_cctx_t *c, const fql_vmemo_t *key, const char *val,
    const fql_slot_t *sl)
{
    unsigned      i, cap;
    fql_vmemo_t  *m, *old;

    if (key->src == NULL) {
        return NULL;
    }

    /* kept at most half full; without memory, no memo (only slower) */
    if (2 * (c->nmemo + 1) > c->memo_cap) {
        old = c->memo;
        cap = c->memo_cap;

        c->memo_cap = cap ? cap * 2 : 16;
        c->memo = fql_calloc(c->v.arena, c->memo_cap * sizeof(fql_vmemo_t));
        if (c->memo == NULL) {
            c->memo_cap = 0;
            c->nmemo = 0;
            return NULL;
        }

        for (i = 0; i < cap; i++) {
            if (old[i].src != NULL) {
                *fql_memo_slot(c, &old[i]) = old[i];
            }
        }
    }

    m = fql_memo_slot(c, key);

    *m = *key;
    m->val = val;
    m->slot = *sl;
    m->stmt = 0;
    m->pnum = 0;
    c->nmemo++;

    return m;
}


/* the parameters an operator's value stands for (fql_op_values) */
typedef struct {
    const char    *val[3];
    fql_slot_t     sl[3];
    fql_vmemo_t   *memo;       /* a variable's, kept for its next uses */
    unsigned       n;
} fql_opvals_t;


/* an operator's value that is a row filter's claim: one parameter */
static int
fql_claim_op_values(fql_cctx_t *c, const fql_jval_t *op, unsigned kind,
    fql_scalar_t vsc, unsigned wild, fql_opvals_t *ov)
{
    fql_slot_t  *sl = &ov->sl[0];

    memset(sl, 0, sizeof(fql_slot_t));
    sl->kind = FQL_SLOT_ROW_CLAIM;
    sl->sc = (unsigned char) vsc;
    sl->wild = (unsigned char) wild;
    sl->key = (unsigned short) kind;
    sl->arg = &((const fql_claim_src_t *) op->var_src)->arg;

    ov->n = 1;
    ov->memo = NULL;

    return fql_row_claim_text(c, sl, &ov->val[0]);
}


/*
 * The parameters an operator's value on field f stands for: one per
 * member of an input object (MEMBERS), else one, which ov->memo keeps when
 * it comes from a variable (fql_memo_add).
 */
static int
fql_op_values(fql_cctx_t *c, const fql_arg_t *a, const fql_field_t *f,
    fql_scalar_t sc, const fql_jval_t *op, fql_opvals_t *ov)
{
    int                    rc;
    unsigned               kind, wild;
    fql_vmemo_t            key;
    fql_scalar_t           vsc;
    const fql_arg_t       *in;
    fql_slot_t            *sl;
    const char           **val;
    const fql_jval_t      *m;
    const fql_operator_t  *o = a->op;

    ov->memo = NULL;
    vsc = fql_op_value_scalar(o, sc);

    if (o->xf == FQL_OPX_MEMBERS) {
        /* one parameter per member, in the input type's order */
        ov->n = 0;
        in = fql_tref_named(a->type)->input_fields;

        for ( /* void */ ; in && ov->n < 3; in = in->next) {
            for (m = op->items; m; m = m->next) {
                if (fql_str_eq(m->key, in->name)) {
                    break;
                }
            }

            if (m == NULL) {
                /* required members: coercion made sure they are here */
                return fql_error_nomem(c->v.errs);
            }

            sl = &ov->sl[ov->n];
            val = &ov->val[ov->n];

            if (fql_is_claim_src(m->var_src)) {
                memset(sl, 0, sizeof(fql_slot_t));
                sl->kind = FQL_SLOT_ROW_CLAIM;
                sl->sc = FQL_SCALAR_FLOAT;
                sl->key = FQL_SLOT_TEXT;
                sl->arg = &((const fql_claim_src_t *) m->var_src)->arg;

                if (fql_row_claim_text(c, sl, val) != 0) {
                    return -1;
                }

            } else if (m->kind == FQL_J_ARRAY) {
                if (fql_op_slot(c, m, FQL_SLOT_JSON, vsc, 0, sl) != 0
                    || fql_param_json(c, m, val) != 0)
                {
                    return -1;
                }

            } else if (fql_op_slot(c, m, FQL_SLOT_TEXT, FQL_SCALAR_FLOAT, 0,
                                   sl) != 0
                       || fql_param_text(c, FQL_SCALAR_FLOAT, m, val) != 0)
            {
                return -1;
            }

            ov->n++;
        }

        return 0;
    }

    ov->n = 1;
    wild = o->xf == FQL_OPX_PATTERN ? o->wild : 0;
    kind = o->xf == FQL_OPX_ARRAY ? FQL_SLOT_ARRAY
           : o->xf == FQL_OPX_JSON ? FQL_SLOT_JSON
           : o->xf == FQL_OPX_PATTERN ? FQL_SLOT_PATTERN
           : FQL_SLOT_TEXT;

    if (fql_is_claim_src(op->var_src)) {
        return fql_claim_op_values(c, op, kind, vsc, wild, ov);
    }

    memset(&key, 0, sizeof(key));
    key.src = op->var_src;
    key.field = f;
    key.kind = (unsigned char) kind;
    key.sc = (unsigned char) vsc;
    key.wild = (unsigned char) wild;
    /* the same field may be a column here, JSON in a nested filter */
    key.col = f->column.len && c->npath == 0;

    ov->memo = fql_memo_find(c, &key);

    if (ov->memo != NULL) {
        ov->val[0] = ov->memo->val;
        ov->sl[0] = ov->memo->slot;
        return 0;
    }

    if (fql_op_slot(c, op, kind, vsc, wild, &ov->sl[0]) != 0) {
        return -1;
    }

    switch (kind) {

    case FQL_SLOT_ARRAY:
        rc = fql_param_array(c, vsc, op, &ov->val[0]);
        break;

    case FQL_SLOT_JSON:
        rc = fql_param_json(c, op, &ov->val[0]);
        break;

    case FQL_SLOT_PATTERN:
        rc = fql_param_pattern(c, op, wild, &ov->val[0]);
        break;

    default:
        rc = fql_param_text(c, vsc, op, &ov->val[0]);
        break;
    }

    if (rc != 0) {
        return -1;
    }

    ov->memo = fql_memo_add(c, &key, ov->val[0], &ov->sl[0]);

    return 0;
}


/* writes an operator's SQL template (fql_schema.h) */
static int
fql_sql_op(fql_cctx_t *c, const fql_operator_t *o, const fql_field_t *f,
    fql_scalar_t sc, int array, const fql_opvals_t *ov)
{
    char         buf[16];
    unsigned     k, pnum[3];
    const char  *p, *s;

    pnum[0] = pnum[1] = pnum[2] = 0;

    for (p = o->sql; *p; p++) {
        if (*p != '%') {
            for (s = p; p[1] && p[1] != '%'; p++) { /* void */ }

            fql_sql_put(c, s, p - s + 1);
            continue;
        }

        p++;

        if (*p == 'e') {
            fql_sql_field(c, f, sc, array);
            continue;
        }

        k = (*p == 'v' || *p == 'a') ? 0 : (unsigned) (*p - '1');
        if (k >= ov->n) {
            /* an operator's input object always has its members */
            return fql_error_nomem(c->v.errs);
        }

        if (pnum[k] == 0 && ov->memo != NULL && ov->memo->stmt == c->stmt) {
            /* bound already in this statement (a memo: one value) */
            pnum[k] = ov->memo->pnum;
        }

        if (pnum[k] != 0) {
            fql_sql_put(c, buf, snprintf(buf, sizeof(buf), "$%u", pnum[k]));

        } else {
            c->next_slot = ov->sl[k];

            if (fql_sql_param(c, ov->val[k]) != 0) {
                return -1;
            }
            pnum[k] = c->nparams;

            if (ov->memo != NULL) {
                ov->memo->stmt = c->stmt;
                ov->memo->pnum = pnum[k];
            }
        }

        if (*p == 'v' || *p == 'a') {
            fql_sql_cast_suffix(c, f, sc, *p == 'a');
        }
    }

    return 0;
}


/*
 * Each operator and each arm of AND, OR, NOT is a condition: PostgreSQL
 * evaluates them per row, through the view's expressions, so a filter of
 * thousands of arms costs rows times arms.  Past the limit: refused.
 */
static int
fql_count_condition(fql_cctx_t *c)
{
    if (c->limits == NULL || c->limits->max_conditions == 0
        || ++c->nconds <= c->limits->max_conditions)
    {
        return 0;
    }

    fql_error_add(c->v.errs, NULL, FQL_CODE_LIMIT,
                  "The filter has more than %u conditions "
                  "(fraiseql_max_filter_conditions).",
                  c->limits->max_conditions);
    return -1;
}


static int
fql_sql_ops(fql_cctx_t *c, const fql_arg_t *in, const fql_jval_t *ops,
    int *first)
{
    int                    array;
    fql_arg_t             *a;
    fql_type_t            *filter;
    fql_scalar_t           sc;
    fql_opvals_t           ov;
    const fql_jval_t      *op;
    const fql_field_t     *f;
    const fql_operator_t  *o;

    f = in->filter_field;
    filter = fql_tref_named(in->type);
    sc = filter->scalar;
    array = fql_tref_scalar_list(f->type) != NULL;

    /* filtering by a guarded field tells of its values */
    if (f->rule != NULL && !c->row_filter
        && fql_auth_need(c, f->rule, 0, "where", NULL) != 0)
    {
        return -1;
    }

    for (op = ops->items; op; op = op->next) {
        /* an operator given null is left out, as FraiseQL does */
        if (op->kind == FQL_J_NULL) {
            continue;
        }

        a = fql_arg_find(filter->input_fields, op->key);
        o = a->op;

        if (!*first) {
            fql_sql_lit(c, " AND ");
        }

        *first = 0;

        if (sc == FQL_SCALAR_VECTOR) {
            c->uses_vector = 1;
        }

        if (fql_count_condition(c) != 0
            || fql_op_values(c, a, f, sc, op, &ov) != 0
            || fql_sql_op(c, o, f, sc, array, &ov) != 0)
        {
            return -1;
        }
    }

    return 0;
}


/* a nested object's filter: its fields through the object's JSON */
static int
fql_sql_nested(fql_cctx_t *c, const fql_arg_t *in, const fql_jval_t *obj,
    int *first)
{
    int   sub_empty;
    size_t  mark;

    if (c->npath == FQL_MAX_PATH) {
        fql_error_add(c->v.errs, NULL, FQL_CODE_BAD_INPUT,
                      "Filters nest more than %d objects deep.",
                      FQL_MAX_PATH);
        return -1;
    }

    if (in->filter_field->rule != NULL && !c->row_filter
        && fql_auth_need(c, in->filter_field->rule, 0, "where", NULL) != 0)
    {
        return -1;
    }

    mark = c->sql.len;

    if (!*first) {
        fql_sql_lit(c, " AND ");
    }

    fql_sql_lit(c, "(");

    c->path[c->npath++] = in->filter_field;

    if (fql_sql_where(c, fql_tref_named(in->type), obj, &sub_empty) != 0) {
        return -1;
    }

    c->npath--;

    if (sub_empty) {
        fql_sql_cut(c, mark);
        return 0;
    }

    *first = 0;
    fql_sql_lit(c, ")");

    return 0;
}


int
fql_sql_where(fql_cctx_t *c, const fql_type_t *where, const fql_jval_t *obj,
    int *empty)
{
    int                first, sub_empty, and;
    fql_arg_t         *in;
    const fql_jval_t  *m, *it;

    first = 1;

    for (m = obj->items; m; m = m->next) {
        if (m->kind == FQL_J_NULL) {
            continue;
        }

        and = fql_str_eqz(m->key, "AND");

        if (and || fql_str_eqz(m->key, "OR")) {
            if (m->count == 0) {
                /* an empty list filters nothing, like an absent one */
                continue;
            }

            fql_sql_z(c, first ? "(" : " AND (");
            first = 0;

            for (it = m->items; it; it = it->next) {
                if (fql_count_condition(c) != 0) {
                    return -1;
                }

                if (it != m->items) {
                    fql_sql_z(c, and ? " AND " : " OR ");
                }

                fql_sql_lit(c, "(");

                if (fql_sql_where(c, where, it, &sub_empty) != 0) {
                    return -1;
                }

                fql_sql_z(c, sub_empty ? "TRUE)" : ")");
            }

            fql_sql_lit(c, ")");
            continue;
        }

        if (fql_str_eqz(m->key, "NOT")) {
            if (fql_count_condition(c) != 0) {
                return -1;
            }

            fql_sql_z(c, first ? "NOT (" : " AND NOT (");

            if (fql_sql_where(c, where, m, &sub_empty) != 0) {
                return -1;
            }

            fql_sql_z(c, sub_empty ? "TRUE)" : ")");
            first = 0;
            continue;
        }

        in = fql_arg_find(where->input_fields, m->key);

        if (fql_tref_named(in->type)->filter) {
            if (fql_sql_ops(c, in, m, &first) != 0) {
                return -1;
            }

        } else if (fql_sql_nested(c, in, m, &first) != 0) {
            return -1;
        }
    }

    *empty = first;

    return 0;
}


/* the keys of an orderBy object, in the order written, nested ones too */
static int
fql_order_object(fql_cctx_t *c, fql_order_t *o, const fql_type_t *order,
    const fql_jval_t *obj, const fql_field_t **path, unsigned npath)
{
    fql_arg_t          *in;
    fql_okey_t         *k;
    fql_scalar_t        sc;
    const fql_field_t  *f;
    const fql_jval_t   *m;

    for (m = obj->items; m; m = m->next) {
        in = fql_arg_find(order->input_fields, m->key);
        f = in->filter_field;

        /* ordering by a guarded field tells of its values */
        if (f->rule != NULL
            && fql_auth_need(c, f->rule, 0, "orderBy", NULL) != 0)
        {
            return -1;
        }

        if (m->kind == FQL_J_OBJECT) {
            if (npath == FQL_MAX_PATH) {
                fql_error_add(c->v.errs, NULL, FQL_CODE_BAD_INPUT,
                              "Orderings nest more than %d objects deep.",
                              FQL_MAX_PATH);
                return -1;
            }

            path[npath] = f;

            if (fql_order_object(c, o, fql_tref_named(in->type), m, path,
                                 npath + 1) != 0)
            {
                return -1;
            }

            continue;
        }

        if (m->kind != FQL_J_STRING) {
            continue;
        }

        /* one place is kept for a connection's id */
        if (o->nkeys == FQL_ORDER_KEYS - 1) {
            fql_error_add(c->v.errs, NULL, FQL_CODE_BAD_INPUT,
                          "An ordering has at most %d keys.",
                          FQL_ORDER_KEYS - 1);
            return -1;
        }

        sc = fql_tref_named(f->type)->scalar;

        if (sc == FQL_SCALAR_VECTOR) {
            c->uses_vector = 1;
        }

        if (f->column.len && npath == 0) {
            /* a column's own type: unknown here, its values any scalar */
            sc = FQL_SCALAR_ID;

        } else if (sc == FQL_SCALAR_ID) {
            /* an ID in the JSON orders as a JSON value: numbers as such */
            sc = FQL_SCALAR_JSON;
        }

        k = fql_order_add(c, o);
        if (k == NULL) {
            return fql_error_nomem(c->v.errs);
        }

        k->field = f;
        k->npath = npath;
        k->sc = sc;
        k->desc = fql_str_eqz(m->str, "DESC");
        k->path = NULL;

        if (npath) {
            k->path = fql_alloc(c->v.arena, npath * sizeof(path[0]));
            if (k->path == NULL) {
                return fql_error_nomem(c->v.errs);
            }

            memcpy((void *) k->path, path, npath * sizeof(path[0]));
        }
    }

    return 0;
}


fql_okey_t *
fql_order_add(fql_cctx_t *c, fql_order_t *o)
{
    fql_okey_t  *k;

    if (o->nkeys == o->cap) {
        o->cap = o->cap ? o->cap * 2 : 4;

        k = fql_alloc(c->v.arena, o->cap * sizeof(fql_okey_t));
        if (k == NULL) {
            return NULL;
        }

        if (o->nkeys) {
            memcpy(k, o->keys, o->nkeys * sizeof(fql_okey_t));
        }

        o->keys = k;
    }

    return &o->keys[o->nkeys++];
}


int
fql_order_keys(fql_cctx_t *c, const fql_type_t *order,
    const fql_jval_t *list, fql_order_t *o)
{
    const fql_jval_t   *it;
    const fql_field_t  *path[FQL_MAX_PATH];

    o->keys = NULL;
    o->nkeys = 0;
    o->cap = 0;

    for (it = list ? list->items : NULL; it; it = it->next) {
        if (it->kind == FQL_J_OBJECT
            && fql_order_object(c, o, order, it, path, 0) != 0)
        {
            return -1;
        }
    }

    return 0;
}


/* a key's expression: its field's (fql_sql_field), or the id column */
void
fql_order_expr(fql_cctx_t *c, const fql_okey_t *k)
{
    if (k->field == NULL) {
        fql_sql_lit(c, "\"id\"");
        return;
    }

    if (k->npath) {
        memcpy(c->path, k->path, k->npath * sizeof(k->path[0]));
    }

    c->npath = k->npath;
    fql_sql_field(c, k->field, k->sc, 0);
    c->npath = 0;
}


/* "e1 ASC, e2 DESC": reversed, each the other way */
void
fql_order_sql(fql_cctx_t *c, const fql_order_t *o, int reverse)
{
    unsigned  i;

    for (i = 0; i < o->nkeys; i++) {
        if (i) {
            fql_sql_lit(c, ", ");
        }

        fql_order_expr(c, &o->keys[i]);
        fql_sql_z(c, o->keys[i].desc ^ reverse ? " DESC" : " ASC");
    }
}


int
fql_sql_order_list(fql_cctx_t *c, const fql_type_t *order,
    const fql_jval_t *list)
{
    fql_order_t  o;

    if (fql_order_keys(c, order, list, &o) != 0) {
        return -1;
    }

    if (o.nkeys) {
        fql_sql_lit(c, " ORDER BY ");
        fql_order_sql(c, &o, 0);
    }

    return 0;
}


void
fql_sql_from(fql_cctx_t *c, const fql_type_t *t)
{
    fql_sql_lit(c, "SELECT \"data\" FROM ");
    fql_sql_view(c, t);
}


/* "schema"."view" of an @view type */
void
fql_sql_view(fql_cctx_t *c, const fql_type_t *t)
{
    if (t->view_schema.len) {
        fql_sql_quoted(c, t->view_schema, '"');
        fql_sql_lit(c, ".");
    }

    fql_sql_quoted(c, t->view_name, '"');
}


/* "schema"."name"( of a field's @function: names from the schema, quoted */
void
fql_sql_call(fql_cctx_t *c, const fql_field_t *f)
{
    if (f->fn_schema.len) {
        fql_sql_quoted(c, f->fn_schema, '"');
        fql_sql_lit(c, ".");
    }

    fql_sql_quoted(c, f->fn_name, '"');
    fql_sql_lit(c, "(");
}


/*
 * The FROM of a query function: "SELECT "data" FROM "s"."fn"(a => $1)".
 * Each argument given is passed by name, its parameter untyped so that
 * PostgreSQL gives it the type the function declares (an Int may be an
 * integer, a bigint or a numeric); one left out is not written, so the
 * function's DEFAULT applies; a null is SQL NULL.
 */
int
fql_sql_fn_from(fql_cctx_t *c, const fql_field_t *f, const fql_jval_t *args)
{
    unsigned           n;
    const char        *p;
    fql_scalar_t       sc;
    const fql_arg_t   *a;
    const fql_jval_t  *j;

    fql_sql_lit(c, "SELECT \"data\" FROM ");
    fql_sql_call(c, f);

    n = 0;

    for (a = f->args; a; a = a->next) {
        if (!a->fn_param) {
            continue;
        }

        for (j = args ? args->items : NULL; j; j = j->next) {
            if (fql_str_eq(j->key, a->name)) {
                break;
            }
        }

        if (j == NULL) {
            continue;
        }

        /* JSON's null is SQL NULL here, not the JSON value null */
        sc = fql_tref_named(a->type)->scalar;
        if (j->kind == FQL_J_NULL) {
            sc = FQL_SCALAR_STRING;
        }

        if (fql_param_text(c, sc, j, &p) != 0
            || fql_slot_from(c, j, FQL_SLOT_TEXT, sc, 0) != 0)
        {
            return -1;
        }

        if (n++) {
            fql_sql_lit(c, ", ");
        }

        fql_sql_quoted(c, a->json_key, '"');
        fql_sql_lit(c, " => ");

        if (fql_sql_param(c, p) != 0) {
            return -1;
        }

        fql_cost_param(c, a->name);
    }

    if (fql_sql_claim_args(c, f, n) != 0) {
        return -1;
    }

    fql_sql_lit(c, ")");

    return 0;
}


/*
 * The text of the claim an @fromClaim argument points at: a string as it
 * is, anything else as JSON.  No token, or no such claim, is the
 * client's to fix: UNAUTHENTICATED (401).
 */
int
fql_claim_text(fql_cctx_t *c, const fql_loc_t *loc, const fql_arg_t *a,
    const char **out)
{
    const fql_jval_t  *v;

    v = c->claims ? fql_json_pointer(c->claims, a->from_claim) : NULL;

    if (v == NULL || v->kind == FQL_J_NULL) {
        fql_error_add(c->v.errs, loc, FQL_CODE_UNAUTHENTICATED,
                      "A verified token with the claim %.*s is needed "
                      "(for \"%.*s\").", fql_pstr(a->from_claim),
                      fql_pstr(a->name));
        return -1;
    }

    /* a parameter is a C string: what follows a NUL would be lost */
    if (v->kind == FQL_J_STRING && memchr(v->str.data, '\0', v->str.len)) {
        fql_error_add(c->v.errs, loc, FQL_CODE_UNAUTHENTICATED,
                      "The claim %.*s holds a NUL character.",
                      fql_pstr(a->from_claim));
        return -1;
    }

    return fql_param_text(c, v->kind == FQL_J_STRING || v->kind == FQL_J_NUMBER
                             || v->kind == FQL_J_BOOL
                             ? FQL_SCALAR_STRING : FQL_SCALAR_JSON,
                          v, out);
}


/*
 * The @fromClaim arguments of a SQL function, by name after the n
 * written before them: ", "author_id" => $4".  Each is a parameter the
 * cached plan binds again from each request's claims.
 */
int
fql_sql_claim_args(fql_cctx_t *c, const fql_field_t *f, unsigned n)
{
    const char       *p;
    const fql_arg_t  *a;

    for (a = f->claim_args; a; a = a->next) {
        if (fql_claim_text(c, &f->loc, a, &p) != 0) {
            return -1;
        }

        if (n++) {
            fql_sql_lit(c, ", ");
        }

        fql_sql_quoted(c, a->json_key, '"');
        fql_sql_lit(c, " => ");

        c->next_slot.kind = FQL_SLOT_CLAIM;
        c->next_slot.npath = 0;
        c->next_slot.arg = a;

        if (fql_sql_param(c, p) != 0) {
            return -1;
        }
    }

    return 0;
}


/* the names of page sizes, by a LIMIT slot's wild */
static const char  *fql_limit_names[] = { "limit", "first", "last",
                                          "limit" };


/* the text of a page size: checked, or the default (NULL: none) */
int
fql_limit_text(fql_cctx_t *c, const fql_loc_t *loc, unsigned name,
    const fql_jval_t *a, const char **out)
{
    long         n;
    char        *p;
    unsigned     max, dflt;

    max = c->limits ? c->limits->max_limit : 0;
    dflt = c->limits ? c->limits->default_limit : 0;

    /* a page of a connection, or groups, is one row in memory: bounded */
    if (name != FQL_LIMIT_LIMIT && (max == 0 || max > FQL_PAGE_MAX)) {
        max = FQL_PAGE_MAX;
    }

    if (a != NULL && a->kind == FQL_J_NUMBER) {
        n = strtol(a->str.data, NULL, 10);

        if (n < 0) {
            fql_error_add(c->v.errs, loc, FQL_CODE_BAD_INPUT,
                          "\"%s\" must not be negative.",
                          fql_limit_names[name]);
            return -1;
        }

        if (max && n > (long) max) {
            fql_error_add(c->v.errs, loc, FQL_CODE_BAD_INPUT,
                          "\"%s\" is %ld, over the maximum of %u.",
                          fql_limit_names[name], n, max);
            return -1;
        }

    } else if (dflt || max) {
        n = (long) (dflt && (max == 0 || dflt < max) ? dflt : max);

    } else {
        *out = NULL;
        return 0;
    }

    p = fql_alloc(c->v.arena, 24);
    if (p == NULL) {
        return fql_error_nomem(c->v.errs);
    }

    snprintf(p, 24, "%ld", n);
    *out = p;

    return 0;
}


int
fql_offset_text(fql_cctx_t *c, const fql_loc_t *loc, const fql_jval_t *a,
    const char **out)
{
    if (a->str.data[0] == '-') {
        fql_error_add(c->v.errs, loc, FQL_CODE_BAD_INPUT,
                      "\"offset\" must not be negative.");
        return -1;
    }

    return fql_param_text(c, FQL_SCALAR_INT, a, out);
}


/*
 * LIMIT of a list: the request's, which may not pass fraiseql_max_limit
 * (refused, not clamped: a client asking for more than it gets would not
 * know), else fraiseql_default_limit, else the maximum.
 */
int
fql_sql_limit(fql_cctx_t *c, const fql_selection_t *s, const fql_jval_t *a)
{
    const char  *p;

    if (fql_limit_text(c, &s->loc, FQL_LIMIT_LIMIT, a, &p) != 0) {
        return -1;
    }

    if (p == NULL) {
        return 0;
    }

    if (a != NULL && a->kind == FQL_J_NUMBER
        && fql_slot_from(c, a, FQL_SLOT_LIMIT, FQL_SCALAR_INT, 0) != 0)
    {
        return -1;
    }

    fql_sql_lit(c, " LIMIT ");

    if (fql_sql_param(c, p) != 0) {
        return -1;
    }

    fql_cost_paramz(c, "limit");
    fql_sql_lit(c, "::bigint");

    return 0;
}


/* a mutation's input as the function's JSON (snake_case keys) */
int
fql_input_json(fql_cctx_t *c, const fql_tref_t *type, const fql_jval_t *j,
    const char **out)
{
    fql_text_t  t;

    memset(&t, 0, sizeof(t));
    t.c = c;

    if (fql_text_input(&t, type, j) != 0 || fql_text_put(&t, "", 0) != 0) {
        return -1;
    }

    *out = t.b.data;

    return 0;
}


/* a variable given as the whole input is refilled on a cache hit */
int
fql_input_slot(fql_cctx_t *c, const fql_jval_t *input, const fql_tref_t *type)
{
    if (fql_slot_from(c, input, FQL_SLOT_INPUT, FQL_SCALAR_JSON, 0) != 0) {
        return -1;
    }

    c->next_slot.type = type;

    return 0;
}


/* a root field's statement starts empty: its text, parameters, limits */
void
fql_sql_begin(fql_cctx_t *c)
{
    c->sql.data = NULL;
    c->sql.len = 0;
    c->sql.cap = 0;
    c->sql.nomem = 0;
    c->params = NULL;
    c->slots = NULL;
    c->nparams = 0;
    c->params_cap = 0;
    c->nconds = 0;
    c->stmt++;
    c->next_slot.kind = FQL_SLOT_LITERAL;
}


/* the statement written: its text and parameters go to rp */
int
fql_sql_end(fql_cctx_t *c, fql_root_plan_t *rp)
{
    if (c->sql.nomem) {
        return fql_error_nomem(c->v.errs);
    }

    rp->sql = c->sql.data;
    rp->sql_len = c->sql.len;
    rp->sql_hash = fql_hash(rp->sql, rp->sql_len);
    rp->params = c->params;
    rp->slots = c->slots;
    rp->nparams = c->nparams;

    return 0;
}


/* a slot's value for the new variables */
int
fql_bind_slot(fql_cctx_t *c, const fql_root_plan_t *rp, const fql_slot_t *sl,
    const fql_jval_t *vars, const char **out)
{
    unsigned           i, k;
    const fql_jval_t  *j;

    /* not from the variables: from the request's token */
    if (sl->kind == FQL_SLOT_CLAIM) {
        return fql_claim_text(c, &rp->loc, sl->arg, out);
    }

    if (sl->kind == FQL_SLOT_ROW_CLAIM) {
        return fql_row_claim_text(c, sl, out);
    }

    if (sl->kind == FQL_SLOT_ROW_ROLES) {
        *out = c->caller && (sl->filter->roles & c->caller->roles)
               ? "t" : "f";
        return 0;
    }

    j = vars;

    for (i = 0; j != NULL && i < sl->npath; i++) {
        for (k = 0, j = j->items; j && k < sl->path[i]; k++) {
            j = j->next;
        }
    }

    if (j == NULL) {
        /* the shape matched the plan's: this cannot happen */
        return fql_error_nomem(c->v.errs);
    }

    switch (sl->kind) {
    case FQL_SLOT_ARRAY:
        return fql_param_array(c, sl->sc, j, out);
    case FQL_SLOT_JSON:
        return fql_param_json(c, j, out);
    case FQL_SLOT_PATTERN:
        return fql_param_pattern(c, j, sl->wild, out);
    case FQL_SLOT_LIMIT:
        return fql_limit_text(c, &rp->loc, sl->wild, j, out);
    case FQL_SLOT_CURSOR:
        return fql_cursor_param(c, rp, sl, j, out);
    case FQL_SLOT_OFFSET:
        return fql_offset_text(c, &rp->loc, j, out);

    case FQL_SLOT_INPUT:
        return fql_input_json(c, sl->type, j, out);
    default:
        return fql_param_text(c, sl->sc, j, out);
    }
}


/*
 * A JSON object of the fields selected on a generated type, under their
 * response keys, each value written by value().  json_build_object takes
 * at most 100 arguments: past 50 keys the rest go in jsonb objects
 * joined to it.
 */
int
fql_sql_object(fql_cctx_t *c, const fql_type_t *t, fql_cfield_t *cf,
    fql_sql_value_pt value, void *data)
{
    unsigned       n;
    fql_cfield_t  *sub, *x;

    if (fql_collect_sub(c, t, cf, &sub) != 0) {
        return -1;
    }

    fql_sql_lit(c, "(json_build_object(");

    for (n = 0, x = sub; x; x = x->next) {
        /* the projection writes __typename */
        if (fql_str_eqz(x->nodes->sel->name, "__typename")) {
            continue;
        }

        if (n && n % 50 == 0) {
            fql_sql_lit(c, ")::jsonb || jsonb_build_object(");

        } else if (n) {
            fql_sql_lit(c, ", ");
        }

        n++;
        fql_sql_quoted(c, x->key, '\'');
        fql_sql_lit(c, ", ");

        if (value(c, data, t, x) != 0) {
            return -1;
        }
    }

    fql_sql_lit(c, "))");

    return 0;
}


/* the text written since mark, kept to be written again (same $n) */
fql_str_t
fql_sql_since(fql_cctx_t *c, size_t mark)
{
    fql_str_t  r;

    r.len = c->sql.len - mark;
    r.data = c->sql.nomem ? "" : fql_strndup(c->v.arena, c->sql.data + mark,
                                             r.len);
    if (r.data == NULL) {
        c->sql.nomem = 1;
        r.data = "";
        r.len = 0;
    }

    return r;
}


/*
 * The type's row filters: "(($1::boolean AND (where)) OR ...)", where
 * each flag says whether the filter is one of the caller's roles.  The
 * statement is the same for every caller, so the plan cache serves all
 * of them; the flags and the claims are bound for each request.  A caller
 * without a filter of its roles matches no row.
 */
int
fql_sql_row_filter(fql_cctx_t *c, const fql_type_t *t, int *wrote)
{
    int                      empty;
    unsigned                 nconds, npath;
    const fql_row_filter_t  *f;

    *wrote = 0;

    if (t->filters == NULL) {
        return 0;
    }

    /* the schema's conditions are not the client's to count */
    nconds = c->nconds;
    npath = c->npath;
    c->npath = 0;
    c->row_filter = 1;

    fql_sql_lit(c, "(");

    for (f = t->filters; f; f = f->next) {
        fql_sql_z(c, f == t->filters ? "(" : " OR (");

        c->next_slot.kind = FQL_SLOT_ROW_ROLES;
        c->next_slot.filter = f;

        if (fql_sql_param(c, c->caller && (f->roles & c->caller->roles)
                             ? "t" : "f") != 0)
        {
            return -1;
        }

        c->next_slot.filter = NULL;
        fql_sql_lit(c, "::boolean AND (");

        if (fql_sql_where(c, t->where_input, f->where, &empty) != 0) {
            return -1;
        }

        fql_sql_z(c, empty ? "TRUE))" : "))");
    }

    fql_sql_lit(c, ")");

    c->row_filter = 0;
    c->nconds = nconds;
    c->npath = npath;
    *wrote = 1;

    return 0;
}


/*
 * The WHERE clause of a read of t: its row filters, then the client's
 * where within them (" WHERE <filters> AND (<where>)"), either alone, or
 * nothing when neither filters; in parentheses with paren.  *wrote: a
 * clause was written.
 */
int
fql_sql_where_filtered(fql_cctx_t *c, const fql_type_t *t,
    const fql_jval_t *where, int paren, int *wrote)
{
    int     empty, filters;
    size_t  mark, at;

    mark = c->sql.len;
    fql_sql_z(c, paren ? " WHERE (" : " WHERE ");

    if (fql_sql_row_filter(c, t, &filters) != 0) {
        return -1;
    }

    if (where != NULL && where->kind == FQL_J_OBJECT) {
        at = c->sql.len;

        if (filters) {
            fql_sql_lit(c, " AND (");
        }

        if (fql_sql_where(c, t->where_input, where, &empty) != 0) {
            return -1;
        }

        if (empty) {
            fql_sql_cut(c, at);

        } else if (filters) {
            fql_sql_lit(c, ")");
        }
    }

    *wrote = c->sql.len != mark + (paren ? sizeof(" WHERE (") - 1
                                         : sizeof(" WHERE ") - 1);

    if (!*wrote) {
        fql_sql_cut(c, mark);

    } else if (paren) {
        fql_sql_lit(c, ")");
    }

    return 0;
}
