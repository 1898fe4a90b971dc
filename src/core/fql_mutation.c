/*
 * A mutation function's answer to the GraphQL result: FraiseQL's status
 * taxonomy picks the Success or the Error member of the result union, and
 * the row is given the keys their fields read (the entity under the
 * entity field's name; code, identifier and errors for the Error type).
 */

#include <stdio.h>
#include <strings.h>

#include "fql_mutation.h"


static const char  *fql_success_statuses[] = {
    "success", "created", "new", "updated", "deleted", "completed", "ok",
    NULL
};

/* the error classes: the union's code, a direct field's extensions.code */
static const struct {
    const char  *prefix;
    int          code;
    const char  *name;
} fql_error_statuses[] = {
    { "validation", 422, "VALIDATION" },
    { "noop", 422, "NOOP" },
    { "not_found", 404, "NOT_FOUND" },
    { "conflict", 409, "CONFLICT" },
    { "unauthorized", 401, "UNAUTHORIZED" },
    { "forbidden", 403, "FORBIDDEN" },
    { "timeout", 408, "TIMEOUT" },
    { "failed", 500, "FAILED" },
    { NULL, 0, NULL }
};

#define FQL_FAILED  "FAILED"

static const fql_str_t  fql_answered_null =
    fql_str_lit("The mutation's function answered NULL");
static const fql_str_t  fql_answered_no_status =
    fql_str_lit("The mutation's function answered no status");
static const fql_str_t  fql_answered_empty_status =
    fql_str_lit("The mutation's function answered an empty status");


int
fql_mutation_status(fql_str_t status, int *code, fql_str_t *identifier)
{
    const char  *name;

    return fql_mutation_class(status, code, identifier, &name);
}


int
fql_mutation_class(fql_str_t status, int *code, fql_str_t *identifier,
    const char **name)
{
    size_t       i, n;
    const char  *colon;

    colon = memchr(status.data, ':', status.len);
    n = colon ? (size_t) (colon - status.data) : status.len;

    identifier->data = NULL;
    identifier->len = 0;

    if (colon != NULL && (size_t) (colon - status.data) + 1 < status.len) {
        identifier->data = colon + 1;
        identifier->len = status.len - n - 1;
    }

    for (i = 0; fql_success_statuses[i]; i++) {
        if (strlen(fql_success_statuses[i]) == n
            && strncasecmp(status.data, fql_success_statuses[i], n) == 0)
        {
            *code = 200;
            *name = NULL;
            return 1;
        }
    }

    for (i = 0; fql_error_statuses[i].prefix; i++) {
        if (strlen(fql_error_statuses[i].prefix) == n
            && strncasecmp(status.data, fql_error_statuses[i].prefix, n) == 0)
        {
            *code = fql_error_statuses[i].code;
            *name = fql_error_statuses[i].name;
            return 0;
        }
    }

    /* a status nobody knows is a failure, named by itself */
    *code = 500;
    *name = FQL_FAILED;
    *identifier = status;

    return 0;
}


static int
fql_member(fql_wbuf_t *w, int *first, const char *key, size_t len)
{
    if (!*first && fql_wbuf_putc(w, ',') != 0) {
        return -1;
    }

    *first = 0;

    return fql_json_string(w, key, len) != 0 || fql_wbuf_putc(w, ':') != 0
           ? -1 : 0;
}


