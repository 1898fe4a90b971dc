"""Cursor pages: Relay connections (issue 14, item 2).

`pagesConnection` over v_page (t/fixtures.sql: 200 rows whose keys tie and
are null, of every sortable kind: Int, String, DateTime, a nested Int, an
@column, an enum, Boolean, Decimal, Float, Date), `useqsConnection` over
UUID ids, `usersConnection` over the demo users and `feedConnection` over
tb_feed, which the tests write to between page requests.

Walking every page forwards (first/after) and backwards (last/before),
with each ordering and page sizes 1, 7 and 50, yields exactly the list
PostgreSQL orders itself with the same keys and `id ASC` as the
tie-breaker; pageInfo, start and end cursors, `nodes` and `totalCount`
are checked at every step, the cursors passed as literals and through
variables in turn.  Malformed and forged cursors and bad page sizes are
clean BAD_USER_INPUT errors that leave the worker unharmed.
"""

import base64
import json
import os
import re
import shutil
import tempfile

import pytest
import requests

from conftest import Nginx, SCHEMA
from test_hostile import Unharmed

PAGE_FIELDS = ("edges { cursor node { id } } nodes { id } "
               "pageInfo { hasNextPage hasPreviousPage startCursor endCursor }")

# One session: thousands of pages over keep-alive connections
HTTP = requests.Session()

# (name, orderBy as a GraphQL literal, the same as JSON, PostgreSQL's ORDER
# BY over v_page with id ASC as the tie-breaker)
ORDERINGS = [
    ("default", None, None, "id ASC"),
    ("id_asc", "[{id: ASC}]", [{"id": "ASC"}], "id ASC"),
    ("id_desc", "[{id: DESC}]", [{"id": "DESC"}], "id DESC"),
    ("score_asc", "[{score: ASC}]", [{"score": "ASC"}],
     "(data->>'score')::int ASC, id ASC"),
    ("score_desc_name_asc", "[{score: DESC}, {name: ASC}]",
     [{"score": "DESC"}, {"name": "ASC"}],
     "(data->>'score')::int DESC, data->>'name' ASC, id ASC"),
    # a single object is a list of one
    ("name_asc", "{name: ASC}", {"name": "ASC"}, "data->>'name' ASC, id ASC"),
    ("at_asc", "[{at: ASC}]", [{"at": "ASC"}],
     "(data->>'at')::timestamptz ASC, id ASC"),
    ("nested_n", "[{nested: {n: ASC}}]", [{"nested": {"n": "ASC"}}],
     "(data->'nested'->>'n')::int ASC, id ASC"),
    ("grp_asc", "[{grp: ASC}]", [{"grp": "ASC"}], "grp ASC, id ASC"),
    ("kind_asc", "[{kind: ASC}]", [{"kind": "ASC"}],
     "data->>'kind' ASC, id ASC"),
]

# more shapes, walked with one page size
MORE_ORDERINGS = [
    ("grp_desc_id_desc", "[{grp: DESC}, {id: DESC}]",
     [{"grp": "DESC"}, {"id": "DESC"}], "grp DESC, id DESC"),
    # id in the middle: the keys after it never decide
    ("kind_id_desc_score", "[{kind: ASC}, {id: DESC}, {score: ASC}]",
     [{"kind": "ASC"}, {"id": "DESC"}, {"score": "ASC"}],
     "data->>'kind' ASC, id DESC"),
    ("kind_desc", "[{kind: DESC}]", [{"kind": "DESC"}],
     "data->>'kind' DESC, id ASC"),
    ("flag_desc", "[{flag: DESC}]", [{"flag": "DESC"}],
     "(data->>'flag')::boolean DESC, id ASC"),
    ("price_desc", "[{price: DESC}]", [{"price": "DESC"}],
     "(data->>'price')::numeric DESC, id ASC"),
    # two keys in one object, in the order written
    ("day_ratio", "[{day: ASC, ratio: DESC}]",
     [{"day": "ASC", "ratio": "DESC"}],
     "(data->>'day')::date ASC, (data->>'ratio')::float8 DESC, id ASC"),
    ("name_desc_at_desc", "[{name: DESC}, {at: DESC}]",
     [{"name": "DESC"}, {"at": "DESC"}],
     "data->>'name' DESC, (data->>'at')::timestamptz DESC, id ASC"),
    # a key twice: the second never decides
    ("score_twice", "[{score: ASC}, {score: DESC}]",
     [{"score": "ASC"}, {"score": "DESC"}],
     "(data->>'score')::int ASC, id ASC"),
    # a direction given null is ignored
    ("null_direction", "[{score: null}, {name: DESC}]",
     [{"score": None}, {"name": "DESC"}], "data->>'name' DESC, id ASC"),
]

BY_NAME = {o[0]: o for o in ORDERINGS + MORE_ORDERINGS}

CURSOR_CHARS = re.compile(r"[A-Za-z0-9_-]+=*")


def pg_ids(pg, sql, *params):
    return [str(r[0]) for r in pg.query(sql, *params)]


def post(url, query, variables=None):
    body = {"query": query}
    if variables is not None:
        body["variables"] = variables
    return HTTP.post(url, json=body, timeout=30)


def answer(url, query, variables=None):
    r = post(url, query, variables)
    assert r.status_code == 200, r.text[:2000]
    body = r.json()
    assert "errors" not in body, body
    return body["data"]


class Enum(str):
    """An enum value: bare in a literal, a string in JSON."""


def literal(value):
    """A JSON value as a GraphQL literal (enum values in orderBy)."""
    if isinstance(value, Enum):
        return str(value)
    if isinstance(value, dict):
        return "{%s}" % ", ".join("%s: %s" % (k, literal(v))
                                  for k, v in value.items())
    if isinstance(value, list):
        return "[%s]" % ", ".join(literal(v) for v in value)
    if isinstance(value, str) and value in ("ASC", "DESC"):
        return value
    return json.dumps(value)


class Pager:
    """Asks one connection field for pages: `args` are the page's
    arguments; with inline=True they are written into the document as
    literals, otherwise passed as variables."""

    def __init__(self, url, field="pagesConnection", types="Page",
                 fields=PAGE_FIELDS, order=None, where=None,
                 has_order=True, has_where=True):
        self.url, self.field, self.types = url, field, types
        self.fields = fields
        self.order, self.where = order, where
        self.has_order, self.has_where = has_order, has_where

    def query(self, inline, **args):
        args = {k: v for k, v in args.items() if v is not None}
        if self.order is not None:
            args["orderBy"] = self.order
        if self.where is not None:
            args["where"] = self.where
        if inline:
            params = ", ".join("%s: %s" % (k, literal(v))
                               for k, v in args.items())
            q = "{ c: %s%s { %s } }" % (self.field,
                                        "(%s)" % params if params else "",
                                        self.fields)
            return q, None
        types = {"first": "Int", "last": "Int", "after": "String",
                 "before": "String",
                 "orderBy": "[%sOrderByInput!]" % self.types,
                 "where": "%sWhereInput" % self.types}
        decl = [k for k in ("first", "after", "last", "before", "orderBy",
                            "where")
                if k in args or k in ("first", "after", "last", "before")
                or (k == "orderBy" and self.has_order)
                or (k == "where" and self.has_where)]
        q = "query (%s) { c: %s(%s) { %s } }" % (
            ", ".join("$%s: %s" % (k, types[k]) for k in decl), self.field,
            ", ".join("%s: $%s" % (k, k) for k in decl), self.fields)
        return q, args

    def page(self, inline=False, **args):
        q, v = self.query(inline, **args)
        return answer(self.url, q, v)["c"]

    def post(self, inline=False, **args):
        q, v = self.query(inline, **args)
        return post(self.url, q, v)


