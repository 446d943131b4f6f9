#!/usr/bin/env bash
# train.sh - `medfm train` through the real binary on a small synthetic store: the model dir
# (files, training.json keys, safetensors header against config.json and vocab.json), exact
# resume (a run stopped at step N and resumed equals the uninterrupted run bit for bit: losses
# and weights), a kill that leaves the last checkpoint whole, Ctrl-C with a checkpoint, and bad
# input (no store, impossible shapes, a damaged checkpoint, a vocabulary of another model)
# that fails clearly and leaves the model dir as it was.
. "$(dirname "$0")/lib.bash"

expect_exit 0 "$MEDFM" train --help
grep -q -- "--resume" "$T/out" || fail "help does not list --resume"

"$MEDFM" synth --quiet --patients 120 --seed 3 --out "$T/cohort"
"$MEDFM" ingest --quiet --format ndjson --no-deid --out "$T/store" "$T/cohort"

args=(--store "$T/store" --preset tiny --steps 24 --batch 4 --threads 2 --seed 5 --lr 0.003
  --eval-every 6 --eval-windows 8 --quiet)

# --- a straight run: the model dir -------------------------------------------------------------
"$MEDFM" train "${args[@]}" --out "$T/m1"
for f in config.json vocab.json model.safetensors optimizer.bin training.json; do
  [ -s "$T/m1/$f" ] || fail "model dir lacks $f"
done
"$PYTHON" - "$T/m1" <<'PY' || fail "model dir contents"
import json, struct, sys, os
d = sys.argv[1]
t = json.load(open(os.path.join(d, "training.json")))
for k in ("steps", "vocab_size", "train_loss", "val_loss", "tokens_per_second", "seed",
          "store_manifest_sha256", "deid_config_sha256", "wall_seconds"):
    assert k in t, k
assert t["steps"] == 24, t["steps"]
assert [s for s, _ in t["train_loss"]] == list(range(1, 25)), "one training loss per step"
assert [s for s, _ in t["val_loss"]] == [6, 12, 18, 24], t["val_loss"]
assert all(l > 0 for _, l in t["train_loss"] + t["val_loss"])
assert t["tokens_per_second"] > 0
cfg = json.load(open(os.path.join(d, "config.json")))
voc = json.load(open(os.path.join(d, "vocab.json")))
V = len(voc["tokens"])
assert t["vocab_size"] == V == cfg["vocab"], (t["vocab_size"], V, cfg["vocab"])
raw = open(os.path.join(d, "model.safetensors"), "rb").read()
n = struct.unpack("<Q", raw[:8])[0]
hdr = json.loads(raw[8:8 + n])
emb = hdr["tok_embeddings.weight"]
assert emb["dtype"] == "F32" and emb["shape"] == [V, cfg["dim"]], emb
data = len(raw) - 8 - n
assert max(v["data_offsets"][1] for k, v in hdr.items() if k != "__metadata__") == data
PY

# --- exact resume: stop at 12, resume to 24 == straight 24 ------------------------------------
"$MEDFM" train "${args[@]}" --out "$T/m2" --stop-at 12
"$PYTHON" -c 'import json,sys; t=json.load(open(sys.argv[1])); assert t["steps"]==12, t["steps"]' \
  "$T/m2/training.json" || fail "--stop-at 12 did not stop at 12"
"$MEDFM" train --store "$T/store" --out "$T/m2" --resume --threads 2 --quiet
cmp -s "$T/m1/model.safetensors" "$T/m2/model.safetensors" ||
  fail "resumed weights differ from the uninterrupted run"
cmp -s "$T/m1/optimizer.bin" "$T/m2/optimizer.bin" || fail "resumed optimizer state differs"
"$PYTHON" - "$T/m1/training.json" "$T/m2/training.json" <<'PY' || fail "resumed losses differ"
import json, sys
a, b = (json.load(open(p)) for p in sys.argv[1:])
assert a["train_loss"] == b["train_loss"], "train_loss"
assert a["val_loss"] == b["val_loss"], "val_loss"
PY

# --- exact resume after kill -9: the last checkpoint, resumed, equals the straight run ---------
kargs=(--store "$T/store" --preset tiny --steps 150 --batch 32 --threads 2 --seed 7
  --eval-every 50 --eval-windows 8 --quiet)
"$MEDFM" train "${kargs[@]}" --out "$T/k1"
"$MEDFM" train "${kargs[@]}" --out "$T/k2" --checkpoint-every 5 &
pid=$!
for _ in $(seq 600); do
  [ -s "$T/k2/training.json" ] && break
  sleep 0.05
