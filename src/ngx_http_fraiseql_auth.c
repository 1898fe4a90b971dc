/*
 * Identity: the request's token (fraiseql_jwt_token, else Authorization:
 * Bearer), verified by fql_jwt.c against the location's pinned keys
 * before the body is read and any SQL runs; a refusal is 401 with
 * WWW-Authenticate.  A verified token's claims reach PostgreSQL as
 * request.jwt.claims (PostgREST's name, so its row-level security
 * policies work unchanged) through a leading statement in the same
 * pipeline as each root field's statement, before one Sync: the settings
 * are transaction-local and gone when the next request uses the
 * connection.  The variables $fraiseql_jwt_status, $fraiseql_role and
 * $fraiseql_jwt_claim_<name> say what happened.
 *
 * Keys are pinned (fraiseql_jwt_key) or come from a JSON Web Key Set
 * (fql_jwk.c): a file (fraiseql_jwt_jwks_file), which each worker checks
 * on a timer and re-reads when it changes, or a location that proxies
 * the identity provider (fraiseql_jwt_jwks_uri), which each worker
 * fetches through an in-memory subrequest of a request that needs it:
 * rotation without a reload, and no blocking call.
 */

#include "ngx_http_fraiseql.h"

#include <openssl/sha.h>


/* the verified-token cache's defaults: tokens, and how long at most */
#define NGX_HTTP_FRAISEQL_JWT_CACHE      1024
#define NGX_HTTP_FRAISEQL_JWT_CACHE_TTL  300

/*
 * A worker's verified tokens: an rbtree on their SHA-256, least recently
 * used first out.  Only successes are kept (a cache of refusals would be
 * the attacker's to churn), each until its exp (plus the leeway) or the
 * ttl, whichever comes first; a reload starts a new one, as keys change.
 */
struct ngx_http_fraiseql_jwt_cache_s {
    ngx_rbtree_t                    rbtree;
    ngx_rbtree_node_t               sentinel;
    ngx_queue_t                     lru;      /* most recent first */
    ngx_uint_t                      n;
    ngx_http_fraiseql_jwt_cache_t  *next;     /* the worker's others */
};

typedef struct {
    ngx_rbtree_node_t           node;         /* key: digest's first bytes */
    ngx_queue_t                 queue;
    u_char                      digest[SHA256_DIGEST_LENGTH];
    time_t                      expires;
    size_t                      len;
    u_char                      claims[1];    /* JSON, NUL-ended */
} ngx_http_fraiseql_jwt_entry_t;


/* what tells one version of a key set file from another */
typedef struct {
    ngx_file_uniq_t                 uniq;
    time_t                          mtime;
    long                            nsec;     /* of mtime, where known */
    off_t                           size;
} ngx_http_fraiseql_jwks_id_t;

typedef struct {
    ngx_http_fraiseql_jwks_t       *jwks;
    ngx_uint_t                      done;
} ngx_http_fraiseql_jwks_fetch_t;

/*
 * A key set file and the keys read from it.  The configuration reads it
 * (nginx -t refuses a bad one); each worker then stats it every `check`
 * and re-reads it when it changed, keeping the last good set when the new
 * text is refused.  Every location that uses it (users) verifies with one
 * contiguous array, its pinned keys then the set's, rebuilt on a change.
 *
 * A key set URI starts empty in each worker.  The first request with a
 * token fetches it and waits, with any other that comes meanwhile; a
 * request after `refresh` fetches it again in the background and goes
 * on; a token with an unknown kid fetches it again and waits.  Fetches
 * start at most once per `cooldown`, whatever the clients send, and a
 * failed one keeps the last good set.
 */
struct ngx_http_fraiseql_jwks_s {
    ngx_str_t                       path;     /* or the URI */
    ngx_str_t                       args;     /* the URI's */
    ngx_uint_t                      uri;      /* fraiseql_jwt_jwks_uri */
    ngx_msec_t                      check;
    ngx_msec_t                      refresh;  /* URI: fetched again after */
    ngx_msec_t                      cooldown; /* URI: fetches at most */
    /* URI, the worker's: the fetch running, when the last one started,
     * when the last good text came, and that text's digest */
    ngx_http_fraiseql_jwks_fetch_t *fetch;
    ngx_msec_t                      tried;
    ngx_msec_t                      loaded;
    u_char                          digest[SHA256_DIGEST_LENGTH];
    ngx_queue_t                     waiters;  /* ngx_http_fraiseql_auth_t */
    unsigned                        tried_once:1;
    unsigned                        loaded_once:1;
    ngx_http_fraiseql_jwks_id_t     id;       /* of the text last read */
    fql_jwk_set_t                  *set;      /* the keys in use */
    /* the worker's: what holds set and the users' arrays; NULL while
     * they are the configuration's */
    ngx_pool_t                     *pool;
    ngx_array_t                     users;    /* auth_conf_t * */
    ngx_event_t                     event;
    ngx_uint_t                      failing;  /* cannot open: said once */
    ngx_http_fraiseql_jwks_t       *next;     /* main conf's list */
};


static ngx_int_t ngx_http_fraiseql_auth_refuse(ngx_http_request_t *r,
    ngx_http_fraiseql_ctx_t *ctx, const char *message);
static ngx_int_t ngx_http_fraiseql_auth_forbid(ngx_http_request_t *r,
    ngx_http_fraiseql_ctx_t *ctx);
static ngx_int_t ngx_http_fraiseql_perms_unavailable(ngx_http_request_t *r,
    ngx_http_fraiseql_ctx_t *ctx);
static ngx_int_t ngx_http_fraiseql_auth_answer(ngx_http_request_t *r,
    ngx_http_fraiseql_ctx_t *ctx, ngx_uint_t status, const char *code,
    const char *message);
static void ngx_http_fraiseql_jwt_cache_clear(
    ngx_http_fraiseql_jwt_cache_t *cache);


/* ---- configuration ---- */


void
ngx_http_fraiseql_auth_create(ngx_http_fraiseql_auth_conf_t *acf)
{
    /*
     * set by ngx_pcalloc():
     *
     *     acf->issuer = { 0, NULL };
     *     acf->role_claim = { 0, NULL };
     *     acf->anon_role = { 0, NULL };
     *     acf->lead = NULL;
     */

    acf->mode = NGX_CONF_UNSET_UINT;
    acf->token = NGX_CONF_UNSET_PTR;
    acf->keys = NGX_CONF_UNSET_PTR;
    acf->jwks = NGX_CONF_UNSET_PTR;
    acf->cache_size = NGX_CONF_UNSET_UINT;
    acf->cache_ttl = NGX_CONF_UNSET;
    acf->audiences = NGX_CONF_UNSET_PTR;
    acf->settings = NGX_CONF_UNSET_PTR;
    acf->leeway = NGX_CONF_UNSET;
    acf->max_size = NGX_CONF_UNSET_SIZE;
    acf->db_role = NGX_CONF_UNSET_UINT;
    acf->trace = NGX_CONF_UNSET_UINT;
    acf->denied_null = NGX_CONF_UNSET_UINT;
}


static void
ngx_http_fraiseql_key_cleanup(void *data)
{
    fql_jwt_key_free(data);
}


/* fraiseql_jwt_key alg=ALG file=PATH [kid=ID]; */
char *
ngx_http_fraiseql_jwt_key(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    ngx_http_fraiseql_loc_conf_t *flcf = conf;

    char                 err[256];
    ssize_t              n;
    ngx_str_t           *value, alg, file, kid;
    ngx_uint_t           i;
    ngx_file_t           f;
    ngx_file_info_t      fi;
    fql_arena_t          arena;
    fql_jwt_alg_t        a;
    fql_jwt_key_t       *key;
    fql_str_t            s, k;
    ngx_pool_cleanup_t  *cln;
    u_char              *data;

    value = cf->args->elts;
    ngx_str_null(&alg);
    ngx_str_null(&file);
    ngx_str_null(&kid);

    for (i = 1; i < cf->args->nelts; i++) {
        if (ngx_strncmp(value[i].data, "alg=", 4) == 0) {
            alg.data = value[i].data + 4;
            alg.len = value[i].len - 4;

        } else if (ngx_strncmp(value[i].data, "file=", 5) == 0) {
            file.data = value[i].data + 5;
            file.len = value[i].len - 5;

        } else if (ngx_strncmp(value[i].data, "kid=", 4) == 0) {
            kid.data = value[i].data + 4;
            kid.len = value[i].len - 4;

        } else {
            ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                               "invalid parameter \"%V\"", &value[i]);
            return NGX_CONF_ERROR;
        }
    }

    s.data = (char *) alg.data;
    s.len = alg.len;
    a = alg.len ? fql_jwt_alg_named(s) : FQL_JWT_ALG_UNKNOWN;

    if (a == FQL_JWT_ALG_UNKNOWN || file.len == 0) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "\"%V\" needs alg=HS256|HS384|HS512|RS256|RS384|"
                           "RS512|ES256|ES384|ES512 and file=PATH",
                           &cmd->name);
        return NGX_CONF_ERROR;
    }

    if (ngx_conf_full_name(cf->cycle, &file, 1) != NGX_OK) {
        return NGX_CONF_ERROR;
    }

    /* a key file is small: read whole, at configuration time only */
    ngx_memzero(&f, sizeof(ngx_file_t));
    f.name = file;
    f.log = cf->log;
    f.fd = ngx_open_file(file.data, NGX_FILE_RDONLY, NGX_FILE_OPEN, 0);

    if (f.fd == NGX_INVALID_FILE) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, ngx_errno,
                           ngx_open_file_n " \"%V\" failed", &file);
        return NGX_CONF_ERROR;
    }

    if (ngx_fd_info(f.fd, &fi) == NGX_FILE_ERROR
        || ngx_file_size(&fi) > 65536)
    {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "key file \"%V\" is not a file of at most 64k",
                           &file);
        ngx_close_file(f.fd);
        return NGX_CONF_ERROR;
    }

    data = ngx_pnalloc(cf->temp_pool, ngx_file_size(&fi) + 1);
    if (data == NULL) {
        ngx_close_file(f.fd);
        return NGX_CONF_ERROR;
    }

    n = ngx_read_file(&f, data, ngx_file_size(&fi), 0);
    ngx_close_file(f.fd);

    if (n != ngx_file_size(&fi)) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0, "cannot read \"%V\"",
                           &file);
        return NGX_CONF_ERROR;
    }

    /* a secret written by an editor or echo ends with a line break */
    if (a <= FQL_JWT_HS512) {
        while (n > 0 && (data[n - 1] == '\n' || data[n - 1] == '\r')) {
            n--;
        }
    }

    data[n] = '\0';

    if (flcf->auth.keys == NGX_CONF_UNSET_PTR) {
        flcf->auth.keys = ngx_array_create(cf->pool, 2,
                                           sizeof(fql_jwt_key_t));
        if (flcf->auth.keys == NULL) {
            return NGX_CONF_ERROR;
        }
    }

    key = ngx_array_push(flcf->auth.keys);
    if (key == NULL) {
        return NGX_CONF_ERROR;
    }

    k.data = (char *) kid.data;
    k.len = kid.len;
    ngx_http_fraiseql_arena_init(&arena, cf->pool);

    if (fql_jwt_key_load(&arena, a, k, (char *) data, n, key, err,
                         sizeof(err)) != 0)
    {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0, "\"%V\": %s", &file, err);
        return NGX_CONF_ERROR;
    }

    /* OpenSSL's key lives as long as the configuration */
    cln = ngx_pool_cleanup_add(cf->pool, 0);
    if (cln == NULL) {
        fql_jwt_key_free(key);
        return NGX_CONF_ERROR;
    }

    cln->handler = ngx_http_fraiseql_key_cleanup;
    cln->data = key;

    return NGX_CONF_OK;
}


