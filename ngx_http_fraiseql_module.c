/*
 * fraiseql-nginx: a GraphQL server for PostgreSQL inside nginx.
 * Module definition, directives and configuration.
 */

#include "ngx_http_fraiseql.h"


static void *ngx_http_fraiseql_create_loc_conf(ngx_conf_t *cf);
static char *ngx_http_fraiseql_merge_loc_conf(ngx_conf_t *cf, void *parent,
    void *child);
static char *ngx_http_fraiseql(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf);
static char *ngx_http_fraiseql_schema(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf);
static char *ngx_http_fraiseql_database(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf);
static char *ngx_http_fraiseql_pool_queue(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf);
static void ngx_http_fraiseql_exit_process(ngx_cycle_t *cycle);
static ngx_int_t ngx_http_fraiseql_init_process(ngx_cycle_t *cycle);
static void ngx_http_fraiseql_merge_servers(
    ngx_http_fraiseql_loc_conf_t *conf);
static void ngx_http_fraiseql_merge_never(ngx_msec_t *server,
    ngx_msec_t location);
static ngx_int_t ngx_http_fraiseql_add_variables(ngx_conf_t *cf);
static ngx_int_t ngx_http_fraiseql_postconfiguration(ngx_conf_t *cf);
static void *ngx_http_fraiseql_create_main_conf(ngx_conf_t *cf);
static char *ngx_http_fraiseql_init_main_conf(ngx_conf_t *cf, void *conf);
static char *ngx_http_fraiseql_plan_cache(ngx_conf_t *cf,
    ngx_command_t *cmd, void *conf);
static ngx_int_t ngx_http_fraiseql_cache_variable(ngx_http_request_t *r,
    ngx_http_variable_value_t *v, uintptr_t data);


static ngx_conf_num_bounds_t  ngx_http_fraiseql_pool_bounds = {
    ngx_conf_check_num_bounds, 1, 1024
};

static ngx_conf_num_bounds_t  ngx_http_fraiseql_pool_min_bounds = {
    ngx_conf_check_num_bounds, 0, 1024
};

static ngx_conf_num_bounds_t  ngx_http_fraiseql_depth_bounds = {
    ngx_conf_check_num_bounds, 1, 1000
};

static ngx_conf_num_bounds_t  ngx_http_fraiseql_limit_bounds = {
    ngx_conf_check_num_bounds, 0, 100000000
};

static ngx_conf_num_bounds_t  ngx_http_fraiseql_request_bounds = {
    ngx_conf_check_num_bounds, 1, 1024
};

/* 0 turns a limit off */
static ngx_conf_num_bounds_t  ngx_http_fraiseql_count_bounds = {
    ngx_conf_check_num_bounds, 0, 1000000
};


static ngx_conf_enum_t  ngx_http_fraiseql_jwt_modes[] = {
    { ngx_string("off"), NGX_HTTP_FRAISEQL_JWT_OFF },
    { ngx_string("required"), NGX_HTTP_FRAISEQL_JWT_REQUIRED },
    { ngx_string("optional"), NGX_HTTP_FRAISEQL_JWT_OPTIONAL },
    { ngx_null_string, 0 }
};

static ngx_conf_enum_t  ngx_http_fraiseql_db_roles[] = {
    { ngx_string("off"), 0 },
    { ngx_string("claim"), 1 },
    { ngx_null_string, 0 }
};

static ngx_conf_enum_t  ngx_http_fraiseql_limit_log_levels[] = {
    { ngx_string("info"), NGX_LOG_INFO },
    { ngx_string("notice"), NGX_LOG_NOTICE },
    { ngx_string("warn"), NGX_LOG_WARN },
    { ngx_string("error"), NGX_LOG_ERR },
    { ngx_null_string, 0 }
};

static ngx_conf_enum_t  ngx_http_fraiseql_trace_modes[] = {
    { ngx_string("off"), 0 },
    { ngx_string("guc"), 1 },
    { ngx_null_string, 0 }
};

static ngx_conf_num_bounds_t  ngx_http_fraiseql_status_bounds = {
    ngx_conf_check_num_bounds, 400, 599
};

static ngx_conf_enum_t  ngx_http_fraiseql_auth_denied[] = {
    { ngx_string("reject"), 0 },
    { ngx_string("null"), 1 },
    { ngx_null_string, 0 }
};


