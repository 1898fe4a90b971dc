"""`make demo`'s examples: conf-examples/schema.graphql loads, and the
connection page and the aggregate conf-examples/demo.sh shows (and runs)
answer what PostgreSQL says of the demo's users."""

import json
import os
import re

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
DEMO_SCHEMA = os.path.join(ROOT, "conf-examples", "schema.graphql")


def demo_query(name):
    text = open(os.path.join(ROOT, "conf-examples", "demo.sh")).read()
    return re.search(r"^%s='(.*)'$" % name, text, re.M).group(1)


def test_demo_connection_page(make_nginx, pg):
    n = make_nginx(schema=DEMO_SCHEMA).start()
    got = n.data(demo_query("CONNECTION"))["usersConnection"]
    want = pg.query("SELECT data->>'first_name', (data->>'age')::int"
                    " FROM v_user ORDER BY (data->>'age')::int DESC, id"
                    " LIMIT 3")
    assert [(e["node"]["firstName"], e["node"]["age"])
            for e in got["edges"]] == [tuple(r) for r in want]
    assert got["totalCount"] == pg.query("SELECT count(*) FROM v_user")[0][0]
    assert got["pageInfo"]["hasNextPage"] is True
    assert got["pageInfo"]["endCursor"] == got["edges"][-1]["cursor"]

    # the end cursor is the next page's start
    q = demo_query("CONNECTION").replace(
        "first: 3,", 'first: 3, after: "%s",' % got["pageInfo"]["endCursor"])
    nxt = n.data(q)["usersConnection"]["edges"]
    want = pg.query("SELECT data->>'first_name' FROM v_user ORDER BY"
                    " (data->>'age')::int DESC, id LIMIT 3 OFFSET 3")
    assert [e["node"]["firstName"] for e in nxt] == [r[0] for r in want]


def test_demo_aggregate(make_nginx, pg):
    n = make_nginx(schema=DEMO_SCHEMA).start()
    got = n.data(demo_query("AGGREGATE"))["usersAggregate"]
    count, avg = pg.query("SELECT count(*), avg((data->>'age')::int)"
                          " FROM v_user WHERE (data->>'age')::int >= 30")[0]
    assert got["count"] == count
    assert abs(got["avg"]["age"] - float(avg)) < 1e-9
    groups = pg.query("SELECT (data->>'active')::boolean, count(*),"
                      " min((data->>'age')::int) FROM v_user"
                      " WHERE (data->>'age')::int >= 30 GROUP BY 1"
                      " ORDER BY 1")
    assert [(g["key"]["active"], g["count"], g["min"]["age"])
            for g in got["groupBy"]] == [tuple(r) for r in groups]
    assert got["max"]["createdAt"].startswith("20")


def test_docs_show_the_demo_examples():
    docs = open(os.path.join(ROOT, "docs", "schema.md")).read()
    assert demo_query("CONNECTION") in docs
    assert demo_query("AGGREGATE") in docs


def doc_block(after, since):
    """The indented block of docs/schema.md that follows the line after,
    the first such line past the line since."""
    lines = open(os.path.join(ROOT, "docs", "schema.md")).read().split("\n")
    i = lines.index(after, lines.index(since)) + 1
    while not lines[i].strip():
        i += 1
    block = []
    while i < len(lines) and (lines[i].startswith("    ")
                              or not lines[i].strip()):
        block.append(lines[i])
        i += 1
    return "\n".join(block).strip()


def test_docs_examples_run_as_written(make_pg, make_nginx):
    """On the demo's own data: the page docs/schema.md shows the start
    of, the aggregate's statement (white space aside) and its answer."""
    own = make_pg()
    n = make_nginx(pg=own, schema=DEMO_SCHEMA, log_level="debug").start()

    page = n.data(demo_query("CONNECTION"))["usersConnection"]
    shown = doc_block("answers", "## Cursor pages: connections")
    m = re.search(r'"totalCount": (\d+), "edges": \[\s*\{"cursor": "(\w+)",'
                  r'\s*"node": (\{[^}]*\})\}', shown)
    assert int(m.group(1)) == page["totalCount"]
    assert page["edges"][0] == {"cursor": m.group(2),
                                "node": json.loads(m.group(3))}
    assert page["pageInfo"]["endCursor"].startswith(
        re.search(r'"endCursor": "(\w+)\.\.\."', shown).group(1))

    r = n.post(demo_query("AGGREGATE"))
    assert r.status_code == 200
    assert r.json() == json.loads(doc_block("and answers",
                                            "## Counts and aggregates"))
    sql = [m.group(1) for m in re.finditer(r'run \d+: "(.*)" with',
                                           n.log())]
    want = doc_block("runs one statement,", "## Counts and aggregates")
    # the page's statement, then the aggregate's
    assert len(sql) == 2
    assert re.sub(r"\s+", "", sql[1]) == re.sub(r"\s+", "", want)
