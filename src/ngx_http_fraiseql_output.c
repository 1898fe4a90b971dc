/*
 * The answer: its headers, its bytes and the request's end.  The bytes
 * are written by the slots into buffers of
 * fraiseql_buffers, sent by the slot at the head of the response and held
 * by the others (and by the head while the client takes nothing).  What
 * is held past the memory budget goes to a temporary file, up to
 * fraiseql_max_temp_file_size, as nginx's proxy buffers an upstream
 * answer: the database connection is let go however slow the client.
 * Past both, a slot stops reading its rows (PostgreSQL waits), for at
 * most fraiseql_send_timeout while the client takes nothing.  An answer
 * of errors alone is written at once (ngx_http_fraiseql_send_errors).
 */

#include "ngx_http_fraiseql.h"


/* the tag of a temporary file's buffers: freed after sending, not reused */
static u_char  ngx_http_fraiseql_file_tag;


static ngx_int_t ngx_http_fraiseql_spill(ngx_http_fraiseql_ctx_t *ctx,
    ngx_http_fraiseql_slot_t *s);
static void ngx_http_fraiseql_hold_timeout(ngx_event_t *ev);
static void ngx_http_fraiseql_flush_handler(ngx_event_t *ev);
static void ngx_http_fraiseql_finalize_handler(ngx_event_t *ev);


static ngx_str_t  ngx_http_fraiseql_json_type =
    ngx_string("application/json");
static ngx_str_t  ngx_http_fraiseql_gql_type =
    ngx_string("application/graphql-response+json");


typedef struct {
    ngx_http_request_t  *r;
    ngx_chain_t         *out;
    ngx_chain_t        **last;
} ngx_http_fraiseql_membuf_t;


/*
 * The slot's current buffer joins what it holds (its out chain); an empty
 * one is free for another, unless kept to carry the answer's last_buf.
 */
static ngx_int_t
ngx_http_fraiseql_hold_buf(ngx_http_fraiseql_slot_t *s, ngx_uint_t keep)
{
    ngx_chain_t              *cl;
    ngx_http_fraiseql_ctx_t  *ctx = s->ctx;

    if (s->buf == NULL) {
        return NGX_OK;
    }

    s->buf->last = (u_char *) s->w.pos;

    cl = ngx_alloc_chain_link(ctx->r->pool);
    if (cl == NULL) {
        return NGX_ERROR;
    }

    cl->buf = s->buf;
    cl->next = NULL;

    if (s->buf->last > s->buf->pos || keep) {
        *s->last = cl;
        s->last = &cl->next;

    } else {
        /* nothing in it: free for another */
        cl->next = ctx->free;
        ctx->free = cl;
    }

    s->buf = NULL;
    s->w.pos = NULL;
    s->w.end = NULL;

    return NGX_OK;
}


ngx_int_t
ngx_http_fraiseql_slot_hold(ngx_http_fraiseql_slot_t *s)
{
    return ngx_http_fraiseql_hold_buf(s, 0);
}


/* whether another buffer stays within fraiseql_buffers */
static ngx_uint_t
ngx_http_fraiseql_within(ngx_http_fraiseql_ctx_t *ctx)
{
    return ctx->free != NULL
           || ctx->mem + ctx->lcf->buffers.size
              <= ctx->lcf->buffers.num * ctx->lcf->buffers.size;
}


/* what the slots hold in memory goes to disk, in document order */
static ngx_int_t
ngx_http_fraiseql_spill_all(ngx_http_fraiseql_ctx_t *ctx)
{
    ngx_uint_t  i;

    if (ctx->lcf->max_temp_file_size == 0) {
        return NGX_DECLINED;
    }

    for (i = ctx->head; i < ctx->nslots && ctx->free == NULL; i++) {
        if (ngx_http_fraiseql_spill(ctx, &ctx->slots[i]) == NGX_ERROR) {
            return NGX_ERROR;
        }
    }

    return ctx->free != NULL ? NGX_OK : NGX_DECLINED;
}


/*
 * The wbuf of a slot needs room: its current buffer is full.  A buffer
 * comes from those sent or spilled, else a new one within the budget,
 * else one freed by spilling what is held; past all that, a new one all
 * the same (a row is never cut), and the slot stops before its next row
 * (ngx_http_fraiseql_room).
 */
