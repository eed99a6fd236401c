#!/usr/bin/env bash
# Side-by-side benchmark of three Socket.IO servers driven by the same load
# generator (`coworkctl emit load`) with the same pinning, one after the other
# on this machine:
#
#   node    bench/server.js: the seed's contract on socket.io 4 + jsonwebtoken
#   before  coworkctl serve built from git ref $BASE_REF (cached in
#           bench/.bin/coworkctl-before, rebuilt only when BASE_REF moves)
#   after   coworkctl serve built from the working tree
#
# Workloads (WORKLOADS="1 2 3 4 5", default all):
#   1  RSS per idle joined websocket at each of IDLE_COUNTS clients, measured
#      IDLE_SETTLE s after every client was accepted and the server went quiet
#   2  CLIENTS clients in ROOMS rooms, RATE broadcasts/s of PAYLOAD bytes for
#      DURATION: server user / system CPU us per delivered message, p50/p99,
#      loss (CPU counted over the traffic and drain phases only)
#   3  the same clients at each of OVERLOAD_RATES broadcasts/s for
#      OVERLOAD_DURATION (the default 600/s is beyond one core, 200/s within):
#      delivered msgs/s, p99, loss
#   4  W4_CLIENTS clients over W4_ROOMS rooms (catalog W4_CATALOG), W4_RATE
#      broadcasts/s for W4_DURATION, nothing pinned, GOMAXPROCS unset:
#      p99, loss, connect failures, peak RSS (VmHWM)
#   5  accepting and joining ACCEPT_CLIENTS clients: server user and system
#      CPU-s (shares the run of workload 1 when ACCEPT_CLIENTS is in IDLE_COUNTS)
#
# Workloads 1, 2, 3 and 5 pin the server to CPU 0 (Go with GOMAXPROCS=1) and
# the generator to CPU 1. Server CPU is utime and stime from /proc/PID/stat,
# RSS is VmRSS / VmHWM from /proc/PID/status. A server that fails to build,
# start or survive a run is reported as such and the others carry on.
#
#   bench/run.sh                                  # everything, ~10 minutes
#   SERVERS="node after" WORKLOADS="2 3" bench/run.sh
#   CLIENTS=100 DURATION=3s IDLE_COUNTS=200 ACCEPT_CLIENTS=200 W4_CLIENTS=400 bench/run.sh
#
# Prints a table (rows: metrics; columns: node, before, after, after/node,
# after/before) and writes it with every raw generator report and a
# summary.json to bench/results/<UTC time>/. Needs go, node/npm, jq, curl,
# taskset (pinning is skipped without it or with fewer than 2 CPUs).
set -uo pipefail
cd "$(dirname "$0")" || exit 1
BENCH=$PWD
export LC_ALL=C
unset GOMAXPROCS

SERVERS=${SERVERS:-"node before after"}
WORKLOADS=${WORKLOADS:-"1 2 3 4 5"}
BASE_REF=${BASE_REF:-fa612f8}
# The working tree's generator drives the load by default: it reads /api/sedi
# as a bare array (today's servers and the original's) and wrapped (older
# builds), while a build from before the bare array cannot list a newer
# server's spaces.
GEN=${GEN:-after}                         # which build drives the load: before or after
PAYLOAD=${PAYLOAD:-200}
CONNECT_RATE=${CONNECT_RATE:-1000}        # connections/s, workloads 1-3 and 5
DRAIN=${DRAIN:-5s}                        # generator wait for messages in flight
IDLE_COUNTS=${IDLE_COUNTS:-5000}          # workload 1
IDLE_SETTLE=${IDLE_SETTLE:-3}             # seconds after the server went quiet
ACCEPT_CLIENTS=${ACCEPT_CLIENTS:-5000}    # workload 5
CLIENTS=${CLIENTS:-1000}                  # workloads 2 and 3
ROOMS=${ROOMS:-4}                         # workloads 1, 2, 3, 5 (demo catalog: up to 8)
RATE=${RATE:-40}                          # workload 2
DURATION=${DURATION:-15s}
OVERLOAD_RATES=${OVERLOAD_RATES:-"200 600"}  # workload 3
OVERLOAD_DURATION=${OVERLOAD_DURATION:-10s}
W4_CLIENTS=${W4_CLIENTS:-10000}           # workload 4
W4_ROOMS=${W4_ROOMS:-40}
W4_RATE=${W4_RATE:-100}
W4_DURATION=${W4_DURATION:-15s}
W4_CONNECT_RATE=${W4_CONNECT_RATE:-1000}
W4_CATALOG=${W4_CATALOG:-catalog-40.json}
START_TIMEOUT=${START_TIMEOUT:-15}        # seconds for a server to answer /healthz
RESULTS=${RESULTS:-results/$(date -u +%Y%m%dT%H%M%SZ)}
SECRET=bench-secret
# Below the kernel's ephemeral range (32768-60999 here): a port in it can be
# taken as the source port of one of the thousands of generator connections,
# and a server then fails to bind it.
declare -A PORT=([node]=${PORT_NODE:-29301} [before]=${PORT_BEFORE:-29302} [after]=${PORT_AFTER:-29303})