def check_page(page, size=None):
    """What holds of every page: nodes are the edges' nodes, the start and
    end cursors are the first and last edges' cursors, cursors are
    base64url strings."""
    edges = page["edges"]
    assert page["nodes"] == [e["node"] for e in edges]
    info = page["pageInfo"]
    if edges:
        assert info["startCursor"] == edges[0]["cursor"]
        assert info["endCursor"] == edges[-1]["cursor"]
    else:
        assert info["startCursor"] is None and info["endCursor"] is None
    for e in edges:
        assert isinstance(e["cursor"], str) and \
            CURSOR_CHARS.fullmatch(e["cursor"]), e["cursor"]
    if size is not None:
        assert len(edges) <= size
    return [str(e["node"]["id"]) for e in edges]


def walk_forward(pager, want, size):
    """Every page with first/after, each checked against want; cursors as
    variables and literals in turn.  Returns the edges' cursors."""
    got, cursors, after, step = [], [], None, 0
    while True:
        assert step <= len(want) + 1, "the walk does not end"
        page = pager.page(inline=step % 2 == 1, first=size, after=after)
        ids = check_page(page, size)
        at = len(got)
        assert ids == want[at:at + size], (step, after)
        got += ids
        cursors += [e["cursor"] for e in page["edges"]]
        info = page["pageInfo"]
        assert info["hasNextPage"] == (len(got) < len(want)), (step, info)
        # the after cursor is a row of the set: one is at or before it
        assert info["hasPreviousPage"] == (after is not None), (step, info)
        step += 1
        if not info["hasNextPage"]:
            break
        after = info["endCursor"]
    assert got == want
    return cursors


def walk_backward(pager, want, size):
    """Every page with last/before, from the end."""
    got, cursors, before, step = [], [], None, 0
    while True:
        assert step <= len(want) + 1, "the walk does not end"
        page = pager.page(inline=step % 2 == 0, last=size, before=before)
        ids = check_page(page, size)
        end = len(want) - len(got)
        assert ids == want[max(0, end - size):end], (step, before)
        got = ids + got
        cursors = [e["cursor"] for e in page["edges"]] + cursors
        info = page["pageInfo"]
        assert info["hasPreviousPage"] == (len(got) < len(want)), \
            (step, info)
        assert info["hasNextPage"] == (before is not None), (step, info)
        step += 1
        if not info["hasPreviousPage"]:
            break
        before = info["startCursor"]
    assert got == want
    return cursors


def page_order(pg, sql_order, where="TRUE", *params):
    return pg_ids(pg, "SELECT id FROM v_page WHERE %s ORDER BY %s"
                  % (where, sql_order), *params)


# ------------------------------------------------------------ whole walks

@pytest.mark.parametrize("size", [1, 7, 50])
@pytest.mark.parametrize("name", [o[0] for o in ORDERINGS])
def test_walk_forward_and_backward(ngx, pg, name, size):
    _, _, order, sql = BY_NAME[name]
    want = page_order(pg, sql)
    assert len(want) == 200
    pager = Pager(ngx.url, order=order)
    fwd = walk_forward(pager, want, size)
    back = walk_backward(pager, want, size)
    # a row's cursor does not depend on the page it came in
    assert fwd == back


@pytest.mark.parametrize("name", [o[0] for o in MORE_ORDERINGS])
def test_walk_more_orderings(ngx, pg, name):
    _, _, order, sql = BY_NAME[name]
    want = page_order(pg, sql)
    pager = Pager(ngx.url, order=order)
    walk_forward(pager, want, 7)
    walk_backward(pager, want, 7)


@pytest.mark.parametrize("size", [1, 7, 50])
def test_walk_uuid_ids(ngx, pg, size):
    """useqsConnection declares no orderBy: id ASC, in the uuid's order."""
    want = pg_ids(pg, "SELECT id FROM v_useq ORDER BY id")
    assert len(want) == 40
    pager = Pager(ngx.url, field="useqsConnection", types="Useq",
                  fields=PAGE_FIELDS, has_order=False, has_where=False)
    walk_forward(pager, want, size)
    walk_backward(pager, want, size)


@pytest.mark.parametrize("order,sql", [
    ([{"id": "ASC"}], "id ASC"),
    ([{"id": "DESC"}], "id DESC"),
    ([{"age": "DESC"}, {"id": "DESC"}], "(data->>'age')::int DESC, id DESC"),
])
def test_walk_uuid_ids_as_a_key_of_the_ordering(ngx, pg, order, sql):
    """id named in orderBy: its cursor value is the uuid, bound as one."""
    want = pg_ids(pg, "SELECT id FROM v_user ORDER BY " + sql)
    pager = Pager(ngx.url, field="usersConnection", types="User",
                  order=order)
    walk_forward(pager, want, 7)
    walk_backward(pager, want, 7)


def test_walk_users_by_creation(ngx, pg):
    want = pg_ids(pg, "SELECT id FROM v_user ORDER BY"
                  " (data->>'created_at')::timestamptz DESC, id ASC")
    pager = Pager(ngx.url, field="usersConnection", types="User",
                  order=[{"createdAt": "DESC"}])
    walk_forward(pager, want, 7)
    walk_backward(pager, want, 7)
    want = pg_ids(pg, "SELECT id FROM v_user WHERE (data->>'age')::int >= 40"
                  " ORDER BY data->>'last_name' ASC, id ASC")
    pager = Pager(ngx.url, field="usersConnection", types="User",
                  order=[{"lastName": "ASC"}], where={"age": {"gte": 40}})
    walk_forward(pager, want, 5)
    walk_backward(pager, want, 5)


WHERES = [
    ({"score": {"gte": 5}}, "(data->>'score')::int >= 5"),
    ({"OR": [{"name": {"startswith": "name 1"}}, {"grp": {"isnull": True}}]},
     "(data->>'name' LIKE 'name 1%%' OR grp IS NULL)"),
    ({"kind": {"eq": Enum("B")}, "flag": {"eq": True}},
     "data->>'kind' = 'B' AND (data->>'flag')::boolean"),
    ({"name": {"lt": "name 2'; DROP TABLE tb_page; --"}},
     "data->>'name' < 'name 2''; DROP TABLE tb_page; --'"),
]


