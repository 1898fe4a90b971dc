/*
 * A fraiseql location as browsers see it: CORS (fraiseql_cors) and the
 * GraphiQL page (fraiseql_graphiql, fraiseql_graphiql_assets).
 */

#include <openssl/sha.h>

#include "ngx_http_fraiseql.h"


/* seconds a browser keeps a preflight's answer (Chromium caps at 7200) */
#define NGX_HTTP_FRAISEQL_CORS_MAX_AGE  600

/* where the page loads its assets from by default: npm's files, pinned */
#define NGX_HTTP_FRAISEQL_GRAPHIQL_CDN  "https://unpkg.com/"

#define ngx_http_fraiseql_alnum(c)                                          \
    (((c) >= '0' && (c) <= '9')                                              \
     || (((c) | 0x20) >= 'a' && ((c) | 0x20) <= 'z'))


struct ngx_http_fraiseql_cors_s {
    ngx_array_t                 origins;     /* ngx_str_t, lower case */
    ngx_str_t                   max_age;     /* seconds, as text */
    ngx_str_t                   headers;     /* headers=, ", " between */
    unsigned                    any:1;       /* "*" */
    unsigned                    credentials:1;
};


/*
 * The page's assets, named as npm's packages lay them out: unpkg serves
 * them so, `make graphiql-assets` copies them so into a local folder.
 * GraphiQL 3.9 is the last with a UMD build (one file, no workers);
 * React 18.3 the last with UMD files.  Integrity: the npm files' SHA-384,
 * so that neither a CDN nor a stale folder can hand the page other code.
 */
typedef struct {
    ngx_str_t                   path;
    ngx_str_t                   integrity;
} ngx_http_fraiseql_asset_t;

static ngx_http_fraiseql_asset_t  ngx_http_fraiseql_graphiql_css = {
    ngx_string("graphiql@3.9.0/graphiql.min.css"),
    ngx_string("sha384-QMux00XgRtwRLSYIY3kw2rj1ovk5AuuliAchk+HSQbqdbGFnz9GY"
               "uqIlOqxhwCE2")
};

static ngx_http_fraiseql_asset_t  ngx_http_fraiseql_graphiql_js[] = {
    { ngx_string("react@18.3.1/umd/react.production.min.js"),
      ngx_string("sha384-DGyLxAyjq0f9SPpVevD6IgztCFlnMF6oW/XQGmfe+IsZ8TqEiDr"
                 "cHkMLKI6fiB/Z") },
    { ngx_string("react-dom@18.3.1/umd/react-dom.production.min.js"),
      ngx_string("sha384-gTGxhz21lVGYNMcdJOyq01Edg0jhn/c22nsx0kyqP0TxaV5WVds"
                 "SH1fSDUf5YJj1") },
    { ngx_string("graphiql@3.9.0/graphiql.min.js"),
      ngx_string("sha384-8NGfVj4CVlqHajlZj+bPJT4thxPMHMJYn7DWK2CvtopLd02E7qs"
                 "PHazniBYvVjOO") }
};

/* inline, allowed by their hashes: the page needs no 'unsafe-inline' */
static ngx_str_t  ngx_http_fraiseql_graphiql_style =
    ngx_string("html,body,#graphiql{height:100%;margin:0}");

static ngx_str_t  ngx_http_fraiseql_graphiql_script = ngx_string(
    "var c = JSON.parse(document.getElementById('fraiseql-graphiql')"
    ".textContent);\n"
    "ReactDOM.createRoot(document.getElementById('graphiql')).render(\n"
    "  React.createElement(GraphiQL, {\n"
    "    fetcher: GraphiQL.createFetcher({ url: c.endpoint }),\n"
    "    defaultEditorToolsVisibility: true\n"
    "  }));\n");

static ngx_str_t  ngx_http_fraiseql_html_type =
    ngx_string("text/html; charset=utf-8");


/* a request header by name (nginx keeps no field for these) */
static ngx_table_elt_t *
ngx_http_fraiseql_web_header(ngx_http_request_t *r, const char *name)
{
    size_t            len;
    ngx_uint_t        i;
    ngx_list_part_t  *part;
    ngx_table_elt_t  *h;

    len = ngx_strlen(name);

    for (part = &r->headers_in.headers.part; part; part = part->next) {
        h = part->elts;

        for (i = 0; i < part->nelts; i++) {
            if (h[i].key.len == len
                && ngx_strncasecmp(h[i].key.data, (u_char *) name, len) == 0)
            {
                return &h[i];
            }
        }
    }

    return NULL;
}


