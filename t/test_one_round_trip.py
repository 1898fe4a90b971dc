"""One round trip for a request's root fields (issue 18): the statements
of a query's root fields go in one pipeline on one pooled connection, the
leading statement (the claims) in front of each, a Sync after each; the
rows come back and are written in document order.  Mutations, single root
fields and `fraiseql_pipeline off` keep a connection per root field.

v_backend (made here) answers the PostgreSQL backend that ran it and the
claims it saw, so a test can tell which connection served which field."""

import hashlib
import json
import os
import uuid
import re
import threading
import time

import pytest

from conftest import dechunk, schema_with
from test_authz import tok
from test_jwt import SECRET

BACKEND_VIEW = """
CREATE OR REPLACE VIEW v_backend AS
SELECT 1 AS id,
       jsonb_build_object(
           'id', 1, 'pid', pg_backend_pid(),
           'claims', nullif(current_setting('request.jwt.claims', true),
                            '')) AS data;
GRANT SELECT ON v_backend TO app_user
"""


@pytest.fixture(scope="module")
def schema(pg):
    pg.execute(BACKEND_VIEW)
    path = schema_with(
        "extend type Query {\n  whoami: [Whoami!]!",
        "type Backend @view(name: \"v_backend\") {\n"
        "  id: ID!\n  pid: Int!\n  claims: String\n}\n\n"
        "extend type Query {\n  backend: [Backend!]!\n"
        "  whoami: [Whoami!]!")
    yield path
    os.unlink(path)


@pytest.fixture
def keyfile(tmp_path):
    key = tmp_path / "hs.key"
    key.write_text(SECRET)
    return str(key)


def pipeline(mode):
    return "fraiseql_pipeline %s;" % mode


def pids_of(body, keys):
    return [body["data"][k][0]["pid"] for k in keys]


THREE = "{ a: backend { pid } b: backend { pid } c: backend { pid } }"


def test_root_fields_share_one_connection(make_nginx, pg, schema):
    """Three root fields: one backend runs the three statements (pool of
    4, one connection opened); with fraiseql_pipeline off, three."""
    n = make_nginx(pool=4, schema=schema).start()
    for _ in range(5):
        body = n.gql(THREE)
        assert "errors" not in body, body
        assert len(set(pids_of(body, "abc"))) == 1, body
    assert n.backends(pg) == 1

    # Without the pipeline each field takes a connection of its own; the
    # first requests open them, and on a slow machine a field may still
    # find a sibling's connection freed before its own one is open: ask
    # until the pool holds three, then every answer uses three.
    off = make_nginx(pool=4, schema=schema, extra=pipeline("off")).start()
    for _ in range(50):
        off.gql(THREE)
        if off.backends(pg) == 3:
            break
        time.sleep(0.1)
    assert off.backends(pg) == 3
    time.sleep(0.2)         # the last one opened is idle in the pool
    body = off.gql(THREE)
    assert len(set(pids_of(body, "abc"))) == 3, body
    assert off.backends(pg) == 3


