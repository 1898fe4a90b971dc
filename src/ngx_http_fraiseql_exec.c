/*
 * Runs a compiled plan: one slot per root field, each on its own pooled
 * connection (fraiseql_request_connections at a time), rows transformed
 * as they arrive.  The slot at the head of the response streams to the
 * output filter; later slots hold their output until they become the
 * head, so the response keeps document order while the statements run
 * concurrently (ngx_http_fraiseql_output.c keeps what is held bounded).
 */

#include <sys/socket.h>

#include "ngx_http_fraiseql.h"
#include "fql_mutation.h"


static void ngx_http_fraiseql_start_next(ngx_http_fraiseql_ctx_t *ctx);
static void ngx_http_fraiseql_slot_rows(ngx_http_fraiseql_slot_t *slot);
static void ngx_http_fraiseql_slot_done(ngx_http_fraiseql_slot_t *slot);
static void ngx_http_fraiseql_slot_fail(ngx_http_fraiseql_slot_t *slot,
    const char *detail);
static ngx_int_t ngx_http_fraiseql_slot_retry(ngx_http_fraiseql_slot_t *slot,
    ngx_uint_t stale);
static void ngx_http_fraiseql_advance(ngx_http_fraiseql_ctx_t *ctx);
static void ngx_http_fraiseql_wake(ngx_http_fraiseql_ctx_t *ctx);
static void ngx_http_fraiseql_wake_handler(ngx_event_t *ev);
static void ngx_http_fraiseql_pause(ngx_http_fraiseql_slot_t *slot);
static void ngx_http_fraiseql_hold_timeout(ngx_event_t *ev);
static ngx_int_t ngx_http_fraiseql_slot_open(ngx_http_fraiseql_slot_t *s);
static void ngx_http_fraiseql_slot_timeout(ngx_http_fraiseql_slot_t *slot);
static void ngx_http_fraiseql_cleanup(void *data);
static void ngx_http_fraiseql_finalize(ngx_http_fraiseql_ctx_t *ctx,
    ngx_int_t rc);
static void ngx_http_fraiseql_write_handler(ngx_http_request_t *r);
static void ngx_http_fraiseql_start(ngx_http_fraiseql_slot_t *slot);
static ngx_int_t ngx_http_fraiseql_send_statement(
    ngx_http_fraiseql_slot_t *slot);
static ngx_int_t ngx_http_fraiseql_prepared(ngx_http_fraiseql_slot_t *slot);
static int ngx_http_fraiseql_field_error(void *data, const fql_path_t *path,
    const char *message);


