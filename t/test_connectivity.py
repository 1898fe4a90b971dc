"""PostgreSQL connectivity (issue 5): timeouts, authentication, a server
out of connections, network cuts, TLS, pool exhaustion, reload under load,
replicas (reads) and primaries (mutations, and reads when no replica is
up), the pool's minimum, idle timeout and lifetime, and the directives'
checks at `nginx -t`.

Every failure test asserts the answer (status and GraphQL error), that
the worker kept serving other requests, and that pg_stat_activity comes
back to what the pool should hold.  test_pool.py has the older failure
tests (database down, unresponsive server with the default connect
timeout, queue full, pg_terminate_backend, client gone, restart).
"""

import json
import os
import pwd
import signal
import socket
import subprocess
import tempfile
import threading
import time

import psycopg
import pytest
import requests

from conftest import ASAN, SCHEMA, Nginx, dechunk

THING1 = {"data": {"things": [{"id": 1}]}}
Q_THING1 = "{ things(limit: 1) { id } }"


class Db:
    """Stands for a server in Nginx(pg=...): only the conninfo is read."""

    def __init__(self, conninfo):
        self.conninfo = conninfo


def app(n):
    return "fraiseql-%d" % n.port


def configure(make_nginx, **kw):
    """make_nginx, with @APP@ in the configuration replaced by this
    nginx's application_name, for the extra fraiseql_database lines a
    test adds: n.backends(cluster) then counts them too."""
    n = make_nginx(**kw)
    with open(n.conf_path) as f:
        text = f.read()
    with open(n.conf_path, "w") as f:
        f.write(text.replace("@APP@", app(n)))
    return n


def conninfo(cluster, **extra):
    """A cluster's conninfo for an extra fraiseql_database line."""
    s = cluster.conninfo + " application_name=@APP@"
    for k, v in extra.items():
        s += " %s=%s" % (k, v)
    return s


def pids(n, cluster):
    return {r[0] for r in cluster.query(
        "SELECT pid FROM pg_stat_activity WHERE application_name = %s",
        app(n))}


def wait_for(cond, timeout, step=0.05):
    """Polls cond() until it is true or the time is up; returns its value."""
    deadline = time.time() + timeout
    while True:
        v = cond()
        if v or time.time() >= deadline:
            return v
        time.sleep(step)


def post(n, path, query, timeout=30):
    return requests.post("http://127.0.0.1:%d%s" % (n.port, path),
                         json={"query": query}, timeout=timeout)


def assert_unavailable(r, message=None):
    """503, Retry-After and a DATABASE_UNAVAILABLE error, no data."""
    assert r.status_code == 503, r.text
    assert r.headers.get("retry-after") == "1"
    body = r.json()
    assert "data" not in body, body
    err = body["errors"][0]
    assert err["extensions"]["code"] == "DATABASE_UNAVAILABLE", body
    if message:
        assert message in err["message"], body


def assert_health(n, bound=1.0):
    """The worker answers a location that needs no database at once."""
    t0 = time.time()
    h = requests.get("http://127.0.0.1:%d/health" % n.port, timeout=2)
    assert h.text == "ok\n"
    assert time.time() - t0 < bound


def log_since(path, start):
    with open(path) as f:
        f.seek(start)
        return f.read()


def alive(pid):
    """Whether a process runs (a zombie nobody reaped yet has exited)."""
    try:
        with open("/proc/%d/stat" % pid) as f:
            return f.read().rsplit(") ", 1)[1][0] != "Z"
    except OSError:
        return False


def workers(n):
    out = subprocess.run(["pgrep", "-P", str(n.pid())], capture_output=True,
                         text=True).stdout.split()
    return {int(p) for p in out if alive(int(p))}


def raw_post(query):
    body = json.dumps({"query": query})
    return ("POST /graphql HTTP/1.1\r\nHost: x\r\nConnection: close\r\n"
            "Content-Type: application/json\r\nContent-Length: %d\r\n\r\n%s"
            % (len(body), body)).encode()


def parse_response(data):
    """Status, headers (lower case) and body of a whole HTTP/1.1 answer."""
    head, _, payload = data.partition(b"\r\n\r\n")
    lines = head.decode().split("\r\n")
    status = int(lines[0].split()[1])
    headers = {}
    for line in lines[1:]:
        k, _, v = line.partition(":")
        headers[k.strip().lower()] = v.strip()
    if headers.get("transfer-encoding") == "chunked":
        payload = dechunk(payload)
    return status, headers, payload


def read_all(sock):
    data = b""
    while True:
        chunk = sock.recv(65536)
        if not chunk:
            return data
        data += chunk


class Proxy:
    """A TCP relay between nginx and PostgreSQL that a test can cut
    (every socket closed, as a network failure or a firewall reset
    would), freeze (bytes taken and held: a server that stops answering)
    or take down (new connections closed at once)."""

    def __init__(self, upstream_port, delay=0):
        self.upstream = upstream_port
        self.delay = delay          # before each connection is relayed
        self.lsn = socket.socket()
        self.lsn.bind(("127.0.0.1", 0))
        self.lsn.listen(64)
        self.port = self.lsn.getsockname()[1]
        self.lock = threading.Lock()
        self.pairs = []
        self.flowing = threading.Event()
        self.flowing.set()
        self.down = False
        threading.Thread(target=self._accept, daemon=True).start()

    def conninfo(self, cluster):
        return "host=127.0.0.1 port=%d dbname=%s user=postgres" % (
            self.port, cluster.dbname)

    def _accept(self):
        while True:
            try:
                c, _ = self.lsn.accept()
            except OSError:
                return
            if self.down:
                c.close()
                continue
            threading.Thread(target=self._open, args=(c,),
                             daemon=True).start()

    def _open(self, c):
        time.sleep(self.delay)
        try:
            u = socket.create_connection(("127.0.0.1", self.upstream), 5)
        except OSError:
            c.close()
            return
        with self.lock:
            self.pairs.append((c, u))
        for a, b in ((c, u), (u, c)):
            threading.Thread(target=self._pump, args=(a, b),
                             daemon=True).start()

    def _pump(self, src, dst):
        try:
            while True:
                data = src.recv(65536)
                if not data:
                    break
                self.flowing.wait()
                dst.sendall(data)
        except OSError:
            pass
        for s in (src, dst):
            try:
                s.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass

    def cut(self, port=None):
        """Closes every relayed connection, or only the one whose
        PostgreSQL side has this client port (pg_stat_activity's)."""
        with self.lock:
            gone = [p for p in self.pairs
                    if port is None or p[1].getsockname()[1] == port]
            self.pairs = [p for p in self.pairs if p not in gone]
        for s in [s for p in gone for s in p]:
            try:
                s.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            s.close()
        return len(gone)

    def freeze(self):
        self.flowing.clear()

    def thaw(self):
        self.flowing.set()

    def close(self):
        self.thaw()
        try:
            self.lsn.shutdown(socket.SHUT_RDWR)     # wakes accept()
        except OSError:
            pass
        self.lsn.close()
        self.cut()


