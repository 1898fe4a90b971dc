/*
 * From a validated document to a plan: one statement per root field
 * (fql_sql.c writes it, fql_collect.c shapes its rows), introspection
 * answered at compile time, and a cached plan bound to new variables.
 */

#include <stdio.h>
#include <stdlib.h>

#include "fql_compile_int.h"


/*
 * A mutation field: one call of its SQL function with the input as
 * JSON, "SELECT to_jsonb(r) FROM schema.fn($1::jsonb) AS r", whose row
 * (a mutation_response or plain JSON) the Success or the Error
 * projection shapes (fql_mutation.c), or the object's own when the field
 * returns it directly.
 */
static int
fql_compile_mutation(fql_cctx_t *c, const fql_field_t *f, fql_cfield_t *cf,
    fql_root_plan_t *rp)
{
    const char             *json;
    fql_jval_t             *args, *input;
    fql_cfield_t           *sub;
    const fql_selection_t  *s = cf->nodes->sel;

    rp->kind = FQL_RF_MUTATION;
    rp->non_null = f->type->kind == FQL_TYPE_NON_NULL;

    if (s->selections == NULL) {
        fql_error_add(c->v.errs, &s->loc, FQL_CODE_VALIDATION,
                      "Field \"%.*s\" of type \"%.*s\" must have a "
                      "selection of subfields.", fql_pstr(s->name),
                      fql_pstr(fql_tref_named(f->type)->name));
        return -1;
    }

    if (fql_coerce_arguments(&c->v, f->args, s->args, &f->name, s->loc,
                             &args) != 0)
    {
        return -1;
    }

    if (fql_collect_sub(c, f->success, cf, &sub) != 0
        || (rp->proj = fql_project(c, f->success, sub, 1)) == NULL)
    {
        return -1;
    }

    c->cost_row = c->cost_proj;

    /* returning the object itself: no Error member to shape */
    rp->direct = (f->failure == NULL);

    if (!rp->direct
        && (fql_collect_sub(c, f->failure, cf, &sub) != 0
            || (rp->proj_error = fql_project(c, f->failure, sub, 1)) == NULL))
    {
        return -1;
    }

    if (f->entity != NULL) {
        rp->entity_key = f->entity->json_key;
    }

    input = fql_jval_member(args, "input");

    if (input == NULL
        || fql_input_json(c, f->args->type, input, &json) != 0)
    {
        return input ? -1 : fql_error_nomem(c->v.errs);
    }

    fql_sql_begin(c);
    fql_sql_lit(c, "SELECT to_jsonb(r) FROM ");
    fql_sql_call(c, f);

    if (fql_input_slot(c, input, f->args->type) != 0
        || fql_sql_param(c, json) != 0)
    {
        return -1;
    }

    fql_sql_lit(c, "::jsonb");

    /* the token's claims the function takes, after the input */
    if (fql_sql_claim_args(c, f, 1) != 0) {
        return -1;
    }

    fql_sql_lit(c, ") AS r");

    return fql_sql_end(c, rp);
}


/* where, orderBy, limit and offset of a list, on top of its FROM */
static int
fql_compile_list(fql_cctx_t *c, const fql_type_t *t, const fql_selection_t *s,
    const fql_jval_t *args)
{
    int          wrote;
    const char  *p;
    fql_jval_t  *a;

    /* the schema's row filters, then the client's where within them */
    if (fql_sql_where_filtered(c, t, fql_jval_member(args, "where"), 0,
                               &wrote) != 0)
    {
        return -1;
    }

    a = fql_jval_member(args, "orderBy");
    if (a != NULL && a->kind == FQL_J_ARRAY
        && fql_sql_order_list(c, t->order_input, a) != 0)
    {
        return -1;
    }

    if (fql_sql_limit(c, s, fql_jval_member(args, "limit")) != 0) {
        return -1;
    }

    a = fql_jval_member(args, "offset");
    if (a != NULL && a->kind == FQL_J_NUMBER) {
        if (fql_offset_text(c, &s->loc, a, &p) != 0
            || fql_slot_from(c, a, FQL_SLOT_OFFSET, FQL_SCALAR_INT, 0) != 0)
        {
            return -1;
        }

        fql_sql_lit(c, " OFFSET ");

        if (fql_sql_param(c, p) != 0) {
            return -1;
        }

        fql_sql_lit(c, "::bigint");
    }

    return 0;
}


