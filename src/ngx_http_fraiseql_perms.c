/*
 * Permissions from the database (fraiseql_permissions): a SQL function
 * gets a verified token's claims and answers the subject's roles and
 * permissions, which the schema's rules (fql_auth.c) then see as the
 * token's own.  Answers are kept in a shared memory zone, one entry per
 * subject (and tenant), shared by all workers: an rbtree on the
 * subject's hash, least recently used first out, each entry until its
 * ttl.  A miss runs the function through the pool while the request
 * waits, as its statements would.
 *
 * NOTIFY fraiseql_permissions, '<subject>' forgets a subject at once (an
 * empty payload: everyone): each worker keeps one connection that
 * LISTENs, to the primary fraiseql_database or to fraiseql_listen,
 * reconnected with backoff.  What a worker may have missed while it had
 * none is forgotten when it has one again.
 */

#include "ngx_http_fraiseql.h"
#include "fql_json.h"

#include <poll.h>


#define NGX_HTTP_FRAISEQL_PERMS_TTL        60000
#define NGX_HTTP_FRAISEQL_LISTEN_BACKOFF   100
#define NGX_HTTP_FRAISEQL_LISTEN_MAX       30000
#define NGX_HTTP_FRAISEQL_PERMS_CHANNEL    "fraiseql_permissions"

/*
 * A subject's answer: nginx's string node (sn.str, its key: sub, 0x1f,
 * tenant, is the start of data), then its roles' and permissions' names.
 */
typedef struct {
    ngx_str_node_t              sn;
    u_short                     sub_len;
    u_short                     nroles;
    u_short                     nperms;
    ngx_queue_t                 queue;
    ngx_msec_t                  expires;
    u_char                      data[1];      /* names NUL-ended */
} ngx_http_fraiseql_perms_node_t;

typedef struct {
    ngx_rbtree_t                rbtree;
    ngx_rbtree_node_t           sentinel;
    ngx_queue_t                 lru;          /* most recent first */
} ngx_http_fraiseql_perms_sh_t;

typedef enum {
    NGX_HTTP_FRAISEQL_LISTEN_IDLE = 0,        /* waits to connect */
    NGX_HTTP_FRAISEQL_LISTEN_CONNECTING,
    NGX_HTTP_FRAISEQL_LISTEN_SENT,            /* LISTEN on its way */
    NGX_HTTP_FRAISEQL_LISTEN_ON
} ngx_http_fraiseql_listen_state_e;

struct ngx_http_fraiseql_perms_s {
    ngx_str_t                   fn_schema;
    ngx_str_t                   fn_name;
    ngx_msec_t                  ttl;
    ngx_str_t                   tenant;       /* a JSON pointer, or "" */
    ngx_shm_zone_t             *zone;
    ngx_http_fraiseql_perms_sh_t  *sh;
    ngx_slab_pool_t            *shpool;
    fql_root_plan_t             plan;         /* the function's call */
    ngx_http_fraiseql_db_t     *listen;       /* fraiseql_listen, or NULL */
    ngx_http_fraiseql_db_t     *primary;      /* ... else this one */
    /* the worker's listener */
    PGconn                     *pg;
    ngx_connection_t           *c;
    ino_t                       ino;
    ngx_log_t                   log;
    ngx_event_t                 retry;
    ngx_msec_t                  backoff;
    ngx_http_fraiseql_listen_state_e  state;
    unsigned                    listened:1;   /* once: then it may miss */
};

/* a request's fetch of its subject's answer */
typedef struct {
    ngx_http_fraiseql_ctx_t    *ctx;
    ngx_http_fraiseql_perms_t  *pm;
    ngx_http_fraiseql_waiter_t  waiter;
    ngx_http_fraiseql_stmt_t    stmt;
    fql_root_plan_t             plan;
    const char                 *params[1];
    ngx_str_t                   key;
    size_t                      sub_len;
    ngx_str_t                   roles;        /* JSON arrays */
    ngx_str_t                   perms;
    /* the answer as the zone keeps it: the key, then the names */
    u_char                     *entry;
    size_t                      entry_len;
    u_short                     nroles;
    u_short                     nperms;
    unsigned                    row:1;
    unsigned                    failed:1;
    unsigned                    done:1;
} ngx_http_fraiseql_perms_fetch_t;


static void ngx_http_fraiseql_listen_connect(ngx_http_fraiseql_perms_t *pm);
static void ngx_http_fraiseql_listen_close(ngx_http_fraiseql_perms_t *pm,
    const char *why);


/* ---- configuration ---- */


static ngx_int_t
ngx_http_fraiseql_perms_init_zone(ngx_shm_zone_t *zone, void *data)
{
    ngx_http_fraiseql_perms_t  *opm = data;

    size_t                      len;
    ngx_http_fraiseql_perms_t  *pm = zone->data;

    if (opm != NULL) {
        /* a reload with the zone as it was: its entries stay */
        pm->sh = opm->sh;
        pm->shpool = opm->shpool;
        return NGX_OK;
    }

    pm->shpool = (ngx_slab_pool_t *) zone->shm.addr;

    if (zone->shm.exists) {
        pm->sh = pm->shpool->data;
        return NGX_OK;
    }

    pm->sh = ngx_slab_alloc(pm->shpool, sizeof(ngx_http_fraiseql_perms_sh_t));
    if (pm->sh == NULL) {
        return NGX_ERROR;
    }

    pm->shpool->data = pm->sh;

    ngx_rbtree_init(&pm->sh->rbtree, &pm->sh->sentinel,
                    ngx_str_rbtree_insert_value);
    ngx_queue_init(&pm->sh->lru);

    len = sizeof(" in fraiseql_permissions zone \"\"") + zone->shm.name.len;

    pm->shpool->log_ctx = ngx_slab_alloc(pm->shpool, len);
    if (pm->shpool->log_ctx == NULL) {
        return NGX_ERROR;
    }

    ngx_sprintf(pm->shpool->log_ctx, " in fraiseql_permissions zone \"%V\"%Z",
                &zone->shm.name);

    /* full: the least recently used entries go, without a word */
    pm->shpool->log_nomem = 0;

    return NGX_OK;
}