/* ---- key set files ---- */


static void
ngx_http_fraiseql_jwks_cleanup(void *data)
{
    fql_jwk_set_free(data);
}


/*
 * A key set's text read into *set, from pool (which its keys live as long
 * as), the document's tree in tmp: a file's or a fetched one.  NGX_OK; or
 * NGX_ERROR with why in err ("" when out of memory).
 */
static ngx_int_t
ngx_http_fraiseql_jwks_parse(ngx_pool_t *pool, ngx_pool_t *tmp,
    u_char *data, size_t len, fql_jwk_set_t **set, char *err, size_t errlen)
{
    fql_arena_t          arena, tarena;
    fql_jwk_set_t       *s;
    ngx_pool_cleanup_t  *cln;

    err[0] = '\0';

    s = ngx_palloc(pool, sizeof(fql_jwk_set_t));
    if (s == NULL) {
        return NGX_ERROR;
    }

    ngx_http_fraiseql_arena_init(&arena, pool);
    ngx_http_fraiseql_arena_init(&tarena, tmp);

    if (fql_jwk_set_parse(&arena, &tarena, (char *) data, len, s, err,
                          errlen)
        != 0)
    {
        return NGX_ERROR;
    }

    /* OpenSSL's keys live as long as the pool that holds the set */
    cln = ngx_pool_cleanup_add(pool, 0);
    if (cln == NULL) {
        fql_jwk_set_free(s);
        return NGX_ERROR;
    }

    cln->handler = ngx_http_fraiseql_jwks_cleanup;
    cln->data = s;
    *set = s;

    return NGX_OK;
}


/*
 * Reads the file's key set into *set, from pool, with its document in
 * tmp; *id says which version was read.  NGX_OK; or NGX_ERROR with why in
 * err (and *errnum when the system said why).  A small local file: its
 * read blocks no longer than a stat does (SECURITY.md §1.6).
 */
static ngx_int_t
ngx_http_fraiseql_jwks_read(ngx_http_fraiseql_jwks_t *jwks, ngx_pool_t *pool,
    ngx_pool_t *tmp, ngx_log_t *log, fql_jwk_set_t **set,
    ngx_http_fraiseql_jwks_id_t *id, char *err, size_t errlen,
    ngx_err_t *errnum)
{
    off_t                size;
    ssize_t              n;
    u_char              *data;
    ngx_file_t           f;
    ngx_file_info_t      fi;

    *errnum = 0;

    ngx_memzero(&f, sizeof(ngx_file_t));
    f.name = jwks->path;
    f.log = log;
    f.fd = ngx_open_file(jwks->path.data, NGX_FILE_RDONLY, NGX_FILE_OPEN, 0);

    if (f.fd == NGX_INVALID_FILE) {
        *errnum = ngx_errno;
        ngx_cpystrn((u_char *) err, (u_char *) ngx_open_file_n " failed",
                    errlen);
        return NGX_ERROR;
    }

    /* the version is the one of the file opened, whatever the path's is */
    if (ngx_fd_info(f.fd, &fi) == NGX_FILE_ERROR) {
        *errnum = ngx_errno;
        ngx_cpystrn((u_char *) err, (u_char *) ngx_fd_info_n " failed",
                    errlen);
        ngx_close_file(f.fd);
        return NGX_ERROR;
    }

    size = ngx_file_size(&fi);

    id->uniq = ngx_file_uniq(&fi);
    id->mtime = ngx_file_mtime(&fi);
#if (NGX_LINUX)
    id->nsec = fi.st_mtim.tv_nsec;
#else
    id->nsec = 0;
#endif
    id->size = size;

    if (!ngx_is_file(&fi) || size > FQL_JWK_MAX_SIZE) {
        ngx_cpystrn((u_char *) err, (u_char *) "not a file of at most 1 MB",
                    errlen);
        ngx_close_file(f.fd);
        return NGX_ERROR;
    }

    data = ngx_pnalloc(tmp, size + 1);
    if (data == NULL) {
        ngx_close_file(f.fd);
        return NGX_ERROR;
    }

    n = ngx_read_file(&f, data, size, 0);
    ngx_close_file(f.fd);

    if (n != size) {
        ngx_cpystrn((u_char *) err, (u_char *) "cannot read the file",
                    errlen);
        return NGX_ERROR;
    }

    return ngx_http_fraiseql_jwks_parse(pool, tmp, data, n, set, err,
                                        errlen);
}


/* fraiseql_jwt_jwks_file PATH [check=30s]; */
char *
ngx_http_fraiseql_jwt_jwks_file(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf)
{
    ngx_http_fraiseql_loc_conf_t *flcf = conf;

    char                            err[256];
    ngx_int_t                       t;
    ngx_err_t                       errnum;
    ngx_str_t                      *value, path;
    ngx_msec_t                      check;
    ngx_http_fraiseql_jwks_t       *jwks;
    ngx_http_fraiseql_main_conf_t  *fmcf;

    if (flcf->auth.jwks != NGX_CONF_UNSET_PTR) {
        return "is duplicate: a location has one key set";
    }

    value = cf->args->elts;
    path = value[1];
    check = 30000;

    if (cf->args->nelts == 3) {
        if (ngx_http_fraiseql_conf_time(cf, &value[2], "check=",
                                        "check time", 0, &t) != NGX_OK)
        {
            return NGX_CONF_ERROR;
        }

        check = (ngx_msec_t) t;
    }

    if (ngx_conf_full_name(cf->cycle, &path, 1) != NGX_OK) {
        return NGX_CONF_ERROR;
    }

    fmcf = ngx_http_conf_get_module_main_conf(cf, ngx_http_fraiseql_module);

    /* one file, one set and one timer, however many places name it */
    for (jwks = fmcf->jwks; jwks; jwks = jwks->next) {
        if (jwks->check == check && jwks->path.len == path.len
            && ngx_strncmp(jwks->path.data, path.data, path.len) == 0)
        {
            flcf->auth.jwks = jwks;
            return NGX_CONF_OK;
        }
    }

    jwks = ngx_pcalloc(cf->pool, sizeof(ngx_http_fraiseql_jwks_t));
    if (jwks == NULL) {
        return NGX_CONF_ERROR;
    }

    jwks->path = path;
    jwks->check = check;

    if (ngx_array_init(&jwks->users, cf->pool, 4,
                       sizeof(ngx_http_fraiseql_auth_conf_t *))
        != NGX_OK)
    {
        return NGX_CONF_ERROR;
    }

    if (ngx_http_fraiseql_jwks_read(jwks, cf->pool, cf->temp_pool, cf->log,
                                    &jwks->set, &jwks->id, err, sizeof(err),
                                    &errnum)
        != NGX_OK)
    {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, errnum, "\"%V\": %s", &path,
                           err);
        return NGX_CONF_ERROR;
    }

    if (jwks->set->nskipped) {
        ngx_conf_log_error(NGX_LOG_WARN, cf, 0, "\"%V\": %ui of its keys "
                           "skipped, the first: %s", &path,
                           (ngx_uint_t) jwks->set->nskipped,
                           jwks->set->skipped);
    }

    jwks->next = fmcf->jwks;
    fmcf->jwks = jwks;
    flcf->auth.jwks = jwks;

    return NGX_CONF_OK;
}


/*
 * fraiseql_jwt_jwks_uri /internal-location [refresh=10m] [cooldown=30s];
 * the location proxies the identity provider's JWKS; nothing is fetched
 * at nginx -t, each worker fetches it when a request first needs it.
 */
char *
ngx_http_fraiseql_jwt_jwks_uri(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf)
{
    ngx_http_fraiseql_loc_conf_t *flcf = conf;

    u_char                         *q;
    ngx_int_t                       t;
    ngx_str_t                      *value, uri, args;
    ngx_uint_t                      i;
    ngx_msec_t                      refresh, cooldown;
    ngx_http_fraiseql_jwks_t       *jwks;
    ngx_http_fraiseql_main_conf_t  *fmcf;

    if (flcf->auth.jwks != NGX_CONF_UNSET_PTR) {
        return "is duplicate: a location has one key set";
    }

    value = cf->args->elts;
    uri = value[1];
    ngx_str_null(&args);

    if (uri.len == 0 || uri.data[0] != '/') {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0, "\"%V\": \"%V\" is not a "
                           "location's URI, such as /_jwks", &cmd->name,
                           &uri);
        return NGX_CONF_ERROR;
    }

    q = ngx_strlchr(uri.data, uri.data + uri.len, '?');
    if (q != NULL) {
        args.data = q + 1;
        args.len = uri.data + uri.len - args.data;
        uri.len = q - uri.data;
    }

    refresh = 600000;
    cooldown = 30000;

    for (i = 2; i < cf->args->nelts; i++) {
        if (value[i].len > 8
            && ngx_strncmp(value[i].data, "refresh=", 8) == 0)
        {
            if (ngx_http_fraiseql_conf_time(cf, &value[i], "refresh=",
                                            "refresh time", 0, &t)
                != NGX_OK)
            {
                return NGX_CONF_ERROR;
            }

            refresh = (ngx_msec_t) t;
            continue;
        }

        if (ngx_http_fraiseql_conf_time(cf, &value[i], "cooldown=",
                                        "cooldown time", 0, &t)
            != NGX_OK)
        {
            return NGX_CONF_ERROR;
        }

        cooldown = (ngx_msec_t) t;
    }

    fmcf = ngx_http_conf_get_module_main_conf(cf, ngx_http_fraiseql_module);

    /* one fetched set per URI and timings, however many places name it */
    for (jwks = fmcf->jwks; jwks; jwks = jwks->next) {
        if (jwks->uri && jwks->refresh == refresh
            && jwks->cooldown == cooldown
            && jwks->path.len == uri.len && jwks->args.len == args.len
            && ngx_strncmp(jwks->path.data, uri.data, uri.len) == 0
            && ngx_strncmp(jwks->args.data, args.data, args.len) == 0)
        {
            flcf->auth.jwks = jwks;
            return NGX_CONF_OK;
        }
    }

    jwks = ngx_pcalloc(cf->pool, sizeof(ngx_http_fraiseql_jwks_t));
    if (jwks == NULL) {
        return NGX_CONF_ERROR;
    }

    /* empty until a worker fetches it */
    jwks->set = ngx_pcalloc(cf->pool, sizeof(fql_jwk_set_t));
    if (jwks->set == NULL) {
        return NGX_CONF_ERROR;
    }

    jwks->path = uri;
    jwks->args = args;
    jwks->uri = 1;
    jwks->refresh = refresh;
    jwks->cooldown = cooldown;
    ngx_queue_init(&jwks->waiters);

    if (ngx_array_init(&jwks->users, cf->pool, 4,
                       sizeof(ngx_http_fraiseql_auth_conf_t *))
        != NGX_OK)
    {
        return NGX_CONF_ERROR;
    }

    jwks->next = fmcf->jwks;
    fmcf->jwks = jwks;
    flcf->auth.jwks = jwks;

    return NGX_CONF_OK;
}