static ngx_command_t  ngx_http_fraiseql_commands[] = {
    { ngx_string("fraiseql"),
      NGX_HTTP_LOC_CONF|NGX_CONF_NOARGS,
      ngx_http_fraiseql,
      NGX_HTTP_LOC_CONF_OFFSET,
      0,
      NULL },

    { ngx_string("fraiseql_schema"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_TAKE1,
      ngx_http_fraiseql_schema,
      NGX_HTTP_LOC_CONF_OFFSET,
      0,
      NULL },

    { ngx_string("fraiseql_database"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_TAKE12,
      ngx_http_fraiseql_database,
      NGX_HTTP_LOC_CONF_OFFSET,
      0,
      NULL },

    { ngx_string("fraiseql_pool_size"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_num_slot,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_http_fraiseql_loc_conf_t, pool_size),
      &ngx_http_fraiseql_pool_bounds },

    { ngx_string("fraiseql_pool_min"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_num_slot,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_http_fraiseql_loc_conf_t, pool_min),
      &ngx_http_fraiseql_pool_min_bounds },

    { ngx_string("fraiseql_pool_queue"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_TAKE12,
      ngx_http_fraiseql_pool_queue,
      NGX_HTTP_LOC_CONF_OFFSET,
      0,
      NULL },

    { ngx_string("fraiseql_pool_idle_timeout"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_msec_slot,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_http_fraiseql_loc_conf_t, idle_timeout),
      NULL },

    { ngx_string("fraiseql_pool_lifetime"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_msec_slot,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_http_fraiseql_loc_conf_t, lifetime),
      NULL },

    { ngx_string("fraiseql_connect_timeout"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_msec_slot,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_http_fraiseql_loc_conf_t, connect_timeout),
      NULL },

    { ngx_string("fraiseql_query_timeout"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_msec_slot,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_http_fraiseql_loc_conf_t, query_timeout),
      NULL },

    { ngx_string("fraiseql_send_timeout"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_msec_slot,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_http_fraiseql_loc_conf_t, send_timeout),
      NULL },

    { ngx_string("fraiseql_request_connections"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_num_slot,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_http_fraiseql_loc_conf_t, request_connections),
      &ngx_http_fraiseql_request_bounds },

    { ngx_string("fraiseql_buffers"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_TAKE2,
      ngx_conf_set_bufs_slot,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_http_fraiseql_loc_conf_t, buffers),
      NULL },

    { ngx_string("fraiseql_max_temp_file_size"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_off_slot,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_http_fraiseql_loc_conf_t, max_temp_file_size),
      NULL },

    { ngx_string("fraiseql_max_document_size"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_size_slot,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_http_fraiseql_loc_conf_t, max_document_size),
      NULL },

    { ngx_string("fraiseql_max_root_fields"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_num_slot,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_http_fraiseql_loc_conf_t, max_root_fields),
      &ngx_http_fraiseql_count_bounds },

    { ngx_string("fraiseql_max_aliases"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_num_slot,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_http_fraiseql_loc_conf_t, max_aliases),
      &ngx_http_fraiseql_count_bounds },

    { ngx_string("fraiseql_max_fields"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_num_slot,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_http_fraiseql_loc_conf_t, max_fields),
      &ngx_http_fraiseql_count_bounds },

    { ngx_string("fraiseql_max_directives"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_num_slot,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_http_fraiseql_loc_conf_t, max_directives),
      &ngx_http_fraiseql_count_bounds },

    { ngx_string("fraiseql_max_tokens"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_num_slot,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_http_fraiseql_loc_conf_t, max_tokens),
      &ngx_http_fraiseql_count_bounds },

    { ngx_string("fraiseql_max_depth"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_num_slot,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_http_fraiseql_loc_conf_t, max_depth),
      &ngx_http_fraiseql_depth_bounds },

    { ngx_string("fraiseql_max_filter_conditions"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_num_slot,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_http_fraiseql_loc_conf_t, max_conditions),
      &ngx_http_fraiseql_count_bounds },

    { ngx_string("fraiseql_default_limit"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_num_slot,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_http_fraiseql_loc_conf_t, default_limit),
      &ngx_http_fraiseql_limit_bounds },

    { ngx_string("fraiseql_max_limit"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_num_slot,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_http_fraiseql_loc_conf_t, max_limit),
      &ngx_http_fraiseql_limit_bounds },


    { ngx_string("fraiseql_plan_cache"),
      NGX_HTTP_MAIN_CONF|NGX_CONF_TAKE12,
      ngx_http_fraiseql_plan_cache,
      NGX_HTTP_MAIN_CONF_OFFSET,
      0,
      NULL },

    { ngx_string("fraiseql_introspection"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_FLAG,
      ngx_conf_set_flag_slot,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_http_fraiseql_loc_conf_t, introspection),
      NULL },

    { ngx_string("fraiseql_prepared_statements"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_FLAG,
      ngx_conf_set_flag_slot,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_http_fraiseql_loc_conf_t, prepared),
      NULL },

    { ngx_string("fraiseql_pipeline"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_FLAG,
      ngx_conf_set_flag_slot,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_http_fraiseql_loc_conf_t, pipeline),
      NULL },

    { ngx_string("fraiseql_debug"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_FLAG,
      ngx_conf_set_flag_slot,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_http_fraiseql_loc_conf_t, debug),
      NULL },

    /* identity (ngx_http_fraiseql_auth.c) */

    { ngx_string("fraiseql_jwt"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_enum_slot,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_http_fraiseql_loc_conf_t, auth.mode),
      &ngx_http_fraiseql_jwt_modes },

    { ngx_string("fraiseql_jwt_token"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_TAKE1,
      ngx_http_set_complex_value_slot,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_http_fraiseql_loc_conf_t, auth.token),
      NULL },

    { ngx_string("fraiseql_jwt_key"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_2MORE,
      ngx_http_fraiseql_jwt_key,
      NGX_HTTP_LOC_CONF_OFFSET,
      0,
      NULL },

    { ngx_string("fraiseql_jwt_jwks_file"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_TAKE12,
      ngx_http_fraiseql_jwt_jwks_file,
      NGX_HTTP_LOC_CONF_OFFSET,
      0,
      NULL },

    { ngx_string("fraiseql_permissions"),
      NGX_HTTP_MAIN_CONF|NGX_CONF_1MORE,
      ngx_http_fraiseql_permissions,
      NGX_HTTP_MAIN_CONF_OFFSET,
      0,
      NULL },

    { ngx_string("fraiseql_listen"),
      NGX_HTTP_MAIN_CONF|NGX_CONF_TAKE1,
      ngx_http_fraiseql_listen,
      NGX_HTTP_MAIN_CONF_OFFSET,
      0,
      NULL },

    { ngx_string("fraiseql_jwt_jwks_uri"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_TAKE123,
      ngx_http_fraiseql_jwt_jwks_uri,
      NGX_HTTP_LOC_CONF_OFFSET,
      0,
      NULL },

    { ngx_string("fraiseql_jwt_issuer"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_str_slot,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_http_fraiseql_loc_conf_t, auth.issuer),
      NULL },

    { ngx_string("fraiseql_jwt_audience"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_1MORE,
      ngx_conf_set_str_array_slot,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_http_fraiseql_loc_conf_t, auth.audiences),
      NULL },

    { ngx_string("fraiseql_jwt_leeway"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_sec_slot,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_http_fraiseql_loc_conf_t, auth.leeway),
      NULL },

    { ngx_string("fraiseql_jwt_max_size"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_size_slot,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_http_fraiseql_loc_conf_t, auth.max_size),
      NULL },

    { ngx_string("fraiseql_jwt_role_claim"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_str_slot,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_http_fraiseql_loc_conf_t, auth.role_claim),
      NULL },

    { ngx_string("fraiseql_jwt_permissions_claim"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_str_slot,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_http_fraiseql_loc_conf_t, auth.perms_claim),
      NULL },

    { ngx_string("fraiseql_auth_denied"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_enum_slot,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_http_fraiseql_loc_conf_t, auth.denied_null),
      &ngx_http_fraiseql_auth_denied },

    { ngx_string("fraiseql_jwt_roles_claim"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_str_slot,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_http_fraiseql_loc_conf_t, auth.roles_claim),
      NULL },

    { ngx_string("fraiseql_jwt_role_header"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_str_slot,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_http_fraiseql_loc_conf_t, auth.role_header),
      NULL },

    { ngx_string("fraiseql_anon_role"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_str_slot,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_http_fraiseql_loc_conf_t, auth.anon_role),
      NULL },

    { ngx_string("fraiseql_db_role"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_enum_slot,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_http_fraiseql_loc_conf_t, auth.db_role),
      &ngx_http_fraiseql_db_roles },

    { ngx_string("fraiseql_jwt_cache"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_TAKE12,
      ngx_http_fraiseql_jwt_cache,
      NGX_HTTP_LOC_CONF_OFFSET,
      0,
      NULL },

    { ngx_string("fraiseql_db_setting"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_TAKE2,
      ngx_http_fraiseql_db_setting,
      NGX_HTTP_LOC_CONF_OFFSET,
      0,
      NULL },

    { ngx_string("fraiseql_limit_zone"),
      NGX_HTTP_MAIN_CONF|NGX_CONF_TAKE23,
      ngx_http_fraiseql_limit_zone,
      0,
      0,
      NULL },

    { ngx_string("fraiseql_limit"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_TAKE1234,
      ngx_http_fraiseql_limit,
      NGX_HTTP_LOC_CONF_OFFSET,
      0,
      NULL },

    { ngx_string("fraiseql_limit_status"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_num_slot,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_http_fraiseql_loc_conf_t, limit.status),
      &ngx_http_fraiseql_status_bounds },

    { ngx_string("fraiseql_limit_dry_run"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_FLAG,
      ngx_conf_set_flag_slot,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_http_fraiseql_loc_conf_t, limit.dry_run),
      NULL },

    { ngx_string("fraiseql_limit_log_level"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_enum_slot,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_http_fraiseql_loc_conf_t, limit.log_level),
      &ngx_http_fraiseql_limit_log_levels },

    { ngx_string("fraiseql_max_cost"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_num_slot,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_http_fraiseql_loc_conf_t, limit.max_cost),
      &ngx_http_fraiseql_limit_bounds },

    { ngx_string("fraiseql_batch"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_TAKE1,
      ngx_http_fraiseql_batch,
      NGX_HTTP_LOC_CONF_OFFSET,
      0,
      NULL },

    { ngx_string("fraiseql_persisted"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_TAKE1,
      ngx_http_fraiseql_persisted,
      NGX_HTTP_LOC_CONF_OFFSET,
      0,
      NULL },

    { ngx_string("fraiseql_trusted_documents"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_TAKE1,
      ngx_http_fraiseql_trusted_documents,
      NGX_HTTP_LOC_CONF_OFFSET,
      0,
      NULL },

    { ngx_string("fraiseql_persisted_zone"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_TAKE1,
      ngx_http_fraiseql_persisted_zone,
      NGX_HTTP_LOC_CONF_OFFSET,
      0,
      NULL },

    { ngx_string("fraiseql_cache_control"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_TAKE12,
      ngx_http_fraiseql_cache_control,
      NGX_HTTP_LOC_CONF_OFFSET,
      0,
      NULL },

    { ngx_string("fraiseql_cost_extensions"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_FLAG,
      ngx_conf_set_flag_slot,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_http_fraiseql_loc_conf_t, limit.extensions),
      NULL },

    /* observe.c: metrics, health, timing, tracing */
    { ngx_string("fraiseql_metrics_zone"),
      NGX_HTTP_MAIN_CONF|NGX_CONF_TAKE12,
      ngx_http_fraiseql_metrics_zone,
      NGX_HTTP_MAIN_CONF_OFFSET,
      0,
      NULL },

    { ngx_string("fraiseql_metrics"),
      NGX_HTTP_LOC_CONF|NGX_CONF_NOARGS,
      ngx_http_fraiseql_metrics_cmd,
      NGX_HTTP_LOC_CONF_OFFSET,
      0,
      NULL },

    /* browsers (ngx_http_fraiseql_web.c) */

    { ngx_string("fraiseql_cors"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_1MORE,
      ngx_http_fraiseql_cors,
      NGX_HTTP_LOC_CONF_OFFSET,
      0,
      NULL },

    { ngx_string("fraiseql_metrics_count"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_FLAG,
      ngx_conf_set_flag_slot,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_http_fraiseql_loc_conf_t, metrics_count),
      NULL },

    { ngx_string("fraiseql_health"),
      NGX_HTTP_LOC_CONF|NGX_CONF_TAKE1,
      ngx_http_fraiseql_health,
      NGX_HTTP_LOC_CONF_OFFSET,
      0,
      NULL },

    { ngx_string("fraiseql_server_timing"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_FLAG,
      ngx_conf_set_flag_slot,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_http_fraiseql_loc_conf_t, server_timing),
      NULL },

    { ngx_string("fraiseql_trace_context"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_enum_slot,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_http_fraiseql_loc_conf_t, auth.trace),
      &ngx_http_fraiseql_trace_modes },

    { ngx_string("fraiseql_graphiql"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_FLAG,
      ngx_conf_set_flag_slot,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_http_fraiseql_loc_conf_t, web.graphiql),
      NULL },

    { ngx_string("fraiseql_graphiql_assets"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_TAKE1,
      ngx_http_fraiseql_graphiql_assets,
      NGX_HTTP_LOC_CONF_OFFSET,
      0,
      NULL },

      ngx_null_command
};


static ngx_http_module_t  ngx_http_fraiseql_module_ctx = {
    ngx_http_fraiseql_add_variables,       /* preconfiguration */
    ngx_http_fraiseql_postconfiguration,   /* postconfiguration */

    ngx_http_fraiseql_create_main_conf,    /* create main configuration */
    ngx_http_fraiseql_init_main_conf,      /* init main configuration */

    NULL,                                  /* create server configuration */
    NULL,                                  /* merge server configuration */

    ngx_http_fraiseql_create_loc_conf,     /* create location configuration */
    ngx_http_fraiseql_merge_loc_conf       /* merge location configuration */
};


ngx_module_t  ngx_http_fraiseql_module = {
    NGX_MODULE_V1,
    &ngx_http_fraiseql_module_ctx,         /* module context */
    ngx_http_fraiseql_commands,            /* module directives */
    NGX_HTTP_MODULE,                       /* module type */
    NULL,                                  /* init master */
    NULL,                                  /* init module */
    ngx_http_fraiseql_init_process,        /* init process */
    NULL,                                  /* init thread */
    NULL,                                  /* exit thread */
    ngx_http_fraiseql_exit_process,        /* exit process */
    NULL,                                  /* exit master */
    NGX_MODULE_V1_PADDING
};


static void *
ngx_http_fraiseql_create_loc_conf(ngx_conf_t *cf)
{
    ngx_http_fraiseql_loc_conf_t  *conf;

    conf = ngx_pcalloc(cf->pool, sizeof(ngx_http_fraiseql_loc_conf_t));
    if (conf == NULL) {
        return NULL;
    }

    /*
     * set by ngx_pcalloc():
     *
     *     conf->schema_file = { 0, NULL };
     *     conf->buffers = { 0, 0 };
     */

    conf->enable = NGX_CONF_UNSET;
    conf->schema = NGX_CONF_UNSET_PTR;
    conf->group = NGX_CONF_UNSET_PTR;
    conf->pool_size = NGX_CONF_UNSET_UINT;
    conf->pool_min = NGX_CONF_UNSET_UINT;
    conf->idle_timeout = NGX_CONF_UNSET_MSEC;
    conf->lifetime = NGX_CONF_UNSET_MSEC;
    conf->connect_timeout = NGX_CONF_UNSET_MSEC;
    conf->query_timeout = NGX_CONF_UNSET_MSEC;
    conf->max_depth = NGX_CONF_UNSET_UINT;
    conf->request_connections = NGX_CONF_UNSET_UINT;
    conf->max_temp_file_size = NGX_CONF_UNSET;
    conf->send_timeout = NGX_CONF_UNSET_MSEC;
    conf->max_document_size = NGX_CONF_UNSET_SIZE;
    conf->max_root_fields = NGX_CONF_UNSET_UINT;
    conf->max_aliases = NGX_CONF_UNSET_UINT;
    conf->max_fields = NGX_CONF_UNSET_UINT;
    conf->max_directives = NGX_CONF_UNSET_UINT;
    conf->max_tokens = NGX_CONF_UNSET_UINT;
    conf->max_conditions = NGX_CONF_UNSET_UINT;
    conf->batch = NGX_CONF_UNSET_UINT;
    conf->introspection = NGX_CONF_UNSET;
    conf->prepared = NGX_CONF_UNSET;
    conf->pipeline = NGX_CONF_UNSET;
    conf->debug = NGX_CONF_UNSET;
    conf->health = NGX_CONF_UNSET_UINT;
    conf->server_timing = NGX_CONF_UNSET;
    conf->metrics_count = NGX_CONF_UNSET;
    conf->default_limit = NGX_CONF_UNSET_UINT;
    conf->max_limit = NGX_CONF_UNSET_UINT;
    conf->queue_size = NGX_CONF_UNSET_UINT;
    conf->queue_timeout = NGX_CONF_UNSET_MSEC;
    ngx_http_fraiseql_auth_create(&conf->auth);
    ngx_http_fraiseql_limit_create(&conf->limit);
    ngx_http_fraiseql_persist_create(&conf->persist);
    ngx_http_fraiseql_web_create(&conf->web);

    return conf;
}


static char *
ngx_http_fraiseql_merge_loc_conf(ngx_conf_t *cf, void *parent, void *child)
{
    ngx_http_fraiseql_loc_conf_t *prev = parent;
    ngx_http_fraiseql_loc_conf_t *conf = child;

    ngx_conf_merge_value(conf->enable, prev->enable, 0);
    ngx_conf_merge_ptr_value(conf->schema, prev->schema, NULL);
    ngx_conf_merge_ptr_value(conf->group, prev->group, NULL);
    ngx_conf_merge_uint_value(conf->pool_size, prev->pool_size,
                              NGX_HTTP_FRAISEQL_POOL_SIZE);
    ngx_conf_merge_uint_value(conf->pool_min, prev->pool_min, 0);
    ngx_conf_merge_msec_value(conf->idle_timeout, prev->idle_timeout,
                              NGX_HTTP_FRAISEQL_IDLE_TIMEOUT);
    ngx_conf_merge_msec_value(conf->lifetime, prev->lifetime,
                              NGX_HTTP_FRAISEQL_LIFETIME);
    ngx_conf_merge_msec_value(conf->connect_timeout, prev->connect_timeout,
                              NGX_HTTP_FRAISEQL_CONNECT_TIMEOUT);
    ngx_conf_merge_msec_value(conf->query_timeout, prev->query_timeout,
                              60000);

    if (conf->query_timeout == 0) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "\"fraiseql_query_timeout\" must be more "
                           "than 0");
        return NGX_CONF_ERROR;
    }

    if (conf->pool_min > conf->pool_size) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "\"fraiseql_pool_min\" %ui is over "
                           "\"fraiseql_pool_size\" %ui",
                           conf->pool_min, conf->pool_size);
        return NGX_CONF_ERROR;
    }
    ngx_conf_merge_uint_value(conf->max_depth, prev->max_depth, 15);
    ngx_conf_merge_uint_value(conf->request_connections,
                              prev->request_connections, 4);
    ngx_conf_merge_bufs_value(conf->buffers, prev->buffers, 8, 16384);
    ngx_conf_merge_off_value(conf->max_temp_file_size,
                             prev->max_temp_file_size, 1024 * 1024 * 1024);
    ngx_conf_merge_msec_value(conf->send_timeout, prev->send_timeout, 10000);

    if (conf->buffers.num < 1 || conf->buffers.size < 1024) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "\"fraiseql_buffers\" must be at least 1 buffer "
                           "of 1k");
        return NGX_CONF_ERROR;
    }

    if (conf->send_timeout == 0) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "\"fraiseql_send_timeout\" must be more than 0");
        return NGX_CONF_ERROR;
    }
    ngx_conf_merge_size_value(conf->max_document_size,
                              prev->max_document_size, 32768);
    ngx_conf_merge_uint_value(conf->max_root_fields, prev->max_root_fields,
                              20);
    /* SECURITY.md §5: Apollo Router's documented examples, not
     * graphql-armor's tighter ones, which broke real applications */
    ngx_conf_merge_uint_value(conf->max_aliases, prev->max_aliases, 30);
    ngx_conf_merge_uint_value(conf->max_fields, prev->max_fields, 200);
    ngx_conf_merge_uint_value(conf->max_directives, prev->max_directives,
                              50);
    ngx_conf_merge_uint_value(conf->max_tokens, prev->max_tokens, 15000);
    ngx_conf_merge_uint_value(conf->max_conditions, prev->max_conditions,
                              100);
    ngx_conf_merge_value(conf->introspection, prev->introspection, 1);
    ngx_conf_merge_value(conf->prepared, prev->prepared, 1);
    ngx_conf_merge_value(conf->pipeline, prev->pipeline, 1);
    ngx_conf_merge_value(conf->debug, prev->debug, 0);
    ngx_conf_merge_value(conf->server_timing, prev->server_timing, 0);
    ngx_conf_merge_value(conf->metrics_count, prev->metrics_count, 1);

    conf->stmt.timeout = conf->query_timeout
                         + NGX_HTTP_FRAISEQL_TIMEOUT_GRACE;
    conf->stmt.named = conf->prepared;
    conf->stmt.pipeline = conf->pipeline;

    ngx_conf_merge_uint_value(conf->default_limit, prev->default_limit, 0);
    ngx_conf_merge_uint_value(conf->max_limit, prev->max_limit, 0);

    if (conf->max_limit && conf->default_limit > conf->max_limit) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "\"fraiseql_default_limit\" %ui is over "
                           "\"fraiseql_max_limit\" %ui",
                           conf->default_limit, conf->max_limit);
        return NGX_CONF_ERROR;
    }
    ngx_conf_merge_uint_value(conf->queue_size, prev->queue_size,
                              NGX_CONF_UNSET_UINT);
    ngx_conf_merge_msec_value(conf->queue_timeout, prev->queue_timeout,
                              10000);
    ngx_conf_merge_uint_value(conf->batch, prev->batch, 0);

    if (conf->schema_file.data == NULL) {
        conf->schema_file = prev->schema_file;
    }

    if (ngx_http_fraiseql_auth_merge(cf, &prev->auth, &conf->auth)
        != NGX_CONF_OK
        || ngx_http_fraiseql_limit_merge(cf, &prev->limit, &conf->limit)
           != NGX_CONF_OK
        || ngx_http_fraiseql_persist_merge(cf, &prev->persist,
                                           &conf->persist, NULL)
           != NGX_CONF_OK
        || ngx_http_fraiseql_web_merge(cf, &prev->web, &conf->web,
                                       &conf->auth) != NGX_CONF_OK)
    {
        return NGX_CONF_ERROR;
    }

    if (!conf->enable) {
        return NGX_CONF_OK;
    }

    if (conf->schema == NULL) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "\"fraiseql\" needs a \"fraiseql_schema\"");
        return NGX_CONF_ERROR;
    }

    if (conf->group == NULL) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "\"fraiseql\" needs a \"fraiseql_database\"");
        return NGX_CONF_ERROR;
    }

    if (conf->queue_size == NGX_CONF_UNSET_UINT) {
        conf->queue_size = conf->pool_size * 64;
    }

    ngx_http_fraiseql_merge_servers(conf);

    /* what each request of the location compiles with */
    conf->engine.schema = conf->schema;
    conf->engine.parse.max_depth = 0;
    conf->engine.parse.max_tokens = conf->max_tokens;

    ngx_memzero(&conf->engine.compile, sizeof(fql_compile_limits_t));
    conf->engine.compile.max_depth = conf->max_depth;
    conf->engine.compile.max_root_fields = conf->max_root_fields;
    conf->engine.compile.max_aliases = conf->max_aliases;
    conf->engine.compile.max_fields = conf->max_fields;
    conf->engine.compile.max_directives = conf->max_directives;
    conf->engine.compile.max_conditions = conf->max_conditions;

    /* the whole schema's introspection twice over: more is aliases */
    conf->engine.compile.max_static = 2 * conf->schema->introspection_size
                                      + 65536;
    conf->engine.compile.no_introspection = !conf->introspection;
    conf->engine.compile.default_limit = conf->default_limit;
    conf->engine.compile.max_limit = conf->max_limit;

    /* the trusted documents, against the engine just made */
    return ngx_http_fraiseql_persist_merge(cf, &prev->persist,
                                           &conf->persist, &conf->engine);
}


/* a server's pool is shared by its locations: the largest wins */
static void
ngx_http_fraiseql_merge_servers(ngx_http_fraiseql_loc_conf_t *conf)
{
    ngx_uint_t               i;
    ngx_http_fraiseql_db_t  *db, **dbs;

    dbs = conf->group->servers.elts;

    for (i = 0; i < conf->group->servers.nelts; i++) {
        db = dbs[i];

        db->pool_size = ngx_max(db->pool_size, conf->pool_size);
        db->pool_min = ngx_max(db->pool_min, conf->pool_min);
        db->queue_size = ngx_max(db->queue_size, conf->queue_size);
        db->queue_timeout = ngx_max(db->queue_timeout, conf->queue_timeout);
        db->connect_timeout = ngx_max(db->connect_timeout,
                                      conf->connect_timeout);
        db->statement_timeout = ngx_max(db->statement_timeout,
                                        conf->query_timeout);

        ngx_http_fraiseql_merge_never(&db->idle_timeout, conf->idle_timeout);
        ngx_http_fraiseql_merge_never(&db->lifetime, conf->lifetime);
    }
}


/* the largest of two times where 0 is "never": it wins over any other */
static void
ngx_http_fraiseql_merge_never(ngx_msec_t *server, ngx_msec_t location)
{
    if (*server == NGX_CONF_UNSET_MSEC || location == 0) {
        *server = location;

    } else if (*server != 0) {
        *server = ngx_max(*server, location);
    }
}


static char *
ngx_http_fraiseql(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    ngx_http_fraiseql_loc_conf_t  *flcf = conf;

    ngx_http_core_loc_conf_t  *clcf;

    if (flcf->enable != NGX_CONF_UNSET) {
        return "is duplicate";
    }

    flcf->enable = 1;

    clcf = ngx_http_conf_get_module_loc_conf(cf, ngx_http_core_module);
    clcf->handler = ngx_http_fraiseql_handler;

    return NGX_CONF_OK;
}


static char *
ngx_http_fraiseql_schema(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    ngx_http_fraiseql_loc_conf_t  *flcf = conf;

    size_t              n;
    ngx_str_t          *value, path;
    fql_arena_t         arena;
    fql_parse_error_t   err;
    u_char             *buf;

    if (flcf->schema != NGX_CONF_UNSET_PTR) {
        return "is duplicate";
    }

    value = cf->args->elts;
    path = value[1];

    if (ngx_conf_full_name(cf->cycle, &path, 1) != NGX_OK) {
        return NGX_CONF_ERROR;
    }

    buf = ngx_http_fraiseql_conf_read(cf, &path, 16 * 1024 * 1024, &n);
    if (buf == NULL) {
        return NGX_CONF_ERROR;
    }

    /* the schema lives as long as the configuration: the cycle's pool */
    ngx_http_fraiseql_arena_init(&arena, cf->pool);

    if (fql_schema_build(&arena, (char *) buf, n, &flcf->schema, &err)
        != 0)
    {
        if (err.loc.line) {
            ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                               "fraiseql_schema: %V:%uD:%uD: %s", &path,
                               err.loc.line, err.loc.column, err.message);
        } else {
            ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                               "fraiseql_schema: %V: %s", &path,
                               err.message);
        }

        return NGX_CONF_ERROR;
    }

    flcf->schema_file = path;

    return NGX_CONF_OK;
}


