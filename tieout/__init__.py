"""Tieout: an event-sourced reconciliation engine."""

import sys
from pathlib import Path

__version__ = "0.1.0"

# An installed wheel keeps engine, projections, api, snapshots and demo here rather than at
# the top of site-packages, where they would clash with other distributions' packages of
# those names (setup.py, docs/adr/0011). The repository has no such directory.
_PACKAGES = Path(__file__).with_name("_packages")
if _PACKAGES.is_dir() and str(_PACKAGES) not in sys.path:
    sys.path.insert(0, str(_PACKAGES))