@pytest.fixture
def proxy(pg):
    p = Proxy(pg.port)
    yield p
    p.close()


def _active(n, cluster):
    return cluster.query("SELECT count(*) FROM pg_stat_activity"
                         " WHERE application_name = %s AND state = 'active'",
                         app(n))[0][0]


def _active_port(n, cluster):
    """The client port of one of n's backends running a statement."""
    rows = cluster.query("SELECT client_port FROM pg_stat_activity"
                         " WHERE application_name = %s AND state = 'active'"
                         " ORDER BY backend_start LIMIT 1", app(n))
    return rows[0][0] if rows else None


def _in_thread(fn, *args):
    result = {}

    def run():
        t0 = time.time()
        try:
            result["r"] = fn(*args)
        except Exception as e:          # reported by the test's asserts
            result["exc"] = e
        result["end"] = time.time()
        result["time"] = result["end"] - t0

    t = threading.Thread(target=run)
    t.start()
    return t, result


# 1. Query timeout ----------------------------------------------------------

def test_query_timeout_is_a_graphql_error_and_keeps_the_connection(
        make_nginx, pg):
    """statement_timeout (300ms) cancels the slow view's statement: that
    field is null with the error; the connection stays in the pool."""
    n = make_nginx(pool=2, extra="fraiseql_query_timeout 300ms;").start()
    two = "{ a: things(limit: 1) { id } b: things(limit: 1) { id } }"
    # two requests at once open the pool's two connections (the root
    # fields of one share a connection)
    warm = [_in_thread(n.post, "{ slow { id } }") for _ in range(2)]
    for t, _ in warm:
        t.join(10)
    assert wait_for(lambda: len(pids(n, pg)) == 2, 5)
    before = pids(n, pg)

    t, slow = _in_thread(n.post, "{ slower { id } }")
    # the other connection serves meanwhile: answered before the slow one
    time.sleep(0.05)
    assert n.post(Q_THING1).json() == THING1
    served = time.time()
    assert_health(n)
    t.join(10)
    assert served < slow["end"]
    r = slow["r"]
    assert r.status_code == 200
    body = r.json()
    assert body["data"] == {"slower": None}
    err = body["errors"][0]
    assert "ran longer than the query timeout" in err["message"], body
    assert "SQLSTATE 57014" in err["message"]
    assert err["extensions"]["code"] == "DATABASE_ERROR"
    # cancelled by the server at 300ms, not the 1.5 s the view takes
    assert slow["time"] < 1.0, slow["time"]

    # a root field beside it is answered
    body = n.post("{ things(limit: 1) { id } slower { id } }").json()
    assert body["data"] == {"things": [{"id": 1}], "slower": None}
    assert "57014" in body["errors"][0]["message"]

    for _ in range(3):
        assert n.post(two).json() == {"data": {"a": [{"id": 1}],
                                               "b": [{"id": 1}]}}
    assert pids(n, pg) == before
    assert "canceling statement due to statement timeout" in n.log()


def test_unanswering_server_is_cut_by_the_nginx_timer(make_nginx, pg, proxy):
    """The server stops answering (bytes go nowhere): the nginx timer, one
    second over the query timeout, fails the field with the query-timeout
    error (not an outage), the statement is cancelled or, with no other
    connection to cancel it through, its connection closed; the next
    request gets a new one."""
    n = configure(
        make_nginx, pg=Db(proxy.conninfo(pg)), pool=1,
        extra="fraiseql_query_timeout 300ms;\n"
              "location /direct { fraiseql; fraiseql_database \"%s\"; }"
              % conninfo(pg)).start()
    assert n.post(Q_THING1).json() == THING1
    before = pids(n, pg)
    assert len(before) == 1

    proxy.freeze()
    t, frozen = _in_thread(n.post, Q_THING1)
    time.sleep(0.3)
    # the worker serves other requests while this one waits
    for _ in range(3):
        assert post(n, "/direct", Q_THING1).json() == THING1
    served = time.time()
    assert_health(n)
    t.join(10)
    assert served < frozen["end"]
    r = frozen["r"]
    assert r.status_code == 200, r.text
    assert r.json()["data"] == {"things": None}
    err = r.json()["errors"][0]
    assert "ran longer than the query timeout" in err["message"], err
    assert "Retry-After" not in r.headers
    assert 1.2 <= frozen["time"] < 3.0, frozen["time"]
    assert "no answer from PostgreSQL within the query timeout" in n.log()

    proxy.thaw()
    r = wait_for(lambda: n.post(Q_THING1).status_code == 200, 10)
    assert r
    assert n.post(Q_THING1).json() == THING1
    # the proxied pool is back to one connection, plus /direct's
    assert wait_for(lambda: n.backends(pg) == 2, 5), n.backends(pg)


