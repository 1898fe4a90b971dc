/*
 * Authorization rules of the schema, read once when it is built: roles
 * (`extend schema @role(name:, inherits:)`), rules on object types and
 * fields (@authenticated, @auth(roles:, permissions:, scopes:)) and row
 * filters on @view types (@rowFilter(roles:, where:)).  Roles,
 * permissions and scopes are numbered so that a rule is a few bitsets
 * and a request's check is a few bit tests; a role's grants (its bit and
 * those of the roles it inherits, transitively) are computed here.
 *
 * A row filter's where is FraiseQL's where input written as a GraphQL
 * value, with $jwt.name or $jwt"/json/pointer" where a claim goes.  It is
 * coerced against the type's where input here, so that a misspelt field
 * or operator fails nginx -t; each placeholder becomes a node whose
 * var_src is an fql_claim_src_t, which the compiler binds from each
 * request's claims (fql_sql.c), never from the client.
 */

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fql_compile_int.h"
#include "fql_schema_int.h"


/* what marks a placeholder's source: its own address */
const fql_jval_t  fql_claim_sentinel;

/* a row filter being read */
typedef struct {
    fql_sb_t             *sb;
    fql_loc_t             loc;        /* its directive's */
    fql_str_t             ptrs[32];   /* $jwt"..." pointers, by number */
    unsigned              nptrs;
    const char           *error;      /* set by the placeholder hook */
} fql_rf_ctx_t;


uint64_t
fql_auth_bit(const fql_names_t *names, const char *name, size_t len)
{
    unsigned  i;

    for (i = 0; i < names->n; i++) {
        if (names->names[i].len == len
            && memcmp(names->names[i].data, name, len) == 0)
        {
            return (uint64_t) 1 << i;
        }
    }

    return 0;
}


uint64_t
fql_auth_role(const fql_authz_t *az, const char *name, size_t len)
{
    unsigned  i;

    for (i = 0; i < az->roles.n; i++) {
        if (az->roles.names[i].len == len
            && memcmp(az->roles.names[i].data, name, len) == 0)
        {
            return az->grants[i];
        }
    }

    return 0;
}


int
fql_rule_allows(const fql_rule_t *r, const fql_caller_t *caller)
{
    unsigned  i;

    if (r->authenticated && !caller->authenticated) {
        return 0;
    }

    if (r->has_roles && (r->roles & caller->roles) == 0) {
        return 0;
    }

    if ((r->perms & caller->perms) != r->perms) {
        return 0;
    }

    if (r->nscopes == 0) {
        return 1;
    }

    for (i = 0; i < r->nscopes; i++) {
        if ((r->scopes[i] & caller->scopes) == r->scopes[i]) {
            return 1;
        }
    }

    return 0;
}


/* a role's name, as the role claim must be one: a plain identifier */
static int
fql_role_name_ok(fql_str_t s)
{
    size_t  i;

    if (s.len == 0 || s.len > 63) {
        return 0;
    }

    for (i = 0; i < s.len; i++) {
        char  c = s.data[i];

        if (!((c >= 'a' && c <= 'z') || c == '_'
              || (c >= '0' && c <= '9' && i > 0)))
        {
            return 0;
        }
    }

    return 1;
}


/* the number of a name in names, added when new */
static int
fql_auth_number(fql_sb_t *sb, fql_names_t *names, fql_str_t name,
    fql_loc_t loc, const char *what, uint64_t *bit)
{
    *bit = fql_auth_bit(names, name.data, name.len);
    if (*bit) {
        return 0;
    }

    if (names->n == FQL_AUTH_MAX) {
        return fql_sb_error(sb, loc, "The schema names more than %d %s.",
                            FQL_AUTH_MAX, what);
    }

    if (name.len == 0 || memchr(name.data, '\0', name.len) != NULL) {
        return fql_sb_error(sb, loc, "A %s name must not be empty.",
                            what);
    }

    names->names[names->n] = name;
    *bit = (uint64_t) 1 << names->n++;

    return 0;
}


