"""Mutations that return their object type directly (issue 14, item 5):
`updateNote(input: UpdateNoteInput!): Note @function(...)`.  A success
projects the entity like a query's row; an error status is a GraphQL error
whose extensions.code is the taxonomy's class, with the field null; input
that does not coerce runs nothing.  Also the example of docs/mutations.md
("Returning the object"), run as written."""

import json
import os
import re

import pytest

from conftest import ROOT, Nginx, schema_with

DOCS = os.path.join(ROOT, "docs", "mutations.md")

UPDATE = ("mutation ($i: UpdateNoteInput!) { updateNote(input: $i) "
          "{ id body position tags __typename } }")


@pytest.fixture
def notes(pg):
    """Each test starts with two notes and leaves none."""
    pg.execute("TRUNCATE tb_note RESTART IDENTITY")
    pg.execute("INSERT INTO tb_note (body, position, tags) VALUES "
               "('first', 0, '{a}'), ('second', 1, NULL)")
    yield lambda: pg.query("SELECT id, body, position, tags FROM tb_note"
                           " ORDER BY id")
    pg.execute("TRUNCATE tb_note RESTART IDENTITY")


def as_graphql(row):
    """A tb_note row as the Note type answers it."""
    return {"id": row[0], "body": row[1], "position": row[2],
            "tags": row[3], "__typename": "Note"}


def field_error(query, body, key, code, message):
    """The answer of a field that failed: null, and one error saying why,
    located at the field."""
    assert body["data"] == {key: None}, body
    assert body["errors"] == [{
        "message": message,
        "locations": [{"line": 1, "column": query.index(key) + 1}],
        "path": [key], "extensions": {"code": code}}], body


def test_success_projects_the_object(ngx, notes):
    r = ngx.post(UPDATE, {"i": {"id": 1, "body": "changed"}})
    assert r.status_code == 200
    rows = notes()
    assert rows[0][1] == "changed"
    assert r.json() == {"data": {"updateNote": as_graphql(rows[0])}}
    # a cached plan, bound to other variables: the other note
    r = ngx.post(UPDATE, {"i": {"id": 2, "body": "also"}})
    assert r.json() == {"data": {"updateNote": as_graphql(notes()[1])}}


def test_created_and_plain_json(ngx, notes):
    q = ('mutation { createNoteDirect(input: {body: "new", tags: ["x"]}) '
         '{ id body position tags __typename } }')
    body = ngx.post(q).json()
    rows = notes()
    assert len(rows) == 3
    assert body == {"data": {"createNoteDirect": as_graphql(rows[2])}}
    # plain JSON without a status: the object is the entity
    q = ('mutation { createNotePlainDirect(input: {body: "plain"}) '
         '{ id body } }')
    assert ngx.post(q).json() == {"data": {"createNotePlainDirect": {
        "id": 4, "body": "plain"}}}
    assert notes()[3][1] == "plain"


@pytest.mark.parametrize("i,code,message", [
    ({"id": 9, "body": "x"}, "NOT_FOUND", "No note 9"),
    ({"id": 1, "body": ""}, "VALIDATION", "The body is empty"),
    ({"id": 1, "body": "first"}, "NOOP", "Nothing to change"),
    ({"id": 1, "body": "second"}, "CONFLICT", "Another note has this body"),
])
def test_error_classes_from_the_function(ngx, notes, i, code, message):
    before = notes()
    r = ngx.post(UPDATE, {"i": i})
    assert r.status_code == 200
    field_error(UPDATE, r.json(), "updateNote", code, message)
    assert notes() == before


