#!/usr/bin/env bash
# make bench: seed, then drive real HTTP against `yishi serve` (release) and
# the raw baseline with wrk, server pinned to one core, wrk to the other.
# Writes $CARGO_TARGET_DIR/bench/summary.json and summary.md.
#
# Environment (defaults in brackets):
#   BENCH_SECONDS [60]            length of each submission run
#   BENCH_RESULTS_SECONDS [=BENCH_SECONDS]  length of each results run
#   BENCH_RESIDENTS [1000000]     residents seeded
#   BENCH_TOKENS [=residents, at most 1000000]  residents with a token
#   BENCH_CONNECTIONS ["64 256"]  concurrency for submissions and baseline
#   BENCH_RSS_CONNECTIONS [1000]  one more submission run at this concurrency,
#       for the server's memory with many connections (empty: skip)
#   BENCH_LOGIN_CONNECTIONS [64]  a login storm (argon2id), alone and then
#       with submissions alongside (empty: skip)
#   BENCH_RESULTS_CONNECTIONS ["1 64 256"]  concurrency for results queries
#   BENCH_BACKENDS ["sqlite postgres"]
#   BENCH_PG_URL [postgres://postgres@127.0.0.1:5432/postgres]: an existing
#       database to connect to; the bench (re)creates `yishi_bench` beside it
#   BENCH_SERVER_CPU [0], BENCH_LOAD_CPU [1]
#   BENCH_PORT [18080], BENCH_BASELINE_PORT [18090]
#   BENCH_PG_UNPINNED [unset]: set to leave a local PostgreSQL on both cores
#     (by default its processes are pinned to the load core, never the
#     server's; its affinity is restored when the bench ends)
#   BENCH_PERF [unset]: set to record a perf profile of the server per
#     submission run ($DIR/perf_submit_cN.data)
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-$ROOT/target}
BENCH_SECONDS=${BENCH_SECONDS:-60}
BENCH_RESULTS_SECONDS=${BENCH_RESULTS_SECONDS:-$BENCH_SECONDS}
BENCH_RESIDENTS=${BENCH_RESIDENTS:-1000000}
BENCH_TOKENS=${BENCH_TOKENS:-$((BENCH_RESIDENTS < 1000000 ? BENCH_RESIDENTS : 1000000))}
BENCH_CONNECTIONS=${BENCH_CONNECTIONS:-64 256}
BENCH_RESULTS_CONNECTIONS=${BENCH_RESULTS_CONNECTIONS-1 64 256}
BENCH_BACKENDS=${BENCH_BACKENDS:-sqlite postgres}
BENCH_PG_URL=${BENCH_PG_URL:-postgres://postgres@127.0.0.1:5432/postgres}
SERVER_CPU=${BENCH_SERVER_CPU:-0}
LOAD_CPU=${BENCH_LOAD_CPU:-1}
PORT=${BENCH_PORT:-18080}
BASELINE_PORT=${BENCH_BASELINE_PORT:-18090}
OUT=$CARGO_TARGET_DIR/bench
YISHI=$CARGO_TARGET_DIR/release/yishi
BENCH=$CARGO_TARGET_DIR/release/yishi-bench
LUA=$ROOT/bench/wrk.lua

for tool in wrk taskset python3; do
  command -v "$tool" >/dev/null || { echo "bench: $tool is missing (apt-get install -y wrk util-linux python3)" >&2; exit 1; }
done
if [ "$(nproc)" -lt 2 ]; then
  echo "bench: needs two cores (server on one, load generator on the other)" >&2
  exit 1
fi
ulimit -n 65536 2>/dev/null || ulimit -n 4096 2>/dev/null || true

echo "bench: building release binaries"
cargo build --release -p yishi -p yishi-bench

rm -rf "$OUT"
mkdir -p "$OUT"
YISHI_JWT_SECRET=$(python3 -c 'import secrets; print(secrets.token_hex(32))')
export YISHI_JWT_SECRET

SERVER_PID=""
stop_server() {
  if [ -n "$SERVER_PID" ] && kill -0 "$SERVER_PID" 2>/dev/null; then
    kill "$SERVER_PID" 2>/dev/null || true
    wait "$SERVER_PID" 2>/dev/null || true
  fi
  SERVER_PID=""
}
# pin_postgres CPUS: a local PostgreSQL's processes onto CPUS; backends
# fork from the postmaster and inherit its affinity.
pin_postgres() {
  for pid in $(pgrep -x postgres || true); do
    taskset -a -p -c "$1" "$pid" >/dev/null 2>&1 || true
  done
}
cleanup() {
  stop_server
  [ -n "${BENCH_PG_UNPINNED-}" ] || pin_postgres "0-$(($(nproc) - 1))"
}
trap cleanup EXIT

wait_ready() { # url
  for _ in $(seq 1 300); do
    if python3 -c "import urllib.request,sys; urllib.request.urlopen(sys.argv[1], timeout=1)" "$1" 2>/dev/null; then
      return 0
    fi
    if ! kill -0 "$SERVER_PID" 2>/dev/null; then
      echo "bench: the server exited; see its log" >&2
      return 1
    fi
    sleep 0.2
  done
  echo "bench: $1 not ready after 60 s" >&2
  return 1
}

peak_rss_kib() { # pid
  awk '/^VmHWM:/ { print $2 }' "/proc/$1/status" 2>/dev/null || echo 0
}

# run_wrk NAME MODE CONNECTIONS SECONDS URL [VAR=VALUE...]: one wrk run on
# the load core; its JSON (from wrk.lua done()) lands in $DIR/NAME.json.
run_wrk() {
  local name=$1 mode=$2 conns=$3 secs=$4 url=$5
  shift 5
  env "$@" BENCH_MODE="$mode" BENCH_OUT_JSON="$DIR/$name.json" BENCH_THREADS=1 \
    taskset -c "$LOAD_CPU" wrk -t1 -c"$conns" -d"${secs}s" --timeout "${secs}s" \
    -s "$LUA" "$url" >"$DIR/$name.txt" 2>&1 || {
      echo "bench: wrk failed for $name:" >&2
      cat "$DIR/$name.txt" >&2
      return 1
    }
  echo "  $name: $(cat "$DIR/$name.json")"
  if [ -n "$SERVER_PID" ]; then
    # Which run drove the server's memory up.
    echo "$name $(awk '/^VmRSS:|^VmHWM:/ { printf "%s %s kB ", $1, $2 }' "/proc/$SERVER_PID/status" 2>/dev/null)" >>"$DIR/rss.log"
  fi
}

# cpu_busy BEFORE AFTER: busy share of cpu0 and cpu1 between two readings
# of /proc/stat's per-core lines.
cpu_busy() {
  python3 - "$1" "$2" <<'PY'
import sys
def parse(text):
    cores = {}
    for line in text.splitlines():
        name, *fields = line.split()
        values = list(map(int, fields))
        idle = values[3] + values[4]
        cores[name] = (sum(values), idle)
    return cores
a, b = parse(sys.argv[1]), parse(sys.argv[2])
print(" ".join(f"{n}={100 * (1 - (b[n][1] - a[n][1]) / max(1, b[n][0] - a[n][0])):.0f}%" for n in sorted(a)))
PY
}

requests_of() { # name
  python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["requests"])' "$DIR/$1.json"
}

