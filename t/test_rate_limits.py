"""Rate and cost limits in shared zones (issue 17, SECURITY.md §4 and §10
"Rate/cost"): fraiseql_limit_zone with requests (r) or cost points (p),
fraiseql_limit with burst, nodelay and refund, fraiseql_limit_status,
fraiseql_limit_dry_run, fraiseql_limit_log_level, $fraiseql_limit_status,
$fraiseql_rate_key, fraiseql_max_cost and fraiseql_cost_extensions.  As
nginx's limit_req: burst + 1 requests pass, then 429 with Retry-After;
keys are isolated; two workers share a bucket; a reload keeps the zone,
a changed key fails; a full zone forgets its oldest keys without an
alert."""

import os
import re
import shutil
import tempfile
import time

import jwt
import pytest
import requests

from test_jwt import SECRET

ASAN = bool(os.environ.get("FRAISEQL_ASAN"))

LOG = ('log_format limits "$request_uri $status $fraiseql_limit_status '
       '$fraiseql_rate_key $pid";')


def tok(sub):
    now = int(time.time())
    return jwt.encode({"sub": sub, "exp": now + 600, "iat": now}, SECRET,
                      algorithm="HS256")


@pytest.fixture(scope="module")
def keyfile():
    d = tempfile.mkdtemp(prefix="fraiseql-keys-")
    path = os.path.join(d, "hs.key")
    with open(path, "w") as f:
        f.write(SECRET)
    yield path
    shutil.rmtree(d, ignore_errors=True)


def url(n, path):
    return "http://127.0.0.1:%d%s" % (n.port, path)


def post(n, path, query, variables=None, token=None, headers=None, s=None):
    h = dict(headers or {})
    if token:
        h["Authorization"] = "Bearer " + token
    body = {"query": query}
    if variables is not None:
        body["variables"] = variables
    return (s or requests).post(url(n, path), json=body, headers=h,
                                timeout=30)


def access(n, count=0):
    """The lines of limits.log: at least count of them (nginx writes a
    request's line when it frees it, which may be after the answer)."""
    path = os.path.join(n.prefix, "limits.log")
    deadline = time.time() + 5
    while True:
        lines = []
        if os.path.exists(path):
            with open(path) as f:
                lines = [l.split() for l in f.read().splitlines()]
        if len(lines) >= count or time.time() > deadline:
            return lines
        time.sleep(0.02)


def statements(n):
    return len(re.findall(r"fraiseql slot \d+: run", n.log()))


ONE = "{ things(limit: 1) { id } }"


def limited(r, status=429):
    assert r.status_code == status, r.text
    err = r.json()["errors"][0]
    assert err["extensions"]["code"] == "RATE_LIMITED", err
    return err


def test_burst_then_429_with_retry_after(make_nginx):
    n = make_nginx(http_extra=LOG + """
    fraiseql_limit_zone $binary_remote_addr zone=r1:1m rate=1r/m;
    fraiseql_limit_zone $binary_remote_addr zone=r2:1m rate=30r/m;""",
                   extra="""
    location /three { fraiseql; fraiseql_limit zone=r1 burst=2 nodelay;
                      access_log PREFIX/limits.log limits; }
    location /fast { fraiseql; fraiseql_limit zone=r2 nodelay;
                     fraiseql_limit_status 503;
                     fraiseql_limit_log_level warn; }
    """)
    with open(n.conf_path) as f:
        conf = f.read().replace("PREFIX", n.prefix)
    with open(n.conf_path, "w") as f:
        f.write(conf)
    n.start()

    s = requests.Session()
    for _ in range(3):
        r = post(n, "/three", ONE, s=s)
        assert r.status_code == 200, r.text
    r = post(n, "/three", ONE, s=s)
    err = limited(r)
    assert "Too many requests" in err["message"]
    # a request a minute: what the bucket holds past burst drains in 60 s
    # (a minute, as nginx keeps rates: 16 thousandths a second)
    assert 55 <= int(r.headers["Retry-After"]) <= 63, r.headers
    assert r.headers["Content-Type"].startswith("application/json")
    # the keep-alive connection goes on: the body was not read as a request
    r = post(n, "/three", ONE, s=s)
    limited(r)
    assert "invalid method" not in n.log()

    # GraphQL's media type answers the same status
    r = post(n, "/three", ONE, headers={
        "Accept": "application/graphql-response+json"})
    limited(r)

    # $fraiseql_limit_status and $fraiseql_rate_key (no token: the address)
    lines = [l for l in access(n, 6) if l[0] == "/three"]
    assert [l[2] for l in lines] == ["PASSED"] * 3 + ["REJECTED"] * 3
    assert {l[3] for l in lines} == {"127.0.0.1"}
    assert "limiting requests, by zone \"r1\"" in n.log()

    # fraiseql_limit_status and fraiseql_limit_log_level
    assert post(n, "/fast", ONE).status_code == 200
    r = post(n, "/fast", ONE)
    limited(r, 503)
    assert r.headers["Retry-After"] == "2", r.headers
    assert re.search(r"\[warn\].*limiting requests, by zone \"r2\"",
                     n.log())