static ngx_int_t
ngx_http_fraiseql_web_add(ngx_http_request_t *r, const char *key,
    ngx_str_t *value)
{
    ngx_table_elt_t  *h;

    h = ngx_list_push(&r->headers_out.headers);
    if (h == NULL) {
        return NGX_ERROR;
    }

    h->hash = 1;
    h->key.data = (u_char *) key;
    h->key.len = ngx_strlen(key);
    h->value = *value;

    return NGX_OK;
}


/* an Origin the list allows; "https://" "*.example.com" allows subdomains */
static ngx_uint_t
ngx_http_fraiseql_cors_allows(ngx_http_fraiseql_cors_t *cors, ngx_str_t *o)
{
    u_char      *star, *p;
    size_t       head, tail;
    ngx_str_t   *allowed;
    ngx_uint_t   i;

    allowed = cors->origins.elts;

    for (i = 0; i < cors->origins.nelts; i++) {
        star = ngx_strlchr(allowed[i].data, allowed[i].data + allowed[i].len,
                           '*');

        if (star == NULL) {
            if (o->len == allowed[i].len
                && ngx_strncasecmp(o->data, allowed[i].data, o->len) == 0)
            {
                return 1;
            }

            continue;
        }

        /* "scheme://" before the star, ".domain[:port]" after it */
        head = star - allowed[i].data;
        tail = allowed[i].len - head - 1;

        if (o->len <= head + tail
            || ngx_strncasecmp(o->data, allowed[i].data, head) != 0
            || ngx_strncasecmp(o->data + o->len - tail, star + 1, tail) != 0)
        {
            continue;
        }

        for (p = o->data + head; p < o->data + o->len - tail; p++) {
            if (!(ngx_http_fraiseql_alnum(*p) || *p == '-' || *p == '.')) {
                break;
            }
        }

        if (p == o->data + o->len - tail) {
            return 1;
        }
    }

    return 0;
}


/*
 * Access-Control-Allow-Origin for an allowed Origin, on every answer the
 * location gives.  Vary: Origin on all of them, for requests without an
 * Origin too, whenever the answer depends on it (the Fetch standard's
 * advice on caches); "*" does not depend on it.
 */
static ngx_int_t
ngx_http_fraiseql_cors_headers(ngx_http_request_t *r,
    ngx_http_fraiseql_cors_t *cors, ngx_uint_t *allowed)
{
    ngx_table_elt_t  *origin;

    static ngx_str_t  any = ngx_string("*");
    static ngx_str_t  vary = ngx_string("Origin");
    static ngx_str_t  yes = ngx_string("true");

    *allowed = 0;

    if (cors->any) {
        *allowed = 1;
        return ngx_http_fraiseql_web_add(r, "Access-Control-Allow-Origin",
                                         &any);
    }

    if (ngx_http_fraiseql_web_add(r, "Vary", &vary) != NGX_OK) {
        return NGX_ERROR;
    }

    origin = ngx_http_fraiseql_web_header(r, "Origin");

    if (origin == NULL || !ngx_http_fraiseql_cors_allows(cors, &origin->value))
    {
        if (origin != NULL) {
            ngx_log_debug1(NGX_LOG_DEBUG_HTTP, r->connection->log, 0,
                           "fraiseql cors: origin \"%V\" not allowed",
                           &origin->value);
        }

        return NGX_OK;
    }

    *allowed = 1;

    if (ngx_http_fraiseql_web_add(r, "Access-Control-Allow-Origin",
                                  &origin->value) != NGX_OK)
    {
        return NGX_ERROR;
    }

    if (cors->credentials) {
        return ngx_http_fraiseql_web_add(r,
                   "Access-Control-Allow-Credentials", &yes);
    }

    return NGX_OK;
}


/*
 * OPTIONS: 204, with what a preflight may do when its Origin is allowed.
 * A refused Origin gets the 204 without them: the browser fails the
 * preflight on the missing Access-Control-Allow-Origin either way, and
 * that is the refusal its console names (a 403 would add nothing, and
 * clients that are not browsers never ask).
 */
