#!/usr/bin/env bash
# label.sh - `medfm label` on real data: the MIMIC-IV demo's in-hospital mortality labels
# against admissions.hospital_expire_flag, and its length-of-stay and readmission labels
# (label_oracle.py, an independent reading of the CSVs), every shipped task (tasks/*.yaml) on the store it is meant for (MIMIC-IV demo and the
# Synthea set), the per-patient choice, --split, and bad input: a code test that matches
# nothing, malformed YAML, a missing store, windows that can never be satisfied, usage errors,
# and no output file (and no damage to an old one) after a failure.
. "$(dirname "$0")/lib.bash"
: "${MEDFM_SOURCE_DIR:?MEDFM_SOURCE_DIR must point at the source tree}"
: "${MEDFM_TEST_TOOLS:?MEDFM_TEST_TOOLS must point at the test tools}"
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
TASKS="$MEDFM_SOURCE_DIR/tasks"
DATA="$MEDFM_SHARED_DATA/mimic-iv-demo-2.2"
[ -d "$DATA/hosp" ] || fail "no MIMIC-IV demo at '$DATA'"

"$MEDFM" label --help | grep -q -- "--per-patient" || fail "label --help lacks --per-patient"
"$MEDFM" --help | grep -q "label" || fail "medfm --help lacks label"

"$MEDFM" ingest --format mimic-iv --no-deid --quiet --out "$T/mimic" "$DATA"
unpack_synthea
"$MEDFM" ingest --format fhir --no-deid --quiet --out "$T/syn" "$T/synthea"

# check_labels CSV: the MEDS label header, ISO times, true/false, at least one row
check_labels() {
  "$PYTHON" - "$1" <<'PY'
import csv, re, sys
rows = list(csv.reader(open(sys.argv[1], newline="")))
assert rows[0] == ["subject_id", "prediction_time", "boolean_value"], rows[0]
assert len(rows) > 1, "no samples"
for r in rows[1:]:
    assert len(r) == 3 and r[0], r
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z", r[1]), r
    assert r[2] in ("true", "false"), r
PY
}

# 1. in-hospital mortality on the MIMIC-IV demo equals hospital_expire_flag
"$MEDFM" label --store "$T/mimic" --task "$TASKS/mimic_inhospital_death.yaml" \
  --out "$T/death.csv" 2>"$T/err"
grep -q "samples from" "$T/err" || fail "no summary line"
cat "$T/err" >&2
check_labels "$T/death.csv"
"$PYTHON" "$HERE/label_oracle.py" --data "$DATA" --labels "$T/death.csv" \
  --task mimic_inhospital_death

