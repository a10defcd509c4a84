"""Packaging hook: a built wheel keeps Tieout's own top-level packages in `tieout/_packages`.

The repository (and an editable install) keeps `engine/`, `projections/`, `api/`,
`snapshots/` and `demo/` at the top. A wheel moves them under `tieout/_packages/`, so that
installing Tieout never writes a top-level `engine` (or `api`, ...) into site-packages over
another distribution's; `tieout/__init__.py` puts that directory first on the path of a
Tieout process. Metadata and dependencies stay in pyproject.toml. See
docs/adr/0011-installed-packages-kept-private.md.

It also builds two C extensions, the matcher's `engine.matching._jaro` (ADR 0020) and the
decision root's `engine._merkle` (ADR 0021), beside their sources in an editable install
and under `tieout/_packages` in a wheel. Both are optional: without a C compiler (or
OpenSSL's headers, for `_merkle`) the install goes on, and Python computes the same
results more slowly.
"""

from __future__ import annotations

import shutil
from pathlib import Path

from setuptools import Extension, setup
from setuptools.command.build_ext import build_ext
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


class PrivatePackagesBuildExt(build_ext):
    """`build_ext`, writing the extensions of Tieout's top-level packages where
    `PrivatePackagesBuildPy` moves their packages in a wheel."""

    def get_ext_fullpath(self, ext_name: str) -> str:
        path = super().get_ext_fullpath(ext_name)
        if self.inplace or getattr(self, "editable_mode", False):
            return path
        if ext_name.split(".", maxsplit=1)[0] not in PRIVATE:
            return path
        relative = Path(path).relative_to(self.build_lib)
        return str(Path(self.build_lib) / "tieout" / "_packages" / relative)


NATIVE = [
    Extension("engine.matching._jaro", ["engine/matching/_jaro.c"], optional=True),
    # OpenSSL's SHA-256, the library Python's hashlib uses
    Extension("engine._merkle", ["engine/_merkle.c"], libraries=["crypto"], optional=True),
]

setup(
    ext_modules=NATIVE,
    cmdclass={"build_py": PrivatePackagesBuildPy, "build_ext": PrivatePackagesBuildExt},
)
