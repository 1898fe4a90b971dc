"""Identity at the edge (issue 15): tokens verified in the worker before
anything runs, 401 with WWW-Authenticate for a missing or bad one, and a
verified token's claims given to PostgreSQL (request.jwt.claims, the role
with fraiseql_db_role claim, fraiseql_db_setting) in the same pipeline as
each root field's statement.

Tokens are made by an independent library, python3-jwt, with keys made
here by python3-cryptography (test-only keys, in a temporary folder)."""

import json
import os
import re
import tempfile
import time

import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa

from test_hostile import worker_pid

SECRET = "a-test-secret-of-more-than-thirty-two-bytes"


@pytest.fixture(scope="module")
def keys():
    d = tempfile.mkdtemp(prefix="fraiseql-keys-")
    rsa_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    ec_key = ec.generate_private_key(ec.SECP256R1())
    paths = {"dir": d}
    for name, k in (("rs", rsa_key), ("es", ec_key)):
        paths[name] = os.path.join(d, name + ".pem")
        with open(paths[name], "wb") as f:
            f.write(k.public_key().public_bytes(
                serialization.Encoding.PEM,
                serialization.PublicFormat.SubjectPublicKeyInfo))
    paths["hs"] = os.path.join(d, "hs.key")
    with open(paths["hs"], "w") as f:
        f.write(SECRET + "\n")
    paths["rsa_key"], paths["ec_key"] = rsa_key, ec_key
    return paths


def token(keys, alg="HS256", lifetime=300, **claims):
    now = int(time.time())
    body = {"sub": "u1", "exp": now + lifetime, "iat": now}
    body.update(claims)
    for k in [k for k, v in body.items() if v is None]:
        del body[k]
    key = {"HS": SECRET, "RS": keys["rsa_key"], "ES": keys["ec_key"]}[alg[:2]]
    return jwt.encode(body, key, algorithm=alg)


def http_extra(keys, mode="required", more=""):
    return ("fraiseql_jwt %s;\n"
            "    fraiseql_jwt_key alg=HS256 file=%s;\n"
            "    fraiseql_jwt_key alg=RS256 file=%s;\n"
            "    fraiseql_jwt_key alg=ES256 file=%s;\n"
            "    add_header X-Jwt-Status $fraiseql_jwt_status always;\n"
            "    add_header X-Role $fraiseql_role always;\n"
            "    add_header X-Sub $fraiseql_jwt_claim_sub always;\n"
            "    %s" % (mode, keys["hs"], keys["rs"], keys["es"], more))


def post(n, query, tok=None, headers=None):
    h = dict(headers or {})
    if tok is not None:
        h["Authorization"] = "Bearer " + tok
    return n.post(query, headers=h)


WHO = "{ whoami { claims role ip } }"


@pytest.fixture(scope="module")
def jwt_ngx(pg, keys):
    from conftest import Nginx, SCHEMA
    n = Nginx(pg, SCHEMA, pool=2, log_level="debug",
              http_extra=http_extra(keys, more="fraiseql_jwt_max_size 2k;")
              ).start()
    yield n
    n.stop()


@pytest.mark.parametrize("alg", ["HS256", "RS256", "ES256"])
def test_a_valid_token_runs(jwt_ngx, keys, alg):
    r = post(jwt_ngx, WHO, token(keys, alg, tenant="t1"))
    assert r.status_code == 200, r.text
    assert r.headers["X-Jwt-Status"] == "ok"
    assert r.headers["X-Sub"] == "u1"
    claims = json.loads(r.json()["data"]["whoami"][0]["claims"])
    assert claims["sub"] == "u1" and claims["tenant"] == "t1"


def statements(n):
    return len(re.findall(r"fraiseql slot \d+: run", n.log()))


