"""The connection pool under load, database failures and slow clients."""

import json
import os
import re
import signal
import socket
import subprocess
import tempfile
import threading
import time

import pytest
import requests

from conftest import ASAN, ROOT, Postgres, dechunk

WRK_SCRIPT = """
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
wrk.body = %s
"""


def wrk(url, query, connections, seconds):
    with tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False) as f:
        f.write(WRK_SCRIPT % json.dumps(json.dumps({"query": query})))
    try:
        out = subprocess.run(["wrk", "-t", "2", "-c", str(connections), "-d",
                              "%ds" % seconds, "-s", f.name, url],
                             capture_output=True, text=True, check=True,
                             timeout=seconds + 30).stdout
    finally:
        os.unlink(f.name)
    return out


def test_load_64_clients_pool_4(make_nginx, pg):
    n = make_nginx(pool=4, workers=2).start()
    out = wrk(n.url, "{ things(limit: 2) { id name } users(limit: 3)"
              " { email } }", 64, 10)
    requests_done = int(re.search(r"(\d+) requests in", out).group(1))
    assert requests_done > 1000, out
    assert "Non-2xx" not in out, out
    assert "Socket errors" not in out, out
    # the pools hold 4 connections per worker, no more
    assert n.backends(pg) <= 8
    # every response was a complete GraphQL answer
    r = n.post("{ things(limit: 2) { id } }")
    assert r.json() == {"data": {"things": [{"id": 1}, {"id": 2}]}}


def test_concurrent_slow_queries_queue_for_the_pool(make_nginx, pg):
    n = make_nginx(pool=2).start()
    results = []

    def one():
        r = n.post("{ slow { id label } }")
        results.append((r.status_code, r.json()))

    threads = [threading.Thread(target=one) for _ in range(10)]
    t0 = time.time()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    elapsed = time.time() - t0
    assert all(r == (200, {"data": {"slow": [{"id": 1, "label": "slow"}]}})
               for r in results), results
    # ten 0.2 s queries on two connections: queued, not refused
    assert elapsed >= 0.9
    assert n.backends(pg) <= 2


@pytest.mark.parametrize("pipeline", ["on", "off"])
def test_several_root_fields(make_nginx, pg, pipeline):
    """Three slow root fields (0.2 s each): in one pipeline on one
    connection, one after the other; with fraiseql_pipeline off, at once
    on three connections."""
    n = make_nginx(pool=4, extra="fraiseql_pipeline %s;" % pipeline).start()
    n.post("{ slow { id } }")   # warm the pool
    t0 = time.time()
    r = n.post("{ a: slow { id } b: slow { id } c: slow { id } }")
    elapsed = time.time() - t0
    assert r.json() == {"data": {"a": [{"id": 1}], "b": [{"id": 1}],
                                 "c": [{"id": 1}]}}
    if pipeline == "on":
        assert elapsed >= 0.6, elapsed
        assert n.backends(pg) == 1
    else:
        assert elapsed < 0.55, elapsed
        assert n.backends(pg) == 3


def _own_cluster():
    p = Postgres()
    p.load(os.path.join(ROOT, "conf-examples", "demo.sql"))
    p.load(os.path.join(ROOT, "t", "fixtures.sql"))
    return p


def test_database_down_fails_fast_and_recovers(make_nginx):
    own = _own_cluster()
    try:
        n = make_nginx(pg=own, pool=2).start()
        q = "{ things(limit: 1) { id } }"
        assert n.post(q).json() == {"data": {"things": [{"id": 1}]}}

        own.stop()
        t0 = time.time()
        r = n.post(q)
        assert r.status_code == 503
        assert r.headers.get("retry-after")
        body = r.json()
        assert "data" not in body
        assert body["errors"][0]["extensions"]["code"] == \
            "DATABASE_UNAVAILABLE"
        for _ in range(5):
            r = n.post(q)
            assert r.status_code == 503
        assert time.time() - t0 < 2.0
        h = requests.get("http://127.0.0.1:%d/health" % n.port, timeout=1)
        assert h.text == "ok\n"

        own.start()
        deadline = time.time() + 15
        while time.time() < deadline:
            r = n.post(q)
            if r.status_code == 200:
                break
            time.sleep(0.2)
        assert r.json() == {"data": {"things": [{"id": 1}]}}
        assert "cannot connect to postgresql" in n.log()
    finally:
        own.destroy()


