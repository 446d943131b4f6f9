#!/usr/bin/env bash
# deid_text.sh - `medfm deid text` through the real binary: the three modes on standard input
# and files, a patient context whose names disappear in any spelling, dates moved by exactly
# the patient's shift (recomputed here from the key), same key same output and another key
# another, --out written whole or not at all, and the error exits.  The identity is invented.
. "$(dirname "$0")/lib.bash"

# fixed keys, so that a failure can be replayed
echo 3f1c0a9e5b7d2468ace013579bdf02468ace13579bdf0246813579bdf02468ac >"$T/k1"
echo c0ffee00112233445566778899aabbccddeeff00112233445566778899aabbcc >"$T/k2"
chmod 600 "$T/k1" "$T/k2"
expect_exit 0 "$MEDFM" deid text --help
grep -q -- "--patient-context" "$T/out" || fail "help does not list --patient-context"

cat >"$T/patient.json" <<'EOF'
{"resourceType": "Patient", "id": "test-pt-7731",
 "name": [{"use": "official", "family": "Quillfeather", "given": ["Odalys", "Brisa"]}],
 "birthDate": "1931-04-07", "gender": "female",
 "telecom": [{"system": "phone", "value": "617-432-1987"}],
 "address": [{"line": ["48 Larkspur Lane"], "city": "Fernhollow", "postalCode": "02115"}],
 "identifier": [{"system": "urn:mrn", "value": "MRN-7731-0042"}]}
EOF
cat >"$T/note.txt" <<'EOF'
Odalys Quillfeather is a 93 year old woman, MRN-7731-0042, DOB 04/07/1931.
QUILLFEATHER, ODALYS called from 617.432.1987 on March 5, 2024; O. Quillfeather lives at
48 Larkspur Lane, Fernhollow. Seen 2024-03-05 by Dr. Okonkwo. Next visit 3/19/24.
EOF
cat >"$T/other.txt" <<'EOF'
Ms. Quillfeather returned on 2024-04-02. Odalys reports no pain.
EOF

run() { "$MEDFM" deid text "$@"; }

# tag: JSON of the spans, offsets pointing at their text
run --mode tag --patient-context "$T/patient.json" "$T/note.txt" >"$T/tag.json"
"$PYTHON" - "$T/tag.json" "$T/note.txt" <<'PY'
import json, sys
doc = json.load(open(sys.argv[1]))
raw = open(sys.argv[2], "rb").read()
text = raw.decode("utf-8")
ents = doc["entities"]
assert ents, "no entities"
cats = {e["category"] for e in ents}
assert {"NAME", "DATE"} <= cats, cats
for e in ents:
    assert raw[e["start"]:e["end"]].decode("utf-8") == e["text"], e
    assert text[e["start_cp"]:e["end_cp"]] == e["text"], e
    assert 0 <= e["confidence"] <= 1
names = " ".join(e["text"] for e in ents if e["category"] == "NAME")
for w in ("Odalys", "QUILLFEATHER", "ODALYS"):
    assert w in names, (w, names)
PY
# two inputs without --out: one NDJSON line per input with its file name
run --mode tag "$T/note.txt" "$T/other.txt" >"$T/tag.ndjson"
[ "$(wc -l <"$T/tag.ndjson")" -eq 2 ] || fail "tag of two inputs is not two lines"
"$PYTHON" -c 'import json,sys; [json.loads(l)["file"] for l in open(sys.argv[1])]' "$T/tag.ndjson"

# redact: spans become [CATEGORY]; no key needed; the context's names are gone in any spelling
run --mode redact --patient-context "$T/patient.json" "$T/note.txt" >"$T/red.txt"
grep -q "\[NAME\]" "$T/red.txt" || fail "redact wrote no [NAME]"
grep -q "\[DATE\]" "$T/red.txt" || fail "redact wrote no [DATE]"
grep -qiE "quillfeather|odalys|1931|432.1987|larkspur|7731" "$T/red.txt" &&
  fail "a patient identifier survived redaction"
[ "$(wc -l <"$T/red.txt")" -eq 3 ] || fail "redaction changed the lines"