@pytest.mark.parametrize("status,code", [
    ("validation:email", "VALIDATION"),
    ("noop:unchanged", "NOOP"),
    ("not_found:user", "NOT_FOUND"),
    ("conflict:email_taken", "CONFLICT"),
    ("unauthorized:token", "UNAUTHORIZED"),
    ("forbidden:role", "FORBIDDEN"),
    ("timeout:lock", "TIMEOUT"),
    ("failed:disk_full", "FAILED"),
    ("NOT_FOUND", "NOT_FOUND"),
    ("gone:away", "FAILED"),
])
def test_each_status_class(ngx, status, code):
    q = ('mutation ($s: String!) { echoStatusDirect(input: {status: $s, '
         'message: "m"}) { id } }')
    field_error(q, ngx.post(q, {"s": status}).json(), "echoStatusDirect",
                code, "m")
    # without a message, the status says what failed
    q = ('mutation ($s: String!) { echoStatusDirect(input: {status: $s}) '
         '{ id } }')
    field_error(q, ngx.post(q, {"s": status}).json(), "echoStatusDirect",
                code, status)


@pytest.mark.parametrize("status", ["deleted", "ok", "updated:body"])
def test_success_without_entity_is_null(ngx, status):
    q = ('mutation ($s: String!) { echoStatusDirect(input: {status: $s}) '
         '{ id } }')
    assert ngx.post(q, {"s": status}).json() == {
        "data": {"echoStatusDirect": None}}


def test_null_row_or_status_is_internal(ngx, notes):
    # a NULL composite reaches the module as a row of NULLs
    for key in ("nullRowDirect", "nullStatusDirect"):
        q = 'mutation { %s(input: {status: "x"}) { id } }' % key
        field_error(q, ngx.post(q).json(), key, "INTERNAL_SERVER_ERROR",
                    "The mutation's function answered no status")
    # the union form keeps its Error member with code 500
    q = ('mutation { nullRow(input: {status: "x"}) { ... on NoteError '
         '{ code } } }')
    assert ngx.post(q).json() == {"data": {"nullRow": {"code": 500}}}


def test_exception_is_a_database_error(ngx, notes):
    before = notes()
    q = 'mutation { failNoteDirect(input: {body: "boom"}) { id } }'
    body = ngx.post(q).json()
    assert body["data"] == {"failNoteDirect": None}
    [err] = body["errors"]
    assert err["extensions"]["code"] == "DATABASE_ERROR"
    assert "P0001" in err["message"]
    assert "secret" not in err["message"]
    assert err["path"] == ["failNoteDirect"]
    # rolled back: the function's insert is gone
    assert notes() == before


def test_errors_keep_the_fields_before_and_after(ngx, notes):
    q = ('mutation { a: updateNote(input: {id: 1, body: "one"}) { body } '
         'b: updateNote(input: {id: 7, body: "x"}) { body } '
         'c: updateNote(input: {id: 2, body: "two"}) { body } }')
    body = ngx.post(q).json()
    assert body["data"] == {"a": {"body": "one"}, "b": None,
                            "c": {"body": "two"}}
    assert [(e["path"], e["extensions"]["code"], e["message"])
            for e in body["errors"]] == [(["b"], "NOT_FOUND", "No note 7")]
    assert [n[1] for n in notes()] == ["one", "two"]


@pytest.mark.parametrize("query,variables,message", [
    ('mutation { updateNote(input: {id: 1}) { id } }', None,
     'Field "UpdateNoteInput.body" of required type "String!" was not '
     'provided'),
    ('mutation { updateNote(input: {id: 1, body: 5}) { id } }', None,
     "String cannot represent"),
    ('mutation { updateNote(input: {id: "1", body: "x"}) { id } }', None,
     "Int cannot represent"),
    (UPDATE, {"i": {"id": 1}}, "body"),
    (UPDATE, {"i": {"id": 1, "body": "x", "nope": 1}}, "nope"),
    (UPDATE, {"i": {"id": 1, "body": "a\u0000b"}}, "NUL"),
    (UPDATE, None, "$i"),
    ('mutation { updateNote(input: {id: 1, body: "x"}) }', None,
     "must have a selection of subfields"),
    ('mutation { updateNote(input: {id: 1, body: "x"}) { ... on NoteError '
     '{ code } } }', None, "cannot be spread"),
    ('mutation { updateNote(input: {id: 1, body: "x"}) { nope } }', None,
     'Cannot query field "nope" on type "Note"'),
    # a function that would insert: the count shows it never ran
    ('mutation { createNoteDirect(input: {tags: ["a"]}) { id } }', None,
     'Field "NoteInput.body" of required type "String!" was not provided'),
    ('mutation ($i: NoteInput!) { createNoteDirect(input: $i) { id } }',
     {"i": {"body": "x", "tags": [1]}}, "String cannot represent"),
    ('mutation ($i: NoteInput!) { createNoteDirect(input: $i) { id } }',
     {"i": {"body": "x", "extra": {"retryCount": "many"}}}, "Int"),
])
def test_coercion_errors_write_nothing(ngx, notes, pg, query, variables,
                                       message):
    before = notes()
    count = pg.query("SELECT count(*) FROM tb_note")[0][0]
    body = ngx.post(query, variables).json()
    assert "data" not in body, body
    assert message in body["errors"][0]["message"], body
    assert pg.query("SELECT count(*) FROM tb_note")[0][0] == count
    assert notes() == before


