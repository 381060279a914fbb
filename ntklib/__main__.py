"""``python -m ntklib``: run the notebooks with a parameter profile (:mod:`ntklib.harness.run`)."""

import sys

from .harness.run import main

sys.exit(main())
