#!/bin/bash
# Where the nginx worker's time goes, for two workloads of bench/suite.py on
# the bench/dataset.sql data (10,000 users, 100,000 posts):
#
#   A  by id   { user(id: "<uuid>") { id firstName lastName email } },
#              the ids of users 1..100 in turn
#   B  list    { posts(limit: 1000, where: {published: {eq: true}},
#                orderBy: [{createdAt: DESC}]) { id title rating
#                author { firstName lastName } } }
#
# 1. nginx natively: the CPU split between the worker, the PostgreSQL
#    processes and wrk over a wrk -t1 -c16 run (from /proc/<pid>/stat),
#    syscalls per request (strace -c), and a `perf record -e cpu-clock`
#    profile (software event: no hardware counters needed) when perf works.
# 2. nginx under callgrind: warm up, zero the counters (callgrind_control
#    -z), send an exact number of requests, dump (callgrind_control -d).
#    Start-up, warm-up, plan-cache misses and the first Prepare of each
#    statement are not in the dumps.  Callgrind counts user-space
#    instructions only (Ir): the kernel's side of read/writev/epoll is not
#    in them; the syscall counts (sysCount, --collect-systime) are.
# 3. A summary: Ir per request, the top exclusive functions, and the cost
#    grouped into buckets (nginx, yajl, GraphQL, plan cache, binding,
#    libpq, row transform, allocation, syscall wrappers...).
#
# Run as root (PostgreSQL runs as the postgres user) after `make all`:
#
#     sh bench/profile.sh
#
# It takes one to two minutes on 2 cores (dataset load, 2 x 12 s of wrk,
# strace and perf runs, then about 20 s under callgrind).
# Everything runs on 127.0.0.1 in a temporary directory that goes at the
# end, except the output directory, which is kept: callgrind.out.* dumps,
# callgrind_annotate outputs, perf and strace reports, summary.txt.
#
# Knobs (environment):
#   PROFILE_OUT         output directory (default: a new /tmp/fraiseql-profile.*)
#   PROFILE_N_BYID      measured by-id requests under callgrind      (2000)
#   PROFILE_N_LIST      measured list requests under callgrind        (200)
#   PROFILE_CONNS       client connections under callgrind              (4)
#   PROFILE_POOL        fraiseql_pool_size under callgrind              (4)
#   PROFILE_CPU_SECONDS seconds of each native wrk run                 (10)
#   PROFILE_CPU_CONNS   wrk connections of the native runs             (16)
#   PROFILE_CPU_POOL    fraiseql_pool_size of the native runs          (16)
#   PROFILE_NATIVE=0    skip part 1 (CPU split, strace, perf)
#   PROFILE_CALLGRIND=0 skip part 2
#   PROFILE_KEEP=1      keep the temporary directory (logs, configs)
#   FRAISEQL_MODULE     module to load (build/ngx_http_fraiseql_module.so)

if [ -z "${BASH_VERSION:-}" ]; then exec /bin/bash "$0" "$@"; fi

set -euo pipefail
export LC_ALL=C

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
MODULE=${FRAISEQL_MODULE:-$ROOT/build/ngx_http_fraiseql_module.so}
SCHEMA_SRC=$ROOT/conf-examples/schema.graphql
DATASET=$ROOT/bench/dataset.sql
NGINX=/usr/sbin/nginx

N_BYID=${PROFILE_N_BYID:-2000}
N_LIST=${PROFILE_N_LIST:-200}
CONNS=${PROFILE_CONNS:-4}
POOL=${PROFILE_POOL:-4}
CPU_SECONDS=${PROFILE_CPU_SECONDS:-10}
CPU_CONNS=${PROFILE_CPU_CONNS:-16}
CPU_POOL=${PROFILE_CPU_POOL:-16}
DO_NATIVE=${PROFILE_NATIVE:-1}
DO_CALLGRIND=${PROFILE_CALLGRIND:-1}
DBNAME=fraiseql

log() { printf '== %s\n' "$*" >&2; }
die() { printf 'profile: %s\n' "$*" >&2; exit 1; }

# ---------------------------------------------------------------- checks

[ "$(id -u)" = 0 ] || die "run as root (PostgreSQL is started as the postgres user)"
[ -f "$MODULE" ] || die "$MODULE is missing: run 'make all' first"
[ -x "$NGINX" ] || die "$NGINX is missing"
id postgres >/dev/null 2>&1 || die "no postgres user: install postgresql"
for tool in wrk curl python3 runuser valgrind callgrind_annotate \
            callgrind_control; do
    command -v "$tool" >/dev/null || die "$tool is missing"
