"""Fixtures: a throwaway PostgreSQL cluster and nginx with the module.

Everything runs on free loopback ports in a temporary directory; nothing
assumes a system service.  Every nginx started here is checked at the end
for [alert], [emerg] and crashed workers, the nginx test suite's rule.
"""

import glob
import os
import pwd
import re
import shutil
import signal
import socket
import subprocess
import tempfile
import time

import psycopg
import pytest
import requests

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
MODULE = os.environ.get(
    "FRAISEQL_MODULE", os.path.join(ROOT, "build", "ngx_http_fraiseql_module.so"))
ASAN = os.environ.get("FRAISEQL_ASAN") == "1"
PG_BIN = sorted(glob.glob("/usr/lib/postgresql/*/bin"))[-1]
NGINX = "/usr/sbin/nginx"

# A leak counts when its allocation went through the module or the
# libraries it drives.  nginx unloads the module (and with it libpq and
# yajl) before the worker exits, so their frames show as "<unknown
# module>" by the time LeakSanitizer reports.  nginx's own worker arrays,
# freed by nobody at exit and reachable or not depending on which timers
# are left, do not count.
OURS = re.compile(r"<unknown module>|ngx_http_fraiseql|\bfql_|libpq|yajl")


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def run_as_postgres(args, **kw):
    return subprocess.run(["runuser", "-u", "postgres", "--"] + args,
                          check=True, capture_output=True, text=True, **kw)


class Postgres:
    """A cluster in a directory owned by postgres, on a port of its own."""

    def __init__(self):
        self.dir = tempfile.mkdtemp(prefix="fraiseql-pg-")
        pw = pwd.getpwnam("postgres")
        os.chown(self.dir, pw.pw_uid, pw.pw_gid)
        self.data = os.path.join(self.dir, "data")
        self.port = free_port()
        self.dbname = "fraiseql"
        run_as_postgres([PG_BIN + "/initdb", "-D", self.data, "-A", "trust",
                         "-U", "postgres", "--no-sync", "-E", "UTF8",
                         "--locale=C.UTF-8"])
        with open(os.path.join(self.data, "postgresql.auto.conf"), "a") as f:
            f.write("listen_addresses = '127.0.0.1'\n"
                    "port = %d\n"
                    "unix_socket_directories = '%s'\n"
                    "max_connections = 200\n"
                    "fsync = off\nsynchronous_commit = off\n"
                    "full_page_writes = off\n" % (self.port, self.dir))
        self.start()
        run_as_postgres([PG_BIN + "/createdb", "-h", "127.0.0.1", "-p",
                         str(self.port), "-U", "postgres", self.dbname])

    @property
    def conninfo(self):
        return "host=127.0.0.1 port=%d dbname=%s user=postgres" % (
            self.port, self.dbname)

    def start(self):
        run_as_postgres([PG_BIN + "/pg_ctl", "-D", self.data, "-l",
                         os.path.join(self.dir, "log"), "-w", "-t", "60",
                         "start"])

    def stop(self, mode="fast"):
        run_as_postgres([PG_BIN + "/pg_ctl", "-D", self.data, "-m", mode,
                         "-w", "stop"])

    def load(self, path):
        subprocess.run(["psql", "-q", "-v", "ON_ERROR_STOP=1", "-X",
                        "-h", "127.0.0.1", "-p", str(self.port), "-U",
                        "postgres", "-d", self.dbname, "-f", path],
                       check=True, capture_output=True, text=True)

    def connect(self):
        return psycopg.connect(self.conninfo, autocommit=True)

    def query(self, sql, *params):
        with self.connect() as c:
            return c.execute(sql, params).fetchall()

    def execute(self, sql, *params):
        with self.connect() as c:
            c.execute(sql, params)

    def destroy(self):
        try:
            self.stop("immediate")
        except subprocess.CalledProcessError:
            pass
        shutil.rmtree(self.dir, ignore_errors=True)


