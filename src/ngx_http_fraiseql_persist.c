/*
 * Persisted documents: fraiseql_persisted, fraiseql_trusted_documents,
 * fraiseql_persisted_zone, and Cache-Control for GET query answers.
 *
 * A request may name its document instead of sending it: by an APQ hash
 * (extensions.persistedQuery), found in a shared zone where POST
 * requests registered it once it compiled, or in the trusted manifest;
 * or by a documentId of the manifest.  The manifest is read and every
 * document in it validated against the location's schema at nginx -t.
 */

#include "ngx_http_fraiseql.h"
#include "fql_persist.h"


/* an APQ document in the zone; color overlays the rbtree node's */
typedef struct {
    u_char                          color;
    u_char                          dummy;
    u_short                         dummy2;
    uint32_t                        len;
    ngx_queue_t                     queue;
    u_char                          hash[FQL_SHA256_LEN];
    u_char                          text[1];
} ngx_http_fraiseql_apq_node_t;

typedef struct {
    ngx_rbtree_t                    rbtree;
    ngx_rbtree_node_t               sentinel;
    ngx_queue_t                     queue;
} ngx_http_fraiseql_apq_sh_t;

struct ngx_http_fraiseql_apq_zone_s {
    ngx_http_fraiseql_apq_sh_t     *sh;
    ngx_slab_pool_t                *shpool;
    ngx_shm_zone_t                 *shm_zone;
};

/* a manifest read once, checked once per schema */
struct ngx_http_fraiseql_trusted_s {
    ngx_str_t                       path;
    fql_manifest_t                 *manifest;
    const fql_schema_t             *checked;   /* the last schema */
};


/* tells these zones from the other shared zones across a reload */
static ngx_uint_t  ngx_http_fraiseql_apq_tag;


