#!/usr/bin/env bash
# Side by side: the same Socket.IO scenario file run by Artillery and by
# `coworkctl emit load --scenario` against the same `coworkctl serve`, one
# after the other, each generator pinned to one core (taskset) and the
# server to the other. For each run it prints the generator's CPU-seconds
# (user + sys, and user and sys apart, of the generator process and its
# children: rusage, or the /proc samples of its process tree when they
# say more), per virtual user, its peak RSS, the virtual users created /
# failed and the p99 of the join_space acknowledgement as each generator
# reports it.
#
#   bench/artillery.sh                  # the anchor: 600 users at 20/s
#   RATES="20 40 80" bench/artillery.sh # a sweep: the most users one core
#                                       # sustains at p99 < 100 ms
#
# Each virtual user: join_space (with ack) → think THINK s → leave_space
# (with ack) → think 1 s. Knobs: RATES (arrivals/s, default 20), DURATION
# (s of arrivals, default 30), THINK (default 5), GENERATORS ("artillery
# emit"), GEN_CPU / SERVER_CPU (default 1 / 0).
#
# Artillery 2.0.20 is installed into bench/artillery/node_modules with
# --ignore-scripts (its postinstall downloads a browser). The machine may
# be shared: CPU-seconds of a process stay meaningful when others run,
# wall-clock figures (latency) less so.
set -euo pipefail
cd "$(dirname "$0")/.."
RATES=${RATES:-20}
DURATION=${DURATION:-30}
THINK=${THINK:-5}
GENERATORS=${GENERATORS:-"artillery emit"}
GEN_CPU=${GEN_CPU:-1}
SERVER_CPU=${SERVER_CPU:-0}
SECRET=bench-artillery-secret
OUT=${OUT:-$(mktemp -d /tmp/bench-artillery.XXXXXX)}

if [[ " $GENERATORS " == *" artillery "* && ! -x bench/artillery/node_modules/.bin/artillery ]]; then
	(cd bench/artillery && npm install --ignore-scripts --no-audit --no-fund >"$OUT/npm.log" 2>&1) ||
		{ echo "npm install failed: $OUT/npm.log" >&2; exit 1; }
fi
go build -o "$OUT/coworkctl" ./cmd/coworkctl
BIN=$OUT/coworkctl

free_port() { python3 -c 'import socket;s=socket.socket();s.bind(("127.0.0.1",0));print(s.getsockname()[1])'; }

# rusage_run FILE CMD…: runs CMD and writes "user sys maxrss_kib" to FILE:
# the larger of rusage of its reaped children and the sum over every
# process of its tree sampled from /proc every 200 ms (a worker process
# its parent never waits for is missed by rusage).
rusage_run() {
	local file=$1; shift
	python3 - "$file" "$@" <<'PY'
import os, resource, subprocess, sys, time
tick = os.sysconf("SC_CLK_TCK")
p = subprocess.Popen(sys.argv[2:])
seen = {}  # pid -> (utime, stime) in ticks, last seen
def sample():
    kids = {}
    for d in os.listdir("/proc"):
        if not d.isdigit():
            continue
        try:
            st = open(f"/proc/{d}/stat").read()
        except OSError:
            continue
        f = st[st.rindex(")") + 2:].split()
        kids[int(d)] = (int(f[1]), int(f[11]), int(f[12]))  # ppid, utime, stime
    tree, grew = {p.pid}, True
    while grew:
        grew = False
        for pid, (ppid, _, _) in kids.items():
            if ppid in tree and pid not in tree:
                tree.add(pid); grew = True
    for pid in tree:
        if pid in kids:
            seen[pid] = kids[pid][1:]
while p.poll() is None:
    sample()
    time.sleep(0.2)
r = resource.getrusage(resource.RUSAGE_CHILDREN)
pu = sum(u for u, _ in seen.values()) / tick
ps = sum(s for _, s in seen.values()) / tick
u, s = (r.ru_utime, r.ru_stime) if r.ru_utime + r.ru_stime >= pu + ps else (pu, ps)
open(sys.argv[1], "w").write(f"{u:.3f} {s:.3f} {r.ru_maxrss}\n")
sys.exit(p.returncode)
PY
}

