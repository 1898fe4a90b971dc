#include <stdio.h>
#include <string.h>

#include "fql_error.h"


void
fql_errors_init(fql_errors_t *e, fql_arena_t *a)
{
    e->arena = a;
    e->head = NULL;
    e->tail = &e->head;
    e->count = 0;
}


fql_error_t *
fql_error_add(fql_errors_t *e, const fql_loc_t *loc, const char *code,
    const char *fmt, ...)
{
    int           n;
    char          buf[512];
    va_list       args;
    fql_error_t  *err;

    if (fql_errors_full(e)) {
        memset(&e->sink, 0, sizeof(fql_error_t));
        return &e->sink;
    }

    if (e->count == FQL_ERRORS_MAX) {
        loc = NULL;
        n = snprintf(buf, sizeof(buf), "Too many errors: the first %d are "
                     "listed.", FQL_ERRORS_MAX);

    } else {
        va_start(args, fmt);
        n = vsnprintf(buf, sizeof(buf), fmt, args);
        va_end(args);
    }

    if (n < 0) {
        return NULL;
    }

    if ((size_t) n >= sizeof(buf)) {
        n = sizeof(buf) - 1;
    }

    err = fql_calloc(e->arena, sizeof(fql_error_t));
    if (err == NULL) {
        return NULL;
    }

    err->message = fql_strndup(e->arena, buf, n);
    if (err->message == NULL) {
        return NULL;
    }

    if (loc != NULL) {
        err->loc = *loc;
    }

    err->code = code;

    *e->tail = err;
    e->tail = &err->next;
    e->count++;

    if (fql_errors_full(e)) {
        memset(&e->sink, 0, sizeof(fql_error_t));
        return &e->sink;
    }

    return err;
}


int
fql_error_nomem(fql_errors_t *e)
{
    fql_error_add(e, NULL, FQL_CODE_INTERNAL, FQL_NOMEM);
    return -1;
}


int
fql_error_write(const fql_error_t *err, fql_wbuf_t *w)
{
    char  buf[64];
    int   n;

    if (fql_wbuf_lit(w, "{\"message\":") != 0
        || fql_json_string(w, err->message, strlen(err->message)) != 0)
    {
        return -1;
    }

    if (err->loc.line) {
        n = snprintf(buf, sizeof(buf),
                     ",\"locations\":[{\"line\":%u,\"column\":%u}]",
                     err->loc.line, err->loc.column);
        if (fql_wbuf_put(w, buf, n) != 0) {
            return -1;
        }
    }

    if (err->path_json != NULL) {
        if (fql_wbuf_lit(w, ",\"path\":") != 0
            || fql_wbuf_put(w, err->path_json, strlen(err->path_json)) != 0)
        {
            return -1;
        }
    }

    if (err->code != NULL) {
        if (fql_wbuf_lit(w, ",\"extensions\":{\"code\":") != 0
            || fql_json_string(w, err->code, strlen(err->code)) != 0
            || fql_wbuf_putc(w, '}') != 0)
        {
            return -1;
        }
    }

    return fql_wbuf_putc(w, '}');
}


int
fql_errors_write(const fql_errors_t *e, fql_wbuf_t *w)
{
    const fql_error_t  *err;

    if (fql_wbuf_lit(w, "\"errors\":[") != 0) {
        return -1;
    }

    for (err = e->head; err; err = err->next) {
        if (err != e->head && fql_wbuf_putc(w, ',') != 0) {
            return -1;
        }

        if (fql_error_write(err, w) != 0) {
            return -1;
        }
    }

    return fql_wbuf_putc(w, ']');
}
