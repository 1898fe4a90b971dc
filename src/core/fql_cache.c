#include <stdio.h>
#include <stdlib.h>

#include "fql_cache.h"
#include "fql_validate.h"


/* plans per document: more shapes than this are compiled each time */
#define FQL_CACHE_VARIANTS  16


typedef struct fql_variant_s  fql_variant_t;

struct fql_variant_s {
    unsigned          dead:1;     /* out of memory: never matches */
    /* an introspection answer under authorization rules: its caller's */
    unsigned          per_caller:1;
    fql_caller_t      who;
    fql_str_t         opname;
    fql_str_t         shape;
    fql_arena_t      *arena;      /* the plan's own memory */
    fql_plan_t       *plan;       /* NULL: compiled each time */
    fql_variant_t    *next;
};

struct fql_cache_entry_s {
    uint64_t                  hash;
    const fql_schema_t       *schema;
    fql_compile_limits_t      limits;
    char                     *text;       /* normalised document */
    size_t                    len;
    /* the text as first sent: clients resend it byte for byte */
    uint64_t                  raw_hash;
    char                     *raw;
    size_t                    raw_len;
    fql_cache_entry_t        *rnext;
    fql_arena_t              *arena;      /* the document's AST */
    fql_document_t           *doc;
    fql_variant_t            *variants;
    unsigned                  nvariants;
    unsigned                  refs;       /* the cache's and requests' */
    size_t                    bytes;      /* its arenas' */
    fql_cache_t              *cache;      /* NULL: evicted or never kept */
    fql_cache_entry_t        *hnext;      /* hash chain */
    fql_cache_entry_t        *prev;       /* LRU list, most recent first */
    fql_cache_entry_t        *next;
};

struct fql_cache_s {
    unsigned             max;
    size_t               max_bytes;
    unsigned             count;
    unsigned             nbuckets;    /* a power of two */
    fql_cache_entry_t  **buckets;     /* by normal form */
    fql_cache_entry_t  **raw_buckets;  /* by text as sent */
    fql_cache_entry_t   *head;
    fql_cache_entry_t   *tail;
    fql_cache_stats_t    stats;
};


/* ---- normalisation ---- */


static int
fql_word_char(unsigned char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z')
           || (c >= '0' && c <= '9') || c == '_' || c == '.' || c == '-'
           || c == '+' || c >= 0x80;
}


/*
 * Drops what the lexer ignores: white space, commas, comments.  A space
 * stays between two word characters it separated; strings are copied as
 * they are.  Two documents with the same normal form have the same
 * tokens; the converse need not hold (a miss, never a wrong plan).
 */
size_t
fql_normalize(const char *q, size_t len, char *out)
{
    size_t         i, o;
    int            space;
    unsigned char  c;

    o = 0;
    space = 0;

    for (i = 0; i < len; /* void */ ) {
        c = q[i];

        if (c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == ',') {
            space = 1;
            i++;
            continue;
        }

        if (c == '#') {
            while (i < len && q[i] != '\n' && q[i] != '\r') {
                i++;
            }
            space = 1;
            continue;
        }

        if (space && o && fql_word_char(out[o - 1]) && fql_word_char(c)) {
            out[o++] = ' ';
        }

        space = 0;

        if (c != '"') {
            out[o++] = c;
            i++;
            continue;
        }

        if (i + 2 < len && q[i + 1] == '"' && q[i + 2] == '"') {
            /* block string: up to """ that is not \""" */
            memcpy(out + o, q + i, 3);
            o += 3;
            i += 3;

            while (i < len) {
                if (q[i] == '\\' && i + 3 < len && q[i + 1] == '"'
                    && q[i + 2] == '"' && q[i + 3] == '"')
                {
                    memcpy(out + o, q + i, 4);
                    o += 4;
                    i += 4;
                    continue;
                }

                if (q[i] == '"' && i + 2 < len && q[i + 1] == '"'
                    && q[i + 2] == '"')
                {
                    memcpy(out + o, q + i, 3);
                    o += 3;
                    i += 3;
                    break;
                }

                out[o++] = q[i++];
            }

            continue;
        }

        /* string: up to an unescaped " (or the end of the line) */
        out[o++] = q[i++];

        while (i < len) {
            c = q[i];

            if (c == '\\' && i + 1 < len) {
                out[o++] = q[i++];
                out[o++] = q[i++];
                continue;
            }

            out[o++] = q[i++];

            if (c == '"' || c == '\n' || c == '\r') {
                break;
            }
        }
    }

    return o;
}