for backend in $BENCH_BACKENDS; do
  DIR=$OUT/$backend
  mkdir -p "$DIR"
  case $backend in
    sqlite)
      DB_URL="sqlite://$DIR/yishi.db?mode=rwc"
      ;;
    postgres)
      if ! psql "$BENCH_PG_URL" -qAtc 'SELECT 1' >/dev/null 2>&1; then
        echo "bench: PostgreSQL not reachable at $BENCH_PG_URL; skipping postgres" >&2
        continue
      fi
      psql "$BENCH_PG_URL" -qAt -c 'DROP DATABASE IF EXISTS yishi_bench' -c 'CREATE DATABASE yishi_bench' >/dev/null
      DB_URL="${BENCH_PG_URL%/*}/yishi_bench"
      ;;
    *)
      echo "bench: unknown backend $backend" >&2
      exit 1
      ;;
  esac
  echo "bench: [$backend] seeding $BENCH_RESIDENTS residents"
  DATABASE_URL=$DB_URL "$BENCH" seed --residents "$BENCH_RESIDENTS" --tokens "$BENCH_TOKENS" \
    --out "$DIR" 2>&1 | tee "$DIR/seed.log"
  if [ "$backend" = postgres ]; then
    # A bulk load leaves no planner statistics and a checkpoint to come; a
    # database in service has both behind it.
    psql "$DB_URL" -qAt -c 'VACUUM ANALYZE' -c 'CHECKPOINT' >/dev/null
  fi
  seed() { python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); print(eval(sys.argv[2], {}, {"d": d}))' "$DIR/seed.json" "$1"; }
  SUBMIT_TOPIC=$(seed 'd["topics"]["submit"]')
  RESULTS_TOPIC=$(seed 'd["topics"]["results"]')
  BASELINE_TOPIC=$(seed 'd["topics"]["baseline"]')
  CITY=$(seed 'd["codes"]["city"]')
  ORGANISER_TOKEN=$(seed 'd["organiser_token"]')
  TOKENS_FILE=$DIR/tokens.txt

  if [ "$backend" = postgres ] && [ -z "${BENCH_PG_UNPINNED-}" ]; then
    # PostgreSQL runs beside the load generator, never on the server's core.
    pin_postgres "$LOAD_CPU"
    echo "bench: [$backend] PostgreSQL on core $LOAD_CPU"
  fi
  echo "bench: [$backend] yishi serve on core $SERVER_CPU"
  DATABASE_URL=$DB_URL YISHI_BIND=127.0.0.1:$PORT YISHI_DEMO_DATA=false \
    YISHI_NOTICE_PERIOD_HOURS=0 YISHI_LOG=warn YISHI_ENV=production \
    YISHI_DATA_DIR=$DIR YISHI_STATIC_DIR=$DIR/static \
    YISHI_RATE_LIMIT_OPINION_PER_IP=0 YISHI_RATE_LIMIT_LOGIN_PER_IP=0 \
    taskset -c "$SERVER_CPU" "$YISHI" serve >"$DIR/server.log" 2>&1 &
  SERVER_PID=$!
  wait_ready "http://127.0.0.1:$PORT/readyz"
  URL=http://127.0.0.1:$PORT/graphql
  offset=0
  submit_env() { echo BENCH_TOKENS_FILE="$TOKENS_FILE" BENCH_TOPIC="$SUBMIT_TOPIC" BENCH_TOKEN_OFFSET="$offset"; }

  # (a) submissions.
  for c in $BENCH_CONNECTIONS; do
    echo "$offset" >"$DIR/submit_c$c.offset"
    perf_pid=""
    if [ -n "${BENCH_PERF-}" ]; then
      # A CPU profile of the server for the run (perf report -i FILE).
      # DWARF unwinding: the release build keeps no frame pointers.
      perf record -F 299 --call-graph dwarf,16384 -p "$SERVER_PID" -o "$DIR/perf_submit_c$c.data" -- sleep "$BENCH_SECONDS" >/dev/null 2>&1 &
      perf_pid=$!
    fi
    cpu_before=$(head -3 /proc/stat | tail -2)
    # shellcheck disable=SC2046
    run_wrk "submit_c$c" submit "$c" "$BENCH_SECONDS" "$URL" $(submit_env)
    cpu_busy "$cpu_before" "$(head -3 /proc/stat | tail -2)" >"$DIR/submit_c$c.cpu"
    echo "  submit_c$c cores busy: $(cat "$DIR/submit_c$c.cpu")"
    [ -z "$perf_pid" ] || wait "$perf_pid"
    offset=$((offset + $(requests_of "submit_c$c")))
  done

  # (b) results on the province topic: idle, then while submissions run.
  for level in COUNTY TOWNSHIP VILLAGE; do
    within=""
    [ "$level" = VILLAGE ] && within=$CITY
    for c in $BENCH_RESULTS_CONNECTIONS; do
      run_wrk "results_${level,,}_idle_c$c" results "$c" "$BENCH_RESULTS_SECONDS" "$URL" \
        BENCH_TOPIC="$RESULTS_TOPIC" BENCH_BEARER="$ORGANISER_TOKEN" BENCH_LEVEL="$level" BENCH_WITHIN="$within"
    done
  done
  # (b1) an organiser's opinion list on the same topic, the newest 50 within
  # a city, a county and a township, one client, idle.
  if [ -n "$BENCH_RESULTS_CONNECTIONS" ]; then
    for level in city county township; do
      run_wrk "opinions_${level}_idle_c1" opinions 1 "$BENCH_RESULTS_SECONDS" "$URL" \
        BENCH_TOPIC="$RESULTS_TOPIC" BENCH_BEARER="$ORGANISER_TOKEN" BENCH_WITHIN="$(seed "d['codes']['$level']")"
    done
  fi
  for level in COUNTY TOWNSHIP VILLAGE; do
    within=""
    [ "$level" = VILLAGE ] && within=$CITY
    for c in $BENCH_RESULTS_CONNECTIONS; do
      # Submissions at the highest configured concurrency run around it.
      sc=${BENCH_CONNECTIONS##* }
      echo "$offset" >"$DIR/results_${level,,}_load_c${c}_submit.offset"
      # shellcheck disable=SC2046
      run_wrk "results_${level,,}_load_c${c}_submit" submit "$sc" "$((BENCH_RESULTS_SECONDS + 2))" "$URL" $(submit_env) &
      bg=$!
      sleep 1
      run_wrk "results_${level,,}_load_c$c" results "$c" "$BENCH_RESULTS_SECONDS" "$URL" \
        BENCH_TOPIC="$RESULTS_TOPIC" BENCH_BEARER="$ORGANISER_TOKEN" BENCH_LEVEL="$level" BENCH_WITHIN="$within"
      wait "$bg"
      offset=$((offset + $(requests_of "results_${level,,}_load_c${c}_submit")))
    done
  done
  # (b2) results while the submissions go to the very topic being read: its
  # counters move with every batch, so every answer is rolled up afresh.
  if [ -n "$BENCH_RESULTS_CONNECTIONS" ]; then
    for level in TOWNSHIP VILLAGE; do
      within=""
      [ "$level" = VILLAGE ] && within=$CITY
      sc=${BENCH_CONNECTIONS##* }
      run_wrk "results_${level,,}_hot_c1_submit" submit "$sc" "$((BENCH_RESULTS_SECONDS + 2))" "$URL" \
        BENCH_TOKENS_FILE="$TOKENS_FILE" BENCH_TOPIC="$RESULTS_TOPIC" BENCH_TOKEN_OFFSET=0 &
      bg=$!
      sleep 1
      run_wrk "results_${level,,}_hot_c1" results 1 "$BENCH_RESULTS_SECONDS" "$URL" \
        BENCH_TOPIC="$RESULTS_TOPIC" BENCH_BEARER="$ORGANISER_TOKEN" BENCH_LEVEL="$level" BENCH_WITHIN="$within"
      wait "$bg"
    done
  fi
  # (c) many connections at once, for memory.
  for c in ${BENCH_RSS_CONNECTIONS-1000}; do
    echo "$offset" >"$DIR/submit_c$c.offset"
    # shellcheck disable=SC2046
    run_wrk "submit_c$c" submit "$c" "$BENCH_SECONDS" "$URL" $(submit_env)
    offset=$((offset + $(requests_of "submit_c$c")))
  done

  # (d) a login storm: first alone, for what the argon2 pool gives; then with
  # submissions alongside: logins beyond what the pool takes are answered
  # RATE_LIMITED within 2 s, and submissions go on.
  FIRST_USER=$(seed 'd["first_user_id"]')
  for c in ${BENCH_LOGIN_CONNECTIONS-64}; do
    run_wrk "login_alone_c$c" login "$c" "$BENCH_SECONDS" "$URL" \
      BENCH_LOGIN_FIRST="$FIRST_USER" BENCH_LOGIN_COUNT="$BENCH_RESIDENTS"
  done
  for c in ${BENCH_LOGIN_CONNECTIONS-64}; do
    sc=${BENCH_CONNECTIONS##* }
    echo "$offset" >"$DIR/login_c${c}_submit.offset"
    # shellcheck disable=SC2046
    run_wrk "login_c${c}_submit" submit "$sc" "$((BENCH_SECONDS + 2))" "$URL" $(submit_env) &
    bg=$!
    sleep 1
    run_wrk "login_c$c" login "$c" "$BENCH_SECONDS" "$URL" \
      BENCH_LOGIN_FIRST="$FIRST_USER" BENCH_LOGIN_COUNT="$BENCH_RESIDENTS"
    wait "$bg"
    offset=$((offset + $(requests_of "login_c${c}_submit")))
  done
  peak_rss_kib "$SERVER_PID" >"$DIR/server_peak_rss_kib"
  stop_server

  # (c) the raw baseline, same pinning, on the same database.
  boffset=0
  for mode in group per-request; do
    echo "bench: [$backend] baseline ($mode) on core $SERVER_CPU"
    DATABASE_URL=$DB_URL taskset -c "$SERVER_CPU" "$BENCH" baseline --mode "$mode" \
      --bind "127.0.0.1:$BASELINE_PORT" >"$DIR/baseline_$mode.log" 2>&1 &
    SERVER_PID=$!
    wait_ready "http://127.0.0.1:$BASELINE_PORT/healthz"
    for c in $BENCH_CONNECTIONS; do
      name="baseline_${mode//-/_}_c$c"
      echo "$boffset" >"$DIR/$name.offset"
      run_wrk "$name" submit "$c" "$BENCH_SECONDS" "http://127.0.0.1:$BASELINE_PORT/graphql" \
        BENCH_TOKENS_FILE="$TOKENS_FILE" BENCH_TOPIC="$BASELINE_TOPIC" BENCH_TOKEN_OFFSET="$boffset"
      boffset=$((boffset + $(requests_of "$name")))
    done
    peak_rss_kib "$SERVER_PID" >"$DIR/baseline_${mode//-/_}_peak_rss_kib"
    stop_server
  done
done

BENCH_SECONDS=$BENCH_SECONDS BENCH_RESULTS_SECONDS=$BENCH_RESULTS_SECONDS \
  BENCH_RESIDENTS=$BENCH_RESIDENTS BENCH_TOKENS=$BENCH_TOKENS \
  python3 "$ROOT/bench/summarize.py" "$OUT"
echo "bench: wrote $OUT/summary.json and $OUT/summary.md"