/* a list of strings argument, each given to fn; NULL value: none */
static int
fql_auth_strings(fql_sb_t *sb, fql_value_t *v, const char *what,
    fql_loc_t loc)
{
    fql_value_t  *it;

    if (v == NULL) {
        return 0;
    }

    if (v->kind == FQL_VAL_STRING) {
        return 0;
    }

    if (v->kind != FQL_VAL_LIST) {
        return fql_sb_error(sb, loc, "%s must be a list of strings", what);
    }

    for (it = v->items; it; it = it->next) {
        if (it->kind != FQL_VAL_STRING) {
            return fql_sb_error(sb, it->loc, "%s must be a list of strings",
                                what);
        }
    }

    return 0;
}


/* the first item of a list value, or the value (a list of one) */
#define fql_auth_items(v)  ((v)->kind == FQL_VAL_LIST ? (v)->items : (v))


/* the roles named by a list (declared ones only) as their bits */
static int
fql_auth_roles(fql_sb_t *sb, fql_value_t *v, const char *what,
    uint64_t *bits)
{
    uint64_t      b;
    fql_value_t  *it;
    fql_authz_t  *az = &sb->schema->authz;

    *bits = 0;

    if (fql_auth_strings(sb, v, what, v->loc) != 0) {
        return -1;
    }

    for (it = fql_auth_items(v); it; it = it->next) {
        b = fql_auth_bit(&az->roles, it->str.data, it->str.len);
        if (b == 0) {
            return fql_sb_error(sb, it->loc, "%s: the role \"%.*s\" is not "
                                "declared: extend schema @role(name: "
                                "\"%.*s\")", what, fql_pstr(it->str),
                                fql_pstr(it->str));
        }

        *bits |= b;

        if (it->kind != FQL_VAL_STRING || v->kind != FQL_VAL_LIST) {
            break;
        }
    }

    return 0;
}


/* ---- roles ---- */


/* the grants of role i: depth-first through inherits, refusing cycles */
static int
fql_auth_grants(fql_sb_t *sb, const uint64_t *inherits,
    const fql_loc_t *locs, unsigned i, unsigned *state, unsigned *path,
    unsigned depth)
{
    unsigned      j, k;
    char          cycle[256];
    size_t        n;
    fql_authz_t  *az = &sb->schema->authz;

    if (state[i] == 2) {
        return 0;
    }

    if (state[i] == 1) {
        /* the cycle: from i's place on the path back to i */
        for (k = 0; k < depth && path[k] != i; k++) { /* void */ }

        n = 0;
        cycle[0] = '\0';

        for ( /* void */ ; k < depth && n < sizeof(cycle) - 70; k++) {
            n += snprintf(cycle + n, sizeof(cycle) - n, "%.*s -> ",
                          fql_pstr(az->roles.names[path[k]]));
        }

        snprintf(cycle + n, sizeof(cycle) - n, "%.*s",
                 fql_pstr(az->roles.names[i]));

        return fql_sb_error(sb, locs[i], "The roles inherit in a cycle: "
                            "%s.", cycle);
    }

    state[i] = 1;
    path[depth] = i;
    az->grants[i] = (uint64_t) 1 << i;

    for (j = 0; j < az->roles.n; j++) {
        if (!(inherits[i] & ((uint64_t) 1 << j))) {
            continue;
        }

        if (fql_auth_grants(sb, inherits, locs, j, state, path, depth + 1)
            != 0)
        {
            return -1;
        }

        az->grants[i] |= az->grants[j];
    }

    state[i] = 2;

    return 0;
}