# 2. Connect timeout --------------------------------------------------------

@pytest.fixture
def black_hole():
    """A port that completes TCP handshakes and never says anything."""
    lsn = socket.socket()
    lsn.bind(("127.0.0.1", 0))
    lsn.listen(8)
    yield lsn.getsockname()[1]
    lsn.close()


def test_connect_timeout_fails_fast(make_nginx, pg, black_hole):
    n = configure(
        make_nginx,
        pg=Db("host=127.0.0.1 port=%d dbname=x user=x" % black_hole),
        pool=2,
        extra="fraiseql_connect_timeout 300ms;\n"
              "location /direct { fraiseql; fraiseql_database \"%s\"; }"
              % conninfo(pg)).start()

    t, first = _in_thread(n.post, Q_THING1)
    # while the connect waits, another database is served by this worker
    time.sleep(0.05)
    assert post(n, "/direct", Q_THING1).json() == THING1
    served = time.time()
    assert_health(n)
    t.join(10)
    assert served < first["end"]
    assert_unavailable(first["r"], "The database is unavailable")
    assert 0.25 <= first["time"] < 1.5, first["time"]

    # later attempts back off or time out after 300 ms: never 5 s
    t0 = time.time()
    for _ in range(5):
        t1 = time.time()
        assert_unavailable(n.post(Q_THING1))
        assert time.time() - t1 < 1.0
        time.sleep(0.05)
    assert time.time() - t0 < 3.0
    assert "cannot connect to postgresql: connect timed out" in n.log()
    assert post(n, "/direct", Q_THING1).json() == THING1
    assert n.backends(pg) == 1


# 3. Authentication failure -------------------------------------------------

def test_authentication_failure_backs_off(make_pg, make_nginx):
    """scram-sha-256 over TCP with a wrong password: 503, the server's
    reason in the log, attempts backed off (100 ms doubling), and service
    back without a reload once the password matches."""
    own = make_pg()
    own.execute("SET password_encryption = 'scram-sha-256'")
    own.execute("CREATE ROLE app LOGIN PASSWORD 'right'")
    own.execute("GRANT SELECT ON ALL TABLES IN SCHEMA public TO app")
    with open(os.path.join(own.data, "pg_hba.conf"), "w") as f:
        f.write("local all all trust\n"
                "host all postgres 127.0.0.1/32 trust\n"
                "host all all 127.0.0.1/32 scram-sha-256\n")
    own.query("SELECT pg_reload_conf()")
    base = "host=127.0.0.1 port=%d dbname=%s user=app" % (own.port,
                                                          own.dbname)
    n = configure(
        make_nginx, pg=Db(base + " password=wrong"), pool=2,
        extra="location /good { fraiseql; fraiseql_database "
              "\"%s password=right application_name=@APP@-good\"; }"
              % base).start()
    pglog = os.path.join(own.dir, "log")
    start = os.path.getsize(pglog)

    sent = 0
    t0 = time.time()
    while time.time() - t0 < 2.0:
        t1 = time.time()
        assert_unavailable(n.post(Q_THING1), "The database is unavailable")
        assert time.time() - t1 < 1.0
        sent += 1
        time.sleep(0.02)
    # the right password over the same nonblocking SCRAM exchange works
    assert post(n, "/good", Q_THING1).json() == THING1
    assert_health(n)
    time.sleep(0.1)

    failed = log_since(pglog, start).count(
        'password authentication failed for user "app"')
    # 0, 0.1, 0.3, 0.7, 1.5 s: five attempts for ~90 requests, not 90
    assert sent > 20
    assert 3 <= failed <= 8, (failed, sent)
    lines = [l for l in n.log().splitlines()
             if "cannot connect to postgresql" in l]
    assert len(lines) == failed
    assert 'password authentication failed for user "app"' in lines[0]

    # fixed on the server: the next attempt after the backoff succeeds
    own.execute("ALTER ROLE app PASSWORD 'wrong'")
    r = wait_for(lambda: n.post(Q_THING1).status_code == 200, 6.5, 0.1)
    assert r
    assert n.post(Q_THING1).json() == THING1
    assert own.query("SELECT count(*) FROM pg_stat_activity"
                     " WHERE application_name = %s", app(n))[0][0] == 1


# 4. Server out of connections ----------------------------------------------

def test_server_out_of_connections(make_pg, make_nginx):
    """max_connections 6 with 2 kept for superusers: the module's role
    gets 4 connections, under a pool of 8.  Full server: 503 at once and
    the reason in the log; with 4 to take, 24 concurrent requests are all
    answered by them; no connection storm."""
    own = make_pg()
    own.execute("CREATE ROLE app LOGIN")
    own.execute("GRANT SELECT ON ALL TABLES IN SCHEMA public TO app")
    own.execute("ALTER SYSTEM SET max_connections = 6")
    own.execute("ALTER SYSTEM SET superuser_reserved_connections = 2")
    own.stop()
    own.start()
    ci = "host=127.0.0.1 port=%d dbname=%s user=app" % (own.port,
                                                        own.dbname)
    n = make_nginx(pg=Db(ci), pool=8,
                   extra="fraiseql_pool_queue 64 timeout=10s;").start()
    full = "remaining connection slots are reserved"

    # every slot the role may use is taken by others
    others = [psycopg.connect(ci, autocommit=True) for _ in range(4)]
    try:
        for _ in range(3):
            t0 = time.time()
            assert_unavailable(n.post(Q_THING1))
            assert time.time() - t0 < 1.0
        assert_health(n)
        assert full in n.log()
    finally:
        for c in others:
            c.close()

    assert wait_for(lambda: n.post(Q_THING1).status_code == 200, 6, 0.1)
    attempts_before = n.log().count(full)

    results = []

    def one():
        t0 = time.time()
        r = n.post("{ slow { id } }")
        results.append((r.status_code, r.json(), time.time() - t0))

    threads = [threading.Thread(target=one) for _ in range(24)]
    t0 = time.time()
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    # 24 × 0.2 s on 4 connections: about 1.2 s, nothing hangs
    assert time.time() - t0 < 5
    assert len(results) == 24
    assert all(r[:2] == (200, {"data": {"slow": [{"id": 1}]}})
               for r in results), results
    assert wait_for(lambda: n.backends(own) == 4, 5), n.backends(own)
    # the connections the server refused were tried with the backoff
    assert 1 <= n.log().count(full) - attempts_before <= 8
    assert n.post(Q_THING1).json() == THING1
    assert n.backends(own) == 4


