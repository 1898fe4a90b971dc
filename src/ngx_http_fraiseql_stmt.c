/*
 * A statement on a connection: what is sent, in which order the results
 * come back (the phase), the statements each connection has prepared,
 * and what PostgreSQL's errors mean to a GraphQL client.  Rows are its
 * user's: ngx_http_fraiseql_stmt_result hands them out one at a time.
 */

#include "ngx_http_fraiseql.h"


/* a statement prepared on a connection, named fq_<hash> */
typedef struct {
    uint64_t                   hash;
    u_char                    *sql;       /* its text, to compare */
    size_t                     len;
} ngx_http_fraiseql_known_t;


#define NGX_HTTP_FRAISEQL_STEP(phase)  (1u << (phase))

/* how a statement runs on a connection */
#define NGX_HTTP_FRAISEQL_UNNAMED  0
#define NGX_HTTP_FRAISEQL_BY_NAME  1
#define NGX_HTTP_FRAISEQL_PREPARE  2    /* prepared first, then by name */


static ngx_uint_t ngx_http_fraiseql_stmt_lookup(ngx_http_fraiseql_stmt_t *st,
    uint64_t hash, const char *sql, size_t len);
static ngx_int_t ngx_http_fraiseql_stmt_remember(
    ngx_http_fraiseql_stmt_t *st, uint64_t hash, const char *sql,
    size_t len);
static ngx_int_t ngx_http_fraiseql_stmt_run(ngx_http_fraiseql_stmt_t *st,
    ngx_uint_t how);
static void ngx_http_fraiseql_stmt_enter(ngx_http_fraiseql_stmt_t *st,
    ngx_http_fraiseql_stmt_phase_e phase);
static ngx_int_t ngx_http_fraiseql_stmt_next(ngx_http_fraiseql_stmt_t *st);
static ngx_uint_t ngx_http_fraiseql_stmt_how(ngx_http_fraiseql_stmt_t *st);
static ngx_int_t ngx_http_fraiseql_stmt_steps(ngx_http_fraiseql_stmt_t *st,
    ngx_uint_t how);


static const char  *ngx_http_fraiseql_stmt_phases[] = {
    "lead prepare",
    "lead",
    "prepare",
    "rows",
    "sync",
    "done"
};


/*
 * The leading statement (the claims and settings): the same text for
 * every request of a location, so prepared once per connection as the
 * statements are, rather than parsed and planned again each time.
 */
static ngx_int_t
ngx_http_fraiseql_stmt_lead(ngx_http_fraiseql_stmt_t *st)
{
    char        name[24];
    PGconn     *pg = st->pgc->pg;
    ngx_uint_t  how;

    how = ngx_http_fraiseql_stmt_lookup(st, st->lead_hash, st->lead,
                                        st->lead_len);

    if (how == NGX_HTTP_FRAISEQL_UNNAMED) {
        if (!PQsendQueryParams(pg, st->lead, st->lead_nparams, NULL,
                               st->lead_params, NULL, NULL, 0))
        {
            return NGX_ERROR;
        }

        st->steps |= NGX_HTTP_FRAISEQL_STEP(NGX_HTTP_FRAISEQL_STMT_LEAD);
        return NGX_OK;
    }

    ngx_sprintf((u_char *) name, "fq_%016uxL%Z", st->lead_hash);

    if (how == NGX_HTTP_FRAISEQL_PREPARE) {
        if (!PQsendPrepare(pg, name, st->lead, st->lead_nparams, NULL)) {
            return NGX_ERROR;
        }

        st->steps |= NGX_HTTP_FRAISEQL_STEP(
                                        NGX_HTTP_FRAISEQL_STMT_LEAD_PREPARE);
    }

    if (!PQsendQueryPrepared(pg, name, st->lead_nparams, st->lead_params,
                             NULL, NULL, 0))
    {
        return NGX_ERROR;
    }

    st->steps |= NGX_HTTP_FRAISEQL_STEP(NGX_HTTP_FRAISEQL_STMT_LEAD);

    return NGX_OK;
}