static int
fql_auth_declare_roles(fql_sb_t *sb, fql_document_t *doc)
{
    unsigned           i, state[FQL_AUTH_MAX], path[FQL_AUTH_MAX];
    uint64_t           inherits[FQL_AUTH_MAX], b;
    fql_loc_t          locs[FQL_AUTH_MAX];
    fql_value_t       *name, *inh;
    fql_directive_t   *d, *decl[FQL_AUTH_MAX];
    fql_definition_t  *def;
    fql_authz_t       *az = &sb->schema->authz;

    /* the names first: a role may inherit one declared after it */
    for (def = doc->definitions; def; def = def->next) {
        if (def->kind != FQL_DEF_SCHEMA) {
            continue;
        }

        for (d = def->directives; d; d = d->next) {
            if (!fql_str_eqz(d->name, "role")) {
                continue;
            }

            name = fql_directive_arg(d, "name");

            if (name == NULL || name->kind != FQL_VAL_STRING
                || !fql_role_name_ok(name->str))
            {
                return fql_sb_error(sb, d->loc, "@role(name:) must be a "
                                    "role's name: lower-case letters, "
                                    "digits and _, such as \"user\"");
            }

            if (fql_auth_bit(&az->roles, name->str.data, name->str.len)) {
                return fql_sb_error(sb, d->loc, "The role \"%.*s\" is "
                                    "declared twice.", fql_pstr(name->str));
            }

            if (fql_auth_number(sb, &az->roles, name->str, d->loc, "roles",
                                &b) != 0)
            {
                return -1;
            }

            locs[az->roles.n - 1] = d->loc;
            decl[az->roles.n - 1] = d;
        }
    }

    memset(inherits, 0, sizeof(inherits));

    for (i = 0; i < az->roles.n; i++) {
        inh = fql_directive_arg(decl[i], "inherits");

        if (inh != NULL && inh->kind != FQL_VAL_NULL
            && fql_auth_roles(sb, inh, "@role(inherits:)", &inherits[i])
               != 0)
        {
            return -1;
        }
    }

    memset(state, 0, sizeof(state));

    for (i = 0; i < az->roles.n; i++) {
        if (fql_auth_grants(sb, inherits, locs, i, state, path, 0) != 0) {
            return -1;
        }
    }

    return 0;
}


/* ---- rules ---- */


static int
fql_auth_rule(fql_sb_t *sb, fql_directive_t *dirs, const fql_rule_t **out)
{
    unsigned          n;
    uint64_t          b, *scopes;
    fql_rule_t       *r;
    fql_value_t      *v, *list, *it;
    fql_directive_t  *auth, *authn;
    fql_authz_t      *az = &sb->schema->authz;

    auth = fql_find_directive(dirs, "auth");
    authn = fql_find_directive(dirs, "authenticated");

    if (auth == NULL && authn == NULL) {
        return 0;
    }

    r = fql_calloc(sb->arena, sizeof(fql_rule_t));
    if (r == NULL) {
        return fql_sb_error(sb, dirs->loc, FQL_NOMEM);
    }

    r->authenticated = authn != NULL;
    az->rules++;

    if (auth == NULL) {
        *out = r;
        return 0;
    }

    if (auth->args == NULL) {
        return fql_sb_error(sb, auth->loc, "@auth needs roles, permissions "
                            "or scopes");
    }

    v = fql_directive_arg(auth, "roles");
    if (v != NULL && v->kind != FQL_VAL_NULL) {
        if (fql_auth_roles(sb, v, "@auth(roles:)", &r->roles) != 0) {
            return -1;
        }

        r->has_roles = 1;
    }

    v = fql_directive_arg(auth, "permissions");
    if (v != NULL && v->kind != FQL_VAL_NULL) {
        if (fql_auth_strings(sb, v, "@auth(permissions:)", v->loc) != 0) {
            return -1;
        }

        for (it = fql_auth_items(v); it; it = it->next) {
            if (fql_auth_number(sb, &az->perms, it->str, it->loc,
                                "permissions", &b) != 0)
            {
                return -1;
            }

            r->perms |= b;

            if (v->kind != FQL_VAL_LIST) {
                break;
            }
        }
    }

    v = fql_directive_arg(auth, "scopes");
    if (v != NULL && v->kind != FQL_VAL_NULL) {
        n = 0;
        for (list = fql_auth_items(v); list; list = list->next) {
            n++;
            if (v->kind != FQL_VAL_LIST) {
                break;
            }
        }

        scopes = fql_calloc(sb->arena, (n ? n : 1) * sizeof(uint64_t));
        if (scopes == NULL) {
            return fql_sb_error(sb, v->loc, FQL_NOMEM);
        }

        n = 0;
        for (list = fql_auth_items(v); list; list = list->next) {
            if (fql_auth_strings(sb, list, "@auth(scopes:) lists",
                                 list->loc) != 0)
            {
                return -1;
            }

            for (it = fql_auth_items(list); it; it = it->next) {
                if (fql_auth_number(sb, &az->scopes, it->str, it->loc,
                                    "scopes", &b) != 0)
                {
                    return -1;
                }

                scopes[n] |= b;

                if (list->kind != FQL_VAL_LIST) {
                    break;
                }
            }

            n++;

            if (v->kind != FQL_VAL_LIST) {
                break;
            }
        }

        r->scopes = scopes;
        r->nscopes = n;
    }

    *out = r;

    return 0;
}