/* ---- the shape of the variables ---- */


typedef struct {
    fql_arena_t  *arena;
    char         *data;
    size_t        len;
    size_t        cap;
} fql_sbuf_t;


static int
fql_sbuf_put(fql_sbuf_t *b, const char *s, size_t n)
{
    char    *p;
    size_t   cap;

    if (b->len + n > b->cap) {
        cap = b->cap ? b->cap * 2 : 64;
        while (cap < b->len + n) {
            cap *= 2;
        }

        p = fql_alloc(b->arena, cap);
        if (p == NULL) {
            return -1;
        }

        if (b->len) {
            memcpy(p, b->data, b->len);
        }

        b->data = p;
        b->cap = cap;
    }

    memcpy(b->data + b->len, s, n);
    b->len += n;

    return 0;
}


/*
 * A type reference as a string of wrappers, outside in: '!' non-null,
 * 'L' list; the named type apart.
 */
typedef struct {
    char         wrap[16];
    fql_type_t  *named;
} fql_wtype_t;


static int
fql_wtype_tref(const fql_tref_t *t, fql_wtype_t *w)
{
    unsigned  n = 0;

    for ( /* void */ ; t->kind != FQL_TYPE_NAMED; t = t->of) {
        if (n == sizeof(w->wrap) - 1) {
            return -1;
        }
        w->wrap[n++] = t->kind == FQL_TYPE_LIST ? 'L' : '!';
    }

    w->wrap[n] = '\0';
    w->named = t->type;

    return 0;
}


static int
fql_wtype_ast(const fql_schema_t *s, const fql_type_ref_t *t, fql_wtype_t *w)
{
    unsigned  n = 0;

    for ( /* void */ ; t->kind != FQL_TYPE_NAMED; t = t->of) {
        if (n == sizeof(w->wrap) - 1) {
            return -1;
        }
        w->wrap[n++] = t->kind == FQL_TYPE_LIST ? 'L' : '!';
    }

    w->wrap[n] = '\0';
    w->named = fql_schema_type(s, t->name);

    return w->named ? 0 : -1;
}


static int fql_shape(fql_sbuf_t *b, const fql_type_t *named,
    const char *wrap, const fql_jval_t *j);


static int
fql_shape_input(fql_sbuf_t *b, const fql_type_t *t, const fql_jval_t *j)
{
    fql_arg_t         *f;
    fql_wtype_t        w;
    const fql_jval_t  *m;

    if (fql_sbuf_put(b, "{", 1) != 0) {
        return -1;
    }

    for (m = j->items; m; m = m->next) {
        f = fql_arg_find(t->input_fields, m->key);

        if (f == NULL || fql_wtype_tref(f->type, &w) != 0
            || fql_sbuf_put(b, m->key.data, m->key.len) != 0
            || fql_sbuf_put(b, ":", 1) != 0
            || fql_shape(b, w.named, w.wrap, m) != 0)
        {
            return -1;
        }
    }

    return fql_sbuf_put(b, "}", 1);
}


/*
 * What of a value decides the SQL: structure, null or not, enum and
 * Boolean values.  Strings and numbers are parameters; so are lists of
 * them, whatever their length.
 */
static int
fql_shape(fql_sbuf_t *b, const fql_type_t *named, const char *wrap,
    const fql_jval_t *j)
{
    const char        *w;
    const fql_jval_t  *it;

    if (j->kind == FQL_J_NULL) {
        return fql_sbuf_put(b, "n", 1);
    }

    if (*wrap == '!') {
        return fql_shape(b, named, wrap + 1, j);
    }

    if (*wrap == 'L') {
        for (w = wrap + 1; *w == '!'; w++) { /* void */ }

        if (*w == '\0' && named->kind == FQL_T_SCALAR
            && named->scalar != FQL_SCALAR_BOOLEAN)
        {
            return fql_sbuf_put(b, "L", 1);
        }

        if (fql_sbuf_put(b, "[", 1) != 0) {
            return -1;
        }

        for (it = j->kind == FQL_J_ARRAY ? j->items : j; it; it = it->next) {
            if (fql_shape(b, named, wrap + 1, it) != 0
                || fql_sbuf_put(b, ",", 1) != 0)
            {
                return -1;
            }

            if (j->kind != FQL_J_ARRAY) {
                break;
            }
        }

        return fql_sbuf_put(b, "]", 1);
    }

    switch (named->kind) {

    case FQL_T_INPUT:
        return j->kind == FQL_J_OBJECT ? fql_shape_input(b, named, j) : -1;

    case FQL_T_ENUM:
        return fql_sbuf_put(b, "e", 1) != 0
               || fql_sbuf_put(b, j->str.data, j->str.len) != 0
               || fql_sbuf_put(b, ";", 1) != 0 ? -1 : 0;

    default:
        if (named->scalar == FQL_SCALAR_BOOLEAN) {
            return fql_sbuf_put(b, j->boolean ? "t" : "f", 1);
        }

        return fql_sbuf_put(b, "s", 1);
    }
}


