#!/usr/bin/python3
"""The rate and cost zones' check (fraiseql_limit_zone, issue 17): what a
request pays for its location's zones of one kind, request zones once the
caller is known, cost zones once the plan is: for each zone the lock,
the rbtree walk, the unlock (would the charge fit?), then the lock again,
the node found or made, the bucket drained and charged, the unlock.
Measured inside the worker on the real zones: with error_log at
debug_http, the module logs the time of each check (clock_gettime around
it); this script collects them.  (At plain debug, nginx logs a line at
each lock and unlock of the zones' mutex, and the writes would be timed
too.)  The keys are evaluated before the clock starts: nginx's script
engine logs each variable it evaluates at debug_http ("http script var"),
a write the first version of this bench timed with the check (about a
microsecond); zones keyed alike share one evaluation.  A literal key
(no variable) is measured too, on a tree of one node.

nginx (one worker) and PostgreSQL with t/fixtures.sql; locations with a
request zone and a cost zone each, both nodelay with bursts no client can
reach, so that nothing is refused or delayed:

  kept     keyed on a header (X-Key), rate=1r/m and 1p/m: a key's bucket
           still holds something when its turn comes again, so the zones
           keep their keys: filled with BENCH_LIMITS_KEYS keys (1,000),
           then BENCH_LIMITS_REQUESTS requests (5,000) with the keys in
           turn, every check finding its key in a tree of 1,000;
  one      the same zones, always the same key (a tree of one node);
  literal  keyed on a literal: the same, without the line of the key;
  drained  keyed on the header, rate=100000000r/s and p/s: a bucket is
           empty a millisecond later, and a zone frees up to two empty
           nodes (the least recently used) each time it makes one, as
           limit_req does; the fill leaves a handful of keys and each
           check makes its key's node anew (a new client's path);
  wrk      kept's location under load (wrk, 16 connections, BENCH_LIMITS_
           SECONDS seconds, 3), the keys in turn: the worker busy, its
           caches warm (only where wrk is installed).

Reported: median, p90 and p99 in ns of each kind; target: median at
most 1 us.

    /usr/bin/python3 bench/bench_limits.py     (make bench runs it)
"""

import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile

import requests

BENCH = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(BENCH)
sys.path.insert(0, os.path.join(ROOT, "t"))

from conftest import SCHEMA, Nginx, Postgres  # noqa: E402

KEYS = int(os.environ.get("BENCH_LIMITS_KEYS", "1000"))
REQUESTS = int(os.environ.get("BENCH_LIMITS_REQUESTS", "5000"))
SECONDS = int(os.environ.get("BENCH_LIMITS_SECONDS", "3"))
QUERY = '{"query":"{ things(limit: 1) { id } }"}'
# bursts no client reaches: nothing is refused; nodelay: nor delayed
BURST = 1000000000

# location: the zones' key and rate (r or p per second or minute)
ZONES = (("kept", "$http_x_key", "1%s/m"),
         ("literal", "bench", "1%s/m"),
         ("drained", "$http_x_key", "100000000%s/s"))

WRK_LUA = """
local keys = {}
for i = 1, %d do keys[i] = "k" .. i end
local i = 0
local bad = 0
request = function()
  i = i %% #keys + 1
  return wrk.format("POST", "/graphql-kept", {["Content-Type"] =
                    "application/json", ["X-Key"] = keys[i]}, [[%s]])
end
response = function(status, headers, body)
  if status ~= 200 or string.find(body, '"errors"', 1, true) then
    bad = bad + 1
  end
end
done = function(s, latency, requests)
  io.write(string.format("BENCH requests=%%d bad=%%d\\n", s.requests, bad))
end
"""


