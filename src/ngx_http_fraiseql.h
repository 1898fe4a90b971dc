/*
 * fraiseql-nginx: declarations shared by the nginx-facing files.
 */

#ifndef NGX_HTTP_FRAISEQL_H
#define NGX_HTTP_FRAISEQL_H

#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>

#include <libpq-fe.h>

#include "fql_compile.h"
#include "fql_cache.h"
#include "fql_transform.h"
#include "fql_jwk.h"
#include "fql_jwt.h"
#include "fql_request.h"


/* the nginx timer's margin over the server's statement_timeout */
#define NGX_HTTP_FRAISEQL_TIMEOUT_GRACE  1000

/* named statements kept per connection; past that, unnamed ones */
#define NGX_HTTP_FRAISEQL_PREPARED_MAX  256

/* bytes of rows a slot transforms before the event loop takes a turn */
#define NGX_HTTP_FRAISEQL_ROWS_TURN  131072

/* how long a connection whose statement overran waits for its cancel */
#define NGX_HTTP_FRAISEQL_CANCEL_WAIT  5000

/* servers of a location: the pool's choice keeps a bit for each */
#define NGX_HTTP_FRAISEQL_SERVERS_MAX  64

/* a query's runs after the first on connections found stale (a restart) */
#define NGX_HTTP_FRAISEQL_STALE_RETRIES  3

/* the pool's defaults, for the locations and their servers alike */
#define NGX_HTTP_FRAISEQL_POOL_SIZE        8
#define NGX_HTTP_FRAISEQL_CONNECT_TIMEOUT  5000
#define NGX_HTTP_FRAISEQL_IDLE_TIMEOUT     600000
#define NGX_HTTP_FRAISEQL_LIFETIME         3600000

typedef struct ngx_http_fraiseql_pool_s    ngx_http_fraiseql_pool_t;
typedef struct ngx_http_fraiseql_pgc_s     ngx_http_fraiseql_pgc_t;
typedef struct ngx_http_fraiseql_waiter_s  ngx_http_fraiseql_waiter_t;
typedef struct ngx_http_fraiseql_stmt_s    ngx_http_fraiseql_stmt_t;
typedef struct ngx_http_fraiseql_slot_s    ngx_http_fraiseql_slot_t;
typedef struct ngx_http_fraiseql_ctx_s     ngx_http_fraiseql_ctx_t;
typedef struct ngx_http_fraiseql_metrics_s ngx_http_fraiseql_metrics_t;
/* tokens a worker verified, by their SHA-256 (auth.c) */
typedef struct ngx_http_fraiseql_jwt_cache_s  ngx_http_fraiseql_jwt_cache_t;
/* fraiseql_permissions: answers of a SQL function in a shared zone */
typedef struct ngx_http_fraiseql_perms_s  ngx_http_fraiseql_perms_t;
/* a key set: a fraiseql_jwt_jwks_file, which workers re-read when it
 * changes, or a fraiseql_jwt_jwks_uri, which they fetch (auth.c) */
typedef struct ngx_http_fraiseql_jwks_s  ngx_http_fraiseql_jwks_t;

/* a busy connection's events go to the handler its user set */
typedef void (*ngx_http_fraiseql_pgc_handler_pt)(
    ngx_http_fraiseql_pgc_t *pgc);
/* a waiter got a connection (BUSY, now its own) */
typedef void (*ngx_http_fraiseql_ready_pt)(ngx_http_fraiseql_waiter_t *w,
    ngx_http_fraiseql_pgc_t *pgc);
/* none came: the queue timeout, or the server went down (choose again) */
typedef void (*ngx_http_fraiseql_failed_pt)(ngx_http_fraiseql_waiter_t *w,
    ngx_uint_t timedout);


/*
 * One `fraiseql_database` directive, a server: parsed once, shared by
 * workers.  The pool settings are the largest its locations ask for.
 */
typedef struct {
    ngx_str_t                   conninfo;
    const char                **keywords;    /* for PQconnectStartParams */
    const char                **values;
    ngx_uint_t                  options;     /* index of "options" */
    ngx_uint_t                  replica;     /* role=replica */
    ngx_uint_t                  pool_size;
    ngx_uint_t                  pool_min;
    ngx_uint_t                  queue_size;
    ngx_msec_t                  queue_timeout;
    ngx_msec_t                  connect_timeout;
    ngx_msec_t                  statement_timeout;  /* sent at connect */
    ngx_msec_t                  idle_timeout;       /* 0: none */
    ngx_msec_t                  lifetime;           /* 0: none */
    ngx_http_fraiseql_pool_t   *pool;        /* this worker's, lazily */
} ngx_http_fraiseql_db_t;


/* the servers of a location: primaries and replicas */
typedef struct {
    ngx_array_t                 servers;     /* ngx_http_fraiseql_db_t * */
    ngx_uint_t                  rr;          /* this worker's turn */
} ngx_http_fraiseql_group_t;