/* ---- row filters ---- */


/* a $jwt placeholder met while coercing: its node becomes a claim's */
static int
fql_rf_variable(fql_vctx_t *v, const fql_value_t *var,
    const fql_tref_t *type)
{
    char             *p;
    unsigned          n;
    fql_str_t         name, ptr;
    fql_rf_ctx_t     *rf = v->data;
    fql_claim_src_t  *cs;
    const fql_type_t *t;

    if (type == NULL) {
        rf->error = "a claim goes where a scalar or a list of scalars "
                    "does, not inside a JSON value";
        return -1;
    }

    t = fql_tref_named(type);
    if (t->kind != FQL_T_SCALAR && t->kind != FQL_T_ENUM) {
        rf->error = "a claim goes where a scalar or a list of scalars does";
        return -1;
    }

    name = var->str;

    if (name.len <= 6 || (memcmp(name.data, "jwt_p_", 6) != 0
                          && memcmp(name.data, "jwt_n_", 6) != 0))
    {
        rf->error = "the only variables are claims: $jwt.name or "
                    "$jwt\"/json/pointer\"";
        return -1;
    }

    if (memcmp(name.data, "jwt_p_", 6) == 0) {
        n = (unsigned) atoi(name.data + 6);
        ptr = rf->ptrs[n < rf->nptrs ? n : 0];

    } else {
        /* jwt_n_NAME: the top-level claim NAME */
        p = fql_alloc(rf->sb->arena, name.len - 4);
        if (p == NULL) {
            rf->error = FQL_NOMEM;
            return -1;
        }

        p[0] = '/';
        memcpy(p + 1, name.data + 6, name.len - 6);
        p[name.len - 5] = '\0';
        ptr.data = p;
        ptr.len = name.len - 5;
    }

    cs = fql_calloc(rf->sb->arena, sizeof(fql_claim_src_t));
    if (cs == NULL) {
        rf->error = FQL_NOMEM;
        return -1;
    }

    cs->mark.var_src = &fql_claim_sentinel;
    cs->arg.name = ptr;
    cs->arg.from_claim = ptr;

    /* a value, so that the operator is not left out as a null one */
    v->placeholder->kind = FQL_J_STRING;
    v->placeholder->str.data = (char *) "";
    v->placeholder->var_src = &cs->mark;

    return 0;
}


/*
 * The where text as GraphQL: $jwt.name becomes the variable
 * $jwt_n_name, $jwt"/pointer" the variable $jwt_p_<number>.
 */
static int
fql_rf_text(fql_rf_ctx_t *rf, fql_str_t in, fql_str_t *out)
{
    char        *o, *end;
    size_t       i, j;
    fql_str_t    p;

    o = fql_alloc(rf->sb->arena, in.len * 2 + 64);
    if (o == NULL) {
        return fql_sb_error(rf->sb, rf->loc, FQL_NOMEM);
    }

    out->data = o;

    for (i = 0; i < in.len; /* void */) {
        if (in.len - i < 5 || memcmp(in.data + i, "$jwt", 4) != 0) {
            *o++ = in.data[i++];
            continue;
        }

        if (in.data[i + 4] == '.') {
            memcpy(o, "$jwt_n_", 7);
            o += 7;
            for (i += 5; i < in.len
                 && ((in.data[i] >= 'a' && in.data[i] <= 'z')
                     || (in.data[i] >= 'A' && in.data[i] <= 'Z')
                     || (in.data[i] >= '0' && in.data[i] <= '9')
                     || in.data[i] == '_');
                 i++)
            {
                *o++ = in.data[i];
            }

            continue;
        }

        if (in.data[i + 4] == '"') {
            end = memchr(in.data + i + 5, '"', in.len - i - 5);
            if (end == NULL) {
                return fql_sb_error(rf->sb, rf->loc, "@rowFilter(where:): "
                                    "$jwt\"...\" is not closed");
            }

            p.data = in.data + i + 5;
            p.len = end - p.data;

            if (!fql_json_pointer_valid(p) || rf->nptrs == 32) {
                return fql_sb_error(rf->sb, rf->loc, "@rowFilter(where:): "
                                    "$jwt\"%.*s\" is not a JSON pointer "
                                    "(RFC 6901), such as $jwt\"/app/"
                                    "tenant\"", fql_pstr(p));
            }

            j = rf->nptrs;
            rf->ptrs[rf->nptrs++] = p;
            o += snprintf(o, 32, "$jwt_p_%u", (unsigned) j);
            i = end + 1 - in.data;
            continue;
        }

        *o++ = in.data[i++];
    }

    out->len = o - out->data;
    *o = '\0';

    return 0;
}