static ngx_int_t
ngx_http_fraiseql_cors_options(ngx_http_request_t *r,
    ngx_http_fraiseql_web_conf_t *wc, ngx_uint_t allowed)
{
    ngx_int_t  rc;

    static ngx_str_t  methods = ngx_string("GET, POST, OPTIONS");
    static ngx_str_t  allow = ngx_string("GET, HEAD, POST, OPTIONS");

    rc = ngx_http_discard_request_body(r);
    if (rc != NGX_OK) {
        return rc;
    }

    if (ngx_http_fraiseql_web_add(r, "Allow", &allow) != NGX_OK) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    if (allowed
        && ngx_http_fraiseql_web_header(r, "Access-Control-Request-Method")
           != NULL
        && (ngx_http_fraiseql_web_add(r, "Access-Control-Allow-Methods",
                                      &methods) != NGX_OK
            || ngx_http_fraiseql_web_add(r, "Access-Control-Allow-Headers",
                                         &wc->cors_allow_headers) != NGX_OK
            || ngx_http_fraiseql_web_add(r, "Access-Control-Max-Age",
                                         &wc->cors->max_age) != NGX_OK))
    {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    r->headers_out.status = NGX_HTTP_NO_CONTENT;
    r->headers_out.content_length_n = 0;
    r->header_only = 1;

    return ngx_http_send_header(r);
}


/* q of the most specific range of Accept that matches type, 0..1000 */
static unsigned
ngx_http_fraiseql_accept_q(ngx_str_t *accept, const char *type)
{
    unsigned     q, spec, best_q, best_spec;
    const char  *p, *end, *range, *slash;

    slash = ngx_strchr(type, '/');
    best_q = 0;
    best_spec = 0;

    p = (const char *) accept->data;
    end = p + accept->len;

    while (p < end) {
        while (p < end && (*p == ' ' || *p == '\t' || *p == ',')) {
            p++;
        }

        range = p;

        while (p < end && *p != ',') {
            p++;
        }

        if (fql_media_is(range, p - range, type)) {
            spec = 3;

        } else if (p - range > slash - type + 1
                   && ngx_strncasecmp((u_char *) range, (u_char *) type,
                                      slash - type + 1) == 0
                   && fql_media_is(range + (slash - type) + 1,
                                   p - range - (slash - type) - 1, "*"))
        {
            spec = 2;

        } else if (fql_media_is(range, p - range, "*/*")) {
            spec = 1;

        } else {
            continue;
        }

        q = fql_accept_q(range, p);

        if (spec > best_spec) {
            best_spec = spec;
            best_q = q;
        }
    }

    return best_q;
}


/*
 * A browser opening the location: a GET with nothing of a GraphQL request
 * whose Accept prefers HTML over both JSON types (a browser's navigation
 * does; fetch's and curl's "* / *" does not).
 */
static ngx_uint_t
ngx_http_fraiseql_wants_graphiql(ngx_http_request_t *r)
{
    unsigned    html, json;
    ngx_str_t   arg;

    if (r->headers_in.accept == NULL
        || ngx_http_arg(r, (u_char *) "query", 5, &arg) == NGX_OK
        || ngx_http_arg(r, (u_char *) "documentId", 10, &arg) == NGX_OK
        || ngx_http_arg(r, (u_char *) "extensions", 10, &arg) == NGX_OK)
    {
        return 0;
    }

    html = ngx_http_fraiseql_accept_q(&r->headers_in.accept->value,
                                      "text/html");
    json = ngx_max(ngx_http_fraiseql_accept_q(&r->headers_in.accept->value,
                                              "application/json"),
                   ngx_http_fraiseql_accept_q(&r->headers_in.accept->value,
                       "application/graphql-response+json"));

    return html > json;
}


/*
 * The endpoint, as the page's fetcher gets it: the last segment of the
 * path the browser asked for, relative, so that a proxy mounting the
 * location under another prefix still reaches it.  Escaped for a JSON
 * string inside <script>: no quote, backslash, control character or
 * "</script>" survives.
 */
static u_char *
ngx_http_fraiseql_graphiql_endpoint(ngx_http_request_t *r, u_char *dst)
{
    u_char  *p, *start, *end;

    static u_char  hex[] = "0123456789abcdef";

    start = r->unparsed_uri.data;
    end = ngx_strlchr(start, start + r->unparsed_uri.len, '?');

    if (end == NULL) {
        end = start + r->unparsed_uri.len;
    }

    for (p = end; p > start && p[-1] != '/'; p--) {
        /* void */
    }

    if (p == end) {
        return ngx_cpymem(dst, "./", 2);
    }

    for ( /* void */ ; p < end; p++) {
        if (*p < 0x20 || *p == '"' || *p == '\\' || *p == '<' || *p == '>'
            || *p == '&' || *p == 0x7f)
        {
            dst = ngx_cpymem(dst, "\\u00", 4);
            *dst++ = hex[*p >> 4];
            *dst++ = hex[*p & 0xf];

        } else {
            *dst++ = *p;
        }
    }

    return dst;
}


static ngx_int_t
ngx_http_fraiseql_graphiql(ngx_http_request_t *r,
    ngx_http_fraiseql_web_conf_t *wc)
{
    u_char       *last;
    ngx_int_t     rc;
    ngx_buf_t    *b[3];
    ngx_uint_t    i;
    ngx_chain_t   out[3];

    static ngx_str_t  no_store = ngx_string("no-store");
    static ngx_str_t  nosniff = ngx_string("nosniff");
    static ngx_str_t  no_referrer = ngx_string("no-referrer");

    rc = ngx_http_discard_request_body(r);
    if (rc != NGX_OK) {
        return rc;
    }

    for (i = 0; i < 3; i++) {
        b[i] = ngx_calloc_buf(r->pool);
        if (b[i] == NULL) {
            return NGX_HTTP_INTERNAL_SERVER_ERROR;
        }

        out[i].buf = b[i];
        out[i].next = (i < 2) ? &out[i + 1] : NULL;
    }

    /* the configuration's page, around the endpoint (6 bytes each at most) */
    b[0]->pos = wc->graphiql_head.data;
    b[0]->last = wc->graphiql_head.data + wc->graphiql_head.len;
    b[0]->memory = 1;

    b[1]->pos = ngx_pnalloc(r->pool, r->unparsed_uri.len * 6 + 2);
    if (b[1]->pos == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    last = ngx_http_fraiseql_graphiql_endpoint(r, b[1]->pos);
    b[1]->last = last;
    b[1]->temporary = 1;

    b[2]->pos = wc->graphiql_tail.data;
    b[2]->last = wc->graphiql_tail.data + wc->graphiql_tail.len;
    b[2]->memory = 1;
    b[2]->last_buf = 1;
    b[2]->last_in_chain = 1;

    r->headers_out.status = NGX_HTTP_OK;
    r->headers_out.content_length_n = wc->graphiql_head.len
                                      + (last - b[1]->pos)
                                      + wc->graphiql_tail.len;
    r->headers_out.content_type = ngx_http_fraiseql_html_type;
    r->headers_out.content_type_len = ngx_http_fraiseql_html_type.len;
    r->headers_out.content_type_lowcase = NULL;

    if (ngx_http_fraiseql_web_add(r, "Content-Security-Policy",
                                  &wc->graphiql_csp) != NGX_OK
        || ngx_http_fraiseql_web_add(r, "Cache-Control", &no_store) != NGX_OK
        || ngx_http_fraiseql_web_add(r, "X-Content-Type-Options", &nosniff)
           != NGX_OK
        || ngx_http_fraiseql_web_add(r, "Referrer-Policy", &no_referrer)
           != NGX_OK)
    {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    rc = ngx_http_send_header(r);

    if (rc == NGX_ERROR || rc > NGX_OK || r->header_only) {
        return rc;
    }

    return ngx_http_output_filter(r, out);
}


/*
 * The content handler's first step: CORS headers on whatever the location
 * answers, then a preflight or the GraphiQL page answered here.
 * NGX_DECLINED: a GraphQL request, for the rest of the handler.
 */
ngx_int_t
ngx_http_fraiseql_web(ngx_http_request_t *r)
{
    ngx_uint_t                     allowed;
    ngx_http_fraiseql_loc_conf_t  *flcf;
    ngx_http_fraiseql_web_conf_t  *wc;

    static ngx_str_t  accept = ngx_string("Accept");

    /* a batch's requests answer into their POST's answer */
    if (r != r->main) {
        return NGX_DECLINED;
    }

    flcf = ngx_http_get_module_loc_conf(r, ngx_http_fraiseql_module);
    wc = &flcf->web;

    if (wc->cors != NULL) {
        if (ngx_http_fraiseql_cors_headers(r, wc->cors, &allowed) != NGX_OK) {
            return NGX_HTTP_INTERNAL_SERVER_ERROR;
        }

        if (r->method == NGX_HTTP_OPTIONS) {
            return ngx_http_fraiseql_cors_options(r, wc, allowed);
        }
    }

    if (!wc->graphiql || !(r->method & (NGX_HTTP_GET|NGX_HTTP_HEAD))) {
        return NGX_DECLINED;
    }

    /* one URL, an HTML page or JSON by Accept: caches must know */
    if (ngx_http_fraiseql_web_add(r, "Vary", &accept) != NGX_OK) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    if (!ngx_http_fraiseql_wants_graphiql(r)) {
        return NGX_DECLINED;
    }

    return ngx_http_fraiseql_graphiql(r, wc);
}


/* "scheme://host[:port]" or "scheme://" "*.domain[:port]", nothing after */
static ngx_uint_t
ngx_http_fraiseql_cors_origin_valid(ngx_str_t *o)
{
    u_char  *p, *end;

    p = o->data;
    end = p + o->len;

    while (p < end && (ngx_http_fraiseql_alnum(*p) || *p == '+' || *p == '-'
                       || *p == '.'))
    {
        p++;
    }

    if (p == o->data || end - p < 4 || ngx_strncmp(p, "://", 3) != 0) {
        return 0;
    }

    p += 3;

    if (end - p > 2 && p[0] == '*' && p[1] == '.') {
        p += 2;
    }

    if (p < end && *p == '[') {
        while (p < end && *p != ']') {
            if (!(ngx_http_fraiseql_alnum(*p) || *p == ':' || *p == '.'
                  || *p == '['))
            {
                return 0;
            }

            p++;
        }

        if (p == end) {
            return 0;
        }

        p++;

    } else {
        if (p == end || *p == ':') {
            return 0;
        }

        while (p < end
               && (ngx_http_fraiseql_alnum(*p) || *p == '-' || *p == '.'))
        {
            p++;
        }
    }

    if (p < end && *p == ':') {
        p++;

        if (p == end) {
            return 0;
        }

        while (p < end && *p >= '0' && *p <= '9') {
            p++;
        }
    }

    return p == end;
}


/* a header name of headers=: an HTTP token */
static ngx_uint_t
ngx_http_fraiseql_cors_token(u_char *p, u_char *end)
{
    if (p == end) {
        return 0;
    }

    for ( /* void */ ; p < end; p++) {
        if (!ngx_http_fraiseql_alnum(*p)
            && (*p == '\0' || ngx_strchr("!#$%&'*+-.^_`|~", *p) == NULL))
        {
            return 0;
        }
    }

    return 1;
}


/* fraiseql_cors off | origin... [credentials] [max_age=time] [headers=...] */
char *
ngx_http_fraiseql_cors(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    ngx_http_fraiseql_loc_conf_t  *flcf = conf;

    u_char                    *p, *q, *end;
    time_t                     age;
    ngx_str_t                 *value, *o, s;
    ngx_uint_t                 i;
    ngx_http_fraiseql_cors_t  *cors;

    if (flcf->web.cors != NGX_CONF_UNSET_PTR) {
        return "is duplicate";
    }

    value = cf->args->elts;

    if (ngx_strcmp(value[1].data, "off") == 0) {
        if (cf->args->nelts > 2) {
            return "takes nothing after \"off\"";
        }

        flcf->web.cors = NULL;
        return NGX_CONF_OK;
    }

    cors = ngx_pcalloc(cf->pool, sizeof(ngx_http_fraiseql_cors_t));
    if (cors == NULL
        || ngx_array_init(&cors->origins, cf->pool, 4, sizeof(ngx_str_t))
           != NGX_OK)
    {
        return NGX_CONF_ERROR;
    }

    age = NGX_HTTP_FRAISEQL_CORS_MAX_AGE;

    for (i = 1; i < cf->args->nelts; i++) {

        if (ngx_strcmp(value[i].data, "credentials") == 0) {
            cors->credentials = 1;
            continue;
        }

        if (ngx_strncmp(value[i].data, "max_age=", 8) == 0) {
            s.data = value[i].data + 8;
            s.len = value[i].len - 8;

            age = ngx_parse_time(&s, 1);
            if (age == (time_t) NGX_ERROR) {
                ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                                   "fraiseql_cors: invalid max_age \"%V\"",
                                   &s);
                return NGX_CONF_ERROR;
            }

            continue;
        }

        if (ngx_strncmp(value[i].data, "headers=", 8) == 0) {
            /* "a,b" as "a, b", each an HTTP header name */
            cors->headers.data = ngx_pnalloc(cf->pool, 2 * value[i].len);
            if (cors->headers.data == NULL) {
                return NGX_CONF_ERROR;
            }

            q = cors->headers.data;
            end = value[i].data + value[i].len;

            for (p = value[i].data + 8; p <= end; p = s.data + s.len + 1) {
                s.data = p;
                s.len = 0;

                while (p + s.len < end && p[s.len] != ',') {
                    s.len++;
                }

                if (!ngx_http_fraiseql_cors_token(s.data, s.data + s.len)) {
                    ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                                       "fraiseql_cors: invalid header name "
                                       "\"%V\" in \"%V\"", &s, &value[i]);
                    return NGX_CONF_ERROR;
                }

                if (q != cors->headers.data) {
                    q = ngx_cpymem(q, ", ", 2);
                }

                q = ngx_cpymem(q, s.data, s.len);
            }

            cors->headers.len = q - cors->headers.data;
            continue;
        }

        if (ngx_strcmp(value[i].data, "*") == 0) {
            cors->any = 1;
            continue;
        }

        /* what sandboxed frames and file: pages send: anyone's */
        if (ngx_strcasecmp(value[i].data, (u_char *) "null") == 0) {
            ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                               "fraiseql_cors: the origin \"null\" is "
                               "refused: sandboxed frames and local files "
                               "all send it");
            return NGX_CONF_ERROR;
        }

        if (!ngx_http_fraiseql_cors_origin_valid(&value[i])) {
            ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                               "fraiseql_cors: \"%V\" is not an origin: "
                               "scheme://host[:port], without a path or "
                               "a trailing slash", &value[i]);
            return NGX_CONF_ERROR;
        }

        o = ngx_array_push(&cors->origins);
        if (o == NULL) {
            return NGX_CONF_ERROR;
        }

        o->len = value[i].len;
        o->data = ngx_pnalloc(cf->pool, o->len);
        if (o->data == NULL) {
            return NGX_CONF_ERROR;
        }

        ngx_strlow(o->data, value[i].data, o->len);
    }

    if (cors->any && cors->origins.nelts) {
        return "takes \"*\" or origins, not both";
    }

    if (!cors->any && cors->origins.nelts == 0) {
        return "needs an origin, \"*\" or \"off\"";
    }

    /* the Fetch standard: a credentialed request fails on "*" */
    if (cors->any && cors->credentials) {
        return "cannot take \"*\" with \"credentials\": browsers refuse "
               "Access-Control-Allow-Origin: * on requests with "
               "credentials; list the origins";
    }

    cors->max_age.data = ngx_pnalloc(cf->pool, NGX_TIME_T_LEN);
    if (cors->max_age.data == NULL) {
        return NGX_CONF_ERROR;
    }

    cors->max_age.len = ngx_sprintf(cors->max_age.data, "%T", age)
                        - cors->max_age.data;

    flcf->web.cors = cors;

    return NGX_CONF_OK;
}


