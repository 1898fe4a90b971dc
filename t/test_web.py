"""A fraiseql location as browsers see it (issue 19): fraiseql_cors and
fraiseql_graphiql.

CORS is checked as a browser checks it: a preflight passes when its answer
is ok and allows the Origin, the method and every header asked for; an
actual answer is readable when it allows the Origin.  Then by chromium
itself: pages of two other origins fetch from the location
(t/browser/cors.js).  GraphiQL: the page
and its headers, then (when Debian's chromium and Node.js are installed)
the page in headless chromium, its assets served by the same nginx from
the folder `make graphiql-assets` fills from npm: the schema loads and a
query runs.
"""

import base64
import fcntl
import hashlib
import json
import os
import re
import shutil
import socket
import subprocess
import tempfile

import pytest
import requests

from conftest import ROOT, SCHEMA, Nginx

APP = "https://app.example.com"
BROWSER = ("text/html,application/xhtml+xml,application/xml;q=0.9,"
           "image/avif,image/webp,*/*;q=0.8")
SECRET = "a-secret-of-at-least-thirty-two-bytes!!"


def preflight(n, origin=APP, method="POST", headers="content-type"):
    h = {"Origin": origin, "Access-Control-Request-Method": method}
    if headers:
        h["Access-Control-Request-Headers"] = headers
    return requests.options(n.url, headers=h, timeout=10)


def tokens(value):
    return [t.strip().lower() for t in (value or "").split(",") if t.strip()]


def browser_allows_preflight(r, origin, method, headers):
    """The Fetch standard's CORS-preflight check, without credentials."""
    if not 200 <= r.status_code < 300:
        return False
    if r.headers.get("access-control-allow-origin") not in (origin, "*"):
        return False
    methods = tokens(r.headers.get("access-control-allow-methods"))
    if method not in ("GET", "HEAD", "POST") and method.lower() not in methods:
        return False
    allowed = tokens(r.headers.get("access-control-allow-headers"))
    return all(h in allowed or "*" in allowed for h in tokens(headers))


# --- CORS ------------------------------------------------------------------

@pytest.fixture(scope="module")
def cors(pg):
    n = Nginx(pg, SCHEMA, http_extra=(
        "fraiseql_cors %s https://*.example.org "
        "headers=X-Request-Id,traceparent;\n"
        "    fraiseql_jwt_role_header X-Fraiseql-Role;" % APP),
        extra="fraiseql_max_document_size 64;").start()
    yield n
    n.stop()
    assert not n.problems(), "\n".join(n.problems())
    shutil.rmtree(n.prefix, ignore_errors=True)


def test_preflight_allowed_origin(cors):
    r = preflight(cors, headers="content-type,authorization,x-fraiseql-role")
    assert r.status_code == 204
    assert r.content == b""
    assert r.headers["access-control-allow-origin"] == APP
    assert tokens(r.headers["access-control-allow-methods"]) == [
        "get", "post", "options"]
    # the role header is fraiseql_jwt_role_header's, then headers=
    assert tokens(r.headers["access-control-allow-headers"]) == [
        "content-type", "authorization", "x-fraiseql-role", "x-request-id",
        "traceparent"]
    assert r.headers["access-control-max-age"] == "600"
    assert "Origin" in r.headers["vary"]
    assert "access-control-allow-credentials" not in r.headers
    assert browser_allows_preflight(
        r, APP, "POST", "content-type,authorization,x-fraiseql-role")


def test_preflight_header_not_allowed_fails_in_browser(cors):
    r = preflight(cors, headers="content-type,x-not-listed")
    assert r.status_code == 204
    assert not browser_allows_preflight(r, APP, "POST",
                                        "content-type,x-not-listed")


def test_preflight_disallowed_origin_has_no_cors_headers(cors):
    for origin in ("https://evil.example", "https://app.example.com.evil",
                   "http://app.example.com", "https://example.org",
                   "https://a.b.example.org.evil"):
        r = preflight(cors, origin=origin)
        assert r.status_code == 204
        assert not [h for h in r.headers
                    if h.lower().startswith("access-control-")], origin
        assert "Origin" in r.headers["vary"]
        assert not browser_allows_preflight(r, origin, "POST",
                                            "content-type")


