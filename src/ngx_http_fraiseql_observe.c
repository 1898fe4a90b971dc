/*
 * Seeing it work: metrics in a shared zone, health endpoints, variables
 * for log_format, Server-Timing, and the W3C trace context.
 *
 * Metrics.  fraiseql_metrics_zone NAME:SIZE [operations=N] holds plain
 * counters (ngx_atomic_t, as stub_status keeps its own), bumped with one
 * atomic add each: no lock on the request path.  A histogram is its
 * buckets (not cumulative: one add per observation), a count and a sum in
 * microseconds; the scrape adds them up.  Names of operations are the
 * clients' to choose: a fixed table of N slots takes the first N names of
 * operations that compiled, the others count under "__other__".  Gauges
 * of the pools are per worker: each writes its own row (every second, and
 * when it answers a scrape); the scrape sums the rows of live workers.  A
 * reload keeps the zone, and so the counters, when its name, size and
 * layout are unchanged.  fraiseql_metrics answers the Prometheus text
 * format (0.0.4).
 *
 * What counts: every request to a fraiseql location, when nginx logs it
 * (the log phase: refusals by nginx itself, such as 413, included); each
 * request of a batch as an operation of its own, the batch's HTTP
 * request not again.
 */

#include "ngx_http_fraiseql.h"
#include "fql_persist.h"
#include "fql_trace.h"

#include <time.h>
#include <openssl/rand.h>


#define NGX_HTTP_FRAISEQL_NBUCKETS   13
#define NGX_HTTP_FRAISEQL_NTYPES     4      /* query mutation sub. unknown */
#define NGX_HTTP_FRAISEQL_NRESULTS   4
#define NGX_HTTP_FRAISEQL_NROWS      64     /* workers with gauges */
#define NGX_HTTP_FRAISEQL_NAME_MAX   64
#define NGX_HTTP_FRAISEQL_SQLSTATES  (36 * 36)
#define NGX_HTTP_FRAISEQL_NJWT       (FQL_JWT_NOMEM + 1)

/* the pool's counters (ngx_http_fraiseql_metric_pool) */
static const char  *ngx_http_fraiseql_pool_events[] = {
    "fraiseql_pool_waits_total",
    "fraiseql_pool_wait_timeouts_total",
    "fraiseql_pool_connects_total",
    "fraiseql_pool_connect_failures_total",
    "fraiseql_pool_queue_full_total",
};

static const char  *ngx_http_fraiseql_pool_help[] = {
    "Statements that waited for a pooled connection.",
    "Waits for a pooled connection that timed out.",
    "Connections opened to PostgreSQL (first or again).",
    "Connections to PostgreSQL that could not be opened.",
    "Statements refused because the pool's queue was full.",
};

static const ngx_uint_t  ngx_http_fraiseql_bounds_us[] = {
    500, 1000, 2500, 5000, 10000, 25000, 50000, 100000, 250000, 500000,
    1000000, 2500000, 5000000
};

static const char  *ngx_http_fraiseql_bounds_s[] = {
    "0.0005", "0.001", "0.0025", "0.005", "0.01", "0.025", "0.05", "0.1",
    "0.25", "0.5", "1", "2.5", "5"
};

static const char  *ngx_http_fraiseql_types[] = {
    "query", "mutation", "subscription", "unknown"
};

static const char  *ngx_http_fraiseql_results[] = {
    "ok", "graphql_error", "db_error", "rejected"
};

#define NGX_HTTP_FRAISEQL_OK           0
#define NGX_HTTP_FRAISEQL_GQL_ERROR    1
#define NGX_HTTP_FRAISEQL_DB_ERROR     2
#define NGX_HTTP_FRAISEQL_REJECTED     3

/* the module's extensions.code values; the last counts any other */
static const char  *ngx_http_fraiseql_codes[] = {
    FQL_CODE_BAD_REQUEST, FQL_CODE_PARSE, FQL_CODE_VALIDATION,
    FQL_CODE_BAD_INPUT, FQL_CODE_INTERNAL, FQL_CODE_DATABASE,
    FQL_CODE_UNAVAILABLE, FQL_CODE_RESULT, FQL_CODE_NOT_SUPPORTED,
    FQL_CODE_LIMIT, FQL_CODE_COST_LIMIT, FQL_CODE_RATE_LIMITED,
    FQL_CODE_PERSISTED_NOT_FOUND, FQL_CODE_PERSISTED_NOT_SUPPORTED,
    FQL_CODE_PERSISTED_MISMATCH, FQL_CODE_TRUSTED_REQUIRED,
    FQL_CODE_UNAUTHENTICATED, FQL_CODE_FORBIDDEN, FQL_CODE_AUTH_UNAVAILABLE,
    "OTHER"
};

#define NGX_HTTP_FRAISEQL_NCODES                                              \
    (sizeof(ngx_http_fraiseql_codes) / sizeof(ngx_http_fraiseql_codes[0]))

static const char  *ngx_http_fraiseql_limit_names[] = {
    "", "passed", "delayed", "rejected", "delayed_dry_run",
    "rejected_dry_run"
};


typedef struct {
    ngx_atomic_t                bucket[NGX_HTTP_FRAISEQL_NBUCKETS + 1];
    ngx_atomic_t                count;
    ngx_atomic_t                sum;        /* microseconds */
} ngx_http_fraiseql_hist_t;

/* a worker's gauges, on a line of its own (as stub_status pads them) */
typedef struct {
    ngx_atomic_t                pid;        /* 0: none yet */
    ngx_atomic_t                idle;
    ngx_atomic_t                busy;
    ngx_atomic_t                connecting;
    ngx_atomic_t                waiting;
    u_char                      pad[128 - 5 * sizeof(ngx_atomic_t)];
} ngx_http_fraiseql_row_t;

/* a named operation's slot: 0 free, 1 being claimed, 2 in use */
typedef struct {
    ngx_atomic_t                state;
    ngx_uint_t                  hash;
    size_t                      len;
    u_char                      name[NGX_HTTP_FRAISEQL_NAME_MAX];
    ngx_http_fraiseql_hist_t    hist;
} ngx_http_fraiseql_name_t;

struct ngx_http_fraiseql_metrics_s {
    uint64_t                    layout;     /* a reload keeps it if equal */
    ngx_uint_t                  nnames;
    ngx_atomic_t                requests[NGX_HTTP_FRAISEQL_NTYPES]
                                        [NGX_HTTP_FRAISEQL_NRESULTS];
    ngx_http_fraiseql_hist_t    duration[NGX_HTTP_FRAISEQL_NTYPES];
    ngx_http_fraiseql_hist_t    db;
    ngx_http_fraiseql_hist_t    wait;
    ngx_http_fraiseql_hist_t    other;      /* names past the table */
    ngx_atomic_t                cache[3];   /* hit, miss, evicted */
    ngx_atomic_t                pool[5];    /* NGX_HTTP_FRAISEQL_POOL_* */
    ngx_atomic_t                rows_sent;
    ngx_atomic_t                names_dropped;
    ngx_atomic_t                jwt[NGX_HTTP_FRAISEQL_NJWT];
    ngx_atomic_t                limit[6];
    ngx_atomic_t                codes[NGX_HTTP_FRAISEQL_NCODES];
    ngx_atomic_t                sqlstate[NGX_HTTP_FRAISEQL_SQLSTATES];
    ngx_http_fraiseql_row_t     rows[NGX_HTTP_FRAISEQL_NROWS];
    ngx_http_fraiseql_name_t    names[1];
};


