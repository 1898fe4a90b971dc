"""Prepare and run in one round trip (libpq pipeline mode), or in two with
fraiseql_pipeline off: the same answers, errors and connection reuse."""

import os
import re
import time

import pytest

QUERIES = [
    ("{ things(where: {score: {gte: 2}}, orderBy: [{id: ASC}]) { id score } }",
     None),
    ("query ($i: ID!) { thing(id: $i) { id name } }", {"i": 1}),
    ("{ a: thing(id: 1) { id } b: things(limit: 2, orderBy: [{id: DESC}]) "
     "{ id } }", None),
]


@pytest.fixture(params=["on", "off"])
def mode(request):
    return request.param


def test_same_answers_both_ways(make_nginx, ngx, mode):
    n = make_nginx(pool=1, extra="fraiseql_pipeline %s;" % mode).start()
    for q, v in QUERIES:
        for _ in range(2):          # prepared, then by name
            assert n.post(q, v).json() == ngx.post(q, v).json()


def test_failed_prepare_keeps_the_connection(make_nginx, pg, mode):
    """A statement PostgreSQL cannot prepare (here a view that does not
    exist) fails its field; the connection serves the next request."""
    n = make_nginx(pool=1, extra="fraiseql_pipeline %s;" % mode).start()
    assert n.post("{ things(limit: 1) { id } }").status_code == 200
    before = pg.query("SELECT pid FROM pg_stat_activity"
                      " WHERE application_name = %s", "fraiseql-%d" % n.port)
    for _ in range(3):
        body = n.post("{ ghosts { id } }").json()
        assert body["data"] == {"ghosts": None}
        assert "42P01" in body["errors"][0]["message"]
        assert n.post("{ things(limit: 1) { id } }").json() == {
            "data": {"things": [{"id": 1}]}}
    after = pg.query("SELECT pid FROM pg_stat_activity"
                     " WHERE application_name = %s", "fraiseql-%d" % n.port)
    assert before == after


def test_prepared_once_both_ways(make_nginx, pg):
    """Both ways a new statement is parsed once (its Prepare) and run by
    name each time; bench/bench_pipeline.c measures the round trip the
    pipeline saves."""
    log = os.path.join(pg.dir, "log")
    pg.execute("ALTER SYSTEM SET log_statement = 'all'")
    pg.execute("ALTER SYSTEM SET log_min_duration_statement = 0")
    pg.query("SELECT pg_reload_conf()")
    try:
        time.sleep(0.3)
        for mode in ("on", "off"):
            n = make_nginx(pool=1, extra="fraiseql_pipeline %s;" % mode)
            n.start()
            start = os.path.getsize(log)
            q = ('{ things(where: {name: {startswith: "%s"}}) { id } }'
                 % mode)
            for _ in range(3):
                assert "errors" not in n.post(q).json()
            time.sleep(0.3)
            with open(log) as f:
                f.seek(start)
                lines = [l for l in f.read().splitlines()
                         if "v_thing" in l and "fq_" in l]
            parses = [l for l in lines if re.search(r"parse fq_", l)]
            runs = [l for l in lines if re.search(r"execute fq_", l)]
            assert len(parses) == 1, (mode, lines)
            assert len(runs) == 3, (mode, lines)
            n.stop()
    finally:
        pg.execute("ALTER SYSTEM RESET log_statement")
        pg.execute("ALTER SYSTEM RESET log_min_duration_statement")
        pg.query("SELECT pg_reload_conf()")