/* fraiseql_database "conninfo" [role=primary|replica]; once per server */
static char *
ngx_http_fraiseql_database(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    ngx_http_fraiseql_loc_conf_t  *flcf = conf;

    ngx_str_t                      *value;
    ngx_http_fraiseql_db_t         *db, **dbp;
    ngx_http_fraiseql_main_conf_t  *fmcf;

    value = cf->args->elts;

    db = ngx_pcalloc(cf->pool, sizeof(ngx_http_fraiseql_db_t));
    if (db == NULL) {
        return NGX_CONF_ERROR;
    }

    db->conninfo = value[1];
    db->idle_timeout = NGX_CONF_UNSET_MSEC;
    db->lifetime = NGX_CONF_UNSET_MSEC;

    if (cf->args->nelts == 3) {
        if (ngx_strcmp(value[2].data, "role=replica") == 0) {
            db->replica = 1;

        } else if (ngx_strcmp(value[2].data, "role=primary") != 0) {
            ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                               "fraiseql_database: \"%V\" is not "
                               "\"role=primary\" or \"role=replica\"",
                               &value[2]);
            return NGX_CONF_ERROR;
        }
    }

    if (ngx_http_fraiseql_db_init(cf, db) != NGX_OK) {
        return NGX_CONF_ERROR;
    }

    if (flcf->group != NGX_CONF_UNSET_PTR
        && flcf->group->servers.nelts == NGX_HTTP_FRAISEQL_SERVERS_MAX)
    {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "fraiseql_database: more than %d servers in a "
                           "location", NGX_HTTP_FRAISEQL_SERVERS_MAX);
        return NGX_CONF_ERROR;
    }

    if (flcf->group == NGX_CONF_UNSET_PTR) {
        flcf->group = ngx_pcalloc(cf->pool,
                                  sizeof(ngx_http_fraiseql_group_t));
        if (flcf->group == NULL
            || ngx_array_init(&flcf->group->servers, cf->pool, 2,
                              sizeof(ngx_http_fraiseql_db_t *)) != NGX_OK)
        {
            return NGX_CONF_ERROR;
        }
    }

    dbp = ngx_array_push(&flcf->group->servers);
    if (dbp == NULL) {
        return NGX_CONF_ERROR;
    }

    *dbp = db;

    fmcf = ngx_http_conf_get_module_main_conf(cf, ngx_http_fraiseql_module);

    dbp = ngx_array_push(&fmcf->dbs);
    if (dbp == NULL) {
        return NGX_CONF_ERROR;
    }

    *dbp = db;

    return NGX_CONF_OK;
}


