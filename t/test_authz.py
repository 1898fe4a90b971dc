"""Authorization (issue 16): roles and their inheritance, rules on fields,
types and root fields (@auth, @authenticated) checked for each request
against the plan's compiled requirements, and row filters (@rowFilter)
ANDed into every read of a type, bound from the caller's claims.  The
schema is t/authz.graphql over the memos of t/fixtures.sql; tokens are
made by python3-jwt."""

import os
import re
import tempfile
import time

import jwt
import pytest
import requests

from test_jwt import SECRET

HERE = os.path.dirname(os.path.abspath(__file__))
AUTHZ = os.path.join(HERE, "authz.graphql")


def tok(role=None, sub="u1", **claims):
    now = int(time.time())
    body = {"sub": sub, "exp": now + 300, "iat": now}
    if role:
        body["role"] = role
    body.update(claims)
    return jwt.encode(body, SECRET, algorithm="HS256")


@pytest.fixture(scope="module")
def az(pg):
    from conftest import Nginx
    d = tempfile.mkdtemp(prefix="fraiseql-keys-")
    key = os.path.join(d, "hs.key")
    with open(key, "w") as f:
        f.write(SECRET)
    n = Nginx(pg, AUTHZ, pool=2, log_level="debug",
              extra="location /graphql-null { fraiseql; "
                    "fraiseql_auth_denied null; }",
              http_extra="fraiseql_jwt optional;\n"
                         "    fraiseql_jwt_key alg=HS256 file=%s;\n"
                         "    fraiseql_anon_role anon;\n" % key).start()
    yield n
    n.stop()
    assert not n.problems(), "\n".join(n.problems())


def ask(n, query, token=None, path="/graphql", variables=None):
    h = {"Authorization": "Bearer " + token} if token else {}
    body = {"query": query}
    if variables is not None:
        body["variables"] = variables
    return requests.post("http://127.0.0.1:%d%s" % (n.port, path),
                         json=body, headers=h, timeout=30)


def data(n, query, token=None, **kw):
    r = ask(n, query, token, **kw)
    assert r.status_code == 200, r.text
    assert "errors" not in r.json(), r.text
    return r.json()["data"]


def ids(rows):
    return sorted(int(x["id"]) for x in rows)


def statements(n):
    return len(re.findall(r"fraiseql slot \d+: run", n.log()))


def forbidden(n, query, token, path):
    before = statements(n)
    r = ask(n, query, token)
    assert r.status_code == 403, r.text
    errs = r.json()["errors"]
    assert "data" not in r.json()
    assert all(e["extensions"]["code"] == "FORBIDDEN" for e in errs)
    assert any(e["message"] == "Not allowed: %s." % path for e in errs), \
        errs
    assert statements(n) == before
    return errs


MEMOS = "{ memos { id } }"
MANAGER_T1 = dict(role="manager", sub="u9", org={"tenant": "t1"})


# ---- row filters ----


@pytest.mark.parametrize("who,want", [
    (dict(role="user", sub="u1"), [1, 5]),
    (dict(role="user", sub="u3"), [3]),
    (MANAGER_T1, [1, 2]),
    # a manager is a user too: its own memos, and its tenant's
    (dict(role="manager", sub="u1", org={"tenant": "t3"}), [1, 4, 5]),
    (dict(role="admin", sub="x"), [1, 2, 3, 4, 5]),
    (dict(role="auditor", sub="x"), [1, 2, 3, 4, 5]),
    # a manager without the claim: no tenant matches
    (dict(role="manager", sub="u3"), [3]),
    # roles the schema does not declare have no filter: no rows
    (dict(role="guest", sub="u1"), []),
    (dict(sub="u1"), []),
])
def test_each_role_reads_its_rows(az, who, want):
    assert ids(data(az, MEMOS, tok(**who))["memos"]) == want


def test_no_token_reads_no_rows(az):
    assert data(az, MEMOS)["memos"] == []


@pytest.mark.parametrize("where", [
    '{ owner: { eq: "u2" } }',
    '{ OR: [{ owner: { eq: "u2" } }, { title: { neq: "" } }] }',
    '{ NOT: { owner: { eq: "u1" } } }',
    '{ tenant: { in: ["t1", "t2", "t3"] } }',
    "{ title: { eq: \"x' OR 1=1 --\" } }",
])
def test_a_client_where_cannot_widen_the_filter(az, where):
    rows = data(az, "{ memos(where: %s) { id owner } }" % where,
                tok("user", "u1"))["memos"]
    assert all(r["owner"] == "u1" for r in rows)


