/*
 * What the C microbenchmarks share: a monotonic clock in microseconds
 * and reading a whole file.
 */

#ifndef BENCH_H
#define BENCH_H

#include <stdio.h>
#include <stdlib.h>
#include <time.h>


static inline double
now_us(void)
{
    struct timespec  ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1e6 + ts.tv_nsec / 1e3;
}


/* the file's bytes, NUL-terminated; exits on failure */
static inline char *
slurp(const char *path, size_t *len)
{
    FILE   *f;
    char   *buf;
    long    n;

    f = fopen(path, "rb");
    if (f == NULL) {
        perror(path);
        exit(1);
    }

    fseek(f, 0, SEEK_END);
    n = ftell(f);
    rewind(f);

    buf = malloc(n + 1);
    if (buf == NULL || fread(buf, 1, n, f) != (size_t) n) {
        exit(1);
    }

    buf[n] = '\0';
    fclose(f);
    *len = n;

    return buf;
}

#endif /* BENCH_H */
