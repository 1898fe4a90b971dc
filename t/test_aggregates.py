"""Aggregates (issue 14, item 3): `pagesAggregate` over v_page and
`usersAggregate` over the demo users.

count, sum, avg, min and max of every numeric and date/time field of Page
(score Int, price Decimal, ratio Float, at DateTime, day Date), and
groupBy on grp (an @column String with nulls), kind (an enum), flag
(Boolean with nulls), name and two fields at once, each compared with
SQL written by hand over v_page, with and without `where` (injection
strings included: the answer must be SQL's with the string bound).
Decimals compare exactly, Floats with a tolerance, DateTimes as
instants.
"""

import json
import math
import os
import re
import tempfile
from datetime import date, datetime
from decimal import Decimal

import pytest
import requests

from conftest import Nginx, SCHEMA

HTTP = requests.Session()

NUMERIC = ["score", "price", "ratio"]
ORDERED = NUMERIC + ["at", "day"]
# each field's expression over v_page, as the hand-written SQL reads it
EXPR = {
    "score": "(data->>'score')::int",
    "price": "(data->>'price')::numeric",
    "ratio": "(data->>'ratio')::float8",
    "at": "(data->>'at')::timestamptz",
    "day": "(data->>'day')::date",
    "grp": "grp",
    "kind": "data->>'kind'",
    "flag": "(data->>'flag')::boolean",
    "name": "data->>'name'",
}
KIND = {"score": "int", "price": "decimal", "ratio": "float",
        "at": "datetime", "day": "date"}

SEL = ("count sum { %s } avg { %s } min { %s } max { %s }"
       % (" ".join(NUMERIC), " ".join(NUMERIC), " ".join(ORDERED),
          " ".join(ORDERED)))


def columns():
    """The SELECT list, in the order unpack() reads it."""
    cols = ["count(*)"]
    cols += ["sum(%s)" % EXPR[f] for f in NUMERIC]
    cols += ["avg(%s)" % EXPR[f] for f in NUMERIC]
    cols += ["min(%s)" % EXPR[f] for f in ORDERED]
    cols += ["max(%s)" % EXPR[f] for f in ORDERED]
    return ", ".join(cols)


def unpack(row):
    row = list(row)
    out = {"count": row.pop(0)}
    for agg, fields in (("sum", NUMERIC), ("avg", NUMERIC),
                        ("min", ORDERED), ("max", ORDERED)):
        out[agg] = {f: row.pop(0) for f in fields}
    return out


def post(url, query, variables=None):
    body = {"query": query}
    if variables is not None:
        body["variables"] = variables
    return HTTP.post(url, json=body, timeout=30)


def answer(url, query, variables=None):
    r = post(url, query, variables)
    assert r.status_code == 200, r.text[:2000]
    # exact decimals: every JSON number with a fraction as a Decimal
    body = json.loads(r.text, parse_float=Decimal)
    assert "errors" not in body, body
    return body["data"]


def instant(s):
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?"
                        r"(Z|[+-]\d\d:\d\d)", s), s
    return datetime.fromisoformat(s.replace("Z", "+00:00"))


def same_value(kind, got, want, what):
    if want is None:
        assert got is None, (what, got)
        return
    assert got is not None, (what, want)
    if kind == "int":
        assert isinstance(got, int) and not isinstance(got, bool), \
            (what, got)
        assert got == want, (what, got, want)
    elif kind == "decimal":
        # a number or a string holding one
        assert isinstance(got, (int, Decimal, str)), (what, got)
        assert Decimal(str(got)) == Decimal(want), (what, got, want)
    elif kind == "float":
        assert isinstance(got, (int, Decimal)), (what, got)
        assert math.isclose(float(got), float(want), rel_tol=1e-9,
                            abs_tol=1e-9), (what, got, want)
    elif kind == "datetime":
        assert instant(got) == want, (what, got, want)
    elif kind == "date":
        assert got == want.isoformat(), (what, got, want)
    else:
        assert got == want, (what, got, want)