# 5. Network close ----------------------------------------------------------

def test_network_close_idle_and_mid_query(make_nginx, pg, proxy):
    # `two` takes both connections of the pool: a connection per root
    # field (t/test_one_round_trip.py breaks a pipeline's connection)
    n = configure(
        make_nginx, pg=Db(proxy.conninfo(pg)), pool=2,
        extra="fraiseql_pipeline off;\n"
              "location /direct { fraiseql; fraiseql_database \"%s\"; }"
              % conninfo(pg, application_name="@APP@-direct")).start()
    two = "{ a: things(limit: 1) { id } b: things(limit: 1) { id } }"
    want = {"data": {"a": [{"id": 1}], "b": [{"id": 1}]}}
    slower = {"data": {"slower": [{"id": 1}]}}
    assert n.post(two).json() == want
    assert wait_for(lambda: n.backends(pg) == 2, 5), n.backends(pg)

    # idle: both connections die, the clients of the next requests see
    # nothing of it
    proxy.cut()
    time.sleep(0.2)
    for _ in range(3):
        r = n.post(two)
        assert r.status_code == 200 and r.json() == want, r.text
    assert "idle connection closed" in n.log()
    assert wait_for(lambda: n.backends(pg) == 2, 5), n.backends(pg)

    # mid-query, nothing sent yet: run again on another connection
    t, res = _in_thread(n.post, "{ slower { id } }")
    port = wait_for(lambda: _active_port(n, pg), 5)
    assert port
    proxy.cut(port)
    t.join(15)
    assert res["r"].json() == slower
    assert 'connection failed while running "slower"' in n.log()
    assert wait_for(lambda: _active(n, pg) == 0, 5)

    # two queries, the network then stays down and one connection is cut:
    # its query cannot connect again, so it waits for the other one's
    # connection and runs there
    assert n.post(two).json() == want
    t1, res1 = _in_thread(n.post, "{ slower { id } }")
    time.sleep(0.1)
    t2, res2 = _in_thread(n.post, "{ slower { id } }")
    assert wait_for(lambda: _active(n, pg) == 2, 5)
    proxy.down = True
    port = _active_port(n, pg)
    cut_at = time.time()
    assert proxy.cut(port) == 1
    t1.join(15)
    t2.join(15)
    assert res1["r"].json() == slower and res2["r"].json() == slower
    # the one cut ran its 1.5 s statement again after the cut
    assert max(res1["end"], res2["end"]) - cut_at > 1.4, (
        res1, res2, cut_at, port, n.log()[-3000:])
    assert "cannot connect to postgresql" in n.log()

    # the last connection is cut mid-query, the network still down: that
    # request fails; the worker serves another database meanwhile
    t, res = _in_thread(n.post, "{ slower { id } }")
    assert wait_for(lambda: _active(n, pg), 5)
    proxy.cut()
    t.join(15)
    assert_unavailable(res["r"])
    assert res["time"] < 2.5
    assert post(n, "/direct", Q_THING1).json() == THING1
    assert_health(n)

    # the network is back: so is the service
    proxy.down = False
    assert wait_for(lambda: n.post(Q_THING1).status_code == 200, 6, 0.1)
    for _ in range(3):
        assert n.post(two).json() == want
    # the cut backends are gone (the sleeping ones once their statement
    # tries to answer); the pool holds two
    assert wait_for(lambda: n.backends(pg) == 2, 5), n.backends(pg)


def test_network_close_mid_stream(make_nginx, pg, proxy):
    """Rows were already sent: the list ends, valid, with an error."""
    n = make_nginx(pg=Db(proxy.conninfo(pg)), pool=1).start()
    assert n.post(Q_THING1).json() == THING1
    data = b""
    with socket.create_connection(("127.0.0.1", n.port), 30) as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 8192)
        s.sendall(raw_post("{ items { id label price groupNo } }"))
        data += s.recv(8192)
        proxy.cut()
        # another client is served meanwhile (under AddressSanitizer the
        # worker first fills the loopback socket's megabytes of buffer,
        # slowly)
        assert_health(n, 3.0 if ASAN else 1.0)
        data += read_all(s)
    status, headers, body = parse_response(data)
    assert status == 200 and headers["transfer-encoding"] == "chunked"
    answer = json.loads(body)
    assert 0 < len(answer["data"]["items"]) < 100000
    err = answer["errors"][0]
    assert err["extensions"]["code"] == "DATABASE_UNAVAILABLE"
    assert 'failed while running "items"' in err["message"]
    assert n.post(Q_THING1).json() == THING1, n.log()[-3000:]
    assert wait_for(lambda: n.backends(pg) == 1, 5), n.backends(pg)


# 6. TLS --------------------------------------------------------------------

def _openssl(cwd, *args):
    subprocess.run(["openssl"] + list(args), cwd=cwd, check=True,
                   capture_output=True)


def _self_signed_ca(cwd, name):
    _openssl(cwd, "req", "-x509", "-newkey", "rsa:2048", "-nodes",
             "-days", "2", "-subj", "/CN=fraiseql test %s" % name,
             "-keyout", name + ".key", "-out", name + ".crt")
    return os.path.join(cwd, name + ".crt")


