#!/usr/bin/env bash
# store_atomicity.sh - an ingest killed at any moment leaves either no store (first run) or the
# previous store exactly as it was (re-run), never a half store; a later run cleans up.
. "$(dirname "$0")/lib.bash"
unpack_synthea
# a first, complete store to protect
"$MEDFM" ingest --quiet --format fhir --no-deid --out "$T/keep" "$T/synthea"
sha=$(sha256sum "$T/keep/manifest.json" | cut -d' ' -f1)
killed=0
for delay in 0.05 0.1 0.15 0.2 0.3 0.4 0.6; do
  # fresh destination
  "$MEDFM" ingest --quiet --format fhir --no-deid --threads 2 --mem 1M --out "$T/fresh" \
      "$T/synthea" & pid=$!
  # replacing destination
  "$MEDFM" ingest --quiet --format fhir --no-deid --threads 1 --mem 1M --out "$T/keep" \
      "$T/synthea" & pid2=$!
  sleep "$delay"
  kill -9 "$pid" "$pid2" 2>/dev/null && killed=$((killed + 1)) || true
  wait "$pid" 2>/dev/null || true
  wait "$pid2" 2>/dev/null || true
  if [ -e "$T/fresh" ]; then
    # the run finished before the kill: it must be whole
    "$MEDFM" inspect "$T/fresh" --verify >/dev/null || fail "half store after kill at ${delay}s"
    rm -rf "$T/fresh"
  fi
  "$MEDFM" inspect "$T/keep" --verify >/dev/null || fail "previous store damaged at ${delay}s"
  [ "$(sha256sum "$T/keep/manifest.json" | cut -d' ' -f1)" = "$sha" ] ||
    fail "previous store changed at ${delay}s"
done
[ "$killed" -gt 0 ] || fail "no run was killed mid-way; the test proved nothing"
# leftovers of killed runs are temporary folders only, removed by the next run
"$MEDFM" ingest --quiet --format fhir --no-deid --out "$T/keep" "$T/synthea"
"$MEDFM" ingest --quiet --format fhir --no-deid --out "$T/fresh" "$T/synthea"
left=$(find "$T" -maxdepth 1 -name '*.tmp-*' | wc -l)
[ "$left" -eq 0 ] || { ls "$T"; fail "temporary folders left after a clean run"; }
echo "atomicity: ok ($killed runs killed)"
