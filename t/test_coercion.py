"""Variable and literal coercion, one scalar at a time (spec 3.5, 5.6)."""

import pytest

FIELD_OF = {
    "String": "name", "Int": "score", "Float": "ratio", "Boolean": "flag",
    "DateTime": "when", "Date": "day", "UUID": "uid", "JSON": "meta",
    "Code": "code",
}


def run(ngx, type_, value, op="eq"):
    q = ('query ($v: %s) { things(where: {%s: {%s: $v}}, orderBy: '
         '[{id: ASC}]) { id } }' % (type_, FIELD_OF[type_], op))
    return ngx.post(q, {"v": value})


@pytest.mark.parametrize("type_,value,ids", [
    ("String", "日本語 émoji 🎉", [2]),
    ("Int", 20, [2]),
    ("Int", 20.0, [2]),             # a JSON number with an integral value
    ("Float", 1.5, [1]),
    ("Float", 0, [4]),              # an Int is a Float
    ("Boolean", False, [2]),
    ("DateTime", "2024-01-02T03:04:05+00:00", [1]),
    ("DateTime", "2024-01-02 03:04:05Z", [1]),
    ("Date", "2024-02-02", [2]),
    ("UUID", "5b6e8c5e-5f27-4d52-9f0b-9f3b4d0c0a04", [4]),
    ("JSON", {"a": [1, 2]}, [1]),
    ("JSON", [], [4]),
    ("Code", "B", [2]),
    ("String", None, []),           # null filters nothing (as FraiseQL)
])
def test_valid_values(ngx, type_, value, ids):
    r = run(ngx, type_, value)
    assert r.status_code == 200, r.text
    got = [t["id"] for t in r.json()["data"]["things"]]
    assert got == (ids if value is not None else [1, 2, 3, 4])


@pytest.mark.parametrize("type_,value,message", [
    ("String", 1, "String cannot represent a non string value"),
    ("String", True, "String cannot represent a non string value"),
    ("String", {"a": 1}, "String cannot represent a non string value"),
    ("Int", 1.5, "Int cannot represent non-integer"),
    ("Int", 2 ** 31, "non 32-bit"),
    ("Int", -2 ** 31 - 1, "non 32-bit"),
    ("Int", "1", "Int cannot represent a non-integer value"),
    ("Int", True, "Int cannot represent a non-integer value"),
    ("Float", "1.5", "Float cannot represent a non numeric value"),
    ("Float", False, "Float cannot represent a non numeric value"),
    ("Boolean", 1, "Boolean cannot represent a non boolean value"),
    ("Boolean", "true", "Boolean cannot represent a non boolean value"),
    ("DateTime", "yesterday", "an ISO 8601 date-time"),
    ("DateTime", 20240101, "String cannot represent"),
    ("Date", "2024-1-2", "a date (YYYY-MM-DD)"),
    ("Date", "2024-01-02T00:00:00Z", "a date (YYYY-MM-DD)"),
    ("UUID", "5b6e8c5e5f274d529f0b9f3b4d0c0a04", "a UUID"),
    ("UUID", "not-a-uuid", "a UUID"),
    ("Code", "D", "not a value of the enum"),
    ("Code", 1, "an enum value is expected"),
])
def test_invalid_values(ngx, type_, value, message):
    r = run(ngx, type_, value)
    body = r.json()
    assert "data" not in body, body
    err = body["errors"][0]
    assert err["extensions"]["code"] == "BAD_USER_INPUT"
    assert err["message"].startswith('Variable "$v" got invalid value')
    assert message in err["message"], err["message"]
    assert err["locations"] == [{"line": 1, "column": 8}]