/* this worker's zone (NULL: no metrics), for the hooks of other files */
ngx_http_fraiseql_metrics_t  *ngx_http_fraiseql_metrics;

static ngx_event_t   ngx_http_fraiseql_gauge_ev;
static uint64_t      ngx_http_fraiseql_evictions;   /* counted so far */


static ngx_int_t ngx_http_fraiseql_metrics_init_zone(ngx_shm_zone_t *zone,
    void *data);
static void ngx_http_fraiseql_gauges(void);
static void ngx_http_fraiseql_gauge_handler(ngx_event_t *ev);
static ngx_int_t ngx_http_fraiseql_metrics_handler(ngx_http_request_t *r);
static ngx_int_t ngx_http_fraiseql_health_handler(ngx_http_request_t *r);
static ngx_int_t ngx_http_fraiseql_log_handler(ngx_http_request_t *r);
static void ngx_http_fraiseql_observe_ctx(ngx_http_request_t *r,
    ngx_http_fraiseql_ctx_t *ctx);


/* a monotonic clock in microseconds: durations, not dates */
uint64_t
ngx_http_fraiseql_now_us(void)
{
    struct timespec  ts;

    (void) clock_gettime(CLOCK_MONOTONIC, &ts);

    return (uint64_t) ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}


/* ---- configuration ---- */

/* fraiseql_metrics_zone NAME:SIZE [operations=N] */
char *
ngx_http_fraiseql_metrics_zone(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf)
{
    ngx_http_fraiseql_main_conf_t  *fmcf = conf;

    u_char      *p;
    size_t       need;
    ssize_t      size;
    ngx_int_t    n;
    ngx_str_t   *value, name, s;
    ngx_uint_t   i, nnames;

    if (fmcf->metrics != NULL) {
        return "is duplicate";
    }

    value = cf->args->elts;
    nnames = 128;

    p = (u_char *) ngx_strchr(value[1].data, ':');
    if (p == NULL) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "\"%V\" takes NAME:SIZE, not \"%V\"",
                           &cmd->name, &value[1]);
        return NGX_CONF_ERROR;
    }

    name.data = value[1].data;
    name.len = p - value[1].data;
    s.data = p + 1;
    s.len = value[1].data + value[1].len - s.data;

    size = ngx_parse_size(&s);

    if (name.len == 0 || size == NGX_ERROR) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "\"%V\" takes NAME:SIZE, not \"%V\"",
                           &cmd->name, &value[1]);
        return NGX_CONF_ERROR;
    }

    for (i = 2; i < cf->args->nelts; i++) {
        if (ngx_strncmp(value[i].data, "operations=", 11) == 0) {
            n = ngx_atoi(value[i].data + 11, value[i].len - 11);

            if (n == NGX_ERROR || n < 1 || n > 10000) {
                ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                                   "\"%V\": operations= takes 1 to 10000, "
                                   "not \"%V\"", &cmd->name, &value[i]);
                return NGX_CONF_ERROR;
            }

            nnames = n;
            continue;
        }

        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0, "\"%V\": unknown "
                           "parameter \"%V\"", &cmd->name, &value[i]);
        return NGX_CONF_ERROR;
    }

    /* the counters, the table and the slab pool's own pages */
    need = sizeof(ngx_http_fraiseql_metrics_t)
           + nnames * sizeof(ngx_http_fraiseql_name_t) + 8 * ngx_pagesize;

    if ((size_t) size < need) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "\"%V\": zone \"%V\" is too small for %ui "
                           "operations: %uzk at least", &cmd->name, &name,
                           nnames, (need + 1023) / 1024);
        return NGX_CONF_ERROR;
    }

    fmcf->metrics = ngx_shared_memory_add(cf, &name, size,
                                          &ngx_http_fraiseql_module);
    if (fmcf->metrics == NULL) {
        return NGX_CONF_ERROR;
    }

    if (fmcf->metrics->data != NULL) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "zone \"%V\" is already used", &name);
        return NGX_CONF_ERROR;
    }

    fmcf->metrics->init = ngx_http_fraiseql_metrics_init_zone;
    fmcf->metrics->data = (void *) (uintptr_t) nnames;

    return NGX_CONF_OK;
}


static uint64_t
ngx_http_fraiseql_layout(ngx_uint_t nnames)
{
    /* what the zone's shape depends on: a new build may change it */
    return ((uint64_t) sizeof(ngx_http_fraiseql_metrics_t) << 32)
           ^ ((uint64_t) sizeof(ngx_http_fraiseql_name_t) << 16)
           ^ nnames ^ ((uint64_t) NGX_HTTP_FRAISEQL_NCODES << 48);
}


static ngx_int_t
ngx_http_fraiseql_metrics_init_zone(ngx_shm_zone_t *zone, void *data)
{
    ngx_uint_t                    nnames;
    ngx_slab_pool_t              *shpool;
    ngx_http_fraiseql_metrics_t  *m, *old = data;

    nnames = (ngx_uint_t) (uintptr_t) zone->data;

    /* a reload: the same zone, the counters go on */
    if (old != NULL && old->layout == ngx_http_fraiseql_layout(nnames)) {
        zone->data = old;
        return NGX_OK;
    }

    shpool = (ngx_slab_pool_t *) zone->shm.addr;

    if (zone->shm.exists) {
        zone->data = shpool->data;
        return NGX_OK;
    }

    m = ngx_slab_calloc(shpool, sizeof(ngx_http_fraiseql_metrics_t)
                                + nnames * sizeof(ngx_http_fraiseql_name_t));
    if (m == NULL) {
        return NGX_ERROR;
    }

    m->layout = ngx_http_fraiseql_layout(nnames);
    m->nnames = nnames;

    shpool->data = m;
    zone->data = m;

    return NGX_OK;
}


/* fraiseql_metrics: the location answers the zone's text */
char *
ngx_http_fraiseql_metrics_cmd(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf)
{
    ngx_http_core_loc_conf_t  *clcf;

    clcf = ngx_http_conf_get_module_loc_conf(cf, ngx_http_core_module);
    clcf->handler = ngx_http_fraiseql_metrics_handler;

    return NGX_CONF_OK;
}


/* fraiseql_health live | ready */
char *
ngx_http_fraiseql_health(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    ngx_http_fraiseql_loc_conf_t  *flcf = conf;

    ngx_str_t                 *value;
    ngx_http_core_loc_conf_t  *clcf;

    if (flcf->health != NGX_CONF_UNSET_UINT) {
        return "is duplicate";
    }

    value = cf->args->elts;

    if (ngx_strcmp(value[1].data, "live") == 0) {
        flcf->health = 1;

    } else if (ngx_strcmp(value[1].data, "ready") == 0) {
        flcf->health = 2;

    } else {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0, "\"%V\" takes live or "
                           "ready, not \"%V\"", &cmd->name, &value[1]);
        return NGX_CONF_ERROR;
    }

    clcf = ngx_http_conf_get_module_loc_conf(cf, ngx_http_core_module);
    clcf->handler = ngx_http_fraiseql_health_handler;

    return NGX_CONF_OK;
}


