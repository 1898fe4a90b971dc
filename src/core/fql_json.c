/*
 * JSON in and out: values read with yajl's event parser into arena trees,
 * string escaping and the heap-backed write buffer.
 */

#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>

#include <yajl/yajl_parse.h>

#include "fql_json.h"
#include "fql_jscan.h"
#include "fql_error.h"
#include "fql_index.h"


#define FQL_HEAPBUF_MIN  256


/* 1: a byte copied into a JSON string as is (printable ASCII) */
static const u_char  fql_json_plain[256] = {
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,     /* 0x00 */
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,     /* 0x10 */
    1, 1, 0, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1,     /* 0x20 '"' */
    1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1,     /* 0x30 */
    1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1,     /* 0x40 */
    1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 0, 1, 1, 1,     /* 0x50 '\' */
    1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1,     /* 0x60 */
    1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1,     /* 0x70 */
};


int
fql_json_string(fql_wbuf_t *w, const char *s, size_t len)
{
    static const char  hex[] = "0123456789abcdef";

    const u_char  *p, *q, *end;
    uint64_t       v;
    u_char         c;
    char           esc[6];
    int            n;

    p = (const u_char *) s;
    end = p + len;

    if (fql_wbuf_putc(w, '"') != 0) {
        return -1;
    }

    q = p;

    for ( ;; ) {
        /* p..q is the pending run of bytes copied as is */

        /* 8 plain bytes at a time, then one by one */

        while (end - q >= 8) {
            memcpy(&v, q, 8);

            if (fql_special8(v)) {
                break;
            }

            q += 8;
        }

        while (q < end && fql_json_plain[*q]) {
            q++;
        }

        if (q < end && *q >= 0x80) {
            n = fql_utf8_seq(q, end);

            if (n > 0) {
                q += n;
                continue;
            }

        } else {
            n = 0;
        }

        if (q > p && fql_wbuf_put(w, p, q - p) != 0) {
            return -1;
        }

        if (q == end) {
            break;
        }

        if (n < 0) {
            if (fql_wbuf_lit(w, "\xef\xbf\xbd") != 0) {
                return -1;
            }

            q += -n;
            p = q;
            continue;
        }

        c = *q++;
        p = q;

        esc[0] = '\\';

        switch (c) {
        case '"':
        case '\\':
            esc[1] = c;
            break;
        case '\b':
            esc[1] = 'b';
            break;
        case '\f':
            esc[1] = 'f';
            break;
        case '\n':
            esc[1] = 'n';
            break;
        case '\r':
            esc[1] = 'r';
            break;
        case '\t':
            esc[1] = 't';
            break;
        default:
            esc[1] = 'u';
            esc[2] = '0';
            esc[3] = '0';
            esc[4] = hex[c >> 4];
            esc[5] = hex[c & 0xf];

            if (fql_wbuf_put(w, esc, 6) != 0) {
                return -1;
            }

            continue;
        }

        if (fql_wbuf_put(w, esc, 2) != 0) {
            return -1;
        }
    }

    return fql_wbuf_putc(w, '"');
}


static int
fql_heapbuf_reserve(fql_wbuf_t *w, size_t need)
{
    fql_heapbuf_t  *hb = w->ctx;
    size_t          used, cap;
    char           *p;

    used = hb->data ? (size_t) (w->pos - hb->data) : 0;

    if (hb->cap - used >= need) {
        return 0;
    }

    cap = hb->cap ? hb->cap : FQL_HEAPBUF_MIN;

    while (cap - used < need) {
        if (cap > SIZE_MAX / 2) {
            return -1;
        }

        cap *= 2;
    }

    p = realloc(hb->data, cap);
    if (p == NULL) {
        return -1;
    }

    hb->data = p;
    hb->cap = cap;
    w->pos = p + used;
    w->end = p + cap;

    return 0;
}


void
fql_heapbuf_init(fql_heapbuf_t *hb)
{
    hb->data = NULL;
    hb->cap = 0;
    hb->w.pos = NULL;
    hb->w.end = NULL;
    hb->w.reserve = fql_heapbuf_reserve;
    hb->w.ctx = hb;
}


size_t
fql_heapbuf_len(const fql_heapbuf_t *hb)
{
    return hb->data ? (size_t) (hb->w.pos - hb->data) : 0;
}


void
fql_heapbuf_free(fql_heapbuf_t *hb)
{
    free(hb->data);
    fql_heapbuf_init(hb);
}


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
            fql_error_nomem(errs);

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