/* by the hash's first bytes, then the whole hash (as find walks) */
static void
ngx_http_fraiseql_apq_insert(ngx_rbtree_node_t *temp,
    ngx_rbtree_node_t *node, ngx_rbtree_node_t *sentinel)
{
    ngx_rbtree_node_t             **p;
    ngx_http_fraiseql_apq_node_t   *an, *ant;

    for ( ;; ) {

        if (node->key != temp->key) {
            p = node->key < temp->key ? &temp->left : &temp->right;

        } else {
            an = (ngx_http_fraiseql_apq_node_t *) &node->color;
            ant = (ngx_http_fraiseql_apq_node_t *) &temp->color;

            p = ngx_memcmp(an->hash, ant->hash, FQL_SHA256_LEN) < 0
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


static ngx_conf_enum_t  ngx_http_fraiseql_persisted_modes[] = {
    { ngx_string("off"), 0 },
    { ngx_string("apq"), NGX_HTTP_FRAISEQL_PERSISTED_APQ },
    { ngx_string("trusted"), NGX_HTTP_FRAISEQL_PERSISTED_TRUSTED },
    { ngx_string("trusted+apq"), NGX_HTTP_FRAISEQL_PERSISTED_APQ
                                 |NGX_HTTP_FRAISEQL_PERSISTED_TRUSTED },
    { ngx_null_string, 0 }
};


char *
ngx_http_fraiseql_persisted(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    ngx_http_fraiseql_loc_conf_t  *flcf = conf;

    ngx_str_t        *value;
    ngx_conf_enum_t  *e;

    if (flcf->persist.mode != NGX_CONF_UNSET_UINT) {
        return "is duplicate";
    }

    value = cf->args->elts;

    for (e = ngx_http_fraiseql_persisted_modes; e->name.len; e++) {
        if (e->name.len == value[1].len
            && ngx_strncmp(e->name.data, value[1].data, value[1].len) == 0)
        {
            flcf->persist.mode = e->value;
            return NGX_CONF_OK;
        }
    }

    ngx_conf_log_error(NGX_LOG_EMERG, cf, 0, "\"%V\" takes off, apq, "
                       "trusted or trusted+apq, not \"%V\"", &cmd->name,
                       &value[1]);
    return NGX_CONF_ERROR;
}


char *
ngx_http_fraiseql_trusted_documents(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf)
{
    ngx_http_fraiseql_loc_conf_t  *flcf = conf;

    char                          err[512];
    u_char                       *text;
    size_t                        n;
    ngx_str_t                    *value, path;
    fql_arena_t                   arena;
    ngx_http_fraiseql_trusted_t  *td;

    if (flcf->persist.trusted != NGX_CONF_UNSET_PTR) {
        return "is duplicate";
    }

    value = cf->args->elts;
    path = value[1];

    if (ngx_conf_full_name(cf->cycle, &path, 1) != NGX_OK) {
        return NGX_CONF_ERROR;
    }

    text = ngx_http_fraiseql_conf_read(cf, &path, 64 * 1024 * 1024, &n);
    if (text == NULL) {
        return NGX_CONF_ERROR;
    }

    td = ngx_pcalloc(cf->pool, sizeof(ngx_http_fraiseql_trusted_t));
    if (td == NULL) {
        return NGX_CONF_ERROR;
    }

    td->path = path;

    ngx_http_fraiseql_arena_init(&arena, cf->pool);

    if (fql_manifest_read(&arena, (char *) text, n, &td->manifest, err,
                          sizeof(err)) != 0)
    {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0, "%V: \"%V\": %s",
                           &cmd->name, &path, err);
        return NGX_CONF_ERROR;
    }

    flcf->persist.trusted = td;

    return NGX_CONF_OK;
}


static ngx_int_t
ngx_http_fraiseql_apq_init_zone(ngx_shm_zone_t *shm_zone, void *data)
{
    ngx_http_fraiseql_apq_zone_t  *ozone = data;

    size_t                         len;
    ngx_http_fraiseql_apq_zone_t  *zone = shm_zone->data;

    if (ozone != NULL) {
        /* a reload: the documents stay */
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
                              sizeof(ngx_http_fraiseql_apq_sh_t));
    if (zone->sh == NULL) {
        return NGX_ERROR;
    }

    zone->shpool->data = zone->sh;

    ngx_rbtree_init(&zone->sh->rbtree, &zone->sh->sentinel,
                    ngx_http_fraiseql_apq_insert);
    ngx_queue_init(&zone->sh->queue);

    len = sizeof(" in fraiseql_persisted_zone \"\"") + shm_zone->shm.name.len;

    zone->shpool->log_ctx = ngx_slab_alloc(zone->shpool, len);
    if (zone->shpool->log_ctx == NULL) {
        return NGX_ERROR;
    }

    ngx_sprintf(zone->shpool->log_ctx, " in fraiseql_persisted_zone \"%V\"%Z",
                &shm_zone->shm.name);

    /* full: the least recently used documents go, without a word */
    zone->shpool->log_nomem = 0;

    return NGX_OK;
}


/* fraiseql_persisted_zone zone=NAME:SIZE */
char *
ngx_http_fraiseql_persisted_zone(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf)
{
    ngx_http_fraiseql_loc_conf_t  *flcf = conf;

    u_char                        *p;
    ssize_t                        size;
    ngx_str_t                     *value, name, s;
    ngx_shm_zone_t                *shm_zone;
    ngx_http_fraiseql_apq_zone_t  *zone;

    if (flcf->persist.zone != NGX_CONF_UNSET_PTR) {
        return "is duplicate";
    }

    value = cf->args->elts;

    if (ngx_strncmp(value[1].data, "zone=", 5) != 0
        || (p = (u_char *) ngx_strchr(value[1].data + 5, ':')) == NULL)
    {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0, "\"%V\" takes "
                           "zone=NAME:SIZE", &cmd->name);
        return NGX_CONF_ERROR;
    }

    name.data = value[1].data + 5;
    name.len = p - name.data;
    s.data = p + 1;
    s.len = value[1].data + value[1].len - s.data;

    size = ngx_parse_size(&s);

    if (size == NGX_ERROR || name.len == 0) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0, "invalid zone size \"%V\"",
                           &value[1]);
        return NGX_CONF_ERROR;
    }

    if (size < (ssize_t) (8 * ngx_pagesize)) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0, "zone \"%V\" is too small",
                           &value[1]);
        return NGX_CONF_ERROR;
    }

    shm_zone = ngx_shared_memory_add(cf, &name, size,
                                     &ngx_http_fraiseql_apq_tag);
    if (shm_zone == NULL) {
        return NGX_CONF_ERROR;
    }

    /* the same zone for several locations, as its name says */
    if (shm_zone->data == NULL) {
        zone = ngx_pcalloc(cf->pool, sizeof(ngx_http_fraiseql_apq_zone_t));
        if (zone == NULL) {
            return NGX_CONF_ERROR;
        }

        zone->shm_zone = shm_zone;
        shm_zone->init = ngx_http_fraiseql_apq_init_zone;
        shm_zone->data = zone;
    }

    flcf->persist.zone = shm_zone->data;

    return NGX_CONF_OK;
}


