/*
 * A per-worker pool of nonblocking libpq connections driven by nginx's
 * event loop.  Each socket is wrapped in an nginx connection; libpq owns
 * the descriptor (PQfinish closes it), so nginx only ever forgets it.
 * The pool knows nothing of requests: a waiter's handlers learn when it
 * has a connection, and a busy connection's events go to the handler
 * its user set (ngx_http_upstream_keepalive_module's shape).
 */

#include <arpa/inet.h>
#include <netdb.h>
#include <poll.h>
#include <sys/stat.h>

#include "ngx_http_fraiseql.h"


static ngx_http_fraiseql_pool_t *ngx_http_fraiseql_pool_get(
    ngx_http_fraiseql_db_t *db);
static ngx_int_t ngx_http_fraiseql_connect(ngx_http_fraiseql_pool_t *pool);
static void ngx_http_fraiseql_pg_handler(ngx_event_t *ev);
static void ngx_http_fraiseql_connect_poll(ngx_http_fraiseql_pgc_t *pgc);
static ngx_int_t ngx_http_fraiseql_register(ngx_http_fraiseql_pgc_t *pgc);
static void ngx_http_fraiseql_close(ngx_http_fraiseql_pgc_t *pgc);
static void ngx_http_fraiseql_hand_over(ngx_http_fraiseql_pgc_t *pgc);
static void ngx_http_fraiseql_connect_failed(ngx_http_fraiseql_pool_t *pool,
    ngx_uint_t answered, const char *reason);
static void ngx_http_fraiseql_cancel_send(ngx_http_fraiseql_pgc_t *pgc,
    ngx_http_fraiseql_pgc_t *target);
static void ngx_http_fraiseql_cancel_process(ngx_http_fraiseql_pgc_t *pgc);
static void ngx_http_fraiseql_drop(ngx_http_fraiseql_pgc_t *pgc);
static ngx_http_fraiseql_pgc_t *ngx_http_fraiseql_take_idle(
    ngx_http_fraiseql_pool_t *pool, ngx_uint_t check);
static void ngx_http_fraiseql_drop_results(PGconn *pg);
static void ngx_http_fraiseql_pool_wait_timeout(ngx_event_t *ev);
static u_char *ngx_http_fraiseql_pgc_log_error(ngx_log_t *log, u_char *buf,
    size_t len);


/* every pool of this worker, for exit */
static ngx_array_t  *ngx_http_fraiseql_pools;


/*
 * The length of a libpq message as one log line: its first line (libpq
 * adds hints on more, "\tThis probably means..."), no trailing spaces.
 */
size_t
ngx_http_fraiseql_pq_message(const char *msg)
{
    size_t  len;

    for (len = 0; msg[len] != '\0' && msg[len] != '\n'; len++) {
        /* void */
    }

    while (len && msg[len - 1] == ' ') {
        len--;
    }

    return len;
}


static void
ngx_http_fraiseql_notice(void *arg, const char *message)
{
    ngx_log_t  *log = arg;

    ngx_log_error(NGX_LOG_NOTICE, log, 0, "fraiseql: postgresql: %*s",
                  ngx_http_fraiseql_pq_message(message), message);
}


static char *
ngx_http_fraiseql_strdup(ngx_pool_t *pool, const char *s)
{
    size_t   len;
    u_char  *p;

    len = ngx_strlen(s);
    p = ngx_pnalloc(pool, len + 1);
    if (p == NULL) {
        return NULL;
    }

    ngx_memcpy(p, s, len + 1);

    return (char *) p;
}


/*
 * Parses the conninfo at configuration time, so that a bad one fails
 * `nginx -t`, and resolves a host name now: libpq would resolve it with
 * a blocking getaddrinfo() in the worker.
 */
ngx_int_t
ngx_http_fraiseql_db_init(ngx_conf_t *cf, ngx_http_fraiseql_db_t *db)
{
    char                *errmsg, *host, *hostaddr, *app;
    u_char              *ci;
    ngx_uint_t           n, i, k;
    PQconninfoOption    *opts, *o;
    struct addrinfo      hints, *res;
    char                 addr[NI_MAXHOST];
    struct in6_addr      a6;

    ci = ngx_pnalloc(cf->pool, db->conninfo.len + 1);
    if (ci == NULL) {
        return NGX_ERROR;
    }

    ngx_cpystrn(ci, db->conninfo.data, db->conninfo.len + 1);

    errmsg = NULL;
    opts = PQconninfoParse((char *) ci, &errmsg);

    if (opts == NULL) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "fraiseql_database: invalid conninfo: %s",
                           errmsg ? errmsg : "out of memory");
        if (errmsg) {
            PQfreemem(errmsg);
        }
        return NGX_ERROR;
    }

    n = 0;
    host = NULL;
    hostaddr = NULL;
    app = NULL;

    for (o = opts; o->keyword; o++) {
        if (o->val == NULL) {
            continue;
        }

        n++;

        if (ngx_strcmp(o->keyword, "host") == 0) {
            host = o->val;
        } else if (ngx_strcmp(o->keyword, "hostaddr") == 0) {
            hostaddr = o->val;
        } else if (ngx_strcmp(o->keyword, "application_name") == 0) {
            app = o->val;
        }
    }

    addr[0] = '\0';

    if (host != NULL && hostaddr == NULL && host[0] != '/' && host[0] != '@'
        && ngx_strchr(host, ',') == NULL
        && inet_pton(AF_INET, host, &a6) != 1
        && inet_pton(AF_INET6, host, &a6) != 1)
    {
        ngx_memzero(&hints, sizeof(hints));
        hints.ai_socktype = SOCK_STREAM;

        if (getaddrinfo(host, NULL, &hints, &res) != 0 || res == NULL) {
            ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                               "fraiseql_database: host \"%s\" not found",
                               host);
            PQconninfoFree(opts);
            return NGX_ERROR;
        }

        if (getnameinfo(res->ai_addr, res->ai_addrlen, addr, sizeof(addr),
                        NULL, 0, NI_NUMERICHOST) != 0)
        {
            addr[0] = '\0';
        }

        freeaddrinfo(res);
    }

    /* + hostaddr, application_name, options (statement_timeout), end */
    k = n + (addr[0] ? 1 : 0) + (app ? 0 : 1) + 2;

    db->keywords = ngx_pcalloc(cf->pool, k * sizeof(char *));
    db->values = ngx_pcalloc(cf->pool, k * sizeof(char *));
    if (db->keywords == NULL || db->values == NULL) {
        PQconninfoFree(opts);
        return NGX_ERROR;
    }

    i = 0;

    for (o = opts; o->keyword; o++) {
        if (o->val == NULL) {
            continue;
        }

        db->keywords[i] = ngx_http_fraiseql_strdup(cf->pool, o->keyword);
        db->values[i] = ngx_http_fraiseql_strdup(cf->pool, o->val);
        i++;
    }

    if (addr[0]) {
        db->keywords[i] = "hostaddr";
        db->values[i] = ngx_http_fraiseql_strdup(cf->pool, addr);
        i++;
    }

    if (app == NULL) {
        db->keywords[i] = "application_name";
        db->values[i] = "fraiseql-nginx";
        i++;
    }

    /* the statement timeout joins the user's options when known */
    for (k = 0; k < i; k++) {
        if (ngx_strcmp(db->keywords[k], "options") == 0) {
            break;
        }
    }

    if (k == i) {
        db->keywords[i] = "options";
        db->values[i] = "";
        i++;
    }

    db->options = k;

    PQconninfoFree(opts);

    for (k = 0; k < i; k++) {
        if (db->keywords[k] == NULL || db->values[k] == NULL) {
            return NGX_ERROR;
        }
    }

    return NGX_OK;
}


