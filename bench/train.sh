#!/usr/bin/env bash
# train.sh - training speed and memory, same run, same machine, same threads:
#   medfm train (hand-written forward/backward over OpenBLAS) against the same architecture in
#   PyTorch (bench/train_torch.py, Debian's python3-torch, torch.optim.AdamW), on the `base`
#   preset (6 layers, width 384, 6 heads, context 512) unless PRESET is given, with the same
#   batch and thread count.  Reports tokens/s of both (target: medfm >= 1.5x PyTorch), medfm's
#   achieved GFLOP/s against OpenBLAS's measured sgemm peak (target >= 50% for base), and the
#   peak RSS of both.
# Usage: bench/train.sh [STEPS] [BATCH] [PRESET]   (needs a built build/)
set -euo pipefail
cd "$(dirname "$0")/.."
steps=${1:-20}
batch=${2:-8}
preset=${3:-base}
medfm=$(pwd)/build/medfm
threads=$(nproc)
tmp=$(mktemp -d /tmp/medfm-bench-train.XXXXXX)
trap 'rm -rf "$tmp"' EXIT

"$medfm" synth --quiet --patients 1000 --seed 11 --out "$tmp/cohort"
"$medfm" ingest --quiet --format ndjson --no-deid --out "$tmp/store" "$tmp/cohort"

# medfm: the whole command under /usr/bin/time for the peak RSS; speed from training.json
/usr/bin/time -f "%M" -o "$tmp/medfm.rss" "$medfm" train --store "$tmp/store" --out "$tmp/model" \
  --preset "$preset" --steps "$steps" --batch "$batch" --threads "$threads" --eval-every \
  "$steps" --eval-windows "$batch" --log-every 5
read -r m_tps m_gf m_peak < <(/usr/bin/python3 -c '
import json, sys
t = json.load(open(sys.argv[1]))
print(t["tokens_per_second"], t["gflops"], t["sgemm_peak_gflops"])' "$tmp/model/training.json")

# PyTorch: the same config.json, batch and threads
/usr/bin/time -f "%M" -o "$tmp/torch.rss" /usr/bin/python3 bench/train_torch.py \
  "$tmp/model/config.json" --batch "$batch" --steps "$steps" --threads "$threads" >"$tmp/torch.json"
read -r t_tps t_ver < <(/usr/bin/python3 -c '
import json, sys
t = json.load(open(sys.argv[1]))
print(t["tokens_per_second"], t["torch"])' "$tmp/torch.json")

m_rss=$(($(cat "$tmp/medfm.rss") / 1024))
t_rss=$(($(cat "$tmp/torch.rss") / 1024))
printf '\n%-52s %14s\n' "$preset, batch $batch x context $(/usr/bin/python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["context"])' "$tmp/model/config.json"), $threads threads, $steps steps" "result"
printf '%-52s %14.0f\n' "PyTorch $t_ver tokens/s (baseline)" "$t_tps"
printf '%-52s %14.0f\n' "medfm tokens/s" "$m_tps"
printf '%-52s %14.2f\n' "ratio medfm / PyTorch (target >= 1.5)" \
  "$(awk -v a="$m_tps" -v b="$t_tps" 'BEGIN{print a/b}')"
printf '%-52s %14.1f\n' "OpenBLAS sgemm peak, same threads (GFLOP/s)" "$m_peak"
printf '%-52s %14.1f\n' "medfm achieved (GFLOP/s)" "$m_gf"
printf '%-52s %14.2f\n' "fraction of the sgemm peak (target >= 0.5 on base)" \
  "$(awk -v a="$m_gf" -v b="$m_peak" 'BEGIN{print a/b}')"
printf '%-52s %14s\n' "peak RSS medfm / PyTorch (MB)" "$m_rss / $t_rss"
