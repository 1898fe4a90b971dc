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


/* how long PostgreSQL may stay silent while a statement runs */
/* the nginx timer's margin over the server's statement_timeout */
#define NGX_HTTP_FRAISEQL_TIMEOUT_GRACE  1000

/* named statements kept per connection; past that, unnamed ones */
#define NGX_HTTP_FRAISEQL_PREPARED_MAX  256

/* bytes of rows a slot transforms before the event loop takes a turn */
#define NGX_HTTP_FRAISEQL_ROWS_TURN  131072

/* how long a connection whose statement overran waits for its cancel */
#define NGX_HTTP_FRAISEQL_CANCEL_WAIT  5000

typedef struct ngx_http_fraiseql_pool_s  ngx_http_fraiseql_pool_t;
typedef struct ngx_http_fraiseql_pgc_s   ngx_http_fraiseql_pgc_t;
typedef struct ngx_http_fraiseql_slot_s  ngx_http_fraiseql_slot_t;
typedef struct ngx_http_fraiseql_ctx_s   ngx_http_fraiseql_ctx_t;


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
} ngx_http_fraiseql_main_conf_t;


typedef struct {
    ngx_flag_t                  enable;
    fql_schema_t               *schema;
    ngx_str_t                   schema_file;
    ngx_http_fraiseql_group_t  *group;
    ngx_uint_t                  pool_size;
    ngx_uint_t                  pool_min;
    ngx_msec_t                  idle_timeout;
    ngx_msec_t                  lifetime;
    ngx_msec_t                  connect_timeout;
    ngx_msec_t                  query_timeout;
    ngx_uint_t                  max_depth;
    ngx_uint_t                  request_connections;
    ngx_bufs_t                  buffers;     /* for answers not yet sent */
    off_t                       max_temp_file_size;
    ngx_msec_t                  send_timeout;  /* holding a connection */
    size_t                      max_document_size;
    ngx_uint_t                  max_root_fields;
    ngx_uint_t                  max_conditions;
    ngx_flag_t                  introspection;
    ngx_flag_t                  prepared;    /* named prepared statements */
    ngx_flag_t                  pipeline;    /* prepare + run at once */
    ngx_flag_t                  debug;       /* database messages shown */
    ngx_uint_t                  default_limit;
    ngx_uint_t                  max_limit;
    ngx_uint_t                  queue_size;
    ngx_msec_t                  queue_timeout;
    fql_engine_t                engine;      /* schema and limits, merged */
} ngx_http_fraiseql_loc_conf_t;


typedef enum {
    NGX_HTTP_FRAISEQL_PGC_CONNECTING = 0,
    NGX_HTTP_FRAISEQL_PGC_IDLE,
    NGX_HTTP_FRAISEQL_PGC_BUSY,
    /* its statement overran: waits for its cancel, then closes */
    NGX_HTTP_FRAISEQL_PGC_CANCELLING
} ngx_http_fraiseql_pgc_state_e;

/* a statement prepared on a connection, named fq_<hash> */
typedef struct {
    uint64_t                       hash;
    u_char                        *sql;       /* its text, to compare */
    size_t                         len;
} ngx_http_fraiseql_stmt_t;

/* one libpq connection of a worker's pool */
struct ngx_http_fraiseql_pgc_s {
    ngx_queue_t                    queue;     /* idle or free list */
    ngx_http_fraiseql_pool_t      *pool;
    PGconn                        *pg;
    ngx_connection_t              *c;
    ino_t                          ino;       /* of the registered socket */
    ngx_http_fraiseql_pgc_state_e  state;
    ngx_http_fraiseql_slot_t      *owner;     /* BUSY */
    ngx_http_fraiseql_stmt_t      *prepared;
    ngx_uint_t                     nprepared;
    ngx_msec_t                     born;      /* connect started */
    ngx_pool_t                    *stmt_pool; /* texts of prepared[] */
    /* BUSY with no owner: cancels target's statement; and the reverse */
    ngx_http_fraiseql_pgc_t       *cancel_target;
    ngx_http_fraiseql_pgc_t       *canceller;
    unsigned                       flushing:1;
    unsigned                       cancel_queued:1;  /* in pool->cancels */
    /* has served or waited idle: may have been killed since (a restart) */
    unsigned                       reused:1;
};

struct ngx_http_fraiseql_pool_s {
    ngx_http_fraiseql_db_t   *db;
    ngx_log_t                *log;
    ngx_uint_t                nconns;       /* open or opening */
    ngx_uint_t                nconnecting;
    ngx_queue_t               idle;
    ngx_queue_t               free;         /* spare pgc structures */
    ngx_queue_t               waiters;      /* slots waiting for a pgc */
    ngx_queue_t               cancels;      /* CANCELLING ones, unsent */
    ngx_uint_t                nwaiters;
    ngx_msec_t                backoff;      /* after a failed connect */
    ngx_msec_t                retry_at;
    ngx_uint_t                failures;     /* in a row */
    ngx_uint_t                nidle;
    ngx_event_t               warm;         /* keeps pool_min open */
};


typedef enum {
    NGX_HTTP_FRAISEQL_SLOT_NEW = 0,
    NGX_HTTP_FRAISEQL_SLOT_WAITING,
    NGX_HTTP_FRAISEQL_SLOT_RUNNING,
    NGX_HTTP_FRAISEQL_SLOT_DONE
} ngx_http_fraiseql_slot_state_e;