/* every request is seen once it is over: the log phase */
ngx_int_t
ngx_http_fraiseql_observe_init(ngx_conf_t *cf)
{
    ngx_http_handler_pt        *h;
    ngx_http_core_main_conf_t  *cmcf;

    cmcf = ngx_http_conf_get_module_main_conf(cf, ngx_http_core_module);

    h = ngx_array_push(&cmcf->phases[NGX_HTTP_LOG_PHASE].handlers);
    if (h == NULL) {
        return NGX_ERROR;
    }

    *h = ngx_http_fraiseql_log_handler;

    return NGX_OK;
}


void
ngx_http_fraiseql_observe_init_process(ngx_cycle_t *cycle,
    ngx_http_fraiseql_main_conf_t *fmcf)
{
    ngx_http_fraiseql_metrics = NULL;

    if (fmcf->metrics == NULL) {
        return;
    }

    ngx_http_fraiseql_metrics = fmcf->metrics->data;

    if (fmcf->cache != NULL) {
        ngx_http_fraiseql_evictions = 0;
    }

    ngx_http_fraiseql_gauge_ev.handler = ngx_http_fraiseql_gauge_handler;
    ngx_http_fraiseql_gauge_ev.data = fmcf;
    ngx_http_fraiseql_gauge_ev.log = cycle->log;
    /* it never keeps a worker that is shutting down */
    ngx_http_fraiseql_gauge_ev.cancelable = 1;

    ngx_http_fraiseql_gauges();
    ngx_add_timer(&ngx_http_fraiseql_gauge_ev, 1000);
}


/* ---- counting ---- */

static void
ngx_http_fraiseql_observe(ngx_http_fraiseql_hist_t *h, uint64_t us)
{
    ngx_uint_t  i;

    for (i = 0; i < NGX_HTTP_FRAISEQL_NBUCKETS; i++) {
        if (us <= ngx_http_fraiseql_bounds_us[i]) {
            break;
        }
    }

    (void) ngx_atomic_fetch_add(&h->bucket[i], 1);
    (void) ngx_atomic_fetch_add(&h->count, 1);
    (void) ngx_atomic_fetch_add(&h->sum, (ngx_atomic_int_t) us);
}


void
ngx_http_fraiseql_metric_pool(ngx_uint_t what)
{
    if (ngx_http_fraiseql_metrics != NULL) {
        (void) ngx_atomic_fetch_add(&ngx_http_fraiseql_metrics->pool[what],
                                    1);
    }
}


/* a PostgreSQL error: its SQLSTATE's class, the first two characters */
void
ngx_http_fraiseql_metric_sqlstate(const char *state)
{
    ngx_int_t  a, b;

    if (ngx_http_fraiseql_metrics == NULL || state == NULL
        || state[0] == '\0' || state[1] == '\0')
    {
        return;
    }

    a = (state[0] >= '0' && state[0] <= '9') ? state[0] - '0'
        : (state[0] >= 'A' && state[0] <= 'Z') ? state[0] - 'A' + 10 : -1;
    b = (state[1] >= '0' && state[1] <= '9') ? state[1] - '0'
        : (state[1] >= 'A' && state[1] <= 'Z') ? state[1] - 'A' + 10 : -1;

    if (a < 0 || b < 0) {
        return;
    }

    (void) ngx_atomic_fetch_add(
                         &ngx_http_fraiseql_metrics->sqlstate[a * 36 + b], 1);
}


/*
 * The errors of an answer: counted by code, and the first code and the
 * count kept for the log (the request's own, or its batch's).
 */
void
ngx_http_fraiseql_observe_errors(ngx_http_request_t *r,
    const fql_errors_t *errs)
{
    ngx_uint_t                i;
    const fql_error_t        *e;
    ngx_http_fraiseql_ctx_t  *ctx;

    ctx = ngx_http_get_module_ctx(r, ngx_http_fraiseql_module);

    for (e = errs->head; e != NULL; e = e->next) {
        for (i = 0; i < NGX_HTTP_FRAISEQL_NCODES - 1; i++) {
            if (e->code != NULL
                && ngx_strcmp(e->code, ngx_http_fraiseql_codes[i]) == 0)
            {
                break;
            }
        }

        if (ctx != NULL) {
            if (ctx->obs.code == NULL) {
                ctx->obs.code = ngx_http_fraiseql_codes[i];
            }

            ctx->obs.db_error |= (i == 5 || i == 6);
        }

        if (ngx_http_fraiseql_metrics != NULL) {
            (void) ngx_atomic_fetch_add(
                                 &ngx_http_fraiseql_metrics->codes[i], 1);
        }
    }

    if (ctx != NULL) {
        ctx->obs.nerrors += errs->count;
    }
}


/* the slot of a named operation, claimed when new; NULL: table full */
static ngx_http_fraiseql_name_t *
ngx_http_fraiseql_name(ngx_http_fraiseql_metrics_t *m, fql_str_t name)
{
    size_t                     len;
    ngx_uint_t                 i, hash;
    ngx_http_fraiseql_name_t  *n;

    len = ngx_min(name.len, NGX_HTTP_FRAISEQL_NAME_MAX);
    hash = ngx_hash_key((u_char *) name.data, len);

    for (i = 0; i < m->nnames; i++) {
        n = &m->names[i];

        if (n->state == 2) {
            if (n->hash == hash && n->len == len
                && ngx_memcmp(n->name, name.data, len) == 0)
            {
                return n;
            }

            continue;
        }

        if (n->state == 0 && ngx_atomic_cmp_set(&n->state, 0, 1)) {
            ngx_memcpy(n->name, name.data, len);
            n->len = len;
            n->hash = hash;
            ngx_memory_barrier();
            n->state = 2;
            return n;
        }
    }

    return NULL;
}


static ngx_uint_t
ngx_http_fraiseql_type(ngx_http_fraiseql_ctx_t *ctx)
{
    int  op;

    op = ctx == NULL ? -1
         : ctx->plan != NULL ? (int) ctx->plan->op
         : ctx->obs.planned ? ctx->cache.op : -1;

    switch (op) {
    case FQL_OP_QUERY:
        return 0;
    case FQL_OP_MUTATION:
        return 1;
    case FQL_OP_SUBSCRIPTION:
        return 2;
    default:
        return 3;
    }
}


static ngx_uint_t
ngx_http_fraiseql_loc_counts(ngx_http_request_t *r)
{
    ngx_http_fraiseql_loc_conf_t  *flcf;

    flcf = ngx_http_get_module_loc_conf(r, ngx_http_fraiseql_module);

    return flcf->metrics_count;
}


/* the request is over: what it was and what it cost, into the zone */
void
ngx_http_fraiseql_observe_request(ngx_http_request_t *r)
{
    ngx_http_fraiseql_observe_ctx(r,
                        ngx_http_get_module_ctx(r, ngx_http_fraiseql_module));
}


/*
 * The request's memory goes: a request not counted yet is counted now.
 * That is one nginx answered from another location (error_page, after a
 * body found too large while read): the log phase ran there, and the
 * redirect took the module's context from the request, not from here.
 */
void
ngx_http_fraiseql_observe_cleanup(void *data)
{
    ngx_http_fraiseql_ctx_t  *ctx = data;

    if (!ctx->obs.recorded) {
        ngx_http_fraiseql_observe_ctx(ctx->r, ctx);
    }
}