@pytest.mark.parametrize("where,sql", WHERES)
def test_walk_with_a_filter_and_its_total_count(ngx, pg, where, sql):
    order = "(data->>'score')::int DESC, data->>'name' ASC, id ASC"
    want = page_order(pg, order, sql)
    count = pg.query("SELECT count(*) FROM v_page WHERE " + sql)[0][0]
    assert count == len(want) and 0 < count < 200
    pager = Pager(ngx.url, order=[{"score": "DESC"}, {"name": "ASC"}],
                  where=where, fields=PAGE_FIELDS + " totalCount")
    cursors = walk_forward(pager, want, 7)
    walk_backward(pager, want, 7)
    # totalCount counts what the filter matches, whatever the cursors
    for args in ({"first": 3}, {"first": 3, "after": cursors[4]},
                 {"last": 2, "before": cursors[-2]}, {"first": 0},
                 {"last": 3}):
        assert pager.page(**args)["totalCount"] == count, args
    assert pg.query("SELECT count(*) FROM tb_page")[0][0] == 200


# ---------------------------------------------------------- page edges

def test_page_boundaries(ngx, pg):
    want = page_order(pg, "id ASC")
    pager = Pager(ngx.url, order=[{"id": "ASC"}])
    full = pager.page(first=200)
    cursors = [e["cursor"] for e in full["edges"]]
    assert check_page(full) == want
    assert full["pageInfo"]["hasNextPage"] is False
    assert full["pageInfo"]["hasPreviousPage"] is False

    # no first, no last, no limit configured: every row
    page = pager.page()
    assert check_page(page) == want
    assert page["pageInfo"]["hasNextPage"] is False

    # first: 0 — nothing, and every row is after the page
    page = pager.page(first=0)
    assert check_page(page) == []
    assert page["pageInfo"] == {"hasNextPage": True, "hasPreviousPage": False,
                                "startCursor": None, "endCursor": None}
    # last: 0 — nothing, every row is before it
    page = pager.page(last=0)
    assert check_page(page) == []
    assert page["pageInfo"] == {"hasNextPage": False, "hasPreviousPage": True,
                                "startCursor": None, "endCursor": None}

    # after the last row: an empty page that has a previous one
    page = pager.page(first=5, after=cursors[-1])
    assert check_page(page) == []
    assert page["pageInfo"] == {"hasNextPage": False, "hasPreviousPage": True,
                                "startCursor": None, "endCursor": None}
    # before the first row
    page = pager.page(last=5, before=cursors[0])
    assert check_page(page) == []
    assert page["pageInfo"] == {"hasNextPage": True, "hasPreviousPage": False,
                                "startCursor": None, "endCursor": None}

    # after the first row: a row is at the cursor
    page = pager.page(first=2, after=cursors[0])
    assert check_page(page) == want[1:3]
    assert page["pageInfo"]["hasPreviousPage"] is True
    assert page["pageInfo"]["hasNextPage"] is True
    # before the last row: a row is at the cursor
    page = pager.page(last=2, before=cursors[-1])
    assert check_page(page) == want[-3:-1]
    assert page["pageInfo"]["hasNextPage"] is True
    assert page["pageInfo"]["hasPreviousPage"] is True

    # last without before: the last rows, in forward order
    page = pager.page(last=3)
    assert check_page(page) == want[-3:]
    assert page["pageInfo"]["hasNextPage"] is False
    assert page["pageInfo"]["hasPreviousPage"] is True
    # a page larger than what is left
    page = pager.page(first=50, after=cursors[180])
    assert check_page(page) == want[181:]
    assert page["pageInfo"]["hasNextPage"] is False
    page = pager.page(last=50, before=cursors[10])
    assert check_page(page) == want[:10]
    assert page["pageInfo"]["hasPreviousPage"] is False

    # after and before together: the rows between them
    page = pager.page(first=100, after=cursors[20], before=cursors[30])
    assert check_page(page) == want[21:30]
    page = pager.page(last=100, after=cursors[20], before=cursors[30])
    assert check_page(page) == want[21:30]
    page = pager.page(first=4, after=cursors[20], before=cursors[30])
    assert check_page(page) == want[21:25]
    page = pager.page(last=4, after=cursors[20], before=cursors[30])
    assert check_page(page) == want[26:30]

    # a filter nothing matches
    empty = Pager(ngx.url, where={"score": {"gt": 1000}},
                  fields=PAGE_FIELDS + " totalCount")
    page = empty.page(first=10)
    assert check_page(page) == [] and page["totalCount"] == 0
    assert page["pageInfo"] == {"hasNextPage": False,
                                "hasPreviousPage": False,
                                "startCursor": None, "endCursor": None}


def test_cursors_as_literals_and_variables_agree(ngx, pg):
    pager = Pager(ngx.url, order=[{"at": "ASC"}])
    first = pager.page(first=9)
    c = first["pageInfo"]["endCursor"]
    assert pager.page(first=9, after=c) == pager.page(inline=True, first=9,
                                                      after=c)
    assert pager.page(last=4, before=c) == pager.page(inline=True, last=4,
                                                      before=c)
    # the same document again (a plan cache hit), another cursor
    c2 = pager.page(first=9, after=c)["pageInfo"]["endCursor"]
    want = page_order(pg, "(data->>'at')::timestamptz ASC, id ASC")
    assert check_page(pager.page(first=9, after=c2)) == want[18:27]


def test_a_row_deleted_or_inserted_next_to_a_cursor(ngx, pg):
    """Keyset pages: a cursor is a position, not a row.  The row it came
    from may be gone; a row inserted before it is not seen."""
    pager = Pager(ngx.url, field="feedConnection", types="Feed",
                  order=[{"id": "ASC"}], has_where=False)
    try:
        pg.execute("INSERT INTO tb_feed VALUES (5, 0)")
        page = pager.page(first=1)
        assert check_page(page) == ["5"]
        c5 = page["pageInfo"]["endCursor"]
        pg.execute("DELETE FROM tb_feed WHERE id = 5")
        page = pager.page(first=3, after=c5)
        assert check_page(page) == ["10", "20", "30"]
        # no row is at or before the cursor any more
        assert page["pageInfo"]["hasPreviousPage"] is False
        page = pager.page(last=3, before=c5)
        assert check_page(page) == []
        assert page["pageInfo"]["hasNextPage"] is True
        pg.execute("INSERT INTO tb_feed VALUES (7, 0)")
        page = pager.page(first=3, after=c5)
        assert check_page(page) == ["7", "10", "20"]
        assert page["pageInfo"]["hasPreviousPage"] is False
        pg.execute("INSERT INTO tb_feed VALUES (3, 0)")
        page = pager.page(first=3, after=c5)
        assert check_page(page) == ["7", "10", "20"]
        assert page["pageInfo"]["hasPreviousPage"] is True
    finally:
        pg.execute(FEED_CLEANUP)


