/*
 * The scalar types: every fact about one (its name, PostgreSQL type,
 * input format, how values are coerced in and written out) is a row of
 * fql_scalars[].  Adding a scalar is adding a row there.
 */

#ifndef FQL_SCALAR_H
#define FQL_SCALAR_H

#include "fql_str.h"


/* in the order the schema lists the built-in scalars */
typedef enum {
    FQL_SCALAR_STRING = 0,
    FQL_SCALAR_INT,          /* 32-bit */
    FQL_SCALAR_FLOAT,
    FQL_SCALAR_BOOLEAN,
    FQL_SCALAR_ID,
    FQL_SCALAR_DATETIME,     /* strings */
    FQL_SCALAR_DATE,
    FQL_SCALAR_UUID,
    FQL_SCALAR_JSON,         /* any JSON value, copied as is */
    FQL_SCALAR_DECIMAL,      /* numeric: copied as is */
    FQL_SCALAR_IPADDRESS,    /* strings: inet, macaddr, ltree, daterange, */
    FQL_SCALAR_MACADDRESS,   /* tsvector */
    FQL_SCALAR_LTREE,
    FQL_SCALAR_DATERANGE,
    FQL_SCALAR_TSVECTOR,
    FQL_SCALAR_VECTOR,       /* pgvector: a list of numbers, copied as is */
    FQL_SCALAR_POINT,        /* copied as is */
    FQL_SCALAR_ENUM,         /* a string; not a type of its own */
    FQL_SCALAR_N
} fql_scalar_t;

/* how values are coerced, as input (in) and as results (out) */
typedef enum {
    FQL_SC_STRING = 0,       /* a string, its format checked */
    FQL_SC_INT,
    FQL_SC_FLOAT,
    FQL_SC_BOOLEAN,
    FQL_SC_ID,
    FQL_SC_DECIMAL,          /* a number, or a string that is one */
    FQL_SC_RAW               /* JSON kept as it is */
} fql_scalar_class_t;

typedef struct {
    const char     *name;
    const char     *description;   /* NULL: no built-in type */
    const char     *cast;          /* PostgreSQL type; NULL: text as is */
    const char     *input;         /* a valid input, for error messages */
    int           (*check)(const fql_str_t *s);   /* NULL: any string */
    unsigned char   in;            /* fql_scalar_class_t */
    unsigned char   out;
} fql_scalar_info_t;


/* indexed by fql_scalar_t */
extern const fql_scalar_info_t  fql_scalars[FQL_SCALAR_N];

#endif /* FQL_SCALAR_H */