def report(what, rate, log, want):
    """Prints the checks' figures of each kind; returns their medians."""
    meds = {}
    for kind, unit in (("request", "r"), ("cost", "p")):
        ns = sorted(int(x) for x in re.findall(
            r"fraiseql limit: %s zones passed in (\d+) ns" % kind, log))
        if len(ns) < want:
            sys.exit("bench_limits: %d %s checks for %d requests"
                     % (len(ns), kind, want))
        med = statistics.median(ns)
        print("%s zone check, %s (%s): %s checks: median %d ns, p90 %d "
              "ns, p99 %d ns (target: median <= 1000 ns: %s)" % (
                  kind, what, rate % unit, format(len(ns), ","), med,
                  ns[int(len(ns) * 0.9)], ns[int(len(ns) * 0.99)],
                  "met" if med <= 1000 else "MISSED"))
        meds[kind] = med
    return meds


def main():
    pg = Postgres()
    n = d = None
    try:
        pg.load(os.path.join(ROOT, "conf-examples", "demo.sql"))
        pg.load(os.path.join(ROOT, "t", "fixtures.sql"))
        zones, locs = "", ""
        for name, key, rate in ZONES:
            zones += ("fraiseql_limit_zone %s zone=%s_r:16m rate=%s;\n    "
                      "fraiseql_limit_zone %s zone=%s_p:16m rate=%s;\n    "
                      % (key, name, rate % "r", key, name, rate % "p"))
            locs += ("location /graphql-%s { fraiseql;\n"
                     "        fraiseql_limit zone=%s_r burst=%d nodelay;\n"
                     "        fraiseql_limit zone=%s_p burst=%d nodelay; }\n"
                     "    " % (name, name, BURST, name, BURST))
        n = Nginx(pg, SCHEMA, log_level="debug_http", http_extra=zones,
                  extra=locs).start()
        s = requests.Session()
        keys = ["k%d" % i for i in range(1, KEYS + 1)]

        def ask(name, k):
            r = s.post("http://127.0.0.1:%d/graphql-%s" % (n.port, name),
                       data=QUERY, timeout=30,
                       headers={"Content-Type": "application/json",
                                "X-Key": k})
            if r.status_code != 200 or b'"errors"' in r.content:
                sys.exit("bench_limits: %d %s" % (r.status_code, r.text))

        def since(start):
            with open(n.error_log, "rb") as f:
                f.seek(start)
                return f.read().decode()

        def run(what, name, rate, key=None):
            start = os.path.getsize(n.error_log)
            for i in range(REQUESTS):
                ask(name, key or keys[i % KEYS])
            return report(what, rate, since(start), REQUESTS)

        for k in keys:                        # the zones, filled
            ask("kept", k)
        med = {"kept": run("kept, %d keys in turn" % KEYS, "kept",
                           ZONES[0][2]),
               "one": run("one key", "kept", ZONES[0][2], keys[0]),
               "literal": run("literal key, no line", "literal",
                              ZONES[1][2], "-")}
        for k in keys:
            ask("drained", k)
        run("drained, %d keys in turn" % KEYS, "drained", ZONES[2][2])
        if shutil.which("wrk"):
            d = tempfile.mkdtemp(prefix="fraiseql-bench-")
            lua = os.path.join(d, "limits.lua")
            with open(lua, "w") as f:
                f.write(WRK_LUA % (KEYS, QUERY))
            start = os.path.getsize(n.error_log)
            out = subprocess.run(
                ["wrk", "-t1", "-c16", "-d%ds" % SECONDS, "-s", lua,
                 "http://127.0.0.1:%d/" % n.port], check=True,
                capture_output=True, text=True).stdout
            m = re.search(r"^BENCH requests=(\d+) bad=(\d+)$", out, re.M)
            if not m or int(m.group(2)):
                sys.exit("bench_limits: wrk: " + out)
            med["wrk"] = report("kept, %d keys in turn, wrk 16 connections"
                                % KEYS, ZONES[0][2], since(start),
                                int(m.group(1)))
        if n.problems():
            sys.exit("bench_limits: " + "\n".join(n.problems()))
    finally:
        if n is not None:
            n.stop()
            shutil.rmtree(n.prefix, ignore_errors=True)
        if d is not None:
            shutil.rmtree(d, ignore_errors=True)
        pg.destroy()


if __name__ == "__main__":
    main()