# ------------------------------------------------ writes between pages

FEED_CLEANUP = ("DELETE FROM tb_feed WHERE NOT (id BETWEEN 10 AND 600"
                " AND id %% 10 = 0)")
FEED_ORDERS = [
    ([{"id": "ASC"}], "id ASC"),
    ([{"n": "ASC"}], "(data->>'n')::int ASC, id ASC"),
    ([{"n": "DESC"}, {"id": "DESC"}], "(data->>'n')::int DESC, id DESC"),
]


def feed_rows(pg, sql_order):
    return [(r[0], r[1]) for r in pg.query(
        "SELECT id, (data->>'n')::int FROM v_feed ORDER BY " + sql_order)]


@pytest.mark.parametrize("order,sql", FEED_ORDERS)
def test_inserts_between_pages_neither_skip_nor_repeat(ngx, pg, order, sql):
    """Rows inserted next to the cursor between two page requests: the
    one just behind it is never seen, the one just ahead of it comes next;
    the rows that existed throughout each come exactly once, in order.
    tb_feed's own ids are multiples of 10; rows inserted here are not."""
    pager = Pager(ngx.url, field="feedConnection", types="Feed",
                  fields="edges { cursor node { id n } } "
                         "pageInfo { hasNextPage hasPreviousPage "
                         "startCursor endCursor }",
                  order=order, has_where=False)
    pg.execute(FEED_CLEANUP)
    original = [str(i) for i, _ in feed_rows(pg, sql)]
    assert len(original) == 60
    k = 0
    try:
        for forward in (True, False):
            seen, behind, cursor, step = [], set(), None, 0
            while True:
                assert step < 100
                if forward:
                    page = pager.page(inline=step % 2 == 1, first=7,
                                      after=cursor)
                else:
                    page = pager.page(inline=step % 2 == 1, last=7,
                                      before=cursor)
                nodes = [e["node"] for e in page["edges"]]
                ids = [x["id"] for x in nodes]
                info = page["pageInfo"]
                if forward:
                    seen += ids
                    more, edge = info["hasNextPage"], nodes[-1]
                    cursor = info["endCursor"]
                else:
                    seen = ids + seen
                    more, edge = info["hasPreviousPage"], nodes[0]
                    cursor = info["startCursor"]
                step += 1
                if not more:
                    break
                k += 1
                # rows at both ends of the whole list (for id orders)
                pg.execute("INSERT INTO tb_feed VALUES (%s, %s), (%s, %s)",
                           1000 + k, k % 4, -k, k % 4)
                c, n = int(edge["id"]), edge["n"]
                if c % 10 or not 10 <= c <= 600:
                    continue
                # the cursor's n, ids 3 below and above it: ties broken
                # by id put one on each side of the cursor
                pg.execute("INSERT INTO tb_feed VALUES (%s, %s), (%s, %s)",
                           c - 3, n, c + 3, n)
                ahead, back = (c + 3, c - 3) if forward else (c - 3, c + 3)
                if "DESC" in sql:
                    ahead, back = back, ahead
                behind.add(str(back))
                nxt = pager.page(first=1, after=cursor) if forward \
                    else pager.page(last=1, before=cursor)
                assert [e["node"]["id"] for e in nxt["edges"]] == \
                    [str(ahead)], (forward, c, n)
                # one time in two the row ahead goes again before the
                # next page: the walk goes on from the same cursor
                if k % 2:
                    pg.execute("DELETE FROM tb_feed WHERE id = %s", ahead)
            # no row twice, in the ordering's order, every original row
            # once, none of those inserted behind the cursor
            assert len(seen) == len(set(seen)), forward
            now = [str(i) for i, _ in feed_rows(pg, sql)]
            assert [i for i in now if i in set(seen)] == seen, forward
            assert [i for i in seen if i in set(original)] == original, \
                forward
            assert not behind & set(seen), forward
            assert k > 5
            pg.execute(FEED_CLEANUP)
    finally:
        pg.execute(FEED_CLEANUP)
    assert [str(i) for i, _ in feed_rows(pg, sql)] == original


# --------------------------------------------------------------- limits

def errors(r):
    """A refused request's errors: no data, or (a value only PostgreSQL
    finds wrong, as in filters) the field null."""
    assert r.status_code == 200, r.text[:500]
    body = r.json()
    assert body.get("errors"), body
    data = body.get("data")
    assert data is None or all(v is None for v in data.values()), body
    return body["errors"]


def assert_bad_input(r, what=""):
    errs = errors(r)
    assert errs[0]["extensions"]["code"] == "BAD_USER_INPUT", (what, errs)
    return errs[0]["message"]


def test_first_and_last_together_and_negative_sizes(ngx):
    pager = Pager(ngx.url)
    for inline in (False, True):
        assert_bad_input(pager.post(inline, first=1, last=1))
        assert_bad_input(pager.post(inline, first=0, last=0))
        assert_bad_input(pager.post(inline, first=-1))
        assert_bad_input(pager.post(inline, last=-1))
        assert_bad_input(pager.post(inline, first=-2147483648))
    c = pager.page(first=1)["pageInfo"]["endCursor"]
    assert_bad_input(pager.post(first=5, last=5, after=c))
    # the same document with good then bad variables (a plan cache hit)
    assert len(pager.page(first=3)["edges"]) == 3
    assert_bad_input(pager.post(first=-3))
    assert len(pager.page(last=2)["edges"]) == 2
    assert_bad_input(pager.post(last=-3))
    assert_bad_input(pager.post(first=2, last=3))
    # a page is one row in memory: 10,000 at most without a maximum
    assert len(pager.page(first=10000)["edges"]) == 200
    for args in ({"first": 10001}, {"last": 10001},
                 {"first": 2147483647}):
        for inline in (False, True):
            msg = assert_bad_input(pager.post(inline, **args), args)
            assert "10000" in msg, msg
    # not an Int at all is a variable's error
    r = pager.post(first="7")
    assert errors(r)[0]["extensions"]["code"] in ("BAD_USER_INPUT",
                                                  "GRAPHQL_VALIDATION_FAILED")