# surrogate: from a file and from standard input alike
run --key-file "$T/k1" --patient-context "$T/patient.json" "$T/note.txt" >"$T/s1.txt" 2>"$T/s1.err"
run --key-file "$T/k1" --patient-context "$T/patient.json" <"$T/note.txt" >"$T/s1-stdin.txt"
run --key-file "$T/k1" --patient-context "$T/patient.json" - <"$T/note.txt" >"$T/s1-dash.txt"
cmp -s "$T/s1.txt" "$T/s1-stdin.txt" || fail "standard input and file differ"
cmp -s "$T/s1.txt" "$T/s1-dash.txt" || fail "'-' and file differ"
grep -qiE "quillfeather|odalys|04/07/1931|432.1987|larkspur|fernhollow|7731-0042" "$T/s1.txt" &&
  fail "a patient identifier survived in surrogate output"
grep -q "Okonkwo" "$T/s1.txt" && fail "a clinician's name survived"
grep -q " 90 year old" "$T/s1.txt" || fail "age over 89 not made 90"
[ -s "$T/s1.err" ] && fail "surrogate run wrote to stderr"
[ "$(wc -l <"$T/s1.txt")" -eq 3 ] || fail "surrogates changed the lines"
# the same key: the same output; another key: another
run --key-file "$T/k1" --patient-context "$T/patient.json" "$T/note.txt" >"$T/s1b.txt"
cmp -s "$T/s1.txt" "$T/s1b.txt" || fail "same key, different output"
run --key-file "$T/k2" --patient-context "$T/patient.json" "$T/note.txt" >"$T/s2.txt"
cmp -s "$T/s1.txt" "$T/s2.txt" && fail "another key gave the same output"

# one person in every spelling, and dates moved by the patient's shift (recomputed from the key)
"$PYTHON" - "$T/k1" "$T/s1.txt" <<'PY'
import datetime, hashlib, hmac, re, sys
key = bytes.fromhex(open(sys.argv[1]).read().strip())
out = open(sys.argv[2]).read()
d = hmac.new(key, b"shift\0" + b"test-pt-7731", hashlib.sha256).digest()
days = int.from_bytes(d[:8], "big") % 730 - 365
days += days >= 0
def mv(y, m, dd):
    return datetime.date(y, m, dd) + datetime.timedelta(days=days)
dob = mv(1931, 4, 7)
assert "DOB %02d/%02d/%04d." % (dob.month, dob.day, dob.year) in out, (dob, out)
v = mv(2024, 3, 5)
assert "Seen %04d-%02d-%02d by" % (v.year, v.month, v.day) in out, (v, out)
assert "on %s %d, %d;" % (v.strftime("%B"), v.day, v.year) in out, (v, out)
n = mv(2024, 3, 19)
assert "visit %d/%d/%02d." % (n.month, n.day, n.year % 100) in out, (n, out)
# "Odalys Quillfeather" ... "QUILLFEATHER, ODALYS" ... "O. Quillfeather": one surrogate person
first = out.split(" is a ", 1)[0]
f_up, g_up = re.search(r"\n(.+), (.+) called from", out).groups()
assert first.upper() == g_up + " " + f_up, (first, g_up, f_up)
g, f = first[:len(g_up)], first[len(g_up) + 1:]
assert "; %s. %s lives" % (g[0], f) in out, (g, f, out)
PY

# across notes of one patient: the same surrogate for the same name
run --key-file "$T/k1" --patient-context "$T/patient.json" "$T/other.txt" >"$T/o1.txt"
grep -q "Ms\. " "$T/o1.txt" || fail "title lost"
"$PYTHON" - "$T/s1.txt" "$T/o1.txt" <<'PY'
import re, sys
a, b = open(sys.argv[1]).read(), open(sys.argv[2]).read()
first = a.split(" is a ", 1)[0]
g_up = re.search(r"\n.+, (.+) called from", a).group(1)
g, f = first[:len(g_up)], first[len(g_up) + 1:]
assert b.startswith("Ms. %s returned" % f), (f, b)
assert (". %s reports" % g) in b, (g, b)
PY

# several inputs: --out DIR, one file per input under its name, written whole or not at all
run --key-file "$T/k1" --patient-context "$T/patient.json" --out "$T/outdir" \
  "$T/note.txt" "$T/other.txt" 2>"$T/err"
