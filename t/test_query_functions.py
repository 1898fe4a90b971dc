"""Query functions: Query fields bound to set-returning SQL functions with
@function (issue 14, item 4).

t/fixtures.sql has documents (tb_doc, v_doc) and functions over them: a
ranked full-text search (fn_search_docs, TABLE(id, data)), a search near
a point and one by price range (SETOF v_doc, arguments with DEFAULTs),
one taking jsonb, boolean and text (JSON, Boolean and an enum), and
single-object lookups (fn_doc_by_title, fn_doc_by_id).  Every answer is
compared with calling the function directly in SQL with the same
arguments, injection strings included; where/orderBy/limit/offset on top
with the same clauses written by hand; wrong types and a NUL are clean
errors; the schema refuses what it cannot run at nginx -t; the examples
of docs/schema.md ("Query functions") run as written.
"""

import json
import os
import re

import pytest

from conftest import Nginx
from test_json_keys import doc_blocks, schema_file

FIELDS = "id title body price lat lon rank"

HOSTILE = [
    "cat",
    "dogs",
    "cat -dogs",
    '"cats and dogs"',
    "'; DROP TABLE tb_doc; --",
    "'); DELETE FROM tb_doc; SELECT ('",
    "it's \"quoted\" \\ back\\slash",
    "fish OR night",
    "",
    "$1 => x",
]


def errors(ngx, query, variables=None):
    r = ngx.post(query, variables)
    body = r.json()
    assert body.get("errors"), body
    return r.status_code, body


def shaped(row):
    """A v_doc row's data as the module answers FIELDS."""
    return {"id": row["id"], "title": row["title"], "body": row["body"],
            "price": float(row["price"]), "lat": row["lat"],
            "lon": row["lon"], "rank": row["rank"]}


def direct(pg, sql, *params):
    return [shaped(r[0]) for r in pg.query(sql, *params)]


def same(got, want):
    # ranks are float4 in SQL and as the module prints them
    assert len(got) == len(want), (got, want)
    for g, w in zip(got, want):
        assert g == {**w, "rank": g["rank"]}
        assert g["rank"] == pytest.approx(w["rank"], rel=1e-6) \
            if w["rank"] is not None else g["rank"] is None


@pytest.mark.parametrize("q", HOSTILE)
def test_search_is_the_function(ngx, pg, q):
    d = ngx.data("query ($q: String!) { searchDocs(q: $q) { %s } }"
               % FIELDS, {"q": q})
    same(d["searchDocs"],
         direct(pg, "SELECT data FROM app.fn_search_docs(q => %s)", q))
    # the same string as a literal in the document
    lit = json.dumps(q)
    d = ngx.data("{ searchDocs(q: %s, minPrice: 20) { %s } }"
               % (lit, FIELDS))
    same(d["searchDocs"],
         direct(pg, "SELECT data FROM app.fn_search_docs(q => %s, "
                "min_price => 20)", q))
    assert pg.query("SELECT count(*) FROM tb_doc") == [(60,)]


def test_some_searches_find_rows(ngx, pg):
    d = ngx.data('{ searchDocs(q: "cat") { id rank } }')
    assert len(d["searchDocs"]) > 10
    ranks = [x["rank"] for x in d["searchDocs"]]
    assert ranks == sorted(ranks, reverse=True)


def test_where_order_limit_on_top(ngx, pg):
    d = ngx.data('{ searchDocs(q: "cat", where: {price: {gte: 20},'
               ' title: {contains: "s"}}, orderBy: [{price: DESC},'
               ' {id: ASC}], limit: 4, offset: 1) { %s } }' % FIELDS)
    want = direct(pg, "SELECT data FROM app.fn_search_docs(q => 'cat') "
                  "WHERE (data->>'price')::numeric >= 20 "
                  "AND data->>'title' LIKE '%%s%%' "
                  "ORDER BY (data->>'price')::numeric DESC, id "
                  "LIMIT 4 OFFSET 1")
    assert len(want) == 4
    same(d["searchDocs"], want)

    # id orders through the id column the function returns
    d = ngx.data('{ searchDocs(q: "dogs", orderBy: [{id: DESC}],'
               ' limit: 3) { id } }')
    want = pg.query("SELECT id FROM app.fn_search_docs(q => 'dogs') "
                    "ORDER BY id DESC LIMIT 3")
    assert [x["id"] for x in d["searchDocs"]] == [r[0] for r in want]

    # an empty where is no WHERE
    d = ngx.data('{ searchDocs(q: "fish", where: {}) { id } }')
    want = pg.query("SELECT id FROM app.fn_search_docs(q => 'fish')")
    assert [x["id"] for x in d["searchDocs"]] == [r[0] for r in want]


