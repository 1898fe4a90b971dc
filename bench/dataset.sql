-- The benchmark's data set: the demo schema (conf-examples/demo.sql: the
-- same tables, views, types and mutation functions), scaled up to 10,000
-- users and 100,000 posts, plus what a FraiseQL deployment adds for
-- reads at that size:
--   * the views also expose the columns that filters and orders use
--     (`published`, `created_at`; the schema marks them @column), so the
--     planner walks an index and builds `data` for the rows returned only;
--   * tv_user / tv_post: the same rows with `data` stored, not computed
--     (FraiseQL's "table views"), for the tv_* variant of the workloads.
-- Load with: psql -v ON_ERROR_STOP=1 -f bench/dataset.sql

\ir ../conf-examples/demo.sql

\if :{?users}
\else
\set users 10000
\endif
\if :{?posts}
\else
\set posts 100000
\endif

TRUNCATE tb_post, tb_user;

INSERT INTO tb_user (id, email, first_name, last_name, age, active,
                     created_at)
SELECT demo_uuid('user', n),
       'user' || n || '@example.com',
       (ARRAY['Ada', 'Grace', 'Alan', 'Edsger', 'Barbara', 'Donald',
              'Frances', 'Ken'])[1 + n % 8],
       (ARRAY['Lovelace', 'Hopper', 'Turing', 'Dijkstra', 'Liskov',
              'Knuth', 'Allen', 'Thompson'])[1 + (n / 8) % 8],
       18 + n % 60,
       n % 5 <> 0,
       timestamptz '2024-01-01 00:00:00+00' + n * interval '1 minute'
FROM generate_series(1, :users) AS n;

INSERT INTO tb_post (id, author_id, title, body, published, rating, tags,
                     created_at)
SELECT demo_uuid('post', n),
       demo_uuid('user', 1 + n % :users),
       'Post number ' || n,
       'Body of post ' || n || '. It says something about GraphQL.',
       n % 3 <> 0,
       (n % 500) / 100.0,
       ARRAY['tag' || (n % 7), 'tag' || (n % 11)],
       timestamptz '2024-06-01 00:00:00+00' + n * interval '1 second'
FROM generate_series(1, :posts) AS n;

-- the columns filters and orders use, appended to the demo's views
CREATE OR REPLACE VIEW v_user AS
SELECT u.id,
       jsonb_build_object(
           'id', u.id,
           'email', u.email,
           'first_name', u.first_name,
           'last_name', u.last_name,
           'age', u.age,
           'active', u.active,
           'created_at', u.created_at
       ) AS data,
       u.created_at
FROM tb_user u;

CREATE OR REPLACE VIEW v_post AS
SELECT p.id,
       p.author_id,
       jsonb_build_object(
           'id', p.id,
           'title', p.title,
           'body', p.body,
           'published', p.published,
           'rating', p.rating,
           'tags', to_jsonb(p.tags),
           'created_at', p.created_at,
           'author', jsonb_build_object(
               'id', u.id,
               'first_name', u.first_name,
               'last_name', u.last_name,
               'email', u.email)
       ) AS data,
       p.published,
       p.created_at
FROM tb_post p
JOIN tb_user u ON u.id = p.author_id;

CREATE INDEX ON tb_post (published, created_at);
CREATE INDEX ON tb_post (created_at);
CREATE INDEX ON tb_user (created_at);

-- stored data: what a refresh function would keep up to date
CREATE TABLE tv_user AS SELECT * FROM v_user;
ALTER TABLE tv_user ADD PRIMARY KEY (id);
CREATE INDEX ON tv_user (created_at);

CREATE TABLE tv_post AS SELECT * FROM v_post;
ALTER TABLE tv_post ADD PRIMARY KEY (id);
CREATE INDEX ON tv_post (published, created_at);
CREATE INDEX ON tv_post (created_at);

VACUUM ANALYZE;