def test_keys_isolated(make_nginx, keyfile):
    n = make_nginx(http_extra=LOG + """
    fraiseql_jwt optional;
    fraiseql_jwt_key alg=HS256 file=%s;
    fraiseql_limit_zone $fraiseql_rate_key zone=sub:1m rate=1r/m;
    fraiseql_limit_zone $http_x_tenant zone=tenant:1m rate=1r/m;
    """ % keyfile, extra="""
    location /sub { fraiseql; fraiseql_limit zone=sub nodelay;
                    access_log %s/limits.log limits; }
    location /tenant { fraiseql; fraiseql_limit zone=tenant nodelay; }
    """ % "PREFIX")
    with open(n.conf_path) as f:
        conf = f.read().replace("PREFIX", n.prefix)
    with open(n.conf_path, "w") as f:
        f.write(conf)
    n.start()

    a, b = tok("alice"), tok("bob")
    assert post(n, "/sub", ONE, token=a).status_code == 200
    limited(post(n, "/sub", ONE, token=a))
    # bob has his own bucket, and so has the anonymous address
    assert post(n, "/sub", ONE, token=b).status_code == 200
    assert post(n, "/sub", ONE).status_code == 200
    limited(post(n, "/sub", ONE))
    limited(post(n, "/sub", ONE, token=b))
    # a token that is not verified is not a subject: the address
    forged = jwt.encode({"sub": "carol"}, "another-secret-of-enough-bytes!!",
                        algorithm="HS256")
    assert post(n, "/sub", ONE, token=forged).status_code == 401
    keys = [l[3] for l in access(n, 5)]
    assert keys[:4] == ["alice", "alice", "bob", "127.0.0.1"], keys

    # an empty key is not limited (limit_req's rule)
    for _ in range(4):
        assert post(n, "/tenant", ONE).status_code == 200
    h = {"X-Tenant": "t1"}
    assert post(n, "/tenant", ONE, headers=h).status_code == 200
    limited(post(n, "/tenant", ONE, headers=h))
    assert post(n, "/tenant", ONE,
                headers={"X-Tenant": "t2"}).status_code == 200


def test_dry_run(make_nginx):
    n = make_nginx(log_level="info", http_extra=LOG + """
    fraiseql_limit_zone $binary_remote_addr zone=dry:1m rate=1r/m;
    fraiseql_limit_zone $binary_remote_addr zone=dryp:1m rate=1p/m;""",
                   extra="""
    location /dry { fraiseql; fraiseql_limit zone=dry nodelay;
                    fraiseql_limit_dry_run on;
                    access_log PREFIX/limits.log limits; }
    location /dryp { fraiseql; fraiseql_limit zone=dryp burst=3;
                     fraiseql_limit_dry_run on;
                     access_log PREFIX/limits.log limits; }
    """)
    with open(n.conf_path) as f:
        conf = f.read().replace("PREFIX", n.prefix)
    with open(n.conf_path, "w") as f:
        f.write(conf)
    n.start()

    for _ in range(4):
        r = post(n, "/dry", ONE)
        assert r.status_code == 200 and "errors" not in r.json(), r.text
    assert [l[2] for l in access(n, 4)] == ["PASSED"] + ["REJECTED_DRY_RUN"] * 3
    assert n.log().count("limiting requests, dry run, by zone \"dry\"") == 3

    # cost: what would wait is not delayed, what would be refused runs
    t0 = time.time()
    for q in ("{ things(limit: 2) { id } }", "{ things(limit: 1) { id } }",
              "{ things(limit: 9) { id } }"):
        assert post(n, "/dryp", q).status_code == 200
    assert time.time() - t0 < 5
    assert [l[2] for l in access(n, 7)][4:] == [
        "PASSED", "DELAYED_DRY_RUN", "REJECTED_DRY_RUN"]