def same_aggregates(got, want, what=""):
    assert got["count"] == want["count"], (what, got, want)
    for agg, fields in (("sum", NUMERIC), ("avg", NUMERIC),
                        ("min", ORDERED), ("max", ORDERED)):
        g = got[agg]
        if want["count"] == 0 and g is None:
            continue            # null on an empty set: the object or each
        for f in fields:
            if agg in ("sum", "avg"):
                # Int and Float fields as Float, Decimal as Decimal
                kind = "decimal" if f == "price" else "float"
            else:
                kind = KIND[f]
            same_value(kind, g[f], want[agg][f], (what, agg, f))


def sql_aggregates(pg, where="TRUE", *params):
    return unpack(pg.query("SELECT %s FROM v_page WHERE %s"
                           % (columns(), where), *params)[0])


def sql_groups(pg, keys, where="TRUE", *params, limit=None):
    sel = ", ".join(EXPR[k] for k in keys)
    by = ", ".join(str(i + 1) for i in range(len(keys)))
    rows = pg.query("SELECT %s, %s FROM v_page WHERE %s GROUP BY %s"
                    " ORDER BY %s%s"
                    % (sel, columns(), where, by,
                       ", ".join("%d ASC NULLS LAST" % (i + 1)
                                 for i in range(len(keys))),
                       "" if limit is None else " LIMIT %d" % limit),
                    *params)
    return [(dict(zip(keys, r[:len(keys)])), unpack(r[len(keys):]))
            for r in rows]


AGG_Q = """query ($w: PageWhereInput) {
  pagesAggregate(where: $w) { %s }
}""" % SEL


def group_query(keys, limit=None):
    return """query ($w: PageWhereInput) {
  pagesAggregate(where: $w) {
    groupBy(fields: [%s]%s) { key { %s } %s }
  }
}""" % (", ".join(keys), "" if limit is None else ", limit: %d" % limit,
        " ".join(keys), SEL)


def same_groups(got, want, what=""):
    assert [g["key"] for g in got] == [k for k, _ in want], what
    for g, (_, w) in zip(got, want):
        same_aggregates(g, w, (what, g["key"]))


# -------------------------------------------------------- whole set

def test_aggregates_of_every_field(ngx, pg):
    got = answer(ngx.url, AGG_Q)["pagesAggregate"]
    want = sql_aggregates(pg)
    assert want["count"] == 200
    same_aggregates(got, want)
    # the keys in selection order
    assert list(got) == ["count", "sum", "avg", "min", "max"]
    assert list(got["min"]) == ORDERED


def test_aggregates_as_a_literal_and_aliased(ngx, pg):
    q = ('{ a: pagesAggregate(where: {kind: {eq: C}}) { n: count '
         'total: sum { s: score } least: min { d: day at } } '
         'b: pagesAggregate { count } __typename }')
    d = answer(ngx.url, q)
    want = sql_aggregates(pg, "data->>'kind' = 'C'")
    assert d["a"]["n"] == want["count"]
    same_value("float", d["a"]["total"]["s"], want["sum"]["score"], "sum")
    assert d["a"]["least"]["d"] == want["min"]["day"].isoformat()
    assert instant(d["a"]["least"]["at"]) == want["min"]["at"]
    assert list(d["a"]["least"]) == ["d", "at"]
    assert d["b"] == {"count": 200}
    assert d["__typename"] == "Query"


def test_typenames(ngx):
    q = ('{ pagesAggregate { __typename sum { __typename } avg '
         '{ __typename } min { __typename } max { __typename } '
         'groupBy(fields: [kind]) { __typename key { __typename } } } }')
    a = answer(ngx.url, q)["pagesAggregate"]
    assert a["__typename"] == "PageAggregate"
    assert a["sum"] == {"__typename": "PageSumFields"}
    assert a["avg"] == {"__typename": "PageAvgFields"}
    assert a["min"] == {"__typename": "PageMinFields"}
    assert a["max"] == {"__typename": "PageMaxFields"}
    assert a["groupBy"][0] == {"__typename": "PageGroup",
                               "key": {"__typename": "PageGroupKey"}}