def test_unresponsive_database_does_not_block_the_worker(make_nginx, pg):
    """A server that accepts and never answers: only GraphQL waits."""
    lsn = socket.socket()
    lsn.bind(("127.0.0.1", 0))
    lsn.listen(64)
    port = lsn.getsockname()[1]
    held = []

    def accept():
        try:
            while True:
                c, _ = lsn.accept()
                held.append(c)
        except OSError:
            pass

    threading.Thread(target=accept, daemon=True).start()

    class Fake:
        conninfo = "host=127.0.0.1 port=%d dbname=x user=x " \
                   "connect_timeout=1" % port

    try:
        n = make_nginx(pg=Fake(), pool=2).start()
        result = {}

        def slow():
            t0 = time.time()
            r = n.post("{ things { id } }")
            result["status"] = r.status_code
            result["time"] = time.time() - t0

        t = threading.Thread(target=slow)
        t.start()
        time.sleep(0.3)
        # the worker is waiting on PostgreSQL, yet answers at once
        for _ in range(20):
            t0 = time.time()
            h = requests.get("http://127.0.0.1:%d/health" % n.port,
                             timeout=2)
            assert h.status_code == 200
            assert time.time() - t0 < 0.2
        t.join(30)
        assert result["status"] == 503
        # the module's connect timeout (5 s) ends the wait
        assert 4 <= result["time"] < 10
    finally:
        lsn.close()
        for c in held:
            c.close()


def _raw_post(query, close=True):
    """The bytes of a POST, for tests that read the answer at their pace."""
    body = json.dumps({"query": query})
    return ("POST /graphql HTTP/1.1\r\nHost: x\r\n%s"
            "Content-Type: application/json\r\nContent-Length: %d\r\n\r\n%s"
            % ("Connection: close\r\n" if close else "", len(body),
               body)).encode()


def _rss_kb(pid):
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


def _worker_pid(n):
    out = subprocess.run(["pgrep", "-P", str(n.pid())], capture_output=True,
                         text=True).stdout.split()
    return int(out[0])


@pytest.mark.skipif(ASAN, reason="AddressSanitizer's quarantine holds "
                    "freed memory: RSS says nothing under it")
def test_large_answer_streams_with_flat_memory(make_nginx):
    """100,000 rows to a slow reader: the worker holds no whole answer."""
    n = make_nginx(pool=2).start()
    n.post("{ items(limit: 10) { id } }")
    worker = _worker_pid(n)
    base = _rss_kb(worker)
    req = _raw_post("{ items { id label price groupNo } }")
    peak = base
    total = 0
    with socket.create_connection(("127.0.0.1", n.port), 30) as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 16384)
        s.sendall(req)
        while True:
            chunk = s.recv(16384)
            if not chunk:
                break
            total += len(chunk)
            if total % 10 == 0 or total < 200000:
                time.sleep(0.0005)
            peak = max(peak, _rss_kb(worker))
    assert total > 6000000
    growth = peak - base
    # the answer is over 6 MB; the worker grows by far less
    assert growth < 3000, (base, peak)