/*
 * The server's settings are final (the locations are merged): the
 * statement timeout goes to the server with every connection.
 */
ngx_int_t
ngx_http_fraiseql_db_finalize(ngx_conf_t *cf, ngx_http_fraiseql_db_t *db)
{
    u_char  *p;
    size_t   len;

    if (db->connect_timeout == 0) {
        db->connect_timeout = NGX_HTTP_FRAISEQL_CONNECT_TIMEOUT;
    }

    if (db->idle_timeout == NGX_CONF_UNSET_MSEC) {
        db->idle_timeout = NGX_HTTP_FRAISEQL_IDLE_TIMEOUT;
    }

    if (db->lifetime == NGX_CONF_UNSET_MSEC) {
        db->lifetime = NGX_HTTP_FRAISEQL_LIFETIME;
    }

    if (db->statement_timeout == 0) {
        return NGX_OK;
    }

    len = ngx_strlen(db->values[db->options])
          + sizeof(" -c statement_timeout=") + NGX_INT_T_LEN;

    p = ngx_pnalloc(cf->pool, len);
    if (p == NULL) {
        return NGX_ERROR;
    }

    ngx_snprintf(p, len, "%s%s-c statement_timeout=%M%Z",
                 db->values[db->options],
                 db->values[db->options][0] ? " " : "",
                 db->statement_timeout);

    db->values[db->options] = (char *) p;

    return NGX_OK;
}


static ngx_http_fraiseql_pool_t *
ngx_http_fraiseql_pool_get(ngx_http_fraiseql_db_t *db)
{
    ngx_http_fraiseql_pool_t  *pool, **pp;

    if (db->pool != NULL) {
        return db->pool;
    }

    /* created in the worker on first use: never shared across a fork */
    pool = ngx_pcalloc(ngx_cycle->pool, sizeof(ngx_http_fraiseql_pool_t));
    if (pool == NULL) {
        return NULL;
    }

    if (ngx_http_fraiseql_pools == NULL) {
        ngx_http_fraiseql_pools = ngx_array_create(ngx_cycle->pool, 4,
                                     sizeof(ngx_http_fraiseql_pool_t *));
        if (ngx_http_fraiseql_pools == NULL) {
            return NULL;
        }
    }

    pp = ngx_array_push(ngx_http_fraiseql_pools);
    if (pp == NULL) {
        return NULL;
    }

    *pp = pool;

    pool->db = db;
    pool->log = ngx_cycle->log;
    ngx_queue_init(&pool->idle);
    ngx_queue_init(&pool->free);
    ngx_queue_init(&pool->waiters);
    ngx_queue_init(&pool->cancels);

    db->pool = pool;

    return pool;
}


/* ngx_pcalloc'd pgc structures are kept for reuse: the pool is long-lived */
static ngx_http_fraiseql_pgc_t *
ngx_http_fraiseql_pgc_alloc(ngx_http_fraiseql_pool_t *pool)
{
    ngx_queue_t              *q;
    ngx_http_fraiseql_pgc_t  *pgc;

    if (!ngx_queue_empty(&pool->free)) {
        q = ngx_queue_head(&pool->free);
        ngx_queue_remove(q);
        pgc = ngx_queue_data(q, ngx_http_fraiseql_pgc_t, queue);
        ngx_memzero(pgc, sizeof(ngx_http_fraiseql_pgc_t));

        return pgc;
    }

    return ngx_pcalloc(ngx_cycle->pool, sizeof(ngx_http_fraiseql_pgc_t));
}


/*
 * What waits on the socket, without reading it: NGX_OK bytes, NGX_DONE
 * the server's end (EOF), NGX_AGAIN nothing, NGX_ERROR a socket error.
 * Edge-triggered events do not tell a second time.
 */
ngx_int_t
ngx_http_fraiseql_pgc_peek(ngx_http_fraiseql_pgc_t *pgc)
{
    char     b;
    ssize_t  n;

    n = recv(PQsocket(pgc->pg), &b, 1, MSG_PEEK|MSG_DONTWAIT);

    if (n > 0) {
        return NGX_OK;
    }

    if (n == 0) {
        return NGX_DONE;
    }

    return ngx_socket_errno == NGX_EAGAIN ? NGX_AGAIN : NGX_ERROR;
}


/* sends what libpq still holds; the write event brings the rest */
ngx_int_t
ngx_http_fraiseql_pgc_flush(ngx_http_fraiseql_pgc_t *pgc)
{
    int  rc;

    rc = PQflush(pgc->pg);

    if (rc == -1) {
        return NGX_ERROR;
    }

    pgc->flushing = (rc == 1);

    return NGX_OK;
}


