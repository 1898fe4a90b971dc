"""Persisted documents (issue 18): Apollo's automatic persisted queries
in a shared zone (fraiseql_persisted apq, fraiseql_persisted_zone),
trusted documents from a manifest checked at nginx -t
(fraiseql_trusted_documents, fraiseql_persisted trusted), documentId and
extensions over GET, and Cache-Control for GET query answers
(fraiseql_cache_control).  The protocol as Apollo's clients speak it;
t/graphql_js drives it with @apollo/client itself."""

import hashlib
import json
import os
import shutil
import tempfile

import pytest
import requests

from test_rate_limits import tok, keyfile  # noqa: F401

Q = "query Thing($id: ID!) { thing(id: $id) { id name } }"


def sha(text):
    return hashlib.sha256(text.encode()).hexdigest()


def apq(h):
    return {"persistedQuery": {"version": 1, "sha256Hash": h}}


def ask(n, path, body, headers=None, method="POST"):
    url = "http://127.0.0.1:%d%s" % (n.port, path)
    if method == "GET":
        params = {k: (json.dumps(v) if isinstance(v, (dict, list)) else v)
                  for k, v in body.items()}
        return requests.get(url, params=params, headers=headers, timeout=30)
    return requests.post(url, json=body, headers=headers, timeout=30)


def code(r):
    return r.json()["errors"][0]["extensions"]["code"]


def statements(n):
    import re
    return len(re.findall(r"fraiseql slot \d+: run", n.log()))


@pytest.fixture(scope="module")
def manifest():
    d = tempfile.mkdtemp(prefix="fraiseql-manifest-")
    docs = {"Thing": Q,
            "Things": "query Things { things(limit: 2) { id } }",
            "Rename": "mutation Rename { createUser(input: {email: \"x\", "
                      "firstName: \"a\", lastName: \"b\"}) { __typename } }"}
    path = os.path.join(d, "manifest.json")
    with open(path, "w") as f:
        json.dump({"format": "apollo-persisted-query-manifest", "version": 1,
                   "operations": [{"id": sha(b), "body": b, "name": k,
                                   "type": "query"}
                                  for k, b in docs.items()]}, f)
    flat = os.path.join(d, "flat.json")
    with open(flat, "w") as f:
        json.dump({"sha256:" + sha(Q): Q,
                   "0123456789abcdef0123456789abcdef": "{ __typename }"}, f)
    yield d, path, flat, docs
    shutil.rmtree(d, ignore_errors=True)


@pytest.fixture(scope="module")
def pn(pg, manifest, keyfile):  # noqa: F811
    from conftest import Nginx, SCHEMA
    d, path, flat, _ = manifest
    n = Nginx(pg, SCHEMA, workers=2, log_level="debug", http_extra="""
    fraiseql_persisted_zone zone=apq:1m;
    fraiseql_jwt optional;
    fraiseql_jwt_key alg=HS256 file=%s;""" % keyfile, extra="""
    location /apq { fraiseql; fraiseql_persisted apq;
                    fraiseql_cache_control "public, max-age=60"; }
    location /apq-vary { fraiseql; fraiseql_persisted apq;
                         fraiseql_cache_control "max-age=5"
                                                vary=Authorization; }
    location /trusted { fraiseql; fraiseql_persisted trusted;
                        fraiseql_trusted_documents %s; }
    location /flat { fraiseql; fraiseql_persisted trusted;
                     fraiseql_trusted_documents %s; }
    location /both { fraiseql; fraiseql_persisted trusted+apq;
                     fraiseql_trusted_documents %s; }
    """ % (path, flat, path)).start()
    yield n
    n.stop()
    assert not n.problems(), "\n".join(n.problems())


def test_apq_miss_register_hit(pn):
    h = sha(Q)
    v = {"id": "1"}
    # the hash alone: not known yet
    r = ask(pn, "/apq", {"variables": v, "extensions": apq(h)})
    assert r.status_code == 200 and code(r) == "PERSISTED_QUERY_NOT_FOUND"
    assert "PersistedQueryNotFound" in r.json()["errors"][0]["message"]
    # hash and text: run and registered
    r = ask(pn, "/apq", {"query": Q, "variables": v, "extensions": apq(h)})
    assert r.json()["data"]["thing"]["id"] == 1, r.text
    # the hash alone, on every worker (new connections), POST and GET
    for _ in range(6):
        r = ask(pn, "/apq", {"variables": v, "extensions": apq(h)},
                headers={"Connection": "close"})
        assert r.json()["data"]["thing"]["id"] == 1, r.text
        r = ask(pn, "/apq", {"variables": v, "extensions": apq(h)},
                method="GET", headers={"Connection": "close"})
        assert r.json()["data"]["thing"]["id"] == 1, r.text
    # an upper-case hash is the same hash
    r = ask(pn, "/apq", {"variables": v, "extensions": apq(h.upper())})
    assert r.json()["data"]["thing"]["id"] == 1


