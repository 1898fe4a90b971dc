/*
 * Row transform.  Two steps per row:
 *
 *  1. scan: the row is validated as strict JSON in one pass; on the way the
 *     value spans of the row's keys that the projection selects are
 *     recorded (nested values are only validated);
 *  2. emit: the selected spans are written out, coerced; nested objects
 *     selected by the projection are scanned again, trusted this time.
 *
 * Nothing is written before the whole row is known to be valid, nothing is
 * copied but the output and no memory is allocated: spans live on the
 * stack, FQL_WIN fields at a time.  Reading JSON text itself (validating,
 * skipping, numbers) is fql_jscan.c's.
 */

#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/types.h>

#include "fql_transform.h"
#include "fql_jscan.h"


/* fields looked up per scan of an object: bounds the stack frames */
#define FQL_WIN          32
#define FQL_HASH_SIZE    64

/* how much of a bad value an error message quotes */
#define FQL_MSG_VALUE    80

/* canonical integers of Int and ID values: 2^53 needs 16 digits */
#define FQL_INT_BUF      64


typedef struct {
    const u_char  *p;            /* NULL: key absent */
    size_t         len;
} fql_span_t;


/* key -> fields of a window of a projection, hashed on length and ends */
typedef struct {
    const fql_proj_field_t  *fields;
    unsigned                 n;
    unsigned                 nkeyed;     /* fields other than __typename */
    uint8_t                  head[FQL_HASH_SIZE];    /* 1 + field index */
    uint8_t                  next[FQL_WIN];
} fql_lookup_t;


typedef struct {
    fql_wbuf_t          *out;
    fql_field_error_pt   on_error;
    void                *ctx;
    unsigned             depth;     /* objects being emitted */
} fql_tr_t;


static void fql_lookup_init(fql_lookup_t *lk, const fql_proj_field_t *fields,
    unsigned n);
static const u_char *fql_scan_object(const fql_lookup_t *lk, fql_span_t *sp,
    const u_char *p, const u_char *end, int validate);
static int fql_key_eq_escaped(const u_char *k, size_t klen, fql_str_t key);
static int fql_emit_object(fql_tr_t *t, const fql_proj_t *proj,
    const u_char *p, const u_char *end, const fql_path_t *path,
    const fql_span_t *pre, const fql_lookup_t *lk);
static int fql_emit_object_in(fql_tr_t *t, const fql_proj_t *proj,
    const u_char *p, const u_char *end, const fql_path_t *path,
    const fql_span_t *pre, const fql_lookup_t *lk);
static int fql_emit_value(fql_tr_t *t, const fql_proj_t *proj,
    const fql_proj_field_t *f, const fql_span_t *val, unsigned level,
    const fql_path_t *path, const fql_lookup_t *lk);
static int fql_emit_scalar(fql_tr_t *t, const fql_proj_field_t *f,
    const u_char *v, size_t len, const fql_path_t *path);
static int fql_put_compact(fql_wbuf_t *w, const u_char *p, const u_char *end);
static int fql_error(fql_tr_t *t, const fql_path_t *path, const char *fmt,
    ...);
static int fql_bad_value(fql_tr_t *t, const fql_path_t *path,
    const char *what, const u_char *v, size_t len);
static int fql_bad_field(fql_tr_t *t, const fql_proj_t *proj,
    const fql_proj_field_t *f, const fql_path_t *path, const char *what);


/* bit `level` of a field's non_null_mask, levels past the mask nullable */
#define fql_non_null(f, level)                                               \
    ((level) < sizeof(unsigned) * 8 && ((f)->non_null_mask >> (level)) & 1)

#define fql_hash(p, len)                                                     \
    ((len) ? ((len) * 7 + (p)[0] * 3 + (p)[(len) - 1]) & (FQL_HASH_SIZE - 1)  \
           : 0)


static inline int
fql_put(fql_wbuf_t *w, const void *p, size_t n)
{
    return n ? fql_wbuf_put(w, p, n) : 0;
}


/* `"s"`, s needing no escaping */
static inline int
fql_put_quoted(fql_wbuf_t *w, const void *s, size_t n)
{
    char  *p;

    if ((size_t) (w->end - w->pos) < n + 2 && w->reserve(w, n + 2) != 0) {
        return -1;
    }

    p = w->pos;
    *p++ = '"';

    if (n) {
        memcpy(p, s, n);
        p += n;
    }

    *p++ = '"';
    w->pos = p;

    return 0;
}


