-- Test-only objects on top of the demo schema.

-- LTree fields (v_spot below); the test cluster loads this as a superuser
CREATE EXTENSION IF NOT EXISTS ltree;

-- rows with awkward values: quotes, unicode, nulls, numbers as strings
CREATE TABLE tb_thing (
    id      int PRIMARY KEY,
    data    jsonb NOT NULL,
    status  text
);

-- status is a real column (filters use it) and also in data (output)
CREATE VIEW v_thing AS
SELECT id, data || jsonb_build_object('status', status) AS data, status
FROM tb_thing;

INSERT INTO tb_thing VALUES
  (1, '{"id": 1, "name": "O''Brien \"quoted\" \\ back", "score": 10,
        "ratio": 1.5, "flag": true, "code": "A", "meta": {"a": [1, 2]},
        "when": "2024-01-02T03:04:05+00:00", "day": "2024-01-02",
        "uid": "5b6e8c5e-5f27-4d52-9f0b-9f3b4d0c0a01"}', 'active'),
  (2, '{"id": 2, "name": "日本語 émoji 🎉", "score": 20, "ratio": 2.5,
        "flag": false, "code": "B", "meta": null,
        "when": "2024-02-02T03:04:05+00:00", "day": "2024-02-02",
        "uid": "5b6e8c5e-5f27-4d52-9f0b-9f3b4d0c0a02"}', 'inactive'),
  (3, '{"id": 3, "name": null, "score": null, "ratio": null,
        "flag": null, "code": "C", "meta": {"x": "y"},
        "when": null, "day": null, "uid": null}', NULL),
  (4, '{"id": 4, "name": "line\nbreak\ttab", "score": 40, "ratio": 0,
        "flag": true, "code": "A", "meta": [],
        "when": "2023-12-31T23:59:59+00:00", "day": "2023-12-31",
        "uid": "5b6e8c5e-5f27-4d52-9f0b-9f3b4d0c0a04"}', 'active');

-- a big list: 100,000 rows, generated
CREATE VIEW v_item AS
SELECT n AS id,
       jsonb_build_object('id', n, 'label', 'item ' || n,
                          'price', n * 1.25, 'group_no', n % 10) AS data
FROM generate_series(1, 100000) AS n;

-- a slow view for pool and timeout tests
CREATE FUNCTION slow_rows(seconds float) RETURNS SETOF int
LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_sleep(seconds);
    RETURN QUERY SELECT 1;
END $$;

CREATE VIEW v_slow AS
SELECT 1 AS id, jsonb_build_object('id', 1, 'label', 'slow') AS data
FROM slow_rows(0.2);

-- a view whose data column is not JSON
CREATE VIEW v_broken AS SELECT 1 AS id, 'not json'::text AS data;

CREATE VIEW v_slower AS
SELECT 1 AS id, jsonb_build_object('id', 1, 'label', 'slower') AS data
FROM slow_rows(1.5);

-- text with LIKE's wildcards and its escape character in it
CREATE TABLE tb_word (id int PRIMARY KEY, word text);
CREATE VIEW v_word AS
SELECT id, jsonb_build_object('id', id, 'word', word) AS data FROM tb_word;
INSERT INTO tb_word VALUES
  (1, 'apple'), (2, 'Apricot'), (3, '100% pure'), (4, '100 pure'),
  (5, 'snake_case'), (6, 'snakeXcase'), (7, 'back\slash'),
  (8, 'backXslash'), (9, 'GRAPE'), (10, 'grapefruit'), (11, NULL),
  (12, 'it''s'), (13, '日本語'), (14, '');

-- ids in their own types (t/test_ordering.py): integer ids whose text
-- order is not their order (1, 10, 100, 101...), uuids, timestamps, an
-- integer field with ties, and a nested object's numeric id in the JSON
CREATE TABLE tb_seq (id int PRIMARY KEY, rank int, at timestamptz,
                     ref_id int);
INSERT INTO tb_seq
SELECT n, (n * 37) % 11, timestamptz '2024-01-01 00:00:00+00'
                         + ((n * 7919) % 120) * interval '1 hour' + n * interval '1 second',
       121 - n