int
ngx_http_fraiseql_slot_reserve(fql_wbuf_t *w, size_t need)
{
    ngx_http_fraiseql_slot_t  *s = w->ctx;

    size_t                     size;
    ngx_buf_t                 *b;
    ngx_chain_t               *cl;
    ngx_http_fraiseql_ctx_t   *ctx = s->ctx;
    ngx_http_request_t        *r = ctx->r;

    if (s->buf != NULL) {
        if (s->streaming && !ctx->blocked) {
            if (ngx_http_fraiseql_flush_slot(s, 0) == NGX_ERROR) {
                /* the client is gone: stop here, quietly */
                ngx_http_fraiseql_abort(ctx, NGX_ERROR);
                return -1;
            }

        } else if (ngx_http_fraiseql_slot_hold(s) != NGX_OK) {
            return -1;
        }
    }

    size = ngx_max(need, ctx->lcf->buffers.size);

    if (!ngx_http_fraiseql_within(ctx)
        && ngx_http_fraiseql_spill_all(ctx) == NGX_ERROR)
    {
        ngx_http_fraiseql_abort(ctx, NGX_ERROR);
        return -1;
    }

    /* buffers that went out come back through ctx->free */
    cl = ngx_chain_get_free_buf(r->pool, &ctx->free);
    if (cl == NULL) {
        return -1;
    }

    b = cl->buf;
    ngx_free_chain(r->pool, cl);

    if (b->start == NULL || (size_t) (b->end - b->start) < size) {
        b->start = ngx_palloc(r->pool, size);
        if (b->start == NULL) {
            return -1;
        }

        b->end = b->start + size;
        ctx->mem += size;
    }

    b->pos = b->start;
    b->last = b->start;
    b->temporary = 1;
    b->flush = 0;
    b->last_buf = 0;
    b->tag = (ngx_buf_tag_t) &ngx_http_fraiseql_module;

    s->buf = b;
    w->pos = (char *) b->pos;
    w->end = (char *) b->end;

    return 0;
}


/*
 * May a slot read another row?  NGX_OK: yes, with room in its buffer or
 * within the budget (held buffers sent to the temporary file if need
 * be); NGX_DECLINED: not now, it waits for the client (or for the head
 * of the response); NGX_ERROR: the temporary file failed.
 *
 * The head of the response reads on while the client takes its output:
 * its buffers come back as they are sent.
 */
ngx_int_t
ngx_http_fraiseql_room(ngx_http_fraiseql_slot_t *slot)
{
    ngx_int_t                 rc;
    ngx_http_fraiseql_ctx_t  *ctx = slot->ctx;

    if ((slot->streaming && !ctx->blocked)
        || (slot->buf != NULL
            && (size_t) (slot->w.end - slot->w.pos)
               >= ctx->lcf->buffers.size / 4)
        || ngx_http_fraiseql_within(ctx))
    {
        return NGX_OK;
    }

    rc = ngx_http_fraiseql_spill_all(ctx);

    if (rc == NGX_DECLINED) {
        ngx_log_debug3(NGX_LOG_DEBUG_HTTP, ctx->r->connection->log, 0,
                       "fraiseql: no room for slot %ui: %uz bytes in "
                       "memory, %O in the file", slot->index, ctx->mem,
                       ctx->temp ? ctx->temp->offset : 0);
    }

    return rc;
}


/*
 * Writes the buffers a slot holds (full ones: its current buffer stays)
 * to the request's temporary file: one file buffer takes their place and
 * they return to ctx->free.  NGX_DECLINED: nothing to write, or no room
 * left in the file.
 */
