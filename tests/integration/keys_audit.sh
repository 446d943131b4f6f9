#!/usr/bin/env bash
# keys_audit.sh - `medfm keys` and `medfm audit` on SQLite: help and usage errors, keys created
# (printed once, stored as SHA-256 only, mode 0600), listed, revoked; the default database and
# $MEDFM_DB; audit rows appended through the library (test tool state_tool, two processes at
# once), verified, exported as FHIR AuditEvents and re-verified by an independent oracle
# (audit_oracle.py); tampering with the file through Python's sqlite3 (triggers refuse it; past
# them, a changed, removed or truncated row is named); schema and file errors.
. "$(dirname "$0")/lib.bash"
: "${MEDFM_TEST_TOOLS:?MEDFM_TEST_TOOLS must point at the test tools}"
tool=$MEDFM_TEST_TOOLS/state_tool
oracle=$(dirname "$0")/audit_oracle.py
db=$T/state.sqlite
unset MEDFM_DB

# help and usage errors
for c in "keys" "keys create" "keys list" "keys revoke" "audit" "audit verify" "audit export"; do
  # shellcheck disable=SC2086
  expect_exit 0 "$MEDFM" $c --help
  grep -q "^usage: medfm $c" "$T/out" || fail "'$c --help' has no usage line"
done
expect_exit 2 "$MEDFM" keys
expect_exit 2 "$MEDFM" keys frobnicate
expect_exit 2 "$MEDFM" audit
expect_exit 2 "$MEDFM" audit frobnicate
expect_exit 2 "$MEDFM" keys create --db "$db" --name x
expect_exit 2 "$MEDFM" keys create --db "$db" --scopes predict
expect_exit 2 "$MEDFM" keys create --db "$db" --name x --scopes predict,bogus
grep -q "unknown scope 'bogus'" "$T/err" || fail "a bad scope is not named"
expect_exit 2 "$MEDFM" keys create --db "$db" --name x --scopes ""
expect_exit 2 "$MEDFM" keys create --db "$db" --name x --scopes predict,,admin
expect_exit 2 "$MEDFM" keys create --db "$db" --name x --scopes predict --rate -1
expect_exit 2 "$MEDFM" keys create --db "$db" --name x --scopes predict --rate many
expect_exit 2 "$MEDFM" keys create --db "$db" --name "$(printf 'a\tb')" --scopes predict
expect_exit 2 "$MEDFM" keys create --db "$db" --name x --scopes predict extra
[ ! -e "$db" ] || fail "a usage error made a database"

# create
expect_exit 0 "$MEDFM" keys create --db "$db" --name "ehr one" --scopes predict,feedback --rate 120
[ "$(wc -l <"$T/out")" -eq 1 ] || fail "keys create printed more than the key on stdout"
key1=$(tail -n 1 "$T/out")
[[ $key1 =~ ^mfk_[0-9a-f]{12}_[A-Za-z0-9_-]{43}$ ]] || fail "the key has not the documented form"
grep -q "created key" "$T/err" || fail "keys create says nothing on stderr"
grep -q -- "${key1:17}" "$T/err" && fail "the secret went to stderr"
[ "$(stat -c %a "$db")" = 600 ] || fail "the database is not mode 0600"
id1=${key1:4:12}
expect_exit 0 "$MEDFM" keys create --db "$db" --name admin --scopes admin
key2=$(tail -n 1 "$T/out")
id2=${key2:4:12}
[ "$key1" != "$key2" ] && [ "$id1" != "$id2" ] || fail "two keys are the same"

# the database holds SHA-256(secret), never the secret
"$PYTHON" - "$db" "$id1" "${key1:17}" <<'PY' || fail "the stored key hash"
import hashlib, sqlite3, sys
db, kid, secret = sys.argv[1:]
con = sqlite3.connect(db)
(h,) = con.execute("select secret_sha256 from api_keys where id = ?", (kid,)).fetchone()
assert h == hashlib.sha256(secret.encode()).hexdigest(), "not SHA-256 of the secret"
assert secret.encode() not in open(db, "rb").read(), "the secret is in the file"
PY
hash1=$("$PYTHON" -c 'import hashlib,sys; print(hashlib.sha256(sys.argv[1].encode()).hexdigest())' "${key1:17}")

