#!/usr/bin/env bash
# store_determinism.sh - the same input gives a byte-identical store whatever the number of
# threads and however often events spill to disk.
. "$(dirname "$0")/lib.bash"
unpack_synthea
"$MEDFM" ingest --quiet --format fhir --no-deid --threads 2 --out "$T/a" "$T/synthea"
"$MEDFM" ingest --quiet --format fhir --no-deid --threads 1 --mem 1M --out "$T/b" "$T/synthea"
"$MEDFM" ingest --quiet --format fhir --no-deid --threads 3 --mem 2M --out "$T/c" "$T/synthea"
diff -r "$T/a" "$T/b" >/dev/null || fail "stores from 2 threads and 1 thread differ"
diff -r "$T/a" "$T/c" >/dev/null || fail "stores from 2 threads and 3 threads differ"
[ "$(find "$T/a" -type f | wc -l)" -ge 12 ] || fail "store has too few files"
"$MEDFM" inspect "$T/a" --verify >/dev/null || fail "store does not verify"
echo "determinism: ok"
