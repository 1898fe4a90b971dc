/*
 * Microbenchmark of the row transform: rows shaped like PostgreSQL's jsonb
 * output of a `data` column (keys ordered by length then bytes, ", " and
 * ": " separators), projected into a wbuf that hands off 16k chunks the
 * way the module's buffer chain does.  Reports input MB/s and rows/s, the
 * best of several runs, one line per case.
 *
 *   gcc -O2 -Isrc/core bench/bench_transform.c src/core/fql_*.c -lyajl -lm \
 *       -o bench_transform      (or: make bench)
 */

#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "fql_transform.h"


#define RUNS        10
#define MIN_NSEC    100000000LL      /* per run */


typedef struct {
    char    *data;
    size_t  *off;          /* row i is data[off[i] .. off[i + 1]) */
    size_t   nrows;
    size_t   len;
    size_t   cap;
} rows_t;


typedef struct {
    fql_wbuf_t  w;
    char        buf[16384];
    size_t      total;
} chain_t;


#define F(kind, out, key, depth, mask, sc, sub)                              \
    { kind, { out, sizeof(out) - 1 }, { key, sizeof(key) - 1 }, depth,      \
      mask, sc, sub }
#define SC(out, key, sc)  F(FQL_PF_SCALAR, out, key, 0, 0, sc, NULL)


static fql_proj_field_t  author_fields[] = {
    SC("id", "id", FQL_SCALAR_ID),
    SC("name", "name", FQL_SCALAR_STRING),
};

static fql_proj_t  author_proj = {
    { "Author", 6 }, author_fields, 2
};

static fql_proj_field_t  user_fields[] = {
    { FQL_PF_TYPENAME, { "__typename", 10 }, { NULL, 0 }, 0, 0,
      FQL_SCALAR_STRING, NULL },
    F(FQL_PF_SCALAR, "id", "id", 0, 1, FQL_SCALAR_ID, NULL),
    SC("firstName", "first_name", FQL_SCALAR_STRING),
    SC("email", "email", FQL_SCALAR_STRING),
    SC("createdAt", "created_at", FQL_SCALAR_DATETIME),
    SC("isActive", "is_active", FQL_SCALAR_BOOLEAN),
    F(FQL_PF_OBJECT, "author", "author", 0, 0, FQL_SCALAR_STRING,
      &author_proj),
};

static fql_proj_t  user_proj = {
    { "User", 4 }, user_fields, 7
};

static fql_proj_field_t  post_fields[] = {
    SC("id", "id", FQL_SCALAR_INT),
    SC("title", "title", FQL_SCALAR_STRING),
    SC("score", "score", FQL_SCALAR_FLOAT),
};

static fql_proj_t  post_proj = {
    { "Post", 4 }, post_fields, 3
};

static fql_proj_field_t  user_posts_fields[] = {
    F(FQL_PF_SCALAR, "id", "id", 0, 1, FQL_SCALAR_ID, NULL),
    SC("firstName", "first_name", FQL_SCALAR_STRING),
    SC("tags", "tags", FQL_SCALAR_STRING),
    F(FQL_PF_OBJECT, "posts", "posts", 1, 0, FQL_SCALAR_STRING, &post_proj),
};

static fql_proj_t  user_posts_proj = {
    { "User", 4 }, user_posts_fields, 4
};


static const char  *first_names[] = {
    "Alice", "Bob", "Chlo\xc3\xa9", "Dmitri", "Eve", "Fran\xc3\xa7ois",
    "Grace", "Hiroshi"
};

static const char  *last_names[] = {
    "Smith", "Johnson", "O'Brien", "M\xc3\xbcller", "Garc\xc3\xad" "a",
    "Nakamura", "Lee", "Dubois"
};


static int
chain_reserve(fql_wbuf_t *w, size_t need)
{
    chain_t  *c = (chain_t *) w;

    if (need > sizeof(c->buf)) {
        return -1;
    }

    c->total += w->pos - c->buf;
    w->pos = c->buf;
    w->end = c->buf + sizeof(c->buf);

    return 0;
}


static void
rows_add(rows_t *r, const char *fmt, ...)
{
    va_list  args;
    int      n;

    for ( ;; ) {
        va_start(args, fmt);
        n = vsnprintf(r->data + r->len, r->cap - r->len, fmt, args);
        va_end(args);

        if (n >= 0 && (size_t) n < r->cap - r->len) {
            r->len += n;
            return;
        }

        r->cap *= 2;
        r->data = realloc(r->data, r->cap);
        if (r->data == NULL) {
            abort();
        }
    }
}


static void
rows_end_row(rows_t *r)
{
    r->off[++r->nrows] = r->len;
}