int
fql_jval_write(fql_wbuf_t *w, const fql_jval_t *j)
{
    const fql_jval_t  *it;

    switch (j->kind) {

    case FQL_J_NULL:
        return fql_wbuf_lit(w, "null");

    case FQL_J_BOOL:
        return j->boolean ? fql_wbuf_lit(w, "true") : fql_wbuf_lit(w, "false");

    case FQL_J_NUMBER:
        return fql_wbuf_put(w, j->str.data, j->str.len);

    case FQL_J_STRING:
        return fql_json_string(w, j->str.data, j->str.len);

    case FQL_J_ARRAY:
        if (fql_wbuf_putc(w, '[') != 0) {
            return -1;
        }

        for (it = j->items; it; it = it->next) {
            if ((it != j->items && fql_wbuf_putc(w, ',') != 0)
                || fql_jval_write(w, it) != 0)
            {
                return -1;
            }
        }

        return fql_wbuf_putc(w, ']');

    default: /* FQL_J_OBJECT */
        if (fql_wbuf_putc(w, '{') != 0) {
            return -1;
        }

        for (it = j->items; it; it = it->next) {
            if ((it != j->items && fql_wbuf_putc(w, ',') != 0)
                || fql_json_string(w, it->key.data, it->key.len) != 0
                || fql_wbuf_putc(w, ':') != 0
                || fql_jval_write(w, it) != 0)
            {
                return -1;
            }
        }

        return fql_wbuf_putc(w, '}');
    }
}


/*
 * Small objects are compared pairwise; larger ones are sorted, so that
 * an object of thousands of members costs n log n, not n squared.
 */
#define FQL_JSON_PAIRWISE  8

static int
fql_json_object_unique(fql_arena_t *a, const fql_jval_t *obj)
{
    unsigned            i;
    fql_index_t         ix;
    const fql_jval_t   *x, *y;

    if (obj->count <= FQL_JSON_PAIRWISE) {
        for (x = obj->items; x; x = x->next) {
            for (y = x->next; y; y = y->next) {
                if (fql_str_eq(x->key, y->key)) {
                    return 0;
                }
            }
        }

        return 1;
    }

    if (fql_index_init(&ix, a, obj->count) != 0) {
        return -1;
    }

    for (x = obj->items; x && ix.n < obj->count; x = x->next) {
        fql_index_add(&ix, x->key, x);
    }

    fql_index_sort(&ix);

    for (i = 1; i < ix.n; i++) {
        if (fql_str_eq(ix.e[i - 1].key, ix.e[i].key)) {
            return 0;
        }
    }

    return 1;
}


int
fql_json_unique_keys(fql_arena_t *a, const fql_jval_t *j)
{
    int                 rc;
    const fql_jval_t   *it;

    if (j->kind == FQL_J_OBJECT) {
        rc = fql_json_object_unique(a, j);
        if (rc != 1) {
            return rc;
        }

    } else if (j->kind != FQL_J_ARRAY) {
        return 1;
    }

    /* the parser bounds the depth (FQL_JSON_MAX_DEPTH) */
    for (it = j->items; it; it = it->next) {
        rc = fql_json_unique_keys(a, it);
        if (rc != 1) {
            return rc;
        }
    }

    return 1;
}


/* ---- RFC 6901 JSON Pointer ---- */


/* a reference token (escaped as in the pointer) equals a member's name */
static int
fql_jptr_token_is(const char *t, size_t len, fql_str_t key)
{
    size_t  i, k;
    char    c;

    k = 0;

    for (i = 0; i < len; i++, k++) {
        c = t[i];

        if (c == '~') {
            /* fql_json_pointer_valid vouched for the next character */
            c = (t[++i] == '0') ? '~' : '/';
        }

        if (k == key.len || key.data[k] != c) {
            return 0;
        }
    }

    return k == key.len;
}


/*
 * An array index as RFC 6901 spells it: "0" or digits without a leading
 * zero; "-" (the element after the last) and anything else select nothing.
 */
static const fql_jval_t *
fql_jptr_index(const fql_jval_t *arr, const char *t, size_t len)
{
    size_t              i, n;
    const fql_jval_t   *it;

    if (len == 0 || (t[0] == '0' && len > 1)) {
        return NULL;
    }

    n = 0;

    for (i = 0; i < len; i++) {
        if (t[i] < '0' || t[i] > '9' || n > arr->count) {
            return NULL;
        }

        n = n * 10 + (size_t) (t[i] - '0');
    }

    for (it = arr->items; it && n; it = it->next) {
        n--;
    }

    return it;
}


int
fql_json_pointer_valid(fql_str_t pointer)
{
    size_t  i;

    if (pointer.len && pointer.data[0] != '/') {
        return 0;
    }

    for (i = 0; i < pointer.len; i++) {
        if (pointer.data[i] == '~'
            && (i + 1 == pointer.len
                || (pointer.data[i + 1] != '0' && pointer.data[i + 1] != '1')))
        {
            return 0;
        }
    }

    return 1;
}


const fql_jval_t *
fql_json_pointer(const fql_jval_t *root, fql_str_t pointer)
{
    const char         *p, *end, *t;
    const fql_jval_t   *j, *it;

    if (!fql_json_pointer_valid(pointer)) {
        return NULL;
    }

    j = root;
    p = pointer.data;
    end = p + pointer.len;

    while (j != NULL && p < end) {
        t = ++p;                        /* past the '/' */

        while (p < end && *p != '/') {
            p++;
        }

        if (j->kind == FQL_J_ARRAY) {
            j = fql_jptr_index(j, t, p - t);
            continue;
        }

        if (j->kind != FQL_J_OBJECT) {
            return NULL;
        }

        for (it = j->items; it; it = it->next) {
            if (fql_jptr_token_is(t, p - t, it->key)) {
                break;
            }
        }

        j = it;
    }

    return j;
}