done
PG_BIN=/usr/lib/postgresql/15/bin
[ -x "$PG_BIN/initdb" ] || PG_BIN=$(printf '%s\n' /usr/lib/postgresql/*/bin | sort -V | tail -n 1)
[ -x "$PG_BIN/initdb" ] || die "no PostgreSQL binaries under /usr/lib/postgresql/*/bin"
PSQL=$PG_BIN/psql

# ------------------------------------------------------ temp dir, cleanup

TMP=$(mktemp -d /tmp/fraiseql-profile-run.XXXXXX)
chmod 0755 "$TMP"
OUT=${PROFILE_OUT:-$(mktemp -d /tmp/fraiseql-profile.XXXXXX)}
mkdir -p "$OUT"
OUT=$(cd "$OUT" && pwd)
PGDIR=$TMP/pg
NGXDIR=$TMP/nginx
W=$TMP/work
mkdir -p "$PGDIR" "$NGXDIR" "$W"
chown postgres: "$PGDIR"
cp "$MODULE" "$W/ngx_http_fraiseql_module.so"
PG_STARTED=0
NGX_PID=
BG_PIDS=()

nginx_stop() {
    local pid=${NGX_PID:-}
    NGX_PID=
    [ -n "$pid" ] || return 0
    kill -QUIT "$pid" 2>/dev/null || return 0
    for _ in $(seq 600); do       # valgrind writes its last dump on exit
        kill -0 "$pid" 2>/dev/null || { wait "$pid" 2>/dev/null || true; return 0; }
        sleep 0.1
    done
    kill -KILL "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
}

cleanup() {
    local rc=$? p
    trap - EXIT INT TERM
    for p in "${BG_PIDS[@]}"; do
        kill "$p" 2>/dev/null || true
    done
    nginx_stop
    if [ "$PG_STARTED" = 1 ]; then
        runuser -u postgres -- "$PG_BIN/pg_ctl" -D "$PGDIR/data" \
            -m immediate -w stop >/dev/null 2>&1 || true
    fi
    if [ "${PROFILE_KEEP:-0}" = 1 ]; then
        printf 'profile: kept %s\n' "$TMP" >&2
    else
        rm -rf "$TMP"
    fi
    printf 'profile: output in %s\n' "$OUT" >&2
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
    -U postgres --no-sync -E UTF8 --locale=C.UTF-8 >"$W/initdb.log" 2>&1 \
    || { cat "$W/initdb.log" >&2; die "initdb failed"; }
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
PM_PID=$(head -n 1 "$PGDIR/data/postmaster.pid")

psql_q() { "$PSQL" -h 127.0.0.1 -p "$PG_PORT" -U postgres -X -q -v ON_ERROR_STOP=1 "$@"; }

log "loading bench/dataset.sql"
psql_q -d postgres -c "CREATE DATABASE $DBNAME" >/dev/null
psql_q -d "$DBNAME" -f "$DATASET" >"$W/dataset.log" 2>&1 \
    || { tail -20 "$W/dataset.log" >&2; die "dataset.sql failed"; }
read -r NUSERS NPOSTS NPUB < <(psql_q -d "$DBNAME" -At -F ' ' -c \
    "SELECT (SELECT count(*) FROM tb_user), (SELECT count(*) FROM tb_post),
            (SELECT count(*) FROM tb_post WHERE published)")
log "data: $NUSERS users, $NPOSTS posts ($NPUB published)"
mapfile -t USER_IDS < <(psql_q -d "$DBNAME" -At -c \
    "SELECT demo_uuid('user', n) FROM generate_series(1, 100) AS n ORDER BY n")
[ "${#USER_IDS[@]}" = 100 ] || die "expected 100 user ids"
CONNINFO="host=127.0.0.1 port=$PG_PORT dbname=$DBNAME user=postgres"

# ---------------------------------------------------- schema and bodies

# the Post fields that the list filters and orders on read real columns
SCHEMA=$W/schema.graphql
sed -e '/^type Post /,/^}/ {
            s/^\(  published: Boolean!\)$/\1 @column/
            s/^\(  createdAt: DateTime!\)$/\1 @column/
        }' "$SCHEMA_SRC" >"$SCHEMA"
[ "$(grep -c '@column' "$SCHEMA")" = 2 ] || die "the @column sed did not match twice"

LIST_QUERY='{ posts(limit: 1000, where: {published: {eq: true}}, orderBy: [{createdAt: DESC}]) { id title rating author { firstName lastName } } }'
: >"$W/byid.bodies"
for id in "${USER_IDS[@]}"; do
    printf '{"query":"{ user(id: \\"%s\\") { id firstName lastName email } }"}\n' \
        "$id" >>"$W/byid.bodies"
done
python3 -c 'import json, sys; print(json.dumps({"query": sys.argv[1]}))' \
    "$LIST_QUERY" >"$W/list.bodies"

# exact-count HTTP/1.1 keep-alive client: every answer is checked
cat >"$W/drive.py" <<'EOF'
import http.client, sys, threading, time
port, conns, total, bodies_file, kind = (int(sys.argv[1]), int(sys.argv[2]),
                                         int(sys.argv[3]), sys.argv[4],
                                         sys.argv[5])
bodies = [l.rstrip("\n").encode() for l in open(bodies_file) if l.strip()]
done, bad, nbytes, sample = [0], [0], [0], []
lock = threading.Lock()

def worker(k, n):
    c = http.client.HTTPConnection("127.0.0.1", port, timeout=3600)
    for i in range(n):
        j = (k + i * conns) % len(bodies)
        c.request("POST", "/graphql", bodies[j],
                  {"Content-Type": "application/json"})
        r = c.getresponse()
        data = r.read()
        ok = r.status == 200 and b'"errors"' not in data
        if ok and kind == "byid":
            ok = data.startswith(b'{"data":{"user":{"id":"')
        if ok and kind == "list":
            ok = data.count(b'"title"') == 1000
        with lock:
            done[0] += 1
            nbytes[0] += len(data)
            if not ok:
                bad[0] += 1
                if not sample:
                    sample.append("%d %r" % (r.status, data[:300]))
    c.close()

t0 = time.time()
ts = [threading.Thread(target=worker,
                       args=(k, total // conns + (k < total % conns)))
      for k in range(conns)]
for t in ts: t.start()
for t in ts: t.join()
print("requests=%d bad=%d bytes=%d seconds=%.1f %s"
      % (done[0], bad[0], nbytes[0], time.time() - t0,
         ("sample=" + sample[0]) if sample else ""))
sys.exit(1 if bad[0] or done[0] != total else 0)
EOF

drive() {   # $1 conns, $2 requests, $3 bodies, $4 kind
    local out
    out=$(python3 "$W/drive.py" "$NGX_PORT" "$@") \
        || die "client: $out"
    log "  $out"
}

# wrk: cycle over the bodies, count non-200 and "errors" answers
wrk_lua() {   # $1 bodies file, $2 lua file
    {
        echo 'local bodies = {'
        while IFS= read -r b; do printf '  [==[%s]==],\n' "$b"; done <"$1"
        cat <<'EOF'
}
local threads = {}
function setup(thread) table.insert(threads, thread) end
local reqs, i = {}, 0
bad = 0
function init(args)
  for k, b in ipairs(bodies) do
    reqs[k] = wrk.format("POST", "/graphql",
                         {["Content-Type"] = "application/json"}, b)
  end
end
function request()
  i = i % #reqs + 1
  return reqs[i]
end
function response(status, headers, body)
  if status ~= 200 or string.find(body, '"errors"', 1, true) then
    bad = bad + 1
  end
end
function done(s, latency, requests)
  local b = 0
  for _, t in ipairs(threads) do b = b + t:get("bad") end
  io.write(string.format("WRK requests=%d bad=%d errors=%d p50_us=%d\n",
    s.requests, b, s.errors.connect + s.errors.read + s.errors.write
    + s.errors.status + s.errors.timeout, latency:percentile(50)))
end
EOF
    } >"$2"
}
wrk_lua "$W/byid.bodies" "$W/byid.lua"
wrk_lua "$W/list.bodies" "$W/list.lua"

# ----------------------------------------------------------------- nginx

NGX_PORT=$(free_port)
BASE=http://127.0.0.1:$NGX_PORT

write_nginx_conf() {   # $1 pool size
    cat >"$NGXDIR/nginx.conf" <<EOF
load_module $W/ngx_http_fraiseql_module.so;
user root;
worker_processes 1;
daemon off;
master_process off;
pid $NGXDIR/nginx.pid;
error_log $NGXDIR/error.log warn;
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
    fraiseql_pool_size $1;
    server {
        listen 127.0.0.1:$NGX_PORT;
        location /graphql { fraiseql; }
        location /graphql-debug {           # the SQL, in debug.log
            fraiseql;
            error_log $NGXDIR/debug.log debug;
        }
        location = /health { return 200 "ok\\n"; }
    }
}
EOF
}

nginx_wait() {   # $1: tries of 0.1 s
    for _ in $(seq "$1"); do
        kill -0 "$NGX_PID" 2>/dev/null || { cat "$NGXDIR/error.log" >&2; die "nginx exited"; }
        curl -sf -o /dev/null "$BASE/health" && return 0
        sleep 0.1
    done
    cat "$NGXDIR/error.log" >&2
    die "nginx does not answer on $BASE"
}

# ------------------------------------------- 1. natively: CPU, syscalls

TICK_US=$(( 1000000 / $(getconf CLK_TCK) ))
NCPU=$(nproc)
proc_ticks() { awk '{ print $14 + $15 }' "/proc/$1/stat" 2>/dev/null || echo 0; }
pg_snapshot() {   # "<postmaster incl. reaped children> pid:ticks ..."
    local c out
    out=$(awk '{ print $14 + $15 + $16 + $17 }' "/proc/$PM_PID/stat")
    for c in $(pgrep -P "$PM_PID"); do out+=" $c:$(proc_ticks "$c")"; done
    echo "$out"
}
pg_ticks_between() {
    awk -v a="$1" -v b="$2" 'BEGIN {
        na = split(a, x, " "); nb = split(b, y, " "); d = y[1] - x[1]
        for (i = 2; i <= na; i++) { split(x[i], p, ":"); d -= p[2] }
        for (i = 2; i <= nb; i++) { split(y[i], p, ":"); d += p[2] }
        print d }'
}
machine_ticks() {   # busy, total over all CPUs
    awk '/^cpu / { print $2+$3+$4+$7+$8+$9, $2+$3+$4+$5+$6+$7+$8+$9 }' /proc/stat
}

NATIVE_SUMMARY=$OUT/native.txt
: >"$NATIVE_SUMMARY"

cpu_split() {   # $1 name, $2 lua
    local ngx0 pg0 m0 ngx1 pg1 m1 out reqs wrk_u wrk_s nu0 nu1
    wrk -t1 -c"$CPU_CONNS" -d2s -s "$2" "$BASE/graphql" >/dev/null
    sleep 0.3
    ngx0=$(proc_ticks "$NGX_PID"); pg0=$(pg_snapshot); m0=$(machine_ticks)
    nu0=$(awk '{ print $14 }' "/proc/$NGX_PID/stat")
    /usr/bin/time -f '%U %S' -o "$W/wrk.time" \
        wrk -t1 -c"$CPU_CONNS" -d"${CPU_SECONDS}s" --latency -s "$2" \
        "$BASE/graphql" >"$W/wrk.out"
    ngx1=$(proc_ticks "$NGX_PID"); m1=$(machine_ticks)
    nu1=$(awk '{ print $14 }' "/proc/$NGX_PID/stat")
    # wrk's end aborts the requests in flight: their PostgreSQL connections
    # are closed (a busy one is never reused), and the postmaster reaps the
    # backends (their CPU moves to its cutime) a moment later
    sleep 1
    pg1=$(pg_snapshot)
    if [ "${PROFILE_DEBUG:-0}" = 1 ]; then
        printf 'debug: pg before: %s\ndebug: pg after:  %s\n' "$pg0" "$pg1" >&2
    fi
    out=$(grep '^WRK ' "$W/wrk.out") || die "wrk printed no summary"
    reqs=$(grep -oE 'requests=[0-9]+' <<<"$out" | cut -d= -f2)
    read -r wrk_u wrk_s <"$W/wrk.time"
    grep -q ' bad=0 errors=0 ' <<<"$out" || die "$1: bad answers: $out"
    awk -v name="$1" -v n="$reqs" -v s="$CPU_SECONDS" -v t="$TICK_US" \
        -v ngx=$(( ngx1 - ngx0 )) -v pg="$(pg_ticks_between "$pg0" "$pg1")" \
        -v wu="$wrk_u" -v ws="$wrk_s" -v m0="$m0" -v m1="$m1" -v ncpu="$NCPU" \
        -v conns="$CPU_CONNS" -v pool="$CPU_POOL" -v nu=$(( nu1 - nu0 )) 'BEGIN {
        split(m0, a, " "); split(m1, b, " ")
        busy = (b[1] - a[1]) * t / 1e6; total = (b[2] - a[2]) * t / 1e6
        ngx_s = ngx * t / 1e6; pg_s = pg * t / 1e6; wrk_s = wu + ws
        other = busy - ngx_s - pg_s - wrk_s; if (other < 0) other = 0
        printf "%s: wrk -t1 -c%d -d%ds, pool %d: %d requests, %.0f req/s\n",
               name, conns, s, pool, n, n / s
        printf "  %-22s %8s %9s %9s\n", "", "CPU s", "us/req", "% machine"
        printf "  %-22s %8.2f %9.1f %8.1f%%\n", "nginx worker", ngx_s, ngx_s * 1e6 / n, 100 * ngx_s / total
        nu_s = nu * t / 1e6
        printf "  %-22s %8.2f %9.1f\n", "  of which user", nu_s, nu_s * 1e6 / n
        printf "  %-22s %8.2f %9.1f\n", "  of which kernel", ngx_s - nu_s, (ngx_s - nu_s) * 1e6 / n
        printf "  %-22s %8.2f %9.1f %8.1f%%\n", "PostgreSQL (all procs)", pg_s, pg_s * 1e6 / n, 100 * pg_s / total
        printf "  %-22s %8.2f %9.1f %8.1f%%\n", "wrk", wrk_s, wrk_s * 1e6 / n, 100 * wrk_s / total
        printf "  %-22s %8.2f %9.1f %8.1f%%\n", "other", other, other * 1e6 / n, 100 * other / total
        printf "  %-22s %8.2f %9s %8.1f%%\n", "idle", total - busy, "", 100 * (total - busy) / total
        printf "  (%d CPUs, %.1f CPU-s available; 1 tick = %d us)\n", ncpu, total, t
    }' | tee -a "$NATIVE_SUMMARY" >&2
    return 0
}