/* fraiseql_cache_control off | VALUE [vary=HEADER] */
char *
ngx_http_fraiseql_cache_control(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf)
{
    ngx_http_fraiseql_loc_conf_t  *flcf = conf;

    ngx_str_t  *value;

    if (flcf->persist.cache_control.data != NULL) {
        return "is duplicate";
    }

    value = cf->args->elts;

    if (ngx_strcmp(value[1].data, "off") == 0) {
        ngx_str_set(&flcf->persist.cache_control, "");
        return cf->args->nelts == 2 ? NGX_CONF_OK : "takes nothing after off";
    }

    flcf->persist.cache_control = value[1];

    if (cf->args->nelts == 3) {
        if (ngx_strncmp(value[2].data, "vary=", 5) != 0
            || value[2].len == 5)
        {
            ngx_conf_log_error(NGX_LOG_EMERG, cf, 0, "invalid parameter "
                               "\"%V\": vary=HEADER", &value[2]);
            return NGX_CONF_ERROR;
        }

        flcf->persist.vary.data = value[2].data + 5;
        flcf->persist.vary.len = value[2].len - 5;
    }

    return NGX_CONF_OK;
}


void
ngx_http_fraiseql_persist_create(ngx_http_fraiseql_persist_conf_t *pc)
{
    pc->mode = NGX_CONF_UNSET_UINT;
    pc->trusted = NGX_CONF_UNSET_PTR;
    pc->zone = NGX_CONF_UNSET_PTR;
}


char *
ngx_http_fraiseql_persist_merge(ngx_conf_t *cf,
    ngx_http_fraiseql_persist_conf_t *prev,
    ngx_http_fraiseql_persist_conf_t *pc, const fql_engine_t *eng)
{
    char                          err[512];
    ngx_http_fraiseql_trusted_t  *td;

    ngx_conf_merge_uint_value(pc->mode, prev->mode, 0);
    ngx_conf_merge_ptr_value(pc->trusted, prev->trusted, NULL);
    ngx_conf_merge_ptr_value(pc->zone, prev->zone, NULL);

    if (pc->cache_control.data == NULL) {
        pc->cache_control = prev->cache_control;
        pc->vary = prev->vary;
    }

    if (eng == NULL) {
        /* not a fraiseql location: nothing runs here */
        return NGX_CONF_OK;
    }

    if ((pc->mode & NGX_HTTP_FRAISEQL_PERSISTED_TRUSTED)
        && pc->trusted == NULL)
    {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0, "\"fraiseql_persisted "
                           "trusted\" needs \"fraiseql_trusted_documents\"");
        return NGX_CONF_ERROR;
    }

    if ((pc->mode & NGX_HTTP_FRAISEQL_PERSISTED_APQ) && pc->zone == NULL) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0, "\"fraiseql_persisted "
                           "apq\" needs \"fraiseql_persisted_zone\"");
        return NGX_CONF_ERROR;
    }

    td = pc->trusted;

    /* every document against this location's schema, once per schema */
    if (td != NULL && td->checked != eng->schema) {
        if (fql_manifest_check(td->manifest, eng, err, sizeof(err)) != 0) {
            ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                               "fraiseql_trusted_documents \"%V\": %s",
                               &td->path, err);
            return NGX_CONF_ERROR;
        }

        td->checked = eng->schema;
    }

    return NGX_CONF_OK;
}


