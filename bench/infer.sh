#!/usr/bin/env bash
# infer.sh - sampling speed of simulated futures, same run, same machine, same threads, same
#   weights: medfm (src/infer: KV cache, batched futures, OpenBLAS) against the PyTorch
#   baseline (bench/infer_torch.py: the same decoding policy with a preallocated KV cache),
#   both from the same prompt (the held-out patient with the longest record).
#   1. no_stop: SAMPLES futures of exactly MAX_NEW new tokens each; generated tokens/s of both
#      (target: medfm >= 3x PyTorch), with the KV cache and buffers medfm holds;
#   2. risk_1y: medfm's time per patient for a 1-year risk with SAMPLES futures (stops on
#      death, end of timeline, 1 year or MAX_NEW tokens) over PATIENTS held-out patients
#      (target with `base`: under 1 s per patient on 2 cores).
#   The model is trained for STEPS steps on a synthetic cohort first, so that its futures look
#   like records (a random model's would not stop like real ones).
# Usage: bench/infer.sh [PRESET] [STEPS] [SAMPLES] [MAX_NEW] [PATIENTS]   (needs a built build/)
set -euo pipefail
cd "$(dirname "$0")/.."
preset=${1:-base}
steps=${2:-150}
samples=${3:-20}
max_new=${4:-512}
patients=${5:-20}
medfm=$(pwd)/build/medfm
threads=$(nproc)
tmp=$(mktemp -d /tmp/medfm-bench-infer.XXXXXX)
trap 'rm -rf "$tmp"' EXIT

"$medfm" synth --quiet --patients 2000 --seed 11 --out "$tmp/cohort"
"$medfm" ingest --quiet --format ndjson --no-deid --out "$tmp/store" "$tmp/cohort"
"$medfm" train --quiet --store "$tmp/store" --out "$tmp/model" --preset "$preset" \
  --steps "$steps" --batch 8 --threads "$threads" --lr 0.002 --warmup 20 \
  --eval-every "$steps" --eval-windows 8

mkdir -p "$tmp/prompt"
/usr/bin/time -f "%M" -o "$tmp/medfm.rss" build/bench/infer_bench "$tmp/model" "$tmp/store" \
  "$samples" "$max_new" 3 "$tmp/prompt" "$patients" >"$tmp/medfm.json"
/usr/bin/time -f "%M" -o "$tmp/torch.rss" /usr/bin/python3 bench/infer_torch.py \
  --model "$tmp/model" --prompt "$tmp/prompt/prompt.txt" \
  --prefix-len "$(cat "$tmp/prompt/prefix_len.txt")" --samples "$samples" --max-new "$max_new" \
  --threads "$threads" --seed 1 --no-stop --repeat 3 --check >"$tmp/torch.json"

/usr/bin/python3 - "$tmp" "$preset" "$threads" <<'PY'
import json, sys
tmp, preset, threads = sys.argv[1], sys.argv[2], sys.argv[3]
m = [json.loads(l) for l in open(tmp + "/medfm.json")]
ns = next(x for x in m if x["mode"] == "no_stop")
rk = next((x for x in m if x["mode"] == "risk_1y"), None)
t = json.loads(open(tmp + "/torch.json").read().strip().splitlines()[-1])
cfg = json.load(open(tmp + "/model/config.json"))
mrss = int(open(tmp + "/medfm.rss").read()) // 1024
trss = int(open(tmp + "/torch.rss").read()) // 1024
row = lambda k, v: print("%-60s %14s" % (k, v))
print()
row("%s (vocab %d, context %d), %s threads, prompt %d tokens" %
    (preset, cfg["vocab"], cfg["context"], threads, ns["prompt_tokens"]), "result")
row("%d futures x %d new tokens: PyTorch %s tokens/s (baseline)" %
    (ns["futures"], ns["generated_tokens"] // ns["futures"], t.get("torch", "?")),
    "%.0f" % t["tokens_per_second"])
row("medfm tokens/s", "%.0f" % ns["tokens_per_second"])
row("ratio medfm / PyTorch (target >= 3)", "%.2f" % (ns["tokens_per_second"] / t["tokens_per_second"]))
row("medfm KV cache + decoding buffers (MB)", "%.1f" % ns["memory_mb"])
row("peak RSS medfm / PyTorch (MB)", "%d / %d" % (mrss, trss))
if rk:
    row("1-year risk, %d futures: patients" % rk["futures"], "%d" % rk["patients"])
    row("  seconds per patient, mean (target < 1 s with base)", "%.3f" % rk["seconds_per_patient"])
    row("  seconds, slowest patient", "%.3f" % rk["worst_patient_seconds"])
    row("  patients/s", "%.2f" % rk["patients_per_second"])
    row("  generated tokens/s", "%.0f" % rk["tokens_per_second"])
PY
