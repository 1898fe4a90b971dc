/*
 * libFuzzer target: any bytes as a traceparent header.  What is passed on
 * is always a valid version-00 traceparent; a valid input keeps its trace
 * id and flags; the check never reads past the input.
 */

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "fql_trace.h"


int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    int                   valid, continued;
    char                 *in, out[FQL_TRACEPARENT_LEN + 1];
    static const unsigned char  rnd[24] = {
        1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16,
        17, 18, 19, 20, 21, 22, 23, 24
    };

    /* an exact copy: AddressSanitizer sees a read past its end */
    in = malloc(size ? size : 1);
    if (in == NULL) {
        return 0;
    }

    memcpy(in, data, size);

    valid = fql_traceparent_valid(in, size);
    continued = fql_traceparent_child(in, size, rnd, out);

    if (valid != continued
        || strlen(out) != FQL_TRACEPARENT_LEN
        || !fql_traceparent_valid(out, FQL_TRACEPARENT_LEN)
        || out[0] != '0' || out[1] != '0'
        || (valid && (memcmp(out + 3, in + 3, 32) != 0
                      || memcmp(out + 53, in + 53, 2) != 0)))
    {
        abort();
    }

    free(in);

    return 0;
}
