/*
 * GraphQL-over-HTTP request parameters (query, operationName, variables,
 * extensions) from a JSON body or GET parameters, and media types.
 */

#ifndef FQL_REQUEST_H
#define FQL_REQUEST_H

#include "fql_error.h"
#include "fql_json.h"


typedef struct {
    fql_str_t      query;           /* data NULL: absent */
    fql_str_t      operation_name;  /* data NULL: absent or null */
    fql_jval_t    *variables;       /* NULL: absent or null */
    fql_jval_t    *extensions;
    /* a persisted document named, instead of the query or with it:
     * documentId (GraphQL over HTTP, Appendix A), or the SHA-256 of
     * extensions.persistedQuery (Apollo's APQ) */
    fql_str_t      document_id;     /* data NULL: none */
    unsigned char  hash[32];
    unsigned       has_hash:1;
    /* the verified token's claims (an object; NULL: none), set by the
     * server: what @fromClaim arguments are bound from */
    const fql_jval_t  *claims;
    /* who asks, for authorization (NULL: no rules apply) */
    const struct fql_caller_s  *caller;
} fql_request_t;


/* the request body: an object with query, operationName, variables... */
int fql_request_from_json(fql_arena_t *a, const char *body, size_t len,
    fql_request_t *req, fql_errors_t *errs);

/* a request of a batch: one object of the body's array */
int fql_request_from_jval(fql_jval_t *obj, fql_request_t *req,
    fql_errors_t *errs);

/*
 * GET parameters, already percent-decoded; variables and extensions are
 * JSON text (data NULL when absent).
 */
int fql_request_from_params(fql_arena_t *a, fql_str_t query,
    fql_str_t operation_name, fql_str_t variables, fql_str_t extensions,
    fql_str_t document_id, fql_request_t *req, fql_errors_t *errs);

/*
 * Whether a Content-Type (or a media range of Accept) names type: the
 * whole type/subtype, case-insensitive, then nothing, white space or
 * parameters (application/jsonx is another type).
 */
int fql_media_is(const char *p, size_t len, const char *type);

/* the q of an Accept media range (p to end), 0..1000 */
unsigned fql_accept_q(const char *p, const char *end);

/*
 * Whether an Accept header prefers application/graphql-response+json to
 * application/json (GraphQL over HTTP), read as RFC 9110 says: each type
 * takes the q of the most specific range that matches it, q=0 refuses
 * it; between equals, the one listed first; with only wildcards, the
 * classic type.
 */
int fql_accept_graphql_response(const char *p, size_t len);

#endif /* FQL_REQUEST_H */
