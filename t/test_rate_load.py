"""Rate limits under load (issue 17, acceptance 2): 64 clients, each its
own token, share two workers and one request zone keyed on the verified
subject ($fraiseql_rate_key).  Sixty ask at less than the rate; for 60 s
four ask at five times it.  The sixty see no 429 and no change of latency
beyond noise (against 15 s of them alone); the four are held to the
zone's rate, within 10 %.  The clients run in two processes of their own
(the well-behaved, the greedy) so that Python's lock does not time one
group by the other.  Other processes on the machine move latency too: a
run whose latency moved is run again, twice at most (the rest must hold
in every run).  Latency under AddressSanitizer means nothing: the test
runs on the release build only."""

import multiprocessing as mp
import os
import shutil
import tempfile
import threading
import time

import pytest
import requests

from test_jwt import SECRET
from test_rate_limits import tok

ASAN = bool(os.environ.get("FRAISEQL_ASAN"))

RATE = 10           # r/s a client may make
BURST = 5
POLITE = 60         # clients under the rate ...
POLITE_RATE = 4     # ... at this many requests a second
GREEDY = 4          # clients over it ...
GREEDY_RATE = 50    # ... at this many
BASELINE = 15       # seconds of the polite alone
ABUSE = 60          # seconds with the greedy too

QUERY = {"query": "{ thing(id: 1) { id name } }"}


def client(url, token, rate, until, out):
    """Requests at rate a second until the time until; (time, status,
    latency) of each in out."""
    s = requests.Session()
    h = {"Authorization": "Bearer " + token}
    step = 1.0 / rate
    # clients start spread over a step, not all at once
    nxt = time.time() + step * (hash(token) % 1000) / 1000.0
    while True:
        now = time.time()
        if now >= until:
            return
        if nxt > now:
            time.sleep(nxt - now)
        nxt += step
        t0 = time.time()
        try:
            r = s.post(url, json=QUERY, headers=h, timeout=10)
            out.append((t0, r.status_code, time.time() - t0))
        except requests.RequestException:
            out.append((t0, 0, time.time() - t0))


def group(url, subs, rate, start, until, q):
    """A process of clients: each a thread; their results, by subject."""
    while time.time() < start:
        time.sleep(0.005)
    results = {s: [] for s in subs}
    threads = [threading.Thread(target=client,
                                args=(url, tok(s), rate, until, results[s]))
               for s in subs]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    q.put(results)


def pct(xs, p):
    xs = sorted(xs)
    return xs[min(len(xs) - 1, int(len(xs) * p))]


def scenario(n):
    """The two groups against n: (results by subject, the time t0 the
    polite started)."""
    ctx = mp.get_context("fork")
    q = ctx.Queue()
    t0 = time.time() + 2
    polite = ctx.Process(target=group, args=(
        n.url, ["polite%d" % i for i in range(POLITE)], POLITE_RATE,
        t0, t0 + BASELINE + ABUSE, q))
    greedy = ctx.Process(target=group, args=(
        n.url, ["greedy%d" % i for i in range(GREEDY)], GREEDY_RATE,
        t0 + BASELINE, t0 + BASELINE + ABUSE, q))
    polite.start()
    greedy.start()
    results = {}
    for _ in range(2):
        results.update(q.get(timeout=BASELINE + ABUSE + 60))
    polite.join()
    greedy.join()
    return results, t0


@pytest.mark.skipif(ASAN, reason="latency under AddressSanitizer")
def test_greedy_clients_are_held_the_others_unharmed(make_nginx):
    d = tempfile.mkdtemp(prefix="fraiseql-keys-")
    key = os.path.join(d, "hs.key")
    with open(key, "w") as f:
        f.write(SECRET)
    n = make_nginx(workers=2, pool=8, http_extra="""
    fraiseql_jwt required;
    fraiseql_jwt_key alg=HS256 file=%s;
    fraiseql_limit_zone $fraiseql_rate_key zone=load:1m rate=%dr/s;
    fraiseql_limit zone=load burst=%d nodelay;
    fraiseql_limit_log_level info;""" % (key, RATE, BURST)).start()

    # latency on a shared machine has noise of its own: a run whose
    # latency moved is run again (twice at most); the rest must hold in
    # every run
    try:
        for attempt in range(3):
            results, t0 = scenario(n)
            if check(results, t0, last=(attempt == 2)):
                break
            # the zone's buckets drain before the next run
            time.sleep(2)
    finally:
        shutil.rmtree(d, ignore_errors=True)


def check(results, t0, last):
    """Asserts what must hold; returns whether the latency held too (or
    asserts it, on the last run)."""
    calm = [r for s, rs in results.items() if s.startswith("polite")
            for r in rs]
    # the polite: never limited, nothing failed
    assert calm and all(st == 200 for _, st, _ in calm), \
        sorted({st for _, st, _ in calm})

    before = [lat for t, _, lat in calm if t < t0 + BASELINE - 1]
    during = [lat for t, _, lat in calm if t >= t0 + BASELINE + 1]
    b50, b95 = pct(before, .5), pct(before, .95)
    d50, d95 = pct(during, .5), pct(during, .95)

    held = []
    for s in ("greedy%d" % i for i in range(GREEDY)):
        rs = results[s]
        assert len(rs) > GREEDY_RATE * ABUSE * 0.8, (s, len(rs))
        ok = sum(1 for _, st, _ in rs if st == 200)
        assert all(st in (200, 429) for _, st, _ in rs)
        held.append(ok / ABUSE)

    print("\nrate load: polite p50 %.2f ms -> %.2f ms, p95 %.2f ms -> "
          "%.2f ms (%d requests); greedy held to %s r/s (rate %d)"
          % (b50 * 1000, d50 * 1000, b95 * 1000, d95 * 1000, len(calm),
             ", ".join("%.2f" % h for h in held), RATE))

    # held to the rate, within 10 % (burst included)
    for h in held:
        assert RATE * 0.9 <= h <= RATE * 1.1, held

    # no change beyond noise: a fraction of a millisecond or a little more
    calm_enough = (d50 <= max(b50 * 1.5, b50 + 0.002)
                   and d95 <= max(b95 * 2.0, b95 + 0.005))
    if last:
        assert calm_enough, (b50, d50, b95, d95)
    return calm_enough
