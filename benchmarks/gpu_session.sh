#!/usr/bin/env bash
# One command for a GPU machine without a package index (this project's lent GPUs): check the
# GPU paths, run the whole paper profile, benchmark on CUDA, and pack everything that changed
# into one archive.
#
#   here:        ../shared/gpu/stage.sh            # notebook toolchain + data into .gpu/
#   on the GPU:  source .gpu/env.sh && bash benchmarks/gpu_session.sh [notebooks...]
#                (device tool: carry [".gpu"], and "build/cache" too to resume an earlier run;
#                timeout_s 600)
#   back here:   tar xzf <files_at>/gpu_outputs.tgz && python -m ntklib --update-readme && git status
#
# RESUME=<archive>.tgz unpacks a committed step cache (build/cache/*.json, e.g.
# benchmarks/gpu_logs/2026-11-30/build_cache.tgz) before the profile, so that a window picks up
# where an earlier one was cut off; its entries serve only while ntklib/*.py is unchanged (the
# cache key holds the code's version), else they are recomputed.
#
# The whole session keeps inside SESSION_LIMIT seconds (default 570, so a 600 s call always ends
# with the archive made): the GPU tests get at most TEST_LIMIT, the profile whatever is left
# but RESERVE seconds (benchmark, trace, archive), the benchmark at most BENCH_LIMIT, the
# batched paths of 04-06 against one net at a time (--batched) at most BATCHED_LIMIT, the
# torch.profiler trace of adversarial training at most TRACE_LIMIT, and the torch.compile trial
# whatever is then left. A cut-off profile keeps every finished step in
# build/cache (in the archive), so a later call that carries it resumes there.
#
# The archive holds figures/ (figures, tables, results, executed notebooks, timings.md with
# wall time and peak GPU memory per notebook), benchmarks/RESULTS.md with a CUDA section
# appended (the benchmark's, the profile's timings.md when it finished, and the torch.compile /
# CUDA graphs trial of the PGD gradient) and build/cache/; session.log, gpu_memory_mib.txt (the
# device's memory in use during the profile, once a second) and gpu_utilization.txt (its busy
# share, once a second) lie beside it.
# JOBS: notebooks at a time (default auto: all at once where CUDA is seen; on an H200 the paper
# profile took 528 s one at a time and 219 s all at once, benchmarks/RESULTS.md).
# PROFILE=quick (with NTKLIB_OUTPUT set) rehearses the session on any machine.
set -uo pipefail
if [ -n "${RESUME:-}" ]; then RESUME=$(realpath "$RESUME"); fi  # a path from where the script was called
cd "$(dirname "$0")/.."
deadline=$((SECONDS + ${SESSION_LIMIT:-570}))
left() { echo $((deadline - SECONDS)); }
at_most() { local a=$1 b; b=$(left); b=$((b - $2)); echo $((a < b ? a : b)); }  # min(a, left - reserve)
out="${OUT:-build/gpu_session}"
profile="${PROFILE:-paper}"
mkdir -p "$out"
log="$out/session.log"
export NTKLIB_PROGRESS=0 PYTHONUNBUFFERED=1  # a readable log: per-notebook lines, no bars
export PYTHONPATH="$PWD${PYTHONPATH:+:$PYTHONPATH}"  # ntklib from this checkout: nothing is installed there
stage() {  # stage NAME LIMIT CMD...: run CMD under a time limit (and its children), log it, return its status
  local name=$1 limit=$2; shift 2
  if ((limit < 5)); then echo "== $name skipped: ${limit} s left for it" | tee -a "$log"; return 124; fi
  echo "== $name (limit ${limit} s; $(left) s left in the session)" | tee -a "$log"
  local t0=$SECONDS
  timeout --kill-after=5 "$limit" "$@" 2>&1 | tee -a "$log"
  local rc=${PIPESTATUS[0]}
  pkill -f '[i]pykernel_launcher' 2>/dev/null  # a kernel left by a cut-off notebook holds the GPU
  echo "== $name: rc=$rc after $((SECONDS - t0)) s" | tee -a "$log"
  return "$rc"
}
{
  date -u
  nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader
  python3 -c 'import sys, torch; print("python", sys.version.split()[0], "torch", torch.__version__,
      "cuda", torch.cuda.is_available())'
} 2>&1 | tee "$log"

