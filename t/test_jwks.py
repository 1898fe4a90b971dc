"""Keys from a JSON Web Key Set file (fraiseql_jwt_jwks_file, issue 15):
read and checked at configuration, then re-read by each worker when the
file changes, without a reload; a bad new file keeps the last good keys.

Keys are made here by python3-cryptography, their JWKs written by
python3-jwt (PyJWT's to_jwk) and the tokens signed by it: nothing comes
from the module's own code."""

import json
import os
import tempfile
import time

import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import ec, rsa

from test_hostile import worker_pid
from test_jwt import SECRET, WHO, post, refused

ALGS = jwt.algorithms


@pytest.fixture(scope="module")
def kk():
    """Private keys by kid: a, c (RSA), b (EC P-256), p384 (EC P-384)."""
    return {
        "a": rsa.generate_private_key(public_exponent=65537, key_size=2048),
        "c": rsa.generate_private_key(public_exponent=65537, key_size=2048),
        "b": ec.generate_private_key(ec.SECP256R1()),
        "p384": ec.generate_private_key(ec.SECP384R1()),
    }


def jwk(k, kid, **extra):
    """The public half as PyJWT writes it, with a kid."""
    if isinstance(k, rsa.RSAPrivateKey):
        j = json.loads(ALGS.RSAAlgorithm.to_jwk(k.public_key()))
    else:
        j = json.loads(ALGS.ECAlgorithm.to_jwk(k.public_key()))
    j["kid"] = kid
    j.update(extra)
    return j


def jwks_text(*keys):
    return json.dumps({"keys": list(keys)})


def write(path, text):
    """A new version as deployment tools write one: a new file renamed
    over the old, so that no reader sees half of it."""
    tmp = path + ".new"
    with open(tmp, "w") as f:
        f.write(text)
    os.rename(tmp, path)


def token(k, kid=None, alg=None, lifetime=300, **claims):
    now = int(time.time())
    body = {"sub": "u1", "exp": now + lifetime, "iat": now}
    body.update(claims)
    if alg is None:
        alg = "RS256" if isinstance(k, rsa.RSAPrivateKey) else "ES256"
    return jwt.encode(body, k, algorithm=alg,
                      headers={"kid": kid} if kid else None)


def http_extra(path, check="1s", more=""):
    return ("fraiseql_jwt required;\n"
            "    fraiseql_jwt_jwks_file %s check=%s;\n"
            "    add_header X-Jwt-Status $fraiseql_jwt_status always;\n"
            "    %s" % (path, check, more))


@pytest.fixture
def path():
    d = tempfile.mkdtemp(prefix="fraiseql-jwks-")
    return os.path.join(d, "jwks.json")


def status(n, tok):
    r = post(n, WHO, tok)
    if r.status_code == 200:
        assert r.headers["X-Jwt-Status"] == "ok"
        return "ok"
    return refused(n, r)


def until(n, tok, want, within=2.0):
    """The status of tok once it is want, or the last one after within
    seconds: check=1s, plus a second."""
    deadline = time.time() + within
    while True:
        got = status(n, tok)
        if got == want or time.time() > deadline:
            return got
        time.sleep(0.1)


def test_tokens_of_the_set_verify(make_nginx, kk, path):
    # a key set file alone is enough for fraiseql_jwt
    write(path, jwks_text(jwk(kk["a"], "a", alg="RS256"), jwk(kk["b"], "b")))
    n = make_nginx(http_extra=http_extra(path)).start()
    r = post(n, WHO, token(kk["a"], "a", tenant="t1"))
    assert r.status_code == 200, r.text
    assert json.loads(r.json()["data"]["whoami"][0]["claims"])["tenant"] \
        == "t1"
    # an EC key without alg is ES256 (its curve's)
    assert status(n, token(kk["b"], "b")) == "ok"
    assert status(n, token(kk["a"], "zzz")) == "unknown_kid"
    # each key is pinned to its alg
    assert status(n, token(kk["a"], "a", alg="RS384")) == "bad_alg"
    assert status(n, token(kk["b"], "a", alg="ES256")) == "bad_alg"
    assert not n.errors()


