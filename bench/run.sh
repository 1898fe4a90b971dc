#!/bin/bash
# fraiseql-nginx benchmark: the module against the physical limit
# (pgbench running the module's own SQL) and the HTTP ceiling (nginx
# answering a same-sized body without a database), in one run, on one
# machine, with one data set.  See bench/README.md.
#
# Run as root after `make all` (`make bench` does both).  Everything lives
# in a temporary directory and on loopback; the only file written outside
# it is docs/benchmarks.md, which gets a dated section appended.
#
# Knobs (environment):
#   BENCH_DURATION   measured seconds per workload      (10)
#   BENCH_WARMUP     warm-up seconds before each one    (2)
#   BENCH_ROUNDS     interleaved rounds, best one kept  (2)
#   BENCH_CONNS      wrk connections / pgbench clients  (16)
#   BENCH_POOL       fraiseql_pool_size                 (16)
#   BENCH_RECORD     0: do not append to docs/benchmarks.md
#   BENCH_KEEP       1: keep the temporary directory (logs) at the end
#   FRAISEQL_MODULE  module to load (build/ngx_http_fraiseql_module.so)

# shellcheck disable=SC2016   # backquotes in printf formats are Markdown

# `make bench` runs this file with sh; the rest needs bash.
if [ -z "${BASH_VERSION:-}" ]; then exec /bin/bash "$0" "$@"; fi

set -euo pipefail
export LC_ALL=C     # byte lengths, byte-wise sort

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
MODULE=${FRAISEQL_MODULE:-$ROOT/build/ngx_http_fraiseql_module.so}
SCHEMA=$ROOT/conf-examples/schema.graphql
DEMO_SQL=$ROOT/conf-examples/demo.sql
DOC=$ROOT/docs/benchmarks.md
NGINX=/usr/sbin/nginx

DURATION=${BENCH_DURATION:-10}
WARMUP=${BENCH_WARMUP:-2}
CONNS=${BENCH_CONNS:-16}
POOL=${BENCH_POOL:-16}
RECORD=${BENCH_RECORD:-1}
DBNAME=fraiseql

log() { printf '== %s\n' "$*" >&2; }
die() { printf 'bench: %s\n' "$*" >&2; exit 1; }

# ---------------------------------------------------------------- checks

[ "$(id -u)" = 0 ] || die "run as root (PostgreSQL is started as the postgres user)"
[ -f "$MODULE" ] || die "$MODULE is missing: run 'make all' first"
[ -x "$NGINX" ] || die "$NGINX is missing"
id postgres >/dev/null 2>&1 || die "no postgres user: install postgresql"
for tool in wrk curl python3 runuser; do
    command -v "$tool" >/dev/null || die "$tool is missing"
