#!/usr/bin/env bash
# ingest.sh - FHIR ingest throughput against cJSON's bare parse of the same files, same run,
# same threads.  Usage: bench/ingest.sh [REPS]   (needs a built build/; uses ../shared/data)
# Prints one table: MB/s and events/s of `medfm ingest`, MB/s of the bare parse, their ratio.
set -euo pipefail
cd "$(dirname "$0")/.."
reps=${1:-3}
data=${MEDFM_SHARED_DATA:-../shared/data}
tmp=$(mktemp -d /tmp/medfm-bench-ingest.XXXXXX)
trap 'rm -rf "$tmp"' EXIT
tar -C "$tmp" -xJf "$data/synthea-r4-dev.tar.xz"
mkdir -p "$tmp/in" && mv "$tmp"/*.json "$tmp/in/"
cat "$tmp"/in/*.json >/dev/null   # warm the page cache for both contenders
threads=$(nproc)

"$(pwd)/build/medfm" deid keygen --out "$tmp/key" 2>/dev/null
best_parse=0; best_ingest=0; best_eps=0; best_deid=0
for r in $(seq "$reps"); do
  p=$(build/bench/cjson_parse --threads "$threads" "$tmp/in" | awk '{print $8}')
  line=$(build/medfm ingest --format fhir --no-deid --threads "$threads" --out "$tmp/store" "$tmp/in" 2>&1 | grep 'ingested')
  mbs=$(echo "$line" | sed -E 's/.*\(([0-9.]+) MB\/s, ([0-9]+) events\/s\).*/\1/')
  eps=$(echo "$line" | sed -E 's/.*\(([0-9.]+) MB\/s, ([0-9]+) events\/s\).*/\2/')
  dline=$(build/medfm ingest --format fhir --key-file "$tmp/key" --threads "$threads" --out "$tmp/dstore" "$tmp/in" 2>&1 | grep 'ingested')
  dmbs=$(echo "$dline" | sed -E 's/.*\(([0-9.]+) MB\/s, ([0-9]+) events\/s\).*/\1/')
  best_deid=$(awk -v a="$best_deid" -v b="$dmbs" 'BEGIN{print (b>a)?b:a}')
  echo "rep $r: cjson parse $p MB/s, medfm ingest $mbs MB/s ($eps events/s), de-identified $dmbs MB/s" >&2
  best_parse=$(awk -v a="$best_parse" -v b="$p" 'BEGIN{print (b>a)?b:a}')
  if awk -v a="$best_ingest" -v b="$mbs" 'BEGIN{exit !(b>a)}'; then best_ingest=$mbs; best_eps=$eps; fi
done
bytes=$(du -sb "$tmp/in" | cut -f1)
events=$(build/medfm inspect "$tmp/store" --json | awk -F'[:,]' '/"events":/{gsub(/[ \t]/,"",$2); print $2; exit}')
printf '\n%-34s %12s\n' "FHIR ingest, $(ls "$tmp/in" | wc -l) files, $((bytes/1000000)) MB, $threads threads" "best of $reps"
printf '%-34s %12s\n' "cJSON bare parse (MB/s)" "$best_parse"
printf '%-34s %12s\n' "medfm ingest end to end (MB/s)" "$best_ingest"
printf '%-34s %12s\n' "medfm ingest (events/s)" "$best_eps"
printf '%-34s %12s\n' "medfm ingest --key-file (MB/s)" "$best_deid"
printf '%-34s %12s\n' "events in store" "$events"
printf '%-34s %12s\n' "ratio ingest / bare parse" "$(awk -v a="$best_ingest" -v b="$best_parse" 'BEGIN{printf "%.2f", a/b}')"