static void
ngx_http_fraiseql_observe_ctx(ngx_http_request_t *r,
    ngx_http_fraiseql_ctx_t *ctx)
{
    uint64_t                       us;
    ngx_uint_t                     type, result, status;
    fql_cache_stats_t              st;
    ngx_http_fraiseql_name_t      *n;
    ngx_http_fraiseql_metrics_t   *m = ngx_http_fraiseql_metrics;
    ngx_http_fraiseql_main_conf_t *fmcf;

    if (m == NULL || (ctx != NULL && ctx->obs.recorded)
        || !(ctx != NULL ? (ngx_uint_t) ctx->lcf->metrics_count
                         : ngx_http_fraiseql_loc_counts(r)))
    {
        return;
    }

    status = r->headers_out.status;

    /*
     * No GraphQL here: a CORS preflight, the GraphiQL page (web.c answers
     * them before a context exists, and nothing else answers 2xx so).
     * Refusals without a context (nginx's deny, 413...) do count.
     */
    if (r->method == NGX_HTTP_OPTIONS
        || (ctx == NULL && status < NGX_HTTP_SPECIAL_RESPONSE))
    {
        return;
    }

    if (ctx != NULL) {
        ctx->obs.recorded = 1;

        /* a batch that ran: its requests were counted, each */
        if (ctx->batch.pipe_last != NULL && status == NGX_HTTP_OK) {
            return;
        }
    }

    type = ngx_http_fraiseql_type(ctx);

    if (status >= NGX_HTTP_BAD_REQUEST) {
        result = (status == NGX_HTTP_SERVICE_UNAVAILABLE
                  || (ctx != NULL && ctx->obs.db_error))
                 ? NGX_HTTP_FRAISEQL_DB_ERROR : NGX_HTTP_FRAISEQL_REJECTED;

    } else if (ctx == NULL || ctx->obs.nerrors == 0) {
        result = NGX_HTTP_FRAISEQL_OK;

    } else {
        result = ctx->obs.db_error ? NGX_HTTP_FRAISEQL_DB_ERROR
                                   : NGX_HTTP_FRAISEQL_GQL_ERROR;
    }

    (void) ngx_atomic_fetch_add(&m->requests[type][result], 1);

    if (ctx == NULL) {
        /* refused before the module saw it (nginx's own 413...) */
        us = (ngx_current_msec - (r->start_sec * 1000 + r->start_msec))
             * 1000;
        ngx_http_fraiseql_observe(&m->duration[type], us);
        return;
    }

    us = ngx_http_fraiseql_now_us() - ctx->obs.start;
    ngx_http_fraiseql_observe(&m->duration[type], us);

    if (ctx->obs.db_start) {
        ngx_http_fraiseql_observe(&m->db, ctx->obs.db_end - ctx->obs.db_start);
        ngx_http_fraiseql_observe(&m->wait, ctx->obs.wait);
    }

    if (ctx->obs.rows) {
        (void) ngx_atomic_fetch_add(&m->rows_sent,
                                    (ngx_atomic_int_t) ctx->obs.rows);
    }

    /* a name only of what compiled: the table is not for any string */
    if (ctx->plan != NULL && ctx->plan->name.len) {
        n = ngx_http_fraiseql_name(m, ctx->plan->name);

        if (n != NULL) {
            ngx_http_fraiseql_observe(&n->hist, us);

        } else {
            (void) ngx_atomic_fetch_add(&m->names_dropped, 1);
            ngx_http_fraiseql_observe(&m->other, us);
        }
    }

    if (ctx->cache.cached) {
        (void) ngx_atomic_fetch_add(&m->cache[ctx->cache.hit ? 0 : 1], 1);
    }

    fmcf = ngx_http_get_module_main_conf(r, ngx_http_fraiseql_module);

    if (fmcf->cache != NULL) {
        fql_cache_get_stats(fmcf->cache, &st);

        if (st.evictions > ngx_http_fraiseql_evictions) {
            (void) ngx_atomic_fetch_add(&m->cache[2], (ngx_atomic_int_t)
                               (st.evictions - ngx_http_fraiseql_evictions));
            ngx_http_fraiseql_evictions = st.evictions;
        }
    }

    if (ctx->auth.checked && ctx->auth.status < NGX_HTTP_FRAISEQL_NJWT) {
        (void) ngx_atomic_fetch_add(&m->jwt[ctx->auth.status], 1);
    }

    if (ctx->limit.status && ctx->limit.status < 6) {
        (void) ngx_atomic_fetch_add(&m->limit[ctx->limit.status], 1);
    }
}


static ngx_int_t
ngx_http_fraiseql_log_handler(ngx_http_request_t *r)
{
    ngx_http_fraiseql_loc_conf_t  *flcf;

    flcf = ngx_http_get_module_loc_conf(r, ngx_http_fraiseql_module);

    if (flcf->enable == 1 && flcf->metrics_count) {
        ngx_http_fraiseql_observe_request(r);
    }

    return NGX_OK;
}


/* this worker's pools, into its row */
static void
ngx_http_fraiseql_gauges(void)
{
    ngx_uint_t                      i, idle, busy, connecting, waiting;
    ngx_http_fraiseql_db_t        **dbs;
    ngx_http_fraiseql_row_t        *row;
    ngx_http_fraiseql_pool_t       *pool;
    ngx_http_fraiseql_main_conf_t  *fmcf = ngx_http_fraiseql_gauge_ev.data;

    if (ngx_http_fraiseql_metrics == NULL || fmcf == NULL
        || ngx_worker >= NGX_HTTP_FRAISEQL_NROWS)
    {
        return;
    }

    idle = busy = connecting = waiting = 0;
    dbs = fmcf->dbs.elts;

    for (i = 0; i < fmcf->dbs.nelts; i++) {
        pool = dbs[i]->pool;

        if (pool == NULL) {
            continue;
        }

        idle += pool->nidle;
        connecting += pool->nconnecting;
        busy += pool->nconns - pool->nidle - pool->nconnecting;
        waiting += pool->nwaiters;
    }

    row = &ngx_http_fraiseql_metrics->rows[ngx_worker];
    row->idle = idle;
    row->busy = busy;
    row->connecting = connecting;
    row->waiting = waiting;
    row->pid = ngx_pid;
}


static void
ngx_http_fraiseql_gauge_handler(ngx_event_t *ev)
{
    ngx_http_fraiseql_gauges();

    if (!ngx_exiting && !ngx_terminate && !ngx_quit) {
        ngx_add_timer(ev, 1000);
    }
}


/* ---- the scrape ---- */

typedef struct {
    u_char                     *p;
    u_char                     *end;
} ngx_http_fraiseql_text_t;


static void
ngx_http_fraiseql_put(ngx_http_fraiseql_text_t *t, const char *fmt, ...)
{
    va_list  args;

    va_start(args, fmt);
    t->p = ngx_vslprintf(t->p, t->end, fmt, args);
    va_end(args);
}


static void
ngx_http_fraiseql_family(ngx_http_fraiseql_text_t *t, const char *name,
    const char *type, const char *help)
{
    ngx_http_fraiseql_put(t, "# HELP %s %s\n# TYPE %s %s\n", name, help,
                          name, type);
}


