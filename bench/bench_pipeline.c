/*
 * What libpq's pipeline mode saves the module, measured with libpq alone
 * against the benchmark database: per request, in microseconds, the
 * time of
 *
 *   - a statement new to the connection: Prepare, then Execute by name,
 *     in two round trips (fraiseql_pipeline off) or in one pipeline (on);
 *   - two statements of one request on one connection (two root fields,
 *     or a context statement before a query): one after the other, or in
 *     one pipeline.
 *
 * Prints a Markdown table.  Blocking libpq calls are fine here: this is a
 * client, not a worker.
 *
 *   bench_pipeline "host=127.0.0.1 port=5432 dbname=fraiseql" [rounds]
 */

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <libpq-fe.h>

#include "bench.h"


static void
check(PGresult *res, ExecStatusType want, PGconn *pg)
{
    if (res == NULL || PQresultStatus(res) != want) {
        fprintf(stderr, "unexpected result: %s\n", PQerrorMessage(pg));
        exit(1);
    }

    PQclear(res);
}


/* the results of one query in a pipeline, up to its NULL */
static void
drain(PGconn *pg, ExecStatusType want)
{
    PGresult  *res;

    check(PQgetResult(pg), want, pg);

    res = PQgetResult(pg);
    if (res != NULL) {
        fprintf(stderr, "more results than expected\n");
        exit(1);
    }
}


static const char  *sql_fmt =
    "SELECT \"data\" FROM \"v_user\" WHERE \"id\" = $1::uuid AND %d > 0";


int
main(int argc, char **argv)
{
    int          i, n, round;
    char         sql[256], name[32];
    double       t0, best[4];
    PGconn      *pg;
    PGresult    *res;
    const char  *param[1];

    if (argc < 2) {
        fprintf(stderr, "usage: %s conninfo [statements]\n", argv[0]);
        return 2;
    }

    n = argc > 2 ? atoi(argv[2]) : 2000;

    pg = PQconnectdb(argv[1]);
    if (PQstatus(pg) != CONNECTION_OK) {
        fprintf(stderr, "%s", PQerrorMessage(pg));
        return 1;
    }

    res = PQexec(pg, "SELECT id::text FROM v_user LIMIT 1");
    if (PQresultStatus(res) != PGRES_TUPLES_OK || PQntuples(res) != 1) {
        fprintf(stderr, "no user: %s", PQerrorMessage(pg));
        return 1;
    }

    param[0] = strdup(PQgetvalue(res, 0, 0));
    PQclear(res);

    best[0] = best[1] = best[2] = best[3] = 1e12;

    for (round = 0; round < 3; round++) {
        /* new statements, two round trips each */
        t0 = now_us();
        for (i = 0; i < n; i++) {
            snprintf(sql, sizeof(sql), sql_fmt, round * 3 * n + i);
            snprintf(name, sizeof(name), "s%d", round * 3 * n + i);
            check(PQprepare(pg, name, sql, 1, NULL), PGRES_COMMAND_OK, pg);
            check(PQexecPrepared(pg, name, 1, param, NULL, NULL, 0),
                  PGRES_TUPLES_OK, pg);
        }
        t0 = (now_us() - t0) / n;
        best[0] = t0 < best[0] ? t0 : best[0];

        /* new statements, one pipeline each */
        t0 = now_us();
        for (i = 0; i < n; i++) {
            snprintf(sql, sizeof(sql), sql_fmt, (round * 3 + 1) * n + i);
            snprintf(name, sizeof(name), "s%d", (round * 3 + 1) * n + i);
            if (!PQenterPipelineMode(pg)
                || !PQsendPrepare(pg, name, sql, 1, NULL)
                || !PQsendQueryPrepared(pg, name, 1, param, NULL, NULL, 0)
                || !PQpipelineSync(pg))
            {
                fprintf(stderr, "%s", PQerrorMessage(pg));
                return 1;
            }
            drain(pg, PGRES_COMMAND_OK);
            drain(pg, PGRES_TUPLES_OK);
            check(PQgetResult(pg), PGRES_PIPELINE_SYNC, pg);
            PQexitPipelineMode(pg);
        }
        t0 = (now_us() - t0) / n;
        best[1] = t0 < best[1] ? t0 : best[1];

        /* two prepared statements of one request, one after the other */
        snprintf(name, sizeof(name), "two%d", round);
        snprintf(sql, sizeof(sql), sql_fmt, -1 - round);
        check(PQprepare(pg, name, sql, 1, NULL), PGRES_COMMAND_OK, pg);

        t0 = now_us();
        for (i = 0; i < n; i++) {
            check(PQexecPrepared(pg, name, 1, param, NULL, NULL, 0),
                  PGRES_TUPLES_OK, pg);
            check(PQexecPrepared(pg, name, 1, param, NULL, NULL, 0),
                  PGRES_TUPLES_OK, pg);
        }
        t0 = (now_us() - t0) / n;
        best[2] = t0 < best[2] ? t0 : best[2];

        /* the same two in one pipeline */
        t0 = now_us();
        for (i = 0; i < n; i++) {
            if (!PQenterPipelineMode(pg)
                || !PQsendQueryPrepared(pg, name, 1, param, NULL, NULL, 0)
                || !PQsendQueryPrepared(pg, name, 1, param, NULL, NULL, 0)
                || !PQpipelineSync(pg))
            {
                fprintf(stderr, "%s", PQerrorMessage(pg));
                return 1;
            }
            drain(pg, PGRES_TUPLES_OK);
            drain(pg, PGRES_TUPLES_OK);
            check(PQgetResult(pg), PGRES_PIPELINE_SYNC, pg);
            PQexitPipelineMode(pg);
        }
        t0 = (now_us() - t0) / n;
        best[3] = t0 < best[3] ? t0 : best[3];

        /* prepared statements pile up: start each round clean */
        PQclear(PQexec(pg, "DEALLOCATE ALL"));
    }

    printf("| request on one connection (best of 3 rounds, %d each) "
           "| one after the other, µs | pipelined, µs | saved |\n", n);
    printf("|---|---:|---:|---:|\n");
    printf("| a statement new to the connection: Prepare + Execute "
           "| %.1f | %.1f | %.0f %% |\n", best[0], best[1],
           100.0 * (best[0] - best[1]) / best[0]);
    printf("| two prepared statements (two root fields, or context + "
           "query) | %.1f | %.1f | %.0f %% |\n", best[2], best[3],
           100.0 * (best[2] - best[3]) / best[2]);

    PQfinish(pg);

    return 0;
}