# one strace of the worker in the middle of a wrk run (none of wrk's start
# or end): syscalls per response, responses counted from the writev calls
# that start with the status line
cat >"$W/strace_sum.py" <<'EOF'
import collections, re, sys
log, name = sys.argv[1], sys.argv[2]
calls, peek, again = collections.Counter(), collections.Counter(), collections.Counter()
resp = 0
for l in open(log, errors="replace"):
    m = re.match(r"^(?:\d+\s+)?(\w+)\((.*)$", l)
    if not m:
        continue
    sc, rest = m.group(1), m.group(2)
    calls[sc] += 1
    if "MSG_PEEK" in rest:
        peek[sc] += 1
    if re.search(r"= -1 EAGAIN", rest):
        again[sc] += 1
    if sc in ("writev", "write", "sendmsg") and '"HTTP/1.' in rest:
        resp += 1
print("syscalls of the worker under strace, %s: %d responses in the window"
      % (name, resp))
if resp == 0:
    sys.exit(0)
for sc, n in calls.most_common():
    extra = []
    if peek[sc]:
        extra.append("%.2f MSG_PEEK" % (peek[sc] / resp))
    if again[sc]:
        extra.append("%.2f EAGAIN" % (again[sc] / resp))
    print("  %-14s %8d calls %8.2f per response  %s"
          % (sc, n, n / resp, ", ".join(extra)))