def refused(n, r, status="invalid_token"):
    assert r.status_code == 401, r.text
    assert r.json()["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED"
    assert "data" not in r.json()
    want = ("Bearer" if status == "missing"
            else 'Bearer error="invalid_token"')
    assert r.headers["WWW-Authenticate"] == want
    return r.headers["X-Jwt-Status"]


def test_no_token_is_401_when_required(jwt_ngx):
    before = statements(jwt_ngx)
    r = post(jwt_ngx, WHO)
    assert refused(jwt_ngx, r, "missing") == "missing"
    assert statements(jwt_ngx) == before


@pytest.mark.parametrize("make,status", [
    (lambda k: token(k, lifetime=-31 - 5), "expired"),
    (lambda k: token(k, exp=None), "bad_claims"),
    (lambda k: token(k, nbf=int(time.time()) + 300), "not_yet_valid"),
    (lambda k: token(k)[:-3] + "AAA", "bad_signature"),
    (lambda k: token(k) + ".x", "malformed"),
    (lambda k: token(k, pad="x" * 2100), "too_large"),
    (lambda k: jwt.encode({"sub": "u1", "exp": int(time.time()) + 60},
                          None, algorithm="none"), "bad_alg"),
    (lambda k: jwt.encode({"sub": "u1", "exp": int(time.time()) + 60},
                          "another-secret-of-thirty-two-bytes-or-more",
                          algorithm="HS384"), "bad_alg"),
    (lambda k: token(k, aud="someone"), "bad_audience"),
])
def test_bad_tokens_are_refused_before_any_sql(jwt_ngx, keys, make, status):
    before = statements(jwt_ngx)
    pid = worker_pid(jwt_ngx)
    tok = make(keys)
    r = post(jwt_ngx, WHO, tok)
    assert refused(jwt_ngx, r) == status
    # what a refused token says is never believed
    assert "X-Sub" not in r.headers or r.headers["X-Sub"] == ""
    assert statements(jwt_ngx) == before
    # the worker lives and serves
    assert worker_pid(jwt_ngx) == pid
    assert post(jwt_ngx, WHO, token(keys)).status_code == 200
    # never echoed, in the answer or the module's log lines (nginx's
    # own debug lines show the request's headers, as they always do)
    assert tok not in r.text
    assert not [line for line in jwt_ngx.log().split("\n")
                if "fraiseql" in line and tok in line]


def test_other_schemes_are_refused(jwt_ngx, keys):
    r = jwt_ngx.post(WHO, headers={"Authorization": "Basic dXNlcjpwYXNz"})
    assert refused(jwt_ngx, r) == "malformed"


def test_claims_reach_sql_and_go_with_the_request(make_nginx, keys):
    # one connection: the next request runs on the same PostgreSQL session
    n = make_nginx(pool=1, http_extra=http_extra(keys, "optional")).start()
    r = post(n, WHO, token(keys, tenant="t9"))
    assert json.loads(r.json()["data"]["whoami"][0]["claims"])["tenant"] \
        == "t9"
    r = post(n, WHO)
    assert r.status_code == 200
    assert r.headers["X-Jwt-Status"] == "missing"
    assert r.json()["data"]["whoami"][0]["claims"] is None


@pytest.mark.parametrize("pipeline", ["on", "off"])
def test_two_root_fields_see_the_claims(make_nginx, keys, pipeline):
    """On one connection in one pipeline, or on two connections."""
    n = make_nginx(pool=2, http_extra=http_extra(keys),
                   extra="fraiseql_pipeline %s;" % pipeline).start()
    r = post(n, "{ a: whoami { claims } b: whoami { claims } }",
             token(keys, tenant="t2"))
    d = r.json()["data"]
    for k in ("a", "b"):
        assert json.loads(d[k][0]["claims"])["tenant"] == "t2"


def test_a_policy_shows_the_tenant_its_rows(make_nginx, keys):
    n = make_nginx(http_extra=http_extra(keys, more="fraiseql_db_role claim;"
                                          )).start()
    q = "{ tenantNotes(orderBy: [{id: ASC}]) { id tenant } whoami { role } }"
    r = post(n, q, token(keys, role="app_user", tenant="t1"))
    assert r.headers["X-Role"] == "app_user"
    d = r.json()["data"]
    assert [x["id"] for x in d["tenantNotes"]] == ["1", "2"]
    assert d["whoami"][0]["role"] == "app_user"
    r = post(n, q, token(keys, role="app_user", tenant="t2"))
    assert [x["id"] for x in r.json()["data"]["tenantNotes"]] == ["3"]


def test_a_failing_claims_statement_fails_and_the_connection_serves_on(
        make_nginx, keys):
    n = make_nginx(pool=1, http_extra=http_extra(
        keys, more="fraiseql_db_role claim;")).start()
    r = post(n, WHO, token(keys, role="no_such_role"))
    body = r.json()
    assert body["data"] is None or body["data"]["whoami"] is None
    assert body["errors"]
    r = post(n, WHO, token(keys, role="app_user"))
    assert r.json()["data"]["whoami"][0]["role"] == "app_user"


def test_a_role_claim_that_is_not_a_name_is_refused(jwt_ngx, keys):
    for role in ("app user", "x'; drop table t; --", 7, ["a"], ""):
        r = post(jwt_ngx, WHO, token(keys, role=role))
        assert refused(jwt_ngx, r) == "bad_claims"


def test_settings_from_variables(make_nginx, keys):
    n = make_nginx(http_extra=http_extra(
        keys, "optional", "fraiseql_db_setting request.ip $remote_addr;"
    )).start()
    r = post(n, WHO)
    assert r.json()["data"]["whoami"][0]["ip"] == "127.0.0.1"


def test_token_from_a_variable(make_nginx, keys):
    n = make_nginx(http_extra=http_extra(
        keys, more="fraiseql_jwt_token $cookie_at;")).start()
    r = n.post(WHO, headers={"Cookie": "at=" + token(keys, tenant="t3")})
    assert r.status_code == 200
    assert json.loads(r.json()["data"]["whoami"][0]["claims"])["tenant"] \
        == "t3"
    # the header is not looked at then
    r = post(n, WHO, token(keys))
    assert refused(n, r, "missing") == "missing"


@pytest.mark.parametrize("conf,message", [
    ("fraiseql_jwt required;", '"fraiseql_jwt" needs a key'),
    ("fraiseql_jwt_key alg=HS256 file=%(short)s;", "32"),
    ("fraiseql_jwt_key alg=RS256 file=%(es)s;", "RS256"),
    ("fraiseql_jwt_key alg=HS256 file=%(rs)s;", "PEM"),
    ("fraiseql_jwt_key alg=PS256 file=%(rs)s;", "alg="),
    ("fraiseql_jwt_key alg=HS256 file=/nonexistent;", "/nonexistent"),
    ("fraiseql_jwt_role_claim role;", "JSON pointer"),
    ("fraiseql_db_setting ip $remote_addr;", "custom setting"),
    ("fraiseql_jwt_cache 0;", "number of tokens"),
    ("fraiseql_jwt_cache 10 ttl=x;", "invalid ttl"),
])
def test_bad_configurations_fail_nginx_t(pg, keys, conf, message):
    from conftest import Nginx, SCHEMA
    short = os.path.join(keys["dir"], "short.key")
    with open(short, "w") as f:
        f.write("too-short")
    n = Nginx(pg, SCHEMA, http_extra=conf % dict(keys, short=short))
    r = n.cmd("-t")
    assert r.returncode != 0
    assert message in r.stderr, r.stderr


def hits(n):
    return n.log().count("fraiseql jwt: verified before (cache)")


def test_a_token_verified_once_is_recalled(make_nginx, keys):
    n = make_nginx(log_level="debug", http_extra=http_extra(
        keys, more="fraiseql_jwt_cache 2;")).start()
    a, b, c = (token(keys, "RS256", tenant=t) for t in ("ta", "tb", "tc"))
    # two places: c pushes out b (a was used after b), then b pushes out c
    for t, want in ((a, 0), (a, 1), (b, 1), (a, 2), (c, 2), (a, 3), (b, 3),
                    (a, 4), (c, 4)):
        r = post(n, WHO, t)
        assert r.status_code == 200
        assert r.headers["X-Jwt-Status"] == "ok"
        assert hits(n) == want
    # a recalled token's claims reach SQL as a verified one's
    r = post(n, WHO, a)
    assert json.loads(r.json()["data"]["whoami"][0]["claims"])["tenant"] \
        == "ta"


def test_a_recalled_token_still_expires(make_nginx, keys):
    n = make_nginx(log_level="debug", http_extra=http_extra(
        keys, more="fraiseql_jwt_leeway 0;")).start()
    t = token(keys, lifetime=2)
    assert post(n, WHO, t).status_code == 200
    time.sleep(3)
    assert refused(n, post(n, WHO, t)) == "expired"


def test_no_cache(make_nginx, keys):
    n = make_nginx(log_level="debug", http_extra=http_extra(
        keys, more="fraiseql_jwt_cache off;")).start()
    t = token(keys)
    for _ in range(3):
        assert post(n, WHO, t).status_code == 200
    assert hits(n) == 0


def test_from_claim_binds_arguments_from_the_token(make_nginx, keys):
    n = make_nginx(http_extra=http_extra(keys, "optional")).start()
    q = "{ claimEcho(n: 2) { who n } }"
    for sub in ("u1", "u2", "x'); DROP TABLE tb_note; --", "日本"):
        # the same document: the cached plan binds each request's claim
        r = post(n, q, token(keys, sub=sub))
        assert r.json() == {"data": {"claimEcho": [{"who": sub, "n": 2}]}}
    r = post(n, "mutation { stamp(input: {n: 7}) { who n } }",
             token(keys, sub="writer"))
    assert r.json() == {"data": {"stamp": {"who": "writer", "n": 7}}}


def test_from_claim_arguments_are_not_the_clients(make_nginx, keys):
    n = make_nginx(http_extra=http_extra(keys, "optional")).start()
    r = post(n, '{ claimEcho(who: "admin") { who } }', token(keys))
    err = r.json()["errors"][0]
    assert err["extensions"]["code"] == "GRAPHQL_VALIDATION_FAILED"
    assert 'Unknown argument "who"' in err["message"]
    args = n.data('{ __type(name: "Query") { fields { name args { name }'
                  ' } } }', headers={"Authorization": "Bearer " +
                                     token(keys)})["__type"]["fields"]
    assert [a["name"] for f in args if f["name"] == "claimEcho"
            for a in f["args"]] == ["n"]


def test_from_claim_without_the_claim_is_401(make_nginx, keys):
    n = make_nginx(http_extra=http_extra(keys, "optional")).start()
    for tok in (None, token(keys, sub=None)):
        r = post(n, "{ claimEcho { who } }", tok)
        assert r.status_code == 401, r.text
        assert r.headers["WWW-Authenticate"] == "Bearer"
        err = r.json()["errors"][0]
        assert err["extensions"]["code"] == "UNAUTHENTICATED"
        assert "/sub" in err["message"]


@pytest.mark.parametrize("new,message", [
    ('claimEcho(n: Int, who: String @fromClaim(pointer: "sub")): [Echo!]!',
     '@fromClaim on "who": pointer must be a JSON pointer (RFC 6901)'),
    ('claimEcho(n: Int, who: String @fromClaim): [Echo!]!',
     'Directive "@fromClaim" argument "pointer" of type "String!" is '
     'required'),
])
def test_bad_from_claims_fail_nginx_t(pg, new, message):
    from conftest import Nginx, schema_with
    old = 'claimEcho(n: Int, who: String @fromClaim(pointer: "/sub")): [Echo!]!'
    path = schema_with(old, new)
    try:
        r = Nginx(pg, path).cmd("-t")
        assert r.returncode != 0
        assert message in r.stderr, r.stderr
    finally:
        os.unlink(path)


def test_from_claim_needs_a_function(pg):
    from conftest import Nginx, schema_with
    path = schema_with("  whoami: [Whoami!]!\n",
                       '  whoami(who: String @fromClaim(pointer: "/sub")):'
                       ' [Whoami!]!\n')
    try:
        r = Nginx(pg, path).cmd("-t")
        assert r.returncode != 0
        assert ('@fromClaim on "who" of "whoami": only arguments of fields'
                ' with @function are bound from claims') in r.stderr, r.stderr
    finally:
        os.unlink(path)


def test_claims_after_a_query_without_them_on_one_connection(make_nginx,
                                                              keys):
    """A connection whose last query read rows one by one outside a
    pipeline, then a statement led by the claims: the leading statement's
    row is not one of the answer's (libpq keeps single-row mode across)."""
    n = make_nginx(pool=1, http_extra=http_extra(keys, "optional")).start()
    for i in range(3):
        assert post(n, WHO).json()["data"]["whoami"][0]["claims"] is None
        r = post(n, WHO, token(keys, tenant="t%d" % i)).json()
        assert len(r["data"]["whoami"]) == 1, r
        assert json.loads(r["data"]["whoami"][0]["claims"])["tenant"] \
            == "t%d" % i


def test_the_client_picks_one_of_its_roles(make_nginx, keys):
    n = make_nginx(log_level="debug", http_extra=http_extra(
        keys, more="fraiseql_db_role claim; fraiseql_jwt_roles_claim "
                   "/allowed; fraiseql_jwt_role_header X-Pick-Role;")).start()
    t = token(keys, role="postgres", allowed=["app_user", "reader"])
    # without the header: the role claim
    r = post(n, WHO, t)
    assert r.headers["X-Role"] == "postgres"
    assert r.json()["data"]["whoami"][0]["role"] == "postgres"
    # one of the allowed roles
    r = post(n, WHO, t, {"X-Pick-Role": "app_user"})
    assert r.headers["X-Role"] == "app_user"
    assert r.json()["data"]["whoami"][0]["role"] == "app_user"
    # its own default role is always its to take
    assert post(n, WHO, t, {"X-Pick-Role": "postgres"}).status_code == 200
    before = statements_any(n)
    for bad in ("admin", "App_User", "app_user; drop", "reader2"):
        r = post(n, WHO, t, {"X-Pick-Role": bad})
        assert r.status_code == 403, (bad, r.text)
        err = r.json()["errors"][0]
        assert err["extensions"]["code"] == "FORBIDDEN"
        assert "X-Pick-Role" in err["message"]
    # a token without the list may take no other role
    r = post(n, WHO, token(keys, role="postgres"),
             {"X-Pick-Role": "app_user"})
    assert r.status_code == 403
    assert statements_any(n) == before


def statements_any(n):
    return n.log().count("fraiseql slot")


def test_bad_roles_claim_fails_nginx_t(pg, keys):
    from conftest import Nginx, SCHEMA
    r = Nginx(pg, SCHEMA, http_extra=http_extra(
        keys, more="fraiseql_jwt_roles_claim allowed;")).cmd("-t")
    assert r.returncode != 0
    assert "JSON pointer" in r.stderr


def test_key_rotation_by_reload_under_load(make_nginx, keys):
    """A new key comes with a reload while requests run: none fails;
    once the old key is gone, its tokens are refused, cached or not."""
    import threading
    from conftest import ASAN
    d = keys["dir"]
    old_key, new_key = (os.path.join(d, n) for n in ("old.key", "new.key"))
    old_secret = "the-old-secret-of-more-than-thirty-two-bytes"
    new_secret = "the-new-secret-of-more-than-thirty-two-bytes"
    for path, secret in ((old_key, old_secret), (new_key, new_secret)):
        with open(path, "w") as f:
            f.write(secret)

    def conf(*kids):
        return "".join("fraiseql_jwt_key alg=HS256 file=%s kid=%s;\n    "
                       % (path, kid) for kid, path in
                       (("old", old_key), ("new", new_key)) if kid in kids)

    def tok(kid, secret):
        return jwt.encode({"sub": "u1", "exp": int(time.time()) + 300},
                          secret, algorithm="HS256", headers={"kid": kid})

    n = make_nginx(workers=2, http_extra="fraiseql_jwt required;\n    "
                   "add_header X-Jwt-Status $fraiseql_jwt_status always;\n    "
                   + conf("old")).start()
    old_tok, new_tok = tok("old", old_secret), tok("new", new_secret)
    using = [old_tok]
    bad, served = [], []
    stop = threading.Event()

    def load():
        import requests
        # a connection per request: a keep-alive one an old worker closes
        # as it quits is a race of HTTP's, whatever the server does
        while not stop.is_set():
            t = using[0]
            try:
                r = requests.post(n.url, json={"query": WHO}, timeout=30,
                                  headers={"Authorization": "Bearer " + t,
                                           "Connection": "close"})
            except requests.RequestException as e:
                bad.append(("exception", repr(e)))
                continue
            if r.status_code != 200:
                bad.append((r.status_code, r.text[:200]))
            served.append(1)

    def reload_with(*kids):
        with open(n.conf_path) as f:
            text = f.read()
        text = re.sub(r"(fraiseql_jwt_key [^;]*;\s*)+", conf(*kids), text)
        with open(n.conf_path, "w") as f:
            f.write(text)
        r = n.cmd("-s", "reload")
        # under AddressSanitizer the signalling nginx exits 1 on nginx's
        # own leaks (its log has them, stderr nothing)
        assert r.returncode == 0 or (ASAN and not r.stderr), r.stderr
        time.sleep(1.5)

    threads = [threading.Thread(target=load) for _ in range(4)]
    for t in threads:
        t.start()
    try:
        time.sleep(0.5)
        reload_with("old", "new")       # both keys for a while
        using[0] = new_tok              # clients move to the new key
        time.sleep(0.5)
        reload_with("new")              # the old key goes
        time.sleep(0.5)
    finally:
        stop.set()
        for t in threads:
            t.join()
    assert bad == []
    assert len(served) > 50
    # the old key's token: refused by the new workers, cache or not
    for _ in range(4):
        assert refused(n, post(n, WHO, old_tok)) == "unknown_kid"