static int
fql_vars_shape(fql_vctx_t *v, fql_str_t *out)
{
    unsigned             i;
    fql_sbuf_t           b;
    fql_wtype_t          w;
    const fql_jval_t    *j;
    fql_variable_def_t  *d;

    memset(&b, 0, sizeof(b));
    b.arena = v->arena;

    for (i = 0, d = v->op->variables; d; d = d->next, i++) {
        j = v->var_vals ? v->var_vals[i] : NULL;

        if (j == NULL) {
            if (fql_sbuf_put(&b, "a", 1) != 0) {
                return -1;
            }
            continue;
        }

        if (fql_wtype_ast(v->schema, d->type, &w) != 0
            || fql_shape(&b, w.named, w.wrap, j) != 0
            || fql_sbuf_put(&b, "|", 1) != 0)
        {
            return -1;
        }
    }

    out->data = b.data ? b.data : "";
    out->len = b.len;

    return 0;
}


/* ---- the cache ---- */


fql_cache_t *
fql_cache_create(unsigned max, size_t max_bytes)
{
    fql_cache_t  *c;

    c = calloc(1, sizeof(fql_cache_t));
    if (c == NULL) {
        return NULL;
    }

    c->max = max;
    c->max_bytes = max_bytes;
    c->nbuckets = 16;

    while (c->nbuckets < max * 2 && c->nbuckets < (1u << 24)) {
        c->nbuckets *= 2;
    }

    c->buckets = calloc(c->nbuckets, sizeof(fql_cache_entry_t *));
    c->raw_buckets = calloc(c->nbuckets, sizeof(fql_cache_entry_t *));

    if (c->buckets == NULL || c->raw_buckets == NULL) {
        free(c->buckets);
        free(c->raw_buckets);
        free(c);
        return NULL;
    }

    return c;
}


static void
fql_entry_free(fql_cache_entry_t *e)
{
    fql_variant_t  *v, *next;

    /* a variant lives in its own arena */
    for (v = e->variants; v; v = next) {
        next = v->next;
        fql_arena_heap_destroy(v->arena);
    }

    fql_arena_heap_destroy(e->arena);
}


void
fql_cache_destroy(fql_cache_t *c)
{
    fql_cache_entry_t  *e, *next;

    if (c == NULL) {
        return;
    }

    for (e = c->head; e; e = next) {
        next = e->next;
        fql_entry_free(e);
    }

    free(c->buckets);
    free(c->raw_buckets);
    free(c);
}


static void
fql_lru_remove(fql_cache_t *c, fql_cache_entry_t *e)
{
    if (e->prev) {
        e->prev->next = e->next;
    } else {
        c->head = e->next;
    }

    if (e->next) {
        e->next->prev = e->prev;
    } else {
        c->tail = e->prev;
    }

    e->prev = e->next = NULL;
}


static void
fql_lru_push_front(fql_cache_t *c, fql_cache_entry_t *e)
{
    e->prev = NULL;
    e->next = c->head;

    if (c->head) {
        c->head->prev = e;
    } else {
        c->tail = e;
    }

    c->head = e;
}


static void
fql_cache_unlink(fql_cache_t *c, fql_cache_entry_t *e)
{
    fql_cache_entry_t  **pp;

    for (pp = &c->buckets[e->hash & (c->nbuckets - 1)]; *pp;
         pp = &(*pp)->hnext)
    {
        if (*pp == e) {
            *pp = e->hnext;
            break;
        }
    }

    for (pp = &c->raw_buckets[e->raw_hash & (c->nbuckets - 1)]; *pp;
         pp = &(*pp)->rnext)
    {
        if (*pp == e) {
            *pp = e->rnext;
            break;
        }
    }

    fql_lru_remove(c, e);
    c->count--;
    c->stats.plans -= e->nvariants;
    c->stats.bytes -= e->bytes;
}