# list
expect_exit 0 "$MEDFM" keys list --db "$db"
grep -q "^$id1  ehr one  predict,feedback  *120  " "$T/out" || { cat "$T/out"; fail "keys list: the first key"; }
grep -q "^$id2  admin  " "$T/out" || fail "keys list: the second key"
grep -q -e "$hash1" -e "${key1:17}" "$T/out" "$T/err" && fail "keys list shows a secret or hash"
expect_exit 0 "$MEDFM" keys list --db "$db" --json
"$PYTHON" - "$T/out" "$id1" "$id2" <<'PY' || fail "keys list --json"
import json, sys
keys = json.load(open(sys.argv[1]))
assert [k["id"] for k in keys] == sys.argv[2:4], keys
a, b = keys
assert a["name"] == "ehr one" and a["scopes"] == ["predict", "feedback"] and a["rate_per_min"] == 120
assert b["scopes"] == ["admin"] and b["rate_per_min"] == 0
assert a["revoked"] is None and a["created"].endswith("Z")
for k in keys:
    assert set(k) == {"id", "name", "scopes", "rate_per_min", "created", "revoked"}, k
PY

# revoke
expect_exit 0 "$MEDFM" keys revoke "$id1" --db "$db"
expect_exit 0 "$MEDFM" keys revoke --db "$db" "$id1"
expect_exit 1 "$MEDFM" keys revoke 000000000000 --db "$db"
grep -q "no key" "$T/err" || fail "revoking an unknown id says nothing"
expect_exit 1 "$MEDFM" keys revoke not-an-id --db "$db"
expect_exit 2 "$MEDFM" keys revoke --db "$db"
expect_exit 2 "$MEDFM" keys revoke "$id1" "$id2" --db "$db"
expect_exit 0 "$MEDFM" keys list --db "$db" --json
"$PYTHON" - "$T/out" <<'PY' || fail "a revoked key is not listed as revoked"
import json, sys
a, b = json.load(open(sys.argv[1]))
assert a["revoked"] is not None and a["revoked"] >= a["created"] and b["revoked"] is None
PY

# the default database, and $MEDFM_DB
mkdir -p "$T/cwd"
medfm_abs=$(realpath "$MEDFM")
(cd "$T/cwd" && "$medfm_abs" keys create --name d --scopes predict >/dev/null 2>&1) ||
  fail "keys create with the default database"
[ -f "$T/cwd/medfm-state.sqlite" ] || fail "no medfm-state.sqlite in the current folder"
(cd "$T/cwd" && "$medfm_abs" keys list >"$T/out") || fail "keys list with the default database"
grep -q "  d  " "$T/out" || fail "keys list with the default database"
MEDFM_DB=$db expect_exit 0 "$MEDFM" keys list
grep -q "^$id2 " "$T/out" || fail "\$MEDFM_DB is not used"
expect_exit 1 "$MEDFM" keys list --db "$T/missing.sqlite"
grep -q "no state database" "$T/err" || fail "a missing database is not named"
[ ! -e "$T/missing.sqlite" ] || fail "keys list made a database"
expect_exit 1 "$MEDFM" audit verify --db "$T/missing.sqlite"
[ ! -e "$T/missing.sqlite" ] || fail "audit verify made a database"

# an empty log
expect_exit 0 "$MEDFM" audit verify --db "$db"
grep -qx "intact, 0 rows" "$T/out" || fail "audit verify on an empty log"
expect_exit 0 "$MEDFM" audit export --db "$db" --format fhir-auditevent --out "$T/empty.ndjson"
[ -f "$T/empty.ndjson" ] && [ ! -s "$T/empty.ndjson" ] || fail "the export of an empty log"

# rows as the server writes them, from two processes at once
"$tool" append "$db" 40 a || fail "state_tool append"
"$tool" append "$db" 150 p1 &
p1=$!
"$tool" append "$db" 150 p2 &
p2=$!
wait $p1 || fail "state_tool append (1)"
wait $p2 || fail "state_tool append (2)"
expect_exit 0 "$MEDFM" audit verify --db "$db"
grep -qx "intact, 340 rows" "$T/out" || { cat "$T/out" "$T/err"; fail "audit verify after appends"; }

