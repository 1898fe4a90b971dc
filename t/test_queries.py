"""Queries end to end: real nginx, real PostgreSQL, real HTTP."""

import json

import pytest
import requests


def uid(pg, kind, n):
    return str(pg.query("SELECT demo_uuid(%s, %s)", kind, n)[0][0])


def test_by_id_hit(ngx, pg):
    u = uid(pg, "user", 7)
    r = ngx.gql('{ user(id: "%s") { id email firstName lastName age active'
                ' createdAt } }' % u)
    row = pg.query("SELECT email, first_name, last_name, age, active"
                   " FROM tb_user WHERE id = %s", u)[0]
    assert r == {"data": {"user": {
        "id": u, "email": row[0], "firstName": row[1], "lastName": row[2],
        "age": row[3], "active": row[4],
        "createdAt": r["data"]["user"]["createdAt"]}}}
    assert r["data"]["user"]["createdAt"].startswith("2024-01-01T07:00:00")


def test_by_id_miss(ngx):
    r = ngx.gql('{ user(id: "00000000-0000-0000-0000-000000000000") { id } }')
    assert r == {"data": {"user": None}}


def test_by_id_bad_uuid_is_an_error_not_a_crash(ngx):
    r = ngx.post('{ user(id: "not-a-uuid") { id } }')
    assert r.status_code == 200
    body = r.json()
    assert body["data"] == {"user": None}
    assert body["errors"][0]["extensions"]["code"] == "BAD_USER_INPUT"
    assert "22P02" in body["errors"][0]["message"]


def test_list_where_order_limit_offset(ngx, pg):
    q = '''{ users(where: {age: {gte: 30, lt: 40}, active: {eq: true}},
                   orderBy: [{age: DESC}, {email: ASC}],
                   limit: 5, offset: 2) { email age } }'''
    got = ngx.gql(q)["data"]["users"]
    want = pg.query("SELECT email, age FROM tb_user WHERE age >= 30"
                    " AND age < 40 AND active ORDER BY age DESC, email ASC"
                    " LIMIT 5 OFFSET 2")
    assert [(u["email"], u["age"]) for u in got] == want
    assert len(got) == 5


@pytest.mark.parametrize("where,sql", [
    ('{firstName: {eq: "Ada"}}', "first_name = 'Ada'"),
    ('{firstName: {neq: "Ada"}}', "first_name <> 'Ada'"),
    ('{firstName: {in: ["Ada", "Ken"]}}', "first_name IN ('Ada', 'Ken')"),
    ('{firstName: {nin: ["Ada", "Ken"]}}',
     "first_name NOT IN ('Ada', 'Ken')"),
    ('{age: {gt: 70}}', "age > 70"),
    ('{age: {lte: 20}}', "age <= 20"),
    ('{age: {in: [20, 21]}}', "age IN (20, 21)"),
    ('{lastName: {gte: "Liskov"}}', "last_name >= 'Liskov'"),
    ('{createdAt: {lt: "2024-01-02T00:00:00Z"}}',
     "created_at < '2024-01-02T00:00:00Z'"),
    ('{active: {eq: false}}', "NOT active"),
    ('{age: {isnull: false}}', "age IS NOT NULL"),
    ('{OR: [{age: {lt: 20}}, {age: {gt: 75}}]}', "age < 20 OR age > 75"),
    ('{AND: [{age: {gt: 30}}, {firstName: {eq: "Alan"}}]}',
     "age > 30 AND first_name = 'Alan'"),
    ('{NOT: {firstName: {eq: "Ada"}}}', "NOT first_name = 'Ada'"),
    ('{OR: [{AND: [{age: {gt: 30}}, {active: {eq: false}}]},'
     ' {NOT: {age: {lt: 77}}}]}',
     "(age > 30 AND NOT active) OR NOT age < 77"),
    ('{}', "true"),
    ('{age: null}', "true"),
    ('{age: {eq: null}}', "true"),
    ('{OR: []}', "true"),
])
def test_where_operators(ngx, pg, where, sql):
    got = ngx.gql('{ users(where: %s, orderBy: [{email: ASC}])'
                  ' { email } }' % where)["data"]["users"]
    want = pg.query("SELECT email FROM tb_user WHERE %s ORDER BY email" % sql)
    assert [u["email"] for u in got] == [w[0] for w in want]


