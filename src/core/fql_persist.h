/*
 * Persisted documents: the ids requests name them by (an APQ hash, a
 * GraphQL-over-HTTP documentId), and manifests of trusted documents
 * (Apollo's persisted-query manifest, or a flat {"id": "document"} map),
 * each document checked against the schema when the manifest is read.
 */

#ifndef FQL_PERSIST_H
#define FQL_PERSIST_H

#include "fql_compile.h"


#define FQL_SHA256_LEN  32

/* one document of a manifest; id: a SHA-256 as 64 lower-case hex digits,
 * or as the manifest spells another kind (Relay's MD5...) */
typedef struct {
    fql_str_t        id;
    fql_str_t        body;
    fql_str_t        name;          /* len 0: none given */
} fql_manifest_doc_t;

typedef struct {
    fql_manifest_doc_t  *docs;      /* sorted by id */
    unsigned             n;
} fql_manifest_t;


/* SHA-256 of the text, as bytes and as 64 lower-case hex digits + NUL */
void fql_sha256(const char *text, size_t len,
    unsigned char hash[FQL_SHA256_LEN]);
void fql_sha256_hex(const unsigned char hash[FQL_SHA256_LEN], char *hex);

/*
 * A document's id as a manifest keys it: "sha256:<hex>" and bare 64-hex
 * ids become lower-case hex (*sha 1, hash filled); others stay as they
 * are (*sha 0).  Returns -1 for an empty or over-long id.
 */
int fql_document_id(fql_str_t id, char *out, size_t outlen, size_t *len,
    unsigned char hash[FQL_SHA256_LEN], int *sha);

/*
 * Reads a manifest: Apollo's {"format": "apollo-persisted-query-manifest",
 * "version": 1, "operations": [{"id", "body", "name", "type"}]} or a flat
 * {"sha256:<hex>": "document"} map.  A SHA-256 id must be the body's
 * hash.  Returns 0, or -1 with a message (naming the entry) in err.
 */
int fql_manifest_read(fql_arena_t *a, const char *text, size_t len,
    fql_manifest_t **m, char *err, size_t errlen);

/*
 * Every document parsed and validated against the schema: 0, or -1 with
 * the first error, naming the document, in err.
 */
int fql_manifest_check(const fql_manifest_t *m, const fql_engine_t *eng,
    char *err, size_t errlen);

/* the document of an id (as fql_document_id writes it), or NULL */
const fql_manifest_doc_t *fql_manifest_find(const fql_manifest_t *m,
    const char *id, size_t len);

#endif /* FQL_PERSIST_H */