/*
 * Resets the statement for a run and chooses how it goes on this
 * connection (by name, prepared now, or unnamed).
 */
static ngx_uint_t
ngx_http_fraiseql_stmt_how(ngx_http_fraiseql_stmt_t *st)
{
    ngx_uint_t              how;
    const fql_root_plan_t  *rp = st->plan;

    static const char  *hows[] = { "unnamed", "by name", "prepared now" };

    st->steps = 0;
    st->refused = 0;
    st->skipped = 0;
    st->pgc->log.action = "sending a statement to PostgreSQL";

    how = ngx_http_fraiseql_stmt_lookup(st, rp->sql_hash, rp->sql,
                                        rp->sql_len);

    ngx_log_debug5(NGX_LOG_DEBUG_HTTP, st->log, 0,
                   "fraiseql stmt: send on *%uA, %s%s, %ui params%s",
                   st->pgc->c->number, hows[how],
                   (st->lead && st->prev == NULL)
                   ? ", after a leading statement" : "",
                   (ngx_uint_t) rp->nparams,
                   (st->prev || st->more) ? ", in a shared pipeline" : "");

    return how;
}


/*
 * The steps of a statement in a pipeline (pipeline mode is on): the
 * leading statement when it is the pipeline's first, its Prepare when it
 * needs one, its run, and the Sync when it is the last (a Flush when it
 * is not): the statements of one pipeline are one implicit transaction,
 * for which the leading statement's settings hold.
 */
static ngx_int_t
ngx_http_fraiseql_stmt_steps(ngx_http_fraiseql_stmt_t *st, ngx_uint_t how)
{
    char                    name[24];
    PGconn                 *pg = st->pgc->pg;
    const fql_root_plan_t  *rp = st->plan;

    if (st->lead != NULL && st->prev == NULL
        && ngx_http_fraiseql_stmt_lead(st) != NGX_OK)
    {
        return NGX_ERROR;
    }

    if (how == NGX_HTTP_FRAISEQL_PREPARE) {
        ngx_sprintf((u_char *) name, "fq_%016uxL%Z", rp->sql_hash);

        if (!PQsendPrepare(pg, name, rp->sql, rp->nparams, NULL)) {
            return NGX_ERROR;
        }

        st->steps |= NGX_HTTP_FRAISEQL_STEP(NGX_HTTP_FRAISEQL_STMT_PREPARE);
    }

    if (ngx_http_fraiseql_stmt_run(st, how) != NGX_OK) {
        return NGX_ERROR;
    }

    st->steps |= NGX_HTTP_FRAISEQL_STEP(NGX_HTTP_FRAISEQL_STMT_ROWS);

    /*
     * PostgreSQL sends what it holds at a Sync: a Flush has it send this
     * statement's results as soon as they are there, not once the
     * statements after it are over too.
     */
    if (st->more) {
        return PQsendFlushRequest(pg) ? NGX_OK : NGX_ERROR;
    }

    if (!PQpipelineSync(pg)) {
        return NGX_ERROR;
    }

    st->steps |= NGX_HTTP_FRAISEQL_STEP(NGX_HTTP_FRAISEQL_STMT_SYNC);

    return NGX_OK;
}


/*
 * Sends the statement.  One this connection has prepared runs by name:
 * PostgreSQL neither parses nor plans it again.  One it has not is
 * prepared first, in the same round trip when pipelined; a connection
 * that holds too many, or a name taken by another text, runs it unnamed.
 * A leading statement goes first in the same pipeline.
 */
