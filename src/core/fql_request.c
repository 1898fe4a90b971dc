#include <string.h>
#include <strings.h>

#include <yajl/yajl_parse.h>

#include "fql_request.h"


/* the yajl callbacks build the tree on an explicit stack of open values */
typedef struct {
    fql_arena_t   *arena;
    fql_jval_t    *root;
    fql_jval_t    *stack[FQL_JSON_MAX_DEPTH];
    fql_jval_t   **tails[FQL_JSON_MAX_DEPTH];
    unsigned       depth;
    fql_str_t      key;
    int            too_deep;
    int            nomem;
} fql_jparse_t;


static fql_jval_t *
fql_jparse_add(fql_jparse_t *p, fql_jkind_t kind)
{
    fql_jval_t  *v, *parent;

    v = fql_calloc(p->arena, sizeof(fql_jval_t));
    if (v == NULL) {
        p->nomem = 1;
        return NULL;
    }

    v->kind = kind;

    if (p->depth == 0) {
        p->root = v;
        return v;
    }

    parent = p->stack[p->depth - 1];

    if (parent->kind == FQL_J_OBJECT) {
        v->key = p->key;
    }

    *p->tails[p->depth - 1] = v;
    p->tails[p->depth - 1] = &v->next;
    parent->count++;

    return v;
}


static int
fql_jparse_open(fql_jparse_t *p, fql_jkind_t kind)
{
    fql_jval_t  *v;

    if (p->depth == FQL_JSON_MAX_DEPTH) {
        p->too_deep = 1;
        return 0;
    }

    v = fql_jparse_add(p, kind);
    if (v == NULL) {
        return 0;
    }

    p->stack[p->depth] = v;
    p->tails[p->depth] = &v->items;
    p->depth++;

    return 1;
}


static int
fql_jparse_close(void *ctx)
{
    fql_jparse_t  *p = ctx;

    p->depth--;
    return 1;
}


static int
fql_jparse_null(void *ctx)
{
    return fql_jparse_add(ctx, FQL_J_NULL) != NULL;
}


static int
fql_jparse_bool(void *ctx, int b)
{
    fql_jval_t  *v;

    v = fql_jparse_add(ctx, FQL_J_BOOL);
    if (v == NULL) {
        return 0;
    }

    v->boolean = b;
    return 1;
}


/* numbers keep their lexeme, strings their decoded text, NUL-ended */
static int
fql_jparse_text(fql_jparse_t *p, fql_jkind_t kind, const char *s, size_t len)
{
    fql_jval_t  *v;

    v = fql_jparse_add(p, kind);
    if (v == NULL) {
        return 0;
    }

    v->str.data = fql_strndup(p->arena, s, len);
    v->str.len = len;

    if (v->str.data == NULL) {
        p->nomem = 1;
        return 0;
    }

    return 1;
}


static int
fql_jparse_number(void *ctx, const char *s, size_t len)
{
    return fql_jparse_text(ctx, FQL_J_NUMBER, s, len);
}


static int
fql_jparse_string(void *ctx, const unsigned char *s, size_t len)
{
    return fql_jparse_text(ctx, FQL_J_STRING, (const char *) s, len);
}


static int
fql_jparse_start_map(void *ctx)
{
    return fql_jparse_open(ctx, FQL_J_OBJECT);
}


static int
fql_jparse_map_key(void *ctx, const unsigned char *s, size_t len)
{
    fql_jparse_t  *p = ctx;

    p->key.data = fql_strndup(p->arena, (const char *) s, len);
    p->key.len = len;

    if (p->key.data == NULL) {
        p->nomem = 1;
        return 0;
    }

    return 1;
}


static int
fql_jparse_start_array(void *ctx)
{
    return fql_jparse_open(ctx, FQL_J_ARRAY);
}


static const yajl_callbacks  fql_jparse_callbacks = {
    fql_jparse_null,
    fql_jparse_bool,
    NULL,
    NULL,
    fql_jparse_number,
    fql_jparse_string,
    fql_jparse_start_map,
    fql_jparse_map_key,
    fql_jparse_close,
    fql_jparse_start_array,
    fql_jparse_close
};


/*
 * yajl allocates from the request's arena: its handle, lexer and buffers
 * go with the request, and a request costs no malloc/free pairs.  Each
 * block keeps its size in front of it, for realloc.
 */
static void *
fql_yajl_malloc(void *ctx, size_t size)
{
    size_t  *p;

    p = fql_alloc(ctx, sizeof(size_t) + size);
    if (p == NULL) {
        return NULL;
    }

    *p = size;

    return p + 1;
}