/*
 * A directive's optional NAME=time parameter (timeout=, check=, ttl=):
 * its time, in seconds when is_sec, else milliseconds; 0 and bad times
 * are refused as "invalid <what>".  NGX_ERROR: logged.
 */
/*
 * A file read whole into the configuration's pool, NUL-terminated, at
 * most max bytes (its length in *len); NULL when it cannot be, said.
 */
u_char *
ngx_http_fraiseql_conf_read(ngx_conf_t *cf, ngx_str_t *path, size_t max,
    size_t *len)
{
    u_char           *buf;
    ssize_t           n;
    ngx_file_t        file;
    ngx_file_info_t   fi;

    ngx_memzero(&file, sizeof(ngx_file_t));
    file.name = *path;
    file.log = cf->log;

    file.fd = ngx_open_file(path->data, NGX_FILE_RDONLY, NGX_FILE_OPEN, 0);
    if (file.fd == NGX_INVALID_FILE) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, ngx_errno,
                           ngx_open_file_n " \"%V\" failed", path);
        return NULL;
    }

    if (ngx_fd_info(file.fd, &fi) == NGX_FILE_ERROR) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, ngx_errno,
                           ngx_fd_info_n " \"%V\" failed", path);
        ngx_close_file(file.fd);
        return NULL;
    }

    if ((size_t) ngx_file_size(&fi) > max) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0, "\"%V\" is larger than "
                           "%uz bytes", path, max);
        ngx_close_file(file.fd);
        return NULL;
    }

    buf = ngx_pnalloc(cf->pool, ngx_file_size(&fi) + 1);
    if (buf == NULL) {
        ngx_close_file(file.fd);
        return NULL;
    }

    n = ngx_read_file(&file, buf, ngx_file_size(&fi), 0);
    ngx_close_file(file.fd);

    if (n != ngx_file_size(&fi)) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0, "could not read \"%V\"",
                           path);
        return NULL;
    }

    buf[n] = '\0';
    *len = n;

    return buf;
}