/* one root field of the response, in document order */
struct ngx_http_fraiseql_slot_s {
    ngx_queue_t                      queue;    /* pool waiters */
    ngx_http_fraiseql_ctx_t         *ctx;
    fql_root_plan_t                 *plan;
    ngx_uint_t                       index;
    ngx_http_fraiseql_slot_state_e   state;
    ngx_http_fraiseql_pgc_t         *pgc;
    ngx_http_fraiseql_pool_t        *pool;     /* WAITING: in its queue */
    ngx_event_t                      wait;     /* queue timeout */
    fql_wbuf_t                       w;
    ngx_buf_t                       *buf;      /* being written */
    ngx_buf_t                       *value_buf;  /* the value starts */
    size_t                           value_off;   /* ... in it, here */
    ngx_chain_t                     *out;      /* held until streaming */
    ngx_chain_t                    **last;
    ngx_chain_t                     *file;     /* out's last file link */
    ngx_uint_t                       nrows;
    uint64_t                         stmt;         /* hash of the SQL */
    unsigned                         opened:1;     /* its key written */
    unsigned                         paused:1;     /* no room: rows wait */
    unsigned                         preparing:1;
    unsigned                         pipeline:1;   /* prepare + run */
    unsigned                         synced:1;
    unsigned                         streaming:1;  /* head: straight out */
    unsigned                         value_sent:1;  /* partly sent */
    unsigned                         failed:1;
    unsigned                         retried:1;
    unsigned                         nstale:2;  /* retries after those */
};

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
    size_t                           mem;       /* answer buffers' bytes */
    ngx_temp_file_t                 *temp;      /* answer past the memory */
    ngx_event_t                      hold;      /* client stalls a pgc */
    ngx_event_t                      wake;      /* paused slots read on */
    ngx_chain_t                     *free;
    ngx_chain_t                     *busy;
    ngx_int_t                        rc;        /* to finalize with */
    ngx_event_t                      fin;       /* posted finalization */
    unsigned                         header_sent:1;
    unsigned                         blocked:1;   /* client is slow */
    unsigned                         finished:1;
    unsigned                         committed:1;  /* a mutation did */
    unsigned                         graphql_response:1;  /* media type */
};


extern ngx_module_t  ngx_http_fraiseql_module;


/* ngx_http_fraiseql_request.c */
ngx_int_t ngx_http_fraiseql_handler(ngx_http_request_t *r);
ngx_int_t ngx_http_fraiseql_send_errors(ngx_http_request_t *r,
    ngx_uint_t status, fql_errors_t *errs, ngx_uint_t graphql_response);
void ngx_http_fraiseql_arena_init(fql_arena_t *a, ngx_pool_t *pool);
void ngx_http_fraiseql_set_content_type(ngx_http_request_t *r,
    ngx_uint_t graphql_response);

/* ngx_http_fraiseql_pg.c */
ngx_int_t ngx_http_fraiseql_db_init(ngx_conf_t *cf,
    ngx_http_fraiseql_db_t *db);
ngx_int_t ngx_http_fraiseql_db_finalize(ngx_conf_t *cf,
    ngx_http_fraiseql_db_t *db);
ngx_int_t ngx_http_fraiseql_acquire(ngx_http_fraiseql_group_t *group,
    ngx_uint_t write, ngx_http_fraiseql_slot_t *slot, ngx_log_t *log);
void ngx_http_fraiseql_pool_init(ngx_cycle_t *cycle,
    ngx_http_fraiseql_db_t *db);
void ngx_http_fraiseql_release(ngx_http_fraiseql_pgc_t *pgc,
    ngx_uint_t reusable);
void ngx_http_fraiseql_cancel_wait(ngx_http_fraiseql_slot_t *slot);
void ngx_http_fraiseql_cancel(ngx_http_fraiseql_pgc_t *pgc);
void ngx_http_fraiseql_pool_exit(ngx_cycle_t *cycle);

/* ngx_http_fraiseql_output.c */
int ngx_http_fraiseql_slot_reserve(fql_wbuf_t *w, size_t need);
ngx_int_t ngx_http_fraiseql_room(ngx_http_fraiseql_slot_t *slot);
ngx_int_t ngx_http_fraiseql_slot_hold(ngx_http_fraiseql_slot_t *s);
ngx_int_t ngx_http_fraiseql_flush_slot(ngx_http_fraiseql_slot_t *s,
    ngx_uint_t last);
ngx_int_t ngx_http_fraiseql_send(ngx_http_fraiseql_ctx_t *ctx,
    ngx_chain_t *out);

/* ngx_http_fraiseql_exec.c */
ngx_int_t ngx_http_fraiseql_execute(ngx_http_fraiseql_ctx_t *ctx);
void ngx_http_fraiseql_abort(ngx_http_fraiseql_ctx_t *ctx, ngx_int_t rc);
void ngx_http_fraiseql_hold(ngx_http_fraiseql_ctx_t *ctx);
void ngx_http_fraiseql_slot_ready(ngx_http_fraiseql_slot_t *slot);
void ngx_http_fraiseql_slot_reroute(ngx_http_fraiseql_slot_t *slot);
void ngx_http_fraiseql_slot_unavailable(ngx_http_fraiseql_slot_t *slot,
    const char *reason);
void ngx_http_fraiseql_pgc_process(ngx_http_fraiseql_pgc_t *pgc);

#endif /* NGX_HTTP_FRAISEQL_H */
