/*
 * GraphQL over HTTP: the request (POST body or GET parameters), media
 * types, status codes, and error-only responses.
 */

#include "ngx_http_fraiseql.h"
#include "fql_request.h"


static void ngx_http_fraiseql_body_handler(ngx_http_request_t *r);
static void ngx_http_fraiseql_process(ngx_http_request_t *r,
    u_char *body, size_t len);
static ngx_int_t ngx_http_fraiseql_get_params(ngx_http_request_t *r,
    fql_request_t *req, fql_errors_t *errs);


static void *
ngx_http_fraiseql_arena_alloc(void *ctx, size_t size)
{
    return ngx_palloc(ctx, size);
}


void
ngx_http_fraiseql_arena_init(fql_arena_t *a, ngx_pool_t *pool)
{
    a->alloc = ngx_http_fraiseql_arena_alloc;
    a->ctx = pool;
}


/* application/graphql-response+json when Accept prefers it (fql_request.c) */
static ngx_uint_t
ngx_http_fraiseql_wants_graphql_response(ngx_http_request_t *r)
{
    ngx_table_elt_t  *accept;

    accept = r->headers_in.accept;

    return accept != NULL
           && fql_accept_graphql_response((char *) accept->value.data,
                                          accept->value.len);
}


/*
 * An answer before the body is read: the body is discarded first (or the
 * connection closed), else on a keep-alive connection it would be read
 * as the next request, one the client never sent through its proxy.
 */