/* http{} level */
typedef struct {
    ngx_uint_t                  plan_cache;  /* plans per worker; 0: off */
    size_t                      plan_cache_size;   /* their bytes */
    fql_cache_t                *cache;       /* this worker's */
    ngx_array_t                 dbs;         /* every server */
    /* this worker's verified-token caches, freed when it exits */
    ngx_http_fraiseql_jwt_cache_t  *jwt_caches;
    /* every key set file, each checked by a timer in each worker */
    ngx_http_fraiseql_jwks_t       *jwks;
    ngx_http_fraiseql_perms_t      *perms;   /* fraiseql_permissions */
    ngx_http_fraiseql_db_t         *listen;  /* fraiseql_listen */
    ngx_shm_zone_t                 *metrics; /* fraiseql_metrics_zone */
} ngx_http_fraiseql_main_conf_t;


/* fraiseql_jwt */
#define NGX_HTTP_FRAISEQL_JWT_OFF       0
#define NGX_HTTP_FRAISEQL_JWT_REQUIRED  1
#define NGX_HTTP_FRAISEQL_JWT_OPTIONAL  2

/* fraiseql_db_setting NAME VALUE */
typedef struct {
    ngx_str_t                   name;
    ngx_http_complex_value_t    value;
} ngx_http_fraiseql_setting_t;

/* who asks, and what PostgreSQL learns of it (auth.c) */
typedef struct {
    ngx_uint_t                  mode;        /* NGX_HTTP_FRAISEQL_JWT_* */
    ngx_http_complex_value_t   *token;       /* NULL: Authorization */
    ngx_array_t                *keys;        /* fql_jwt_key_t */
    ngx_http_fraiseql_jwks_t   *jwks;        /* NULL: no key set file */
    ngx_str_t                   issuer;
    ngx_array_t                *audiences;   /* ngx_str_t; "any" */
    time_t                      leeway;
    size_t                      max_size;
    ngx_str_t                   role_claim;  /* a JSON pointer */
    ngx_str_t                   anon_role;
    ngx_str_t                   roles_claim;  /* the roles one may pick */
    ngx_str_t                   role_header;  /* ... with this header */
    ngx_uint_t                  db_role;     /* claim: set_config('role') */
    ngx_uint_t                  trace;       /* fraiseql_trace_context guc */
    ngx_array_t                *settings;    /* fraiseql_db_setting */
    ngx_uint_t                  cache_size;  /* tokens; 0: no cache */
    time_t                      cache_ttl;
    ngx_str_t                   perms_claim;  /* a JSON pointer */
    ngx_uint_t                  denied_null;  /* fraiseql_auth_denied */
    ngx_http_fraiseql_jwt_cache_t  *cache;   /* this worker's, lazily */
    /* computed at merge; jwt.keys: the pinned keys, then the key set's,
     * replaced by the worker when the key set file changes */
    fql_jwt_conf_t              jwt;
    const char                 *lead;        /* the settings' statement */
    size_t                      lead_len;
    uint64_t                    lead_hash;   /* its name, fq_<hash> */
    ngx_uint_t                  lead_nparams;
} ngx_http_fraiseql_auth_conf_t;

/* a request's identity */
typedef struct {
    fql_jwt_status_t            status;      /* OK, MISSING, or why not */
    fql_jwt_t                   jwt;         /* OK: the claims */
    ngx_str_t                   role;        /* empty: none */
    const char                **lead_params; /* NULL: no leading statement */
    fql_caller_t                caller;      /* for the schema's rules */
    void                       *perms;       /* its permissions' fetch */
    ngx_queue_t                 queue;       /* waiting for a key set */
    ngx_event_t                 resume;      /* ... which came or not */
    unsigned                    checked:1;   /* fraiseql_jwt is on */
    unsigned                    cached:1;    /* verified before */
    unsigned                    waiting:1;   /* in a key set's queue */
    unsigned                    waited:1;    /* waits at most once */
} ngx_http_fraiseql_auth_t;


/* a fraiseql_limit_zone (limit.c) */
typedef struct ngx_http_fraiseql_limit_zone_s  ngx_http_fraiseql_limit_zone_t;

/* a fraiseql_limit of a location */
typedef struct {
    ngx_shm_zone_t             *shm_zone;
    ngx_uint_t                  capacity;    /* thousandths of units */
    unsigned                    nodelay:1;
    unsigned                    refund:1;
} ngx_http_fraiseql_limit_t;

typedef struct {
    ngx_array_t                *limits;      /* ngx_http_fraiseql_limit_t */
    ngx_uint_t                  status;      /* fraiseql_limit_status */
    ngx_flag_t                  dry_run;
    ngx_uint_t                  log_level;
    ngx_uint_t                  delay_log_level;
    ngx_int_t                   max_cost;    /* 0: none */
    ngx_flag_t                  extensions;  /* fraiseql_cost_extensions */
    unsigned                    requests:1;  /* has request zones */
    unsigned                    points:1;    /* ... cost zones */
    unsigned                    refund:1;    /* ... one that refunds */
} ngx_http_fraiseql_limit_conf_t;