done
PG_BIN=$(printf '%s\n' /usr/lib/postgresql/*/bin | sort -V | tail -n 1)
if ! [ -x "$PG_BIN/initdb" ] || ! [ -x "$PG_BIN/pgbench" ]; then
    die "no PostgreSQL binaries under /usr/lib/postgresql/*/bin"
fi
PSQL=$PG_BIN/psql
PGBENCH=$PG_BIN/pgbench

# ------------------------------------------------------ temp dir, cleanup

TMP=$(mktemp -d /tmp/fraiseql-bench.XXXXXX)
chmod 0755 "$TMP"                      # the postgres user walks into pg/
PGDIR=$TMP/pg
NGXDIR=$TMP/nginx
mkdir -p "$PGDIR" "$NGXDIR" "$TMP/work"
chown postgres: "$PGDIR"
# nginx maps the module it loads: a private copy keeps a concurrent
# `make all` (which rewrites build/*.so in place) from changing it under us
cp "$MODULE" "$TMP/work/ngx_http_fraiseql_module.so"
MODULE_SHA=$(sha256sum "$TMP/work/ngx_http_fraiseql_module.so" | cut -c1-12)
PG_STARTED=0

nginx_stop() {
    local pid
    pid=$(cat "$NGXDIR/nginx.pid" 2>/dev/null) || return 0
    kill -QUIT "$pid" 2>/dev/null || return 0
    for _ in $(seq 100); do
        kill -0 "$pid" 2>/dev/null || return 0
        sleep 0.1
    done
    kill -KILL "$pid" 2>/dev/null || true
}

cleanup() {
    local rc=$?
    trap - EXIT INT TERM
    nginx_stop
    if [ "$PG_STARTED" = 1 ]; then
        runuser -u postgres -- "$PG_BIN/pg_ctl" -D "$PGDIR/data" \
            -m immediate -w stop >/dev/null 2>&1 || true
    fi
    if [ "${BENCH_KEEP:-0}" = 1 ]; then
        printf 'bench: kept %s\n' "$TMP" >&2
    else
        rm -rf "$TMP"
    fi
    exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

free_port() {
    python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

# ------------------------------------------------------------ PostgreSQL

PG_PORT=$(free_port)
log "PostgreSQL $("$PG_BIN/postgres" --version | awk '{print $3}') on 127.0.0.1:$PG_PORT"
runuser -u postgres -- "$PG_BIN/initdb" -D "$PGDIR/data" -A trust \
    -U postgres --no-sync -E UTF8 --locale=C.UTF-8 >"$TMP/work/initdb.log" 2>&1 \
    || { cat "$TMP/work/initdb.log" >&2; die "initdb failed"; }
cat >>"$PGDIR/data/postgresql.auto.conf" <<EOF
listen_addresses = '127.0.0.1'
port = $PG_PORT
unix_socket_directories = '$PGDIR'
max_connections = 100
shared_buffers = 256MB
fsync = off
synchronous_commit = off
full_page_writes = off
EOF
runuser -u postgres -- "$PG_BIN/pg_ctl" -D "$PGDIR/data" -l "$PGDIR/log" \
    -w -t 60 start >/dev/null || { cat "$PGDIR/log" >&2; die "PostgreSQL did not start"; }
PG_STARTED=1

PGARGS=(-h 127.0.0.1 -p "$PG_PORT" -U postgres)
psql_q() { "$PSQL" "${PGARGS[@]}" -X -q -v ON_ERROR_STOP=1 "$@"; }

psql_q -d postgres -c "CREATE DATABASE $DBNAME" >/dev/null
psql_q -d "$DBNAME" -f "$DEMO_SQL" >/dev/null
read -r NUSERS NPOSTS NPUB < <(psql_q -d "$DBNAME" -At -F ' ' -c \
    "SELECT (SELECT count(*) FROM tb_user), (SELECT count(*) FROM tb_post),
            (SELECT count(*) FROM tb_post WHERE published)")
log "demo data: $NUSERS users, $NPOSTS posts ($NPUB published)"
[ "$NUSERS" -ge 1 ] || die "demo.sql loaded no users"
mapfile -t USER_IDS < <(psql_q -d "$DBNAME" -At -c \
    "SELECT demo_uuid('user', n) FROM generate_series(1, $NUSERS) AS n ORDER BY n")
CONNINFO="host=127.0.0.1 port=$PG_PORT dbname=$DBNAME user=postgres"

# ----------------------------------------------------------------- nginx

NGX_PORT=$(free_port)
BASE=http://127.0.0.1:$NGX_PORT

# $1: error_log level; $2: extra server-level directives
write_nginx_conf() {
    cat >"$NGXDIR/nginx.conf" <<EOF
load_module $TMP/work/ngx_http_fraiseql_module.so;
user root;
worker_processes 1;
daemon on;
master_process on;
pid $NGXDIR/nginx.pid;
error_log $NGXDIR/error.log $1;
events { worker_connections 1024; }
http {
    access_log off;
    client_body_temp_path $NGXDIR/body;
    proxy_temp_path $NGXDIR/proxy;
    fastcgi_temp_path $NGXDIR/fastcgi;
    uwsgi_temp_path $NGXDIR/uwsgi;
    scgi_temp_path $NGXDIR/scgi;
    fraiseql_schema $SCHEMA;
    fraiseql_database "$CONNINFO";
    fraiseql_pool_size $POOL;
    server {
        listen 127.0.0.1:$NGX_PORT;
        location /graphql { fraiseql; }
        location = /health { return 200 "ok\\n"; }
$2
    }
}
EOF
}

nginx_start() {
    : >"$NGXDIR/error.log"
    "$NGINX" -p "$NGXDIR" -e "$NGXDIR/error.log" -c "$NGXDIR/nginx.conf" \
        || { cat "$NGXDIR/error.log" >&2; die "nginx did not start"; }
    for _ in $(seq 100); do
        curl -sf -o /dev/null "$BASE/health" && return 0
        sleep 0.1
    done
    cat "$NGXDIR/error.log" >&2
    die "nginx does not answer on $BASE"
}

nginx_stop_wait() {
    nginx_stop
    rm -f "$NGXDIR/nginx.pid"
}

worker_pid() { pgrep -o -P "$(cat "$NGXDIR/nginx.pid")"; }
worker_rss() { awk '/^VmRSS/ {print $2}' "/proc/$1/status" 2>/dev/null || echo "(gone)"; }

# ------------------------------------------------------------ the queries

json_str() {   # a JSON string literal of $1 (no control characters inside)
    local s=${1//\\/\\\\}
    printf '"%s"' "${s//\"/\\\"}"
}
by_id_query() { printf '{ user(id: "%s") { id firstName lastName email } }' "$1"; }
LIST_QUERY='{ posts(limit: 1000, where: {published: {eq: true}}, orderBy: [{createdAt: DESC}]) { id title rating author { firstName lastName } } }'
gql_body() { printf '{"query":%s}' "$(json_str "$1")"; }

# $1 body; prints the response body and a "." (so that $(...) keeps a
# trailing newline: strip it with ${resp%.}); fails unless HTTP 200
post() {
    curl -sS --fail -X POST -H 'Content-Type: application/json' \
        --data-binary "$1" "$BASE/graphql" && printf .
}

# ---- 1. once at debug level: the exact SQL, and that every answer is right

log "checking the answers and capturing the module's SQL (error_log debug)"
BY_ID_LENS=()
write_nginx_conf debug ""
nginx_start
for i in "${!USER_IDS[@]}"; do
    resp=$(post "$(gql_body "$(by_id_query "${USER_IDS[$i]}")")") \
        || die "by-id request failed for ${USER_IDS[$i]}"
    resp=${resp%.}
    case $resp in
        '{"data":{"user":{"id":"'"${USER_IDS[$i]}"'"'*) ;;
        *) die "unexpected by-id answer: $resp" ;;
    esac
    # the middle user's answer is the size of a typical one
    if [ "$i" = $(( ${#USER_IDS[@]} / 2 )) ]; then BY_ID_RESP=$resp; fi
    BY_ID_LENS+=("${#resp}")
done
LIST_RESP=$(post "$(gql_body "$LIST_QUERY")") || die "list request failed"
LIST_RESP=${LIST_RESP%.}
case $LIST_RESP in *'"errors"'*) die "list answer has errors: ${LIST_RESP:0:300}" ;; esac
LIST_ROWS=$(grep -o '"title"' <<<"$LIST_RESP" | wc -l)
EXPECTED_ROWS=$(( NPUB < 1000 ? NPUB : 1000 ))
[ "$LIST_ROWS" = "$EXPECTED_ROWS" ] \
    || die "list answer has $LIST_ROWS rows, expected $EXPECTED_ROWS"
nginx_stop_wait

# ngx_log_debug: fraiseql: run "<sql>" with N params
sql_of() {
    awk -v want="$1" 'index($0, "fraiseql: run \"") && index($0, want) {
            sub(/.*fraiseql: run "/, ""); sub(/" with [0-9]+ params.*/, "")
            print; exit }' "$NGXDIR/error.log"
}
SQL_BY_ID=$(sql_of '"v_user"')
SQL_LIST=$(sql_of '"v_post"')
if [ -z "$SQL_BY_ID" ] || [ -z "$SQL_LIST" ]; then
    die "no 'fraiseql: run' lines in the debug log (is nginx built --with-debug?)"
fi
params_of() { grep -oE '\$[0-9]+(::[a-z]+)?' <<<"$1" | sort -u | tr '\n' ' '; }
# the module sends every literal as a parameter; these are the values the
# two queries bind, in the order it numbers them
[ "$(params_of "$SQL_BY_ID")" = '$1 ' ] \
    || die "by-id SQL: expected one parameter \$1: $SQL_BY_ID"
[ "$(params_of "$SQL_LIST")" = '$1::boolean $2::bigint ' ] \
    || die "list SQL: expected \$1::boolean (published) and \$2::bigint (limit): $SQL_LIST"
log "by-id SQL: $SQL_BY_ID"
log "list SQL:  $SQL_LIST"

# ---- 2. the measured configuration

MID=$(( ${#USER_IDS[@]} / 2 ))
BY_ID_BYTES=${#BY_ID_RESP}
LIST_BYTES=${#LIST_RESP}
# `return` takes one config token (at most 4k); the list-sized body is a file
printf '%s' "$LIST_RESP" >"$NGXDIR/list.json"
ret_body=${BY_ID_RESP//\\/\\\\}
ret_body=${ret_body//\'/\\\'}
ret_body=${ret_body//$'\n'/\\n}
write_nginx_conf warn "
        location /graphql-unprepared {
            fraiseql;
            fraiseql_prepared_statements off;
        }
        location = /static {
            default_type application/json;
            return 200 '$ret_body';
        }
        location = /static-list {
            default_type application/json;
            alias $NGXDIR/list.json;
        }"
nginx_start
[ "$(curl -sS -X POST --data-binary x "$BASE/static"; printf .)" = "$BY_ID_RESP." ] \
    || die "/static does not return the by-id body"
[ "$(curl -sS "$BASE/static-list"; printf .)" = "$LIST_RESP." ] \
    || die "/static-list does not return the list body"
WORKER=$(worker_pid)
RSS_START=$(worker_rss "$WORKER")

# ---- wrk scripts: POST JSON bodies, one request string per body

# Every response is checked, not only counted: status 200, no "errors" key,
# and a length one of the correct answers has (which catches truncation).
lua_script() {   # $1 method, $2 path, $3 file, $4 "good lengths", then bodies
    local method=$1 path=$2 file=$3 lens=$4 b l
    shift 4
    {
        echo 'local bodies = {'
        for b in "$@"; do printf '  [==[%s]==],\n' "$b"; done
        echo '}'
        printf 'local good_len = {'
        for l in $lens; do printf ' [%d] = true,' "$l"; done
        echo ' }'
        cat <<EOF
local threads = {}
function setup(thread) table.insert(threads, thread) end

local reqs, i = {}, 0
bad, bad_status, bad_errors, bad_len, sample = 0, 0, 0, 0, ""
function init(args)
  for k, b in ipairs(bodies) do
    reqs[k] = wrk.format("$method", "$path",
                         {["Content-Type"] = "application/json"}, b)
  end
end
function request()
  i = i % #reqs + 1
  return reqs[i]
end
function response(status, headers, body)
  local why
  if status ~= 200 then
    bad_status = bad_status + 1; why = "status " .. status
  elseif string.find(body, '"errors"', 1, true) then
    bad_errors = bad_errors + 1; why = "errors"
  elseif not good_len[#body] then
    bad_len = bad_len + 1; why = "length " .. #body
  end
  if why then
    bad = bad + 1
    if sample == "" then
      sample = why .. ": " .. string.sub(body, 1, 300):gsub("%s", " ")
    end
  end
end
function done(s, latency, requests)
  local b, bs, be, bl, smp = 0, 0, 0, 0, ""
  for _, t in ipairs(threads) do
    b, bs = b + t:get("bad"), bs + t:get("bad_status")
    be, bl = be + t:get("bad_errors"), bl + t:get("bad_len")
    if smp == "" then smp = t:get("sample") end
  end
  io.write(string.format(
    "BENCH requests=%d duration_us=%d bytes=%d p50_us=%d p99_us=%d " ..
    "connect=%d read=%d write=%d status=%d timeout=%d " ..
    "bad=%d bad_status=%d bad_errors=%d bad_len=%d\n",
    s.requests, s.duration, s.bytes, latency:percentile(50),
    latency:percentile(99), s.errors.connect, s.errors.read,
    s.errors.write, s.errors.status, s.errors.timeout, b, bs, be, bl))
  if smp ~= "" then io.write("SAMPLE " .. smp .. "\n") end
end
EOF
    } >"$file"
}

by_id_bodies=()
for id in "${USER_IDS[@]}"; do by_id_bodies+=("$(gql_body "$(by_id_query "$id")")"); done
lua_script POST /graphql "$TMP/work/by_id.lua" "${BY_ID_LENS[*]}" "${by_id_bodies[@]}"
lua_script POST /graphql "$TMP/work/list.lua" "$LIST_BYTES" "$(gql_body "$LIST_QUERY")"
lua_script POST /static "$TMP/work/static.lua" "$BY_ID_BYTES" "${by_id_bodies[$MID]}"
# the static file handler refuses POST (405): a bodiless GET here
lua_script GET /static-list "$TMP/work/static_list.lua" "$LIST_BYTES" ""

# ---- pgbench scripts: the module's statements, text for text
#
# pgbench's \set makes numbers only, and a uuid computed in SQL from a
# number (demo_uuid(:n), md5(...)::uuid) costs PostgreSQL more than the
# lookup itself.  So each user id is a string variable (-D uK=<uuid>) and
# has a one-line script of its own, `... WHERE "id" = :uK;`, which -M
# prepared sends as `... WHERE "id" = $1` with the uuid bound: the module's
# statement and parameter.  pgbench picks a script at random per
# transaction (uniform over the ids; it takes at most 128 scripts).

NIDS=$(( ${#USER_IDS[@]} < 100 ? ${#USER_IDS[@]} : 100 ))
PGB_BY_ID=()
mkdir -p "$TMP/work/by_id"
for (( k = 1; k <= NIDS; k++ )); do
    printf '%s;\n' "${SQL_BY_ID//\$1/:u$k}" >"$TMP/work/by_id/$k.sql"
    PGB_BY_ID+=(-f "$TMP/work/by_id/$k.sql@1" -D "u$k=${USER_IDS[$(( k - 1 ))]}")
done
# the list binds constants: \set makes them, -M prepared sends them as $1, $2
PG_SQL_LIST=${SQL_LIST//\$1/:pub}
PG_SQL_LIST=${PG_SQL_LIST//\$2/:lim}
printf '\\set pub true\n\\set lim 1000\n%s;\n' "$PG_SQL_LIST" >"$TMP/work/list.sql"
PGB_LIST=(-f "$TMP/work/list.sql")

# a create mutation (bench/create.lua: a new user each request, checked
# to answer the Success member); pgbench calls the same function with the
# module's statement, its input JSON made from a random number
SQL_CREATE='SELECT to_jsonb(r) FROM "app"."fn_create_user"($1::jsonb) AS r'
CREATE_ARG="('{\"email\": \"pgb' || :client_id || '-' || :n || '@example.com\", \"first_name\": \"Bench\", \"last_name\": \"Mark\", \"age\": 30}')"
printf '\\set n random(1, 2000000000)\n%s;\n' \
    "${SQL_CREATE//\$1/$CREATE_ARG}" >"$TMP/work/create.sql"
PGB_CREATE=(-f "$TMP/work/create.sql")

# the same statements with those values return what the module returned
n=$(psql_q -d "$DBNAME" -At -c "PREPARE q AS $SQL_BY_ID" \
        -c "EXECUTE q('${USER_IDS[$MID]}')" | wc -l)
[ "$n" = 1 ] || die "the by-id statement returns $n rows"
n=$(psql_q -d "$DBNAME" -At -c "PREPARE q AS $SQL_LIST" \
        -c "EXECUTE q(true, 1000)" | wc -l)
[ "$n" = "$LIST_ROWS" ] || die "the list statement returns $n rows, the module $LIST_ROWS"

# ------------------------------------------------------------ measuring
#
# Each measurement runs ROUNDS times, the module and pgbench interleaved so
# that a neighbour's burst of CPU hits both sides alike.  The figures kept
# are those of each measurement's best round (interference only ever slows
# a run down); all rounds are listed in the notes.  Counters of bad answers
# and errors add up over all rounds.

ROUNDS=${BENCH_ROUNDS:-2}
declare -A R     # results: R[measurement.key]

# CPU accounting, to see where the cores went: clock ticks of the nginx
# worker, of PostgreSQL (postmaster, live children, and children already
# reaped, which show in the postmaster's cutime/cstime) and of the load
# generator (this shell's reaped children, from `times`).
TICK_US=$(( 1000000 / $(getconf CLK_TCK) ))
PM_PID=$(head -n 1 "$PGDIR/data/postmaster.pid")

proc_ticks() { awk '{ print $14 + $15 }' "/proc/$1/stat" 2>/dev/null; }

pg_snapshot() {   # prints "<postmaster + reaped ticks> pid:ticks ..."
    local c t out
    out=$(awk '{ print $14 + $15 + $16 + $17 }' "/proc/$PM_PID/stat")
    for c in $(pgrep -P "$PM_PID"); do
        t=$(proc_ticks "$c") && out+=" $c:$t"
    done
    echo "$out"
}

pg_ticks_between() {   # $1, $2: snapshots
    awk -v a="$1" -v b="$2" 'BEGIN {
        na = split(a, x, " "); nb = split(b, y, " ")
        d = y[1] - x[1]
        for (i = 2; i <= na; i++) { split(x[i], p, ":"); d -= p[2] }
        for (i = 2; i <= nb; i++) { split(y[i], p, ":"); d += p[2] }
        print d }'
}

# `times` has to run in this shell (a subshell's children start from zero)
gen_ticks() {   # sets GEN_TICKS: this shell's reaped children, in ticks
    times >"$TMP/work/times"
    GEN_TICKS=$(awk -v tick="$TICK_US" 'NR == 2 {
        t = 0
        for (i = 1; i <= 2; i++) {
            split($i, p, /[ms]/); t += p[1] * 60 + p[2]
        }
        printf "%d\n", t * 1e6 / tick }' "$TMP/work/times")
}

# the whole machine: busy and total ticks over all CPUs, from /proc/stat
machine_ticks() {
    awk '/^cpu / { print $2 + $3 + $4 + $7 + $8 + $9, $2 + $3 + $4 + $5 + $6 + $7 + $8 + $9 }' /proc/stat
}

CPU_BEFORE=()
cpu_start() {
    sleep 0.3     # let the warm-up's connections and backends go
    gen_ticks
    CPU_BEFORE=("$(proc_ticks "$WORKER" || echo 0)" "$(pg_snapshot)" "$GEN_TICKS" "$(machine_ticks)")
}

cpu_stop() {   # right after the run: sets CPU_TICKS (worker, PostgreSQL, generator)
    local ngx pg
    gen_ticks
    ngx=$(( $(proc_ticks "$WORKER" || echo 0) - CPU_BEFORE[0] ))
    pg=$(pg_ticks_between "${CPU_BEFORE[1]}" "$(pg_snapshot)")
    CPU_TICKS="$ngx $pg $(( GEN_TICKS - CPU_BEFORE[2] )) ${CPU_BEFORE[3]} $(machine_ticks)"
}

# $1 transactions; prints cpu_ngx= cpu_pg= cpu_gen= (us per transaction),
# and the cores busy with the processes measured (ours=) and in all (busy=)
cpu_per() {
    awk -v n="$1" -v t="$TICK_US" -v c="$CPU_TICKS" -v ncpu="$(nproc)" 'BEGIN {
        split(c, x, " "); if (n < 1) n = 1
        wall = (x[7] - x[5]) / ncpu; if (wall < 1) wall = 1
        printf "cpu_ngx=%d cpu_pg=%d cpu_gen=%d ours=%.2f busy=%.2f\n",
               x[1] * t / n, x[2] * t / n, x[3] * t / n,
               (x[1] + x[2] + x[3]) / wall, (x[6] - x[4]) / wall }'
}

keep_best() {   # $1 name, $2 throughput key; the rest: key=value of this round
    local name=$1 key=$2 kv
    declare -A cur=()
    shift 2
    for kv in "$@"; do cur[${kv%%=*}]=${kv#*=}; done
    R[$name.all]="${R[$name.all]:+${R[$name.all]}, }${cur[$key]}"
    for kv in requests bad bad_status bad_errors bad_len connect read write \
              status timeout non2xx failed; do
        [ -n "${cur[$kv]:-}" ] && R[$name.$kv]=$(( ${R[$name.$kv]:-0} + ${cur[$kv]} ))
    done
    [ -z "${R[$name.sample]:-}" ] && R[$name.sample]=${cur[sample]:-}
    if [ -z "${R[$name.$key]:-}" ] || [ "${cur[$key]}" -gt "${R[$name.$key]}" ]; then
        R[$name.$key]=${cur[$key]}
        for kv in p50_us p99_us cpu_ngx cpu_pg cpu_gen ours busy; do
            R[$name.$kv]=${cur[$kv]:-}
        done
    fi
}

wrk_run() {   # $1 name, $2 lua script, $3 path
    local out line rps non2xx sample reqs
    wrk -t1 -c"$CONNS" -d"${WARMUP}s" -s "$2" "$BASE$3" >/dev/null
    cpu_start
    out=$(wrk -t1 -c"$CONNS" -d"${DURATION}s" --latency -s "$2" "$BASE$3")
    cpu_stop
    printf '%s\n' "$out" | sed 's/^/    /' >&2
    line=$(grep '^BENCH ' <<<"$out") || die "wrk printed no summary"
    line=${line#BENCH }
    reqs=$(grep -oE 'requests=[0-9]+' <<<"$line" | cut -d= -f2)
    rps=$(awk -v l="$line" 'BEGIN { match(l, /requests=[0-9]+/); n = substr(l, RSTART + 9, RLENGTH - 9)
                                    match(l, /duration_us=[0-9]+/); d = substr(l, RSTART + 12, RLENGTH - 12)
                                    printf "%.0f", n / (d / 1e6) }')
    non2xx=$(grep -o 'Non-2xx or 3xx responses: [0-9]*' <<<"$out" | awk '{print $NF}' || true)
    sample=$(sed -n 's/^SAMPLE //p' <<<"$out")
    # shellcheck disable=SC2046,SC2086
    keep_best "$1" rps $line $(cpu_per "$reqs") "rps=$rps" "non2xx=${non2xx:-0}" "sample=$sample"
}

pgbench_run() {   # $1 name, $2 protocol, then the script arguments
    local name=$1 mode=$2 out tps p50 p99 failed txns
    shift 2
    "$PGBENCH" "${PGARGS[@]}" -n -M "$mode" -c "$CONNS" -j 1 -T "$WARMUP" \
        "$@" "$DBNAME" >/dev/null 2>&1
    rm -f "$TMP/work"/pgbench_log*
    cpu_start
    out=$(cd "$TMP/work" && "$PGBENCH" "${PGARGS[@]}" -n -M "$mode" \
          -c "$CONNS" -j 1 -T "$DURATION" -l --log-prefix=pgbench_log \
          "$@" "$DBNAME" 2>&1) || { printf '%s\n' "$out" >&2; die "pgbench failed"; }
    cpu_stop
    # (one "- N transactions" line per by-id script: left out)
    printf '%s\n' "$out" | grep -E '^(tps|latency|number of)' | sed 's/^/    /' >&2
    tps=$(grep -oP '^tps = \K[0-9.]+(?= \(without initial)' <<<"$out" \
          | awk '{printf "%.0f", $1}')
    [ -n "$tps" ] || die "no tps in pgbench's output"
    # per-transaction log: field 3 is the latency in microseconds
    read -r p50 p99 < <(cat "$TMP/work"/pgbench_log* \
        | awk '{print $3}' | sort -n | awk '{a[NR] = $1}
          END { print a[int(NR * 0.50) + 1], a[int(NR * 0.99) + 1] }')
    failed=$(grep -oP '^number of failed transactions: \K[0-9]+' <<<"$out" || echo 0)
    txns=$(grep -oP '^number of transactions actually processed: \K[0-9]+' <<<"$out")
    # shellcheck disable=SC2046
    keep_best "$name" tps "tps=$tps" "p50_us=$p50" "p99_us=$p99" "failed=$failed" \
        $(cpu_per "$txns")
}

LOAD_START=$(cut -d' ' -f1-3 /proc/loadavg)
load1=${LOAD_START%% *}
if awk -v l="$load1" 'BEGIN { exit !(l > 0.5) }'; then
    log "WARNING: load average $LOAD_START before the run: other processes compete for the CPUs"
fi

for (( round = 1; round <= ROUNDS; round++ )); do
    log "round $round/$ROUNDS: module by id (${#USER_IDS[@]} ids, round robin)"
    wrk_run mod_by_id "$TMP/work/by_id.lua" /graphql
    log "round $round/$ROUNDS: module by id, fraiseql_prepared_statements off"
    wrk_run mod_by_id_unprepared "$TMP/work/by_id.lua" /graphql-unprepared
    log "round $round/$ROUNDS: pgbench -M prepared, by id ($NIDS ids)"
    pgbench_run pg_prepared_by_id prepared "${PGB_BY_ID[@]}"
    log "round $round/$ROUNDS: pgbench -M extended, by id"
    pgbench_run pg_extended_by_id extended "${PGB_BY_ID[@]}"

    log "round $round/$ROUNDS: module 1,000-row list"
    wrk_run mod_list "$TMP/work/list.lua" /graphql
    log "round $round/$ROUNDS: pgbench -M prepared, 1,000-row list"
    pgbench_run pg_prepared_list prepared "${PGB_LIST[@]}"
    log "round $round/$ROUNDS: pgbench -M extended, 1,000-row list"
    pgbench_run pg_extended_list extended "${PGB_LIST[@]}"

    log "round $round/$ROUNDS: module create mutation (a new user each)"
    wrk_run mod_create "$ROOT/bench/create.lua" /graphql
    log "round $round/$ROUNDS: pgbench -M prepared, the same function"
    pgbench_run pg_prepared_create prepared "${PGB_CREATE[@]}"
    log "round $round/$ROUNDS: pgbench -M extended, the same function"
    pgbench_run pg_extended_create extended "${PGB_CREATE[@]}"

    log "round $round/$ROUNDS: HTTP ceiling, by-id-sized body ($BY_ID_BYTES bytes, return 200)"
    wrk_run ceil_by_id "$TMP/work/static.lua" /static
    log "round $round/$ROUNDS: HTTP ceiling, list-sized body ($LIST_BYTES bytes, static file)"
    wrk_run ceil_list "$TMP/work/static_list.lua" /static-list
done
LOAD_END=$(cut -d' ' -f1-3 /proc/loadavg)

RSS_END=$(worker_rss "$WORKER")
NGX_ERRORS=$(grep -cE '\[(error|crit|alert|emerg)\]' "$NGXDIR/error.log" || true)
NGX_WARNS=$(grep -c '\[warn\]' "$NGXDIR/error.log" || true)
NGX_CRASHES=$(grep -c 'exited on signal' "$NGXDIR/error.log" || true)
# distinct messages, without time, pids, connection numbers and client part
NGX_TOP=$(sed -E 's/^[0-9/]+ [0-9:]+ //; s/[0-9]+#[0-9]+: (\*[0-9]+ )?//;
                  s/, client: .*//' "$NGXDIR/error.log" \
          | sort | uniq -c | sort -rn | awk 'NR <= 5' | cut -c1-400)
nginx_stop_wait

# -------------------------------------------------------------- report

ms() { awk -v u="$1" 'BEGIN { printf "%.2f", u / 1000 }'; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (b > 0) printf "%.2f", a / b; else printf "n/a" }'; }
errs() {   # wrk's socket errors of a measurement, all rounds
    echo $(( ${R[$1.connect]:-0} + ${R[$1.read]:-0} + ${R[$1.write]:-0} + ${R[$1.timeout]:-0} ))
}
lat() { printf '%s / %s' "$(ms "${R[$1.p50_us]}")" "$(ms "${R[$1.p99_us]}")"; }

row() {   # $1 label, $2 module, $3 pgbench workload suffix, $4 ceiling
    local m=$2 p=pg_prepared_$3 e=pg_extended_$3 c=$4
    printf '| %s | %s | %s | **%s** | %s | %s | %s | %s | %s / %s |\n' \
        "$1" "${R[$m.rps]}" "${R[$p.tps]}" "$(ratio "${R[$m.rps]}" "${R[$p.tps]}")" \
        "${R[$e.tps]}" "$(ratio "${R[$m.rps]}" "${R[$e.tps]}")" \
        "${R[$c.rps]}" "$(ratio "${R[$m.rps]}" "${R[$c.rps]}")" \
        "${R[$m.bad]}" "$(errs "$m")"
}
cpu_row() {   # $1 label, $2 measurement
    local m=$2 n=${R[$2.cpu_ngx]} p=${R[$2.cpu_pg]} g=${R[$2.cpu_gen]}
    case $m in pg_*) n=- ;; esac
    printf '| %s | %s | %s | %s | %s | %s | %s |\n' "$1" "$n" "$p" "$g" \
        "$(( ${R[$m.cpu_pg]} + ${R[$m.cpu_gen]} + ${n/-/0} ))" \
        "${R[$m.ours]}" "${R[$m.busy]}"
}
lat_row() {
    printf '| %s | %s | %s | %s | %s |\n' "$1" "$(lat "$2")" \
        "$(lat "pg_prepared_$3")" "$(lat "pg_extended_$3")" "$(lat "$4")"
}

# what the pipeline saves, with libpq alone (bench/bench_pipeline.c)
log "pipeline: libpq, Prepare + Execute and two statements, sequential vs pipelined"
PIPELINE_TABLE=$("$ROOT/build/bench_pipeline" "$CONNINFO" 2000) \
    || die "bench_pipeline failed"
printf '%s\n' "$PIPELINE_TABLE" | sed 's/^/    /' >&2

TABLE=$(
    echo '| workload | module req/s | pgbench -M prepared tps | module ÷ prepared | pgbench -M extended tps | module ÷ extended | HTTP ceiling req/s | module ÷ ceiling | module bad answers / socket errors |'
    echo '|---|---:|---:|---:|---:|---:|---:|---:|---:|'
    row "one user by id (${BY_ID_BYTES} B)" mod_by_id by_id ceil_by_id
    row "one user by id, \`fraiseql_prepared_statements off\`" mod_by_id_unprepared by_id ceil_by_id
    row "1,000-row list (${LIST_BYTES} B)" mod_list list ceil_list
    row "create mutation (fn_create_user, a new user each)" mod_create create ceil_by_id
    echo
    echo '| latency p50 / p99, ms | module (wrk) | pgbench -M prepared | pgbench -M extended | HTTP ceiling (wrk) |'
    echo '|---|---:|---:|---:|---:|'
    lat_row "one user by id" mod_by_id by_id ceil_by_id
    lat_row "1,000-row list" mod_list list ceil_list
    lat_row "create mutation" mod_create create ceil_by_id
    echo
    echo "| CPU per request, µs (best round) | nginx worker | PostgreSQL | load generator | total | cores used by these | cores busy, whole machine (of $(nproc)) |"
    echo '|---|---:|---:|---:|---:|---:|---:|'
    cpu_row "module by id (wrk)" mod_by_id
    cpu_row "module by id, unprepared (wrk)" mod_by_id_unprepared
    cpu_row "pgbench -M prepared, by id" pg_prepared_by_id
    cpu_row "pgbench -M extended, by id" pg_extended_by_id
    cpu_row "HTTP ceiling, by-id size (wrk)" ceil_by_id
    cpu_row "module list (wrk)" mod_list
    cpu_row "pgbench -M prepared, list" pg_prepared_list
    cpu_row "pgbench -M extended, list" pg_extended_list
    cpu_row "HTTP ceiling, list size (wrk)" ceil_list
    cpu_row "module create mutation (wrk)" mod_create
    cpu_row "pgbench -M prepared, create" pg_prepared_create
)

notes() {
    local w
    printf -- '- Best of %s interleaved rounds; every round, in order: module by id %s req/s; pgbench by id %s (prepared), %s (extended); module list %s; pgbench list %s (prepared), %s (extended); ceiling %s (by-id size), %s (list size).\n' \
        "$ROUNDS" "${R[mod_by_id.all]}" "${R[pg_prepared_by_id.all]}" "${R[pg_extended_by_id.all]}" \
        "${R[mod_list.all]}" "${R[pg_prepared_list.all]}" "${R[pg_extended_list.all]}" \
        "${R[ceil_by_id.all]}" "${R[ceil_list.all]}"
    printf -- '- Checked answers: %s by id and %s list responses, each one 200, without `"errors"`, and of a correct answer'"'"'s length: %s non-200, %s with errors, %s of a wrong length (by id); %s / %s / %s (list); HTTP ceiling: %s bad. wrk socket errors (connect/read/write/timeout), all rounds: %s by id, %s list, %s ceiling. pgbench failed transactions: %s.\n' \
        "${R[mod_by_id.requests]}" "${R[mod_list.requests]}" \
        "${R[mod_by_id.bad_status]}" "${R[mod_by_id.bad_errors]}" "${R[mod_by_id.bad_len]}" \
        "${R[mod_list.bad_status]}" "${R[mod_list.bad_errors]}" "${R[mod_list.bad_len]}" \
        "$(( ${R[ceil_by_id.bad]} + ${R[ceil_list.bad]} ))" \
        "$(errs mod_by_id)" "$(errs mod_list)" "$(( $(errs ceil_by_id) + $(errs ceil_list) ))" \
        "$(( ${R[pg_prepared_by_id.failed]} + ${R[pg_prepared_list.failed]} + ${R[pg_extended_by_id.failed]} + ${R[pg_extended_list.failed]} ))"
    for w in mod_by_id mod_list; do
        if [ -n "${R[$w.sample]}" ]; then
            printf '  First bad %s answer: `%s`\n' "${w#mod_}" "${R[$w.sample]:0:200}"
        fi
    done
    printf -- '- nginx error log (level warn) over the wrk runs: %s lines at error or worse, %s warnings, %s worker crashes. Worker RSS %s kB before, %s kB after.\n' \
        "$NGX_ERRORS" "$NGX_WARNS" "$NGX_CRASHES" "$RSS_START" "$RSS_END"
    if [ -n "$NGX_TOP" ]; then
        printf '  Most frequent lines (count, message):\n\n'
        printf '%s\n' "$NGX_TOP" | sed 's/^ */      /'
        printf '\n'
    fi
    printf -- "- SQL, from the module's debug log (\`fraiseql: run\`); pgbench runs these statements with the same parameters (-M prepared sends them as they are):\n"
    printf -- '  - by id: `%s` with $1 one of the %s user ids, uniformly at random (one script per id, `:uK` given by `-D`)\n' "$SQL_BY_ID" "$NIDS"
    printf -- '  - list: `%s` with $1 = true, $2 = 1000\n' "$SQL_LIST"
}
NOTES=$(notes)

printf '\n%s\n\n%s\n' "$TABLE" "$NOTES"

if [ "$RECORD" = 1 ]; then
    if [ ! -f "$DOC" ]; then
        cat >"$DOC" <<'EOF'
# Benchmarks

What is measured: the module's GraphQL throughput and latency next to two
references taken in the same run, on the same machine and data, so that
the ratios mean something where a lone req/s would not:

- **physical limit**: `pgbench` running the exact SQL the module sends for
  the same GraphQL query, with the same parameters and concurrency.
  `-M prepared` (parse and plan once) is the limit; `-M extended` (parse
  and plan every time, the way the module's unnamed statements go) is shown
  as well.
- **HTTP ceiling**: the same nginx answering the same number of
  connections with a body of the same size and no database (`return 200`
  for the small body, a static file for the large one).

Every response the module sends during the measurement is checked (status
200, no `"errors"`, the length of a correct answer).

Reproduce with `make bench` (as root, after `make all`; about four
minutes).  `bench/README.md` explains the set-up, the choices, and how to
read the tables.  Each run appends a dated section below; compare ratios
between runs, not absolute numbers.
EOF
    fi
    {
        printf '\n## %s\n\n' "$(date -u '+%Y-%m-%d %H:%M UTC')"
        printf -- '- Machine: %s cores (`nproc`), kernel %s (`uname -r`), %s; load average %s before the run, %s after.\n' \
            "$(nproc)" "$(uname -r)" \
            "$(awk -F': ' '/^model name/ {print $2; exit}' /proc/cpuinfo)" \
            "$LOAD_START" "$LOAD_END"
        printf -- '- Software: PostgreSQL %s, %s, %s; module %s (sha256 %s…; tree at git %s).\n' \
            "$("$PG_BIN/postgres" --version | awk '{print $3}')" \
            "$("$NGINX" -v 2>&1 | sed 's|.*: ||')" "$(wrk -v 2>&1 | awk 'NR == 1 {print $1, $2}')" \
            "${MODULE#"$ROOT"/}" "$MODULE_SHA" \
            "$(git -C "$ROOT" describe --always --dirty 2>/dev/null || echo unknown)"
        printf -- '- Set-up: %s connections, %s s warm-up then %s s measured, best of %s rounds; nginx `worker_processes 1`, `fraiseql_pool_size %s`, `access_log off`; PostgreSQL `shared_buffers = 256MB`, `fsync = off`; loopback TCP; the nginx worker, PostgreSQL and the load generator share the %s cores.\n\n' \
            "$CONNS" "$WARMUP" "$DURATION" "$ROUNDS" "$POOL" "$(nproc)"
        printf '%s\n\n%s\n\n' "$TABLE" "$NOTES"
        printf 'Round trips the module saves with `fraiseql_pipeline on` (the default), measured with libpq alone on one connection (`build/bench_pipeline CONNINFO 2000`):\n\n%s\n\n' "$PIPELINE_TABLE"
        cat <<EOF
Commands (\`make bench\` runs \`bench/run.sh\`, which writes the scripts):

    wrk -t1 -c$CONNS -d${DURATION}s --latency -s by_id.lua http://127.0.0.1:PORT/graphql      # also list.lua
    wrk -t1 -c$CONNS -d${DURATION}s --latency -s static.lua http://127.0.0.1:PORT/static      # also static_list.lua, /static-list
    pgbench -n -M prepared -c $CONNS -j 1 -T $DURATION -f by_id/1.sql@1 -D u1=UUID ... $DBNAME   # also -M extended, -f list.sql
EOF
    } >>"$DOC"
    log "appended to ${DOC#"$ROOT"/}"
fi
