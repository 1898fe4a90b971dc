/*
 * Byte strings that are not necessarily NUL-terminated: comparison,
 * copies into an arena, hashing.
 */

#ifndef FQL_STR_H
#define FQL_STR_H

#include <stdint.h>

#include "fql_arena.h"


/* a byte string that is not necessarily NUL-terminated */
typedef struct {
    const char  *data;
    size_t       len;
} fql_str_t;

#define fql_str_lit(s)  { s, sizeof(s) - 1 }

/* a fql_str_t for printf's "%.*s" */
#define fql_pstr(s)  (int) (s).len, (s).data

char *fql_strndup(fql_arena_t *a, const char *s, size_t len);
int fql_str_eq(fql_str_t a, fql_str_t b);
int fql_str_eqz(fql_str_t a, const char *z);

/* base64url's alphabet: a character's six bits, or 64 */
extern const unsigned char  fql_b64url_bits[256];

/*
 * Decodes base64url without padding into out (room for in.len * 3 / 4
 * + 1 bytes; the bytes are NUL-ended); -1: not such an encoding.
 */
int fql_b64url_decode(fql_str_t in, char *out, size_t *len);

/* FNV-1a, 64 bits */
uint64_t fql_hash(const char *s, size_t len);

#endif /* FQL_STR_H */