/* the users of the 10-field case, ordered as jsonb orders keys */
static void
make_users(rows_t *r, size_t n)
{
    size_t  i;

    r->cap = n * 512;
    r->data = malloc(r->cap);
    r->off = malloc((n + 1) * sizeof(size_t));
    r->len = 0;
    r->nrows = 0;
    r->off[0] = 0;

    for (i = 0; i < n; i++) {
        rows_add(r,
            "{\"id\": %zu, \"age\": %zu, \"tags\": [\"customer\", \"tier-%zu\"]"
            ", \"email\": \"%s.%s%zu@example.com\", \"score\": %zu.%zu, "
            "\"author\": {\"id\": %zu, \"bio\": \"Writes about databases, "
            "nginx and \\\"fast\\\" things.\", \"name\": \"%s %s\", "
            "\"email\": \"author%zu@example.org\"}, \"is_active\": %s, "
            "\"last_name\": \"%s\", \"created_at\": "
            "\"2024-%02zu-%02zuT%02zu:%02zu:00.123456+00:00\", "
            "\"first_name\": \"%s\"}",
            i + 1, 18 + i % 60, i % 5, first_names[i % 8],
            last_names[i % 7], i, i % 100, i % 10, i % 97,
            first_names[(i + 3) % 8], last_names[(i + 5) % 8], i % 97,
            i % 3 ? "true" : "false", last_names[i % 8], 1 + i % 12,
            1 + i % 28, i % 24, i % 60, first_names[i % 8]);
        rows_end_row(r);
    }
}


/* users with a list of five posts each */
static void
make_user_posts(rows_t *r, size_t n)
{
    size_t  i, j;

    r->cap = n * 1024;
    r->data = malloc(r->cap);
    r->off = malloc((n + 1) * sizeof(size_t));
    r->len = 0;
    r->nrows = 0;
    r->off[0] = 0;

    for (i = 0; i < n; i++) {
        rows_add(r, "{\"id\": %zu, \"tags\": [\"a\", \"b\", \"c\"], "
                 "\"posts\": [", i + 1);

        for (j = 0; j < 5; j++) {
            rows_add(r, "%s{\"id\": %zu, \"body\": \"Lorem ipsum dolor "
                     "sit amet, consectetur adipiscing elit.\", \"score\": "
                     "%zu.5, \"title\": \"Post %zu of %s\", \"created_at\": "
                     "\"2024-05-01T12:00:00+00:00\"}", j ? ", " : "",
                     i * 5 + j, j, j, first_names[i % 8]);
        }

        rows_add(r, "], \"last_name\": \"%s\", \"first_name\": \"%s\"}",
                 last_names[i % 8], first_names[i % 8]);
        rows_end_row(r);
    }
}


static long long
now_ns(void)
{
    struct timespec  ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);

    return ts.tv_sec * 1000000000LL + ts.tv_nsec;
}


static void
run_rows(const fql_proj_t *proj, rows_t *r, fql_wbuf_t *w, size_t iters)
{
    size_t  i, it;

    for (it = 0; it < iters; it++) {
        for (i = 0; i < r->nrows; i++) {
            (void) fql_transform_row(proj, r->data + r->off[i],
                                     r->off[i + 1] - r->off[i], w, NULL,
                                     NULL, NULL);
        }
    }
}


static void
bench(const char *name, const fql_proj_t *proj, rows_t *r)
{
    chain_t     c;
    long long   t0, dt, best;
    size_t      i, iters, out;
    double      mbs, rps;
    int         run;

    c.w.pos = c.buf;
    c.w.end = c.buf + sizeof(c.buf);
    c.w.reserve = chain_reserve;
    c.total = 0;

    /* warm up, and check every row goes through */
    for (i = 0; i < r->nrows; i++) {
        if (fql_transform_row(proj, r->data + r->off[i],
                              r->off[i + 1] - r->off[i], &c.w, NULL, NULL,
                              NULL)
            != 0)
        {
            fprintf(stderr, "row %zu failed: %.*s\n", i,
                    (int) (r->off[i + 1] - r->off[i]), r->data + r->off[i]);
            exit(1);
        }
    }

    out = c.total + (c.w.pos - c.buf);

    /* calibrate: enough iterations for a run of MIN_NSEC (also warms up) */

    for (iters = 1; /* void */; iters *= 2) {
        t0 = now_ns();
        run_rows(proj, r, &c.w, iters);

        if (now_ns() - t0 >= MIN_NSEC) {
            break;
        }
    }

    best = 0;

    for (run = 0; run < RUNS; run++) {
        t0 = now_ns();
        run_rows(proj, r, &c.w, iters);
        dt = (now_ns() - t0) / (long long) iters;

        if (best == 0 || dt < best) {
            best = dt;
        }
    }

    mbs = (double) r->len / ((double) best / 1e9) / 1e6;
    rps = (double) r->nrows / ((double) best / 1e9);

    printf("%-28s %6zu rows  %8zu B in  %8zu B out  %8.1f MB/s  "
           "%10.0f rows/s  %6.0f ns/row\n",
           name, r->nrows, r->len, out, mbs, rps,
           (double) best / (double) r->nrows);
}


int
main(void)
{
    rows_t  r;

    make_users(&r, 1000);
    bench("users 5/10 + author", &user_proj, &r);
    free(r.data);
    free(r.off);

    make_users(&r, 10000);
    bench("users 5/10 + author", &user_proj, &r);
    free(r.data);
    free(r.off);

    make_user_posts(&r, 1000);
    bench("users + 5 posts (list)", &user_posts_proj, &r);
    free(r.data);
    free(r.off);

    return 0;
}