/* $fraiseql_limit_status */
#define NGX_HTTP_FRAISEQL_LIMIT_PASSED            1
#define NGX_HTTP_FRAISEQL_LIMIT_DELAYED           2
#define NGX_HTTP_FRAISEQL_LIMIT_REJECTED          3
#define NGX_HTTP_FRAISEQL_LIMIT_DELAYED_DRY_RUN   4
#define NGX_HTTP_FRAISEQL_LIMIT_REJECTED_DRY_RUN  5

/* one zone's answer to a request */
typedef struct {
    ngx_str_t                   key;         /* len 0: not limited */
    uint32_t                    hash;
    ngx_uint_t                  level;       /* with the charge */
    ngx_uint_t                  charge;      /* thousandths */
    ngx_uint_t                  busy;
} ngx_http_fraiseql_limit_try_t;

/* a request's limits */
typedef struct {
    ngx_uint_t                  status;      /* NGX_HTTP_FRAISEQL_LIMIT_* */
    uint64_t                    cost;        /* requested, in points */
    ngx_http_fraiseql_limit_try_t  *tries;   /* the cost zones' */
    ngx_event_t                 delay;       /* a delayed request's */
    ngx_uint_t                  phase;       /* 1: delayed for its cost */
    ngx_str_t                   ext;         /* ,"extensions":{...} */
    unsigned                    charged:1;   /* the cost zones took it */
} ngx_http_fraiseql_limit_ctx_t;


/* fraiseql_persisted */
#define NGX_HTTP_FRAISEQL_PERSISTED_APQ      1
#define NGX_HTTP_FRAISEQL_PERSISTED_TRUSTED  2

/* a fraiseql_persisted_zone, a fraiseql_trusted_documents (persist.c) */
typedef struct ngx_http_fraiseql_apq_zone_s  ngx_http_fraiseql_apq_zone_t;
typedef struct ngx_http_fraiseql_trusted_s   ngx_http_fraiseql_trusted_t;

typedef struct {
    ngx_uint_t                  mode;        /* NGX_HTTP_FRAISEQL_PERSISTED_* */
    ngx_http_fraiseql_trusted_t   *trusted;
    ngx_http_fraiseql_apq_zone_t  *zone;
    ngx_str_t                   cache_control;  /* len 0: none */
    ngx_str_t                   vary;
} ngx_http_fraiseql_persist_conf_t;

/* a request's persisted document */
typedef struct {
    ngx_uint_t                  status;      /* of its refusal */
    u_char                      hash[32];    /* to register */
    unsigned                    register_apq:1;
} ngx_http_fraiseql_persist_ctx_t;


/* a batch (batch.c): the request's, or a subrequest's own item */
typedef struct {
    fql_jval_t                 *item;        /* running now */
    ngx_uint_t                  index;       /* ... its place */
    ngx_http_request_t         *current;     /* ... its subrequest */
    ngx_uint_t                  pending;     /* subrequests not ended */
    /* the queries' slots, gathered for one pipeline (exec.c) */
    ngx_http_fraiseql_slot_t   *pipe;
    ngx_http_fraiseql_slot_t  **pipe_last;
    ngx_http_fraiseql_slot_t   *rerun;       /* as ctx->rerun */
    ngx_uint_t                  inflight;    /* gathered, not done */
    ngx_http_fraiseql_ctx_t    *waiting;     /* a mutation, for them */
    ngx_event_t                 resume;      /* ... to go on */
    /* a subrequest's */
    ngx_http_fraiseql_ctx_t    *parent;
    fql_jval_t                 *elem;        /* its request */
    unsigned                    running:1;
    unsigned                    first:1;     /* the batch's first */
    unsigned                    ended:1;
} ngx_http_fraiseql_batch_t;


/* fraiseql_cors's origins and options (web.c) */
typedef struct ngx_http_fraiseql_cors_s  ngx_http_fraiseql_cors_t;

/* fraiseql_cors, fraiseql_graphiql, fraiseql_graphiql_assets (web.c) */
typedef struct {
    ngx_http_fraiseql_cors_t   *cors;        /* NULL: off */
    ngx_str_t                   cors_allow_headers;  /* at merge */
    ngx_flag_t                  graphiql;
    ngx_str_t                   graphiql_assets;     /* ends in '/' */
    /* at merge: the page around its endpoint, and its policy */
    ngx_str_t                   graphiql_head;
    ngx_str_t                   graphiql_tail;
    ngx_str_t                   graphiql_csp;
} ngx_http_fraiseql_web_conf_t;


/* how a location's statements run, set at configuration */
typedef struct {
    ngx_msec_t                       timeout;  /* PostgreSQL's silence */
    ngx_flag_t                       named;    /* may be prepared */
    ngx_flag_t                       pipeline; /* prepare + run at once */
} ngx_http_fraiseql_stmt_conf_t;


