/*
 * Batches: a POST body that is a JSON array of requests (Apollo's batch
 * HTTP link) is answered with the array of their answers, in order.
 *
 * Each request of the batch runs as a subrequest of the location: each is
 * a request of its own for authentication, authorization, the rate and
 * cost zones and the plan cache, and each writes its whole answer (data,
 * or errors) through nginx's postpone filter, which keeps the order.  The
 * request itself writes the brackets and commas.
 *
 * They start one after the other, but a query does not wait for its
 * rows before the next starts: once compiled and allowed, its statements
 * are gathered (ngx_http_fraiseql_gather in exec.c) and the next request
 * begins.  The gathered statements of the whole batch go in one pipeline
 * on one connection, with one Sync, once the last request is in: one
 * round trip for the batch, as for the root fields of one request.  A
 * mutation waits until what was gathered before it is done, and the
 * requests after it until it is: mutations run in the order listed, each
 * seeing what came before.
 */

#include "ngx_http_fraiseql.h"


static void ngx_http_fraiseql_batch_next(ngx_http_request_t *r);
static void ngx_http_fraiseql_batch_go(ngx_http_fraiseql_ctx_t *ctx);
static void ngx_http_fraiseql_batch_resume(ngx_event_t *ev);
static void ngx_http_fraiseql_batch_cleanup(void *data);
static void ngx_http_fraiseql_batch_obs(ngx_http_fraiseql_ctx_t *ctx,
    ngx_http_fraiseql_ctx_t *sctx);


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

    ngx_http_fraiseql_ctx_t  *sctx;

    /* nginx may call this again, when the subrequest's output goes out */
    sctx = ngx_http_get_module_ctx(sr, ngx_http_fraiseql_module);

    if (sctx == NULL || !sctx->batch.ended) {
        if (sctx != NULL) {
            sctx->batch.ended = 1;
            ngx_http_fraiseql_batch_obs(ctx, sctx);
        }

        /* each request of a batch counts as an operation */
        ngx_http_fraiseql_observe_request(sr);

        ctx->batch.pending--;
    }

    /*
     * The request's write handler goes on with the next.  nginx posts it
     * only when the subrequest is the one writing: one that ended while
     * another's answer goes out does it here.
     */
    if (sr == ctx->batch.current && ctx->batch.running) {
        ctx->batch.running = 0;

        if (ngx_http_post_request(ctx->r, NULL) != NGX_OK) {
            return NGX_ERROR;
        }
    }

    return rc;
}


