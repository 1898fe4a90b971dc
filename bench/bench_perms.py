#!/usr/bin/python3
"""The permissions zone's lookup (fraiseql_permissions, issue 16):
what a request pays to find its subject's roles and permissions in the
shared zone: the lock, the rbtree walk on the key's hash, the LRU move,
the names turned into the caller's bits.  Measured inside the worker on
the real zone: with error_log at debug_http, the module logs each
lookup's time (clock_gettime around it) with the caches as the request
left them, and of the same lookup again, hot; this script collects
them.  (At plain debug, nginx logs a line at each lock and unlock of the
zone's mutex, and the write would be timed too.)

nginx (one worker) and PostgreSQL with t/fixtures.sql; the zone is
filled with BENCH_PERMS_SUBJECTS subjects (1,000), then BENCH_PERMS_
REQUESTS requests (5,000) ask as subjects drawn round-robin.  Reported:
median, p90 and p99 of the hits in ns; target: median at most 1 us.

    /usr/bin/python3 bench/bench_perms.py     (make bench runs it)
"""

import os
import re
import statistics
import sys
import tempfile
import time

import jwt
import requests

BENCH = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(BENCH)
sys.path.insert(0, os.path.join(ROOT, "t"))

from conftest import Nginx, Postgres  # noqa: E402

SUBJECTS = int(os.environ.get("BENCH_PERMS_SUBJECTS", "1000"))
REQUESTS = int(os.environ.get("BENCH_PERMS_REQUESTS", "5000"))
SECRET = "a-bench-secret-of-more-than-thirty-two-bytes"


def main():
    pg = Postgres()
    n = None
    try:
        pg.load(os.path.join(ROOT, "conf-examples", "demo.sql"))
        pg.load(os.path.join(ROOT, "t", "fixtures.sql"))
        pg.execute("INSERT INTO tb_grant SELECT 'b' || i, '{manager}', "
                   "'{memo:read_secret}' FROM generate_series(1, %s) i",
                   SUBJECTS)
        d = tempfile.mkdtemp(prefix="fraiseql-bench-")
        key = os.path.join(d, "hs.key")
        with open(key, "w") as f:
            f.write(SECRET)
        n = Nginx(pg, os.path.join(ROOT, "t", "authz.graphql"),
                  log_level="debug_http", http_extra=(
                      "fraiseql_jwt required;\n"
                      "    fraiseql_jwt_key alg=HS256 file=%s;\n"
                      "    fraiseql_permissions function=app.fn_permissions"
                      " zone=perms:8m ttl=1h;\n" % key)).start()
        now = int(time.time())
        tokens = [jwt.encode({"sub": "b%d" % i, "iat": now,
                              "exp": now + 3600}, SECRET, algorithm="HS256")
                  for i in range(1, SUBJECTS + 1)]
        s = requests.Session()
        q = {"query": "{ __typename }"}

        def ask(t):
            r = s.post(n.url, json=q, timeout=30,
                       headers={"Authorization": "Bearer " + t})
            if r.status_code != 200:
                sys.exit("bench_perms: %d %s" % (r.status_code, r.text))

        for t in tokens:                      # the zone, filled
            ask(t)
        start = len(n.log())
        for i in range(REQUESTS):
            ask(tokens[i % SUBJECTS])
        log = n.log()[start:]
        pairs = re.findall(r"fraiseql permissions: lookup hit in (\d+) ns, "
                           r"again in (\d+) ns", log)
        misses = log.count("fraiseql permissions: lookup miss")
        if len(pairs) < REQUESTS * 0.99:
            sys.exit("bench_perms: %d hits for %d requests" % (len(pairs),
                                                               REQUESTS))
        for name, at in (("hot (again)", 1), ("as the request left the "
                                              "caches", 0)):
            ns = sorted(int(p[at]) for p in pairs)
            med = statistics.median(ns)
            print("permissions zone lookup, %s: %d subjects, %d hits, %d "
                  "misses: median %d ns, p90 %d ns, p99 %d ns%s" % (
                      name, SUBJECTS, len(ns), misses, med,
                      ns[int(len(ns) * 0.9)], ns[int(len(ns) * 0.99)],
                      " (target: median <= 1000 ns: %s)"
                      % ("met" if med <= 1000 else "MISSED")
                      if at == 1 else ""))
    finally:
        if n is not None:
            n.stop()
        pg.destroy()


if __name__ == "__main__":
    main()
