"""GraphQL over HTTP: methods, media types, statuses, bad requests."""

import json
import socket

import pytest
import requests


def test_get_query(ngx):
    r = requests.get(ngx.url, params={
        "query": "query Q($n: Int) { things(limit: $n) { id } }",
        "variables": json.dumps({"n": 2}), "operationName": "Q"})
    assert r.status_code == 200
    assert r.headers["content-type"].startswith("application/json")
    assert r.json() == {"data": {"things": [{"id": 1}, {"id": 2}]}}


def test_get_plus_is_space(ngx):
    r = requests.get(ngx.url + "?query=%7B+__typename+%7D")
    assert r.json() == {"data": {"__typename": "Query"}}


def test_get_mutation_is_405(ngx):
    r = requests.get(ngx.url, params={"query": "mutation { x }"})
    assert r.status_code == 405
    assert "POST" in r.headers["allow"]
    assert "GET" in r.json()["errors"][0]["message"]


def test_get_without_query_is_400(ngx):
    r = requests.get(ngx.url)
    assert r.status_code == 400
    assert r.json()["errors"][0]["extensions"]["code"] == "BAD_REQUEST"


def test_get_bad_variables_is_400(ngx):
    r = requests.get(ngx.url, params={"query": "{ __typename }",
                                      "variables": "{nope"})
    assert r.status_code == 400
    assert "Invalid JSON" in r.json()["errors"][0]["message"]


def test_head(ngx):
    r = requests.head(ngx.url, params={"query": "{ things { id } }"})
    assert r.status_code == 200
    assert r.text == ""


@pytest.mark.parametrize("body,message", [
    ("{bad", "Invalid JSON"),
    ("", "Invalid JSON"),
    # an array is a batch, which a location takes only with fraiseql_batch
    ("[1, 2]", "Batches are not taken here"),
    ('"query"', "must be a JSON object"),
    ("{}", "Missing query"),
    ('{"query": null}', "Missing query"),
    ('{"query": 1}', '"query" must be a string'),
    ('{"query": "{ __typename }", "variables": [1]}',
     '"variables" must be an object'),
    ('{"query": "{ __typename }", "operationName": 3}',
     '"operationName" must be a string'),
    ('{"query": "{ __typename }", "extensions": "x"}',
     '"extensions" must be an object'),
    ('{"query": "{ __typename }"} trailing', "Invalid JSON"),
    ("[" * 100000 + "]" * 100000, "Batches are not taken here"),
])
def test_bad_request_bodies_are_400(ngx, body, message):
    r = requests.post(ngx.url, data=body.encode("utf-8", "surrogateescape")
                      if isinstance(body, str) else body,
                      headers={"content-type": "application/json"})
    assert r.status_code == 400, r.text
    assert r.headers["content-type"].startswith("application/json")
    err = r.json()["errors"][0]
    assert message in err["message"]
    assert err["extensions"]["code"] == "BAD_REQUEST"


def test_invalid_utf8_body_is_400(ngx):
    r = requests.post(ngx.url, data=b'{"query": "{ \xff }"}',
                      headers={"content-type": "application/json"})
    assert r.status_code == 400


def test_wrong_content_type_is_415(ngx):
    r = requests.post(ngx.url, data="{ __typename }",
                      headers={"content-type": "text/plain"})
    assert r.status_code == 415
    assert r.json()["errors"]


def test_other_methods_are_405(ngx):
    r = requests.put(ngx.url, json={"query": "{ __typename }"})
    assert r.status_code == 405
    assert r.json()["errors"]


def test_oversized_body_is_413_with_graphql_error(ngx):
    r = requests.post(ngx.url, data=b"{" + b" " * (2 * 1024 * 1024) + b"}",
                      headers={"content-type": "application/json"})
    assert r.status_code == 413
    assert "client_max_body_size" in r.json()["errors"][0]["message"]


def test_syntax_error_has_location(ngx):
    r = ngx.post("{\n  things { id \n")
    assert r.status_code == 200
    body = r.json()
    assert "data" not in body
    err = body["errors"][0]
    assert err["extensions"]["code"] == "GRAPHQL_PARSE_FAILED"
    assert err["locations"] == [{"line": 3, "column": 1}]
    assert "Syntax Error" in err["message"]


