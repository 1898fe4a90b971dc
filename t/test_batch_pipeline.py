"""One round trip for a batch (issue 18): the queries of a batch gather
their statements in one pipeline, on one pooled connection, with one Sync;
answers keep the batch's order, a mutation waits for the queries before
it and the queries after it see what it did."""

import re
import threading
import time

import pytest
import requests

from test_one_round_trip import schema  # noqa: F401


def post(n, path, body, timeout=30, **kw):
    return requests.post("http://127.0.0.1:%d%s" % (n.port, path),
                         json=body, timeout=timeout, **kw)


LOC = "location /b { fraiseql; fraiseql_batch 20; }"


def pid(answer, key="backend"):
    return answer["data"][key][0]["pid"]


def test_queries_of_a_batch_share_one_connection(make_nginx, pg,
                                                 schema):  # noqa: F811
    n = make_nginx(pool=4, schema=schema, extra=LOC,
                   log_level="debug").start()
    body = [{"query": "{ backend { pid } }"}] * 3
    r = post(n, "/b", body, timeout=10)
    assert r.status_code == 200
    got = r.json()
    assert len({pid(a) for a in got}) == 1, got
    assert n.backends(pg) == 1
    # one pipeline: the three statements, then one Sync
    assert n.log().count("the batch's pipeline goes") == 1
    assert n.log().count("root fields join the batch's pipeline") == 3

    # several root fields each, and requests that fail before SQL: one
    # pipeline all the same, answers in the batch's order
    body = [{"query": "{ a: backend { pid } b: things(limit: 1) { id } }"},
            {"query": "{ nope }"},
            {"query": "{ __typename }"},
            {"query": "{ c: things(limit: 2, orderBy: [{id: DESC}]) { id }"
                      " d: backend { pid } }"}]
    got = post(n, "/b", body).json()
    assert got[0]["data"]["b"] == [{"id": 1}]
    assert got[1]["errors"][0]["extensions"]["code"] == \
        "GRAPHQL_VALIDATION_FAILED"
    assert got[2] == {"data": {"__typename": "Query"}}
    assert len(got[3]["data"]["c"]) == 2
    assert pid(got[0], "a") == pid(got[3], "d")
    assert n.backends(pg) == 1


def test_batches_at_once(make_nginx, pg, schema):  # noqa: F811
    """16 clients sending batches of 4: each batch's answers are its own,
    in order, one backend per batch; the pool holds no more connections
    than it may."""
    n = make_nginx(pool=4, schema=schema, extra=LOC).start()
    answers, errors = [], []

    def client(k):
        try:
            for i in range(15):
                body = [{"query": "{ thing(id: %d) { id } backend { pid } }"
                                  % (1 + (k + i + j) % 3)}
                        for j in range(4)]
                r = post(n, "/b", body)
                answers.append((k, i, r.json()))
        except Exception as e:      # noqa: BLE001 (reported below)
            errors.append(e)

    threads = [threading.Thread(target=client, args=(k,))
               for k in range(16)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert not errors, errors
    assert len(answers) == 16 * 15
    for k, i, got in answers:
        assert [a["data"]["thing"]["id"] for a in got] == \
            [1 + (k + i + j) % 3 for j in range(4)], got
        assert len({pid(a) for a in got}) == 1, got
    assert n.backends(pg) <= 4


STAMP = "zz-bpipe-%d" % (time.time() * 1000)
MUT = ('mutation { createUser(input: {email: "%s-%d@x", firstName: "a",'
       ' lastName: "b"}) { __typename } }')
COUNT = ('{ users(where: {email: {startswith: "%s"}}) { email } '
         'backend { pid } }' % STAMP)


@pytest.fixture
def stamped(pg):
    yield
    # (users of their own, taken away: other tests list users)
    pg.execute("DELETE FROM tb_user WHERE email LIKE %s", STAMP + "-%")


def test_mutations_keep_their_place(make_nginx, pg, schema,  # noqa: F811
                                    stamped):
    """Queries before a mutation do not see it, queries after it do; the
    mutation waits for the pipeline gathered before it, and the requests
    after it start once it is done."""
    n = make_nginx(pool=4, schema=schema, extra=LOC,
                   log_level="debug").start()
    body = [{"query": COUNT}, {"query": COUNT}, {"query": MUT % (STAMP, 1)},
            {"query": COUNT}, {"query": MUT % (STAMP, 2)},
            {"query": COUNT}, {"query": COUNT}]
    got = post(n, "/b", body).json()
    assert all("errors" not in a for a in got), got
    assert [len(a["data"]["users"]) for a in got if "users" in a["data"]] \
        == [0, 0, 1, 2, 2], got
    # the queries between mutations: one pipeline each group
    assert pid(got[0]) == pid(got[1])
    assert pid(got[5]) == pid(got[6])
    assert n.log().count("a mutation waits for") == 2


@pytest.mark.parametrize("where", [0, 1, 2])
def test_a_failing_statement_spares_the_others(make_nginx, pg,
                                               schema,  # noqa: F811
                                               where):
    """One statement of the batch's pipeline fails in PostgreSQL: its
    request answers its error, PostgreSQL skipped those after it and they
    run again; the others are answered and the connection serves on."""
    body = [{"query": "{ things(limit: 2, orderBy: [{id: ASC}]) { id } }"},
            {"query": "{ backend { pid } }"},
            {"query": "{ things(limit: 1, orderBy: [{id: DESC}]) { id } }"}]
    body[where] = {"query": '{ thing(id: "x") { id } }'}
    n = make_nginx(pool=1, schema=schema, extra=LOC).start()
    for _ in range(2):
        got = post(n, "/b", body).json()
        for i, a in enumerate(got):
            if i == where:
                assert a["data"]["thing"] is None
                assert a["errors"][0]["extensions"]["code"] == \
                    "BAD_USER_INPUT"
            else:
                assert "errors" not in a and all(a["data"].values()), a
    assert n.backends(pg) == 1
    got = post(n, "/b", [{"query": "{ backend { pid } }"}] * 2).json()
    assert "errors" not in got[0] and pid(got[0]) == pid(got[1])


def test_backend_killed_in_the_middle(make_nginx, pg,
                                      schema):  # noqa: F811
    """The pipeline's backend is killed while the batch's second request
    runs: it runs again, the third too, on a new connection; every answer
    is whole."""
    n = make_nginx(pool=2, schema=schema, extra=LOC,
                   log_level="debug").start()
    body = [{"query": "{ things(limit: 1) { id } }"},
            {"query": "{ slower { id } }"},
            {"query": "{ things(limit: 2, orderBy: [{id: DESC}]) { id } }"}]
    post(n, "/b", [{"query": "{ backend { pid } }"}])
    result = {}

    def run():
        result["r"] = post(n, "/b", body)

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
    got = result["r"].json()
    assert got[0] == {"data": {"things": [{"id": 1}]}}
    assert got[1] == {"data": {"slower": [{"id": 1}]}}, got
    assert len(got[2]["data"]["things"]) == 2
    assert 'connection failed while running "slower"' in n.log()
    assert re.search(r'slot 0: run 2: ".*v_slower', n.log())
    got = post(n, "/b", [{"query": "{ backend { pid } }"}] * 2).json()
    assert "errors" not in got[0]
    assert n.backends(pg) <= 2
