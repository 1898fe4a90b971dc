/*
 * libFuzzer target of the row transform.  The first byte picks one of a
 * few fixed projections (every scalar kind, nested objects, lists, lists
 * of lists, a cycle, more fields than a lookup window, odd keys) and how
 * the error callback behaves; the rest is the row.
 *
 * Checks, besides the sanitizers: output is valid JSON whenever the
 * transform succeeds; an accepted row is valid JSON for yajl too; a
 * rejected row wrote nothing unless the callback aborted.  With bit 5 of
 * the first byte, fql_json_string() of the row must be valid JSON too.
 */

#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <yajl/yajl_tree.h>

#include "fql_transform.h"


#define F(kind, out, key, depth, mask, sc, sub)                              \
    { kind, fql_str_lit(out), fql_str_lit(key), depth, mask, sc, sub }
#define SC(out, key, sc, depth, mask)                                        \
    F(FQL_PF_SCALAR, out, key, depth, mask, sc, NULL)
#define OB(out, key, sub, depth, mask)                                       \
    F(FQL_PF_OBJECT, out, key, depth, mask, FQL_SCALAR_STRING, sub)
#define TN(out)                                                              \
    { FQL_PF_TYPENAME, fql_str_lit(out), { NULL, 0 }, 0, 0,                  \
      FQL_SCALAR_STRING, NULL }
#define PROJ(name, fields)                                                   \
    { fql_str_lit(name), fields, sizeof(fields) / sizeof(fields[0]) }


/* a cycle: Node.n is a Node, Node.l a list of Nodes */

static fql_proj_t  node_proj;

static fql_proj_field_t  node_fields[] = {
    TN("__typename"),
    SC("v", "v", FQL_SCALAR_JSON, 0, 0),
    OB("n", "n", &node_proj, 0, 0),
    OB("l", "l", &node_proj, 1, 2),
    SC("i", "i", FQL_SCALAR_INT, 2, 1),
};

static fql_proj_t  node_proj = PROJ("Node", node_fields);


static fql_proj_field_t  author_fields[] = {
    TN("__typename"),
    SC("id", "id", FQL_SCALAR_ID, 0, 1),
    SC("name", "name", FQL_SCALAR_STRING, 0, 1),
    SC("firstName", "first_name", FQL_SCALAR_STRING, 0, 0),
};

static fql_proj_t  author_proj = PROJ("Author", author_fields);


static fql_proj_field_t  user_fields[] = {
    SC("id", "id", FQL_SCALAR_ID, 0, 1),
    SC("firstName", "first_name", FQL_SCALAR_STRING, 0, 0),
    SC("a", "a", FQL_SCALAR_INT, 0, 0),
    SC("b", "b", FQL_SCALAR_FLOAT, 0, 0),
    SC("c", "c", FQL_SCALAR_BOOLEAN, 0, 1),
    SC("d", "d", FQL_SCALAR_JSON, 0, 0),
    SC("e", "e", FQL_SCALAR_ENUM, 0, 0),
    SC("f", "f", FQL_SCALAR_DATETIME, 0, 0),
    SC("g", "g", FQL_SCALAR_DATE, 0, 0),
    SC("h", "h", FQL_SCALAR_UUID, 0, 0),
    SC("aa", "a", FQL_SCALAR_STRING, 0, 0),
    SC("ids", "i", FQL_SCALAR_INT, 1, 2),
    SC("ints", "i", FQL_SCALAR_INT, 2, 5),
    SC("fs", "j", FQL_SCALAR_FLOAT, 1, 0),
    SC("bs", "k", FQL_SCALAR_BOOLEAN, 3, 0),
    SC("ss", "s", FQL_SCALAR_STRING, 1, 0),
    SC("js", "d", FQL_SCALAR_JSON, 1, 1),
    OB("author", "author", &author_proj, 0, 0),
    OB("o", "o", &author_proj, 0, 1),
    OB("posts", "p", &author_proj, 1, 2),
    OB("grid", "q", &author_proj, 2, 0),
    OB("node", "n", &node_proj, 0, 0),
    TN("__typename"),
};

static fql_proj_t  user_proj = PROJ("User", user_fields);


/* 40 fields: two lookup windows; keys differing only in their middles */

#define W(k, sc)  SC(k, k, sc, 0, 0)