def test_apq_mismatch_and_invalid_never_stored(pn):
    good = "{ things(limit: 1) { id } }"
    r = ask(pn, "/apq", {"query": good, "extensions": apq(sha(good + " "))})
    assert r.status_code == 400 and code(r) == "PERSISTED_QUERY_SHA_MISMATCH"
    # nothing was stored under either hash
    for h in (sha(good), sha(good + " ")):
        r = ask(pn, "/apq", {"extensions": apq(h)})
        assert code(r) == "PERSISTED_QUERY_NOT_FOUND"

    bad = "{ nope { id } }"
    r = ask(pn, "/apq", {"query": bad, "extensions": apq(sha(bad))})
    assert code(r) == "GRAPHQL_VALIDATION_FAILED"
    r = ask(pn, "/apq", {"extensions": apq(sha(bad))})
    assert code(r) == "PERSISTED_QUERY_NOT_FOUND"

    # a GET registers nothing (Apollo registers with POST)
    q = "{ things(limit: 3) { id } }"
    r = ask(pn, "/apq", {"query": q, "extensions": apq(sha(q))},
            method="GET")
    assert len(r.json()["data"]["things"]) == 3
    r = ask(pn, "/apq", {"extensions": apq(sha(q))})
    assert code(r) == "PERSISTED_QUERY_NOT_FOUND"


@pytest.mark.parametrize("ext,want", [
    ({"persistedQuery": {"version": 2, "sha256Hash": "0" * 64}},
     "version 1"),
    ({"persistedQuery": {"version": 1, "sha256Hash": "xyz"}},
     "64 hexadecimal"),
    ({"persistedQuery": {"version": 1, "sha256Hash": "g" * 64}},
     "64 hexadecimal"),
    ({"persistedQuery": "abc"}, "version 1"),
])
def test_apq_malformed(pn, ext, want):
    r = ask(pn, "/apq", {"extensions": ext})
    assert r.status_code == 400 and code(r) == "BAD_REQUEST", r.text
    assert want in r.json()["errors"][0]["message"]


def test_not_supported_where_off(pn):
    r = requests.post(pn.url, json={"extensions": apq(sha(Q))}, timeout=30)
    assert code(r) == "PERSISTED_QUERY_NOT_SUPPORTED"
    r = requests.post(pn.url, json={"documentId": "sha256:" + sha(Q)},
                      timeout=30)
    assert code(r) == "PERSISTED_QUERY_NOT_SUPPORTED"
    # the query with its hash too: Apollo's clients then stop hashing
    r = requests.post(pn.url, json={"query": Q, "variables": {"id": 1},
                                    "extensions": apq(sha(Q))}, timeout=30)
    assert code(r) == "PERSISTED_QUERY_NOT_SUPPORTED"


def test_trusted_documents(pn, manifest):
    _, _, _, docs = manifest
    v = {"id": "2"}
    for path in ("/trusted", "/flat", "/both"):
        # by documentId (Appendix A), by APQ hash, by GET
        r = ask(pn, path, {"documentId": "sha256:" + sha(Q), "variables": v})
        assert r.json()["data"]["thing"]["id"] == 2, (path, r.text)
        r = ask(pn, path, {"extensions": apq(sha(Q)), "variables": v})
        assert r.json()["data"]["thing"]["id"] == 2, (path, r.text)
        r = ask(pn, path, {"documentId": "sha256:" + sha(Q), "variables": v},
                method="GET")
        assert r.json()["data"]["thing"]["id"] == 2, (path, r.text)
        # the document's own text, sent whole, is allowed
        r = ask(pn, path, {"query": Q, "variables": v})
        assert r.json()["data"]["thing"]["id"] == 2, (path, r.text)
        # an unknown id
        r = ask(pn, path, {"documentId": "sha256:" + "0" * 64})
        assert code(r) == "PERSISTED_QUERY_NOT_FOUND", (path, r.text)

    before = statements(pn)
    for path in ("/trusted", "/flat"):
        # free text: refused, before anything runs
        r = ask(pn, path, {"query": "{ things { id name } }"})
        assert r.status_code == 403, r.text
        assert code(r) == "TRUSTED_DOCUMENT_REQUIRED"
        # and so is registering one
        q = "{ things { id } }"
        r = ask(pn, path, {"query": q, "extensions": apq(sha(q))})
        assert code(r) == "TRUSTED_DOCUMENT_REQUIRED"
    assert statements(pn) == before

    # a documentId naming a document that is not the text sent
    r = ask(pn, "/trusted", {"documentId": "sha256:" + sha(Q),
                             "query": "{ __typename }"})
    assert r.status_code == 400
    assert code(r) == "PERSISTED_QUERY_SHA_MISMATCH"

    # the flat map's other kinds of id (Relay's MD5) are ids as they are
    r = ask(pn, "/flat", {"documentId": "0123456789abcdef0123456789abcdef"})
    assert r.json() == {"data": {"__typename": "Query"}}

    # a mutation is named too, and runs with POST only
    r = ask(pn, "/trusted", {"documentId": sha(docs["Rename"])},
            method="GET")
    assert r.status_code == 405

    # trusted+apq: documents outside the manifest go through APQ
    q = "{ things(limit: 4) { id } }"
    r = ask(pn, "/both", {"query": q})
    assert code(r) == "TRUSTED_DOCUMENT_REQUIRED"
    r = ask(pn, "/both", {"query": q, "extensions": apq(sha(q))})
    assert len(r.json()["data"]["things"]) == 4


