"""ecozone: the front doors (command line and web app) of the ecozone toolkit."""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("ecozone")
except PackageNotFoundError:  # running from a source tree that is not installed
    __version__ = "0.0.0+unknown"

__all__ = ["__version__"]