def test_wildcard_subdomains(cors):
    for origin in ("https://a.example.org", "https://a.b.example.org"):
        r = preflight(cors, origin=origin)
        assert r.headers["access-control-allow-origin"] == origin
        r = cors.post("{ __typename }", headers={"Origin": origin})
        assert r.headers["access-control-allow-origin"] == origin


def test_actual_request_allowed_origin(cors):
    r = cors.post("{ things(limit: 1) { id } }", headers={"Origin": APP})
    assert r.status_code == 200
    assert r.json() == {"data": {"things": [{"id": 1}]}}
    assert r.headers["access-control-allow-origin"] == APP
    assert "Origin" in r.headers["vary"]
    r = requests.get(cors.url, params={"query": "{ __typename }"},
                     headers={"Origin": APP})
    assert r.headers["access-control-allow-origin"] == APP


def test_actual_request_other_origin_is_answered_without_cors(cors):
    r = cors.post("{ __typename }", headers={"Origin": "https://evil.example"})
    assert r.status_code == 200
    assert "access-control-allow-origin" not in r.headers
    assert "Origin" in r.headers["vary"]


def test_no_origin_still_varies(cors):
    r = cors.post("{ __typename }")
    assert "access-control-allow-origin" not in r.headers
    assert "Origin" in r.headers["vary"]


@pytest.mark.parametrize("how,status", [
    ("bad-json", 400), ("put", 405), ("no-type", 415), ("too-long", 400),
    ("get-mutation", 405), ("get-no-query", 400)])
def test_error_answers_carry_cors(cors, how, status):
    h = {"Origin": APP}
    if how == "bad-json":
        r = requests.post(cors.url, data="{bad", headers=dict(
            h, **{"Content-Type": "application/json"}))
    elif how == "put":
        r = requests.put(cors.url, json={"query": "{ x }"}, headers=h)
    elif how == "no-type":
        r = requests.post(cors.url, data="{}", headers=h)
    elif how == "too-long":
        r = cors.post("{ __typename }" + " " * 100, headers=dict(
            h, Accept="application/graphql-response+json"))
    elif how == "get-mutation":
        r = requests.get(cors.url, params={"query": "mutation { x }"},
                         headers=h)
    else:
        r = requests.get(cors.url, headers=h)
    assert r.status_code == status, r.text
    assert r.headers["access-control-allow-origin"] == APP
    assert "Origin" in r.headers["vary"]


def test_401_and_503_carry_cors(make_nginx, tmp_path):
    key = tmp_path / "hs"
    key.write_text(SECRET + "\n")
    n = make_nginx(http_extra="fraiseql_jwt required;\n"
                   "    fraiseql_jwt_key alg=HS256 file=%s;\n"
                   "    fraiseql_cors %s credentials max_age=2h;"
                   % (key, APP)).start()
    r = n.post("{ __typename }", headers={"Origin": APP})
    assert r.status_code == 401
    assert r.headers["access-control-allow-origin"] == APP
    assert r.headers["access-control-allow-credentials"] == "true"
    # the preflight carries no token: it is answered before the check
    r = preflight(n, headers="authorization,content-type")
    assert r.status_code == 204
    assert r.headers["access-control-allow-credentials"] == "true"
    assert r.headers["access-control-max-age"] == "7200"

    class Down:
        conninfo = "host=127.0.0.1 port=1 dbname=x connect_timeout=1"

    n = make_nginx(pg=Down(), http_extra="fraiseql_cors %s;" % APP).start()
    r = n.post("{ things { id } }", headers={"Origin": APP})
    assert r.status_code >= 500, r.text
    assert r.headers["access-control-allow-origin"] == APP


def test_star(make_nginx):
    n = make_nginx(http_extra="fraiseql_cors *;").start()
    r = preflight(n, origin="https://anyone.example")
    assert r.status_code == 204
    assert r.headers["access-control-allow-origin"] == "*"
    assert browser_allows_preflight(r, "https://anyone.example", "POST",
                                    "content-type")
    # the same answer whoever asks: nothing to vary on
    r = n.post("{ __typename }")
    assert r.headers["access-control-allow-origin"] == "*"
    assert "vary" not in r.headers