static int
fql_rf_read(fql_sb_t *sb, fql_type_t *t, fql_directive_t *d)
{
    fql_str_t           text = { NULL, 0 };
    fql_tref_t          where_ref;
    fql_vctx_t          v;
    fql_value_t        *w, *value;
    fql_jval_t         *out;
    fql_arena_t        *a = sb->arena;
    fql_errors_t        errs;
    fql_rf_ctx_t        rf;
    fql_row_filter_t   *f, **tail;
    fql_parse_error_t   perr;

    if (t->view_name.len == 0 || t->where_input == NULL) {
        return fql_sb_error(sb, d->loc, "@rowFilter applies to @view types "
                            "only");
    }

    f = fql_calloc(a, sizeof(fql_row_filter_t));
    if (f == NULL) {
        return fql_sb_error(sb, d->loc, FQL_NOMEM);
    }

    value = fql_directive_arg(d, "roles");
    if (value == NULL
        || fql_auth_roles(sb, value, "@rowFilter(roles:)", &f->roles) != 0)
    {
        return value ? -1 : fql_sb_error(sb, d->loc, "@rowFilter needs "
                                         "roles");
    }

    w = fql_directive_arg(d, "where");
    if (w == NULL || w->kind != FQL_VAL_STRING) {
        return fql_sb_error(sb, d->loc, "@rowFilter(where:) must be a "
                            "string: a where filter, such as \"{ tenantId: "
                            "{ eq: $jwt.tenant_id } }\"");
    }

    memset(&rf, 0, sizeof(rf));
    rf.sb = sb;
    rf.loc = w->loc;

    if (fql_rf_text(&rf, w->str, &text) != 0) {
        return -1;
    }

    if (fql_parse_value_text(a, text.data, text.len, &value, &perr) != 0) {
        return fql_sb_error(sb, w->loc, "@rowFilter(where:): %s",
                            perr.message);
    }

    if (value->kind != FQL_VAL_OBJECT) {
        return fql_sb_error(sb, w->loc, "@rowFilter(where:) must be an "
                            "object, such as \"{ tenantId: { eq: "
                            "$jwt.tenant_id } }\"");
    }

    memset(&v, 0, sizeof(v));
    fql_errors_init(&errs, a);
    v.arena = a;
    v.schema = sb->schema;
    v.errs = &errs;
    v.on_variable = fql_rf_variable;
    v.data = &rf;

    memset(&where_ref, 0, sizeof(where_ref));
    where_ref.kind = FQL_TYPE_NAMED;
    where_ref.type = t->where_input;

    if (fql_coerce_literal(&v, &where_ref, value, &out) != 0 || out == NULL)
    {
        return fql_sb_error(sb, w->loc, "@rowFilter(where:) on \"%.*s\": "
                            "%s", fql_pstr(t->name),
                            rf.error ? rf.error
                            : errs.head ? errs.head->message
                            : "not a filter of the type");
    }

    f->where = out;

    for (tail = &t->filters; *tail; tail = &(*tail)->next) { /* void */ }
    *tail = f;

    sb->schema->authz.rules++;

    return 0;
}


/* ---- the schema's rules ---- */


/* the rules of a view's fields hold for their aggregates too */
static void
fql_auth_generated(fql_schema_t *s)
{
    fql_type_t   *t;
    fql_field_t  *f, *vf;

    for (t = s->types; t; t = t->next) {
        if ((t->gen != FQL_GEN_AGG_FIELDS && t->gen != FQL_GEN_GROUP_KEY)
            || t->view == NULL)
        {
            continue;
        }

        for (f = t->fields; f; f = f->next) {
            vf = fql_type_field(t->view, f->name);
            if (vf != NULL) {
                f->rule = vf->rule;
            }
        }
    }
}


