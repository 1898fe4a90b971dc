/*
 * libFuzzer target: Content-Type and Accept header values as clients
 * send them, read by fql_media_is and fql_accept_graphql_response: no
 * read past the value, and answers that do not depend on what follows.
 */

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "fql_request.h"


int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char  *copy;
    int    a, b;

    /* exactly size bytes: ASan sees any read past them */
    copy = malloc(size ? size : 1);
    if (copy == NULL) {
        return 0;
    }

    memcpy(copy, data, size);

    a = fql_accept_graphql_response(copy, size);
    b = fql_media_is(copy, size, "application/json");

    /* the same value with anything after its end reads the same */
    if (size < 4096) {
        char  *longer = malloc(size + 16);

        if (longer != NULL) {
            memcpy(longer, data, size);
            memset(longer + size, ',', 16);

            if (fql_media_is(longer, size, "application/json") != b
                || fql_accept_graphql_response(longer, size) != a)
            {
                abort();
            }

            free(longer);
        }
    }

    free(copy);

    return 0;
}
