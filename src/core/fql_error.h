/*
 * GraphQL errors collected while a request is parsed, validated, compiled
 * and executed; rendered as the response's "errors" list.
 */

#ifndef FQL_ERROR_H
#define FQL_ERROR_H

#include <stdarg.h>

#include "fql_ast.h"
#include "fql_json.h"


/* extensions.code values */
#define FQL_CODE_BAD_REQUEST      "BAD_REQUEST"
#define FQL_CODE_PARSE            "GRAPHQL_PARSE_FAILED"
#define FQL_CODE_VALIDATION       "GRAPHQL_VALIDATION_FAILED"
#define FQL_CODE_BAD_INPUT        "BAD_USER_INPUT"
#define FQL_CODE_INTERNAL         "INTERNAL_SERVER_ERROR"
#define FQL_CODE_DATABASE         "DATABASE_ERROR"
#define FQL_CODE_UNAVAILABLE      "DATABASE_UNAVAILABLE"
#define FQL_CODE_RESULT           "RESULT_COERCION_FAILED"
#define FQL_CODE_NOT_SUPPORTED    "OPERATION_NOT_SUPPORTED"
#define FQL_CODE_LIMIT            "LIMIT_EXCEEDED"
#define FQL_CODE_COST_LIMIT       "COST_LIMIT_EXCEEDED"
#define FQL_CODE_RATE_LIMITED     "RATE_LIMITED"
#define FQL_CODE_PERSISTED_NOT_FOUND      "PERSISTED_QUERY_NOT_FOUND"
#define FQL_CODE_PERSISTED_NOT_SUPPORTED  "PERSISTED_QUERY_NOT_SUPPORTED"
#define FQL_CODE_PERSISTED_MISMATCH       "PERSISTED_QUERY_SHA_MISMATCH"
#define FQL_CODE_TRUSTED_REQUIRED         "TRUSTED_DOCUMENT_REQUIRED"
#define FQL_CODE_UNAUTHENTICATED  "UNAUTHENTICATED"
#define FQL_CODE_FORBIDDEN        "FORBIDDEN"
#define FQL_CODE_AUTH_UNAVAILABLE "AUTHENTICATION_UNAVAILABLE"

/* errors listed in one answer, as graphql-js stops at; then one more */
#define FQL_ERRORS_MAX  100


typedef struct fql_error_s  fql_error_t;

struct fql_error_s {
    char         *message;
    fql_loc_t     loc;          /* line 0: no location */
    const char   *code;
    char         *path_json;    /* pre-rendered JSON array, or NULL */
    fql_error_t  *next;
};

typedef struct fql_errors_s  fql_errors_t;

struct fql_errors_s {
    fql_arena_t   *arena;
    fql_error_t   *head;
    fql_error_t  **tail;
    unsigned       count;       /* listed, "Too many errors" included */
    fql_error_t    sink;        /* what an error past the end becomes */
};

/* the list is closed: "Too many errors" is its last */
#define fql_errors_full(e)  ((e)->count > FQL_ERRORS_MAX)


void fql_errors_init(fql_errors_t *e, fql_arena_t *a);

/*
 * Adds an error; loc may be NULL; returns the error or NULL (no memory).
 * The FQL_ERRORS_MAX + 1st closes the list with "Too many errors"; from
 * then on errors are dropped (a scratch error is returned): a document
 * cannot make an answer many times its own size.
 */
fql_error_t *fql_error_add(fql_errors_t *e, const fql_loc_t *loc,
    const char *code, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 4, 5)))
#endif
    ;

/* adds the out-of-memory error (no location, INTERNAL); returns -1 */
int fql_error_nomem(fql_errors_t *e);

/* writes `"errors":[...]` (without braces around it) */
int fql_errors_write(const fql_errors_t *e, fql_wbuf_t *w);

/* writes one error object */
int fql_error_write(const fql_error_t *err, fql_wbuf_t *w);

#endif /* FQL_ERROR_H */
