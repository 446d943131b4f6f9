#!/usr/bin/env bash
# serve.sh - `medfm serve` under load with wrk, same run, same machine:
#   1. GET /health requests/s against nginx serving a static file of the same size
#      (target: medfm >= 0.5x nginx), both with wrk's THREADS threads and CONNS connections;
#   2. POST /v1/predict (one events-JSON patient of the synthetic cohort, death_1y, SAMPLES
#      futures) with the PRESET model: p50 and p99 latency and throughput at concurrency 1 and 8,
#      errors (non-2xx) counted; at 8 also against a server taking one prediction at a time
#      (--batch 1, the baseline of micro-batching);
#   3. with SOAK > 0: predict at concurrency 8 for SOAK seconds, the server's RSS sampled every
#      10 s (memory must stay flat).
# Usage: bench/serve.sh [PRESET] [STEPS] [SAMPLES] [SECONDS] [SOAK]   (needs a built build/)
set -euo pipefail
cd "$(dirname "$0")/.."
preset=${1:-base}
steps=${2:-100}
samples=${3:-20}
secs=${4:-20}
soak=${5:-0}
medfm=$(pwd)/build/medfm
threads=$(nproc)
for t in wrk nginx; do
  command -v "$t" >/dev/null || [ -x "/usr/sbin/$t" ] || { echo "$t is missing: scripts/setup.sh" >&2; exit 1; }
done
tmp=$(mktemp -d /tmp/medfm-bench-serve.XXXXXX)
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
  rm -rf "$tmp"
}
trap cleanup EXIT

"$medfm" synth --quiet --patients 1000 --seed 11 --out "$tmp/cohort"
"$medfm" ingest --quiet --format ndjson --no-deid --out "$tmp/store" "$tmp/cohort"
"$medfm" train --quiet --store "$tmp/store" --out "$tmp/model" --preset "$preset" \
  --steps "$steps" --batch 8 --threads "$threads" --lr 0.002 --warmup 20 \
  --eval-every "$steps" --eval-windows 8