static int
fql_compile_root(fql_cctx_t *c, const fql_type_t *root, fql_cfield_t *cf,
    fql_root_plan_t *rp)
{
    fql_jval_t             *args, *a;
    fql_field_t            *f;
    fql_type_t             *t;
    fql_tref_t             *tr;
    fql_cfield_t           *sub;
    int                     wrote;
    fql_scalar_t            sc;
    const fql_selection_t  *s;
    const char             *p;

    s = cf->nodes->sel;
    rp->response_key = cf->key;
    rp->loc = s->loc;

    if (!fql_str_eqz(s->name, "__typename")
        && (fql_c_count(c, FQL_COUNT_FIELDS, 1, &s->loc) != 0
            || fql_c_count(c, FQL_COUNT_ALIASES,
                           !fql_str_eq(cf->key, s->name), &s->loc) != 0))
    {
        return -1;
    }

    if (fql_str_eqz(s->name, "__typename")
        || fql_str_eqz(s->name, "__schema") || fql_str_eqz(s->name, "__type"))
    {
        rp->kind = FQL_RF_STATIC;
        return fql_introspect_root(c, root, cf, &rp->value);
    }

    f = fql_type_field(root, s->name);
    if (f == NULL) {
        fql_error_add(c->v.errs, &s->loc, FQL_CODE_VALIDATION,
                      "Cannot query field \"%.*s\" on type \"%.*s\".",
                      fql_pstr(s->name), fql_pstr(root->name));
        return -1;
    }

    /* the rules of the field and of its type, checked for each request */
    if (fql_auth_field(c, f, 0, &s->loc) != 0) {
        return -1;
    }

    c->cost_field = f;
    c->cost_param = 0;
    c->cost_sized = 0;

    if (f->root == FQL_ROOT_FUNCTION) {
        if (fql_compile_mutation(c, f, cf, rp) != 0) {
            return -1;
        }

        fql_cost_root(c, f, s, NULL, rp);
        return 0;
    }

    tr = f->type;
    if (tr->kind == FQL_TYPE_NON_NULL) {
        rp->non_null = 1;
        tr = tr->of;
    }

    if (tr->kind == FQL_TYPE_LIST && tr->of->kind == FQL_TYPE_NON_NULL) {
        rp->items_non_null = 1;
    }

    t = fql_tref_named(tr);

    if (s->selections == NULL) {
        fql_error_add(c->v.errs, &s->loc, FQL_CODE_VALIDATION,
                      "Field \"%.*s\" of type \"%.*s\" must have a "
                      "selection of subfields. Did you mean \"%.*s { ... "
                      "}\"?", fql_pstr(s->name), fql_pstr(t->name),
                      fql_pstr(s->name));
        return -1;
    }

    if (fql_coerce_arguments(&c->v, f->args, s->args, &f->name, s->loc,
                             &args) != 0)
    {
        return -1;
    }

    if (fql_collect_sub(c, t, cf, &sub) != 0) {
        return -1;
    }

    rp->proj = fql_project(c, t, sub, 1);
    if (rp->proj == NULL) {
        return -1;
    }

    c->cost_row = c->cost_proj;

    fql_sql_begin(c);

    switch (f->root) {

    case FQL_ROOT_CONNECTION:
    case FQL_ROOT_AGGREGATE:
        /* one row: the whole page, or the aggregates, as JSON */
        rp->kind = FQL_RF_OBJECT;

        if ((f->root == FQL_ROOT_CONNECTION
             ? fql_compile_connection(c, f, cf, args, rp)
             : fql_compile_aggregate(c, f, cf, args, rp)) != 0)
        {
            return -1;
        }

        break;

    case FQL_ROOT_BY_ID:
        rp->kind = FQL_RF_OBJECT;
        a = fql_jval_member(args, "id");

        sc = fql_tref_named(f->args->type)->scalar;

        if (fql_param_text(c, sc, a, &p) != 0
            || fql_slot_from(c, a, FQL_SLOT_TEXT, sc, 0) != 0)
        {
            return -1;
        }

        fql_sql_from(c, t);
        fql_sql_lit(c, " WHERE \"id\" = ");

        if (fql_sql_param(c, p) != 0) {
            return -1;
        }

        if (t->filters != NULL) {
            fql_sql_lit(c, " AND ");

            if (fql_sql_row_filter(c, t, &wrote) != 0) {
                return -1;
            }
        }

        break;

    default:
        if (f->root == FQL_ROOT_QUERY_FN) {
            if (fql_sql_fn_from(c, f, args) != 0) {
                return -1;
            }

        } else {
            fql_sql_from(c, t);
        }

        if (f->root == FQL_ROOT_QUERY_FN && tr->kind != FQL_TYPE_LIST) {
            /* one object: the function's first row, or null */
            rp->kind = FQL_RF_OBJECT;

            if (t->filters != NULL) {
                fql_sql_lit(c, " WHERE ");

                if (fql_sql_row_filter(c, t, &wrote) != 0) {
                    return -1;
                }
            }

            fql_sql_lit(c, " LIMIT 1");
            break;
        }

        rp->kind = FQL_RF_LIST;

        if (fql_compile_list(c, t, s, args) != 0) {
            return -1;
        }
    }

    rp->uses_vector = c->uses_vector;
    c->uses_vector = 0;

    if (fql_sql_end(c, rp) != 0) {
        return -1;
    }

    fql_cost_root(c, f, s, t, rp);

    return 0;
}


