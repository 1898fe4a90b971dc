"""Seeing it work (issue 19): the metrics zone read by Prometheus' own
parser, health endpoints, variables for log_format (a JSON access log and
an audit log of mutations), Server-Timing, and the W3C trace context
passed to PostgreSQL."""

import json
import os
import threading
import time

import pytest
import requests
from prometheus_client.parser import text_string_to_metric_families

from conftest import ASAN, schema_with
from test_rate_limits import keyfile  # noqa: F401

METRICS = """
    fraiseql_metrics_zone fq_metrics:1m operations=16;"""

LOCS = """
    location = /metrics { fraiseql_metrics; }
    location = /livez { fraiseql_health live; }
    location = /readyz { fraiseql_health ready; }"""


def post(n, query, variables=None, path="/graphql", **kw):
    body = {"query": query}
    if variables is not None:
        body["variables"] = variables
    return requests.post("http://127.0.0.1:%d%s" % (n.port, path),
                         json=body, timeout=30, **kw)


def scrape(n):
    r = requests.get("http://127.0.0.1:%d/metrics" % n.port, timeout=10)
    assert r.status_code == 200
    assert r.headers["Content-Type"].startswith("text/plain; version=0.0.4")
    fams = {f.name: f for f in text_string_to_metric_families(r.text)}
    return fams, r.text


def counted(n, total):
    """The scrape once total requests are counted: nginx logs a request
    (and so counts it) after its answer went out, later still when its
    connection lingers over an unread body."""
    deadline = time.time() + 10
    while True:
        fams, text = scrape(n)
        got = value(fams, "fraiseql_requests", "_total")
        if got >= total or time.time() > deadline:
            assert got == total, text
            return fams, text
        time.sleep(0.05)


def value(fams, family, suffix="", **labels):
    total = 0
    for s in fams[family].samples:
        if s.name == family + suffix and all(
                s.labels.get(k) == v for k, v in labels.items()):
            total += s.value
    return total


def check_histograms(fams):
    """Buckets never decrease, +Inf is the count, the sum is not below
    zero: what a histogram must be."""
    for f in fams.values():
        if f.type != "histogram":
            continue
        series = {}
        for s in f.samples:
            key = tuple(sorted((k, v) for k, v in s.labels.items()
                               if k != "le"))
            series.setdefault(key, {"b": [], "count": None, "sum": None})
            if s.name.endswith("_bucket"):
                series[key]["b"].append((float(s.labels["le"]), s.value))
            elif s.name.endswith("_count"):
                series[key]["count"] = s.value
            elif s.name.endswith("_sum"):
                series[key]["sum"] = s.value
        for key, h in series.items():
            counts = [v for _, v in sorted(h["b"])]
            assert counts == sorted(counts), (f.name, key, h)
            assert counts[-1] == h["count"], (f.name, key, h)
            assert h["sum"] >= 0