COST = "query ($n: Int) { things(limit: $n) { id } }"


def test_cost_from_the_limit_variable(make_nginx):
    n = make_nginx(log_level="debug", http_extra="""
    fraiseql_limit_zone $binary_remote_addr zone=pts:1m rate=1p/m;
    fraiseql_cost_extensions on;""", extra="""
    location /pts { fraiseql; fraiseql_limit zone=pts burst=10 nodelay; }
    location /dear { fraiseql; fraiseql_max_cost 5; }
    """).start()

    r = post(n, "/pts", COST, {"n": 8})
    assert r.status_code == 200, r.text
    cost = r.json()["extensions"]["cost"]
    assert cost["requestedQueryCost"] == 8
    # restored a point a minute: 0.016 a second, as nginx keeps rates
    assert cost["throttleStatus"] == {"maximumAvailable": 10,
                                      "currentlyAvailable": 2,
                                      "restoreRate": 0.016}, cost
    # 8 + 3 > 10: refused; 8 + 2 fits
    r = post(n, "/pts", COST, {"n": 3})
    err = limited(r)
    assert "cost points" in err["message"]
    assert r.json()["extensions"]["cost"]["requestedQueryCost"] == 3
    assert int(r.headers["Retry-After"]) >= 55
    assert post(n, "/pts", COST, {"n": 2}).status_code == 200
    # a variable of 0: free (and the empty bucket still takes it)
    assert post(n, "/pts", COST, {"n": 0}).status_code == 200

    # more than the bucket could ever hold: no use waiting
    r = post(n, "/pts", COST, {"n": 11})
    err = r.json()["errors"][0]
    assert err["extensions"]["code"] == "COST_LIMIT_EXCEEDED", err
    assert "zone \"pts\" holds at most 10" in err["message"]
    assert "Retry-After" not in r.headers

    # fraiseql_max_cost: before any SQL, by the variables' values
    before = statements(n)
    assert post(n, "/dear", COST, {"n": 5}).status_code == 200
    assert statements(n) == before + 1
    r = post(n, "/dear", COST, {"n": 6},
             headers={"Accept": "application/graphql-response+json"})
    assert r.status_code == 400, r.text
    err = r.json()["errors"][0]
    assert err["extensions"]["code"] == "COST_LIMIT_EXCEEDED"
    assert err["message"] == ("The operation costs 6 points, more than 5 "
                              "(fraiseql_max_cost).")
    # two lists add up; the plan cache keeps the formula, not the value
    r = post(n, "/dear", "query ($n: Int) { a: things(limit: $n) { id }"
             " b: things(limit: $n) { id } }", {"n": 3})
    assert r.json()["errors"][0]["extensions"]["code"] == \
        "COST_LIMIT_EXCEEDED"
    assert post(n, "/dear", COST, {"n": 1}).status_code == 200
    assert statements(n) == before + 2


def test_refund(make_nginx):
    n = make_nginx(http_extra="""
    fraiseql_limit_zone $binary_remote_addr zone=back:1m rate=1p/m;
    fraiseql_limit_zone $binary_remote_addr zone=kept:1m rate=1p/m;
    fraiseql_cost_extensions on;""", extra="""
    location /back { fraiseql; fraiseql_limit zone=back burst=20 nodelay
                                              refund; }
    location /kept { fraiseql; fraiseql_limit zone=kept burst=20 nodelay; }
    """).start()

    rows = len(n.data("{ things { id } }")["things"])
    assert rows < 10
    # asked for 15, got fewer: the difference comes back
    r = post(n, "/back", COST, {"n": 15})
    cost = r.json()["extensions"]["cost"]
    assert cost["requestedQueryCost"] == 15
    assert cost["actualQueryCost"] == rows
    assert cost["throttleStatus"]["currentlyAvailable"] == 20 - rows
    r = post(n, "/back", COST, {"n": 15})
    assert r.status_code == 200, r.text

    # without refund the bucket keeps what was asked
    r = post(n, "/kept", COST, {"n": 15})
    cost = r.json()["extensions"]["cost"]
    assert cost["actualQueryCost"] == rows
    assert cost["throttleStatus"]["currentlyAvailable"] == 5
    limited(post(n, "/kept", COST, {"n": 15}))