/* `,"key":` in one reservation: the hot path of every field */
static inline int
fql_put_key(fql_wbuf_t *w, int comma, fql_str_t key)
{
    size_t   need;
    char    *p;

    need = key.len + 4;

    if ((size_t) (w->end - w->pos) < need && w->reserve(w, need) != 0) {
        return -1;
    }

    p = w->pos;

    if (comma) {
        *p++ = ',';
    }

    *p++ = '"';

    if (key.len) {
        memcpy(p, key.data, key.len);
        p += key.len;
    }

    *p++ = '"';
    *p++ = ':';
    w->pos = p;

    return 0;
}


int
fql_transform_row(const fql_proj_t *proj, const char *json, size_t len,
    fql_wbuf_t *out, const fql_path_t *path, fql_field_error_pt on_error,
    void *ctx)
{
    const u_char  *p, *e, *end;
    fql_span_t     spans[FQL_WIN];
    fql_lookup_t   lk;
    fql_tr_t       t;
    unsigned       n;

    p = (const u_char *) json;
    end = p + len;

    p = fql_skip_ws(p, end);

    if (p == end) {
        return -1;
    }

    if (*p == 'n') {
        if (end - p < 4 || memcmp(p, "null", 4) != 0
            || fql_skip_ws(p + 4, end) != end)
        {
            return -1;
        }

        return fql_wbuf_lit(out, "null");
    }

    if (*p != '{') {
        return -1;
    }

    n = proj->nfields < FQL_WIN ? proj->nfields : FQL_WIN;

    fql_lookup_init(&lk, proj->fields, n);
    memset(spans, 0, n * sizeof(fql_span_t));

    /* the one validating pass; later windows and nested objects trust it */
    e = fql_scan_object(&lk, spans, p + 1, end, 1);

    if (e == NULL || fql_skip_ws(e, end) != end) {
        return -1;
    }

    t.out = out;
    t.on_error = on_error;
    t.ctx = ctx;
    t.depth = 0;

    return fql_emit_object(&t, proj, p + 1, end, path, spans, &lk);
}


/*
 * Key lookup.
 */


static void
fql_lookup_init(fql_lookup_t *lk, const fql_proj_field_t *fields, unsigned n)
{
    const fql_proj_field_t  *f;
    unsigned                 i, h;

    lk->fields = fields;
    lk->n = n;
    lk->nkeyed = 0;

    memset(lk->head, 0, sizeof(lk->head));

    for (i = n; i-- > 0; ) {
        f = &fields[i];

        if (f->kind == FQL_PF_TYPENAME) {
            continue;
        }

        h = fql_hash((const u_char *) f->json_key.data, f->json_key.len);

        lk->next[i] = lk->head[h];
        lk->head[h] = (uint8_t) (i + 1);
        lk->nkeyed++;
    }
}


/* keys are short: cheaper than a call to memcmp */
static inline int
fql_key_eq(const u_char *a, const char *b, size_t n)
{
    uint64_t  x, y;

    while (n >= 8) {
        memcpy(&x, a, 8);
        memcpy(&y, b, 8);

        if (x != y) {
            return 0;
        }

        a += 8;
        b += 8;
        n -= 8;
    }

    while (n--) {
        if (*a++ != (u_char) *b++) {
            return 0;
        }
    }

    return 1;
}


/*
 * Scans an object from after its '{' to past its '}', recording in sp[]
 * the value span of each window field whose json_key it has (the first
 * occurrence of a key wins; jsonb has no duplicates).  With `validate`,
 * everything is checked and the whole object read; otherwise it stops as
 * soon as every field is found.
 */