/* what a request of the batch did adds to the batch's, for the log */
static void
ngx_http_fraiseql_batch_obs(ngx_http_fraiseql_ctx_t *ctx,
    ngx_http_fraiseql_ctx_t *sctx)
{
    ngx_http_fraiseql_obs_t  *o = &ctx->obs, *so = &sctx->obs;

    if (so->db_start
        && (o->db_start == 0 || so->db_start < o->db_start))
    {
        o->db_start = so->db_start;
    }

    if (so->db_end > o->db_end) {
        o->db_end = so->db_end;
    }

    o->wait += so->wait;
    o->rows += so->rows;
    o->nerrors += so->nerrors;
    o->db_error |= so->db_error;

    if (o->code == NULL) {
        o->code = so->code;
    }
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

    ctx->batch.current = sr;
    ctx->batch.pending++;

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
    ngx_int_t            rc;
    ngx_uint_t           n;
    fql_jval_t          *root, *it;
    ngx_http_cleanup_t  *cln;

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
    ctx->batch.pipe_last = &ctx->batch.pipe;

    cln = ngx_http_cleanup_add(r, 0);
    if (cln == NULL) {
        return NGX_ERROR;
    }

    cln->handler = ngx_http_fraiseql_batch_cleanup;
    cln->data = ctx;

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


/*
 * A request of the batch ended, or gathered its statements: the next, or
 * once all are in, the gathered statements go and the answer ends when
 * every request has.  The postpone filter is given its turn too: a
 * request that ended hands the answer on to the next.
 */
static void
ngx_http_fraiseql_batch_next(ngx_http_request_t *r)
{
    ngx_http_fraiseql_ctx_t  *ctx;

    ctx = ngx_http_get_module_ctx(r, ngx_http_fraiseql_module);

    if (ctx == NULL) {
        return;
    }

    if (ngx_http_output_filter(r, NULL) == NGX_ERROR) {
        ngx_http_finalize_request(r, NGX_ERROR);
        return;
    }

    if (ctx->batch.running) {
        return;
    }

    if (ctx->batch.item != NULL) {
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

        /* every request is in: what they gathered goes */
        ngx_http_fraiseql_batch_go(ctx);
    }

    if (ctx->batch.pending) {
        return;
    }

    r->write_event_handler = ngx_http_request_empty_handler;

    ngx_http_finalize_request(r, ngx_http_fraiseql_batch_put(r, "]\n", 1));
}


/* the statements gathered so far go, in one pipeline */
static void
ngx_http_fraiseql_batch_go(ngx_http_fraiseql_ctx_t *ctx)
{
    ngx_http_fraiseql_slot_t  *first;

    first = ctx->batch.pipe;

    if (first == NULL) {
        return;
    }

    ctx->batch.pipe = NULL;
    ctx->batch.pipe_last = &ctx->batch.pipe;

    ngx_http_fraiseql_pipe_go(first);
}


/*
 * A request of the batch gathered its statements (exec.c): the batch goes
 * on with its next request.
 */
void
ngx_http_fraiseql_batch_gathered(ngx_http_fraiseql_ctx_t *ctx)
{
    ngx_http_fraiseql_ctx_t  *pctx = ctx->batch.parent;

    if (pctx->batch.current == ctx->r && pctx->batch.running) {
        pctx->batch.running = 0;
        (void) ngx_http_post_request(pctx->r, NULL);
    }
}


/*
 * A mutation of the batch runs once what was gathered before it is done:
 * whether it waits (ngx_http_fraiseql_batch_slot_done wakes it).
 */
ngx_uint_t
ngx_http_fraiseql_batch_wait(ngx_http_fraiseql_ctx_t *ctx)
{
    ngx_http_fraiseql_ctx_t  *pctx = ctx->batch.parent;

    if (ctx->plan->op == FQL_OP_QUERY || pctx->batch.inflight == 0) {
        return 0;
    }

    ngx_log_debug1(NGX_LOG_DEBUG_HTTP, ctx->r->connection->log, 0,
                   "fraiseql batch: a mutation waits for %ui statements",
                   pctx->batch.inflight);

    pctx->batch.waiting = ctx;
    ngx_http_fraiseql_batch_go(pctx);

    return 1;
}


/* a gathered slot is done (or its request ended) */
void
ngx_http_fraiseql_batch_slot_done(ngx_http_fraiseql_slot_t *s)
{
    ngx_http_fraiseql_ctx_t  *pctx = s->ctx->batch.parent;

    s->gathered = 0;

    if (--pctx->batch.inflight == 0 && pctx->batch.waiting != NULL
        && !pctx->batch.waiting->finished && !pctx->batch.resume.posted)
    {
        pctx->batch.resume.handler = ngx_http_fraiseql_batch_resume;
        pctx->batch.resume.data = pctx;
        pctx->batch.resume.log = pctx->r->connection->log;

        ngx_post_event(&pctx->batch.resume, &ngx_posted_events);
    }
}


static void
ngx_http_fraiseql_batch_resume(ngx_event_t *ev)
{
    ngx_http_fraiseql_ctx_t  *pctx = ev->data;

    ngx_http_fraiseql_ctx_t  *ctx;

    ctx = pctx->batch.waiting;
    pctx->batch.waiting = NULL;

    if (ctx != NULL && !ctx->finished) {
        ngx_http_fraiseql_run(ctx);
    }

    ngx_http_run_posted_requests(pctx->r->connection);
}


/*
 * A request of the batch ends (exec.c's cleanup): its slots leave the
 * pipeline still being gathered, and count as done.
 */
void
ngx_http_fraiseql_batch_leave(ngx_http_fraiseql_ctx_t *ctx)
{
    ngx_uint_t                  i;
    ngx_http_fraiseql_ctx_t    *pctx = ctx->batch.parent;
    ngx_http_fraiseql_slot_t  **pp, *s;

    if (pctx->batch.waiting == ctx) {
        pctx->batch.waiting = NULL;
    }

    for (pp = &pctx->batch.pipe; *pp != NULL; /* void */) {
        s = *pp;

        if (s->ctx == ctx) {
            *pp = s->pipe_next;
            s->pipe_next = NULL;

        } else {
            pp = &s->pipe_next;
        }
    }

    pctx->batch.pipe_last = pp;

    for (i = 0; i < ctx->nslots; i++) {
        if (ctx->slots[i].gathered) {
            ngx_http_fraiseql_batch_slot_done(&ctx->slots[i]);
        }
    }
}


/* the batch's request goes away: nothing of it stays posted */
static void
ngx_http_fraiseql_batch_cleanup(void *data)
{
    ngx_http_fraiseql_ctx_t  *ctx = data;

    ctx->batch.waiting = NULL;

    if (ctx->batch.resume.posted) {
        ngx_delete_posted_event(&ctx->batch.resume);
    }
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