FROM generate_series(1, 120) AS n;
CREATE VIEW v_seq AS
SELECT id, jsonb_build_object('id', id, 'rank', rank, 'at', at,
                              'ref', jsonb_build_object('id', ref_id)) AS data
FROM tb_seq;
CREATE TABLE tb_useq (id uuid PRIMARY KEY, n int);
INSERT INTO tb_useq
SELECT md5('useq' || n)::uuid, n FROM generate_series(1, 40) AS n;
CREATE VIEW v_useq AS
SELECT id, jsonb_build_object('id', id, 'n', n) AS data FROM tb_useq;

-- Cursor pages and aggregates (t/test_connections.py, t/test_aggregates.py):
-- keys with ties and nulls of every sortable kind, a real column (grp),
-- an enum, a nested object; tb_feed takes inserts between page requests
CREATE TABLE tb_page (id int PRIMARY KEY, score int, name text,
                      at timestamptz, day date, price numeric, ratio float8,
                      grp text, kind text, flag boolean, nested_n int);
INSERT INTO tb_page
SELECT n,
       CASE WHEN n % 13 = 0 THEN NULL ELSE (n * 7) % 10 END,
       CASE WHEN n % 17 = 0 THEN NULL ELSE 'name ' || ((n * 3) % 25) END,
       timestamptz '2024-01-01 00:00:00+00'
           + ((n * 7919) % 50) * interval '1 hour',
       date '2024-01-01' + (n % 30),
       CASE WHEN n % 19 = 0 THEN NULL ELSE round(n * 1.25, 2) END,
       n / 8.0,
       CASE WHEN n % 11 = 0 THEN NULL
            ELSE (ARRAY['red', 'green', 'blue'])[1 + n % 3] END,
       (ARRAY['A', 'B', 'C'])[1 + (n / 7) % 3],
       CASE WHEN n % 7 = 0 THEN NULL ELSE n % 2 = 0 END,
       n % 5
FROM generate_series(1, 200) AS n;
CREATE VIEW v_page AS
SELECT id, grp,
       jsonb_build_object('id', id, 'score', score, 'name', name, 'at', at,
                          'day', day, 'price', price, 'ratio', ratio,
                          'grp', grp, 'kind', kind, 'flag', flag,
                          'nested', jsonb_build_object('n', nested_n)) AS data
FROM tb_page;
CREATE TABLE tb_feed (id int PRIMARY KEY, n int);
INSERT INTO tb_feed SELECT n * 10, n % 4 FROM generate_series(1, 60) AS n;
CREATE VIEW v_feed AS
SELECT id, jsonb_build_object('id', id, 'n', n) AS data FROM tb_feed;

-- Every operator family of fql_operators[] (src/core/fql_schema.c) on
-- typed columns: tb_spot holds the values in their PostgreSQL types (the
-- hand-written SQL of t/test_filters.py filters it), v_spot is the
-- FraiseQL view the module reads, its data built from those columns.
CREATE TABLE tb_spot (
    id           int PRIMARY KEY,
    name         text NOT NULL,
    price        numeric,
    ip           inet,
    mac          macaddr,
    path         ltree,
    period       daterange,
    body         tsvector,
    search       tsvector,
    meta         jsonb,
    tags         text[],
    scores       int[],
    amounts      numeric[],
    place        point,           -- (longitude, latitude)
    embedding    float8[],
    owner_first  text,
    owner_last   text,
    owner_city   text             -- owner_first and owner_last null: no owner
);

