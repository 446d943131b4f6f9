#!/usr/bin/env bash
# synth.sh - `medfm synth` throughput: patients/s and MB/s on 1 and 2 threads (the scaling),
# same seed, same machine, same run.  Usage: bench/synth.sh [PATIENTS]   (default 20000)
set -euo pipefail
cd "$(dirname "$0")/.."
n=${1:-20000}
tmp=$(mktemp -d "${MEDFM_BENCH_TMP:-/tmp}/medfm-bench-synth.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
printf '%-8s %10s %10s %12s %10s %10s %12s\n' threads patients seconds patients/s MB MB/s "peak RSS MiB"
for t in 1 2; do
  rm -rf "$tmp/out"
  /usr/bin/time -f '%M' -o "$tmp/rss" build/medfm synth --patients "$n" --seed 1 --threads "$t" \
      --out "$tmp/out" 2>"$tmp/log"
  line=$(grep simulated "$tmp/log")
  secs=$(echo "$line" | sed -E 's/.* in ([0-9.]+) s.*/\1/')
  mb=$(du -sm "$tmp/out" | cut -f1)
  printf '%-8s %10s %10s %12s %10s %10s %12s\n' "$t" "$n" "$secs" \
    "$(awk -v n="$n" -v s="$secs" 'BEGIN{printf "%.0f", n/s}')" "$mb" \
    "$(awk -v m="$mb" -v s="$secs" 'BEGIN{printf "%.1f", m/s}')" "$(( $(cat "$tmp/rss") / 1024 ))"
  [ "$t" = 1 ] && t1=$secs
done
printf '\nscaling 1 -> 2 threads: %.2fx\n' "$(awk -v a="$t1" -v b="$secs" 'BEGIN{print a/b}')"