/*
 * fraiseql_permissions function=SCHEMA.NAME zone=NAME:SIZE [ttl=60s]
 *     [tenant=/json/pointer];
 */
char *
ngx_http_fraiseql_permissions(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf)
{
    ngx_http_fraiseql_main_conf_t *fmcf = conf;

    u_char                     *p, *dot;
    ssize_t                     size;
    ngx_int_t                   t;
    ngx_str_t                  *value, name, s, fn;
    ngx_uint_t                  i;
    fql_str_t                   ptr;
    ngx_http_fraiseql_perms_t  *pm;

    if (fmcf->perms != NULL) {
        return "is duplicate";
    }

    pm = ngx_pcalloc(cf->pool, sizeof(ngx_http_fraiseql_perms_t));
    if (pm == NULL) {
        return NGX_CONF_ERROR;
    }

    pm->ttl = NGX_HTTP_FRAISEQL_PERMS_TTL;
    value = cf->args->elts;
    ngx_str_null(&fn);
    ngx_str_null(&name);
    size = 0;

    for (i = 1; i < cf->args->nelts; i++) {

        if (ngx_strncmp(value[i].data, "function=", 9) == 0) {
            fn.data = value[i].data + 9;
            fn.len = value[i].len - 9;
            continue;
        }

        if (ngx_strncmp(value[i].data, "zone=", 5) == 0) {
            name.data = value[i].data + 5;
            p = (u_char *) ngx_strchr(name.data, ':');

            if (p == NULL) {
                ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                                   "invalid zone size \"%V\"", &value[i]);
                return NGX_CONF_ERROR;
            }

            name.len = p - name.data;
            s.data = p + 1;
            s.len = value[i].data + value[i].len - s.data;
            size = ngx_parse_size(&s);

            if (size == NGX_ERROR || size < (ssize_t) (8 * ngx_pagesize)) {
                ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                                   "invalid zone size \"%V\" (at least "
                                   "%uz)", &value[i], 8 * ngx_pagesize);
                return NGX_CONF_ERROR;
            }

            continue;
        }

        if (ngx_strncmp(value[i].data, "ttl=", 4) == 0) {
            if (ngx_http_fraiseql_conf_time(cf, &value[i], "ttl=", "ttl", 0,
                                            &t) != NGX_OK)
            {
                return NGX_CONF_ERROR;
            }

            pm->ttl = (ngx_msec_t) t;
            continue;
        }

        if (ngx_strncmp(value[i].data, "tenant=", 7) == 0) {
            pm->tenant.data = value[i].data + 7;
            pm->tenant.len = value[i].len - 7;
            ptr.data = (char *) pm->tenant.data;
            ptr.len = pm->tenant.len;

            if (!fql_json_pointer_valid(ptr) || ptr.len == 0) {
                ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                                   "\"%V\": not a JSON pointer (RFC 6901), "
                                   "such as tenant=/tenant_id", &value[i]);
                return NGX_CONF_ERROR;
            }

            continue;
        }

        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0, "invalid parameter \"%V\"",
                           &value[i]);
        return NGX_CONF_ERROR;
    }

    dot = fn.len ? ngx_strlchr(fn.data, fn.data + fn.len, '.') : NULL;

    if (dot == NULL || dot == fn.data || dot == fn.data + fn.len - 1) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0, "\"%V\" needs "
                           "function=SCHEMA.NAME", &cmd->name);
        return NGX_CONF_ERROR;
    }

    pm->fn_schema.data = fn.data;
    pm->fn_schema.len = dot - fn.data;
    pm->fn_name.data = dot + 1;
    pm->fn_name.len = fn.data + fn.len - dot - 1;

    /* identifiers, quoted: nothing in them can end the quotes */
    for (p = fn.data; p < fn.data + fn.len; p++) {
        if (*p == '"' || *p < 0x20) {
            ngx_conf_log_error(NGX_LOG_EMERG, cf, 0, "\"%V\": not a "
                               "function's name", &fn);
            return NGX_CONF_ERROR;
        }
    }

    if (name.len == 0) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0, "\"%V\" needs "
                           "zone=NAME:SIZE", &cmd->name);
        return NGX_CONF_ERROR;
    }

    pm->zone = ngx_shared_memory_add(cf, &name, size,
                                     &ngx_http_fraiseql_module);
    if (pm->zone == NULL) {
        return NGX_CONF_ERROR;
    }

    if (pm->zone->data) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0, "zone \"%V\" is already "
                           "used", &name);
        return NGX_CONF_ERROR;
    }

    pm->zone->init = ngx_http_fraiseql_perms_init_zone;
    pm->zone->data = pm;

    /* the call: its roles and permissions as JSON arrays, or no row */
    p = ngx_pnalloc(cf->pool, fn.len + 128);
    if (p == NULL) {
        return NGX_CONF_ERROR;
    }

    pm->plan.sql = (char *) p;
    p = ngx_sprintf(p, "SELECT to_json(r.\"roles\")::text, "
                    "to_json(r.\"permissions\")::text FROM \"%V\".\"%V\"("
                    "$1::jsonb) AS r LIMIT 1%Z", &pm->fn_schema,
                    &pm->fn_name);
    pm->plan.sql_len = p - 1 - (u_char *) pm->plan.sql;
    pm->plan.sql_hash = fql_hash(pm->plan.sql, pm->plan.sql_len);
    pm->plan.nparams = 1;
    pm->plan.kind = FQL_RF_OBJECT;
    pm->plan.response_key.data = "permissions";
    pm->plan.response_key.len = sizeof("permissions") - 1;

    fmcf->perms = pm;

    return NGX_CONF_OK;
}


