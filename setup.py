"""Packaging hook: a built wheel keeps Tieout's own top-level packages in `tieout/_packages`.

The repository (and an editable install) keeps `engine/`, `projections/`, `api/`,
`snapshots/` and `demo/` at the top. A wheel moves them under `tieout/_packages/`, so that
installing Tieout never writes a top-level `engine` (or `api`, ...) into site-packages over
another distribution's; `tieout/__init__.py` puts that directory first on the path of a
Tieout process. Metadata and dependencies stay in pyproject.toml. See
docs/adr/0011-installed-packages-kept-private.md.
"""

from __future__ import annotations

import shutil
from pathlib import Path

from setuptools import setup
from setuptools.command.build_py import build_py

PRIVATE = ("engine", "projections", "api", "snapshots", "demo")


class PrivatePackagesBuildPy(build_py):
    """`build_py`, then Tieout's top-level packages moved under `tieout/_packages`."""

    def run(self) -> None:
        super().run()
        if getattr(self, "editable_mode", False):  # the editable install maps the sources
            return
        built = Path(self.build_lib)
        private = built / "tieout" / "_packages"
        for name in PRIVATE:
            if (built / name).is_dir():
                private.mkdir(parents=True, exist_ok=True)
                shutil.rmtree(private / name, ignore_errors=True)
                (built / name).rename(private / name)


setup(cmdclass={"build_py": PrivatePackagesBuildPy})