def test_one_connection_per_request_under_concurrency(make_nginx, pg,
                                                      schema):
    """16 clients, 3 root fields each, pool 8: every answer's three fields
    come from one backend; the pool never needs more than one connection
    per request in flight."""
    n = make_nginx(pool=8, schema=schema).start()
    answers, errors = [], []

    def client():
        try:
            for _ in range(25):
                answers.append(n.gql(THREE))
        except Exception as e:      # noqa: BLE001 (reported below)
            errors.append(e)

    threads = [threading.Thread(target=client) for _ in range(16)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert not errors, errors
    assert len(answers) == 16 * 25
    for body in answers:
        assert "errors" not in body, body
        assert len(set(pids_of(body, "abc"))) == 1, body
    assert n.backends(pg) <= 8
    assert n.errors() == []


# every kind of root field, in one operation, with static ones among them
MIXED = """query Mixed($id: ID!, $post: ID!, $q: String!, $n: Int) {
  __typename
  users(limit: $n, orderBy: [{id: ASC}]) { id firstName }
  user(id: $id) { id email }
  t: __type(name: "Thing") { name kind }
  usersConnection(first: 2, orderBy: [{id: ASC}]) {
    edges { cursor node { id } } pageInfo { hasNextPage endCursor }
    totalCount }
  usersAggregate { count max { age } }
  searchDocs(q: $q, limit: 3) { id title }
  docByTitle(title: "no such title") { id }
  things(where: {score: {gte: 2}}, orderBy: [{id: ASC}]) { id score }
  nobody: user(id: "00000000-0000-0000-0000-000000000000") { id }
  post(id: $post) { id title author { id firstName } }
  again: user(id: $id) { id }
}"""


def demo_uuid(kind, n):
    """conf-examples/demo.sql's ids: md5(kind || n)::uuid"""
    return str(uuid.UUID(hashlib.md5(b"%s%d" % (kind.encode(), n))
                         .hexdigest()))


MIXED_VARS = {"id": demo_uuid("user", 1), "post": demo_uuid("post", 1),
              "q": "cat", "n": 3}
MIXED_KEYS = ["__typename", "users", "user", "t", "usersConnection",
              "usersAggregate", "searchDocs", "docByTitle", "things",
              "nobody", "post", "again"]


def test_same_answers_as_a_connection_per_field(make_nginx, pg, schema):
    """Lists, by id (found and not), cursor pages, aggregates, query
    functions, introspection and __typename in one operation: the same
    bytes both ways, keys in document order, the same statement prepared
    once and run twice in one pipeline (user and again)."""
    on = make_nginx(pool=2, schema=schema).start()
    off = make_nginx(pool=2, schema=schema, extra=pipeline("off")).start()
    for _ in range(2):          # prepared now, then by name
        a = on.post(MIXED, MIXED_VARS)
        b = off.post(MIXED, MIXED_VARS)
        assert a.status_code == b.status_code == 200
        assert a.text == b.text
        body = json.loads(a.text)
        assert "errors" not in body, body
        assert list(body["data"]) == MIXED_KEYS
        assert body["data"]["user"] == {"id": MIXED_VARS["id"],
                                        "email": "user1@example.com"}
        assert body["data"]["again"] == {"id": MIXED_VARS["id"]}
        assert body["data"]["post"]["id"] == MIXED_VARS["post"]
        assert body["data"]["nobody"] is None
        assert len(body["data"]["users"]) == 3
        assert body["data"]["searchDocs"]
    assert on.backends(pg) == 1
    assert on.errors() == [] and off.errors() == []


@pytest.mark.parametrize("bad,code,state", [
    # a value the column cannot take: the run fails (Bind/Execute)
    ('thing(id: "x") { id }', "BAD_USER_INPUT", "22P02"),
    # a view that does not exist: the Prepare fails
    ("ghosts { id }", "DATABASE_ERROR", "42P01"),
])
@pytest.mark.parametrize("where", [0, 1, 2])
def test_a_failing_field_spares_the_others(make_nginx, pg, schema, bad,
                                           code, state, where):
    """One of three root fields fails (first, middle or last): its value
    is null with its error, the two others are answered, the connection
    serves the next request; the same answer as a connection each."""
    fields = ['a: things(limit: 2, orderBy: [{id: ASC}]) { id }',
              'b: backend { pid }',
              'c: things(limit: 1, orderBy: [{id: DESC}]) { id }']
    key = "abc"[where]
    fields[where] = "%s: %s" % (key, bad)
    q = "{ %s }" % " ".join(fields)
    n = make_nginx(pool=1, schema=schema).start()
    off = make_nginx(pool=3, schema=schema, extra=pipeline("off")).start()
    for _ in range(2):
        body = n.gql(q)
        assert body["data"][key] is None
        assert list(body["data"]) == ["a", "b", "c"]
        for k in "abc":
            if k != key:
                assert body["data"][k], body
        (err,) = body["errors"]
        assert err["path"] == [key]
        assert err["extensions"]["code"] == code
        assert state in err["message"]
        other = off.gql(q)
        if where != 1:
            # the backend's pid differs from one nginx to the other
            other["data"]["b"] = body["data"]["b"]
        assert other == body
    pid = pg.query("SELECT pid FROM pg_stat_activity"
                   " WHERE application_name = %s", "fraiseql-%d" % n.port)
    assert len(pid) == 1
    # the connection is as good as before
    body = n.gql(THREE)
    assert "errors" not in body
    assert pids_of(body, "abc") == [pid[0][0]] * 3


def test_every_field_failing(make_nginx, pg, schema):
    q = ('{ a: thing(id: "x") { id } b: ghosts { id } '
         'c: thing(id: "y") { id } }')
    n = make_nginx(pool=1, schema=schema).start()
    body = n.gql(q)
    assert body["data"] == {"a": None, "b": None, "c": None}
    assert [e["path"] for e in body["errors"]] == [["a"], ["b"], ["c"]]
    assert "errors" not in n.gql(THREE)


def test_document_order_with_rows_of_every_size(make_nginx, pg, schema):
    """A large list between small fields, and small ones after it: each
    field's rows come after the one before it, written in document order,
    through the buffers and the temporary file."""
    q = ("{ one: thing(id: 1) { id } items { id label price } "
         "two: things(limit: 2) { id } more: items(limit: 5) { id } "
         "three: backend { pid } }")
    on = make_nginx(pool=2, schema=schema,
                    extra="fraiseql_buffers 4 4k;").start()
    off = make_nginx(pool=2, schema=schema,
                     extra="fraiseql_buffers 4 4k; " + pipeline("off")).start()
    a = on.post(q)
    b = off.post(q)
    assert a.status_code == b.status_code == 200
    da, db = json.loads(a.text), json.loads(b.text)
    assert list(da["data"]) == ["one", "items", "two", "more", "three"]
    assert len(da["data"]["items"]) > 1000
    del da["data"]["three"], db["data"]["three"]
    assert da == db
    assert on.backends(pg) == 1


def test_claims_ride_in_the_same_pipeline(make_nginx, pg, schema, keyfile):
    """With a token, each field's statement sees the claims (the leading
    statement runs once, first, on the same backend: the claims are set
    for the pipeline's transaction, which its Sync ends); the next
    request, without a token, on the same connection sees none."""
    log = os.path.join(pg.dir, "log")
    n = make_nginx(pool=1, schema=schema,
                   http_extra="fraiseql_jwt optional;\n"
                              "    fraiseql_jwt_key alg=HS256 file=%s;"
                              % keyfile).start()
    q = ("{ a: backend { pid claims } b: backend { pid claims } "
         "c: things(limit: 1) { id } }")
    bearer = tok(tenant="t7")
    pg.execute("ALTER SYSTEM SET log_statement = 'all'")
    pg.query("SELECT pg_reload_conf()")
    try:
        time.sleep(0.3)
        start = os.path.getsize(log)
        for _ in range(2):
            body = n.gql(q, headers={"Authorization": "Bearer " + bearer})
            assert "errors" not in body, body
            for k in "ab":
                assert json.loads(body["data"][k][0]["claims"])["tenant"] \
                    == "t7"
            assert body["data"]["c"] == [{"id": 1}]
            assert body["data"]["a"][0]["pid"] == body["data"]["b"][0]["pid"]
        body = n.gql(q)
        assert body["data"]["a"][0]["claims"] is None
        assert body["data"]["b"][0]["claims"] is None
        time.sleep(0.3)
    finally:
        pg.execute("ALTER SYSTEM RESET log_statement")
        pg.query("SELECT pg_reload_conf()")
    pid = body["data"]["a"][0]["pid"]
    with open(log) as f:
        f.seek(start)
        lines = [l for l in f.read().splitlines()
                 if "set_config('request.jwt.claims'" in l
                 or "v_backend" in l or "v_thing" in l]
    # log_line_prefix shows each backend's pid: all of them on one
    assert lines and all("[%d]" % pid in l for l in lines), lines
    claims = [l for l in lines if "set_config" in l]
    # the leading statement once per request with a token, in front of
    # its three statements (one implicit transaction)
    assert len(claims) == 2, lines


def test_a_failing_claims_statement_fails_each_field(make_nginx, pg, schema,
                                                     keyfile):
    """A role PostgreSQL does not have: the leading statement fails in
    front of each statement, each field says so; the connection serves
    on."""
    n = make_nginx(pool=1, schema=schema,
                   http_extra="fraiseql_jwt optional;\n"
                              "    fraiseql_jwt_key alg=HS256 file=%s;\n"
                              "    fraiseql_db_role claim;" % keyfile).start()
    q = "{ a: backend { pid } b: backend { pid } }"
    body = n.gql(q, headers={"Authorization": "Bearer "
                             + tok(role="no_such_role")})
    assert body["data"] == {"a": None, "b": None}
    assert [e["path"] for e in body["errors"]] == [["a"], ["b"]]
    body = n.gql(q, headers={"Authorization": "Bearer "
                             + tok(role="app_user")})
    assert "errors" not in body, body


AUTHZ = os.path.join(os.path.dirname(os.path.abspath(__file__)),
                     "authz.graphql")


@pytest.mark.parametrize("who", [
    dict(role="user", sub="u1"),
    dict(role="manager", sub="u9", org={"tenant": "t1"}),
    dict(role="admin", sub="x"),
    None,
])
def test_row_filters_in_one_pipeline(make_nginx, pg, keyfile, who):
    """t/authz.graphql's row filters bound from the token, for several
    root fields in one pipeline: the same answers as a connection each."""
    http = ("fraiseql_jwt optional;\n"
            "    fraiseql_jwt_key alg=HS256 file=%s;\n"
            "    fraiseql_anon_role anon;" % keyfile)
    on = make_nginx(pool=1, schema=AUTHZ, http_extra=http).start()
    off = make_nginx(pool=3, schema=AUTHZ, http_extra=http,
                     extra=pipeline("off")).start()
    q = ("{ memos(orderBy: [{id: ASC}]) { id owner } memo(id: 1) { id } "
         "memosAggregate { count } "
         "memosConnection(first: 2) { totalCount nodes { id } } "
         "memosLike(pattern: \"%\") { id } }")
    h = {"Authorization": "Bearer " + tok(**who)} if who else {}
    a = on.post(q, headers=h)
    b = off.post(q, headers=h)
    assert a.status_code == b.status_code == 200
    assert a.text == b.text
    assert on.backends(pg) == 1


def test_statement_timeout_on_the_second_field(make_nginx, pg, schema):
    """PostgreSQL's statement_timeout stops the second of three: that field
    has the query-timeout error, the third is answered on the same
    connection after it."""
    n = make_nginx(pool=1, schema=schema,
                   extra="fraiseql_query_timeout 300ms;").start()
    q = ("{ a: things(limit: 1) { id } b: slower { id } "
         "c: backend { pid } }")
    t0 = time.time()
    body = n.gql(q)
    assert time.time() - t0 < 1.2
    assert body["data"]["a"] == [{"id": 1}]
    assert body["data"]["b"] is None
    assert body["data"]["c"][0]["pid"]
    (err,) = body["errors"]
    assert err["path"] == ["b"] and "57014" in err["message"]
    assert n.backends(pg) == 1


def test_nginx_timer_on_the_second_field(make_nginx, pg, schema):
    """A statement that ignores statement_timeout, second of three: nginx's
    timer fails it with the query-timeout error and cancels it (its
    connection closes); the third field, whose statement never ran, runs
    again on a connection of its own; nothing stays active."""
    n = make_nginx(pool=4, schema=schema, log_level="debug",
                   extra="fraiseql_query_timeout 500ms;").start()
    q = ("{ a: things(limit: 1) { id } b: stubborn { id } "
         "c: things(limit: 2, orderBy: [{id: DESC}]) { id } }")
    try:
        body = n.gql(q)
        assert body["data"]["a"] == [{"id": 1}]
        assert body["data"]["b"] is None
        assert len(body["data"]["c"]) == 2
        (err,) = body["errors"]
        assert err["path"] == ["b"]
        assert "ran longer than the query timeout" in err["message"]
        log = n.log()
        assert 'within the query timeout for "b"' in log
        # the third's run in the pipeline never happened: it runs once
        assert re.search(r'slot 2: run 1: ".*" with \d+ params, in a pipe',
                         log)
        assert re.search(r'slot 2: run 1: ".*" with \d+ params$', log, re.M)
        deadline = time.time() + 5
        while time.time() < deadline and pg.query(
                "SELECT count(*) FROM pg_stat_activity"
                " WHERE application_name = %s AND state = 'active'",
                "fraiseql-%d" % n.port)[0][0]:
            time.sleep(0.05)
        assert "errors" not in n.gql(THREE)
    finally:
        pg.execute("SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
                   " WHERE application_name = %s AND state = 'active'",
                   "fraiseql-%d" % n.port)


def test_backend_killed_in_the_middle(make_nginx, pg, schema):
    """The pipeline's backend is killed while the second of three fields
    runs (the first answered): the second runs again, the third too, each
    on a new connection; the answer is whole."""
    n = make_nginx(pool=2, schema=schema, log_level="debug").start()
    q = ("{ a: things(limit: 1) { id } b: slower { id } "
         "c: things(limit: 2, orderBy: [{id: DESC}]) { id } }")
    n.gql(THREE)
    result = {}

    def run():
        result["r"] = n.post(q)

    t = threading.Thread(target=run)
    t.start()
    deadline = time.time() + 5
    killed = 0
    while not killed and time.time() < deadline:
        killed = pg.query(
            "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity"
            " WHERE application_name = %s AND state = 'active'"
            " AND query LIKE '%%v_slower%%'", "fraiseql-%d" % n.port)[0][0]
        time.sleep(0.02)
    t.join(20)
    assert killed
    body = result["r"].json()
    last = n.data("{ things(limit: 2, orderBy: [{id: DESC}]) { id } }")
    assert body == {"data": {"a": [{"id": 1}], "b": [{"id": 1}],
                             "c": last["things"]}}, body
    log = n.log()
    assert 'connection failed while running "b"' in log
    assert re.search(r'slot 1: run 2: ".*" with \d+ params$', log, re.M)
    assert re.search(r'slot 2: run 1: ".*" with \d+ params$', log, re.M)
    assert "errors" not in n.gql(THREE)
    assert n.backends(pg) <= 2


def test_client_gone_mid_pipeline(make_nginx, pg, schema):
    """Clients that leave while the second of three fields streams: the
    connection is let go each time (closed: its pipeline is not over), the
    pool serves on."""
    import socket
    n = make_nginx(pool=2, schema=schema).start()
    q = ('{ a: things(limit: 1) { id } items { id label price } '
         'c: backend { pid } }')
    body = json.dumps({"query": q}).encode()
    req = (b"POST /graphql HTTP/1.1\r\nHost: x\r\n"
           b"Content-Type: application/json\r\n"
           b"Content-Length: %d\r\n\r\n" % len(body)) + body
    for _ in range(5):
        with socket.create_connection(("127.0.0.1", n.port), 10) as s:
            s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 8192)
            s.sendall(req)
            assert s.recv(8192).startswith(b"HTTP/1.1 200")
            time.sleep(0.05)
    time.sleep(0.5)
    for _ in range(3):
        assert "errors" not in n.gql(THREE)
    assert n.backends(pg) <= 2
    assert n.errors() == []