INSERT INTO tb_spot (id, name, price, ip, mac, path, period, body, meta,
                     tags, scores, place, embedding, owner_first,
                     owner_last, owner_city) VALUES
  (1, 'Paris office', 10.50, '10.0.0.1', '08:00:2b:01:02:03',
   'top.science.physics', '[2024-01-01,2024-02-01)',
   to_tsvector('english', 'The quick brown fox jumps over the lazy dog'),
   '{"kind": "office", "floors": 3, "tags": ["a", "b"]}',
   '{wifi,parking}', '{1,2,3}', '(2.3522,48.8566)', '{1,2,3}',
   'Ada', 'Lovelace', 'London'),
  (2, 'Versailles palace', 99.99, '192.168.1.10', '08:00:2b:01:02:04',
   'top.science.chemistry', '[2024-02-01,2024-03-01)',
   to_tsvector('english', 'A fox and a hound, then a fox hunt: the fox ran'),
   '{"kind": "palace", "floors": 2}',
   '{garden}', '{5}', '(2.1301,48.8049)', '{0,1,0}',
   'Louis', 'Capet', 'Versailles'),
  (3, 'London office', 100, '172.16.5.4', '0a:1b:2c:3d:4e:5f',
   'top.arts', '[2023-12-01,2024-01-01)',
   to_tsvector('english', 'Lazy afternoons by the river'),
   '{"kind": "office", "open": true}',
   '{wifi}', '{3,3}', '(-0.1276,51.5072)', '{3,2,1}',
   'Grace', 'Hopper', 'New York'),
  (4, 'Berlin club', 0, '8.8.8.8', 'ff:ff:ff:ff:ff:ff',
   'top.arts.music.jazz', '[2024-01-15,2024-01-20]',
   to_tsvector('english', 'Jazz clubs and late night music'),
   '{}',
   '{}', '{}', '(13.405,52.52)', NULL,
   'Alan', 'Turing', 'London'),
  (5, 'New York loft', -5.25, '2001:db8::1', '00:00:00:00:00:00',
   'top', '(,2024-01-01)',
   to_tsvector('english', 'Quick lunch near the station'),
   '[1, 2]',
   '{parking,wifi,rooftop}', '{NULL,4}', '(-74.006,40.7128)', NULL,
   'Marie', 'Curie', 'Paris'),
  (6, 'Tokyo shop', 12345678901234567890.123456789, '::1', NULL,
   'science.physics', '[2024-06-01,)',
   to_tsvector('english', 'The fox watched the brown bear'),
   '{"kind": "shop", "tags": ["b"]}',
   '{wifi,wifi}', '{7,8,9,10}', '(139.6917,35.6895)', NULL,
   'Ada', 'Byron', NULL),
  (7, 'Sydney harbour office', 1000, 'fe80::1', NULL,
   'top.science', 'empty', NULL,
   NULL,
   NULL, NULL, '(151.2093,-33.8688)', NULL,
   NULL, NULL, NULL),
  (8, 'Lyon "bouchon"', NULL, '127.0.0.1', NULL,
   NULL, NULL, to_tsvector('english', 'Brown bread and a fox-red wine'),
   '"text"',
   '{"O''Hara \"quoted\""}', '{3}', NULL, NULL,
   NULL, 'Nobody', 'Paris'),
  (9, 'Nice kiosk', 10.5, '1.1.1.1', '08:00:2b:aa:bb:cc',
   'top.science.physics.quantum', '[2024-01-10,2024-01-12)',
   to_tsvector('english', 'Dogs sleep'),
   '{"kind": "office", "floors": 3}',
   '{rooftop}', '{1,1}', '(7.262,43.7102)', NULL,
   'Grace', 'Kelly', 'Nice'),
  (10, 'Network ten', 42, '10.1.0.0/16', NULL, NULL, NULL, NULL,
   '{"kind": "net"}', NULL, NULL, NULL, NULL, NULL, NULL, NULL),
  (11, 'Home LAN', 7.5, '192.168.0.0/24', NULL, NULL, NULL, NULL,
   NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL),
  (12, 'Cloudflare', 3, '2606:4700::1111', NULL, NULL, NULL, NULL,
   NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL),
  (13, 'ULA host', 4, 'fd00::5', NULL, NULL, NULL, NULL,
   NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL),
  (14, 'Link-local host', 5, '169.254.1.1', NULL, NULL, NULL, NULL,
   NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL),
  (15, 'Nowhere', NULL, NULL, NULL, NULL, NULL, NULL,
   NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL),
  (16, 'Docs host', 6, '203.0.113.7', NULL, NULL, NULL, NULL,
   NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL),
  (17, 'Host in ten', 8, '10.1.2.3', NULL, NULL, NULL, NULL,
   NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL);

