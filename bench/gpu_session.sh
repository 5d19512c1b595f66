#!/bin/bash
# Everything a session with the GPU device should run, in one device call (under 10 minutes).
#
# Here, once:   bash ../shared/tools/gpu-wheels            (nibabel into ./.whl, which git ignores)
# On the device (run tool, carry [".whl"]):   bash bench/gpu_session.sh
# Outputs land in $OUT (the run tool brings them back); copy the tables into bench/RESULTS.md.
set -u
python3 -m pip install -q --no-index --no-deps --upgrade --target /tmp/site .whl/*.whl
export PYTHONPATH=/tmp/site:$PWD
OUT=${OUT:-/tmp/gpusiibra-gpu-session}
mkdir -p "$OUT"
nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv | tee "$OUT/device.txt"
echo "cores: $(nproc)" | tee -a "$OUT/device.txt"
python3 -m pytest -q -m gpu tests 2>&1 | tail -40 | tee "$OUT/pytest_gpu.txt"
python3 bench/bench_engine.py --backends cpu,gpu --n-batch 1000 --repeat 5 2>&1 | tee "$OUT/bench_engine.txt"
python3 bench/bench_demo.py --backends cpu,gpu --repeat 3 2>&1 | tee "$OUT/bench_demo.txt"
python3 bench/bench_batch.py --n 1000 --cpu-n 200 2>&1 | tee "$OUT/bench_batch.txt"