done
sleep 0.3
kill -9 "$pid" 2>/dev/null || true
wait "$pid" 2>/dev/null || true
killed_at=$("$PYTHON" -c 'import json,sys; print(json.load(open(sys.argv[1]))["steps"])' \
  "$T/k2/training.json")
[ "$killed_at" -lt 150 ] || fail "the kill came after the run ended: make the run longer"
"$MEDFM" train --store "$T/store" --out "$T/k2" --resume --threads 2 --quiet
cmp -s "$T/k1/model.safetensors" "$T/k2/model.safetensors" ||
  fail "killed at step $killed_at and resumed: weights differ from the straight run"
"$PYTHON" - "$T/k1/training.json" "$T/k2/training.json" <<'PY' || fail "losses differ after kill"
import json, sys
a, b = (json.load(open(p)) for p in sys.argv[1:])
assert a["train_loss"] == b["train_loss"] and a["val_loss"] == b["val_loss"]
PY

# --- a kill leaves the last checkpoint whole; Ctrl-C checkpoints ------------------------------
"$MEDFM" train "${args[@]}" --steps 100000 --checkpoint-every 3 --out "$T/m3" &
pid=$!
for _ in $(seq 600); do
  [ -s "$T/m3/training.json" ] && break
  sleep 0.1
done
sleep 0.3
kill -9 "$pid" 2>/dev/null || true
wait "$pid" 2>/dev/null || true
for f in config.json vocab.json model.safetensors optimizer.bin training.json; do
  [ -s "$T/m3/$f" ] || fail "after a kill the model dir lacks $f"
done
"$MEDFM" train --store "$T/store" --out "$T/m3" --resume --stop-at 9 --threads 2 --quiet ||
  fail "cannot resume after a kill"

"$MEDFM" train --store "$T/store" --preset tiny --steps 100000 --batch 4 --threads 2 \
  --out "$T/m4" --log-every 1 2>"$T/m4.err" &
pid=$!
for _ in $(seq 600); do
  grep -q "step 2/" "$T/m4.err" 2>/dev/null && break
  sleep 0.1
done
kill -INT "$pid"
set +e
wait "$pid"
rc=$?
set -e
[ "$rc" -eq 130 ] || fail "Ctrl-C should exit 130, got $rc"
"$PYTHON" -c 'import json,sys; t=json.load(open(sys.argv[1])); assert 2 <= t["steps"] < 100000' \
  "$T/m4/training.json" || fail "Ctrl-C left no checkpoint"

# --- bad input: clear errors, nothing overwritten ----------------------------------------------
expect_exit 1 "$MEDFM" train --store "$T/nostore" --out "$T/m5" --preset tiny --steps 2
[ ! -e "$T/m5" ] || fail "a failed run created a model dir"
cat >"$T/bad.json" <<'JSON'
{"architecture":"medfm-decoder","version":1,"vocab":1,"dim":30,"layers":1,"heads":4,"hidden":64,"context":32,"tied":true,"rope_theta":10000,"norm_eps":1e-5}
JSON
expect_exit 1 "$MEDFM" train --store "$T/store" --out "$T/m5" --config "$T/bad.json" --steps 2
grep -qi "heads\|dim" "$T/err" || fail "impossible shapes: the error does not name the field"
[ ! -e "$T/m5" ] || fail "impossible shapes created a model dir"
expect_exit 2 "$MEDFM" train --store "$T/store" --out "$T/m5" --preset nosuch
expect_exit 2 "$MEDFM" train --store "$T/store" --out "$T/m5" --steps 0

cp -a "$T/m1" "$T/m6"
head -c 1000 "$T/m1/model.safetensors" >"$T/m6/model.safetensors"
sum_before=$(cat "$T"/m6/* | sha256sum)
expect_exit 1 "$MEDFM" train --store "$T/store" --out "$T/m6" --resume --steps 30 --quiet
grep -q "model.safetensors" "$T/err" || fail "a truncated checkpoint: the error does not name it"
[ "$(cat "$T"/m6/* | sha256sum)" = "$sum_before" ] || fail "a failed resume changed the model dir"

cp -a "$T/m1" "$T/m7"
"$PYTHON" - "$T/m7/vocab.json" <<'PY'
import json, sys
v = json.load(open(sys.argv[1]))
v["tokens"] = v["tokens"][:-3]
json.dump(v, open(sys.argv[1], "w"))
PY
expect_exit 1 "$MEDFM" train --store "$T/store" --out "$T/m7" --resume --steps 30 --quiet
grep -qi "vocab" "$T/err" || fail "a vocabulary of another size: the error does not say so"
echo "train: ok"
