/*
 * libFuzzer target: a trusted-documents manifest (Apollo's persisted-query
 * manifest or a flat map) through fql_manifest_read, every document it
 * accepts through fql_manifest_check against a small schema, each found
 * again by its id; and the input as a documentId, normalized twice to
 * the same id.
 */

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "fql_persist.h"


static const char  sdl[] =
    "type Thing @view(name: \"v_thing\") { id: ID! name: String }\n"
    "type Query { thing(id: ID!): Thing\n"
    "  things(limit: Int): [Thing!]! }\n";

static fql_arena_t   *schema_arena;
static fql_schema_t  *schema;


int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    int                  sha, sha2;
    char                 err[256], id[257], id2[257];
    size_t               len, len2;
    unsigned             i;
    fql_str_t            s;
    fql_arena_t         *a;
    fql_engine_t         eng;
    fql_manifest_t      *m;
    fql_parse_error_t    perr;
    unsigned char        h[FQL_SHA256_LEN], h2[FQL_SHA256_LEN];

    if (schema == NULL) {
        schema_arena = fql_arena_heap_create();
        if (fql_schema_build(schema_arena, sdl, sizeof(sdl) - 1, &schema,
                             &perr) != 0)
        {
            abort();
        }
    }

    a = fql_arena_heap_create();

    if (fql_manifest_read(a, (const char *) data, size, &m, err,
                          sizeof(err)) == 0)
    {
        memset(&eng, 0, sizeof(eng));
        eng.schema = schema;
        eng.parse.max_tokens = 15000;

        (void) fql_manifest_check(m, &eng, err, sizeof(err));

        for (i = 0; i < m->n; i++) {
            if (fql_manifest_find(m, m->docs[i].id.data, m->docs[i].id.len)
                != &m->docs[i])
            {
                abort();
            }
        }
    }

    /* as a documentId: its normal form is its own normal form */
    s.data = (char *) data;
    s.len = size;

    if (fql_document_id(s, id, sizeof(id), &len, h, &sha) == 0) {
        s.data = id;
        s.len = len;

        if (fql_document_id(s, id2, sizeof(id2), &len2, h2, &sha2) != 0
            || len2 != len || memcmp(id, id2, len) != 0 || sha2 != sha
            || (sha && memcmp(h, h2, sizeof(h)) != 0))
        {
            abort();
        }
    }

    fql_arena_heap_destroy(a);

    return 0;
}