# where filters, as variables, and the SQL each means with the same
# values bound
WHERES = [
    ({"score": {"gte": 5}}, "(data->>'score')::int >= %s", [5]),
    ({"name": {"lt": "name 2'; DROP TABLE tb_page; --"}},
     "data->>'name' < %s", ["name 2'; DROP TABLE tb_page; --"]),
    ({"name": {"contains": "1' OR '1'='1"}}, "data->>'name' LIKE %s",
     ["%1' OR '1'='1%"]),
    ({"OR": [{"grp": {"eq": "red' OR 'a'='a"}}, {"score": {"gte": 7}}]},
     "(grp = %s OR (data->>'score')::int >= %s)", ["red' OR 'a'='a", 7]),
    ({"name": {"nin": ["x'); DELETE FROM tb_page; --", "name 3"]}},
     "NOT (data->>'name' = ANY(%s))",
     [["x'); DELETE FROM tb_page; --", "name 3"]]),
    ({"name": {"matches": "^name (1|2)$|'; --"}}, "data->>'name' ~ %s",
     ["^name (1|2)$|'; --"]),
    ({"name": {"gte": "$1"}, "grp": {"neq": "\\'; SELECT pg_sleep(10); --"}},
     "data->>'name' >= %s AND grp <> %s",
     ["$1", "\\'; SELECT pg_sleep(10); --"]),
    ({"flag": {"eq": True}, "day": {"gte": "2024-01-10"}},
     "(data->>'flag')::boolean = %s AND (data->>'day')::date >= %s",
     [True, date(2024, 1, 10)]),
    ({"at": {"lt": "2024-01-02T00:00:00Z"}, "kind": {"in": ["A", "B"]}},
     "(data->>'at')::timestamptz < %s AND data->>'kind' = ANY(%s)",
     ["2024-01-02T00:00:00Z", ["A", "B"]]),
    ({"price": {"gt": "100.5"}}, "(data->>'price')::numeric > %s",
     [Decimal("100.5")]),
    ({"NOT": {"grp": {"isnull": True}}}, "NOT (grp IS NULL)", []),
    ({"ratio": {"lte": 3.5}, "nested": {"n": {"eq": 2}}},
     "(data->>'ratio')::float8 <= %s AND (data->'nested'->>'n')::int = %s",
     [3.5, 2]),
]


@pytest.mark.parametrize("where,sql,params", WHERES)
def test_aggregates_with_a_filter(ngx, pg, where, sql, params):
    want = sql_aggregates(pg, sql, *params)
    got = answer(ngx.url, AGG_Q, {"w": where})["pagesAggregate"]
    same_aggregates(got, want, where)
    groups = answer(ngx.url, group_query(["grp"]), {"w": where})
    same_groups(groups["pagesAggregate"]["groupBy"],
                sql_groups(pg, ["grp"], sql, *params), where)
    assert pg.query("SELECT count(*) FROM tb_page")[0][0] == 200


def test_filters_that_match_and_that_do_not(pg):
    """The filters above are worth their names: most match some rows but
    not all (checked on the SQL side alone)."""
    counts = [sql_aggregates(pg, sql, *params)["count"]
              for _, sql, params in WHERES]
    assert sum(1 for c in counts if 0 < c < 200) >= len(WHERES) - 2, counts


def test_an_empty_set(ngx, pg):
    where = {"score": {"gt": 1000}}
    got = answer(ngx.url, AGG_Q, {"w": where})["pagesAggregate"]
    assert got["count"] == 0
    for agg in ("sum", "avg", "min", "max"):
        v = got[agg]
        # null on an empty set: the object, or each of its fields
        assert v is None or all(x is None for x in v.values()), (agg, v)
    same_aggregates(got, sql_aggregates(pg, "(data->>'score')::int > 1000"))
    g = answer(ngx.url, group_query(["kind"]), {"w": where})
    assert g["pagesAggregate"]["groupBy"] == []


def test_nulls_in_a_field_are_left_out(ngx, pg):
    """A group whose values are all null has null sums; count counts
    rows, nulls included."""
    where = {"score": {"isnull": True}}
    got = answer(ngx.url, AGG_Q, {"w": where})["pagesAggregate"]
    n = pg.query("SELECT count(*) FROM v_page WHERE data->>'score' IS NULL")
    assert got["count"] == n[0][0] > 0
    assert got["sum"]["score"] is None and got["avg"]["score"] is None
    assert got["min"]["score"] is None and got["max"]["score"] is None
    same_aggregates(got, sql_aggregates(pg, "data->>'score' IS NULL"))


