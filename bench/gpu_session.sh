#!/bin/bash
# Everything a session with the GPU device should run, in one device call (under 10 minutes).
#
# Here, once: fetch the wheels the device's Python lacks into ./.whl (git ignores it), e.g. with the
# project's tool:  bash ../shared/tools/gpu-wheels deflate xxhash   (nibabel, ISA-L and libdeflate inflaters,
# xxhash for the datasets' input checksums, ...)
# On the device (run tool, carry [".whl"]):   bash bench/gpu_session.sh
# It needs nothing outside the repository. Outputs land in $OUT (the run tool brings them back);
# copy the tables into bench/RESULTS.md.
set -u
cd "$(dirname "$0")/.."
if ls .whl/*.whl >/dev/null 2>&1; then
  python3 -m pip install -q --no-index --no-deps --upgrade --target /tmp/site .whl/*.whl
fi
export PYTHONPATH=/tmp/site:$PWD
OUT=${OUT:-/tmp/gpusiibra-gpu-session}
mkdir -p "$OUT"
nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv | tee "$OUT/device.txt"
echo "cores: $(nproc)" | tee -a "$OUT/device.txt"
# the GPU tests, then the kernels' host-emulation and engine tests (they need g++; they skip without it)
python3 -m pytest -q -m gpu tests 2>&1 | tail -40 | tee "$OUT/pytest_gpu.txt"
python3 -m pytest -q tests/test_device_route.py tests/test_kernels.py tests/test_engine.py tests/test_resample.py 2>&1 | tail -15 \
  | tee "$OUT/pytest_engine.txt"
python3 bench/bench_engine.py --backends cpu,gpu --n-batch 1000 --chunk 256 --cpu-procs "$(nproc)" --repeat 5 \
  --json "$OUT/bench_engine.json" 2>&1 | tee "$OUT/bench_engine.txt"
python3 bench/bench_batch.py --n 1000 --cpu-n 200 --readers "$(nproc)" --chunk 256 2>&1 | tee "$OUT/bench_batch.txt"
python3 bench/bench_demo.py --backends cpu,gpu --repeat 3 2>&1 | tee "$OUT/bench_demo.txt"
# realistic maps (issue 19): readers' rows, CPU and GPU batch end to end, one map through the CLI
python3 bench/bench_readers.py --n 1000 --synthetic 500 --readers "$(nproc)" --cpu-n 300 2>&1 \
  | tee "$OUT/bench_readers.txt"
# declared spaces (issue 27): realistic maps with and without a warp on the GPU (appended to the batch's table;
# bounded so that the whole script stays under 8 minutes)
GPUSIIBRA_BACKEND=gpu timeout 150 python3 bench/bench_spaces.py --n 20 --repeat 3 2>&1 | tee -a "$OUT/bench_batch.txt"
