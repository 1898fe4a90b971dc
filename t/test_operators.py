"""Filter operators against PostgreSQL: each one, with the same filter
written by hand in SQL, must return the same rows."""

import pytest


def ids(ngx, where, variables=None):
    var = "$l: [String!]" if "$l" in where else "$v: String"
    q = ('query (%s) { words(where: %s, orderBy: [{id: ASC}]) { id } }'
         % (var, where))
    r = ngx.post(q, variables or {})
    body = r.json()
    assert "errors" not in body, body
    return [w["id"] for w in body["data"]["words"]]


def by_hand(pg, sql, *params):
    # psycopg reads % as a placeholder: the hand-written SQL doubles it
    return [row[0] for row in pg.query(
        "SELECT id FROM tb_word WHERE %s ORDER BY id"
        % sql.replace("%", "%%"), *params)]


@pytest.mark.parametrize("op,value,sql", [
    ("contains", "pp", "word LIKE '%pp%'"),
    ("icontains", "AP", "word ILIKE '%ap%'"),
    ("startswith", "snake", "word LIKE 'snake%'"),
    ("istartswith", "gr", "word ILIKE 'gr%'"),
    ("endswith", "ruit", "word LIKE '%ruit'"),
    ("iendswith", "PE", "word ILIKE '%pe'"),
    ("like", "a%e", "word LIKE 'a%e'"),
    ("ilike", "a%", "word ILIKE 'a%'"),
    ("matches", "^[a-z]+$", "word ~ '^[a-z]+$'"),
    ("imatches", "^gr", "word ~* '^gr'"),
    ("not_matches", "e", "word !~ 'e'"),
    ("eq", "apple", "word = 'apple'"),
    ("neq", "apple", "word <> 'apple'"),
    ("gt", "grape", "word > 'grape'"),
    ("lte", "Apricot", "word <= 'Apricot'"),
])
def test_string_operator(ngx, pg, op, value, sql):
    assert ids(ngx, "{word: {%s: $v}}" % op, {"v": value}) == \
        by_hand(pg, sql)


@pytest.mark.parametrize("op,value,want", [
    ("contains", "%", [3]),            # not "anything"
    ("contains", "0%", [3]),
    ("contains", "_", [5]),            # not "any one character"
    ("startswith", "snake_", [5]),
    ("contains", "\\", [7]),           # the escape character itself
    ("endswith", "\\slash", [7]),
    ("contains", "'", [12]),
    ("contains", "本", [13]),
    ("contains", "", [1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 12, 13, 14]),
])
def test_patterns_escape_wildcards(ngx, op, value, want):
    assert ids(ngx, "{word: {%s: $v}}" % op, {"v": value}) == want


@pytest.mark.parametrize("value", [
    "' OR 1=1 --", "%' OR '1'='1", "$1", "\\'; DROP TABLE tb_word; --",
    "_%_%_", "a" * 50000,
])
def test_injection_corpus_through_every_string_operator(ngx, pg, value):
    for op in ("eq", "neq", "contains", "icontains", "startswith",
               "istartswith", "endswith", "iendswith", "like", "ilike"):
        got = ids(ngx, "{word: {%s: $v}}" % op, {"v": value})
        assert isinstance(got, list)
    assert pg.query("SELECT count(*) FROM tb_word")[0][0] == 14


def test_in_and_notin(ngx, pg):
    assert ids(ngx, "{word: {in: $l}}", {"l": ["apple", "GRAPE", "x"]}) == \
        [1, 9]
    assert ids(ngx, "{word: {notin: $l}}", {"l": ["apple", "GRAPE"]}) == \
        by_hand(pg, "word NOT IN ('apple', 'GRAPE')")


def test_bad_regex_is_a_field_error(ngx):
    r = ngx.post('{ words(where: {word: {matches: "("}}) { id } }')
    body = r.json()
    assert body["data"] == {"words": None}
    assert "2201B" in body["errors"][0]["message"]