def test_kid_selects_the_key(make_nginx, kk, path):
    # two RSA keys: RS256 for the one without alg
    write(path, jwks_text(jwk(kk["a"], "a"), jwk(kk["c"], "c")))
    n = make_nginx(http_extra=http_extra(path)).start()
    assert status(n, token(kk["a"], "a")) == "ok"
    assert status(n, token(kk["c"], "c")) == "ok"
    assert status(n, token(kk["c"], "a")) == "bad_signature"
    # no kid, two keys for its alg: not tried on each
    assert status(n, token(kk["a"])) == "ambiguous_key"


def test_pinned_keys_and_the_set(make_nginx, kk, path, tmp_path):
    hs = tmp_path / "hs.key"
    hs.write_text(SECRET)
    write(path, jwks_text(jwk(kk["a"], "a")))
    n = make_nginx(http_extra=http_extra(
        path, more="fraiseql_jwt_key alg=HS256 file=%s kid=h;" % hs)).start()
    assert status(n, jwt.encode({"exp": int(time.time()) + 60}, SECRET,
                                algorithm="HS256", headers={"kid": "h"})) \
        == "ok"
    assert status(n, token(kk["a"], "a")) == "ok"
    # the set's keys come after the pinned one when the file changes too
    write(path, jwks_text(jwk(kk["c"], "c")))
    assert until(n, token(kk["c"], "c"), "ok") == "ok"
    assert status(n, jwt.encode({"exp": int(time.time()) + 60}, SECRET,
                                algorithm="HS256", headers={"kid": "h"})) \
        == "ok"


def test_a_new_set_without_reload(make_nginx, kk, path):
    write(path, jwks_text(jwk(kk["a"], "a"), jwk(kk["b"], "b")))
    n = make_nginx(workers=2, http_extra=http_extra(path)).start()
    master = n.pid()
    old, kept, new = (token(kk["a"], "a"), token(kk["b"], "b"),
                      token(kk["c"], "c"))
    assert status(n, old) == "ok"       # and now in a worker's cache
    assert status(n, new) == "unknown_kid"

    # a rotation: c comes, a goes
    write(path, jwks_text(jwk(kk["b"], "b"), jwk(kk["c"], "c")))
    assert until(n, new, "ok") == "ok"
    # both workers: new connections go to either
    time.sleep(1.1)
    for _ in range(10):
        assert status(n, new) == "ok"
        assert status(n, kept) == "ok"
        # a removed key's token is refused, cached or not
        assert status(n, old) == "unknown_kid"
    assert n.pid() == master
    assert "changed: 2 keys, was 2" in n.log()

    # written in place, not renamed: seen as well
    with open(path, "w") as f:
        f.write(jwks_text(jwk(kk["a"], "a")))
    assert until(n, old, "ok") == "ok"
    assert until(n, new, "unknown_kid") == "unknown_kid"
    assert not n.errors()


def test_a_bad_new_file_keeps_the_last_good_keys(make_nginx, kk, path):
    write(path, jwks_text(jwk(kk["a"], "a")))
    n = make_nginx(http_extra=http_extra(path)).start()
    pid = worker_pid(n)
    tok = token(kk["a"], "a")
    assert status(n, tok) == "ok"

    for text, why in (('{"keys": [', "Invalid JSON"),
                      (jwks_text(jwk(kk["c"], "c", d="AAAA")),
                       'member "d"'),
                      (jwks_text(), "no key to verify tokens with")):
        write(path, text)
        deadline = time.time() + 2
        while why not in n.log() and time.time() < deadline:
            time.sleep(0.1)
        assert why in n.log()
        assert status(n, tok) == "ok"
        assert status(n, token(kk["c"], "c")) == "unknown_kid"

    # said once per version, at error level
    lines = [l for l in n.errors() if "the last good key set stays" in l]
    assert len(lines) == 3, lines
    time.sleep(1.5)
    assert len([l for l in n.errors()
                if "the last good key set stays" in l]) == 3

    # gone: the keys stay, said once; back: read again
    os.unlink(path)
    time.sleep(2.2)
    assert status(n, tok) == "ok"
    assert len([l for l in n.errors() if "stat()" in l]) == 1
    write(path, jwks_text(jwk(kk["c"], "c")))
    assert until(n, token(kk["c"], "c"), "ok") == "ok"
    assert status(n, tok) == "unknown_kid"
    assert worker_pid(n) == pid