ngx_int_t
ngx_http_fraiseql_conf_time(ngx_conf_t *cf, ngx_str_t *value,
    const char *name, const char *what, ngx_uint_t is_sec, ngx_int_t *out)
{
    size_t     len;
    ngx_str_t  s;

    len = ngx_strlen(name);

    if (value->len < len || ngx_strncmp(value->data, name, len) != 0) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "invalid parameter \"%V\"", value);
        return NGX_ERROR;
    }

    s.data = value->data + len;
    s.len = value->len - len;

    *out = ngx_parse_time(&s, is_sec);

    if (*out == NGX_ERROR || *out == 0) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0, "invalid %s \"%V\"", what,
                           value);
        return NGX_ERROR;
    }

    return NGX_OK;
}


/* fraiseql_pool_queue N [timeout=T]; */
static char *
ngx_http_fraiseql_pool_queue(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    ngx_http_fraiseql_loc_conf_t  *flcf = conf;

    ngx_int_t    n, t;
    ngx_str_t   *value;

    if (flcf->queue_size != NGX_CONF_UNSET_UINT) {
        return "is duplicate";
    }

    value = cf->args->elts;

    n = ngx_atoi(value[1].data, value[1].len);
    if (n == NGX_ERROR || n > 1000000) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "invalid queue size \"%V\"", &value[1]);
        return NGX_CONF_ERROR;
    }

    flcf->queue_size = n;

    if (cf->args->nelts == 3) {
        if (ngx_http_fraiseql_conf_time(cf, &value[2], "timeout=", "timeout",
                                        0, &t) != NGX_OK)
        {
            return NGX_CONF_ERROR;
        }

        flcf->queue_timeout = (ngx_msec_t) t;
    }

    return NGX_CONF_OK;
}


