"""The module against the reference implementation (issue 3, points 1-2).

Node scripts in t/graphql_js/ run against the shared nginx:

- schema_diff.js: the module's introspection, through graphql-js's
  buildClientSchema, describes t/schema.graphql and the generated types;
- validate_corpus.js: the module and graphql-js's validate() agree on
  which documents of t/graphql_js/corpus/ are valid, but for the files in
  known_gaps.txt;
- audit.js: graphql-http's GraphQL-over-HTTP audits: every MUST passes,
  but for the ids in known_audit_gaps.txt;
- apollo_pages.js: Apollo Client's relayStylePagination merges the
  module's cursor pages, forwards and backwards, into the whole ordered
  list (issue 14, item 2);
- apollo_persisted.js: Apollo Client's persisted-query link, with
  automatic persisted queries (miss, register, hit, GET), and with the ids
  of a manifest that @apollo/generate-persisted-query-manifest made from
  persisted/*.graphql (issue 18);
- apollo_batch.js: Apollo Client's BatchHttpLink: queries made at once go
  in one request, each gets its own answer, a failing one alone (issue 18).

The npm packages (graphql, graphql-http, @apollo/client and its peer
rxjs, pinned in package-lock.json) are installed once with `npm ci` when
node_modules is missing or the lock file changed.  Without Node.js the
tests are skipped.
"""

import fcntl
import hashlib
import os
import shutil
import subprocess

import pytest

HERE = os.path.join(os.path.dirname(os.path.abspath(__file__)), "graphql_js")
NODE_MODULES = os.path.join(HERE, "node_modules")
STAMP = os.path.join(NODE_MODULES, ".fraiseql-lock-sha256")


def lock_digest():
    h = hashlib.sha256()
    for name in ("package.json", "package-lock.json"):
        with open(os.path.join(HERE, name), "rb") as f:
            h.update(f.read())
    return h.hexdigest()


def report(r):
    return "exit %d\n--- stdout\n%s\n--- stderr\n%s" % (
        r.returncode, r.stdout, r.stderr)


