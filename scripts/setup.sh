#!/usr/bin/env bash
# setup.sh - install every Debian package medfm needs to build, test and benchmark.
# Safe to re-run: when everything is present it changes nothing and does not touch the network.
set -euo pipefail

packages=(
  build-essential cmake ninja-build pkg-config   # build
  libcjson-dev zlib1g-dev nettle-dev             # runtime libraries (JSON, gzip, SHA-256)
  libopenblas-openmp-dev                         # matrix products of the transformer
  libopenmpi-dev openmpi-bin                     # data-parallel training across processes
  libyaml-dev                                    # task definitions (ACES YAML)
  liblinear-dev                                  # linear probes on patient embeddings, logistic baseline
  libxgboost-dev                                 # gradient-boosted tree baseline (evaluation)
  libmicrohttpd-dev libgnutls28-dev gnutls-bin   # the HTTP server and TLS (certtool: test certs)
  libsqlite3-dev libpq-dev postgresql            # server state: SQLite, or a shared PostgreSQL
  libjwt-gnutls-dev                              # CDS Hooks JWTs (ES384/RS384)
  python3-jwt python3-cryptography               # signing test JWTs in the server tests
  wrk nginx-light                                # server benchmark and its baseline
  python3-sklearn                                # metric oracle for the evaluation tests
  python3-torch python3-numpy                    # the training engine's reference (parity tests)
  libcmocka-dev                                  # unit tests
  python3 xz-utils time                          # test oracles, unpacking the data, peak RSS
  python3-fake-factory                           # name and place lists for the synthetic cohort
  wamerican iso-codes                            # English words, country names (text de-id lexicon)
  clang libclang-rt-14-dev                       # libFuzzer targets
  clang-format clang-tidy cppcheck               # lint
)

missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -eq 0 ]; then
  exit 0
fi
echo "setup: installing ${missing[*]}" >&2
SUDO=
if [ "$(id -u)" -ne 0 ]; then
  SUDO=sudo
fi
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
