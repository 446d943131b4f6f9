#!/usr/bin/env bash
# metrics_sklearn.sh - the evaluation metrics (src/eval/metrics.c) against scikit-learn and
# numpy: tests/tools/metrics_tool computes every metric, curve, percentile interval and
# bootstrap replicate on cases that metrics_sklearn.py generates (random and heavily tied
# scores, tiny and imbalanced samples, one class, separable classes, scores on the bins'
# edges, with and without integer weights including zeros), and metrics_sklearn.py compares
# them with scikit-learn's within 1e-9 (see there).  Needs $PYTHON with numpy and sklearn
# (python3-sklearn, installed by scripts/setup.sh).
. "$(dirname "$0")/lib.bash"
: "${MEDFM_TEST_TOOLS:?MEDFM_TEST_TOOLS must point at the test tools}"
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"

if ! "$PYTHON" -c 'import numpy, sklearn' 2>/dev/null; then
  fail "$PYTHON has no numpy or sklearn (scripts/setup.sh installs python3-sklearn)"
fi
"$PYTHON" "$HERE/metrics_sklearn.py" "$MEDFM_TEST_TOOLS/metrics_tool" "$T"
echo "metrics_sklearn: ok"