CONF = """
load_module %(module)s;
user root;
worker_processes %(workers)d;
daemon on;
master_process on;
pid %(prefix)s/nginx.pid;
error_log %(prefix)s/error.log %(log_level)s;
events { worker_connections 1024; }
http {
    access_log %(prefix)s/access.log;
    client_body_temp_path %(prefix)s/body;
    proxy_temp_path %(prefix)s/proxy;
    fastcgi_temp_path %(prefix)s/fastcgi;
    uwsgi_temp_path %(prefix)s/uwsgi;
    scgi_temp_path %(prefix)s/scgi;
    fraiseql_schema %(schema)s;
    fraiseql_database "%(conninfo)s";
    fraiseql_pool_size %(pool)d;
    %(http_extra)s
    server {
        listen 127.0.0.1:%(port)d;
        location /graphql { fraiseql; }
        location /health { return 200 "ok\\n"; }
        # nginx refuses oversized bodies before any handler runs: answer
        # them in GraphQL's shape
        error_page 413 /graphql-413;
        location = /graphql-413 {
            internal;
            default_type application/json;
            return 413 '{"errors":[{"message":"The request body is larger than client_max_body_size","extensions":{"code":"BAD_REQUEST"}}]}\\n';
        }
        %(extra)s
    }
}
"""


def schema_with(old, new):
    """t/schema.graphql with old replaced by new, in a temporary file (the
    caller removes it)."""
    with open(SCHEMA) as f:
        text = f.read()
    assert old in text
    f = tempfile.NamedTemporaryFile("w", suffix=".graphql", delete=False)
    f.write(text.replace(old, new))
    f.close()
    return f.name


class Nginx:
    def __init__(self, pg, schema, pool=4, workers=1, extra="", conf=None,
                 log_level="info", http_extra=""):
        self.prefix = tempfile.mkdtemp(prefix="fraiseql-ngx-")
        self.port = free_port()
        self.conf_path = os.path.join(self.prefix, "nginx.conf")
        self.error_log = os.path.join(self.prefix, "error.log")
        text = conf or CONF
        with open(self.conf_path, "w") as f:
            f.write(text % dict(module=MODULE, prefix=self.prefix,
                                workers=workers, schema=schema,
                                conninfo=(pg.conninfo if pg else "")
                                + " application_name=fraiseql-%d"
                                % self.port,
                                pool=pool, port=self.port, extra=extra,
                                log_level=log_level,
                                http_extra=http_extra))
        self.env = dict(os.environ)
        if ASAN:
            libasan = subprocess.run(["gcc", "-print-file-name=libasan.so"],
                                     capture_output=True, text=True,
                                     check=True).stdout.strip()
            self.env["LD_PRELOAD"] = libasan
            self.env["ASAN_OPTIONS"] = (
                "detect_leaks=1:log_path=%s/asan:abort_on_error=0"
                ":detect_odr_violation=0:fast_unwind_on_malloc=0"
                % self.prefix)
            self.env["LSAN_OPTIONS"] = "suppressions=%s" % os.path.join(
                ROOT, "t", "lsan.supp")

    def backends(self, pg):
        """This instance's connections as PostgreSQL sees them."""
        return pg.query("SELECT count(*) FROM pg_stat_activity"
                        " WHERE application_name = %s",
                        "fraiseql-%d" % self.port)[0][0]

    def cmd(self, *args):
        return subprocess.run([NGINX, "-p", self.prefix, "-e", self.error_log,
                               "-c", self.conf_path] + list(args),
                              capture_output=True, text=True, env=self.env)

    def start(self):
        r = self.cmd()
        assert r.returncode == 0, r.stderr + self.log()
        deadline = time.time() + 10
        while time.time() < deadline:
            try:
                socket.create_connection(("127.0.0.1", self.port), 1).close()
                return self
            except OSError:
                time.sleep(0.05)
        raise RuntimeError("nginx did not start: " + self.log())

    def log(self):
        try:
            with open(self.error_log) as f:
                return f.read()
        except OSError:
            return ""

    def pid(self):
        with open(os.path.join(self.prefix, "nginx.pid")) as f:
            return int(f.read())

    def stop(self):
        try:
            pid = self.pid()
        except OSError:
            return
        os.kill(pid, signal.SIGQUIT)
        deadline = time.time() + 20
        while time.time() < deadline:
            try:
                os.kill(pid, 0)
                time.sleep(0.05)
            except ProcessLookupError:
                break

    def errors(self):
        """The [error] lines it logged: for tests that expect none."""
        return [l for l in self.log().splitlines() if "[error]" in l]

    def config(self):
        with open(self.conf_path) as f:
            return f.read()

    def problems(self):
        bad = [l for l in self.log().splitlines()
               if "[alert]" in l or "[emerg]" in l
               or "exited on signal" in l]
        for path in glob.glob(os.path.join(self.prefix, "asan*")):
            with open(path) as f:
                text = f.read()
            if "ERROR: AddressSanitizer" in text:
                bad.append(text)
            elif "ERROR: LeakSanitizer" in text:
                ours = [b for b in re.split(r"\n(?=(?:Direct|Indirect) leak)",
                                            text)
                        if re.search(r"leak of", b) and OURS.search(b)]
                bad.extend(ours)
        return bad

    @property
    def url(self):
        return "http://127.0.0.1:%d/graphql" % self.port

    def post(self, query, variables=None, operation_name=None, **kw):
        body = {"query": query}
        if variables is not None:
            body["variables"] = variables
        if operation_name is not None:
            body["operationName"] = operation_name
        return requests.post(self.url, json=body, timeout=30, **kw)

    def gql(self, query, variables=None, **kw):
        r = self.post(query, variables, **kw)
        assert r.status_code == 200, r.text
        return r.json()

    def data(self, query, variables=None, **kw):
        """The answer's data, which must come without errors."""
        body = self.gql(query, variables, **kw)
        assert "errors" not in body, body
        return body["data"]