/* fraiseql_graphiql_assets url: where the page's files are */
char *
ngx_http_fraiseql_graphiql_assets(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf)
{
    ngx_http_fraiseql_loc_conf_t  *flcf = conf;

    u_char     *p;
    ngx_str_t  *value, *url;

    url = &flcf->web.graphiql_assets;

    if (url->data != NULL) {
        return "is duplicate";
    }

    value = cf->args->elts;

    if (!(value[1].len > 1 && value[1].data[0] == '/'
          && value[1].data[1] != '/')
        && ngx_strncmp(value[1].data, "https://", 8) != 0
        && ngx_strncmp(value[1].data, "http://", 7) != 0)
    {
        return "takes a path (\"/graphiql-assets/\") or an http:// or "
               "https:// URL";
    }

    /* it goes into an HTML attribute and a Content-Security-Policy */
    for (p = value[1].data; p < value[1].data + value[1].len; p++) {
        if (*p <= 0x20 || *p >= 0x7f || ngx_strchr("\"'<>\\;,`", *p)) {
            ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                               "fraiseql_graphiql_assets: \"%V\" has a "
                               "character a URL here may not have: \"%c\"",
                               &value[1], *p);
            return NGX_CONF_ERROR;
        }
    }

    /* a folder: the file names follow it */
    url->len = value[1].len;
    url->data = ngx_pnalloc(cf->pool, url->len + 1);
    if (url->data == NULL) {
        return NGX_CONF_ERROR;
    }

    ngx_memcpy(url->data, value[1].data, url->len);

    if (url->data[url->len - 1] != '/') {
        url->data[url->len++] = '/';
    }

    return NGX_CONF_OK;
}