/* fraiseql_listen "conninfo"; */
char *
ngx_http_fraiseql_listen(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    ngx_http_fraiseql_main_conf_t *fmcf = conf;

    ngx_str_t               *value;
    ngx_http_fraiseql_db_t  *db;

    if (fmcf->listen != NULL) {
        return "is duplicate";
    }

    value = cf->args->elts;

    db = ngx_pcalloc(cf->pool, sizeof(ngx_http_fraiseql_db_t));
    if (db == NULL) {
        return NGX_CONF_ERROR;
    }

    db->conninfo = value[1];
    db->connect_timeout = NGX_HTTP_FRAISEQL_CONNECT_TIMEOUT;

    if (ngx_http_fraiseql_db_init(cf, db) != NGX_OK) {
        return NGX_CONF_ERROR;
    }

    fmcf->listen = db;

    return NGX_CONF_OK;
}


/* ---- the zone ---- */


static uint32_t
ngx_http_fraiseql_perms_hash(const u_char *key, size_t len)
{
    return ngx_crc32_short((u_char *) key, len);
}


static ngx_http_fraiseql_perms_node_t *
ngx_http_fraiseql_perms_find(ngx_http_fraiseql_perms_t *pm, ngx_str_t *key)
{
    return (ngx_http_fraiseql_perms_node_t *) ngx_str_rbtree_lookup(
        &pm->sh->rbtree, key, ngx_http_fraiseql_perms_hash(key->data,
                                                            key->len));
}


static void
ngx_http_fraiseql_perms_delete(ngx_http_fraiseql_perms_t *pm,
    ngx_http_fraiseql_perms_node_t *pn)
{
    ngx_queue_remove(&pn->queue);
    ngx_rbtree_delete(&pm->sh->rbtree, &pn->sn.node);
    ngx_slab_free_locked(pm->shpool, pn);
}


/* every entry of the subject (payload) or, for an empty one, all */
static ngx_uint_t
ngx_http_fraiseql_perms_forget(ngx_http_fraiseql_perms_t *pm,
    const u_char *sub, size_t len)
{
    ngx_uint_t                       n;
    ngx_queue_t                     *q, *next;
    ngx_http_fraiseql_perms_node_t  *pn;

    n = 0;

    ngx_shmtx_lock(&pm->shpool->mutex);

    for (q = ngx_queue_head(&pm->sh->lru);
         q != ngx_queue_sentinel(&pm->sh->lru);
         q = next)
    {
        next = ngx_queue_next(q);
        pn = ngx_queue_data(q, ngx_http_fraiseql_perms_node_t, queue);

        if (len == 0 || (pn->sub_len == len
                         && ngx_memcmp(pn->data, sub, len) == 0))
        {
            ngx_http_fraiseql_perms_delete(pm, pn);
            n++;
        }
    }

    ngx_shmtx_unlock(&pm->shpool->mutex);

    return n;
}


/* the names of a JSON array of strings, appended NUL-ended to p */
static u_char *
ngx_http_fraiseql_perms_names(const fql_jval_t *arr, u_char *p,
    u_short *n)
{
    const fql_jval_t  *it;

    *n = 0;

    if (arr == NULL || arr->kind != FQL_J_ARRAY) {
        return p;
    }

    for (it = arr->items; it; it = it->next) {
        if (it->kind != FQL_J_STRING || it->str.len == 0
            || it->str.len > 255
            || ngx_strlchr((u_char *) it->str.data,
                           (u_char *) it->str.data + it->str.len, '\0'))
        {
            continue;
        }

        p = ngx_cpymem(p, it->str.data, it->str.len);
        *p++ = '\0';
        (*n)++;
    }

    return p;
}


/* the fetched answer as the zone keeps it: key, names, NUL-ended */
static ngx_int_t
ngx_http_fraiseql_perms_entry(ngx_http_fraiseql_perms_fetch_t *pf)
{
    u_char        *e;
    fql_arena_t    arena;
    fql_errors_t   errs;

    ngx_http_fraiseql_arena_init(&arena, pf->ctx->r->pool);
    fql_errors_init(&errs, &arena);

    /* never longer than the key and the JSON they come from */
    pf->entry = ngx_pnalloc(pf->ctx->r->pool,
                            pf->key.len + pf->roles.len + pf->perms.len + 2);
    if (pf->entry == NULL) {
        return NGX_ERROR;
    }

    e = ngx_cpymem(pf->entry, pf->key.data, pf->key.len);
    e = ngx_http_fraiseql_perms_names(pf->roles.len
        ? fql_json_parse(&arena, (char *) pf->roles.data, pf->roles.len,
                         &errs) : NULL, e, &pf->nroles);
    e = ngx_http_fraiseql_perms_names(pf->perms.len
        ? fql_json_parse(&arena, (char *) pf->perms.data, pf->perms.len,
                         &errs) : NULL, e, &pf->nperms);
    pf->entry_len = e - pf->entry;

    return NGX_OK;
}


