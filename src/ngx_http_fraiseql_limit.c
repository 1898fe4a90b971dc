/*
 * Rate limits in shared zones, by requests and by what operations cost:
 * fraiseql_limit_zone, fraiseql_limit and their settings.
 *
 * The zones are nginx's limit_req zones (slab, rbtree on a key's CRC32,
 * LRU queue, a leaky bucket in thousandths per key, the same rules for a
 * reload), with two differences.  The check runs in the content handler:
 * request zones once the caller is known (so a key may be the verified
 * subject), cost zones once the plan is, charging what it costs.  And a
 * bucket keeps its level (what it holds, in thousandths), so that a
 * charge of any size is the same sum, and points are given back (refund).
 *
 * A request zone's bucket holds burst + 1 requests, as limit_req's; a
 * cost zone's holds burst points, by default what the rate gives back in
 * its unit of time.  A request passes when what its zones hold, once
 * drained at the rate, plus its charge fits in each; it is then delayed
 * (unless nodelay) until what was there before it has drained.
 */

#include "ngx_http_fraiseql.h"


/* what a zone's node holds; color overlays the rbtree node's */
typedef struct {
    u_char                          color;
    u_char                          dummy;
    u_short                         len;
    ngx_queue_t                     queue;
    ngx_msec_t                      last;
    ngx_uint_t                      level;    /* thousandths of units */
    u_char                          data[1];
} ngx_http_fraiseql_limit_node_t;

typedef struct {
    ngx_rbtree_t                    rbtree;
    ngx_rbtree_node_t               sentinel;
    ngx_queue_t                     queue;
    ngx_uint_t                      points;   /* as it was made */
} ngx_http_fraiseql_limit_sh_t;

/* a fraiseql_limit_zone: the shared zone's data */
struct ngx_http_fraiseql_limit_zone_s {
    ngx_http_fraiseql_limit_sh_t   *sh;
    ngx_slab_pool_t                *shpool;
    ngx_http_complex_value_t        key;
    ngx_uint_t                      rate;     /* thousandths a second */
    ngx_uint_t                      per;      /* N of rate=N */
    ngx_uint_t                      scale;    /* 1: a second, 60 */
    ngx_uint_t                      points;   /* p: cost, else requests */
};

/* tells the zones from fraiseql_permissions' across a reload */
static ngx_uint_t  ngx_http_fraiseql_limit_tag;

/* the bucket can never hold a charge this large */
#define NGX_HTTP_FRAISEQL_LIMIT_HUGE  ((ngx_uint_t) 1 << 60)

static ngx_str_t  ngx_http_fraiseql_limit_statuses[] = {
    ngx_null_string,
    ngx_string("PASSED"),
    ngx_string("DELAYED"),
    ngx_string("REJECTED"),
    ngx_string("DELAYED_DRY_RUN"),
    ngx_string("REJECTED_DRY_RUN")
};


static void ngx_http_fraiseql_limit_delayed(ngx_event_t *ev);


static void
ngx_http_fraiseql_limit_insert(ngx_rbtree_node_t *temp,
    ngx_rbtree_node_t *node, ngx_rbtree_node_t *sentinel)
{
    ngx_rbtree_node_t               **p;
    ngx_http_fraiseql_limit_node_t   *ln, *lnt;

    for ( ;; ) {

        if (node->key < temp->key) {
            p = &temp->left;

        } else if (node->key > temp->key) {
            p = &temp->right;

        } else { /* node->key == temp->key */

            ln = (ngx_http_fraiseql_limit_node_t *) &node->color;
            lnt = (ngx_http_fraiseql_limit_node_t *) &temp->color;

            p = (ngx_memn2cmp(ln->data, lnt->data, ln->len, lnt->len) < 0)
                ? &temp->left : &temp->right;
        }

        if (*p == sentinel) {
            break;
        }

        temp = *p;
    }

    *p = node;
    node->parent = temp;
    node->left = sentinel;
    node->right = sentinel;
    ngx_rbt_red(node);
}