static ngx_int_t
ngx_http_fraiseql_spill(ngx_http_fraiseql_ctx_t *ctx,
    ngx_http_fraiseql_slot_t *s)
{
    off_t                       size, start;
    ssize_t                     n;
    ngx_buf_t                  *b;
    ngx_chain_t               **ll, *cl, *mem, *next;
    ngx_temp_file_t            *tf;
    ngx_http_request_t         *r = ctx->r;
    ngx_http_core_loc_conf_t   *clcf;

    /* the memory buffers of the held chain: they all follow its files */
    ll = s->file ? &s->file->next : &s->out;
    size = 0;

    for (cl = *ll; cl; cl = cl->next) {
        size += cl->buf->last - cl->buf->pos;
    }

    if (size == 0
        || (ctx->temp ? ctx->temp->offset : 0) + size
           > ctx->lcf->max_temp_file_size)
    {
        return NGX_DECLINED;
    }

    tf = ctx->temp;

    if (tf == NULL) {
        tf = ngx_pcalloc(r->pool, sizeof(ngx_temp_file_t));
        if (tf == NULL) {
            return NGX_ERROR;
        }

        clcf = ngx_http_get_module_loc_conf(r, ngx_http_core_module);

        tf->file.fd = NGX_INVALID_FILE;
        tf->file.log = r->connection->log;
        tf->path = clcf->client_body_temp_path;
        tf->pool = r->pool;
        tf->log_level = NGX_LOG_WARN;
        tf->warn = "a GraphQL answer is buffered to a temporary file";
        tf->access = 0600;

        ctx->temp = tf;
    }

    mem = *ll;
    *ll = NULL;
    s->last = ll;

    start = tf->offset;

    n = ngx_write_chain_to_temp_file(tf, mem);

    if (n == NGX_ERROR || n != size) {
        ngx_log_error(NGX_LOG_ERR, r->connection->log, 0,
                      "fraiseql: cannot buffer an answer to a temporary "
                      "file");
        return NGX_ERROR;
    }

    tf->offset += n;

    /* the file's range: it extends the slot's last one when they meet */
    if (s->file != NULL && s->file->buf->file_last == start) {
        s->file->buf->file_last = tf->offset;

    } else {
        b = ngx_calloc_buf(r->pool);
        cl = ngx_alloc_chain_link(r->pool);
        if (b == NULL || cl == NULL) {
            return NGX_ERROR;
        }

        b->in_file = 1;
        b->file = &tf->file;
        b->file_pos = start;
        b->file_last = tf->offset;
        b->tag = (ngx_buf_tag_t) &ngx_http_fraiseql_file_tag;

        cl->buf = b;
        cl->next = NULL;
        *s->last = cl;
        s->last = &cl->next;
        s->file = cl;
    }

    /* the memory is free again; the value cannot be taken back now */
    for (cl = mem; cl; cl = next) {
        next = cl->next;

        if (cl->buf == s->value_buf) {
            s->value_sent = 1;
        }

        cl->buf->pos = cl->buf->start;
        cl->buf->last = cl->buf->start;
        cl->next = ctx->free;
        ctx->free = cl;
    }

    return NGX_OK;
}


/* sends what a streaming slot has: its held chain and its current buffer */
ngx_int_t
ngx_http_fraiseql_flush_slot(ngx_http_fraiseql_slot_t *s, ngx_uint_t last)
{
    ngx_chain_t  *out, *cl;

    if (ngx_http_fraiseql_hold_buf(s, last) != NGX_OK) {
        return NGX_ERROR;
    }

    out = s->out;
    s->out = NULL;
    s->last = &s->out;
    s->file = NULL;

    if (out == NULL) {
        return NGX_OK;
    }

    for (cl = out; cl->next; cl = cl->next) { /* void */ }

    /* a batch's answer is flushed at its end, not at each request's */
    cl->buf->flush = !last || s->ctx->r == s->ctx->r->main;

    if (last) {
        /* a batch's request ends its part, not the answer */
        cl->buf->last_buf = (s->ctx->r == s->ctx->r->main);
        cl->buf->last_in_chain = 1;
    }

    if (s->nrows) {
        s->value_sent = 1;
    }

    return ngx_http_fraiseql_send(s->ctx, out);
}


/*
 * The head of the response is done and hands what it holds to the next
 * slot, which holds nothing yet (next->out is NULL), instead of sending
 * it: it goes with what the next one writes, in one write to the client
 * (the next field's rows are often already there: a pipeline), and at
 * the latest at the end of this turn of the event loop
 * (ngx_http_fraiseql_flush_later).
 */
ngx_int_t
ngx_http_fraiseql_carry(ngx_http_fraiseql_slot_t *s,
    ngx_http_fraiseql_slot_t *next)
{
    if (ngx_http_fraiseql_hold_buf(s, 0) != NGX_OK) {
        return NGX_ERROR;
    }

    if (s->out == NULL) {
        return NGX_OK;
    }

    next->out = s->out;
    next->last = s->last;
    next->file = s->file;

    s->out = NULL;
    s->last = &s->out;
    s->file = NULL;

    return NGX_OK;
}


/* what the head holds goes out once this turn's events are handled */
void
ngx_http_fraiseql_flush_later(ngx_http_fraiseql_ctx_t *ctx)
{
    if (ctx->flush.posted || ctx->finished) {
        return;
    }

    ctx->flush.handler = ngx_http_fraiseql_flush_handler;
    ctx->flush.data = ctx;
    ctx->flush.log = ctx->r->connection->log;

    ngx_post_event(&ctx->flush, &ngx_posted_events);
}