# ----------------------------------------------------------- groupBy

@pytest.mark.parametrize("keys", [["grp"], ["kind"], ["flag"], ["name"],
                                  ["grp", "kind"], ["flag", "name"],
                                  ["kind", "grp"]])
def test_group_by(ngx, pg, keys):
    got = answer(ngx.url, group_query(keys))["pagesAggregate"]["groupBy"]
    want = sql_groups(pg, keys)
    assert len(want) > 2
    same_groups(got, want, keys)
    assert sum(g["count"] for g in got) == 200
    # null is a group of its own, last
    if keys[0] in ("grp", "flag", "name"):
        assert got[-1]["key"][keys[0]] is None


def test_group_by_with_a_filter_and_a_limit(ngx, pg):
    where = {"kind": {"neq": "B"}, "name": {"lt": "name 2'; --"}}
    sql, params = "data->>'kind' <> %s AND data->>'name' < %s", \
        ["B", "name 2'; --"]
    got = answer(ngx.url, group_query(["name", "flag"]),
                 {"w": where})["pagesAggregate"]["groupBy"]
    same_groups(got, sql_groups(pg, ["name", "flag"], sql, *params))
    for limit in (0, 1, 3, 1000):
        got = answer(ngx.url, group_query(["name"], limit), {"w": where})
        same_groups(got["pagesAggregate"]["groupBy"],
                    sql_groups(pg, ["name"], sql, *params, limit=limit),
                    limit)
    # the limit as a variable
    q = ('query ($l: Int) { pagesAggregate { groupBy(fields: [grp], '
         'limit: $l) { key { grp } count } } }')
    for limit in (2, 3):
        got = answer(ngx.url, q, {"l": limit})["pagesAggregate"]["groupBy"]
        assert [g["key"]["grp"] for g in got] == [
            k["grp"] for k, _ in sql_groups(pg, ["grp"], limit=limit)]


def test_group_keys_only_of_grouped_fields(ngx):
    for q in ("{ pagesAggregate { groupBy(fields: [grp]) { key { kind } "
              "count } } }",
              "{ pagesAggregate { groupBy(fields: [grp, flag]) "
              "{ key { grp flag name } } } }",
              "{ pagesAggregate { groupBy(fields: [kind]) { key { ... on "
              "PageGroupKey { grp } } } } }"):
        r = post(ngx.url, q)
        assert r.status_code == 200, r.text
        body = r.json()
        assert body.get("data") is None, body
        assert body["errors"][0]["extensions"]["code"] == "BAD_USER_INPUT", \
            body
    # a key field may be left out of the selection
    got = answer(ngx.url, "{ pagesAggregate { groupBy(fields: [grp, kind])"
                 " { key { kind } count } } }")["pagesAggregate"]["groupBy"]
    assert len(got) == 12


def test_groups_are_bounded_without_a_maximum(ngx):
    """Groups are one row in memory: 10,000 at most, as a page."""
    q = ("query ($l: Int) { pagesAggregate { groupBy(fields: [name], "
         "limit: $l) { count } } }")
    assert len(answer(ngx.url, q, {"l": 10000})["pagesAggregate"]
               ["groupBy"]) == 26
    for bad in (10001, 2147483647):
        r = post(ngx.url, q, {"l": bad})
        body = r.json()
        assert r.status_code == 200 and body.get("data") is None, body
        assert body["errors"][0]["extensions"]["code"] == "BAD_USER_INPUT"
        assert "10000" in body["errors"][0]["message"], body


