/*
 * JSON in and out.  In: JSON text (variables, extensions, a request body)
 * read with yajl's event parser into arena trees, so that depth is bounded
 * and nothing needs freeing.  Out: an append-only write buffer whose owner
 * decides where bytes go (a growing heap buffer in tests, nginx buffer
 * chains in the module), and writers for GraphQL responses.
 */

#ifndef FQL_JSON_H
#define FQL_JSON_H

#include <string.h>

#include "fql_str.h"


typedef struct fql_wbuf_s  fql_wbuf_t;

struct fql_wbuf_s {
    char   *pos;
    char   *end;
    /*
     * Makes at least `need` bytes available between pos and end (may move
     * pos/end to fresh memory after handing off what was written).
     * Returns 0, or -1 when out of memory.
     */
    int   (*reserve)(fql_wbuf_t *w, size_t need);
    void   *ctx;
};

static inline int
fql_wbuf_put(fql_wbuf_t *w, const void *p, size_t n)
{
    if ((size_t) (w->end - w->pos) < n && w->reserve(w, n) != 0) {
        return -1;
    }

    memcpy(w->pos, p, n);
    w->pos += n;
    return 0;
}

static inline int
fql_wbuf_putc(fql_wbuf_t *w, char c)
{
    if (w->pos == w->end && w->reserve(w, 1) != 0) {
        return -1;
    }

    *w->pos++ = c;
    return 0;
}

#define fql_wbuf_lit(w, s)  fql_wbuf_put(w, s, sizeof(s) - 1)

/* writes s as a JSON string with quotes; invalid UTF-8 becomes U+FFFD */
int fql_json_string(fql_wbuf_t *w, const char *s, size_t len);

/* a heap-backed wbuf (tests, fuzzers, error bodies built off the path) */
typedef struct {
    fql_wbuf_t   w;
    char        *data;
    size_t       cap;
} fql_heapbuf_t;

void fql_heapbuf_init(fql_heapbuf_t *hb);
size_t fql_heapbuf_len(const fql_heapbuf_t *hb);
void fql_heapbuf_free(fql_heapbuf_t *hb);

typedef struct fql_errors_s  fql_errors_t;

typedef enum {
    FQL_J_NULL = 0,
    FQL_J_BOOL,
    FQL_J_NUMBER,
    FQL_J_STRING,
    FQL_J_ARRAY,
    FQL_J_OBJECT
} fql_jkind_t;

typedef struct fql_jval_s  fql_jval_t;

struct fql_jval_s {
    fql_jkind_t    kind;
    int            boolean;
    fql_str_t      str;       /* NUMBER: lexeme; STRING: value (NUL-ended) */
    fql_str_t      key;       /* member name inside an OBJECT */
    fql_jval_t    *items;     /* ARRAY elements, OBJECT members */
    unsigned       count;
    fql_jval_t    *next;
    /* a use of a coerced variable's value (or one of its items): that
     * coerced node, for a cached plan's parameters (fql_var_ref) */
    const fql_jval_t  *var_src;
};


#define FQL_JSON_MAX_DEPTH  128

/* parses JSON text; returns NULL and adds a BAD_REQUEST error if invalid */
fql_jval_t *fql_json_parse(fql_arena_t *a, const char *text, size_t len,
    fql_errors_t *errs);

fql_jval_t *fql_jval_member(const fql_jval_t *obj, const char *name);

/* writes a value as compact JSON text, members in their order */
int fql_jval_write(fql_wbuf_t *w, const fql_jval_t *j);

/*
 * 1: no object in the tree has two members of one name; 0: one has;
 * -1: no memory.  The parser keeps duplicates, and readers disagree on
 * which one counts (first, last, both): where a value decides something,
 * such as a token's claims, a duplicate is refused rather than guessed.
 */
int fql_json_unique_keys(fql_arena_t *a, const fql_jval_t *j);

/* RFC 6901: "" or "/"-separated tokens with ~0 and ~1 only as escapes */
int fql_json_pointer_valid(fql_str_t pointer);

/*
 * The value an RFC 6901 JSON Pointer selects ("/role",
 * "/https:~1~1example.com~1claims/role", "/roles/0"), or NULL: no such
 * member or element, or not a pointer.  The first of duplicate members.
 */
const fql_jval_t *fql_json_pointer(const fql_jval_t *root,
    fql_str_t pointer);

#endif /* FQL_JSON_H */