-- a real tsvector column beside the JSON copy: @column filters use it
UPDATE tb_spot SET search = to_tsvector('english', name) WHERE id <> 15;

-- exact decimals in a list: JSON numbers in the view
UPDATE tb_spot SET amounts = a.v
FROM (VALUES (1, '{0.5,2}'::numeric[]), (2, '{1}'), (3, '{}'),
             (4, '{10.50,10.5}'), (5, '{-5.25,0,1e3}'),
             (6, '{12345678901234567890.123456789}'), (8, '{1.0}'),
             (9, '{2,0.5}')) AS a (id, v)
WHERE tb_spot.id = a.id;

CREATE VIEW v_spot AS
SELECT s.id,
       s.search,
       jsonb_build_object(
           'id', s.id,
           'name', s.name,
           'price', s.price,
           'ip', s.ip,
           'mac', s.mac,
           'path', s.path,
           'period', s.period,
           'body', s.body,
           'search', s.search,
           'meta', s.meta,
           'tags', to_jsonb(s.tags),
           'scores', to_jsonb(s.scores),
           'amounts', to_jsonb(s.amounts),
           'place', s.place,
           'embedding', to_jsonb(s.embedding),
           'owner', CASE WHEN s.owner_first IS NOT NULL
                           OR s.owner_last IS NOT NULL
                    THEN jsonb_build_object(
                        'first_name', s.owner_first,
                        'last_name', s.owner_last,
                        'city', CASE WHEN s.owner_city IS NOT NULL
                                THEN jsonb_build_object('name', s.owner_city)
                                END)
                    END
       ) AS data
FROM tb_spot s;

-- Mutations of t/test_mutations.py: notes, written through functions.
CREATE TABLE tb_note (
    id        serial PRIMARY KEY,
    body      text NOT NULL,
    position  int NOT NULL,
    tags      text[]
);

CREATE VIEW v_note AS
SELECT n.id,
       jsonb_build_object('id', n.id, 'body', n.body,
                          'position', n.position, 'tags', n.tags) AS data
FROM tb_note n;

CREATE FUNCTION app.fn_create_note(input jsonb)
RETURNS app.mutation_response
LANGUAGE plpgsql AS $$
DECLARE
    v_id  int;
BEGIN
    IF input->>'body' = '' THEN
        RETURN ROW('validation:body', 'The body is empty', NULL, 'Note',
                   NULL, NULL, NULL,
                   jsonb_build_object('errors', jsonb_build_array(
                       jsonb_build_object('field', 'body',
                                          'message', 'must not be empty'))))::app.mutation_response;
    END IF;

    INSERT INTO tb_note (body, position, tags)
    VALUES (input->>'body', (SELECT count(*) FROM tb_note),
            ARRAY(SELECT jsonb_array_elements_text(
                coalesce(input->'tags', '[]'))))
    RETURNING id INTO v_id;

    RETURN ROW('created', 'Note created', v_id::text, 'Note',
               (SELECT data FROM v_note WHERE id = v_id),
               ARRAY['body'], jsonb_build_object('count',
                   (SELECT count(*) FROM tb_note)), NULL)::app.mutation_response;
END
$$;

CREATE FUNCTION app.fn_echo_status(input jsonb)
RETURNS app.mutation_response
LANGUAGE sql AS $$
    SELECT ROW(input->>'status', input->>'message', NULL, 'Note', NULL,
               NULL, NULL, jsonb_build_object('errors', jsonb_build_array(
                   jsonb_build_object('field', 'status',
                                      'message', input->>'status'))))
           ::app.mutation_response
$$;

CREATE FUNCTION app.fn_create_note_plain(input jsonb)
RETURNS jsonb
LANGUAGE plpgsql AS $$
DECLARE
    v_id  int;
BEGIN
    INSERT INTO tb_note (body, position)
    VALUES (input->>'body', (SELECT count(*) FROM tb_note))
    RETURNING id INTO v_id;

    RETURN (SELECT data FROM v_note WHERE id = v_id);
END
$$;

