/*
 * Static validation of a whole document: the rules of the spec's section
 * 5, run once per document (a cached document is not validated again).
 */

#ifndef FQL_VALIDATE_H
#define FQL_VALIDATE_H

#include "fql_coerce.h"


/*
 * Every validation rule of the spec's section 5 over the whole document:
 * all operations and fragments, whatever operationName and the variables
 * say.  Returns 0, or -1 with errors added.
 */
int fql_validate_document(fql_vctx_t *v);

#endif /* FQL_VALIDATE_H */
