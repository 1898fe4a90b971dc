-- Test-only objects on top of the demo schema.

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
