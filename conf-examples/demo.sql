-- FraiseQL-style demo schema: tables hold the writes, views expose one
-- JSONB `data` column per row with snake_case keys, nested objects
-- composed in SQL.

CREATE TABLE tb_user (
    id          uuid PRIMARY KEY,
    email       text NOT NULL UNIQUE,
    first_name  text NOT NULL,
    last_name   text NOT NULL,
    age         int,
    active      boolean NOT NULL DEFAULT true,
    created_at  timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE tb_post (
    id          uuid PRIMARY KEY,
    author_id   uuid NOT NULL REFERENCES tb_user (id),
    title       text NOT NULL,
    body        text NOT NULL,
    published   boolean NOT NULL DEFAULT false,
    rating      numeric(4, 2),
    tags        text[] NOT NULL DEFAULT '{}',
    created_at  timestamptz NOT NULL DEFAULT now()
);

CREATE INDEX ON tb_post (author_id);

CREATE VIEW v_user AS
SELECT u.id,
       jsonb_build_object(
           'id', u.id,
           'email', u.email,
           'first_name', u.first_name,
           'last_name', u.last_name,
           'age', u.age,
           'active', u.active,
           'created_at', u.created_at
       ) AS data
FROM tb_user u;

CREATE VIEW v_post AS
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
       ) AS data
FROM tb_post p
JOIN tb_user u ON u.id = p.author_id;

-- deterministic ids so that examples and tests can name rows
CREATE FUNCTION demo_uuid(kind text, n int) RETURNS uuid
LANGUAGE sql IMMUTABLE AS $$ SELECT md5(kind || n)::uuid $$;

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
       timestamptz '2024-01-01 00:00:00+00' + n * interval '1 hour'
FROM generate_series(1, 100) AS n;

INSERT INTO tb_post (id, author_id, title, body, published, rating, tags,
                     created_at)
SELECT demo_uuid('post', n),
       demo_uuid('user', 1 + n % 100),
       'Post number ' || n,
       'Body of post ' || n || '. It says something about GraphQL.',
       n % 3 <> 0,
       (n % 500) / 100.0,
       ARRAY['tag' || (n % 7), 'tag' || (n % 11)],
       timestamptz '2024-06-01 00:00:00+00' + n * interval '1 minute'
FROM generate_series(1, 2000) AS n;

ANALYZE;