static int
fql_compile_doc(fql_arena_t *a, const fql_engine_t *eng,
    const fql_document_t *doc, const fql_request_t *req, fql_plan_t **plan,
    fql_errors_t *errs, int validated)
{
    unsigned                     n;
    fql_cctx_t                  *c;
    fql_plan_t                  *pl;
    fql_type_t                  *root;
    fql_cfield_t                *fields, *cf;
    fql_root_plan_t             *rp, **tail;
    const fql_schema_t          *schema = eng->schema;
    const fql_compile_limits_t  *limits = &eng->compile;

    c = fql_calloc(a, sizeof(fql_cctx_t));
    if (c == NULL) {
        return fql_error_nomem(errs);
    }

    c->v.arena = a;
    c->v.schema = schema;
    c->v.doc = doc;
    c->v.errs = errs;
    c->limits = limits;
    c->path_steps = FQL_PATH_STEPS;
    c->claims = req->claims;
    c->caller = req->caller;
    c->needs_tail = &c->needs;
    c->static_left = limits->max_static ? limits->max_static : (size_t) -1;

    if (!validated && fql_validate_document(&c->v) != 0) {
        return -1;
    }

    c->v.op = fql_select_operation(doc, req->operation_name, errs);
    if (c->v.op == NULL) {
        return -1;
    }

    switch (c->v.op->op) {

    case FQL_OP_QUERY:
        root = schema->query;
        break;

    case FQL_OP_MUTATION:
        if (schema->mutation != NULL) {
            root = schema->mutation;
            break;
        }

        /* fall through */

    default:
        /* valid, but nothing here can run it (yet) */
        fql_error_add(errs, &c->v.op->loc, FQL_CODE_NOT_SUPPORTED,
                      "Schema is not configured to execute %s operation.",
                      c->v.op->op == FQL_OP_MUTATION ? "mutation"
                                                     : "subscription");
        return -1;
    }

    if (fql_coerce_variables(&c->v, req->variables) != 0) {
        return -1;
    }

    if (fql_collect(c, root, c->v.op->selections, &fields) != 0) {
        return -1;
    }

    /* each root field may hold a connection and an answer of its own */
    n = 0;
    for (cf = fields; cf; cf = cf->next) {
        n++;
    }

    if (limits->max_root_fields && n > limits->max_root_fields) {
        fql_error_add(errs, &c->v.op->loc, FQL_CODE_LIMIT,
                      "The operation has %u root fields, more than %u "
                      "(fraiseql_max_root_fields).", n,
                      limits->max_root_fields);
        return -1;
    }

    pl = fql_calloc(a, sizeof(fql_plan_t));
    if (pl == NULL) {
        return fql_error_nomem(c->v.errs);
    }

    pl->op = c->v.op->op;
    pl->name = c->v.op->name;
    tail = &pl->roots;

    for (cf = fields; cf; cf = cf->next, c->aroot++) {
        rp = fql_calloc(a, sizeof(fql_root_plan_t));
        if (rp == NULL) {
            return fql_error_nomem(c->v.errs);
        }

        c->aroot_key = cf->key;

        if (fql_compile_root(c, root, cf, rp) != 0) {
            /* keep validating the other fields to report every error */
            continue;
        }

        *tail = rp;
        tail = &rp->next;
        pl->nroots++;

        if (rp->kind != FQL_RF_STATIC) {
            pl->nqueries++;
        }
    }

    if (errs->count) {
        return -1;
    }

    pl->uncacheable = c->uncacheable;
    pl->per_caller = c->per_caller;
    pl->needs = c->needs;
    *plan = pl;

    return 0;
}


