"""Every bad token of SECURITY.md section 10 "Tokens", sent to nginx
(issue 15): the token list of the core's unit tests (t/unit/jwt_tokens.py,
made by python3-jwt and python3-cryptography, never by the module), dated
now rather than at the unit tests' fixed time.  Each case checks the
status, the GraphQL code, $fraiseql_jwt_status, that no statement was
sent, and that the worker lives.  Then what only HTTP has: malformed
Authorization headers, tokens larger than nginx's header buffers or the
module's maximum, a token source that would read the body."""

import os
import re
import socket
import sys
import time

import pytest
import requests

from test_hostile import worker_pid

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "unit"))
import jwt_tokens  # noqa: E402

KEYS = os.path.join(HERE, "unit", "keys")
WHO = "{ whoami { claims } }"


def key(alg, name, kid=None):
    return "fraiseql_jwt_key alg=%s file=%s%s;" % (
        alg, os.path.join(KEYS, name), " kid=" + kid if kid else "")


# the unit tests' all_keys(): one key per algorithm, HS256 and RS256 with
# a kid
ALL_KEYS = "\n    ".join([
    key("HS256", "hs256.key", "hs-1"), key("HS384", "hs384.key"),
    key("HS512", "hs512.key"), key("RS256", "rsa2048.pub.pem", "rsa-1"),
    key("RS384", "rsa2048.pub.pem"), key("RS512", "rsa2048.pub.pem"),
    key("ES256", "ec256.pub.pem"), key("ES384", "ec384.pub.pem"),
    key("ES512", "ec521.pub.pem")])

# locations with other keys or checks, as the unit tests' other fixtures
LOCATIONS = {
    "/aud": [key("HS256", "hs256.key"),
             "fraiseql_jwt_issuer %s;" % jwt_tokens.ISSUER,
             "fraiseql_jwt_audience api;"],
    "/any": [key("HS256", "hs256.key"), "fraiseql_jwt_audience any;"],
    "/rs": [key("RS256", "rsa2048.pub.pem", "rsa-1")],
    "/hs": [key("HS256", "hs256.key")],
    "/two": [key("RS256", "rsa2048b.pub.pem", "rsa-2"),
             key("RS256", "rsa2048.pub.pem", "rsa-1")],
    "/cookie": ["fraiseql_jwt_token $cookie_at;"],
    "/body": ["fraiseql_jwt_token $request_body;",
              "client_max_body_size 16m;"],
    "/optional": ["fraiseql_jwt optional;"],
    "/optional-anon": ["fraiseql_jwt optional;",
                       "fraiseql_anon_role app_user;",
                       "fraiseql_db_role claim;"],
}