def test_metrics_count_what_was_sent(make_nginx, pg):
    """Concurrent load on two workers: the counters equal the requests
    sent, by type and result; histograms are consistent; the pool's
    gauges and the plan cache are there; a reload keeps it all."""
    n = make_nginx(workers=2, http_extra=METRICS, extra=LOCS).start()
    q = "query ByLimit($n: Int) { things(limit: $n) { id } }"
    errors = []

    def client(k):
        try:
            for i in range(25):
                r = post(n, q, {"n": 1 + (k + i) % 3})
                assert r.status_code == 200 and "errors" not in r.json()
        except Exception as e:      # noqa: BLE001 (reported below)
            errors.append(e)

    threads = [threading.Thread(target=client, args=(k,)) for k in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert not errors, errors

    # a validation error, a bad body, a database error, a mutation
    assert "errors" in post(n, "{ nope }").json()
    assert requests.post("http://127.0.0.1:%d/graphql" % n.port,
                         data="{", timeout=10,
                         headers={"Content-Type": "application/json"}
                         ).status_code == 400
    assert "errors" in post(n, '{ thing(id: "x") { id } }').json()

    fams, text = counted(n, 203)
    check_histograms(fams)
    assert value(fams, "fraiseql_requests", "_total",
                 operation_type="query", result="ok") == 200
    assert value(fams, "fraiseql_requests", "_total",
                 operation_type="query", result="db_error") == 1
    # "{ nope }" fails validation: 200 with errors (application/json)
    assert value(fams, "fraiseql_requests", "_total",
                 result="graphql_error") == 1
    assert value(fams, "fraiseql_requests", "_total",
                 operation_type="unknown", result="rejected") == 1
    assert value(fams, "fraiseql_request_duration_seconds", "_count",
                 operation_type="query") == 202
    assert value(fams, "fraiseql_operation_duration_seconds", "_count",
                 operation_name="ByLimit") == 200
    assert value(fams, "fraiseql_db_duration_seconds", "_count") == 201
    assert value(fams, "fraiseql_graphql_errors", "_total",
                 code="GRAPHQL_VALIDATION_FAILED") == 1
    assert value(fams, "fraiseql_graphql_errors", "_total",
                 code="BAD_REQUEST") == 1
    assert value(fams, "fraiseql_graphql_errors", "_total",
                 code="BAD_USER_INPUT") == 1
    assert value(fams, "fraiseql_db_errors", "_total",
                 sqlstate_class="22") == 1
    # each worker's cache: a miss per worker and shape at most
    hits = value(fams, "fraiseql_plan_cache_requests", "_total",
                 result="hit")
    misses = value(fams, "fraiseql_plan_cache_requests", "_total",
                   result="miss")
    assert hits + misses == 202 and misses <= 8
    assert value(fams, "fraiseql_rows", "_total") == sum(
        1 + (k + i) % 3 for k in range(8) for i in range(25))
    # both workers' pools: their connections, idle now
    time.sleep(1.2)
    fams, _ = scrape(n)
    idle = value(fams, "fraiseql_pool_connections", state="idle")
    assert 2 <= idle <= 8, text
    assert value(fams, "fraiseql_pool_connections", state="busy") == 0
    assert value(fams, "fraiseql_pool_connects", "_total") >= 2

    # a reload keeps the zone: the counters go on
    r = n.cmd("-s", "reload")
    # (under AddressSanitizer the signalling process exits 1, silently)
    assert r.returncode == 0 or (ASAN and not r.stderr), r.stderr
    time.sleep(1)
    post(n, q, {"n": 1})
    fams, _ = counted(n, 204)
    assert value(fams, "fraiseql_requests", "_total",
                 operation_type="query", result="ok") == 201
    assert not n.problems()


def test_names_are_bounded(make_nginx, pg):
    """A thousand operation names: 16 take the table, the others count
    under __other__ and as dropped; the zone does not grow."""
    n = make_nginx(http_extra=METRICS, extra=LOCS).start()
    for i in range(1000):
        assert post(n, "query Op%d { __typename }" % i).status_code == 200
    fams, text = counted(n, 1000)
    names = {s.labels["operation_name"]
             for s in fams["fraiseql_operation_duration_seconds"].samples}
    assert len(names) == 17 and "__other__" in names
    assert value(fams, "fraiseql_operation_duration_seconds", "_count",
                 operation_name="__other__") == 984
    assert value(fams, "fraiseql_metrics_names_dropped", "_total") == 984
    assert value(fams, "fraiseql_requests", "_total", result="ok") == 1000
    assert len(text) < 64 * 1024


def test_metrics_zone_mistakes(make_nginx, pg):
    from conftest import Nginx, SCHEMA
    for bad, msg in [
            ("fraiseql_metrics_zone m;", "takes NAME:SIZE"),
            ("fraiseql_metrics_zone m:8k;", "is too small"),
            ("fraiseql_metrics_zone m:1m operations=0;", "1 to 10000"),
            ("fraiseql_metrics_zone m:1m foo=1;", "unknown parameter")]:
        n = Nginx(pg, SCHEMA, http_extra=bad)
        r = n.cmd("-t")
        assert r.returncode != 0 and msg in r.stderr, (bad, r.stderr)
    # a scrape without a zone: 404, said in the log
    n = make_nginx(extra=LOCS).start()
    r = requests.get("http://127.0.0.1:%d/metrics" % n.port, timeout=10)
    assert r.status_code == 404
    assert "no fraiseql_metrics_zone" in n.log()


def test_health(make_pg, make_nginx):
    """live answers from the worker; ready only while PostgreSQL can be
    reached: 503 with a reason while it is down, 200 once it is back."""
    own = make_pg()
    n = make_nginx(pg=own, extra=LOCS).start()
    url = "http://127.0.0.1:%d" % n.port
    assert requests.get(url + "/livez", timeout=10).json() == \
        {"status": "live"}
    r = requests.get(url + "/readyz", timeout=10)
    assert r.status_code == 200 and r.json()["status"] == "ready"
    own.stop()
    r = requests.get(url + "/readyz", timeout=10)
    assert r.status_code == 503
    assert r.json()["status"] == "unavailable" and r.json()["reason"]
    assert requests.get(url + "/livez", timeout=10).status_code == 200
    own.start()
    deadline = time.time() + 10
    while time.time() < deadline:
        r = requests.get(url + "/readyz", timeout=10)
        if r.status_code == 200:
            break
        time.sleep(0.2)
    assert r.status_code == 200
    assert requests.post(url + "/readyz", timeout=10).status_code == 405


TRACE_VIEW = """
CREATE OR REPLACE VIEW v_trace AS
SELECT 1 AS id,
       jsonb_build_object(
           'id', 1,
           'traceparent', current_setting('fraiseql.traceparent', true))
       AS data;
GRANT SELECT ON v_trace TO app_user
"""


@pytest.fixture(scope="module")
def trace_schema(pg):
    pg.execute(TRACE_VIEW)
    path = schema_with(
        "extend type Query {\n  whoami: [Whoami!]!",
        "type Trace @view(name: \"v_trace\") {\n"
        "  id: ID!\n  traceparent: String\n}\n\n"
        "extend type Query {\n  trace: [Trace!]!\n"
        "  whoami: [Whoami!]!")
    yield path
    os.unlink(path)


LOG_FORMAT = r"""
    log_format gql escape=json '{"status":$status,'
        '"op":"$fraiseql_operation_name","type":"$fraiseql_operation_type",'
        '"hash":"$fraiseql_document_hash","plan":"$fraiseql_plan_cache",'
        '"db":"$fraiseql_db_time","wait":"$fraiseql_pool_wait_time",'
        '"rows":"$fraiseql_rows","err":"$fraiseql_error_code",'
        '"errors":"$fraiseql_errors","mutation":"$fraiseql_is_mutation",'
        '"trace":"$fraiseql_trace_id","tp":"$fraiseql_traceparent",'
        '"jwt":"$fraiseql_jwt_status","role":"$fraiseql_role",'
        '"sub":"$fraiseql_jwt_claim_sub","limit":"$fraiseql_limit_status",'
        '"key":"$fraiseql_rate_key"}';
    access_log %(prefix)s/gql.log gql;
    access_log %(prefix)s/audit.log gql if=$fraiseql_is_mutation;"""


def log_lines(path, count):
    deadline = time.time() + 5
    while time.time() < deadline:
        try:
            with open(path) as f:
                lines = [json.loads(l) for l in f.read().splitlines()]
            if len(lines) >= count:
                return lines
        except OSError:
            pass
        time.sleep(0.05)
    raise AssertionError("%s: fewer than %d lines" % (path, count))


def test_log_variables_and_audit(make_nginx, pg, trace_schema,
                                 keyfile):  # noqa: F811
    """A JSON access log line carries every variable of the module (the
    identity's and the limits' too); the audit log the mutation alone."""
    import hashlib
    from test_authz import tok
    from test_batch_pipeline import MUT, STAMP
    n = make_nginx(schema=trace_schema, http_extra="""
    fraiseql_trace_context guc;
    fraiseql_jwt optional;
    fraiseql_jwt_key alg=HS256 file=%s;
    fraiseql_limit_zone $fraiseql_rate_key zone=logz:1m rate=100r/s;
    fraiseql_limit zone=logz burst=100 nodelay;""" % keyfile)
    # the log's path is the instance's own
    conf = n.config().replace(
        "http {", "http {" + LOG_FORMAT % {"prefix": n.prefix}, 1)
    with open(n.conf_path, "w") as f:
        f.write(conf)
    n.start()
    tp = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"
    q = "query Traced { trace { traceparent } things(limit: 2) { id } }"
    body = post(n, q, headers={"traceparent": tp,
                               "Authorization": "Bearer " + tok()}).json()
    got = body["data"]["trace"][0]["traceparent"]
    # PostgreSQL saw the caller's trace id, the module's span, in the
    # same request's transaction
    assert got.startswith("00-4bf92f3577b34da6a3ce929d0e0e4736-")
    assert got.endswith("-01") and got[36:52] != "00f067aa0ba902b7"
    post(n, "{ nope }")
    try:
        post(n, MUT % (STAMP, 99))
    finally:
        pg.execute("DELETE FROM tb_user WHERE email LIKE %s", STAMP + "-%")
    # no traceparent sent: a new trace
    plain = post(n, "{ trace { traceparent } }").json()
    minted = plain["data"]["trace"][0]["traceparent"]
    assert minted.startswith("00-") and len(minted) == 55

    lines = log_lines(os.path.join(n.prefix, "gql.log"), 4)
    first, bad, mut, last = lines[:4]
    assert first["op"] == "Traced" and first["type"] == "query"
    assert first["hash"] == hashlib.sha256(q.encode()).hexdigest()
    assert first["plan"] == "MISS" and first["rows"] == "3"
    assert float(first["db"]) >= 0 and float(first["wait"]) >= 0
    assert first["err"] == "-" and first["errors"] == "0"
    assert first["trace"] == "4bf92f3577b34da6a3ce929d0e0e4736"
    assert first["tp"] == got
    assert first["mutation"] == ""
    assert first["jwt"] == "ok" and first["sub"] == "u1"
    assert first["limit"] == "PASSED" and first["key"] == "u1"
    assert bad["jwt"] == "missing" and bad["key"] == "127.0.0.1"
    assert bad["op"] == "-" and bad["type"] == "query"
    assert bad["err"] == "GRAPHQL_VALIDATION_FAILED" and bad["db"] == "-"
    assert mut["type"] == "mutation" and mut["mutation"] == "1"
    assert last["tp"] == minted
    # the audit log: the mutation only
    audit = log_lines(os.path.join(n.prefix, "audit.log"), 1)
    assert len(audit) == 1 and audit[0]["type"] == "mutation"


def test_trace_context_in_a_batch_and_bad_headers(make_nginx, pg,
                                                  trace_schema):
    n = make_nginx(schema=trace_schema,
                   http_extra="fraiseql_trace_context guc;\n"
                              "    fraiseql_batch 5;").start()
    url = "http://127.0.0.1:%d/graphql" % n.port
    tp = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-00"
    got = requests.post(url, json=[{"query": "{ trace { traceparent } }"}]
                        * 3, headers={"traceparent": tp}, timeout=10).json()
    seen = {a["data"]["trace"][0]["traceparent"] for a in got}
    # one HTTP request, one context: the batch's statements share it
    assert len(seen) == 1
    assert seen.pop().startswith("00-0af7651916cd43dd8448eb211c80319c-")
    for bad in ["00-00000000000000000000000000000000-b7ad6b7169203331-01",
                "00-0af7651916cd43dd8448eb211c80319c-0000000000000000-01",
                "ff-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01",
                "00-0AF7651916CD43DD8448EB211C80319C-b7ad6b7169203331-01",
                "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01-x",
                "junk", "' OR 1=1 --"]:
        got = post(n, "{ trace { traceparent } }",
                   headers={"traceparent": bad}).json()
        t = got["data"]["trace"][0]["traceparent"]
        assert len(t) == 55 and "0af7651916cd43dd8448eb211c80319c" not in t


def test_server_timing(make_nginx, pg):
    n = make_nginx(http_extra="fraiseql_server_timing on;").start()
    r = post(n, "{ things(limit: 1) { id } }")
    st = r.headers["Server-Timing"]
    parts = dict(p.split(";")[0:2] for p in st.split(", "))
    assert set(parts) == {"plan", "wait", "db"}
    assert all(float(v.split("=")[1]) >= 0 for v in parts.values())
    r = post(n, "{ nope }")
    assert "db;dur=0.000" in r.headers["Server-Timing"]
    off = make_nginx().start()
    assert "Server-Timing" not in post(off, "{ __typename }").headers



def test_what_counts(make_nginx, pg):
    """A body too large (413, answered by an error_page location) and a
    rate-limited request count as rejected; a CORS preflight and the
    GraphiQL page are not GraphQL and do not count."""
    n = make_nginx(http_extra=METRICS + """
    fraiseql_limit_zone $binary_remote_addr zone=wc:1m rate=1r/m;
    client_max_body_size 1k;""", extra=LOCS + """
    location /g { fraiseql; fraiseql_graphiql on;
                  fraiseql_cors http://a.example; }
    location /lim { fraiseql; fraiseql_limit zone=wc; }""").start()
    url = "http://127.0.0.1:%d" % n.port
    # chunked: nginx learns the size while the module reads the body
    # (with a Content-Length it refuses before any module runs, and the
    # error_page location answers; see docs/operations.md)
    big = b'{"query": "{ __typename }", "x": "' + b"y" * 4096 + b'"}'
    r = requests.post(url + "/graphql", data=iter([big[:100], big[100:]]),
                      headers={"Content-Type": "application/json"},
                      timeout=10)
    assert r.status_code == 413
    assert post(n, "{ __typename }", path="/lim").status_code == 200
    assert post(n, "{ __typename }", path="/lim").status_code == 429
    r = requests.options(url + "/g", headers={
        "Origin": "http://a.example",
        "Access-Control-Request-Method": "POST"}, timeout=10)
    assert r.status_code == 204
    r = requests.get(url + "/g", headers={"Accept": "text/html"},
                     timeout=10)
    assert r.status_code == 200 and "GraphiQL" in r.text
    fams, _ = counted(n, 3)
    assert value(fams, "fraiseql_requests", "_total", result="rejected") == 2
    assert value(fams, "fraiseql_requests", "_total", result="ok") == 1
    assert value(fams, "fraiseql_requests", "_total") == 3
    assert value(fams, "fraiseql_rate_limit", "_total",
                 status="rejected") == 1
    assert value(fams, "fraiseql_graphql_errors", "_total",
                 code="RATE_LIMITED") == 1