static void
ngx_http_fraiseql_exit_process(ngx_cycle_t *cycle)
{
    ngx_http_fraiseql_main_conf_t  *fmcf;

    ngx_http_fraiseql_pool_exit(cycle);

    fmcf = ngx_http_cycle_get_module_main_conf(cycle,
                                               ngx_http_fraiseql_module);

    /* requests are over: plans in use are gone with them */
    if (fmcf != NULL && fmcf->cache != NULL) {
        fql_cache_destroy(fmcf->cache);
        fmcf->cache = NULL;
    }

    if (fmcf != NULL) {
        ngx_http_fraiseql_auth_exit(fmcf);
        ngx_http_fraiseql_perms_exit_process(fmcf);
    }
}


static ngx_int_t
ngx_http_fraiseql_init_process(ngx_cycle_t *cycle)
{
    ngx_uint_t                      i;
    ngx_http_fraiseql_db_t        **dbs;
    ngx_http_fraiseql_main_conf_t  *fmcf;

    fmcf = ngx_http_cycle_get_module_main_conf(cycle,
                                               ngx_http_fraiseql_module);

    if (fmcf == NULL) {
        return NGX_OK;
    }

    dbs = fmcf->dbs.elts;

    for (i = 0; i < fmcf->dbs.nelts; i++) {
        if (dbs[i]->pool_min) {
            ngx_http_fraiseql_pool_init(cycle, dbs[i]);
        }
    }

    ngx_http_fraiseql_auth_init_process(cycle, fmcf);
    ngx_http_fraiseql_perms_init_process(cycle, fmcf);

    if (fmcf->plan_cache) {
        fmcf->cache = fql_cache_create(fmcf->plan_cache,
                                       fmcf->plan_cache_size);
        if (fmcf->cache == NULL) {
            ngx_log_error(NGX_LOG_ALERT, cycle->log, 0,
                          "fraiseql: no memory for the plan cache");
            return NGX_ERROR;
        }
    }

    ngx_http_fraiseql_observe_init_process(cycle, fmcf);

    return NGX_OK;
}