int
fql_compile(fql_arena_t *a, const fql_engine_t *eng,
    const fql_document_t *doc, const fql_request_t *req, fql_plan_t **plan,
    fql_errors_t *errs)
{
    return fql_compile_doc(a, eng, doc, req, plan, errs, 0);
}


int
fql_compile_validated(fql_arena_t *a, const fql_engine_t *eng,
    const fql_document_t *doc, const fql_request_t *req, fql_plan_t **plan,
    fql_errors_t *errs)
{
    return fql_compile_doc(a, eng, doc, req, plan, errs, 1);
}


/* a projection tree, deep: its keys point into the schema or document */
static fql_proj_t *
fql_proj_copy(fql_arena_t *a, const fql_proj_t *src)
{
    unsigned     i;
    fql_proj_t  *p;

    if (src == NULL) {
        return NULL;
    }

    p = fql_alloc(a, sizeof(fql_proj_t));
    if (p == NULL) {
        return NULL;
    }

    *p = *src;
    p->fields = fql_alloc(a, (src->nfields ? src->nfields : 1)
                             * sizeof(fql_proj_field_t));
    if (p->fields == NULL) {
        return NULL;
    }

    for (i = 0; i < src->nfields; i++) {
        p->fields[i] = src->fields[i];

        if (src->fields[i].sub != NULL) {
            p->fields[i].sub = fql_proj_copy(a, src->fields[i].sub);
            if (p->fields[i].sub == NULL) {
                return NULL;
            }
        }
    }

    return p;
}


static fql_root_plan_t *
fql_root_copy(fql_arena_t *a, const fql_root_plan_t *src)
{
    unsigned          i;
    char             *v;
    fql_slot_t       *sl;
    unsigned short   *path;
    fql_root_plan_t  *rp;

    rp = fql_alloc(a, sizeof(fql_root_plan_t));
    if (rp == NULL) {
        return NULL;
    }

    *rp = *src;
    rp->next = NULL;

    if (src->value.data != NULL) {
        v = fql_strndup(a, src->value.data, src->value.len);
        if (v == NULL) {
            return NULL;
        }

        rp->value.data = v;
    }

    if (src->sql != NULL) {
        rp->sql = fql_strndup(a, src->sql, src->sql_len);
        if (rp->sql == NULL) {
            return NULL;
        }
    }

    if (src->nparams) {
        rp->params = fql_alloc(a, src->nparams * sizeof(char *));
        sl = fql_alloc(a, src->nparams * sizeof(fql_slot_t));
        if (rp->params == NULL || sl == NULL) {
            return NULL;
        }

        for (i = 0; i < src->nparams; i++) {
            /* a variable's value is bound per request: not kept */
            rp->params[i] = src->params[i] == NULL
                            || src->slots[i].kind != FQL_SLOT_LITERAL
                            ? NULL
                            : fql_strndup(a, src->params[i],
                                          strlen(src->params[i]));

            if (src->params[i] != NULL
                && src->slots[i].kind == FQL_SLOT_LITERAL
                && rp->params[i] == NULL)
            {
                return NULL;
            }

            sl[i] = src->slots[i];

            if (sl[i].npath) {
                path = fql_alloc(a, sl[i].npath * sizeof(unsigned short));
                if (path == NULL) {
                    return NULL;
                }

                memcpy(path, sl[i].path, sl[i].npath * sizeof(unsigned short));
                sl[i].path = path;
            }
        }

        rp->slots = sl;
    }

    if ((src->proj && (rp->proj = fql_proj_copy(a, src->proj)) == NULL)
        || (src->proj_error
            && (rp->proj_error = fql_proj_copy(a, src->proj_error)) == NULL))
    {
        return NULL;
    }

    return rp;
}


