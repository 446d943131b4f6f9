#!/usr/bin/env bash
# scale.sh - ingest 1,000 and 10,000 patients (the Synthea set replicated under new ids) and
# report wall time, throughput and peak RSS, then time `inspect --patient` on the larger store.
# Usage: bench/scale.sh [N1 N2]   (default 1000 10000; needs ~12 GB of free disk in /tmp)
set -euo pipefail
cd "$(dirname "$0")/.."
n1=${1:-1000}; n2=${2:-10000}
data=${MEDFM_SHARED_DATA:-../shared/data}
tmp=${MEDFM_BENCH_TMP:-$(mktemp -d /tmp/medfm-bench-scale.XXXXXX)}
trap 'rm -rf "$tmp"' EXIT
mkdir -p "$tmp/src"
tar -C "$tmp/src" -xJf "$data/synthea-r4-dev.tar.xz"

rows=()
for n in "$n1" "$n2"; do
  rm -rf "$tmp/in"
  /usr/bin/python3 bench/replicate.py "$tmp/src" "$tmp/in" "$n"
  bytes=$(du -sb "$tmp/in" | cut -f1)
  # the default event buffer (64M), and a small one (16M) that both sizes overflow
  for mem in default 16M; do
    memopt=()
    [ "$mem" = default ] || memopt=(--mem "$mem")
    rm -rf "$tmp/store-$n"
    /usr/bin/time -f '%e %M' -o "$tmp/time" build/medfm ingest --format fhir --no-deid \
        "${memopt[@]}" --out "$tmp/store-$n" "$tmp/in" 2>"$tmp/log" || { cat "$tmp/log"; exit 1; }
    read -r secs kb <"$tmp/time"
    events=$(build/medfm inspect "$tmp/store-$n" --json | awk -F'[:,]' '/"events":/{gsub(/[ \t]/,"",$2); print $2; exit}')
    rows+=("$(printf '%-10s %8s %10s %10s %10s %10s %12s' "$n" "$mem" "$((bytes/1000000))" "$events" \
        "$secs" "$(awk -v b="$bytes" -v s="$secs" 'BEGIN{printf "%.0f", b/1e6/s}')" "$((kb/1024))")")
  done
done

# inspect --patient latency on the larger store: in process (open, find, format) for 500
# patients, and as whole processes for 50, beside /bin/true as the floor of starting a process.
shuf -n 500 --random-source=<(yes) "$tmp/ids.txt" >"$tmp/ids500.txt"
lookup=$(build/bench/patient_lookup "$tmp/store-$n2" "$tmp/ids500.txt")
ids=$(head -50 "$tmp/ids500.txt")
count=$(echo "$ids" | wc -w)
start=$(date +%s%N)
for id in $ids; do build/medfm inspect "$tmp/store-$n2" --patient "$id" --json >/dev/null; done
end=$(date +%s%N)
t0=$(date +%s%N)
for id in $ids; do /bin/true; done
t1=$(date +%s%N)

printf '\n%-10s %8s %10s %10s %10s %10s %12s\n' patients --mem MB events seconds MB/s "peak RSS MiB"
for r in "${rows[@]}"; do echo "$r"; done
printf '\ninspect --patient on the %s-patient store:\n' "$n2"
echo "  in process (open + find + format): $lookup"
printf '  whole process: %.2f ms per call; /bin/true: %.2f ms per call (mean of %s)\n' \
  "$(awk -v a="$start" -v b="$end" -v c="$count" 'BEGIN{print (b-a)/1e6/c}')" \
  "$(awk -v a="$t0" -v b="$t1" -v c="$count" 'BEGIN{print (b-a)/1e6/c}')" "$count"