CREATE FUNCTION app.fn_fail_note(input jsonb)
RETURNS app.mutation_response
LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO tb_note (body, position) VALUES (input->>'body', -1);
    RAISE EXCEPTION 'secret internal detail: %', input->>'body'
        USING ERRCODE = 'P0001';
END
$$;

CREATE FUNCTION app.fn_echo_input(input jsonb)
RETURNS app.mutation_response
LANGUAGE sql AS $$
    SELECT ROW('ok', input::text, NULL, 'Note', NULL, NULL, input, NULL)
           ::app.mutation_response
$$;

-- a mutation returning its object directly (t/test_mutations_direct.py):
-- each error class it can answer, checked before anything is written
CREATE FUNCTION app.fn_update_note(input jsonb)
RETURNS app.mutation_response
LANGUAGE plpgsql AS $$
DECLARE
    v_id    int := (input->>'id')::int;
    v_body  text;
BEGIN
    SELECT body INTO v_body FROM tb_note WHERE id = v_id;

    IF NOT FOUND THEN
        RETURN ROW('not_found:note', 'No note ' || v_id, v_id::text, 'Note',
                   NULL, NULL, NULL, NULL)::app.mutation_response;
    END IF;

    IF input->>'body' = '' THEN
        RETURN ROW('validation:body', 'The body is empty', v_id::text,
                   'Note', NULL, NULL, NULL, NULL)::app.mutation_response;
    END IF;

    IF input->>'body' = v_body THEN
        RETURN ROW('noop:unchanged', 'Nothing to change', v_id::text,
                   'Note', (SELECT data FROM v_note WHERE id = v_id),
                   NULL, NULL, NULL)::app.mutation_response;
    END IF;

    IF EXISTS (SELECT 1 FROM tb_note WHERE body = input->>'body') THEN
        RETURN ROW('conflict:body', 'Another note has this body',
                   v_id::text, 'Note', NULL, NULL, NULL,
                   NULL)::app.mutation_response;
    END IF;

    UPDATE tb_note SET body = input->>'body' WHERE id = v_id;

    RETURN ROW('updated', 'Note updated', v_id::text, 'Note',
               (SELECT data FROM v_note WHERE id = v_id), ARRAY['body'],
               NULL, NULL)::app.mutation_response;
END
$$;

-- hostile clients (test_hostile.py)

-- big rows: one answer of { bulk { id title body } } is ~6.3 MB (3,000
-- rows of ~2.1 KB), cheap for PostgreSQL to send (a table, no JSON built
-- per query)
CREATE TABLE tb_bulk AS
SELECT n AS id,
       jsonb_build_object('id', n, 'title', 'Bulk title ' || n,
                          'body', repeat(md5(n::text), 64)) AS data
FROM generate_series(1, 3000) AS n;
ALTER TABLE tb_bulk ADD PRIMARY KEY (id);
CREATE VIEW v_bulk AS SELECT id, data FROM tb_bulk;

-- a statement that ignores statement_timeout: it catches the cancel that
-- the timeout sends and sleeps on, but stops on any other cancel
-- (pg_cancel_backend: "canceling statement due to user request"); it
-- gives up by itself after `seconds`
CREATE FUNCTION stubborn_rows(seconds float) RETURNS SETOF int
LANGUAGE plpgsql AS $$
DECLARE
    t0  timestamptz := clock_timestamp();
BEGIN
    WHILE clock_timestamp() < t0 + seconds * interval '1 second' LOOP
        BEGIN
            PERFORM pg_sleep(0.05);
        EXCEPTION WHEN query_canceled THEN
            IF SQLERRM NOT LIKE '%statement timeout%' THEN
                RAISE;
            END IF;
        END;
    END LOOP;
    RETURN QUERY SELECT 1;
END $$;

CREATE VIEW v_stubborn AS
SELECT 1 AS id, jsonb_build_object('id', 1, 'label', 'stubborn') AS data
FROM stubborn_rows(20);

