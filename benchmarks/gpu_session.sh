#!/usr/bin/env bash
# One command for a GPU machine without a package index (this project's lent GPUs): check the
# GPU paths, run the whole paper profile, benchmark on CUDA, and pack everything that changed
# into one archive.
#
#   here:        ../shared/gpu/stage.sh            # notebook toolchain + data into .gpu/
#   on the GPU:  source .gpu/env.sh && bash benchmarks/gpu_session.sh [notebooks...]
#                (device tool: carry [".gpu"], and "build/cache" too to resume an earlier run;
#                timeout_s 600: the limits below add up to 590 s, so the archive is always made)
#   back here:   tar xzf <files_at>/gpu_outputs.tgz && python -m ntklib.run --update-readme && git status
#
# The archive holds figures/ (figures, tables, results, executed notebooks, timings.md with
# wall time and peak GPU memory per notebook), benchmarks/RESULTS.md with a CUDA section
# appended (and one on torch.compile / CUDA graphs of the PGD gradient) and build/cache/ (what a
# rerun can reuse); session.log lies beside it. Time limits in seconds: TEST_LIMIT,
# PROFILE_LIMIT, BENCH_LIMIT, COMPILE_LIMIT.
set -uo pipefail
cd "$(dirname "$0")/.."
out="${OUT:-build/gpu_session}"
mkdir -p "$out"
log="$out/session.log"
export NTKLIB_PROGRESS=0 PYTHONUNBUFFERED=1  # a readable log: per-notebook lines, no bars
export PYTHONPATH="$PWD${PYTHONPATH:+:$PYTHONPATH}"  # ntklib from this checkout: nothing is installed there
{
  date -u
  nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader
  python3 -c 'import sys, torch; print("python", sys.version.split()[0], "torch", torch.__version__,
      "cuda", torch.cuda.is_available())'
} 2>&1 | tee "$log"

echo "== GPU paths agree with CPU paths (tests/test_cuda.py)" | tee -a "$log"
timeout "${TEST_LIMIT:-50}" python3 -m pytest -q -p no:cacheprovider tests/test_cuda.py 2>&1 | tee -a "$log"
tests_rc=${PIPESTATUS[0]}

echo "== paper profile" | tee -a "$log"
timeout "${PROFILE_LIMIT:-400}" python3 -m ntklib.run --profile paper "$@" 2>&1 | tee -a "$log"
run_rc=${PIPESTATUS[0]}

echo "== benchmark" | tee -a "$log"
timeout "${BENCH_LIMIT:-90}" python3 benchmarks/ntk_benchmark.py --device cuda --n 2000 --d 3072 --width 1024 \
  --train-n 1000 --train-widths 16 32 64 128 256 512 1024 2048 4096 --adv-n 1000 --adv-width 1024 2>&1 | tee -a "$log"
bench_rc=${PIPESTATUS[0]}

echo "== torch.compile of the PGD gradient (rows kept as measured; a cut-off is not a failure)" | tee -a "$log"
timeout "${COMPILE_LIMIT:-50}" python3 benchmarks/ntk_benchmark.py --compile --device cuda --d 3072 \
  --adv-n 1024 --adv-width 1024 2>&1 | tee -a "$log"
echo "torch.compile trial rc=${PIPESTATUS[0]}" | tee -a "$log"

echo "tests rc=$tests_rc, paper profile rc=$run_rc, benchmark rc=$bench_rc" | tee -a "$log"
tar czf "$out/gpu_outputs.tgz" figures benchmarks/RESULTS.md $(ls -d build/cache 2>/dev/null)
ls -la "$out"
exit $((tests_rc || run_rc || bench_rc))