static ngx_int_t
ngx_http_fraiseql_limit_init_zone(ngx_shm_zone_t *shm_zone, void *data)
{
    ngx_http_fraiseql_limit_zone_t  *ozone = data;

    size_t                           len;
    ngx_http_fraiseql_limit_zone_t  *zone = shm_zone->data;

    if (ozone != NULL) {
        /* a reload: the zone's buckets stay, if they still mean it */
        if (zone->key.value.len != ozone->key.value.len
            || ngx_strncmp(zone->key.value.data, ozone->key.value.data,
                           zone->key.value.len) != 0)
        {
            ngx_log_error(NGX_LOG_EMERG, shm_zone->shm.log, 0,
                          "fraiseql_limit_zone \"%V\" uses the \"%V\" key "
                          "while previously it used the \"%V\" key",
                          &shm_zone->shm.name, &zone->key.value,
                          &ozone->key.value);
            return NGX_ERROR;
        }

        if (zone->points != ozone->points) {
            ngx_log_error(NGX_LOG_EMERG, shm_zone->shm.log, 0,
                          "fraiseql_limit_zone \"%V\" counts %s while "
                          "previously it counted %s", &shm_zone->shm.name,
                          zone->points ? "points" : "requests",
                          ozone->points ? "points" : "requests");
            return NGX_ERROR;
        }

        zone->sh = ozone->sh;
        zone->shpool = ozone->shpool;

        return NGX_OK;
    }

    zone->shpool = (ngx_slab_pool_t *) shm_zone->shm.addr;

    if (shm_zone->shm.exists) {
        zone->sh = zone->shpool->data;
        return NGX_OK;
    }

    zone->sh = ngx_slab_alloc(zone->shpool,
                              sizeof(ngx_http_fraiseql_limit_sh_t));
    if (zone->sh == NULL) {
        return NGX_ERROR;
    }

    zone->shpool->data = zone->sh;
    zone->sh->points = zone->points;

    ngx_rbtree_init(&zone->sh->rbtree, &zone->sh->sentinel,
                    ngx_http_fraiseql_limit_insert);
    ngx_queue_init(&zone->sh->queue);

    len = sizeof(" in fraiseql_limit_zone \"\"") + shm_zone->shm.name.len;

    zone->shpool->log_ctx = ngx_slab_alloc(zone->shpool, len);
    if (zone->shpool->log_ctx == NULL) {
        return NGX_ERROR;
    }

    ngx_sprintf(zone->shpool->log_ctx, " in fraiseql_limit_zone \"%V\"%Z",
                &shm_zone->shm.name);

    /* full: the least recently used keys go, without a word */
    zone->shpool->log_nomem = 0;

    return NGX_OK;
}


/* fraiseql_limit_zone KEY zone=NAME:SIZE rate=N(r|p)/(s|m) */
char *
ngx_http_fraiseql_limit_zone(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    u_char                            *p;
    ssize_t                            size;
    ngx_int_t                          rate;
    ngx_str_t                         *value, name, s;
    ngx_uint_t                         i;
    ngx_shm_zone_t                    *shm_zone;
    ngx_http_fraiseql_limit_zone_t    *zone;
    ngx_http_compile_complex_value_t   ccv;

    value = cf->args->elts;

    zone = ngx_pcalloc(cf->pool, sizeof(ngx_http_fraiseql_limit_zone_t));
    if (zone == NULL) {
        return NGX_CONF_ERROR;
    }

    ngx_memzero(&ccv, sizeof(ngx_http_compile_complex_value_t));

    ccv.cf = cf;
    ccv.value = &value[1];
    ccv.complex_value = &zone->key;

    if (ngx_http_compile_complex_value(&ccv) != NGX_OK) {
        return NGX_CONF_ERROR;
    }

    size = 0;
    name.len = 0;
    rate = 0;

    for (i = 2; i < cf->args->nelts; i++) {

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

            if (size == NGX_ERROR || name.len == 0) {
                ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                                   "invalid zone size \"%V\"", &value[i]);
                return NGX_CONF_ERROR;
            }

            if (size < (ssize_t) (8 * ngx_pagesize)) {
                ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                                   "zone \"%V\" is too small", &value[i]);
                return NGX_CONF_ERROR;
            }

            continue;
        }

        if (ngx_strncmp(value[i].data, "rate=", 5) == 0
            && value[i].len > 8)
        {
            p = value[i].data + value[i].len - 3;

            if ((p[0] == 'r' || p[0] == 'p') && p[1] == '/'
                && (p[2] == 's' || p[2] == 'm'))
            {
                zone->points = p[0] == 'p';
                zone->scale = p[2] == 'm' ? 60 : 1;
                rate = ngx_atoi(value[i].data + 5, value[i].len - 8);
            }

            if (rate <= 0 || rate > 1000000000) {
                ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                                   "invalid rate \"%V\": N r/s, r/m (requests"
                                   ") or p/s, p/m (cost points)", &value[i]);
                return NGX_CONF_ERROR;
            }

            continue;
        }

        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "invalid parameter \"%V\"", &value[i]);
        return NGX_CONF_ERROR;
    }

    if (name.len == 0) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "\"%V\" must have \"zone\" parameter",
                           &cmd->name);
        return NGX_CONF_ERROR;
    }

    if (rate == 0) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "\"%V\" must have \"rate\" parameter",
                           &cmd->name);
        return NGX_CONF_ERROR;
    }

    zone->per = rate;
    zone->rate = rate * 1000 / zone->scale;

    if (zone->rate == 0) {
        zone->rate = 1;
    }

    shm_zone = ngx_shared_memory_add(cf, &name, size,
                                     &ngx_http_fraiseql_limit_tag);
    if (shm_zone == NULL) {
        return NGX_CONF_ERROR;
    }

    if (shm_zone->data) {
        zone = shm_zone->data;

        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "%V \"%V\" is already bound to key \"%V\"",
                           &cmd->name, &name, &zone->key.value);
        return NGX_CONF_ERROR;
    }

    shm_zone->init = ngx_http_fraiseql_limit_init_zone;
    shm_zone->data = zone;

    return NGX_CONF_OK;
}