def test_location_off_and_options_without_cors(make_nginx):
    n = make_nginx(http_extra="fraiseql_cors %s;" % APP, extra=(
        "location /private { fraiseql; fraiseql_cors off; }")).start()
    r = requests.options(n.url.replace("/graphql", "/private"), headers={
        "Origin": APP, "Access-Control-Request-Method": "POST"})
    assert r.status_code == 405
    assert "access-control-allow-origin" not in r.headers
    # OPTIONS that is not a preflight, with CORS on: what the location takes
    r = requests.options(n.url)
    assert r.status_code == 204
    assert tokens(r.headers["allow"]) == ["get", "head", "post", "options"]
    assert "access-control-allow-methods" not in r.headers


@pytest.mark.parametrize("directive,reason", [
    ("fraiseql_cors * credentials;", 'cannot take "*" with "credentials"'),
    ("fraiseql_cors * %s;" % APP, 'takes "*" or origins, not both'),
    ("fraiseql_cors https://app.example.com/;", "is not an origin"),
    ("fraiseql_cors app.example.com;", "is not an origin"),
    ("fraiseql_cors https://a.example/path;", "is not an origin"),
    ("fraiseql_cors null;", 'the origin "null" is refused'),
    ("fraiseql_cors credentials;", "needs an origin"),
    ("fraiseql_cors off %s;" % APP, 'takes nothing after "off"'),
    ("fraiseql_cors %s max_age=soon;" % APP, "invalid max_age"),
    ("fraiseql_cors %s headers=X-A,;" % APP, "invalid header name"),
    ("fraiseql_cors %s headers=X:A;" % APP, "invalid header name"),
    ("fraiseql_cors %s; fraiseql_cors %s;" % (APP, APP), "is duplicate"),
    ("fraiseql_graphiql_assets javascript:alert(1)/;", "takes a path"),
    ("fraiseql_graphiql_assets //cdn.example/;", "takes a path"),
    ('fraiseql_graphiql_assets "/a\\"b/";', "a URL here may not have"),
    ('fraiseql_graphiql_assets "https://cdn.example/a;b/";',
     "a URL here may not have"),
    ("fraiseql_graphiql maybe;", "invalid value"),
])
def test_nginx_t_refuses(pg, directive, reason):
    n = Nginx(pg, SCHEMA, http_extra=directive)
    r = n.cmd("-t")
    shutil.rmtree(n.prefix, ignore_errors=True)
    assert r.returncode != 0
    assert reason in r.stderr, r.stderr


# --- GraphiQL --------------------------------------------------------------

def page(n, accept=BROWSER, url=None, **kw):
    return requests.get(url or n.url, headers={"Accept": accept}, timeout=10,
                        **kw)


def csp(r):
    """The policy's directives, by name."""
    return {d.split()[0]: d.split()[1:]
            for d in r.headers["content-security-policy"].split("; ")}


def sha256(text):
    return "'sha256-%s'" % base64.b64encode(
        hashlib.sha256(text.encode()).digest()).decode()


def test_graphiql_off_by_default(ngx):
    # a browser gets the GraphQL answer to a GET without a query
    r = page(ngx)
    assert r.status_code == 400
    assert r.headers["content-type"].startswith("application/json")
    assert r.json()["errors"][0]["extensions"]["code"] == "BAD_REQUEST"
    assert "vary" not in r.headers


@pytest.fixture(scope="module")
def graphiql(pg):
    n = Nginx(pg, SCHEMA, http_extra="fraiseql_graphiql on;", extra=(
        "location /local { fraiseql; "
        "fraiseql_graphiql_assets /graphiql-assets; }\n"
        "        location /cdn { fraiseql; "
        "fraiseql_graphiql_assets https://cdn.example.net/gq/; }\n"
        "        location /re/ { fraiseql; }")).start()
    yield n
    n.stop()
    assert not n.problems(), "\n".join(n.problems())
    shutil.rmtree(n.prefix, ignore_errors=True)


def test_graphiql_page(graphiql):
    r = page(graphiql)
    assert r.status_code == 200
    assert r.headers["content-type"] == "text/html; charset=utf-8"
    assert r.headers["cache-control"] == "no-store"
    assert "Accept" in r.headers["vary"]
    assert r.headers["x-content-type-options"] == "nosniff"
    body = r.text
    assert int(r.headers["content-length"]) == len(r.content)
    assert body.startswith("<!DOCTYPE html>")
    # the endpoint, relative to the page (the location itself)
    conf = re.search(r'<script id="fraiseql-graphiql" '
                     r'type="application/json">(.*?)</script>', body).group(1)
    assert json.loads(conf) == {"endpoint": "graphql"}
    # the default assets: npm's pinned files on unpkg, with their SRI
    cdn = "https://unpkg.com/"
    files = ["react@18.3.1/umd/react.production.min.js",
             "react-dom@18.3.1/umd/react-dom.production.min.js",
             "graphiql@3.9.0/graphiql.min.js"]
    srcs = re.findall(r'<script src="([^"]+)" integrity="sha384-[^"]+" '
                      r'crossorigin="anonymous">', body)
    assert srcs == [cdn + f for f in files]
    assert '<link rel="stylesheet" href="%sgraphiql@3.9.0/graphiql.min.css" '\
           'integrity="sha384-' % cdn in body