ngx_int_t
ngx_http_fraiseql_stmt_send(ngx_http_fraiseql_stmt_t *st)
{
    char                    name[24];
    PGconn                 *pg = st->pgc->pg;
    ngx_uint_t              how;
    const fql_root_plan_t  *rp = st->plan;

    how = ngx_http_fraiseql_stmt_how(st);

    if (st->lead != NULL
        || (how == NGX_HTTP_FRAISEQL_PREPARE && st->conf->pipeline))
    {
        /* every step at once, in order; the Sync closes them */
        if (!PQenterPipelineMode(pg)
            || ngx_http_fraiseql_stmt_steps(st, how) != NGX_OK)
        {
            return NGX_ERROR;
        }

        ngx_http_fraiseql_stmt_begin(st);

    } else if (how == NGX_HTTP_FRAISEQL_PREPARE) {
        /* the run follows when the Prepare is over (stmt_next) */
        ngx_sprintf((u_char *) name, "fq_%016uxL%Z", rp->sql_hash);

        if (!PQsendPrepare(pg, name, rp->sql, rp->nparams, NULL)) {
            return NGX_ERROR;
        }

        st->steps = NGX_HTTP_FRAISEQL_STEP(NGX_HTTP_FRAISEQL_STMT_PREPARE);
        ngx_http_fraiseql_stmt_enter(st, NGX_HTTP_FRAISEQL_STMT_PREPARE);

    } else {
        if (ngx_http_fraiseql_stmt_run(st, how) != NGX_OK) {
            return NGX_ERROR;
        }

        st->steps = NGX_HTTP_FRAISEQL_STEP(NGX_HTTP_FRAISEQL_STMT_ROWS);
        ngx_http_fraiseql_stmt_enter(st, NGX_HTTP_FRAISEQL_STMT_ROWS);
    }

    if (ngx_http_fraiseql_pgc_flush(st->pgc) != NGX_OK) {
        return NGX_ERROR;
    }

    ngx_add_timer(st->pgc->c->read, st->conf->timeout);

    return NGX_OK;
}


/*
 * Queues the statement behind those already in the connection's
 * pipeline (the caller entered pipeline mode, flushes and waits): its
 * results come after theirs, and are its own once they are over
 * (ngx_http_fraiseql_stmt_begin).  st->prev are the statements queued
 * before it, of which one may prepare the same text: that Prepare's
 * answer has not come yet, so this one runs unnamed rather than prepare
 * the name twice.  st->more: statements follow it, the Sync is theirs.
 * When one fails, PostgreSQL skips those after it up to the Sync: they
 * end with st->skipped, and no rows.
 */
ngx_int_t
ngx_http_fraiseql_stmt_queue(ngx_http_fraiseql_stmt_t *st)
{
    return ngx_http_fraiseql_stmt_steps(st, ngx_http_fraiseql_stmt_how(st));
}


/* the statement's results come now: its first step's */
void
ngx_http_fraiseql_stmt_begin(ngx_http_fraiseql_stmt_t *st)
{
    ngx_uint_t  phase;

    for (phase = 0; !(st->steps & NGX_HTTP_FRAISEQL_STEP(phase)); phase++) {
        /* void */
    }

    ngx_http_fraiseql_stmt_enter(st, phase);
}


/*
 * How the statement runs on this connection: by the name it was
 * prepared with, prepared now, or unnamed (prepared statements off, the
 * connection holds too many, or the name stands for another text).
 */
static ngx_uint_t
ngx_http_fraiseql_stmt_lookup(ngx_http_fraiseql_stmt_t *st, uint64_t hash,
    const char *sql, size_t len)
{
    ngx_uint_t                  i, n;
    ngx_array_t                *a = st->pgc->prepared;
    ngx_http_fraiseql_known_t  *k;
    ngx_http_fraiseql_stmt_t   *p;

    if (!st->conf->named) {
        return NGX_HTTP_FRAISEQL_UNNAMED;
    }

    /* prepared by a statement queued before it, not answered yet */
    for (p = st->prev; p != NULL; p = p->prev) {
        if (((p->steps
              & NGX_HTTP_FRAISEQL_STEP(NGX_HTTP_FRAISEQL_STMT_PREPARE))
             && p->plan->sql_hash == hash)
            || ((p->steps
                 & NGX_HTTP_FRAISEQL_STEP(NGX_HTTP_FRAISEQL_STMT_LEAD_PREPARE))
                && p->lead_hash == hash))
        {
            return NGX_HTTP_FRAISEQL_UNNAMED;
        }
    }

    k = a ? a->elts : NULL;
    n = a ? a->nelts : 0;

    for (i = 0; i < n; i++) {
        if (k[i].hash == hash) {
            return (k[i].len == len && ngx_memcmp(k[i].sql, sql, len) == 0)
                   ? NGX_HTTP_FRAISEQL_BY_NAME : NGX_HTTP_FRAISEQL_UNNAMED;
        }
    }

    return n < NGX_HTTP_FRAISEQL_PREPARED_MAX
           ? NGX_HTTP_FRAISEQL_PREPARE : NGX_HTTP_FRAISEQL_UNNAMED;
}