log() { echo "[bench] $*" >&2; }
has() { case " $1 " in *" $2 "*) return 0 ;; esac; return 1; }
for k in $SERVERS; do
  [ -n "${PORT[$k]:-}" ] || { log "unknown server '$k' in SERVERS (node, before, after)"; exit 2; }
done
for c in go jq curl; do command -v $c >/dev/null || { log "needs $c"; exit 2; }; done

# 10,000 sockets need as many descriptors in the server and in the generator.
ulimit -n 65536 2>/dev/null || ulimit -n "$(ulimit -Hn)" 2>/dev/null || true
if has "$WORKLOADS" 4 && [ "$(ulimit -n)" != unlimited ] && [ "$(ulimit -n)" -lt $((W4_CLIENTS + 1024)) ]; then
  log "warning: ulimit -n is $(ulimit -n), workload 4 needs about $((W4_CLIENTS + 1024)) per process"
fi

mkdir -p .bin "$RESULTS"
declare -A BROKEN=()  # kind -> why it cannot run at all

build_before() {
  local want
  want=$(git -C .. rev-parse --verify -q "$BASE_REF^{commit}") || { BROKEN[before]="BASE_REF $BASE_REF is not a commit"; return 1; }
  if [ -x .bin/coworkctl-before ] && [ "$(cat .bin/coworkctl-before.ref 2>/dev/null)" = "$want" ]; then
    log "before: cached build of ${want:0:12}"
    return 0
  fi
  log "before: building ${want:0:12} ($BASE_REF) in bench/.before-src…"
  rm -rf .before-src && mkdir -p .before-src
  if git -C .. archive "$want" | tar -x -C .before-src &&
    (cd .before-src && go build -buildvcs=false -o ../.bin/coworkctl-before.tmp ./cmd/coworkctl); then
    mv .bin/coworkctl-before.tmp .bin/coworkctl-before && echo "$want" >.bin/coworkctl-before.ref
  else
    BROKEN[before]="build of $BASE_REF failed"
    return 1
  fi
}

build_after() {
  log "after: building the working tree…"
  if (cd .. && go build -buildvcs=false -o bench/.bin/coworkctl-after.tmp ./cmd/coworkctl); then
    mv .bin/coworkctl-after.tmp .bin/coworkctl-after
  else
    rm -f .bin/coworkctl-after .bin/coworkctl-after.tmp
    BROKEN[after]="working tree does not build"
    return 1
  fi
}

# The generator is one build for every server; `before` by default, since
# the working tree may be mid-rewrite.
if has "$SERVERS" before || [ "$GEN" = before ]; then build_before; fi
if has "$SERVERS" after || [ "$GEN" = after ]; then build_after; fi
GEN_BIN=$BENCH/.bin/coworkctl-$GEN
if [ -n "${BROKEN[$GEN]:-}" ]; then
  other=$([ "$GEN" = before ] && echo after || echo before)
  if [ -z "${BROKEN[$other]:-}" ] && ! [ -x ".bin/coworkctl-$other" ]; then "build_$other"; fi
  if [ -n "${BROKEN[$other]:-}" ]; then log "no generator: ${BROKEN[$GEN]}; ${BROKEN[$other]}"; exit 1; fi
  log "generator: $GEN unavailable (${BROKEN[$GEN]}), using $other"
  GEN=$other GEN_BIN=$BENCH/.bin/coworkctl-$other