def test_queue_full_and_queue_timeout_are_503(make_nginx, pg):
    n = make_nginx(pool=1, extra="fraiseql_pool_queue 1 timeout=500ms;")
    n.start()
    results = {}

    def one(name):
        t0 = time.time()
        r = n.post("{ slower { id } }")
        results[name] = (r.status_code, r.headers.get("retry-after"),
                         r.json(), time.time() - t0)

    threads = []
    for name in ("served", "waits", "refused"):
        t = threading.Thread(target=one, args=(name,))
        t.start()
        threads.append(t)
        time.sleep(0.15)
    for t in threads:
        t.join(10)

    assert results["served"][0] == 200
    assert results["served"][2] == {"data": {"slower": [{"id": 1}]}}
    status, retry, body, took = results["waits"]
    assert (status, retry) == (503, "1")
    assert "in time" in body["errors"][0]["message"]
    assert 0.4 < took < 1.4
    status, retry, body, took = results["refused"]
    assert (status, retry) == (503, "1")
    assert "Too many requests" in body["errors"][0]["message"]
    assert took < 0.3
    assert "connection queue is full" in n.log()
    # the pool recovers and serves again
    assert n.post("{ slow { id } }").json() == {"data": {"slow": [{"id": 1}]}}


def test_second_host_of_a_list_is_reached(make_nginx, pg):
    """libpq replaces its socket to try the next host: it is re-registered."""
    closed = socket.socket()
    closed.bind(("127.0.0.1", 0))
    dead_port = closed.getsockname()[1]
    closed.close()

    class Multi:
        conninfo = ("host=127.0.0.1,127.0.0.1 port=%d,%d dbname=%s "
                    "user=postgres" % (dead_port, pg.port, pg.dbname))

    n = make_nginx(pg=Multi(), pool=2).start()
    for _ in range(3):
        r = n.post("{ things(limit: 1) { id } }")
        assert r.json() == {"data": {"things": [{"id": 1}]}}, r.text


def test_client_gone_mid_stream(make_nginx, pg):
    """The reader leaves halfway: the connection is let go, nothing leaks."""
    n = make_nginx(pool=2).start()
    req = _raw_post("{ items { id label price } }", close=False)
    for _ in range(5):
        with socket.create_connection(("127.0.0.1", n.port), 10) as s:
            s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 8192)
            s.sendall(req)
            got = s.recv(8192)
            assert got.startswith(b"HTTP/1.1 200")
            time.sleep(0.1)
    time.sleep(0.5)
    for _ in range(3):
        assert n.post("{ things(limit: 1) { id } }").json() == {
            "data": {"things": [{"id": 1}]}}
    assert n.backends(pg) <= 2
    assert "not a JSON object" not in n.log()


@pytest.mark.parametrize("pipeline", ["on", "off"])
def test_terminated_backends_are_replaced(make_nginx, pg, pipeline):
    """pg_terminate_backend on the pool's connections: clients see nothing
    (a pipeline sent to a dead connection: each field runs again on its
    own connection)."""
    n = make_nginx(pool=2, extra="fraiseql_pipeline %s;" % pipeline).start()
    # a pipeline takes one connection; its fields, each on their own
    # after it failed, up to two
    least = 1 if pipeline == "on" else 2
    q = "{ a: things(limit: 1) { id } b: things(limit: 1) { id } }"
    want = {"data": {"a": [{"id": 1}], "b": [{"id": 1}]}}
    for _ in range(3):
        assert n.post(q).json() == want
        # a connection the answer did not wait for may still be starting:
        # PostgreSQL lists it once its startup packet is read
        deadline = time.time() + 3
        while not least <= n.backends(pg) <= 2 and time.time() < deadline:
            time.sleep(0.05)
        assert least <= n.backends(pg) <= 2
        pg.query("SELECT count(pg_terminate_backend(pid))"
                 " FROM pg_stat_activity WHERE application_name = %s",
                 "fraiseql-%d" % n.port)
        r = n.post(q)
        assert r.status_code == 200 and r.json() == want, r.text


def _kill_active(pg, n, timeout=5):
    deadline = time.time() + timeout
    while time.time() < deadline:
        killed = pg.query("SELECT count(pg_terminate_backend(pid))"
                          " FROM pg_stat_activity WHERE application_name = %s"
                          " AND state = 'active'", "fraiseql-%d" % n.port)
        if killed[0][0]:
            return True
        time.sleep(0.05)
    return False


