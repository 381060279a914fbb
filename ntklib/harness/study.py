"""One notebook's run: the setup every notebook shares, its outputs and its verdicts.

``study = nh.start("04_influence_malleability", globals())`` checks the parameters (what the
parameters cell and papermill gave, each against its declaration), refuses to write into
``figures/`` with other parameters than the paper profile's or into a folder it cannot write,
resolves the device and precision, builds the training settings (when the notebook trains
nets) so that a bad setting fails before any compute, and sets the plot style. The notebook
then caches steps, saves tables and figures, and collects verdicts through it, and ends with
``study.finish()``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import matplotlib.pyplot as plt

from ..runtime import resolve_device
from ..training import TrainingSettings
from ..verdicts import Verdict
from .cache import cached
from .files import check_writable
from .params import check_destination, resolve
from .paths import output_root
from .plotting import save_figure, save_table, use_style
from .results import conclusion, tally, write_results

__all__ = ["Study", "start"]

# parameter name in the notebooks -> field of TrainingSettings
_TRAINING_FIELDS = {"epochs": "epochs", "learning_rate": "learning_rate", "batch_size": "batch_size",
                    "weight_decay": "weight_decay", "weight_decay_mode": "weight_decay_mode", "dtype": "dtype"}


class Study:
    """The run of ``notebook`` with the parameters found in ``namespace`` (its ``globals()``)."""

    def __init__(self, notebook: str, namespace: dict[str, Any]):
        self.notebook = notebook
        self.params = resolve(notebook, namespace)
        check_destination(notebook, self.params)
        self.profile = self.params["profile"]
        check_writable(output_root(self.profile))
        self.device = resolve_device(self.params.get("device", "auto"))
        self.settings = self.training() if "epochs" in self.params else None
        self.verdicts: list[Verdict] = []
        self.readings: list[dict[str, Any]] = []  # per verdict: the notebook's own reading it is under
        self.measurements: dict[str, Any] = {}
        use_style()

    def training(self, **changes: Any) -> TrainingSettings:
        """The training settings of the parameters (with ``changes``, e.g. another weight decay
        mode), on this run's device."""
        found = {field: self.params[name] for name, field in _TRAINING_FIELDS.items() if name in self.params}
        return TrainingSettings(**{**found, "device": str(self.device), **changes})

    def cached(self, step: str, compute: Callable[[], Any], ignore: tuple[str, ...] = ()) -> Any:
        """``compute()`` cached as ``<notebook>/<step>``, keyed by the parameters (but ``profile``
        and ``ignore``: settings that change no step's result), the device and the library code."""
        key = {**{k: v for k, v in self.params.items() if k not in ("profile", *ignore)}, "device": str(self.device)}
        return cached(f"{self.notebook}/{step}", key, compute)

    def table(self, header: list[str], rows: list[list[Any]], name: str) -> None:
        """Save a table (CSV and Markdown) and print it."""
        print(save_table(header, rows, self.profile, self.notebook, name))

    def figure(self, fig: plt.Figure, name: str) -> None:
        """Save a figure (PNG and PDF) and show it."""
        save_figure(fig, self.profile, self.notebook, name)
        plt.show()

    def judge(self, *verdicts: Verdict, reading: dict[str, Any] | None = None) -> None:
        """Collect verdicts; :meth:`finish` prints and writes them. ``reading``: the notebook's own
        reading the verdicts are under where it runs several (e.g. ``{"preprocessing": "centred"}``),
        recorded beside each verdict for the readings grid."""
        self.verdicts.extend(verdicts)
        self.readings.extend([dict(reading or {})] * len(verdicts))

    def finish(self) -> None:
        """Print every verdict, their tally and a one-sentence conclusion generated from them, and
        write the results file (parameters, verdicts, measurements)."""
        write_results(self.profile, self.notebook, self.params, self.verdicts, self.measurements, self.readings)
        print()
        print(tally(self.verdicts))
        print(conclusion(self.verdicts, self.profile))


def start(notebook: str, namespace: dict[str, Any]) -> Study:
    """The shared setup of a notebook: see the module docstring."""
    return Study(notebook, namespace)