/* ---- requests ---- */


static ngx_http_fraiseql_apq_node_t *
ngx_http_fraiseql_apq_find(ngx_http_fraiseql_apq_zone_t *zone,
    const u_char *hash)
{
    ngx_rbtree_key_t               key;
    ngx_rbtree_node_t             *node, *sentinel;
    ngx_http_fraiseql_apq_node_t  *an;

    /* a SHA-256's first bytes are as good as any hash of it */
    ngx_memcpy(&key, hash, sizeof(key));

    node = zone->sh->rbtree.root;
    sentinel = zone->sh->rbtree.sentinel;

    while (node != sentinel) {

        if (key != node->key) {
            node = key < node->key ? node->left : node->right;
            continue;
        }

        an = (ngx_http_fraiseql_apq_node_t *) &node->color;

        if (ngx_memcmp(an->hash, hash, FQL_SHA256_LEN) == 0) {
            return an;
        }

        /* the same first bytes, another hash: on either side */
        node = ngx_memcmp(hash, an->hash, FQL_SHA256_LEN) < 0 ? node->left
                                                               : node->right;
    }

    return NULL;
}


/* the zone's text for the hash, copied into the request's memory */
static ngx_int_t
ngx_http_fraiseql_apq_get(ngx_http_fraiseql_ctx_t *ctx,
    ngx_http_fraiseql_apq_zone_t *zone, const u_char *hash, fql_str_t *text)
{
    u_char                        *p;
    ngx_http_fraiseql_apq_node_t  *an;

    ngx_shmtx_lock(&zone->shpool->mutex);

    an = ngx_http_fraiseql_apq_find(zone, hash);

    if (an == NULL) {
        ngx_shmtx_unlock(&zone->shpool->mutex);
        return NGX_DECLINED;
    }

    ngx_queue_remove(&an->queue);
    ngx_queue_insert_head(&zone->sh->queue, &an->queue);

    p = ngx_pnalloc(ctx->r->pool, an->len + 1);
    if (p == NULL) {
        ngx_shmtx_unlock(&zone->shpool->mutex);
        return NGX_ERROR;
    }

    ngx_memcpy(p, an->text, an->len);
    p[an->len] = '\0';
    text->data = (char *) p;
    text->len = an->len;

    ngx_shmtx_unlock(&zone->shpool->mutex);

    return NGX_OK;
}


/* a compiled document registered (POST only): the oldest go for room */
void
ngx_http_fraiseql_persist_register(ngx_http_fraiseql_ctx_t *ctx,
    fql_str_t text)
{
    size_t                         size;
    ngx_queue_t                   *q;
    ngx_rbtree_node_t             *node;
    ngx_http_fraiseql_apq_node_t  *an;
    ngx_http_fraiseql_apq_zone_t  *zone = ctx->lcf->persist.zone;

    if (!ctx->persist.register_apq || zone == NULL) {
        return;
    }

    ctx->persist.register_apq = 0;

    size = offsetof(ngx_rbtree_node_t, color)
           + offsetof(ngx_http_fraiseql_apq_node_t, text) + text.len;

    ngx_shmtx_lock(&zone->shpool->mutex);

    if (ngx_http_fraiseql_apq_find(zone, ctx->persist.hash) != NULL) {
        /* another worker was first */
        ngx_shmtx_unlock(&zone->shpool->mutex);
        return;
    }

    for ( ;; ) {
        node = ngx_slab_alloc_locked(zone->shpool, size);
        if (node != NULL) {
            break;
        }

        if (ngx_queue_empty(&zone->sh->queue)) {
            ngx_shmtx_unlock(&zone->shpool->mutex);
            ngx_log_error(NGX_LOG_WARN, ctx->r->connection->log, 0,
                          "fraiseql: a document of %uz bytes does not fit "
                          "in fraiseql_persisted_zone \"%V\"", text.len,
                          &zone->shm_zone->shm.name);
            return;
        }

        q = ngx_queue_last(&zone->sh->queue);
        an = ngx_queue_data(q, ngx_http_fraiseql_apq_node_t, queue);
        ngx_queue_remove(q);
        node = (ngx_rbtree_node_t *)
                   ((u_char *) an - offsetof(ngx_rbtree_node_t, color));
        ngx_rbtree_delete(&zone->sh->rbtree, node);
        ngx_slab_free_locked(zone->shpool, node);
    }

    ngx_memcpy(&node->key, ctx->persist.hash, sizeof(node->key));

    an = (ngx_http_fraiseql_apq_node_t *) &node->color;
    an->len = (uint32_t) text.len;
    ngx_memcpy(an->hash, ctx->persist.hash, FQL_SHA256_LEN);
    ngx_memcpy(an->text, text.data, text.len);

    ngx_rbtree_insert(&zone->sh->rbtree, node);
    ngx_queue_insert_head(&zone->sh->queue, &an->queue);

    ngx_shmtx_unlock(&zone->shpool->mutex);

    ngx_log_debug1(NGX_LOG_DEBUG_HTTP, ctx->r->connection->log, 0,
                   "fraiseql persisted: registered %uz bytes", text.len);
}