static void *
fql_yajl_realloc(void *ctx, void *ptr, size_t size)
{
    size_t   old;
    void    *p;

    if (ptr == NULL) {
        return fql_yajl_malloc(ctx, size);
    }

    old = ((size_t *) ptr)[-1];
    if (size <= old) {
        return ptr;
    }

    p = fql_yajl_malloc(ctx, size);
    if (p != NULL) {
        memcpy(p, ptr, old);
    }

    return p;
}


static void
fql_yajl_free(void *ctx, void *ptr)
{
    (void) ctx;
    (void) ptr;
}


fql_jval_t *
fql_json_parse(fql_arena_t *a, const char *text, size_t len,
    fql_errors_t *errs)
{
    yajl_handle        h;
    yajl_status        st;
    fql_jparse_t      *p;
    unsigned char     *msg;
    yajl_alloc_funcs   funcs;

    /* the stacks are written before they are read: not cleared */
    p = fql_alloc(a, sizeof(fql_jparse_t));
    if (p == NULL) {
        return NULL;
    }

    p->arena = a;
    p->root = NULL;
    p->depth = 0;
    p->key.data = NULL;
    p->key.len = 0;
    p->too_deep = 0;
    p->nomem = 0;

    funcs.malloc = fql_yajl_malloc;
    funcs.realloc = fql_yajl_realloc;
    funcs.free = fql_yajl_free;
    funcs.ctx = a;

    h = yajl_alloc(&fql_jparse_callbacks, &funcs, p);
    if (h == NULL) {
        return NULL;
    }

    st = yajl_parse(h, (const unsigned char *) text, len);
    if (st == yajl_status_ok) {
        st = yajl_complete_parse(h);
    }

    if (st != yajl_status_ok || p->root == NULL) {
        if (p->too_deep) {
            fql_error_add(errs, NULL, FQL_CODE_BAD_REQUEST,
                          "JSON nested deeper than %d levels",
                          FQL_JSON_MAX_DEPTH);

        } else if (p->nomem) {
            fql_error_add(errs, NULL, FQL_CODE_INTERNAL, "Out of memory");

        } else {
            msg = yajl_get_error(h, 0, (const unsigned char *) text, len);
            fql_error_add(errs, NULL, FQL_CODE_BAD_REQUEST,
                          "Invalid JSON: %s",
                          msg ? (char *) msg : "parse error");
            if (msg) {
                yajl_free_error(h, msg);
            }
        }

        yajl_free(h);
        return NULL;
    }

    yajl_free(h);

    return p->root;
}


fql_jval_t *
fql_jval_member(const fql_jval_t *obj, const char *name)
{
    fql_jval_t  *v;

    if (obj == NULL || obj->kind != FQL_J_OBJECT) {
        return NULL;
    }

    for (v = obj->items; v; v = v->next) {
        if (fql_str_eqz(v->key, name)) {
            return v;
        }
    }

    return NULL;
}


static int
fql_request_fill(fql_jval_t *q, fql_jval_t *op, fql_jval_t *vars,
    fql_jval_t *ext, fql_request_t *req, fql_errors_t *errs)
{
    if (q == NULL || q->kind == FQL_J_NULL) {
        fql_error_add(errs, NULL, FQL_CODE_BAD_REQUEST,
                      "Missing query: the request has no \"query\"");
        return -1;
    }

    if (q->kind != FQL_J_STRING) {
        fql_error_add(errs, NULL, FQL_CODE_BAD_REQUEST,
                      "\"query\" must be a string");
        return -1;
    }

    req->query = q->str;

    if (op != NULL && op->kind != FQL_J_NULL) {
        if (op->kind != FQL_J_STRING) {
            fql_error_add(errs, NULL, FQL_CODE_BAD_REQUEST,
                          "\"operationName\" must be a string");
            return -1;
        }

        req->operation_name = op->str;
    }

    if (vars != NULL && vars->kind != FQL_J_NULL) {
        if (vars->kind != FQL_J_OBJECT) {
            fql_error_add(errs, NULL, FQL_CODE_BAD_REQUEST,
                          "\"variables\" must be an object");
            return -1;
        }

        req->variables = vars;
    }

    if (ext != NULL && ext->kind != FQL_J_NULL) {
        if (ext->kind != FQL_J_OBJECT) {
            fql_error_add(errs, NULL, FQL_CODE_BAD_REQUEST,
                          "\"extensions\" must be an object");
            return -1;
        }

        req->extensions = ext;
    }

    return 0;
}