typedef struct {
    /* fraiseql, fraiseql_schema, fraiseql_database */
    ngx_flag_t                  enable;
    fql_schema_t               *schema;
    ngx_str_t                   schema_file;
    ngx_http_fraiseql_group_t  *group;

    /* the pool */
    ngx_uint_t                  pool_size;
    ngx_uint_t                  pool_min;
    ngx_uint_t                  queue_size;
    ngx_msec_t                  queue_timeout;
    ngx_msec_t                  idle_timeout;
    ngx_msec_t                  lifetime;

    /* timeouts */
    ngx_msec_t                  connect_timeout;
    ngx_msec_t                  query_timeout;
    ngx_msec_t                  send_timeout;  /* holding a connection */

    /* the answer's buffers */
    ngx_uint_t                  request_connections;
    ngx_bufs_t                  buffers;     /* for answers not yet sent */
    off_t                       max_temp_file_size;

    /* limits */
    size_t                      max_document_size;
    ngx_uint_t                  max_root_fields;
    ngx_uint_t                  max_aliases;
    ngx_uint_t                  max_fields;
    ngx_uint_t                  max_directives;
    ngx_uint_t                  max_tokens;
    ngx_uint_t                  max_depth;
    ngx_uint_t                  max_conditions;
    ngx_uint_t                  batch;       /* fraiseql_batch; 0: off */
    ngx_uint_t                  default_limit;
    ngx_uint_t                  max_limit;

    /* switches */
    ngx_flag_t                  introspection;
    ngx_flag_t                  prepared;    /* named prepared statements */
    ngx_flag_t                  pipeline;    /* prepare + run at once */
    ngx_flag_t                  debug;       /* database messages shown */

    /* observe.c */
    ngx_uint_t                  health;      /* 1 live, 2 ready */
    ngx_flag_t                  server_timing;
    ngx_flag_t                  metrics_count;  /* its requests count */

    ngx_http_fraiseql_auth_conf_t  auth;
    ngx_http_fraiseql_limit_conf_t limit;
    ngx_http_fraiseql_persist_conf_t  persist;
    ngx_http_fraiseql_web_conf_t   web;

    /* computed at merge from the above */
    ngx_http_fraiseql_stmt_conf_t  stmt;
    fql_engine_t                engine;      /* schema and limits */
} ngx_http_fraiseql_loc_conf_t;


typedef enum {
    NGX_HTTP_FRAISEQL_PGC_CONNECTING = 0,
    NGX_HTTP_FRAISEQL_PGC_IDLE,
    NGX_HTTP_FRAISEQL_PGC_BUSY,
    /* its statement overran: waits for its cancel, then closes */
    NGX_HTTP_FRAISEQL_PGC_CANCELLING
} ngx_http_fraiseql_pgc_state_e;

/* one libpq connection of a worker's pool */
struct ngx_http_fraiseql_pgc_s {
    ngx_queue_t                        queue;   /* idle, cancels or free */
    ngx_http_fraiseql_pool_t          *pool;
    PGconn                            *pg;
    ngx_connection_t                  *c;
    ngx_log_t                          log;     /* its action, its server */
    ino_t                              ino;     /* of the registered socket */
    ngx_http_fraiseql_pgc_state_e      state;
    /* BUSY: set by whoever holds it */
    ngx_http_fraiseql_pgc_handler_pt   handler;
    void                              *data;
    ngx_msec_t                         born;    /* connect started */
    /* lives as long as the PostgreSQL session; what it knows is there */
    ngx_pool_t                        *session;
    ngx_array_t                       *prepared;  /* stmt.c's */
    /* BUSY, the pool's own: cancels target's statement; and the reverse */
    ngx_http_fraiseql_pgc_t           *cancel_target;
    ngx_http_fraiseql_pgc_t           *canceller;
    unsigned                           flushing:1;
    unsigned                           cancel_queued:1;  /* pool->cancels */
    /* has served or waited idle: may have been killed since (a restart) */
    unsigned                           reused:1;
};

/* one who waits for a connection, set up by its owner */
struct ngx_http_fraiseql_waiter_s {
    ngx_queue_t                        queue;
    ngx_http_fraiseql_pool_t          *pool;    /* queued there, or NULL */
    ngx_event_t                        timer;   /* the queue timeout */
    ngx_http_fraiseql_ready_pt         ready;
    ngx_http_fraiseql_failed_pt        failed;
    void                              *data;
    ngx_log_t                         *log;
    unsigned                           write:1;   /* primaries only */
    /* an idle connection surely alive: for what is never sent twice */
    unsigned                           verify:1;
};

struct ngx_http_fraiseql_pool_s {
    ngx_http_fraiseql_db_t   *db;
    ngx_log_t                *log;
    ngx_uint_t                nconns;       /* open or opening */
    ngx_uint_t                nconnecting;
    ngx_queue_t               idle;
    ngx_queue_t               free;         /* spare pgc structures */
    ngx_queue_t               waiters;
    ngx_queue_t               cancels;      /* CANCELLING ones, unsent */
    ngx_uint_t                nwaiters;
    ngx_msec_t                backoff;      /* after a failed connect */
    ngx_msec_t                retry_at;
    ngx_uint_t                failures;     /* in a row */
    ngx_uint_t                nidle;
    ngx_event_t               warm;         /* keeps pool_min open */
};


/*
 * Where a statement is in the protocol: whose results PostgreSQL sends
 * now.  The steps sent are a set of these (a Prepare sent alone is
 * followed by its run when it is over; pipelined ones went at once, and
 * a Sync closes them).
 */
