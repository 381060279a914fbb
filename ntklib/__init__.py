"""ntklib: support library for reproducing *Influence Malleability in Linearized Attention*
(Miñoza, Medina, Ibañez; arXiv:2603.13085). Notebooks call what is re-exported here."""

from . import (attacks, attention, cache, convergence, data, influence, kernels, malleability, models, ntk, paper,
               params, paths, plotting, results, runtime, spectra, training)
from .attention import (attention_features, linear_attention, mean_pairwise_cosine, normalize_rows, stacked_attention,
                        truncated_attention)
from .data import DataCorruptError, DataNotFoundError, Dataset, balanced_order, load_task
from .kernels import (class_contrast, gram, linattn_kernel, linattn_kernel_triple_sum,
                      perturbation_sensitivity, polynomial_kernel, sensitivity_curve)
from .params import ParameterError
from .params import resolve as resolve_parameters
from .plotting import save_figure, save_table, use_style
from .results import (Verdict, aggregate, binomial_difference_margin, binomial_ratio_interval, chance_level, fmt, fmt_bound,
                      fmt_spread, interpolate_loglog, loglog_slope, loglog_trend, paired_change, t_half_width, untrained,
                      write_results)
from .runtime import flush_denormals, progress, resolve_device, resolve_dtype, zero_subnormals
from .spectra import (RankDeficientError, amplification_curve, condition_number, depth_exponents, gram_spectra,
                      truncation_curve, gram_spectrum, naive_eigen_ratio,
                      range_condition_number, width_threshold)

from .cache import cached
from .convergence import convergence_study, init_distances
from .models import MODELS, NetStack, init_stack, model_inputs
from .ntk import analytic_ntk, empirical_ntk, kernel_regression, relative_distance
from .training import WEIGHT_DECAY_MODES, TrainingDivergedError, check_weight_decay_mode, train_stack
from .influence import flip_rate, loo_influence, rank_correlation, top_count, top_fraction
from .malleability import (INTERVENTIONS, PixelFeatures, interventions_study, kernel_target_alignment,
                           malleability_study, train_net, train_nets, training_health)

__version__ = "0.1.0"