int
fql_request_from_json(fql_arena_t *a, const char *body, size_t len,
    fql_request_t *req, fql_errors_t *errs)
{
    fql_jval_t  *root;

    memset(req, 0, sizeof(fql_request_t));

    root = fql_json_parse(a, body, len, errs);
    if (root == NULL) {
        return -1;
    }

    if (root->kind != FQL_J_OBJECT) {
        fql_error_add(errs, NULL, FQL_CODE_BAD_REQUEST,
                      "The request body must be a JSON object");
        return -1;
    }

    return fql_request_fill(fql_jval_member(root, "query"),
                            fql_jval_member(root, "operationName"),
                            fql_jval_member(root, "variables"),
                            fql_jval_member(root, "extensions"),
                            req, errs);
}


int
fql_request_from_params(fql_arena_t *a, fql_str_t query,
    fql_str_t operation_name, fql_str_t variables, fql_str_t extensions,
    fql_request_t *req, fql_errors_t *errs)
{
    fql_jval_t  q, op, *vars, *ext;

    memset(req, 0, sizeof(fql_request_t));
    memset(&q, 0, sizeof(fql_jval_t));
    memset(&op, 0, sizeof(fql_jval_t));

    vars = NULL;
    ext = NULL;

    if (query.data != NULL) {
        q.kind = FQL_J_STRING;
        q.str = query;
    }

    if (operation_name.data != NULL && operation_name.len) {
        op.kind = FQL_J_STRING;
        op.str = operation_name;
    }

    if (variables.data != NULL && variables.len) {
        vars = fql_json_parse(a, variables.data, variables.len, errs);
        if (vars == NULL) {
            return -1;
        }
    }

    if (extensions.data != NULL && extensions.len) {
        ext = fql_json_parse(a, extensions.data, extensions.len, errs);
        if (ext == NULL) {
            return -1;
        }
    }

    return fql_request_fill(query.data ? &q : NULL,
                            operation_name.data ? &op : NULL,
                            vars, ext, req, errs);
}


int
fql_media_is(const char *p, size_t len, const char *type)
{
    size_t  n;

    n = strlen(type);

    if (len < n || strncasecmp(p, type, n) != 0) {
        return 0;
    }

    return len == n || p[n] == ';' || p[n] == ' ' || p[n] == '\t';
}


/* the q of a media range's parameters, 0..1000; a malformed q counts 1 */
static unsigned
fql_accept_q(const char *p, const char *end)
{
    unsigned  q, scale;

    for ( ;; ) {
        while (p < end && *p != ';') {
            p++;
        }

        if (p == end) {
            return 1000;
        }

        p++;

        while (p < end && (*p == ' ' || *p == '\t')) {
            p++;
        }

        if (end - p >= 2 && (*p == 'q' || *p == 'Q') && p[1] == '=') {
            break;
        }
    }

    p += 2;

    if (p == end || (*p != '0' && *p != '1')) {
        return 1000;
    }

    q = (unsigned) (*p++ - '0') * 1000;

    if (p < end && *p == '.') {
        p++;

        for (scale = 100; scale && p < end && *p >= '0' && *p <= '9';
             scale /= 10)
        {
            q += (unsigned) (*p++ - '0') * scale;
        }
    }

    return q < 1000 ? q : 1000;
}


int
fql_accept_graphql_response(const char *p, size_t len)
{
    unsigned     i, q, spec, at;
    const char  *end, *range;

    /* [0]: application/json, [1]: application/graphql-response+json */
    unsigned     best_q[2], best_spec[2], best_at[2];

    static const char  *types[2] = {
        "application/json", "application/graphql-response+json"
    };

    for (i = 0; i < 2; i++) {
        best_q[i] = 0;
        best_spec[i] = 0;
        best_at[i] = (unsigned) -1;
    }

    end = p + len;

    for (at = 0; p < end; at++) {
        while (p < end && (*p == ' ' || *p == '\t' || *p == ',')) {
            p++;
        }

        range = p;

        while (p < end && *p != ',') {
            p++;
        }

        if (p == range) {
            break;
        }

        q = fql_accept_q(range, p);

        for (i = 0; i < 2; i++) {
            if (fql_media_is(range, p - range, types[i])) {
                spec = 3;

            } else if (fql_media_is(range, p - range, "application/*")) {
                spec = 2;

            } else if (fql_media_is(range, p - range, "*/*")) {
                spec = 1;

            } else {
                continue;
            }

            if (spec > best_spec[i]) {
                best_spec[i] = spec;
                best_q[i] = q;
                best_at[i] = at;
            }
        }
    }

    if (best_q[1] != best_q[0]) {
        return best_q[1] > best_q[0];
    }

    return best_q[1] != 0 && best_spec[1] == 3
           && (best_spec[0] < 3 || best_at[1] < best_at[0]);
}