def expectations():
    """(token, location, $fraiseql_jwt_status) for every case."""
    e = []

    def at(path, status, *names):
        e.extend((n, path, status) for n in names)

    # 1: each algorithm
    at("/graphql", "ok", "HS256", "HS384", "HS512", "RS256", "RS384",
       "RS512", "ES256", "ES384", "ES512", "RS256_KID", "HS256_KID",
       "AT_JWT", "APP_AT_JWT", "NO_TYP", "CLAIMS", "JKU_X5U_JWK",
       "SIZE_8192")
    # 3: exp
    at("/graphql", "ok", "EXP_PAST_BY_LEEWAY_MINUS_1", "EXP_REAL",
       "EXP_REAL_JUST_VALID")
    at("/graphql", "expired", "EXP_PAST_BY_LEEWAY_PLUS_1",
       "EXP_REAL_EXPIRED")
    at("/graphql", "bad_claims", "EXP_MISSING", "EXP_STRING", "EXP_HUGE",
       "EXP_MILLISECONDS", "EXP_NEGATIVE", "EXP_BOOL")
    # 4: nbf, iat
    at("/graphql", "ok", "NBF_FUTURE_BY_LEEWAY_MINUS_1",
       "NBF_REAL_JUST_VALID")
    at("/graphql", "not_yet_valid", "NBF_FUTURE_BY_LEEWAY_PLUS_1",
       "NBF_REAL_FUTURE")
    at("/graphql", "bad_claims", "NBF_STRING", "IAT_STRING")
    at("/graphql", "bad_iat", "IAT_FUTURE")
    # 5: iss, aud (PostgREST#2093: configured, so required; #4134: a
    # token for an audience where none is configured)
    at("/aud", "ok", "ISS_AUD", "AUD_ARRAY")
    at("/aud", "bad_issuer", "ISS_WRONG", "ISS_MISSING", "ISS_NOT_STRING")
    at("/aud", "bad_audience", "AUD_WRONG", "AUD_ARRAY_WITHOUT",
       "AUD_ARRAY_NOT_STRINGS", "AUD_MISSING")
    at("/graphql", "bad_audience", "AUD_ONLY")
    at("/any", "ok", "AUD_ONLY")
    # 6: alg
    at("/graphql", "bad_alg", "NONE", "NONE_SIGNED", "NONE_CAPITAL",
       "HS256_LOWER", "ALG_MISSING", "ALG_NOT_STRING")
    # 7: HS/RS confusion
    at("/rs", "ok", "RS256")
    at("/rs", "bad_alg", "HS256_WITH_RSA_PEM", "HS256_WITH_RSA_JWK",
       "HS256_WITH_RSA_PEM_KID")
    at("/hs", "bad_alg", "RS256", "ES256")
    at("/hs", "unknown_kid", "RS256_KID")
    # 8: signatures
    at("/graphql", "bad_signature", "ES256_DER", "ES256_TRUNCATED",
       "ES256_FLIPPED", "ES256_ZERO", "ES256_BY_P384_KEY", "RS256_TRUNCATED",
       "RS256_OTHER_SIGNATURE", "RS256_OTHER_KEY", "RS256_EMPTY_SIGNATURE",
       "HS256_OTHER_SIGNATURE", "HS256_WRONG_SECRET",
       "HS256_SHORT_SIGNATURE")
    # 9: kid
    at("/graphql", "unknown_kid", "KID_UNKNOWN")
    at("/graphql", "bad_header", "KID_NOT_STRING")
    at("/graphql", "bad_alg", "HS256_KID_OF_RSA_KEY")
    at("/two", "ok", "RS256_KID")
    at("/two", "ambiguous_key", "RS256")
    # 10: header tricks
    at("/graphql", "bad_header", "CRIT", "CRIT_EXP", "TYP_FOO",
       "TYP_NOT_STRING", "ALG_TWICE", "ALG_TWICE_NONE", "HEADER_ARRAY",
       "HEADER_STRING", "HEADER_NOT_JSON", "B64_FALSE")
    # 11: payload tricks
    at("/graphql", "bad_claims", "ROLE_TWICE", "NESTED_TWICE",
       "PAYLOAD_ARRAY", "PAYLOAD_NOT_JSON", "PAYLOAD_BAD_UTF8")
    # 14: what neither libjwt 1.10 nor this module verifies
    at("/graphql", "unsupported_alg", "PS256", "EDDSA")
    return e


CASES = expectations()


@pytest.fixture(scope="module")
def tok_ngx(pg):
    from conftest import Nginx, SCHEMA
    server = "\n        ".join(
        "location %s { fraiseql; %s }" % (path, " ".join(directives))
        for path, directives in LOCATIONS.items())
    n = Nginx(pg, SCHEMA, pool=2, log_level="debug", extra=server,
              http_extra=(
                  "fraiseql_jwt required;\n    " + ALL_KEYS + "\n"
                  "    add_header X-Jwt-Status $fraiseql_jwt_status always;\n"
                  "    add_header X-Role $fraiseql_role always;\n"
                  # a token of 8 kB fits in a header line
                  "    large_client_header_buffers 4 16k;\n")).start()
    yield n
    n.stop()
    assert not n.problems(), "\n".join(n.problems())


_dated = {}


def tokens_at(now):
    if now not in _dated:
        _dated.clear()
        _dated[now] = jwt_tokens.tokens(now)
    return _dated[now]


def statements(n):
    return len(re.findall(r"fraiseql slot \d+: run", n.log()))


def send(n, path, token=None, headers=None, query=WHO, **kw):
    h = dict(headers or {})
    if token is not None:
        h["Authorization"] = "Bearer " + token
    return requests.post("http://127.0.0.1:%d%s" % (n.port, path),
                         json={"query": query}, headers=h, timeout=30, **kw)