typedef enum {
    NGX_HTTP_FRAISEQL_STMT_LEAD_PREPARE = 0,  /* its Prepare's */
    NGX_HTTP_FRAISEQL_STMT_LEAD,       /* the leading statement's */
    NGX_HTTP_FRAISEQL_STMT_PREPARE,    /* the Prepare's */
    NGX_HTTP_FRAISEQL_STMT_ROWS,       /* the statement's rows */
    NGX_HTTP_FRAISEQL_STMT_SYNC,       /* the pipeline's end */
    NGX_HTTP_FRAISEQL_STMT_DONE        /* nothing more: a last NULL */
} ngx_http_fraiseql_stmt_phase_e;

/* a statement run on a connection: its protocol, in stmt.c */
struct ngx_http_fraiseql_stmt_s {
    ngx_http_fraiseql_pgc_t              *pgc;
    const fql_root_plan_t                *plan;
    const ngx_http_fraiseql_stmt_conf_t  *conf;
    /* run first, in the same pipeline (its results are not rows) */
    const char                           *lead;
    size_t                                lead_len;
    uint64_t                              lead_hash;
    int                                   lead_nparams;
    const char *const                    *lead_params;
    ngx_log_t                            *log;     /* the request's */
    ngx_http_fraiseql_stmt_phase_e        phase;
    ngx_uint_t                            steps;   /* 1 << phase, sent */
    ngx_uint_t                            refused; /* an error came */
    /* queued before it in the same pipeline, while it is queued */
    ngx_http_fraiseql_stmt_t             *prev;
    /* others' statements follow it before the Sync */
    unsigned                              more:1;
    /* PostgreSQL skipped it: one before it in the pipeline failed */
    unsigned                              skipped:1;
};

/* what a PostgreSQL error means for the client */
typedef struct {
    const char                      *code;     /* GraphQL's */
    const char                      *fmt;      /* field, SQLSTATE, text */
    const char                      *state;
    const char                      *message;
} ngx_http_fraiseql_stmt_error_t;


typedef enum {
    NGX_HTTP_FRAISEQL_SLOT_NEW = 0,
    NGX_HTTP_FRAISEQL_SLOT_WAITING,
    NGX_HTTP_FRAISEQL_SLOT_RUNNING,
    NGX_HTTP_FRAISEQL_SLOT_DONE
} ngx_http_fraiseql_slot_state_e;

/* one root field of the response, in document order */
struct ngx_http_fraiseql_slot_s {
    ngx_http_fraiseql_ctx_t         *ctx;
    fql_root_plan_t                 *plan;
    ngx_uint_t                       index;
    ngx_http_fraiseql_slot_state_e   state;
    ngx_http_fraiseql_waiter_t       waiter;   /* WAITING */
    ngx_http_fraiseql_stmt_t         stmt;     /* RUNNING: stmt.pgc */
    fql_wbuf_t                       w;
    ngx_buf_t                       *buf;      /* being written */
    ngx_buf_t                       *value_buf;  /* the value starts */
    size_t                           value_off;   /* ... in it, here */
    ngx_chain_t                     *out;      /* held until streaming */
    ngx_chain_t                    **last;
    ngx_chain_t                     *file;     /* out's last file link */
    ngx_uint_t                       nrows;
    /*
     * Runs of the statement started.  A query runs again once when its
     * connection fails before it produced anything, and up to
     * NGX_HTTP_FRAISEQL_STALE_RETRIES more times when that connection
     * was stale; a mutation runs once.
     */
    ngx_uint_t                       runs;
    /* the next root field whose statement waits in the same pipeline */
    ngx_http_fraiseql_slot_t        *pipe_next;
    /* the pipeline's first skipped slot: its request's, or its batch's */
    ngx_http_fraiseql_slot_t       **rerun;
    uint64_t                         wait_start;  /* µs: it queued */
    unsigned                         opened:1;     /* its key written */
    unsigned                         paused:1;     /* no room: rows wait */
    unsigned                         streaming:1;  /* head: straight out */
    unsigned                         value_sent:1;  /* partly sent */
    unsigned                         failed:1;     /* its error is listed */
    unsigned                         woken:1;      /* by the wake handler */
    unsigned                         gathered:1;   /* in a batch's pipe */
};

/* what a request did, for the metrics, the log and Server-Timing */
typedef struct {
    uint64_t                         start;     /* µs, monotonic */
    uint64_t                         db_start;  /* first statement sent */
    uint64_t                         db_end;    /* last result read */
    uint64_t                         wait;      /* for connections, µs */
    ngx_uint_t                       rows;
    ngx_uint_t                       nerrors;
    const char                      *code;      /* the first error's */
    fql_str_t                        document;  /* its text, when known */
    u_char                           traceparent[56];
    unsigned                         db_error:1;
    unsigned                         planned:1;  /* cache.op is known */
    unsigned                         recorded:1;
    unsigned                         traced:1;
} ngx_http_fraiseql_obs_t;