static const u_char *
fql_scan_object(const fql_lookup_t *lk, fql_span_t *sp, const u_char *p,
    const u_char *end, int validate)
{
    const fql_proj_field_t  *f;
    const u_char            *k, *v;
    size_t                   klen;
    unsigned                 i, found;
    int                      esc, vesc;

    found = 0;

    p = fql_skip_ws(p, end);

    if (p < end && *p == '}') {
        return p + 1;
    }

    for ( ;; ) {
        if (p == end || *p != '"') {
            return NULL;
        }

        k = p + 1;
        esc = 0;

        if (validate) {
            p = fql_scan_string(k, end, &esc);
            if (p == NULL) {
                return NULL;
            }

        } else {
            p = fql_skip_string(k, end, &esc);
        }

        klen = p - 1 - k;

        p = fql_skip_ws(p, end);

        if (p == end || *p != ':') {
            return NULL;
        }

        p = fql_skip_ws(p + 1, end);

        if (p == end) {
            return NULL;
        }

        v = p;

        if (!validate) {
            p = fql_skip_value(p, end);

        } else if (*p == '"') {
            p = fql_scan_string(p + 1, end, &vesc);
            if (p == NULL) {
                return NULL;
            }

        } else if (*p == '-' || fql_is_digit(*p)) {
            p = fql_scan_number(p, end);
            if (p == NULL) {
                return NULL;
            }

        } else {
            p = fql_valid_value(p, end, 1);
            if (p == NULL) {
                return NULL;
            }
        }

        if (!esc) {
            for (i = lk->head[fql_hash(k, klen)]; i; i = lk->next[i - 1]) {
                f = &lk->fields[i - 1];

                if (f->json_key.len == klen && sp[i - 1].p == NULL
                    && fql_key_eq(k, f->json_key.data, klen))
                {
                    sp[i - 1].p = v;
                    sp[i - 1].len = p - v;
                    found++;
                }
            }

        } else {
            for (i = 0; i < lk->n; i++) {
                f = &lk->fields[i];

                if (f->kind != FQL_PF_TYPENAME && sp[i].p == NULL
                    && fql_key_eq_escaped(k, klen, f->json_key))
                {
                    sp[i].p = v;
                    sp[i].len = p - v;
                    found++;
                }
            }
        }

        if (!validate && found == lk->nkeyed) {
            return p;
        }

        p = fql_skip_ws(p, end);

        if (p == end) {
            return NULL;
        }

        if (*p == '}') {
            return p + 1;
        }

        if (*p != ',') {
            return NULL;
        }

        p = fql_skip_ws(p + 1, end);
    }
}


/* compares a (valid) escaped JSON string body to a key, decoding on the fly */
static int
fql_key_eq_escaped(const u_char *k, size_t klen, fql_str_t key)
{
    const u_char  *p, *end, *q, *qend;
    u_char         buf[4];
    unsigned       cp, lo;
    size_t         n;

    p = k;
    end = k + klen;
    q = (const u_char *) key.data;
    qend = q + key.len;

    while (p < end) {
        if (*p != '\\') {
            if (q == qend || *q != *p) {
                return 0;
            }

            p++;
            q++;
            continue;
        }

        n = 1;

        switch (p[1]) {
        case 'b':
            buf[0] = '\b';
            break;
        case 'f':
            buf[0] = '\f';
            break;
        case 'n':
            buf[0] = '\n';
            break;
        case 'r':
            buf[0] = '\r';
            break;
        case 't':
            buf[0] = '\t';
            break;
        case 'u':
            cp = fql_hex4(p + 2);
            p += 4;

            if (cp >= 0xd800 && cp <= 0xdbff) {
                lo = fql_hex4(p + 4);
                cp = 0x10000 + ((cp - 0xd800) << 10) + (lo - 0xdc00);
                p += 6;
            }

            if (cp < 0x80) {
                buf[0] = (u_char) cp;

            } else if (cp < 0x800) {
                buf[0] = (u_char) (0xc0 | (cp >> 6));
                buf[1] = (u_char) (0x80 | (cp & 0x3f));
                n = 2;

            } else if (cp < 0x10000) {
                buf[0] = (u_char) (0xe0 | (cp >> 12));
                buf[1] = (u_char) (0x80 | ((cp >> 6) & 0x3f));
                buf[2] = (u_char) (0x80 | (cp & 0x3f));
                n = 3;

            } else {
                buf[0] = (u_char) (0xf0 | (cp >> 18));
                buf[1] = (u_char) (0x80 | ((cp >> 12) & 0x3f));
                buf[2] = (u_char) (0x80 | ((cp >> 6) & 0x3f));
                buf[3] = (u_char) (0x80 | (cp & 0x3f));
                n = 4;
            }

            break;
        default:
            buf[0] = p[1];     /* " \ / */
            break;
        }

        p += 2;

        if ((size_t) (qend - q) < n || memcmp(q, buf, n) != 0) {
            return 0;
        }

        q += n;
    }

    return q == qend;
}


/*
 * Emitting.
 */


/*
 * Writes the projection of the object starting after its '{'.  `pre` and
 * `lk`, when given, are the spans and lookup of the first window.
 */