ngx_int_t
ngx_http_fraiseql_execute(ngx_http_fraiseql_ctx_t *ctx)
{
    ngx_uint_t                  i;
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
        ngx_buf_t  *b;

        b = ngx_calloc_buf(r->pool);
        if (b == NULL) {
            return NGX_HTTP_INTERNAL_SERVER_ERROR;
        }

        b->pos = (u_char *) "{\"data\":{}}\n";
        b->last = b->pos + sizeof("{\"data\":{}}\n") - 1;
        b->memory = 1;
        b->last_buf = 1;

        ctx->finished = 1;

        if (ngx_http_fraiseql_send(ctx, NULL) == NGX_ERROR) {
            return NGX_ERROR;
        }

        {
        ngx_chain_t  out = { b, NULL };

        return ngx_http_output_filter(r, &out);
        }
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

    ctx->hold.handler = ngx_http_fraiseql_hold_timeout;
    ctx->hold.data = ctx;
    ctx->hold.log = r->connection->log;
    ctx->wake.handler = ngx_http_fraiseql_wake_handler;
    ctx->wake.data = ctx;
    ctx->wake.log = r->connection->log;

    for (i = 0, rp = ctx->plan->roots; rp; rp = rp->next, i++) {
        s = &ctx->slots[i];
        s->ctx = ctx;
        s->plan = rp;
        s->index = i;
        s->last = &s->out;
        s->w.reserve = ngx_http_fraiseql_slot_reserve;
        s->w.ctx = s;

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

    max = (ctx->plan->op == FQL_OP_MUTATION)
          ? 1 : ctx->lcf->request_connections;

    while (ctx->next < ctx->nslots && ctx->nactive < max && !ctx->finished)
    {
        s = &ctx->slots[ctx->next++];

        if (s->state != NGX_HTTP_FRAISEQL_SLOT_NEW) {
            continue;
        }

        ctx->nactive++;

        if (s->plan->kind == FQL_RF_MUTATION) {
            /* a mutation may have run: it is never sent twice */
            s->retried = 1;
        }

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
    ngx_http_fraiseql_ctx_t  *ctx = slot->ctx;

    rc = ngx_http_fraiseql_acquire(ctx->lcf->group,
                                   ctx->plan->op != FQL_OP_QUERY, slot,
                                   ctx->r->connection->log);

    switch (rc) {

    case NGX_OK:
        ngx_http_fraiseql_slot_ready(slot);
        return;

    case NGX_AGAIN:
        return;

    case NGX_BUSY:
        ngx_log_error(NGX_LOG_WARN, ctx->r->connection->log, 0,
                      "fraiseql: connection queue is full");
        ngx_http_fraiseql_slot_unavailable(slot,
                                           "Too many requests are waiting "
                                           "for a database connection");
        return;

    default:
        ngx_http_fraiseql_slot_unavailable(slot,
                                           "The database is unavailable");
        return;
    }
}


/* the slot holds a connection: send its statement */
void
ngx_http_fraiseql_slot_ready(ngx_http_fraiseql_slot_t *slot)
{
    int                       rc;
    PGconn                   *pg;
    ngx_uint_t                stale;
    fql_root_plan_t          *rp = slot->plan;
    ngx_connection_t         *hc;
    ngx_http_fraiseql_pgc_t  *pgc = slot->pgc;

    pg = pgc->pg;
    slot->state = NGX_HTTP_FRAISEQL_SLOT_RUNNING;
    hc = slot->ctx->r->connection;

    ngx_log_debug2(NGX_LOG_DEBUG_HTTP, hc->log, 0,
                   "fraiseql: run \"%s\" with %ui params", rp->sql,
                   (ngx_uint_t) rp->nparams);

    if (ngx_http_fraiseql_send_statement(slot) != NGX_OK) {
        ngx_log_error(NGX_LOG_ERR, hc->log, 0,
                      "fraiseql: cannot send query: %s",
                      PQerrorMessage(pg));

        slot->pgc = NULL;
        stale = pgc->reused && slot->plan->kind != FQL_RF_MUTATION;
        ngx_http_fraiseql_release(pgc, 0);

        if (ngx_http_fraiseql_slot_retry(slot, stale) == NGX_OK) {
            return;
        }

        ngx_http_fraiseql_slot_unavailable(slot,
                                           "The database connection "
                                           "failed");
        return;
    }

    rc = PQflush(pg);

    if (rc == -1) {
        ngx_http_fraiseql_slot_fail(slot, PQerrorMessage(pg));
        return;
    }

    pgc->flushing = (rc == 1);

    ngx_add_timer(pgc->c->read, slot->ctx->lcf->query_timeout
                                + NGX_HTTP_FRAISEQL_TIMEOUT_GRACE);
}


/*
 * Sends the slot's statement.  A statement this connection has prepared
 * runs by name: PostgreSQL neither parses nor plans it again.  One it has
 * not is prepared first (its rows follow in a second step, see
 * ngx_http_fraiseql_slot_rows); a connection that holds too many already
 * runs it unnamed.
 */
static ngx_int_t
ngx_http_fraiseql_send_statement(ngx_http_fraiseql_slot_t *slot)
{
    char                      name[24];
    size_t                    len;
    ngx_uint_t                i, collision;
    PGconn                   *pg;
    fql_root_plan_t          *rp = slot->plan;
    ngx_http_fraiseql_pgc_t  *pgc = slot->pgc;

    pg = pgc->pg;
    slot->preparing = 0;
    slot->pipeline = 0;
    slot->stmt = rp->sql_hash;

    ngx_sprintf((u_char *) name, "fq_%016uxL%Z", slot->stmt);

    len = rp->sql_len;
    collision = 0;

    for (i = 0; i < pgc->nprepared; i++) {
        if (pgc->prepared[i].hash == slot->stmt) {
            /* a name stands for one text: another one runs unnamed */
            collision = pgc->prepared[i].len != len
                        || ngx_memcmp(pgc->prepared[i].sql, rp->sql, len)
                           != 0;
            break;
        }
    }

    if (collision || !slot->ctx->lcf->prepared) {
        i = NGX_HTTP_FRAISEQL_PREPARED_MAX;

    } else if (i == pgc->nprepared && i < NGX_HTTP_FRAISEQL_PREPARED_MAX) {
        slot->preparing = 1;

        if (!slot->ctx->lcf->pipeline) {
            return PQsendPrepare(pg, name, rp->sql, rp->nparams, NULL)
                   ? NGX_OK : NGX_ERROR;
        }

        /*
         * Prepare and run in one round trip: the results come in order,
         * the Prepare's, the rows, then the Sync's (see slot_rows).
         */
        slot->pipeline = 1;
        slot->synced = 0;

        return PQenterPipelineMode(pg)
               && PQsendPrepare(pg, name, rp->sql, rp->nparams, NULL)
               && PQsendQueryPrepared(pg, name, rp->nparams, rp->params,
                                      NULL, NULL, 0)
               && PQpipelineSync(pg)
               ? NGX_OK : NGX_ERROR;
    }

    if (i < pgc->nprepared) {
        if (!PQsendQueryPrepared(pg, name, rp->nparams, rp->params, NULL,
                                 NULL, 0))
        {
            return NGX_ERROR;
        }

    } else if (!PQsendQueryParams(pg, rp->sql, rp->nparams, NULL,
                                  rp->params, NULL, NULL, 0))
    {
        return NGX_ERROR;
    }

    /* rows come one result each: nothing is buffered whole */
    if (!PQsetSingleRowMode(pg)) {
        ngx_log_error(NGX_LOG_WARN, slot->ctx->r->connection->log, 0,
                      "fraiseql: single-row mode refused");
    }

    return NGX_OK;
}


/* the connection knows the slot's statement by name from now on */
static ngx_int_t
ngx_http_fraiseql_remember(ngx_http_fraiseql_slot_t *slot)
{
    ngx_http_fraiseql_pgc_t   *pgc = slot->pgc;
    ngx_http_fraiseql_stmt_t  *stmt;

    stmt = &pgc->prepared[pgc->nprepared];
    stmt->hash = slot->stmt;
    stmt->len = slot->plan->sql_len;

    if (pgc->stmt_pool == NULL) {
        pgc->stmt_pool = ngx_create_pool(4096, ngx_cycle->log);
        if (pgc->stmt_pool == NULL) {
            return NGX_ERROR;
        }
    }

    stmt->sql = ngx_pnalloc(pgc->stmt_pool, stmt->len);
    if (stmt->sql == NULL) {
        return NGX_ERROR;
    }

    ngx_memcpy(stmt->sql, slot->plan->sql, stmt->len);
    pgc->nprepared++;

    return NGX_OK;
}


/* the statement is prepared on this connection: now run it */
static ngx_int_t
ngx_http_fraiseql_prepared(ngx_http_fraiseql_slot_t *slot)
{
    int                        rc;
    ngx_http_fraiseql_pgc_t   *pgc = slot->pgc;

    if (ngx_http_fraiseql_remember(slot) != NGX_OK
        || ngx_http_fraiseql_send_statement(slot) != NGX_OK)
    {
        return NGX_ERROR;
    }

    rc = PQflush(pgc->pg);
    if (rc == -1) {
        return NGX_ERROR;
    }

    pgc->flushing = (rc == 1);

    return NGX_OK;
}


/* the read or write event of a busy connection */
void
ngx_http_fraiseql_pgc_process(ngx_http_fraiseql_pgc_t *pgc)
{
    int                        rc;
    ngx_connection_t          *hc;
    ngx_http_fraiseql_slot_t  *slot = pgc->owner;

    hc = slot->ctx->r->connection;

    if (pgc->c->read->timedout) {
        pgc->c->read->timedout = 0;
        ngx_http_fraiseql_slot_timeout(slot);
        goto done;
    }

    if (pgc->flushing) {
        rc = PQflush(pgc->pg);

        if (rc == -1) {
            ngx_http_fraiseql_slot_fail(slot, PQerrorMessage(pgc->pg));
            goto done;
        }

        pgc->flushing = (rc == 1);
    }

    /* a paused slot goes on when woken, not on each packet */
    if (!slot->paused) {
        ngx_http_fraiseql_slot_rows(slot);
    }

done:

    ngx_http_run_posted_requests(hc);
}


/* whether the socket still holds bytes: edge-triggered events need it */
static ngx_uint_t
ngx_http_fraiseql_pending_input(PGconn *pg)
{
    char  b;

    return recv(PQsocket(pg), &b, 1, MSG_PEEK|MSG_DONTWAIT) > 0;
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


/* a mutation's row: Success or Error, shaped, then projected */
static void
ngx_http_fraiseql_mutation_row(ngx_http_fraiseql_slot_t *slot, char *data,
    size_t len, fql_path_t *pp)
{
    int                       rc;
    fql_heapbuf_t             hb;
    const fql_proj_t         *proj;
    ngx_http_fraiseql_ctx_t  *ctx = slot->ctx;

    fql_heapbuf_init(&hb);

    rc = fql_mutation_row(slot->plan, &ctx->arena, data, len, &proj, &hb);

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


/*
 * Errors a parameter's text causes when PostgreSQL reads it for a column
 * or an operator: data exceptions (class 22: an ID that is no number or
 * UUID, a number out of range, a bad date, range or regular expression)
 * and syntax errors in values parsed as queries (lquery, tsquery).  They
 * are the client's errors, not the database's.
 */
static ngx_uint_t
ngx_http_fraiseql_input_refused(const char *state)
{
    return state != NULL
           && (ngx_strncmp(state, "22", 2) == 0
               || ngx_strcmp(state, "42601") == 0);
}


static void
ngx_http_fraiseql_slot_rows(ngx_http_fraiseql_slot_t *slot)
{
    size_t                    taken;
    ngx_int_t                 rc;
    PGresult                 *res;
    ngx_http_fraiseql_ctx_t  *ctx = slot->ctx;
    ngx_http_fraiseql_pgc_t  *pgc = slot->pgc;

    taken = 0;

    for ( ;; ) {

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

        if (PQisBusy(pgc->pg)) {
            if (!PQconsumeInput(pgc->pg)) {
                ngx_http_fraiseql_slot_fail(slot, PQerrorMessage(pgc->pg));
                return;
            }

            if (PQisBusy(pgc->pg)) {
                if (ngx_http_fraiseql_pending_input(pgc->pg)) {
                    continue;
                }

                /*
                 * Waiting for PostgreSQL: bounded in time, and a pending
                 * timer is also what keeps a gracefully exiting worker
                 * alive until the statement is over.
                 */
                ngx_add_timer(pgc->c->read, ctx->lcf->query_timeout
                                            + NGX_HTTP_FRAISEQL_TIMEOUT_GRACE);
                return;
            }
        }

        res = PQgetResult(pgc->pg);

        if (res == NULL && slot->pipeline && !slot->synced) {
            if (slot->preparing) {
                /* the Prepare's results are over; the rows come next */
                slot->preparing = 0;

                if (!slot->failed) {
                    if (ngx_http_fraiseql_remember(slot) != NGX_OK) {
                        ngx_http_fraiseql_slot_fail(slot, "no memory");
                        return;
                    }

                    if (!PQsetSingleRowMode(pgc->pg)) {
                        ngx_log_error(NGX_LOG_WARN,
                                      ctx->r->connection->log, 0,
                                      "fraiseql: single-row mode refused");
                    }
                }
            }

            /* then the Sync's result */
            continue;
        }

        if (res == NULL) {
            if (slot->preparing && !slot->failed) {
                if (ngx_http_fraiseql_prepared(slot) != NGX_OK) {
                    ngx_http_fraiseql_slot_fail(slot,
                                                PQerrorMessage(pgc->pg));
                    return;
                }

                continue;
            }

            ngx_http_fraiseql_slot_done(slot);
            return;
        }

        switch (PQresultStatus(res)) {

        case PGRES_SINGLE_TUPLE:
            taken += PQgetlength(res, 0, 0) + 64;
            ngx_http_fraiseql_row(slot, res);
            break;

        case PGRES_TUPLES_OK:
        case PGRES_COMMAND_OK:
            break;

        case PGRES_PIPELINE_SYNC:
            /* the pipeline is over: what follows is the end, NULL */
            slot->synced = 1;

            if (!PQexitPipelineMode(pgc->pg)) {
                PQclear(res);
                ngx_http_fraiseql_slot_fail(slot, PQerrorMessage(pgc->pg));
                return;
            }

            break;

        case PGRES_PIPELINE_ABORTED:
            /* the Prepare failed: its error is already reported */
            break;

        default:
            {
            char         *state, *msg;
            const char   *fmt, *code;
            fql_error_t  *err;

            code = FQL_CODE_DATABASE;

            state = PQresultErrorField(res, PG_DIAG_SQLSTATE);
            msg = PQresultErrorField(res, PG_DIAG_MESSAGE_PRIMARY);

            /* the server is dropping the connection (57P01, 57P02...) */
            if (state != NULL && ngx_strncmp(state, "57P0", 4) == 0) {
                ngx_http_fraiseql_slot_fail(slot, msg ? msg : state);
                PQclear(res);
                return;
            }

            ngx_log_error(NGX_LOG_ERR, ctx->r->connection->log, 0,
                          "fraiseql: query failed: %s: %s (statement: %s)",
                          state ? state : "-", msg ? msg : "-",
                          slot->plan->sql);

            if (!slot->failed) {
                slot->failed = 1;

                /* query_canceled: the server's statement_timeout */
                if (state != NULL && ngx_strcmp(state, "57014") == 0) {
                    fmt = "The query for \"%.*s\" ran longer than the "
                          "query timeout (SQLSTATE %s)";

                /* undefined_object: type "vector" is unknown there */
                } else if (slot->plan->uses_vector && state != NULL
                           && ngx_strcmp(state, "42704") == 0)
                {
                    fmt = "The vector operators of \"%.*s\" need the "
                          "pgvector extension, which the database does not "
                          "have (SQLSTATE %s)";

                } else if (slot->plan->kind == FQL_RF_MUTATION) {
                    /* raised by the function: its text only when asked */
                    fmt = ctx->lcf->debug
                          ? "The database refused the mutation \"%.*s\" "
                            "(SQLSTATE %s): %s"
                          : "The database refused the mutation \"%.*s\" "
                            "(SQLSTATE %s)";

                } else if (slot->plan->nparams
                           && ngx_http_fraiseql_input_refused(state))
                {
                    /* a bound value the column cannot take: the client's */
                    code = FQL_CODE_BAD_INPUT;
                    fmt = ctx->lcf->debug
                          ? "A value given to \"%.*s\" is not valid for the "
                            "database (SQLSTATE %s): %s"
                          : "A value given to \"%.*s\" is not valid for the "
                            "database (SQLSTATE %s)";

                } else {
                    fmt = "The database could not run the query for "
                          "\"%.*s\" (SQLSTATE %s)";
                }

                err = fql_error_add(&ctx->errs, &slot->plan->loc, code, fmt,
                                    (int) slot->plan->response_key.len,
                                    slot->plan->response_key.data,
                                    state ? state : "unknown",
                                    msg ? msg : "");

                if (err == NULL
                    || ngx_http_fraiseql_root_path(slot, err) != NGX_OK)
                {
                    PQclear(res);
                    ngx_http_fraiseql_abort(ctx, NGX_ERROR);
                    return;
                }
            }
            }
            break;
        }

        PQclear(res);

        if (ctx->finished) {
            return;
        }
    }
}


/*
 * PostgreSQL did not answer within the query timeout and its grace (the
 * server's statement_timeout did not stop the statement): the field gets
 * the query-timeout error, as when the server does stop it, never a
 * retry; the statement is cancelled (ngx_http_fraiseql_cancel) so that it
 * does not run on as an orphan.
 */
static void
ngx_http_fraiseql_slot_timeout(ngx_http_fraiseql_slot_t *slot)
{
    fql_error_t              *err;
    ngx_http_fraiseql_ctx_t  *ctx = slot->ctx;
    ngx_http_fraiseql_pgc_t  *pgc = slot->pgc;

    ngx_log_error(NGX_LOG_ERR, ctx->r->connection->log, 0,
                  "fraiseql: no answer from PostgreSQL within the query "
                  "timeout for \"%V\": cancelling it",
                  &(ngx_str_t) { slot->plan->response_key.len,
                                 (u_char *) slot->plan->response_key.data });

    slot->pgc = NULL;
    ngx_http_fraiseql_cancel(pgc);

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
    ngx_http_fraiseql_pgc_t  *pgc = slot->pgc;
    int                       rc;

    if (pgc != NULL) {
        slot->pgc = NULL;
        ngx_http_fraiseql_release(pgc, !slot->failed || PQisBusy(pgc->pg)
                                       == 0);
    }

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


static void
ngx_http_fraiseql_slot_fail(ngx_http_fraiseql_slot_t *slot,
    const char *detail)
{
    size_t                    len;
    ngx_uint_t                stale;
    ngx_http_fraiseql_ctx_t  *ctx = slot->ctx;
    ngx_http_fraiseql_pgc_t  *pgc = slot->pgc;

    len = ngx_strlen(detail);
    while (len && (detail[len - 1] == '\n' || detail[len - 1] == ' ')) {
        len--;
    }

    ngx_log_error(NGX_LOG_ERR, ctx->r->connection->log, 0,
                  "fraiseql: connection failed while running \"%V\": %*s",
                  &(ngx_str_t) { slot->plan->response_key.len,
                                 (u_char *) slot->plan->response_key.data },
                  len, detail);

    stale = 0;

    if (pgc != NULL) {
        stale = pgc->reused;
        slot->pgc = NULL;
        ngx_http_fraiseql_release(pgc, 0);
    }

    /* a query that has produced nothing yet is safe to repeat */
    if (slot->nrows == 0 && !slot->failed && ctx->plan->op == FQL_OP_QUERY
        && ngx_http_fraiseql_slot_retry(slot, stale) == NGX_OK)
    {
        return;
    }

    if (!ctx->header_sent && !ctx->committed) {
        ngx_http_fraiseql_slot_unavailable(slot, "The database connection "
                                           "failed");
        return;
    }

    slot->failed = 1;

    /* details stay in the log: the client learns what failed, not how */
    if (fql_error_add(&ctx->errs, &slot->plan->loc, FQL_CODE_UNAVAILABLE,
                      "The database connection failed while running "
                      "\"%.*s\"", (int) slot->plan->response_key.len,
                      slot->plan->response_key.data) == NULL)
    {
        ngx_http_fraiseql_abort(ctx, NGX_ERROR);
        return;
    }

    ngx_http_fraiseql_slot_done(slot);
}


/* its server went down while it waited: the slot chooses again */
void
ngx_http_fraiseql_slot_reroute(ngx_http_fraiseql_slot_t *slot)
{
    if (slot->ctx->finished) {
        return;
    }

    slot->state = NGX_HTTP_FRAISEQL_SLOT_NEW;
    ngx_http_fraiseql_start(slot);
}


/*
 * A connection that died while idle (a restart, pg_terminate_backend)
 * shows it only when used: the slot runs once more on another
 * connection.  When the one that failed had served or idled (stale), its
 * neighbours may have been killed with it: a few more tries, not more, in
 * case it is the statement that brings the server down.  NGX_DECLINED:
 * no retry left (a mutation's slot is marked retried from the start).
 */
static ngx_int_t
ngx_http_fraiseql_slot_retry(ngx_http_fraiseql_slot_t *slot,
    ngx_uint_t stale)
{
    if (slot->retried && !(stale && slot->nstale < 3)) {
        return NGX_DECLINED;
    }

    slot->nstale += slot->retried;
    slot->retried = 1;
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
void
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

    slot->failed = 1;

    if (fql_error_add(&ctx->errs, &slot->plan->loc, FQL_CODE_UNAVAILABLE,
                      "%s", reason) == NULL)
    {
        ngx_http_fraiseql_abort(ctx, NGX_ERROR);
        return;
    }

    ngx_http_fraiseql_slot_done(slot);
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
    ngx_http_fraiseql_slot_t  *s;

    while (ctx->head < ctx->nslots) {
        s = &ctx->slots[ctx->head];
        s->streaming = 1;

        if (ngx_http_fraiseql_slot_open(s) != NGX_OK) {
            ngx_http_fraiseql_abort(ctx, NGX_ERROR);
            return;
        }

        if (s->state != NGX_HTTP_FRAISEQL_SLOT_DONE) {
            if (!ctx->blocked
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

        if (ngx_http_fraiseql_flush_slot(s, 0) == NGX_ERROR) {
            ngx_http_fraiseql_abort(ctx, NGX_ERROR);
            return;
        }

        ctx->head++;
    }

    /* the last slot closes the response */
    s = &ctx->slots[ctx->nslots - 1];

    if (fql_wbuf_putc(&s->w, '}') != 0
        || (ctx->errs.count
            && (fql_wbuf_putc(&s->w, ',') != 0
                || fql_errors_write(&ctx->errs, &s->w) != 0))
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

    if (slot->pgc->c->read->timer_set) {
        ngx_del_timer(slot->pgc->c->read);
    }
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

    for (i = ctx->head; i < ctx->nslots && !ctx->finished; i++) {
        s = &ctx->slots[i];

        if (s->paused && s->pgc != NULL
            && s->state == NGX_HTTP_FRAISEQL_SLOT_RUNNING)
        {
            s->paused = 0;
            ngx_http_fraiseql_slot_rows(s);
            paused += s->paused;
        }
    }

    /* nothing waits on the client any more */
    if (!paused && ctx->hold.timer_set) {
        ngx_del_timer(&ctx->hold);
    }

    ngx_http_run_posted_requests(c);
}


void
ngx_http_fraiseql_abort(ngx_http_fraiseql_ctx_t *ctx, ngx_int_t rc)
{
    if (ctx->finished) {
        return;
    }

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

    ngx_http_finalize_request(r, ctx->rc);
    ngx_http_run_posted_requests(c);
}


/*
 * Finalizes the request from the event loop, not from deep inside a
 * handler: a connection handed over or a slot failing may be several
 * frames above, all still using the context that finalizing frees.
 */
static void
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


/* request cleanup: whatever still holds a connection lets it go */
static void
ngx_http_fraiseql_cleanup(void *data)
{
    ngx_http_fraiseql_ctx_t  *ctx = data;

    ngx_uint_t                 i;
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

    if (ctx->hold.timer_set) {
        ngx_del_timer(&ctx->hold);
    }

    for (i = 0; i < ctx->nslots; i++) {
        s = &ctx->slots[i];

        if (s->state == NGX_HTTP_FRAISEQL_SLOT_WAITING) {
            ngx_http_fraiseql_cancel_wait(s);
        }

        if (s->wait.timer_set) {
            ngx_del_timer(&s->wait);
        }

        pgc = s->pgc;
        if (pgc != NULL) {
            s->pgc = NULL;
            pgc->owner = NULL;
            ngx_http_fraiseql_release(pgc, 0);
        }

        s->state = NGX_HTTP_FRAISEQL_SLOT_DONE;
    }
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

    if (ctx == NULL || ctx->finished) {
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