/* fraiseql_limit zone=NAME [burst=N] [nodelay] [refund] */
char *
ngx_http_fraiseql_limit(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    ngx_http_fraiseql_loc_conf_t  *flcf = conf;

    ngx_int_t                        burst;
    ngx_str_t                       *value, s;
    ngx_uint_t                       i, nodelay, refund;
    ngx_shm_zone_t                  *shm_zone;
    ngx_http_fraiseql_limit_t       *limit, *limits;
    ngx_http_fraiseql_limit_zone_t  *zone;

    value = cf->args->elts;

    shm_zone = NULL;
    burst = -1;
    nodelay = 0;
    refund = 0;

    for (i = 1; i < cf->args->nelts; i++) {

        if (ngx_strncmp(value[i].data, "zone=", 5) == 0) {
            s.len = value[i].len - 5;
            s.data = value[i].data + 5;

            shm_zone = ngx_shared_memory_add(cf, &s, 0,
                                             &ngx_http_fraiseql_limit_tag);
            if (shm_zone == NULL) {
                return NGX_CONF_ERROR;
            }

            continue;
        }

        if (ngx_strncmp(value[i].data, "burst=", 6) == 0) {
            burst = ngx_atoi(value[i].data + 6, value[i].len - 6);
            if (burst < 0 || burst > 1000000000) {
                ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                                   "invalid burst \"%V\"", &value[i]);
                return NGX_CONF_ERROR;
            }

            continue;
        }

        if (ngx_strcmp(value[i].data, "nodelay") == 0) {
            nodelay = 1;
            continue;
        }

        if (ngx_strcmp(value[i].data, "refund") == 0) {
            refund = 1;
            continue;
        }

        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "invalid parameter \"%V\"", &value[i]);
        return NGX_CONF_ERROR;
    }

    if (shm_zone == NULL) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "\"%V\" must have \"zone\" parameter",
                           &cmd->name);
        return NGX_CONF_ERROR;
    }

    zone = shm_zone->data;

    if (zone == NULL) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "unknown fraiseql_limit_zone \"%V\"",
                           &shm_zone->shm.name);
        return NGX_CONF_ERROR;
    }

    if (refund && !zone->points) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0, "\"refund\" gives cost "
                           "points back: zone \"%V\" counts requests",
                           &shm_zone->shm.name);
        return NGX_CONF_ERROR;
    }

    if (flcf->limit.limits == NGX_CONF_UNSET_PTR
        || flcf->limit.limits == NULL)
    {
        flcf->limit.limits = ngx_array_create(cf->pool, 2,
                                         sizeof(ngx_http_fraiseql_limit_t));
        if (flcf->limit.limits == NULL) {
            return NGX_CONF_ERROR;
        }
    }

    limits = flcf->limit.limits->elts;

    for (i = 0; i < flcf->limit.limits->nelts; i++) {
        if (shm_zone == limits[i].shm_zone) {
            return "is duplicate";
        }
    }

    limit = ngx_array_push(flcf->limit.limits);
    if (limit == NULL) {
        return NGX_CONF_ERROR;
    }

    limit->shm_zone = shm_zone;
    limit->nodelay = nodelay;
    limit->refund = refund;

    /* a request bucket: burst past the one; a cost bucket: burst points */
    if (zone->points) {
        limit->capacity = (burst >= 0 ? (ngx_uint_t) burst : zone->per)
                          * 1000;

    } else {
        limit->capacity = (burst >= 0 ? (ngx_uint_t) burst + 1 : 1) * 1000;
    }

    if (zone->points) {
        flcf->limit.points = 1;
        flcf->limit.refund |= refund;
    } else {
        flcf->limit.requests = 1;
    }

    return NGX_CONF_OK;
}


void
ngx_http_fraiseql_limit_create(ngx_http_fraiseql_limit_conf_t *lc)
{
    lc->limits = NGX_CONF_UNSET_PTR;
    lc->status = NGX_CONF_UNSET_UINT;
    lc->dry_run = NGX_CONF_UNSET;
    lc->log_level = NGX_CONF_UNSET_UINT;
    lc->max_cost = NGX_CONF_UNSET;
    lc->extensions = NGX_CONF_UNSET;
}


char *
ngx_http_fraiseql_limit_merge(ngx_conf_t *cf,
    ngx_http_fraiseql_limit_conf_t *prev, ngx_http_fraiseql_limit_conf_t *lc)
{
    if (lc->limits == NGX_CONF_UNSET_PTR) {
        lc->limits = prev->limits == NGX_CONF_UNSET_PTR ? NULL
                                                        : prev->limits;
        lc->points = prev->points;
        lc->requests = prev->requests;
        lc->refund = prev->refund;
    }

    ngx_conf_merge_uint_value(lc->status, prev->status,
                              NGX_HTTP_TOO_MANY_REQUESTS);
    ngx_conf_merge_value(lc->dry_run, prev->dry_run, 0);
    ngx_conf_merge_uint_value(lc->log_level, prev->log_level, NGX_LOG_ERR);
    ngx_conf_merge_value(lc->max_cost, prev->max_cost, 0);
    ngx_conf_merge_value(lc->extensions, prev->extensions, 0);

    /* delays are logged a level lower, as limit_req does */
    lc->delay_log_level = lc->log_level == NGX_LOG_INFO ? NGX_LOG_INFO
                                                        : lc->log_level + 1;

    if (lc->status < 400 || lc->status > 599) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0, "\"fraiseql_limit_status\""
                           " must be between 400 and 599");
        return NGX_CONF_ERROR;
    }

    return NGX_CONF_OK;
}