# the request: a patient of about median length, as events JSON
/usr/bin/python3 - "$tmp" <<'PY'
import json, struct, sys
tmp = sys.argv[1]
d = tmp + "/store/shard-00000/"
off = open(d + "subjects.off", "rb").read()
n = len(off) // 8 - 1
offs = struct.unpack("<%dQ" % (n + 1), off)
idx = struct.unpack("<%dQ" % (n + 1), open(d + "subjects.idx", "rb").read())
names = open(d + "subjects.bin", "rb").read()
order = sorted(range(n), key=lambda i: idx[i + 1] - idx[i])
pick = order[n // 2]
sid = names[offs[pick]:offs[pick + 1]].decode()
open(tmp + "/pid", "w").write(sid)
PY
pid=$(cat "$tmp/pid")
"$medfm" inspect "$tmp/store" --patient "$pid" --json >"$tmp/patient.json"
/usr/bin/python3 - "$tmp" <<'PY'
import json, sys
tmp = sys.argv[1]
p = json.load(open(tmp + "/patient.json"))
events = [{"time": e.get("time"), "code": e["code"],
           "numeric_value": e.get("value", e.get("numeric_value"))} for e in p["events"]]
json.dump({"patient": {"subject_id": "bench", "events": events}}, open(tmp + "/body.json", "w"))
print("patient with %d events" % len(events), file=sys.stderr)
PY

key=$("$medfm" keys create --db "$tmp/state.sqlite" --name bench --scopes predict --rate 100000000 \
  2>/dev/null | tail -n 1)
mkdir -p "$tmp/tasks"
cp tasks/death_1y.yaml "$tmp/tasks/"
"$medfm" serve --model "$tmp/model" --db "$tmp/state.sqlite" --tasks "$tmp/tasks" \
  --listen 127.0.0.1:0 --port-file "$tmp/port" --samples "$samples" --queue 1024 \
  --rate 100000000 2>"$tmp/serve.log" &
pids+=($!)
for _ in $(seq 600); do [ -s "$tmp/port" ] && break; sleep 0.1; done
port=$(cat "$tmp/port")

# nginx with a static file the size of medfm's /health answer
health=$(curl -s "http://127.0.0.1:$port/health")
mkdir -p "$tmp/www" "$tmp/nginx"
printf '%s' "$health" >"$tmp/www/health"
nport=$((port + 1))
user_line=""
[ "$(id -u)" -ne 0 ] || user_line="user root;" # workers would run as nobody, who cannot read $tmp
cat >"$tmp/nginx.conf" <<CONF
$user_line
worker_processes $threads;
pid $tmp/nginx/nginx.pid;
error_log $tmp/nginx/error.log;
events { worker_connections 4096; }
http {
  access_log off;
  client_body_temp_path $tmp/nginx/body;
  proxy_temp_path $tmp/nginx/proxy;
  fastcgi_temp_path $tmp/nginx/fastcgi;
  uwsgi_temp_path $tmp/nginx/uwsgi;
  scgi_temp_path $tmp/nginx/scgi;
  server {
    listen 127.0.0.1:$nport;
    location / { root $tmp/www; default_type application/json; }
  }
}
CONF
/usr/sbin/nginx -c "$tmp/nginx.conf" -g 'daemon off;' &
pids+=($!)
sleep 1
curl -sf "http://127.0.0.1:$nport/health" >/dev/null ||
  { echo "nginx did not start:" >&2; cat "$tmp/nginx/error.log" >&2; exit 1; }

wrk_json() { # wrk output -> "rps p50_ms p99_ms non2xx requests"
  /usr/bin/python3 -c '
import re, sys
t = sys.stdin.read()
def ms(s):
    v, u = float(s[:-2] if s.endswith(("us", "ms")) else s[:-1]), s[-2:] if s.endswith(("us", "ms")) else s[-1:]
    return v / 1000 if u == "us" else v if u == "ms" else v * 1000
rps = float(re.search(r"Requests/sec:\s+([\d.]+)", t).group(1))
p50 = ms(re.search(r"\s50%\s+(\S+)", t).group(1))
p99 = ms(re.search(r"\s99%\s+(\S+)", t).group(1))
n = int(re.search(r"(\d+) requests in", t).group(1))
m = re.search(r"Non-2xx or 3xx responses: (\d+)", t)
e = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", t)
errs = (int(m.group(1)) if m else 0) + (sum(map(int, e.groups())) if e else 0)
print(rps, p50, p99, errs, n)'
}
# wait until a server has no request left (wrk stops sending, not the server computing)
idle() {
  for _ in $(seq 1200); do
    curl -s "http://127.0.0.1:$1/health" | grep -q '"queue":0,"in_flight":1}' && return 0
    sleep 0.1
  done
  echo "the server on port $1 did not become idle" >&2
  return 1
}
conns=64
wrk -t "$threads" -c "$conns" -d 3s "http://127.0.0.1:$port/health" >/dev/null # warm-up
wrk -t "$threads" -c "$conns" -d 3s "http://127.0.0.1:$nport/health" >/dev/null
read -r n_rps _ _ n_err _ < <(wrk -t "$threads" -c "$conns" -d "${secs}s" --latency \
  "http://127.0.0.1:$nport/health" | wrk_json)
read -r m_rps _ _ m_err _ < <(wrk -t "$threads" -c "$conns" -d "${secs}s" --latency \
  "http://127.0.0.1:$port/health" | wrk_json)

cat >"$tmp/post.lua" <<LUA
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
wrk.headers["Authorization"] = "Bearer $key"
local f = io.open("$tmp/body.json", "r")
wrk.body = f:read("*a")
f:close()
LUA
url="http://127.0.0.1:$port/v1/predict?tasks=death_1y"
curl -sf -H "Authorization: Bearer $key" -H 'Content-Type: application/json' \
  --data-binary @"$tmp/body.json" "$url" >"$tmp/one.json" || { cat "$tmp/serve.log" >&2; exit 1; }
read -r p1_rps p1_50 p1_99 p1_err p1_n < <(wrk -t 1 -c 1 -d "${secs}s" --latency --timeout 60s \
  -s "$tmp/post.lua" "$url" | wrk_json)
idle "$port"
read -r p8_rps p8_50 p8_99 p8_err p8_n < <(wrk -t 2 -c 8 -d "${secs}s" --latency --timeout 60s \
  -s "$tmp/post.lua" "$url" | wrk_json)
idle "$port"

# the same at 8 connections against a server that takes one prediction at a time (--batch 1)
"$medfm" serve --model "$tmp/model" --db "$tmp/state.sqlite" --tasks "$tmp/tasks" \
  --listen 127.0.0.1:0 --port-file "$tmp/port1" --samples "$samples" --queue 1024 \
  --rate 100000000 --batch 1 2>"$tmp/serve1.log" &
pids+=($!)
for _ in $(seq 600); do [ -s "$tmp/port1" ] && break; sleep 0.1; done
url1="http://127.0.0.1:$(cat "$tmp/port1")/v1/predict?tasks=death_1y"
read -r b1_rps b1_50 b1_99 b1_err b1_n < <(wrk -t 2 -c 8 -d "${secs}s" --latency --timeout 60s \
  -s "$tmp/post.lua" "$url1" | wrk_json)
idle "$(cat "$tmp/port1")"
kill "${pids[-1]}"

soak_line=""
if [ "$soak" -gt 0 ]; then
  spid=${pids[0]}
  wrk -t 2 -c 8 -d "${soak}s" --timeout 60s -s "$tmp/post.lua" "$url" >"$tmp/soak.txt" &
  wpid=$!
  : >"$tmp/rss"
  while kill -0 "$wpid" 2>/dev/null; do
    awk '/VmRSS/ {print $2}' "/proc/$spid/status" >>"$tmp/rss"
    sleep 10
  done
  wait "$wpid"
  soak_line=$(/usr/bin/python3 - "$tmp" <<'PY'
import sys
tmp = sys.argv[1]
r = [int(x) for x in open(tmp + "/rss").read().split()]
print("soak: RSS first/last/max MB %.0f / %.0f / %.0f over %d samples" %
      (r[1] / 1024, r[-1] / 1024, max(r) / 1024, len(r)))
PY
)
fi

/usr/bin/python3 - "$tmp" "$preset" "$threads" "$samples" <<PY
import json, sys
tmp, preset, threads, samples = sys.argv[1:5]
cfg = json.load(open(tmp + "/model/config.json"))
row = lambda k, v: print("%-64s %16s" % (k, v))
print()
row("%s (dim %d, layers %d, context %d), %s threads, %s futures" %
    (preset, cfg["dim"], cfg["layers"], cfg["context"], threads, samples), "result")
row("GET /health, wrk $conns connections: nginx static file req/s (baseline)", "%.0f" % $n_rps)
row("medfm /health req/s", "%.0f" % $m_rps)
row("ratio medfm / nginx (target >= 0.5)", "%.2f" % ($m_rps / $n_rps))
row("errors nginx / medfm", "%d / %d" % ($n_err, $m_err))
row("POST /v1/predict c=1: p50 / p99 ms", "%.0f / %.0f" % ($p1_50, $p1_99))
row("  requests/s, requests, errors", "%.2f, %d, %d" % ($p1_rps, $p1_n, $p1_err))
row("POST /v1/predict c=8, --batch 1 (baseline): p50 / p99 ms", "%.0f / %.0f" % ($b1_50, $b1_99))
row("  requests/s, requests, errors", "%.2f, %d, %d" % ($b1_rps, $b1_n, $b1_err))
row("POST /v1/predict c=8, micro-batching: p50 / p99 ms", "%.0f / %.0f" % ($p8_50, $p8_99))
row("  requests/s, requests, errors", "%.2f, %d, %d" % ($p8_rps, $p8_n, $p8_err))
row("  throughput ratio batched / one at a time", "%.2f" % ($p8_rps / $b1_rps))
PY
[ -z "$soak_line" ] || echo "$soak_line"
