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


-- Writes go through functions (FraiseQL's mutations): each takes its input
-- as JSON with snake_case keys and answers a mutation_response; errors the
-- caller can act on are a status, not an exception.
CREATE SCHEMA app;

CREATE TYPE app.mutation_response AS (
    status          text,
    message         text,
    entity_id       text,
    entity_type     text,
    entity          jsonb,
    updated_fields  text[],
    cascade         jsonb,
    metadata        jsonb
);

CREATE FUNCTION app.fn_create_user(input jsonb)
RETURNS app.mutation_response
LANGUAGE plpgsql AS $$
DECLARE
    v_id  uuid := gen_random_uuid();
BEGIN
    IF coalesce(input->>'email', '') !~ '^[^@[:space:]]+@[^@[:space:]]+$' THEN
        RETURN ROW('validation:email', 'The email address is not valid',
                   NULL, 'User', NULL, NULL, NULL,
                   jsonb_build_object('errors', jsonb_build_array(
                       jsonb_build_object('field', 'email',
                                          'message', 'is not an email address'))))::app.mutation_response;
    END IF;

    IF EXISTS (SELECT 1 FROM tb_user WHERE email = input->>'email') THEN
        RETURN ROW('conflict:email_taken', 'The email address is taken',
                   NULL, 'User', NULL, NULL, NULL, NULL)::app.mutation_response;
    END IF;

    INSERT INTO tb_user (id, email, first_name, last_name, age)
    VALUES (v_id, input->>'email', input->>'first_name', input->>'last_name',
            (input->>'age')::int);

    RETURN ROW('created', 'User created', v_id::text, 'User',
               (SELECT data FROM v_user WHERE id = v_id),
               ARRAY(SELECT jsonb_object_keys(input)), NULL, NULL)::app.mutation_response;
END
$$;

CREATE FUNCTION app.fn_update_user(input jsonb)
RETURNS app.mutation_response
LANGUAGE plpgsql AS $$
DECLARE
    v_old  tb_user;
    v_new  tb_user;
BEGIN
    SELECT * INTO v_old FROM tb_user WHERE id = (input->>'id')::uuid;

    IF NOT FOUND THEN
        RETURN ROW('not_found:user', 'No user with this id', input->>'id',
                   'User', NULL, NULL, NULL, NULL)::app.mutation_response;
    END IF;

    UPDATE tb_user
       SET email = coalesce(input->>'email', email),
           first_name = coalesce(input->>'first_name', first_name),
           last_name = coalesce(input->>'last_name', last_name),
           age = CASE WHEN input ? 'age' THEN (input->>'age')::int ELSE age END
     WHERE id = v_old.id
    RETURNING * INTO v_new;

    IF v_new IS NOT DISTINCT FROM v_old THEN
        RETURN ROW('noop:unchanged', 'Nothing to change', v_old.id::text,
                   'User', (SELECT data FROM v_user WHERE id = v_old.id),
                   NULL, NULL, NULL)::app.mutation_response;
    END IF;

    RETURN ROW('updated', 'User updated', v_new.id::text, 'User',
               (SELECT data FROM v_user WHERE id = v_new.id),
               ARRAY(SELECT k FROM jsonb_object_keys(input) AS k
                     WHERE k <> 'id'), NULL, NULL)::app.mutation_response;
END
$$;

CREATE FUNCTION app.fn_delete_user(input jsonb)
RETURNS app.mutation_response
LANGUAGE plpgsql AS $$
DECLARE
    v_data  jsonb;
BEGIN
    SELECT data INTO v_data FROM v_user WHERE id = (input->>'id')::uuid;

    IF v_data IS NULL THEN
        RETURN ROW('not_found:user', 'No user with this id', input->>'id',
                   'User', NULL, NULL, NULL, NULL)::app.mutation_response;
    END IF;

    IF EXISTS (SELECT 1 FROM tb_post WHERE author_id = (input->>'id')::uuid)
    THEN
        RETURN ROW('conflict:has_posts', 'The user has posts', input->>'id',
                   'User', v_data, NULL, NULL, NULL)::app.mutation_response;
    END IF;

    DELETE FROM tb_user WHERE id = (input->>'id')::uuid;

    RETURN ROW('deleted', 'User deleted', input->>'id', 'User', v_data,
               NULL, NULL, NULL)::app.mutation_response;
END
$$;

-- Signed-in requests (location /graphql-auth in conf-examples/nginx.conf)
-- run as demo_user: fraiseql_db_role claim sets the role a verified
-- token names, and request.jwt.claims.  The policies read the claims:
-- an unpublished post is its author's only, and one writes posts as
-- oneself.  The module's own connection (a superuser here) is not bound
-- by them, so the public location is as before.
CREATE ROLE demo_user NOLOGIN;
GRANT USAGE ON SCHEMA app TO demo_user;
GRANT SELECT ON tb_user, tb_post, v_user, v_post TO demo_user;
GRANT INSERT ON tb_post TO demo_user;

ALTER TABLE tb_post ENABLE ROW LEVEL SECURITY;
CREATE POLICY post_read ON tb_post FOR SELECT
    USING (published OR author_id::text =
           nullif(current_setting('request.jwt.claims', true), '')::jsonb
               ->>'sub');
CREATE POLICY post_write ON tb_post FOR INSERT
    WITH CHECK (author_id::text =
                nullif(current_setting('request.jwt.claims', true), '')::jsonb
                    ->>'sub');
-- the view reads tb_post as the caller, so that the policy applies
ALTER VIEW v_post SET (security_invoker = true);

-- the author is the token's subject (@fromClaim), never the client's word
CREATE FUNCTION app.fn_create_post(input jsonb, author_id uuid)
RETURNS app.mutation_response
LANGUAGE plpgsql AS $$
DECLARE
    v_id  uuid := gen_random_uuid();
BEGIN
    IF coalesce(input->>'title', '') = '' THEN
        RETURN ROW('validation:title', 'The title is empty', NULL, 'Post',
                   NULL, NULL, NULL, NULL)::app.mutation_response;
    END IF;

    INSERT INTO tb_post (id, author_id, title, body)
    VALUES (v_id, author_id, input->>'title', coalesce(input->>'body', ''));

    RETURN ROW('created', 'Post created', v_id::text, 'Post',
               (SELECT data FROM v_post WHERE id = v_id),
               NULL, NULL, NULL)::app.mutation_response;
END
$$;

-- Teams and their projects (docs/security.md#authorization): the
-- schema's row filter shows a signed-in member the projects of the team
-- its token names, and their budgets to team leads only; the module
-- checks that before any SQL, PostgreSQL needs no policy for it.
CREATE TABLE tb_team (
    id          uuid PRIMARY KEY,
    name        text NOT NULL
);

CREATE TABLE tb_project (
    id          uuid PRIMARY KEY,
    team_id     uuid NOT NULL REFERENCES tb_team (id),
    name        text NOT NULL,
    budget      int NOT NULL,
    created_at  timestamptz NOT NULL DEFAULT now()
);

CREATE INDEX ON tb_project (team_id);

CREATE VIEW v_project AS
SELECT p.id, p.team_id,
       jsonb_build_object('id', p.id, 'team_id', p.team_id,
                          'team', t.name, 'name', p.name,
                          'budget', p.budget,
                          'created_at', p.created_at) AS data
FROM tb_project p
JOIN tb_team t ON t.id = p.team_id;

INSERT INTO tb_team (id, name)
SELECT demo_uuid('team', n), (ARRAY['Red', 'Green', 'Blue'])[n]
FROM generate_series(1, 3) AS n;

INSERT INTO tb_project (id, team_id, name, budget, created_at)
SELECT demo_uuid('project', n), demo_uuid('team', 1 + n % 3),
       'Project ' || n, 1000 * n,
       timestamptz '2024-03-01 00:00:00+00' + n * interval '1 day'
FROM generate_series(1, 12) AS n;

-- a team lead is a member who also sees budgets
CREATE ROLE demo_lead NOLOGIN IN ROLE demo_user;
GRANT SELECT ON tb_team, tb_project, v_project TO demo_user;
GRANT UPDATE (name) ON tb_project TO demo_user;

-- renames a project of the caller's team (@fromClaim), none other
CREATE FUNCTION app.fn_rename_project(input jsonb, team_id uuid)
RETURNS app.mutation_response
LANGUAGE plpgsql AS $$
DECLARE
    v_id  uuid;
BEGIN
    UPDATE tb_project SET name = input->>'name'
    WHERE id = (input->>'id')::uuid AND tb_project.team_id =
          fn_rename_project.team_id
    RETURNING id INTO v_id;

    IF v_id IS NULL THEN
        RETURN ROW('not_found:project', 'No such project in your team', NULL,
                   'Project', NULL, NULL, NULL, NULL)::app.mutation_response;
    END IF;

    RETURN ROW('updated', 'Project renamed', v_id::text, 'Project',
               (SELECT data FROM v_project WHERE id = v_id),
               NULL, NULL, NULL)::app.mutation_response;
END
$$;

ANALYZE;