def test_isnull_true_and_column_filter(ngx):
    r = ngx.gql('{ a: things(where: {name: {isnull: true}}) { id }'
                '  b: things(where: {status: {eq: "active"}},'
                '            orderBy: [{id: DESC}]) { id status }'
                '  c: things(where: {status: {in: ["inactive"]}}) { id } }')
    assert r["data"] == {"a": [{"id": 3}],
                         "b": [{"id": 4, "status": "active"},
                               {"id": 1, "status": "active"}],
                         "c": [{"id": 2}]}


def test_nested_object_projection(ngx, pg):
    p = uid(pg, "post", 5)
    r = ngx.gql('{ post(id: "%s") { title author { firstName email '
                '__typename } tags __typename } }' % p)
    a = pg.query("SELECT u.first_name, u.email FROM tb_post p JOIN tb_user u"
                 " ON u.id = p.author_id WHERE p.id = %s", p)[0]
    assert r == {"data": {"post": {
        "title": "Post number 5",
        "author": {"firstName": a[0], "email": a[1], "__typename": "User"},
        "tags": ["tag5", "tag5"], "__typename": "Post"}}}


def test_two_root_fields_with_aliases_keep_document_order(ngx, pg):
    u = uid(pg, "user", 3)
    r = ngx.post('{ zeta: users(limit: 2, orderBy: [{email: ASC}]) { email }'
                 '  alpha: user(id: "%s") { email }'
                 '  mid: posts(limit: 1, orderBy: [{title: ASC}]) { title }'
                 '  __typename }' % u)
    assert r.status_code == 200
    # key order is part of the contract: read the raw text
    assert r.text.index('"zeta"') < r.text.index('"alpha"') \
        < r.text.index('"mid"') < r.text.index('"__typename"')
    d = r.json()["data"]
    assert d["alpha"] == {"email": "user3@example.com"}
    assert d["zeta"] == [{"email": "user100@example.com"},
                         {"email": "user10@example.com"}]
    assert d["mid"] == [{"title": "Post number 1"}]
    assert d["__typename"] == "Query"


def test_same_field_twice_with_aliases(ngx):
    r = ngx.gql('{ a: things(where: {id: {eq: 1}}) { x: id y: name }'
                '  b: things(where: {id: {eq: 2}}) { y: name x: id } }')
    assert r["data"] == {"a": [{"x": 1, "y": "O'Brien \"quoted\" \\ back"}],
                         "b": [{"y": "日本語 émoji 🎉", "x": 2}]}


def test_variables(ngx, pg):
    u = uid(pg, "user", 9)
    q = '''query Q($id: ID!, $min: Int = 70, $names: [String!], $n: Int) {
             user(id: $id) { email }
             users(where: {age: {gte: $min}, firstName: {in: $names}},
                   limit: $n, orderBy: [{email: ASC}]) { email age } }'''
    r = ngx.gql(q, {"id": u, "names": ["Ada", "Grace"], "n": 3})
    want = pg.query("SELECT email, age FROM tb_user WHERE age >= 70 AND"
                    " first_name IN ('Ada', 'Grace') ORDER BY email LIMIT 3")
    assert r["data"]["user"] == {"email": "user9@example.com"}
    assert [(x["email"], x["age"]) for x in r["data"]["users"]] == want


def test_variable_single_value_becomes_a_list(ngx):
    r = ngx.gql('query ($n: [String!]) { things(where: {name: {in: $n}})'
                ' { id } }', {"n": "日本語 émoji 🎉"})
    assert r["data"]["things"] == [{"id": 2}]


def test_whole_where_as_variable(ngx):
    r = ngx.gql('query ($w: ThingWhereInput) { things(where: $w,'
                ' orderBy: [{id: ASC}]) { id } }',
                {"w": {"OR": [{"id": {"eq": 1}}, {"code": {"eq": "C"}}]}})
    assert r["data"]["things"] == [{"id": 1}, {"id": 3}]


@pytest.mark.parametrize("variables,message", [
    ({}, 'Variable "$id" of required type "ID!" was not provided.'),
    ({"id": None}, 'Expected non-nullable type "ID!" not to be null.'),
    ({"id": 1.5}, "ID cannot represent"),
    ({"id": {"a": 1}}, "ID cannot represent"),
])
def test_variable_errors(ngx, variables, message):
    r = ngx.post('query ($id: ID!) { thing(id: $id) { id } }', variables)
    assert r.status_code == 200
    body = r.json()
    assert "data" not in body
    assert message in body["errors"][0]["message"]
    assert body["errors"][0]["extensions"]["code"] == "BAD_USER_INPUT"


