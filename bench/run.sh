#!/usr/bin/env bash
# Side-by-side benchmark: the same `coworkctl emit load` against the seed's
# contract on Node.js (bench/server.js, socket.io 4 + jsonwebtoken) and
# against `coworkctl serve`, one after the other on this machine. Prints both
# results and their ratios: delivered messages per server CPU-second, p50/p99
# at equal broadcast rates, RSS per idle connection.
#
# The server runs pinned to CPU 0 (Go with GOMAXPROCS=1, Node is single
# threaded), the generator to CPU 1, when there are at least 2 CPUs.
#
#   bench/run.sh                                   # defaults below
#   CLIENTS=1000 ROOMS=8 RATES="100 300" DURATION=10s IDLE_COUNTS="1000 5000" bench/run.sh
#
# Raw JSON reports land in bench/results/. Needs go, node/npm, jq, taskset.
set -euo pipefail
cd "$(dirname "$0")"

CLIENTS=${CLIENTS:-1000}
ROOMS=${ROOMS:-8}
RATES=${RATES:-"100 300"}
DURATION=${DURATION:-10s}
PAYLOAD=${PAYLOAD:-200}
IDLE_COUNTS=${IDLE_COUNTS:-"1000 5000"}
CONNECT_RATE=${CONNECT_RATE:-1000}
SECRET=bench-secret
PORT_NODE=${PORT_NODE:-39301}
PORT_GO=${PORT_GO:-39302}

mkdir -p .bin results
echo "building coworkctl…" >&2
(cd .. && go build -o bench/.bin/coworkctl ./cmd/coworkctl)
[ -d node_modules ] || npm ci --no-audit --no-fund >&2
BIN=$PWD/.bin/coworkctl
TMP=$(mktemp -d)
trap 'stop_server; rm -rf "$TMP"' EXIT

SRV_PIN=() GEN_PIN=()
if [ "$(nproc)" -ge 2 ] && command -v taskset >/dev/null; then
  SRV_PIN=(taskset -c 0) GEN_PIN=(taskset -c 1)
fi
TCK=$(getconf CLK_TCK)
SERVER_PID=""

start_server() { # kind
  local kind=$1
  rm -f "$TMP/bench.db"*
  if [ "$kind" = node ]; then
    PORT_CUR=$PORT_NODE
    JWT_SECRET=$SECRET PORT=$PORT_CUR "${SRV_PIN[@]}" node server.js >"$TMP/$kind.log" 2>&1 &
  else
    PORT_CUR=$PORT_GO
    GOMAXPROCS=1 "${SRV_PIN[@]}" "$BIN" serve --addr 127.0.0.1:$PORT_CUR --jwt-secret $SECRET --demo \
      --db "sqlite:$TMP/bench.db" --log-level error --cors-origin '*' --max-connections 20000 >"$TMP/$kind.log" 2>&1 &
  fi
  SERVER_PID=$!
  for _ in $(seq 100); do
    curl -fs "http://127.0.0.1:$PORT_CUR/healthz" >/dev/null 2>&1 && return 0
    sleep 0.1
  done
  echo "$kind server did not start:" >&2; cat "$TMP/$kind.log" >&2; exit 1
}

stop_server() {
  if [ -n "$SERVER_PID" ] && kill -0 "$SERVER_PID" 2>/dev/null; then
    kill "$SERVER_PID"; wait "$SERVER_PID" 2>/dev/null || true
  fi
  SERVER_PID=""
}

cpu_ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }
rss_kib() { awk '/^VmRSS:/ {print $2}' "/proc/$1/status"; }
fds() { ls "/proc/$1/fd" | wc -l; }

load() { # out.json, extra args…
  local out=$1; shift
  "${GEN_PIN[@]}" "$BIN" emit load --server "http://127.0.0.1:$PORT_CUR" --jwt-secret $SECRET \
    --rooms "$ROOMS" --payload "$PAYLOAD" --connect-rate "$CONNECT_RATE" --json --no-progress "$@" >"$out" || true
}

