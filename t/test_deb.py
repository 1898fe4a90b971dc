"""The Debian package, installed on this machine and purged again.

`make test-deb` builds it (`make deb`, lintian clean) and runs this file
with FRAISEQL_DEB naming the .deb; without it every test is skipped.  The
package is installed through apt-get, which waits for another dpkg run
instead of failing; a copy left installed by an interrupted run is purged
first, because the modules-enabled link is made on a fresh install only.
"""

import fcntl
import os
import subprocess
import tempfile

import pytest

from conftest import ROOT, free_port

DEB = os.environ.get("FRAISEQL_DEB")
PKG = "libnginx-mod-http-fraiseql"
SO = "/usr/lib/nginx/modules/ngx_http_fraiseql_module.so"
AVAILABLE = "/usr/share/nginx/modules-available/mod-http-fraiseql.conf"
LINK = "/etc/nginx/modules-enabled/50-mod-http-fraiseql.conf"
ABI_VARS = "/usr/share/nginx/src/debian/libnginx-mod.abisubstvars"

pytestmark = pytest.mark.skipif(
    not DEB, reason="make test-deb builds the package and runs this file")


def run(args, **kw):
    return subprocess.run(args, capture_output=True, text=True, **kw)


def apt(*args):
    r = run(["apt-get", "-y", "-qq", "--no-install-recommends",
             "-o", "DPkg::Lock::Timeout=300"] + list(args),
            env=dict(os.environ, DEBIAN_FRONTEND="noninteractive"))
    assert r.returncode == 0, r.stdout + r.stderr


def purge():
    """apt-get refuses a package it has never known: ask dpkg first."""
    r = run(["dpkg-query", "-W", "-f", "${db:Status-Status}", PKG])
    if r.returncode == 0 and r.stdout != "not-installed":
        apt("purge", PKG)


def nginx_abi():
    with open(ABI_VARS) as f:
        for line in f:
            if line.startswith("nginx:abi="):
                return line.split("=", 1)[1].strip()
    raise AssertionError("no nginx:abi in " + ABI_VARS)


@pytest.fixture(scope="module")
def installed():
    # one run at a time installs and purges the package
    with open("/run/lock/fraiseql-test-deb.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        purge()
        try:
            apt("install", DEB)
            yield
        finally:
            purge()


def field(name):
    return run(["dpkg-deb", "-f", DEB, name], check=True).stdout.strip()


def test_depends_on_this_nginx_abi_and_the_libraries():
    depends = [d.split()[0] for d in field("Depends").split(", ")]
    abi = nginx_abi()
    assert depends[0] == abi
    for lib in ("libpq5", "libyajl2", "libssl3", "libc6"):
        assert lib in depends
    provides = run(["dpkg-query", "-W", "-f", "${Provides}", "nginx"],
                   check=True).stdout
    assert abi in provides.split(", ")


def test_contents():
    listing = run(["dpkg-deb", "-c", DEB], check=True).stdout
    paths = {line.split()[-1].lstrip(".") for line in listing.splitlines()}
    doc = "/usr/share/doc/" + PKG
    for p in (SO, AVAILABLE, doc + "/copyright",
              doc + "/examples/fraiseql.conf",
              doc + "/examples/schema.graphql", doc + "/examples/demo.sql"):
        assert p in paths, p
    # dh_compress gzips documents over 4 kB
    for name in ("README.md", "install.md", "directives.md"):
        assert {doc + "/" + name, doc + "/" + name + ".gz"} & paths, name


def test_installed_and_enabled(installed):
    assert os.path.isfile(SO)
    with open(AVAILABLE) as f:
        assert f.read() == "load_module modules/ngx_http_fraiseql_module.so;\n"
    assert os.path.islink(LINK)
    assert os.path.realpath(LINK) == AVAILABLE


def test_smoke(installed):
    """debian/tests/smoke: nginx -t of the system configuration with the
    module enabled, then a query through the packaged module."""
    r = run([os.path.join(ROOT, "debian", "tests", "smoke")], cwd=ROOT,
            env=dict(os.environ, NGINX_PORT=str(free_port()),
                     PG_PORT=str(free_port())))
    assert r.returncode == 0, r.stdout + r.stderr
    assert r.stdout.startswith('{"data":{"users":[{"email":'), r.stdout


def test_schema_checked_at_nginx_t(installed):
    """The packaged module reads the schema when nginx -t runs."""
    with tempfile.TemporaryDirectory() as d:
        with open(os.path.join(d, "schema.graphql"), "w") as f:
            f.write("type Query {\n  users: [Usr]\n}\n")
        conf = os.path.join(d, "nginx.conf")
        with open(conf, "w") as f:
            f.write("include %s;\n"
                    "events {}\n"
                    "http {\n"
                    "    fraiseql_schema %s/schema.graphql;\n"
                    "    fraiseql_database \"host=127.0.0.1 port=1\";\n"
                    "    server { location /graphql { fraiseql; } }\n"
                    "}\n" % (LINK, d))
        r = run(["/usr/sbin/nginx", "-e", os.path.join(d, "error.log"),
                 "-g", "pid %s/nginx.pid;" % d, "-c", conf, "-t"])
    assert r.returncode != 0
    assert 'Unknown type "Usr"' in r.stderr, r.stderr


def test_purge_leaves_nothing(installed):
    purge()
    for p in (SO, AVAILABLE, LINK, LINK + ".removed"):
        assert not os.path.lexists(p), p
    r = run(["/usr/sbin/nginx", "-t", "-q"])
    assert r.returncode == 0, r.stderr
