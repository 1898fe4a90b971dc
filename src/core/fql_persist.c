/*
 * Persisted documents: ids and manifests (see fql_persist.h).
 */

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/sha.h>

#include "fql_persist.h"
#include "fql_validate.h"


/* ids longer than this are nobody's */
#define FQL_DOCUMENT_ID_MAX  256


void
fql_sha256(const char *text, size_t len, unsigned char hash[FQL_SHA256_LEN])
{
    SHA256((const unsigned char *) text, len, hash);
}


void
fql_sha256_hex(const unsigned char hash[FQL_SHA256_LEN], char *hex)
{
    unsigned             i;
    static const char    digits[] = "0123456789abcdef";

    for (i = 0; i < FQL_SHA256_LEN; i++) {
        hex[2 * i] = digits[hash[i] >> 4];
        hex[2 * i + 1] = digits[hash[i] & 0xf];
    }

    hex[2 * FQL_SHA256_LEN] = '\0';
}


static int
fql_hex_digit(int c)
{
    if (c >= '0' && c <= '9') {
        return c - '0';
    }

    if (c >= 'a' && c <= 'f') {
        return c - 'a' + 10;
    }

    if (c >= 'A' && c <= 'F') {
        return c - 'A' + 10;
    }

    return -1;
}


int
fql_document_id(fql_str_t id, char *out, size_t outlen, size_t *len,
    unsigned char hash[FQL_SHA256_LEN], int *sha)
{
    int        hi, lo;
    size_t     i;
    fql_str_t  hex;

    *sha = 0;

    if (id.len == 0 || id.len > FQL_DOCUMENT_ID_MAX
        || outlen < FQL_DOCUMENT_ID_MAX + 1)
    {
        return -1;
    }

    hex = id;
    if (hex.len > 7 && memcmp(hex.data, "sha256:", 7) == 0) {
        hex.data += 7;
        hex.len -= 7;
    }

    if (hex.len == 2 * FQL_SHA256_LEN) {
        for (i = 0; i < FQL_SHA256_LEN; i++) {
            hi = fql_hex_digit((unsigned char) hex.data[2 * i]);
            lo = fql_hex_digit((unsigned char) hex.data[2 * i + 1]);
            if (hi < 0 || lo < 0) {
                break;
            }

            hash[i] = (unsigned char) (hi << 4 | lo);
        }

        if (i == FQL_SHA256_LEN) {
            fql_sha256_hex(hash, out);
            *len = 2 * FQL_SHA256_LEN;
            *sha = 1;
            return 0;
        }
    }

    memcpy(out, id.data, id.len);
    out[id.len] = '\0';
    *len = id.len;

    return 0;
}


static int
fql_manifest_cmp(const void *a, const void *b)
{
    const fql_manifest_doc_t  *x = a, *y = b;
    size_t                     n;
    int                        rc;

    n = x->id.len < y->id.len ? x->id.len : y->id.len;
    rc = memcmp(x->id.data, y->id.data, n);

    if (rc != 0) {
        return rc;
    }

    return x->id.len < y->id.len ? -1 : x->id.len > y->id.len;
}


/* an entry: its id normalized, a SHA-256 one checked against the body */
static int
fql_manifest_add(fql_arena_t *a, fql_manifest_doc_t *d, fql_str_t id,
    const fql_jval_t *body, const fql_jval_t *name, unsigned index,
    char *err, size_t errlen)
{
    int             sha;
    char           *p;
    size_t          len;
    unsigned char   want[FQL_SHA256_LEN], got[FQL_SHA256_LEN];
    char            buf[FQL_DOCUMENT_ID_MAX + 1];

    if (body == NULL || body->kind != FQL_J_STRING) {
        snprintf(err, errlen, "entry %u (\"%.*s\"): no document", index,
                 (int) (id.len > 80 ? 80 : id.len), id.data);
        return -1;
    }

    if (fql_document_id(id, buf, sizeof(buf), &len, want, &sha) != 0) {
        snprintf(err, errlen, "entry %u: an empty or over-long id", index);
        return -1;
    }

    if (sha) {
        fql_sha256(body->str.data, body->str.len, got);

        if (memcmp(want, got, FQL_SHA256_LEN) != 0) {
            snprintf(err, errlen, "entry %u (\"%s\"): the id is not the "
                     "SHA-256 of its document", index, buf);
            return -1;
        }
    }

    p = fql_strndup(a, buf, len);
    if (p == NULL) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }

    d->id.data = p;
    d->id.len = len;
    d->body = body->str;

    if (name != NULL && name->kind == FQL_J_STRING) {
        d->name = name->str;
    }

    return 0;
}