declare -A R
for kind in node go; do
  for rate in $RATES; do
    start_server $kind
    c0=$(cpu_ticks $SERVER_PID)
    load "results/$kind-rate$rate.json" --clients "$CLIENTS" --rate "$rate" --duration "$DURATION"
    c1=$(cpu_ticks $SERVER_PID)
    stop_server
    f=results/$kind-rate$rate.json
    cpu=$(awk -v a="$c0" -v b="$c1" -v t="$TCK" 'BEGIN{printf "%.2f", (b-a)/t}')
    R[$kind,$rate,cpu]=$cpu
    R[$kind,$rate,delivered]=$(jq '.messages.delivered' "$f")
    R[$kind,$rate,expected]=$(jq '.messages.expected' "$f")
    R[$kind,$rate,persec]=$(jq '.messages.per_s | floor' "$f")
    R[$kind,$rate,p50]=$(jq '.latency.p50_ms' "$f")
    R[$kind,$rate,p99]=$(jq '.latency.p99_ms' "$f")
    R[$kind,$rate,max]=$(jq '.latency.max_ms' "$f")
    R[$kind,$rate,loss]=$(jq '.messages.loss' "$f")
    R[$kind,$rate,gen]=$(jq '.generator.cpu_s' "$f")
    R[$kind,$rate,errs]=$(jq '.errors.total' "$f")
    R[$kind,$rate,mpc]=$(awk -v d="${R[$kind,$rate,delivered]}" -v c="$cpu" 'BEGIN{ if (c>0) printf "%.0f", d/c; else print "n/a"}')
    echo "$kind rate $rate/s: delivered ${R[$kind,$rate,delivered]}/${R[$kind,$rate,expected]}, server CPU ${cpu}s, p50 ${R[$kind,$rate,p50]}ms p99 ${R[$kind,$rate,p99]}ms" >&2
  done
  for n in $IDLE_COUNTS; do
    start_server $kind
    sleep 1
    r0=$(rss_kib $SERVER_PID); fd0=$(fds $SERVER_PID); c0=$(cpu_ticks $SERVER_PID)
    # Started directly (not through a function) so that $! is the generator.
    "${GEN_PIN[@]}" "$BIN" emit load --server "http://127.0.0.1:$PORT_CUR" --jwt-secret $SECRET --rooms "$ROOMS" \
      --connect-rate "$CONNECT_RATE" --json --no-progress --clients "$n" --rate 0 --duration 600s --drain 1s \
      >"results/$kind-idle$n.json" &
    gen=$!
    for _ in $(seq 600); do  # wait until the server holds n more sockets
      [ "$(fds $SERVER_PID)" -ge $((fd0 + n)) ] && break
      sleep 0.1
    done
    c1=$(cpu_ticks $SERVER_PID)
    sleep 3
    r1=$(rss_kib $SERVER_PID)
    kill -INT "$gen" 2>/dev/null || true; wait "$gen" 2>/dev/null || true
    stop_server
    R[$kind,idle$n]=$(awk -v a="$r0" -v b="$r1" -v n="$n" 'BEGIN{printf "%.1f", (b-a)/n}')
    R[$kind,idle$n,cpu]=$(awk -v a="$c0" -v b="$c1" -v t="$TCK" 'BEGIN{printf "%.2f", (b-a)/t}')
    echo "$kind idle $n: RSS ${r0} → ${r1} KiB, ${R[$kind,idle$n]} KiB/conn, accept CPU ${R[$kind,idle$n,cpu]}s" >&2
  done
done

ratio() { awk -v a="$1" -v b="$2" 'BEGIN{ if (b+0 > 0) printf "%.2f", a/b; else print "n/a"}'; }
echo
echo "machine: $(nproc) CPUs, $(lscpu | awk -F: '/Model name/ {gsub(/^ +/, "", $2); print $2; exit}'); $(go version | cut -d' ' -f3); node $(node --version)"
echo "load: $CLIENTS websocket clients in $ROOMS rooms, $PAYLOAD-byte broadcasts for $DURATION; server on CPU 0${SRV_PIN:+ (taskset)}, generator on CPU 1"
echo
printf '%-34s %14s %14s %12s\n' "" "node" "coworkctl" "go/node"
for rate in $RATES; do
  printf '%-34s\n' "broadcasts $rate/s ($((rate * CLIENTS / ROOMS)) msgs/s offered)"
  for k in delivered persec cpu mpc p50 p99 max loss gen errs; do
    label=$(case $k in
      delivered) echo "  delivered / expected";; persec) echo "  delivered msgs/s";; cpu) echo "  server CPU-s";;
      mpc) echo "  delivered msgs per server CPU-s";; p50) echo "  p50 latency ms";; p99) echo "  p99 latency ms";;
      max) echo "  max latency ms";; loss) echo "  loss";; gen) echo "  generator CPU-s";; errs) echo "  errors";; esac)
    nv=${R[node,$rate,$k]} gv=${R[go,$rate,$k]}
    [ $k = delivered ] && nv="$nv/${R[node,$rate,expected]}" gv="$gv/${R[go,$rate,expected]}"
    printf '%-34s %14s %14s %12s\n' "$label" "$nv" "$gv" "$(ratio "${R[go,$rate,$k]}" "${R[node,$rate,$k]}")"
  done
done
for n in $IDLE_COUNTS; do
  printf '%-34s %14s %14s %12s\n' "RSS KiB per idle conn at $n" "${R[node,idle$n]}" "${R[go,idle$n]}" "$(ratio "${R[go,idle$n]}" "${R[node,idle$n]}")"
  printf '%-34s %14s %14s %12s\n' "  server CPU-s to accept $n" "${R[node,idle$n,cpu]}" "${R[go,idle$n,cpu]}" "$(ratio "${R[go,idle$n,cpu]}" "${R[node,idle$n,cpu]}")"
done
