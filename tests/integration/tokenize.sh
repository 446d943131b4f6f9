#!/usr/bin/env bash
# tokenize.sh - `medfm tokenize` on a synthetic cohort: a vocabulary fitted with the test tool
# vocab_fit, one patient's tokens checked in Python (prefix first, TIMELINE_END last, times in
# order, every token in vocab.json), and bad input (missing or damaged vocab.json, an unknown
# patient, a missing store) failing cleanly.
. "$(dirname "$0")/lib.bash"
: "${MEDFM_TEST_TOOLS:?MEDFM_TEST_TOOLS must point at the test tools}"
FIT="$MEDFM_TEST_TOOLS/vocab_fit"

"$MEDFM" synth --quiet --patients 60 --seed 3 --out "$T/cohort"
"$MEDFM" ingest --quiet --format ndjson --no-deid --out "$T/store" "$T/cohort"
mkdir -p "$T/model"
"$FIT" "$T/store" "$T/model" >/dev/null
[ -s "$T/model/vocab.json" ] || fail "vocab_fit wrote no vocab.json"
# fitting twice gives the same bytes
"$FIT" "$T/store" "$T/model2" >/dev/null
cmp -s "$T/model/vocab.json" "$T/model2/vocab.json" || fail "vocab.json is not deterministic"

"$MEDFM" tokenize --help | grep -q -- "--patient" || fail "tokenize --help lacks --patient"
"$MEDFM" --help | grep -q "tokenize" || fail "medfm --help lacks tokenize"

# every patient of the synthetic export (ids are kept: --no-deid)
"$PYTHON" - "$T/cohort/Patient.ndjson" >"$T/ids.txt" <<'PY'
import json, sys
for line in open(sys.argv[1]):
    print(json.loads(line)["id"])
PY
n=0
while read -r id; do
  "$MEDFM" tokenize --model "$T/model" --store "$T/store" --patient "$id" --json >"$T/tok-$n.json"
  n=$((n + 1))
  [ "$n" -lt 8 ] || break
done <"$T/ids.txt"
id=$(head -n1 "$T/ids.txt")

"$PYTHON" - "$T" "$n" <<'PY'
import glob, json, os, sys
T, n = sys.argv[1], int(sys.argv[2])
vocab = json.load(open(os.path.join(T, "model", "vocab.json")))
toks = vocab["tokens"]
assert [t["id"] for t in toks] == list(range(len(toks))), "token ids are not positions"
assert toks[0]["text"] == "TIMELINE_END" and toks[1]["text"] == "UNK"
by_text = {t["text"]: t for t in toks}
assert len(by_text) == len(toks), "duplicate token texts"
kinds = ["special", "prefix", "time", "quantile", "code"]
order = [kinds.index(t["kind"]) for t in toks]
assert order == sorted(order), "token kinds out of order"
codes = [t["text"] for t in toks if t["kind"] == "code"]
assert codes == sorted(codes, key=lambda s: s.encode()), "code tokens not sorted"
assert "MEDS_DEATH" in by_text and "MEDS_BIRTH" not in by_text
assert not any(t.startswith("ZIP3/") for t in by_text), "ZIP3 must not be a token"
assert not any(t.startswith("RACE/") for t in by_text), "race without use_race"
for t in toks:
    if "cuts" in t:
        c = t["cuts"]
        assert len(c) == 9 and c == sorted(c), t["text"]