def test_delay_without_nodelay(make_nginx):
    n = make_nginx(http_extra=LOG + """
    fraiseql_limit_zone $binary_remote_addr zone=slow:1m rate=4r/s;""",
                   extra="""
    location /slow { fraiseql; fraiseql_limit zone=slow burst=5;
                     access_log PREFIX/limits.log limits; }
    """)
    with open(n.conf_path) as f:
        conf = f.read().replace("PREFIX", n.prefix)
    with open(n.conf_path, "w") as f:
        f.write(conf)
    n.start()

    s = requests.Session()
    t0 = time.time()
    for _ in range(4):
        assert post(n, "/slow", ONE, s=s).status_code == 200
    took = time.time() - t0
    # smoothed to the rate: three waits of about 250 ms
    assert took >= 0.6, took
    assert [l[2] for l in access(n, 4)] == ["PASSED"] + ["DELAYED"] * 3

    # a client that leaves while delayed: nothing is left behind
    for _ in range(5):
        try:
            requests.post(url(n, "/slow"), json={"query": ONE},
                          timeout=0.05)
        except requests.exceptions.RequestException:
            pass
    time.sleep(2.5)
    assert post(n, "/slow", ONE).status_code == 200


def test_two_workers_share_a_bucket(make_nginx):
    n = make_nginx(workers=2, http_extra=LOG + """
    fraiseql_limit_zone $binary_remote_addr zone=both:1m rate=1r/m;""",
                   extra="""
    location /both { fraiseql; fraiseql_limit zone=both burst=9 nodelay;
                     access_log PREFIX/limits.log limits; }
    """)
    with open(n.conf_path) as f:
        conf = f.read().replace("PREFIX", n.prefix)
    with open(n.conf_path, "w") as f:
        f.write(conf)
    n.start()

    import concurrent.futures as cf
    with cf.ThreadPoolExecutor(8) as ex:
        codes = list(ex.map(lambda _: requests.post(
            url(n, "/both"), json={"query": ONE}, timeout=30,
            headers={"Connection": "close"}).status_code, range(60)))
    assert codes.count(200) == 10, codes
    assert codes.count(429) == 50, codes
    pids = {l[4] for l in access(n, 60)}
    assert len(pids) == 2, pids


def reload(n, conf):
    with open(n.conf_path, "w") as f:
        f.write(conf)
    r = n.cmd("-s", "reload")
    assert r.returncode == 0 or (ASAN and not r.stderr), r.stderr
    time.sleep(1)


ZONE = "fraiseql_limit_zone $binary_remote_addr zone=kept:1m rate=1r/m;"


def test_reload_keeps_the_zone(pg):
    from conftest import Nginx, SCHEMA
    n = Nginx(pg, SCHEMA, http_extra=ZONE,
              extra="location /k { fraiseql; fraiseql_limit zone=kept; }")
    n.start()
    try:
        assert post(n, "/k", ONE).status_code == 200
        limited(post(n, "/k", ONE))
        conf = n.config()

        # the same zone: the bucket is still full
        reload(n, conf + "\n")
        limited(post(n, "/k", ONE))

        # another key for the zone: the reload is refused, the old
        # configuration serves on with its bucket
        reload(n, conf.replace("$binary_remote_addr zone=kept",
                               "$remote_addr zone=kept"))
        assert re.search(r"\[emerg\].*fraiseql_limit_zone \"kept\" uses the "
                         r"\"\$remote_addr\" key while previously it used "
                         r"the \"\$binary_remote_addr\" key", n.log())
        limited(post(n, "/k", ONE))

        # nor may it count points instead of requests
        reload(n, conf.replace("rate=1r/m", "rate=1p/m"))
        assert "counts points while previously it counted requests" \
            in n.log()
        limited(post(n, "/k", ONE))

        # a new size is a new zone: empty
        reload(n, conf.replace("zone=kept:1m", "zone=kept:2m"))
        assert post(n, "/k", ONE).status_code == 200
    finally:
        n.stop()
    bad = [p for p in n.problems()
           if "previously" not in p and "reload" not in p]
    assert not bad, bad