print("  %-14s %8d calls %8.2f per response"
      % ("total", sum(calls.values()), sum(calls.values()) / resp))
EOF

strace_run() {   # $1 name, $2 lua, $3 seconds
    local spid wpid
    command -v strace >/dev/null || { log "no strace: skipped"; return 0; }
    wrk -t1 -c"$CPU_CONNS" -d"$(( $3 + 2 ))s" -s "$2" "$BASE/graphql" >/dev/null &
    wpid=$!
    BG_PIDS+=("$wpid")
    sleep 0.7
    strace -f -s 12 -o "$W/strace.$1.log" -p "$NGX_PID" 2>/dev/null &
    spid=$!
    BG_PIDS+=("$spid")
    sleep "$3"
    kill -INT "$spid" 2>/dev/null || true
    wait "$spid" 2>/dev/null || true
    wait "$wpid" 2>/dev/null || true
    python3 "$W/strace_sum.py" "$W/strace.$1.log" "$1" | tee -a "$NATIVE_SUMMARY" >&2
}

perf_run() {   # $1 name, $2 lua, $3 seconds
    local ppid
    command -v perf >/dev/null || return 0
    perf record -e cpu-clock -F 2999 -g -p "$NGX_PID" -o "$OUT/perf.$1.data" \
        -- sleep "$3" >/dev/null 2>"$W/perf.err" &
    ppid=$!
    BG_PIDS+=("$ppid")
    wrk -t1 -c"$CPU_CONNS" -d"$(( $3 + 1 ))s" -s "$2" "$BASE/graphql" >/dev/null
    wait "$ppid" 2>/dev/null || { log "perf record failed: $(tail -1 "$W/perf.err")"; return 0; }
    perf report -i "$OUT/perf.$1.data" --no-children -g none --sort dso,symbol \
        --stdio 2>/dev/null | grep -E '^ +[0-9.]+%' | sed 's/[ -]*$//' \
        | head -40 >"$OUT/perf.$1.txt" || true
    perf report -i "$OUT/perf.$1.data" --no-children -g none --sort dso \
        --stdio 2>/dev/null | grep -E '^ +[0-9.]+%' | sed 's/[ -]*$//' \
        | head -15 >"$OUT/perf.$1.dso.txt" || true
    {
        printf 'perf record -e cpu-clock, worker, %s: top symbols (self)\n' "$1"
        head -25 "$OUT/perf.$1.txt" | sed 's/^/  /'
        printf '  by object:\n'
        sed 's/^/  /' "$OUT/perf.$1.dso.txt"
    } | tee -a "$NATIVE_SUMMARY" >&2
}

