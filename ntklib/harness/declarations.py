"""One declaration per notebook parameter: its type, the values it may take and what it means.

Notebooks share parameter names (``eps``, ``seeds``, ``width``, ...): each name is declared once
here, and every value is checked against its declaration wherever it comes from (a notebook's
parameters cell, a profile file, ``--set``, ``papermill -p``/``-y``), before any compute: by the
runner before a kernel starts and by ``nh.start`` inside the notebook
(:func:`ntklib.harness.params.check_parameters`). ``python -m ntklib --describe NN`` lists a
notebook's parameters from here. A notebook parameter without a declaration is an error
(``tests/test_declarations.py``).

Numbers are checked against an interval written as in mathematics (``"(0, 1]"``; ``inf`` for no
bound; always finite), text against its choices or a pattern, lists element by element (and
must be non-empty, without repeats). A float parameter takes an integer (converted).
"""

from __future__ import annotations

import difflib
import math
import re
from dataclasses import dataclass, field

from ..attacks import ATTACKS, NOISES
from ..influence import RIDGE_SCALES
from ..pixels import PREPROCESSINGS
from ..data import TASKS
from ..runtime import DTYPES
from ..training import WEIGHT_DECAY_MODES

__all__ = ["Parameter", "PARAMETERS"]

_KINDS = {int: "an integer", float: "a number", str: "text", bool: "True or False"}
_INTERVAL = re.compile(r"([\[(])\s*([^,\s]+)\s*,\s*([^\]\s)]+)\s*([\])])")


@dataclass(frozen=True)
class Parameter:
    """A parameter's declaration. ``values``: an interval such as ``"[1, inf)"`` (numbers), a
    tuple of choices or a compiled pattern (text), or ``None`` (any value of the kind)."""

    kind: type  # int, float, str or bool; of each element for a list
    meaning: str
    values: str | tuple[str, ...] | re.Pattern | None = None
    is_list: bool = False  # a non-empty list of distinct values
    may_be_empty: bool = False  # a list that may be empty (e.g. no binary tasks)
    _bounds: tuple = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        bounds = ()
        if isinstance(self.values, str):
            match = _INTERVAL.fullmatch(self.values)
            if match is None or self.kind not in (int, float):
                raise ValueError(f"not an interval of numbers: {self.values!r}")
            bounds = (match[1] == "(", float(match[2]), float(match[3]), match[4] == ")")
        object.__setattr__(self, "_bounds", bounds)

    def describe(self) -> str:
        """The kind and allowed values, in words: ``a list of integers in [1, inf)``."""
        kind = _KINDS[self.kind]
        if self.is_list:
            kind = ("a list of distinct " if self.may_be_empty else "a non-empty list of distinct ") + {
                int: "integers", float: "numbers", str: "names"}[self.kind]
        if isinstance(self.values, str):
            return f"{kind} in {self.values}"
        if isinstance(self.values, tuple):
            return f"{kind}, {'each ' if self.is_list else ''}one of: {', '.join(self.values)}"
        if isinstance(self.values, re.Pattern):
            return f"{kind} matching {self.values.pattern}"
        return kind

    def problem(self, value: object) -> str | None:
        """What is wrong with ``value`` (``None`` when it is valid), as the end of a sentence
        that begins with the value."""
        if not self.is_list:
            return self._scalar_problem(value)
        if not isinstance(value, list | tuple):
            return f"is {_article(value)}, but must be {self.describe()}"
        if not value and not self.may_be_empty:
            return f"is empty, but must be {self.describe()}"
        for item in value:
            problem = self._scalar_problem(item)
            if problem:
                return f"holds {item!r}, which {problem}"
        repeated = sorted({repr(v) for v in value if list(value).count(v) > 1})
        return f"repeats {', '.join(repeated)}" if repeated else None

    def _scalar_problem(self, value: object) -> str | None:
        number = isinstance(value, int | float) and not isinstance(value, bool)
        ok = {int: isinstance(value, int) and not isinstance(value, bool), float: number,
              bool: isinstance(value, bool), str: isinstance(value, str)}[self.kind]
        if not ok:
            return f"is {_article(value)}, but must be {_KINDS[self.kind]}"
        if self._bounds:
            low_open, low, high, high_open = self._bounds
            inside = math.isfinite(value) and (low < value if low_open else low <= value) and (
                value < high if high_open else value <= high)
            return None if inside else f"is outside {self.values}"
        if isinstance(self.values, tuple) and value not in self.values:
            close = [c for c in self.values if c.lower() == value.lower()] or difflib.get_close_matches(
                value, self.values, n=1)
            return f"is not one of {', '.join(self.values)}" + (f" (did you mean '{close[0]}'?)" if close else "")
        if isinstance(self.values, re.Pattern) and not self.values.fullmatch(value):
            return f"does not match {self.values.pattern}"
        return None

    def convert(self, value: object) -> object:
        """``value`` with integers turned into floats where the parameter is a float."""
        if self.kind is not float:
            return value
        return [float(v) for v in value] if self.is_list else float(value)