-- a row whose JSON nests 1,000 levels deep in a key nobody selects
CREATE VIEW v_deep AS
SELECT 1 AS id,
       jsonb_build_object('id', 1, 'name', 'deep row',
                          'deep', (repeat('{"a":', 1000) || '1'
                                   || repeat('}', 1000))::jsonb) AS data
UNION ALL
SELECT 2, jsonb_build_object('id', 2, 'name', 'shallow row', 'deep', NULL);

-- mutation functions answering a NULL status, and SQL NULL
CREATE FUNCTION app.fn_null_status(input jsonb)
RETURNS app.mutation_response
LANGUAGE sql AS $$
    SELECT ROW(NULL, 'no status', NULL, 'Note', NULL, NULL, NULL, NULL)
           ::app.mutation_response
$$;

CREATE FUNCTION app.fn_null_row(input jsonb)
RETURNS app.mutation_response
LANGUAGE sql AS $$
    SELECT NULL::app.mutation_response
$$;

-- @json (issue 14): a legacy view whose JSON keys are not snake_case;
-- tb_legacy holds the values in plain columns for the hand-written SQL
-- of t/test_json_keys.py
CREATE TABLE tb_legacy (
    id           int PRIMARY KEY,
    email        text,
    full_name    text,
    age          int,
    status_code  text,
    zip          text,
    city         text
);

INSERT INTO tb_legacy VALUES
  (1, 'ada@example.com', 'Ada Lovelace', 36, 'active', '75001', 'Paris'),
  (2, 'alan@example.com', 'Alan Turing', 41, 'retired', '10115', 'Berlin'),
  (3, 'grace@example.com', 'Grace Hopper', 85, 'active', '10001',
   'New York'),
  (4, NULL, 'O''Brien "quoted"', NULL, NULL, NULL, NULL),
  (5, 'marie@example.com', 'Marie Curie', 66, 'active', '75005', 'Paris');

CREATE VIEW v_legacy AS
SELECT l.id,
       l.status_code AS "statusCode",
       jsonb_build_object(
           'id', l.id,
           'eMail', l.email,
           'Full Name', l.full_name,
           'it''s "age"', l.age,
           'statusCode', l.status_code,
           'homeAddress', CASE WHEN l.zip IS NOT NULL
                          THEN jsonb_build_object('ZIP', l.zip,
                                                  'cityName', l.city)
                          END
       ) AS data
FROM tb_legacy l;

-- a write whose input JSON keys are the @json keys of LegacyInput
CREATE FUNCTION app.fn_save_legacy(input jsonb)
RETURNS app.mutation_response
LANGUAGE plpgsql AS $$
DECLARE
    v_id  int;
BEGIN
    INSERT INTO tb_legacy (id, email, full_name)
    VALUES ((SELECT coalesce(max(id), 0) + 1 FROM tb_legacy),
            input->>'eMail', input->>'Full Name')
    RETURNING id INTO v_id;

    RETURN ROW('created', input::text, v_id::text, 'Legacy',
               (SELECT data FROM v_legacy WHERE id = v_id), NULL, NULL,
               NULL)::app.mutation_response;
END
$$;

-- query functions (t/test_query_functions.py): documents to search
CREATE TABLE tb_doc (
    id     int PRIMARY KEY,
    title  text NOT NULL,
    body   text NOT NULL,
    price  numeric NOT NULL,
    lat    float8 NOT NULL,
    lon    float8 NOT NULL
);

CREATE VIEW v_doc AS
SELECT id,
       jsonb_build_object('id', id, 'title', title, 'body', body,
                          'price', price, 'lat', lat, 'lon', lon,
                          'rank', NULL) AS data
FROM tb_doc;

INSERT INTO tb_doc
SELECT n,
       (ARRAY['Cats and dogs', 'Dogs at night', 'The cat''s "quote"',
              'Back\slash', 'Fish'])[1 + n % 5] || ' ' || n,
       (ARRAY['a cat sat on a mat', 'dogs bark at cats and dogs',
              'nothing here', 'cat cat cat', 'drop table tb_doc'])
           [1 + (n * 7) % 5],
       (n * 3.5) % 100,
       45 + (n % 10) * 0.1,
       5 + (n % 7) * 0.1