def test_every_read_of_the_type_is_filtered(az):
    u1 = tok("user", "u1")
    assert data(az, '{ memo(id: 2) { id } }', u1) == {"memo": None}
    assert data(az, '{ memo(id: 5) { id } }', u1) == {"memo": {"id": "5"}}
    d = data(az, "{ memosConnection(first: 10) { totalCount "
                 "nodes { id } pageInfo { hasNextPage } } }", u1)
    assert d["memosConnection"]["totalCount"] == 2
    assert ids(d["memosConnection"]["nodes"]) == [1, 5]
    d = data(az, "{ memosAggregate { count groupBy(fields: [tenant]) "
                 "{ key { tenant } count } } }", u1)
    assert d["memosAggregate"]["count"] == 2
    assert sorted((g["key"]["tenant"], g["count"])
                  for g in d["memosAggregate"]["groupBy"]) == \
        [("t1", 1), ("t2", 1)]
    # rows of a query function, and its one row
    d = data(az, '{ memosLike(pattern: "%a%") { id } }', u1)
    assert ids(d["memosLike"]) == [1]
    d = data(az, '{ firstMemoLike(pattern: "%e%") { id } }', u1)
    assert d["firstMemoLike"] == {"id": "5"}
    # through fragments and aliases too
    d = data(az, "query { a: memos { ...M } b: memo(id: 3) { ...M } } "
                 "fragment M on Memo { id }", u1)
    assert ids(d["a"]) == [1, 5] and d["b"] is None


def test_a_cached_plan_answers_each_caller_with_its_rows(az):
    q = "query Mine($n: Int) { memos(limit: $n) { id } }"
    hits = az.log().count("fraiseql plan: cache hit")
    for _ in range(3):
        for who, want in ((dict(role="user", sub="u1"), [1, 5]),
                          (MANAGER_T1, [1, 2]),
                          (dict(role="user", sub="u3"), [3]),
                          (dict(role="admin"), [1, 2, 3, 4, 5]),
                          ({}, [])):
            t = tok(**who) if who else None
            assert ids(data(az, q, t, variables={"n": 10})["memos"]) == want
    # one plan, compiled once, served to all five callers
    assert az.log().count("fraiseql plan: cache hit") == hits + 14


def test_claims_are_bound_never_written(az):
    # a claim that looks like SQL is a value
    t = tok("user", sub="u1' OR '1'='1")
    assert data(az, MEMOS, t)["memos"] == []
    # a claim of another type than the field's: no rows, no error
    t = tok("manager", sub="zz", org={"tenant": ["t1"]})
    assert data(az, MEMOS, t)["memos"] == []
    sql = [line for line in az.log().splitlines() if "u1' OR" in line]
    assert not [line for line in sql if "SELECT" in line]


# ---- rules ----


def test_a_field_rule(az):
    q = "{ memos { id salary } }"
    forbidden(az, q, tok("user", "u1"), "memos.salary")
    d = data(az, q, tok(**MANAGER_T1))
    assert [m["salary"] for m in d["memos"]] == [100, 200]
    # grants flow down inherits: admin has manager's, not the other way
    assert len(data(az, q, tok("admin"))["memos"]) == 5
    forbidden(az, q, tok("auditor"), "memos.salary")
    forbidden(az, q, None, "memos.salary")


def test_guarded_fields_cannot_be_filtered_ordered_or_aggregated(az):
    u1 = tok("user", "u1")
    forbidden(az, "{ memos(where: { salary: { gt: 150 } }) { id } }", u1,
              "memos.where")
    forbidden(az, "{ memos(orderBy: [{ salary: DESC }]) { id } }", u1,
              "memos.orderBy")
    forbidden(az, "{ memosAggregate { sum { salary } } }", u1,
              "memosAggregate.sum.salary")
    forbidden(az, "{ memosAggregate { groupBy(fields: [secret]) "
                  "{ count } } }", u1, "memosAggregate.groupBy")
    forbidden(az, "{ memosConnection(first: 2) { nodes { salary } } }", u1,
              "memosConnection.nodes.salary")
    m = tok(**MANAGER_T1)
    d = data(az, "{ memosAggregate { sum { salary } } }", m)
    assert d["memosAggregate"]["sum"]["salary"] == 300