def test_introspection_shows_the_object(ngx):
    q = ('{ __type(name: "Mutation") { fields { name args { name type { '
         'kind ofType { name } } } type { kind name } } } }')
    fields = {f["name"]: f for f in
              ngx.post(q).json()["data"]["__type"]["fields"]}
    assert fields["updateNote"]["type"] == {"kind": "OBJECT", "name": "Note"}
    assert fields["updateNote"]["args"] == [{"name": "input", "type": {
        "kind": "NON_NULL", "ofType": {"name": "UpdateNoteInput"}}}]


@pytest.mark.parametrize("rtype,message", [
    ("Note!", 'Mutation field "updateNote" returns "Note" directly: it must '
              'be nullable ("Note", not "Note!"), as an error makes it '
              'null'),
    ("String", 'Mutation field "updateNote" must return an object type '
               '(e.g. User) or a union of two object types'),
    ("[Note]", 'Mutation field "updateNote" must return an object type'),
])
def test_refused_return_types(pg, rtype, message):
    old = "  updateNote(input: UpdateNoteInput!): Note\n"
    path = schema_with(old, "  updateNote(input: UpdateNoteInput!): %s\n"
                       % rtype)
    try:
        text = open(path).read()
        line = text[:text.index("  updateNote(")].count("\n") + 1
        r = Nginx(pg, path).cmd("-t")
        assert r.returncode != 0
        assert "%s:%d:3: %s" % (path, line, message) in r.stderr, r.stderr
    finally:
        os.unlink(path)


def doc_blocks(title):
    """The fenced blocks of a section of docs/mutations.md."""
    text = open(DOCS).read()
    m = re.search(r"^## %s\n(.*?)(?=^## )" % re.escape(title), text,
                  re.S | re.M)
    assert m, title
    return re.findall(r"^```\w*\n(.*?)^```", m.group(1), re.S | re.M)


def test_docs_example(make_nginx, pg):
    sdl, ok_q, ok_a, missing_q, missing_a, noop_a = doc_blocks(
        "Returning the object")
    field = re.search(r"type Mutation \{\n(.*)\}", sdl, re.S).group(1)
    path = schema_with('  updateUser(input: UpdateUserInput!): UserResult!\n'
                       '    @function(name: "fn_update_user", '
                       'schema: "app")\n', field)
    uid = "24c9e15e-52af-c47c-225b-757e7bee1f9d"
    age = pg.query("SELECT age FROM tb_user WHERE id = %s", uid)[0][0]
    try:
        n = make_nginx(schema=path).start()
        assert n.post(ok_q).json() == json.loads(ok_a)
        assert pg.query("SELECT first_name, age FROM tb_user WHERE id = %s",
                        uid) == [("Grace", 20)]
        assert n.post(missing_q).json() == json.loads(missing_a)
        # the same change again: nothing to change
        assert n.post(ok_q).json() == json.loads(noop_a)
    finally:
        pg.execute("UPDATE tb_user SET age = %s WHERE id = %s", age, uid)
        os.unlink(path)