static int
fql_emit_object(fql_tr_t *t, const fql_proj_t *proj, const u_char *p,
    const u_char *end, const fql_path_t *path, const fql_span_t *pre,
    const fql_lookup_t *lk)
{
    int  rc;

    /*
     * Compiled projections are shallower than this; one that selects
     * itself (in tests) recurses with the row and stops here, with part
     * of the row written.
     */
    if (t->depth == FQL_MAX_DEPTH) {
        return -1;
    }

    t->depth++;
    rc = fql_emit_object_in(t, proj, p, end, path, pre, lk);
    t->depth--;

    return rc;
}


static int
fql_emit_object_in(fql_tr_t *t, const fql_proj_t *proj, const u_char *p,
    const u_char *end, const fql_path_t *path, const fql_span_t *pre,
    const fql_lookup_t *lk)
{
    const fql_proj_field_t  *f;
    const fql_span_t        *sp;
    const fql_lookup_t      *cur;
    fql_span_t               spans[FQL_WIN];
    fql_lookup_t             local;
    fql_path_t               node;
    unsigned                 base, i, n;

    if (fql_wbuf_putc(t->out, '{') != 0) {
        return -1;
    }

    for (base = 0; base < proj->nfields; base += FQL_WIN) {
        n = proj->nfields - base;
        n = n < FQL_WIN ? n : FQL_WIN;

        if (base == 0 && pre != NULL) {
            sp = pre;

        } else {
            cur = lk;

            if (base != 0 || cur == NULL) {
                fql_lookup_init(&local, proj->fields + base, n);
                cur = &local;
            }

            memset(spans, 0, n * sizeof(fql_span_t));

            if (cur->nkeyed) {
                (void) fql_scan_object(cur, spans, p, end, 0);
            }

            sp = spans;
        }

        for (i = 0; i < n; i++) {
            f = &proj->fields[base + i];

            /* response keys and type names are GraphQL names: no escaping */

            if (fql_put_key(t->out, base + i != 0, f->out_key) != 0) {
                return -1;
            }

            if (f->kind == FQL_PF_TYPENAME) {
                if (fql_put_quoted(t->out, proj->type_name.data,
                                   proj->type_name.len)
                    != 0)
                {
                    return -1;
                }

                continue;
            }

            node.parent = path;
            node.key = f->out_key;
            node.index = -1;

            if (fql_emit_value(t, proj, f, &sp[i], 0, &node, NULL) != 0) {
                return -1;
            }
        }
    }

    return fql_wbuf_putc(t->out, '}');
}


/*
 * Writes the value val (val->p NULL: absent) of field f at list level
 * `level`; `lk` is the lookup of f->sub, built once for all the objects
 * of a list.
 */
static int
fql_emit_value(fql_tr_t *t, const fql_proj_t *proj, const fql_proj_field_t *f,
    const fql_span_t *val, unsigned level, const fql_path_t *path,
    const fql_lookup_t *lk)
{
    const u_char  *v, *vend, *p;
    fql_span_t     item;
    fql_lookup_t   local;
    fql_path_t     node;
    long           index;

    v = val->p;

    if (v == NULL || *v == 'n') {
        if (fql_non_null(f, level)) {
            return fql_bad_field(t, proj, f, path,
                                 "Cannot return null for non-nullable field");
        }

        return fql_wbuf_lit(t->out, "null");
    }

    vend = v + val->len;

    if (level < f->list_depth) {
        if (*v != '[') {
            return fql_bad_field(t, proj, f, path,
                          "Expected Iterable, but did not find one for field");
        }

        if (f->kind == FQL_PF_OBJECT && lk == NULL
            && f->sub->nfields <= FQL_WIN)
        {
            fql_lookup_init(&local, f->sub->fields, f->sub->nfields);
            lk = &local;
        }

        if (fql_wbuf_putc(t->out, '[') != 0) {
            return -1;
        }

        p = fql_skip_ws(v + 1, vend);

        if (*p != ']') {
            for (index = 0; /* void */; index++) {
                item.p = p;
                item.len = fql_skip_value(p, vend) - p;

                if (index && fql_wbuf_putc(t->out, ',') != 0) {
                    return -1;
                }

                node.parent = path;
                node.key.data = NULL;
                node.key.len = 0;
                node.index = index;

                if (fql_emit_value(t, proj, f, &item, level + 1, &node, lk)
                    != 0)
                {
                    return -1;
                }

                p = fql_skip_ws(item.p + item.len, vend);

                if (*p != ',') {
                    break;
                }

                p = fql_skip_ws(p + 1, vend);
            }
        }

        return fql_wbuf_putc(t->out, ']');
    }

    if (f->kind == FQL_PF_OBJECT) {
        if (*v != '{') {
            return fql_bad_value(t, path, "Expected an object, found",
                                 v, vend - v);
        }

        return fql_emit_object(t, f->sub, v + 1, vend, path, NULL, lk);
    }

    return fql_emit_scalar(t, f, v, vend - v, path);
}