/* an error of the persisted-document protocol, as validation's are */
static ngx_int_t
ngx_http_fraiseql_persist_error(ngx_http_fraiseql_ctx_t *ctx,
    ngx_uint_t status, const char *code, const char *msg)
{
    fql_error_add(&ctx->errs, NULL, code, "%s", msg);

    ctx->persist.status = status ? status
                          : ctx->graphql_response ? NGX_HTTP_BAD_REQUEST
                                                  : NGX_HTTP_OK;
    return NGX_DECLINED;
}


/*
 * The request's document: named by a documentId or an APQ hash, sent,
 * or both.  NGX_OK: req->query is the text to run; NGX_DECLINED: an
 * error was added, answer ctx->persist.status; NGX_ERROR.
 */
ngx_int_t
ngx_http_fraiseql_persist(ngx_http_fraiseql_ctx_t *ctx, fql_request_t *req)
{
    int                                sha;
    char                               id[257], hex[65];
    size_t                             len;
    ngx_int_t                          rc;
    fql_str_t                          text;
    unsigned char                      hash[FQL_SHA256_LEN];
    const fql_manifest_doc_t          *doc;
    ngx_http_fraiseql_persist_conf_t  *pc = &ctx->lcf->persist;

    text.data = NULL;
    text.len = 0;

    if (req->document_id.data != NULL) {
        if (!(pc->mode & NGX_HTTP_FRAISEQL_PERSISTED_TRUSTED)) {
            return ngx_http_fraiseql_persist_error(ctx, 0,
                       FQL_CODE_PERSISTED_NOT_SUPPORTED,
                       "Documents are not named here: send the query.");
        }

        if (fql_document_id(req->document_id, id, sizeof(id), &len, hash,
                            &sha) != 0
            || (doc = fql_manifest_find(pc->trusted->manifest, id, len))
               == NULL)
        {
            return ngx_http_fraiseql_persist_error(ctx, 0,
                       FQL_CODE_PERSISTED_NOT_FOUND,
                       "PersistedQueryNotFound: no trusted document has "
                       "this documentId.");
        }

        text.data = doc->body.data;
        text.len = doc->body.len;

    } else if (req->has_hash) {
        if (pc->mode == 0) {
            /* Apollo's clients stop sending hashes when they see this */
            return ngx_http_fraiseql_persist_error(ctx, 0,
                       FQL_CODE_PERSISTED_NOT_SUPPORTED,
                       "PersistedQueryNotSupported");
        }

        fql_sha256_hex(req->hash, hex);

        doc = (pc->mode & NGX_HTTP_FRAISEQL_PERSISTED_TRUSTED)
              ? fql_manifest_find(pc->trusted->manifest, hex, 64) : NULL;

        if (doc != NULL) {
            text.data = doc->body.data;
            text.len = doc->body.len;

        } else if (req->query.data != NULL) {
            /* registration: the text must be what the hash says */
            fql_sha256(req->query.data, req->query.len, hash);

            if (ngx_memcmp(hash, req->hash, FQL_SHA256_LEN) != 0) {
                return ngx_http_fraiseql_persist_error(ctx,
                           NGX_HTTP_BAD_REQUEST,
                           FQL_CODE_PERSISTED_MISMATCH,
                           "The provided sha256Hash does not match the "
                           "query.");
            }

            if (!(pc->mode & NGX_HTTP_FRAISEQL_PERSISTED_APQ)) {
                return ngx_http_fraiseql_persist_error(ctx,
                           NGX_HTTP_FORBIDDEN, FQL_CODE_TRUSTED_REQUIRED,
                           "Only trusted documents run here.");
            }

            /* kept once it compiled, and only from a POST */
            ctx->persist.register_apq =
                (ctx->r->main->method == NGX_HTTP_POST);
            ngx_memcpy(ctx->persist.hash, req->hash, FQL_SHA256_LEN);

            return NGX_OK;

        } else if (pc->mode & NGX_HTTP_FRAISEQL_PERSISTED_APQ) {
            rc = ngx_http_fraiseql_apq_get(ctx, pc->zone, req->hash, &text);

            if (rc == NGX_ERROR) {
                return NGX_ERROR;
            }

            if (rc == NGX_DECLINED) {
                return ngx_http_fraiseql_persist_error(ctx, 0,
                           FQL_CODE_PERSISTED_NOT_FOUND,
                           "PersistedQueryNotFound");
            }

        } else {
            return ngx_http_fraiseql_persist_error(ctx, 0,
                       FQL_CODE_PERSISTED_NOT_FOUND,
                       "PersistedQueryNotFound: no trusted document has "
                       "this hash.");
        }

    } else if (pc->mode & NGX_HTTP_FRAISEQL_PERSISTED_TRUSTED) {
        /* free text: only a trusted document's own */
        if (req->query.data != NULL) {
            fql_sha256(req->query.data, req->query.len, hash);
            fql_sha256_hex(hash, hex);
            doc = fql_manifest_find(pc->trusted->manifest, hex, 64);

        } else {
            doc = NULL;
        }

        if (doc == NULL) {
            return ngx_http_fraiseql_persist_error(ctx, NGX_HTTP_FORBIDDEN,
                       FQL_CODE_TRUSTED_REQUIRED,
                       "Only trusted documents run here: send a "
                       "documentId.");
        }

        return NGX_OK;

    } else {
        return NGX_OK;
    }

    /* a named document; a text sent too must be the same */
    if (req->query.data != NULL
        && (req->query.len != text.len
            || ngx_memcmp(req->query.data, text.data, text.len) != 0))
    {
        return ngx_http_fraiseql_persist_error(ctx, NGX_HTTP_BAD_REQUEST,
                   FQL_CODE_PERSISTED_MISMATCH,
                   "The query is not the named document's.");
    }

    req->query = text;

    return NGX_OK;
}


/* Cache-Control of a GET query's answer, as the header goes */
void
ngx_http_fraiseql_persist_headers(ngx_http_fraiseql_ctx_t *ctx)
{
    ngx_http_request_t                *r = ctx->r;
    ngx_http_fraiseql_persist_conf_t  *pc = &ctx->lcf->persist;

    if (pc->cache_control.len == 0
        || !(r->main->method & (NGX_HTTP_GET|NGX_HTTP_HEAD))
        || ctx->plan == NULL || ctx->plan->op != FQL_OP_QUERY
        || ctx->errs.count)
    {
        return;
    }

    /* an answer for one caller is for that caller's cache only */
    if (ctx->auth.status == FQL_JWT_OK && pc->vary.len == 0) {
        return;
    }

    ngx_http_fraiseql_add_header(r, "Cache-Control",
                                 (char *) pc->cache_control.data);

    if (pc->vary.len) {
        ngx_http_fraiseql_add_header(r, "Vary", (char *) pc->vary.data);
    }
}