/* ---- requests ---- */


static ngx_msec_t
ngx_http_fraiseql_limit_now(void)
{
    ngx_time_t  *tp;

    tp = ngx_timeofday();

    return (ngx_msec_t) (tp->sec * 1000 + tp->msec);
}


/* the zone's node for the key; the lock is held */
static ngx_http_fraiseql_limit_node_t *
ngx_http_fraiseql_limit_find(ngx_http_fraiseql_limit_zone_t *zone,
    ngx_http_fraiseql_limit_try_t *t)
{
    ngx_int_t                        rc;
    ngx_rbtree_node_t               *node, *sentinel;
    ngx_http_fraiseql_limit_node_t  *ln;

    node = zone->sh->rbtree.root;
    sentinel = zone->sh->rbtree.sentinel;

    while (node != sentinel) {

        if (t->hash < node->key) {
            node = node->left;
            continue;
        }

        if (t->hash > node->key) {
            node = node->right;
            continue;
        }

        ln = (ngx_http_fraiseql_limit_node_t *) &node->color;

        rc = ngx_memn2cmp(t->key.data, ln->data, t->key.len, ln->len);

        if (rc == 0) {
            return ln;
        }

        node = rc < 0 ? node->left : node->right;
    }

    return NULL;
}


/* what the node holds now, drained since its last charge */
static ngx_uint_t
ngx_http_fraiseql_limit_drained(ngx_http_fraiseql_limit_zone_t *zone,
    ngx_http_fraiseql_limit_node_t *ln, ngx_msec_t now)
{
    uint64_t        drain;
    ngx_msec_int_t  ms;

    /* workers' clocks may differ a little: a step back is no time */
    ms = (ngx_msec_int_t) (now - ln->last);
    if (ms < 0) {
        ms = 0;
    }

    drain = (uint64_t) zone->rate * (uint64_t) ms / 1000;

    return drain >= ln->level ? 0 : ln->level - (ngx_uint_t) drain;
}


/*
 * Frees the least recently used nodes: up to two that are empty, or
 * (force) the oldest first, whatever it holds.  The lock is held.
 */
static void
ngx_http_fraiseql_limit_expire(ngx_http_fraiseql_limit_zone_t *zone,
    ngx_uint_t force, ngx_msec_t now)
{
    ngx_uint_t                       n;
    ngx_queue_t                     *q;
    ngx_rbtree_node_t               *node;
    ngx_http_fraiseql_limit_node_t  *ln;

    for (n = force ? 0 : 1; n < 3; n++) {

        if (ngx_queue_empty(&zone->sh->queue)) {
            return;
        }

        q = ngx_queue_last(&zone->sh->queue);
        ln = ngx_queue_data(q, ngx_http_fraiseql_limit_node_t, queue);

        if (n != 0 && ngx_http_fraiseql_limit_drained(zone, ln, now) != 0) {
            return;
        }

        ngx_queue_remove(q);

        node = (ngx_rbtree_node_t *)
                   ((u_char *) ln - offsetof(ngx_rbtree_node_t, color));

        ngx_rbtree_delete(&zone->sh->rbtree, node);
        ngx_slab_free_locked(zone->shpool, node);
    }
}


/* the key's node, made if it is new (NULL: no memory even so) */
static ngx_http_fraiseql_limit_node_t *
ngx_http_fraiseql_limit_node(ngx_http_fraiseql_limit_zone_t *zone,
    ngx_http_fraiseql_limit_try_t *t, ngx_msec_t now)
{
    size_t                           size;
    ngx_rbtree_node_t               *node;
    ngx_http_fraiseql_limit_node_t  *ln;

    ln = ngx_http_fraiseql_limit_find(zone, t);

    if (ln != NULL) {
        ngx_queue_remove(&ln->queue);
        ngx_queue_insert_head(&zone->sh->queue, &ln->queue);
        return ln;
    }

    size = offsetof(ngx_rbtree_node_t, color)
           + offsetof(ngx_http_fraiseql_limit_node_t, data)
           + t->key.len;

    ngx_http_fraiseql_limit_expire(zone, 0, now);

    /*
     * A full zone forgets its oldest keys rather than refuse: as many as
     * it takes, since a freed node of another size may not make room.
     */
    for ( ;; ) {
        node = ngx_slab_alloc_locked(zone->shpool, size);

        if (node != NULL) {
            break;
        }

        if (ngx_queue_empty(&zone->sh->queue)) {
            /* the key is larger than the zone */
            return NULL;
        }

        ngx_http_fraiseql_limit_expire(zone, 1, now);
    }

    node->key = t->hash;

    ln = (ngx_http_fraiseql_limit_node_t *) &node->color;

    ln->len = (u_short) t->key.len;
    ln->level = 0;
    ln->last = now;
    ngx_memcpy(ln->data, t->key.data, t->key.len);

    ngx_rbtree_insert(&zone->sh->rbtree, node);
    ngx_queue_insert_head(&zone->sh->queue, &ln->queue);

    return ln;
}