/*
 * A location's keys: its pinned keys, then the set's, in one array from
 * pool (verification walks an array).  NGX_DECLINED when a kid names a
 * key of both: which one verifies would be a guess.
 */
static ngx_int_t
ngx_http_fraiseql_jwks_join(ngx_pool_t *pool,
    ngx_http_fraiseql_auth_conf_t *acf, fql_jwk_set_t *set,
    fql_jwt_key_t **keys, ngx_str_t *kid)
{
    ngx_uint_t      i, j, npinned;
    fql_jwt_key_t  *pinned, *k;

    npinned = acf->keys ? acf->keys->nelts : 0;
    pinned = acf->keys ? acf->keys->elts : NULL;

    for (i = 0; i < npinned; i++) {
        for (j = 0; pinned[i].kid.len && j < set->nkeys; j++) {
            if (fql_str_eq(pinned[i].kid, set->keys[j].kid)) {
                kid->data = (u_char *) pinned[i].kid.data;
                kid->len = pinned[i].kid.len;
                return NGX_DECLINED;
            }
        }
    }

    k = ngx_palloc(pool, (npinned + set->nkeys) * sizeof(fql_jwt_key_t));
    if (k == NULL) {
        return NGX_ERROR;
    }

    /* copies: the EVP_PKEYs stay their owners' (the pinned keys' cleanup,
     * the set's pool) */
    if (npinned) {
        ngx_memcpy(k, pinned, npinned * sizeof(fql_jwt_key_t));
    }

    ngx_memcpy(k + npinned, set->keys, set->nkeys * sizeof(fql_jwt_key_t));

    *keys = k;

    return NGX_OK;
}


/* fraiseql_db_setting NAME $value; (repeatable) */
char *
ngx_http_fraiseql_db_setting(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    ngx_http_fraiseql_loc_conf_t *flcf = conf;

    u_char                              *p;
    ngx_str_t                           *value;
    ngx_uint_t                           dots;
    ngx_http_fraiseql_setting_t         *st;
    ngx_http_compile_complex_value_t     ccv;

    value = cf->args->elts;

    /* a custom setting (it has a dot), written into SQL as a literal */
    dots = 0;

    for (p = value[1].data; p < value[1].data + value[1].len; p++) {
        if (*p == '.' && p > value[1].data
            && p < value[1].data + value[1].len - 1 && p[-1] != '.')
        {
            dots++;
            continue;
        }

        if (!((*p >= 'a' && *p <= 'z') || *p == '_'
              || (*p >= '0' && *p <= '9' && p > value[1].data)))
        {
            break;
        }
    }

    if (p != value[1].data + value[1].len || dots == 0
        || value[1].len > 63)
    {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "\"%V\": \"%V\" is not a custom setting's name "
                           "(lower-case words joined by dots, such as "
                           "request.ip)", &cmd->name, &value[1]);
        return NGX_CONF_ERROR;
    }

    if (flcf->auth.settings == NGX_CONF_UNSET_PTR) {
        flcf->auth.settings = ngx_array_create(cf->pool, 2,
                                  sizeof(ngx_http_fraiseql_setting_t));
        if (flcf->auth.settings == NULL) {
            return NGX_CONF_ERROR;
        }
    }

    st = ngx_array_push(flcf->auth.settings);
    if (st == NULL) {
        return NGX_CONF_ERROR;
    }

    st->name = value[1];

    ngx_memzero(&ccv, sizeof(ngx_http_compile_complex_value_t));
    ccv.cf = cf;
    ccv.value = &value[2];
    ccv.complex_value = &st->value;

    if (ngx_http_compile_complex_value(&ccv) != NGX_OK) {
        return NGX_CONF_ERROR;
    }

    return NGX_CONF_OK;
}


/* fraiseql_jwt_cache N [ttl=time] | off; */
char *
ngx_http_fraiseql_jwt_cache(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    ngx_http_fraiseql_loc_conf_t *flcf = conf;

    ngx_int_t   n;
    ngx_str_t  *value;

    value = cf->args->elts;

    if (flcf->auth.cache_size != NGX_CONF_UNSET_UINT) {
        return "is duplicate";
    }

    if (ngx_strcmp(value[1].data, "off") == 0 && cf->args->nelts == 2) {
        flcf->auth.cache_size = 0;
        return NGX_CONF_OK;
    }

    n = ngx_atoi(value[1].data, value[1].len);
    if (n <= 0 || n > 1000000) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "\"%V\": \"%V\" is not a number of tokens "
                           "(1 to 1000000) nor \"off\"", &cmd->name,
                           &value[1]);
        return NGX_CONF_ERROR;
    }

    flcf->auth.cache_size = n;

    if (cf->args->nelts == 3) {
        if (ngx_http_fraiseql_conf_time(cf, &value[2], "ttl=", "ttl", 1, &n)
            != NGX_OK)
        {
            return NGX_CONF_ERROR;
        }

        flcf->auth.cache_ttl = (time_t) n;
    }

    return NGX_CONF_OK;
}


/*
 * The leading statement: request.jwt.claims, then the role when
 * fraiseql_db_role claim, then each fraiseql_db_setting, then the trace
 * context (fraiseql_trace_context guc), in one SELECT whose values are
 * all parameters.
 */
static char *
ngx_http_fraiseql_auth_lead(ngx_conf_t *cf,
    ngx_http_fraiseql_auth_conf_t *acf)
{
    u_char                        *p;
    size_t                         len;
    ngx_uint_t                     i, n, nsettings;
    ngx_http_fraiseql_setting_t   *st;

    static const char  claims[] =
        "SELECT set_config('request.jwt.claims', $1, true)";
    static const char  role[] = ", set_config('role', $2, true)";
    static const char  trace[] =
        ", set_config('fraiseql.traceparent', $NNNN, true)";

    nsettings = acf->settings ? acf->settings->nelts : 0;
    st = acf->settings ? acf->settings->elts : NULL;

    len = sizeof(claims) + sizeof(role) + sizeof(trace);
    for (i = 0; i < nsettings; i++) {
        len += sizeof(", set_config('', $NNNN, true)") + st[i].name.len;
    }

    p = ngx_pnalloc(cf->pool, len);
    if (p == NULL) {
        return NGX_CONF_ERROR;
    }

    acf->lead = (const char *) p;
    p = ngx_cpymem(p, claims, sizeof(claims) - 1);
    n = 1;

    if (acf->db_role) {
        p = ngx_cpymem(p, role, sizeof(role) - 1);
        n++;
    }

    for (i = 0; i < nsettings; i++) {
        p = ngx_sprintf(p, ", set_config('%V', $%ui, true)", &st[i].name,
                        ++n);
    }

    if (acf->trace) {
        p = ngx_sprintf(p, ", set_config('fraiseql.traceparent', $%ui, "
                        "true)", ++n);
    }

    *p = '\0';
    acf->lead_len = p - (u_char *) acf->lead;
    acf->lead_hash = fql_hash(acf->lead, acf->lead_len);
    acf->lead_nparams = n;

    return NGX_CONF_OK;
}