# 2. every shipped task on the stores it is for
for f in "$TASKS"/*.yaml; do
  name=$(basename "$f" .yaml)
  case "$name" in
    mimic_*) stores="mimic" ;;
    *) stores="mimic syn" ;;
  esac
  for s in $stores; do
    "$MEDFM" label --store "$T/$s" --task "$f" --out "$T/$name-$s.csv" 2>"$T/err" ||
      { cat "$T/err" >&2; fail "$name on $s"; }
    check_labels "$T/$name-$s.csv" || fail "$name on $s: bad labels"
    echo "$s: $(cat "$T/err")" >&2
  done
done
# two more against the CSVs: length of stay and readmission
for name in mimic_long_stay readmission_30d; do
  "$PYTHON" "$HERE/label_oracle.py" --data "$DATA" --labels "$T/$name-mimic.csv" --task "$name"
done
# the MIMIC-only tasks refuse the Synthea store, naming the predicate
expect_exit 1 "$MEDFM" label --store "$T/syn" --task "$TASKS/mimic_long_stay.yaml" \
  --out "$T/no.csv"
grep -q "predicate 'admission' matches no code" "$T/err" || fail "wrong-source message: $(cat "$T/err")"
[ ! -e "$T/no.csv" ] || fail "a failed run left an output file"

# the same rows from one thread
OMP_NUM_THREADS=1 "$MEDFM" label --quiet --store "$T/syn" --task "$TASKS/death_1y.yaml" \
  --out "$T/one-thread.csv"
cmp -s "$T/one-thread.csv" "$T/death_1y-syn.csv" || fail "one thread gives other rows"

# 3. the per-patient choice: at most K per patient, a subset, the same for the same seed
for seed in 5 5 6; do
  "$MEDFM" label --quiet --store "$T/syn" --task "$TASKS/death_1y.yaml" --per-patient 2 \
    --seed "$seed" --out "$T/pp-$seed.csv"
done
"$PYTHON" - "$T/death_1y-syn.csv" "$T/pp-5.csv" "$T/pp-6.csv" <<'PY'
import collections, csv, sys
rows = lambda p: list(csv.reader(open(p, newline="")))[1:]
full, a, b = rows(sys.argv[1]), rows(sys.argv[2]), rows(sys.argv[3])
per = collections.Counter(r[0] for r in a)
assert max(per.values()) <= 2, per.most_common(1)
assert set(map(tuple, a)) <= set(map(tuple, full))
full_per = collections.Counter(r[0] for r in full)
assert len(a) == sum(min(2, n) for n in full_per.values())
assert a != b, "seeds 5 and 6 chose the same samples"
PY
"$MEDFM" label --quiet --store "$T/syn" --task "$TASKS/death_1y.yaml" --per-patient 2 \
  --seed 5 --out "$T/pp-5b.csv"
cmp -s "$T/pp-5.csv" "$T/pp-5b.csv" || fail "the per-patient choice is not deterministic"

# 4. --split: the three splits partition the samples of `all`
mkdir -p "$T/model"
"$MEDFM_TEST_TOOLS/vocab_fit" "$T/mimic" "$T/model" >/dev/null
for sp in train tuning held_out all; do
  "$MEDFM" label --quiet --store "$T/mimic" --task "$TASKS/death_1y.yaml" --model "$T/model" \
    --split "$sp" --out "$T/split-$sp.csv"
done
"$PYTHON" - "$T" <<'PY'
import csv, sys
rows = lambda s: [tuple(r) for r in list(csv.reader(open(sys.argv[1] + "/split-%s.csv" % s)))[1:]]
parts = [rows(s) for s in ("train", "tuning", "held_out")]
assert all(parts), [len(p) for p in parts]
assert sorted(sum(parts, [])) == sorted(rows("all"))
subj = [set(r[0] for r in p) for p in parts]
assert not (subj[0] & subj[1] or subj[0] & subj[2] or subj[1] & subj[2])
PY

# 5. bad input: exit codes, messages, and no output
echo keep >"$T/old.csv"
cat >"$T/unknown_code.yaml" <<'EOF'
predicates:
  admission: {code: {regex: "^HOSPITAL_ADMISSION/"}}
  nope: {code: NOPE/123}
trigger: admission
windows:
  w: {start: trigger, end: start + 1d, index_timestamp: start, label: nope}
EOF
expect_exit 1 "$MEDFM" label --store "$T/mimic" --task "$T/unknown_code.yaml" --out "$T/x.csv"
grep -q "unknown_code.yaml: predicates.nope: predicate 'nope' matches no code" "$T/err" ||
  fail "unknown code: $(cat "$T/err")"
[ ! -e "$T/x.csv" ] || fail "a failed run left an output file"
expect_exit 1 "$MEDFM" label --store "$T/mimic" --task "$T/unknown_code.yaml" --out "$T/old.csv"
[ "$(cat "$T/old.csv")" = keep ] || fail "a failed run damaged an existing output"

printf 'predicates:\n  a: {code: A}\ntrigger: [a\nwindows:\n' >"$T/malformed.yaml"
expect_exit 1 "$MEDFM" label --store "$T/mimic" --task "$T/malformed.yaml" --out "$T/x.csv"
grep -qE "malformed.yaml:[0-9]+:[0-9]+: malformed YAML" "$T/err" || fail "malformed: $(cat "$T/err")"
[ ! -e "$T/x.csv" ] || fail "a failed run left an output file"

cat >"$T/never.yaml" <<'EOF'
predicates:
  admission: {code: {regex: "^HOSPITAL_ADMISSION/"}}
trigger: admission
windows:
  input: {start: null, end: trigger, index_timestamp: end}
  target: {start: trigger, end: start - 1d}
EOF
expect_exit 1 "$MEDFM" label --store "$T/mimic" --task "$T/never.yaml" --out "$T/x.csv"
grep -q "never.yaml:6: windows.target.end:.*never be satisfied" "$T/err" ||
  fail "unsatisfiable: $(cat "$T/err")"

sed 's/gap.end/gapp.end/' "$TASKS/mimic_inhospital_death.yaml" >"$T/typo.yaml"
expect_exit 1 "$MEDFM" label --store "$T/mimic" --task "$T/typo.yaml" --out "$T/x.csv"
grep -q "windows.target.start: unknown window 'gapp'" "$T/err" || fail "typo: $(cat "$T/err")"

expect_exit 1 "$MEDFM" label --store "$T/no-such-store" --task "$TASKS/death_1y.yaml" \
  --out "$T/x.csv"
grep -q "no-such-store" "$T/err" || fail "missing store: $(cat "$T/err")"
expect_exit 1 "$MEDFM" label --store "$T/mimic" --task "$T/no-such-task.yaml" --out "$T/x.csv"
expect_exit 1 "$MEDFM" label --store "$T/mimic" --task "$TASKS/death_1y.yaml" \
  --model "$T/no-model" --split train --out "$T/x.csv"
expect_exit 2 "$MEDFM" label --store "$T/mimic" --task "$TASKS/death_1y.yaml" --split train \
  --out "$T/x.csv"
grep -q -- "--model" "$T/err" || fail "--split without --model: $(cat "$T/err")"
expect_exit 2 "$MEDFM" label --store "$T/mimic" --task "$TASKS/death_1y.yaml" --split test \
  --out "$T/x.csv"
expect_exit 2 "$MEDFM" label --store "$T/mimic" --out "$T/x.csv"
expect_exit 2 "$MEDFM" label --store "$T/mimic" --task "$TASKS/death_1y.yaml" --out "$T/x.csv" \
  --per-patient -1
expect_exit 2 "$MEDFM" label --store "$T/mimic" --task "$TASKS/death_1y.yaml" --out "$T/x.csv" \
  --seed x
[ ! -e "$T/x.csv" ] || fail "a failed run left an output file"
echo "label: ok"
