"""The ecozone version: the one place it is written.

``pyproject.toml`` takes the distribution's version from here
(``[tool.setuptools.dynamic]``), so the installed metadata, ``ecozone --version``, the
stamp of every check and report, the web app's ``/api/version`` and the rows of the
layer store all say the same, from a source tree as from an installed wheel. It lives
in :mod:`geo`, the lowest package, because :mod:`layers` stamps it too.
"""

__version__ = "0.1.0"
