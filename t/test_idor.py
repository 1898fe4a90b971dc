"""Insecure direct object references (issue 16, acceptance 3): on the
demo (conf-examples), a member of team Red tries to read or change what
is team Green's, or another user's, through every root field and
mutation of the demo schema: by id, by filter, by cursor, by alias.
None succeeds.  SQL run as the other side shows the objects exist.

Projects are the module's to guard (@rowFilter on the team claim,
@auth on budgets); unpublished posts are PostgreSQL's (row-level
security on request.jwt.claims, as demo_user); users and the user
mutations are not demo_user's to change (grants)."""

import os
import subprocess

import pytest
import requests

from test_demo import DEMO_SCHEMA, ROOT

KEY = "a-demo-secret-of-more-than-thirty-two-bytes"


@pytest.fixture(scope="module")
def demo(request):
    """The demo's database and signed-in location, module-wide."""
    from conftest import Nginx, Postgres
    pg = Postgres()
    pg.load(os.path.join(ROOT, "conf-examples", "demo.sql"))
    key = os.path.join(pg.dir, "idor-jwt.key")
    with open(key, "w") as f:
        f.write(KEY + "\n")
    n = Nginx(pg, DEMO_SCHEMA, extra=(
        "location /graphql-auth { fraiseql; fraiseql_jwt required;"
        " fraiseql_jwt_key alg=HS256 file=%s; fraiseql_db_role claim; }"
        % key)).start()

    def uuid(kind, i):
        return pg.query("SELECT demo_uuid(%s, %s)::text", kind, i)[0][0]

    def token(user, role, team):
        return subprocess.run(
            ["/usr/bin/python3",
             os.path.join(ROOT, "conf-examples", "demo_token.py"), key,
             uuid("user", user), role, uuid("team", team)],
            capture_output=True, text=True, check=True).stdout.strip()

    ctx = {
        "pg": pg, "n": n, "uuid": uuid,
        "red": token(1, "demo_user", 1), "red_lead": token(1, "demo_lead", 1),
        "green": token(2, "demo_user", 2),
        "green_lead": token(2, "demo_lead", 2),
        "RED": uuid("team", 1), "GREEN": uuid("team", 2),
    }
    yield ctx
    n.stop()
    problems = n.problems()
    pg.destroy()
    assert not problems, "\n".join(problems)


def gql(demo, query, token, variables=None):
    body = {"query": query}
    if variables is not None:
        body["variables"] = variables
    r = requests.post(demo["n"].url + "-auth", json=body, timeout=30,
                      headers={"Authorization": "Bearer " + token})
    return r


def ok(demo, query, token, variables=None):
    r = gql(demo, query, token, variables)
    assert r.status_code == 200, r.text
    assert "errors" not in r.json(), r.text
    return r.json()["data"]


def green_projects(demo):
    """As team Green sees them, in SQL."""
    return {r[0] for r in demo["pg"].query(
        "SELECT id::text FROM tb_project WHERE team_id = %s",
        demo["GREEN"])}


def red_projects(demo):
    return {r[0] for r in demo["pg"].query(
        "SELECT id::text FROM tb_project WHERE team_id = %s", demo["RED"])}


def test_the_objects_exist(demo):
    assert len(green_projects(demo)) == 4 and len(red_projects(demo)) == 4
    got = ok(demo, "{ projects { id } }", demo["green"])["projects"]
    assert {p["id"] for p in got} == green_projects(demo)