# the module's SQL (debug log) and PostgreSQL's plan and time for it
sql_and_plans() {
    local kind sql arg
    for kind in byid list; do
        curl -sf -o /dev/null -X POST -H 'Content-Type: application/json' \
            --data-binary "$(head -n 1 "$W/$kind.bodies")" "$BASE/graphql-debug" \
            || die "debug request failed"
    done
    for kind in byid list; do
        if [ "$kind" = byid ]; then
            sql=$(grep -o 'fraiseql slot [0-9]*: run [0-9]*: ".*"v_user".*" with [0-9]* params' "$NGXDIR/debug.log" | head -1)
            arg="'${USER_IDS[0]}'"
        else
            sql=$(grep -o 'fraiseql slot [0-9]*: run [0-9]*: ".*"v_post".*" with [0-9]* params' "$NGXDIR/debug.log" | head -1)
            arg="true, 1000"
        fi
        sql=${sql#*: run *: \"}
        sql=${sql%\" with * params}
        [ -n "$sql" ] || { log "no SQL for $kind in the debug log"; continue; }
        {
            printf '%s SQL: %s\n' "$kind" "$sql"
            # the second execution, warm, as the pool's connections run it
            psql_q -d "$DBNAME" -c "PREPARE q AS $sql" -c '\o /dev/null' \
                -c "EXECUTE q($arg)" -c '\o' \
                -c "EXPLAIN (ANALYZE, COSTS OFF) EXECUTE q($arg)" 2>&1 \
                | grep -v -e '^ *QUERY PLAN' -e '^---' -e '^([0-9]* rows)' \
                | sed '/^$/d; s/^/    /'
        } | tee -a "$NATIVE_SUMMARY" >&2
    done
}

if [ "$DO_NATIVE" = 1 ]; then
    log "native nginx (pool $CPU_POOL): CPU split, strace, perf"
    write_nginx_conf "$CPU_POOL"
    : >"$NGXDIR/error.log"
    "$NGINX" -p "$NGXDIR" -e "$NGXDIR/error.log" -c "$NGXDIR/nginx.conf" &
    NGX_PID=$!
    nginx_wait 100
    drive 4 100 "$W/byid.bodies" byid
    drive 1 2 "$W/list.bodies" list
    sql_and_plans
    cpu_split "by id" "$W/byid.lua"
    cpu_split "list" "$W/list.lua"
    strace_run byid "$W/byid.lua" 3
    strace_run list "$W/list.lua" 3
    perf_run byid "$W/byid.lua" 5
    perf_run list "$W/list.lua" 5
    nginx_stop
fi

# ------------------------------------------------ 2. under callgrind

if [ "$DO_CALLGRIND" = 1 ]; then
    log "nginx under callgrind (pool $POOL, $CONNS client connections)"
    write_nginx_conf "$POOL"
    : >"$NGXDIR/error.log"
    rm -f "$W"/callgrind.out.*
    valgrind --tool=callgrind --trace-children=no \
        --callgrind-out-file="$W/callgrind.out.%p" --log-file="$W/valgrind.log" \
        "$NGINX" -p "$NGXDIR" -e "$NGXDIR/error.log" -c "$NGXDIR/nginx.conf" &
    NGX_PID=$!
    nginx_wait 1200

    cg_dump() {   # $1 name: dump since the last zeroing into $OUT
        local f
        callgrind_control -d "$1" "$NGX_PID" >"$W/cgctl.log" 2>&1 \
            || { cat "$W/cgctl.log" >&2; die "callgrind_control -d failed"; }
        for _ in $(seq 300); do
            f=$(ls -t "$W"/callgrind.out."$NGX_PID".* 2>/dev/null | head -1) || true
            if [ -n "$f" ] && grep -q '^totals:' "$f" 2>/dev/null; then
                mv "$f" "$OUT/callgrind.out.$1"
                return 0
            fi
            sleep 0.2
        done
        die "no callgrind dump appeared"
    }
    cg_zero() {
        callgrind_control -z "$NGX_PID" >"$W/cgctl.log" 2>&1 \
            || { cat "$W/cgctl.log" >&2; die "callgrind_control -z failed"; }
    }

    log "A by id: warm-up 400, then $N_BYID measured"
    drive "$CONNS" 400 "$W/byid.bodies" byid
    cg_zero
    drive "$CONNS" "$N_BYID" "$W/byid.bodies" byid
    cg_dump byid

    log "B list: warm-up 12, then $N_LIST measured"
    drive "$CONNS" 12 "$W/list.bodies" list
    cg_zero
    drive "$CONNS" "$N_LIST" "$W/list.bodies" list
    cg_dump list

    nginx_stop
    grep -E '\[(emerg|alert|crit|error)\]' "$NGXDIR/error.log" >&2 || true

    for wl in byid list; do
        callgrind_annotate --inclusive=yes --threshold=99.9 \
            "$OUT/callgrind.out.$wl" >"$OUT/annotate.$wl.inclusive.txt" 2>/dev/null || true
        callgrind_annotate --threshold=99.9 \
            "$OUT/callgrind.out.$wl" >"$OUT/annotate.$wl.exclusive.txt" 2>/dev/null || true
    done
fi

# ------------------------------------------------------------ 3. summary

cat >"$W/analyze.py" <<'EOF'
"""Callgrind dump -> Ir per request, top functions, cost buckets.

Exclusive costs are grouped by function into buckets.  libc's string
helpers (memcpy, memset, strlen...) and nginx's formatting helpers are
charged to the bucket of whoever called them, in proportion to the calls'
inclusive cost, so that "row transform" includes the memcpy it asked for.
Allocation and syscall wrappers keep buckets of their own; further tables
say which buckets and which functions called them.

Names: libpq, yajl and nginx are stripped of their static functions.
libpq.a and libyajl_s.a (the -dev packages) hold the same objects with
symbols: each object is placed by its exported functions and the static
ones are named from it.  nginx has no such archive: a few static functions
of Debian's 1.22.1 build (recognised by its build id) are named from the
call graph (marked ~); other unnamed nginx functions are charged to their
callers."""
import collections, os, re, subprocess, sys

path, nreq, root = sys.argv[1], int(sys.argv[2]), sys.argv[3]

# ------------------------------------------------------------ read the dump

names = {}
def name(kind, s):
    m = re.match(r"\((\d+)\)(?:\s+(.*))?$", s)
    if not m:
        return s
    k = (kind, m.group(1))
    if m.group(2) is not None:
        names[k] = m.group(2)
    return names.get(k, "?")

excl = collections.Counter()          # (ob, fn) -> Ir
fn_file = {}
edges = collections.Counter()         # ((ob, fn), (ob, callee)) -> incl. Ir
edge_calls = collections.Counter()
lines = collections.Counter()         # (file, line) -> Ir
totals = None
ob = fl = cfile = fn = cfn = cob = None
cur = None
line = 0
pending = None
with open(path, errors="replace") as f:
    for raw in f:
        s = raw.rstrip("\n")
        if not s or s.startswith("#"):
            continue
        c0 = s[0]
        if c0.isdigit() or c0 in "+-*":
            parts = s.split()
            p = parts[0]
            if p == "*":
                pass
            elif p[0] in "+-":
                line += int(p)
            else:
                line = int(p)
            ir = int(parts[1]) if len(parts) > 1 else 0
            if pending is not None:
                callee = (cob or ob, cfn)
                edges[(cur, callee)] += ir
                edge_calls[(cur, callee)] += pending
                pending = cob = None
            else:
                excl[cur] += ir
                lines[(cfile, line)] += ir
            continue
        key, _, val = s.partition("=")
        if key == "ob":
            ob = name("ob", val)
        elif key == "fl":
            fl = cfile = name("fl", val)
        elif key in ("fi", "fe"):
            cfile = name("fl", val)
        elif key == "fn":
            fn = name("fn", val)
            cur = (ob, fn)
            fn_file.setdefault(cur, fl)
            cfile = fl
            cob = None
        elif key == "cob":
            cob = name("ob", val)
        elif key in ("cfi", "cfl"):
            name("fl", val)
        elif key == "cfn":
            cfn = name("fn", val)
        elif key == "calls":
            pending = int(val.split()[0])
        elif s.startswith("totals:") or s.startswith("summary:"):
            totals = int(s.split(":", 1)[1].split()[0])

total = sum(excl.values())
if totals is not None and totals != total:
    print("note: sum of exclusive costs %d != totals %d" % (total, totals))

def base(p):
    return os.path.basename(p or "")

# ------------------------------------------- names for stripped functions

def run(*cmd):
    try:
        return subprocess.run(cmd, capture_output=True, text=True,
                              check=True).stdout
    except (OSError, subprocess.CalledProcessError):
        return ""

def archive_names(so, ar):
    """address in so -> name, for the functions of the archive's objects"""
    dyn = {}
    for l in run("nm", "-D", "-S", "--defined-only", so).splitlines():
        p = l.split()
        if len(p) == 4 and p[2] in "TtWi":
            dyn[p[3]] = (int(p[0], 16), int(p[1], 16))
    members, sizes, syms, m = [], {}, collections.defaultdict(list), None
    for l in run("objdump", "-h", ar).splitlines():
        mm = re.match(r"^(\S+\.o):\s+file format", l)
        if mm:
            m = mm.group(1)
            members.append(m)
            continue
        mm = re.match(r"^\s*\d+\s+\.text\s+([0-9a-f]+)\s+\S+\s+\S+\s+\S+\s+2\*\*(\d+)", l)
        if mm and m:
            sizes[m] = (int(mm.group(1), 16), 1 << int(mm.group(2)))
    for l in run("objdump", "-t", ar).splitlines():
        mm = re.match(r"^(\S+\.o):\s+file format", l)
        if mm:
            m = mm.group(1)
            continue
        mm = re.match(r"^([0-9a-f]+)\s+([lg])\s+F\s+\.text\s+([0-9a-f]+)\s+(?:\.hidden\s+)?(\S+)$", l)
        if mm and m:
            syms[m].append((int(mm.group(1), 16), int(mm.group(3), 16),
                            mm.group(4), mm.group(2) == "g"))
    bases = {}
    for m in members:
        c = collections.Counter()
        for off, size, n, glob in syms[m]:
            if glob and n in dyn and dyn[n][1] == size:
                c[dyn[n][0] - off] += 1
        if c:
            bases[m] = c.most_common(1)[0][0]
    prev = None
    for m in members:                      # objects without an export
        if m not in sizes:
            continue
        if m not in bases and prev is not None:
            b = prev[0] + prev[1]
            a = sizes[m][1]
            bases[m] = (b + a - 1) // a * a
        if m in bases:
            prev = (bases[m], sizes[m][0])
    out = {}
    for m, b in bases.items():
        for off, size, n, glob in syms[m]:
            out[b + off] = n
    return out

resolved = {}     # (ob, fn) -> display name
obs = set(k[0] for k in excl) | set(k[1][0] for k in edges)
ARCHIVES = [(r"libpq\.so", "/usr/lib/x86_64-linux-gnu/libpq.a"),
            (r"libyajl\.so", "/usr/lib/x86_64-linux-gnu/libyajl_s.a")]
for o in obs:
    for pat, ar in ARCHIVES:
        if o and re.search(pat, base(o)) and os.path.exists(ar) \
           and os.path.exists(o):
            amap = archive_names(o, ar)
            fns = set(k[1] for k in excl if k[0] == o) \
                | set(k[1][1] for k in edges if k[1][0] == o)
            for fname in fns:
                mm = re.match(r"^0x([0-9a-f]+)('\d+)?$", fname)
                if mm and int(mm.group(1), 16) in amap:
                    resolved[(o, fname)] = amap[int(mm.group(1), 16)] + (mm.group(2) or "")

# Debian bookworm nginx 1.22.1-9+deb12u11 (/usr/sbin/nginx): static
# functions recognised from the call graph of these workloads
NGINX_BUILD = "74429228deec622306ed48e0188056aed01ba01f"
NGINX_STATIC = {
    0x54130: "ngx_epoll_process_events", 0x53970: "ngx_epoll_add_event",
    0x53670: "ngx_epoll_del_connection",
    0x70df0: "ngx_http_wait_request_handler",
    0x71830: "ngx_http_keepalive_handler",   # + process_request_line inlined
    0x70480: "ngx_http_process_request_headers",
    0x6fa50: "ngx_http_read_request_header",
    0x6f910: "ngx_http_process_host", 0x6ba80: "ngx_http_validate_host",
    0x6f720: "ngx_http_set_virtual_server",
    0x6bbd0: "ngx_http_find_virtual_server",
    0x6b9a0: "ngx_http_process_header_line",
    0x6f6b0: "ngx_http_process_unique_header_line",
    0x6c880: "ngx_http_alloc_request",
    0x78970: "ngx_http_request_body_length_filter",
    0x790d0: "ngx_http_do_read_client_request_body",
    0x798b0: "ngx_http_read_client_request_body_handler",
    0x78240: "ngx_http_test_expect",
    0x6ef20: "ngx_http_request_handler",
    0x97c30: "ngx_http_header_filter", 0xa3490: "ngx_http_copy_filter",
    0x2aca0: "ngx_sprintf_num", 0x2ae20: "ngx_sprintf_str",
    0x65b90: "ngx_http_core_find_static_location",
    0x6b9c0: "ngx_http_log_request", 0x77320: "ngx_http_log_handler",
}
nginx_ob = [o for o in obs if o and base(o) == "nginx"]
if nginx_ob and NGINX_BUILD in run("readelf", "-n", nginx_ob[0]):
    for k in list(excl) + [e[1] for e in edges]:
        mm = re.match(r"^0x([0-9a-f]+)('\d+)?$", k[1])
        if k[0] == nginx_ob[0] and mm and int(mm.group(1), 16) in NGINX_STATIC:
            resolved[k] = "~" + NGINX_STATIC[int(mm.group(1), 16)] + (mm.group(2) or "")

def disp(k):
    return resolved.get(k, k[1])

def plain(k):
    return re.sub(r"'\d+$", "", disp(k)).lstrip("~")

# ---------------------------------------------------------------- buckets

def short(fn):
    n = fn.lstrip("_")
    for pre in ("GI_", "libc_", "GI___libc_"):
        if n.startswith(pre):
            n = n[len(pre):].lstrip("_")
    n = n.split("@")[0]
    return re.sub(r"\.(constprop|isra|part|cold|lto_priv)(\.\d+)?", "", n)

SYSCALLS = set("""read write writev readv recv recvfrom recvmsg send sendto
sendmsg epoll_wait epoll_pwait epoll_ctl accept accept4 close shutdown
setsockopt getsockopt ioctl poll ppoll select fcntl fcntl64 gettimeofday
gettimeofday_syscall clock_gettime time getpid connect socket pread pread64
pwrite pwrite64 open open64 openat fstat stat lseek brk sbrk mmap munmap
mremap madvise syscall""".split())
ALLOC_LIBC = re.compile(r"^_*(malloc|free|calloc|realloc|cfree|int_malloc|"
    r"int_free|int_realloc|int_memalign|malloc_consolidate|unlink_chunk|"
    r"sysmalloc|tcache_\w+|posix_memalign|memalign|mid_memalign|"
    r"aligned_alloc|alloc_perturb|free_perturb|arena_get2|systrim|"
    r"libc_(malloc|free|calloc|realloc|memalign))$")
ALLOC_NGX = re.compile(r"^ngx_(palloc\w*|pnalloc|pcalloc|pmemalign|pfree|"
    r"create_pool|destroy_pool|reset_pool|alloc|calloc|memalign|"
    r"pool_cleanup_add|alloc_chain_link|create_temp_buf|calloc_buf)$")
ALLOC_FQL = re.compile(r"^(fql_alloc|fql_calloc|fql_strndup|fql_heap_alloc|"
    r"fql_arena_\w+|ngx_http_fraiseql_arena_\w+|fql_heapbuf_\w+)$")
HELPER_LIBC = re.compile(r"^(mem\w*|str\w*|wmem\w*|rawmem\w*|bcmp|stp\w*|"
    r"bzero|explicit_bzero)$")
HELPER_NGX = re.compile(r"^ngx_(vslprintf|sprintf|snprintf|slprintf|"
    r"sprintf_num|sprintf_str|cpystrn|strlow|strnlen|pstrdup|strncasecmp|"
    r"strcasecmp|atoi|atoof|atosz|atotm|hextoi|list_push|array_push\w*)$")
NGX_LIFECYCLE = re.compile(r"^ngx_http_(finalize_\w+|terminate_\w+|"
    r"free_request|close_\w+|set_keepalive|run_posted_requests|"
    r"request_handler|post_action|log_\w+|set_lingering_close|"
    r"lingering_close_handler|core_\w+|handler|update_location_config|"
    r"request_empty_handler|block_reading|test_reading)$")
HTTP_IN = re.compile(r"^ngx_(http_(parse_\w+|process_\w+|read_request_header|"
    r"alloc_large_header_buffer|validate_host|set_virtual_server|"
    r"find_virtual_server|wait_request_handler|keepalive_handler|"
    r"create_request|alloc_request|init_connection|"
    r"read_client_request_body\w*|do_read_client_request_body|"
    r"request_body_\w+|read_discarded\w*|discard_\w+|test_expect|arg|"
    r"init_headers_in)|unix_recv|readv_chain|hash_find\w*|hash_key\w*|"
    r"event_accept)$")
HTTP_OUT = re.compile(r"^ngx_(http_\w*(filter|send_header|output)\w*|"
    r"output_chain\w*|chain_writer|linux_sendfile_chain|writev\w*|"
    r"chain_update_sent|chain_coalesce_file|chain_update_chains|"
    r"chain_get_free_buf|chain_to_iovec|output_chain_to_iovec|"
    r"http_send_special|http_chunked\w*|unix_send)$")
GQL = {"fql_lexer.c", "fql_parser.c", "fql_coerce.c", "fql_validate.c",
       "fql_schema.c", "fql_introspect.c"}
TRANSFORM = {"fql_transform.c", "fql_json.c", "fql_jscan.c", "fql_json.h",
             "fql_jscan.h", "fql_utf8.h"}

B_IN = "nginx HTTP in (read, parse headers/body)"
B_OUT = "nginx HTTP out (header, filters, writev chain)"
B_CORE = "nginx core (epoll loop, phases, finalize, keepalive)"
B_JSON = "request JSON parse (yajl + fql_request.c, fql_json_parse)"
B_GQL = "GraphQL parse/validate (lexer, parser, validate)"
B_CACHE = "plan cache lookup (fql_cache.c, fql_hash)"
B_BIND = "SQL binding (fql_compile.c: fql_plan_bind)"
B_GLUE = "module glue (ngx_http_fraiseql_*.c, fql_error.c)"
B_PQ = "libpq (send, receive, parse protocol, PGresult)"
B_TR = "row transform (fql_transform.c, fql_jscan)"
B_ALLOC = "memory allocation (malloc/free, ngx_palloc, pools)"
B_SYS = "syscall wrappers (user side only)"
B_LIBC = "libc other"
B_LD = "dynamic linker"

def classify(k):
    ob, fn = k
    fl = fn_file.get(k)
    b, o = base(fl), base(ob)
    n = short(plain(k))
    if "vdso" in o:
        return B_SYS
    if o.startswith("libc.so") or o.startswith("libc-"):
        if ALLOC_LIBC.match(n):
            return B_ALLOC
        if n in SYSCALLS:
            return B_SYS
        if HELPER_LIBC.match(n):
            return None            # charged to the caller
        return B_LIBC
    if ALLOC_NGX.match(n) or ALLOC_FQL.match(n):
        return B_ALLOC
    if "libpq" in o:
        return B_PQ
    if ("libyajl" in o or b == "fql_request.c"
            or re.match(r"fql_(jparse_\w+|yajl_\w+|json_parse)$", n)):
        return B_JSON
    if o.startswith("ld-linux") or o.startswith("ld-"):
        return B_LD
    if "fraiseql" in o:
        if b in GQL:
            return B_GQL
        if b == "fql_cache.c" or n == "fql_hash":
            return B_CACHE
        if b == "fql_compile.c":
            return B_BIND
        if b in TRANSFORM:
            return B_TR
        return B_GLUE
    if o == "nginx":
        if HELPER_NGX.match(n):
            return None
        if n.startswith("0x"):
            return None            # an unknown static function: its caller's
        if NGX_LIFECYCLE.match(n):
            return B_CORE
        if HTTP_IN.match(n):
            return B_IN
        if HTTP_OUT.match(n):
            return B_OUT
        return B_CORE
    return "other (%s)" % o

callers = collections.defaultdict(list)   # callee -> [(caller, Ir)]
for (c, callee), v in edges.items():
    callers[callee].append((c, v))

memo = {}
def dist(k, depth=0):
    """bucket -> share, for a function charged to its callers."""
    if k in memo:
        return memo[k]
    b = classify(k)
    if b is not None:
        return {b: 1.0}
    if depth > 12:
        return {"helpers (unattributed)": 1.0}
    memo[k] = {"helpers (unattributed)": 1.0}    # cycles
    inc = callers.get(k, [])
    tot = sum(v for _, v in inc)
    out = collections.Counter()
    if tot == 0:
        out["helpers (unattributed)"] = 1.0
    for c, v in inc:
        if tot:
            for bb, sh in dist(c, depth + 1).items():
                out[bb] += sh * v / tot
    memo[k] = dict(out)
    return memo[k]

buckets = collections.Counter()
for k, v in excl.items():
    for b, sh in dist(k).items():
        buckets[b] += v * sh

def pr(fmt, *a):
    print(fmt % a)

def where(k):
    fl = base(fn_file.get(k))
    return base(k[0]) + ("" if fl in ("", "???", "?") else " / " + fl)

pr("Ir total %d over %d requests: %.0f Ir per request", total, nreq,
   total / nreq)
print()
pr("%-55s %11s %7s", "bucket (helpers charged to their callers)",
   "Ir/request", "%")
order = [B_IN, B_OUT, B_CORE, B_JSON, B_GQL, B_CACHE, B_BIND, B_GLUE, B_PQ,
         B_TR, B_ALLOC, B_SYS, B_LIBC, B_LD]
rest = sorted((b for b in buckets if b not in order and buckets[b] >= nreq),
              key=lambda b: -buckets[b])
for b in order + rest:
    pr("%-55s %11.0f %6.1f%%", b, buckets[b] / nreq, 100.0 * buckets[b] / total)
pr("%-55s %11.0f %6.1f%%", "total", total / nreq, 100.0)

print()
print("top 15 functions by exclusive Ir:")
pr("  %6s %10s  %-44s %s", "%", "Ir/req", "function", "object / file")
for k, v in excl.most_common(15):
    pr("  %5.1f%% %10.0f  %-44s %s", 100.0 * v / total, v / nreq,
       disp(k)[:44], where(k))

incl = collections.Counter(excl)
for (c, callee), v in edges.items():
    if c != callee:
        incl[c] += v
print()
print("top 25 functions by inclusive Ir (below the event loop):")
pr("  %6s %10s  %-48s %s", "%", "Ir/req", "function", "object")
shown = 0
for k, v in incl.most_common():
    if v > 0.995 * total:
        continue
    pr("  %5.1f%% %10.0f  %-48s %s", 100.0 * v / total, v / nreq,
       disp(k)[:48], base(k[0]))
    shown += 1
    if shown == 25:
        break

def entry_table(title, member):
    cost, calls = collections.Counter(), collections.Counter()
    for (c, callee), v in edges.items():
        if member(callee) and not member(c):
            for b, sh in dist(c).items():
                cost[b] += v * sh
                calls[b] += edge_calls[(c, callee)] * sh
    if not cost:
        return
    print()
    print(title)
    pr("  %-55s %11s %9s", "called from", "Ir/request", "calls/req")
    for b, v in cost.most_common():
        pr("  %-55s %11.0f %9.1f", b, v / nreq, calls[b] / nreq)

entry_table("memory allocation by calling bucket (inclusive Ir of the calls):",
            lambda k: classify(k) == B_ALLOC)
entry_table("syscall wrappers by calling bucket:",
            lambda k: classify(k) == B_SYS)

# the direct callers of the hot allocation/copy/syscall entry points
print()
print("who calls them (direct callers, inclusive Ir and calls per request):")
by_callee = collections.defaultdict(list)
for (c, callee), v in edges.items():
    by_callee[callee].append((v, edge_calls[(c, callee)], c))
def entry_points():
    seen = collections.Counter()
    for (c, callee), v in edges.items():
        cls = classify(callee)
        helper = cls is None and not base(callee[0]) == "nginx"
        if (cls in (B_ALLOC, B_SYS) and classify(c) != cls) or \
           (helper and classify(c) is not None):
            seen[callee] += v
    return [k for k, v in seen.most_common() if v / nreq >= 0.003 * total / nreq]
for callee in entry_points()[:12]:
    rows = sorted(by_callee[callee], key=lambda r: -r[0])
    tot_calls = sum(r[1] for r in rows)
    pr("  %s (%s): %.1f calls/req, %.0f Ir/req", disp(callee),
       base(callee[0]), tot_calls / nreq, sum(r[0] for r in rows) / nreq)
    for v, n, c in rows[:5]:
        pr("      %9.0f Ir %8.1f calls  %s", v / nreq, n / nreq, disp(c))

print()
print("top 20 source lines of the module by exclusive Ir:")
mod = collections.Counter()
for (fl, ln), v in lines.items():
    if fl and ("src/" in fl or "ngx_http_fraiseql_module.c" in fl) \
       and "nginx/src" not in fl and not fl.startswith("./"):
        rel = fl[fl.rindex("src/"):] if "src/" in fl else base(fl)
        mod[(rel, ln)] += v
for (fl, ln), v in mod.most_common(20):
    pr("  %5.1f%% %9.0f  %s:%d", 100.0 * v / total, v / nreq, fl, ln)
EOF

SUMMARY=$OUT/summary.txt
{
    printf 'fraiseql-nginx profile, %s, module %s (sha256 %s), %s CPUs, %s\n' \
        "$(date -u +%Y-%m-%dT%H:%MZ)" "$MODULE" \
        "$(sha256sum "$W/ngx_http_fraiseql_module.so" | cut -c1-12)" \
        "$NCPU" "$(uname -r)"
    printf 'data: %s users, %s posts (%s published)\n' "$NUSERS" "$NPOSTS" "$NPUB"
    if [ -s "$NATIVE_SUMMARY" ]; then
        printf '\n---- native nginx (not under valgrind)\n\n'
        cat "$NATIVE_SUMMARY"
    fi
    if [ "$DO_CALLGRIND" = 1 ]; then
        for wl in byid list; do
            n=$N_BYID; [ "$wl" = list ] && n=$N_LIST
            printf '\n---- callgrind, workload %s: %d requests, %d client connections, pool %d\n' \
                "$wl" "$n" "$CONNS" "$POOL"
            printf '(user-space instructions only: kernel time in syscalls is not counted)\n\n'
            python3 "$W/analyze.py" "$OUT/callgrind.out.$wl" "$n" "$ROOT"
        done
    fi
} >"$SUMMARY"
cat "$SUMMARY"