assert sum(vocab["fit"]["patients"].values()) == 60
with_q = 0
for i in range(n):
    out = json.load(open(os.path.join(T, "tok-%d.json" % i)))
    ts = out["tokens"]
    assert not out["truncated"]
    npre = out["n_prefix"]
    assert npre >= 1 and all(t["prefix"] for t in ts[:npre]), "prefix not first"
    assert not any(t["prefix"] for t in ts[npre:])
    assert ts[0]["token"].startswith("GENDER/"), ts[0]
    if out["age_at_first_event"] is not None:
        assert ts[1]["token"].startswith("AGE/"), ts[1]
        age = out["age_at_first_event"]
        band = "AGE/90+" if age >= 90 else "AGE/%d-%d" % (age // 5 * 5, age // 5 * 5 + 4)
        assert ts[1]["token"] == band, (ts[1], age)
    assert ts[-1]["token"] == "TIMELINE_END", "TIMELINE_END is not last"
    assert all(t["token"] != "TIMELINE_END" for t in ts[:-1])
    body = ts[npre:]
    assert len(body) == out["n_body"]
    times = [t["time"] for t in body]
    assert all(t is not None for t in times)
    assert times == sorted(times), "times decrease"  # ISO 8601 UTC sorts as text here
    assert all(t.endswith("Z") for t in times)
    if body:
        assert out["first_event"] == body[0]["time"]
    for t in ts:
        v = by_text.get(t["token"])
        assert v is not None, "token not in vocab.json"
        assert v["id"] == t["id"] and v["kind"] == t["kind"]
    assert not any(t["token"] in ("MEDS_BIRTH",) or t["token"].startswith("ZIP3/") for t in ts)
    with_q += sum(t["kind"] == "quantile" for t in ts)
assert with_q > 0, "no decile tokens at all"
print("checked %d patients" % n)
PY

# --limit, text output
"$MEDFM" tokenize --model "$T/model" --store "$T/store" --patient "$id" --limit 5 >"$T/text.txt"
grep -q "(prefix)" "$T/text.txt" || fail "text output lacks the prefix"
grep -q "more tokens" "$T/text.txt" || fail "--limit did not truncate"
"$MEDFM" tokenize --model "$T/model" --store "$T/store" --patient "$id" --json --limit 0 >"$T/l0.json"
"$PYTHON" -c 'import json,sys; d=json.load(open(sys.argv[1])); assert d["truncated"] and all(t["prefix"] for t in d["tokens"])' "$T/l0.json"

# bad input: clear messages, no crash, no patient id echoed
check_err() { # pattern
  grep -q "$1" "$T/err" || { cat "$T/err" >&2; fail "expected '$1' in the error"; }
  if grep -q -e "Traceback" -e "Sanitizer" -e "Segmentation" "$T/err"; then fail "crash"; fi
}
mkdir -p "$T/empty"
expect_exit 1 "$MEDFM" tokenize --model "$T/empty" --store "$T/store" --patient "$id"
check_err "vocab.json"
cp "$T/model/vocab.json" "$T/damaged.json"
mkdir -p "$T/bad"
sed 's/"kind": "time", "duration_us": 300000000/"kind": "time", "duration_us": "x"/' \
  "$T/damaged.json" >"$T/bad/vocab.json"
expect_exit 1 "$MEDFM" tokenize --model "$T/bad" --store "$T/store" --patient "$id"
check_err "bad/vocab.json.*duration_us"
head -c 300 "$T/model/vocab.json" >"$T/bad/vocab.json"
expect_exit 1 "$MEDFM" tokenize --model "$T/bad" --store "$T/store" --patient "$id"
check_err "not valid JSON"
expect_exit 1 "$MEDFM" tokenize --model "$T/model" --store "$T/store" --patient "no-such-patient-4711"
check_err "no patient with that id in the store"
if grep -q "no-such-patient-4711" "$T/err"; then fail "the error echoes the patient id"; fi
expect_exit 1 "$MEDFM" tokenize --model "$T/model" --store "$T/nostore" --patient "$id"
check_err "nostore"
expect_exit 2 "$MEDFM" tokenize --model "$T/model" --store "$T/store"
check_err "usage"
expect_exit 2 "$MEDFM" tokenize --model "$T/model" --store "$T/store" --patient "$id" --limit -3
expect_exit 2 "$MEDFM" tokenize --bogus
echo "tokenize: ok ($n patients)"