def project_probes(demo):
    """(name, query, variables): each asks for Green's projects."""
    g = sorted(green_projects(demo))
    r = sorted(red_projects(demo))
    G = demo["GREEN"]
    return [
        ("by id", '{ project(id: "%s") { id name } }' % g[0], None),
        ("by id, a variable", "query ($i: ID!) { project(id: $i) { id } }",
         {"i": g[1]}),
        ("filter on id", '{ projects(where: {id: {eq: "%s"}}) { id } }'
         % g[0], None),
        ("filter on ids", "query ($i: [ID!]) { projects(where: "
         "{id: {in: $i}}) { id } }", {"i": g}),
        ("filter on the team", '{ projects(where: {teamId: {eq: "%s"}}) '
         "{ id } }" % G, None),
        ("filter, OR", '{ projects(where: {OR: [{teamId: {eq: "%s"}}, '
         '{name: {neq: ""}}]}) { id } }' % G, None),
        ("filter, NOT", '{ projects(where: {NOT: {teamId: {eq: "%s"}}}) '
         "{ id } }" % demo["RED"], None),
        ("filter, SQL text", "{ projects(where: {name: {eq: \"x' OR "
         "'1'='1\"}}) { id } }", None),
        ("ordering and offsets", "{ projects(orderBy: [{name: DESC}], "
         "limit: 100, offset: 0) { id } }", None),
        ("connection", '{ projectsConnection(first: 50, where: {teamId: '
         '{eq: "%s"}}) { totalCount nodes { id } } }' % G, None),
        ("connection, last", "{ projectsConnection(last: 50) "
         "{ edges { node { id } } } }", None),
        ("aggregate", '{ projectsAggregate(where: {teamId: {eq: "%s"}}) '
         "{ count } }" % G, None),
        ("groups", "{ projectsAggregate { groupBy(fields: [team]) "
         "{ key { team } count } } }", None),
        ("aliases", '{ a: project(id: "%s") { id } b: project(id: "%s") '
         '{ id } c: projects(where: {id: {eq: "%s"}}) { id } }'
         % (r[0], g[0], g[1]), None),
        ("fragments", 'query { ...F } fragment F on Query { project(id: '
         '"%s") { ...P } } fragment P on Project { id name }' % g[2], None),
    ]


def found(data, green):
    """Every id of Green's in an answer, wherever it is."""
    out = []

    def walk(v):
        if isinstance(v, dict):
            for k, x in v.items():
                if k == "id" and x in green:
                    out.append(x)
                walk(x)
        elif isinstance(v, list):
            for x in v:
                walk(x)
    walk(data)
    return out


@pytest.mark.parametrize("i", range(15))
def test_red_cannot_read_green_projects(demo, i):
    name, q, v = project_probes(demo)[i]
    green = green_projects(demo)
    for who in ("red", "red_lead"):
        d = ok(demo, q, demo[who], v)
        assert found(d, green) == [], (name, d)
    # counts and groups are Red's only too
    d = ok(demo, "{ projectsAggregate { count groupBy(fields: [team]) "
                 "{ key { team } count } } }", demo["red"])
    assert d["projectsAggregate"]["count"] == 4
    assert [g["key"]["team"] for g in
            d["projectsAggregate"]["groupBy"]] == ["Red"]


def test_a_cursor_of_green_reads_nothing_of_green(demo):
    q = ("query ($a: String) { projectsConnection(first: 2, after: $a, "
         "orderBy: [{name: ASC}]) { edges { cursor node { id } } "
         "pageInfo { endCursor hasNextPage } } }")
    green = green_projects(demo)
    page = ok(demo, q, demo["green"])["projectsConnection"]
    for edge in page["edges"]:
        d = ok(demo, q, demo["red"], {"a": edge["cursor"]})
        assert found(d, green) == []
    # and backwards
    qb = q.replace("first: 2, after: $a", "last: 2, before: $a")
    d = ok(demo, qb, demo["red"], {"a": page["pageInfo"]["endCursor"]})
    assert found(d, green) == []


def test_budgets_are_the_leads(demo):
    r = gql(demo, "{ projects { name budget } }", demo["red"])
    assert r.status_code == 403
    assert r.json()["errors"][0]["extensions"]["code"] == "FORBIDDEN"
    for q in ("{ projectsAggregate { sum { budget } } }",
              "{ projects(where: {budget: {gt: 0}}) { id } }",
              "{ projects(orderBy: [{budget: DESC}]) { id } }"):
        assert gql(demo, q, demo["red"]).status_code == 403
    d = ok(demo, "{ projectsAggregate { sum { budget } } }",
           demo["red_lead"])
    want = demo["pg"].query("SELECT sum(budget) FROM tb_project "
                            "WHERE team_id = %s", demo["RED"])[0][0]
    assert d["projectsAggregate"]["sum"]["budget"] == want