@pytest.fixture
def tls_pg(make_pg):
    """A cluster that takes TLS connections only, with a server
    certificate for localhost and 127.0.0.1 signed by a CA made now."""
    own = make_pg()
    d = own.dir
    ca = _self_signed_ca(d, "ca")
    other = _self_signed_ca(d, "otherca")
    _openssl(d, "req", "-newkey", "rsa:2048", "-nodes", "-subj",
             "/CN=localhost", "-keyout", "server.key", "-out", "server.csr")
    with open(os.path.join(d, "san.ext"), "w") as f:
        f.write("subjectAltName=DNS:localhost,IP:127.0.0.1\n")
    _openssl(d, "x509", "-req", "-in", "server.csr", "-CA", "ca.crt",
             "-CAkey", "ca.key", "-CAcreateserial", "-days", "2",
             "-extfile", "san.ext", "-out", "server.crt")
    pw = pwd.getpwnam("postgres")
    for name in ("server.key", "server.crt"):
        os.chown(os.path.join(d, name), pw.pw_uid, pw.pw_gid)
    os.chmod(os.path.join(d, "server.key"), 0o600)
    with open(os.path.join(own.data, "postgresql.auto.conf"), "a") as f:
        f.write("ssl = on\nssl_cert_file = '%s/server.crt'\n"
                "ssl_key_file = '%s/server.key'\n" % (d, d))
    with open(os.path.join(own.data, "pg_hba.conf"), "w") as f:
        f.write("local all all trust\n"
                "hostssl all all 127.0.0.1/32 trust\n"
                "hostssl all all ::1/128 trust\n")
    own.stop()
    own.start()
    return own, ca, other


def test_tls_verify_full(tls_pg, make_nginx):
    own, ca, other = tls_pg
    ci = ("host=localhost port=%d dbname=%s user=postgres "
          "sslmode=verify-full sslrootcert=%%s" % (own.port, own.dbname))
    n = configure(
        make_nginx, pg=Db(ci % ca), pool=2,
        extra="location /wrong { fraiseql; fraiseql_database "
              "\"%s application_name=@APP@-wrong\"; }" % (ci % other)
    ).start()
    two = "{ a: things(limit: 1) { id } b: things(limit: 1) { id } }"
    for _ in range(3):
        assert n.post(two).json() == {"data": {"a": [{"id": 1}],
                                               "b": [{"id": 1}]}}
    # one connection: the two root fields share it
    assert wait_for(lambda: n.backends(own) == 1, 5), n.backends(own)
    rows = own.query("SELECT s.ssl, s.version FROM pg_stat_ssl s"
                     " JOIN pg_stat_activity a USING (pid)"
                     " WHERE a.application_name = %s", app(n))
    assert len(rows) == 1
    assert all(ssl for ssl, _ in rows), rows
    assert all(v.startswith("TLSv1.") for _, v in rows), rows

    # the server's certificate is not signed by this CA
    r = post(n, "/wrong", Q_THING1)
    assert_unavailable(r, "The database is unavailable")
    line = [l for l in n.log().splitlines()
            if "cannot connect to postgresql" in l]
    assert line and "certificate verify failed" in line[0], n.log()
    # the other server is still served
    assert n.post(Q_THING1).json() == THING1
    assert_health(n)
    assert own.query("SELECT count(*) FROM pg_stat_activity"
                     " WHERE application_name = %s",
                     app(n) + "-wrong")[0][0] == 0
    assert n.backends(own) == 1


# 7. Pool exhaustion --------------------------------------------------------

@pytest.fixture(scope="module")
def half_schema(pg):
    """The test schema plus `half`, a view that takes 0.5 s."""
    pg.execute("CREATE OR REPLACE VIEW v_half AS SELECT 1 AS id,"
               " jsonb_build_object('id', 1, 'label', 'half') AS data"
               " FROM slow_rows(0.5)")
    with open(SCHEMA) as f:
        text = f.read()
    fd, path = tempfile.mkstemp(suffix=".graphql")
    with os.fdopen(fd, "w") as f:
        f.write(text + '\ntype Half @view(name: "v_half") {\n  id: Int!\n'
                '  label: String!\n}\n\nextend type Query {\n'
                '  half: [Half!]!\n}\n')
    yield path
    os.unlink(path)


def _exhaust(n, clients=200):
    """Opens every client first, then sends all the requests at once;
    returns (seconds to the answer, status, headers, body) per client."""
    socks = [socket.create_connection(("127.0.0.1", n.port), 10)
             for _ in range(clients)]
    req = raw_post("{ half { id label } }")
    results = []
    lock = threading.Lock()
    t0 = time.time()

    def read(s):
        try:
            s.settimeout(30)
            data = read_all(s)
            with lock:
                results.append((time.time() - t0,) + parse_response(data))
        finally:
            s.close()

    for s in socks:
        s.sendall(req)
    threads = [threading.Thread(target=read, args=(s,)) for s in socks]
    for t in threads:
        t.start()
    for t in threads:
        t.join(40)
    return results


def _assert_exhaustion(results):
    assert len(results) == 200
    served = [r for r in results if r[1] == 200]
    refused = [r for r in results if r[1] == 503]
    assert len(served) + len(refused) == 200, [r[1] for r in results]
    assert len(served) == 20, (len(served), len(refused))
    for took, _, _, body in served:
        assert json.loads(body) == {"data": {"half": [{"id": 1,
                                                       "label": "half"}]}}
    # 20 × 0.5 s on 4 connections: five rounds
    assert max(r[0] for r in served) < 4.5
    for took, _, headers, body in refused:
        assert headers.get("retry-after") == "1"
        err = json.loads(body)["errors"][0]
        assert err["extensions"]["code"] == "DATABASE_UNAVAILABLE"
        assert "Too many requests" in err["message"]
        # refused at once, not after a wait
        assert took < 0.45, took