def test_permissions_and_scopes(az):
    q = "{ memos { id secret } }"
    forbidden(az, q, tok("user", "u1"), "memos.secret")
    forbidden(az, q, tok("user", "u1", permissions=["memo:read"]),
              "memos.secret")
    d = data(az, q, tok("user", "u1", permissions=["x", "memo:read_secret"]))
    assert [m["secret"] for m in d["memos"]] == ["s1", "s5"]
    q = "{ memos { id note } }"
    forbidden(az, q, tok("user", "u1", scope="pii:read"), "memos.note")
    forbidden(az, q, tok("user", "u1", scope="hr"), "memos.note")
    assert data(az, q, tok("user", "u1", scope="openid pii:read hr"))
    assert data(az, q, tok("user", "u1", scope="notes"))
    assert data(az, q, tok("user", "u1", scp=["notes"]))


def test_type_and_root_field_rules(az):
    forbidden(az, "{ titles { id } }", None, "titles")
    assert len(data(az, "{ titles { id } }", tok("guest"))["titles"]) == 5
    forbidden(az, "{ everyMemo { id } }", tok("manager"), "everyMemo")
    assert len(data(az, "{ everyMemo { id } }", tok("admin"))
               ["everyMemo"]) == 5


def test_a_denied_mutation_does_not_run(az, pg):
    m = "mutation { touchMemo(input: { id: 1 }) { id title } }"
    forbidden(az, m, tok("user", "u1"), "touchMemo")
    d = data(az, m, tok(**MANAGER_T1))
    assert d["touchMemo"] == {"id": "1", "title": "alpha"}


def test_several_denials_are_all_named(az):
    errs = forbidden(az, "{ memos { salary secret } everyMemo { id } }",
                     tok("user", "u1"), "memos.salary")
    assert sorted(e["message"] for e in errs) == [
        "Not allowed: everyMemo.", "Not allowed: memos.salary.",
        "Not allowed: memos.secret."]


# ---- fraiseql_auth_denied null ----


def test_null_mode_answers_null_with_an_error(az):
    r = ask(az, "{ memos { id salary title } everyMemo { id } "
                "memo(id: 1) { id } }", tok("user", "u1"),
            path="/graphql-null")
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["data"]["memos"] == [
        {"id": "1", "salary": None, "title": "alpha"},
        {"id": "5", "salary": None, "title": "epsilon"}]
    assert body["data"]["everyMemo"] is None
    assert body["data"]["memo"] == {"id": "1"}
    assert sorted(e["message"] for e in body["errors"]) == [
        "Not allowed: everyMemo.", "Not allowed: memos.salary."]
    assert all(e["extensions"]["code"] == "FORBIDDEN"
               for e in body["errors"])
    # the same plan serves who may, in full
    r = ask(az, "{ memos { id salary title } everyMemo { id } "
                "memo(id: 1) { id } }", tok("admin"), path="/graphql-null")
    assert "errors" not in r.json()
    assert r.json()["data"]["memos"][0]["salary"] == 100


def test_null_mode_mutation_is_not_run(az):
    r = ask(az, "mutation { touchMemo(input: { id: 1 }) { id } }",
            tok("user", "u1"), path="/graphql-null")
    assert r.status_code == 200
    assert r.json()["data"] == {"touchMemo": None}
    assert r.json()["errors"][0]["extensions"]["code"] == "FORBIDDEN"


# ---- the schema's mistakes fail nginx -t ----


ROLES = ('extend schema @role(name: "user") @role(name: "boss", '
         'inherits: ["user"])\n')
TYPE = 'type Memo @view(name: "v_memo") %s {\n  id: ID!\n  owner: String\n'
QUERY = "}\ntype Query { memos: [Memo!]! }\n"