def test_group_by_limits(make_nginx, pg):
    n = make_nginx(extra="fraiseql_default_limit 2; fraiseql_max_limit 3;")
    n.start()
    q = ("query ($l: Int) { pagesAggregate { groupBy(fields: [name], "
         "limit: $l) { key { name } count } } }")
    want = [k["name"] for k, _ in sql_groups(pg, ["name"])]
    got = answer(n.url, q)["pagesAggregate"]["groupBy"]
    assert [g["key"]["name"] for g in got] == want[:2]
    got = answer(n.url, q, {"l": 3})["pagesAggregate"]["groupBy"]
    assert [g["key"]["name"] for g in got] == want[:3]
    for bad in (4, -1):
        r = post(n.url, q, {"l": bad})
        body = r.json()
        assert r.status_code == 200 and body.get("data") is None, body
        assert body["errors"][0]["extensions"]["code"] == "BAD_USER_INPUT"
    r = post(n.url, "{ pagesAggregate { groupBy(fields: [name], limit: -1)"
             " { count } } }")
    assert r.json()["errors"][0]["extensions"]["code"] == "BAD_USER_INPUT"

    m = make_nginx(extra="fraiseql_max_limit 3;").start()
    got = answer(m.url, q)["pagesAggregate"]["groupBy"]
    assert [g["key"]["name"] for g in got] == want[:3]


# ------------------------------------------------------------- users

USER_EXPR = {"age": "(data->>'age')::int",
             "createdAt": "(data->>'created_at')::timestamptz",
             "active": "(data->>'active')::boolean",
             "firstName": "data->>'first_name'",
             "lastName": "data->>'last_name'"}


def test_users_aggregate(ngx, pg):
    q = """query ($w: UserWhereInput) { usersAggregate(where: $w) {
      count sum { age } avg { age } min { age createdAt }
      max { age createdAt }
      groupBy(fields: [active, firstName]) {
        key { active firstName } count avg { age } max { createdAt } }
    } }"""
    for where, sql, params in (
            (None, "TRUE", []),
            ({"age": {"gte": 40}}, "(data->>'age')::int >= %s", [40]),
            ({"lastName": {"eq": "O'Hara'; DROP TABLE tb_user; --"}},
             "data->>'last_name' = %s", ["O'Hara'; DROP TABLE tb_user; --"])):
        got = answer(ngx.url, q, {"w": where})["usersAggregate"]
        e = USER_EXPR
        row = pg.query(
            "SELECT count(*), sum(%s), avg(%s), min(%s), min(%s), max(%s),"
            " max(%s) FROM v_user WHERE %s"
            % (e["age"], e["age"], e["age"], e["createdAt"], e["age"],
               e["createdAt"], sql), *params)[0]
        assert got["count"] == row[0]
        if row[0] == 0:
            assert got["groupBy"] == []
            continue
        same_value("float", got["sum"]["age"], row[1], "sum")
        same_value("float", got["avg"]["age"], row[2], "avg")
        same_value("int", got["min"]["age"], row[3], "min")
        same_value("datetime", got["min"]["createdAt"], row[4], "min")
        same_value("int", got["max"]["age"], row[5], "max")
        same_value("datetime", got["max"]["createdAt"], row[6], "max")
        groups = pg.query(
            "SELECT %s, %s, count(*), avg(%s), max(%s) FROM v_user"
            " WHERE %s GROUP BY 1, 2 ORDER BY 1, 2"
            % (e["active"], e["firstName"], e["age"], e["createdAt"], sql),
            *params)
        assert [g["key"] for g in got["groupBy"]] == [
            {"active": a, "firstName": f} for a, f, _, _, _ in groups]
        for g, (_, _, c, avg, mx) in zip(got["groupBy"], groups):
            assert g["count"] == c
            same_value("float", g["avg"]["age"], avg, "group avg")
            same_value("datetime", g["max"]["createdAt"], mx, "group max")
    assert pg.query("SELECT count(*) FROM tb_user")[0][0] >= 100


# -------------------------------------------------------------- types

def introspect(url, name):
    q = ('{ __type(name: "%s") { kind fields { name args { name type '
         '{ ...T } } type { ...T } } enumValues { name } } } '
         'fragment T on __Type { kind name ofType { kind name ofType '
         '{ kind name ofType { kind name } } } }' % name)
    return answer(url, q)["__type"]


def type_str(t):
    if t["kind"] == "NON_NULL":
        return type_str(t["ofType"]) + "!"
    if t["kind"] == "LIST":
        return "[" + type_str(t["ofType"]) + "]"
    return t["name"]


