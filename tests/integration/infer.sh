#!/usr/bin/env bash
# infer.sh - the inference verbs through the real binary on a small synthetic cohort and a tiny
# model: simulate (futures, stops, horizon, what-if arms, determinism, JSON), predict (zero-shot
# risks with intervals, the label column, determinism), embed (raw float32 + index), probe and
# predict --probe; and bad input (an unknown patient, a time outside the record, an unknown
# intervention code, a store whose codes the model never saw, bad options) failing clearly with
# no output left behind.
. "$(dirname "$0")/lib.bash"

for verb in simulate predict embed probe; do
  expect_exit 0 "$MEDFM" "$verb" --help
  grep -q -- "--model" "$T/out" || fail "$verb --help does not list --model"
done

"$MEDFM" synth --quiet --patients 200 --seed 4 --out "$T/cohort"
"$MEDFM" ingest --quiet --format ndjson --no-deid --out "$T/store" "$T/cohort"
"$MEDFM" train --store "$T/store" --preset tiny --steps 40 --batch 8 --threads 2 --seed 5 \
  --lr 0.01 --eval-every 40 --eval-windows 8 --quiet --out "$T/model"

# the patient with the most events (read from the store's files: see docs/event-store.md)
pid=$("$PYTHON" - "$T/store" <<'PY'
import struct, sys
d = sys.argv[1] + "/shard-00000/"
off = open(d + "subjects.off", "rb").read()
n = len(off) // 8 - 1
offs = struct.unpack("<%dQ" % (n + 1), off)
idx = struct.unpack("<%dQ" % (n + 1), open(d + "subjects.idx", "rb").read())
names = open(d + "subjects.bin", "rb").read()
best = max(range(n), key=lambda i: idx[i + 1] - idx[i])
print(names[offs[best]:offs[best + 1]].decode())
PY
)
[ -n "$pid" ] || fail "no patient id found"
"$MEDFM" tokenize --model "$T/model" --store "$T/store" --patient "$pid" --json >"$T/tok.json"
read -r first last < <("$PYTHON" - "$T/tok.json" <<'PY'
import json, sys
d = json.load(open(sys.argv[1]))
times = [t["time"] for t in d["tokens"] if t["time"]]
print(times[0], times[-1])
PY
)

# --- simulate ---------------------------------------------------------------------------------
sim=(--model "$T/model" --store "$T/store" --patient "$pid" --samples 6 --horizon 1y --seed 3)
"$MEDFM" simulate "${sim[@]}" --json >"$T/s1.json"
"$MEDFM" simulate "${sim[@]}" --json >"$T/s2.json"
cmp -s "$T/s1.json" "$T/s2.json" || fail "simulate is not deterministic for a seed"
"$MEDFM" simulate "${sim[@]}" --json --seed 4 >"$T/s3.json"
cmp -s "$T/s1.json" "$T/s3.json" && fail "another seed gave the same futures"
code=$("$PYTHON" - "$T/model/vocab.json" <<'PY'
import json, sys
v = json.load(open(sys.argv[1]))
codes = [t["text"] for t in v["tokens"] if t["kind"] == "code" and t["text"].startswith("RxNorm/")]
print(codes[0])
PY
)
"$MEDFM" simulate "${sim[@]}" --json --intervention "$code" --task \
  "$MEDFM_SOURCE_DIR/tasks/death_1y.yaml" >"$T/s4.json"
"$PYTHON" - "$T/s1.json" "$T/s4.json" "$code" <<'PY' || fail "simulate JSON"
import json, sys
from datetime import datetime, timedelta
s1, s4 = json.load(open(sys.argv[1])), json.load(open(sys.argv[2]))
code = sys.argv[3]
assert len(s1["arms"]) == 1 and s1["arms"][0]["intervention"] is None
assert len(s4["arms"]) == 2 and s4["arms"][1]["intervention"] == code
assert "not causal" in s4["note"] or "not causal" in s4["note"].replace("not\n", "not ")
at = datetime.fromisoformat(s1["at"].replace("Z", "+00:00"))
for arm in s1["arms"] + s4["arms"]:
    assert len(arm["futures"]) == 6
    for f in arm["futures"]:
        assert f["stop"] in ("death", "timeline_end", "horizon", "length"), f["stop"]
        times = [datetime.fromisoformat(e["time"].replace("Z", "+00:00")) for e in f["events"]]
        assert times == sorted(times), "event times go backwards"
        # every event but a horizon-crossing one lies within the horizon (time tokens are lower
        # bounds, so nothing is placed after at + 1 year)
        assert all(t >= at and t <= at + timedelta(days=366) for t in times), (at, times[-1:])
        if f["stop"] == "death":
            assert f["events"][-1]["code"] == "MEDS_DEATH"
    for name, o in arm["outcomes"].items():
        assert 0 <= o["ci_low"] <= o["frequency"] <= o["ci_high"] <= 1, (name, o)
