/*
 * Runs a compiled plan: one slot per root field, rows transformed as
 * they arrive.  The root fields of a query share one pooled connection:
 * their statements go in one pipeline, in one round trip, and their rows
 * come back one field after the other (ngx_http_fraiseql_pipe).
 * Otherwise (mutations, fraiseql_pipeline off, or a pipeline whose
 * connection failed) each slot takes a connection of its own,
 * fraiseql_request_connections at a time.  The slot at the head of the
 * response streams to the output filter; later slots hold their output
 * until they become the head, so the response keeps document order while
 * statements run concurrently (ngx_http_fraiseql_output.c keeps what is
 * held bounded).  The queries of a batch (batch.c) gather their
 * statements in one pipeline for the batch: a pipeline's slots may be of
 * several requests, each slot knows its own (slot->ctx).
 */

#include "ngx_http_fraiseql.h"
#include "fql_mutation.h"


static void ngx_http_fraiseql_start_next(ngx_http_fraiseql_ctx_t *ctx);
static ngx_int_t ngx_http_fraiseql_pipe(ngx_http_fraiseql_ctx_t *ctx);
static ngx_int_t ngx_http_fraiseql_gather(ngx_http_fraiseql_ctx_t *ctx);
static ngx_int_t ngx_http_fraiseql_pipe_link(ngx_http_fraiseql_ctx_t *ctx,
    ngx_http_fraiseql_slot_t ***last, ngx_http_fraiseql_batch_t *batch);
static ngx_http_fraiseql_slot_t *ngx_http_fraiseql_pipe_run(
    ngx_http_fraiseql_slot_t *first, ngx_http_fraiseql_pgc_t *pgc);
static void ngx_http_fraiseql_pipe_pass(ngx_http_fraiseql_slot_t *slot,
    ngx_http_fraiseql_pgc_t *pgc);
static ngx_http_fraiseql_slot_t *ngx_http_fraiseql_pipe_skipped(
    ngx_http_fraiseql_slot_t *slot);
static void ngx_http_fraiseql_start(ngx_http_fraiseql_slot_t *slot);
static void ngx_http_fraiseql_slot_ready(ngx_http_fraiseql_waiter_t *w,
    ngx_http_fraiseql_pgc_t *pgc);
static void ngx_http_fraiseql_slot_waited(ngx_http_fraiseql_waiter_t *w,
    ngx_uint_t timedout);
static void ngx_http_fraiseql_slot_run(ngx_http_fraiseql_slot_t *slot,
    ngx_http_fraiseql_pgc_t *pgc);
static void ngx_http_fraiseql_slot_event(ngx_http_fraiseql_pgc_t *pgc);
static void ngx_http_fraiseql_slot_rows(ngx_http_fraiseql_slot_t *slot);
static ngx_int_t ngx_http_fraiseql_slot_refused(
    ngx_http_fraiseql_slot_t *slot, PGresult *res);
static void ngx_http_fraiseql_slot_done(ngx_http_fraiseql_slot_t *slot);
static void ngx_http_fraiseql_slot_fail(ngx_http_fraiseql_slot_t *slot,
    const char *detail);
static void ngx_http_fraiseql_slot_null(ngx_http_fraiseql_slot_t *slot,
    fql_error_t *err);
static ngx_int_t ngx_http_fraiseql_slot_retry(ngx_http_fraiseql_slot_t *slot,
    ngx_uint_t stale);
static void ngx_http_fraiseql_slot_unavailable(
    ngx_http_fraiseql_slot_t *slot, const char *reason);
static void ngx_http_fraiseql_slot_timeout(ngx_http_fraiseql_slot_t *slot);
static ngx_int_t ngx_http_fraiseql_slot_open(ngx_http_fraiseql_slot_t *s);
static void ngx_http_fraiseql_advance(ngx_http_fraiseql_ctx_t *ctx);
static void ngx_http_fraiseql_wake(ngx_http_fraiseql_ctx_t *ctx);
static void ngx_http_fraiseql_wake_handler(ngx_event_t *ev);
static void ngx_http_fraiseql_restart_handler(ngx_event_t *ev);
static void ngx_http_fraiseql_pause(ngx_http_fraiseql_slot_t *slot);
static void ngx_http_fraiseql_write_handler(ngx_http_request_t *r);
static int ngx_http_fraiseql_field_error(void *data, const fql_path_t *path,
    const char *message);