void
ngx_http_fraiseql_web_create(ngx_http_fraiseql_web_conf_t *wc)
{
    /*
     * set by ngx_pcalloc():
     *
     *     wc->graphiql_assets = { 0, NULL };
     *     wc->cors_allow_headers = { 0, NULL };
     */

    wc->cors = NGX_CONF_UNSET_PTR;
    wc->graphiql = NGX_CONF_UNSET;
}


/* 'sha256-...' of an inline script or style, for the policy */
static u_char *
ngx_http_fraiseql_csp_hash(u_char *p, ngx_str_t *text)
{
    u_char     md[SHA256_DIGEST_LENGTH];
    ngx_str_t  src, dst;

    SHA256(text->data, text->len, md);

    src.data = md;
    src.len = sizeof(md);
    dst.data = ngx_cpymem(p, "'sha256-", 8);

    ngx_encode_base64(&dst, &src);

    p = dst.data + dst.len;
    *p++ = '\'';

    return p;
}


/* the page's policy: its own inline code, the assets, the endpoint */
static ngx_int_t
ngx_http_fraiseql_graphiql_csp(ngx_conf_t *cf,
    ngx_http_fraiseql_web_conf_t *wc)
{
    size_t      len;
    u_char     *p;
    ngx_str_t  *url;
    ngx_uint_t  i, local;

    url = &wc->graphiql_assets;

    /* a path has no source expression of its own: the origin is "self" */
    local = (url->data[0] == '/');

    len = sizeof("default-src 'none'; script-src ; style-src ; "
                 "font-src data:; img-src 'self' data:; "
                 "connect-src 'self'; base-uri 'none'; "
                 "form-action 'none'; frame-ancestors 'none'") - 1
          + 2 * (sizeof("'sha256-'") + 44)
          + 4 * (url->len + 64);

    p = ngx_pnalloc(cf->pool, len);
    if (p == NULL) {
        return NGX_ERROR;
    }

    wc->graphiql_csp.data = p;

    p = ngx_cpymem(p, "default-src 'none'; script-src ", 31);
    p = ngx_http_fraiseql_csp_hash(p, &ngx_http_fraiseql_graphiql_script);

    /* the exact files: a CDN's other packages stay out */
    for (i = 0; i < 3; i++) {
        if (local) {
            p = ngx_cpymem(p, " 'self'", 7);
            break;
        }

        *p++ = ' ';
        p = ngx_cpymem(p, url->data, url->len);
        p = ngx_cpymem(p, ngx_http_fraiseql_graphiql_js[i].path.data,
                       ngx_http_fraiseql_graphiql_js[i].path.len);
    }

    p = ngx_cpymem(p, "; style-src ", 12);
    p = ngx_http_fraiseql_csp_hash(p, &ngx_http_fraiseql_graphiql_style);

    if (local) {
        p = ngx_cpymem(p, " 'self'", 7);

    } else {
        *p++ = ' ';
        p = ngx_cpymem(p, url->data, url->len);
        p = ngx_cpymem(p, ngx_http_fraiseql_graphiql_css.path.data,
                       ngx_http_fraiseql_graphiql_css.path.len);
    }

    p = ngx_cpymem(p, "; font-src data:; img-src 'self' data:; "
                   "connect-src 'self'; base-uri 'none'; "
                   "form-action 'none'; frame-ancestors 'none'",
                   sizeof("; font-src data:; img-src 'self' data:; "
                          "connect-src 'self'; base-uri 'none'; "
                          "form-action 'none'; frame-ancestors 'none'")
                   - 1);

    wc->graphiql_csp.len = p - wc->graphiql_csp.data;

    return NGX_OK;
}


