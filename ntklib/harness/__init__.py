"""The machinery that runs the notebooks: parameters and profiles, output paths, the result
cache, tables and figures, results files and the README summary, and the runner
(``python -m ntklib``). It imports the science wing (``ntklib``); the science wing never
imports it.
"""

from . import grid
from .cache import cached
from .params import ParameterError
from .plotting import save_figure, save_table, use_style
from .results import write_results
from .study import Study, start

__all__ = ["grid", "start", "Study", "cached", "save_figure", "save_table", "use_style", "write_results", "ParameterError"]