if [ -n "${RESUME:-}" ]; then
  if mkdir -p build/cache && tar xzf "$RESUME" build/cache; then
    echo "resumed: $(tar tzf "$RESUME" | grep -c '\.json$') cached steps from $RESUME" | tee -a "$log"
  else
    echo "RESUME=$RESUME could not be unpacked: the profile starts without those steps" | tee -a "$log"
  fi
fi

stage "GPU paths agree with CPU paths (tests/test_cuda.py)" "$(at_most "${TEST_LIMIT:-45}" 0)" \
  python3 -m pytest -q -p no:cacheprovider tests/test_cuda.py
tests_rc=$?

# the device's own count of memory in use (every process, CUDA contexts included) once a second
# while the profile runs: with notebooks side by side, what a smaller card must hold at once
sampler=
if command -v nvidia-smi >/dev/null; then
  nvidia-smi --query-gpu=memory.used --format=csv,noheader,nounits -l 1 > "$out/gpu_memory_mib.txt" 2>/dev/null &
  sampler=$!
  # and the share of each second in which a kernel ran (the driver's utilization.gpu)
  nvidia-smi --query-gpu=utilization.gpu --format=csv,noheader,nounits -l 1 > "$out/gpu_utilization.txt" 2>/dev/null &
  sampler="$sampler $!"
fi
stage "$profile profile" "$(($(left) - ${RESERVE:-120}))" python3 -m ntklib --profile "$profile" --jobs "${JOBS:-auto}" "$@"
run_rc=$?
if [ -n "$sampler" ]; then
  kill $sampler 2>/dev/null
  echo "GPU memory in use during the profile (nvidia-smi, every process, sampled each second): at most" \
    "$(sort -n "$out/gpu_memory_mib.txt" | tail -1) MiB" | tee -a "$log"
  echo "GPU busy during the profile (nvidia-smi utilization.gpu, each second): mean" \
    "$(awk '$1 ~ /^[0-9]+$/ {s += $1; n++} END {if (n) printf "%.0f%% over %d s", s / n, n; else printf "no sample"}' "$out/gpu_utilization.txt")" | tee -a "$log"
fi

bench=(python3 benchmarks/ntk_benchmark.py --device cuda --n 2000 --d 3072 --width 1024 --train-n 1000
       --train-widths 16 32 64 128 256 512 1024 2048 4096 --adv-n 1000 --adv-width 1024)
[ "$profile" = paper ] || bench=(python3 benchmarks/ntk_benchmark.py --out "$out/RESULTS.md")  # rehearsal: small, CPU
stage "benchmark" "$(at_most "${BENCH_LIMIT:-90}" 15)" "${bench[@]}"
bench_rc=$?

batched=(python3 benchmarks/ntk_benchmark.py --batched --device cuda --adv-n 1000 --adv-width 1024)
[ "$profile" = paper ] || batched=(python3 benchmarks/ntk_benchmark.py --batched --out "$out/RESULTS.md" --adv-n 200 --adv-width 64)
stage "batched paths of 04-06 against one net or reading at a time" "$(at_most "${BATCHED_LIMIT:-40}" 10)" "${batched[@]}"

trace=(python3 benchmarks/ntk_benchmark.py --trace --device cuda --d 3072 --adv-n 1000 --adv-width 1024)
[ "$profile" = paper ] || trace=(true)
stage "where adversarial training spends its time (torch.profiler)" "$(at_most "${TRACE_LIMIT:-40}" 10)" "${trace[@]}"

if ((run_rc == 0)) && [ "$profile" = paper ]; then  # the profile's own timings, beside the benchmark
  { echo; echo "Whole profile, notebook by notebook (\`benchmarks/gpu_session.sh\`: \`python -m ntklib --profile paper\`):"
    echo; cat figures/timings.md; } >> benchmarks/RESULTS.md
fi

compile=(python3 benchmarks/ntk_benchmark.py --compile --device cuda --d 3072 --adv-n 1024 --adv-width 1024)
[ "$profile" = paper ] || compile=(true)
stage "torch.compile of the PGD gradient (rows kept as measured; a cut-off is not a failure)" \
  "$(($(left) - 10))" "${compile[@]}"

echo "tests rc=$tests_rc, $profile profile rc=$run_rc, benchmark rc=$bench_rc; $(left) s left" | tee -a "$log"
tar czf "$out/gpu_outputs.tgz" --exclude=.staging --exclude='.*.tmp.*' figures benchmarks/RESULTS.md $(ls -d build/cache 2>/dev/null)
ls -la "$out"
exit $((tests_rc || run_rc || bench_rc))
