"""supervisor-tui: a terminal dashboard for live contact-center supervision."""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("supervisor-tui")  # one home for the version: pyproject.toml
except PackageNotFoundError:  # run from a source tree that was never installed
    __version__ = "0+unknown"
