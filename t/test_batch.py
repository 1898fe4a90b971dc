"""Batches (issue 18): a POST body that is an array of requests is
answered with the array of their answers, in order (fraiseql_batch N).
Each runs as a request of its own: a failing one fails alone, the rate
and cost zones count each, authorization checks each, mutations run in
the order listed.  t/graphql_js drives it with Apollo's BatchHttpLink."""

import os
import time

import jwt
import pytest
import requests

from test_jwt import SECRET
from test_rate_limits import keyfile  # noqa: F401

HERE = os.path.dirname(os.path.abspath(__file__))


def post(n, path, body, token=None, headers=None):
    h = dict(headers or {})
    if token:
        h["Authorization"] = "Bearer " + token
    return requests.post("http://127.0.0.1:%d%s" % (n.port, path),
                         json=body, headers=h, timeout=30)


def codes(answers):
    return [a["errors"][0]["extensions"]["code"] if "errors" in a else None
            for a in answers]


@pytest.fixture(scope="module")
def bn(pg, keyfile):  # noqa: F811
    from conftest import Nginx, SCHEMA
    n = Nginx(pg, SCHEMA, log_level="debug", http_extra="""
    fraiseql_limit_zone $binary_remote_addr zone=breq:1m rate=1r/m;
    fraiseql_limit_zone $binary_remote_addr zone=bpts:1m rate=1p/m;
    fraiseql_persisted_zone zone=bapq:1m;""", extra="""
    location /b { fraiseql; fraiseql_batch 5; fraiseql_persisted apq; }
    location /b-req { fraiseql; fraiseql_batch 10;
                      fraiseql_limit zone=breq burst=2 nodelay; }
    location /b-pts { fraiseql; fraiseql_batch 10;
                      fraiseql_limit zone=bpts burst=10 nodelay; }
    """).start()
    yield n
    n.stop()
    assert not n.problems(), "\n".join(n.problems())


def test_order_kept_and_failures_alone(bn):
    body = [{"query": "{ thing(id: %d) { id } }" % i} for i in (3, 1, 2)]
    body.insert(1, {"query": "{ nope }"})
    body.append({"query": "query ($id: ID!) { thing(id: $id) { id } }",
                 "variables": {"id": "x"}})
    r = post(bn, "/b", body)
    assert r.status_code == 200, r.text
    got = r.json()
    assert len(got) == 5
    assert [a.get("data", {}).get("thing", {}).get("id")
            for a in got[:4]] == [3, None, 1, 2]
    assert codes(got) == [None, "GRAPHQL_VALIDATION_FAILED", None, None,
                          "BAD_USER_INPUT"]

    # what is not a request is an error of its own
    r = post(bn, "/b", [1, {"query": "{ __typename }"}, {"queryy": "{ x }"}])
    assert codes(r.json()) == ["BAD_REQUEST", None, "BAD_REQUEST"]

    # GraphQL's media type: the answer's type too
    r = post(bn, "/b", [{"query": "{ __typename }"}],
             headers={"Accept": "application/graphql-response+json"})
    assert r.headers["Content-Type"].startswith(
        "application/graphql-response+json")
    assert r.json() == [{"data": {"__typename": "Query"}}]


def test_refused_batches(bn):
    r = post(bn, "/b", [{"query": "{ __typename }"}] * 6)
    assert r.status_code == 400
    assert "more than 5 (fraiseql_batch)" in r.json()["errors"][0]["message"]
    r = post(bn, "/b", [])
    assert r.status_code == 400
    r = post(bn, "/graphql", [{"query": "{ __typename }"}])
    assert r.status_code == 400
    assert "fraiseql_batch" in r.json()["errors"][0]["message"]
    # an array that is not JSON
    r = requests.post("http://127.0.0.1:%d/b" % bn.port, data="[{]",
                      headers={"Content-Type": "application/json"},
                      timeout=30)
    assert r.status_code == 400


def test_limits_count_each_operation(bn):
    # a request zone of burst 2: three pass (the batch's first is the
    # batch's own request), the others are refused inside the answer
    r = post(bn, "/b-req", [{"query": "{ thing(id: %d) { id } }" % i}
                            for i in range(1, 6)])
    assert r.status_code == 200, r.text
    assert codes(r.json()) == [None, None, None, "RATE_LIMITED",
                               "RATE_LIMITED"]
    # cost: each charged its own (4 + 4 fits 10, the next 4 does not)
    q = "query ($n: Int) { things(limit: $n) { id } }"
    r = post(bn, "/b-pts", [{"query": q, "variables": {"n": 4}}] * 3)
    assert codes(r.json()) == [None, None, "RATE_LIMITED"]