def test_mutations_keep_a_transaction_each(make_nginx, pg, schema):
    """Mutation root fields are not pipelined: one after the other, as
    before (the debug log shows no pipeline)."""
    n = make_nginx(pool=2, schema=schema, log_level="debug").start()
    q = ('mutation { a: createUser(input: {email: "p1@rt.example", '
         'firstName: "P", lastName: "One"}) { __typename } '
         'b: createUser(input: {email: "p2@rt.example", firstName: "P", '
         'lastName: "Two"}) { __typename } }')
    try:
        r = n.post(q)
        assert r.status_code == 200, r.text
        assert "in a pipeline" not in n.log()
        assert "root fields in one pipeline" not in n.log()
        n.gql(THREE)
        assert "3 root fields in one pipeline" in n.log()
    finally:
        pg.execute("DELETE FROM tb_user WHERE email LIKE %s", "%@rt.example")


def test_debug_log_says_one_pipeline(make_nginx, pg, schema):
    n = make_nginx(pool=1, schema=schema, log_level="debug").start()
    n.gql(THREE)
    log = n.log()
    assert "3 root fields in one pipeline" in log
    runs = re.findall(r"fraiseql slot (\d): run 1: .* in a pipeline on "
                      r"\*(\d+)", log)
    assert [r[0] for r in runs] == ["0", "1", "2"]
    assert len({r[1] for r in runs}) == 1
    assert re.search(r"slot 0: passes \*\d+ on to slot 1", log)
    assert re.search(r"slot 1: passes \*\d+ on to slot 2", log)
    assert n.errors() == []