t = s4["arms"][0]["task"]
assert t["name"] == "death_1y" and t["decided"] <= 6 and 0 <= t["positive"] <= t["decided"]
assert "difference" in s4["arms"][1]["task"]
# the first arm of the what-if run is the plain run (same seed, same streams)
assert s4["arms"][0]["futures"] == s1["arms"][0]["futures"]
PY
"$MEDFM" simulate "${sim[@]}" --intervention "$code" >"$T/s.txt"
grep -q "not causal" "$T/s.txt" || fail "the text output does not say what-if is not causal"
"$MEDFM" simulate "${sim[@]}" --at "$first" --json >/dev/null

expect_exit 1 "$MEDFM" simulate --model "$T/model" --store "$T/store" --patient no-such-patient
grep -q "no patient" "$T/err" || fail "unknown patient error"
expect_exit 1 "$MEDFM" simulate "${sim[@]}" --at 1900-01-01T00:00:00Z
grep -q "outside the patient's record" "$T/err" || fail "time outside the record"
# a patient who died: no futures from the death on
read -r dead death_at < <("$PYTHON" - "$T/store" <<'PY'
import array, datetime, struct, sys
d = sys.argv[1]
offs = array.array("Q", open(d + "/codes.off", "rb").read())
names = open(d + "/codes.bin", "rb").read()
codes = [names[offs[i]:offs[i + 1]].decode() for i in range(len(offs) - 1)]
death = codes.index("MEDS_DEATH")
s = d + "/shard-00000/"
idx = array.array("Q", open(s + "subjects.idx", "rb").read())
so = array.array("Q", open(s + "subjects.off", "rb").read())
sb = open(s + "subjects.bin", "rb").read()
code = array.array("I", open(s + "code.u32", "rb").read())
time = array.array("q", open(s + "time.i64", "rb").read())
for p in range(len(idx) - 1):
    for e in range(idx[p], idx[p + 1]):
        if code[e] == death:
            t = datetime.datetime(1970, 1, 1) + datetime.timedelta(microseconds=time[e])
            print(sb[so[p]:so[p + 1]].decode(), t.strftime("%Y-%m-%dT%H:%M:%S.%fZ"))
            sys.exit(0)
PY
)
[ -n "$dead" ] || fail "the cohort has no death"
expect_exit 1 "$MEDFM" simulate --model "$T/model" --store "$T/store" --patient "$dead" --at "$death_at"
grep -q "after the patient's recorded death" "$T/err" || fail "a time at the death"
"$MEDFM" simulate --model "$T/model" --store "$T/store" --patient "$dead" --samples 2 --json \
  >"$T/dead.json"
expect_exit 1 "$MEDFM" simulate "${sim[@]}" --intervention NOT/A-CODE
grep -q "not a code" "$T/err" || fail "unknown intervention"
expect_exit 2 "$MEDFM" simulate "${sim[@]}" --horizon forever
expect_exit 2 "$MEDFM" simulate "${sim[@]}" --top-p 1.5
expect_exit 2 "$MEDFM" simulate "${sim[@]}" --at yesterday

# --- predict ----------------------------------------------------------------------------------
task="$MEDFM_SOURCE_DIR/tasks/death_1y.yaml"
pred=(--model "$T/model" --store "$T/store" --task "$task" --samples 5 --split all --limit 8)
"$MEDFM" predict "${pred[@]}" --out "$T/p1.csv"
"$MEDFM" predict "${pred[@]}" --out "$T/p2.csv"
cmp -s "$T/p1.csv" "$T/p2.csv" || fail "predict is not deterministic"
"$MEDFM" label --store "$T/store" --task "$task" --per-patient 1 --seed 1 --out "$T/labels.csv"
"$PYTHON" - "$T/p1.csv" "$T/labels.csv" <<'PY' || fail "PRED.csv"
import csv, sys
rows = list(csv.DictReader(open(sys.argv[1])))
assert list(rows[0].keys()) == ["subject_id", "prediction_time", "probability", "ci_low",
                                "ci_high", "label"], list(rows[0].keys())