/* the connection knows the statement by name from now on */
static ngx_int_t
ngx_http_fraiseql_stmt_remember(ngx_http_fraiseql_stmt_t *st, uint64_t hash,
    const char *sql, size_t len)
{
    ngx_http_fraiseql_pgc_t    *pgc = st->pgc;
    ngx_http_fraiseql_known_t  *k;

    if (pgc->session == NULL) {
        pgc->session = ngx_create_pool(4096, pgc->c->log);
        if (pgc->session == NULL) {
            return NGX_ERROR;
        }
    }

    if (pgc->prepared == NULL) {
        pgc->prepared = ngx_array_create(pgc->session, 16,
                                         sizeof(ngx_http_fraiseql_known_t));
        if (pgc->prepared == NULL) {
            return NGX_ERROR;
        }
    }

    k = ngx_array_push(pgc->prepared);
    if (k == NULL) {
        return NGX_ERROR;
    }

    k->hash = hash;
    k->len = len;

    k->sql = ngx_pnalloc(pgc->session, k->len);
    if (k->sql == NULL) {
        pgc->prepared->nelts--;
        return NGX_ERROR;
    }

    ngx_memcpy(k->sql, sql, k->len);

    return NGX_OK;
}


/* the run itself: by name once prepared, or with its text */
static ngx_int_t
ngx_http_fraiseql_stmt_run(ngx_http_fraiseql_stmt_t *st, ngx_uint_t how)
{
    char                    name[24];
    PGconn                 *pg = st->pgc->pg;
    const fql_root_plan_t  *rp = st->plan;

    if (how != NGX_HTTP_FRAISEQL_UNNAMED) {
        ngx_sprintf((u_char *) name, "fq_%016uxL%Z", rp->sql_hash);

        return PQsendQueryPrepared(pg, name, rp->nparams, rp->params, NULL,
                                   NULL, 0)
               ? NGX_OK : NGX_ERROR;
    }

    return PQsendQueryParams(pg, rp->sql, rp->nparams, NULL, rp->params,
                             NULL, NULL, 0)
           ? NGX_OK : NGX_ERROR;
}


static void
ngx_http_fraiseql_stmt_enter(ngx_http_fraiseql_stmt_t *st,
    ngx_http_fraiseql_stmt_phase_e phase)
{
    st->phase = phase;

    ngx_log_debug2(NGX_LOG_DEBUG_HTTP, st->log, 0,
                   "fraiseql stmt: %s on *%uA",
                   ngx_http_fraiseql_stmt_phases[phase], st->pgc->c->number);

    if (phase != NGX_HTTP_FRAISEQL_STMT_ROWS) {
        return;
    }

    st->pgc->log.action = "reading rows from PostgreSQL";

    /* rows come one result each: nothing is buffered whole */
    if (!st->refused
        && PQpipelineStatus(st->pgc->pg) != PQ_PIPELINE_ABORTED
        && !PQsetSingleRowMode(st->pgc->pg))
    {
        ngx_log_error(NGX_LOG_WARN, st->log, 0,
                      "fraiseql: single-row mode refused");
    }
}