void
fql_cache_release(fql_cache_entry_t *e)
{
    if (e != NULL && --e->refs == 0) {
        fql_entry_free(e);
    }
}


static void
fql_cache_drop(fql_cache_t *c, fql_cache_entry_t *e)
{
    fql_cache_unlink(c, e);
    e->cache = NULL;

    /* the cache's reference; requests running its plans keep theirs */
    fql_cache_release(e);
}


static void
fql_cache_evict(fql_cache_t *c)
{
    c->stats.evictions++;
    fql_cache_drop(c, c->tail);
}


/*
 * Keeps the cache within its bytes after entry e (held by the request)
 * grew to e->bytes: e is let go when it takes more than its share, else
 * the least recently used others go.
 */
static void
fql_cache_fit(fql_cache_t *c, fql_cache_entry_t *e)
{
    if (c->max_bytes && e->bytes > c->max_bytes / FQL_CACHE_SHARE) {
        c->stats.too_large++;
        fql_cache_drop(c, e);
        return;
    }

    while (c->max_bytes && c->stats.bytes > c->max_bytes && c->tail != e) {
        fql_cache_evict(c);
    }
}


void
fql_cache_get_stats(const fql_cache_t *c, fql_cache_stats_t *st)
{
    *st = c->stats;
    st->entries = c->count;
}


static fql_cache_entry_t *
fql_cache_find_raw(fql_cache_t *c, uint64_t hash, const fql_schema_t *schema,
    const fql_compile_limits_t *limits, fql_str_t q)
{
    fql_cache_entry_t  *e;

    for (e = c->raw_buckets[hash & (c->nbuckets - 1)]; e; e = e->rnext) {
        if (e->raw_hash == hash && e->schema == schema && e->raw_len == q.len
            && memcmp(&e->limits, limits, sizeof(fql_compile_limits_t)) == 0
            && memcmp(e->raw, q.data, q.len) == 0)
        {
            return e;
        }
    }

    return NULL;
}


static fql_cache_entry_t *
fql_cache_find(fql_cache_t *c, uint64_t hash, const fql_schema_t *schema,
    const fql_compile_limits_t *limits, const char *text, size_t len)
{
    fql_cache_entry_t  *e;

    for (e = c->buckets[hash & (c->nbuckets - 1)]; e; e = e->hnext) {
        if (e->hash == hash && e->schema == schema && e->len == len
            && memcmp(&e->limits, limits, sizeof(fql_compile_limits_t)) == 0
            && memcmp(e->text, text, len) == 0)
        {
            return e;
        }
    }

    return NULL;
}


/* what a document is found by: its bytes, then its normal form */
typedef struct {
    uint64_t       raw_hash;
    uint64_t       hash;
    const char    *text;       /* normalised */
    size_t         len;
} fql_cache_key_t;