def test_id_accepts_strings_and_integers(ngx, pg):
    uid = str(pg.query("SELECT demo_uuid('user', 4)")[0][0])
    q = 'query ($id: ID!) { user(id: $id) { email } }'
    assert ngx.gql(q, {"id": uid})["data"]["user"] == {
        "email": "user4@example.com"}
    r = ngx.post('query ($id: ID!) { thing(id: $id) { id } }', {"id": 2})
    assert r.json()["data"]["thing"] == {"id": 2}
    for bad in (1.5, True, [], {"a": 1}):
        r = ngx.post(q, {"id": bad})
        assert "ID cannot represent" in r.json()["errors"][0]["message"]


def test_lists_coerce_single_values_and_check_items(ngx):
    q = 'query ($v: [Int!]) { things(where: {score: {in: $v}}) { id } }'
    assert ngx.gql(q, {"v": 10})["data"]["things"] == [{"id": 1}]
    assert ngx.gql(q, {"v": [10, 40]})["data"]["things"] == [
        {"id": 1}, {"id": 4}]
    r = ngx.post(q, {"v": [10, None]})
    assert 'at "v[1]"' in r.json()["errors"][0]["message"]
    assert "not to be null" in r.json()["errors"][0]["message"]
    r = ngx.post(q, {"v": [10, "x"]})
    assert 'at "v[1]"' in r.json()["errors"][0]["message"]
    # a list literal with a variable inside
    r = ngx.gql('query ($a: Int!) { things(where: {score: {in: [$a, 40]}},'
                ' orderBy: [{id: ASC}]) { id } }', {"a": 20})
    assert r["data"]["things"] == [{"id": 2}, {"id": 4}]


def test_input_objects(ngx):
    q = 'query ($w: ThingWhereInput) { things(where: $w) { id } }'
    assert ngx.gql(q, {"w": {"code": {"eq": "C"}}})["data"]["things"] == [
        {"id": 3}]
    r = ngx.post(q, {"w": {"nope": {"eq": 1}}})
    assert 'Field "nope" is not defined by type "ThingWhereInput"' in \
        r.json()["errors"][0]["message"]
    r = ngx.post(q, {"w": {"score": {"eq": "x"}}})
    msg = r.json()["errors"][0]["message"]
    assert 'at "w.score.eq"' in msg and "Int cannot represent" in msg
    r = ngx.post(q, {"w": [1]})
    assert "to be an object" in r.json()["errors"][0]["message"]
    r = ngx.post(q, {"w": "x"})
    assert "to be an object" in r.json()["errors"][0]["message"]


def test_defaults_and_nullability(ngx):
    q = 'query ($n: Int = 2) { things(limit: $n) { id } }'
    assert len(ngx.gql(q)["data"]["things"]) == 2
    assert len(ngx.gql(q, {"n": 3})["data"]["things"]) == 3
    # an explicit null overrides the default: no limit
    assert len(ngx.gql(q, {"n": None})["data"]["things"]) == 4
    r = ngx.post('query ($n: Int!) { things(limit: $n) { id } }', {})
    assert 'of required type "Int!" was not provided' in \
        r.json()["errors"][0]["message"]


@pytest.mark.parametrize("literal,message", [
    ('score: {eq: "1"}', 'Int cannot represent'),
    ('score: {eq: 1.0}', 'Int cannot represent'),
    ('ratio: {eq: "x"}', 'Float cannot represent'),
    ('flag: {eq: 1}', 'Boolean cannot represent'),
    ('name: {eq: 1}', 'String cannot represent'),
    ('code: {eq: "A"}', 'an enum value is expected'),
    ('uid: {eq: "x"}', 'a UUID'),
    ('day: {eq: "x"}', 'a date'),
    ('id: {in: [1, null]}', 'null is not allowed'),
])
def test_literal_errors(ngx, literal, message):
    r = ngx.post('{ things(where: {%s}) { id } }' % literal)
    body = r.json()
    assert "data" not in body
    assert body["errors"][0]["extensions"]["code"] == \
        "GRAPHQL_VALIDATION_FAILED"
    assert message in body["errors"][0]["message"], body