def test_int_variable_out_of_range(ngx):
    r = ngx.post('query ($n: Int) { things(limit: $n) { id } }',
                 {"n": 2 ** 31})
    assert "non 32-bit" in r.json()["errors"][0]["message"]


def test_typename_everywhere(ngx):
    r = ngx.gql('{ __typename things(limit: 1) { __typename t2: __typename'
                ' id } }')
    assert r["data"] == {"__typename": "Query", "things": [
        {"__typename": "Thing", "t2": "Thing", "id": 1}]}


def test_fragments_and_inline_fragments(ngx):
    r = ngx.gql('''query { things(where: {id: {eq: 1}}) { ...F
                      ... on Thing { code } ... { score } } }
                   fragment F on Thing { id name }''')
    assert r["data"]["things"] == [
        {"id": 1, "name": "O'Brien \"quoted\" \\ back", "code": "A",
         "score": 10}]


def test_skip_and_include(ngx):
    r = ngx.gql('query ($s: Boolean!) { things(where: {id: {eq: 2}})'
                ' { id name @skip(if: $s) code @include(if: $s) } }',
                {"s": True})
    assert r["data"]["things"] == [{"id": 2, "code": "B"}]


def test_operation_name_selects(ngx):
    doc = 'query A { things(limit: 1) { id } } query B { __typename }'
    assert ngx.gql(doc, operation_name="B") == {
        "data": {"__typename": "Query"}}
    r = ngx.post(doc)
    assert "operationName" in r.json()["errors"][0]["message"]
    r = ngx.post(doc, operation_name="C")
    assert 'Unknown operation named "C"' in r.json()["errors"][0]["message"]


def test_scalar_output_coercion(ngx):
    r = ngx.gql('{ things(orderBy: [{id: ASC}]) { id score ratio flag code'
                ' meta when day uid } }')
    t = r["data"]["things"]
    assert t[0] == {"id": 1, "score": 10, "ratio": 1.5, "flag": True,
                    "code": "A", "meta": {"a": [1, 2]},
                    "when": "2024-01-02T03:04:05+00:00", "day": "2024-01-02",
                    "uid": "5b6e8c5e-5f27-4d52-9f0b-9f3b4d0c0a01"}
    assert t[2] == {"id": 3, "score": None, "ratio": None, "flag": None,
                    "code": "C", "meta": {"x": "y"}, "when": None,
                    "day": None, "uid": None}
    # an ID read from a number is a string
    r = ngx.gql('{ items(limit: 1) { id } }')
    assert r["data"]["items"] == [{"id": 1}]


def test_unicode_and_quotes_in_values(ngx):
    for name, tid in [("O'Brien \"quoted\" \\ back", 1),
                      ("日本語 émoji 🎉", 2), ("line\nbreak\ttab", 4)]:
        r = ngx.gql('query ($n: String) { things(where: {name: {eq: $n}})'
                    ' { id name } }', {"n": name})
        assert r["data"]["things"] == [{"id": tid, "name": name}]
    # the same values as GraphQL literals, with escapes
    r = ngx.gql(r'{ things(where: {name: {eq: "\u65e5\u672c\u8a9e'
                r' \u00e9moji \ud83c\udf89"}}) { id } }')
    assert r["data"]["things"] == [{"id": 2}]
    # block strings keep backslashes as they are
    r = ngx.gql('{ things(where: {name: {eq: """O\'Brien "quoted" \\ back"""'
                '}}) { id } }')
    assert r["data"]["things"] == [{"id": 1}]


@pytest.mark.parametrize("value", [
    "' OR 1=1 --", "'; DROP TABLE tb_thing; --", "$1", "\\", "%", "_",
    "\" OR \"\"=\"", "Robert'); DROP TABLE students;--", "a" * 100000,
])
def test_sql_looking_strings_are_just_values(ngx, pg, value):
    r = ngx.gql('query ($n: String) { things(where: {name: {eq: $n}})'
                ' { id } }', {"n": value})
    assert r["data"]["things"] == []
    assert pg.query("SELECT count(*) FROM tb_thing")[0][0] == 4