/* a validated document in its own arena, held by the cache */
static fql_cache_entry_t *
fql_cache_add(fql_cache_t *c, fql_arena_t *ta, const fql_engine_t *eng,
    const fql_request_t *req, const fql_cache_key_t *key, fql_errors_t *errs,
    fql_cache_result_t *res)
{
    fql_arena_t             *a;
    fql_vctx_t               v;
    fql_document_t          *doc;
    char                    *src;
    fql_errors_t             tmp;
    fql_parse_error_t        perr;
    fql_cache_entry_t       *e;
    const fql_definition_t  *op;

    a = fql_arena_heap_create();
    if (a == NULL) {
        fql_error_nomem(errs);
        return NULL;
    }

    /* the AST points into its source: the source must live as long */
    src = fql_strndup(a, req->query.data, req->query.len);

    if (src == NULL
        || fql_parse_document(a, src, req->query.len, &eng->parse, &doc,
                              &perr) != 0)
    {
        if (src == NULL) {
            fql_error_nomem(errs);

        } else {
            fql_error_add(errs, perr.loc.line ? &perr.loc : NULL,
                          perr.limit ? FQL_CODE_LIMIT : FQL_CODE_PARSE,
                          "%s%s", perr.message, perr.limit
                          ? " (fraiseql_max_tokens)" : "");
            res->parse_failed = 1;
        }

        fql_arena_heap_destroy(a);
        return NULL;
    }

    /* the operation's type decides the status of GET requests */
    fql_errors_init(&tmp, ta);
    op = fql_select_operation(doc, req->operation_name, &tmp);
    res->op = op ? (int) op->op : -1;

    /* the rules run once per document; errors go to the request */
    memset(&v, 0, sizeof(v));
    v.arena = ta;
    v.schema = eng->schema;
    v.doc = doc;
    v.errs = errs;

    e = fql_calloc(a, sizeof(fql_cache_entry_t));

    if (e == NULL || fql_validate_document(&v) != 0) {
        if (e == NULL) {
            fql_error_nomem(errs);
        }

        /* an invalid document is answered, not kept */
        fql_arena_heap_destroy(a);
        return NULL;
    }

    e->text = fql_alloc(a, key->len ? key->len : 1);
    if (e->text == NULL || src == NULL) {
        fql_error_nomem(errs);
        fql_arena_heap_destroy(a);
        return NULL;
    }

    memcpy(e->text, key->text, key->len);
    e->len = key->len;
    e->hash = key->hash;
    e->raw = src;
    e->raw_len = req->query.len;
    e->raw_hash = key->raw_hash;
    e->schema = eng->schema;
    e->limits = eng->compile;
    e->arena = a;
    e->doc = doc;
    e->refs = 1;
    e->cache = c;
    e->bytes = fql_arena_heap_size(a);

    if (c->count == c->max) {
        fql_cache_evict(c);
    }

    e->hnext = c->buckets[e->hash & (c->nbuckets - 1)];
    c->buckets[e->hash & (c->nbuckets - 1)] = e;
    e->rnext = c->raw_buckets[e->raw_hash & (c->nbuckets - 1)];
    c->raw_buckets[e->raw_hash & (c->nbuckets - 1)] = e;
    fql_lru_push_front(c, e);
    c->count++;
    c->stats.bytes += e->bytes;

    return e;
}


static int
fql_plan_uncached(fql_arena_t *a, const fql_engine_t *eng,
    const fql_request_t *req, fql_plan_t **plan, fql_errors_t *errs,
    fql_cache_result_t *res)
{
    fql_document_t          *doc;
    fql_parse_error_t        perr;
    const fql_definition_t  *op;
    fql_errors_t             tmp;

    if (fql_parse_document(a, req->query.data, req->query.len, &eng->parse,
                           &doc, &perr) != 0)
    {
        fql_error_add(errs, perr.loc.line ? &perr.loc : NULL,
                      perr.limit ? FQL_CODE_LIMIT : FQL_CODE_PARSE,
                      "%s%s", perr.message, perr.limit
                      ? " (fraiseql_max_tokens)" : "");
        res->parse_failed = 1;
        return -1;
    }

    fql_errors_init(&tmp, a);
    op = fql_select_operation(doc, req->operation_name, &tmp);
    res->op = op ? (int) op->op : -1;

    return fql_compile(a, eng, doc, req, plan, errs);
}


/*
 * A plan compiled for a shape of variables the entry had not seen: the
 * entry keeps a compact copy of it as a variant, or remembers that the
 * shape does not cache.
 */
static void
fql_cache_learn(fql_cache_t *c, fql_cache_entry_t *e, fql_str_t opname,
    fql_str_t shape, const fql_plan_t *plan, const fql_caller_t *who)
{
    size_t          bytes;
    fql_arena_t    *va;
    fql_variant_t  *var;

    va = fql_arena_heap_create();
    var = va ? fql_calloc(va, sizeof(fql_variant_t)) : NULL;

    if (var == NULL) {
        /* this request has its plan; the cache learns nothing */
        fql_arena_heap_destroy(va);
        return;
    }

    var->arena = va;
    var->opname.data = fql_strndup(va, opname.data ? opname.data : "",
                                   opname.len);
    var->opname.len = opname.len;
    var->shape.data = fql_strndup(va, shape.data, shape.len);
    var->shape.len = shape.len;

    /* without its key the variant never matches */
    var->dead = var->opname.data == NULL || var->shape.data == NULL;

    /* NULL: compiled each time (its values shape more than parameters) */
    var->plan = NULL;

    var->per_caller = plan->per_caller;
    if (who != NULL) {
        var->who = *who;
    }

    if (!var->dead && !plan->uncacheable
        && fql_plan_copy(va, plan, &var->plan) != 0)
    {
        var->dead = 1;
        var->plan = NULL;
    }

    var->next = e->variants;
    e->variants = var;
    e->nvariants++;

    bytes = fql_arena_heap_size(var->arena);
    e->bytes += bytes;

    /* an entry no longer kept (too large) is its request's alone */
    if (e->cache != NULL) {
        c->stats.plans++;
        c->stats.bytes += bytes;
        fql_cache_fit(c, e);
    }
}


