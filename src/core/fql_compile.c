#include <stdio.h>
#include <stdlib.h>

#include "fql_compile_int.h"


#define FQL_MAX_PARAMS  65535


/*
 * The SQL writer's error is sticky (sqlite's accError): a write that runs
 * out of memory marks the text, later writes do nothing, and fql_sql_end
 * reports it once.  Writer calls need no check of their own.
 */
static void
fql_sql_put(fql_cctx_t *c, const char *s, size_t n)
{
    char    *p;
    size_t   cap;

    if (c->sql.nomem) {
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


#define fql_sql_lit(c, s)  fql_sql_put(c, s, sizeof(s) - 1)

static void
fql_sql_z(fql_cctx_t *c, const char *s)
{
    fql_sql_put(c, s, strlen(s));
}


/*
 * s between quotes q, embedded ones doubled: "ident" (the schema refuses
 * quotes in names anyway) or 'literal' for JSON keys from schema names
 */
static void
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
static void
fql_sql_cut(fql_cctx_t *c, size_t mark)
{
    c->sql.len = mark;

    if (c->sql.data != NULL) {
        c->sql.data[mark] = '\0';
    }
}


/* adds a bound parameter and writes its placeholder, $n */
static int
fql_sql_param(fql_cctx_t *c, const char *value)
{
    char          buf[16];
    int           n;
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

    n = snprintf(buf, sizeof(buf), "$%u", c->nparams);
    fql_sql_put(c, buf, n);

    return 0;
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
static int
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
static int
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
static void
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


static void
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


static int fql_sql_where(fql_cctx_t *c, const fql_type_t *where,
    const fql_jval_t *obj, int *empty);


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

            if (m->kind == FQL_J_ARRAY) {
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


static int
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


static int
fql_sql_order(fql_cctx_t *c, const fql_type_t *order, const fql_jval_t *obj,
    int *first)
{
    fql_arg_t         *in;
    const fql_field_t *f;
    const fql_jval_t  *m;

    for (m = obj->items; m; m = m->next) {
        in = fql_arg_find(order->input_fields, m->key);
        f = in->filter_field;

        if (m->kind == FQL_J_OBJECT) {
            if (c->npath == FQL_MAX_PATH) {
                fql_error_add(c->v.errs, NULL, FQL_CODE_BAD_INPUT,
                              "Orderings nest more than %d objects deep.",
                              FQL_MAX_PATH);
                return -1;
            }

            c->path[c->npath++] = f;

            if (fql_sql_order(c, fql_tref_named(in->type), m, first) != 0) {
                return -1;
            }

            c->npath--;
            continue;
        }

        if (m->kind != FQL_J_STRING) {
            continue;
        }

        if (fql_tref_named(f->type)->scalar == FQL_SCALAR_VECTOR) {
            c->uses_vector = 1;
        }

        fql_sql_z(c, *first ? " ORDER BY " : ", ");
        fql_sql_field(c, f, fql_tref_named(f->type)->scalar, 0);
        fql_sql_z(c, fql_str_eqz(m->str, "DESC") ? " DESC" : " ASC");

        *first = 0;
    }

    return 0;
}


static int
fql_sql_order_list(fql_cctx_t *c, const fql_type_t *order,
    const fql_jval_t *list)
{
    int                first;
    const fql_jval_t  *it;

    first = 1;

    for (it = list->items; it; it = it->next) {
        if (it->kind == FQL_J_OBJECT
            && fql_sql_order(c, order, it, &first) != 0)
        {
            return -1;
        }
    }

    return 0;
}


static void
fql_sql_from(fql_cctx_t *c, const fql_type_t *t)
{
    fql_sql_lit(c, "SELECT \"data\" FROM ");

    if (t->view_schema.len) {
        fql_sql_quoted(c, t->view_schema, '"');
        fql_sql_lit(c, ".");
    }

    fql_sql_quoted(c, t->view_name, '"');
}


/* ---- selections ---- */


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
    unsigned                cap;
    fql_gnode_t            *nodes;
    const fql_selection_t  *s;

    for (s = sels; s; s = s->next) {
        if (fql_skip_node(&c->v, s->directives, &skip) != 0) {
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


static int
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


static fql_proj_t *fql_project(fql_cctx_t *c, const fql_type_t *type,
    fql_cfield_t *fields, unsigned depth);


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
    fql_proj_field_t *pf, unsigned depth)
{
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

    f = fql_type_field(type, s->name);
    if (f == NULL) {
        fql_error_add(c->v.errs, &s->loc, FQL_CODE_VALIDATION,
                      "Cannot query field \"%.*s\" on type \"%.*s\".",
                      fql_pstr(s->name), fql_pstr(type->name));
        return -1;
    }

    if (s->args != NULL) {
        fql_error_add(c->v.errs, &s->args->loc, FQL_CODE_VALIDATION,
                      "Unknown argument \"%.*s\" on field \"%.*s.%.*s\".",
                      fql_pstr(s->args->name), fql_pstr(type->name),
                      fql_pstr(f->name));
        return -1;
    }

    pf->json_key = f->json_key;

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

    return pf->sub ? 0 : -1;
}


static fql_proj_t *
fql_project(fql_cctx_t *c, const fql_type_t *type, fql_cfield_t *fields,
    unsigned depth)
{
    unsigned       n, i;
    fql_proj_t    *p;
    fql_cfield_t  *cf;

    if (c->limits && c->limits->max_depth && depth > c->limits->max_depth) {
        fql_error_add(c->v.errs,
                      fields ? &fields->nodes->sel->loc : NULL,
                      FQL_CODE_VALIDATION,
                      "The query is nested deeper than %u levels.",
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

    for (i = 0, cf = fields; cf; cf = cf->next, i++) {
        if (fql_project_field(c, type, cf, &p->fields[i], depth) != 0) {
            return NULL;
        }
    }

    return p;
}


/* the text of a page size: checked, or the default (NULL: none) */
static int
fql_limit_text(fql_cctx_t *c, const fql_loc_t *loc, const fql_jval_t *a,
    const char **out)
{
    long         n;
    char        *p;
    unsigned     max, dflt;

    max = c->limits ? c->limits->max_limit : 0;
    dflt = c->limits ? c->limits->default_limit : 0;

    if (a != NULL && a->kind == FQL_J_NUMBER) {
        n = strtol(a->str.data, NULL, 10);

        if (n < 0) {
            fql_error_add(c->v.errs, loc, FQL_CODE_BAD_INPUT,
                          "\"limit\" must not be negative.");
            return -1;
        }

        if (max && n > (long) max) {
            fql_error_add(c->v.errs, loc, FQL_CODE_BAD_INPUT,
                          "\"limit\" is %ld, over the maximum of %u.",
                          n, max);
            return -1;
        }

    } else if (dflt || max) {
        n = (long) (dflt ? dflt : max);

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


static int
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
static int
fql_sql_limit(fql_cctx_t *c, const fql_selection_t *s, const fql_jval_t *a)
{
    const char  *p;

    if (fql_limit_text(c, &s->loc, a, &p) != 0) {
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

    fql_sql_lit(c, "::bigint");

    return 0;
}


/* a mutation's input as the function's JSON (snake_case keys) */
static int
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
static int
fql_input_slot(fql_cctx_t *c, const fql_jval_t *input, const fql_tref_t *type)
{
    if (fql_slot_from(c, input, FQL_SLOT_INPUT, FQL_SCALAR_JSON, 0) != 0) {
        return -1;
    }

    c->next_slot.type = type;

    return 0;
}


/* a root field's statement starts empty: its text, parameters, limits */
static void
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
static int
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


/*
 * A mutation field: one call of its SQL function with the input as
 * JSON, "SELECT to_jsonb(r) FROM schema.fn($1::jsonb) AS r", whose row
 * (a mutation_response or plain JSON) the Success or the Error
 * projection shapes (fql_mutation.c).
 */
static int
fql_compile_mutation(fql_cctx_t *c, const fql_field_t *f, fql_cfield_t *cf,
    fql_root_plan_t *rp)
{
    const char             *json;
    fql_jval_t             *args, *input;
    fql_cfield_t           *sub;
    const fql_selection_t  *s = cf->nodes->sel;

    rp->kind = FQL_RF_MUTATION;
    rp->non_null = f->type->kind == FQL_TYPE_NON_NULL;

    if (s->selections == NULL) {
        fql_error_add(c->v.errs, &s->loc, FQL_CODE_VALIDATION,
                      "Field \"%.*s\" of type \"%.*s\" must have a "
                      "selection of subfields.", fql_pstr(s->name),
                      fql_pstr(fql_tref_named(f->type)->name));
        return -1;
    }

    if (fql_coerce_arguments(&c->v, f->args, s->args, &f->name, s->loc,
                             &args) != 0)
    {
        return -1;
    }

    if (fql_collect_sub(c, f->success, cf, &sub) != 0
        || (rp->proj = fql_project(c, f->success, sub, 1)) == NULL
        || fql_collect_sub(c, f->failure, cf, &sub) != 0
        || (rp->proj_error = fql_project(c, f->failure, sub, 1)) == NULL)
    {
        return -1;
    }

    if (f->entity != NULL) {
        rp->entity_key = f->entity->json_key;
    }

    input = fql_jval_member(args, "input");

    if (input == NULL
        || fql_input_json(c, f->args->type, input, &json) != 0)
    {
        return input ? -1 : fql_error_nomem(c->v.errs);
    }

    fql_sql_begin(c);
    fql_sql_lit(c, "SELECT to_jsonb(r) FROM ");

    if (f->fn_schema.len) {
        fql_sql_quoted(c, f->fn_schema, '"');
        fql_sql_lit(c, ".");
    }

    fql_sql_quoted(c, f->fn_name, '"');
    fql_sql_lit(c, "(");

    if (fql_input_slot(c, input, f->args->type) != 0
        || fql_sql_param(c, json) != 0)
    {
        return -1;
    }

    fql_sql_lit(c, "::jsonb) AS r");

    return fql_sql_end(c, rp);
}


static int
fql_compile_root(fql_cctx_t *c, const fql_type_t *root, fql_cfield_t *cf,
    fql_root_plan_t *rp)
{
    int                     empty;
    fql_jval_t             *args, *a;
    fql_field_t            *f;
    fql_type_t             *t;
    fql_tref_t             *tr;
    fql_cfield_t           *sub;
    fql_scalar_t            sc;
    const fql_selection_t  *s;
    const char             *p;

    s = cf->nodes->sel;
    rp->response_key = cf->key;
    rp->loc = s->loc;

    if (fql_str_eqz(s->name, "__typename")
        || fql_str_eqz(s->name, "__schema") || fql_str_eqz(s->name, "__type"))
    {
        rp->kind = FQL_RF_STATIC;
        return fql_introspect_root(c, root, cf, &rp->value);
    }

    f = fql_type_field(root, s->name);
    if (f == NULL) {
        fql_error_add(c->v.errs, &s->loc, FQL_CODE_VALIDATION,
                      "Cannot query field \"%.*s\" on type \"%.*s\".",
                      fql_pstr(s->name), fql_pstr(root->name));
        return -1;
    }

    if (f->root == FQL_ROOT_FUNCTION) {
        return fql_compile_mutation(c, f, cf, rp);
    }

    tr = f->type;
    if (tr->kind == FQL_TYPE_NON_NULL) {
        rp->non_null = 1;
        tr = tr->of;
    }

    if (tr->kind == FQL_TYPE_LIST && tr->of->kind == FQL_TYPE_NON_NULL) {
        rp->items_non_null = 1;
    }

    t = fql_tref_named(tr);

    if (s->selections == NULL) {
        fql_error_add(c->v.errs, &s->loc, FQL_CODE_VALIDATION,
                      "Field \"%.*s\" of type \"%.*s\" must have a "
                      "selection of subfields. Did you mean \"%.*s { ... "
                      "}\"?", fql_pstr(s->name), fql_pstr(t->name),
                      fql_pstr(s->name));
        return -1;
    }

    if (fql_coerce_arguments(&c->v, f->args, s->args, &f->name, s->loc,
                             &args) != 0)
    {
        return -1;
    }

    if (fql_collect_sub(c, t, cf, &sub) != 0) {
        return -1;
    }

    rp->proj = fql_project(c, t, sub, 1);
    if (rp->proj == NULL) {
        return -1;
    }

    fql_sql_begin(c);
    fql_sql_from(c, t);

    if (f->root == FQL_ROOT_BY_ID) {
        rp->kind = FQL_RF_OBJECT;
        a = fql_jval_member(args, "id");

        sc = fql_tref_named(f->args->type)->scalar;

        if (fql_param_text(c, sc, a, &p) != 0
            || fql_slot_from(c, a, FQL_SLOT_TEXT, sc, 0) != 0)
        {
            return -1;
        }

        fql_sql_lit(c, " WHERE \"id\" = ");

        if (fql_sql_param(c, p) != 0) {
            return -1;
        }

    } else {
        rp->kind = FQL_RF_LIST;

        a = fql_jval_member(args, "where");
        if (a != NULL && a->kind == FQL_J_OBJECT) {
            size_t  mark = c->sql.len;

            fql_sql_lit(c, " WHERE ");

            if (fql_sql_where(c, t->where_input, a, &empty) != 0) {
                return -1;
            }

            if (empty) {
                fql_sql_cut(c, mark);
            }
        }

        a = fql_jval_member(args, "orderBy");
        if (a != NULL && a->kind == FQL_J_ARRAY
            && fql_sql_order_list(c, t->order_input, a) != 0)
        {
            return -1;
        }

        if (fql_sql_limit(c, s, fql_jval_member(args, "limit")) != 0) {
            return -1;
        }

        a = fql_jval_member(args, "offset");
        if (a != NULL && a->kind == FQL_J_NUMBER) {
            if (fql_offset_text(c, &s->loc, a, &p) != 0
                || fql_slot_from(c, a, FQL_SLOT_OFFSET, FQL_SCALAR_INT, 0)
                   != 0)
            {
                return -1;
            }

            fql_sql_lit(c, " OFFSET ");

            if (fql_sql_param(c, p) != 0) {
                return -1;
            }

            fql_sql_lit(c, "::bigint");
        }
    }

    rp->uses_vector = c->uses_vector;
    c->uses_vector = 0;

    return fql_sql_end(c, rp);
}


static int
fql_compile_doc(fql_arena_t *a, const fql_engine_t *eng,
    const fql_document_t *doc, const fql_request_t *req, fql_plan_t **plan,
    fql_errors_t *errs, int validated)
{
    unsigned                     n;
    fql_cctx_t                  *c;
    fql_plan_t                  *pl;
    fql_type_t                  *root;
    fql_cfield_t                *fields, *cf;
    fql_root_plan_t             *rp, **tail;
    const fql_schema_t          *schema = eng->schema;
    const fql_compile_limits_t  *limits = &eng->compile;

    c = fql_calloc(a, sizeof(fql_cctx_t));
    if (c == NULL) {
        return fql_error_nomem(errs);
    }

    c->v.arena = a;
    c->v.schema = schema;
    c->v.doc = doc;
    c->v.errs = errs;
    c->limits = limits;
    c->path_steps = FQL_PATH_STEPS;
    c->static_left = limits->max_static ? limits->max_static : (size_t) -1;

    if (!validated && fql_validate_document(&c->v) != 0) {
        return -1;
    }

    c->v.op = fql_select_operation(doc, req->operation_name, errs);
    if (c->v.op == NULL) {
        return -1;
    }

    switch (c->v.op->op) {

    case FQL_OP_QUERY:
        root = schema->query;
        break;

    case FQL_OP_MUTATION:
        if (schema->mutation != NULL) {
            root = schema->mutation;
            break;
        }

        /* fall through */

    default:
        /* valid, but nothing here can run it (yet) */
        fql_error_add(errs, &c->v.op->loc, FQL_CODE_NOT_SUPPORTED,
                      "Schema is not configured to execute %s operation.",
                      c->v.op->op == FQL_OP_MUTATION ? "mutation"
                                                     : "subscription");
        return -1;
    }

    if (fql_coerce_variables(&c->v, req->variables) != 0) {
        return -1;
    }

    if (fql_collect(c, root, c->v.op->selections, &fields) != 0) {
        return -1;
    }

    /* each root field may hold a connection and an answer of its own */
    n = 0;
    for (cf = fields; cf; cf = cf->next) {
        n++;
    }

    if (limits->max_root_fields && n > limits->max_root_fields) {
        fql_error_add(errs, &c->v.op->loc, FQL_CODE_LIMIT,
                      "The operation has %u root fields, more than %u "
                      "(fraiseql_max_root_fields).", n,
                      limits->max_root_fields);
        return -1;
    }

    pl = fql_calloc(a, sizeof(fql_plan_t));
    if (pl == NULL) {
        return fql_error_nomem(c->v.errs);
    }

    pl->op = c->v.op->op;
    tail = &pl->roots;

    for (cf = fields; cf; cf = cf->next) {
        rp = fql_calloc(a, sizeof(fql_root_plan_t));
        if (rp == NULL) {
            return fql_error_nomem(c->v.errs);
        }

        if (fql_compile_root(c, root, cf, rp) != 0) {
            /* keep validating the other fields to report every error */
            continue;
        }

        *tail = rp;
        tail = &rp->next;
        pl->nroots++;

        if (rp->kind != FQL_RF_STATIC) {
            pl->nqueries++;
        }
    }

    if (errs->count) {
        return -1;
    }

    pl->uncacheable = c->uncacheable;
    *plan = pl;

    return 0;
}


int
fql_compile(fql_arena_t *a, const fql_engine_t *eng,
    const fql_document_t *doc, const fql_request_t *req, fql_plan_t **plan,
    fql_errors_t *errs)
{
    return fql_compile_doc(a, eng, doc, req, plan, errs, 0);
}


int
fql_compile_validated(fql_arena_t *a, const fql_engine_t *eng,
    const fql_document_t *doc, const fql_request_t *req, fql_plan_t **plan,
    fql_errors_t *errs)
{
    return fql_compile_doc(a, eng, doc, req, plan, errs, 1);
}


/* a slot's value for the new variables */
static int
fql_bind_slot(fql_cctx_t *c, const fql_root_plan_t *rp, const fql_slot_t *sl,
    const fql_jval_t *vars, const char **out)
{
    unsigned           i, k;
    const fql_jval_t  *j;

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
        return fql_limit_text(c, &rp->loc, j, out);
    case FQL_SLOT_OFFSET:
        return fql_offset_text(c, &rp->loc, j, out);

    case FQL_SLOT_INPUT:
        return fql_input_json(c, sl->type, j, out);
    default:
        return fql_param_text(c, sl->sc, j, out);
    }
}


/* a projection tree, deep: its keys point into the schema or document */
static fql_proj_t *
fql_proj_copy(fql_arena_t *a, const fql_proj_t *src)
{
    unsigned     i;
    fql_proj_t  *p;

    if (src == NULL) {
        return NULL;
    }

    p = fql_alloc(a, sizeof(fql_proj_t));
    if (p == NULL) {
        return NULL;
    }

    *p = *src;
    p->fields = fql_alloc(a, (src->nfields ? src->nfields : 1)
                             * sizeof(fql_proj_field_t));
    if (p->fields == NULL) {
        return NULL;
    }

    for (i = 0; i < src->nfields; i++) {
        p->fields[i] = src->fields[i];

        if (src->fields[i].sub != NULL) {
            p->fields[i].sub = fql_proj_copy(a, src->fields[i].sub);
            if (p->fields[i].sub == NULL) {
                return NULL;
            }
        }
    }

    return p;
}


static fql_root_plan_t *
fql_root_copy(fql_arena_t *a, const fql_root_plan_t *src)
{
    unsigned          i;
    char             *v;
    fql_slot_t       *sl;
    unsigned short   *path;
    fql_root_plan_t  *rp;

    rp = fql_alloc(a, sizeof(fql_root_plan_t));
    if (rp == NULL) {
        return NULL;
    }

    *rp = *src;
    rp->next = NULL;

    if (src->value.data != NULL) {
        v = fql_strndup(a, src->value.data, src->value.len);
        if (v == NULL) {
            return NULL;
        }

        rp->value.data = v;
    }

    if (src->sql != NULL) {
        rp->sql = fql_strndup(a, src->sql, src->sql_len);
        if (rp->sql == NULL) {
            return NULL;
        }
    }

    if (src->nparams) {
        rp->params = fql_alloc(a, src->nparams * sizeof(char *));
        sl = fql_alloc(a, src->nparams * sizeof(fql_slot_t));
        if (rp->params == NULL || sl == NULL) {
            return NULL;
        }

        for (i = 0; i < src->nparams; i++) {
            /* a variable's value is bound per request: not kept */
            rp->params[i] = src->params[i] == NULL
                            || src->slots[i].kind != FQL_SLOT_LITERAL
                            ? NULL
                            : fql_strndup(a, src->params[i],
                                          strlen(src->params[i]));

            if (src->params[i] != NULL
                && src->slots[i].kind == FQL_SLOT_LITERAL
                && rp->params[i] == NULL)
            {
                return NULL;
            }

            sl[i] = src->slots[i];

            if (sl[i].npath) {
                path = fql_alloc(a, sl[i].npath * sizeof(unsigned short));
                if (path == NULL) {
                    return NULL;
                }

                memcpy(path, sl[i].path, sl[i].npath * sizeof(unsigned short));
                sl[i].path = path;
            }
        }

        rp->slots = sl;
    }

    if ((src->proj && (rp->proj = fql_proj_copy(a, src->proj)) == NULL)
        || (src->proj_error
            && (rp->proj_error = fql_proj_copy(a, src->proj_error)) == NULL))
    {
        return NULL;
    }

    return rp;
}


int
fql_plan_copy(fql_arena_t *a, const fql_plan_t *src, fql_plan_t **plan)
{
    fql_plan_t             *pl;
    fql_root_plan_t       **tail;
    const fql_root_plan_t  *rp;

    pl = fql_alloc(a, sizeof(fql_plan_t));
    if (pl == NULL) {
        return -1;
    }

    *pl = *src;
    tail = &pl->roots;

    for (rp = src->roots; rp; rp = rp->next) {
        *tail = fql_root_copy(a, rp);
        if (*tail == NULL) {
            return -1;
        }

        tail = &(*tail)->next;
    }

    *plan = pl;

    return 0;
}


int
fql_plan_bind(fql_arena_t *a, const fql_plan_t *tmpl, const fql_jval_t *vars,
    const fql_compile_limits_t *limits, fql_plan_t **plan, fql_errors_t *errs)
{
    unsigned                i;
    fql_cctx_t              c;
    fql_plan_t             *pl;
    const char            **params;
    fql_root_plan_t        *rp, **tail;
    const fql_root_plan_t  *t;

    memset(&c, 0, sizeof(c));
    c.v.arena = a;
    c.v.errs = errs;
    c.limits = limits;

    pl = fql_alloc(a, sizeof(fql_plan_t));
    if (pl == NULL) {
        return fql_error_nomem(c.v.errs);
    }

    *pl = *tmpl;
    tail = &pl->roots;

    for (t = tmpl->roots; t; t = t->next) {
        rp = fql_alloc(a, sizeof(fql_root_plan_t));
        if (rp == NULL) {
            return fql_error_nomem(c.v.errs);
        }

        *rp = *t;

        for (i = 0; i < t->nparams; i++) {
            if (t->slots[i].kind != FQL_SLOT_LITERAL) {
                break;
            }
        }

        /* literals only: the template's parameters serve as they are */
        if (i < t->nparams) {
            params = fql_alloc(a, t->nparams * sizeof(char *));
            if (params == NULL) {
                return fql_error_nomem(c.v.errs);
            }

            for (i = 0; i < t->nparams; i++) {
                if (t->slots[i].kind == FQL_SLOT_LITERAL) {
                    params[i] = t->params[i];

                } else if (fql_bind_slot(&c, t, &t->slots[i], vars,
                                         &params[i]) != 0)
                {
                    return -1;
                }
            }

            rp->params = params;
        }

        *tail = rp;
        tail = &rp->next;
    }

    *tail = NULL;
    *plan = pl;

    return 0;
}