/*
 * An idle connection has nothing to say unless the server is dropping it
 * (shutdown, pg_terminate_backend): bytes or EOF waiting on the socket,
 * which the event loop may not have reported yet, mean it is going.
 */
static ngx_uint_t
ngx_http_fraiseql_idle_alive(ngx_http_fraiseql_pgc_t *pgc)
{
    switch (ngx_http_fraiseql_pgc_peek(pgc)) {

    case NGX_AGAIN:
        return 1;

    case NGX_OK:
        /* a notice is harmless; a fatal message leaves it bad */
        return PQconsumeInput(pgc->pg)
               && PQstatus(pgc->pg) == CONNECTION_OK
               && ngx_http_fraiseql_pgc_peek(pgc) != NGX_DONE;

    default:
        return 0;
    }
}


/*
 * The first idle connection leaves the idle list to be used (BUSY), or
 * NULL.  With `check`, one surely alive (a syscall): for what is never
 * sent twice; the dead ones met are closed.
 */
static ngx_http_fraiseql_pgc_t *
ngx_http_fraiseql_take_idle(ngx_http_fraiseql_pool_t *pool, ngx_uint_t check)
{
    ngx_http_fraiseql_pgc_t  *pgc;

    while (!ngx_queue_empty(&pool->idle)) {
        pgc = ngx_queue_data(ngx_queue_head(&pool->idle),
                             ngx_http_fraiseql_pgc_t, queue);

        if (check && !ngx_http_fraiseql_idle_alive(pgc)) {
            ngx_http_fraiseql_close(pgc);
            continue;
        }

        ngx_queue_remove(&pgc->queue);
        pool->nidle--;

        if (pgc->c->read->timer_set) {
            ngx_del_timer(pgc->c->read);   /* the idle timeout */
        }

        /* busy, it keeps an exiting worker alive until it is done */
        pgc->c->read->cancelable = 0;
        pgc->state = NGX_HTTP_FRAISEQL_PGC_BUSY;
        pgc->log.action = NULL;

        return pgc;
    }

    return NULL;
}


static ngx_int_t
ngx_http_fraiseql_acquire_db(ngx_http_fraiseql_db_t *db,
    ngx_http_fraiseql_waiter_t *w, ngx_http_fraiseql_pgc_t **pgcp)
{
    ngx_http_fraiseql_pgc_t   *pgc;
    ngx_http_fraiseql_pool_t  *pool;

    pool = ngx_http_fraiseql_pool_get(db);
    if (pool == NULL) {
        return NGX_ERROR;
    }

    /* a query finds a dead connection out by failing, and runs again */
    pgc = ngx_http_fraiseql_take_idle(pool, w->verify);

    if (pgc != NULL) {
        ngx_log_debug1(NGX_LOG_DEBUG_HTTP, w->log, 0,
                       "fraiseql pool: idle connection *%uA",
                       pgc->c->number);
        *pgcp = pgc;
        return NGX_OK;
    }

    if (pool->nconns < db->pool_size) {
        if (pool->nconns == 0 && pool->failures
            && ngx_current_msec < pool->retry_at)
        {
            /* the database was just found down: fail fast, no storm */
            return NGX_DECLINED;
        }

        /*
         * Start one more connection unless enough are on their way for
         * the slots already waiting.
         */
        if (pool->nconnecting <= pool->nwaiters
            && (pool->failures == 0 || ngx_current_msec >= pool->retry_at))
        {
            ngx_log_debug0(NGX_LOG_DEBUG_HTTP, w->log, 0,
                           "fraiseql pool: connect");

            if (ngx_http_fraiseql_connect(pool) != NGX_OK
                && pool->nconns == 0)
            {
                return NGX_DECLINED;
            }
        }
    }

    if (pool->nconns == 0) {
        return NGX_DECLINED;
    }

    /* the first waiters take the connections being opened, not places */
    if (pool->nwaiters >= db->queue_size + pool->nconnecting) {
        ngx_http_fraiseql_metric_pool(NGX_HTTP_FRAISEQL_POOL_QUEUE_FULL);
        return NGX_BUSY;
    }

    ngx_log_debug1(NGX_LOG_DEBUG_HTTP, w->log, 0,
                   "fraiseql pool: queued after %ui", pool->nwaiters);

    ngx_queue_insert_tail(&pool->waiters, &w->queue);
    pool->nwaiters++;
    w->pool = pool;

    ngx_http_fraiseql_metric_pool(NGX_HTTP_FRAISEQL_POOL_WAIT);

    w->timer.handler = ngx_http_fraiseql_pool_wait_timeout;
    w->timer.data = w;
    w->timer.log = w->log;
    ngx_add_timer(&w->timer, db->queue_timeout);

    return NGX_AGAIN;
}


/* a server recently found down waits out its backoff */
static ngx_uint_t
ngx_http_fraiseql_db_healthy(ngx_http_fraiseql_db_t *db)
{
    ngx_http_fraiseql_pool_t  *pool = db->pool;

    return pool == NULL || pool->failures == 0 || pool->nconns > 0
           || ngx_current_msec >= pool->retry_at;
}


/* the work a server has: statements running and waiting */
static ngx_uint_t
ngx_http_fraiseql_db_load(ngx_http_fraiseql_db_t *db)
{
    ngx_http_fraiseql_pool_t  *pool = db->pool;

    if (pool == NULL) {
        return 0;
    }

    return pool->nconns - pool->nidle + pool->nwaiters;
}


/*
 * Picks a server for a waiter: reads go to a healthy replica, else to a
 * healthy primary; writes to a primary.  Among equals the least busy
 * wins, ties taken in turn.  A server that cannot take it (down, queue
 * full) passes it on to the next.  NGX_OK: *pgcp is the waiter's, BUSY;
 * NGX_AGAIN: queued, its ready or failed handler tells; NGX_BUSY: the
 * queues are full; NGX_DECLINED: no server is up.
 */