def check(n, r, want):
    """The answer for a token whose $fraiseql_jwt_status is want."""
    assert r.headers.get("X-Jwt-Status") == want, (r.status_code, r.text)
    if want == "ok":
        assert r.status_code == 200, r.text
        assert "errors" not in r.json(), r.text
        return
    assert r.status_code == 401, r.text
    body = r.json()
    assert "data" not in body
    assert body["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED"
    assert r.headers["WWW-Authenticate"] == (
        "Bearer" if want == "missing" else 'Bearer error="invalid_token"')


def test_every_case_of_the_core_is_sent():
    names = {name for name, _, _ in CASES}
    assert names == set(jwt_tokens.tokens()), \
        set(jwt_tokens.tokens()) ^ names


@pytest.mark.parametrize("name,path,want", CASES,
                         ids=["%s@%s" % (c[0], c[1]) for c in CASES])
def test_token(tok_ngx, name, path, want):
    n = tok_ngx
    pid = worker_pid(n)
    before = statements(n)
    # the boundary cases are a second wide: sent again when a second
    # turned between making the token and its answer
    for _ in range(3):
        now = int(time.time())
        token = tokens_at(now)[name]
        r = send(n, path, token)
        if int(time.time()) == now:
            break
    check(n, r, want)
    assert (statements(n) > before) == (want == "ok")
    assert worker_pid(n) == pid
    if want != "ok":
        # why, at info, never the token
        assert "fraiseql: token refused (%s)" % want in n.log()
        assert not [line for line in n.log().split("\n")
                    if "fraiseql" in line and token in line]
    if want == "unsupported_alg":
        assert "is not supported (PS*, EdDSA)" in n.log()


def hs():
    return tokens_at(int(time.time()))["HS256"]


def malformed():
    """Section 10.12: what a token is not, made from a good one."""
    t = hs()
    h, p, s = t.split(".")
    std = jwt_tokens.raw('{"alg":"HS256","x":"~~~~~~"}',
                         jwt_tokens.std_payload(y="~~~~~~"))
    assert "-" in std or "_" in std
    return {
        "two_segments": h + "." + p,
        "four_segments": t + "." + s,
        "padding": h + "." + p + "==." + s,
        "standard_base64": std.replace("-", "+").replace("_", "/"),
        "space_inside": h + "." + p[:10] + " " + p[10:] + "." + s,
        "tab_inside": h + "." + p[:10] + "\t" + p[10:] + "." + s,
        "empty_segments": "..",
        "empty_payload": h + ".." + s,
        "empty_header": "." + p + "." + s,
        "bearer_twice": "Bearer " + t,
        "one_dot": ".",
    }


@pytest.mark.parametrize("case", sorted(malformed()))
def test_malformed_tokens(tok_ngx, case):
    n = tok_ngx
    before = statements(n)
    r = send(n, "/graphql", malformed()[case])
    check(n, r, "malformed")
    assert statements(n) == before


def test_non_ascii_in_a_token(tok_ngx):
    t = hs()
    h, p, s = t.split(".")
    n = tok_ngx
    r = send(n, "/graphql",
             headers={"Authorization":
                      ("Bearer " + h + "." + p + "\u00e9." + s)
                      .encode("utf-8")})
    check(n, r, "malformed")


def raw_request(n, head):
    """A request as bytes, for what HTTP libraries will not send."""
    body = b'{"query":"{ whoami { claims } }"}'
    with socket.create_connection(("127.0.0.1", n.port), 5) as s:
        s.sendall(b"POST /graphql HTTP/1.1\r\nHost: x\r\n"
                  b"Content-Type: application/json\r\n"
                  b"Connection: close\r\n"
                  + head + b"Content-Length: %d\r\n\r\n" % len(body) + body)
        out = b""
        while True:
            chunk = s.recv(65536)
            if not chunk:
                return out
            out += chunk


def test_two_authorization_headers(tok_ngx):
    n = tok_ngx
    pid = worker_pid(n)
    t = hs().encode()
    out = raw_request(n, b"Authorization: Bearer " + t + b"\r\n"
                      b"Authorization: Bearer " + t + b"\r\n")
    # nginx itself refuses the second one
    assert out.startswith(b"HTTP/1.1 400"), out[:200]
    assert worker_pid(n) == pid


def test_other_schemes(tok_ngx):
    n = tok_ngx
    for value in ("Basic dXNlcjpwYXNz", "Bearer", "bearer", "Token abc"):
        r = send(n, "/graphql", headers={"Authorization": value})
        check(n, r, "malformed")


def test_a_token_one_byte_over_the_maximum(tok_ngx):
    # 13: 8 kB + 1 from a cookie: refused before it is decoded
    n = tok_ngx
    t = tokens_at(int(time.time()))["SIZE_8192"]
    assert len(t) == 8192
    r = send(n, "/cookie", headers={"Cookie": "at=" + t})
    check(n, r, "ok")
    r = send(n, "/cookie", headers={"Cookie": "at=" + t + "x"})
    check(n, r, "too_large")
    r = send(n, "/graphql", t + "x")
    check(n, r, "too_large")


def test_a_header_larger_than_nginx_buffers(tok_ngx):
    # 13: nginx answers it before any module (400, "Request Header Or
    # Cookie Too Large"); the worker lives
    n = tok_ngx
    pid = worker_pid(n)
    r = send(n, "/graphql", "x" * 20000)
    assert r.status_code == 400
    assert "Too Large" in r.text
    assert worker_pid(n) == pid
    check(n, send(n, "/graphql", hs()), "ok")


def test_a_token_source_that_would_read_the_body(tok_ngx):
    # 13: tokens are read before the body is: $request_body is empty, a
    # 9 MB body is discarded, not read into memory
    n = tok_ngx
    pid = worker_pid(n)
    big = '{"query":"{ whoami { claims } }","x":"' + "a" * (9 << 20) + '"}'
    r = requests.post("http://127.0.0.1:%d/body" % n.port, data=big,
                      headers={"Content-Type": "application/json"},
                      timeout=60)
    check(n, r, "missing")
    assert worker_pid(n) == pid
    check(n, send(n, "/graphql", hs()), "ok")


def test_the_same_token_twice_is_recalled(tok_ngx):
    # 1: the second is a verified-token cache hit
    n = tok_ngx
    now = int(time.time())
    t = jwt_tokens.token("RS256", payload={
        "sub": "recalled-%d" % time.time_ns(), "iat": now, "exp": now + 60})
    hits = n.log().count("fraiseql jwt: verified before (cache)")
    check(n, send(n, "/graphql", t), "ok")
    check(n, send(n, "/graphql", t), "ok")
    assert n.log().count("fraiseql jwt: verified before (cache)") \
        == hits + 1


def test_no_token_where_one_is_optional(tok_ngx):
    # 2: required: 401; optional: runs as the anonymous role when there
    # is one, else as the connection's user, with no claims
    n = tok_ngx
    q = "{ whoami { claims role } }"
    check(n, send(n, "/graphql", query=q), "missing")
    r = send(n, "/optional-anon", query=q)
    assert r.status_code == 200, r.text
    assert r.headers["X-Jwt-Status"] == "missing"
    assert r.headers["X-Role"] == "app_user"
    assert r.json()["data"]["whoami"] == [{"claims": None,
                                           "role": "app_user"}]
    r = send(n, "/optional", query=q)
    assert r.status_code == 200, r.text
    assert r.headers.get("X-Role", "") == ""
    assert r.json()["data"]["whoami"] == [{"claims": None,
                                           "role": "postgres"}]
    # a bad token is still refused where tokens are optional
    bad = tokens_at(int(time.time()))["HS256_WRONG_SECRET"]
    check(n, send(n, "/optional-anon", bad), "bad_signature")


def test_every_bad_token_again_and_again(tok_ngx):
    """Every refused token of the list, ten times: the worker the same
    process, its memory within bounds (refusals are never cached), a good
    token served after."""
    from test_hostile import assert_rss_growth, rss_kb
    n = tok_ngx
    pid = worker_pid(n)
    base = rss_kb(pid)
    toks = tokens_at(int(time.time()))
    # (not the not-yet-valid ones: a second later, they are valid)
    bad = [(name, path) for name, path, want in CASES
           if want not in ("ok", "not_yet_valid")]
    s = requests.Session()
    for _ in range(10):
        for name, path in bad:
            r = s.post("http://127.0.0.1:%d%s" % (n.port, path),
                       json={"query": WHO}, timeout=30,
                       headers={"Authorization": "Bearer " + toks[name]})
            assert r.status_code == 401, (name, r.text)
    assert worker_pid(n) == pid
    assert_rss_growth(pid, base, 16, "%d refused tokens" % (10 * len(bad)))
    check(n, send(n, "/graphql", hs()), "ok")