def test_floats_and_defaults(ngx, pg):
    q = ("query ($lat: Float!, $lon: Float!, $km: Float, $n: Int) {"
         " docsNear(lat: $lat, lon: $lon, km: $km, limit: $n) { %s } }"
         % FIELDS)
    for v, sql, params in [
        ({"lat": 45.3, "lon": 5.2},
         "app.fn_docs_near(lat => %s, lon => %s)", (45.3, 5.2)),
        ({"lat": 45.3, "lon": 5.2, "km": 8.5},
         "app.fn_docs_near(lat => %s, lon => %s, km => %s)",
         (45.3, 5.2, 8.5)),
        ({"lat": 45, "lon": 5, "km": 30, "n": 5},
         "app.fn_docs_near(lat => %s, lon => %s, km => %s) LIMIT 5",
         (45, 5, 30)),
    ]:
        d = ngx.data(q, v)
        want = direct(pg, "SELECT data FROM " + sql, *params)
        assert want
        same(d["docsNear"], want)


def test_omitted_is_default_null_is_null(ngx, pg):
    q = ("query ($lo: Decimal, $hi: Decimal, $t: String) {"
         " docsPriced(low: $lo, high: $hi, titleLike: $t) { id price } }")
    cases = [
        ({}, "app.fn_docs_priced()"),
        ({"lo": "10", "hi": 20.5}, "app.fn_docs_priced(low => 10, "
         "high => 20.5)"),
        ({"lo": None}, "app.fn_docs_priced(low => NULL)"),
        ({"t": "Fish%"}, "app.fn_docs_priced(title_like => 'Fish%%')"),
        # null is not the DEFAULT: LIKE NULL matches nothing
        ({"t": None}, "app.fn_docs_priced(title_like => NULL)"),
        ({"hi": 30}, "app.fn_docs_priced(high => 30)"),
    ]
    for _ in range(2):  # the second time from the plan cache
        for v, sql in cases:
            d = ngx.data(q, v)
            want = pg.query("SELECT id, data->'price' FROM " + sql)
            assert [(x["id"], x["price"]) for x in d["docsPriced"]] == \
                [(r[0], float(r[1])) for r in want], (v, sql)
    assert ngx.data(q, {"t": None})["docsPriced"] == []
    assert len(ngx.data(q, {})["docsPriced"]) == 60

    d = ngx.data('{ docsPriced(titleLike: "Back%", where: {price:'
               ' {lt: 50}}) { id } }')
    want = pg.query("SELECT id FROM app.fn_docs_priced(title_like => "
                    "'Back%%') WHERE (data->>'price')::numeric < 50")
    assert [x["id"] for x in d["docsPriced"]] == [r[0] for r in want]


def test_json_boolean_enum_arguments(ngx, pg):
    q = ("query ($m: JSON!, $c: Boolean, $k: DocKind) {"
         " docsMatching(match: $m, cheap: $c, kind: $k) { id } }")
    for v, sql, params in [
        ({"m": {}}, "match => '{}'", ()),
        ({"m": {"body": "cat cat cat"}}, "match => %s", (
            '{"body": "cat cat cat"}',)),
        ({"m": {"body": "nothing here"}, "c": True},
         "match => %s, cheap => true", ('{"body": "nothing here"}',)),
        ({"m": {"body": "nothing here"}, "c": False, "k": "Fish"},
         "match => %s, cheap => false, kind => 'Fish'",
         ('{"body": "nothing here"}',)),
        ({"m": {"title": "x'); DROP TABLE tb_doc; --"}, "k": "Dogs"},
         "match => %s, kind => 'Dogs'",
         ('{"title": "x\'); DROP TABLE tb_doc; --"}',)),
        ({"m": {}, "c": None, "k": None},
         "match => '{}', cheap => NULL, kind => NULL", ()),
    ]:
        d = ngx.data(q, v)
        want = pg.query("SELECT id FROM app.fn_docs_matching(%s)" % sql,
                        *params)
        assert [x["id"] for x in d["docsMatching"]] == \
            [r[0] for r in want], v
    d = ngx.data('{ docsMatching(match: {lon: 5}, kind: Cats)'
               ' { id title } }')
    want = pg.query("SELECT id FROM app.fn_docs_matching(match => "
                    "'{\"lon\": 5}', kind => 'Cats')")
    assert want and [x["id"] for x in d["docsMatching"]] == \
        [r[0] for r in want]
    status, body = errors(ngx, '{ docsMatching(match: {}, kind: Bird)'
                          ' { id } }')
    assert "DocKind" in body["errors"][0]["message"], body


def test_single_object(ngx, pg):
    title = pg.query("SELECT title FROM tb_doc WHERE id = 2")[0][0]
    assert '"' in title and "'" in title
    d = ngx.data("query ($t: String!) { docByTitle(title: $t) { %s } }"
               % FIELDS, {"t": title})
    assert d["docByTitle"] == direct(
        pg, "SELECT data FROM app.fn_doc_by_title(title => %s)", title)[0]

    for t in ["no such title", "'; DROP TABLE tb_doc; --", "Fish"]:
        d = ngx.data("query ($t: String!) { docByTitle(title: $t)"
                   " { id } }", {"t": t})
        assert d == {"docByTitle": None}

    d = ngx.data('{ a: docById(docId: 7) { id title }'
               ' b: docById(docId: "8") { id } c: docById(docId: 999)'
               ' { id } }')
    assert d == {"a": {"id": 7, "title": pg.query(
        "SELECT title FROM tb_doc WHERE id = 7")[0][0]},
        "b": {"id": 8}, "c": None}


