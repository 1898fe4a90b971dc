/*
 * Batches: a POST body that is a JSON array of requests (Apollo's batch
 * HTTP link) is answered with the array of their answers, in order.
 *
 * Each request of the batch runs as a subrequest of the location, one
 * after the other: each is a request of its own for authentication,
 * authorization, the rate and cost zones and the plan cache, and each
 * writes its whole answer (data, or errors) through nginx's postpone
 * filter, which keeps the order; mutations therefore run in the order
 * they are listed.  The request itself writes the brackets and commas.
 */

#include "ngx_http_fraiseql.h"


static void ngx_http_fraiseql_batch_next(ngx_http_request_t *r);


char *
ngx_http_fraiseql_batch(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    ngx_http_fraiseql_loc_conf_t  *flcf = conf;

    ngx_int_t   n;
    ngx_str_t  *value;

    if (flcf->batch != NGX_CONF_UNSET_UINT) {
        return "is duplicate";
    }

    value = cf->args->elts;

    if (ngx_strcmp(value[1].data, "off") == 0) {
        flcf->batch = 0;
        return NGX_CONF_OK;
    }

    n = ngx_atoi(value[1].data, value[1].len);

    if (n == NGX_ERROR || n < 1 || n > 1000) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0, "\"%V\" takes off or the "
                           "most operations a batch may have, 1 to 1000, "
                           "not \"%V\"", &cmd->name, &value[1]);
        return NGX_CONF_ERROR;
    }

    flcf->batch = n;

    return NGX_CONF_OK;
}


/* a piece of the answer of the request itself: [ , ] */
static ngx_int_t
ngx_http_fraiseql_batch_put(ngx_http_request_t *r, const char *s,
    ngx_uint_t last)
{
    ngx_buf_t    *b;
    ngx_chain_t   out;

    b = ngx_calloc_buf(r->pool);
    if (b == NULL) {
        return NGX_ERROR;
    }

    b->pos = (u_char *) s;
    b->last = b->pos + ngx_strlen(s);
    b->memory = 1;
    /* the array is of use to the client whole: one write at its end */
    b->flush = last;
    b->last_buf = last;
    b->last_in_chain = last;

    out.buf = b;
    out.next = NULL;

    return ngx_http_output_filter(r, &out);
}


static ngx_int_t
ngx_http_fraiseql_batch_done(ngx_http_request_t *sr, void *data,
    ngx_int_t rc)
{
    ngx_http_fraiseql_ctx_t  *ctx = data;

    /* the request's write handler goes on with the next */
    ctx->batch.running = 0;

    return rc;
}


/* the subrequest of the batch's next request */
static ngx_int_t
ngx_http_fraiseql_batch_spawn(ngx_http_request_t *r,
    ngx_http_fraiseql_ctx_t *ctx)
{
    ngx_http_request_t           *sr;
    ngx_http_post_subrequest_t   *ps;

    ps = ngx_palloc(r->pool, sizeof(ngx_http_post_subrequest_t));
    if (ps == NULL) {
        return NGX_ERROR;
    }

    ps->handler = ngx_http_fraiseql_batch_done;
    ps->data = ctx;

    ctx->batch.running = 1;

    if (ngx_http_subrequest(r, &r->uri, NULL, &sr, ps, 0) != NGX_OK) {
        return NGX_ERROR;
    }

    return NGX_OK;
}


/*
 * A batch's body, an array: the answer's header and "[", then its first
 * request.  Returns NGX_DONE (the batch runs), or what to finalize with
 * (an error answered).
 */
ngx_int_t
ngx_http_fraiseql_batch_start(ngx_http_request_t *r,
    ngx_http_fraiseql_ctx_t *ctx, u_char *body, size_t len)
{
    ngx_int_t      rc;
    ngx_uint_t     n;
    fql_jval_t    *root, *it;

    if (ctx->lcf->batch == 0) {
        fql_error_add(&ctx->errs, NULL, FQL_CODE_BAD_REQUEST, "Batches "
                      "are not taken here (fraiseql_batch): send one "
                      "request at a time.");
        return ngx_http_fraiseql_send_errors(r, NGX_HTTP_BAD_REQUEST,
                                             &ctx->errs,
                                             ctx->graphql_response);
    }

    root = fql_json_parse(&ctx->arena, (char *) body, len, &ctx->errs);
    if (root == NULL) {
        return ngx_http_fraiseql_send_errors(r, NGX_HTTP_BAD_REQUEST,
                                             &ctx->errs,
                                             ctx->graphql_response);
    }

    n = 0;
    for (it = root->items; it; it = it->next) {
        n++;
    }

    if (n == 0 || n > ctx->lcf->batch) {
        if (n == 0) {
            fql_error_add(&ctx->errs, NULL, FQL_CODE_BAD_REQUEST,
                          "The batch is empty.");

        } else {
            fql_error_add(&ctx->errs, NULL, FQL_CODE_BAD_REQUEST,
                          "The batch has %lu operations, more than %lu "
                          "(fraiseql_batch).", (unsigned long) n,
                          (unsigned long) ctx->lcf->batch);
        }

        return ngx_http_fraiseql_send_errors(r, NGX_HTTP_BAD_REQUEST,
                                             &ctx->errs,
                                             ctx->graphql_response);
    }

    ctx->batch.item = root->items;
    ctx->batch.index = 0;

    r->headers_out.status = NGX_HTTP_OK;
    r->headers_out.content_length_n = -1;
    ngx_http_fraiseql_set_content_type(r, ctx->graphql_response);

    rc = ngx_http_send_header(r);

    if (rc == NGX_ERROR || rc > NGX_OK || r->header_only) {
        return rc;
    }

    if (ngx_http_fraiseql_batch_put(r, "[", 0) == NGX_ERROR
        || ngx_http_fraiseql_batch_spawn(r, ctx) != NGX_OK)
    {
        return NGX_ERROR;
    }

    r->write_event_handler = ngx_http_fraiseql_batch_next;

    return NGX_DONE;
}


/* a request of the batch ended: the next, or the end */
static void
ngx_http_fraiseql_batch_next(ngx_http_request_t *r)
{
    ngx_http_fraiseql_ctx_t  *ctx;

    ctx = ngx_http_get_module_ctx(r, ngx_http_fraiseql_module);

    if (ctx == NULL || ctx->batch.running) {
        return;
    }

    ctx->batch.item = ctx->batch.item->next;
    ctx->batch.index++;

    if (ctx->batch.item != NULL) {
        if (ngx_http_fraiseql_batch_put(r, ",", 0) == NGX_ERROR
            || ngx_http_fraiseql_batch_spawn(r, ctx) != NGX_OK)
        {
            ngx_http_finalize_request(r, NGX_ERROR);
        }

        return;
    }

    r->write_event_handler = ngx_http_request_empty_handler;

    ngx_http_finalize_request(r, ngx_http_fraiseql_batch_put(r, "]\n", 1));
}


/*
 * A subrequest of a batch: the request of the body's array it runs, and
 * whether it is the first (the batch's own check of the request zones
 * counted it).  NULL: not a request of a batch.
 */
fql_jval_t *
ngx_http_fraiseql_batch_item(ngx_http_request_t *r, ngx_uint_t *first)
{
    ngx_http_fraiseql_ctx_t  *pctx;

    if (r == r->main) {
        return NULL;
    }

    pctx = ngx_http_get_module_ctx(r->parent, ngx_http_fraiseql_module);

    if (pctx == NULL || pctx->batch.item == NULL || !pctx->batch.running) {
        return NULL;
    }

    *first = (pctx->batch.index == 0);

    return pctx->batch.item;
}