def _article(value: object) -> str:
    return {bool: "a bool", int: "an int", float: "a float", str: "a str", list: "a list", tuple: "a tuple",
            dict: "a dict", type(None): "None"}.get(type(value), f"a {type(value).__name__}")


_TEN_CLASS = tuple(t for t, (_, keep) in TASKS.items() if keep is None)
_BINARY = tuple(t for t, (_, keep) in TASKS.items() if keep is not None and len(keep) == 2)
_SIZE = "[1, inf)"
_POSITIVE = "(0, inf)"
_RATE = "(0, 1)"  # relative tolerances
_ANY = "(-inf, inf)"

PARAMETERS: dict[str, Parameter] = {
    # where and how
    "profile": Parameter(str, "output profile: quick -> build/quick/, paper -> figures/ (the committed outputs, "
                         "written only with the paper profile's own parameters)", re.compile(r"[A-Za-z0-9_-]+")),
    "device": Parameter(str, "torch device: auto = a CUDA GPU when present, else the CPU",
                        re.compile(r"auto|cpu|cuda(:\d+)?")),
    "dtype": Parameter(str, "precision nets are trained and attacked in (kernels are float64 whatever it is)",
                       tuple(DTYPES)),
    "seed": Parameter(int, "seed of the data subsets (and of what else the notebook draws at random)", "[0, inf)"),
    "subsets": Parameter(int, "seeds of independent class-balanced data subsets; the runs are seeds x subsets, the "
                         "unit the intervals come from", "[0, inf)", is_list=True),
    # data
    "tasks": Parameter(str, "10-class tasks (data sets)", _TEN_CLASS, is_list=True),
    "binary_tasks": Parameter(str, "binary tasks (MSE, targets +-1)", _BINARY, is_list=True, may_be_empty=True),
    "decay_check_tasks": Parameter(str, "tasks trained again under the other weight_decay_mode (among tasks)",
                                   _TEN_CLASS, is_list=True),
    "n_train": Parameter(int, "training points per task (class-balanced)", _SIZE),
    "n_validation": Parameter(int, "validation points per task, held out from the training split: the influences "
                              "that select points are measured there, never on the test split", _SIZE),
    "n_test": Parameter(int, "test points per task", _SIZE),
    "n_train_binary": Parameter(int, "training points per binary task (class-balanced)", _SIZE),
    "n_test_binary": Parameter(int, "test points per binary task", _SIZE),
    "n_check": Parameter(int, "training points for the identity checks of the Gram-induced kernel", _SIZE),
    "n_pairs": Parameter(int, "pairs of points evaluated by the literal double sum over chains", _SIZE),
    "n_figure": Parameter(int, "points shown in the kernel heat maps", _SIZE),
    "n_sweep": Parameter(int, "training-set sizes of the flip rate against n", _SIZE, is_list=True),
    "sizes": Parameter(int, "n grid of the condition-number curves", _SIZE, is_list=True),
    "sensitivity_sizes": Parameter(int, "n grid of the sensitivity check (nested subsets)", _SIZE, is_list=True),
    "sensitivity_points": Parameter(int, "perturbed points per n in the sensitivity check", _SIZE),
    "sensitivity_eps": Parameter(float, "l2 norm of each perturbation in the sensitivity check", _POSITIVE),
    "depth_n": Parameter(int, "points of the depth check", _SIZE),
    "init_n": Parameter(int, "points of the initialisation check", _SIZE),
    "reference_n": Parameter(int, "n at which the measured condition number is compared with the paper's", _SIZE),
    # models and training
    "width": Parameter(int, "hidden width m of the trained nets", _SIZE),
    "widths": Parameter(int, "hidden widths m", _SIZE, is_list=True),
    "init_widths": Parameter(int, "hidden widths of the initialisation check", _SIZE, is_list=True),
    "seeds": Parameter(int, "initialisation seeds, one net per seed", "[0, inf)", is_list=True),
    "init_seeds": Parameter(int, "initialisation seeds of the initialisation check", "[0, inf)", is_list=True),
    "epochs": Parameter(int, "training epochs", _SIZE),
    "learning_rate": Parameter(float, "Adam's learning rate", _POSITIVE),
    "batch_size": Parameter(int, "minibatch size", _SIZE),
    "weight_decay": Parameter(float, "weight decay (0: none)", "[0, inf)"),
    "weight_decay_mode": Parameter(str, "l2: L2 term in Adam's gradient (the paper's wording) | decoupled: AdamW | none: "
                                   "no decay (weight_decay ignored)",
                                   WEIGHT_DECAY_MODES),
    "normalize_relu_inputs": Parameter(bool, "l2-normalise 2L-ReLU's raw inputs too"),
    "ridge": Parameter(float, "ridge of the NTK kernel regression (absolute, or a multiple of the kernel's mean "
                       "diagonal: ridge_scale)", _POSITIVE),
    "ridge_scale": Parameter(str, "absolute: lambda = ridge (the paper's literal reading) | mean_diagonal: lambda = "
                             "ridge x mean of the kernel's diagonal, fixed from the clean kernel", RIDGE_SCALES),
    "ridge_multiples": Parameter(float, "ridge sweep: multiples of the kernel's mean diagonal", _POSITIVE,
                                 is_list=True),
    "ridge_readings": Parameter(str, "readings (preprocessing/weight_decay_mode, among those of the grid) whose trained "
                                "nets also serve the ridge sweep, on every task", re.compile(
                                    rf"({'|'.join(PREPROCESSINGS)})/({'|'.join(WEIGHT_DECAY_MODES)})"), is_list=True),
    "preprocessings": Parameter(str, "input readings, one verdict (or set of verdicts) each: raw [0, 1] pixels (the "
                                "paper's literal reading) | centred: per-pixel training mean removed | standardised: "
                                "centred / one global std; part of the model, attacks stay in [0, 1] pixels",
                                PREPROCESSINGS, is_list=True),
    "weight_decay_modes": Parameter(str, "weight-decay readings of the readings grid (see weight_decay_mode)",
                                    WEIGHT_DECAY_MODES, is_list=True),
    "noises": Parameter(str, "noise baselines of every flip rate: random L-inf perturbations of the same radius "
                        "(uniform: U(-eps, eps) per pixel; sign: +-eps)", NOISES, is_list=True),
    "temperature_multiples": Parameter(float, "softmax attention's temperatures T as multiples of sqrt(d) (spectra and "
                                       "kernels); the smallest and largest are the sweep's ends", _POSITIVE,
                                       is_list=True),
    "trained_multiples": Parameter(float, "temperatures (multiples of sqrt(d)) at which softmax-attention nets are "
                                   "trained and attacked; 1 (T = sqrt(d)) is always added", _POSITIVE, is_list=True),
    "depths": Parameter(int, "numbers of stacked attention layers", _SIZE, is_list=True),
    "truncation_ranks": Parameter(int, "ranks r of truncated (top-r) attention", _SIZE, is_list=True),
    # attacks
    "tau": Parameter(float, "share of training points attacked (or curated), the most influential", "(0, 1]"),
    "eps": Parameter(float, "L-inf radius of the perturbations, on [0, 1] pixels", "(0, 1]"),
    "eps_sweep": Parameter(float, "L-inf radii of the sweep", "(0, 1]", is_list=True),
    "train_eps": Parameter(float, "L-inf radius of adversarial training", "(0, 1]"),
    "attacks": Parameter(str, "attacks of the main tables", ATTACKS, is_list=True),
    "sweep_attacks": Parameter(str, "attacks of the eps sweep", ATTACKS, is_list=True),
    "attack_steps": Parameter(int, "iterations of PGD and MIM (attacks and adversarial training)", _SIZE),
    # the rules of the verdicts
    "identity_rtol": Parameter(float, "relative tolerance of the exact identities (float64)", _RATE),
    "identity_floor": Parameter(float, "smallest relative tolerance of kappa(G~) against kappa(G)^3", _RATE),
    "depth_rtol": Parameter(float, "relative tolerance on the measured exponent 2k+1", _RATE),
    "error_bound_safety": Parameter(float, "safety factor of the eigensolver's backward-error tolerance", _POSITIVE),
    "direct_limit": Parameter(float, "measure kappa(G~) directly only while kappa(G)^3 stays below this", "[1, inf)"),
    "ratio_band": Parameter(float, "'about': a ratio must lie in [1/band, band]", "[1, inf)"),
    "limit_cosine_min": Parameter(float, "a temperature sweep's end reproduces its limit model: the mean cosine "
                                  "between the two models' inputs must reach this", "(0, 1]"),
    "parity_band": Parameter(float, "'about 1x': a flip-rate ratio must lie in [1/band, band]", "[1, inf)"),
    "growth_slope_min": Parameter(float, "'grows with n': the log-log slope must exceed this", _ANY),
    "truncation_slope_max": Parameter(float, "'bounded': the growth exponent in n must stay below this", _ANY),
    "mc_slope_band": Parameter(float, "Monte-Carlo rate holds if the log-log slope is within this of -1/2", _POSITIVE),
    "width_eps": Parameter(float, "the eps of the width bound kappa^6 / eps^2", _POSITIVE),
    "bound_decades": Parameter(float, "agreement of the paper's width bound with kappa^6, in decades", _POSITIVE),
    # NTK theory's own test (notebook 03b)
    "steps": Parameter(int, "full-batch gradient descent steps", _SIZE),
    "eta_scale": Parameter(float, "gradient descent step size as a multiple of 1 / lambda_max(K_inf) (below 2)", "(0, 2)"),
    "init_sizes": Parameter(int, "training-set sizes n of the kernel errors at initialisation", _SIZE, is_list=True),
    "whitened_level": Parameter(float, "width threshold: where the whitened kernel error falls below this", _POSITIVE),
    "laziness_widths": Parameter(int, "hidden widths of the first-step output change", _SIZE, is_list=True),
    "laziness_seeds": Parameter(int, "initialisation seeds of the first-step output change", "[0, inf)", is_list=True),
    "laziness_steps": Parameter(int, "steps after which the output change is measured", _SIZE),
    "adam_learning_rate": Parameter(float, "Adam's learning rate in the laziness comparison", _POSITIVE),
    "min_fitted_share": Parameter(float, "share of ||Y||^2 a gradient descent horizon must reach to be judged", "(0, 1]"),
    # the readings grid (notebook 07)
    "claims": Parameter(str, "claims judged across the readings of the grid (verdicts' claim names)",
                        ("Malleability", "Adversarial training", "Dual implication", "Thm 4.7", "Thm 4.2 / 4.7",
                         "NTK distance"), is_list=True),
}
