#!/usr/bin/env bash
# train_mpi.sh - data-parallel training: `mpirun -np 2 medfm train` against one process with the
# same global batch gives the same loss curve (within float tolerance) and close weights; the
# ranks check after every logged step that their weights are identical (the run fails if not).
# Skipped when medfm was built without MPI or mpirun is missing.
. "$(dirname "$0")/lib.bash"

ldd "$MEDFM" >"$T/ldd"
if ! command -v mpirun >/dev/null || ! grep -q libmpi "$T/ldd"; then
  echo "train_mpi: medfm built without MPI or no mpirun: skipped" >&2
  exit 0
fi
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 OMPI_MCA_rmaps_base_oversubscribe=1
export OMPI_MCA_btl=self,vader OMPI_MCA_btl_vader_single_copy_mechanism=none
# Open MPI keeps some of its own allocations to the end: not ours to report under ASan
export ASAN_OPTIONS=${ASAN_OPTIONS:+$ASAN_OPTIONS:}detect_leaks=0

"$MEDFM" synth --quiet --patients 80 --seed 4 --out "$T/cohort"
"$MEDFM" ingest --quiet --format ndjson --no-deid --out "$T/store" "$T/cohort"
args=(--store "$T/store" --preset tiny --steps 12 --batch 4 --accum 2 --threads 1 --seed 2
  --eval-every 6 --eval-windows 8 --log-every 1 --quiet)

"$MEDFM" train "${args[@]}" --out "$T/one"
mpirun -np 2 "$MEDFM" train "${args[@]}" --out "$T/two" >"$T/mpi.log" 2>&1 ||
  { cat "$T/mpi.log" >&2; fail "mpirun -np 2 medfm train failed"; }

"$PYTHON" - "$T/one" "$T/two" <<'PY' || fail "two ranks do not match one process"
import json, struct, sys, os
import numpy as np
a, b = (json.load(open(os.path.join(d, "training.json"))) for d in sys.argv[1:])
la = np.array([l for _, l in a["train_loss"]]); lb = np.array([l for _, l in b["train_loss"]])
assert len(la) == len(lb) == 12
assert np.max(np.abs(la - lb) / np.abs(la)) < 1e-4, (la, lb)
def weights(d):
    raw = open(os.path.join(d, "model.safetensors"), "rb").read()
    n = struct.unpack("<Q", raw[:8])[0]
    return np.frombuffer(raw[8 + n:], dtype="<f4")
wa, wb = weights(sys.argv[1]), weights(sys.argv[2])
assert wa.shape == wb.shape
rel = np.linalg.norm(wa - wb) / np.linalg.norm(wa)
assert rel < 1e-4, rel
print(f"two ranks: max loss difference {np.max(np.abs(la - lb) / np.abs(la)):.2e}, "
      f"weights {rel:.2e}")
PY
echo "train_mpi: ok"