/*
 * What the zone would hold with the charge (t->level), and whether it
 * fits; commit: the node takes it.  The lock is taken here.
 */
static ngx_int_t
ngx_http_fraiseql_limit_try(ngx_http_fraiseql_limit_t *limit,
    ngx_http_fraiseql_limit_try_t *t, ngx_uint_t commit, ngx_log_t *log)
{
    ngx_msec_t                       now;
    ngx_uint_t                       level;
    ngx_http_fraiseql_limit_node_t  *ln;
    ngx_http_fraiseql_limit_zone_t  *zone;

    zone = limit->shm_zone->data;
    now = ngx_http_fraiseql_limit_now();

    ngx_shmtx_lock(&zone->shpool->mutex);

    ln = commit ? ngx_http_fraiseql_limit_node(zone, t, now)
                : ngx_http_fraiseql_limit_find(zone, t);

    if (commit && ln == NULL) {
        ngx_shmtx_unlock(&zone->shpool->mutex);
        ngx_log_error(NGX_LOG_ALERT, log, 0, "could not allocate node%s",
                      zone->shpool->log_ctx);
        return NGX_ERROR;
    }

    level = ln ? ngx_http_fraiseql_limit_drained(zone, ln, now) : 0;

    t->level = level + t->charge;
    t->busy = t->level > limit->capacity;

    if (commit) {
        ln->level = t->level;
        ln->last = now;
    }

    ngx_shmtx_unlock(&zone->shpool->mutex);

    return NGX_OK;
}


/* Retry-After: when what the zone holds past its capacity has drained */
static void
ngx_http_fraiseql_limit_retry_after(ngx_http_request_t *r,
    ngx_http_fraiseql_limit_t *limit, ngx_http_fraiseql_limit_try_t *t)
{
    u_char                          *p;
    uint64_t                         sec;
    ngx_http_fraiseql_limit_zone_t  *zone;

    zone = limit->shm_zone->data;

    sec = ((uint64_t) (t->level - limit->capacity) + zone->rate - 1)
          / zone->rate;
    if (sec == 0) {
        sec = 1;
    }

    p = ngx_pnalloc(r->pool, NGX_INT64_LEN);
    if (p == NULL) {
        return;
    }

    *ngx_sprintf(p, "%uL", sec) = '\0';

    ngx_http_fraiseql_add_header(r, "Retry-After", (char *) p);
}


/* the cost and the first cost zone's bucket, Shopify's way */
static ngx_int_t
ngx_http_fraiseql_limit_extension(ngx_http_fraiseql_ctx_t *ctx,
    ngx_http_fraiseql_limit_t *limit, ngx_http_fraiseql_limit_try_t *t,
    uint64_t actual, ngx_uint_t done)
{
    u_char                          *p;
    size_t                           len;
    ngx_uint_t                       avail;
    ngx_http_fraiseql_limit_zone_t  *zone;

    len = sizeof(",\"extensions\":{\"cost\":{\"requestedQueryCost\":,"
                 "\"actualQueryCost\":null,\"throttleStatus\":{"
                 "\"maximumAvailable\":,\"currentlyAvailable\":,"
                 "\"restoreRate\":}}}") + 5 * NGX_INT64_LEN;

    p = ngx_pnalloc(ctx->r->pool, len);
    if (p == NULL) {
        return NGX_ERROR;
    }

    ctx->limit.ext.data = p;

    p = ngx_sprintf(p, ",\"extensions\":{\"cost\":{\"requestedQueryCost\":%uL,"
                    "\"actualQueryCost\":", ctx->limit.cost);

    p = done ? ngx_sprintf(p, "%uL", actual) : ngx_cpymem(p, "null", 4);

    if (limit != NULL) {
        zone = limit->shm_zone->data;
        avail = t->level >= limit->capacity ? 0
                : (limit->capacity - t->level) / 1000;

        /* points a second: a rate by the minute gives a fraction */
        p = ngx_sprintf(p, ",\"throttleStatus\":{\"maximumAvailable\":%ui,"
                        "\"currentlyAvailable\":%ui,\"restoreRate\":",
                        limit->capacity / 1000, avail);
        p = zone->scale == 1 ? ngx_sprintf(p, "%ui}", zone->per)
                             : ngx_sprintf(p, "%ui.%03ui}", zone->rate / 1000,
                                           zone->rate % 1000);
    }

    p = ngx_cpymem(p, "}}", 2);

    ctx->limit.ext.len = p - ctx->limit.ext.data;

    return NGX_OK;
}


static void
ngx_http_fraiseql_limit_cleanup(void *data)
{
    ngx_http_fraiseql_ctx_t  *ctx = data;

    if (ctx->limit.delay.timer_set) {
        ngx_del_timer(&ctx->limit.delay);
    }
}