ngx_int_t
ngx_http_fraiseql_pool_acquire(ngx_http_fraiseql_group_t *group,
    ngx_http_fraiseql_waiter_t *w, ngx_http_fraiseql_pgc_t **pgcp)
{
    ngx_int_t                 rc, last;
    ngx_uint_t                i, j, n, pass, best_load, load, tried;
    ngx_http_fraiseql_db_t  **dbs, *db, *best;
    ngx_uint_t                write = w->write;

    dbs = group->servers.elts;
    n = group->servers.nelts;

    if (n == 1) {
        return ngx_http_fraiseql_acquire_db(dbs[0], w, pgcp);
    }

    group->rr++;
    last = NGX_DECLINED;
    tried = 0;

    /* pass 0: replicas (reads); 1: primaries; 2: anything left, down */
    for (pass = write ? 1 : 0; pass < 3; pass++) {

        for ( ;; ) {
            best = NULL;
            best_load = 0;

            for (j = 0; j < n; j++) {
                i = (group->rr + j) % n;
                db = dbs[i];

                if (tried & ((ngx_uint_t) 1 << i)) {
                    continue;
                }

                if (pass < 2) {
                    if (db->replica != (pass == 0)
                        || !ngx_http_fraiseql_db_healthy(db))
                    {
                        continue;
                    }

                } else if (write && db->replica) {
                    continue;
                }

                load = ngx_http_fraiseql_db_load(db);

                if (best == NULL || load < best_load) {
                    best = db;
                    best_load = load;
                }
            }

            if (best == NULL) {
                break;
            }

            for (i = 0; dbs[i] != best; i++) { /* void */ }
            tried |= (ngx_uint_t) 1 << i;

            rc = ngx_http_fraiseql_acquire_db(best, w, pgcp);

            if (rc != NGX_DECLINED && rc != NGX_BUSY) {
                return rc;
            }

            /* busy beats down: a full queue says 503, not unavailable */
            if (rc == NGX_BUSY || last == NGX_DECLINED) {
                last = rc;
            }
        }
    }

    return last;
}


/* the waiter leaves its queue, if it is in one */
void
ngx_http_fraiseql_pool_cancel_wait(ngx_http_fraiseql_waiter_t *w)
{
    if (w->pool == NULL) {
        return;
    }

    ngx_queue_remove(&w->queue);
    w->pool->nwaiters--;
    w->pool = NULL;

    if (w->timer.timer_set) {
        ngx_del_timer(&w->timer);
    }
}


static void
ngx_http_fraiseql_pool_wait_timeout(ngx_event_t *ev)
{
    ngx_http_fraiseql_waiter_t  *w = ev->data;

    ngx_log_error(NGX_LOG_WARN, ev->log, 0,
                  "fraiseql: no database connection free within the "
                  "queue timeout");

    ngx_http_fraiseql_metric_pool(NGX_HTTP_FRAISEQL_POOL_WAIT_TIMEOUT);
    ngx_http_fraiseql_pool_cancel_wait(w);
    w->failed(w, 1);
}


static ngx_int_t
ngx_http_fraiseql_connect(ngx_http_fraiseql_pool_t *pool)
{
    PGconn                   *pg;
    ngx_http_fraiseql_pgc_t  *pgc;
    ngx_http_fraiseql_db_t   *db;

    db = pool->db;

    ngx_http_fraiseql_metric_pool(NGX_HTTP_FRAISEQL_POOL_CONNECT);

    pg = PQconnectStartParams(db->keywords, db->values, 0);

    if (pg == NULL || PQstatus(pg) == CONNECTION_BAD) {
        ngx_http_fraiseql_connect_failed(pool, 0,
                                         pg ? PQerrorMessage(pg)
                                            : "out of memory");
        if (pg) {
            PQfinish(pg);
        }
        return NGX_ERROR;
    }

    pgc = ngx_http_fraiseql_pgc_alloc(pool);
    if (pgc == NULL) {
        PQfinish(pg);
        return NGX_ERROR;
    }

    pgc->pool = pool;
    pgc->pg = pg;
    pgc->state = NGX_HTTP_FRAISEQL_PGC_CONNECTING;
    pgc->born = ngx_current_msec;

    /* its own log: what it does, on which server, says each line */
    pgc->log = *pool->log;
    pgc->log.handler = ngx_http_fraiseql_pgc_log_error;
    pgc->log.data = pgc;
    pgc->log.action = "connecting to PostgreSQL";

    pool->nconns++;
    pool->nconnecting++;

    if (ngx_http_fraiseql_register(pgc) != NGX_OK) {
        ngx_http_fraiseql_close(pgc);
        ngx_http_fraiseql_connect_failed(pool, 0,
                                         "cannot register socket");
        return NGX_ERROR;
    }

    ngx_add_timer(pgc->c->read, db->connect_timeout);

    return NGX_OK;
}


/*
 * Wraps libpq's current socket in an nginx connection on the event loop,
 * with handler for both events and data for c->data: the pool's
 * connections, and the listener (perms.c).
 */
ngx_int_t
ngx_http_fraiseql_sock_add(PGconn *pg, ngx_log_t *log, void *data,
    ngx_event_handler_pt handler, ngx_connection_t **cp, ino_t *ino)
{
    int                fd;
    struct stat        st;
    ngx_connection_t  *c;

    fd = PQsocket(pg);
    if (fd == -1) {
        return NGX_ERROR;
    }

    c = ngx_get_connection(fd, log);
    if (c == NULL) {
        return NGX_ERROR;
    }

    if (fstat(fd, &st) == -1) {
        ngx_free_connection(c);
        return NGX_ERROR;
    }

    *ino = st.st_ino;

    c->data = data;
    c->read->handler = handler;
    c->write->handler = handler;
    c->log = log;
    c->read->log = c->log;
    c->write->log = c->log;

    /* numbered as nginx numbers its upstream connections: "*N" in logs */
    c->number = ngx_atomic_fetch_add(ngx_connection_counter, 1);
    log->connection = c->number;

    *cp = c;

    if (ngx_add_conn) {
        if (ngx_add_conn(c) == NGX_ERROR) {
            return NGX_ERROR;
        }

    } else {
        if (ngx_add_event(c->read, NGX_READ_EVENT, NGX_CLEAR_EVENT)
            != NGX_OK
            || ngx_add_event(c->write, NGX_WRITE_EVENT, NGX_CLEAR_EVENT)
               != NGX_OK)
        {
            return NGX_ERROR;
        }
    }

    return NGX_OK;
}


