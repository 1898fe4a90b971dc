"""The plan cache through nginx: $fraiseql_plan_cache says HIT or MISS, a
hit answers like a miss, variables are bound again, the cache evicts at
its size and survives reconnects."""

import time

import pytest

HEADER = "add_header X-Plan-Cache $fraiseql_plan_cache always;"


@pytest.fixture
def cached(make_nginx):
    def make(size=None, **kw):
        http = "fraiseql_plan_cache %s;" % size if size is not None else ""
        kw["extra"] = HEADER + kw.get("extra", "")
        return make_nginx(http_extra=http, **kw).start()
    return make


def post(n, query, variables=None, **kw):
    r = n.post(query, variables, **kw)
    return r.headers.get("X-Plan-Cache"), r


def test_second_identical_request_hits(cached):
    n = cached()
    q = "{ things(where: {score: {gte: 2}}, orderBy: [{id: ASC}]) { id } }"
    s1, r1 = post(n, q)
    s2, r2 = post(n, q)
    assert (s1, s2) == ("MISS", "HIT")
    assert r1.json() == r2.json()
    assert r2.json()["data"]["things"]


def test_layout_and_comments_do_not_matter(cached):
    n = cached()
    assert post(n, "{ things(limit: 2) { id name } }")[0] == "MISS"
    s, r = post(n, "# the same\n{\n  things(limit: 2) {\n    id,\n"
                   "    name\n  }\n}\n")
    assert s == "HIT"
    assert len(r.json()["data"]["things"]) == 2
    # a string's spaces are its value: another document
    assert post(n, '{ things(where: {name: {eq: "a  b"}}) { id } }')[0] \
        == "MISS"
    assert post(n, '{ things(where: {name: {eq: "a b"}}) { id } }')[0] \
        == "MISS"


def test_different_variables_share_one_plan(cached, pg):
    n = cached()
    q = "query ($id: ID!) { thing(id: $id) { id score } }"
    seen = []
    for i in (1, 2, 3, 1):
        s, r = post(n, q, {"id": i})
        seen.append(s)
        want = pg.query("SELECT (data->>'score')::int FROM v_thing"
                        " WHERE id = %s", i)[0][0]
        assert r.json() == {"data": {"thing": {"id": i, "score": want}}}
    assert seen == ["MISS", "HIT", "HIT", "HIT"]


def test_filter_variables_bound_again(cached, pg):
    n = cached()
    q = ("query ($w: ThingWhereInput, $n: Int) { things(where: $w, "
         "orderBy: [{id: ASC}], limit: $n) { id } }")

    def want(sql, *args):
        return [r[0] for r in pg.query(
            "SELECT id FROM v_thing WHERE %s ORDER BY id" % sql, *args)]

    s, r = post(n, q, {"w": {"score": {"gt": 1}}, "n": 100})
    assert s == "MISS"
    assert [t["id"] for t in r.json()["data"]["things"]] == \
        want("(data->>'score')::numeric > 1")
    s, r = post(n, q, {"w": {"score": {"gt": 3}}, "n": 100})
    assert s == "HIT"
    assert [t["id"] for t in r.json()["data"]["things"]] == \
        want("(data->>'score')::numeric > 3")
    # another operator: another SQL text, so another plan
    s, r = post(n, q, {"w": {"name": {"contains": "%"}}, "n": 100})
    assert s == "MISS"
    s, r = post(n, q, {"w": {"name": {"contains": "a"}}, "n": 1})
    assert s == "HIT"
    assert [t["id"] for t in r.json()["data"]["things"]] == \
        want("data->>'name' LIKE '%%a%%'")[:1]