@pytest.mark.parametrize("sdl,where,message", [
    ('extend schema @role(name: "a", inherits: ["b"]) '
     '@role(name: "b", inherits: ["c"]) @role(name: "c", inherits: ["a"])\n'
     + TYPE % "" + QUERY, ":1:15:",
     "The roles inherit in a cycle: a -> b -> c -> a."),
    ('extend schema @role(name: "a", inherits: ["zz"])\n' + TYPE % ""
     + QUERY, ":1:43:", 'the role "zz" is not declared'),
    (ROLES + TYPE % "" + '  x: Int @auth(roles: ["admin"])\n' + QUERY,
     ":5:24:", '@auth(roles:): the role "admin" is not declared'),
    (ROLES + TYPE % '@rowFilter(roles: ["user"], where: "{ nope: '
     '{ eq: 1 } }")' + QUERY, ":2:68:", "@rowFilter(where:) on \"Memo\": "
     'Field "nope" is not defined by type "MemoWhereInput".'),
    (ROLES + TYPE % '@rowFilter(roles: ["user"], where: "{ owner: '
     '{ eq: $tenant } }")' + QUERY, ":2:68:", "the only variables are "
     "claims"),
    (ROLES + TYPE % '@rowFilter(roles: ["user"], where: "{ owner: '
     '{ eq: $jwt\\"sub\\" } }")' + QUERY, ":2:68:", "is not a JSON pointer"),
    (ROLES + 'type Plain @rowFilter(roles: ["user"], where: "{}") '
     '{ id: ID! }\n' + TYPE % "" + QUERY, ":2:12:",
     "@rowFilter applies to @view types only"),
    (ROLES + 'extend schema @role(name: "user")\n' + TYPE % "" + QUERY,
     ":2:15:", 'The role "user" is declared twice.'),
    (ROLES + TYPE % "" + '  x: Int @auth\n' + QUERY, ":5:10:",
     "@auth needs roles, permissions or scopes"),
    ('extend schema @role(name: "Admin")\n' + TYPE % "" + QUERY, ":1:15:",
     "@role(name:) must be a role's name"),
])
def test_schema_mistakes_fail_nginx_t(pg, sdl, where, message):
    from conftest import Nginx
    with tempfile.NamedTemporaryFile("w", suffix=".graphql",
                                     delete=False) as f:
        f.write(sdl)
    try:
        r = Nginx(pg, f.name).cmd("-t")
        assert r.returncode != 0
        assert where in r.stderr and message in r.stderr, r.stderr
    finally:
        os.unlink(f.name)


# ---- introspection ----


INTRO = ("{ memo: __type(name: \"Memo\") { fields { name } } "
         "title: __type(name: \"Title\") { name } "
         "where: __type(name: \"MemoWhereInput\") { inputFields { name } } "
         "query: __schema { queryType { fields { name } } types { name } } }")


def shown(n, token):
    d = data(n, INTRO, token)
    return (
        {f["name"] for f in d["memo"]["fields"]},
        d["title"],
        {f["name"] for f in d["where"]["inputFields"]},
        {f["name"] for f in d["query"]["queryType"]["fields"]},
        {t["name"] for t in d["query"]["types"]})


def test_introspection_shows_each_caller_what_it_may_use(az):
    # three rounds: answers are cached per caller's rights, never shared
    for _ in range(3):
        fields, title, where, query, types = shown(az, None)
        assert fields == {"id", "tenant", "owner", "title"}
        assert title is None and "Title" not in types
        assert "salary" not in where and "owner" in where
        assert "everyMemo" not in query and "titles" not in query
        assert "memos" in query

        fields, title, where, query, types = shown(az, tok("user", "u1"))
        assert fields == {"id", "tenant", "owner", "title"}
        assert title == {"name": "Title"} and "titles" in query
        assert "everyMemo" not in query

        fields, _, where, query, _ = shown(
            az, tok("admin", permissions=["memo:read_secret"]))
        assert fields == {"id", "tenant", "owner", "title", "salary",
                          "secret"}
        assert "salary" in where and "everyMemo" in query

        fields, _, _, _, _ = shown(az, tok("user", scope="notes"))
        assert "note" in fields and "salary" not in fields


def test_denials_again_and_again_leave_the_worker_unharmed(az, pg):
    """Refused and nulled operations by the hundred, and claims made to
    look like SQL: the worker the same process, its pool idle, its
    memory within bounds, the rows still each caller's."""
    from test_hostile import (assert_rss_growth, rss_kb, wait_pool_idle,
                              worker_pid)
    pid = worker_pid(az)
    base = rss_kb(pid)
    u1 = tok("user", "u1")
    sly = tok("manager", sub="x' OR 1=1 --", org={"tenant": "t1' --"})
    for i in range(100):
        assert ask(az, "{ m%d: memos { salary secret } everyMemo { id } }"
                   % i, u1).status_code == 403
        assert ask(az, "{ m%d: memos { id salary } }" % i, u1,
                   path="/graphql-null").status_code == 200
        assert ask(az, MEMOS, sly).json() == {"data": {"memos": []}}
    assert worker_pid(az) == pid
    wait_pool_idle(az, pg, timeout=10)
    assert_rss_growth(pid, base, 32, "300 denied or filtered operations")
    assert ids(data(az, MEMOS, u1)["memos"]) == [1, 5]