char *
ngx_http_fraiseql_auth_merge(ngx_conf_t *cf,
    ngx_http_fraiseql_auth_conf_t *prev, ngx_http_fraiseql_auth_conf_t *acf)
{
    fql_str_t                        ptr;
    ngx_str_t                       *aud, kid;
    ngx_uint_t                       i;
    fql_jwt_key_t                   *keys;
    ngx_http_fraiseql_auth_conf_t  **user;

    ngx_conf_merge_uint_value(acf->mode, prev->mode,
                              NGX_HTTP_FRAISEQL_JWT_OFF);
    ngx_conf_merge_ptr_value(acf->token, prev->token, NULL);
    ngx_conf_merge_ptr_value(acf->keys, prev->keys, NULL);
    ngx_conf_merge_ptr_value(acf->jwks, prev->jwks, NULL);
    ngx_conf_merge_str_value(acf->issuer, prev->issuer, "");
    ngx_conf_merge_ptr_value(acf->audiences, prev->audiences, NULL);
    ngx_conf_merge_sec_value(acf->leeway, prev->leeway,
                             FQL_JWT_DEFAULT_LEEWAY);
    ngx_conf_merge_size_value(acf->max_size, prev->max_size,
                              FQL_JWT_DEFAULT_MAX_SIZE);
    ngx_conf_merge_str_value(acf->role_claim, prev->role_claim, "/role");
    ngx_conf_merge_str_value(acf->anon_role, prev->anon_role, "");
    ngx_conf_merge_str_value(acf->roles_claim, prev->roles_claim, "");
    ngx_conf_merge_str_value(acf->role_header, prev->role_header, "");
    ngx_conf_merge_uint_value(acf->db_role, prev->db_role, 0);
    ngx_conf_merge_uint_value(acf->trace, prev->trace, 0);
    ngx_conf_merge_uint_value(acf->denied_null, prev->denied_null, 0);
    ngx_conf_merge_str_value(acf->perms_claim, prev->perms_claim,
                             "/permissions");
    ngx_conf_merge_ptr_value(acf->settings, prev->settings, NULL);
    ngx_conf_merge_uint_value(acf->cache_size, prev->cache_size,
                              NGX_HTTP_FRAISEQL_JWT_CACHE);
    ngx_conf_merge_sec_value(acf->cache_ttl, prev->cache_ttl,
                             NGX_HTTP_FRAISEQL_JWT_CACHE_TTL);

    ptr.data = (char *) acf->role_claim.data;
    ptr.len = acf->role_claim.len;

    if (!fql_json_pointer_valid(ptr)) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "\"fraiseql_jwt_role_claim\" %V is not a JSON "
                           "pointer (RFC 6901), such as /role",
                           &acf->role_claim);
        return NGX_CONF_ERROR;
    }

    ptr.data = (char *) acf->perms_claim.data;
    ptr.len = acf->perms_claim.len;

    if (!fql_json_pointer_valid(ptr)) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "\"fraiseql_jwt_permissions_claim\" %V is not a "
                           "JSON pointer (RFC 6901), such as /permissions",
                           &acf->perms_claim);
        return NGX_CONF_ERROR;
    }

    ptr.data = (char *) acf->roles_claim.data;
    ptr.len = acf->roles_claim.len;

    if (acf->roles_claim.len && !fql_json_pointer_valid(ptr)) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "\"fraiseql_jwt_roles_claim\" %V is not a JSON "
                           "pointer (RFC 6901), such as /allowed_roles",
                           &acf->roles_claim);
        return NGX_CONF_ERROR;
    }

    if (acf->mode != NGX_HTTP_FRAISEQL_JWT_OFF && acf->jwks == NULL
        && (acf->keys == NULL || acf->keys->nelts == 0))
    {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "\"fraiseql_jwt\" needs a key: "
                           "fraiseql_jwt_key alg=... file=..., "
                           "fraiseql_jwt_jwks_file or "
                           "fraiseql_jwt_jwks_uri");
        return NGX_CONF_ERROR;
    }

    fql_jwt_conf_init(&acf->jwt);

    if (acf->keys != NULL) {
        acf->jwt.keys = acf->keys->elts;
        acf->jwt.nkeys = acf->keys->nelts;
    }

    if (acf->jwks != NULL && acf->mode != NGX_HTTP_FRAISEQL_JWT_OFF) {
        switch (ngx_http_fraiseql_jwks_join(cf->pool, acf, acf->jwks->set,
                                            &keys, &kid))
        {
        case NGX_DECLINED:
            ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                               "\"%V\" has a key with kid \"%V\", as a "
                               "fraiseql_jwt_key has", &acf->jwks->path,
                               &kid);
            return NGX_CONF_ERROR;

        case NGX_ERROR:
            return NGX_CONF_ERROR;
        }

        acf->jwt.keys = keys;
        acf->jwt.nkeys += acf->jwks->set->nkeys;

        /* the worker rebuilds this location's keys when the file changes */
        user = ngx_array_push(&acf->jwks->users);
        if (user == NULL) {
            return NGX_CONF_ERROR;
        }

        *user = acf;
    }

    if (acf->issuer.len) {
        acf->jwt.issuer.data = (char *) acf->issuer.data;
        acf->jwt.issuer.len = acf->issuer.len;
    }

    if (acf->audiences != NULL) {
        aud = acf->audiences->elts;

        if (acf->audiences->nelts == 1 && aud[0].len == 3
            && ngx_strncmp(aud[0].data, "any", 3) == 0)
        {
            acf->jwt.audience_any = 1;

        } else {
            fql_str_t  *a;

            a = ngx_palloc(cf->pool,
                           acf->audiences->nelts * sizeof(fql_str_t));
            if (a == NULL) {
                return NGX_CONF_ERROR;
            }

            for (i = 0; i < acf->audiences->nelts; i++) {
                a[i].data = (char *) aud[i].data;
                a[i].len = aud[i].len;
            }

            acf->jwt.audiences = a;
            acf->jwt.naudiences = acf->audiences->nelts;
        }
    }

    acf->jwt.leeway = acf->leeway;
    acf->jwt.max_size = acf->max_size;

    return ngx_http_fraiseql_auth_lead(cf, acf);
}


/* ---- requests ---- */


/* the token: the configured value, or the one of Authorization: Bearer */
static ngx_int_t
ngx_http_fraiseql_token(ngx_http_request_t *r,
    ngx_http_fraiseql_auth_conf_t *acf, ngx_str_t *token)
{
    u_char           *p, *end;
    ngx_table_elt_t  *h;

    ngx_str_null(token);

    if (acf->token != NULL) {
        return ngx_http_complex_value(r, acf->token, token);
    }

    /* nginx refuses a second Authorization header itself (400) */
    h = r->headers_in.authorization;
    if (h == NULL) {
        return NGX_OK;
    }

    p = h->value.data;
    end = p + h->value.len;

    if (h->value.len < 7 || ngx_strncasecmp(p, (u_char *) "Bearer ", 7)) {
        /* another scheme: not a token, and not nothing either */
        token->data = p;
        token->len = 0;
        return NGX_DECLINED;
    }

    for (p += 7; p < end && *p == ' '; p++) { /* void */ }

    token->data = p;
    token->len = end - p;

    return NGX_OK;
}


/* a role's name becomes SQL's (set_config('role')): a plain identifier */
static ngx_uint_t
ngx_http_fraiseql_role_name(const u_char *p, size_t len)
{
    const u_char  *start = p;

    if (len == 0 || len > 63) {
        return 0;
    }

    for ( /* void */ ; p < start + len; p++) {
        if (!((*p >= 'a' && *p <= 'z') || *p == '_'
              || (*p >= '0' && *p <= '9' && p > start)))
        {
            return 0;
        }
    }

    return 1;
}


/* the request header fraiseql_jwt_role_header names, or NULL */
static ngx_table_elt_t *
ngx_http_fraiseql_role_header(ngx_http_request_t *r, ngx_str_t *name)
{
    ngx_uint_t        i;
    ngx_list_part_t  *part;
    ngx_table_elt_t  *h;

    part = &r->headers_in.headers.part;
    h = part->elts;

    for (i = 0; /* void */ ; i++) {
        if (i >= part->nelts) {
            if (part->next == NULL) {
                return NULL;
            }

            part = part->next;
            h = part->elts;
            i = 0;
        }

        if (h[i].key.len == name->len
            && ngx_strncasecmp(h[i].key.data, name->data, name->len) == 0)
        {
            return &h[i];
        }
    }
}


/*
 * The role the client picks with fraiseql_jwt_role_header: its default
 * one, or one of those fraiseql_jwt_roles_claim allows (Hasura's
 * X-Hasura-Role).  NGX_ABORT: not one it may take (403).
 */
static ngx_int_t
ngx_http_fraiseql_role_pick(ngx_http_request_t *r,
    ngx_http_fraiseql_ctx_t *ctx, ngx_http_fraiseql_auth_conf_t *acf)
{
    fql_str_t          ptr;
    ngx_table_elt_t   *h;
    const fql_jval_t  *v, *it;

    h = ngx_http_fraiseql_role_header(r, &acf->role_header);
    if (h == NULL) {
        return NGX_OK;
    }

    if (h->value.len == ctx->auth.role.len
        && ngx_strncmp(h->value.data, ctx->auth.role.data,
                       h->value.len) == 0)
    {
        return NGX_OK;
    }

    if (!ngx_http_fraiseql_role_name(h->value.data, h->value.len)
        || ctx->auth.status != FQL_JWT_OK || acf->roles_claim.len == 0)
    {
        return NGX_ABORT;
    }

    ptr.data = (char *) acf->roles_claim.data;
    ptr.len = acf->roles_claim.len;

    v = fql_json_pointer(ctx->auth.jwt.claims, ptr);
    if (v == NULL || v->kind != FQL_J_ARRAY) {
        return NGX_ABORT;
    }

    for (it = v->items; it; it = it->next) {
        if (it->kind == FQL_J_STRING && it->str.len == h->value.len
            && ngx_strncmp(it->str.data, h->value.data, h->value.len) == 0)
        {
            ctx->auth.role = h->value;
            return NGX_OK;
        }
    }

    return NGX_ABORT;
}


/*
 * The role: the claim fraiseql_jwt_role_claim points at, else anon; then
 * the one the client picks.  NGX_DECLINED: the claim is no role's name
 * (401); NGX_ABORT: the client may not take the role it asks for (403).
 */
static ngx_int_t
ngx_http_fraiseql_role(ngx_http_request_t *r, ngx_http_fraiseql_ctx_t *ctx,
    ngx_http_fraiseql_auth_conf_t *acf)
{
    fql_str_t          ptr;
    const fql_jval_t  *v;

    ctx->auth.role = acf->anon_role;

    if (ctx->auth.status == FQL_JWT_OK) {
        ptr.data = (char *) acf->role_claim.data;
        ptr.len = acf->role_claim.len;

        v = fql_json_pointer(ctx->auth.jwt.claims, ptr);

        if (v != NULL) {
            if (v->kind != FQL_J_STRING
                || !ngx_http_fraiseql_role_name((u_char *) v->str.data,
                                                v->str.len))
            {
                return NGX_DECLINED;
            }

            ctx->auth.role.data = (u_char *) v->str.data;
            ctx->auth.role.len = v->str.len;
        }
    }

    return acf->role_header.len ? ngx_http_fraiseql_role_pick(r, ctx, acf)
                                : NGX_OK;
}


/* the leading statement's parameters, when it has anything to say */
static ngx_int_t
ngx_http_fraiseql_lead_params(ngx_http_request_t *r,
    ngx_http_fraiseql_ctx_t *ctx, ngx_http_fraiseql_auth_conf_t *acf)
{
    u_char                        *p;
    ngx_str_t                      v;
    ngx_uint_t                     i, n;
    const char                   **params;
    ngx_http_fraiseql_setting_t   *st;

    if (ctx->auth.status != FQL_JWT_OK && acf->settings == NULL
        && !(acf->db_role && ctx->auth.role.len) && !acf->trace)
    {
        return NGX_OK;
    }

    params = ngx_palloc(r->pool, acf->lead_nparams * sizeof(char *));
    if (params == NULL) {
        return NGX_ERROR;
    }

    /* '' as PostgreSQL has it when unset: policies read one way */
    params[0] = ctx->auth.status == FQL_JWT_OK
                ? ctx->auth.jwt.claims_json.data : "";
    n = 1;

    if (acf->db_role) {
        /* "none" is the session's own role (SET ROLE NONE) */
        params[n] = "none";

        if (ctx->auth.role.len) {
            p = ngx_pnalloc(r->pool, ctx->auth.role.len + 1);
            if (p == NULL) {
                return NGX_ERROR;
            }

            ngx_memcpy(p, ctx->auth.role.data, ctx->auth.role.len);
            p[ctx->auth.role.len] = '\0';
            params[n] = (const char *) p;
        }

        n++;
    }

    st = acf->settings ? acf->settings->elts : NULL;

    for (i = 0; acf->settings && i < acf->settings->nelts; i++) {
        if (ngx_http_complex_value(r, &st[i].value, &v) != NGX_OK) {
            return NGX_ERROR;
        }

        /* a parameter is a C string: what follows a NUL is not sent */
        p = ngx_pnalloc(r->pool, v.len + 1);
        if (p == NULL) {
            return NGX_ERROR;
        }

        ngx_memcpy(p, v.data, v.len);
        p[v.len] = '\0';
        params[n++] = (const char *) p;
    }

    if (acf->trace) {
        if (ngx_http_fraiseql_trace(r) != NGX_OK) {
            return NGX_ERROR;
        }

        /* one HTTP request's: the requests of a batch share it */
        params[n++] = (const char *) ngx_http_fraiseql_main_ctx(r)
                                     ->obs.traceparent;
    }

    ctx->auth.lead_params = params;

    return NGX_OK;
}


