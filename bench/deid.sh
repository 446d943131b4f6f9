#!/usr/bin/env bash
# deid.sh - de-identification throughput, same run, same files, same threads:
#   FHIR: `medfm deid fhir` (parse, rules, text, print) against `medfm ingest --key-file` of the
#         same Synthea Bundles, each whole command by the wall clock (target: at least half of
#         ingest);
#   text: `medfm deid text --mode redact` on the synthetic cohort's notes, on one core and on
#         all cores (target: at least 10 MB/s on one core), against `wc -l` reading the same
#         bytes (the floor of reading the input).
# Usage: bench/deid.sh [REPS]   (needs a built build/; uses ../shared/data)
set -euo pipefail
cd "$(dirname "$0")/.."
reps=${1:-3}
data=${MEDFM_SHARED_DATA:-../shared/data}
medfm=$(pwd)/build/medfm
tmp=$(mktemp -d /tmp/medfm-bench-deid.XXXXXX)
trap 'rm -rf "$tmp"' EXIT
threads=$(nproc)
tar -C "$tmp" -xJf "$data/synthea-r4-dev.tar.xz"
mkdir -p "$tmp/in" && mv "$tmp"/*.json "$tmp/in/"
cat "$tmp"/in/*.json >/dev/null
"$medfm" deid keygen --out "$tmp/key" 2>/dev/null
bytes=$(du -sb "$tmp/in" | cut -f1)

# Both commands are timed the same way, whole process by the wall clock (start-up and loading
# the dictionaries, reading, writing, syncing to disk, swapping the output in), over the same
# input bytes: their own reports time different scopes.
wall() {
  local t0 t1
  t0=$(date +%s.%N)
  "$@" >/dev/null 2>&1
  t1=$(date +%s.%N)
  awk -v b="$bytes" -v a="$t0" -v c="$t1" 'BEGIN{printf "%.1f", b/1e6/(c-a)}'
}
best_ing=0
best_fhir=0
for r in $(seq "$reps"); do
  ing=$(wall "$medfm" ingest --format fhir --key-file "$tmp/key" --threads "$threads" \
    --out "$tmp/store" "$tmp/in")
  fh=$(wall "$medfm" deid fhir --key-file "$tmp/key" --threads "$threads" --out "$tmp/out" \
    "$tmp/in")
  echo "rep $r: ingest --key-file $ing MB/s, deid fhir $fh MB/s" >&2
  best_ing=$(awk -v a="$best_ing" -v b="$ing" 'BEGIN{print (b>a)?b:a}')
  best_fhir=$(awk -v a="$best_fhir" -v b="$fh" 'BEGIN{print (b>a)?b:a}')
done

# notes: every note of a synthetic cohort, decoded, one file
"$medfm" synth --quiet --patients 3000 --seed 9 --out "$tmp/cohort"
/usr/bin/python3 - "$tmp/cohort/DocumentReference.ndjson" "$tmp/notes.txt" <<'PY'
import base64, json, sys
with open(sys.argv[2], "w") as out:
    for line in open(sys.argv[1]):
        for c in json.loads(line)["content"]:
            out.write(base64.b64decode(c["attachment"]["data"]).decode() + "\n\n")
PY
nbytes=$(stat -c %s "$tmp/notes.txt")
best_one=0
best_wc=0
for r in $(seq "$reps"); do
  t0=$(date +%s.%N)
  taskset -c 0 "$medfm" deid text --mode redact "$tmp/notes.txt" >"$tmp/redacted.txt"
  t1=$(date +%s.%N)
  taskset -c 0 wc -l "$tmp/notes.txt" >/dev/null
  t2=$(date +%s.%N)
  one=$(awk -v b="$nbytes" -v a="$t0" -v c="$t1" 'BEGIN{printf "%.1f", b/1e6/(c-a)}')
  wc=$(awk -v b="$nbytes" -v a="$t1" -v c="$t2" 'BEGIN{printf "%.1f", b/1e6/(c-a)}')
  echo "rep $r: deid text, 1 core: $one MB/s (wc -l: $wc MB/s)" >&2
  best_one=$(awk -v a="$best_one" -v b="$one" 'BEGIN{print (b>a)?b:a}')
  best_wc=$(awk -v a="$best_wc" -v b="$wc" 'BEGIN{print (b>a)?b:a}')
done

printf '\n%-44s %12s\n' "Synthea, $(ls "$tmp/in" | wc -l) files, $((bytes / 1000000)) MB, $threads threads" "best of $reps"
printf '%-44s %12s\n' "medfm ingest --key-file (MB/s)" "$best_ing"
printf '%-44s %12s\n' "medfm deid fhir (MB/s)" "$best_fhir"
printf '%-44s %12s\n' "ratio deid fhir / ingest (target >= 0.5)" \
  "$(awk -v a="$best_fhir" -v b="$best_ing" 'BEGIN{printf "%.2f", a/b}')"
printf '%-44s %12s\n' "notes, $((nbytes / 1000000)) MB: deid text, 1 core (MB/s)" "$best_one"
printf '%-44s %12s\n' "wc -l on the same notes, 1 core (MB/s)" "$best_wc"