struct ngx_http_fraiseql_ctx_s {
    ngx_http_request_t              *r;
    fql_arena_t                      arena;
    fql_errors_t                     errs;
    fql_plan_t                      *plan;
    fql_cache_result_t               cache;
    ngx_http_fraiseql_loc_conf_t    *lcf;
    ngx_http_fraiseql_slot_t        *slots;
    ngx_uint_t                       nslots;
    ngx_uint_t                       head;
    ngx_uint_t                       next;      /* slot to start next */
    ngx_uint_t                       nactive;   /* started, not DONE */
    /* the first slot PostgreSQL skipped, to run again after the Sync */
    ngx_http_fraiseql_slot_t        *rerun;
    size_t                           mem;       /* answer buffers' bytes */
    ngx_temp_file_t                 *temp;      /* answer past the memory */
    ngx_event_t                      hold;      /* client stalls a pgc */
    ngx_event_t                      wake;      /* paused slots read on */
    ngx_event_t                      restart;   /* slots left NEW start */
    ngx_event_t                      flush;     /* the head's, this turn */
    ngx_chain_t                     *free;
    ngx_chain_t                     *busy;
    ngx_int_t                        rc;        /* to finalize with */
    ngx_event_t                      fin;       /* posted finalization */
    ngx_http_fraiseql_auth_t         auth;
    ngx_http_fraiseql_limit_ctx_t    limit;
    ngx_http_fraiseql_persist_ctx_t  persist;
    ngx_http_fraiseql_batch_t        batch;
    ngx_http_fraiseql_obs_t          obs;
    unsigned                         header_sent:1;
    unsigned                         blocked:1;   /* client is slow */
    unsigned                         finished:1;
    unsigned                         committed:1;  /* a mutation did */
    unsigned                         piped:1;     /* pipeline considered */
    unsigned                         graphql_response:1;  /* media type */
};


extern ngx_module_t  ngx_http_fraiseql_module;

/* the HTTP request's context: a batch's, for its requests */
#define ngx_http_fraiseql_main_ctx(r)                                         \
    ((ngx_http_fraiseql_ctx_t *)                                              \
         ngx_http_get_module_ctx((r)->main, ngx_http_fraiseql_module))


/* ngx_http_fraiseql_request.c */
ngx_int_t ngx_http_fraiseql_handler(ngx_http_request_t *r);
ngx_int_t ngx_http_fraiseql_begin(ngx_http_request_t *r,
    ngx_http_fraiseql_ctx_t *ctx);
ngx_int_t ngx_http_fraiseql_read(ngx_http_request_t *r,
    ngx_http_fraiseql_ctx_t *ctx);
void ngx_http_fraiseql_arena_init(fql_arena_t *a, ngx_pool_t *pool);

/* ngx_http_fraiseql_pg.c */
ngx_int_t ngx_http_fraiseql_db_init(ngx_conf_t *cf,
    ngx_http_fraiseql_db_t *db);
ngx_int_t ngx_http_fraiseql_db_finalize(ngx_conf_t *cf,
    ngx_http_fraiseql_db_t *db);
void ngx_http_fraiseql_pool_init(ngx_cycle_t *cycle,
    ngx_http_fraiseql_db_t *db);
void ngx_http_fraiseql_pool_exit(ngx_cycle_t *cycle);
ngx_int_t ngx_http_fraiseql_pool_acquire(ngx_http_fraiseql_group_t *group,
    ngx_http_fraiseql_waiter_t *w, ngx_http_fraiseql_pgc_t **pgcp);
void ngx_http_fraiseql_pool_cancel_wait(ngx_http_fraiseql_waiter_t *w);
void ngx_http_fraiseql_pool_release(ngx_http_fraiseql_pgc_t *pgc,
    ngx_uint_t reusable);
void ngx_http_fraiseql_pool_cancel(ngx_http_fraiseql_pgc_t *pgc);
ngx_int_t ngx_http_fraiseql_pgc_peek(ngx_http_fraiseql_pgc_t *pgc);
ngx_int_t ngx_http_fraiseql_sock_add(PGconn *pg, ngx_log_t *log, void *data,
    ngx_event_handler_pt handler, ngx_connection_t **cp, ino_t *ino);
void ngx_http_fraiseql_sock_del(ngx_connection_t **cp);
ngx_int_t ngx_http_fraiseql_pgc_flush(ngx_http_fraiseql_pgc_t *pgc);
size_t ngx_http_fraiseql_pq_message(const char *msg);

/* ngx_http_fraiseql_stmt.c */
ngx_int_t ngx_http_fraiseql_stmt_send(ngx_http_fraiseql_stmt_t *st);
ngx_int_t ngx_http_fraiseql_stmt_queue(ngx_http_fraiseql_stmt_t *st);
void ngx_http_fraiseql_stmt_begin(ngx_http_fraiseql_stmt_t *st);
ngx_int_t ngx_http_fraiseql_stmt_result(ngx_http_fraiseql_stmt_t *st,
    PGresult **res);
ngx_int_t ngx_http_fraiseql_stmt_error(ngx_http_fraiseql_stmt_t *st,
    PGresult *res, ngx_uint_t debug, ngx_http_fraiseql_stmt_error_t *e);