def test_default_and_max_page_sizes(make_nginx, pg):
    # /graphql: a default and a maximum; /max: a maximum alone
    n = make_nginx(extra="fraiseql_default_limit 10; fraiseql_max_limit 50;"
                   " location /max { fraiseql; fraiseql_default_limit 0;"
                   " fraiseql_max_limit 30; }")
    n.start()
    want = page_order(pg, "id ASC")
    pager = Pager(n.url)
    page = pager.page()
    assert check_page(page) == want[:10]
    assert page["pageInfo"]["hasNextPage"] is True
    assert check_page(pager.page(first=50)) == want[:50]
    assert check_page(pager.page(last=50)) == want[-50:]
    for args in ({"first": 51}, {"last": 51}, {"first": 1000000}):
        for inline in (False, True):
            msg = assert_bad_input(pager.post(inline, **args), args)
            assert "50" in msg, msg
    # neither first nor last, a cursor: the default page after it
    c = page["pageInfo"]["endCursor"]
    assert check_page(pager.page(after=c)) == want[10:20]

    url = n.url.replace("/graphql", "/max")
    page = Pager(url).page()
    assert check_page(page) == want[:30]
    assert page["pageInfo"]["hasNextPage"] is True
    assert_bad_input(Pager(url).post(last=31))


# ----------------------------------------------------- bad cursors

def b64(data):
    """base64url without padding, as the module writes cursors: a forged
    cursor must be refused for what it holds, not for its padding."""
    if isinstance(data, str):
        data = data.encode()
    return base64.urlsafe_b64encode(data).decode().rstrip("=")


def b64json(value):
    return b64(json.dumps(value))


def decode(cursor):
    """A cursor's JSON (base64url, padding optional)."""
    raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
    return json.loads(raw)


def paths(value, at=()):
    """Where a JSON value has scalars and lists: [(path, is_list)]."""
    out = []
    if isinstance(value, list):
        out.append((at, True))
        for i, v in enumerate(value):
            out += paths(v, at + (i,))
    elif isinstance(value, dict):
        for k, v in value.items():
            out += paths(v, at + (k,))
    else:
        out.append((at, False))
    return out


def replaced(value, path, new):
    if not path:
        return new
    copy = json.loads(json.dumps(value))
    parent = copy
    for p in path[:-1]:
        parent = parent[p]
    parent[path[-1]] = new
    return copy


def forgeries(cursor, wrong_values):
    """Cursors made from a good one: each scalar in turn replaced by each
    wrong value, each list one item shorter and one longer."""
    value = decode(cursor)
    out = []
    for path, is_list in paths(value):
        if is_list:
            lst = value
            for p in path:
                lst = lst[p]
            out.append(b64json(replaced(value, path, lst[:-1])))
            out.append(b64json(replaced(value, path, lst + [lst[-1]]
                                        if lst else [1])))
        else:
            for w in wrong_values:
                out.append(b64json(replaced(value, path, w)))
    return out


# values no key of a typed ordering (Int, DateTime, UUID, Decimal, Date)
# can hold, nor the fingerprint: each is the client's error
WRONG = ["abc", "1; DROP TABLE tb_page; --", "1) OR (1=1", {"a": 1}, [1, 2],
         "", "\u0000", "2024-13-45"]

MALFORMED = [
    "",
    "not base64!",
    "====",
    "A",
    "'; DROP TABLE tb_page; --",
    "Zm9v\u0000YmFy",
    "\u0000",
    b64("hello, world"),
    b64(b"\xff\xfe\x00\x01 binary"),
    b64json(None),
    b64json({}),
    b64json([]),
    b64json(1),
    b64json("x"),
    b64json([[[[[]]]]]),
    b64("[" * 100000),
    b64('["\\u0000"]'),
    b64(b'["\xc3\x28"]'),
    b64("['; DROP TABLE tb_page; --']"),
    b64json(["'; DROP TABLE tb_page; --", "') OR 1=1 --"]),
    # a megabyte: of the base64 alphabet, then a JSON array of one string
    # and of one number
    "A" * (1 << 20),
    b64json(["x" * (1 << 20)]),
    b64("[" + "9" * (1 << 20) + "]"),
]


def bad_cursor_requests(pager, cursors):
    """Each cursor as after and before, as a variable and (when small
    enough for the document) as a literal."""
    for c in cursors:
        for arg, size in (("after", "first"), ("before", "last")):
            for inline in (False, True):
                if inline and len(c) > 100000:
                    continue
                yield c, arg, inline, pager.post(inline, **{arg: c, size: 3})


@pytest.fixture(scope="module")
def hostile_nginx(pg):
    """One nginx for the bad cursors (megabyte bodies allowed), checked
    after each test and stopped after the last."""
    n = Nginx(pg, SCHEMA, pool=2, extra="client_max_body_size 8m;"
              " fraiseql_max_document_size 256k;").start()
    yield n
    n.stop()
    assert not n.problems(), "\n".join(n.problems())
    shutil.rmtree(n.prefix, ignore_errors=True)


@pytest.fixture
def hostile(hostile_nginx, pg):
    n = hostile_nginx
    u = Unharmed(n, pg)
    before = len(n.problems())
    yield n
    u.check("bad cursors")
    assert len(n.problems()) == before, "\n".join(n.problems()[before:])
    assert pg.query("SELECT count(*) FROM tb_page")[0][0] == 200
    assert pg.query("SELECT count(*) FROM tb_useq")[0][0] == 40


def test_malformed_cursors_are_the_clients_error(hostile):
    pager = Pager(hostile.url, order=[{"score": "ASC"}])
    for c, arg, inline, r in bad_cursor_requests(pager, MALFORMED):
        if inline and "\u0000" in c:
            # a NUL in a string literal: the document's own error, as in
            # any String argument
            code = errors(r)[0]["extensions"]["code"]
            assert code in ("BAD_USER_INPUT", "GRAPHQL_VALIDATION_FAILED")
            continue
        assert_bad_input(r, (arg, inline, c[:80]))
    # a good request in between is served
    assert len(pager.page(first=2)["edges"]) == 2


@pytest.mark.parametrize("name", ["default", "score_asc", "at_asc",
                                  "price_desc", "day_ratio", "nested_n",
                                  "score_desc_name_asc"])
def test_forged_cursors_are_the_clients_error(hostile, name):
    """A cursor whose values are of the wrong type for their keys, whose
    list is too short or too long, or whose fingerprint was changed."""
    _, _, order, _ = BY_NAME[name]
    pager = Pager(hostile.url, order=order)
    good = pager.page(first=40)["edges"][-1]["cursor"]
    if name == "score_desc_name_asc":
        # the name is text: any string is a position; replace the others
        wrong = [w for w in WRONG if not isinstance(w, str)]
    elif name == "default":
        # the id column is an integer
        wrong = WRONG + [10 ** 40, "1.5e3"]
    else:
        wrong = WRONG
    forged = [f for f in forgeries(good, wrong) if f != good]
    assert forged, decode(good)
    for c, arg, inline, r in bad_cursor_requests(pager, forged):
        assert_bad_input(r, (arg, inline, decode(c)))


