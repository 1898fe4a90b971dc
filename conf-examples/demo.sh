#!/bin/sh
# Starts (or stops) the demo: a throwaway PostgreSQL cluster loaded with
# conf-examples/demo.sql and nginx with the module on 127.0.0.1:8080.
set -eu

ROOT=$(cd "$(dirname "$0")/.." && pwd)
DEMO=$ROOT/build/demo
PGDIR=$DEMO/pg
SHARE=/var/tmp/fraiseql-demo
PGPORT=${FRAISEQL_DEMO_PGPORT:-55432}
PGBIN=$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -1)

as_pg() { runuser -u postgres -- "$@"; }

stop() {
    if [ -f "$DEMO/nginx.pid" ]; then
        /usr/sbin/nginx -p "$DEMO" -e "$DEMO/error.log" \
            -c "$DEMO/nginx.conf" -s quit 2>/dev/null || true
        rm -f "$DEMO/nginx.pid"
    fi
    if [ -f "$PGDIR/data/postmaster.pid" ]; then
        as_pg "$PGBIN/pg_ctl" -D "$PGDIR/data" -m fast -w stop >/dev/null \
            || true
    fi
}

start() {
    stop
    rm -rf "$DEMO"
    mkdir -p "$PGDIR"
    chown postgres:postgres "$PGDIR"

    as_pg "$PGBIN/initdb" -D "$PGDIR/data" -A trust -U postgres -E UTF8 \
        --locale=C.UTF-8 >/dev/null
    cat >> "$PGDIR/data/postgresql.auto.conf" <<CONF
listen_addresses = '127.0.0.1'
port = $PGPORT
unix_socket_directories = '$PGDIR'
CONF
    as_pg "$PGBIN/pg_ctl" -D "$PGDIR/data" -l "$PGDIR/log" -w start >/dev/null
    as_pg "$PGBIN/createdb" -h 127.0.0.1 -p "$PGPORT" -U postgres demo
    psql -q -X -v ON_ERROR_STOP=1 -h 127.0.0.1 -p "$PGPORT" -U postgres \
        -d demo -f "$ROOT/conf-examples/demo.sql"

    # the signed-in location's key, and day-long tokens for user 1, a
    # member of team Red, and for user 2, who leads team Green
    head -c 32 /dev/urandom | base64 > "$DEMO/jwt.key"
    SUB=$(psql -qtAX -h 127.0.0.1 -p "$PGPORT" -U postgres -d demo \
        -c "SELECT demo_uuid('user', 1)")
    SUB2=$(psql -qtAX -h 127.0.0.1 -p "$PGPORT" -U postgres -d demo \
        -c "SELECT demo_uuid('user', 2)")
    RED=$(psql -qtAX -h 127.0.0.1 -p "$PGPORT" -U postgres -d demo \
        -c "SELECT demo_uuid('team', 1)")
    GREEN=$(psql -qtAX -h 127.0.0.1 -p "$PGPORT" -U postgres -d demo \
        -c "SELECT demo_uuid('team', 2)")
    TOKEN=$(/usr/bin/python3 "$ROOT/conf-examples/demo_token.py" "$DEMO/jwt.key" \
        "$SUB" demo_user "$RED")
    LEAD=$(/usr/bin/python3 "$ROOT/conf-examples/demo_token.py" "$DEMO/jwt.key" \
        "$SUB2" demo_lead "$GREEN")

    sed -e "s|@ROOT@|$ROOT|g" -e "s|@DEMO@|$DEMO|g" \
        -e "s|@PGPORT@|$PGPORT|g" -e "s|@SHARE@|$SHARE|g" \
        "$ROOT/conf-examples/nginx.conf" > "$DEMO/nginx.conf"

    # the workers run as www-data, which may not enter this clone (under
    # /root, say): their temporary files and GraphiQL's are elsewhere
    rm -rf "$SHARE"
    mkdir -p "$SHARE"
    chmod 755 "$SHARE"
    for d in body proxy fastcgi uwsgi scgi; do
        mkdir -p "$SHARE/$d"
        chown www-data "$SHARE/$d"
    done
    if [ -d "$ROOT/build/graphiql-assets" ]; then
        cp -r "$ROOT/build/graphiql-assets" "$SHARE/"
        chmod -R a+rX "$SHARE/graphiql-assets"
    fi

    /usr/sbin/nginx -p "$DEMO" -e "$DEMO/error.log" -c "$DEMO/nginx.conf" -t \
        -q
    /usr/sbin/nginx -p "$DEMO" -e "$DEMO/error.log" -c "$DEMO/nginx.conf"

    cat <<MSG

fraiseql-nginx demo is running: GraphQL at http://127.0.0.1:8080/graphql
(PostgreSQL on 127.0.0.1:$PGPORT, database "demo"; logs in $DEMO).
Open that URL in a browser for GraphiQL.

Try:

  curl -s http://127.0.0.1:8080/graphql -H 'Content-Type: application/json' \\
    -d '{"query": "{ users(limit: 3, orderBy: [{age: DESC}]) { id firstName lastName age } posts(where: {published: {eq: true}}, limit: 2) { title author { firstName } } }"}'

A page of users with cursors (pass endCursor as "after" for the next):

  curl -s http://127.0.0.1:8080/graphql -H 'Content-Type: application/json' \\
    -d '{"query": "$CONNECTION"}'

Counts and aggregates, of all users and per group:

  curl -s http://127.0.0.1:8080/graphql -H 'Content-Type: application/json' \\
    -d '{"query": "$AGGREGATE"}'

Signed in as user 1 (a token for /graphql-auth, valid a day; the
requests there run as demo_user, whose row-level security policy shows
unpublished posts to their author only):

  TOKEN=$TOKEN

  curl -s http://127.0.0.1:8080/graphql-auth -H "Authorization: Bearer \$TOKEN" \\
    -H 'Content-Type: application/json' -d '{"query": "$MINE"}'

Projects are their team's: user 1's token (team Red) lists Red's only,
and asking for budgets is refused (403 FORBIDDEN: leads only); user 2
leads team Green and sees Green's, budgets included:

  curl -s http://127.0.0.1:8080/graphql-auth -H "Authorization: Bearer \$TOKEN" \\
    -H 'Content-Type: application/json' -d '{"query": "$PROJECTS"}'

  LEAD=$LEAD

  curl -s http://127.0.0.1:8080/graphql-auth -H "Authorization: Bearer \$LEAD" \\
    -H 'Content-Type: application/json' -d '{"query": "$BUDGETS"}'

and a post written as user 1 (the author comes from the token, @fromClaim):

  curl -s http://127.0.0.1:8080/graphql-auth -H "Authorization: Bearer \$TOKEN" \\
    -H 'Content-Type: application/json' \\
    -d '{"query": "mutation { createPost(input: {title: \\"Hello\\", body: \\"From the demo\\"}) { title author { email } } }"}'

A mutation (it calls app.fn_create_user; run it twice to see the Error
member of the result union answer "conflict"):

  curl -s http://127.0.0.1:8080/graphql -H 'Content-Type: application/json' \\
    -d '{"query": "mutation { createUser(input: {email: \\"new@example.com\\", firstName: \\"New\\", lastName: \\"User\\"}) { __typename ... on CreateUserSuccess { message user { id email } } ... on CreateUserError { message code identifier } } }"}'

A document sent once, then named by its SHA-256 (Apollo's automatic
persisted queries): the hash alone is not known yet, the hash with the
text registers it, and then the hash alone is enough, by GET too (a
cacheable URL: the answer says Cache-Control):

  HASH=$APQ_HASH
  curl -s http://127.0.0.1:8080/graphql -H 'Content-Type: application/json' \\
    -d '{"extensions": {"persistedQuery": {"version": 1, "sha256Hash": "'\$HASH'"}}}'
  curl -s http://127.0.0.1:8080/graphql -H 'Content-Type: application/json' \\
    -d '{"query": "$APQ", "extensions": {"persistedQuery": {"version": 1, "sha256Hash": "'\$HASH'"}}}'
  curl -s -G http://127.0.0.1:8080/graphql \\
    --data-urlencode 'extensions={"persistedQuery": {"version": 1, "sha256Hash": "'\$HASH'"}}'

Operations: Prometheus metrics, health, and one JSON line per request
in $DEMO/access.log (mutations also in audit.log):

  curl -s http://127.0.0.1:8080/metrics | grep '^fraiseql_requests_total'
  curl -s http://127.0.0.1:8080/readyz
  tail -n 3 $DEMO/access.log

Stop it with: make demo-stop
MSG

    # the persisted query above: not found, registered, then by GET
    printf '\n%s (persisted: the hash alone, with the text, by GET)\n' "$APQ"
    PQ='{"version": 1, "sha256Hash": "'$APQ_HASH'"}'
    for body in "{\"extensions\": {\"persistedQuery\": $PQ}}" \
                "{\"query\": \"$APQ\", \"extensions\": {\"persistedQuery\": $PQ}}"
    do
        printf '  -> '
        curl -s http://127.0.0.1:8080/graphql \
            -H 'Content-Type: application/json' -d "$body" \
            || echo "(curl failed)"
    done
    printf '  -> '
    curl -s -G http://127.0.0.1:8080/graphql \
        --data-urlencode "extensions={\"persistedQuery\": $PQ}" \
        || echo "(curl failed)"
    echo

    # the page and the aggregate above, answered by the running demo
    for q in "$CONNECTION" "$AGGREGATE"; do
        printf '\n%s\n  -> ' "$q"
        curl -s http://127.0.0.1:8080/graphql \
            -H 'Content-Type: application/json' \
            -d "{\"query\": \"$q\"}" || echo "(curl failed)"
        echo
    done

    # and user 1's own unpublished posts and team's projects, signed in;
    # then user 2's team's budgets
    for q in "$MINE" "$PROJECTS"; do
        printf '\n%s (user 1)\n  -> ' "$q"
        curl -s http://127.0.0.1:8080/graphql-auth \
            -H "Authorization: Bearer $TOKEN" \
            -H 'Content-Type: application/json' \
            -d "{\"query\": \"$q\"}" || echo "(curl failed)"
        echo
    done
    printf '\n%s (user 2, a lead)\n  -> ' "$BUDGETS"
    curl -s http://127.0.0.1:8080/graphql-auth \
        -H "Authorization: Bearer $LEAD" \
        -H 'Content-Type: application/json' \
        -d "{\"query\": \"$BUDGETS\"}" || echo "(curl failed)"
    echo

    # what the requests above left in the metrics and the access log
    printf '\nreadyz -> '
    curl -s http://127.0.0.1:8080/readyz || echo "(curl failed)"
    printf 'metrics ->\n'
    curl -s http://127.0.0.1:8080/metrics | grep '^fraiseql_requests_total' \
        | grep -v ' 0$' || echo "(curl failed)"
    printf 'access log (last line) ->\n'
    grep '"type":"query"' "$DEMO/access.log" | tail -n 1
}

# the examples start() shows (t/test_demo.py runs them too)
CONNECTION='{ usersConnection(first: 3, orderBy: [{age: DESC}]) { totalCount edges { cursor node { firstName age } } pageInfo { hasNextPage endCursor } } }'
MINE='{ posts(where: {published: {eq: false}}, limit: 3) { title author { email } } }'
PROJECTS='{ projects(orderBy: [{name: ASC}]) { name team } }'
BUDGETS='{ projectsAggregate { count sum { budget } } projects(limit: 2) { name budget } }'
APQ='{ users(limit: 2, orderBy: [{id: ASC}]) { id email } }'
APQ_HASH=$(printf '%s' "$APQ" | sha256sum | cut -d' ' -f1)
AGGREGATE='{ usersAggregate(where: {age: {gte: 30}}) { count avg { age } max { createdAt } groupBy(fields: [active]) { key { active } count min { age } } } }'

case "${1:-start}" in
    start) start ;;
    stop) stop; echo "demo stopped" ;;
    *) echo "usage: $0 start|stop" >&2; exit 2 ;;
esac