assert len(rows) == 8, len(rows)
labels = {(r["subject_id"], r["prediction_time"]): r["boolean_value"]
          for r in csv.DictReader(open(sys.argv[2]))}
for r in rows:
    if r["probability"] != "":
        p, lo, hi = float(r["probability"]), float(r["ci_low"]), float(r["ci_high"])
        assert 0 <= lo <= p <= hi <= 1, r
        # a share of at most 5 futures (6 significant digits in the file)
        assert any(abs(p * d - round(p * d)) < 1e-5 for d in range(1, 6)), r
    key = (r["subject_id"], r["prediction_time"])
    assert key in labels, key
    want = {"true": "1", "false": "0"}[labels[key]]
    assert r["label"] == want, (r["label"], want)
PY
expect_exit 2 "$MEDFM" predict "${pred[@]}" --out "$T/p3.csv" --split nowhere
expect_exit 1 "$MEDFM" predict "${pred[@]}" --task "$T/missing.yaml" --out "$T/p3.csv"
[ ! -e "$T/p3.csv" ] || fail "a failed predict left output"

# --- embed, probe, predict --probe ------------------------------------------------------------
"$MEDFM" embed --model "$T/model" --store "$T/store" --out "$T/emb.f32"
"$PYTHON" - "$T/emb.f32" "$T/emb.csv" "$T/model/config.json" <<'PY' || fail "embed output"
import csv, json, struct, sys, math
dim = json.load(open(sys.argv[3]))["dim"]
raw = open(sys.argv[1], "rb").read()
rows = list(csv.DictReader(open(sys.argv[2])))
assert len(raw) == len(rows) * dim * 4, (len(raw), len(rows), dim)
assert len(rows) == 200, len(rows)
v = struct.unpack("<%df" % (len(raw) // 4), raw)
assert all(math.isfinite(x) for x in v)
assert len({v[i * dim] for i in range(len(rows))}) > 1, "every embedding is the same"
PY
cat >"$T/checkup.yaml" <<'EOF'
# a common outcome, so that a probe has positives to learn from
predicates:
  encounter:
    code: {regex: "^ENCOUNTER/"}
  checkup:
    code: SNOMED/185349003
trigger: encounter
windows:
  input:
    start: null
    end: trigger
    start_inclusive: true
    end_inclusive: true
    index_timestamp: end
  target:
    start: trigger
    end: start + 90 days
    start_inclusive: false
    end_inclusive: true
    label: checkup
EOF
"$MEDFM" embed --model "$T/model" --store "$T/store" --at-task "$T/checkup.yaml" --out "$T/e2.f32" \
  --index "$T/e2.csv"
[ -s "$T/e2.csv" ] || fail "embed --at-task index"
"$MEDFM" probe --model "$T/model" --store "$T/store" --task "$T/checkup.yaml" --out "$T/probe"
[ -s "$T/probe/probe.json" ] || fail "probe.json"
"$MEDFM" probe --model "$T/model" --store "$T/store" --task "$T/checkup.yaml" --shots 4 \
  --out "$T/probe4"
"$MEDFM" predict --model "$T/model" --store "$T/store" --task "$T/checkup.yaml" --probe "$T/probe" \
  --out "$T/pp.csv"
"$PYTHON" - "$T/pp.csv" <<'PY' || fail "predict --probe"
import csv, sys
rows = list(csv.DictReader(open(sys.argv[1])))
assert rows, "no held-out predictions"
for r in rows:
    assert 0 < float(r["probability"]) < 1 and r["ci_low"] == "" and r["ci_high"] == "", r
PY

# --- a store from a source the model never saw -------------------------------------------------
"$MEDFM" ingest --quiet --format mimic --no-deid --out "$T/mimic" "$MEDFM_SHARED_DATA/mimic-iv-demo-2.2"
mpid=$("$PYTHON" -c '
import csv, gzip, sys
r = csv.DictReader(gzip.open(sys.argv[1], "rt"))
print(next(r)["subject_id"])' "$MEDFM_SHARED_DATA/mimic-iv-demo-2.2/hosp/patients.csv.gz")
expect_exit 1 "$MEDFM" simulate --model "$T/model" --store "$T/mimic" --patient "$mpid"
grep -q "different vocabularies" "$T/err" || fail "vocabulary mismatch error"
expect_exit 1 "$MEDFM" predict --model "$T/model" --store "$T/mimic" --task "$task" --out "$T/p4.csv"
[ ! -e "$T/p4.csv" ] || fail "a failed predict left output"
echo "ok"