/* the page but for its endpoint: what comes before it, what after */
static ngx_int_t
ngx_http_fraiseql_graphiql_page(ngx_conf_t *cf,
    ngx_http_fraiseql_web_conf_t *wc)
{
    u_char     *p;
    size_t      len;
    ngx_str_t  *url;
    ngx_uint_t  i;

    static char  head[] =
        "<!DOCTYPE html>\n"
        "<html lang=\"en\">\n"
        "<head>\n"
        "<meta charset=\"utf-8\">\n"
        "<meta name=\"viewport\" content=\"width=device-width, "
        "initial-scale=1\">\n"
        "<meta name=\"robots\" content=\"noindex\">\n"
        "<title>GraphiQL</title>\n"
        /* no /favicon.ico asked for, and logged missing */
        "<link rel=\"icon\" href=\"data:,\">\n";
    static char  body[] =
        "</head>\n"
        "<body>\n"
        "<div id=\"graphiql\">Loading GraphiQL&hellip;</div>\n"
        "<script id=\"fraiseql-graphiql\" type=\"application/json\">"
        "{\"endpoint\":\"";

    url = &wc->graphiql_assets;

    len = sizeof(head) + sizeof(body)
          + sizeof("<link rel=\"stylesheet\" href=\"\" integrity=\"\" "
                   "crossorigin=\"anonymous\">\n")
          + url->len + ngx_http_fraiseql_graphiql_css.path.len
          + ngx_http_fraiseql_graphiql_css.integrity.len
          + sizeof("<style></style>\n") + ngx_http_fraiseql_graphiql_style.len;

    p = ngx_pnalloc(cf->pool, len);
    if (p == NULL) {
        return NGX_ERROR;
    }

    wc->graphiql_head.data = p;

    p = ngx_cpymem(p, head, sizeof(head) - 1);
    p = ngx_sprintf(p, "<link rel=\"stylesheet\" href=\"%V%V\" "
                    "integrity=\"%V\" crossorigin=\"anonymous\">\n"
                    "<style>%V</style>\n", url,
                    &ngx_http_fraiseql_graphiql_css.path,
                    &ngx_http_fraiseql_graphiql_css.integrity,
                    &ngx_http_fraiseql_graphiql_style);
    p = ngx_cpymem(p, body, sizeof(body) - 1);

    wc->graphiql_head.len = p - wc->graphiql_head.data;

    len = sizeof("\"}</script>\n") + sizeof("</body>\n</html>\n")
          + sizeof("<script></script>\n")
          + ngx_http_fraiseql_graphiql_script.len;

    for (i = 0; i < 3; i++) {
        len += sizeof("<script src=\"\" integrity=\"\" "
                      "crossorigin=\"anonymous\"></script>\n")
               + url->len + ngx_http_fraiseql_graphiql_js[i].path.len
               + ngx_http_fraiseql_graphiql_js[i].integrity.len;
    }

    p = ngx_pnalloc(cf->pool, len);
    if (p == NULL) {
        return NGX_ERROR;
    }

    wc->graphiql_tail.data = p;

    p = ngx_cpymem(p, "\"}</script>\n", sizeof("\"}</script>\n") - 1);

    for (i = 0; i < 3; i++) {
        p = ngx_sprintf(p, "<script src=\"%V%V\" integrity=\"%V\" "
                        "crossorigin=\"anonymous\"></script>\n", url,
                        &ngx_http_fraiseql_graphiql_js[i].path,
                        &ngx_http_fraiseql_graphiql_js[i].integrity);
    }

    p = ngx_sprintf(p, "<script>%V</script>\n</body>\n</html>\n",
                    &ngx_http_fraiseql_graphiql_script);

    wc->graphiql_tail.len = p - wc->graphiql_tail.data;

    return ngx_http_fraiseql_graphiql_csp(cf, wc);
}