static ngx_int_t
ngx_http_fraiseql_refuse(ngx_http_request_t *r, ngx_uint_t status,
    const char *msg)
{
    ngx_int_t     rc;
    fql_arena_t   arena;
    fql_errors_t  errs;

    rc = ngx_http_discard_request_body(r);
    if (rc != NGX_OK) {
        return rc;
    }

    ngx_http_fraiseql_arena_init(&arena, r->pool);
    fql_errors_init(&errs, &arena);

    if (fql_error_add(&errs, NULL, FQL_CODE_BAD_REQUEST, "%s", msg) == NULL)
    {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    return ngx_http_fraiseql_send_errors(r, status, &errs,
                                  ngx_http_fraiseql_wants_graphql_response(r));
}


ngx_int_t
ngx_http_fraiseql_handler(ngx_http_request_t *r)
{
    ngx_int_t                 rc;
    ngx_uint_t                first;
    ngx_pool_cleanup_t       *cln;
    ngx_http_fraiseql_ctx_t  *ctx;

    /* CORS on every answer, a preflight, the GraphiQL page (web.c) */
    rc = ngx_http_fraiseql_web(r);
    if (rc != NGX_DECLINED) {
        return rc;
    }

    if (!(r->method & (NGX_HTTP_GET|NGX_HTTP_HEAD|NGX_HTTP_POST))) {
        return ngx_http_fraiseql_refuse(r, NGX_HTTP_NOT_ALLOWED,
                                        "GraphQL is served over GET and "
                                        "POST only");
    }

    ctx = ngx_pcalloc(r->pool, sizeof(ngx_http_fraiseql_ctx_t));
    if (ctx == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    ctx->r = r;
    ctx->obs.start = ngx_http_fraiseql_now_us();
    ctx->lcf = ngx_http_get_module_loc_conf(r, ngx_http_fraiseql_module);
    ngx_http_fraiseql_arena_init(&ctx->arena, r->pool);
    fql_errors_init(&ctx->errs, &ctx->arena);
    ctx->graphql_response = ngx_http_fraiseql_wants_graphql_response(r);

    ngx_http_set_ctx(r, ctx, ngx_http_fraiseql_module);

    /* counted even when another location answers it (observe.c) */
    if (ngx_http_fraiseql_metrics != NULL) {
        cln = ngx_pool_cleanup_add(r->pool, 0);
        if (cln == NULL) {
            return NGX_HTTP_INTERNAL_SERVER_ERROR;
        }

        cln->handler = ngx_http_fraiseql_observe_cleanup;
        cln->data = ctx;
    }

    /* a request of a batch: its own item of the body's array */
    ctx->batch.elem = ngx_http_fraiseql_batch_item(r, &first);
    ctx->batch.first = first;

    if (ctx->batch.elem != NULL) {
        ctx->batch.parent = ngx_http_get_module_ctx(r->parent,
                                                    ngx_http_fraiseql_module);
    }

    return ngx_http_fraiseql_begin(r, ctx);
}


/*
 * Who asks, then the request: what the content handler returns.  Also
 * where a request that waited for a key set (auth.c) starts again.
 */
ngx_int_t
ngx_http_fraiseql_begin(ngx_http_request_t *r, ngx_http_fraiseql_ctx_t *ctx)
{
    ngx_int_t  rc;

    /* who asks, before a body is read or anything is compiled */
    rc = ngx_http_fraiseql_auth(r, ctx);

    if (rc == NGX_AGAIN) {
        /* waiting for the keys: auth.c wakes the request */
        r->main->count++;
        return NGX_DONE;
    }

    if (rc != NGX_DECLINED) {
        return rc;
    }

    /* request zones: the caller is known, the body not read yet (a
     * batch's first request was counted with the batch) */
    rc = ctx->batch.elem && ctx->batch.first
         ? NGX_DECLINED : ngx_http_fraiseql_limit_check(ctx, 0, 0);

    if (rc == NGX_AGAIN) {
        /* delayed: the zone's timer reads on */
        r->main->count++;
        return NGX_DONE;
    }

    if (rc != NGX_DECLINED) {
        return rc;
    }

    return ngx_http_fraiseql_read(r, ctx);
}


/* the request's parameters: GET's at once, POST's body when it is read */
ngx_int_t
ngx_http_fraiseql_read(ngx_http_request_t *r, ngx_http_fraiseql_ctx_t *ctx)
{
    ngx_int_t         rc;
    ngx_table_elt_t  *ct;

    if (r->method & (NGX_HTTP_GET|NGX_HTTP_HEAD)) {
        rc = ngx_http_discard_request_body(r);
        if (rc != NGX_OK) {
            return rc;
        }

        r->main->count++;
        ngx_http_fraiseql_process(r, NULL, 0);

        return NGX_DONE;
    }

    ct = r->headers_in.content_type;

    if (ct == NULL) {
        return ngx_http_fraiseql_refuse(r, NGX_HTTP_UNSUPPORTED_MEDIA_TYPE,
                                        "A POST request needs a "
                                        "Content-Type: application/json");
    }

    if (!fql_media_is((char *) ct->value.data, ct->value.len,
                      "application/json")
        && !fql_media_is((char *) ct->value.data, ct->value.len,
                         "application/graphql+json"))
    {
        return ngx_http_fraiseql_refuse(r, NGX_HTTP_UNSUPPORTED_MEDIA_TYPE,
                                        "Unsupported Content-Type: send "
                                        "application/json");
    }

    rc = ngx_http_read_client_request_body(r,
                                           ngx_http_fraiseql_body_handler);

    if (rc >= NGX_HTTP_SPECIAL_RESPONSE) {
        return rc;
    }

    return NGX_DONE;
}


static void
ngx_http_fraiseql_body_handler(ngx_http_request_t *r)
{
    size_t        len;
    ssize_t       n;
    u_char       *body, *p;
    ngx_buf_t    *b;
    ngx_chain_t  *cl;

    if (r->request_body == NULL) {
        ngx_http_fraiseql_process(r, (u_char *) "", 0);
        return;
    }

    len = 0;
    for (cl = r->request_body->bufs; cl; cl = cl->next) {
        len += ngx_buf_size(cl->buf);
    }

    body = ngx_pnalloc(r->pool, len + 1);
    if (body == NULL) {
        ngx_http_finalize_request(r, NGX_HTTP_INTERNAL_SERVER_ERROR);
        return;
    }

    p = body;

    /* a body may come in several buffers, some of them in a temp file */
    for (cl = r->request_body->bufs; cl; cl = cl->next) {
        b = cl->buf;

        if (b->in_file) {
            n = ngx_read_file(b->file, p, b->file_last - b->file_pos,
                              b->file_pos);
            if (n != b->file_last - b->file_pos) {
                ngx_http_finalize_request(r,
                                          NGX_HTTP_INTERNAL_SERVER_ERROR);
                return;
            }

            p += n;
            continue;
        }

        p = ngx_cpymem(p, b->pos, b->last - b->pos);
    }

    *p = '\0';

    ngx_http_fraiseql_process(r, body, p - body);
}


/* a GET parameter, percent-decoded with '+' as space; data NULL: absent */
static ngx_int_t
ngx_http_fraiseql_arg(ngx_http_request_t *r, const char *name,
    fql_str_t *out)
{
    size_t      len;
    u_char     *src, *dst, *p, *start;
    ngx_str_t   raw;

    out->data = NULL;
    out->len = 0;

    len = ngx_strlen(name);

    if (ngx_http_arg(r, (u_char *) name, len, &raw) != NGX_OK) {
        return NGX_OK;
    }

    start = ngx_pnalloc(r->pool, raw.len + 1);
    if (start == NULL) {
        return NGX_ERROR;
    }

    /* '+' means space in a query string; ngx_unescape_uri keeps it */
    ngx_memcpy(start, raw.data, raw.len);
    for (p = start; p < start + raw.len; p++) {
        if (*p == '+') {
            *p = ' ';
        }
    }

    /* decoding never writes ahead of where it reads: in place is fine */
    src = start;
    dst = start;
    ngx_unescape_uri(&dst, &src, raw.len, 0);
    *dst = '\0';

    out->data = (char *) start;
    out->len = dst - start;

    return NGX_OK;
}


static ngx_int_t
ngx_http_fraiseql_get_params(ngx_http_request_t *r, fql_request_t *req,
    fql_errors_t *errs)
{
    fql_str_t    query, op, vars, ext, id;
    fql_arena_t  arena;

    if (ngx_http_fraiseql_arg(r, "query", &query) != NGX_OK
        || ngx_http_fraiseql_arg(r, "operationName", &op) != NGX_OK
        || ngx_http_fraiseql_arg(r, "variables", &vars) != NGX_OK
        || ngx_http_fraiseql_arg(r, "extensions", &ext) != NGX_OK
        || ngx_http_fraiseql_arg(r, "documentId", &id) != NGX_OK)
    {
        return NGX_ERROR;
    }

    ngx_http_fraiseql_arena_init(&arena, r->pool);

    if (fql_request_from_params(&arena, query, op, vars, ext, id, req, errs)
        != 0)
    {
        return NGX_DECLINED;
    }

    return NGX_OK;
}


/* the request is over: its cached plan may be evicted again */
static void
ngx_http_fraiseql_cache_cleanup(void *data)
{
    ngx_http_fraiseql_ctx_t  *ctx = data;

    fql_cache_release(ctx->cache.entry);
    ctx->cache.entry = NULL;
}


/* a body whose first character (after white space) opens an array */
static ngx_uint_t
ngx_http_fraiseql_is_array(u_char *p, size_t len)
{
    u_char  *last = p + len;

    while (p < last && (*p == ' ' || *p == '\t' || *p == '\r'
                        || *p == '\n'))
    {
        p++;
    }

    return p < last && *p == '[';
}


/* parse, validate, compile, then hand over to the executor */
static void
ngx_http_fraiseql_process(ngx_http_request_t *r, u_char *body, size_t len)
{
    int                             crc;
    ngx_int_t                       rc;
    ngx_uint_t                      gql, status;
    fql_request_t                   req;
    ngx_pool_cleanup_t             *cln;
    ngx_http_fraiseql_ctx_t        *ctx;
    ngx_http_fraiseql_loc_conf_t   *flcf;
    ngx_http_fraiseql_main_conf_t  *fmcf;

    ctx = ngx_http_get_module_ctx(r, ngx_http_fraiseql_module);
    flcf = ctx->lcf;
    gql = ctx->graphql_response;

    if (ctx->batch.elem != NULL) {
        rc = fql_request_from_jval(ctx->batch.elem, &req, &ctx->errs) == 0
             ? NGX_OK : NGX_DECLINED;

    } else if (body == NULL) {
        rc = ngx_http_fraiseql_get_params(r, &req, &ctx->errs);
        if (rc == NGX_ERROR) {
            ngx_http_finalize_request(r, NGX_HTTP_INTERNAL_SERVER_ERROR);
            return;
        }

    } else if (ngx_http_fraiseql_is_array(body, len)) {
        rc = ngx_http_fraiseql_batch_start(r, ctx, body, len);

        if (rc != NGX_DONE) {
            ngx_http_finalize_request(r, rc);
        }

        return;

    } else {
        rc = fql_request_from_json(&ctx->arena, (char *) body, len, &req,
                                   &ctx->errs) == 0 ? NGX_OK : NGX_DECLINED;
    }

    if (rc != NGX_OK) {
        ngx_http_finalize_request(r,
            ngx_http_fraiseql_send_errors(r, NGX_HTTP_BAD_REQUEST,
                                          &ctx->errs, gql));
        return;
    }

    /* a document named rather than sent, or only trusted ones */
    rc = ngx_http_fraiseql_persist(ctx, &req);

    if (rc != NGX_OK) {
        ngx_http_finalize_request(r, rc == NGX_ERROR
            ? NGX_HTTP_INTERNAL_SERVER_ERROR
            : ngx_http_fraiseql_send_errors(r, ctx->persist.status,
                                            &ctx->errs, gql));
        return;
    }

    /* for $fraiseql_document_hash */
    ctx->obs.document = req.query;

    /* refused before the lexer reads it: what a document costs is its size */
    if (flcf->max_document_size && req.query.len > flcf->max_document_size) {
        fql_error_add(&ctx->errs, NULL, FQL_CODE_LIMIT,
                      "The document is %zu bytes long, more than %zu "
                      "(fraiseql_max_document_size).", req.query.len,
                      flcf->max_document_size);
        ngx_http_finalize_request(r,
            ngx_http_fraiseql_send_errors(r, gql ? NGX_HTTP_BAD_REQUEST
                                                 : NGX_HTTP_OK,
                                          &ctx->errs, gql));
        return;
    }

    fmcf = ngx_http_get_module_main_conf(r, ngx_http_fraiseql_module);

    /* the plan may be the cache's: hold it while the request lives */
    cln = ngx_pool_cleanup_add(r->pool, 0);
    if (cln == NULL) {
        ngx_http_finalize_request(r, NGX_HTTP_INTERNAL_SERVER_ERROR);
        return;
    }

    cln->handler = ngx_http_fraiseql_cache_cleanup;
    cln->data = ctx;

    /* what @fromClaim arguments and row filters are bound from */
    req.claims = ctx->auth.status == FQL_JWT_OK ? ctx->auth.jwt.claims
                                                : NULL;
    req.caller = &ctx->auth.caller;

    crc = fql_cache_plan(fmcf->cache, &ctx->arena, &flcf->engine, &req,
                         &ctx->plan, &ctx->errs, &ctx->cache);
    ctx->obs.planned = 1;

    ngx_log_debug1(NGX_LOG_DEBUG_HTTP, r->connection->log, 0,
                   "fraiseql plan: %s", ctx->cache.hit ? "cache hit"
                                                      : "compiled");

    if (ctx->cache.parse_failed) {
        /* a document error is 200 with application/json, 400 otherwise */
        ngx_http_finalize_request(r,
            ngx_http_fraiseql_send_errors(r, gql ? NGX_HTTP_BAD_REQUEST
                                                 : NGX_HTTP_OK,
                                          &ctx->errs, gql));
        return;
    }

    /* a batch's requests are its POST's */
    if ((r->main->method & (NGX_HTTP_GET|NGX_HTTP_HEAD))
        && ctx->cache.op != -1 && ctx->cache.op != FQL_OP_QUERY)
    {
        fql_errors_init(&ctx->errs, &ctx->arena);
        fql_error_add(&ctx->errs, NULL, FQL_CODE_BAD_REQUEST,
                      "Only queries can be sent with GET; use POST "
                      "for a %s.", ctx->cache.op == FQL_OP_MUTATION
                                   ? "mutation" : "subscription");
        ngx_http_finalize_request(r,
            ngx_http_fraiseql_send_errors(r, NGX_HTTP_NOT_ALLOWED,
                                          &ctx->errs, gql));
        return;
    }

    if (crc == 0) {
        /* an APQ document, valid: the next may send only its hash */
        ngx_http_fraiseql_persist_register(ctx, req.query);
    }

    if (crc != 0) {
        status = gql ? NGX_HTTP_BAD_REQUEST : NGX_HTTP_OK;

        /* out of memory is ours, not the client's */
        if (ctx->errs.head != NULL
            && ngx_strcmp(ctx->errs.head->code, FQL_CODE_INTERNAL) == 0)
        {
            status = NGX_HTTP_INTERNAL_SERVER_ERROR;
        }

        /*
         * An argument needs a claim the request's token does not have.
         * Codes are compared as text: the same literal in two files need
         * not be one object (it is not under AddressSanitizer).
         */
        if (ctx->errs.head != NULL
            && ngx_strcmp(ctx->errs.head->code, FQL_CODE_UNAUTHENTICATED)
               == 0)
        {
            status = NGX_HTTP_UNAUTHORIZED;
            ngx_http_fraiseql_add_header(r, "WWW-Authenticate", "Bearer");
        }

        ngx_http_finalize_request(r,
            ngx_http_fraiseql_send_errors(r, status, &ctx->errs, gql));
        return;
    }

    /* the schema's rules for this caller: one bit test per rule met */
    if (ctx->plan->needs != NULL
        && fql_plan_authorize(&ctx->arena, &ctx->plan, &ctx->auth.caller,
                              flcf->auth.denied_null, &ctx->errs) != 0)
    {
        ngx_log_error(NGX_LOG_INFO, r->connection->log, 0,
                      "fraiseql: refused: %s", ctx->errs.head
                                               ? ctx->errs.head->message
                                               : "no memory");
        ngx_http_finalize_request(r,
            ngx_http_fraiseql_send_errors(r,
                ctx->errs.head != NULL
                && ngx_strcmp(ctx->errs.head->code, FQL_CODE_FORBIDDEN) == 0
                ? NGX_HTTP_FORBIDDEN : NGX_HTTP_INTERNAL_SERVER_ERROR,
                &ctx->errs, gql));
        return;
    }

    /* what it costs, before any SQL: a ceiling, then the cost zones */
    if (flcf->limit.max_cost || flcf->limit.points || flcf->limit.extensions)
    {
        if (fql_plan_check_cost(ctx->plan, flcf->limit.max_cost,
                                &ctx->limit.cost, &ctx->errs) != 0)
        {
            ngx_log_error(NGX_LOG_INFO, r->connection->log, 0,
                          "fraiseql: refused: %s", ctx->errs.head->message);
            ngx_http_finalize_request(r,
                ngx_http_fraiseql_send_errors(r, gql ? NGX_HTTP_BAD_REQUEST
                                                     : NGX_HTTP_OK,
                                              &ctx->errs, gql));
            return;
        }

        rc = ngx_http_fraiseql_limit_check(ctx, 1, ctx->limit.cost);

        if (rc == NGX_AGAIN) {
            /* delayed: the zone's timer runs it */
            return;
        }

        if (rc != NGX_DECLINED) {
            ngx_http_finalize_request(r, rc);
            return;
        }
    }

    rc = ngx_http_fraiseql_execute(ctx);

    if (rc != NGX_DONE) {
        ngx_http_finalize_request(r, rc);
    }
}