def test_pool_exhaustion_200_clients_pool_4_queue_16(make_nginx, pg,
                                                     half_schema):
    """One worker, 4 connections open and idle, 16 queue places: of 200
    simultaneous clients 20 are served (4 at once, 16 in turn), 180 get
    503 with Retry-After at once, none hangs."""
    n = make_nginx(schema=half_schema, pool=4,
                   extra="fraiseql_pool_queue 16 timeout=30s;").start()
    warm = [threading.Thread(target=n.post, args=("{ slow { id } }",))
            for _ in range(4)]
    for t in warm:
        t.start()
    for t in warm:
        t.join()
    assert wait_for(lambda: n.backends(pg) == 4, 5), n.backends(pg)
    _assert_exhaustion(_exhaust(n))
    assert "connection queue is full" in n.log()
    assert n.post(Q_THING1).json() == THING1
    assert n.backends(pg) == 4


def test_pool_exhaustion_cold_pool(make_nginx, pg, half_schema):
    """The same with no connection open yet, and connections that take
    0.3 s to open (a distant server; here a relay that waits): the
    requests waiting for the 4 being opened take no queue place, so again
    4 + 16 are served."""
    slow_connect = Proxy(pg.port, delay=0.3)
    try:
        n = make_nginx(pg=Db(slow_connect.conninfo(pg)), schema=half_schema,
                       pool=4, extra="fraiseql_pool_queue 16 timeout=30s;")
        n.start()
        assert n.backends(pg) == 0
        results = _exhaust(n)
        assert wait_for(lambda: n.backends(pg) == 4, 5), n.backends(pg)
        _assert_exhaustion(results)
    finally:
        slow_connect.close()


# 8. Reload under load ------------------------------------------------------

def _reload_under_load(n, query, want, threads, reloads=5, every=1.6):
    stop = threading.Event()
    ok = []
    failed = []

    def loop():
        while not stop.is_set():
            try:
                # a new connection each time: a keep-alive connection that
                # an old worker closes as the next request goes out is
                # HTTP's own race, not the module's
                r = requests.post(n.url, json={"query": query}, timeout=15,
                                  headers={"Connection": "close"})
                if r.status_code == 200 and r.json() == want:
                    ok.append(1)
                else:
                    failed.append((r.status_code, r.text))
            except requests.RequestException as e:
                failed.append(repr(e))

    old = set()
    ts = [threading.Thread(target=loop) for _ in range(threads)]
    for t in ts:
        t.start()
    try:
        for _ in range(reloads):
            time.sleep(every)
            before = workers(n)
            old |= before
            r = n.cmd("-s", "reload")
            # under AddressSanitizer the signalling nginx exits 1 on
            # nginx's own leaks (its log has them, stderr nothing)
            assert r.returncode == 0 or (ASAN and not r.stderr), r.stderr
            # a new worker took over
            assert wait_for(lambda: workers(n) - before, 5)
        time.sleep(every)
    finally:
        stop.set()
        for t in ts:
            t.join(30)
    return ok, failed, old


def _assert_reloaded(n, pg, old, pool):
    # the old workers finish and exit; the new one alone holds a pool
    assert wait_for(lambda: len(workers(n)) == 1, 10), workers(n)
    new = workers(n)
    assert not new & old, (new, old)
    assert not [p for p in old if alive(p)]
    assert wait_for(lambda: n.backends(pg) <= pool, 5), n.backends(pg)
    assert n.post(Q_THING1).json() == THING1


def test_reload_under_load_loses_no_request(make_nginx, pg):
    """4 clients, one slow root field each, pool 4: five reloads in ~10 s
    and every answer is whole and right."""
    n = make_nginx(pool=4).start()
    want = {"data": {"slow": [{"id": 1, "label": "slow"}]}}
    ok, failed, old = _reload_under_load(n, "{ slow { id label } }", want, 4)
    assert failed == []
    assert len(ok) > 100
    _assert_reloaded(n, pg, old, 4)


def test_reload_under_load_with_queued_requests(make_nginx, pg):
    """The same with more clients than connections: requests queue in the
    worker at the moment it is told to exit, and it serves them before it
    closes its connections."""
    n = make_nginx(pool=2, extra="fraiseql_pool_queue 64 timeout=2s;")
    n.start()
    want = {"data": {"slow": [{"id": 1, "label": "slow"}]}}
    ok, failed, old = _reload_under_load(n, "{ slow { id label } }", want,
                                         6, reloads=5, every=0.8)
    assert failed == []
    assert len(ok) > 50
    _assert_reloaded(n, pg, old, 2)


# 9. Replicas ---------------------------------------------------------------

PRIMARY_NAME = "O'Brien \"quoted\" \\ back"
Q_NAME = "{ thing(id: 1) { name } }"


def _name(r):
    if r.status_code != 200:
        return None
    return r.json()["data"]["thing"]["name"]


@pytest.fixture
def replica(make_pg):
    """A second cluster with the same data but for thing 1's name."""
    rep = make_pg()
    rep.execute("UPDATE tb_thing SET data = jsonb_set(data, '{name}',"
                " '\"replica\"') WHERE id = 1")
    return rep


def _with_replica(make_nginx, pg, rep, pool=2):
    return configure(
        make_nginx, pg=pg, pool=pool,
        http_extra="fraiseql_database \"%s\" role=replica;" % conninfo(rep)
    ).start()