int
fql_sb_auth(fql_sb_t *sb, fql_document_t *doc)
{
    fql_type_t        *t;
    fql_field_t       *f;
    fql_directive_t   *d;
    fql_field_def_t   *fd;
    fql_definition_t  *def;

    if (fql_auth_declare_roles(sb, doc) != 0) {
        return -1;
    }

    for (def = doc->definitions; def; def = def->next) {
        if (def->kind != FQL_DEF_OBJECT && def->kind != FQL_DEF_INTERFACE) {
            continue;
        }

        t = fql_schema_type(sb->schema, def->name);
        if (t == NULL) {
            continue;
        }

        if (def->directives != NULL) {
            if (t->rule != NULL
                && (fql_find_directive(def->directives, "auth")
                    || fql_find_directive(def->directives, "authenticated")))
            {
                return fql_sb_error(sb, def->loc, "\"%.*s\" has rules "
                                    "already: one @auth per type",
                                    fql_pstr(t->name));
            }

            if (t->rule == NULL
                && fql_auth_rule(sb, def->directives, &t->rule) != 0)
            {
                return -1;
            }

            for (d = def->directives; d; d = d->next) {
                if (fql_str_eqz(d->name, "rowFilter")
                    && fql_rf_read(sb, t, d) != 0)
                {
                    return -1;
                }
            }
        }

        for (fd = def->fields; fd; fd = fd->next) {
            if (fd->directives == NULL) {
                continue;
            }

            f = fql_type_field(t, fd->name);
            if (f != NULL && fql_auth_rule(sb, fd->directives, &f->rule)
                             != 0)
            {
                return -1;
            }
        }
    }

    fql_auth_generated(sb->schema);

    return 0;
}


/* ---- requests ---- */


int
fql_auth_need(fql_cctx_t *c, const fql_rule_t *rule, unsigned depth,
    const char *what, const fql_loc_t *loc)
{
    char            *p;
    size_t           len;
    unsigned         i;
    fql_need_t      *n;
    unsigned short  *fidx;

    if (depth > FQL_AUTH_DEPTH) {
        fql_error_add(c->v.errs, loc, FQL_CODE_FORBIDDEN, "A field with "
                      "rules is nested deeper than %d fields.",
                      FQL_AUTH_DEPTH);
        return -1;
    }

    len = c->aroot_key.len + (what ? strlen(what) + 1 : 0) + 1;
    for (i = 0; i < depth; i++) {
        len += c->akeys[i].len + 1;
    }

    n = fql_calloc(c->v.arena, sizeof(fql_need_t));
    p = fql_alloc(c->v.arena, len);
    fidx = fql_alloc(c->v.arena, (depth ? depth : 1) * sizeof(*fidx));

    if (n == NULL || p == NULL || fidx == NULL) {
        return fql_error_nomem(c->v.errs);
    }

    n->rule = rule;
    n->path = p;
    n->loc = loc ? *loc : c->v.op->loc;
    n->root = c->aroot;
    n->depth = depth;
    n->fidx = fidx;

    memcpy(p, c->aroot_key.data, c->aroot_key.len);
    p += c->aroot_key.len;

    for (i = 0; i < depth; i++) {
        *p++ = '.';
        memcpy(p, c->akeys[i].data, c->akeys[i].len);
        p += c->akeys[i].len;
        fidx[i] = c->aidx[i];
    }

    if (what != NULL) {
        *p++ = '.';
        memcpy(p, what, strlen(what));
        p += strlen(what);
    }

    *p = '\0';

    *c->needs_tail = n;
    c->needs_tail = &n->next;

    return 0;
}


int
fql_auth_field(fql_cctx_t *c, const fql_field_t *f, unsigned depth,
    const fql_loc_t *loc)
{
    const fql_type_t  *t;

    if (f->rule != NULL
        && fql_auth_need(c, f->rule, depth, NULL, loc) != 0)
    {
        return -1;
    }

    t = fql_tref_named(f->type);

    if (t->gen && t->view != NULL) {
        /* a page or the aggregates of a view's rows: the view's rule */
        t = t->view;
    }

    if (t->rule != NULL && fql_auth_need(c, t->rule, depth, NULL, loc) != 0)
    {
        return -1;
    }

    return 0;
}


