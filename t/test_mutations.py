"""Mutations: PostgreSQL functions called with their input as JSON, their
mutation_response (or plain JSON) shaped into the Success or the Error
member of the result union, one after the other in document order."""

import json

import pytest
import requests

NOTE = "note { id body position tags __typename }"
SUCCESS = "... on NoteSuccess { __typename message status %s }" % NOTE
ERROR = ("... on NoteError { __typename message status code identifier "
         "errors { field message } }")
CREATE = ("mutation ($b: String!) { createNote(input: {body: $b}) { %s %s } }"
          % (SUCCESS, ERROR))


@pytest.fixture
def notes(pg):
    """Each test starts with no notes and leaves none."""
    pg.execute("TRUNCATE tb_note RESTART IDENTITY")
    yield lambda: pg.query("SELECT id, body, position FROM tb_note"
                           " ORDER BY id")
    pg.execute("TRUNCATE tb_note RESTART IDENTITY")


def test_success_projects_the_entity(ngx, notes):
    r = ngx.post(CREATE, {"b": "hello"})
    assert r.status_code == 200
    assert r.json() == {"data": {"createNote": {
        "__typename": "NoteSuccess", "message": "Note created",
        "status": "created",
        "note": {"id": 1, "body": "hello", "position": 0, "tags": [],
                 "__typename": "Note"}}}}
    assert notes() == [(1, "hello", 0)]


def test_other_fields_of_the_response(ngx, notes):
    r = ngx.post('mutation { createNote(input: {body: "x"}) { ... on '
                 'NoteSuccess { updatedFields cascade } } }')
    assert r.json() == {"data": {"createNote": {
        "updatedFields": ["body"], "cascade": {"count": 1}}}}


@pytest.mark.parametrize("status,code,identifier", [
    ("validation:email", 422, "email"),
    ("not_found:user", 404, "user"),
    ("conflict:email_taken", 409, "email_taken"),
    ("noop:unchanged", 422, "unchanged"),
    ("failed:disk_full", 500, "disk_full"),
    ("unauthorized:token", 401, "token"),
    ("forbidden:role", 403, "role"),
    ("timeout:lock", 408, "lock"),
    ("NOT_FOUND", 404, None),
    ("gone:away", 500, "gone:away"),
])
def test_error_statuses(ngx, notes, status, code, identifier):
    q = ("mutation ($s: String!) { echoStatus(input: {status: $s, "
         'message: "m"}) { %s %s } }' % (SUCCESS, ERROR))
    r = ngx.post(q, {"s": status})
    assert r.status_code == 200
    assert r.json() == {"data": {"echoStatus": {
        "__typename": "NoteError", "message": "m", "status": status,
        "code": code, "identifier": identifier,
        "errors": [{"field": "status", "message": status}]}}}


@pytest.mark.parametrize("status", [
    "success", "created", "new", "updated", "deleted", "completed", "ok",
    "Created", "updated:name"])
def test_success_statuses(ngx, status):
    q = ("mutation ($s: String!) { echoStatus(input: {status: $s}) "
         "{ __typename } }")
    assert ngx.post(q, {"s": status}).json() == {
        "data": {"echoStatus": {"__typename": "NoteSuccess"}}}


def test_validation_error_from_the_function(ngx, notes):
    r = ngx.post(CREATE, {"b": ""})
    assert r.json()["data"]["createNote"] == {
        "__typename": "NoteError", "message": "The body is empty",
        "status": "validation:body", "code": 422, "identifier": "body",
        "errors": [{"field": "body", "message": "must not be empty"}]}
    assert notes() == []


def test_plain_json_is_a_success(ngx, notes):
    r = ngx.post('mutation { createNotePlain(input: {body: "p"}) { '
                 '__typename ... on NoteSuccess { message note { id body } }'
                 ' } }')
    assert r.json() == {"data": {"createNotePlain": {
        "__typename": "NoteSuccess", "message": None,
        "note": {"id": 1, "body": "p"}}}}