def test_graphiql_csp(graphiql):
    r = page(graphiql)
    policy = csp(r)
    # the inline script and style are allowed by their hashes, nothing else
    script = re.search(r"<script>(.*?)</script>", r.text, re.S).group(1)
    style = re.search(r"<style>(.*?)</style>", r.text, re.S).group(1)
    cdn = "https://unpkg.com/"
    assert policy["script-src"] == [
        sha256(script), cdn + "react@18.3.1/umd/react.production.min.js",
        cdn + "react-dom@18.3.1/umd/react-dom.production.min.js",
        cdn + "graphiql@3.9.0/graphiql.min.js"]
    assert policy["style-src"] == [sha256(style),
                                   cdn + "graphiql@3.9.0/graphiql.min.css"]
    assert policy["default-src"] == ["'none'"]
    assert policy["connect-src"] == ["'self'"]
    assert policy["frame-ancestors"] == ["'none'"]
    assert "'unsafe-inline'" not in r.headers["content-security-policy"]
    assert "'unsafe-eval'" not in r.headers["content-security-policy"]


def test_graphiql_assets_configurable(graphiql):
    base = "http://127.0.0.1:%d" % graphiql.port
    r = page(graphiql, url=base + "/local")
    assert r.status_code == 200
    assert ('src="/graphiql-assets/graphiql@3.9.0/graphiql.min.js"'
            in r.text)
    assert csp(r)["script-src"][1:] == ["'self'"]
    assert csp(r)["style-src"][1:] == ["'self'"]
    r = page(graphiql, url=base + "/cdn")
    assert 'href="https://cdn.example.net/gq/graphiql@3.9.0/graphiql.min.css"'\
        in r.text
    assert csp(r)["script-src"][-1] == \
        "https://cdn.example.net/gq/graphiql@3.9.0/graphiql.min.js"
    assert "unpkg" not in r.text + r.headers["content-security-policy"]


def test_graphiql_endpoint_is_json_escaped(graphiql):
    # a raw request line: what a browser would have percent-encoded
    with socket.create_connection(("127.0.0.1", graphiql.port), 5) as s:
        s.sendall(b'GET /re/a"b\\c<i>&x HTTP/1.0\r\n'
                  b"Accept: text/html\r\n\r\n")
        data = b""
        while True:
            chunk = s.recv(65536)
            if not chunk:
                break
            data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 200"), head
    body = body.decode()
    conf = re.search(r'type="application/json">(.*?)</script>', body).group(1)
    assert conf == '{"endpoint":"a\\u0022b\\u005cc\\u003ci\\u003e\\u0026x"}'
    assert json.loads(conf) == {"endpoint": 'a"b\\c<i>&x'}
    assert "<i>" not in body
    # a location ending in a slash: the page's own URL
    r = page(graphiql, url="http://127.0.0.1:%d/re/" % graphiql.port)
    assert '{"endpoint":"./"}' in r.text


@pytest.mark.parametrize("accept", [
    "application/json", "application/graphql-response+json", "*/*",
    "application/graphql-response+json, application/json;q=0.9",
    "text/html;q=0.5, application/json", "text/*;q=0.1, */*",
])
def test_graphql_clients_unaffected(graphiql, accept):
    r = page(graphiql, accept=accept)
    assert r.status_code in (200, 400)
    assert "json" in r.headers["content-type"], accept
    assert "Accept" in r.headers["vary"]