/* ---- the verified-token cache ---- */


static void
ngx_http_fraiseql_jwt_insert(ngx_rbtree_node_t *temp,
    ngx_rbtree_node_t *node, ngx_rbtree_node_t *sentinel)
{
    ngx_rbtree_node_t  **p;

    for ( ;; ) {
        if (node->key != temp->key) {
            p = (node->key < temp->key) ? &temp->left : &temp->right;

        } else {
            /* the same first bytes: the whole digests decide */
            p = ngx_memcmp(((ngx_http_fraiseql_jwt_entry_t *) node)->digest,
                           ((ngx_http_fraiseql_jwt_entry_t *) temp)->digest,
                           SHA256_DIGEST_LENGTH) < 0
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


static ngx_http_fraiseql_jwt_entry_t *
ngx_http_fraiseql_jwt_find(ngx_http_fraiseql_jwt_cache_t *cache,
    const u_char *digest)
{
    ngx_int_t                       rc;
    ngx_rbtree_key_t                key;
    ngx_rbtree_node_t              *node, *sentinel;
    ngx_http_fraiseql_jwt_entry_t  *e;

    ngx_memcpy(&key, digest, sizeof(key));

    node = cache->rbtree.root;
    sentinel = cache->rbtree.sentinel;

    while (node != sentinel) {
        if (key != node->key) {
            node = (key < node->key) ? node->left : node->right;
            continue;
        }

        e = (ngx_http_fraiseql_jwt_entry_t *) node;
        rc = ngx_memcmp(digest, e->digest, SHA256_DIGEST_LENGTH);

        if (rc == 0) {
            return e;
        }

        node = (rc < 0) ? node->left : node->right;
    }

    return NULL;
}


static void
ngx_http_fraiseql_jwt_forget(ngx_http_fraiseql_jwt_cache_t *cache,
    ngx_http_fraiseql_jwt_entry_t *e)
{
    ngx_rbtree_delete(&cache->rbtree, &e->node);
    ngx_queue_remove(&e->queue);
    cache->n--;
    ngx_free(e);
}


/* a token verified before: its claims, parsed again (cheaper than RS) */
static ngx_int_t
ngx_http_fraiseql_jwt_recall(ngx_http_request_t *r,
    ngx_http_fraiseql_ctx_t *ctx, ngx_http_fraiseql_auth_conf_t *acf,
    const u_char *digest)
{
    char                           *json;
    fql_errors_t                    errs;
    ngx_http_fraiseql_jwt_entry_t  *e;

    if (acf->cache == NULL) {
        return NGX_DECLINED;
    }

    e = ngx_http_fraiseql_jwt_find(acf->cache, digest);
    if (e == NULL) {
        return NGX_DECLINED;
    }

    if (e->expires <= ngx_time()) {
        ngx_http_fraiseql_jwt_forget(acf->cache, e);
        return NGX_DECLINED;
    }

    ngx_queue_remove(&e->queue);
    ngx_queue_insert_head(&acf->cache->lru, &e->queue);

    /* the request's own copy: the entry may go while the request waits */
    json = ngx_pnalloc(r->pool, e->len + 1);
    if (json == NULL) {
        return NGX_ERROR;
    }

    ngx_memcpy(json, e->claims, e->len + 1);
    fql_errors_init(&errs, &ctx->arena);

    ngx_memzero(&ctx->auth.jwt, sizeof(fql_jwt_t));
    ctx->auth.jwt.claims = fql_json_parse(&ctx->arena, json, e->len, &errs);
    if (ctx->auth.jwt.claims == NULL) {
        return NGX_ERROR;
    }

    ctx->auth.jwt.claims_json.data = json;
    ctx->auth.jwt.claims_json.len = e->len;
    ctx->auth.status = FQL_JWT_OK;
    ctx->auth.cached = 1;

    ngx_log_debug0(NGX_LOG_DEBUG_HTTP, r->connection->log, 0,
                   "fraiseql jwt: verified before (cache)");

    return NGX_OK;
}


/* a token just verified, kept until its exp or the ttl */
static void
ngx_http_fraiseql_jwt_remember(ngx_http_fraiseql_ctx_t *ctx,
    ngx_http_fraiseql_auth_conf_t *acf, const u_char *digest)
{
    time_t                          expires;
    ngx_queue_t                    *q;
    ngx_http_fraiseql_jwt_cache_t  *cache;
    ngx_http_fraiseql_jwt_entry_t  *e;
    ngx_http_fraiseql_main_conf_t  *fmcf;

    expires = ngx_time() + acf->cache_ttl;

    if (ctx->auth.jwt.exp != INT64_MAX
        && ctx->auth.jwt.exp + acf->leeway < (int64_t) expires)
    {
        expires = (time_t) (ctx->auth.jwt.exp + acf->leeway);
    }

    cache = acf->cache;

    if (cache == NULL) {
        /* the worker's: it lives as long as the worker does */
        cache = ngx_calloc(sizeof(ngx_http_fraiseql_jwt_cache_t),
                           ngx_cycle->log);
        if (cache == NULL) {
            return;
        }

        ngx_rbtree_init(&cache->rbtree, &cache->sentinel,
                        ngx_http_fraiseql_jwt_insert);
        ngx_queue_init(&cache->lru);
        acf->cache = cache;

        fmcf = ngx_http_get_module_main_conf(ctx->r,
                                             ngx_http_fraiseql_module);
        cache->next = fmcf->jwt_caches;
        fmcf->jwt_caches = cache;
    }

    if (cache->n == acf->cache_size) {
        q = ngx_queue_last(&cache->lru);
        ngx_http_fraiseql_jwt_forget(cache, ngx_queue_data(q,
                                        ngx_http_fraiseql_jwt_entry_t, queue));
    }

    e = ngx_alloc(sizeof(ngx_http_fraiseql_jwt_entry_t)
                  + ctx->auth.jwt.claims_json.len, ngx_cycle->log);
    if (e == NULL) {
        return;
    }

    ngx_memcpy(e->digest, digest, SHA256_DIGEST_LENGTH);
    ngx_memcpy(&e->node.key, digest, sizeof(ngx_rbtree_key_t));
    e->expires = expires;
    e->len = ctx->auth.jwt.claims_json.len;
    ngx_memcpy(e->claims, ctx->auth.jwt.claims_json.data, e->len);
    e->claims[e->len] = '\0';

    ngx_rbtree_insert(&cache->rbtree, &e->node);
    ngx_queue_insert_head(&cache->lru, &e->queue);
    cache->n++;
}


static void
ngx_http_fraiseql_jwt_cache_clear(ngx_http_fraiseql_jwt_cache_t *cache)
{
    ngx_queue_t  *q;

    while (!ngx_queue_empty(&cache->lru)) {
        q = ngx_queue_head(&cache->lru);
        ngx_http_fraiseql_jwt_forget(cache, ngx_queue_data(q,
                                    ngx_http_fraiseql_jwt_entry_t, queue));
    }
}


/* the worker exits: its caches go, and the key sets it read */
void
ngx_http_fraiseql_auth_exit(ngx_http_fraiseql_main_conf_t *fmcf)
{
    ngx_http_fraiseql_jwks_t       *jwks;
    ngx_http_fraiseql_jwt_cache_t  *cache, *next;

    for (cache = fmcf->jwt_caches; cache; cache = next) {
        next = cache->next;
        ngx_http_fraiseql_jwt_cache_clear(cache);
        ngx_free(cache);
    }

    fmcf->jwt_caches = NULL;

    for (jwks = fmcf->jwks; jwks; jwks = jwks->next) {
        if (jwks->event.timer_set) {
            ngx_del_timer(&jwks->event);
        }

        /* the configuration's set goes with the cycle's pool */
        if (jwks->pool != NULL) {
            ngx_destroy_pool(jwks->pool);
            jwks->pool = NULL;
        }
    }
}


/* ---- key set files in the worker ---- */


/*
 * The new set replaces the old one in every location that uses it.
 * Requests verify their token synchronously in the content handler, and
 * nothing keeps a key or the keys array across events (fql_jwt_t's key is
 * not read after fql_jwt_verify returns): swapping in this timer's
 * handler, between events, leaves no request with a freed key, so the
 * old set and arrays are freed at once.  Tokens verified with the old
 * keys are forgotten: one of a removed key must not be recalled.
 */
static ngx_int_t
ngx_http_fraiseql_jwks_swap(ngx_http_fraiseql_jwks_t *jwks, ngx_pool_t *pool,
    fql_jwk_set_t *set, ngx_log_t *log)
{
    ngx_str_t                        kid;
    ngx_uint_t                       i;
    fql_jwt_key_t                  **keys;
    ngx_http_fraiseql_auth_conf_t  **users, *acf;

    users = jwks->users.elts;

    keys = ngx_palloc(pool, jwks->users.nelts * sizeof(fql_jwt_key_t *));
    if (keys == NULL) {
        return NGX_ERROR;
    }

    /* every location's array first: a refusal changes none of them */
    for (i = 0; i < jwks->users.nelts; i++) {
        switch (ngx_http_fraiseql_jwks_join(pool, users[i], set, &keys[i],
                                            &kid))
        {
        case NGX_DECLINED:
            ngx_log_error(NGX_LOG_ERR, log, 0, "fraiseql: \"%V\": a key "
                          "with kid \"%V\", as a fraiseql_jwt_key has; the "
                          "last good key set stays", &jwks->path, &kid);
            return NGX_DECLINED;

        case NGX_ERROR:
            return NGX_ERROR;
        }
    }

    for (i = 0; i < jwks->users.nelts; i++) {
        acf = users[i];

        acf->jwt.keys = keys[i];
        acf->jwt.nkeys = (acf->keys ? acf->keys->nelts : 0) + set->nkeys;

        if (acf->cache != NULL) {
            ngx_http_fraiseql_jwt_cache_clear(acf->cache);
        }
    }

    ngx_log_error(NGX_LOG_NOTICE, log, 0, "fraiseql: \"%V\" changed: %ui "
                  "keys, was %ui", &jwks->path, (ngx_uint_t) set->nkeys,
                  (ngx_uint_t) jwks->set->nkeys);

    if (set->nskipped) {
        ngx_log_error(NGX_LOG_WARN, log, 0, "fraiseql: \"%V\": %ui of its "
                      "keys skipped, the first: %s", &jwks->path,
                      (ngx_uint_t) set->nskipped, set->skipped);
    }

    if (jwks->pool != NULL) {
        ngx_destroy_pool(jwks->pool);
    }

    jwks->pool = pool;
    jwks->set = set;

    return NGX_OK;
}


static void
ngx_http_fraiseql_jwks_refresh(ngx_http_fraiseql_jwks_t *jwks,
    ngx_log_t *log)
{
    char                          err[256];
    ngx_err_t                     errnum;
    ngx_int_t                     rc;
    ngx_pool_t                   *pool, *tmp;
    fql_jwk_set_t                *set;
    ngx_file_info_t               fi;
    ngx_http_fraiseql_jwks_id_t   id;

    if (ngx_file_info(jwks->path.data, &fi) == NGX_FILE_ERROR) {
        if (!jwks->failing) {
            ngx_log_error(NGX_LOG_ERR, log, ngx_errno, "fraiseql: "
                          ngx_file_info_n " \"%V\" failed; the last good "
                          "key set stays", &jwks->path);
            jwks->failing = 1;
        }

        return;
    }

    ngx_memzero(&id, sizeof(id));
    id.uniq = ngx_file_uniq(&fi);
    id.mtime = ngx_file_mtime(&fi);
#if (NGX_LINUX)
    id.nsec = fi.st_mtim.tv_nsec;
#else
    id.nsec = 0;
#endif
    id.size = ngx_file_size(&fi);

    if (!jwks->failing && ngx_memcmp(&id, &jwks->id, sizeof(id)) == 0) {
        return;
    }

    pool = ngx_create_pool(NGX_DEFAULT_POOL_SIZE, log);
    tmp = ngx_create_pool(NGX_DEFAULT_POOL_SIZE, log);

    if (pool == NULL || tmp == NULL) {
        goto failed;
    }

    rc = ngx_http_fraiseql_jwks_read(jwks, pool, tmp, log, &set, &id, err,
                                     sizeof(err), &errnum);

    ngx_destroy_pool(tmp);
    tmp = NULL;

    if (rc != NGX_OK && errnum != 0) {
        /* not opened: tried again at the next check, said once */
        if (!jwks->failing) {
            ngx_log_error(NGX_LOG_ERR, log, errnum, "fraiseql: \"%V\": %s; "
                          "the last good key set stays", &jwks->path, err);
            jwks->failing = 1;
        }

        goto failed;
    }

    /* this version is read: a bad one is said once, not every check */
    jwks->failing = 0;
    jwks->id = id;

    if (rc != NGX_OK) {
        ngx_log_error(NGX_LOG_ERR, log, 0, "fraiseql: \"%V\": %s; the last "
                      "good key set stays", &jwks->path, err);
        goto failed;
    }

    if (ngx_http_fraiseql_jwks_swap(jwks, pool, set, log) == NGX_OK) {
        return;
    }

failed:

    if (tmp != NULL) {
        ngx_destroy_pool(tmp);
    }

    if (pool != NULL) {
        ngx_destroy_pool(pool);
    }
}


static void
ngx_http_fraiseql_jwks_check(ngx_event_t *ev)
{
    ngx_http_fraiseql_jwks_t  *jwks = ev->data;

    /* a worker that is leaving serves its last requests with what it has */
    if (ngx_exiting || ngx_quit || ngx_terminate) {
        return;
    }

    ngx_http_fraiseql_jwks_refresh(jwks, ev->log);

    ngx_add_timer(ev, jwks->check);
}


void
ngx_http_fraiseql_auth_init_process(ngx_cycle_t *cycle,
    ngx_http_fraiseql_main_conf_t *fmcf)
{
    ngx_event_t               *ev;
    ngx_http_fraiseql_jwks_t  *jwks;

    for (jwks = fmcf->jwks; jwks; jwks = jwks->next) {
        /* a URI is fetched by the requests that need it */
        if (jwks->users.nelts == 0 || jwks->uri) {
            continue;
        }

        ev = &jwks->event;
        ev->handler = ngx_http_fraiseql_jwks_check;
        ev->data = jwks;
        ev->log = cycle->log;
        /* a worker asked to quit does not wait for this timer */
        ev->cancelable = 1;

        ngx_add_timer(ev, jwks->check);
    }
}


/* ---- key set URIs in the worker ---- */


/*
 * A request that waited (for a key set, for its permissions) starts
 * again: an event of its own, not its connection's write event, which a
 * socket that becomes writable fires as well.
 */
void
ngx_http_fraiseql_auth_resume(ngx_event_t *ev)
{
    ngx_connection_t         *c;
    ngx_http_request_t       *r;
    ngx_http_fraiseql_ctx_t  *ctx;

    ctx = ev->data;
    r = ctx->r;
    c = r->connection;

    ngx_http_set_log_request(c->log, r);

    ngx_http_finalize_request(r, ngx_http_fraiseql_begin(r, ctx));
    ngx_http_run_posted_requests(c);
}


/* a request that waits goes with its connection, not with the queue */
static void
ngx_http_fraiseql_jwks_unwait(void *data)
{
    ngx_http_fraiseql_ctx_t  *ctx = data;

    if (ctx->auth.waiting) {
        ngx_queue_remove(&ctx->auth.queue);
        ctx->auth.waiting = 0;
    }

    if (ctx->auth.resume.posted) {
        ngx_delete_posted_event(&ctx->auth.resume);
    }
}


/*
 * The fetch ended: text is the body of a 200, or NULL.  The set is read
 * and swapped in unless it is the one in use (a refresh that changed
 * nothing keeps the verified tokens), and every waiting request is
 * posted to start again.
 */
static void
ngx_http_fraiseql_jwks_done(ngx_http_fraiseql_jwks_t *jwks, u_char *text,
    size_t len, const char *failed, ngx_log_t *log)
{
    char                       err[256];
    u_char                     digest[SHA256_DIGEST_LENGTH];
    ngx_int_t                  rc;
    ngx_pool_t                *pool, *tmp;
    ngx_queue_t               *q;
    fql_jwk_set_t             *set;
    ngx_http_fraiseql_ctx_t   *ctx;

    jwks->fetch = NULL;
    pool = NULL;
    tmp = NULL;

    if (text == NULL) {
        ngx_log_error(NGX_LOG_ERR, log, 0, "fraiseql: key set \"%V\" not "
                      "fetched: %s; %s", &jwks->path, failed,
                      jwks->loaded_once ? "the last good key set stays"
                                        : "no keys yet");
        goto wake;
    }

    SHA256(text, len, digest);

    if (jwks->loaded_once
        && ngx_memcmp(digest, jwks->digest, sizeof(digest)) == 0)
    {
        ngx_log_debug1(NGX_LOG_DEBUG_HTTP, log, 0,
                       "fraiseql: key set \"%V\" unchanged", &jwks->path);
        jwks->loaded = ngx_current_msec;
        goto wake;
    }

    /* the set outlives the request that fetched it: the cycle's log */
    pool = ngx_create_pool(NGX_DEFAULT_POOL_SIZE, ngx_cycle->log);
    tmp = ngx_create_pool(NGX_DEFAULT_POOL_SIZE, ngx_cycle->log);

    if (pool == NULL || tmp == NULL) {
        goto failed;
    }

    if (ngx_http_fraiseql_jwks_parse(pool, tmp, text, len, &set, err,
                                     sizeof(err))
        != NGX_OK)
    {
        ngx_log_error(NGX_LOG_ERR, log, 0, "fraiseql: key set \"%V\" "
                      "refused: %s; %s", &jwks->path,
                      err[0] ? err : "out of memory",
                      jwks->loaded_once ? "the last good key set stays"
                                        : "no keys yet");
        goto failed;
    }

    rc = ngx_http_fraiseql_jwks_swap(jwks, pool, set, log);
    if (rc != NGX_OK) {
        goto failed;
    }

    pool = NULL;
    ngx_memcpy(jwks->digest, digest, sizeof(digest));
    jwks->loaded = ngx_current_msec;
    jwks->loaded_once = 1;

failed:

    if (tmp != NULL) {
        ngx_destroy_pool(tmp);
    }

    if (pool != NULL) {
        ngx_destroy_pool(pool);
    }

wake:

    while (!ngx_queue_empty(&jwks->waiters)) {
        q = ngx_queue_head(&jwks->waiters);
        ngx_queue_remove(q);

        ctx = ngx_queue_data(q, ngx_http_fraiseql_ctx_t, auth.queue);
        ctx->auth.waiting = 0;
        /* keys or not, it waits only once */
        ctx->auth.waited = 1;

        ngx_post_event(&ctx->auth.resume, &ngx_posted_events);
    }
}


/* the subrequest ended, maybe more than once: the first end counts */
static ngx_int_t
ngx_http_fraiseql_jwks_fetched(ngx_http_request_t *sr, void *data,
    ngx_int_t rc)
{
    ngx_http_fraiseql_jwks_fetch_t *fetch = data;

    u_char     *text;
    size_t      len;
    ngx_buf_t  *b;

    if (fetch->done || rc == NGX_AGAIN) {
        return rc;
    }

    fetch->done = 1;

    if (rc != NGX_OK || sr->headers_out.status != NGX_HTTP_OK) {
        ngx_http_fraiseql_jwks_done(fetch->jwks, NULL, 0,
                                    rc == NGX_ERROR
                                    ? "the subrequest failed"
                                    : "its status is not 200",
                                    sr->connection->log);
        return rc;
    }

    b = sr->out ? sr->out->buf : NULL;
    text = b ? b->pos : (u_char *) "";
    len = b ? (size_t) (b->last - b->pos) : 0;

    /* nginx keeps what fits in subrequest_output_buffer_size */
    if (sr->headers_out.content_length_n >= 0
        && (off_t) len != sr->headers_out.content_length_n)
    {
        ngx_http_fraiseql_jwks_done(fetch->jwks, NULL, 0, "its body was "
                                    "cut (larger than "
                                    "subrequest_output_buffer_size?)",
                                    sr->connection->log);
        return rc;
    }

    ngx_http_fraiseql_jwks_done(fetch->jwks, text, len, NULL,
                                sr->connection->log);

    return rc;
}


/* the request that fetched is freed: its fetch ended, one way or another */
static void
ngx_http_fraiseql_jwks_fetch_cleanup(void *data)
{
    ngx_http_fraiseql_jwks_fetch_t *fetch = data;

    if (!fetch->done) {
        fetch->done = 1;
        ngx_http_fraiseql_jwks_done(fetch->jwks, NULL, 0, "the request "
                                    "that fetched it ended first",
                                    ngx_cycle->log);
    }
}


/*
 * A background in-memory subrequest of r: r need not wait for it.  It
 * carries none of the client's headers (its token, its cookies) and no
 * body: the identity provider learns nothing of the client.
 */
static ngx_int_t
ngx_http_fraiseql_jwks_fetch(ngx_http_request_t *r,
    ngx_http_fraiseql_jwks_t *jwks)
{
    ngx_http_cleanup_t              *cln;
    ngx_http_request_t              *sr;
    ngx_http_post_subrequest_t      *ps;
    ngx_http_fraiseql_jwks_fetch_t  *fetch;

    fetch = ngx_pcalloc(r->pool, sizeof(ngx_http_fraiseql_jwks_fetch_t));
    ps = ngx_palloc(r->pool, sizeof(ngx_http_post_subrequest_t));
    cln = ngx_http_cleanup_add(r, 0);

    if (fetch == NULL || ps == NULL || cln == NULL) {
        return NGX_ERROR;
    }

    fetch->jwks = jwks;
    ps->handler = ngx_http_fraiseql_jwks_fetched;
    ps->data = fetch;

    jwks->tried = ngx_current_msec;
    jwks->tried_once = 1;

    if (ngx_http_subrequest(r, &jwks->path,
                            jwks->args.len ? &jwks->args : NULL, &sr, ps,
                            NGX_HTTP_SUBREQUEST_IN_MEMORY
                            |NGX_HTTP_SUBREQUEST_BACKGROUND)
        != NGX_OK)
    {
        return NGX_ERROR;
    }

    ngx_memzero(&sr->headers_in, sizeof(ngx_http_headers_in_t));

    if (ngx_list_init(&sr->headers_in.headers, r->pool, 1,
                      sizeof(ngx_table_elt_t))
        != NGX_OK)
    {
        return NGX_ERROR;
    }

    sr->headers_in.content_length_n = -1;
    sr->headers_in.keep_alive_n = -1;
    sr->headers_in.server = r->headers_in.server;
    sr->request_body = NULL;

    cln->handler = ngx_http_fraiseql_jwks_fetch_cleanup;
    cln->data = fetch;
    jwks->fetch = fetch;

    ngx_log_error(NGX_LOG_INFO, r->connection->log, 0,
                  "fraiseql: fetching key set \"%V\"", &jwks->path);

    return NGX_OK;
}


/*
 * Before a token is verified with a key set URI's keys (want: its kid is
 * not one of them): NGX_OK to verify with what there is, NGX_AGAIN when
 * the request waits for a fetch, NGX_ERROR.
 */
static ngx_int_t
ngx_http_fraiseql_jwks_ready(ngx_http_request_t *r,
    ngx_http_fraiseql_ctx_t *ctx, ngx_http_fraiseql_jwks_t *jwks,
    ngx_uint_t want)
{
    ngx_uint_t           cool;
    ngx_http_cleanup_t  *cln;

    if (ctx->auth.waited) {
        return NGX_OK;
    }

    cool = !jwks->tried_once
           || ngx_current_msec - jwks->tried >= jwks->cooldown;

    if (jwks->loaded_once && !want) {
        /* on schedule: in the background, this request goes on */
        if (jwks->fetch == NULL && cool
            && ngx_current_msec - jwks->loaded >= jwks->refresh
            && ngx_http_fraiseql_jwks_fetch(r, jwks) != NGX_OK)
        {
            return NGX_ERROR;
        }

        return NGX_OK;
    }

    if (jwks->fetch == NULL) {
        if (!cool) {
            return NGX_OK;
        }

        if (ngx_http_fraiseql_jwks_fetch(r, jwks) != NGX_OK) {
            return NGX_ERROR;
        }
    }

    cln = ngx_http_cleanup_add(r, 0);
    if (cln == NULL) {
        return NGX_ERROR;
    }

    cln->handler = ngx_http_fraiseql_jwks_unwait;
    cln->data = ctx;

    ngx_queue_insert_tail(&jwks->waiters, &ctx->auth.queue);
    ctx->auth.waiting = 1;
    ctx->auth.resume.handler = ngx_http_fraiseql_auth_resume;
    ctx->auth.resume.data = ctx;
    ctx->auth.resume.log = r->connection->log;
    r->write_event_handler = ngx_http_request_empty_handler;

    return NGX_AGAIN;
}


/* 503: no key set fetched yet, so no token can be told good or bad */
static ngx_int_t
ngx_http_fraiseql_auth_unavailable(ngx_http_request_t *r,
    ngx_http_fraiseql_ctx_t *ctx, ngx_http_fraiseql_jwks_t *jwks)
{
    u_char      *p;
    ngx_msec_t   left;

    /* when the next fetch may start */
    left = ngx_current_msec - jwks->tried < jwks->cooldown
           ? jwks->cooldown - (ngx_current_msec - jwks->tried) : 0;

    p = ngx_pnalloc(r->pool, NGX_TIME_T_LEN + 1);
    if (p != NULL) {
        *ngx_sprintf(p, "%M", (left + 999) / 1000) = '\0';
        ngx_http_fraiseql_add_header(r, "Retry-After", (char *) p);
    }

    return ngx_http_fraiseql_auth_answer(r, ctx,
                                         NGX_HTTP_SERVICE_UNAVAILABLE,
                                         FQL_CODE_AUTH_UNAVAILABLE,
                                         "The keys to verify tokens with "
                                         "are not available yet.");
}


/*
 * Who asks, as the schema's rules see it (fql_auth.c): the role with the
 * roles it inherits, the token's permissions (an array of strings at
 * fraiseql_jwt_permissions_claim) and OAuth scopes ("scope", a string of
 * names separated by spaces, or "scp", an array), as bits of the names
 * the schema uses; names it does not use are not needed.
 */
static void
ngx_http_fraiseql_caller(ngx_http_fraiseql_ctx_t *ctx,
    ngx_http_fraiseql_auth_conf_t *acf, ngx_str_t *role)
{
    u_char             *p, *end, *w;
    fql_str_t           ptr;
    fql_caller_t       *c = &ctx->auth.caller;
    const fql_jval_t   *v, *it;
    const fql_authz_t  *az;

    ngx_memzero(c, sizeof(fql_caller_t));

    if (ctx->lcf->engine.schema == NULL) {
        return;
    }

    az = &ctx->lcf->engine.schema->authz;

    if (az->rules == 0) {
        return;
    }

    if (role->len) {
        c->roles = fql_auth_role(az, (char *) role->data, role->len);
    }

    if (ctx->auth.status != FQL_JWT_OK || ctx->auth.jwt.claims == NULL) {
        return;
    }

    c->authenticated = 1;

    ptr.data = (char *) acf->perms_claim.data;
    ptr.len = acf->perms_claim.len;
    v = fql_json_pointer(ctx->auth.jwt.claims, ptr);

    if (v != NULL && v->kind == FQL_J_ARRAY) {
        for (it = v->items; it; it = it->next) {
            if (it->kind == FQL_J_STRING) {
                c->perms |= fql_auth_bit(&az->perms, it->str.data,
                                         it->str.len);
            }
        }
    }

    if (az->scopes.n == 0) {
        return;
    }

    v = fql_jval_member(ctx->auth.jwt.claims, "scope");

    if (v != NULL && v->kind == FQL_J_STRING) {
        p = (u_char *) v->str.data;
        end = p + v->str.len;

        while (p < end) {
            for (w = p; w < end && *w != ' '; w++) { /* void */ }

            if (w > p) {
                c->scopes |= fql_auth_bit(&az->scopes, (char *) p, w - p);
            }

            p = w + 1;
        }
    }

    v = fql_jval_member(ctx->auth.jwt.claims, "scp");

    if (v != NULL && v->kind == FQL_J_ARRAY) {
        for (it = v->items; it; it = it->next) {
            if (it->kind == FQL_J_STRING) {
                c->scopes |= fql_auth_bit(&az->scopes, it->str.data,
                                          it->str.len);
            }
        }
    }
}


/* the token verified, or recalled; its status in ctx->auth */
static fql_jwt_status_t
ngx_http_fraiseql_verify(ngx_http_request_t *r, ngx_http_fraiseql_ctx_t *ctx,
    ngx_http_fraiseql_auth_conf_t *acf, ngx_str_t *token)
{
    ngx_int_t         rc;
    fql_jwt_status_t  st;
    u_char            digest[SHA256_DIGEST_LENGTH];

    if (acf->cache_size && token->len <= acf->max_size) {
        SHA256(token->data, token->len, digest);

        rc = ngx_http_fraiseql_jwt_recall(r, ctx, acf, digest);
        if (rc == NGX_OK) {
            return FQL_JWT_OK;
        }

        if (rc == NGX_ERROR) {
            ctx->auth.jwt.error = "out of memory";
            return FQL_JWT_NOMEM;
        }
    }

    st = fql_jwt_verify(&ctx->arena, &acf->jwt, (char *) token->data,
                        token->len, (int64_t) ngx_time(), &ctx->auth.jwt);

    if (st == FQL_JWT_OK && acf->cache_size
        && token->len <= acf->max_size)
    {
        ngx_http_fraiseql_jwt_remember(ctx, acf, digest);
    }

    return st;
}


/*
 * Who asks: NGX_DECLINED to go on (ctx->auth says who, and what the
 * leading statement binds), NGX_AGAIN when the request waits for a key
 * set (it starts again at ngx_http_fraiseql_begin), else what the
 * content handler returns: the request was answered (401) or failed.
 */
ngx_int_t
ngx_http_fraiseql_auth(ngx_http_request_t *r, ngx_http_fraiseql_ctx_t *ctx)
{
    ngx_int_t                       rc;
    ngx_str_t                       token;
    fql_jwt_status_t                st;
    ngx_http_fraiseql_jwks_t       *jwks;
    ngx_http_fraiseql_auth_conf_t  *acf = &ctx->lcf->auth;

    ctx->auth.status = FQL_JWT_MISSING;

    if (acf->mode == NGX_HTTP_FRAISEQL_JWT_OFF) {
        ngx_http_fraiseql_caller(ctx, acf, &acf->anon_role);
        return ngx_http_fraiseql_lead_params(r, ctx, acf) == NGX_OK
               ? NGX_DECLINED : NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    ctx->auth.checked = 1;

    rc = ngx_http_fraiseql_token(r, acf, &token);

    if (rc == NGX_ERROR) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    if (rc == NGX_DECLINED) {
        ctx->auth.status = FQL_JWT_MALFORMED;
        return ngx_http_fraiseql_auth_refuse(r, ctx, "The Authorization "
                                             "header is not a Bearer "
                                             "token.");
    }

    if (token.len == 0) {
        if (acf->mode == NGX_HTTP_FRAISEQL_JWT_REQUIRED) {
            return ngx_http_fraiseql_auth_refuse(r, ctx, "A token is "
                                                 "required.");
        }

    } else {
        jwks = acf->jwks && acf->jwks->uri ? acf->jwks : NULL;

        if (jwks) {
            rc = ngx_http_fraiseql_jwks_ready(r, ctx, jwks, 0);
            if (rc != NGX_OK) {
                return rc == NGX_AGAIN ? NGX_AGAIN
                                       : NGX_HTTP_INTERNAL_SERVER_ERROR;
            }
        }

        st = ngx_http_fraiseql_verify(r, ctx, acf, &token);
        ctx->auth.status = st;

        if (jwks && st == FQL_JWT_UNKNOWN_KID) {
            /* a key the provider added since: fetch it, within limits */
            rc = ngx_http_fraiseql_jwks_ready(r, ctx, jwks, 1);
            if (rc != NGX_OK) {
                return rc == NGX_AGAIN ? NGX_AGAIN
                                       : NGX_HTTP_INTERNAL_SERVER_ERROR;
            }
        }

        if (jwks && !jwks->loaded_once
            && (st == FQL_JWT_UNKNOWN_KID || st == FQL_JWT_BAD_ALG
                || st == FQL_JWT_AMBIGUOUS_KEY))
        {
            /* not the client's fault: a 401 would make it drop its token */
            ngx_log_error(NGX_LOG_INFO, r->connection->log, 0,
                          "fraiseql: no key set from \"%V\" yet to verify "
                          "a token with", &jwks->path);
            return ngx_http_fraiseql_auth_unavailable(r, ctx, jwks);
        }

        if (st == FQL_JWT_NOMEM || st == FQL_JWT_ERROR) {
            ngx_log_error(NGX_LOG_ERR, r->connection->log, 0,
                          "fraiseql: the token could not be verified: %s",
                          ctx->auth.jwt.error);
            return NGX_HTTP_INTERNAL_SERVER_ERROR;
        }

        if (st != FQL_JWT_OK) {
            /* a client's error: info, as nginx logs those; no token */
            ngx_log_error(NGX_LOG_INFO, r->connection->log, 0,
                          "fraiseql: token refused (%s): %s",
                          fql_jwt_status_name(st), ctx->auth.jwt.error);

            return ngx_http_fraiseql_auth_refuse(r, ctx, "The token is "
                                                 "not valid.");
        }
    }

    rc = ngx_http_fraiseql_role(r, ctx, acf);

    if (rc == NGX_DECLINED) {
        ctx->auth.status = FQL_JWT_BAD_CLAIMS;
        ngx_log_error(NGX_LOG_INFO, r->connection->log, 0,
                      "fraiseql: token refused (bad_claims): its role "
                      "claim is not a role's name");
        return ngx_http_fraiseql_auth_refuse(r, ctx, "The token is not "
                                             "valid.");
    }

    if (rc == NGX_ABORT) {
        ngx_log_error(NGX_LOG_INFO, r->connection->log, 0,
                      "fraiseql: the role \"%V\" asks for is not one the "
                      "token allows", &acf->role_header);
        return ngx_http_fraiseql_auth_forbid(r, ctx);
    }

    ngx_http_fraiseql_caller(ctx, acf, &ctx->auth.role);

    /* roles and permissions from the database, shared by the workers */
    rc = ngx_http_fraiseql_perms(ctx);

    if (rc == NGX_AGAIN) {
        return NGX_AGAIN;
    }

    if (rc == NGX_DECLINED) {
        return ngx_http_fraiseql_perms_unavailable(r, ctx);
    }

    if (rc == NGX_ERROR
        || ngx_http_fraiseql_lead_params(r, ctx, acf) != NGX_OK)
    {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    return NGX_DECLINED;
}


/*
 * An answer before the body is read (so discarded first, as for any such
 * answer): status, with one error of code.  The headers that go with it
 * are the caller's to add before.
 */
static ngx_int_t
ngx_http_fraiseql_auth_answer(ngx_http_request_t *r,
    ngx_http_fraiseql_ctx_t *ctx, ngx_uint_t status, const char *code,
    const char *message)
{
    ngx_int_t  rc;

    rc = ngx_http_discard_request_body(r);
    if (rc != NGX_OK) {
        return rc;
    }

    if (fql_error_add(&ctx->errs, NULL, code, "%s", message) == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    return ngx_http_fraiseql_send_errors(r, status, &ctx->errs,
                                         ctx->graphql_response);
}


/* 503: the subject's permissions could not be read (the database?) */
static ngx_int_t
ngx_http_fraiseql_perms_unavailable(ngx_http_request_t *r,
    ngx_http_fraiseql_ctx_t *ctx)
{
    return ngx_http_fraiseql_auth_answer(r, ctx,
                                         NGX_HTTP_SERVICE_UNAVAILABLE,
                                         FQL_CODE_UNAVAILABLE,
                                         "The caller's permissions could "
                                         "not be read.");
}


/* 403: the role asked for is not the caller's to take */
static ngx_int_t
ngx_http_fraiseql_auth_forbid(ngx_http_request_t *r,
    ngx_http_fraiseql_ctx_t *ctx)
{
    u_char  msg[256];

    ctx->auth.role.len = 0;

    ngx_snprintf(msg, sizeof(msg) - 1, "The role asked for in %V is not "
                 "one the token allows.%Z", &ctx->lcf->auth.role_header);
    msg[sizeof(msg) - 1] = '\0';

    return ngx_http_fraiseql_auth_answer(r, ctx, NGX_HTTP_FORBIDDEN,
                                         FQL_CODE_FORBIDDEN, (char *) msg);
}


/* 401 (RFC 6750: error="invalid_token" when a token came) */
static ngx_int_t
ngx_http_fraiseql_auth_refuse(ngx_http_request_t *r,
    ngx_http_fraiseql_ctx_t *ctx, const char *message)
{
    ngx_http_fraiseql_add_header(r, "WWW-Authenticate",
                                 ctx->auth.status == FQL_JWT_MISSING
                                 ? "Bearer"
                                 : "Bearer error=\"invalid_token\"");

    return ngx_http_fraiseql_auth_answer(r, ctx, NGX_HTTP_UNAUTHORIZED,
                                         FQL_CODE_UNAUTHENTICATED, message);
}


/* ---- variables ---- */


/* $fraiseql_jwt_status: ok, missing, or why the token was refused */
ngx_int_t
ngx_http_fraiseql_jwt_status_variable(ngx_http_request_t *r,
    ngx_http_variable_value_t *v, uintptr_t data)
{
    const char               *s;
    ngx_http_fraiseql_ctx_t  *ctx;

    ctx = ngx_http_get_module_ctx(r, ngx_http_fraiseql_module);

    if (ctx == NULL || !ctx->auth.checked) {
        v->not_found = 1;
        return NGX_OK;
    }

    s = fql_jwt_status_name(ctx->auth.status);

    v->data = (u_char *) s;
    v->len = ngx_strlen(s);
    v->valid = 1;
    v->no_cacheable = 0;
    v->not_found = 0;

    return NGX_OK;
}


/* $fraiseql_role: the role the request runs as (empty: none) */
ngx_int_t
ngx_http_fraiseql_role_variable(ngx_http_request_t *r,
    ngx_http_variable_value_t *v, uintptr_t data)
{
    ngx_http_fraiseql_ctx_t  *ctx;

    ctx = ngx_http_get_module_ctx(r, ngx_http_fraiseql_module);

    if (ctx == NULL || ctx->auth.role.len == 0) {
        v->not_found = 1;
        return NGX_OK;
    }

    v->data = ctx->auth.role.data;
    v->len = ctx->auth.role.len;
    v->valid = 1;
    v->no_cacheable = 0;
    v->not_found = 0;

    return NGX_OK;
}


/*
 * $fraiseql_jwt_claim_NAME: a top-level claim of a verified token (a
 * string as it is, anything else as JSON); empty otherwise, whatever an
 * unverified token says.
 */
ngx_int_t
ngx_http_fraiseql_claim_variable(ngx_http_request_t *r,
    ngx_http_variable_value_t *v, uintptr_t data)
{
    ngx_str_t                *name = (ngx_str_t *) data;

    size_t                    len;
    fql_str_t                 key;
    fql_heapbuf_t             hb;
    const fql_jval_t         *m;
    ngx_http_fraiseql_ctx_t  *ctx;

    ctx = ngx_http_get_module_ctx(r, ngx_http_fraiseql_module);

    v->not_found = 1;

    if (ctx == NULL || ctx->auth.status != FQL_JWT_OK
        || ctx->auth.jwt.claims == NULL)
    {
        return NGX_OK;
    }

    len = sizeof("fraiseql_jwt_claim_") - 1;
    key.data = (char *) name->data + len;
    key.len = name->len - len;

    for (m = ctx->auth.jwt.claims->items; m; m = m->next) {
        if (fql_str_eq(m->key, key)) {
            break;
        }
    }

    if (m == NULL) {
        return NGX_OK;
    }

    if (m->kind == FQL_J_STRING) {
        v->data = (u_char *) m->str.data;
        v->len = m->str.len;

    } else {
        fql_heapbuf_init(&hb);

        if (fql_jval_write(&hb.w, m) != 0) {
            fql_heapbuf_free(&hb);
            return NGX_ERROR;
        }

        v->len = fql_heapbuf_len(&hb);
        v->data = ngx_pnalloc(r->pool, v->len);
        if (v->data == NULL) {
            fql_heapbuf_free(&hb);
            return NGX_ERROR;
        }

        ngx_memcpy(v->data, hb.data, v->len);
        fql_heapbuf_free(&hb);
    }

    v->valid = 1;
    v->no_cacheable = 0;
    v->not_found = 0;

    return NGX_OK;
}