SCHEMA = os.path.join(ROOT, "t", "schema.graphql")


@pytest.fixture(scope="session")
def pg():
    p = Postgres()
    p.load(os.path.join(ROOT, "conf-examples", "demo.sql"))
    p.load(os.path.join(ROOT, "t", "fixtures.sql"))
    yield p
    p.destroy()


@pytest.fixture(scope="session")
def ngx(pg):
    """The shared nginx: pool of 4, one worker."""
    n = Nginx(pg, SCHEMA).start()
    yield n
    n.stop()
    assert not n.problems(), "\n".join(n.problems())
    shutil.rmtree(n.prefix, ignore_errors=True)


@pytest.hookimpl(hookwrapper=True, tryfirst=True)
def pytest_runtest_makereport(item, call):
    """Keeps each phase's report on the test, for fixtures to read."""
    outcome = yield
    rep = outcome.get_result()
    setattr(item, "rep_" + rep.when, rep)


@pytest.fixture
def make_nginx(pg, request):
    """Starts extra nginx instances; each is stopped and checked after.
    When the test failed, the configuration each ran is printed (pytest
    shows it with the failure), as an nginx-tests file shows its own."""
    started = []

    def make(**kw):
        n = Nginx(kw.pop("pg", pg), kw.pop("schema", SCHEMA), **kw)
        started.append(n)
        return n

    yield make
    rep = getattr(request.node, "rep_call", None)
    if rep is not None and rep.failed:
        for n in started:
            print("---- %s\n%s" % (n.conf_path, n.config()))
    for n in started:
        n.stop()
    for n in started:
        assert not n.problems(), "\n".join(n.problems())
        shutil.rmtree(n.prefix, ignore_errors=True)


@pytest.fixture(autouse=True)
def no_new_alerts(request):
    """Fails a test whose run left an alert in the shared nginx's log."""
    if "ngx" not in request.fixturenames:
        yield
        return
    n = request.getfixturevalue("ngx")
    before = len(n.problems())
    yield
    after = n.problems()
    assert len(after) == before, "\n".join(after[before:])


def dechunk(payload):
    """The body of a chunked HTTP/1.1 answer (trailers ignored)."""
    body = b""
    while payload:
        size, _, rest = payload.partition(b"\r\n")
        size = int(size, 16)
        if size == 0:
            break
        body += rest[:size]
        payload = rest[size + 2:]
    return body


@pytest.fixture
def make_pg():
    """Dedicated clusters for tests that stop, reconfigure or break them
    (demo.sql and fixtures.sql loaded unless load=False); each is
    destroyed after the test.  Ask for it before make_nginx, so that
    nginx stops first."""
    made = []

    def make(load=True):
        p = Postgres()
        made.append(p)
        if load:
            p.load(os.path.join(ROOT, "conf-examples", "demo.sql"))
            p.load(os.path.join(ROOT, "t", "fixtures.sql"))
        return p

    yield make
    for p in made:
        p.destroy()
