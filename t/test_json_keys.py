"""JSON keys that are not snake_case: @json(key:) (issue 14, item 7).

v_legacy (t/fixtures.sql) is a view whose data has camelCase, spaced and
quoted keys ("eMail", "Full Name", "it's \"age\"", "homeAddress" with
"ZIP" and "cityName"); tb_legacy holds the same values in plain columns.
The Legacy type of t/schema.graphql reads it through @json: each answer,
filter and ordering must be what hand-written SQL on tb_legacy gives.
Also: the examples of docs/schema.md ("JSON keys", "Directives") run as
written, and introspection lists @json and the declared @owner.
"""

import json
import os
import re
import tempfile

import pytest

from conftest import ROOT, Nginx

DOCS = os.path.join(ROOT, "docs", "schema.md")

FIELDS = "id email fullName age status address { zip city }"


def by_hand(pg, where, order="id"):
    rows = pg.query("SELECT id, email, full_name, age, status_code, zip, "
                    "city FROM tb_legacy WHERE %s ORDER BY %s"
                    % (where, order))
    return [{"id": r[0], "email": r[1], "fullName": r[2], "age": r[3],
             "status": r[4],
             "address": {"zip": r[5], "city": r[6]} if r[5] else None}
            for r in rows]


def test_answers_read_the_json_keys(ngx, pg):
    d = ngx.data("{ legacies(orderBy: [{id: ASC}]) { %s } }" % FIELDS)
    assert d["legacies"] == by_hand(pg, "id <= 5")
    # one with every odd key, by alias too
    d = ngx.data('{ legacies(where: {fullName: {contains: "\\"quoted"}})'
               ' { n: fullName a: age e: email } }')
    assert d["legacies"] == [{"n": 'O\'Brien "quoted"', "a": None,
                              "e": None}]


@pytest.mark.parametrize("where,sql", [
    ('{email: {endswith: "@example.com"}}', "email LIKE '%%@example.com'"),
    ('{fullName: {contains: "\\"quoted\\""}}',
     "full_name LIKE '%%\"quoted\"%%'"),
    ('{age: {gte: 50}}', "age >= 50"),
    ('{age: {isnull: true}}', "age IS NULL"),
    ('{status: {eq: "active"}}', "status_code = 'active'"),
    ('{status: {in: ["retired", "gone"]}}', "status_code IN ('retired')"),
    ('{address: {city: {eq: "Paris"}}}', "city = 'Paris'"),
    ('{address: {zip: {startswith: "75"}}, age: {lt: 60}}',
     "zip LIKE '75%%' AND age < 60"),
    ('{OR: [{age: {isnull: true}}, {address: {city: {eq: "Berlin"}}}]}',
     "age IS NULL OR city = 'Berlin'"),
    ('{NOT: {email: {icontains: "ALAN"}}}',
     "NOT (email ILIKE '%%alan%%')"),
])
def test_filters_go_through_the_json_keys(ngx, pg, where, sql):
    d = ngx.data("{ legacies(where: %s, orderBy: [{id: ASC}]) { %s } }"
               % (where, FIELDS))
    assert d["legacies"] == by_hand(pg, "id <= 5 AND (%s)" % sql)


@pytest.mark.parametrize("order_by,sql", [
    ("[{email: ASC}]", "email ASC NULLS LAST"),
    ("[{age: DESC}]", "age DESC NULLS FIRST"),
    ("[{fullName: DESC}]", "full_name DESC"),
    ("[{address: {city: ASC}}, {age: DESC}]", "city, age DESC"),
    ("[{status: ASC}, {address: {zip: DESC}}]", "status_code, zip DESC"),
])
def test_orders_go_through_the_json_keys(ngx, pg, order_by, sql):
    d = ngx.data("{ legacies(where: {id: {lte: 5}}, orderBy: %s) { %s } }"
               % (order_by, FIELDS))
    assert d["legacies"] == by_hand(pg, "id <= 5", sql)
    d = ngx.data("{ legacies(where: {id: {lte: 5}}, orderBy: %s, "
               "limit: 2, offset: 1) { %s } }" % (order_by, FIELDS))
    assert d["legacies"] == by_hand(pg, "id <= 5", sql + " LIMIT 2 OFFSET 1")