def test_a_worker_leaves_without_waiting_for_the_check(make_nginx, kk, path):
    write(path, jwks_text(jwk(kk["a"], "a")))
    n = make_nginx(http_extra=http_extra(path, check="1h")).start()
    assert status(n, token(kk["a"], "a")) == "ok"
    started = time.time()
    n.stop()
    assert time.time() - started < 5


def bad_sets(kk):
    small = rsa.generate_private_key(public_exponent=65537, key_size=1024)
    return {
        "private": (jwks_text(json.loads(ALGS.RSAAlgorithm.to_jwk(kk["a"]))),
                    'a private key (member "d")'),
        "oct": (jwks_text({"kty": "oct", "kid": "h", "k": "c2VjcmV0"}),
                "a symmetric key"),
        "rsa1024": (jwks_text(jwk(small, "s")), "under 2048 bits"),
        "crv": (jwks_text(jwk(kk["p384"], "p", alg="ES256")),
                "ES256 needs an EC key on its own curve"),
        "json": ("{\"keys\": [}", "Invalid JSON"),
        "dup": (jwks_text(jwk(kk["a"], "a"), jwk(kk["b"], "a")),
                "a second key with this kid"),
    }


@pytest.mark.parametrize("name", ["private", "oct", "rsa1024", "crv",
                                  "json", "dup"])
def test_bad_files_fail_nginx_t(pg, kk, path, name):
    from conftest import Nginx, SCHEMA
    text, message = bad_sets(kk)[name]
    write(path, text)
    n = Nginx(pg, SCHEMA, http_extra=http_extra(path))
    r = n.cmd("-t")
    assert r.returncode != 0
    assert path in r.stderr and message in r.stderr, r.stderr


@pytest.mark.parametrize("conf,message", [
    ("fraiseql_jwt_jwks_file %(path)s check=0;", "invalid check time"),
    ("fraiseql_jwt_jwks_file %(path)s every=1s;", "invalid parameter"),
    ("fraiseql_jwt_jwks_file %(path)s; fraiseql_jwt_jwks_file %(path)s;",
     "is duplicate"),
    ("fraiseql_jwt_jwks_file /nonexistent/jwks.json;", "/nonexistent"),
    ("fraiseql_jwt required; fraiseql_jwt_jwks_file %(path)s;"
     " fraiseql_jwt_key alg=HS256 file=%(hs)s kid=a;", 'kid "a"'),
])
def test_bad_directives_fail_nginx_t(pg, kk, path, tmp_path, conf, message):
    from conftest import Nginx, SCHEMA
    hs = tmp_path / "hs.key"
    hs.write_text(SECRET)
    write(path, jwks_text(jwk(kk["a"], "a")))
    n = Nginx(pg, SCHEMA, http_extra=conf % dict(path=path, hs=hs))
    r = n.cmd("-t")
    assert r.returncode != 0
    assert message in r.stderr, r.stderr


def test_skipped_keys_are_a_warning(pg, kk, path):
    from conftest import Nginx, SCHEMA
    write(path, jwks_text(jwk(kk["a"], "a"), jwk(kk["c"], "e", use="enc")))
    n = Nginx(pg, SCHEMA, http_extra=http_extra(path))
    r = n.cmd("-t")
    assert r.returncode == 0, r.stderr
    assert "[warn]" in r.stderr and "1 of its keys skipped" in r.stderr \
        and '(kid "e"): "use" is "enc"' in r.stderr, r.stderr