/* the fetched answer into the zone, the least recently used out if full */
static void
ngx_http_fraiseql_perms_store(ngx_http_fraiseql_perms_fetch_t *pf)
{
    size_t                           n;
    ngx_uint_t                       tries;
    ngx_queue_t                     *q;
    ngx_http_fraiseql_perms_t       *pm = pf->pm;
    ngx_http_fraiseql_perms_node_t  *pn;

    n = pf->entry_len;

    if (n > 65535) {
        ngx_log_error(NGX_LOG_WARN, pf->ctx->r->connection->log, 0,
                      "fraiseql: permissions of a subject too long to "
                      "keep (%uz bytes)", n);
        return;
    }

    ngx_shmtx_lock(&pm->shpool->mutex);

    pn = ngx_http_fraiseql_perms_find(pm, &pf->key);
    if (pn != NULL) {
        ngx_http_fraiseql_perms_delete(pm, pn);
    }

    pn = NULL;

    for (tries = 0; tries < 64; tries++) {
        pn = ngx_slab_alloc_locked(pm->shpool,
                                   offsetof(ngx_http_fraiseql_perms_node_t,
                                            data) + n);
        if (pn != NULL || ngx_queue_empty(&pm->sh->lru)) {
            break;
        }

        q = ngx_queue_last(&pm->sh->lru);
        ngx_http_fraiseql_perms_delete(pm,
            ngx_queue_data(q, ngx_http_fraiseql_perms_node_t, queue));
    }

    if (pn == NULL) {
        ngx_shmtx_unlock(&pm->shpool->mutex);
        return;
    }

    pn->sn.node.key = ngx_http_fraiseql_perms_hash(pf->key.data,
                                                   pf->key.len);
    pn->sn.str.data = pn->data;
    pn->sn.str.len = pf->key.len;
    pn->sub_len = (u_short) pf->sub_len;
    pn->nroles = pf->nroles;
    pn->nperms = pf->nperms;
    pn->expires = ngx_current_msec + pm->ttl;
    ngx_memcpy(pn->data, pf->entry, n);

    ngx_rbtree_insert(&pm->sh->rbtree, &pn->sn.node);
    ngx_queue_insert_head(&pm->sh->lru, &pn->queue);

    ngx_shmtx_unlock(&pm->shpool->mutex);
}


/* the caller's key: its subject, and its tenant when one is configured */
static ngx_int_t
ngx_http_fraiseql_perms_key(ngx_http_fraiseql_ctx_t *ctx,
    ngx_http_fraiseql_perms_t *pm, ngx_str_t *key, size_t *sub_len)
{
    u_char            *p;
    fql_str_t          ptr;
    const fql_jval_t  *sub, *tenant;

    sub = fql_jval_member(ctx->auth.jwt.claims, "sub");
    tenant = NULL;

    if (sub == NULL
        || (sub->kind != FQL_J_STRING && sub->kind != FQL_J_NUMBER)
        || sub->str.len == 0 || sub->str.len > 1024)
    {
        return NGX_DECLINED;
    }

    if (pm->tenant.len) {
        ptr.data = (char *) pm->tenant.data;
        ptr.len = pm->tenant.len;
        tenant = fql_json_pointer(ctx->auth.jwt.claims, ptr);

        if (tenant != NULL && tenant->kind != FQL_J_STRING
            && tenant->kind != FQL_J_NUMBER)
        {
            tenant = NULL;
        }

        if (tenant != NULL && tenant->str.len > 1024) {
            return NGX_DECLINED;
        }
    }

    key->len = sub->str.len + (tenant ? 1 + tenant->str.len : 0);
    key->data = ngx_pnalloc(ctx->r->pool, key->len);
    if (key->data == NULL) {
        return NGX_ERROR;
    }

    p = ngx_cpymem(key->data, sub->str.data, sub->str.len);

    if (tenant != NULL) {
        *p++ = 0x1f;
        ngx_memcpy(p, tenant->str.data, tenant->str.len);
    }

    *sub_len = sub->str.len;

    return NGX_OK;
}


/* the names of an entry (or of a fetch) as the caller's bits */
static void
ngx_http_fraiseql_perms_bits(fql_caller_t *c, const fql_authz_t *az,
    const u_char *p, ngx_uint_t nroles, ngx_uint_t nperms)
{
    size_t  len;

    for ( /* void */ ; nroles; nroles--) {
        len = ngx_strlen(p);
        c->roles |= fql_auth_role(az, (char *) p, len);
        p += len + 1;
    }

    for ( /* void */ ; nperms; nperms--) {
        len = ngx_strlen(p);
        c->perms |= fql_auth_bit(&az->perms, (char *) p, len);
        p += len + 1;
    }
}


/* ---- a fetch through the pool ---- */


static void
ngx_http_fraiseql_perms_done(ngx_http_fraiseql_perms_fetch_t *pf,
    const char *failed)
{
    ngx_http_fraiseql_ctx_t  *ctx = pf->ctx;

    if (pf->done) {
        return;
    }

    pf->done = 1;

    if (failed == NULL && !pf->failed
        && ngx_http_fraiseql_perms_entry(pf) != NGX_OK)
    {
        failed = "out of memory";
    }

    if (failed != NULL || pf->failed) {
        pf->failed = 1;
        ngx_log_error(NGX_LOG_ERR, ctx->r->connection->log, 0,
                      "fraiseql: permissions not fetched: %s",
                      failed ? failed : "the function failed");
    } else {
        ngx_http_fraiseql_perms_store(pf);
    }

    /* the request starts again, and finds its answer in pf */
    ngx_post_event(&ctx->auth.resume, &ngx_posted_events);
}