def test_reads_go_to_the_replica(replica, make_nginx, pg):
    n = _with_replica(make_nginx, pg, replica, pool=4)
    for _ in range(5):
        assert _name(n.post(Q_NAME)) == "replica"
    results = []

    def one():
        results.append(_name(n.post(Q_NAME)))

    threads = [threading.Thread(target=one) for _ in range(20)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(10)
    assert results == ["replica"] * 20
    assert 1 <= n.backends(replica) <= 4
    assert n.backends(pg) == 0


def _poll(n, seconds, step=0.05):
    out = []
    t0 = time.time()
    while time.time() - t0 < seconds:
        r = n.post(Q_NAME)
        out.append((time.time() - t0, r))
        time.sleep(step)
    return out


def test_replica_down_then_back(replica, make_nginx, pg):
    """The replica stops: reads go to the primary, none fails (a read
    whose replica connection fails chooses again); it comes back: reads
    return to it after the backoff (at most 5 s)."""
    n = _with_replica(make_nginx, pg, replica)
    assert _name(n.post(Q_NAME)) == "replica"
    replica.stop()
    seen = _poll(n, 3)
    names = [_name(r) for _, r in seen]
    assert names == [PRIMARY_NAME] * len(names), [
        (round(t, 2), r.status_code) for t, r in seen]
    assert len(names) >= 10
    assert n.backends(pg) >= 1
    assert_health(n)
    # the replica was tried again each time its backoff expired
    assert "cannot connect to postgresql" in n.log()

    replica.start()
    t0 = time.time()
    back = wait_for(lambda: _name(n.post(Q_NAME)) == "replica", 6.5, 0.1)
    assert back, time.time() - t0
    for _ in range(5):
        assert _name(n.post(Q_NAME)) == "replica"
    assert n.backends(replica) >= 1
    # the primary's connection waits idle in its pool, no more
    assert n.backends(pg) <= 2


CREATE_NOTE = ('mutation ($b: String!) { createNote(input: {body: $b}) {'
               ' ... on NoteSuccess { note { body } } } }')


def test_mutations_go_to_the_primary(replica, make_pg, make_nginx):
    """Writes never go to a replica: they run on the primary, and fail
    when it is down while reads carry on at the replica."""
    primary = make_pg()
    n = _with_replica(make_nginx, primary, replica)
    assert _name(n.post(Q_NAME)) == "replica"
    for body in ("one", "two", "three"):
        r = n.post(CREATE_NOTE, {"b": body})
        assert r.json() == {"data": {"createNote": {"note": {"body": body}}}}
    assert primary.query("SELECT body FROM tb_note ORDER BY id") == [
        ("one",), ("two",), ("three",)]
    assert replica.query("SELECT count(*) FROM tb_note") == [(0,)]
    assert n.backends(primary) >= 1

    primary.stop()
    for _ in range(3):
        assert_unavailable(n.post(CREATE_NOTE, {"b": "lost"}))
        assert _name(n.post(Q_NAME)) == "replica"
    assert replica.query("SELECT count(*) FROM tb_note") == [(0,)]


def test_two_primaries_share_the_load(make_pg, make_nginx, pg):
    other = make_pg()
    n = configure(make_nginx, pg=pg, pool=4,
                  http_extra="fraiseql_database \"%s\";"
                  % conninfo(other)).start()
    results = []

    def one():
        r = n.post("{ slow { id } }")
        results.append((r.status_code, r.json()))

    threads = [threading.Thread(target=one) for _ in range(50)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert results == [(200, {"data": {"slow": [{"id": 1}]}})] * 50
    # least busy first: both servers took statements, each within its pool
    assert 1 <= n.backends(pg) <= 4
    assert 1 <= n.backends(other) <= 4

    # one primary down: the other serves every request
    other.stop()
    seen = _poll(n, 1.5)
    names = [_name(r) for _, r in seen]
    assert names == [PRIMARY_NAME] * len(names), [
        (round(t, 2), r.status_code) for t, r in seen]


# 10. Pool minimum, idle timeout, lifetime ----------------------------------

def test_pool_min_opens_at_start(make_nginx, pg):
    n = make_nginx(pool=4, extra="fraiseql_pool_min 2;").start()
    # no request yet
    assert wait_for(lambda: n.backends(pg) == 2, 3), n.backends(pg)
    time.sleep(0.3)
    assert n.backends(pg) == 2
    assert n.post(Q_THING1).json() == THING1
    assert n.backends(pg) == 2


def test_pool_min_reopens_lost_connections(make_nginx, pg):
    """pg_terminate_backend on the warm connections while the worker is
    stopped (so that each socket holds the FATAL message and the EOF at
    once, as happens by chance under load): the worker sees both gone
    and reopens two without a request."""
    n = make_nginx(pool=4, extra="fraiseql_pool_min 2;").start()
    assert wait_for(lambda: n.backends(pg) == 2, 3), n.backends(pg)
    (worker,) = workers(n)
    os.kill(worker, signal.SIGSTOP)
    try:
        pg.query("SELECT count(pg_terminate_backend(pid))"
                 " FROM pg_stat_activity WHERE application_name = %s",
                 app(n))
        assert wait_for(lambda: n.backends(pg) == 0, 3)
        time.sleep(0.1)
    finally:
        os.kill(worker, signal.SIGCONT)
    # the warm timer runs every second
    assert wait_for(lambda: n.backends(pg) == 2, 3), n.backends(pg)
    assert "idle connection closed" in n.log()


@pytest.mark.parametrize("pool_min", [0, 1])
def test_pool_idle_timeout(make_nginx, pg, pool_min):
    n = make_nginx(pool=4, extra="fraiseql_pool_min %d;\n"
                   "fraiseql_pool_idle_timeout 500ms;" % pool_min).start()
    burst = [threading.Thread(target=n.post, args=("{ slow { id } }",))
             for _ in range(4)]
    for t in burst:
        t.start()
    for t in burst:
        t.join()
    assert wait_for(lambda: n.backends(pg) == 4, 5), n.backends(pg)
    assert wait_for(lambda: n.backends(pg) == pool_min, 2.5), \
        n.backends(pg)
    time.sleep(1.0)
    assert n.backends(pg) == pool_min
    assert n.post(Q_THING1).json() == THING1
    assert n.backends(pg) == max(pool_min, 1)


def test_pool_lifetime(make_nginx, pg):
    """A connection past its lifetime serves its statement, is closed, and
    the next request opens a new one."""
    n = make_nginx(pool=1, extra="fraiseql_pool_lifetime 1s;").start()
    assert n.post(Q_THING1).json() == THING1
    first = pids(n, pg)
    assert len(first) == 1
    assert n.post(Q_THING1).json() == THING1
    assert pids(n, pg) == first          # young: reused
    time.sleep(1.2)
    assert n.post(Q_THING1).json() == THING1
    assert wait_for(lambda: n.backends(pg) == 0, 2)
    assert n.post(Q_THING1).json() == THING1
    second = pids(n, pg)
    assert len(second) == 1 and second != first


def test_quit_with_idle_connections_is_prompt(make_nginx, pg):
    n = make_nginx(pool=4, extra="fraiseql_pool_min 2;").start()
    burst = [threading.Thread(target=n.post, args=("{ slow { id } }",))
             for _ in range(4)]
    for t in burst:
        t.start()
    for t in burst:
        t.join()
    assert wait_for(lambda: n.backends(pg) == 4, 5), n.backends(pg)
    master = n.pid()
    worker = workers(n)
    t0 = time.time()
    os.kill(master, signal.SIGQUIT)
    assert wait_for(lambda: not alive(master), 5, 0.01)
    took = time.time() - t0
    assert not [p for p in worker if alive(p)]
    assert took < 2.0, took
    assert wait_for(lambda: n.backends(pg) == 0, 2)


# 11. Configuration errors --------------------------------------------------

NOPG = Db("host=127.0.0.1 port=1 dbname=x")


@pytest.mark.parametrize("http_extra,extra,reason", [
    ('fraiseql_database "host=127.0.0.1 port=2 dbname=x" role=leader;', "",
     '"role=leader" is not "role=primary" or "role=replica"'),
    ("", "fraiseql_pool_min 9;",
     '"fraiseql_pool_min" 9 is over "fraiseql_pool_size" 4'),
    ("", "fraiseql_query_timeout 0;",
     '"fraiseql_query_timeout" must be more than 0'),
])
def test_bad_directives_fail_nginx_t(http_extra, extra, reason):
    r = Nginx(NOPG, SCHEMA, pool=4, http_extra=http_extra,
              extra=extra).cmd("-t")
    assert r.returncode != 0, r.stderr
    assert "[emerg]" in r.stderr and reason in r.stderr, r.stderr


def test_connectivity_directives_pass_nginx_t():
    r = Nginx(NOPG, SCHEMA, pool=4, http_extra=(
        'fraiseql_database "host=127.0.0.1 port=2 dbname=x" role=replica;\n'
        'fraiseql_database "host=127.0.0.1 port=3 dbname=x" role=primary;\n'
        "fraiseql_pool_min 2;\nfraiseql_pool_idle_timeout 30s;\n"
        "fraiseql_pool_lifetime 10m;\nfraiseql_connect_timeout 2s;\n"
        "fraiseql_query_timeout 15s;\n"
        "fraiseql_pool_queue 16 timeout=3s;")).cmd("-t")
    assert r.returncode == 0, r.stderr



# 10. Faults under load (what `make bench` measures, as checks) -------------

def _load(n, threads, query, want):
    """Clients posting query in a loop until stopped; returns (stop,
    join): join() gives the list of answers that were not `want`."""
    stop = threading.Event()
    bad = []

    def loop():
        while not stop.is_set():
            try:
                r = requests.post(n.url, json={"query": query}, timeout=15)
                if r.status_code != 200 or r.json() != want:
                    bad.append((time.time(), r.status_code, r.text[:200]))
            except requests.RequestException as e:
                bad.append((time.time(), 0, repr(e)))

    ts = [threading.Thread(target=loop) for _ in range(threads)]
    for t in ts:
        t.start()

    def join():
        stop.set()
        for t in ts:
            t.join(30)
        return bad

    return stop, join


def test_backends_killed_under_load_lose_no_request(make_nginx, pg):
    """Every backend of a busy pool terminated at once, five times: the
    queries caught on a dead connection run again on another (a
    connection that had served may have died with its neighbours), and
    no client sees an error."""
    n = make_nginx(pool=4).start()
    _, join = _load(n, 8, Q_THING1, THING1)
    killed = 0
    try:
        for _ in range(5):
            time.sleep(0.4)
            killed += pg.query("SELECT count(pg_terminate_backend(pid))"
                               " FROM pg_stat_activity"
                               " WHERE application_name = %s", app(n))[0][0]
    finally:
        bad = join()
    assert killed >= 10
    assert bad == []
    assert "terminating connection" in n.log()
    assert wait_for(lambda: n.backends(pg) <= 4, 5)
    assert_health(n)


def test_restart_under_load_backoff_counts_one_round(make_pg, make_nginx):
    """PostgreSQL restarts while 8 clients keep 4 connections busy: the
    connections that were opening side by side when it went away fail
    together and grow the backoff once, not once each (which took it to
    its 5 s ceiling), so the pool is back soon after the server."""
    own = make_pg()
    n = make_nginx(pg=own, pool=4).start()
    _, join = _load(n, 8, Q_THING1, THING1)
    try:
        time.sleep(0.5)
        own.stop()
        time.sleep(0.3)
        own.start()
        up = time.time()
        back = wait_for(lambda: n.post(Q_THING1).status_code == 200, 10,
                        0.02)
        delay = time.time() - up
    finally:
        bad = join()
    assert back
    # 100 + 200 + 400 ms of backoff at most while it was down
    assert delay < 2.5, delay
    # the failures were quick 503s while it was down, then none
    assert bad and all(code == 503 for _, code, _ in bad), bad[:3]
    assert bad[-1][0] < up + delay + 0.5
    assert_health(n)