def test_forged_uuid_cursors_are_the_clients_error(hostile):
    pager = Pager(hostile.url, field="useqsConnection", types="Useq",
                  has_order=False, has_where=False)
    good = pager.page(first=5)["pageInfo"]["endCursor"]
    value = decode(good)
    wrong = WRONG + [12, "5b6e8c5e-5f27-4d52-9f0b-9f3b4d0c0a0",
                     "5b6e8c5e-5f27-4d52-9f0b-9f3b4d0c0a01'; --"]
    forged = [f for f in forgeries(good, wrong) if f != good]
    assert len(forged) > len(wrong), value
    for c, arg, inline, r in bad_cursor_requests(pager, forged):
        assert_bad_input(r, (arg, inline, decode(c)))


def test_a_cursor_of_another_ordering_is_refused(hostile):
    cursors = {}
    for name, _, order, _ in ORDERINGS + MORE_ORDERINGS:
        page = Pager(hostile.url, order=order).page(first=3)
        cursors[name] = page["edges"][1]["cursor"]
    uuid_pager = Pager(hostile.url, field="useqsConnection", types="Useq",
                       has_order=False, has_where=False)
    uuid_cursor = uuid_pager.page(first=2)["pageInfo"]["endCursor"]
    same = {"default": "id_asc", "id_asc": "default"}
    for name, _, order, _ in ORDERINGS + MORE_ORDERINGS:
        pager = Pager(hostile.url, order=order)
        for other, c in cursors.items():
            if other == name or same.get(name) == other:
                continue
            for arg, size in (("after", "first"), ("before", "last")):
                assert_bad_input(pager.post(**{arg: c, size: 2}),
                                 (name, other, arg))
        # a UUID key's cursor on integer ids
        assert_bad_input(pager.post(first=2, after=uuid_cursor), name)
    # and an integer id's cursor on UUID ids
    for other in ("default", "id_asc", "id_desc"):
        assert_bad_input(uuid_pager.post(first=2, after=cursors[other]))
        assert_bad_input(uuid_pager.post(last=2, before=cursors[other]))


def test_orderings_of_many_keys(hostile, pg):
    """31 keys and the id are walked; a thousand are refused, cleanly
    (the bound is the module's: 63 keys today)."""
    want = page_order(pg, "(data->>'score')::int DESC, id ASC")
    pager = Pager(hostile.url, order=[{"score": "DESC"}] * 31)
    walk_forward(pager, want, 50)
    walk_backward(pager, want, 50)
    for n in (1000,):
        r = Pager(hostile.url, order=[{"score": "DESC"}] * n).post(first=2)
        assert_bad_input(r, n)
        r = Pager(hostile.url, order=[{"score": "DESC"}] * n).post(
            inline=True, first=2)
        assert_bad_input(r, n)


def test_a_forged_text_key_is_a_position_or_refused(hostile, pg):
    """A text key may hold any string: a forged one (SQL inside) is
    either refused or read as a position, bound as a parameter."""
    pager = Pager(hostile.url, order=[{"name": "ASC"}])
    edge = pager.page(first=1)["edges"][0]
    value = decode(edge["cursor"])
    node_name = pg.query("SELECT data->>'name' FROM v_page WHERE id = %s",
                         int(edge["node"]["id"]))[0][0]
    at = [p for p, lst in paths(value) if not lst
          and _get(value, p) == node_name]
    assert at, (value, node_name)
    for s in ("name 2'; DROP TABLE tb_page; --", "name 1') OR ('1'='1",
              "$1", "\\'", "name 7\u00e9"):
        c = b64json(replaced(value, at[0], s))
        r = pager.post(first=200, after=c)
        body = r.json()
        if body.get("errors"):
            assert_bad_input(r, s)
            continue
        got = [x["id"] for x in body["data"]["c"]["nodes"]]
        want = pg_ids(pg, "SELECT id FROM v_page WHERE data->>'name' > %s"
                      " OR (data->>'name' = %s AND id > %s)"
                      " OR data->>'name' IS NULL"
                      " ORDER BY data->>'name' ASC, id ASC",
                      s, s, int(edge["node"]["id"]))
        assert got == want, s


def test_a_nul_in_a_text_key_is_refused(hostile, pg):
    """PostgreSQL's text cannot hold a NUL: a cursor's text value with one
    is refused (as a String with one is), not cut at the NUL."""
    pager = Pager(hostile.url, order=[{"name": "ASC"}])
    value = decode(pager.page(first=1)["edges"][0]["cursor"])
    at = [p for p, lst in paths(value) if not lst
          and isinstance(_get(value, p), str)]
    assert at, value
    for s in ("name 3\u0000zzz", "\u0000", "name 3\u0000"):
        for arg, size in (("after", "first"), ("before", "last")):
            r = pager.post(**{arg: b64json(replaced(value, at[0], s)),
                              size: 2})
            assert_bad_input(r, (arg, s))


def _get(value, path):
    for p in path:
        value = value[p]
    return value


# ------------------------------------------------------ the statement

def run_lines(n, start):
    return re.findall(r'fraiseql slot \d+: run \d+: "(.*?)" with \d+ params',
                      n.log()[start:])


@pytest.fixture(scope="module")
def debug_nginx(pg):
    """One nginx logging at debug: each statement's text."""
    n = Nginx(pg, SCHEMA, pool=1, log_level="debug").start()
    yield n
    n.stop()
    assert not n.problems(), "\n".join(n.problems())
    shutil.rmtree(n.prefix, ignore_errors=True)


def test_one_statement_and_a_count_only_when_selected(debug_nginx, pg):
    n = debug_nginx
    pager = Pager(n.url, order=[{"score": "ASC"}],
                  where={"kind": {"eq": "A"}})

    def statements(**args):
        start = len(n.log())
        page = pager.page(**args)
        sqls = run_lines(n, start)
        assert len(sqls) == 1, sqls
        return page, sqls[0]

    # the page alone reads the view once; totalCount adds a count of it
    _, sql = statements(first=5)
    assert sql.count('FROM "v_page"') == 1, sql
    pager.fields = PAGE_FIELDS + " totalCount"
    page, sql2 = statements(first=5)
    assert sql2.count('FROM "v_page"') == 2, sql2
    assert len(re.findall(r"count\s*\(", sql2, re.I)) == \
        len(re.findall(r"count\s*\(", sql, re.I)) + 1, sql2
    assert page["totalCount"] == pg.query(
        "SELECT count(*) FROM v_page WHERE data->>'kind' = 'A'")[0][0]
    # totalCount alone
    pager.fields = "totalCount"
    page, sql = statements(first=5)
    assert re.search(r"count\s*\(", sql, re.I), sql
    assert page["totalCount"] == pg.query(
        "SELECT count(*) FROM v_page WHERE data->>'kind' = 'A'")[0][0]
    # keyset pages: the cursor is a condition, never an OFFSET, and its
    # values are parameters
    pager.fields = PAGE_FIELDS
    page, _ = statements(first=20)
    c = page["edges"][-1]["cursor"]
    _, sql = statements(first=5, after=c)
    assert not re.search(r"\bOFFSET\b", sql, re.I), sql
    _, sql = statements(last=5, before=c)
    assert not re.search(r"\bOFFSET\b", sql, re.I), sql
    # a forged text key with SQL inside never reaches the SQL text
    name_pager = Pager(n.url, order=[{"name": "ASC"}])
    edge = name_pager.page(first=1)["edges"][0]
    value = decode(edge["cursor"])
    name = pg.query("SELECT data->>'name' FROM v_page WHERE id = %s",
                    int(edge["node"]["id"]))[0][0]
    at = [p for p, lst in paths(value) if not lst and _get(value, p) == name]
    start = len(n.log())
    name_pager.post(first=2, after=b64json(
        replaced(value, at[0], "zz'; DROP TABLE tb_page; --")))
    for sql in run_lines(n, start):
        assert "DROP" not in sql, sql
    assert pg.query("SELECT count(*) FROM tb_page")[0][0] == 200