int
fql_mutation_row(const fql_root_plan_t *rp, fql_arena_t *a, const char *row,
    size_t len, const fql_proj_t **proj, fql_heapbuf_t *out)
{
    int                first, code, success;
    char               num[16];
    fql_str_t          ident;
    fql_jval_t        *j, *status, *meta, *errors, *entity;
    fql_errors_t       errs;
    const fql_jval_t  *it;
    fql_wbuf_t        *w = &out->w;

    fql_errors_init(&errs, a);

    /* SQL NULL: the function did not do what it was asked, as a NULL status */
    if (row == NULL) {
        row = "{\"status\": null}";
        len = strlen(row);
    }

    j = fql_json_parse(a, row, len, &errs);
    if (j == NULL || j->kind != FQL_J_OBJECT) {
        return -1;
    }

    status = fql_jval_member(j, "status");
    code = 200;
    ident.data = NULL;
    ident.len = 0;

    if (status == NULL) {
        /* plain JSON without a status: a success, the object its entity */
        success = 1;
        entity = j;

    } else if (status->kind != FQL_J_STRING) {
        /* a NULL row or status says nothing happened as asked */
        success = 0;
        code = 500;
        entity = NULL;

    } else {
        success = fql_mutation_status(status->str, &code, &ident);
        entity = fql_jval_member(j, "entity");
    }

    *proj = success ? rp->proj : rp->proj_error;
    first = 1;

    if (fql_wbuf_putc(w, '{') != 0) {
        return -1;
    }

    /* the function's own keys, but those the answer sets */
    if (status != NULL) {
        for (it = j->items; it; it = it->next) {
            if (fql_str_eq(it->key, rp->entity_key)
                || (!success && (fql_str_eqz(it->key, "code")
                                 || fql_str_eqz(it->key, "identifier")
                                 || fql_str_eqz(it->key, "errors"))))
            {
                continue;
            }

            if (fql_member(w, &first, it->key.data, it->key.len) != 0
                || fql_jval_write(w, it) != 0)
            {
                return -1;
            }
        }
    }

    if (success) {
        if (rp->entity_key.len
            && (fql_member(w, &first, rp->entity_key.data,
                           rp->entity_key.len) != 0
                || (entity ? fql_jval_write(w, entity)
                           : fql_wbuf_lit(w, "null")) != 0))
        {
            return -1;
        }

        return fql_wbuf_putc(w, '}');
    }

    meta = fql_jval_member(j, "metadata");
    errors = meta && meta->kind == FQL_J_OBJECT
             ? fql_jval_member(meta, "errors") : NULL;

    snprintf(num, sizeof(num), "%d", code);

    if (fql_member(w, &first, "code", 4) != 0
        || fql_wbuf_put(w, num, strlen(num)) != 0
        || fql_member(w, &first, "identifier", 10) != 0
        || (ident.data ? fql_json_string(w, ident.data, ident.len)
                       : fql_wbuf_lit(w, "null")) != 0
        || fql_member(w, &first, "errors", 6) != 0
        || (errors && errors->kind == FQL_J_ARRAY
            ? fql_jval_write(w, errors) : fql_wbuf_lit(w, "[]")) != 0)
    {
        return -1;
    }

    return fql_wbuf_putc(w, '}');
}


int
fql_mutation_object(fql_arena_t *a, const char *row, size_t len,
    fql_mutation_result_t *res, fql_heapbuf_t *out)
{
    int            code;
    fql_str_t      ident;
    fql_jval_t    *j, *status, *message, *entity;
    fql_errors_t   errs;

    fql_errors_init(&errs, a);

    res->code = NULL;
    res->message.data = NULL;
    res->message.len = 0;

    /* SQL NULL: nothing says what happened, as a NULL status */
    if (row == NULL) {
        res->code = FQL_CODE_INTERNAL;
        res->message = fql_answered_null;
        return 0;
    }

    j = fql_json_parse(a, row, len, &errs);
    if (j == NULL || j->kind != FQL_J_OBJECT) {
        return -1;
    }

    status = fql_jval_member(j, "status");

    if (status == NULL) {
        /* plain JSON without a status: the object is the entity */
        entity = j;

    } else if (status->kind != FQL_J_STRING) {
        res->code = FQL_CODE_INTERNAL;
        res->message = fql_answered_no_status;
        return 0;

    } else if (fql_mutation_class(status->str, &code, &ident, &res->code)
               == 0)
    {
        /* the function's message, or else its status, says what failed */
        message = fql_jval_member(j, "message");
        res->message = message && message->kind == FQL_J_STRING
                       && message->str.len ? message->str : status->str;

        if (res->message.len == 0) {
            res->message = fql_answered_empty_status;
        }

        return 0;

    } else {
        entity = fql_jval_member(j, "entity");
    }

    /* a success without an entity (a delete, say) is a null object */
    if (entity == NULL || entity->kind == FQL_J_NULL) {
        return 0;
    }

    return entity->kind == FQL_J_OBJECT ? fql_jval_write(&out->w, entity) : -1;
}