static void *
ngx_http_fraiseql_create_main_conf(ngx_conf_t *cf)
{
    ngx_http_fraiseql_main_conf_t  *conf;

    conf = ngx_pcalloc(cf->pool, sizeof(ngx_http_fraiseql_main_conf_t));
    if (conf == NULL) {
        return NULL;
    }

    conf->plan_cache = NGX_CONF_UNSET_UINT;
    conf->plan_cache_size = NGX_CONF_UNSET_SIZE;

    if (ngx_array_init(&conf->dbs, cf->pool, 4,
                       sizeof(ngx_http_fraiseql_db_t *)) != NGX_OK)
    {
        return NULL;
    }

    return conf;
}


static char *
ngx_http_fraiseql_init_main_conf(ngx_conf_t *cf, void *conf)
{
    ngx_http_fraiseql_main_conf_t  *fmcf = conf;

    ngx_conf_init_uint_value(fmcf->plan_cache, 1024);
    ngx_conf_init_size_value(fmcf->plan_cache_size, 16 * 1024 * 1024);

    return NGX_CONF_OK;
}


/* fraiseql_plan_cache N [size=SIZE] | off */
static char *
ngx_http_fraiseql_plan_cache(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    ngx_http_fraiseql_main_conf_t  *fmcf = conf;

    ssize_t     size;
    ngx_int_t   n;
    ngx_str_t  *value, s;

    if (fmcf->plan_cache != NGX_CONF_UNSET_UINT) {
        return "is duplicate";
    }

    value = cf->args->elts;

    if (ngx_strcmp(value[1].data, "off") == 0) {
        if (cf->args->nelts > 2) {
            return "takes nothing after \"off\"";
        }

        fmcf->plan_cache = 0;
        return NGX_CONF_OK;
    }

    if (cf->args->nelts == 3) {
        if (ngx_strncmp(value[2].data, "size=", 5) != 0) {
            ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                               "invalid parameter \"%V\"", &value[2]);
            return NGX_CONF_ERROR;
        }

        s.data = value[2].data + 5;
        s.len = value[2].len - 5;

        /* room for a typical plan's share at least (FQL_CACHE_SHARE) */
        size = ngx_parse_size(&s);
        if (size == NGX_ERROR || size < 256 * 1024) {
            ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                               "\"fraiseql_plan_cache\" size must be at "
                               "least 256k, not \"%V\"", &s);
            return NGX_CONF_ERROR;
        }

        fmcf->plan_cache_size = size;
    }

    n = ngx_atoi(value[1].data, value[1].len);
    if (n == NGX_ERROR || n < 1 || n > 1000000) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "\"fraiseql_plan_cache\" takes \"off\" or a "
                           "number of plans from 1 to 1000000, not \"%V\"",
                           &value[1]);
        return NGX_CONF_ERROR;
    }

    fmcf->plan_cache = n;

    return NGX_CONF_OK;
}


