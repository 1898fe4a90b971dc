"""The database half of a request in nginx's error log: debug lines at
every phase of a statement (Debian's nginx is built --with-debug), and the
action and server of a PostgreSQL connection on the lines it logs."""

import re
import time

import pytest

from conftest import Nginx, SCHEMA

Q = "{ things(limit: 2) { id name } }"


def stmt_lines(log):
    """The statement's steps as logged, in order: 'send ...', 'rows'..."""
    return [m.group(1) for m in
            re.finditer(r"fraiseql stmt: (\w+(?: on \*\d+, [^,\n]+)?)", log)]


def phases(log):
    return [re.sub(r" on \*\d+.*", "", s) for s in stmt_lines(log)]


@pytest.mark.parametrize("pipeline", ["on", "off"])
def test_statement_phases_in_the_debug_log(make_nginx, pg, pipeline):
    n = make_nginx(pool=1, log_level="debug",
                   extra="fraiseql_pipeline %s;" % pipeline).start()

    # first run: prepared on this connection; second: by name
    for _ in range(2):
        r = n.post(Q)
        assert r.status_code == 200, r.text
        assert [t["id"] for t in r.json()["data"]["things"]] == [1, 2]

    log = n.log()
    sends = [s for s in stmt_lines(log) if s.startswith("send")]
    assert len(sends) == 2, log[-4000:]
    assert sends[0].endswith("prepared now") and sends[1].endswith("by name")

    if pipeline == "on":
        # Prepare, run and Sync in one round trip
        first = ["send", "prepare", "rows", "sync", "done"]
    else:
        # the run goes when the Prepare is over
        first = ["send", "prepare", "rows", "done"]
    assert phases(log) == first + ["send", "rows", "done"], log[-4000:]

    # the pool and the slot say what they do, on the request's connection
    assert "fraiseql pool: connect" in log
    assert re.search(r"fraiseql pool: connection \*\d+ handed over", log)
    assert re.search(r"fraiseql pool: idle connection \*\d+", log)
    assert "fraiseql slot 0: run 1:" in log
    assert "fraiseql slot 0: done, 2 rows" in log
    assert re.search(r"fraiseql pg (read|write) event, fd:\d+ state:2", log)
    # a clean run: nothing logged at [error]
    assert n.errors() == []


def test_unnamed_statement_in_the_debug_log(make_nginx, pg):
    n = make_nginx(pool=1, log_level="debug",
                   extra="fraiseql_prepared_statements off;").start()
    assert n.post(Q).status_code == 200
    log = n.log()
    assert [s for s in stmt_lines(log) if s.startswith("send")] == [
        "send on *%s, unnamed" % re.search(r"send on \*(\d+)", log)
        .group(1)], log[-4000:]
    assert phases(log) == ["send", "rows", "done"]


def test_a_refused_statement_in_the_debug_log(make_nginx, pg):
    """PostgreSQL's error comes in the phase it belongs to; the rest of
    the pipeline is read through to its end."""
    n = make_nginx(pool=1, log_level="debug").start()
    r = n.post('{ thing(id: "not a number") { id } }')
    assert r.status_code == 200
    assert r.json()["errors"][0]["extensions"]["code"] == "BAD_USER_INPUT"
    log = n.log()
    assert "query failed: 22P02" in log
    assert phases(log)[-1] == "done", log[-4000:]
    # the connection is kept: the next statement runs on it
    assert n.post(Q).status_code == 200
    assert n.backends(pg) == 1


def test_a_connection_says_what_it_was_doing(make_nginx, pg):
    """A line logged on a PostgreSQL connection ends with its action and
    its server, as nginx's own connections say 'while reading response
    header from upstream'."""
    n = make_nginx(pool=1).start()
    assert n.post(Q).status_code == 200
    pg.execute("SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
               " WHERE application_name = %s", "fraiseql-%d" % n.port)
    deadline = time.time() + 5
    while time.time() < deadline and "idle connection closed" not in n.log():
        time.sleep(0.05)
    line = [l for l in n.log().splitlines()
            if "idle connection closed" in l]
    assert line, n.log()
    assert "while keeping an idle PostgreSQL connection" in line[0], line[0]
    assert re.search(r", server 127\.0\.0\.1:\d+$", line[0]), line[0]
    # and the pool goes on
    assert n.post(Q).status_code == 200


def test_more_servers_than_a_location_can_choose_from(pg):
    dbs = "".join('fraiseql_database "%s";\n' % pg.conninfo
                  for _ in range(65))
    n = Nginx(pg, SCHEMA,
              extra="location /many { fraiseql; %s }" % dbs)
    r = n.cmd("-t")
    assert r.returncode != 0
    assert "fraiseql_database: more than 64 servers in a location" \
        in r.stderr, r.stderr

    dbs = "".join('fraiseql_database "%s";\n' % pg.conninfo
                  for _ in range(64))
    n = Nginx(pg, SCHEMA,
              extra="location /many { fraiseql; %s }" % dbs)
    r = n.cmd("-t")
    assert r.returncode == 0, r.stderr