def test_limits_are_checked_on_a_hit(cached):
    n = cached(extra=" fraiseql_max_limit 10;")
    q = "query ($n: Int) { things(limit: $n) { id } }"
    assert post(n, q, {"n": 5})[0] == "MISS"
    s, r = post(n, q, {"n": 50})
    assert s == "HIT"
    assert "over the maximum of 10" in r.json()["errors"][0]["message"]
    s, r = post(n, q, {"n": "x"})
    assert s == "HIT" or s == "MISS"
    assert r.json()["errors"]


def test_include_variable_picks_its_plan(cached):
    n = cached()
    q = ("query ($b: Boolean!) { thing(id: 1) { id name @include(if: $b) }"
         " }")
    answers = [post(n, q, {"b": b}) for b in (True, False, True, False)]
    assert [s for s, _ in answers] == ["MISS", "MISS", "HIT", "HIT"]
    assert "name" in answers[2][1].json()["data"]["thing"]
    assert "name" not in answers[3][1].json()["data"]["thing"]


def test_introspection_is_cached_by_name(cached):
    n = cached()
    q = "query ($t: String!) { __type(name: $t) { name kind } }"
    assert post(n, q, {"t": "Thing"})[1].json()["data"]["__type"]["name"] \
        == "Thing"
    s, r = post(n, q, {"t": "Code"})
    assert r.json()["data"]["__type"] == {"name": "Code", "kind": "ENUM"}
    big = "{ __schema { types { name fields { name } } } }"
    assert post(n, big)[0] == "MISS"
    s, r = post(n, big)
    assert s == "HIT"
    assert len(r.json()["data"]["__schema"]["types"]) > 20


def test_cache_evicts_at_its_size(cached):
    n = cached(size=2)
    docs = ["{ thing(id: %d) { id } }" % i for i in (1, 2, 3)]
    assert [post(n, d)[0] for d in docs] == ["MISS"] * 3
    # 1 went first; 3 is the most recently used
    assert post(n, docs[2])[0] == "HIT"
    assert post(n, docs[0])[0] == "MISS"
    assert post(n, docs[1])[0] == "MISS"
    assert post(n, docs[0])[0] == "HIT"


def test_cache_off(cached):
    n = cached(size="off")
    s, r = post(n, "{ thing(id: 1) { id } }")
    assert s is None
    assert r.json() == {"data": {"thing": {"id": 1}}}
    assert post(n, "{ thing(id: 1) { id } }")[0] is None


def test_errors_are_not_cached(cached):
    n = cached()
    for _ in range(2):
        s, r = post(n, "{ nope }")
        assert r.json()["errors"][0]["message"].startswith(
            'Cannot query field "nope"')
        s, r = post(n, "{ nope ")
        assert r.json()["errors"][0]["extensions"]["code"] == \
            "GRAPHQL_PARSE_FAILED"


def test_reconnect_prepares_again(cached, pg):
    """A hit runs its statement by name; on a new connection it is
    prepared first."""
    n = cached(pool=1)
    q = "query ($n: Int) { things(where: {score: {gt: $n}}) { id } }"
    assert post(n, q, {"n": 0})[0] == "MISS"
    assert post(n, q, {"n": 1})[0] == "HIT"
    pg.query("SELECT count(pg_terminate_backend(pid)) FROM"
             " pg_stat_activity WHERE application_name = %s",
             "fraiseql-%d" % n.port)
    time.sleep(0.2)
    for v in (0, 2):
        s, r = post(n, q, {"n": v})
        assert s == "HIT"
        assert "errors" not in r.json(), r.text


def test_get_mutation_still_refused(cached):
    n = cached()
    for _ in range(2):
        r = __import__("requests").get(
            n.url, params={"query": "mutation { x }"}, timeout=10)
        assert r.status_code == 405


def test_bad_directive_value(pg):
    from conftest import Nginx, SCHEMA
    for bad in ("0", "-1", "lots"):
        r = Nginx(pg, SCHEMA,
                  http_extra="fraiseql_plan_cache %s;" % bad).cmd("-t")
        assert r.returncode != 0
        assert "fraiseql_plan_cache" in r.stderr
