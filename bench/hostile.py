#!/usr/bin/python3
"""The hostile soak: a well-behaved client beside 64 hostile connections.

The module in its default configuration (one worker, pool 16) serves a
well-behaved client (one keep-alive connection, a small list every 5 ms)
alone, then for BENCH_HOSTILE_SECONDS (60) beside 64 hostile connections:

  - wrk, 52 connections (hostile.lua), each request drawn from a mix:
    valid lists, invalid bodies and documents (bad JSON, syntax errors,
    unknown fields, 405 and 415 with smuggled bodies, nesting bombs),
    huge documents (30,000 aliases, 16,000 variable definitions, 2,000
    OR arms) and cache-busting documents (aliases renamed every time);
  - 12 slow readers: a 6 MB answer asked for on a socket with a 4 KB
    receive buffer that never reads, closed and asked again every 5 s.

Reported: the well-behaved client's p50/p99 alone and under attack
(target: p99 within 2x), its 503s (target: none), the worker's RSS
(target: within the configured budgets) and what the hostile clients got.
The report (Markdown) goes to stdout, bench/results/hostile.md and, unless
BENCH_RECORD=0, between the bench:hostile markers of docs/benchmarks.md.

    make bench-hostile        (make bench runs it too)
"""

import json
import os
import re
import socket
import subprocess
import sys
import tempfile
import threading
import time

BENCH = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(BENCH)
sys.path.insert(0, os.path.join(ROOT, "t"))

from conftest import Nginx, Postgres, SCHEMA  # noqa: E402

SECONDS = int(os.environ.get("BENCH_HOSTILE_SECONDS", "60"))
ALONE = int(os.environ.get("BENCH_HOSTILE_ALONE", "20"))
RESULTS = os.environ.get("BENCH_RESULTS", os.path.join(BENCH, "results"))
RECORD = os.environ.get("BENCH_RECORD", "1") != "0"
WRK_CONNECTIONS = 52
SLOW_READERS = 12
GOOD_QUERY = "{ things(limit: 2) { id name } }"
GOOD_PAUSE = 0.005


def log(*a):
    print(*a, file=sys.stderr, flush=True)


def http_post(body, ctype="application/json", method="POST"):
    return (("%s /graphql HTTP/1.1\r\nHost: x\r\nContent-Type: %s\r\n"
             "Content-Length: %d\r\n\r\n" % (method, ctype, len(body)))
            .encode() + body)


def read_response(s, buf):
    """One HTTP/1.1 answer off a keep-alive socket: (status, body, rest)."""
    while b"\r\n\r\n" not in buf:
        chunk = s.recv(65536)
        if not chunk:
            raise ConnectionError("closed")
        buf += chunk
    head, _, rest = buf.partition(b"\r\n\r\n")
    status = int(head.split(b" ", 2)[1])
    m = re.search(rb"(?i)content-length: *(\d+)", head)
    if m:
        n = int(m.group(1))
        while len(rest) < n:
            rest += s.recv(65536)
        return status, rest[:n], rest[n:]
    body = b""
    while True:
        while b"\r\n" not in rest:
            rest += s.recv(65536)
        size, _, rest = rest.partition(b"\r\n")
        size = int(size, 16)
        while len(rest) < size + 2:
            rest += s.recv(65536)
        body += rest[:size]
        rest = rest[size + 2:]
        if size == 0:
            return status, body, rest


class Good(threading.Thread):
    """The well-behaved client: latencies of a small query, one at a time."""

    def __init__(self, port):
        super().__init__(daemon=True)
        self.port = port
        self.stop = threading.Event()
        self.lat = []
        self.statuses = {}
        self.failures = 0
        self.req = http_post(json.dumps({"query": GOOD_QUERY}).encode())

    def run(self):
        s = None
        buf = b""
        while not self.stop.is_set():
            try:
                if s is None:
                    s = socket.create_connection(("127.0.0.1", self.port),
                                                 10)
                    s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
                    buf = b""
                t0 = time.perf_counter()
                s.sendall(self.req)
                status, body, buf = read_response(s, buf)
                dt = time.perf_counter() - t0
                self.lat.append(dt)
                self.statuses[status] = self.statuses.get(status, 0) + 1
                if status != 200 or b'"errors"' in body:
                    self.failures += 1
            except (OSError, ConnectionError, ValueError):
                self.failures += 1
                if s is not None:
                    s.close()
                s = None
            time.sleep(GOOD_PAUSE)
        if s is not None:
            s.close()