def test_red_cannot_rename_green_projects(demo):
    g = sorted(green_projects(demo))[0]
    before = demo["pg"].query("SELECT name FROM tb_project WHERE id = %s",
                              g)[0][0]
    r = gql(demo, 'mutation { renameProject(input: {id: "%s", name: '
                  '"pwned"}) { id name } }' % g, demo["red"])
    assert r.status_code == 200
    assert r.json()["data"]["renameProject"] is None
    # the team is the token's: a client cannot say another
    r = gql(demo, 'mutation { renameProject(input: {id: "%s", name: '
                  '"pwned"}, teamId: "%s") { id } }' % (g, demo["GREEN"]),
            demo["red"])
    assert "errors" in r.json() and "data" not in r.json()
    assert demo["pg"].query("SELECT name FROM tb_project WHERE id = %s",
                            g)[0][0] == before
    # its own team's, it may
    mine = sorted(red_projects(demo))[0]
    d = ok(demo, 'mutation { renameProject(input: {id: "%s", name: '
                 '"Renamed"}) { id name } }' % mine, demo["red"])
    assert d["renameProject"] == {"id": mine, "name": "Renamed"}


def unpublished_of_user2(demo):
    return {r[0] for r in demo["pg"].query(
        "SELECT id::text FROM tb_post WHERE NOT published AND author_id = "
        "demo_uuid('user', 2)")}


def test_red_cannot_read_another_users_unpublished_posts(demo):
    hidden = unpublished_of_user2(demo)
    assert hidden
    h = sorted(hidden)
    for q, v in [
        ('{ post(id: "%s") { id title } }' % h[0], None),
        ("query ($i: [ID!]) { posts(where: {id: {in: $i}}) { id } }",
         {"i": h}),
        ("{ posts(where: {published: {eq: false}}, limit: 1000) { id } }",
         None),
        ('{ a: post(id: "%s") { id } b: post(id: "%s") { id } }'
         % (h[0], h[-1]), None),
        ("{ postsAggregate(where: {published: {eq: false}}) { count } }",
         None),
    ]:
        d = ok(demo, q, demo["red"], v)
        assert found(d, hidden) == [], (q, d)
    d = ok(demo, "{ postsAggregate(where: {published: {eq: false}}) "
                 "{ count } }", demo["red"])
    mine = demo["pg"].query(
        "SELECT count(*) FROM tb_post WHERE NOT published AND author_id = "
        "demo_uuid('user', 1)")[0][0]
    assert d["postsAggregate"]["count"] == mine


def test_red_cannot_change_other_users(demo):
    u2 = demo["uuid"]("user", 2)
    before = demo["pg"].query("SELECT first_name, email FROM tb_user "
                              "WHERE id = %s", u2)
    for m in ('mutation { updateUser(input: {id: "%s", firstName: "X"}) '
              "{ __typename } }" % u2,
              'mutation { deleteUser(input: {id: "%s"}) { __typename } }'
              % u2,
              'mutation { createUser(input: {email: "user2@example.com", '
              'firstName: "A", lastName: "B"}) { __typename } }',
              'mutation { createPost(input: {title: "t"}, authorId: "%s") '
              "{ id } }" % u2):
        r = gql(demo, m, demo["red"])
        # refused (not demo_user's to write) or the Error member
        body = r.json()
        assert "errors" in body or all(
            v["__typename"].endswith("Error")
            for v in body["data"].values()), (m, r.text)
    assert demo["pg"].query("SELECT first_name, email FROM tb_user "
                            "WHERE id = %s", u2) == before
    assert demo["pg"].query("SELECT count(*) FROM tb_post WHERE author_id "
                            "= %s AND title = 't'", u2)[0][0] == 0


def test_every_root_field_and_mutation_is_probed(demo):
    """A root field added to the demo needs a probe here."""
    d = ok(demo, "{ __schema { queryType { fields { name } } "
                 "mutationType { fields { name } } } }", demo["red_lead"])
    roots = {f["name"] for f in d["__schema"]["queryType"]["fields"]}
    muts = {f["name"] for f in d["__schema"]["mutationType"]["fields"]}
    probed = {"project", "projects", "projectsConnection",
              "projectsAggregate", "post", "posts", "postsAggregate"}
    # public: no one's to guard (every user is listed to every caller)
    public = {"user", "users", "usersConnection", "usersAggregate"}
    assert roots == probed | public, roots ^ (probed | public)
    assert muts == {"renameProject", "updateUser", "deleteUser",
                    "createUser", "createPost"}, muts