ngx_int_t
ngx_http_fraiseql_execute(ngx_http_fraiseql_ctx_t *ctx)
{
    ngx_uint_t                  i;
    ngx_buf_t                  *b;
    ngx_chain_t                 out;
    ngx_http_request_t         *r = ctx->r;
    ngx_http_cleanup_t         *cln;
    ngx_http_fraiseql_slot_t   *s;
    fql_root_plan_t            *rp;

    ctx->nslots = ctx->plan->nroots;

    /* HEAD: the headers a GET would have, no statement run for them */
    if (r->method == NGX_HTTP_HEAD) {
        ctx->finished = 1;

        return ngx_http_fraiseql_send(ctx, NULL) == NGX_ERROR
               ? NGX_ERROR : NGX_OK;
    }

    if (ctx->nslots == 0) {
        /* every root field was skipped */
        b = ngx_calloc_buf(r->pool);
        if (b == NULL) {
            return NGX_HTTP_INTERNAL_SERVER_ERROR;
        }

        b->pos = (u_char *) "{\"data\":{}}\n";
        b->last = b->pos + sizeof("{\"data\":{}}\n") - 1;
        b->memory = 1;
        b->last_buf = (r == r->main);
        b->last_in_chain = 1;

        ctx->finished = 1;

        if (ngx_http_fraiseql_send(ctx, NULL) == NGX_ERROR) {
            return NGX_ERROR;
        }

        out.buf = b;
        out.next = NULL;

        return ngx_http_output_filter(r, &out);
    }

    ctx->slots = ngx_pcalloc(r->pool,
                             ctx->nslots * sizeof(ngx_http_fraiseql_slot_t));
    if (ctx->slots == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    cln = ngx_http_cleanup_add(r, 0);
    if (cln == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    cln->handler = ngx_http_fraiseql_cleanup;
    cln->data = ctx;

    r->write_event_handler = ngx_http_fraiseql_write_handler;

    ctx->wake.handler = ngx_http_fraiseql_wake_handler;
    ctx->wake.data = ctx;
    ctx->wake.log = r->connection->log;

    ctx->restart.handler = ngx_http_fraiseql_restart_handler;
    ctx->restart.data = ctx;
    ctx->restart.log = r->connection->log;

    for (i = 0, rp = ctx->plan->roots; rp; rp = rp->next, i++) {
        s = &ctx->slots[i];
        s->ctx = ctx;
        s->plan = rp;
        s->index = i;
        s->last = &s->out;
        s->rerun = &ctx->rerun;
        s->w.reserve = ngx_http_fraiseql_slot_reserve;
        s->w.ctx = s;

        s->waiter.ready = ngx_http_fraiseql_slot_ready;
        s->waiter.failed = ngx_http_fraiseql_slot_waited;
        s->waiter.data = s;
        s->waiter.log = r->connection->log;
        s->waiter.write = (ctx->plan->op != FQL_OP_QUERY);
        /* a query finds a dead connection out by failing, and runs again */
        s->waiter.verify = (rp->kind == FQL_RF_MUTATION);

        s->stmt.plan = rp;
        s->stmt.conf = &ctx->lcf->stmt;
        s->stmt.log = r->connection->log;

        /* the claims and settings go first, in the same pipeline */
        if (ctx->auth.lead_params != NULL) {
            s->stmt.lead = ctx->lcf->auth.lead;
            s->stmt.lead_len = ctx->lcf->auth.lead_len;
            s->stmt.lead_hash = ctx->lcf->auth.lead_hash;
            s->stmt.lead_nparams = ctx->lcf->auth.lead_nparams;
            s->stmt.lead_params = ctx->auth.lead_params;
        }

        if (rp->kind == FQL_RF_STATIC) {
            /* written when it becomes the head: it holds no memory */
            s->state = NGX_HTTP_FRAISEQL_SLOT_DONE;
        }
    }

    ctx->slots[0].streaming = 1;

    /* the request stays open until the last slot is done */
    ngx_http_fraiseql_start_next(ctx);

    if (!ctx->finished && ctx->slots[0].state == NGX_HTTP_FRAISEQL_SLOT_DONE)
    {
        ngx_http_fraiseql_advance(ctx);
    }

    return NGX_DONE;
}


/* the slot's key in the response (and a static slot's value) */
/* the request's first statement goes: the database's time begins */
static void
ngx_http_fraiseql_db_begins(ngx_http_fraiseql_ctx_t *ctx)
{
    if (ctx->obs.db_start == 0) {
        ctx->obs.db_start = ngx_http_fraiseql_now_us();
    }
}


/* the slot waited for a connection: the request's wait grows */
static void
ngx_http_fraiseql_waited(ngx_http_fraiseql_slot_t *slot)
{
    if (slot->wait_start) {
        slot->ctx->obs.wait += ngx_http_fraiseql_now_us() - slot->wait_start;
        slot->wait_start = 0;
    }
}


static ngx_int_t
ngx_http_fraiseql_slot_open(ngx_http_fraiseql_slot_t *s)
{
    int               rc;
    fql_root_plan_t  *rp = s->plan;

    if (s->opened) {
        return NGX_OK;
    }

    s->opened = 1;

    rc = (s->index == 0) ? fql_wbuf_lit(&s->w, "{\"data\":{\"")
                         : fql_wbuf_lit(&s->w, ",\"");

    if (rc != 0
        || fql_wbuf_put(&s->w, rp->response_key.data,
                        rp->response_key.len) != 0
        || fql_wbuf_lit(&s->w, "\":") != 0
        || (rp->kind == FQL_RF_STATIC
            && fql_wbuf_put(&s->w, rp->value.data, rp->value.len) != 0))
    {
        return NGX_ERROR;
    }

    return NGX_OK;
}


/*
 * Starts the next root fields, in document order: as many at once as
 * fraiseql_request_connections lets one request hold (each takes a
 * connection or a place in the pool's queue), mutations one after the
 * other, each in its own transaction.  slot_done calls it again.
 */
static void
ngx_http_fraiseql_start_next(ngx_http_fraiseql_ctx_t *ctx)
{
    ngx_uint_t                 max;
    ngx_http_fraiseql_slot_t  *s;

    /* a batch's mutation: once what came before it is done */
    if (ctx->batch.parent != NULL && ctx->nactive == 0
        && ngx_http_fraiseql_batch_wait(ctx))
    {
        return;
    }

    if (!ctx->piped && ngx_http_fraiseql_pipe(ctx) == NGX_OK) {
        return;
    }

    max = (ctx->plan->op == FQL_OP_MUTATION)
          ? 1 : ctx->lcf->request_connections;

    while (ctx->next < ctx->nslots && ctx->nactive < max && !ctx->finished)
    {
        s = &ctx->slots[ctx->next++];

        if (s->state != NGX_HTTP_FRAISEQL_SLOT_NEW) {
            continue;
        }

        ctx->nactive++;

        if (ngx_http_fraiseql_slot_open(s) != NGX_OK) {
            ngx_http_fraiseql_abort(ctx, NGX_ERROR);
            return;
        }

        ngx_http_fraiseql_start(s);
    }
}


static void
ngx_http_fraiseql_start(ngx_http_fraiseql_slot_t *slot)
{
    ngx_int_t                 rc;
    ngx_http_fraiseql_pgc_t  *pgc;
    ngx_http_fraiseql_ctx_t  *ctx = slot->ctx;

    rc = ngx_http_fraiseql_pool_acquire(ctx->lcf->group, &slot->waiter,
                                        &pgc);

    ngx_log_debug2(NGX_LOG_DEBUG_HTTP, ctx->r->connection->log, 0,
                   "fraiseql slot %ui: acquire: %i", slot->index, rc);

    switch (rc) {

    case NGX_OK:
        if (slot->pipe_next != NULL) {
            (void) ngx_http_fraiseql_pipe_run(slot, pgc);

        } else {
            ngx_http_fraiseql_slot_run(slot, pgc);
        }

        return;

    case NGX_AGAIN:
        slot->state = NGX_HTTP_FRAISEQL_SLOT_WAITING;
        slot->wait_start = ngx_http_fraiseql_now_us();
        return;

    case NGX_BUSY:
        ngx_log_error(NGX_LOG_WARN, ctx->r->connection->log, 0,
                      "fraiseql: connection queue is full");
        (void) ngx_http_fraiseql_pipe_break(slot);
        ngx_http_fraiseql_slot_unavailable(slot,
                                           "Too many requests are waiting "
                                           "for a database connection");
        return;

    default:
        (void) ngx_http_fraiseql_pipe_break(slot);
        ngx_http_fraiseql_slot_unavailable(slot,
                                           "The database is unavailable");
        return;
    }
}


/*
 * Two or more root fields of a query that run SQL share one connection:
 * their statements go in one pipeline (one round trip, where a
 * connection each would cost as many round trips and connections), the
 * leading statement first, one Sync last: one implicit transaction, for
 * which the claims are set.  Their results come in document order, each
 * slot's rows after the slot before it.  A statement that fails makes
 * PostgreSQL skip those after it: they run again, in a pipeline of their
 * own on the same connection, once the Sync is read
 * (ngx_http_fraiseql_pipe_skipped).  NGX_DECLINED: the slots run on
 * their own (a mutation, whose fields run one after the other, each in
 * its own transaction; one root field; fraiseql_pipeline off).
 */
static ngx_int_t
ngx_http_fraiseql_pipe(ngx_http_fraiseql_ctx_t *ctx)
{
    ngx_uint_t                  i, n;
    ngx_http_fraiseql_slot_t   *first, **last;

    ctx->piped = 1;

    if (ctx->plan->op != FQL_OP_QUERY || !ctx->lcf->stmt.pipeline) {
        return NGX_DECLINED;
    }

    if (ctx->batch.parent != NULL
        && ngx_http_fraiseql_gather(ctx) == NGX_OK)
    {
        return NGX_OK;
    }

    n = 0;

    for (i = ctx->next; i < ctx->nslots; i++) {
        n += (ctx->slots[i].state == NGX_HTTP_FRAISEQL_SLOT_NEW);
    }

    if (n < 2) {
        return NGX_DECLINED;
    }

    ngx_log_debug1(NGX_LOG_DEBUG_HTTP, ctx->r->connection->log, 0,
                   "fraiseql: %ui root fields in one pipeline", n);

    first = NULL;
    last = &first;

    if (ngx_http_fraiseql_pipe_link(ctx, &last, NULL) == NGX_OK) {
        /* the first waits for the connection, on behalf of them all */
        ngx_http_fraiseql_start(first);
    }

    return NGX_OK;
}


/*
 * The request's slots not started yet join a pipeline after *last (its
 * own, or its batch's when batch is set), waiting.  NGX_ERROR: the
 * request was aborted.
 */
static ngx_int_t
ngx_http_fraiseql_pipe_link(ngx_http_fraiseql_ctx_t *ctx,
    ngx_http_fraiseql_slot_t ***last, ngx_http_fraiseql_batch_t *batch)
{
    ngx_uint_t                 i;
    ngx_http_fraiseql_slot_t  *s;

    for (i = ctx->next; i < ctx->nslots; i++) {
        s = &ctx->slots[i];

        if (s->state != NGX_HTTP_FRAISEQL_SLOT_NEW) {
            continue;
        }

        if (ngx_http_fraiseql_slot_open(s) != NGX_OK) {
            ngx_http_fraiseql_abort(ctx, NGX_ERROR);
            return NGX_ERROR;
        }

        s->state = NGX_HTTP_FRAISEQL_SLOT_WAITING;
        ctx->nactive++;

        if (batch != NULL) {
            s->gathered = 1;
            s->rerun = &batch->rerun;
            batch->inflight++;
        }

        **last = s;
        *last = &s->pipe_next;
    }

    ctx->next = ctx->nslots;

    return NGX_OK;
}


/* two statements may share a pipeline: their leading statements agree */
static ngx_uint_t
ngx_http_fraiseql_same_lead(ngx_http_fraiseql_stmt_t *a,
    ngx_http_fraiseql_stmt_t *b)
{
    int  i;

    if (a->lead != b->lead || a->lead_nparams != b->lead_nparams) {
        return 0;
    }

    for (i = 0; i < a->lead_nparams; i++) {
        if ((a->lead_params[i] == NULL) != (b->lead_params[i] == NULL)
            || (a->lead_params[i] != NULL
                && ngx_strcmp(a->lead_params[i], b->lead_params[i]) != 0))
        {
            return 0;
        }
    }

    return 1;
}


/*
 * A query of a batch: its statements join the batch's pipeline, which
 * goes once the batch's last request is in (batch.c), and the batch's
 * next request starts now.  They share one implicit transaction, so the
 * leading statements must agree: the same caller, as they all come from
 * one HTTP request, unless a setting differs; then it runs on its own
 * (NGX_DECLINED).
 */
static ngx_int_t
ngx_http_fraiseql_gather(ngx_http_fraiseql_ctx_t *ctx)
{
    ngx_uint_t                  i, n;
    ngx_http_fraiseql_ctx_t    *pctx = ctx->batch.parent;
    ngx_http_fraiseql_slot_t   *one;

    n = 0;
    one = NULL;

    for (i = ctx->next; i < ctx->nslots; i++) {
        if (ctx->slots[i].state == NGX_HTTP_FRAISEQL_SLOT_NEW) {
            one = &ctx->slots[i];
            n++;
        }
    }

    if (n == 0
        || (pctx->batch.pipe != NULL
            && !ngx_http_fraiseql_same_lead(&pctx->batch.pipe->stmt,
                                            &one->stmt)))
    {
        return NGX_DECLINED;
    }

    ngx_log_debug1(NGX_LOG_DEBUG_HTTP, ctx->r->connection->log, 0,
                   "fraiseql: %ui root fields join the batch's pipeline", n);

    if (ngx_http_fraiseql_pipe_link(ctx, &pctx->batch.pipe_last,
                                    &pctx->batch)
        != NGX_OK)
    {
        return NGX_OK;
    }

    ngx_http_fraiseql_batch_gathered(ctx);

    return NGX_OK;
}


/* a batch's gathered slots: their pipeline waits for its connection */
void
ngx_http_fraiseql_pipe_go(ngx_http_fraiseql_slot_t *first)
{
    ngx_log_debug1(NGX_LOG_DEBUG_HTTP, first->ctx->r->connection->log, 0,
                   "fraiseql: the batch's pipeline goes, from slot %ui",
                   first->index);

    ngx_http_fraiseql_start(first);
}


/* the slots a request still has to start (a batch's, from outside) */
void
ngx_http_fraiseql_run(ngx_http_fraiseql_ctx_t *ctx)
{
    ngx_http_fraiseql_start_next(ctx);
}


static void
ngx_http_fraiseql_restart_handler(ngx_event_t *ev)
{
    ngx_http_fraiseql_ctx_t  *ctx = ev->data;

    if (!ctx->finished) {
        ngx_http_fraiseql_start_next(ctx);
    }

    ngx_http_run_posted_requests(ctx->r->connection);
}


/*
 * The first slot of a pipeline holds a connection: every statement goes.
 * The slots of a batch's request that ended meanwhile leave it first.
 * The slot that reads the connection, or NULL.
 */
static ngx_http_fraiseql_slot_t *
ngx_http_fraiseql_pipe_run(ngx_http_fraiseql_slot_t *first,
    ngx_http_fraiseql_pgc_t *pgc)
{
    ngx_int_t                   rc;
    ngx_http_fraiseql_stmt_t   *prev;
    ngx_http_fraiseql_slot_t   *s, **pp;

    for (pp = &first; *pp != NULL; /* void */) {
        s = *pp;

        if (s->ctx->finished) {
            *pp = s->pipe_next;
            s->pipe_next = NULL;
            s->stmt.more = 0;

        } else {
            pp = &s->pipe_next;
        }
    }

    if (first == NULL) {
        ngx_http_fraiseql_pool_release(pgc, 1);
        return NULL;
    }

    pgc->handler = ngx_http_fraiseql_slot_event;
    pgc->data = first;
    first->stmt.pgc = pgc;

    rc = PQenterPipelineMode(pgc->pg) ? NGX_OK : NGX_ERROR;
    prev = NULL;

    for (s = first; s != NULL; s = s->pipe_next) {
        ngx_http_fraiseql_db_begins(s->ctx);
        s->state = NGX_HTTP_FRAISEQL_SLOT_RUNNING;
        s->runs++;

        ngx_log_debug5(NGX_LOG_DEBUG_HTTP, s->ctx->r->connection->log, 0,
                       "fraiseql slot %ui: run %ui: \"%s\" with %ui params, "
                       "in a pipeline on *%uA", s->index, s->runs,
                       s->plan->sql, (ngx_uint_t) s->plan->nparams,
                       pgc->c->number);

        if (rc != NGX_OK) {
            continue;
        }

        s->stmt.pgc = pgc;
        s->stmt.prev = prev;
        s->stmt.more = (s->pipe_next != NULL);

        rc = ngx_http_fraiseql_stmt_queue(&s->stmt);

        prev = &s->stmt;
    }

    /* the connection is the first's until its results are over */
    for (s = first; s != NULL; s = s->pipe_next) {
        s->stmt.prev = NULL;

        if (s != first) {
            s->stmt.pgc = NULL;
        }
    }

    if (rc == NGX_OK) {
        ngx_http_fraiseql_stmt_begin(&first->stmt);
        rc = ngx_http_fraiseql_pgc_flush(pgc);
    }

    if (rc != NGX_OK) {
        ngx_http_fraiseql_slot_fail(first, PQerrorMessage(pgc->pg));
        return NULL;
    }

    ngx_add_timer(pgc->c->read, first->stmt.conf->timeout);

    return first;
}


/* the slot's results are over: the next slot's follow on its connection */
static void
ngx_http_fraiseql_pipe_pass(ngx_http_fraiseql_slot_t *slot,
    ngx_http_fraiseql_pgc_t *pgc)
{
    ngx_http_fraiseql_slot_t  *next = slot->pipe_next;

    ngx_log_debug3(NGX_LOG_DEBUG_HTTP, slot->ctx->r->connection->log, 0,
                   "fraiseql slot %ui: passes *%uA on to slot %ui",
                   slot->index, pgc->c->number, next->index);

    slot->pipe_next = NULL;
    slot->stmt.more = 0;

    next->stmt.pgc = pgc;
    pgc->data = next;

    ngx_http_fraiseql_stmt_begin(&next->stmt);
}


/*
 * PostgreSQL skipped the slot's statement (one before it in the pipeline
 * failed): it waits, its run not counted, and runs again with the others
 * skipped once the Sync is read, on the same connection.  The slot that
 * reads the connection now, or NULL.
 */
static ngx_http_fraiseql_slot_t *
ngx_http_fraiseql_pipe_skipped(ngx_http_fraiseql_slot_t *slot)
{
    ngx_http_fraiseql_ctx_t   *ctx = slot->ctx;
    ngx_http_fraiseql_pgc_t   *pgc = slot->stmt.pgc;
    ngx_http_fraiseql_slot_t  *next, *first;

    ngx_log_debug2(NGX_LOG_DEBUG_HTTP, ctx->r->connection->log, 0,
                   "fraiseql slot %ui: skipped on *%uA", slot->index,
                   pgc->c->number);

    slot->stmt.pgc = NULL;
    slot->state = NGX_HTTP_FRAISEQL_SLOT_WAITING;
    slot->runs--;

    /* the skipped are the pipeline's last, in a row: their chain holds */
    if (*slot->rerun == NULL) {
        *slot->rerun = slot;
    }

    next = slot->pipe_next;

    if (slot->stmt.more) {
        next->stmt.pgc = pgc;
        pgc->data = next;
        ngx_http_fraiseql_stmt_begin(&next->stmt);
        return next;
    }

    first = *slot->rerun;
    *slot->rerun = NULL;

    return ngx_http_fraiseql_pipe_run(first, pgc);
}


/*
 * The pipeline's connection is gone before the slots after slot had
 * their turn (it failed, its statement overran, or none came): they, and
 * those skipped before it, start again, each on its own, as
 * fraiseql_request_connections lets them (start_next).  Their statements
 * never ran, PostgreSQL runs a pipeline's in order: that run does not
 * count.  Whether there were any.  Those of other requests of a batch
 * start again from the event loop (their restart event).
 */
ngx_uint_t
ngx_http_fraiseql_pipe_break(ngx_http_fraiseql_slot_t *slot)
{
    ngx_uint_t                 broken;
    ngx_http_fraiseql_ctx_t   *ctx;
    ngx_http_fraiseql_slot_t  *s, *next;

    s = *slot->rerun ? *slot->rerun : slot;
    *slot->rerun = NULL;

    for (broken = 0; s != NULL; s = next) {
        next = s->pipe_next;
        s->pipe_next = NULL;
        s->stmt.more = 0;

        if (s == slot) {
            continue;
        }

        /* a skipped one waits (WAITING), its run already uncounted */
        if (s->state == NGX_HTTP_FRAISEQL_SLOT_RUNNING) {
            s->runs--;
        }

        ctx = s->ctx;
        s->state = NGX_HTTP_FRAISEQL_SLOT_NEW;
        ctx->nactive--;
        broken++;

        if (s->index < ctx->next) {
            ctx->next = s->index;
        }

        if (ctx != slot->ctx && !ctx->finished && !ctx->restart.posted) {
            ngx_post_event(&ctx->restart, &ngx_posted_events);
        }
    }

    return broken;
}


/* the pool handed the waiting slot a connection */
static void
ngx_http_fraiseql_slot_ready(ngx_http_fraiseql_waiter_t *w,
    ngx_http_fraiseql_pgc_t *pgc)
{
    ngx_http_fraiseql_slot_t  *slot = w->data;

    ngx_http_fraiseql_waited(slot);

    if (slot->pipe_next != NULL) {
        (void) ngx_http_fraiseql_pipe_run(slot, pgc);
        return;
    }

    ngx_http_fraiseql_slot_run(slot, pgc);
}


/*
 * No connection came: none free within the queue timeout, or its server
 * went down while the slot waited (it chooses again).
 */
static void
ngx_http_fraiseql_slot_waited(ngx_http_fraiseql_waiter_t *w,
    ngx_uint_t timedout)
{
    ngx_http_fraiseql_slot_t  *slot = w->data;

    ngx_http_fraiseql_waited(slot);
    slot->state = NGX_HTTP_FRAISEQL_SLOT_NEW;

    if (timedout) {
        (void) ngx_http_fraiseql_pipe_break(slot);
        ngx_http_fraiseql_slot_unavailable(slot, "No database connection "
                                           "became free in time");
        return;
    }

    if (!slot->ctx->finished) {
        ngx_http_fraiseql_start(slot);
    }
}


/* the slot holds a connection: its statement goes */
static void
ngx_http_fraiseql_slot_run(ngx_http_fraiseql_slot_t *slot,
    ngx_http_fraiseql_pgc_t *pgc)
{
    ngx_http_fraiseql_db_begins(slot->ctx);

    slot->state = NGX_HTTP_FRAISEQL_SLOT_RUNNING;
    slot->runs++;
    slot->stmt.pgc = pgc;

    pgc->handler = ngx_http_fraiseql_slot_event;
    pgc->data = slot;

    ngx_log_debug4(NGX_LOG_DEBUG_HTTP, slot->ctx->r->connection->log, 0,
                   "fraiseql slot %ui: run %ui: \"%s\" with %ui params",
                   slot->index, slot->runs, slot->plan->sql,
                   (ngx_uint_t) slot->plan->nparams);

    if (ngx_http_fraiseql_stmt_send(&slot->stmt) != NGX_OK) {
        ngx_http_fraiseql_slot_fail(slot, PQerrorMessage(pgc->pg));
    }
}


/* the read or write event of the slot's connection */
static void
ngx_http_fraiseql_slot_event(ngx_http_fraiseql_pgc_t *pgc)
{
    ngx_connection_t          *hc;
    ngx_http_fraiseql_slot_t  *slot = pgc->data;

    hc = slot->ctx->r->connection;

    ngx_log_debug2(NGX_LOG_DEBUG_HTTP, hc->log, 0,
                   "fraiseql slot %ui: event on *%uA", slot->index,
                   pgc->c->number);

    if (pgc->c->read->timedout) {
        pgc->c->read->timedout = 0;
        ngx_http_fraiseql_slot_timeout(slot);

    } else if (pgc->flushing && ngx_http_fraiseql_pgc_flush(pgc) != NGX_OK) {
        ngx_http_fraiseql_slot_fail(slot, PQerrorMessage(pgc->pg));

    /* a paused slot goes on when woken, not on each packet */
    } else if (!slot->paused) {
        ngx_http_fraiseql_slot_rows(slot);
    }

    ngx_http_run_posted_requests(hc);
}


/* marks where the slot's value starts, before its first byte */
static ngx_int_t
ngx_http_fraiseql_value_begin(ngx_http_fraiseql_slot_t *slot)
{
    if (slot->w.pos == slot->w.end
        && slot->w.reserve(&slot->w, 1) != 0)
    {
        return NGX_ERROR;
    }

    slot->value_buf = slot->buf;
    slot->value_off = (u_char *) slot->w.pos - slot->buf->start;

    if (slot->plan->kind == FQL_RF_LIST
        && fql_wbuf_putc(&slot->w, '[') != 0)
    {
        return NGX_ERROR;
    }

    return NGX_OK;
}


/* drops what the slot wrote of its value (none of it was sent) */
static void
ngx_http_fraiseql_value_rewind(ngx_http_fraiseql_slot_t *slot)
{
    ngx_chain_t  **ll;

    for (ll = &slot->out; *ll; ll = &(*ll)->next) {
        if ((*ll)->buf == slot->value_buf) {
            *ll = NULL;
            slot->last = ll;
            break;
        }
    }

    slot->buf = slot->value_buf;
    slot->buf->last = slot->buf->start + slot->value_off;
    slot->w.pos = (char *) slot->buf->last;
    slot->w.end = (char *) slot->buf->end;
}


/* the error is about the slot's root field: its path says so */
static ngx_int_t
ngx_http_fraiseql_root_path(ngx_http_fraiseql_slot_t *slot, fql_error_t *err)
{
    u_char     *p;
    fql_str_t   key = slot->plan->response_key;

    /* a response key is a GraphQL name: nothing to escape */
    p = ngx_pnalloc(slot->ctx->r->pool, key.len + 5);
    if (p == NULL) {
        return NGX_ERROR;
    }

    ngx_sprintf(p, "[\"%*s\"]%Z", key.len, key.data);
    err->path_json = (char *) p;

    return NGX_OK;
}


/*
 * A mutation returning its object directly reported an error: the error
 * says what the function said, with the taxonomy's code (the field is
 * null).  The function returned: its transaction committed.
 */
static ngx_int_t
ngx_http_fraiseql_mutation_error(ngx_http_fraiseql_slot_t *slot,
    const fql_mutation_result_t *res)
{
    fql_error_t  *err;

    err = fql_error_add(&slot->ctx->errs, &slot->plan->loc, res->code,
                        "%.*s", fql_pstr(res->message));

    if (err == NULL || ngx_http_fraiseql_root_path(slot, err) != NGX_OK) {
        return NGX_ERROR;
    }

    return NGX_OK;
}


/* a mutation's row: Success or Error (or the object), shaped, projected */
static void
ngx_http_fraiseql_mutation_row(ngx_http_fraiseql_slot_t *slot, char *data,
    size_t len, fql_path_t *pp)
{
    int                       rc;
    fql_heapbuf_t             hb;
    const fql_proj_t         *proj;
    fql_mutation_result_t     res;
    ngx_http_fraiseql_ctx_t  *ctx = slot->ctx;

    fql_heapbuf_init(&hb);

    proj = slot->plan->proj;
    res.code = NULL;

    if (slot->plan->direct) {
        rc = fql_mutation_object(&ctx->arena, data, len, &res, &hb);

    } else {
        rc = fql_mutation_row(slot->plan, &ctx->arena, data, len, &proj,
                              &hb);
    }

    /* an error, or a success without an entity: the field is null */
    if (rc == 0 && (res.code != NULL || fql_heapbuf_len(&hb) == 0)) {
        fql_heapbuf_free(&hb);

        if ((res.code != NULL
             && ngx_http_fraiseql_mutation_error(slot, &res) != NGX_OK)
            || fql_wbuf_lit(&slot->w, "null") != 0)
        {
            ngx_http_fraiseql_abort(ctx, NGX_ERROR);
        }

        return;
    }

    if (rc == 0) {
        rc = fql_transform_row(proj, hb.data, fql_heapbuf_len(&hb),
                               &slot->w, pp, ngx_http_fraiseql_field_error,
                               ctx);
    }

    fql_heapbuf_free(&hb);

    if (rc == 0 || ctx->finished) {
        return;
    }

    ngx_log_error(NGX_LOG_ERR, ctx->r->connection->log, 0,
                  "fraiseql: the function of \"%s\" answered something "
                  "that is not a JSON object", slot->plan->sql);

    if (ngx_http_fraiseql_field_error(ctx, pp, "The mutation's function "
                                      "did not answer a JSON object") != 0
        || fql_wbuf_lit(&slot->w, "null") != 0)
    {
        ngx_http_fraiseql_abort(ctx, NGX_ERROR);
    }
}


static void
ngx_http_fraiseql_row(ngx_http_fraiseql_slot_t *slot, PGresult *res)
{
    int                       len, null;
    char                     *data;
    fql_path_t                path, item, *pp;
    fql_root_plan_t          *rp = slot->plan;
    ngx_http_fraiseql_ctx_t  *ctx = slot->ctx;

    if (rp->kind != FQL_RF_LIST && slot->nrows > 0) {
        /* by id: a second row means a non-unique id; keep the first */
        slot->nrows++;
        return;
    }

    if (slot->nrows == 0) {
        if (ngx_http_fraiseql_value_begin(slot) != NGX_OK) {
            goto nomem;
        }

    } else if (rp->kind == FQL_RF_LIST
               && fql_wbuf_putc(&slot->w, ',') != 0)
    {
        goto nomem;
    }

    path.parent = NULL;
    path.key = rp->response_key;
    path.index = -1;
    pp = &path;

    if (rp->kind == FQL_RF_LIST) {
        item.parent = &path;
        item.key.data = NULL;
        item.key.len = 0;
        item.index = (long) slot->nrows;
        pp = &item;
    }

    slot->nrows++;

    null = PQnfields(res) < 1 || PQgetisnull(res, 0, 0);
    data = null ? NULL : PQgetvalue(res, 0, 0);
    len = null ? 0 : PQgetlength(res, 0, 0);

    if (rp->kind == FQL_RF_MUTATION) {
        ngx_http_fraiseql_mutation_row(slot, data, len, pp);
        return;
    }

    if (null) {
        if (fql_wbuf_lit(&slot->w, "null") != 0) {
            goto nomem;
        }
        return;
    }

    if (fql_transform_row(rp->proj, data, len, &slot->w, pp,
                          ngx_http_fraiseql_field_error, ctx) == 0)
    {
        return;
    }

    if (ctx->finished) {
        return;
    }

    ngx_log_error(NGX_LOG_ERR, ctx->r->connection->log, 0,
                  "fraiseql: the \"data\" column of a row of \"%s\" is not "
                  "a JSON object", rp->sql);

    if (ngx_http_fraiseql_field_error(ctx, pp, "The row is not a JSON "
                                      "object") != 0
        || fql_wbuf_lit(&slot->w, "null") != 0)
    {
        goto nomem;
    }

    return;

nomem:

    ngx_http_fraiseql_abort(ctx, NGX_ERROR);
}


static int
ngx_http_fraiseql_field_error(void *data, const fql_path_t *path,
    const char *message)
{
    ngx_http_fraiseql_ctx_t  *ctx = data;

    size_t              n, depth, i;
    char               *p;
    fql_error_t        *err;
    const fql_path_t   *pp, *stack[64];
    fql_heapbuf_t       hb;

    /* past the cap the error is not listed: no path to write for it */
    if (fql_errors_full(&ctx->errs)) {
        return 0;
    }

    err = fql_error_add(&ctx->errs, NULL, FQL_CODE_RESULT, "%s", message);
    if (err == NULL) {
        return -1;
    }

    depth = 0;
    for (pp = path; pp && depth < 64; pp = pp->parent) {
        stack[depth++] = pp;
    }

    fql_heapbuf_init(&hb);

    if (fql_wbuf_putc(&hb.w, '[') != 0) {
        fql_heapbuf_free(&hb);
        return -1;
    }

    for (i = depth; i > 0; i--) {
        pp = stack[i - 1];

        if (i != depth && fql_wbuf_putc(&hb.w, ',') != 0) {
            fql_heapbuf_free(&hb);
            return -1;
        }

        if (pp->index >= 0) {
            char  num[32];

            n = ngx_sprintf((u_char *) num, "%l", pp->index) - (u_char *) num;
            if (fql_wbuf_put(&hb.w, num, n) != 0) {
                fql_heapbuf_free(&hb);
                return -1;
            }

        } else if (fql_json_string(&hb.w, pp->key.data, pp->key.len) != 0) {
            fql_heapbuf_free(&hb);
            return -1;
        }
    }

    if (fql_wbuf_putc(&hb.w, ']') != 0) {
        fql_heapbuf_free(&hb);
        return -1;
    }

    n = fql_heapbuf_len(&hb);
    p = ngx_pnalloc(ctx->r->pool, n + 1);
    if (p == NULL) {
        fql_heapbuf_free(&hb);
        return -1;
    }

    ngx_memcpy(p, hb.data, n);
    p[n] = '\0';
    err->path_json = p;

    fql_heapbuf_free(&hb);

    return 0;
}


static void
ngx_http_fraiseql_slot_rows(ngx_http_fraiseql_slot_t *slot)
{
    size_t                     taken;
    ngx_int_t                  rc;
    PGresult                  *res;
    ngx_http_fraiseql_ctx_t   *ctx = slot->ctx;
    ngx_http_fraiseql_slot_t  *next;

    taken = 0;

    for ( ;; ) {

        /*
         * A slot of a batch's request that ended, in the batch's pipeline:
         * its results are read and dropped, the others' follow.
         */
        if (ctx->finished) {
            rc = ngx_http_fraiseql_stmt_result(&slot->stmt, &res);

            if (rc == NGX_OK || rc == NGX_DECLINED) {
                PQclear(res);
                continue;
            }

            if (rc == NGX_AGAIN) {
                return;
            }

            if (rc == NGX_DONE) {
                goto done;
            }

            ngx_http_fraiseql_slot_fail(slot,
                                        PQerrorMessage(slot->stmt.pgc->pg));
            return;
        }

        /*
         * PostgreSQL can send faster than we transform: after a share of
         * rows the others on the event loop have their turn, and this
         * slot goes on at the next one.
         */
        if (taken >= NGX_HTTP_FRAISEQL_ROWS_TURN) {
            ngx_http_fraiseql_pause(slot);
            ngx_http_fraiseql_wake(ctx);
            return;
        }

        /* no room for more of the answer: the rows wait in the socket */
        rc = ngx_http_fraiseql_room(slot);

        if (rc == NGX_ERROR) {
            ngx_http_fraiseql_abort(ctx, NGX_ERROR);
            return;
        }

        if (rc == NGX_DECLINED) {
            ngx_http_fraiseql_pause(slot);

            if (ctx->blocked) {
                ngx_http_fraiseql_hold(ctx);
            }

            return;
        }

        rc = ngx_http_fraiseql_stmt_result(&slot->stmt, &res);

        switch (rc) {

        case NGX_OK:
            taken += PQgetlength(res, 0, 0) + 64;
            ngx_http_fraiseql_row(slot, res);
            PQclear(res);
            break;

        case NGX_DECLINED:
            rc = ngx_http_fraiseql_slot_refused(slot, res);
            PQclear(res);

            if (rc != NGX_OK) {
                return;
            }

            break;

        case NGX_AGAIN:
            return;

        case NGX_DONE:
        done:
            if (slot->stmt.skipped) {
                next = ngx_http_fraiseql_pipe_skipped(slot);

            } else {
                next = slot->stmt.more ? slot->pipe_next : NULL;
                ngx_http_fraiseql_slot_done(slot);
            }

            /* the next field's rows follow on the same connection */
            if (next == NULL || next->stmt.pgc == NULL || next->paused) {
                return;
            }

            /* in a batch's pipeline, maybe another request's */
            slot = next;
            ctx = slot->ctx;
            break;

        default: /* NGX_ERROR */
            ngx_http_fraiseql_slot_fail(slot,
                                        PQerrorMessage(slot->stmt.pgc->pg));
            return;
        }

        /* the answer was given up (abort): its connections went */
        if (slot->stmt.pgc == NULL) {
            return;
        }
    }
}


/*
 * PostgreSQL refused the statement: the field's error says why, and the
 * rest of its results are read (NGX_OK); or the server is dropping the
 * connection, which fails the slot (NGX_DONE).
 */
static ngx_int_t
ngx_http_fraiseql_slot_refused(ngx_http_fraiseql_slot_t *slot,
    PGresult *res)
{
    fql_error_t                     *err;
    ngx_http_fraiseql_ctx_t         *ctx = slot->ctx;
    ngx_http_fraiseql_stmt_error_t   e;

    if (ngx_http_fraiseql_stmt_error(&slot->stmt, res, ctx->lcf->debug, &e)
        == NGX_DECLINED)
    {
        ngx_http_fraiseql_slot_fail(slot, e.message ? e.message : e.state);
        return NGX_DONE;
    }

    if (slot->failed) {
        return NGX_OK;
    }

    slot->failed = 1;
    ctx->obs.db_error = 1;

    err = fql_error_add(&ctx->errs, &slot->plan->loc, e.code, e.fmt,
                        (int) slot->plan->response_key.len,
                        slot->plan->response_key.data, e.state, e.message);

    if (err == NULL || ngx_http_fraiseql_root_path(slot, err) != NGX_OK) {
        ngx_http_fraiseql_abort(ctx, NGX_ERROR);
        return NGX_DONE;
    }

    return NGX_OK;
}


/*
 * PostgreSQL did not answer within the query timeout and its grace (the
 * server's statement_timeout did not stop the statement): the field gets
 * the query-timeout error, as when the server does stop it, never a
 * retry; the statement is cancelled (ngx_http_fraiseql_pool_cancel) so
 * that it does not run on as an orphan.
 */
static void
ngx_http_fraiseql_slot_timeout(ngx_http_fraiseql_slot_t *slot)
{
    fql_error_t              *err;
    ngx_http_fraiseql_ctx_t  *ctx = slot->ctx;
    ngx_http_fraiseql_pgc_t  *pgc = slot->stmt.pgc;

    ngx_log_error(NGX_LOG_ERR, ctx->r->connection->log, 0,
                  "fraiseql: no answer from PostgreSQL within the query "
                  "timeout for \"%*s\": cancelling it",
                  slot->plan->response_key.len,
                  slot->plan->response_key.data);

    slot->stmt.pgc = NULL;
    ngx_http_fraiseql_pool_cancel(pgc);

    /* the slots after it in its pipeline start again (slot_done) */
    (void) ngx_http_fraiseql_pipe_break(slot);

    if (!slot->failed) {
        slot->failed = 1;

        err = fql_error_add(&ctx->errs, &slot->plan->loc, FQL_CODE_DATABASE,
                            "The query for \"%.*s\" ran longer than the "
                            "query timeout",
                            (int) slot->plan->response_key.len,
                            slot->plan->response_key.data);

        if (err == NULL || ngx_http_fraiseql_root_path(slot, err) != NGX_OK)
        {
            ngx_http_fraiseql_abort(ctx, NGX_ERROR);
            return;
        }
    }

    ngx_http_fraiseql_slot_done(slot);
}


/* the slot's statement is over: close its value, hand the connection on */
static void
ngx_http_fraiseql_slot_done(ngx_http_fraiseql_slot_t *slot)
{
    ngx_http_fraiseql_ctx_t  *ctx = slot->ctx;
    ngx_http_fraiseql_pgc_t  *pgc = slot->stmt.pgc;
    int                       rc;

    ngx_log_debug2(NGX_LOG_DEBUG_HTTP, ctx->r->connection->log, 0,
                   "fraiseql slot %ui: done, %ui rows", slot->index,
                   slot->nrows);

    if (pgc != NULL) {
        slot->stmt.pgc = NULL;

        /* (a batch's pipeline goes on after a request of it ended) */
        if (slot->stmt.more) {
            ngx_http_fraiseql_pipe_pass(slot, pgc);

        } else {
            ngx_http_fraiseql_pool_release(pgc, !slot->failed
                                                || PQisBusy(pgc->pg) == 0);
        }
    }

    if (slot->gathered) {
        ngx_http_fraiseql_batch_slot_done(slot);
    }

    if (ctx->obs.db_start) {
        ctx->obs.db_end = ngx_http_fraiseql_now_us();
    }

    ctx->obs.rows += slot->nrows;

    if (ctx->finished) {
        return;
    }

    if (slot->failed && slot->nrows && !slot->value_sent) {
        /* nothing of this value went out yet: it becomes null */
        ngx_http_fraiseql_value_rewind(slot);
        rc = fql_wbuf_lit(&slot->w, "null");

    } else if (slot->failed && slot->nrows == 0) {
        rc = fql_wbuf_lit(&slot->w, "null");

    } else if (slot->plan->kind == FQL_RF_LIST) {
        rc = slot->nrows ? fql_wbuf_putc(&slot->w, ']')
                         : fql_wbuf_lit(&slot->w, "[]");

    } else if (slot->nrows == 0) {
        rc = fql_wbuf_lit(&slot->w, "null");

    } else {
        rc = 0;
    }

    if (rc != 0) {
        ngx_http_fraiseql_abort(ctx, NGX_ERROR);
        return;
    }

    slot->state = NGX_HTTP_FRAISEQL_SLOT_DONE;
    slot->paused = 0;
    ctx->nactive--;

    if (slot->plan->kind == FQL_RF_MUTATION && !slot->failed) {
        ctx->committed = 1;
    }

    /* held until it is the head: its last buffer may go to the file too */
    if (!slot->streaming && ngx_http_fraiseql_slot_hold(slot) != NGX_OK) {
        ngx_http_fraiseql_abort(ctx, NGX_ERROR);
        return;
    }

    if (slot->streaming) {
        ngx_http_fraiseql_advance(ctx);

        if (ctx->finished) {
            return;
        }
    }

    /* its place goes to the next (a mutation: once this one committed) */
    ngx_http_fraiseql_start_next(ctx);
}


/* the slot's connection failed: the slot runs again, or ends */
static void
ngx_http_fraiseql_slot_fail(ngx_http_fraiseql_slot_t *slot,
    const char *detail)
{
    ngx_uint_t                stale, broken;
    ngx_http_fraiseql_ctx_t  *ctx = slot->ctx;
    ngx_http_fraiseql_pgc_t  *pgc = slot->stmt.pgc;

    ngx_log_error(NGX_LOG_ERR, ctx->r->connection->log, 0,
                  "fraiseql: connection failed while running \"%*s\": %*s",
                  slot->plan->response_key.len,
                  slot->plan->response_key.data,
                  ngx_http_fraiseql_pq_message(detail), detail);

    stale = 0;

    if (pgc != NULL) {
        stale = pgc->reused;
        slot->stmt.pgc = NULL;
        ngx_http_fraiseql_pool_release(pgc, 0);
    }

    /* the slots after it in its pipeline start again on their own */
    broken = ngx_http_fraiseql_pipe_break(slot);

    /* a slot of a batch's request that ended: nothing more for it */
    if (ctx->finished) {
        return;
    }

    /* a query that has produced nothing yet is safe to repeat */
    if (slot->nrows == 0 && !slot->failed && ctx->plan->op == FQL_OP_QUERY
        && ngx_http_fraiseql_slot_retry(slot, stale) == NGX_OK)
    {
        if (broken) {
            ngx_http_fraiseql_start_next(ctx);
        }

        return;
    }

    ctx->obs.db_error = 1;

    if (!ctx->header_sent && !ctx->committed) {
        ngx_http_fraiseql_slot_unavailable(slot, "The database connection "
                                           "failed");
        return;
    }

    /* details stay in the log: the client learns what failed, not how */
    ngx_http_fraiseql_slot_null(slot,
        fql_error_add(&ctx->errs, &slot->plan->loc, FQL_CODE_UNAVAILABLE,
                      "The database connection failed while running "
                      "\"%.*s\"", (int) slot->plan->response_key.len,
                      slot->plan->response_key.data));
}


/* the field's value is null and err says why; the slot is over */
static void
ngx_http_fraiseql_slot_null(ngx_http_fraiseql_slot_t *slot,
    fql_error_t *err)
{
    slot->failed = 1;

    if (err == NULL) {
        ngx_http_fraiseql_abort(slot->ctx, NGX_ERROR);
        return;
    }

    ngx_http_fraiseql_slot_done(slot);
}


/*
 * A connection that died while idle (a restart, pg_terminate_backend)
 * shows it only when used: a query runs once more on another connection.
 * When the one that failed had served or idled (stale), its neighbours
 * may have been killed with it: a few more runs, not more, in case it is
 * the statement that brings the server down.  A mutation may have run:
 * it is never sent twice.  NGX_DECLINED: no run left.
 */
static ngx_int_t
ngx_http_fraiseql_slot_retry(ngx_http_fraiseql_slot_t *slot,
    ngx_uint_t stale)
{
    if (slot->plan->kind == FQL_RF_MUTATION
        || (slot->runs > 1
            && !(stale && slot->runs <= 1 + NGX_HTTP_FRAISEQL_STALE_RETRIES)))
    {
        return NGX_DECLINED;
    }

    slot->state = NGX_HTTP_FRAISEQL_SLOT_NEW;
    ngx_http_fraiseql_start(slot);

    return NGX_OK;
}


/*
 * No connection for a slot.  Before anything was sent the whole request
 * is answered 503 (safe to retry); later, or once a mutation of the
 * request has committed (a retry would run it twice), the field becomes
 * null with an error.
 */
static void
ngx_http_fraiseql_slot_unavailable(ngx_http_fraiseql_slot_t *slot,
    const char *reason)
{
    ngx_int_t                 rc;
    fql_errors_t              errs;
    ngx_http_fraiseql_ctx_t  *ctx = slot->ctx;
    ngx_http_request_t       *r = ctx->r;

    if (ctx->finished) {
        return;
    }

    if (!ctx->header_sent && !ctx->committed) {
        ctx->finished = 1;
        ngx_http_fraiseql_cleanup(ctx);

        fql_errors_init(&errs, &ctx->arena);
        if (fql_error_add(&errs, NULL, FQL_CODE_UNAVAILABLE, "%s", reason)
            == NULL)
        {
            ngx_http_fraiseql_finalize(ctx, NGX_HTTP_INTERNAL_SERVER_ERROR);
            return;
        }

        rc = ngx_http_fraiseql_send_errors(r, NGX_HTTP_SERVICE_UNAVAILABLE,
                                           &errs, ctx->graphql_response);
        ngx_http_fraiseql_finalize(ctx, rc);
        return;
    }

    ngx_http_fraiseql_slot_null(slot,
        fql_error_add(&ctx->errs, &slot->plan->loc, FQL_CODE_UNAVAILABLE,
                      "%s", reason));
}


/*
 * The head slot is done, or the client can take more: what the head
 * holds goes out, and the next slots in order take the stream.  Held
 * output waits while the client is slow: in nginx's chain it could not
 * go to the temporary file any more.
 */
static void
ngx_http_fraiseql_advance(ngx_http_fraiseql_ctx_t *ctx)
{
    ngx_uint_t                 carried;
    ngx_http_fraiseql_slot_t  *s, *next;

    carried = 0;

    while (ctx->head < ctx->nslots) {
        s = &ctx->slots[ctx->head];
        s->streaming = 1;

        if (ngx_http_fraiseql_slot_open(s) != NGX_OK) {
            ngx_http_fraiseql_abort(ctx, NGX_ERROR);
            return;
        }

        if (s->state != NGX_HTTP_FRAISEQL_SLOT_DONE) {
            /* what it carries waits for its rows until the turn's end */
            if (carried) {
                ngx_http_fraiseql_flush_later(ctx);

            } else if (!ctx->blocked
                       && ngx_http_fraiseql_flush_slot(s, 0) == NGX_ERROR)
            {
                ngx_http_fraiseql_abort(ctx, NGX_ERROR);
                return;
            }

            /* it may have waited for room: the head reads on */
            if (s->paused) {
                ngx_http_fraiseql_wake(ctx);
            }

            return;
        }

        if (ctx->head == ctx->nslots - 1) {
            break;
        }

        if (ctx->blocked) {
            return;
        }

        /* the next one sends it, with its own, when it has nothing held */
        next = &ctx->slots[ctx->head + 1];
        carried = (next->out == NULL && !next->paused);

        if ((carried ? ngx_http_fraiseql_carry(s, next)
                     : ngx_http_fraiseql_flush_slot(s, 0))
            == NGX_ERROR)
        {
            ngx_http_fraiseql_abort(ctx, NGX_ERROR);
            return;
        }

        ctx->head++;
    }

    /* the last slot closes the response */
    s = &ctx->slots[ctx->nslots - 1];

    if (ctx->errs.count) {
        ngx_http_fraiseql_observe_errors(ctx->r, &ctx->errs);
    }

    /* what it cost, now that the rows are counted (refunds) */
    if (ngx_http_fraiseql_limit_done(ctx) != NGX_OK) {
        ngx_http_fraiseql_abort(ctx, NGX_ERROR);
        return;
    }

    if (fql_wbuf_putc(&s->w, '}') != 0
        || (ctx->errs.count
            && (fql_wbuf_putc(&s->w, ',') != 0
                || fql_errors_write(&ctx->errs, &s->w) != 0))
        || (ctx->limit.ext.len
            && fql_wbuf_put(&s->w, (char *) ctx->limit.ext.data,
                            ctx->limit.ext.len) != 0)
        || fql_wbuf_lit(&s->w, "}\n") != 0)
    {
        ngx_http_fraiseql_abort(ctx, NGX_ERROR);
        return;
    }

    ctx->finished = 1;
    ctx->head = ctx->nslots;

    ngx_http_fraiseql_finalize(ctx, ngx_http_fraiseql_flush_slot(s, 1));
}


/*
 * A slot stops reading its rows until it is woken (ngx_http_fraiseql_wake):
 * PostgreSQL waits for us now, not we for it.
 */
static void
ngx_http_fraiseql_pause(ngx_http_fraiseql_slot_t *slot)
{
    slot->paused = 1;

    if (slot->stmt.pgc->c->read->timer_set) {
        ngx_del_timer(slot->stmt.pgc->c->read);
    }
}


/*
 * Paused slots try again (room may have come back), at the next turn of
 * the event loop: after the events that wait, not before them.
 */
static void
ngx_http_fraiseql_wake(ngx_http_fraiseql_ctx_t *ctx)
{
    if (!ctx->wake.posted && !ctx->finished) {
        ngx_post_event(&ctx->wake, &ngx_posted_next_events);
    }
}


static void
ngx_http_fraiseql_wake_handler(ngx_event_t *ev)
{
    ngx_http_fraiseql_ctx_t  *ctx = ev->data;

    ngx_uint_t                 i, paused;
    ngx_connection_t          *c;
    ngx_http_fraiseql_slot_t  *s;

    c = ctx->r->connection;
    paused = 0;

    ngx_log_debug1(NGX_LOG_DEBUG_HTTP, c->log, 0,
                   "fraiseql wake handler, head %ui", ctx->head);

    /* those paused now: one that reads on passes a pipeline on */
    for (i = ctx->head; i < ctx->nslots; i++) {
        s = &ctx->slots[i];
        s->woken = (s->paused && s->stmt.pgc != NULL
                    && s->state == NGX_HTTP_FRAISEQL_SLOT_RUNNING);
    }

    for (i = ctx->head; i < ctx->nslots && !ctx->finished; i++) {
        s = &ctx->slots[i];

        if (s->woken && s->paused && s->stmt.pgc != NULL
            && s->state == NGX_HTTP_FRAISEQL_SLOT_RUNNING)
        {
            s->woken = 0;
            s->paused = 0;
            ngx_http_fraiseql_slot_rows(s);
        }
    }

    for (i = ctx->head; i < ctx->nslots; i++) {
        paused += ctx->slots[i].paused;
    }

    /* nothing waits on the client any more */
    if (!paused && ctx->hold.timer_set) {
        ngx_del_timer(&ctx->hold);
    }

    ngx_http_run_posted_requests(c);
}


/* the client can take more: send what waits, then the rows go on */
static void
ngx_http_fraiseql_write_handler(ngx_http_request_t *r)
{
    ngx_event_t               *wev;
    ngx_http_fraiseql_ctx_t   *ctx;
    ngx_http_core_loc_conf_t  *clcf;

    ctx = ngx_http_get_module_ctx(r, ngx_http_fraiseql_module);
    wev = r->connection->write;

    ngx_log_debug2(NGX_LOG_DEBUG_HTTP, r->connection->log, 0,
                   "fraiseql write handler%s%s",
                   wev->timedout ? ", timed out" : "",
                   wev->delayed ? ", delayed" : "");

    if (ctx == NULL) {
        return;
    }

    if (ctx->finished) {
        /*
         * The posted finalization hands the rest of the answer to nginx's
         * writer: the event is for it (an epoll edge is not repeated; a
         * write event taken here would leave the answer waiting for
         * send_timeout).
         */
        if (ctx->fin.posted) {
            ngx_post_event(wev, &ngx_posted_next_events);
        }

        return;
    }

    if (wev->timedout) {
        ngx_log_error(NGX_LOG_INFO, r->connection->log, NGX_ETIMEDOUT,
                      "fraiseql: client timed out");
        r->connection->timedout = 1;
        ngx_http_fraiseql_abort(ctx, NGX_HTTP_REQUEST_TIME_OUT);
        return;
    }

    /* limit_rate holds the answer back: its timer is not ours to drop */
    if (wev->delayed) {
        clcf = ngx_http_get_module_loc_conf(r, ngx_http_core_module);

        if (ngx_handle_write_event(wev, clcf->send_lowat) != NGX_OK) {
            ngx_http_fraiseql_abort(ctx, NGX_ERROR);
        }

        return;
    }

    if (wev->timer_set) {
        ngx_del_timer(wev);
    }

    /* it took something: a stalled connection may wait again */
    if (ctx->hold.timer_set) {
        ngx_del_timer(&ctx->hold);
    }

    if (ngx_http_fraiseql_send(ctx, NULL) == NGX_ERROR) {
        ngx_http_fraiseql_abort(ctx, NGX_ERROR);
        return;
    }

    /* what was held while the client was slow goes out now */
    if (!ctx->blocked) {
        ngx_http_fraiseql_advance(ctx);
    }

    ngx_http_fraiseql_wake(ctx);
}