def fields_of(url, name):
    t = introspect(url, name)
    assert t is not None, name
    return {f["name"]: type_str(f["type"]) for f in t["fields"]}


def test_generated_aggregate_types(ngx):
    u = ngx.url
    assert fields_of(u, "PageAggregate") == {
        "count": "Int!", "sum": "PageSumFields", "avg": "PageAvgFields",
        "min": "PageMinFields", "max": "PageMaxFields",
        "groupBy": "[PageGroup!]!"}
    t = introspect(u, "PageAggregate")
    g = {f["name"]: f for f in t["fields"]}["groupBy"]
    assert {a["name"]: type_str(a["type"]) for a in g["args"]} == {
        "fields": "[PageGroupField!]!", "limit": "Int"}
    for name in ("PageSumFields", "PageAvgFields"):
        assert fields_of(u, name) == {"score": "Float", "price": "Decimal",
                                      "ratio": "Float"}
    for name in ("PageMinFields", "PageMaxFields"):
        assert fields_of(u, name) == {"score": "Int", "price": "Decimal",
                                      "ratio": "Float", "at": "DateTime",
                                      "day": "Date"}
    assert fields_of(u, "PageGroup") == {
        "key": "PageGroupKey!", "count": "Int!", "sum": "PageSumFields",
        "avg": "PageAvgFields", "min": "PageMinFields",
        "max": "PageMaxFields"}
    assert fields_of(u, "PageGroupKey") == {
        "name": "String", "grp": "String", "kind": "Code",
        "flag": "Boolean"}
    e = introspect(u, "PageGroupField")
    assert e["kind"] == "ENUM"
    assert sorted(v["name"] for v in e["enumValues"]) == [
        "flag", "grp", "kind", "name"]
    q = {f["name"]: f for f in introspect(u, "Query")["fields"]}
    f = q["pagesAggregate"]
    assert type_str(f["type"]) == "PageAggregate!"
    assert {a["name"]: type_str(a["type"]) for a in f["args"]} == {
        "where": "PageWhereInput"}
    assert fields_of(u, "UserGroupKey") == {
        "email": "String", "firstName": "String", "lastName": "String",
        "active": "Boolean"}


BASE = open(SCHEMA).read()


def schema_file(text):
    f = tempfile.NamedTemporaryFile("w", suffix=".graphql", delete=False)
    f.write(text + "\n")
    f.close()
    return f.name


def test_a_type_without_numbers_has_no_sums(make_nginx, pg):
    """Word has one String field: its aggregate has count and groupBy
    only, and groups by the word."""
    path = schema_file(BASE + "\nextend type Query {\n"
                       "  wordsAggregate(where: WordWhereInput):"
                       " WordAggregate!\n}")
    try:
        n = make_nginx(schema=path).start()
        assert set(fields_of(n.url, "WordAggregate")) == {"count",
                                                           "groupBy"}
        got = answer(n.url, "{ wordsAggregate { count groupBy(fields: "
                     "[word]) { key { word } count } } }")["wordsAggregate"]
        rows = pg.query("SELECT data->>'word', count(*) FROM v_word"
                        " GROUP BY 1 ORDER BY 1 ASC NULLS LAST")
        assert got["count"] == sum(c for _, c in rows)
        assert [(g["key"]["word"], g["count"]) for g in got["groupBy"]] == \
            [tuple(r) for r in rows]
    finally:
        os.unlink(path)


@pytest.mark.parametrize("extra,reason", [
    ("type PageAggregate { count: Int! }", "PageAggregate"),
    ("extend type Query { pa(where: PageWhereInput, limit: Int):"
     " PageAggregate! }", "limit"),
])
def test_a_bad_aggregate_schema_fails_nginx_t(pg, extra, reason):
    path = schema_file(BASE + "\n" + extra)
    try:
        r = Nginx(pg, path).cmd("-t")
        assert r.returncode != 0, r.stderr
        line = [l for l in r.stderr.splitlines() if "fraiseql_schema" in l]
        # the type, or the field that names it
        assert line and (reason in line[0]
                         or '"pagesAggregate"' in line[0]), r.stderr
    finally:
        os.unlink(path)