# export, checked by the oracle
expect_exit 0 "$MEDFM" audit export --db "$db" --format fhir-auditevent --out "$T/audit.ndjson"
[ "$(wc -l <"$T/audit.ndjson")" -eq 340 ] || fail "the export has not 340 lines"
"$PYTHON" "$oracle" "$T/audit.ndjson" 340 >"$T/oracle" || fail "the oracle refuses the export"
last=$(cut -d' ' -f3 "$T/oracle")
grep -q "last row's hash is $last" "$T/err" || fail "export does not print the chain's last hash"
grep -q '"request_id","valueString":"p2-150"' "$T/audit.ndjson" || fail "rows of the second process"
# without --format (the default), over the same file
expect_exit 0 "$MEDFM" audit export --db "$db" --out "$T/audit.ndjson"
"$PYTHON" "$oracle" "$T/audit.ndjson" 340 >/dev/null || fail "the second export"
expect_exit 2 "$MEDFM" audit export --db "$db" --format csv --out "$T/x.csv"
expect_exit 2 "$MEDFM" audit export --db "$db"
expect_exit 1 "$MEDFM" audit export --db "$db" --out "$T/no/such/dir/x.ndjson"
[ ! -e "$T/x.csv" ] || fail "a usage error wrote a file"

# pseudonyms: the same in every process for one database, another for another database
pa=$("$tool" pseudonym "$db" Patient/1)
pb=$("$tool" pseudonym "$db" Patient/1)
pc=$("$tool" pseudonym "$T/cwd/medfm-state.sqlite" Patient/1)
[[ $pa =~ ^[0-9a-f]{64}$ ]] && [ "$pa" = "$pb" ] && [ "$pa" != "$pc" ] || fail "pseudonyms"
# feedback once per card and caller
[ "$("$tool" feedback "$db" card-1 "$id2")" = created ] || fail "feedback: first"
[ "$("$tool" feedback "$db" card-1 "$id2")" = exists ] || fail "feedback: second"

# tampering, through Python's sqlite3 (the file as anyone with write access sees it)
tamper() { # COPY SQL...: a copy of the database, then SQL run on it
  cp "$db" "$T/$1.sqlite"
  "$PYTHON" - "$T/$1.sqlite" "${@:2}" <<'PY'
import sqlite3, sys
con = sqlite3.connect(sys.argv[1])
for s in sys.argv[2:]:
    con.execute(s)
con.commit()
PY
}
"$PYTHON" - "$db" <<'PY' || fail "the audit table accepts changes"
import sqlite3, sys
con = sqlite3.connect(sys.argv[1])
for s in ("update audit set status = 200 where seq = 7", "delete from audit where seq = 340"):
    try:
        con.execute(s)
    except sqlite3.DatabaseError as e:
        assert "append-only" in str(e), e
    else:
        raise SystemExit("not refused: " + s)
PY
check_broken() { # DB ROW
  expect_exit 1 "$MEDFM" audit verify --db "$1"
  grep -qx "broken at row $2" "$T/out" || { cat "$T/out" "$T/err"; fail "$1: not broken at row $2"; }
  grep -q "row $2" "$T/err" || fail "$1: the message does not name row $2"
}
tamper changed "drop trigger audit_no_update" "update audit set route = 'GET /v1/model' where seq = 7"
check_broken "$T/changed.sqlite" 7
tamper removed "drop trigger audit_no_delete" "delete from audit where seq = 100"
check_broken "$T/removed.sqlite" 100
tamper truncated "drop trigger audit_no_delete" "delete from audit where seq > 335"
check_broken "$T/truncated.sqlite" 336
grep -q "removed from its end" "$T/err" || fail "truncation is not explained"
tamper relinked "drop trigger audit_no_update" \
  "update audit set prev_hash = (select hash from audit where seq = 1) where seq = 3"
check_broken "$T/relinked.sqlite" 3
# a tampered log stays broken while the server goes on appending
"$tool" append "$T/changed.sqlite" 3 after || fail "append to a tampered log"
check_broken "$T/changed.sqlite" 7
# and the export of a tampered log is refused by the oracle
expect_exit 0 "$MEDFM" audit export --db "$T/changed.sqlite" --out "$T/changed.ndjson"
"$PYTHON" "$oracle" "$T/changed.ndjson" 2>"$T/oracle.err" && fail "the oracle accepts a tampered export"
grep -q "line 7" "$T/oracle.err" || fail "the oracle does not name line 7"

# schema and file errors
tamper newer "update meta set v = '2' where k = 'schema_version'"
expect_exit 1 "$MEDFM" keys list --db "$T/newer.sqlite"
grep -q "newer" "$T/err" || fail "a newer schema is not explained"
printf 'not a database at all, just some text that is long enough\n%.0s' {1..50} >"$T/junk.sqlite"
expect_exit 1 "$MEDFM" audit verify --db "$T/junk.sqlite"
grep -q "not a SQLite database" "$T/err" || fail "a non-database file is not explained"
expect_exit 1 "$MEDFM" keys create --db "$T" --name x --scopes predict
echo "keys_audit: ok"
