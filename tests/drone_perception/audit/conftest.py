"""The audit tests write fake flight records with ``fake_runs.py`` (a test fixture, not part of the product)."""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))  # --import-mode=importlib: make fake_runs importable
