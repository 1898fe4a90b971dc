#include <string.h>
#include <strings.h>

#include "fql_request.h"


/* extensions.persistedQuery: {"version": 1, "sha256Hash": "<64 hex>"} */
static int
fql_request_apq(fql_jval_t *pq, fql_request_t *req, fql_errors_t *errs)
{
    int            hi, lo;
    unsigned       i;
    const char    *h;
    fql_jval_t    *v;

    v = fql_jval_member(pq, "version");

    if (pq->kind != FQL_J_OBJECT || v == NULL || v->kind != FQL_J_NUMBER
        || !fql_str_eqz(v->str, "1"))
    {
        fql_error_add(errs, NULL, FQL_CODE_BAD_REQUEST,
                      "\"persistedQuery\" must be an object of version 1");
        return -1;
    }

    v = fql_jval_member(pq, "sha256Hash");

    if (v == NULL || v->kind != FQL_J_STRING || v->str.len != 64) {
        fql_error_add(errs, NULL, FQL_CODE_BAD_REQUEST,
                      "\"sha256Hash\" must be 64 hexadecimal digits");
        return -1;
    }

    h = v->str.data;

    for (i = 0; i < 32; i++) {
        hi = h[2 * i];
        lo = h[2 * i + 1];
        hi = hi >= '0' && hi <= '9' ? hi - '0'
             : (hi | 0x20) >= 'a' && (hi | 0x20) <= 'f' ? (hi | 0x20) - 'a' + 10
             : -1;
        lo = lo >= '0' && lo <= '9' ? lo - '0'
             : (lo | 0x20) >= 'a' && (lo | 0x20) <= 'f' ? (lo | 0x20) - 'a' + 10
             : -1;

        if (hi < 0 || lo < 0) {
            fql_error_add(errs, NULL, FQL_CODE_BAD_REQUEST,
                          "\"sha256Hash\" must be 64 hexadecimal digits");
            return -1;
        }

        req->hash[i] = (unsigned char) (hi << 4 | lo);
    }

    req->has_hash = 1;

    return 0;
}


static int
fql_request_fill(fql_jval_t *q, fql_jval_t *op, fql_jval_t *vars,
    fql_jval_t *ext, fql_jval_t *id, fql_request_t *req, fql_errors_t *errs)
{
    fql_jval_t  *pq;

    if (ext != NULL && ext->kind == FQL_J_OBJECT) {
        pq = fql_jval_member(ext, "persistedQuery");

        if (pq != NULL && fql_request_apq(pq, req, errs) != 0) {
            return -1;
        }
    }

    if (id != NULL && id->kind != FQL_J_NULL) {
        if (id->kind != FQL_J_STRING || id->str.len == 0) {
            fql_error_add(errs, NULL, FQL_CODE_BAD_REQUEST,
                          "\"documentId\" must be a string");
            return -1;
        }

        req->document_id = id->str;
    }

    if (q == NULL || q->kind == FQL_J_NULL) {
        /* a persisted document's: the server finds its text */
        if (req->has_hash || req->document_id.data != NULL) {
            goto rest;
        }

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

rest:

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

    return fql_request_from_jval(root, req, errs);
}


int
fql_request_from_jval(fql_jval_t *root, fql_request_t *req,
    fql_errors_t *errs)
{
    memset(req, 0, sizeof(fql_request_t));

    if (root->kind != FQL_J_OBJECT) {
        fql_error_add(errs, NULL, FQL_CODE_BAD_REQUEST,
                      "The request body must be a JSON object");
        return -1;
    }

    return fql_request_fill(fql_jval_member(root, "query"),
                            fql_jval_member(root, "operationName"),
                            fql_jval_member(root, "variables"),
                            fql_jval_member(root, "extensions"),
                            fql_jval_member(root, "documentId"),
                            req, errs);
}


int
fql_request_from_params(fql_arena_t *a, fql_str_t query,
    fql_str_t operation_name, fql_str_t variables, fql_str_t extensions,
    fql_str_t document_id, fql_request_t *req, fql_errors_t *errs)
{
    fql_jval_t  q, op, id, *vars, *ext;

    memset(req, 0, sizeof(fql_request_t));
    memset(&q, 0, sizeof(fql_jval_t));
    memset(&op, 0, sizeof(fql_jval_t));
    memset(&id, 0, sizeof(fql_jval_t));

    if (document_id.data != NULL) {
        id.kind = FQL_J_STRING;
        id.str = document_id;
    }

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
                            vars, ext, document_id.data ? &id : NULL,
                            req, errs);
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
unsigned
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