class SlowReaders(threading.Thread):
    """Sockets that ask for a large answer and never read it."""

    def __init__(self, port, count):
        super().__init__(daemon=True)
        self.port = port
        self.count = count
        self.stop = threading.Event()
        self.opened = 0
        q = "{ " + " ".join("f%d: bulk { id title body }" % i
                            for i in range(4)) + " }"
        self.req = http_post(json.dumps({"query": q}).encode())

    def run(self):
        socks = []
        while not self.stop.is_set():
            for s in socks:
                s.close()
            socks = []
            for _ in range(self.count):
                try:
                    s = socket.socket()
                    s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
                    s.connect(("127.0.0.1", self.port))
                    s.sendall(self.req)
                    socks.append(s)
                    self.opened += 1
                except OSError:
                    pass
            self.stop.wait(5)
        for s in socks:
            s.close()


def percentile(xs, p):
    xs = sorted(xs)
    if not xs:
        return float("nan")
    return xs[min(len(xs) - 1, int(round(p / 100.0 * (len(xs) - 1))))]


def worker_pid(n):
    master = n.pid()
    with open("/proc/%d/task/%d/children" % (master, master)) as f:
        return int(f.read().split()[0])


def rss_kb(pid):
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


LUA = r"""
-- hostile.lua: each request drawn from the mix; a pause between them
math.randomseed(os.time() + tonumber(tostring({}):sub(8), 16))
local n = 0
local function body(q, vars)
  local b = '{"query": "' .. q .. '"'
  if vars then b = b .. ', "variables": ' .. vars end
  return b .. '}'
end
local function aliases(count, prefix)
  local t = {}
  for i = 1, count do t[#t + 1] = prefix .. i .. ": id" end
  return table.concat(t, " ")
end
local huge_aliases = body("{ things(limit: 1) { " .. aliases(30000, "a")
  .. " } }")
local vdefs = {}
for i = 1, 16000 do vdefs[#vdefs + 1] = "$v" .. i .. ": Int" end
local huge_vars = body("query(" .. table.concat(vdefs, " ")
  .. ") { __typename }")
local arms = {}
for i = 1, 2000 do arms[#arms + 1] = '{title: {eq: \"t' .. i .. '\"}}' end
local huge_or = body("{ posts(where: {OR: [" .. table.concat(arms, ",")
  .. "]}) { id } }")
local deep = string.rep("[", 100000) .. string.rep("]", 100000)
local smuggled = "GET /graphql?query=%7B__typename%7D HTTP/1.1\r\nHost: x\r\n\r\n"
local json = {["Content-Type"] = "application/json"}

request = function()
  n = n + 1
  local r = math.random(100)
  if r <= 30 then
    return wrk.format("POST", "/graphql", json,
      body("{ posts(limit: 20) { id title author { firstName } } }"))
  elseif r <= 40 then
    return wrk.format("POST", "/graphql", json, '{"query": "{ things { ')
  elseif r <= 48 then
    return wrk.format("POST", "/graphql", json,
      body("{ things { id nope" .. n .. " } }"))
  elseif r <= 53 then
    return wrk.format("PUT", "/graphql", json, smuggled)
  elseif r <= 58 then
    return wrk.format("POST", "/graphql", {["Content-Type"] = "text/plain"},
      smuggled)
  elseif r <= 62 then
    return wrk.format("POST", "/graphql", json, deep)
  elseif r <= 64 then
    return wrk.format("POST", "/graphql", json, huge_aliases)
  elseif r <= 65 then
    return wrk.format("POST", "/graphql", json, huge_vars)
  elseif r <= 66 then
    return wrk.format("POST", "/graphql", json, huge_or)
  else
    -- valid, a new document every time: no plan cache hit
    local p = "c" .. n .. "x" .. math.random(1000000) .. "_"
    return wrk.format("POST", "/graphql", json,
      body("{ " .. p .. "t: things(limit: 2) { " .. aliases(40, p)
           .. " } }"))
  end
end

delay = function()
  return %(delay)d
end

local codes = {}
response = function(status, headers, body)
  codes[status] = (codes[status] or 0) + 1
end

done = function(summary, latency, requests)
  io.write("codes")
  for k, v in pairs(codes) do io.write(" " .. k .. "=" .. v) end
  io.write("\n")
end
"""