int
fql_manifest_read(fql_arena_t *a, const char *text, size_t len,
    fql_manifest_t **m, char *err, size_t errlen)
{
    unsigned             i, n;
    fql_jval_t          *root, *ops, *it, *fmt;
    fql_errors_t         errs;
    fql_manifest_t      *mf;

    fql_errors_init(&errs, a);

    root = fql_json_parse(a, text, len, &errs);
    if (root == NULL || root->kind != FQL_J_OBJECT) {
        snprintf(err, errlen, "not a JSON object%s%s",
                 errs.head ? ": " : "",
                 errs.head ? errs.head->message : "");
        return -1;
    }

    mf = fql_calloc(a, sizeof(fql_manifest_t));
    if (mf == NULL) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }

    fmt = fql_jval_member(root, "format");
    ops = fql_jval_member(root, "operations");

    if (fmt != NULL) {
        /* Apollo's manifest */
        if (fmt->kind != FQL_J_STRING
            || !fql_str_eqz(fmt->str, "apollo-persisted-query-manifest"))
        {
            snprintf(err, errlen, "\"format\" is not "
                     "\"apollo-persisted-query-manifest\"");
            return -1;
        }

        it = fql_jval_member(root, "version");
        if (it == NULL || it->kind != FQL_J_NUMBER
            || !fql_str_eqz(it->str, "1"))
        {
            snprintf(err, errlen, "\"version\" is not 1");
            return -1;
        }

        if (ops == NULL || ops->kind != FQL_J_ARRAY) {
            snprintf(err, errlen, "\"operations\" is not an array");
            return -1;
        }

    } else {
        ops = root;
    }

    n = 0;
    for (it = ops->items; it; it = it->next) {
        n++;
    }

    mf->docs = fql_calloc(a, (n ? n : 1) * sizeof(fql_manifest_doc_t));
    if (mf->docs == NULL) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }

    for (i = 0, it = ops->items; it; it = it->next, i++) {
        if (ops == root) {
            /* "id": "document" */
            if (fql_manifest_add(a, &mf->docs[i], it->key, it, NULL, i,
                                 err, errlen) != 0)
            {
                return -1;
            }

            continue;
        }

        fmt = fql_jval_member(it, "id");

        if (it->kind != FQL_J_OBJECT || fmt == NULL
            || fmt->kind != FQL_J_STRING)
        {
            snprintf(err, errlen, "operation %u: no \"id\" string", i);
            return -1;
        }

        if (fql_manifest_add(a, &mf->docs[i], fmt->str,
                             fql_jval_member(it, "body"),
                             fql_jval_member(it, "name"), i, err, errlen)
            != 0)
        {
            return -1;
        }
    }

    mf->n = n;

    qsort(mf->docs, n, sizeof(fql_manifest_doc_t), fql_manifest_cmp);

    for (i = 1; i < n; i++) {
        if (fql_manifest_cmp(&mf->docs[i - 1], &mf->docs[i]) == 0) {
            snprintf(err, errlen, "the id \"%.*s\" is there twice",
                     (int) mf->docs[i].id.len, mf->docs[i].id.data);
            return -1;
        }
    }

    *m = mf;

    return 0;
}


int
fql_manifest_check(const fql_manifest_t *m, const fql_engine_t *eng,
    char *err, size_t errlen)
{
    int                  rc;
    unsigned             i;
    fql_vctx_t           v;
    fql_arena_t         *a;
    fql_errors_t         errs;
    fql_document_t      *doc;
    fql_parse_error_t    perr;
    const fql_manifest_doc_t  *d;

    for (i = 0; i < m->n; i++) {
        d = &m->docs[i];

        a = fql_arena_heap_create();
        if (a == NULL) {
            snprintf(err, errlen, "out of memory");
            return -1;
        }

        fql_errors_init(&errs, a);

        rc = fql_parse_document(a, d->body.data, d->body.len, &eng->parse,
                                &doc, &perr);

        if (rc != 0) {
            snprintf(err, errlen, "document \"%.*s\"%s%.*s%s: %u:%u: %s",
                     (int) d->id.len, d->id.data, d->name.len ? " (" : "",
                     (int) d->name.len, d->name.data,
                     d->name.len ? ")" : "", perr.loc.line, perr.loc.column,
                     perr.message);
            fql_arena_heap_destroy(a);
            return -1;
        }

        memset(&v, 0, sizeof(v));
        v.arena = a;
        v.schema = eng->schema;
        v.doc = doc;
        v.errs = &errs;

        if (fql_validate_document(&v) != 0) {
            snprintf(err, errlen, "document \"%.*s\"%s%.*s%s: %u:%u: %s",
                     (int) d->id.len, d->id.data, d->name.len ? " (" : "",
                     (int) d->name.len, d->name.data,
                     d->name.len ? ")" : "",
                     errs.head ? errs.head->loc.line : 0,
                     errs.head ? errs.head->loc.column : 0,
                     errs.head ? errs.head->message : "invalid");
            fql_arena_heap_destroy(a);
            return -1;
        }

        fql_arena_heap_destroy(a);
    }

    return 0;
}


const fql_manifest_doc_t *
fql_manifest_find(const fql_manifest_t *m, const char *id, size_t len)
{
    fql_manifest_doc_t  key;

    if (m == NULL || m->n == 0) {
        return NULL;
    }

    key.id.data = (char *) id;
    key.id.len = len;

    return bsearch(&key, m->docs, m->n, sizeof(fql_manifest_doc_t),
                   fql_manifest_cmp);
}
