"""Static limits on the operation as it runs (issue 17, SECURITY.md §5):
aliases, fields, directives, tokens, depth, root fields and document size
(these three: fraiseql_max_depth, _root_fields, _document_size) counted
on the fragment-expanded
plan, so that fragments, nested fragments, a fragment named __schema and
a fragment spread many times count what they stand for; introspection's
own selections are exempt, only they.  Each limit at N passes, at N+1
fails with LIMIT_EXCEEDED naming the limit, before any SQL."""

import re

import pytest
import requests

LIMITS = ("fraiseql_max_aliases 5;\n    fraiseql_max_fields 12;\n"
          "    fraiseql_max_directives 6;\n    fraiseql_max_tokens 400;\n")


@pytest.fixture(scope="module")
def lim(pg):
    from conftest import Nginx, SCHEMA
    n = Nginx(pg, SCHEMA, log_level="debug", http_extra=LIMITS,
              extra="location /graphql-big { fraiseql; "
                    "fraiseql_max_tokens 100000; }").start()
    yield n
    n.stop()
    assert not n.problems(), "\n".join(n.problems())


def statements(n):
    return len(re.findall(r"fraiseql slot \d+: run", n.log()))


def ok(n, q):
    r = n.post(q)
    assert r.status_code == 200, r.text
    assert "errors" not in r.json(), r.text


def refused(n, q, limit):
    before = statements(n)
    r = requests.post(n.url, json={"query": q}, timeout=30,
                      headers={"Accept": "application/graphql-response+json"})
    assert r.status_code == 400, r.text
    err = r.json()["errors"][0]
    assert err["extensions"]["code"] == "LIMIT_EXCEEDED", err
    assert "(fraiseql_max_%s)" % limit in err["message"], err
    assert statements(n) == before


def aliases(k):
    return "{ %s }" % " ".join("a%d: things(limit: 1) { id }" % i
                               for i in range(k))


def test_aliases(lim):
    ok(lim, aliases(5))
    refused(lim, aliases(6), "aliases")
    # each said once, however many root fields pass it
    r = lim.post(aliases(12))
    said = [e["message"] for e in r.json()["errors"]]
    assert sorted(said) == [
        "The operation has more than 12 fields (fraiseql_max_fields).",
        "The operation has more than 5 aliases (fraiseql_max_aliases)."]
    # __typename under another name costs nothing
    ok(lim, "{ %s }" % " ".join("t%d: __typename" % i for i in range(20)))


def test_aliases_through_fragments(lim):
    frag = ("query { ...F ...G } fragment F on Query { %s } "
            "fragment G on Query { %s }")
    ok(lim, frag % ("a: things(limit: 1) { id } b: things { id }",
                    "c: things { id } d: things { id } e: things { id }"))
    refused(lim, frag % ("a: things { id } b: things { id } f: things "
                         "{ id }", "c: things { id } d: things { id } "
                         "e: things { id }"), "aliases")
    # one fragment of two aliases spread three times: six
    refused(lim, "query { things { ...A } x: things { ...A } "
                 "y: things { ...A } } fragment A on Thing { i: id n: name }",
            "aliases")


ELEVEN = "id name score ratio flag code meta when day uid status"


def test_fields(lim):
    # the root field and eleven below it: twelve
    ok(lim, "{ things(limit: 1) { %s } }" % ELEVEN)
    refused(lim, "{ things(limit: 1) { %s legacyCode } }" % ELEVEN,
            "fields")
    # a field asked twice under one key is one
    ok(lim, "{ things(limit: 1) { %s id id name } }" % ELEVEN)


def test_fields_through_nested_fragments(lim):
    q = ("query { things(limit: 1) { ...A } } "
         "fragment A on Thing { id name ...B } "
         "fragment B on Thing { score ratio ...C } "
         "fragment C on Thing { flag code meta when day uid status %s }")
    ok(lim, q % "")
    refused(lim, q % "legacyCode", "fields")


def test_a_fragment_named_schema_is_no_introspection(lim):
    q = ("query { ...__schema } fragment __schema on Query "
         "{ things(limit: 1) { %s %%s } }" % ELEVEN)
    ok(lim, q % "")
    refused(lim, q % "legacyCode", "fields")


def test_introspection_is_exempt(lim):
    # GraphiQL's whole introspection query: hundreds of fields, aliases
    # and directives of its own (more tokens too: another location)
    with open("t/introspection_query.graphql") as f:
        q = f.read()
    r = requests.post(lim.url + "-big", json={"query": q}, timeout=30)
    assert r.status_code == 200 and "errors" not in r.json(), r.text[:300]


def test_introspection_by_field_only(lim):
    ok(lim, "{ __schema { types { name fields { name type { name ofType "
            "{ name } } } } } }")
    # aliases of real fields beside it still count
    refused(lim, "{ __schema { types { name } } %s }" % " ".join(
        "a%d: things { id }" % i for i in range(6)), "aliases")


def test_directives(lim):
    q = "query ($t: Boolean = true) { things(limit: 1) { %s } }"
    ok(lim, q % " ".join("id @include(if: $t)" for _ in range(6)))
    refused(lim, q % " ".join("id @include(if: $t)" for _ in range(7)),
            "directives")
    # on a fragment spread, and those in the fragment each time it is
    # spread: 2 + 2 x 3
    refused(lim, "query ($t: Boolean = true) { things { ...F @include(if: "
                 "$t) ...F @include(if: $t) } } fragment F on Thing "
                 "{ id @skip(if: false) name @skip(if: false) "
                 "score @skip(if: false) }", "directives")