static void
ngx_http_fraiseql_perms_event(ngx_http_fraiseql_pgc_t *pgc)
{
    ngx_int_t                         rc;
    PGresult                         *res;
    ngx_connection_t                 *hc;
    ngx_http_fraiseql_stmt_error_t    e;
    ngx_http_fraiseql_perms_fetch_t  *pf = pgc->data;

    hc = pf->ctx->r->connection;

    if (pgc->c->read->timedout) {
        pgc->c->read->timedout = 0;
        pf->stmt.pgc = NULL;
        ngx_http_fraiseql_pool_cancel(pgc);
        ngx_http_fraiseql_perms_done(pf, "no answer within the query "
                                     "timeout");
        ngx_http_run_posted_requests(hc);
        return;
    }

    if (pgc->flushing && ngx_http_fraiseql_pgc_flush(pgc) != NGX_OK) {
        goto failed;
    }

    for ( ;; ) {
        rc = ngx_http_fraiseql_stmt_result(&pf->stmt, &res);

        switch (rc) {

        case NGX_OK:
            if (!pf->row) {
                pf->row = 1;
                pf->roles.len = PQgetisnull(res, 0, 0)
                                ? 0 : (size_t) PQgetlength(res, 0, 0);
                pf->perms.len = PQgetisnull(res, 0, 1)
                                ? 0 : (size_t) PQgetlength(res, 0, 1);
                pf->roles.data = ngx_pnalloc(hc->pool, pf->roles.len + 1);
                pf->perms.data = ngx_pnalloc(hc->pool, pf->perms.len + 1);

                if (pf->roles.data == NULL || pf->perms.data == NULL) {
                    pf->failed = 1;

                } else {
                    ngx_memcpy(pf->roles.data, PQgetvalue(res, 0, 0),
                               pf->roles.len);
                    ngx_memcpy(pf->perms.data, PQgetvalue(res, 0, 1),
                               pf->perms.len);
                }
            }

            PQclear(res);
            continue;

        case NGX_DECLINED:
            (void) ngx_http_fraiseql_stmt_error(&pf->stmt, res, 0, &e);
            ngx_log_error(NGX_LOG_ERR, hc->log, 0, "fraiseql: the "
                          "permissions function failed: %s (SQLSTATE %s)",
                          e.message ? e.message : "", e.state ? e.state : "");
            pf->failed = 1;
            PQclear(res);
            continue;

        case NGX_AGAIN:
            return;

        case NGX_DONE:
            pf->stmt.pgc = NULL;
            ngx_http_fraiseql_pool_release(pgc, 1);
            ngx_http_fraiseql_perms_done(pf, NULL);
            ngx_http_run_posted_requests(hc);
            return;

        default:
            goto failed;
        }
    }

failed:

    pf->stmt.pgc = NULL;
    ngx_http_fraiseql_pool_release(pgc, 0);
    ngx_http_fraiseql_perms_done(pf, PQerrorMessage(pgc->pg));
    ngx_http_run_posted_requests(hc);
}


static void
ngx_http_fraiseql_perms_run(ngx_http_fraiseql_perms_fetch_t *pf,
    ngx_http_fraiseql_pgc_t *pgc)
{
    pf->stmt.pgc = pgc;
    pgc->handler = ngx_http_fraiseql_perms_event;
    pgc->data = pf;

    if (ngx_http_fraiseql_stmt_send(&pf->stmt) != NGX_OK) {
        pf->stmt.pgc = NULL;
        ngx_http_fraiseql_pool_release(pgc, 0);
        ngx_http_fraiseql_perms_done(pf, "cannot send the statement");
    }
}


static void
ngx_http_fraiseql_perms_ready(ngx_http_fraiseql_waiter_t *w,
    ngx_http_fraiseql_pgc_t *pgc)
{
    ngx_http_fraiseql_perms_run(w->data, pgc);
}


static void
ngx_http_fraiseql_perms_waited(ngx_http_fraiseql_waiter_t *w,
    ngx_uint_t timedout)
{
    ngx_http_fraiseql_perms_done(w->data, timedout
                                 ? "no database connection became free "
                                   "in time"
                                 : "the database is unavailable");
}


/* the request goes before its fetch ends: its connection, its wait go */
static void
ngx_http_fraiseql_perms_cleanup(void *data)
{
    ngx_http_fraiseql_perms_fetch_t *pf = data;

    ngx_http_fraiseql_pgc_t  *pgc;

    if (pf->waiter.pool != NULL) {
        ngx_http_fraiseql_pool_cancel_wait(&pf->waiter);
    }

    pgc = pf->stmt.pgc;

    if (pgc != NULL) {
        pf->stmt.pgc = NULL;
        ngx_http_fraiseql_pool_cancel(pgc);
    }

    pf->done = 1;

    if (pf->ctx->auth.resume.posted) {
        ngx_delete_posted_event(&pf->ctx->auth.resume);
    }
}