def test_cache_control(pn, keyfile):  # noqa: F811
    h = sha(Q)
    v = {"id": "1"}
    ask(pn, "/apq", {"query": Q, "variables": v, "extensions": apq(h)})
    r = ask(pn, "/apq", {"variables": v, "extensions": apq(h)}, method="GET")
    assert r.headers["Cache-Control"] == "public, max-age=60"
    assert "Vary" not in r.headers
    # not for POST, errors, or a caller's own answer
    r = ask(pn, "/apq", {"variables": v, "extensions": apq(h)})
    assert "Cache-Control" not in r.headers
    r = ask(pn, "/apq", {"query": "{ nope }"}, method="GET")
    assert "Cache-Control" not in r.headers
    r = ask(pn, "/apq", {"variables": v, "extensions": apq(h)}, method="GET",
            headers={"Authorization": "Bearer " + tok("alice")})
    assert "Cache-Control" not in r.headers, r.headers
    # ... unless the answer says it varies with the token
    r = ask(pn, "/apq-vary", {"variables": v, "extensions": apq(h)},
            method="GET", headers={"Authorization": "Bearer " + tok("alice")})
    assert r.headers["Cache-Control"] == "max-age=5"
    assert r.headers["Vary"] == "Authorization"


def test_a_stale_manifest_fails_nginx_t(pg, manifest):
    from conftest import Nginx, SCHEMA
    d, _, _, _ = manifest
    cases = [
        ({"format": "apollo-persisted-query-manifest", "version": 1,
          "operations": [{"id": sha("{ gone { id } }"),
                          "body": "{ gone { id } }", "name": "Gone"}]},
         'Cannot query field "gone"'),
        ({"format": "apollo-persisted-query-manifest", "version": 1,
          "operations": [{"id": sha("{ x"), "body": "{ x", "name": "Bad"}]},
         "(Bad)"),
        ({"sha256:" + "0" * 64: "{ __typename }"},
         "is not the SHA-256 of its document"),
        ({"format": "apollo-persisted-query-manifest", "version": 2,
          "operations": []}, '"version" is not 1'),
        ([], "not a JSON object"),
    ]
    for doc, want in cases:
        path = os.path.join(d, "bad.json")
        with open(path, "w") as f:
            json.dump(doc, f)
        n = Nginx(pg, SCHEMA, extra="location /t { fraiseql; "
                  "fraiseql_persisted trusted; "
                  "fraiseql_trusted_documents %s; }" % path)
        try:
            r = n.cmd("-t")
            assert r.returncode != 0, doc
            assert want in r.stderr, (want, r.stderr)
            assert "bad.json" in r.stderr
        finally:
            shutil.rmtree(n.prefix, ignore_errors=True)

    for extra, want in (
            ("location /t { fraiseql; fraiseql_persisted trusted; }",
             "needs \"fraiseql_trusted_documents\""),
            ("location /t { fraiseql; fraiseql_persisted apq; }",
             "needs \"fraiseql_persisted_zone\""),
            ("location /t { fraiseql; fraiseql_persisted yes; }",
             "takes off, apq, trusted or trusted+apq")):
        n = Nginx(pg, SCHEMA, extra=extra)
        try:
            r = n.cmd("-t")
            assert r.returncode != 0 and want in r.stderr, r.stderr
        finally:
            shutil.rmtree(n.prefix, ignore_errors=True)


def test_a_full_zone_forgets_the_oldest(make_nginx, pg):
    from test_hostile import Unharmed
    n = make_nginx(http_extra="fraiseql_persisted_zone zone=small:32k;",
                   extra="location /apq { fraiseql; "
                         "fraiseql_persisted apq; }").start()
    u = Unharmed(n, pg)
    s = requests.Session()
    first = "query First { things(limit: 1) { id } }"
    url = "http://127.0.0.1:%d/apq" % n.port
    s.post(url, json={"query": first, "extensions": apq(sha(first))})
    assert "data" in s.post(url, json={"extensions": apq(sha(first))}).json()
    # a client registering thousands of documents: the oldest go
    for i in range(1500):
        q = "query Q%d { things(limit: 1) { id name } }" % i
        r = s.post(url, json={"query": q, "extensions": apq(sha(q))})
        assert r.status_code == 200
    r = s.post(url, json={"extensions": apq(sha(first))})
    assert code(r) == "PERSISTED_QUERY_NOT_FOUND"
    q = "query Q1499 { things(limit: 1) { id name } }"
    assert "data" in s.post(url, json={"extensions": apq(sha(q))}).json()
    log = n.log()
    assert "[alert]" not in log and "[crit]" not in log
    u.check("1,500 registered documents")
