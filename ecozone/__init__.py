"""ecozone: the front doors (command line and web app) of the ecozone toolkit."""

from geo.version import __version__

__all__ = ["__version__"]