static ngx_int_t
ngx_http_fraiseql_perms_fetch(ngx_http_fraiseql_ctx_t *ctx,
    ngx_http_fraiseql_perms_t *pm, ngx_str_t *key, size_t sub_len)
{
    ngx_int_t                         rc;
    ngx_http_request_t               *r = ctx->r;
    ngx_http_cleanup_t               *cln;
    ngx_http_fraiseql_pgc_t          *pgc;
    ngx_http_fraiseql_perms_fetch_t  *pf;

    pf = ngx_pcalloc(r->pool, sizeof(ngx_http_fraiseql_perms_fetch_t));
    cln = ngx_http_cleanup_add(r, 0);

    if (pf == NULL || cln == NULL) {
        return NGX_ERROR;
    }

    pf->ctx = ctx;
    pf->pm = pm;
    pf->key = *key;
    pf->sub_len = sub_len;

    /* the claims, as the function's one argument (NUL-ended) */
    pf->params[0] = (char *) ctx->auth.jwt.claims_json.data;

    pf->plan = pm->plan;
    pf->plan.params = pf->params;

    pf->waiter.ready = ngx_http_fraiseql_perms_ready;
    pf->waiter.failed = ngx_http_fraiseql_perms_waited;
    pf->waiter.data = pf;
    pf->waiter.log = r->connection->log;
    /* the primary: where NOTIFY is sent, never a lagging replica */
    pf->waiter.write = 1;

    pf->stmt.plan = &pf->plan;
    pf->stmt.conf = &ctx->lcf->stmt;
    pf->stmt.log = r->connection->log;

    cln->handler = ngx_http_fraiseql_perms_cleanup;
    cln->data = pf;

    ctx->auth.perms = pf;
    ctx->auth.resume.handler = ngx_http_fraiseql_auth_resume;
    ctx->auth.resume.data = ctx;
    ctx->auth.resume.log = r->connection->log;
    r->write_event_handler = ngx_http_request_empty_handler;

    ngx_log_debug1(NGX_LOG_DEBUG_HTTP, r->connection->log, 0,
                   "fraiseql permissions: fetching for \"%V\"", key);

    rc = ngx_http_fraiseql_pool_acquire(ctx->lcf->group, &pf->waiter, &pgc);

    switch (rc) {

    case NGX_OK:
        ngx_http_fraiseql_perms_run(pf, pgc);
        break;

    case NGX_AGAIN:
        break;

    default:
        ngx_http_fraiseql_perms_done(pf, rc == NGX_BUSY
                                         ? "the connection queue is full"
                                         : "the database is unavailable");
    }

    return NGX_AGAIN;
}


/* the subject's entry, if live, as the caller's bits; the LRU's first */
static ngx_uint_t
ngx_http_fraiseql_perms_lookup(ngx_http_fraiseql_perms_t *pm, ngx_str_t *key,
    fql_caller_t *caller, const fql_authz_t *az)
{
    ngx_http_fraiseql_perms_node_t  *pn;

    ngx_shmtx_lock(&pm->shpool->mutex);

    pn = ngx_http_fraiseql_perms_find(pm, key);

    if (pn != NULL && (ngx_msec_int_t) (pn->expires - ngx_current_msec) <= 0)
    {
        ngx_http_fraiseql_perms_delete(pm, pn);
        pn = NULL;
    }

    if (pn != NULL) {
        ngx_queue_remove(&pn->queue);
        ngx_queue_insert_head(&pm->sh->lru, &pn->queue);
        ngx_http_fraiseql_perms_bits(caller, az, pn->data + pn->sn.str.len,
                                     pn->nroles, pn->nperms);
    }

    ngx_shmtx_unlock(&pm->shpool->mutex);

    return pn != NULL;
}


/*
 * The caller's roles and permissions from the database, added to those
 * of its token: NGX_OK; NGX_AGAIN, the request waits for a fetch;
 * NGX_DECLINED, none could be had (503); NGX_ERROR.
 */
ngx_int_t
ngx_http_fraiseql_perms(ngx_http_fraiseql_ctx_t *ctx)
{
    size_t                            sub_len;
    ngx_int_t                         rc;
    ngx_str_t                         key;
    const fql_authz_t                *az;
    ngx_uint_t                        found;
    ngx_http_fraiseql_perms_t        *pm;
    ngx_http_fraiseql_perms_fetch_t  *pf;
    ngx_http_fraiseql_main_conf_t    *fmcf;
#if (NGX_DEBUG)
    struct timespec                   t0, t1, t2;
#endif

    fmcf = ngx_http_get_module_main_conf(ctx->r, ngx_http_fraiseql_module);
    pm = fmcf->perms;

    if (pm == NULL || ctx->auth.status != FQL_JWT_OK
        || ctx->lcf->engine.schema == NULL
        || ctx->lcf->engine.schema->authz.rules == 0)
    {
        return NGX_OK;
    }

    az = &ctx->lcf->engine.schema->authz;
    pf = ctx->auth.perms;

    if (pf != NULL && pf->done) {
        /* this request fetched: its answer, whatever the zone kept */
        if (pf->failed) {
            return NGX_DECLINED;
        }

        rc = NGX_OK;
        key = pf->key;
        sub_len = pf->sub_len;

    } else {
        rc = ngx_http_fraiseql_perms_key(ctx, pm, &key, &sub_len);

        if (rc == NGX_DECLINED) {
            /* no subject: nothing to look up, the token's alone */
            return NGX_OK;
        }

        if (rc == NGX_ERROR) {
            return NGX_ERROR;
        }
    }

#if (NGX_DEBUG)
    /*
     * What a lookup costs, for bench/bench_perms.py, when debugging only:
     * with the worker's caches as the request left them, then the same
     * again, hot.
     */
    if (ctx->r->connection->log->log_level & NGX_LOG_DEBUG_HTTP) {
        (void) clock_gettime(CLOCK_MONOTONIC, &t0);
        found = ngx_http_fraiseql_perms_lookup(pm, &key, &ctx->auth.caller,
                                               az);
        (void) clock_gettime(CLOCK_MONOTONIC, &t1);
        (void) ngx_http_fraiseql_perms_lookup(pm, &key, &ctx->auth.caller,
                                              az);
        (void) clock_gettime(CLOCK_MONOTONIC, &t2);

        ngx_log_debug3(NGX_LOG_DEBUG_HTTP, ctx->r->connection->log, 0,
                       "fraiseql permissions: lookup %s in %L ns, again "
                       "in %L ns", found ? "hit" : "miss",
                       (int64_t) (t1.tv_sec - t0.tv_sec) * 1000000000
                       + (t1.tv_nsec - t0.tv_nsec),
                       (int64_t) (t2.tv_sec - t1.tv_sec) * 1000000000
                       + (t2.tv_nsec - t1.tv_nsec));

    } else
#endif
    found = ngx_http_fraiseql_perms_lookup(pm, &key, &ctx->auth.caller, az);

    if (found) {
        return NGX_OK;
    }

    if (pf != NULL && pf->done) {
        /* fetched, then gone (a full zone, a tiny ttl): used as it came */
        ngx_http_fraiseql_perms_bits(&ctx->auth.caller, az,
                                     pf->entry + pf->key.len, pf->nroles,
                                     pf->nperms);
        return NGX_OK;
    }

    return ngx_http_fraiseql_perms_fetch(ctx, pm, &key, sub_len);
}


