/*
 * JSON writer: string escaping and the heap-backed write buffer.
 */

#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>

#include "fql_json.h"
#include "fql_jscan.h"


#define FQL_HEAPBUF_MIN  256


/* 1: a byte copied into a JSON string as is (printable ASCII) */
static const u_char  fql_json_plain[256] = {
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,     /* 0x00 */
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,     /* 0x10 */
    1, 1, 0, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1,     /* 0x20 '"' */
    1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1,     /* 0x30 */
    1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1,     /* 0x40 */
    1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 0, 1, 1, 1,     /* 0x50 '\' */
    1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1,     /* 0x60 */
    1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1,     /* 0x70 */
};


int
fql_json_string(fql_wbuf_t *w, const char *s, size_t len)
{
    static const char  hex[] = "0123456789abcdef";

    const u_char  *p, *q, *end;
    uint64_t       v;
    u_char         c;
    char           esc[6];
    int            n;

    p = (const u_char *) s;
    end = p + len;

    if (fql_wbuf_putc(w, '"') != 0) {
        return -1;
    }

    q = p;

    for ( ;; ) {
        /* p..q is the pending run of bytes copied as is */

        /* 8 plain bytes at a time, then one by one */

        while (end - q >= 8) {
            memcpy(&v, q, 8);

            if (fql_special8(v)) {
                break;
            }

            q += 8;
        }

        while (q < end && fql_json_plain[*q]) {
            q++;
        }

        if (q < end && *q >= 0x80) {
            n = fql_utf8_seq(q, end);

            if (n > 0) {
                q += n;
                continue;
            }

        } else {
            n = 0;
        }

        if (q > p && fql_wbuf_put(w, p, q - p) != 0) {
            return -1;
        }

        if (q == end) {
            break;
        }

        if (n < 0) {
            if (fql_wbuf_lit(w, "\xef\xbf\xbd") != 0) {
                return -1;
            }

            q += -n;
            p = q;
            continue;
        }

        c = *q++;
        p = q;

        esc[0] = '\\';

        switch (c) {
        case '"':
        case '\\':
            esc[1] = c;
            break;
        case '\b':
            esc[1] = 'b';
            break;
        case '\f':
            esc[1] = 'f';
            break;
        case '\n':
            esc[1] = 'n';
            break;
        case '\r':
            esc[1] = 'r';
            break;
        case '\t':
            esc[1] = 't';
            break;
        default:
            esc[1] = 'u';
            esc[2] = '0';
            esc[3] = '0';
            esc[4] = hex[c >> 4];
            esc[5] = hex[c & 0xf];

            if (fql_wbuf_put(w, esc, 6) != 0) {
                return -1;
            }

            continue;
        }

        if (fql_wbuf_put(w, esc, 2) != 0) {
            return -1;
        }
    }

    return fql_wbuf_putc(w, '"');
}


static int
fql_heapbuf_reserve(fql_wbuf_t *w, size_t need)
{
    fql_heapbuf_t  *hb = w->ctx;
    size_t          used, cap;
    char           *p;

    used = hb->data ? (size_t) (w->pos - hb->data) : 0;

    if (hb->cap - used >= need) {
        return 0;
    }

    cap = hb->cap ? hb->cap : FQL_HEAPBUF_MIN;

    while (cap - used < need) {
        if (cap > SIZE_MAX / 2) {
            return -1;
        }

        cap *= 2;
    }

    p = realloc(hb->data, cap);
    if (p == NULL) {
        return -1;
    }

    hb->data = p;
    hb->cap = cap;
    w->pos = p + used;
    w->end = p + cap;

    return 0;
}


void
fql_heapbuf_init(fql_heapbuf_t *hb)
{
    hb->data = NULL;
    hb->cap = 0;
    hb->w.pos = NULL;
    hb->w.end = NULL;
    hb->w.reserve = fql_heapbuf_reserve;
    hb->w.ctx = hb;
}


size_t
fql_heapbuf_len(const fql_heapbuf_t *hb)
{
    return hb->data ? (size_t) (hb->w.pos - hb->data) : 0;
}


void
fql_heapbuf_free(fql_heapbuf_t *hb)
{
    free(hb->data);
    fql_heapbuf_init(hb);
}
