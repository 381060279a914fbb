#!/usr/bin/env bash
# Which setting makes 2L-ReLU's influence signs fragile at paper scale? Notebook 04 on 10-class
# MNIST (raw and centred inputs) from the reduced profile (n = 500, m = 512, 200 epochs, 3 seeds
# x 2 subsets, float64), changing one setting at a time to its paper value. Run from the
# repository root: bash benchmarks/cpu_logs/2026-11-30-scale-probe/run.sh
set -euo pipefail
here=benchmarks/cpu_logs/2026-11-30-scale-probe
common=(--profile reduced --set 'tasks=[mnist]' --set 'binary_tasks=[]' --set 'sweep_attacks=[PGD]')
probe() {  # probe NAME SETTINGS...: one notebook-04 run into $here/NAME, its log beside it
  local name=$1; shift
  NTKLIB_OUTPUT="$here/$name" OMP_NUM_THREADS=1 python -m ntklib "${common[@]}" "$@" 04_influence_malleability \
    > "$here/$name.log" 2>&1
}
probe base &
probe n1000 --set n_train=1000 --set n_test=500 &
wait
probe m1024 --set width=1024 &
probe epochs500 --set epochs=500 &
wait
# then: is it the paper's absolute ridge against the larger kernel? n = 1,000 with the ridge
# relative to each kernel's scale (0.1 and 1 times its mean diagonal)
probe n1000_ridge0.1 --set n_train=1000 --set n_test=500 --set ridge_scale=mean_diagonal --set ridge=0.1 &
probe n1000_ridge1 --set n_train=1000 --set n_test=500 --set ridge_scale=mean_diagonal --set ridge=1.0 &
wait
# finally: the paper profile's own settings (n = 1,000, m = 1,024, 500 epochs, 3 seeds x 3
# subsets) on MNIST with the ridge on the kernel's scale, beside the H200's run at the literal
# absolute ridge (figures/04_influence_malleability/)
paper=(--profile paper --set 'tasks=[mnist]' --set 'binary_tasks=[]' --set 'sweep_attacks=[PGD]')
NTKLIB_OUTPUT="$here/paper_ridge1" OMP_NUM_THREADS=1 python -m ntklib "${paper[@]}" --set ridge_scale=mean_diagonal \
  --set ridge=1.0 04_influence_malleability > "$here/paper_ridge1.log" 2>&1 &
NTKLIB_OUTPUT="$here/paper_ridge0.1" OMP_NUM_THREADS=1 python -m ntklib "${paper[@]}" --set ridge_scale=mean_diagonal \
  --set ridge=0.1 04_influence_malleability > "$here/paper_ridge0.1.log" 2>&1 &
wait
# then the same on 10-class CIFAR-10 (exact pixels), centred inputs only: with raw inputs MLP-Attn
# sits at chance there (figures/04_influence_malleability/), so every verdict is inconclusive by rule;
# beside them, whether the weight-decay reading alone decides it at the paper's settings: MNIST
# without weight decay at the literal absolute ridge (the reduced 04b's ridge sweep, judged by
# PGD's lead alone, held at every ridge without decay)
cifar=(--profile paper --set 'tasks=[cifar10]' --set 'binary_tasks=[]' --set 'sweep_attacks=[PGD]' --set 'preprocessings=[centred]')
for ridge in 1.0 0.1; do
  NTKLIB_OUTPUT="$here/paper_cifar10_ridge${ridge%.0}" OMP_NUM_THREADS=1 python -m ntklib "${cifar[@]}" \
    --set ridge_scale=mean_diagonal --set ridge=$ridge 04_influence_malleability > "$here/paper_cifar10_ridge${ridge%.0}.log" 2>&1 &
done
NTKLIB_OUTPUT="$here/paper_decay_none" OMP_NUM_THREADS=1 python -m ntklib "${paper[@]}" --set weight_decay_mode=none \
  04_influence_malleability > "$here/paper_decay_none.log" 2>&1 &
wait