def test_each_field_is_sent_when_it_is_ready(make_nginx, pg, schema):
    """The first field's rows reach the client while the second's slow
    statement still runs (PostgreSQL is asked to send each statement's
    results at once, not at the pipeline's end)."""
    import socket
    n = make_nginx(pool=1, schema=schema).start()
    q = "{ a: things(limit: 1) { id } b: slower { id } }"
    body = json.dumps({"query": q}).encode()
    req = (b"POST /graphql HTTP/1.1\r\nHost: x\r\nConnection: close\r\n"
           b"Content-Type: application/json\r\n"
           b"Content-Length: %d\r\n\r\n" % len(body)) + body
    with socket.create_connection(("127.0.0.1", n.port), 10) as s:
        t0 = time.time()
        s.sendall(req)
        got = b""
        while b'"a":[{"id":1}]' not in got:
            chunk = s.recv(65536)
            assert chunk, got
            got += chunk
        first = time.time() - t0
        while True:
            chunk = s.recv(65536)
            if not chunk:
                break
            got += chunk
        total = time.time() - t0
    assert first < 1.0 < 1.4 < total, (first, total)
    answer = json.loads(dechunk(got.partition(b"\r\n\r\n")[2]))
    assert answer == {"data": {"a": [{"id": 1}], "b": [{"id": 1}]}}