def test_recursive_fragments_are_a_validation_error(lim):
    r = lim.post("query { things { ...A } } fragment A on Thing "
                 "{ id ...B } fragment B on Thing { name ...A }")
    err = r.json()["errors"][0]
    assert err["extensions"]["code"] == "GRAPHQL_VALIDATION_FAILED", err


def tokens(n):
    """A document of exactly n tokens (n >= 11)."""
    return "{ things(limit: 1) { id }%s }" % (" __typename" * (n - 11))


def test_tokens(lim):
    ok(lim, tokens(400))
    refused(lim, tokens(401), "tokens")


@pytest.mark.parametrize("directive", [
    "fraiseql_max_aliases x;", "fraiseql_max_fields -1;",
    "fraiseql_max_directives 2000000;", "fraiseql_max_tokens;",
])
def test_bad_limits_fail_nginx_t(pg, directive):
    from conftest import Nginx, SCHEMA
    r = Nginx(pg, SCHEMA, http_extra=directive).cmd("-t")
    assert r.returncode != 0


def test_the_defaults(ngx):
    # 30 aliases pass, 31 fail, with the defaults
    def q(k):
        return "{ things(limit: 1) { %s } }" % " ".join(
            "a%d: id" % i for i in range(k))
    ok(ngx, q(30))
    r = requests.post(ngx.url, json={"query": q(31)}, timeout=30)
    assert r.json()["errors"][0]["extensions"]["code"] == "LIMIT_EXCEEDED"
    assert "fraiseql_max_aliases" in r.json()["errors"][0]["message"]


def test_documents_past_the_limits_leave_the_worker_unharmed(lim, pg):
    """Hundreds of documents past each limit: each refused before SQL, the
    worker the same process, its pool idle, its memory within bounds,
    and a well-behaved request served after."""
    from test_hostile import Unharmed
    u = Unharmed(lim, pg)
    docs = [aliases(60), tokens(3000),
            "{ things(limit: 1) { %s } }" % " ".join(
                "a%d: id" % i for i in range(300)),
            "{ things(limit: 1) { id %s } }" % ("@skip(if: false) " * 100)]
    for _ in range(50):
        for d in docs:
            r = requests.post(lim.url, json={"query": d}, timeout=30)
            assert r.json()["errors"][0]["extensions"]["code"] == \
                "LIMIT_EXCEEDED", r.text[:200]
    u.check("documents past the static limits")


@pytest.fixture(scope="module")
def lim2(pg):
    from conftest import Nginx, SCHEMA
    n = Nginx(pg, SCHEMA, log_level="debug",
              http_extra="fraiseql_max_depth 1;\n"
                         "    fraiseql_max_root_fields 3;\n"
                         "    fraiseql_max_document_size 600;\n").start()
    yield n
    n.stop()
    assert not n.problems(), "\n".join(n.problems())


def test_depth(lim2):
    ok(lim2, "{ posts(limit: 1) { id title } }")
    refused(lim2, "{ posts(limit: 1) { author { id } } }", "depth")
    # through a fragment, nested fragments, one named __schema
    refused(lim2, "query { posts(limit: 1) { ...P } } "
                  "fragment P on Post { author { id } }", "depth")
    refused(lim2, "query { posts(limit: 1) { ...P } } "
                  "fragment P on Post { id ...Q } "
                  "fragment Q on Post { author { ...U } } "
                  "fragment U on User { id }", "depth")
    refused(lim2, "query { posts(limit: 1) { ...__schema } } "
                  "fragment __schema on Post { author { id } }", "depth")


def test_root_fields(lim2):
    three = "a: things(limit: 1) { id } b: things(limit: 1) { id } " \
            "c: things(limit: 1) { id }"
    ok(lim2, "{ %s }" % three)
    refused(lim2, "{ %s d: things(limit: 1) { id } }" % three, "root_fields")
    # spread from fragments, nested ones, one named __schema
    ok(lim2, "query { ...A } fragment A on Query { %s }" % three)
    refused(lim2, "query { ...A ...B } fragment A on Query { %s } "
                  "fragment B on Query { ...C } fragment C on Query "
                  "{ d: things(limit: 1) { id } }" % three, "root_fields")
    refused(lim2, "query { ...__schema d: things(limit: 1) { id } } "
                  "fragment __schema on Query { %s }" % three, "root_fields")


def test_document_size(lim2):
    base = "{ things(limit: 1) { id } }"
    ok(lim2, base + " " * (600 - len(base)))
    refused(lim2, base + " " * (601 - len(base)), "document_size")
    # however it is sent
    r = requests.get(lim2.url, params={"query": base + " " * 600},
                     timeout=30)
    assert r.json()["errors"][0]["extensions"]["code"] == "LIMIT_EXCEEDED"


def test_introspection_is_exempt_from_depth(lim2):
    # three deep, with fraiseql_max_depth 1
    ok(lim2, "{ __schema { types { name fields { name type { name } } } } }")
    # 35 levels asked: answered as deep as the types go (null below), its
    # own bound (32) is on what is written
    chain = "name"
    for _ in range(35):
        chain = "ofType { %s }" % chain
    ok(lim2, "{ __type(name: \"Thing\") { %s } }" % chain)