/* takes the socket off the event loop without closing it: libpq will */
void
ngx_http_fraiseql_sock_del(ngx_connection_t **cp)
{
    ngx_connection_t  *c = *cp;

    if (c == NULL) {
        return;
    }

    if (c->read->timer_set) {
        ngx_del_timer(c->read);
    }

    if (c->write->timer_set) {
        ngx_del_timer(c->write);
    }

    if (c->read->posted) {
        ngx_delete_posted_event(c->read);
    }

    if (c->write->posted) {
        ngx_delete_posted_event(c->write);
    }

    if (ngx_del_conn) {
        ngx_del_conn(c, NGX_CLOSE_EVENT);

    } else {
        if (c->read->active || c->read->disabled) {
            ngx_del_event(c->read, NGX_READ_EVENT, NGX_CLOSE_EVENT);
        }

        if (c->write->active || c->write->disabled) {
            ngx_del_event(c->write, NGX_WRITE_EVENT, NGX_CLOSE_EVENT);
        }
    }

    ngx_free_connection(c);
    c->fd = (ngx_socket_t) -1;
    *cp = NULL;
}


static ngx_int_t
ngx_http_fraiseql_register(ngx_http_fraiseql_pgc_t *pgc)
{
    return ngx_http_fraiseql_sock_add(pgc->pg, &pgc->log, pgc,
                                      ngx_http_fraiseql_pg_handler,
                                      &pgc->c, &pgc->ino);
}


static void
ngx_http_fraiseql_unregister(ngx_http_fraiseql_pgc_t *pgc)
{
    ngx_http_fraiseql_sock_del(&pgc->c);
}


/* closes a connection in any state; the pgc structure goes to the free list */
static void
ngx_http_fraiseql_close(ngx_http_fraiseql_pgc_t *pgc)
{
    ngx_http_fraiseql_pool_t  *pool = pgc->pool;

    ngx_http_fraiseql_unregister(pgc);

    if (pgc->state == NGX_HTTP_FRAISEQL_PGC_IDLE) {
        ngx_queue_remove(&pgc->queue);
        pool->nidle--;
    }

    if (pgc->state == NGX_HTTP_FRAISEQL_PGC_CONNECTING) {
        pool->nconnecting--;
    }

    /* a cancel and its target forget each other */
    if (pgc->cancel_queued) {
        ngx_queue_remove(&pgc->queue);
        pgc->cancel_queued = 0;
    }

    if (pgc->canceller != NULL) {
        pgc->canceller->cancel_target = NULL;
        pgc->canceller = NULL;
    }

    if (pgc->cancel_target != NULL) {
        pgc->cancel_target->canceller = NULL;
        pgc->cancel_target = NULL;
    }

    if (pgc->pg) {
        PQfinish(pgc->pg);
        pgc->pg = NULL;
    }

    /* what the session knew (its statements) dies with it */
    if (pgc->session != NULL) {
        ngx_destroy_pool(pgc->session);
        pgc->session = NULL;
        pgc->prepared = NULL;
    }

    pool->nconns--;
    pgc->handler = NULL;
    pgc->data = NULL;

    ngx_queue_insert_tail(&pool->free, &pgc->queue);
}


static void
ngx_http_fraiseql_connect_failed(ngx_http_fraiseql_pool_t *pool,
    ngx_uint_t answered, const char *reason)
{
    ngx_queue_t                 *q;
    ngx_http_fraiseql_waiter_t  *w;

    ngx_log_error(NGX_LOG_ERR, pool->log, 0,
                  "fraiseql: cannot connect to postgresql: %*s",
                  ngx_http_fraiseql_pq_message(reason), reason);

    ngx_http_fraiseql_metric_pool(NGX_HTTP_FRAISEQL_POOL_CONNECT_FAIL);

    /*
     * Exponential backoff from 100ms to 5s, grown once per round of
     * attempts: the connections that were opening side by side when the
     * server went away fail together, and count as one failure.
     */
    pool->failures++;

    if (ngx_current_msec >= pool->retry_at) {
        pool->backoff = pool->backoff ? ngx_min(pool->backoff * 2, 5000)
                                      : 100;
        pool->retry_at = ngx_current_msec + pool->backoff;
    }

    /*
     * The first failure after a good spell, the server's own answer, may
     * be a connection caught by a restart or pg_terminate_backend as it
     * started: one more attempt at once, and the waiters wait for it (if
     * it fails too, this runs again and they learn).  Not after a
     * timeout: that would double the wait.
     */
    if (answered && pool->failures == 1 && !ngx_queue_empty(&pool->waiters)
        && pool->nconns < pool->db->pool_size
        && !ngx_exiting && !ngx_terminate
        && ngx_http_fraiseql_connect(pool) == NGX_OK)
    {
        return;
    }

    if (pool->nconns > 0) {
        return;
    }

    /*
     * Nobody is left here to serve the waiters: they choose again now
     * (another server of their location, or an error at once, since this
     * one is now waiting out its backoff), not later.
     */
    while (!ngx_queue_empty(&pool->waiters)) {
        q = ngx_queue_head(&pool->waiters);
        w = ngx_queue_data(q, ngx_http_fraiseql_waiter_t, queue);

        ngx_http_fraiseql_pool_cancel_wait(w);
        w->failed(w, 0);
    }
}