def test_html_accepting_client_with_a_query_gets_graphql(graphiql):
    r = requests.get(graphiql.url, params={"query": "{ things(limit: 1) "
                                           "{ id } }"},
                     headers={"Accept": BROWSER})
    assert r.json() == {"data": {"things": [{"id": 1}]}}
    r = requests.get(graphiql.url, params={"documentId": "sha256:00"},
                     headers={"Accept": BROWSER})
    assert "json" in r.headers["content-type"]
    r = requests.post(graphiql.url, json={"query": "{ __typename }"},
                      headers={"Accept": BROWSER})
    assert r.json() == {"data": {"__typename": "Query"}}


def test_graphiql_head_and_other_pages(graphiql):
    r = requests.head(graphiql.url, headers={"Accept": "text/html"})
    assert r.status_code == 200
    assert r.headers["content-type"].startswith("text/html")
    assert r.content == b""
    r = page(graphiql, accept="text/html")
    assert r.status_code == 200


# --- GraphiQL in chromium --------------------------------------------------

BROWSER_DIR = os.path.join(ROOT, "t", "browser")
CHROMIUM = os.environ.get("CHROMIUM", "/usr/bin/chromium")


def npm_ci(where, lock):
    """npm ci in where, once per change of its lock file."""
    stamp = os.path.join(where, "node_modules", ".fraiseql-lock-sha256")
    with open(os.path.join(where, ".npm-ci.lock"), "w") as f:
        fcntl.flock(f, fcntl.LOCK_EX)
        with open(os.path.join(where, lock), "rb") as l:
            want = hashlib.sha256(l.read()).hexdigest()
        try:
            with open(stamp) as s:
                have = s.read().strip()
        except OSError:
            have = None
        if have != want:
            r = subprocess.run(["npm", "ci", "--ignore-scripts", "--no-audit",
                                "--no-fund", "--loglevel=error"], cwd=where,
                               capture_output=True, text=True, timeout=600)
            assert r.returncode == 0, r.stdout + r.stderr
            with open(stamp, "w") as s:
                s.write(want + "\n")


@pytest.fixture(scope="module")
def assets():
    """GraphiQL's four files, as `make graphiql-assets` lays them out."""
    if shutil.which("node") is None or shutil.which("npm") is None:
        pytest.skip("node and npm are not installed (apt-get install nodejs "
                    "npm)")
    npm_ci(os.path.join(ROOT, "graphiql"), "package-lock.json")
    d = tempfile.mkdtemp(prefix="fraiseql-graphiql-")
    r = subprocess.run(["make", "-s", "graphiql-assets",
                        "GRAPHIQL_ASSETS=" + d], cwd=ROOT,
                       capture_output=True, text=True, timeout=600)
    assert r.returncode == 0, r.stdout + r.stderr
    yield d
    shutil.rmtree(d, ignore_errors=True)


def test_graphiql_assets_match_the_page(assets, graphiql):
    """The files `make graphiql-assets` copies are the ones the page names,
    with the integrity the page pins."""
    r = page(graphiql)
    pinned = re.findall(r'(?:src|href)="https://unpkg.com/([^"]+)" '
                        r'integrity="(sha384-[^"]+)"', r.text)
    assert len(pinned) == 4
    for path, integrity in pinned:
        with open(os.path.join(assets, path), "rb") as f:
            digest = base64.b64encode(hashlib.sha384(f.read()).digest())
        assert integrity == "sha384-" + digest.decode(), path


def chromium(make_nginx, assets, more=""):
    """GraphiQL of a new nginx in chromium: what graphiql.js saw."""
    if not os.access(CHROMIUM, os.X_OK):
        pytest.skip("chromium is not installed (apt-get install chromium)")
    npm_ci(BROWSER_DIR, "package-lock.json")
    n = make_nginx(http_extra="fraiseql_graphiql on;\n"
                   "    fraiseql_graphiql_assets /graphiql-assets/;" + more,
                   extra="location /graphiql-assets/ { alias %s/; "
                   "types { text/css css; application/javascript js; } }"
                   % assets).start()
    r = subprocess.run(["node", "graphiql.js", n.url,
                        "{ things(limit: 2) { id } }"], cwd=BROWSER_DIR,
                       capture_output=True, text=True, timeout=120,
                       env=dict(os.environ, CHROMIUM=CHROMIUM))
    assert r.returncode == 0, r.stdout + r.stderr
    out = json.loads(r.stdout.strip().splitlines()[-1])
    assert out["status"] == 200
    return n, out