char *
ngx_http_fraiseql_web_merge(ngx_conf_t *cf, ngx_http_fraiseql_web_conf_t *prev,
    ngx_http_fraiseql_web_conf_t *wc, ngx_http_fraiseql_auth_conf_t *acf)
{
    u_char  *p;
    size_t   len;

    static ngx_str_t  headers = ngx_string("Content-Type, Authorization");

    ngx_conf_merge_ptr_value(wc->cors, prev->cors, NULL);
    ngx_conf_merge_value(wc->graphiql, prev->graphiql, 0);
    ngx_conf_merge_str_value(wc->graphiql_assets, prev->graphiql_assets,
                             NGX_HTTP_FRAISEQL_GRAPHIQL_CDN);

    if (wc->cors != NULL) {
        /* what a client sends but a browser asks leave for: ours */
        len = headers.len + 2 + acf->role_header.len + 2
              + wc->cors->headers.len;

        p = ngx_pnalloc(cf->pool, len);
        if (p == NULL) {
            return NGX_CONF_ERROR;
        }

        wc->cors_allow_headers.data = p;
        p = ngx_cpymem(p, headers.data, headers.len);

        if (acf->role_header.len) {
            p = ngx_cpymem(p, ", ", 2);
            p = ngx_cpymem(p, acf->role_header.data, acf->role_header.len);
        }

        if (wc->cors->headers.len) {
            p = ngx_cpymem(p, ", ", 2);
            p = ngx_cpymem(p, wc->cors->headers.data, wc->cors->headers.len);
        }

        wc->cors_allow_headers.len = p - wc->cors_allow_headers.data;
    }

    if (wc->graphiql
        && ngx_http_fraiseql_graphiql_page(cf, wc) != NGX_OK)
    {
        return NGX_CONF_ERROR;
    }

    return NGX_CONF_OK;
}