def test_backend_killed_before_any_row_is_retried(make_nginx, pg):
    """Nothing was sent yet: the query runs again on a new connection."""
    n = make_nginx(pool=1).start()
    n.post("{ things(limit: 1) { id } }")
    result = {}

    def slow():
        result["r"] = n.post("{ slower { id } }")

    t = threading.Thread(target=slow)
    t.start()
    assert _kill_active(pg, n)
    t.join(10)
    assert result["r"].json() == {"data": {"slower": [{"id": 1}]}}
    assert "terminating connection" in n.log()
    assert n.backends(pg) <= 1


def test_backend_killed_mid_stream(make_nginx, pg):
    """Rows were already sent: the list ends, valid, with an error."""
    n = make_nginx(pool=1).start()
    req = _raw_post("{ items { id label price groupNo } }")
    data = b""
    with socket.create_connection(("127.0.0.1", n.port), 30) as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 8192)
        s.sendall(req)
        data += s.recv(8192)
        assert _kill_active(pg, n)
        while True:
            chunk = s.recv(65536)
            if not chunk:
                break
            data += chunk
    head, _, payload = data.partition(b"\r\n\r\n")
    assert b"200 OK" in head and b"chunked" in head
    answer = json.loads(dechunk(payload))
    assert 0 < len(answer["data"]["items"]) < 100000
    err = answer["errors"][0]
    assert err["extensions"]["code"] == "DATABASE_UNAVAILABLE"
    assert n.post("{ things(limit: 1) { id } }").json() == {
        "data": {"things": [{"id": 1}]}}
    assert n.backends(pg) <= 1


def test_statements_are_prepared_once_per_connection(make_nginx, pg):
    """The second run of a statement on a connection skips parse and plan;
    a new connection (after pg_terminate_backend) prepares it again."""
    n = make_nginx(pool=1).start()
    q = 'query ($n: Int) { things(where: {score: {gt: $n}}) { id } }'
    log = os.path.join(pg.dir, "log")
    pg.execute("ALTER SYSTEM SET log_statement = 'all'")
    pg.query("SELECT pg_reload_conf()")
    try:
        time.sleep(0.3)
        start = os.path.getsize(log)
        for v in (0, 10, 20):
            assert n.post(q, {"n": v}).status_code == 200
        pg.query("SELECT count(pg_terminate_backend(pid)) FROM"
                 " pg_stat_activity WHERE application_name = %s",
                 "fraiseql-%d" % n.port)
        time.sleep(0.2)
        for v in (0, 10):
            r = n.post(q, {"n": v})
            assert "errors" not in r.json(), r.text
        time.sleep(0.3)
        with open(log) as f:
            f.seek(start)
            lines = [l for l in f.read().splitlines() if "v_thing" in l]
    finally:
        pg.execute("ALTER SYSTEM RESET log_statement")
        pg.query("SELECT pg_reload_conf()")
    named = [l for l in lines if re.search(r"execute fq_[0-9a-f]{16}", l)]
    unnamed = [l for l in lines if "execute <unnamed>" in l]
    assert len(named) == 5, lines
    assert unnamed == [], lines


def test_graceful_shutdown_finishes_running_statements(make_nginx, pg):
    """nginx -s quit while a statement runs: the answer still arrives."""
    n = make_nginx(pool=1).start()
    n.post("{ things(limit: 1) { id } }")
    result = {}

    def slow():
        result["r"] = n.post("{ slower { id label } }")

    t = threading.Thread(target=slow)
    t.start()
    time.sleep(0.4)
    os.kill(n.pid(), signal.SIGQUIT)      # nginx -s quit
    t.join(15)
    assert result["r"].json() == {
        "data": {"slower": [{"id": 1, "label": "slower"}]}}
    deadline = time.time() + 10
    while time.time() < deadline and "exit\n" not in n.log():
        time.sleep(0.1)
    assert "open socket" not in n.log()