/*
 * The location's zones of one kind (points: cost zones, charged cost)
 * for the request.  NGX_DECLINED: go on; NGX_AGAIN: delayed, the timer
 * resumes the request; else what to finalize it with (answered).
 */
ngx_int_t
ngx_http_fraiseql_limit_check(ngx_http_fraiseql_ctx_t *ctx,
    ngx_uint_t points, uint64_t cost)
{
    uint64_t                          charge;
    ngx_int_t                         rc;
    ngx_msec_t                        delay, d;
    ngx_uint_t                        i, j, n, busy, level, w;
    ngx_http_fraiseql_limit_zone_t   *pz;
    ngx_pool_cleanup_t               *cln;
    ngx_http_request_t               *r = ctx->r;
    ngx_http_fraiseql_limit_t        *limits, *first;
    ngx_http_fraiseql_limit_try_t    *tries, *t, *ft;
    ngx_http_fraiseql_limit_zone_t   *zone;
    ngx_http_fraiseql_limit_conf_t   *lc = &ctx->lcf->limit;
#if (NGX_DEBUG)
    struct timespec                   t0, t1;
#endif

    if (lc->limits == NULL || !(points ? lc->points : lc->requests)) {
        return NGX_DECLINED;
    }


    limits = lc->limits->elts;
    n = lc->limits->nelts;

    tries = ngx_pcalloc(r->pool, n * sizeof(ngx_http_fraiseql_limit_try_t));
    if (tries == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    if (points) {
        ctx->limit.tries = tries;
        ctx->limit.cost = cost;
    }

    w = 0;
    busy = 0;
    first = NULL;
    ft = NULL;

    /* the keys: zones keyed alike share one evaluation */
    for (i = 0; i < n; i++) {
        zone = limits[i].shm_zone->data;
        t = &tries[i];

        if (zone->points != points) {
            continue;
        }

        for (j = 0; j < i; j++) {
            pz = limits[j].shm_zone->data;

            if (pz->points == points
                && pz->key.value.len == zone->key.value.len
                && ngx_strncmp(pz->key.value.data, zone->key.value.data,
                               zone->key.value.len) == 0)
            {
                break;
            }
        }

        if (j < i) {
            t->key = tries[j].key;
            t->hash = tries[j].hash;
            t->charge = tries[j].charge;
            continue;
        }

        if (ngx_http_complex_value(r, &zone->key, &t->key) != NGX_OK) {
            return NGX_HTTP_INTERNAL_SERVER_ERROR;
        }

        /* an empty key is not limited, as in limit_req */
        if (t->key.len == 0) {
            continue;
        }

        if (t->key.len > 65535) {
            ngx_log_error(NGX_LOG_ERR, r->connection->log, 0,
                          "the value of the \"%V\" key is more than 65535 "
                          "bytes: \"%V\"", &zone->key.value, &t->key);
            t->key.len = 0;
            continue;
        }

        t->hash = ngx_crc32_short(t->key.data, t->key.len);

        charge = points ? cost : 1;
        t->charge = charge >= NGX_HTTP_FRAISEQL_LIMIT_HUGE / 1000
                    ? NGX_HTTP_FRAISEQL_LIMIT_HUGE
                    : (ngx_uint_t) charge * 1000;
    }

#if (NGX_DEBUG)
    /* what the zones cost, the keys made: for bench/bench_limits.py */
    if (r->connection->log->log_level & NGX_LOG_DEBUG_HTTP) {
        (void) clock_gettime(CLOCK_MONOTONIC, &t0);
    }
#endif

    /* each zone's answer, nothing taken yet */
    for (i = 0; i < n; i++) {
        zone = limits[i].shm_zone->data;
        t = &tries[i];

        if (zone->points != points || t->key.len == 0) {
            continue;
        }

        if (points && first == NULL) {
            first = &limits[i];
            ft = t;
        }

        ngx_http_fraiseql_limit_try(&limits[i], t, 0, r->connection->log);

        if (t->busy && !busy) {
            busy = 1;
            w = i;
        }
    }

    if (busy) {
        t = &tries[w];
        zone = limits[w].shm_zone->data;

        ngx_log_error(lc->log_level, r->connection->log, 0,
                      "limiting %s%s, by zone \"%V\"%s",
                      points ? "cost" : "requests",
                      lc->dry_run ? ", dry run" : "",
                      &limits[w].shm_zone->shm.name,
                      t->charge > limits[w].capacity
                      ? ", more than the bucket holds" : "");

        if (lc->dry_run) {
            ctx->limit.status = NGX_HTTP_FRAISEQL_LIMIT_REJECTED_DRY_RUN;
            ctx->limit.tries = NULL;
            return NGX_DECLINED;
        }

        ctx->limit.status = NGX_HTTP_FRAISEQL_LIMIT_REJECTED;
        ctx->limit.tries = NULL;

        /* before the body was read: it goes, or it would be read as the
         * next request of the connection */
        if (!points) {
            rc = ngx_http_discard_request_body(r);
            if (rc != NGX_OK) {
                return rc;
            }
        }

        if (points && lc->extensions
            && ngx_http_fraiseql_limit_extension(ctx, first, ft, 0, 0)
               != NGX_OK)
        {
            return NGX_HTTP_INTERNAL_SERVER_ERROR;
        }

        if (t->charge > limits[w].capacity) {
            /* waiting never helps: the operation is too dear for it */
            fql_error_add(&ctx->errs, NULL, FQL_CODE_COST_LIMIT,
                          "The operation costs %llu points; zone \"%.*s\" "
                          "holds at most %llu.", (unsigned long long) cost,
                          (int) limits[w].shm_zone->shm.name.len,
                          limits[w].shm_zone->shm.name.data,
                          (unsigned long long)
                          (limits[w].capacity / 1000));

            return ngx_http_fraiseql_send_errors(r,
                       ctx->graphql_response ? NGX_HTTP_BAD_REQUEST
                                             : NGX_HTTP_OK,
                       &ctx->errs, ctx->graphql_response);
        }

        ngx_http_fraiseql_limit_retry_after(r, &limits[w], t);

        fql_error_add(&ctx->errs, NULL, FQL_CODE_RATE_LIMITED,
                      "Too many %s: try again later.",
                      points ? "cost points" : "requests");

        return ngx_http_fraiseql_send_errors(r, lc->status, &ctx->errs,
                                             ctx->graphql_response);
    }

    /* every zone takes its charge; the longest wait is the delay */
    delay = 0;

    for (i = 0; i < n; i++) {
        zone = limits[i].shm_zone->data;
        t = &tries[i];

        if (zone->points != points || t->key.len == 0) {
            continue;
        }

        if (ngx_http_fraiseql_limit_try(&limits[i], t, 1, r->connection->log)
            != NGX_OK)
        {
            return NGX_HTTP_INTERNAL_SERVER_ERROR;
        }

        if (limits[i].nodelay || t->level <= t->charge) {
            continue;
        }

        level = t->level - t->charge;
        d = (ngx_msec_t) ((uint64_t) level * 1000 / zone->rate);

        if (d > delay) {
            delay = d;
            w = i;
        }
    }

    if (points) {
        ctx->limit.charged = 1;
    }

#if (NGX_DEBUG)
    if (r->connection->log->log_level & NGX_LOG_DEBUG_HTTP) {
        (void) clock_gettime(CLOCK_MONOTONIC, &t1);

        ngx_log_debug2(NGX_LOG_DEBUG_HTTP, r->connection->log, 0,
                       "fraiseql limit: %s zones passed in %L ns",
                       points ? "cost" : "request",
                       (int64_t) (t1.tv_sec - t0.tv_sec) * 1000000000
                       + (t1.tv_nsec - t0.tv_nsec));
    }
#endif

    if (delay == 0) {
        if (ctx->limit.status == 0) {
            ctx->limit.status = NGX_HTTP_FRAISEQL_LIMIT_PASSED;
        }

        return NGX_DECLINED;
    }

    if (lc->dry_run) {
        ctx->limit.status = NGX_HTTP_FRAISEQL_LIMIT_DELAYED_DRY_RUN;
        return NGX_DECLINED;
    }

    ctx->limit.status = NGX_HTTP_FRAISEQL_LIMIT_DELAYED;

    ngx_log_error(lc->delay_log_level, r->connection->log, 0,
                  "delaying %s for %Mms, by zone \"%V\"",
                  points ? "cost" : "requests", delay,
                  &limits[w].shm_zone->shm.name);

    if (ctx->limit.delay.handler == NULL) {
        cln = ngx_pool_cleanup_add(r->pool, 0);
        if (cln == NULL) {
            return NGX_HTTP_INTERNAL_SERVER_ERROR;
        }

        cln->handler = ngx_http_fraiseql_limit_cleanup;
        cln->data = ctx;

        ctx->limit.delay.handler = ngx_http_fraiseql_limit_delayed;
        ctx->limit.delay.data = ctx;
        ctx->limit.delay.log = r->connection->log;
    }

    ctx->limit.phase = points;

    /* a client gone meanwhile ends the request (limit_req's way) */
    r->read_event_handler = ngx_http_test_reading;
    r->write_event_handler = ngx_http_request_empty_handler;

    ngx_add_timer(&ctx->limit.delay, delay);

    return NGX_AGAIN;
}


static void
ngx_http_fraiseql_limit_delayed(ngx_event_t *ev)
{
    ngx_int_t                 rc;
    ngx_connection_t         *c;
    ngx_http_request_t       *r;
    ngx_http_fraiseql_ctx_t  *ctx;

    ctx = ev->data;
    r = ctx->r;
    c = r->connection;

    ngx_http_set_log_request(c->log, r);

    r->read_event_handler = ngx_http_block_reading;

    if (ctx->limit.phase) {
        /* as the body handler goes on: it holds the request */
        rc = ngx_http_fraiseql_execute(ctx);

        if (rc != NGX_DONE) {
            ngx_http_finalize_request(r, rc);
        }

    } else {
        /* as the content handler goes on: NGX_DONE too is finalized */
        ngx_http_finalize_request(r, ngx_http_fraiseql_read(r, ctx));
    }

    ngx_http_run_posted_requests(c);
}


/*
 * The response is complete: cost zones with refund take back what lists
 * asked for and did not return, and the cost extension is written.
 */
ngx_int_t
ngx_http_fraiseql_limit_done(ngx_http_fraiseql_ctx_t *ctx)
{
    uint64_t                         actual, rows, asked;
    ngx_msec_t                       now;
    ngx_uint_t                       i, n, back;
    fql_root_plan_t                 *rp;
    ngx_http_fraiseql_limit_t       *limits, *first;
    ngx_http_fraiseql_limit_try_t   *t, *ft;
    ngx_http_fraiseql_limit_node_t  *ln;
    ngx_http_fraiseql_limit_zone_t  *zone;
    ngx_http_fraiseql_limit_conf_t  *lc = &ctx->lcf->limit;

    if (!lc->extensions && !(lc->refund && ctx->limit.charged)) {
        return NGX_OK;
    }

    /* what the operation cost: lists as many rows as they returned */
    actual = ctx->plan->op == FQL_OP_MUTATION ? FQL_COST_MUTATION : 0;

    for (i = 0, rp = ctx->plan->roots; rp; rp = rp->next, i++) {
        asked = fql_root_rows(rp);
        rows = asked;

        if (rp->kind == FQL_RF_LIST && i < ctx->nslots
            && ctx->slots[i].nrows < asked)
        {
            rows = ctx->slots[i].nrows;
        }

        actual = fql_cost_add(actual, fql_root_cost(rp, rows));
    }

    if (actual > ctx->limit.cost) {
        actual = ctx->limit.cost;
    }

    first = NULL;
    ft = NULL;

    back = ctx->limit.cost - actual >= NGX_HTTP_FRAISEQL_LIMIT_HUGE / 1000
           ? NGX_HTTP_FRAISEQL_LIMIT_HUGE
           : (ngx_uint_t) (ctx->limit.cost - actual) * 1000;

    limits = lc->limits ? lc->limits->elts : NULL;
    n = ctx->limit.charged ? lc->limits->nelts : 0;

    for (i = 0; i < n; i++) {
        zone = limits[i].shm_zone->data;
        t = &ctx->limit.tries[i];

        if (!zone->points || t->key.len == 0) {
            continue;
        }

        if (first == NULL && lc->extensions) {
            first = &limits[i];
            ft = t;

        } else if (!limits[i].refund || back == 0) {
            continue;
        }

        now = ngx_http_fraiseql_limit_now();

        ngx_shmtx_lock(&zone->shpool->mutex);

        /* the key may have been forgotten since: nothing to give back */
        ln = ngx_http_fraiseql_limit_find(zone, t);

        if (ln != NULL) {
            t->level = ngx_http_fraiseql_limit_drained(zone, ln, now);

            if (limits[i].refund && back) {
                t->level = t->level > back ? t->level - back : 0;
                ln->level = t->level;
                ln->last = now;
            }
        }

        ngx_shmtx_unlock(&zone->shpool->mutex);
    }

    if (!lc->extensions) {
        return NGX_OK;
    }

    return ngx_http_fraiseql_limit_extension(ctx, first, ft, actual, 1);
}


/* $fraiseql_limit_status, as $limit_req_status */
ngx_int_t
ngx_http_fraiseql_limit_status_variable(ngx_http_request_t *r,
    ngx_http_variable_value_t *v, uintptr_t data)
{
    ngx_http_fraiseql_ctx_t  *ctx;

    ctx = ngx_http_get_module_ctx(r, ngx_http_fraiseql_module);

    if (ctx == NULL || ctx->limit.status == 0) {
        v->not_found = 1;
        return NGX_OK;
    }

    v->data = ngx_http_fraiseql_limit_statuses[ctx->limit.status].data;
    v->len = ngx_http_fraiseql_limit_statuses[ctx->limit.status].len;
    v->valid = 1;
    v->no_cacheable = 1;
    v->not_found = 0;

    return NGX_OK;
}


/* $fraiseql_rate_key: the verified subject, else the client's address */
ngx_int_t
ngx_http_fraiseql_rate_key_variable(ngx_http_request_t *r,
    ngx_http_variable_value_t *v, uintptr_t data)
{
    const fql_jval_t         *sub;
    ngx_http_fraiseql_ctx_t  *ctx;

    ctx = ngx_http_get_module_ctx(r, ngx_http_fraiseql_module);

    sub = ctx != NULL && ctx->auth.status == FQL_JWT_OK
          ? fql_jval_member(ctx->auth.jwt.claims, "sub") : NULL;

    if (sub != NULL && sub->kind == FQL_J_STRING && sub->str.len > 0) {
        v->data = (u_char *) sub->str.data;
        v->len = sub->str.len;

    } else {
        v->data = r->connection->addr_text.data;
        v->len = r->connection->addr_text.len;
    }

    v->valid = 1;
    v->no_cacheable = 1;
    v->not_found = 0;

    return NGX_OK;
}
