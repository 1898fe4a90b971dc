"""Configuration is checked at `nginx -t` time."""

import os
import tempfile

import pytest

from conftest import Nginx, SCHEMA


def _schema(text):
    f = tempfile.NamedTemporaryFile("w", suffix=".graphql", delete=False)
    f.write(text)
    f.close()
    return f.name


class NoPg:
    conninfo = "host=127.0.0.1 port=1 dbname=x"


def test_valid_configuration_passes(pg):
    n = Nginx(pg, SCHEMA)
    r = n.cmd("-t")
    assert r.returncode == 0, r.stderr


@pytest.mark.parametrize("text,where,reason", [
    ("type Query {\n  users: [Usr]\n}\n", ":2:11:", 'Unknown type "Usr"'),
    ("type Query {\n  a: Int\n", ":3:1:", "Expected Name, found <EOF>"),
    ("type T { a: Int }\ntype Query { t: T }\n", ":2:14:",
     "bound to a view"),
    ("type Query { a: String }", ":1:14:", "must return an object type"),
])
def test_bad_schema_fails_nginx_t_with_location(text, where, reason):
    path = _schema(text)
    try:
        r = Nginx(NoPg(), path).cmd("-t")
        assert r.returncode != 0
        line = [l for l in r.stderr.splitlines() if "fraiseql_schema" in l]
        assert line, r.stderr
        assert path + where in line[0], line[0]
        assert reason in line[0], line[0]
    finally:
        os.unlink(path)


def test_missing_schema_file():
    r = Nginx(NoPg(), "/nonexistent/schema.graphql").cmd("-t")
    assert r.returncode != 0
    assert "/nonexistent/schema.graphql" in r.stderr


@pytest.mark.parametrize("conninfo,reason", [
    ("host=127.0.0.1 nosuchkey=1", "invalid conninfo"),
    ("postgresql://[bad", "invalid conninfo"),
    ("host=no-such-host.invalid dbname=x", "not found"),
])
def test_bad_database_fails_nginx_t(conninfo, reason):
    class Db:
        pass
    Db.conninfo = conninfo
    r = Nginx(Db(), SCHEMA).cmd("-t")
    assert r.returncode != 0
    assert reason in r.stderr, r.stderr


def test_fraiseql_without_schema_or_database(pg):
    conf = """
load_module %(module)s;
pid %(prefix)s/nginx.pid;
error_log %(prefix)s/error.log;
events {}
http { server { listen 127.0.0.1:%(port)d; location / { fraiseql; } } }
"""
    r = Nginx(pg, SCHEMA, conf=conf).cmd("-t")
    assert r.returncode != 0
    assert 'needs a "fraiseql_schema"' in r.stderr


def test_pool_size_bounds(pg):
    r = Nginx(pg, SCHEMA, pool=0).cmd("-t")
    assert r.returncode != 0
    assert "value must be between 1 and 1024" in r.stderr


def test_default_limit_over_max_limit(pg):
    n = Nginx(pg, SCHEMA,
              extra="fraiseql_default_limit 10; fraiseql_max_limit 3;")
    r = n.cmd("-t")
    assert r.returncode != 0
    assert '"fraiseql_default_limit" 10 is over "fraiseql_max_limit" 3' in \
        r.stderr
