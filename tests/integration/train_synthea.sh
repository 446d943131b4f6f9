#!/usr/bin/env bash
# labels: slow
# train_synthea.sh - the model learns: on the Synthea set (de-identified ingest), `medfm train`
# (small preset, context 128, 300 steps) brings the validation loss well below both count-based
# baselines it reports, the unigram and the bigram model of the training tokens, on the same
# validation windows.
. "$(dirname "$0")/lib.bash"

if [ ! -f "$MEDFM_SHARED_DATA/synthea-r4-dev.tar.xz" ]; then
  echo "train_synthea: Synthea set not found: skipped" >&2
  exit 0
fi
unpack_synthea
"$MEDFM" deid keygen --out "$T/key" 2>/dev/null
"$MEDFM" ingest --quiet --format fhir --key-file "$T/key" --out "$T/store" "$T/synthea"
"$MEDFM" train --store "$T/store" --out "$T/model" --preset small --context 128 --steps 300 \
  --batch 8 --eval-every 100 --eval-windows 32 --quiet

"$PYTHON" - "$T/model/training.json" <<'PY' || fail "validation loss not well below the baselines"
import json, sys
t = json.load(open(sys.argv[1]))
uni, bi = t["baselines"]["unigram_val_loss"], t["baselines"]["bigram_val_loss"]
val = t["val_loss"][-1][1]
first = t["train_loss"][0][1]
print(f"train_synthea: validation {val:.4f}, bigram {bi:.4f}, unigram {uni:.4f}, "
      f"first training loss {first:.4f}")
assert bi < uni
assert val < 0.75 * bi, (val, bi)
assert val < 0.5 * uni, (val, uni)
assert val < first / 3
PY
echo "train_synthea: ok"
