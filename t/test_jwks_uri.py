"""Keys fetched from the identity provider (fraiseql_jwt_jwks_uri, issue
15): through an in-memory subrequest to a location that proxies it, here
a second server of the same nginx standing for Auth0 or Keycloak, whose
access log counts the fetches.  The first request with a token fetches
and waits; a key the provider adds is fetched when a token names it, at
most once per cooldown whatever the clients send; the set is fetched
again on schedule without anyone waiting; a failed fetch keeps the last
good set; before any set came, tokens get 503, not 401.

Keys are made by python3-cryptography, their JWKs and the tokens by
python3-jwt: nothing comes from the module's own code."""

import concurrent.futures
import os
import tempfile
import time
import uuid

import pytest
import requests

from conftest import free_port
from test_hostile import assert_rss_growth, rss_kb, worker_pid
from test_jwks import jwk, jwks_text, kk, status, token, write  # noqa: F401
from test_jwt import WHO, post, refused


class Idp:
    """The identity provider's JWKS: a file served by a second server,
    which logs each fetch with the headers it came with."""

    def __init__(self):
        self.dir = tempfile.mkdtemp(prefix="fraiseql-idp-")
        self.port = free_port()
        self.path = os.path.join(self.dir, "jwks.json")
        self.log = os.path.join(self.dir, "access.log")
        self.more = ""

    def http_extra(self):
        return (
            "log_format idp '$request_uri auth=$http_authorization "
            "cookie=$http_cookie';\n"
            "    server {\n"
            "        listen 127.0.0.1:%d;\n"
            "        access_log %s idp;\n"
            "        root %s;\n"
            "        location = /.well-known/jwks.json {\n"
            "            try_files /jwks.json =404;\n"
            "            %s\n"
            "        }\n"
            "    }\n" % (self.port, self.log, self.dir, self.more))

    def fetches(self):
        try:
            with open(self.log) as f:
                return f.read().splitlines()
        except OSError:
            return []

    def put(self, *keys):
        write(self.path, jwks_text(*keys))

    def down(self):
        os.unlink(self.path)


def conf(idp, params="", mode="required", buffer="64k"):
    http = idp.http_extra() + (
        "    fraiseql_jwt %s;\n"
        "    fraiseql_jwt_jwks_uri /_jwks %s;\n"
        "    add_header X-Jwt-Status $fraiseql_jwt_status always;\n"
        % (mode, params))
    server = (
        "location = /_jwks {\n"
        "            internal;\n"
        "            proxy_pass http://127.0.0.1:%d/.well-known/jwks.json;\n"
        "            subrequest_output_buffer_size %s;\n"
        "        }" % (idp.port, buffer))
    return dict(http_extra=http, extra=server)


@pytest.fixture
def idp():
    return Idp()


def test_the_first_token_fetches_the_set_and_waits(make_nginx, kk, idp):
    idp.put(jwk(kk["a"], "a", alg="RS256"), jwk(kk["b"], "b"))
    n = make_nginx(**conf(idp)).start()
    # no token, no fetch
    assert refused(n, post(n, WHO), "missing") == "missing"
    assert idp.fetches() == []
    r = post(n, WHO, token(kk["a"], "a"), headers={"Cookie": "sid=secret"})
    assert r.status_code == 200, r.text
    assert status(n, token(kk["b"], "b")) == "ok"
    # one fetch, which carried none of the client's headers
    assert idp.fetches() == [
        "/.well-known/jwks.json auth=- cookie=-"], idp.fetches()
    assert not n.errors()


def test_concurrent_first_requests_share_one_fetch(make_nginx, kk):
    # a provider that answers at once, and a slow one: the set (about
    # 1.5 kB at 1 kB/s) takes about a second, all the requests wait for it
    for more in ("", "limit_rate 1k;"):
        idp = Idp()
        idp.put(jwk(kk["a"], "a", alg="RS256"), jwk(kk["b"], "b"),
                jwk(kk["c"], "c"))
        idp.more = more
        n = make_nginx(**conf(idp)).start()
        tok = token(kk["a"], "a")
        with concurrent.futures.ThreadPoolExecutor(16) as ex:
            got = list(ex.map(lambda _: status(n, tok), range(32)))
        assert got == ["ok"] * 32
        assert len(idp.fetches()) == 1, idp.fetches()


