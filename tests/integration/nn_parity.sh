#!/usr/bin/env bash
# nn_parity.sh - checks the transformer (src/nn) against PyTorch: tests/tools/nn_dump writes a
# tiny model's weights (tied and untied output), its logits, loss and gradients on a fixed batch
# with ignored targets, and its weights after 5 AdamW steps; nn_parity.py recomputes all of it
# with its own PyTorch implementation (float64) and compares within 1e-4 relative per tensor.
# Needs $MEDFM_TEST_TOOLS and $PYTHON with torch and numpy.
set -euo pipefail

: "${MEDFM_TEST_TOOLS:?set MEDFM_TEST_TOOLS to the test tools folder}"
PYTHON="${PYTHON:-python3}"
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"

if ! "$PYTHON" -c 'import torch, numpy' 2>/dev/null; then
    echo "nn_parity: $PYTHON has no torch or numpy" >&2
    exit 1
fi

BASE="${MEDFM_TEST_TMP:-/tmp}"
mkdir -p "$BASE"
TMP="$(mktemp -d "$BASE/nn_parity.XXXXXX")"
trap 'rm -rf "$TMP"' EXIT

"$MEDFM_TEST_TOOLS/nn_dump" "$TMP"
"$PYTHON" "$HERE/nn_parity.py" "$TMP"
# the same weights and gradients from one thread and from all
OMP_NUM_THREADS=1 "$MEDFM_TEST_TOOLS/nn_dump" "$TMP/one"
"$PYTHON" "$HERE/nn_parity.py" "$TMP/one" >/dev/null
echo "nn_parity: ok"