def test_graphiql_in_chromium(make_nginx, assets):
    n, out = chromium(make_nginx, assets)
    assert out["introspected"], out
    assert "query: Query" in out["docs"], out
    assert out["result"] == {"data": {"things": [{"id": 1}, {"id": 2}]}}
    assert out["violations"] == [], out
    assert out["errors"] == [], out
    # the page's requests: its assets from the folder, then the GraphQL POSTs
    with open(os.path.join(n.prefix, "access.log")) as f:
        log = f.read()
    assert '"GET /graphiql-assets/graphiql@3.9.0/graphiql.min.js' in log
    assert len(re.findall(r'"POST /graphql HTTP/1.1" 200', log)) >= 2


def test_graphiql_in_chromium_without_introspection(make_nginx, assets):
    """fraiseql_introspection off: the page opens, shows the refusal
    instead of a schema, and a query typed in still runs."""
    n, out = chromium(make_nginx, assets, "\n    fraiseql_introspection off;")
    assert not out["introspected"]
    assert "introspection" in json.dumps(out["introspection_errors"]).lower()
    assert "errors" in out["shown"]
    assert out["result"] == {"data": {"things": [{"id": 1}, {"id": 2}]}}
    assert out["violations"] == [], out


def test_cors_in_chromium(make_nginx):
    """Pages of two other origins call the location from chromium: the
    browser lets the listed one read answers (after its preflight, and an
    error answer too) and keeps them from the other."""
    from conftest import free_port
    if not os.access(CHROMIUM, os.X_OK) or shutil.which("node") is None:
        pytest.skip("chromium or node is not installed")
    npm_ci(BROWSER_DIR, "package-lock.json")
    listed, other = free_port(), free_port()
    pages = "".join(
        "server { listen 127.0.0.1:%d; location / { default_type text/html;"
        " return 200 '<!DOCTYPE html><title>app</title>'; } }\n    " % p
        for p in (listed, other))
    n = make_nginx(http_extra=pages + "fraiseql_cors http://127.0.0.1:%d;"
                   % listed).start()

    def run(port):
        r = subprocess.run(["node", "cors.js", "http://127.0.0.1:%d/" % port,
                            n.url], cwd=BROWSER_DIR, capture_output=True,
                           text=True, timeout=60,
                           env=dict(os.environ, CHROMIUM=CHROMIUM))
        assert r.returncode == 0, r.stdout + r.stderr
        return json.loads(r.stdout.strip().splitlines()[-1])

    out = run(listed)
    assert out["post"] == {"status": 200,
                           "body": {"data": {"things": [{"id": 1}]}}}
    assert "error" in out["other_header"]
    assert out["get_error"]["status"] == 400
    assert out["get_error"]["body"]["errors"][0]["extensions"]["code"] == \
        "BAD_REQUEST"

    out = run(other)
    assert all("error" in v for v in out.values()), out
    # the browser asked: the preflights reached nginx
    with open(os.path.join(n.prefix, "access.log")) as f:
        log = f.read()
    assert len(re.findall(r'"OPTIONS /graphql HTTP/1.1" 204', log)) >= 3


def test_graphiql_page_needs_no_token_and_batches_carry_cors(make_nginx,
                                                             tmp_path):
    key = tmp_path / "hs"
    key.write_text(SECRET + "\n")
    n = make_nginx(http_extra="fraiseql_jwt required;\n"
                   "    fraiseql_jwt_key alg=HS256 file=%s;\n"
                   "    fraiseql_graphiql on; fraiseql_batch 4;\n"
                   "    fraiseql_cors %s;" % (key, APP)).start()
    # the page holds no data: no token asked for; what it sends is checked
    r = page(n)
    assert r.status_code == 200
    assert r.headers["content-type"].startswith("text/html")
    r = n.post("{ __typename }", headers={"Origin": APP})
    assert r.status_code == 401
    # a batch's answer is its POST's: the headers once, on it
    n2 = make_nginx(http_extra="fraiseql_batch 4; fraiseql_cors %s;"
                    % APP).start()
    r = requests.post(n2.url, json=[{"query": "{ __typename }"},
                                    {"query": "{ things(limit: 1) { id } }"}],
                      headers={"Origin": APP})
    assert r.status_code == 200
    assert r.json() == [{"data": {"__typename": "Query"}},
                        {"data": {"things": [{"id": 1}]}}]
    assert r.headers["access-control-allow-origin"] == APP
    assert r.headers["vary"].count("Origin") == 1
