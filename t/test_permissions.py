"""Permissions from the database (issue 16, acceptance 2): a function
gets the verified claims and answers the subject's roles and
permissions (app.fn_permissions over tb_grant in t/fixtures.sql, which
logs its calls); the answer is kept in a shared zone for its ttl, for
every worker, and forgotten at once by NOTIFY fraiseql_permissions."""

import os
import tempfile
import time
import concurrent.futures

import jwt
import pytest
import requests

from conftest import ASAN
from test_authz import AUTHZ
from test_jwt import SECRET


def tok(sub, **claims):
    now = int(time.time())
    body = {"sub": sub, "exp": now + 300, "iat": now}
    body.update(claims)
    return jwt.encode(body, SECRET, algorithm="HS256")


def conf(pg, zone="perms:1m", ttl="30s", more="", workers=1, **kw):
    from conftest import Nginx
    d = tempfile.mkdtemp(prefix="fraiseql-keys-")
    key = os.path.join(d, "hs.key")
    with open(key, "w") as f:
        f.write(SECRET)
    return Nginx(pg, AUTHZ, workers=workers, http_extra=(
        "fraiseql_jwt optional;\n"
        "    fraiseql_jwt_key alg=HS256 file=%s;\n"
        "    fraiseql_permissions function=app.fn_permissions zone=%s "
        "ttl=%s;\n    %s" % (key, zone, ttl, more)), **kw)


def ask(n, query, token):
    return requests.post(n.url, json={"query": query}, timeout=30,
                         headers={"Authorization": "Bearer " + token})


def calls(pg, sub):
    return pg.query("SELECT count(*) FROM tb_grant_call WHERE sub = %s",
                    sub)[0][0]


def reset(pg):
    pg.execute("DELETE FROM tb_grant_call")
    pg.execute("UPDATE tb_grant SET roles = '{manager}', permissions = "
               "'{}' WHERE sub = 'm1'")


SALARY = "{ memos { id salary } }"
MANAGER = dict(org={"tenant": "t1"})


def test_the_function_is_called_once_for_all_workers(pg):
    reset(pg)
    n = conf(pg, workers=2).start()
    try:
        t = tok("m1", **MANAGER)
        r = ask(n, SALARY, t)
        assert r.status_code == 200, r.text
        assert [m["salary"] for m in r.json()["data"]["memos"]] == [100, 200]
        assert calls(pg, "m1") == 1
        # many requests, on both workers: from the zone
        with concurrent.futures.ThreadPoolExecutor(8) as ex:
            got = list(ex.map(lambda _: ask(n, SALARY, t).status_code,
                              range(64)))
        assert got == [200] * 64
        assert calls(pg, "m1") == 1
        # a subject the function does not know has the token's rights
        r = ask(n, SALARY, tok("nobody"))
        assert r.status_code == 403
        assert calls(pg, "nobody") == 1
        # names the schema does not declare are ignored
        r = ask(n, "{ memos { salary secret } }", tok("a1"))
        assert r.status_code == 200 and len(r.json()["data"]["memos"]) == 5
    finally:
        n.stop()
    assert not n.problems(), n.problems()


def test_ttl_and_notify(pg):
    reset(pg)
    n = conf(pg, ttl="2s").start()
    try:
        t = tok("m1", **MANAGER)
        assert ask(n, SALARY, t).status_code == 200
        assert ask(n, SALARY, t).status_code == 200
        assert calls(pg, "m1") == 1
        time.sleep(2.2)
        assert ask(n, SALARY, t).status_code == 200
        assert calls(pg, "m1") == 2

        # the grant goes, and PostgreSQL says so: forgotten at once
        pg.execute("UPDATE tb_grant SET roles = '{user}' WHERE sub = 'm1'")
        assert ask(n, SALARY, t).status_code == 200    # still kept
        pg.execute("NOTIFY fraiseql_permissions, 'm1'")
        deadline = time.time() + 3
        while time.time() < deadline:
            r = ask(n, SALARY, t)
            if r.status_code == 403:
                break
            time.sleep(0.05)
        assert r.status_code == 403, r.text
        assert calls(pg, "m1") == 3

        # an empty payload: everyone
        before = calls(pg, "s1")
        assert ask(n, "{ memos { secret } }", tok("s1")).status_code == 200
        pg.execute("NOTIFY fraiseql_permissions")
        time.sleep(0.5)
        assert ask(n, "{ memos { secret } }", tok("s1")).status_code == 200
        assert calls(pg, "s1") == before + 2
        assert "fraiseql: permissions of \"m1\" changed: 1 forgotten" \
            in n.log()
    finally:
        n.stop()
    assert not n.problems(), n.problems()