/* a histogram's lines; labels: "" or `name="value",` */
static void
ngx_http_fraiseql_hist(ngx_http_fraiseql_text_t *t, const char *name,
    const char *labels, ngx_http_fraiseql_hist_t *h)
{
    ngx_uint_t    i;
    ngx_atomic_uint_t  sum, count, v;
    size_t        len;

    len = ngx_strlen(labels);
    sum = 0;

    for (i = 0; i < NGX_HTTP_FRAISEQL_NBUCKETS; i++) {
        sum += h->bucket[i];
        ngx_http_fraiseql_put(t, "%s_bucket{%s%sle=\"%s\"} %uA\n", name,
                              labels, len ? "," : "",
                              ngx_http_fraiseql_bounds_s[i], sum);
    }

    sum += h->bucket[NGX_HTTP_FRAISEQL_NBUCKETS];

    /* read while others count: +Inf is never below the count */
    count = h->count;
    v = ngx_max(sum, count);

    ngx_http_fraiseql_put(t, "%s_bucket{%s%sle=\"+Inf\"} %uA\n", name,
                          labels, len ? "," : "", v);
    ngx_http_fraiseql_put(t, "%s_sum{%s} %uA.%06uA\n", name, labels,
                          (ngx_atomic_uint_t) h->sum / 1000000,
                          (ngx_atomic_uint_t) h->sum % 1000000);
    ngx_http_fraiseql_put(t, "%s_count{%s} %uA\n", name, labels, v);
}


/* a label value as the text format escapes it: \, " and newline */
static u_char *
ngx_http_fraiseql_label(u_char *dst, u_char *end, const u_char *s,
    size_t len)
{
    size_t  i;

    for (i = 0; i < len && dst + 2 < end; i++) {
        if (s[i] == '\\' || s[i] == '"') {
            *dst++ = '\\';
            *dst++ = s[i];

        } else if (s[i] == '\n') {
            *dst++ = '\\';
            *dst++ = 'n';

        } else {
            *dst++ = s[i];
        }
    }

    *dst = '\0';

    return dst;
}