def test_sql_exception_is_a_graphql_error(ngx, make_nginx, notes):
    q = 'mutation { failNote(input: {body: "boom"}) { __typename } }'
    body = ngx.post(q).json()
    assert body["data"] == {"failNote": None}
    err = body["errors"][0]
    assert err["extensions"]["code"] == "DATABASE_ERROR"
    assert "P0001" in err["message"]
    assert "secret" not in err["message"]
    assert err["path"] == ["failNote"]
    # its transaction rolled back
    assert notes() == []
    # fraiseql_debug on shows the database's message
    n = make_nginx(extra="fraiseql_debug on;").start()
    err = n.post(q).json()["errors"][0]
    assert "secret internal detail: boom" in err["message"]


def test_two_mutations_run_in_order(ngx, notes):
    q = ('mutation { a: createNote(input: {body: "first"}) { ... on '
         'NoteSuccess { note { id position } } } b: createNote(input: '
         '{body: "second"}) { ... on NoteSuccess { note { id position } } } }')
    for _ in range(3):
        ngx.post('mutation { createNote(input: {body: "x"}) { __typename } }')
    start = len(notes())
    assert ngx.post(q).json() == {"data": {
        "a": {"note": {"id": start + 1, "position": start}},
        "b": {"note": {"id": start + 2, "position": start + 1}}}}


def test_a_failing_mutation_keeps_the_ones_before_and_after(ngx, notes):
    q = ('mutation { a: createNote(input: {body: "kept"}) { __typename } '
         'b: failNote(input: {body: "x"}) { __typename } '
         'c: createNote(input: {body: "also kept"}) { ... on NoteSuccess '
         '{ note { position } } } }')
    body = ngx.post(q).json()
    assert body["data"] == {"a": {"__typename": "NoteSuccess"}, "b": None,
                            "c": {"note": {"position": 1}}}
    assert [e["path"] for e in body["errors"]] == [["b"]]
    assert [n[1] for n in notes()] == ["kept", "also kept"]


def test_input_reaches_sql_in_snake_case(ngx):
    q = ('mutation ($i: NoteInput!) { echoInput(input: $i) { ... on '
         'NoteSuccess { message cascade } } }')
    i = {"body": "b", "tags": ["x", "y"],
         "extra": {"sourceUrl": "http://e", "retryCount": 2}}
    r = ngx.post(q, {"i": i}).json()["data"]["echoInput"]
    assert r["cascade"] == {"body": "b", "tags": ["x", "y"],
                            "extra": {"source_url": "http://e",
                                      "retry_count": 2}}
    assert json.loads(r["message"]) == r["cascade"]


@pytest.mark.parametrize("query,variables,message", [
    ('mutation { createNote(input: {}) { __typename } }', None,
     'Field "NoteInput.body" of required type "String!" was not provided'),
    ('mutation { createNote(input: {body: 5}) { __typename } }', None,
     "String cannot represent"),
    ('mutation ($i: NoteInput!) { createNote(input: $i) { __typename } }',
     {"i": {"tags": ["a"]}}, "body"),
    ('mutation ($i: NoteInput!) { createNote(input: $i) { __typename } }',
     {"i": {"body": "b", "extra": {"retryCount": "x"}}}, "Int"),
    ('mutation ($i: NoteInput!) { createNote(input: $i) { __typename } }',
     {"i": {"body": "b", "nope": 1}}, "nope"),
    ('mutation { createNote(input: {body: "x"}) }', None,
     "must have a selection of subfields"),
])
def test_coercion_errors_before_any_sql(ngx, notes, query, variables,
                                        message):
    body = ngx.post(query, variables).json()
    assert "data" not in body
    assert message in body["errors"][0]["message"], body
    assert notes() == []


INJECTION = [
    "' OR 1=1 --", "'); DELETE FROM tb_note; --", "$1", "\\", "\\'",
    "%_%", "/* */", "\";", "日本語", "x" * 20000, "{\"a\": 1}",
    "'; DROP TABLE tb_user; --",
]


def test_injection_corpus_stored_verbatim(ngx, pg, notes):
    users = pg.query("SELECT count(*) FROM tb_user")[0][0]
    for i, s in enumerate(INJECTION):
        r = ngx.post(CREATE, {"b": s}).json()
        assert r["data"]["createNote"]["note"]["body"] == s
    assert [n[1] for n in notes()] == INJECTION
    assert pg.query("SELECT count(*) FROM tb_user")[0][0] == users