int
fql_cache_plan(fql_cache_t *c, fql_arena_t *a, const fql_engine_t *eng,
    const fql_request_t *req, fql_plan_t **plan, fql_errors_t *errs,
    fql_cache_result_t *res)
{
    char                        *text;
    fql_str_t                    shape, query, opname;
    fql_vctx_t                   v;
    fql_variant_t               *var;
    fql_caller_t                 who;
    fql_cache_key_t              key;
    fql_cache_entry_t           *e;
    const fql_compile_limits_t  *limits = &eng->compile;

    memset(res, 0, sizeof(fql_cache_result_t));
    res->op = -1;

    if (c == NULL || c->max == 0) {
        return fql_plan_uncached(a, eng, req, plan, errs, res);
    }

    res->cached = 1;
    query = req->query;
    opname = req->operation_name;

    /* the same bytes again (the common case), else the same tokens */
    key.raw_hash = fql_hash(query.data, query.len);
    e = fql_cache_find_raw(c, key.raw_hash, eng->schema, limits, query);

    if (e == NULL) {
        text = fql_alloc(a, query.len ? query.len : 1);
        if (text == NULL) {
            return fql_error_nomem(errs);
        }

        key.len = fql_normalize(query.data, query.len, text);
        key.hash = fql_hash(text, key.len);
        key.text = text;

        e = fql_cache_find(c, key.hash, eng->schema, limits, text, key.len);
    }

    if (e == NULL) {
        e = fql_cache_add(c, a, eng, req, &key, errs, res);
        if (e == NULL) {
            c->stats.misses++;
            return -1;
        }

    } else if (e != c->head) {
        fql_lru_remove(c, e);
        fql_lru_push_front(c, e);
    }

    /* the request holds the entry until its plan is done with */
    e->refs++;
    res->entry = e;

    if (e->cache != NULL) {
        fql_cache_fit(c, e);
    }

    memset(&v, 0, sizeof(v));
    v.arena = a;
    v.schema = eng->schema;
    v.doc = e->doc;
    v.errs = errs;

    v.op = fql_select_operation(e->doc, opname, errs);
    if (v.op == NULL) {
        return -1;
    }

    res->op = (int) v.op->op;

    if (fql_coerce_variables(&v, req->variables) != 0
        || fql_vars_shape(&v, &shape) != 0)
    {
        if (errs->count == 0) {
            fql_error_nomem(errs);
        }
        return -1;
    }

    if (req->caller != NULL) {
        who = *req->caller;
    } else {
        memset(&who, 0, sizeof(who));
    }

    for (var = e->variants; var; var = var->next) {
        if (!var->dead && fql_str_eq(var->opname, opname)
            && fql_str_eq(var->shape, shape)
            && (!var->per_caller
                || (var->who.roles == who.roles
                    && var->who.perms == who.perms
                    && var->who.scopes == who.scopes
                    && var->who.authenticated == who.authenticated)))
        {
            break;
        }
    }

    if (var != NULL && var->plan != NULL) {
        c->stats.hits++;
        res->hit = 1;

        return fql_plan_bind(a, var->plan, v.vars, req, limits, plan, errs);
    }

    c->stats.misses++;

    if (var != NULL || e->nvariants == FQL_CACHE_VARIANTS) {
        /* known not to cache, or enough shapes: compile for this one */
        return fql_compile_validated(a, eng, e->doc, req, plan, errs);
    }

    /* compiled in the request's memory: the cache keeps a compact copy */
    if (fql_compile_validated(a, eng, e->doc, req, plan, errs) != 0)
    {
        /* errors that depend on the values: nothing to keep */
        return -1;
    }

    fql_cache_learn(c, e, opname, shape, *plan, &who);

    return 0;
}