def test_a_new_kid_is_fetched(make_nginx, kk, idp):
    idp.put(jwk(kk["a"], "a", alg="RS256"))
    n = make_nginx(**conf(idp, "cooldown=1s")).start()
    assert status(n, token(kk["a"], "a")) == "ok"
    # the provider adds a key: the first token that names it fetches it
    idp.put(jwk(kk["a"], "a", alg="RS256"), jwk(kk["c"], "c", alg="RS256"))
    time.sleep(1.1)
    assert status(n, token(kk["c"], "c")) == "ok"
    assert len(idp.fetches()) == 2
    # the old key stays verified, from the cache and not
    assert status(n, token(kk["a"], "a", sub="u9")) == "ok"
    assert len(idp.fetches()) == 2
    assert "fraiseql: \"/_jwks\" changed: 2 keys, was 1" in n.log()


def test_a_flood_of_unknown_kids_fetches_once_per_cooldown(make_nginx, kk,
                                                           idp):
    idp.put(jwk(kk["a"], "a", alg="RS256"))
    n = make_nginx(**conf(idp, "cooldown=3s")).start()
    pid = worker_pid(n)
    base = rss_kb(pid)
    assert status(n, token(kk["a"], "a")) == "ok"
    time.sleep(3.1)
    toks = [token(kk["a"], uuid.uuid4().hex) for _ in range(200)]
    with concurrent.futures.ThreadPoolExecutor(16) as ex:
        got = list(ex.map(lambda t: status(n, t), toks))
    assert got == ["unknown_kid"] * 200
    # the first refetched (the cooldown had passed), none of the others
    assert len(idp.fetches()) == 2, idp.fetches()
    time.sleep(3.1)
    assert status(n, token(kk["a"], "new")) == "unknown_kid"
    assert status(n, token(kk["a"], "newer")) == "unknown_kid"
    assert len(idp.fetches()) == 3
    # good tokens were served all along
    assert status(n, token(kk["a"], "a")) == "ok"
    assert worker_pid(n) == pid
    assert_rss_growth(pid, base, 16, "200 tokens of unknown kids")
    assert not n.errors()


def test_the_set_is_fetched_again_on_schedule(make_nginx, kk, idp):
    idp.put(jwk(kk["a"], "a", alg="RS256"))
    n = make_nginx(**conf(idp, "refresh=1s cooldown=1s")).start()
    assert status(n, token(kk["a"], "a")) == "ok"
    # the provider retires a: once the set is old, a request fetches it
    # again in the background and is answered with what there was
    idp.put(jwk(kk["c"], "c", alg="RS256"))
    time.sleep(1.1)
    assert status(n, token(kk["a"], "a", sub="u2")) == "ok"
    deadline = time.time() + 3
    while len(idp.fetches()) < 2 and time.time() < deadline:
        time.sleep(0.05)
    assert len(idp.fetches()) == 2
    time.sleep(0.2)
    # retired: and the verified-token cache forgot it
    assert status(n, token(kk["a"], "a", sub="u3")) == "unknown_kid"
    assert status(n, token(kk["c"], "c")) == "ok"
    # an unchanged set is fetched on schedule and changes nothing
    time.sleep(1.1)
    status(n, token(kk["c"], "c"))
    time.sleep(0.3)
    assert len(idp.fetches()) >= 3
    assert n.log().count("\"/_jwks\" changed") == 2


def test_a_failed_fetch_keeps_the_last_good_set(make_nginx, kk, idp):
    idp.put(jwk(kk["a"], "a", alg="RS256"))
    n = make_nginx(**conf(idp, "refresh=1s cooldown=1s")).start()
    assert status(n, token(kk["a"], "a")) == "ok"
    idp.down()
    time.sleep(1.1)
    assert status(n, token(kk["a"], "a", sub="u2")) == "ok"
    time.sleep(0.3)
    assert status(n, token(kk["a"], "a", sub="u3")) == "ok"
    assert "key set \"/_jwks\" not fetched: its status is not 200; the " \
        "last good key set stays" in n.log()
    # a set the module refuses (a private key in it) keeps it too
    write(idp.path, jwks_text(dict(jwk(kk["a"], "a"), d="AAAA")))
    time.sleep(1.1)
    status(n, token(kk["a"], "a", sub="u4"))
    time.sleep(0.3)
    assert status(n, token(kk["a"], "a", sub="u5")) == "ok"
    assert "key set \"/_jwks\" refused" in n.log()