FROM generate_series(1, 60) AS n;

-- full text search ranked: best first; min_price has a DEFAULT
CREATE FUNCTION app.fn_search_docs(q text, min_price numeric DEFAULT 0)
RETURNS TABLE (id int, data jsonb)
LANGUAGE sql STABLE AS $$
    SELECT d.id, d.data || jsonb_build_object('rank', r.rank)
    FROM v_doc d
    JOIN tb_doc t ON t.id = d.id,
         LATERAL (SELECT ts_rank(to_tsvector('english', t.title || ' '
                                             || t.body),
                                 websearch_to_tsquery('english', q))
                         AS rank) r
    WHERE to_tsvector('english', t.title || ' ' || t.body)
          @@ websearch_to_tsquery('english', q)
      AND t.price >= coalesce(min_price, 0)
    ORDER BY r.rank DESC, d.id
$$;

-- near a point (degrees, about 111 km each), nearest first
CREATE FUNCTION app.fn_docs_near(lat float8, lon float8,
                                 km float8 DEFAULT 20)
RETURNS SETOF v_doc
LANGUAGE sql STABLE AS $$
    SELECT d.* FROM v_doc d JOIN tb_doc t ON t.id = d.id
    WHERE sqrt((t.lat - fn_docs_near.lat) ^ 2
               + (t.lon - fn_docs_near.lon) ^ 2) * 111 <= km
    ORDER BY sqrt((t.lat - fn_docs_near.lat) ^ 2
                  + (t.lon - fn_docs_near.lon) ^ 2), t.id
$$;

-- a price range; a bound left NULL is open
CREATE FUNCTION app.fn_docs_priced(low numeric DEFAULT NULL,
                                   high numeric DEFAULT NULL,
                                   title_like text DEFAULT '%')
RETURNS SETOF v_doc
LANGUAGE sql STABLE AS $$
    SELECT d.* FROM v_doc d JOIN tb_doc t ON t.id = d.id
    WHERE (low IS NULL OR t.price >= low)
      AND (high IS NULL OR t.price <= high)
      AND t.title LIKE title_like
    ORDER BY t.price, t.id
$$;

-- one object: the first document with this title, or none
CREATE FUNCTION app.fn_doc_by_title(title text)
RETURNS SETOF v_doc
LANGUAGE sql STABLE AS $$
    SELECT d.* FROM v_doc d JOIN tb_doc t ON t.id = d.id
    WHERE t.title = fn_doc_by_title.title
    ORDER BY t.id
$$;

CREATE FUNCTION app.fn_doc_by_id(doc_id int)
RETURNS SETOF v_doc
LANGUAGE sql STABLE AS $$
    SELECT * FROM v_doc WHERE id = doc_id
$$;

-- JSON, Boolean and enum arguments: jsonb, boolean, text
CREATE FUNCTION app.fn_docs_matching(match jsonb, cheap boolean DEFAULT NULL,
                                     kind text DEFAULT NULL)
RETURNS SETOF v_doc
LANGUAGE sql STABLE AS $$
    SELECT d.* FROM v_doc d JOIN tb_doc t ON t.id = d.id
    WHERE d.data @> match
      AND (cheap IS NULL OR (t.price < 50) = cheap)
      AND (kind IS NULL OR t.title LIKE kind || '%')
    ORDER BY t.id
$$;

-- Identity (t/test_jwt.py): what PostgreSQL learns of a request's token,
-- and a row-level security policy on its claims, for a role the module
-- switches to with fraiseql_db_role claim
CREATE ROLE app_user NOLOGIN;
CREATE VIEW v_whoami AS
SELECT 1 AS id,
       jsonb_build_object(
           'id', 1,
           'claims', nullif(current_setting('request.jwt.claims', true), ''),
           'role', current_user::text,
           'ip', nullif(current_setting('request.ip', true), '')) AS data;
CREATE TABLE tb_tenant_note (id int PRIMARY KEY, tenant text NOT NULL,
                             body text NOT NULL);
INSERT INTO tb_tenant_note VALUES
  (1, 't1', 'one'), (2, 't1', 'two'), (3, 't2', 'three'), (4, 't3', 'four');
