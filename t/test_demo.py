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


def test_demo_signed_in(make_pg, make_nginx, tmp_path):
    """The signed-in location the demo runs: user 1's token (made by
    conf-examples/demo_token.py) sees its own unpublished posts only, as
    demo_user under the demo's policy, and writes a post as itself."""
    import subprocess
    own = make_pg()
    key = tmp_path / "jwt.key"
    key.write_text("a-demo-secret-of-more-than-thirty-two-bytes\n")
    auth = ("location /graphql-auth { fraiseql; fraiseql_jwt required;"
            " fraiseql_jwt_key alg=HS256 file=%s; fraiseql_db_role claim; }"
            % key)
    n = make_nginx(pg=own, schema=DEMO_SCHEMA, extra=auth).start()
    sub = own.query("SELECT demo_uuid('user', 1)::text")[0][0]
    tok = subprocess.run(["/usr/bin/python3",
                          os.path.join(ROOT, "conf-examples", "demo_token.py"),
                          str(key), sub], capture_output=True, text=True,
                         check=True).stdout.strip()
    h = {"Authorization": "Bearer " + tok}
    url = n.url.replace("/graphql", "/graphql-auth")

    import requests
    r = requests.post(url, json={"query": demo_query("MINE")}, headers=h,
                      timeout=30)
    posts = r.json()["data"]["posts"]
    assert posts and {p["author"]["email"] for p in posts} == {
        "user1@example.com"}
    # more of them: still user 1's only; the public location sees all
    mine = demo_query("MINE").replace("limit: 3", "limit: 100")
    r = requests.post(url, json={"query": mine}, headers=h, timeout=30)
    assert {p["author"]["email"] for p in r.json()["data"]["posts"]} == {
        "user1@example.com"}
    pub = n.data(mine)["posts"]
    assert len({p["author"]["email"] for p in pub}) > 1

    q = ('mutation { createPost(input: {title: "Hello", body: "x"})'
         ' { title author { email } } }')
    r = requests.post(url, json={"query": q}, headers=h, timeout=30)
    assert r.json() == {"data": {"createPost": {
        "title": "Hello", "author": {"email": "user1@example.com"}}}}
    # without a token there is no author to write as
    r = n.post(q)
    assert r.status_code == 401
