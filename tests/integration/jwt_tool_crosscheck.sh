#!/usr/bin/env bash
# jwt_tool_crosscheck.sh - medfm's CDS Hooks JWT verifier (src/serve/jwt.c, driven by the test
# tool jwt_check) against an independent signer (PyJWT, through jwt_tool.py, which also writes
# the keys and the JWKS): ES384 and RS384 tokens are accepted, hundreds of them so that ES384
# signatures whose r or s has leading zero bytes turn up; a token signed by a key outside the
# JWKS under a trusted kid, a wrong aud, an expired token, a replay, a missing jti and a kid of
# the wrong key type are refused, each for its own reason.
. "$(dirname "$0")/lib.bash"
: "${MEDFM_TEST_TOOLS:?MEDFM_TEST_TOOLS must point at the test tools}"

tool=$(dirname "$0")/jwt_tool.py
check=$MEDFM_TEST_TOOLS/jwt_check
ISS=https://ehr.example.org
AUD=https://cds.example.org/cds-services/medfm-risk
K=$T/keys

"$PYTHON" "$tool" keys "$K"
for f in es384.pem rs384.pem other-es384.pem jwks.json; do
  [ -s "$K/$f" ] || fail "jwt_tool.py keys did not write $f"
done
cat >"$K/jwt.json" <<EOF
{"issuers": [{"iss": "$ISS", "jwks_file": "jwks.json"}]}
EOF

sign() { "$PYTHON" "$tool" sign --iss "$ISS" --aud "$AUD" "$@"; }

# accepted: ES384 (about one token in 128 has an r or s with leading zero bytes) and RS384
sign --key "$K/es384.pem" --alg ES384 --kid es1 --count 300 >"$T/es.txt"
sign --key "$K/rs384.pem" --alg RS384 --kid rs1 --count 20 >"$T/rs.txt"
sign --key "$K/es384.pem" --alg ES384 --count 2 >"$T/nokid.txt"
for f in es rs nokid; do
  expect_exit 0 "$check" "$K/jwt.json" "$AUD" - <"$T/$f.txt"
  [ "$(grep -c "^ok $ISS medfm-test-client " "$T/out")" -eq "$(wc -l <"$T/$f.txt")" ] ||
    fail "not every $f token was accepted"
done
# a fixed clock: a token from the past checked at its own time
tok=$(sign --key "$K/rs384.pem" --alg RS384 --kid rs1 --now 1700000000 --sub client-9 --jti j-1)
expect_exit 0 "$check" "$K/jwt.json" "$AUD" --now 1700000100 "$tok"
grep -qx "ok $ISS client-9 j-1" "$T/out" || fail "claims not returned: $(cat "$T/out")"

# refused: expect_refused WHY TOKEN
expect_refused() {
  local why=$1
  shift
  expect_exit 1 "$check" "$K/jwt.json" "$AUD" "$@"
  grep -q "^refused: .*$why" "$T/out" || fail "expected '$why', got: $(cat "$T/out")"
}
expect_refused "signature does not verify" \
  "$(sign --key "$K/other-es384.pem" --alg ES384 --kid es1)"
expect_refused "signature does not verify" "$(sign --key "$K/other-es384.pem" --alg ES384)"
expect_refused "aud is not" \
  "$("$PYTHON" "$tool" sign --key "$K/es384.pem" --alg ES384 --kid es1 --iss "$ISS" \
    --aud "$AUD/other")"
expect_refused "not a trusted issuer" \
  "$("$PYTHON" "$tool" sign --key "$K/es384.pem" --alg ES384 --kid es1 \
    --iss https://evil.example.org --aud "$AUD")"
expect_refused "expired" \
  "$(sign --key "$K/es384.pem" --alg ES384 --kid es1 --iat-offset -1000 --exp-offset -700)"
expect_refused "future" \
  "$(sign --key "$K/rs384.pem" --alg RS384 --kid rs1 --iat-offset 900 --exp-offset 1000)"
expect_refused "jti is missing" "$(sign --key "$K/es384.pem" --alg ES384 --kid es1 --omit jti)"
expect_refused "not an RSA key" "$(sign --key "$K/rs384.pem" --alg RS384 --kid es1)"
expect_refused "kid names no key" "$(sign --key "$K/es384.pem" --alg ES384 --kid es9)"
# a replay: the same token twice through one verifier
tok=$(sign --key "$K/es384.pem" --alg ES384 --kid es1)
expect_exit 1 "$check" "$K/jwt.json" "$AUD" "$tok" "$tok"
sed -n 1p "$T/out" | grep -q "^ok " ||
  fail "the first use was not accepted: $(cat "$T/out")"
sed -n 2p "$T/out" | grep -q "^refused: jti was already used" ||
  fail "the replay was not refused: $(cat "$T/out")"

# a configuration the verifier cannot use fails with the file's name
echo '{"issuers": [{"iss": "x", "jwks_file": "nope.json"}]}' >"$K/bad.json"
expect_exit 1 "$check" "$K/bad.json" "$AUD" "$tok"
grep -q "bad.json" "$T/err" || fail "the configuration error does not name the file"
echo "jwt_tool_crosscheck: ok"