ALTER TABLE tb_tenant_note ENABLE ROW LEVEL SECURITY;
CREATE POLICY tenant_only ON tb_tenant_note
    USING (tenant = nullif(current_setting('request.jwt.claims', true),
                           '')::jsonb->>'tenant');
CREATE VIEW v_tenant_note WITH (security_invoker = true) AS
SELECT id, jsonb_build_object('id', id, 'tenant', tenant, 'body', body) AS data
FROM tb_tenant_note;
GRANT SELECT ON tb_tenant_note, v_tenant_note, v_whoami TO app_user;

-- @fromClaim (t/test_jwt.py): functions that take an argument the module
-- binds from the verified token, never from the client
CREATE VIEW v_echo AS SELECT 1 AS id, '{}'::jsonb AS data WHERE false;
CREATE FUNCTION app.fn_claim_echo(who text, n int DEFAULT 1)
RETURNS TABLE (id int, data jsonb) LANGUAGE sql AS $$
    SELECT 1, jsonb_build_object('id', 1, 'who', who, 'n', n)
$$;
CREATE FUNCTION app.fn_stamp(input jsonb, by text)
RETURNS app.mutation_response LANGUAGE sql AS $$
    SELECT ROW('created', 'Stamped', '1', 'Echo',
               jsonb_build_object('id', 1, 'who', by,
                                  'n', (input->>'n')::int),
               NULL, NULL, NULL)::app.mutation_response
$$;

-- Authorization (t/test_authz.py, t/authz.graphql): memos of three
-- tenants, read through the schema's row filters and field rules; no
-- row-level security here: the module's rules alone decide
CREATE TABLE tb_memo (id int PRIMARY KEY, tenant text NOT NULL,
                      owner text NOT NULL, title text NOT NULL, salary int,
                      secret text, note text);
INSERT INTO tb_memo VALUES
  (1, 't1', 'u1', 'alpha', 100, 's1', 'n1'),
  (2, 't1', 'u2', 'beta', 200, 's2', 'n2'),
  (3, 't2', 'u3', 'gamma', 300, 's3', 'n3'),
  (4, 't3', 'u4', 'delta', 400, 's4', 'n4'),
  (5, 't2', 'u1', 'epsilon', 500, 's5', 'n5');
CREATE VIEW v_memo AS
SELECT id, tenant, jsonb_build_object('id', id, 'tenant', tenant,
       'owner', owner, 'title', title, 'salary', salary, 'secret', secret,
       'note', note) AS data
FROM tb_memo;
CREATE FUNCTION app.fn_memos_like(pattern text)
RETURNS SETOF v_memo LANGUAGE sql STABLE AS $$
    SELECT * FROM v_memo WHERE data->>'title' LIKE pattern ORDER BY id
$$;
CREATE FUNCTION app.fn_touch_memo(input jsonb)
RETURNS app.mutation_response LANGUAGE sql AS $$
    SELECT ROW('updated', 'Touched', (input->>'id'), 'Memo',
               (SELECT data FROM v_memo WHERE id = (input->>'id')::int),
               NULL, NULL, NULL)::app.mutation_response
$$;

-- Permissions from the database (t/test_permissions.py): each subject's
-- roles and permissions, and a log of the function's calls
CREATE TABLE tb_grant (sub text PRIMARY KEY, roles text[] NOT NULL,
                       permissions text[] NOT NULL);
CREATE TABLE tb_grant_call (sub text, at timestamptz DEFAULT
                            clock_timestamp());
INSERT INTO tb_grant VALUES
  ('m1', '{manager}', '{}'),
  ('s1', '{user}', '{memo:read_secret}'),
  ('a1', '{admin,"no such role"}', '{memo:read_secret}');
CREATE FUNCTION app.fn_permissions(claims jsonb)
RETURNS TABLE (roles text[], permissions text[]) LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO tb_grant_call (sub) VALUES (claims->>'sub');
    RETURN QUERY SELECT g.roles, g.permissions FROM tb_grant g
                 WHERE g.sub = claims->>'sub';
END
$$;