/* a copy of the projection fields at idx, and of every one above it */
static fql_proj_field_t *
fql_auth_proj_cow(fql_arena_t *a, fql_proj_t **root, const fql_need_t *n)
{
    unsigned           i;
    fql_proj_t        *p, *copy, **at;
    fql_proj_field_t  *fields, *pf;

    at = root;
    pf = NULL;

    for (i = 0; i < n->depth; i++) {
        p = *at;

        if (p == NULL || n->fidx[i] >= p->nfields) {
            return NULL;
        }

        copy = fql_alloc(a, sizeof(fql_proj_t));
        fields = fql_alloc(a, p->nfields * sizeof(fql_proj_field_t));
        if (copy == NULL || fields == NULL) {
            return NULL;
        }

        *copy = *p;
        memcpy(fields, p->fields, p->nfields * sizeof(fql_proj_field_t));
        copy->fields = fields;
        *at = copy;

        pf = &fields[n->fidx[i]];
        at = &pf->sub;
    }

    return pf;
}


int
fql_plan_authorize(fql_arena_t *a, fql_plan_t **plan,
    const fql_caller_t *caller, int null_mode, fql_errors_t *errs)
{
    unsigned               i, denied;
    fql_plan_t            *pl;
    fql_root_plan_t       *rp, **tail;
    fql_proj_field_t      *pf;
    const fql_need_t      *n;
    const fql_root_plan_t *t;
    fql_caller_t           anon;

    if ((*plan)->needs == NULL) {
        return 0;
    }

    if (caller == NULL) {
        memset(&anon, 0, sizeof(anon));
        caller = &anon;
    }

    denied = 0;

    for (n = (*plan)->needs; n; n = n->next) {
        if (fql_rule_allows(n->rule, caller)) {
            continue;
        }

        denied++;

        /* refused: each element said */
        if (!null_mode) {
            fql_error_add(errs, &n->loc, FQL_CODE_FORBIDDEN, "Not allowed: "
                          "%s.", n->path);
        }
    }

    if (denied == 0) {
        return 0;
    }

    if (!null_mode) {
        return -1;
    }

    /* a copy whose denied elements answer null: the cache's is shared */
    pl = fql_alloc(a, sizeof(fql_plan_t));
    if (pl == NULL) {
        return fql_error_nomem(errs);
    }

    *pl = **plan;
    pl->nqueries = 0;
    tail = &pl->roots;

    for (t = (*plan)->roots; t; t = t->next) {
        rp = fql_alloc(a, sizeof(fql_root_plan_t));
        if (rp == NULL) {
            return fql_error_nomem(errs);
        }

        *rp = *t;
        *tail = rp;
        tail = &rp->next;
    }

    *tail = NULL;

    for (n = (*plan)->needs; n; n = n->next) {
        if (fql_rule_allows(n->rule, caller)) {
            continue;
        }

        for (i = 0, rp = pl->roots; rp && i < n->root; rp = rp->next, i++) {
            /* void */
        }

        if (rp == NULL) {
            continue;
        }

        if (fql_error_add(errs, &n->loc, FQL_CODE_FORBIDDEN, "Not allowed: "
                          "%s.", n->path) == NULL)
        {
            return -1;
        }

        if (n->depth == 0 || rp->kind == FQL_RF_STATIC
            || rp->kind == FQL_RF_MUTATION)
        {
            /* the root field itself, what it reads by, or a mutation
             * that would run to answer less than asked: it is null */
            rp->kind = FQL_RF_STATIC;
            rp->value.data = (char *) "null";
            rp->value.len = 4;
            continue;
        }

        pf = fql_auth_proj_cow(a, &rp->proj, n);
        if (pf == NULL) {
            return fql_error_nomem(errs);
        }

        /* a key no row has (jsonb holds no NUL): the value is null */
        pf->kind = FQL_PF_SCALAR;
        pf->json_key.data = (char *) "\0";
        pf->json_key.len = 1;
        pf->sub = NULL;
        pf->scalar = FQL_SCALAR_STRING;
    }

    for (rp = pl->roots; rp; rp = rp->next) {
        if (rp->kind != FQL_RF_STATIC) {
            pl->nqueries++;
        }
    }

    *plan = pl;

    return 0;
}