static void
ngx_http_fraiseql_flush_handler(ngx_event_t *ev)
{
    ngx_http_fraiseql_ctx_t  *ctx = ev->data;

    ngx_connection_t          *c;
    ngx_http_fraiseql_slot_t  *s;

    c = ctx->r->connection;

    ngx_log_debug1(NGX_LOG_DEBUG_HTTP, c->log, 0,
                   "fraiseql flush handler, head %ui", ctx->head);

    if (ctx->finished || ctx->blocked || ctx->head >= ctx->nslots) {
        return;
    }

    s = &ctx->slots[ctx->head];

    if (s->out != NULL && ngx_http_fraiseql_flush_slot(s, 0) == NGX_ERROR) {
        ngx_http_fraiseql_abort(ctx, NGX_ERROR);
    }

    ngx_http_run_posted_requests(c);
}


/*
 * Passes out to the output filter (the header first).  The client is
 * "blocked" while our buffers wait in nginx's chain or a filter kept
 * some back: the write event tells when it takes more.
 */
ngx_int_t
ngx_http_fraiseql_send(ngx_http_fraiseql_ctx_t *ctx, ngx_chain_t *out)
{
    ngx_int_t                  rc;
    ngx_http_request_t        *r = ctx->r;
    ngx_http_core_loc_conf_t  *clcf;

    if (!ctx->header_sent) {
        ctx->header_sent = 1;

        r->headers_out.status = NGX_HTTP_OK;
        r->headers_out.content_length_n = -1;
        ngx_http_fraiseql_set_content_type(r, ctx->graphql_response);
        ngx_http_fraiseql_persist_headers(ctx);

        if (ngx_http_fraiseql_server_timing(ctx) != NGX_OK) {
            return NGX_ERROR;
        }

        rc = ngx_http_send_header(r);

        if (rc == NGX_ERROR || rc > NGX_OK) {
            return NGX_ERROR;
        }
    }

    if (r->header_only) {
        return NGX_OK;
    }

    rc = ngx_http_output_filter(r, out);

    ngx_chain_update_chains(r->pool, &ctx->free, &ctx->busy, &out,
                            (ngx_buf_tag_t) &ngx_http_fraiseql_module);

    if (rc == NGX_ERROR) {
        return NGX_ERROR;
    }

    ctx->blocked = (ctx->busy != NULL || rc == NGX_AGAIN);

    if (ctx->blocked && !ctx->finished) {
        ngx_http_fraiseql_hold(ctx);

        clcf = ngx_http_get_module_loc_conf(r, ngx_http_core_module);

        if (!r->connection->write->delayed) {
            ngx_add_timer(r->connection->write, clcf->send_timeout);
        }

        if (ngx_handle_write_event(r->connection->write, clcf->send_lowat)
            != NGX_OK)
        {
            return NGX_ERROR;
        }
    }

    return rc;
}


/*
 * The client takes nothing while slots wait for room (paused, their
 * connections held): they wait fraiseql_send_timeout at most.  Called
 * where either begins, whichever comes first.
 */
void
ngx_http_fraiseql_hold(ngx_http_fraiseql_ctx_t *ctx)
{
    ngx_uint_t  i;

    if (ctx->hold.timer_set || ctx->finished) {
        return;
    }

    for (i = ctx->head; i < ctx->nslots; i++) {
        if (ctx->slots[i].paused) {
            ctx->hold.handler = ngx_http_fraiseql_hold_timeout;
            ctx->hold.data = ctx;
            ctx->hold.log = ctx->r->connection->log;

            ngx_add_timer(&ctx->hold, ctx->lcf->send_timeout);
            return;
        }
    }
}


static void
ngx_http_fraiseql_hold_timeout(ngx_event_t *ev)
{
    ngx_http_fraiseql_ctx_t  *ctx = ev->data;

    ngx_connection_t  *c = ctx->r->connection;

    if (ctx->finished) {
        return;
    }

    ngx_log_error(NGX_LOG_INFO, c->log, NGX_ETIMEDOUT,
                  "fraiseql: the client took nothing for "
                  "fraiseql_send_timeout while a database connection waited");

    c->timedout = 1;
    ngx_http_fraiseql_abort(ctx, NGX_HTTP_REQUEST_TIME_OUT);
    ngx_http_run_posted_requests(c);
}