def writes(log):
    """The client's writes nginx logged (debug)."""
    return [l for l in log.splitlines() if re.search(r"\bwritev: \d+ of", l)]


def settled(n):
    """The log's length once nginx has stopped writing to it (it logs a
    write once it is over, and the client may be faster)."""
    size = -1
    while size != len(n.log()):
        size = len(n.log())
        time.sleep(0.3)
    return size


def test_done_fields_go_out_with_the_next(make_nginx, pg, schema):
    """Fields already answered (__typename) go out with what follows, at
    the latest when the event loop has nothing else to do: the header and
    both in one write, the rows and the end in another (a write each for
    the header and each field before)."""
    n = make_nginx(pool=1, schema=schema, log_level="debug").start()
    q = "{ __typename t: __typename things(limit: 1) { id } }"
    n.gql(q)
    start = settled(n)
    r = n.post(q)
    assert r.json() == {"data": {"__typename": "Query", "t": "Query",
                                 "things": [{"id": 1}]}}
    assert list(r.json()["data"]) == ["__typename", "t", "things"]
    end = settled(n)
    assert len(writes(n.log()[start:end])) == 2, n.log()[start:]

    # three root fields in one pipeline: a write for each at most, the
    # answer whole and in order
    q = ("{ a: things(limit: 1) { id } b: backend { pid } "
         "c: thing(id: 2) { id } }")
    start = settled(n)
    body = n.gql(q)
    assert list(body["data"]) == ["a", "b", "c"]
    end = settled(n)
    assert 1 <= len(writes(n.log()[start:end])) <= 3
