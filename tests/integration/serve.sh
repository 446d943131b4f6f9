#!/usr/bin/env bash
# serve.sh - `medfm serve` through the real binary: every route, every authentication failure,
# CDS Hooks with signed JWTs, rate limits, queue overflow, feedback idempotency, the audit log
# (verification and a tampered row), TLS, and SIGTERM while requests are in flight.  The checks
# are in serve_test.py; this script makes the model, the keys and the certificates.
. "$(dirname "$0")/lib.bash"

expect_exit 0 "$MEDFM" serve --help
grep -q -- "--model" "$T/out" || fail "serve --help does not list --model"
expect_exit 2 "$MEDFM" serve
expect_exit 2 "$MEDFM" serve --model "$T/nothing" --workers -1

"$MEDFM" synth --quiet --patients 120 --seed 4 --out "$T/cohort"
"$MEDFM" ingest --quiet --format ndjson --no-deid --out "$T/store" "$T/cohort"
"$MEDFM" train --store "$T/store" --preset tiny --steps 30 --batch 8 --threads 2 --seed 5 \
  --lr 0.01 --eval-every 30 --eval-windows 4 --quiet --out "$T/model"
expect_exit 1 "$MEDFM" serve --model "$T/nothing" --db "$T/x.sqlite" --listen 127.0.0.1:0
expect_exit 1 "$MEDFM" serve --model "$T/model" --db "$T/x.sqlite" --listen nowhere

"$PYTHON" "$(dirname "$0")/jwt_tool.py" keys "$T/jwt"
cat >"$T/jwt/config.json" <<JSON
{"issuers": [{"iss": "https://ehr.example.org", "jwks_file": "jwks.json"}]}
JSON

OMP_NUM_THREADS=1 "$PYTHON" "$(dirname "$0")/serve_test.py" "$MEDFM" "$T" \
  "$(dirname "$0")/jwt_tool.py" "$MEDFM_SHARED_DATA"