/* the number a value stands for: itself or a numeric string's content */
static const u_char *
fql_number_of(const u_char *v, size_t len, size_t *nlen)
{
    if (v[0] == '-' || fql_is_digit(v[0])) {
        *nlen = len;
        return v;
    }

    if (v[0] == '"' && len > 2
        && fql_scan_number(v + 1, v + len - 1) == v + len - 1)
    {
        *nlen = len - 2;
        return v + 1;
    }

    return NULL;
}


/* a plain integer (digits, a leading '-', not "-0"): canonical as written */
static int
fql_plain_int(const u_char *v, size_t len)
{
    size_t  i;

    i = (v[0] == '-');

    if (i == len || (i && v[1] == '0')) {
        return 0;
    }

    while (i < len && fql_is_digit(v[i])) {
        i++;
    }

    return i == len;
}


static int
fql_emit_int(fql_tr_t *t, const u_char *v, size_t len,
    const fql_path_t *path)
{
    const u_char  *num;
    fql_num_t      n;
    size_t         nlen, i;
    char           buf[FQL_INT_BUF];
    int            r;

    if (v[0] == 't' || v[0] == 'f') {
        return fql_wbuf_putc(t->out, v[0] == 't' ? '1' : '0');
    }

    num = fql_number_of(v, len, &nlen);

    if (num == NULL) {
        return fql_bad_value(t, path,
                             "Int cannot represent non-integer value",
                             v, len);
    }

    /* fast path: a plain integer of up to 9 digits fits */
    if (nlen <= 9 + (num[0] == '-') && fql_plain_int(num, nlen)) {
        return fql_wbuf_put(t->out, num, nlen);
    }

    fql_num_parse(&n, num, num + nlen);
    r = fql_num_int(&n, buf, sizeof(buf));

    if (r == 0) {
        return fql_bad_value(t, path,
                             "Int cannot represent non-integer value",
                             v, len);
    }

    i = (buf[0] == '-');

    if (r < 0 || r - i > 10
        || (r - i == 10
            && memcmp(buf + i, i ? "2147483648" : "2147483647", 10) > 0))
    {
        return fql_bad_value(t, path,
                    "Int cannot represent non 32-bit signed integer value",
                    v, len);
    }

    return fql_wbuf_put(t->out, buf, r);
}


static int
fql_emit_float(fql_tr_t *t, const u_char *v, size_t len,
    const fql_path_t *path)
{
    const u_char  *num;
    fql_num_t      n;
    size_t         nlen, i;

    if (v[0] == 't' || v[0] == 'f') {
        return fql_wbuf_putc(t->out, v[0] == 't' ? '1' : '0');
    }

    num = fql_number_of(v, len, &nlen);

    if (num != NULL) {
        /* fewer than 309 digits and no exponent: finite */

        for (i = 0; i < nlen && i < 309 && (num[i] | 0x20) != 'e'; i++) {
            /* void */
        }

        if (i == nlen) {
            return fql_wbuf_put(t->out, num, nlen);
        }

        fql_num_parse(&n, num, num + nlen);

        if (fql_num_finite(&n)) {
            return fql_wbuf_put(t->out, num, nlen);
        }
    }

    return fql_bad_value(t, path,
                         "Float cannot represent non numeric value",
                         v, len);
}


static int
fql_emit_boolean(fql_tr_t *t, const u_char *v, size_t len,
    const fql_path_t *path)
{
    fql_num_t  n;

    if (v[0] == 't' || v[0] == 'f') {
        return fql_wbuf_put(t->out, v, len);
    }

    if (v[0] == '-' || fql_is_digit(v[0])) {
        fql_num_parse(&n, v, v + len);

        if (n.k0 == n.k1) {
            return fql_wbuf_lit(t->out, "false");
        }

        return fql_wbuf_lit(t->out, "true");
    }

    return fql_bad_value(t, path,
                         "Boolean cannot represent a non boolean value",
                         v, len);
}


