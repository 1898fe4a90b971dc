"""Values order by their real type: a view's id through its id column
(integers as integers, UUIDs as UUIDs), numbers and timestamps from the
JSON by their cast, an ID inside the JSON by its JSON value; each order
compared with PostgreSQL's own ORDER BY (t/fixtures.sql: tb_seq, tb_useq).
IDs stay strings in the answers."""

import re

import pytest

from test_hostile import Unharmed


def ids(rows):
    return [r["id"] for r in rows]


def pg_ids(pg, sql, *params):
    return [str(r[0]) for r in pg.query(sql, *params)]


@pytest.mark.parametrize("direction", ["ASC", "DESC"])
@pytest.mark.parametrize("limit,offset", [(120, 0), (7, 0), (10, 95),
                                          (5, 118)])
def test_integer_ids_order_as_integers(ngx, pg, direction, limit, offset):
    got = ngx.gql("{ seqs(orderBy: [{id: %s}], limit: %d, offset: %d)"
                  " { id } }" % (direction, limit, offset))["data"]["seqs"]
    want = pg_ids(pg, "SELECT id FROM v_seq ORDER BY id %s"
                  " LIMIT %%s OFFSET %%s" % direction, limit, offset)
    assert ids(got) == want
    # not the text order of "1", "10", "100"
    if direction == "ASC" and offset == 0 and limit >= 3:
        assert ids(got)[:3] == ["1", "2", "3"]
    # IDs stay strings
    assert all(isinstance(i, str) for i in ids(got))


def test_uuid_ids_order_as_uuids(ngx, pg):
    for direction in ("ASC", "DESC"):
        got = ngx.gql("{ useqs(orderBy: [{id: %s}]) { id n } }"
                      % direction)["data"]["useqs"]
        assert ids(got) == pg_ids(pg, "SELECT id FROM v_useq ORDER BY id %s"
                                  % direction)


def test_integer_field_with_ties_then_id(ngx, pg):
    got = ngx.gql("{ seqs(orderBy: [{rank: DESC}, {id: ASC}], limit: 50,"
                  " offset: 20) { id rank } }")["data"]["seqs"]
    want = pg_ids(pg, "SELECT id FROM v_seq ORDER BY"
                  " (data->>'rank')::int DESC, id ASC LIMIT 50 OFFSET 20")
    assert ids(got) == want
    ranks = [r["rank"] for r in got]
    assert ranks == sorted(ranks, reverse=True)


def test_timestamps_order_as_time(ngx, pg):
    for direction in ("ASC", "DESC"):
        got = ngx.gql("{ seqs(orderBy: {at: %s}) { id at } }"
                      % direction)["data"]["seqs"]
        want = pg_ids(pg, "SELECT id FROM v_seq ORDER BY"
                      " (data->>'at')::timestamptz %s" % direction)
        assert ids(got) == want


def test_an_id_in_the_json_orders_by_its_value(ngx, pg):
    """ref.id is a JSON number: 1, 2... 120, not "1", "10", "100"."""
    got = ngx.gql("{ seqs(orderBy: {ref: {id: ASC}}, limit: 12)"
                  " { id ref { id } } }")["data"]["seqs"]
    want = pg_ids(pg, "SELECT id FROM v_seq ORDER BY"
                  " (data->'ref'->>'id')::int ASC LIMIT 12")
    assert ids(got) == want
    assert [r["ref"]["id"] for r in got] == [str(i) for i in range(1, 13)]


def test_id_filters_use_the_id_column(ngx, pg):
    got = ngx.gql('{ seqs(where: {id: {in: [100, "2", 37]}},'
                  ' orderBy: [{id: ASC}]) { id } }')["data"]["seqs"]
    assert ids(got) == ["2", "37", "100"]
    got = ngx.gql('{ seq(id: "42") { id rank } }')["data"]["seq"]
    assert got["id"] == "42"


@pytest.mark.parametrize("bad,code", [
    ('"x"', "BAD_USER_INPUT"),
    ('"1; DROP TABLE tb_seq"', "BAD_USER_INPUT"),
    ('"99999999999999999999"', "BAD_USER_INPUT"),
    ('"%s"' % ("9" * 100000), "BAD_USER_INPUT"),
    # refused before SQL: PostgreSQL's text cannot hold it
    ('"\\u0000"', "GRAPHQL_VALIDATION_FAILED")])
def test_an_id_not_of_the_columns_type_is_the_clients_error(make_nginx, pg,
                                                            bad, code):
    """A value the id column cannot take is the client's error, bound as a
    parameter; the worker, its pool and its memory are unharmed."""
    n = make_nginx(pool=2, extra="fraiseql_max_document_size 1m;").start()
    u = Unharmed(n, pg)
    for q in ("{ seqs(where: {id: {eq: %s}}) { id } }" % bad,
              "{ seqs(where: {id: {in: [%s, 1]}}) { id } }" % bad,
              "{ seq(id: %s) { id } }" % bad):
        r = n.post(q)
        assert r.status_code == 200, r.text
        body = r.json()
        assert body["errors"][0]["extensions"]["code"] == code, body
    assert pg.query("SELECT count(*) FROM tb_seq")[0][0] == 120
    u.check()


def test_order_by_id_is_served_by_the_keys_index(pg, make_nginx):
    """The plan PostgreSQL makes for the module's own statement (from the
    debug log): an index scan on the key, no sort of every row's JSON."""
    n = make_nginx(pool=1, log_level="debug").start()
    assert n.post("{ seqs(orderBy: [{id: DESC}], limit: 5) { id } }") \
        .status_code == 200
    sql = re.search(r'fraiseql slot 0: run 1: "(.*?)" with \d+ params',
                    n.log()).group(1)
    assert 'ORDER BY "id" DESC' in sql, sql
    plan = "\n".join(r[0] for r in pg.query(
        "EXPLAIN " + sql.replace("$1::bigint", "5")))
    assert "Index Scan" in plan and "Sort" not in plan, plan
