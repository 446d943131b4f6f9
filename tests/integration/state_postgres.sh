#!/usr/bin/env bash
# state_postgres.sh - the state on a real PostgreSQL server (started here, in a temporary folder,
# on a free port, with password authentication): keys create, list and revoke, audit verify and
# export through a postgresql:// URL; audit rows appended by several processes at once (one
# chain, checked by medfm and by the independent oracle audit_oracle.py), also on a fresh
# database where every process races to make the schema; the append-only triggers; tampering
# found; a wrong password refused without any password in the messages; a newer schema refused.
# The PostgreSQL server binaries are required (scripts/setup.sh installs them): without them the
# test fails.
. "$(dirname "$0")/lib.bash"
: "${MEDFM_TEST_TOOLS:?MEDFM_TEST_TOOLS must point at the test tools}"
tool=$MEDFM_TEST_TOOLS/state_tool
oracle=$(dirname "$0")/audit_oracle.py
unset MEDFM_DB PGPASSWORD PGUSER PGHOST PGPORT PGDATABASE PGSERVICE

pgbin=$(printf "%s\n" /usr/lib/postgresql/*/bin | sort -V | tail -n 1)
[ -n "$pgbin" ] && [ -x "$pgbin/initdb" ] && [ -x "$pgbin/pg_ctl" ] && [ -x "$pgbin/postgres" ] ||
  fail "no PostgreSQL server binaries in /usr/lib/postgresql/*/bin (scripts/setup.sh installs them)"
psql=$pgbin/psql
[ -x "$psql" ] || psql=$(command -v psql) || fail "no psql (scripts/setup.sh installs it)"

# initdb and postgres refuse to run as root: then they run as the postgres user, in a folder of
# its own (under /tmp: the socket path must be short, and every parent readable)
P=$(mktemp -d /tmp/medfm-pg.XXXXXX)
as_pg() {
  if [ "$(id -u)" -eq 0 ]; then
    runuser -u postgres -- "$@"
  else
    "$@"
  fi
}
cleanup() {
  as_pg "$pgbin/pg_ctl" -D "$P/data" -m immediate -w stop >/dev/null 2>&1 || true
  rm -rf "$P" "$T"
}
trap cleanup EXIT
chmod 700 "$P"
password=pw$(od -An -N12 -tx1 /dev/urandom | tr -d ' \n')
printf '%s\n' "$password" >"$P/pwfile"
if [ "$(id -u)" -eq 0 ]; then
  chown -R postgres "$P"
fi
port=$("$PYTHON" -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
as_pg "$pgbin/initdb" -D "$P/data" -U medfm --pwfile="$P/pwfile" -A scram-sha-256 --no-sync \
  >"$P/initdb.log" 2>&1 || { cat "$P/initdb.log" >&2; fail "initdb"; }
as_pg "$pgbin/pg_ctl" -D "$P/data" -l "$P/server.log" -w -t 60 \
  -o "-p $port -k $P -c listen_addresses=127.0.0.1 -c fsync=off" start >/dev/null ||
  { cat "$P/server.log" >&2; fail "the PostgreSQL server did not start"; }
sql() { # DB SQL
  PGPASSWORD=$password "$psql" -h 127.0.0.1 -p "$port" -U medfm -d "$1" -v ON_ERROR_STOP=1 -qAt \
    -c "$2"
}
sql postgres "CREATE DATABASE medfm" >/dev/null
sql postgres "CREATE DATABASE fresh" >/dev/null
url="postgresql://medfm:$password@127.0.0.1:$port/medfm"
no_password() { # the password appears in no output
  ! grep -q -- "$password" "$T/out" "$T/err" || fail "the password appears in medfm's output"
}

# keys
expect_exit 0 "$MEDFM" keys create --db "$url" --name "ehr one" --scopes predict,simulate --rate 60
no_password
key1=$(tail -n 1 "$T/out")
[[ $key1 =~ ^mfk_[0-9a-f]{12}_[A-Za-z0-9_-]{43}$ ]] || fail "the key has not the documented form"
id1=${key1:4:12}
expect_exit 0 "$MEDFM" keys create --db "$url" --name feedback --scopes feedback
id2=$(tail -n 1 "$T/out" | cut -c5-16)
[ "$(sql medfm "SELECT secret_sha256 FROM api_keys WHERE id = '$id1'")" = \
  "$("$PYTHON" -c 'import hashlib,sys; print(hashlib.sha256(sys.argv[1].encode()).hexdigest())' "${key1:17}")" ] ||
  fail "the stored key hash is not SHA-256 of the secret"
MEDFM_DB=$url expect_exit 0 "$MEDFM" keys list --json
"$PYTHON" - "$T/out" "$id1" "$id2" <<'PY' || fail "keys list --json"
import json, sys
keys = json.load(open(sys.argv[1]))
assert [k["id"] for k in keys] == sys.argv[2:4], keys
assert keys[0]["scopes"] == ["predict", "simulate"] and keys[0]["rate_per_min"] == 60
assert keys[0]["revoked"] is None
PY
expect_exit 0 "$MEDFM" keys revoke "$id1" --db "$url"
expect_exit 0 "$MEDFM" keys revoke "$id1" --db "$url"
expect_exit 1 "$MEDFM" keys revoke 000000000000 --db "$url"
expect_exit 0 "$MEDFM" keys list --db "$url"
grep -q "^$id1  ehr one  *predict,simulate .* 60  .*Z  20.*Z$" "$T/out" || { cat "$T/out"; fail "keys list: a revoked key"; }
grep -q "^$id2  feedback  *feedback .*  -$" "$T/out" || fail "keys list: an active key"

# the audit log: empty, then appended by three processes at once
expect_exit 0 "$MEDFM" audit verify --db "$url"
grep -qx "intact, 0 rows" "$T/out" || fail "audit verify on an empty log"
pids=()
for w in a b c; do
  "$tool" append "$url" 120 "$w" &
  pids+=($!)
done
for p in "${pids[@]}"; do
  wait "$p" || fail "state_tool append"
done
expect_exit 0 "$MEDFM" audit verify --db "$url"
grep -qx "intact, 360 rows" "$T/out" || { cat "$T/out" "$T/err"; fail "audit verify after concurrent appends"; }
[ "$(sql medfm "SELECT count(DISTINCT split_part(request_id, '-', 1)) FROM audit")" = 3 ] ||
  fail "not every process appended"
expect_exit 0 "$MEDFM" audit export --db "$url" --format fhir-auditevent --out "$T/audit.ndjson"
no_password
"$PYTHON" "$oracle" "$T/audit.ndjson" 360 >"$T/oracle" || fail "the oracle refuses the export"
grep -q "last row's hash is $(cut -d' ' -f3 "$T/oracle")" "$T/err" || fail "export's last hash"
[ "$(sql medfm "SELECT hash FROM audit ORDER BY seq DESC LIMIT 1")" = "$(cut -d' ' -f3 "$T/oracle")" ] ||
  fail "the export's last hash is not the database's"

# a fresh database: the processes race to make the schema; one makes it, all append
fresh="postgresql://medfm:$password@127.0.0.1:$port/fresh"
pids=()
for w in a b c d; do
  "$tool" append "$fresh" 25 "$w" &
  pids+=($!)
done
for p in "${pids[@]}"; do
  wait "$p" || fail "state_tool append on a fresh database"
done
expect_exit 0 "$MEDFM" audit verify --db "$fresh"
grep -qx "intact, 100 rows" "$T/out" || { cat "$T/out" "$T/err"; fail "audit verify on the fresh database"; }

# pseudonyms and feedback
pa=$("$tool" pseudonym "$url" Patient/1)
pb=$("$tool" pseudonym "$url" Patient/1)
pc=$("$tool" pseudonym "$fresh" Patient/1)
[[ $pa =~ ^[0-9a-f]{64}$ ]] && [ "$pa" = "$pb" ] && [ "$pa" != "$pc" ] || fail "pseudonyms"
[ "$("$tool" feedback "$url" card-1 "$id2")" = created ] || fail "feedback: first"
[ "$("$tool" feedback "$url" card-1 "$id2")" = exists ] || fail "feedback: second"
[ "$("$tool" feedback "$url" card-1 jwt:0123456789ab)" = created ] || fail "feedback: another caller"

# the triggers refuse changes; past them, a change is found
for s in "UPDATE audit SET status = 200 WHERE seq = 9" "DELETE FROM audit WHERE seq = 360" \
  "TRUNCATE audit"; do
  if sql medfm "$s" >/dev/null 2>"$T/psql.err"; then
    fail "the audit table accepts: $s"
  fi
  grep -q "append-only" "$T/psql.err" || fail "the refusal does not say why: $s"
done
expect_exit 0 "$MEDFM" audit verify --db "$url"
sql medfm "ALTER TABLE audit DISABLE TRIGGER audit_no_change;
  UPDATE audit SET latency_us = latency_us + 1 WHERE seq = 9;
  ALTER TABLE audit ENABLE TRIGGER audit_no_change" >/dev/null
expect_exit 1 "$MEDFM" audit verify --db "$url"
grep -qx "broken at row 9" "$T/out" || { cat "$T/out" "$T/err"; fail "a changed row is not found"; }
sql fresh "ALTER TABLE audit DISABLE TRIGGER audit_no_change;
  DELETE FROM audit WHERE seq > 95" >/dev/null
expect_exit 1 "$MEDFM" audit verify --db "$fresh"
grep -qx "broken at row 96" "$T/out" || { cat "$T/out" "$T/err"; fail "a truncated log is not found"; }

# a wrong password: refused, and no password (right or wrong) in the message
expect_exit 1 "$MEDFM" keys list --db "postgresql://medfm:WrongPw${password}x@127.0.0.1:$port/medfm"
grep -q "password authentication failed" "$T/err" || { cat "$T/err"; fail "a wrong password is not explained"; }
grep -q "WrongPw" "$T/err" && fail "the wrong password appears in the message"
no_password
expect_exit 1 "$MEDFM" keys list --db "postgresql://medfm:$password@127.0.0.1:$port/nosuchdb"
no_password

# a newer schema
sql fresh "UPDATE meta SET v = '2' WHERE k = 'schema_version'"
expect_exit 1 "$MEDFM" keys list --db "$fresh"
grep -q "newer" "$T/err" || fail "a newer schema is not explained"
no_password
echo "state_postgres: ok"