fi
if has "$SERVERS" node && ! [ -d node_modules ]; then
  npm ci --no-audit --no-fund >&2 || BROKEN[node]="npm ci failed"
fi

TMP=$(mktemp -d)
SERVER_PID="" SAMPLER_PID="" GEN_PID=""
cleanup() {
  [ -z "$GEN_PID" ] || kill "$GEN_PID" 2>/dev/null
  [ -z "$SAMPLER_PID" ] || kill "$SAMPLER_PID" 2>/dev/null
  stop_server
  rm -rf "$TMP"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

SRV_PIN=() GEN_PIN=()
if [ "$(nproc)" -ge 2 ] && command -v taskset >/dev/null; then
  SRV_PIN=(taskset -c 0) GEN_PIN=(taskset -c 1)
else
  log "warning: no pinning (needs taskset and 2 CPUs)"
fi
TCK=$(getconf CLK_TCK)

# ---- results: M[kind,key] = value; rows in the order they were declared
declare -A M=() LABEL=()
ROWS=()
row() { ROWS+=("$1"); LABEL[$1]=$2; }
put() { M[$1,$2]=$3; }

# ---- servers
start_server() { # kind pinned(0|1) [catalog]: sets SERVER_PID, PORT_CUR
  local kind=$1 pinned=$2 catalog=${3:-} pin=() envs=() cmd=()
  [ "$pinned" = 1 ] && pin=("${SRV_PIN[@]}")
  PORT_CUR=${PORT[$kind]}
  rm -f "$TMP"/bench.db*
  if [ "$kind" = node ]; then
    envs=("JWT_SECRET=$SECRET" "PORT=$PORT_CUR")
    [ -z "$catalog" ] || envs+=(CATALOG="$BENCH/$catalog")
    cmd=(node server.js)
  else
    [ "$pinned" = 1 ] && envs=(GOMAXPROCS=1)
    cmd=("$BENCH/.bin/coworkctl-$kind" serve --addr "127.0.0.1:$PORT_CUR" --jwt-secret "$SECRET"
      --db "sqlite:$TMP/bench.db" --log-level error --cors-origin '*' --max-connections $((W4_CLIENTS * 2 + 20000)))
    if [ -n "$catalog" ]; then cmd+=(--catalog "$BENCH/$catalog"); else cmd+=(--demo); fi
  fi
  env "${envs[@]}" "${pin[@]}" "${cmd[@]}" >"$TMP/$kind.log" 2>&1 &
  SERVER_PID=$!
  local i
  for ((i = 0; i < START_TIMEOUT * 10; i++)); do
    kill -0 "$SERVER_PID" 2>/dev/null || break
    curl -fs -m 1 "http://127.0.0.1:$PORT_CUR/healthz" >/dev/null 2>&1 && return 0
    sleep 0.1
  done
  log "$kind did not start; its log:"
  tail -n 20 "$TMP/$kind.log" >&2
  stop_server
  return 1
}

stop_server() {
  local i
  if [ -n "$SERVER_PID" ] && kill -0 "$SERVER_PID" 2>/dev/null; then
    kill "$SERVER_PID" 2>/dev/null
    for ((i = 0; i < 100; i++)); do kill -0 "$SERVER_PID" 2>/dev/null || break; sleep 0.1; done
    kill -KILL "$SERVER_PID" 2>/dev/null
  fi
  [ -z "$SERVER_PID" ] || wait "$SERVER_PID" 2>/dev/null
  SERVER_PID=""
}

# alive kind: false (and the log tail shown) when the server died during a run
alive() {
  kill -0 "$SERVER_PID" 2>/dev/null && return 0
  log "$1 died during the run; its log:"
  tail -n 20 "$TMP/$1.log" >&2
  wait "$SERVER_PID" 2>/dev/null
  SERVER_PID=""
  return 1
}

ticks() { sed 's/.*) //' "/proc/$1/stat" 2>/dev/null | awk '{print $12, $13}'; } # "utime stime"
status_kib() { awk -v k="$2:" '$1 == k {print $2}' "/proc/$1/status" 2>/dev/null; }
fds() { find "/proc/$1/fd" -mindepth 1 -maxdepth 1 2>/dev/null | wc -l; }
secs() { awk -v a="$1" -v b="$2" -v t="$TCK" 'BEGIN{printf "%.2f", (b-a)/t}'; }

# sampler pid out: "epoch-seconds utime stime" every 0.1 s while pid lives
sampler() {
  local line f
  while read -r line 2>/dev/null <"/proc/$1/stat"; do
    read -r -a f <<<"${line##*) }"
    echo "$EPOCHREALTIME ${f[11]} ${f[12]}"
    sleep 0.1
  done >"$2"
}
start_sampler() {
  sampler "$1" "$2" &
  SAMPLER_PID=$!
  [ "${#GEN_PIN[@]}" -eq 0 ] || taskset -pc 1 "$SAMPLER_PID" >/dev/null
}
stop_sampler() { [ -z "$SAMPLER_PID" ] || { kill "$SAMPLER_PID" 2>/dev/null; wait "$SAMPLER_PID" 2>/dev/null; }; SAMPLER_PID=""; }
# window samples t0 t1: "user_s sys_s" spent in [t0, t1], interpolated
window_cpu() {
  awk -v a="$2" -v b="$3" -v tck="$TCK" '
    { t[NR] = $1; u[NR] = $2; s[NR] = $3 }
    function at(x, v,   i) {
      if (x <= t[1]) return v[1]
      for (i = 1; i < NR; i++) if (x < t[i + 1]) return v[i] + (v[i + 1] - v[i]) * (x - t[i]) / (t[i + 1] - t[i])
      return v[NR]
    }
    END { if (NR < 2) { print "n/a n/a"; exit } printf "%.3f %.3f\n", (at(b, u) - at(a, u)) / tck, (at(b, s) - at(a, s)) / tck }' "$1"
}

# gen pinned(0|1) out args…: runs the generator in the foreground, sets GEN_T0
gen() {
  local pinned=$1 out=$2 pin=()
  shift 2
  [ "$pinned" = 1 ] && pin=("${GEN_PIN[@]}")
  GEN_T0=$EPOCHREALTIME
  "${pin[@]}" "$GEN_BIN" emit load --server "http://127.0.0.1:$PORT_CUR" --jwt-secret "$SECRET" \
    --payload "$PAYLOAD" --drain "$DRAIN" --json --no-progress "$@" >"$out" 2>"$out.err"
  jq -e '.messages' "$out" >/dev/null 2>&1 && return 0
  log "generator failed:"; tail -n 5 "$out.err" >&2
  return 1
}

jv() { jq -r "$2" "$1"; }
mib() { awk -v k="$1" 'BEGIN{ if (k ~ /^[0-9]+$/) printf "%.1f", k / 1024; else print "n/a"}'; } # KiB -> MiB

# ---- workload 2 and 3: one broadcast run on a fresh pinned server
broadcast_run() { # kind tag clients rooms rate duration
  local kind=$1 tag=$2 out=$RESULTS/$1-$2.json cpu
  start_server "$kind" 1 || { put "$kind" "$tag.status" "no start"; return 1; }
  start_sampler "$SERVER_PID" "$TMP/samples"
  gen 1 "$out" --clients "$3" --rooms "$4" --connect-rate "$CONNECT_RATE" --rate "$5" --duration "$6"
  local rc=$?
  stop_sampler
  alive "$kind" || { put "$kind" "$tag.status" "crashed"; return 1; }
  put "$kind" "$tag.rss" "$(mib "$(status_kib "$SERVER_PID" VmRSS)")"
  stop_server
  [ $rc = 0 ] || { put "$kind" "$tag.status" "gen error"; return 1; }
  # traffic + drain window: generator start + connect phase, then duration + drain
  local t0 t1
  t0=$(awk -v s="$GEN_T0" -v w="$(jv "$out" .connections.wall_s)" 'BEGIN{printf "%.6f", s + w}')
  t1=$(awk -v s="$t0" -v d="$(jv "$out" .config.duration_s)" -v r="$(jv "$out" .messages.drain_s)" 'BEGIN{printf "%.6f", s + d + r}')
  read -r CPU_U CPU_S <<<"$(window_cpu "$TMP/samples" "$t0" "$t1")"
  CPU_WIN=$(awk -v a="$t0" -v b="$t1" 'BEGIN{printf "%.3f", b - a}')
  cpu=$(awk -v u="$CPU_U" -v s="$CPU_S" 'BEGIN{printf "%.3f", u + s}')
  put "$kind" "$tag.status" ok
  put "$kind" "$tag.joined" "$(jv "$out" .connections.joined)/$3"
  put "$kind" "$tag.sent" "$(jv "$out" '.broadcasts.rate_per_s * 10 | round / 10')"
  put "$kind" "$tag.delivered" "$(jv "$out" .messages.delivered)/$(jv "$out" .messages.expected)"
  put "$kind" "$tag.persec" "$(jv "$out" '.messages.per_s | floor')"
  put "$kind" "$tag.loss" "$(jv "$out" .messages.loss)"
  put "$kind" "$tag.p50" "$(jv "$out" .latency.p50_ms)"
  put "$kind" "$tag.p99" "$(jv "$out" .latency.p99_ms)"
  put "$kind" "$tag.max" "$(jv "$out" .latency.max_ms)"
  put "$kind" "$tag.util" "$(awk -v c="$cpu" -v w="$CPU_WIN" 'BEGIN{printf "%.2f", c / w}')"
  put "$kind" "$tag.gen" "$(jv "$out" '.generator.cpu_s * 100 | round / 100')"
  local d
  d=$(jv "$out" .messages.delivered)
  put "$kind" "$tag.user_us" "$(awk -v c="$CPU_U" -v d="$d" 'BEGIN{ if (d > 0) printf "%.2f", c * 1e6 / d; else print "n/a"}')"
  put "$kind" "$tag.sys_us" "$(awk -v c="$CPU_S" -v d="$d" 'BEGIN{ if (d > 0) printf "%.2f", c * 1e6 / d; else print "n/a"}')"
  put "$kind" "$tag.total_us" "$(awk -v c="$cpu" -v d="$d" 'BEGIN{ if (d > 0) printf "%.2f", c * 1e6 / d; else print "n/a"}')"
  log "$kind $tag: delivered ${M[$kind,$tag.delivered]}, p50 ${M[$kind,$tag.p50]} ms, p99 ${M[$kind,$tag.p99]} ms, server user ${CPU_U}s sys ${CPU_S}s in ${CPU_WIN}s"
}

# ---- workloads 1 and 5: connect n clients, let them idle, measure
idle_run() { # kind n
  local kind=$1 n=$2 tag=idle$2 out=$RESULTS/$1-idle$2.json
  start_server "$kind" 1 || { put "$kind" "$tag.status" "no start"; return 1; }
  sleep 1
  local r0 fd0 c0 c1 cp cn i
  r0=$(status_kib "$SERVER_PID" VmRSS) fd0=$(fds "$SERVER_PID") c0=$(ticks "$SERVER_PID")
  # Started directly (not through gen) so that $! is the generator.
  "${GEN_PIN[@]}" "$GEN_BIN" emit load --server "http://127.0.0.1:$PORT_CUR" --jwt-secret "$SECRET" --rooms "$ROOMS" \
    --connect-rate "$CONNECT_RATE" --json --no-progress --clients "$n" --rate 0 --duration 3600s --drain 1s \
    >"$out" 2>"$out.err" &
  GEN_PID=$!
  # all sockets accepted…
  for ((i = 0; i < (n / 100 + 30) * 10; i++)); do
    { kill -0 "$SERVER_PID" && kill -0 "$GEN_PID"; } 2>/dev/null || break
    [ "$(fds "$SERVER_PID")" -ge $((fd0 + n)) ] && break
    sleep 0.1
  done
  # …and handshakes and joins done: the server's CPU stands still (≤ 2 ticks in 0.5 s)
  cp=$(ticks "$SERVER_PID" | awk '{print $1 + $2}')
  for ((i = 0; i < 120; i++)); do
    sleep 0.5
    cn=$(ticks "$SERVER_PID" | awk '{print $1 + $2}')
    [ -n "$cn" ] && [ -n "$cp" ] && [ $((cn - cp)) -le 2 ] && break
    cp=$cn
  done
  c1=$(ticks "$SERVER_PID")
  sleep "$IDLE_SETTLE"
  local r1
  r1=$(status_kib "$SERVER_PID" VmRSS)
  kill -INT "$GEN_PID" 2>/dev/null; wait "$GEN_PID" 2>/dev/null; GEN_PID=""
  alive "$kind" || { put "$kind" "$tag.status" "crashed"; return 1; }
  stop_server
  jq -e .connections "$out" >/dev/null 2>&1 || { log "generator failed:"; tail -n 5 "$out.err" >&2; put "$kind" "$tag.status" "gen error"; return 1; }
  put "$kind" "$tag.status" ok
  put "$kind" "$tag.joined" "$(jv "$out" .connections.joined)/$n"
  put "$kind" "$tag.rss_per" "$(awk -v a="$r0" -v b="$r1" -v n="$n" 'BEGIN{printf "%.1f", (b - a) / n}')"
  put "$kind" "$tag.rss" "$(mib "$r1")"
  read -r u0 s0 <<<"$c0"
  read -r u1 s1 <<<"$c1"
  put "$kind" "$tag.user" "$(secs "$u0" "$u1")"
  put "$kind" "$tag.sys" "$(secs "$s0" "$s1")"
  log "$kind idle $n: joined ${M[$kind,$tag.joined]}, RSS $r0 → $r1 KiB (${M[$kind,$tag.rss_per]} KiB/conn), accept CPU user ${M[$kind,$tag.user]}s sys ${M[$kind,$tag.sys]}s"
}

# ---- workload 4: many connections, many rooms, nothing pinned
big_run() { # kind
  local kind=$1 tag=w4 out=$RESULTS/$1-w4.json
  start_server "$kind" 0 "$W4_CATALOG" || { put "$kind" "$tag.status" "no start"; return 1; }
  local c0 c1
  c0=$(ticks "$SERVER_PID")
  gen 0 "$out" --clients "$W4_CLIENTS" --rooms "$W4_ROOMS" --connect-rate "$W4_CONNECT_RATE" --rate "$W4_RATE" --duration "$W4_DURATION"
  local rc=$?
  alive "$kind" || { put "$kind" "$tag.status" "crashed"; return 1; }
  c1=$(ticks "$SERVER_PID")
  put "$kind" "$tag.peak" "$(mib "$(status_kib "$SERVER_PID" VmHWM)")"
  stop_server
  [ $rc = 0 ] || { put "$kind" "$tag.status" "gen error"; return 1; }
  put "$kind" "$tag.status" ok
  put "$kind" "$tag.joined" "$(jv "$out" .connections.joined)/$W4_CLIENTS"
  put "$kind" "$tag.failed" "$(jv "$out" '.connections.target - .connections.joined')"
  put "$kind" "$tag.sent" "$(jv "$out" '.broadcasts.rate_per_s * 10 | round / 10')"
  put "$kind" "$tag.delivered" "$(jv "$out" .messages.delivered)/$(jv "$out" .messages.expected)"
  put "$kind" "$tag.persec" "$(jv "$out" '.messages.per_s | floor')"
  put "$kind" "$tag.loss" "$(jv "$out" .messages.loss)"
  put "$kind" "$tag.p50" "$(jv "$out" .latency.p50_ms)"
  put "$kind" "$tag.p99" "$(jv "$out" .latency.p99_ms)"
  read -r u0 s0 <<<"$c0"
  read -r u1 s1 <<<"$c1"
  put "$kind" "$tag.user" "$(secs "$u0" "$u1")"
  put "$kind" "$tag.sys" "$(secs "$s0" "$s1")"
  put "$kind" "$tag.gen" "$(jv "$out" '.generator.cpu_s * 100 | round / 100')"
  log "$kind w4: joined ${M[$kind,$tag.joined]}, delivered ${M[$kind,$tag.delivered]}, p99 ${M[$kind,$tag.p99]} ms, peak RSS ${M[$kind,$tag.peak]} MiB"
}

# for_servers fn args…: fn kind args… for every server that can run
for_servers() {
  local fn=$1 kind
  shift
  for kind in $SERVERS; do
    [ -z "${BROKEN[$kind]:-}" ] || continue
    "$fn" "$kind" "$@"
  done
}

# ---- run
bps() { awk -v r="$1" -v c="$2" -v n="$3" 'BEGIN{printf "%.0f", r * c / n}'; } # offered msgs/s
for kind in $SERVERS; do
  put "$kind" build "$([ -n "${BROKEN[$kind]:-}" ] && echo FAILED || echo ok)"
  [ -z "${BROKEN[$kind]:-}" ] || log "$kind skipped: ${BROKEN[$kind]}"
done
row build "build"

IDLE_RUNS=""
has "$WORKLOADS" 1 && IDLE_RUNS=$IDLE_COUNTS
has "$WORKLOADS" 5 && ! has "$IDLE_RUNS" "$ACCEPT_CLIENTS" && IDLE_RUNS="$IDLE_RUNS $ACCEPT_CLIENTS"
for n in $IDLE_RUNS; do
  log "idle run: $n clients in $ROOMS rooms"
  for_servers idle_run "$n"
done
if has "$WORKLOADS" 1; then
  for n in $IDLE_COUNTS; do
    row "idle$n.status" "W1 idle $n clients, $ROOMS rooms: status"
    row "idle$n.joined" "  joined"
    row "idle$n.rss_per" "  RSS KiB per idle joined websocket"
    row "idle$n.rss" "  RSS MiB with $n idle"
  done
fi
if has "$WORKLOADS" 2; then
  log "workload 2: $CLIENTS clients, $ROOMS rooms, $RATE/s for $DURATION"
  for_servers broadcast_run w2 "$CLIENTS" "$ROOMS" "$RATE" "$DURATION"
  row w2.status "W2 $CLIENTS clients, $ROOMS rooms, $RATE/s ($(bps "$RATE" "$CLIENTS" "$ROOMS") msgs/s), $DURATION: status"
  row w2.joined "  joined / clients"
  row w2.sent "  broadcasts sent/s (offered $RATE)"
  row w2.delivered "  delivered / expected"
  row w2.loss "  loss"
  row w2.p50 "  p50 latency ms"
  row w2.p99 "  p99 latency ms"
  row w2.user_us "  server user us per delivered msg"
  row w2.sys_us "  server system us per delivered msg"
  row w2.total_us "  server user+system us per msg"
  row w2.util "  server cores busy (traffic+drain)"
  row w2.rss "  server RSS MiB at end"
  row w2.gen "  generator CPU-s (whole run)"
fi
if has "$WORKLOADS" 3; then
  for r in $OVERLOAD_RATES; do
    log "workload 3: $CLIENTS clients, $ROOMS rooms, $r/s for $OVERLOAD_DURATION"
    for_servers broadcast_run "w3r$r" "$CLIENTS" "$ROOMS" "$r" "$OVERLOAD_DURATION"
    row "w3r$r.status" "W3 $r/s offered ($(bps "$r" "$CLIENTS" "$ROOMS") msgs/s), $OVERLOAD_DURATION: status"
    row "w3r$r.joined" "  joined / clients"
    row "w3r$r.sent" "  broadcasts sent/s (offered $r)"
    row "w3r$r.persec" "  delivered msgs/s"
    row "w3r$r.delivered" "  delivered / expected"
    row "w3r$r.loss" "  loss"
    row "w3r$r.p50" "  p50 latency ms"
    row "w3r$r.p99" "  p99 latency ms"
    row "w3r$r.total_us" "  server user+system us per msg"
    row "w3r$r.util" "  server cores busy (traffic+drain)"
    row "w3r$r.rss" "  server RSS MiB at end"
    row "w3r$r.gen" "  generator CPU-s (whole run)"
  done
fi
if has "$WORKLOADS" 4; then
  log "workload 4: $W4_CLIENTS clients, $W4_ROOMS rooms, $W4_RATE/s for $W4_DURATION, unpinned"
  for_servers big_run
  row w4.status "W4 $W4_CLIENTS clients, $W4_ROOMS rooms, $W4_RATE/s ($(bps "$W4_RATE" "$W4_CLIENTS" "$W4_ROOMS") msgs/s), $W4_DURATION, unpinned: status"
  row w4.joined "  joined / clients"
  row w4.failed "  connect or join failures"
  row w4.sent "  broadcasts sent/s (offered $W4_RATE)"
  row w4.delivered "  delivered / expected"
  row w4.persec "  delivered msgs/s"
  row w4.loss "  loss"
  row w4.p50 "  p50 latency ms"
  row w4.p99 "  p99 latency ms"
  row w4.peak "  server peak RSS MiB (VmHWM)"
  row w4.user "  server user CPU-s (whole run)"
  row w4.sys "  server system CPU-s (whole run)"
  row w4.gen "  generator CPU-s (whole run)"
fi
if has "$WORKLOADS" 5; then
  for kind in $SERVERS; do
    for k in status joined user sys; do
      [ -z "${M[$kind,idle$ACCEPT_CLIENTS.$k]:-}" ] || put "$kind" "w5.$k" "${M[$kind,idle$ACCEPT_CLIENTS.$k]}"
    done
  done
  row w5.status "W5 accept and join $ACCEPT_CLIENTS clients, $ROOMS rooms: status"
  row w5.joined "  joined"
  row w5.user "  server user CPU-s"
  row w5.sys "  server system CPU-s"
fi

# ---- report
ratio() {
  awk -v a="$1" -v b="$2" 'BEGIN{
    re = "^-?[0-9]+(\\.[0-9]+)?([eE][-+]?[0-9]+)?$"
    if (a ~ re && b ~ re && b + 0 != 0) printf "%.2f", a / b; else print "" }'
}
val() { echo "${M[$1,$2]:-}"; }
{
  echo "machine: $(nproc) CPUs, $(lscpu | awk -F: '/Model name/ {gsub(/^ +/, "", $2); print $2; exit}'); $(go version | cut -d' ' -f3); node $(node --version 2>/dev/null)"
  echo "before = ${BASE_REF} ($(cut -c1-12 .bin/coworkctl-before.ref 2>/dev/null)), after = working tree, generator = $GEN build; payload ${PAYLOAD} B"
  echo "W1-3, W5: server on CPU 0${SRV_PIN:+ (taskset; Go GOMAXPROCS=1)}, generator on CPU 1; W4: nothing pinned, GOMAXPROCS unset"
  echo
  w=0
  for key in "${ROWS[@]}"; do [ "${#LABEL[$key]}" -le "$w" ] || w=${#LABEL[$key]}; done
  printf '%-*s %12s %12s %12s %10s %12s\n' "$w" "" node before after after/node after/before
  for key in "${ROWS[@]}"; do
    n=$(val node "$key") b=$(val before "$key") a=$(val after "$key")
    has "$SERVERS" node || n=""
    has "$SERVERS" before || b=""
    has "$SERVERS" after || a=""
    printf '%-*s %12s %12s %12s %10s %12s\n' "$w" "${LABEL[$key]}" "${n:--}" "${b:--}" "${a:--}" "$(ratio "$a" "$n")" "$(ratio "$a" "$b")"
  done
} | tee "$RESULTS/table.txt"

for key in "${ROWS[@]}"; do
  printf '%s\t%s\t%s\t%s\t%s\n' "$key" "${LABEL[$key]}" "${M[node,$key]:-}" "${M[before,$key]:-}" "${M[after,$key]:-}"
done | jq -R -s --arg servers "$SERVERS" --arg workloads "$WORKLOADS" --arg base "$BASE_REF" --arg gen "$GEN" '
  {servers: $servers, workloads: $workloads, base_ref: $base, generator: $gen,
   rows: [split("\n")[] | select(length > 0) | split("\t") |
          {key: .[0], label: (.[1] | sub("^ +"; "")), node: .[2], before: .[3], after: .[4]}]}' >"$RESULTS/summary.json"
find "$RESULTS" -name '*.err' -empty -delete
log "raw reports, table.txt and summary.json in bench/$RESULTS/"
