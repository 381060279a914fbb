"""One table of the scale probe (run.sh), with the paper profile's H200 run of notebook 04 beside it: per configuration and input reading, 2L-ReLU's and
MLP-Attn's PGD flip rates, the PGD ratio, and the all-attack verdict with PGD's lead beyond
noise, read from each run's own tables and results file. Run from the repository root:
python benchmarks/cpu_logs/2026-11-30-scale-probe/summarise.py > .../summary.md"""
import csv
import json
import re
from pathlib import Path

here = Path(__file__).parent
figures = here.parents[2] / "figures"  # the paper profile's H200 run
# (label, output folder, task); the last rows are the paper profile's settings (9 runs) on MNIST, then
# on CIFAR-10 with centred inputs (raw inputs leave MLP-Attn at chance there)
configs = [("reduced: n = 500, m = 512, 200 epochs, absolute ridge 1e-3", here / "base" / "reduced", "mnist"),
           ("n = 1,000", here / "n1000" / "reduced", "mnist"),
           ("m = 1,024", here / "m1024" / "reduced", "mnist"),
           ("500 epochs", here / "epochs500" / "reduced", "mnist"),
           ("n = 1,000, ridge 0.1 x mean diagonal", here / "n1000_ridge0.1" / "reduced", "mnist"),
           ("n = 1,000, ridge 1 x mean diagonal", here / "n1000_ridge1" / "reduced", "mnist"),
           ("paper profile (H200, `figures/`): absolute ridge 1e-3", figures, "mnist"),
           ("paper profile, ridge 0.1 x mean diagonal", here / "paper_ridge0.1" / "paper", "mnist"),
           ("paper profile, ridge 1 x mean diagonal", here / "paper_ridge1" / "paper", "mnist"),
           ("paper profile, no weight decay (absolute ridge 1e-3)", here / "paper_decay_none" / "paper", "mnist"),
           ("paper profile (H200, `figures/`): absolute ridge 1e-3", figures, "cifar10"),
           ("paper profile, ridge 0.1 x mean diagonal", here / "paper_cifar10_ridge0.1" / "paper", "cifar10"),
           ("paper profile, ridge 1 x mean diagonal", here / "paper_cifar10_ridge1" / "paper", "cifar10")]


def ours(cell: str) -> str:
    return cell.split(" / ", 1)[1]


print("| task | setting changed from the reduced profile | inputs | 2L-ReLU PGD flip % | MLP-Attn PGD flip % "
      "| PGD ratio | verdict (all attacks beyond noise) | PGD lead beyond noise (points) |")
print("|---|---|---|---|---|---|---|---|")
for label, out, task in configs:
    results = out / "results" / "04_influence_malleability.json"
    if not results.is_file():
        continue  # not run yet
    tables = out / "04_influence_malleability"
    rates = {(r["inputs"], r["model"]): r for r in csv.DictReader((tables / "flip_rates.csv").open())
             if r["task"] == task}
    ratios = {r["inputs"]: r for r in csv.DictReader((tables / "flip_ratio.csv").open()) if r["task"] == task}
    verdicts = json.loads(results.read_text())["verdicts"]
    for verdict in (v for v in verdicts if v["check"].startswith(f"{task}: MLP-Attn more malleable")):
        inputs = re.search(r"reading (\w+) inputs", verdict["ours"]).group(1)
        lead = re.search(r"PGD (-?[\d.]+ \[[^\]]+\])", verdict["ours"]).group(1)
        pgd = "PGD flip % (paper / ours [95%])"
        print(f"| {task} | {label} | {inputs} | {ours(rates[inputs, '2L-ReLU'][pgd])} "
              f"| {ours(rates[inputs, 'MLP-Attn'][pgd])} | {ours(ratios[inputs]['PGD ratio (paper / ours [95%])'])} "
              f"| {verdict['status']} | {lead} |")