@pytest.fixture(scope="session")
def node():
    """node, with graphql and graphql-http installed in t/graphql_js."""
    path = shutil.which("node")
    if path is None:
        pytest.skip("node is not installed: these tests run graphql-js "
                    "(apt-get install nodejs npm)")

    # one npm ci at a time, should two runs share the work tree
    with open(os.path.join(HERE, ".npm-ci.lock"), "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        want = lock_digest()
        try:
            with open(STAMP) as f:
                have = f.read().strip()
        except OSError:
            have = None

        if have != want:
            npm = shutil.which("npm")
            assert npm, "node is installed but npm is not (apt-get install npm)"
            r = subprocess.run([npm, "ci", "--no-audit", "--no-fund"],
                               cwd=HERE, capture_output=True, text=True,
                               timeout=600)
            assert r.returncode == 0, "npm ci failed:\n" + report(r)
            with open(STAMP, "w") as f:
                f.write(want + "\n")

    return path


def run(node, script, url, *args):
    return subprocess.run([node, os.path.join(HERE, script), url]
                          + list(args), cwd=HERE, capture_output=True,
                          text=True, timeout=600)


def test_introspection_matches_the_schema_file(ngx, node):
    r = run(node, "schema_diff.js", ngx.url)
    assert r.returncode == 0, report(r)


def test_validation_agrees_with_graphql_js(ngx, node):
    # strict: the list of known gaps must shrink as they are fixed
    r = run(node, "validate_corpus.js", ngx.url, "--strict")
    assert r.returncode == 0, report(r)


def test_graphql_over_http_audits(ngx, node):
    r = run(node, "audit.js", ngx.url)
    assert r.returncode == 0, report(r)


def test_apollo_client_merges_cursor_pages(ngx, node):
    r = run(node, "apollo_pages.js", ngx.url)
    assert r.returncode == 0, report(r)
    assert r.stdout.count("ok ") == 8, report(r)


def test_sdl_directive_errors_agree_with_graphql_js(node):
    # graphql-js's SDL validation says of each bad schema of
    # test_config.py what `nginx -t` says, at one of the places it names
    import json
    import tempfile

    from test_config import BAD_DIRECTIVES

    paths = []
    try:
        for text, _, _ in BAD_DIRECTIVES:
            f = tempfile.NamedTemporaryFile("w", suffix=".graphql",
                                            delete=False)
            f.write(text)
            f.close()
            paths.append(f.name)
        r = subprocess.run([node, os.path.join(HERE, "sdl_errors.js")]
                           + paths, cwd=HERE, capture_output=True,
                           text=True, timeout=600)
        assert r.returncode == 0, report(r)
        answers = [json.loads(l) for l in r.stdout.splitlines()]
        assert len(answers) == len(BAD_DIRECTIVES)
        for (text, where, reason), a in zip(BAD_DIRECTIVES, answers):
            assert a["message"] == reason, (text, a)
            places = [":%d:%d:" % (l["line"], l["column"])
                      for l in a["locations"]]
            assert where in places, (text, a)
    finally:
        for p in paths:
            os.unlink(p)


def test_apollo_persisted_queries(make_nginx, node, tmp_path):
    """Apollo's APQ flow and trusted documents, with Apollo's own client
    link and manifest generator (issue 18, acceptance 1)."""
    import json
    import re
    import requests

    cfg = tmp_path / "pqm.json"
    manifest = tmp_path / "manifest.json"
    cfg.write_text(json.dumps({"documents": ["persisted/*.graphql"],
                               "output": str(manifest)}))
    r = subprocess.run([node, os.path.join(
        NODE_MODULES, "@apollo", "generate-persisted-query-manifest",
        "cli.js"), "--config", str(cfg)], cwd=HERE, capture_output=True,
        text=True, timeout=120)
    assert r.returncode == 0, report(r)
    ops = json.loads(manifest.read_text())["operations"]
    assert sorted(o["name"] for o in ops) == ["Thing", "Things"]

    n = make_nginx(workers=2, log_level="debug", http_extra="""
    fraiseql_persisted_zone zone=apq:1m;""", extra="""
    location /apq { fraiseql; fraiseql_persisted apq; }
    location /trusted { fraiseql; fraiseql_persisted trusted;
                        fraiseql_trusted_documents %s; }""" % manifest)
    n.start()
    base = "http://127.0.0.1:%d" % n.port

    r = run(node, "apollo_persisted.js", "apq", base + "/apq")
    assert r.returncode == 0, report(r)
    seen = json.loads(r.stdout)
    first, second, get = seen["first"], seen["second"], seen["get"]
    # miss, then register; then the hash alone, by POST and by GET
    assert [(x["withText"], x["code"]) for x in first] == [
        (False, "PERSISTED_QUERY_NOT_FOUND"), (True, None)], first
    assert [(x["method"], x["withText"], x["code"]) for x in second] == [
        ("POST", False, None)], second
    assert [(x["method"], x["withText"], x["code"]) for x in get] == [
        ("GET", False, None)], get
    assert n.log().count("fraiseql persisted: registered") == 1
    # the hash Apollo computed serves on new connections, on both workers
    # (which worker accepts a connection is the kernel's choice: ask on
    # new connections until both have answered)
    h = first[0]["hash"]
    for i in range(300):
        r = requests.post(base + "/apq", timeout=30,
                          headers={"Connection": "close"},
                          json={"variables": {"id": "1"}, "extensions": {
                              "persistedQuery": {"version": 1,
                                                 "sha256Hash": h}}})
        assert r.json()["data"]["thing"]["id"] == 1, r.text
        pids = set(re.findall(r"\[debug\] (\d+)#\d+: \*\d+ fraiseql "
                              r"plan", n.log()))
        if len(pids) == 2:
            break
    assert len(pids) == 2, pids

    r = run(node, "apollo_persisted.js", "trusted", base + "/trusted",
            str(manifest))
    assert r.returncode == 0, report(r)
    seen = json.loads(r.stdout)["trusted"]
    assert [(x["withText"], x["code"]) for x in seen] == [
        (False, None), (False, None)], seen
    assert {x["hash"] for x in seen} == {o["id"] for o in ops}
    # an id the manifest does not have, and free text: refused
    r = requests.post(base + "/trusted", json={"documentId": "sha256:"
                                               + "1" * 64}, timeout=30)
    assert r.json()["errors"][0]["extensions"]["code"] == \
        "PERSISTED_QUERY_NOT_FOUND"
    r = requests.post(base + "/trusted", timeout=30,
                      json={"query": "{ things { id name } }"})
    assert r.status_code == 403
    assert r.json()["errors"][0]["extensions"]["code"] == \
        "TRUSTED_DOCUMENT_REQUIRED"


def test_apollo_batch_link(make_nginx, node):
    """Apollo's BatchHttpLink against fraiseql_batch (issue 18,
    acceptance 2): one request for the four queries, each its answer."""
    import json

    n = make_nginx(extra="location /b { fraiseql; fraiseql_batch 4; }")
    n.start()
    url = "http://127.0.0.1:%d/b" % n.port
    r = run(node, "apollo_batch.js", url, "4")
    assert r.returncode == 0, report(r)
    out = json.loads(r.stdout)
    assert out["sent"] == [4], out
    got = out["got"]
    assert [g["id"] for g in got] == ["3", "1", None, "2"], got
    assert [g["error"] is None for g in got] == [True, True, False, True]
    # a link that batches more than the location takes: refused whole,
    # every query gets the error
    r = run(node, "apollo_batch.js", url, "8", "6")
    assert r.returncode == 0, report(r)
    out = json.loads(r.stdout)
    assert out["sent"] == [6], out
    assert len(out["got"]) == 6
    assert all(g["id"] is None and g["error"] for g in out["got"]), out