[ -f "$T/outdir/note.txt" ] && [ -f "$T/outdir/other.txt" ] || fail "--out files missing"
cmp -s "$T/outdir/note.txt" "$T/s1.txt" || fail "--out file differs from standard output"
grep -qiE "quillfeather|odalys" "$T/err" && fail "PHI on stderr"
expect_exit 1 "$MEDFM" deid text --key-file "$T/k1" --out "$T/outdir" "$T/note.txt"
grep -q -- "--force" "$T/err" || fail "existing --out: no hint"
[ -f "$T/outdir/other.txt" ] || fail "a refused run touched the existing --out"
expect_exit 0 "$MEDFM" deid text --key-file "$T/k1" --force --out "$T/outdir" "$T/note.txt"
[ -f "$T/outdir/note.txt" ] && [ ! -e "$T/outdir/other.txt" ] || fail "--force did not replace"
expect_exit 1 "$MEDFM" deid text --key-file "$T/k1" --out "$T/partial" "$T/note.txt" "$T/missing.txt"
[ ! -e "$T/partial" ] || fail "a failed run left output"
ls "$T" | grep -q "tmp-" && fail "a failed run left its temporary folder"
expect_exit 0 "$MEDFM" deid text --mode tag --out "$T/tags" "$T/note.txt" "$T/other.txt"
[ -f "$T/tags/note.txt.json" ] || fail "tag --out file missing"

# invalid UTF-8 is passed through, bytes intact
printf 'caf\xe9 \xff note for Odalys Quillfeather\n' >"$T/latin1.txt"
run --mode redact --patient-context "$T/patient.json" "$T/latin1.txt" >"$T/latin1.out"
"$PYTHON" - "$T/latin1.out" <<'PY'
import sys
b = open(sys.argv[1], "rb").read()
assert b.startswith(b"caf\xe9 \xff note for "), b
assert b"Quillfeather" not in b, b
PY

# errors: exit 1 for a bad key, input or context; 2 for usage
expect_exit 1 "$MEDFM" deid text --key-file "$T/nokey" "$T/note.txt"
cp "$T/k1" "$T/open" && chmod 644 "$T/open"
expect_exit 1 "$MEDFM" deid text --key-file "$T/open" "$T/note.txt"
grep -q "chmod 600" "$T/err" || fail "world-readable key message"
[ -s "$T/out" ] && fail "output written with a refused key"
printf '{"resourceType": "Patient", "name": [{"family": "Quillfeather"' >"$T/bad.json"
expect_exit 1 "$MEDFM" deid text --key-file "$T/k1" --patient-context "$T/bad.json" "$T/note.txt"
grep -q "bad.json" "$T/err" && grep -q "byte" "$T/err" || fail "bad context: no file and offset"
grep -q "Quillfeather" "$T/err" && fail "bad context: the message holds its content"
echo '{"resourceType": "Observation"}' >"$T/obs.json"
expect_exit 1 "$MEDFM" deid text --key-file "$T/k1" --patient-context "$T/obs.json" "$T/note.txt"
expect_exit 1 "$MEDFM" deid text --key-file "$T/k1" --patient-context "$T/none.json" "$T/note.txt"
expect_exit 1 "$MEDFM" deid text --key-file "$T/k1" "$T/missing.txt"
expect_exit 2 "$MEDFM" deid text "$T/note.txt"
expect_exit 2 "$MEDFM" deid text --mode frob --key-file "$T/k1" "$T/note.txt"
expect_exit 2 "$MEDFM" deid text --key-file "$T/k1" "$T/note.txt" "$T/other.txt"
expect_exit 2 "$MEDFM" deid text --key-file "$T/k1" --out "$T/o3"
expect_exit 2 "$MEDFM" deid text --key-file "$T/k1" --out "$T/o3" "$T/note.txt" "$T/outdir/note.txt"
expect_exit 2 "$MEDFM" deid text --key-file "$T/k1" --frob "$T/note.txt"
expect_exit 0 "$MEDFM" deid text --mode redact "$T/note.txt"
echo "deid_text: ok"