/* the answer cannot go on: connections let go, the request finalized */
void
ngx_http_fraiseql_abort(ngx_http_fraiseql_ctx_t *ctx, ngx_int_t rc)
{
    if (ctx->finished) {
        return;
    }

    ngx_log_debug1(NGX_LOG_DEBUG_HTTP, ctx->r->connection->log, 0,
                   "fraiseql: abort: %i", rc);

    ctx->finished = 1;
    ngx_http_fraiseql_cleanup(ctx);
    ngx_http_fraiseql_finalize(ctx, rc);
}


static void
ngx_http_fraiseql_finalize_handler(ngx_event_t *ev)
{
    ngx_http_fraiseql_ctx_t  *ctx = ev->data;

    ngx_connection_t    *c;
    ngx_http_request_t  *r;

    r = ctx->r;
    c = r->connection;

    ngx_log_debug1(NGX_LOG_DEBUG_HTTP, c->log, 0,
                   "fraiseql finalize: %i", ctx->rc);

    ngx_http_finalize_request(r, ctx->rc);
    ngx_http_run_posted_requests(c);
}


/*
 * Finalizes the request from the event loop, not from deep inside a
 * handler: a connection handed over or a slot failing may be several
 * frames above, all still using the context that finalizing frees.
 */
void
ngx_http_fraiseql_finalize(ngx_http_fraiseql_ctx_t *ctx, ngx_int_t rc)
{
    ctx->finished = 1;

    if (ctx->fin.posted || ctx->fin.handler != NULL) {
        return;
    }

    ctx->rc = rc;
    ctx->fin.handler = ngx_http_fraiseql_finalize_handler;
    ctx->fin.data = ctx;
    ctx->fin.log = ctx->r->connection->log;

    ngx_post_event(&ctx->fin, &ngx_posted_events);
}


/* request cleanup: whatever still holds or awaits a connection lets go */
void
ngx_http_fraiseql_cleanup(void *data)
{
    ngx_http_fraiseql_ctx_t  *ctx = data;

    ngx_uint_t                 i, queued;
    ngx_http_fraiseql_pgc_t   *pgc;
    ngx_http_fraiseql_slot_t  *s;

    ctx->finished = 1;

    /* the request is going away before the posted finalization ran */
    if (ctx->fin.posted) {
        ngx_delete_posted_event(&ctx->fin);
    }

    if (ctx->wake.posted) {
        ngx_delete_posted_event(&ctx->wake);
    }

    if (ctx->flush.posted) {
        ngx_delete_posted_event(&ctx->flush);
    }

    if (ctx->hold.timer_set) {
        ngx_del_timer(&ctx->hold);
    }

    if (ctx->restart.posted) {
        ngx_delete_posted_event(&ctx->restart);
    }

    /* a batch's request: its slots leave the batch's pipeline */
    if (ctx->batch.parent != NULL) {
        ngx_http_fraiseql_batch_leave(ctx);
    }

    for (i = 0; i < ctx->nslots; i++) {
        s = &ctx->slots[i];
        pgc = s->stmt.pgc;
        queued = (s->waiter.pool != NULL);

        if (s->state == NGX_HTTP_FRAISEQL_SLOT_WAITING) {
            ngx_http_fraiseql_pool_cancel_wait(&s->waiter);
        }

        /*
         * It held the connection, or waited for it, on behalf of a
         * pipeline that goes on with other requests of a batch: they
         * start again on their own.  (Its slots further on in a running
         * pipeline read and drop their results: exec.c.)
         */
        if (s->pipe_next != NULL && (pgc != NULL || queued)) {
            (void) ngx_http_fraiseql_pipe_break(s);
        }

        if (pgc != NULL) {
            s->stmt.pgc = NULL;
            ngx_http_fraiseql_pool_release(pgc, 0);
        }

        s->state = NGX_HTTP_FRAISEQL_SLOT_DONE;
    }
}


/* the answer's media type, chosen from Accept by the function below */
void
ngx_http_fraiseql_set_content_type(ngx_http_request_t *r,
    ngx_uint_t graphql_response)
{
    r->headers_out.content_type = graphql_response
                                  ? ngx_http_fraiseql_gql_type
                                  : ngx_http_fraiseql_json_type;
    r->headers_out.content_type_len = r->headers_out.content_type.len;
    r->headers_out.content_type_lowcase = NULL;
}