def test_mutations_run_in_order(bn, pg):
    # (users of their own, taken away after: other tests list users)
    stamp = "zz-batch-%d" % (time.time() * 1000)
    m = ('mutation { createUser(input: {email: "%s-%d@x", firstName: "a",'
         ' lastName: "b"}) { __typename } }')
    try:
        r = post(bn, "/b", [{"query": m % (stamp, i)} for i in range(5)])
        assert codes(r.json()) == [None] * 5, r.text
        # each in a transaction of its own, one after the other
        rows = pg.query("SELECT email FROM tb_user WHERE email LIKE %s "
                        "ORDER BY created_at", stamp + "-%")
        assert [e for (e,) in rows] == ["%s-%d@x" % (stamp, i)
                                        for i in range(5)]
    finally:
        pg.execute("DELETE FROM tb_user WHERE email LIKE %s", stamp + "-%")


def test_persisted_in_a_batch(bn):
    import hashlib
    q = "{ things(limit: 1) { id } }"
    h = hashlib.sha256(q.encode()).hexdigest()
    ext = {"persistedQuery": {"version": 1, "sha256Hash": h}}
    r = post(bn, "/b", [{"extensions": ext}, {"query": q, "extensions": ext},
                        {"extensions": ext}])
    assert codes(r.json()) == ["PERSISTED_QUERY_NOT_FOUND", None, None]


def test_authorization_per_operation(make_nginx, keyfile):  # noqa: F811
    n = make_nginx(schema=os.path.join(HERE, "authz.graphql"),
                   http_extra="fraiseql_jwt optional;\n"
                              "    fraiseql_jwt_key alg=HS256 file=%s;\n"
                              "    fraiseql_anon_role anon;\n"
                              "    fraiseql_batch 5;" % keyfile).start()
    now = int(time.time())
    t = jwt.encode({"sub": "u1", "role": "user", "exp": now + 300,
                    "iat": now}, SECRET, algorithm="HS256")
    r = post(n, "/graphql", [{"query": "{ memos { id title } }"},
                             {"query": "{ memos { id salary } }"},
                             {"query": "{ memos { id } }"}], token=t)
    got = r.json()
    assert codes(got) == [None, "FORBIDDEN", None], got
    assert got[0]["data"]["memos"] and got[2]["data"]["memos"]
    # without the token the same batch is the anonymous role's
    r = post(n, "/graphql", [{"query": "{ memos { id title } }"}])
    assert r.json()[0]["data"]["memos"] == []


def test_a_batch_cannot_hold_the_worker(make_nginx, pg):
    """The largest batch of the largest requests: answered, the worker
    unharmed, the pool idle after."""
    from test_hostile import Unharmed
    n = make_nginx(pool=4, http_extra="fraiseql_batch 1000;\n"
                   "    client_max_body_size 4m;").start()
    u = Unharmed(n, pg)
    body = [{"query": "{ things { id name } }"}] * 1000
    r = post(n, "/graphql", body)
    assert r.status_code == 200
    assert len(r.json()) == 1000 and codes(r.json()) == [None] * 1000
    u.check("a batch of 1,000")


def test_a_client_leaving_mid_batch(make_nginx, pg):
    """A client that closes its connection while a batch runs: the
    requests of the batch stop, the pool is idle after, the worker lives
    and nginx stops without waiting on them."""
    import socket
    from test_hostile import Unharmed, worker_pid
    n = make_nginx(pool=2, http_extra="fraiseql_batch 200;").start()
    u = Unharmed(n, pg)
    body = ('[' + ",".join(['{"query": "{ things { id name } }"}'] * 200)
            + ']').encode()
    for _ in range(5):
        s = socket.create_connection(("127.0.0.1", n.port))
        s.sendall(b"POST /graphql HTTP/1.1\r\nHost: x\r\n"
                  b"Content-Type: application/json\r\n"
                  b"Content-Length: %d\r\n\r\n" % len(body) + body)
        s.recv(512)
        s.close()
    u.check("clients leaving mid-batch")
    pid = n.pid()
    wp = worker_pid(n)
    n.stop()
    # the worker and the master are gone: nothing held them
    for p in (pid, wp):
        try:
            os.kill(p, 0)
            alive = True
        except ProcessLookupError:
            alive = False
        assert not alive, "nginx did not stop"