def test_a_cursor_on_the_id_is_an_index_condition(debug_nginx, pg):
    """Page 1,000 costs what page 1 costs: after a cursor, the rows are
    read from the key's index (an Index Cond), not filtered one by one
    from the first, with or without id named in orderBy."""
    n = debug_nginx
    for order, op in ((None, ">"), ([{"id": "ASC"}], ">"),
                      ([{"id": "DESC"}], "<")):
        pager = Pager(n.url, order=order)
        c = [e for e in pager.page(first=200)["edges"]
             if e["node"]["id"] == "150"][0]["cursor"]
        start = len(n.log())
        page = pager.page(first=20, after=c)
        assert check_page(page)[0] == ("151" if op == ">" else "149")
        sql = run_lines(n, start)[0]
        assert "$3" not in sql, sql
        plan = "\n".join(r[0] for r in pg.query(
            "EXPLAIN " + sql.replace("$1", "20").replace("$2", "150")))
        assert re.search(r"Index Cond: \(id %s 150\)" % op, plan), \
            (order, sql, plan)


# --------------------------------------------------- shapes of answers

def test_typenames_aliases_fragments(ngx, pg):
    want = page_order(pg, "id ASC")
    q = """query ($n: Int!, $t: Boolean!) {
      __typename
      head: pagesConnection(first: $n) {
        __typename
        total: totalCount @include(if: $t)
        e: edges { __typename c: cursor n: node { __typename i: id ...F } }
        nodes { __typename id }
        pi: pageInfo { __typename more: hasNextPage hasPreviousPage
                       start: startCursor }
      }
      tail: pagesConnection(last: $n) { edges { ...E } ...P }
      useqsConnection(first: 1) { __typename edges { __typename node
        { __typename id } } pageInfo { __typename } }
    }
    fragment F on Page { score }
    fragment E on PageEdge { __typename node { id } }
    fragment P on PageConnection { pageInfo { hasPreviousPage } }"""
    d = answer(ngx.url, q, {"n": 2, "t": True})
    assert d["__typename"] == "Query"
    head = d["head"]
    assert list(head) == ["__typename", "total", "e", "nodes", "pi"]
    assert head["__typename"] == "PageConnection"
    assert head["total"] == 200
    assert [list(e) for e in head["e"]] == [["__typename", "c", "n"]] * 2
    assert {e["__typename"] for e in head["e"]} == {"PageEdge"}
    assert [e["n"]["i"] for e in head["e"]] == want[:2]
    assert [list(e["n"]) for e in head["e"]] == \
        [["__typename", "i", "score"]] * 2
    assert {e["n"]["__typename"] for e in head["e"]} == {"Page"}
    assert head["nodes"] == [{"__typename": "Page", "id": i}
                             for i in want[:2]]
    assert head["pi"] == {"__typename": "PageInfo", "more": True,
                          "hasPreviousPage": False,
                          "start": head["e"][0]["c"]}
    assert d["tail"] == {"edges": [{"__typename": "PageEdge",
                                    "node": {"id": i}} for i in want[-2:]],
                         "pageInfo": {"hasPreviousPage": True}}
    u = d["useqsConnection"]
    assert u["__typename"] == "UseqConnection"
    assert u["edges"][0]["__typename"] == "UseqEdge"
    assert u["edges"][0]["node"]["__typename"] == "Useq"
    assert u["pageInfo"] == {"__typename": "PageInfo"}
    # totalCount left out by @include
    d = answer(ngx.url, q, {"n": 2, "t": False})
    assert "total" not in d["head"]


def test_node_fields_are_the_lists(ngx, pg):
    """A connection's nodes are what the list field answers."""
    fields = "id score name at day price ratio grp kind flag nested { n }"
    q = ("{ l: pagesConnection(orderBy: [{price: DESC}], first: 30) "
         "{ nodes { %s } } }" % fields)
    r = requests.post(ngx.url, json={"query": q}, timeout=30)
    got = json.loads(r.text)["data"]["l"]["nodes"]
    want = [r[0] for r in pg.query(
        "SELECT data FROM v_page ORDER BY (data->>'price')::numeric DESC,"
        " id ASC LIMIT 30")]
    assert [g["id"] for g in got] == [str(w["id"]) for w in want]
    for g, w in zip(got, want):
        assert g["score"] == w["score"] and g["name"] == w["name"]
        assert g["grp"] == w["grp"] and g["kind"] == w["kind"]
        assert g["flag"] == w["flag"] and g["nested"] == w["nested"]
        assert g["day"] == w["day"]


def introspect(ngx, name):
    q = ('{ __type(name: "%s") { kind fields { name args { name type '
         '{ ...T } } type { ...T } } enumValues { name } } } '
         'fragment T on __Type { kind name ofType { kind name ofType '
         '{ kind name ofType { kind name } } } }' % name)
    return answer(ngx.url, q)["__type"]


def type_str(t):
    if t["kind"] == "NON_NULL":
        return type_str(t["ofType"]) + "!"
    if t["kind"] == "LIST":
        return "[" + type_str(t["ofType"]) + "]"
    return t["name"]


def test_generated_connection_types(ngx):
    def fields(name):
        t = introspect(ngx, name)
        assert t is not None, name
        return {f["name"]: type_str(f["type"]) for f in t["fields"]}

    assert fields("PageConnection") == {
        "edges": "[PageEdge!]!", "nodes": "[Page!]!",
        "pageInfo": "PageInfo!", "totalCount": "Int!"}
    assert fields("PageEdge") == {"cursor": "String!", "node": "Page!"}
    assert fields("PageInfo") == {
        "hasNextPage": "Boolean!", "hasPreviousPage": "Boolean!",
        "startCursor": "String", "endCursor": "String"}
    assert fields("UseqConnection")["edges"] == "[UseqEdge!]!"
    q = introspect(ngx, "Query")
    f = {x["name"]: x for x in q["fields"]}["pagesConnection"]
    assert type_str(f["type"]) == "PageConnection!"
    assert {a["name"]: type_str(a["type"]) for a in f["args"]} == {
        "where": "PageWhereInput", "orderBy": "[PageOrderByInput!]",
        "first": "Int", "after": "String", "last": "Int",
        "before": "String"}