/* ngx_http_fraiseql_output.c */
int ngx_http_fraiseql_slot_reserve(fql_wbuf_t *w, size_t need);
ngx_int_t ngx_http_fraiseql_room(ngx_http_fraiseql_slot_t *slot);
ngx_int_t ngx_http_fraiseql_slot_hold(ngx_http_fraiseql_slot_t *s);
ngx_int_t ngx_http_fraiseql_flush_slot(ngx_http_fraiseql_slot_t *s,
    ngx_uint_t last);
ngx_int_t ngx_http_fraiseql_carry(ngx_http_fraiseql_slot_t *s,
    ngx_http_fraiseql_slot_t *next);
void ngx_http_fraiseql_flush_later(ngx_http_fraiseql_ctx_t *ctx);
ngx_int_t ngx_http_fraiseql_send(ngx_http_fraiseql_ctx_t *ctx,
    ngx_chain_t *out);
void ngx_http_fraiseql_hold(ngx_http_fraiseql_ctx_t *ctx);
void ngx_http_fraiseql_abort(ngx_http_fraiseql_ctx_t *ctx, ngx_int_t rc);
void ngx_http_fraiseql_finalize(ngx_http_fraiseql_ctx_t *ctx, ngx_int_t rc);
void ngx_http_fraiseql_cleanup(void *data);
ngx_int_t ngx_http_fraiseql_send_errors(ngx_http_request_t *r,
    ngx_uint_t status, fql_errors_t *errs, ngx_uint_t graphql_response);
void ngx_http_fraiseql_set_content_type(ngx_http_request_t *r,
    ngx_uint_t graphql_response);
void ngx_http_fraiseql_add_header(ngx_http_request_t *r, const char *key,
    const char *value);

/* ngx_http_fraiseql_module.c */
u_char *ngx_http_fraiseql_conf_read(ngx_conf_t *cf, ngx_str_t *path,
    size_t max, size_t *len);
ngx_int_t ngx_http_fraiseql_conf_time(ngx_conf_t *cf, ngx_str_t *value,
    const char *name, const char *what, ngx_uint_t is_sec, ngx_int_t *out);

/* ngx_http_fraiseql_auth.c */
void ngx_http_fraiseql_auth_create(ngx_http_fraiseql_auth_conf_t *acf);
char *ngx_http_fraiseql_auth_merge(ngx_conf_t *cf,
    ngx_http_fraiseql_auth_conf_t *prev, ngx_http_fraiseql_auth_conf_t *acf);
char *ngx_http_fraiseql_jwt_key(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf);
char *ngx_http_fraiseql_db_setting(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf);
char *ngx_http_fraiseql_jwt_cache(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf);
char *ngx_http_fraiseql_jwt_jwks_file(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf);
char *ngx_http_fraiseql_jwt_jwks_uri(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf);
void ngx_http_fraiseql_auth_init_process(ngx_cycle_t *cycle,
    ngx_http_fraiseql_main_conf_t *fmcf);
ngx_int_t ngx_http_fraiseql_auth(ngx_http_request_t *r,
    ngx_http_fraiseql_ctx_t *ctx);
void ngx_http_fraiseql_auth_resume(ngx_event_t *ev);
void ngx_http_fraiseql_auth_exit(ngx_http_fraiseql_main_conf_t *fmcf);
ngx_int_t ngx_http_fraiseql_jwt_status_variable(ngx_http_request_t *r,
    ngx_http_variable_value_t *v, uintptr_t data);
ngx_int_t ngx_http_fraiseql_role_variable(ngx_http_request_t *r,
    ngx_http_variable_value_t *v, uintptr_t data);
ngx_int_t ngx_http_fraiseql_claim_variable(ngx_http_request_t *r,
    ngx_http_variable_value_t *v, uintptr_t data);

/* ngx_http_fraiseql_perms.c */
char *ngx_http_fraiseql_permissions(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf);
char *ngx_http_fraiseql_listen(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf);
ngx_int_t ngx_http_fraiseql_perms(ngx_http_fraiseql_ctx_t *ctx);
void ngx_http_fraiseql_perms_init_process(ngx_cycle_t *cycle,
    ngx_http_fraiseql_main_conf_t *fmcf);
void ngx_http_fraiseql_perms_exit_process(
    ngx_http_fraiseql_main_conf_t *fmcf);

/* ngx_http_fraiseql_limit.c */
char *ngx_http_fraiseql_limit_zone(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf);
char *ngx_http_fraiseql_limit(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf);
void ngx_http_fraiseql_limit_create(ngx_http_fraiseql_limit_conf_t *lc);
char *ngx_http_fraiseql_limit_merge(ngx_conf_t *cf,
    ngx_http_fraiseql_limit_conf_t *prev, ngx_http_fraiseql_limit_conf_t *lc);
ngx_int_t ngx_http_fraiseql_limit_check(ngx_http_fraiseql_ctx_t *ctx,
    ngx_uint_t points, uint64_t cost);
ngx_int_t ngx_http_fraiseql_limit_done(ngx_http_fraiseql_ctx_t *ctx);
ngx_int_t ngx_http_fraiseql_limit_status_variable(ngx_http_request_t *r,
    ngx_http_variable_value_t *v, uintptr_t data);