/* the locations are merged: the servers' settings are final */
static ngx_int_t
ngx_http_fraiseql_postconfiguration(ngx_conf_t *cf)
{
    ngx_uint_t                      i;
    ngx_http_fraiseql_db_t        **dbs;
    ngx_http_fraiseql_main_conf_t  *fmcf;

    fmcf = ngx_http_conf_get_module_main_conf(cf, ngx_http_fraiseql_module);
    dbs = fmcf->dbs.elts;

    for (i = 0; i < fmcf->dbs.nelts; i++) {
        if (ngx_http_fraiseql_db_finalize(cf, dbs[i]) != NGX_OK) {
            return NGX_ERROR;
        }
    }

    return ngx_http_fraiseql_observe_init(cf);
}


static ngx_int_t
ngx_http_fraiseql_add_variables(ngx_conf_t *cf)
{
    ngx_http_variable_t  *var;

    ngx_uint_t            i;

    static struct {
        ngx_str_t                    name;
        ngx_http_get_variable_pt     handler;
        ngx_uint_t                   flags;
    } vars[] = {
        { ngx_string("fraiseql_plan_cache"),
          ngx_http_fraiseql_cache_variable, NGX_HTTP_VAR_NOCACHEABLE },
        { ngx_string("fraiseql_jwt_status"),
          ngx_http_fraiseql_jwt_status_variable, NGX_HTTP_VAR_NOCACHEABLE },
        { ngx_string("fraiseql_role"),
          ngx_http_fraiseql_role_variable, NGX_HTTP_VAR_NOCACHEABLE },
        { ngx_string("fraiseql_jwt_claim_"),
          ngx_http_fraiseql_claim_variable,
          NGX_HTTP_VAR_NOCACHEABLE|NGX_HTTP_VAR_PREFIX },
        { ngx_string("fraiseql_limit_status"),
          ngx_http_fraiseql_limit_status_variable, NGX_HTTP_VAR_NOCACHEABLE },
        { ngx_string("fraiseql_rate_key"),
          ngx_http_fraiseql_rate_key_variable, NGX_HTTP_VAR_NOCACHEABLE },
    };

    for (i = 0; i < sizeof(vars) / sizeof(vars[0]); i++) {
        var = ngx_http_add_variable(cf, &vars[i].name, vars[i].flags);
        if (var == NULL) {
            return NGX_ERROR;
        }

        var->get_handler = vars[i].handler;
    }

    return ngx_http_fraiseql_observe_variables(cf);
}


/* $fraiseql_plan_cache: HIT or MISS; empty when no plan was looked up */
static ngx_int_t
ngx_http_fraiseql_cache_variable(ngx_http_request_t *r,
    ngx_http_variable_value_t *v, uintptr_t data)
{
    ngx_http_fraiseql_ctx_t  *ctx;

    ctx = ngx_http_get_module_ctx(r, ngx_http_fraiseql_module);

    if (ctx == NULL || !ctx->cache.cached) {
        v->not_found = 1;
        return NGX_OK;
    }

    v->data = (u_char *) (ctx->cache.hit ? "HIT" : "MISS");
    v->len = ctx->cache.hit ? 3 : 4;
    v->valid = 1;
    v->no_cacheable = 1;
    v->not_found = 0;

    return NGX_OK;
}