static int
ngx_http_fraiseql_membuf_reserve(fql_wbuf_t *w, size_t need)
{
    ngx_http_fraiseql_membuf_t  *mb = w->ctx;

    ngx_buf_t    *b;
    ngx_chain_t  *cl;

    if ((*mb->last) != NULL) {
        b = (*mb->last)->buf;
        b->last = (u_char *) w->pos;
        mb->last = &(*mb->last)->next;
    }

    b = ngx_create_temp_buf(mb->r->pool, ngx_max(need, 4096));
    if (b == NULL) {
        return -1;
    }

    cl = ngx_alloc_chain_link(mb->r->pool);
    if (cl == NULL) {
        return -1;
    }

    cl->buf = b;
    cl->next = NULL;
    *mb->last = cl;

    w->pos = (char *) b->pos;
    w->end = (char *) b->end;

    return 0;
}


/* a header of the answer; without memory for it, the answer goes on */
void
ngx_http_fraiseql_add_header(ngx_http_request_t *r, const char *key,
    const char *value)
{
    ngx_table_elt_t  *h;

    h = ngx_list_push(&r->headers_out.headers);
    if (h == NULL) {
        return;
    }

    h->hash = 1;
    h->key.data = (u_char *) key;
    h->key.len = ngx_strlen(key);
    h->value.data = (u_char *) value;
    h->value.len = ngx_strlen(value);
}


/* the answer has this header already (a caller said when to retry) */
static ngx_uint_t
ngx_http_fraiseql_has_header(ngx_http_request_t *r, const char *key)
{
    size_t            len;
    ngx_uint_t        i;
    ngx_list_part_t  *part;
    ngx_table_elt_t  *h;

    len = ngx_strlen(key);

    for (part = &r->headers_out.headers.part; part; part = part->next) {
        h = part->elts;

        for (i = 0; i < part->nelts; i++) {
            if (h[i].hash && h[i].key.len == len
                && ngx_strncasecmp(h[i].key.data, (u_char *) key, len) == 0)
            {
                return 1;
            }
        }
    }

    return 0;
}


/* an answer of errors only, with its status */
ngx_int_t
ngx_http_fraiseql_send_errors(ngx_http_request_t *r, ngx_uint_t status,
    fql_errors_t *errs, ngx_uint_t graphql_response)
{
    off_t                        len;
    ngx_int_t                    rc;
    ngx_str_t                    ext;
    ngx_chain_t                 *cl;
    fql_wbuf_t                   w;
    ngx_http_fraiseql_ctx_t     *ctx;
    ngx_http_fraiseql_membuf_t   mb;

    /* a refusal by a cost zone tells the cost (fraiseql_cost_extensions) */
    ctx = ngx_http_get_module_ctx(r, ngx_http_fraiseql_module);
    ext.len = 0;
    ext.data = NULL;

    if (ctx != NULL) {
        ext = ctx->limit.ext;
    }

    mb.r = r;
    mb.out = NULL;
    mb.last = &mb.out;

    w.pos = NULL;
    w.end = NULL;
    w.reserve = ngx_http_fraiseql_membuf_reserve;
    w.ctx = &mb;

    if (fql_wbuf_putc(&w, '{') != 0
        || fql_errors_write(errs, &w) != 0
        || (ext.len && fql_wbuf_put(&w, (char *) ext.data, ext.len) != 0)
        || fql_wbuf_lit(&w, "}\n") != 0)
    {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    (*mb.last)->buf->last = (u_char *) w.pos;

    len = 0;
    for (cl = mb.out; cl; cl = cl->next) {
        len += ngx_buf_size(cl->buf);
        if (cl->next == NULL) {
            cl->buf->last_buf = (r == r->main) ? 1 : 0;
            cl->buf->last_in_chain = 1;
        }
    }

    r->headers_out.status = status;
    r->headers_out.content_length_n = len;
    ngx_http_fraiseql_set_content_type(r, graphql_response);

    if (status == NGX_HTTP_NOT_ALLOWED) {
        /* refused to GET: a mutation, which only POST may carry */
        ngx_http_fraiseql_add_header(r, "Allow",
                                     (r->method & (NGX_HTTP_GET|NGX_HTTP_HEAD))
                                     ? "POST" : "GET, POST");
    }

    if (status == NGX_HTTP_SERVICE_UNAVAILABLE
        && !ngx_http_fraiseql_has_header(r, "Retry-After"))
    {
        ngx_http_fraiseql_add_header(r, "Retry-After", "1");
    }

    ngx_http_fraiseql_observe_errors(r, errs);

    if (ctx != NULL && ngx_http_fraiseql_server_timing(ctx) != NGX_OK) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    rc = ngx_http_send_header(r);

    if (rc == NGX_ERROR || rc > NGX_OK || r->header_only) {
        return rc;
    }

    return ngx_http_output_filter(r, mb.out);
}