def run():
    report = {}
    log("hostile: starting PostgreSQL")
    pg = Postgres()
    ngx = None
    try:
        pg.load(os.path.join(ROOT, "conf-examples", "demo.sql"))
        pg.load(os.path.join(ROOT, "t", "fixtures.sql"))
        ngx = Nginx(pg, SCHEMA, pool=16, log_level="warn").start()
        port = ngx.port
        wpid = worker_pid(ngx)

        # warm: connections, plans
        good = Good(port)
        good.start()
        time.sleep(2)
        good.stop.set()
        good.join()

        rss0 = rss_kb(wpid)
        log("hostile: the well-behaved client alone, %ds" % ALONE)
        alone = Good(port)
        alone.start()
        time.sleep(ALONE)
        alone.stop.set()
        alone.join()

        log("hostile: beside 64 hostile connections, %ds" % SECONDS)
        lua = tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False)
        lua.write(LUA.replace("%(delay)d",
                              os.environ.get("BENCH_HOSTILE_DELAY", "20")))
        lua.close()
        wrk = subprocess.Popen(
            ["wrk", "-t", "2", "-c", str(WRK_CONNECTIONS), "-d",
             "%ds" % SECONDS, "--timeout", "30s", "-s", lua.name,
             "http://127.0.0.1:%d" % port],
            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        slow = SlowReaders(port, SLOW_READERS)
        slow.start()
        time.sleep(2)   # the attack is on
        loaded = Good(port)
        loaded.start()
        rss_max = rss0
        t_end = time.time() + SECONDS - 4
        while time.time() < t_end:
            rss_max = max(rss_max, rss_kb(wpid))
            time.sleep(0.5)
        loaded.stop.set()
        loaded.join()
        slow.stop.set()
        slow.join()
        out = wrk.communicate()[0]
        os.unlink(lua.name)
        time.sleep(2)
        rss_after = rss_kb(wpid)
        idle = pg.query("SELECT count(*) FILTER (WHERE state = 'idle'),"
                        " count(*) FROM pg_stat_activity"
                        " WHERE application_name = %s",
                        "fraiseql-%d" % port)[0]
        problems = ngx.problems()

        m = re.search(r"(\d+) requests in", out)
        codes = re.search(r"codes(.*)", out)
        report.update(
            alone_n=len(alone.lat),
            alone_p50=percentile(alone.lat, 50) * 1e3,
            alone_p99=percentile(alone.lat, 99) * 1e3,
            loaded_n=len(loaded.lat),
            loaded_p50=percentile(loaded.lat, 50) * 1e3,
            loaded_p99=percentile(loaded.lat, 99) * 1e3,
            loaded_max=max(loaded.lat) * 1e3 if loaded.lat else 0,
            loaded_statuses=loaded.statuses,
            loaded_failures=loaded.failures,
            hostile_requests=int(m.group(1)) if m else 0,
            hostile_codes=codes.group(1).strip() if codes else "",
            slow_requests=slow.opened,
            rss0=rss0, rss_max=rss_max, rss_after=rss_after,
            pool_idle=idle[0], pool_total=idle[1],
            problems=len(problems))
        if problems:
            log("\n".join(problems[:5]))
    finally:
        if ngx is not None:
            ngx.stop()
        pg.destroy()
    return report


def markdown(r):
    budget_mb = 16 + 64 * (128 + 1024) / 1024.0
    ratio = r["loaded_p99"] / r["alone_p99"]
    lines = [
        "Hostile soak (`make bench-hostile`, %s): one worker, pool 16, "
        "defaults; a well-behaved client (`%s`, one keep-alive "
        "connection, a request every 5 ms) alone for %d s, then for %d s "
        "beside 64 hostile connections (wrk, 52 connections, a mixed "
        "request every 20 ms each: valid lists, invalid bodies and "
        "documents, 405/415 with smuggled bodies, nesting bombs, 30,000 "
        "aliases, 16,000 variable definitions, 2,000 OR arms, a new "
        "document every time; and 12 readers that never read a 6 MB "
        "answer, renewed every 5 s)." % (time.strftime("%Y-%m-%d"),
                                         GOOD_QUERY, ALONE, SECONDS),
        "",
        "| | requests | p50 ms | p99 ms | max ms | statuses |",
        "|---|---:|---:|---:|---:|---|",
        "| alone | %d | %.2f | %.2f | | |" % (
            r["alone_n"], r["alone_p50"], r["alone_p99"]),
        "| under attack | %d | %.2f | %.2f | %.1f | %s |" % (
            r["loaded_n"], r["loaded_p50"], r["loaded_p99"],
            r["loaded_max"], ", ".join("%s: %d" % kv for kv in
                                        sorted(r["loaded_statuses"]
                                               .items()))),
        "",
        "- p99 under attack ÷ alone: **%.2f×** (target ≤ 2×: %s); "
        "503s seen by the well-behaved client: **%d** (target 0: %s); "
        "its failed requests: %d."
        % (ratio, "met" if ratio <= 2 else "NOT MET",
           r["loaded_statuses"].get(503, 0),
           "met" if r["loaded_statuses"].get(503, 0) == 0 else "NOT MET",
           r["loaded_failures"]),
        "- hostile requests answered: %d by wrk (%s), %d slow readers."
        % (r["hostile_requests"], r["hostile_codes"], r["slow_requests"]),
        "- worker RSS: %.1f MB before, %.1f MB at most, %.1f MB after "
        "(growth %.1f MB; the budgets allow %.0f MB: plan cache 16 MB + 64 "
        "requests × (128 KB of answer buffers + a 1 MB body): %s)."
        % (r["rss0"] / 1024.0, r["rss_max"] / 1024.0,
           r["rss_after"] / 1024.0, (r["rss_max"] - r["rss0"]) / 1024.0,
           budget_mb,
           "met" if (r["rss_max"] - r["rss0"]) / 1024.0 <= budget_mb
           else "NOT MET"),
        "- after: %d of %d pooled connections idle; %d [alert]/[emerg] "
        "lines in the error log." % (r["pool_idle"], r["pool_total"],
                                     r["problems"]),
    ]
    return "\n".join(lines) + "\n"


def record(md):
    os.makedirs(RESULTS, exist_ok=True)
    with open(os.path.join(RESULTS, "hostile.md"), "w") as f:
        f.write(md)
    if not RECORD:
        return
    path = os.path.join(ROOT, "docs", "benchmarks.md")
    with open(path) as f:
        text = f.read()
    begin, end = "<!-- bench:hostile -->", "<!-- /bench:hostile -->"
    if begin in text:
        text = re.sub(re.escape(begin) + ".*?" + re.escape(end),
                      begin + "\n" + md + end, text, flags=re.S)
    else:
        text += "\n## Hostile clients\n\n" + begin + "\n" + md + end + "\n"
    with open(path, "w") as f:
        f.write(text)


def main():
    r = run()
    md = markdown(r)
    print(md)
    record(md)


if __name__ == "__main__":
    main()