def test_wrong_types_are_refused(ngx, pg):
    for q, words in [
        ('{ searchDocs(q: 5) { id } }', "String cannot represent"),
        ('{ searchDocs { id } }', 'argument "q" of type "String!" is '
         'required'),
        ('{ searchDocs(q: "a", minPrice: "abc") { id } }', "Decimal"),
        ('{ docsNear(lat: "x", lon: 1) { id } }', "Float cannot represent"),
        ('{ searchDocs(q: "a", nope: 1) { id } }', 'Unknown argument'),
        ('{ searchDocs(q: "a", limit: -1) { id } }', "must not be "
         "negative"),
    ]:
        status, body = errors(ngx, q)
        assert any(words in e["message"] for e in body["errors"]), body
        assert "data" not in body or body["data"] is None

    status, body = errors(ngx, "query ($q: String!) { searchDocs(q: $q)"
                          " { id } }", {"q": None})
    assert "data" not in body
    assert pg.query("SELECT count(*) FROM tb_doc") == [(60,)]


def test_database_errors_are_clean(ngx, pg):
    # an ID the function's int argument cannot take
    status, body = errors(ngx, '{ docById(docId: "x") { id } }')
    assert status == 200
    assert body["data"] == {"docById": None}
    assert body["errors"][0]["extensions"]["code"] == "BAD_USER_INPUT"
    assert "22P02" in body["errors"][0]["message"]
    # PostgreSQL's text refuses NUL: a clean error, the worker goes on
    status, body = errors(ngx, "query ($q: String!) { searchDocs(q: $q)"
                          " { id } }", {"q": "cat\u0000dog"})
    assert "NUL" in body["errors"][0]["message"], body
    assert body["errors"][0]["extensions"]["code"] == "BAD_USER_INPUT"
    assert ngx.data('{ searchDocs(q: "cat", limit: 1) { id } }')
    assert pg.query("SELECT count(*) FROM tb_doc") == [(60,)]


def test_introspection_shows_the_arguments(ngx):
    d = ngx.data('{ __type(name: "Query") { fields { name args { name'
               ' type { kind name ofType { name } } } type { kind ofType {'
               ' kind } } } } }')
    f = {x["name"]: x for x in d["__type"]["fields"]}
    assert [a["name"] for a in f["searchDocs"]["args"]] == [
        "q", "minPrice", "where", "orderBy", "limit", "offset"]
    assert f["searchDocs"]["args"][0]["type"] == {
        "kind": "NON_NULL", "name": None, "ofType": {"name": "String"}}
    assert [a["name"] for a in f["docByTitle"]["args"]] == ["title"]
    assert f["docByTitle"]["type"]["kind"] == "OBJECT"


@pytest.mark.parametrize("sdl, words", [
    ('type Query { n(q: String!): Int @function(name: "fn") }',
     "must return an object type bound to a view"),
    ('type D @view(name: "v") { id: ID! }\n'
     'input I { a: Int }\n'
     'type Query { d(i: I): [D!]! @function(name: "fn") }',
     'argument "i" must be a scalar or an enum'),
    ('type D @view(name: "v") { id: ID! }\n'
     'type Query { d(limit: Int): D @function(name: "fn") }',
     '"limit" is reserved for lists'),
])
def test_schema_refuses_at_nginx_t(pg, sdl, words):
    path = schema_file(sdl)
    try:
        r = Nginx(pg, path).cmd("-t")
        assert r.returncode != 0
        line = sdl.count("\n", 0, sdl.index("Query")) + 1
        assert re.search(r"%s:%d:\d+: .*%s" % (re.escape(path), line,
                                               re.escape(words)),
                         r.stderr), r.stderr
    finally:
        os.unlink(path)


def test_docs_examples(ngx, pg):
    sdl, query, sql, want, one, one_sql, one_want = \
        doc_blocks("Query functions")[:7]

    # the fields of the example are t/schema.graphql's
    schema = open(os.path.join(os.path.dirname(__file__),
                               "schema.graphql")).read()
    for line in sdl.split("\n"):
        assert line.strip() in schema, line

    assert ngx.post(query).json() == json.loads(want)
    rows = pg.query(sql.replace("$1", "%s").replace("$2", "%s")
                    .replace("$3", "%s"), "cat", "20", "2")
    got = json.loads(want)["data"]["searchDocs"]
    assert [r[0]["id"] for r in rows] == [x["id"] for x in got]

    assert ngx.post(one).json() == json.loads(one_want)
    rows = pg.query(one_sql.replace("$1", "%s"), "Fish 4")
    assert rows[0][0]["price"] == \
        json.loads(one_want)["data"]["docByTitle"]["price"]