static ngx_int_t
ngx_http_fraiseql_metrics_handler(ngx_http_request_t *r)
{
    size_t                          size;
    ngx_int_t                       rc;
    ngx_buf_t                      *b;
    ngx_uint_t                      i, j, k, idle, busy, conn, wait;
    ngx_chain_t                     out;
    ngx_http_fraiseql_hist_t        h;
    ngx_http_fraiseql_name_t       *n, *o;
    ngx_http_fraiseql_text_t        t;
    ngx_http_fraiseql_metrics_t    *m = ngx_http_fraiseql_metrics;
    u_char                          labels[NGX_HTTP_FRAISEQL_NAME_MAX * 2
                                           + 32];

    if (!(r->method & (NGX_HTTP_GET|NGX_HTTP_HEAD))) {
        return NGX_HTTP_NOT_ALLOWED;
    }

    rc = ngx_http_discard_request_body(r);
    if (rc != NGX_OK) {
        return rc;
    }

    if (m == NULL) {
        ngx_log_error(NGX_LOG_ERR, r->connection->log, 0,
                      "fraiseql_metrics: no fraiseql_metrics_zone");
        return NGX_HTTP_NOT_FOUND;
    }

    ngx_http_fraiseql_gauges();

    /* each name's histogram is at most ~2k; the rest fits in 64k */
    size = 65536 + m->nnames * 2400;

    b = ngx_create_temp_buf(r->pool, size);
    if (b == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    t.p = b->pos;
    t.end = b->end;

    ngx_http_fraiseql_family(&t, "fraiseql_requests_total", "counter",
                             "GraphQL operations answered, by type and "
                             "result.");

    for (i = 0; i < NGX_HTTP_FRAISEQL_NTYPES; i++) {
        for (j = 0; j < NGX_HTTP_FRAISEQL_NRESULTS; j++) {
            ngx_http_fraiseql_put(&t, "fraiseql_requests_total{"
                                  "operation_type=\"%s\",result=\"%s\"} "
                                  "%uA\n", ngx_http_fraiseql_types[i],
                                  ngx_http_fraiseql_results[j],
                                  m->requests[i][j]);
        }
    }

    ngx_http_fraiseql_family(&t, "fraiseql_request_duration_seconds",
                             "histogram", "Time from the request's start "
                             "to its answer's end, by operation type.");

    for (i = 0; i < NGX_HTTP_FRAISEQL_NTYPES; i++) {
        ngx_sprintf(labels, "operation_type=\"%s\"%Z",
                    ngx_http_fraiseql_types[i]);
        ngx_http_fraiseql_hist(&t, "fraiseql_request_duration_seconds",
                               (char *) labels, &m->duration[i]);
    }

    ngx_http_fraiseql_family(&t, "fraiseql_operation_duration_seconds",
                             "histogram", "Request time by operation name "
                             "(the first names seen; \"__other__\" past "
                             "the table).");

    for (i = 0; i < m->nnames; i++) {
        n = &m->names[i];

        if (n->state != 2) {
            continue;
        }

        /* two workers may have claimed one name at once: one series */
        for (k = 0; k < i; k++) {
            o = &m->names[k];
            if (o->state == 2 && o->len == n->len
                && ngx_memcmp(o->name, n->name, n->len) == 0)
            {
                break;
            }
        }

        if (k < i) {
            continue;
        }

        h = n->hist;

        for (k = i + 1; k < m->nnames; k++) {
            o = &m->names[k];
            if (o->state == 2 && o->len == n->len
                && ngx_memcmp(o->name, n->name, n->len) == 0)
            {
                for (j = 0; j <= NGX_HTTP_FRAISEQL_NBUCKETS; j++) {
                    h.bucket[j] += o->hist.bucket[j];
                }

                h.count += o->hist.count;
                h.sum += o->hist.sum;
            }
        }

        ngx_memcpy(labels, "operation_name=\"", 16);
        ngx_memcpy(ngx_http_fraiseql_label(labels + 16,
                                           labels + sizeof(labels) - 2,
                                           n->name, n->len),
                   "\"", 2);
        ngx_http_fraiseql_hist(&t, "fraiseql_operation_duration_seconds",
                               (char *) labels, &h);
    }

    ngx_http_fraiseql_hist(&t, "fraiseql_operation_duration_seconds",
                           "operation_name=\"__other__\"", &m->other);

    ngx_http_fraiseql_family(&t, "fraiseql_db_duration_seconds", "histogram",
                             "Time from a request's first statement sent "
                             "to its last result read.");
    ngx_http_fraiseql_hist(&t, "fraiseql_db_duration_seconds", "", &m->db);

    ngx_http_fraiseql_family(&t, "fraiseql_pool_wait_seconds", "histogram",
                             "Time a request's statements waited for "
                             "pooled connections.");
    ngx_http_fraiseql_hist(&t, "fraiseql_pool_wait_seconds", "", &m->wait);

    ngx_http_fraiseql_family(&t, "fraiseql_plan_cache_requests_total",
                             "counter", "Plan cache lookups.");
    ngx_http_fraiseql_put(&t, "fraiseql_plan_cache_requests_total"
                          "{result=\"hit\"} %uA\n"
                          "fraiseql_plan_cache_requests_total"
                          "{result=\"miss\"} %uA\n", m->cache[0],
                          m->cache[1]);
    ngx_http_fraiseql_family(&t, "fraiseql_plan_cache_evictions_total",
                             "counter", "Plans evicted from the workers' "
                             "caches.");
    ngx_http_fraiseql_put(&t, "fraiseql_plan_cache_evictions_total %uA\n",
                          m->cache[2]);

    idle = busy = conn = wait = 0;

    for (i = 0; i < NGX_HTTP_FRAISEQL_NROWS; i++) {
        if (m->rows[i].pid == 0) {
            continue;
        }

        /* a worker gone (crashed, or an old one that exited) counts not */
        if ((ngx_pid_t) m->rows[i].pid != ngx_pid
            && kill((ngx_pid_t) m->rows[i].pid, 0) != 0)
        {
            continue;
        }

        idle += m->rows[i].idle;
        busy += m->rows[i].busy;
        conn += m->rows[i].connecting;
        wait += m->rows[i].waiting;
    }

    ngx_http_fraiseql_family(&t, "fraiseql_pool_connections", "gauge",
                             "Pooled connections of all workers, by state "
                             "(updated each second).");
    ngx_http_fraiseql_put(&t, "fraiseql_pool_connections{state=\"idle\"} "
                          "%ui\nfraiseql_pool_connections{state=\"busy\"} "
                          "%ui\nfraiseql_pool_connections"
                          "{state=\"connecting\"} %ui\n", idle, busy, conn);
    ngx_http_fraiseql_family(&t, "fraiseql_pool_waiting", "gauge",
                             "Statements waiting for a pooled connection.");
    ngx_http_fraiseql_put(&t, "fraiseql_pool_waiting %ui\n", wait);

    for (i = 0; i < 5; i++) {
        ngx_http_fraiseql_family(&t, ngx_http_fraiseql_pool_events[i],
                                 "counter", ngx_http_fraiseql_pool_help[i]);
        ngx_http_fraiseql_put(&t, "%s %uA\n",
                              ngx_http_fraiseql_pool_events[i], m->pool[i]);
    }

    ngx_http_fraiseql_family(&t, "fraiseql_rows_total", "counter",
                             "Rows read from PostgreSQL into answers.");
    ngx_http_fraiseql_put(&t, "fraiseql_rows_total %uA\n", m->rows_sent);

    ngx_http_fraiseql_family(&t, "fraiseql_db_errors_total", "counter",
                             "PostgreSQL errors, by SQLSTATE class.");

    for (i = 0; i < NGX_HTTP_FRAISEQL_SQLSTATES; i++) {
        if (m->sqlstate[i]) {
            ngx_http_fraiseql_put(&t, "fraiseql_db_errors_total"
                                  "{sqlstate_class=\"%c%c\"} %uA\n",
                                  (int) "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ"
                                        [i / 36],
                                  (int) "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ"
                                        [i % 36],
                                  m->sqlstate[i]);
        }
    }

    ngx_http_fraiseql_family(&t, "fraiseql_graphql_errors_total", "counter",
                             "GraphQL errors answered, by extensions.code.");

    for (i = 0; i < NGX_HTTP_FRAISEQL_NCODES; i++) {
        ngx_http_fraiseql_put(&t, "fraiseql_graphql_errors_total"
                              "{code=\"%s\"} %uA\n",
                              ngx_http_fraiseql_codes[i], m->codes[i]);
    }

    ngx_http_fraiseql_family(&t, "fraiseql_jwt_verifications_total",
                             "counter", "Bearer tokens checked, by result "
                             "($fraiseql_jwt_status).");

    for (i = 0; i < NGX_HTTP_FRAISEQL_NJWT; i++) {
        ngx_http_fraiseql_put(&t, "fraiseql_jwt_verifications_total"
                              "{result=\"%s\"} %uA\n",
                              fql_jwt_status_name((fql_jwt_status_t) i),
                              m->jwt[i]);
    }

    ngx_http_fraiseql_family(&t, "fraiseql_authorization_denials_total",
                             "counter", "Elements of operations refused "
                             "by the schema's rules (FORBIDDEN errors).");
    ngx_http_fraiseql_put(&t, "fraiseql_authorization_denials_total %uA\n",
                          m->codes[17]);

    ngx_http_fraiseql_family(&t, "fraiseql_rate_limit_total", "counter",
                             "Requests checked by fraiseql_limit zones, by "
                             "$fraiseql_limit_status.");

    for (i = 1; i < 6; i++) {
        ngx_http_fraiseql_put(&t, "fraiseql_rate_limit_total"
                              "{status=\"%s\"} %uA\n",
                              ngx_http_fraiseql_limit_names[i], m->limit[i]);
    }

    ngx_http_fraiseql_family(&t, "fraiseql_metrics_names_dropped_total",
                             "counter", "Operations counted under "
                             "\"__other__\": the name table was full.");
    ngx_http_fraiseql_put(&t, "fraiseql_metrics_names_dropped_total %uA\n",
                          m->names_dropped);

    if (t.p >= t.end) {
        ngx_log_error(NGX_LOG_ALERT, r->connection->log, 0,
                      "fraiseql_metrics: the answer was cut");
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    b->last = t.p;
    b->last_buf = (r == r->main);
    b->last_in_chain = 1;

    r->headers_out.status = NGX_HTTP_OK;
    r->headers_out.content_length_n = b->last - b->pos;
    ngx_str_set(&r->headers_out.content_type,
                "text/plain; version=0.0.4; charset=utf-8");
    r->headers_out.content_type_len = r->headers_out.content_type.len;

    rc = ngx_http_send_header(r);

    if (rc == NGX_ERROR || rc > NGX_OK || r->header_only) {
        return rc;
    }

    out.buf = b;
    out.next = NULL;

    return ngx_http_output_filter(r, &out);
}


/* ---- health ---- */

typedef struct {
    ngx_http_request_t          *r;
    ngx_http_fraiseql_waiter_t   waiter;
    unsigned                     done:1;
} ngx_http_fraiseql_probe_t;


static ngx_int_t
ngx_http_fraiseql_health_send(ngx_http_request_t *r, ngx_uint_t status,
    const char *body)
{
    ngx_int_t     rc;
    ngx_buf_t    *b;
    ngx_chain_t   out;

    b = ngx_calloc_buf(r->pool);
    if (b == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    b->pos = (u_char *) body;
    b->last = b->pos + ngx_strlen(body);
    b->memory = 1;
    b->last_buf = (r == r->main);
    b->last_in_chain = 1;

    r->headers_out.status = status;
    r->headers_out.content_length_n = b->last - b->pos;
    ngx_str_set(&r->headers_out.content_type, "application/json");
    r->headers_out.content_type_len = r->headers_out.content_type.len;

    rc = ngx_http_send_header(r);

    if (rc == NGX_ERROR || rc > NGX_OK || r->header_only) {
        return rc;
    }

    out.buf = b;
    out.next = NULL;

    return ngx_http_output_filter(r, &out);
}


static const char  ngx_http_fraiseql_ready[] =
    "{\"status\":\"ready\"}\n";
static const char  ngx_http_fraiseql_down[] =
    "{\"status\":\"unavailable\",\"reason\":\"no working connection to "
    "PostgreSQL\"}\n";


static void
ngx_http_fraiseql_probe_ready(ngx_http_fraiseql_waiter_t *w,
    ngx_http_fraiseql_pgc_t *pgc)
{
    ngx_http_fraiseql_probe_t  *p = w->data;

    ngx_connection_t    *c = p->r->connection;
    ngx_http_request_t  *r = p->r;

    p->done = 1;
    ngx_http_fraiseql_pool_release(pgc, 1);

    /* (finalizing may free the request: c is kept) */
    ngx_http_finalize_request(r,
        ngx_http_fraiseql_health_send(r, NGX_HTTP_OK,
                                      ngx_http_fraiseql_ready));
    ngx_http_run_posted_requests(c);
}


static void
ngx_http_fraiseql_probe_failed(ngx_http_fraiseql_waiter_t *w,
    ngx_uint_t timedout)
{
    ngx_http_fraiseql_probe_t  *p = w->data;

    ngx_connection_t    *c = p->r->connection;
    ngx_http_request_t  *r = p->r;

    p->done = 1;

    ngx_http_finalize_request(r,
        ngx_http_fraiseql_health_send(r, NGX_HTTP_SERVICE_UNAVAILABLE,
                                      ngx_http_fraiseql_down));
    ngx_http_run_posted_requests(c);
}


static void
ngx_http_fraiseql_probe_cleanup(void *data)
{
    ngx_http_fraiseql_probe_t  *p = data;

    if (!p->done) {
        ngx_http_fraiseql_pool_cancel_wait(&p->waiter);
    }
}


/*
 * live: the worker answers.  ready: and it can reach PostgreSQL now: an
 * idle connection checked alive, or a new one opened (PostgREST's /ready).
 * The schema was loaded at start-up, or nginx would not run.
 */
static ngx_int_t
ngx_http_fraiseql_health_handler(ngx_http_request_t *r)
{
    ngx_int_t                      rc;
    ngx_http_cleanup_t            *cln;
    ngx_http_fraiseql_pgc_t       *pgc;
    ngx_http_fraiseql_probe_t     *p;
    ngx_http_fraiseql_loc_conf_t  *flcf;

    if (!(r->method & (NGX_HTTP_GET|NGX_HTTP_HEAD))) {
        return NGX_HTTP_NOT_ALLOWED;
    }

    rc = ngx_http_discard_request_body(r);
    if (rc != NGX_OK) {
        return rc;
    }

    flcf = ngx_http_get_module_loc_conf(r, ngx_http_fraiseql_module);

    if (flcf->health == 1) {
        return ngx_http_fraiseql_health_send(r, NGX_HTTP_OK,
                                             "{\"status\":\"live\"}\n");
    }

    if (flcf->group == NULL) {
        return ngx_http_fraiseql_health_send(r, NGX_HTTP_SERVICE_UNAVAILABLE,
                   "{\"status\":\"unavailable\",\"reason\":\"no "
                   "fraiseql_database\"}\n");
    }

    p = ngx_pcalloc(r->pool, sizeof(ngx_http_fraiseql_probe_t));
    if (p == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    p->r = r;
    p->waiter.ready = ngx_http_fraiseql_probe_ready;
    p->waiter.failed = ngx_http_fraiseql_probe_failed;
    p->waiter.data = p;
    p->waiter.log = r->connection->log;
    p->waiter.verify = 1;

    rc = ngx_http_fraiseql_pool_acquire(flcf->group, &p->waiter, &pgc);

    switch (rc) {

    case NGX_OK:
        p->done = 1;
        ngx_http_fraiseql_pool_release(pgc, 1);
        return ngx_http_fraiseql_health_send(r, NGX_HTTP_OK,
                                             ngx_http_fraiseql_ready);

    case NGX_AGAIN:
        cln = ngx_http_cleanup_add(r, 0);
        if (cln == NULL) {
            ngx_http_fraiseql_pool_cancel_wait(&p->waiter);
            return NGX_HTTP_INTERNAL_SERVER_ERROR;
        }

        cln->handler = ngx_http_fraiseql_probe_cleanup;
        cln->data = p;

        r->main->count++;
        return NGX_DONE;

    case NGX_BUSY:
        /* it works, it is busy: taking it out of a balancer helps not */
        p->done = 1;
        return ngx_http_fraiseql_health_send(r, NGX_HTTP_OK,
                   "{\"status\":\"ready\",\"busy\":true}\n");

    default:
        p->done = 1;
        return ngx_http_fraiseql_health_send(r, NGX_HTTP_SERVICE_UNAVAILABLE,
                                             ngx_http_fraiseql_down);
    }
}


/* ---- the trace context ---- */

/*
 * The request's W3C trace context: its traceparent's trace id and flags,
 * or a new trace id; the span id is the module's own, a child of the
 * caller's.  The requests of a batch share their HTTP request's.
 * NGX_ERROR: no randomness.
 */
ngx_int_t
ngx_http_fraiseql_trace(ngx_http_request_t *r)
{
    u_char                    rnd[24];
    ngx_uint_t                i;
    ngx_list_part_t          *part;
    ngx_table_elt_t          *h, *found;
    ngx_http_fraiseql_ctx_t  *ctx;

    ctx = ngx_http_fraiseql_main_ctx(r);

    if (ctx == NULL) {
        return NGX_ERROR;
    }

    if (ctx->obs.traced) {
        return NGX_OK;
    }

    found = NULL;
    part = &r->main->headers_in.headers.part;
    h = part->elts;

    for (i = 0; /* void */; i++) {
        if (i >= part->nelts) {
            if (part->next == NULL) {
                break;
            }

            part = part->next;
            h = part->elts;
            i = 0;
        }

        if (h[i].key.len == sizeof("traceparent") - 1
            && ngx_strncasecmp(h[i].key.data, (u_char *) "traceparent",
                               sizeof("traceparent") - 1) == 0)
        {
            found = (found == NULL) ? &h[i] : (ngx_table_elt_t *) -1;
        }
    }

    if (RAND_bytes(rnd, sizeof(rnd)) != 1) {
        return NGX_ERROR;
    }

    /* two of them: the spec says to ignore both */
    if (found == (ngx_table_elt_t *) -1) {
        found = NULL;
    }

    (void) fql_traceparent_child(found ? (char *) found->value.data : NULL,
                                 found ? found->value.len : 0, rnd,
                                 (char *) ctx->obs.traceparent);

    ctx->obs.traced = 1;

    return NGX_OK;
}


/* ---- variables ---- */

static ngx_int_t
ngx_http_fraiseql_var_str(ngx_http_variable_value_t *v, u_char *data,
    size_t len)
{
    v->data = data;
    v->len = len;
    v->valid = 1;
    v->no_cacheable = 1;
    v->not_found = 0;

    return NGX_OK;
}


/* "-" when it does not apply, as the issue asks of every variable */
static ngx_int_t
ngx_http_fraiseql_var_none(ngx_http_variable_value_t *v)
{
    return ngx_http_fraiseql_var_str(v, (u_char *) "-", 1);
}


/* seconds with milliseconds, as $upstream_response_time */
static ngx_int_t
ngx_http_fraiseql_var_time(ngx_http_request_t *r,
    ngx_http_variable_value_t *v, uint64_t us)
{
    u_char  *p;

    p = ngx_pnalloc(r->pool, NGX_TIME_T_LEN + 5);
    if (p == NULL) {
        return NGX_ERROR;
    }

    return ngx_http_fraiseql_var_str(v, p,
               ngx_sprintf(p, "%uL.%03uL", us / 1000000, (us / 1000) % 1000)
               - p);
}


#define NGX_HTTP_FRAISEQL_VAR_NAME       0
#define NGX_HTTP_FRAISEQL_VAR_TYPE       1
#define NGX_HTTP_FRAISEQL_VAR_HASH       2
#define NGX_HTTP_FRAISEQL_VAR_DB_TIME    3
#define NGX_HTTP_FRAISEQL_VAR_WAIT_TIME  4
#define NGX_HTTP_FRAISEQL_VAR_ROWS       5
#define NGX_HTTP_FRAISEQL_VAR_CODE       6
#define NGX_HTTP_FRAISEQL_VAR_ERRORS     7
#define NGX_HTTP_FRAISEQL_VAR_MUTATION   8
#define NGX_HTTP_FRAISEQL_VAR_TRACE_ID   9
#define NGX_HTTP_FRAISEQL_VAR_PARENT     10


static ngx_int_t
ngx_http_fraiseql_obs_variable(ngx_http_request_t *r,
    ngx_http_variable_value_t *v, uintptr_t data)
{
    u_char                   *p;
    u_char                    md[32];
    ngx_http_fraiseql_ctx_t  *ctx;

    ctx = ngx_http_get_module_ctx(r, ngx_http_fraiseql_module);

    if (ctx == NULL) {
        return data == NGX_HTTP_FRAISEQL_VAR_MUTATION
               ? ngx_http_fraiseql_var_str(v, (u_char *) "", 0)
               : ngx_http_fraiseql_var_none(v);
    }

    switch (data) {

    case NGX_HTTP_FRAISEQL_VAR_NAME:
        if (ctx->plan == NULL || ctx->plan->name.len == 0) {
            return ngx_http_fraiseql_var_none(v);
        }

        return ngx_http_fraiseql_var_str(v, (u_char *) ctx->plan->name.data,
                                         ctx->plan->name.len);

    case NGX_HTTP_FRAISEQL_VAR_TYPE:
        if (ctx->batch.pipe_last != NULL) {
            return ngx_http_fraiseql_var_str(v, (u_char *) "batch", 5);
        }

        if (ngx_http_fraiseql_type(ctx) == 3) {
            return ngx_http_fraiseql_var_none(v);
        }

        p = (u_char *) ngx_http_fraiseql_types[ngx_http_fraiseql_type(ctx)];
        return ngx_http_fraiseql_var_str(v, p, ngx_strlen(p));

    case NGX_HTTP_FRAISEQL_VAR_HASH:
        /* the APQ hash or the document's, as APQ would name it */
        if (ctx->obs.document.data == NULL) {
            return ngx_http_fraiseql_var_none(v);
        }

        fql_sha256(ctx->obs.document.data, ctx->obs.document.len, md);

        p = ngx_pnalloc(r->pool, 64);
        if (p == NULL) {
            return NGX_ERROR;
        }

        ngx_hex_dump(p, md, 32);
        return ngx_http_fraiseql_var_str(v, p, 64);

    case NGX_HTTP_FRAISEQL_VAR_DB_TIME:
        if (ctx->obs.db_start == 0) {
            return ngx_http_fraiseql_var_none(v);
        }

        return ngx_http_fraiseql_var_time(r, v,
                                       ctx->obs.db_end - ctx->obs.db_start);

    case NGX_HTTP_FRAISEQL_VAR_WAIT_TIME:
        if (ctx->obs.db_start == 0) {
            return ngx_http_fraiseql_var_none(v);
        }

        return ngx_http_fraiseql_var_time(r, v, ctx->obs.wait);

    case NGX_HTTP_FRAISEQL_VAR_ROWS:
    case NGX_HTTP_FRAISEQL_VAR_ERRORS:
        p = ngx_pnalloc(r->pool, NGX_INT_T_LEN);
        if (p == NULL) {
            return NGX_ERROR;
        }

        return ngx_http_fraiseql_var_str(v, p,
                   ngx_sprintf(p, "%ui", data == NGX_HTTP_FRAISEQL_VAR_ROWS
                                         ? ctx->obs.rows : ctx->obs.nerrors)
                   - p);

    case NGX_HTTP_FRAISEQL_VAR_CODE:
        if (ctx->obs.code == NULL) {
            return ngx_http_fraiseql_var_none(v);
        }

        return ngx_http_fraiseql_var_str(v, (u_char *) ctx->obs.code,
                                         ngx_strlen(ctx->obs.code));

    case NGX_HTTP_FRAISEQL_VAR_MUTATION:
        /* for access_log if=: empty or "1" */
        if (ngx_http_fraiseql_type(ctx) == 1) {
            return ngx_http_fraiseql_var_str(v, (u_char *) "1", 1);
        }

        return ngx_http_fraiseql_var_str(v, (u_char *) "", 0);

    default: /* the trace context */
        if (ngx_http_fraiseql_trace(r) == NGX_ERROR) {
            return NGX_ERROR;
        }

        ctx = ngx_http_fraiseql_main_ctx(r);

        if (data == NGX_HTTP_FRAISEQL_VAR_TRACE_ID) {
            return ngx_http_fraiseql_var_str(v, ctx->obs.traceparent + 3, 32);
        }

        return ngx_http_fraiseql_var_str(v, ctx->obs.traceparent, 55);
    }
}


ngx_int_t
ngx_http_fraiseql_observe_variables(ngx_conf_t *cf)
{
    ngx_uint_t            i;
    ngx_http_variable_t  *var;

    static ngx_str_t  names[] = {
        ngx_string("fraiseql_operation_name"),
        ngx_string("fraiseql_operation_type"),
        ngx_string("fraiseql_document_hash"),
        ngx_string("fraiseql_db_time"),
        ngx_string("fraiseql_pool_wait_time"),
        ngx_string("fraiseql_rows"),
        ngx_string("fraiseql_error_code"),
        ngx_string("fraiseql_errors"),
        ngx_string("fraiseql_is_mutation"),
        ngx_string("fraiseql_trace_id"),
        ngx_string("fraiseql_traceparent"),
    };

    for (i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
        var = ngx_http_add_variable(cf, &names[i], NGX_HTTP_VAR_NOCACHEABLE);
        if (var == NULL) {
            return NGX_ERROR;
        }

        var->get_handler = ngx_http_fraiseql_obs_variable;
        var->data = i;
    }

    return NGX_OK;
}


/* ---- Server-Timing ---- */

/*
 * fraiseql_server_timing on: what the request cost before its first byte
 * (the header goes with it: the rows still streaming are not counted):
 * the time before the statements (parse, validation, plan, checks), the
 * wait for a connection, and the database's until the first row.
 */
ngx_int_t
ngx_http_fraiseql_server_timing(ngx_http_fraiseql_ctx_t *ctx)
{
    u_char              *p;
    uint64_t             now, pre, db;
    ngx_table_elt_t     *h;
    ngx_http_request_t  *r = ctx->r;

    if (!ctx->lcf->server_timing || r != r->main) {
        return NGX_OK;
    }

    now = ngx_http_fraiseql_now_us();
    pre = (ctx->obs.db_start ? ctx->obs.db_start : now) - ctx->obs.start;
    pre = pre > ctx->obs.wait ? pre - ctx->obs.wait : 0;
    db = ctx->obs.db_start ? now - ctx->obs.db_start : 0;

    p = ngx_pnalloc(r->pool, 128);
    if (p == NULL) {
        return NGX_ERROR;
    }

    h = ngx_list_push(&r->headers_out.headers);
    if (h == NULL) {
        return NGX_ERROR;
    }

    h->hash = 1;
    ngx_str_set(&h->key, "Server-Timing");
    h->value.data = p;
    h->value.len = ngx_sprintf(p, "plan;dur=%uL.%03uL, wait;dur=%uL.%03uL, "
                               "db;dur=%uL.%03uL;desc=\"first row\"",
                               pre / 1000, pre % 1000,
                               ctx->obs.wait / 1000, ctx->obs.wait % 1000,
                               db / 1000, db % 1000)
                   - p;

    return NGX_OK;
}