BASE = open(SCHEMA).read()


@pytest.mark.parametrize("extra,reason", [
    ("type PageInfo { x: Int }", "PageInfo"),
    ("type PageConnection { x: Int }", "PageConnection"),
    ("type PageEdge { x: Int }", "PageEdge"),
])
def test_declaring_a_generated_type_fails_nginx_t(pg, extra, reason):
    f = tempfile.NamedTemporaryFile("w", suffix=".graphql", delete=False)
    f.write(BASE + "\n" + extra + "\n")
    f.close()
    try:
        r = Nginx(pg, f.name).cmd("-t")
        assert r.returncode != 0, r.stderr
        line = [l for l in r.stderr.splitlines() if "fraiseql_schema" in l]
        # the type, or the field that names it
        assert line and (reason in line[0]
                         or '"pagesConnection"' in line[0]), r.stderr
    finally:
        os.unlink(f.name)


# ------------------------------------- keys of other kinds, awkward text

TYPES = {"things": "Thing", "words": "Word", "posts": "Post",
         "seqs": "Seq"}


def list_ids(url, field, order, where=None):
    t = TYPES[field]
    if where is None:
        q = "query ($o: [%sOrderByInput!]) { l: %s(orderBy: $o) { id } }" % (
            t, field)
        return [str(r["id"]) for r in answer(url, q, {"o": order})["l"]]
    q = ("query ($o: [%sOrderByInput!], $w: %sWhereInput) "
         "{ l: %s(orderBy: $o, where: $w) { id } }" % (t, t, field))
    return [str(r["id"])
            for r in answer(url, q, {"o": order, "w": where})["l"]]


THING_ORDERS = [
    [{"name": "ASC"}], [{"name": "DESC"}], [{"uid": "ASC"}],
    [{"uid": "DESC"}], [{"meta": "ASC"}], [{"meta": "DESC"}],
    [{"when": "DESC"}], [{"status": "ASC"}, {"code": "DESC"}],
    [{"flag": "ASC"}, {"ratio": "DESC"}], [{"day": "ASC"}],
    [{"legacyCode": "ASC"}], [{"score": "DESC"}],
]


@pytest.mark.parametrize("order", THING_ORDERS,
                         ids=[json.dumps(o) for o in THING_ORDERS])
def test_walk_keys_of_every_kind(ngx, order):
    """v_thing's four rows hold quotes, backslashes, a newline, emoji,
    JSON null and SQL null: the pages, both ways, are the list field's
    order (itself checked against PostgreSQL in test_ordering.py and
    test_filters.py) with id last."""
    want = list_ids(ngx.url, "things", order + [{"id": "ASC"}])
    assert len(want) == 4
    pager = Pager(ngx.url, field="thingsConnection", types="Thing",
                  order=order)
    for size in (1, 3):
        walk_forward(pager, want, size)
        walk_backward(pager, want, size)


@pytest.mark.parametrize("direction", ["ASC", "DESC"])
def test_walk_awkward_words(ngx, pg, direction):
    """'100% pure', 'snake_case', 'back\\slash', "it's", '', NULL..."""
    want = pg_ids(pg, "SELECT id FROM v_word ORDER BY data->>'word' %s,"
                  " id ASC" % direction)
    assert want == list_ids(ngx.url, "words", [{"word": direction},
                                                {"id": "ASC"}])
    pager = Pager(ngx.url, field="wordsConnection", types="Word",
                  order=[{"word": direction}], has_where=False)
    for size in (1, 4):
        walk_forward(pager, want, size)
        walk_backward(pager, want, size)


def test_a_cursor_outside_the_filter(ngx, pg):
    """A cursor taken without the filter, of a row the filter leaves out:
    the page starts where the row would be, and pageInfo looks only at
    the rows the filter keeps."""
    order = [{"score": "ASC"}]
    rows = Pager(ngx.url, order=order).page(first=200)["edges"]
    scores = dict(pg.query("SELECT id::text, (data->>'score')::int"
                           " FROM v_page"))
    c3 = next(e["cursor"] for e in rows if scores[e["node"]["id"]] == 3)
    c_null = next(e["cursor"] for e in rows
                  if scores[e["node"]["id"]] is None)
    high = Pager(ngx.url, order=order, where={"score": {"gte": 5}})
    want = page_order(pg, "(data->>'score')::int ASC, id ASC",
                      "(data->>'score')::int >= 5")
    page = high.page(first=4, after=c3)
    assert check_page(page) == want[:4]
    assert page["pageInfo"]["hasPreviousPage"] is False
    assert page["pageInfo"]["hasNextPage"] is True
    page = high.page(last=4, before=c3)
    assert check_page(page) == []
    assert page["pageInfo"]["hasNextPage"] is True
    low = Pager(ngx.url, order=order, where={"score": {"lte": 2}})
    want = page_order(pg, "(data->>'score')::int ASC, id ASC",
                      "(data->>'score')::int <= 2")
    page = low.page(last=4, before=c_null)
    assert check_page(page) == want[-4:]
    # nothing the filter keeps is at or after a null score
    assert page["pageInfo"]["hasNextPage"] is False
    assert page["pageInfo"]["hasPreviousPage"] is True


@pytest.mark.parametrize("field,order,size", [
    ("posts", [{"author": {"id": "ASC"}}], 50),
    ("posts", [{"author": {"id": "DESC"}}, {"id": "DESC"}], 50),
    ("posts", [{"rating": "DESC"}, {"createdAt": "ASC"}], 50),
    ("seqs", [{"ref": {"id": "DESC"}}], 7),
    ("seqs", [{"id": "DESC"}], 7),
    ("seqs", [{"rank": "ASC"}, {"at": "DESC"}], 7),
])
def test_walk_ids_in_the_json(ngx, field, order, size):
    """An ID inside the JSON orders by its JSON value (a UUID string, a
    number); the view's id by its column: the pages are the list's order
    with id last."""
    full = order if any("id" in o for o in order) \
        else order + [{"id": "ASC"}]
    # a fifth of the posts: 400 rows, ties of author.id kept
    where = {"rating": {"gte": 4}} if field == "posts" else None
    want = list_ids(ngx.url, field, full, where)
    assert len(want) >= 120
    pager = Pager(ngx.url, field=field + "Connection", types=TYPES[field],
                  order=order, where=where, has_where=field == "posts")
    walk_forward(pager, want, size)
    walk_backward(pager, want, size)