int
fql_plan_copy(fql_arena_t *a, const fql_plan_t *src, fql_plan_t **plan)
{
    char                   *path;
    size_t                  len;
    fql_need_t             *need, **ntail;
    unsigned short         *fidx;
    const fql_need_t       *n;
    fql_plan_t             *pl;
    fql_root_plan_t       **tail;
    const fql_root_plan_t  *rp;

    pl = fql_alloc(a, sizeof(fql_plan_t));
    if (pl == NULL) {
        return -1;
    }

    *pl = *src;
    tail = &pl->roots;

    for (rp = src->roots; rp; rp = rp->next) {
        *tail = fql_root_copy(a, rp);
        if (*tail == NULL) {
            return -1;
        }

        tail = &(*tail)->next;
    }

    /* the rules met: the plan's memory, not the request's */
    ntail = (fql_need_t **) &pl->needs;

    for (n = src->needs; n; n = n->next) {
        len = strlen(n->path) + 1;
        need = fql_alloc(a, sizeof(fql_need_t));
        path = fql_alloc(a, len);
        fidx = fql_alloc(a, (n->depth ? n->depth : 1) * sizeof(*fidx));

        if (need == NULL || path == NULL || fidx == NULL) {
            return -1;
        }

        *need = *n;
        memcpy(path, n->path, len);
        memcpy(fidx, n->fidx, n->depth * sizeof(*fidx));
        need->path = path;
        need->fidx = fidx;
        *ntail = need;
        ntail = &need->next;
    }

    *ntail = NULL;
    *plan = pl;

    return 0;
}


int
fql_plan_bind(fql_arena_t *a, const fql_plan_t *tmpl, const fql_jval_t *vars,
    const fql_request_t *req, const fql_compile_limits_t *limits,
    fql_plan_t **plan, fql_errors_t *errs)
{
    unsigned                i;
    fql_cctx_t              c;
    fql_plan_t             *pl;
    const char            **params;
    fql_root_plan_t        *rp, **tail;
    const fql_root_plan_t  *t;

    memset(&c, 0, sizeof(c));
    c.v.arena = a;
    c.v.errs = errs;
    c.limits = limits;
    c.claims = req->claims;
    c.caller = req->caller;

    pl = fql_alloc(a, sizeof(fql_plan_t));
    if (pl == NULL) {
        return fql_error_nomem(c.v.errs);
    }

    *pl = *tmpl;
    tail = &pl->roots;

    for (t = tmpl->roots; t; t = t->next) {
        rp = fql_alloc(a, sizeof(fql_root_plan_t));
        if (rp == NULL) {
            return fql_error_nomem(c.v.errs);
        }

        *rp = *t;

        for (i = 0; i < t->nparams; i++) {
            if (t->slots[i].kind != FQL_SLOT_LITERAL) {
                break;
            }
        }

        /* literals only: the template's parameters serve as they are */
        if (i < t->nparams) {
            params = fql_alloc(a, t->nparams * sizeof(char *));
            if (params == NULL) {
                return fql_error_nomem(c.v.errs);
            }

            for (i = 0; i < t->nparams; i++) {
                if (t->slots[i].kind == FQL_SLOT_LITERAL) {
                    params[i] = t->params[i];

                } else if (fql_bind_slot(&c, t, &t->slots[i], vars,
                                         &params[i]) != 0)
                {
                    return -1;
                }
            }

            rp->params = params;
        }

        *tail = rp;
        tail = &rp->next;
    }

    *tail = NULL;
    *plan = pl;

    return 0;
}
