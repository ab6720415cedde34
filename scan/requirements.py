"""Prints the `scan` optional dependencies of pyproject.toml, one a line: `make scan` installs
them into .venv-scan (not .venv: wapiti3's pins clash with the project's)."""

import tomllib
from pathlib import Path

pyproject = tomllib.loads((Path(__file__).resolve().parent.parent / "pyproject.toml").read_text())
print("\n".join(pyproject["project"]["optional-dependencies"]["scan"]))