/* ---- the listener: one connection per worker, LISTENing ---- */


static void
ngx_http_fraiseql_listen_retry(ngx_event_t *ev)
{
    ngx_http_fraiseql_perms_t  *pm = ev->data;

    if (ngx_exiting || ngx_quit || ngx_terminate) {
        return;
    }

    ngx_http_fraiseql_listen_connect(pm);
}


static void
ngx_http_fraiseql_listen_close(ngx_http_fraiseql_perms_t *pm,
    const char *why)
{
    if (why != NULL) {
        ngx_log_error(NGX_LOG_ERR, &pm->log, 0, "fraiseql: the permissions "
                      "listener's connection failed: %*s; again in %M ms",
                      ngx_http_fraiseql_pq_message(why), why, pm->backoff);
    }

    ngx_http_fraiseql_sock_del(&pm->c);

    if (pm->pg != NULL) {
        PQfinish(pm->pg);
        pm->pg = NULL;
    }

    pm->state = NGX_HTTP_FRAISEQL_LISTEN_IDLE;

    if (why != NULL && !(ngx_exiting || ngx_quit || ngx_terminate)) {
        ngx_add_timer(&pm->retry, pm->backoff);
        pm->backoff = ngx_min(pm->backoff * 2,
                              NGX_HTTP_FRAISEQL_LISTEN_MAX);
    }
}


/* the notifications that came: each forgets its subject, or everyone */
static void
ngx_http_fraiseql_listen_read(ngx_http_fraiseql_perms_t *pm)
{
    size_t     len;
    PGnotify  *n;
    PGresult  *res;

    if (!PQconsumeInput(pm->pg)) {
        ngx_http_fraiseql_listen_close(pm, PQerrorMessage(pm->pg));
        return;
    }

    while (!PQisBusy(pm->pg) && (res = PQgetResult(pm->pg)) != NULL) {
        if (PQresultStatus(res) != PGRES_COMMAND_OK) {
            ngx_log_error(NGX_LOG_ERR, &pm->log, 0, "fraiseql: LISTEN "
                          "failed: %s", PQresultErrorMessage(res));
        }

        PQclear(res);
    }

    if (pm->state == NGX_HTTP_FRAISEQL_LISTEN_SENT && !PQisBusy(pm->pg)) {
        pm->state = NGX_HTTP_FRAISEQL_LISTEN_ON;
        pm->backoff = NGX_HTTP_FRAISEQL_LISTEN_BACKOFF;
        pm->log.action = "listening for permission changes";

        /* what was sent while this worker had no listener is unknown */
        if (pm->listened) {
            ngx_http_fraiseql_perms_forget(pm, NULL, 0);
        }

        pm->listened = 1;

        ngx_log_debug0(NGX_LOG_DEBUG_HTTP, &pm->log, 0,
                       "fraiseql permissions: listening");
    }

    while ((n = PQnotifies(pm->pg)) != NULL) {
        len = ngx_strlen(n->extra);

        ngx_log_error(NGX_LOG_INFO, &pm->log, 0, "fraiseql: permissions "
                      "of \"%s\" changed: %ui forgotten", len ? n->extra
                                                             : "everyone",
                      ngx_http_fraiseql_perms_forget(pm,
                                                     (u_char *) n->extra,
                                                     len));
        PQfreemem(n);
    }
}


