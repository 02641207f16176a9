"""Loaded by every pytest run from the repository, a single notebook's included: smoke budgets
(`GANLIB_SMOKE=1` unless set, e.g. `GANLIB_SMOKE=0` for a full lesson run), a throw-away
output directory, headless plots. Fixtures for the unit tests are in tests/conftest.py."""

import os
import tempfile

os.environ.setdefault("GANLIB_SMOKE", "1")
# Every run, sample and benchmark lands here, never in the repository (notebooks inherit it).
os.environ["GANLIB_OUTPUT_DIR"] = tempfile.mkdtemp(prefix="ganlib-tests-")

import matplotlib  # noqa: E402

# before anything loads TensorFlow, which reads the CPU options ganlib sets (ganlib/__init__.py)
import ganlib  # noqa: E402, F401

matplotlib.use("Agg")