def test_config_refused(pg):
    from conftest import Nginx, SCHEMA
    cases = [
        ("fraiseql_limit_zone $a zone=z:1m rate=1r/s; "
         "fraiseql_limit_zone $b zone=z:1m rate=1r/s;",
         "", "is already bound to key \"$a\""),
        ("fraiseql_limit_zone $a zone=z:1m rate=ten/s;", "",
         "invalid rate"),
        ("fraiseql_limit_zone $a zone=z:1m rate=5x/s;", "",
         "invalid rate"),
        ("fraiseql_limit_zone $a zone=z:1k rate=1r/s;", "", "too small"),
        ("fraiseql_limit_zone $a rate=1r/s;", "", "must have \"zone\""),
        ("fraiseql_limit_zone $a zone=z:1m;", "", "must have \"rate\""),
        ("", "location /x { fraiseql; fraiseql_limit zone=nope; }",
         "unknown fraiseql_limit_zone \"nope\""),
        ("fraiseql_limit_zone $a zone=z:1m rate=1r/s;",
         "location /x { fraiseql; fraiseql_limit zone=z refund; }",
         "counts requests"),
        ("fraiseql_limit_zone $a zone=z:1m rate=1r/s;",
         "location /x { fraiseql; fraiseql_limit zone=z; "
         "fraiseql_limit zone=z; }", "is duplicate"),
        ("fraiseql_limit_zone $a zone=z:1m rate=1r/s;",
         "location /x { fraiseql; fraiseql_limit zone=z burst=-1; }",
         "invalid burst"),
        ("fraiseql_limit_status 200;", "", "must be between 400 and 599"),
        ("fraiseql_limit_log_level debug;", "", "invalid value"),
        ("fraiseql_max_cost -1;", "", "invalid"),
        # a name fraiseql_permissions uses already
        ("fraiseql_permissions function=app.f zone=z:1m; "
         "fraiseql_limit_zone $a zone=z:1m rate=1r/s;", "",
         "already declared for a different use"),
    ]
    for http, loc, want in cases:
        n = Nginx(pg, SCHEMA, http_extra=http, extra=loc)
        try:
            r = n.cmd("-t")
            assert r.returncode != 0, (http, loc)
            assert want in r.stderr, (want, r.stderr)
        finally:
            shutil.rmtree(n.prefix, ignore_errors=True)


def test_a_full_zone_forgets_without_alert(make_nginx, pg):
    from test_hostile import Unharmed
    n = make_nginx(pool=4, http_extra="""
    fraiseql_limit_zone $http_x_key zone=tiny:32k rate=1r/m;""",
                   extra="""
    location /tiny { fraiseql; fraiseql_limit zone=tiny nodelay; }
    """).start()
    first = {"X-Key": "first"}
    assert post(n, "/tiny", ONE, headers=first).status_code == 200
    limited(post(n, "/tiny", ONE, headers=first))

    # a client making up keys: each is new, the oldest go
    u = Unharmed(n, pg)
    s = requests.Session()
    for i in range(3000):
        r = post(n, "/tiny", "{ __typename }", s=s,
                 headers={"X-Key": "k%d-%s" % (i, "x" * 60)})
        assert r.status_code == 200, r.text
    # "first" was forgotten: a fresh bucket
    assert post(n, "/tiny", ONE, headers=first).status_code == 200
    log = n.log()
    assert "[alert]" not in log and "[crit]" not in log
    assert "no memory" not in log
    u.check("3000 made-up keys")


def test_the_worked_example(make_nginx):
    """docs/security.md's worked example: 38 points for n = 25."""
    n = make_nginx(http_extra="fraiseql_cost_extensions on;").start()
    q = """query ($n: Int) {
      users(limit: $n) { id email }
      usersConnection(first: 10) { totalCount edges { node { id } } }
      post(id: 1) { title author { firstName } }
    }"""
    for v, cost in ((25, 38), (500, 513)):
        r = n.post(q, {"n": v})
        assert r.json()["extensions"]["cost"]["requestedQueryCost"] == cost
