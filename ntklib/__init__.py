"""ntklib: the mathematics of *Influence Malleability in Linearized Attention* (Miñoza, Medina,
Ibañez; arXiv:2603.13085) and the judging of its claims.

The names below are the paper's objects, in the order of the flow (docs/architecture.md):
data -> attention -> kernels and NTKs -> models and training -> influence and attacks -> studies
-> verdicts. Everything else lives in the modules, e.g. ``ntklib.spectra`` (condition numbers),
``ntklib.stats`` (margins and trends), ``ntklib.verdicts`` (rules and outcomes) and
``ntklib.paper`` (the paper's reported numbers). The machinery that runs the notebooks
(parameters, cache, outputs, runner) is ``ntklib.harness``; nothing here imports it.
"""

from . import claims, paper, readings, spectra, stats, verdicts
from .attacks import run_attack
from .attention import attention_features, linear_attention, mean_pairwise_cosine, normalize_rows, truncated_attention
from .convergence import convergence_study
from .data import Dataset, load_task
from .influence import flip_rate, loo_influence, rank_correlation
from .kernels import gram, kernel_target_alignment, linattn_kernel, polynomial_kernel
from .malleability import INTERVENTIONS, interventions_study, malleability_study
from .models import MODELS, NetStack, init_stack, model_inputs
from .nets import attack_points, net_influence, train_nets
from .ntk import analytic_ntk, empirical_ntk, kernel_regression
from .pixels import PixelFeatures, Preprocessing
from .spectra import condition_number, gram_spectrum
from .training import TrainingSettings, train_stack
from .verdicts import Verdict, fmt

__all__ = [
    # data and attention
    "load_task", "Dataset", "linear_attention", "attention_features", "normalize_rows", "truncated_attention",
    "mean_pairwise_cosine",
    # kernels, spectra, NTKs
    "gram", "linattn_kernel", "polynomial_kernel", "kernel_target_alignment", "gram_spectrum", "condition_number",
    "analytic_ntk", "empirical_ntk", "kernel_regression",
    # models and training
    "MODELS", "NetStack", "init_stack", "model_inputs", "TrainingSettings", "train_stack", "train_nets",
    # influence and attacks
    "PixelFeatures", "Preprocessing", "loo_influence", "net_influence", "flip_rate", "rank_correlation",
    "attack_points", "run_attack",
    # studies
    "convergence_study", "malleability_study", "interventions_study", "INTERVENTIONS",
    # judging
    "Verdict", "fmt", "claims", "readings", "stats", "verdicts", "spectra", "paper",
]

__version__ = "0.1.0"