printf '%-10s %6s %6s %8s %8s %9s %7s %7s %9s %9s %11s\n' generator rate vusers created failed cpu_s user_s sys_s ms_per_vu rss_mib p99_join_ms
for rate in $RATES; do
	vusers=$((rate * DURATION))
	for gen in $GENERATORS; do
		port=$(free_port)
		rm -f "$OUT/db.sqlite"*
		taskset -c "$SERVER_CPU" env GOMAXPROCS=1 "$BIN" serve --jwt-secret "$SECRET" --demo --db "sqlite:$OUT/db.sqlite" \
			--addr "127.0.0.1:$port" --max-connections 100000 --log-level warn >"$OUT/serve.log" 2>&1 &
		spid=$!
		for _ in $(seq 100); do curl -fs "http://127.0.0.1:$port/readyz" >/dev/null 2>&1 && break; sleep 0.1; done
		token=$("$BIN" token --jwt-secret "$SECRET" --user 42 --role cliente 2>/dev/null | tail -1)
		script=$OUT/join-think-leave-$rate.yml
		cat >"$script" <<YML
config:
  target: "http://127.0.0.1:$port"
  phases:
    - duration: $DURATION
      arrivalRate: $rate
  socketio:
    transports: ["websocket"]
    auth:
      token: "$token"
scenarios:
  - name: join think leave
    engine: socketio
    flow:
      - emit:
          channel: "join_space"
          data: {spazioId: 1, sedeId: 1}
        acknowledge:
          match:
            json: "$.0.success"
            value: true
      - think: $THINK
      - emit:
          channel: "leave_space"
          data: {spazioId: 1, sedeId: 1}
        acknowledge:
          match:
            json: "$.0.success"
            value: true
      - think: 1
YML
		log=$OUT/$gen-$rate.log
		case $gen in
		artillery)
			rusage_run "$OUT/ru" taskset -c "$GEN_CPU" bench/artillery/node_modules/.bin/artillery run --output "$OUT/artillery-$rate.json" "$script" >"$log" 2>&1 || true
			read -r created failed p99 < <(node -e '
const r = require(process.argv[1]).aggregate;
const c = r.counters || {}, s = r.summaries || {};
const h = s["socketio.response_time"] || {};
console.log(c["vusers.created"] || 0, c["vusers.failed"] || 0, h.p99 ?? "-");' "$OUT/artillery-$rate.json")
			;;
		emit)
			rusage_run "$OUT/ru" taskset -c "$GEN_CPU" "$BIN" emit load --scenario "$script" --json --no-progress >"$log" 2>"$log.err" || true
			read -r created failed p99 < <(python3 -c '
import json, sys
r = json.load(open(sys.argv[1]))
p99 = next((s["latency"]["p99_ms"] for s in r["steps"] if s["name"] == "join_space"), "-")
print(r["vusers"]["created"], r["vusers"]["failed"], p99)' "$log")
			;;
		esac
		read -r user sys rss <"$OUT/ru"
		kill "$spid" 2>/dev/null; wait "$spid" 2>/dev/null || true
		awk -v g="$gen" -v r="$rate" -v v="$vusers" -v c="$created" -v f="$failed" -v u="$user" -v s="$sys" -v m="$rss" -v p="$p99" 'BEGIN {
			cpu = u + s; per = (c > 0) ? cpu * 1000 / c : 0
			printf "%-10s %6d %6d %8d %8d %9.2f %7.2f %7.2f %9.2f %9.1f %11s\n", g, r, v, c, f, cpu, u, s, per, m / 1024, p }'
	done
done
echo "logs: $OUT"