def test_mutation_input_uses_the_json_keys(ngx, pg):
    q = ('mutation ($i: LegacyInput!) { saveLegacy(input: $i) {'
         ' ... on LegacySuccess { message legacy { id email fullName } }'
         ' ... on LegacyError { code } } }')
    try:
        d = ngx.data(q, {"i": {"email": "new@example.com",
                                  "fullName": "New 'One'"}})
        res = d["saveLegacy"]
        # the function's input, as it received it (its message echoes it)
        assert json.loads(res["message"]) == {"eMail": "new@example.com",
                                              "Full Name": "New 'One'"}
        assert res["legacy"]["email"] == "new@example.com"
        assert res["legacy"]["fullName"] == "New 'One'"
        row = pg.query("SELECT email, full_name FROM tb_legacy WHERE id = %s",
                       res["legacy"]["id"])
        assert row == [("new@example.com", "New 'One'")]
    finally:
        pg.execute("DELETE FROM tb_legacy WHERE id > 5")


def test_introspection_lists_json_and_declared_directives(ngx):
    d = ngx.data("{ __schema { directives { name description locations"
               " isRepeatable args { name type { kind ofType { name } } } }"
               " } }")
    dirs = {x["name"]: x for x in d["__schema"]["directives"]}
    assert {"view", "column", "function", "json", "owner"} <= set(dirs)
    assert dirs["json"]["locations"] == ["FIELD_DEFINITION",
                                         "INPUT_FIELD_DEFINITION"]
    assert dirs["json"]["args"] == [{"name": "key", "type": {
        "kind": "NON_NULL", "ofType": {"name": "String"}}}]
    assert dirs["owner"]["description"] == \
        "Who may read a field: declared here, ignored by the module."
    assert dirs["owner"]["locations"] == ["FIELD_DEFINITION", "OBJECT"]
    assert dirs["owner"]["isRepeatable"] is False


def doc_blocks(title):
    """The indented blocks of a section of docs/schema.md, dedented."""
    text = open(DOCS).read()
    m = re.search(r"^## %s\n(.*?)(?=^## )" % re.escape(title), text,
                  re.S | re.M)
    assert m, title
    blocks, cur = [], []
    for line in m.group(1).split("\n") + [""]:
        if line.startswith("    ") or (cur and line == ""):
            cur.append(line[4:])
            continue
        if cur:
            blocks.append("\n".join(cur).strip("\n"))
            cur = []
    return [b for b in blocks if b]


def schema_file(text):
    f = tempfile.NamedTemporaryFile("w", suffix=".graphql", delete=False)
    f.write(text + "\n")
    f.close()
    return f.name


def test_docs_json_keys_example(make_nginx, pg):
    sdl, query, sql, want = doc_blocks("JSON keys: `@json`")
    path = schema_file(sdl)
    try:
        n = make_nginx(schema=path).start()
        r = n.post(query)
        assert r.status_code == 200, r.text
        assert r.json() == json.loads(want)
    finally:
        os.unlink(path)

    # the SQL shown gives the same rows, in the same order
    rows = pg.query(sql.replace("$1", "%s"), "Paris")
    assert [row[0]["eMail"] for row in rows] == [
        x["email"] for x in json.loads(want)["data"]["legacies"]]


def test_docs_directives_examples(pg):
    declared, bad, message = doc_blocks("Directives")
    q = "type Query { users: [User!]! }\n"

    path = schema_file(declared + "\n" + bad.replace(
        '@ownr(role: "hr")', '@owner(role: "hr")') + "\n" + q)
    try:
        r = Nginx(pg, path).cmd("-t")
        assert r.returncode == 0, r.stderr
    finally:
        os.unlink(path)

    path = schema_file(bad + "\n" + q)
    try:
        r = Nginx(pg, path).cmd("-t")
        assert r.returncode != 0
        want = re.search(r"schema\.graphql(:\d+:\d+: .*) in ", message)
        assert want, message
        assert path + want.group(1) in r.stderr, r.stderr
    finally:
        os.unlink(path)
