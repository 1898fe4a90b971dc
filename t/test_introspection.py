"""Introspection: what GraphiQL, Apollo and codegen ask for."""

import os

import pytest

from conftest import ROOT

QUERY = open(os.path.join(ROOT, "t", "introspection_query.graphql")).read()


def _types(ngx):
    r = ngx.gql(QUERY)
    return r["data"]["__schema"], {t["name"]: t for t in
                                   r["data"]["__schema"]["types"]}


def _unwrap(t):
    out = ""
    while t["kind"] in ("NON_NULL", "LIST"):
        out += t["kind"][0]
        t = t["ofType"]
    return out + ":" + t["name"]


def test_full_introspection_query(ngx):
    schema, types = _types(ngx)
    assert schema["queryType"] == {"name": "Query"}
    assert schema["mutationType"] == {"name": "Mutation"}
    assert schema["subscriptionType"] is None
    for name in ("Query", "User", "Post", "Thing", "String", "Int", "Float",
                 "Boolean", "ID", "DateTime", "Date", "UUID", "JSON",
                 "UserWhereInput", "UserOrderByInput", "StringFilter",
                 "IntFilter", "OrderDirection", "CodeFilter", "__Schema",
                 "__Type", "__TypeKind", "__Field", "__InputValue",
                 "__EnumValue", "__Directive", "__DirectiveLocation"):
        assert name in types, name
    user = types["User"]
    assert user["kind"] == "OBJECT"
    assert user["description"] == "A person who writes posts."
    assert user["interfaces"] == []
    assert user["inputFields"] is None and user["enumValues"] is None
    fields = {f["name"]: f for f in user["fields"]}
    assert _unwrap(fields["id"]["type"]) == "N:ID"
    assert _unwrap(fields["age"]["type"]) == ":Int"
    post = {f["name"]: f for f in types["Post"]["fields"]}
    assert _unwrap(post["tags"]["type"]) == "NLN:String"
    assert _unwrap(post["author"]["type"]) == "N:User"
    q = {f["name"]: f for f in types["Query"]["fields"]}
    assert "__schema" not in q and "__type" not in q
    args = {a["name"]: a for a in q["users"]["args"]}
    assert _unwrap(args["where"]["type"]) == ":UserWhereInput"
    assert _unwrap(args["orderBy"]["type"]) == "LN:UserOrderByInput"
    assert _unwrap(q["user"]["args"][0]["type"]) == "N:ID"
    where = {f["name"]: f for f in types["UserWhereInput"]["inputFields"]}
    assert _unwrap(where["age"]["type"]) == ":IntFilter"
    assert _unwrap(where["AND"]["type"]) == "LN:UserWhereInput"
    assert _unwrap(where["NOT"]["type"]) == ":UserWhereInput"
    ops = {f["name"] for f in types["IntFilter"]["inputFields"]}
    assert ops == {"eq", "neq", "in", "nin", "notin", "gt", "gte", "lt",
                   "lte", "isnull"}
    ops = {f["name"] for f in types["BooleanFilter"]["inputFields"]}
    assert ops == {"eq", "neq", "in", "nin", "notin", "isnull"}
    ops = {f["name"] for f in types["StringFilter"]["inputFields"]}
    assert {"contains", "icontains", "startswith", "istartswith",
            "endswith", "iendswith", "like", "ilike", "matches",
            "imatches", "not_matches"} <= ops
    assert [v["name"] for v in types["OrderDirection"]["enumValues"]] == [
        "ASC", "DESC"]
    dirs = {d["name"]: d for d in schema["directives"]}
    assert set(dirs) >= {"skip", "include", "deprecated", "specifiedBy"}
    assert dirs["skip"]["locations"] == ["FIELD", "FRAGMENT_SPREAD",
                                         "INLINE_FRAGMENT"]
    assert dirs["deprecated"]["args"][0]["defaultValue"] == \
        '"No longer supported"'
    assert dirs["skip"]["isRepeatable"] is False


def test_deprecation_and_descriptions(ngx):
    _, types = _types(ngx)
    thing = {f["name"]: f for f in types["Thing"]["fields"]}
    assert thing["legacyCode"]["isDeprecated"] is True
    assert thing["legacyCode"]["deprecationReason"] == "Use `code`."
    assert thing["legacyCode"]["description"] == \
        "The code before the current one."
    code = {v["name"]: v for v in types["Code"]["enumValues"]}
    assert code["Z"]["isDeprecated"] is True
    assert code["C"]["description"] == "Rarely used."
    assert types["Code"]["description"] == "A code, as stored."
    r = ngx.gql('{ __type(name: "Thing") { fields { name } } '
                ' c: __type(name: "Code") { enumValues { name } } }')
    names = [f["name"] for f in r["data"]["__type"]["fields"]]
    assert "legacyCode" not in names and "code" in names
    assert [v["name"] for v in r["data"]["c"]["enumValues"]] == [
        "A", "B", "C"]


def test_type_by_name(ngx):
    r = ngx.gql('{ __type(name: "Post") { name kind fields { name } }'
                '  none: __type(name: "Nope") { name } }')
    assert r["data"]["__type"]["name"] == "Post"
    assert r["data"]["__type"]["kind"] == "OBJECT"
    assert r["data"]["none"] is None


def test_introspection_mixed_with_data_and_typename(ngx):
    r = ngx.gql('{ things(limit: 1) { id __typename } __typename'
                '  __schema { queryType { name __typename } __typename } }')
    assert r["data"] == {
        "things": [{"id": 1, "__typename": "Thing"}],
        "__typename": "Query",
        "__schema": {"queryType": {"name": "Query", "__typename": "__Type"},
                     "__typename": "__Schema"}}


def test_introspection_query_over_get(ngx):
    import requests
    r = requests.get(ngx.url, params={"query": QUERY})
    assert r.status_code == 200
    assert r.json()["data"]["__schema"]["queryType"]["name"] == "Query"


@pytest.mark.parametrize("query,message", [
    ("{ __schema { nope } }", 'Cannot query field "nope" on type "__Schema"'),
    ("{ __schema }", "must have a selection"),
    ("{ __type { name } }", 'argument "name" of type "String!" is required'),
    ('{ __type(name: 1) { name } }', 'String cannot represent'),
    ('{ __schema { types { name { x } } } }', "must not have a selection"),
    ('{ __schema { types(x: 1) { name } } }', 'Unknown argument "x"'),
])
def test_introspection_validation(ngx, query, message):
    r = ngx.post(query)
    body = r.json()
    assert "data" not in body
    assert message in body["errors"][0]["message"], body


def test_introspection_can_be_turned_off(make_nginx):
    n = make_nginx(extra="fraiseql_introspection off;").start()
    r = n.post("{ __schema { types { name } } }")
    body = r.json()
    assert "data" not in body
    assert "introspection is not allowed" in body["errors"][0]["message"]
    r = n.post('{ __type(name: "User") { name } }')
    assert "introspection is not allowed" in r.json()["errors"][0]["message"]
    # __typename is not introspection of the schema
    assert n.gql("{ __typename }") == {"data": {"__typename": "Query"}}