def test_a_full_zone_forgets_the_least_recently_used(pg):
    reset(pg)
    n = conf(pg, zone="perms:32k").start()
    try:
        with concurrent.futures.ThreadPoolExecutor(8) as ex:
            got = list(ex.map(
                lambda i: ask(n, "{ __typename }",
                              tok("u%05d-%s" % (i, "x" * 100))).status_code,
                range(1500)))
        assert got == [200] * 1500
        log = n.log()
        assert "[alert]" not in log and "[crit]" not in log
        assert "no memory" not in log
    finally:
        n.stop()
    assert not n.problems(), n.problems()


def test_a_reload_keeps_the_zone(pg):
    reset(pg)
    n = conf(pg).start()
    try:
        t = tok("m1", **MANAGER)
        assert ask(n, SALARY, t).status_code == 200
        r = n.cmd("-s", "reload")
        # the signalling nginx leaks under AddressSanitizer: exit 1
        assert r.returncode == 0 or (ASAN and not r.stderr), r.stderr
        time.sleep(1)
        assert ask(n, SALARY, t).status_code == 200
        assert calls(pg, "m1") == 1
    finally:
        n.stop()
    assert not n.problems(), n.problems()


def test_postgresql_down(make_pg, make_nginx):
    from test_hostile import worker_pid
    own = make_pg()
    n = conf(own).start()
    try:
        pid = worker_pid(n)
        assert ask(n, "{ __typename }", tok("m1")).status_code == 200
        own.stop()
        # known: served from the zone; unknown: 503, not a guess
        r = ask(n, "{ __typename }", tok("m1"))
        assert r.status_code == 200, r.text
        r = ask(n, "{ __typename }", tok("s1"))
        assert r.status_code == 503, r.text
        assert r.json()["errors"][0]["extensions"]["code"] == \
            "DATABASE_UNAVAILABLE"
        own.start()
        deadline = time.time() + 10
        while time.time() < deadline:
            r = ask(n, "{ __typename }", tok("s1"))
            if r.status_code == 200:
                break
            time.sleep(0.2)
        assert r.status_code == 200, r.text
        # the same worker throughout: nothing of it crashed
        assert worker_pid(n) == pid
    finally:
        n.stop()
    assert not [p for p in n.problems() if "exited on signal" in p]


@pytest.mark.parametrize("directive,message", [
    ("fraiseql_permissions zone=p:1m;", "needs function=SCHEMA.NAME"),
    ("fraiseql_permissions function=fn zone=p:1m;",
     "needs function=SCHEMA.NAME"),
    ("fraiseql_permissions function=app.fn;", "needs zone=NAME:SIZE"),
    ("fraiseql_permissions function=app.fn zone=p:1k;",
     "invalid zone size"),
    ("fraiseql_permissions function=app.fn zone=p:1m ttl=0;", "invalid ttl"),
    ("fraiseql_permissions function=app.fn zone=p:1m tenant=t;",
     "not a JSON pointer"),
    ("fraiseql_permissions function=app.fn zone=p:1m every=1;",
     "invalid parameter"),
])
def test_bad_configurations_fail_nginx_t(pg, directive, message):
    from conftest import Nginx
    r = Nginx(pg, AUTHZ, http_extra=directive).cmd("-t")
    assert r.returncode != 0
    assert message in r.stderr, r.stderr


def test_fraiseql_listen_names_the_listeners_server(pg):
    """fraiseql_listen: the LISTEN connection goes there, not through the
    pool's servers (a transaction-pooling proxy would lose it)."""
    reset(pg)
    n = conf(pg, more='fraiseql_listen "%s application_name=listener";'
             % pg.conninfo, log_level="debug").start()
    try:
        t = tok("m1", **MANAGER)
        assert ask(n, SALARY, t).status_code == 200
        deadline = time.time() + 5
        while time.time() < deadline and pg.query(
                "SELECT count(*) FROM pg_stat_activity WHERE "
                "application_name = 'listener'")[0][0] != 1:
            time.sleep(0.1)
        assert pg.query("SELECT count(*) FROM pg_stat_activity WHERE "
                        "application_name = 'listener' AND query = "
                        "'LISTEN fraiseql_permissions'")[0][0] == 1
        pg.execute("UPDATE tb_grant SET roles = '{user}' WHERE sub = 'm1'")
        pg.execute("NOTIFY fraiseql_permissions, 'm1'")
        deadline = time.time() + 3
        while time.time() < deadline and ask(n, SALARY, t).status_code != 403:
            time.sleep(0.05)
        assert ask(n, SALARY, t).status_code == 403
    finally:
        n.stop()
    assert not n.problems(), n.problems()
