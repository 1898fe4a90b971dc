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


# A schema's directives, as graphql-js's SDL validation checks them (issue
# 14, item 6): t/test_graphql_js.py runs graphql-js on these same files
# and finds the same message at the same place.
_T = 'type T @view(name: "v_t") {\n  id: ID!\n'
_Q = 'type Query { t(id: ID!): T }\n'

BAD_DIRECTIVES = [
    # a misspelt directive, on a field, a type, an argument...
    (_T + '  secret: String @auht(role: "x")\n}\n' + _Q, ":3:18:",
     'Unknown directive "@auht".'),
    ('type T @veiw(name: "v_t") { id: ID! }\n' + _Q, ":1:8:",
     'Unknown directive "@veiw".'),
    (_T + '  a(x: Int @nope): Int\n}\n' + _Q, ":3:12:",
     'Unknown directive "@nope".'),
    (_T + '}\nenum E { A B @nope }\n' + _Q, ":4:14:",
     'Unknown directive "@nope".'),
    (_T + '}\ninput I {\n  x: Int @nope\n}\n' + _Q, ":5:10:",
     'Unknown directive "@nope".'),
    (_T + '}\nschema @nope { query: Query }\n' + _Q, ":4:8:",
     'Unknown directive "@nope".'),
    # in a place it does not apply to
    (_T + '  a: Int @view(name: "v")\n}\n' + _Q, ":3:10:",
     'Directive "@view" may not be used on FIELD_DEFINITION.'),
    (_T + '  a(x: Int @json(key: "k")): Int\n}\n' + _Q, ":3:12:",
     'Directive "@json" may not be used on ARGUMENT_DEFINITION.'),
    # twice where once is allowed, a type and its extension alike
    (_T + '  a: Int @column @column\n}\n' + _Q, ":3:18:",
     'The directive "@column" can only be used once at this location.'),
    (_T + '}\nextend type T @view(name: "w")\n' + _Q, ":4:15:",
     'The directive "@view" can only be used once at this location.'),
    # arguments: unknown, repeated, missing
    (_T + '  a: Int @column(nme: "c")\n}\n' + _Q, ":3:18:",
     'Unknown argument "nme" on directive "@column". Did you mean '
     '"name"?'),
    ('directive @owner(role: String!) on FIELD_DEFINITION\n' + _T
     + '  a: Int @owner(rol: "x")\n}\n' + _Q, ":4:17:",
     'Unknown argument "rol" on directive "@owner". Did you mean "role"?'),
    ('directive @d(b: Int, ac: Int, ab: Int, aa: Int, zz: Int) on '
     'FIELD_DEFINITION\n' + _T + '  a: Int @d(a: 1)\n}\n' + _Q, ":4:13:",
     'Unknown argument "a" on directive "@d". Did you mean "aa", "ab", '
     '"ac", or "b"?'),
    (_T + '  a: Int @json(key: "a", key: "b")\n}\n' + _Q, ":3:26:",
     'There can be only one argument named "key".'),
    (_T + '  a: Int @json\n}\n' + _Q, ":3:10:",
     'Directive "@json" argument "key" of type "String!" is required, '
     'but it was not provided.'),
]


@pytest.mark.parametrize("text,where,reason", BAD_DIRECTIVES)
def test_bad_directive_fails_nginx_t_with_location(text, where, reason):
    test_bad_schema_fails_nginx_t_with_location(text, where, reason)


def test_declared_directive_passes_nginx_t():
    path = _schema('directive @owner(role: String!) repeatable on '
                   'FIELD_DEFINITION | OBJECT\n'
                   'type T @view(name: "v_t") @owner(role: "a") {\n'
                   '  id: ID!\n  a: Int @owner(role: "b") @owner(role: "c")\n'
                   '}\n' + _Q)
    try:
        r = Nginx(NoPg(), path).cmd("-t")
        assert r.returncode == 0, r.stderr
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