/*
 * A step's results are over (PostgreSQL sent NULL): the next step's
 * come, or the statement is over (NGX_DONE).  A statement prepared on
 * its own is run now.
 */
static ngx_int_t
ngx_http_fraiseql_stmt_next(ngx_http_fraiseql_stmt_t *st)
{
    ngx_uint_t  phase;

    if (st->phase == NGX_HTTP_FRAISEQL_STMT_LEAD_PREPARE && !st->refused
        && ngx_http_fraiseql_stmt_remember(st, st->lead_hash, st->lead,
                                           st->lead_len) != NGX_OK)
    {
        return NGX_ERROR;
    }

    /* a Prepare skipped (st->skipped) prepared nothing */
    if (st->phase == NGX_HTTP_FRAISEQL_STMT_PREPARE && !st->refused
        && !st->skipped)
    {
        if (ngx_http_fraiseql_stmt_remember(st, st->plan->sql_hash,
                                            st->plan->sql, st->plan->sql_len)
            != NGX_OK)
        {
            return NGX_ERROR;
        }

        if (!(st->steps
              & NGX_HTTP_FRAISEQL_STEP(NGX_HTTP_FRAISEQL_STMT_ROWS)))
        {
            if (ngx_http_fraiseql_stmt_run(st, NGX_HTTP_FRAISEQL_BY_NAME)
                != NGX_OK
                || ngx_http_fraiseql_pgc_flush(st->pgc) != NGX_OK)
            {
                return NGX_ERROR;
            }

            st->steps |= NGX_HTTP_FRAISEQL_STEP(NGX_HTTP_FRAISEQL_STMT_ROWS);
        }
    }

    /* the Sync's end is its PGRES_PIPELINE_SYNC, then a last NULL */
    if (st->phase == NGX_HTTP_FRAISEQL_STMT_SYNC) {
        return NGX_AGAIN;
    }

    for (phase = st->phase + 1; phase < NGX_HTTP_FRAISEQL_STMT_DONE;
         phase++)
    {
        if (st->steps & NGX_HTTP_FRAISEQL_STEP(phase)) {
            ngx_http_fraiseql_stmt_enter(st, phase);
            return NGX_AGAIN;
        }
    }

    if (st->phase != NGX_HTTP_FRAISEQL_STMT_DONE) {
        ngx_http_fraiseql_stmt_enter(st, NGX_HTTP_FRAISEQL_STMT_DONE);
    }

    return NGX_DONE;
}


/*
 * The statement's next result.  NGX_OK: *res is a row (the caller clears
 * it); NGX_DECLINED: *res is an error PostgreSQL sent (likewise);
 * NGX_AGAIN: PostgreSQL has not answered yet, the read event comes back;
 * NGX_DONE: the statement is over and the connection free; NGX_ERROR:
 * the connection failed (PQerrorMessage says how).
 */