static int
fql_emit_id(fql_tr_t *t, const u_char *v, size_t len,
    const fql_path_t *path)
{
    fql_num_t  n;
    char       buf[FQL_INT_BUF];
    int        r;

    if (v[0] == '"') {
        return fql_wbuf_put(t->out, v, len);
    }

    if (v[0] == '-' || fql_is_digit(v[0])) {
        if (fql_plain_int(v, len)) {
            return fql_put_quoted(t->out, v, len);
        }

        fql_num_parse(&n, v, v + len);
        r = fql_num_int(&n, buf, sizeof(buf));

        if (r > 0) {
            return fql_put_quoted(t->out, buf, r);
        }
    }

    return fql_bad_value(t, path, "ID cannot represent value", v, len);
}


/* String, Enum, DateTime, Date, UUID...: strings */
static int
fql_emit_string(fql_tr_t *t, const fql_proj_field_t *f, const u_char *v,
    size_t len, const fql_path_t *path)
{
    char  msg[64];

    if (v[0] == '"') {
        return fql_wbuf_put(t->out, v, len);
    }

    if (v[0] != '{' && v[0] != '[') {
        return fql_put_quoted(t->out, v, len);
    }

    snprintf(msg, sizeof(msg), "%s cannot represent value",
             fql_scalars[f->scalar].name);

    return fql_bad_value(t, path, msg, v, len);
}


/*
 * Leaf values, coerced as graphql-js serializes results: v is a valid JSON
 * value other than null.
 */
static int
fql_emit_scalar(fql_tr_t *t, const fql_proj_field_t *f, const u_char *v,
    size_t len, const fql_path_t *path)
{
    switch (fql_scalars[f->scalar].out) {

    case FQL_SC_RAW:
        return fql_put_compact(t->out, v, v + len);

    case FQL_SC_INT:
        return fql_emit_int(t, v, len, path);

    case FQL_SC_FLOAT:
        return fql_emit_float(t, v, len, path);

    case FQL_SC_BOOLEAN:
        return fql_emit_boolean(t, v, len, path);

    case FQL_SC_ID:
        return fql_emit_id(t, v, len, path);

    default:
        return fql_emit_string(t, f, v, len, path);
    }
}


/* copies a JSON value without its insignificant whitespace */
static int
fql_put_compact(fql_wbuf_t *w, const u_char *p, const u_char *end)
{
    const u_char  *s;

    s = p;

    while (p < end) {
        if (*p == '"') {
            p = fql_skip_string(p + 1, end, NULL);
            continue;
        }

        if (!fql_is_ws(*p)) {
            p++;
            continue;
        }

        if (fql_put(w, s, p - s) != 0) {
            return -1;
        }

        p = fql_skip_ws(p, end);
        s = p;
    }

    return fql_put(w, s, p - s);
}


/*
 * Errors.
 */


static int
fql_error(fql_tr_t *t, const fql_path_t *path, const char *fmt, ...)
{
    va_list  args;
    char     msg[512];

    if (t->on_error == NULL) {
        return 0;
    }

    va_start(args, fmt);
    vsnprintf(msg, sizeof(msg), fmt, args);
    va_end(args);

    return t->on_error(t->ctx, path, msg) == 0 ? 0 : -1;
}


/*
 * Reports "what: value", the value's JSON text cut at a character
 * boundary, and writes null in its place.
 */
static int
fql_bad_value(fql_tr_t *t, const fql_path_t *path, const char *what,
    const u_char *v, size_t len)
{
    size_t  n;

    n = len;

    if (n > FQL_MSG_VALUE) {
        n = FQL_MSG_VALUE;

        while (n && (v[n] & 0xc0) == 0x80) {
            n--;
        }
    }

    if (fql_error(t, path, "%s: %.*s%s", what, (int) n, v,
                  n < len ? "..." : "")
        != 0)
    {
        return -1;
    }

    return fql_wbuf_lit(t->out, "null");
}


/* reports "what Type.field." and writes null in the field's place */
static int
fql_bad_field(fql_tr_t *t, const fql_proj_t *proj,
    const fql_proj_field_t *f, const fql_path_t *path, const char *what)
{
    int  tl, fl;

    tl = proj->type_name.len > 128 ? 128 : (int) proj->type_name.len;
    fl = f->out_key.len > 128 ? 128 : (int) f->out_key.len;

    if (fql_error(t, path, "%s %.*s.%.*s.", what, tl, proj->type_name.data,
                  fl, f->out_key.data)
        != 0)
    {
        return -1;
    }

    return fql_wbuf_lit(t->out, "null");
}