static fql_proj_field_t  wide_fields[] = {
    W("a", FQL_SCALAR_INT), W("b", FQL_SCALAR_FLOAT),
    W("c", FQL_SCALAR_BOOLEAN), W("d", FQL_SCALAR_ID),
    W("e", FQL_SCALAR_JSON), W("f", FQL_SCALAR_STRING),
    W("g", FQL_SCALAR_INT), W("h", FQL_SCALAR_FLOAT),
    W("i", FQL_SCALAR_BOOLEAN), W("j", FQL_SCALAR_ID),
    W("k", FQL_SCALAR_JSON), W("l", FQL_SCALAR_STRING),
    W("m", FQL_SCALAR_INT), W("n", FQL_SCALAR_FLOAT),
    W("o", FQL_SCALAR_BOOLEAN), W("p", FQL_SCALAR_ID),
    W("q", FQL_SCALAR_JSON), W("r", FQL_SCALAR_STRING),
    W("s", FQL_SCALAR_INT), W("t", FQL_SCALAR_FLOAT),
    W("u", FQL_SCALAR_BOOLEAN), W("v", FQL_SCALAR_ID),
    W("w", FQL_SCALAR_JSON), W("x", FQL_SCALAR_STRING),
    W("y", FQL_SCALAR_INT), W("z", FQL_SCALAR_FLOAT),
    W("a1a", FQL_SCALAR_INT), W("a2a", FQL_SCALAR_FLOAT),
    W("a3a", FQL_SCALAR_BOOLEAN), W("a4a", FQL_SCALAR_ID),
    W("a5a", FQL_SCALAR_JSON), W("a6a", FQL_SCALAR_STRING),
    W("a7a", FQL_SCALAR_INT), W("a8a", FQL_SCALAR_FLOAT),
    TN("__typename"),
    OB("self", "self", &author_proj, 0, 1),
    W("a9a", FQL_SCALAR_BOOLEAN), W("b1b", FQL_SCALAR_ID),
    W("b2b", FQL_SCALAR_JSON), W("b3b", FQL_SCALAR_STRING),
};

static fql_proj_t  wide_proj = PROJ("Wide", wide_fields);


/* keys that need unescaping to match, and an empty one */

static fql_proj_field_t  odd_fields[] = {
    SC("e", "\xc3\xa9", FQL_SCALAR_STRING, 0, 0),
    SC("q", "a\"b", FQL_SCALAR_INT, 0, 0),
    SC("nl", "\n", FQL_SCALAR_JSON, 0, 0),
    SC("empty", "", FQL_SCALAR_ID, 0, 0),
    SC("smile", "\xf0\x9f\x98\x80", FQL_SCALAR_FLOAT, 0, 1),
    OB("o", "\\", &author_proj, 1, 0),
};

static fql_proj_t  odd_proj = PROJ("Odd", odd_fields);


static fql_proj_t  *projs[] = {
    &user_proj, &node_proj, &wide_proj, &odd_proj
};


typedef struct {
    int  n;
    int  abort_at;        /* 0: never */
} fuzz_ctx_t;


static int
on_error(void *ctx, const fql_path_t *path, const char *message)
{
    fuzz_ctx_t  *c = ctx;
    size_t       depth;

    if (strlen(message) >= 512 || path == NULL) {
        abort();
    }

    for (depth = 0; path; path = path->parent) {
        if (path->index < 0 && path->key.len && path->key.data == NULL) {
            abort();
        }

        if (++depth > 4096) {
            abort();
        }
    }

    return ++c->n == c->abort_at ? -1 : 0;
}


static int
valid_json(const char *s, size_t len)
{
    yajl_val   v;
    char      *z, err[128];

    z = malloc(len + 1);
    if (z == NULL) {
        abort();
    }

    memcpy(z, s, len);
    z[len] = '\0';

    v = yajl_tree_parse(z, err, sizeof(err));
    free(z);

    if (v == NULL) {
        return 0;
    }

    yajl_tree_free(v);

    return 1;
}


int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    fql_heapbuf_t  hb;
    fql_path_t     root;
    fuzz_ctx_t     c;
    const char    *json;
    size_t         len, out;
    int            rc, with_cb;

    if (size < 1) {
        return 0;
    }

    json = (const char *) data + 1;
    len = size - 1;

    c.n = 0;
    c.abort_at = (data[0] >> 2) & 3;
    with_cb = (data[0] & 0x10) == 0;

    root.parent = NULL;
    root.key.data = "rows";
    root.key.len = 4;
    root.index = -1;

    fql_heapbuf_init(&hb);

    rc = fql_transform_row(projs[data[0] & 3], json, len, &hb.w, &root,
                           with_cb ? on_error : NULL, &c);

    out = fql_heapbuf_len(&hb);

    if (rc == 0) {
        if (!valid_json(hb.data, out)) {
            abort();
        }

        /* yajl reads up to a NUL; it also allows comments, so no converse */
        if (memchr(json, '\0', len) == NULL && !valid_json(json, len)) {
            abort();
        }

    } else if (rc != -1) {
        abort();

    } else if (out != 0 && !(with_cb && c.abort_at && c.n == c.abort_at)) {
        /* a bad row writes nothing; only an aborting callback stops midway */
        abort();
    }

    fql_heapbuf_free(&hb);

    /* the string writer, on the same bytes: always valid JSON */

    if (data[0] & 0x20) {
        fql_heapbuf_init(&hb);

        if (fql_json_string(&hb.w, json, len) != 0
            || !valid_json(hb.data, fql_heapbuf_len(&hb)))
        {
            abort();
        }

        fql_heapbuf_free(&hb);
    }

    return 0;
}