def test_unknown_field_is_error_without_data(ngx):
    r = ngx.post("{ things { id nope } }")
    assert r.status_code == 200
    body = r.json()
    assert "data" not in body
    assert body["errors"][0]["message"] == \
        'Cannot query field "nope" on type "Thing".'
    assert body["errors"][0]["locations"] == [{"line": 1, "column": 15}]


@pytest.mark.parametrize("query,message", [
    ("{ things }", "must have a selection of subfields"),
    ("{ things { id { x } } }", "must not have a selection"),
    ("{ things(nope: 1) { id } }", 'Unknown argument "nope"'),
    ("{ thing { id } }", 'argument "id" of type "ID!" is required'),
    ("{ things(limit: \"x\") { id } }", 'Expected value of type "Int"'),
    ("{ things(where: {nope: {eq: 1}}) { id } }",
     'Field "nope" is not defined by type "ThingWhereInput"'),
    ("{ things(where: {id: {like: 1}}) { id } }",
     'Field "like" is not defined by type "IntFilter"'),
    ("{ things(where: {flag: {gt: true}}) { id } }",
     'Field "gt" is not defined by type "BooleanFilter"'),
    ("{ things(where: {code: {eq: D}}) { id } }", "not a value of the enum"),
    ("{ things(orderBy: [{id: UP}]) { id } }", "not a value of the enum"),
    ("{ things { ...F } }", 'Unknown fragment "F"'),
    ("{ things { ...F } } fragment F on Thing { ...F }",
     "Cannot spread fragment"),
    ("{ things { ... on User { id } } }", "can never be of type"),
    ("query ($x: Thing) { __typename }", "cannot be non-input type"),
    ("{ things(limit: $n) { id } }", 'Variable "$n" is not defined'),
    ("{ things(limit: -1) { id } }", "must not be negative"),
    ("{ a: things { id } a: items { id } }", "conflict"),
    ("type T { a: Int }", "is not executable"),
    ("{ things { id @nope } }", 'Unknown directive "@nope"'),
])
def test_validation_errors(ngx, query, message):
    r = ngx.post(query)
    assert r.status_code == 200
    body = r.json()
    assert "data" not in body, body
    assert any(message in e["message"] for e in body["errors"]), body
    assert all(e["extensions"]["code"] in ("GRAPHQL_VALIDATION_FAILED",
                                           "BAD_USER_INPUT")
               for e in body["errors"])


@pytest.mark.parametrize("query,kind", [
    ("subscription { x }", "subscription"),
])
def test_operations_without_a_root_type(ngx, query, kind):
    """Valid documents (as graphql-js validates them) that cannot run."""
    r = ngx.post(query)
    body = r.json()
    assert "data" not in body
    assert body["errors"][0]["message"] == \
        "Schema is not configured to execute %s operation." % kind
    assert body["errors"][0]["extensions"]["code"] == \
        "OPERATION_NOT_SUPPORTED"


def test_graphql_response_media_type(ngx):
    h = {"accept": "application/graphql-response+json"}
    r = ngx.post("{ __typename }", headers=h)
    assert r.status_code == 200
    assert r.headers["content-type"].startswith(
        "application/graphql-response+json")
    r = ngx.post("{ nope }", headers=h)
    assert r.status_code == 400
    r = ngx.post("{ nope", headers=h)
    assert r.status_code == 400


def test_deep_query_is_refused(ngx):
    q = "{ posts { author " * 1 + "{ id } } }"
    assert ngx.post(q).json().get("data") is not None
    deep = "{ a " * 200 + "}" * 200
    r = ngx.post(deep)
    assert r.status_code == 200
    assert "errors" in r.json()


def test_huge_document_is_refused_quickly(ngx):
    doc = "{ " + " ".join("a%d: __typename" % i for i in range(34000)) + " }"
    r = ngx.post(doc)
    message = r.json()["errors"][0]["message"]
    assert "too many tokens" in message \
        or "fraiseql_max_document_size" in message


def test_keepalive_and_pipelined_requests(ngx):
    body = json.dumps({"query": "{ things(limit: 1) { id } }"}).encode()
    req = (b"POST /graphql HTTP/1.1\r\nHost: x\r\n"
           b"Content-Type: application/json\r\nContent-Length: %d\r\n\r\n%s"
           % (len(body), body))
    with socket.create_connection(("127.0.0.1", ngx.port), 5) as s:
        s.sendall(req * 3)
        data = b""
        while data.count(b'{"data":{"things":[{"id":1}]}}') < 3:
            chunk = s.recv(65536)
            assert chunk
            data += chunk