def test_empty_result(ngx):
    assert ngx.gql('{ things(where: {id: {gt: 1000}}) { id } }') == {
        "data": {"things": []}}
    assert ngx.gql('{ things(limit: 0) { id } }') == {
        "data": {"things": []}}


def test_ten_thousand_rows_complete_and_valid(ngx):
    r = ngx.post('{ items(limit: 10000, orderBy: [{id: ASC}])'
                 ' { id label price groupNo } }')
    assert r.status_code == 200
    items = json.loads(r.text)["data"]["items"]
    assert len(items) == 10000
    assert items[0] == {"id": 1, "label": "item 1", "price": 1.25,
                        "groupNo": 1}
    assert items[-1] == {"id": 10000, "label": "item 10000",
                         "price": 12500.00, "groupNo": 0}
    assert [i["id"] for i in items] == list(range(1, 10001))


def test_hundred_thousand_rows(ngx):
    r = ngx.post('{ items { id } }')
    items = r.json()["data"]["items"]
    assert len(items) == 100000


def test_unknown_view_is_a_graphql_error_and_worker_survives(ngx):
    r = ngx.post('{ ghosts { id } }')
    assert r.status_code == 200
    body = r.json()
    assert body["data"] == {"ghosts": None}
    assert body["errors"][0]["extensions"]["code"] == "DATABASE_ERROR"
    assert "42P01" in body["errors"][0]["message"]
    # no SQL text or connection details reach the client
    assert "v_does_not_exist" not in r.text
    assert ngx.gql('{ things(limit: 1) { id } }')["data"]["things"] == [
        {"id": 1}]


def test_error_in_second_field_keeps_the_first(ngx):
    r = ngx.post('{ things(limit: 1) { id } ghosts { id } }')
    body = r.json()
    assert body["data"] == {"things": [{"id": 1}], "ghosts": None}
    assert len(body["errors"]) == 1
    assert body["errors"][0]["locations"] == [{"line": 1, "column": 27}]


def test_data_column_that_is_not_json(ngx):
    r = ngx.post('{ broken { id } }')
    assert r.status_code == 200
    body = r.json()
    assert body["data"] == {"broken": [None]}
    assert body["errors"][0]["path"] == ["broken", 0]


def test_nul_in_a_string_is_refused(ngx):
    r = ngx.post('query ($n: String) { things(where: {name: {eq: $n}})'
                 ' { id } }', {"n": "a\u0000b"})
    body = r.json()
    assert "data" not in body
    assert "NUL" in body["errors"][0]["message"]
    r = ngx.post('{ things(where: {name: {eq: "a\\u0000b"}}) { id } }')
    assert "NUL" in r.json()["errors"][0]["message"]


def test_invalid_utf8_in_variables_is_400(ngx):
    body = (b'{"query": "query ($n: String) { things(where: {name: {eq: $n}})'
            b' { id } }", "variables": {"n": "\xc3\x28"}}')
    r = requests.post(ngx.url, data=body,
                      headers={"content-type": "application/json"})
    assert r.status_code == 400


def test_default_and_max_limit(make_nginx):
    n = make_nginx(extra="fraiseql_default_limit 2; fraiseql_max_limit 3;")
    n.start()
    q = 'query ($n: Int) { items(limit: $n, orderBy: [{id: ASC}]) { id } }'
    assert n.gql(q)["data"]["items"] == [{"id": 1}, {"id": 2}]
    assert len(n.gql(q, {"n": 3})["data"]["items"]) == 3
    assert len(n.gql(q, {"n": 0})["data"]["items"]) == 0
    r = n.post(q, {"n": 4})
    body = r.json()
    assert "data" not in body
    assert body["errors"][0]["message"] == \
        '"limit" is 4, over the maximum of 3.'
    assert body["errors"][0]["extensions"]["code"] == "BAD_USER_INPUT"
    # lists without a limit argument get the default too
    assert n.gql("{ slow { id } }")["data"]["slow"] == [{"id": 1}]


def test_max_limit_alone_caps_unlimited_lists(make_nginx):
    n = make_nginx(extra="fraiseql_max_limit 5;").start()
    assert len(n.gql("{ items { id } }")["data"]["items"]) == 5