def test_nul_refused(ngx, notes):
    body = ngx.post(CREATE, {"b": "a\u0000b"}).json()
    assert "NUL" in body["errors"][0]["message"]
    assert notes() == []


def test_mutation_over_get_is_405_with_allow_post(ngx, notes):
    r = requests.get(ngx.url, params={
        "query": 'mutation { createNote(input: {body: "g"}) { __typename } }'},
        timeout=10)
    assert r.status_code == 405
    assert r.headers["Allow"] == "POST"
    assert notes() == []


def test_demo_user_mutations(ngx, pg):
    q = ('mutation ($i: CreateUserInput!) { createUser(input: $i) { '
         '__typename ... on CreateUserSuccess { message user { email '
         'firstName age } updatedFields } ... on CreateUserError { code '
         'identifier errors { field message } } } }')
    try:
        r = ngx.post(q, {"i": {"email": "new@example.com", "firstName": "N",
                               "lastName": "W", "age": 40}}).json()
        res = r["data"]["createUser"]
        assert res["__typename"] == "CreateUserSuccess"
        assert res["user"] == {"email": "new@example.com", "firstName": "N",
                               "age": 40}
        assert sorted(res["updatedFields"]) == [
            "age", "email", "first_name", "last_name"]
        again = ngx.post(q, {"i": {"email": "new@example.com",
                                   "firstName": "N", "lastName": "W"}})
        assert again.json()["data"]["createUser"] == {
            "__typename": "CreateUserError", "code": 409,
            "identifier": "email_taken", "errors": []}
        bad = ngx.post(q, {"i": {"email": "nope", "firstName": "N",
                                 "lastName": "W"}}).json()
        assert bad["data"]["createUser"]["code"] == 422
        uid = pg.query("SELECT id::text FROM tb_user WHERE email ="
                       " 'new@example.com'")[0][0]
        upd = ('mutation ($i: UpdateUserInput!) { updateUser(input: $i) { '
               '__typename ... on UserSuccess { user { age } } ... on '
               'UserError { code identifier } } }')
        assert ngx.post(upd, {"i": {"id": uid, "age": 41}}).json() == {
            "data": {"updateUser": {"__typename": "UserSuccess",
                                    "user": {"age": 41}}}}
        assert ngx.post(upd, {"i": {"id": uid, "age": 41}}).json() == {
            "data": {"updateUser": {"__typename": "UserError", "code": 422,
                                    "identifier": "unchanged"}}}
        dele = ('mutation ($i: DeleteUserInput!) { deleteUser(input: $i) { '
                '__typename ... on UserError { code } } }')
        assert ngx.post(dele, {"i": {"id": uid}}).json() == {
            "data": {"deleteUser": {"__typename": "UserSuccess"}}}
        assert ngx.post(dele, {"i": {"id": uid}}).json() == {
            "data": {"deleteUser": {"__typename": "UserError",
                                    "code": 404}}}
    finally:
        pg.execute("DELETE FROM tb_user WHERE email = 'new@example.com'")


def test_cached_mutation_binds_its_input_again(make_nginx, notes):
    n = make_nginx(extra="add_header X-Plan-Cache $fraiseql_plan_cache "
                         "always;").start()
    q = ("mutation ($i: NoteInput!) { createNote(input: $i) { ... on "
         "NoteSuccess { note { body tags } } } }")
    seen = []
    for body, tags in (("one", ["a"]), ("two", ["b", "c"]), ("3'", [])):
        r = n.post(q, {"i": {"body": body, "tags": tags}})
        seen.append(r.headers.get("X-Plan-Cache"))
        assert r.json() == {"data": {"createNote": {
            "note": {"body": body, "tags": tags}}}}
    assert seen == ["MISS", "HIT", "HIT"]
    assert [x[1] for x in notes()] == ["one", "two", "3'"]
    # a literal input with a variable inside: compiled each time, right
    q2 = ('mutation ($b: String!) { createNote(input: {body: $b}) '
          '{ __typename } }')
    for b in ("x", "y"):
        n.post(q2, {"b": b})
    assert [x[1] for x in notes()][-2:] == ["x", "y"]