static void
ngx_http_fraiseql_pg_handler(ngx_event_t *ev)
{
    ngx_connection_t         *c = ev->data;
    ngx_http_fraiseql_pgc_t  *pgc = c->data;

    ngx_log_debug4(NGX_LOG_DEBUG_HTTP, ev->log, 0,
                   "fraiseql pg %s event, fd:%d state:%ui%s",
                   ev->write ? "write" : "read", c->fd,
                   (ngx_uint_t) pgc->state,
                   ev->timedout ? " timed out" : "");

    switch (pgc->state) {

    case NGX_HTTP_FRAISEQL_PGC_CONNECTING:
        if (ev->timedout) {
            ngx_http_fraiseql_close(pgc);
            ngx_http_fraiseql_connect_failed(pgc->pool, 0,
                                             "connect timed out");
            return;
        }

        ngx_http_fraiseql_connect_poll(pgc);
        return;

    case NGX_HTTP_FRAISEQL_PGC_IDLE:
        if (ev->timedout) {
            ev->timedout = 0;

            /* idle too long: closed, but the warm minimum stays */
            if (pgc->pool->nconns > pgc->pool->db->pool_min) {
                ngx_log_debug0(NGX_LOG_DEBUG_HTTP, ev->log, 0,
                               "fraiseql pg: idle timeout, closing");
                ngx_http_fraiseql_close(pgc);
                return;
            }

            ngx_add_timer(ev, pgc->pool->db->idle_timeout);
            return;
        }

        if (!ev->write) {
            /*
             * An idle connection speaks only when it is going away; the
             * message and the EOF after it may come in one edge.
             */
            if (!PQconsumeInput(pgc->pg)
                || PQstatus(pgc->pg) == CONNECTION_BAD
                || ngx_http_fraiseql_pgc_peek(pgc) == NGX_DONE)
            {
                ngx_log_error(NGX_LOG_INFO, ev->log, 0,
                              "fraiseql: idle connection closed: %*s",
                              ngx_http_fraiseql_pq_message(
                                  PQerrorMessage(pgc->pg)),
                              PQerrorMessage(pgc->pg));
                ngx_http_fraiseql_close(pgc);
            }
        }
        return;

    case NGX_HTTP_FRAISEQL_PGC_CANCELLING:
        if (ev->timedout) {
            ngx_log_error(NGX_LOG_WARN, ev->log, 0,
                          "fraiseql: no connection free to cancel an "
                          "overrunning statement in time: closing its "
                          "connection");
            ngx_http_fraiseql_drop(pgc);
            return;
        }

        /* what comes before the cancel is read and dropped */
        if (!ev->write) {
            if (!PQconsumeInput(pgc->pg)) {
                ngx_http_fraiseql_drop(pgc);
                return;
            }

            ngx_http_fraiseql_drop_results(pgc->pg);
        }

        return;

    default: /* BUSY */
        pgc->handler(pgc);
        return;
    }
}


/*
 * libpq may close its socket and open another while connecting (next
 * host or address, SSL retried without SSL); the new one often gets the
 * same descriptor number, so the socket's inode tells them apart.
 */
static ngx_uint_t
ngx_http_fraiseql_socket_changed(ngx_http_fraiseql_pgc_t *pgc)
{
    int          fd;
    struct stat  st;

    fd = PQsocket(pgc->pg);

    if (fd != pgc->c->fd) {
        return 1;
    }

    if (fd == -1 || fstat(fd, &st) == -1) {
        return 0;
    }

    return st.st_ino != pgc->ino;
}


static void
ngx_http_fraiseql_connect_poll(ngx_http_fraiseql_pgc_t *pgc)
{
    PostgresPollingStatusType   st;
    struct pollfd               pfd;

    /*
     * Epoll is edge-triggered: an edge already taken does not come back,
     * so poll again at once while the socket is ready for what libpq
     * waits for.
     */
    for ( ;; ) {
        st = PQconnectPoll(pgc->pg);

        ngx_log_debug3(NGX_LOG_DEBUG_HTTP, &pgc->log, 0,
                       "fraiseql pg: connect poll: %d, status: %d, fd:%d",
                       (int) st, (int) PQstatus(pgc->pg),
                       PQsocket(pgc->pg));

        if (st != PGRES_POLLING_READING && st != PGRES_POLLING_WRITING) {
            break;
        }

        /* the socket can change while connecting (several hosts, SSL) */
        if (ngx_http_fraiseql_socket_changed(pgc)) {
            break;
        }

        pfd.fd = PQsocket(pgc->pg);
        pfd.events = (st == PGRES_POLLING_READING) ? POLLIN : POLLOUT;
        pfd.revents = 0;

        if (poll(&pfd, 1, 0) != 1) {
            break;
        }
    }

    if (st != PGRES_POLLING_FAILED
        && ngx_http_fraiseql_socket_changed(pgc))
    {
        ngx_http_fraiseql_unregister(pgc);

        if (ngx_http_fraiseql_register(pgc) != NGX_OK) {
            ngx_http_fraiseql_close(pgc);
            ngx_http_fraiseql_connect_failed(pgc->pool, 0,
                                             "cannot register socket");
            return;
        }

        ngx_add_timer(pgc->c->read, pgc->pool->db->connect_timeout);
    }

    switch (st) {

    case PGRES_POLLING_OK:
        break;

    case PGRES_POLLING_FAILED:
        {
        ngx_http_fraiseql_pool_t  *pool = pgc->pool;
        char                       msg[256];

        ngx_cpystrn((u_char *) msg, (u_char *) PQerrorMessage(pgc->pg),
                    sizeof(msg));
        ngx_http_fraiseql_close(pgc);
        ngx_http_fraiseql_connect_failed(pool, 1, msg);
        return;
        }

    default:
        /* READING or WRITING: the next edge on the socket brings us back */
        return;
    }

    if (pgc->c->read->timer_set) {
        ngx_del_timer(pgc->c->read);
    }

    if (PQsetnonblocking(pgc->pg, 1) != 0) {
        ngx_http_fraiseql_close(pgc);
        ngx_http_fraiseql_connect_failed(pgc->pool, 0,
                                         "cannot set nonblocking mode");
        return;
    }

    PQsetNoticeProcessor(pgc->pg, ngx_http_fraiseql_notice, &pgc->log);

    pgc->pool->nconnecting--;
    pgc->pool->failures = 0;
    pgc->pool->backoff = 0;
    pgc->reused = 0;

    ngx_log_debug2(NGX_LOG_DEBUG_HTTP, &pgc->log, 0,
                   "fraiseql pg: connected, fd:%d, backend %d",
                   PQsocket(pgc->pg), PQbackendPID(pgc->pg));

    ngx_http_fraiseql_hand_over(pgc);
}