ngx_int_t
ngx_http_fraiseql_stmt_result(ngx_http_fraiseql_stmt_t *st, PGresult **res)
{
    ngx_int_t   rc;
    PGconn     *pg = st->pgc->pg;
    PGresult   *r;

    for ( ;; ) {

        if (PQisBusy(pg)) {
            if (!PQconsumeInput(pg)) {
                return NGX_ERROR;
            }

            if (PQisBusy(pg)) {
                if (ngx_http_fraiseql_pgc_peek(st->pgc) == NGX_OK) {
                    continue;
                }

                /*
                 * Waiting for PostgreSQL: bounded in time, and a pending
                 * timer is also what keeps a gracefully exiting worker
                 * alive until the statement is over.
                 */
                ngx_add_timer(st->pgc->c->read, st->conf->timeout);
                return NGX_AGAIN;
            }
        }

        r = PQgetResult(pg);

        if (r == NULL) {
            rc = ngx_http_fraiseql_stmt_next(st);

            if (rc == NGX_AGAIN) {
                continue;
            }

            return rc;
        }

        switch (PQresultStatus(r)) {

        case PGRES_SINGLE_TUPLE:
            /*
             * Rows are the statement's only: a leading statement's come
             * one by one too when single-row mode outlived the query it
             * was set for (libpq keeps it when a connection goes from a
             * query outside a pipeline to a pipeline).
             */
            if (st->phase != NGX_HTTP_FRAISEQL_STMT_ROWS) {
                break;
            }

            *res = r;
            return NGX_OK;

        case PGRES_TUPLES_OK:
        case PGRES_COMMAND_OK:
            break;

        case PGRES_PIPELINE_SYNC:
            PQclear(r);

            if (!PQexitPipelineMode(pg)) {
                return NGX_ERROR;
            }

            ngx_http_fraiseql_stmt_enter(st, NGX_HTTP_FRAISEQL_STMT_DONE);
            continue;

        case PGRES_PIPELINE_ABORTED:
            /*
             * A step before failed: its own, whose error is reported, or
             * another statement's of the pipeline
             */
            if (!st->refused) {
                st->skipped = 1;
            }

            break;

        default:
            st->refused = 1;
            *res = r;
            return NGX_DECLINED;
        }

        PQclear(r);
    }
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


/*
 * What an error PostgreSQL sent means for the client: its GraphQL code
 * and message (formatted with the field's name, the SQLSTATE and, when
 * asked for, PostgreSQL's own message).  NGX_DECLINED: the server is
 * dropping the connection (57P01, 57P02...), a connection failure.
 */
ngx_int_t
ngx_http_fraiseql_stmt_error(ngx_http_fraiseql_stmt_t *st, PGresult *res,
    ngx_uint_t debug, ngx_http_fraiseql_stmt_error_t *e)
{
    const fql_root_plan_t  *rp = st->plan;

    e->state = PQresultErrorField(res, PG_DIAG_SQLSTATE);
    e->message = PQresultErrorField(res, PG_DIAG_MESSAGE_PRIMARY);
    e->code = FQL_CODE_DATABASE;

    ngx_http_fraiseql_metric_sqlstate(e->state);

    if (e->state != NULL && ngx_strncmp(e->state, "57P0", 4) == 0) {
        return NGX_DECLINED;
    }

    ngx_log_error(NGX_LOG_ERR, st->log, 0,
                  "fraiseql: query failed: %s: %s (statement: %s)",
                  e->state ? e->state : "-",
                  e->message ? e->message : "-", rp->sql);

    /* query_canceled: the server's statement_timeout */
    if (e->state != NULL && ngx_strcmp(e->state, "57014") == 0) {
        e->fmt = "The query for \"%.*s\" ran longer than the query "
                 "timeout (SQLSTATE %s)";

    /* undefined_object: type "vector" is unknown there */
    } else if (rp->uses_vector && e->state != NULL
               && ngx_strcmp(e->state, "42704") == 0)
    {
        e->fmt = "The vector operators of \"%.*s\" need the pgvector "
                 "extension, which the database does not have "
                 "(SQLSTATE %s)";

    } else if (rp->kind == FQL_RF_MUTATION) {
        /* raised by the function: its text only when asked */
        e->fmt = debug ? "The database refused the mutation \"%.*s\" "
                         "(SQLSTATE %s): %s"
                       : "The database refused the mutation \"%.*s\" "
                         "(SQLSTATE %s)";

    } else if (rp->nparams && ngx_http_fraiseql_input_refused(e->state)) {
        /* a bound value the column cannot take: the client's */
        e->code = FQL_CODE_BAD_INPUT;
        e->fmt = debug ? "A value given to \"%.*s\" is not valid for the "
                         "database (SQLSTATE %s): %s"
                       : "A value given to \"%.*s\" is not valid for the "
                         "database (SQLSTATE %s)";

    } else {
        e->fmt = "The database could not run the query for \"%.*s\" "
                 "(SQLSTATE %s)";
    }

    if (e->state == NULL) {
        e->state = "unknown";
    }

    if (e->message == NULL) {
        e->message = "";
    }

    return NGX_OK;
}