def test_no_set_yet_is_503_not_401(make_nginx, kk, idp):
    n = make_nginx(**conf(idp, "cooldown=2s")).start()
    r = post(n, WHO, token(kk["a"], "a"))
    assert r.status_code == 503, r.text
    assert r.json()["errors"][0]["extensions"]["code"] == \
        "AUTHENTICATION_UNAVAILABLE"
    assert 1 <= int(r.headers["Retry-After"]) <= 2
    assert "WWW-Authenticate" not in r.headers
    # within the cooldown: no new fetch
    assert post(n, WHO, token(kk["a"], "a")).status_code == 503
    assert len(idp.fetches()) == 1
    idp.put(jwk(kk["a"], "a", alg="RS256"))
    time.sleep(2.1)
    assert status(n, token(kk["a"], "a")) == "ok"
    assert len(idp.fetches()) == 2
    assert "key set \"/_jwks\" not fetched: its status is not 200; " \
        "no keys yet" in n.log()


def test_a_set_larger_than_the_buffer_is_not_fetched(make_nginx, kk, idp):
    keys = [jwk(kk["a"], "k%d" % i, alg="RS256") for i in range(10)]
    idp.put(*keys)
    n = make_nginx(**conf(idp, buffer="4k")).start()
    pid = worker_pid(n)
    # nginx ends the request that carried a subrequest which failed (as
    # for any subrequest); the others are told to come back
    try:
        r = post(n, WHO, token(kk["a"], "k1"))
        assert r.status_code == 503, r.text
    except requests.exceptions.ConnectionError:
        pass
    r = post(n, WHO, token(kk["a"], "k1"))
    assert r.status_code == 503, r.text
    assert "too big subrequest response" in n.log()
    assert "not fetched: its body was cut" in n.log()
    assert worker_pid(n) == pid


def test_a_provider_that_cannot_be_reached(make_nginx, kk, idp):
    idp.port = free_port()   # nothing listens there
    c = conf(idp)
    c["http_extra"] = c["http_extra"].replace(
        "listen 127.0.0.1:%d;" % idp.port, "listen 127.0.0.1:%d;"
        % free_port())
    n = make_nginx(**c).start()
    r = post(n, WHO, token(kk["a"], "a"))
    assert r.status_code == 503, r.text
    assert "not fetched: its status is not 200; no keys yet" in n.log()


def test_pinned_keys_verify_while_the_set_is_fetched(make_nginx, kk, idp):
    import jwt
    from test_jwt import SECRET
    d = tempfile.mkdtemp(prefix="fraiseql-keys-")
    with open(os.path.join(d, "hs.key"), "w") as f:
        f.write(SECRET)
    c = conf(idp)
    c["http_extra"] += ("    fraiseql_jwt_key alg=HS256 file=%s;\n"
                        % os.path.join(d, "hs.key"))
    n = make_nginx(**c).start()
    # provider down: pinned keys still verify, the set's tokens wait 503
    hs = jwt.encode({"sub": "u1", "exp": int(time.time()) + 60}, SECRET,
                    algorithm="HS256")
    assert status(n, hs) == "ok"
    assert post(n, WHO, token(kk["a"], "a")).status_code == 503


@pytest.mark.parametrize("directive,message", [
    ("fraiseql_jwt_jwks_uri _jwks;", "is not a location's URI"),
    ("fraiseql_jwt_jwks_uri /_jwks refresh=0;", "invalid refresh time"),
    ("fraiseql_jwt_jwks_uri /_jwks cooldown=x;", "invalid cooldown time"),
    ("fraiseql_jwt_jwks_uri /_jwks every=1s;", "invalid parameter"),
    ("fraiseql_jwt_jwks_uri /_jwks; fraiseql_jwt_jwks_uri /_k;",
     "is duplicate: a location has one key set"),
])
def test_bad_uri_configurations_fail_nginx_t(pg, directive, message):
    from conftest import Nginx, SCHEMA
    n = Nginx(pg, SCHEMA, http_extra="fraiseql_jwt required;\n    "
              + directive)
    r = n.cmd("-t")
    assert r.returncode != 0
    assert message in r.stderr, r.stderr


def test_a_set_as_keycloak_publishes_it(make_nginx, kk, idp):
    # a signing key with its certificate chain, and an encryption key the
    # module skips with a warning
    sig = jwk(kk["a"], "kc-sig", alg="RS256", use="sig",
              x5c=["MIIC" + "A" * 900], x5t="abc")
    enc = jwk(kk["c"], "kc-enc", alg="RSA-OAEP", use="enc")
    idp.put(sig, enc)
    n = make_nginx(**conf(idp)).start()
    assert status(n, token(kk["a"], "kc-sig")) == "ok"
    # the skipped key's kid is unknown: within the cooldown of the first
    # fetch, refused without another
    assert status(n, token(kk["c"], "kc-enc")) == "unknown_kid"
    assert len(idp.fetches()) == 1
    assert "of its keys skipped, the first" in n.log()
