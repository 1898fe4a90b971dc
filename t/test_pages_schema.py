"""The schema side of connections and aggregates: the types generated for
an @view type when a field names them (XConnection, XEdge, PageInfo,
XAggregate and its field types), and the schemas refused at `nginx -t`,
with file, line and column."""

import os

import pytest

from conftest import Nginx, schema_with


FIELD = "  usersAggregate(where: UserWhereInput): UserAggregate!\n"


@pytest.mark.parametrize("field,extra,message", [
    ("  a: [UserConnection!]!\n", "",
     'Query field "a": "UserConnection" is returned by a field of its own, '
     'not in a list nor by a query function'),
    ("  a(first: Int, limit: Int): UserConnection!\n", "",
     'Connection field "a" takes where: UserWhereInput, orderBy: '
     '[UserOrderByInput!], first: Int, after: String, last: Int, before: '
     'String; not "limit"'),
    ("  a(after: Int): UserConnection!\n", "",
     'Connection field "a" takes where: UserWhereInput'),
    ("  a(where: UserWhereInput, first: Int): UserAggregate!\n", "",
     'Aggregate field "a" takes where: UserWhereInput; not "first"'),
    ("  a: UserConnection! @function(name: \"fn\")\n", "",
     '"UserConnection" is returned by a field of its own'),
    ("  a: SeqRefConnection!\n", "",
     'Unknown type "SeqRefConnection".'),
    ("  a: UserConnection\n", "type UserEdge { id: ID }\n",
     '"UserEdge" is generated from "User" for "UserConnection"; rename the '
     'type declared with that name'),
    ("  a: PageConnection\n", "type PageInfo { id: ID }\n",
     '"PageInfo" is generated for connections; rename the type declared '
     'with that name'),
    ("  a: UserAggregate\n", "type UserGroupKey { id: ID }\n",
     '"UserGroupKey" is generated from "User" for "UserAggregate"'),
])
def test_refused_schemas(pg, field, extra, message):
    path = schema_with(FIELD, FIELD + field)
    try:
        with open(path, "a") as f:
            f.write(extra)
        text = open(path).read()
        r = Nginx(pg, path).cmd("-t")
        assert r.returncode != 0
        # the place: the field, or where the generated type is first named
        at = field if not extra else field.split(": ")[1].strip()
        line = text[:text.index(at)].count("\n") + 1
        assert ("%s:%d:" % (path, line)) in r.stderr, r.stderr
        assert message in r.stderr, r.stderr
    finally:
        os.unlink(path)


def test_generated_types(ngx):
    def fields(name):
        t = ngx.data('{ __type(name: "%s") { kind fields { name args { name'
                     ' } type { kind name ofType { kind name ofType { kind'
                     ' name ofType { name } } } } } enumValues { name } } }'
                     % name)["__type"]
        return t

    def show(f):
        t, s = f["type"], ""
        while t.get("kind") in ("NON_NULL", "LIST"):
            s += "!" if t["kind"] == "NON_NULL" else "["
            t = t["ofType"]
        return s + t["name"]

    conn = {f["name"]: show(f) for f in fields("PageConnection")["fields"]}
    assert conn == {"edges": "![!PageEdge", "nodes": "![!Page",
                    "pageInfo": "!PageInfo", "totalCount": "!Int"}
    edge = {f["name"]: show(f) for f in fields("PageEdge")["fields"]}
    assert edge == {"cursor": "!String", "node": "!Page"}
    info = {f["name"]: show(f) for f in fields("PageInfo")["fields"]}
    assert info == {"hasNextPage": "!Boolean", "hasPreviousPage": "!Boolean",
                    "startCursor": "String", "endCursor": "String"}
    agg = fields("PageAggregate")["fields"]
    assert [f["name"] for f in agg] == ["count", "sum", "avg", "min", "max",
                                        "groupBy"]
    assert [a["name"] for a in agg[-1]["args"]] == ["fields", "limit"]
    sums = {f["name"]: show(f) for f in fields("PageSumFields")["fields"]}
    # integers sum to Float, decimals stay Decimal
    assert sums == {"score": "Float", "price": "Decimal", "ratio": "Float"}
    mins = {f["name"]: show(f) for f in fields("PageMinFields")["fields"]}
    assert mins == {"score": "Int", "at": "DateTime", "day": "Date",
                    "price": "Decimal", "ratio": "Float"}
    assert [v["name"] for v in fields("PageGroupField")["enumValues"]] == [
        "name", "grp", "kind", "flag"]
    key = {f["name"]: show(f) for f in fields("PageGroupKey")["fields"]}
    assert key == {"name": "String", "grp": "String", "kind": "Code",
                   "flag": "Boolean"}
    # a view without groupable or numeric fields: count only
    feed = [f["name"] for f in fields("FeedConnection")["fields"]]
    assert feed == ["edges", "nodes", "pageInfo", "totalCount"]
    # made only when named: no aggregate of Seq
    assert ngx.data('{ __type(name: "SeqAggregate") { name } }') == {
        "__type": None}