static void
ngx_http_fraiseql_listen_handler(ngx_event_t *ev)
{
    int                          fd;
    struct stat                  st;
    struct pollfd                pfd;
    ngx_connection_t            *c = ev->data;
    ngx_http_fraiseql_perms_t   *pm = c->data;
    PostgresPollingStatusType    ps;

    ngx_log_debug2(NGX_LOG_DEBUG_HTTP, &pm->log, 0,
                   "fraiseql permissions: listener %s event, state %d",
                   ev->write ? "write" : "read", (int) pm->state);

    if (ev->timedout) {
        ev->timedout = 0;
        ngx_http_fraiseql_listen_close(pm, "connect timed out");
        return;
    }

    if (pm->state == NGX_HTTP_FRAISEQL_LISTEN_CONNECTING) {
        /* edge-triggered: poll again while the socket is ready for what
         * libpq waits for, as the pool does */
        for ( ;; ) {
            ps = PQconnectPoll(pm->pg);

            if (ps != PGRES_POLLING_READING && ps != PGRES_POLLING_WRITING)
            {
                break;
            }

            pfd.fd = PQsocket(pm->pg);
            pfd.events = ps == PGRES_POLLING_READING ? POLLIN : POLLOUT;
            pfd.revents = 0;

            if (pfd.fd != pm->c->fd || poll(&pfd, 1, 0) != 1) {
                break;
            }
        }

        /* libpq may have moved to another host, and another socket */
        fd = PQsocket(pm->pg);
        if (ps != PGRES_POLLING_FAILED && fd != -1
            && (fd != pm->c->fd || (fstat(fd, &st) == 0
                                    && st.st_ino != pm->ino)))
        {
            ngx_http_fraiseql_sock_del(&pm->c);

            if (ngx_http_fraiseql_sock_add(pm->pg, &pm->log, pm,
                    ngx_http_fraiseql_listen_handler, &pm->c, &pm->ino)
                != NGX_OK)
            {
                ngx_http_fraiseql_listen_close(pm, "cannot register its "
                                               "socket");
                return;
            }

            ngx_add_timer(pm->c->read, NGX_HTTP_FRAISEQL_CONNECT_TIMEOUT);
        }

        switch (ps) {

        case PGRES_POLLING_OK:
            if (pm->c->read->timer_set) {
                ngx_del_timer(pm->c->read);
            }

            if (PQsetnonblocking(pm->pg, 1) != 0
                || !PQsendQuery(pm->pg,
                                "LISTEN " NGX_HTTP_FRAISEQL_PERMS_CHANNEL))
            {
                ngx_http_fraiseql_listen_close(pm, PQerrorMessage(pm->pg));
                return;
            }

            pm->state = NGX_HTTP_FRAISEQL_LISTEN_SENT;
            (void) PQflush(pm->pg);
            break;

        case PGRES_POLLING_FAILED:
            ngx_http_fraiseql_listen_close(pm, PQerrorMessage(pm->pg));
            return;

        default:
            return;
        }
    }

    if (ev->write && PQflush(pm->pg) == -1) {
        ngx_http_fraiseql_listen_close(pm, PQerrorMessage(pm->pg));
        return;
    }

    ngx_http_fraiseql_listen_read(pm);
}


static void
ngx_http_fraiseql_listen_connect(ngx_http_fraiseql_perms_t *pm)
{
    ngx_http_fraiseql_db_t  *db;

    db = pm->listen ? pm->listen : pm->primary;

    pm->pg = PQconnectStartParams(db->keywords, db->values, 0);

    if (pm->pg == NULL || PQstatus(pm->pg) == CONNECTION_BAD) {
        ngx_http_fraiseql_listen_close(pm, pm->pg ? PQerrorMessage(pm->pg)
                                                  : "out of memory");
        return;
    }

    pm->log.action = "connecting the permissions listener to PostgreSQL";
    pm->state = NGX_HTTP_FRAISEQL_LISTEN_CONNECTING;

    ngx_log_debug0(NGX_LOG_DEBUG_HTTP, &pm->log, 0,
                   "fraiseql permissions: listener connecting");

    if (ngx_http_fraiseql_sock_add(pm->pg, &pm->log, pm,
                                   ngx_http_fraiseql_listen_handler,
                                   &pm->c, &pm->ino)
        != NGX_OK)
    {
        ngx_http_fraiseql_listen_close(pm, "cannot register its socket");
        return;
    }

    ngx_add_timer(pm->c->read, NGX_HTTP_FRAISEQL_CONNECT_TIMEOUT);
}


void
ngx_http_fraiseql_perms_init_process(ngx_cycle_t *cycle,
    ngx_http_fraiseql_main_conf_t *fmcf)
{
    ngx_uint_t                  i;
    ngx_http_fraiseql_db_t    **dbs;
    ngx_http_fraiseql_perms_t  *pm = fmcf->perms;

    if (pm == NULL) {
        return;
    }

    pm->listen = fmcf->listen;

    dbs = fmcf->dbs.elts;
    for (i = 0; i < fmcf->dbs.nelts && pm->primary == NULL; i++) {
        if (!dbs[i]->replica) {
            pm->primary = dbs[i];
        }
    }

    if (pm->listen == NULL && pm->primary == NULL) {
        ngx_log_error(NGX_LOG_WARN, cycle->log, 0, "fraiseql: no primary "
                      "fraiseql_database to listen for permission changes "
                      "on: entries live their ttl");
        return;
    }

    pm->log = *cycle->log;
    pm->backoff = NGX_HTTP_FRAISEQL_LISTEN_BACKOFF;
    pm->retry.handler = ngx_http_fraiseql_listen_retry;
    pm->retry.data = pm;
    pm->retry.log = &pm->log;
    pm->retry.cancelable = 1;

    ngx_http_fraiseql_listen_connect(pm);
}


void
ngx_http_fraiseql_perms_exit_process(ngx_http_fraiseql_main_conf_t *fmcf)
{
    ngx_http_fraiseql_perms_t  *pm = fmcf->perms;

    if (pm == NULL) {
        return;
    }

    if (pm->retry.timer_set) {
        ngx_del_timer(&pm->retry);
    }

    ngx_http_fraiseql_listen_close(pm, NULL);
}