/* a connection just became free: the oldest waiter gets it */
static void
ngx_http_fraiseql_hand_over(ngx_http_fraiseql_pgc_t *pgc)
{
    ngx_queue_t                 *q;
    ngx_http_fraiseql_waiter_t  *w;
    ngx_http_fraiseql_pool_t    *pool = pgc->pool;

    pgc->handler = NULL;
    pgc->data = NULL;
    pgc->flushing = 0;
    pgc->log.action = NULL;

    if (pgc->c->read->timer_set) {
        ngx_del_timer(pgc->c->read);
    }

    /* an overrunning statement waits for a connection to cancel it */
    if (!ngx_queue_empty(&pool->cancels)) {
        q = ngx_queue_head(&pool->cancels);
        ngx_http_fraiseql_cancel_send(pgc,
                           ngx_queue_data(q, ngx_http_fraiseql_pgc_t, queue));
        return;
    }

    /* an exiting worker still serves the requests it has queued */
    if ((ngx_exiting || ngx_terminate) && ngx_queue_empty(&pool->waiters)) {
        ngx_http_fraiseql_close(pgc);
        return;
    }

    if (ngx_queue_empty(&pool->waiters)) {
        pgc->state = NGX_HTTP_FRAISEQL_PGC_IDLE;
        pgc->log.action = "keeping an idle PostgreSQL connection";
        ngx_queue_insert_head(&pool->idle, &pgc->queue);
        pool->nidle++;

        /* even one never used (pool_min) may die idle, with the others */
        pgc->reused = 1;

        /* an idle connection does not keep an exiting worker alive */
        if (pool->db->idle_timeout) {
            pgc->c->read->cancelable = 1;
            ngx_add_timer(pgc->c->read, pool->db->idle_timeout);
        }

        return;
    }

    q = ngx_queue_head(&pool->waiters);
    w = ngx_queue_data(q, ngx_http_fraiseql_waiter_t, queue);

    ngx_http_fraiseql_pool_cancel_wait(w);

    pgc->state = NGX_HTTP_FRAISEQL_PGC_BUSY;

    ngx_log_debug1(NGX_LOG_DEBUG_HTTP, w->log, 0,
                   "fraiseql pool: connection *%uA handed over",
                   pgc->c->number);

    w->ready(w, pgc);
}


/*
 * Gives a connection back.  One still in the middle of a result cannot be
 * reused (no blocking cancel in a worker): it is closed and replaced.
 */
void
ngx_http_fraiseql_pool_release(ngx_http_fraiseql_pgc_t *pgc,
    ngx_uint_t reusable)
{
    ngx_http_fraiseql_pool_t  *pool = pgc->pool;

    /* an old connection makes way for a new one (server-side memory) */
    if (pool->db->lifetime
        && ngx_current_msec - pgc->born >= pool->db->lifetime)
    {
        ngx_log_debug0(NGX_LOG_DEBUG_HTTP, &pgc->log, 0,
                       "fraiseql pg: connection lifetime over, closing");
        reusable = 0;
    }

    if (!reusable || PQstatus(pgc->pg) != CONNECTION_OK
        || PQtransactionStatus(pgc->pg) != PQTRANS_IDLE
        || PQpipelineStatus(pgc->pg) != PQ_PIPELINE_OFF)
    {
        ngx_http_fraiseql_drop(pgc);
        return;
    }

    pgc->reused = 1;
    ngx_http_fraiseql_hand_over(pgc);
}


/* closes a connection; a waiter must not starve behind it */
static void
ngx_http_fraiseql_drop(ngx_http_fraiseql_pgc_t *pgc)
{
    ngx_http_fraiseql_pool_t  *pool = pgc->pool;

    ngx_http_fraiseql_close(pgc);

    if (!ngx_queue_empty(&pool->waiters)
        && pool->nconns < pool->db->pool_size
        && !ngx_terminate)
    {
        (void) ngx_http_fraiseql_connect(pool);
    }
}


/* keeps pool_min connections open, retrying with the backoff */
static void
ngx_http_fraiseql_warm(ngx_event_t *ev)
{
    ngx_http_fraiseql_pool_t  *pool = ev->data;

    if (ngx_exiting || ngx_terminate) {
        return;
    }

    while (pool->nconns < pool->db->pool_min
           && (pool->failures == 0 || ngx_current_msec >= pool->retry_at))
    {
        if (ngx_http_fraiseql_connect(pool) != NGX_OK) {
            break;
        }
    }

    ngx_add_timer(ev, 1000);
}


void
ngx_http_fraiseql_pool_init(ngx_cycle_t *cycle, ngx_http_fraiseql_db_t *db)
{
    ngx_http_fraiseql_pool_t  *pool;

    pool = ngx_http_fraiseql_pool_get(db);
    if (pool == NULL) {
        return;
    }

    pool->warm.handler = ngx_http_fraiseql_warm;
    pool->warm.data = pool;
    pool->warm.log = cycle->log;
    pool->warm.cancelable = 1;

    ngx_http_fraiseql_warm(&pool->warm);
}


void
ngx_http_fraiseql_pool_exit(ngx_cycle_t *cycle)
{
    ngx_uint_t                 i;
    ngx_queue_t               *q;
    ngx_http_fraiseql_pool_t **pools, *pool;

    if (ngx_http_fraiseql_pools == NULL) {
        return;
    }

    pools = ngx_http_fraiseql_pools->elts;

    for (i = 0; i < ngx_http_fraiseql_pools->nelts; i++) {
        pool = pools[i];

        while (!ngx_queue_empty(&pool->idle)) {
            q = ngx_queue_head(&pool->idle);
            ngx_http_fraiseql_close(ngx_queue_data(q,
                                        ngx_http_fraiseql_pgc_t, queue));
        }
    }

    ngx_http_fraiseql_pools = NULL;
}


/* the results libpq has ready, cleared: their rows are nobody's now */
static void
ngx_http_fraiseql_drop_results(PGconn *pg)
{
    ngx_uint_t   i, nulls;
    PGresult    *res;

    /*
     * In pipeline mode a NULL ends one statement's results and the next
     * one's follow: two NULLs in a row, nothing more is here.
     */
    nulls = 0;

    for (i = 0; i < 4096 && !PQisBusy(pg); i++) {
        res = PQgetResult(pg);

        if (res != NULL) {
            PQclear(res);
            nulls = 0;
            continue;
        }

        if (PQpipelineStatus(pg) == PQ_PIPELINE_OFF || ++nulls == 2) {
            break;
        }
    }
}


