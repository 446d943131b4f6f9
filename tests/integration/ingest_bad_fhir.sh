#!/usr/bin/env bash
# ingest_bad_fhir.sh - bad FHIR input through the real medfm binary.
#
# Each case is a Bundle with good records and one bad one.  By default the run succeeds, the
# bad record (only) is skipped and listed in STORE.errors.ndjson with its kind, file, location
# and FHIR path; under --strict the run fails and the previous store is untouched.  A
# distinctive value planted in each bad field must appear neither on stderr nor in the report.
set -euo pipefail

: "${MEDFM:?MEDFM must point at the medfm binary}"
PYTHON=${PYTHON:-python3}
scratch=${MEDFM_TEST_TMP:-${TMPDIR:-/tmp}}
mkdir -p "$scratch"
tmp=$(mktemp -d "$scratch/ingest-bad-fhir.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
failures=0

fail() {
    echo "ingest_bad_fhir: FAIL: $*" >&2
    failures=$((failures + 1))
}

PATIENT='{"fullUrl":"urn:uuid:u-1","resource":{"resourceType":"Patient","id":"pt-1","birthDate":"1970-01-02","gender":"female"}}'
SUBJ='"subject":{"reference":"urn:uuid:u-1"}'
LOINC='"system":"http://loinc.org"'
GOOD_OBS='{"resource":{"resourceType":"Observation",'"$SUBJ"',"code":{"coding":[{'"$LOINC"',"code":"8331-1"}]},"effectiveDateTime":"2019-05-31T16:16:03Z","valueQuantity":{"value":37.5,"unit":"Cel"}}}'

# bundle BAD_ENTRY: a bundle with the patient, the bad entry (index 1) and a good observation.
bundle() {
    printf '{"resourceType":"Bundle","type":"collection","entry":[\n%s,\n%s,\n%s\n]}\n' \
        "$PATIENT" "$1" "$GOOD_OBS"
}

# check_report REPORT KIND PATH LINE OFFSET FILE: the report has exactly one issue, as given
# ("null" for JSON null, "any" for any number).
check_report() {
    "$PYTHON" - "$@" <<'EOF'
import json, sys
report, kind, path, line, offset, file = sys.argv[1:]
issues = [json.loads(l) for l in open(report, encoding="utf-8")]
def want(v):
    return None if v == "null" else v
errs = []
if len(issues) != 1:
    errs.append(f"{len(issues)} issues, expected 1")
else:
    it = issues[0]
    if it["kind"] != kind:
        errs.append(f"kind {it['kind']!r}, expected {kind!r}")
    if it["path"] != want(path):
        errs.append(f"path {it['path']!r}, expected {path!r}")
    if it["file"] != file:
        errs.append(f"file {it['file']!r}, expected {file!r}")
    for key, exp in (("line", line), ("offset", offset)):
        got = it[key]
        if exp == "any":
            if not isinstance(got, int):
                errs.append(f"{key} {got!r}, expected a number")
        elif got != (None if exp == "null" else int(exp)):
            errs.append(f"{key} {got!r}, expected {exp}")
    if not it.get("message"):
        errs.append("empty message")
for e in errs:
    print("  " + e, file=sys.stderr)
sys.exit(1 if errs else 0)
EOF
}

# The number of events of a patient in a store.
n_events() {
    "$MEDFM" inspect "$1" --patient "$2" --json | "$PYTHON" -c 'import json,sys; print(len(json.load(sys.stdin)["events"]))'
}

# A fingerprint of a store folder and its report, to show that --strict left them alone.
fingerprint() {
    (cd "$1" && find . -type f -print0 | sort -z | xargs -0 sha256sum) | sha256sum
}

# run_case NAME KIND PATH SECRET BAD_ENTRY [PT1_EVENTS]: the bad entry is skipped with one
# issue; pt-1 keeps birth, gender and the good observation (PT1_EVENTS, default 3).
run_case() {
    local name=$1 kind=$2 path=$3 secret=$4 entry=$5 want=${6:-3}
    local in="$tmp/$name.json" store="$tmp/$name.store"
    bundle "$entry" >"$in"
    local off
    off=$(head -n 2 "$in" | wc -c) # the bad entry starts line 3
    if ! "$MEDFM" ingest --format fhir --no-deid --quiet --out "$store" "$in" 2>"$tmp/$name.err"; then
        fail "$name: default mode exited non-zero: $(cat "$tmp/$name.err")"
        return
    fi
    if ! check_report "$store.errors.ndjson" "$kind" "$path" 3 "$off" "$in"; then
        fail "$name: wrong error report"
    fi
    if [[ -n $secret ]] && grep -q -F -- "$secret" "$tmp/$name.err" "$store.errors.ndjson"; then
        fail "$name: the bad value appears in a message"
    fi
    local n
    n=$(n_events "$store" pt-1)
    [[ $n == "$want" ]] || fail "$name: pt-1 has $n events, expected $want"

    # --strict over an existing good store: fails, names file and path, store untouched
    local good="$tmp/good.json" before after
    bundle "$GOOD_OBS" >"$good"
    rm -rf "$store" "$store.errors.ndjson"
    "$MEDFM" ingest --format fhir --no-deid --quiet --out "$store" "$good"
    before=$(fingerprint "$store")
    if "$MEDFM" ingest --format fhir --no-deid --quiet --strict --out "$store" "$in" \
        2>"$tmp/$name.strict.err"; then
        fail "$name: --strict exited 0"
    fi
    after=$(fingerprint "$store")
    [[ $before == "$after" ]] || fail "$name: --strict changed the previous store"
    [[ ! -e $store.errors.ndjson ]] || fail "$name: --strict left an error report"
    grep -q -F -- "$in" "$tmp/$name.strict.err" || fail "$name: --strict message lacks the file"
    if [[ $path != null ]]; then
        grep -q -F -- "$path" "$tmp/$name.strict.err" || fail "$name: --strict message lacks the path"
    fi
    if [[ -n $secret ]] && grep -q -F -- "$secret" "$tmp/$name.strict.err"; then
        fail "$name: the bad value appears in the --strict message"
    fi
    echo "ingest_bad_fhir: $name ok"
}

run_case bad-date bad-date "Bundle.entry[1].resource.effectiveDateTime" "1987-13-45T07:31" \
    '{"resource":{"resourceType":"Observation",'"$SUBJ"',"code":{"coding":[{'"$LOINC"',"code":"2339-0"}]},"effectiveDateTime":"1987-13-45T07:31:00Z","valueQuantity":{"value":1}}}'
run_case code-system code-system "Bundle.entry[1].resource.code.coding" "MRN-SECRET-8842" \
    '{"resource":{"resourceType":"Condition",'"$SUBJ"',"code":{"coding":[{"system":"http://hospital.example/dx","code":"MRN-SECRET-8842"}]},"onsetDateTime":"2019-01-01"}}'
run_case bad-value bad-value "Bundle.entry[1].resource.valueQuantity.value" "VALUE-SECRET-5531" \
    '{"resource":{"resourceType":"Observation",'"$SUBJ"',"code":{"coding":[{'"$LOINC"',"code":"2339-0"}]},"effectiveDateTime":"2019-01-01","valueQuantity":{"value":"VALUE-SECRET-5531"}}}'
run_case component-value bad-value "Bundle.entry[1].resource.component[1].valueQuantity.value" "COMP-SECRET-1212" \
    '{"resource":{"resourceType":"Observation",'"$SUBJ"',"code":{"coding":[{'"$LOINC"',"code":"85354-9"}]},"effectiveDateTime":"2019-01-01","component":[{"code":{"coding":[{'"$LOINC"',"code":"8480-6"}]},"valueQuantity":{"value":120}},{"code":{"coding":[{'"$LOINC"',"code":"8462-4"}]},"valueQuantity":{"value":"COMP-SECRET-1212"}}]}}'
run_case reference reference "Bundle.entry[1].resource.subject.reference" "SECRET-REF-7777" \
    '{"resource":{"resourceType":"Observation","subject":{"reference":"urn:uuid:SECRET-REF-7777"},"code":{"coding":[{'"$LOINC"',"code":"2339-0"}]},"effectiveDateTime":"2019-01-01"}}'
run_case missing-birth missing-field "Bundle.entry[1].resource.birthDate" "" \
    '{"resource":{"resourceType":"Patient","id":"pt-2","gender":"male"}}'
run_case gender bad-value "Bundle.entry[1].resource.gender" "SECRET-GENDER-X" \
    '{"resource":{"resourceType":"Patient","id":"pt-3","birthDate":"1990-01-01","gender":"SECRET-GENDER-X"}}'
run_case no-type resource-type "Bundle.entry[1].resource.resourceType" "" \
    '{"resource":{"id":"x","status":"final"}}'
run_case unknown-type resource-type "Bundle.entry[1].resource.resourceType" "SecretThing" \
    '{"resource":{"resourceType":"SecretThing","id":"x"}}'
run_case bad-base64 bad-value "Bundle.entry[1].resource.presentedForm[0].data" "" \
    '{"resource":{"resourceType":"DiagnosticReport",'"$SUBJ"',"code":{"coding":[{'"$LOINC"',"code":"34117-2"}]},"effectiveDateTime":"2019-01-01","presentedForm":[{"contentType":"text/plain","data":"*** not base64 ***"}]}}'

# Malformed JSON: the whole document is skipped (one json issue with the byte offset where
# parsing stopped); a good file beside it is still read.
printf '{"resourceType":"Patient",\n"id":"pt-9",\n"birthDate":"1970-01-01" "SECRET-TAIL-3141"}\n' >"$tmp/broken.json"
bundle "$GOOD_OBS" >"$tmp/good.json"
store="$tmp/broken.store"
if "$MEDFM" ingest --format fhir --no-deid --quiet --out "$store" "$tmp/broken.json" "$tmp/good.json" \
    2>"$tmp/broken.err"; then
    check_report "$store.errors.ndjson" json null 3 any "$tmp/broken.json" || fail "broken json: wrong report"
    grep -q -F SECRET-TAIL "$tmp/broken.err" "$store.errors.ndjson" && fail "broken json: value in a message"
    [[ $(n_events "$store" pt-1) == 4 ]] || fail "broken json: the good file was not read" # 2 observations
    echo "ingest_bad_fhir: broken json ok"
else
    fail "broken json: default mode exited non-zero"
fi
if "$MEDFM" ingest --format fhir --no-deid --quiet --strict --out "$tmp/broken2.store" "$tmp/broken.json" \
    "$tmp/good.json" 2>/dev/null; then
    fail "broken json: --strict exited 0"
fi
[[ ! -e $tmp/broken2.store ]] || fail "broken json: --strict left a store"

# NDJSON: a bad line skips that line only, located by line number and the line's byte offset.
nd="$tmp/bulk.ndjson"
{
    echo '{"resourceType":"Patient","id":"nd-1","birthDate":"1960-06-06"}'
    echo '{"resourceType":"Observation","subject":{"reference":"Patient/nd-1"'
    echo '{"resourceType":"Observation","subject":{"reference":"Patient/nd-1"},"code":{"coding":[{'"$LOINC"',"code":"1-1"}]},"effectiveDateTime":"SECRET-DATE-2718"}'
    echo '{"resourceType":"Observation","subject":{"reference":"Patient/nd-1"},"code":{"coding":[{'"$LOINC"',"code":"1-2"}]},"effectiveDateTime":"2020-01-01","valueQuantity":{"value":5}}'
} >"$nd"
store="$tmp/nd.store"
if "$MEDFM" ingest --format ndjson --no-deid --quiet --out "$store" "$nd" 2>"$tmp/nd.err"; then
    off2=$(head -n 1 "$nd" | wc -c)
    off3=$(head -n 2 "$nd" | wc -c)
    "$PYTHON" - "$store.errors.ndjson" "$nd" "$off2" "$off3" <<'EOF' || fail "ndjson: wrong report"
import json, sys
report, nd, off2, off3 = sys.argv[1:]
issues = [json.loads(l) for l in open(report, encoding="utf-8")]
want = [("json", None, 2, int(off2)), ("bad-date", "Observation.effectiveDateTime", 3, int(off3))]
got = [(i["kind"], i["path"], i["line"], i["offset"]) for i in issues]
if got != want or any(i["file"] != nd for i in issues):
    print(f"  got {got}, expected {want}", file=sys.stderr)
    sys.exit(1)
EOF
    grep -q -F SECRET-DATE "$tmp/nd.err" "$store.errors.ndjson" && fail "ndjson: value in a message"
    [[ $(n_events "$store" nd-1) == 2 ]] || fail "ndjson: nd-1 should have birth + one observation"
    echo "ingest_bad_fhir: ndjson ok"
else
    fail "ndjson: default mode exited non-zero"
fi

if ((failures)); then
    echo "ingest_bad_fhir: $failures failure(s)" >&2
    exit 1
fi
echo "ingest_bad_fhir: ok"