ngx_int_t ngx_http_fraiseql_rate_key_variable(ngx_http_request_t *r,
    ngx_http_variable_value_t *v, uintptr_t data);

/* ngx_http_fraiseql_persist.c */
char *ngx_http_fraiseql_persisted(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf);
char *ngx_http_fraiseql_trusted_documents(ngx_conf_t *cf,
    ngx_command_t *cmd, void *conf);
char *ngx_http_fraiseql_persisted_zone(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf);
char *ngx_http_fraiseql_cache_control(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf);
void ngx_http_fraiseql_persist_create(ngx_http_fraiseql_persist_conf_t *pc);
char *ngx_http_fraiseql_persist_merge(ngx_conf_t *cf,
    ngx_http_fraiseql_persist_conf_t *prev,
    ngx_http_fraiseql_persist_conf_t *pc, const fql_engine_t *eng);
ngx_int_t ngx_http_fraiseql_persist(ngx_http_fraiseql_ctx_t *ctx,
    fql_request_t *req);
void ngx_http_fraiseql_persist_register(ngx_http_fraiseql_ctx_t *ctx,
    fql_str_t text);
void ngx_http_fraiseql_persist_headers(ngx_http_fraiseql_ctx_t *ctx);

/* ngx_http_fraiseql_batch.c */
char *ngx_http_fraiseql_batch(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf);
ngx_int_t ngx_http_fraiseql_batch_start(ngx_http_request_t *r,
    ngx_http_fraiseql_ctx_t *ctx, u_char *body, size_t len);
fql_jval_t *ngx_http_fraiseql_batch_item(ngx_http_request_t *r,
    ngx_uint_t *first);
void ngx_http_fraiseql_batch_gathered(ngx_http_fraiseql_ctx_t *ctx);
ngx_uint_t ngx_http_fraiseql_batch_wait(ngx_http_fraiseql_ctx_t *ctx);
void ngx_http_fraiseql_batch_slot_done(ngx_http_fraiseql_slot_t *s);
void ngx_http_fraiseql_batch_leave(ngx_http_fraiseql_ctx_t *ctx);

/* ngx_http_fraiseql_observe.c */
#define NGX_HTTP_FRAISEQL_POOL_WAIT          0
#define NGX_HTTP_FRAISEQL_POOL_WAIT_TIMEOUT  1
#define NGX_HTTP_FRAISEQL_POOL_CONNECT       2
#define NGX_HTTP_FRAISEQL_POOL_CONNECT_FAIL  3
#define NGX_HTTP_FRAISEQL_POOL_QUEUE_FULL    4

extern ngx_http_fraiseql_metrics_t  *ngx_http_fraiseql_metrics;

uint64_t ngx_http_fraiseql_now_us(void);
char *ngx_http_fraiseql_metrics_zone(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf);
char *ngx_http_fraiseql_metrics_cmd(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf);
char *ngx_http_fraiseql_health(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf);
ngx_int_t ngx_http_fraiseql_observe_init(ngx_conf_t *cf);
ngx_int_t ngx_http_fraiseql_observe_variables(ngx_conf_t *cf);
void ngx_http_fraiseql_observe_init_process(ngx_cycle_t *cycle,
    ngx_http_fraiseql_main_conf_t *fmcf);
void ngx_http_fraiseql_metric_pool(ngx_uint_t what);
void ngx_http_fraiseql_metric_sqlstate(const char *state);
void ngx_http_fraiseql_observe_errors(ngx_http_request_t *r,
    const fql_errors_t *errs);
void ngx_http_fraiseql_observe_request(ngx_http_request_t *r);
void ngx_http_fraiseql_observe_cleanup(void *data);
ngx_int_t ngx_http_fraiseql_trace(ngx_http_request_t *r);
ngx_int_t ngx_http_fraiseql_server_timing(ngx_http_fraiseql_ctx_t *ctx);

/* ngx_http_fraiseql_web.c */
char *ngx_http_fraiseql_cors(ngx_conf_t *cf, ngx_command_t *cmd, void *conf);
char *ngx_http_fraiseql_graphiql_assets(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf);
void ngx_http_fraiseql_web_create(ngx_http_fraiseql_web_conf_t *wc);
char *ngx_http_fraiseql_web_merge(ngx_conf_t *cf,
    ngx_http_fraiseql_web_conf_t *prev, ngx_http_fraiseql_web_conf_t *wc,
    ngx_http_fraiseql_auth_conf_t *acf);
ngx_int_t ngx_http_fraiseql_web(ngx_http_request_t *r);

/* ngx_http_fraiseql_exec.c */
ngx_int_t ngx_http_fraiseql_execute(ngx_http_fraiseql_ctx_t *ctx);
void ngx_http_fraiseql_run(ngx_http_fraiseql_ctx_t *ctx);
void ngx_http_fraiseql_pipe_go(ngx_http_fraiseql_slot_t *first);
ngx_uint_t ngx_http_fraiseql_pipe_break(ngx_http_fraiseql_slot_t *slot);

#endif /* NGX_HTTP_FRAISEQL_H */