/*
 * A statement overran the query timeout on pgc and the server did not
 * stop it (PostgreSQL checks for interrupts only so often).  libpq's
 * PQcancel opens a blocking socket, so the cancel goes as a statement,
 * pg_cancel_backend(pid), on another connection of the pool: an idle one
 * now, or the next one free (before any waiting request).  pgc stays open
 * until then, so that its backend has a name to be cancelled by; then it
 * is closed.  With no connection free within NGX_HTTP_FRAISEQL_CANCEL_WAIT,
 * it is closed anyway.
 */
void
ngx_http_fraiseql_pool_cancel(ngx_http_fraiseql_pgc_t *pgc)
{
    ngx_http_fraiseql_pgc_t   *idle;
    ngx_http_fraiseql_pool_t  *pool = pgc->pool;

    pgc->handler = NULL;
    pgc->data = NULL;
    pgc->state = NGX_HTTP_FRAISEQL_PGC_CANCELLING;
    pgc->reused = 0;
    pgc->log.action = "waiting for the cancel of a statement";

    /* the time it may wait for a connection to cancel it */
    ngx_add_timer(pgc->c->read, NGX_HTTP_FRAISEQL_CANCEL_WAIT);

    /* the cancel is sent once: by a connection surely alive */
    idle = ngx_http_fraiseql_take_idle(pool, 1);

    if (idle == NULL) {
        ngx_queue_insert_tail(&pool->cancels, &pgc->queue);
        pgc->cancel_queued = 1;

        /* a connection of our own for it, if the pool has room */
        if (pool->nconns < pool->db->pool_size && !ngx_terminate) {
            (void) ngx_http_fraiseql_connect(pool);
        }

        return;
    }

    ngx_http_fraiseql_cancel_send(idle, pgc);
}


/* pgc, free, sends the cancel of target's statement */
static void
ngx_http_fraiseql_cancel_send(ngx_http_fraiseql_pgc_t *pgc,
    ngx_http_fraiseql_pgc_t *target)
{
    char         pid[NGX_INT_T_LEN + 1];
    const char  *values[1];

    if (target->cancel_queued) {
        ngx_queue_remove(&target->queue);
        target->cancel_queued = 0;
    }

    pgc->state = NGX_HTTP_FRAISEQL_PGC_BUSY;
    pgc->handler = ngx_http_fraiseql_cancel_process;
    pgc->data = NULL;
    pgc->log.action = "cancelling a statement";
    pgc->cancel_target = target;
    target->canceller = pgc;

    /* the target waits on pgc now: pgc's timer and failures close it */
    if (target->c->read->timer_set) {
        ngx_del_timer(target->c->read);
    }

    ngx_sprintf((u_char *) pid, "%d%Z", PQbackendPID(target->pg));
    values[0] = pid;

    ngx_log_error(NGX_LOG_INFO, &pgc->log, 0,
                  "fraiseql: cancelling the statement of backend %s", pid);

    if (!PQsendQueryParams(pgc->pg, "SELECT pg_cancel_backend($1::int)", 1,
                           NULL, values, NULL, NULL, 0)
        || ngx_http_fraiseql_pgc_flush(pgc) != NGX_OK)
    {
        ngx_http_fraiseql_close(target);
        ngx_http_fraiseql_drop(pgc);
        return;
    }

    ngx_add_timer(pgc->c->read, NGX_HTTP_FRAISEQL_CANCEL_WAIT);
}


/*
 * The cancel's answer: its target is closed (its backend, cancelled,
 * ends when it sees the socket close), the connection that sent it goes
 * back to the pool.
 */
static void
ngx_http_fraiseql_cancel_process(ngx_http_fraiseql_pgc_t *pgc)
{
    PGresult  *res;

    if (pgc->c->read->timedout) {
        pgc->c->read->timedout = 0;

        goto failed;
    }

    if (pgc->flushing && ngx_http_fraiseql_pgc_flush(pgc) != NGX_OK) {
        goto failed;
    }

    if (!PQconsumeInput(pgc->pg)) {
        goto failed;
    }

    while (!PQisBusy(pgc->pg)) {
        res = PQgetResult(pgc->pg);

        if (res == NULL) {
            if (pgc->cancel_target != NULL) {
                ngx_http_fraiseql_drop(pgc->cancel_target);
            }

            /* (its timer goes as it is handed over) */
            ngx_http_fraiseql_pool_release(pgc, 1);
            return;
        }

        if (PQresultStatus(res) != PGRES_TUPLES_OK) {
            ngx_log_error(NGX_LOG_WARN, &pgc->log, 0,
                          "fraiseql: the cancel of an overrunning "
                          "statement failed: %s",
                          PQresultErrorMessage(res));
        }

        PQclear(res);
    }

    return;

failed:

    if (pgc->cancel_target != NULL) {
        ngx_http_fraiseql_close(pgc->cancel_target);
    }

    ngx_http_fraiseql_drop(pgc);
}


/*
 * Lines logged on a PostgreSQL connection say what it was doing and
 * where: " while reading rows from PostgreSQL, backend 4242, server
 * 127.0.0.1:5432".
 */
static u_char *
ngx_http_fraiseql_pgc_log_error(ngx_log_t *log, u_char *buf, size_t len)
{
    ngx_http_fraiseql_pgc_t  *pgc = log->data;

    u_char      *p;
    const char  *host, *port;

    p = buf;

    if (log->action) {
        p = ngx_snprintf(p, len, " while %s", log->action);
        len -= p - buf;
        buf = p;
    }

    if (pgc->pg == NULL) {
        return p;
    }

    if (PQstatus(pgc->pg) == CONNECTION_OK) {
        p = ngx_snprintf(p, len, ", backend %d", PQbackendPID(pgc->pg));
        len -= p - buf;
        buf = p;
    }

    host = PQhost(pgc->pg);
    port = PQport(pgc->pg);

    if (host != NULL && host[0] != '\0') {
        p = ngx_snprintf(p, len, ", server %s%s%s", host,
                         port && port[0] && host[0] != '/' ? ":" : "",
                         port && host[0] != '/' ? port : "");
    }

    return p;
}
